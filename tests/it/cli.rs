//! The real `hookguard` binary: `check`, `sign`, `verify`, `gen-secret`, exit codes, and no
//! secret value in any output.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

use crate::support::{one_route, ConfigFile, NOW_S};

/// Runs `hookguard args...` with a clean environment for the config path, plus `env`.
fn hookguard(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookguard"));
    cmd.args(args)
        .env_remove("HOOKGUARD_CONFIG")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("hookguard runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts the exit code, showing both streams when it differs.
fn assert_exit(out: &Output, code: i32, what: &str) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}\nstdout: {}\nstderr: {}",
        stdout(out),
        stderr(out)
    );
}

/// Asserts that none of `secrets` is in stdout or stderr.
fn assert_no_secret(out: &Output, secrets: &[&str], what: &str) {
    for secret in secrets {
        for (stream, text) in [("stdout", stdout(out)), ("stderr", stderr(out))] {
            assert!(
                !text.contains(secret),
                "{what}: `{secret}` in {stream}: {text}"
            );
        }
    }
}

fn fingerprint(key: &str) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// `verify --config <config> --route r --headers <headers> --body <body>`, then `more`.
fn verify_args<'a>(
    config: &'a str,
    headers: &'a str,
    body: &'a str,
    more: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["verify", "--config", config, "--route", "r"];
    args.extend(["--headers", headers, "--body", body]);
    args.extend_from_slice(more);
    args
}

const ENV_SECRET: &str = "SEKRET-from-env-31";
const FILE_SECRET: &str = "SEKRET-from-file-47";
const VALUE_SECRET: &str = "SEKRET-inline-value-59";

/// An api-key check and a Stripe check whose secrets come from `value`, `env` and `file`.
fn rotation_config() -> ConfigFile {
    let verify = format!(
        "- scheme: api-key\n  secrets:\n    - id: key-2026\n      env: HG_TEST_API_KEY\n\
        - scheme: stripe\n  secrets:\n    - id: stripe-new\n      value: \"{VALUE_SECRET}\"\n\
        \x20     not_before: 2026-01-01T00:00:00Z\n\
        \x20   - id: stripe-old\n      file: stripe-old.txt\n      expires: 2027-02-01T00:00:00Z"
    );
    let file = ConfigFile::new(&one_route("tolerance: 5m", &verify));
    file.write("stripe-old.txt", format!("{FILE_SECRET}\n").as_bytes());
    file
}

#[test]
fn check_lists_routes_secret_ids_and_fingerprints_and_never_a_secret() {
    let file = rotation_config();
    let out = hookguard(
        &["check", "--config", path(&file.path)],
        &[("HG_TEST_API_KEY", ENV_SECRET)],
    );
    assert_exit(&out, 0, "check");
    let text = stdout(&out);
    for want in [
        "route r",
        "scheme api-key",
        "scheme stripe",
        "key-2026",
        "stripe-new",
        "stripe-old",
        "expires=2027-02-01T00:00:00Z",
    ] {
        assert!(text.contains(want), "`{want}` missing from {text}");
    }
    for key in [ENV_SECRET, VALUE_SECRET, FILE_SECRET] {
        let line = format!("fingerprint={} ", fingerprint(key));
        assert!(text.contains(&line), "`{line}` missing from {text}");
    }
    assert_no_secret(
        &out,
        &[ENV_SECRET, VALUE_SECRET, FILE_SECRET, "SEKRET"],
        "check",
    );
}

/// Signs `body` for route `r` with `sign_args`, then verifies it (with `body_sent`) at `now`.
fn sign_then_verify(file: &ConfigFile, sign_args: &[&str], body_sent: &[u8], now: i64) -> Output {
    let body = file.write("body.json", BODY);
    let config = path(&file.path);
    let mut args = vec![
        "sign",
        "--config",
        config,
        "--route",
        "r",
        "--body",
        path(&body),
    ];
    args.extend_from_slice(sign_args);
    let env = [("HG_TEST_API_KEY", ENV_SECRET)];
    let signed = hookguard(&args, &env);
    assert_exit(&signed, 0, "sign");
    assert_no_secret(&signed, &["SEKRET"], "sign");
    let mut headers = stdout(&signed);
    headers.push_str(&format!("X-Api-Key: {ENV_SECRET}\n"));
    let headers = file.write("headers.txt", headers.as_bytes());
    let sent = file.write("sent.json", body_sent);
    let now = now.to_string();
    let verify = verify_args(config, path(&headers), path(&sent), &["--now", &now]);
    hookguard(&verify, &env)
}

