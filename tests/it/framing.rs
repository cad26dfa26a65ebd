//! Request smuggling and framing, over raw sockets: every ambiguous HTTP/1.1 framing of
//! contract section 12 gets a JSON 400 and a closed connection, as the first request on a
//! connection and as a later one pipelined behind a verified request, and the upstream
//! receives nothing, or exactly the one verified request with exactly its signed body.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::net::*;

/// One github route `r` at `/hook` for host `hooks.example.com`.
fn config(upstream: &str) -> String {
    format!(
        "listen: \"127.0.0.1:0\"\nlimits: {{header_timeout: 5s}}\nroutes:\n  - name: r\n    path: /hook\n    host: hooks.example.com\n    upstream: {upstream}\n    verify: {{scheme: github, secrets: [{{id: a, value: framing-key}}]}}\n"
    )
}

const BODY: &[u8] = b"{\"n\":1}";

/// The signature header line for `body`.
fn signature(proxy: &Proxy, body: &[u8]) -> String {
    let (name, value) = proxy.sign("r", None, body, now_s()).remove(0);
    format!("{name}: {value}\r\n")
}

/// A valid signed request whose framing lines (`Host`, length...) are `framing`.
fn request(proxy: &Proxy, framing: &str, body: &[u8]) -> Vec<u8> {
    let sig = signature(proxy, BODY);
    let mut out = format!("POST /hook HTTP/1.1\r\n{framing}{sig}\r\n").into_bytes();
    out.extend_from_slice(body);
    out
}

/// The framing cases: (name, lines before the signature, body bytes as sent).
fn cases() -> Vec<(&'static str, String, Vec<u8>)> {
    let host = "Host: hooks.example.com\r\n";
    let chunked = b"7\r\n{\"n\":1}\r\n0\r\n\r\n".to_vec();
    let plain = BODY.to_vec();
    vec![
        (
            "content-length with transfer-encoding",
            format!("{host}Content-Length: 7\r\nTransfer-Encoding: chunked\r\n"),
            chunked.clone(),
        ),
        (
            "two equal content-lengths",
            format!("{host}Content-Length: 7\r\nContent-Length: 7\r\n"),
            plain.clone(),
        ),
        (
            "a content-length list",
            format!("{host}Content-Length: 7, 7\r\n"),
            plain.clone(),
        ),
        (
            "a signed content-length",
            format!("{host}Content-Length: +7\r\n"),
            plain.clone(),
        ),
        (
            "transfer-encoding gzip, chunked",
            format!("{host}Transfer-Encoding: gzip, chunked\r\n"),
            chunked.clone(),
        ),
        (
            "transfer-encoding Chunked",
            format!("{host}Transfer-Encoding: Chunked\r\n"),
            chunked.clone(),
        ),
        (
            "transfer-encoding on two lines",
            format!("{host}Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n"),
            chunked,
        ),
        (
            "obsolete line folding",
            format!("{host}X-Note: a\r\n b\r\nContent-Length: 7\r\n"),
            plain.clone(),
        ),
        (
            "a bare LF line end",
            format!("{host}X-Note: a\nContent-Length: 7\r\n"),
            plain.clone(),
        ),
        (
            "NUL in a header value",
            format!("{host}X-Note: a\0b\r\nContent-Length: 7\r\n"),
            plain.clone(),
        ),
        (
            "CR in a header value",
            format!("{host}X-Note: a\rb\r\nContent-Length: 7\r\n"),
            plain.clone(),
        ),
        (
            "a missing Host",
            "Content-Length: 7\r\n".to_string(),
            plain.clone(),
        ),
        (
            "a repeated Host",
            format!("{host}Host: other.example.com\r\nContent-Length: 7\r\n"),
            plain.clone(),
        ),
    ]
}

/// Writes `bytes` on a fresh connection; returns every response until the close.
async fn exchange(proxy: &Proxy, bytes: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    read_until_close(&mut stream, Duration::from_secs(3))
        .await
        .expect("the connection is closed, not left open")
}

