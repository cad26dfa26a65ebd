//! Pure verification: a route's checks, the request's method, path, headers and raw body, and
//! `now` in; [`Verified`] or [`Rejected`] out. No I/O and no clock: the caller passes `now`,
//! so tests and `hookguard verify --now` need no escape hatch.
//!
//! Every signature the request carries is compared, in constant time, with the MAC under every
//! secret active at `now` (only the named one where the delivery names its key and a secret
//! has that id); any match passes. A check with no active secret rejects.

use std::borrow::Cow;
use std::sync::Arc;

use base64::Engine;
use http::HeaderName;
use sha2::{Digest, Sha256};

use crate::verify::challenge::Handshake;
pub use crate::verify::claim::Request;
use crate::verify::claim::{Claim, Stamp};
use crate::verify::client_state;
use crate::verify::embedded;
use crate::verify::extract::{self, Extracted};
use crate::verify::fetched::{Candidate, Delivery, FetchedCheck, Keys};
use crate::verify::fetched_verify;
use crate::verify::mac::PreparedMac;
use crate::verify::mechanism;
use crate::verify::pubkey::{self, KeyAlg, PublicKey};
use crate::verify::reason::Reason;
use crate::verify::scheme::{Encoding, Part, SigFormat, SigSpec, TsUnit};
use crate::verify::secret::{digest_matches, Secret, UnixMillis};
use crate::verify::urlsign::{self, UrlSigned};

/// A secret ready for the hot path: prepared MAC state (HMAC schemes), the sender's public key
/// (public-key schemes) and key digest (key comparison schemes). `Debug` shows none of them.
#[derive(Clone)]
pub struct CompiledSecret {
    /// Id, fingerprint, window.
    pub secret: Secret,
    /// Keyed once at load; cloned per request.
    pub mac: Option<PreparedMac>,
    /// Parsed once at load, for public-key schemes (and `whpk_` keys of Standard Webhooks).
    pub public: Option<PublicKey>,
    /// SHA-256 of the key, for `api-key` and `basic`.
    pub digest: [u8; 32],
}

impl std::fmt::Debug for CompiledSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledSecret")
            .field("secret", &self.secret)
            .field("mac", &self.mac)
            .field("public", &self.public)
            .field("digest", &"[redacted]")
            .finish()
    }
}

/// What a check does with its secrets. The HMAC variant is the large one and the common one;
/// a check is built once per config, so its size costs nothing per request.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum CheckKind {
    /// An HMAC over signed bytes.
    Hmac(SigSpec),
    /// Signatures under the sender's public keys, found and framed as `spec` says (its HMAC
    /// algorithm is unused). A Standard Webhooks check holding `whpk_` keys is one too: its
    /// spec reads the `v1a` entries for the keys, and `v1` entries are compared with any
    /// `whsec_` secrets beside them.
    PublicKey {
        /// Where the signatures are and which bytes are signed.
        spec: SigSpec,
        /// What the keys verify.
        alg: KeyAlg,
    },
    /// A static key in `header` (`Authorization: Bearer <key>` when `bearer`).
    ApiKey {
        /// The header carrying the key.
        header: HeaderName,
        /// Whether the value is `Bearer <key>`.
        bearer: bool,
    },
    /// `Authorization: Basic base64(user:password)`.
    Basic,
    /// A shared token: the whole value of `header` (any `Bearer ` included) equals a secret.
    Token {
        /// The header carrying the token.
        header: HeaderName,
    },
    /// Passes when at least one of these passes; every one is tried.
    Any(Vec<Check>),
    /// A signature over the URL the sender called, in code (Twilio, Plivo, HubSpot, ...).
    UrlSigned(UrlSigned),
    /// A signature carried in the body, in code (Mailgun, Adyen, Braintree, Treezor).
    Embedded(embedded::Mechanism),
    /// A signature under a provider's public key, fetched or pinned (`verify::fetched`).
    Fetched(Box<FetchedCheck>),
    /// Microsoft Graph: every `value[].clientState` of the JSON body equals an active secret.
    ClientState,
}

/// One compiled `verify:` entry.
#[derive(Clone, Debug)]
pub struct Check {
    /// The catalogue id it was configured with (`any` for an any-of check).
    pub scheme: &'static str,
    /// How it verifies.
    pub kind: CheckKind,
    /// Every configured secret, in config order; only active ones are tried.
    pub secrets: Vec<CompiledSecret>,
    /// Allowed clock skew for signed timestamps, both directions: the route's `tolerance`, or
    /// the provider's own window, or 5 minutes.
    pub tolerance_ms: i64,
    /// Headers naming the provider's delivery id, first present wins (logs, replay).
    pub delivery_id: Vec<HeaderName>,
    /// The provider's handshake, when its catalogue row names one (`verify::handshake`).
    pub handshake: Option<Handshake>,
}

