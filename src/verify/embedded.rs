//! Body-embedded schemes: the signature travels inside the body, which is parsed only to read
//! it and is still forwarded byte for byte. Adyen, Braintree and Treezor have their own files;
//! Mailgun lives here:
//!
//! - Mailgun: `timestamp`, `token` and `signature` sit in the JSON body's `signature` object
//!   (webhooks) or as form or multipart fields (legacy webhooks, routes); `signature` is the
//!   lowercase hex HMAC-SHA256 of timestamp + token under the HTTP webhook signing key, and the
//!   timestamp (Unix seconds) must be within the tolerance. Mailgun signs only these two
//!   values, not the event: replay protection keyed on the token is what binds a delivery.
//!
//! A signature field given twice (a repeated form field, a duplicate JSON key) is `Malformed`:
//! hookguard will not guess which copy the receiver reads.

use std::sync::Arc;

use http::HeaderMap;
use serde::Deserialize;

use crate::verify::adyen;
use crate::verify::braintree;
use crate::verify::form::{self, BodyType};
use crate::verify::keyed::{self, Signed};
use crate::verify::mac::Algorithm;
use crate::verify::reason::Reason;
use crate::verify::secret::{Secret, UnixMillis};
use crate::verify::treezor;

/// Which provider's body-embedded signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// Mailgun `signature: {timestamp, token, signature}`.
    Mailgun,
    /// Adyen Standard notifications: `additionalData.hmacSignature` per item.
    AdyenNotification,
    /// Braintree `bt_signature` / `bt_payload` form fields.
    Braintree,
    /// Treezor `object_payload_signature`.
    Treezor,
}

impl Mechanism {
    /// The catalogue's `mechanism` name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "mailgun" => Mechanism::Mailgun,
            "adyen-notification" => Mechanism::AdyenNotification,
            "braintree" => Mechanism::Braintree,
            "treezor" => Mechanism::Treezor,
            _ => return None,
        })
    }

    /// Why `key` cannot be one of this scheme's secrets (Braintree's is
    /// `public_key:private_key`); the message never quotes the key.
    pub fn key_problem(self, key: &[u8]) -> Option<&'static str> {
        match self {
            Mechanism::Braintree if braintree::keys(key).is_none() => Some(
                "a braintree secret is `public_key:private_key`, as in the Braintree control panel",
            ),
            _ => None,
        }
    }
}

impl Mechanism {
    /// For `verify`'s explanation: the body fields read with what they must hold, and the
    /// signed bytes.
    pub fn reads(self) -> (&'static [(&'static str, &'static str)], &'static str) {
        match self {
            Mechanism::Mailgun => (
                &[
                    ("signature.timestamp (JSON) or timestamp (form)", "Unix seconds within the tolerance"),
                    ("signature.token or token", "the token"),
                    ("signature.signature or signature", "lowercase hex HMAC-SHA256"),
                ],
                "{timestamp}{token}",
            ),
            Mechanism::AdyenNotification => (
                &[("notificationItems[].NotificationRequestItem.additionalData.hmacSignature", "base64 HMAC-SHA256 under the hex key, in every item")],
                "pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success",
            ),
            Mechanism::Braintree => (
                &[
                    ("bt_signature (form)", "`public_key|lowercase hex HMAC-SHA1` pairs joined by `&`"),
                    ("bt_payload (form)", "base64 notification XML"),
                ],
                "{bt_payload} (or with a newline), keyed with SHA-1 of the private key",
            ),
            Mechanism::Treezor => (
                &[
                    ("object_payload_signature", "base64 HMAC-SHA256"),
                    ("object_payload", "the signed object"),
                ],
                "object_payload written compact, `/` as `\\/`, non-ASCII as \\uXXXX",
            ),
        }
    }
}

