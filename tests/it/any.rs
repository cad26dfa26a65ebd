//! `any:` checks (contract section 10): a sender migrating from Basic auth to a signature keeps
//! working through the switch; every option is tried and counted; the passing options' secret
//! ids, in config order, make `x-hookguard-secret-id`; fewer than two options is a config error.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hookguard::verify::{Reason, Request};
use http::StatusCode;

use crate::net::{hdrs, metric_value, post, Proxy, Upstream};
use crate::support::{headers, load_yaml, one_route, verify_route, ConfigFile, NOW_S};

const MIGRATION: &str = "any:
  - scheme: github
    secrets:
      - id: hmac-new
        value: \"new-signing-secret\"
  - scheme: basic
    secrets:
      - id: basic-old
        value: \"sender:old-password\"";

fn github_sig(body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"new-signing-secret").expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn basic(user_pass: &str) -> String {
    format!("Basic {}", STANDARD.encode(user_pass))
}

fn outcome(pairs: &[(&str, String)], body: &[u8]) -> Result<String, Reason> {
    let snap = load_yaml(&one_route("", MIGRATION));
    let map = headers(pairs);
    let req = Request {
        chunks: &[],
        method: "POST",
        path: "/hook",
        headers: &map,
        body,
    };
    verify_route(&snap, "r", &req, NOW_S * 1000)
        .map(|v| v.secret_ids.join(","))
        .map_err(|r| r.reason)
}

#[test]
fn either_protocol_passes_during_a_migration_and_both_name_both_secrets() {
    let body = b"{\"event\":\"push\"}";
    let sig = ("x-hub-signature-256", github_sig(body));
    let auth = ("authorization", basic("sender:old-password"));
    assert_eq!(
        outcome(std::slice::from_ref(&sig), body).as_deref(),
        Ok("hmac-new")
    );
    assert_eq!(
        outcome(std::slice::from_ref(&auth), body).as_deref(),
        Ok("basic-old")
    );
    assert_eq!(
        outcome(&[sig, auth], body).as_deref(),
        Ok("hmac-new,basic-old")
    );
}

#[test]
fn when_every_option_fails_the_reason_is_the_one_that_got_furthest() {
    let body = b"{}";
    assert_eq!(outcome(&[], body), Err(Reason::Missing));
    let wrong_sig = ("x-hub-signature-256", github_sig(b"other body"));
    assert_eq!(outcome(&[wrong_sig], body), Err(Reason::Invalid));
    let wrong_pass = ("authorization", basic("sender:guess"));
    assert_eq!(outcome(&[wrong_pass], body), Err(Reason::Invalid));
}

#[test]
fn an_any_inside_a_list_must_pass_with_the_other_checks() {
    let verify = format!(
        "- scheme: api-key\n  secrets:\n    - id: key\n      value: \"k-123\"\n- {}",
        MIGRATION.replace('\n', "\n  ")
    );
    let snap = load_yaml(&one_route("", &verify));
    let body = b"x";
    let with_key = headers(&[
        ("x-api-key", "k-123".to_owned()),
        ("authorization", basic("sender:old-password")),
    ]);
    let without_key = headers(&[("authorization", basic("sender:old-password"))]);
    let req = |h| Request {
        chunks: &[],
        method: "POST",
        path: "/hook",
        headers: h,
        body,
    };
    let ok = verify_route(&snap, "r", &req(&with_key), NOW_S * 1000).expect("both pass");
    assert_eq!(ok.secret_ids.join(","), "key,basic-old");
    let err = verify_route(&snap, "r", &req(&without_key), NOW_S * 1000).expect_err("key missing");
    assert_eq!((err.check, err.reason), (0, Reason::Missing));
}

#[test]
fn an_any_with_fewer_than_two_checks_or_with_its_own_fields_is_a_located_config_error() {
    let cases = [
        (
            "any:\n  - scheme: basic\n    secrets:\n      - id: a\n        value: \"u:p\"",
            "at least two checks",
        ),
        (&format!("scheme: basic\n{MIGRATION}"), "not both"),
        (
            &format!("{MIGRATION}\nsecrets:\n  - id: x\n    value: \"u:p\""),
            "does not apply to an `any:` check",
        ),
        ("secrets:\n  - id: x\n    value: \"u:p\"", "needs `scheme`"),
    ];
    for (verify, want) in cases {
        let file = ConfigFile::new(&one_route("", verify));
        let err = file.load().expect_err(want).to_string();
        assert!(err.contains(want), "{err}");
        assert!(err.contains("hookguard.yaml:"), "located: {err}");
        assert!(
            !err.contains("old-password") && !err.contains("u:p"),
            "no secret echoed: {err}"
        );
    }
}

#[tokio::test]
async fn the_proxy_forwards_either_protocol_names_the_secrets_and_counts_every_option() {
    let upstream = Upstream::start().await;
    let yaml = format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n  - name: migrate\n    path: /hook\n    upstream: {}\n    verify:\n      {}\n",
        upstream.url(),
        MIGRATION.replace('\n', "\n      ")
    );
    let proxy = Proxy::start(&yaml, &[]).await;
    let url = format!("{}/hook", proxy.url());
    let body = b"{\"n\":1}".to_vec();
    let auth = basic("sender:old-password");
    let sig = github_sig(&body);
    let only_basic = hdrs(&[("authorization", &auth)]);
    let both = hdrs(&[("authorization", &auth), ("x-hub-signature-256", &sig)]);
    for (headers, ids) in [(only_basic, "basic-old"), (both, "hmac-new,basic-old")] {
        let (status, _, _) = post(&url, &headers, body.clone()).await;
        assert_eq!(status, StatusCode::OK);
        let seen = upstream.last().expect("forwarded");
        let got = seen.headers.get("x-hookguard-secret-id");
        assert_eq!(got.and_then(|v| v.to_str().ok()), Some(ids));
    }
    let (status, _, _) = post(
        &url,
        &hdrs(&[("authorization", "Basic bm9wZTpubw==")]),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        upstream.count(),
        2,
        "the rejected delivery never reached the upstream"
    );
    let m = proxy.metrics().await;
    let count = |result: &str, id: &str| {
        metric_value(
            &m,
            "hookguard_verifications_total",
            &[("route", "migrate"), ("result", result), ("secret_id", id)],
        )
    };
    assert_eq!(count("valid", "basic-old"), 2.0);
    assert_eq!(count("valid", "hmac-new"), 1.0);
    assert_eq!(
        count("missing", ""),
        2.0,
        "the github option found no signature twice"
    );
    assert_eq!(count("invalid", ""), 1.0, "the wrong password");
    for id in ["hmac-new", "basic-old"] {
        let labels = [("route", "migrate"), ("secret_id", id)];
        assert_eq!(
            metric_value(&m, "hookguard_secret_info", &labels),
            1.0,
            "{id}: {m}"
        );
        let used = metric_value(&m, "hookguard_secret_last_used_timestamp_seconds", &labels);
        assert!(used > 1.7e9, "{id} last used: {used}");
    }
}

#[test]
fn check_lists_every_option_with_its_secrets_and_counts_them_active() {
    let snap = load_yaml(&one_route("", MIGRATION));
    let check = &snap.routes[0].checks[0];
    let ids: Vec<&str> = check.all_secrets().iter().map(|s| &*s.secret.id).collect();
    assert_eq!(ids, ["hmac-new", "basic-old"]);
    assert_eq!(check.active_secrets(NOW_S * 1000), 2);
}
