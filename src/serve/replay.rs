//! Replay protection (contract section 11): a verified delivery's key is claimed before it
//! is forwarded, kept for the window once the upstream answered 2xx, and released otherwise,
//! so a captured delivery sent again is answered `duplicate` while the sender's own retry of
//! a failed delivery still goes through.
//!
//! - [`key`]: which bytes name the delivery (a delivery-id header, a chosen header, or the
//!   digest of the verified signature), hashed with the kind so every key is 32 bytes.
//! - [`Stores`]: the stores this process keeps, by route (memory) and by URL (Redis), carried
//!   across reloads; it lives in `App`, not in the snapshot.
//! - [`claim`] and [`Guard`]: one claim per delivery; the guard keeps or releases it, and
//!   releases it when dropped unanswered (client gone, request cut off).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use crate::config::replay::{Replay, ReplayKey, Store as StoreSpec};
use crate::config::snapshot::{Route, Snapshot};
use crate::serve::metrics::{Metrics, ReplayHealth};
use crate::serve::replay_memory::MemoryStore;
use crate::serve::replay_redis::{Found, RedisStore, StoreError};
use crate::verify::{extract, signed_digest, Check, Request};

/// Where a key came from: the request log names it (never the key itself for a signature).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// The provider's delivery-id header.
    DeliveryId,
    /// The header `key: header:NAME` names.
    Header,
    /// The verified signature.
    Signature,
}

impl KeyKind {
    /// The log's `replay_key` value.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::DeliveryId => "delivery_id",
            KeyKind::Header => "header",
            KeyKind::Signature => "signature",
        }
    }
}

/// A delivery's replay key.
#[derive(Clone, Debug)]
pub struct Key {
    /// Where it came from.
    pub kind: KeyKind,
    /// The delivery id as sent (delivery-id and header keys only), for the log line.
    pub id: Option<String>,
    digest: [u8; 32],
}

/// The request carries nothing to key on: the key header is missing or on several lines.
#[derive(Debug, thiserror::Error)]
#[error("replay key header `{0}` is missing or sent more than once")]
pub struct KeyMissing(pub String);

/// The key of a verified request `req` under `replay`, from the route's `checks`. The
/// signature digest is computed only when the key needs it.
pub fn key(replay: &Replay, checks: &[Check], req: &Request<'_>) -> Result<Key, KeyMissing> {
    let headers = req.headers;
    let from_header = |name: &http::HeaderName, kind| match extract::single(headers, name) {
        Ok(Some(v)) if !v.is_empty() => Ok(Some(id_key(kind, v))),
        Ok(_) => Ok(None),
        Err(_) => Err(KeyMissing(name.to_string())),
    };
    let signature = || {
        checks
            .first()
            .and_then(|c| signed_digest(c, req))
            .map(sig_key)
    };
    let delivery = checks.first().map_or(&[][..], |c| &c.delivery_id[..]);
    match &replay.key {
        ReplayKey::Header(name) => {
            from_header(name, KeyKind::Header)?.ok_or_else(|| KeyMissing(name.to_string()))
        }
        ReplayKey::Signature => signature().ok_or_else(|| KeyMissing("signature".into())),
        ReplayKey::Auto => {
            for name in delivery {
                if let Some(k) = from_header(name, KeyKind::DeliveryId)? {
                    return Ok(k);
                }
            }
            let first = delivery
                .first()
                .map_or("signature".into(), |n| n.to_string());
            signature().ok_or(KeyMissing(first))
        }
    }
}

fn id_key(kind: KeyKind, value: &[u8]) -> Key {
    let printable = value.len() <= 128 && value.iter().all(u8::is_ascii_graphic);
    Key {
        kind,
        id: printable.then(|| String::from_utf8_lossy(value).into_owned()),
        digest: Sha256::new()
            .chain_update(b"id\0")
            .chain_update(value)
            .finalize()
            .into(),
    }
}

