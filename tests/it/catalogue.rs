//! Every catalogue row, through the real config path: its vectors (`tests/data/catalogue/*.jsonl`,
//! official where the provider publishes one, else computed independently per its docs) give
//! their verdict; and for every row the generic engine signs, a sender's delivery round-trips
//! with each active secret, one changed byte of body, signature, timestamp or URL rejects, and
//! the tolerance holds at its boundary.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hookguard::verify::catalogue::{self, Kind, Row};
use hookguard::verify::scheme::{Part, SigFormat, SigSpec, TsUnit};
use hookguard::verify::sign::{sign, timestamp_text, Delivery};
use hookguard::verify::{CheckKind, Reason, Request};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use crate::support::{load_yaml, one_route, verify_route, ConfigFile, NOW_S};
use crate::vectors::{body, field, header_map};

/// Rows that are templates for the user's own settings, not a provider.
const GENERIC: [&str; 3] = ["hmac", "api-key", "basic"];

fn vectors() -> Vec<(String, Value)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/catalogue");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/data/catalogue exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("vector file reads");
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}:{}: {e}", file.display(), n + 1));
            out.push((format!("{}:{}", file.display(), n + 1), v));
        }
    }
    out
}

/// A route for one vector: its scheme and secrets, and `public_url` from its `url`.
pub fn route_for(v: &Value) -> (String, String) {
    let mut verify = format!("scheme: {}\nsecrets:\n", field(v, "scheme"));
    for (i, s) in v["secrets"].as_array().expect("secrets").iter().enumerate() {
        let quoted = serde_json::to_string(s.as_str().expect("secret string")).expect("json");
        verify.push_str(&format!("  - id: s{i}\n    value: {quoted}\n"));
    }
    if let Some(extra) = v.get("check").and_then(Value::as_object) {
        for (key, value) in extra {
            verify.push_str(&format!("{key}: {value}\n"));
        }
    }
    let (extra, path) = match v.get("url").and_then(Value::as_str) {
        Some(url) => {
            let uri: http::Uri = url.parse().expect("vector url");
            let base = format!(
                "{}://{}",
                uri.scheme_str().expect("url scheme"),
                uri.authority().expect("url host")
            );
            let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
            (format!("public_url: {base}"), path)
        }
        None => (String::new(), field(v, "path").to_owned()),
    };
    (one_route(&extra, &verify), path)
}

#[test]
fn every_catalogue_vector_gives_its_expected_verdict() {
    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    let all = vectors();
    assert!(all.len() > 100, "only {} vectors", all.len());
    for (at, v) in &all {
        let scheme = field(v, "scheme");
        assert!(
            catalogue::find(scheme).is_some(),
            "{at}: `{scheme}` is not a catalogue id"
        );
        let (yaml, path) = route_for(v);
        let id = field(v, "id");
        let snapshot = ConfigFile::new(&yaml)
            .load()
            .unwrap_or_else(|e| panic!("{at} {id}: the vector's config does not load: {e}"));
        let headers = header_map(v);
        let body = body(v);
        let req = Request {
            chunks: &[],
            method: field(v, "method"),
            path: &path,
            headers: &headers,
            body: &body,
        };
        let now_ms = v["now"].as_i64().expect("now is an integer") * 1000;
        let verdict = verify_route(&snapshot, "r", &req, now_ms);
        match field(v, "expect") {
            "accept" => {
                assert!(
                    verdict.is_ok(),
                    "{at} {id}: expected accept, got {verdict:?}"
                );
                *accepted.entry(scheme.replace('_', "-")).or_default() += 1;
            }
            "reject" => assert!(
                verdict.is_err(),
                "{at} {id}: expected reject, got {verdict:?}"
            ),
            other => panic!("{at} {id}: unknown expectation `{other}`"),
        }
    }
    let without: Vec<&str> = catalogue::rows()
        .iter()
        .map(|r| r.id.as_str())
        .filter(|id| !GENERIC.contains(id) && !accepted.contains_key(*id))
        .collect();
    assert!(
        without.is_empty(),
        "rows without an accepted vector: {without:?}"
    );
}

/// A secret string in the form `row` hands out, distinct for `n`.
fn secret_for(row: &Row, n: u8) -> String {
    let bytes: Vec<u8> = (0..32u8)
        .map(|i| i.wrapping_mul(7).wrapping_add(n))
        .collect();
    match row.secret_encoding.as_deref() {
        Some("whsec") => format!("whsec_{}", STANDARD.encode(&bytes)),
        Some("base64") => STANDARD.encode(&bytes),
        Some("hex") => hex::encode(&bytes),
        _ => format!("catalogue-secret-{n}-{}", hex::encode(&bytes[..8])),
    }
}

