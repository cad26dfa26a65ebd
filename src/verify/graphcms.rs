//! Hygraph (formerly GraphCMS), as `verifyWebhookSignature` in the official `@graphcms/utils`
//! 1.2.0 checks it: `gcms-signature: sign=<b64>, env=<environment>, t=<ms>`, and the signed
//! bytes are `JSON.stringify({Body: <raw body as a string>, EnvironmentName: <env>,
//! TimeStamp: <t>})`: the body embedded as a JSON string. HMAC-SHA256, standard base64.
//! The SDK checks no freshness; hookguard holds `t` (milliseconds) to the route's tolerance.

use std::borrow::Cow;

use http::HeaderName;

use crate::verify::claim::{js_parse_int, Claim, Request, Stamp};
use crate::verify::extract;
use crate::verify::mac::PreparedMac;
use crate::verify::reason::Reason;

/// The signature header.
pub const HEADER: &str = "gcms-signature";
/// The environment `hookguard sign` names, Hygraph's default.
pub const DEFAULT_ENV: &str = "master";

/// The one claim a Hygraph delivery makes.
pub fn claims<'a>(req: &Request<'a>) -> Result<Vec<Claim<'a>>, Reason> {
    let value = extract::required(req.headers, &HeaderName::from_static(HEADER))?;
    // The SDK splits on exactly ", " and takes the first three parts in this order.
    let mut parts = value.split(", ");
    let (Some(sign), Some(env), Some(t)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Reason::Malformed);
    };
    let (sign, env) = (remove_first(sign, "sign="), remove_first(env, "env="));
    let t = js_parse_int(&remove_first(t, "t=")).ok_or(Reason::Malformed)?;
    let signature = match sign {
        Cow::Borrowed(s) => s,
        // `sign=` after other text: not a header Hygraph writes.
        Cow::Owned(_) => return Err(Reason::Malformed),
    };
    let mut claim = Claim::new(
        vec![Cow::Owned(signed_json(req.body, &env, t))],
        vec![signature],
    );
    claim.stamp = Some(Stamp::Millis(t));
    Ok(vec![claim])
}

/// JavaScript's `s.replace(pattern, "")`: the first occurrence removed, wherever it is.
fn remove_first<'a>(s: &'a str, pattern: &str) -> Cow<'a, str> {
    match s.find(pattern) {
        Some(0) => Cow::Borrowed(&s[pattern.len()..]),
        Some(at) => Cow::Owned(format!("{}{}", &s[..at], &s[at + pattern.len()..])),
        None => Cow::Borrowed(s),
    }
}

/// `JSON.stringify({Body, EnvironmentName, TimeStamp})`. serde_json escapes strings as
/// `JSON.stringify` does (`"`, `\`, and U+0000 to U+001F, with `\b \f \n \r \t` and lowercase
/// `\u00xx`; nothing else). A body that is not UTF-8 is read as Node reads it, each invalid
/// sequence one U+FFFD.
fn signed_json(body: &[u8], env: &str, t: i64) -> Vec<u8> {
    let body = String::from_utf8_lossy(body);
    let string = |s: &str| serde_json::to_string(s).unwrap_or_default();
    format!(
        "{{\"Body\":{},\"EnvironmentName\":{},\"TimeStamp\":{t}}}",
        string(&body),
        string(env)
    )
    .into_bytes()
}

/// What Hygraph's sender attaches: `gcms-signature: sign=<b64>, env=master, t=<ms>`.
pub fn sign(mac: &PreparedMac, req: &Request<'_>, timestamp: &str) -> Vec<(String, String)> {
    use base64::Engine;
    let t = js_parse_int(timestamp).unwrap_or(0);
    let tag = mac.compute(&[signed_json(req.body, DEFAULT_ENV, t)]);
    let sign = base64::engine::general_purpose::STANDARD.encode(tag.as_bytes());
    vec![(
        HEADER.to_owned(),
        format!("sign={sign}, env={DEFAULT_ENV}, t={t}"),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_embedded_as_json_stringify_writes_it() {
        let json = signed_json(b"{\"a\":\"x\\\"y\"}\n\t\x01/\xe2\x80\xa8", "master", 12);
        assert_eq!(
            String::from_utf8(json).expect("utf8"),
            "{\"Body\":\"{\\\"a\\\":\\\"x\\\\\\\"y\\\"}\\n\\t\\u0001/\u{2028}\",\"EnvironmentName\":\"master\",\"TimeStamp\":12}"
        );
    }

    #[test]
    fn prefixes_are_removed_as_javascript_replace_removes_them() {
        assert_eq!(remove_first("sign=abc", "sign="), "abc");
        assert_eq!(remove_first("abc", "sign="), "abc");
        assert_eq!(remove_first("xsign=abc", "sign="), "xabc");
    }
}
