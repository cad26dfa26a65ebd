//! How hyper serves a connection: the HTTP/1.1 and HTTP/2 settings chosen deliberately
//! rather than left at hyper's defaults, HTTP/2 connections closed with GOAWAY when one of
//! their requests must end the connection, and the log line and count of a request refused
//! before it reached the proxy (framing, or hyper's own parser).

use std::future::Future;
use std::pin::pin;

use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::{watch, Notify};

use crate::config::snapshot::Limits;
use crate::serve::app::App;
use crate::serve::forward::Peer;

/// hyper's HTTP/1 parser keeps 100 header slots on the stack; more costs a heap allocation
/// per request, so it is asked for only when `limits.max_headers` is larger.
const HYPER_DEFAULT_MAX_HEADERS: usize = 100;

/// hyper's default read buffer limit (8 KiB plus 100 times 4 KiB).
const HYPER_DEFAULT_MAX_BUF: usize = 8192 + 4096 * 100;

/// Streams a client may reset before the server has accepted them, per connection, before
/// hyper ends the connection with GOAWAY (ENHANCE_YOUR_CALM). h2's default, 20, stated here
/// so it is a decision: a real client resets a handful; the rapid-reset attack (CVE-2023-44487)
/// resets thousands.
pub const H2_MAX_PENDING_ACCEPT_RESETS: usize = 20;

/// Streams hyper itself may reset for protocol errors (a malformed header, a body past its
/// declared length) per connection before GOAWAY: hyper's default is 1024; a client that
/// errs on 64 streams of one connection is not a webhook sender.
pub const H2_MAX_LOCAL_ERROR_RESETS: usize = 64;

/// The HTTP/1.1 settings: hyper's header timeout (a slow later head; the first one is read
/// by `rewind`), keep-alive, header count and buffer never below what `framer` lets through,
/// responses flattened into one write buffer rather than written with writev (a head and a
/// small body in one `write`: cheaper than the vectored call for webhook-sized answers;
/// the upstream client keeps writev, so a large request body is never copied), and
/// half-close, so that a stream `framer` ended after a refused
/// head still gets the answers to the requests before it (without it hyper treats the end as
/// the client leaving and drops a response still being prepared).
pub fn h1_builder(limits: &Limits) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .writev(false)
        .half_close(true);
    if limits.max_headers > HYPER_DEFAULT_MAX_HEADERS {
        builder.max_headers(limits.max_headers);
    }
    // hyper refuses a head that does not fit its read buffer; room for any head `framer`
    // passed (`max_header_bytes` may be up to 1 MiB), plus some of the body behind it.
    if limits.max_header_bytes + 8192 > HYPER_DEFAULT_MAX_BUF {
        builder.max_buf_size(limits.max_header_bytes + 8192);
    }
    builder
}

/// The HTTP/2 settings: `h2_max_concurrent_streams`, the reset limits above, and the header
/// list bounded by `max_header_bytes` (HPACK-decoded size, as SETTINGS_MAX_HEADER_LIST_SIZE
/// counts it; h2 also bounds the CONTINUATION frames of one header block by it).
pub fn h2_builder(limits: &Limits) -> http2::Builder<TokioExecutor> {
    let mut builder = http2::Builder::new(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_concurrent_streams)
        .max_pending_accept_reset_streams(H2_MAX_PENDING_ACCEPT_RESETS)
        .max_local_error_reset_streams(H2_MAX_LOCAL_ERROR_RESETS)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    builder
}

/// Drives an HTTP/2 connection until it ends; `close` (a request whose answer ends the
/// connection, such as a body past its limit) or `stop` (shutdown) sends GOAWAY and lets
/// the streams in flight finish.
pub async fn drive_h2<C>(
    conn: C,
    close: &Notify,
    mut stop: watch::Receiver<bool>,
    graceful: impl Fn(std::pin::Pin<&mut C>),
) -> C::Output
where
    C: Future,
{
    let mut conn = pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            done = conn.as_mut() => return done,
            () = close.notified(), if !closing => {
                closing = true;
                graceful(conn.as_mut());
            }
            _ = stop.wait_for(|s| *s), if !closing => {
                closing = true;
                graceful(conn.as_mut());
            }
        }
    }
}

/// Logs and counts a request answered before a route could be chosen: a refused head (400,
/// 431, 414) or hyper's own parse error. The log line has the request log's message and
/// fields, so a search for every answer finds these too.
pub fn answered_early(app: &App, peer: Peer, status: u16, reason: &str) {
    let request_id = app.next_request_id();
    tracing::info!(
        request_id = %request_id, peer = %peer.addr, route = "", outcome = "bad_request",
        reason, status, "request"
    );
    app.metrics
        .request("", "bad_request", std::time::Duration::ZERO);
}
