//! Verification cost against the hardware limit: `hookguard::verify::verify` on a GitHub-style
//! route for 1 KiB, 64 KiB and 1 MiB bodies with 1, 2 and 4 active secrets, beside the raw
//! HMAC-SHA256 of the same bytes. The signature is made with the *last* secret, so every
//! secret is tried (the worst case); the ratio verify / (secrets × raw HMAC) shows the
//! overhead of header parsing, decoding and comparison.
//!
//! Run: `cargo bench --bench verify` (add `-- --quick` for a short pass).

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue};
use sha2::Sha256;

use hookguard::config::snapshot::Snapshot;
use hookguard::verify::{verify, Request};

const SIZES: [(usize, &str); 3] = [(1024, "1KiB"), (64 * 1024, "64KiB"), (1024 * 1024, "1MiB")];

fn snapshot(secrets: usize) -> Snapshot {
    let mut yaml = String::from(
        "listen: \"127.0.0.1:0\"\nlimits: { max_body_bytes: 2097152 }\nroutes:\n  - name: bench\n    path: /\n    upstream: http://127.0.0.1:9\n    verify:\n      scheme: github\n      secrets:\n",
    );
    for i in 0..secrets {
        yaml.push_str(&format!(
            "        - {{ id: k{i}, value: bench-secret-{i} }}\n"
        ));
    }
    let path = Path::new("<bench>");
    let config = hookguard::config::parse(&yaml, path).expect("bench config parses");
    hookguard::config::compile::compile(config, path).expect("bench config compiles")
}

fn signed_headers(key: &[u8], body: &[u8]) -> HeaderMap {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(body);
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let mut headers = HeaderMap::new();
    headers.insert(
        "x-hub-signature-256",
        HeaderValue::from_str(&sig).expect("ascii"),
    );
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers
}

fn bench_verify(c: &mut Criterion) {
    for (size, label) in SIZES {
        let body: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let mut group = c.benchmark_group(format!("verify/{label}"));
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function("raw_hmac_sha256", |b| {
            let mac = Hmac::<Sha256>::new_from_slice(b"bench-secret-0").expect("any key length");
            b.iter(|| {
                let mut m = mac.clone();
                m.update(black_box(&body));
                black_box(m.finalize().into_bytes())
            })
        });
        for secrets in [1usize, 2, 4] {
            let snap = snapshot(secrets);
            let route = snap.route_named("bench").expect("route");
            let last = format!("bench-secret-{}", secrets - 1);
            let headers = signed_headers(last.as_bytes(), &body);
            let req = Request {
                chunks: &[],
                method: "POST",
                path: "/",
                headers: &headers,
                body: &body,
            };
            let now = 1_767_225_600_000;
            assert!(verify(&route.checks, &req, now).is_ok());
            group.bench_with_input(
                BenchmarkId::new("verify_secrets", secrets),
                &req,
                |b, req| b.iter(|| verify(&route.checks, black_box(req), now)),
            );
        }
        group.finish();
    }
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
