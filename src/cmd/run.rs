//! `hookguard run`: load the config without binding anything, bind, start the admin listener
//! and the reloader, serve until SIGTERM or SIGINT, drain, exit.

use std::path::PathBuf;
use std::sync::Arc;

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;

use crate::cmd::cli::{EXIT_RUNTIME, EXIT_USAGE};
use crate::cmd::commands::Failure;
use crate::ops::announce::log_snapshot;
use crate::serve::app::App;

/// Runs the proxy until a shutdown signal; returns the exit code.
pub async fn run(config: PathBuf) -> Result<u8, Failure> {
    let shutdown = listen_for_shutdown();
    let snapshot = crate::config::compile::load(&config).map_err(|e| Failure {
        message: e.to_string(),
        code: EXIT_USAGE,
    })?;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let listeners = bind_workers(snapshot.listen, workers)?;
    let admin = match snapshot.admin {
        Some(addr) => Some(bind(addr, "admin.listen").await?),
        None => None,
    };
    let app = App::new(snapshot);
    app.metrics.loaded(app.now());
    log_snapshot(&app.shared.load(), "config loaded", app.now());
    let local = listeners[0].local_addr().map_err(runtime)?;
    let tls = app.shared.load().tls.is_some();
    tracing::info!(addr = %local, tls, "listening");
    if let Some(admin) = admin {
        let addr = admin.local_addr().map_err(runtime)?;
        tracing::info!(%addr, "admin listening");
        tokio::spawn(crate::ops::admin::run(
            admin,
            app.clone(),
            std::future::pending(),
        ));
    }
    crate::ops::reload::spawn(app.clone(), config);
    crate::ops::expiry::spawn(app.clone());
    app.set_ready();
    serve_on_workers(listeners, app, shutdown).await?;
    tracing::info!("stopped");
    Ok(0)
}

/// One listening socket per worker on the same address (`SO_REUSEPORT`), so the kernel
/// spreads connections across workers; a single shared socket let one worker take nearly all
/// of a burst of connections. The first socket fixes the port when `listen` asks for port 0.
fn bind_workers(addr: SocketAddr, workers: usize) -> Result<Vec<std::net::TcpListener>, Failure> {
    let fail = |e: std::io::Error| Failure {
        message: format!("cannot bind listen {addr}: {e}"),
        code: EXIT_RUNTIME,
    };
    // SO_REUSEPORT would let a second hookguard (same user) share a port already in use and
    // split its traffic: first claim the address exclusively, so a taken port fails as before.
    if addr.port() != 0 {
        drop(std::net::TcpListener::bind(addr).map_err(fail)?);
    }
    let mut listeners: Vec<std::net::TcpListener> = Vec::with_capacity(workers);
    for _ in 0..workers {
        let at = listeners
            .first()
            .map_or(Ok(addr), |l| l.local_addr())
            .map_err(fail)?;
        let socket = if at.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(fail)?;
        socket.set_reuseaddr(true).map_err(fail)?;
        socket.set_reuseport(true).map_err(fail)?;
        socket.bind(at).map_err(fail)?;
        listeners.push(
            socket
                .listen(1024)
                .and_then(TcpListener::into_std)
                .map_err(fail)?,
        );
    }
    Ok(listeners)
}

/// Thread per core: each worker thread runs its own single-threaded runtime with its own
/// listening socket, so a request, its upstream connection and their wakeups stay on one
/// thread. (A shared multi-threaded runtime cost about a fifth more CPU per proxied request in
/// the load profile, most of it cross-thread wakeups.)
async fn serve_on_workers(
    listeners: Vec<std::net::TcpListener>,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), Failure> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut threads = Vec::with_capacity(listeners.len());
    for (i, listener) in listeners.into_iter().enumerate() {
        let (app, mut stop) = (app.clone(), stop_rx.clone());
        let worker = move || -> std::io::Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let listener = TcpListener::from_std(listener)?;
                let stopped = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                crate::serve::server::run(listener, app, stopped).await;
                Ok(())
            })
        };
        let handle = std::thread::Builder::new()
            .name(format!("hookguard-worker-{i}"))
            .spawn(worker)
            .map_err(runtime)?;
        threads.push(handle);
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    let joined = tokio::task::spawn_blocking(move || {
        threads.into_iter().map(|t| t.join()).collect::<Vec<_>>()
    })
    .await;
    for result in joined.into_iter().flatten() {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "worker failed"),
            Err(_) => tracing::error!("worker panicked"),
        }
    }
    Ok(())
}

async fn bind(addr: std::net::SocketAddr, what: &str) -> Result<TcpListener, Failure> {
    TcpListener::bind(addr).await.map_err(|e| Failure {
        message: format!("cannot bind {what} {addr}: {e}"),
        code: EXIT_RUNTIME,
    })
}

fn runtime(e: std::io::Error) -> Failure {
    Failure {
        message: e.to_string(),
        code: EXIT_RUNTIME,
    }
}

/// Resolves on SIGTERM or SIGINT. Listens only from its first poll: inside the runtime, prefer
/// [`listen_for_shutdown`], which listens at once.
pub async fn shutdown_signal() {
    listen_for_shutdown().await;
}

/// Starts listening for SIGTERM and SIGINT now (call it inside the runtime) and returns a
/// future that resolves on the first. Until the handlers are installed the default action of
/// SIGTERM kills the process with no drain and no exit 0, so `run` installs them first of all,
/// before loading the config, not when it starts serving.
pub fn listen_for_shutdown() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            tokio::select! {
                () = recv(term) => tracing::info!("SIGTERM: shutting down"),
                () = recv(int) => tracing::info!("SIGINT: shutting down"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: shutting down");
    }
}

/// Waits for one delivery of a signal; forever if it could not be listened to.
#[cfg(unix)]
async fn recv(listening: std::io::Result<tokio::signal::unix::Signal>) {
    match listening {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for a shutdown signal");
            std::future::pending::<()>().await;
        }
    }
}
