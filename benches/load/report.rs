//! What was measured, reduced to medians and ratios: the markdown report (stdout and
//! `report.md`), the raw numbers (`results.json`) and the plot (`load.svg`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use crate::scenario::{Kind, SCENARIOS};
use crate::wrk::Load;

/// One measured run of one target in one scenario.
#[derive(serde::Serialize)]
pub struct Sample {
    /// Scenario name.
    pub scenario: &'static str,
    /// Target name.
    pub target: &'static str,
    /// 1-based round.
    pub round: usize,
    /// What the load driver measured.
    pub load: Load,
    /// Proxy CPU (user + system, all its processes) per request, microseconds.
    pub cpu_us_per_req: Option<f64>,
    /// Peak RSS (VmHWM summed over the proxy's processes), KiB.
    pub peak_rss_kib: Option<u64>,
}

impl Sample {
    /// One progress line.
    pub fn line(&self) -> String {
        let l = &self.load;
        format!(
            "{:>9.0} req/s  p50 {:.2} ms  p99 {:.2} ms  cpu {} µs/req  non-2xx {}  errors {}",
            l.rps(),
            l.p50_us / 1e3,
            l.p99_us / 1e3,
            opt(self.cpu_us_per_req, 1),
            l.non2xx,
            l.sock_errors
        )
    }
}

/// RSS of one target with idle keep-alive connections open.
#[derive(serde::Serialize)]
pub struct Memory {
    /// Target name.
    pub target: &'static str,
    /// Connections actually held open.
    pub conns: usize,
    /// RSS after start, before any connection, KiB.
    pub rss_before_kib: u64,
    /// RSS with the connections open and idle, KiB.
    pub rss_idle_kib: u64,
    /// Peak RSS, KiB.
    pub hwm_kib: u64,
}

impl Memory {
    /// One progress line.
    pub fn line(&self) -> String {
        format!(
            "{} idle connections: RSS {:.1} MiB (at start {:.1} MiB)",
            self.conns,
            mib(self.rss_idle_kib),
            mib(self.rss_before_kib)
        )
    }
}

/// The reload scenario: load under 100 config rewrites.
#[derive(serde::Serialize)]
pub struct Reload {
    /// What the load driver measured; non-2xx and socket errors must be 0.
    pub load: Load,
    /// Rewrites done.
    pub rewrites: u32,
    /// `hookguard_config_reloads_total{result="success"}` afterwards.
    pub reloads_success: Option<f64>,
    /// `hookguard_config_reloads_total{result="failure"}` afterwards.
    pub reloads_failure: Option<f64>,
}

impl Reload {
    /// Pair the load with the reload counters from hookguard's `/metrics` text.
    pub fn new(load: Load, rewrites: u32, metrics: &str) -> Self {
        let counter = |result: &str| {
            let key = format!("hookguard_config_reloads_total{{result=\"{result}\"}}");
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(&key)?.trim().parse().ok())
        };
        Self {
            load,
            rewrites,
            reloads_success: counter("success"),
            reloads_failure: counter("failure"),
        }
    }
}

/// Everything one run of the harness measured.
#[derive(Default, serde::Serialize)]
pub struct Results {
    /// Machine, versions, command, settings.
    pub meta: BTreeMap<&'static str, String>,
    /// Raw HMAC-SHA256 cost on one core, microseconds per MiB.
    pub hmac_us_per_mib: f64,
    /// Every load run.
    pub samples: Vec<Sample>,
    /// The idle-connection memory runs.
    pub memory: Vec<Memory>,
    /// The reload runs.
    pub reload: Vec<Reload>,
    /// Targets not run, and why.
    pub skipped: BTreeMap<&'static str, String>,
    /// Runs that failed part way.
    pub failures: Vec<String>,
}

/// Medians over the rounds of one target in one scenario.
#[derive(Clone, Copy, Default)]
pub struct Median {
    /// Requests per second.
    pub rps: f64,
    /// Latency percentiles, microseconds.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Proxy CPU per request, microseconds.
    pub cpu: Option<f64>,
    /// Peak RSS, KiB.
    pub rss: Option<f64>,
    /// Non-2xx responses and socket errors, summed over the rounds.
    pub bad: (u64, u64),
    /// Rounds.
    pub runs: usize,
}

impl Results {
    /// Medians of `target` in `scenario`, if it ran.
    pub fn median(&self, scenario: &str, target: &str) -> Option<Median> {
        let runs: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.scenario == scenario && s.target == target)
            .collect();
        if runs.is_empty() {
            return None;
        }
        let of =
            |f: &dyn Fn(&Sample) -> Option<f64>| median(runs.iter().filter_map(|s| f(s)).collect());
        Some(Median {
            rps: of(&|s| Some(s.load.rps()))?,
            p50: of(&|s| Some(s.load.p50_us))?,
            p99: of(&|s| Some(s.load.p99_us))?,
            p999: of(&|s| Some(s.load.p999_us))?,
            cpu: of(&|s| s.cpu_us_per_req),
            rss: of(&|s| s.peak_rss_kib.map(|k| k as f64)),
            bad: runs.iter().fold((0, 0), |(n, e), s| {
                (n + s.load.non2xx, e + s.load.sock_errors)
            }),
            runs: runs.len(),
        })
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// The whole report as markdown.
pub fn markdown(r: &Results) -> String {
    let mut md = String::from("# hookguard load harness\n\n");
    for (k, v) in &r.meta {
        let _ = writeln!(md, "- {k}: {v}");
    }
    let _ = writeln!(
        md,
        "- raw HMAC-SHA256, one core: {:.0} µs per MiB\n",
        r.hmac_us_per_mib
    );
    md += &crate::summary::medians_table(r);
    md += &crate::summary::ratios_table(r);
    md += &crate::summary::ab_table(r);
    md += &crate::summary::replay_table(r);
    md += &crate::summary::memory_and_reload(r);
    md += &crate::summary::targets(r);
    if !r.skipped.is_empty() || !r.failures.is_empty() {
        md += "\n## Skipped or failed\n\n";
        for (target, why) in &r.skipped {
            let _ = writeln!(md, "- {target}: skipped: {}", why.replace('\n', " "));
        }
        for failure in &r.failures {
            let _ = writeln!(md, "- {}", failure.replace('\n', " "));
        }
    }
    md
}

/// Write `report.md`, `results.json` and `load.svg` into `dir`.
pub fn write(r: &Results, md: &str, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("report.md"), md)?;
    std::fs::write(dir.join("results.json"), serde_json::to_string_pretty(r)?)?;
    std::fs::write(dir.join("load.svg"), crate::svg::plot(r))?;
    Ok(())
}

/// Scenarios that produced load samples, in run order.
pub fn load_scenarios(
    r: &Results,
) -> impl Iterator<Item = &'static crate::scenario::Scenario> + '_ {
    SCENARIOS
        .iter()
        .filter(|sc| sc.kind == Kind::Load && r.samples.iter().any(|s| s.scenario == sc.name))
}

/// A number with `digits` decimals, or a dash.
pub fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("{v:.digits$}"))
}

/// KiB to MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
