//! # Load harness: hookguard against the direct path, nginx and haproxy
//!
//! ```text
//! cargo bench --bench load -- [--quick] [--duration 5s] [--rounds 3] [--only ka64,idle1k]
//!                             [--no-wrk] [--hookguard PATH] [--out DIR]
//! ```
//! `cargo bench` builds `target/release/hookguard` itself (same profile); a full run takes
//! about 8 minutes, `--quick` (1 s runs, 1 round, no warm-up) well under a minute. Install
//! the peers and wrk first (`apt-get install -y nginx haproxy wrk`): a peer that is missing
//! is skipped and the report says so; without wrk a built-in hyper generator drives the load.
//!
//! In one run it starts an upstream of its own (hyper, one thread, answers 200 "ok"), then,
//! per scenario, round after round, each target in turn (A, B, A, B), each freshly started:
//! `direct` (the upstream itself), `hookguard` (verifying the GitHub signature), `nginx` and
//! `haproxy` as plain reverse proxies, and `haproxy-verify` (haproxy computing the same
//! HMAC-SHA256 with its `hmac()` converter and answering 401 on a mismatch). Scenarios:
//! 1 KiB signed POSTs on 64 and 256 keep-alive connections; wrong signatures (rejections per
//! second); 1 MiB bodies; a new TLS connection per request (one rcgen certificate for all);
//! RSS with 1,000 idle keep-alive connections; and the 64-connection load while hookguard's
//! config is rewritten 100 times by atomic rename (failed requests must be 0).
//!
//! Per run: requests/s, p50, p99, p99.9 (from wrk's `--latency` histogram, through a Lua
//! `done()` hook), CPU microseconds per request of the proxy (utime + stime of all its
//! processes from /proc, before and after), and peak RSS (VmHWM). The report gives medians
//! over the rounds, hookguard's ratio to each peer, and the issue's targets met or missed; it
//! goes to stdout and `target/load/report.md`, raw numbers to `target/load/results.json`,
//! and a plot to `target/load/load.svg`.
//!
//! Fairness: hookguard's tokio runtime uses every core, so nginx gets `worker_processes` and
//! haproxy `nbthread` equal to the core count; wrk runs one thread (`-t1`) and the upstream
//! one thread, and all of them share the same cores. All traffic goes to 127.0.0.1; every
//! loop is bounded by the run's duration and every process is stopped by its pid.

#[path = "load/hyperload.rs"]
mod hyperload;
#[path = "load/meta.rs"]
mod meta;
#[path = "load/payload.rs"]
mod payload;
#[path = "load/peers.rs"]
mod peers;
#[path = "load/procs.rs"]
mod procs;
#[path = "load/report.rs"]
mod report;
#[path = "load/scenario.rs"]
mod scenario;
#[path = "load/summary.rs"]
mod summary;
#[path = "load/svg.rs"]
mod svg;
#[path = "load/upstream.rs"]
mod upstream;
#[path = "load/wrk.rs"]
mod wrk;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;

use peers::{installed, Ctx, Target};
use scenario::{Runner, SCENARIOS};

