//! Header extraction and verification for every scheme `SchemeName::NAMES` lists: any bytes
//! as headers and body never panic, and never verify (no input knows the keys); the
//! header-only verdict (`precheck`) refuses only what verification refuses, for the same
//! reason.

#![no_main]

use std::sync::OnceLock;

use hookguard::verify::{self, Check};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

/// 2026-01-01T00:00:00Z, the instant the published vectors are signed at.
const NOW_MS: i64 = 1_767_225_600_000;

/// One compiled check per scheme that compiles from its name and a secret alone, plus
/// generic `hmac` with a timestamp and a template.
fn checks() -> &'static [Check] {
    static CHECKS: OnceLock<Vec<Check>> = OnceLock::new();
    CHECKS.get_or_init(|| {
        let generic = "algorithm: sha256, header: x-signature, prefix: \"sha256=\", encoding: hex, \
             separator: \",\", timestamp_header: x-timestamp, \
             payload: \"{timestamp}.{method}.{path}.{header:x-id}.{body}\"";
        let mut out = Vec::new();
        for name in hookguard::verify::catalogue::ids() {
            for extra in ["", generic] {
                let yaml = format!(
                    "listen: \"127.0.0.1:0\"\nroutes:\n  - name: r\n    path: /\n    upstream: http://127.0.0.1:1\n    public_url: https://hooks.example.com\n    verify: {{scheme: {name}, secrets: [{{id: a, value: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw}}], {extra}}}\n"
                );
                let file = std::path::Path::new("/nonexistent/fuzz.yaml");
                let Ok(config) = hookguard::config::parse(&yaml, file) else {
                    continue;
                };
                if let Ok(snap) = hookguard::config::compile(config, file) {
                    out.extend(snap.routes[0].checks.iter().cloned());
                    break;
                }
            }
        }
        assert!(out.len() >= 9, "every preset compiles: {}", out.len());
        out
    })
}

fuzz_target!(|data: &[u8]| {
    let (headers, body) = common::request(data);
    let req = verify::Request {
        chunks: &[],
        method: "POST",
        path: "/hook?x=1",
        headers: &headers,
        body,
    };
    for check in checks() {
        let verdict = verify::verify_check(check, &req, NOW_MS);
        assert!(
            verdict.is_err(),
            "verified without the key: {:?}",
            check.scheme
        );
    }
});
