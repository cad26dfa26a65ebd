//! HTTP/2 abuse with the `h2` crate (and raw frames where it would not misbehave): 10,000
//! stream resets, a CONTINUATION flood and a stream body past `max_body_bytes` each end the
//! attacking connection with GOAWAY, while another connection is served throughout.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::net::*;

fn config(upstream: &str) -> String {
    format!(
        "listen: \"127.0.0.1:0\"\nlimits: {{max_body_bytes: 65536}}\nroutes:\n  - name: r\n    path: /hook\n    upstream: {upstream}\n    verify: {{scheme: api-key, secrets: [{{id: a, value: key-a}}]}}\n"
    )
}

fn request(proxy: &Proxy) -> Request<()> {
    Request::post(format!("http://127.0.0.1:{}/hook", proxy.addr.port()))
        .header("x-api-key", "key-a")
        .body(())
        .unwrap()
}

/// CPU seconds this process has used (user + system), from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// A plain HTTP/1.1 request on its own connection still gets through.
async fn others_are_served(proxy: &Proxy) {
    let (status, _, _) = post(
        &format!("{}/hook", proxy.url()),
        &hdrs(&[("x-api-key", "key-a")]),
        "{}",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_stream_resets_end_the_connection_with_goaway_and_others_are_served() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    let tcp = TcpStream::connect(proxy.addr).await.unwrap();
    let (mut client, conn) = h2::client::handshake(tcp).await.unwrap();
    let conn = tokio::spawn(conn);
    let cpu = cpu_seconds();
    let mut sent = 0;
    for _ in 0..10_000 {
        let Ok(ready) = client.clone().ready().await else {
            break;
        };
        client = ready;
        let Ok((_response, mut stream)) = client.send_request(request(&proxy), false) else {
            break;
        };
        stream.send_reset(h2::Reason::CANCEL);
        sent += 1;
    }
    let ended = tokio::time::timeout(Duration::from_secs(5), conn).await;
    let spent = cpu_seconds() - cpu;
    println!("rapid reset: {sent} streams opened and reset before GOAWAY, {spent:.2} s CPU");
    // Closed either by h2's own GOAWAY (ENHANCE_YOUR_CALM, past 20 resets before accept),
    // an error to this client, or by hookguard's graceful GOAWAY after a reset stream's
    // body failed (which ends the connection cleanly once its streams are done).
    match ended.expect("the attacking connection is closed").unwrap() {
        Ok(()) => {}
        Err(err) => assert!(err.is_go_away() || err.is_io(), "{err:?}"),
    }
    assert!(sent < 10_000, "all 10,000 resets were taken");
    assert!(spent < 10.0, "{spent} s of CPU");
    others_are_served(&proxy).await;
}

/// One HTTP/2 frame.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// An HPACK literal header field without indexing, new name, lengths under 127 or 16383.
fn literal(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = vec![0x00, name.len() as u8];
    out.extend_from_slice(name);
    let n = value.len();
    out.extend_from_slice(&[
        0x7f,
        (((n - 127) & 0x7f) | 0x80) as u8,
        ((n - 127) >> 7) as u8,
    ]);
    out.extend_from_slice(value);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuation_flood_ends_the_connection_with_goaway_and_others_are_served() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    let mut tcp = TcpStream::connect(proxy.addr).await.unwrap();
    tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    tcp.write_all(&frame(0x4, 0, 0, &[])).await.unwrap();
    // HEADERS without END_HEADERS: :method POST, :scheme http, :path /.
    tcp.write_all(&frame(0x1, 0, 1, &[0x83, 0x86, 0x84]))
        .await
        .unwrap();
    let (mut read, mut write) = tcp.into_split();
    let flood = tokio::spawn(async move {
        let junk = literal(b"x-flood", &[b'a'; 16_000]);
        let mut frames = 0u32;
        for _ in 0..10_000 {
            if write.write_all(&frame(0x9, 0, 1, &junk)).await.is_err() {
                break;
            }
            frames += 1;
        }
        frames
    });
    // Read the server's frames until it closes: one of them must be GOAWAY.
    let mut got = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the flooding connection was left open");
    let frames = flood.await.unwrap();
    println!("CONTINUATION flood: {frames} frames of 16 KB written before the close");
    assert!(frames < 10_000, "the whole flood was read");
    assert!(has_goaway(&got), "no GOAWAY in {} bytes", got.len());
    others_are_served(&proxy).await;
}

/// Whether the server's frames (after its preface SETTINGS) hold a GOAWAY.
fn has_goaway(mut bytes: &[u8]) -> bool {
    while bytes.len() >= 9 {
        let len =
            (usize::from(bytes[0]) << 16) | (usize::from(bytes[1]) << 8) | usize::from(bytes[2]);
        if bytes[3] == 0x7 {
            return true;
        }
        bytes = &bytes[(9 + len).min(bytes.len())..];
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_body_past_max_body_bytes_gets_413_and_its_connection_a_goaway() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    let tcp = TcpStream::connect(proxy.addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    let conn = tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let (response, mut body) = client.send_request(request(&proxy), false).unwrap();
    let start = Instant::now();
    let writer = tokio::spawn(async move {
        for _ in 0..64 {
            if body
                .send_data(Bytes::from(vec![b'x'; 16 * 1024]), false)
                .is_err()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let response = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let ended = tokio::time::timeout(Duration::from_secs(5), conn).await;
    assert!(
        ended.is_ok(),
        "the connection stayed open after 413 ({:?})",
        start.elapsed()
    );
    writer.abort();
    assert_eq!(up.count(), 0);
    // A well-behaved HTTP/2 connection is still served, and so is HTTP/1.1.
    let tcp = TcpStream::connect(proxy.addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let mut client = client.ready().await.unwrap();
    let (response, mut body) = client.send_request(request(&proxy), false).unwrap();
    body.send_data(Bytes::from_static(b"{}"), true).unwrap();
    assert_eq!(response.await.unwrap().status(), StatusCode::OK);
    others_are_served(&proxy).await;
    assert_eq!(up.count(), 2);
}
