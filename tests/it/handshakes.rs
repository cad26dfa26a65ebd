//! Provider handshakes over real sockets: every challenge the catalogue's providers send is
//! answered by hookguard byte for byte as the provider documents (status, content type, body,
//! headers), never reaches the upstream, and is counted in `hookguard_handshakes_total` and as
//! outcome `handshake`; a forged one (bad signature, wrong verify token) is refused and not
//! answered.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::net::{hdrs, metric_value, now_s, requests_total, send, Proxy, Upstream};

/// One route `h` at `/hook` to `upstream`, checked by `scheme` with secret `k1` = `secret`;
/// `check_extra` is more check keys and `route_extra` more route keys, unindented.
pub fn config(
    upstream: &str,
    scheme: &str,
    secret: &str,
    check_extra: &str,
    route_extra: &str,
) -> String {
    let indent = |text: &str, by: &str| {
        text.lines()
            .map(|l| format!("{by}{l}\n"))
            .collect::<String>()
    };
    format!(
        "listen: \"127.0.0.1:0\"\nadmin:\n  listen: \"127.0.0.1:0\"\nroutes:\n  - name: h\n    path: /hook\n    upstream: {upstream}\n{}    verify:\n      scheme: {scheme}\n      secrets:\n        - id: k1\n          value: \"{secret}\"\n{}",
        indent(route_extra, "    "),
        indent(check_extra, "      "),
    )
}

/// The headers route `h`'s first check attaches to `body` at timestamp `ts` with its first
/// secret (method POST, path `/hook`, message id `msg_1`).
pub fn signed(proxy: &Proxy, body: &[u8], ts: &str) -> Vec<(String, String)> {
    let snap = proxy.app.shared.load();
    let check = &snap.route_named("h").unwrap().checks[0];
    let hookguard::verify::CheckKind::Hmac(spec) = &check.kind else {
        panic!("an HMAC check")
    };
    let empty = HeaderMap::new();
    let delivery = hookguard::verify::sign::Delivery {
        method: "POST",
        path: "/hook",
        headers: &empty,
        body,
        timestamp: ts,
        id: "msg_1",
    };
    hookguard::verify::sign::sign(spec, check.secrets[0].mac.as_ref().unwrap(), &delivery)
}

/// What the sender sends and what it must get back.
pub struct Case {
    pub scheme: &'static str,
    pub secret: &'static str,
    pub check_extra: &'static str,
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// Signed with route `h`'s secret at this timestamp before sending.
    pub sign_at: Option<String>,
    pub body: Vec<u8>,
    pub status: u16,
    pub content_type: Option<&'static str>,
    pub reply: Vec<u8>,
    pub nosniff: bool,
}

pub fn case(scheme: &'static str, method: &'static str, path: &str, body: &[u8]) -> Case {
    Case {
        scheme,
        secret: "s3cr3t-app-secret",
        check_extra: "",
        method,
        path: path.to_owned(),
        headers: Vec::new(),
        sign_at: None,
        body: body.to_vec(),
        status: 200,
        content_type: Some("text/plain"),
        reply: Vec::new(),
        nosniff: true,
    }
}

impl Case {
    pub fn json(mut self, reply: &str) -> Case {
        self.content_type = Some("application/json");
        self.nosniff = false;
        self.reply = reply.as_bytes().to_vec();
        self
    }

    pub fn text(mut self, reply: &str) -> Case {
        self.reply = reply.as_bytes().to_vec();
        self
    }

    pub fn signed(mut self) -> Case {
        self.sign_at = Some(now_s().to_string());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Case {
        self.headers.extend(hdrs(&[(name, value)]));
        self
    }

    /// Sends the case to `proxy` (signing it first where asked).
    pub async fn send(&self, proxy: &Proxy) -> (StatusCode, HeaderMap, Bytes) {
        self.send_signed(proxy, false).await
    }

    /// Sends the case, its signature (the last header the signer writes) broken by one
    /// character when `forge`.
    pub async fn send_signed(&self, proxy: &Proxy, forge: bool) -> (StatusCode, HeaderMap, Bytes) {
        let mut headers = self.headers.clone();
        if let Some(ts) = &self.sign_at {
            let mut sig = signed(proxy, &self.body, ts);
            if let (true, Some((_, value))) = (forge, sig.last_mut()) {
                let at = value.len() - 3;
                let flipped = if &value[at..=at] == "a" { "b" } else { "a" };
                value.replace_range(at..=at, flipped);
            }
            headers.extend(sig);
        }
        let url = format!("{}{}", proxy.url(), self.path);
        send(self.method, &url, &headers, self.body.clone()).await
    }
}

const META_TOKEN: &str = "verify_token:\n  value: meatyhamhock\n";
const META_PATH: &str =
    "/hook?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=meatyhamhock";
const SLACK_BODY: &[u8] = br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
const ZOOM_BODY: &[u8] = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1767225597000,"event":"endpoint.url_validation"}"#;
const XERO_BODY: &[u8] = br#"{"events":[],"firstEventSequence":0,"lastEventSequence":0,"entropy":"YOOLTRDNQCTRPVFMFUPB"}"#;
const TWITCH_BODY: &[u8] = br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"id":"f1c2a387-161a-49f9-a165-0f21d7a4e1c4","status":"webhook_callback_verification_pending","type":"channel.follow","version":"2"}}"#;
const OKTA_AUTH: &str = "Basic YWRtaW46c3VwZXJzZWNyZXQ=";

