//! Prometheus metrics (prometheus-client). Label values come only from the config (route
//! names, secret ids, fingerprints) and fixed words, never from request data, so the number
//! of series stays bounded whatever senders do.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::config::snapshot::Snapshot;
use crate::verify::secret::UnixMillis;

/// `{route, outcome}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route name, empty when no route matched.
    pub route: String,
    /// forwarded, handshake, rejected, too_large, timeout, no_route, upstream_error,
    /// upstream_timeout, duplicate, replay_unavailable, cut_off, client_closed, bad_request, forbidden,
    /// overloaded.
    pub outcome: &'static str,
}

/// `{route, scheme}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandshakeLabels {
    /// Route name.
    pub route: String,
    /// The catalogue id of the check whose handshake it was.
    pub scheme: &'static str,
}

/// `{route, result, secret_id}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerificationLabels {
    /// Route name.
    pub route: String,
    /// valid, invalid, missing, malformed, stale, no_active_secret.
    pub result: &'static str,
    /// The matching secret id; empty unless valid.
    pub secret_id: String,
}

/// `{route}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Route name.
    pub route: String,
}

/// `{result}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// success or failure.
    pub result: &'static str,
}

/// `{route, secret_id}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SecretLabels {
    /// Route name.
    pub route: String,
    /// Secret id.
    pub secret_id: String,
}

/// `{route, secret_id, fingerprint}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SecretInfoLabels {
    /// Route name.
    pub route: String,
    /// Secret id.
    pub secret_id: String,
    /// First 16 hex digits of SHA-256 of the key.
    pub fingerprint: String,
}

type F64Gauge = Gauge<f64, AtomicU64>;
type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

/// Every metric hookguard exports.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    verifications: Family<VerificationLabels, Counter>,
    request_duration: HistogramFamily,
    upstream_duration: HistogramFamily,
    reloads: Family<ReloadLabels, Counter>,
    last_reload_success: F64Gauge,
    secret_expiry: Family<SecretLabels, F64Gauge>,
    secret_last_used: Family<SecretLabels, F64Gauge>,
    secret_info: Family<SecretInfoLabels, Gauge>,
    active_secrets: Family<CheckLabels, Gauge>,
    handshakes: Family<HandshakeLabels, Counter>,
    replay_store_errors: Family<RouteLabels, Counter>,
    replay_store_up: Family<RouteLabels, Gauge>,
    /// The per-secret and per-check series of the snapshot in force, so that a reload removes
    /// exactly those that went away and touches nothing else.
    exported: Mutex<Exported>,
    /// The request path's series of each route of the snapshot in force, found by name and
    /// resolved once: no label Strings built and hashed per request. A route or label not
    /// in it (no route, a snapshot just replaced) takes the families' own lookup.
    routes: ArcSwap<Vec<RouteSeries>>,
}

/// Every request outcome (`hookguard_requests_total{outcome}`), each a slot of
/// [`RouteSeries`].
const OUTCOMES: [&str; 15] = [
    "forwarded",
    "handshake",
    "rejected",
    "too_large",
    "timeout",
    "no_route",
    "upstream_error",
    "upstream_timeout",
    "duplicate",
    "replay_unavailable",
    "cut_off",
    "client_closed",
    "bad_request",
    "forbidden",
    "overloaded",
];

/// Every verification result but `valid` (which is per secret).
const FAILED: [&str; 5] = [
    "invalid",
    "missing",
    "malformed",
    "stale",
    "no_active_secret",
];

/// One route's request-path series, each created in its family on first use (so the
/// exposition lists what happened, as before) and kept as a handle from then on.
struct RouteSeries {
    name: Arc<str>,
    outcomes: [OnceLock<Counter>; OUTCOMES.len()],
    failed: [OnceLock<Counter>; FAILED.len()],
    /// Per configured secret id: its `valid` counter and its last-used gauge.
    secrets: Vec<(Arc<str>, OnceLock<Counter>, Option<F64Gauge>)>,
    request_duration: OnceLock<Histogram>,
    upstream_duration: OnceLock<Histogram>,
}