const BODY: &[u8] = br#"{"id":"evt_1","type":"charge.succeeded"}"#;

#[test]
fn sign_output_fed_to_verify_exits_0_and_a_tampered_body_exits_2() {
    let file = rotation_config();
    let ts = NOW_S.to_string();
    let ok = sign_then_verify(&file, &["--timestamp", &ts], BODY, NOW_S);
    assert_exit(&ok, 0, "verify of what sign printed");
    assert!(
        stdout(&ok).contains("valid: secret key-2026,stripe-new"),
        "{}",
        stdout(&ok)
    );
    assert_no_secret(&ok, &["SEKRET-inline", "SEKRET-from-file"], "verify");
    let old = sign_then_verify(
        &file,
        &["--timestamp", &ts, "--secret", "stripe-old"],
        BODY,
        NOW_S,
    );
    assert_exit(&old, 0, "verify with the old secret");
    assert!(stdout(&old).contains("stripe-old"), "{}", stdout(&old));
    let tampered = br#"{"id":"evt_1","type":"charge.refunded"}"#;
    let bad = sign_then_verify(&file, &["--timestamp", &ts], tampered, NOW_S);
    assert_exit(&bad, 2, "verify of a tampered body");
    assert!(stdout(&bad).contains("invalid"), "{}", stdout(&bad));
    let said = stdout(&bad);
    assert!(
        said.contains("header `stripe-signature`: `t=<timestamp>,v1=<lowercase hex HMAC-SHA256>`")
            && said.contains("here present")
            && said.contains("signed bytes: {timestamp}.{body}"),
        "verify explains what it read and expected: {said}"
    );
    assert_no_secret(&bad, &["SEKRET-inline", "SEKRET-from-file"], "verify");
}

#[test]
fn verify_now_fixes_the_clock_for_the_tolerance_check() {
    let file = rotation_config();
    let ts = NOW_S.to_string();
    for (now, code) in [
        (NOW_S + 300, 0),
        (NOW_S - 300, 0),
        (NOW_S + 301, 2),
        (NOW_S - 301, 2),
    ] {
        // stripe-old is active on both sides of NOW_S; stripe-new only from NOW_S on.
        let args = ["--timestamp", ts.as_str(), "--secret", "stripe-old"];
        let out = sign_then_verify(&file, &args, BODY, now);
        assert_exit(&out, code, &format!("--now {now}"));
        if code == 2 {
            assert!(stdout(&out).contains("stale"), "{}", stdout(&out));
        }
    }
}

#[test]
fn a_bad_config_exits_64_naming_file_line_and_column() {
    let yaml = one_route(
        "tolerance: forever",
        "scheme: github\nsecrets: [{id: a, value: SEKRET-bad}]",
    );
    let file = ConfigFile::new(&yaml);
    let body = file.write("body", b"{}");
    let config = path(&file.path);
    let at = format!("{config}:6:16: ");
    for args in [
        vec!["check", "--config", config],
        vec!["sign", "--config", config, "--route", "r"],
        verify_args(config, path(&body), path(&body), &[]),
    ] {
        let out = hookguard(&args, &[]);
        assert_exit(&out, 64, &args.join(" "));
        assert!(stderr(&out).contains(&at), "want {at} in {}", stderr(&out));
        assert_no_secret(&out, &["SEKRET"], &args.join(" "));
    }
}

#[test]
fn bad_arguments_exit_64_not_2() {
    let file = rotation_config();
    let config = path(&file.path);
    for args in [
        vec![],
        vec!["frobnicate"],
        vec!["check", "--no-such-flag"],
        vec!["sign", "--config", config],
        verify_args(config, config, config, &["--now", "noon"]),
        vec!["gen-secret", "--scheme", "nope"],
        vec!["--log-format", "xml", "check", "--config", config],
    ] {
        let out = hookguard(&args, &[("HG_TEST_API_KEY", ENV_SECRET)]);
        assert_exit(&out, 64, &format!("hookguard {}", args.join(" ")));
        assert!(!stderr(&out).is_empty(), "{args:?}: says why");
    }
}

#[test]
fn help_and_version_exit_0() {
    for args in [vec!["--help"], vec!["sign", "--help"], vec!["--version"]] {
        let out = hookguard(&args, &[]);
        assert_exit(&out, 0, &args.join(" "));
        assert!(!stdout(&out).is_empty(), "{args:?} prints to stdout");
    }
    assert!(stdout(&hookguard(&["--help"], &[])).contains("gen-secret"));
}

