//! The receiver every target forwards to: a hyper server on one thread of its own (a
//! current-thread runtime, so it takes at most one core) that reads the whole body and
//! answers 200 with a two-byte body. It lives until the harness exits.

use std::convert::Infallible;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;

/// Bind 127.0.0.1:0, serve on a background thread, and return the port.
pub fn spawn() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("upstream bind")?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("upstream".into())
        .spawn(move || {
            if let Err(e) = runtime.block_on(serve(listener)) {
                eprintln!("upstream stopped: {e:#}");
            }
        })?;
    Ok(port)
}

async fn serve(listener: std::net::TcpListener) -> Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                eprintln!("upstream accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(answer);
            let _ = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let read = req.into_body().collect().await.is_ok();
    let mut resp = Response::new(Full::new(Bytes::from_static(b"ok")));
    if !read {
        *resp.status_mut() = hyper::StatusCode::BAD_REQUEST;
    }
    Ok(resp)
}
