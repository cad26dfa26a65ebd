//! How long from an atomic rename of the config to its new secret being in force.
//!
//! Serves hookguard in-process on 127.0.0.1:0 with the file watcher running, then, RELOADS
//! times: renames in a config that adds a fresh secret (and keeps the previous one, as a
//! rotation does), and polls every 5 ms with a request signed by the new secret until it is
//! accepted. Prints median, p90 and worst latency and how many requests were sent, rejected
//! while the old config was still in force, and failed otherwise (must be 0).
//!
//! `cargo bench --bench reload`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sha2::Sha256;
use tokio::net::TcpListener;

const RELOADS: usize = 60;
const POLL: Duration = Duration::from_millis(5);
const GIVE_UP: Duration = Duration::from_secs(5);

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

fn config(upstream: &str, secrets: &[String]) -> String {
    let list: String = secrets
        .iter()
        .map(|s| format!("          - id: {s}\n            value: \"{s}\"\n"))
        .collect();
    format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n  - name: r\n    path: /hook\n    upstream: {upstream}\n    verify:\n      - scheme: github\n        secrets:\n{list}"
    )
}

/// Writes a temp file beside `path` and renames it over `path`; returns the instant just
/// before the rename (so a stall after the rename cannot shorten the measurement).
fn replace(path: &Path, text: &str) -> Instant {
    let tmp = path.with_file_name(".hookguard.yaml.tmp");
    std::fs::write(&tmp, text).unwrap();
    let renaming = Instant::now();
    std::fs::rename(&tmp, path).unwrap();
    renaming
}

async fn upstream() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    format!("http://{addr}")
}

async fn run() {
    hookguard::config::tls::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookguard.yaml");
    let upstream = upstream().await;
    let mut secrets = vec!["rot-0".to_owned()];
    std::fs::write(&path, config(&upstream, &secrets)).unwrap();
    let app = hookguard::serve::app::App::new(hookguard::config::compile::load(&path).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(hookguard::serve::server::run(
        listener,
        app.clone(),
        std::future::pending(),
    ));
    hookguard::ops::reload::spawn(app.clone(), path.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;

    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let (mut sent, mut rejected, mut failed) = (0usize, 0usize, 0usize);
    let mut took = Vec::with_capacity(RELOADS);
    for i in 1..=RELOADS {
        let secret = format!("rot-{i}");
        secrets = vec![secrets.pop().unwrap(), secret.clone()];
        let written = replace(&path, &config(&upstream, &secrets));
        loop {
            sent += 1;
            match signed(&client, &url, secret.as_bytes()).await {
                Some(200) => break,
                Some(401) => rejected += 1,
                _ => failed += 1,
            }
            assert!(
                written.elapsed() < GIVE_UP,
                "secret {i} never came in force"
            );
            tokio::time::sleep(POLL).await;
        }
        took.push(written.elapsed());
        // Let the watcher's queue drain so each reload is measured on its own.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    took.sort();
    let pct = |p: usize| took[(took.len() * p / 100).min(took.len() - 1)];
    println!(
        "reload: rename to new secret in force over {RELOADS} reloads (poll every {POLL:?}): \
         median {:.1} ms, p90 {:.1} ms, worst {:.1} ms, best {:.1} ms",
        ms(pct(50)),
        ms(pct(90)),
        ms(*took.last().unwrap()),
        ms(took[0]),
    );
    println!("reload: requests sent {sent}, rejected before in force {rejected}, failed {failed}");
    assert_eq!(failed, 0, "requests failed");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn signed(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    url: &str,
    key: &[u8],
) -> Option<u16> {
    let body = b"{\"bench\":\"reload\"}";
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(body);
    let sig = hex::encode(mac.finalize().into_bytes());
    let req = Request::post(url)
        .header("x-hub-signature-256", format!("sha256={sig}"))
        .body(Full::new(Bytes::from_static(body)))
        .unwrap();
    let resp = client.request(req).await.ok()?;
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    Some(status)
}
