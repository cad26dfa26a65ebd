//! Compiling the public-key schemes (`verify::fetched`): the allowed hosts (the catalogue's,
//! or the check's `fetch_allow`), the provider's own check keys (`topic_arn`, `audience`,
//! `email`, `webhook_id`), and pinned keys from the check's secrets.

use std::sync::Arc;

use crate::config::CheckConfig;
use crate::verify::allow::Allow;
use crate::verify::catalogue::Row;
use crate::verify::certs;
use crate::verify::fetched::{FetchedCheck, Provider};
use crate::verify::{CheckKind, CompiledSecret};

/// The check keys only some public-key providers take, and which.
const OWN_KEYS: [(&str, &[Provider]); 5] = [
    (
        "fetch_allow",
        &[Provider::Sns, Provider::Paypal, Provider::GooglePubsub],
    ),
    ("webhook_id", &[Provider::Paypal]),
    ("topic_arn", &[Provider::Sns]),
    ("audience", &[Provider::GooglePubsub]),
    ("email", &[Provider::GooglePubsub]),
];

/// The row's provider, when it is one of this family.
pub fn provider(row: &Row) -> Option<Provider> {
    row.mechanism.as_deref().and_then(Provider::from_mechanism)
}

/// Whether `row` takes the check key `field`; `None` when the key is not one of this family's.
pub fn takes(row: &Row, field: &str) -> Option<bool> {
    let (_, providers) = OWN_KEYS.iter().find(|(k, _)| *k == field)?;
    Some(provider(row).is_some_and(|p| providers.contains(&p)))
}

/// The names of this family's check keys that `c` sets.
pub fn set_keys(c: &CheckConfig) -> Vec<&'static str> {
    let set = [
        ("topic_arn", c.topic_arn.is_some()),
        ("audience", c.audience.is_some()),
        ("email", c.email.is_some()),
    ];
    set.into_iter()
        .filter(|(_, s)| *s)
        .map(|(n, _)| n)
        .collect()
}

/// Whether a check of this row may have no secrets (hookguard fetches the keys).
pub fn fetches(row: &Row) -> bool {
    provider(row).is_some_and(Provider::fetches)
}

/// The check, without its pinned keys (see [`pin`]).
pub fn kind(c: &CheckConfig, row: &Row, provider: Provider) -> Result<CheckKind, String> {
    if c.secrets.is_empty() && !provider.fetches() {
        return Err(format!(
            "`secrets` is empty: pin the sender's public key (PEM, base64 DER or JWK); hookguard cannot fetch {}'s keys without its API credentials",
            row.name
        ));
    }
    let allow = match &c.fetch_allow {
        Some(hosts) => Allow::custom(hosts).map_err(|m| format!("`fetch_allow`: {m}"))?,
        None => Allow::catalogue(&row.fetch_hosts)?,
    };
    let key_url = match (&row.key_url, &c.fetch_allow) {
        (Some(url), Some(_)) => Some(moved(url, &allow)?),
        (url, None) => url.clone(),
        (None, Some(_)) => None,
    };
    let webhook_id = match (provider, &c.webhook_id) {
        (Provider::Paypal, None) => {
            return Err("`webhook_id` is required: the id PayPal shows for this webhook".into())
        }
        (_, id) => id.clone().unwrap_or_default(),
    };
    let spec = match provider {
        Provider::Bridge => Some(row.spec()?),
        _ => None,
    };
    let list = |v: &Option<Vec<String>>| v.clone().unwrap_or_default();
    Ok(CheckKind::Fetched(Box::new(FetchedCheck {
        provider,
        allow,
        key_url,
        pinned: Vec::new(),
        topic_arn: list(&c.topic_arn),
        audience: list(&c.audience),
        email: list(&c.email),
        webhook_id,
        confirm: c.handshake.as_deref() != Some("forward"),
        spec,
    })))
}

/// `url` with its host replaced by the first `fetch_allow` host.
fn moved(url: &str, allow: &Allow) -> Result<String, String> {
    let authority = allow.first_authority().ok_or(
        "`fetch_allow`: the first entry must be a host name (the key set is fetched there)",
    )?;
    let uri: http::Uri = url.parse().map_err(|_| format!("bad key URL `{url}`"))?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    Ok(format!("https://{authority}{path}"))
}

/// Parses every secret of a pinned check into its key; the error names the secret, never
/// its value.
pub fn pin(kind: &mut CheckKind, secrets: &[CompiledSecret]) -> Result<(), String> {
    let CheckKind::Fetched(f) = kind else {
        return Ok(());
    };
    for s in secrets {
        let key = certs::parse_pinned(s.secret.key.expose())
            .map_err(|e| format!("secret `{}` {e}", s.secret.id))?;
        f.pinned.push(Arc::new(key));
    }
    Ok(())
}
