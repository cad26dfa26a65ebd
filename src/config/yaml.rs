//! The YAML config as serde types, parsed with serde-saphyr; unknown keys are errors.
//!
//! This file only parses. `compile.rs` validates and freezes a [`Config`] into a snapshot.
//! Errors are rendered as `file:line:column: message`, never with serde-saphyr's quoted
//! source lines, and a message about a `value:` line never repeats the value.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::verify::secret::UnixMillis;

/// The whole config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the proxy listens on.
    pub listen: Spanned<String>,
    /// TLS for the proxy listener; absent means plain HTTP.
    #[serde(default)]
    pub tls: Option<Spanned<TlsConfig>>,
    /// The admin listener; absent means none.
    #[serde(default)]
    pub admin: Option<AdminConfig>,
    /// Size and time bounds.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The routes; at least one.
    pub routes: Spanned<Vec<Spanned<RouteConfig>>>,
    /// Peers (CIDR) whose `X-Forwarded-For` names the client for `allow_ips`.
    #[serde(default)]
    pub trusted_proxies: Option<Spanned<Vec<String>>>,
}

/// `tls:` paths (relative paths are relative to the config file's directory).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: String,
    /// PEM CA bundle; when set, clients must present a certificate it signed.
    #[serde(default)]
    pub client_ca: Option<String>,
}

/// `admin:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address of `/healthz`, `/readyz` and `/metrics`.
    pub listen: Spanned<String>,
}

/// `limits:`, with the contract's defaults.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Larger bodies get 413.
    pub max_body_bytes: u64,
    /// Time to receive request headers.
    pub header_timeout: Dur,
    /// Time to receive the whole body.
    pub body_timeout: Dur,
    /// Time for the upstream to answer.
    pub upstream_timeout: Dur,
    /// Open connections above this are refused.
    pub max_connections: usize,
    /// Request line and headers together; more gets 431 (414 for a long target).
    pub max_header_bytes: usize,
    /// Header lines; more gets 431.
    pub max_headers: usize,
    /// Concurrent streams per HTTP/2 connection.
    pub h2_max_concurrent_streams: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: 1_048_576,
            header_timeout: Dur(Duration::from_secs(10)),
            body_timeout: Dur(Duration::from_secs(30)),
            upstream_timeout: Dur(Duration::from_secs(10)),
            max_connections: 10_000,
            max_header_bytes: 65_536,
            max_headers: 100,
            h2_max_concurrent_streams: 100,
        }
    }
}

/// `enforce` or `report-only`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Only verified requests are forwarded.
    #[default]
    Enforce,
    /// Everything is forwarded, marked with the verdict.
    ReportOnly,
}

/// One `routes:` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Unique, `[a-z0-9_-]+`.
    pub name: String,
    /// Matches this path and everything under it.
    pub path: String,
    /// Also require this Host.
    #[serde(default)]
    pub host: Option<String>,
    /// `http://` or `https://` authority to forward to.
    pub upstream: String,
    /// `enforce` (default) or `report-only`.
    #[serde(default)]
    pub mode: Mode,
    /// Methods hookguard answers 200 itself, unverified and never forwarded.
    #[serde(default)]
    pub probe_methods: Vec<String>,
    /// Allowed clock skew for signed timestamps (default 5m).
    #[serde(default)]
    pub tolerance: Option<Dur>,
    /// Overrides `limits.max_body_bytes`.
    #[serde(default)]
    pub max_body_bytes: Option<u64>,
    /// The scheme, host and port senders call, for schemes that sign the URL.
    #[serde(default)]
    pub public_url: Option<Spanned<String>>,
    /// One check or a list that must all pass.
    pub verify: Spanned<Checks>,
    /// Client addresses (CIDR) allowed on this route; others get 403.
    #[serde(default)]
    pub allow_ips: Option<Spanned<Vec<String>>>,
    /// Concurrent requests on this route; more get 503.
    #[serde(default)]
    pub max_in_flight: Option<usize>,
    /// Replay protection; absent means none.
    #[serde(default)]
    pub replay: Option<Spanned<ReplayConfig>>,
}

