//! The scenarios and the loop that runs them: for each round, every target in turn
//! (A, B, A, B), each started fresh so its peak RSS belongs to that run alone, warmed up,
//! then driven while its CPU time is read from /proc before and after.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::runtime::Runtime;
use tokio_rustls::TlsConnector;

use crate::hyperload;
use crate::payload::Payload;
use crate::peers::{self, Ctx, Setup, Started, Target};
use crate::procs::Usage;
use crate::report::{Memory, Results, Sample};
use crate::wrk::{self, Job, Load};

use Target::{
    Direct, Haproxy, HaproxyVerify, Hookguard, HookguardReplayMemory, HookguardReplayRedis, Nginx,
};

/// What a scenario measures.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Throughput, latency, CPU per request, peak RSS.
    Load,
    /// RSS with idle keep-alive connections open.
    Idle,
    /// Load while the config file is rewritten 100 times.
    Reload,
}

/// One scenario: a kind of traffic and the targets it is driven at.
pub struct Scenario {
    /// Name for tables and `--only`.
    pub name: &'static str,
    /// One line for the report.
    pub what: &'static str,
    /// What it measures.
    pub kind: Kind,
    /// Concurrent connections (idle connections for `Kind::Idle`).
    pub conns: usize,
    /// Body size, bytes.
    pub body: usize,
    /// Whether the signature is valid.
    pub valid: bool,
    /// TLS with a new connection per request.
    pub tls: bool,
    /// A fresh `X-GitHub-Delivery` on every request (what replay protection keys on).
    pub ids: bool,
    /// Targets, in the order they alternate.
    pub targets: &'static [Target],
}

impl Scenario {
    /// The scenario's targets, with `hookguard-base` after `hookguard` when `baseline`
    /// (`--baseline`), so that an A/B pair alternates within every round.
    pub fn targets_with(&self, baseline: bool) -> Vec<Target> {
        let mut targets = self.targets.to_vec();
        if baseline {
            if let Some(at) = targets.iter().position(|t| *t == Target::Hookguard) {
                targets.insert(at + 1, Target::HookguardBase);
            }
        }
        targets
    }
}

const ALL: &[Target] = &[Direct, Hookguard, Nginx, Haproxy, HaproxyVerify];
const REPLAY: &[Target] = &[Hookguard, HookguardReplayMemory, HookguardReplayRedis];
const KIB: usize = 1024;

/// Every scenario, in the order they run.
#[rustfmt::skip] // one scenario a line reads as a table; rustfmt would make it 80 lines
pub const SCENARIOS: &[Scenario] = &[
    Scenario { name: "ka64", what: "1 KiB POST, valid signature, 64 keep-alive connections", kind: Kind::Load, conns: 64, body: KIB, valid: true, tls: false, ids: false, targets: ALL },
    Scenario { name: "ka64-replay", what: "ka64 with a fresh X-GitHub-Delivery per request: no replay, replay: memory, replay: Redis", kind: Kind::Load, conns: 64, body: KIB, valid: true, tls: false, ids: true, targets: REPLAY },
    Scenario { name: "ka256", what: "1 KiB POST, valid signature, 256 keep-alive connections", kind: Kind::Load, conns: 256, body: KIB, valid: true, tls: false, ids: false, targets: ALL },
    Scenario { name: "invalid", what: "1 KiB POST, wrong signature (rejections/s), 64 keep-alive connections", kind: Kind::Load, conns: 64, body: KIB, valid: false, tls: false, ids: false, targets: &[Hookguard, HaproxyVerify] },
    Scenario { name: "body1m", what: "1 MiB POST, valid signature, 16 keep-alive connections", kind: Kind::Load, conns: 16, body: KIB * KIB, valid: true, tls: false, ids: false, targets: ALL },
    Scenario { name: "tls-newconn", what: "1 KiB POST over a new TLS connection per request, 32 connections", kind: Kind::Load, conns: 32, body: KIB, valid: true, tls: true, ids: false, targets: &[Hookguard, Haproxy, HaproxyVerify] },
    Scenario { name: "idle1k", what: "RSS with 1,000 idle keep-alive connections (one request each)", kind: Kind::Idle, conns: 1000, body: KIB, valid: true, tls: false, ids: false, targets: &[Hookguard, Nginx, Haproxy, HaproxyVerify] },
    Scenario { name: "reload", what: "ka64 load while the config is rewritten 100 times (atomic rename)", kind: Kind::Reload, conns: 64, body: KIB, valid: true, tls: false, ids: false, targets: &[Hookguard] },
];

