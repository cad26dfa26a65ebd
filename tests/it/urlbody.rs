//! URL-signed and body-embedded schemes through the real config path: every vector of
//! `tests/data/catalogue/urlbody.jsonl`, a sign -> verify round trip per scheme, and one
//! flipped byte of body, signature, timestamp and URL rejecting.

use hookguard::cmd::sign_coded;
use hookguard::config::snapshot::Snapshot;
use hookguard::verify::sign::{sign, Delivery};
use hookguard::verify::{CheckKind, Reason, Request};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use crate::support::{load_yaml, one_route, route_checks, verify_route, NOW_S};

/// Where a scheme's signature sits, for flipping one of its bytes.
#[derive(Clone, Copy, Debug)]
pub enum Sig {
    /// In this header.
    Header(&'static str),
    /// In the body, right after this text.
    BodyAfter(&'static str),
}

/// One scheme's delivery, before signing.
pub struct Case {
    /// The catalogue id.
    pub scheme: &'static str,
    /// The secret as the provider hands it out.
    pub secret: &'static str,
    /// The request method.
    pub method: &'static str,
    /// Path and query the sender calls.
    pub path: &'static str,
    /// The body given to `sign` (a form for form schemes).
    pub body: &'static str,
    /// Text of the signed body whose first byte, flipped, must reject.
    pub signed_text: &'static str,
    /// Where the signature is.
    pub sig: Sig,
    /// Where the timestamp is, for timestamped schemes.
    pub stamp: Option<Sig>,
}

/// The URL every case's sender calls starts with this.
pub const PUBLIC_URL: &str = "https://hooks.example.com";
/// Nonce (Plivo) or token (Mailgun) the cases sign with.
pub const NONCE: &str = "05429567804466091622";

const TWILIO_FORM: &str = "AccountSid=AC00000000000000000000000000000000&Body=Hello+there&From=%2B14155550100&MessageSid=SM00000000000000000000000000000001&To=%2B14155550199";
const ADYEN: &str = r#"{"live":"false","notificationItems":[{"NotificationRequestItem":{"amount":{"currency":"EUR","value":1130},"eventCode":"AUTHORISATION","merchantAccountCode":"TestMerchant","merchantReference":"order-42","pspReference":"7914073381342284","success":"true"}}]}"#;

/// One delivery per URL-signed and body-embedded scheme (Twilio's JSON one names the SHA-256
/// of its body in `bodySHA256`).
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    Case { scheme: "twilio", secret: "12345", method: "POST", path: "/twilio/sms?tenant=7", body: TWILIO_FORM, signed_text: "Hello", sig: Sig::Header("x-twilio-signature"), stamp: None },
    Case { scheme: "twilio", secret: "12345", method: "POST", path: "/twilio/events?bodySHA256=30bb3dea266a0b9c207d42b64678797d6f85d919bb6df3eab010eb84b5d026b9", body: r#"{"type":"message.delivered"}"#, signed_text: "delivered", sig: Sig::Header("x-twilio-signature"), stamp: None },
    Case { scheme: "square", secret: "Ibxx_5AKakO-3qeNVR61Dw", method: "POST", path: "/square", body: r#"{"merchant_id":"MLEFBHHSJGVHD","type":"payment.updated"}"#, signed_text: "payment", sig: Sig::Header("x-square-hmacsha256-signature"), stamp: None },
    Case { scheme: "hubspot", secret: "11111111-2222-4333-8444-555555555555", method: "POST", path: "/hubspot?portal=62515", body: r#"[{"eventId":1,"subscriptionType":"contact.creation"}]"#, signed_text: "contact", sig: Sig::Header("x-hubspot-signature-v3"), stamp: Some(Sig::Header("x-hubspot-request-timestamp")) },
    Case { scheme: "plivo", secret: "MzY3NGQyMWEtNjNkNS00ODc5LWI1MWEtNTNkYjExNjAxN2Fk", method: "POST", path: "/plivo/answer?app=voice", body: "CallUUID=2e1d1a2e&From=14155550100&To=14155550199", signed_text: "2e1d1a2e", sig: Sig::Header("x-plivo-signature-v3"), stamp: None },
    Case { scheme: "mailchimp", secret: "0bd8MdZ_CzgPh1sSQNObkg", method: "POST", path: "/mandrill", body: "mandrill_events=%5B%7B%22event%22%3A%22open%22%7D%5D", signed_text: "open", sig: Sig::Header("x-mandrill-signature"), stamp: None },
    Case { scheme: "favro", secret: "favro-secret", method: "POST", path: "/favro", body: r#"{"payloadId":"3dfc6b1b-payload","action":"created"}"#, signed_text: "3dfc6b1b", sig: Sig::Header("x-favro-webhook"), stamp: None },
    Case { scheme: "mailgun", secret: "key-mailgun-signing", method: "POST", path: "/mailgun", body: r#"{"event-data":{"event":"opened"}}"#, signed_text: NONCE, sig: Sig::BodyAfter(r#""signature":{"signature":""#), stamp: Some(Sig::BodyAfter(r#""timestamp":""#)) },
    Case { scheme: "mailgun", secret: "key-mailgun-signing", method: "POST", path: "/mailgun", body: "recipient=alice%40example.org&event=delivered", signed_text: NONCE, sig: Sig::BodyAfter("signature="), stamp: Some(Sig::BodyAfter("timestamp=")) },
    Case { scheme: "adyen-notification", secret: "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056", method: "POST", path: "/adyen", body: ADYEN, signed_text: "order-42", sig: Sig::BodyAfter(r#""hmacSignature":""#), stamp: None },
    Case { scheme: "braintree", secret: "integration_public_key:integration_private_key", method: "POST", path: "/braintree", body: "<notification><kind>check</kind></notification>", signed_text: "PG5vdGlm", sig: Sig::BodyAfter("bt_signature=integration_public_key%7C"), stamp: None },
    Case { scheme: "treezor", secret: "treezor-webhook-secret", method: "POST", path: "/treezor", body: r#"{"webhook":"card.update","object_payload":{"cards":[{"cardId":"999","statusCode":"UNLOCK"}]}}"#, signed_text: "UNLOCK", sig: Sig::BodyAfter(r#""object_payload_signature":""#), stamp: None },
];

impl Case {
    /// Whether the signature covers the URL.
    pub fn signs_url(&self) -> bool {
        ["twilio", "square", "hubspot", "plivo", "mailchimp", "favro"].contains(&self.scheme)
    }

    /// A route `r` with this scheme, secret `s1` and `public_url`.
    pub fn snapshot(&self) -> Snapshot {
        let secret = serde_json::to_string(self.secret).expect("json string");
        let verify = format!(
            "scheme: {}\nsecrets:\n  - id: s1\n    value: {secret}",
            self.scheme
        );
        load_yaml(&one_route(&format!("public_url: {PUBLIC_URL}"), &verify))
    }
}

/// The headers and body a sender of `case` posts, signed at `NOW_S` by hookguard's `sign`.
pub fn signed(case: &Case, snap: &Snapshot) -> (HeaderMap, Vec<u8>) {
    let check = &route_checks(snap, "r")[0];
    let stamp = NOW_S.to_string();
    let body = case.body.to_owned();
    let input = sign_coded::Input {
        secret: None,
        now: NOW_S * 1000,
        method: case.method,
        path: case.path,
        body: body.as_bytes(),
        timestamp: &stamp,
        id: NONCE,
    };
    let out = match &check.kind {
        // Square is data over the generic engine ({url}{body}).
        CheckKind::Hmac(spec) => {
            let delivery = Delivery {
                method: case.method,
                path: case.path,
                headers: &HeaderMap::new(),
                body: body.as_bytes(),
                timestamp: &stamp,
                id: NONCE,
            };
            let mac = check.secrets[0].mac.as_ref().expect("HMAC secret");
            let headers = sign(spec, mac, &delivery);
            hookguard::verify::keyed::Signed {
                headers,
                body: None,
            }
        }
        _ => sign_coded::sign(check, &input).unwrap_or_else(|e| panic!("{}: {e}", case.scheme)),
    };
    let mut headers = HeaderMap::new();
    for (name, value) in &out.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("name");
        headers.append(name, HeaderValue::from_str(value).expect("value"));
    }
    (headers, out.body.unwrap_or_else(|| body.into_bytes()))
}

/// The verdict of `case` posted to `path` with `headers` and `body` at `now_ms`.
fn verdict(
    case: &Case,
    snap: &Snapshot,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
    now_ms: i64,
) -> Result<String, Reason> {
    let req = Request {
        chunks: &[],
        method: case.method,
        path,
        headers,
        body,
    };
    verify_route(snap, "r", &req, now_ms)
        .map(|v| v.secret_ids.join(","))
        .map_err(|r| r.reason)
}

/// `text` with the byte at `at` replaced by another printable one.
fn flip(text: &[u8], at: usize) -> Vec<u8> {
    let mut out = text.to_vec();
    out[at] = if out[at] == b'1' {
        b'2'
    } else if out[at].is_ascii_digit() {
        b'1'
    } else if out[at] == b'A' {
        b'B'
    } else {
        b'A'
    };
    out
}

fn position(hay: &[u8], needle: &str, scheme: &str) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap_or_else(|| {
            panic!(
                "{scheme}: `{needle}` not in {}",
                String::from_utf8_lossy(hay)
            )
        })
}

/// `(headers, body)` with one byte flipped where `place` points (`skip` bytes into it).
fn flipped_at(
    case: &Case,
    place: Sig,
    skip: usize,
    headers: &HeaderMap,
    body: &[u8],
) -> (HeaderMap, Vec<u8>) {
    match place {
        Sig::Header(name) => {
            let value = headers
                .get(name)
                .unwrap_or_else(|| panic!("{}: no {name}", case.scheme));
            let mut headers = headers.clone();
            let changed = flip(value.as_bytes(), skip);
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_bytes(&changed).expect("value"),
            );
            (headers, body.to_vec())
        }
        Sig::BodyAfter(prefix) => {
            let at = position(body, prefix, case.scheme) + prefix.len() + skip;
            (headers.clone(), flip(body, at))
        }
    }
}

#[test]
fn every_urlbody_catalogue_vector_gives_its_expected_verdict() {
    let text = include_str!("../data/catalogue/urlbody.jsonl");
    let mut per_scheme = std::collections::BTreeMap::<String, usize>::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("a JSON vector per line");
        let scheme = v["scheme"].as_str().expect("scheme");
        crate::vectors::assert_verdict(&v, scheme);
        *per_scheme.entry(scheme.to_owned()).or_default() += 1;
    }
    for case in CASES {
        assert!(
            per_scheme.contains_key(case.scheme),
            "no vector for {}",
            case.scheme
        );
    }
    println!("urlbody vectors per scheme: {per_scheme:?}");
}

#[test]
fn every_scheme_round_trips_and_one_flipped_byte_anywhere_signed_rejects() {
    for case in CASES {
        let snap = case.snapshot();
        let (headers, body) = signed(case, &snap);
        let now = NOW_S * 1000;
        let ok = verdict(case, &snap, case.path, &headers, &body, now);
        assert_eq!(ok.as_deref(), Ok("s1"), "{}: round trip", case.scheme);
        let at = position(&body, case.signed_text, case.scheme);
        let tampered = flip(&body, at);
        let bad = verdict(case, &snap, case.path, &headers, &tampered, now);
        assert!(bad.is_err(), "{}: flipped body byte accepted", case.scheme);
        let (h, b) = flipped_at(case, case.sig, 3, &headers, &body);
        let bad = verdict(case, &snap, case.path, &h, &b, now);
        assert!(
            bad.is_err(),
            "{}: flipped signature byte accepted",
            case.scheme
        );
        if let Some(stamp) = case.stamp {
            let (h, b) = flipped_at(case, stamp, 9, &headers, &body);
            let bad = verdict(case, &snap, case.path, &h, &b, now);
            assert!(
                bad.is_err(),
                "{}: flipped timestamp byte accepted",
                case.scheme
            );
        }
        if case.signs_url() {
            let other = String::from_utf8(flip(case.path.as_bytes(), 2)).expect("ascii");
            let bad = verdict(case, &snap, &other, &headers, &body, now);
            assert_eq!(
                bad,
                Err(Reason::Invalid),
                "{}: flipped URL byte",
                case.scheme
            );
        }
    }
}

#[test]
fn timestamped_schemes_accept_at_the_tolerance_and_reject_one_millisecond_past_it() {
    for case in CASES.iter().filter(|c| c.stamp.is_some()) {
        let snap = case.snapshot();
        let (headers, body) = signed(case, &snap);
        let edge = NOW_S * 1000 + 5 * 60 * 1000;
        for (now, ok) in [
            (edge, true),
            (edge + 1, false),
            (2 * NOW_S * 1000 - edge, true),
            (2 * NOW_S * 1000 - edge - 1, false),
        ] {
            let got = verdict(case, &snap, case.path, &headers, &body, now);
            match ok {
                true => assert!(got.is_ok(), "{} at {now}: {got:?}", case.scheme),
                false => assert_eq!(got, Err(Reason::Stale), "{} at {now}", case.scheme),
            }
        }
    }
}

#[test]
fn a_url_signed_scheme_without_public_url_is_refused_naming_its_docs() {
    for scheme in ["twilio", "plivo", "hubspot", "mailchimp", "favro", "square"] {
        let yaml = one_route(
            "",
            &format!("scheme: {scheme}\nsecrets:\n  - id: s1\n    value: k"),
        );
        let file = crate::support::ConfigFile::new(&yaml);
        let err = file.load().expect_err("no public_url").to_string();
        assert!(
            err.contains("public_url") && err.contains("https://"),
            "{scheme}: {err}"
        );
    }
}

#[test]
fn a_braintree_secret_must_name_both_keys_and_the_error_never_quotes_it() {
    let yaml = one_route(
        "",
        "scheme: braintree\nsecrets:\n  - id: s1\n    value: only-a-private-key-77",
    );
    let err = crate::support::ConfigFile::new(&yaml)
        .load()
        .expect_err("refused")
        .to_string();
    assert!(err.contains("public_key:private_key"), "{err}");
    assert!(!err.contains("only-a-private-key-77"), "{err}");
}