impl Check {
    /// Whether this check reads the body only as signed bytes fed to an HMAC by the generic
    /// engine (or not at all), so it can take the body as the chunks it arrived in
    /// ([`Request::chunks`]). Providers' own formats, public-key signatures, URL-signed and
    /// body-embedded schemes, and handshakes need it whole.
    pub fn takes_chunks(&self) -> bool {
        self.handshake.is_none()
            && match &self.kind {
                CheckKind::Hmac(spec) => !matches!(spec.sig, SigFormat::Mechanism(_)),
                CheckKind::ApiKey { .. } | CheckKind::Basic | CheckKind::Token { .. } => true,
                CheckKind::Any(options) => options.iter().all(Check::takes_chunks),
                _ => false,
            }
    }

    /// This check with `{url}` rebuilt from another `public_url` (the `--url` a user passes to
    /// `sign` or `verify`); checks that do not sign the URL are returned as they are.
    pub fn rebased(&self, public_url: &str) -> Check {
        let mut check = self.clone();
        match &mut check.kind {
            CheckKind::Hmac(spec) | CheckKind::PublicKey { spec, .. } if spec.signs(&Part::Url) => {
                spec.public_url = public_url.to_owned();
            }
            CheckKind::Any(options) => {
                *options = options.iter().map(|o| o.rebased(public_url)).collect();
            }
            CheckKind::UrlSigned(spec) => spec.public_url = public_url.to_owned(),
            _ => {}
        }
        check
    }

    /// Every secret of this check, the options of an `any:` included, in config order.
    pub fn all_secrets(&self) -> Vec<&CompiledSecret> {
        match &self.kind {
            CheckKind::Any(options) => options.iter().flat_map(Check::all_secrets).collect(),
            _ => self.secrets.iter().collect(),
        }
    }

    /// How many of [`Check::all_secrets`] are active at `now` (0: the check rejects everything).
    /// A check that fetches its keys from the provider counts its key source as one.
    pub fn active_secrets(&self, now: UnixMillis) -> usize {
        match &self.kind {
            CheckKind::Any(options) => options.iter().map(|o| o.active_secrets(now)).sum(),
            CheckKind::Fetched(f) if f.pinned.is_empty() => 1,
            _ => self
                .secrets
                .iter()
                .filter(|s| s.secret.window.contains(now))
                .count(),
        }
    }

    /// The public-key part of a fetched-key or pinned-key check.
    pub fn fetched(&self) -> Option<&FetchedCheck> {
        match &self.kind {
            CheckKind::Fetched(f) => Some(f),
            _ => None,
        }
    }

    /// Whether this check (or an option of it) signs the URL the sender called.
    pub fn signs_url(&self) -> bool {
        match &self.kind {
            CheckKind::Hmac(spec) | CheckKind::PublicKey { spec, .. } => spec.signs(&Part::Url),
            CheckKind::Any(options) => options.iter().any(Check::signs_url),
            CheckKind::UrlSigned(_) => true,
            _ => false,
        }
    }
}

/// One check that ran, as metrics count it: its scheme and its verdict.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tried {
    /// The check's scheme id.
    pub scheme: &'static str,
    /// The matching secret id, or why it failed.
    pub result: Result<Arc<str>, Reason>,
}

/// Proof that every check passed: only this can be forwarded as verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The matching secret ids, in check order (an `any:` contributes every option that
    /// passed, in config order).
    pub secret_ids: Vec<Arc<str>>,
    /// Every check that ran, options of `any:` included.
    pub tried: Vec<Tried>,
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
    /// Every check that ran, options of `any:` included.
    pub tried: Vec<Tried>,
}

/// Runs every check in order; all must pass. Stops at the first failure.
pub fn verify(checks: &[Check], req: &Request<'_>, now: UnixMillis) -> Result<Verified, Rejected> {
    verify_keyed(checks, req, &Keys::none(), now)
}

/// [`verify`] with the provider keys fetched for this request (`fetched::wants` says which).
pub fn verify_keyed(
    checks: &[Check],
    req: &Request<'_>,
    keys: &Keys,
    now: UnixMillis,
) -> Result<Verified, Rejected> {
    let mut secret_ids = Vec::with_capacity(checks.len());
    let mut tried = Vec::with_capacity(checks.len());
    for (index, check) in checks.iter().enumerate() {
        match run(check, req, keys, now, &mut tried) {
            Ok(ids) => secret_ids.extend(ids),
            Err(reason) => {
                return Err(Rejected {
                    check: index,
                    reason,
                    passed: secret_ids,
                    tried,
                })
            }
        }
    }
    Ok(Verified { secret_ids, tried })
}

