//! A route's `replay:` checked and compiled: which bytes name a delivery, how long a delivered
//! one stays a duplicate, which store shares that view, and what a store failure does. Redis
//! URLs are parsed here (by the `redis` crate, without connecting), so a bad one is a config
//! error with its line and column, and a URL's password never reaches a log or `check`.

use std::fmt;
use std::time::Duration;

use http::HeaderName;

use crate::config::ReplayConfig;
use crate::verify::{Check, CheckKind};

/// Default `max_entries` of the memory store.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

/// Compiled `replay:` of a route.
#[derive(Debug)]
pub struct Replay {
    /// What names a delivery.
    pub key: ReplayKey,
    /// How long a delivered key stays a duplicate.
    pub window: Duration,
    /// Where keys are kept.
    pub store: Store,
    /// What an unreachable or slow store does to a request.
    pub on_store_error: OnStoreError,
}

/// `key:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplayKey {
    /// The first check's delivery-id header, else its verified signature.
    Auto,
    /// The value of this header.
    Header(HeaderName),
    /// The digest of the first check's verified signature.
    Signature,
}

/// `on_store_error:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnStoreError {
    /// 503: the sender retries later.
    Reject,
    /// Forward unrecorded.
    Allow,
}

/// `store:`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Store {
    /// This process only, at most `max_entries` keys (oldest evicted first).
    Memory {
        /// Keys kept at most.
        max_entries: usize,
    },
    /// Shared by every replica that names the same Redis.
    Redis(RedisUrl),
}

/// A Redis store as configured. The URL may carry a password: `Debug` and [`RedisUrl::shown`]
/// replace it.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    /// The URL as written: the process keeps one set of connections per distinct URL, so a
    /// reload that keeps it keeps the connections.
    pub url: String,
    /// The URL with any password replaced by `***`.
    pub shown: String,
    /// One server, a Cluster, or a master found through Sentinel.
    pub topology: Topology,
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisUrl")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

/// How the nodes of a Redis store are reached; every URL inside is a `redis://` or
/// `rediss://` URL the `redis` crate parsed.
#[derive(Clone, PartialEq, Eq)]
pub enum Topology {
    /// `redis://` / `rediss://`: one server.
    Single(String),
    /// `redis+cluster://` / `rediss+cluster://`: seed nodes of a Redis Cluster.
    Cluster(Vec<String>),
    /// `redis+sentinel://` / `rediss+sentinel://`: sentinels, and the master they name.
    Sentinel {
        /// Sentinel node URLs.
        sentinels: Vec<String>,
        /// The monitored master's name.
        master: String,
        /// The database on the master.
        db: i64,
        /// Password (and user) for the master, from the URL's userinfo.
        user: Option<String>,
        /// Password for the master.
        password: Option<String>,
        /// Whether the master is reached over TLS.
        tls: bool,
    },
}

/// Checks and compiles `replay:` for a route whose first check is `first` and whose
/// tolerance is `tolerance`; the error is a message for the route's location.
pub fn compile(r: &ReplayConfig, first: &Check, tolerance: Duration) -> Result<Replay, String> {
    let key = key(r.key.as_deref().unwrap_or("auto"))?;
    distinguishes(&key, first)?;
    let window = r.window.map_or(tolerance * 2, |d| d.0);
    if window.is_zero() {
        return Err("`replay.window` must be greater than zero".into());
    }
    let store = store(r.store.as_deref().unwrap_or("memory"), r.max_entries)?;
    let on_store_error = match r.on_store_error.as_deref().unwrap_or("reject") {
        "reject" => OnStoreError::Reject,
        "allow" => OnStoreError::Allow,
        other => {
            return Err(format!(
                "`replay.on_store_error` must be reject or allow, not `{other}`"
            ))
        }
    };
    Ok(Replay {
        key,
        window,
        store,
        on_store_error,
    })
}

fn key(s: &str) -> Result<ReplayKey, String> {
    match s.trim() {
        "auto" => Ok(ReplayKey::Auto),
        "signature" => Ok(ReplayKey::Signature),
        other => match other.strip_prefix("header:") {
            Some(name) => HeaderName::from_bytes(name.trim().as_bytes())
                .map(ReplayKey::Header)
                .map_err(|_| format!("`replay.key`: `{name}` is not a valid header name")),
            None => Err(format!(
                "`replay.key` must be auto, header:NAME or signature, not `{other}`"
            )),
        },
    }
}

