//! Validate, then freeze: a parsed [`Config`] becomes an immutable [`Snapshot`]. Every
//! problem is reported at its line and column. [`load`] is the one function that reads the
//! config, secret and TLS files, so a reload is exactly start-up again.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::uri::{Scheme, Uri};
use http::Method;
use serde_saphyr::Spanned;
use sha2::{Digest, Sha256};

use crate::config::checks::{compile_checks, RouteCtx, DEFAULT_TOLERANCE_MS};
use crate::config::ctx::Ctx;
use crate::config::snapshot::{sort_routes, Limits, Route, Snapshot, Upstream};
use crate::config::{self, Config, ConfigError, RouteConfig, TlsConfig};

/// Smallest `limits.max_header_bytes`: room for a request line and a few signature headers.
pub const MIN_HEADER_BYTES: usize = 1024;

/// Largest `limits.max_header_bytes`: a head is held in memory until it is complete, per
/// connection, so the bound times `max_connections` is memory an attacker can claim.
pub const MAX_HEADER_BYTES: usize = 1024 * 1024;

/// Reads, parses, validates and compiles the config at `path`, with every secret and TLS
/// file it names.
pub fn load(path: &Path) -> Result<Snapshot, ConfigError> {
    let read = |source| ConfigError::Read {
        file: path.to_owned(),
        source,
    };
    let bytes = crate::config::ctx::read_input(path).map_err(read)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        read(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "is not UTF-8 text",
        ))
    })?;
    let mut snapshot = compile(config::parse(&text, path)?, path)?;
    let mut hasher = Sha256::new();
    hasher.update(text.as_bytes());
    hasher.update(snapshot.digest);
    snapshot.digest = hasher.finalize().into();
    Ok(snapshot)
}

/// Validates a parsed config and compiles it, reading the files it names.
pub fn compile(config: Config, file: &Path) -> Result<Snapshot, ConfigError> {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
    let mut ctx = Ctx {
        file,
        dir,
        watched: vec![file.to_owned()],
        hasher: Sha256::new(),
    };
    let listen = socket_addr(&ctx, &config.listen, "listen")?;
    let admin = match &config.admin {
        Some(a) => Some(socket_addr(&ctx, &a.listen, "admin.listen")?),
        None => None,
    };
    let tls = match &config.tls {
        Some(t) => Some(Arc::new(tls(&mut ctx, t)?)),
        None => None,
    };
    let limits = limits(&ctx, &config)?;
    let mut routes = Vec::with_capacity(config.routes.value.len());
    if config.routes.value.is_empty() {
        return Err(ctx.err(
            config.routes.referenced,
            "`routes` is empty: add at least one route",
        ));
    }
    for spanned in &config.routes.value {
        let route = route(&mut ctx, spanned, &limits)?;
        if routes.iter().any(|r: &Route| r.name == route.name) {
            let msg = format!("duplicate route name `{}`", route.name);
            return Err(ctx.err(spanned.referenced, msg));
        }
        routes.push(route);
    }
    sort_routes(&mut routes);
    let trusted_proxies = match &config.trusted_proxies {
        Some(list) => crate::config::nets::networks(&ctx, list, "trusted_proxies")?,
        None => Vec::new(),
    };
    Ok(Snapshot {
        trusted_proxies,
        source: file.to_owned(),
        listen,
        admin,
        tls,
        limits,
        routes,
        watched: ctx.watched,
        digest: ctx.hasher.finalize().into(),
    })
}

fn socket_addr(ctx: &Ctx<'_>, s: &Spanned<String>, key: &str) -> Result<SocketAddr, ConfigError> {
    s.value.trim().parse().map_err(|_| {
        ctx.err(
            s.referenced,
            format!(
                "`{key}` must be an IP address and port like 0.0.0.0:8443, not `{}`",
                s.value
            ),
        )
    })
}

fn tls(ctx: &mut Ctx<'_>, t: &Spanned<TlsConfig>) -> Result<rustls::ServerConfig, ConfigError> {
    let at = t.referenced;
    let cert = ctx.read(at, "tls.cert", &t.value.cert)?;
    let key = ctx.read(at, "tls.key", &t.value.key)?;
    let ca = match &t.value.client_ca {
        Some(path) => Some(ctx.read(at, "tls.client_ca", path)?),
        None => None,
    };
    crate::config::tls::server_config(&cert, &key, ca.as_deref())
        .map_err(|e| ctx.err(at, e.to_string()))
}

fn limits(ctx: &Ctx<'_>, config: &Config) -> Result<Limits, ConfigError> {
    let l = &config.limits;
    let limits = Limits {
        max_body_bytes: l.max_body_bytes,
        header_timeout: l.header_timeout.0,
        body_timeout: l.body_timeout.0,
        upstream_timeout: l.upstream_timeout.0,
        max_connections: l.max_connections,
        max_header_bytes: l.max_header_bytes,
        max_headers: l.max_headers,
        h2_max_concurrent_streams: l.h2_max_concurrent_streams,
    };
    let zero = limits.max_body_bytes == 0
        || limits.header_timeout.is_zero()
        || limits.body_timeout.is_zero()
        || limits.upstream_timeout.is_zero()
        || limits.max_connections == 0
        || limits.max_headers == 0
        || limits.h2_max_concurrent_streams == 0;
    let at = config.listen.referenced;
    if zero {
        return Err(ctx.err(at, "every `limits` value must be greater than zero"));
    }
    if !(MIN_HEADER_BYTES..=MAX_HEADER_BYTES).contains(&limits.max_header_bytes) {
        return Err(ctx.err(
            at,
            format!("`limits.max_header_bytes` must be between {MIN_HEADER_BYTES} and {MAX_HEADER_BYTES}"),
        ));
    }
    Ok(limits)
}

