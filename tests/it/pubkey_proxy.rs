//! Public-key schemes over real sockets and through the real binary: deliveries signed with
//! the sender's private key are forwarded (naming the public key that verified them) and
//! tampered ones get 401; `hookguard sign --private-key` output passes `hookguard verify`;
//! `gen-secret` explains instead of printing a secret.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output, Stdio};

use http::StatusCode;

use crate::net::{now_s, post, Proxy, Upstream};
use crate::pubkey::{config, sender, signed_for, SCHEMES};
use crate::support::{ConfigFile, NOW_S};

const BODY: &[u8] = br#"[{"email":"a@example.com","event":"delivered","timestamp":1767225590}]"#;

#[tokio::test]
async fn the_proxy_forwards_what_the_private_key_signed_and_answers_401_to_a_tampered_copy() {
    let up = Upstream::start().await;
    let senders: Vec<_> = SCHEMES.iter().map(|s| (*s, sender(s))).collect();
    let mut yaml = String::from("listen: \"127.0.0.1:0\"\nroutes:\n");
    for (scheme, s) in &senders {
        let value = serde_json::to_string(&s.public).unwrap();
        yaml.push_str(&format!(
            "  - name: {scheme}\n    path: /{scheme}\n    upstream: {}\n    verify:\n      scheme: {scheme}\n      secrets:\n        - id: {scheme}-2026\n          value: {value}\n",
            up.url()
        ));
    }
    let proxy = Proxy::start(&yaml, &[]).await;
    let snap = proxy.app.shared.load();
    for (scheme, s) in &senders {
        let url = format!("{}/{scheme}", proxy.url());
        let headers = signed_for(&snap, scheme, &s.key, BODY, now_s());
        let (status, _, _) = post(&url, &headers, BODY).await;
        assert_eq!(status, StatusCode::OK, "{scheme}");
        let got = up.last().unwrap();
        assert_eq!(
            got.body.as_ref(),
            BODY,
            "{scheme}: body forwarded byte for byte"
        );
        let id = got.headers.get("x-hookguard-secret-id").unwrap();
        assert_eq!(id.to_str().unwrap(), format!("{scheme}-2026"));
        let before = up.count();
        let mut tampered = BODY.to_vec();
        tampered[3] ^= 0x20;
        let (status, _, _) = post(&url, &headers, tampered).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{scheme}: tampered body");
        let other = sender(scheme);
        let forged = signed_for(&snap, scheme, &other.key, BODY, now_s());
        let (status, _, _) = post(&url, &forged, BODY).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{scheme}: another key");
        assert_eq!(
            up.count(),
            before,
            "{scheme}: nothing rejected reached the upstream"
        );
    }
}

fn hookguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(args)
        .env_remove("HOOKGUARD_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(out: &Output) -> (String, String) {
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (s(&out.stdout), s(&out.stderr))
}

/// `sign --private-key` then `verify` of what it printed, for `body_sent`; returns verify's
/// output. The private key never appears in either command's output.
fn sign_then_verify(scheme: &str, key_text: &str, public: &str, body_sent: &[u8]) -> Output {
    let file = ConfigFile::new(&config(scheme, &[("sender-2026", public)]));
    let cfg = file.path.to_str().unwrap().to_owned();
    let key = file.write("sender.key", key_text.as_bytes());
    let body = file.write("body.json", BODY);
    let ts = NOW_S.to_string();
    let args = ["sign", "--config", &cfg, "--route", "r", "--timestamp", &ts];
    let mut args = args.to_vec();
    args.extend([
        "--body",
        body.to_str().unwrap(),
        "--private-key",
        key.to_str().unwrap(),
    ]);
    let signed = hookguard(&args);
    let (out, err) = text(&signed);
    assert_eq!(signed.status.code(), Some(0), "{scheme} sign: {out}{err}");
    let secret_line = key_text
        .lines()
        .find(|l| l.len() > 20 && !l.starts_with("-----"))
        .unwrap();
    assert!(
        !out.contains(secret_line) && !err.contains(secret_line),
        "{scheme}: key printed"
    );
    let headers = file.write("headers.txt", &signed.stdout);
    let sent = file.write("sent.json", body_sent);
    let (h, b) = (headers.to_str().unwrap(), sent.to_str().unwrap());
    hookguard(&[
        "verify",
        "--config",
        &cfg,
        "--route",
        "r",
        "--headers",
        h,
        "--body",
        b,
        "--now",
        &ts,
    ])
}

