//! What a request claims: the signed bytes a scheme rebuilds from it, the signatures that
//! say they cover those bytes, when they were signed, and which key they name. The generic
//! engine and every provider mechanism produce [`Claim`]s; `check` alone compares them with
//! the MACs of the active secrets, so every comparison is made in one place, in constant time.

use std::borrow::Cow;

use bytes::Bytes;
use http::HeaderMap;

use crate::verify::scheme::TsUnit;

/// The parts of a request verification reads.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The method, e.g. `POST`.
    pub method: &'a str,
    /// Path and query as sent.
    pub path: &'a str,
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// The raw body bytes, exactly as received (empty when `chunks` holds them).
    pub body: &'a [u8],
    /// The body as the chunks it arrived in, in order, when every check of the route takes
    /// it in pieces (`Check::takes_chunks`), so a large body is never copied into one
    /// buffer; then `body` is empty. Empty otherwise.
    pub chunks: &'a [Bytes],
}

impl<'a> Request<'a> {
    /// The body's bytes in order: `chunks` when there are any, else `body`.
    pub fn body_slices(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        let whole = std::iter::once(self.body).filter(|b| !b.is_empty());
        let chunks: &'a [Bytes] = self.chunks;
        whole.chain(chunks.iter().map(|c| c.as_ref()))
    }
}

/// When a claim says it was signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp<'a> {
    /// As written in a header, to be read in the scheme's unit.
    Text(&'a str, TsUnit),
    /// Already read (from a JSON body, or a provider's own integer syntax): Unix milliseconds.
    Millis(i64),
}

/// One set of signatures over one rebuilt message. Most deliveries make one claim; a header
/// that carries several signed sets (Persona during rotation, Worldpay's per-key entries)
/// makes one claim per set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim<'a> {
    /// The signed bytes, in pieces, without joining them.
    pub parts: Vec<Cow<'a, [u8]>>,
    /// The presented signatures, still encoded.
    pub signatures: Vec<&'a str>,
    /// When it was signed; `None` means the scheme checks no freshness for this delivery.
    pub stamp: Option<Stamp<'a>>,
    /// The key the claim names (Worldpay's `keyId`, Pusher's app key): when an active secret
    /// has this id only that secret is tried, else every active secret.
    pub key_id: Option<&'a str>,
}

impl<'a> Claim<'a> {
    /// A claim with no timestamp and no key id.
    pub fn new(parts: Vec<Cow<'a, [u8]>>, signatures: Vec<&'a str>) -> Self {
        Claim {
            parts,
            signatures,
            stamp: None,
            key_id: None,
        }
    }
}

/// JavaScript's `parseInt(s, 10)` for the integers senders write: optional ASCII whitespace,
/// an optional sign, then the leading decimal digits (what follows them is ignored). `None`
/// where JavaScript gives `NaN`, or beyond 15 digits, where a JavaScript number would no
/// longer hold the value exactly.
pub fn js_parse_int(s: &str) -> Option<i64> {
    let s = s.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 15 {
        return None;
    }
    let n: i64 = rest[..digits].parse().ok()?;
    Some(if negative { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn js_parse_int_reads_leading_digits_as_javascript_does() {
        assert_eq!(js_parse_int("1767225600000"), Some(1_767_225_600_000));
        assert_eq!(js_parse_int("  42abc"), Some(42));
        assert_eq!(js_parse_int("-7"), Some(-7));
        assert_eq!(js_parse_int("+0123"), Some(123));
        assert_eq!(js_parse_int("abc"), None);
        assert_eq!(js_parse_int(""), None);
        assert_eq!(js_parse_int("-"), None);
        assert_eq!(js_parse_int("1234567890123456"), None);
    }
}
