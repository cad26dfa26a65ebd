//! Real sockets for the integration tests: a recording upstream, hookguard served in-process
//! on `127.0.0.1:0` from a config file on disk, a client, and rcgen-made TLS files.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hookguard::serve::app::App;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// What the upstream received, one entry per request.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A real hyper server that records every request and answers `status` after `delay`.
pub struct Upstream {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    stop: Option<oneshot::Sender<()>>,
}

impl Upstream {
    /// Answers 200 `upstream-ok` with header `x-upstream: yes` at once.
    pub async fn start() -> Upstream {
        Self::start_with(StatusCode::OK, Duration::ZERO).await
    }

    /// Answers `status` after `delay`.
    pub async fn start_with(status: StatusCode, delay: Duration) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = oneshot::channel();
        let log = received.clone();
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    _ = &mut stopped => return,
                    accepted = listener.accept() => accepted.unwrap().0,
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let log = log.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|c| c.to_bytes())
                                .unwrap_or_default();
                            log.lock().unwrap().push(Received {
                                method: parts.method.to_string(),
                                uri: parts.uri.to_string(),
                                headers: parts.headers,
                                body,
                            });
                            tokio::time::sleep(delay).await;
                            let mut resp =
                                Response::new(Full::new(Bytes::from_static(b"upstream-ok")));
                            *resp.status_mut() = status;
                            resp.headers_mut()
                                .insert("x-upstream", "yes".parse().unwrap());
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                });
            }
        });
        Upstream {
            addr,
            received,
            stop: Some(stop),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests arrived so far.
    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// The last request received.
    pub fn last(&self) -> Option<Received> {
        self.received.lock().unwrap().last().cloned()
    }

    /// Stops accepting (existing connections finish).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// hookguard served in-process from a config file in its own temp dir.
pub struct Proxy {
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub app: Arc<App>,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    pub task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    /// Writes `yaml` to `hookguard.yaml` in a fresh temp dir and serves it; the `listen` and
    /// `admin.listen` written in `yaml` are ignored (tests bind port 0). `extra` files
    /// (relative path, contents) are written first.
    pub async fn start(yaml: &str, extra: &[(&str, &[u8])]) -> Proxy {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in extra {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        let config = dir.path().join("hookguard.yaml");
        std::fs::write(&config, yaml).unwrap();
        Self::serve(dir, config, false).await
    }

    /// Like [`Proxy::start`], with the file watcher and SIGHUP reloader running.
    pub async fn start_reloading(yaml: &str, extra: &[(&str, &[u8])]) -> Proxy {
        let proxy = Self::start(yaml, extra).await;
        hookguard::ops::reload::spawn(proxy.app.clone(), proxy.config.clone());
        // Let the watcher register its directories before the test writes files.
        tokio::time::sleep(Duration::from_millis(200)).await;
        proxy
    }

    async fn serve(dir: tempfile::TempDir, config: PathBuf, _reload: bool) -> Proxy {
        hookguard::config::tls::install_crypto_provider();
        let snapshot = hookguard::config::compile::load(&config).unwrap_or_else(|e| panic!("{e}"));
        let app = App::new(snapshot);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let admin = admin_listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(hookguard::ops::admin::run(
            admin_listener,
            app.clone(),
            std::future::pending(),
        ));
        app.set_ready();
        let shutdown = async {
            let _ = stopped.await;
        };
        let task = tokio::spawn(hookguard::serve::server::run(
            listener,
            app.clone(),
            shutdown,
        ));
        Proxy {
            addr,
            admin,
            app,
            dir,
            config,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Begins graceful shutdown (returns at once; await `task` to wait for the drain).
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let (_, _, body) = get(&format!("http://{}/metrics", self.admin)).await;
        String::from_utf8_lossy(&body).into_owned()
    }

    /// Path of a file in the config's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Headers a sender would attach for `route` signed with secret `secret_id` (the first
    /// active secret when `None`), for `body` at Unix time `timestamp`.
    pub fn sign(
        &self,
        route: &str,
        secret_id: Option<&str>,
        body: &[u8],
        timestamp: i64,
    ) -> Vec<(String, String)> {
        sign_with(&self.app.shared.load(), route, secret_id, body, timestamp)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Signs with every HMAC check of `route` in `snap`.
pub fn sign_with(
    snap: &hookguard::config::snapshot::Snapshot,
    route: &str,
    secret_id: Option<&str>,
    body: &[u8],
    timestamp: i64,
) -> Vec<(String, String)> {
    let route = snap.route_named(route).expect("route exists");
    let empty = HeaderMap::new();
    let ts = timestamp.to_string();
    let delivery = hookguard::verify::sign::Delivery {
        method: "POST",
        path: &route.path,
        headers: &empty,
        body,
        timestamp: &ts,
        id: "msg_test",
    };
    let mut out = Vec::new();
    for check in &route.checks {
        let hookguard::verify::CheckKind::Hmac(spec) = &check.kind else {
            continue;
        };
        let secret = match secret_id {
            Some(id) => check.secrets.iter().find(|s| &*s.secret.id == id),
            None => check.secrets.first(),
        }
        .expect("secret exists");
        out.extend(hookguard::verify::sign::sign(
            spec,
            secret.mac.as_ref().unwrap(),
            &delivery,
        ));
    }
    out
}

/// Unix seconds now.
pub fn now_s() -> i64 {
    hookguard::config::clock::now_ms() / 1000
}

/// One plain-HTTP/1.1 request on a fresh connection; returns status, headers and body.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: impl Into<Bytes>,
) -> (StatusCode, HeaderMap, Bytes) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        req = req.header(name.as_str(), value.as_str());
    }
    let resp = client
        .request(req.body(Full::new(body.into())).unwrap())
        .await
        .unwrap();
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    (parts.status, parts.headers, body)
}

/// POST with headers.
pub async fn post(
    url: &str,
    headers: &[(String, String)],
    body: impl Into<Bytes>,
) -> (StatusCode, HeaderMap, Bytes) {
    send("POST", url, headers, body).await
}

/// GET without headers.
pub async fn get(url: &str) -> (StatusCode, HeaderMap, Bytes) {
    send("GET", url, &[], Bytes::new()).await
}

/// Owned header pairs from string slices.
pub fn hdrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// A CA and a server certificate for `localhost`/`127.0.0.1`, and a client certificate,
/// as PEM files in `dir`: `ca.crt`, `server.crt`, `server.key`, `client.crt`, `client.key`.
pub fn write_certs(dir: &Path) -> PathBuf {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "hookguard test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_crt, server_key) = leaf(vec!["localhost".into(), "127.0.0.1".into()]);
    let (client_crt, client_key) = leaf(vec!["client.test".into()]);
    std::fs::write(dir.join("ca.crt"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("server.crt"), server_crt).unwrap();
    std::fs::write(dir.join("server.key"), server_key).unwrap();
    std::fs::write(dir.join("client.crt"), client_crt).unwrap();
    std::fs::write(dir.join("client.key"), client_key).unwrap();
    dir.join("ca.crt")
}

// --- raw sockets and metrics (added for the serve tests) ---

/// Reads from `stream` until the peer closes it (EOF or reset) and returns what arrived;
/// `Err` when it stays open for `limit`.
pub async fn read_until_close(
    stream: &mut tokio::net::TcpStream,
    limit: Duration,
) -> Result<Vec<u8>, tokio::time::error::Elapsed> {
    use tokio::io::AsyncReadExt;
    tokio::time::timeout(limit, async {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
}

/// An HTTP/1.1 response read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Lowercased names, values as sent.
    pub headers: Vec<(String, String)>,
    /// Everything after the head, up to the close.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// Parses one response; panics on anything that is not a complete HTTP/1.1 head.
    pub fn parse(raw: &[u8]) -> RawResponse {
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no complete head in {:?}", String::from_utf8_lossy(raw)));
        let head = std::str::from_utf8(&raw[..end]).expect("ASCII head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        assert!(
            status_line.starts_with("HTTP/1.1 "),
            "status line {status_line:?}"
        );
        let status = status_line[9..12].parse().expect("status code");
        let headers = lines
            .map(|l| {
                let (n, v) = l.split_once(':').expect("header line");
                (n.trim().to_ascii_lowercase(), v.trim().to_owned())
            })
            .collect();
        RawResponse {
            status,
            headers,
            body: raw[end + 4..].to_vec(),
        }
    }

    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The sum of the samples of metric `name` whose labels include every `labels` pair.
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// `hookguard_requests_total` for `outcome`, summed over routes, scraped from `proxy` now.
pub async fn requests_total(proxy: &Proxy, outcome: &str) -> f64 {
    let metrics = proxy.metrics().await;
    metric_value(
        &metrics,
        "hookguard_requests_total",
        &[("outcome", outcome)],
    )
}
