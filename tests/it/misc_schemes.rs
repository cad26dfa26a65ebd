//! The catalogue's "misc" slice: the providers whose verification is code (Hook0/Coinbase CDP,
//! Contentful, Hygraph, Recurly, Linear, Pusher, Worldpay, Recharge) or a generic extension
//! (Persona's signed sets, Clearbit's key prefix). Their vectors
//! (`tests/data/catalogue/misc.jsonl`, each verdict re-derived by `misc.py` without hookguard)
//! run through the real config path; every scheme round-trips through `hookguard sign`, and
//! one flipped byte of body, signature or timestamp, or a time just past its window, rejects.

// A helper that fails is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::process::Command;

use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use hookguard::verify::{Reason, Request};

use crate::support::{headers, load_yaml, one_route, verify_route, ConfigFile, NOW_S};

const IDS: [&str; 10] = [
    "clearbit",
    "coinbase-cdp",
    "contentful",
    "graphcms",
    "linear",
    "persona",
    "pusher",
    "recharge",
    "recurly",
    "worldpay",
];

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("`{key}` in {v}"))
}

/// `verify:` YAML for `scheme` with secrets `s0`, `s1`, ... holding `values`.
fn verify_yaml(scheme: &str, values: &[&str]) -> String {
    let mut yaml = format!("scheme: {scheme}\nsecrets:\n");
    for (i, value) in values.iter().enumerate() {
        let quoted = serde_json::to_string(value).unwrap();
        yaml.push_str(&format!("  - id: s{i}\n    value: {quoted}\n"));
    }
    yaml
}

fn vector_headers(v: &Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in v["headers"].as_object().unwrap() {
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
        let lines: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            one => vec![one],
        };
        for line in lines {
            map.append(
                &name,
                HeaderValue::from_str(line.as_str().unwrap()).unwrap(),
            );
        }
    }
    map
}

fn vector_body(v: &Value) -> Vec<u8> {
    match v.get("body_b64") {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap(),
        None => text(v, "body").as_bytes().to_vec(),
    }
}

#[test]
fn every_misc_vector_gives_its_expected_verdict_through_the_config_path() {
    let file = include_str!("../data/catalogue/misc.jsonl");
    let mut seen: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for line in file.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        let (id, scheme) = (text(&v, "id"), text(&v, "scheme"));
        let secrets: Vec<&str> = v["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        let snapshot = load_yaml(&one_route("", &verify_yaml(scheme, &secrets)));
        let (headers, body) = (vector_headers(&v), vector_body(&v));
        let req = Request {
            chunks: &[],
            method: text(&v, "method"),
            path: text(&v, "path"),
            headers: &headers,
            body: &body,
        };
        let verdict = verify_route(&snapshot, "r", &req, v["now"].as_i64().unwrap() * 1000);
        let counts = seen
            .entry(IDS.iter().find(|i| **i == scheme).unwrap())
            .or_default();
        match text(&v, "expect") {
            "accept" => {
                assert!(verdict.is_ok(), "{id}: expected accept, got {verdict:?}");
                counts.0 += 1;
            }
            _ => {
                assert!(verdict.is_err(), "{id}: expected reject, got {verdict:?}");
                counts.1 += 1;
            }
        }
    }
    for id in IDS {
        let (accept, reject) = seen.get(id).copied().unwrap_or_default();
        assert!(
            accept >= 1 && reject >= 1,
            "{id}: {accept} accept, {reject} reject vectors"
        );
    }
}

/// One scheme's round trip: how its delivery looks and where its signature and time are.
struct Case {
    scheme: &'static str,
    secret: &'static str,
    /// `--id`: Pusher's app key, Worldpay's keyId, Hook0's covered event id.
    id: &'static str,
    /// The body; `{ms}` stands for the signing time in milliseconds.
    body: &'static str,
    /// The header carrying the signature, and the text the signature follows in it.
    sig: (&'static str, &'static str),
    /// The signing time as the scheme writes it in a header, when it does: `s` or `ms`.
    header_time: Option<&'static str>,
    /// The provider's own window; `None` for schemes without a timestamp.
    tolerance_ms: Option<i64>,
}