/// SHA-256 of what the first check's signature covers (never of a secret): replay protection's
/// key when no delivery id identifies a delivery. The same delivery sent again has the same
/// signed bytes, so the same digest; a changed one fails verification. `None` for checks that
/// present the same credential on every delivery (`api-key`, `basic`, tokens).
pub fn signed_digest(check: &Check, req: &Request<'_>) -> Option<[u8; 32]> {
    let spec = match &check.kind {
        CheckKind::Hmac(spec) | CheckKind::PublicKey { spec, .. } => spec,
        CheckKind::UrlSigned(_) | CheckKind::Embedded(_) => {
            let mut h = Sha256::new();
            for part in [
                req.method.as_bytes(),
                b" ",
                req.path.as_bytes(),
                b"\n",
                req.body,
            ] {
                h.update(part);
            }
            return Some(h.finalize().into());
        }
        CheckKind::Any(options) => return options.iter().find_map(|o| signed_digest(o, req)),
        _ => return None,
    };
    let claims = claims(spec, req).ok()?;
    let mut h = Sha256::new();
    for part in claims.first()?.parts.iter() {
        h.update(part.as_ref());
    }
    Some(h.finalize().into())
}

/// One check, recording every leaf check that ran in `tried`.
fn run(
    check: &Check,
    req: &Request<'_>,
    keys: &Keys,
    now: UnixMillis,
    tried: &mut Vec<Tried>,
) -> Result<Vec<Arc<str>>, Reason> {
    let CheckKind::Any(options) = &check.kind else {
        let result = verify_check_keyed(check, req, keys, now);
        tried.push(Tried {
            scheme: check.scheme,
            result: result.clone(),
        });
        return result.map(|id| vec![id]);
    };
    let mut passed = Vec::new();
    let mut closest: Option<Reason> = None;
    for option in options {
        match run(option, req, keys, now, tried) {
            Ok(ids) => passed.extend(ids),
            Err(r) => closest = Some(closest.map_or(r, |c| c.closer(r))),
        }
    }
    if passed.is_empty() {
        return Err(closest.unwrap_or(Reason::Invalid));
    }
    Ok(passed)
}

/// Verifies one check (an `any:` passes with its first passing option); on success returns
/// the id of the secret that matched.
pub fn verify_check(check: &Check, req: &Request<'_>, now: UnixMillis) -> Result<Arc<str>, Reason> {
    verify_check_keyed(check, req, &Keys::none(), now)
}

/// [`verify_check`] with the provider keys fetched for this request.
pub fn verify_check_keyed(
    check: &Check,
    req: &Request<'_>,
    keys: &Keys,
    now: UnixMillis,
) -> Result<Arc<str>, Reason> {
    match &check.kind {
        CheckKind::Any(_) => {
            let ids = run(check, req, keys, now, &mut Vec::new())?;
            return ids.into_iter().next().ok_or(Reason::Invalid);
        }
        CheckKind::Fetched(f) => return verify_fetched(check, f, req, keys, now),
        _ => {}
    }
    let mut active = check
        .secrets
        .iter()
        .filter(|s| s.secret.window.contains(now))
        .peekable();
    if active.peek().is_none() {
        return Err(Reason::NoActiveSecret);
    }
    match &check.kind {
        CheckKind::Hmac(spec) => verify_hmac(spec, active, req, check.tolerance_ms, now),
        CheckKind::PublicKey { spec, alg } => {
            verify_public(spec, *alg, active, req, check.tolerance_ms, now)
        }
        CheckKind::ApiKey { header, bearer } => {
            let presented = extract::api_key(req.headers, header, *bearer)?;
            match_digest(active, presented)
        }
        CheckKind::Basic => match_digest(active, &extract::basic(req.headers)?),
        CheckKind::Token { header } => {
            let presented = extract::single(req.headers, header)?.ok_or(Reason::Missing)?;
            match_digest(active, presented)
        }
        CheckKind::UrlSigned(spec) => {
            let keys: Vec<&Secret> = active.map(|s| &s.secret).collect();
            urlsign::verify(spec, &keys, req, check.tolerance_ms, now)
        }
        CheckKind::Embedded(mechanism) => {
            let keys: Vec<&Secret> = active.map(|s| &s.secret).collect();
            embedded::verify(
                *mechanism,
                &keys,
                req.headers,
                req.body,
                check.tolerance_ms,
                now,
            )
        }
        CheckKind::ClientState => {
            let states = client_state::client_states(req.body)?;
            let active: Vec<&CompiledSecret> = active.collect();
            let mut first = None;
            for state in &states {
                let id = match_digest(active.iter().copied(), state.as_bytes())?;
                first.get_or_insert(id);
            }
            first.ok_or(Reason::Missing)
        }
        CheckKind::Any(_) | CheckKind::Fetched(_) => Err(Reason::Invalid),
    }
}

