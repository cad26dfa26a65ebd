//! Public keys as providers hand them out, parsed once into a [`PublicKey`]: an X.509
//! certificate (PEM; a chain's first certificate is the signer's), a `PUBLIC KEY` PEM, base64
//! DER SubjectPublicKeyInfo, a JWK or a JWK set. Signatures are verified under them with ring
//! (RSA PKCS#1 v1.5, ECDSA P-256) and, for eBay's SHA-1 ECDSA that ring does not offer, the
//! RustCrypto `p256` crate. Pure: bytes in, keys and verdicts out; `now` is passed in.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::signature::{self as sig, RsaPublicKeyComponents, UnparsedPublicKey};
use rustls::pki_types::pem::{PemObject, SectionKind};
use serde::Deserialize;
use x509_parser::oid_registry::OID_EC_P256;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey as Parsed;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::verify::secret::UnixMillis;

/// Why key material could not be read. Never carries the material itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not PEM, base64 DER or JSON of a known kind.
    #[error("is not a PEM certificate or public key, base64 DER public key, or JWK")]
    Unreadable,
    /// An X.509 certificate or SubjectPublicKeyInfo that does not parse.
    #[error("is not a well-formed certificate or public key")]
    BadDer,
    /// A key type other than RSA or EC P-256.
    #[error("holds a {0} key; only RSA and EC P-256 keys verify these signatures")]
    Unsupported(&'static str),
    /// A JWK set without one usable key.
    #[error("is a key set without an RSA or EC P-256 key")]
    EmptySet,
}

/// The key itself (public material: `Debug` shows it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyMaterial {
    /// RSA modulus and exponent, big-endian, no leading zeros.
    Rsa {
        /// The modulus.
        n: Vec<u8>,
        /// The public exponent.
        e: Vec<u8>,
    },
    /// An uncompressed SEC1 P-256 point (`04 || x || y`).
    P256(Vec<u8>),
}

/// The signature algorithms the fetched-key and pinned-key providers use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algo {
    /// RSASSA-PKCS1-v1_5 with SHA-1 (SNS `SignatureVersion` 1).
    RsaSha1,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (SNS 2, PayPal, RS256, Bridge).
    RsaSha256,
    /// ECDSA P-256 SHA-256, DER signature (Circle).
    P256Sha256Der,
    /// ECDSA P-256 SHA-256, `r || s` signature (JWS ES256: Plaid).
    P256Sha256Fixed,
    /// ECDSA P-256 SHA-1, DER signature (eBay).
    P256Sha1Der,
}

/// One verification key, with what its certificate says about when and how it may be used.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The JWK `kid`, when the key came from a JWK.
    pub kid: Option<String>,
    /// The key.
    pub material: KeyMaterial,
    /// A certificate's `notBefore` / `notAfter`; `None` for bare keys.
    pub validity: Option<(UnixMillis, UnixMillis)>,
    /// False when a certificate's key usage extension leaves out `digitalSignature`.
    pub may_sign: bool,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.material {
            KeyMaterial::Rsa { ref n, .. } => format!("RSA-{}", n.len() * 8),
            KeyMaterial::P256(_) => "EC-P256".into(),
        };
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .field("kind", &kind)
            .field("validity", &self.validity)
            .finish()
    }
}

impl PublicKey {
    /// Whether the key may verify at `now`: inside its certificate's validity, and allowed to
    /// sign by its key usage.
    pub fn usable_at(&self, now: UnixMillis) -> bool {
        let in_window = self
            .validity
            .is_none_or(|(from, until)| from <= now && now <= until);
        self.may_sign && in_window
    }

    /// Verifies `signature` over `msg` with `algo`; a key of the wrong type never verifies.
    pub fn verify(&self, algo: Algo, msg: &[u8], signature: &[u8]) -> bool {
        match (&self.material, algo) {
            (KeyMaterial::Rsa { n, e }, Algo::RsaSha1 | Algo::RsaSha256) => {
                let params = if algo == Algo::RsaSha1 {
                    &sig::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
                } else {
                    &sig::RSA_PKCS1_2048_8192_SHA256
                };
                let key = RsaPublicKeyComponents { n, e };
                key.verify(params, msg, signature).is_ok()
            }
            (KeyMaterial::P256(point), Algo::P256Sha256Der) => {
                let key = UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_ASN1, point);
                key.verify(msg, signature).is_ok()
            }
            (KeyMaterial::P256(point), Algo::P256Sha256Fixed) => {
                let key = UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point);
                key.verify(msg, signature).is_ok()
            }
            (KeyMaterial::P256(point), Algo::P256Sha1Der) => p256_sha1(point, msg, signature),
            _ => false,
        }
    }
}