const CASES: [Case; 10] = [
    Case {
        scheme: "clearbit",
        secret: "sk_6b1f3c9e2d4a",
        id: "evt_1",
        body: r#"{"id":"custom_id_42","type":"person","body":{"email":"alex@clearbit.com"},"status":200}"#,
        sig: ("x-request-signature", "sha1="),
        header_time: None,
        tolerance_ms: None,
    },
    Case {
        scheme: "coinbase-cdp",
        secret: "cdp_whsec_4d1f0b7e9a2c",
        id: "5c5b4f1e-3b1a-4c55-9a5e-0b4c7e2f1d10",
        body: r#"{"type":"payments.transfers.completed","data":{"transferId":"tr_8f2c1a"}}"#,
        sig: ("x-hook0-signature", "v1="),
        header_time: Some("s"),
        tolerance_ms: Some(300_000),
    },
    Case {
        scheme: "contentful",
        secret: "q3Rk9aZT2fVw7LxNcPm4sYbE8uHgJ6dW1oKiA5tQzXrC0vUyBnMeSlGjDhFpOw3I",
        id: "evt_1",
        body: r#"{"sys":{"type":"Entry","id":"5KsDBWseXY6QegucYAoacS"},"fields":{"title":{"en-US":"Hello"}}}"#,
        sig: ("x-contentful-signature", ""),
        header_time: Some("ms"),
        tolerance_ms: Some(30_000),
    },
    Case {
        scheme: "graphcms",
        secret: "rCNwyiloY3oJYYkxgpBXaleIiUv5MYlx",
        id: "evt_1",
        body: "{\"operation\":\"publish\",\"data\":{\"title\":\"Caf\u{e9} \\\"quoted\\\"\\n\"}}",
        sig: ("gcms-signature", "sign="),
        header_time: Some("ms"),
        tolerance_ms: Some(300_000),
    },
    Case {
        scheme: "linear",
        secret: "lin_wh_9f3b2c7d1e8a4f60b5c2d9e7a1f3c8b4",
        id: "evt_1",
        body: r#"{"action":"create","type":"Comment","data":{"id":"2174add1"},"webhookTimestamp":{ms}}"#,
        sig: ("linear-signature", ""),
        header_time: None,
        tolerance_ms: Some(60_000),
    },
    Case {
        scheme: "persona",
        secret: "wbhsec_7f3e2a1b-9c8d-4e5f-a6b7-c8d9e0f1a2b3",
        id: "evt_1",
        body: r#"{"data":{"type":"event","id":"evt_XGuYWp1WfmXJsWSPnEmbs2wq","attributes":{"name":"inquiry.completed"}}}"#,
        sig: ("persona-signature", "v1="),
        header_time: Some("s"),
        tolerance_ms: Some(300_000),
    },
    Case {
        scheme: "pusher",
        secret: "7ad3773142a6692b25b8",
        id: "278d425bdf160c739803",
        body: r#"{"time_ms":{ms},"events":[{"name":"channel_occupied","channel":"private-orders-42"}]}"#,
        sig: ("x-pusher-signature", ""),
        header_time: None,
        tolerance_ms: Some(300_000),
    },
    Case {
        scheme: "recharge",
        secret: "rch_client_secret_8a7b6c5d4e3f2a1b0c9d8e7f",
        id: "evt_1",
        body: r#"{"subscription":{"id":27364890,"status":"ACTIVE","quantity":1}}"#,
        sig: ("x-recharge-hmac-sha256", ""),
        header_time: None,
        tolerance_ms: None,
    },
    Case {
        scheme: "recurly",
        secret: "354fab5bd35f5a0d50845ee7e30165244468b13c2c343f104e4e730a59326d9d",
        id: "evt_1",
        body: r#"{"id":"rjxwmwedwqug","object_type":"account","event_type":"created"}"#,
        sig: ("recurly-signature", ","),
        header_time: Some("ms"),
        tolerance_ms: Some(300_000),
    },
    Case {
        scheme: "worldpay",
        secret: "wp-shared-secret-key1-1a7d",
        id: "3",
        body: r#"{"eventId":"0a8b5c6d","eventDetails":{"classification":"payment","type":"sentForSettlement"}}"#,
        sig: ("event-signature", "SHA256/"),
        header_time: None,
        tolerance_ms: None,
    },
];

