//! eBay Notification API deliveries (marketplace-account-deletion and the other topics), as
//! eBay's official SDK verifies them (event-notification-nodejs-sdk `lib/validator.js`):
//! `X-EBAY-SIGNATURE` is base64 of `{"alg":"ecdsa","kid":..,"signature":<base64 DER>,
//! "digest":"SHA1"}`, an ECDSA P-256 signature with SHA-1 under the key `kid` names. eBay
//! hands that key out only to an OAuth application token, so the check pins it (the PEM
//! `getPublicKey` returns, with or without its line breaks).
//!
//! The SDK verifies `JSON.stringify(JSON.parse(body))`, so hookguard tries the raw body and
//! then that compact form: whitespace between tokens removed, strings re-escaped as
//! `JSON.stringify` writes them. Numbers are kept as sent (JavaScript would rewrite `1.0` as
//! `1`); such a body fails rather than passes.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::HeaderName;
use serde::Deserialize;

use crate::verify::certs::Algo;
use crate::verify::extract;
use crate::verify::fetched::{self, Delivery, FetchedCheck};
use crate::verify::reason::Reason;

#[derive(Deserialize)]
struct SignatureHeader {
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    kid: Option<String>,
    signature: String,
    #[serde(default)]
    digest: Option<String>,
}

/// Verifies one eBay notification under the check's pinned keys.
pub fn verify(f: &FetchedCheck, d: &Delivery<'_>) -> Result<Arc<str>, Reason> {
    let name = HeaderName::from_static("x-ebay-signature");
    let value = extract::single(d.headers, &name)?.ok_or(Reason::Missing)?;
    let json = STANDARD.decode(value).map_err(|_| Reason::Malformed)?;
    let header: SignatureHeader = serde_json::from_slice(&json).map_err(|_| Reason::Malformed)?;
    let named =
        |v: &Option<String>, want: &str| v.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(want));
    if !named(&header.alg, "ecdsa") || !named(&header.digest, "sha1") {
        return Err(Reason::Invalid);
    }
    let sig = STANDARD
        .decode(&header.signature)
        .map_err(|_| Reason::Malformed)?;
    let candidates = fetched::candidates(f, d, None, header.kid.as_deref())?;
    let raw = fetched::first_match(&candidates, Algo::P256Sha1Der, d.body, &sig, d.now);
    if raw.is_ok() {
        return raw;
    }
    let compact = js_compact(d.body).ok_or(Reason::Invalid)?;
    fetched::first_match(&candidates, Algo::P256Sha1Der, &compact, &sig, d.now)
}

/// `JSON.stringify(JSON.parse(body))` for a valid JSON body, numbers kept as written; `None`
/// when the body is not JSON.
pub fn js_compact(body: &[u8]) -> Option<Vec<u8>> {
    serde_json::from_slice::<serde::de::IgnoredAny>(body).ok()?;
    let text = std::str::from_utf8(body).ok()?;
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' | '\r' => {}
            '"' => {
                out.push('"');
                restring(&mut chars, &mut out)?;
                out.push('"');
            }
            c => out.push(c),
        }
    }
    Some(out.into_bytes())
}

/// Reads one JSON string's contents (after its opening quote, through its closing one) and
/// writes them escaped as `JSON.stringify` does: `"` `\` and controls escaped (`\b \f \n \r
/// \t`, else `\u00xx`), lone surrogates as lowercase `\uxxxx`, everything else raw.
fn restring(chars: &mut std::str::Chars<'_>, out: &mut String) -> Option<()> {
    loop {
        let c = chars.next()?;
        let unit = match c {
            '"' => return Some(()),
            '\\' => match chars.next()? {
                'u' => {
                    let hi = hex4(chars)?;
                    if (0xD800..0xDC00).contains(&hi) {
                        let mut ahead = chars.clone();
                        let lo = (ahead.next() == Some('\\') && ahead.next() == Some('u'))
                            .then(|| hex4(&mut ahead))
                            .flatten()
                            .filter(|lo| (0xDC00..0xE000).contains(lo));
                        if let Some(lo) = lo {
                            *chars = ahead;
                            let code = 0x10000
                                + ((u32::from(hi) - 0xD800) << 10)
                                + (u32::from(lo) - 0xDC00);
                            Ok(char::from_u32(code)?)
                        } else {
                            Err(hi)
                        }
                    } else {
                        char::from_u32(u32::from(hi)).ok_or(hi)
                    }
                }
                'b' => Ok('\u{8}'),
                'f' => Ok('\u{c}'),
                'n' => Ok('\n'),
                'r' => Ok('\r'),
                't' => Ok('\t'),
                other => Ok(other),
            },
            c => Ok(c),
        };
        match unit {
            Ok('"') => out.push_str("\\\""),
            Ok('\\') => out.push_str("\\\\"),
            Ok('\u{8}') => out.push_str("\\b"),
            Ok('\u{c}') => out.push_str("\\f"),
            Ok('\n') => out.push_str("\\n"),
            Ok('\r') => out.push_str("\\r"),
            Ok('\t') => out.push_str("\\t"),
            Ok(c) if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            Ok(c) => out.push(c),
            Err(lone) => out.push_str(&format!("\\u{lone:04x}")),
        }
    }
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u16> {
    let digits: String = chars.by_ref().take(4).collect();
    if digits.len() != 4 {
        return None;
    }
    u16::from_str_radix(&digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compact(s: &str) -> String {
        String::from_utf8(js_compact(s.as_bytes()).expect("json")).expect("utf8")
    }

    #[test]
    fn whitespace_goes_and_strings_are_escaped_as_json_stringify_writes_them() {
        assert_eq!(
            compact("{ \"a\" : [1, 2.50, true ],\n \"b\": null }"),
            r#"{"a":[1,2.50,true],"b":null}"#
        );
        assert_eq!(
            compact(r#""caf\u00e9 \/ \u0001 \"q\" \\ \n \u2028""#),
            "\"café / \\u0001 \\\"q\\\" \\\\ \\n \u{2028}\""
        );
        assert_eq!(
            compact(r#""\ud83d\ude00 \ud800 x""#),
            "\"\u{1F600} \\ud800 x\""
        );
        assert_eq!(compact(r#""a b""#), r#""a b""#);
        assert!(js_compact(b"{\"a\":").is_none());
    }
}
