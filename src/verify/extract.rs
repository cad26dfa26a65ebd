//! Reading signatures, timestamps, ids and keys out of request headers, by the common rules:
//! names case-insensitive, surrounding whitespace ignored, a header that arrives on more than
//! one line rejected (joining lines would change how comma-separated values parse).

use base64::Engine;
use http::{HeaderMap, HeaderName};

use crate::verify::reason::Reason;
use crate::verify::scheme::{PrefixRule, SigFormat, SigSpec};

/// What an HMAC scheme found in the headers, still encoded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Extracted<'a> {
    /// Every presented signature, prefix stripped.
    pub signatures: Vec<&'a str>,
    /// The timestamp, when the scheme has one.
    pub timestamp: Option<&'a str>,
    /// The message id (Standard Webhooks).
    pub id: Option<&'a str>,
}

/// The value of a header that must arrive on at most one line, whitespace-trimmed.
pub fn single<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<Option<&'a [u8]>, Reason> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Reason::Malformed);
    }
    Ok(Some(first.as_bytes().trim_ascii()))
}

/// Like [`single`], but the header must be present and UTF-8.
pub fn required<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<&'a str, Reason> {
    let bytes = single(headers, name)?.ok_or(Reason::Missing)?;
    std::str::from_utf8(bytes).map_err(|_| Reason::Malformed)
}

/// Signatures, timestamp and id for a signature scheme.
pub fn signatures<'a>(spec: &SigSpec, headers: &'a HeaderMap) -> Result<Extracted<'a>, Reason> {
    let mut found = match &spec.sig {
        SigFormat::List {
            headers: names,
            separator,
            prefix,
            prefix_rule,
        } => {
            let mut found = Extracted::default();
            let mut any = false;
            for name in names {
                let Some(value) = single(headers, name)? else {
                    continue;
                };
                any = true;
                let value = std::str::from_utf8(value).map_err(|_| Reason::Malformed)?;
                let sep = separator.as_deref();
                found
                    .signatures
                    .extend(split_list(value, sep, prefix.as_deref(), *prefix_rule));
            }
            if !any {
                return Err(Reason::Missing);
            }
            found
        }
        SigFormat::KeyValue {
            header,
            pairs,
            assign,
            timestamp_key,
            signature_keys,
            ..
        } => key_value(
            required(headers, header)?,
            pairs,
            assign,
            timestamp_key.as_deref(),
            signature_keys,
        )?,
        SigFormat::StandardWebhooks { version, .. } => standard_webhooks(headers, version)?,
        // A provider mechanism reads its own headers (`verify::mechanism`), never through here.
        SigFormat::Mechanism(_) => return Err(Reason::Malformed),
    };
    headers_beside(spec, headers, &mut found)?;
    if found.signatures.is_empty() {
        return Err(Reason::Malformed);
    }
    Ok(found)
}

/// Every signed set the headers carry: one, except for a key-value header split into `groups`
/// (Persona's `t=..,v1=.. t=..,v1=..` during rotation), where each set has its own timestamp.
/// A set that does not parse rejects the header, as one that stands alone would.
pub fn groups<'a>(spec: &SigSpec, headers: &'a HeaderMap) -> Result<Vec<Extracted<'a>>, Reason> {
    let SigFormat::KeyValue {
        header,
        pairs,
        assign,
        timestamp_key,
        signature_keys,
        groups: Some(separator),
    } = &spec.sig
    else {
        return Ok(vec![signatures(spec, headers)?]);
    };
    let mut sets = Vec::new();
    for set in required(headers, header)?.split(separator.as_str()) {
        let set = set.trim();
        if set.is_empty() {
            continue;
        }
        let mut found = key_value(set, pairs, assign, timestamp_key.as_deref(), signature_keys)?;
        headers_beside(spec, headers, &mut found)?;
        sets.push(found);
    }
    if sets.iter().all(|found| found.signatures.is_empty()) {
        return Err(Reason::Malformed);
    }
    Ok(sets)
}

/// The timestamp and id headers a scheme reads beside its signatures.
fn headers_beside<'a>(
    spec: &SigSpec,
    headers: &'a HeaderMap,
    found: &mut Extracted<'a>,
) -> Result<(), Reason> {
    if let Some(name) = spec.timestamp.as_ref().and_then(|ts| ts.header.as_ref()) {
        found.timestamp = Some(required(headers, name)?);
    }
    if let Some(name) = &spec.id_header {
        found.id = Some(required(headers, name)?);
    }
    Ok(())
}

