//! Fetched-key schemes through the real `hookguard run`: AWS SNS and PayPal certificates and
//! Google's JWK set served by a loopback https server under a test CA (`SSL_CERT_FILE`),
//! reached only because `fetch_allow` names it. Deliveries are signed here with test RSA keys
//! (`tests/data/fetched/*.key.pem`) by an implementation independent of hookguard's (ring,
//! the string to sign written out from AWS's and PayPal's documentation).

#![allow(clippy::unwrap_used)]

mod server;

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use http::StatusCode;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use serde_json::{json, Value};

use crate::net::{hdrs, post, Upstream};
use crate::support::ConfigFile;
use server::{Hookguard, KeyServer};

const TOPIC: &str = "arn:aws:sns:us-west-2:123456789012:MyTopic";

fn key_pem(name: &str) -> String {
    let path = format!(
        "{}/tests/data/fetched/{name}.key.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path).unwrap()
}

fn rsa(name: &str) -> RsaKeyPair {
    let pem = key_pem(name);
    let PrivateKeyDer::Pkcs8(der) = PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap() else {
        panic!("PKCS#8 expected")
    };
    RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap()
}

/// RSASSA-PKCS1-v1_5 SHA-256 by the test key `name`.
fn sign(name: &str, msg: &[u8]) -> Vec<u8> {
    let key = rsa(name);
    let mut sig = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        msg,
        &mut sig,
    )
    .unwrap();
    sig
}

/// RSASSA-PKCS1-v1_5 SHA-1 by the test key `name` (ring signs no SHA-1; the `rsa` crate does).
fn sign_sha1(name: &str, msg: &[u8]) -> Vec<u8> {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(&key_pem(name)).unwrap();
    rsa::pkcs1v15::SigningKey::<sha1::Sha1>::new(key)
        .sign(msg)
        .to_vec()
}

