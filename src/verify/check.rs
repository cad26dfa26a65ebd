//! Pure verification: a route's checks, the request's method, path, headers and raw body, and
//! `now` in; [`Verified`] or [`Rejected`] out. No I/O and no clock: the caller passes `now`,
//! so tests and `hookguard verify --now` need no escape hatch.
//!
//! Every signature the request carries is compared, in constant time, with the MAC under every
//! secret active at `now`; any match passes. A check with no active secret rejects.

use std::sync::Arc;

use base64::Engine;
use http::{HeaderMap, HeaderName};
use sha2::{Digest, Sha256};

use crate::verify::extract::{self, Extracted};
use crate::verify::mac::PreparedMac;
use crate::verify::reason::Reason;
use crate::verify::scheme::{Encoding, HmacSpec, Part, SchemeName};
use crate::verify::secret::{digest_matches, Secret, UnixMillis};

/// A secret ready for the hot path: prepared MAC state (HMAC schemes) and key digest (key
/// comparison schemes). `Debug` shows neither.
#[derive(Clone)]
pub struct CompiledSecret {
    /// Id, fingerprint, window.
    pub secret: Secret,
    /// Keyed once at load; cloned per request.
    pub mac: Option<PreparedMac>,
    /// SHA-256 of the key, for `api-key` and `basic`.
    pub digest: [u8; 32],
}

impl std::fmt::Debug for CompiledSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledSecret")
            .field("secret", &self.secret)
            .field("mac", &self.mac)
            .field("digest", &"[redacted]")
            .finish()
    }
}

/// What a check does with its secrets.
#[derive(Clone, Debug)]
pub enum CheckKind {
    /// An HMAC over signed bytes.
    Hmac(HmacSpec),
    /// A static key in `header` (`Authorization: Bearer <key>` when `bearer`).
    ApiKey {
        /// The header carrying the key.
        header: HeaderName,
        /// Whether the value is `Bearer <key>`.
        bearer: bool,
    },
    /// `Authorization: Basic base64(user:password)`.
    Basic,
}

/// One compiled `verify:` entry.
#[derive(Clone, Debug)]
pub struct Check {
    /// The scheme it was configured with.
    pub scheme: SchemeName,
    /// How it verifies.
    pub kind: CheckKind,
    /// Every configured secret, in config order; only active ones are tried.
    pub secrets: Vec<CompiledSecret>,
    /// Headers naming the provider's delivery id, first present wins: what replay protection
    /// keys on (`key: auto`). Empty when the provider sends none.
    pub delivery_id: Vec<HeaderName>,
}

/// The parts of a request verification reads.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The method, e.g. `POST`.
    pub method: &'a str,
    /// Path and query as sent.
    pub path: &'a str,
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// The raw body bytes, exactly as received.
    pub body: &'a [u8],
}

/// Proof that every check passed: only this can be forwarded as verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The matching secret id of each check, in check order.
    pub secret_ids: Vec<Arc<str>>,
    /// SHA-256 of the decoded signature bytes that matched in the first check (never of the
    /// secret): replay protection's key when no delivery id identifies the delivery. `None`
    /// when the first check carries no per-delivery signature (`api-key`, `basic`).
    pub signature: Option<[u8; 32]>,
}

/// A rejection: which check failed and why, plus the checks that passed before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    /// Index of the failing check.
    pub check: usize,
    /// Why it failed.
    pub reason: Reason,
    /// Secret ids of the checks that passed before it.
    pub passed: Vec<Arc<str>>,
}

/// Runs every check in order; all must pass. Stops at the first failure.
pub fn verify(
    checks: &[Check],
    req: &Request<'_>,
    tolerance_ms: i64,
    now: UnixMillis,
) -> Result<Verified, Rejected> {
    let mut secret_ids = Vec::with_capacity(checks.len());
    let mut signature = None;
    for (index, check) in checks.iter().enumerate() {
        match check_matched(check, req, tolerance_ms, now) {
            Ok((id, sig)) => {
                secret_ids.push(id);
                if index == 0 {
                    signature = sig;
                }
            }
            Err(reason) => {
                return Err(Rejected {
                    check: index,
                    reason,
                    passed: secret_ids,
                })
            }
        }
    }
    Ok(Verified {
        secret_ids,
        signature,
    })
}

/// Verifies one check; on success returns the id of the secret that matched.
pub fn verify_check(
    check: &Check,
    req: &Request<'_>,
    tolerance_ms: i64,
    now: UnixMillis,
) -> Result<Arc<str>, Reason> {
    check_matched(check, req, tolerance_ms, now).map(|(id, _)| id)
}

/// The secret id that matched and, for signature schemes, the digest of the signature bytes
/// that matched (see [`Verified::signature`]).
type Matched = (Arc<str>, Option<[u8; 32]>);

