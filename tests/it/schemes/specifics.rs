//! What one scheme alone does. Signatures here are computed with the `hmac` crate directly,
//! from the contract's table, so a mistake shared by `sign` and `verify` cannot hide.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use hookguard::verify::Reason;
use sha2::Sha256;

use super::{check_at, matched, outcome, Verdict, BODY, PATH};
use crate::support::{headers, load_yaml, one_route, NOW_S};

/// The MAC `M` (an `Hmac<_>`) of the concatenated `parts` under `key`.
fn mac<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key).expect("any key length");
    for part in parts {
        m.update(part);
    }
    m.finalize().into_bytes().to_vec()
}

fn sha256(key: &str, parts: &[&[u8]]) -> Vec<u8> {
    mac::<Hmac<Sha256>>(key.as_bytes(), parts)
}

/// A route `r` with one check: `check` plus the given `(id, value)` secrets, tolerance 5m.
fn config(check: &str, secrets: &[(&str, &str)]) -> hookguard::config::snapshot::Snapshot {
    let list: String = secrets
        .iter()
        .map(|(id, value)| format!("  - id: {id}\n    value: \"{value}\"\n"))
        .collect();
    load_yaml(&one_route("", &format!("{check}\nsecrets:\n{list}")))
}

/// The verdict for a `POST` of `body` with `pairs` as headers, at `NOW_S`.
fn verdict(
    snap: &hookguard::config::snapshot::Snapshot,
    pairs: &[(&str, String)],
    body: &[u8],
) -> Verdict {
    outcome(check_at(snap, &headers(pairs), body, NOW_S))
}

