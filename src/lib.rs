//! hookguard: a reverse proxy that verifies webhook signatures before the receiver sees a byte.
//!
//! # Request flow
//! 1. `serve::server` accepts a connection (TLS when configured, the certificate taken from
//!    the current snapshot), bounded by `max_connections` and `header_timeout`.
//! 2. `serve::proxy` loads the snapshot once, matches the route (404), bounds and reads the
//!    body (413, 408), fetches the provider keys public-key checks need (`serve::keys`), then
//!    calls `verify::verify_keyed` with the route's checks, the raw bytes, the keys and `now`.
//!    A provider's handshake challenge (`serve::handshake`, decided by `verify::handshake`)
//!    is answered by hookguard itself, before the body is read when it has none.
//!    the current snapshot), bounded by `max_connections` and `header_timeout`; every HTTP/1.1
//!    head on it is checked by the framing layer (`rewind`, `framer`, `framing`) before hyper
//!    parses it (400, 431, 414).
//! 2. `serve::proxy` loads the snapshot once, matches the route (404), admits the request
//!    (`admit`: `allow_ips` 403, `max_in_flight` 503, and 401 when no check's headers could
//!    verify, all before the body), bounds and reads the body (413, 408), then calls
//!    `verify::verify` with the route's checks, the raw bytes and `now`.
//! 3. Only a `verify::Verified` value is forwarded in enforce mode: `serve::forward` strips
//!    hop-by-hop and client-sent `x-hookguard-*`/`x-forwarded-*` headers, adds its own, and
//!    streams the upstream's answer back (502, 504 on failure). On a route with `replay:` the
//!    delivery's key is claimed first (`serve::replay`): a duplicate is answered, not forwarded.
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
//!   - `claim`: the request as verification reads it, and the claims (signed bytes,
//!     signatures, time, key id) a scheme reads from it.
//!   - `precheck`: the verdict on headers alone, to reject before the body is read.
//!   - `check`: verification: checks, request bytes and `now` in, a verdict out.
//!   - `client_state`: Microsoft Graph's `value[].clientState` read from the body.
//!   - `challenge`: provider handshakes: their kinds and how each challenge is recognised.
//!   - `reply`: the exact answer (and documented refusal) each handshake requires.
//!   - `handshake`: whether a challenge is genuine and whether to answer, refuse or forward it.
//!   - `mechanism`: the providers that are code, not data, by `mechanism:` name; one module
//!     each reads a delivery into claims and signs as its sender: `hook0` (Coinbase CDP),
//!     `contentful`, `graphcms` (Hygraph), `recurly`, `linear`, `pusher`, `worldpay`.
//!   - `pubkey`: Ed25519 and ECDSA P-256 public keys (ring) and the signatures a
//!     public-key check reads.
//!   - `keyform`: a sender's public key as the provider hands it out (hex, base64, `whpk_`,
//!     DER, PEM) to a `pubkey::PublicKey`, once at load.
//!   - `privkey`: the sender's private key (PKCS#8 PEM, `whsk_`), for `sign --private-key`.
//!   - `sign`: the headers a sender would attach (the `sign` command, the demo, tests).
//!   - `keyed`: what the code-defined mechanisms share: the loop over active secrets, strict
//!     tag decoding, freshness, what a sender attaches.
//!   - `form`: form, query and multipart parameters and the body's media type.
//!   - `urlsign`: URL-signed schemes (Mandrill and Favro inline), dispatching to `twilio`
//!     (with `twilio_url`, the URLs Twilio may have signed), `plivo` and `hubspot`.
//!   - `embedded`: body-embedded schemes, dispatching to `mailgun`, `adyen`, `braintree` and
//!     `treezor`.
//!   - `fetched`, `fetched_verify`: public-key schemes: which provider key a delivery needs, pinned or
//!     fetched, and which module verifies it: `sns`, `paypal`, `jwt` (Google Pub/Sub,
//!     Plaid), `ebay`, `pinned` (Circle, Bridge); `allow` (the hosts a key may come from) and
//!     `certs` (certificates, public keys and JWKs, verified with ring).
//! - `config/`: from YAML to the immutable snapshot.
//!   - `yaml`: the YAML as serde types; located, secret-free errors.
//!   - `ctx`: error locations, relative paths, the files a compile read, and the bounded
//!     reader every input file goes through.
//!   - `nets`: CIDR lists for `allow_ips` and `trusted_proxies`.
//!   - `checks`: `verify:` entries to compiled checks with their secrets.
//!   - `handshakes`: a check's handshake, `handshake: forward` and its `verify_token:`.
//!   - `compile`: validate and freeze a config into a snapshot; `load(path)`.
//!   - `replay`: a route's `replay:` checked; Redis URLs parsed, passwords kept out of sight.
//!   - `snapshot`: the immutable `Snapshot` and route matching.
//!   - `tls`: PEM to rustls server config.
//!   - `clock`: the wall clock and RFC 3339 rendering, for the layers above.
//!   - `fetched`: public-key checks: allowed hosts, provider keys, pinned keys.
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
//!   - `handshake`: the proxy's two handshake hooks (before the body, after verification).
//!   - `hangup`: notices an HTTP/1.1 client that left while its request waits.
//!   - `forward`: header hygiene and the pooled upstream client.
//!   - `replay`: replay keys, the stores kept across reloads, claim and keep-or-release.
//!   - `replay_memory`, `replay_redis`: the per-route memory store; the Redis store with one
//!     multiplexed connection per worker.
//!   - `keys`: provider certificates and key sets fetched over https, cached and bounded.
//!   - `sns_confirm`: hookguard confirms a verified SNS subscription itself.
//! - `ops/`: operating the process.
//!   - `admin`: `/healthz`, `/readyz`, `/metrics`.
//!   - `reload`: file watch and SIGHUP to a new snapshot.
//!   - `expiry`: expiry warnings and the active-secret gauge.
//!   - `announce`: what start-up and reloads log about the config in force.
//!   - `logging`: text or JSON logs on stderr.
//! - `cmd/`: the command line.
//!   - `cli`: clap definitions and exit codes.
//!   - `commands`: `check`, `sign`, `verify`, `gen-secret`.
//!   - `sign_key`: `sign --private-key` for public-key checks; `gen-secret`'s answer for them.
//!   - `sign_coded`: `sign` and `gen-secret` for the URL-signed and body-embedded schemes.
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