/// Runs `hookguard sign` for the route in `file` and returns the headers it printed.
fn cli_sign(file: &ConfigFile, body: &[u8], timestamp: i64, id: &str) -> Vec<(String, String)> {
    let body_path = file.write("body.json", body);
    let out = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["sign", "--config"])
        .arg(&file.path)
        .args(["--route", "r", "--body"])
        .arg(&body_path)
        .args(["--timestamp", &timestamp.to_string(), "--id", id])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "sign: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

/// The verdict for `body` with `hdrs` at `now_ms`, the way the proxy asks it.
fn verdict(
    snap: &hookguard::config::snapshot::Snapshot,
    hdrs: &[(String, String)],
    body: &[u8],
    now_ms: i64,
) -> Result<(), Reason> {
    let map = headers(hdrs);
    let req = Request {
        chunks: &[],
        method: "POST",
        path: "/hook",
        headers: &map,
        body,
    };
    verify_route(snap, "r", &req, now_ms)
        .map(|_| ())
        .map_err(|r| r.reason)
}

/// `hdrs` with one character of the signature in header `name`, just after `marker`, changed.
fn flip_signature(
    hdrs: &[(String, String)],
    (name, marker): (&str, &str),
) -> Vec<(String, String)> {
    let mut out = hdrs.to_vec();
    let (_, value) = out
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .unwrap_or_else(|| panic!("no {name} in {hdrs:?}"));
    let at = match marker {
        "" => 0,
        _ => value.rfind(marker).unwrap() + marker.len(),
    };
    let old = value.as_bytes()[at];
    let new = if old == b'0' { "1" } else { "0" };
    value.replace_range(at..=at, new);
    out
}

#[test]
fn every_misc_scheme_round_trips_through_hookguard_sign_and_one_flipped_byte_rejects() {
    let signed_s = NOW_S - 7;
    for case in &CASES {
        let file = ConfigFile::new(&one_route("", &verify_yaml(case.scheme, &[case.secret])));
        let snap = file.load().unwrap();
        let signed_ms = signed_s * 1000;
        let body = case
            .body
            .replace("{ms}", &signed_ms.to_string())
            .into_bytes();
        let hdrs = cli_sign(&file, &body, signed_s, case.id);
        let now = NOW_S * 1000;
        let what = case.scheme;
        assert_eq!(
            verdict(&snap, &hdrs, &body, now),
            Ok(()),
            "{what}: {hdrs:?}"
        );

        let mut tampered = body.clone();
        let at = tampered.len() / 2;
        tampered[at] ^= 0x01;
        assert!(
            verdict(&snap, &hdrs, &tampered, now).is_err(),
            "{what}: body"
        );
        let forged = flip_signature(&hdrs, case.sig);
        assert!(
            verdict(&snap, &forged, &body, now).is_err(),
            "{what}: signature"
        );
        if let Some(unit) = case.header_time {
            let (written, moved) = match unit {
                "s" => (signed_s, signed_s + 1),
                _ => (signed_ms, signed_ms + 1),
            };
            let moved: Vec<(String, String)> = hdrs
                .iter()
                .map(|(n, v)| {
                    (
                        n.clone(),
                        v.replacen(&written.to_string(), &moved.to_string(), 1),
                    )
                })
                .collect();
            assert_ne!(moved, hdrs, "{what}: the timestamp is in a header");
            assert_eq!(
                verdict(&snap, &moved, &body, now),
                Err(Reason::Invalid),
                "{what}: time"
            );
        }
        if let Some(tol) = case.tolerance_ms {
            for (now, ok) in [
                (signed_ms + tol, true),
                (signed_ms - tol, true),
                (signed_ms + tol + 1, false),
                (signed_ms - tol - 1, false),
            ] {
                let want = if ok { Ok(()) } else { Err(Reason::Stale) };
                assert_eq!(verdict(&snap, &hdrs, &body, now), want, "{what}: at {now}");
            }
        }
    }
}