/// Request headers as `(name, value)` pairs.
type Pairs = Vec<(&'static str, String)>;

const TS: &str = "1767225600";
const TS_MS: &str = "1767225600123";

#[test]
fn each_preset_accepts_the_signature_its_provider_documents() {
    let k = "oracle-secret";
    let b64 = |b: Vec<u8>| STANDARD.encode(b);
    let cases: Vec<(&str, Pairs)> = vec![
        ("scheme: expedia", vec![
            ("x-eg-notification-timestamp", TS.into()),
            ("x-eg-notification-signature-v2", format!("sha256={}", b64(sha256(k, &[TS.as_bytes(), b".", BODY])))),
        ]),
        ("scheme: expedia", vec![
            ("x-eg-notification-timestamp", TS_MS.into()),
            ("x-eg-notification-signature-v2", format!("sha256={}", b64(sha256(k, &[TS_MS.as_bytes(), b".", BODY])))),
        ]),
        ("scheme: stripe", vec![(
            "Stripe-Signature",
            format!("t={TS},v1={}", hex::encode(sha256(k, &[TS.as_bytes(), b".", BODY]))),
        )]),
        ("scheme: github", vec![(
            "X-Hub-Signature-256",
            format!("sha256={}", hex::encode(sha256(k, &[BODY]))),
        )]),
        ("scheme: slack", vec![
            ("X-Slack-Request-Timestamp", TS.into()),
            ("X-Slack-Signature", format!("v0={}", hex::encode(sha256(k, &[b"v0:", TS.as_bytes(), b":", BODY])))),
        ]),
        ("scheme: shopify", vec![("X-Shopify-Hmac-Sha256", b64(sha256(k, &[BODY])))]),
        ("scheme: hmac\nalgorithm: sha1\nheader: X-Sig", vec![(
            "X-Sig",
            hex::encode(mac::<Hmac<sha1::Sha1>>(k.as_bytes(), &[BODY])),
        )]),
        ("scheme: hmac\nalgorithm: sha512\nencoding: base64url\nheader: X-Sig", vec![(
            "X-Sig",
            URL_SAFE_NO_PAD.encode(mac::<Hmac<sha2::Sha512>>(k.as_bytes(), &[BODY])),
        )]),
        ("scheme: hmac\nheader: X-Sig\nprefix: \"v1=\"\ntimestamp_header: X-Ts\npayload: \"{timestamp}:{method} {path} {header:X-Request-Id}:{body}\"", vec![
            ("X-Ts", TS.into()),
            ("X-Request-Id", "req-42".into()),
            ("X-Sig", format!("v1={}", hex::encode(sha256(k, &[TS.as_bytes(), b":POST ", PATH.as_bytes(), b" req-42:", BODY])))),
        ]),
    ];
    for (check, pairs) in cases {
        let snap = config(check, &[("a", k)]);
        assert_eq!(verdict(&snap, &pairs, BODY), matched("a"), "{check}");
    }
}

#[test]
fn standard_webhooks_keys_are_the_base64_after_whsec_and_svix_names_work_too() {
    let key = b"hookguard-standard-webhooks-new!";
    let secret = format!("whsec_{}", STANDARD.encode(key));
    let sig = STANDARD.encode(mac::<Hmac<Sha256>>(
        key,
        &[b"msg_1.", TS.as_bytes(), b".", BODY],
    ));
    let wrong = STANDARD.encode(mac::<Hmac<Sha256>>(
        b"other",
        &[b"msg_1.", TS.as_bytes(), b".", BODY],
    ));
    for scheme in ["scheme: standard-webhooks", "scheme: svix"] {
        let snap = config(scheme, &[("a", &secret)]);
        for prefix in ["webhook", "svix"] {
            let send = |signature: String| {
                let pairs = [
                    (format!("{prefix}-id"), "msg_1".to_owned()),
                    (format!("{prefix}-timestamp"), TS.to_owned()),
                    (format!("{prefix}-signature"), signature),
                ];
                outcome(check_at(&snap, &headers(&pairs), BODY, NOW_S))
            };
            assert_eq!(send(format!("v1,{sig}")), matched("a"), "{scheme} {prefix}");
            assert_eq!(
                send(format!("v1,{wrong} v1,{sig}")),
                matched("a"),
                "{scheme} {prefix}"
            );
            assert_eq!(send(format!("v1,{wrong} v1,{wrong}")), Err(Reason::Invalid));
            assert_eq!(send(format!("v1a,{sig} v2,{sig}")), Err(Reason::Malformed));
        }
    }
}

#[test]
fn expedia_accepts_new_and_unprefixed_old_signature_while_either_secret_is_configured() {
    let sign = |k: &str| STANDARD.encode(sha256(k, &[TS.as_bytes(), b".", BODY]));
    let pairs = [
        ("x-eg-notification-timestamp", TS.to_owned()),
        (
            "x-eg-notification-signature-v2",
            format!("sha256={},{}", sign("exp-new"), sign("exp-old")),
        ),
    ];
    for (secrets, want) in [
        (
            &[("new", "exp-new"), ("old", "exp-old")][..],
            matched("new"),
        ),
        (&[("new", "exp-new")][..], matched("new")),
        (&[("old", "exp-old")][..], matched("old")),
        (&[("other", "exp-other")][..], Err(Reason::Invalid)),
    ] {
        let snap = config("scheme: expedia", secrets);
        assert_eq!(verdict(&snap, &pairs, BODY), want, "{secrets:?}");
    }
}

#[test]
fn stripe_accepts_any_of_several_v1_signatures_and_reads_t_as_seconds() {
    let snap = config("scheme: stripe", &[("a", "whsec_stripe")]);
    let sig = |k: &str, t: &str| hex::encode(sha256(k, &[t.as_bytes(), b".", BODY]));
    let send = |value: String| verdict(&snap, &[("Stripe-Signature", value)], BODY);
    let (right, wrong) = (sig("whsec_stripe", TS), sig("other", TS));
    assert_eq!(send(format!("t={TS},v1={wrong},v1={right}")), matched("a"));
    assert_eq!(send(format!("t={TS},v1={right},v0={wrong}")), matched("a"));
    assert_eq!(
        send(format!("t={TS},v1={wrong},v1={wrong}")),
        Err(Reason::Invalid)
    );
    assert_eq!(send(format!("t={TS},v0={right}")), Err(Reason::Malformed));
    let ms = sig("whsec_stripe", TS_MS);
    assert_eq!(send(format!("t={TS_MS},v1={ms}")), Err(Reason::Stale));
}

#[test]
fn uppercase_hex_is_rejected_by_presets_and_accepted_by_generic_hmac() {
    let k = "hex-case";
    let upper = |parts: &[&[u8]]| hex::encode_upper(sha256(k, parts));
    let ts_body: &[&[u8]] = &[TS.as_bytes(), b".", BODY];
    let slack: &[&[u8]] = &[b"v0:", TS.as_bytes(), b":", BODY];
    let cases: Vec<(&str, Pairs, Verdict)> = vec![
        (
            "scheme: stripe",
            vec![("Stripe-Signature", format!("t={TS},v1={}", upper(ts_body)))],
            Err(Reason::Malformed),
        ),
        (
            "scheme: github",
            vec![("X-Hub-Signature-256", format!("sha256={}", upper(&[BODY])))],
            Err(Reason::Malformed),
        ),
        (
            "scheme: slack",
            vec![
                ("X-Slack-Request-Timestamp", TS.into()),
                ("X-Slack-Signature", format!("v0={}", upper(slack))),
            ],
            Err(Reason::Malformed),
        ),
        (
            "scheme: hmac\nheader: X-Sig",
            vec![("X-Sig", upper(&[BODY]))],
            matched("a"),
        ),
    ];
    for (check, pairs, want) in cases {
        let snap = config(check, &[("a", k)]);
        assert_eq!(verdict(&snap, &pairs, BODY), want, "{check}");
    }
}

#[test]
fn generic_hmac_splits_on_its_separator_and_strips_an_optional_prefix() {
    let check = "scheme: hmac\nheader: X-Sig\nprefix: \"sha256=\"\nseparator: \" \"";
    let snap = config(check, &[("a", "sep")]);
    let (right, wrong) = (
        hex::encode(sha256("sep", &[BODY])),
        hex::encode(sha256("x", &[BODY])),
    );
    let send = |v: String| verdict(&snap, &[("X-Sig", v)], BODY);
    assert_eq!(send(format!("sha256={wrong} sha256={right}")), matched("a"));
    assert_eq!(send(format!("sha256={wrong} {right}")), matched("a"));
    assert_eq!(
        send(format!("sha256={wrong}  {wrong}")),
        Err(Reason::Invalid)
    );
}

#[test]
fn generic_base64url_signatures_verify_with_or_without_padding() {
    let check = "scheme: hmac\nheader: X-Sig\nencoding: base64url";
    let snap = config(check, &[("a", "url")]);
    let tag = sha256("url", &[BODY]);
    let bare = URL_SAFE_NO_PAD.encode(&tag);
    let padded = base64::engine::general_purpose::URL_SAFE.encode(&tag);
    assert!(padded.ends_with('=') && !bare.ends_with('='));
    for sig in [bare, padded] {
        assert_eq!(
            verdict(&snap, &[("X-Sig", sig.clone())], BODY),
            matched("a"),
            "{sig}"
        );
    }
    let standard = STANDARD.encode(&tag);
    assert!(
        standard.contains(['+', '/']),
        "this tag differs between the alphabets"
    );
    assert_eq!(
        verdict(&snap, &[("X-Sig", standard)], BODY),
        Err(Reason::Malformed)
    );
}

#[test]
fn a_templated_header_method_or_path_changed_or_repeated_rejects() {
    let check =
        "scheme: hmac\nheader: X-Sig\npayload: \"{method} {path} {header:X-Request-Id} {body}\"";
    let snap = config(check, &[("a", "tpl")]);
    let sig = hex::encode(sha256(
        "tpl",
        &[b"POST ", PATH.as_bytes(), b" req-42 ", BODY],
    ));
    let good = [
        ("X-Sig", sig.clone()),
        ("X-Request-Id", "req-42".to_owned()),
    ];
    assert_eq!(verdict(&snap, &good, BODY), matched("a"));
    let other_id = [
        ("X-Sig", sig.clone()),
        ("X-Request-Id", "req-43".to_owned()),
    ];
    assert_eq!(verdict(&snap, &other_id, BODY), Err(Reason::Invalid));
    let twice = [good[0].clone(), good[1].clone(), good[1].clone()];
    assert_eq!(verdict(&snap, &twice, BODY), Err(Reason::Malformed));
    let h = headers(&good);
    for (method, path) in [("PUT", PATH), ("POST", "/hook?x=2"), ("POST", "/hook")] {
        let req = hookguard::verify::Request {
            chunks: &[],
            method,
            path,
            headers: &h,
            body: BODY,
        };
        let got = crate::support::verify_route(&snap, "r", &req, NOW_S * 1000);
        assert_eq!(
            got.map_err(|r| r.reason).err(),
            Some(Reason::Invalid),
            "{method} {path}"
        );
    }
}
