//! Secrets as configured (`value`, `env` or `file`) resolved into key bytes, their validity
//! window and their prepared MAC state, or, for public-key schemes, the sender's public key.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use serde_saphyr::{Location, Spanned};

use crate::config::ctx::Ctx;
use crate::config::{ConfigError, SecretConfig};
use crate::verify::keyform;
use crate::verify::mac::PreparedMac;
use crate::verify::pubkey::KeyAlg;
use crate::verify::scheme::SigFormat;
use crate::verify::secret::{Key, Secret, Window};
use crate::verify::{CheckKind, CompiledSecret};

/// How a scheme's secrets, as the provider hands them out, become key bytes.
#[derive(Clone, Copy, Debug)]
pub struct KeyForm<'a> {
    /// `utf8`, `hex`, `base64` or `whsec` (see [`decode_key`]).
    pub encoding: &'a str,
    /// Prefixes of which one, when the secret starts with it, is removed first (Clearbit's SDK
    /// keys with the API key minus its `sk_`/`pk_`).
    pub strip_prefix: &'a [String],
}

/// Resolves one configured secret into key bytes, its window and its prepared MAC.
pub fn compile_secret(
    ctx: &mut Ctx<'_>,
    route: &str,
    key_form: &KeyForm<'_>,
    kind: &CheckKind,
    s: &Spanned<SecretConfig>,
) -> Result<CompiledSecret, ConfigError> {
    let (cfg, at) = (&s.value, s.referenced);
    let label = format!("route `{route}`, secret `{}`", cfg.id);
    if cfg.id.trim().is_empty() {
        return Err(ctx.err(at, format!("route `{route}`: a secret has an empty `id`")));
    }
    let raw = strip_prefix(secret_bytes(ctx, &label, cfg, at)?, key_form.strip_prefix);
    let key_encoding = key_form.encoding;
    let (key, public) = match public_alg(kind, &raw) {
        Some(alg) => {
            let public = keyform::parse(alg, key_encoding, &raw)
                .map_err(|e| ctx.err(at, format!("{label}: {e}")))?;
            (Key::new(public.bytes().to_vec()), Some(public))
        }
        None => {
            let key = decode_key(key_encoding, raw);
            (key.map_err(|m| ctx.err(at, format!("{label}: {m}")))?, None)
        }
    };
    let window = Window {
        not_before: cfg.not_before.as_ref().map(|t| t.value.0),
        expires: cfg.expires.as_ref().map(|t| t.value.0),
    };
    if let (Some(nb), Some(ex)) = (window.not_before, window.expires) {
        if ex <= nb {
            let at = cfg.expires.as_ref().map_or(at, |t| t.referenced);
            return Err(ctx.err(at, format!("{label}: `expires` is not after `not_before`")));
        }
    }
    let mac = match kind {
        CheckKind::Hmac(spec) if public.is_none() => {
            Some(PreparedMac::new(spec.algorithm, key.expose()))
        }
        _ => None,
    };
    let digest = key.digest();
    Ok(CompiledSecret {
        secret: Secret::new(&cfg.id, key, window),
        mac,
        public,
        digest,
    })
}

/// The algorithm when this secret is a sender's public key: every secret of a public-key
/// scheme, and a `whpk_` (or misplaced `whsk_`) value in a Standard Webhooks check.
fn public_alg(kind: &CheckKind, raw: &[u8]) -> Option<KeyAlg> {
    let text = raw.trim_ascii_start();
    match kind {
        CheckKind::PublicKey { alg, .. } => Some(*alg),
        CheckKind::Hmac(spec)
            if matches!(spec.sig, SigFormat::StandardWebhooks { .. })
                && (text.starts_with(b"whpk_") || text.starts_with(b"whsk_")) =>
        {
            Some(KeyAlg::Ed25519)
        }
        _ => None,
    }
}

/// A Standard Webhooks check whose secrets include `whpk_` public keys verifies `v1a`
/// (Ed25519) entries with them, and its `v1` entries with the `whsec_` secrets beside them;
/// every other check is returned as it is.
pub fn with_public_keys(kind: CheckKind, secrets: &[CompiledSecret]) -> CheckKind {
    match kind {
        CheckKind::Hmac(mut spec) if secrets.iter().any(|s| s.public.is_some()) => {
            if let SigFormat::StandardWebhooks { version, .. } = &mut spec.sig {
                *version = "v1a".into();
            }
            CheckKind::PublicKey {
                spec,
                alg: KeyAlg::Ed25519,
            }
        }
        other => other,
    }
}