fn assert_bad_request(raw: &[u8], what: &str) {
    let resp = RawResponse::parse(raw);
    assert_eq!(
        resp.status,
        400,
        "{what}: {:?}",
        String::from_utf8_lossy(raw)
    );
    assert_eq!(
        resp.header("content-type"),
        Some("application/json"),
        "{what}"
    );
    assert_eq!(resp.body, br#"{"error":"bad request"}"#, "{what}");
}

#[tokio::test]
async fn every_ambiguous_framing_as_a_first_request_gets_400_and_nothing_is_forwarded() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    let cases = cases();
    for (what, framing, body) in &cases {
        let start = Instant::now();
        let answer = exchange(&proxy, &request(&proxy, framing, body)).await;
        assert_bad_request(&answer, what);
        // Answered at once, not after header_timeout (the bare-LF head used to wait for it).
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{what}: {:?}",
            start.elapsed()
        );
    }
    let bare = b"POST /hook HTTP/1.1\nHost: hooks.example.com\nContent-Length: 0\n\n";
    assert_bad_request(&exchange(&proxy, bare).await, "an all bare-LF head");
    let foreign = format!(
        "POST http://evil.example/hook HTTP/1.1\r\nHost: hooks.example.com\r\nContent-Length: 7\r\n{}\r\n",
        signature(&proxy, BODY)
    );
    let mut foreign = foreign.into_bytes();
    foreign.extend_from_slice(BODY);
    assert_bad_request(
        &exchange(&proxy, &foreign).await,
        "absolute-form to another host",
    );
    assert_eq!(up.count(), 0, "nothing reaches the upstream");
    let refused = (cases.len() + 2) as f64;
    assert_eq!(requests_total(&proxy, "bad_request").await, refused);
}

#[tokio::test]
async fn an_ambiguous_request_pipelined_behind_a_verified_one_is_refused_after_its_answer() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    let good = request(
        &proxy,
        "Host: hooks.example.com\r\nContent-Length: 7\r\n",
        BODY,
    );
    for (what, framing, body) in cases() {
        let before = up.count();
        let bytes = [good.clone(), request(&proxy, &framing, &body)].concat();
        let answer = exchange(&proxy, &bytes).await;
        let text = String::from_utf8_lossy(&answer);
        let second = text
            .find("HTTP/1.1 400")
            .unwrap_or_else(|| panic!("{what}: {text}"));
        assert!(text.starts_with("HTTP/1.1 200"), "{what}: {text}");
        assert_eq!(text.matches("HTTP/1.1 ").count(), 2, "{what}: {text}");
        assert_bad_request(&answer[second..], what);
        assert_eq!(up.count(), before + 1, "{what}: only the verified request");
        let got = up.last().unwrap();
        assert_eq!(got.body, BODY, "{what}: exactly the signed body");
        assert_eq!(got.headers.get_all("host").iter().count(), 1);
    }
}

#[tokio::test]
async fn an_absolute_form_target_naming_the_host_is_routed_on_its_authority() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    let head = format!(
        "POST http://HOOKS.example.com/hook HTTP/1.1\r\nHost: hooks.example.com\r\nContent-Length: 7\r\nConnection: close\r\n{}\r\n",
        signature(&proxy, BODY)
    );
    let answer = exchange(&proxy, &[head.as_bytes(), BODY].concat()).await;
    assert_eq!(RawResponse::parse(&answer).status, 200);
    let got = up.last().unwrap();
    assert_eq!(got.body, BODY);
    assert_eq!(got.uri, "/hook");
    assert_eq!(got.headers["x-forwarded-host"], "HOOKS.example.com");
}

#[tokio::test]
async fn a_chunked_body_is_forwarded_whole_and_the_next_head_on_the_connection_is_served() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    let chunked = request(
        &proxy,
        "Host: hooks.example.com\r\nTransfer-Encoding: chunked\r\n",
        b"3;x=y\r\n{\"n\r\n4\r\n\":1}\r\n0\r\nx-trailer: 1\r\n\r\n",
    );
    let last = request(
        &proxy,
        "Host: hooks.example.com\r\nContent-Length: 7\r\nConnection: close\r\n",
        BODY,
    );
    let answer = exchange(&proxy, &[chunked, last].concat()).await;
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(text.matches("HTTP/1.1 200").count(), 2, "{text}");
    assert_eq!(up.count(), 2);
    for got in up.received.lock().unwrap().iter() {
        assert_eq!(got.body, BODY);
    }
}

