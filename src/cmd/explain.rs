//! What `hookguard verify` says about a check that failed: which headers the scheme reads and
//! what it expects of each, and what the captured delivery carried in them. Never a secret:
//! only header names, whether they were present, and the shape of what was expected.

use http::{HeaderMap, HeaderName};

use crate::verify::mac::Algorithm;
use crate::verify::pubkey::KeyAlg;
use crate::verify::scheme::{Encoding, Part, PrefixRule, SigFormat, SigSpec, TsUnit};
use crate::verify::{Check, CheckKind, Reason};

/// One line for a reason.
pub fn reason_text(reason: Reason) -> &'static str {
    match reason {
        Reason::Missing => "a signature, timestamp, id or key header the scheme needs is absent",
        Reason::Malformed => "a header is present but unreadable (encoding, prefix, repeated line, timestamp)",
        Reason::Invalid => "no signature matches any secret active at this time (wrong secret, or body/timestamp/URL changed)",
        Reason::Stale => "the signed timestamp is outside the tolerance",
        Reason::NoActiveSecret => "no secret of this check is active at this time",
    }
}

/// Lines saying what `check` reads and expects, and what `headers` carried.
pub fn expectations(check: &Check, headers: &HeaderMap) -> Vec<String> {
    let mut out = Vec::new();
    let seen = |name: &HeaderName| match headers.get_all(name).iter().count() {
        0 => "absent".to_owned(),
        1 => "present".to_owned(),
        n => format!("on {n} lines (must be one)"),
    };
    match &check.kind {
        CheckKind::Hmac(spec) | CheckKind::PublicKey { spec, .. } => {
            let public = match &check.kind {
                CheckKind::PublicKey { alg, .. } => Some(*alg),
                _ => None,
            };
            for (name, what) in spec_headers(spec, public) {
                out.push(format!("header `{name}`: {what}; here {}", seen(&name)));
            }
            out.push(format!("signed bytes: {}", template(spec)));
        }
        CheckKind::ApiKey { header, bearer } => {
            let form = if *bearer { "`Bearer <key>`" } else { "the key" };
            out.push(format!(
                "header `{header}`: {form}, equal to an active secret; here {}",
                seen(header)
            ));
        }
        CheckKind::Basic => {
            let auth = http::header::AUTHORIZATION;
            out.push(format!("header `authorization`: `Basic base64(user:password)` equal to an active secret; here {}", seen(&auth)));
        }
        CheckKind::Token { header } => {
            out.push(format!(
                "header `{header}`: its whole value equal to an active secret; here {}",
                seen(header)
            ));
        }
        CheckKind::UrlSigned(spec) => {
            let (reads, signed) = spec.mechanism.reads();
            for (name, what) in reads {
                let here = seen(&HeaderName::from_static(name));
                out.push(format!("header `{name}`: {what}; here {here}"));
            }
            out.push(format!("signed bytes: {signed}"));
        }
        CheckKind::Embedded(mechanism) => {
            let (reads, signed) = mechanism.reads();
            for (field, what) in reads {
                out.push(format!("body field `{field}`: {what}"));
            }
            out.push(format!("signed bytes: {signed}"));
        }
        CheckKind::Fetched(f) => {
            for (name, what) in f.describe() {
                match name {
                    Some(name) => {
                        out.push(format!("header `{name}`: {what}; here {}", seen(&name)))
                    }
                    None => out.push(what),
                }
            }
        }
        CheckKind::ClientState => {
            out.push("body: JSON whose every `value[].clientState` equals an active secret".into());
        }
        CheckKind::Any(options) => {
            for (i, option) in options.iter().enumerate() {
                out.push(format!("option {} ({}):", i + 1, option.scheme));
                out.extend(
                    expectations(option, headers)
                        .into_iter()
                        .map(|l| format!("  {l}")),
                );
            }
        }
    }
    out
}

