//! The Redis replay store: how several replicas share one view of what was delivered.
//!
//! One `SET key value NX GET PX ttl` claims a delivery atomically and says, when it fails,
//! whether the first delivery is still in flight (`i:<token>`) or done (`d:<token>`). Keeping
//! is a plain `SET ... PX window` (a 2xx means delivered, whoever holds the key); releasing
//! is a compare-and-delete Lua script on the claim's own token, so a slow first delivery
//! whose claim has expired cannot release a newer claim.
//!
//! Connections: one multiplexed connection per worker thread, made on first use there and
//! kept by the `redis` crate's tokio `ConnectionManager`, which reconnects by itself (Cluster
//! connections reconnect and follow slot moves by themselves too). Every request on a worker
//! shares that one connection, pipelined; none opens its own. A worker's connection lives on
//! that worker's runtime, so a request's store calls wake no other thread. The process keeps
//! one [`RedisStore`] per distinct URL, so a reload that keeps the URL keeps the connections.

use std::sync::{Mutex, PoisonError};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::io::tcp::{socket2, TcpSettings};
use redis::Value;

use crate::config::replay::{RedisUrl, Topology};

/// The bound on every store call, connecting included.
pub const STORE_BOUND: Duration = Duration::from_millis(250);

/// After a failed connect, further connects on that worker wait this long, and calls fail at
/// once meanwhile: a Redis that is down costs a request nothing but the failure.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);

/// Why a store call failed; the request then follows `on_store_error`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No answer within [`STORE_BOUND`].
    #[error("replay store did not answer within {0:?}")]
    Timeout(Duration),
    /// Connection or command failure.
    #[error("replay store failed: {0}")]
    Redis(String),
}

/// What a claim found in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// The key was free and is now claimed with our token.
    Claimed,
    /// Another delivery with this key is still in flight.
    InFlight,
    /// A delivery with this key was answered 2xx within the window.
    Duplicate,
}

#[derive(Clone)]
enum Conn {
    Manager(ConnectionManager),
    Cluster(ClusterConnection),
}

/// One Redis (server, Cluster or Sentinel master) and this process's connections to it.
pub struct RedisStore {
    url: RedisUrl,
    conns: ArcSwap<Vec<(ThreadId, Conn)>>,
    /// When a connect last failed, per worker thread.
    failed: Mutex<Vec<(ThreadId, Instant)>>,
}

const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
    return redis.call('DEL', KEYS[1]) else return 0 end";

impl RedisStore {
    /// A store for `url`; connects lazily, on each worker's first call.
    pub fn new(url: RedisUrl) -> RedisStore {
        RedisStore {
            url,
            conns: ArcSwap::from_pointee(Vec::new()),
            failed: Mutex::new(Vec::new()),
        }
    }

    /// The URL as configured (the registry's key; never logged: it may carry a password).
    pub fn url(&self) -> &str {
        &self.url.url
    }

    /// The URL as configured, password redacted.
    pub fn shown(&self) -> &str {
        &self.url.shown
    }

