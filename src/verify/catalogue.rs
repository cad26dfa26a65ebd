//! The provider catalogue: one row of data per sender, in `catalogue.yaml` (embedded at build
//! time), each citing the provider's documentation. A plain HMAC provider is data over the
//! generic engine, in the same vocabulary as a generic `hmac` check; a provider that needs code
//! names its `mechanism`. Adding a provider is one row plus its test vectors.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::verify::mac::Algorithm;
use crate::verify::scheme::{
    self, Defaults, Encoding, Fields, Part, PrefixRule, SigFormat, SigSpec, TimestampSpec, TsUnit,
};

/// The embedded table.
const TABLE: &str = include_str!("catalogue.yaml");

/// What kind of verification a provider uses, as `hookguard schemes` lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// An HMAC over headers and body.
    Hmac,
    /// Standard Webhooks (Svix and the senders built on it).
    StandardWebhooks,
    /// An Ed25519 signature under the sender's public key.
    Ed25519,
    /// An ECDSA P-256 signature under the sender's public key.
    EcdsaP256,
    /// An RSA signature under the sender's public key.
    Rsa,
    /// An HMAC that covers the URL the sender called.
    UrlSigned,
    /// Signature fields inside the body.
    BodyEmbedded,
    /// A signature under a certificate or key fetched from the provider.
    FetchedKey,
    /// A JSON Web Token.
    Jwt,
    /// A shared token compared whole.
    Token,
    /// A static key in a header.
    ApiKey,
    /// HTTP Basic credentials.
    Basic,
}

impl Kind {
    /// The spelling `hookguard schemes` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Hmac => "hmac",
            Kind::StandardWebhooks => "standard-webhooks",
            Kind::Ed25519 => "ed25519",
            Kind::EcdsaP256 => "ecdsa-p256",
            Kind::Rsa => "rsa",
            Kind::UrlSigned => "url-signed",
            Kind::BodyEmbedded => "body-embedded",
            Kind::FetchedKey => "fetched-key",
            Kind::Jwt => "jwt",
            Kind::Token => "token",
            Kind::ApiKey => "api-key",
            Kind::Basic => "basic",
        }
    }
}

/// One header name, or several.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single header.
    One(String),
    /// Several headers.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The names, in order.
    pub fn names(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// One provider; the fields' meanings are in docs/providers.md ("How a row is written").
#[allow(missing_docs)]
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Row {
    pub id: String,
    pub name: String,
    pub kind: Kind,
    pub docs: String,
    #[serde(default)]
    pub mechanism: Option<String>,
    #[serde(default)]
    pub algorithm: Option<String>,
    #[serde(default)]
    pub header: Option<OneOrMany>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub prefix_rule: Option<String>,
    #[serde(default)]
    pub separator: Option<String>,
    #[serde(default)]
    pub format: Option<String>,
    #[serde(default)]
    pub pairs: Option<String>,
    #[serde(default)]
    pub assign: Option<String>,
    #[serde(default)]
    pub timestamp_key: Option<String>,
    #[serde(default)]
    pub signature_key: Option<String>,
    #[serde(default)]
    pub timestamp_header: Option<String>,
    #[serde(default)]
    pub timestamp_unit: Option<String>,
    #[serde(default)]
    pub id_header: Option<String>,
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub encoding: Option<String>,
    #[serde(default)]
    pub secret_encoding: Option<String>,
    #[serde(default)]
    pub secret_strip_prefix: Vec<String>,
    #[serde(default)]
    pub tolerance: Option<String>,
    #[serde(default)]
    pub delivery_id: Vec<String>,
    #[serde(default)]
    pub handshake: Option<String>,
    /// Fetched-key schemes: the hosts keys may come from (`*` one label, `{region}` an AWS
    /// region), port 443.
    #[serde(default)]
    pub fetch_hosts: Vec<String>,
    /// Fetched-key schemes with a fixed key URL (Google's JWK set).
    #[serde(default)]
    pub key_url: Option<String>,
}

/// Catalogue rows default `hex` to lowercase-only and prefixes to required, as the SDKs do.
pub const ROW_DEFAULTS: Defaults = Defaults {
    strict_hex: true,
    prefix_rule: PrefixRule::Required,
    timestamp_unit: TsUnit::Seconds,
};

impl Row {
    /// The scheme fields of this row.
    pub fn fields(&self) -> Fields<'_> {
        Fields {
            algorithm: self.algorithm.as_deref(),
            headers: self
                .header
                .as_ref()
                .map(OneOrMany::names)
                .unwrap_or_default(),
            prefix: self.prefix.as_deref(),
            prefix_rule: self.prefix_rule.as_deref(),
            separator: self.separator.as_deref(),
            format: self.format.as_deref(),
            pairs: self.pairs.as_deref(),
            assign: self.assign.as_deref(),
            timestamp_key: self.timestamp_key.as_deref(),
            signature_key: self.signature_key.as_deref(),
            timestamp_header: self.timestamp_header.as_deref(),
            timestamp_unit: self.timestamp_unit.as_deref(),
            id_header: self.id_header.as_deref(),
            payload: self.payload.as_deref(),
            encoding: self.encoding.as_deref(),
        }
    }

    /// The row's signature scheme over the generic engine.
    pub fn spec(&self) -> Result<SigSpec, String> {
        if self.kind == Kind::StandardWebhooks {
            return Ok(standard_webhooks(self.header.as_ref()));
        }
        scheme::build(&self.fields(), ROW_DEFAULTS)
    }

    /// The headers this provider's deliveries are read from, for `hookguard schemes`.
    pub fn headers_read(&self) -> Vec<String> {
        let mut out: Vec<String> = match self.kind {
            Kind::StandardWebhooks => {
                let svix_first = self
                    .header
                    .as_ref()
                    .is_some_and(|h| h.names().first() == Some(&"svix-signature"));
                let order = if svix_first {
                    ["svix", "webhook"]
                } else {
                    ["webhook", "svix"]
                };
                order
                    .iter()
                    .flat_map(|p| ["id", "timestamp", "signature"].map(|s| format!("{p}-{s}")))
                    .collect()
            }
            Kind::Basic => vec!["authorization".into()],
            _ => Vec::new(),
        };
        let named = [self.timestamp_header.as_deref(), self.id_header.as_deref()];
        let listed = self
            .header
            .as_ref()
            .map(OneOrMany::names)
            .unwrap_or_default();
        for h in listed.into_iter().chain(named.into_iter().flatten()) {
            if !out.iter().any(|o| o.eq_ignore_ascii_case(h)) {
                out.push(h.to_ascii_lowercase());
            }
        }
        out
    }
}

