//! Public-key schemes (Discord, Telnyx, SendGrid, Standard Webhooks `v1a` on
//! `standard-webhooks` and `svix`) through the real config path: the catalogue vectors, the
//! key forms and the keys refused, and sign -> verify round trips with generated key pairs,
//! with one flipped byte of body, signature or timestamp and the tolerance boundary.

#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hookguard::config::snapshot::Snapshot;
use hookguard::verify::privkey::PrivateKey;
use hookguard::verify::sign::{sign, sign_with_key, Delivery};
use hookguard::verify::{CheckKind, Reason, Request};
use http::HeaderMap;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::Value;

use crate::support::{headers, load_yaml, one_route, route_checks, verify_route, NOW_S};
use crate::vectors::{body, config_for, field, header_map};

/// Every public-key row, with one of the services built on Standard Webhooks.
pub const SCHEMES: [&str; 5] = ["discord", "sendgrid", "standard-webhooks", "svix", "telnyx"];

/// DER SubjectPublicKeyInfo prefix of a P-256 key (RFC 5480), before the 65-byte point.
const P256_SPKI: &str = "3059301306072a8648ce3d020106082a8648ce3d030107034200";

/// PKCS#8 v1 (RFC 8410) of an Ed25519 key, before the 32-byte seed.
const ED25519_PKCS8_V1: &[u8] = &[
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A sender's key pair for `scheme`: the private key and the public key written the way the
/// provider hands it out (Discord hex, Telnyx base64, SendGrid base64 DER, `whpk_`).
pub struct Sender {
    pub key: PrivateKey,
    pub public: String,
    pub pem: String,
}

/// `der` as a PEM block labelled `label`.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A fresh key pair for `scheme`.
pub fn sender(scheme: &str) -> Sender {
    let rng = SystemRandom::new();
    let pkcs8 = if scheme == "sendgrid" {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        pkcs8.as_ref().to_vec()
    } else {
        // ring writes PKCS#8 v2 (seed at bytes 16..48, then the public key); `openssl genpkey`
        // writes v1, the seed alone, which is what users hold and what Python reads.
        let v2 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        [ED25519_PKCS8_V1, &v2.as_ref()[16..48]].concat()
    };
    let pem = pem("PRIVATE KEY", &pkcs8);
    let key = PrivateKey::parse(pem.as_bytes(), &rng).unwrap();
    let raw = key.public_key();
    let public = match scheme {
        "discord" => hex::encode(raw),
        "telnyx" => STANDARD.encode(raw),
        "sendgrid" => STANDARD.encode([hex::decode(P256_SPKI).unwrap(), raw.to_vec()].concat()),
        _ => format!("whpk_{}", STANDARD.encode(raw)),
    };
    Sender { key, public, pem }
}

/// A route `r` with one `scheme` check whose secrets are `(id, value)`.
pub fn config(scheme: &str, secrets: &[(&str, &str)]) -> String {
    let mut verify = format!("scheme: {scheme}\nsecrets:\n");
    for (id, value) in secrets {
        let quoted = serde_json::to_string(value).unwrap();
        verify.push_str(&format!("  - id: {id}\n    value: {quoted}\n"));
    }
    one_route("", &verify)
}

/// The headers `key` signs for `body` at `ts` on route `r`, as `hookguard sign` makes them.
pub fn signed(snap: &Snapshot, key: &PrivateKey, body: &[u8], ts: i64) -> Vec<(String, String)> {
    signed_for(snap, "r", key, body, ts)
}

/// [`signed`] for the route named `route`.
pub fn signed_for(
    snap: &Snapshot,
    route: &str,
    key: &PrivateKey,
    body: &[u8],
    ts: i64,
) -> Vec<(String, String)> {
    let CheckKind::PublicKey { spec, .. } = &route_checks(snap, route)[0].kind else {
        panic!("route {route}'s check is not a public-key check");
    };
    let (stamp, empty) = (ts.to_string(), HeaderMap::new());
    let path = &snap.route_named(route).unwrap().path;
    let delivery = Delivery {
        method: "POST",
        path,
        headers: &empty,
        body,
        timestamp: &stamp,
        id: "msg_2kLqTest",
    };
    sign_with_key(spec, key, &delivery, &SystemRandom::new()).unwrap()
}

/// Route `r`'s verdict on a POST to `/hook`: the secret ids that verified, or why not.
pub fn verdict(
    snap: &Snapshot,
    pairs: &[(String, String)],
    body: &[u8],
    now_ms: i64,
) -> Result<String, Reason> {
    let map = headers(pairs);
    let req = Request {
        chunks: &[],
        method: "POST",
        path: "/hook",
        headers: &map,
        body,
    };
    verify_route(snap, "r", &req, now_ms)
        .map(|v| v.secret_ids.join(","))
        .map_err(|r| r.reason)
}

pub const BODY: &[u8] = br#"{"type":2,"id":"1182300000000000005","data":{"name":"ping"}}"#;

#[test]
fn every_public_key_catalogue_vector_gives_its_expected_verdict() {
    let text = include_str!("../data/catalogue/pubkey.jsonl");
    let mut per_scheme = std::collections::BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        let (id, scheme) = (field(&v, "id"), field(&v, "scheme"));
        let snap = load_yaml(&config_for(scheme, v["secrets"].as_array().unwrap(), None));
        let (map, body) = (header_map(&v), body(&v));
        let req = Request {
            chunks: &[],
            method: field(&v, "method"),
            path: field(&v, "path"),
            headers: &map,
            body: &body,
        };
        let got = verify_route(&snap, "r", &req, v["now"].as_i64().unwrap() * 1000);
        match field(&v, "expect") {
            "accept" => assert!(got.is_ok(), "{id}: expected accept, got {got:?}"),
            "reject" => assert!(got.is_err(), "{id}: expected reject, got {got:?}"),
            other => panic!("{id}: unknown expectation `{other}`"),
        }
        *per_scheme.entry(scheme.to_owned()).or_insert(0) += 1;
    }
    println!("public-key vectors per scheme: {per_scheme:?}");
    for scheme in SCHEMES {
        assert!(per_scheme.contains_key(scheme), "no vector for {scheme}");
    }
}

