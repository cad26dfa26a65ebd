//! Secrets: key bytes that never print, their fingerprint, and their validity window.
//!
//! A [`Key`] is the only place raw key material lives. Its `Debug` and `Display` print
//! `[redacted]`, so a secret cannot leak through `{:?}` in a log line, an error or a panic.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Milliseconds since the Unix epoch: the one clock unit verification uses.
pub type UnixMillis = i64;

/// Raw key bytes. Never printed; compare with [`Key::ct_eq_digest`].
#[derive(Clone)]
pub struct Key(Vec<u8>);

impl Key {
    /// Wraps key bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Key(bytes)
    }

    /// The raw bytes, for keying a MAC. Callers must not log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// First 16 hex digits of SHA-256 of the key bytes: tells keys apart, never recovers one.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(&self.0);
        hex::encode(&digest[..8])
    }

    /// SHA-256 of the key, so equality checks on presented keys run in time independent of
    /// the key's length.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(&self.0).into()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Compares the SHA-256 of `presented` with `expected` in constant time.
pub fn digest_matches(presented: &[u8], expected: &[u8; 32]) -> bool {
    let got: [u8; 32] = Sha256::digest(presented).into();
    got.ct_eq(expected).into()
}

/// When a secret may be tried: `[not_before, expires)`, either end open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Not tried before this instant.
    pub not_before: Option<UnixMillis>,
    /// Not tried from this instant on.
    pub expires: Option<UnixMillis>,
}

impl Window {
    /// Whether a secret with this window is in force at `now`.
    pub fn contains(&self, now: UnixMillis) -> bool {
        self.not_before.is_none_or(|nb| now >= nb) && self.expires.is_none_or(|ex| now < ex)
    }

    /// `active`, `expired` or `not-yet-active` at `now`, as `check` and the logs say it.
    pub fn state(&self, now: UnixMillis) -> &'static str {
        if self.contains(now) {
            "active"
        } else if self.expires.is_some_and(|ex| now >= ex) {
            "expired"
        } else {
            "not-yet-active"
        }
    }
}

/// A secret as configured: id, key bytes, fingerprint and validity window.
#[derive(Clone, Debug)]
pub struct Secret {
    /// The configured id; appears in logs, metrics and `x-hookguard-secret-id`.
    pub id: std::sync::Arc<str>,
    /// The key bytes (redacted in `Debug`).
    pub key: Key,
    /// `Key::fingerprint`, computed once.
    pub fingerprint: String,
    /// When the secret is tried.
    pub window: Window,
}

impl Secret {
    /// Builds a secret, computing its fingerprint once.
    pub fn new(id: &str, key: Key, window: Window) -> Self {
        let fingerprint = key.fingerprint();
        Secret {
            id: id.into(),
            key,
            fingerprint,
            window,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_key() {
        let key = Key::new(b"hunter2-super-secret".to_vec());
        let secret = Secret::new("a", key.clone(), Window::default());
        for shown in [
            format!("{key:?}"),
            format!("{key}"),
            format!("{secret:?}"),
            format!("{secret:#?}"),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }

    #[test]
    fn fingerprint_is_16_hex_of_sha256() {
        // SHA-256("abc") = ba7816bf8f01cfea...
        assert_eq!(Key::new(b"abc".to_vec()).fingerprint(), "ba7816bf8f01cfea");
    }

    #[test]
    fn window_is_half_open() {
        let w = Window {
            not_before: Some(1_000),
            expires: Some(2_000),
        };
        assert!(!w.contains(999));
        assert!(w.contains(1_000));
        assert!(w.contains(1_999));
        assert!(!w.contains(2_000));
        assert!(Window::default().contains(i64::MIN));
        assert_eq!(w.state(999), "not-yet-active");
        assert_eq!(w.state(1_000), "active");
        assert_eq!(w.state(2_000), "expired");
    }

    #[test]
    fn digest_comparison_matches_only_equal_bytes() {
        let key = Key::new(b"k".to_vec());
        assert!(digest_matches(b"k", &key.digest()));
        assert!(!digest_matches(b"K", &key.digest()));
        assert!(!digest_matches(b"", &key.digest()));
    }
}
