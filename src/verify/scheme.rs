//! The signature schemes as data: which headers carry what, which bytes are signed, which MAC
//! and encoding. Every HMAC preset is one [`HmacSpec`] value over the one generic engine in
//! `verify.rs`; `api-key` and `basic` are plain key comparisons.

use http::HeaderName;

use crate::verify::mac::Algorithm;

/// A `scheme:` name from the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchemeName {
    /// Expedia Group notifications (`x-eg-notification-signature-v2`).
    Expedia,
    /// Stripe (`Stripe-Signature: t=..,v1=..`).
    Stripe,
    /// GitHub (`X-Hub-Signature-256`).
    Github,
    /// Standard Webhooks and Svix (`webhook-*` / `svix-*`).
    StandardWebhooks,
    /// Slack (`X-Slack-Signature: v0=..`).
    Slack,
    /// Shopify (`X-Shopify-Hmac-Sha256`).
    Shopify,
    /// Generic HMAC, configured field by field.
    Hmac,
    /// A static key in a header.
    ApiKey,
    /// HTTP Basic credentials.
    Basic,
}

impl SchemeName {
    /// Every accepted spelling, for error messages and `--help`.
    pub const NAMES: &'static [&'static str] = &[
        "expedia",
        "stripe",
        "github",
        "standard-webhooks",
        "svix",
        "slack",
        "shopify",
        "hmac",
        "api-key",
        "basic",
    ];

    /// Parses a config spelling (`svix` is an alias of `standard-webhooks`).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "expedia" => SchemeName::Expedia,
            "stripe" => SchemeName::Stripe,
            "github" => SchemeName::Github,
            "standard-webhooks" | "svix" => SchemeName::StandardWebhooks,
            "slack" => SchemeName::Slack,
            "shopify" => SchemeName::Shopify,
            "hmac" => SchemeName::Hmac,
            "api-key" => SchemeName::ApiKey,
            "basic" => SchemeName::Basic,
            _ => return None,
        })
    }

    /// The canonical config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SchemeName::Expedia => "expedia",
            SchemeName::Stripe => "stripe",
            SchemeName::Github => "github",
            SchemeName::StandardWebhooks => "standard-webhooks",
            SchemeName::Slack => "slack",
            SchemeName::Shopify => "shopify",
            SchemeName::Hmac => "hmac",
            SchemeName::ApiKey => "api-key",
            SchemeName::Basic => "basic",
        }
    }
}

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

/// One piece of the signed bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Fixed bytes from the template.
    Lit(Vec<u8>),
    /// The raw body.
    Body,
    /// The timestamp header's value, as sent.
    Timestamp,
    /// The message id header's value (Standard Webhooks).
    Id,
    /// The request method.
    Method,
    /// The path and query, as sent.
    Path,
    /// Another header's value (empty when absent).
    Header(HeaderName),
}

/// Where the signatures are and how they are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SigFormat {
    /// One header; optionally several signatures split on `separator`; each may carry
    /// `prefix`, which `prefix_rule` says is required, optional, or required on the first only.
    List {
        /// The header carrying the signatures.
        header: HeaderName,
        /// Splits several signatures; `None` means exactly one.
        separator: Option<String>,
        /// Stripped from each signature (where present).
        prefix: Option<String>,
        /// Whether the prefix must be there.
        prefix_rule: PrefixRule,
    },
    /// Stripe: `t=<unix>,v1=<hex>[,v1=<hex>...]`; the timestamp comes from the same header.
    Stripe,
    /// Standard Webhooks: `v1,<b64>[ v1,<b64>...]` in `webhook-signature` or `svix-signature`,
    /// with the id and timestamp in the matching `-id` and `-timestamp` headers.
    StandardWebhooks,
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

/// Where the timestamp comes from and how it is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimestampSpec {
    /// The header, or `None` when the signature format carries it (Stripe, Standard Webhooks).
    pub header: Option<HeaderName>,
    /// Whether 13 or more digits are read as milliseconds.
    pub millis: bool,
}

