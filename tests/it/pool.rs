//! The per-worker upstream connections (`serve/pool`), against raw upstreams that misbehave
//! on purpose: one that closes after every answer (with and without `Connection: close`),
//! one that restarts, a client's `Connection: close`, and a 502 or 504 on one request
//! followed by a good one on the same client connection.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::net::*;

/// What the raw upstream does after reading a request.
#[derive(Clone, Copy, PartialEq)]
enum After {
    /// Answer 200 and keep the connection.
    KeepAlive,
    /// Answer 200 with `Connection: close`, then close.
    SayClose,
    /// Answer 200 (keep-alive as far as the headers say), then close without a word.
    SilentClose,
}

/// A raw HTTP/1.1 upstream: counts connections and requests; a request whose path holds
/// `hang` is never answered, one whose path holds `garbage` is answered with non-HTTP.
struct RawUpstream {
    addr: std::net::SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl RawUpstream {
    async fn start(after: After) -> RawUpstream {
        Self::start_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), after)
    }

    fn start_on(listener: TcpListener, after: After) -> RawUpstream {
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (c, r) = (connections.clone(), requests.clone());
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                c.fetch_add(1, Ordering::SeqCst);
                conns.spawn(serve_raw(stream, after, r.clone()));
            }
        });
        RawUpstream {
            addr,
            connections,
            requests,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops listening and drops every open connection (the task owns them).
    fn stop(self) -> std::net::SocketAddr {
        self.task.abort();
        self.addr
    }
}

async fn serve_raw(mut stream: TcpStream, after: After, requests: Arc<AtomicUsize>) {
    loop {
        let Some((head, _body)) = read_message(&mut stream).await else {
            return;
        };
        requests.fetch_add(1, Ordering::SeqCst);
        if head.contains(" /hook/hang ") {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return;
        }
        if head.contains(" /hook/garbage ") {
            let _ = stream.write_all(b"this is not http\r\n\r\n").await;
            return;
        }
        let close = after == After::SayClose;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n{}\r\nok",
            if close { "connection: close\r\n" } else { "" }
        );
        if stream.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
        if after != After::KeepAlive {
            return;
        }
    }
}

/// Reads one HTTP/1.1 message with a `content-length` body: (head, body).
async fn read_message<S: AsyncRead + Unpin>(stream: &mut S) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = buf[end..].to_vec();
    while body.len() < len {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

fn config(upstream: &str) -> String {
    format!(
        "listen: \"127.0.0.1:0\"\nlimits:\n  upstream_timeout: 300ms\nroutes:\n  - name: gh\n    \
         path: /hook\n    upstream: {upstream}\n    verify:\n      scheme: github\n      \
         secrets:\n        - id: k1\n          value: s3cr3t-value\n"
    )
}

/// One client connection sending signed requests in turn.
struct Client {
    stream: TcpStream,
}

impl Client {
    async fn open(proxy: &Proxy) -> Client {
        Client {
            stream: TcpStream::connect(proxy.addr).await.unwrap(),
        }
    }

    /// Sends a signed POST to `path` and returns the status line and head.
    async fn send(&mut self, proxy: &Proxy, path: &str, extra: &str) -> String {
        let mut raw = format!("POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n{extra}");
        for (name, value) in proxy.sign("gh", None, b"{}", now_s()) {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        raw.push_str("\r\n{}");
        self.stream.write_all(raw.as_bytes()).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), read_message(&mut self.stream))
            .await
            .expect("no answer within 5 s");
        got.expect("the proxy closed the client connection").0
    }
}

fn status(head: &str) -> &str {
    head.split(' ').nth(1).unwrap_or("")
}

#[tokio::test]
async fn an_upstream_that_closes_after_every_answer_loses_no_request() {
    for after in [After::SayClose, After::SilentClose] {
        let up = RawUpstream::start(after).await;
        let proxy = Proxy::start(&config(&up.url()), &[]).await;
        let mut client = Client::open(&proxy).await;
        for i in 0..30 {
            let head = client.send(&proxy, "/hook", "").await;
            assert_eq!(status(&head), "200", "request {i}: {head}");
        }
        assert_eq!(up.requests.load(Ordering::SeqCst), 30);
        assert_eq!(up.connections.load(Ordering::SeqCst), 30);
    }
}

#[tokio::test]
async fn a_keep_alive_upstream_connection_is_reused_across_client_connections() {
    let up = RawUpstream::start(After::KeepAlive).await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    for _ in 0..10 {
        // Each client asks to close its own connection; the upstream one stays.
        let mut client = Client::open(&proxy).await;
        let head = client.send(&proxy, "/hook", "connection: close\r\n").await;
        assert_eq!(status(&head), "200", "{head}");
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{head}"
        );
    }
    assert_eq!(up.requests.load(Ordering::SeqCst), 10);
    // Two workers may each hold one; never one per request.
    assert!(up.connections.load(Ordering::SeqCst) <= 2);
}

#[tokio::test]
async fn an_upstream_restart_is_survived() {
    let up = RawUpstream::start(After::KeepAlive).await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    let mut client = Client::open(&proxy).await;
    assert_eq!(status(&client.send(&proxy, "/hook", "").await), "200");
    let addr = up.stop();
    // While it is down: 502, and the client connection stays usable.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(status(&client.send(&proxy, "/hook", "").await), "502");
    let listener = TcpListener::bind(addr).await.unwrap();
    let up = RawUpstream::start_on(listener, After::KeepAlive);
    for _ in 0..5 {
        assert_eq!(status(&client.send(&proxy, "/hook", "").await), "200");
    }
    assert_eq!(up.requests.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn a_502_or_504_does_not_poison_the_next_request_on_the_same_client_connection() {
    let up = RawUpstream::start(After::KeepAlive).await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    let mut client = Client::open(&proxy).await;
    assert_eq!(status(&client.send(&proxy, "/hook", "").await), "200");
    assert_eq!(status(&client.send(&proxy, "/hook/hang", "").await), "504");
    assert_eq!(status(&client.send(&proxy, "/hook", "").await), "200");
    assert_eq!(
        status(&client.send(&proxy, "/hook/garbage", "").await),
        "502"
    );
    assert_eq!(status(&client.send(&proxy, "/hook", "").await), "200");
    assert_eq!(up.requests.load(Ordering::SeqCst), 5);
}
