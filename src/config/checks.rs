//! Compiling `verify:` entries: a `scheme:` looked up in the catalogue (or generic `hmac`,
//! `api-key`, `basic`), fields that make sense for it, secrets resolved into key bytes; or an
//! `any:` of checks. A failing check names the scheme's documentation.

use std::collections::HashSet;

use serde_saphyr::{Location, Spanned};

use crate::config::ctx::Ctx;
use crate::config::fetched;
use crate::config::handshakes;
use crate::config::secrets::{compile_secret, with_public_keys, KeyForm};
use crate::config::{CheckConfig, Checks, ConfigError};
use crate::verify::catalogue::{self, Kind, Row};
use crate::verify::mechanism;
use crate::verify::pubkey::KeyAlg;
use crate::verify::scheme::{self, Defaults, Fields, Part, PrefixRule, SigSpec, TsUnit};
use crate::verify::urlsign::{self, UrlSigned};
use crate::verify::{embedded, Check, CheckKind};

/// Default `tolerance` for signed timestamps.
pub const DEFAULT_TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// What a route gives its checks.
#[derive(Clone, Copy, Debug)]
pub struct RouteCtx<'a> {
    /// The route's name, for messages.
    pub name: &'a str,
    /// The route's `tolerance`, when set: it overrides every provider's own window.
    pub tolerance_ms: Option<i64>,
    /// The route's `public_url`, for schemes that sign the URL.
    pub public_url: Option<&'a str>,
}

/// Compiles a route's `verify:` (one check or a list).
pub fn compile_checks(
    ctx: &mut Ctx<'_>,
    route: &RouteCtx<'_>,
    verify: &Spanned<Checks>,
) -> Result<Vec<Check>, ConfigError> {
    if verify.value.0.is_empty() {
        let msg = format!("route `{}`: `verify` is empty", route.name);
        return Err(ctx.err(verify.referenced, msg));
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
    route: &RouteCtx<'_>,
    c: &CheckConfig,
    at: Location,
) -> Result<Check, ConfigError> {
    let name = route.name;
    match (&c.scheme, &c.any) {
        (Some(_), Some(_)) => Err(ctx.err(
            at,
            format!("route `{name}`: a check sets `scheme` or `any`, not both"),
        )),
        (None, None) => Err(ctx.err(
            at,
            format!("route `{name}`: a check needs `scheme` (see `hookguard schemes`) or `any`"),
        )),
        (None, Some(any)) => any_check(ctx, route, c, any, at),
        (Some(id), None) => scheme_check(ctx, route, c, id, at),
    }
}

fn any_check(
    ctx: &mut Ctx<'_>,
    route: &RouteCtx<'_>,
    c: &CheckConfig,
    any: &Spanned<Checks>,
    at: Location,
) -> Result<Check, ConfigError> {
    let name = route.name;
    if let Some(field) = set_fields(c).into_iter().find(|f| *f != "any") {
        let msg = format!("route `{name}`: `{field}` does not apply to an `any:` check; put it on one of its checks");
        return Err(ctx.err(at, msg));
    }
    if any.value.0.len() < 2 {
        let msg = format!(
            "route `{name}`: `any` needs at least two checks (a single check needs no `any`)"
        );
        return Err(ctx.err(any.referenced, msg));
    }
    let options = compile_checks(ctx, route, any)?;
    Ok(Check {
        scheme: "any",
        kind: CheckKind::Any(options),
        secrets: Vec::new(),
        tolerance_ms: route.tolerance_ms.unwrap_or(DEFAULT_TOLERANCE_MS),
        delivery_id: Vec::new(),
        handshake: None,
    })
}

fn scheme_check(
    ctx: &mut Ctx<'_>,
    route: &RouteCtx<'_>,
    c: &CheckConfig,
    id: &str,
    at: Location,
) -> Result<Check, ConfigError> {
    let name = route.name;
    let row = catalogue::find(id).ok_or_else(|| {
        let msg = format!(
            "route `{name}`: unknown scheme `{id}`; `hookguard schemes` lists the {} known ids",
            catalogue::rows().len()
        );
        ctx.err(at, msg)
    })?;
    let fail = |ctx: &Ctx<'_>, m: String| {
        let docs = &row.docs;
        ctx.err(
            at,
            format!("route `{name}`, scheme `{}`: {m} (see {docs})", row.id),
        )
    };
    foreign_fields(c, row).map_err(|m| fail(ctx, m))?;
    let mut kind = kind(c, row, route).map_err(|m| fail(ctx, m))?;
    let label = format!("route `{name}`, scheme `{}`", row.id);
    let handshake = handshakes::compile(ctx, &label, row, c)?;
    let key_encoding = match row.mechanism.as_deref() {
        Some("generic") => c.secret_encoding.as_deref().unwrap_or("utf8"),
        _ => row.secret_encoding.as_deref().unwrap_or("utf8"),
    };
    if !["utf8", "hex", "base64", "whsec"].contains(&key_encoding) {
        let m = format!("`secret_encoding` must be utf8, hex or base64, not `{key_encoding}`");
        return Err(fail(ctx, m));
    }
    if c.secrets.is_empty() && !fetched::fetches(row) {
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
                "route `{name}`: duplicate secret id `{}` in this check",
                s.value.id
            );
            return Err(ctx.err(s.referenced, msg));
        }
        let key = KeyForm {
            encoding: key_encoding,
            strip_prefix: &row.secret_strip_prefix,
        };
        let secret = compile_secret(ctx, name, &key, &kind, s)?;
        if let CheckKind::Embedded(mechanism) = &kind {
            if let Some(problem) = mechanism.key_problem(secret.secret.key.expose()) {
                let msg = format!("route `{name}`, secret `{}`: {problem}", s.value.id);
                return Err(ctx.err(s.referenced, msg));
            }
        }
        secrets.push(secret);
    }
    fetched::pin(&mut kind, &secrets).map_err(|m| fail(ctx, m))?;
    let kind = with_public_keys(kind, &secrets);
    let tolerance_ms = match (route.tolerance_ms, &row.tolerance) {
        (Some(t), _) => t,
        (None, Some(own)) => crate::config::parse_duration(own)
            .ok()
            .and_then(|d| i64::try_from(d.as_millis()).ok())
            .unwrap_or(DEFAULT_TOLERANCE_MS),
        (None, None) => DEFAULT_TOLERANCE_MS,
    };
    let delivery_id = row
        .delivery_id
        .iter()
        .filter_map(|h| scheme::header_name(h).ok())
        .collect();
    Ok(Check {
        scheme: row.id.as_str(),
        kind,
        secrets,
        tolerance_ms,
        delivery_id,
        handshake,
    })
}