/// Every handshake the catalogue's rows name (Discord's has its own test), as documented.
pub fn genuine() -> Vec<Case> {
    let mut zoom = case("zoom", "POST", "/hook", ZOOM_BODY).signed().json(
        r#"{"plainToken":"qgg8vlvZRS6UYooatFL8Aw","encryptedToken":"3c7e2504ab09a6fff65ad77f5a25428a8f01375159a32e9a244e2468e3383ea3"}"#,
    );
    zoom.secret = "zoom_secret_token_Wq3Lx9Pk";
    let mut twitter = case(
        "twitter",
        "GET",
        "/hook?crc_token=9b4507b3-9040-4669-9ca3-6b94edb50553",
        b"",
    )
    .json(r#"{"response_token":"sha256=Cytd4Sq+NvEcV3MMrXxWJGJx5A+y/lXzzU2Maartkx8="}"#);
    twitter.secret = "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu";
    let mut okta = case("okta", "GET", "/hook", b"")
        .header("authorization", OKTA_AUTH)
        .header(
            "x-okta-verification-challenge",
            "2AFBYTvSp0bU4hzIsGt3Avu5GEUwo_rByD5ZZJEH",
        )
        .json(r#"{"verification":"2AFBYTvSp0bU4hzIsGt3Avu5GEUwo_rByD5ZZJEH"}"#);
    okta.secret = OKTA_AUTH;
    let mut xero = case("xero", "POST", "/hook", XERO_BODY).signed();
    (xero.content_type, xero.nosniff) = (None, false);
    let mut twitch = case("twitch", "POST", "/hook", TWITCH_BODY)
        .header(
            "twitch-eventsub-message-type",
            "webhook_callback_verification",
        )
        .text("pogchamp-kappa-360noscope-vohiyo");
    twitch.sign_at = Some(hookguard::config::clock::rfc3339(now_s() * 1000));
    let mut oura = case(
        "oura",
        "GET",
        "/hook?verification_token=oura-vt-51&challenge=7e1c6a",
        b"",
    )
    .json(r#"{"challenge":"7e1c6a"}"#);
    oura.check_extra = "verify_token:\n  value: oura-vt-51\n";
    let mut airship = case("airship", "GET", "/hook/validate", b"")
        .signed()
        .json(r#"{"confirmation_code":"559384cd-6284-4e3e-9e4e-7c260019a251"}"#);
    airship.check_extra = "verify_token:\n  value: 559384cd-6284-4e3e-9e4e-7c260019a251\n";
    let graph = "/hook?validationToken=Validation%3A%20Testing%20client%20application%20reachability%20for%20subscription%20Request-Id%3A%2025b1b2b8";
    let mut cases = vec![
        case("slack", "POST", "/hook", SLACK_BODY)
            .signed()
            .text("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"),
        zoom,
        twitter,
        okta,
        case("dropbox", "GET", "/hook?challenge=Zm9vYmFyMTIz", b"").text("Zm9vYmFyMTIz"),
        case("microsoft-graph", "POST", graph, b"")
            .header("content-type", "text/plain; charset=utf-8")
            .text("Validation: Testing client application reachability for subscription Request-Id: 25b1b2b8"),
        xero,
        case("worldline", "GET", "/hook", b"")
            .header("X-GCS-Webhooks-Endpoint-Verification", "9a1b7d2c-3e4f")
            .text("9a1b7d2c-3e4f"),
        twitch,
        oura,
        airship,
    ];
    for scheme in [
        "facebook-graph-api",
        "facebook-messenger",
        "instagram",
        "whatsapp",
    ] {
        let mut meta = case(scheme, "GET", META_PATH, b"").text("1158201444");
        meta.check_extra = META_TOKEN;
        cases.push(meta);
    }
    cases
}

/// Starts hookguard for `case` in `mode` in front of a recording upstream.
pub async fn start(case: &Case, route_extra: &str) -> (Proxy, Upstream) {
    let up = Upstream::start().await;
    let yaml = config(
        &up.url(),
        case.scheme,
        case.secret,
        case.check_extra,
        route_extra,
    );
    (Proxy::start(&yaml, &[]).await, up)
}

pub async fn handshakes_total(proxy: &Proxy, scheme: &str) -> f64 {
    let metrics = proxy.metrics().await;
    metric_value(
        &metrics,
        "hookguard_handshakes_total",
        &[("route", "h"), ("scheme", scheme)],
    )
}

#[tokio::test]
async fn every_handshake_is_answered_byte_for_byte_as_documented_and_never_forwarded() {
    for mode in ["enforce", "report-only"] {
        for case in genuine() {
            let (proxy, up) = start(&case, &format!("mode: {mode}\n")).await;
            let (status, headers, body) = case.send(&proxy).await;
            let what = format!("{} in {mode}", case.scheme);
            assert_eq!(status.as_u16(), case.status, "{what}: {body:?}");
            assert_eq!(&body[..], &case.reply[..], "{what}");
            let content_type = headers.get("content-type").map(|v| v.to_str().unwrap());
            assert_eq!(content_type, case.content_type, "{what}");
            let nosniff = headers
                .get("x-content-type-options")
                .map(|v| v.to_str().unwrap());
            assert_eq!(nosniff, case.nosniff.then_some("nosniff"), "{what}");
            assert_eq!(
                headers.get("content-length").unwrap(),
                &case.reply.len().to_string(),
                "{what}"
            );
            assert!(headers.get("set-cookie").is_none(), "{what}");
            assert_eq!(up.count(), 0, "{what}: the upstream saw the challenge");
            assert_eq!(handshakes_total(&proxy, case.scheme).await, 1.0, "{what}");
            assert_eq!(requests_total(&proxy, "handshake").await, 1.0, "{what}");
            assert_eq!(requests_total(&proxy, "forwarded").await, 0.0, "{what}");
        }
    }
}

/// The same challenge with its proof broken, and the refusal expected; `None` where the
/// provider neither signs nor token-checks its challenge (there is nothing to forge).
fn forged(mut case: Case) -> Option<(Case, u16, &'static [u8])> {
    let unauthorized: &[u8] = br#"{"error":"unauthorized"}"#;
    let refusal: (u16, &[u8]) = match case.scheme {
        "dropbox" | "microsoft-graph" | "worldline" | "twitter" => return None,
        "xero" => (401, b""),
        "okta" => {
            case.headers[0].1 = "Basic d3Jvbmc6d3Jvbmc=".into();
            (401, unauthorized)
        }
        _ if case.sign_at.is_some() => (401, unauthorized),
        _ => {
            case.path = case
                .path
                .replace("meatyhamhock", "wrong-token")
                .replace("oura-vt-51", "wrong");
            (403, br#"{"error":"forbidden"}"#)
        }
    };
    Some((case, refusal.0, refusal.1))
}

#[tokio::test]
async fn a_forged_challenge_is_refused_not_answered_and_not_forwarded() {
    let mut tried = Vec::new();
    for case in genuine() {
        let answer = case.reply.clone();
        let Some((forged, want_status, want_body)) = forged(case) else {
            continue;
        };
        let (proxy, up) = start(&forged, "").await;
        let (status, headers, body) = forged.send_signed(&proxy, true).await;
        let scheme = forged.scheme;
        assert_eq!(status.as_u16(), want_status, "{scheme}: {body:?}");
        assert_eq!(&body[..], want_body, "{scheme}");
        assert_eq!(
            headers.get("content-length").unwrap(),
            &want_body.len().to_string(),
            "{scheme}"
        );
        assert!(!answer.is_empty() || scheme == "xero");
        let echoed = !answer.is_empty() && body.windows(answer.len()).any(|w| w == &answer[..]);
        assert!(!echoed, "{scheme}: the refusal carries the answer");
        assert_eq!(
            up.count(),
            0,
            "{scheme}: a forged challenge reached the upstream"
        );
        assert_eq!(handshakes_total(&proxy, scheme).await, 0.0, "{scheme}");
        assert_eq!(requests_total(&proxy, "rejected").await, 1.0, "{scheme}");
        tried.push(scheme);
    }
    assert_eq!(tried.len(), 11, "{tried:?}");
}

#[tokio::test]
async fn an_x_crc_token_that_could_be_an_event_body_is_never_signed() {
    // The CRC answer is the HMAC X's POST signatures use; signing `{"..."}` would forge one.
    let mut crc = genuine()
        .into_iter()
        .find(|c| c.scheme == "twitter")
        .unwrap();
    crc.path = "/hook?crc_token=%7B%22for_user_id%22%3A%222244994945%22%7D".into();
    let (proxy, up) = start(&crc, "").await;
    let (status, _, body) = crc.send(&proxy).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(!String::from_utf8_lossy(&body).contains("sha256="));
    assert_eq!(
        (up.count(), handshakes_total(&proxy, "twitter").await),
        (0, 0.0)
    );
}
