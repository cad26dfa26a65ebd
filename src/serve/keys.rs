//! Fetching and caching the provider keys deliveries need (`verify::fetched_verify::want` says which
//! and has already checked the URL against the check's allowed hosts): https only, server
//! certificates validated by rustls against the Mozilla roots (`webpki-roots`) or, when
//! `SSL_CERT_FILE` is set, the PEM roots in that file; bounded in time and size; redirects not
//! followed. Successes are cached for the response's `Cache-Control: max-age` (1 minute to
//! 24 hours; 1 hour without one), failures for 10 seconds; at most [`Limits::entries`]
//! documents are kept, and concurrent misses for one URL share one fetch.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Request, StatusCode};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;
use tokio::sync::{OnceCell, Semaphore};

use crate::serve::forward::error_chain;
use crate::verify::certs::{self, KeyError, PublicKey};
use crate::verify::fetched::{KeyKind, KeyWant, Keys};
use crate::verify::fetched_verify;
use crate::verify::{Check, CheckKind, Request as Delivery};

/// Why a document could not be fetched. Logged; the delivery is rejected as `invalid`.
#[derive(Clone, Debug, thiserror::Error)]
pub enum FetchError {
    /// Not an `https` URL (never fetched).
    #[error("not an https URL")]
    NotHttps,
    /// No answer within the time limit.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Connection or TLS failure.
    #[error("connection failed: {0}")]
    Connect(String),
    /// An answer other than 200.
    #[error("answered {0}")]
    Status(u16),
    /// A body above the size limit.
    #[error("answered more than {0} bytes")]
    TooLarge(usize),
    /// A body that holds no usable key.
    #[error("served no usable key: {0}")]
    Unreadable(KeyError),
}

/// Bounds on fetching and caching.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Documents kept at most.
    pub entries: usize,
    /// Time for one fetch, connection to last byte.
    pub timeout: Duration,
    /// Largest document accepted.
    pub max_bytes: usize,
    /// Fetches in flight at once (all URLs).
    pub concurrent: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            entries: 256,
            timeout: Duration::from_secs(5),
            max_bytes: 64 * 1024,
            concurrent: 8,
        }
    }
}

const DEFAULT_TTL: Duration = Duration::from_secs(3600);
const MIN_TTL: Duration = Duration::from_secs(60);
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);
const FAILURE_TTL: Duration = Duration::from_secs(10);
/// A key set that lacks the delivery's `kid` is fetched again, at most this often.
const KID_REFRESH: Duration = Duration::from_secs(60);

type Fetched = Result<Arc<Vec<PublicKey>>, FetchError>;

struct Entry {
    keys: Fetched,
    expires: Instant,
}

/// One cached document; waiters on a miss share its cell.
struct Slot {
    cell: OnceCell<Entry>,
    created: Instant,
}

impl Slot {
    fn fresh() -> Arc<Slot> {
        Arc::new(Slot {
            cell: OnceCell::new(),
            created: Instant::now(),
        })
    }

    fn expired(&self, now: Instant) -> bool {
        self.cell.get().is_some_and(|e| e.expires <= now)
    }
}

/// The https client for provider documents, and the cache in front of it.
pub struct KeyCache {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Empty<Bytes>>,
    slots: Mutex<HashMap<(KeyKind, String), Arc<Slot>>>,
    permits: Semaphore,
    limits: Limits,
    requests: AtomicU64,
}

impl KeyCache {
    /// Trusts the roots in `SSL_CERT_FILE` when it is set, else the Mozilla roots.
    pub fn from_env() -> KeyCache {
        Self::new(roots_from_env(), Limits::default())
    }

    /// Trusts `roots` only.
    pub fn new(roots: RootCertStore, limits: Limits) -> KeyCache {
        crate::config::tls::install_crypto_provider();
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .build();
        KeyCache {
            client: Client::builder(TokioExecutor::new()).build(connector),
            slots: Mutex::new(HashMap::new()),
            permits: Semaphore::new(limits.concurrent.max(1)),
            limits,
            requests: AtomicU64::new(0),
        }
    }

    /// Requests sent so far (every fetch, and every [`KeyCache::get_url`]).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The keys every fetched-mode check of `checks` (options of `any:` included) needs for
    /// this delivery. A document that cannot be fetched is left out, so its check rejects.
    pub async fn resolve(&self, checks: &[Check], req: &Delivery<'_>) -> Keys {
        let mut keys = Keys::none();
        for want in wants(checks, req) {
            match self.get(&want).await {
                Ok(found) => keys.insert(want.kind, &want.url, found),
                Err(e) => tracing::warn!(url = %want.url, error = %e, "provider key not fetched"),
            }
        }
        keys
    }

    /// The keys at `want.url`, from the cache or fetched once for every concurrent caller.
    pub async fn get(&self, want: &KeyWant) -> Fetched {
        let slot = self.slot(want, None);
        let keys = self.fill(&slot, want).await;
        let missing_kid = |found: &Arc<Vec<PublicKey>>| {
            want.kid.is_some() && !found.iter().any(|k| k.kid == want.kid)
        };
        match keys {
            Ok(found) if missing_kid(&found) && slot.created.elapsed() >= KID_REFRESH => {
                let again = self.slot(want, Some(&slot));
                self.fill(&again, want).await
            }
            other => other,
        }
    }

