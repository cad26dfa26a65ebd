//! The rules every scheme follows, run over every row of [`CASES`].

use hookguard::verify::Reason;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::{
    check_at, check_ms, deliver, matched, outcome, Case, Stamp, BODY, CASES, NEW_FROM_S,
    OLD_UNTIL_S, TOLERANCE_S,
};
use crate::support::NOW_S;

/// Every copy of `headers` with one byte of header `name` replaced by another, never a
/// whitespace or a case change.
fn one_byte_changes(headers: &HeaderMap, name: &HeaderName) -> Vec<(usize, HeaderMap)> {
    let original = headers.get(name).expect("header present").as_bytes();
    (0..original.len())
        .map(|i| {
            let mut bytes = original.to_vec();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let mut changed = headers.clone();
            changed.insert(name, HeaderValue::from_bytes(&bytes).expect("valid value"));
            (i, changed)
        })
        .collect()
}

/// Runs `test` for every case with its compiled config.
fn each_case(test: impl Fn(&Case, &hookguard::config::snapshot::Snapshot)) {
    for case in CASES {
        test(case, &case.snapshot());
    }
}

#[test]
fn every_scheme_round_trips_with_each_active_secret() {
    each_case(|case, snap| {
        for (which, id) in [(0, "new"), (1, "old")] {
            let signed = deliver(case, snap, which, BODY, &case.stamp_at(NOW_S));
            let got = outcome(check_at(snap, &signed.headers, BODY, NOW_S + 1));
            assert_eq!(got, matched(id), "{}: signed with {id}", case.name);
        }
    });
}

#[test]
fn changing_any_byte_of_the_body_rejects() {
    each_case(|case, snap| {
        if !case.signs_body() {
            return;
        }
        let signed = deliver(case, snap, 0, BODY, &case.stamp_at(NOW_S));
        assert!(check_at(snap, &signed.headers, BODY, NOW_S).is_ok());
        let mut variants: Vec<Vec<u8>> = (0..BODY.len())
            .map(|i| {
                let mut body = BODY.to_vec();
                body[i] ^= 0x20;
                body
            })
            .collect();
        variants.push([BODY, b" "].concat());
        variants.push(BODY[..BODY.len() - 1].to_vec());
        variants.push(Vec::new());
        for body in variants {
            let got = outcome(check_at(snap, &signed.headers, &body, NOW_S));
            assert_eq!(got, Err(Reason::Invalid), "{}: body {body:?}", case.name);
        }
    });
}

#[test]
fn changing_any_byte_of_a_signature_timestamp_id_or_key_header_rejects() {
    each_case(|case, snap| {
        let signed = deliver(case, snap, 0, BODY, &case.stamp_at(NOW_S));
        assert!(check_at(snap, &signed.headers, BODY, NOW_S).is_ok());
        for name in &signed.names {
            for (i, headers) in one_byte_changes(&signed.headers, name) {
                let got = check_at(snap, &headers, BODY, NOW_S);
                assert!(
                    got.is_err(),
                    "{}: {name} byte {i} changed: {got:?}",
                    case.name
                );
            }
        }
    });
}

#[test]
fn a_timestamp_moved_by_one_unit_within_tolerance_is_invalid() {
    each_case(|case, snap| {
        if case.stamp == Stamp::None {
            return;
        }
        let ts = case.stamp_at(NOW_S);
        let signed = deliver(case, snap, 0, BODY, &ts);
        for moved in [
            ts.parse::<i64>().expect("digits") + 1,
            ts.parse::<i64>().expect("digits") - 1,
        ] {
            let mut headers = HeaderMap::new();
            for (name, value) in &signed.headers {
                let text = value.to_str().expect("ascii");
                assert!(name != "x-request-id" || !text.contains(&ts));
                let text = text.replace(&ts, &moved.to_string());
                headers.append(name, HeaderValue::from_str(&text).expect("value"));
            }
            assert_ne!(
                headers, signed.headers,
                "{}: timestamp not found",
                case.name
            );
            let got = outcome(check_at(snap, &headers, BODY, NOW_S));
            assert_eq!(
                got,
                Err(Reason::Invalid),
                "{}: timestamp {moved}",
                case.name
            );
        }
    });
}

#[test]
fn the_previous_secret_verifies_until_it_expires_and_not_from_then_on() {
    each_case(|case, snap| {
        let before = OLD_UNTIL_S - 1;
        let signed = deliver(case, snap, 1, BODY, &case.stamp_at(before));
        let got = outcome(check_at(snap, &signed.headers, BODY, before));
        assert_eq!(got, matched("old"), "{}: a second before expiry", case.name);
        let signed = deliver(case, snap, 1, BODY, &case.stamp_at(OLD_UNTIL_S));
        let got = outcome(check_at(snap, &signed.headers, BODY, OLD_UNTIL_S));
        assert_eq!(got, Err(Reason::Invalid), "{}: at expiry", case.name);
        let signed = deliver(case, snap, 0, BODY, &case.stamp_at(OLD_UNTIL_S));
        let got = outcome(check_at(snap, &signed.headers, BODY, OLD_UNTIL_S));
        assert_eq!(
            got,
            matched("new"),
            "{}: new secret at old's expiry",
            case.name
        );
    });
}

