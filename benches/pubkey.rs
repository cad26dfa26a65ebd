//! Public-key verification cost: `hookguard::verify::verify` on a Discord (Ed25519) and a
//! SendGrid (ECDSA P-256) route for a 1 KiB body with 1 and 2 active keys (signed with the
//! last, so every key is tried), beside ring's bare verification of the same bytes. The
//! difference is header parsing, decoding and joining the signed bytes.
//!
//! Run: `cargo bench --bench pubkey` (add `-- --quick` for a short pass).

use std::hint::black_box;
use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use http::{HeaderMap, HeaderValue};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use hookguard::verify::{verify, Request};

const TS: &str = "1767225600";
const P256_SPKI: &str = "3059301306072a8648ce3d020106082a8648ce3d030107034200";

enum Pair {
    Ed(Ed25519KeyPair),
    P256(EcdsaKeyPair),
}

impl Pair {
    fn new(scheme: &str, rng: &SystemRandom) -> Pair {
        if scheme == "discord" {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(rng).expect("keygen");
            Pair::Ed(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("pkcs8"))
        } else {
            let alg = &signature::ECDSA_P256_SHA256_ASN1_SIGNING;
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, rng).expect("keygen");
            Pair::P256(EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), rng).expect("pkcs8"))
        }
    }

    /// The public key as the provider hands it out, and `(signature header, value)`.
    fn sign(&self, msg: &[u8], rng: &SystemRandom) -> (String, &'static str, String) {
        match self {
            Pair::Ed(k) => (
                hex::encode(k.public_key()),
                "x-signature-ed25519",
                hex::encode(k.sign(msg)),
            ),
            Pair::P256(k) => {
                let der = [
                    hex::decode(P256_SPKI).expect("hex"),
                    k.public_key().as_ref().to_vec(),
                ]
                .concat();
                let sig = k.sign(rng, msg).expect("sign");
                (
                    STANDARD.encode(der),
                    "x-twilio-email-event-webhook-signature",
                    STANDARD.encode(sig),
                )
            }
        }
    }
}

fn bench(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let body: Vec<u8> = (0..1024).map(|i| b'a' + (i % 26) as u8).collect();
    let msg = [TS.as_bytes(), &body].concat();
    for (scheme, ts_header, alg) in [
        (
            "discord",
            "x-signature-timestamp",
            &signature::ED25519 as &dyn signature::VerificationAlgorithm,
        ),
        (
            "sendgrid",
            "x-twilio-email-event-webhook-timestamp",
            &signature::ECDSA_P256_SHA256_ASN1,
        ),
    ] {
        let mut group = c.benchmark_group(format!("pubkey/{scheme}/1KiB"));
        let pairs: Vec<Pair> = (0..2).map(|_| Pair::new(scheme, &rng)).collect();
        let signed: Vec<_> = pairs.iter().map(|p| p.sign(&msg, &rng)).collect();
        let raw = match &pairs[0] {
            Pair::Ed(k) => k.public_key().as_ref().to_vec(),
            Pair::P256(k) => k.public_key().as_ref().to_vec(),
        };
        let sig0 = match &pairs[0] {
            Pair::Ed(k) => k.sign(&msg).as_ref().to_vec(),
            Pair::P256(k) => k.sign(&rng, &msg).expect("sign").as_ref().to_vec(),
        };
        group.bench_function("ring_verify", |b| {
            let key = UnparsedPublicKey::new(alg, &raw);
            b.iter(|| key.verify(black_box(&msg), black_box(&sig0)).is_ok())
        });
        for keys in [1usize, 2] {
            let mut yaml = format!("listen: \"127.0.0.1:0\"\nroutes:\n  - name: bench\n    path: /\n    upstream: http://127.0.0.1:9\n    verify:\n      scheme: {scheme}\n      secrets:\n");
            for (i, (public, _, _)) in signed.iter().take(keys).enumerate() {
                yaml.push_str(&format!("        - {{ id: k{i}, value: \"{public}\" }}\n"));
            }
            let path = Path::new("<bench>");
            let config = hookguard::config::parse(&yaml, path).expect("bench config parses");
            let snap = hookguard::config::compile::compile(config, path).expect("compiles");
            let route = snap.route_named("bench").expect("route");
            let (_, sig_header, sig) = &signed[keys - 1];
            let mut headers = HeaderMap::new();
            headers.insert(*sig_header, HeaderValue::from_str(sig).expect("ascii"));
            headers.insert(ts_header, HeaderValue::from_static(TS));
            let req = Request {
                chunks: &[],
                method: "POST",
                path: "/",
                headers: &headers,
                body: &body,
            };
            let now = 1_767_225_600_000;
            assert!(verify(&route.checks, &req, now).is_ok());
            group.bench_with_input(BenchmarkId::new("verify_keys", keys), &req, |b, req| {
                b.iter(|| verify(&route.checks, black_box(req), now))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
