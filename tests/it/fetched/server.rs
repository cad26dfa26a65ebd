//! A loopback https server standing for AWS, PayPal and Google: an rcgen test CA, a server
//! certificate for 127.0.0.1, documents served by path, and a record of every request. And
//! the real `hookguard run` binary started against it with `SSL_CERT_FILE` naming the CA.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

type Doc = (Vec<(String, String)>, Bytes, Duration);

/// The https key server.
pub struct KeyServer {
    pub addr: SocketAddr,
    /// PEM of the CA that issued the server's certificate.
    pub ca_pem: String,
    docs: Arc<Mutex<HashMap<String, Doc>>>,
    seen: Arc<Mutex<Vec<String>>>,
    accepted: Arc<AtomicUsize>,
}

impl KeyServer {
    pub async fn start() -> KeyServer {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        hookguard::config::tls::install_crypto_provider();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "hookguard key-server test CA");
        let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        // Both names, so a fetch that should not happen would succeed and be seen.
        let cert = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let chain = vec![CertificateDer::from_pem_slice(cert.pem().as_bytes()).unwrap()];
        let private = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap();
        let tls = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let docs: Arc<Mutex<HashMap<String, Doc>>> = Arc::default();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let (d, s) = (docs.clone(), seen.clone());
        let accepted: Arc<AtomicUsize> = Arc::default();
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                count.fetch_add(1, Ordering::SeqCst);
                let (acceptor, d, s) = (acceptor.clone(), d.clone(), s.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = service_fn(move |req: Request<Incoming>| {
                        let (d, s) = (d.clone(), s.clone());
                        async move {
                            let (resp, delay) = answer(&d, &s, &req);
                            tokio::time::sleep(delay).await;
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = builder.serve_connection(TokioIo::new(tls), svc).await;
                });
            }
        });
        KeyServer {
            addr,
            ca_pem,
            docs,
            seen,
            accepted,
        }
    }

    /// Serves `body` with `headers` at `path` (any query).
    pub fn serve(&self, path: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) {
        self.serve_after(path, headers, body, Duration::ZERO);
    }

    /// Like [`KeyServer::serve`], answering only after `delay`.
    pub fn serve_after(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
        delay: Duration,
    ) {
        let headers = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        self.docs
            .lock()
            .unwrap()
            .insert(path.to_owned(), (headers, body.into(), delay));
    }

    /// `https://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// Every request's path and query, in arrival order.
    pub fn requested(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// How many requests asked for `path`.
    pub fn count(&self, path: &str) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|p| p.split('?').next() == Some(path))
            .count()
    }
}

fn answer(
    docs: &Mutex<HashMap<String, Doc>>,
    seen: &Mutex<Vec<String>>,
    req: &Request<Incoming>,
) -> (Response<Full<Bytes>>, Duration) {
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    seen.lock().unwrap().push(target.to_owned());
    let found = docs.lock().unwrap().get(req.uri().path()).cloned();
    let Some((headers, body, delay)) = found else {
        let mut resp = Response::new(Full::new(Bytes::from_static(b"not found")));
        *resp.status_mut() = StatusCode::NOT_FOUND;
        return (resp, Duration::ZERO);
    };
    let mut resp = Response::new(Full::new(body));
    for (name, value) in headers {
        resp.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    (resp, delay)
}

/// The real `hookguard run` on a config file, with `SSL_CERT_FILE` set; killed on drop.
pub struct Hookguard {
    child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Hookguard {
    /// Starts `hookguard run --config config` (which must listen on `127.0.0.1:0`) and waits
    /// for its `listening` log line.
    pub fn start(config: &Path, ca_file: &Path) -> Hookguard {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hookguard"))
            .args(["run", "--config", config.to_str().unwrap()])
            .env_remove("HOOKGUARD_CONFIG")
            .env("SSL_CERT_FILE", ca_file)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if let Some(addr) = listening(&line) {
                    let _ = tx.send(addr);
                }
                lines.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("hookguard did not start: {:?}", log.lock().unwrap()));
        Hookguard { child, addr, log }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The first log line whose message is `message`, waiting up to 10 s for it (lines are
    /// written on the logger's own thread).
    pub fn wait_for(&self, message: &str) -> serde_json::Value {
        self.wait_for_where(message, |_| true)
    }

    /// Like [`Hookguard::wait_for`], for the first such line that `pick` accepts.
    pub fn wait_for_where(
        &self,
        message: &str,
        pick: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        for _ in 0..200 {
            let found = self
                .log
                .lock()
                .unwrap()
                .iter()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find(|v| v["message"] == message && pick(v));
            if let Some(found) = found {
                return found;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no `{message}` line in {:?}", self.log.lock().unwrap());
    }
}

impl Drop for Hookguard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn listening(line: &str) -> Option<SocketAddr> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v["message"] != "listening" {
        return None;
    }
    v["addr"].as_str()?.parse().ok()
}
