//! The research vectors for handshakes (`tests/data/handshakes.jsonl`, copied from the
//! catalogue research: Discord, Okta, Microsoft Graph), each signed independently of
//! hookguard, sent over a real socket to hookguard running at the vector's `now`: a vector
//! with a `response` must be answered with exactly that status, content type and body and
//! never reach the upstream; an `accept` vector without one is forwarded, a `reject` vector
//! refused. Vectors whose scheme this build's catalogue lacks (Discord until its Ed25519 row
//! lands) are counted as skipped.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicI64, Ordering};

use bytes::Bytes;
use http::StatusCode;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::net::{send, Upstream};

/// The clock the vectors' hookguard runs on (one vector at a time, in this test only).
static NOW_MS: AtomicI64 = AtomicI64::new(0);

fn vector_clock() -> i64 {
    NOW_MS.load(Ordering::SeqCst)
}

fn config(v: &Value, upstream: &str) -> String {
    let path = v["path"].as_str().unwrap();
    let route_path = path.split('?').next().unwrap();
    let mut secrets = String::new();
    for (i, s) in v["secrets"].as_array().unwrap().iter().enumerate() {
        let quoted = serde_json::to_string(s.as_str().unwrap()).unwrap();
        secrets.push_str(&format!("        - id: s{i}\n          value: {quoted}\n"));
    }
    format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n  - name: v\n    path: {route_path}\n    upstream: {upstream}\n    verify:\n      scheme: {}\n      secrets:\n{secrets}",
        v["scheme"].as_str().unwrap()
    )
}

/// Serves `yaml` on the vector clock; returns the base URL.
async fn serve(yaml: &str) -> String {
    hookguard::config::tls::install_crypto_provider();
    let file = crate::support::ConfigFile::new(yaml);
    let snapshot = file.load().unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let app = hookguard::serve::app::App::with_clock(snapshot, vector_clock);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    app.set_ready();
    tokio::spawn(hookguard::serve::server::run(
        listener,
        app,
        std::future::pending(),
    ));
    format!("http://{addr}")
}

#[tokio::test]
async fn every_handshake_research_vector_is_answered_forwarded_or_refused_as_it_says() {
    let text = include_str!("../data/handshakes.jsonl");
    let (mut run, mut skipped) = (0, Vec::new());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap();
        let (id, scheme) = (v["id"].as_str().unwrap(), v["scheme"].as_str().unwrap());
        if hookguard::verify::catalogue::find(scheme).is_none() {
            skipped.push(id.to_owned());
            continue;
        }
        NOW_MS.store(v["now"].as_i64().unwrap() * 1000, Ordering::SeqCst);
        let up = Upstream::start().await;
        let base = serve(&config(&v, &up.url())).await;
        let headers: Vec<(String, String)> = v["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(n, val)| (n.clone(), val.as_str().unwrap().to_owned()))
            .collect();
        let body = Bytes::from(v["body"].as_str().unwrap().as_bytes().to_vec());
        let url = format!("{base}{}", v["path"].as_str().unwrap());
        let (status, got_headers, got) =
            send(v["method"].as_str().unwrap(), &url, &headers, body).await;
        match (&v["response"], v["expect"].as_str().unwrap()) {
            (Value::Object(want), _) => {
                assert_eq!(
                    status.as_u16() as u64,
                    want["status"].as_u64().unwrap(),
                    "{id}"
                );
                let content_type = got_headers.get("content-type").map(|c| c.to_str().unwrap());
                assert_eq!(content_type, want["content_type"].as_str(), "{id}");
                assert_eq!(&got[..], want["body"].as_str().unwrap().as_bytes(), "{id}");
                assert_eq!(
                    up.count(),
                    0,
                    "{id}: an answered challenge reached the upstream"
                );
            }
            (_, "accept") => {
                assert_eq!(
                    (status, &got[..]),
                    (StatusCode::OK, &b"upstream-ok"[..]),
                    "{id}"
                );
                assert_eq!(up.count(), 1, "{id}");
            }
            (_, _) => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{id}");
                assert_eq!(up.count(), 0, "{id}");
            }
        }
        run += 1;
    }
    println!("handshake vectors: {run} run, skipped (no row in this build): {skipped:?}");
    assert!(run >= 4, "only {run} vectors ran");
    assert!(
        skipped.iter().all(|id| id.starts_with("discord/")),
        "{skipped:?}"
    );
}
