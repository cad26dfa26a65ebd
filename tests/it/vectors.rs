//! The providers' own published examples (`tests/data/published.json`) give their expected
//! verdict through hookguard's real config path: YAML in, `compile::load`, `verify`.

use base64::Engine;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use hookguard::verify::{Rejected, Verified};

use crate::support::{load_yaml, one_route, verify_route};

/// The vector file's scheme ids and hookguard's `scheme:` names (see the vectors' README).
const SCHEMES: &[(&str, &str)] = &[
    ("expedia_v2", "expedia"),
    ("stripe", "stripe"),
    ("github_sha256", "github"),
    ("standard_webhooks", "standard-webhooks"),
    ("svix", "svix"),
    ("slack", "slack"),
    ("shopify", "shopify"),
    ("sendgrid", "sendgrid"),
    ("twilio", "twilio"),
    ("square", "square"),
    ("hubspot_v3", "hubspot"),
    ("adyen_notification", "adyen-notification"),
    ("paddle", "paddle"),
    ("adyen_hmac_header", "adyen"),
    ("coinbase_commerce", "coinbase"),
];

pub fn field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("vector field `{key}` is not a string: {v}"))
}

/// The route YAML for one vector: its scheme, every secret as an inline `value:`, and, for a
/// vector that names the URL the sender called, that URL's scheme and host as `public_url`.
pub fn config_for(scheme: &str, secrets: &[Value], public_url: Option<&str>) -> String {
    let mut verify = format!("scheme: {scheme}\nsecrets:\n");
    for (i, s) in secrets.iter().enumerate() {
        let secret = s.as_str().expect("secrets are strings");
        let quoted = serde_json::to_string(secret).expect("json string");
        verify.push_str(&format!("  - id: s{i}\n    value: {quoted}\n"));
    }
    let extra = public_url.map_or(String::new(), |u| format!("public_url: \"{u}\"\n"));
    one_route(&extra, &verify)
}

/// `https://host:port/path?q` as (`https://host:port`, `/path?q`).
fn split_url(url: &str) -> (String, String) {
    let uri: http::Uri = url
        .parse()
        .unwrap_or_else(|e| panic!("vector url {url}: {e}"));
    let base = format!(
        "{}://{}",
        uri.scheme_str().expect("scheme"),
        uri.authority().expect("host")
    );
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    (base, path)
}

/// The verdict of one vector through the real config path, as scheme `scheme`: its secrets
/// in a route's YAML (with `public_url` from the vector's `url`), its request, at its `now`.
pub fn run(v: &Value, scheme: &str) -> Result<Verified, Rejected> {
    let secrets = v["secrets"].as_array().expect("secrets is a list");
    let url = v.get("url").and_then(Value::as_str).map(split_url);
    let snapshot = load_yaml(&config_for(
        scheme,
        secrets,
        url.as_ref().map(|u| u.0.as_str()),
    ));
    let headers = header_map(v);
    let body = body(v);
    let path = url
        .as_ref()
        .map_or_else(|| field(v, "path"), |u| u.1.as_str());
    let req = hookguard::verify::Request {
        chunks: &[],
        method: field(v, "method"),
        path,
        headers: &headers,
        body: &body,
    };
    let now_ms = v["now"].as_i64().expect("now is an integer") * 1000;
    verify_route(&snapshot, "r", &req, now_ms)
}

/// Asserts that `v` gives its `expect`ed verdict as scheme `scheme`.
pub fn assert_verdict(v: &Value, scheme: &str) {
    let id = field(v, "id");
    let verdict = run(v, scheme);
    match field(v, "expect") {
        "accept" => assert!(verdict.is_ok(), "{id}: expected accept, got {verdict:?}"),
        "reject" => assert!(verdict.is_err(), "{id}: expected reject, got {verdict:?}"),
        other => panic!("{id}: unknown expectation `{other}`"),
    }
}

/// The vector's headers; a list value arrives as several lines.
pub fn header_map(v: &Value) -> HeaderMap {
    let mut map = HeaderMap::new();
    let object = v["headers"].as_object().expect("headers is an object");
    for (name, value) in object {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("header name");
        let lines: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        for line in lines {
            let text = line.as_str().expect("header values are strings");
            map.append(&name, HeaderValue::from_str(text).expect("header value"));
        }
    }
    map
}

pub fn body(v: &Value) -> Vec<u8> {
    match v.get("body_b64") {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("body_b64 is a string"))
            .expect("body_b64 decodes"),
        None => field(v, "body").as_bytes().to_vec(),
    }
}

#[test]
fn every_published_vector_for_a_covered_scheme_gives_its_expected_verdict() {
    let text = include_str!("../data/published.json");
    let vectors: Vec<Value> = serde_json::from_str(text).expect("published.json parses");
    let (mut covered, mut skipped) = (0, 0);
    for v in &vectors {
        let Some((_, scheme)) = SCHEMES.iter().find(|(name, _)| *name == field(v, "scheme")) else {
            skipped += 1;
            continue;
        };
        assert_verdict(v, scheme);
        covered += 1;
    }
    println!("published vectors: {covered} covered, {skipped} skipped (schemes hookguard does not cover)");
    assert_eq!(skipped, 0, "every published vector gives its verdict");
    assert_eq!(covered + skipped, vectors.len());
}
