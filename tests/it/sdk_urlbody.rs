//! The official SDKs of the URL-signed and body-embedded providers against the real binary:
//! twilio's `RequestValidator` (form and `bodySHA256` JSON), hubspot-api-client's `Signature`,
//! plivo's `signature_v3`, braintree's `WebhookTesting` and Adyen's `util` sign deliveries that
//! `hookguard run` forwards (and refuses with a changed body), and the same SDKs, plus
//! squareup's `verify_signature` (Square's SDK has no signer), accept what `hookguard sign
//! --url --method` prints and refuse it for a changed body. Every vector of
//! `tests/data/catalogue/urlbody.jsonl` is also re-decided by the SDKs
//! (`urlbody_check.py`). Scripts in `tests/sdk/`; `.ci/run` installs the SDKs
//! (`tests/sdk/requirements.txt`). Skipped loudly without them, a failure in CI.

use std::process::Command;
use std::time::Duration;

use http::StatusCode;

use crate::net::{post, Upstream};
use crate::sdk::harness::{self, run_bounded, Runtime, Verdict};
use crate::support::ConfigFile;

const PUBLIC_URL: &str = "https://hooks.example.com";
const NONCE: &str = "05429567804466091622";

/// How a script takes its arguments (after them come the `Name: value` headers, for verifiers).
#[derive(Clone, Copy)]
enum Args {
    /// `SECRET URL`.
    SecretUrl,
    /// `SECRET METHOD URL`.
    SecretMethodUrl,
    /// `SECRET METHOD URL NONCE` (signer) / `SECRET METHOD URL` (verifier).
    Nonce,
    /// `SECRET`.
    Secret,
}

struct Case {
    scheme: &'static str,
    secret: &'static str,
    method: &'static str,
    /// Path and query; the route is its first segment.
    path: &'static str,
    /// What the sender posts (for braintree, the notification XML `hookguard sign` encodes).
    body: &'static str,
    /// The SDK's signer, when it has one; `true` when it prints the body rather than headers.
    sign: Option<(&'static str, bool)>,
    verify: &'static str,
    args: Args,
    /// A replacement that changes a signed byte of the body the SDK or hookguard signed.
    tamper: (&'static str, &'static str),
}

impl Case {
    fn route(&self) -> &str {
        self.path[1..].split(['/', '?']).next().unwrap_or_default()
    }

    fn url(&self) -> String {
        format!("{PUBLIC_URL}{}", self.path)
    }

    fn args(&self, signer: bool) -> Vec<String> {
        let (s, m, u) = (self.secret.to_owned(), self.method.to_owned(), self.url());
        match self.args {
            Args::SecretUrl => vec![s, u],
            Args::SecretMethodUrl => vec![s, m, u],
            Args::Nonce if signer => vec![s, m, u, NONCE.to_owned()],
            Args::Nonce => vec![s, m, u],
            Args::Secret => vec![s],
        }
    }

