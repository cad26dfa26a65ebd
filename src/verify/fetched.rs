//! Schemes verified under a provider's public key rather than a shared secret: AWS SNS and
//! PayPal (an X.509 certificate at a URL the delivery names), Google Pub/Sub push (a JWT
//! under Google's JWK set), Plaid (an ES256 JWT), eBay and Circle (ECDSA) and Bridge (RSA).
//!
//! Two modes. *Fetched*: the check has no secrets; [`want`] says which certificate or key
//! set a delivery needs (a pure function of the request, checked against the allowed hosts,
//! so a URL outside them is never asked for), the serve layer fetches and caches it, and
//! [`verify`] checks the delivery under the [`Keys`] it was handed. *Pinned*: the check's
//! secrets hold the certificates or public keys (PEM, base64 DER or JWK) and nothing is
//! fetched; URL checks on the delivery still apply. Pure: keys and `now` are passed in.

use std::sync::Arc;

use http::HeaderMap;

use crate::verify::allow::Allow;
use crate::verify::certs::{Algo, PublicKey};
use crate::verify::reason::Reason;
use crate::verify::scheme::SigSpec;
use crate::verify::secret::UnixMillis;
use crate::verify::{ebay, jwt, paypal, pinned, sns};

/// The providers of this family, each verified by its own module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// AWS SNS: certificate from the body's `SigningCertURL`.
    Sns,
    /// PayPal: certificate from `PAYPAL-CERT-URL`.
    Paypal,
    /// Google Pub/Sub push: RS256 JWT under Google's JWKS.
    GooglePubsub,
    /// Plaid: ES256 JWT in `Plaid-Verification`, pinned key.
    Plaid,
    /// eBay: ECDSA/SHA-1 over the body, pinned key.
    Ebay,
    /// Circle: ECDSA/SHA-256 over the body, pinned key.
    Circle,
    /// Bridge: RSA/SHA-256 over SHA-256(`t.body`), pinned key.
    Bridge,
}

impl Provider {
    /// The provider for a catalogue `mechanism`.
    pub fn from_mechanism(m: &str) -> Option<Provider> {
        Some(match m {
            "sns" => Provider::Sns,
            "paypal" => Provider::Paypal,
            "google-oidc" => Provider::GooglePubsub,
            "plaid" => Provider::Plaid,
            "ebay" => Provider::Ebay,
            "circle" => Provider::Circle,
            "bridge" => Provider::Bridge,
            _ => return None,
        })
    }

    /// Whether hookguard can fetch this provider's keys itself (the others need the
    /// provider's API credentials to fetch, so their keys are pinned).
    pub fn fetches(self) -> bool {
        matches!(
            self,
            Provider::Sns | Provider::Paypal | Provider::GooglePubsub
        )
    }
}

/// A compiled fetched-key or pinned-key check.
#[derive(Clone, Debug)]
pub struct FetchedCheck {
    /// Which provider.
    pub provider: Provider,
    /// Where keys may be fetched from, and where a delivery's certificate URL must point.
    pub allow: Allow,
    /// A fixed key URL (Google's JWKS), already moved to the first `fetch_allow` host.
    pub key_url: Option<String>,
    /// Pinned keys, one per secret of the check, in the same order; empty in fetched mode.
    pub pinned: Vec<Arc<PublicKey>>,
    /// SNS `topic_arn:`: the topics allowed to deliver (empty: any topic).
    pub topic_arn: Vec<String>,
    /// Google `audience:`: the accepted `aud` values (empty: not checked).
    pub audience: Vec<String>,
    /// Google `email:`: the accepted push service accounts (empty: not checked).
    pub email: Vec<String>,
    /// PayPal `webhook_id:`.
    pub webhook_id: String,
    /// SNS: hookguard confirms a verified `SubscriptionConfirmation` itself (false with
    /// `handshake: forward`).
    pub confirm: bool,
    /// Bridge: where its `t=...,v0=...` header is read, as a signature spec.
    pub spec: Option<SigSpec>,
}

impl FetchedCheck {
    /// What an operator should be told about this check at start-up: a check that any
    /// account of the provider could satisfy.
    pub fn advice(&self) -> Option<&'static str> {
        match self.provider {
            Provider::Sns if self.topic_arn.is_empty() => Some(
                "no `topic_arn:`: a message from any AWS account's topic passes; list your topics",
            ),
            Provider::GooglePubsub if self.email.is_empty() => Some(
                "no `email:`: a push from any Google Cloud project passes; list your push service account",
            ),
            _ => None,
        }
    }
}

/// What kind of document a key URL serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// A PEM certificate (chain).
    Certificate,
    /// A JWK set.
    Jwks,
}

/// One document a delivery needs fetched.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyWant {
    /// What the URL serves.
    pub kind: KeyKind,
    /// The https URL, already checked against the check's allowed hosts.
    pub url: String,
    /// For a key set: the key id the delivery names (a miss may warrant a refetch).
    pub kid: Option<String>,
}