fn split_list<'a>(
    value: &'a str,
    separator: Option<&str>,
    prefix: Option<&str>,
    rule: PrefixRule,
) -> Vec<&'a str> {
    let items: Vec<&str> = match separator {
        Some(sep) => value.split(sep).map(str::trim).collect(),
        None => vec![value],
    };
    items
        .into_iter()
        .enumerate()
        .filter(|(_, item)| !item.is_empty())
        .filter_map(|(i, item)| {
            let Some(prefix) = prefix else {
                return Some(item);
            };
            let must = match rule {
                PrefixRule::Required => true,
                PrefixRule::Optional => false,
                PrefixRule::FirstRequired => i == 0,
            };
            match item.strip_prefix(prefix) {
                Some(stripped) => Some(stripped.trim()),
                None if must => None,
                None => Some(item),
            }
        })
        .collect()
}

/// `t=<ts>,v1=<sig>[,v1=<sig>...]` (Stripe) and its kin (`ts=..;h1=..`): exactly one
/// timestamp when the scheme has one, every signature under a signature key; other keys are
/// ignored; a pair without `assign` is malformed.
fn key_value<'a>(
    value: &'a str,
    pairs: &str,
    assign: &str,
    timestamp_key: Option<&str>,
    signature_keys: &[String],
) -> Result<Extracted<'a>, Reason> {
    let mut found = Extracted::default();
    for item in value.split(pairs) {
        let (key, val) = item.split_once(assign).ok_or(Reason::Malformed)?;
        let key = key.trim();
        if Some(key) == timestamp_key {
            if found.timestamp.is_some() {
                return Err(Reason::Malformed);
            }
            found.timestamp = Some(val.trim());
        } else if signature_keys.iter().any(|k| k == key) {
            found.signatures.push(val.trim());
        }
    }
    if timestamp_key.is_some() && found.timestamp.is_none() {
        return Err(Reason::Malformed);
    }
    Ok(found)
}

/// `webhook-*` headers, or the `svix-*` ones when no `webhook-*` header is present; the
/// signatures of `version` from the space-separated list (possibly none: a public-key check
/// reads its `v1a` and `v1` entries separately).
pub fn standard_webhooks<'a>(
    headers: &'a HeaderMap,
    version: &str,
) -> Result<Extracted<'a>, Reason> {
    let names = if headers.contains_key("webhook-signature")
        || headers.contains_key("webhook-id")
        || headers.contains_key("webhook-timestamp")
    {
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
    } else {
        ["svix-id", "svix-timestamp", "svix-signature"]
    };
    let [id, ts, sig] = names.map(HeaderName::from_static);
    let signature = required(headers, &sig)?;
    let found = Extracted {
        id: Some(required(headers, &id)?),
        timestamp: Some(required(headers, &ts)?),
        signatures: signature
            .split_ascii_whitespace()
            .filter_map(|entry| entry.split_once(','))
            .filter(|(v, _)| *v == version)
            .map(|(_, sig)| sig)
            .collect(),
    };
    Ok(found)
}

/// The key an `api-key` check compares: the header value, or the token after `Bearer `.
pub fn api_key<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
    bearer: bool,
) -> Result<&'a [u8], Reason> {
    let value = single(headers, name)?.ok_or(Reason::Missing)?;
    if !bearer {
        return Ok(value);
    }
    auth_param(value, b"bearer").ok_or(Reason::Malformed)
}

/// The decoded `user:password` of `Authorization: Basic ...`.
pub fn basic(headers: &HeaderMap) -> Result<Vec<u8>, Reason> {
    let value = single(headers, &http::header::AUTHORIZATION)?.ok_or(Reason::Missing)?;
    let encoded = auth_param(value, b"basic").ok_or(Reason::Malformed)?;
    base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| Reason::Malformed)
}

