//! Handshake config: `verify_token:` (from `value`, `env` or `file`) lets hookguard answer the
//! challenges that need one (without it they go the ordinary way), is refused where no
//! handshake uses it, and is never printed: not in config errors, not in `Debug`, not in logs; and the request
//! line logs an answered handshake with outcome `handshake`.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use http::StatusCode;

use crate::handshakes::{case, genuine, start};
use crate::net::{hdrs, post};
use crate::support::{one_route, ConfigFile};

const TOKEN: &str = "Vt0k3n-Qz8-meta-verify";

fn check(scheme: &str, extra: &str) -> String {
    one_route(
        "",
        &format!("scheme: {scheme}\nsecrets:\n  - id: a\n    value: app-secret\n{extra}"),
    )
}

fn error(yaml: &str) -> String {
    let file = ConfigFile::new(yaml);
    match file.load() {
        Ok(_) => panic!("should not load:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn without_a_verify_token_a_token_challenge_is_not_answered_and_goes_the_ordinary_way() {
    for scheme in [
        "facebook-graph-api",
        "facebook-messenger",
        "instagram",
        "whatsapp",
        "oura",
        "airship",
    ] {
        ConfigFile::new(&check(scheme, "")).load().unwrap();
        ConfigFile::new(&check(scheme, "handshake: forward\n"))
            .load()
            .unwrap();
        let with_token = check(scheme, &format!("verify_token:\n  value: {TOKEN}\n"));
        ConfigFile::new(&with_token).load().unwrap();
    }
    let mut meta = genuine()
        .into_iter()
        .find(|c| c.scheme == "whatsapp")
        .unwrap();
    meta.check_extra = "";
    let (proxy, up) = start(&meta, "").await;
    let (status, _, body) = meta.send(&proxy).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body:?}");
    assert_eq!(up.count(), 0);
    assert_eq!(
        crate::handshakes::handshakes_total(&proxy, "whatsapp").await,
        0.0
    );
}

#[test]
fn handshake_and_verify_token_are_refused_where_the_scheme_has_no_use_for_them() {
    let cases = [
        (
            check("github", "handshake: forward\n"),
            "`handshake` does not apply to this scheme",
        ),
        (
            check("slack", &format!("verify_token:\n  value: {TOKEN}\n")),
            "`verify_token` does not apply",
        ),
        (
            check("zoom", "handshake: answer\n"),
            "`handshake` can only be `forward`",
        ),
        (
            check(
                "whatsapp",
                &format!("verify_token:\n  value: {TOKEN}\n  env: HOME\n"),
            ),
            "exactly one of `value`, `env` or `file`",
        ),
        (
            check(
                "whatsapp",
                "verify_token:\n  env: HOOKGUARD_TEST_NO_SUCH_TOKEN_5C\n",
            ),
            "`HOOKGUARD_TEST_NO_SUCH_TOKEN_5C` is not set",
        ),
        (
            check("whatsapp", "verify_token:\n  file: no-such-token-file\n"),
            "cannot read verify_token file",
        ),
        (
            check("whatsapp", "verify_token:\n  value: \"  \"\n"),
            "`verify_token` is empty",
        ),
    ];
    for (yaml, words) in cases {
        let message = error(&yaml);
        assert!(message.contains(words), "{words}: {message}");
        assert!(!message.contains(TOKEN), "{message}");
        assert!(message.contains("hookguard.yaml:"), "{message}");
    }
}

#[test]
fn a_verify_token_is_read_from_env_or_file_and_never_shown_in_debug_output() {
    let env = "HOOKGUARD_TEST_META_VERIFY_TOKEN_8D";
    std::env::set_var(env, TOKEN);
    let from_env = ConfigFile::new(&check(
        "whatsapp",
        &format!("verify_token:\n  env: {env}\n"),
    ));
    let from_file = ConfigFile::new(&check("whatsapp", "verify_token:\n  file: token.txt\n"));
    from_file.write("token.txt", format!("{TOKEN}\n").as_bytes());
    for file in [from_env, from_file] {
        let snapshot = file.load().unwrap();
        let route = snapshot.route_named("r").unwrap();
        let token = route.checks[0]
            .handshake
            .as_ref()
            .unwrap()
            .verify_token
            .as_ref()
            .unwrap();
        assert_eq!(token.expose(), TOKEN.as_bytes());
        assert!(!format!("{snapshot:?}").contains(TOKEN));
        assert!(!format!("{snapshot:#?}").contains(TOKEN));
    }
}

/// Log lines written while it lives, from this thread (the test's current-thread runtime
/// runs the proxy's tasks too).
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn an_answered_handshake_is_logged_on_the_request_line_and_no_token_ever_is() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || Capture(sink.clone()))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut meta = genuine()
        .into_iter()
        .find(|c| c.scheme == "whatsapp")
        .unwrap();
    meta.check_extra = "verify_token:\n  value: meatyhamhock\n";
    let (proxy, _up) = start(&meta, "").await;
    assert_eq!(meta.send(&proxy).await.0, StatusCode::OK);
    meta.path = meta.path.replace("meatyhamhock", "wr0ng-guess-71");
    assert_eq!(meta.send(&proxy).await.0, StatusCode::FORBIDDEN);
    let airship = genuine()
        .into_iter()
        .find(|c| c.scheme == "airship")
        .unwrap();
    let (proxy, _up) = start(&airship, "").await;
    assert_eq!(airship.send(&proxy).await.0, StatusCode::OK);
    let notion_token = "secret_N0t10nT0kenNeverLogged";
    let body = format!(r#"{{"verification_token":"{notion_token}"}}"#);
    let (proxy, _up) = start(&case("notion", "POST", "/hook", body.as_bytes()), "").await;
    let json = hdrs(&[("content-type", "application/json")]);
    assert_eq!(
        post(&format!("{}/hook", proxy.url()), &json, body).await.0,
        StatusCode::OK
    );

    let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
    let requests: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["fields"]["message"] == "request")
        .collect();
    let outcomes: Vec<(&str, &str, u64)> = requests
        .iter()
        .map(|v| {
            let f = &v["fields"];
            (
                f["outcome"].as_str().unwrap(),
                f["reason"].as_str().unwrap(),
                f["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("handshake", "verify_token", 200),
            ("rejected", "invalid", 403),
            ("handshake", "valid", 200),
            ("forwarded", "missing", 200)
        ],
        "{text}"
    );
    for secret in [
        "meatyhamhock",
        "wr0ng-guess-71",
        "559384cd-6284-4e3e-9e4e-7c260019a251",
        notion_token,
        "1158201444",
    ] {
        assert!(!text.contains(secret), "{secret} logged:\n{text}");
    }
}
