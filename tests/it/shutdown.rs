//! Graceful shutdown: a request in flight when it starts still completes, new connections are
//! refused, `/readyz` turns 503, idle connections are closed, and the server task ends once
//! the drain is done (long before the 30 s cut-off).

// Helpers unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::net::*;

/// How long the upstream takes to answer: the request is in flight that long.
const UPSTREAM_DELAY: Duration = Duration::from_millis(500);

/// A proxy in front of a slow upstream, with one request in flight (it has reached the
/// upstream, which has not answered yet).
async fn in_flight() -> (Proxy, Upstream, JoinHandle<(StatusCode, Bytes)>) {
    let up = Upstream::start_with(StatusCode::OK, UPSTREAM_DELAY).await;
    let yaml = format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n  - name: r\n    path: /hook\n    upstream: {}\n    verify: {{scheme: api-key, secrets: [{{id: a, value: key-a}}]}}\n",
        up.url()
    );
    let proxy = Proxy::start(&yaml, &[]).await;
    let url = format!("{}/hook", proxy.url());
    let request = tokio::spawn(async move {
        let (status, _, body) = post(&url, &hdrs(&[("x-api-key", "key-a")]), "{}").await;
        (status, body)
    });
    wait_until(Duration::from_secs(2), || up.count() == 1).await;
    (proxy, up, request)
}

/// Polls `cond` every 10 ms; panics when it is still false after `limit`.
async fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits for the server task; panics when it outlives `limit`.
async fn server_ends(proxy: &mut Proxy, limit: Duration) {
    let task = proxy.task.take().unwrap();
    tokio::time::timeout(limit, task)
        .await
        .expect("the server task ends after the drain")
        .unwrap();
}

#[tokio::test]
async fn completes_a_request_in_flight_when_shutdown_starts() {
    let (mut proxy, up, request) = in_flight().await;
    proxy.shutdown();
    let (status, body) = request.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"upstream-ok");
    assert_eq!(up.count(), 1);
    server_ends(&mut proxy, Duration::from_secs(2)).await;
}

#[tokio::test]
async fn refuses_new_connections_once_shutdown_begins() {
    let (mut proxy, _up, request) = in_flight().await;
    proxy.shutdown();
    let deadline = Instant::now() + Duration::from_secs(1);
    while TcpStream::connect(proxy.addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting connections after shutdown began"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Refused while the in-flight request is still being served.
    assert!(!request.is_finished());
    assert_eq!(request.await.unwrap().0, StatusCode::OK);
    server_ends(&mut proxy, Duration::from_secs(2)).await;
}

#[tokio::test]
async fn readyz_answers_503_while_draining() {
    let (mut proxy, _up, request) = in_flight().await;
    let readyz = format!("http://{}/readyz", proxy.admin);
    assert_eq!(get(&readyz).await.0, StatusCode::OK);
    proxy.shutdown();
    wait_until(Duration::from_secs(1), || !proxy.app.is_ready()).await;
    let (status, _, body) = get(&readyz).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body:?}");
    assert!(!request.is_finished());
    assert_eq!(request.await.unwrap().0, StatusCode::OK);
    server_ends(&mut proxy, Duration::from_secs(2)).await;
    assert_eq!(get(&readyz).await.0, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn closes_idle_connections_and_ends_without_waiting_for_the_cut_off() {
    let (mut proxy, _up, request) = in_flight().await;
    // One keep-alive connection that has finished a request, one that never sent a head.
    let mut idle = TcpStream::connect(proxy.addr).await.unwrap();
    idle.write_all(b"GET /nowhere HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    idle.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 404");
    let mut silent = TcpStream::connect(proxy.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    proxy.shutdown();
    read_until_close(&mut idle, Duration::from_secs(2))
        .await
        .expect("the idle keep-alive connection is closed");
    read_until_close(&mut silent, Duration::from_secs(2))
        .await
        .expect("the connection without a request is closed");
    assert_eq!(request.await.unwrap().0, StatusCode::OK);
    server_ends(&mut proxy, Duration::from_secs(2)).await;
}