    /// Claims `key` for a delivery in flight for at most `ttl`.
    pub async fn claim(&self, key: &str, token: u64, ttl: Duration) -> Result<Found, StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key)
            .arg(format!("i:{token:016x}"))
            .arg("NX")
            .arg("GET")
            .arg("PX")
            .arg(millis(ttl));
        let value: Value = self
            .bounded(|mut c| async move { c.query(&cmd).await })
            .await?;
        Ok(match value {
            Value::Nil | Value::Okay => Found::Claimed,
            Value::BulkString(v) if v.starts_with(b"i:") => Found::InFlight,
            _ => Found::Duplicate,
        })
    }

    /// Marks `key` delivered, a duplicate for `window`. No compare: the upstream answered 2xx,
    /// so the delivery was made whoever holds the key now (a claim of ours that expired and a
    /// retry's newer one alike), and its copies are duplicates. A plain `SET`, no script.
    pub async fn keep(&self, key: &str, token: u64, window: Duration) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key)
            .arg(format!("d:{token:016x}"))
            .arg("PX")
            .arg(millis(window));
        self.bounded(|mut c| async move { c.query(&cmd).await })
            .await
            .map(|_: Value| ())
    }

    /// Deletes `key` if it is still our claim.
    pub async fn release(&self, key: &str, token: u64) -> Result<(), StoreError> {
        let mut cmd = eval(RELEASE, key);
        cmd.arg(format!("i:{token:016x}"));
        self.bounded(|mut c| async move { c.query(&cmd).await })
            .await
            .map(|_: Value| ())
    }

    /// Runs one call on this worker's connection within [`STORE_BOUND`], connecting first
    /// when this worker has none.
    async fn bounded<T, F, Fut>(&self, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let work = async {
            let conn = self.conn().await?;
            call(conn)
                .await
                .map_err(|e| StoreError::Redis(e.to_string()))
        };
        match tokio::time::timeout(STORE_BOUND, work).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Timeout(STORE_BOUND)),
        }
    }

    async fn conn(&self) -> Result<Conn, StoreError> {
        let me = std::thread::current().id();
        if let Some((_, c)) = self.conns.load().iter().find(|(t, _)| *t == me) {
            return Ok(c.clone());
        }
        let recently = {
            let failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
            failed
                .iter()
                .any(|(t, at)| *t == me && at.elapsed() < RECONNECT_PAUSE)
        };
        if recently {
            return Err(StoreError::Redis("not connected; retrying shortly".into()));
        }
        match self.connect().await {
            Ok(conn) => {
                self.conns.rcu(|v| {
                    let mut v = Vec::clone(v);
                    if !v.iter().any(|(t, _)| *t == me) {
                        v.push((me, conn.clone()));
                    }
                    v
                });
                Ok(conn)
            }
            Err(e) => {
                let mut failed = self.failed.lock().unwrap_or_else(PoisonError::into_inner);
                failed.retain(|(t, _)| *t != me);
                failed.push((me, Instant::now()));
                tracing::warn!(store = %self.url.shown, error = %e, "cannot connect to the replay store");
                Err(StoreError::Redis(e.to_string()))
            }
        }
    }

    async fn connect(&self) -> redis::RedisResult<Conn> {
        match &self.url.topology {
            Topology::Single(url) => manager(redis::Client::open(url.as_str())?).await,
            Topology::Cluster(nodes) => {
                let client = redis::cluster::ClusterClientBuilder::new(nodes.clone())
                    .connection_timeout(STORE_BOUND)
                    .response_timeout(STORE_BOUND)
                    .build()?;
                Ok(Conn::Cluster(client.get_async_connection().await?))
            }
            Topology::Sentinel { .. } => manager(self.sentinel_master().await?).await,
        }
    }

    /// The master's client, as the sentinels name it now.
    async fn sentinel_master(&self) -> redis::RedisResult<redis::Client> {
        use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
        let Topology::Sentinel {
            sentinels,
            master,
            db,
            user,
            password,
            tls,
        } = &self.url.topology
        else {
            return Err(redis::RedisError::from((
                redis::ErrorKind::ClientError,
                "not a Sentinel store",
            )));
        };
        let node = SentinelNodeConnectionInfo {
            tls_mode: tls.then_some(redis::TlsMode::Secure),
            redis_connection_info: Some(redis::RedisConnectionInfo {
                db: *db,
                username: user.clone(),
                password: password.clone(),
                protocol: redis::ProtocolVersion::RESP2,
            }),
        };
        let mut client = SentinelClient::build(
            sentinels.clone(),
            master.clone(),
            Some(node),
            SentinelServerType::Master,
        )?;
        client.async_get_client().await
    }

    /// Forgets this worker's connection after a failure of a Sentinel store, whose master may
    /// have moved: the next call asks the sentinels again. (A single server's manager and a
    /// Cluster connection reconnect by themselves and are kept.)
    pub fn forget_after_failure(&self) {
        if !matches!(self.url.topology, Topology::Sentinel { .. }) {
            return;
        }
        let me = std::thread::current().id();
        self.conns.rcu(|v| {
            let mut v = Vec::clone(v);
            v.retain(|(t, _)| *t != me);
            v
        });
    }
}

async fn manager(client: redis::Client) -> redis::RedisResult<Conn> {
    // Every call is bounded by `bounded` already: no second timer per command here. A Redis
    // that vanishes without a reset (a partition) is noticed by TCP within seconds, not
    // minutes, and the manager then reconnects.
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(5))
        .with_interval(Duration::from_secs(1));
    let tcp = TcpSettings::default()
        .set_nodelay(true)
        .set_keepalive(keepalive)
        .set_user_timeout(Duration::from_secs(3));
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(STORE_BOUND)
        .set_number_of_retries(2)
        .set_factor(2)
        .set_max_delay(200)
        .set_tcp_settings(tcp);
    Ok(Conn::Manager(
        ConnectionManager::new_with_config(client, config).await?,
    ))
}

impl Conn {
    async fn query<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        match self {
            Conn::Manager(m) => cmd.query_async(m).await,
            Conn::Cluster(c) => cmd.query_async(c).await,
        }
    }
}

/// `EVAL script 1 key`, arguments to follow. The script travels whole each time (Redis caches
/// its compiled form by digest): an `EVALSHA` that meets an empty script cache after a Redis
/// restart needs a second round trip, which a call that has already timed out never makes, so
/// a late release would be lost.
fn eval(script: &str, key: &str) -> redis::Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(script).arg(1).arg(key);
    cmd
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}
