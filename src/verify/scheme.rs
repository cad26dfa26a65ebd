//! Signature schemes as data: which headers carry what, which bytes are signed, which MAC and
//! encoding. Every catalogue row and every generic `hmac` check becomes one [`SigSpec`] through
//! [`build`], over the one engine in `check.rs`.

use http::HeaderName;

use crate::verify::mac::Algorithm;

/// How a signature string becomes bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Lowercase hex only, as the providers' SDKs compare.
    HexLower,
    /// Hex in either case (generic `hmac`).
    Hex,
    /// Standard base64 with padding.
    Base64,
    /// URL-safe base64, padding optional.
    Base64Url,
}

impl Encoding {
    /// Parses a row's or a config's spelling; `hex` means lowercase-only when `strict_hex`.
    pub fn parse(name: &str, strict_hex: bool) -> Option<Self> {
        Some(match name {
            "hex" if strict_hex => Encoding::HexLower,
            "hex" | "hex-any" => Encoding::Hex,
            "base64" => Encoding::Base64,
            "base64url" => Encoding::Base64Url,
            _ => return None,
        })
    }
}

/// One piece of the signed bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Fixed bytes from the template.
    Lit(Vec<u8>),
    /// The raw body.
    Body,
    /// The timestamp, as sent.
    Timestamp,
    /// The message id (the `id_header`'s value, or Standard Webhooks' `webhook-id`).
    Id,
    /// The request method.
    Method,
    /// The path and query, as sent.
    Path,
    /// The route's `public_url` followed by the path and query as sent.
    Url,
    /// Another header's value (empty when absent).
    Header(HeaderName),
}

/// Where the signatures are and how they are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SigFormat {
    /// Signatures in one or more headers (every listed header present contributes); each
    /// value optionally split on `separator`; each signature may carry `prefix`.
    List {
        /// The headers carrying signatures.
        headers: Vec<HeaderName>,
        /// Splits several signatures; `None` means one per header.
        separator: Option<String>,
        /// Stripped from each signature (where present).
        prefix: Option<String>,
        /// Whether the prefix must be there.
        prefix_rule: PrefixRule,
    },
    /// Stripe-like `t=<ts>,v1=<sig>[,v1=<sig>...]`: timestamp and signatures in one header.
    KeyValue {
        /// The header.
        header: HeaderName,
        /// Separates the pairs (`,` for Stripe, `;` for Paddle).
        pairs: String,
        /// Separates key from value (`=`).
        assign: String,
        /// The timestamp's key, when the header carries one.
        timestamp_key: Option<String>,
        /// The signatures' keys.
        signature_keys: Vec<String>,
        /// Splits the header into several sets, each with its own timestamp and signatures
        /// (Persona's space-separated sets during rotation); `None` means one set.
        groups: Option<String>,
    },
    /// Standard Webhooks: `v1,<b64>[ v1,<b64>...]` in `webhook-signature` or `svix-signature`,
    /// with the id and timestamp in the matching `-id` and `-timestamp` headers.
    StandardWebhooks {
        /// The signature version this check verifies (`v1`).
        version: String,
        /// Whether a sender writes the `svix-` names (Svix's SDK reads those).
        svix_names: bool,
    },
    /// A provider's own format, read by its own module (see [`Mechanism`]).
    Mechanism(Mechanism),
}

/// The providers whose signed bytes or signature header no row of data can describe. Each
/// is a module of the pure core that rebuilds the signed bytes into claims
/// (`verify::mechanism`); the comparison stays with the generic engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// Hook0, the sender behind Coinbase CDP: `t=`, `h=` (covered headers), `v1=`.
    Hook0,
    /// Contentful: a canonical request over the headers it names, method, path and body.
    Contentful,
    /// Hygraph (GraphCMS): the body as a JSON string inside a JSON object with env and time.
    Graphcms,
    /// Recurly: `<timestamp ms>,<sig>[,<sig>...]`.
    Recurly,
    /// Linear: the freshness time is the body's `webhookTimestamp`, else a header.
    Linear,
    /// Pusher Channels: the freshness time is the body's `time_ms`; the key header picks the app.
    Pusher,
    /// Worldpay: `{keyId}/{hashFunction}/{signature}` entries.
    Worldpay,
}

