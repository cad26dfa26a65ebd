//! The offline commands: `check`, `sign`, `verify`, `gen-secret`. Each writes its report to
//! `out` and returns the exit code; none ever prints a secret value (`gen-secret` prints only
//! the fresh one it made).

use std::io::{Read, Write};
use std::path::Path;

use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use rand::RngCore;

use crate::cmd::cli::{EXIT_INVALID, EXIT_OK, EXIT_USAGE};
use crate::cmd::explain;
use crate::cmd::sign_coded;
use crate::cmd::sign_key;
use crate::config::clock::rfc3339;
use crate::config::compile::load;
use crate::config::snapshot::Snapshot;
use crate::serve::keys::KeyCache;
use crate::verify::catalogue::{self, Kind};
use crate::verify::fetched::Keys;
use crate::verify::privkey::PrivateKey;
use crate::verify::scheme::TsUnit;
use crate::verify::secret::{Secret, UnixMillis};
use crate::verify::sign::{sign, Delivery};
use crate::verify::{verify_check_keyed, Check, CheckKind, Request};

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
            w(out, format!("  check {} scheme {}", i + 1, c.scheme))?;
            check_lines(c, now, "    ", out)?;
            if c.active_secrets(now) == 0 {
                w(
                    out,
                    "    WARNING: no secret is active now: every request will be rejected".into(),
                )?;
            }
            if let Some(advice) = c.fetched().and_then(|f| f.advice()) {
                w(out, format!("    WARNING: {advice}"))?;
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

fn w(out: &mut dyn Write, s: String) -> Result<(), Failure> {
    writeln!(out, "{s}").map_err(|e| usage(e.to_string()))
}

/// A check's secrets, and for an `any:` each option with its secrets, one line each.
fn check_lines(
    c: &Check,
    now: UnixMillis,
    indent: &str,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    if let CheckKind::Any(options) = &c.kind {
        for (i, o) in options.iter().enumerate() {
            w(out, format!("{indent}option {} scheme {}", i + 1, o.scheme))?;
            check_lines(o, now, &format!("{indent}  "), out)?;
        }
    }
    for s in &c.secrets {
        w(out, format!("{indent}secret {}", describe(&s.secret, now)))?;
    }
    Ok(())
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
    /// The request method.
    pub method: &'a str,
    /// The full URL the sender calls, when given.
    pub url: Option<&'a str>,
    /// The sender's private key (`--private-key`), for public-key checks.
    pub private_key: Option<&'a PrivateKey>,
}

/// `https://host:port/path?q` → (`https://host:port`, `/path?q`).
pub fn split_url(url: &str) -> Result<(String, String), Failure> {
    let uri: http::Uri = url
        .trim()
        .parse()
        .map_err(|e| usage(format!("--url `{url}` is not a URL: {e}")))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(usage(format!(
            "--url `{url}` needs a scheme and host, like https://hooks.example.com/path"
        )));
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let path = if path.is_empty() { "/" } else { path };
    Ok((format!("{scheme}://{authority}"), path.to_owned()))
}

/// `--timestamp` (Unix seconds, or as the sender writes it) in the unit a scheme signs.
fn stamp_for(unit: TsUnit, given: &str) -> String {
    let digits = !given.is_empty() && given.bytes().all(|b| b.is_ascii_digit());
    match given.parse::<i64>() {
        Ok(secs)
            if digits && given.len() < 13 && unit != TsUnit::Seconds && unit != TsUnit::Auto =>
        {
            crate::verify::sign::timestamp_text(unit, secs)
        }
        _ => given.to_owned(),
    }
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
    let (base, path) = match args.url {
        Some(url) => {
            let (base, path) = split_url(url)?;
            (Some(base), path)
        }
        None => (None, route.path.clone()),
    };
    let delivery = Delivery {
        method: args.method,
        path: &path,
        headers: &empty,
        body: args.body,
        timestamp: args.timestamp,
        id: args.id,
    };
    let checks: Vec<_> = match &base {
        Some(base) => route.checks.iter().map(|c| c.rebased(base)).collect(),
        None => route.checks.clone(),
    };
    let mut signed_any = false;
    let mut body = args.body.to_vec();
    let mut rewritten = false;
    for check in &checks {
        if let CheckKind::PublicKey { spec, alg } = &check.kind {
            let (key, secret) = (args.private_key, args.secret);
            let headers = sign_key::sign_public(check, (spec, *alg), key, secret, &delivery, now)
                .map_err(|e| usage(format!("route `{}`: {e}", route.name)))?;
            for (name, value) in headers {
                writeln!(out, "{name}: {value}").map_err(|e| usage(e.to_string()))?;
            }
            signed_any = true;
            continue;
        }
        if sign_coded::applies(check) {
            let input = sign_coded::Input {
                secret: args.secret,
                now,
                method: args.method,
                path: &path,
                body: &body,
                timestamp: args.timestamp,
                id: args.id,
            };
            let signed = sign_coded::sign(check, &input)
                .map_err(|m| usage(format!("route `{}`: {m}", route.name)))?;
            for (name, value) in &signed.headers {
                writeln!(out, "{name}: {value}").map_err(|e| usage(e.to_string()))?;
            }
            if let Some(signed_body) = signed.body {
                (body, rewritten) = (signed_body, true);
            }
            signed_any = true;
            continue;
        }
        let CheckKind::Hmac(spec) = &check.kind else {
            eprintln!(
                "note: the {} check carries the secret itself; add it yourself",
                check.scheme
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
                    route.name, check.scheme
                ),
                None => format!(
                    "route `{}`: no secret of its {} check is active now; pass --secret",
                    route.name, check.scheme
                ),
            }));
        };
        let unit = spec.timestamp.as_ref().map_or(TsUnit::Seconds, |t| t.unit);
        let stamp = stamp_for(unit, args.timestamp);
        let delivery = Delivery {
            timestamp: &stamp,
            ..delivery.clone()
        };
        for (name, value) in sign(spec, mac, &delivery) {
            writeln!(out, "{name}: {value}").map_err(|e| usage(e.to_string()))?;
        }
        signed_any = true;
    }
    if !signed_any {
        return Err(usage(format!(
            "route `{}` has no HMAC or public-key check to sign",
            route.name
        )));
    }
    let public = |c: &crate::verify::Check| matches!(c.kind, CheckKind::PublicKey { .. });
    if args.private_key.is_some() && !checks.iter().any(public) {
        let msg = format!(
            "--private-key: route `{}` has no public-key check",
            route.name
        );
        return Err(usage(msg));
    }
    if rewritten {
        // The signature travels in the body: the body to send follows a blank line.
        writeln!(out)
            .and_then(|()| out.write_all(&body))
            .map_err(|e| usage(e.to_string()))?;
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
    /// The full URL the sender called (`--url`).
    pub url: Option<String>,
}