#[test]
fn a_delivery_signed_with_the_private_key_verifies_and_names_the_public_key_that_did() {
    for scheme in SCHEMES {
        let (old, new) = (sender(scheme), sender(scheme));
        let snap = load_yaml(&config(
            scheme,
            &[("2026-new", &new.public), ("2025-old", &old.public)],
        ));
        for (key, id) in [(&new.key, "2026-new"), (&old.key, "2025-old")] {
            let pairs = signed(&snap, key, BODY, NOW_S);
            assert_eq!(
                verdict(&snap, &pairs, BODY, NOW_S * 1000),
                Ok(id.to_owned()),
                "{scheme}"
            );
        }
        let stranger = sender(scheme);
        let pairs = signed(&snap, &stranger.key, BODY, NOW_S);
        assert_eq!(
            verdict(&snap, &pairs, BODY, NOW_S * 1000),
            Err(Reason::Invalid),
            "{scheme}"
        );
    }
}

/// The signature header's value with one byte of the decoded signature flipped.
fn flip_signature(value: &str) -> String {
    let (prefix, sig) = value.split_once(',').unwrap_or(("", value));
    let hex_sig = sig.len() == 128 && sig.bytes().all(|b| b.is_ascii_hexdigit());
    let mut bytes = if hex_sig {
        hex::decode(sig).unwrap()
    } else {
        STANDARD.decode(sig).unwrap()
    };
    bytes[5] ^= 0x01;
    let sig = if hex_sig {
        hex::encode(bytes)
    } else {
        STANDARD.encode(bytes)
    };
    if prefix.is_empty() {
        sig
    } else {
        format!("{prefix},{sig}")
    }
}

