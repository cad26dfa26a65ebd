//! Config errors name the file, line and column and what is wrong, and never echo a secret
//! that sits on or near the offending line. Secret files lose one trailing newline.

use hookguard::verify::Reason;

use crate::support::{headers, one_route, ConfigFile, NOW_S};

/// Every secret in these configs contains this, so one check finds any leak.
const MARK: &str = "SEKRET";

/// A route whose check is `check` and whose secrets are `secrets` (YAML list items), both
/// written without indentation. The first secret's `- id:` is on line 9, column 11.
fn config(check: &str, secrets: &str) -> String {
    let secrets: String = secrets.lines().map(|l| format!("  {l}\n")).collect();
    one_route("", &format!("{check}\nsecrets:\n{secrets}"))
}

const TWO_SECRETS: &str =
    "- id: a\n  value: \"SEKRET-first-1\"\n- id: b\n  value: \"SEKRET-second-2\"";

/// `(what, yaml, line, column, words the message must contain)`.
fn cases() -> Vec<(&'static str, String, u64, u64, &'static str)> {
    let github = |secrets: &str| config("scheme: github", secrets);
    let route = |extra: &str| {
        one_route(
            extra,
            "scheme: github\nsecrets:\n  - id: a\n    value: \"SEKRET-in-route\"",
        )
    };
    let second_route = format!(
        "{}  - name: r\n    path: /other\n    upstream: http://127.0.0.1:1\n    verify:\n      scheme: github\n      secrets: [{{id: a, value: SEKRET-dup-route}}]\n",
        github(TWO_SECRETS)
    );
    vec![
        ("a YAML syntax error", github("- id: a\n  value: \"SEKRET-syntax\" trailing: ["), 10, 34, "trailing content"),
        ("an unclosed quote", github("- id: a\n  value: \"SEKRET-open\n- id: b"), 10, 18, "unclosed quote"),
        ("a duplicate route name", second_route, 13, 5, "duplicate route name `r`"),
        ("a duplicate secret id", github(&format!("{TWO_SECRETS}\n- id: a\n  value: \"SEKRET-dup-id\"")), 13, 11, "duplicate secret id `a`"),
        ("value and env", github(&format!("{TWO_SECRETS}\n- id: c\n  value: \"SEKRET-both\"\n  env: HOME")), 13, 11, "exactly one of `value`, `env` or `file`"),
        ("no value, env or file", github(&format!("{TWO_SECRETS}\n- id: c\n  expires: 2027-01-01T00:00:00Z")), 13, 11, "exactly one of `value`, `env` or `file`"),
        ("a missing env var", github(&format!("{TWO_SECRETS}\n- id: c\n  env: HOOKGUARD_TEST_NEVER_SET_7F3A")), 13, 11, "`HOOKGUARD_TEST_NEVER_SET_7F3A` is not set"),
        ("a missing secret file", github(&format!("{TWO_SECRETS}\n- id: c\n  file: no-such-secret")), 13, 11, "cannot read secret file"),
        ("expires before not_before", github("- id: a\n  value: \"SEKRET-window\"\n  not_before: 2026-06-01T00:00:00Z\n  expires: 2026-05-01T00:00:00Z"), 12, 20, "`expires` is not after `not_before`"),
        ("an unknown scheme", config("scheme: gitlub", TWO_SECRETS), 7, 7, "unknown scheme `gitlub`"),
        ("algorithm on github", config("scheme: github\nalgorithm: sha512", TWO_SECRETS), 7, 7, "`algorithm` applies only to scheme `hmac`"),
        ("header on stripe", config("scheme: stripe\nheader: X-Sig", TWO_SECRETS), 7, 7, "`header` applies only"),
        ("secret_encoding on api-key", config("scheme: api-key\nsecret_encoding: hex", TWO_SECRETS), 7, 7, "`secret_encoding` applies only"),
        ("a bad duration", route("tolerance: 5 parsecs"), 6, 16, "`5 parsecs` is not a duration"),
        ("a bad time", github("- id: a\n  value: \"SEKRET-time\"\n  expires: 2026-13-01T00:00:00Z"), 11, 20, "is not an RFC 3339 time"),
        ("an unknown key", github("- id: a\n  value: \"SEKRET-key\"\n  expiry: 2026-01-01T00:00:00Z"), 11, 11, "unknown field `expiry`"),
        ("an upstream with a path", route("").replace(":1\n", ":1/api\n"), 3, 5, "must not carry a path"),
        ("a bad route name", route("").replace("name: r", "name: Hooks"), 3, 5, "route name `Hooks` must match [a-z0-9_-]+"),
    ]
}

