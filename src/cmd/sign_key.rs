//! `hookguard sign` for public-key checks: the sender's private key (`--private-key FILE`, a
//! PKCS#8 PEM key or a Standard Webhooks `whsk_` key) signs what Discord, Telnyx, SendGrid or
//! a Standard Webhooks `v1a` sender signs, for tests. Without a key, a Standard Webhooks check
//! that also holds `whsec_` secrets signs `v1` with one of them, as for a plain HMAC check.

use std::path::Path;

use ring::rand::SystemRandom;

use crate::verify::catalogue::{Kind, Row};
use crate::verify::keyform;
use crate::verify::privkey::PrivateKey;
use crate::verify::pubkey::KeyAlg;
use crate::verify::scheme::{SigFormat, SigSpec};
use crate::verify::secret::UnixMillis;
use crate::verify::sign::{sign, sign_with_key, Delivery};
use crate::verify::Check;

/// Why a public-key check could not be signed. Never contains key material.
#[derive(Debug, thiserror::Error)]
pub enum SignKeyError {
    /// The key file could not be read.
    #[error("--private-key {path}: {reason}")]
    Read {
        /// The path given.
        path: String,
        /// The I/O error, or why the contents are not a usable key.
        reason: String,
    },
    /// The key is of another algorithm than the check verifies.
    #[error(
        "--private-key holds an {key} key, but the {scheme} check verifies {check} signatures"
    )]
    Algorithm {
        /// The check's scheme.
        scheme: &'static str,
        /// The key's algorithm.
        key: &'static str,
        /// The check's algorithm.
        check: &'static str,
    },
    /// No key was given, and the check has no HMAC secret to sign with.
    #[error("the {scheme} check verifies the sender's {alg} signature: pass --private-key FILE (the sender's PKCS#8 PEM private key) to sign as the sender would")]
    NeedsKey {
        /// The check's scheme.
        scheme: &'static str,
        /// The check's algorithm.
        alg: &'static str,
    },
    /// ring could not sign.
    #[error("--private-key could not sign")]
    Sign,
}

/// Reads and parses `--private-key FILE`.
pub fn load(path: &Path) -> Result<PrivateKey, SignKeyError> {
    let read = |reason: String| SignKeyError::Read {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read(path).map_err(|e| read(e.to_string()))?;
    PrivateKey::parse(&text, &SystemRandom::new()).map_err(|e| read(e.to_string()))
}

/// The headers for one public-key check (`spec`, `alg`) of `delivery`: signed with `key`, or
/// without one, with the check's `whsec_` secret (`secret`, else the first active one).
pub fn sign_public(
    check: &Check,
    (spec, alg): (&SigSpec, KeyAlg),
    key: Option<&PrivateKey>,
    secret: Option<&str>,
    delivery: &Delivery<'_>,
    now: UnixMillis,
) -> Result<Vec<(String, String)>, SignKeyError> {
    let Some(key) = key else {
        return sign_v1(check, spec, secret, delivery, now).ok_or(SignKeyError::NeedsKey {
            scheme: check.scheme,
            alg: alg.as_str(),
        });
    };
    if key.alg() != alg {
        return Err(SignKeyError::Algorithm {
            scheme: check.scheme,
            key: key.alg().as_str(),
            check: alg.as_str(),
        });
    }
    let held = check.secrets.iter().any(|s| {
        let public = s.public.as_ref();
        public.is_some_and(|p| p.bytes() == key.public_key())
    });
    if !held {
        eprintln!(
            "note: no public key of the {} check matches --private-key: the proxy will reject this signature",
            check.scheme
        );
    }
    sign_with_key(spec, key, delivery, &SystemRandom::new()).map_err(|_| SignKeyError::Sign)
}

/// Standard Webhooks `v1` under a `whsec_` secret of a check that also holds public keys.
fn sign_v1(
    check: &Check,
    spec: &SigSpec,
    secret: Option<&str>,
    delivery: &Delivery<'_>,
    now: UnixMillis,
) -> Option<Vec<(String, String)>> {
    let SigFormat::StandardWebhooks { svix_names, .. } = &spec.sig else {
        return None;
    };
    let mut hmacs = check.secrets.iter().filter(|s| s.mac.is_some());
    let chosen = match secret {
        Some(id) => hmacs.find(|s| &*s.secret.id == id),
        None => hmacs.find(|s| s.secret.window.contains(now)),
    }?;
    let mut v1 = spec.clone();
    v1.sig = SigFormat::StandardWebhooks {
        version: "v1".into(),
        svix_names: *svix_names,
    };
    Some(sign(&v1, chosen.mac.as_ref()?, delivery))
}

/// `gen-secret` for a public-key scheme: there is no shared secret to make, so nothing is
/// printed on stdout (a script capturing it gets nothing secret-like) and this explains where
/// the key comes from and how to test without the provider. `None` for other schemes.
pub fn no_shared_secret(row: &Row) -> Option<String> {
    let alg = match row.kind {
        Kind::Ed25519 => KeyAlg::Ed25519,
        Kind::EcdsaP256 => KeyAlg::EcdsaP256,
        _ => return None,
    };
    let encoding = row.secret_encoding.as_deref().unwrap_or("base64");
    let genpkey = match alg {
        KeyAlg::Ed25519 => "-algorithm ed25519",
        KeyAlg::EcdsaP256 => "-algorithm EC -pkeyopt ec_paramgen_curve:P-256",
    };
    Some(format!(
        "scheme `{id}` has no shared secret to generate: {name} signs with its own {alg} private key and hands out the public key. \
Put that public key in the secret's `value`, `env` or `file`; it is {form} (see {docs}). \
To test without {name}: `openssl genpkey {genpkey} -out sender.pem`, configure the output of `openssl pkey -in sender.pem -pubout` as the secret, \
and sign with `hookguard sign --private-key sender.pem`.",
        id = row.id,
        name = row.name,
        alg = alg.as_str(),
        form = keyform::describe(alg, encoding),
        docs = row.docs,
    ))
}
