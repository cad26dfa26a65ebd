//! Pusher Channels, as `validate_webhook` in pusher/pusher-http-python
//! (`pusher/authentication_client.py`) checks it: `X-Pusher-Key` names the app,
//! `X-Pusher-Signature` is the lowercase hex HMAC-SHA256 of the body under the app secret, and
//! the body is a JSON object whose `time_ms` is within 300 s of now (the row's `tolerance`).
//! The key picks the secret whose id it equals, when there is one (name secrets after app
//! keys to serve several apps on one route); otherwise every active secret is tried.

use std::borrow::Cow;

use http::HeaderName;
use serde_json::Value;

use crate::verify::claim::{Claim, Request, Stamp};
use crate::verify::extract;
use crate::verify::mac::PreparedMac;
use crate::verify::reason::Reason;

/// The signature header.
pub const HEADER: &str = "x-pusher-signature";
/// The app key header.
pub const KEY: &str = "x-pusher-key";

/// The one claim a Pusher delivery makes.
pub fn claims<'a>(req: &Request<'a>) -> Result<Vec<Claim<'a>>, Reason> {
    let key = extract::required(req.headers, &HeaderName::from_static(KEY))?;
    let signature = extract::required(req.headers, &HeaderName::from_static(HEADER))?;
    let mut claim = Claim::new(vec![Cow::Borrowed(req.body)], vec![signature]);
    claim.stamp = Some(Stamp::Millis(time_ms(req.body)?));
    claim.key_id = Some(key);
    Ok(vec![claim])
}

/// The body's `time_ms`. The SDK refuses a body that is not a JSON object, and a `time_ms`
/// that is missing, zero or not a number.
fn time_ms(body: &[u8]) -> Result<i64, Reason> {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(Reason::Malformed);
    };
    let Some(Value::Number(n)) = fields.get("time_ms") else {
        return Err(Reason::Malformed);
    };
    n.as_i64()
        .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
        .filter(|ms| *ms != 0)
        .ok_or(Reason::Malformed)
}

/// What Pusher attaches: `X-Pusher-Key` (the delivery's id: pass the app key) and the
/// signature. The body must carry `time_ms` itself, as Pusher's does.
pub fn sign(mac: &PreparedMac, req: &Request<'_>, id: &str) -> Vec<(String, String)> {
    vec![
        ("X-Pusher-Key".into(), id.to_owned()),
        (
            "X-Pusher-Signature".into(),
            hex::encode(mac.compute(&[req.body]).as_bytes()),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ms_must_be_a_non_zero_number_in_a_json_object() {
        assert_eq!(time_ms(br#"{"time_ms": 1000000}"#), Ok(1_000_000));
        assert_eq!(time_ms(br#"{"time_ms":1.5e12}"#), Ok(1_500_000_000_000));
        assert_eq!(time_ms(br#"{"time_ms":0}"#), Err(Reason::Malformed));
        assert_eq!(time_ms(br#"{"time_ms":"1000"}"#), Err(Reason::Malformed));
        assert_eq!(time_ms(br#"{"events":[]}"#), Err(Reason::Malformed));
        assert_eq!(time_ms(b"[]"), Err(Reason::Malformed));
        assert_eq!(time_ms(b"\xff"), Err(Reason::Malformed));
    }
}
