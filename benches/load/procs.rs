//! The processes under test: start one with its stderr in a log file, wait until its port
//! answers, read its CPU time and memory from /proc (summed over its children: nginx works
//! in child processes), and stop it by pid, however the run ends.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A free port on 127.0.0.1 (bound, read, released: another process could take it first,
/// which on this otherwise idle machine does not happen).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Kernel clock ticks per second, the unit of utime and stime in /proc/PID/stat.
pub fn clk_tck() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .unwrap_or(100)
}

/// CPU and memory of a process tree at one instant.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// utime + stime of every process in the tree, in clock ticks.
    pub ticks: u64,
    /// Sum of VmHWM (peak resident set) over the tree, KiB.
    pub hwm_kib: u64,
    /// Sum of VmRSS (resident set now) over the tree, KiB.
    pub rss_kib: u64,
}

/// A running server process; stopped when dropped.
pub struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Start `cmd` with stdout discarded and stderr written to `log`.
    pub fn spawn(name: &str, cmd: &mut Command, log: PathBuf) -> Result<Self> {
        let err = std::fs::File::create(&log)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Self {
            name: name.to_string(),
            child,
            log,
        })
    }

    /// Wait until 127.0.0.1:`port` accepts a connection; fail with the process's stderr if it
    /// exits first or does not listen within `limit`.
    pub fn wait_ready(&mut self, port: u16, limit: Duration) -> Result<()> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} exited early ({status}): {}", self.name, self.log_tail());
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "{} did not listen on {port} within {limit:?}: {}",
            self.name,
            self.log_tail()
        )
    }

    /// The last lines of the process's stderr.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }

    /// The process id of the process started (nginx's master, for instance).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU ticks and memory of the process and all its descendants now.
    pub fn usage(&self) -> Result<Usage> {
        let mut usage = Usage::default();
        for pid in tree(self.pid()) {
            usage.ticks += ticks(pid).with_context(|| format!("/proc/{pid}/stat"))?;
            usage.hwm_kib += status_kib(pid, "VmHWM:").unwrap_or(0);
            usage.rss_kib += status_kib(pid, "VmRSS:").unwrap_or(0);
        }
        Ok(usage)
    }

    /// SIGTERM, up to 3 s to exit, then SIGKILL for the process and whatever children it had.
    pub fn stop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let family = tree(self.pid());
        signal("TERM", &[self.pid()]);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                signal("KILL", &family[1..]);
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal("KILL", &family);
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

fn signal(name: &str, pids: &[u32]) {
    let live: Vec<String> = pids
        .iter()
        .filter(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
        .map(u32::to_string)
        .collect();
    if !live.is_empty() {
        let _ = Command::new("kill")
            .arg(format!("-{name}"))
            .args(&live)
            .stderr(Stdio::null())
            .status();
    }
}

/// `pid` followed by all its descendants, from /proc/PID/task/TID/children.
fn tree(pid: u32) -> Vec<u32> {
    let mut all = vec![pid];
    let mut next = 0;
    while next < all.len() && all.len() < 4096 {
        let parent = all[next];
        next += 1;
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            all.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    all
}

/// utime + stime, fields 14 and 15 of /proc/PID/stat (counted after the `(comm)` field,
/// which may itself hold spaces).
fn ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field =
        |i: usize| -> Result<u64> { Ok(fields.get(i).context("short /proc stat")?.parse()?) };
    Ok(field(11)? + field(12)?)
}

fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}
