//! The configured bounds, over raw sockets where a well-behaved client cannot show them:
//! 413 by `Content-Length` and while streaming, 408 for slow headers and slow bodies (then
//! close), 504 for a slow upstream, and `max_connections` answered at once, never queued.

// Helpers unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::net::*;

/// Slack on top of a configured timeout before a test calls the server late.
const SLACK: Duration = Duration::from_millis(1500);

/// Routes `default` (`/hook`, the global limit), `big` (4096 bytes) and `small` (100 bytes),
/// all api-key `key-a`, under `limits`.
fn config(upstream: &str, limits: &str) -> String {
    let route = |name: &str, extra: &str| {
        format!("  - name: {name}\n    path: /{name}\n    upstream: {upstream}\n{extra}    verify: {{scheme: api-key, secrets: [{{id: a, value: key-a}}]}}\n")
    };
    format!(
        "listen: \"127.0.0.1:0\"\nlimits: {{{limits}}}\nroutes:\n{}{}{}",
        route("hook", ""),
        route("big", "    max_body_bytes: 4096\n"),
        route("small", "    max_body_bytes: 100\n"),
    )
}

fn key() -> Vec<(String, String)> {
    hdrs(&[("x-api-key", "key-a")])
}

/// Writes `bytes` on a fresh connection and reads the response up to the close.
async fn raw(proxy: &Proxy, bytes: &[u8], limit: Duration) -> (RawResponse, Duration) {
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let start = Instant::now();
    stream.write_all(bytes).await.unwrap();
    let got = read_until_close(&mut stream, limit)
        .await
        .expect("the server closes the connection");
    (RawResponse::parse(&got), start.elapsed())
}

/// Asserts a complete JSON error response whose `content-length` is the body's length.
fn assert_error(resp: &RawResponse, status: u16) {
    assert_eq!(resp.status, status, "{resp:?}");
    let length: usize = resp
        .header("content-length")
        .expect("content-length")
        .parse()
        .unwrap();
    assert_eq!(
        length,
        resp.body.len(),
        "content-length vs body {:?}",
        String::from_utf8_lossy(&resp.body)
    );
    let value: serde_json::Value = serde_json::from_slice(&resp.body).expect("JSON body");
    assert!(value["error"].is_string(), "{value}");
}

#[tokio::test]
async fn answers_413_by_content_length_without_forwarding() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url(), "max_body_bytes: 1024"), &[]).await;
    let (status, _, body) = post(&format!("{}/hook", proxy.url()), &key(), vec![b'x'; 1025]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["error"].is_string());
    let (status, _, _) = post(&format!("{}/hook", proxy.url()), &key(), vec![b'x'; 1024]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(up.count(), 1);
    assert_eq!(up.last().unwrap().body.len(), 1024);
    assert_eq!(requests_total(&proxy, "too_large").await, 1.0);
}

#[tokio::test]
async fn answers_413_by_a_declared_length_before_the_body_arrives() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(
        &config(&up.url(), "max_body_bytes: 1024, body_timeout: 10s"),
        &[],
    )
    .await;
    // A gigabyte announced, a few bytes sent: the answer cannot wait for the body.
    let request = b"POST /hook HTTP/1.1\r\nHost: h\r\nx-api-key: key-a\r\nContent-Length: 1073741824\r\n\r\nxyz";
    let (resp, _) = raw(&proxy, request, SLACK).await;
    assert_error(&resp, 413);
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn answers_413_when_a_chunked_body_grows_past_the_limit() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url(), "max_body_bytes: 1024"), &[]).await;
    // No length up front and no final chunk: only reading can tell the body is too large.
    let mut request =
        b"POST /hook HTTP/1.1\r\nHost: h\r\nx-api-key: key-a\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    for _ in 0..3 {
        request.extend_from_slice(b"190\r\n");
        request.extend_from_slice(&[b'y'; 0x190]);
        request.extend_from_slice(b"\r\n");
    }
    let (resp, _) = raw(&proxy, &request, Duration::from_secs(5)).await;
    assert_error(&resp, 413);
    assert_eq!(up.count(), 0);
}

#[tokio::test]
async fn applies_a_routes_max_body_bytes_over_the_default() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url(), "max_body_bytes: 1024"), &[]).await;
    let status = |path: &'static str, len: usize| {
        let url = format!("{}{path}", proxy.url());
        async move { post(&url, &key(), vec![b'z'; len]).await.0 }
    };
    assert_eq!(status("/big", 3000).await, StatusCode::OK);
    assert_eq!(status("/hook", 3000).await, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(status("/big", 4097).await, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(status("/small", 101).await, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(up.count(), 1);
    assert_eq!(status("/small", 100).await, StatusCode::OK);
    assert_eq!(up.count(), 2);
}

#[tokio::test]
async fn answers_408_to_a_slow_body_then_closes() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url(), "body_timeout: 300ms"), &[]).await;
    let request = b"POST /hook HTTP/1.1\r\nHost: h\r\nx-api-key: key-a\r\nContent-Length: 100\r\n\r\n0123456789";
    let (resp, took) = raw(&proxy, request, Duration::from_millis(300) + SLACK).await;
    assert_error(&resp, 408);
    assert!(took >= Duration::from_millis(300), "408 after {took:?}");
    assert_eq!(up.count(), 0);
    assert_eq!(requests_total(&proxy, "timeout").await, 1.0);
}

