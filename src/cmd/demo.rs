//! `hookguard demo`: the embedded default for a newcomer's first minute (contract section 8).
//! An embedded config goes through the real parse and compile path, hookguard is served
//! in-process on loopback in front of a small receiver, and [`crate::cmd::demo_cases`] sends every
//! kind of delivery through it. `demo --serve` keeps both running and prints `curl` commands.
//!
//! The demo's secret values are fake and live in this binary; still, nothing here prints them:
//! ids and fingerprints only.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cmd::cli::{EXIT_OK, EXIT_RUNTIME};
use crate::cmd::commands::{describe, Failure};
use crate::cmd::demo_cases::{cases, judge, render, tolerance, Case, Row, CASE_HEADER};
use crate::cmd::demo_receiver::Receiver;
use crate::config::clock::now_ms;
use crate::config::snapshot::Snapshot;
use crate::serve::app::App;

/// The embedded config. `RECEIVER` becomes the receiver's URL; `CURRENT_FROM` and
/// `PREVIOUS_UNTIL` become instants a day before and three days after start, so the expedia
/// route is always mid-rotation. The secret values are fake, for this demo only.
pub const CONFIG: &str = r#"# hookguard demo: an Expedia route mid-rotation and a GitHub route with a small body limit.
listen: "127.0.0.1:8443"
admin:
  listen: "127.0.0.1:9901"
limits:
  header_timeout: 2s
  body_timeout: 2s
  upstream_timeout: 2s
routes:
  - name: expedia
    path: /webhooks/expedia
    upstream: RECEIVER
    tolerance: 5m
    verify:
      scheme: expedia
      secrets:
        - id: "2026-11"
          value: demo-expedia-current-NOT-A-REAL-SECRET
          not_before: CURRENT_FROM
        - id: "2025-11"
          value: demo-expedia-previous-NOT-A-REAL-SECRET
          expires: PREVIOUS_UNTIL
  - name: github
    path: /webhooks/github
    upstream: RECEIVER
    max_body_bytes: 1024
    verify:
      scheme: github
      secrets:
        - id: demo
          value: demo-github-NOT-A-REAL-SECRET
"#;

/// What the snapshot says it came from.
pub const SOURCE: &str = "<embedded demo config>";

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The embedded config compiled through the real path (`config::parse`, `compile::compile`).
pub fn snapshot(receiver: SocketAddr, now: i64) -> Result<Snapshot, Failure> {
    let whole_s = now - now.rem_euclid(1000);
    let text = CONFIG
        .replace("RECEIVER", &format!("http://{receiver}"))
        .replace(
            "CURRENT_FROM",
            &crate::config::clock::rfc3339(whole_s - DAY_MS),
        )
        .replace(
            "PREVIOUS_UNTIL",
            &crate::config::clock::rfc3339(whole_s + 3 * DAY_MS),
        );
    let path = std::path::Path::new(SOURCE);
    crate::config::parse(&text, path)
        .and_then(|config| crate::config::compile::compile(config, path))
        .map_err(|e| runtime(format!("the embedded demo config is invalid: {e}")))
}

/// hookguard, its admin listener and the receiver, all on loopback in this process.
pub struct Demo {
    /// The proxy's state (the compiled embedded config).
    pub app: Arc<App>,
    /// The proxy listener.
    pub proxy: SocketAddr,
    /// The admin listener (`/healthz`, `/readyz`, `/metrics`).
    pub admin: SocketAddr,
    /// What hookguard forwarded.
    pub receiver: Receiver,
    /// One pooled client for the deliveries.
    pub client: Client<HttpConnector, Full<Bytes>>,
    /// Bind notes for the user, e.g. a fixed port that was taken.
    pub notes: Vec<String>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Demo {
    /// Starts everything. With `fixed_ports`, the proxy and admin listeners try the embedded
    /// config's addresses first and fall back to any free port; otherwise they take port 0.
    pub async fn start(fixed_ports: bool) -> Result<Demo, Failure> {
        let receiver = Receiver::start().await?;
        let snap = snapshot(receiver.addr, now_ms())?;
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        let (want_proxy, want_admin) = match (fixed_ports, snap.admin) {
            (true, Some(admin)) => (snap.listen, admin),
            _ => (any, any),
        };
        let mut notes = Vec::new();
        let proxy_listener = bind_or_any(want_proxy, &mut notes).await?;
        let admin_listener = bind_or_any(want_admin, &mut notes).await?;
        let proxy = proxy_listener.local_addr().map_err(io)?;
        let admin = admin_listener.local_addr().map_err(io)?;
        let app = App::new(snap);
        let (stop, stopped) = watch::channel(false);
        let until_stop = |mut rx: watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let admin_stop = until_stop(stopped.clone());
        tokio::spawn(crate::ops::admin::run(
            admin_listener,
            app.clone(),
            admin_stop,
        ));
        app.set_ready();
        let served = crate::serve::server::run(proxy_listener, app.clone(), until_stop(stopped));
        Ok(Demo {
            app,
            proxy,
            admin,
            receiver,
            client: Client::builder(TokioExecutor::new()).build_http(),
            notes,
            stop,
            task: tokio::spawn(served),
        })
    }

    /// Drains and stops the proxy and the admin listener (waits at most 2 s: a demo
    /// has nothing in flight worth more).
    pub async fn stop(self) {
        self.app.start_draining();
        drop(self.client);
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), self.task).await;
    }

    /// The routes and every secret's id, fingerprint and window, one line each.
    pub fn describe(&self) -> String {
        let snap = self.app.shared.load();
        let mut text = String::new();
        for route in &snap.routes {
            let scheme = route.checks.first().map_or("", |c| c.scheme);
            text += &format!(
                "  route {:<8} {:<18} scheme {scheme}, max body {} bytes\n",
                route.name, route.path, route.max_body_bytes
            );
            for s in route.checks.iter().flat_map(|c| &c.secrets) {
                text += &format!("    secret {}\n", describe(&s.secret, self.app.now()));
            }
        }
        text
    }
}

