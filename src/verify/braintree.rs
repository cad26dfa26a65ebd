//! Braintree webhooks, as braintree_python's `WebhookNotificationGateway` verifies them: the
//! form fields `bt_signature` (`public_key|hex` pairs joined by `&`) and `bt_payload` (base64
//! XML); the pair naming the configured public key must hold the lowercase hex HMAC-SHA1 of
//! the payload (or of the payload plus a newline), keyed with SHA-1 of the private key. A
//! secret is `public_key:private_key`.
//!
//! The `bt_challenge` handshake (a GET answered `public_key|hex HMAC of the challenge`) is the
//! pure [`braintree_challenge`] here; answering it is the handshake layer's job.

use std::sync::Arc;

use sha1::{Digest, Sha1};

use crate::verify::form::{self, BodyType};
use crate::verify::keyed::{self, Signed};
use crate::verify::mac::{Algorithm, PreparedMac};
use crate::verify::reason::Reason;
use crate::verify::secret::Secret;

/// `public_key:private_key` split at the first colon; both non-empty UTF-8.
pub fn keys(secret: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(secret).ok()?;
    let (public, private) = text.split_once(':')?;
    (!public.is_empty() && !private.is_empty()).then_some((public, private))
}

/// The answer to a `bt_challenge`: `public_key|hex HMAC-SHA1(SHA-1(private_key), challenge)`,
/// as braintree_python's `WebhookNotificationGateway.verify` returns it. Check the challenge
/// with [`valid_challenge`] first, as the SDK does.
pub fn braintree_challenge(public_key: &str, private_key: &str, challenge: &str) -> String {
    format!(
        "{public_key}|{}",
        hmac_hex(private_key, challenge.as_bytes())
    )
}

/// The SDK accepts only challenges matching `^[a-f0-9]{20,32}$`.
pub fn valid_challenge(challenge: &str) -> bool {
    (20..=32).contains(&challenge.len())
        && challenge
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn hmac_hex(private_key: &str, content: &[u8]) -> String {
    let key = Sha1::digest(private_key.as_bytes());
    hex::encode(
        PreparedMac::new(Algorithm::Sha1, &key)
            .compute(&[content])
            .as_bytes(),
    )
}

/// Verifies a form-encoded Braintree notification.
pub fn verify(secrets: &[&Secret], body_type: BodyType, body: &[u8]) -> Result<Arc<str>, Reason> {
    if !matches!(body_type, BodyType::Form | BodyType::Absent) {
        return Err(Reason::Malformed);
    }
    let pairs = form::pairs(body);
    let signature = form::single(&pairs, "bt_signature")?.ok_or(Reason::Missing)?;
    let payload = form::single(&pairs, "bt_payload")?.ok_or(Reason::Missing)?;
    let legal = |b: &u8| b.is_ascii_alphanumeric() || b"+=/\n".contains(b);
    if !payload.iter().all(legal) {
        return Err(Reason::Malformed);
    }
    let signature = String::from_utf8_lossy(signature);
    let with_newline = [payload, b"\n"].concat();
    for secret in secrets {
        let Some((public, private)) = keys(secret.key.expose()) else {
            continue;
        };
        let Some(presented) = matching_signature(&signature, public) else {
            continue;
        };
        let Ok(tag) = keyed::hex_tag(presented.as_bytes(), 20) else {
            continue;
        };
        let key = Sha1::digest(private.as_bytes());
        let mac = PreparedMac::new(Algorithm::Sha1, &key);
        if [payload, with_newline.as_slice()]
            .iter()
            .any(|p| mac.compute(&[p]).matches(&tag))
        {
            return Ok(secret.id.clone());
        }
    }
    Err(Reason::Invalid)
}

/// The signature of the first `public_key|signature` pair naming `public`.
fn matching_signature<'a>(signature: &'a str, public: &str) -> Option<&'a str> {
    signature.split('&').find_map(|pair| {
        let mut parts = pair.split('|');
        let (key, sig) = (parts.next()?, parts.next()?);
        (parts.next().is_none() && key == public).then_some(sig)
    })
}