/// How a row verifies, with the check's own fields where the scheme takes them.
fn kind(c: &CheckConfig, row: &Row, route: &RouteCtx<'_>) -> Result<CheckKind, String> {
    let header = |default: Option<&str>| -> Result<_, String> {
        let name = c
            .header
            .as_deref()
            .or(default)
            .ok_or("`header` is required")?;
        scheme::header_name(name)
    };
    if let Some(provider) = fetched::provider(row) {
        return fetched::kind(c, row, provider);
    }
    let row_header = row.header.as_ref().and_then(|h| h.names().first().copied());
    let mut spec = match (row.mechanism.as_deref(), row.kind) {
        (Some("generic"), _) => generic(c)?,
        (None, Kind::ApiKey) => {
            let header = header(row_header)?;
            let bearer = header == http::header::AUTHORIZATION;
            return Ok(CheckKind::ApiKey { header, bearer });
        }
        (None, Kind::Basic) => return Ok(CheckKind::Basic),
        (Some("microsoft-graph"), _) => return Ok(CheckKind::ClientState),
        (None, Kind::Token) => {
            return Ok(CheckKind::Token {
                header: header(row_header)?,
            })
        }
        (None, Kind::Hmac | Kind::UrlSigned | Kind::StandardWebhooks) => row.spec()?,
        (Some(m), Kind::Hmac) if mechanism::NAMES.contains(&m) => {
            mechanism::spec(m).ok_or("names a mechanism this hookguard lacks")?
        }
        (None, Kind::Ed25519 | Kind::EcdsaP256) => row.spec()?,
        (Some(m), Kind::UrlSigned) if urlsign::Mechanism::parse(m).is_some() => {
            let mechanism = urlsign::Mechanism::parse(m).ok_or("unknown mechanism")?;
            let public_url = needs_public_url(route)?.to_owned();
            return Ok(CheckKind::UrlSigned(UrlSigned {
                mechanism,
                public_url,
            }));
        }
        (Some(m), Kind::BodyEmbedded) if embedded::Mechanism::parse(m).is_some() => {
            let mechanism = embedded::Mechanism::parse(m).ok_or("unknown mechanism")?;
            return Ok(CheckKind::Embedded(mechanism));
        }
        (mechanism, kind) => {
            return Err(format!(
                "is not built into this hookguard ({} {})",
                kind.as_str(),
                mechanism.unwrap_or("")
            ))
        }
    };
    if spec.signs(&Part::Url) {
        spec.public_url = needs_public_url(route)?.to_owned();
    }
    Ok(match row.kind {
        Kind::Ed25519 => CheckKind::PublicKey {
            spec,
            alg: KeyAlg::Ed25519,
        },
        Kind::EcdsaP256 => CheckKind::PublicKey {
            spec,
            alg: KeyAlg::EcdsaP256,
        },
        _ => CheckKind::Hmac(spec),
    })
}

