//! PayPal REST webhooks, self-verified as PayPal documents ("Integrate webhooks", self
//! verification) and its SDK implements (PayPal-Python-SDK `WebhookEvent.verify`): the
//! signed string is `transmission_id|transmission_time|webhook_id|crc32` (CRC-32 of the raw
//! body, unsigned decimal), signed SHA256withRSA with the key of the certificate at
//! `PAYPAL-CERT-URL`. That URL must be `https` on PayPal's API hosts under
//! `/v1/notifications/certs/`, checked before anything is fetched (the SDK fetches any URL and
//! then checks the certificate's chain and name; hookguard's host check plus verified TLS to
//! PayPal's host stands in for both). `webhook_id` is the check's `webhook_id:`.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::{HeaderMap, HeaderName};

use crate::verify::certs::Algo;
use crate::verify::extract;
use crate::verify::fetched::{self, Delivery, FetchedCheck, KeyKind, KeyWant};
use crate::verify::reason::Reason;

const CERT_PATH: &str = "/v1/notifications/certs/";

/// The `PAYPAL-*` headers, read by the common rules.
struct Headers<'a> {
    id: &'a str,
    time: &'a str,
    signature: &'a str,
    cert_url: &'a str,
    algo: &'a str,
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, Reason> {
    let bytes = extract::single(headers, &HeaderName::from_static(name))?.ok_or(Reason::Missing)?;
    std::str::from_utf8(bytes).map_err(|_| Reason::Malformed)
}

fn headers<'a>(f: &FetchedCheck, req: &'a HeaderMap) -> Result<Headers<'a>, Reason> {
    let h = Headers {
        id: header(req, "paypal-transmission-id")?,
        time: header(req, "paypal-transmission-time")?,
        signature: header(req, "paypal-transmission-sig")?,
        cert_url: header(req, "paypal-cert-url")?,
        algo: header(req, "paypal-auth-algo")?,
    };
    let located = f.allow.check(h.cert_url).ok_or(Reason::Invalid)?;
    if !f.allow.custom && !located.path.starts_with(CERT_PATH) {
        return Err(Reason::Invalid);
    }
    Ok(h)
}

fn cert_want(h: &Headers<'_>) -> KeyWant {
    KeyWant {
        kind: KeyKind::Certificate,
        url: h.cert_url.to_owned(),
        kid: None,
    }
}

/// The certificate a delivery needs, when its headers are complete and its URL allowed.
pub fn want(f: &FetchedCheck, headers_in: &HeaderMap) -> Option<KeyWant> {
    headers(f, headers_in).ok().map(|h| cert_want(&h))
}

/// The string PayPal signs.
pub fn signed_string(id: &str, time: &str, webhook_id: &str, body: &[u8]) -> String {
    format!("{id}|{time}|{webhook_id}|{}", crc32fast::hash(body))
}

/// Verifies one PayPal delivery.
pub fn verify(f: &FetchedCheck, d: &Delivery<'_>) -> Result<Arc<str>, Reason> {
    let h = headers(f, d.headers)?;
    if h.algo != "SHA256withRSA" {
        return Err(Reason::Invalid);
    }
    let signature = STANDARD
        .decode(h.signature)
        .map_err(|_| Reason::Malformed)?;
    let msg = signed_string(h.id, h.time, &f.webhook_id, d.body);
    let want = cert_want(&h);
    let candidates = fetched::candidates(f, d, Some(&want), None)?;
    fetched::first_match(
        &candidates,
        Algo::RsaSha256,
        msg.as_bytes(),
        &signature,
        d.now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_string_ends_with_the_unsigned_decimal_crc32_of_the_body() {
        // zlib.crc32(b"hello") == 907060870; b"\xff" * 4 gives a value above 2^31.
        assert_eq!(
            signed_string("t", "2026", "WH", b"hello"),
            "t|2026|WH|907060870"
        );
        let high = signed_string("t", "x", "w", &[0xff; 4]);
        assert_eq!(high, "t|x|w|4294967295");
    }
}