/// `replay:` on a route, as written; `compile.rs` checks the values and fills the defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayConfig {
    /// `auto` (default), `header:NAME` or `signature`.
    #[serde(default)]
    pub key: Option<String>,
    /// How long a delivered key stays a duplicate (default: twice the route's tolerance).
    #[serde(default)]
    pub window: Option<Dur>,
    /// `memory` (default) or a Redis URL; may carry a password, so `Debug` redacts it.
    #[serde(default)]
    pub store: Option<String>,
    /// `reject` (default) or `allow`.
    #[serde(default)]
    pub on_store_error: Option<String>,
    /// Memory store only: keys kept at most (default 100000).
    #[serde(default)]
    pub max_entries: Option<usize>,
}

impl fmt::Debug for ReplayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplayConfig")
            .field("key", &self.key)
            .field("window", &self.window)
            .field("store", &self.store.as_ref().map(|_| "[redacted]"))
            .field("on_store_error", &self.on_store_error)
            .field("max_entries", &self.max_entries)
            .finish()
    }
}

/// `verify:` as written: one map, or a list of maps.
#[derive(Debug)]
pub struct Checks(pub Vec<Spanned<CheckConfig>>);

/// One check: a `scheme:` with its secrets, or an `any:` of checks. Which fields apply
/// depends on the scheme; `checks.rs` rejects the others.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// A scheme id from the catalogue (`hookguard schemes`).
    #[serde(default)]
    pub scheme: Option<String>,
    /// Passes when at least one of these checks passes.
    #[serde(default)]
    pub any: Option<Spanned<Checks>>,
    /// The secrets; every one active now is tried.
    #[serde(default)]
    pub secrets: Vec<Spanned<SecretConfig>>,
    /// Handshakes: `forward` hands the provider's challenge to the upstream instead of
    /// answering it.
    #[serde(default)]
    pub handshake: Option<String>,
    /// A handshake's own token (Facebook's verify token): one of `value`, `env`, `file`.
    #[serde(default)]
    pub verify_token: Option<Spanned<SourceConfig>>,
    /// Fetched-key schemes: the hosts a certificate or key set may be fetched from.
    #[serde(default)]
    pub fetch_allow: Option<Vec<String>>,
    /// PayPal: the webhook id its signed string includes.
    #[serde(default)]
    pub webhook_id: Option<String>,
    /// SNS: the topics allowed to deliver (one ARN or a list).
    #[serde(default, deserialize_with = "one_or_many")]
    pub topic_arn: Option<Vec<String>>,
    /// Google Pub/Sub push: the accepted token audiences (one or a list).
    #[serde(default, deserialize_with = "one_or_many")]
    pub audience: Option<Vec<String>>,
    /// Google Pub/Sub push: the accepted push service accounts (one or a list).
    #[serde(default, deserialize_with = "one_or_many")]
    pub email: Option<Vec<String>>,
    /// `hmac`: sha1 | sha256 | sha512.
    #[serde(default)]
    pub algorithm: Option<String>,
    /// `hmac`: the signature header; `api-key`: the key header.
    #[serde(default)]
    pub header: Option<String>,
    /// `hmac`: stripped from each signature where present.
    #[serde(default)]
    pub prefix: Option<String>,
    /// `hmac`: hex | base64 | base64url.
    #[serde(default)]
    pub encoding: Option<String>,
    /// `hmac`: splits several signatures.
    #[serde(default)]
    pub separator: Option<String>,
    /// `hmac`: enables the tolerance check.
    #[serde(default)]
    pub timestamp_header: Option<String>,
    /// `hmac`: the signed-bytes template.
    #[serde(default)]
    pub payload: Option<String>,
    /// `hmac`: utf8 | hex | base64.
    #[serde(default)]
    pub secret_encoding: Option<String>,
}

/// One secret: exactly one of `value`, `env`, `file`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretConfig {
    /// Unique within the check.
    pub id: String,
    /// The secret inline (redacted in `Debug`).
    #[serde(default)]
    pub value: Option<String>,
    /// An environment variable holding it.
    #[serde(default)]
    pub env: Option<String>,
    /// A file holding it; one trailing newline is ignored.
    #[serde(default)]
    pub file: Option<String>,
    /// Not tried before this instant.
    #[serde(default)]
    pub not_before: Option<Spanned<Time>>,
    /// Not tried from this instant on.
    #[serde(default)]
    pub expires: Option<Spanned<Time>>,
}

impl fmt::Debug for SecretConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretConfig")
            .field("id", &self.id)
            .field("value", &self.value.as_ref().map(|_| "[redacted]"))
            .field("env", &self.env)
            .field("file", &self.file)
            .field("not_before", &self.not_before)
            .field("expires", &self.expires)
            .finish()
    }
}