/// Parses a headers file: `Name: value` lines, blank lines ignored, an optional request line.
pub fn parse_headers(text: &str) -> Result<Captured, Failure> {
    let mut captured = Captured {
        method: "POST".into(),
        path: None,
        headers: HeaderMap::new(),
        url: None,
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
    let url = captured.url.as_deref().map(split_url).transpose()?;
    let checks: Vec<_> = match &url {
        Some((base, _)) => route.checks.iter().map(|c| c.rebased(base)).collect(),
        None => route.checks.clone(),
    };
    let default_path = if checks.iter().any(|c| c.signs_url()) {
        "/"
    } else {
        &route.path
    };
    let path = match &url {
        Some((_, path)) => path.as_str(),
        None => captured.path.as_deref().unwrap_or(default_path),
    };
    let req = Request {
        chunks: &[],
        method: &captured.method,
        path,
        headers: &captured.headers,
        body,
    };
    let keys = fetch_keys(&checks, &req);
    let mut code = EXIT_OK;
    let mut ids = Vec::new();
    for (i, check) in checks.iter().enumerate() {
        let scheme = check.scheme;
        match verify_check_keyed(check, &req, &keys, now) {
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
                    explain::reason_text(reason)
                );
                for line in explain::expectations(check, &captured.headers) {
                    let _ = writeln!(out, "  {line}");
                }
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

/// The provider keys a fetched-key check needs for this captured delivery, fetched as `run`
/// would (allowed hosts only, https, `SSL_CERT_FILE` respected); none for other checks.
fn fetch_keys(checks: &[Check], req: &Request<'_>) -> Keys {
    let fetches = checks
        .iter()
        .any(|c| c.fetched().is_some_and(|f| f.pinned.is_empty()));
    if !fetches {
        return Keys::none();
    }
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(KeyCache::from_env().resolve(checks, req)),
        Err(_) => Keys::none(),
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

/// `hookguard gen-secret`: a fresh random secret in the scheme's native form (the encoding
/// its catalogue row says the provider hands out).
pub fn gen_secret(scheme: &str) -> Result<String, Failure> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let row = catalogue::find(scheme).ok_or_else(|| {
        usage(format!(
            "unknown scheme `{scheme}`; `hookguard schemes` lists the known ids"
        ))
    })?;
    if let Some(message) = sign_key::no_shared_secret(row) {
        return Err(usage(message));
    }
    if let Some(secret) = sign_coded::native_secret(&row.id) {
        return Ok(secret);
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    Ok(match (row.kind, row.secret_encoding.as_deref()) {
        (_, Some("whsec")) => format!("whsec_{}", STANDARD.encode(bytes)),
        (_, Some("base64")) => STANDARD.encode(bytes),
        (Kind::ApiKey | Kind::Token, _) => URL_SAFE_NO_PAD.encode(bytes),
        (Kind::Basic, _) => format!("hookguard:{}", URL_SAFE_NO_PAD.encode(&bytes[..24])),
        _ if row.id == "stripe" => format!("whsec_{}", URL_SAFE_NO_PAD.encode(bytes)),
        _ => hex::encode(bytes),
    })
}
