//! The demo's receiver: a small hyper server on loopback that stands in for the user's
//! webhook endpoint, records every request hookguard forwards to it and answers 200.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::cmd::cli::EXIT_RUNTIME;
use crate::cmd::commands::Failure;

/// One request the receiver saw.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The `x-demo-case` header, empty when absent.
    pub case: String,
    /// Method and path.
    pub request: String,
    /// `x-hookguard-route`.
    pub route: String,
    /// `x-hookguard-secret-id`.
    pub secret_id: String,
    /// Body length.
    pub bytes: usize,
}

/// A small hyper server on loopback that records every request and answers 200.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    notify: Arc<Notify>,
}

impl Receiver {
    /// Binds `127.0.0.1:0` and serves for the life of the runtime.
    pub async fn start() -> Result<Receiver, Failure> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(io)?;
        let receiver = Receiver {
            addr: listener.local_addr().map_err(io)?,
            seen: Arc::default(),
            notify: Arc::default(),
        };
        let (seen, notify) = (receiver.seen.clone(), receiver.notify.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (seen, notify) = (seen.clone(), notify.clone());
                let service = service_fn(move |req| record(seen.clone(), notify.clone(), req));
                tokio::spawn(async move {
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(receiver)
    }

    /// Everything seen, from the `from`-th request on.
    pub fn since(&self, from: usize) -> Vec<Seen> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.iter().skip(from).cloned().collect()
    }

    /// The request marked `x-demo-case: <case>`, if it arrived.
    pub fn saw(&self, case: &str) -> Option<Seen> {
        self.since(0).into_iter().find(|s| s.case == case)
    }

    /// Resolves after the next request arrives (or at once if one arrived unobserved).
    pub async fn arrived(&self) {
        self.notify.notified().await;
    }
}

async fn record(
    seen: Arc<Mutex<Vec<Seen>>>,
    notify: Arc<Notify>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let header = |name: &str| {
        let value = req.headers().get(name).and_then(|v| v.to_str().ok());
        value.unwrap_or_default().to_owned()
    };
    let (case, route, secret_id) = (
        header("x-demo-case"),
        header("x-hookguard-route"),
        header("x-hookguard-secret-id"),
    );
    let request = format!("{} {}", req.method(), req.uri().path());
    let body = req.into_body().collect().await?.to_bytes();
    seen.lock().unwrap_or_else(|e| e.into_inner()).push(Seen {
        case,
        request,
        route,
        secret_id,
        bytes: body.len(),
    });
    notify.notify_one();
    Ok(Response::new(Full::new(Bytes::from_static(
        b"{\"received\":true}\n",
    ))))
}

fn io(e: std::io::Error) -> Failure {
    Failure {
        message: format!("demo receiver: {e}"),
        code: EXIT_RUNTIME,
    }
}
