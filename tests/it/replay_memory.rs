//! Replay protection with the memory store, and what every store shares: the window, the
//! bound on keys, route scoping, which requests touch the store at all (only verified ones),
//! keys that cannot tell deliveries apart refused at load, a dropped client releasing its
//! claim, and the real binary's request log naming the key's kind, never a signature.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::net::*;
use crate::replay::{assert_duplicate, config, deliver};

#[tokio::test]
async fn a_memory_store_forgets_a_delivery_after_the_window() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url(), "memory", "      window: 300ms\n"), &[]).await;
    assert_eq!(deliver(&proxy, "d-1", "{}").await.0, StatusCode::OK);
    assert_duplicate(&deliver(&proxy, "d-1", "{}").await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(deliver(&proxy, "d-1", "{}").await.0, StatusCode::OK);
    assert_eq!(up.count(), 2);
}

#[tokio::test]
async fn a_memory_store_evicts_the_oldest_delivery_at_max_entries() {
    let up = Upstream::start().await;
    let yaml = config(&up.url(), "memory", "      max_entries: 2\n");
    let proxy = Proxy::start(&yaml, &[]).await;
    for id in ["d-1", "d-2", "d-3"] {
        assert_eq!(deliver(&proxy, id, "{}").await.0, StatusCode::OK);
    }
    assert_duplicate(&deliver(&proxy, "d-3", "{}").await);
    assert_duplicate(&deliver(&proxy, "d-2", "{}").await);
    // d-1 was the oldest of three in a store of two.
    assert_eq!(deliver(&proxy, "d-1", "{}").await.0, StatusCode::OK);
    assert_eq!(up.count(), 4);
}

#[tokio::test]
async fn memory_keys_are_scoped_by_route_and_fall_back_on_the_signature() {
    let up = Upstream::start().await;
    let one = config(&up.url(), "memory", "");
    let two = one.replace("name: gh\n    path: /hook", "name: gh2\n    path: /other");
    let routes = format!("{one}{}", &two[two.find("  - name: gh2").unwrap()..]);
    let proxy = Proxy::start(&routes, &[]).await;
    assert_eq!(deliver(&proxy, "same", "{}").await.0, StatusCode::OK);
    let mut headers = proxy.sign("gh2", None, b"{}", now_s());
    headers.push(("x-github-delivery".into(), "same".into()));
    let (status, _, _) = post(&format!("{}/other", proxy.url()), &headers, "{}").await;
    assert_eq!(status, StatusCode::OK);
    // No delivery id: the verified signature is the key, so the same body is a duplicate.
    assert_eq!(deliver(&proxy, "", "{\"a\":1}").await.0, StatusCode::OK);
    assert_duplicate(&deliver(&proxy, "", "{\"a\":1}").await);
    assert_eq!(deliver(&proxy, "", "{\"a\":2}").await.0, StatusCode::OK);
    assert_eq!(up.count(), 4);
}