/// Whether a signature prefix must be present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrefixRule {
    /// Every signature carries it.
    Required,
    /// Stripped where present.
    Optional,
    /// The first signature carries it; later ones may not (Expedia during rotation).
    FirstRequired,
}

/// How a timestamp is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsUnit {
    /// Unix seconds.
    Seconds,
    /// Unix milliseconds.
    Millis,
    /// Milliseconds when 13 or more digits, else seconds.
    Auto,
    /// An RFC 3339 instant.
    Rfc3339,
}

/// Where the timestamp comes from and how it is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampSpec {
    /// The header, or `None` when the signature format carries it.
    pub header: Option<HeaderName>,
    /// How it is written.
    pub unit: TsUnit,
}

/// A complete signature scheme: a catalogue row, or a generic `hmac` check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigSpec {
    /// The hash under the HMAC.
    pub algorithm: Algorithm,
    /// How signatures are encoded.
    pub encoding: Encoding,
    /// Where signatures are.
    pub sig: SigFormat,
    /// Present for timestamped schemes: enables the tolerance check.
    pub timestamp: Option<TimestampSpec>,
    /// The header `{id}` stands for (Standard Webhooks reads its own).
    pub id_header: Option<HeaderName>,
    /// The signed bytes, in order. For a [`SigFormat::Mechanism`] the module rebuilds them
    /// in the provider's own form; this then lists the parts it covers, for [`SigSpec::signs`].
    pub payload: Vec<Part>,
    /// What `{url}` starts with: the route's `public_url` (scheme, host and port the sender
    /// called), set when the config is compiled; empty when the route has none.
    pub public_url: String,
}

impl SigSpec {
    /// Whether the signed bytes include the body.
    pub fn signs(&self, part: &Part) -> bool {
        self.payload.contains(part)
    }
}

/// A scheme's fields as written in a catalogue row or a generic `hmac` check, before they are
/// checked against each other.
#[derive(Clone, Debug, Default)]
pub struct Fields<'a> {
    /// `sha1`, `sha256` (default), `sha512`.
    pub algorithm: Option<&'a str>,
    /// The signature headers.
    pub headers: Vec<&'a str>,
    /// Stripped from each signature.
    pub prefix: Option<&'a str>,
    /// `required`, `optional`, `first`.
    pub prefix_rule: Option<&'a str>,
    /// Splits several signatures (`list`), or several signed sets (`key-value`).
    pub separator: Option<&'a str>,
    /// `list` (default) or `key-value`.
    pub format: Option<&'a str>,
    /// Key-value: between pairs.
    pub pairs: Option<&'a str>,
    /// Key-value: between key and value.
    pub assign: Option<&'a str>,
    /// Key-value: the timestamp's key.
    pub timestamp_key: Option<&'a str>,
    /// Key-value: the signatures' key.
    pub signature_key: Option<&'a str>,
    /// The timestamp header.
    pub timestamp_header: Option<&'a str>,
    /// `s`, `ms`, `auto`, `rfc3339`.
    pub timestamp_unit: Option<&'a str>,
    /// The header `{id}` stands for.
    pub id_header: Option<&'a str>,
    /// The payload template.
    pub payload: Option<&'a str>,
    /// Signature encoding.
    pub encoding: Option<&'a str>,
}

/// The defaults that differ between catalogue rows and generic `hmac` checks.
#[derive(Clone, Copy, Debug)]
pub struct Defaults {
    /// Rows: `hex` is lowercase-only, as the SDKs compare; generic `hmac`: either case.
    pub strict_hex: bool,
    /// Rows: a prefix is required; generic `hmac`: stripped where present.
    pub prefix_rule: PrefixRule,
    /// Rows: seconds; generic `hmac`: seconds or milliseconds.
    pub timestamp_unit: TsUnit,
}