    fn tampered(&self, body: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(body);
        let (from, to) = self.tamper;
        assert!(
            text.contains(from),
            "{}: `{from}` not in {text}",
            self.scheme
        );
        text.replacen(from, to, 1).into_bytes()
    }
}

const TWILIO_FORM: &str = "AccountSid=AC00000000000000000000000000000000&Body=Hello+there&Body=again&From=%2B14155550100&MessageSid=SM00000000000000000000000000000001&To=%2B14155550199";
const ADYEN: &str = r#"{"live":"false","notificationItems":[{"NotificationRequestItem":{"amount":{"currency":"EUR","value":1130},"eventCode":"AUTHORISATION","merchantAccountCode":"TestMerchant","merchantReference":"order-42","pspReference":"7914073381342284","success":"true"}},{"NotificationRequestItem":{"amount":{"currency":"EUR","value":500},"eventCode":"CAPTURE","merchantAccountCode":"TestMerchant","merchantReference":"order-43","originalReference":"7914073381342284","pspReference":"8814073381342299","success":"true"}}]}"#;

/// A `check` notification as braintree_python's `WebhookTesting` writes one.
const BRAINTREE_XML: &str = "<notification><timestamp type=\"datetime\">2026-01-01T00:00:00Z</timestamp><kind>check</kind><subject><check type=\"boolean\">true</check></subject></notification>";

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case { scheme: "twilio", secret: "2b7c4d9e0f1a3b5c6d7e8f9a0b1c2d3e", method: "POST", path: "/twilio/sms?tenant=7", body: TWILIO_FORM, sign: Some(("twilio_sign.py", false)), verify: "twilio_verify.py", args: Args::SecretUrl, tamper: ("Hello", "Jello") },
    Case { scheme: "twilio", secret: "2b7c4d9e0f1a3b5c6d7e8f9a0b1c2d3e", method: "POST", path: "/twilio/events?bodySHA256=30bb3dea266a0b9c207d42b64678797d6f85d919bb6df3eab010eb84b5d026b9", body: r#"{"type":"message.delivered"}"#, sign: Some(("twilio_sign.py", false)), verify: "twilio_verify.py", args: Args::SecretUrl, tamper: ("delivered", "failed") },
    Case { scheme: "square", secret: "Ibxx_5AKakO-3qeNVR61Dw", method: "POST", path: "/square/events", body: r#"{"merchant_id":"MLEFBHHSJGVHD","type":"payment.updated","event_id":"e-1"}"#, sign: None, verify: "square_verify.py", args: Args::SecretUrl, tamper: ("updated", "created") },
    Case { scheme: "hubspot", secret: "11111111-2222-4333-8444-555555555555", method: "POST", path: "/hubspot?portal=62515", body: r#"[{"eventId":1,"subscriptionType":"contact.creation","objectId":123}]"#, sign: Some(("hubspot_sign.py", false)), verify: "hubspot_verify.py", args: Args::SecretMethodUrl, tamper: ("123", "124") },
    Case { scheme: "plivo", secret: "MzY3NGQyMWEtNjNkNS00ODc5LWI1MWEtNTNkYjExNjAxN2Fk", method: "POST", path: "/plivo/answer?app=voice", body: "CallUUID=2e1d1a2e&Direction=inbound&From=14155550100&To=14155550199", sign: Some(("plivo_sign.py", false)), verify: "plivo_verify.py", args: Args::Nonce, tamper: ("inbound", "outbound") },
    Case { scheme: "braintree", secret: "hookguardpublic1:6f1d2c3b4a59687706f1d2c3b4a59687", method: "POST", path: "/braintree", body: BRAINTREE_XML, sign: Some(("braintree_sign.py", true)), verify: "braintree_verify.py", args: Args::Secret, tamper: ("bt_payload=", "bt_payload=AAAA") },
    Case { scheme: "adyen-notification", secret: "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056", method: "POST", path: "/adyen", body: ADYEN, sign: Some(("adyen_sign.py", true)), verify: "adyen_verify.py", args: Args::Secret, tamper: ("order-43", "order-44") },
];

fn route_yaml(case: &Case, upstream: &str) -> String {
    format!(
        "  - name: {name}\n    path: /{name}\n    upstream: {upstream}\n    public_url: {PUBLIC_URL}\n    verify:\n      scheme: {}\n      secrets:\n        - id: {name}-key\n          value: \"{}\"\n",
        case.scheme,
        case.secret,
        name = case.route()
    )
}

/// One config with a route per provider (the two twilio cases share one).
fn config(upstream: &str) -> ConfigFile {
    let mut routes = String::new();
    for case in CASES {
        if !routes.contains(&format!("name: {}\n", case.route())) {
            routes.push_str(&route_yaml(case, upstream));
        }
    }
    ConfigFile::new(&format!("listen: \"127.0.0.1:0\"\nroutes:\n{routes}"))
}

async fn deliver(url: &str, headers: &[(String, String)], body: Vec<u8>) -> StatusCode {
    let sent = post(url, headers, body);
    let (status, _, _) = tokio::time::timeout(Duration::from_secs(10), sent)
        .await
        .expect("the proxy answers within 10 s");
    status
}

#[tokio::test]
async fn deliveries_the_providers_sdks_sign_are_forwarded_and_refused_with_a_changed_body() {
    let Some(sdk) = harness::installed(Runtime::Python) else {
        return;
    };
    let upstream = Upstream::start().await;
    let file = config(&upstream.url());
    let served = harness::Served::start(&file.path);
    for case in CASES {
        let Some((script, prints_body)) = case.sign else {
            continue;
        };
        let out = sdk
            .run(script, &case.args(true), case.body.as_bytes())
            .success();
        let (headers, body) = if prints_body {
            let kind = if case.scheme == "braintree" {
                "application/x-www-form-urlencoded"
            } else {
                "application/json"
            };
            (
                vec![("Content-Type".to_owned(), kind.to_owned())],
                out.stdout.into_bytes(),
            )
        } else {
            (
                harness::header_lines(&out.stdout),
                case.body.as_bytes().to_vec(),
            )
        };
        let url = format!("http://{}{}", served.addr, case.path);
        let before = upstream.count();
        let status = deliver(&url, &headers, body.clone()).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{script}: {headers:?}\n{}",
            served.log()
        );
        let got = upstream.last().expect("forwarded");
        assert_eq!(&got.body[..], &body[..], "{script}: body byte for byte");
        assert_eq!(got.uri, case.path, "{script}: path and query unchanged");
        let id = got
            .headers
            .get("x-hookguard-secret-id")
            .and_then(|v| v.to_str().ok());
        assert_eq!(
            id,
            Some(format!("{}-key", case.route()).as_str()),
            "{script}"
        );
        let status = deliver(&url, &headers, case.tampered(&body)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{script}: changed body");
        assert_eq!(
            upstream.count(),
            before + 1,
            "{script}: a changed body is never forwarded"
        );
    }
}

/// `hookguard sign --url --method` for `case`: the headers, and the body to send (the signed
/// body after a blank line for body-embedded schemes, else the one given).
fn hookguard_sign(case: &Case) -> (Vec<(String, String)>, Vec<u8>) {
    let file = ConfigFile::new(&format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n{}",
        route_yaml(case, "http://127.0.0.1:1")
    ));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookguard"));
    cmd.arg("sign")
        .arg("--config")
        .arg(&file.path)
        .env_remove("HOOKGUARD_CONFIG");
    cmd.args([
        "--route",
        case.route(),
        "--body",
        "-",
        "--url",
        &case.url(),
        "--method",
        case.method,
        "--id",
        NONCE,
    ]);
    let out = run_bounded(
        cmd,
        case.body.as_bytes(),
        format!("hookguard sign {}", case.scheme),
    )
    .success();
    match out.stdout.split_once("\n\n") {
        Some((head, body)) => (harness::header_lines(head), body.as_bytes().to_vec()),
        None => (
            harness::header_lines(&out.stdout),
            case.body.as_bytes().to_vec(),
        ),
    }
}

#[test]
fn the_providers_sdks_accept_what_hookguard_sign_prints_and_refuse_it_for_a_changed_body() {
    let Some(sdk) = harness::installed(Runtime::Python) else {
        return;
    };
    for case in CASES {
        let (headers, body) = hookguard_sign(case);
        let mut args = case.args(false);
        args.extend(headers.iter().map(|(n, v)| format!("{n}: {v}")));
        let verdict = sdk.verdict(case.verify, &args, &body);
        assert_eq!(
            verdict,
            Verdict::Valid,
            "{} on `hookguard sign` for {}: {args:?}",
            case.verify,
            case.path
        );
        let verdict = sdk.verdict(case.verify, &args, &case.tampered(&body));
        assert!(
            matches!(verdict, Verdict::Invalid(_)),
            "{} accepted a changed body for {}",
            case.verify,
            case.path
        );
    }
}

#[test]
fn the_providers_sdks_give_every_urlbody_vector_the_verdict_hookguard_does() {
    let Some(sdk) = harness::installed(Runtime::Python) else {
        return;
    };
    let out = sdk.run("../data/catalogue/urlbody_check.py", &[], b"");
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("0 disagreement(s)"), "{out}");
}
