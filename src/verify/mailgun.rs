//! Mailgun: `timestamp`, `token` and `signature` sit in the JSON body's `signature` object
//! (webhooks) or as form or multipart fields (legacy webhooks, Routes); `signature` is the
//! lowercase hex HMAC-SHA256 of timestamp + token under the HTTP webhook signing key, and the
//! timestamp (Unix seconds) must be within the tolerance. Mailgun signs only these two values,
//! not the event: replay protection keyed on the signature is what binds a delivery.

use std::sync::Arc;

use serde::Deserialize;

use crate::verify::form::{self, BodyType};
use crate::verify::keyed::{self, Signed};
use crate::verify::mac::{Algorithm, PreparedMac};
use crate::verify::reason::Reason;
use crate::verify::secret::{Secret, UnixMillis};

/// Verifies the fields of a body of `body_type`.
pub fn verify(
    keys: &[&Secret],
    body_type: BodyType,
    body: &[u8],
    tolerance_ms: i64,
    now: UnixMillis,
) -> Result<Arc<str>, Reason> {
    let fields = fields(body_type, body)?;
    let tag = keyed::hex_tag(fields.signature.as_bytes(), 32)?;
    let at = keyed::timestamp_ms(fields.timestamp.as_bytes(), false)?;
    keyed::fresh(at, now, tolerance_ms)?;
    let message = vec![fields.timestamp.as_bytes(), fields.token.as_bytes()];
    keyed::find(keys, Algorithm::Sha256, &[message], &[tag]).ok_or(Reason::Invalid)
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

fn fields(body_type: BodyType, body: &[u8]) -> Result<MailgunFields, Reason> {
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

/// The body with its signature: a JSON body (or none) gets `signature: {timestamp, token,
/// signature}`; a form body gets the three fields, replacing any it had.
pub fn sign(key: &[u8], body: &[u8], timestamp: &str, token: &str) -> Result<Signed, String> {
    let tag =
        PreparedMac::new(Algorithm::Sha256, key).compute(&[timestamp.as_bytes(), token.as_bytes()]);
    let fields = [
        ("timestamp", timestamp),
        ("token", token),
        ("signature", &hex::encode(tag.as_bytes())),
    ];
    let trimmed = body.trim_ascii();
    let (content_type, out) = if trimmed.is_empty() || trimmed.starts_with(b"{") {
        ("application/json", json_with(trimmed, &fields)?)
    } else {
        (
            "application/x-www-form-urlencoded",
            form_with(body, &fields),
        )
    };
    Ok(Signed {
        headers: vec![("Content-Type".into(), content_type.into())],
        body: Some(out),
    })
}

/// A JSON object (empty text: `{}`) with `signature` set to `fields`.
fn json_with(body: &[u8], fields: &[(&str, &str); 3]) -> Result<Vec<u8>, String> {
    let mut value: serde_json::Value = if body.is_empty() {
        serde_json::json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?
    };
    let object = value
        .as_object_mut()
        .ok_or("a Mailgun JSON body is an object")?;
    let signature: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).into()))
        .collect();
    object.insert("signature".into(), signature.into());
    serde_json::to_vec(&value).map_err(|e| e.to_string())
}

/// The form with `fields` appended in place of any it had.
fn form_with(body: &[u8], fields: &[(&str, &str); 3]) -> Vec<u8> {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form::pairs(body) {
        if !fields.iter().any(|(name, _)| *name == k) {
            out.append_pair(&k, &v);
        }
    }
    for (name, value) in fields {
        out.append_pair(name, value);
    }
    out.finish().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(t: &str, k: &str, s: &str) -> MailgunFields {
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
        assert_eq!(fields(BodyType::Json, json), Ok(want("1", "t", "s")));
        let numeric = br#"{"signature":{"timestamp":1,"token":"t","signature":"s"}}"#;
        assert_eq!(fields(BodyType::Absent, numeric), Ok(want("1", "t", "s")));
        let form = b"timestamp=1&token=t&signature=s&recipient=a%40b";
        assert_eq!(fields(BodyType::Form, form), Ok(want("1", "t", "s")));
        let multi = b"--b\r\nContent-Disposition: form-data; name=\"timestamp\"\r\n\r\n1\r\n--b\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nt\r\n--b\r\nContent-Disposition: form-data; name=\"signature\"\r\n\r\ns\r\n--b--";
        let parsed = fields(BodyType::Multipart("b".into()), multi);
        assert_eq!(parsed, Ok(want("1", "t", "s")));
    }

    #[test]
    fn mailgun_refuses_missing_and_repeated_fields() {
        assert_eq!(
            fields(BodyType::Json, br#"{"event-data":{}}"#),
            Err(Reason::Missing)
        );
        let twice = br#"{"signature":{"token":"a","token":"b","timestamp":"1","signature":"s"}}"#;
        assert_eq!(fields(BodyType::Json, twice), Err(Reason::Malformed));
        let form = b"timestamp=1&token=t&token=u&signature=s";
        assert_eq!(fields(BodyType::Form, form), Err(Reason::Malformed));
        assert_eq!(fields(BodyType::Form, b"timestamp=1"), Err(Reason::Missing));
    }

    #[test]
    fn mailgun_sign_fills_json_and_form_bodies() {
        let signed =
            sign(b"key", br#"{"event-data":{"event":"opened"}}"#, "1", "tok").expect("json");
        let body = signed.body.expect("a body");
        let parsed = fields(BodyType::Json, &body).expect("fields");
        assert_eq!(
            (parsed.timestamp.as_str(), parsed.token.as_str()),
            ("1", "tok")
        );
        let signed = sign(b"key", b"recipient=a&token=old", "1", "tok").expect("form");
        let body = signed.body.expect("a body");
        let parsed = fields(BodyType::Form, &body).expect("fields");
        assert_eq!(parsed.token, "tok");
        assert_eq!(
            parsed.signature,
            hex::encode(
                PreparedMac::new(Algorithm::Sha256, b"key")
                    .compute(&[b"1tok"])
                    .as_bytes()
            )
        );
    }
}