/// A key that is the same for every delivery would answer every request after the first
/// `duplicate`: refuse it here instead.
fn distinguishes(key: &ReplayKey, first: &Check) -> Result<(), String> {
    let signed = matches!(first.kind, CheckKind::Hmac(_));
    let scheme = first.scheme;
    match key {
        ReplayKey::Header(_) => Ok(()),
        ReplayKey::Signature if signed => Ok(()),
        ReplayKey::Auto if signed || !first.delivery_id.is_empty() => Ok(()),
        ReplayKey::Signature => Err(format!(
            "`replay.key: signature` needs a signature, but scheme `{scheme}` presents the same \
             credential on every delivery, so every request after the first would be a \
             duplicate; use `key: header:NAME` with a header that names the delivery"
        )),
        ReplayKey::Auto => Err(format!(
            "`replay.key: auto` cannot tell deliveries apart: scheme `{scheme}` has no \
             delivery-id header and presents the same credential on every delivery; use \
             `key: header:NAME` with a header that names the delivery"
        )),
    }
}

fn store(s: &str, max_entries: Option<usize>) -> Result<Store, String> {
    let s = s.trim();
    if s == "memory" {
        let max_entries = max_entries.unwrap_or(DEFAULT_MAX_ENTRIES);
        if max_entries == 0 {
            return Err("`replay.max_entries` must be greater than zero".into());
        }
        return Ok(Store::Memory { max_entries });
    }
    let Some((scheme, rest)) = s.split_once("://") else {
        return Err(format!(
            "`replay.store` must be memory or a redis:// or rediss:// URL, not `{}`",
            redact(s)
        ));
    };
    if max_entries.is_some() {
        return Err("`replay.max_entries` applies only to `store: memory`".into());
    }
    let topology = match scheme {
        "redis" | "rediss" => Topology::Single(node(s)?),
        "redis+cluster" | "rediss+cluster" => cluster(scheme, rest)?,
        "redis+sentinel" | "rediss+sentinel" => sentinel(scheme, rest)?,
        other => {
            return Err(format!(
                "`replay.store`: unknown scheme `{other}://`; use memory, redis://, rediss://, \
                 redis+cluster://, redis+sentinel:// (or their rediss+ forms)"
            ))
        }
    };
    Ok(Store::Redis(RedisUrl {
        url: s.to_owned(),
        shown: redact(s),
        topology,
    }))
}

/// A node URL as the `redis` crate reads it.
fn node(url: &str) -> Result<String, String> {
    redis::Client::open(url)
        .map(|_| url.to_owned())
        .map_err(|e| format!("`replay.store` `{}`: {e}", redact(url)))
}

/// Splits `[userinfo@]host:port,host:port[/path]` into userinfo, hosts and path.
fn split_hosts(rest: &str) -> (Option<&str>, Vec<&str>, &str) {
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let hosts = hosts.split(',').map(str::trim).filter(|h| !h.is_empty());
    (userinfo, hosts.collect(), path)
}

fn cluster(scheme: &str, rest: &str) -> Result<Topology, String> {
    let node_scheme = scheme.trim_end_matches("+cluster");
    let (userinfo, hosts, path) = split_hosts(rest);
    if hosts.is_empty() {
        return Err("`replay.store`: a Cluster URL needs at least one host:port".into());
    }
    if !path.is_empty() {
        return Err("`replay.store`: a Cluster URL takes no database or path".into());
    }
    let auth = userinfo.map_or(String::new(), |u| format!("{u}@"));
    let nodes = hosts
        .iter()
        .map(|h| node(&format!("{node_scheme}://{auth}{h}")))
        .collect::<Result<_, _>>()?;
    Ok(Topology::Cluster(nodes))
}

fn sentinel(scheme: &str, rest: &str) -> Result<Topology, String> {
    let tls = scheme.starts_with("rediss");
    let (userinfo, hosts, path) = split_hosts(rest);
    let mut segments = path.split('/').filter(|p| !p.is_empty());
    let master = segments.next().ok_or(
        "`replay.store`: a Sentinel URL names the master: redis+sentinel://HOST:PORT,.../MASTER[/DB]",
    )?;
    let db = match segments.next() {
        Some(db) => db
            .parse()
            .map_err(|_| format!("`replay.store`: database `{db}` is not a number"))?,
        None => 0,
    };
    if hosts.is_empty() {
        return Err("`replay.store`: a Sentinel URL needs at least one host:port".into());
    }
    let sentinels = hosts
        .iter()
        .map(|h| node(&format!("redis://{h}")))
        .collect::<Result<_, _>>()?;
    let (user, password) = match userinfo.map(|u| u.split_once(':').unwrap_or((u, ""))) {
        Some((user, pass)) => (
            Some(user).filter(|u| !u.is_empty()).map(str::to_owned),
            Some(pass).filter(|p| !p.is_empty()).map(str::to_owned),
        ),
        None => (None, None),
    };
    Ok(Topology::Sentinel {
        sentinels,
        master: master.to_owned(),
        db,
        user,
        password,
        tls,
    })
}

