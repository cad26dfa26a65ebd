//! The demo's deliveries: each [`Case`] carries what it sends and the outcome it expects
//! (status and whether the receiver sees it); [`run_case`] sends one through hookguard and
//! compares, so a wrong expectation or a wrong proxy both show as `WRONG` and exit 1.

use std::time::Duration;

use bytes::Bytes;

use crate::cmd::cli::EXIT_RUNTIME;
use crate::cmd::commands::Failure;
use crate::cmd::demo_receiver::Seen;
use crate::config::snapshot::{Route, Snapshot};
use crate::verify::mac::PreparedMac;
use crate::verify::scheme::SigSpec;
use crate::verify::sign::{sign, Delivery};
use crate::verify::CheckKind;

/// The header that tells the receiver which case a request belongs to.
pub const CASE_HEADER: &str = "x-demo-case";

/// The outcome a case expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    /// The status the sender gets.
    pub status: u16,
    /// Whether the receiver sees the request.
    pub received: bool,
}

/// One delivery and its expected outcome.
#[derive(Clone, Debug)]
pub struct Case {
    /// Short kebab-case name; also sent as `x-demo-case`.
    pub name: &'static str,
    /// What was sent, in a few words.
    pub sent: String,
    /// Request path.
    pub path: String,
    /// Sender headers (signature, timestamp).
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: Bytes,
    /// What should happen.
    pub expect: Expect,
}

impl Case {
    /// A ready-to-paste one-line `curl` command sending this case to `base` (no case header).
    pub fn curl(&self, base: &str) -> String {
        let mut cmd = format!("curl -i '{base}{}'", self.path);
        for (name, value) in &self.headers {
            cmd += &format!(" -H '{name}: {value}'");
        }
        cmd + &format!(" --data-binary '{}'", String::from_utf8_lossy(&self.body))
    }
}

/// A case's outcome next to its expectation.
#[derive(Clone, Debug)]
pub struct Row {
    /// The case.
    pub case: Case,
    /// The status received, or why no response came.
    pub got: Result<u16, String>,
    /// What the receiver saw of it.
    pub seen: Option<Seen>,
}

impl Row {
    /// Whether status and receiver-saw are both the expected ones.
    pub fn ok(&self) -> bool {
        self.got.as_ref().ok() == Some(&self.case.expect.status)
            && self.seen.is_some() == self.case.expect.received
    }
}

struct Signer<'a> {
    route: &'a Route,
    spec: &'a SigSpec,
}

impl Signer<'_> {
    fn find<'s>(snap: &'s Snapshot, name: &str) -> Result<Signer<'s>, Failure> {
        let route = snap.route_named(name);
        let check = route.and_then(|r| r.checks.first());
        match (route, check.map(|c| &c.kind)) {
            (Some(route), Some(CheckKind::Hmac(spec))) => Ok(Signer { route, spec }),
            _ => Err(failure(format!("embedded config: no HMAC route `{name}`"))),
        }
    }

    fn mac(&self, id: &str) -> Result<&PreparedMac, Failure> {
        let secrets = self.route.checks.iter().flat_map(|c| &c.secrets);
        let found = secrets
            .filter(|s| &*s.secret.id == id)
            .find_map(|s| s.mac.as_ref());
        found.ok_or_else(|| failure(format!("embedded config: no secret `{id}`")))
    }

    fn sign(&self, mac: &PreparedMac, body: &[u8], ts: i64) -> Vec<(String, String)> {
        let (headers, timestamp) = (http::HeaderMap::new(), ts.to_string());
        let delivery = Delivery {
            method: "POST",
            path: &self.route.path,
            headers: &headers,
            body,
            timestamp: &timestamp,
            id: "msg_demo",
        };
        sign(self.spec, mac, &delivery)
    }

    fn case(
        &self,
        name: &'static str,
        sent: impl Into<String>,
        headers: Headers,
        expect: Expect,
    ) -> Case {
        Case {
            name,
            sent: sent.into(),
            path: self.route.path.clone(),
            headers,
            body: Bytes::from_static(EXPEDIA_BODY),
            expect,
        }
    }
}

type Headers = Vec<(String, String)>;