/// Options after `cargo bench --bench load --`.
#[derive(Parser)]
#[command(about = "hookguard load harness: hookguard against direct, nginx and haproxy")]
struct Opts {
    /// Smoke run: 1 s per run, one round, no warm-up.
    #[arg(long)]
    quick: bool,
    /// Measured duration of each run (wrk takes whole seconds), e.g. 5s.
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Rounds per scenario (targets alternate within each round).
    #[arg(long)]
    rounds: Option<usize>,
    /// Run only these scenarios (comma-separated): ka64, ka64-replay, ka256, invalid,
    /// body1m, tls-newconn, idle1k, reload.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Use the built-in hyper load generator even when wrk is installed.
    #[arg(long)]
    no_wrk: bool,
    /// The hookguard binary (default: the one cargo built for this bench).
    #[arg(long)]
    hookguard: Option<PathBuf>,
    /// A second hookguard binary (an earlier build), run as `hookguard-base` wherever
    /// `hookguard` runs, alternating with it: an A/B pair measured in one run.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Output directory (default: target/load).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn main() -> Result<()> {
    let opts = Opts::parse();
    for name in &opts.only {
        if !SCENARIOS.iter().any(|sc| sc.name == name) {
            bail!("unknown scenario {name:?} for --only");
        }
    }
    let dir = tempfile::Builder::new()
        .prefix("hookguard-load-")
        .tempdir()?;
    // nginx workers run as nobody and must reach the temp paths inside.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let wants_redis = opts.only.is_empty() || opts.only.iter().any(|n| n == "ka64-replay");
    let redis = if wants_redis && installed_redis() {
        Some(start_redis(dir.path())?)
    } else {
        None
    };
    let ctx = Ctx {
        dir: dir.path().to_path_buf(),
        upstream: upstream::spawn()?,
        hookguard: opts.hookguard.clone().unwrap_or_else(default_hookguard),
        baseline: opts.baseline.clone(),
        cert: payload::write_cert(dir.path())?,
        workers,
        clk_tck: procs::clk_tck(),
        redis: redis.as_ref().map(|(port, _)| *port),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let mut runner = runner(&opts, &ctx, &rt);
    runner.results.hmac_us_per_mib = payload::hmac_us_per_mib(Duration::from_millis(500))?;
    runner.results.meta = meta::collect(&ctx, &runner);
    for sc in SCENARIOS
        .iter()
        .filter(|sc| opts.only.is_empty() || opts.only.iter().any(|n| n == sc.name))
    {
        runner.run(sc);
    }
    let mut results = std::mem::take(&mut runner.results);
    if let Some(start) = results.meta.get_mut("load average") {
        *start = format!("{start}, {} at end", meta::load_average());
    }
    results.skipped = runner
        .skipped
        .iter()
        .map(|(t, why)| (t.name(), why.clone()))
        .collect();
    let md = report::markdown(&results);
    println!("{md}");
    let out = opts.out.clone().unwrap_or_else(default_out);
    report::write(&results, &md, &out).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("wrote {}/report.md, results.json, load.svg", out.display());
    Ok(())
}

fn runner<'a>(opts: &Opts, ctx: &'a Ctx, rt: &'a tokio::runtime::Runtime) -> Runner<'a> {
    let secs = |s| Duration::from_secs(s);
    let (duration, rounds, warmup, idle_wait) = if opts.quick {
        (secs(1), 1, Duration::ZERO, secs(1))
    } else {
        (secs(5), 3, secs(1), secs(2))
    };
    let mut skipped = BTreeMap::new();
    if ctx.redis.is_none() && !installed_redis() {
        let why = "redis-server is not installed (apt-get install -y redis-server)".to_string();
        skipped.insert(Target::HookguardReplayRedis, why);
    }
    if !ctx.hookguard.exists() {
        let why = format!(
            "{} not found: run `cargo build --release`",
            ctx.hookguard.display()
        );
        skipped.insert(Target::Hookguard, why);
    }
    for (target, program) in [
        (Target::Nginx, "nginx"),
        (Target::Haproxy, "haproxy"),
        (Target::HaproxyVerify, "haproxy"),
    ] {
        if !installed(program) {
            skipped.insert(target, format!("{program} is not installed"));
        }
    }
    let duration = opts.duration.unwrap_or(duration);
    Runner {
        ctx,
        rt,
        use_wrk: !opts.no_wrk && installed("wrk"),
        duration,
        reload_duration: if opts.quick {
            duration
        } else {
            duration.max(secs(16))
        },
        warmup,
        rounds: opts.rounds.unwrap_or(rounds).max(1),
        idle_wait,
        skipped,
        results: report::Results::default(),
    }
}

fn installed_redis() -> bool {
    std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok()
}

/// The replay scenario's redis-server: a free port, its files in the run's temp dir, an
/// append-only file fsynced once a second (Redis's own default for `appendonly yes`), as a
/// production store would run. Stopped when the returned process is dropped.
fn start_redis(dir: &std::path::Path) -> Result<(u16, procs::Proc)> {
    let port = procs::free_port()?;
    let data = dir.join("redis");
    std::fs::create_dir_all(&data)?;
    let mut cmd = std::process::Command::new("redis-server");
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
    ])
    .arg("--dir")
    .arg(&data)
    .args(["--appendonly", "yes", "--appendfsync", "everysec"]);
    let mut proc = procs::Proc::spawn("redis-server", &mut cmd, dir.join("redis.log"))?;
    proc.wait_ready(port, Duration::from_secs(10))?;
    Ok((port, proc))
}

fn default_hookguard() -> PathBuf {
    match option_env!("CARGO_BIN_EXE_hookguard") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/hookguard"),
    }
}

fn default_out() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    target.join("load")
}
