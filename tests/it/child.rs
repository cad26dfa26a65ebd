//! `hookguard run` as a child process on a config file, with its JSON log lines collected:
//! for tests that need the real binary (its own process, its own memory and CPU).

#![allow(clippy::unwrap_used, dead_code)]

use std::time::{Duration, Instant};

/// `hookguard run` on `config`, its JSON log lines collected; killed on drop.
pub struct Child {
    pub child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
}

impl Child {
    pub fn start(config: &std::path::Path) -> Child {
        Self::start_with(config, &[])
    }

    /// Like [`Child::start`] with more environment variables.
    pub fn start_with(config: &std::path::Path, env: &[(&str, &str)]) -> Child {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hookguard"))
            .args(["run", "--log-format", "json", "--config"])
            .arg(config)
            .envs(env.iter().copied())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>> = Default::default();
        let sink = std::sync::Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(v) = serde_json::from_str(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        Child { child, lines }
    }

    /// The first log line `pick` accepts, waiting up to 10 s.
    pub async fn line(&self, pick: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(v) = self.lines.lock().unwrap().iter().find(|v| pick(v)) {
                return v.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{:?}",
                self.lines.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Child {
    /// The address it listens on, from its `listening` log line.
    pub async fn addr(&self) -> std::net::SocketAddr {
        let line = self.line(|v| v["message"] == "listening").await;
        line["addr"].as_str().unwrap().parse().unwrap()
    }

    /// Its resident set size in KiB, from `/proc`.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}
