//! Signing as a sender would: the headers a delivery carries for one HMAC check and secret, or
//! for one public-key check and the sender's private key.
//! Used by `hookguard sign`, the demo and the tests, so every scheme round-trips through
//! `verify` with the same presets.

use http::HeaderMap;
use ring::rand::SecureRandom;

use crate::verify::mac::PreparedMac;
use crate::verify::mechanism;
use crate::verify::privkey::{PrivateKey, PrivateKeyError};
use crate::verify::scheme::{SigFormat, SigSpec, TsUnit};
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
pub fn sign(spec: &SigSpec, mac: &PreparedMac, delivery: &Delivery<'_>) -> Vec<(String, String)> {
    let req = request(delivery);
    if let SigFormat::Mechanism(m) = spec.sig {
        return mechanism::sign(m, mac, &req, delivery.timestamp, delivery.id);
    }
    // Template headers that repeat are a verify-time error; signing uses an empty value then.
    let parts = payload(spec, &req, delivery.timestamp, delivery.id).unwrap_or_default();
    let sig = encode(spec.encoding, mac.compute(&parts).as_bytes());
    headers(spec, delivery, &sig)
}

/// The headers for one signature of `delivery` under the sender's private key, for a
/// public-key check's `spec` (Standard Webhooks: a `v1a,` entry).
pub fn sign_with_key(
    spec: &SigSpec,
    key: &PrivateKey,
    delivery: &Delivery<'_>,
    rng: &dyn SecureRandom,
) -> Result<Vec<(String, String)>, PrivateKeyError> {
    let req = request(delivery);
    let parts = payload(spec, &req, delivery.timestamp, delivery.id).unwrap_or_default();
    let sig = key.sign(&parts.concat(), rng)?;
    Ok(headers(spec, delivery, &encode(spec.encoding, &sig)))
}

fn request<'a>(delivery: &Delivery<'a>) -> Request<'a> {
    Request {
        chunks: &[],
        method: delivery.method,
        path: delivery.path,
        headers: delivery.headers,
        body: delivery.body,
    }
}

/// The timestamp, id and signature headers carrying the encoded signature `sig`.
fn headers(spec: &SigSpec, delivery: &Delivery<'_>, sig: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let ts_header = spec.timestamp.as_ref().and_then(|t| t.header.as_ref());
    if let Some(name) = ts_header {
        out.push((display_name(name.as_str()), delivery.timestamp.to_owned()));
    }
    if let Some(name) = &spec.id_header {
        out.push((display_name(name.as_str()), delivery.id.to_owned()));
    }
    match &spec.sig {
        SigFormat::List {
            headers, prefix, ..
        } => {
            if let Some(header) = headers.first() {
                let prefix = prefix.as_deref().unwrap_or("");
                out.push((display_name(header.as_str()), format!("{prefix}{sig}")));
            }
        }
        SigFormat::KeyValue {
            header,
            pairs,
            assign,
            timestamp_key,
            signature_keys,
            ..
        } => {
            let key = signature_keys.first().map_or("v1", String::as_str);
            let value = match timestamp_key {
                Some(t) => format!("{t}{assign}{}{pairs}{key}{assign}{sig}", delivery.timestamp),
                None => format!("{key}{assign}{sig}"),
            };
            out.push((display_name(header.as_str()), value));
        }
        SigFormat::StandardWebhooks {
            version,
            svix_names,
        } => {
            let p = if *svix_names { "svix" } else { "webhook" };
            out.push((format!("{p}-id"), delivery.id.to_owned()));
            out.push((format!("{p}-timestamp"), delivery.timestamp.to_owned()));
            out.push((format!("{p}-signature"), format!("{version},{sig}")));
        }
        SigFormat::Mechanism(_) => {}
    }
    out
}

/// A Unix time in seconds written the way a sender of `unit` writes it.
pub fn timestamp_text(unit: TsUnit, unix_s: i64) -> String {
    match unit {
        TsUnit::Seconds | TsUnit::Auto => unix_s.to_string(),
        TsUnit::Millis => unix_s.saturating_mul(1000).to_string(),
        TsUnit::Rfc3339 => time::OffsetDateTime::from_unix_timestamp(unix_s)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_else(|| unix_s.to_string()),
    }
}

/// `x-hub-signature-256` → `X-Hub-Signature-256`, as providers write header names.
/// Expedia's and Standard Webhooks' own lowercase names stay lowercase.
pub fn display_name(name: &str) -> String {
    if name.starts_with("x-eg-") || name.starts_with("webhook-") || name.starts_with("svix-") {
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