#[test]
fn one_flipped_byte_of_body_signature_or_timestamp_rejects() {
    for scheme in SCHEMES {
        let s = sender(scheme);
        let snap = load_yaml(&config(scheme, &[("k", &s.public)]));
        let pairs = signed(&snap, &s.key, BODY, NOW_S);
        let now = NOW_S * 1000;
        assert!(verdict(&snap, &pairs, BODY, now).is_ok(), "{scheme}");
        let mut body = BODY.to_vec();
        body[10] ^= 0x01;
        assert_eq!(
            verdict(&snap, &pairs, &body, now),
            Err(Reason::Invalid),
            "{scheme} body"
        );
        let is_ts = |n: &str| n.to_ascii_lowercase().ends_with("timestamp");
        let is_sig = |n: &str| !is_ts(n) && n.to_ascii_lowercase().contains("signature");
        let edit = |pick: &dyn Fn(&str) -> bool, f: &dyn Fn(&str) -> String| {
            let map =
                |(n, v): &(String, String)| (n.clone(), if pick(n) { f(v) } else { v.clone() });
            pairs.iter().map(map).collect::<Vec<_>>()
        };
        let bad_sig = edit(&is_sig, &flip_signature);
        assert_eq!(
            verdict(&snap, &bad_sig, BODY, now),
            Err(Reason::Invalid),
            "{scheme} signature"
        );
        let later = edit(&is_ts, &|v| (v.parse::<i64>().unwrap() + 1).to_string());
        assert_eq!(
            verdict(&snap, &later, BODY, now),
            Err(Reason::Invalid),
            "{scheme} timestamp"
        );
    }
}

#[test]
fn the_timestamp_is_accepted_at_the_tolerance_boundary_and_refused_one_millisecond_past_it() {
    for scheme in SCHEMES {
        let s = sender(scheme);
        let snap = load_yaml(&config(scheme, &[("k", &s.public)]));
        let pairs = signed(&snap, &s.key, BODY, NOW_S);
        let (at, window) = (NOW_S * 1000, 5 * 60 * 1000);
        for now in [at + window, at - window] {
            assert!(
                verdict(&snap, &pairs, BODY, now).is_ok(),
                "{scheme} at {now}"
            );
        }
        for now in [at + window + 1, at - window - 1] {
            assert_eq!(
                verdict(&snap, &pairs, BODY, now),
                Err(Reason::Stale),
                "{scheme} at {now}"
            );
        }
    }
}

#[test]
fn a_standard_webhooks_check_mixing_whsec_secrets_and_whpk_keys_checks_each_entry_by_its_kind() {
    let whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let ed = sender("standard-webhooks");
    let snap = load_yaml(&config(
        "standard-webhooks",
        &[("hmac", whsec), ("ed", &ed.public)],
    ));
    let v1a = signed(&snap, &ed.key, BODY, NOW_S);
    assert_eq!(verdict(&snap, &v1a, BODY, NOW_S * 1000), Ok("ed".into()));
    // The same delivery as a `v1` HMAC entry, signed as a whsec_-only check would.
    let hmac_only = load_yaml(&config("standard-webhooks", &[("hmac", whsec)]));
    let CheckKind::Hmac(spec) = &route_checks(&hmac_only, "r")[0].kind else {
        panic!("hmac")
    };
    let mac = route_checks(&hmac_only, "r")[0].secrets[0]
        .mac
        .clone()
        .unwrap();
    let (stamp, empty) = (NOW_S.to_string(), HeaderMap::new());
    let delivery = Delivery {
        method: "POST",
        path: "/hook",
        headers: &empty,
        body: BODY,
        timestamp: &stamp,
        id: "msg_2kLqTest",
    };
    let v1 = sign(spec, &mac, &delivery);
    assert_eq!(verdict(&snap, &v1, BODY, NOW_S * 1000), Ok("hmac".into()));
    // A v1a entry is never compared with the HMAC secret, nor a v1 entry with the key.
    let ed_only = load_yaml(&config("standard-webhooks", &[("ed", &ed.public)]));
    assert_eq!(
        verdict(&ed_only, &v1, BODY, NOW_S * 1000),
        Err(Reason::Malformed)
    );
    assert_eq!(
        verdict(&hmac_only, &v1a, BODY, NOW_S * 1000),
        Err(Reason::Malformed)
    );
    // Svix's `v1,<hmac> v1a,<ed25519>` in one header: the first secret in config order wins.
    let sig = |p: &[(String, String)]| {
        p.iter()
            .find(|(n, _)| n.ends_with("signature"))
            .unwrap()
            .1
            .clone()
    };
    let mut both = v1.clone();
    both.retain(|(n, _)| !n.ends_with("signature"));
    both.push((
        "webhook-signature".into(),
        format!("{} {}", sig(&v1), sig(&v1a)),
    ));
    assert_eq!(verdict(&snap, &both, BODY, NOW_S * 1000), Ok("hmac".into()));
}
