//! `/metrics`, `/healthz` and `/readyz` over real sockets: every contract metric by its exact
//! name and labels, counters that move by exactly what each request should move, histograms,
//! per-secret series across use and reload, and readiness through start and shutdown.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hookguard::ops::reload::{reload, Trigger};
use hookguard::serve::app::App;
use http::StatusCode;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::net::{get, hdrs, now_s, post, Proxy, Upstream};

// --- a small OpenMetrics / Prometheus text parser ---

/// One sample line: `name{label="value",...} value`.
#[derive(Clone, Debug)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed exposition: its samples and the `# TYPE` of each family.
#[derive(Clone, Debug, Default)]
pub struct Exposition {
    pub samples: Vec<Sample>,
    pub types: HashMap<String, String>,
}

/// Parses the text format; panics on a line it cannot read (the exposition must be valid).
pub fn parse_exposition(text: &str) -> Exposition {
    let mut out = Exposition::default();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (family, kind) = rest.split_once(' ').expect("TYPE line has a kind");
            out.types.insert(family.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        out.samples.push(parse_sample(line));
    }
    out
}

fn parse_sample(line: &str) -> Sample {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("no value: {line}"));
    let name = line[..name_end].to_owned();
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(inner, line);
        labels = parsed;
        rest = after;
    }
    let value = rest
        .split_whitespace()
        .next()
        .unwrap_or_else(|| panic!("no value: {line}"));
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
    };
    Sample {
        name,
        labels,
        value,
    }
}

/// Reads `k="v",k2="v2"}` (escapes `\\`, `\"`, `\n`); returns the labels and the text after `}`.
fn parse_labels<'a>(mut s: &'a str, line: &str) -> (BTreeMap<String, String>, &'a str) {
    let mut labels = BTreeMap::new();
    loop {
        s = s.trim_start_matches(',');
        if let Some(after) = s.strip_prefix('}') {
            return (labels, after);
        }
        let (key, after) = s
            .split_once("=\"")
            .unwrap_or_else(|| panic!("bad labels: {line}"));
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => panic!("bad escape: {line}"),
                },
                Some((_, c)) => value.push(c),
                None => panic!("unterminated label value: {line}"),
            }
        };
        labels.insert(key.to_owned(), value);
        s = &after[end + 1..];
    }
}

impl Exposition {
    /// The value of the sample `name` whose labels are exactly `labels`.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == want)
            .map(|s| s.value)
    }

    /// Every sample named `name`, keyed by its labels written `k=v,k=v` (sorted).
    pub fn series(&self, name: &str) -> BTreeMap<String, f64> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .map(|s| (render(&s.labels), s.value))
            .collect()
    }

    /// The label names of every sample named `name`.
    fn label_names(&self, name: &str) -> Vec<Vec<String>> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.labels.keys().cloned().collect())
            .collect()
    }
}