fn p256_sha1(point: &[u8], msg: &[u8], signature: &[u8]) -> bool {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    use sha1::{Digest, Sha1};
    let (Ok(key), Ok(parsed)) = (
        p256::ecdsa::VerifyingKey::from_sec1_bytes(point),
        p256::ecdsa::Signature::from_der(signature),
    ) else {
        return false;
    };
    key.verify_prehash(&Sha1::digest(msg), &parsed).is_ok()
}

/// A pinned key as a user configures it: a certificate or `PUBLIC KEY` PEM, base64 DER
/// (SubjectPublicKeyInfo or certificate), or one JWK as JSON.
pub fn parse_pinned(bytes: &[u8]) -> Result<PublicKey, KeyError> {
    let text = bytes.trim_ascii();
    if text.starts_with(b"{") {
        let jwk: Jwk = serde_json::from_slice(text).map_err(|_| KeyError::Unreadable)?;
        return jwk.key();
    }
    if text.starts_with(b"-----BEGIN") {
        return parse_pem(text);
    }
    let der = STANDARD
        .decode(
            text.split(|b| b.is_ascii_whitespace())
                .flatten()
                .copied()
                .collect::<Vec<u8>>(),
        )
        .map_err(|_| KeyError::Unreadable)?;
    from_spki(&der).or_else(|_| from_certificate(&der))
}

/// The first certificate or public key in a PEM document (a fetched certificate URL may
/// serve the signer's certificate followed by its chain).
pub fn parse_pem(pem: &[u8]) -> Result<PublicKey, KeyError> {
    for item in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        match item.map_err(|_| KeyError::Unreadable)? {
            (SectionKind::Certificate, der) => return from_certificate(&der),
            (SectionKind::PublicKey, der) => return from_spki(&der),
            _ => continue,
        }
    }
    Err(KeyError::Unreadable)
}

fn from_certificate(der: &[u8]) -> Result<PublicKey, KeyError> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|_| KeyError::BadDer)?;
    if !rest.is_empty() {
        return Err(KeyError::BadDer);
    }
    let validity = cert.validity();
    let window = (
        validity.not_before.timestamp().saturating_mul(1000),
        validity.not_after.timestamp().saturating_mul(1000),
    );
    let may_sign = match cert.key_usage() {
        Ok(Some(usage)) => usage.value.digital_signature(),
        Ok(None) => true,
        Err(_) => return Err(KeyError::BadDer),
    };
    let mut key = key_of(cert.public_key())?;
    key.validity = Some(window);
    key.may_sign = may_sign;
    Ok(key)
}

fn from_spki(der: &[u8]) -> Result<PublicKey, KeyError> {
    let (rest, spki) = SubjectPublicKeyInfo::from_der(der).map_err(|_| KeyError::BadDer)?;
    if !rest.is_empty() {
        return Err(KeyError::BadDer);
    }
    key_of(&spki)
}

fn key_of(spki: &SubjectPublicKeyInfo<'_>) -> Result<PublicKey, KeyError> {
    let material = match spki.parsed().map_err(|_| KeyError::BadDer)? {
        Parsed::RSA(rsa) => KeyMaterial::Rsa {
            n: unpadded(rsa.modulus),
            e: unpadded(rsa.exponent),
        },
        Parsed::EC(point) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok());
            if curve != Some(OID_EC_P256) {
                return Err(KeyError::Unsupported("non-P-256 EC"));
            }
            KeyMaterial::P256(point.data().to_vec())
        }
        Parsed::DSA(_) => return Err(KeyError::Unsupported("DSA")),
        _ => return Err(KeyError::Unsupported("unknown")),
    };
    Ok(PublicKey {
        kid: None,
        material,
        validity: None,
        may_sign: true,
    })
}

fn unpadded(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[start..].to_vec()
}

/// A JSON Web Key (RFC 7517), the fields an RSA or EC P-256 verification key has.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

