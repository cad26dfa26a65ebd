//! Config abuse: YAML bombs, deep nesting, oversized files and secret files that are a FIFO,
//! `/dev/zero` or 50 MB. `check` exits 64 within seconds under a 1 GiB address-space limit;
//! a running instance reloading them keeps its old config; an invalid config beside a busy
//! directory fails once, not in a loop.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use http::StatusCode;

use crate::net::*;

fn config(secret: &str) -> String {
    format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n  - name: r\n    path: /r\n    upstream: http://127.0.0.1:1\n    verify: {{scheme: api-key, secrets: [{{id: a, {secret}}}]}}\n"
    )
}

/// An alias bomb that fits the schema (the classic nested "billion laughs" has no list of
/// lists to expand into here): a 50,000-entry `probe_methods` anchored once and aliased by
/// 5,000 routes, 250 million strings from a 0.9 MB file.
fn alias_bomb() -> String {
    let methods = vec!["GET"; 50_000].join(",");
    let route = |i: usize, methods: &str| {
        format!("  - {{name: r{i}, path: /r{i}, upstream: \"http://127.0.0.1:1\", probe_methods: {methods}, verify: {{scheme: api-key, secrets: [{{id: a, value: k}}]}}}}\n")
    };
    let mut yaml = String::from("listen: \"127.0.0.1:0\"\nroutes:\n");
    yaml.push_str(&route(0, &format!("&m [{methods}]")));
    for i in 1..5_000 {
        yaml.push_str(&route(i, "*m"));
    }
    yaml
}

fn sparse(path: &Path, len: u64) {
    std::fs::File::create(path).unwrap().set_len(len).unwrap();
}

fn mkfifo(path: &Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

/// Writes the abusive input named `case` into `dir` (the config is `dir/hookguard.yaml`).
fn write_case(dir: &Path, case: &str) {
    let cfg = dir.join("hookguard.yaml");
    let secret = dir.join("secret");
    let _ = std::fs::remove_file(&secret);
    match case {
        "alias bomb" => std::fs::write(&cfg, alias_bomb()).unwrap(),
        "100,000-deep nesting" => {
            let deep = format!("listen: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
            std::fs::write(&cfg, deep).unwrap()
        }
        "100 MB config" => sparse(&cfg, 100 << 20),
        _ => {
            std::fs::write(&cfg, config("file: secret")).unwrap();
            match case {
                "FIFO secret" => mkfifo(&secret),
                "/dev/zero secret" => std::os::unix::fs::symlink("/dev/zero", &secret).unwrap(),
                "50 MB secret" => sparse(&secret, 50 << 20),
                other => panic!("{other}"),
            }
        }
    }
}

const CASES: [&str; 6] = [
    "alias bomb",
    "100,000-deep nesting",
    "100 MB config",
    "FIFO secret",
    "/dev/zero secret",
    "50 MB secret",
];

#[test]
fn check_exits_64_within_seconds_and_bounded_memory_on_every_abusive_input() {
    for case in CASES {
        let dir = tempfile::tempdir().unwrap();
        write_case(dir.path(), case);
        let start = Instant::now();
        // 1 GiB of address space: /dev/zero read to the end, or a bomb expanded, would die
        // of it (a signal, not exit 64).
        let out = Command::new("sh")
            .args([
                "-c",
                "ulimit -v 1048576 && exec \"$0\" check --config \"$1\"",
            ])
            .arg(env!("CARGO_BIN_EXE_hookguard"))
            .arg(dir.path().join("hookguard.yaml"))
            .output()
            .unwrap();
        let took = start.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{case}: {stderr}");
        assert!(took < Duration::from_secs(10), "{case}: {took:?}");
        assert!(stderr.contains("hookguard.yaml"), "{case}: {stderr}");
        println!("{case}: exit 64 in {took:?}: {}", stderr.trim());
    }
}

async fn failures(proxy: &Proxy) -> f64 {
    let m = proxy.metrics().await;
    metric_value(
        &m,
        "hookguard_config_reloads_total",
        &[("result", "failure")],
    )
}

async fn wait_failures(proxy: &Proxy, want: f64, case: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while failures(proxy).await < want {
        assert!(
            Instant::now() < deadline,
            "{case}: no failed reload counted"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_instance_reloading_abusive_inputs_keeps_its_config_and_then_takes_a_good_one() {
    let up = Upstream::start().await;
    let yaml = config("file: secret").replace("http://127.0.0.1:1", &up.url());
    let proxy = Proxy::start_reloading(&yaml, &[("secret", b"key-a\n")]).await;
    let url = format!("{}/r", proxy.url());
    let key = |k: &'static str| hdrs(&[("x-api-key", k)]);
    for (n, case) in CASES.iter().enumerate() {
        write_case(proxy.dir.path(), case);
        wait_failures(&proxy, (n + 1) as f64, case).await;
        assert_eq!(
            post(&url, &key("key-a"), "{}").await.0,
            StatusCode::OK,
            "{case}"
        );
    }
    // The reloader is not stuck on any of them: a good config and secret apply.
    let secret = proxy.path("secret");
    let _ = std::fs::remove_file(&secret);
    std::fs::write(&secret, b"key-b\n").unwrap();
    crate::rotation::replace(
        &proxy.config,
        yaml.replace("http://127.0.0.1:1", &up.url()).as_bytes(),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while post(&url, &key("key-b"), "{}").await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "the good config never applied");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        post(&url, &key("key-a"), "{}").await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_config_beside_a_busy_directory_fails_once_and_does_not_loop() {
    let up = Upstream::start().await;
    let yaml = config("value: key-a").replace("http://127.0.0.1:1", &up.url());
    let proxy = Proxy::start_reloading(&yaml, &[]).await;
    crate::rotation::replace(&proxy.config, b"listen: [unclosed\n");
    wait_failures(&proxy, 1.0, "invalid yaml").await;
    // A log beside the config, written every 20 ms for 1.5 s, and files coming and going.
    let noise = proxy.path("app.log");
    for i in 0..75 {
        std::fs::write(&noise, format!("line {i}\n")).unwrap();
        std::fs::write(proxy.path(&format!("tmp-{i}")), b"x").unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        failures(&proxy).await,
        1.0,
        "the same failure was reloaded again"
    );
    // The same invalid text written again is still the same failure; SIGHUP-style explicit
    // reloads are always reported.
    crate::rotation::replace(&proxy.config, b"listen: [unclosed\n");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(failures(&proxy).await, 1.0);
    hookguard::ops::reload::reload(
        &proxy.app,
        &proxy.config,
        hookguard::ops::reload::Trigger::Signal,
    );
    assert_eq!(failures(&proxy).await, 2.0);
    let url = format!("{}/r", proxy.url());
    assert_eq!(
        post(&url, &hdrs(&[("x-api-key", "key-a")]), "{}").await.0,
        StatusCode::OK
    );
}
