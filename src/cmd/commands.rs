//! The offline commands: `check`, `sign`, `verify`, `gen-secret`. Each writes its report to
//! `out` and returns the exit code; none ever prints a secret value (`gen-secret` prints only
//! the fresh one it made).

use std::io::{Read, Write};
use std::path::Path;

use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use rand::RngCore;

use crate::cmd::cli::{EXIT_INVALID, EXIT_OK, EXIT_USAGE};
use crate::config::clock::rfc3339;
use crate::config::compile::load;
use crate::config::snapshot::Snapshot;
use crate::verify::scheme::SchemeName;
use crate::verify::secret::{Secret, UnixMillis};
use crate::verify::sign::{sign, Delivery};
use crate::verify::{verify_check, CheckKind, Request};

/// A command's failure: what to print on stderr and the exit code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// One readable line.
    pub message: String,
    /// The exit code.
    pub code: u8,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        code: EXIT_USAGE,
    }
}

fn load_snapshot(path: &Path) -> Result<Snapshot, Failure> {
    load(path).map_err(|e| usage(e.to_string()))
}

/// `hookguard check`: validates and lists routes, checks, secret ids, fingerprints, windows.
pub fn check(path: &Path, now: UnixMillis, out: &mut dyn Write) -> Result<u8, Failure> {
    let snap = load_snapshot(path)?;
    let w = |out: &mut dyn Write, s: String| writeln!(out, "{s}").map_err(|e| usage(e.to_string()));
    w(out, format!("config {}: valid", path.display()))?;
    w(
        out,
        format!(
            "listen {} ({})",
            snap.listen,
            if snap.tls.is_some() {
                "TLS"
            } else {
                "plain HTTP"
            }
        ),
    )?;
    if let Some(admin) = snap.admin {
        w(out, format!("admin  {admin}"))?;
    }
    for r in &snap.routes {
        let host = r
            .host
            .as_deref()
            .map(|h| format!(" host {h}"))
            .unwrap_or_default();
        let upstream = format!("{}://{}", r.upstream.scheme, r.upstream.authority);
        w(
            out,
            format!(
                "route {} path {}{host} -> {upstream} mode {:?}",
                r.name, r.path, r.mode
            ),
        )?;
        for (i, c) in r.checks.iter().enumerate() {
            w(
                out,
                format!("  check {} scheme {}", i + 1, c.scheme.as_str()),
            )?;
            for s in &c.secrets {
                w(out, format!("    secret {}", describe(&s.secret, now)))?;
            }
            if !c.secrets.iter().any(|s| s.secret.window.contains(now)) {
                w(
                    out,
                    "    WARNING: no secret is active now: every request will be rejected".into(),
                )?;
            }
        }
        if let Some(replay) = &r.replay {
            let tolerance = std::time::Duration::from_millis(r.tolerance_ms.unsigned_abs());
            let line = replay.describe(r.checks.first(), tolerance);
            w(out, format!("  replay {line}"))?;
        }
    }
    Ok(EXIT_OK)
}

/// `id fingerprint=... state not_before=... expires=...`.
pub fn describe(s: &Secret, now: UnixMillis) -> String {
    let state = s.window.state(now);
    let nb = s
        .window
        .not_before
        .map(|t| format!(" not_before={}", rfc3339(t)))
        .unwrap_or_default();
    let ex = s
        .window
        .expires
        .map(|t| format!(" expires={}", rfc3339(t)))
        .unwrap_or_default();
    format!("{} fingerprint={} {state}{nb}{ex}", s.id, s.fingerprint)
}

/// Arguments of `hookguard sign`.
pub struct SignArgs<'a> {
    /// Route name.
    pub route: &'a str,
    /// Secret id, or the first active one.
    pub secret: Option<&'a str>,
    /// Body bytes.
    pub body: &'a [u8],
    /// Timestamp to sign.
    pub timestamp: &'a str,
    /// Message id.
    pub id: &'a str,
}

/// `hookguard sign`: the headers each HMAC check of the route needs.
pub fn sign_cmd(
    snap: &Snapshot,
    args: &SignArgs<'_>,
    now: UnixMillis,
    out: &mut dyn Write,
) -> Result<u8, Failure> {
    let route = snap
        .route_named(args.route)
        .ok_or_else(|| usage(format!("no route named `{}`", args.route)))?;
    let empty = HeaderMap::new();
    let delivery = Delivery {
        method: "POST",
        path: &route.path,
        headers: &empty,
        body: args.body,
        timestamp: args.timestamp,
        id: args.id,
    };
    let mut signed_any = false;
    for check in &route.checks {
        let CheckKind::Hmac(spec) = &check.kind else {
            eprintln!(
                "note: the {} check carries the secret itself; add it yourself",
                check.scheme.as_str()
            );
            continue;
        };
        let chosen = match args.secret {
            Some(id) => check.secrets.iter().find(|s| &*s.secret.id == id),
            None => check.secrets.iter().find(|s| s.secret.window.contains(now)),
        };
        let Some(mac) = chosen.and_then(|s| s.mac.as_ref()) else {
            return Err(usage(match args.secret {
                Some(id) => format!(
                    "route `{}` has no secret `{id}` in its {} check",
                    route.name,
                    check.scheme.as_str()
                ),
                None => format!(
                    "route `{}`: no secret of its {} check is active now; pass --secret",
                    route.name,
                    check.scheme.as_str()
                ),
            }));
        };
        for (name, value) in sign(spec, mac, &delivery) {
            writeln!(out, "{name}: {value}").map_err(|e| usage(e.to_string()))?;
        }
        signed_any = true;
    }
    if !signed_any {
        return Err(usage(format!(
            "route `{}` has no HMAC check to sign",
            route.name
        )));
    }
    Ok(EXIT_OK)
}

