//! A check's handshake: the kind its catalogue row names, `handshake: forward`, and the
//! `verify_token:` some providers' challenges need (read from `value`, `env` or `file`, never
//! echoed in an error).

use serde_saphyr::Location;

use crate::config::ctx::Ctx;
use crate::config::{CheckConfig, ConfigError, SourceConfig};
use crate::verify::catalogue::Row;
use crate::verify::challenge::{Handshake, Kind};
use crate::verify::secret::Key;

/// The handshake a row names, when this hookguard knows it.
pub fn kind(row: &Row) -> Option<Kind> {
    row.handshake.as_deref().and_then(Kind::parse)
}

/// Whether a check of this row may set `verify_token:`.
pub fn takes_verify_token(row: &Row) -> bool {
    kind(row).is_some_and(Kind::needs_token)
}

/// Compiles the check's handshake; `label` names the route and scheme in messages.
pub fn compile(
    ctx: &mut Ctx<'_>,
    label: &str,
    row: &Row,
    c: &CheckConfig,
) -> Result<Option<Handshake>, ConfigError> {
    let Some(kind) = kind(row) else {
        return Ok(None);
    };
    let forward = c.handshake.as_deref() == Some("forward");
    // Without a verify token a challenge that needs one is not answered: it goes the ordinary
    // way (refused in enforce mode, as an unsigned GET is), so a route that only verifies
    // signatures keeps working as before.
    let verify_token = match &c.verify_token {
        Some(source) => Some(token(ctx, label, &source.value, source.referenced)?),
        None => None,
    };
    Ok(Some(Handshake {
        kind,
        forward,
        verify_token,
    }))
}

fn token(
    ctx: &mut Ctx<'_>,
    label: &str,
    source: &SourceConfig,
    at: Location,
) -> Result<Key, ConfigError> {
    let bytes = match (&source.value, &source.env, &source.file) {
        (Some(v), None, None) => v.as_bytes().to_vec(),
        (None, Some(var), None) => std::env::var_os(var)
            .ok_or_else(|| {
                let msg =
                    format!("{label}: `verify_token`: environment variable `{var}` is not set");
                ctx.err(at, msg)
            })?
            .into_encoded_bytes(),
        (None, None, Some(path)) => {
            let mut bytes = ctx.read(at, &format!("verify_token file for {label}"), path)?;
            if bytes.last() == Some(&b'\n') {
                bytes.pop();
                if bytes.last() == Some(&b'\r') {
                    bytes.pop();
                }
            }
            bytes
        }
        _ => {
            let msg =
                format!("{label}: `verify_token`: set exactly one of `value`, `env` or `file`");
            return Err(ctx.err(at, msg));
        }
    };
    if bytes.trim_ascii().is_empty() {
        return Err(ctx.err(at, format!("{label}: `verify_token` is empty")));
    }
    if std::str::from_utf8(&bytes).is_err() {
        return Err(ctx.err(at, format!("{label}: `verify_token` is not UTF-8 text")));
    }
    Ok(Key::new(bytes))
}
