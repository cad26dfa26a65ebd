//! The sender's side of the public-key schemes, for `hookguard sign --private-key` and the
//! tests: a PKCS#8 private key (PEM `PRIVATE KEY`, Ed25519 or P-256) or a Standard Webhooks
//! `whsk_` key, signing the bytes the provider signs. Randomness (ECDSA nonces) comes from the
//! caller, so this stays pure.

use base64::Engine;
use ring::rand::SecureRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivatePkcs8KeyDer;

use crate::verify::pubkey::KeyAlg;

/// Why a private key could not be read or used. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivateKeyError {
    /// A SEC 1 `EC PRIVATE KEY` block: ring reads PKCS#8 only.
    #[error("is a SEC 1 `EC PRIVATE KEY`; convert it to PKCS#8 with `openssl pkcs8 -topk8 -nocrypt -in KEY`")]
    Sec1,
    /// PKCS#8 of another algorithm, or without the public key ring requires for P-256.
    #[error("is a PKCS#8 key hookguard cannot sign with: it takes Ed25519, or P-256 with its public key included (as `openssl genpkey` writes them)")]
    Unsupported,
    /// A `whsk_` value that is not base64 of the 32-byte seed and its 32-byte public key.
    #[error("is not a Standard Webhooks private key: `whsk_` and the base64 of 64 bytes (seed, then public key)")]
    Whsk,
    /// Neither PEM nor `whsk_`.
    #[error("is not a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`) or a `whsk_` key")]
    Form,
    /// ring refused to sign (no randomness).
    #[error("could not be used to sign")]
    Sign,
}

/// A sender's private key. `Debug` names the algorithm only.
pub enum PrivateKey {
    /// An Ed25519 key pair.
    Ed25519(Ed25519KeyPair),
    /// A P-256 key pair signing SHA-256 digests, DER signatures.
    EcdsaP256(EcdsaKeyPair),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({}, [redacted])", self.alg().as_str())
    }
}

impl PrivateKey {
    /// Reads a PKCS#8 PEM private key or a `whsk_` key (surrounding whitespace ignored).
    pub fn parse(text: &[u8], rng: &dyn SecureRandom) -> Result<Self, PrivateKeyError> {
        let text = text.trim_ascii();
        if let Some(b64) = text.strip_prefix(b"whsk_") {
            return whsk(b64);
        }
        const SEC1: &[u8] = b"BEGIN EC PRIVATE KEY";
        if text.windows(SEC1.len()).any(|w| w == SEC1) {
            return Err(PrivateKeyError::Sec1);
        }
        let der = PrivatePkcs8KeyDer::from_pem_slice(text).map_err(|_| PrivateKeyError::Form)?;
        let der = der.secret_pkcs8_der();
        if let Ok(pair) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            return Ok(PrivateKey::Ed25519(pair));
        }
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der, rng)
            .map(PrivateKey::EcdsaP256)
            .map_err(|_| PrivateKeyError::Unsupported)
    }

    /// The algorithm it signs with.
    pub fn alg(&self) -> KeyAlg {
        match self {
            PrivateKey::Ed25519(_) => KeyAlg::Ed25519,
            PrivateKey::EcdsaP256(_) => KeyAlg::EcdsaP256,
        }
    }

    /// The raw public key (as `PublicKey::bytes`), to tell whether a check holds it.
    pub fn public_key(&self) -> &[u8] {
        match self {
            PrivateKey::Ed25519(pair) => pair.public_key().as_ref(),
            PrivateKey::EcdsaP256(pair) => pair.public_key().as_ref(),
        }
    }

    /// The signature of `message`: 64 bytes for Ed25519, DER for P-256.
    pub fn sign(&self, message: &[u8], rng: &dyn SecureRandom) -> Result<Vec<u8>, PrivateKeyError> {
        Ok(match self {
            PrivateKey::Ed25519(pair) => pair.sign(message).as_ref().to_vec(),
            PrivateKey::EcdsaP256(pair) => pair
                .sign(rng, message)
                .map_err(|_| PrivateKeyError::Sign)?
                .as_ref()
                .to_vec(),
        })
    }
}

/// `whsk_` + base64(seed ‖ public key), as the Svix server reads endpoint keys.
fn whsk(b64: &[u8]) -> Result<PrivateKey, PrivateKeyError> {
    let mut padded = b64.to_vec();
    padded.resize(b64.len().div_ceil(4) * 4, b'=');
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&padded)
        .map_err(|_| PrivateKeyError::Whsk)?;
    let (seed, public) = bytes.split_at_checked(32).ok_or(PrivateKeyError::Whsk)?;
    Ed25519KeyPair::from_seed_and_public_key(seed, public)
        .map(PrivateKey::Ed25519)
        .map_err(|_| PrivateKeyError::Whsk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::pubkey::PublicKey;
    use base64::engine::general_purpose::STANDARD;
    use ring::rand::SystemRandom;

    fn pem(der: &[u8]) -> String {
        let b64 = STANDARD.encode(der);
        format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n")
    }

    #[test]
    fn the_svix_readme_key_signs_the_svix_test_message_to_svix_s_signature() {
        // svix/svix-webhooks README (asymmetric signatures) and worker.rs
        // `test_asymmetric_key_signing`: Ed25519 is deterministic, so the bytes must agree.
        let rng = SystemRandom::new();
        let whsk = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==";
        let key = PrivateKey::parse(whsk.as_bytes(), &rng).expect("whsk parses");
        let whpk = STANDARD
            .decode("1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=")
            .expect("b64");
        assert_eq!(key.public_key(), &whpk[..]);
        let message = b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{\"test\": 2432232314}";
        let sig = key.sign(message, &rng).expect("signs");
        assert_eq!(
            STANDARD.encode(&sig),
            "hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg=="
        );
        assert_eq!(format!("{key:?}"), "PrivateKey(ed25519, [redacted])");
    }

    #[test]
    fn generated_pkcs8_keys_of_both_algorithms_sign_what_their_public_key_verifies() {
        let rng = SystemRandom::new();
        let ed = Ed25519KeyPair::generate_pkcs8(&rng).expect("ed25519");
        let p256 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("p256");
        for (der, alg) in [
            (ed.as_ref(), KeyAlg::Ed25519),
            (p256.as_ref(), KeyAlg::EcdsaP256),
        ] {
            let key = PrivateKey::parse(pem(der).as_bytes(), &rng).expect("pkcs8 parses");
            assert_eq!(key.alg(), alg);
            let public = PublicKey::from_raw(alg, key.public_key().to_vec());
            let sig = key.sign(b"1767225600{}", &rng).expect("signs");
            assert!(public.verify(b"1767225600{}", &sig));
            assert!(!public.verify(b"1767225601{}", &sig));
        }
    }

    #[test]
    fn other_texts_are_refused_with_a_reason() {
        let rng = SystemRandom::new();
        let parse = |t: &str| PrivateKey::parse(t.as_bytes(), &rng).map(|k| k.alg());
        let sec1 = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n";
        assert_eq!(parse(sec1), Err(PrivateKeyError::Sec1));
        assert_eq!(parse("whsk_AAAA"), Err(PrivateKeyError::Whsk));
        // A 64-byte whsk_ whose second half is not the first half's public key.
        let bad = format!("whsk_{}", STANDARD.encode([7u8; 64]));
        assert_eq!(parse(&bad), Err(PrivateKeyError::Whsk));
        assert_eq!(parse("d75a98"), Err(PrivateKeyError::Form));
        assert_eq!(parse(&pem(b"not a key")), Err(PrivateKeyError::Unsupported));
    }
}
