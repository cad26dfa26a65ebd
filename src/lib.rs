//! hookguard: a reverse proxy that verifies webhook signatures before the receiver sees a byte.
//!
//! # Request flow
//! 1. `server` accepts a connection (TLS when configured, the certificate taken from the
//!    current snapshot), bounded by `max_connections` and `header_timeout`.
//! 2. `proxy` loads the snapshot once, matches the route (404), bounds and reads the body
//!    (413, 408), then calls `verify::verify` with the route's checks, the raw bytes and `now`.
//! 3. Only a `verify::Verified` value is forwarded in enforce mode: `forward` strips
//!    hop-by-hop and client-sent `x-hookguard-*`/`x-forwarded-*` headers, adds its own, and
//!    streams the upstream's answer back (502, 504 on failure).
//! 4. `reload` rebuilds the whole snapshot from disk on file change or SIGHUP and swaps it in;
//!    a bad config leaves the running one in place.
//!
//! # Layout
//! - `secret`: key bytes with a redacted `Debug`, fingerprints, validity windows.
//! - `mac`: HMAC states keyed once at load, cloned per request.
//! - `scheme`: the provider presets as data, and the generic payload template.
//! - `extract`: reading signatures, timestamps, ids and keys from headers.
//! - `verify`: pure verification: checks, request bytes and `now` in, a verdict out.
//! - `sign`: the headers a sender would attach (the `sign` command, the demo, tests).
//! - `config`: the YAML as serde types; located, secret-free errors.
//! - `compile` and `checks`: validate and freeze a config into a snapshot; `load(path)`.
//! - `state`: the immutable `Snapshot` and route matching.
//! - `tls`: PEM to rustls server config.
//! - `cli`: clap definitions and exit codes; `commands`: `check`, `sign`, `verify`, `gen-secret`.
//! - `app`: what every request shares: the swappable snapshot, metrics, connection limit,
//!   readiness, clock.
//! - `server`: accept, TLS, first head within `header_timeout` (`rewind`), hyper, drain.
//! - `proxy`: route, body limits, verify, and the one error-to-status map.
//! - `forward`: header hygiene and the pooled upstream client.
//! - `admin`: `/healthz`, `/readyz`, `/metrics`; `metrics`: the Prometheus families.
//! - `reload`: file watch and SIGHUP to a new snapshot; `expiry`: expiry warnings and the
//!   active-secret gauge.
//! - `run`: `hookguard run`: bind one socket per worker thread, start admin and reloader,
//!   serve until SIGTERM; `logging`: text or JSON logs on stderr.
//! - `demo`, `demo_cases`, `demo_receiver`: `hookguard demo`: the embedded config, the
//!   deliveries and their table, the receiver.

#![warn(missing_docs)]

pub mod admin;
pub mod app;
pub mod checks;
pub mod cli;
pub mod commands;
pub mod compile;
pub mod config;
pub mod demo;
pub mod demo_cases;
pub mod demo_receiver;
pub mod expiry;
pub mod extract;
pub mod forward;
pub mod logging;
pub mod mac;
pub mod metrics;
pub mod proxy;
pub mod reload;
pub mod rewind;
pub mod run;
pub mod scheme;
pub mod secret;
pub mod server;
pub mod sign;
pub mod state;
pub mod tls;
pub mod verify;
