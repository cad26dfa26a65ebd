//! Replay protection shared by two replicas (two in-process servers, each with its own `App`)
//! through one real `redis-server`: a delivery reaches the upstream once however it is sent,
//! a failed delivery is delivered on the retry, and a Redis that is down, frozen or restarted
//! gives `on_store_error`'s answer and recovers without restarting hookguard.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::net::*;
use crate::redis_server::RedisServer;

/// A GitHub-signed route `gh` at `/hook` with `replay:` on `store`; `replay_extra` adds
/// keys under `replay:` (each line indented by six spaces).
pub fn config(upstream: &str, store: &str, replay_extra: &str) -> String {
    format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n  - name: gh\n    path: /hook\n    upstream: {upstream}\n    \
         replay:\n      store: \"{store}\"\n{replay_extra}    verify:\n      scheme: github\n      \
         secrets:\n        - id: k1\n          value: s3cr3t-value\n"
    )
}

/// Posts `body`, signed for `gh`, as delivery `id` (`X-GitHub-Delivery`; none when empty).
pub async fn deliver(proxy: &Proxy, id: &str, body: &str) -> (StatusCode, HeaderMap, Bytes) {
    let mut headers = proxy.sign("gh", None, body.as_bytes(), now_s());
    if !id.is_empty() {
        headers.push(("x-github-delivery".into(), id.into()));
    }
    let url = format!("{}/hook", proxy.url());
    tokio::time::timeout(
        Duration::from_secs(10),
        post(&url, &headers, body.to_owned()),
    )
    .await
    .expect("a request with replay protection hung")
}