/// Verifies the signature carried in `body` against every key; the id of the one that matched.
pub fn verify(
    mechanism: Mechanism,
    keys: &[&Secret],
    headers: &HeaderMap,
    body: &[u8],
    tolerance_ms: i64,
    now: UnixMillis,
) -> Result<Arc<str>, Reason> {
    match mechanism {
        Mechanism::Mailgun => {
            let fields = mailgun_fields(form::body_type(headers)?, body)?;
            let tag = keyed::hex_tag(fields.signature.as_bytes(), 32)?;
            let at = keyed::timestamp_ms(fields.timestamp.as_bytes(), false)?;
            keyed::fresh(at, now, tolerance_ms)?;
            let message = vec![fields.timestamp.as_bytes(), fields.token.as_bytes()];
            keyed::find(keys, Algorithm::Sha256, &[message], &[tag]).ok_or(Reason::Invalid)
        }
        Mechanism::AdyenNotification => adyen::verify(keys, body),
        Mechanism::Braintree => braintree::verify(keys, form::body_type(headers)?, body),
        Mechanism::Treezor => treezor::verify(keys, body),
    }
}

/// `body` with its signature fields filled in as the provider sends it (Mailgun's `timestamp`
/// and `token` taken from `timestamp` and `id`), and the `Content-Type` it goes with.
pub fn sign(
    mechanism: Mechanism,
    key: &[u8],
    body: &[u8],
    timestamp: &str,
    id: &str,
) -> Result<Signed, String> {
    match mechanism {
        Mechanism::Mailgun => mailgun_sign(key, body, timestamp, id),
        Mechanism::AdyenNotification => adyen::sign(key, body),
        Mechanism::Braintree => braintree::sign(key, body),
        Mechanism::Treezor => treezor::sign(key, body),
    }
}

/// Mailgun's three fields, as text.
#[derive(Debug, Default, PartialEq, Eq)]
struct MailgunFields {
    timestamp: String,
    token: String,
    signature: String,
}

/// A JSON string or number (Mailgun sends the timestamp as a string; a number reads the same).
#[derive(Deserialize)]
#[serde(untagged)]
enum Text {
    String(String),
    Number(serde_json::Number),
}

#[derive(Deserialize)]
struct MailgunJson {
    signature: Option<MailgunJsonFields>,
}

#[derive(Deserialize)]
struct MailgunJsonFields {
    timestamp: Option<Text>,
    token: Option<Text>,
    signature: Option<Text>,
}

fn mailgun_fields(body_type: BodyType, body: &[u8]) -> Result<MailgunFields, Reason> {
    let json = match body_type {
        BodyType::Json => true,
        BodyType::Absent | BodyType::Other => body.trim_ascii_start().starts_with(b"{"),
        BodyType::Form | BodyType::Multipart(_) => false,
    };
    if json {
        let parsed: MailgunJson = serde_json::from_slice(body).map_err(|_| Reason::Malformed)?;
        let f = parsed.signature.ok_or(Reason::Missing)?;
        let text = |t: Option<Text>| match t.ok_or(Reason::Missing)? {
            Text::String(s) => Ok(s),
            Text::Number(n) => Ok(n.to_string()),
        };
        return Ok(MailgunFields {
            timestamp: text(f.timestamp)?,
            token: text(f.token)?,
            signature: text(f.signature)?,
        });
    }
    let pairs: Vec<(String, Vec<u8>)> = match body_type {
        BodyType::Multipart(boundary) => form::multipart_fields(body, &boundary)?,
        _ => form::pairs(body)
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect(),
    };
    let field = |name: &str| -> Result<String, Reason> {
        let value = form::single(&pairs, name)?.ok_or(Reason::Missing)?;
        String::from_utf8(value.to_vec()).map_err(|_| Reason::Malformed)
    };
    Ok(MailgunFields {
        timestamp: field("timestamp")?,
        token: field("token")?,
        signature: field("signature")?,
    })
}