const EXPEDIA_BODY: &[u8] = br#"{"event_type":"booking.created","booking_id":"demo-1001"}"#;
const TAMPERED_BODY: &[u8] = br#"{"event_type":"booking.created","booking_id":"demo-6666"}"#;
#[rustfmt::skip]
const FORWARDED: Expect = Expect { status: 200, received: true };
#[rustfmt::skip]
const REJECTED: Expect = Expect { status: 401, received: false };
#[rustfmt::skip]
const TOO_LARGE: Expect = Expect { status: 413, received: false };

/// Every demo delivery at Unix time `now_s`, signed with the snapshot's own compiled checks.
pub fn cases(snap: &Snapshot, now_s: i64) -> Result<Vec<Case>, Failure> {
    let eg = Signer::find(snap, "expedia")?;
    let (current, previous) = (eg.mac("2026-11")?, eg.mac("2025-11")?);
    let wrong = &PreparedMac::new(eg.spec.algorithm, b"demo-secret-nobody-configured");
    let at = |mac: &PreparedMac, ts: i64| eg.sign(mac, EXPEDIA_BODY, ts);
    let now = |mac: &PreparedMac| at(mac, now_s);
    let stale_s = now_s - eg.route.tolerance_ms / 1000 - 60;
    let stale = format!(
        "expedia, signed {}s ago (tolerance {})",
        now_s - stale_s,
        tolerance(eg.route)
    );
    let mut unsigned = now(current);
    unsigned.retain(|(name, _)| !name.contains("signature"));
    let tampered = |case: Case| Case {
        body: Bytes::from_static(TAMPERED_BODY),
        ..case
    };
    // One case a line reads as the table it prints.
    #[rustfmt::skip]
    let mut out = vec![
        eg.case("current-secret", "expedia, signed with 2026-11 (new)", now(current), FORWARDED),
        eg.case("previous-secret", "expedia, signed with 2025-11 (rotating out)", now(previous), FORWARDED),
        eg.case("two-signatures", "expedia, sha256=<2026-11>,<2025-11>", two(&now(current), &now(previous)), FORWARDED),
        eg.case("two-sigs-new-unknown", "expedia, sha256=<unknown>,<2025-11>", two(&now(wrong), &now(previous)), FORWARDED),
        tampered(eg.case("tampered-body", "expedia, body changed after signing", now(current), REJECTED)),
        eg.case("wrong-secret", "expedia, signed with an unknown secret", now(wrong), REJECTED),
        eg.case("stale-timestamp", stale, at(current, stale_s), REJECTED),
        eg.case("missing-signature", "expedia, timestamp but no signature", unsigned, REJECTED),
    ];
    out.extend(github_cases(snap)?);
    Ok(out)
}

/// A route's `tolerance` as written in configs, e.g. `5m`.
pub fn tolerance(route: &Route) -> String {
    let ms = u64::try_from(route.tolerance_ms).unwrap_or(0);
    humantime::format_duration(Duration::from_millis(ms)).to_string()
}