/// Asserts a `duplicate` answer: 200, the header, the body.
pub fn assert_duplicate(got: &(StatusCode, HeaderMap, Bytes)) {
    assert_eq!(got.0, StatusCode::OK, "{:?}", got.2);
    assert_eq!(got.1.get("x-hookguard-duplicate").unwrap(), "true");
    assert_eq!(&got.2[..], br#"{"status":"duplicate"}"#);
}

#[tokio::test]
async fn the_same_delivery_sent_to_two_replicas_reaches_the_upstream_once() {
    let redis = RedisServer::start();
    let up = Upstream::start_with(StatusCode::OK, Duration::from_millis(400)).await;
    let a = Proxy::start(&config(&up.url(), &redis.url(), ""), &[]).await;
    let b = Proxy::start(&config(&up.url(), &redis.url(), ""), &[]).await;
    // In parallel: one is forwarded, the other finds it in flight.
    let (ra, rb) = tokio::join!(deliver(&a, "d-1", "{}"), deliver(&b, "d-1", "{}"));
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let conflict = if ra.0 == StatusCode::CONFLICT {
        &ra
    } else {
        &rb
    };
    assert_eq!(&conflict.2[..], br#"{"error":"duplicate in flight"}"#);
    assert_eq!(up.count(), 1);
    // In sequence, on either replica, after it was delivered: a duplicate.
    assert_duplicate(&deliver(&a, "d-1", "{}").await);
    assert_duplicate(&deliver(&b, "d-1", "{}").await);
    // A new delivery on b, then its replay on a.
    assert_eq!(deliver(&b, "d-2", "{}").await.0, StatusCode::OK);
    assert_duplicate(&deliver(&a, "d-2", "{}").await);
    assert_eq!(up.count(), 2);
    // The 409 and the three duplicates, wherever they landed.
    let dup = [("route", "gh"), ("outcome", "duplicate")];
    let (ma, mb) = (a.metrics().await, b.metrics().await);
    let count = |m: &str| metric_value(m, "hookguard_requests_total", &dup);
    assert_eq!(count(&ma) + count(&mb), 4.0);
    let metrics = ma;
    let up_gauge = metric_value(&metrics, "hookguard_replay_store_up", &[("route", "gh")]);
    assert_eq!(up_gauge, 1.0, "{metrics}");
}

#[tokio::test]
async fn a_delivery_the_upstream_answered_500_is_delivered_on_the_retry() {
    let redis = RedisServer::start();
    let failing = Upstream::start_with(StatusCode::INTERNAL_SERVER_ERROR, Duration::ZERO).await;
    let ok = Upstream::start().await;
    let a = Proxy::start(&config(&failing.url(), &redis.url(), ""), &[]).await;
    let b = Proxy::start(&config(&ok.url(), &redis.url(), ""), &[]).await;
    let first = deliver(&a, "d-500", "{}").await;
    assert_eq!(first.0, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(first.1.get("x-hookguard-duplicate").is_none());
    // The sender retries; the load balancer picks the other replica.
    assert_eq!(deliver(&b, "d-500", "{}").await.0, StatusCode::OK);
    assert_eq!((failing.count(), ok.count()), (1, 1));
    assert_duplicate(&deliver(&a, "d-500", "{}").await);
    // An unreachable upstream (502) releases the key too.
    let mut gone = Upstream::start().await;
    gone.stop();
    let c = Proxy::start(&config("http://127.0.0.1:1", &redis.url(), ""), &[]).await;
    assert_eq!(deliver(&c, "d-502", "{}").await.0, StatusCode::BAD_GATEWAY);
    assert_eq!(deliver(&b, "d-502", "{}").await.0, StatusCode::OK);
}

#[tokio::test]
async fn with_redis_down_reject_answers_503_and_recovers_without_a_restart_keeping_its_keys() {
    let mut redis = RedisServer::start();
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url(), &redis.url(), ""), &[]).await;
    assert_eq!(deliver(&proxy, "before", "{}").await.0, StatusCode::OK);
    redis.kill();
    let down = deliver(&proxy, "during", "{}").await;
    assert_eq!(down.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(&down.2[..], br#"{"error":"replay store unavailable"}"#);
    assert_eq!(up.count(), 1);
    let metrics = proxy.metrics().await;
    let route = [("route", "gh")];
    assert!(metric_value(&metrics, "hookguard_replay_store_errors_total", &route) >= 1.0);
    assert_eq!(
        metric_value(&metrics, "hookguard_replay_store_up", &route),
        0.0
    );
    redis.restart();
    let recovered = eventually(|| deliver(&proxy, "during", "{}")).await;
    assert_eq!(recovered.0, StatusCode::OK);
    assert_eq!(up.count(), 2);
    // Recorded before the restart (append-only file): still a duplicate after it.
    assert_duplicate(&deliver(&proxy, "before", "{}").await);
    let metrics = proxy.metrics().await;
    assert_eq!(
        metric_value(&metrics, "hookguard_replay_store_up", &route),
        1.0
    );
}

/// Retries `call` while it answers 503 (the store reconnecting), for up to 10 s.
async fn eventually<F, Fut>(mut call: F) -> (StatusCode, HeaderMap, Bytes)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (StatusCode, HeaderMap, Bytes)>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = call().await;
        if got.0 != StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn with_redis_down_allow_forwards_unrecorded() {
    let mut redis = RedisServer::start();
    let up = Upstream::start().await;
    let allow = "      on_store_error: allow\n";
    let proxy = Proxy::start(&config(&up.url(), &redis.url(), allow), &[]).await;
    redis.kill();
    assert_eq!(deliver(&proxy, "d-1", "{}").await.0, StatusCode::OK);
    // Unrecorded: the same delivery again is forwarded again.
    assert_eq!(deliver(&proxy, "d-1", "{}").await.0, StatusCode::OK);
    assert_eq!(up.count(), 2);
    let metrics = proxy.metrics().await;
    let errors = metric_value(&metrics, "hookguard_replay_store_errors_total", &[]);
    assert!(errors >= 2.0, "{metrics}");
}

#[tokio::test]
async fn a_frozen_redis_gets_no_request_stuck_past_the_store_bound() {
    let redis = RedisServer::start();
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url(), &redis.url(), ""), &[]).await;
    let allow = Proxy::start(
        &config(&up.url(), &redis.url(), "      on_store_error: allow\n"),
        &[],
    )
    .await;
    assert_eq!(deliver(&proxy, "warm", "{}").await.0, StatusCode::OK);
    assert_eq!(deliver(&allow, "warm-2", "{}").await.0, StatusCode::OK);
    redis.freeze(true);
    // Connections stay open and nothing answers: each call gives up at its bound.
    let (frozen, allowed) =
        tokio::join!(deliver(&proxy, "d-1", "{}"), deliver(&allow, "d-2", "{}"));
    redis.freeze(false);
    assert_eq!(frozen.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(allowed.0, StatusCode::OK);
    assert_eq!(up.count(), 3);
    let recovered = eventually(|| deliver(&proxy, "d-1", "{}")).await;
    assert_eq!(recovered.0, StatusCode::OK);
}

#[tokio::test]
async fn keys_are_scoped_by_route_in_a_shared_redis() {
    let redis = RedisServer::start();
    let up = Upstream::start().await;
    let one = config(&up.url(), &redis.url(), "");
    let other = one.replace("name: gh", "name: gh2");
    let a = Proxy::start(&one, &[]).await;
    let b = Proxy::start(&other, &[]).await;
    assert_eq!(deliver(&a, "same", "{}").await.0, StatusCode::OK);
    let mut headers = b.sign("gh2", None, b"{}", now_s());
    headers.push(("x-github-delivery".into(), "same".into()));
    let (status, _, _) = post(&format!("{}/hook", b.url()), &headers, "{}").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(up.count(), 2);
    let keys = redis.reply("KEYS hookguard:replay:*");
    assert!(keys.contains("hookguard:replay:gh:"), "{keys}");
    assert!(keys.contains("hookguard:replay:gh2:"), "{keys}");
    assert!(
        !keys.contains("same"),
        "keys are digests, not raw ids: {keys}"
    );
}

#[tokio::test]
async fn a_reload_that_keeps_the_store_url_keeps_the_redis_connection() {
    let redis = RedisServer::start();
    let up = Upstream::start().await;
    let yaml = config(&up.url(), &redis.url(), "");
    let proxy = Proxy::start_reloading(&yaml, &[]).await;
    assert_eq!(deliver(&proxy, "d-1", "{}").await.0, StatusCode::OK);
    let before = client_ids(&redis);
    assert!(!before.is_empty());
    let longer = yaml.replace("      store:", "      window: 1h\n      store:");
    std::fs::write(&proxy.config, longer).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.app.shared.load().routes[0]
        .replay
        .as_ref()
        .unwrap()
        .window
        != Duration::from_secs(3600)
    {
        assert!(Instant::now() < deadline, "reload not applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(deliver(&proxy, "d-2", "{}").await.0, StatusCode::OK);
    assert_duplicate(&deliver(&proxy, "d-1", "{}").await);
    assert_eq!(
        client_ids(&redis),
        before,
        "the reload opened a new connection"
    );
}

/// Ids of the clients connected to `redis`, this inspecting connection left out.
fn client_ids(redis: &RedisServer) -> Vec<String> {
    let list = redis.reply("CLIENT LIST");
    let mut ids: Vec<String> = list
        .lines()
        .filter(|l| !l.contains("cmd=client"))
        .filter_map(|l| l.split_whitespace().find_map(|f| f.strip_prefix("id=")))
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_request_cut_off_by_the_shutdown_drain_limit_releases_its_claim() {
    let redis = RedisServer::start();
    let slow = Upstream::start_with(StatusCode::OK, Duration::from_secs(5)).await;
    let ok = Upstream::start().await;
    let mut a = Proxy::start(&config(&slow.url(), &redis.url(), ""), &[]).await;
    let b = Proxy::start(&config(&ok.url(), &redis.url(), ""), &[]).await;
    a.app.set_drain_timeout(Duration::from_millis(300));
    let headers = {
        let mut h = a.sign("gh", None, b"{}", now_s());
        h.push(("x-github-delivery".into(), "d-cut".into()));
        h
    };
    let url = format!("{}/hook", a.url());
    let first = tokio::spawn(async move { post(&url, &headers, "{}").await });
    let deadline = Instant::now() + Duration::from_secs(5);
    while slow.count() == 0 {
        assert!(Instant::now() < deadline, "never forwarded");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(deliver(&b, "d-cut", "{}").await.0, StatusCode::CONFLICT);
    a.shutdown();
    let task = a.task.take().unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    let cut = tokio::time::timeout(Duration::from_secs(5), first)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cut.0, StatusCode::SERVICE_UNAVAILABLE);
    // The sender's retry, on the replica still running: delivered, not 409.
    let retry = deliver(&b, "d-cut", "{}").await;
    assert_eq!(retry.0, StatusCode::OK);
    assert!(retry.1.get("x-hookguard-duplicate").is_none());
    assert_eq!(ok.count(), 1);
}
