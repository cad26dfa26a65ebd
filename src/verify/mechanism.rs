//! The provider mechanisms: catalogue rows whose `mechanism:` names code, because what they
//! sign (a canonical request, a JSON wrapper, a list of covered headers) or where their
//! timestamp lives (the body) is more than a row of data can say. Each provider is one small
//! module that reads the request into [`Claim`]s and signs as its sender does; `check` does
//! the comparing, so the constant-time rule and the tolerance live in one place.

use crate::verify::claim::{Claim, Request};
use crate::verify::mac::{Algorithm, PreparedMac};
use crate::verify::reason::Reason;
use crate::verify::scheme::{
    self, Encoding, Fields, Mechanism, Part, SigFormat, SigSpec, TimestampSpec, TsUnit,
};
use crate::verify::{contentful, graphcms, hook0, linear, pusher, recurly, worldpay};

/// The `mechanism:` names this module serves.
pub const NAMES: [&str; 8] = [
    "contentful",
    "graphcms",
    "hook0",
    "linear",
    "pusher",
    "recharge",
    "recurly",
    "worldpay",
];

/// The scheme a `mechanism:` name stands for, or `None` when this module does not serve it.
pub fn spec(name: &str) -> Option<SigSpec> {
    let m = match name {
        "contentful" => Mechanism::Contentful,
        "graphcms" => Mechanism::Graphcms,
        "hook0" => Mechanism::Hook0,
        "linear" => Mechanism::Linear,
        "pusher" => Mechanism::Pusher,
        "recurly" => Mechanism::Recurly,
        "worldpay" => Mechanism::Worldpay,
        "recharge" => return Some(recharge()),
        _ => return None,
    };
    let (encoding, ts, payload) = match m {
        Mechanism::Hook0 => (
            Encoding::Hex,
            stamp(None, TsUnit::Seconds),
            vec![Part::Timestamp, Part::Body],
        ),
        Mechanism::Contentful => (
            Encoding::HexLower,
            stamp(Some(contentful::TIMESTAMP), TsUnit::Millis),
            vec![Part::Method, Part::Path, Part::Timestamp, Part::Body],
        ),
        Mechanism::Graphcms => (
            Encoding::Base64,
            stamp(None, TsUnit::Millis),
            vec![Part::Body, Part::Timestamp],
        ),
        Mechanism::Recurly => (
            Encoding::Hex,
            stamp(None, TsUnit::Millis),
            vec![Part::Timestamp, Part::Body],
        ),
        Mechanism::Linear => (
            Encoding::HexLower,
            stamp(Some(linear::TIMESTAMP), TsUnit::Millis),
            vec![Part::Body],
        ),
        Mechanism::Pusher => (Encoding::HexLower, None, vec![Part::Body]),
        Mechanism::Worldpay => (Encoding::Hex, None, vec![Part::Body]),
    };
    let id_header = (m == Mechanism::Pusher).then(|| http::HeaderName::from_static(pusher::KEY));
    Some(SigSpec {
        algorithm: Algorithm::Sha256,
        encoding,
        sig: SigFormat::Mechanism(m),
        timestamp: ts,
        id_header,
        payload,
        public_url: String::new(),
    })
}

fn stamp(header: Option<&'static str>, unit: TsUnit) -> Option<TimestampSpec> {
    Some(TimestampSpec {
        header: header.map(http::HeaderName::from_static),
        unit,
    })
}

/// Recharge: `X-Recharge-Hmac-Sha256` is, despite its name, the lowercase hex of plain
/// SHA-256 over the client secret followed by the body. A plain header over the generic
/// engine, with the key-prefixed digest in place of the HMAC. Unlike an HMAC, such a digest
/// can be extended: whoever saw one delivery can sign that body followed by SHA-256 padding
/// and bytes of their choosing. hookguard verifies what Recharge sends; a receiver should
/// refuse a body with bytes after its JSON value.
fn recharge() -> SigSpec {
    let fields = Fields {
        headers: vec!["x-recharge-hmac-sha256"],
        encoding: Some("hex"),
        ..Fields::default()
    };
    let mut spec = scheme::build(&fields, crate::verify::catalogue::ROW_DEFAULTS)
        .unwrap_or_else(|e| unreachable!("the recharge fields are fixed and valid: {e}"));
    spec.algorithm = Algorithm::Sha256KeyPrefix;
    spec
}