fn render(labels: &BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

async fn scrape(proxy: &Proxy) -> Exposition {
    parse_exposition(&proxy.metrics().await)
}

/// The counter series that changed between two scrapes, with their increase.
fn changed(before: &Exposition, after: &Exposition, name: &str) -> BTreeMap<String, f64> {
    let old = before.series(name);
    after
        .series(name)
        .into_iter()
        .map(|(k, v)| {
            let was = old.get(&k).copied().unwrap_or(0.0);
            (k, v - was)
        })
        .filter(|(_, d)| *d != 0.0)
        .collect()
}

const COUNTERS: [&str; 3] = [
    "hookguard_requests_total",
    "hookguard_verifications_total",
    "hookguard_config_reloads_total",
];

/// Scrapes until exactly the `expected` counter series moved by one each since `last` (and
/// no other counter moved), or 2 s pass; then asserts it and makes the new scrape `last`.
async fn expect_moves(proxy: &Proxy, last: &mut Exposition, what: &str, expected: &[(&str, &str)]) {
    let want = |name: &str| -> BTreeMap<String, f64> {
        expected
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, labels)| (labels.to_string(), 1.0))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let now = scrape(proxy).await;
        let done = COUNTERS
            .iter()
            .all(|name| changed(last, &now, name) == want(name));
        if done || Instant::now() > deadline {
            for name in COUNTERS {
                assert_eq!(changed(last, &now, name), want(name), "{what}: {name}");
            }
            *last = now;
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("local addr").port()
}

/// Writes `bytes` on a fresh connection and reads until the server closes it.
async fn raw(proxy: &Proxy, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(bytes).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn github_route(name: &str, upstream: &str, secrets: &[(&str, &str)]) -> String {
    let mut out = format!(
        "  - name: {name}\n    path: /{name}\n    upstream: {upstream}\n    verify:\n      scheme: github\n      secrets:\n"
    );
    for (id, value) in secrets {
        out.push_str(&format!(
            "        - id: {id}\n          value: \"{value}\"\n"
        ));
    }
    out
}

const HEAD: &str = "listen: \"127.0.0.1:0\"\nadmin:\n  listen: \"127.0.0.1:0\"\nlimits:\n  header_timeout: 300ms\n  body_timeout: 300ms\n  upstream_timeout: 300ms\n  max_body_bytes: 64\nroutes:\n";

/// One route per outcome the counters must tell apart.
async fn counting_proxy(ok: &Upstream, slow: &Upstream) -> Proxy {
    let mut yaml = HEAD.to_owned();
    yaml += &github_route(
        "gh",
        &ok.url(),
        &[("new", "gh-new-key"), ("old", "gh-old-key")],
    );
    yaml += &format!(
        "  - name: st\n    path: /st\n    upstream: {}\n    tolerance: 5m\n    verify:\n      scheme: stripe\n      secrets:\n        - id: s1\n          value: \"whsec_stripe-key\"\n",
        ok.url()
    );
    yaml += &github_route("dead", &ok.url(), &[("gone", "dead-key")]);
    yaml += "          expires: 2020-01-01T00:00:00Z\n";
    let down = format!("http://127.0.0.1:{}", closed_port());
    yaml += &github_route("down", &down, &[("d", "down-key")]);
    yaml += &github_route("slow", &slow.url(), &[("s", "slow-key")]);
    Proxy::start(&yaml, &[]).await
}

#[tokio::test]
async fn counters_move_by_exactly_one_per_request_for_each_outcome_and_reason() {
    let ok = Upstream::start().await;
    let slow = Upstream::start_with(StatusCode::OK, Duration::from_secs(2)).await;
    let proxy = counting_proxy(&ok, &slow).await;
    let url = |path: &str| format!("{}{path}", proxy.url());
    let body = b"{\"n\":1}";
    let mut last = scrape(&proxy).await;

    // Signed requests, one per outcome and verdict: (what, route, signing secret, age in
    // seconds, status, request outcome, verification result, its secret_id label).
    #[rustfmt::skip] // one case a line reads as a table; rustfmt would make it 60 lines
    let signed_cases = [
        ("valid with new", "gh", Some("new"), 0, 200, "forwarded", "valid", "new"),
        ("valid with old", "gh", Some("old"), 0, 200, "forwarded", "valid", "old"),
        ("valid stripe", "st", None, 0, 200, "forwarded", "valid", "s1"),
        ("stale", "st", None, 3600, 401, "rejected", "stale", ""),
        ("no active secret", "dead", None, 0, 401, "rejected", "no_active_secret", ""),
        ("upstream down", "down", None, 0, 502, "upstream_error", "valid", "d"),
        ("upstream slow", "slow", None, 0, 504, "upstream_timeout", "valid", "s"),
    ];
    for (what, route, secret, age, status, outcome, result, id) in signed_cases {
        let signed = proxy.sign(route, secret, body, now_s() - age);
        let got = post(&url(&format!("/{route}")), &signed, &body[..]).await.0;
        assert_eq!(got.as_u16(), status, "{what}");
        let outcome = format!("outcome={outcome},route={route}");
        let verdict = format!("result={result},route={route},secret_id={id}");
        let moves = [
            ("hookguard_requests_total", outcome.as_str()),
            ("hookguard_verifications_total", verdict.as_str()),
        ];
        expect_moves(&proxy, &mut last, what, &moves).await;
    }

    let rejections = [
        (
            "wrong signature",
            hdrs(&[("x-hub-signature-256", &format!("sha256={}", "0".repeat(64)))]),
            "invalid",
        ),
        ("no signature", vec![], "missing"),
        (
            "unreadable signature",
            hdrs(&[("x-hub-signature-256", "sha256=not-hex")]),
            "malformed",
        ),
    ];
    for (what, headers, result) in rejections {
        assert_eq!(
            post(&url("/gh"), &headers, &body[..]).await.0,
            StatusCode::UNAUTHORIZED
        );
        let verdict = format!("result={result},route=gh,secret_id=");
        let moves = [
            ("hookguard_requests_total", "outcome=rejected,route=gh"),
            ("hookguard_verifications_total", verdict.as_str()),
        ];
        expect_moves(&proxy, &mut last, what, &moves).await;
    }

    let big = vec![b'x'; 65];
    let signed = proxy.sign("gh", Some("new"), &big, now_s());
    assert_eq!(
        post(&url("/gh"), &signed, big).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let moves = [("hookguard_requests_total", "outcome=too_large,route=gh")];
    expect_moves(&proxy, &mut last, "too large", &moves).await;

    assert_eq!(
        post(&url("/nowhere"), &[], &body[..]).await.0,
        StatusCode::NOT_FOUND
    );
    let moves = [("hookguard_requests_total", "outcome=no_route,route=")];
    expect_moves(&proxy, &mut last, "no route", &moves).await;

    // Body slower than body_timeout: the route is known, nothing was verified.
    let answer = raw(
        &proxy,
        format!("POST /gh HTTP/1.1\r\nhost: t\r\nx-hub-signature-256: sha256={}\r\ncontent-length: 10\r\n\r\nabc", "0".repeat(64)).as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let moves = [("hookguard_requests_total", "outcome=timeout,route=gh")];
    expect_moves(&proxy, &mut last, "body timeout", &moves).await;

    // Headers slower than header_timeout: no route is known yet.
    let answer = raw(&proxy, b"POST /gh HTTP/1.1\r\nhost: t\r\n").await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let moves = [("hookguard_requests_total", "outcome=timeout,route=")];
    expect_moves(&proxy, &mut last, "header timeout", &moves).await;

    assert_eq!(
        ok.count(),
        3,
        "only the verified requests reached the upstream"
    );
    assert_histograms_match_counts(&last);
}

/// Every route's duration histograms: `_bucket` (cumulative, `+Inf` = count), `_sum`, `_count`;
/// one request-duration observation per request the route counted, one upstream-duration
/// observation per forwarding attempt.
fn assert_histograms_match_counts(m: &Exposition) {
    let requests = m.series("hookguard_requests_total");
    for route in ["gh", "st", "dead", "down", "slow"] {
        let counted = |pred: &dyn Fn(&str) -> bool| -> f64 {
            requests
                .iter()
                .filter(|(k, _)| k.ends_with(&format!("route={route}")) && pred(k))
                .map(|(_, v)| v)
                .sum()
        };
        let all = counted(&|_| true);
        let forwarded = counted(&|k| {
            ["forwarded", "upstream_error", "upstream_timeout"]
                .iter()
                .any(|o| k.starts_with(&format!("outcome={o},")))
        });
        let family = "hookguard_request_duration_seconds";
        assert_histogram(m, family, route, all);
        let family = "hookguard_upstream_duration_seconds";
        if forwarded > 0.0 {
            assert_histogram(m, family, route, forwarded);
        } else {
            assert_eq!(m.get(&format!("{family}_count"), &[("route", route)]), None);
        }
    }
}

fn assert_histogram(m: &Exposition, family: &str, route: &str, count: f64) {
    let what = format!("{family}{{route={route}}}");
    let got = m.get(&format!("{family}_count"), &[("route", route)]);
    assert_eq!(got, Some(count), "{what}_count");
    let sum = m.get(&format!("{family}_sum"), &[("route", route)]);
    assert!(sum.is_some_and(|s| s > 0.0), "{what}_sum: {sum:?}");
    let mut buckets: Vec<(f64, f64)> = m
        .samples
        .iter()
        .filter(|s| s.name == format!("{family}_bucket") && s.labels["route"] == route)
        .map(|s| {
            (
                s.labels["le"].parse::<f64>().expect("le is a number"),
                s.value,
            )
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() > 5, "{what}: {buckets:?}");
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "{what} not cumulative"
    );
    assert_eq!(
        buckets.last().copied(),
        Some((f64::INFINITY, count)),
        "{what} +Inf"
    );
}

#[tokio::test]
async fn exposes_every_contract_metric_with_its_exact_name_type_and_labels() {
    let ok = Upstream::start().await;
    let slow = Upstream::start_with(StatusCode::OK, Duration::from_secs(2)).await;
    let proxy = counting_proxy(&ok, &slow).await;
    let body = b"x";
    let signed = proxy.sign("gh", Some("new"), body, now_s());
    assert_eq!(
        post(&format!("{}/gh", proxy.url()), &signed, &body[..])
            .await
            .0,
        StatusCode::OK
    );
    assert!(reload(&proxy.app, &proxy.config, Trigger::Signal));
    let (status, headers, _) = get(&format!("http://{}/metrics", proxy.admin)).await;
    assert_eq!(status, StatusCode::OK);
    let ctype = headers[http::header::CONTENT_TYPE].to_str().unwrap();
    assert!(ctype.starts_with("application/openmetrics-text"), "{ctype}");
    let m = scrape(&proxy).await;

    let contract: [(&str, &str, &[&str]); 12] = [
        (
            "hookguard_requests_total",
            "hookguard_requests",
            &["outcome", "route"],
        ),
        (
            "hookguard_verifications_total",
            "hookguard_verifications",
            &["result", "route", "secret_id"],
        ),
        (
            "hookguard_request_duration_seconds_bucket",
            "hookguard_request_duration_seconds",
            &["le", "route"],
        ),
        (
            "hookguard_request_duration_seconds_sum",
            "hookguard_request_duration_seconds",
            &["route"],
        ),
        (
            "hookguard_request_duration_seconds_count",
            "hookguard_request_duration_seconds",
            &["route"],
        ),
        (
            "hookguard_upstream_duration_seconds_bucket",
            "hookguard_upstream_duration_seconds",
            &["le", "route"],
        ),
        (
            "hookguard_upstream_duration_seconds_count",
            "hookguard_upstream_duration_seconds",
            &["route"],
        ),
        (
            "hookguard_config_reloads_total",
            "hookguard_config_reloads",
            &["result"],
        ),
        (
            "hookguard_config_last_reload_success_timestamp_seconds",
            "hookguard_config_last_reload_success_timestamp_seconds",
            &[],
        ),
        (
            "hookguard_secret_expiry_timestamp_seconds",
            "hookguard_secret_expiry_timestamp_seconds",
            &["route", "secret_id"],
        ),
        (
            "hookguard_secret_last_used_timestamp_seconds",
            "hookguard_secret_last_used_timestamp_seconds",
            &["route", "secret_id"],
        ),
        (
            "hookguard_secret_info",
            "hookguard_secret_info",
            &["fingerprint", "route", "secret_id"],
        ),
    ];
    for (name, family, labels) in contract {
        let names = m.label_names(name);
        assert!(!names.is_empty(), "{name} missing");
        assert!(names.iter().all(|n| n == labels), "{name} labels {names:?}");
        let kind = m.types.get(family).map(String::as_str);
        let want = if name.ends_with("_total") {
            "counter"
        } else if family.ends_with("duration_seconds") {
            "histogram"
        } else {
            "gauge"
        };
        assert_eq!(kind, Some(want), "# TYPE of {family}");
    }
    for result in ["success", "failure"] {
        let n = m.get("hookguard_config_reloads_total", &[("result", result)]);
        assert!(
            n.is_some(),
            "reloads_total{{result={result}}} exported from the start"
        );
    }
    assert_eq!(
        m.get(
            "hookguard_secret_info",
            &[
                ("route", "gh"),
                ("secret_id", "new"),
                ("fingerprint", &fingerprint("gh-new-key"))
            ]
        ),
        Some(1.0)
    );
}

fn fingerprint(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))[..16].to_owned()
}

fn unix(rfc3339: &str) -> f64 {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339);
    t.expect("RFC 3339").unix_timestamp() as f64
}

fn rotation_yaml(upstream: &str, gh_secrets: &str) -> String {
    format!(
        "{HEAD}  - name: gh\n    path: /gh\n    upstream: {upstream}\n    verify:\n      scheme: github\n      secrets:\n{gh_secrets}  - name: other\n    path: /other\n    upstream: {upstream}\n    verify:\n      scheme: github\n      secrets:\n        - id: old\n          value: \"other-old-key\"\n"
    )
}

const OLD_AND_NEW: &str = "        - id: old\n          value: \"rot-old-key\"\n          expires: 2030-06-01T00:00:00Z\n        - id: new\n          value: \"rot-new-key\"\n";
const NEW_AND_NEWER: &str = "        - id: new\n          value: \"rot-new-key\"\n        - id: newer\n          value: \"rot-newer-key\"\n          expires: 2031-01-01T12:30:00Z\n";

const LAST_USED: &str = "hookguard_secret_last_used_timestamp_seconds";
const EXPIRY: &str = "hookguard_secret_expiry_timestamp_seconds";

fn last_used(m: &Exposition, route: &str, id: &str) -> Option<f64> {
    m.get(LAST_USED, &[("route", route), ("secret_id", id)])
}

/// Posts a delivery to `gh` signed with `id`; returns the Unix-seconds interval it ran in.
async fn deliver_signed(proxy: &Proxy, id: &str) -> (f64, f64) {
    let before = now_s() as f64;
    let signed = proxy.sign("gh", Some(id), b"{}", now_s());
    let status = post(&format!("{}/gh", proxy.url()), &signed, &b"{}"[..])
        .await
        .0;
    assert_eq!(status, StatusCode::OK, "signed with {id}");
    (before, now_s() as f64 + 1.0)
}

#[tokio::test]
async fn last_used_time_moves_only_for_the_secret_that_signed() {
    let ok = Upstream::start().await;
    let proxy = Proxy::start(&rotation_yaml(&ok.url(), OLD_AND_NEW), &[]).await;
    let m = scrape(&proxy).await;
    for (route, id) in [("gh", "old"), ("gh", "new"), ("other", "old")] {
        assert_eq!(
            last_used(&m, route, id),
            Some(0.0),
            "{route}/{id} unused yet"
        );
    }

    let (from, to) = deliver_signed(&proxy, "new").await;
    let m = scrape(&proxy).await;
    let used_new = last_used(&m, "gh", "new").unwrap();
    assert!(
        (from..=to).contains(&used_new),
        "{from} <= {used_new} <= {to}"
    );
    assert_eq!(last_used(&m, "gh", "old"), Some(0.0));
    assert_eq!(
        last_used(&m, "other", "old"),
        Some(0.0),
        "same id, other route"
    );

    let (from, to) = deliver_signed(&proxy, "old").await;
    let m = scrape(&proxy).await;
    let used_old = last_used(&m, "gh", "old").unwrap();
    assert!(
        (from..=to).contains(&used_old),
        "{from} <= {used_old} <= {to}"
    );
    assert_eq!(last_used(&m, "gh", "new"), Some(used_new), "new untouched");
    assert_eq!(last_used(&m, "other", "old"), Some(0.0));
}

#[tokio::test]
async fn secret_series_show_fingerprint_and_expiry_and_follow_reloads() {
    let ok = Upstream::start().await;
    let proxy = Proxy::start(&rotation_yaml(&ok.url(), OLD_AND_NEW), &[]).await;
    let m = scrape(&proxy).await;
    let info = |m: &Exposition, id: &str, key: &str| {
        let fp = fingerprint(key);
        m.get(
            "hookguard_secret_info",
            &[("route", "gh"), ("secret_id", id), ("fingerprint", &fp)],
        )
    };
    assert_eq!(info(&m, "old", "rot-old-key"), Some(1.0));
    assert_eq!(info(&m, "new", "rot-new-key"), Some(1.0));
    assert_eq!(m.series("hookguard_secret_info").len(), 3);
    let gh = |id| [("route", "gh"), ("secret_id", id)];
    assert_eq!(
        m.get(EXPIRY, &gh("old")),
        Some(unix("2030-06-01T00:00:00Z"))
    );
    assert_eq!(
        m.get(EXPIRY, &gh("new")),
        None,
        "no expires, no expiry series"
    );
    let reloads = |m: &Exposition, r| m.get("hookguard_config_reloads_total", &[("result", r)]);
    let (ok_before, failed_before) = (reloads(&m, "success"), reloads(&m, "failure"));
    let stamp = "hookguard_config_last_reload_success_timestamp_seconds";
    deliver_signed(&proxy, "new").await;
    let used_new = last_used(&scrape(&proxy).await, "gh", "new").unwrap();
    assert!(used_new > 0.0);

    // Drop `old`, keep `new`, add `newer`.
    let from = now_s() as f64;
    std::fs::write(&proxy.config, rotation_yaml(&ok.url(), NEW_AND_NEWER)).unwrap();
    assert!(reload(&proxy.app, &proxy.config, Trigger::Signal));
    let m = scrape(&proxy).await;
    assert_eq!(
        last_used(&m, "gh", "old"),
        None,
        "removed secret's last-used gone"
    );
    assert_eq!(
        m.get(EXPIRY, &gh("old")),
        None,
        "removed secret's expiry gone"
    );
    assert_eq!(
        info(&m, "old", "rot-old-key"),
        None,
        "removed secret's info gone"
    );
    assert_eq!(
        last_used(&m, "gh", "new"),
        Some(used_new),
        "kept secret keeps its time"
    );
    assert_eq!(last_used(&m, "gh", "newer"), Some(0.0));
    assert_eq!(info(&m, "newer", "rot-newer-key"), Some(1.0));
    assert_eq!(
        m.get(EXPIRY, &gh("newer")),
        Some(unix("2031-01-01T12:30:00Z"))
    );
    assert_eq!(
        last_used(&m, "other", "old"),
        Some(0.0),
        "other route's `old` stays"
    );
    assert_eq!(reloads(&m, "success"), ok_before.map(|n| n + 1.0));
    assert_eq!(reloads(&m, "failure"), failed_before);
    let stamped = m.get(stamp, &[]).unwrap();
    assert!(
        (from..=now_s() as f64 + 1.0).contains(&stamped),
        "{stamped}"
    );

    // An invalid config changes nothing but the failure count.
    std::fs::write(&proxy.config, "listen: [not an address\n").unwrap();
    assert!(!reload(&proxy.app, &proxy.config, Trigger::Signal));
    let after = scrape(&proxy).await;
    assert_eq!(reloads(&after, "failure"), failed_before.map(|n| n + 1.0));
    assert_eq!(reloads(&after, "success"), reloads(&m, "success"));
    assert_eq!(after.get(stamp, &[]), Some(stamped));
    for name in [LAST_USED, EXPIRY, "hookguard_secret_info"] {
        assert_eq!(
            after.series(name),
            m.series(name),
            "{name} after a failed reload"
        );
    }
}

/// An `App` whose admin listener runs, without the proxy listener.
async fn admin_only() -> (Arc<App>, std::net::SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("hookguard.yaml");
    let yaml = format!(
        "{HEAD}{}",
        github_route("gh", "http://127.0.0.1:9", &[("a", "k")])
    );
    std::fs::write(&config, yaml).expect("write config");
    let app = App::new(hookguard::config::compile::load(&config).expect("valid config"));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(hookguard::ops::admin::run(
        listener,
        app.clone(),
        std::future::pending(),
    ));
    (app, addr, dir)
}

#[tokio::test]
async fn readyz_is_503_until_ready_and_again_once_draining_while_healthz_stays_200() {
    let (app, admin, _dir) = admin_only().await;
    let probe = |path: &str| {
        let url = format!("http://{admin}{path}");
        async move { get(&url).await }
    };
    assert_eq!(probe("/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(probe("/healthz").await.0, StatusCode::OK);
    app.set_ready();
    assert_eq!(probe("/readyz").await.0, StatusCode::OK);
    app.start_draining();
    assert_eq!(probe("/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(probe("/healthz").await.0, StatusCode::OK);
    assert_eq!(probe("/nope").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn readyz_turns_503_as_soon_as_shutdown_begins_while_a_request_is_still_in_flight() {
    let slow = Upstream::start_with(StatusCode::OK, Duration::from_millis(1500)).await;
    let yaml = format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n{}",
        github_route("gh", &slow.url(), &[("a", "k")])
    );
    let mut proxy = Proxy::start(&yaml, &[]).await;
    let readyz = format!("http://{}/readyz", proxy.admin);
    assert_eq!(get(&readyz).await.0, StatusCode::OK);
    let signed = proxy.sign("gh", None, b"{}", now_s());
    let url = format!("{}/gh", proxy.url());
    let in_flight = tokio::spawn(async move { post(&url, &signed, &b"{}"[..]).await });
    while slow.count() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    proxy.shutdown();
    let deadline = Instant::now() + Duration::from_secs(1);
    while get(&readyz).await.0 != StatusCode::SERVICE_UNAVAILABLE {
        assert!(
            Instant::now() < deadline,
            "/readyz still 200 after shutdown began"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        !in_flight.is_finished(),
        "503 observed while the request was in flight"
    );
    assert_eq!(
        in_flight.await.unwrap().0,
        StatusCode::OK,
        "the in-flight request finishes"
    );
    proxy.task.take().unwrap().await.unwrap();
    assert_eq!(get(&readyz).await.0, StatusCode::SERVICE_UNAVAILABLE);
}
