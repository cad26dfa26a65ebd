//! HubSpot v3, as hubspot-api-python, -nodejs and -php's `Signature` compute it:
//! `X-HubSpot-Signature-v3` is the base64 HMAC-SHA256, under the app's client secret, of the
//! method, URL, body and `X-HubSpot-Request-Timestamp` concatenated (the timestamp in Unix
//! milliseconds, within the tolerance both ways; the libraries check 300 s in the past). The
//! libraries sign the URL as given; HubSpot's request-validation guide has receivers decode a
//! fixed set of `%XX` sequences first, so that form is tried second.
//!
//! v1 and v2 (`X-HubSpot-Signature`, an unkeyed SHA-256 of secret + data with no timestamp) are
//! not accepted: they can be replayed forever and extended, and HubSpot sends them only beside
//! v3, "for backwards compatibility".

use std::sync::Arc;

use http::HeaderName;

use crate::verify::claim::Request;
use crate::verify::extract;
use crate::verify::keyed::{self, Signed};
use crate::verify::mac::Algorithm;
use crate::verify::reason::Reason;
use crate::verify::secret::{Secret, UnixMillis};

const SIGNATURE: HeaderName = HeaderName::from_static("x-hubspot-signature-v3");
const TIMESTAMP: HeaderName = HeaderName::from_static("x-hubspot-request-timestamp");

/// Verifies `req`, sent to `url`, against every key.
pub fn verify(
    keys: &[&Secret],
    url: &str,
    req: &Request<'_>,
    tolerance_ms: i64,
    now: UnixMillis,
) -> Result<Arc<str>, Reason> {
    let presented = extract::single(req.headers, &SIGNATURE)?.ok_or(Reason::Missing)?;
    let stamp = extract::single(req.headers, &TIMESTAMP)?.ok_or(Reason::Missing)?;
    let tag = keyed::base64_tag(presented, 32)?;
    keyed::fresh(keyed::timestamp_ms(stamp, true)?, now, tolerance_ms)?;
    let decoded = decoded(url);
    let mut urls = vec![url];
    if decoded != url {
        urls.push(&decoded);
    }
    let messages: Vec<Vec<&[u8]>> = urls
        .iter()
        .map(|u| vec![req.method.as_bytes(), u.as_bytes(), req.body, stamp])
        .collect();
    keyed::find(keys, Algorithm::Sha256, &messages, &[tag]).ok_or(Reason::Invalid)
}

/// The two headers HubSpot attaches; `timestamp` in Unix seconds (milliseconds when 13+ digits).
pub fn sign(key: &[u8], method: &str, url: &str, body: &[u8], timestamp: &str) -> Signed {
    let ms = match timestamp.len() {
        n if n >= 13 => timestamp.to_owned(),
        _ => format!("{timestamp}000"),
    };
    let parts: [&[u8]; 4] = [method.as_bytes(), url.as_bytes(), body, ms.as_bytes()];
    let sig = keyed::base64_mac(Algorithm::Sha256, key, &parts);
    Signed {
        headers: vec![
            ("X-HubSpot-Signature-v3".into(), sig),
            ("X-HubSpot-Request-Timestamp".into(), ms),
        ],
        body: None,
    }
}

/// The `%XX` sequences HubSpot's request-validation guide decodes in the URL before signing.
const DECODED: [(&str, &str); 12] = [
    ("%3A", ":"),
    ("%2F", "/"),
    ("%3F", "?"),
    ("%40", "@"),
    ("%21", "!"),
    ("%24", "$"),
    ("%27", "'"),
    ("%28", "("),
    ("%29", ")"),
    ("%2A", "*"),
    ("%2C", ","),
    ("%3B", ";"),
];

fn decoded(url: &str) -> String {
    let mut out = url.to_owned();
    for (encoded, plain) in DECODED {
        out = out
            .replace(encoded, plain)
            .replace(&encoded.to_ascii_lowercase(), plain);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::secret::{Key, Window};

    #[test]
    fn the_guide_decodes_its_table_only() {
        let url = "https://h/p?a=x%3Ay%2fz%20w&b=%40";
        assert_eq!(decoded(url), "https://h/p?a=x:y/z%20w&b=@");
    }

    #[test]
    fn the_sdk_example_verifies_inside_the_window_only() {
        // hubspot-api-python tests/spec/utils/test_signature.py test_get_signature__v3.
        let secret = Secret::new(
            "k",
            Key::new(b"yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy".to_vec()),
            Window::default(),
        );
        let mut headers = http::HeaderMap::new();
        let sig = "K36dawei4A+QBNolUOqo7s91KQDWQ5MXZ/QufNYuk/Y=";
        headers.insert(SIGNATURE, sig.parse().expect("value"));
        headers.insert(TIMESTAMP, "1693657560000".parse().expect("value"));
        let req = Request {
            chunks: &[],
            method: "POST",
            path: "/webhook_uri",
            headers: &headers,
            body: b"{'example_field':'example_value'}",
        };
        let url = "https://www.example.com/webhook_uri";
        let at = 1_693_657_560_000;
        assert_eq!(
            verify(&[&secret], url, &req, 300_000, at).as_deref(),
            Ok("k")
        );
        let late = verify(&[&secret], url, &req, 300_000, at + 300_001);
        assert_eq!(late, Err(Reason::Stale));
        let signed = sign(
            b"yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy",
            "POST",
            url,
            req.body,
            "1693657560",
        );
        assert_eq!(signed.headers[0].1, sig);
    }
}
