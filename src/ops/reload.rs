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
//!
//! Only events that name an input trigger a reload: an input itself, the target of an input
//! that is a symlink, or a Kubernetes `..data`-style entry; other files coming and going in a
//! watched directory do nothing. A reload whose inputs are what the running snapshot was built
//! from is skipped, and one that fails the way the last one failed (same config text, same
//! error) is neither logged nor counted again, so nothing can turn into a reload loop.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sha2::{Digest, Sha256};

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
    let inputs = Inputs::default();
    let relevant = inputs.clone();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access() && relevant.named_by(&e.paths)) {
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
        rewatch(w, &mut watched, &app.shared.load(), &inputs);
    }
    let failed = Arc::new(Mutex::new(None));
    while let Some(first) = rx.recv().await {
        let trigger = debounce(first, &mut rx).await;
        let (app2, path, failed) = (app.clone(), config.clone(), failed.clone());
        let _ = tokio::task::spawn_blocking(move || {
            let mut last = failed.lock().unwrap_or_else(PoisonError::into_inner);
            reload_once(&app2, &path, trigger, &mut last)
        })
        .await;
        // Also after a skipped or failed reload: a symlink may now point elsewhere.
        if let Some(w) = watcher.as_mut() {
            rewatch(w, &mut watched, &app.shared.load(), &inputs);
        }
    }
}

/// The paths whose events mean "an input may have changed", shared with the watcher thread.
#[derive(Clone, Default)]
struct Inputs(Arc<Mutex<HashSet<PathBuf>>>);

impl Inputs {
    /// Whether an event on `paths` can concern an input: one of them is an input (as named,
    /// or the file a symlink resolves to), or a Kubernetes atomic-writer entry (`..data`,
    /// `..2026_01_01...`), whose swap changes every mounted file at once.
    fn named_by(&self, paths: &[PathBuf]) -> bool {
        let inputs = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        paths.iter().any(|p| {
            inputs.contains(p)
                || p.file_name()
                    .is_some_and(|n| n.as_encoded_bytes().starts_with(b".."))
        })
    }

    fn set(&self, paths: HashSet<PathBuf>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = paths;
    }
}

/// What a failed reload read and said, so the same failure is reported once.
type Failure = ([u8; 32], String);

/// [`reload`], but a file-triggered failure identical to the previous one (same config text,
/// same error) is neither logged nor counted again.
fn reload_once(app: &App, config: &Path, trigger: Trigger, last: &mut Option<Failure>) -> bool {
    let now = app.now();
    match crate::config::compile::load(config) {
        Ok(new) => {
            *last = None;
            install(app, new, trigger, now)
        }
        Err(e) => {
            let message = e.to_string();
            let text = crate::config::ctx::read_input(config).unwrap_or_default();
            let failure = (Sha256::digest(&text).into(), message);
            let repeated = last.as_ref() == Some(&failure);
            if trigger == Trigger::Signal || !repeated {
                tracing::error!(error = %failure.1, "config reload failed; keeping the running config");
                app.metrics.reload(false, now);
            }
            *last = Some(failure);
            false
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
    reload_once(app, config, trigger, &mut None)
}

/// Swaps `new` in unless a file trigger found the inputs unchanged.
fn install(app: &App, new: Snapshot, trigger: Trigger, now: i64) -> bool {
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
    inputs: &Inputs,
) {
    let targets: Vec<PathBuf> = snap
        .watched
        .iter()
        .filter_map(|f| std::fs::canonicalize(f).ok())
        .collect();
    // Event paths are the watched (canonical) directory joined with the entry's name.
    let named = snap
        .watched
        .iter()
        .filter_map(|f| Some(parent_dir(f)?.join(f.file_name()?)));
    inputs.set(named.chain(targets.iter().cloned()).collect());
    let wanted: BTreeSet<PathBuf> = snap
        .watched
        .iter()
        .chain(targets.iter())
        .filter_map(|f| parent_dir(f))
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
