//! The process-wide state every request and the admin listener share: the swappable
//! snapshot, metrics, the connection limit, readiness and the clock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use std::time::Duration;

use tokio::sync::{watch, Semaphore};

use crate::config::snapshot::{Shared, Snapshot};
use crate::serve::keys::KeyCache;
use crate::serve::metrics::Metrics;
use crate::serve::replay::Stores;
use crate::verify::secret::UnixMillis;

/// Shared by the proxy, the admin listener and the reloader.
pub struct App {
    /// The current snapshot; one writer (the reloader) replaces it whole.
    pub shared: Shared,
    /// Every exported metric.
    pub metrics: Metrics,
    /// Open connections allowed (`limits.max_connections` at start), shared by every worker.
    pub connections: Arc<Semaphore>,
    /// Replay stores, kept across reloads (memory by route, Redis connections by URL).
    pub replay: Stores,
    /// Provider certificates and key sets fetched for public-key schemes, kept across reloads.
    pub keys: KeyCache,
    ready: AtomicBool,
    draining: AtomicBool,
    /// Set when the drain limit is reached: requests holding a replay claim stop waiting for
    /// the upstream and release it while the runtime can still reach the store.
    cut_off: watch::Sender<bool>,
    drain_ms: AtomicU64,
    request_seq: AtomicU64,
    id_prefix: String,
    clock: fn() -> UnixMillis,
}

impl App {
    /// Wraps a first snapshot; not ready until [`App::set_ready`].
    pub fn new(snapshot: Snapshot) -> Arc<App> {
        Self::with_clock(snapshot, crate::config::clock::now_ms)
    }

    /// Like [`App::new`] with another clock (tests).
    pub fn with_clock(snapshot: Snapshot, clock: fn() -> UnixMillis) -> Arc<App> {
        let max_connections = snapshot.limits.max_connections;
        let metrics = Metrics::new();
        metrics.sync_secrets(&snapshot);
        let replay = Stores::default();
        sync_replay(&replay, &metrics, &snapshot);
        Arc::new(App {
            shared: Arc::new(ArcSwap::from_pointee(snapshot)),
            metrics,
            connections: Arc::new(Semaphore::new(max_connections)),
            replay,
            keys: KeyCache::from_env(),
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            cut_off: watch::Sender::new(false),
            drain_ms: AtomicU64::new(0),
            request_seq: AtomicU64::new(0),
            id_prefix: random_prefix(),
            clock,
        })
    }

    /// Unix milliseconds now.
    pub fn now(&self) -> UnixMillis {
        (self.clock)()
    }

    /// Marks the listeners bound: `/readyz` answers 200.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::SeqCst);
    }

    /// Shutdown has begun: `/readyz` answers 503.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether `/readyz` should answer 200.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && !self.draining.load(Ordering::SeqCst)
    }

    /// Whether shutdown has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// A drain limit a test set in place of `server::DRAIN_TIMEOUT`.
    pub fn drain_override(&self) -> Option<Duration> {
        let ms = self.drain_ms.load(Ordering::Relaxed);
        (ms > 0).then(|| Duration::from_millis(ms))
    }

    /// Shortens the drain limit (tests, which cannot wait 30 s for a cut-off).
    pub fn set_drain_timeout(&self, limit: Duration) {
        let ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
        self.drain_ms.store(ms.max(1), Ordering::Relaxed);
    }

    /// The drain limit was reached: requests still waiting on the upstream with a replay
    /// claim give up and release it.
    pub fn cut_off(&self) {
        self.cut_off.send_replace(true);
    }

    /// Resolves once [`App::cut_off`] was called.
    pub fn cut_off_signal(&self) -> impl std::future::Future<Output = ()> + use<> {
        let mut rx = self.cut_off.subscribe();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }

    /// A request id unique across restarts: a random per-process prefix and a sequence number.
    pub fn next_request_id(&self) -> String {
        let n = self.request_seq.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n:x}", self.id_prefix)
    }

    /// Swaps in a new snapshot and brings the per-secret metrics in line with it. A route that
    /// keeps its name and `max_in_flight` keeps its slots, so the requests in flight on the
    /// old snapshot still count against the limit.
    pub fn install(&self, mut snapshot: Snapshot) {
        let old = self.shared.load();
        for route in &mut snapshot.routes {
            let kept = old
                .route_named(&route.name)
                .and_then(|r| r.in_flight.as_ref());
            if let (Some(new), Some(kept)) = (route.in_flight.as_mut(), kept) {
                if new.0 == kept.0 {
                    new.1 = kept.1.clone();
                }
            }
        }
        self.metrics.sync_secrets(&snapshot);
        sync_replay(&self.replay, &self.metrics, &snapshot);
        self.shared.store(Arc::new(snapshot));
    }
}

/// Replay stores and their metric series for the snapshot about to go live.
fn sync_replay(stores: &Stores, metrics: &Metrics, snapshot: &Snapshot) {
    stores.sync(snapshot, metrics);
    for route in snapshot.routes.iter().filter(|r| r.replay.is_some()) {
        metrics.replay_route(&route.name);
    }
}

fn random_prefix() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 6];
    rand::rng().fill_bytes(&mut bytes);
    format!("hg{}", hex::encode(bytes))
}