fn sig_key(sig: [u8; 32]) -> Key {
    Key {
        kind: KeyKind::Signature,
        id: None,
        digest: Sha256::new()
            .chain_update(b"sig\0")
            .chain_update(sig)
            .finalize()
            .into(),
    }
}

/// A route's store: its own memory, or a Redis shared with other routes and replicas.
#[derive(Clone)]
pub enum Store {
    /// This process, this route.
    Memory(Arc<MemoryStore>),
    /// Redis, keys prefixed with the route's name.
    Redis(Arc<RedisStore>),
}

/// Every store the process keeps: per route for memory, per URL for Redis. [`Stores::sync`]
/// runs before each new snapshot goes live and reuses what it can, so a reload that keeps a
/// route's memory store keeps its keys, and one that keeps a Redis URL keeps its connections.
#[derive(Default)]
pub struct Stores {
    /// Each route's store, with its metric handles (looked up once per reload, not per
    /// request).
    routes: ArcSwap<HashMap<Arc<str>, (Store, ReplayHealth)>>,
    redis: Mutex<HashMap<String, Arc<RedisStore>>>,
}

impl Stores {
    /// Brings the stores in line with `snap`; stores no route uses any more are dropped.
    pub fn sync(&self, snap: &Snapshot, metrics: &Metrics) {
        let old = self.routes.load_full();
        let mut redis = self.redis.lock().unwrap_or_else(PoisonError::into_inner);
        let mut urls = HashSet::new();
        let mut routes = HashMap::new();
        for route in &snap.routes {
            let Some(replay) = &route.replay else {
                continue;
            };
            let store = match &replay.store {
                StoreSpec::Memory { max_entries } => match old.get(&route.name) {
                    Some((Store::Memory(m), _)) => {
                        m.set_max_entries(*max_entries);
                        Store::Memory(m.clone())
                    }
                    _ => Store::Memory(Arc::new(MemoryStore::new(*max_entries))),
                },
                StoreSpec::Redis(url) => {
                    urls.insert(url.url.clone());
                    let store = redis
                        .entry(url.url.clone())
                        .or_insert_with(|| Arc::new(RedisStore::new(url.clone())));
                    Store::Redis(store.clone())
                }
            };
            let health = metrics.replay_health(&route.name);
            routes.insert(route.name.clone(), (store, health));
        }
        redis.retain(|url, _| urls.contains(url));
        self.routes.store(Arc::new(routes));
    }

    /// The store of `route` (a route of the snapshot in force, or of the one just replaced),
    /// with its metric handles.
    pub fn get(&self, route: &Route, replay: &Replay, metrics: &Metrics) -> (Store, ReplayHealth) {
        let current = self.routes.load();
        let found = current
            .get(&route.name)
            .filter(|(s, _)| matches(s, &replay.store));
        if let Some(found) = found {
            return found.clone();
        }
        // A request still on the snapshot a reload just replaced, whose route's store changed.
        let health = metrics.replay_health(&route.name);
        let store = match &replay.store {
            StoreSpec::Memory { max_entries } => {
                Store::Memory(Arc::new(MemoryStore::new(*max_entries)))
            }
            StoreSpec::Redis(url) => {
                let mut redis = self.redis.lock().unwrap_or_else(PoisonError::into_inner);
                let store = redis
                    .entry(url.url.clone())
                    .or_insert_with(|| Arc::new(RedisStore::new(url.clone())));
                Store::Redis(store.clone())
            }
        };
        (store, health)
    }
}

fn matches(store: &Store, spec: &StoreSpec) -> bool {
    match (store, spec) {
        (Store::Memory(_), StoreSpec::Memory { .. }) => true,
        (Store::Redis(r), StoreSpec::Redis(url)) => r.url() == url.url,
        _ => false,
    }
}

/// What claiming a delivery's key found.
pub enum Claim {
    /// Forward it, then keep or release the claim through the guard.
    Claimed(Guard),
    /// Delivered within the window: answer `duplicate`, do not forward.
    Duplicate,
    /// The first delivery is still in flight: 409, do not forward.
    InFlight,
    /// The store failed or was too slow (already counted): `on_store_error` decides.
    Failed(StoreError),
}