/// A captured delivery: method, path and headers read from a `Name: value` file.
pub struct Captured {
    /// From a leading request line, else `POST`.
    pub method: String,
    /// From a leading request line, else the route's path.
    pub path: Option<String>,
    /// Every header line, in order (repeats kept).
    pub headers: HeaderMap,
}

/// Parses a headers file: `Name: value` lines, blank lines ignored, an optional request line.
pub fn parse_headers(text: &str) -> Result<Captured, Failure> {
    let mut captured = Captured {
        method: "POST".into(),
        path: None,
        headers: HeaderMap::new(),
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if captured.headers.is_empty() && captured.path.is_none() {
            if let Some((method, path)) = request_line(line) {
                captured.method = method.to_owned();
                captured.path = Some(path.to_owned());
                continue;
            }
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| usage(format!("headers line {}: expected `Name: value`", n + 1)))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| usage(format!("headers line {}: invalid header name", n + 1)))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| usage(format!("headers line {}: invalid header value", n + 1)))?;
        captured.headers.append(name, value);
    }
    Ok(captured)
}

/// `POST /path HTTP/1.1` (or without the version) → method and path.
fn request_line(line: &str) -> Option<(&str, &str)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let method_like = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_uppercase());
    match words.as_slice() {
        [m, p] | [m, p, _] if method_like(m) && p.starts_with('/') => {
            let version_ok = words.get(2).is_none_or(|v| v.starts_with("HTTP/"));
            version_ok.then_some((*m, *p))
        }
        _ => None,
    }
}

/// `hookguard verify`: every check's verdict; exit 0 when all pass, 2 otherwise.
pub fn verify_cmd(
    snap: &Snapshot,
    route: &str,
    captured: &Captured,
    body: &[u8],
    now: UnixMillis,
    out: &mut dyn Write,
) -> Result<u8, Failure> {
    let route = snap
        .route_named(route)
        .ok_or_else(|| usage(format!("no route named `{route}`")))?;
    let req = Request {
        method: &captured.method,
        path: captured.path.as_deref().unwrap_or(&route.path),
        headers: &captured.headers,
        body,
    };
    let mut code = EXIT_OK;
    let mut ids = Vec::new();
    for (i, check) in route.checks.iter().enumerate() {
        let scheme = check.scheme.as_str();
        match verify_check(check, &req, route.tolerance_ms, now) {
            Ok(id) => {
                let _ = writeln!(out, "check {} ({scheme}): valid, secret {id}", i + 1);
                ids.push(id.to_string());
            }
            Err(reason) => {
                code = EXIT_INVALID;
                let _ = writeln!(
                    out,
                    "check {} ({scheme}): invalid: {}: {}",
                    i + 1,
                    reason.as_str(),
                    explain(reason)
                );
                for s in &check.secrets {
                    let _ = writeln!(out, "  secret {}", describe(&s.secret, now));
                }
            }
        }
    }
    let verdict = if code == EXIT_OK {
        format!("valid: secret {}", ids.join(","))
    } else {
        "invalid".into()
    };
    writeln!(out, "{verdict}").map_err(|e| usage(e.to_string()))?;
    Ok(code)
}

fn explain(reason: crate::verify::Reason) -> &'static str {
    use crate::verify::Reason::*;
    match reason {
        Missing => "a signature, timestamp, id or key header the scheme needs is absent",
        Malformed => "a header is present but unreadable (encoding, prefix, repeated line, timestamp)",
        Invalid => "no signature matches any secret active at this time (wrong secret, or body/timestamp changed)",
        Stale => "the signed timestamp is outside the route's tolerance",
        NoActiveSecret => "no secret of this check is active at this time",
    }
}

/// Reads a file, or stdin for `-`.
pub fn read_input(path: &Path) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    let result = if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::read(path).map(|b| bytes = b)
    };
    result.map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    Ok(bytes)
}

/// `hookguard gen-secret`: a fresh random secret in the scheme's native form.
pub fn gen_secret(scheme: &str) -> Result<String, Failure> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let scheme = SchemeName::parse(scheme).ok_or_else(|| {
        usage(format!(
            "unknown scheme `{scheme}`; use one of {}",
            SchemeName::NAMES.join(", ")
        ))
    })?;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Ok(match scheme {
        SchemeName::StandardWebhooks => format!("whsec_{}", STANDARD.encode(bytes)),
        SchemeName::Stripe => format!("whsec_{}", URL_SAFE_NO_PAD.encode(bytes)),
        SchemeName::ApiKey => URL_SAFE_NO_PAD.encode(bytes),
        SchemeName::Basic => format!("hookguard:{}", URL_SAFE_NO_PAD.encode(&bytes[..24])),
        _ => hex::encode(bytes),
    })
}