/// A complete HMAC scheme: the preset table row, or a generic `hmac` check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HmacSpec {
    /// The hash under the HMAC.
    pub algorithm: Algorithm,
    /// How signatures are encoded.
    pub encoding: Encoding,
    /// Where signatures are.
    pub sig: SigFormat,
    /// Present for timestamped schemes: enables the tolerance check.
    pub timestamp: Option<TimestampSpec>,
    /// The signed bytes, in order.
    pub payload: Vec<Part>,
}

fn header(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}

fn list(name: &'static str, prefix: Option<&str>, rule: PrefixRule) -> SigFormat {
    SigFormat::List {
        header: header(name),
        separator: None,
        prefix: prefix.map(str::to_owned),
        prefix_rule: rule,
    }
}

fn ts(name: Option<&'static str>, millis: bool) -> Option<TimestampSpec> {
    Some(TimestampSpec {
        header: name.map(header),
        millis,
    })
}

/// The HMAC preset for a scheme, or `None` for `hmac`, `api-key` and `basic`.
pub fn preset(scheme: SchemeName) -> Option<HmacSpec> {
    use Part::*;
    let dot = || Lit(b".".to_vec());
    let (encoding, sig, timestamp, payload) = match scheme {
        SchemeName::Expedia => (
            Encoding::Base64,
            SigFormat::List {
                header: header("x-eg-notification-signature-v2"),
                separator: Some(",".into()),
                prefix: Some("sha256=".into()),
                prefix_rule: PrefixRule::FirstRequired,
            },
            ts(Some("x-eg-notification-timestamp"), true),
            vec![Timestamp, dot(), Body],
        ),
        SchemeName::Stripe => (
            Encoding::HexLower,
            SigFormat::Stripe,
            ts(None, false),
            vec![Timestamp, dot(), Body],
        ),
        SchemeName::Github => (
            Encoding::HexLower,
            list("x-hub-signature-256", Some("sha256="), PrefixRule::Required),
            None,
            vec![Body],
        ),
        SchemeName::StandardWebhooks => (
            Encoding::Base64,
            SigFormat::StandardWebhooks,
            ts(None, false),
            vec![Id, dot(), Timestamp, dot(), Body],
        ),
        SchemeName::Slack => (
            Encoding::HexLower,
            list("x-slack-signature", Some("v0="), PrefixRule::Required),
            ts(Some("x-slack-request-timestamp"), false),
            vec![Lit(b"v0:".to_vec()), Timestamp, Lit(b":".to_vec()), Body],
        ),
        SchemeName::Shopify => (
            Encoding::Base64,
            list("x-shopify-hmac-sha256", None, PrefixRule::Optional),
            None,
            vec![Body],
        ),
        SchemeName::Hmac | SchemeName::ApiKey | SchemeName::Basic => return None,
    };
    Some(HmacSpec {
        algorithm: Algorithm::Sha256,
        encoding,
        sig,
        timestamp,
        payload,
    })
}

/// Parses a generic payload template such as `{timestamp}.{body}`.
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
        "method" => Part::Method,
        "path" => Part::Path,
        other => match other.strip_prefix("header:") {
            Some(h) => Part::Header(
                HeaderName::from_bytes(h.trim().as_bytes())
                    .map_err(|_| format!("`{{header:{h}}}` is not a valid header name"))?,
            ),
            None => {
                return Err(format!(
                    "unknown placeholder `{{{other}}}`; use {{body}}, {{timestamp}}, {{method}}, {{path}} or {{header:NAME}}"
                ))
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let parts = parse_template("{method} {path}\n{header:X-Id}").expect("valid");
        assert_eq!(parts[4], Part::Header(HeaderName::from_static("x-id")));
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
    fn every_name_parses_and_round_trips() {
        for name in SchemeName::NAMES {
            let scheme = SchemeName::parse(name).expect("listed names parse");
            assert_eq!(SchemeName::parse(scheme.as_str()), Some(scheme));
        }
        assert_eq!(SchemeName::parse("Stripe"), None);
    }
}