/// The route YAML for `row` with two secrets (`new`, `old`) and a `public_url`.
fn row_config(row: &Row) -> String {
    let verify = format!(
        "scheme: {}\nsecrets:\n  - id: new\n    value: \"{}\"\n  - id: old\n    value: \"{}\"",
        row.id,
        secret_for(row, 1),
        secret_for(row, 2)
    );
    one_route("public_url: https://hooks.example.com", &verify)
}

struct Sent {
    headers: HeaderMap,
    signed: Vec<HeaderName>,
}

/// The headers a sender of `spec` attaches, signing with the check's secret `which`.
fn send(
    spec: &SigSpec,
    check: &hookguard::verify::Check,
    which: usize,
    body: &[u8],
    ts: &str,
) -> Sent {
    let mut headers = HeaderMap::new();
    headers.insert("x-request-id", HeaderValue::from_static("req-1"));
    let mac = check.secrets[which].mac.as_ref().expect("an HMAC secret");
    let delivery = Delivery {
        method: "POST",
        path: PATH,
        headers: &headers.clone(),
        body,
        timestamp: ts,
        id: "msg_2xTjQKZ0bqgV",
    };
    let mut signed = Vec::new();
    for (name, value) in sign(spec, mac, &delivery) {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("header name");
        headers.append(&name, HeaderValue::from_str(&value).expect("header value"));
        signed.push(name);
    }
    Sent { headers, signed }
}

const PATH: &str = "/hook/events?shop=a&n=1";
const BODY: &[u8] = br#"{"id":"evt_1","type":"thing.happened","data":{"n":1,"name":"caf\u00e9"}}"#;

fn verdict(
    snap: &hookguard::config::Snapshot,
    headers: &HeaderMap,
    body: &[u8],
    now_s: i64,
    path: &str,
) -> Result<String, Reason> {
    let req = Request {
        chunks: &[],
        method: "POST",
        path,
        headers,
        body,
    };
    verify_route(snap, "r", &req, now_s * 1000)
        .map(|v| v.secret_ids.join(","))
        .map_err(|r| r.reason)
}

/// Every row the generic engine signs, with its compiled spec.
fn signed_rows() -> Vec<(&'static Row, hookguard::config::Snapshot)> {
    catalogue::rows()
        .iter()
        .filter(|r| {
            r.id != "hmac"
                && matches!(
                    r.kind,
                    Kind::Hmac | Kind::UrlSigned | Kind::StandardWebhooks
                )
        })
        .map(|r| (r, load_yaml(&row_config(r))))
        .filter(|(_, snap)| match &snap.routes[0].checks[0].kind {
            // A provider's own format is checked the same way by its module's tests
            // (tests/it/misc_schemes.rs): its deliveries need fields this generic sender lacks.
            CheckKind::Hmac(spec) => !matches!(spec.sig, SigFormat::Mechanism(_)),
            _ => false,
        })
        .collect()
}

fn spec_of(snap: &hookguard::config::Snapshot) -> (&SigSpec, &hookguard::verify::Check) {
    let check = &snap.routes[0].checks[0];
    let CheckKind::Hmac(spec) = &check.kind else {
        unreachable!("filtered to HMAC rows")
    };
    (spec, check)
}

fn stamp(spec: &SigSpec, at_s: i64) -> String {
    let unit = spec.timestamp.as_ref().map_or(TsUnit::Seconds, |t| t.unit);
    timestamp_text(unit, at_s)
}

#[test]
fn every_signed_row_round_trips_with_each_active_secret() {
    let rows = signed_rows();
    assert!(
        rows.len() > 70,
        "only {} rows sign through the generic engine",
        rows.len()
    );
    for (row, snap) in &rows {
        let (spec, check) = spec_of(snap);
        for (which, id) in [(0, "new"), (1, "old")] {
            let sent = send(spec, check, which, BODY, &stamp(spec, NOW_S));
            let got = verdict(snap, &sent.headers, BODY, NOW_S + 1, PATH);
            assert_eq!(got.as_deref(), Ok(id), "{}: signed with {id}", row.id);
        }
        let empty = send(spec, check, 0, b"", &stamp(spec, NOW_S));
        assert!(
            verdict(snap, &empty.headers, b"", NOW_S, PATH).is_ok(),
            "{}: empty body",
            row.id
        );
        let binary: Vec<u8> = (0..=255u8).collect();
        let sent = send(spec, check, 0, &binary, &stamp(spec, NOW_S));
        assert!(
            verdict(snap, &sent.headers, &binary, NOW_S, PATH).is_ok(),
            "{}: binary body",
            row.id
        );
    }
}

