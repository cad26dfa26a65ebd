//! Secrets on the clock: `not_before` and `expires` are evaluated per request, so nothing
//! here changes a verdict. This task only tells operators: warnings 30 days, 7 days and 1 day
//! before a secret expires (once each per secret and process), the moment it expires, and an
//! error when a check is left with no active secret.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::serve::app::App;
use crate::verify::secret::{Secret, UnixMillis};

const DAY_MS: i64 = 86_400_000;

/// Warning thresholds before `expires`, largest first.
pub const THRESHOLDS: [(i64, &str); 3] = [
    (30 * DAY_MS, "30 days"),
    (7 * DAY_MS, "7 days"),
    (DAY_MS, "1 day"),
];

/// Checks once a second; cheap (a few dozen secrets at most).
pub fn spawn(app: Arc<App>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut said = HashSet::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            check(&app, app.now(), &mut said);
        }
    })
}

/// One pass: logs each warning not yet logged, and updates the active-secret gauges. `said`
/// remembers what was logged: `(route, "<check>/<secret id>", threshold)` (ids are unique
/// within a check only, so two checks of a route may both hold a `2026-11`).
pub fn check(app: &App, now: UnixMillis, said: &mut HashSet<(String, String, &'static str)>) {
    let snap = app.shared.load();
    for route in &snap.routes {
        for (i, c) in route.checks.iter().enumerate() {
            let active = c.active_secrets(now);
            app.metrics.active_secrets(&route.name, i + 1, active);
            if active == 0
                && said.insert((route.name.to_string(), format!("check {}", i + 1), "none"))
            {
                tracing::error!(route = %route.name, check = i + 1, "no secret is active: every request to this route is rejected");
            } else if active > 0 {
                said.remove(&(route.name.to_string(), format!("check {}", i + 1), "none"));
            }
            for s in c.all_secrets() {
                let Some(expires) = s.secret.window.expires else {
                    continue;
                };
                let Some(label) = due(expires - now) else {
                    continue;
                };
                let key = (
                    route.name.to_string(),
                    format!("{}/{}", i + 1, s.secret.id),
                    label,
                );
                if said.insert(key) {
                    log(&route.name, i + 1, &s.secret, expires, label);
                }
            }
        }
    }
}

/// The tightest threshold `left` is inside, or "expired".
fn due(left: i64) -> Option<&'static str> {
    if left <= 0 {
        return Some("expired");
    }
    THRESHOLDS
        .iter()
        .rev()
        .find(|(limit, _)| left <= *limit)
        .map(|(_, label)| *label)
}

fn log(route: &str, check: usize, secret: &Secret, expires: UnixMillis, label: &str) {
    let at = crate::config::clock::rfc3339(expires);
    let (id, fingerprint) = (&*secret.id, &*secret.fingerprint);
    if label == "expired" {
        tracing::warn!(route, check, secret_id = id, fingerprint, expires = %at, "secret expired: no longer tried");
    } else {
        tracing::warn!(route, check, secret_id = id, fingerprint, expires = %at, "secret expires within {label}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_pick_the_tightest_window() {
        assert_eq!(due(31 * DAY_MS), None);
        assert_eq!(due(30 * DAY_MS), Some("30 days"));
        assert_eq!(due(8 * DAY_MS), Some("30 days"));
        assert_eq!(due(7 * DAY_MS), Some("7 days"));
        assert_eq!(due(DAY_MS), Some("1 day"));
        assert_eq!(due(1), Some("1 day"));
        assert_eq!(due(0), Some("expired"));
    }
}
