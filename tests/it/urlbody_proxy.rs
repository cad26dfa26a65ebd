//! Twilio (form and `bodySHA256` JSON), Square and Mailgun deliveries through the real proxy
//! on real sockets: the signatures are computed here with the `hmac` crate from the providers'
//! documented recipes (not with hookguard's signer), the public URL differs from the socket
//! address as it does behind a load balancer, and the upstream gets the body byte for byte.

#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use http::StatusCode;
use sha2::{Digest, Sha256};

use crate::net::*;

const TWILIO_TOKEN: &str = "twilio-auth-token-0123456789abcd";
const SQUARE_KEY: &str = "Ibxx_5AKakO-3qeNVR61Dw";
const MAILGUN_KEY: &str = "key-mailgun-http-webhook-signing";
const PUBLIC: &str = "https://hooks.example.com";

fn config(upstream: &str) -> String {
    let route = |name: &str, scheme: &str, secret: &str| {
        format!(
            "  - name: {name}\n    path: /{name}\n    upstream: {upstream}\n    public_url: {PUBLIC}\n    verify:\n      scheme: {scheme}\n      secrets:\n        - id: {name}-key\n          value: \"{secret}\"\n"
        )
    };
    format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n{}{}{}",
        route("twilio", "twilio", TWILIO_TOKEN),
        route("square", "square", SQUARE_KEY),
        route("mailgun", "mailgun", MAILGUN_KEY)
    )
}

fn hmac_b64<M: Mac + hmac::digest::KeyInit>(key: &str, data: &[u8]) -> String {
    let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(data);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Posts to the proxy and returns the status; on 200 also checks what the upstream got.
async fn deliver(
    proxy: &Proxy,
    up: &Upstream,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> StatusCode {
    let before = up.count();
    let url = format!("{}{path}", proxy.url());
    let (status, _, _) = post(&url, &hdrs(headers), body.to_vec()).await;
    if status == StatusCode::OK {
        let got = up.last().unwrap();
        assert_eq!(up.count(), before + 1);
        assert_eq!(&got.body[..], body, "{path}: body forwarded byte for byte");
        assert_eq!(got.uri, path, "path and query unchanged");
        let route = path[1..].split(['/', '?']).next().unwrap();
        let id = got.headers.get("x-hookguard-secret-id").unwrap();
        assert_eq!(id.to_str().unwrap(), format!("{route}-key"));
    } else {
        assert_eq!(
            up.count(),
            before,
            "{path}: a rejected delivery reached the upstream"
        );
    }
    status
}

#[tokio::test]
async fn twilio_form_deliveries_pass_with_the_documented_signature_and_fail_tampered() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    let path = "/twilio?tenant=7";
    let body = b"To=%2B14155550199&From=%2B14155550100&Body=Hello+there&MessageSid=SM1&Body=Again";
    // The URL, then the parameters sorted by name, a repeated name's values sorted.
    let signed = format!(
        "{PUBLIC}{path}BodyAgainBodyHello thereFrom+14155550100MessageSidSM1To+14155550199"
    );
    let sig = hmac_b64::<Hmac<sha1::Sha1>>(TWILIO_TOKEN, signed.as_bytes());
    let form = ("Content-Type", "application/x-www-form-urlencoded");
    let headers = [("X-Twilio-Signature", sig.as_str()), form];
    assert_eq!(
        deliver(&proxy, &up, path, &headers, body).await,
        StatusCode::OK
    );
    let tampered =
        b"To=%2B14155550199&From=%2B14155550100&Body=Hello+there&MessageSid=SM2&Body=Again";
    assert_eq!(
        deliver(&proxy, &up, path, &headers, tampered).await,
        StatusCode::UNAUTHORIZED
    );
    let elsewhere = "/twilio?tenant=8";
    assert_eq!(
        deliver(&proxy, &up, elsewhere, &headers, body).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn twilio_json_deliveries_pass_when_the_body_hashes_to_body_sha256() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    let body = br#"{"AccountSid":"AC1","Type":"com.twilio.messaging.message.delivered"}"#;
    let path = format!("/twilio?bodySHA256={}", hex::encode(Sha256::digest(body)));
    let sig = hmac_b64::<Hmac<sha1::Sha1>>(TWILIO_TOKEN, format!("{PUBLIC}{path}").as_bytes());
    let headers = [
        ("X-Twilio-Signature", sig.as_str()),
        ("Content-Type", "application/json"),
    ];
    assert_eq!(
        deliver(&proxy, &up, &path, &headers, body).await,
        StatusCode::OK
    );
    let other = br#"{"AccountSid":"AC1","Type":"com.twilio.messaging.message.failed"}"#;
    assert_eq!(
        deliver(&proxy, &up, &path, &headers, other).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn square_deliveries_pass_over_url_and_body_and_fail_at_another_url() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    let body = br#"{"merchant_id":"MLEFBHHSJGVHD","type":"payment.updated","event_id":"e1"}"#;
    let path = "/square";
    let sig = hmac_b64::<Hmac<Sha256>>(
        SQUARE_KEY,
        &[format!("{PUBLIC}{path}").as_bytes(), body].concat(),
    );
    let headers = [("x-square-hmacsha256-signature", sig.as_str())];
    assert_eq!(
        deliver(&proxy, &up, path, &headers, body).await,
        StatusCode::OK
    );
    assert_eq!(
        deliver(&proxy, &up, "/square/", &headers, body).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn mailgun_deliveries_pass_with_a_fresh_signature_in_the_body_and_fail_stale() {
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url()), &[]).await;
    let sign = |ts: i64| {
        let token = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0";
        let mut mac =
            <Hmac<Sha256> as hmac::digest::KeyInit>::new_from_slice(MAILGUN_KEY.as_bytes())
                .unwrap();
        mac.update(format!("{ts}{token}").as_bytes());
        let sig = hex::encode(mac.finalize().into_bytes());
        format!(
            r#"{{"signature": {{"timestamp": "{ts}", "token": "{token}", "signature": "{sig}"}}, "event-data": {{"event": "delivered", "recipient": "alice@example.org"}}}}"#
        )
    };
    let json = [("Content-Type", "application/json")];
    let fresh = sign(now_s());
    assert_eq!(
        deliver(&proxy, &up, "/mailgun", &json, fresh.as_bytes()).await,
        StatusCode::OK
    );
    let stale = sign(now_s() - 3600);
    assert_eq!(
        deliver(&proxy, &up, "/mailgun", &json, stale.as_bytes()).await,
        StatusCode::UNAUTHORIZED
    );
    let unsigned = br#"{"event-data": {"event": "delivered"}}"#;
    assert_eq!(
        deliver(&proxy, &up, "/mailgun", &json, unsigned).await,
        StatusCode::UNAUTHORIZED
    );
}