/// What the request claims under mechanism `m`.
pub fn claims<'a>(m: Mechanism, req: &Request<'a>) -> Result<Vec<Claim<'a>>, Reason> {
    match m {
        Mechanism::Hook0 => hook0::claims(req),
        Mechanism::Contentful => contentful::claims(req),
        Mechanism::Graphcms => graphcms::claims(req),
        Mechanism::Recurly => recurly::claims(req),
        Mechanism::Linear => linear::claims(req),
        Mechanism::Pusher => pusher::claims(req),
        Mechanism::Worldpay => worldpay::claims(req),
    }
}

/// The headers mechanism `m`'s sender attaches to `req`, signed under `mac`. `timestamp` is
/// written in the scheme's unit; `id` is the delivery's id (Hook0's covered `X-Event-Id`,
/// Pusher's app key, Worldpay's `keyId` when it is a number).
pub fn sign(
    m: Mechanism,
    mac: &PreparedMac,
    req: &Request<'_>,
    timestamp: &str,
    id: &str,
) -> Vec<(String, String)> {
    match m {
        Mechanism::Hook0 => hook0::sign(mac, req, timestamp, id),
        Mechanism::Contentful => contentful::sign(mac, req, timestamp),
        Mechanism::Graphcms => graphcms::sign(mac, req, timestamp),
        Mechanism::Recurly => recurly::sign(mac, req, timestamp),
        Mechanism::Linear => linear::sign(mac, req, timestamp),
        Mechanism::Pusher => pusher::sign(mac, req, id),
        Mechanism::Worldpay => worldpay::sign(mac, req, id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::catalogue;

    /// The header a mechanism reads its signatures from.
    fn signature_header(m: Mechanism) -> &'static str {
        match m {
            Mechanism::Hook0 => hook0::HEADER,
            Mechanism::Contentful => contentful::SIGNATURE,
            Mechanism::Graphcms => graphcms::HEADER,
            Mechanism::Recurly => recurly::HEADER,
            Mechanism::Linear => linear::HEADER,
            Mechanism::Pusher => pusher::HEADER,
            Mechanism::Worldpay => worldpay::HEADER,
        }
    }

    #[test]
    fn every_mechanism_row_says_what_its_code_reads() {
        let mut served = 0;
        for row in catalogue::rows() {
            let Some(spec) = row.mechanism.as_deref().and_then(spec) else {
                continue;
            };
            served += 1;
            let first = row.header.as_ref().and_then(|h| h.names().first().copied());
            let read = match spec.sig {
                SigFormat::Mechanism(m) => signature_header(m),
                _ => first.unwrap_or(""),
            };
            assert_eq!(first, Some(read), "{}: header", row.id);
            let encoding = row
                .encoding
                .as_deref()
                .and_then(|e| Encoding::parse(e, true));
            assert_eq!(encoding, Some(spec.encoding), "{}: encoding", row.id);
            let unit = |u: Option<&str>| match u {
                Some("ms") => TsUnit::Millis,
                _ => TsUnit::Seconds,
            };
            if let Some(ts) = &spec.timestamp {
                assert_eq!(
                    unit(row.timestamp_unit.as_deref()),
                    ts.unit,
                    "{}: unit",
                    row.id
                );
                let header = ts.header.as_ref().map(|h| h.as_str());
                assert_eq!(row.timestamp_header.as_deref(), header, "{}: ts", row.id);
            }
            let id = spec.id_header.as_ref().map(|h| h.as_str());
            assert_eq!(row.id_header.as_deref(), id, "{}: id header", row.id);
        }
        assert_eq!(served, NAMES.len(), "one row per mechanism");
    }

    #[test]
    fn every_name_has_a_scheme_and_others_have_none() {
        for name in NAMES {
            assert!(spec(name).is_some(), "{name}");
        }
        assert!(spec("twilio").is_none());
        assert_eq!(
            spec("recharge").map(|s| s.algorithm),
            Some(Algorithm::Sha256KeyPrefix)
        );
    }
}
