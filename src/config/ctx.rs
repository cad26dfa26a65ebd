//! What compiling a config carries along: the file errors point into, the directory relative
//! paths resolve against, and every file read so far (watched for reload, hashed so an
//! unchanged reload is skipped).

use std::io::Read;
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

    /// Reads a file the config names (relative to the config's directory) and watches it;
    /// see [`read_input`] for what is refused.
    pub fn read(&mut self, at: Location, what: &str, path: &str) -> Result<Vec<u8>, ConfigError> {
        let full = self.dir.join(path);
        let bytes = read_input(&full)
            .map_err(|e| self.err(at, format!("cannot read {what} `{}`: {e}", full.display())))?;
        self.hasher.update(full.as_os_str().as_encoded_bytes());
        self.hasher.update((bytes.len() as u64).to_le_bytes());
        self.hasher.update(&bytes);
        self.watched.push(full);
        Ok(bytes)
    }
}

/// The most any input file (config, secret, TLS) may hold: far above any real one, far below
/// what would hurt (a secret `file:` pointing at a log or an image is a mistake to report).
pub const MAX_INPUT_BYTES: u64 = 1024 * 1024;

/// Reads a config, secret or TLS file, refusing anything but a regular file of at most
/// [`MAX_INPUT_BYTES`] before reading a byte of it: a FIFO would block start-up and every
/// later reload, `/dev/zero` would be read until memory runs out. The file is checked by path
/// first (so a device is never even opened), opened non-blocking, checked again on the open
/// handle (so a swap in between changes nothing), and read with a bound (so a file that grows
/// meanwhile is still cut off).
pub fn read_input(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    check_input(&std::fs::metadata(path)?)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    check_input(&file.metadata()?)?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

fn check_input(meta: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    let what = if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a FIFO")
    } else if kind.is_char_device() || kind.is_block_device() {
        Some("a device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    };
    if let Some(what) = what {
        let msg = format!("is {what}, not a regular file");
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, msg));
    }
    if meta.len() > MAX_INPUT_BYTES {
        return Err(too_large());
    }
    Ok(())
}

fn too_large() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("is larger than {MAX_INPUT_BYTES} bytes (1 MiB)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bounded_regular_file_is_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let ok = dir.path().join("ok");
        std::fs::write(&ok, b"secret\n").expect("write");
        assert_eq!(read_input(&ok).expect("regular file"), b"secret\n");
        let big = dir.path().join("big");
        let f = std::fs::File::create(&big).expect("create");
        f.set_len(MAX_INPUT_BYTES + 1).expect("sparse file");
        assert!(read_input(&big)
            .unwrap_err()
            .to_string()
            .contains("larger than"));
        let at_limit = dir.path().join("limit");
        let f = std::fs::File::create(&at_limit).expect("create");
        f.set_len(MAX_INPUT_BYTES).expect("sparse file");
        assert_eq!(
            read_input(&at_limit).expect("at the limit").len() as u64,
            MAX_INPUT_BYTES
        );
        assert!(read_input(dir.path())
            .unwrap_err()
            .to_string()
            .contains("directory"));
        let zero = read_input(Path::new("/dev/zero")).unwrap_err();
        assert!(zero.to_string().contains("a device"), "{zero}");
    }
}
