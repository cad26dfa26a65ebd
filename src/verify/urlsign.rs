//! URL-signed schemes: the signature covers the URL the sender called, rebuilt from the route's
//! `public_url` and the path and query exactly as received. Twilio, Plivo and HubSpot have
//! their own files; Mailchimp Transactional (Mandrill) and Favro are short enough to live here.
//! (Square signs `{url}{body}` and is plain data over the generic engine.)
//!
//! - Mandrill: `X-Mandrill-Signature` is base64 HMAC-SHA1 over the webhook URL followed by the
//!   POST parameters sorted by name, each name then its value.
//! - Favro: `X-Favro-Webhook` is base64 HMAC-SHA1 over the body's `payloadId` followed by the
//!   webhook URL; the rest of the body is not signed.

use std::sync::Arc;

use http::HeaderName;
use serde::Deserialize;

use crate::verify::claim::Request;
use crate::verify::extract;
use crate::verify::form::{self, BodyType};
use crate::verify::hubspot;
use crate::verify::keyed::{self, Signed};
use crate::verify::mac::Algorithm;
use crate::verify::plivo;
use crate::verify::reason::Reason;
use crate::verify::secret::{Secret, UnixMillis};
use crate::verify::twilio;

/// Which provider's URL signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// Twilio `X-Twilio-Signature`.
    Twilio,
    /// Plivo signature V3.
    Plivo,
    /// Mailchimp Transactional (Mandrill) `X-Mandrill-Signature`.
    Mandrill,
    /// HubSpot `X-HubSpot-Signature-v3`.
    Hubspot,
    /// Favro `X-Favro-Webhook`.
    Favro,
}

impl Mechanism {
    /// The catalogue's `mechanism` name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "twilio" => Mechanism::Twilio,
            "plivo" => Mechanism::Plivo,
            "mandrill" => Mechanism::Mandrill,
            "hubspot" => Mechanism::Hubspot,
            "favro" => Mechanism::Favro,
            _ => return None,
        })
    }
}

impl Mechanism {
    /// For `verify`'s explanation: each header read with what it must hold, and the signed
    /// bytes.
    pub fn reads(self) -> (&'static [(&'static str, &'static str)], &'static str) {
        match self {
            Mechanism::Twilio => (
                &[
                    ("x-twilio-signature", "base64 HMAC-SHA1 (HMAC-SHA256 when the settings header names it)"),
                    ("x-twilio-webhooks-signature-settings", "optional: `key=<id>,algorithm=HMAC_SHA1|HMAC_SHA256`"),
                    ("content-type", "`application/x-www-form-urlencoded` for a form; a JSON body needs `bodySHA256` in the URL"),
                ],
                "{public_url}{path and query}, then each form parameter name and value sorted by name (URL tried without and with its port)",
            ),
            Mechanism::Plivo => (
                &[
                    ("x-plivo-signature-v3", "comma-separated base64 HMAC-SHA256 tags"),
                    ("x-plivo-signature-ma-v3", "the same under the main account's token"),
                    ("x-plivo-signature-v3-nonce", "the nonce"),
                ],
                "{URL with its query sorted}[? or .]{form parameters sorted, name value}.{nonce}",
            ),
            Mechanism::Hubspot => (
                &[
                    ("x-hubspot-signature-v3", "base64 HMAC-SHA256"),
                    ("x-hubspot-request-timestamp", "Unix milliseconds within the tolerance"),
                ],
                "{method}{public_url}{path and query}{body}{timestamp}",
            ),
            Mechanism::Mandrill => (
                &[
                    ("x-mandrill-signature", "base64 HMAC-SHA1"),
                    ("content-type", "`application/x-www-form-urlencoded`"),
                ],
                "{public_url}{path and query}, then each POST parameter name and value sorted by name",
            ),
            Mechanism::Favro => (
                &[("x-favro-webhook", "base64 HMAC-SHA1")],
                "{payloadId of the JSON body}{public_url}{path and query}",
            ),
        }
    }
}

/// A compiled URL-signed check: the mechanism and the `public_url` the sender calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlSigned {
    /// Which provider.
    pub mechanism: Mechanism,
    /// `https://host[:port]`; the request's path and query follow it in the signed URL.
    pub public_url: String,
}

const MANDRILL_SIGNATURE: HeaderName = HeaderName::from_static("x-mandrill-signature");
const FAVRO_SIGNATURE: HeaderName = HeaderName::from_static("x-favro-webhook");

/// Verifies `input` against every key; the id of the one that matched.
pub fn verify(
    spec: &UrlSigned,
    keys: &[&Secret],
    input: &Request<'_>,
    tolerance_ms: i64,
    now: UnixMillis,
) -> Result<Arc<str>, Reason> {
    let url = format!("{}{}", spec.public_url, input.path);
    let (headers, body) = (input.headers, input.body);
    match spec.mechanism {
        Mechanism::Twilio => twilio::verify(keys, &url, headers, body),
        Mechanism::Plivo => plivo::verify(keys, input.method, &url, headers, body),
        Mechanism::Hubspot => hubspot::verify(keys, &url, input, tolerance_ms, now),
        Mechanism::Mandrill => {
            let presented =
                extract::single(headers, &MANDRILL_SIGNATURE)?.ok_or(Reason::Missing)?;
            let tag = keyed::base64_tag(presented, 20)?;
            let params = mandrill_params(form::body_type(headers)?, body)?;
            let message = vec![url.as_bytes(), params.as_bytes()];
            keyed::find(keys, Algorithm::Sha1, &[message], &[tag]).ok_or(Reason::Invalid)
        }
        Mechanism::Favro => {
            let presented = extract::single(headers, &FAVRO_SIGNATURE)?.ok_or(Reason::Missing)?;
            let tag = keyed::base64_tag(presented, 20)?;
            let id = favro_payload_id(body)?;
            let message = vec![id.as_bytes(), url.as_bytes()];
            keyed::find(keys, Algorithm::Sha1, &[message], &[tag]).ok_or(Reason::Invalid)
        }
    }
}

