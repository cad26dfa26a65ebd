//! Key comparison schemes, how secret strings become key bytes, check lists and the default
//! tolerance.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use hookguard::verify::Reason;
use sha2::Sha256;

use super::{check_at, matched, outcome, Verdict, BODY};
use crate::support::{headers, load_yaml, one_route, NOW_S};

fn hex_sha256(key: &[u8], parts: &[&[u8]]) -> String {
    let mut m = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(key).expect("any key");
    for part in parts {
        m.update(part);
    }
    hex::encode(m.finalize().into_bytes())
}

fn snapshot(extra: &str, verify: &str) -> hookguard::config::snapshot::Snapshot {
    load_yaml(&one_route(extra, verify))
}

fn verdict(snap: &hookguard::config::snapshot::Snapshot, pairs: &[(&str, &str)]) -> Verdict {
    outcome(check_at(snap, &headers(pairs), BODY, NOW_S))
}

#[test]
fn secret_encoding_hex_and_base64_key_the_mac_with_the_decoded_bytes() {
    let want = hex_sha256(b"raw-key-bytes", &[BODY]);
    for (encoding, written) in [
        ("hex", hex::encode("raw-key-bytes")),
        ("base64", STANDARD.encode("raw-key-bytes")),
        ("utf8", "raw-key-bytes".to_owned()),
    ] {
        let verify = format!(
            "scheme: hmac\nheader: X-Sig\nsecret_encoding: {encoding}\nsecrets:\n  - id: a\n    value: \"{written}\""
        );
        let snap = snapshot("", &verify);
        assert_eq!(
            verdict(&snap, &[("X-Sig", &want)]),
            matched("a"),
            "{encoding}"
        );
    }
}

#[test]
fn api_key_compares_the_whole_header_value_with_each_active_secret() {
    let verify =
        "scheme: api-key\nsecrets:\n  - id: a\n    value: key-a\n  - id: b\n    value: key-b";
    let snap = snapshot("", verify);
    assert_eq!(verdict(&snap, &[("X-Api-Key", "key-b")]), matched("b"));
    assert_eq!(verdict(&snap, &[("x-api-key", " key-a ")]), matched("a"));
    assert_eq!(
        verdict(&snap, &[("X-Api-Key", "key-")]),
        Err(Reason::Invalid)
    );
    assert_eq!(
        verdict(&snap, &[("X-Api-Key", "key-a key-b")]),
        Err(Reason::Invalid)
    );
    assert_eq!(
        verdict(&snap, &[("X-Other", "key-a")]),
        Err(Reason::Missing)
    );
    let custom = snapshot("", &verify.replace("api-key", "api-key\nheader: X-Token"));
    assert_eq!(verdict(&custom, &[("X-Token", "key-a")]), matched("a"));
    assert_eq!(
        verdict(&custom, &[("X-Api-Key", "key-a")]),
        Err(Reason::Missing)
    );
}

#[test]
fn api_key_in_authorization_needs_the_bearer_word() {
    let verify = "scheme: api-key\nheader: Authorization\nsecrets:\n  - id: a\n    value: tok-1";
    let snap = snapshot("", verify);
    assert_eq!(
        verdict(&snap, &[("Authorization", "Bearer tok-1")]),
        matched("a")
    );
    assert_eq!(
        verdict(&snap, &[("Authorization", "bearer tok-1")]),
        matched("a")
    );
    assert_eq!(
        verdict(&snap, &[("Authorization", "tok-1")]),
        Err(Reason::Malformed)
    );
    assert_eq!(
        verdict(&snap, &[("Authorization", "Basic tok-1")]),
        Err(Reason::Malformed)
    );
    assert_eq!(
        verdict(&snap, &[("Authorization", "Bearer tok-2")]),
        Err(Reason::Invalid)
    );
}

#[test]
fn basic_compares_user_and_password_with_each_active_secret() {
    let verify = "scheme: basic\nsecrets:\n  - id: a\n    value: \"alice:pw\"";
    let snap = snapshot("", verify);
    let basic = |s: &str| format!("Basic {}", STANDARD.encode(s));
    assert_eq!(
        verdict(&snap, &[("Authorization", &basic("alice:pw"))]),
        matched("a")
    );
    assert_eq!(
        verdict(&snap, &[("Authorization", &basic("alice:pX"))]),
        Err(Reason::Invalid)
    );
    assert_eq!(
        verdict(&snap, &[("Authorization", &basic("bob:pw"))]),
        Err(Reason::Invalid)
    );
    assert_eq!(
        verdict(&snap, &[("Authorization", "Basic !!!")]),
        Err(Reason::Malformed)
    );
    assert_eq!(
        verdict(&snap, &[("Authorization", "Bearer x")]),
        Err(Reason::Malformed)
    );
    assert_eq!(verdict(&snap, &[]), Err(Reason::Missing));
}

#[test]
fn a_check_list_passes_only_when_every_check_passes() {
    let verify = "- scheme: api-key\n  secrets:\n    - id: k\n      value: eg-api-key\n\
                  - scheme: expedia\n  secrets:\n    - id: e\n      value: eg-secret";
    let snap = snapshot("", verify);
    let mut m = <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(b"eg-secret").expect("key");
    m.update(b"1767225600.");
    m.update(BODY);
    let sig = format!("sha256={}", STANDARD.encode(m.finalize().into_bytes()));
    let ts = ("x-eg-notification-timestamp", "1767225600");
    let sig = ("x-eg-notification-signature-v2", sig.as_str());
    let key = ("X-Api-Key", "eg-api-key");
    let run = |pairs: &[(&str, &str)]| check_at(&snap, &headers(pairs), BODY, NOW_S);
    let ok = run(&[key, ts, sig]).expect("both checks pass");
    let ids: Vec<&str> = ok.secret_ids.iter().map(|s| &**s).collect();
    assert_eq!(ids, ["k", "e"]);
    let only_key = run(&[key]).expect_err("signature missing");
    assert_eq!((only_key.check, only_key.reason), (1, Reason::Missing));
    assert_eq!(only_key.passed.len(), 1);
    let only_sig = run(&[ts, sig]).expect_err("key missing");
    assert_eq!((only_sig.check, only_sig.reason), (0, Reason::Missing));
    let wrong_key = run(&[("X-Api-Key", "nope"), ts, sig]).expect_err("wrong key");
    assert_eq!((wrong_key.check, wrong_key.reason), (0, Reason::Invalid));
}

#[test]
fn tolerance_defaults_to_five_minutes() {
    let verify = "scheme: slack\nsecrets:\n  - id: a\n    value: s";
    let snap = snapshot("", verify);
    for (offset, want) in [
        (-300, matched("a")),
        (300, matched("a")),
        (-301, Err(Reason::Stale)),
        (301, Err(Reason::Stale)),
    ] {
        let ts = (NOW_S + offset).to_string();
        let sig = format!(
            "v0={}",
            hex_sha256(b"s", &[b"v0:", ts.as_bytes(), b":", BODY])
        );
        let pairs = [
            ("X-Slack-Request-Timestamp", ts.as_str()),
            ("X-Slack-Signature", &sig),
        ];
        assert_eq!(verdict(&snap, &pairs), want, "offset {offset}");
    }
}
