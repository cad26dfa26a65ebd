//! Where a provider's header names the key that signed (Worldpay's `keyId`, Pusher's
//! `X-Pusher-Key`), the secret with that id is the only one tried; a name no secret has falls
//! back to every active secret. And a Contentful delivery through the real proxy: the
//! canonical request covers the method, path and query exactly as the sender called them.

#![allow(clippy::unwrap_used)]

use hmac::{Hmac, Mac};
use http::StatusCode;
use sha2::Sha256;

use hookguard::verify::{Reason, Request};

use crate::net::{post, Proxy, Upstream};
use crate::support::{headers, load_yaml, one_route, verify_route, NOW_S};

fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Two secrets with ids `1` and `2` (values `key-one`, `key-two`) for `scheme`.
fn two_keys(scheme: &str) -> hookguard::config::snapshot::Snapshot {
    load_yaml(&one_route(
        "",
        &format!(
            "scheme: {scheme}\nsecrets:\n  - id: \"1\"\n    value: key-one\n  - id: \"2\"\n    value: key-two\n"
        ),
    ))
}

/// The id of the secret that verified, or why none did.
fn matched(
    snap: &hookguard::config::snapshot::Snapshot,
    hdrs: &[(&str, &str)],
    body: &[u8],
) -> Result<String, Reason> {
    let map = headers(hdrs);
    let req = Request {
        chunks: &[],
        method: "POST",
        path: "/hook",
        headers: &map,
        body,
    };
    verify_route(snap, "r", &req, NOW_S * 1000)
        .map(|v| v.secret_ids[0].to_string())
        .map_err(|r| r.reason)
}

#[test]
fn a_worldpay_key_id_picks_the_secret_of_that_id_and_an_unknown_one_tries_all() {
    let snap = two_keys("worldpay");
    let body = br#"{"eventId":"0a8b5c6d","eventDetails":{"type":"sentForSettlement"}}"#;
    let one = hmac_hex("key-one", body);
    let two = hmac_hex("key-two", body);
    let sig = |v: &str| vec![("Event-Signature", v.to_owned())];
    let check = |value: String| {
        let hdrs = sig(&value);
        let pairs: Vec<(&str, &str)> = hdrs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        matched(&snap, &pairs, body)
    };
    assert_eq!(check(format!("1/SHA256/{one}")), Ok("1".into()));
    assert_eq!(check(format!("2/SHA256/{two}")), Ok("2".into()));
    // Key 1's MAC under keyId 2 is not key 2's: only secret `2` is tried for it.
    assert_eq!(check(format!("2/SHA256/{one}")), Err(Reason::Invalid));
    assert_eq!(
        check(format!("2/SHA256/{one},1/SHA256/{one}")),
        Ok("1".into())
    );
    assert_eq!(check(format!("7/sha256/{two}")), Ok("2".into()));
    assert_eq!(check(format!("1/SHA512/{one}")), Err(Reason::Malformed));
}

#[test]
fn a_pusher_key_picks_the_app_secret_named_after_it_and_an_unknown_key_tries_all() {
    let snap = two_keys("pusher");
    let body = format!(r#"{{"time_ms":{},"events":[]}}"#, NOW_S * 1000 - 1000);
    let one = hmac_hex("key-one", body.as_bytes());
    let check = |key: &str, sig: &str| {
        matched(
            &snap,
            &[("X-Pusher-Key", key), ("X-Pusher-Signature", sig)],
            body.as_bytes(),
        )
    };
    assert_eq!(check("1", &one), Ok("1".into()));
    assert_eq!(check("2", &one), Err(Reason::Invalid));
    assert_eq!(check("278d425bdf160c739803", &one), Ok("1".into()));
    assert_eq!(
        matched(&snap, &[("X-Pusher-Signature", &one)], body.as_bytes()),
        Err(Reason::Missing)
    );
}

#[tokio::test]
async fn a_contentful_delivery_verifies_through_the_proxy_with_its_path_and_query() {
    let up = Upstream::start().await;
    let yaml = format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n  - name: cf\n    path: /hook\n    upstream: {}\n    verify:\n      scheme: contentful\n      secrets:\n        - id: space-1\n          value: q3Rk9aZT2fVw7LxNcPm4sYbE8uHgJ6dW1oKiA5tQzXrC0vUyBnMeSlGjDhFpOw3I\n",
        up.url()
    );
    let proxy = Proxy::start(&yaml, &[]).await;
    let snap = proxy.app.shared.load();
    let route = snap.route_named("cf").unwrap();
    let hookguard::verify::CheckKind::Hmac(spec) = &route.checks[0].kind else {
        panic!("contentful is an HMAC check");
    };
    let path = "/hook/entries?source=cms&env=master";
    let body = br#"{"sys":{"type":"Entry","id":"5KsDBWseXY6QegucYAoacS"}}"#;
    let ts = (hookguard::config::clock::now_ms()).to_string();
    let empty = http::HeaderMap::new();
    let delivery = hookguard::verify::sign::Delivery {
        method: "POST",
        path,
        headers: &empty,
        body,
        timestamp: &ts,
        id: "",
    };
    let mac = route.checks[0].secrets[0].mac.as_ref().unwrap();
    let signed = hookguard::verify::sign::sign(spec, mac, &delivery);
    let (status, _, resp) = post(&format!("{}{path}", proxy.url()), &signed, &body[..]).await;
    assert_eq!(status, StatusCode::OK, "{resp:?}");
    let got = up.last().unwrap();
    assert_eq!(got.uri, path);
    assert_eq!(&got.body[..], &body[..]);
    let other = "/hook/entries?source=cms&env=staging";
    let (status, _, _) = post(&format!("{}{other}", proxy.url()), &signed, &body[..]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(up.count(), 1);
}
