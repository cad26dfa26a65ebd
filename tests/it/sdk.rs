//! The providers' official SDKs against the real binary, both ways: a delivery the SDK signed
//! passes `hookguard run` (forwarded with the matching secret's id) and the same delivery with
//! its body changed gets 401 and never reaches the upstream; and the SDK's own verifier accepts
//! what `hookguard sign` prints and rejects it for a changed body. The SDKs are pinned in
//! `tests/sdk/` (`requirements.txt`, `package.json`), installed by `.ci/run`, and driven by one
//! small script per provider and direction there.

mod harness;

use std::time::Duration;

use http::StatusCode;

use crate::net::{post, Upstream};
use crate::support::ConfigFile;
use harness::{Runtime, Verdict};

/// Valid JSON for every SDK (Stripe's parses it as an event), with non-ASCII text so that the
/// bytes signed are not the characters.
const BODY: &str = r#"{"id":"evt_hookguard_sdk","object":"event","type":"invoice.paid","data":{"object":{"amount_due":1250,"memo":"café ☕ ünïcode"}}}"#;

/// `BODY` with one digit changed: still valid JSON, so only the signature can reject it.
fn changed_body() -> String {
    let changed = BODY.replacen("1250", "1251", 1);
    assert_ne!(changed, BODY);
    changed
}

/// One provider, its catalogue scheme and the SDK that signs and verifies its deliveries.
struct Case {
    scheme: &'static str,
    runtime: Runtime,
    /// The secret the SDK holds: hookguard's secret `current`, listed after `retired`.
    secret: &'static str,
    /// Another secret of the same form, tried first, which must not be the one that matches.
    retired: &'static str,
    /// The SDK's signer in `tests/sdk/` and the argument lists (after the secret) to run it
    /// with, one delivery each.
    sign: (&'static str, &'static [&'static [&'static str]]),
    /// The SDK's verifier in `tests/sdk/`.
    verify: &'static str,
    /// The header names `hookguard sign` must print: the ones the provider's deliveries carry.
    signs: &'static [&'static str],
    /// Unsigned headers of a real delivery that the SDK's verifier requires beside them.
    metadata: &'static [(&'static str, &'static str)],
}

/// `listen` on port 0, route `r` at `/hook`, the scheme with secrets `retired` and `current`.
fn config(case: &Case, upstream: &str) -> ConfigFile {
    ConfigFile::new(&format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n  - name: r\n    path: /hook\n    upstream: {upstream}\n    verify:\n      scheme: {}\n      secrets:\n        - id: retired\n          value: \"{}\"\n        - id: current\n          value: \"{}\"\n",
        case.scheme, case.retired, case.secret
    ))
}

/// POSTs through the proxy, bounded in time.
async fn deliver(url: &str, headers: &[(String, String)], body: &str) -> StatusCode {
    let sent = post(url, headers, body.to_owned());
    let (status, _, _) = tokio::time::timeout(Duration::from_secs(10), sent)
        .await
        .expect("the proxy answers within 10 s");
    status
}

/// The SDK signs each delivery; `hookguard run` forwards it with `x-hookguard-secret-id:
/// current`, headers and body unchanged, and answers 401 to it with a changed body, which
/// never reaches the upstream.
async fn sdk_as_sender(case: &Case) {
    let Some(sdk) = harness::installed(case.runtime) else {
        return;
    };
    let upstream = Upstream::start().await;
    let file = config(case, &upstream.url());
    let served = harness::Served::start(&file.path);
    let url = format!("http://{}/hook", served.addr);
    let (script, forms) = case.sign;
    for form in forms {
        let mut args = vec![case.secret.to_owned()];
        args.extend(form.iter().map(|a| a.to_string()));
        let headers =
            harness::header_lines(&sdk.run(script, &args, BODY.as_bytes()).success().stdout);
        let what = format!("{script} {form:?} for scheme {}", case.scheme);
        let before = upstream.count();
        let status = deliver(&url, &headers, BODY).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{what}: {headers:?}\n{}",
            served.log()
        );
        assert_eq!(upstream.count(), before + 1, "{what}: forwarded once");
        let got = upstream.last().expect("a request arrived");
        assert_eq!(&got.body[..], BODY.as_bytes(), "{what}: body byte for byte");
        let arrived = |name: &str| got.headers.get(name).and_then(|v| v.to_str().ok());
        assert_eq!(arrived("x-hookguard-verified"), Some("true"), "{what}");
        assert_eq!(arrived("x-hookguard-secret-id"), Some("current"), "{what}");
        for (name, value) in &headers {
            assert_eq!(
                arrived(name),
                Some(value.as_str()),
                "{what}: {name} unchanged"
            );
        }
        let status = deliver(&url, &headers, &changed_body()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: changed body");
        assert_eq!(
            upstream.count(),
            before + 1,
            "{what}: a changed body is never forwarded"
        );
    }
}

/// `hookguard sign` prints the provider's header names, the SDK's verifier accepts them for
/// the body, and rejects them for a changed body.
fn sdk_as_verifier(case: &Case) {
    let Some(sdk) = harness::installed(case.runtime) else {
        return;
    };
    let file = config(case, "http://127.0.0.1:1");
    let signed = harness::hookguard_sign(&file.path, &["--secret", "current"], BODY.as_bytes());
    let mut names: Vec<String> = signed.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    names.sort();
    let mut expected: Vec<String> = case.signs.iter().map(|n| n.to_ascii_lowercase()).collect();
    expected.sort();
    assert_eq!(
        names, expected,
        "`hookguard sign` for {}: {signed:?}",
        case.scheme
    );
    let mut args = vec![case.secret.to_owned()];
    let metadata = case
        .metadata
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()));
    args.extend(
        signed
            .into_iter()
            .chain(metadata)
            .map(|(n, v)| format!("{n}: {v}")),
    );
    assert_eq!(
        sdk.verdict(case.verify, &args, BODY.as_bytes()),
        Verdict::Valid,
        "{} accepts `hookguard sign` for {}: {args:?}",
        case.verify,
        case.scheme
    );
    let verdict = sdk.verdict(case.verify, &args, changed_body().as_bytes());
    assert!(
        matches!(verdict, Verdict::Invalid(_)),
        "{} accepted `hookguard sign`'s headers for a changed body",
        case.verify
    );
}