/// The slot of `word` in `words`: the same static string, else an equal one.
fn slot(words: &[&'static str], word: &str) -> Option<usize> {
    words
        .iter()
        .position(|w| std::ptr::eq(*w, word))
        .or_else(|| words.iter().position(|w| *w == word))
}

/// One route's replay store series.
#[derive(Clone, Debug)]
pub struct ReplayHealth {
    errors: Counter,
    up: Gauge,
}

impl ReplayHealth {
    /// The store answered.
    pub fn ok(&self) {
        self.up.set(1);
    }

    /// The store failed or was too slow.
    pub fn failed(&self) {
        self.errors.inc();
        self.up.set(0);
    }
}

/// What [`Metrics::sync_secrets`] exported last.
#[derive(Default)]
struct Exported {
    secrets: Vec<SecretSeries>,
    checks: Vec<CheckLabels>,
}

/// One configured secret as the metrics see it.
#[derive(Clone, PartialEq, Eq)]
struct SecretSeries {
    labels: SecretLabels,
    fingerprint: String,
    expires: Option<UnixMillis>,
}

impl SecretSeries {
    fn info_labels(&self) -> SecretInfoLabels {
        SecretInfoLabels {
            route: self.labels.route.clone(),
            secret_id: self.labels.secret_id.clone(),
            fingerprint: self.fingerprint.clone(),
        }
    }
}

/// `{route, check}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    /// Route name.
    pub route: String,
    /// 1-based position of the check in the route's `verify` list.
    pub check: String,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms .. ~16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `hookguard_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("hookguard");
        let m = Metrics {
            requests: Family::default(),
            verifications: Family::default(),
            request_duration: Family::new_with_constructor(latency_histogram),
            upstream_duration: Family::new_with_constructor(latency_histogram),
            reloads: Family::default(),
            last_reload_success: F64Gauge::default(),
            secret_expiry: Family::default(),
            secret_last_used: Family::default(),
            secret_info: Family::default(),
            active_secrets: Family::default(),
            handshakes: Family::default(),
            replay_store_errors: Family::default(),
            replay_store_up: Family::default(),
            exported: Mutex::default(),
            routes: ArcSwap::default(),
            registry: Registry::default(),
        };
        // Both series exist from the start: Prometheus' `increase()` misses the first failure
        // of a counter that appears at 1.
        for result in ["success", "failure"] {
            drop(m.reloads.get_or_create(&ReloadLabels { result }));
        }
        let r = &mut registry;
        r.register(
            "requests",
            "Requests by route and outcome",
            m.requests.clone(),
        );
        r.register(
            "verifications",
            "Check verdicts by route, result and matching secret",
            m.verifications.clone(),
        );
        r.register(
            "request_duration_seconds",
            "Time from request headers to response",
            m.request_duration.clone(),
        );
        r.register(
            "upstream_duration_seconds",
            "Time the upstream took to answer",
            m.upstream_duration.clone(),
        );
        r.register(
            "config_reloads",
            "Config reloads by result",
            m.reloads.clone(),
        );
        r.register(
            "config_last_reload_success_timestamp_seconds",
            "When a config was last loaded successfully",
            m.last_reload_success.clone(),
        );
        r.register(
            "secret_expiry_timestamp_seconds",
            "When each secret expires",
            m.secret_expiry.clone(),
        );
        r.register(
            "secret_last_used_timestamp_seconds",
            "When each secret last verified a request (0: not since start)",
            m.secret_last_used.clone(),
        );
        r.register(
            "secret_info",
            "Configured secrets and their fingerprints",
            m.secret_info.clone(),
        );
        r.register(
            "active_secrets",
            "Secrets active now per check; 0 means every request is rejected",
            m.active_secrets.clone(),
        );
        r.register(
            "handshakes",
            "Provider handshakes answered by hookguard or passed on as handshakes",
            m.handshakes.clone(),
        );
        r.register(
            "replay_store_errors",
            "Replay store calls that failed or took longer than 250 ms, by route",
            m.replay_store_errors.clone(),
        );
        r.register(
            "replay_store_up",
            "0 after the route's replay store failed a call, 1 once it answers (and before any call)",
            m.replay_store_up.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Creates `route`'s replay store error counter at 0, so that `increase()` sees its first
    /// failure.
    pub fn replay_route(&self, route: &str) {
        let labels = RouteLabels {
            route: route.to_owned(),
        };
        drop(self.replay_store_errors.get_or_create(&labels));
    }

    /// The replay store series of `route`, as handles a claim keeps, so that a release made
    /// after the request has been answered still counts.
    pub fn replay_health(&self, route: &str) -> ReplayHealth {
        let labels = RouteLabels {
            route: route.to_owned(),
        };
        // A new route's store starts up: 0 means a call failed, not that none was made yet.
        let up = match self.replay_store_up.get(&labels) {
            Some(up) => up.clone(),
            None => {
                let up = self.replay_store_up.get_or_create(&labels).clone();
                up.set(1);
                up
            }
        };
        ReplayHealth {
            errors: self.replay_store_errors.get_or_create(&labels).clone(),
            up,
        }
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Counts a finished request and its total duration.
    pub fn request(&self, route: &str, outcome: &'static str, took: Duration) {
        let routes = self.routes.load();
        if let (Some(r), Some(at)) = (series(&routes, route), slot(&OUTCOMES, outcome)) {
            let labels = || RequestLabels {
                route: route.to_owned(),
                outcome,
            };
            let requests = &self.requests;
            r.outcomes[at]
                .get_or_init(|| requests.get_or_create(&labels()).clone())
                .inc();
            r.request_duration
                .get_or_init(|| {
                    self.request_duration
                        .get_or_create(&route_labels(route))
                        .clone()
                })
                .observe(took.as_secs_f64());
            return;
        }
        let route = route.to_owned();
        self.requests
            .get_or_create(&RequestLabels {
                route: route.clone(),
                outcome,
            })
            .inc();
        if !route.is_empty() {
            self.request_duration
                .get_or_create(&RouteLabels { route })
                .observe(took.as_secs_f64());
        }
    }

    /// Counts a provider handshake hookguard answered or passed on as a handshake.
    pub fn handshake(&self, route: &str, scheme: &'static str) {
        let labels = HandshakeLabels {
            route: route.to_owned(),
            scheme,
        };
        self.handshakes.get_or_create(&labels).inc();
    }

    /// Records how long the upstream took.
    pub fn upstream(&self, route: &str, took: Duration) {
        if let Some(r) = series(&self.routes.load(), route) {
            r.upstream_duration
                .get_or_init(|| {
                    self.upstream_duration
                        .get_or_create(&route_labels(route))
                        .clone()
                })
                .observe(took.as_secs_f64());
            return;
        }
        let labels = RouteLabels {
            route: route.to_owned(),
        };
        self.upstream_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// Counts one check's verdict; a valid one also moves the secret's last-used time.
    pub fn verification(
        &self,
        route: &str,
        result: &'static str,
        secret_id: &str,
        now: UnixMillis,
    ) {
        let labels = || VerificationLabels {
            route: route.to_owned(),
            result,
            secret_id: secret_id.to_owned(),
        };
        let routes = self.routes.load();
        if let Some(r) = series(&routes, route) {
            let families = &self.verifications;
            if secret_id.is_empty() {
                if let Some(at) = slot(&FAILED, result) {
                    let counter =
                        r.failed[at].get_or_init(|| families.get_or_create(&labels()).clone());
                    counter.inc();
                    return;
                }
            } else if let Some((_, valid, used)) = r
                .secrets
                .iter()
                .find(|(id, ..)| result == "valid" && &**id == secret_id)
            {
                valid
                    .get_or_init(|| families.get_or_create(&labels()).clone())
                    .inc();
                if let Some(used) = used {
                    used.set(now as f64 / 1000.0);
                }
                return;
            }
        }
        self.verifications.get_or_create(&labels()).inc();
        if !secret_id.is_empty() {
            let labels = SecretLabels {
                route: route.to_owned(),
                secret_id: secret_id.to_owned(),
            };
            // `get`, not `get_or_create`: a request verified against the snapshot before a
            // reload must not bring back the series of a secret that reload removed.
            if let Some(used) = self.secret_last_used.get(&labels) {
                used.set(now as f64 / 1000.0);
            }
        }
    }

    /// Sets how many secrets of a check are active now.
    pub fn active_secrets(&self, route: &str, check: usize, active: usize) {
        let labels = CheckLabels {
            route: route.to_owned(),
            check: check.to_string(),
        };
        self.active_secrets
            .get_or_create(&labels)
            .set(i64::try_from(active).unwrap_or(i64::MAX));
    }

    /// Stamps the start-up load as the last successful one; counts no reload.
    pub fn loaded(&self, now: UnixMillis) {
        self.last_reload_success.set(now as f64 / 1000.0);
    }

    /// Counts a reload attempt; a success also stamps the success time.
    pub fn reload(&self, success: bool, now: UnixMillis) {
        let result = if success { "success" } else { "failure" };
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
        if success {
            self.last_reload_success.set(now as f64 / 1000.0);
        }
    }

    /// Makes the per-secret series match `snap`: removed secrets (and checks) disappear, kept
    /// ones keep their last-used time, new ones start at 0. Series that stay are never removed,
    /// even for an instant, so neither a scrape nor a request racing the reload loses them.
    pub fn sync_secrets(&self, snap: &Snapshot) {
        let (secrets, checks) = wanted(snap);
        let mut exported = self.exported.lock().unwrap_or_else(PoisonError::into_inner);
        for old in &exported.secrets {
            if !secrets.iter().any(|s| s.labels == old.labels) {
                self.secret_last_used.remove(&old.labels);
            }
            if !secrets
                .iter()
                .any(|s| s.labels == old.labels && s.expires.is_some())
            {
                self.secret_expiry.remove(&old.labels);
            }
            let info = old.info_labels();
            if !secrets.iter().any(|s| s.info_labels() == info) {
                self.secret_info.remove(&info);
            }
        }
        for old in &exported.checks {
            if !checks.contains(old) {
                self.active_secrets.remove(old);
            }
        }
        for s in &secrets {
            // Created at 0 when new; a kept secret keeps its value.
            drop(self.secret_last_used.get_or_create(&s.labels));
            if let Some(ex) = s.expires {
                self.secret_expiry
                    .get_or_create(&s.labels)
                    .set(ex as f64 / 1000.0);
            }
            self.secret_info.get_or_create(&s.info_labels()).set(1);
        }
        *exported = Exported { secrets, checks };
        drop(exported);
        self.routes.store(Arc::new(self.route_series(snap)));
    }

    /// Fresh request-path series for every route of `snap` (handles resolved on first use).
    fn route_series(&self, snap: &Snapshot) -> Vec<RouteSeries> {
        snap.routes
            .iter()
            .map(|route| {
                let mut secrets: Vec<(Arc<str>, OnceLock<Counter>, Option<F64Gauge>)> = Vec::new();
                for check in &route.checks {
                    for s in check.all_secrets() {
                        if secrets.iter().any(|(id, ..)| *id == s.secret.id) {
                            continue;
                        }
                        let labels = SecretLabels {
                            route: route.name.to_string(),
                            secret_id: s.secret.id.to_string(),
                        };
                        let used = self.secret_last_used.get(&labels).map(|g| g.clone());
                        secrets.push((s.secret.id.clone(), OnceLock::new(), used));
                    }
                }
                RouteSeries {
                    name: route.name.clone(),
                    outcomes: Default::default(),
                    failed: Default::default(),
                    secrets,
                    request_duration: OnceLock::new(),
                    upstream_duration: OnceLock::new(),
                }
            })
            .collect()
    }
}

/// `route`'s request-path series, when the snapshot in force has that route.
fn series<'a>(routes: &'a [RouteSeries], route: &str) -> Option<&'a RouteSeries> {
    if route.is_empty() {
        return None;
    }
    routes.iter().find(|r| &*r.name == route)
}

fn route_labels(route: &str) -> RouteLabels {
    RouteLabels {
        route: route.to_owned(),
    }
}

/// The per-secret and per-check series `snap` calls for.
fn wanted(snap: &Snapshot) -> (Vec<SecretSeries>, Vec<CheckLabels>) {
    let mut secrets = Vec::new();
    let mut checks = Vec::new();
    for route in &snap.routes {
        for (i, check) in route.checks.iter().enumerate() {
            checks.push(CheckLabels {
                route: route.name.to_string(),
                check: (i + 1).to_string(),
            });
            for s in check.all_secrets() {
                secrets.push(SecretSeries {
                    labels: SecretLabels {
                        route: route.name.to_string(),
                        secret_id: s.secret.id.to_string(),
                    },
                    fingerprint: s.secret.fingerprint.clone(),
                    expires: s.secret.window.expires,
                });
            }
        }
    }
    (secrets, checks)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn snapshot(ids: &[&str]) -> Snapshot {
        let mut yaml = String::from("listen: \"127.0.0.1:0\"\nroutes:\n  - name: r\n    path: /r\n    upstream: http://127.0.0.1:9\n    verify:\n      scheme: github\n      secrets:\n");
        for id in ids {
            yaml.push_str(&format!("        - id: {id}\n          value: key-{id}\n"));
        }
        let file = Path::new("t.yaml");
        let config = crate::config::parse(&yaml, file).expect("valid yaml");
        crate::config::compile::compile(config, file).expect("valid config")
    }

    fn last_used(m: &Metrics, id: &str) -> Option<f64> {
        let labels = SecretLabels {
            route: "r".into(),
            secret_id: id.into(),
        };
        m.secret_last_used.get(&labels).map(|g| g.get())
    }

    #[test]
    fn a_request_verified_before_a_reload_does_not_bring_back_a_removed_secret() {
        let m = Metrics::new();
        m.sync_secrets(&snapshot(&["old", "new"]));
        m.verification("r", "valid", "new", 5_000);
        m.sync_secrets(&snapshot(&["new"]));
        // A request that matched `old` against the previous snapshot finishes now.
        m.verification("r", "valid", "old", 6_000);
        assert_eq!(last_used(&m, "old"), None);
        assert_eq!(last_used(&m, "new"), Some(5.0));
        let text = m.encode();
        assert!(!text.contains("secret_id=\"old\",fingerprint"), "{text}");
        assert!(
            !text.contains("last_used_timestamp_seconds{route=\"r\",secret_id=\"old\"}"),
            "{text}"
        );
    }

    /// The request-path lines of the exposition, sorted (durations without their sums).
    fn request_lines(m: &Metrics) -> Vec<String> {
        let mut lines: Vec<String> = m
            .encode()
            .lines()
            .filter(|l| {
                l.starts_with("hookguard_requests_total")
                    || l.starts_with("hookguard_verifications_total")
                    || l.contains("duration_seconds_count")
            })
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    }

    fn traffic(m: &Metrics) {
        for outcome in ["forwarded", "forwarded", "rejected", "client_closed"] {
            m.request("r", outcome, Duration::from_millis(3));
        }
        m.request("", "no_route", Duration::ZERO);
        m.request("gone", "forwarded", Duration::ZERO);
        m.upstream("r", Duration::from_millis(1));
        m.verification("r", "valid", "a", 1_000);
        m.verification("r", "valid", "a", 2_000);
        m.verification("r", "invalid", "", 2_000);
        m.verification("r", "valid", "unknown", 2_000);
    }

    #[test]
    fn the_resolved_route_series_count_exactly_what_the_families_count() {
        // Resolved: the route table of a synced snapshot. Plain: no table, every call takes
        // the families' own lookup. Same traffic, same exposition.
        let resolved = Metrics::new();
        resolved.sync_secrets(&snapshot(&["a"]));
        traffic(&resolved);
        let plain = Metrics::new();
        traffic(&plain);
        let lines = request_lines(&resolved);
        assert_eq!(lines, request_lines(&plain));
        assert!(
            lines.contains(
                &"hookguard_requests_total{route=\"r\",outcome=\"forwarded\"} 2".to_string()
            ),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("secret_id=\"a\"") && l.ends_with(" 2")),
            "{lines:?}"
        );
        assert_eq!(last_used(&resolved, "a"), Some(2.0));
        // And the resolved handles were the ones used.
        let routes = resolved.routes.load();
        assert!(routes[0].outcomes[0].get().is_some());
        assert!(routes[0].secrets[0].1.get().is_some());
        assert!(plain.routes.load().is_empty());
    }

    #[test]
    fn reload_counters_exist_at_zero_before_any_reload() {
        let text = Metrics::new().encode();
        assert!(
            text.contains("hookguard_config_reloads_total{result=\"success\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("hookguard_config_reloads_total{result=\"failure\"} 0"),
            "{text}"
        );
    }
}
