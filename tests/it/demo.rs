//! `hookguard demo` (contract section 8): the real binary prints every case and exits 0, never
//! prints a secret, a wrong expectation makes it fail, and `--serve` prints a `curl` command
//! that works, falls back to free ports, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hookguard::cmd::demo::run_case;
use hookguard::cmd::demo::{bind_or_any, Demo, CONFIG};
use hookguard::cmd::demo_cases::{cases, judge, render, Expect, Row};

use crate::net::{get, post};

/// The contract's kinds of delivery, as the demo names them.
const CASE_NAMES: [&str; 10] = [
    "current-secret",
    "previous-secret",
    "two-signatures",
    "two-sigs-new-unknown",
    "tampered-body",
    "wrong-secret",
    "stale-timestamp",
    "missing-signature",
    "github-valid",
    "oversized-body",
];

fn hookguard(args: &[&str], rust_log: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookguard"));
    match rust_log {
        Some(level) => cmd.env("RUST_LOG", level),
        None => cmd.env_remove("RUST_LOG"),
    };
    cmd.args(args).output().expect("run hookguard")
}

/// Every `value:` in the embedded config.
fn secret_values() -> Vec<String> {
    let values: Vec<String> = CONFIG
        .lines()
        .filter_map(|l| l.trim().strip_prefix("value:"))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .collect();
    assert!(values.len() >= 3, "the demo config has its secrets inline");
    values
}

fn assert_no_secret(text: &str) {
    for value in secret_values() {
        assert!(
            !text.contains(&value),
            "a secret value was printed:\n{text}"
        );
    }
}

/// Runs every case against an in-process demo after `change` edits the expectations.
async fn rows_with(change: impl FnOnce(&mut Vec<hookguard::cmd::demo_cases::Case>)) -> Vec<Row> {
    let demo = Demo::start(false).await.expect("demo starts");
    let now_s = hookguard::config::clock::now_ms() / 1000;
    let mut cases = cases(&demo.app.shared.load(), now_s).expect("cases");
    change(&mut cases);
    let mut rows = Vec::new();
    for case in &cases {
        rows.push(run_case(&demo, case).await);
    }
    demo.stop().await;
    rows
}

fn row<'a>(rows: &'a [Row], name: &str) -> &'a Row {
    rows.iter().find(|r| r.case.name == name).expect("row")
}

#[test]
fn demo_exits_0_with_every_case_in_an_all_ok_table() {
    let out = hookguard(&["demo"], None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_eq!(stderr, "", "no logs between the user and the table");
    for name in CASE_NAMES {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{stdout}"));
        assert!(line.ends_with(" ok"), "{line}");
    }
    assert!(!stdout.contains("WRONG"), "{stdout}");
    let header = stdout
        .lines()
        .find(|l| l.starts_with("CASE"))
        .expect("header");
    for column in ["SENT", "EXPECT", "GOT", "RECEIVER SAW IT", "VERDICT"] {
        assert!(header.contains(column), "{header}");
    }
}

#[test]
fn demo_never_prints_a_secret_value_even_in_debug_logs() {
    let out = hookguard(&["demo"], Some("debug"));
    assert_eq!(out.status.code(), Some(0));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        stderr.contains("2026-11"),
        "RUST_LOG turns the request log on: {stderr}"
    );
    assert!(stdout.contains("fingerprint="), "{stdout}");
    assert_no_secret(&stdout);
    assert_no_secret(&stderr);
}

#[tokio::test]
async fn rotation_cases_reach_the_receiver_with_the_secret_that_matched() {
    let rows = rows_with(|_| {}).await;
    assert!(judge(&rows).is_ok(), "{}", render(&rows));
    let secret = |name| row(&rows, name).seen.as_ref().map(|s| s.secret_id.clone());
    assert_eq!(secret("current-secret").as_deref(), Some("2026-11"));
    assert_eq!(secret("previous-secret").as_deref(), Some("2025-11"));
    assert_eq!(secret("two-signatures").as_deref(), Some("2026-11"));
    assert_eq!(secret("two-sigs-new-unknown").as_deref(), Some("2025-11"));
    assert_eq!(secret("tampered-body"), None);
}

