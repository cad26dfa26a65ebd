//! The real binary's logs: JSON lines on stderr when asked (and by default off a terminal),
//! one `request` line per request with its route, outcome, status and request id, start-up and
//! reload listing every secret's id, fingerprint and expiry, and never a secret value, a
//! signature or a body, neither in the logs nor in `/metrics`, through valid and rejected
//! traffic, a reload, a failed reload and a SIGTERM drain.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use http::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::net::{get, hdrs, now_s, post, Upstream};

/// `hookguard run` as a child process, its stderr collected line by line.
struct Running {
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
    stdout: Option<std::thread::JoinHandle<String>>,
}

impl Running {
    fn start(config: &Path, format: Option<&str>, env: &[(&str, &str)]) -> Running {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookguard"));
        cmd.arg("run").arg("--config").arg(config);
        if let Some(format) = format {
            cmd.args(["--log-format", format]);
        }
        cmd.env("RUST_LOG", "debug")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn hookguard");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = stderr.clone();
        let pipe = child.stderr.take().expect("stderr piped");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { return };
                sink.lock().expect("lines").push(line);
            }
        });
        let mut out = child.stdout.take().expect("stdout piped");
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            text
        });
        Running {
            child,
            stderr,
            stdout: Some(stdout),
        }
    }

    fn lines(&self) -> Vec<String> {
        self.stderr.lock().expect("lines").clone()
    }

    /// The JSON lines so far (lines that are not JSON are skipped here, asserted elsewhere).
    fn json(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits up to `within` for the `n`-th (1-based) JSON line whose message is `message`.
    async fn wait_message(&self, message: &str, n: usize, within: Duration) -> Value {
        self.wait_for(&format!("{n}th `{message}`"), within, |lines| {
            lines
                .iter()
                .filter(|v| v["message"] == message)
                .nth(n - 1)
                .cloned()
        })
        .await
    }

    /// Waits up to `within` until `found` picks something from the JSON lines so far.
    async fn wait_for<T>(
        &self,
        what: &str,
        within: Duration,
        found: impl Fn(&[Value]) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        loop {
            if let Some(hit) = found(&self.json()) {
                return hit;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {within:?}:\n{}",
                self.lines().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the process to exit; returns its code.
    async fn exit_code(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            assert!(Instant::now() < deadline, "hookguard did not exit");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let ok = Command::new("kill").args([name, &pid]).status();
        assert!(ok.expect("run kill").success());
    }

    fn stdout(&mut self) -> String {
        let handle = self.stdout.take().expect("stdout read once");
        handle.join().expect("stdout reader")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Only if a test failed midway: never leave the child behind.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn hmac_hex(key: &str, msg: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(msg);
    hex::encode(mac.finalize().into_bytes())
}

fn fingerprint(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))[..16].to_owned()
}

// Distinctive values, so that finding one in the output cannot be a coincidence.
const INLINE: &str = "Inl1ne-Zq7-value-secret";
const FROM_ENV: &str = "Env1ron-Yk4-value-secret";
const FROM_FILE: &str = "F1le-Jm2-value-secret";
const STRIPE: &str = "Str1pe-Qx9-value-secret";
const SLOW: &str = "Sl0w-Wv3-value-secret";
const ADDED: &str = "Add3d-Rr8-value-secret";
const IN_BAD_CONFIG: &str = "B4d-Tt6-value-secret";
const NOT_CONFIGURED: &str = "Wr0ng-Pp5-value-secret";
const ENV_NAME: &str = "HOOKGUARD_LOGS_TEST_SECRET";

fn config(ok: &Upstream, slow: &Upstream, extra_gh_secret: &str) -> String {
    format!(
        r#"listen: "127.0.0.1:0"
admin:
  listen: "127.0.0.1:0"
limits:
  header_timeout: 2s
  body_timeout: 2s
  upstream_timeout: 5s
  max_body_bytes: 256
routes:
  - name: gh
    path: /gh
    upstream: {ok}
    verify:
      scheme: github
      secrets:
        - id: inline
          value: "{INLINE}"
          expires: 2031-03-04T05:06:07Z
        - id: fromenv
          env: {ENV_NAME}
        - id: fromfile
          file: gh.secret
{extra_gh_secret}  - name: st
    path: /st
    upstream: {ok}
    verify:
      scheme: stripe
      secrets:
        - id: s
          value: "{STRIPE}"
  - name: slow
    path: /slow
    upstream: {slow}
    verify:
      scheme: github
      secrets:
        - id: slow
          value: "{SLOW}"
"#,
        ok = ok.url(),
        slow = slow.url(),
    )
}

/// Replaces the config by rename, as editors and config tools do.
fn rewrite(path: &Path, text: &str) {
    let tmp = path.with_extension("yaml.new");
    std::fs::write(&tmp, text).expect("write config");
    std::fs::rename(&tmp, path).expect("rename config");
}

/// One request the test sent and what its log line must say.
struct Sent {
    path: String,
    route: &'static str,
    outcome: &'static str,
    reason: &'static str,
    status: StatusCode,
}

/// Sends requests and remembers every value that must never be logged.
struct Traffic {
    base: String,
    sent: Vec<Sent>,
    secret_looking: Vec<String>,
}

impl Traffic {
    /// POSTs a distinctive body to `path`, with a GitHub signature made with `key` if any.
    async fn github(&mut self, path: &str, key: Option<&str>, size: usize) -> (StatusCode, String) {
        let n = self.sent.len();
        let mut body = format!("{{\"marker\":\"body-{n}-Kp3-never-logged\"}}").into_bytes();
        body.resize(size.max(body.len()), b' ');
        self.secret_looking
            .push(format!("body-{n}-Kp3-never-logged"));
        let delivery = format!("gh-delivery{path}").replace('/', "-");
        let mut headers = hdrs(&[("x-github-delivery", &delivery)]);
        if let Some(key) = key {
            let sig = hmac_hex(key, &body);
            self.secret_looking.push(sig.clone());
            headers.extend(hdrs(&[("x-hub-signature-256", &format!("sha256={sig}"))]));
        }
        let (status, _, _) = post(&format!("{}{path}", self.base), &headers, body).await;
        (status, path.to_owned())
    }

    async fn stripe(&mut self, path: &str, age_s: i64) -> StatusCode {
        let n = self.sent.len();
        let body = format!("{{\"marker\":\"body-{n}-Kp3-never-logged\"}}");
        self.secret_looking
            .push(format!("body-{n}-Kp3-never-logged"));
        let t = now_s() - age_s;
        let sig = hmac_hex(STRIPE, format!("{t}.{body}").as_bytes());
        self.secret_looking.push(sig.clone());
        let header = format!("t={t},v1={sig}");
        let headers = hdrs(&[("stripe-signature", &header)]);
        post(&format!("{}{path}", self.base), &headers, body)
            .await
            .0
    }

    fn expect(
        &mut self,
        path: String,
        route: &'static str,
        outcome: &'static str,
        reason: &'static str,
        status: StatusCode,
    ) {
        self.sent.push(Sent {
            path,
            route,
            outcome,
            reason,
            status,
        });
    }

    /// Sends a GitHub delivery and records what its log line must say.
    async fn check(
        &mut self,
        path: &str,
        key: Option<&str>,
        size: usize,
        outcome: &'static str,
        reason: &'static str,
        status: StatusCode,
    ) {
        let (got, path) = self.github(path, key, size).await;
        assert_eq!(got, status, "{path}");
        let route = if path.starts_with("/gh") { "gh" } else { "" };
        self.expect(path, route, outcome, reason, status);
    }
}

fn addr_of(line: &Value) -> String {
    line["addr"].as_str().expect("addr field").to_owned()
}

fn secret_line<'a>(lines: &'a [Value], id: &str) -> &'a Value {
    lines
        .iter()
        .find(|v| v["message"] == "secret" && v["secret_id"] == id)
        .unwrap_or_else(|| panic!("no `secret` line for {id}"))
}

#[tokio::test]
async fn real_logs_and_metrics_never_show_a_secret_signature_or_body_and_log_each_request_once() {
    let ok = Upstream::start().await;
    let slow = Upstream::start_with(StatusCode::OK, Duration::from_millis(1500)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hookguard.yaml");
    std::fs::write(dir.path().join("gh.secret"), format!("{FROM_FILE}\n")).expect("secret file");
    std::fs::write(&path, config(&ok, &slow, "")).expect("config");
    let mut hg = Running::start(&path, Some("json"), &[(ENV_NAME, FROM_ENV)]);
    let listening = hg
        .wait_message("listening", 1, Duration::from_secs(10))
        .await;
    let admin = addr_of(
        &hg.wait_message("admin listening", 1, Duration::from_secs(1))
            .await,
    );
    let mut t = Traffic {
        base: format!("http://{}", addr_of(&listening)),
        sent: Vec::new(),
        secret_looking: Vec::new(),
    };

    // Start-up lists every secret with its fingerprint and expiry.
    let startup = hg.json();
    let inline = secret_line(&startup, "inline");
    assert_eq!(inline["fingerprint"], fingerprint(INLINE).as_str());
    assert_eq!(inline["expires"], "2031-03-04T05:06:07Z");
    assert_eq!(inline["route"], "gh");
    assert_eq!(
        secret_line(&startup, "fromenv")["fingerprint"],
        fingerprint(FROM_ENV).as_str()
    );
    assert_eq!(
        secret_line(&startup, "fromfile")["fingerprint"],
        fingerprint(FROM_FILE).as_str()
    );
    assert_eq!(
        secret_line(&startup, "s")["fingerprint"],
        fingerprint(STRIPE).as_str()
    );

    let (fwd, rej) = ("forwarded", "rejected");
    t.check("/gh/1", Some(INLINE), 0, fwd, "valid", StatusCode::OK)
        .await;
    t.check("/gh/2", Some(FROM_ENV), 0, fwd, "valid", StatusCode::OK)
        .await;
    t.check("/gh/3", Some(FROM_FILE), 0, fwd, "valid", StatusCode::OK)
        .await;
    t.check(
        "/gh/4",
        Some(NOT_CONFIGURED),
        0,
        rej,
        "invalid",
        StatusCode::UNAUTHORIZED,
    )
    .await;
    t.check("/gh/5", None, 0, rej, "missing", StatusCode::UNAUTHORIZED)
        .await;
    t.check(
        "/gh/6",
        Some(INLINE),
        300,
        "too_large",
        "",
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    t.check(
        "/nowhere/7",
        Some(INLINE),
        0,
        "no_route",
        "",
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(t.stripe("/st/8", 3600).await, StatusCode::UNAUTHORIZED);
    t.expect("/st/8".into(), "st", rej, "stale", StatusCode::UNAUTHORIZED);
    assert_eq!(t.stripe("/st/9", 0).await, StatusCode::OK);
    t.expect("/st/9".into(), "st", fwd, "valid", StatusCode::OK);

    // A client-sent request id reaches the upstream unchanged.
    let body = b"{\"marker\":\"body-client-id-Kp3-never-logged\"}";
    t.secret_looking
        .push("body-client-id-Kp3-never-logged".into());
    let sig = hmac_hex(INLINE, body);
    t.secret_looking.push(sig.clone());
    let headers = hdrs(&[
        ("x-hub-signature-256", &format!("sha256={sig}")),
        ("x-request-id", "client-chosen-id"),
        ("x-github-delivery", "gh-delivery-gh-10"),
    ]);
    assert_eq!(
        post(&format!("{}/gh/10", t.base), &headers, &body[..])
            .await
            .0,
        StatusCode::OK
    );
    t.expect("/gh/10".into(), "gh", fwd, "valid", StatusCode::OK);

    // A reload adds a secret; its lines list the new set.
    let added = format!("        - id: added\n          value: \"{ADDED}\"\n");
    rewrite(&path, &config(&ok, &slow, &added));
    // The reload's lines: from `config reloaded` to the last route's last secret.
    let after_reload = hg
        .wait_for("reload lines", Duration::from_secs(3), |lines| {
            let at = lines
                .iter()
                .position(|v| v["message"] == "config reloaded")?;
            let tail = &lines[at..];
            let done = tail.iter().filter(|v| v["message"] == "secret").count() == 6;
            done.then(|| tail.to_vec())
        })
        .await;
    let after_reload = &after_reload[..];
    assert_eq!(
        secret_line(after_reload, "added")["fingerprint"],
        fingerprint(ADDED).as_str()
    );
    assert_eq!(
        secret_line(after_reload, "inline")["expires"],
        "2031-03-04T05:06:07Z"
    );
    t.check("/gh/11", Some(ADDED), 0, fwd, "valid", StatusCode::OK)
        .await;

    // A config whose offending line holds a secret: refused, logged, the secret not echoed.
    let bad = format!("        - id: bad\n          value: [\"{IN_BAD_CONFIG}\"]\n");
    rewrite(&path, &config(&ok, &slow, &bad));
    hg.wait_message(
        "config reload failed; keeping the running config",
        1,
        Duration::from_secs(3),
    )
    .await;
    t.check("/gh/12", Some(ADDED), 0, fwd, "valid", StatusCode::OK)
        .await;

    let metrics_before = get(&format!("http://{admin}/metrics")).await.2;
    let metrics_before = String::from_utf8_lossy(&metrics_before).into_owned();
    assert!(metrics_before.contains("hookguard_config_reloads_total{result=\"failure\"}"));

    // SIGTERM with a request in flight: /readyz turns 503, the request finishes, exit 0.
    let slow_body = b"{\"marker\":\"body-slow-Kp3-never-logged\"}";
    t.secret_looking.push("body-slow-Kp3-never-logged".into());
    let sig = hmac_hex(SLOW, slow_body);
    t.secret_looking.push(sig.clone());
    let headers = hdrs(&[("x-hub-signature-256", &format!("sha256={sig}"))]);
    let url = format!("{}/slow/13", t.base);
    let in_flight = tokio::spawn(async move { post(&url, &headers, &slow_body[..]).await.0 });
    t.expect("/slow/13".into(), "slow", fwd, "valid", StatusCode::OK);
    while slow.count() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let readyz = format!("http://{admin}/readyz");
    assert_eq!(get(&readyz).await.0, StatusCode::OK);
    hg.signal("-TERM");
    let deadline = Instant::now() + Duration::from_secs(1);
    while get(&readyz).await.0 != StatusCode::SERVICE_UNAVAILABLE {
        assert!(Instant::now() < deadline, "/readyz still 200 after SIGTERM");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let metrics_draining =
        String::from_utf8_lossy(&get(&format!("http://{admin}/metrics")).await.2).into_owned();
    assert_eq!(in_flight.await.expect("in-flight task"), StatusCode::OK);
    assert_eq!(hg.exit_code(Duration::from_secs(10)).await, Some(0));
    // The reader thread sees EOF once the process is gone.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let lines = hg.lines();
    let stdout = hg.stdout();
    assert_every_line_is_json(&lines);
    let mut forbidden: Vec<String> = [
        INLINE,
        FROM_ENV,
        FROM_FILE,
        STRIPE,
        SLOW,
        ADDED,
        IN_BAD_CONFIG,
        NOT_CONFIGURED,
    ]
    .map(String::from)
    .to_vec();
    forbidden.extend(t.secret_looking.iter().cloned());
    let outputs = [
        ("stderr", lines.join("\n")),
        ("stdout", stdout),
        ("metrics", metrics_before),
        ("metrics while draining", metrics_draining),
    ];
    for (what, text) in &outputs {
        for value in &forbidden {
            assert!(!text.contains(value.as_str()), "{what} contains `{value}`");
        }
    }
    assert_one_request_line_each(&lines, &t.sent, &ok);
}

fn assert_every_line_is_json(lines: &[String]) {
    assert!(lines.len() > 20, "too few lines: {lines:?}");
    for line in lines {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v.is_object(), "{line}");
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
    }
}

/// Exactly one `request` line per request sent, with the right route, outcome, reason and
/// status, and a request id that is unique and, when the client sent none, the one the
/// upstream received as `x-request-id`.
fn assert_one_request_line_each(lines: &[String], sent: &[Sent], ok: &Upstream) {
    let requests: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == "request")
        .collect();
    assert_eq!(requests.len(), sent.len(), "one request line per request");
    let mut ids = HashSet::new();
    for s in sent {
        let matching: Vec<&Value> = requests
            .iter()
            .filter(|v| v["path"] == s.path.as_str())
            .collect();
        assert_eq!(matching.len(), 1, "{}: {matching:?}", s.path);
        let line = matching[0];
        assert_eq!(line["route"], s.route, "{line}");
        assert_eq!(line["outcome"], s.outcome, "{line}");
        assert_eq!(line["status"], s.status.as_u16(), "{line}");
        if !s.reason.is_empty() {
            assert_eq!(line["reason"], s.reason, "{line}");
        }
        assert!(line["total_ms"].is_number(), "{line}");
        if s.route == "gh" {
            let delivery = format!("gh-delivery{}", s.path).replace('/', "-");
            assert_eq!(
                line["delivery_id"],
                delivery.as_str(),
                "GitHub's delivery id: {line}"
            );
        }
        if s.outcome == "forwarded" {
            assert!(line["upstream_ms"].is_number(), "{line}");
        }
        let id = line["request_id"].as_str().expect("request_id");
        assert!(
            !id.is_empty() && ids.insert(id.to_owned()),
            "request ids unique: {id}"
        );
        let upstream_saw = ok
            .received
            .lock()
            .expect("received")
            .iter()
            .find(|r| r.uri == s.path)
            .map(|r| {
                r.headers
                    .get("x-request-id")
                    .map(|v| v.to_str().unwrap_or("").to_owned())
            });
        match (s.path.as_str(), upstream_saw) {
            ("/gh/10", Some(got)) => assert_eq!(got.as_deref(), Some("client-chosen-id")),
            (_, Some(got)) => assert_eq!(got.as_deref(), Some(id), "{}: x-request-id", s.path),
            (_, None) => {}
        }
    }
    let secret_ids: Vec<&str> = requests
        .iter()
        .filter(|v| v["outcome"] == "forwarded")
        .filter_map(|v| v["secret_id"].as_str())
        .collect();
    for id in ["inline", "fromenv", "fromfile", "s", "added", "slow"] {
        assert!(
            secret_ids.contains(&id),
            "secret_id {id} in a request line: {secret_ids:?}"
        );
    }
}

#[tokio::test]
async fn log_format_text_writes_plain_lines_and_the_default_off_a_terminal_is_json() {
    let ok = Upstream::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hookguard.yaml");
    std::fs::write(dir.path().join("gh.secret"), FROM_FILE).expect("secret file");
    std::fs::write(&path, config(&ok, &ok, "")).expect("config");
    let env = [(ENV_NAME, FROM_ENV)];

    let mut text = Running::start(&path, Some("text"), &env);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text.lines().iter().any(|l| l.contains("admin listening")) {
        assert!(
            Instant::now() < deadline,
            "no listening line: {:?}",
            text.lines()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    text.signal("-TERM");
    assert_eq!(text.exit_code(Duration::from_secs(10)).await, Some(0));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let lines = text.lines();
    let secret = lines
        .iter()
        .find(|l| l.contains("secret_id=fromfile"))
        .expect("secret line");
    assert!(
        secret.contains(&format!("fingerprint={}", fingerprint(FROM_FILE))),
        "{secret}"
    );
    for line in &lines {
        assert!(
            serde_json::from_str::<Value>(line).is_err(),
            "JSON in text mode: {line}"
        );
        assert!(
            !line.contains('\u{1b}'),
            "colour codes off a terminal: {line:?}"
        );
        for value in [INLINE, FROM_ENV, FROM_FILE, STRIPE, SLOW] {
            assert!(!line.contains(value), "{line}");
        }
    }

    let mut default = Running::start(&path, None, &env);
    let first = default
        .wait_message("listening", 1, Duration::from_secs(10))
        .await;
    assert!(first["addr"].is_string());
    default.signal("-TERM");
    assert_eq!(default.exit_code(Duration::from_secs(10)).await, Some(0));
}

/// Whether process `pid` catches SIGTERM yet (its `SigCgt` mask in `/proc`).
#[cfg(target_os = "linux")]
fn catches_sigterm(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let mask = status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .unwrap_or(0);
    mask & (1 << (15 - 1)) != 0
}

/// SIGTERM sent the moment the handler is installed, while the config is still being loaded
/// (a large config makes that window wide; a FIFO secret once made it deterministic, but a
/// FIFO is now refused at once): the signal is never lost and the exit is 0.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn sigterm_while_still_loading_the_config_is_not_lost_and_exits_0() {
    let ok = Upstream::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("hookguard.yaml");
    std::fs::write(dir.path().join("gh.secret"), FROM_FILE).expect("secret file");
    let mut yaml = config(&ok, &ok, "");
    // ~0.9 MiB of comments: parsed, so loading takes a while, and under the 1 MiB input bound.
    for _ in 0..12_000 {
        yaml.push_str("# padding padding padding padding padding padding padding padding pad\n");
    }
    std::fs::write(&path, yaml).expect("config");
    let mut hg = Running::start(&path, Some("json"), &[(ENV_NAME, FROM_ENV)]);
    let pid = hg.child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !catches_sigterm(pid) {
        assert!(Instant::now() < deadline, "SIGTERM never caught");
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    hg.signal("-TERM");
    assert_eq!(hg.exit_code(Duration::from_secs(10)).await, Some(0));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let messages: Vec<Value> = hg
        .json()
        .into_iter()
        .map(|v| v["message"].clone())
        .collect();
    let at = |m: &str| messages.iter().position(|v| v == m);
    assert!(at("listening").is_some(), "{messages:?}");
    assert!(
        at("SIGTERM: shutting down") > at("listening"),
        "{messages:?}"
    );
    assert!(at("stopped") > at("SIGTERM: shutting down"), "{messages:?}");
}
