//! The real binary for the URL-signed and body-embedded schemes: a secret from
//! `gen-secret --scheme`, `sign --url --method` (headers, and for body-embedded schemes the body
//! after a blank line), then `verify --url --method` on what `sign` printed: exit 0, and 2 for
//! one flipped body byte or (URL-signed) another URL.

use std::process::{Command, Output, Stdio};

use crate::support::{one_route, ConfigFile, NOW_S};
use crate::urlbody::{Case, CASES, NONCE, PUBLIC_URL};

fn hookguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hookguard"))
        .args(args)
        .env_remove("HOOKGUARD_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("hookguard runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output, what: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}\nstdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A config for `case` whose secret came from `gen-secret --scheme`.
fn config(case: &Case) -> (ConfigFile, String) {
    let secret = ok(
        &hookguard(&["gen-secret", "--scheme", case.scheme]),
        "gen-secret",
    );
    let secret = secret.trim_end().to_owned();
    assert!(
        !secret.is_empty() && !secret.contains('\n'),
        "{}: {secret:?}",
        case.scheme
    );
    let verify = format!(
        "scheme: {}\nsecrets:\n  - id: s1\n    value: \"{secret}\"",
        case.scheme
    );
    (
        ConfigFile::new(&one_route(&format!("public_url: {PUBLIC_URL}"), &verify)),
        secret,
    )
}

/// `verify` of `headers` and `body` as sent to `url`; the exit code and stdout.
fn verify(
    file: &ConfigFile,
    case: &Case,
    url: &str,
    headers: &str,
    body: &[u8],
) -> (Option<i32>, String) {
    let headers = file.write("headers.txt", headers.as_bytes());
    let body = file.write("sent.bin", body);
    let now = NOW_S.to_string();
    let out = hookguard(&[
        "verify",
        "--config",
        file.path.to_str().unwrap_or_default(),
        "--route",
        "r",
        "--headers",
        headers.to_str().unwrap_or_default(),
        "--body",
        body.to_str().unwrap_or_default(),
        "--url",
        url,
        "--method",
        case.method,
        "--now",
        &now,
    ]);
    (out.status.code(), text(&out.stdout))
}

#[test]
fn schemes_lists_every_url_signed_and_body_embedded_id_with_its_kind() {
    let listed = ok(&hookguard(&["schemes"]), "schemes");
    for case in CASES {
        let kind = if case.signs_url() {
            "url-signed"
        } else {
            "body-embedded"
        };
        let line = listed
            .lines()
            .find(|l| l.split_whitespace().next() == Some(case.scheme))
            .unwrap_or_else(|| panic!("{} not listed:\n{listed}", case.scheme));
        assert!(line.contains(kind), "{line}");
    }
}

#[test]
fn sign_then_verify_with_url_and_method_for_every_scheme_with_a_generated_secret() {
    for case in CASES {
        let (file, secret) = config(case);
        let body = file.write("body.in", case.body.as_bytes());
        let url = format!("{PUBLIC_URL}{}", case.path);
        let stamp = NOW_S.to_string();
        let signed = hookguard(&[
            "sign",
            "--config",
            file.path.to_str().unwrap_or_default(),
            "--route",
            "r",
            "--body",
            body.to_str().unwrap_or_default(),
            "--url",
            &url,
            "--method",
            case.method,
            "--timestamp",
            &stamp,
            "--id",
            NONCE,
        ]);
        let printed = ok(&signed, case.scheme);
        assert!(
            !printed.contains(&secret) && !text(&signed.stderr).contains(&secret),
            "{}: secret printed",
            case.scheme
        );
        let (headers, sent) = match printed.split_once("\n\n") {
            Some((head, body)) => (head.to_owned(), body.as_bytes().to_vec()),
            None => (printed.clone(), case.body.as_bytes().to_vec()),
        };
        let (code, out) = verify(&file, case, &url, &headers, &sent);
        assert_eq!(code, Some(0), "{}: {out}\nsigned: {printed}", case.scheme);
        assert!(out.contains("valid: secret s1"), "{}: {out}", case.scheme);
        let at = sent
            .windows(case.signed_text.len())
            .position(|w| w == case.signed_text.as_bytes())
            .unwrap_or_else(|| panic!("{}: signed text not in the body", case.scheme));
        let mut tampered = sent.clone();
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        let (code, out) = verify(&file, case, &url, &headers, &tampered);
        assert_eq!(code, Some(2), "{}: tampered body: {out}", case.scheme);
        // The explanation names what the scheme reads and signs, never the secret.
        assert!(out.contains("signed bytes: "), "{}: {out}", case.scheme);
        let reads = if case.signs_url() {
            "header `"
        } else {
            "body field `"
        };
        assert!(out.contains(reads), "{}: {out}", case.scheme);
        assert!(
            !out.contains(&secret),
            "{}: secret in the explanation",
            case.scheme
        );
        if case.signs_url() {
            let elsewhere = format!("{url}x");
            let (code, out) = verify(&file, case, &elsewhere, &headers, &sent);
            assert_eq!(code, Some(2), "{}: another URL: {out}", case.scheme);
        }
    }
}