/// What `sign` needs beyond the key.
#[derive(Clone, Copy, Debug)]
pub struct SignInput<'a> {
    /// The method.
    pub method: &'a str,
    /// The full URL the sender calls.
    pub url: &'a str,
    /// The body (a form for Twilio, Plivo and Mandrill).
    pub body: &'a [u8],
    /// Unix seconds (or milliseconds, 13+ digits) as given.
    pub timestamp: &'a str,
    /// A nonce or id (Plivo's nonce).
    pub id: &'a str,
}

/// The headers the provider attaches to `input`, signed with `key`.
pub fn sign(mechanism: Mechanism, key: &[u8], input: &SignInput<'_>) -> Result<Signed, String> {
    let (url, body) = (input.url, input.body);
    let header = |name: &str, parts: &[&[u8]], algorithm| Signed {
        headers: vec![(name.to_owned(), keyed::base64_mac(algorithm, key, parts))],
        body: None,
    };
    Ok(match mechanism {
        Mechanism::Twilio => twilio::sign(key, url, body),
        Mechanism::Plivo => plivo::sign(key, input.method, url, body, input.id)?,
        Mechanism::Hubspot => hubspot::sign(key, input.method, url, body, input.timestamp),
        Mechanism::Mandrill => {
            let params = mandrill_params(BodyType::Form, body).map_err(|_| {
                "a Mandrill body is a form that names each parameter once".to_owned()
            })?;
            let mut signed = header(
                "X-Mandrill-Signature",
                &[url.as_bytes(), params.as_bytes()],
                Algorithm::Sha1,
            );
            signed.headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
            signed
        }
        Mechanism::Favro => {
            let id = favro_payload_id(body).map_err(|_| {
                "Favro signs the body's `payloadId`: give a JSON body with one".to_owned()
            })?;
            header(
                "X-Favro-Webhook",
                &[id.as_bytes(), url.as_bytes()],
                Algorithm::Sha1,
            )
        }
    })
}

/// The POST parameters, sorted by name, each name then its value. A repeated name (PHP, which
/// Mandrill's own example uses, keeps only one) or a body that is not a form is not what
/// Mandrill signs.
fn mandrill_params(body_type: BodyType, body: &[u8]) -> Result<String, Reason> {
    let mut pairs = match body_type {
        BodyType::Form => form::pairs(body),
        _ if body.is_empty() => Vec::new(),
        _ => return Err(Reason::Invalid),
    };
    pairs.sort_unstable();
    if pairs.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(Reason::Malformed);
    }
    Ok(pairs.into_iter().map(|(k, v)| k + &v).collect())
}

/// Favro's body: only `payloadId` is read, and it must be there once.
#[derive(Deserialize)]
struct FavroBody {
    #[serde(rename = "payloadId")]
    payload_id: Option<String>,
}

fn favro_payload_id(body: &[u8]) -> Result<String, Reason> {
    let parsed: FavroBody = serde_json::from_slice(body).map_err(|_| Reason::Malformed)?;
    parsed.payload_id.ok_or(Reason::Missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_names_parse() {
        assert_eq!(Mechanism::parse("twilio"), Some(Mechanism::Twilio));
        assert_eq!(Mechanism::parse("mandrill"), Some(Mechanism::Mandrill));
        assert_eq!(Mechanism::parse("square"), None);
    }

    #[test]
    fn mandrill_params_sort_and_refuse_repeats_and_non_forms() {
        let got = mandrill_params(BodyType::Form, b"mandrill_events=%5B%5D&b=1");
        assert_eq!(got.as_deref(), Ok("b1mandrill_events[]"));
        assert_eq!(
            mandrill_params(BodyType::Form, b"a=1&a=2"),
            Err(Reason::Malformed)
        );
        assert_eq!(mandrill_params(BodyType::Json, b"{}"), Err(Reason::Invalid));
        assert_eq!(mandrill_params(BodyType::Absent, b""), Ok(String::new()));
    }

    #[test]
    fn favro_reads_one_payload_id() {
        assert_eq!(
            favro_payload_id(br#"{"payloadId":"p1","x":1}"#),
            Ok("p1".into())
        );
        assert_eq!(favro_payload_id(br#"{"x":1}"#), Err(Reason::Missing));
        let twice = br#"{"payloadId":"a","payloadId":"b"}"#;
        assert_eq!(favro_payload_id(twice), Err(Reason::Malformed));
        assert_eq!(favro_payload_id(b"not json"), Err(Reason::Malformed));
    }
}
