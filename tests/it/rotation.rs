//! Rotation without restarts: secrets added and removed by atomic rename while a stream of
//! signed requests keeps flowing, `expires` and `not_before` on the clock, trailing newlines
//! in secret files, and expiry warnings.
//!
//! [`Stream`] is the shared harness (also used by `reload`): background clients send signed
//! requests without pause and record every response; each config change opens an *epoch* with
//! the credentials it must accept. At the end every response is checked against the epochs
//! that could have been in force while it was in flight: the one current when it was sent and
//! any written before it finished. A verdict consistent with none is a wrong verdict.

// Helpers outside `#[test]` functions panic on setup failure too, as tests do.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;

use crate::net::{post, Proxy, Upstream};

/// The contract's bound from write to new secret in force, and the slack a loaded 2-core
/// test machine gets on top of it.
pub const IN_FORCE: Duration = Duration::from_secs(1);
pub const SLACK: Duration = Duration::from_millis(500);

/// Steady-state traffic recorded after each change is seen in force.
const DWELL: Duration = Duration::from_millis(150);

/// What one request carries: the key its `github` signature is made with and the key in its
/// `X-Api-Key` header (the stream's route has both checks, so a request mixing two configs'
/// secrets is valid under neither).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cred {
    pub hmac: &'static str,
    pub api: &'static str,
}

/// The same key for both checks.
pub fn both(key: &'static str) -> Cred {
    Cred {
        hmac: key,
        api: key,
    }
}

/// Keys each check accepts, by key label.
#[derive(Clone, Debug)]
pub struct Accepts {
    pub hmac: HashSet<&'static str>,
    pub api: HashSet<&'static str>,
}

