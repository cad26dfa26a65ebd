//! A sender's public key as the provider hands it out, turned into a [`PublicKey`] once, when
//! the config is compiled. The row's `secret_encoding` names the provider's form (Discord's 64
//! hex digits: `hex`; Telnyx's and SendGrid's base64: `base64`; Standard Webhooks: `whpk_` +
//! base64); a PEM `PUBLIC KEY` block is accepted for every row. After decoding, the bytes may
//! be the raw key or its DER SubjectPublicKeyInfo. Private keys are refused with a message
//! that says where they belong; no message ever echoes the key.

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, SubjectPublicKeyInfoDer};

use crate::verify::pubkey::{KeyAlg, PublicKey};

/// DER SubjectPublicKeyInfo up to the key bytes: id-Ed25519 (RFC 8410), then a 33-byte BIT
/// STRING. DER has one encoding per value, so a fixed-size key's SPKI is this prefix exactly.
const ED25519_SPKI: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// id-ecPublicKey with the named curve prime256v1 (RFC 5480), then a 66-byte BIT STRING.
const P256_SPKI: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The same algorithm and curve with a compressed (33-byte) point.
const P256_SPKI_COMPRESSED: [u8; 26] = [
    0x30, 0x39, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x22, 0x00,
];

/// Why a configured public key was refused. The messages follow the secret's label in a
/// config error, so they start with a verb, and they never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A PEM private key where the sender's public key belongs.
    #[error("is a private key: configure the sender's public key here (the private key stays with the sender; `hookguard sign --private-key` takes it for tests)")]
    PrivateKey,
    /// A Standard Webhooks `whsk_` private key.
    #[error("is a Standard Webhooks private key (`whsk_`): configure the endpoint's public key (`whpk_...`) here; the private key stays with the sender (`hookguard sign --private-key` takes it for tests)")]
    Whsk,
    /// A P-256 point in compressed form, which ring does not verify with.
    #[error("is a compressed P-256 point: give the uncompressed key (DER SubjectPublicKeyInfo, base64 or PEM), as the provider hands it out")]
    Compressed,
    /// Anything else.
    #[error("is not {0}")]
    Form(&'static str),
}

/// What a row's key looks like, for messages and `gen-secret`.
pub fn describe(alg: KeyAlg, encoding: &str) -> &'static str {
    match (alg, encoding) {
        (KeyAlg::Ed25519, "hex") => "an Ed25519 public key: 64 hex digits (or a PEM PUBLIC KEY)",
        (KeyAlg::Ed25519, "whsec") => {
            "an Ed25519 public key: `whpk_` and the base64 of 32 bytes (or a PEM PUBLIC KEY)"
        }
        (KeyAlg::Ed25519, _) => "an Ed25519 public key: base64 of 32 bytes (or a PEM PUBLIC KEY)",
        (KeyAlg::EcdsaP256, _) => {
            "a P-256 public key: base64 DER SubjectPublicKeyInfo (or a PEM PUBLIC KEY)"
        }
    }
}

/// Parses a configured public key of `alg` written in the row's `encoding` (`hex`, `base64`,
/// or `whsec` for Standard Webhooks, whose keys are `whpk_` + base64), or as PEM.
pub fn parse(alg: KeyAlg, encoding: &str, raw: &[u8]) -> Result<PublicKey, KeyError> {
    use base64::engine::general_purpose::STANDARD;
    let form = KeyError::Form(describe(alg, encoding));
    let text = raw.trim_ascii();
    if text.starts_with(b"whsk_") {
        return Err(KeyError::Whsk);
    }
    if text.starts_with(b"-----BEGIN") {
        return from_pem(alg, text).unwrap_or(Err(form));
    }
    let bytes = match encoding {
        "hex" => hex::decode(text).ok(),
        "base64" => STANDARD.decode(text).ok(),
        "whsec" => text.strip_prefix(b"whpk_").and_then(|b64| {
            let mut padded = b64.to_vec();
            padded.resize(b64.len().div_ceil(4) * 4, b'=');
            STANDARD.decode(&padded).ok()
        }),
        _ => None,
    };
    from_bytes(alg, bytes.ok_or(form.clone())?).unwrap_or(Err(form))
}

fn from_pem(alg: KeyAlg, text: &[u8]) -> Option<Result<PublicKey, KeyError>> {
    if PrivateKeyDer::from_pem_slice(text).is_ok() {
        return Some(Err(KeyError::PrivateKey));
    }
    let der = SubjectPublicKeyInfoDer::from_pem_slice(text).ok()?;
    from_bytes(alg, der.as_ref().to_vec())
}

