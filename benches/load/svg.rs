//! The plot: one panel per load scenario, a horizontal bar per target with its median
//! requests per second (scaled to the fastest target of that scenario, since 1 MiB bodies
//! and 1 KiB bodies differ by orders of magnitude) and its p99 beside it. Plain SVG text,
//! so the harness needs no plotting crate.

use std::fmt::Write as _;

use crate::report::{load_scenarios, Results};

const WIDTH: f64 = 860.0;
const LABEL: f64 = 130.0;
const BAR_MAX: f64 = 480.0;
const ROW: f64 = 22.0;

fn colour(target: &str) -> &'static str {
    match target {
        "hookguard" => "#d9480f",
        "direct" => "#868e96",
        "nginx" => "#2b8a3e",
        "haproxy" => "#1c7ed6",
        _ => "#5f3dc4",
    }
}

/// The SVG document.
pub fn plot(r: &Results) -> String {
    let mut body = String::new();
    let mut y = 40.0;
    for sc in load_scenarios(r) {
        let rows: Vec<_> = sc
            .targets
            .iter()
            .filter_map(|t| r.median(sc.name, t.name()).map(|m| (t.name(), m)))
            .collect();
        let top = rows.iter().map(|(_, m)| m.rps).fold(0.0, f64::max).max(1.0);
        let _ = writeln!(
            body,
            r#"<text x="10" y="{y}" font-weight="bold">{} — {}</text>"#,
            sc.name,
            escape(sc.what)
        );
        y += 8.0;
        for (name, m) in rows {
            let w = (m.rps / top * BAR_MAX).max(1.0);
            let _ = writeln!(
                body,
                r#"<text x="{lx}" y="{ty}" text-anchor="end">{name}</text><rect x="{LABEL}" y="{y}" width="{w:.1}" height="16" fill="{c}"/><text x="{vx:.1}" y="{ty}">{rps:.0} req/s · p99 {p99:.2} ms</text>"#,
                lx = LABEL - 6.0,
                ty = y + 12.0,
                c = colour(name),
                vx = LABEL + w + 6.0,
                rps = m.rps,
                p99 = m.p99 / 1e3,
            );
            y += ROW;
        }
        y += 24.0;
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{y}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="15" font-weight="bold">hookguard load harness: median requests/s per scenario (bars scaled per scenario)</text>
{body}</svg>
"#
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
