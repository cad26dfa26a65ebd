//! Compiling `verify:` entries: scheme fields that make sense together, secrets resolved from
//! `value`, `env` or `file` into key bytes, and HMAC states keyed once.

use std::collections::HashSet;

use base64::Engine;
use http::HeaderName;
use serde_saphyr::{Location, Spanned};

use crate::config::ctx::Ctx;
use crate::config::{CheckConfig, Checks, ConfigError, SecretConfig};
use crate::verify::mac::{Algorithm, PreparedMac};
use crate::verify::scheme::{
    self, Encoding, HmacSpec, Part, PrefixRule, SchemeName, SigFormat, TimestampSpec,
};
use crate::verify::secret::{Key, Secret, Window};
use crate::verify::{Check, CheckKind, CompiledSecret};

/// Compiles a route's `verify:` (one check or a list).
pub fn compile_checks(
    ctx: &mut Ctx<'_>,
    route: &str,
    verify: &Spanned<Checks>,
) -> Result<Vec<Check>, ConfigError> {
    if verify.value.0.is_empty() {
        return Err(ctx.err(
            verify.referenced,
            format!("route `{route}`: `verify` is empty"),
        ));
    }
    verify
        .value
        .0
        .iter()
        .map(|c| {
            let at = if c.referenced.line() == 0 {
                verify.referenced
            } else {
                c.referenced
            };
            check(ctx, route, &c.value, at)
        })
        .collect()
}

fn check(
    ctx: &mut Ctx<'_>,
    route: &str,
    c: &CheckConfig,
    at: Location,
) -> Result<Check, ConfigError> {
    let scheme = SchemeName::parse(c.scheme.trim()).ok_or_else(|| {
        let names = SchemeName::NAMES.join(", ");
        ctx.err(
            at,
            format!(
                "route `{route}`: unknown scheme `{}`; use one of {names}",
                c.scheme
            ),
        )
    })?;
    let fail = |ctx: &Ctx<'_>, m: String| {
        ctx.err(at, format!("route `{route}`, scheme `{}`: {m}", c.scheme))
    };
    reject_foreign_fields(c, scheme).map_err(|m| fail(ctx, m))?;
    let kind = match scheme {
        SchemeName::ApiKey => api_key(c).map_err(|m| fail(ctx, m))?,
        SchemeName::Basic => CheckKind::Basic,
        SchemeName::Hmac => CheckKind::Hmac(generic(c).map_err(|m| fail(ctx, m))?),
        preset => match scheme::preset(preset) {
            Some(spec) => CheckKind::Hmac(spec),
            None => return Err(fail(ctx, "has no preset".into())),
        },
    };
    let key_encoding = c.secret_encoding.as_deref().unwrap_or("utf8");
    if !["utf8", "hex", "base64"].contains(&key_encoding) {
        return Err(fail(
            ctx,
            format!("`secret_encoding` must be utf8, hex or base64, not `{key_encoding}`"),
        ));
    }
    if c.secrets.is_empty() {
        return Err(fail(
            ctx,
            "`secrets` is empty: add at least one secret".into(),
        ));
    }
    let mut seen = HashSet::new();
    let mut secrets = Vec::with_capacity(c.secrets.len());
    for s in &c.secrets {
        if !seen.insert(s.value.id.as_str()) {
            let msg = format!(
                "route `{route}`: duplicate secret id `{}` in this check",
                s.value.id
            );
            return Err(ctx.err(s.referenced, msg));
        }
        secrets.push(compile_secret(ctx, route, scheme, key_encoding, &kind, s)?);
    }
    Ok(Check {
        scheme,
        kind,
        secrets,
        delivery_id: delivery_id(scheme),
    })
}

/// The headers naming a preset's delivery id (replay protection's `key: auto`).
fn delivery_id(scheme: SchemeName) -> Vec<HeaderName> {
    let names: &[&'static str] = match scheme {
        SchemeName::StandardWebhooks => &["webhook-id", "svix-id"],
        SchemeName::Github => &["x-github-delivery"],
        SchemeName::Shopify => &["x-shopify-webhook-id"],
        _ => &[],
    };
    names.iter().map(|n| HeaderName::from_static(n)).collect()
}

const GENERIC_FIELDS: [&str; 7] = [
    "algorithm",
    "prefix",
    "encoding",
    "separator",
    "timestamp_header",
    "payload",
    "secret_encoding",
];

fn reject_foreign_fields(c: &CheckConfig, scheme: SchemeName) -> Result<(), String> {
    if scheme == SchemeName::Hmac {
        return Ok(());
    }
    let set = [
        c.algorithm.is_some(),
        c.prefix.is_some(),
        c.encoding.is_some(),
        c.separator.is_some(),
        c.timestamp_header.is_some(),
        c.payload.is_some(),
        c.secret_encoding.is_some(),
    ];
    if let Some((name, _)) = GENERIC_FIELDS.iter().zip(set).find(|(_, s)| *s) {
        return Err(format!("`{name}` applies only to scheme `hmac`"));
    }
    if c.header.is_some() && scheme != SchemeName::ApiKey {
        return Err("`header` applies only to schemes `hmac` and `api-key`".into());
    }
    Ok(())
}