#[tokio::test]
async fn a_wrong_status_expectation_is_reported_as_wrong() {
    let rows = rows_with(|cases| {
        let tampered = cases.iter_mut().find(|c| c.name == "tampered-body");
        tampered.expect("case").expect = Expect {
            status: 200,
            received: true,
        };
    })
    .await;
    assert!(!row(&rows, "tampered-body").ok());
    assert!(row(&rows, "wrong-secret").ok());
    let table = render(&rows);
    let line = table.lines().find(|l| l.starts_with("tampered-body"));
    assert!(line.expect("row").ends_with("WRONG"), "{table}");
    let failure = judge(&rows).expect_err("the demo must fail");
    assert_eq!(failure.code, 1);
    assert!(failure.message.contains("1 of 10"), "{}", failure.message);
    assert!(
        failure.message.contains("tampered-body"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn a_wrong_receiver_expectation_alone_is_reported_as_wrong() {
    // The status (200) is right; only "the receiver sees it" is expected wrongly.
    let rows = rows_with(|cases| {
        let valid = cases.iter_mut().find(|c| c.name == "current-secret");
        valid.expect("case").expect.received = false;
    })
    .await;
    let wrong = row(&rows, "current-secret");
    assert_eq!(wrong.got.as_ref().ok(), Some(&200));
    assert!(!wrong.ok());
    let failure = judge(&rows).expect_err("the demo must fail");
    assert!(
        failure.message.contains("current-secret"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn bind_or_any_takes_the_fixed_port_when_free_and_another_when_taken() {
    let held = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let held_addr = held.local_addr().unwrap();
    let mut notes = Vec::new();
    let other = bind_or_any(held_addr, &mut notes).await.expect("fallback");
    assert_ne!(other.local_addr().unwrap().port(), held_addr.port());
    assert_eq!(notes.len(), 1, "{notes:?}");
    drop(held);
    // A freed port can be taken by a concurrent test's port-0 bind before we rebind it, so try
    // a few freshly freed ports: a free one must be taken as asked, with no note.
    let mut kept = false;
    for _ in 0..5 {
        let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let want = probe.local_addr().unwrap();
        drop(probe);
        let mut fresh = Vec::new();
        let got = bind_or_any(want, &mut fresh).await.expect("bind");
        if got.local_addr().unwrap() == want {
            assert!(fresh.is_empty(), "{fresh:?}");
            kept = true;
            break;
        }
    }
    assert!(kept, "a free fixed port was never taken as asked");
}

/// Kills the child if the test fails before it exits.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of stdout up to and including the first line starting with `until`.
fn read_until(lines: &mpsc::Receiver<String>, until: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no `{until}` line in:\n{}", seen.join("\n")));
        let done = line.starts_with(until);
        seen.push(line);
        if done {
            return seen;
        }
    }
}

/// URL, headers and body of a printed `curl -i 'URL' -H 'N: V' ... --data-binary 'BODY'`.
fn parse_curl(line: &str) -> (String, Vec<(String, String)>, String) {
    let quoted: Vec<&str> = line.split('\'').skip(1).step_by(2).collect();
    let (url, rest) = quoted.split_first().expect("url");
    let (body, headers) = rest.split_last().expect("body");
    let headers = headers
        .iter()
        .map(|h| h.split_once(": ").expect("header"))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    (url.to_string(), headers, body.to_string())
}

#[tokio::test]
async fn serve_prints_a_working_curl_falls_back_from_taken_ports_and_stops_on_sigterm() {
    // Hold the fixed ports so the fallback is exercised (if someone else holds them, same).
    let _proxy_port = std::net::TcpListener::bind("127.0.0.1:8443");
    let _admin_port = std::net::TcpListener::bind("127.0.0.1:9901");
    let mut child = Spawned(
        Command::new(env!("CARGO_BIN_EXE_hookguard"))
            .args(["demo", "--serve"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let printed = read_until(&lines, "curl -s");
    let text = printed.join("\n");
    assert_no_secret(&text);
    let curls: Vec<&String> = printed
        .iter()
        .filter(|l| l.starts_with("curl -i"))
        .collect();
    assert_eq!(curls.len(), 2, "{text}");
    let (url, headers, body) = parse_curl(curls[0]);
    assert!(
        !url.contains(":8443/"),
        "the taken port was not avoided: {url}"
    );
    let (status, _, answer) = post(&url, &headers, body).await;
    assert_eq!(status, 200, "{answer:?}\n{text}");
    let (url, headers, body) = parse_curl(curls[1]);
    assert_eq!(post(&url, &headers, body).await.0, 401);
    let got = read_until(&lines, "receiver got:");
    assert!(got.last().expect("line").contains("2026-11"), "{got:?}");
    let metrics = printed.last().expect("metrics line");
    let admin = metrics
        .split_whitespace()
        .find(|w| w.starts_with("http://"));
    let (status, _, metrics) = get(admin.expect("admin url")).await;
    assert_eq!(status, 200);
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(metrics.contains(r#"outcome="rejected"} 1"#), "{metrics}");

    let pid = child.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status();
    assert!(killed.expect("kill").success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "still running after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let mut stderr = String::new();
    let mut err = child.0.stderr.take().expect("stderr");
    std::io::Read::read_to_string(&mut err, &mut stderr).expect("stderr");
    assert_no_secret(&stderr);
}