#[test]
fn gen_secret_for_svix_prints_one_whsec_line_that_works_as_a_secret() {
    use base64::Engine;
    let out = hookguard(&["gen-secret", "--scheme", "svix"], &[]);
    assert_exit(&out, 0, "gen-secret");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let secret = lines[0];
    let b64 = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    assert!(key.len() >= 24, "{} key bytes", key.len());
    let again = stdout(&hookguard(&["gen-secret", "--scheme", "svix"], &[]));
    assert_ne!(again.trim(), secret, "each secret is fresh");

    let verify = format!("scheme: svix\nsecrets:\n  - id: fresh\n    value: \"{secret}\"");
    let file = ConfigFile::new(&one_route("", &verify));
    let ts = NOW_S.to_string();
    let out = sign_then_verify(&file, &["--timestamp", &ts, "--id", "msg_1"], BODY, NOW_S);
    assert_exit(&out, 0, "verify with the generated secret");
    assert!(stdout(&out).contains("secret fresh"), "{}", stdout(&out));
    assert_no_secret(&out, &[secret, b64], "verify");
}

/// `hookguard run --config PATH` in the background, its output captured.
fn spawn_run(config: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(["run", "--config", path(config)])
        .env_remove("HOOKGUARD_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hookguard starts")
}

#[test]
fn run_exits_1_when_the_listen_port_is_taken_even_by_another_hookguard() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    let yaml = one_route(
        "",
        "scheme: github\nsecrets:\n  - id: a\n    value: \"SEKRET-port\"",
    )
    .replace(
        "listen: \"127.0.0.1:0\"",
        &format!("listen: \"127.0.0.1:{port}\""),
    );
    let file = ConfigFile::new(&yaml);
    // A plain listener holds the port.
    let out = hookguard(&["run", "--config", path(&file.path)], &[]);
    assert_exit(&out, 1, "port held by a plain listener");
    assert!(
        stderr(&out).contains("cannot bind listen"),
        "{}",
        stderr(&out)
    );
    drop(held);
    // Another hookguard holds it: its per-worker SO_REUSEPORT sockets must not let a second
    // instance share the port.
    let mut first = spawn_run(&file.path);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "first hookguard never listened"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Bounded: without the exclusivity check the second instance would serve forever.
    let mut second = spawn_run(&file.path);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while second.try_wait().expect("wait").is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let still_running = second.try_wait().expect("wait").is_none();
    if still_running {
        let _ = second.kill();
    }
    let out = second.wait_with_output().expect("output");
    let _ = first.kill();
    let _ = first.wait();
    assert!(!still_running, "a second hookguard shared the port");
    assert_exit(&out, 1, "port held by another hookguard");
    assert_no_secret(&out, &["SEKRET-port"], "run");
}

#[test]
fn schemes_lists_every_catalogue_row_with_its_docs_and_json_for_tools() {
    let out = hookguard(&["schemes"], &[]);
    assert_exit(&out, 0, "schemes");
    let text = stdout(&out);
    let rows = hookguard::verify::catalogue::rows();
    assert_eq!(text.lines().count(), rows.len(), "{text}");
    for row in rows {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(row.id.as_str()))
            .unwrap_or_else(|| panic!("`{}` not listed", row.id));
        assert!(
            line.contains(row.kind.as_str()) && line.ends_with(&row.docs),
            "{line}"
        );
    }
    let json = hookguard(&["schemes", "--json"], &[]);
    assert_exit(&json, 0, "schemes --json");
    let parsed: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("valid JSON");
    let ids: Vec<&str> = parsed
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids.len(), rows.len());
    assert!(ids.contains(&"stripe") && ids.contains(&"svix"), "{ids:?}");
}

/// A generic HMAC route that signs method, URL (public_url + path and query) and body.
fn url_signed_config(public_url: &str) -> ConfigFile {
    let verify = "scheme: hmac\nheader: X-Sig\nencoding: base64\npayload: \"{method} {url}\\n{body}\"\nsecrets:\n  - id: u1\n    value: \"url-SEKRET\"";
    ConfigFile::new(&one_route(public_url, verify))
}