#[test]
fn every_signed_row_rejects_one_changed_byte_of_body_signature_or_url() {
    for (row, snap) in signed_rows() {
        let (spec, check) = spec_of(&snap);
        let sent = send(spec, check, 0, BODY, &stamp(spec, NOW_S));
        if spec.signs(&Part::Body) {
            for i in [0, BODY.len() / 2, BODY.len() - 1] {
                let mut body = BODY.to_vec();
                body[i] ^= 0x01;
                let got = verdict(&snap, &sent.headers, &body, NOW_S, PATH);
                assert_eq!(
                    got,
                    Err(Reason::Invalid),
                    "{}: body byte {i} changed",
                    row.id
                );
            }
        }
        for name in &sent.signed {
            let original = sent
                .headers
                .get(name)
                .expect("signed header")
                .as_bytes()
                .to_vec();
            for i in 0..original.len() {
                let mut bytes = original.clone();
                bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
                let mut changed = sent.headers.clone();
                changed.insert(name, HeaderValue::from_bytes(&bytes).expect("value"));
                let got = verdict(&snap, &changed, BODY, NOW_S, PATH);
                assert!(
                    got.is_err(),
                    "{}: byte {i} of {name} changed, still {got:?}",
                    row.id
                );
            }
        }
        if spec.signs(&Part::Url) || spec.signs(&Part::Path) {
            let got = verdict(&snap, &sent.headers, BODY, NOW_S, "/hook/events?shop=b&n=1");
            assert_eq!(got, Err(Reason::Invalid), "{}: query changed", row.id);
        }
    }
}

#[test]
fn every_timestamped_row_holds_its_tolerance_at_the_boundary() {
    let mut seen = 0;
    for (row, snap) in signed_rows() {
        let (spec, check) = spec_of(&snap);
        if spec.timestamp.is_none() {
            continue;
        }
        seen += 1;
        let tol_s = check.tolerance_ms / 1000;
        for (at, ok) in [
            (NOW_S - tol_s, true),
            (NOW_S + tol_s, true),
            (NOW_S - tol_s - 1, false),
            (NOW_S + tol_s + 1, false),
        ] {
            let sent = send(spec, check, 0, BODY, &stamp(spec, at));
            let got = verdict(&snap, &sent.headers, BODY, NOW_S, PATH);
            if ok {
                assert!(
                    got.is_ok(),
                    "{}: signed {}s from now: {got:?}",
                    row.id,
                    at - NOW_S
                );
            } else {
                assert_eq!(
                    got,
                    Err(Reason::Stale),
                    "{}: signed {}s from now",
                    row.id,
                    at - NOW_S
                );
            }
        }
    }
    assert!(seen > 20, "only {seen} timestamped rows");
}

#[test]
fn a_route_tolerance_overrides_a_providers_own_window() {
    let paddle = catalogue::find("paddle").expect("paddle row");
    let snap = load_yaml(&row_config(paddle));
    assert_eq!(
        snap.routes[0].checks[0].tolerance_ms, 5_000,
        "Paddle's SDK window"
    );
    let yaml = row_config(paddle).replace("public_url:", "tolerance: 2m\n    public_url:");
    let snap = load_yaml(&yaml);
    assert_eq!(snap.routes[0].checks[0].tolerance_ms, 120_000);
}

#[test]
fn every_id_of_contract_section_9_3_is_a_catalogue_scheme() {
    let contract = include_str!("../../docs/contract.md");
    let section = contract
        .split("### 9.3 The ids")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("section 9.3");
    let list = section
        .split("before they are built")
        .nth(1)
        .expect("the id list");
    let list = list.split_once("\n\n").map_or(list, |(_, rest)| rest);
    let ids: Vec<&str> = list
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(ids.len(), 119, "{ids:?}");
    let missing: Vec<&&str> = ids
        .iter()
        .filter(|id| catalogue::find(id).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "contract ids without a catalogue row: {missing:?}"
    );
}