fn check_matched(
    check: &Check,
    req: &Request<'_>,
    tolerance_ms: i64,
    now: UnixMillis,
) -> Result<Matched, Reason> {
    let mut active = check
        .secrets
        .iter()
        .filter(|s| s.secret.window.contains(now))
        .peekable();
    if active.peek().is_none() {
        return Err(Reason::NoActiveSecret);
    }
    match &check.kind {
        CheckKind::Hmac(spec) => verify_hmac(spec, active, req, tolerance_ms, now),
        CheckKind::ApiKey { header, bearer } => {
            let presented = extract::api_key(req.headers, header, *bearer)?;
            match_digest(active, presented).map(|id| (id, None))
        }
        CheckKind::Basic => {
            match_digest(active, &extract::basic(req.headers)?).map(|id| (id, None))
        }
    }
}

fn match_digest<'a>(
    active: impl Iterator<Item = &'a CompiledSecret>,
    presented: &[u8],
) -> Result<Arc<str>, Reason> {
    // Every active secret is compared so the time taken does not depend on which one matches.
    let mut found = None;
    for s in active {
        if digest_matches(presented, &s.digest) && found.is_none() {
            found = Some(s.secret.id.clone());
        }
    }
    found.ok_or(Reason::Invalid)
}

fn verify_hmac<'a>(
    spec: &HmacSpec,
    active: impl Iterator<Item = &'a CompiledSecret>,
    req: &Request<'_>,
    tolerance_ms: i64,
    now: UnixMillis,
) -> Result<Matched, Reason> {
    let found: Extracted<'_> = extract::signatures(spec, req.headers)?;
    let sigs = decode_all(spec, &found.signatures)?;
    if let (Some(ts), Some(tspec)) = (found.timestamp, &spec.timestamp) {
        let at = parse_timestamp(ts, tspec.millis)?;
        if now.abs_diff(at) > tolerance_ms.unsigned_abs() {
            return Err(Reason::Stale);
        }
    }
    let parts = payload(
        spec,
        req,
        found.timestamp.unwrap_or(""),
        found.id.unwrap_or(""),
    )?;
    for s in active {
        let Some(mac) = &s.mac else { continue };
        let tag = mac.compute(&parts);
        if let Some(sig) = sigs.iter().find(|sig| tag.matches(sig)) {
            return Ok((s.secret.id.clone(), Some(Sha256::digest(sig).into())));
        }
    }
    Err(Reason::Invalid)
}

/// Decodes every presented signature; undecodable ones are skipped, and none decodable is
/// `Malformed`. A signature of the wrong length cannot match and is skipped too.
fn decode_all(spec: &HmacSpec, encoded: &[&str]) -> Result<Vec<Vec<u8>>, Reason> {
    let want = spec.algorithm.tag_len();
    let sigs: Vec<Vec<u8>> = encoded
        .iter()
        .filter_map(|s| decode(spec.encoding, s))
        .filter(|bytes| bytes.len() == want)
        .collect();
    if sigs.is_empty() {
        return Err(Reason::Malformed);
    }
    Ok(sigs)
}

/// Decodes one signature string as the scheme's SDK would.
pub fn decode(encoding: Encoding, s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    match encoding {
        Encoding::HexLower if s.bytes().any(|b| b.is_ascii_uppercase()) => None,
        Encoding::HexLower | Encoding::Hex => hex::decode(s).ok(),
        Encoding::Base64 => STANDARD.decode(s).ok(),
        Encoding::Base64Url => URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok(),
    }
}

/// Encodes a tag the way the scheme's sender writes it.
pub fn encode(encoding: Encoding, bytes: &[u8]) -> String {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    match encoding {
        Encoding::HexLower | Encoding::Hex => hex::encode(bytes),
        Encoding::Base64 => STANDARD.encode(bytes),
        Encoding::Base64Url => URL_SAFE_NO_PAD.encode(bytes),
    }
}

/// Reads a Unix timestamp in seconds, or milliseconds when `millis` allows and it has 13 or
/// more digits. Returns milliseconds.
pub fn parse_timestamp(s: &str, millis: bool) -> Result<UnixMillis, Reason> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Reason::Malformed);
    }
    let n: i64 = s.parse().map_err(|_| Reason::Malformed)?;
    if millis && s.len() >= 13 {
        Ok(n)
    } else {
        n.checked_mul(1000).ok_or(Reason::Malformed)
    }
}

/// The signed bytes as slices, in template order, without joining them.
pub fn payload<'a>(
    spec: &'a HmacSpec,
    req: &Request<'a>,
    timestamp: &'a str,
    id: &'a str,
) -> Result<Vec<&'a [u8]>, Reason> {
    spec.payload
        .iter()
        .map(|part| {
            Ok(match part {
                Part::Lit(bytes) => bytes.as_slice(),
                Part::Body => req.body,
                Part::Timestamp => timestamp.as_bytes(),
                Part::Id => id.as_bytes(),
                Part::Method => req.method.as_bytes(),
                Part::Path => req.path.as_bytes(),
                Part::Header(name) => extract::single(req.headers, name)?.unwrap_or(b""),
            })
        })
        .collect()
}
