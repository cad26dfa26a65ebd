//! Property tests: arbitrary header values (empty, up to 64 KiB, non-ASCII, binary) and
//! arbitrary bodies never panic any scheme and never verify without the right signature.

use hookguard::config::snapshot::Snapshot;
use hookguard::verify::Reason;
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use super::{check_at, deliver, outcome, Case, BODY, CASES};
use crate::support::NOW_S;

/// Every header name some scheme reads.
const NAMES: &[&str] = &[
    "x-eg-notification-timestamp",
    "x-eg-notification-signature-v2",
    "stripe-signature",
    "x-hub-signature-256",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "x-slack-request-timestamp",
    "x-slack-signature",
    "x-shopify-hmac-sha256",
    "x-signature",
    "x-timestamp",
    "x-request-id",
    "x-api-key",
    "authorization",
];

/// Header value bytes: empty, short binary, non-ASCII text, plausible scheme syntax, long
/// digit runs, and values up to 64 KiB.
fn value_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => Just(Vec::new()),
        8 => vec(any::<u8>(), 0..128),
        6 => "\\PC{0,64}".prop_map(String::into_bytes),
        8 => "(sha256=|v0=|v1=|v1,|t=|Bearer |Basic )?[0-9a-zA-Z+/=,_ .-]{0,96}"
            .prop_map(String::into_bytes),
        4 => "[0-9]{0,24}".prop_map(String::into_bytes),
        1 => (any::<u8>(), 0..=65_536usize).prop_map(|(b, n)| vec![b; n]),
        1 => vec(any::<u8>(), 60_000..=65_536),
    ]
}

/// The bytes as a header value: as they are when `HeaderValue::from_bytes` takes them, else
/// without the bytes no header can carry (CR, LF, NUL and other controls).
fn header_value(bytes: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(bytes).unwrap_or_else(|_| {
        let carried: Vec<u8> = bytes
            .iter()
            .copied()
            .filter(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
            .collect();
        HeaderValue::from_bytes(&carried).expect("only bytes a header can carry")
    })
}

fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => vec(any::<u8>(), 0..512),
        1 => vec(any::<u8>(), 0..=65_536),
    ]
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

fn compiled() -> Vec<(&'static Case, Snapshot)> {
    CASES.iter().map(|c| (c, c.snapshot())).collect()
}

#[test]
fn arbitrary_headers_and_bodies_never_panic_and_never_verify() {
    let snaps = compiled();
    let strategy = (vec((0..NAMES.len(), value_bytes()), 0..12), body_bytes());
    runner(256)
        .run(&strategy, |(lines, body)| {
            let mut headers = HeaderMap::new();
            for (name, value) in &lines {
                headers.append(HeaderName::from_static(NAMES[*name]), header_value(value));
            }
            for (case, snap) in &snaps {
                let got = check_at(snap, &headers, &body, NOW_S);
                prop_assert!(got.is_err(), "{} verified {headers:?}", case.name);
            }
            Ok(())
        })
        .expect("property holds");
}

#[test]
fn one_signed_header_replaced_by_arbitrary_bytes_never_verifies() {
    let snaps = compiled();
    let strategy = (any::<prop::sample::Index>(), value_bytes());
    runner(128)
        .run(&strategy, |(pick, bytes)| {
            for (case, snap) in &snaps {
                let signed = deliver(case, snap, 0, BODY, &case.stamp_at(NOW_S));
                let name = pick.get(&signed.names);
                let original = signed.headers.get(name).expect("signed").as_bytes();
                let value = header_value(&bytes);
                if value.as_bytes().trim_ascii() == original {
                    continue;
                }
                let mut headers = signed.headers.clone();
                headers.insert(name, value);
                let got = check_at(snap, &headers, BODY, NOW_S);
                prop_assert!(got.is_err(), "{}: {name} replaced, {got:?}", case.name);
            }
            Ok(())
        })
        .expect("property holds");
}

#[test]
fn a_signature_over_one_body_never_verifies_another() {
    let snaps = compiled();
    let strategy = (body_bytes(), body_bytes()).prop_filter("bodies differ", |(a, b)| a != b);
    runner(64)
        .run(&strategy, |(signed_body, sent_body)| {
            for (case, snap) in snaps.iter().filter(|(c, _)| c.signs_body()) {
                let signed = deliver(case, snap, 1, &signed_body, &case.stamp_at(NOW_S));
                let got = outcome(check_at(snap, &signed.headers, &sent_body, NOW_S));
                prop_assert_eq!(got, Err(Reason::Invalid), "{}", case.name);
            }
            Ok(())
        })
        .expect("property holds");
}