/// The headers a signature scheme reads, each with what it expects there.
fn spec_headers(spec: &SigSpec, public: Option<KeyAlg>) -> Vec<(HeaderName, String)> {
    let sig = signature_text(spec, public);
    let mut out = Vec::new();
    match &spec.sig {
        SigFormat::List {
            headers,
            separator,
            prefix,
            prefix_rule,
        } => {
            let prefix = match (prefix, prefix_rule) {
                (Some(p), PrefixRule::Required) => format!("`{p}` then "),
                (Some(p), PrefixRule::Optional) => format!("optionally `{p}` then "),
                (Some(p), PrefixRule::FirstRequired) => format!("`{p}` then (on the first) "),
                (None, _) => String::new(),
            };
            let several = separator
                .as_ref()
                .map(|s| format!(", several split on `{s}`"))
                .unwrap_or_default();
            for h in headers {
                out.push((h.clone(), format!("{prefix}{sig}{several}")));
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
            let ts = timestamp_key
                .as_ref()
                .map(|t| format!("{t}{assign}<timestamp>{pairs}"))
                .unwrap_or_default();
            let keys = signature_keys.join("|");
            out.push((
                header.clone(),
                format!("`{ts}{keys}{assign}<{sig}>` (several `{keys}` allowed)"),
            ));
        }
        SigFormat::StandardWebhooks { version, .. } => {
            for (name, what) in [
                ("webhook-id", "the message id".to_owned()),
                ("webhook-timestamp", "Unix seconds".to_owned()),
                (
                    "webhook-signature",
                    format!("`{version},<{sig}>`, several space-separated"),
                ),
            ] {
                out.push((
                    HeaderName::from_static(name),
                    format!("{what} (or the `svix-` name)"),
                ));
            }
        }
        // The provider's own format: its module reads the headers its docs name.
        SigFormat::Mechanism(_) => {}
    }
    if let Some(name) = spec.timestamp.as_ref().and_then(|t| t.header.clone()) {
        let unit = spec.timestamp.as_ref().map_or(TsUnit::Seconds, |t| t.unit);
        out.push((name, format!("the timestamp, {}", unit_text(unit))));
    }
    if let Some(name) = &spec.id_header {
        out.push((name.clone(), "the message id".to_owned()));
    }
    out
}

/// How a signature is written: its encoding and what makes it (an HMAC, or the sender's
/// private key for a public-key check).
fn signature_text(spec: &SigSpec, public: Option<KeyAlg>) -> String {
    let alg = match (public, spec.algorithm) {
        (Some(KeyAlg::Ed25519), _) => "Ed25519 signature",
        (Some(KeyAlg::EcdsaP256), _) => "ECDSA P-256 signature",
        (None, Algorithm::Sha1) => "HMAC-SHA1",
        (None, Algorithm::Sha256) => "HMAC-SHA256",
        (None, Algorithm::Sha512) => "HMAC-SHA512",
        (None, Algorithm::Sha256KeyPrefix) => "SHA-256 of secret and body",
    };
    let enc = match spec.encoding {
        Encoding::HexLower => "lowercase hex",
        Encoding::Hex => "hex",
        Encoding::Base64 => "padded base64",
        Encoding::Base64Url => "base64url",
    };
    format!("{enc} {alg}")
}

fn unit_text(unit: TsUnit) -> &'static str {
    match unit {
        TsUnit::Seconds => "Unix seconds",
        TsUnit::Millis => "Unix milliseconds",
        TsUnit::Auto => "Unix seconds or milliseconds",
        TsUnit::Rfc3339 => "RFC 3339",
    }
}

fn template(spec: &SigSpec) -> String {
    spec.payload
        .iter()
        .map(|p| match p {
            Part::Lit(bytes) => String::from_utf8_lossy(bytes).escape_default().to_string(),
            Part::Body => "{body}".into(),
            Part::Timestamp => "{timestamp}".into(),
            Part::Id => "{id}".into(),
            Part::Method => "{method}".into(),
            Part::Path => "{path}".into(),
            Part::Url => format!("{{url: {}<path and query>}}", spec.public_url),
            Part::Header(h) => format!("{{header:{h}}}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github() -> Check {
        let row = crate::verify::catalogue::find("github").expect("github row");
        Check {
            scheme: "github",
            kind: CheckKind::Hmac(row.spec().expect("spec")),
            secrets: Vec::new(),
            tolerance_ms: 0,
            delivery_id: Vec::new(),
            handshake: None,
        }
    }

    #[test]
    fn names_the_header_its_form_and_whether_it_was_there() {
        let lines = expectations(&github(), &HeaderMap::new());
        assert!(lines[0].contains("`x-hub-signature-256`"), "{lines:?}");
        assert!(
            lines[0].contains("`sha256=` then lowercase hex HMAC-SHA256"),
            "{lines:?}"
        );
        assert!(lines[0].ends_with("here absent"), "{lines:?}");
        assert_eq!(lines[1], "signed bytes: {body}");
        let mut twice = HeaderMap::new();
        twice.append("x-hub-signature-256", "a".parse().expect("value"));
        twice.append("x-hub-signature-256", "b".parse().expect("value"));
        assert!(expectations(&github(), &twice)[0].ends_with("on 2 lines (must be one)"));
    }

    #[test]
    fn a_public_key_check_is_explained_as_the_senders_signature_not_an_hmac() {
        let row = crate::verify::catalogue::find("discord").expect("discord row");
        let check = Check {
            kind: CheckKind::PublicKey {
                spec: row.spec().expect("spec"),
                alg: KeyAlg::Ed25519,
            },
            ..github()
        };
        let lines = expectations(&check, &HeaderMap::new());
        assert!(lines[0].contains("`x-signature-ed25519`"), "{lines:?}");
        assert!(lines[0].contains("hex Ed25519 signature"), "{lines:?}");
        assert!(!lines.iter().any(|l| l.contains("HMAC")), "{lines:?}");
    }
}
