//! What is refused before a byte of the body is read: a peer outside `allow_ips` (403, the
//! client taken from `X-Forwarded-For` only behind a trusted proxy), a route at
//! `max_in_flight` (503 with `Retry-After: 1`, at once), and a request no check's headers
//! could verify (401, even with a 25 MB body announced).

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::net::*;

/// api-key routes under `/open`, `/allow` (`allow_ips`) and `/few` (`max_in_flight: 2`);
/// `top` is top-level YAML (e.g. `trusted_proxies`).
fn config(upstream: &str, allow: &str, top: &str) -> String {
    let route = |name: &str, extra: &str| {
        format!("  - name: {name}\n    path: /{name}\n    upstream: {upstream}\n{extra}    verify: {{scheme: api-key, secrets: [{{id: a, value: key-a}}]}}\n")
    };
    format!(
        "listen: \"127.0.0.1:0\"\n{top}routes:\n{}{}{}  - name: gh\n    path: /gh\n    upstream: {upstream}\n    max_body_bytes: 26214400\n    verify: {{scheme: github, secrets: [{{id: g, value: gh-key}}]}}\n",
        route("open", ""),
        route("allow", &format!("    allow_ips: [{allow}]\n")),
        route("few", "    max_in_flight: 2\n"),
    )
}

