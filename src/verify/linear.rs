//! Linear, as `LinearWebhookClient` in linear/linear (`packages/sdk/src/webhooks/client.ts`)
//! verifies it: `linear-signature` is the lowercase hex HMAC-SHA256 of the raw body; the
//! freshness time is the body's top-level `webhookTimestamp` (ms, signed with the body), or,
//! only when the body has none, the `linear-timestamp` header (ms, not signed); with neither
//! there is no freshness check. The SDK allows 60 s either way (the row's `tolerance`).

use std::borrow::Cow;

use http::HeaderName;
use serde_json::Value;

use crate::verify::claim::{js_parse_int, Claim, Request, Stamp};
use crate::verify::extract;
use crate::verify::mac::PreparedMac;
use crate::verify::reason::Reason;

/// The signature header.
pub const HEADER: &str = "linear-signature";
/// The fallback timestamp header (ms).
pub const TIMESTAMP: &str = "linear-timestamp";
/// The body field holding the signing time (ms).
pub const FIELD: &str = "webhookTimestamp";

/// The one claim a Linear delivery makes.
pub fn claims<'a>(req: &Request<'a>) -> Result<Vec<Claim<'a>>, Reason> {
    let signature = extract::required(req.headers, &HeaderName::from_static(HEADER))?;
    let mut claim = Claim::new(vec![Cow::Borrowed(req.body)], vec![signature]);
    claim.stamp = match body_timestamp(req.body)? {
        Some(ms) => Some(Stamp::Millis(ms)),
        None => match extract::single(req.headers, &HeaderName::from_static(TIMESTAMP))? {
            Some(text) => Some(Stamp::Millis(
                std::str::from_utf8(text)
                    .ok()
                    .and_then(js_parse_int)
                    .ok_or(Reason::Malformed)?,
            )),
            None => None,
        },
    };
    Ok(vec![claim])
}

/// The body's `webhookTimestamp`: a number (or, as the SDK's `parseInt` allows, a numeric
/// string). Absent or `null`, or a body that is not a JSON object, means none; any other value
/// is malformed (the SDK would fail its time check on it).
fn body_timestamp(body: &[u8]) -> Result<Option<i64>, Reason> {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Ok(None);
    };
    match fields.get(FIELD) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or(Reason::Malformed),
        Some(Value::String(s)) => js_parse_int(s).map(Some).ok_or(Reason::Malformed),
        Some(_) => Err(Reason::Malformed),
    }
}

/// What Linear attaches: the signature and `Linear-Timestamp` (ms).
pub fn sign(mac: &PreparedMac, req: &Request<'_>, timestamp: &str) -> Vec<(String, String)> {
    vec![
        (
            "Linear-Signature".into(),
            hex::encode(mac.compute(&[req.body]).as_bytes()),
        ),
        ("Linear-Timestamp".into(), timestamp.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_timestamp_is_read_where_the_sdk_reads_it() {
        assert_eq!(
            body_timestamp(br#"{"webhookTimestamp":1767225600000}"#),
            Ok(Some(1_767_225_600_000))
        );
        assert_eq!(
            body_timestamp(br#"{"webhookTimestamp":"1767225600000"}"#),
            Ok(Some(1_767_225_600_000))
        );
        assert_eq!(body_timestamp(br#"{"webhookTimestamp":null}"#), Ok(None));
        assert_eq!(
            body_timestamp(br#"{"data":{"webhookTimestamp":1}}"#),
            Ok(None)
        );
        assert_eq!(body_timestamp(b"not json"), Ok(None));
        assert_eq!(body_timestamp(br#"[1]"#), Ok(None));
        assert_eq!(
            body_timestamp(br#"{"webhookTimestamp":true}"#),
            Err(Reason::Malformed)
        );
        assert_eq!(
            body_timestamp(br#"{"webhookTimestamp":"soon"}"#),
            Err(Reason::Malformed)
        );
    }
}