/// Runs scenarios and collects what they measured.
pub struct Runner<'a> {
    /// Where targets come from.
    pub ctx: &'a Ctx,
    /// Runtime for the built-in generator and the idle connections.
    pub rt: &'a Runtime,
    /// Drive with wrk (otherwise the built-in generator).
    pub use_wrk: bool,
    /// Measured duration of each run.
    pub duration: Duration,
    /// Duration of the reload run: 100 rewrites spread over 90% of it; at 16 s they come
    /// 144 ms apart, past hookguard's 100 ms debounce, so each one is a reload of its own.
    pub reload_duration: Duration,
    /// Unmeasured load before each run.
    pub warmup: Duration,
    /// How many times each target runs per scenario.
    pub rounds: usize,
    /// Seconds idle connections stay open before RSS is read.
    pub idle_wait: Duration,
    /// Targets not run at all, and why.
    pub skipped: BTreeMap<Target, String>,
    /// Everything measured.
    pub results: Results,
}

impl Runner<'_> {
    /// Run `sc` over its targets for all rounds; a target that fails to start is skipped
    /// from then on and the reason kept for the report.
    pub fn run(&mut self, sc: &Scenario) {
        let rounds = if sc.kind == Kind::Idle {
            1
        } else {
            self.rounds
        };
        for round in 1..=rounds {
            // Each round starts with the next target: whichever runs first in a round (after
            // the previous round's last, or on a machine still warming up) is not always the same.
            let targets = sc.targets_with(self.ctx.baseline.is_some());
            let n = targets.len();
            let order = (0..n).map(|i| targets[(i + round - 1) % n]);
            for target in order {
                if self.skipped.contains_key(&target) {
                    continue;
                }
                eprint!("[{} {round}/{rounds}] {:<15}", sc.name, target.name());
                let setup = Setup {
                    tls: sc.tls,
                    big: sc.body > 64 * KIB,
                };
                let outcome = match peers::start(self.ctx, target, setup) {
                    Ok(started) => self.measure(sc, target, round, started),
                    Err(e) => {
                        eprintln!("skipped: {e:#}");
                        self.skipped.insert(target, format!("{e:#}"));
                        continue;
                    }
                };
                match outcome {
                    Ok(line) => eprintln!("{line}"),
                    Err(e) => {
                        eprintln!("failed: {e:#}");
                        let note = format!("{} round {round}: {e:#}", sc.name);
                        self.results
                            .failures
                            .push(format!("{}: {note}", target.name()));
                    }
                }
            }
        }
    }

    fn measure(
        &mut self,
        sc: &Scenario,
        target: Target,
        round: usize,
        s: Started,
    ) -> Result<String> {
        let payload = Payload::new(sc.body, sc.valid)?;
        let job = Job {
            port: s.port,
            tls: sc.tls,
            close: sc.tls,
            conns: sc.conns,
            duration: match sc.kind {
                Kind::Reload => self.reload_duration,
                _ => self.duration,
            },
            payload,
            unique_ids: sc.ids,
        };
        self.probe(&job)?;
        if sc.kind == Kind::Idle {
            return self.idle(target, &s, &job);
        }
        if !self.warmup.is_zero() {
            self.drive(&Job {
                duration: self.warmup,
                ..job.clone()
            })?;
        }
        let before = usage(&s)?;
        let load = match sc.kind {
            Kind::Reload => self.reload(&s, &job)?,
            _ => self.drive(&job)?,
        };
        let after = usage(&s)?;
        let cpu_us_per_req = s.proc.as_ref().map(|_| {
            let micros = (after.ticks - before.ticks) as f64 * 1e6 / self.ctx.clk_tck as f64;
            micros / load.requests.max(1) as f64
        });
        let peak_rss_kib = s.proc.as_ref().map(|_| after.hwm_kib);
        let sample = Sample {
            scenario: sc.name,
            target: target.name(),
            round,
            load,
            cpu_us_per_req,
            peak_rss_kib,
        };
        let line = sample.line();
        self.results.samples.push(sample);
        Ok(line)
    }

    fn drive(&self, job: &Job) -> Result<Load> {
        if self.use_wrk {
            return wrk::run(job, &self.ctx.dir);
        }
        self.rt.block_on(hyperload::run(job, self.tls(job)?))
    }

    fn tls(&self, job: &Job) -> Result<Option<TlsConnector>> {
        job.tls
            .then(|| hyperload::tls_connector(&self.ctx.cert.der))
            .transpose()
    }

    /// One request before the load: a valid signature must get 200 and a wrong one 401, or
    /// the target is not set up as the scenario assumes and its figures would mean nothing.
    fn probe(&self, job: &Job) -> Result<()> {
        let tls = self.tls(job)?;
        let status = self.rt.block_on(async {
            let mut sender = hyperload::connect(job.port, tls.as_ref()).await?;
            hyperload::post(&mut sender, &job.payload, false).await
        })?;
        let want = if job.payload.valid { 200 } else { 401 };
        anyhow::ensure!(status == want, "probe answered {status}, expected {want}");
        Ok(())
    }

    fn idle(&mut self, target: Target, s: &Started, job: &Job) -> Result<String> {
        std::thread::sleep(Duration::from_millis(300));
        let before = usage(s)?;
        let conns = self.rt.block_on(async {
            let mut open = Vec::with_capacity(job.conns);
            for _ in 0..job.conns {
                let mut sender = hyperload::connect(job.port, None).await?;
                hyperload::post(&mut sender, &job.payload, false).await?;
                open.push(sender);
            }
            Ok::<_, anyhow::Error>(open)
        })?;
        std::thread::sleep(self.idle_wait);
        let after = usage(s)?;
        let memory = Memory {
            target: target.name(),
            conns: conns.len(),
            rss_before_kib: before.rss_kib,
            rss_idle_kib: after.rss_kib,
            hwm_kib: after.hwm_kib,
        };
        drop(conns);
        let line = memory.line();
        self.results.memory.push(memory);
        Ok(line)
    }

    /// Drive `job` while another thread rewrites hookguard's config 100 times.
    fn reload(&mut self, s: &Started, job: &Job) -> Result<Load> {
        let (config, admin) = (
            s.config.clone().context("no config")?,
            s.admin.context("no admin")?,
        );
        let gap = job.duration.mul_f64(0.9) / 100;
        let ctx = self.ctx;
        let load = std::thread::scope(|scope| {
            let writer = scope.spawn(move || -> Result<u32> {
                for i in 0..100u32 {
                    std::thread::sleep(gap);
                    let text = peers::hookguard_config(ctx, s.port, admin, false, i % 2 == 0);
                    peers::write_atomic(&config, &text)?;
                }
                Ok(100)
            });
            let load = self.drive(job);
            let rewrites = writer
                .join()
                .map_err(|_| anyhow::anyhow!("rewriter panicked"))?;
            Ok::<_, anyhow::Error>((load?, rewrites?))
        })?;
        std::thread::sleep(Duration::from_millis(1500));
        let metrics = self
            .rt
            .block_on(hyperload::get(admin, "/metrics"))
            .unwrap_or_default();
        self.results
            .reload
            .push(crate::report::Reload::new(load.0, load.1, &metrics));
        Ok(load.0)
    }
}

fn usage(s: &Started) -> Result<Usage> {
    s.proc.as_ref().map_or(Ok(Usage::default()), |p| p.usage())
}