/// Sends a head announcing `length` body bytes and none of them; returns the answer.
async fn head_only(proxy: &Proxy, path: &str, extra: &str, length: u64) -> (RawResponse, Duration) {
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let head = format!("POST {path} HTTP/1.1\r\nHost: h\r\nx-api-key: key-a\r\n{extra}Content-Length: {length}\r\n\r\n");
    let start = Instant::now();
    stream.write_all(head.as_bytes()).await.unwrap();
    let got = read_until_close(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    (RawResponse::parse(&got), start.elapsed())
}

#[tokio::test]
async fn a_peer_outside_allow_ips_gets_403_before_the_body_and_one_inside_is_served() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(
        &config(&up.url(), "192.30.252.0/22, \"2a0a:a440::/29\"", ""),
        &[],
    )
    .await;
    let (resp, took) = head_only(&proxy, "/allow", "", 1 << 20).await;
    assert_eq!(resp.status, 403);
    assert_eq!(resp.body, br#"{"error":"forbidden"}"#);
    assert!(
        took < Duration::from_secs(2),
        "{took:?}: the body was not waited for"
    );
    // A sender cannot name itself in X-Forwarded-For when no proxy is trusted.
    let (resp, _) = head_only(&proxy, "/allow", "X-Forwarded-For: 192.30.252.1\r\n", 0).await;
    assert_eq!(resp.status, 403);
    assert_eq!(requests_total(&proxy, "forbidden").await, 2.0);
    let allowed = Proxy::start(&config(&up.url(), "127.0.0.0/8", ""), &[]).await;
    let (status, _, _) = post(
        &format!("{}/allow", allowed.url()),
        &hdrs(&[("x-api-key", "key-a")]),
        "{}",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(up.count(), 1);
    assert_eq!(up.last().unwrap().headers["x-forwarded-for"], "127.0.0.1");
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_right_most_untrusted_forwarded_address_is_the_client() {
    let up = Upstream::start().await;
    let top = "trusted_proxies: [127.0.0.0/8, \"10.0.0.0/8\"]\n";
    let proxy = Proxy::start(
        &config(&up.url(), "192.30.252.0/22, \"2a0a:a440::/29\"", top),
        &[],
    )
    .await;
    let status = |xff: &'static str| {
        let url = format!("{}/allow", proxy.url());
        async move {
            let headers = hdrs(&[("x-api-key", "key-a"), ("x-forwarded-for", xff)]);
            post(&url, &headers, "{}").await.0
        }
    };
    assert_eq!(status("192.30.252.9").await, StatusCode::OK);
    assert_eq!(status("2a0a:a441::1, 10.1.2.3").await, StatusCode::OK);
    // The client wrote the left-most entry: only the right-most untrusted one counts.
    assert_eq!(
        status("192.30.252.9, 203.0.113.7").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(status("203.0.113.7, 10.0.0.1").await, StatusCode::FORBIDDEN);
    assert_eq!(
        status("192.30.252.9, not-an-address").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(up.count(), 2);
    // What the upstream is told stays the connection's peer (contract section 4).
    assert_eq!(up.last().unwrap().headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(requests_total(&proxy, "forbidden").await, 3.0);
}

#[tokio::test]
async fn a_route_at_max_in_flight_answers_503_with_retry_after_at_once() {
    let up = Upstream::start_with(StatusCode::OK, Duration::from_millis(800)).await;
    let proxy = Proxy::start(&config(&up.url(), "127.0.0.1", ""), &[]).await;
    let url = format!("{}/few", proxy.url());
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { post(&url, &hdrs(&[("x-api-key", "key-a")]), "{}").await.0 })
        })
        .collect();
    // Wait until both hold their slot (the upstream has them).
    let deadline = Instant::now() + Duration::from_secs(5);
    while up.count() < 2 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let start = Instant::now();
    let (status, headers, body) = post(&url, &hdrs(&[("x-api-key", "key-a")]), "{}").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "{:?}: queued",
        start.elapsed()
    );
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(&body[..], br#"{"error":"overloaded"}"#);
    // Another route is not affected.
    let (status, _, _) = post(
        &format!("{}/open", proxy.url()),
        &hdrs(&[("x-api-key", "key-a")]),
        "{}",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for s in slow {
        assert_eq!(s.await.unwrap(), StatusCode::OK);
    }
    // The slots are back once the answers are out.
    assert_eq!(
        post(&url, &hdrs(&[("x-api-key", "key-a")]), "{}").await.0,
        StatusCode::OK
    );
    assert_eq!(requests_total(&proxy, "overloaded").await, 1.0);
}

#[tokio::test]
async fn an_unsigned_request_gets_401_before_its_25_mb_body_is_read() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url(), "127.0.0.1", ""), &[]).await;
    for (what, extra) in [
        ("no signature", ""),
        (
            "an unreadable signature",
            "X-Hub-Signature-256: sha256=zz\r\n",
        ),
        (
            "a signature on two lines",
            "X-Hub-Signature-256: sha256=a\r\nX-Hub-Signature-256: sha256=b\r\n",
        ),
    ] {
        let (resp, took) = head_only(&proxy, "/gh", extra, 25 * 1024 * 1024).await;
        assert_eq!(resp.status, 401, "{what}");
        assert!(took < Duration::from_secs(2), "{what}: {took:?}");
    }
    // A well-formed (if wrong) signature is verified the usual way: its body is read.
    let sig = format!("X-Hub-Signature-256: sha256={}\r\n", "0".repeat(64));
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let head = format!(
        "POST /gh HTTP/1.1\r\nHost: h\r\n{sig}Content-Length: 4\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(b"body").await.unwrap();
    let got = read_until_close(&mut stream, Duration::from_secs(15)).await;
    let text = String::from_utf8_lossy(got.as_deref().unwrap_or_default()).into_owned();
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    let metrics = proxy.metrics().await;
    let missing = metric_value(
        &metrics,
        "hookguard_verifications_total",
        &[("result", "missing")],
    );
    let malformed = metric_value(
        &metrics,
        "hookguard_verifications_total",
        &[("result", "malformed")],
    );
    assert_eq!((missing, malformed), (1.0, 2.0), "{metrics}");
    assert_eq!(up.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_across_a_reload_still_count_against_max_in_flight() {
    let up = Upstream::start_with(StatusCode::OK, Duration::from_millis(1500)).await;
    let yaml = config(&up.url(), "127.0.0.1", "");
    let proxy = Proxy::start_reloading(&yaml, &[]).await;
    let url = format!("{}/few", proxy.url());
    let key = hdrs(&[("x-api-key", "key-a")]);
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let (url, key) = (url.clone(), key.clone());
            tokio::spawn(async move { post(&url, &key, "{}").await.0 })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while up.count() < 2 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A reload that changes another route keeps this one's slots.
    let changed = yaml.replace("path: /open", "path: /opened");
    crate::rotation::replace(&proxy.config, changed.as_bytes());
    let deadline = Instant::now() + Duration::from_secs(3);
    while proxy
        .app
        .shared
        .load()
        .route_named("open")
        .map(|r| r.path.as_str())
        != Some("/opened")
    {
        assert!(Instant::now() < deadline, "the reload never applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        post(&url, &key, "{}").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    for s in slow {
        assert_eq!(s.await.unwrap(), StatusCode::OK);
    }
}
