//! What the code-defined mechanisms (URL-signed and body-embedded) share: trying every active
//! secret on the bytes a provider signs, strict decoding of a presented tag, and what a sender
//! attaches when it signs.
//!
//! These mechanisms key their MAC per request from the secret's bytes (a provider such as
//! Twilio picks the hash per delivery, Braintree derives its key), which costs two hash blocks
//! per secret: nothing next to the parsing they do.

use std::sync::Arc;

use base64::Engine;

use crate::verify::mac::{Algorithm, PreparedMac};
use crate::verify::reason::Reason;
use crate::verify::secret::Secret;

/// What a sender attaches for one signature: headers, and for a body-embedded scheme the body
/// with its signature fields filled in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signed {
    /// `(Name, value)` headers, as the provider writes the names.
    pub headers: Vec<(String, String)>,
    /// The body to send instead of the one given, when the signature travels inside it.
    pub body: Option<Vec<u8>>,
}

/// The id of the first secret whose MAC over any of `messages` (each the concatenation of its
/// parts) equals any of `presented`; every comparison is constant-time.
pub fn find(
    keys: &[&Secret],
    algorithm: Algorithm,
    messages: &[Vec<&[u8]>],
    presented: &[Vec<u8>],
) -> Option<Arc<str>> {
    keys.iter().find_map(|secret| {
        let mac = PreparedMac::new(algorithm, secret.key.expose());
        let matched = messages.iter().any(|parts| {
            let tag = mac.compute(parts);
            presented.iter().any(|p| tag.matches(p))
        });
        matched.then(|| secret.id.clone())
    })
}

/// A standard, padded base64 tag of exactly `len` bytes (as the providers' SDKs compare the
/// base64 text): anything else is `Malformed`.
pub fn base64_tag(text: &[u8], len: usize) -> Result<Vec<u8>, Reason> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim_ascii())
        .map_err(|_| Reason::Malformed)?;
    if bytes.len() != len {
        return Err(Reason::Malformed);
    }
    Ok(bytes)
}

/// A lowercase hex tag of exactly `len` bytes (the SDKs compare a lowercase hexdigest).
pub fn hex_tag(text: &[u8], len: usize) -> Result<Vec<u8>, Reason> {
    if text.iter().any(u8::is_ascii_uppercase) {
        return Err(Reason::Malformed);
    }
    let bytes = hex::decode(text).map_err(|_| Reason::Malformed)?;
    if bytes.len() != len {
        return Err(Reason::Malformed);
    }
    Ok(bytes)
}

/// The MAC of `parts` under `key`, standard base64: how the senders write their tags.
pub fn base64_mac(algorithm: Algorithm, key: &[u8], parts: &[&[u8]]) -> String {
    let tag = PreparedMac::new(algorithm, key).compute(parts);
    base64::engine::general_purpose::STANDARD.encode(tag.as_bytes())
}

/// A Unix timestamp written as decimal digits, in the unit given, to milliseconds.
pub fn timestamp_ms(text: &[u8], millis: bool) -> Result<i64, Reason> {
    let text = std::str::from_utf8(text.trim_ascii()).map_err(|_| Reason::Malformed)?;
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Reason::Malformed);
    }
    let n: i64 = text.parse().map_err(|_| Reason::Malformed)?;
    if millis {
        Ok(n)
    } else {
        n.checked_mul(1000).ok_or(Reason::Malformed)
    }
}

/// `Stale` when `at` is further than `tolerance_ms` from `now`, either way.
pub fn fresh(at: i64, now: i64, tolerance_ms: i64) -> Result<(), Reason> {
    if now.abs_diff(at) > tolerance_ms.unsigned_abs() {
        return Err(Reason::Stale);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::secret::{Key, Window};

    fn secret(id: &str, key: &str) -> Secret {
        Secret::new(id, Key::new(key.as_bytes().to_vec()), Window::default())
    }

    #[test]
    fn find_names_the_secret_whose_mac_matches_any_message() {
        let (a, b) = (secret("a", "key-a"), secret("b", "key-b"));
        let tag = PreparedMac::new(Algorithm::Sha1, b"key-b").compute(&[b"two"]);
        let messages = vec![vec![b"one".as_slice()], vec![b"t".as_slice(), b"wo"]];
        let presented = vec![tag.as_bytes().to_vec()];
        let found = find(&[&a, &b], Algorithm::Sha1, &messages, &presented);
        assert_eq!(found.as_deref(), Some("b"));
        assert_eq!(find(&[&a], Algorithm::Sha1, &messages, &presented), None);
        assert_eq!(find(&[&b], Algorithm::Sha256, &messages, &presented), None);
    }

    #[test]
    fn tags_decode_strictly() {
        assert_eq!(base64_tag(b" AAAA ", 3), Ok(vec![0, 0, 0]));
        assert_eq!(base64_tag(b"AAAA", 4), Err(Reason::Malformed));
        assert_eq!(base64_tag(b"AAA", 2), Err(Reason::Malformed));
        assert_eq!(hex_tag(b"00ff", 2), Ok(vec![0, 255]));
        assert_eq!(hex_tag(b"00FF", 2), Err(Reason::Malformed));
        assert_eq!(hex_tag(b"00f", 2), Err(Reason::Malformed));
    }

    #[test]
    fn timestamps_are_digits_and_freshness_is_symmetric() {
        assert_eq!(timestamp_ms(b"1767225600", false), Ok(1_767_225_600_000));
        assert_eq!(timestamp_ms(b"1767225600123", true), Ok(1_767_225_600_123));
        assert_eq!(timestamp_ms(b"-1", false), Err(Reason::Malformed));
        assert_eq!(timestamp_ms(b"", true), Err(Reason::Malformed));
        assert_eq!(fresh(1_000, 1_500, 500), Ok(()));
        assert_eq!(fresh(2_000, 1_500, 500), Ok(()));
        assert_eq!(fresh(2_001, 1_500, 500), Err(Reason::Stale));
        assert_eq!(fresh(999, 1_500, 500), Err(Reason::Stale));
    }
}
