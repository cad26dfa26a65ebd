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
use crate::verify::scheme::{HmacSpec, Part};
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
        }),
        None => Ok(()),
    }
}

/// `Some(Missing | Malformed)` when `check` cannot pass whatever the body.
fn header_verdict(check: &Check, headers: &HeaderMap) -> Option<Reason> {
    let result = match &check.kind {
        CheckKind::Hmac(spec) => hmac_headers(spec, headers),
        CheckKind::ApiKey { header, bearer } => {
            extract::api_key(headers, header, *bearer).map(drop)
        }
        CheckKind::Basic => extract::basic(headers).map(drop),
        #[allow(unreachable_patterns)]
        _ => Ok(()),
    };
    result
        .err()
        .filter(|r| matches!(r, Reason::Missing | Reason::Malformed))
}

/// What `verify_hmac` reads before the body: the signatures (one must decode to a tag of the
/// right length), the timestamp, and every `{header:NAME}` of the template.
fn hmac_headers(spec: &HmacSpec, headers: &HeaderMap) -> Result<(), Reason> {
    let found = extract::signatures(spec, headers)?;
    let want = spec.algorithm.tag_len();
    let decodable = found
        .signatures
        .iter()
        .filter_map(|s| decode(spec.encoding, s))
        .any(|bytes| bytes.len() == want);
    if !decodable {
        return Err(Reason::Malformed);
    }
    if let (Some(ts), Some(tspec)) = (found.timestamp, &spec.timestamp) {
        parse_timestamp(ts, tspec.millis)?;
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
    use crate::verify::mac::PreparedMac;
    use crate::verify::scheme::{preset, SchemeName};
    use crate::verify::sign::{sign, Delivery};
    use crate::verify::CompiledSecret;

    fn hmac_check(scheme: SchemeName) -> (Check, PreparedMac) {
        let spec = preset(scheme).expect("a preset");
        let mac = PreparedMac::new(spec.algorithm, b"key");
        let key = crate::verify::secret::Key::new(b"key".to_vec());
        let secret = crate::verify::secret::Secret::new("a", key, Default::default());
        let check = Check {
            scheme,
            kind: CheckKind::Hmac(spec),
            secrets: vec![CompiledSecret {
                secret,
                mac: Some(mac.clone()),
                digest: [0; 32],
            }],
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
    fn a_signed_delivery_of_every_preset_passes_and_an_unsigned_one_does_not() {
        let presets = SchemeName::NAMES
            .iter()
            .filter_map(|n| SchemeName::parse(n))
            .filter(|s| preset(*s).is_some());
        for scheme in presets {
            let (check, mac) = hmac_check(scheme);
            let CheckKind::Hmac(spec) = &check.kind else {
                unreachable!()
            };
            let empty = HeaderMap::new();
            let delivery = Delivery {
                method: "POST",
                path: "/",
                headers: &empty,
                body: b"{}",
                timestamp: "1767225600",
                id: "msg_1",
            };
            let signed = headers(&sign(spec, &mac, &delivery));
            assert_eq!(
                precheck(std::slice::from_ref(&check), &signed),
                Ok(()),
                "{scheme:?}"
            );
            let refused = precheck(std::slice::from_ref(&check), &empty).expect_err("unsigned");
            assert_eq!(refused.reason, Reason::Missing, "{scheme:?}");
        }
    }

    #[test]
    fn one_check_that_could_pass_is_enough_to_read_the_body() {
        let (github, _) = hmac_check(SchemeName::Github);
        let api = Check {
            scheme: SchemeName::ApiKey,
            kind: CheckKind::ApiKey {
                header: http::HeaderName::from_static("x-api-key"),
                bearer: false,
            },
            secrets: vec![],
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