/// Binds `addr`, or any free port on the same IP when it is taken (noted in `notes`).
pub async fn bind_or_any(
    addr: SocketAddr,
    notes: &mut Vec<String>,
) -> Result<TcpListener, Failure> {
    match TcpListener::bind(addr).await {
        Ok(listener) => Ok(listener),
        Err(e) if addr.port() != 0 => {
            notes.push(format!("{addr} is not free ({e}): using another port"));
            TcpListener::bind(SocketAddr::new(addr.ip(), 0))
                .await
                .map_err(io)
        }
        Err(e) => Err(io(e)),
    }
}

/// `hookguard demo`: sends every case, prints the table, exits 0 only if every outcome is
/// the expected one.
pub async fn run(out: &mut dyn Write) -> Result<u8, Failure> {
    let demo = Demo::start(false).await?;
    let cases = cases(&demo.app.shared.load(), now_ms() / 1000)?;
    let mut rows = Vec::with_capacity(cases.len());
    for case in &cases {
        rows.push(run_case(&demo, case).await);
    }
    let intro = format!(
        "hookguard demo: hookguard on http://{} in front of a receiver on http://{} \
         (loopback only, embedded config)\n{}\n",
        demo.proxy,
        demo.receiver.addr,
        demo.describe()
    );
    demo.stop().await;
    write!(out, "{intro}{}", render(&rows)).map_err(io)?;
    judge(&rows)?;
    writeln!(out, "\nAll {} outcomes are the expected ones.", rows.len()).map_err(io)?;
    Ok(EXIT_OK)
}

/// `hookguard demo --serve`: serves until `shutdown`, printing ready-to-paste `curl`
/// commands and a line for every delivery the receiver gets.
pub async fn serve(out: &mut dyn Write, shutdown: impl Future<Output = ()>) -> Result<u8, Failure> {
    let mut shutdown = std::pin::pin!(shutdown);
    // Poll once so signal handlers are installed before the commands are printed.
    let polled = std::future::poll_fn(|cx| Poll::Ready(shutdown.as_mut().poll(cx).is_ready()));
    if polled.await {
        return Ok(EXIT_OK);
    }
    let demo = Demo::start(true).await?;
    let cases = cases(&demo.app.shared.load(), now_ms() / 1000)?;
    write!(out, "{}", serve_intro(&demo, &cases)).map_err(io)?;
    out.flush().map_err(io)?;
    let mut printed = 0;
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            () = demo.receiver.arrived() => {
                for s in demo.receiver.since(printed) {
                    printed += 1;
                    let secret = if s.secret_id.is_empty() { "-" } else { &s.secret_id };
                    writeln!(out, "receiver got: {} (route {}, secret {secret}, {} bytes)", s.request, s.route, s.bytes).map_err(io)?;
                }
                out.flush().map_err(io)?;
            }
        }
    }
    demo.stop().await;
    writeln!(out, "stopped").map_err(io)?;
    Ok(EXIT_OK)
}

fn serve_intro(demo: &Demo, cases: &[Case]) -> String {
    let mut text = format!(
        "hookguard demo --serve\n  proxy    http://{}\n  admin    http://{}  (/healthz /readyz /metrics)\n  receiver http://{}\n",
        demo.proxy, demo.admin, demo.receiver.addr
    );
    for note in &demo.notes {
        text += &format!("  note: {note}\n");
    }
    text += &demo.describe();
    let base = format!("http://{}", demo.proxy);
    let snap = demo.app.shared.load();
    let tolerance = snap
        .route_named("expedia")
        .map(tolerance)
        .unwrap_or_default();
    let valid = format!("A valid delivery (accepted for {tolerance}, the route's tolerance; restart for fresh headers):");
    for (name, why) in [
        ("current-secret", valid.as_str()),
        (
            "tampered-body",
            "The same signature with a changed body (401, never reaches the receiver):",
        ),
    ] {
        if let Some(case) = cases.iter().find(|c| c.name == name) {
            text += &format!("\n# {why}\n{}\n", case.curl(&base));
        }
    }
    text += &format!(
        "\n# What hookguard counted:\ncurl -s http://{}/metrics | grep -E '^hookguard_(requests|verifications)_total'\n\nCtrl-C to stop.\n",
        demo.admin
    );
    text
}

fn io(e: std::io::Error) -> Failure {
    runtime(e.to_string())
}

fn runtime(message: String) -> Failure {
    Failure {
        message,
        code: EXIT_RUNTIME,
    }
}

/// Sends `case` through the demo's hookguard and records what came back and what the
/// receiver saw.
pub async fn run_case(demo: &Demo, case: &Case) -> Row {
    let mut req =
        Request::post(format!("http://{}{}", demo.proxy, case.path)).header(CASE_HEADER, case.name);
    for (name, value) in &case.headers {
        req = req.header(name.as_str(), value.as_str());
    }
    let got = match req.body(Full::new(case.body.clone())) {
        Ok(req) => {
            match tokio::time::timeout(Duration::from_secs(5), demo.client.request(req)).await {
                Ok(Ok(resp)) => Ok(resp.status().as_u16()),
                Ok(Err(e)) => Err(format!("error: {e}")),
                Err(_) => Err("no answer in 5s".into()),
            }
        }
        Err(e) => Err(format!("bad request: {e}")),
    };
    Row {
        case: case.clone(),
        got,
        seen: demo.receiver.saw(case.name),
    }
}
