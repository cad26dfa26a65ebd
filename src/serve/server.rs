//! Accepting connections: `max_connections`, TLS from the current snapshot, the first
//! request head within `header_timeout`, HTTP/1.1 and HTTP/2 through hyper-util's auto
//! builder, and a graceful drain on shutdown.
//!
//! [`run`] takes an already bound listener and a shutdown future, so `main` binds the
//! configured address and tests bind `127.0.0.1:0`.

use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::serve::app::App;
use crate::serve::forward::Peer;
use crate::serve::rewind::{read_head, Head, Rewind};

/// The first bytes of every HTTP/2 connection (RFC 9113 section 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How long in-flight requests may take to finish once shutdown starts.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// After the drain limit, how long cut-off requests get to release their replay claims.
const CUT_OFF_GRACE: Duration = Duration::from_millis(500);

/// Serves the proxy on `listener` until `shutdown` resolves, then drains in-flight requests
/// for up to [`DRAIN_TIMEOUT`].
pub async fn run(listener: TcpListener, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let permits = app.connections.clone();
    let graceful = GracefulShutdown::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream, app.shared.load().tls.is_none()));
            continue;
        };
        let (app, watcher, mut stop) = (app.clone(), graceful.watcher(), stop_rx.clone());
        tokio::spawn(async move {
            // Until a first request head arrives there is nothing in flight: shutdown may drop it.
            let prepared = tokio::select! {
                p = prepare(&app, stream, addr) => p,
                _ = stop.wait_for(|s| *s) => None,
            };
            if let Some(prepared) = prepared {
                serve(app, prepared, watcher).await;
            }
            drop(permit);
        });
    }
    drop(listener);
    app.start_draining();
    // Connections still waiting for a first request head have nothing in flight: close them.
    let _ = stop_tx.send(true);
    tracing::info!(
        connections = graceful.count(),
        "draining in-flight requests"
    );
    let drained = graceful.shutdown();
    tokio::pin!(drained);
    let limit = app.drain_override().unwrap_or(DRAIN_TIMEOUT);
    if tokio::time::timeout(limit, &mut drained).await.is_err() {
        tracing::warn!("drain limit reached; cutting off remaining requests");
        // Requests holding a replay claim release it first, within the store's bound.
        app.cut_off();
        let _ = tokio::time::timeout(CUT_OFF_GRACE, &mut drained).await;
    }
}

/// Over `max_connections`: answer 503 and close at once (plain HTTP), or just close (TLS).
async fn refuse(mut stream: TcpStream, plain: bool) {
    tracing::warn!("max_connections reached; refusing a connection");
    if plain {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let busy = crate::serve::rewind::raw_error(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "too many connections",
            );
            stream.write_all(&busy).await?;
            stream.shutdown().await
        })
        .await;
    }
}

/// A plain or TLS stream.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type BoxIo = Box<dyn Io>;

/// A connection ready for hyper.
struct Prepared {
    io: Rewind<BoxIo>,
    peer: Peer,
    header_timeout: Duration,
    h2: bool,
    /// A second handle on a plain TCP socket, to answer 408 after hyper gives up on a later
    /// request head (`None` over TLS, where only the TLS stream can write).
    raw: Option<std::net::TcpStream>,
}

