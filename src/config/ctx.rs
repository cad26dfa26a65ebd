//! What compiling a config carries along: the file errors point into, the directory relative
//! paths resolve against, and every file read so far (watched for reload, hashed so an
//! unchanged reload is skipped).

use std::path::{Path, PathBuf};

use serde_saphyr::Location;
use sha2::{Digest, Sha256};

use crate::config::ConfigError;

/// Where errors point, and how relative paths resolve.
pub struct Ctx<'a> {
    /// The config file.
    pub file: &'a Path,
    /// Its directory: relative paths in the config resolve against it.
    pub dir: PathBuf,
    /// Files read so far (watched for reload).
    pub watched: Vec<PathBuf>,
    /// Hash of every file read so far.
    pub hasher: Sha256,
}

impl Ctx<'_> {
    /// An error at `at`.
    pub fn err(&self, at: Location, message: impl Into<String>) -> ConfigError {
        ConfigError::At {
            file: self.file.to_owned(),
            line: at.line(),
            column: at.column(),
            message: message.into(),
        }
    }

    /// Reads a file the config names (relative to the config's directory) and watches it.
    pub fn read(&mut self, at: Location, what: &str, path: &str) -> Result<Vec<u8>, ConfigError> {
        let full = self.dir.join(path);
        let bytes = std::fs::read(&full)
            .map_err(|e| self.err(at, format!("cannot read {what} `{}`: {e}", full.display())))?;
        self.hasher.update(full.as_os_str().as_encoded_bytes());
        self.hasher.update((bytes.len() as u64).to_le_bytes());
        self.hasher.update(&bytes);
        self.watched.push(full);
        Ok(bytes)
    }
}