/// Checks a scheme's fields against each other and builds its [`SigSpec`].
pub fn build(f: &Fields<'_>, d: Defaults) -> Result<SigSpec, String> {
    let algorithm_name = f.algorithm.unwrap_or("sha256");
    let algorithm = Algorithm::parse(algorithm_name).ok_or_else(|| {
        format!("`algorithm` must be sha1, sha256 or sha512, not `{algorithm_name}`")
    })?;
    let encoding_name = f.encoding.unwrap_or("hex");
    let encoding = Encoding::parse(encoding_name, d.strict_hex).ok_or_else(|| {
        format!("`encoding` must be hex, base64 or base64url, not `{encoding_name}`")
    })?;
    for (key, value) in [
        ("separator", f.separator),
        ("prefix", f.prefix),
        ("pairs", f.pairs),
        ("assign", f.assign),
    ] {
        if value == Some("") {
            return Err(format!("`{key}` is empty"));
        }
    }
    let payload = parse_template(f.payload.unwrap_or("{body}"))?;
    let sig = sig_format(f, d)?;
    let in_header = matches!(
        &sig,
        SigFormat::KeyValue {
            timestamp_key: Some(_),
            ..
        }
    );
    let timestamp = timestamp(f, d, in_header)?;
    if timestamp.is_none() && payload.contains(&Part::Timestamp) {
        return Err("`payload` uses {timestamp} but no `timestamp_header` is set".into());
    }
    if timestamp.is_some() && !payload.contains(&Part::Timestamp) {
        return Err("`timestamp_header` is set but `payload` does not sign {timestamp}: a captured delivery could be replayed with a fresh timestamp; add {timestamp} to `payload`".into());
    }
    let id_header = f.id_header.map(header_name).transpose()?;
    if id_header.is_none() && payload.contains(&Part::Id) {
        return Err("`payload` uses {id} but no `id_header` is set".into());
    }
    Ok(SigSpec {
        algorithm,
        encoding,
        sig,
        timestamp,
        id_header,
        payload,
        public_url: String::new(),
    })
}

fn sig_format(f: &Fields<'_>, d: Defaults) -> Result<SigFormat, String> {
    let headers = f
        .headers
        .iter()
        .map(|h| header_name(h))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(first) = headers.first().cloned() else {
        return Err("`header` is required".into());
    };
    match f.format.unwrap_or("list") {
        "list" => {
            let prefix_rule = match f.prefix_rule {
                None => d.prefix_rule,
                Some("required") => PrefixRule::Required,
                Some("optional") => PrefixRule::Optional,
                Some("first") => PrefixRule::FirstRequired,
                Some(other) => {
                    return Err(format!(
                        "`prefix_rule` must be required, optional or first, not `{other}`"
                    ))
                }
            };
            Ok(SigFormat::List {
                headers,
                separator: f.separator.map(str::to_owned),
                prefix: f.prefix.map(str::to_owned),
                prefix_rule,
            })
        }
        "key-value" => {
            let signature_key = f
                .signature_key
                .ok_or("`format: key-value` needs `signature_key`")?;
            Ok(SigFormat::KeyValue {
                header: first,
                pairs: f.pairs.unwrap_or(",").to_owned(),
                assign: f.assign.unwrap_or("=").to_owned(),
                timestamp_key: f.timestamp_key.map(str::to_owned),
                signature_keys: vec![signature_key.to_owned()],
                groups: f.separator.map(str::to_owned),
            })
        }
        other => Err(format!("`format` must be list or key-value, not `{other}`")),
    }
}

fn timestamp(
    f: &Fields<'_>,
    d: Defaults,
    in_header: bool,
) -> Result<Option<TimestampSpec>, String> {
    let unit = match f.timestamp_unit {
        None => d.timestamp_unit,
        Some("s") => TsUnit::Seconds,
        Some("ms") => TsUnit::Millis,
        Some("auto") => TsUnit::Auto,
        Some("rfc3339") => TsUnit::Rfc3339,
        Some(other) => {
            return Err(format!(
                "`timestamp_unit` must be s, ms, auto or rfc3339, not `{other}`"
            ))
        }
    };
    Ok(match (f.timestamp_header, in_header) {
        (Some(_), true) => {
            return Err(
                "the signature header carries the timestamp: drop `timestamp_header`".into(),
            )
        }
        (Some(h), false) => Some(TimestampSpec {
            header: Some(header_name(h)?),
            unit,
        }),
        (None, true) => Some(TimestampSpec { header: None, unit }),
        (None, false) => None,
    })
}

