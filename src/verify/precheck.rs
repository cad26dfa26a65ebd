//! Rejecting on the headers alone: when every check of a route finds its signature, key or
//! timestamp header missing or malformed, no body can make the request pass, so the proxy
//! answers 401 before reading a byte of it (a 25 MB unsigned body costs nothing).
//!
//! Only the header reading the checks themselves do is used (`extract`, then the signature
//! decoding and timestamp parsing of `check`), so a request this refuses is one `verify`
//! would refuse with the same reason. A check whose kind this does not know (its signature
//! may be in the body) is never refused here.

use http::HeaderMap;

use crate::verify::check::{decode, parse_timestamp, Check, CheckKind};
use crate::verify::extract;
use crate::verify::reason::Reason;
use crate::verify::scheme::{Part, SigFormat, SigSpec};
use crate::verify::Rejected;

/// `Err` when every check finds its headers missing or malformed: the rejection of the first
/// check, as `verify` reports it. `Ok` when any check could still pass with some body.
pub fn precheck(checks: &[Check], headers: &HeaderMap) -> Result<(), Rejected> {
    let mut first = None;
    for check in checks {
        match header_verdict(check, headers) {
            Some(reason) => {
                first.get_or_insert(reason);
            }
            None => return Ok(()),
        }
    }
    match first {
        Some(reason) => Err(Rejected {
            check: 0,
            reason,
            passed: Vec::new(),
            // As `verify` would report it: the first check failed, nothing after it ran.
            tried: checks
                .first()
                .map(|c| crate::verify::Tried {
                    scheme: c.scheme,
                    result: Err(reason),
                })
                .into_iter()
                .collect(),
        }),
        None => Ok(()),
    }
}

/// `Some(Missing | Malformed)` when `check` cannot pass whatever the body. A check with a
/// handshake is never refused here: some challenges are unsigned and carry their token in
/// the body (Notion's).
fn header_verdict(check: &Check, headers: &HeaderMap) -> Option<Reason> {
    if check.handshake.is_some() {
        return None;
    }
    let result = match &check.kind {
        CheckKind::Hmac(spec) => hmac_headers(spec, headers),
        CheckKind::ApiKey { header, bearer } => {
            extract::api_key(headers, header, *bearer).map(drop)
        }
        CheckKind::Basic => extract::basic(headers).map(drop),
        CheckKind::Token { header } => match extract::single(headers, header) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(Reason::Missing),
            Err(r) => Err(r),
        },
        CheckKind::Any(options) => match options
            .iter()
            .filter_map(|o| header_verdict(o, headers))
            .count()
        {
            n if n == options.len() => Err(Reason::Missing),
            _ => Ok(()),
        },
        // Public keys, fetched keys, URL-signed and body-embedded schemes: left to `verify`.
        _ => Ok(()),
    };
    result
        .err()
        .filter(|r| matches!(r, Reason::Missing | Reason::Malformed))
}

/// What `verify_hmac` reads before the body: the signatures (one must decode to a tag of the
/// right length), the timestamp, and every `{header:NAME}` of the template. A provider's own
/// format (`SigFormat::Mechanism`) is left to `verify`.
fn hmac_headers(spec: &SigSpec, headers: &HeaderMap) -> Result<(), Reason> {
    if matches!(spec.sig, SigFormat::Mechanism(_)) {
        return Ok(());
    }
    let groups = extract::groups(spec, headers)?;
    let want = spec.algorithm.tag_len();
    let decodable = groups.iter().any(|found| {
        let ok_sig = found
            .signatures
            .iter()
            .filter_map(|s| decode(spec.encoding, s))
            .any(|bytes| bytes.len() == want);
        let ok_ts = match (found.timestamp, &spec.timestamp) {
            (Some(ts), Some(tspec)) => parse_timestamp(ts, tspec.unit).is_ok(),
            _ => true,
        };
        ok_sig && ok_ts
    });
    if !decodable {
        return Err(Reason::Malformed);
    }
    for part in &spec.payload {
        if let Part::Header(name) = part {
            extract::single(headers, name)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::catalogue;
    use crate::verify::mac::PreparedMac;
    use crate::verify::scheme::TsUnit;
    use crate::verify::sign::{sign, Delivery};
    use crate::verify::CompiledSecret;

    fn check_for(id: &str) -> (Check, PreparedMac) {
        let row = catalogue::find(id).expect("row");
        let spec = row.spec().expect("spec");
        let mac = PreparedMac::new(spec.algorithm, b"key");
        let key = crate::verify::secret::Key::new(b"key".to_vec());
        let secret = crate::verify::secret::Secret::new("a", key, Default::default());
        let check = Check {
            scheme: row.id.as_str(),
            kind: CheckKind::Hmac(spec),
            secrets: vec![CompiledSecret {
                secret,
                mac: Some(mac.clone()),
                digest: [0; 32],
                public: None,
            }],
            tolerance_ms: 300_000,
            delivery_id: Vec::new(),
            handshake: None,
        };
        (check, mac)
    }

    fn headers(pairs: &[(String, String)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (n, v) in pairs {
            map.append(
                http::HeaderName::from_bytes(n.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        map
    }

    #[test]
    fn a_signed_delivery_of_every_generic_row_passes_and_an_unsigned_one_does_not() {
        let rows = catalogue::rows().iter().filter(|r| {
            r.mechanism.is_none()
                && matches!(
                    r.kind,
                    catalogue::Kind::Hmac | catalogue::Kind::StandardWebhooks
                )
        });
        let mut seen = 0;
        for row in rows {
            let (check, mac) = check_for(&row.id);
            let CheckKind::Hmac(spec) = &check.kind else {
                unreachable!()
            };
            let empty = HeaderMap::new();
            let unit = spec.timestamp.as_ref().map_or(TsUnit::Seconds, |t| t.unit);
            let stamp = crate::verify::sign::timestamp_text(unit, 1_767_225_600);
            let delivery = Delivery {
                method: "POST",
                path: "/",
                headers: &empty,
                body: b"{}",
                timestamp: &stamp,
                id: "msg_1",
            };
            let signed = headers(&sign(spec, &mac, &delivery));
            assert_eq!(
                precheck(std::slice::from_ref(&check), &signed),
                Ok(()),
                "{}",
                row.id
            );
            let refused = precheck(std::slice::from_ref(&check), &empty).expect_err("unsigned");
            assert_eq!(refused.reason, Reason::Missing, "{}", row.id);
            seen += 1;
        }
        assert!(seen > 50, "{seen}");
    }

    #[test]
    fn one_check_that_could_pass_is_enough_to_read_the_body() {
        let (github, _) = check_for("github");
        let api = Check {
            scheme: "api-key",
            kind: CheckKind::ApiKey {
                header: http::HeaderName::from_static("x-api-key"),
                bearer: false,
            },
            secrets: vec![],
            tolerance_ms: 300_000,
            delivery_id: Vec::new(),
            handshake: None,
        };
        let checks = [github, api];
        let key = headers(&[("x-api-key".into(), "anything".into())]);
        assert_eq!(precheck(&checks, &key), Ok(()));
        let bad = headers(&[("x-hub-signature-256".into(), "sha256=zz".into())]);
        let refused = precheck(&checks, &bad).expect_err("nothing could pass");
        assert_eq!(refused.reason, Reason::Malformed);
        let twice = headers(&[
            ("x-api-key".into(), "a".into()),
            ("x-api-key".into(), "b".into()),
        ]);
        assert_eq!(
            precheck(&checks, &twice).map_err(|r| r.reason),
            Err(Reason::Missing)
        );
    }
}