fn header_name(s: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(s.trim().as_bytes())
        .map_err(|_| format!("`{s}` is not a valid header name"))
}

fn api_key(c: &CheckConfig) -> Result<CheckKind, String> {
    let header = header_name(c.header.as_deref().unwrap_or("x-api-key"))?;
    let bearer = header == http::header::AUTHORIZATION;
    Ok(CheckKind::ApiKey { header, bearer })
}

fn generic(c: &CheckConfig) -> Result<HmacSpec, String> {
    let header = header_name(
        c.header
            .as_deref()
            .ok_or("`header` is required for scheme `hmac`")?,
    )?;
    let algorithm_name = c.algorithm.as_deref().unwrap_or("sha256");
    let algorithm = Algorithm::parse(algorithm_name).ok_or_else(|| {
        format!("`algorithm` must be sha1, sha256 or sha512, not `{algorithm_name}`")
    })?;
    let encoding = match c.encoding.as_deref().unwrap_or("hex") {
        "hex" => Encoding::Hex,
        "base64" => Encoding::Base64,
        "base64url" => Encoding::Base64Url,
        other => {
            return Err(format!(
                "`encoding` must be hex, base64 or base64url, not `{other}`"
            ))
        }
    };
    if c.separator.as_deref() == Some("") {
        return Err("`separator` is empty".into());
    }
    if c.prefix.as_deref() == Some("") {
        return Err("`prefix` is empty".into());
    }
    let payload = scheme::parse_template(c.payload.as_deref().unwrap_or("{body}"))?;
    let timestamp = match &c.timestamp_header {
        Some(h) => Some(TimestampSpec {
            header: Some(header_name(h)?),
            millis: true,
        }),
        None if payload.contains(&Part::Timestamp) => {
            return Err("`payload` uses {timestamp} but no `timestamp_header` is set".into())
        }
        None => None,
    };
    if timestamp.is_some() && !payload.contains(&Part::Timestamp) {
        return Err("`timestamp_header` is set but `payload` does not sign {timestamp}: a captured delivery could be replayed with a fresh timestamp; add {timestamp} to `payload`".into());
    }
    let sig = SigFormat::List {
        header,
        separator: c.separator.clone(),
        prefix: c.prefix.clone(),
        prefix_rule: PrefixRule::Optional,
    };
    Ok(HmacSpec {
        algorithm,
        encoding,
        sig,
        timestamp,
        payload,
    })
}

fn compile_secret(
    ctx: &mut Ctx<'_>,
    route: &str,
    scheme: SchemeName,
    key_encoding: &str,
    kind: &CheckKind,
    s: &Spanned<SecretConfig>,
) -> Result<CompiledSecret, ConfigError> {
    let (cfg, at) = (&s.value, s.referenced);
    let label = format!("route `{route}`, secret `{}`", cfg.id);
    if cfg.id.trim().is_empty() {
        return Err(ctx.err(at, format!("route `{route}`: a secret has an empty `id`")));
    }
    let raw = secret_bytes(ctx, &label, cfg, at)?;
    let key =
        decode_key(scheme, key_encoding, raw).map_err(|m| ctx.err(at, format!("{label}: {m}")))?;
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
        CheckKind::Hmac(spec) => Some(PreparedMac::new(spec.algorithm, key.expose())),
        _ => None,
    };
    let digest = key.digest();
    Ok(CompiledSecret {
        secret: Secret::new(&cfg.id, key, window),
        mac,
        digest,
    })
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

/// Turns configured secret bytes into key bytes: `whsec_<base64>` for Standard Webhooks,
/// `secret_encoding` for generic HMAC, the bytes themselves otherwise.
pub fn decode_key(scheme: SchemeName, key_encoding: &str, raw: Vec<u8>) -> Result<Key, String> {
    use base64::engine::general_purpose::STANDARD;
    let bytes = match (scheme, key_encoding) {
        (SchemeName::StandardWebhooks, _) => {
            let b64 = raw.strip_prefix(b"whsec_").unwrap_or(&raw);
            STANDARD
                .decode(b64)
                .map_err(|_| "is not `whsec_` followed by base64".to_owned())?
        }
        (_, "hex") => hex::decode(raw.trim_ascii())
            .map_err(|_| "is not hex (secret_encoding: hex)".to_owned())?,
        (_, "base64") => STANDARD
            .decode(raw.trim_ascii())
            .map_err(|_| "is not base64 (secret_encoding: base64)".to_owned())?,
        _ => raw,
    };
    if bytes.is_empty() {
        return Err("is empty".into());
    }
    Ok(Key::new(bytes))
}
