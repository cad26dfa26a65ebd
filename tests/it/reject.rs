//! What never reaches the upstream, and what the client learns about it: 404 without a route,
//! 401 for every rejection reason with one fixed JSON body, 502 when the upstream is down.

// Helpers unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use http::{HeaderMap, StatusCode};

use crate::net::*;

/// Route `expedia` (Expedia scheme, secret `eg-1`) and route `expired` (a secret that expired
/// in 2020), both to `upstream`.
fn config(upstream: &str) -> String {
    format!(
        "listen: \"127.0.0.1:0\"\nroutes:
  - name: expedia
    path: /webhooks/expedia
    upstream: {upstream}
    verify:
      scheme: expedia
      secrets: [{{id: eg-1, value: expedia-secret-value}}]
  - name: expired
    path: /webhooks/old
    upstream: {upstream}
    verify:
      scheme: expedia
      secrets: [{{id: eg-0, value: expired-secret-value, expires: 2020-01-01T00:00:00Z}}]
"
    )
}

/// Asserts a short JSON error body `{"error":"<phrase>"}` and returns the phrase.
fn error_phrase(headers: &HeaderMap, body: &[u8]) -> String {
    assert_eq!(headers.get("content-type").unwrap(), "application/json");
    let value: serde_json::Value = serde_json::from_slice(body).expect("JSON body");
    let object = value.as_object().expect("a JSON object");
    assert_eq!(object.len(), 1, "{value}");
    object["error"]
        .as_str()
        .expect("a string phrase")
        .to_owned()
}

#[tokio::test]
async fn answers_404_when_no_route_matches() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    for path in [
        "/",
        "/other",
        "/webhooks",
        "/webhooks/expediax",
        "/webhooks/expedia-old/x",
    ] {
        let (status, headers, body) = post(&format!("{}{path}", proxy.url()), &[], "{}").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        error_phrase(&headers, &body);
    }
    assert_eq!(up.count(), 0);
    assert_eq!(requests_total(&proxy, "no_route").await, 5.0);
}

#[tokio::test]
async fn answers_404_for_a_host_bound_route_under_another_host() {
    let up = Upstream::start().await;
    let yaml = format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n  - name: bound\n    path: /hook\n    host: hooks.example.com\n    upstream: {}\n    verify: {{scheme: api-key, secrets: [{{id: a, value: key-a}}]}}\n",
        up.url()
    );
    let proxy = Proxy::start(&yaml, &[]).await;
    let url = format!("{}/hook", proxy.url());
    let with_host = |host: &str| hdrs(&[("Host", host), ("x-api-key", "key-a")]);
    assert_eq!(
        post(&url, &with_host("other.example.com"), "").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        post(&url, &hdrs(&[("x-api-key", "key-a")]), "").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(up.count(), 0);
    assert_eq!(
        post(&url, &with_host("HOOKS.example.com:8443"), "").await.0,
        StatusCode::OK
    );
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn answers_401_for_every_rejection_reason_with_one_body_that_names_nothing() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    let body = br#"{"booking":"B-1"}"#;
    let now = now_s();
    let fresh = proxy.sign("expedia", None, body, now);
    let stale = proxy.sign("expedia", None, body, now - 600);
    let tampered = proxy.sign("expedia", None, b"{\"booking\":\"B-2\"}", now);
    let mut twice = fresh.clone();
    twice.push(fresh[1].clone());
    let expired = proxy.sign("expired", None, body, now);
    let cases = [
        ("missing", "/webhooks/expedia", Vec::new()),
        ("malformed", "/webhooks/expedia", twice),
        ("invalid", "/webhooks/expedia", tampered),
        ("stale", "/webhooks/expedia", stale),
        ("no_active_secret", "/webhooks/old", expired),
    ];
    let mut bodies = BTreeSet::new();
    for (reason, path, headers) in &cases {
        let (status, resp_headers, resp) =
            post(&format!("{}{path}", proxy.url()), headers, &body[..]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{reason}");
        let phrase = error_phrase(&resp_headers, &resp);
        for leak in [
            "eg-",
            "secret",
            "signature",
            "timestamp",
            "stale",
            "missing",
            "malformed",
            "invalid",
            "expired",
            "active",
        ] {
            assert!(!phrase.contains(leak), "{reason}: {phrase:?} says {leak}");
        }
        bodies.insert(resp.to_vec());
    }
    assert_eq!(bodies.len(), 1, "the body differs by reason: {bodies:?}");
    assert_eq!(up.count(), 0);
    // The reason goes to the metrics instead.
    let metrics = proxy.metrics().await;
    for (reason, path, _) in &cases {
        let route = if path.ends_with("old") {
            "expired"
        } else {
            "expedia"
        };
        let n = metric_value(
            &metrics,
            "hookguard_verifications_total",
            &[("route", route), ("result", reason)],
        );
        assert_eq!(n, 1.0, "{reason}\n{metrics}");
    }
    assert_eq!(requests_total(&proxy, "rejected").await, 5.0);
    // The same signature, fresh, passes: the rejections were about the request.
    assert_eq!(
        post(
            &format!("{}/webhooks/expedia", proxy.url()),
            &fresh,
            &body[..]
        )
        .await
        .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn answers_502_when_the_upstream_is_down() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let proxy = Proxy::start(&config(&down), &[]).await;
    let signed = proxy.sign("expedia", None, b"{}", now_s());
    let (status, headers, body) =
        post(&format!("{}/webhooks/expedia", proxy.url()), &signed, "{}").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let phrase = error_phrase(&headers, &body);
    assert!(!phrase.contains("127.0.0.1"), "{phrase}");
    assert_eq!(requests_total(&proxy, "upstream_error").await, 1.0);
}