/// The form Braintree posts: the body's `bt_payload` (or, when the body has none, the body as
/// the notification XML, base64-encoded as the SDK's `WebhookTesting` does) and its signature.
pub fn sign(secret: &[u8], body: &[u8]) -> Result<Signed, String> {
    let (public, private) = keys(secret).ok_or("a braintree secret is `public_key:private_key`")?;
    let pairs = form::pairs(body);
    let payload = match pairs.iter().find(|(k, _)| k == "bt_payload") {
        Some((_, p)) => p.clone(),
        None => encodebytes(body),
    };
    let signature = format!("{public}|{}", hmac_hex(private, payload.as_bytes()));
    let form = form_urlencoded::Serializer::new(String::new())
        .append_pair("bt_signature", &signature)
        .append_pair("bt_payload", &payload)
        .finish();
    Ok(Signed {
        headers: vec![(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: Some(form.into_bytes()),
    })
}

/// Python's `base64.encodebytes`: lines of 76 characters, each ending in a newline.
fn encodebytes(bytes: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(text.len() + text.len() / 76 + 1);
    for line in text.as_bytes().chunks(76) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::secret::{Key, Window};

    const SECRET: &str = "integration_public_key:integration_private_key";

    fn secret() -> Secret {
        Secret::new(
            "bt",
            Key::new(SECRET.as_bytes().to_vec()),
            Window::default(),
        )
    }

    #[test]
    fn the_sdk_challenge_answer_is_reproduced() {
        // braintree_python tests/unit/test_webhooks.py test_verify_returns_a_correct_challenge_response
        let answer = braintree_challenge(
            "integration_public_key",
            "integration_private_key",
            "20f9f8ed05f77439fe955c977e4c8a53",
        );
        assert_eq!(
            answer,
            "integration_public_key|d9b899556c966b3f06945ec21311865d35df3ce4"
        );
        assert!(valid_challenge("20f9f8ed05f77439fe955c977e4c8a53"));
        assert!(!valid_challenge("bad challenge"));
        assert!(!valid_challenge("20F9F8ED05F77439FE955C977E4C8A53"));
        assert!(!valid_challenge("20f9f8ed05"));
    }

    #[test]
    fn signed_forms_verify_and_other_public_keys_do_not() {
        let signed = sign(
            SECRET.as_bytes(),
            b"<notification><kind>check</kind></notification>",
        )
        .expect("signs");
        let body = signed.body.expect("form");
        assert_eq!(
            verify(&[&secret()], BodyType::Form, &body).as_deref(),
            Ok("bt")
        );
        let other = Secret::new(
            "o",
            Key::new(b"other_public_key:integration_private_key".to_vec()),
            Window::default(),
        );
        assert_eq!(
            verify(&[&other], BodyType::Form, &body),
            Err(Reason::Invalid)
        );
        assert_eq!(
            verify(&[&secret()], BodyType::Json, &body),
            Err(Reason::Malformed)
        );
        let illegal = b"bt_signature=integration_public_key%7Cab&bt_payload=a%20b";
        assert_eq!(
            verify(&[&secret()], BodyType::Form, illegal),
            Err(Reason::Malformed)
        );
        assert_eq!(
            verify(&[&secret()], BodyType::Form, b"bt_payload=abc"),
            Err(Reason::Missing)
        );
    }

    #[test]
    fn secrets_split_at_the_first_colon() {
        assert_eq!(keys(b"pub:priv:x"), Some(("pub", "priv:x")));
        assert_eq!(keys(b"pub"), None);
        assert_eq!(keys(b":priv"), None);
        assert_eq!(matching_signature("a|1&b|2&b|3", "b"), Some("2"));
        assert_eq!(matching_signature("a|1|x&a|2", "a"), Some("2"));
        assert_eq!(matching_signature("a|1", "c"), None);
    }

    #[test]
    fn encodebytes_wraps_at_76_like_python() {
        let text = encodebytes(&[0u8; 60]);
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        assert_eq!(
            lines.iter().map(|l| l.len()).collect::<Vec<_>>(),
            vec![76, 4]
        );
        assert!(text.ends_with('\n'));
    }
}