const SVIX: Case = Case {
    scheme: "svix",
    runtime: Runtime::Python,
    secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
    retired: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    sign: ("svix_sign.py", &[&[]]),
    verify: "svix_verify.py",
    signs: &["svix-id", "svix-timestamp", "svix-signature"],
    metadata: &[],
};

// Its secret's base64 lacks the `=` padding, as the Standard Webhooks libraries accept it.
const STANDARD_WEBHOOKS: Case = Case {
    scheme: "standard-webhooks",
    runtime: Runtime::Python,
    secret: "whsec_aG9va2d1YXJkLXNkay1pbnRlcm9wLWtleS0zMmJ5dGU",
    retired: "whsec_cmV0aXJlZC1zdGFuZGFyZC13ZWJob29rcy1rZXk=",
    sign: ("standardwebhooks_sign.py", &[&[]]),
    verify: "standardwebhooks_verify.py",
    signs: &["webhook-id", "webhook-timestamp", "webhook-signature"],
    metadata: &[],
};

const STRIPE: Case = Case {
    scheme: "stripe",
    runtime: Runtime::Python,
    secret: "whsec_hookguard_sdk_interop_current",
    retired: "whsec_hookguard_sdk_interop_retired",
    sign: ("stripe_sign.py", &[&[]]),
    verify: "stripe_verify.py",
    signs: &["stripe-signature"],
    metadata: &[],
};

const SLACK: Case = Case {
    scheme: "slack",
    runtime: Runtime::Python,
    secret: "8f742231b10e8888abcd99yyyzzz85a5",
    retired: "0f6e0e8c8d1b4a3f9c2d7e5a6b4c3d2e",
    sign: ("slack_sign.py", &[&[]]),
    verify: "slack_verify.py",
    signs: &["x-slack-request-timestamp", "x-slack-signature"],
    metadata: &[],
};

const GITHUB: Case = Case {
    scheme: "github",
    runtime: Runtime::Node,
    secret: "It's a Secret to Everybody",
    retired: "It was a Secret to Everybody",
    sign: ("github_sign.mjs", &[&[]]),
    verify: "github_verify.mjs",
    signs: &["x-hub-signature-256"],
    metadata: &[],
};

// Signed both as webhooks (`X-Shopify-*`) and as the newer Events deliveries (`shopify-*`).
const SHOPIFY: Case = Case {
    scheme: "shopify",
    runtime: Runtime::Node,
    secret: "shpss_hookguard_sdk_interop_current",
    retired: "shpss_hookguard_sdk_interop_retired",
    sign: ("shopify_sign.mjs", &[&[], &["events"]]),
    verify: "shopify_verify.mjs",
    signs: &["x-shopify-hmac-sha256"],
    metadata: &[
        ("X-Shopify-Topic", "orders/create"),
        ("X-Shopify-Shop-Domain", "hookguard-test.myshopify.com"),
        ("X-Shopify-API-Version", "2026-01"),
        (
            "X-Shopify-Webhook-Id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        ),
    ],
};

#[tokio::test]
async fn a_delivery_svix_signed_is_forwarded_and_rejected_with_a_changed_body() {
    sdk_as_sender(&SVIX).await;
}

#[test]
fn svix_accepts_what_hookguard_sign_prints_and_rejects_it_for_a_changed_body() {
    sdk_as_verifier(&SVIX);
}

#[tokio::test]
async fn a_delivery_standard_webhooks_signed_is_forwarded_and_rejected_with_a_changed_body() {
    sdk_as_sender(&STANDARD_WEBHOOKS).await;
}

#[test]
fn standard_webhooks_accepts_what_hookguard_sign_prints_and_rejects_it_for_a_changed_body() {
    sdk_as_verifier(&STANDARD_WEBHOOKS);
}

#[tokio::test]
async fn a_delivery_stripe_signed_is_forwarded_and_rejected_with_a_changed_body() {
    sdk_as_sender(&STRIPE).await;
}

#[test]
fn stripe_accepts_what_hookguard_sign_prints_and_rejects_it_for_a_changed_body() {
    sdk_as_verifier(&STRIPE);
}

#[tokio::test]
async fn a_request_slack_sdk_signed_is_forwarded_and_rejected_with_a_changed_body() {
    sdk_as_sender(&SLACK).await;
}

#[test]
fn slack_sdk_accepts_what_hookguard_sign_prints_and_rejects_it_for_a_changed_body() {
    sdk_as_verifier(&SLACK);
}

#[tokio::test]
async fn a_delivery_octokit_signed_is_forwarded_and_rejected_with_a_changed_body() {
    sdk_as_sender(&GITHUB).await;
}

#[test]
fn octokit_accepts_what_hookguard_sign_prints_and_rejects_it_for_a_changed_body() {
    sdk_as_verifier(&GITHUB);
}

#[tokio::test]
async fn shopify_webhooks_and_events_deliveries_shopify_api_signed_are_forwarded_and_rejected_with_a_changed_body(
) {
    sdk_as_sender(&SHOPIFY).await;
}

#[test]
fn shopify_api_accepts_what_hookguard_sign_prints_and_rejects_it_for_a_changed_body() {
    sdk_as_verifier(&SHOPIFY);
}