#[test]
fn sign_with_a_private_key_passes_verify_and_a_tampered_body_exits_2() {
    let whsk = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==";
    let whpk = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=";
    let mut cases: Vec<(String, String, String)> = SCHEMES
        .iter()
        .map(|scheme| {
            let s = sender(scheme);
            (scheme.to_string(), s.pem, s.public)
        })
        .collect();
    // The Svix README's key pair, the private key in Svix's own `whsk_` form.
    cases.push(("svix".into(), format!("{whsk}\n"), whpk.into()));
    for (scheme, key, public) in &cases {
        let out = sign_then_verify(scheme, key, public, BODY);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{scheme}: {stdout}{stderr}");
        assert!(
            stdout.contains("valid: secret sender-2026"),
            "{scheme}: {stdout}"
        );
        let out = sign_then_verify(scheme, key, public, b"[]");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{scheme} tampered: {}",
            text(&out).0
        );
    }
}

#[test]
fn sign_refuses_a_missing_or_mismatched_private_key_with_exit_64() {
    let discord = sender("discord");
    let file = ConfigFile::new(&config("discord", &[("k", &discord.public)]));
    let cfg = file.path.to_str().unwrap().to_owned();
    let out = hookguard(&["sign", "--config", &cfg, "--route", "r"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out).1.contains("pass --private-key FILE"),
        "{}",
        text(&out).1
    );
    let p256 = file.write("p256.pem", sender("sendgrid").pem.as_bytes());
    let public = file.write(
        "public.pem",
        b"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n",
    );
    for (key, said) in [
        (&p256, "verifies ed25519 signatures"),
        (&public, "is not a PKCS#8 PEM private key"),
    ] {
        let key = key.to_str().unwrap();
        let out = hookguard(&[
            "sign",
            "--config",
            &cfg,
            "--route",
            "r",
            "--private-key",
            key,
        ]);
        assert_eq!(out.status.code(), Some(64), "{key}");
        assert!(text(&out).1.contains(said), "{}", text(&out).1);
    }
}

#[test]
fn gen_secret_for_a_public_key_scheme_prints_nothing_and_explains_where_the_key_comes_from() {
    for scheme in ["discord", "telnyx", "sendgrid"] {
        let out = hookguard(&["gen-secret", "--scheme", scheme]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(64), "{scheme}");
        assert_eq!(stdout, "", "{scheme}: nothing secret-like on stdout");
        for words in [
            "no shared secret",
            "public key",
            "openssl genpkey",
            "--private-key",
        ] {
            assert!(stderr.contains(words), "{scheme}: `{words}` in {stderr}");
        }
    }
    let out = hookguard(&["gen-secret", "--scheme", "standard-webhooks"]);
    assert!(
        text(&out).0.starts_with("whsec_"),
        "symmetric Standard Webhooks secrets still work"
    );
}

#[test]
fn schemes_lists_the_public_key_rows_with_their_kind_and_headers() {
    let out = hookguard(&["schemes"]);
    let stdout = text(&out).0;
    for (id, kind, header) in [
        ("discord", "ed25519", "x-signature-ed25519"),
        ("telnyx", "ed25519", "telnyx-signature-ed25519"),
        (
            "sendgrid",
            "ecdsa-p256",
            "x-twilio-email-event-webhook-signature",
        ),
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("{id}: {stdout}"));
        assert!(line.contains(kind) && line.contains(header), "{line}");
    }
}
