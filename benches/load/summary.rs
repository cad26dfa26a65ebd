//! The report's tables: medians per scenario and target, hookguard's ratios to each peer,
//! memory and reload, and the targets marked met or missed (and by how much).

use std::fmt::Write as _;

use crate::report::{load_scenarios, mib, opt, Median, Results};

/// Medians of every load scenario and target.
pub fn medians_table(r: &Results) -> String {
    let mut md = String::from(
        "## Medians\n\n| scenario | target | req/s | p50 ms | p99 ms | p99.9 ms | CPU µs/req | peak RSS MiB | non-2xx | socket errors | runs |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for sc in load_scenarios(r) {
        for t in sc.targets_with(true) {
            let Some(m) = r.median(sc.name, t.name()) else {
                continue;
            };
            let _ = writeln!(
                md,
                "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} |",
                sc.name,
                t.name(),
                m.rps,
                m.p50 / 1e3,
                m.p99 / 1e3,
                m.p999 / 1e3,
                opt(m.cpu, 1),
                opt(m.rss.map(|k| k / 1024.0), 1),
                m.bad.0,
                m.bad.1,
                m.runs
            );
        }
    }
    md + "\n"
}

/// hookguard divided by each peer, per scenario: above 1 is better for req/s, below 1 is
/// better for p99 and CPU.
pub fn ratios_table(r: &Results) -> String {
    let mut md = String::from(
        "## hookguard / peer\n\nreq/s: above 1 means hookguard is faster; p99 and CPU: below 1 means hookguard is better.\n\n\
         | scenario | peer | req/s ratio | p99 ratio | CPU/req ratio |\n|---|---|---:|---:|---:|\n",
    );
    for sc in load_scenarios(r) {
        let Some(hg) = r.median(sc.name, "hookguard") else {
            continue;
        };
        // hookguard's replay variants are compared with hookguard in their own table.
        let peers = sc
            .targets
            .iter()
            .filter(|t| !t.name().starts_with("hookguard"));
        for t in peers {
            let Some(peer) = r.median(sc.name, t.name()) else {
                continue;
            };
            let cpu = hg.cpu.zip(peer.cpu).map(|(a, b)| a / b);
            let _ = writeln!(
                md,
                "| {} | {} | {:.2} | {:.2} | {} |",
                sc.name,
                t.name(),
                hg.rps / peer.rps,
                hg.p99 / peer.p99,
                opt(cpu, 2)
            );
        }
    }
    md + "\n"
}

/// `--baseline`: hookguard divided by the earlier build, per scenario (an A/B pair).
pub fn ab_table(r: &Results) -> String {
    let mut md = String::from(
        "## hookguard / hookguard-base (A/B)\n\nThe build under test divided by `--baseline`, alternating in \
         every round: req/s above 1 and CPU/p99 below 1 mean the change helped.\n\n\
         | scenario | req/s | base req/s | req/s ratio | CPU µs/req | base CPU µs/req | CPU/req ratio | p99 ratio |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mut any = false;
    for sc in load_scenarios(r) {
        let (Some(a), Some(b)) = (
            r.median(sc.name, "hookguard"),
            r.median(sc.name, "hookguard-base"),
        ) else {
            continue;
        };
        any = true;
        let cpu = a.cpu.zip(b.cpu).map(|(x, y)| x / y);
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.0} | {:.2} | {} | {} | {} | {:.2} |",
            sc.name,
            a.rps,
            b.rps,
            a.rps / b.rps,
            opt(a.cpu, 1),
            opt(b.cpu, 1),
            opt(cpu, 2),
            a.p99 / b.p99
        );
    }
    if any {
        md + "\n"
    } else {
        String::new()
    }
}