fn route(
    ctx: &mut Ctx<'_>,
    spanned: &Spanned<RouteConfig>,
    limits: &Limits,
) -> Result<Route, ConfigError> {
    let (r, at) = (&spanned.value, spanned.referenced);
    let valid_name = !r.name.is_empty()
        && r.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !valid_name {
        let msg = format!("route name `{}` must match [a-z0-9_-]+", r.name);
        return Err(ctx.err(at, msg));
    }
    if !r.path.starts_with('/') || r.path.contains('?') {
        let msg = format!(
            "route `{}`: path `{}` must start with / and carry no query",
            r.name, r.path
        );
        return Err(ctx.err(at, msg));
    }
    let host = match r.host.as_deref().map(str::trim) {
        Some("") => return Err(ctx.err(at, format!("route `{}`: `host` is empty", r.name))),
        other => other.map(str::to_ascii_lowercase),
    };
    let upstream =
        upstream(&r.upstream).map_err(|m| ctx.err(at, format!("route `{}`: {m}", r.name)))?;
    let probe_methods = r
        .probe_methods
        .iter()
        .map(|m| Method::from_bytes(m.trim().to_ascii_uppercase().as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            ctx.err(
                at,
                format!("route `{}`: invalid method in `probe_methods`", r.name),
            )
        })?;
    let tolerance =
        match r.tolerance {
            Some(d) => Some(i64::try_from(d.0.as_millis()).map_err(|_| {
                ctx.err(at, format!("route `{}`: `tolerance` is too large", r.name))
            })?),
            None => None,
        };
    let public_url = match &r.public_url {
        Some(u) => Some(
            public_url(&u.value)
                .map_err(|m| ctx.err(u.referenced, format!("route `{}`: {m}", r.name)))?,
        ),
        None => None,
    };
    let max_body_bytes = r.max_body_bytes.unwrap_or(limits.max_body_bytes);
    if max_body_bytes == 0 {
        return Err(ctx.err(
            at,
            format!("route `{}`: `max_body_bytes` must be > 0", r.name),
        ));
    }
    let route_ctx = RouteCtx {
        name: &r.name,
        tolerance_ms: tolerance,
        public_url: public_url.as_deref(),
    };
    let checks = compile_checks(ctx, &route_ctx, &r.verify)?;
    let replay = match (&r.replay, checks.first()) {
        (Some(cfg), Some(first)) => {
            let tolerance = std::time::Duration::from_millis(
                tolerance.unwrap_or(DEFAULT_TOLERANCE_MS).unsigned_abs(),
            );
            let compiled = crate::config::replay::compile(&cfg.value, first, tolerance)
                .map_err(|m| ctx.err(cfg.referenced, format!("route `{}`: {m}", r.name)))?;
            Some(compiled)
        }
        _ => None,
    };
    let allow_ips = match &r.allow_ips {
        Some(list) => Some(crate::config::nets::networks(ctx, list, "allow_ips")?),
        None => None,
    };
    let in_flight = match r.max_in_flight {
        Some(0) => {
            let msg = format!("route `{}`: `max_in_flight` must be > 0", r.name);
            return Err(ctx.err(at, msg));
        }
        Some(n) => Some((n, Arc::new(tokio::sync::Semaphore::new(n)))),
        None => None,
    };
    Ok(Route {
        allow_ips,
        in_flight,
        name: r.name.as_str().into(),
        path: r.path.clone(),
        host,
        upstream,
        mode: r.mode,
        probe_methods,
        tolerance_ms: tolerance.unwrap_or(DEFAULT_TOLERANCE_MS),
        max_body_bytes,
        public_url,
        body_in_chunks: checks.iter().all(crate::verify::Check::takes_chunks),
        checks,
        replay,
    })
}

/// `https://host[:port]` (or `http://`): what senders call, without a path, since the
/// request's own path and query follow it in the signed URL.
pub fn public_url(s: &str) -> Result<String, String> {
    let trimmed = s.trim().trim_end_matches('/');
    let uri: Uri = trimmed
        .parse()
        .map_err(|e| format!("`public_url` `{s}` is not a URL: {e}"))?;
    let scheme_ok = uri.scheme() == Some(&Scheme::HTTPS) || uri.scheme() == Some(&Scheme::HTTP);
    if !scheme_ok || uri.authority().is_none() {
        return Err(format!(
            "`public_url` `{s}` must look like https://hooks.example.com[:port]"
        ));
    }
    if uri
        .path_and_query()
        .is_some_and(|p| !p.as_str().is_empty() && p.as_str() != "/")
    {
        return Err(format!(
            "`public_url` `{s}` must not carry a path: the request's own path and query follow it"
        ));
    }
    Ok(trimmed.to_owned())
}

/// Parses `http://host:port` or `https://host[:port]`; a path other than `/` is refused because
/// the request's own path is forwarded unchanged.
pub fn upstream(s: &str) -> Result<Upstream, String> {
    let uri: Uri = s
        .trim()
        .parse()
        .map_err(|e| format!("upstream `{s}` is not a URL: {e}"))?;
    let scheme = uri
        .scheme()
        .cloned()
        .ok_or_else(|| format!("upstream `{s}` needs http:// or https://"))?;
    if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
        return Err(format!("upstream `{s}` must be http:// or https://"));
    }
    let authority = uri
        .authority()
        .cloned()
        .ok_or_else(|| format!("upstream `{s}` has no host"))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    if path != "/" && !path.is_empty() {
        return Err(format!(
            "upstream `{s}` must not carry a path: the request path is forwarded unchanged"
        ));
    }
    Ok(Upstream { scheme, authority })
}