/// The raw key, or its DER SubjectPublicKeyInfo; `None` when the bytes are neither.
fn from_bytes(alg: KeyAlg, bytes: Vec<u8>) -> Option<Result<PublicKey, KeyError>> {
    let raw = match alg {
        KeyAlg::Ed25519 => match bytes.len() {
            32 => bytes,
            44 => bytes.strip_prefix(&ED25519_SPKI[..])?.to_vec(),
            _ => return None,
        },
        KeyAlg::EcdsaP256 => {
            let point = bytes.strip_prefix(&P256_SPKI[..]).unwrap_or(&bytes);
            let compressed = bytes
                .strip_prefix(&P256_SPKI_COMPRESSED[..])
                .unwrap_or(&bytes);
            if compressed.len() == 33 && matches!(compressed[0], 2 | 3) {
                return Some(Err(KeyError::Compressed));
            }
            if point.len() != 65 || point[0] != 4 {
                return None;
            }
            point.to_vec()
        }
    };
    Some(Ok(PublicKey::from_raw(alg, raw)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    // SendGrid's SDK test key (sendgrid-python test/unit/test_eventwebhook.py).
    const SENDGRID: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g==";
    // RFC 8032 TEST 1 public key.
    const ED: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    fn pem(der: &[u8]) -> String {
        let b64 = STANDARD.encode(der);
        format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
    }

    #[test]
    fn every_form_of_one_ed25519_key_gives_the_same_key() {
        let raw = hex::decode(ED).expect("hex");
        let spki = [&ED25519_SPKI[..], &raw].concat();
        let forms: Vec<(&str, String)> = vec![
            ("hex", ED.to_owned()),
            ("hex", ED.to_ascii_uppercase()),
            ("hex", hex::encode(&spki)),
            ("base64", STANDARD.encode(&raw)),
            ("base64", STANDARD.encode(&spki)),
            ("whsec", format!("whpk_{}", STANDARD.encode(&raw))),
            (
                "whsec",
                format!("whpk_{}", STANDARD.encode(&raw).trim_end_matches('=')),
            ),
            ("hex", pem(&spki)),
            ("whsec", pem(&spki)),
        ];
        for (encoding, text) in forms {
            let key = parse(KeyAlg::Ed25519, encoding, text.as_bytes())
                .unwrap_or_else(|e| panic!("{encoding} {text}: {e}"));
            assert_eq!(key.bytes(), &raw[..], "{encoding} {text}");
        }
    }

    #[test]
    fn sendgrid_keys_parse_as_base64_der_or_pem_and_give_the_point() {
        let der = STANDARD.decode(SENDGRID).expect("b64");
        let a = parse(KeyAlg::EcdsaP256, "base64", SENDGRID.as_bytes()).expect("b64 der");
        let b = parse(KeyAlg::EcdsaP256, "base64", pem(&der).as_bytes()).expect("pem");
        assert_eq!(a.bytes(), &der[26..]);
        assert_eq!(a.bytes(), b.bytes());
        assert_eq!(a.bytes()[0], 4);
        let mut compressed = P256_SPKI_COMPRESSED.to_vec();
        compressed.push(2);
        compressed.extend(&der[27..59]);
        let text = STANDARD.encode(&compressed);
        let refused = parse(KeyAlg::EcdsaP256, "base64", text.as_bytes());
        assert_eq!(refused.map(|_| ()), Err(KeyError::Compressed));
    }

    #[test]
    fn wrong_forms_are_refused_without_echoing_the_key() {
        let cases: Vec<(KeyAlg, &str, String)> = vec![
            (KeyAlg::Ed25519, "hex", ED[..62].to_owned()),
            (KeyAlg::Ed25519, "hex", "zz".repeat(32)),
            (KeyAlg::Ed25519, "base64", STANDARD.encode([1u8; 31])),
            (
                KeyAlg::Ed25519,
                "whsec",
                format!("whsec_{}", STANDARD.encode([1u8; 32])),
            ),
            (KeyAlg::Ed25519, "utf8", ED.to_owned()),
            (KeyAlg::Ed25519, "base64", SENDGRID.to_owned()),
            (KeyAlg::EcdsaP256, "base64", STANDARD.encode([4u8; 64])),
            (
                KeyAlg::EcdsaP256,
                "hex",
                "-----BEGIN PUBLIC KEY-----\n!!\n".into(),
            ),
        ];
        for (alg, encoding, text) in cases {
            let err = parse(alg, encoding, text.as_bytes()).expect_err(&text);
            assert!(matches!(err, KeyError::Form(_)), "{text}: {err:?}");
            assert!(!err.to_string().contains(&text[..8]), "{err}");
        }
    }

    #[test]
    fn private_keys_are_refused_with_where_they_belong() {
        let whsk = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==";
        let err = parse(KeyAlg::Ed25519, "whsec", whsk.as_bytes()).expect_err("whsk");
        assert_eq!(err, KeyError::Whsk);
        assert!(err.to_string().contains("whpk_"));
        // RFC 8410 section 10.3's example private key.
        let private = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
        let err = parse(KeyAlg::Ed25519, "hex", private.as_bytes()).expect_err("private");
        assert_eq!(err, KeyError::PrivateKey);
        assert!(!err.to_string().contains("MC4CAQAw"));
    }
}
