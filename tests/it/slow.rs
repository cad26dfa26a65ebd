//! Slow clients and floods against the real binary: 1,000 slowloris connections and 200
//! trickling bodies beside a stream of good signed requests (the slow ones cut with 408 at
//! `header_timeout` / `body_timeout`, good traffic's p99 compared with the same stream
//! without them, memory back afterwards), and a connection flood past `max_connections`.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::child::Child;
use crate::net::*;

const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
const BODY_TIMEOUT: Duration = Duration::from_secs(3);

fn config(upstream: &str) -> String {
    format!(
        "listen: \"127.0.0.1:0\"\nlimits: {{header_timeout: 2s, body_timeout: 3s, max_connections: 5000}}\nroutes:\n  - name: r\n    path: /hook\n    upstream: {upstream}\n    verify: {{scheme: github, secrets: [{{id: a, value: slow-key}}]}}\n"
    )
}

/// The recording upstream on a runtime of its own, so the attackers' tasks in this process
/// delay only the server under test, not the upstream's answers.
fn upstream_on_its_own_thread() -> Upstream {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            tx.send(Upstream::start().await).unwrap();
            std::future::pending::<()>().await;
        });
    });
    rx.recv().unwrap()
}

/// `X-Hub-Signature-256` for `body` under `slow-key`.
fn signature(body: &[u8]) -> String {
    crate::rotation::headers(b"slow-key", b"", body).remove(0).1
}

/// The p99 of `n` good signed requests sent one after another on keep-alive connections.
async fn p99(addr: std::net::SocketAddr, n: usize) -> Duration {
    // On a thread of its own: the attackers' tasks in this process must not delay the
    // measuring client, only the server may.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(p99_here(addr, n))
    })
    .join()
    .unwrap()
}