/// A value that is not a signing secret but must not be printed either (a verify token):
/// exactly one of `value`, `env`, `file`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Inline (redacted in `Debug`).
    #[serde(default)]
    pub value: Option<String>,
    /// An environment variable holding it.
    #[serde(default)]
    pub env: Option<String>,
    /// A file holding it; one trailing newline is ignored.
    #[serde(default)]
    pub file: Option<String>,
}

impl fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceConfig")
            .field("value", &self.value.as_ref().map(|_| "[redacted]"))
            .field("env", &self.env)
            .field("file", &self.file)
            .finish()
    }
}

/// A duration written as `500ms`, `10s`, `5m`, `3d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dur(pub Duration);

/// An RFC 3339 instant, as Unix milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Time(pub UnixMillis);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map(Dur).map_err(de::Error::custom)
    }
}

/// Parses `500ms`, `10s`, `5m`, `3d` (humantime syntax, which also takes `1h 30m`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("`{s}` is not a duration like 500ms, 10s, 5m or 3d ({e})"))
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_time(&s).map(Time).map_err(de::Error::custom)
    }
}

/// Parses an RFC 3339 instant such as `2026-11-20T00:00:00Z` into Unix milliseconds.
pub fn parse_time(s: &str) -> Result<UnixMillis, String> {
    let t = time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|e| {
        format!("`{s}` is not an RFC 3339 time like 2026-11-20T00:00:00Z ({e})")
    })?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| format!("`{s}` is out of range"))
}

impl<'de> Deserialize<'de> for Checks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ChecksVisitor)
    }
}

struct ChecksVisitor;

impl<'de> Visitor<'de> for ChecksVisitor {
    type Value = Checks;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("one check (a map with `scheme:` and `secrets:`) or a list of checks")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Checks, A::Error> {
        let check = CheckConfig::deserialize(de::value::MapAccessDeserializer::new(map))?;
        let at = serde_saphyr::Location::UNKNOWN;
        Ok(Checks(vec![Spanned::new(check, at, at)]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checks, A::Error> {
        let mut checks = Vec::new();
        while let Some(check) = seq.next_element::<Spanned<CheckConfig>>()? {
            checks.push(check);
        }
        Ok(Checks(checks))
    }
}

/// A string or a list of strings, as a list.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    struct OneOrMany;
    impl<'de> Visitor<'de> for OneOrMany {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(vec![v.to_owned()])
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                out.push(item);
            }
            Ok(out)
        }
    }
    d.deserialize_any(OneOrMany).map(Some)
}

/// A config problem, located in its file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read config: {source}", file.display())]
    Read {
        /// The config file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Syntax or meaning, at a place in the file.
    #[error("{}:{line}:{column}: {message}", file.display())]
    At {
        /// The config file.
        file: PathBuf,
        /// 1-based line (0 when unknown).
        line: u64,
        /// 1-based column (0 when unknown).
        column: u64,
        /// What is wrong, never a secret.
        message: String,
    },
}

/// Parses YAML text into a [`Config`]; `file` only names the source in errors.
pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
    serde_saphyr::from_str::<Config>(text).map_err(|err| {
        let (line, column) = err
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        let message = plain_message(&err);
        ConfigError::At {
            file: file.to_owned(),
            line,
            column,
            message: redact_value_line(text, line, message),
        }
    })
}

/// serde-saphyr's message without its quoted source snippet or its own location suffix.
fn plain_message(err: &serde_saphyr::Error) -> String {
    let text = err.without_snippet().to_string();
    let first = text.lines().next().unwrap_or("invalid config").trim();
    match first.find(" at line ") {
        Some(i) => first[..i].to_owned(),
        None => first.to_owned(),
    }
}

/// When the error sits on a `value:` line, removes that line's value from the message, so an
/// inline secret is never echoed.
fn redact_value_line(text: &str, line: u64, message: String) -> String {
    let Some(src) = usize::try_from(line)
        .ok()
        .and_then(|l| l.checked_sub(1))
        .and_then(|l| text.lines().nth(l))
    else {
        return message;
    };
    let src = src.trim_start().trim_start_matches("- ");
    let Some(raw) = src.strip_prefix("value:") else {
        return message;
    };
    let value = raw.trim().trim_matches(|c| c == '"' || c == '\'');
    if value.is_empty() {
        return message;
    }
    let mut out = message.replace(value, "[redacted]");
    if out == message && message.contains(raw.trim()) {
        out = message.replace(raw.trim(), "[redacted]");
    }
    out
}
