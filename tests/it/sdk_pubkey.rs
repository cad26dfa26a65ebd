//! The providers' own libraries against hookguard, for the public-key schemes: as the sender
//! through the real proxy (PyNaCl as Discord and Telnyx sign, `cryptography` as SendGrid signs,
//! `standardwebhooks` plus PyNaCl for a `v1,<hmac> v1a,<ed25519>` header), and as the
//! verifier of `hookguard sign --private-key` (discord-interactions' `verify_key`, telnyx's
//! `verify_webhook_signature`, sendgrid's `EventWebhook`, PyNaCl for `v1a`). The scripts are in
//! `tests/sdk/`; `.ci/run` installs the packages into `target/sdk-venv`. Without that venv the
//! tests say so loudly and pass, except in CI (`CI=true`), where a missing venv fails.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use http::StatusCode;

use crate::net::{now_s, post, Proxy, Upstream};
use crate::pubkey::{config, sender};
use crate::support::ConfigFile;

const BODY: &[u8] = br#"{"data":{"event_type":"message.received","id":"b301ed3f"},"type":2}"#;
const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// What the scripts import (telnyx only located: importing its package takes seconds).
const MODULES: &str = "import nacl, discord_interactions, sendgrid, standardwebhooks, importlib.util; assert importlib.util.find_spec('telnyx')";

/// The venv's python with every SDK importable; `None` (after a loud note) when it is absent
/// outside CI. In CI a missing venv is a failure: `.ci/run` must have installed it.
fn python() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("target/sdk-venv/bin/python");
    let works = python.exists()
        && Command::new(&python)
            .args(["-c", MODULES])
            .output()
            .is_ok_and(|o| o.status.success());
    if works {
        return Some(python);
    }
    let why = format!(
        "{} cannot import the public-key SDKs ({MODULES})",
        python.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI: {why}; .ci/run installs them");
    }
    eprintln!("\n*** SKIPPED: SDK interop for discord, telnyx, sendgrid, v1a: {why}. Run .ci/run (or its venv step) to test against the official SDKs. ***\n");
    None
}

fn run(python: &Path, script: &str, args: &[&str]) -> Output {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    Command::new(python)
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(out: &Output, what: &str) -> String {
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "{what}: {:?}\n{stdout}{stderr}",
        out.status.code()
    );
    stdout.into_owned()
}

fn pairs(text: &str) -> Vec<(String, String)> {
    let split = |l: &str| {
        l.split_once(": ")
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
    };
    text.lines().filter_map(split).collect()
}

/// Each scheme and its script in `tests/sdk/`.
const SENDERS: [(&str, &str); 4] = [
    ("discord", "discord_sdk.py"),
    ("telnyx", "telnyx_sdk.py"),
    ("sendgrid", "sendgrid_sdk.py"),
    ("standard-webhooks", "standard_webhooks_v1a_sdk.py"),
];

#[tokio::test]
async fn the_providers_libraries_as_senders_get_through_the_real_proxy_and_a_tampered_copy_gets_401(
) {
    let Some(python) = python() else { return };
    let up = Upstream::start().await;
    for (scheme, script) in SENDERS {
        let s = sender(scheme);
        // Standard Webhooks: the route holds the HMAC secret and the public key, key first.
        let mut secrets = vec![("sender-2026", s.public.as_str())];
        if scheme == "standard-webhooks" {
            secrets.push(("hmac-2026", WHSEC));
        }
        let yaml = config(scheme, &secrets).replace("http://127.0.0.1:1", &up.url());
        let key_pem = ("sender.pem", s.pem.as_bytes());
        let proxy = Proxy::start(&yaml, &[key_pem, ("body.json", BODY)]).await;
        let (key, body, ts) = (
            proxy.path("sender.pem"),
            proxy.path("body.json"),
            now_s().to_string(),
        );
        let (key, body) = (key.to_str().unwrap(), body.to_str().unwrap());
        let args = match scheme {
            "standard-webhooks" => vec!["sign", key, WHSEC, body, &ts, "msg_2kLqSdk"],
            _ => vec!["sign", key, body, &ts],
        };
        let headers = pairs(&ok(&run(&python, script, &args), scheme));
        let url = format!("{}/hook", proxy.url());
        let (status, _, _) = post(&url, &headers, BODY).await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {headers:?}");
        let got = up.last().unwrap();
        let id = got
            .headers
            .get("x-hookguard-secret-id")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(id, "sender-2026", "{scheme}: the public key verified");
        let before = up.count();
        let (status, _, _) = post(&url, &headers, &b"{}"[..]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{scheme}: tampered body");
        assert_eq!(
            up.count(),
            before,
            "{scheme}: the tampered copy never reached the upstream"
        );
    }
}

#[test]
fn hookguard_sign_with_a_private_key_verifies_with_the_providers_libraries() {
    let Some(python) = python() else { return };
    for (scheme, script) in SENDERS {
        let s = sender(scheme);
        let file = ConfigFile::new(&config(scheme, &[("k", &s.public)]));
        let key = file.write("sender.pem", s.pem.as_bytes());
        let public = file.write("public.txt", s.public.as_bytes());
        let body = file.write("body.json", BODY);
        let p = |p: &Path| p.to_str().unwrap().to_owned();
        let (cfg, body_arg, key_arg) = (p(&file.path), p(&body), p(&key));
        let args = [
            "sign",
            "--route",
            "r",
            "--config",
            &cfg,
            "--body",
            &body_arg,
            "--private-key",
            &key_arg,
        ];
        let signed = Command::new(env!("CARGO_BIN_EXE_hookguard"))
            .args(args)
            .output()
            .unwrap();
        let headers = file.write("headers.txt", ok(&signed, "hookguard sign").as_bytes());
        let verify = |body: &Path| {
            run(
                &python,
                script,
                &["verify", &p(&public), &p(&headers), &p(body)],
            )
        };
        ok(
            &verify(&body),
            &format!("{scheme}: the library verifies hookguard's signature"),
        );
        let tampered = file.write("tampered.json", b"{}");
        let out = verify(&tampered);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{scheme}: the library must reject a tampered body"
        );
    }
}

#[test]
fn every_public_key_vector_gets_the_same_verdict_from_the_providers_libraries() {
    let Some(python) = python() else { return };
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/catalogue/pubkey.jsonl");
    let out = run(&python, "pubkey_vectors.py", &[vectors.to_str().unwrap()]);
    let report = ok(&out, "pubkey_vectors.py");
    assert!(report.contains("\n0 disagreements"), "{report}");
}