async fn p99_here(addr: std::net::SocketAddr, n: usize) -> Duration {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let body = Bytes::from(vec![b'g'; 1024]);
    let sig = signature(&body);
    let mut took = Vec::with_capacity(n);
    for _ in 0..n {
        let req = http::Request::post(format!("http://{addr}/hook"))
            .header("x-hub-signature-256", &sig)
            .body(Full::new(body.clone()))
            .unwrap();
        let start = Instant::now();
        let resp = client.request(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.into_body().collect().await.unwrap();
        took.push(start.elapsed());
    }
    took.sort();
    took[n * 99 / 100]
}

/// Connects and sends `head`, then one more byte every 250 ms until the server closes;
/// returns how long that took and what the server answered.
async fn slow_client(
    addr: std::net::SocketAddr,
    head: Vec<u8>,
    drip: &'static [u8],
    stagger: Duration,
) -> (Duration, Vec<u8>) {
    // Started before the connect: the server's clock starts at its accept, after this one.
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(&head).await.unwrap();
    // Spread the drips over the interval, as independent clients would be.
    tokio::time::sleep(stagger).await;
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    for i in 0.. {
        tokio::select! {
            n = stream.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            },
            () = tokio::time::sleep(Duration::from_millis(250)) => {
                let byte = &drip[i % drip.len()..][..1];
                if stream.write_all(byte).await.is_err() {
                    break;
                }
            }
        }
        assert!(start.elapsed() < Duration::from_secs(15), "never cut");
    }
    (start.elapsed(), got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_and_trickling_bodies_are_cut_at_the_timeouts_while_good_traffic_is_served() {
    let _ = rlimit::increase_nofile_limit(8192);
    let up = upstream_on_its_own_thread();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookguard.yaml");
    std::fs::write(&path, config(&up.url())).unwrap();
    // Two malloc arenas (glibc's default is eight per core): which arena a worker thread
    // happens to allocate a connection from otherwise moves RSS by ±10% between identical
    // rounds, which would hide what this measures (state kept after a connection is cut).
    let hg = Child::start_with(&path, &[("MALLOC_ARENA_MAX", "2")]);
    let addr = hg.addr().await;
    p99(addr, 100).await; // warm up
    let baseline = p99(addr, 400).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = hg.rss_kib();

    // Three rounds; the first two also prime the allocator: glibc keeps freed heap for
    // reuse rather than handing it back, so RSS after the first floods of connections stays
    // near their peak whatever the server does (measured: 23 MB before any, 39 after one, 42
    // to 46 after more, flat). The third round must then fit in what they left: a leak, or
    // state kept per connection, would grow it again.
    let (p1, _, first) = attack_round(&hg, addr).await;
    let (p2, _, primed) = attack_round(&hg, addr).await;
    let (p3, rss_peak, rss_after) = attack_round(&hg, addr).await;
    // The same stream alone once more: the machine's load drifts while the rounds run (other
    // tests of this binary run beside this one), so the baseline is the worse of the two,
    // and the attacked p99 the median of the three rounds'.
    let after = p99(addr, 400).await;
    let baseline = baseline.max(after);
    let mut rounds = [p1, p2, p3];
    rounds.sort();
    let attacked = rounds[1];
    println!(
        "p99 {baseline:?} alone (worse of before and after), {rounds:?} beside 1,200 slow clients; RSS {rss_before} KiB before any, {first} and {primed} KiB after the priming rounds, {rss_peak} KiB during the third, {rss_after} KiB after it"
    );
    // 2x, with 50 ms of room: on a shared 2-core machine (load averages of 16 seen while
    // other builds ran) one scheduling hiccup in 400 requests is the p99 (baselines of 6 to
    // 31 ms were measured for the same debug-build stream), and it is not what this guards
    // against: a blocked or starved server, whose p99 would be seconds.
    assert!(
        attacked <= baseline * 2 + Duration::from_millis(50),
        "p99 {attacked:?} vs {baseline:?}"
    );
    assert!(
        rss_after * 10 <= primed * 11,
        "RSS {primed} -> {rss_after} KiB"
    );
    assert_eq!(up.count(), 100 + 400 * 5);
}

/// 1,000 slowloris heads and 200 trickling bodies, each checked cut with 408 at its timeout,
/// and the good stream meanwhile. Returns its p99, RSS while the slow
/// clients are connected, and RSS after they are gone.
async fn attack_round(hg: &Child, addr: std::net::SocketAddr) -> (Duration, u64, u64) {
    let slowloris = b"POST /hook HTTP/1.1\r\nHost: h\r\n".to_vec();
    let trickle = format!(
        "POST /hook HTTP/1.1\r\nHost: h\r\nX-Hub-Signature-256: {}\r\nContent-Length: 100000\r\n\r\n",
        signature(b"never sent")
    )
    .into_bytes();
    let mut attackers = Vec::new();
    for i in 0..1_200u64 {
        let (head, drip): (Vec<u8>, &'static [u8]) = if i < 1_000 {
            (slowloris.clone(), b"X-Slow: 1\r\n")
        } else {
            (trickle.clone(), b"x")
        };
        let stagger = Duration::from_millis(i % 250);
        attackers.push((
            i < 1_000,
            tokio::spawn(slow_client(addr, head, drip, stagger)),
        ));
        // In waves: 1,200 connects at once overflow the kernel's accept queue on a loaded
        // machine, and its retried handshakes would blur when each connection began.
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Every attacker connected and sending: now the same stream of good requests.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let attacked = p99(addr, 400).await;
    let rss_peak = hg.rss_kib();
    for (slowloris, task) in attackers {
        let (lived, answer) = task.await.unwrap();
        let timeout = if slowloris {
            HEADER_TIMEOUT
        } else {
            BODY_TIMEOUT
        };
        assert!(lived >= timeout, "cut after {lived:?}, before {timeout:?}");
        assert!(
            lived < timeout + Duration::from_secs(3),
            "cut after {lived:?}"
        );
        assert!(
            answer.starts_with(b"HTTP/1.1 408"),
            "{:?}",
            String::from_utf8_lossy(&answer)
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    (attacked, rss_peak, hg.rss_kib())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_flood_past_max_connections_is_refused_at_once_and_good_requests_follow() {
    let _ = rlimit::increase_nofile_limit(8192);
    let up = Upstream::start().await;
    // The 200 held connections must outlive the flood: a long header_timeout.
    let yaml = config(&up.url())
        .replace("max_connections: 5000", "max_connections: 200")
        .replace("header_timeout: 2s", "header_timeout: 30s");
    let proxy = Proxy::start(&yaml, &[]).await;
    let mut held = Vec::new();
    for _ in 0..200 {
        held.push(TcpStream::connect(proxy.addr).await.unwrap());
    }
    // Every held connection accepted and holding its slot before the flood starts.
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.app.connections.available_permits() > 0 {
        assert!(
            Instant::now() < deadline,
            "the held connections were not accepted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let start = Instant::now();
    // In waves of 100: 800 connects at once overflow the kernel's accept queue on a loaded
    // machine, and the dropped handshakes are retried by the kernel seconds later, which is
    // not the server queueing anything.
    for _ in 0..8 {
        let wave: Vec<_> = (0..100)
            .map(|_| {
                let addr = proxy.addr;
                tokio::spawn(async move {
                    let Ok(mut s) = TcpStream::connect(addr).await else {
                        return Ok(());
                    };
                    // Queued would mean served once a held slot frees (30 s).
                    match read_until_close(&mut s, Duration::from_secs(5)).await {
                        Ok(g) if g.is_empty() || g.starts_with(b"HTTP/1.1 503") => Ok(()),
                        other => Err(format!(
                            "{:?}",
                            other.map(|g| String::from_utf8_lossy(&g).into_owned())
                        )),
                    }
                })
            })
            .collect();
        for f in wave {
            let got = f.await.unwrap();
            assert!(
                got.is_ok(),
                "a connection over the limit was not refused: {got:?}"
            );
        }
    }
    println!(
        "800 connections over max_connections refused in {:?}",
        start.elapsed()
    );
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(3);
    let body = b"{}";
    let headers = hdrs(&[("x-hub-signature-256", &signature(body))]);
    loop {
        let mut s = TcpStream::connect(proxy.addr).await.unwrap();
        let req = format!(
            "POST /hook HTTP/1.1\r\nHost: h\r\n{}: {}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}",
            headers[0].0, headers[0].1
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let got = read_until_close(&mut s, Duration::from_secs(3))
            .await
            .unwrap();
        if got.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{:?}",
            String::from_utf8_lossy(&got)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(up.count(), 1);
}