/// `ka64-replay`: each replay store divided by hookguard without replay, in the same run.
pub fn replay_table(r: &Results) -> String {
    let Some(base) = r.median("ka64-replay", "hookguard") else {
        return String::new();
    };
    let mut md = String::from(
        "## Replay protection / none\n\nka64 with a fresh `X-GitHub-Delivery` per request; each \
         store divided by hookguard without `replay:` in the same run.\n\n\
         | store | req/s | req/s ratio | CPU µs/req | CPU/req ratio | p99 ratio |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for (store, target) in REPLAY_STORES {
        let Some(m) = r.median("ka64-replay", target) else {
            continue;
        };
        let cpu = m.cpu.zip(base.cpu).map(|(a, b)| a / b);
        let _ = writeln!(
            md,
            "| {store} | {:.0} | {:.2} | {} | {} | {:.2} |",
            m.rps,
            m.rps / base.rps,
            opt(m.cpu, 1),
            opt(cpu, 2),
            m.p99 / base.p99
        );
    }
    md + "\n"
}

const REPLAY_STORES: [(&str, &str); 2] = [
    ("memory", "hookguard-replay-memory"),
    ("redis", "hookguard-replay-redis"),
];

/// The idle-connection and reload results.
pub fn memory_and_reload(r: &Results) -> String {
    let mut md = String::new();
    if !r.memory.is_empty() {
        md += "## RSS with idle keep-alive connections\n\n| target | connections | RSS at start MiB | RSS idle MiB | per connection KiB |\n|---|---:|---:|---:|---:|\n";
        for m in &r.memory {
            let per =
                m.rss_idle_kib.saturating_sub(m.rss_before_kib) as f64 / m.conns.max(1) as f64;
            let (start, idle) = (mib(m.rss_before_kib), mib(m.rss_idle_kib));
            let _ = writeln!(
                md,
                "| {} | {} | {start:.1} | {idle:.1} | {per:.1} |",
                m.target, m.conns
            );
        }
        md += "\n";
    }
    if !r.reload.is_empty() {
        md += "## Reload under load\n\n| round | rewrites | reloads ok | reloads failed | requests | req/s | non-2xx | socket errors |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n";
        for (i, x) in r.reload.iter().enumerate() {
            let l = &x.load;
            let (ok, bad) = (opt(x.reloads_success, 0), opt(x.reloads_failure, 0));
            let (n, rps) = (l.requests, l.rps());
            let _ = writeln!(
                md,
                "| {} | {} | {ok} | {bad} | {n} | {rps:.0} | {} | {} |",
                i + 1,
                x.rewrites,
                l.non2xx,
                l.sock_errors
            );
        }
        md += "\n";
    }
    md
}

/// One target of the issue: what, the figure (value and how it is shown), the threshold,
/// and whether higher is better.
type Goal = (&'static str, Option<(f64, String)>, f64, bool);

/// The targets, each met or missed by how much.
pub fn targets(r: &Results) -> String {
    let mut md = String::from("## Targets\n\n| target | figure | verdict |\n|---|---:|---|\n");
    let goals = ka64_goals(r).into_iter().chain(other_goals(r));
    for (what, figure, want, higher) in goals.chain(replay_goals(r)) {
        let verdict = match &figure {
            None => "not measured".to_string(),
            Some((v, _)) if (higher && *v >= want) || (!higher && *v <= want) => "met".into(),
            Some(_) if want == 0.0 => "missed".to_string(),
            Some((v, _)) => format!("missed by {:.0}%", ((v - want) / want * 100.0).abs()),
        };
        let shown = figure.map_or_else(|| "–".to_string(), |(_, s)| s);
        let _ = writeln!(md, "| {what} | {shown} | {verdict} |");
    }
    md
}

/// hookguard's figure in `scenario` divided by `peer`'s, shown as `0.00×`.
fn ratio(
    r: &Results,
    scenario: &str,
    peer: &str,
    f: fn(&Median) -> Option<f64>,
) -> Option<(f64, String)> {
    let (a, b) = (r.median(scenario, "hookguard")?, r.median(scenario, peer)?);
    let v = f(&a)? / f(&b)?;
    Some((v, format!("{v:.2}×")))
}

/// Issue 12's ratio targets: (what, scenario, peer, figure, threshold, higher is better).
type RatioGoal = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Median) -> Option<f64>,
    f64,
    bool,
);