/// The URL with the password of its userinfo replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let user = rest[..at].split_once(':').map_or(&rest[..at], |(u, _)| u);
    let shown_user = if rest[..at].contains(':') {
        format!("{user}:***")
    } else {
        "***".to_owned()
    };
    format!("{scheme}://{shown_user}{}", &rest[at..])
}

impl Replay {
    /// `check`'s line for the route whose first check is `first`: key, window, store, and what
    /// a store failure does, never a password.
    pub fn describe(&self, first: Option<&Check>, tolerance: Duration) -> String {
        let key = match (&self.key, first) {
            (ReplayKey::Auto, Some(c)) => {
                let ids: Vec<&str> = c.delivery_id.iter().map(|h| h.as_str()).collect();
                let signed = matches!(c.kind, CheckKind::Hmac(_));
                match (ids.is_empty(), signed) {
                    (true, _) => "auto (the verified signature)".to_owned(),
                    (false, true) => {
                        format!("auto ({}, else the verified signature)", ids.join(", "))
                    }
                    (false, false) => format!("auto ({})", ids.join(", ")),
                }
            }
            (key, _) => key.shown(),
        };
        let on_error = match self.on_store_error {
            OnStoreError::Reject => "reject",
            OnStoreError::Allow => "allow",
        };
        let short = if self.window < tolerance * 2 {
            " (shorter than twice the tolerance: a replay sent after the window may still verify)"
        } else {
            ""
        };
        format!(
            "key {key} window {}{short} store {} on_store_error {on_error}",
            humantime::format_duration(self.window),
            self.store.shown()
        )
    }
}

impl Store {
    /// How `check` and the logs name the store (password redacted).
    pub fn shown(&self) -> String {
        match self {
            Store::Memory { max_entries } => format!("memory (max_entries {max_entries})"),
            Store::Redis(r) => r.shown.clone(),
        }
    }
}

impl ReplayKey {
    /// How `check` names the key.
    pub fn shown(&self) -> String {
        match self {
            ReplayKey::Auto => "auto".into(),
            ReplayKey::Header(h) => format!("header:{h}"),
            ReplayKey::Signature => "signature".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_a_store_url_is_never_shown() {
        assert_eq!(redact("redis://:s3cret@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(redact("rediss://u:s3cret@h/1"), "rediss://u:***@h/1");
        assert_eq!(redact("redis://tok@h"), "redis://***@h");
        assert_eq!(redact("redis://h:6379/0"), "redis://h:6379/0");
        let err = store("redis://:s3cret@h:notaport", None).expect_err("bad port");
        assert!(!err.contains("s3cret"), "{err}");
        let s = store("redis://:s3cret@h:6379", None).expect("valid");
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn cluster_and_sentinel_urls_become_node_urls_the_redis_crate_reads() {
        let Store::Redis(r) = store("redis+cluster://:pw@a:7000, b:7001", None).expect("ok") else {
            panic!("not redis")
        };
        let want = vec![
            "redis://:pw@a:7000".to_owned(),
            "redis://:pw@b:7001".to_owned(),
        ];
        assert!(matches!(&r.topology, Topology::Cluster(nodes) if *nodes == want));
        let Store::Redis(r) =
            store("rediss+sentinel://:pw@s1:26379,s2/mymaster/2", None).expect("ok")
        else {
            panic!("not redis")
        };
        let Topology::Sentinel {
            sentinels,
            master,
            db,
            password,
            tls,
            ..
        } = r.topology
        else {
            panic!("not sentinel")
        };
        assert_eq!(sentinels, vec!["redis://s1:26379", "redis://s2"]);
        assert_eq!((master.as_str(), db, tls), ("mymaster", 2, true));
        assert_eq!(password.as_deref(), Some("pw"));
        assert!(store("redis+sentinel://s1:26379", None).is_err());
        assert!(store("memcached://h", None).is_err());
        assert!(store("redis://h", Some(5)).is_err());
        assert_eq!(
            store("memory", None),
            Ok(Store::Memory {
                max_entries: DEFAULT_MAX_ENTRIES
            })
        );
    }
}
