//! HMAC states keyed once at load and cloned per request.
//!
//! Keying an HMAC hashes the key into two padded blocks; doing that once per secret at load
//! time, and cloning the prepared state per request, keeps per-request work to the bytes that
//! are actually signed.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// The hash under the HMAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA1 (20-byte tags), for legacy senders.
    Sha1,
    /// HMAC-SHA256 (32-byte tags), what every preset uses.
    Sha256,
    /// HMAC-SHA512 (64-byte tags).
    Sha512,
    /// Not an HMAC: plain SHA-256 over the key followed by the message (Recharge). Only a
    /// catalogue mechanism selects it; generic `hmac` cannot ask for it.
    Sha256KeyPrefix,
}

impl Algorithm {
    /// Parses the config spelling.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "sha1" => Some(Algorithm::Sha1),
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    /// Tag length in bytes.
    pub fn tag_len(self) -> usize {
        match self {
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 | Algorithm::Sha256KeyPrefix => 32,
            Algorithm::Sha512 => 64,
        }
    }
}

/// An HMAC already keyed with one secret. `Debug` prints only the algorithm.
#[derive(Clone)]
pub enum PreparedMac {
    /// Keyed HMAC-SHA1.
    Sha1(Hmac<Sha1>),
    /// Keyed HMAC-SHA256.
    Sha256(Hmac<Sha256>),
    /// Keyed HMAC-SHA512.
    Sha512(Hmac<Sha512>),
    /// SHA-256 that has already absorbed the key (see [`Algorithm::Sha256KeyPrefix`]).
    Sha256KeyPrefix(Sha256),
}

impl std::fmt::Debug for PreparedMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            PreparedMac::Sha1(_) => "sha1",
            PreparedMac::Sha256(_) => "sha256",
            PreparedMac::Sha512(_) => "sha512",
            PreparedMac::Sha256KeyPrefix(_) => "sha256-key-prefix",
        };
        write!(f, "PreparedMac({name}, [redacted])")
    }
}

/// A computed tag: up to 64 bytes, no allocation.
#[derive(Clone, Copy)]
pub struct Tag {
    bytes: [u8; 64],
    len: usize,
}

impl Tag {
    /// The tag bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Constant-time comparison with a presented signature. Lengths are public (they follow
    /// from the algorithm), so a length mismatch returns early.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.as_bytes().ct_eq(presented).into()
    }
}

impl std::fmt::Debug for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tag({} bytes)", self.len)
    }
}

impl PreparedMac {
    /// Keys a MAC once. HMAC accepts keys of any length, so this cannot fail.
    pub fn new(algorithm: Algorithm, key: &[u8]) -> Self {
        // `new_from_slice` only errors for fixed-size-key MACs; HMAC takes any length.
        match algorithm {
            Algorithm::Sha1 => PreparedMac::Sha1(keyed(key)),
            Algorithm::Sha256 => PreparedMac::Sha256(keyed(key)),
            Algorithm::Sha512 => PreparedMac::Sha512(keyed(key)),
            Algorithm::Sha256KeyPrefix => {
                PreparedMac::Sha256KeyPrefix(Sha256::new().chain_update(key))
            }
        }
    }

    /// MAC over the concatenation of `parts`, without joining them in memory.
    pub fn compute<P: AsRef<[u8]>>(&self, parts: &[P]) -> Tag {
        match self {
            PreparedMac::Sha1(m) => finish(m.clone(), parts),
            PreparedMac::Sha256(m) => finish(m.clone(), parts),
            PreparedMac::Sha512(m) => finish(m.clone(), parts),
            PreparedMac::Sha256KeyPrefix(d) => {
                let mut d = d.clone();
                for part in parts {
                    d.update(part.as_ref());
                }
                tag_of(&d.finalize())
            }
        }
    }
}

fn keyed<M: Mac + hmac::digest::KeyInit>(key: &[u8]) -> M {
    <M as hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
}

fn finish<M: Mac, P: AsRef<[u8]>>(mut mac: M, parts: &[P]) -> Tag {
    for part in parts {
        mac.update(part.as_ref());
    }
    tag_of(&mac.finalize().into_bytes())
}

fn tag_of(out: &[u8]) -> Tag {
    let mut tag = Tag {
        bytes: [0; 64],
        len: out.len(),
    };
    tag.bytes[..out.len()].copy_from_slice(out);
    tag
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_case_2_for_each_algorithm() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
        let data: &[&[u8]] = &[b"what do ya ", b"want for nothing?"];
        let sha256 = PreparedMac::new(Algorithm::Sha256, b"Jefe").compute(data);
        assert_eq!(
            hex::encode(sha256.as_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let sha512 = PreparedMac::new(Algorithm::Sha512, b"Jefe").compute(data);
        assert!(hex::encode(sha512.as_bytes()).starts_with("164b7a7bfcf819e2e395fbe73b56e0a3"));
        // RFC 2202 test case 2 for HMAC-SHA1.
        let sha1 = PreparedMac::new(Algorithm::Sha1, b"Jefe").compute(data);
        assert_eq!(
            hex::encode(sha1.as_bytes()),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn key_prefix_digest_is_plain_sha256_of_key_then_message() {
        // echo -n 'keyhello' | sha256sum
        let tag =
            PreparedMac::new(Algorithm::Sha256KeyPrefix, b"key").compute(&[&b"hel"[..], b"lo"]);
        assert_eq!(
            hex::encode(tag.as_bytes()),
            "43b68106309688486ec5ef85b7f4ac9b1b4bc627855e20556dcefdc55b71ec83"
        );
        assert_eq!(Algorithm::parse("sha256-key-prefix"), None);
    }

    #[test]
    fn prepared_state_is_reusable_and_debug_is_redacted() {
        let mac = PreparedMac::new(Algorithm::Sha256, b"key-bytes");
        let a = mac.compute(&[b"x"]);
        let b = mac.compute(&[b"x"]);
        assert!(a.matches(b.as_bytes()));
        assert!(!a.matches(&b.as_bytes()[..31]));
        assert!(!format!("{mac:?}").contains("key-bytes"));
    }
}