/// A valid GitHub delivery under the route's body limit, and a validly signed one above it.
fn github_cases(snap: &Snapshot) -> Result<Vec<Case>, Failure> {
    let gh = Signer::find(snap, "github")?;
    let mac = gh.mac("demo")?;
    let limit = usize::try_from(gh.route.max_body_bytes).unwrap_or(usize::MAX / 4);
    let small = Bytes::from_static(br#"{"action":"opened","number":1}"#);
    let big = Bytes::from(vec![b'x'; limit.saturating_mul(4)]);
    let sent = |n: usize| format!("github, {n}-byte body (limit {limit}), signed");
    let valid = Case {
        body: small.clone(),
        ..gh.case(
            "github-valid",
            sent(small.len()),
            gh.sign(mac, &small, 0),
            FORWARDED,
        )
    };
    let too_large = Case {
        body: big.clone(),
        ..gh.case(
            "oversized-body",
            sent(big.len()),
            gh.sign(mac, &big, 0),
            TOO_LARGE,
        )
    };
    Ok(vec![valid, too_large])
}

/// Expedia's rotation header: `sha256=<first>,<second>`, the second without its prefix.
fn two(first: &[(String, String)], second: &[(String, String)]) -> Vec<(String, String)> {
    let sig = |h: &[(String, String)]| {
        let found = h.iter().find(|(n, _)| n.contains("signature"));
        found.map(|(_, v)| v.trim_start_matches("sha256=").to_owned())
    };
    let mut out = first.to_vec();
    if let (Some(slot), Some(extra)) = (
        out.iter_mut().find(|(n, _)| n.contains("signature")),
        sig(second),
    ) {
        slot.1 = format!("{},{extra}", slot.1);
    }
    out
}

/// The table: case, what was sent, expected and received status, whether the receiver saw
/// it (and with which secret id), verdict.
pub fn render(rows: &[Row]) -> String {
    let head = [
        "CASE",
        "SENT",
        "EXPECT",
        "GOT",
        "RECEIVER SAW IT",
        "VERDICT",
    ]
    .map(String::from);
    let mut table = vec![head];
    for row in rows {
        let seen = match (&row.seen, row.case.expect.received) {
            (Some(s), true) => format!("yes (secret {})", s.secret_id),
            (Some(s), false) => format!("YES (secret {}), expected no", s.secret_id),
            (None, true) => "NO, expected yes".into(),
            (None, false) => "no".into(),
        };
        let got = row.got.as_ref().map_or_else(Clone::clone, u16::to_string);
        let verdict = if row.ok() { "ok" } else { "WRONG" };
        table.push([
            row.case.name.into(),
            row.case.sent.clone(),
            row.case.expect.status.to_string(),
            got,
            seen,
            verdict.into(),
        ]);
    }
    let width = |i: usize| {
        table
            .iter()
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..6).map(width).collect();
    let mut out = String::new();
    for row in &table {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out += cells.join("  ").trim_end();
        out.push('\n');
    }
    out
}

/// `Ok` when every row is as expected; otherwise a failure (exit 1) naming the wrong rows.
pub fn judge(rows: &[Row]) -> Result<(), Failure> {
    let wrong: Vec<&str> = rows
        .iter()
        .filter(|r| !r.ok())
        .map(|r| r.case.name)
        .collect();
    if wrong.is_empty() && !rows.is_empty() {
        return Ok(());
    }
    Err(failure(format!(
        "demo: {} of {} outcomes were not the expected ones: {} (RUST_LOG=info shows why)",
        wrong.len(),
        rows.len(),
        wrong.join(", ")
    )))
}

fn failure(message: String) -> Failure {
    Failure {
        message,
        code: EXIT_RUNTIME,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &'static str, expect: Expect, got: u16, seen: bool) -> Row {
        let seen = seen.then(|| Seen {
            case: name.into(),
            request: "POST /".into(),
            route: "r".into(),
            secret_id: "k1".into(),
            bytes: 2,
        });
        let case = Case {
            name,
            sent: format!("sent by {name}"),
            path: "/".into(),
            headers: Vec::new(),
            body: Bytes::new(),
            expect,
        };
        Row {
            case,
            got: Ok(got),
            seen,
        }
    }

    #[test]
    fn judge_passes_only_when_every_row_matches_and_there_are_rows() {
        assert!(judge(&[]).is_err(), "no rows must not pass vacuously");
        let good = [
            row("a", FORWARDED, 200, true),
            row("b", REJECTED, 401, false),
        ];
        assert!(judge(&good).is_ok());
        let bad = [
            row("a", FORWARDED, 200, true),
            row("b", REJECTED, 401, true),
        ];
        let failure = judge(&bad).expect_err("b was seen");
        assert_eq!(failure.code, EXIT_RUNTIME);
        assert!(failure.message.contains("ones: b ("), "{}", failure.message);
    }

    #[test]
    fn render_aligns_every_column() {
        let rows = [
            row("short", FORWARDED, 200, true),
            row("a-much-longer-name", TOO_LARGE, 401, false),
        ];
        let table = render(&rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3, "{table}");
        let column = |l: &str, word: &str| l.find(word).expect(word);
        assert_eq!(column(lines[0], "SENT"), column(lines[1], "sent by"));
        assert_eq!(column(lines[0], "VERDICT"), column(lines[1], "ok"));
        assert_eq!(column(lines[0], "VERDICT"), column(lines[2], "WRONG"));
        assert_eq!(column(lines[0], "EXPECT"), column(lines[2], "413"));
        assert_eq!(column(lines[0], "GOT"), column(lines[2], "401"));
    }
}
