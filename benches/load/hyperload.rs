//! The built-in load generator, used when wrk is not installed (or with `--no-wrk`), and the
//! client pieces the memory and reload scenarios need: HTTP/1.1 over TCP or TLS with hyper,
//! keep-alive connections (or one per request), a fixed duration, and latency percentiles
//! from every recorded duration, sorted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::payload::Payload;
use crate::wrk::{Job, Load};

/// A client connection that sends requests.
pub type Sender = SendRequest<Full<Bytes>>;

/// A TLS connector that trusts exactly the harness's certificate.
pub fn tls_connector(cert_der: &[u8]) -> Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(cert_der.to_vec()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Open one HTTP/1.1 connection to 127.0.0.1:`port`, over TLS when a connector is given.
pub async fn connect(port: u16, tls: Option<&TlsConnector>) -> Result<Sender> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.set_nodelay(true)?;
    match tls {
        Some(connector) => {
            let name = rustls::pki_types::ServerName::try_from("localhost")?;
            handshake(connector.connect(name, tcp).await?).await
        }
        None => handshake(tcp).await,
    }
}

async fn handshake<S>(io: S) -> Result<Sender>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Send one signed POST and read the whole response; returns its status code.
pub async fn post(sender: &mut Sender, payload: &Payload, close: bool) -> Result<u16> {
    post_as(sender, payload, close, None).await
}

/// [`post`] as delivery `id` (`X-GitHub-Delivery`), when given.
pub async fn post_as(
    sender: &mut Sender,
    payload: &Payload,
    close: bool,
    id: Option<String>,
) -> Result<u16> {
    let mut req = Request::post("/")
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("x-hub-signature-256", &payload.signature);
    if close {
        req = req.header("connection", "close");
    }
    if let Some(id) = id {
        req = req.header("x-github-delivery", id);
    }
    let req = req.body(Full::new(payload.body.clone()))?;
    sender.ready().await?;
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    resp.into_body().collect().await?;
    Ok(status)
}

/// GET `path` from 127.0.0.1:`port` and return the body as text (admin endpoints).
pub async fn get(port: u16, path: &str) -> Result<String> {
    let mut sender = connect(port, None).await?;
    let req = Request::get(path)
        .header("host", "127.0.0.1")
        .body(Full::new(Bytes::new()))?;
    let body = sender
        .send_request(req)
        .await?
        .into_body()
        .collect()
        .await?;
    Ok(String::from_utf8_lossy(&body.to_bytes()).into_owned())
}

#[derive(Default)]
struct Tally {
    micros: Vec<u32>,
    non2xx: u64,
    errors: u64,
}

/// Drive `job` with `job.conns` tasks on the current runtime until its duration is up.
pub async fn run(job: &Job, tls: Option<TlsConnector>) -> Result<Load> {
    let start = Instant::now();
    let deadline = start + job.duration;
    let prefix = crate::wrk::run_prefix();
    let tasks: Vec<_> = (0..job.conns)
        .map(|i| {
            let ids = job.unique_ids.then(|| format!("{prefix}{i}-"));
            tokio::spawn(worker(job.clone(), tls.clone(), deadline, ids))
        })
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        let tally = task.await.map_err(|e| anyhow!("load task: {e}"))?;
        all.micros.extend(tally.micros);
        all.non2xx += tally.non2xx;
        all.errors += tally.errors;
    }
    all.micros.sort_unstable();
    let pct = |p: f64| percentile(&all.micros, p);
    Ok(Load {
        requests: all.micros.len() as u64,
        secs: start.elapsed().as_secs_f64(),
        p50_us: pct(50.0),
        p99_us: pct(99.0),
        p999_us: pct(99.9),
        non2xx: all.non2xx,
        sock_errors: all.errors,
    })
}

async fn worker(
    job: Job,
    tls: Option<TlsConnector>,
    deadline: Instant,
    ids: Option<String>,
) -> Tally {
    let mut tally = Tally::default();
    let mut conn: Option<Sender> = None;
    let mut n = 0u64;
    while Instant::now() < deadline {
        n += 1;
        let id = ids.as_ref().map(|p| format!("{p}{n}"));
        let began = Instant::now();
        let sent = tokio::time::timeout(Duration::from_secs(10), async {
            let mut sender = match conn.take() {
                Some(sender) if !job.close => sender,
                _ => connect(job.port, tls.as_ref()).await?,
            };
            let status = post_as(&mut sender, &job.payload, job.close, id).await?;
            conn = Some(sender);
            Ok::<u16, anyhow::Error>(status)
        })
        .await
        .context("timed out")
        .and_then(|r| r);
        match sent {
            Ok(status) => {
                tally
                    .micros
                    .push(began.elapsed().as_micros().try_into().unwrap_or(u32::MAX));
                tally.non2xx += u64::from(!(200..300).contains(&status));
            }
            Err(_) => {
                tally.errors += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    tally
}

/// The `p`th percentile of sorted microseconds (nearest rank).
fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1])
}