#[test]
fn each_config_error_names_file_line_column_and_never_a_secret() {
    for (what, yaml, line, column, words) in cases() {
        assert!(
            yaml.contains(MARK),
            "{what}: the config should hold a secret"
        );
        let file = ConfigFile::new(&yaml);
        let err = file.load().expect_err(what).to_string();
        let at = format!("{}:{line}:{column}: ", file.path.display());
        assert!(
            err.starts_with(&at),
            "{what}: want {at}..., got {err}\n{yaml}"
        );
        assert!(err.contains(words), "{what}: want `{words}` in {err}");
        assert!(!err.contains(MARK), "{what}: secret echoed: {err}");
        assert!(
            !err.contains('\n'),
            "{what}: one line, not a snippet: {err}"
        );
    }
}

#[test]
fn a_secret_file_next_to_an_error_is_never_echoed() {
    let yaml = config(
        "scheme: github",
        "- id: a\n  file: key.txt\n  not_before: 2026-06-01T00:00:00Z\n  expires: 2026-05-01T00:00:00Z",
    );
    let file = ConfigFile::new(&yaml);
    file.write("key.txt", b"SEKRET-from-file\n");
    let err = file.load().expect_err("window is backwards").to_string();
    assert!(err.contains(":12:20: "), "{err}");
    assert!(!err.contains(MARK), "{err}");
}

#[test]
fn the_compiled_config_never_shows_a_secret_in_debug_output() {
    let yaml = config(
        "scheme: hmac\nheader: X-Sig\nsecret_encoding: hex",
        "- id: a\n  value: \"5345435245542d68657821\"\n- id: b\n  file: key.hex",
    );
    let file = ConfigFile::new(&yaml);
    file.write("key.hex", b"5345435245542d66696c65\n");
    let snapshot = file.load().expect("valid config");
    let parsed = hookguard::config::parse(&yaml, &file.path).expect("parses");
    for shown in [
        format!("{snapshot:?}"),
        format!("{snapshot:#?}"),
        format!("{parsed:?}"),
    ] {
        for secret in ["5345435245542d68657821", "5345435245542d66696c65", MARK] {
            assert!(!shown.contains(secret), "`{secret}` shown in {shown}");
        }
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}

/// The verdict for a GitHub delivery signed with `key`, against a secret read from a file
/// holding `contents`.
fn github_with_file(contents: &[u8], key: &[u8]) -> Result<(), Reason> {
    use hmac::Mac;
    let file = ConfigFile::new(&config("scheme: github", "- id: a\n  file: secret"));
    file.write("secret", contents);
    let snapshot = file.load().expect("valid config");
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(key).expect("key");
    mac.update(b"{}");
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let headers = headers(&[("X-Hub-Signature-256", sig)]);
    let req = hookguard::verify::Request {
        chunks: &[],
        method: "POST",
        path: "/hook",
        headers: &headers,
        body: b"{}",
    };
    crate::support::verify_route(&snapshot, "r", &req, NOW_S * 1000)
        .map(drop)
        .map_err(|r| r.reason)
}

#[test]
fn one_trailing_newline_in_a_secret_file_is_not_part_of_the_key() {
    assert_eq!(github_with_file(b"file-key\n", b"file-key"), Ok(()));
    assert_eq!(
        github_with_file(b"file-key\n", b"file-key\n"),
        Err(Reason::Invalid)
    );
    assert_eq!(github_with_file(b"file-key\r\n", b"file-key"), Ok(()));
    assert_eq!(github_with_file(b"file-key", b"file-key"), Ok(()));
    assert_eq!(github_with_file(b"file-key\n\n", b"file-key\n"), Ok(()));
    assert_eq!(github_with_file(b" file-key\n", b" file-key"), Ok(()));
}

#[test]
fn a_generic_timestamp_that_is_not_signed_is_refused() {
    let yaml = config(
        "scheme: hmac\nheader: X-Sig\ntimestamp_header: X-Ts\npayload: \"{body}\"",
        "- id: a\n  value: \"SEKRET-unsigned-ts\"",
    );
    let err = ConfigFile::new(&yaml)
        .load()
        .expect_err("replayable")
        .to_string();
    assert!(err.contains("does not sign {timestamp}"), "{err}");
    assert!(!err.contains("SEKRET"), "{err}");
}