impl Jwk {
    fn key(&self) -> Result<PublicKey, KeyError> {
        let b64 = |v: &Option<String>| {
            v.as_deref()
                .and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
                .ok_or(KeyError::Unreadable)
        };
        let material = match (self.kty.as_str(), self.crv.as_deref()) {
            ("RSA", _) => KeyMaterial::Rsa {
                n: unpadded(&b64(&self.n)?),
                e: unpadded(&b64(&self.e)?),
            },
            ("EC", Some("P-256")) => {
                let (x, y) = (b64(&self.x)?, b64(&self.y)?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(KeyError::Unreadable);
                }
                KeyMaterial::P256([&[4u8][..], &x, &y].concat())
            }
            ("EC", _) => return Err(KeyError::Unsupported("non-P-256 EC")),
            _ => return Err(KeyError::Unsupported("non-RSA, non-EC")),
        };
        Ok(PublicKey {
            kid: self.kid.clone(),
            material,
            validity: None,
            may_sign: true,
        })
    }
}

/// A JWK set (`{"keys": [...]}`), as Google serves it: the usable keys, others skipped.
pub fn parse_jwks(bytes: &[u8]) -> Result<Vec<PublicKey>, KeyError> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set = serde_json::from_slice(bytes).map_err(|_| KeyError::Unreadable)?;
    let keys: Vec<PublicKey> = set
        .keys
        .into_iter()
        .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
        .filter_map(|jwk| jwk.key().ok())
        .collect();
    if keys.is_empty() {
        return Err(KeyError::EmptySet);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A P-256 SubjectPublicKeyInfo in Circle's form (base64 DER): the research notes' Plaid
    // test key, exported with Python's `cryptography`.
    const SPKI_B64: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE9GnwyprK0OLQeOjXtYNJhD1IC46uVEpYcaBKQ4ZJuYMBCMF0ISQwILBptI67GGyTBhUpP4P+1jILwHf24gnBOw==";

    #[test]
    fn a_base64_spki_a_pem_and_a_jwk_of_one_key_are_the_same_key() {
        let der = STANDARD.decode(SPKI_B64).expect("b64");
        let from_b64 = parse_pinned(SPKI_B64.as_bytes()).expect("base64 DER");
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n{}\n-----END PUBLIC KEY-----\n",
            &SPKI_B64[..64],
            &SPKI_B64[64..]
        );
        let from_pem = parse_pinned(pem.as_bytes()).expect("PEM");
        let KeyMaterial::P256(point) = &from_b64.material else {
            panic!("P-256 expected")
        };
        let jwk = format!(
            r#"{{"kty":"EC","crv":"P-256","kid":"k1","x":"{}","y":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(&point[1..33]),
            URL_SAFE_NO_PAD.encode(&point[33..])
        );
        let from_jwk = parse_pinned(jwk.as_bytes()).expect("JWK");
        assert_eq!(from_b64.material, from_pem.material);
        assert_eq!(from_b64.material, from_jwk.material);
        assert_eq!(from_jwk.kid.as_deref(), Some("k1"));
        assert_eq!(der.len(), 91);
    }

    #[test]
    fn garbage_and_unsupported_keys_are_refused_without_echoing_them() {
        assert_eq!(parse_pinned(b"not a key"), Err(KeyError::Unreadable));
        assert_eq!(
            parse_pinned(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
            Err(KeyError::BadDer)
        );
        assert_eq!(
            parse_pinned(br#"{"kty":"OKP","crv":"Ed25519","x":"AAAA"}"#),
            Err(KeyError::Unsupported("non-RSA, non-EC"))
        );
        assert_eq!(
            parse_jwks(br#"{"keys":[{"kty":"oct","k":"AAAA"}]}"#),
            Err(KeyError::EmptySet)
        );
        let shown = KeyError::Unreadable.to_string();
        assert!(!shown.contains("not a key"));
    }

    #[test]
    fn a_key_of_the_wrong_type_never_verifies() {
        let key = parse_pinned(SPKI_B64.as_bytes()).expect("key");
        assert!(!key.verify(Algo::RsaSha256, b"hello", &[0u8; 256]));
        assert!(!key.verify(Algo::P256Sha256Der, b"hello", b"\x30\x00"));
        assert!(!key.verify(Algo::P256Sha1Der, b"hello", b""));
    }

    #[test]
    fn a_certificate_key_is_usable_only_inside_its_validity() {
        let key = PublicKey {
            kid: None,
            material: KeyMaterial::P256(vec![4; 65]),
            validity: Some((1_000, 2_000)),
            may_sign: true,
        };
        assert!(!key.usable_at(999));
        assert!(key.usable_at(1_000));
        assert!(key.usable_at(2_000));
        assert!(!key.usable_at(2_001));
        let no_sign = PublicKey {
            may_sign: false,
            ..key
        };
        assert!(!no_sign.usable_at(1_500));
    }
}
