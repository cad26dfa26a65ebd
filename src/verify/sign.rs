//! Signing as a sender would: the headers a delivery carries for one HMAC check and secret.
//! Used by `hookguard sign`, the demo and the tests, so every scheme round-trips through
//! `verify` with the same presets.

use http::HeaderMap;

use crate::verify::mac::PreparedMac;
use crate::verify::scheme::{HmacSpec, SigFormat};
use crate::verify::{encode, payload, Request};

/// What a signature covers besides the body.
#[derive(Clone, Debug)]
pub struct Delivery<'a> {
    /// Request method.
    pub method: &'a str,
    /// Path and query.
    pub path: &'a str,
    /// Other request headers (for `{header:NAME}` templates).
    pub headers: &'a HeaderMap,
    /// Raw body.
    pub body: &'a [u8],
    /// Unix timestamp as the sender writes it (seconds, or milliseconds for Expedia).
    pub timestamp: &'a str,
    /// Message id (Standard Webhooks).
    pub id: &'a str,
}

/// The `(name, value)` headers for one signature of `delivery` under `mac`.
pub fn sign(spec: &HmacSpec, mac: &PreparedMac, delivery: &Delivery<'_>) -> Vec<(String, String)> {
    let req = Request {
        method: delivery.method,
        path: delivery.path,
        headers: delivery.headers,
        body: delivery.body,
    };
    // Template headers that repeat are a verify-time error; signing uses an empty value then.
    let parts = payload(spec, &req, delivery.timestamp, delivery.id).unwrap_or_default();
    let sig = encode(spec.encoding, mac.compute(&parts).as_bytes());
    let mut out = Vec::new();
    match &spec.sig {
        SigFormat::List { header, prefix, .. } => {
            if let Some(ts) = spec.timestamp.as_ref().and_then(|t| t.header.as_ref()) {
                out.push((display_name(ts.as_str()), delivery.timestamp.to_owned()));
            }
            let prefix = prefix.as_deref().unwrap_or("");
            out.push((display_name(header.as_str()), format!("{prefix}{sig}")));
        }
        SigFormat::Stripe => out.push((
            "Stripe-Signature".into(),
            format!("t={},v1={sig}", delivery.timestamp),
        )),
        SigFormat::StandardWebhooks => {
            out.push(("webhook-id".into(), delivery.id.to_owned()));
            out.push(("webhook-timestamp".into(), delivery.timestamp.to_owned()));
            out.push(("webhook-signature".into(), format!("v1,{sig}")));
        }
    }
    out
}

/// `x-hub-signature-256` → `X-Hub-Signature-256`, as providers write header names.
/// Expedia's and Standard Webhooks' own lowercase names stay lowercase.
pub fn display_name(name: &str) -> String {
    if name.starts_with("x-eg-") || name.starts_with("webhook-") {
        return name.to_owned();
    }
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}
