//! Public-key signatures: Ed25519 (Discord, Telnyx, Standard Webhooks `v1a`) and ECDSA P-256
//! with SHA-256 (SendGrid), verified with `ring`, the crypto library the TLS stack already
//! carries. A [`PublicKey`] is built once when the config is compiled (`keyform` turns the
//! provider's text form into one); per request it checks one signature over the signed bytes.
//! Pure: no I/O, no clock.

use http::HeaderMap;
use ring::signature::{UnparsedPublicKey, VerificationAlgorithm, ECDSA_P256_SHA256_ASN1, ED25519};

use crate::verify::extract;
use crate::verify::reason::Reason;
use crate::verify::scheme::{SigFormat, SigSpec};

/// The signature algorithm of a public-key scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlg {
    /// Pure Ed25519 (RFC 8032, no pre-hash, no context); 64-byte signatures.
    Ed25519,
    /// ECDSA over P-256 with SHA-256; signatures ASN.1 DER `SEQUENCE { r, s }`, high or low S.
    EcdsaP256,
}

impl KeyAlg {
    /// The spelling `hookguard schemes` and messages use.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlg::Ed25519 => "ed25519",
            KeyAlg::EcdsaP256 => "ecdsa-p256",
        }
    }

    fn ring(self) -> &'static dyn VerificationAlgorithm {
        match self {
            KeyAlg::Ed25519 => &ED25519,
            KeyAlg::EcdsaP256 => &ECDSA_P256_SHA256_ASN1,
        }
    }

    /// Whether `len` decoded bytes can be a signature of this algorithm: exactly 64 for
    /// Ed25519; for P-256 a DER sequence of two integers of 1 to 33 bytes (8 to 72 bytes).
    /// A presented signature of another length cannot verify and counts as unreadable.
    pub fn plausible_len(self, len: usize) -> bool {
        match self {
            KeyAlg::Ed25519 => len == 64,
            KeyAlg::EcdsaP256 => (8..=72).contains(&len),
        }
    }
}

/// A sender's public key, ready to verify with: its algorithm and its raw key bytes (32 bytes
/// for Ed25519, the 65-byte uncompressed SEC 1 point for P-256), whatever form it was written
/// in. ring takes public keys as bytes and decodes the curve point inside each verification.
/// `Debug` names the algorithm only, as every key type here does.
#[derive(Clone)]
pub struct PublicKey {
    alg: KeyAlg,
    key: UnparsedPublicKey<Vec<u8>>,
}

impl PublicKey {
    /// Wraps raw key bytes of the right length for `alg` (`keyform` checks the form first).
    pub fn from_raw(alg: KeyAlg, raw: Vec<u8>) -> Self {
        PublicKey {
            alg,
            key: UnparsedPublicKey::new(alg.ring(), raw),
        }
    }

    /// The algorithm this key verifies.
    pub fn alg(&self) -> KeyAlg {
        self.alg
    }

    /// The raw key bytes: what the fingerprint is taken over, so every form of one key (hex,
    /// base64, PEM) has the same fingerprint.
    pub fn bytes(&self) -> &[u8] {
        self.key.as_ref()
    }

    /// Whether `signature` is this key's signature of `message`. A malformed signature, a
    /// signature of another algorithm, or a key that is not a curve point gives `false`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.alg.plausible_len(signature.len()) && self.key.verify(message, signature).is_ok()
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({}, [redacted])", self.alg.as_str())
    }
}

/// The signatures a public-key check found, still encoded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Presented<'a> {
    /// Signatures for the public keys (Standard Webhooks: the `v1a` entries).
    pub keyed: Vec<&'a str>,
    /// Standard Webhooks `v1` entries, for the `whsec_` secrets beside the keys.
    pub hmac: Vec<&'a str>,
    /// The signed timestamp, when the scheme has one.
    pub timestamp: Option<&'a str>,
    /// The message id (Standard Webhooks).
    pub id: Option<&'a str>,
}

/// Reads a public-key check's signatures by the common header rules. A Standard Webhooks
/// check reads the entries of its own version (`v1a`) for its keys and the `v1` entries for
/// any HMAC secrets; either list may be empty, and the caller decides what that means.
pub fn presented<'a>(spec: &SigSpec, headers: &'a HeaderMap) -> Result<Presented<'a>, Reason> {
    if let SigFormat::StandardWebhooks { version, .. } = &spec.sig {
        let keyed = extract::standard_webhooks(headers, version)?;
        let hmac = extract::standard_webhooks(headers, "v1")?.signatures;
        return Ok(Presented {
            keyed: keyed.signatures,
            hmac,
            timestamp: keyed.timestamp,
            id: keyed.id,
        });
    }
    let found = extract::signatures(spec, headers)?;
    Ok(Presented {
        keyed: found.signatures,
        hmac: Vec::new(),
        timestamp: found.timestamp,
        id: found.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).expect("hex")
    }

    #[test]
    fn rfc8032_ed25519_test_vectors_verify_and_a_changed_byte_does_not() {
        // RFC 8032 section 7.1, TEST 1 (empty message) and TEST 3 (two bytes).
        let cases = [
            (
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
                "af82",
                "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
            ),
        ];
        for (public, message, signature) in cases {
            let key = PublicKey::from_raw(KeyAlg::Ed25519, unhex(public));
            let (message, mut signature) = (unhex(message), unhex(signature));
            assert!(key.verify(&message, &signature), "RFC 8032 key {public}");
            signature[10] ^= 1;
            assert!(!key.verify(&message, &signature));
            assert!(!key.verify(&message, &signature[..63]));
        }
    }

    #[test]
    fn rfc6979_p256_sha256_vector_verifies_as_der() {
        // RFC 6979 appendix A.2.5: P-256, SHA-256, message "sample".
        let point = unhex(
            "04 60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6
                7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299",
        );
        let r = unhex("EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716");
        let s = unhex("F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8");
        // DER: both integers have their top bit set, so each takes a leading zero byte.
        let mut der = vec![0x30, 0x46, 0x02, 0x21, 0x00];
        der.extend(&r);
        der.extend([0x02, 0x21, 0x00]);
        der.extend(&s);
        let key = PublicKey::from_raw(KeyAlg::EcdsaP256, point);
        assert!(key.verify(b"sample", &der));
        assert!(!key.verify(b"samplf", &der));
        assert!(!key.verify(b"sample", &der[..der.len() - 1]));
    }

    #[test]
    fn a_key_of_one_algorithm_never_verifies_the_other() {
        let ed = PublicKey::from_raw(KeyAlg::Ed25519, vec![7; 32]);
        assert!(!ed.verify(b"m", &[0u8; 70]));
        let garbage = PublicKey::from_raw(KeyAlg::Ed25519, vec![0xff; 32]);
        assert!(!garbage.verify(b"m", &[0u8; 64]));
        assert_eq!(format!("{ed:?}"), "PublicKey(ed25519, [redacted])");
    }
}