#[test]
fn sign_and_verify_take_the_url_and_method_a_url_signed_scheme_covers() {
    let file = url_signed_config("public_url: https://hooks.example.com");
    let body = file.write("body.json", BODY);
    let config = path(&file.path);
    let url = "https://hooks.example.com/hook/in?shop=a";
    let signed = hookguard(
        &[
            "sign",
            "--config",
            config,
            "--route",
            "r",
            "--body",
            path(&body),
            "--url",
            url,
            "--method",
            "PUT",
        ],
        &[],
    );
    assert_exit(&signed, 0, "sign --url");
    assert_no_secret(&signed, &["url-SEKRET"], "sign");
    let headers = file.write("headers.txt", stdout(&signed).as_bytes());
    let (h, b) = (path(&headers), path(&body));
    let verdict = |more: &[&str]| hookguard(&verify_args(config, h, b, more), &[]);
    for (url, method, code, what) in [
        (url, "PUT", 0, "same URL and method"),
        (
            "https://hooks.example.com/hook/in?shop=b",
            "PUT",
            2,
            "another query",
        ),
        (url, "POST", 2, "another method"),
        (
            "https://evil.example.com/hook/in?shop=a",
            "PUT",
            2,
            "another host",
        ),
    ] {
        assert_exit(&verdict(&["--url", url, "--method", method]), code, what);
    }
}

#[test]
fn a_url_signed_route_without_public_url_is_refused_by_check() {
    let file = url_signed_config("");
    let out = hookguard(&["check", "--config", path(&file.path)], &[]);
    assert_exit(&out, 64, "check without public_url");
    assert!(stderr(&out).contains("public_url"), "{}", stderr(&out));
    let bad = url_signed_config("public_url: https://hooks.example.com/webhooks");
    let out = hookguard(&["check", "--config", path(&bad.path)], &[]);
    assert_exit(&out, 64, "public_url with a path");
    assert!(
        stderr(&out).contains("must not carry a path"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_check_that_fails_to_compile_names_the_schemes_documentation() {
    let file = ConfigFile::new(&one_route(
        "",
        "scheme: paddle\nheader: X-Sig\nsecrets:\n  - id: p\n    value: \"pdl_SEKRET\"",
    ));
    let out = hookguard(&["check", "--config", path(&file.path)], &[]);
    assert_exit(&out, 64, "header on paddle");
    let err = stderr(&out);
    assert!(
        err.contains("https://developer.paddle.com/webhooks/signature-verification"),
        "{err}"
    );
    assert_no_secret(&out, &["pdl_SEKRET"], "check");
}

#[test]
fn gen_secret_writes_each_providers_native_form() {
    for (scheme, check) in [
        (
            "svix",
            (|s: &str| s.starts_with("whsec_")) as fn(&str) -> bool,
        ),
        ("adyen", |s: &str| {
            s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
        }),
        ("airtable", |s: &str| s.len() == 44 && s.ends_with('=')),
        ("basic", |s: &str| s.starts_with("hookguard:")),
    ] {
        let out = hookguard(&["gen-secret", "--scheme", scheme], &[]);
        assert_exit(&out, 0, scheme);
        let secret = stdout(&out);
        assert!(check(secret.trim()), "{scheme}: {secret}");
    }
    assert_exit(
        &hookguard(&["gen-secret", "--scheme", "nope"], &[]),
        64,
        "unknown scheme",
    );
}

#[test]
fn the_example_config_passes_check_with_its_secrets_provided() {
    let text = include_str!("../../config.example.yaml");
    let file = ConfigFile::new(text);
    std::fs::create_dir_all(file.dir.path().join("secrets")).expect("secrets dir");
    file.write("secrets/expedia-old", b"old-expedia-secret\n");
    let env = [
        ("EXPEDIA_API_KEY", "k"),
        ("EXPEDIA_SECRET", "e"),
        ("STRIPE_WEBHOOK_SECRET", "whsec_s"),
        ("GITHUB_WEBHOOK_SECRET", "g"),
        ("PADDLE_WEBHOOK_SECRET", "pdl"),
        ("MIGRATING_WHSEC", "whsec_aGVsbG8gd29ybGQ="),
        ("MIGRATING_BASIC", "user:password"),
        ("PARTNER_URL_SECRET", "u"),
        ("PARTNER_SECRET_HEX", "a1b2c3"),
    ];
    let out = hookguard(&["check", "--config", path(&file.path)], &env);
    assert_exit(&out, 0, "config.example.yaml");
    let text = stdout(&out);
    for route in [
        "expedia",
        "stripe",
        "github",
        "paddle",
        "partner-migrating",
        "partner-url",
        "partner",
    ] {
        assert!(text.contains(&format!("route {route} ")), "{route}: {text}");
    }
}
