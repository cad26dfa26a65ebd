//! Property tests for the hardening layers: any bytes as a config never panic and every error
//! names the file; the header-only verdict never refuses a request `verify` would accept, and
//! agrees with it on what it refuses; any bytes as a connection's stream never panic the
//! framing layer, which hands hyper the same bytes however they are cut.

#![allow(clippy::unwrap_used)]

use hookguard::serve::framer::Framer;
use hookguard::serve::framing::HeadLimits;
use hookguard::verify::precheck::precheck;
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::support::{load_yaml, ConfigFile, NOW_S};

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Config text: raw bytes, YAML-ish fragments, and a valid config with a byte changed.
fn config_bytes() -> impl Strategy<Value = Vec<u8>> {
    let valid = "listen: \"127.0.0.1:0\"\nlimits: {max_headers: 10}\ntrusted_proxies: [10.0.0.0/8]\nroutes:\n  - name: r\n    path: /r\n    upstream: http://127.0.0.1:1\n    allow_ips: [\"::1\"]\n    max_in_flight: 2\n    verify: {scheme: github, secrets: [{id: a, value: k}]}\n";
    prop_oneof![
        vec(any::<u8>(), 0..256),
        "[a-z_:{}\\[\\], &*\"\n-]{0,200}".prop_map(String::into_bytes),
        (0..valid.len(), any::<u8>()).prop_map(move |(at, b)| {
            let mut bytes = valid.as_bytes().to_vec();
            bytes[at] = b;
            bytes
        }),
    ]
}

#[test]
fn any_bytes_as_a_config_never_panic_and_every_error_names_the_file() {
    let file = ConfigFile::new("");
    runner(256)
        .run(&config_bytes(), |bytes| {
            std::fs::write(&file.path, &bytes).unwrap();
            if let Err(e) = file.load() {
                let text = e.to_string();
                prop_assert!(text.starts_with(&file.path.display().to_string()), "{text}");
            }
            Ok(())
        })
        .unwrap();
}

/// Every preset, generic `hmac` with a template header, `api-key` and `basic`, one route each.
fn all_schemes() -> hookguard::config::snapshot::Snapshot {
    let checks = [
        "{scheme: github, secrets: [{id: a, value: k}]}",
        "{scheme: stripe, secrets: [{id: a, value: k}]}",
        "{scheme: slack, secrets: [{id: a, value: k}]}",
        "{scheme: shopify, secrets: [{id: a, value: k}]}",
        "{scheme: expedia, secrets: [{id: a, value: k}]}",
        "{scheme: svix, secrets: [{id: a, value: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}]}",
        "{scheme: hmac, header: x-signature, encoding: hex, timestamp_header: x-timestamp, payload: \"{timestamp}.{header:x-id}.{body}\", secrets: [{id: a, value: k}]}",
        "{scheme: api-key, secrets: [{id: a, value: k}]}",
        "{scheme: basic, secrets: [{id: a, value: \"u:p\"}]}",
    ];
    let mut yaml = String::from("listen: \"127.0.0.1:0\"\nroutes:\n");
    for (i, check) in checks.iter().enumerate() {
        yaml.push_str(&format!(
            "  - name: s{i}\n    path: /s{i}\n    upstream: http://127.0.0.1:1\n    verify: {check}\n"
        ));
    }
    load_yaml(&yaml)
}

/// A delivery's headers with some removed, duplicated or replaced by arbitrary bytes.
fn mutated(signed: Vec<(String, String)>) -> impl Strategy<Value = HeaderMap> {
    let n = signed.len().max(1);
    vec((0..n, 0..4u8, vec(any::<u8>(), 0..40)), 0..4).prop_map(move |edits| {
        let mut pairs: Vec<(String, Vec<u8>)> = signed
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
            .collect();
        for (at, op, bytes) in edits {
            if pairs.is_empty() {
                break;
            }
            let at = at % pairs.len();
            match op {
                0 => drop(pairs.remove(at)),
                1 => pairs.push(pairs[at].clone()),
                2 => pairs[at].1 = bytes,
                _ => pairs[at].1.extend_from_slice(&bytes),
            }
        }
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            if let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_bytes(&v),
            ) {
                map.append(k, v);
            }
        }
        map
    })
}

#[test]
fn the_header_only_verdict_never_refuses_what_verify_accepts_and_agrees_on_what_it_refuses() {
    let snap = all_schemes();
    let body = b"{\"id\":1}";
    for route in &snap.routes {
        let mut signed = crate::net::sign_with(&snap, &route.name, None, body, NOW_S);
        match route.name.as_ref() {
            "s6" => signed.push(("x-id".into(), "7".into())),
            "s7" => signed.push(("x-api-key".into(), "k".into())),
            "s8" => signed.push(("authorization".into(), "Basic dTpw".into())),
            _ => {}
        }
        runner(128)
            .run(&mutated(signed), |headers| {
                let req = hookguard::verify::Request {
                    chunks: &[],
                    method: "POST",
                    path: &route.path,
                    headers: &headers,
                    body,
                };
                let verdict = hookguard::verify::verify(&route.checks, &req, NOW_S * 1000);
                match (precheck(&route.checks, &headers), verdict) {
                    (Err(early), Err(late)) => prop_assert_eq!(early.reason, late.reason),
                    (Err(early), Ok(_)) => prop_assert!(
                        false,
                        "{}: refused early ({:?}) what verifies",
                        route.name,
                        early.reason
                    ),
                    (Ok(()), _) => {}
                }
                Ok(())
            })
            .unwrap();
    }
}

/// Hands `data` to a framer in pieces of `cut` bytes, as `Rewind` does.
fn framed(data: &[u8], cut: usize) -> (Vec<u8>, bool) {
    let limits = HeadLimits {
        max_header_bytes: 1024,
        max_headers: 16,
    };
    let mut framer = Framer::new(limits);
    let mut handed = Vec::new();
    for piece in data.chunks(cut.max(1)) {
        if framer.in_body() && framer.ready().is_empty() {
            let n = framer.body_prefix(piece);
            handed.extend_from_slice(&piece[..n]);
        } else {
            framer.push(piece);
        }
        handed.extend_from_slice(framer.ready());
        framer.consume(framer.ready().len());
    }
    (handed, framer.ended())
}

/// Streams of plausible requests with bytes changed here and there.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let good: &[u8] = b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcPOST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
    prop_oneof![
        vec(any::<u8>(), 0..300),
        vec(
            (
                0..good.len(),
                prop_oneof![
                    Just(b'\n'),
                    Just(b'\r'),
                    Just(0u8),
                    Just(b' '),
                    Just(b','),
                    any::<u8>()
                ]
            ),
            0..4
        )
        .prop_map(move |edits| {
            let mut bytes = good.to_vec();
            for (at, b) in edits {
                bytes[at] = b;
            }
            bytes
        }),
    ]
}

#[test]
fn any_stream_never_panics_the_framing_layer_and_however_it_is_cut_the_same_bytes_pass() {
    runner(512)
        .run(&(stream_bytes(), 1..40usize), |(data, cut)| {
            let whole = framed(&data, data.len());
            let pieces = framed(&data, cut);
            prop_assert!(data.starts_with(&whole.0));
            prop_assert_eq!(whole, pieces);
            Ok(())
        })
        .unwrap();
}
