//! Accepting connections: `max_connections`, TLS from the current snapshot, the first
//! request head within `header_timeout`, HTTP/1.1 and HTTP/2 through hyper-util's auto
//! builder, and a graceful drain on shutdown.
//!
//! [`run`] takes an already bound listener and a shutdown future, so `main` binds the
//! configured address and tests bind `127.0.0.1:0`.

use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};

use crate::config::snapshot::Limits;
use crate::serve::app::App;
use crate::serve::conn::{answered_early, drive_h2, h1_builder, h2_builder};
use crate::serve::forward::Peer;
use crate::serve::framer::H2_PREFACE;
use crate::serve::framing::HeadLimits;
use crate::serve::hangup::Hangup;
use crate::serve::rewind::{read_head, Head, Rewind};

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
            // Boxed, as the serve future below: the task itself stays small, and the TLS
            // handshake's and first head's state is freed once they are done.
            let prepared = tokio::select! {
                p = Box::pin(prepare(&app, stream, addr)) => p,
                _ = stop.wait_for(|s| *s) => None,
            };
            if let Some(prepared) = prepared {
                Box::pin(serve(app, prepared, watcher, stop)).await;
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
    limits: Limits,
    h2: bool,
    /// A second handle on a plain TCP socket, to answer 408 after hyper gives up on a later
    /// request head (`None` over TLS, where only the TLS stream can write).
    raw: Option<Arc<std::net::TcpStream>>,
    /// Whether an HTTP/1.1 client left while its request waits (hyper, half-closing, does
    /// not tell); HTTP/2 cancels the stream itself.
    hangup: Arc<Hangup>,
}

/// TLS handshake (when configured) and the first request head, both within
/// `header_timeout`. `None` when the connection ended or timed out (a 408 was sent).
async fn prepare(app: &App, stream: TcpStream, addr: SocketAddr) -> Option<Prepared> {
    let snap = app.shared.load_full();
    let limits = snap.limits;
    let Some(tls) = snap.tls.clone() else {
        let peer = Peer { addr, tls: false };
        let raw = second_handle(&stream);
        let mut prepared = first_head(app, Box::new(stream), peer, limits).await?;
        prepared.hangup = Arc::new(Hangup::on(raw.clone()));
        prepared.raw = raw;
        return Some(prepared);
    };
    drop(snap);
    // Over TLS only the TLS stream may write; the handle is for watching the client.
    let hangup = Hangup::on(second_handle(&stream));
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let tls_stream =
        match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
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
            limits,
            h2: true,
            raw: None,
            hangup: Arc::default(),
        });
    }
    let mut prepared = first_head(app, Box::new(tls_stream), peer, limits).await?;
    prepared.hangup = Arc::new(hangup);
    Some(prepared)
}

/// A second handle on the connection's socket (one duplicated descriptor per connection),
/// `None` when the process is out of descriptors.
fn second_handle(stream: &TcpStream) -> Option<Arc<std::net::TcpStream>> {
    let fd = stream.as_fd().try_clone_to_owned().ok()?;
    Some(Arc::new(std::net::TcpStream::from(fd)))
}

/// Waits for the first request head (or an HTTP/2 preface).
async fn first_head(app: &App, stream: BoxIo, peer: Peer, limits: Limits) -> Option<Prepared> {
    let head = HeadLimits {
        max_header_bytes: limits.max_header_bytes,
        max_headers: limits.max_headers,
    };
    match read_head(stream, limits.header_timeout, head).await {
        Ok(Head::Ready(rewind)) => {
            let h2 = rewind.starts_with(H2_PREFACE);
            Some(Prepared {
                io: rewind,
                peer,
                limits,
                h2,
                raw: None,
                hangup: Arc::default(),
            })
        }
        Ok(Head::Closed) => None,
        Ok(Head::TimedOut) => {
            head_timed_out(app, peer, limits.header_timeout);
            None
        }
        Ok(Head::Refused(refusal)) => {
            answered_early(app, peer, refusal.status().as_u16(), refusal.as_str());
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

async fn serve(app: Arc<App>, prepared: Prepared, watcher: Watcher, stop: watch::Receiver<bool>) {
    let Prepared {
        io,
        peer,
        limits,
        h2,
        raw,
        hangup,
    } = prepared;
    let status = io.status();
    let close = Arc::new(Notify::new());
    let (app2, close2) = (app.clone(), close.clone());
    // Boxed: hyper keeps room for one handler future per connection for as long as the
    // connection lives; a box puts the request's state on the heap only while it runs, so
    // an idle keep-alive connection does not hold it.
    let service = service_fn(move |req| {
        let (app, close, hangup) = (app2.clone(), close2.clone(), hangup.clone());
        Box::pin(async move {
            let mut resp = crate::serve::proxy::handle(app, peer, req, &hangup).await;
            // An answer that ends an HTTP/1.1 connection (413, 408) ends an HTTP/2 one with
            // GOAWAY, where `connection` is not a header.
            if h2 {
                if let Ok(r) = &mut resp {
                    if r.headers_mut().remove(http::header::CONNECTION).is_some() {
                        close.notify_one();
                    }
                }
            }
            resp
        })
    });
    // The protocol is known here (ALPN, or the HTTP/2 preface in the first bytes), so the
    // connection future holds one protocol's state, not hyper-util's auto enum of both.
    let result = if h2 {
        let conn = h2_builder(&limits).serve_connection(TokioIo::new(io), service);
        let result = drive_h2(conn, &close, stop, |c| c.graceful_shutdown()).await;
        drop(watcher);
        result
    } else {
        let conn = h1_builder(&limits).serve_connection(TokioIo::new(io), service);
        watcher.watch(conn).await
    };
    if let Some(refusal) = status.refused_head() {
        // hyper ended on the refused head; its answer went out on the stream's shutdown.
        if let (false, Some(raw)) = (status.answered(), raw.as_deref()) {
            let answer = crate::serve::rewind::raw_error(refusal.status(), refusal.phrase());
            let _ = std::io::Write::write_all(&mut &*raw, &answer);
        }
        answered_early(&app, peer, refusal.status().as_u16(), refusal.as_str());
        return;
    }
    match result {
        Ok(()) => {}
        Err(e) if e.is_timeout() => {
            // hyper closes on a slow head without a response; a half-sent head gets its 408
            // here (an idle keep-alive connection just closes).
            if status.partial() {
                if let Some(raw) = raw {
                    let _ = std::io::Write::write_all(
                        &mut &*raw,
                        &crate::serve::rewind::raw_error(
                            http::StatusCode::REQUEST_TIMEOUT,
                            "request timeout",
                        ),
                    );
                }
                head_timed_out(&app, peer, limits.header_timeout);
            }
        }
        Err(e) if e.is_parse() || e.is_parse_status() => {
            // The framing layer checks every head first, so this is hyper refusing what it
            // passed: still an answer (hyper wrote it), so still counted and logged.
            answered_early(&app, peer, 400, &e.to_string());
        }
        Err(e) => tracing::debug!(peer = %peer.addr, error = %e, "connection ended with an error"),
    }
}
