//! Reloading: a change to the config, a `file:` secret or a TLS file (in place, by rename,
//! or by a Kubernetes `..data` symlink swap), or SIGHUP, runs the start-up path again and
//! swaps the whole snapshot in; a failure keeps the running one.
//!
//! notify watches the *parent directories* of every file, not the files: editors and config
//! tools replace files by rename, and Kubernetes swaps a `..data` symlink, and a watch on the
//! file itself misses both. Bursts are debounced for [`DEBOUNCE`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::app::App;
use crate::state::Snapshot;

/// Quiet time after the last file event before reloading.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// What asked for a reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A watched directory changed; skipped when no input changed.
    File,
    /// SIGHUP (or an explicit call); always reloads.
    Signal,
}

/// Starts the watcher and the SIGHUP listener; both feed one reload loop.
pub fn spawn(app: Arc<App>, config: PathBuf) -> tokio::task::JoinHandle<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    #[cfg(unix)]
    tokio::spawn(sighup(tx.clone()));
    tokio::spawn(reload_loop(app, config, tx, rx))
}

#[cfg(unix)]
async fn sighup(tx: mpsc::UnboundedSender<Trigger>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; file watching still reloads");
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP: reloading");
        if tx.send(Trigger::Signal).is_err() {
            return;
        }
    }
}

async fn reload_loop(
    app: Arc<App>,
    config: PathBuf,
    tx: mpsc::UnboundedSender<Trigger>,
    mut rx: mpsc::UnboundedReceiver<Trigger>,
) {
    let file_tx = tx.clone();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = file_tx.send(Trigger::File);
        }
    });
    let mut watcher = match watcher {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::error!(error = %e, "cannot watch files; only SIGHUP reloads");
            None
        }
    };
    let mut watched = BTreeSet::new();
    if let Some(w) = watcher.as_mut() {
        rewatch(w, &mut watched, &app.shared.load());
    }
    while let Some(first) = rx.recv().await {
        let mut trigger = first;
        // Debounce: keep collecting until the directory has been quiet for DEBOUNCE.
        while let Ok(Some(next)) = tokio::time::timeout(DEBOUNCE, rx.recv()).await {
            if next == Trigger::Signal {
                trigger = Trigger::Signal;
            }
        }
        let app2 = app.clone();
        let path = config.clone();
        let done = tokio::task::spawn_blocking(move || reload(&app2, &path, trigger)).await;
        if done.unwrap_or(false) {
            if let Some(w) = watcher.as_mut() {
                rewatch(w, &mut watched, &app.shared.load());
            }
        }
    }
}

/// Loads, validates and builds a snapshot from `config` and swaps it in. Returns whether a
/// new snapshot was installed. On failure the running snapshot stays and the error (file, line,
/// column) is logged and counted.
pub fn reload(app: &App, config: &Path, trigger: Trigger) -> bool {
    let now = app.now();
    let new = match crate::compile::load(config) {
        Ok(new) => new,
        Err(e) => {
            tracing::error!(error = %e, "config reload failed; keeping the running config");
            app.metrics.reload(false, now);
            return false;
        }
    };
    let current = app.shared.load_full();
    if trigger == Trigger::File && new.digest == current.digest {
        return false;
    }
    warn_restart_needed(&current, &new);
    crate::run::log_snapshot(&new, "config reloaded", now);
    app.install(new);
    app.metrics.reload(true, now);
    true
}

fn warn_restart_needed(old: &Snapshot, new: &Snapshot) {
    if old.listen != new.listen {
        tracing::warn!(running = %old.listen, configured = %new.listen, "`listen` changed: restart hookguard to apply it; the rest of the config is applied");
    }
    if old.admin != new.admin {
        tracing::warn!("`admin.listen` changed: restart hookguard to apply it; the rest of the config is applied");
    }
    if old.limits.max_connections != new.limits.max_connections {
        tracing::warn!("`limits.max_connections` changed: restart hookguard to apply it");
    }
    if old.tls.is_some() != new.tls.is_some() {
        tracing::warn!("`tls` was added or removed: new connections follow the new config");
    }
}

/// Watches the parent directory of every input file, adding and dropping watches as the
/// set changes.
fn rewatch(
    watcher: &mut notify::RecommendedWatcher,
    watched: &mut BTreeSet<PathBuf>,
    snap: &Snapshot,
) {
    let wanted: BTreeSet<PathBuf> = snap.watched.iter().filter_map(|f| parent_dir(f)).collect();
    for dir in watched.difference(&wanted) {
        let _ = watcher.unwatch(dir);
    }
    for dir in wanted.difference(watched) {
        if let Err(e) = watcher.watch(dir, RecursiveMode::NonRecursive) {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot watch directory");
        }
    }
    *watched = wanted;
}

fn parent_dir(file: &Path) -> Option<PathBuf> {
    let parent = file.parent()?;
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    Some(std::fs::canonicalize(parent).unwrap_or_else(|_| parent.to_owned()))
}
