//! The upstream connections: per worker thread, a stack of idle HTTP/1.1 senders for each
//! upstream, each connection's task spawned on the worker that opened it.
//!
//! A request takes the sender used last (its connection is the warmest), sends, and the
//! sender goes back on the stack when the response body has been read to its end. A body
//! dropped before its end (the client left) takes its connection with it: HTTP/1.1 cannot
//! reuse a connection with a response half read. A sender whose connection the upstream
//! closed is dropped at checkout; one idle for [`IDLE_TIMEOUT`] too. When the upstream
//! closed a reused connection just before the request was written, hyper hands the request
//! back and it is sent once more on a new connection (what hyper-util's pool does too).
//!
//! This replaces hyper-util's pooled client, whose checkout, channel and return cost more per
//! request than the rest of forwarding (BENCHMARKS.md).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::{Authority, Scheme};
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::config::snapshot::Upstream;

/// How long an idle upstream connection is kept (hyper-util's default was 90 s too).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Idle connections kept per upstream and worker; more are closed when they come back.
const MAX_IDLE: usize = 1024;

/// Why a request could not be sent or answered: the error chain, for the log line.
#[derive(Debug)]
pub struct Failed(pub String);

/// A request body sent upstream as the chunks it arrived in (no copy into one buffer),
/// with its exact length, which hyper sends as `content-length`.
#[derive(Debug, Default)]
pub struct UpBody {
    chunks: VecDeque<Bytes>,
    len: u64,
}

impl UpBody {
    /// The body made of `chunks`, in order.
    pub fn new(chunks: impl IntoIterator<Item = Bytes>) -> Self {
        let chunks: VecDeque<Bytes> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        let len = chunks.iter().map(|c| c.len() as u64).sum();
        UpBody { chunks, len }
    }
}

impl Body for UpBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.chunks.pop_front();
        if let Some(chunk) = &next {
            self.len -= chunk.len() as u64;
        }
        Poll::Ready(next.map(|c| Ok(Frame::data(c))))
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}

/// An error and every source under it, `: `-joined, for a log line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// One upstream: scheme and authority.
#[derive(Clone, PartialEq, Eq)]
struct Key {
    https: bool,
    authority: Authority,
}

struct Idle {
    sender: SendRequest<UpBody>,
    since: Instant,
}

thread_local! {
    /// This worker's idle senders, per upstream (a handful: a linear scan).
    static IDLE: RefCell<Vec<(Key, Vec<Idle>)>> = const { RefCell::new(Vec::new()) };
}

/// Sends `req` (origin-form target, `Host` set) to `upstream` on an idle connection of this
/// worker, or a new one. The response body gives the connection back when read to its end.
pub async fn send(
    upstream: &Upstream,
    mut req: Request<UpBody>,
) -> Result<Response<Pooled>, Failed> {
    let key = Key {
        https: upstream.scheme == Scheme::HTTPS,
        authority: upstream.authority.clone(),
    };
    loop {
        let (mut sender, reused) = match checkout(&key) {
            Some(mut sender) => {
                // Ready once its connection took in the last response's end; an error means
                // the upstream closed it meanwhile.
                if sender.ready().await.is_err() {
                    continue;
                }
                (sender, true)
            }
            None => (connect(&key).await?, false),
        };
        match sender.try_send_request(req).await {
            Ok(resp) => {
                return Ok(resp.map(|body| Pooled {
                    body,
                    back: Some((key, sender)),
                }))
            }
            Err(mut e) => match e.take_message() {
                // Not written: the reused connection was closed under it. Once more, new.
                Some(again) if reused => req = again,
                _ => return Err(Failed(error_chain(e.error()))),
            },
        }
    }
}

/// The sender used last for `key` on this worker, if one is still open and fresh.
fn checkout(key: &Key) -> Option<SendRequest<UpBody>> {
    IDLE.with(|idle| {
        let mut idle = idle.borrow_mut();
        let (_, stack) = idle.iter_mut().find(|(k, _)| k == key)?;
        while let Some(entry) = stack.pop() {
            if !entry.sender.is_closed() && entry.since.elapsed() < IDLE_TIMEOUT {
                return Some(entry.sender);
            }
        }
        None
    })
}

/// Puts a sender whose response was read to its end back on this worker's stack.
fn give_back(key: Key, sender: SendRequest<UpBody>) {
    if sender.is_closed() {
        return;
    }
    IDLE.with(|idle| {
        let Ok(mut idle) = idle.try_borrow_mut() else {
            return;
        };
        let idle = &mut *idle;
        let at = match idle.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                idle.push((key, Vec::new()));
                idle.len() - 1
            }
        };
        let stack = &mut idle[at].1;
        if stack.len() < MAX_IDLE {
            let since = Instant::now();
            stack.push(Idle { sender, since });
        }
    });
}

/// Opens a connection to `key` (TLS for https) and spawns its task on this worker.
async fn connect(key: &Key) -> Result<SendRequest<UpBody>, Failed> {
    let failed = |e: &dyn std::error::Error| Failed(error_chain(e));
    let host = key.authority.host();
    let port = key
        .authority
        .port_u16()
        .unwrap_or(if key.https { 443 } else { 80 });
    // `[::1]` in a URI is `::1` to the resolver.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = TcpStream::connect((bare, port))
        .await
        .map_err(|e| failed(&e))?;
    let _ = tcp.set_nodelay(true);
    if !key.https {
        return open(tcp).await;
    }
    let name = rustls::pki_types::ServerName::try_from(bare.to_owned()).map_err(|e| failed(&e))?;
    let tls = tls_connector()
        .connect(name, tcp)
        .await
        .map_err(|e| failed(&e))?;
    open(tls).await
}

/// HTTP/1.1 over `io`, its connection task spawned on this worker.
async fn open<T>(io: T) -> Result<SendRequest<UpBody>, Failed>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| Failed(error_chain(&e)))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %error_chain(&e), "upstream connection ended");
        }
    });
    Ok(sender)
}

/// Upstream TLS: the system roots (rustls-native-certs, which honours `SSL_CERT_FILE` and
/// `SSL_CERT_DIR`), HTTP/1.1 by ALPN.
fn tls_connector() -> tokio_rustls::TlsConnector {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::warn!(error = %e, "reading the system CA roots");
        }
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            tracing::warn!("no system CA roots: https upstreams will fail");
        }
        let mut config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    });
    tokio_rustls::TlsConnector::from(config.clone())
}

/// An upstream response body that gives its connection back when read to its end.
pub struct Pooled {
    body: Incoming,
    back: Option<(Key, SendRequest<UpBody>)>,
}

impl Pooled {
    fn give_back(&mut self) {
        if let Some((key, sender)) = self.back.take() {
            give_back(key, sender);
        }
    }
}

impl Body for Pooled {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.give_back(),
            Poll::Ready(Some(Err(_))) => self.back = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        // hyper stops polling a body that says it has ended; one dropped mid-way is not
        // given back (its connection closes with the sender).
        if self.body.is_end_stream() {
            self.give_back();
        }
    }
}