#[tokio::test]
async fn header_floods_get_431_414_or_401_within_a_second_and_the_process_serves_on() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    let host = "Host: hooks.example.com\r\n";
    let many: String = (0..10_000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let big = format!("X-Big: {}\r\n", "a".repeat(1 << 20));
    let line = format!(
        "POST /hook?{} HTTP/1.1\r\n{host}\r\n",
        "q".repeat(64 * 1024)
    );
    let sig = signature(&proxy, BODY);
    let copies = sig.repeat(100);
    let cases = [
        (
            "10,000 headers",
            format!("POST /hook HTTP/1.1\r\n{host}{many}\r\n"),
            431,
        ),
        (
            "a 1 MiB header",
            format!("POST /hook HTTP/1.1\r\n{host}{big}\r\n"),
            431,
        ),
        ("a 64 KiB request line", line, 414),
        (
            "100 copies of the signature",
            format!("POST /hook HTTP/1.1\r\n{host}{copies}Content-Length: 7\r\n\r\n"),
            431,
        ),
    ];
    for (what, bytes, status) in cases {
        let start = Instant::now();
        let answer = exchange(&proxy, bytes.as_bytes()).await;
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{what}: {:?}",
            start.elapsed()
        );
        let resp = RawResponse::parse(&answer);
        assert_eq!(resp.status, status, "{what}");
        assert!(
            serde_json::from_slice::<serde_json::Value>(&resp.body).is_ok(),
            "{what}"
        );
    }
    // Within max_headers (which 100 copies plus Host exceed by default), the copies are a
    // signature on more than one line: 401 before the body.
    let roomy =
        config(&up.url()).replace("header_timeout: 5s", "header_timeout: 5s, max_headers: 200");
    let proxy2 = Proxy::start(&roomy, &[]).await;
    let start = Instant::now();
    let bytes = format!("POST /hook HTTP/1.1\r\n{host}{copies}Content-Length: 7\r\n\r\n");
    let answer = exchange(&proxy2, bytes.as_bytes()).await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(RawResponse::parse(&answer).status, 401);
    let good = request(
        &proxy,
        "Host: hooks.example.com\r\nContent-Length: 7\r\nConnection: close\r\n",
        BODY,
    );
    assert_eq!(
        RawResponse::parse(&exchange(&proxy, &good).await).status,
        200
    );
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn a_refused_head_is_logged_as_a_request_line_with_its_outcome_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookguard.yaml");
    std::fs::write(&path, config("http://127.0.0.1:1")).unwrap();
    let hg = crate::child::Child::start(&path);
    let listening = hg.line(|v| v["message"] == "listening").await;
    let addr = listening["addr"].as_str().unwrap().to_owned();
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"POST /hook HTTP/1.1\nHost: hooks.example.com\n\n")
        .await
        .unwrap();
    let answer = read_until_close(&mut stream, Duration::from_secs(3))
        .await
        .unwrap();
    assert_bad_request(&answer, "bare LF");
    let line = hg
        .line(|v| v["message"] == "request" && v["outcome"] == "bad_request")
        .await;
    assert_eq!(line["status"], 400, "{line}");
    assert_eq!(line["reason"], "bare LF line end", "{line}");
    assert!(line["request_id"].is_string(), "{line}");
}

#[tokio::test]
async fn a_500_kb_head_within_a_raised_max_header_bytes_is_served() {
    let up = Upstream::start().await;
    let yaml = config(&up.url()).replace(
        "header_timeout: 5s",
        "header_timeout: 5s, max_header_bytes: 600000",
    );
    let proxy = Proxy::start(&yaml, &[]).await;
    let big = format!("X-Big: {}\r\n", "a".repeat(500_000));
    let framing =
        format!("Host: hooks.example.com\r\n{big}Content-Length: 7\r\nConnection: close\r\n");
    exchange(&proxy, &request(&proxy, &framing, BODY)).await;
    // hookguard parsed, verified and forwarded it (the test upstream, a hyper server with its
    // default 400 KB buffer, then refuses it itself: that answer is passed through).
    assert_eq!(requests_total(&proxy, "forwarded").await, 1.0);
    assert_eq!(requests_total(&proxy, "bad_request").await, 0.0);
}
