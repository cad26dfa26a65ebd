//! Helpers shared by the integration tests.

// --- config and verification helpers ---

use std::path::PathBuf;

use hookguard::config::snapshot::Snapshot;
use hookguard::config::ConfigError;
use hookguard::verify::{Check, Rejected, Request, Verified};
use http::{HeaderMap, HeaderName, HeaderValue};
use tempfile::TempDir;

/// 2026-01-01T00:00:00Z, the instant most tests verify at, in Unix seconds.
pub const NOW_S: i64 = 1_767_225_600;

/// A config file in a fresh directory; the directory lives as long as the value.
pub struct ConfigFile {
    /// Holds the directory (and any secret files written beside the config).
    pub dir: TempDir,
    /// `<dir>/hookguard.yaml`.
    pub path: PathBuf,
}

impl ConfigFile {
    /// Writes `yaml` as `hookguard.yaml` in a new temporary directory.
    pub fn new(yaml: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("hookguard.yaml");
        std::fs::write(&path, yaml).expect("write config");
        ConfigFile { dir, path }
    }

    /// Writes another file beside the config and returns its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write file");
        path
    }

    /// Loads the config through hookguard's real path (`compile::load`).
    pub fn load(&self) -> Result<Snapshot, ConfigError> {
        hookguard::config::compile::load(&self.path)
    }
}

/// A config with one route named `r` at `/hook`; `verify` is the YAML under `verify:`,
/// written without indentation, and `extra` is YAML for more route keys (e.g. `tolerance`).
pub fn one_route(extra: &str, verify: &str) -> String {
    let indent = |text: &str, by: &str| {
        text.lines()
            .map(|l| format!("{by}{l}\n"))
            .collect::<String>()
    };
    format!(
        "listen: \"127.0.0.1:0\"\nroutes:\n  - name: r\n    path: /hook\n    upstream: http://127.0.0.1:1\n{}    verify:\n{}",
        indent(extra, "    "),
        indent(verify, "      ")
    )
}

/// Loads `yaml` (which must be valid) and returns the snapshot.
pub fn load_yaml(yaml: &str) -> Snapshot {
    let file = ConfigFile::new(yaml);
    file.load()
        .unwrap_or_else(|e| panic!("config should load: {e}\n{yaml}"))
}

/// The compiled checks of the route named `name`.
pub fn route_checks<'a>(snapshot: &'a Snapshot, name: &str) -> &'a [Check] {
    &snapshot
        .route_named(name)
        .unwrap_or_else(|| panic!("no route `{name}`"))
        .checks
}

/// A header map from `(name, value)` pairs; a repeated name arrives on several lines.
pub fn headers<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_ref().as_bytes()).expect("header name");
        let value = HeaderValue::from_str(value.as_ref()).expect("header value");
        map.append(name, value);
    }
    map
}

/// Verifies a request against the route named `name` with the route's own tolerance.
pub fn verify_route(
    snapshot: &Snapshot,
    name: &str,
    req: &Request<'_>,
    now_ms: i64,
) -> Result<Verified, Rejected> {
    let route = snapshot
        .route_named(name)
        .unwrap_or_else(|| panic!("no route `{name}`"));
    hookguard::verify::verify(&route.checks, req, now_ms)
}