/// A header name from a row or a config.
pub fn header_name(s: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(s.trim().as_bytes())
        .map_err(|_| format!("`{s}` is not a valid header name"))
}

/// Parses a payload template such as `{timestamp}.{body}`.
pub fn parse_template(template: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Part::Lit(rest.as_bytes()[..open].to_vec()));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("payload template `{template}` has an unclosed `{{`"))?;
        parts.push(placeholder(&after[..close])?);
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Lit(rest.as_bytes().to_vec()));
    }
    Ok(parts)
}

fn placeholder(name: &str) -> Result<Part, String> {
    Ok(match name {
        "body" => Part::Body,
        "timestamp" => Part::Timestamp,
        "id" => Part::Id,
        "method" => Part::Method,
        "path" => Part::Path,
        "url" => Part::Url,
        other => match other.strip_prefix("header:") {
            Some(h) => Part::Header(
                HeaderName::from_bytes(h.trim().as_bytes())
                    .map_err(|_| format!("`{{header:{h}}}` is not a valid header name"))?,
            ),
            None => {
                return Err(format!(
                    "unknown placeholder `{{{other}}}`; use {{body}}, {{timestamp}}, {{id}}, {{method}}, {{path}}, {{url}} or {{header:NAME}}"
                ))
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROW: Defaults = Defaults {
        strict_hex: true,
        prefix_rule: PrefixRule::Required,
        timestamp_unit: TsUnit::Seconds,
    };

    #[test]
    fn template_parses_literals_and_placeholders() {
        let parts = parse_template("v0:{timestamp}:{body}").expect("valid");
        assert_eq!(
            parts,
            vec![
                Part::Lit(b"v0:".to_vec()),
                Part::Timestamp,
                Part::Lit(b":".to_vec()),
                Part::Body
            ]
        );
        let parts = parse_template("{method} {path}\n{header:X-Id}{url}").expect("valid");
        assert_eq!(parts[4], Part::Header(HeaderName::from_static("x-id")));
        assert_eq!(parts[5], Part::Url);
    }

    #[test]
    fn template_rejects_unknown_and_unclosed_placeholders() {
        assert!(parse_template("{bdy}")
            .unwrap_err()
            .contains("unknown placeholder"));
        assert!(parse_template("{body").unwrap_err().contains("unclosed"));
        assert!(parse_template("{header:bad name}").is_err());
    }

    #[test]
    fn key_value_format_takes_the_timestamp_from_its_header() {
        let f = Fields {
            headers: vec!["paddle-signature"],
            format: Some("key-value"),
            pairs: Some(";"),
            timestamp_key: Some("ts"),
            signature_key: Some("h1"),
            payload: Some("{timestamp}:{body}"),
            ..Fields::default()
        };
        let spec = build(&f, ROW).expect("valid");
        assert_eq!(spec.timestamp.and_then(|t| t.header), None);
        let mut bad = f.clone();
        bad.timestamp_header = Some("x-ts");
        assert!(build(&bad, ROW).is_err());
    }

    #[test]
    fn a_timestamp_that_is_not_signed_is_refused() {
        let f = Fields {
            headers: vec!["x-sig"],
            timestamp_header: Some("x-ts"),
            ..Fields::default()
        };
        assert!(build(&f, ROW).unwrap_err().contains("replayed"));
        let f = Fields {
            headers: vec!["x-sig"],
            payload: Some("{id}{body}"),
            ..Fields::default()
        };
        assert!(build(&f, ROW).unwrap_err().contains("id_header"));
    }
}