fn secret_bytes(
    ctx: &mut Ctx<'_>,
    label: &str,
    cfg: &SecretConfig,
    at: Location,
) -> Result<Vec<u8>, ConfigError> {
    match (&cfg.value, &cfg.env, &cfg.file) {
        (Some(v), None, None) => Ok(v.as_bytes().to_vec()),
        (None, Some(var), None) => match std::env::var_os(var) {
            Some(v) => Ok(v.into_encoded_bytes()),
            None => Err(ctx.err(
                at,
                format!("{label}: environment variable `{var}` is not set"),
            )),
        },
        (None, None, Some(path)) => {
            let mut bytes = ctx.read(at, &format!("secret file for {label}"), path)?;
            if bytes.last() == Some(&b'\n') {
                bytes.pop();
                if bytes.last() == Some(&b'\r') {
                    bytes.pop();
                }
            }
            Ok(bytes)
        }
        _ => Err(ctx.err(
            at,
            format!("{label}: set exactly one of `value`, `env` or `file`"),
        )),
    }
}

/// Standard base64 as the Standard Webhooks libraries read a `whsec_` key (Python's
/// `b64decode`): padding optional, non-zero trailing bits ignored.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The secret without the first of `prefixes` it starts with.
fn strip_prefix(mut raw: Vec<u8>, prefixes: &[String]) -> Vec<u8> {
    if let Some(p) = prefixes.iter().find(|p| raw.starts_with(p.as_bytes())) {
        raw.drain(..p.len());
    }
    raw
}

/// Turns configured secret bytes into key bytes: `whsec` (an optional `whsec_` prefix, then
/// base64 whose missing `=` padding is restored, as the Standard Webhooks libraries do), `hex`,
/// `base64`, or the bytes themselves (`utf8`).
pub fn decode_key(key_encoding: &str, raw: Vec<u8>) -> Result<Key, String> {
    use base64::engine::general_purpose::STANDARD;
    let bytes = match key_encoding {
        "whsec" => {
            let b64 = raw.strip_prefix(b"whsec_").unwrap_or(&raw).trim_ascii();
            LENIENT
                .decode(b64)
                .map_err(|_| "is not `whsec_` followed by base64".to_owned())?
        }
        "hex" => hex::decode(raw.trim_ascii())
            .map_err(|_| "is not hex (secret_encoding: hex)".to_owned())?,
        "base64" => STANDARD
            .decode(raw.trim_ascii())
            .map_err(|_| "is not base64 (secret_encoding: base64)".to_owned())?,
        _ => raw,
    };
    if bytes.is_empty() {
        return Err("is empty".into());
    }
    Ok(Key::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whsec_keys_decode_with_or_without_prefix_and_padding() {
        let full = decode_key("whsec", b"whsec_aGVsbG8=".to_vec()).expect("padded");
        let bare = decode_key("whsec", b"aGVsbG8".to_vec()).expect("unpadded, no prefix");
        // Non-zero trailing bits, as Python's b64decode accepts them ("aGVsbG9" is "hello").
        let loose = decode_key("whsec", b"whsec_aGVsbG9".to_vec()).expect("trailing bits");
        assert_eq!(loose.expose(), b"hello");
        assert_eq!(full.expose(), b"hello");
        assert_eq!(bare.expose(), b"hello");
        assert!(decode_key("whsec", b"whsec_!!".to_vec()).is_err());
        assert!(decode_key("whsec", b"whsec_".to_vec()).is_err());
    }

    #[test]
    fn a_listed_prefix_is_stripped_once_and_others_are_kept() {
        let strip = ["sk_".to_owned(), "pk_".to_owned()];
        assert_eq!(strip_prefix(b"sk_abc".to_vec(), &strip), b"abc");
        assert_eq!(strip_prefix(b"pk_sk_abc".to_vec(), &strip), b"sk_abc");
        assert_eq!(strip_prefix(b"abc_sk_".to_vec(), &strip), b"abc_sk_");
        assert_eq!(strip_prefix(b"sk_abc".to_vec(), &[]), b"sk_abc");
    }

    #[test]
    fn hex_and_base64_keys_decode_and_utf8_keys_stay_bytes() {
        assert!(decode_key("hex", b"zz".to_vec()).is_err());
        assert_eq!(
            decode_key("hex", b"6869".to_vec())
                .map(|k| k.expose().to_vec())
                .ok(),
            Some(b"hi".to_vec())
        );
        assert_eq!(
            decode_key("base64", b"aGk=".to_vec())
                .map(|k| k.expose().to_vec())
                .ok(),
            Some(b"hi".to_vec())
        );
        assert_eq!(
            decode_key("utf8", b"aGk=".to_vec())
                .map(|k| k.expose().to_vec())
                .ok(),
            Some(b"aGk=".to_vec())
        );
    }
}
