//! Handshakes beyond the answer: `handshake: forward` hands the challenge to the upstream
//! marked as one, report-only answers a genuine challenge and forwards a failing one as an
//! ordinary unverified delivery, Notion's and Salesforce's one-time token POSTs reach the
//! upstream marked, Microsoft Graph's notifications pass on their `clientState`, ordinary
//! deliveries on a handshake route are verified as before, and Discord's PING once its row
//! exists.

#![allow(clippy::unwrap_used)]

use http::StatusCode;

use crate::handshakes::{case, config, genuine, handshakes_total, signed, start, Case};
use crate::net::{hdrs, now_s, post, requests_total, send, Proxy, Upstream};

fn by_scheme(scheme: &str) -> Case {
    genuine().into_iter().find(|c| c.scheme == scheme).unwrap()
}

fn header<'a>(got: &'a crate::net::Received, name: &str) -> Option<&'a str> {
    got.headers.get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn handshake_forward_hands_the_challenge_to_the_upstream_marked_as_a_handshake() {
    let mut dropbox = by_scheme("dropbox");
    dropbox.check_extra = "handshake: forward\n";
    let (proxy, up) = start(&dropbox, "").await;
    let (status, _, body) = dropbox.send(&proxy).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"upstream-ok"[..]));
    let got = up.last().unwrap();
    assert_eq!(
        (got.method.as_str(), got.uri.as_str()),
        ("GET", "/hook?challenge=Zm9vYmFyMTIz")
    );
    assert_eq!(header(&got, "x-hookguard-handshake"), Some("dropbox"));
    assert_eq!(header(&got, "x-hookguard-verified"), Some("false"));
    assert_eq!(handshakes_total(&proxy, "dropbox").await, 1.0);
    assert_eq!(requests_total(&proxy, "forwarded").await, 1.0);
    assert_eq!(requests_total(&proxy, "handshake").await, 0.0);

    let mut slack = by_scheme("slack");
    slack.check_extra = "handshake: forward\n";
    let (proxy, up) = start(&slack, "").await;
    let (status, _, body) = slack.send(&proxy).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"upstream-ok"[..]));
    let got = up.last().unwrap();
    assert_eq!(&got.body[..], &slack.body[..]);
    assert_eq!(header(&got, "x-hookguard-handshake"), Some("slack"));
    assert_eq!(header(&got, "x-hookguard-verified"), Some("true"));
    assert_eq!(header(&got, "x-hookguard-secret-id"), Some("k1"));
    let (status, _, _) = slack.send_signed(&proxy, true).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(up.count(), 1, "a forged challenge is not forwarded");

    let mut meta = by_scheme("whatsapp");
    meta.check_extra = "handshake: forward\n";
    let (proxy, up) = start(&meta, "").await;
    assert_eq!(meta.send(&proxy).await.0, StatusCode::OK);
    assert_eq!(
        header(&up.last().unwrap(), "x-hookguard-handshake"),
        Some("whatsapp")
    );
}

#[tokio::test]
async fn report_only_answers_a_genuine_challenge_and_forwards_a_failing_one_unverified() {
    let slack = by_scheme("slack");
    let (proxy, up) = start(&slack, "mode: report-only\n").await;
    assert_eq!(&slack.send(&proxy).await.2[..], &slack.reply[..]);
    assert_eq!(up.count(), 0);
    let (status, _, body) = slack.send_signed(&proxy, true).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"upstream-ok"[..]));
    let got = up.last().unwrap();
    assert_eq!(header(&got, "x-hookguard-verified"), Some("false"));
    assert_eq!(header(&got, "x-hookguard-handshake"), None);
    assert_eq!(handshakes_total(&proxy, "slack").await, 1.0);
    assert_eq!(requests_total(&proxy, "forwarded").await, 1.0);

    let mut meta = by_scheme("facebook-graph-api");
    meta.path = meta.path.replace("meatyhamhock", "not-the-token");
    let (proxy, up) = start(&meta, "mode: report-only\n").await;
    let (status, _, body) = meta.send(&proxy).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"upstream-ok"[..]));
    assert_eq!(
        header(&up.last().unwrap(), "x-hookguard-verified"),
        Some("false")
    );
    assert_eq!(handshakes_total(&proxy, "facebook-graph-api").await, 0.0);
}