#[test]
fn a_secret_before_its_not_before_is_not_tried() {
    each_case(|case, snap| {
        let before = NEW_FROM_S - 1;
        let signed = deliver(case, snap, 0, BODY, &case.stamp_at(before));
        let got = outcome(check_at(snap, &signed.headers, BODY, before));
        assert_eq!(got, Err(Reason::Invalid), "{}: new, too early", case.name);
        let signed = deliver(case, snap, 1, BODY, &case.stamp_at(before));
        let got = outcome(check_at(snap, &signed.headers, BODY, before));
        assert_eq!(got, matched("old"), "{}: old, still active", case.name);
    });
}

#[test]
fn a_check_with_no_active_secret_rejects_even_a_correct_signature() {
    for case in CASES {
        let key = case.secrets[0];
        for window in [
            "not_before: 2026-01-01T00:00:00Z",
            "expires: 2026-01-01T00:00:00Z",
        ] {
            let yaml = case.yaml_with(&format!("- id: only\n  value: \"{key}\"\n  {window}"));
            let snap = crate::support::load_yaml(&yaml);
            let at = if window.starts_with("expires") {
                NOW_S
            } else {
                NOW_S - 60
            };
            let signed = deliver(case, &snap, 0, BODY, &case.stamp_at(at));
            let got = outcome(check_at(&snap, &signed.headers, BODY, at));
            assert_eq!(got, Err(Reason::NoActiveSecret), "{}: {window}", case.name);
        }
    }
}

#[test]
fn a_timestamp_exactly_at_tolerance_is_accepted_and_one_second_past_is_stale() {
    each_case(|case, snap| {
        if case.stamp == Stamp::None {
            return;
        }
        for (offset, want_ok) in [
            (-TOLERANCE_S, true),
            (TOLERANCE_S, true),
            (-TOLERANCE_S - 1, false),
            (TOLERANCE_S + 1, false),
        ] {
            let signed = deliver(case, snap, 0, BODY, &case.stamp_at(NOW_S + offset));
            let got = outcome(check_at(snap, &signed.headers, BODY, NOW_S));
            let want = if want_ok {
                matched("new")
            } else {
                Err(Reason::Stale)
            };
            assert_eq!(got, want, "{}: signed {offset}s from now", case.name);
        }
    });
}

#[test]
fn a_millisecond_timestamp_one_millisecond_past_tolerance_is_stale() {
    each_case(|case, snap| {
        if case.stamp != Stamp::Millis {
            return;
        }
        let signed = deliver(case, snap, 1, BODY, &case.stamp_at(NOW_S));
        let edge = NOW_S * 1000 + TOLERANCE_S * 1000;
        let got = outcome(check_ms(snap, &signed.headers, BODY, edge));
        assert_eq!(got, matched("old"), "{}", case.name);
        let got = outcome(check_ms(snap, &signed.headers, BODY, edge + 1));
        assert_eq!(got, Err(Reason::Stale), "{}", case.name);
    });
}

#[test]
fn a_request_without_a_header_the_scheme_reads_is_missing() {
    each_case(|case, snap| {
        let signed = deliver(case, snap, 0, BODY, &case.stamp_at(NOW_S));
        for name in &signed.names {
            let mut headers = signed.headers.clone();
            headers.remove(name);
            let got = outcome(check_at(snap, &headers, BODY, NOW_S));
            assert_eq!(got, Err(Reason::Missing), "{}: without {name}", case.name);
        }
    });
}

#[test]
fn a_signature_timestamp_id_or_key_header_on_two_lines_is_malformed() {
    each_case(|case, snap| {
        let signed = deliver(case, snap, 0, BODY, &case.stamp_at(NOW_S));
        for name in &signed.names {
            let mut headers = signed.headers.clone();
            let value = headers.get(name).expect("present").clone();
            headers.append(name, value);
            let got = outcome(check_at(snap, &headers, BODY, NOW_S));
            assert_eq!(got, Err(Reason::Malformed), "{}: {name} twice", case.name);
        }
    });
}

#[test]
fn whitespace_around_header_values_is_ignored() {
    each_case(|case, snap| {
        let signed = deliver(case, snap, 0, BODY, &case.stamp_at(NOW_S));
        let mut headers = signed.headers.clone();
        for name in &signed.names {
            let value = headers.get(name).expect("present").to_str().expect("ascii");
            let padded = HeaderValue::from_str(&format!(" \t {value} \t")).expect("value");
            headers.insert(name, padded);
        }
        assert_ne!(headers, signed.headers);
        let got = outcome(check_at(snap, &headers, BODY, NOW_S));
        assert_eq!(got, matched("new"), "{}", case.name);
    });
}

const NOT_UTF8: &[u8] = b"\xff\xfe\x00\x80 not utf-8 \xc3\x28";

#[test]
fn an_empty_body_and_a_non_utf8_body_verify() {
    each_case(|case, snap| {
        for body in [&b""[..], NOT_UTF8] {
            let signed = deliver(case, snap, 0, body, &case.stamp_at(NOW_S));
            let got = outcome(check_at(snap, &signed.headers, body, NOW_S));
            assert_eq!(got, matched("new"), "{}: body {body:?}", case.name);
        }
    });
}