/// TLS handshake (when configured) and the first request head, both within
/// `header_timeout`. `None` when the connection ended or timed out (a 408 was sent).
async fn prepare(app: &App, stream: TcpStream, addr: SocketAddr) -> Option<Prepared> {
    let snap = app.shared.load_full();
    let header_timeout = snap.limits.header_timeout;
    let Some(tls) = snap.tls.clone() else {
        let peer = Peer { addr, tls: false };
        let raw = stream
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .map(std::net::TcpStream::from);
        let mut prepared = first_head(app, Box::new(stream), peer, header_timeout).await?;
        prepared.raw = raw;
        return Some(prepared);
    };
    drop(snap);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let tls_stream = match tokio::time::timeout(header_timeout, acceptor.accept(stream)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(peer = %addr, error = %e, "TLS handshake failed");
            return None;
        }
        Err(_) => {
            tracing::debug!(peer = %addr, "TLS handshake timed out");
            return None;
        }
    };
    let h2 = tls_stream.get_ref().1.alpn_protocol() == Some(b"h2");
    let peer = Peer { addr, tls: true };
    if h2 {
        let io = Rewind::new(Box::new(tls_stream) as BoxIo);
        return Some(Prepared {
            io,
            peer,
            header_timeout,
            h2: true,
            raw: None,
        });
    }
    first_head(app, Box::new(tls_stream), peer, header_timeout).await
}

/// Waits for the first request head (or an HTTP/2 preface).
async fn first_head(
    app: &App,
    stream: BoxIo,
    peer: Peer,
    header_timeout: Duration,
) -> Option<Prepared> {
    match read_head(stream, header_timeout).await {
        Ok(Head::Ready(rewind)) => {
            let h2 = rewind.starts_with(H2_PREFACE);
            Some(Prepared {
                io: rewind,
                peer,
                header_timeout,
                h2,
                raw: None,
            })
        }
        Ok(Head::Closed) => None,
        Ok(Head::TimedOut) => {
            head_timed_out(app, peer, header_timeout);
            None
        }
        Err(e) => {
            tracing::debug!(peer = %peer.addr, error = %e, "read failed before a request head");
            None
        }
    }
}

/// Logs and counts a 408 for a request head that did not arrive in time (no route is known).
fn head_timed_out(app: &App, peer: Peer, header_timeout: Duration) {
    tracing::info!(peer = %peer.addr, "request head not received within header_timeout: 408");
    app.metrics.request("", "timeout", header_timeout);
}

async fn serve(app: Arc<App>, prepared: Prepared, watcher: Watcher) {
    let Prepared {
        io,
        peer,
        header_timeout,
        h2,
        raw,
    } = prepared;
    let bytes_read = io.bytes_read();
    let done_at = Arc::new(AtomicU64::new(0));
    let (app2, read, done) = (app.clone(), bytes_read.clone(), done_at.clone());
    let service = service_fn(move |req| {
        let (app, read, done) = (app2.clone(), read.clone(), done.clone());
        async move {
            let resp = crate::serve::proxy::handle(app, peer, req).await;
            // The whole body has been read by now: later bytes belong to the next head.
            done.store(read.load(Ordering::Relaxed), Ordering::Relaxed);
            resp
        }
    });
    // The protocol is known here (ALPN, or the HTTP/2 preface in the first bytes), so the
    // connection future holds one protocol's state, not hyper-util's auto enum of both.
    let result = if h2 {
        let mut builder = http2::Builder::new(TokioExecutor::new());
        builder.timer(TokioTimer::new());
        watcher
            .watch(builder.serve_connection(TokioIo::new(io), service))
            .await
    } else {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .keep_alive(true);
        watcher
            .watch(builder.serve_connection(TokioIo::new(io), service))
            .await
    };
    match result {
        Ok(()) => {}
        Err(e) if e.is_timeout() => {
            // hyper closes on a slow head without a response; a half-sent head gets its 408
            // here (an idle keep-alive connection just closes).
            let partial = bytes_read.load(Ordering::Relaxed) > done_at.load(Ordering::Relaxed);
            if partial {
                if let Some(mut raw) = raw {
                    let _ = std::io::Write::write_all(
                        &mut raw,
                        &crate::serve::rewind::raw_error(
                            http::StatusCode::REQUEST_TIMEOUT,
                            "request timeout",
                        ),
                    );
                }
                head_timed_out(&app, peer, header_timeout);
            }
        }
        Err(e) => tracing::debug!(peer = %peer.addr, error = %e, "connection ended with an error"),
    }
}