#[tokio::test]
async fn notion_and_salesforce_one_time_token_posts_reach_the_upstream_marked_unverified() {
    let posts: [(&str, &[u8]); 2] = [
        ("notion", br#"{"verification_token":"secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl"}"#),
        ("salesforce-marketing-cloud", br#"{"callbackId":"a8a3e7b6-0d8a-4a71-9d8e-1b2d3c4e5f60","verificationKey":"0b9e1a6c2d"}"#),
    ];
    for (scheme, body) in posts {
        let one = case(scheme, "POST", "/hook", body);
        let (proxy, up) = start(&one, "").await;
        let json = hdrs(&[("content-type", "application/json")]);
        let (status, _, _) = post(&format!("{}/hook", proxy.url()), &json, body.to_vec()).await;
        assert_eq!(status, StatusCode::OK, "{scheme}");
        let got = up.last().unwrap();
        assert_eq!(&got.body[..], body, "{scheme}");
        assert_eq!(header(&got, "x-hookguard-handshake"), Some(scheme));
        assert_eq!(header(&got, "x-hookguard-verified"), Some("false"));
        assert_eq!(handshakes_total(&proxy, scheme).await, 1.0, "{scheme}");
        // Anything else unsigned is an ordinary delivery and is refused.
        let event = br#"{"verification_token":"secret_x","type":"page.created"}"#;
        let (status, _, _) = post(&format!("{}/hook", proxy.url()), &json, event.to_vec()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{scheme}");
        assert_eq!(up.count(), 1, "{scheme}");
    }
}

#[tokio::test]
async fn microsoft_graph_notifications_pass_only_when_every_client_state_is_an_active_secret() {
    let up = Upstream::start().await;
    let yaml = format!(
        "listen: \"127.0.0.1:0\"\nadmin:\n  listen: \"127.0.0.1:0\"\nroutes:\n  - name: h\n    path: /hook\n    upstream: {}\n    verify:\n      scheme: microsoft-graph\n      secrets:\n        - id: new\n          value: SecretClientState-new\n        - id: old\n          value: SecretClientState-old\n",
        up.url()
    );
    let proxy = Proxy::start(&yaml, &[]).await;
    let url = format!("{}/hook", proxy.url());
    let note = |state: &str| {
        format!(
            r#"{{"subscriptionId":"7f105c7d","clientState":"{state}","changeType":"created","resource":"users/1/messages/2","tenantId":"84bd8158"}}"#
        )
    };
    let body = |notes: &[String]| format!(r#"{{"value":[{}]}}"#, notes.join(","));
    let both = body(&[note("SecretClientState-new"), note("SecretClientState-old")]);
    assert_eq!(post(&url, &[], both.clone()).await.0, StatusCode::OK);
    let got = up.last().unwrap();
    assert_eq!(got.body, both.as_bytes());
    assert_eq!(header(&got, "x-hookguard-secret-id"), Some("new"));
    let one_wrong = body(&[
        note("SecretClientState-new"),
        note("SecretClientState-forged"),
    ]);
    let missing = r#"{"value":[{"changeType":"created"}]}"#.to_owned();
    for bad in [one_wrong, missing, body(&[]), "not json".to_owned()] {
        assert_eq!(
            post(&url, &[], bad.clone()).await.0,
            StatusCode::UNAUTHORIZED,
            "{bad}"
        );
    }
    assert_eq!(up.count(), 1);
}

#[tokio::test]
async fn ordinary_deliveries_on_a_handshake_route_are_verified_and_forwarded_as_before() {
    let slack = by_scheme("slack");
    let (proxy, up) = start(&slack, "").await;
    let event =
        br#"{"type":"event_callback","event":{"type":"app_mention","text":"url_verification?"}}"#;
    let mut headers = signed(&proxy, event, &now_s().to_string());
    headers.extend(hdrs(&[("x-hookguard-handshake", "forged")]));
    let (status, _, _) = post(&format!("{}/hook", proxy.url()), &headers, event.to_vec()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&up.last().unwrap().body[..], event);
    assert_eq!(header(&up.last().unwrap(), "x-hookguard-handshake"), None);
    assert_eq!(handshakes_total(&proxy, "slack").await, 0.0);

    let dropbox = by_scheme("dropbox");
    let (proxy, up) = start(&dropbox, "").await;
    let (status, _, _) = send(
        "GET",
        &format!("{}/hook?list_folder=1", proxy.url()),
        &[],
        Vec::new(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(up.count(), 0);

    let mut revocation = by_scheme("twitch");
    revocation.headers = hdrs(&[("twitch-eventsub-message-type", "revocation")]);
    let (proxy, up) = start(&revocation, "").await;
    let (status, _, body) = revocation.send(&proxy).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &b"upstream-ok"[..]));
    assert_eq!(
        header(&up.last().unwrap(), "x-hookguard-verified"),
        Some("true")
    );
    assert_eq!(requests_total(&proxy, "handshake").await, 0.0);
}

#[tokio::test]
async fn a_discord_ping_is_answered_after_its_ed25519_signature_verifies() {
    use ring::signature::{Ed25519KeyPair, KeyPair};
    if hookguard::verify::catalogue::find("discord").is_none() {
        eprintln!("no `discord` row in this build's catalogue: the Ed25519 change adds it");
        return;
    }
    let pair = Ed25519KeyPair::from_seed_unchecked(&[7u8; 32]).unwrap();
    let public = hex::encode(pair.public_key().as_ref());
    let up = Upstream::start().await;
    let proxy = Proxy::start(&config(&up.url(), "discord", &public, "", ""), &[]).await;
    let url = format!("{}/hook", proxy.url());
    let ts = now_s().to_string();
    let sign = |body: &[u8]| {
        let sig = pair.sign(&[ts.as_bytes(), body].concat());
        hdrs(&[
            ("x-signature-ed25519", &hex::encode(sig.as_ref())),
            ("x-signature-timestamp", &ts),
        ])
    };
    let ping = br#"{"application_id":"11","id":"22","token":"t","type":1,"version":1}"#;
    let (status, headers, body) = post(&url, &sign(ping), ping.to_vec()).await;
    assert_eq!((status, &body[..]), (StatusCode::OK, &br#"{"type":1}"#[..]));
    assert_eq!(headers.get("content-type").unwrap(), "application/json");
    assert_eq!(up.count(), 0);
    let mut forged = sign(ping);
    forged[1].1 = (ts.parse::<i64>().unwrap() - 1).to_string();
    assert_eq!(
        post(&url, &forged, ping.to_vec()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let command = br#"{"type":2,"data":{"name":"hello"}}"#;
    assert_eq!(
        post(&url, &sign(command), command.to_vec()).await.0,
        StatusCode::OK
    );
    let events_ping = br#"{"version":1,"application_id":"11","type":0}"#;
    let (status, headers, body) = post(&url, &sign(events_ping), events_ping.to_vec()).await;
    assert_eq!((status, body.len()), (StatusCode::NO_CONTENT, 0));
    assert!(headers.get("content-type").is_none());
    let event = br#"{"version":1,"application_id":"11","type":1,"event":{"type":"APPLICATION_AUTHORIZED"}}"#;
    assert_eq!(
        post(&url, &sign(event), event.to_vec()).await.0,
        StatusCode::OK
    );
    assert_eq!(
        up.count(),
        2,
        "the command and the webhook event reach the upstream"
    );
    assert_eq!(handshakes_total(&proxy, "discord").await, 2.0);
}

#[tokio::test]
async fn a_bodiless_get_challenge_is_answered_before_any_body_is_read() {
    use bytes::Bytes;
    use hookguard::serve::handshake::before_body;
    use http_body_util::{BodyExt, Full};
    let snapshot = crate::support::load_yaml(&config("http://127.0.0.1:1", "dropbox", "s", "", ""));
    let app = hookguard::serve::app::App::new(snapshot);
    let snap = app.shared.load();
    let route = snap.route_named("h").unwrap();
    let get = |body: &'static [u8]| {
        let req = http::Request::get("/hook?challenge=c1");
        req.body(Full::new(Bytes::from_static(body))).unwrap()
    };
    let answered = before_body(&app, route, &get(b"")).expect("answered before the body");
    assert_eq!(
        (answered.outcome, answered.reason),
        ("handshake", "unsigned")
    );
    let body = answered
        .resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], b"c1");
    // A GET that does carry a body is decided after the body is read and verified.
    assert!(before_body(&app, route, &get(b"x")).is_none());
}