/// A self-signed certificate for the key `name`, valid from `from` to `until` (years).
fn certificate(name: &str, cn: &str, from: i32, until: i32) -> String {
    let key = rcgen::KeyPair::from_pem(&key_pem(name)).unwrap();
    let mut params = rcgen::CertificateParams::new(vec![cn.to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.not_before = rcgen::date_time_ymd(from, 1, 1);
    params.not_after = rcgen::date_time_ymd(until, 1, 1);
    params.self_signed(&key).unwrap().pem()
}

/// The key server's CA as a file, for `SSL_CERT_FILE`.
fn ca_file(keys: &KeyServer, file: &ConfigFile) -> std::path::PathBuf {
    file.write("key-server-ca.pem", keys.ca_pem.as_bytes())
}

fn config(upstream: &Upstream, routes: &[(&str, &str)]) -> String {
    let mut yaml = String::from("listen: \"127.0.0.1:0\"\nroutes:\n");
    for (name, verify) in routes {
        yaml.push_str(&format!(
            "  - name: {name}\n    path: /{name}\n    upstream: {}\n    verify:\n",
            upstream.url()
        ));
        for line in verify.lines() {
            yaml.push_str(&format!("      {line}\n"));
        }
    }
    yaml
}

/// An SNS message signed as SNS signs it (AWS's sns-verify-signature-of-message: the fields
/// present, in byte order, each `name\nvalue\n`).
fn sns_message(kind: &str, version: &str, cert_url: &str, extra: &[(&str, &str)]) -> Value {
    let mut msg = json!({
        "Type": kind,
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Message": "Hello world!\nline two",
        "Timestamp": "2026-01-01T00:00:00.000Z",
        "SignatureVersion": version,
        "SigningCertURL": cert_url,
    });
    for (k, v) in extra {
        msg[*k] = json!(v);
    }
    let order = [
        "Message",
        "MessageId",
        "Subject",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ];
    let mut signed = String::new();
    for key in order {
        if let Some(v) = msg[key].as_str() {
            signed.push_str(&format!("{key}\n{v}\n"));
        }
    }
    let sig = if version == "1" {
        sign_sha1("sns", signed.as_bytes())
    } else {
        sign("sns", signed.as_bytes())
    };
    msg["Signature"] = json!(STANDARD.encode(sig));
    msg
}

fn sns_headers(msg: &Value) -> Vec<(String, String)> {
    hdrs(&[
        ("content-type", "text/plain; charset=UTF-8"),
        ("x-amz-sns-message-type", msg["Type"].as_str().unwrap()),
        ("x-amz-sns-message-id", msg["MessageId"].as_str().unwrap()),
        ("x-amz-sns-topic-arn", TOPIC),
    ])
}

async fn send_sns(hg: &Hookguard, route: &str, msg: &Value) -> (StatusCode, bytes::Bytes) {
    let (status, _, body) = post(&hg.url(route), &sns_headers(msg), msg.to_string()).await;
    (status, body)
}

#[tokio::test]
async fn an_sns_notification_and_subscription_confirmation_verify_end_to_end_under_a_fetched_certificate(
) {
    let keys = KeyServer::start().await;
    let cert_path = "/SimpleNotificationService-test.pem";
    keys.serve(
        cert_path,
        &[],
        certificate("sns", "sns.amazonaws.com", 2020, 2045),
    );
    keys.serve("/", &[], "<ConfirmSubscriptionResponse/>");
    keys.serve(
        "/expired.pem",
        &[],
        certificate("sns", "sns.amazonaws.com", 2020, 2021),
    );
    let upstream = Upstream::start().await;
    let verify = format!("scheme: sns\nfetch_allow: [\"127.0.0.1\"]\ntopic_arn: {TOPIC}");
    let file = ConfigFile::new(&config(&upstream, &[("sns", &verify)]));
    let hg = Hookguard::start(&file.path, &ca_file(&keys, &file));
    let cert_url = keys.url(cert_path);

    let note = sns_message("Notification", "1", &cert_url, &[("Subject", "Hi")]);
    assert_eq!(send_sns(&hg, "/sns", &note).await.0, StatusCode::OK);
    let got = upstream.last().unwrap();
    assert_eq!(got.body, note.to_string().into_bytes());
    assert_eq!(
        got.headers["x-hookguard-secret-id"],
        "SimpleNotificationService-test.pem"
    );

    let v2 = sns_message("Notification", "2", &cert_url, &[]);
    assert_eq!(send_sns(&hg, "/sns", &v2).await.0, StatusCode::OK);
    assert_eq!(
        keys.count(cert_path),
        1,
        "the second delivery used the cached certificate"
    );

    let mut tampered = v2.clone();
    tampered["Message"] = json!("Hello world?");
    assert_eq!(
        send_sns(&hg, "/sns", &tampered).await.0,
        StatusCode::UNAUTHORIZED
    );

    let expired = sns_message("Notification", "2", &keys.url("/expired.pem"), &[]);
    assert_eq!(
        send_sns(&hg, "/sns", &expired).await.0,
        StatusCode::UNAUTHORIZED
    );

    let forwarded = upstream.count();
    let subscribe = keys.url("/?Action=ConfirmSubscription&TopicArn=t&Token=2336412f37f");
    let conf = sns_message(
        "SubscriptionConfirmation",
        "1",
        &cert_url,
        &[("SubscribeURL", &subscribe), ("Token", "2336412f37f")],
    );
    let (status, body) = send_sns(&hg, "/sns", &conf).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], br#"{"status":"confirmed"}"#);
    assert!(keys
        .requested()
        .contains(&"/?Action=ConfirmSubscription&TopicArn=t&Token=2336412f37f".to_owned()));
    assert_eq!(
        upstream.count(),
        forwarded,
        "the confirmation is answered, not forwarded"
    );
    assert_eq!(keys.count(cert_path), 1);
    let confirmed = hg.wait_for("SNS subscription confirmed");
    assert_eq!(confirmed["host"], "127.0.0.1");
    let logged = hg.wait_for_where("request", |v| v["outcome"] == "handshake");
    assert_eq!(
        logged["status"], 200,
        "counted as a handshake, not forwarded traffic"
    );
    let log = hg.log.lock().unwrap().join("\n");
    assert!(
        !log.contains("2336412f37f"),
        "the subscription token stays out of the log"
    );
}

#[tokio::test]
async fn a_certificate_url_outside_the_allowed_hosts_is_never_requested_and_the_delivery_is_rejected(
) {
    let keys = KeyServer::start().await;
    let cert = certificate("sns", "sns.amazonaws.com", 2020, 2045);
    keys.serve("/cert.pem", &[], cert.clone());
    keys.serve("/v1/notifications/certs/CERT-1", &[], cert);
    let upstream = Upstream::start().await;
    let sns = format!("scheme: sns\nfetch_allow: [\"127.0.0.1\"]\ntopic_arn: {TOPIC}");
    let paypal = "scheme: paypal\nfetch_allow: [\"127.0.0.1\"]\nwebhook_id: WH-1";
    let file = ConfigFile::new(&config(&upstream, &[("sns", &sns), ("paypal", paypal)]));
    let hg = Hookguard::start(&file.path, &ca_file(&keys, &file));
    let port = keys.addr.port();
    for url in [
        format!("https://localhost:{port}/cert.pem"),
        format!("http://127.0.0.1:{port}/cert.pem"),
        format!("https://127.0.0.1.nip.io:{port}/cert.pem"),
        format!("https://user@127.0.0.1:{port}/cert.pem"),
    ] {
        let msg = sns_message("Notification", "2", &url, &[]);
        assert_eq!(
            send_sns(&hg, "/sns", &msg).await.0,
            StatusCode::UNAUTHORIZED,
            "{url}"
        );
    }
    let body = br#"{"id":"WH-1","event_type":"PAYMENT.CAPTURE.COMPLETED"}"#;
    let outside = format!("https://localhost:{port}/v1/notifications/certs/CERT-1");
    let headers = paypal_headers("tid-1", body, "WH-1", &outside);
    let (status, _, _) = post(&hg.url("/paypal"), &headers, &body[..]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        keys.requested(),
        Vec::<String>::new(),
        "nothing was fetched"
    );
    assert_eq!(keys.connections(), 0, "not even a connection was opened");
    assert_eq!(upstream.count(), 0);

    // A verified confirmation whose SubscribeURL leaves the allowed hosts is not visited:
    // it is forwarded for the receiver to decide.
    keys.serve(
        "/c.pem",
        &[],
        certificate("sns", "sns.amazonaws.com", 2020, 2045),
    );
    let subscribe = format!("https://localhost:{port}/?Action=ConfirmSubscription&Token=t");
    let conf = sns_message(
        "SubscriptionConfirmation",
        "2",
        &keys.url("/c.pem"),
        &[("SubscribeURL", &subscribe), ("Token", "t")],
    );
    assert_eq!(send_sns(&hg, "/sns", &conf).await.0, StatusCode::OK);
    assert_eq!(upstream.count(), 1);
    assert_eq!(keys.requested(), vec!["/c.pem".to_owned()]);
}

/// PayPal's headers for `body`, signed as its docs say:
/// `transmission_id|transmission_time|webhook_id|crc32(body)`, SHA256withRSA.
fn paypal_headers(
    id: &str,
    body: &[u8],
    webhook_id: &str,
    cert_url: &str,
) -> Vec<(String, String)> {
    let time = "2026-01-01T00:00:00Z";
    let crc = crc32fast::hash(body);
    let signed = format!("{id}|{time}|{webhook_id}|{crc}");
    let sig = STANDARD.encode(sign("paypal", signed.as_bytes()));
    hdrs(&[
        ("content-type", "application/json"),
        ("paypal-transmission-id", id),
        ("paypal-transmission-time", time),
        ("paypal-transmission-sig", &sig),
        ("paypal-cert-url", cert_url),
        ("paypal-auth-algo", "SHA256withRSA"),
    ])
}

#[tokio::test]
async fn a_paypal_delivery_verifies_under_the_certificate_at_its_cert_url_and_binds_the_webhook_id()
{
    let keys = KeyServer::start().await;
    let cert_path = "/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270";
    let cert = certificate("paypal", "messageverificationcerts.paypal.com", 2020, 2045);
    keys.serve(cert_path, &[], cert);
    let upstream = Upstream::start().await;
    let verify = "scheme: paypal\nfetch_allow: [\"127.0.0.1\"]\nwebhook_id: 1JE4291016473214C";
    let file = ConfigFile::new(&config(&upstream, &[("paypal", verify)]));
    let hg = Hookguard::start(&file.path, &ca_file(&keys, &file));
    let body = br#"{"id":"WH-2WR32451HC0233532-67976317FL4543714","event_type":"PAYMENT.CAPTURE.COMPLETED"}"#;
    let url = keys.url(cert_path);

    let good = paypal_headers("69cd13f0-d67a", body, "1JE4291016473214C", &url);
    let (status, _, _) = post(&hg.url("/paypal"), &good, &body[..]).await;
    assert_eq!(status, StatusCode::OK);
    let got = upstream.last().unwrap();
    assert_eq!(
        got.headers["x-hookguard-secret-id"],
        "CERT-360caa42-fca2a594-1d93a270"
    );

    let mut changed = body.to_vec();
    changed[10] ^= 1;
    let (status, _, _) = post(&hg.url("/paypal"), &good, changed).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "another body");
    let other = paypal_headers("69cd13f0-d67a", body, "8PT597110X687430L", &url);
    let (status, _, _) = post(&hg.url("/paypal"), &other, &body[..]).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "signed for another webhook"
    );
    assert_eq!(upstream.count(), 1);
    assert_eq!(keys.count(cert_path), 1);
}

