//! Every scheme through the real config path: YAML in, `compile::load`, sign as the sender
//! would, then `verify`. The table drives the rules common to all schemes; `specifics` holds
//! what one scheme alone does (checked against independently computed MACs), `props` the
//! property tests.

mod common;
mod keys;
mod props;
mod specifics;

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hookguard::config::snapshot::Snapshot;
use hookguard::verify::sign::{sign, Delivery};
use hookguard::verify::{CheckKind, Reason, Rejected, Request, Verified};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::support::{load_yaml, one_route, route_checks, verify_route};

/// How a scheme's sender writes its timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    /// No timestamp: nothing expires a delivery.
    None,
    /// Unix seconds.
    Seconds,
    /// Unix milliseconds (13 digits).
    Millis,
}

/// One scheme configuration and the two secrets it rotates between.
pub struct Case {
    /// Shown in failure messages.
    pub name: &'static str,
    /// The check's YAML, without `secrets:`.
    pub check: &'static str,
    /// `[new, old]` as written in the config.
    pub secrets: [&'static str; 2],
    /// How the timestamp is written.
    pub stamp: Stamp,
}

const TEMPLATE: &str = "scheme: hmac\nalgorithm: sha256\nencoding: base64\nheader: X-Signature\n\
    prefix: \"v1=\"\nseparator: \",\"\ntimestamp_header: X-Timestamp\n\
    payload: \"{timestamp}.{method}.{path}.{header:X-Request-Id}.{body}\"";

const fn case(name: &'static str, check: &'static str, stamp: Stamp) -> Case {
    Case {
        name,
        check,
        secrets: ["first-secret-NEW", "second-secret-OLD"],
        stamp,
    }
}

/// A generic `hmac` check over the body with this algorithm and encoding.
macro_rules! generic {
    ($algorithm:literal, $encoding:literal) => {
        case(
            concat!("hmac ", $algorithm, " ", $encoding),
            concat!(
                "scheme: hmac\nalgorithm: ",
                $algorithm,
                "\nencoding: ",
                $encoding,
                "\nheader: X-Signature"
            ),
            Stamp::None,
        )
    };
}

/// Standard Webhooks secrets: `whsec_` and the base64 of the key bytes.
const WHSEC: [&str; 2] = [
    "whsec_aG9va2d1YXJkLXN0YW5kYXJkLXdlYmhvb2tzLW5ldyE=",
    "whsec_aG9va2d1YXJkLXN0YW5kYXJkLXdlYmhvb2tzLW9sZCE=",
];

/// Every scheme and every generic `hmac` variant the contract names.
pub const CASES: &[Case] = &[
    case("expedia", "scheme: expedia", Stamp::Seconds),
    case("expedia (ms)", "scheme: expedia", Stamp::Millis),
    case("stripe", "scheme: stripe", Stamp::Seconds),
    case("github", "scheme: github", Stamp::None),
    Case {
        secrets: WHSEC,
        ..case(
            "standard-webhooks",
            "scheme: standard-webhooks",
            Stamp::Seconds,
        )
    },
    Case {
        secrets: WHSEC,
        ..case("svix", "scheme: svix", Stamp::Seconds)
    },
    case("slack", "scheme: slack", Stamp::Seconds),
    case("shopify", "scheme: shopify", Stamp::None),
    generic!("sha1", "hex"),
    generic!("sha1", "base64"),
    generic!("sha1", "base64url"),
    generic!("sha256", "hex"),
    generic!("sha256", "base64"),
    generic!("sha256", "base64url"),
    generic!("sha512", "hex"),
    generic!("sha512", "base64"),
    generic!("sha512", "base64url"),
    case("hmac template", TEMPLATE, Stamp::Seconds),
    case("hmac template (ms)", TEMPLATE, Stamp::Millis),
    Case {
        secrets: [
            "67656e657269632d6865782d6b65792d6e6577",
            "67656e657269632d6865782d6b65792d6f6c64",
        ],
        ..case(
            "hmac secret hex",
            "scheme: hmac\nheader: X-Signature\nsecret_encoding: hex",
            Stamp::None,
        )
    },
    Case {
        secrets: [
            "Z2VuZXJpYy1iYXNlNjQta2V5LW5ldw==",
            "Z2VuZXJpYy1iYXNlNjQta2V5LW9sZA==",
        ],
        ..case(
            "hmac secret base64",
            "scheme: hmac\nheader: X-Signature\nsecret_encoding: base64",
            Stamp::None,
        )
    },
    case("api-key", "scheme: api-key", Stamp::None),
    case(
        "api-key bearer",
        "scheme: api-key\nheader: Authorization",
        Stamp::None,
    ),
    Case {
        secrets: ["alice:pw-new", "alice:pw-old"],
        ..case("basic", "scheme: basic", Stamp::None)
    },
];

/// The path and query every test request is sent to (the template signs it).
pub const PATH: &str = "/hook?x=1";
/// The route's `tolerance`, in seconds.
pub const TOLERANCE_S: i64 = 90;
/// `not_before` of secret `new`: 2026-01-01T00:00:00Z.
pub const NEW_FROM_S: i64 = crate::support::NOW_S;
/// `expires` of secret `old`: one hour later.
pub const OLD_UNTIL_S: i64 = NEW_FROM_S + 3600;
/// A message id, as Standard Webhooks senders attach.
pub const MSG_ID: &str = "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";

impl Case {
    /// The config: `new` from [`NEW_FROM_S`], `old` until [`OLD_UNTIL_S`].
    pub fn yaml(&self) -> String {
        let [new, old] = self.secrets;
        self.yaml_with(&format!(
            "- id: new\n  value: \"{new}\"\n  not_before: 2026-01-01T00:00:00Z\n\
             - id: old\n  value: \"{old}\"\n  expires: 2026-01-01T01:00:00Z"
        ))
    }

