//! Reloading while traffic flows: invalid YAML, a Kubernetes `..data` symlink swap of a
//! `file:` secret, an in-place write, SIGHUP, a `listen` change, and a TLS certificate swap.
//! Every stream test ends with [`Stream::finish`], which fails on any wrong verdict or 5xx.

// Helpers outside `#[test]` functions panic on setup failure too, as tests do.
#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

use crate::net::{get, write_certs, Proxy, Upstream};
use crate::rotation::{
    both, capture, headers, metric, replace, send_signed, stream_config, value, Accepts, Cred,
    Stream, IN_FORCE, SLACK,
};

const FAILURES: &str = "hookguard_config_reloads_total{result=\"failure\"}";
const SUCCESSES: &str = "hookguard_config_reloads_total{result=\"success\"}";

/// Key labels every stream test may use, and their bytes.
const KEYS: [(&str, &[u8]); 6] = [
    ("key-a", b"key-a"),
    ("key-b", b"key-b"),
    ("key-c", b"key-c"),
    ("k8s-1", b"k8s-1"),
    ("k8s-2", b"k8s-2"),
    ("wrong", b"wrong"),
];

/// A config whose two checks both accept `keys` as `value:` secrets.
fn values(listen: &str, upstream: &str, keys: &[&str]) -> String {
    // Ids differ from the values, so a log can be searched for a leaked value.
    let entries: Vec<(String, String)> = keys
        .iter()
        .map(|k| (k.replace("key-", "id-"), value(k)))
        .collect();
    let entries: Vec<(&str, &str)> = entries
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    stream_config(listen, upstream, &entries, &entries)
}

/// Where a stream test's key goes: on both checks (configs from [`values`]), or on the
/// `github` check only while the `api-key` check keeps accepting `key-a`.
#[derive(Clone, Copy)]
enum On {
    Both,
    Hmac,
}

impl On {
    fn accepts(self, key: &'static str) -> Accepts {
        match self {
            On::Both => Accepts::both(&[key]),
            On::Hmac => Accepts {
                hmac: [key].into(),
                api: ["key-a"].into(),
            },
        }
    }

    fn cred(self, key: &'static str) -> Cred {
        match self {
            On::Both => both(key),
            On::Hmac => Cred {
                hmac: key,
                api: "key-a",
            },
        }
    }
}