/// The route's `public_url`, which a scheme that signs the URL cannot do without.
fn needs_public_url<'a>(route: &RouteCtx<'a>) -> Result<&'a str, String> {
    route.public_url.ok_or_else(|| {
        format!(
            "signs the URL the sender called: set the route's `public_url` (e.g. https://hooks.example.com) so route `{}` can rebuild it",
            route.name
        )
    })
}

/// The names of the optional fields this check sets.
fn set_fields(c: &CheckConfig) -> Vec<&'static str> {
    let set = [
        ("any", c.any.is_some()),
        ("algorithm", c.algorithm.is_some()),
        ("header", c.header.is_some()),
        ("prefix", c.prefix.is_some()),
        ("encoding", c.encoding.is_some()),
        ("separator", c.separator.is_some()),
        ("timestamp_header", c.timestamp_header.is_some()),
        ("payload", c.payload.is_some()),
        ("secret_encoding", c.secret_encoding.is_some()),
        ("handshake", c.handshake.is_some()),
        ("verify_token", c.verify_token.is_some()),
        ("fetch_allow", c.fetch_allow.is_some()),
        ("webhook_id", c.webhook_id.is_some()),
        ("secrets", !c.secrets.is_empty()),
    ];
    let mut names: Vec<&'static str> = set
        .into_iter()
        .filter(|(_, s)| *s)
        .map(|(n, _)| n)
        .collect();
    names.extend(fetched::set_keys(c));
    names
}

const GENERIC_ONLY: [&str; 7] = [
    "algorithm",
    "prefix",
    "encoding",
    "separator",
    "timestamp_header",
    "payload",
    "secret_encoding",
];

/// Refuses fields the scheme does not take, saying which schemes do.
fn foreign_fields(c: &CheckConfig, row: &Row) -> Result<(), String> {
    let generic = row.mechanism.as_deref() == Some("generic");
    let takes_header = generic || matches!(row.kind, Kind::ApiKey | Kind::Token);
    for field in set_fields(c) {
        let ok = match field {
            f if GENERIC_ONLY.contains(&f) => generic,
            "header" => takes_header,
            "handshake" => row.handshake.is_some(),
            "verify_token" => handshakes::takes_verify_token(row),
            f => fetched::takes(row, f).unwrap_or(true),
        };
        if !ok {
            return Err(match field {
                f if GENERIC_ONLY.contains(&f) => format!("`{f}` applies only to scheme `hmac`"),
                "header" => {
                    "`header` applies only to schemes `hmac`, `api-key` and token schemes".into()
                }
                f => format!("`{f}` does not apply to this scheme"),
            });
        }
    }
    if let Some(h) = &c.handshake {
        if h != "forward" {
            return Err(format!(
                "`handshake` can only be `forward` (hand the challenge to the upstream), not `{h}`"
            ));
        }
    }
    Ok(())
}

/// Generic `hmac`: every field from the check; `hex` in either case, prefix optional,
/// timestamps in seconds or milliseconds.
fn generic(c: &CheckConfig) -> Result<SigSpec, String> {
    let header = c
        .header
        .as_deref()
        .ok_or("`header` is required for scheme `hmac`")?;
    let fields = Fields {
        algorithm: c.algorithm.as_deref(),
        headers: vec![header],
        prefix: c.prefix.as_deref(),
        separator: c.separator.as_deref(),
        timestamp_header: c.timestamp_header.as_deref(),
        payload: c.payload.as_deref(),
        encoding: c.encoding.as_deref(),
        ..Fields::default()
    };
    let defaults = Defaults {
        strict_hex: false,
        prefix_rule: PrefixRule::Optional,
        timestamp_unit: TsUnit::Auto,
    };
    scheme::build(&fields, defaults)
}
