//! Hook0's signature, as Coinbase CDP's webhooks carry it (`coinbase-cdp`):
//! `X-Hook0-Signature: t=<unix s>,h=<name> <name>...,v1=<hex>`. The `v1` code is HMAC-SHA256
//! over `{t}.{names joined by " "}.{their values joined by "."}.{body}`, the names in the order
//! `h` gives them (the order is signed). As Hook0's reference verifier
//! (`clients/go/signature.go`) does: a covered header the request lacks rejects, a code that is
//! not whole hexadecimal rejects, `v1` is the code verified even when `v0` is offered beside it;
//! CDP's docs verify `v1` only, so a `v0`-only header rejects.

use std::borrow::Cow;

use http::HeaderName;

use crate::verify::claim::{Claim, Request, Stamp};
use crate::verify::extract;
use crate::verify::mac::PreparedMac;
use crate::verify::reason::Reason;

/// The signature header.
pub const HEADER: &str = "x-hook0-signature";
/// The header `hookguard sign` covers, with the delivery's id: Hook0 signs its event id.
pub const EVENT_ID: &str = "x-event-id";

// Hook0's own bounds on what it reads.
const MAX_BYTES: usize = 8 * 1024;
const MAX_PARTS: usize = 32;
const MAX_COVERED: usize = 64;
const MAX_SECONDS: i64 = 1_000_000_000_000;

/// The header, read whole or rejected.
#[derive(Debug, PartialEq, Eq)]
struct Signature<'a> {
    t: i64,
    covered: Vec<String>,
    v1: &'a str,
}

/// The one claim a Hook0 delivery makes.
pub fn claims<'a>(req: &Request<'a>) -> Result<Vec<Claim<'a>>, Reason> {
    let sig = parse(extract::required(
        req.headers,
        &HeaderName::from_static(HEADER),
    )?)?;
    let mut values = Vec::with_capacity(sig.covered.len());
    for name in &sig.covered {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| Reason::Malformed)?;
        let value = extract::single(req.headers, &name)?.ok_or(Reason::Missing)?;
        values.push(value);
    }
    let mut claim = Claim::new(
        message(&sig.t.to_string(), &sig.covered, &values, req.body),
        vec![sig.v1],
    );
    claim.stamp = Some(Stamp::Millis(sig.t.saturating_mul(1000)));
    Ok(vec![claim])
}

fn parse(value: &str) -> Result<Signature<'_>, Reason> {
    if value.len() > MAX_BYTES || value.split(',').count() > MAX_PARTS {
        return Err(Reason::Malformed);
    }
    // `name=value` parts, split at the first `=`, trimmed; a later part of a name wins.
    let pairs: Vec<(&str, &str)> = value
        .split(',')
        .filter_map(|part| part.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let get = |key: &str| pairs.iter().rev().find(|(k, _)| *k == key).map(|(_, v)| *v);
    let t: i64 = get("t")
        .and_then(|t| t.parse().ok())
        .filter(|t: &i64| t.unsigned_abs() <= MAX_SECONDS.unsigned_abs())
        .ok_or(Reason::Malformed)?;
    for code in [get("v0"), get("v1")].into_iter().flatten() {
        if code.is_empty() || hex::decode(code).is_err() {
            return Err(Reason::Malformed);
        }
    }
    let v1 = get("v1").ok_or(Reason::Malformed)?;
    Ok(Signature {
        t,
        covered: covered(get("h").unwrap_or(""))?,
        v1,
    })
}

/// `h`: names separated by single spaces, each an RFC 9110 token, lowercased, order kept.
fn covered(h: &str) -> Result<Vec<String>, Reason> {
    if h.is_empty() {
        return Ok(Vec::new());
    }
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let names: Vec<&str> = h.split(' ').collect();
    if names.len() > MAX_COVERED || names.iter().any(|n| n.is_empty() || !n.bytes().all(token)) {
        return Err(Reason::Malformed);
    }
    Ok(names.iter().map(|n| n.to_ascii_lowercase()).collect())
}

fn message<'a>(t: &str, names: &[String], values: &[&[u8]], body: &'a [u8]) -> Vec<Cow<'a, [u8]>> {
    let mut head = format!("{t}.{}.", names.join(" ")).into_bytes();
    head.extend_from_slice(&values.join(&b"."[..]));
    head.push(b'.');
    vec![Cow::Owned(head), Cow::Borrowed(body)]
}

/// What Hook0 sends: `X-Event-Id` (when `id` is set, and covered) and the signature header.
pub fn sign(
    mac: &PreparedMac,
    req: &Request<'_>,
    timestamp: &str,
    id: &str,
) -> Vec<(String, String)> {
    let (names, values): (Vec<String>, Vec<&[u8]>) = if id.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        (vec![EVENT_ID.to_owned()], vec![id.as_bytes()])
    };
    let code = hex::encode(
        mac.compute(&message(timestamp, &names, &values, req.body))
            .as_bytes(),
    );
    let mut out = Vec::new();
    if !id.is_empty() {
        out.push(("X-Event-Id".to_owned(), id.to_owned()));
    }
    let h = names.join(" ");
    out.push((
        "X-Hook0-Signature".to_owned(),
        format!("t={timestamp},h={h},v1={code}"),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_read_as_hook0_reads_it() {
        let sig = parse("t=1800000000, h=X-Event-Id x-delivery-id ,v1=AB01,v0=cd,x").expect("ok");
        assert_eq!(sig.t, 1_800_000_000);
        assert_eq!(sig.covered, vec!["x-event-id", "x-delivery-id"]);
        assert_eq!(sig.v1, "AB01");
        // v0 alone is not enough for CDP; codes must be whole hex; t must be a number.
        assert_eq!(parse("t=1,v0=ab"), Err(Reason::Malformed));
        assert_eq!(parse("t=1,v1=abc"), Err(Reason::Malformed));
        assert_eq!(parse("t=1,v1=ab,v0=zz"), Err(Reason::Malformed));
        assert_eq!(parse("t=x,v1=ab"), Err(Reason::Malformed));
        assert_eq!(parse("v1=ab"), Err(Reason::Malformed));
        assert_eq!(parse("t=1,h=a  b,v1=ab"), Err(Reason::Malformed));
        assert_eq!(parse("t=1,h=a(b,v1=ab"), Err(Reason::Malformed));
        assert_eq!(parse("t=1,t=2,v1=ab").map(|s| s.t), Ok(2));
        assert!(parse(&format!("t=1,v1=ab{}", ",x".repeat(40))).is_err());
    }

    #[test]
    fn the_message_joins_names_with_spaces_and_values_with_dots() {
        let names = vec!["a".to_owned(), "b".to_owned()];
        let parts = message("7", &names, &[b"1", b"2"], b"{}");
        assert_eq!(parts.concat(), b"7.a b.1.2.{}");
        assert_eq!(message("7", &[], &[], b"x").concat(), b"7...x");
    }
}
