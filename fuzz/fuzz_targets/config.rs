//! Config parsing and compiling: any bytes as a config file never panic, and every error
//! names the file (and, for YAML and meaning errors, a line).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A directory that does not exist: relative `file:` secrets fail to read, absolute ones
    // go through the bounded reader (a regular file of at most 1 MiB, never a device).
    let file = Path::new("/nonexistent-hookguard-fuzz/hookguard.yaml");
    let parsed = match hookguard::config::parse(text, file) {
        Ok(config) => config,
        Err(e) => {
            assert!(e.to_string().starts_with(file.to_str().unwrap_or_default()));
            return;
        }
    };
    if let Err(e) = hookguard::config::compile(parsed, file) {
        assert!(e.to_string().starts_with(file.to_str().unwrap_or_default()));
    }
});
