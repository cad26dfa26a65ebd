//! Which module verifies each public-key provider, and which document a fetched-mode check
//! needs for a delivery: the entry points `check.rs` and the serve layer call, over the types
//! in `fetched` and the per-provider modules (`sns`, `paypal`, `jwt`, `ebay`, `pinned`).

use std::sync::Arc;

use http::HeaderMap;

use crate::verify::ebay;
use crate::verify::fetched::{Delivery, FetchedCheck, KeyWant, Provider};
use crate::verify::jwt;
use crate::verify::paypal;
use crate::verify::pinned;
use crate::verify::reason::Reason;
use crate::verify::sns;

/// The document one fetched-mode check needs for this delivery; `None` for a pinned check,
/// a provider that fetches nothing, and a delivery that already fails a check needing no
/// key (a certificate URL outside the allowed hosts is never asked for).
pub fn want(f: &FetchedCheck, headers: &HeaderMap, body: &[u8]) -> Option<KeyWant> {
    if !f.pinned.is_empty() {
        return None;
    }
    match f.provider {
        Provider::Sns => sns::want(f, headers, body),
        Provider::Paypal => paypal::want(f, headers),
        Provider::GooglePubsub => jwt::google_want(f, headers),
        _ => None,
    }
}

/// Verifies one fetched-key or pinned-key check.
pub fn verify(f: &FetchedCheck, d: &Delivery<'_>) -> Result<Arc<str>, Reason> {
    match f.provider {
        Provider::Sns => sns::verify(f, d),
        Provider::Paypal => paypal::verify(f, d),
        Provider::GooglePubsub => jwt::google(f, d),
        Provider::Plaid => jwt::plaid(f, d),
        Provider::Ebay => ebay::verify(f, d),
        Provider::Circle => pinned::circle(f, d),
        Provider::Bridge => pinned::bridge(f, d),
    }
}
