//! What one load run is (`Job`), what it yields (`Load`), and driving it with wrk: one
//! thread (`-t1`, so the proxy keeps the other core), a Lua script that makes every request
//! a signed POST and prints the summary and the percentiles in one machine-readable line.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::payload::Payload;

/// One load run.
#[derive(Clone)]
pub struct Job {
    /// Port on 127.0.0.1 to drive.
    pub port: u16,
    /// Speak TLS.
    pub tls: bool,
    /// Open a new connection for every request (`Connection: close`).
    pub close: bool,
    /// Concurrent connections.
    pub conns: usize,
    /// How long to drive.
    pub duration: Duration,
    /// The body and signature sent with every request.
    pub payload: Payload,
    /// Give every request its own `X-GitHub-Delivery` (unique across runs).
    pub unique_ids: bool,
}

/// A prefix no earlier run used, for delivery ids unique across runs (a Redis store keeps
/// the ids of earlier runs for its window).
pub fn run_prefix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{nanos:x}-")
}

/// What a load run measured.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Load {
    /// Responses received (any status).
    pub requests: u64,
    /// Seconds the run lasted.
    pub secs: f64,
    /// Latency percentiles, microseconds.
    pub p50_us: f64,
    /// 99th percentile, microseconds.
    pub p99_us: f64,
    /// 99.9th percentile, microseconds.
    pub p999_us: f64,
    /// Responses with a status of 400 or more (wrk counts these; 3xx never happen here).
    pub non2xx: u64,
    /// Connect, read, write errors and timeouts.
    pub sock_errors: u64,
}

impl Load {
    /// Requests per second.
    pub fn rps(&self) -> f64 {
        if self.secs > 0.0 {
            self.requests as f64 / self.secs
        } else {
            0.0
        }
    }
}

const DONE: &str = r#"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("HGLOAD %d %d %d %d %d %d %d %d %d %d\n",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end
"#;

/// Run `job` with wrk, using `dir` for the script and the body file.
pub fn run(job: &Job, dir: &Path) -> Result<Load> {
    let script = write_script(job, dir)?;
    let scheme = if job.tls { "https" } else { "http" };
    let secs = job.duration.as_secs().max(1);
    let out = Command::new("wrk")
        .args(["-t1", "--latency", "--timeout", "10s"])
        .arg(format!("-c{}", job.conns))
        .arg(format!("-d{secs}s"))
        .arg("-s")
        .arg(&script)
        .arg(format!("{scheme}://127.0.0.1:{}/", job.port))
        .output()
        .context("running wrk")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("HGLOAD ")) else {
        bail!(
            "wrk printed no summary: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    parse(line)
}

fn write_script(job: &Job, dir: &Path) -> Result<PathBuf> {
    let body = dir.join(format!("body-{}.json", job.payload.body.len()));
    std::fs::write(&body, &job.payload.body)?;
    let close = if job.close {
        "wrk.headers[\"Connection\"] = \"close\"\n"
    } else {
        ""
    };
    let ids = if job.unique_ids {
        format!(
            "local n = 0\nrequest = function()\n  n = n + 1\n  \
             wrk.headers[\"X-GitHub-Delivery\"] = \"{}\" .. n\n  return wrk.format()\nend\n",
            run_prefix()
        )
    } else {
        String::new()
    };
    let script = format!(
        "wrk.method = \"POST\"\nlocal f = assert(io.open(\"{body}\", \"rb\"))\n\
         wrk.body = f:read(\"*a\")\nf:close()\n\
         wrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.headers[\"X-Hub-Signature-256\"] = \"{sig}\"\n{close}{ids}{DONE}",
        body = body.display(),
        sig = job.payload.signature,
    );
    let path = dir.join("post.lua");
    std::fs::write(&path, script)?;
    Ok(path)
}

fn parse(line: &str) -> Result<Load> {
    let n: Vec<u64> = line
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("wrk summary {line:?}"))?;
    let [requests, micros, connect, read, write, status, timeout, p50, p99, p999] = n[..] else {
        bail!("wrk summary has {} fields, not 10: {line:?}", n.len());
    };
    Ok(Load {
        requests,
        secs: micros as f64 / 1e6,
        p50_us: p50 as f64,
        p99_us: p99 as f64,
        p999_us: p999 as f64,
        non2xx: status,
        sock_errors: connect + read + write + timeout,
    })
}

/// wrk's version line, for the report.
pub fn version() -> Option<String> {
    let out = Command::new("wrk").arg("-v").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .next()
        .map(|l| l.split(" Copyright").next().unwrap_or(l).trim().to_string())
}
