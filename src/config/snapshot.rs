//! The immutable snapshot the hot path reads: routes in match order, compiled checks with
//! prepared MAC states, parsed upstreams, limits and the TLS config. A reload builds a whole
//! new one and swaps it in with one `ArcSwap::store`; a request loads it once.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use http::uri::{Authority, Scheme};
use http::Method;
use ipnet::IpNet;
use tokio::sync::Semaphore;

use crate::config::replay::Replay;
use crate::config::Mode;
use crate::verify::Check;

/// What every request reads; replaced whole on reload.
pub type Shared = Arc<ArcSwap<Snapshot>>;

/// A validated, compiled config.
#[derive(Debug)]
pub struct Snapshot {
    /// The config file it came from.
    pub source: PathBuf,
    /// Proxy listener address (a change needs a restart).
    pub listen: SocketAddr,
    /// Admin listener address (a change needs a restart).
    pub admin: Option<SocketAddr>,
    /// TLS for new handshakes; `None` means plain HTTP.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Size and time bounds.
    pub limits: Limits,
    /// Routes, longest path first, host-bound before host-free at equal length.
    pub routes: Vec<Route>,
    /// Peers whose `X-Forwarded-For` is believed (`trusted_proxies`).
    pub trusted_proxies: Vec<IpNet>,
    /// Files whose change triggers a reload: the config, `file:` secrets, TLS files.
    pub watched: Vec<PathBuf>,
    /// SHA-256 over every input read (config text, secret and TLS files): a reload whose
    /// inputs did not change is skipped.
    pub digest: [u8; 32],
}

/// `limits:` in effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Default body limit.
    pub max_body_bytes: u64,
    /// Time to receive request headers.
    pub header_timeout: Duration,
    /// Time to receive the body.
    pub body_timeout: Duration,
    /// Time for the upstream to answer.
    pub upstream_timeout: Duration,
    /// Open connections allowed.
    pub max_connections: usize,
    /// Request line and headers together, in bytes (431, or 414 for a long target).
    pub max_header_bytes: usize,
    /// Header lines per request (431).
    pub max_headers: usize,
    /// Concurrent streams per HTTP/2 connection.
    pub h2_max_concurrent_streams: u32,
}

/// A compiled route.
#[derive(Debug)]
pub struct Route {
    /// Unique name; a metric label.
    pub name: Arc<str>,
    /// Path prefix, matched on segment boundaries.
    pub path: String,
    /// Required Host (lowercase, no port), if any.
    pub host: Option<String>,
    /// Where verified requests go.
    pub upstream: Upstream,
    /// Enforce or report-only.
    pub mode: Mode,
    /// Methods answered 200 by hookguard itself.
    pub probe_methods: Vec<Method>,
    /// Allowed clock skew, both directions, in milliseconds.
    pub tolerance_ms: i64,
    /// Body limit for this route.
    pub max_body_bytes: u64,
    /// What senders call (`https://host[:port]`), for schemes that sign the URL.
    pub public_url: Option<String>,
    /// All must pass.
    pub checks: Vec<Check>,
    /// Every check takes the body as the chunks it arrived in (`Check::takes_chunks`), so
    /// the proxy never joins it into one buffer.
    pub body_in_chunks: bool,
    /// Replay protection, when configured.
    pub replay: Option<Replay>,
    /// Client networks allowed on this route (`None`: every client).
    pub allow_ips: Option<Vec<IpNet>>,
    /// `max_in_flight` and its slots: a reload keeping the route and the number keeps the
    /// slots, so requests in flight across a reload still count.
    pub in_flight: Option<(usize, Arc<Semaphore>)>,
}

/// The upstream's scheme and authority; the request's path and query are appended unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// Host and port.
    pub authority: Authority,
}

impl Snapshot {
    /// The route for a request: longest matching path; a route with `host:` only matches that
    /// host (case-insensitive, port ignored).
    pub fn route(&self, host: Option<&str>, path: &str) -> Option<&Route> {
        let host = host.map(strip_port);
        self.routes.iter().find(|r| {
            path_matches(&r.path, path)
                && r.host
                    .as_deref()
                    .is_none_or(|want| host.is_some_and(|h| h.eq_ignore_ascii_case(want)))
        })
    }

    /// Looks a route up by name.
    pub fn route_named(&self, name: &str) -> Option<&Route> {
        self.routes.iter().find(|r| &*r.name == name)
    }
}

/// Sorts routes into match order.
pub fn sort_routes(routes: &mut [Route]) {
    routes.sort_by(|a, b| {
        b.path
            .len()
            .cmp(&a.path.len())
            .then(b.host.is_some().cmp(&a.host.is_some()))
    });
}

/// Whether `prefix` matches `path` (which may carry a query) on a segment boundary.
pub fn path_matches(prefix: &str, path: &str) -> bool {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    if prefix == "/" {
        return true;
    }
    let prefix = prefix.trim_end_matches('/');
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// `host[:port]` or `[v6]:port` without the port.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split_once(']').map_or(host, |(h, _)| h);
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_matches_on_segment_boundaries_only() {
        assert!(path_matches("/webhooks/expedia", "/webhooks/expedia"));
        assert!(path_matches("/webhooks/expedia", "/webhooks/expedia/x?y=1"));
        assert!(path_matches("/webhooks/expedia/", "/webhooks/expedia/x"));
        assert!(path_matches("/webhooks/expedia", "/webhooks/expedia?y=1"));
        assert!(!path_matches("/webhooks/expedia", "/webhooks/expediax"));
        assert!(!path_matches("/webhooks/expedia", "/webhooks"));
        assert!(path_matches("/", "/anything"));
    }

    #[test]
    fn host_port_is_ignored() {
        assert_eq!(strip_port("hooks.example.com:8443"), "hooks.example.com");
        assert_eq!(strip_port("hooks.example.com"), "hooks.example.com");
        assert_eq!(strip_port("[::1]:8443"), "::1");
    }
}
