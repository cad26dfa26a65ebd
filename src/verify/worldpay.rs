//! Worldpay (Access Worldpay events), per developer.worldpay.com/products/access/events/signature:
//! `Event-Signature: {keyId}/{hashFunction}/{signature}[,...]`, one entry per key during a
//! renewal, in any order ("always use the keyId"). The signature is the hex HMAC of the body
//! under the shared secret, with `hashFunction` naming the hash; SHA256 is the only one
//! documented, so entries naming another are skipped, as are entries that are not three
//! `/`-separated fields. An entry's `keyId` picks the secret with that id, when there is one.

use std::borrow::Cow;

use http::HeaderName;

use crate::verify::claim::{Claim, Request};
use crate::verify::extract;
use crate::verify::mac::PreparedMac;
use crate::verify::reason::Reason;

/// The signature header.
pub const HEADER: &str = "event-signature";

/// One claim per usable entry (none usable leaves nothing to verify: malformed).
pub fn claims<'a>(req: &Request<'a>) -> Result<Vec<Claim<'a>>, Reason> {
    let value = extract::required(req.headers, &HeaderName::from_static(HEADER))?;
    let mut claims = Vec::new();
    for entry in value.split(',') {
        let fields: Vec<&str> = entry.trim().split('/').collect();
        let [key_id, hash, signature] = fields[..] else {
            continue;
        };
        if !hash.eq_ignore_ascii_case("SHA256") {
            continue;
        }
        let mut claim = Claim::new(vec![Cow::Borrowed(req.body)], vec![signature]);
        claim.key_id = Some(key_id);
        claims.push(claim);
    }
    Ok(claims)
}

/// What Worldpay attaches: `Event-Signature: {keyId}/SHA256/{hex}`, the keyId being the
/// delivery's id when that is a number, else `1`.
pub fn sign(mac: &PreparedMac, req: &Request<'_>, id: &str) -> Vec<(String, String)> {
    let key_id = if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
        id
    } else {
        "1"
    };
    let code = hex::encode(mac.compute(&[req.body]).as_bytes());
    vec![("Event-Signature".into(), format!("{key_id}/SHA256/{code}"))]
}