/// A JWK set holding the public half of the test key `name` under `kid`.
fn jwks(name: &str, kid: &str) -> String {
    let key = rsa(name);
    let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(key.public());
    let (n, e) = (public.n, public.e);
    json!({"keys": [
        {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
         "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e)},
        {"kty": "EC", "crv": "P-384", "kid": "ignored", "x": "AA", "y": "AA"}
    ]})
    .to_string()
}

/// A Pub/Sub push token: RS256 by the key `name`, `kid`, claims merged over Google's.
fn push_token(name: &str, alg: &str, kid: &str, claims: Value) -> String {
    let now = crate::net::now_s();
    let mut all = json!({
        "aud": "https://hooks.example.com/pubsub",
        "azp": "113774264463038321964",
        "email": "pubsub-push@my-project.iam.gserviceaccount.com",
        "email_verified": true,
        "iat": now - 60,
        "exp": now + 3540,
        "iss": "https://accounts.google.com",
        "sub": "113774264463038321964",
    });
    for (k, v) in claims.as_object().unwrap() {
        all[k] = v.clone();
    }
    let header = json!({"alg": alg, "kid": kid, "typ": "JWT"});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(all.to_string())
    );
    let sig = sign(name, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

#[tokio::test]
async fn a_google_push_verifies_under_the_fetched_jwks_and_expired_wrong_key_or_wrong_audience_tokens_are_rejected(
) {
    let keys = KeyServer::start().await;
    let kid = "7d680d8c70d44e947133cbd499ebc1a61c3d5abc";
    let cache = [("cache-control", "public, max-age=19842, must-revalidate")];
    keys.serve("/oauth2/v3/certs", &cache, jwks("google", kid));
    let upstream = Upstream::start().await;
    // The key set is fetched from the first `fetch_allow` host, at Google's path.
    let verify = format!(
        "scheme: google-pubsub\nfetch_allow: [\"{}\"]\naudience: https://hooks.example.com/pubsub\nemail: [pubsub-push@my-project.iam.gserviceaccount.com]",
        keys.addr
    );
    let file = ConfigFile::new(&config(&upstream, &[("pubsub", &verify)]));
    let hg = Hookguard::start(&file.path, &ca_file(&keys, &file));
    let body = br#"{"message":{"data":"SGVsbG8=","messageId":"2070443601311540"},"subscription":"projects/p/subscriptions/s"}"#;
    let push = |token: String| {
        let url = hg.url("/pubsub");
        async move {
            let headers = hdrs(&[("authorization", &format!("Bearer {token}"))]);
            post(&url, &headers, &body[..]).await.0
        }
    };
    let now = crate::net::now_s();
    assert_eq!(
        push(push_token("google", "RS256", kid, json!({}))).await,
        StatusCode::OK
    );
    assert_eq!(
        upstream.last().unwrap().headers["x-hookguard-secret-id"],
        kid
    );
    let rejected = [
        (
            "expired",
            push_token(
                "google",
                "RS256",
                kid,
                json!({"iat": now - 7200, "exp": now - 3600}),
            ),
        ),
        ("wrong key", push_token("other", "RS256", kid, json!({}))),
        (
            "wrong audience",
            push_token(
                "google",
                "RS256",
                kid,
                json!({"aud": "https://evil.example/"}),
            ),
        ),
        (
            "other account",
            push_token(
                "google",
                "RS256",
                kid,
                json!({"email": "x@evil.iam.gserviceaccount.com"}),
            ),
        ),
        (
            "unverified email",
            push_token("google", "RS256", kid, json!({"email_verified": false})),
        ),
        (
            "wrong issuer",
            push_token(
                "google",
                "RS256",
                kid,
                json!({"iss": "https://evil.example"}),
            ),
        ),
        (
            "unknown kid",
            push_token("google", "RS256", "nope", json!({})),
        ),
        ("alg RS512", push_token("google", "RS512", kid, json!({}))),
    ];
    for (what, token) in rejected {
        assert_eq!(push(token).await, StatusCode::UNAUTHORIZED, "{what}");
    }
    assert_eq!(upstream.count(), 1);
    assert_eq!(
        keys.count("/oauth2/v3/certs"),
        1,
        "one fetch, then the cache (max-age)"
    );
}

#[tokio::test]
async fn a_pinned_check_fetches_nothing() {
    let keys = KeyServer::start().await;
    let upstream = Upstream::start().await;
    let sns_cert = certificate("sns", "sns.amazonaws.com", 2020, 2045);
    let paypal_cert = certificate("paypal", "messageverificationcerts.paypal.com", 2020, 2045);
    let file = ConfigFile::new("");
    file.write("sns.pem", sns_cert.as_bytes());
    file.write("paypal.pem", paypal_cert.as_bytes());
    let sns = format!("scheme: sns\nfetch_allow: [\"127.0.0.1\"]\ntopic_arn: {TOPIC}\nsecrets:\n  - id: sns-2026\n    file: sns.pem");
    let paypal = "scheme: paypal\nfetch_allow: [\"127.0.0.1\"]\nwebhook_id: WH-9\nsecrets:\n  - id: paypal-2026\n    file: paypal.pem";
    std::fs::write(
        &file.path,
        config(&upstream, &[("sns", &sns), ("paypal", paypal)]),
    )
    .unwrap();
    let hg = Hookguard::start(&file.path, &ca_file(&keys, &file));

    let msg = sns_message("Notification", "2", &keys.url("/never.pem"), &[]);
    assert_eq!(send_sns(&hg, "/sns", &msg).await.0, StatusCode::OK);
    assert_eq!(
        upstream.last().unwrap().headers["x-hookguard-secret-id"],
        "sns-2026"
    );
    let body = br#"{"id":"WH-3"}"#;
    let headers = paypal_headers(
        "t-1",
        body,
        "WH-9",
        &keys.url("/v1/notifications/certs/never"),
    );
    let (status, _, _) = post(&hg.url("/paypal"), &headers, &body[..]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        upstream.last().unwrap().headers["x-hookguard-secret-id"],
        "paypal-2026"
    );
    assert_eq!(keys.requested(), Vec::<String>::new());
    assert_eq!(keys.connections(), 0);
}

fn cache_for(
    keys: &KeyServer,
    limits: hookguard::serve::keys::Limits,
) -> hookguard::serve::keys::KeyCache {
    let mut roots = rustls::RootCertStore::empty();
    let ca = rustls::pki_types::CertificateDer::from_pem_slice(keys.ca_pem.as_bytes()).unwrap();
    roots.add(ca).unwrap();
    hookguard::serve::keys::KeyCache::new(roots, limits)
}

fn want(url: String) -> hookguard::verify::fetched::KeyWant {
    hookguard::verify::fetched::KeyWant {
        kind: hookguard::verify::fetched::KeyKind::Certificate,
        url,
        kid: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_for_one_url_share_one_fetch_and_the_cache_stays_bounded() {
    let keys = KeyServer::start().await;
    let cert = certificate("sns", "sns.amazonaws.com", 2020, 2045);
    // Slow enough that every request below arrives while the first fetch is in flight.
    keys.serve_after("/slow.pem", &[], cert.clone(), Duration::from_millis(300));
    for n in 0..3 {
        keys.serve(&format!("/{n}.pem"), &[], cert.clone());
    }
    let limits = hookguard::serve::keys::Limits {
        entries: 2,
        ..Default::default()
    };
    let cache = Arc::new(cache_for(&keys, limits));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (cache, w) = (cache.clone(), want(keys.url("/slow.pem")));
            tokio::spawn(async move { cache.get(&w).await.is_ok() })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap());
    }
    assert_eq!(
        keys.count("/slow.pem"),
        1,
        "16 concurrent misses, one fetch"
    );

    for n in 0..3 {
        assert!(cache
            .get(&want(keys.url(&format!("/{n}.pem"))))
            .await
            .is_ok());
    }
    assert!(cache.get(&want(keys.url("/2.pem"))).await.is_ok());
    assert_eq!(keys.count("/2.pem"), 1, "the newest entry is cached");
    assert!(cache.get(&want(keys.url("/0.pem"))).await.is_ok());
    assert_eq!(
        keys.count("/0.pem"),
        2,
        "two entries at most: the oldest was evicted"
    );

    let tiny = cache_for(
        &keys,
        hookguard::serve::keys::Limits {
            max_bytes: 100,
            ..Default::default()
        },
    );
    let err = tiny.get(&want(keys.url("/1.pem"))).await.unwrap_err();
    assert!(err.to_string().contains("more than 100 bytes"), "{err}");
    let missing = tiny.get(&want(keys.url("/missing.pem"))).await.unwrap_err();
    assert_eq!(missing.to_string(), "answered 404");
}

#[test]
fn each_rejected_vector_fails_for_its_own_reason() {
    use hookguard::verify::{Reason, Request};
    let expected = [
        ("sns/cert_url_bad_host", Reason::Invalid),
        ("sns/cert_url_http", Reason::Invalid),
        ("sns/tampered_subject", Reason::Invalid),
        ("sns/other_topic", Reason::Invalid),
        ("paypal/other_webhook_id", Reason::Invalid),
        ("paypal/cert_url_outside_allow_list", Reason::Invalid),
        ("paypal/tampered_body", Reason::Invalid),
        ("google-pubsub/wrong_audience", Reason::Invalid),
        ("google-pubsub/wrong_email", Reason::Invalid),
        ("google-pubsub/email_not_verified", Reason::Invalid),
        ("google-pubsub/expired", Reason::Stale),
        ("google-pubsub/issued_in_the_future", Reason::Stale),
        ("google-pubsub/lifetime_over_a_day", Reason::Stale),
        ("google-pubsub/wrong_issuer", Reason::Invalid),
        ("google-pubsub/alg_hs256_confusion", Reason::Invalid),
        ("plaid/body_altered", Reason::Invalid),
        ("plaid/iat_too_old", Reason::Stale),
        ("plaid/alg_not_es256", Reason::Invalid),
        ("ebay/official_signature_mismatch", Reason::Invalid),
        ("circle/tampered_body", Reason::Invalid),
        ("bridge/official_stale", Reason::Stale),
        ("bridge/single_hash_signature", Reason::Invalid),
    ];
    let text = include_str!("../data/catalogue/fetched.jsonl");
    let vectors: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rejects = vectors.iter().filter(|v| v["expect"] == "reject").count();
    assert_eq!(
        rejects,
        expected.len(),
        "every reject vector has its reason here"
    );
    for (id, reason) in expected {
        let v = vectors
            .iter()
            .find(|v| v["id"] == id)
            .unwrap_or_else(|| panic!("{id}"));
        let (yaml, path) = crate::catalogue::route_for(v);
        let snap = crate::support::load_yaml(&yaml);
        let headers = crate::vectors::header_map(v);
        let body = crate::vectors::body(v);
        let req = Request {
            chunks: &[],
            method: "POST",
            path: &path,
            headers: &headers,
            body: &body,
        };
        let now = v["now"].as_i64().unwrap() * 1000;
        let got = crate::support::verify_route(&snap, "r", &req, now).map_err(|r| r.reason);
        assert_eq!(got.err(), Some(reason), "{id}");
    }
}

#[test]
fn a_public_key_check_that_cannot_work_is_a_located_config_error_that_never_echoes_a_secret() {
    use crate::support::one_route;
    let cases = [
        ("scheme: paypal", "`webhook_id` is required"),
        ("scheme: plaid", "pin the sender's public key"),
        (
            "scheme: circle\nfetch_allow: [\"127.0.0.1\"]\nsecrets:\n  - id: k\n    value: MFkw",
            "`fetch_allow` does not apply",
        ),
        (
            "scheme: github\nfetch_allow: [\"127.0.0.1\"]\nsecrets:\n  - id: k\n    value: x",
            "`fetch_allow` does not apply",
        ),
        (
            "scheme: paypal\nwebhook_id: W\ntopic_arn: arn:x",
            "`topic_arn` does not apply",
        ),
        ("scheme: sns\nfetch_allow: []", "`fetch_allow` is empty"),
        (
            "scheme: sns\nfetch_allow: [\"https://x.example\"]",
            "is not a host name",
        ),
        (
            "scheme: bridge\nsecrets:\n  - id: bridge-key\n    value: NOT-A-KEY-hunter2",
            "secret `bridge-key` is not a PEM certificate or public key",
        ),
    ];
    for (verify, want) in cases {
        let err = ConfigFile::new(&one_route("", verify))
            .load()
            .expect_err(verify)
            .to_string();
        assert!(err.contains(want), "{verify}: {err}");
        assert!(err.contains("hookguard.yaml:"), "located: {err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}

#[tokio::test]
async fn hookguard_verify_fetches_the_certificate_a_captured_sns_delivery_names() {
    let keys = KeyServer::start().await;
    keys.serve(
        "/c.pem",
        &[],
        certificate("sns", "sns.amazonaws.com", 2020, 2045),
    );
    let verify = format!("scheme: sns\nfetch_allow: [\"127.0.0.1\"]\ntopic_arn: {TOPIC}");
    let file = ConfigFile::new(&crate::support::one_route("", &verify));
    let ca = ca_file(&keys, &file);
    let msg = sns_message("Notification", "2", &keys.url("/c.pem"), &[]);
    let headers: String = sns_headers(&msg)
        .iter()
        .map(|(n, v)| format!("{n}: {v}\n"))
        .collect();
    let h = file.write("headers.txt", headers.as_bytes());
    let run = |body: String| {
        let b = file.write("body.json", body.as_bytes());
        let (config, ca, h) = (file.path.clone(), ca.clone(), h.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_hookguard"))
                .args([
                    "verify",
                    "--config",
                    config.to_str().unwrap(),
                    "--route",
                    "r",
                ])
                .args([
                    "--headers",
                    h.to_str().unwrap(),
                    "--body",
                    b.to_str().unwrap(),
                ])
                .env("SSL_CERT_FILE", ca)
                .output()
                .unwrap()
        })
    };
    let out = run(msg.to_string()).await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("valid: secret c.pem"), "{stdout}");
    let mut changed = msg.clone();
    changed["Message"] = json!("changed");
    let out = run(changed.to_string()).await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(keys.count("/c.pem"), 2, "one fetch per run");
}

#[test]
fn check_warns_about_a_check_any_account_of_the_provider_could_pass() {
    use crate::support::one_route;
    for (verify, warning, quiet) in [
        (
            "scheme: sns",
            "no `topic_arn:`",
            format!("scheme: sns\ntopic_arn: {TOPIC}"),
        ),
        (
            "scheme: google-pubsub",
            "no `email:`",
            "scheme: google-pubsub\nemail: push@p.iam.gserviceaccount.com".to_owned(),
        ),
    ] {
        let run = |verify: &str| {
            let file = ConfigFile::new(&one_route("", verify));
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_hookguard"))
                .args(["check", "--config", file.path.to_str().unwrap()])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{verify}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let text = run(verify);
        assert!(text.contains(&format!("WARNING: {warning}")), "{text}");
        assert!(
            !text.contains("no secret is active"),
            "a fetched check needs none: {text}"
        );
        assert!(!run(&quiet).contains("WARNING"), "{quiet}");
    }
}