#[tokio::test]
async fn a_failed_verification_never_touches_the_store_even_in_report_only_mode() {
    let up = Upstream::start().await;
    // Nothing listens on port 1: any store call fails, and `reject` would answer 503.
    let yaml = config(&up.url(), "redis://127.0.0.1:1/0", "")
        .replace("    replay:", "    mode: report-only\n    replay:");
    let proxy = Proxy::start(&yaml, &[]).await;
    let bad = hdrs(&[
        ("x-hub-signature-256", "sha256=00"),
        ("x-github-delivery", "d-1"),
    ]);
    let (status, _, _) = post(&format!("{}/hook", proxy.url()), &bad, "{}").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(up.last().unwrap().headers["x-hookguard-verified"], "false");
    let metrics = proxy.metrics().await;
    let errors = metric_value(&metrics, "hookguard_replay_store_errors_total", &[]);
    assert_eq!(errors, 0.0, "{metrics}");
    // A verified one does reach the store, which fails: 503.
    assert_eq!(
        deliver(&proxy, "d-2", "{}").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(up.count(), 1);
}

/// A raw HTTP/1.1 delivery `id` of `{}`, signed for `gh`.
fn raw_delivery(proxy: &Proxy, id: &str) -> String {
    let mut raw = format!(
        "POST /hook HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nx-github-delivery: {id}\r\n"
    );
    for (name, value) in &proxy.sign("gh", None, b"{}", now_s()) {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    raw + "\r\n{}"
}

/// A memory-store route to an upstream that answers after 300 ms, and a client connection
/// whose delivery `d-1` the upstream has received (its claim held) but not answered.
async fn one_in_flight() -> (Upstream, Proxy, tokio::net::TcpStream) {
    let up = Upstream::start_with(StatusCode::OK, Duration::from_millis(300)).await;
    let proxy = Proxy::start(&config(&up.url(), "memory", ""), &[]).await;
    let mut stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
    let raw = raw_delivery(&proxy, "d-1");
    stream.write_all(raw.as_bytes()).await.unwrap();
    until_forwarded(&up).await;
    (up, proxy, stream)
}

/// Waits until the upstream has received a request.
async fn until_forwarded(up: &Upstream) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while up.count() == 0 {
        assert!(Instant::now() < deadline, "never forwarded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `hookguard_requests_total{route="gh",outcome="client_closed"}`.
async fn client_closed(proxy: &Proxy) -> f64 {
    let metrics = proxy.metrics().await;
    let labels = [("route", "gh"), ("outcome", "client_closed")];
    metric_value(&metrics, "hookguard_requests_total", &labels)
}

#[tokio::test]
async fn a_client_that_hangs_up_mid_delivery_releases_its_claim() {
    let (up, proxy, stream) = one_in_flight().await;
    drop(stream);
    // The sender retries once the first attempt is gone: delivered, not 409.
    let deadline = Instant::now() + Duration::from_secs(5);
    let retry = loop {
        let got = deliver(&proxy, "d-1", "{}").await;
        if got.0 != StatusCode::CONFLICT || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(retry.0, StatusCode::OK);
    assert!(retry.1.get("x-hookguard-duplicate").is_none());
    assert_eq!(up.count(), 2);
    assert_eq!(client_closed(&proxy).await, 1.0);
}

#[tokio::test]
async fn a_pipelined_request_is_not_taken_for_a_hang_up() {
    let (up, proxy, mut stream) = one_in_flight().await;
    // The second request lands while the first waits on the upstream with its claim.
    stream
        .write_all(raw_delivery(&proxy, "d-2").as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    while String::from_utf8_lossy(&got)
        .matches("HTTP/1.1 200")
        .count()
        < 2
    {
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(up.count(), 2);
    assert_eq!(client_closed(&proxy).await, 0.0);
}

#[test]
fn a_replay_key_that_cannot_tell_deliveries_apart_is_a_config_error() {
    for key in ["auto", "signature"] {
        let yaml = crate::support::one_route(
            &format!("replay:\n  key: {key}\n"),
            "scheme: api-key\nsecrets:\n  - id: a\n    value: the-key\n",
        );
        let err = crate::support::ConfigFile::new(&yaml)
            .load()
            .unwrap_err()
            .to_string();
        assert!(err.contains("hookguard.yaml:7:"), "{err}");
        assert!(err.contains("header:NAME"), "{err}");
        assert!(!err.contains("the-key"), "{err}");
    }
    let yaml = crate::support::one_route(
        "replay:\n  key: header:x-delivery\n",
        "scheme: api-key\nsecrets:\n  - id: a\n    value: the-key\n",
    );
    assert!(crate::support::ConfigFile::new(&yaml).load().is_ok());
}

#[tokio::test]
async fn the_request_log_says_duplicate_and_the_key_kind_but_never_the_signature() {
    let up = Upstream::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let yaml = config(&up.url(), "memory", "      key: signature\n")
        .replace("127.0.0.1:0", &format!("127.0.0.1:{port}"));
    let file = crate::support::ConfigFile::new(&yaml);
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["run", "--log-format", "json", "--config"])
        .arg(&file.path)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        lines
            .lines()
            .map_while(Result::ok)
            .for_each(|l| drop(tx.send(l)))
    });
    let snap = file.load().unwrap();
    let signed = sign_with(&snap, "gh", None, b"{}", now_s());
    let url = format!("http://127.0.0.1:{port}/hook");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "hookguard did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(post(&url, &signed, "{}").await.0, StatusCode::OK);
    assert_eq!(post(&url, &signed, "{}").await.0, StatusCode::OK);
    let mut requests = Vec::new();
    let mut all = String::new();
    while requests.len() < 2 {
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("request log lines");
        all.push_str(&line);
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        if json["fields"]["message"] == "request" || json["message"] == "request" {
            requests.push(json);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let field = |j: &serde_json::Value, k: &str| {
        let v = &j["fields"][k];
        if v.is_null() {
            j[k].clone()
        } else {
            v.clone()
        }
    };
    assert_eq!(field(&requests[0], "outcome"), "forwarded");
    assert_eq!(field(&requests[0], "replay"), "claimed");
    assert_eq!(field(&requests[1], "outcome"), "duplicate");
    assert_eq!(field(&requests[1], "replay_key"), "signature");
    let signature = &signed[0].1;
    let hex = signature.trim_start_matches("sha256=");
    assert!(!all.contains(hex), "the signature reached the log: {all}");
}
