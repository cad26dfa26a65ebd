//! Twilio: `X-Twilio-Signature` is the base64 HMAC of the URL Twilio called followed by the
//! form parameters sorted by name, each name then its value (a repeated name's distinct
//! values sorted), as twilio-python's `RequestValidator` and twilio-node's `validateRequest`
//! compute it. A URL carrying `bodySHA256` means a JSON body: the URL alone is signed and the
//! body's SHA-256 hex must equal that parameter. The hash is HMAC-SHA1 under the auth token,
//! or, when `X-Twilio-Webhooks-Signature-Settings` names `algorithm=HMAC_SHA256`, HMAC-SHA256
//! under a SharedKey secret (twilio-node 6.3); every active secret is tried either way.
//!
//! The URLs tried for the one received are `twilio_url`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use http::{HeaderMap, HeaderName};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::verify::extract;
use crate::verify::form::{self, BodyType};
use crate::verify::keyed::{self, Signed};
use crate::verify::mac::Algorithm;
use crate::verify::reason::Reason;
use crate::verify::secret::Secret;
use crate::verify::twilio_url;

/// The signature header.
pub const SIGNATURE: HeaderName = HeaderName::from_static("x-twilio-signature");
/// Present when Twilio signed with a SharedKey: `key=<id>,algorithm=HMAC_SHA1|HMAC_SHA256`.
pub const SETTINGS: HeaderName = HeaderName::from_static("x-twilio-webhooks-signature-settings");

