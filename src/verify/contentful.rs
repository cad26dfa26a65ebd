//! Contentful's request verification, as `verifyRequest` in contentful/node-apps-toolkit
//! (`src/requests/verify-request.ts`, `sign-request.ts`, `utils.ts`) performs it: HMAC-SHA256,
//! lowercase hex, over
//! `{METHOD}\n{path}\n{name:value;name:value...}\n{body}` where the headers are the ones
//! `x-contentful-signed-headers` names that the request carries, plus the timestamp and the
//! signed-headers list itself (both rebuilt, not taken as sent), sorted by name; the path is
//! re-encoded as the toolkit encodes it. `x-contentful-timestamp` is in milliseconds; the
//! toolkit's default time to live is 30 s (the row's `tolerance`).

use std::borrow::Cow;
use std::collections::BTreeMap;

use http::HeaderName;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::verify::claim::{js_parse_int, Claim, Request, Stamp};
use crate::verify::extract;
use crate::verify::mac::PreparedMac;
use crate::verify::reason::Reason;

/// The signature header.
pub const SIGNATURE: &str = "x-contentful-signature";
/// The signing time, Unix milliseconds.
pub const TIMESTAMP: &str = "x-contentful-timestamp";
/// The comma-separated names of the signed headers.
pub const SIGNED_HEADERS: &str = "x-contentful-signed-headers";

/// The methods the toolkit accepts in a canonical request.
const METHODS: [&str; 7] = ["GET", "PATCH", "HEAD", "POST", "DELETE", "OPTIONS", "PUT"];
/// The toolkit refuses timestamps before 2020-01-01.
const EARLIEST_MS: i64 = 1_577_836_800_000;

/// What Node's `querystring.escape` leaves as it is.
const QUERY_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');
/// What JavaScript's `encodeURI` leaves as it is.
const ENCODE_URI: &AsciiSet = &QUERY_ESCAPE
    .remove(b';')
    .remove(b',')
    .remove(b'/')
    .remove(b'?')
    .remove(b':')
    .remove(b'@')
    .remove(b'&')
    .remove(b'=')
    .remove(b'+')
    .remove(b'$')
    .remove(b'#');

/// The one claim a Contentful request makes.
pub fn claims<'a>(req: &Request<'a>) -> Result<Vec<Claim<'a>>, Reason> {
    let header =
        |name: &'static str| extract::required(req.headers, &HeaderName::from_static(name));
    let signature = header(SIGNATURE)?;
    let ts = js_parse_int(header(TIMESTAMP)?)
        .filter(|ts| *ts > EARLIEST_MS)
        .ok_or(Reason::Malformed)?;
    let listed: Vec<&str> = header(SIGNED_HEADERS)?.split(',').collect();
    if signature.len() != 64 || listed.len() < 2 || !METHODS.contains(&req.method) {
        return Err(Reason::Malformed);
    }
    let mut picked = BTreeMap::new();
    for name in listed {
        // The toolkit compares the listed names, untrimmed, with lowercased header names.
        let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        if header.as_str() != name {
            continue;
        }
        if let Some(value) = extract::single(req.headers, &header)? {
            let value = std::str::from_utf8(value).map_err(|_| Reason::Malformed)?;
            picked.insert(name.to_owned(), value.to_owned());
        }
    }
    let mut claim = Claim::new(canonical(req, picked, ts), vec![signature]);
    claim.stamp = Some(Stamp::Millis(ts));
    Ok(vec![claim])
}

/// The canonical request: the picked headers plus the rebuilt timestamp and signed-headers
/// list, sorted by name.
fn canonical<'a>(
    req: &Request<'a>,
    mut headers: BTreeMap<String, String>,
    ts: i64,
) -> Vec<Cow<'a, [u8]>> {
    headers.insert(TIMESTAMP.to_owned(), ts.to_string());
    headers.insert(SIGNED_HEADERS.to_owned(), String::new());
    let names: Vec<&str> = headers.keys().map(String::as_str).collect();
    let list = names.join(",");
    headers.insert(SIGNED_HEADERS.to_owned(), list);
    let line: Vec<String> = headers.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    let head = format!(
        "{}\n{}\n{}\n",
        req.method,
        normalized_path(req.path),
        line.join(";")
    );
    vec![Cow::Owned(head.into_bytes()), Cow::Borrowed(req.body)]
}

/// The toolkit's `getNormalizedEncodedURI`: the part after the first `?` (up to a second `?`,
/// where the rest is dropped) escaped as a query string, then the whole encoded as `encodeURI`
/// does, so `%` and escaped query characters are encoded twice.
fn normalized_path(target: &str) -> String {
    let mut pieces = target.split('?');
    let path = pieces.next().unwrap_or("");
    let query = utf8_percent_encode(pieces.next().unwrap_or(""), QUERY_ESCAPE).to_string();
    let joined = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    utf8_percent_encode(&joined, ENCODE_URI).to_string()
}

/// What `signRequest` attaches: the signature, the signed-headers list and the timestamp (ms).
pub fn sign(mac: &PreparedMac, req: &Request<'_>, timestamp: &str) -> Vec<(String, String)> {
    let ts = js_parse_int(timestamp).unwrap_or(0);
    let parts = canonical(req, BTreeMap::new(), ts);
    vec![
        (
            "X-Contentful-Signature".into(),
            hex::encode(mac.compute(&parts).as_bytes()),
        ),
        (
            "X-Contentful-Signed-Headers".into(),
            format!("{SIGNED_HEADERS},{TIMESTAMP}"),
        ),
        ("X-Contentful-Timestamp".into(), ts.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_encoded_as_the_toolkit_encodes_it() {
        assert_eq!(
            normalized_path("/webhooks/contentful"),
            "/webhooks/contentful"
        );
        assert_eq!(
            normalized_path("/webhooks/contentful?source=cms&env=master"),
            "/webhooks/contentful?source%253Dcms%2526env%253Dmaster"
        );
        assert_eq!(normalized_path("/a%20b"), "/a%2520b");
        assert_eq!(normalized_path("/a?"), "/a");
        assert_eq!(normalized_path("/a?x=1?y=2"), "/a?x%253D1");
        assert_eq!(normalized_path("/a?q=(ok)*!~"), "/a?q%253D(ok)*!~");
        assert_eq!(normalized_path("/[x]"), "/%5Bx%5D");
    }
}
