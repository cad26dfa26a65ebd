//! hookguard: a reverse proxy that verifies webhook signatures before the receiver sees a byte.
//!
//! # Request flow
//! 1. `serve::server` accepts a connection (TLS when configured, the certificate taken from
//!    the current snapshot), bounded by `max_connections` and `header_timeout`; every HTTP/1.1
//!    head on it is checked by the framing layer (`rewind`, `framer`, `framing`) before hyper
//!    parses it (400, 431, 414).
//! 2. `serve::proxy` loads the snapshot once, matches the route (404), admits the request
//!    (`admit`: `allow_ips` 403, `max_in_flight` 503, and 401 when no check's headers could
//!    verify, all before the body), bounds and reads the body (413, 408), then calls
//!    `verify::verify` with the route's checks, the raw bytes and `now`.
//! 3. Only a `verify::Verified` value is forwarded in enforce mode: `serve::forward` strips
//!    hop-by-hop and client-sent `x-hookguard-*`/`x-forwarded-*` headers, adds its own, and
//!    streams the upstream's answer back (502, 504 on failure).
//! 4. `ops::reload` rebuilds the whole snapshot from disk on file change or SIGHUP and swaps
//!    it in; a bad config leaves the running one in place.
//!
//! # Layout
//! Five layers, each using only the ones listed before it; no two files import each other.
//! - `verify/`: the pure core, no I/O and no clock.
//!   - `secret`: key bytes with a redacted `Debug`, fingerprints, validity windows.
//!   - `mac`: HMAC states keyed once at load, cloned per request.
//!   - `scheme`: the provider presets as data, and the generic payload template.
//!   - `reason`: why a check rejected (the `result` label of the verification metric).
//!   - `extract`: reading signatures, timestamps, ids and keys from headers.
//!   - `precheck`: the verdict on headers alone, to reject before the body is read.
//!   - `check`: verification: checks, request bytes and `now` in, a verdict out.
//!   - `sign`: the headers a sender would attach (the `sign` command, the demo, tests).
//! - `config/`: from YAML to the immutable snapshot.
//!   - `yaml`: the YAML as serde types; located, secret-free errors.
//!   - `ctx`: error locations, relative paths, the files a compile read, and the bounded
//!     reader every input file goes through.
//!   - `nets`: CIDR lists for `allow_ips` and `trusted_proxies`.
//!   - `checks`: `verify:` entries to compiled checks with their secrets.
//!   - `compile`: validate and freeze a config into a snapshot; `load(path)`.
//!   - `snapshot`: the immutable `Snapshot` and route matching.
//!   - `tls`: PEM to rustls server config.
//!   - `clock`: the wall clock and RFC 3339 rendering, for the layers above.
//! - `serve/`: the data path.
//!   - `app`: what every request shares: the swappable snapshot, metrics, connection limit,
//!     readiness, clock.
//!   - `metrics`: the Prometheus families.
//!   - `server`: accept, TLS, first head within `header_timeout` (`rewind`), hyper, drain.
//!   - `rewind`: the first head read by hand, then the stream hyper reads, framed.
//!   - `framer`: one connection's framing: each head held until checked, bodies tracked to
//!     find the next head.
//!   - `framing`: the checks on one head (pure): ambiguous framing, `Host`, size limits.
//!   - `chunked`: where a chunked body ends.
//!   - `refusal`: why a head or body was refused, and its answer (400, 431, 414).
//!   - `conn`: hyper's HTTP/1.1 and HTTP/2 settings; GOAWAY on a closing answer; the log
//!     and count of a head refused before the proxy.
//!   - `admit`: what is checked before the body: one host, `allow_ips`, `max_in_flight`,
//!     the header-only verdict.
//!   - `proxy`: route, body limits, verify, and the one error-to-status map.
//!   - `forward`: header hygiene and the pooled upstream client.
//! - `ops/`: operating the process.
//!   - `admin`: `/healthz`, `/readyz`, `/metrics`.
//!   - `reload`: file watch and SIGHUP to a new snapshot.
//!   - `expiry`: expiry warnings and the active-secret gauge.
//!   - `announce`: what start-up and reloads log about the config in force.
//!   - `logging`: text or JSON logs on stderr.
//! - `cmd/`: the command line.
//!   - `cli`: clap definitions and exit codes.
//!   - `commands`: `check`, `sign`, `verify`, `gen-secret`.
//!   - `run`: `hookguard run`: bind one socket per worker thread, start admin and reloader,
//!     serve until SIGTERM.
//!   - `demo`, `demo_cases`, `demo_receiver`: `hookguard demo`: the embedded config and its
//!     run, the deliveries and their table, the receiver.

#![warn(missing_docs)]

pub mod cmd;
pub mod config;
pub mod ops;
pub mod serve;
pub mod verify;
