//! Public-key providers whose keys hookguard cannot fetch without the provider's API
//! credentials, so the check pins them (its secrets hold the keys):
//!
//! - Circle (verify-webhook-signatures): `X-Circle-Signature` is a base64 DER ECDSA P-256
//!   SHA-256 signature of the raw body, under the key `X-Circle-Key-Id` names (the check pins
//!   the keys as base64 DER or PEM; every active one is tried).
//! - Bridge (webhooks/signature): `X-Webhook-Signature: t=<ms>,v0=<base64>`; the signature is
//!   RSASSA-PKCS1-v1_5/SHA-256 over the 32-byte SHA-256 digest of `t.body` (the digest is
//!   hashed again, as Bridge's own test data proves), under the endpoint's RSA public key.
//!   `t` must be within the tolerance (Bridge: 10 minutes).

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::HeaderName;
use sha2::{Digest, Sha256};

use crate::verify::certs::Algo;
use crate::verify::extract;
use crate::verify::fetched::{self, Delivery, FetchedCheck};
use crate::verify::reason::Reason;

/// Verifies a Circle notification.
pub fn circle(f: &FetchedCheck, d: &Delivery<'_>) -> Result<Arc<str>, Reason> {
    let name = HeaderName::from_static("x-circle-signature");
    let sig = extract::single(d.headers, &name)?.ok_or(Reason::Missing)?;
    let sig = STANDARD.decode(sig).map_err(|_| Reason::Malformed)?;
    let candidates = fetched::candidates(f, d, None, None)?;
    fetched::first_match(&candidates, Algo::P256Sha256Der, d.body, &sig, d.now)
}

/// Verifies a Bridge webhook.
pub fn bridge(f: &FetchedCheck, d: &Delivery<'_>) -> Result<Arc<str>, Reason> {
    let spec = f.spec.as_ref().ok_or(Reason::Invalid)?;
    let found = extract::signatures(spec, d.headers)?;
    let ts = found.timestamp.ok_or(Reason::Malformed)?;
    if ts.is_empty() || ts.len() > 18 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Reason::Malformed);
    }
    let at: i64 = ts.parse().map_err(|_| Reason::Malformed)?;
    let sigs: Vec<Vec<u8>> = found
        .signatures
        .iter()
        .filter_map(|s| STANDARD.decode(s).ok())
        .collect();
    if sigs.is_empty() {
        return Err(Reason::Malformed);
    }
    if d.now.abs_diff(at) > d.tolerance_ms.unsigned_abs() {
        return Err(Reason::Stale);
    }
    let digest = Sha256::new()
        .chain_update(ts)
        .chain_update(b".")
        .chain_update(d.body)
        .finalize();
    let candidates = fetched::candidates(f, d, None, None)?;
    let results = sigs
        .iter()
        .map(|sig| fetched::first_match(&candidates, Algo::RsaSha256, &digest, sig, d.now));
    results
        .reduce(|a, b| a.or(b))
        .unwrap_or(Err(Reason::Invalid))
}