#[tokio::test]
async fn answers_408_to_slow_headers_then_closes() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url(), "header_timeout: 300ms"), &[]).await;
    let (resp, took) = raw(
        &proxy,
        b"POST /hook HTTP/1.1\r\nHost: h\r\nx-api-k",
        Duration::from_millis(300) + SLACK,
    )
    .await;
    assert_error(&resp, 408);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(took >= Duration::from_millis(300), "408 after {took:?}");
    assert_eq!(up.count(), 0);
}

/// Sends one complete keep-alive request on a raw connection and reads its whole response
/// (the upstream answers with `content-length: 11`), leaving the connection open.
async fn one_keep_alive_request(proxy: &Proxy) -> TcpStream {
    use tokio::io::AsyncReadExt;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let req = b"POST /hook HTTP/1.1\r\nHost: h\r\nx-api-key: key-a\r\ncontent-length: 2\r\n\r\n{}";
    stream.write_all(req).await.unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    while !got.ends_with(b"upstream-ok") {
        let n = tokio::time::timeout(SLACK, stream.read(&mut chunk))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    stream
}

#[tokio::test]
async fn answers_408_to_a_slow_second_head_on_a_keep_alive_connection() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url(), "header_timeout: 300ms"), &[]).await;
    let mut stream = one_keep_alive_request(&proxy).await;
    let start = Instant::now();
    stream
        .write_all(b"POST /hook HTTP/1.1\r\nHost: h\r\nx-api-k")
        .await
        .unwrap();
    let raw = read_until_close(&mut stream, Duration::from_millis(300) + SLACK)
        .await
        .unwrap();
    let resp = RawResponse::parse(&raw);
    assert_error(&resp, 408);
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "408 after {:?}",
        start.elapsed()
    );
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn closes_an_idle_keep_alive_connection_without_a_408() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url(), "header_timeout: 300ms"), &[]).await;
    let mut stream = one_keep_alive_request(&proxy).await;
    let raw = read_until_close(&mut stream, Duration::from_millis(300) + SLACK)
        .await
        .unwrap();
    assert!(
        raw.is_empty(),
        "an idle connection got {:?}",
        String::from_utf8_lossy(&raw)
    );
}

#[tokio::test]
async fn answers_504_when_the_upstream_is_slower_than_upstream_timeout() {
    let up = Upstream::start_with(StatusCode::OK, Duration::from_secs(3)).await;
    let proxy = Proxy::start(&config(&up.url(), "upstream_timeout: 300ms"), &[]).await;
    let start = Instant::now();
    let (status, _, body) = post(&format!("{}/hook", proxy.url()), &key(), "{}").await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT);
    assert!(
        start.elapsed() < Duration::from_millis(300) + SLACK,
        "{:?}",
        start.elapsed()
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["error"].is_string());
    assert_eq!(requests_total(&proxy, "upstream_timeout").await, 1.0);
}

#[tokio::test]
async fn refuses_a_connection_over_max_connections_at_once() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(
        &config(&up.url(), "max_connections: 2, header_timeout: 10s"),
        &[],
    )
    .await;
    let mut first = TcpStream::connect(proxy.addr).await.unwrap();
    let second = TcpStream::connect(proxy.addr).await.unwrap();
    let mut third = TcpStream::connect(proxy.addr).await.unwrap();
    // Answered (503) or closed at once, well before header_timeout: never queued.
    let got = read_until_close(&mut third, SLACK)
        .await
        .expect("the third connection is closed at once");
    if !got.is_empty() {
        assert_error(&RawResponse::parse(&got), 503);
    }
    // The two open connections are still served.
    first.write_all(b"POST /hook HTTP/1.1\r\nHost: h\r\nx-api-key: key-a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await.unwrap();
    let resp = read_until_close(&mut first, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(RawResponse::parse(&resp).status, 200);
    drop(second);
    // Once they close, their slots are free again.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let mut next = TcpStream::connect(proxy.addr).await.unwrap();
        next.write_all(b"GET /nowhere HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let got = read_until_close(&mut next, Duration::from_secs(5))
            .await
            .unwrap();
        if !got.is_empty() && RawResponse::parse(&got).status == 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "slots not released: {:?}",
            String::from_utf8_lossy(&got)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