/// The credentials after an auth scheme word (case-insensitive) and a space.
fn auth_param<'a>(value: &'a [u8], scheme: &[u8]) -> Option<&'a [u8]> {
    let (word, rest) = value.split_at_checked(scheme.len())?;
    if !word.eq_ignore_ascii_case(scheme) || !rest.first()?.is_ascii_whitespace() {
        return None;
    }
    Some(rest.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expedia_list_takes_prefixed_first_and_bare_second() {
        let sigs = split_list(
            "sha256=AAA, BBB",
            Some(","),
            Some("sha256="),
            PrefixRule::FirstRequired,
        );
        assert_eq!(sigs, vec!["AAA", "BBB"]);
        let sigs = split_list(
            "AAA,sha256=BBB",
            Some(","),
            Some("sha256="),
            PrefixRule::FirstRequired,
        );
        assert_eq!(sigs, vec!["BBB"]);
    }

    #[test]
    fn stripe_header_parses_every_v1_and_one_t() {
        let stripe = |v| key_value(v, ",", "=", Some("t"), &["v1".to_owned()]);
        let found = stripe("t=12,v1=aa,v0=zz,v1=bb").expect("valid");
        assert_eq!(found.timestamp, Some("12"));
        assert_eq!(found.signatures, vec!["aa", "bb"]);
        assert_eq!(stripe("t=1,t=2,v1=aa"), Err(Reason::Malformed));
        assert_eq!(stripe("v1=aa"), Err(Reason::Malformed));
        assert_eq!(stripe("garbage"), Err(Reason::Malformed));
        let paddle = key_value("ts=5;h1=ab;h1=cd", ";", "=", Some("ts"), &["h1".to_owned()]);
        assert_eq!(paddle.map(|f| f.signatures), Ok(vec!["ab", "cd"]));
    }

    #[test]
    fn key_value_groups_are_read_as_separate_signed_sets() {
        use crate::verify::scheme::{build, Fields};
        let fields = Fields {
            headers: vec!["persona-signature"],
            format: Some("key-value"),
            separator: Some(" "),
            timestamp_key: Some("t"),
            signature_key: Some("v1"),
            payload: Some("{timestamp}.{body}"),
            ..Fields::default()
        };
        let spec = build(&fields, crate::verify::catalogue::ROW_DEFAULTS).expect("valid");
        let sets = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert("persona-signature", value.parse().expect("static"));
            groups(&spec, &headers).map(|sets| {
                sets.into_iter()
                    .map(|f| {
                        let sigs: Vec<String> =
                            f.signatures.iter().map(|s| s.to_string()).collect();
                        (f.timestamp.map(str::to_owned), sigs)
                    })
                    .collect::<Vec<_>>()
            })
        };
        let set = |t: &str, sig: &str| (Some(t.to_owned()), vec![sig.to_owned()]);
        assert_eq!(
            sets("t=1,v1=aa  t=2,v1=bb"),
            Ok(vec![set("1", "aa"), set("2", "bb")])
        );
        assert_eq!(sets("t=1,v1=aa"), Ok(vec![set("1", "aa")]));
        assert_eq!(sets("t=1,v1=aa v1=bb"), Err(Reason::Malformed));
        assert_eq!(sets("t=1 t=2"), Err(Reason::Malformed));
        // Without `groups`, the same header is one set whose space-joined values mislead.
        let mut one = spec.clone();
        if let SigFormat::KeyValue { groups, .. } = &mut one.sig {
            *groups = None;
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            "persona-signature",
            "t=1,v1=aa t=2,v1=bb".parse().expect("static"),
        );
        assert_eq!(groups(&one, &headers).map(|s| s.len()), Ok(1));
    }

    #[test]
    fn a_header_on_two_lines_is_malformed() {
        let mut headers = HeaderMap::new();
        let name = HeaderName::from_static("x-sig");
        headers.append(&name, "a".parse().expect("static"));
        assert_eq!(single(&headers, &name), Ok(Some(&b"a"[..])));
        headers.append(&name, "b".parse().expect("static"));
        assert_eq!(single(&headers, &name), Err(Reason::Malformed));
    }

    #[test]
    fn bearer_and_basic_words_are_case_insensitive() {
        assert_eq!(auth_param(b"bearer  tok", b"bearer"), Some(&b"tok"[..]));
        assert_eq!(auth_param(b"Bearertok", b"bearer"), None);
        assert_eq!(auth_param(b"Token tok", b"bearer"), None);
    }
}
