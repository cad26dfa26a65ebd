//! The process-wide state every request and the admin listener share: the swappable
//! snapshot, metrics, the connection limit, readiness and the clock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use tokio::sync::Semaphore;

use crate::config::snapshot::{Shared, Snapshot};
use crate::serve::metrics::Metrics;
use crate::verify::secret::UnixMillis;

/// Shared by the proxy, the admin listener and the reloader.
pub struct App {
    /// The current snapshot; one writer (the reloader) replaces it whole.
    pub shared: Shared,
    /// Every exported metric.
    pub metrics: Metrics,
    /// Open connections allowed (`limits.max_connections` at start), shared by every worker.
    pub connections: Arc<Semaphore>,
    ready: AtomicBool,
    draining: AtomicBool,
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
        Arc::new(App {
            shared: Arc::new(ArcSwap::from_pointee(snapshot)),
            metrics,
            connections: Arc::new(Semaphore::new(max_connections)),
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
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
        self.shared.store(Arc::new(snapshot));
    }
}

fn random_prefix() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 6];
    rand::rng().fill_bytes(&mut bytes);
    format!("hg{}", hex::encode(bytes))
}