const RATIO_GOALS: [RatioGoal; 8] = [
    (
        "ka64 req/s ≥ 1.0 × haproxy (plain)",
        "ka64",
        "haproxy",
        rps,
        1.0,
        true,
    ),
    (
        "ka64 req/s ≥ 1.3 × haproxy-verify",
        "ka64",
        "haproxy-verify",
        rps,
        1.3,
        true,
    ),
    (
        "ka64 p99 ≤ haproxy-verify p99",
        "ka64",
        "haproxy-verify",
        p99,
        1.0,
        false,
    ),
    (
        "ka64 CPU/request ≤ haproxy (plain)",
        "ka64",
        "haproxy",
        cpu,
        1.0,
        false,
    ),
    (
        "ka256 req/s ≥ 1.0 × haproxy (plain)",
        "ka256",
        "haproxy",
        rps,
        1.0,
        true,
    ),
    (
        "invalid rejections/s ≥ 1.5 × haproxy-verify",
        "invalid",
        "haproxy-verify",
        rps,
        1.5,
        true,
    ),
    (
        "invalid CPU/request ≤ 0.7 × haproxy-verify",
        "invalid",
        "haproxy-verify",
        cpu,
        0.7,
        false,
    ),
    (
        "tls-newconn req/s ≥ 1.2 × haproxy (plain)",
        "tls-newconn",
        "haproxy",
        rps,
        1.2,
        true,
    ),
];

fn rps(m: &Median) -> Option<f64> {
    Some(m.rps)
}

fn p99(m: &Median) -> Option<f64> {
    Some(m.p99)
}

fn cpu(m: &Median) -> Option<f64> {
    m.cpu
}

fn ka64_goals(r: &Results) -> Vec<Goal> {
    RATIO_GOALS
        .iter()
        .map(|&(what, scenario, peer, f, want, higher)| {
            (what, ratio(r, scenario, peer, f), want, higher)
        })
        .collect()
}

fn replay_goals(r: &Results) -> Vec<Goal> {
    let base = r.median("ka64-replay", "hookguard");
    let ratio = |target: &str| {
        let v = base
            .zip(r.median("ka64-replay", target))
            .map(|(b, m)| m.rps / b.rps)?;
        Some((v, format!("{v:.2}×")))
    };
    vec![
        (
            "ka64 req/s with replay: memory ≥ 0.95 × without",
            ratio("hookguard-replay-memory"),
            0.95,
            true,
        ),
        (
            "ka64 req/s with replay: Redis ≥ 0.80 × without",
            ratio("hookguard-replay-redis"),
            0.80,
            true,
        ),
    ]
}

fn other_goals(r: &Results) -> Vec<Goal> {
    // body1m: hookguard's CPU for a 1 MiB request against the floor of haproxy plain's CPU
    // for it plus one raw HMAC-SHA256 of 1 MiB on one core (both in this run).
    let floor = r
        .median("body1m", "haproxy")
        .and_then(|m| m.cpu)
        .map(|c| c + r.hmac_us_per_mib);
    let big = r
        .median("body1m", "hookguard")
        .and_then(|m| m.cpu)
        .zip(floor)
        .map(|(c, f)| {
            let v = c / f;
            (v, format!("{v:.2}× ({c:.0} µs ÷ {f:.0} µs)"))
        });
    let per_conn = r.memory.iter().find(|m| m.target == "hookguard").map(|m| {
        let per = m.rss_idle_kib.saturating_sub(m.rss_before_kib) as f64 / m.conns.max(1) as f64;
        (per, format!("{per:.1} KiB"))
    });
    let failed = r
        .reload
        .iter()
        .map(|x| (x.load.non2xx + x.load.sock_errors) as f64)
        .reduce(f64::max);
    vec![
        (
            "body1m CPU/request ≤ 0.9 × (haproxy plain + raw HMAC of 1 MiB)",
            big,
            0.9,
            false,
        ),
        (
            "idle keep-alive connection ≤ 12 KiB RSS (1,000 connections)",
            per_conn,
            12.0,
            false,
        ),
        (
            "reload: no failed request in 100 rewrites",
            failed.map(|v| (v, format!("{v:.0} failed"))),
            0.0,
            false,
        ),
    ]
}
