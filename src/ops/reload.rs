//! Reloading: a change to the config, a `file:` secret or a TLS file (in place, by rename,
//! or by a Kubernetes `..data` symlink swap), or SIGHUP, runs the start-up path again and
//! swaps the whole snapshot in; a failure keeps the running one.
//!
//! notify watches the *parent directories* of every file, not the files: editors and config
//! tools replace files by rename, and Kubernetes swaps a `..data` symlink, and a watch on the
//! file itself misses both. A file that is a symlink into another directory also gets its
//! target's directory watched, so an in-place write there is seen. Bursts are debounced for
//! [`DEBOUNCE`], but never delay a reload more than [`MAX_DELAY`]: a directory that never goes
//! quiet (a log, an editor's swap file) must not hold a new secret back.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::snapshot::Snapshot;
use crate::serve::app::App;

/// Quiet time after the last file event before reloading.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// Longest a stream of events can put a reload off, counted from the first event.
pub const MAX_DELAY: Duration = Duration::from_millis(400);

/// What asked for a reload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A watched directory changed; skipped when no input changed.
    File,
    /// SIGHUP (or an explicit call); always reloads.
    Signal,
}

/// Starts the watcher and the SIGHUP listener; both feed one reload loop. The SIGHUP handler
/// is installed before this returns (SIGHUP's default action ends the process), and a first
/// reload catches up on any change made between start-up's load and the watches being set.
pub fn spawn(app: Arc<App>, config: PathBuf) -> tokio::task::JoinHandle<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(hup) => drop(tokio::spawn(sighup(hup, tx.clone()))),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; file watching still reloads")
        }
    }
    let _ = tx.send(Trigger::File);
    tokio::spawn(reload_loop(app, config, tx, rx))
}

#[cfg(unix)]
async fn sighup(mut hup: tokio::signal::unix::Signal, tx: mpsc::UnboundedSender<Trigger>) {
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
        let trigger = debounce(first, &mut rx).await;
        let app2 = app.clone();
        let path = config.clone();
        let _ = tokio::task::spawn_blocking(move || reload(&app2, &path, trigger)).await;
        // Also after a skipped or failed reload: a symlink may now point elsewhere.
        if let Some(w) = watcher.as_mut() {
            rewatch(w, &mut watched, &app.shared.load());
        }
    }
}

/// Collects events until none came for [`DEBOUNCE`], or [`MAX_DELAY`] after the first; a
/// signal among them makes the reload unconditional.
async fn debounce(first: Trigger, rx: &mut mpsc::UnboundedReceiver<Trigger>) -> Trigger {
    let mut trigger = first;
    let deadline = Instant::now() + MAX_DELAY;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return trigger;
        }
        let quiet = (now + DEBOUNCE).min(deadline);
        match tokio::time::timeout_at(quiet, rx.recv()).await {
            Ok(Some(Trigger::Signal)) => trigger = Trigger::Signal,
            Ok(Some(Trigger::File)) => {}
            Ok(None) | Err(_) => return trigger,
        }
    }
}

/// Loads, validates and builds a snapshot from `config` and swaps it in. Returns whether a
/// new snapshot was installed. On failure the running snapshot stays and the error (file, line,
/// column) is logged and counted.
pub fn reload(app: &App, config: &Path, trigger: Trigger) -> bool {
    let now = app.now();
    let new = match crate::config::compile::load(config) {
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
    crate::ops::announce::log_snapshot(&new, "config reloaded", now);
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

/// Watches the parent directory of every input file, and of the file a symlink resolves to,
/// adding and dropping watches as the set changes.
fn rewatch(
    watcher: &mut notify::RecommendedWatcher,
    watched: &mut BTreeSet<PathBuf>,
    snap: &Snapshot,
) {
    let targets = snap
        .watched
        .iter()
        .filter_map(|f| std::fs::canonicalize(f).ok());
    let wanted: BTreeSet<PathBuf> = snap
        .watched
        .iter()
        .cloned()
        .chain(targets)
        .filter_map(|f| parent_dir(&f))
        .collect();
    watched.retain(|dir| {
        let keep = wanted.contains(dir);
        if !keep {
            let _ = watcher.unwatch(dir);
        }
        keep
    });
    // Only watches that took are remembered, so a failed one is retried on the next reload.
    for dir in wanted {
        if watched.contains(&dir) {
            continue;
        }
        match watcher.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => drop(watched.insert(dir)),
            Err(e) => tracing::warn!(dir = %dir.display(), error = %e, "cannot watch directory"),
        }
    }
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