    /// The slot for `want`: the cached one unless it expired or is `stale`, else a new one.
    fn slot(&self, want: &KeyWant, stale: Option<&Arc<Slot>>) -> Arc<Slot> {
        let now = Instant::now();
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        let key = (want.kind, want.url.clone());
        if let Some(slot) = slots.get(&key) {
            let replaced = stale.is_some_and(|s| Arc::ptr_eq(s, slot));
            if !replaced && !slot.expired(now) {
                return slot.clone();
            }
        }
        if !slots.contains_key(&key) && slots.len() >= self.limits.entries {
            slots.retain(|_, s| !s.expired(now));
            if slots.len() >= self.limits.entries {
                let oldest = slots
                    .iter()
                    .min_by_key(|(_, s)| s.created)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    slots.remove(&oldest);
                }
            }
        }
        let slot = Slot::fresh();
        slots.insert(key, slot.clone());
        slot
    }

    async fn fill(&self, slot: &Slot, want: &KeyWant) -> Fetched {
        let entry = slot.cell.get_or_init(|| self.fetch(want)).await;
        entry.keys.clone()
    }

    async fn fetch(&self, want: &KeyWant) -> Entry {
        let result = self.get_url(&want.url).await.and_then(|(body, ttl)| {
            let keys = match want.kind {
                KeyKind::Certificate => certs::parse_pem(&body).map(|k| vec![k]),
                KeyKind::Jwks => certs::parse_jwks(&body),
            };
            keys.map(|k| (Arc::new(k), ttl))
                .map_err(FetchError::Unreadable)
        });
        match result {
            Ok((keys, ttl)) => {
                tracing::info!(url = %want.url, keys = keys.len(), ttl_s = ttl.as_secs(), "provider key fetched");
                Entry {
                    keys: Ok(keys),
                    expires: Instant::now() + ttl,
                }
            }
            Err(e) => Entry {
                keys: Err(e),
                expires: Instant::now() + FAILURE_TTL,
            },
        }
    }

    /// One bounded `GET` of an https URL: the body (200 only) and how long it may be cached.
    pub async fn get_url(&self, url: &str) -> Result<(Bytes, Duration), FetchError> {
        let uri: http::Uri = url.parse().map_err(|_| FetchError::NotHttps)?;
        if uri.scheme_str() != Some("https") {
            return Err(FetchError::NotHttps);
        }
        let _permit = self.permits.acquire().await;
        self.requests.fetch_add(1, Ordering::Relaxed);
        let timeout = self.limits.timeout;
        let request = Request::get(uri)
            .header(
                header::USER_AGENT,
                concat!("hookguard/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::new())
            .map_err(|e| FetchError::Connect(e.to_string()))?;
        let max = self.limits.max_bytes;
        let exchange = async {
            let resp = self
                .client
                .request(request)
                .await
                .map_err(|e| FetchError::Connect(error_chain(&e)))?;
            if resp.status() != StatusCode::OK {
                return Err(FetchError::Status(resp.status().as_u16()));
            }
            let ttl = cache_ttl(resp.headers());
            let body = Limited::new(resp.into_body(), max)
                .collect()
                .await
                .map_err(|_| FetchError::TooLarge(max))?;
            Ok((body.to_bytes(), ttl))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| FetchError::Timeout(timeout))?
    }
}

/// Every fetched-mode check's document for this delivery, once each.
fn wants(checks: &[Check], req: &Delivery<'_>) -> Vec<KeyWant> {
    let mut out: Vec<KeyWant> = Vec::new();
    for check in checks {
        let found = match &check.kind {
            CheckKind::Fetched(f) => fetched_verify::want(f, req.headers, req.body)
                .into_iter()
                .collect(),
            CheckKind::Any(options) => wants(options, req),
            _ => Vec::new(),
        };
        for want in found {
            if !out.contains(&want) {
                out.push(want);
            }
        }
    }
    out
}

/// `Cache-Control: max-age`, clamped; `no-store`/`no-cache` keep the minimum.
fn cache_ttl(headers: &http::HeaderMap) -> Duration {
    let Some(value) = headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
    else {
        return DEFAULT_TTL;
    };
    let mut ttl = None;
    for directive in value.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return MIN_TTL;
        }
        if let Some(secs) = lower.strip_prefix("max-age=") {
            ttl = secs
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    ttl.map_or(DEFAULT_TTL, |t| t.clamp(MIN_TTL, MAX_TTL))
}

fn roots_from_env() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let Some(path) = std::env::var_os("SSL_CERT_FILE") else {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        return roots;
    };
    let certs: Vec<CertificateDer<'static>> = match CertificateDer::pem_file_iter(&path) {
        Ok(iter) => iter.filter_map(Result::ok).collect(),
        Err(e) => {
            tracing::error!(file = %path.to_string_lossy(), error = %e, "SSL_CERT_FILE unreadable: provider keys cannot be fetched");
            Vec::new()
        }
    };
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        tracing::error!(file = %path.to_string_lossy(), "SSL_CERT_FILE holds no certificate: provider keys cannot be fetched");
    }
    roots
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ttl(value: &str) -> Duration {
        let mut h = http::HeaderMap::new();
        h.insert(header::CACHE_CONTROL, value.parse().expect("header value"));
        cache_ttl(&h)
    }

    #[test]
    fn max_age_is_honoured_between_a_minute_and_a_day() {
        assert_eq!(
            ttl("public, max-age=19999, must-revalidate"),
            Duration::from_secs(19999)
        );
        assert_eq!(ttl("max-age=5"), MIN_TTL);
        assert_eq!(ttl("max-age=9999999"), MAX_TTL);
        assert_eq!(ttl("no-store"), MIN_TTL);
        assert_eq!(ttl("private"), DEFAULT_TTL);
        assert_eq!(ttl("max-age=abc"), DEFAULT_TTL);
        assert_eq!(cache_ttl(&http::HeaderMap::new()), DEFAULT_TTL);
    }
}