/// Standard Webhooks `v1`: `{id}.{timestamp}.{body}`, HMAC-SHA256, base64; a sender writes the
/// `svix-` header names when the row's header is `svix-signature`.
fn standard_webhooks(header: Option<&OneOrMany>) -> SigSpec {
    let svix_names = header.is_some_and(|h| h.names().first() == Some(&"svix-signature"));
    let dot = || Part::Lit(b".".to_vec());
    SigSpec {
        algorithm: Algorithm::Sha256,
        encoding: Encoding::Base64,
        sig: SigFormat::StandardWebhooks {
            version: "v1".into(),
            svix_names,
        },
        timestamp: Some(TimestampSpec {
            header: None,
            unit: TsUnit::Seconds,
        }),
        id_header: None,
        payload: vec![Part::Id, dot(), Part::Timestamp, dot(), Part::Body],
        public_url: String::new(),
    }
}

/// Every row, in id order. An embedded table that does not parse is a build defect that the
/// unit tests catch; at run time it yields no rows rather than a panic.
pub fn rows() -> &'static [Row] {
    static ROWS: OnceLock<Vec<Row>> = OnceLock::new();
    ROWS.get_or_init(|| parse_table().unwrap_or_default())
}

fn parse_table() -> Result<Vec<Row>, serde_saphyr::Error> {
    serde_saphyr::from_str(TABLE)
}

/// The row for a `scheme:` id; ngrok's spellings with `_` are accepted too.
pub fn find(id: &str) -> Option<&'static Row> {
    let id = id.trim().replace('_', "-");
    rows().iter().find(|r| r.id == id)
}

/// Every id, for error messages.
pub fn ids() -> Vec<&'static str> {
    rows().iter().map(|r| r.id.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_table_parses_and_is_sorted_with_unique_ids() {
        let rows = parse_table().expect("catalogue.yaml parses");
        assert!(rows.len() >= 10, "{} rows", rows.len());
        for pair in rows.windows(2) {
            assert!(
                pair[0].id < pair[1].id,
                "{} before {}",
                pair[0].id,
                pair[1].id
            );
        }
        for row in &rows {
            let ok = row
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            assert!(ok, "id `{}`", row.id);
            assert!(
                row.docs.starts_with("https://"),
                "{}: docs `{}`",
                row.id,
                row.docs
            );
        }
    }

    #[test]
    fn ids_are_found_with_dashes_or_underscores() {
        assert_eq!(
            find("standard_webhooks").map(|r| r.id.as_str()),
            Some("standard-webhooks")
        );
        assert_eq!(find("github").map(|r| r.kind), Some(Kind::Hmac));
        assert!(find("Github").is_none());
        assert!(find("nope").is_none());
    }
}