/// A JSON body (or none) gets `signature: {timestamp, token, signature}`; a form body gets the
/// three fields, replacing any it had.
fn mailgun_sign(key: &[u8], body: &[u8], timestamp: &str, token: &str) -> Result<Signed, String> {
    let tag = crate::verify::mac::PreparedMac::new(Algorithm::Sha256, key)
        .compute(&[timestamp.as_bytes(), token.as_bytes()]);
    let signature = hex::encode(tag.as_bytes());
    let trimmed = body.trim_ascii();
    let (content_type, out) = if trimmed.is_empty() || trimmed.starts_with(b"{") {
        let mut value: serde_json::Value = if trimmed.is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?
        };
        let object = value
            .as_object_mut()
            .ok_or("a Mailgun JSON body is an object")?;
        object.insert(
            "signature".into(),
            serde_json::json!({"timestamp": timestamp, "token": token, "signature": signature}),
        );
        (
            "application/json",
            serde_json::to_vec(&value).map_err(|e| e.to_string())?,
        )
    } else {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form::pairs(body) {
            if !["timestamp", "token", "signature"].contains(&k.as_str()) {
                out.append_pair(&k, &v);
            }
        }
        out.append_pair("timestamp", timestamp);
        out.append_pair("token", token);
        out.append_pair("signature", &signature);
        (
            "application/x-www-form-urlencoded",
            out.finish().into_bytes(),
        )
    };
    Ok(Signed {
        headers: vec![("Content-Type".into(), content_type.into())],
        body: Some(out),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(t: &str, k: &str, s: &str) -> MailgunFields {
        MailgunFields {
            timestamp: t.into(),
            token: k.into(),
            signature: s.into(),
        }
    }

    #[test]
    fn mailgun_fields_come_from_json_form_or_multipart() {
        let json =
            br#"{"signature":{"timestamp":"1","token":"t","signature":"s"},"event-data":{}}"#;
        assert_eq!(
            mailgun_fields(BodyType::Json, json),
            Ok(fields("1", "t", "s"))
        );
        let numeric = br#"{"signature":{"timestamp":1,"token":"t","signature":"s"}}"#;
        assert_eq!(
            mailgun_fields(BodyType::Absent, numeric),
            Ok(fields("1", "t", "s"))
        );
        let form = b"timestamp=1&token=t&signature=s&recipient=a%40b";
        assert_eq!(
            mailgun_fields(BodyType::Form, form),
            Ok(fields("1", "t", "s"))
        );
        let multi = b"--b\r\nContent-Disposition: form-data; name=\"timestamp\"\r\n\r\n1\r\n--b\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nt\r\n--b\r\nContent-Disposition: form-data; name=\"signature\"\r\n\r\ns\r\n--b--";
        let parsed = mailgun_fields(BodyType::Multipart("b".into()), multi);
        assert_eq!(parsed, Ok(fields("1", "t", "s")));
    }

    #[test]
    fn mailgun_refuses_missing_and_repeated_fields() {
        assert_eq!(
            mailgun_fields(BodyType::Json, br#"{"event-data":{}}"#),
            Err(Reason::Missing)
        );
        let twice = br#"{"signature":{"token":"a","token":"b","timestamp":"1","signature":"s"}}"#;
        assert_eq!(
            mailgun_fields(BodyType::Json, twice),
            Err(Reason::Malformed)
        );
        let form = b"timestamp=1&token=t&token=u&signature=s";
        assert_eq!(mailgun_fields(BodyType::Form, form), Err(Reason::Malformed));
        assert_eq!(
            mailgun_fields(BodyType::Form, b"timestamp=1"),
            Err(Reason::Missing)
        );
    }

    #[test]
    fn mailgun_sign_fills_json_and_form_bodies() {
        let signed = mailgun_sign(b"key", br#"{"event-data":{"event":"opened"}}"#, "1", "tok")
            .expect("json");
        let body = signed.body.expect("a body");
        let parsed = mailgun_fields(BodyType::Json, &body).expect("fields");
        assert_eq!(
            (parsed.timestamp.as_str(), parsed.token.as_str()),
            ("1", "tok")
        );
        let signed = mailgun_sign(b"key", b"recipient=a&token=old", "1", "tok").expect("form");
        let body = signed.body.expect("a body");
        let parsed = mailgun_fields(BodyType::Form, &body).expect("fields");
        assert_eq!(parsed.token, "tok");
        assert_eq!(
            parsed.signature,
            hex::encode(
                crate::verify::mac::PreparedMac::new(Algorithm::Sha256, b"key")
                    .compute(&[b"1tok"])
                    .as_bytes()
            )
        );
    }
}
