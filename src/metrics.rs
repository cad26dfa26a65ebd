//! Prometheus metrics (prometheus-client). Label values come only from the config (route
//! names, secret ids, fingerprints) and fixed words, never from request data, so the number
//! of series stays bounded whatever senders do.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::secret::UnixMillis;
use crate::state::Snapshot;

/// `{route, outcome}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route name, empty when no route matched.
    pub route: String,
    /// forwarded, rejected, too_large, timeout, no_route, upstream_error, upstream_timeout.
    pub outcome: &'static str,
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
            registry: Registry::default(),
        };
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
        Metrics { registry, ..m }
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

    /// Records how long the upstream took.
    pub fn upstream(&self, route: &str, took: Duration) {
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
        let labels = VerificationLabels {
            route: route.to_owned(),
            result,
            secret_id: secret_id.to_owned(),
        };
        self.verifications.get_or_create(&labels).inc();
        if !secret_id.is_empty() {
            let labels = SecretLabels {
                route: route.to_owned(),
                secret_id: secret_id.to_owned(),
            };
            self.secret_last_used
                .get_or_create(&labels)
                .set(now as f64 / 1000.0);
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

    /// Counts a reload attempt; a success also stamps the success time.
    pub fn reload(&self, success: bool, now: UnixMillis) {
        let result = if success { "success" } else { "failure" };
        self.reloads.get_or_create(&ReloadLabels { result }).inc();
        if success {
            self.last_reload_success.set(now as f64 / 1000.0);
        }
    }

    /// Makes the per-secret series match `snap`: removed secrets disappear, kept ones keep
    /// their last-used time, new ones start at 0.
    pub fn sync_secrets(&self, snap: &Snapshot) {
        let mut info = Vec::new();
        for route in &snap.routes {
            for check in &route.checks {
                for s in &check.secrets {
                    let labels = SecretLabels {
                        route: route.name.to_string(),
                        secret_id: s.secret.id.to_string(),
                    };
                    info.push((
                        labels,
                        s.secret.fingerprint.clone(),
                        s.secret.window.expires,
                    ));
                }
            }
        }
        let mut old_used = Vec::new();
        for (labels, _, _) in &info {
            old_used.push(self.secret_last_used.get_or_create(labels).get());
        }
        // Family has no iteration; rebuild the secret families from the new snapshot.
        self.secret_last_used.clear();
        self.secret_expiry.clear();
        self.secret_info.clear();
        self.active_secrets.clear();
        for ((labels, fingerprint, expires), used) in info.iter().zip(old_used) {
            self.secret_last_used.get_or_create(labels).set(used);
            if let Some(ex) = expires {
                self.secret_expiry
                    .get_or_create(labels)
                    .set(*ex as f64 / 1000.0);
            }
            let info_labels = SecretInfoLabels {
                route: labels.route.clone(),
                secret_id: labels.secret_id.clone(),
                fingerprint: fingerprint.clone(),
            };
            self.secret_info.get_or_create(&info_labels).set(1);
        }
    }
}
