//! What the report says about the run itself: machine, versions, command and settings, so
//! that a figure can be reproduced and compared.

use std::collections::BTreeMap;
use std::process::Command;

use crate::peers::Ctx;
use crate::scenario::Runner;

/// Machine, versions, command and settings of this run.
pub fn collect(ctx: &Ctx, runner: &Runner) -> BTreeMap<&'static str, String> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let driver = if runner.use_wrk {
        format!(
            "{} with -t1",
            crate::wrk::version().unwrap_or_else(|| "wrk".into())
        )
    } else {
        "built-in hyper generator on 1 tokio worker".to_string()
    };
    let n = ctx.workers;
    let mut meta = BTreeMap::new();
    meta.insert(
        "command",
        match args.is_empty() {
            true => "cargo bench --bench load".to_string(),
            false => format!("cargo bench --bench load -- {}", args.join(" ")),
        },
    );
    meta.insert("date", first_line("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]));
    meta.insert("machine", machine());
    meta.insert("load average", format!("{} at start", load_average()));
    let version = first_line(&ctx.hookguard.to_string_lossy(), &["--version"]);
    let commit = first_line("git", &["describe", "--always", "--dirty"]);
    meta.insert("hookguard", format!("{version} (source {commit})"));
    meta.insert("nginx", first_line("nginx", &["-v"]));
    meta.insert("haproxy", first_line("haproxy", &["-v"]));
    meta.insert("load driver", driver);
    meta.insert(
        "logging",
        "hookguard RUST_LOG=warn; nginx access_log off; haproxy logs nothing".to_string(),
    );
    meta.insert(
        "workers",
        format!(
            "hookguard: tokio default ({n} workers); nginx worker_processes {n}; haproxy nbthread {n}; \
             upstream 1 thread; load driver 1 thread; all share the same {n} cores"
        ),
    );
    meta.insert(
        "runs",
        format!(
            "{} rounds × {:?} measured (+{:?} warm-up; reload runs {:?}), targets alternate \
             within a round, each round starting with the next",
            runner.rounds, runner.duration, runner.warmup, runner.reload_duration
        ),
    );
    meta
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split(':').nth(1))
        .unwrap_or("unknown CPU")
        .trim()
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = first_line("uname", &["-sr"]);
    format!("{model}, {cores} cores, {kernel}")
}

/// The first line a command prints on stdout or, failing that, stderr (nginx -v).
fn first_line(program: &str, args: &[&str]) -> String {
    let Ok(out) = Command::new(program).args(args).output() else {
        return "not installed".to_string();
    };
    let text = [out.stdout, out.stderr].concat();
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// The 1-minute load average: anything else busy on the machine shows here.
pub fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().unwrap_or("?").to_string()
}
