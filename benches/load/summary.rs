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
        for t in sc.targets {
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

fn ka64_goals(r: &Results) -> Vec<Goal> {
    let hg = r.median("ka64", "hookguard");
    let ratio = |peer: &str, f: fn(&Median) -> f64| {
        let v = hg.zip(r.median("ka64", peer)).map(|(a, b)| f(&a) / f(&b))?;
        Some((v, format!("{v:.2}×")))
    };
    let cpu = hg.and_then(|m| m.cpu).map(|c| (c, format!("{c:.1} µs")));
    vec![
        (
            "ka64 req/s ≥ 1.0 × haproxy (plain)",
            ratio("haproxy", |m| m.rps),
            1.0,
            true,
        ),
        (
            "ka64 req/s ≥ 1.3 × haproxy-verify",
            ratio("haproxy-verify", |m| m.rps),
            1.3,
            true,
        ),
        (
            "ka64 p99 ≤ haproxy-verify p99",
            ratio("haproxy-verify", |m| m.p99),
            1.0,
            false,
        ),
        ("ka64 proxy CPU ≤ 10 µs/request", cpu, 10.0, false),
    ]
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
    let big = r.median("body1m", "hookguard");
    // Strict: all of hookguard's CPU for a 1 MiB request (receive, verify, forward) against
    // one HMAC over 1 MiB. Loose: verified MiB/s on all cores against raw HMAC on one core.
    let strict = big.and_then(|m| m.cpu).map(|c| r.hmac_us_per_mib / c);
    let loose = big.map(|m| m.rps * r.hmac_us_per_mib / 1e6);
    let pct = |v: Option<f64>| v.map(|v| (v, format!("{:.0}%", v * 100.0)));
    let idle = r
        .memory
        .iter()
        .find(|m| m.target == "hookguard")
        .map(|m| mib(m.rss_idle_kib));
    let failed = r
        .reload
        .iter()
        .map(|x| (x.load.non2xx + x.load.sock_errors) as f64)
        .reduce(f64::max);
    vec![
        (
            "1 MiB, strict: raw HMAC µs/MiB ÷ hookguard CPU µs/request ≥ 90%",
            pct(strict),
            0.9,
            true,
        ),
        (
            "1 MiB, loose: hookguard MiB/s ÷ raw HMAC MiB/s on one core ≥ 90%",
            pct(loose),
            0.9,
            true,
        ),
        (
            "RSS with 1,000 idle connections ≤ 30 MiB",
            idle.map(|v| (v, format!("{v:.1} MiB"))),
            30.0,
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