/// Verifies a delivery to `url` (the public URL, path and query as received).
pub fn verify(
    keys: &[&Secret],
    url: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Arc<str>, Reason> {
    let presented = extract::single(headers, &SIGNATURE)?.ok_or(Reason::Missing)?;
    let algorithm = algorithm(extract::single(headers, &SETTINGS)?)?;
    let tag = keyed::base64_tag(presented, algorithm.tag_len())?;
    let params = signed_params(url, form::body_type(headers)?, body)?;
    let urls = twilio_url::candidates(url);
    let messages: Vec<Vec<&[u8]>> = urls
        .iter()
        .map(|u| vec![u.as_bytes(), params.as_bytes()])
        .collect();
    keyed::find(keys, algorithm, &messages, &[tag]).ok_or(Reason::Invalid)
}

/// The header a sender attaches (HMAC-SHA1 under the auth token), and the `Content-Type` the
/// body needs to be read as Twilio sends it.
pub fn sign(key: &[u8], url: &str, body: &[u8]) -> Signed {
    let json = body_sha256(form::query(url)).is_some();
    let body_type = if json { BodyType::Json } else { BodyType::Form };
    let params = signed_params(url, body_type, body).unwrap_or_default();
    let sig = keyed::base64_mac(Algorithm::Sha1, key, &[url.as_bytes(), params.as_bytes()]);
    let mut headers = vec![("X-Twilio-Signature".to_owned(), sig)];
    if !body.is_empty() {
        let content_type = if json {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        headers.push(("Content-Type".to_owned(), content_type.to_owned()));
    }
    Signed {
        headers,
        body: None,
    }
}

/// The hash the settings header names; none means the auth token's HMAC-SHA1. An algorithm
/// hookguard does not know cannot be checked: `Malformed`.
fn algorithm(settings: Option<&[u8]>) -> Result<Algorithm, Reason> {
    let text = String::from_utf8_lossy(settings.unwrap_or_default());
    let named = text.split(',').find_map(|part| {
        let (key, value) = part.split_once('=')?;
        let value = value.trim();
        (key.trim() == "algorithm" && !value.is_empty()).then_some(value)
    });
    match named.map(str::to_ascii_uppercase).as_deref() {
        None | Some("HMAC_SHA1") => Ok(Algorithm::Sha1),
        Some("HMAC_SHA256") => Ok(Algorithm::Sha256),
        Some(_) => Err(Reason::Malformed),
    }
}

/// What follows the URL in the signed string: nothing for a `bodySHA256` URL (whose body must
/// hash to it) or an empty body, the sorted parameters for a form. Any other body would reach
/// the receiver unsigned: `Invalid`.
fn signed_params(url: &str, body_type: BodyType, body: &[u8]) -> Result<String, Reason> {
    if let Some(expected) = body_sha256(form::query(url)) {
        let actual = hex::encode(Sha256::digest(body));
        if !bool::from(actual.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(Reason::Invalid);
        }
        return Ok(String::new());
    }
    match body_type {
        BodyType::Form => Ok(sorted_params(&form::pairs(body))),
        _ if body.is_empty() => Ok(String::new()),
        _ => Err(Reason::Invalid),
    }
}

/// The first `bodySHA256` value of the query, decoded.
fn body_sha256(query: &str) -> Option<String> {
    form::pairs(query.as_bytes())
        .into_iter()
        .find_map(|(k, v)| (k == "bodySHA256").then_some(v))
}

/// Names sorted, each followed by its distinct values sorted: `name value name value ...`.
pub fn sorted_params(pairs: &[(String, String)]) -> String {
    let mut by_name: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in pairs {
        by_name.entry(name).or_default().insert(value);
    }
    let mut out = String::new();
    for (name, values) in by_name {
        for value in values {
            out.push_str(name);
            out.push_str(value);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::verify::secret::{Key, Window};
    use http::HeaderValue;

    const FORM: &[u8] = b"CallSid=CA1234567890ABCDE&Digits=1234&From=%2B14158675309&To=%2B18005551212&Caller=%2B14158675309";

    fn form_headers(signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(SIGNATURE, HeaderValue::from_str(signature).expect("value"));
        let form = HeaderValue::from_static("application/x-www-form-urlencoded");
        h.insert(http::header::CONTENT_TYPE, form);
        h
    }

    #[test]
    fn the_sdk_examples_verify_with_and_without_ports() {
        // twilio-python tests/unit/test_request_validator.py: token 12345.
        let token = Secret::new("t", Key::new(b"12345".to_vec()), Window::default());
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let headers = form_headers("RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert_eq!(verify(&[&token], url, &headers, FORM).as_deref(), Ok("t"));
        let with_port = "https://mycompany.com:1234/myapp.php?foo=1&bar=2";
        assert_eq!(
            verify(&[&token], with_port, &headers, FORM).as_deref(),
            Ok("t")
        );
        let other = "https://mycompany.com/myapp.php?foo=1&bar=3";
        assert_eq!(
            verify(&[&token], other, &headers, FORM),
            Err(Reason::Invalid)
        );
        let signed = sign(b"12345", url, FORM);
        assert_eq!(signed.headers[0].1, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert_eq!(
            verify(&[&token], url, &HeaderMap::new(), FORM),
            Err(Reason::Missing)
        );
    }

    #[test]
    fn params_sort_by_name_then_distinct_values() {
        let pairs: Vec<(String, String)> = [("b", "2"), ("a", "z"), ("b", "1"), ("b", "2")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(sorted_params(&pairs), "azb1b2");
    }

    #[test]
    fn the_settings_header_chooses_the_hash() {
        assert_eq!(algorithm(None), Ok(Algorithm::Sha1));
        let sha256 = b"key=webhooks_sharedkey_1, algorithm=hmac_sha256";
        assert_eq!(algorithm(Some(sha256)), Ok(Algorithm::Sha256));
        assert_eq!(algorithm(Some(b"key=k")), Ok(Algorithm::Sha1));
        assert_eq!(
            algorithm(Some(b"algorithm=HMAC_MD5")),
            Err(Reason::Malformed)
        );
    }

    #[test]
    fn a_body_neither_form_nor_hashed_is_never_signed() {
        let url = "https://h/p";
        assert_eq!(
            signed_params(url, BodyType::Json, b"{}"),
            Err(Reason::Invalid)
        );
        assert_eq!(signed_params(url, BodyType::Absent, b""), Ok(String::new()));
        let hashed = format!(
            "https://h/p?bodySHA256={}",
            hex::encode(Sha256::digest(b"{}"))
        );
        assert_eq!(
            signed_params(&hashed, BodyType::Form, b"{}"),
            Ok(String::new())
        );
        assert_eq!(
            signed_params(&hashed, BodyType::Json, b"{ }"),
            Err(Reason::Invalid)
        );
    }
}