/// A public-key check: its pinned keys whose secrets are active now (a pinned check with none
/// rejects), or the keys fetched for this request.
fn verify_fetched(
    check: &Check,
    f: &FetchedCheck,
    req: &Request<'_>,
    keys: &Keys,
    now: UnixMillis,
) -> Result<Arc<str>, Reason> {
    let pinned: Vec<Candidate<'_>> = (check.secrets.iter().zip(&f.pinned))
        .filter(|(s, _)| s.secret.window.contains(now))
        .map(|(s, key)| Candidate {
            id: s.secret.id.clone(),
            key,
        })
        .collect();
    if !f.pinned.is_empty() && pinned.is_empty() {
        return Err(Reason::NoActiveSecret);
    }
    let delivery = Delivery {
        headers: req.headers,
        body: req.body,
        pinned,
        keys,
        tolerance_ms: check.tolerance_ms,
        now,
    };
    fetched_verify::verify(f, &delivery)
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
    spec: &SigSpec,
    active: impl Iterator<Item = &'a CompiledSecret> + Clone,
    req: &Request<'_>,
    tolerance_ms: i64,
    now: UnixMillis,
) -> Result<Arc<str>, Reason> {
    // Malformed unless some claim has a readable signature; then stale unless some claim was
    // in the window and compared.
    let mut outcome = Reason::Malformed;
    for claim in &claims(spec, req)? {
        let sigs = decode_some(spec, &claim.signatures);
        if sigs.is_empty() {
            continue;
        }
        outcome = outcome.closer(Reason::Stale);
        if let Some(stamp) = claim.stamp {
            let at = match stamp {
                Stamp::Millis(ms) => ms,
                Stamp::Text(text, unit) => parse_timestamp(text, unit)?,
            };
            if now.abs_diff(at) > tolerance_ms.unsigned_abs() {
                continue;
            }
        }
        outcome = Reason::Invalid;
        let named = claim
            .key_id
            .filter(|k| active.clone().any(|s| &*s.secret.id == *k));
        for s in active.clone() {
            if named.is_some_and(|k| &*s.secret.id != k) {
                continue;
            }
            let Some(mac) = &s.mac else { continue };
            let tag = mac.compute(&claim.parts);
            if sigs.iter().any(|sig| tag.matches(sig)) {
                return Ok(s.secret.id.clone());
            }
        }
    }
    Err(outcome)
}

/// What the request claims under `spec`: a provider mechanism's own reading, or the generic
/// engine's (one claim per signed set of headers).
fn claims<'a>(spec: &'a SigSpec, req: &Request<'a>) -> Result<Vec<Claim<'a>>, Reason> {
    if let SigFormat::Mechanism(m) = spec.sig {
        return mechanism::claims(m, req);
    }
    let unit = spec.timestamp.as_ref().map_or(TsUnit::Seconds, |t| t.unit);
    extract::groups(spec, req.headers)?
        .into_iter()
        .map(|found: Extracted<'a>| {
            let (ts, id) = (found.timestamp.unwrap_or(""), found.id.unwrap_or(""));
            let parts = payload(spec, req, ts, id)?;
            Ok(Claim {
                parts: parts.into_iter().map(Cow::Borrowed).collect(),
                signatures: found.signatures,
                stamp: found.timestamp.map(|t| Stamp::Text(t, unit)),
                key_id: None,
            })
        })
        .collect()
}

/// Rejects a signed timestamp further than `tolerance_ms` from `now`, either way.
fn within_tolerance(
    spec: &SigSpec,
    timestamp: Option<&str>,
    tolerance_ms: i64,
    now: UnixMillis,
) -> Result<(), Reason> {
    if let (Some(ts), Some(tspec)) = (timestamp, &spec.timestamp) {
        let at = parse_timestamp(ts, tspec.unit)?;
        if now.abs_diff(at) > tolerance_ms.unsigned_abs() {
            return Err(Reason::Stale);
        }
    }
    Ok(())
}

