//! Treezor webhooks: the JSON body's `object_payload_signature` is the base64 HMAC-SHA256,
//! under the webhook secret, of `object_payload` written compact with `/` escaped as `\/` and
//! every character outside `0x20..=0x7F` as a `\uXXXX` escape (UTF-16 units, lowercase hex),
//! per Treezor's integrity-check guide (its JavaScript and Python snippets agree on this).
//! Treezor sends the body as `text/plain`, so it is read as JSON whatever its type.
//!
//! The canonical text is rebuilt from the payload's own bytes: key order and number literals
//! stay as received, only whitespace and string escapes are rewritten. The body's other
//! fields (`webhook`, `object_id`, `webhook_created_at`, ...) are not signed by Treezor.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::verify::keyed::{self, Signed};
use crate::verify::mac::Algorithm;
use crate::verify::reason::Reason;
use crate::verify::secret::Secret;

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow)]
    object_payload: Option<&'a RawValue>,
    object_payload_signature: Option<String>,
}

/// Verifies `object_payload_signature` over `object_payload`.
pub fn verify(keys: &[&Secret], body: &[u8]) -> Result<Arc<str>, Reason> {
    let parsed: Body<'_> = serde_json::from_slice(body).map_err(|_| Reason::Malformed)?;
    let presented = parsed.object_payload_signature.ok_or(Reason::Missing)?;
    let payload = parsed.object_payload.ok_or(Reason::Missing)?;
    let tag = keyed::base64_tag(presented.as_bytes(), 32)?;
    let text = canonical(payload.get());
    keyed::find(keys, Algorithm::Sha256, &[vec![text.as_bytes()]], &[tag]).ok_or(Reason::Invalid)
}

/// The body with `object_payload_signature` set (re-serialized with sorted keys).
pub fn sign(key: &[u8], body: &[u8]) -> Result<Signed, String> {
    let mut value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let object = value
        .as_object_mut()
        .ok_or("a Treezor body is a JSON object")?;
    let payload = object
        .get("object_payload")
        .ok_or("a Treezor body carries `object_payload`")?;
    let text = canonical(&serde_json::to_string(payload).map_err(|e| e.to_string())?);
    let sig = keyed::base64_mac(Algorithm::Sha256, key, &[text.as_bytes()]);
    object.insert("object_payload_signature".into(), sig.into());
    Ok(Signed {
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: Some(serde_json::to_vec(&value).map_err(|e| e.to_string())?),
    })
}

/// Valid JSON text rewritten compact, strings re-escaped the way Treezor signs them.
pub fn canonical(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let mut chars = json.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {}
            '"' => {
                out.push('"');
                for unit in string_units(&mut chars) {
                    escape(&mut out, unit);
                }
                out.push('"');
            }
            other => out.push(other),
        }
    }
    out
}

/// The UTF-16 units of a JSON string's contents, read up to its closing quote.
fn string_units(chars: &mut std::str::Chars<'_>) -> Vec<u16> {
    let mut units = Vec::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('b') => units.push(0x08),
                Some('f') => units.push(0x0c),
                Some('n') => units.push(0x0a),
                Some('r') => units.push(0x0d),
                Some('t') => units.push(0x09),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    units.push(u16::from_str_radix(&hex, 16).unwrap_or(0xfffd));
                }
                Some(other) => units.extend(other.encode_utf16(&mut [0; 2]).iter()),
                None => break,
            },
            other => units.extend(other.encode_utf16(&mut [0; 2]).iter()),
        }
    }
    units
}

fn escape(out: &mut String, unit: u16) {
    match unit {
        0x22 => out.push_str("\\\""),
        0x5c => out.push_str("\\\\"),
        0x2f => out.push_str("\\/"),
        0x08 => out.push_str("\\b"),
        0x0c => out.push_str("\\f"),
        0x0a => out.push_str("\\n"),
        0x0d => out.push_str("\\r"),
        0x09 => out.push_str("\\t"),
        0x20..=0x7f => out.push(char::from(unit as u8)),
        _ => out.push_str(&format!("\\u{unit:04x}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::secret::{Key, Window};

    #[test]
    fn canonical_text_escapes_slashes_and_non_ascii_and_drops_whitespace() {
        let raw =
            "{ \"b\": \"é/x\\u00e8\",\n \"a\": [1.50, -2e3, true, null], \"e\": \"😀\\n\\\"\\/\" }";
        let want = r#"{"b":"\u00e9\/x\u00e8","a":[1.50,-2e3,true,null],"e":"\ud83d\ude00\n\"\/"}"#;
        assert_eq!(canonical(raw), want);
        assert_eq!(canonical("\"\u{7f}\u{1}\""), "\"\u{7f}\\u0001\"");
    }

    #[test]
    fn a_signed_body_verifies_and_any_payload_change_does_not() {
        let body = r#"{"webhook":"card.update","object_payload":{"cards":[{"cardId":"1","label":"Café / bar"}]},"object_id":"1"}"#;
        let signed = sign(b"whsecret", body.as_bytes()).expect("signs");
        let out = signed.body.expect("body");
        let secret = Secret::new("t", Key::new(b"whsecret".to_vec()), Window::default());
        assert_eq!(verify(&[&secret], &out).as_deref(), Ok("t"));
        let changed = String::from_utf8_lossy(&out).replace("Caf\u{e9}", "Cafe");
        assert_eq!(verify(&[&secret], changed.as_bytes()), Err(Reason::Invalid));
        let twice = br#"{"object_payload":{},"object_payload":{},"object_payload_signature":"x"}"#;
        assert_eq!(verify(&[&secret], twice), Err(Reason::Malformed));
        assert_eq!(
            verify(&[&secret], br#"{"object_payload":{}}"#),
            Err(Reason::Missing)
        );
    }
}
