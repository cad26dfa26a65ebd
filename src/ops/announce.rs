//! What start-up and every reload say about the config in force: routes, and each secret's
//! id, fingerprint, state and expiry (never a value).

use crate::config::clock::rfc3339;
use crate::config::snapshot::{Route, Snapshot};
use crate::config::Mode;
use crate::verify::secret::{Secret, UnixMillis};

/// Logs the routes and every secret's id, fingerprint, state and expiry (never a value), one
/// line per route and per secret, so a log query can pick them by field.
pub fn log_snapshot(snap: &Snapshot, what: &str, now: UnixMillis) {
    tracing::info!(config = %snap.source.display(), routes = snap.routes.len(), "{what}");
    for route in &snap.routes {
        log_route(route);
        for (i, check) in route.checks.iter().enumerate() {
            for s in check.all_secrets() {
                log_secret(&route.name, i + 1, check.scheme, &s.secret, now);
            }
            if check.active_secrets(now) == 0 {
                tracing::error!(route = %route.name, check = i + 1, "no secret is active now: every request to this route will be rejected");
            }
            if let Some(advice) = check.fetched().and_then(|f| f.advice()) {
                tracing::warn!(route = %route.name, check = i + 1, scheme = check.scheme, "{advice}");
            }
        }
    }
}

fn log_route(route: &Route) {
    // Scheme, host and port only: an upstream URL may carry credentials.
    let up = &route.upstream;
    let port = up
        .authority
        .port()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let upstream = format!("{}://{}{port}", up.scheme, up.authority.host());
    let mode = match route.mode {
        Mode::Enforce => "enforce",
        Mode::ReportOnly => "report-only",
    };
    tracing::info!(
        route = %route.name, path = %route.path, host = route.host.as_deref(), %upstream,
        mode, checks = route.checks.len(), "route"
    );
}

fn log_secret(route: &str, check: usize, scheme: &str, s: &Secret, now: UnixMillis) {
    let w = s.window;
    let state = w.state(now);
    tracing::info!(
        route, check, scheme, secret_id = %s.id, fingerprint = %s.fingerprint, state,
        not_before = w.not_before.map(rfc3339), expires = w.expires.map(rfc3339), "secret"
    );
}