/// The keys fetched for one request, by the document they came from.
#[derive(Clone, Debug, Default)]
pub struct Keys {
    found: Vec<(KeyKind, String, Arc<Vec<PublicKey>>)>,
}

impl Keys {
    /// No keys: pinned checks and every other scheme need none.
    pub fn none() -> Keys {
        Keys::default()
    }

    /// Records the keys served at `url`.
    pub fn insert(&mut self, kind: KeyKind, url: &str, keys: Arc<Vec<PublicKey>>) {
        self.found.push((kind, url.to_owned(), keys));
    }

    /// The keys served at `url`, when they were fetched.
    pub fn get(&self, kind: KeyKind, url: &str) -> Option<&[PublicKey]> {
        self.found
            .iter()
            .find(|(k, u, _)| *k == kind && u == url)
            .map(|(_, _, keys)| keys.as_slice())
    }
}

/// The document one fetched-mode check needs for this delivery; `None` for a pinned check,
/// a provider that fetches nothing, and a delivery that already fails a check needing no
/// key (a certificate URL outside the allowed hosts is never asked for).
pub fn want(f: &FetchedCheck, headers: &HeaderMap, body: &[u8]) -> Option<KeyWant> {
    if !f.pinned.is_empty() {
        return None;
    }
    match f.provider {
        Provider::Sns => sns::want(f, headers, body),
        Provider::Paypal => paypal::want(f, headers),
        Provider::GooglePubsub => jwt::google_want(f, headers),
        _ => None,
    }
}

/// What a provider's verification reads: the request, the keys it may be signed with, and
/// the clock.
pub struct Delivery<'a> {
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// The raw body.
    pub body: &'a [u8],
    /// The check's pinned keys whose secrets are active now (empty in fetched mode).
    pub pinned: Vec<Candidate<'a>>,
    /// The keys fetched for this request.
    pub keys: &'a Keys,
    /// Allowed clock skew for signed times, both directions.
    pub tolerance_ms: i64,
    /// Unix milliseconds now.
    pub now: UnixMillis,
}

/// A key the delivery may be signed with, and the id a match reports (the pinned secret's id,
/// or the fetched certificate's file name or JWK `kid`).
#[derive(Clone)]
pub struct Candidate<'a> {
    /// Reported as the matching secret id.
    pub id: Arc<str>,
    /// The key.
    pub key: &'a PublicKey,
}

/// The keys a delivery may be verified with: the active pinned ones, or (fetched mode) the
/// ones fetched for `want`. `kid` (the key id the delivery names) narrows either to keys
/// with that id; keys without one stay in.
pub fn candidates<'a>(
    f: &FetchedCheck,
    d: &Delivery<'a>,
    want: Option<&KeyWant>,
    kid: Option<&str>,
) -> Result<Vec<Candidate<'a>>, Reason> {
    let keeps = |k: &PublicKey| kid.is_none() || k.kid.is_none() || k.kid.as_deref() == kid;
    if !f.pinned.is_empty() {
        let kept = d.pinned.iter().filter(|c| keeps(c.key));
        return Ok(kept
            .map(|c| Candidate {
                id: c.id.clone(),
                key: c.key,
            })
            .collect());
    }
    let want = want.ok_or(Reason::Invalid)?;
    let fetched = d.keys.get(want.kind, &want.url).ok_or(Reason::Invalid)?;
    let name = file_name(&want.url);
    Ok(fetched
        .iter()
        .filter(|k| keeps(k))
        .map(|key| Candidate {
            id: key.kid.as_deref().unwrap_or(name).into(),
            key,
        })
        .collect())
}

/// Whether any usable candidate verifies `signature` over `msg`: the id of the first that
/// does. Every candidate is tried, so the time taken does not say which one matched.
pub fn first_match(
    candidates: &[Candidate<'_>],
    algo: Algo,
    msg: &[u8],
    signature: &[u8],
    now: UnixMillis,
) -> Result<Arc<str>, Reason> {
    let mut found = None;
    for c in candidates {
        let ok = c.key.usable_at(now) && c.key.verify(algo, msg, signature);
        if ok && found.is_none() {
            found = Some(c.id.clone());
        }
    }
    found.ok_or(Reason::Invalid)
}

/// Verifies one fetched-key or pinned-key check.
pub fn verify(f: &FetchedCheck, d: &Delivery<'_>) -> Result<Arc<str>, Reason> {
    match f.provider {
        Provider::Sns => sns::verify(f, d),
        Provider::Paypal => paypal::verify(f, d),
        Provider::GooglePubsub => jwt::google(f, d),
        Provider::Plaid => jwt::plaid(f, d),
        Provider::Ebay => ebay::verify(f, d),
        Provider::Circle => pinned::circle(f, d),
        Provider::Bridge => pinned::bridge(f, d),
    }
}

/// The last segment of a URL's path (query dropped): a fetched certificate's name in logs,
/// metrics and `x-hookguard-secret-id`.
pub fn file_name(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("fetched")
}