/// Claims `key` for `route` in `store`, in flight for at most `ttl`.
pub async fn claim(
    store: Store,
    route: &Route,
    key: &Key,
    ttl: Duration,
    health: ReplayHealth,
) -> Claim {
    let token: u64 = rand::random();
    let redis_key = match &store {
        Store::Memory(_) => String::new(),
        Store::Redis(_) => redis_key(&route.name, key),
    };
    let found = match &store {
        Store::Memory(m) => Ok(m.claim(key.digest, token, Instant::now(), ttl)),
        Store::Redis(r) => r.claim(&redis_key, token, ttl).await,
    };
    observe(&store, &health, &found);
    let window = route.replay.as_ref().map_or(ttl, |r| r.window);
    match found {
        Ok(Found::Claimed) => Claim::Claimed(Guard {
            store,
            redis_key,
            digest: key.digest,
            token,
            window,
            health,
            armed: true,
        }),
        Ok(Found::InFlight) => Claim::InFlight,
        Ok(Found::Duplicate) => Claim::Duplicate,
        Err(e) => {
            // A claim that timed out may still reach Redis later and hold the key for the
            // sender's retry: delete it again if it is ours, once Redis answers.
            if let Store::Redis(r) = store {
                tokio::spawn(async move { r.release(&redis_key, token).await });
            }
            Claim::Failed(e)
        }
    }
}

/// `hookguard:replay:<route>:<hex digest>`: scoped by route, one fixed length per route.
fn redis_key(route: &str, key: &Key) -> String {
    format!("hookguard:replay:{route}:{}", hex::encode(key.digest))
}

fn observe<T>(store: &Store, health: &ReplayHealth, result: &Result<T, StoreError>) {
    match result {
        Ok(_) => health.ok(),
        Err(e) => {
            health.failed();
            if let Store::Redis(r) = store {
                r.forget_after_failure();
                tracing::warn!(store = %r.shown(), error = %e, "replay store call failed");
            }
        }
    }
}

/// A claimed key: [`Guard::keep`] after a 2xx, [`Guard::release`] otherwise. Dropped without
/// either (the client went away, shutdown cut the request off), it releases the key.
pub struct Guard {
    store: Store,
    redis_key: String,
    digest: [u8; 32],
    token: u64,
    window: Duration,
    health: ReplayHealth,
    armed: bool,
}

impl Guard {
    /// The upstream answered 2xx: the key is a duplicate for the window.
    pub async fn keep(mut self) {
        self.armed = false;
        let result = match &self.store {
            Store::Memory(m) => {
                m.keep(self.digest, self.token, Instant::now(), self.window);
                Ok(())
            }
            Store::Redis(r) => r.keep(&self.redis_key, self.token, self.window).await,
        };
        observe(&self.store, &self.health, &result);
    }

    /// The delivery failed: free the key so the sender's retry goes through.
    pub async fn release(mut self) {
        self.armed = false;
        release(
            &self.store,
            &self.redis_key,
            self.digest,
            self.token,
            &self.health,
        )
        .await;
    }
}

async fn release(store: &Store, key: &str, digest: [u8; 32], token: u64, health: &ReplayHealth) {
    let result = match store {
        Store::Memory(m) => {
            m.release(digest, token);
            Ok(())
        }
        Store::Redis(r) => r.release(key, token).await,
    };
    observe(store, health, &result);
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        match &self.store {
            Store::Memory(m) => m.release(self.digest, self.token),
            Store::Redis(_) => {
                let Ok(rt) = tokio::runtime::Handle::try_current() else {
                    return;
                };
                let (store, key) = (self.store.clone(), std::mem::take(&mut self.redis_key));
                let (digest, token, health) = (self.digest, self.token, self.health.clone());
                rt.spawn(async move { release(&store, &key, digest, token, &health).await });
            }
        }
    }
}