/// Starts a stream at `proxy`'s `/hook`, whose running config accepts `old`, sending `old`
/// and `new`; then [`Stream::change`]s to a config that accepts `new` instead, by `write`.
/// Returns the stream and the time from the write until the change was in force.
async fn stream_through_swap(
    proxy: &Proxy,
    on: On,
    (old, new): (&'static str, &'static str),
    what: &str,
    write: impl FnOnce(),
) -> (Stream, Duration) {
    let url = format!("{}/hook", proxy.url());
    let mut stream = Stream::start(url, &KEYS, on.accepts(old), &[on.cred(old), on.cred(new)]);
    let took = stream
        .change(on.accepts(new), &[on.cred(new), on.cred(old)], what, write)
        .await;
    (stream, took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_yaml_keeps_the_last_good_config_serving_and_counts_the_failure() {
    let upstream = Upstream::start().await;
    let proxy =
        Proxy::start_reloading(&values("127.0.0.1:0", &upstream.url(), &["key-a"]), &[]).await;
    let (stream, _) = stream_through_swap(
        &proxy,
        On::Both,
        ("key-a", "key-b"),
        "replacing key-a with key-b",
        || {
            replace(
                &proxy.config,
                values("127.0.0.1:0", &upstream.url(), &["key-b"]).as_bytes(),
            )
        },
    )
    .await;
    let before = metric(&proxy.metrics().await, FAILURES);

    // Broken YAML that would, if half-applied, accept key-a again.
    let broken = values("127.0.0.1:0", &upstream.url(), &["key-a"]).replace("routes:", "routes: [");
    replace(&proxy.config, broken.as_bytes());
    let deadline = Instant::now() + IN_FORCE + SLACK;
    while metric(&proxy.metrics().await, FAILURES) <= before {
        assert!(
            Instant::now() < deadline,
            "the failed reload was not counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stream.dwell(Duration::from_millis(200)).await;
    stream.assert_steady_state_covered();
    let admin = proxy.admin;
    assert_eq!(
        get(&format!("http://{admin}/healthz")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&format!("http://{admin}/readyz")).await.0,
        StatusCode::OK
    );

    let report = stream.finish().await;
    println!("invalid yaml stream: {} requests", report.requests);
    assert_eq!(
        send_signed(&proxy, b"key-b", b"key-b").await,
        StatusCode::OK,
        "the last good config still serves"
    );
}

/// Turns the plain file `secrets/token` into the layout the kubelet mounts a Secret with:
/// `secrets/..2026_a/token`, `secrets/..data -> ..2026_a`, `secrets/token -> ..data/token`
/// (the last by renaming a symlink over the file, so the path never disappears).
fn mount_secret(dir: &Path, version: &str) {
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(secrets.join(version)).unwrap();
    std::fs::copy(secrets.join("token"), secrets.join(version).join("token")).unwrap();
    symlink(version, secrets.join("..data")).unwrap();
    symlink("..data/token", secrets.join(".token_tmp")).unwrap();
    std::fs::rename(secrets.join(".token_tmp"), secrets.join("token")).unwrap();
}

/// The kubelet's update: a new timestamped directory, a new `..data_tmp` symlink to it,
/// renamed over `..data`.
fn swap_secret(dir: &Path, version: &str, token: &[u8]) {
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(secrets.join(version)).unwrap();
    std::fs::write(secrets.join(version).join("token"), token).unwrap();
    symlink(version, secrets.join("..data_tmp")).unwrap();
    std::fs::rename(secrets.join("..data_tmp"), secrets.join("..data")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_symlink_swap_of_a_secret_file_takes_effect_within_a_second() {
    let upstream = Upstream::start().await;
    let hmac = [("k8s", "file: secrets/token")];
    let api = [("a", "value: \"key-a\"")];
    let yaml = stream_config("127.0.0.1:0", &upstream.url(), &hmac, &api);
    // Start on a plain file, mount it the kubelet's way (same bytes), then start watching.
    let proxy = Proxy::start(&yaml, &[("secrets/token", b"k8s-1\n")]).await;
    mount_secret(proxy.dir.path(), "..2026_a");
    hookguard::ops::reload::spawn(proxy.app.clone(), proxy.config.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (stream, took) = stream_through_swap(
        &proxy,
        On::Hmac,
        ("k8s-1", "k8s-2"),
        "..data symlink swap",
        || swap_secret(proxy.dir.path(), "..2026_b", b"k8s-2\n"),
    )
    .await;
    stream.assert_steady_state_covered();
    let report = stream.finish().await;
    println!(
        "k8s swap stream: {} requests, in force after {took:?}",
        report.requests
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_place_write_of_the_config_takes_effect_within_a_second() {
    let upstream = Upstream::start().await;
    let proxy =
        Proxy::start_reloading(&values("127.0.0.1:0", &upstream.url(), &["key-a"]), &[]).await;
    let (stream, took) = stream_through_swap(
        &proxy,
        On::Both,
        ("key-a", "key-b"),
        "in-place write",
        || {
            // std::fs::write truncates, then writes: the reloader may see the empty file.
            std::fs::write(
                &proxy.config,
                values("127.0.0.1:0", &upstream.url(), &["key-b"]),
            )
            .unwrap()
        },
    )
    .await;
    stream.assert_steady_state_covered();
    let report = stream.finish().await;
    println!(
        "in-place stream: {} requests, in force after {took:?}",
        report.requests
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_a_change_the_file_watcher_cannot_see() {
    use tokio::signal::unix::{signal, SignalKind};
    // SIGHUP's default action ends the process: hold a listener of our own so the signal is
    // handled even before the reloader's listener is up.
    let _hup = signal(SignalKind::hangup()).unwrap();
    let upstream = Upstream::start().await;
    let hmac = [("hup", "file: hup/token")];
    let api = [("a", "value: \"key-a\"")];
    let yaml = stream_config("127.0.0.1:0", &upstream.url(), &hmac, &api);
    let proxy = Proxy::start_reloading(&yaml, &[("hup/token", b"key-b")]).await;
    // A hard link in a directory nobody watches: writes through it change the secret's bytes
    // without an event in the watched `hup/` directory.
    let outside = tempfile::tempdir().unwrap();
    let link = outside.path().join("token");
    std::fs::hard_link(proxy.path("hup/token"), &link).unwrap();

    let url = format!("{}/hook", proxy.url());
    let (old, new) = (On::Hmac.cred("key-b"), On::Hmac.cred("key-c"));
    let mut stream = Stream::start(url, &KEYS, On::Hmac.accepts("key-b"), &[old, new]);
    stream.begin(On::Hmac.accepts("key-c"), &[new, old]);
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&link)
        .unwrap()
        .write_all(b"key-c")
        .unwrap();
    let successes = metric(&proxy.metrics().await, SUCCESSES);
    stream.dwell(Duration::from_millis(300)).await;
    assert_eq!(
        send_signed(&proxy, b"key-b", b"key-a").await,
        StatusCode::OK,
        "precondition: the watcher did not see the write"
    );

    let since = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let took = stream.await_in_force(since, "SIGHUP").await;
    stream.assert_steady_state_covered();
    assert!(metric(&proxy.metrics().await, SUCCESSES) > successes);
    let report = stream.finish().await;
    println!(
        "sighup stream: {} requests, in force {took:?} after the signal",
        report.requests
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_changing_listen_applies_the_rest_on_the_running_listener() {
    let upstream = Upstream::start().await;
    let proxy = Proxy::start_reloading(
        &values("127.0.0.1:0", &upstream.url(), &["key-a", "key-b"]),
        &[],
    )
    .await;
    let url = format!("{}/hook", proxy.url());
    let mut stream = Stream::start(
        url,
        &KEYS,
        Accepts::both(&["key-a", "key-b"]),
        &[both("key-a"), both("key-c")],
    );
    let took = stream
        .change(
            Accepts::both(&["key-a", "key-c"]),
            &[both("key-c"), both("key-b")],
            "listen changed with key-b replaced by key-c",
            || {
                let yaml = values("127.0.0.1:1", &upstream.url(), &["key-a", "key-c"]);
                replace(&proxy.config, yaml.as_bytes());
            },
        )
        .await;
    stream.assert_steady_state_covered();
    let report = stream.finish().await;
    assert_eq!(
        proxy.app.shared.load().listen.to_string(),
        "127.0.0.1:1",
        "the snapshot is the new config"
    );
    println!(
        "listen change stream: {} requests, in force after {took:?}",
        report.requests
    );
}

#[tokio::test]
async fn reload_changing_listen_or_admin_listen_says_a_restart_is_needed() {
    let upstream = Upstream::start().await;
    let proxy = Proxy::start(&values("127.0.0.1:0", &upstream.url(), &["key-a"]), &[]).await;
    let moved = values("127.0.0.1:1", &upstream.url(), &["key-b"]).replacen(
        "limits:",
        "admin:\n  listen: \"127.0.0.1:2\"\nlimits:",
        1,
    );
    replace(&proxy.config, moved.as_bytes());
    let (dispatch, buf) = capture();
    let installed = tracing::dispatcher::with_default(&dispatch, || {
        hookguard::ops::reload::reload(
            &proxy.app,
            &proxy.config,
            hookguard::ops::reload::Trigger::File,
        )
    });
    assert!(installed);
    let log = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("`listen` changed: restart hookguard to apply it"),
        "{log}"
    );
    assert!(
        log.contains("`admin.listen` changed: restart hookguard to apply it"),
        "{log}"
    );
    assert!(!log.contains("key-b"), "no secret in the log: {log}");
    assert_eq!(
        send_signed(&proxy, b"key-b", b"key-b").await,
        StatusCode::OK,
        "the rest of the config is applied on the running listener"
    );
}

#[tokio::test]
async fn failed_reload_logs_file_line_and_column_and_keeps_the_running_config() {
    let upstream = Upstream::start().await;
    let proxy = Proxy::start(&values("127.0.0.1:0", &upstream.url(), &["key-a"]), &[]).await;
    let mut broken = values("127.0.0.1:0", &upstream.url(), &["key-b"]);
    broken.push_str("    surprise: true\n");
    replace(&proxy.config, broken.as_bytes());
    let (dispatch, buf) = capture();
    let installed = tracing::dispatcher::with_default(&dispatch, || {
        hookguard::ops::reload::reload(
            &proxy.app,
            &proxy.config,
            hookguard::ops::reload::Trigger::Signal,
        )
    });
    assert!(!installed);
    let log = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
    let lines = broken.lines().count();
    let at = format!("{}:{lines}:", proxy.config.display());
    assert!(log.contains(&at), "expected `{at}` in {log}");
    assert!(!log.contains("key-b"), "no secret in the log: {log}");
    assert_eq!(metric(&proxy.metrics().await, FAILURES), 1.0);
    assert_eq!(
        send_signed(&proxy, b"key-a", b"key-a").await,
        StatusCode::OK
    );
    assert_eq!(
        send_signed(&proxy, b"key-b", b"key-b").await,
        StatusCode::UNAUTHORIZED
    );
}

/// A TLS client trusting `cas`, offering HTTP/1.1 only.
fn tls_connector(cas: &[&Path]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        roots
            .add(CertificateDer::from_pem_file(ca).unwrap())
            .unwrap();
    }
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

type TlsStream = tokio_rustls::client::TlsStream<TcpStream>;

async fn tls_connect(connector: &tokio_rustls::TlsConnector, proxy: &Proxy) -> TlsStream {
    let tcp = TcpStream::connect(proxy.addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

fn leaf(stream: &TlsStream) -> Vec<u8> {
    stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

/// A signed POST on an open HTTP/1.1 connection.
async fn post_on(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    key: &[u8],
) -> StatusCode {
    let body = b"{\"tls\":true}".to_vec();
    let mut req = Request::post("/hook").header("host", "localhost");
    for (name, value) in headers(key, key, &body) {
        req = req.header(name, value);
    }
    sender.ready().await.unwrap();
    let resp = sender
        .send_request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let _ = resp.into_body().collect().await;
    status
}

#[tokio::test]
async fn certificate_swap_serves_new_handshakes_and_keeps_open_connections() {
    let upstream = Upstream::start().await;
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ca_a, ca_b) = (write_certs(a.path()), write_certs(b.path()));
    let der = |dir: &Path| {
        CertificateDer::from_pem_file(dir.join("server.crt"))
            .unwrap()
            .to_vec()
    };
    let (der_a, der_b) = (der(a.path()), der(b.path()));
    let yaml = values("127.0.0.1:0", &upstream.url(), &["key-a"]).replacen(
        "limits:",
        "tls:\n  cert: certs/server.crt\n  key: certs/server.key\nlimits:",
        1,
    );
    let read = |dir: &Path, name: &str| std::fs::read(dir.join(name)).unwrap();
    let (crt_a, key_a) = (read(a.path(), "server.crt"), read(a.path(), "server.key"));
    let files: [(&str, &[u8]); 2] = [("certs/server.crt", &crt_a), ("certs/server.key", &key_a)];
    let proxy = Proxy::start_reloading(&yaml, &files).await;
    let connector = tls_connector(&[&ca_a, &ca_b]);

    let open = tls_connect(&connector, &proxy).await;
    assert_eq!(leaf(&open), der_a);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(open))
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    assert_eq!(post_on(&mut sender, b"key-a").await, StatusCode::OK);

    let since = Instant::now();
    replace(
        &proxy.path("certs/server.key"),
        &read(b.path(), "server.key"),
    );
    replace(
        &proxy.path("certs/server.crt"),
        &read(b.path(), "server.crt"),
    );
    let seen = loop {
        let fresh = tls_connect(&connector, &proxy).await;
        let got = leaf(&fresh);
        if got == der_b {
            break since.elapsed();
        }
        assert_eq!(got, der_a, "a handshake sees one whole certificate");
        assert!(
            since.elapsed() < IN_FORCE + SLACK,
            "certificate B not served {:?} after the swap",
            IN_FORCE + SLACK
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    println!("certificate B served {seen:?} after the swap");

    assert_eq!(
        post_on(&mut sender, b"key-a").await,
        StatusCode::OK,
        "the keep-alive connection opened before the swap still serves"
    );
    assert!(!conn.is_finished());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_secret_is_in_force_within_a_second_while_the_directory_keeps_changing() {
    let upstream = Upstream::start().await;
    let proxy =
        Proxy::start_reloading(&values("127.0.0.1:0", &upstream.url(), &["key-a"]), &[]).await;
    // Something else in the config's directory writes more often than the debounce: a log,
    // an editor's swap file, a sidecar's state.
    let noise = proxy.path("noise.txt");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let noisy = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                std::fs::write(&noise, n.to_string()).unwrap();
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        })
    };
    let (stream, took) = stream_through_swap(
        &proxy,
        On::Both,
        ("key-a", "key-b"),
        "rename while the directory is busy",
        || {
            let yaml = values("127.0.0.1:0", &upstream.url(), &["key-b"]);
            replace(&proxy.config, yaml.as_bytes());
        },
    )
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    noisy.await.unwrap();
    let report = stream.finish().await;
    println!(
        "busy directory stream: {} requests, in force after {took:?}",
        report.requests
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_place_write_to_the_target_of_a_symlinked_secret_file_takes_effect() {
    let upstream = Upstream::start().await;
    let hmac = [("linked", "file: current.key")];
    let api = [("a", "value: \"key-a\"")];
    let yaml = stream_config("127.0.0.1:0", &upstream.url(), &hmac, &api);
    // Start on a plain file, then make it `current.key -> vault/real.key` (same bytes): the
    // file that changes lives in another directory.
    let files: [(&str, &[u8]); 2] = [("current.key", b"key-b\n"), ("vault/real.key", b"key-b\n")];
    let proxy = Proxy::start(&yaml, &files).await;
    symlink("vault/real.key", proxy.path(".current.tmp")).unwrap();
    std::fs::rename(proxy.path(".current.tmp"), proxy.path("current.key")).unwrap();
    hookguard::ops::reload::spawn(proxy.app.clone(), proxy.config.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (stream, took) = stream_through_swap(
        &proxy,
        On::Hmac,
        ("key-b", "key-c"),
        "in-place write to a symlink's target",
        || std::fs::write(proxy.path("vault/real.key"), b"key-c\n").unwrap(),
    )
    .await;
    let report = stream.finish().await;
    println!(
        "symlink target stream: {} requests, in force after {took:?}",
        report.requests
    );
}
