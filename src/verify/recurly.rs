//! Recurly, as `VerifyWebhookSignature` in recurly/recurly-client-go (`webhook.go`) checks
//! it: `recurly-signature: <timestamp ms>,<hex>[,<hex>...]`, split on `,` with no trimming;
//! the first element is the timestamp, every other one must be whole hex (either case) or the
//! header is rejected; HMAC-SHA256 over `{timestamp as sent}.{body}`. The client's default
//! tolerance is 5 minutes.

use std::borrow::Cow;

use http::HeaderName;

use crate::verify::claim::{Claim, Request, Stamp};
use crate::verify::extract;
use crate::verify::mac::PreparedMac;
use crate::verify::reason::Reason;

/// The signature header.
pub const HEADER: &str = "recurly-signature";

/// The one claim a Recurly delivery makes.
pub fn claims<'a>(req: &Request<'a>) -> Result<Vec<Claim<'a>>, Reason> {
    let value = extract::required(req.headers, &HeaderName::from_static(HEADER))?;
    let mut elements = value.split(',');
    let timestamp = elements.next().unwrap_or("");
    let signatures: Vec<&str> = elements.collect();
    if signatures.is_empty() || signatures.iter().any(|s| hex::decode(s).is_err()) {
        return Err(Reason::Malformed);
    }
    // Go's strconv.ParseInt: an optional sign, then decimal digits only.
    let ms: i64 = timestamp.parse().map_err(|_| Reason::Malformed)?;
    let mut claim = Claim::new(message(timestamp, req.body), signatures);
    claim.stamp = Some(Stamp::Millis(ms));
    Ok(vec![claim])
}

fn message<'a>(timestamp: &str, body: &'a [u8]) -> Vec<Cow<'a, [u8]>> {
    vec![
        Cow::Owned(format!("{timestamp}.").into_bytes()),
        Cow::Borrowed(body),
    ]
}

/// What Recurly attaches: `Recurly-Signature: <ms>,<hex>`.
pub fn sign(mac: &PreparedMac, req: &Request<'_>, timestamp: &str) -> Vec<(String, String)> {
    let code = hex::encode(mac.compute(&message(timestamp, req.body)).as_bytes());
    vec![("Recurly-Signature".into(), format!("{timestamp},{code}"))]
}
