//! Plivo signature V3, as plivo-python's `validate_v3_signature` computes it:
//! `X-Plivo-Signature-V3` carries one or more comma-separated base64 HMAC-SHA256 tags under the
//! auth token, over the URL rebuilt with its query parameters sorted (`name=value` joined by
//! `&`, values decoded), then for a POST with parameters `.` and the form parameters sorted
//! (`namevalue`, no separators), then `.` and the `X-Plivo-Signature-V3-Nonce` header.
//! `X-Plivo-Signature-Ma-V3` carries the same under the main account's token (Plivo's docs:
//! either header validates), so a subaccount's or the main account's token both work.
//!
//! Plivo's Messaging and Verify callbacks carry only signature V2, which covers the URL's path
//! and the nonce but neither the query nor the body: one captured delivery would let anyone
//! post any body. hookguard does not accept V2.

use std::sync::Arc;

use http::{HeaderMap, HeaderName};

use crate::verify::extract;
use crate::verify::form::{self, BodyType};
use crate::verify::keyed::{self, Signed};
use crate::verify::mac::Algorithm;
use crate::verify::reason::Reason;
use crate::verify::secret::Secret;

/// The signature header.
pub const SIGNATURE: HeaderName = HeaderName::from_static("x-plivo-signature-v3");
/// The same signature under the main account's auth token.
pub const MAIN_ACCOUNT: HeaderName = HeaderName::from_static("x-plivo-signature-ma-v3");
/// The nonce header.
pub const NONCE: HeaderName = HeaderName::from_static("x-plivo-signature-v3-nonce");

/// Verifies a delivery to `url` (the public URL, path and query as received).
pub fn verify(
    keys: &[&Secret],
    method: &str,
    url: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Arc<str>, Reason> {
    let own = extract::single(headers, &SIGNATURE)?;
    let main = extract::single(headers, &MAIN_ACCOUNT)?;
    if own.is_none() && main.is_none() {
        return Err(Reason::Missing);
    }
    let nonce = extract::single(headers, &NONCE)?.ok_or(Reason::Missing)?;
    let tags: Vec<Vec<u8>> = [own, main]
        .into_iter()
        .flatten()
        .flat_map(|value| value.split(|&b| b == b','))
        .filter_map(|t| keyed::base64_tag(t, 32).ok())
        .collect();
    if tags.is_empty() {
        return Err(Reason::Malformed);
    }
    let base = signed_url(method, url, form::body_type(headers)?, body)?;
    let message = vec![base.as_bytes(), b".", nonce];
    keyed::find(keys, Algorithm::Sha256, &[message], &tags).ok_or(Reason::Invalid)
}

/// The two headers Plivo attaches, with `nonce` as the nonce.
pub fn sign(
    key: &[u8],
    method: &str,
    url: &str,
    body: &[u8],
    nonce: &str,
) -> Result<Signed, String> {
    let base = signed_url(method, url, BodyType::Form, body)
        .map_err(|_| "Plivo signs GET and POST requests only".to_owned())?;
    let sig = keyed::base64_mac(
        Algorithm::Sha256,
        key,
        &[base.as_bytes(), b".", nonce.as_bytes()],
    );
    let mut headers = vec![
        ("X-Plivo-Signature-V3".to_owned(), sig),
        ("X-Plivo-Signature-V3-Nonce".to_owned(), nonce.to_owned()),
    ];
    if method.eq_ignore_ascii_case("POST") && !body.is_empty() {
        headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
    }
    Ok(Signed {
        headers,
        body: None,
    })
}

/// plivo-python's `construct_get_url` / `construct_post_url`. A body Plivo would not have
/// signed (not a form, on a GET, or a method other than GET and POST) is `Invalid`.
fn signed_url(method: &str, url: &str, body_type: BodyType, body: &[u8]) -> Result<String, Reason> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let query = sorted_query(&form::pairs(query.as_bytes()));
    let mut out = without_path_params(base).to_owned();
    if method.eq_ignore_ascii_case("GET") {
        if !body.is_empty() {
            return Err(Reason::Invalid);
        }
        if !query.is_empty() {
            out.push('?');
            out.push_str(&query);
        }
        return Ok(out);
    }
    if !method.eq_ignore_ascii_case("POST") {
        return Err(Reason::Invalid);
    }
    let params = match body_type {
        BodyType::Form => form::pairs(body),
        _ if body.is_empty() => Vec::new(),
        _ => return Err(Reason::Invalid),
    };
    if params.is_empty() {
        if !query.is_empty() {
            out.push('?');
            out.push_str(&query);
        }
        return Ok(out);
    }
    out.push('?');
    if !query.is_empty() {
        out.push_str(&query);
        out.push('.');
    }
    for (name, value) in sorted(&params) {
        out.push_str(name);
        out.push_str(value);
    }
    Ok(out)
}

/// `urlparse` keeps `;params` of the last path segment apart and `urlunparse` drops them.
fn without_path_params(base: &str) -> &str {
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    let last_segment = base
        .rfind('/')
        .filter(|&i| i >= path_start)
        .unwrap_or(path_start);
    match base[last_segment..].find(';') {
        Some(i) => &base[..last_segment + i],
        None => base,
    }
}

/// Pairs sorted by name, a name's values sorted.
fn sorted(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    let mut out: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    out.sort_unstable();
    out
}

fn sorted_query(pairs: &[(String, String)]) -> String {
    let parts: Vec<String> = sorted(pairs)
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    parts.join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_urls_put_sorted_query_then_sorted_params() {
        let form = BodyType::Form;
        let url = "https://h.example/answer?b=2&a=1";
        let got = signed_url("POST", url, form.clone(), b"To=%2B1&From=2");
        assert_eq!(
            got.as_deref(),
            Ok("https://h.example/answer?a=1&b=2.From2To+1")
        );
        let got = signed_url("POST", "https://h.example/answer", form.clone(), b"X=1");
        assert_eq!(got.as_deref(), Ok("https://h.example/answer?X1"));
        let got = signed_url("POST", url, form, b"");
        assert_eq!(got.as_deref(), Ok("https://h.example/answer?a=1&b=2"));
    }

    #[test]
    fn get_urls_sort_and_decode_the_query() {
        let got = signed_url("GET", "https://h/p;x?z=%20&a=2&a=1", BodyType::Absent, b"");
        assert_eq!(got.as_deref(), Ok("https://h/p?a=1&a=2&z= "));
        assert_eq!(
            signed_url("GET", "https://h/p", BodyType::Absent, b""),
            Ok("https://h/p".into())
        );
        assert_eq!(
            signed_url("PUT", "https://h/p", BodyType::Absent, b""),
            Err(Reason::Invalid)
        );
        assert_eq!(
            signed_url("POST", "https://h/p", BodyType::Json, b"{}"),
            Err(Reason::Invalid)
        );
    }

    #[test]
    fn path_params_of_the_last_segment_are_dropped() {
        assert_eq!(without_path_params("https://h/a;b/c;d"), "https://h/a;b/c");
        assert_eq!(without_path_params("https://h;x"), "https://h;x");
        assert_eq!(without_path_params("https://h/c"), "https://h/c");
    }
}