impl Accepts {
    /// Both checks accept exactly `keys`.
    pub fn both(keys: &[&'static str]) -> Accepts {
        Accepts {
            hmac: keys.iter().copied().collect(),
            api: keys.iter().copied().collect(),
        }
    }

    fn valid(&self, c: Cred) -> bool {
        self.hmac.contains(c.hmac) && self.api.contains(c.api)
    }

    fn same(&self, other: &Accepts) -> bool {
        self.hmac == other.hmac && self.api == other.api
    }
}

/// A route `r` at `/hook` with a `github` check and an `api-key` check; each entry is
/// `(id, source)` where source is YAML for one of `value:`, `file:` (plus optional window).
pub fn stream_config(
    listen: &str,
    upstream: &str,
    hmac: &[(&str, &str)],
    api: &[(&str, &str)],
) -> String {
    let list = |entries: &[(&str, &str)]| {
        entries
            .iter()
            .map(|(id, src)| format!("          - id: {id}\n            {src}\n"))
            .collect::<String>()
    };
    format!(
        "listen: \"{listen}\"\nlimits:\n  header_timeout: 2s\n  upstream_timeout: 5s\nroutes:\n  - name: r\n    path: /hook\n    upstream: {upstream}\n    verify:\n      - scheme: github\n        secrets:\n{}      - scheme: api-key\n        secrets:\n{}",
        list(hmac),
        list(api)
    )
}

/// `value: "<key>"`.
pub fn value(key: &str) -> String {
    format!("value: \"{key}\"")
}

/// Writes `bytes` to a temp file in `path`'s directory and renames it over `path`.
pub fn replace(path: &Path, bytes: &[u8]) {
    let name = path.file_name().unwrap().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// `X-Hub-Signature-256` over `body` with `key`, and `X-Api-Key`.
pub fn headers(hmac_key: &[u8], api_key: &[u8], body: &[u8]) -> Vec<(String, String)> {
    let mut mac = Hmac::<Sha256>::new_from_slice(hmac_key).unwrap();
    mac.update(body);
    let sig = hex::encode(mac.finalize().into_bytes());
    vec![
        ("x-hub-signature-256".into(), format!("sha256={sig}")),
        (
            "x-api-key".into(),
            String::from_utf8(api_key.to_vec()).unwrap(),
        ),
    ]
}

#[derive(Clone, Copy, Debug)]
struct Record {
    sent: Instant,
    done: Instant,
    cred: Cred,
    /// 0 for a transport error.
    status: u16,
}

#[derive(Debug)]
struct Epoch {
    accepts: Accepts,
    written: Instant,
    /// Upper bound of the instant the epoch's snapshot was installed: when the first response
    /// only it explains came back.
    in_force: Option<Instant>,
}

/// Background clients sending signed requests without pause.
pub struct Stream {
    keys: Arc<HashMap<&'static str, Vec<u8>>>,
    plan: Arc<Mutex<Vec<Cred>>>,
    records: Arc<Mutex<Vec<Record>>>,
    epochs: Vec<Epoch>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// What a finished stream saw.
#[derive(Debug)]
pub struct Report {
    pub requests: usize,
}

impl Stream {
    /// Starts two clients against `url` (…/hook) sending `send` in turn; the running config
    /// accepts `accepts`. `keys` maps key labels to key bytes.
    pub fn start(
        url: String,
        keys: &[(&'static str, &[u8])],
        accepts: Accepts,
        send: &[Cred],
    ) -> Stream {
        let keys: Arc<HashMap<_, _>> =
            Arc::new(keys.iter().map(|(k, v)| (*k, v.to_vec())).collect());
        let plan = Arc::new(Mutex::new(send.to_vec()));
        let records = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let tasks = (0..2)
            .map(|worker| {
                let (keys, plan, records, stop, client, url) = (
                    keys.clone(),
                    plan.clone(),
                    records.clone(),
                    stop.clone(),
                    client.clone(),
                    url.clone(),
                );
                tokio::spawn(async move {
                    let mut n = worker;
                    while !stop.load(Ordering::Relaxed) {
                        let cred = {
                            let plan = plan.lock().unwrap();
                            plan[n % plan.len()]
                        };
                        n += 1;
                        let body = format!("{{\"worker\":{worker},\"n\":{n}}}");
                        let sent = Instant::now();
                        let status = send_one(&client, &url, &keys, cred, body).await;
                        let done = Instant::now();
                        records.lock().unwrap().push(Record {
                            sent,
                            done,
                            cred,
                            status,
                        });
                    }
                })
            })
            .collect();
        Stream {
            keys,
            plan,
            records,
            epochs: vec![Epoch {
                accepts,
                written: Instant::now(),
                in_force: Some(Instant::now()),
            }],
            stop,
            tasks,
        }
    }

    /// Opens a new epoch: from now on the config on disk accepts `accepts`, and the clients
    /// send `send`. Call before writing the change.
    pub fn begin(&mut self, accepts: Accepts, send: &[Cred]) {
        self.epochs.push(Epoch {
            accepts,
            written: Instant::now(),
            in_force: None,
        });
        *self.plan.lock().unwrap() = send.to_vec();
    }

    /// Waits until a response only the newest epoch explains comes back, asserting it does
    /// within 1 s (+ slack) of `since`; then records steady-state traffic for a moment.
    /// Returns the time from `since` to that response.
    pub async fn await_in_force(&mut self, since: Instant, what: &str) -> Duration {
        let n = self.epochs.len();
        assert!(n >= 2, "no change to wait for");
        let (old, new) = (&self.epochs[n - 2].accepts, &self.epochs[n - 1].accepts);
        assert!(!old.same(new), "{what}: the change is not observable");
        let deadline = since + IN_FORCE + SLACK;
        let seen = loop {
            let first = self
                .records
                .lock()
                .unwrap()
                .iter()
                .filter(|r| r.sent >= since && explains(new, r) && !explains(old, r))
                .map(|r| r.done)
                .min();
            if let Some(done) = first {
                break done;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not in force {:?} after the change",
                IN_FORCE + SLACK
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        self.epochs[n - 1].in_force = Some(seen);
        tokio::time::sleep(DWELL).await;
        seen - since
    }

    /// [`Stream::begin`], run `write`, then [`Stream::await_in_force`] from the write.
    pub async fn change(
        &mut self,
        accepts: Accepts,
        send: &[Cred],
        what: &str,
        write: impl FnOnce(),
    ) -> Duration {
        self.begin(accepts, send);
        let since = Instant::now();
        write();
        self.await_in_force(since, what).await
    }

    /// Lets the stream run for `d` with no change.
    pub async fn dwell(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }

    /// Stops the clients and checks every response: only 200 and 401, each explained by an
    /// epoch that could have been in force while it was in flight, and every credential of
    /// every epoch's plan answered at least once in that epoch's steady state.
    pub async fn finish(mut self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        for t in std::mem::take(&mut self.tasks) {
            t.await.unwrap();
        }
        let records = self.records.lock().unwrap().clone();
        let mut wrong = Vec::new();
        for r in &records {
            assert!(
                r.status == 200 || r.status == 401,
                "{:?} answered {} (0 = transport error)",
                r.cred,
                r.status
            );
            let possible: Vec<usize> = (0..self.epochs.len())
                .filter(|&k| self.could_serve(k, r))
                .collect();
            if !possible
                .iter()
                .any(|&k| explains(&self.epochs[k].accepts, r))
            {
                wrong.push(format!(
                    "{:?} got {} while epochs {possible:?} were possible",
                    r.cred, r.status
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "{} wrong verdicts of {}: {:?}",
            wrong.len(),
            records.len(),
            &wrong[..wrong.len().min(10)]
        );
        assert!(!self.keys.is_empty());
        Report {
            requests: records.len(),
        }
    }

    /// Whether epoch `k`'s snapshot could have answered `r`: written before `r` finished, and
    /// not yet known superseded when `r` was sent.
    fn could_serve(&self, k: usize, r: &Record) -> bool {
        let written = k == 0 || self.epochs[k].written <= r.done;
        let superseded = self
            .epochs
            .get(k + 1)
            .and_then(|next| next.in_force)
            .is_some_and(|t| t <= r.sent);
        written && !superseded
    }

    /// Asserts the current epoch's plan was answered after it came in force.
    pub fn assert_steady_state_covered(&self) {
        let epoch = self.epochs.last().unwrap();
        let since = epoch.in_force.expect("in force");
        let plan = self.plan.lock().unwrap().clone();
        let records = self.records.lock().unwrap();
        for cred in plan {
            let n = records
                .iter()
                .filter(|r| r.sent >= since && r.cred == cred)
                .count();
            assert!(n > 0, "{cred:?} was not sent in steady state");
        }
    }
}

/// Whether `r`'s status is the verdict `accepts` gives its credentials.
fn explains(accepts: &Accepts, r: &Record) -> bool {
    let valid = accepts.valid(r.cred);
    (valid && r.status == 200) || (!valid && r.status == 401)
}

async fn send_one(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    url: &str,
    keys: &HashMap<&'static str, Vec<u8>>,
    cred: Cred,
    body: String,
) -> u16 {
    let mut req = Request::post(url);
    for (name, value) in headers(&keys[cred.hmac], &keys[cred.api], body.as_bytes()) {
        req = req.header(name, value);
    }
    let Ok(resp) = client
        .request(req.body(Full::new(body.into())).unwrap())
        .await
    else {
        return 0;
    };
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    status
}

/// Sends one request signed with `hmac`/`api` key bytes; returns the status.
pub async fn send_signed(proxy: &Proxy, hmac: &[u8], api: &[u8]) -> StatusCode {
    let body = b"{\"probe\":true}".to_vec();
    let h = headers(hmac, api, &body);
    post(&format!("{}/hook", proxy.url()), &h, body).await.0
}

/// A metric sample's value, 0 when absent.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// A `fmt` subscriber writing into a buffer, for the current thread only.
pub fn capture() -> (tracing::Dispatch, Arc<Mutex<Vec<u8>>>) {
    #[derive(Clone)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Arc::new(Mutex::new(Vec::new()));
    let writer = Buf(buf.clone());
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    (tracing::Dispatch::new(subscriber), buf)
}

/// RFC 3339 for Unix milliseconds.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn now_ms() -> i64 {
    hookguard::config::clock::now_ms()
}

/// Sleeps until the wall clock passes `ms` (Unix milliseconds).
async fn sleep_until_ms(ms: i64) {
    let left = ms - now_ms();
    if left > 0 {
        tokio::time::sleep(Duration::from_millis(left as u64)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotates_secrets_by_rename_without_a_wrong_verdict() {
    let upstream = Upstream::start().await;
    let write = |keys: &[&str]| {
        let entries: Vec<(&str, String)> = keys.iter().map(|k| (*k, value(k))).collect();
        let entries: Vec<(&str, &str)> = entries.iter().map(|(k, v)| (*k, v.as_str())).collect();
        stream_config("127.0.0.1:0", &upstream.url(), &entries, &entries)
    };
    let proxy = Proxy::start_reloading(&write(&["key-a"]), &[]).await;
    let keys: [(&str, &[u8]); 4] = [
        ("key-a", b"key-a"),
        ("key-b", b"key-b"),
        ("key-c", b"key-c"),
        ("wrong", b"wrong"),
    ];
    let url = format!("{}/hook", proxy.url());
    let a_only = Accepts::both(&["key-a"]);
    let mut stream = Stream::start(url, &keys, a_only, &[both("key-a"), both("key-b")]);
    stream.dwell(DWELL).await;

    let took_add = stream
        .change(
            Accepts::both(&["key-a", "key-b"]),
            &[both("key-b"), both("key-a"), both("wrong")],
            "adding key-b by rename",
            || replace(&proxy.config, write(&["key-a", "key-b"]).as_bytes()),
        )
        .await;
    stream.assert_steady_state_covered();

    let took_remove = stream
        .change(
            Accepts::both(&["key-b"]),
            &[both("key-b"), both("key-a")],
            "removing key-a by rename",
            || replace(&proxy.config, write(&["key-b"]).as_bytes()),
        )
        .await;
    stream.assert_steady_state_covered();

    // Replacing every secret at once: a request signed across the two configs (one check
    // from each) is valid under neither, so a snapshot mixing them would show here.
    let mixed = [
        both("key-c"),
        both("key-b"),
        Cred {
            hmac: "key-b",
            api: "key-c",
        },
        Cred {
            hmac: "key-c",
            api: "key-b",
        },
    ];
    let took_swap = stream
        .change(
            Accepts::both(&["key-c"]),
            &mixed,
            "replacing key-b with key-c by rename",
            || replace(&proxy.config, write(&["key-c"]).as_bytes()),
        )
        .await;
    stream.assert_steady_state_covered();

    let report = stream.finish().await;
    println!(
        "rotation stream: {} requests, no wrong verdict; in force after {took_add:?}, {took_remove:?}, {took_swap:?}",
        report.requests
    );
    assert!(upstream.count() > 0);
}

#[tokio::test]
async fn secret_stops_being_accepted_when_it_expires_without_a_reload() {
    let upstream = Upstream::start().await;
    let expires = now_ms() + 1_500;
    let expiring = format!(
        "value: \"key-old\"\n            expires: \"{}\"",
        rfc3339(expires)
    );
    let entries = [("old", expiring.as_str()), ("new", "value: \"key-new\"")];
    let yaml = stream_config("127.0.0.1:0", &upstream.url(), &entries, &entries);
    let proxy = Proxy::start(&yaml, &[]).await;

    assert_eq!(
        send_signed(&proxy, b"key-old", b"key-old").await,
        StatusCode::OK
    );
    sleep_until_ms(expires + 50).await;
    assert_eq!(
        send_signed(&proxy, b"key-old", b"key-old").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send_signed(&proxy, b"key-new", b"key-new").await,
        StatusCode::OK
    );
    let snapshot = proxy.app.shared.load();
    assert_eq!(snapshot.source, proxy.config, "no other config was loaded");
    assert_eq!(
        metric(
            &proxy.metrics().await,
            "hookguard_config_reloads_total{result=\"success\"}"
        ),
        0.0,
        "no reload happened"
    );
}

#[tokio::test]
async fn secret_is_accepted_once_not_before_passes_and_rejected_as_no_active_secret_until_then() {
    let upstream = Upstream::start().await;
    let not_before = now_ms() + 1_500;
    let future = format!(
        "value: \"key-future\"\n            not_before: \"{}\"",
        rfc3339(not_before)
    );
    let entries = [("future", future.as_str())];
    let yaml = stream_config("127.0.0.1:0", &upstream.url(), &entries, &entries);
    let proxy = Proxy::start(&yaml, &[]).await;

    assert_eq!(
        send_signed(&proxy, b"key-future", b"key-future").await,
        StatusCode::UNAUTHORIZED
    );
    let series =
        "hookguard_verifications_total{route=\"r\",result=\"no_active_secret\",secret_id=\"\"}";
    assert_eq!(metric(&proxy.metrics().await, series), 1.0);
    assert_eq!(upstream.count(), 0);

    sleep_until_ms(not_before + 50).await;
    assert_eq!(
        send_signed(&proxy, b"key-future", b"key-future").await,
        StatusCode::OK
    );
    assert_eq!(upstream.count(), 1);
    assert_eq!(metric(&proxy.metrics().await, series), 1.0);
}

#[tokio::test]
async fn trailing_newline_or_crlf_in_a_secret_file_is_not_part_of_the_key() {
    let upstream = Upstream::start().await;
    let hmac = [
        ("lf", "file: lf.txt"),
        ("crlf", "file: crlf.txt"),
        ("two", "file: two.txt"),
    ];
    let api = [("k", "value: \"api\"")];
    let yaml = stream_config("127.0.0.1:0", &upstream.url(), &hmac, &api);
    let files: [(&str, &[u8]); 3] = [
        ("lf.txt", b"key-lf\n"),
        ("crlf.txt", b"key-crlf\r\n"),
        ("two.txt", b"key-two\n\n"),
    ];
    let proxy = Proxy::start(&yaml, &files).await;

    for (key, want) in [
        (&b"key-lf"[..], StatusCode::OK),
        (b"key-lf\n", StatusCode::UNAUTHORIZED),
        (b"key-crlf", StatusCode::OK),
        (b"key-crlf\r", StatusCode::UNAUTHORIZED),
        (b"key-crlf\r\n", StatusCode::UNAUTHORIZED),
        // Only one trailing newline is dropped.
        (b"key-two\n", StatusCode::OK),
        (b"key-two", StatusCode::UNAUTHORIZED),
    ] {
        let got = send_signed(&proxy, key, b"api").await;
        assert_eq!(got, want, "key {:?}", String::from_utf8_lossy(key));
    }
}

#[tokio::test]
async fn expiry_warning_is_logged_once_for_the_tightest_threshold() {
    let now = now_ms();
    let in_three_days = format!(
        "value: \"key-soon\"\n            expires: \"{}\"",
        rfc3339(now + 3 * 86_400_000)
    );
    // Both checks hold a secret `soon` (ids are unique per check only): each is warned about.
    let entries = [("soon", in_three_days.as_str()), ("later", "value: \"x\"")];
    let yaml = stream_config("127.0.0.1:0", "http://127.0.0.1:1", &entries, &entries);
    let proxy = Proxy::start(&yaml, &[]).await;
    let (dispatch, buf) = capture();
    let logged = |needle: &str| {
        let log = String::from_utf8(std::mem::take(&mut *buf.lock().unwrap())).unwrap();
        log.matches(needle).count()
    };

    let mut said = HashSet::new();
    tracing::dispatcher::with_default(&dispatch, || {
        hookguard::ops::expiry::check(&proxy.app, now, &mut said)
    });
    assert_eq!(said.len(), 2, "3 days left: one warning per check's secret");
    assert_eq!(logged("secret expires within 7 days"), 2);
    assert_eq!(logged("within 30 days"), 0);

    tracing::dispatcher::with_default(&dispatch, || {
        hookguard::ops::expiry::check(&proxy.app, now + 1_000, &mut said)
    });
    assert_eq!(said.len(), 2, "a second pass repeats nothing");
    assert_eq!(logged("secret expires"), 0);

    // Two days later the 1-day warning follows, once per secret.
    tracing::dispatcher::with_default(&dispatch, || {
        hookguard::ops::expiry::check(&proxy.app, now + 2 * 86_400_000 + 1, &mut said)
    });
    assert_eq!(said.len(), 4);
    assert_eq!(logged("secret expires within 1 day"), 2);
}