/// Every presented signature against every active public key (and, for Standard Webhooks,
/// every `v1` entry against every active HMAC secret); the first secret that matches wins.
/// Signature verification holds nothing secret, so it needs no constant-time care; the HMAC
/// entries are compared in constant time as everywhere.
fn verify_public<'a>(
    spec: &SigSpec,
    alg: KeyAlg,
    active: impl Iterator<Item = &'a CompiledSecret>,
    req: &Request<'_>,
    tolerance_ms: i64,
    now: UnixMillis,
) -> Result<Arc<str>, Reason> {
    let found = pubkey::presented(spec, req.headers)?;
    let active: Vec<&CompiledSecret> = active.collect();
    // Decodable signatures of a length `fits`; entries of a kind no active secret can check
    // count as absent, as a `v1a` entry does in an HMAC-only check.
    let decoded = |sigs: &[&str], checkable: bool, fits: &dyn Fn(usize) -> bool| {
        let all = sigs.iter().filter_map(|s| decode(spec.encoding, s));
        let usable: Vec<Vec<u8>> = all.filter(|b| fits(b.len())).collect();
        if checkable {
            usable
        } else {
            Vec::new()
        }
    };
    let has_keys = active.iter().any(|s| s.public.is_some());
    let has_macs = active.iter().any(|s| s.mac.is_some());
    let keyed = decoded(&found.keyed, has_keys, &|n| alg.plausible_len(n));
    let tags = decoded(&found.hmac, has_macs, &|n| n == spec.algorithm.tag_len());
    if keyed.is_empty() && tags.is_empty() {
        return Err(Reason::Malformed);
    }
    within_tolerance(spec, found.timestamp, tolerance_ms, now)?;
    let (ts, id) = (found.timestamp.unwrap_or(""), found.id.unwrap_or(""));
    let parts = payload(spec, req, ts, id)?;
    let message = parts.concat();
    for s in active {
        let matched = match (&s.public, &s.mac) {
            (Some(key), _) => keyed.iter().any(|sig| key.verify(&message, sig)),
            (None, Some(mac)) => {
                let tag = mac.compute(&parts);
                tags.iter().any(|t| tag.matches(t))
            }
            (None, None) => false,
        };
        if matched {
            return Ok(s.secret.id.clone());
        }
    }
    Err(Reason::Invalid)
}

/// Decodes the presented signatures, skipping undecodable ones and those of the wrong length
/// (which cannot match).
fn decode_some(spec: &SigSpec, encoded: &[&str]) -> Vec<Vec<u8>> {
    let want = spec.algorithm.tag_len();
    encoded
        .iter()
        .filter_map(|s| decode(spec.encoding, s))
        .filter(|bytes| bytes.len() == want)
        .collect()
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

/// Reads a timestamp in `unit`; returns Unix milliseconds.
pub fn parse_timestamp(s: &str, unit: TsUnit) -> Result<UnixMillis, Reason> {
    if unit == TsUnit::Rfc3339 {
        let format = &time::format_description::well_known::Rfc3339;
        // Some senders (Orb) write no offset: read that as UTC.
        let t = time::OffsetDateTime::parse(s, format)
            .or_else(|_| time::OffsetDateTime::parse(&format!("{s}Z"), format))
            .map_err(|_| Reason::Malformed)?;
        return i64::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| Reason::Malformed);
    }
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Reason::Malformed);
    }
    let n: i64 = s.parse().map_err(|_| Reason::Malformed)?;
    let millis = match unit {
        TsUnit::Millis => true,
        TsUnit::Auto => s.len() >= 13,
        TsUnit::Seconds | TsUnit::Rfc3339 => false,
    };
    if millis {
        Ok(n)
    } else {
        n.checked_mul(1000).ok_or(Reason::Malformed)
    }
}

/// The signed bytes as slices, in template order, without joining them.
pub fn payload<'a>(
    spec: &'a SigSpec,
    req: &Request<'a>,
    timestamp: &'a str,
    id: &'a str,
) -> Result<Vec<&'a [u8]>, Reason> {
    let mut out = Vec::with_capacity(spec.payload.len() + req.chunks.len() + 1);
    for part in &spec.payload {
        let piece = match part {
            Part::Lit(bytes) => bytes.as_slice(),
            Part::Body => {
                out.extend(req.body_slices());
                continue;
            }
            Part::Timestamp => timestamp.as_bytes(),
            Part::Id => id.as_bytes(),
            Part::Method => req.method.as_bytes(),
            Part::Path => req.path.as_bytes(),
            Part::Url => {
                out.push(spec.public_url.as_bytes());
                req.path.as_bytes()
            }
            Part::Header(name) => extract::single(req.headers, name)?.unwrap_or(b""),
        };
        out.push(piece);
    }
    Ok(out)
}
