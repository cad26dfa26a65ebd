//! Schemes verified under a provider's public key rather than a shared secret: AWS SNS and
//! PayPal (an X.509 certificate at a URL the delivery names), Google Pub/Sub push (a JWT
//! under Google's JWK set), Plaid (an ES256 JWT), eBay and Circle (ECDSA) and Bridge (RSA).
//!
//! Two modes. *Fetched*: the check has no secrets; `keyed::want` says which certificate or key
//! set a delivery needs (a pure function of the request, checked against the allowed hosts,
//! so a URL outside them is never asked for), the serve layer fetches and caches it, and
//! `keyed::verify` checks the delivery under the [`Keys`] it was handed. *Pinned*: the check's
//! secrets hold the certificates or public keys (PEM, base64 DER or JWK) and nothing is
//! fetched; URL checks on the delivery still apply. Pure: keys and `now` are passed in.

use std::sync::Arc;

use http::{HeaderMap, HeaderName};

use crate::verify::allow::Allow;
use crate::verify::certs::{Algo, PublicKey};
use crate::verify::reason::Reason;
use crate::verify::scheme::SigSpec;
use crate::verify::secret::UnixMillis;

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

impl FetchedCheck {
    /// What `hookguard verify` says this check reads: `(header, what it expects)`, or no
    /// header for the body and the key source.
    pub fn describe(&self) -> Vec<(Option<HeaderName>, String)> {
        let h = |n: &'static str| Some(HeaderName::from_static(n));
        let mut out = match self.provider {
            Provider::Sns => vec![(None, "body: SNS JSON message; RSA-SHA1 (SignatureVersion 1) or RSA-SHA256 (2) over Message, MessageId, Subject, SubscribeURL, Timestamp, Token, TopicArn, Type (those present), under the certificate at SigningCertURL".to_owned())],
            Provider::Paypal => vec![
                (h("paypal-transmission-sig"), "base64 SHA256withRSA over `transmission-id|transmission-time|webhook_id|crc32(body)`".to_owned()),
                (h("paypal-cert-url"), "the signing certificate's URL, on an allowed host".to_owned()),
                (h("paypal-auth-algo"), "`SHA256withRSA`".to_owned()),
            ],
            Provider::GooglePubsub => vec![(h("authorization"), "`Bearer <JWT>`, RS256 with `kid`, iss accounts.google.com, exp/iat within the tolerance".to_owned())],
            Provider::Plaid => vec![(h("plaid-verification"), "an ES256 JWT with `kid`, `iat` within the tolerance and `request_body_sha256` of the body".to_owned())],
            Provider::Ebay => vec![(h("x-ebay-signature"), "base64 JSON {alg: ecdsa, kid, signature (base64 DER ECDSA P-256 SHA-1 over the body), digest: SHA1}".to_owned())],
            Provider::Circle => vec![(h("x-circle-signature"), "base64 DER ECDSA P-256 SHA-256 over the body".to_owned())],
            Provider::Bridge => vec![(h("x-webhook-signature"), "`t=<ms>,v0=<base64>`: RSA-SHA256 over SHA-256(`t.body`)".to_owned())],
        };
        let source = if self.pinned.is_empty() {
            "key: fetched over https from the allowed hosts".to_owned()
        } else {
            format!("key: pinned in the check's {} secret(s)", self.pinned.len())
        };
        out.push((None, source));
        out
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

/// The last segment of a URL's path (query dropped): a fetched certificate's name in logs,
/// metrics and `x-hookguard-secret-id`.
pub fn file_name(url: &str) -> &str {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or("fetched")
}