    /// The config with `secrets` as the YAML list under `secrets:`.
    pub fn yaml_with(&self, secrets: &str) -> String {
        let secrets: String = secrets.lines().map(|l| format!("  {l}\n")).collect();
        let verify = format!("{}\nsecrets:\n{secrets}", self.check);
        one_route(&format!("tolerance: {TOLERANCE_S}s"), &verify)
    }

    /// The compiled config of [`Case::yaml`].
    pub fn snapshot(&self) -> Snapshot {
        load_yaml(&self.yaml())
    }

    /// The timestamp a sender writes at `at_s`.
    pub fn stamp_at(&self, at_s: i64) -> String {
        match self.stamp {
            Stamp::Millis => (at_s * 1000).to_string(),
            Stamp::Seconds | Stamp::None => at_s.to_string(),
        }
    }

    /// Whether the scheme signs the body (`api-key` and `basic` do not).
    pub fn signs_body(&self) -> bool {
        !self.check.starts_with("scheme: api-key") && !self.check.starts_with("scheme: basic")
    }
}

/// A signed delivery's headers, and the names of the headers the signature added.
pub struct Signed {
    /// Every header: `X-Request-Id` plus the signed ones.
    pub headers: HeaderMap,
    /// The headers the scheme reads (signature, timestamp, id, key).
    pub names: Vec<HeaderName>,
}

/// Headers every test request carries besides the signature (the template signs one).
pub fn base_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-request-id", HeaderValue::from_static("req-42"));
    headers
}

/// The headers a sender attaches for `body` at timestamp `ts`, with secret `which` of the
/// route's first check (config order: 0 is `new`, 1 is `old`).
pub fn deliver(case: &Case, snap: &Snapshot, which: usize, body: &[u8], ts: &str) -> Signed {
    let check = &route_checks(snap, "r")[0];
    let base = base_headers();
    let key = case.secrets[which];
    let pairs = match &check.kind {
        CheckKind::Hmac(spec) => {
            let mac = check.secrets[which].mac.as_ref().expect("HMAC secret");
            let delivery = Delivery {
                method: "POST",
                path: PATH,
                headers: &base,
                body,
                timestamp: ts,
                id: MSG_ID,
            };
            sign(spec, mac, &delivery)
        }
        CheckKind::ApiKey { header, bearer } => {
            let value = if *bearer {
                format!("Bearer {key}")
            } else {
                key.to_owned()
            };
            vec![(header.to_string(), value)]
        }
        CheckKind::Basic => vec![(
            "Authorization".to_owned(),
            format!("Basic {}", STANDARD.encode(key)),
        )],
        CheckKind::Token { header } => vec![(header.to_string(), key.to_owned())],
        _ => panic!(
            "{}: the table's checks are single HMAC, key or token schemes",
            case.name
        ),
    };
    let mut signed = Signed {
        headers: base,
        names: Vec::new(),
    };
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("header name");
        let value = HeaderValue::from_str(&value).expect("header value");
        signed.headers.append(&name, value);
        signed.names.push(name);
    }
    signed
}

/// Verifies a `POST` to [`PATH`] against route `r` at `now_s`.
pub fn check_at(
    snap: &Snapshot,
    headers: &HeaderMap,
    body: &[u8],
    now_s: i64,
) -> Result<Verified, Rejected> {
    check_ms(snap, headers, body, now_s * 1000)
}

/// [`check_at`] with the clock in milliseconds.
pub fn check_ms(
    snap: &Snapshot,
    headers: &HeaderMap,
    body: &[u8],
    now_ms: i64,
) -> Result<Verified, Rejected> {
    let req = Request {
        chunks: &[],
        method: "POST",
        path: PATH,
        headers,
        body,
    };
    verify_route(snap, "r", &req, now_ms)
}

/// A verdict reduced to what the tests compare: the matched secret ids, or the reason.
pub type Verdict = Result<Vec<Arc<str>>, Reason>;

/// The verdict as the matched secret ids, or the reason.
pub fn outcome(result: Result<Verified, Rejected>) -> Verdict {
    result.map(|v| v.secret_ids).map_err(|r| r.reason)
}

/// `Ok` with exactly this secret id.
pub fn matched(id: &str) -> Verdict {
    Ok(vec![Arc::from(id)])
}

/// A body with JSON-ish text, as most senders post.
pub const BODY: &[u8] = br#"{"event":"booking.created","id":42,"price":"129.00"}"#;
