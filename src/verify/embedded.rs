//! Body-embedded schemes: the signature travels inside the body, which is parsed only to read
//! it and is still forwarded byte for byte. One file per provider: `mailgun`, `adyen`,
//! `braintree`, `treezor`; this one names them and dispatches.
//!
//! A signature field given twice (a repeated form field, a duplicate JSON key) is `Malformed`:
//! hookguard will not guess which copy the receiver reads.

use std::sync::Arc;

use http::HeaderMap;

use crate::verify::adyen;
use crate::verify::braintree;
use crate::verify::form;
use crate::verify::keyed::Signed;
use crate::verify::mailgun;
use crate::verify::reason::Reason;
use crate::verify::secret::{Secret, UnixMillis};
use crate::verify::treezor;

/// Which provider's body-embedded signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// Mailgun `signature: {timestamp, token, signature}`.
    Mailgun,
    /// Adyen Standard notifications: `additionalData.hmacSignature` per item.
    AdyenNotification,
    /// Braintree `bt_signature` / `bt_payload` form fields.
    Braintree,
    /// Treezor `object_payload_signature`.
    Treezor,
}

impl Mechanism {
    /// The catalogue's `mechanism` name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "mailgun" => Mechanism::Mailgun,
            "adyen-notification" => Mechanism::AdyenNotification,
            "braintree" => Mechanism::Braintree,
            "treezor" => Mechanism::Treezor,
            _ => return None,
        })
    }

    /// Why `key` cannot be one of this scheme's secrets (Braintree's is
    /// `public_key:private_key`); the message never quotes the key.
    pub fn key_problem(self, key: &[u8]) -> Option<&'static str> {
        match self {
            Mechanism::Braintree if braintree::keys(key).is_none() => Some(
                "a braintree secret is `public_key:private_key`, as in the Braintree control panel",
            ),
            _ => None,
        }
    }
}

impl Mechanism {
    /// For `verify`'s explanation: the body fields read with what they must hold, and the
    /// signed bytes.
    pub fn reads(self) -> (&'static [(&'static str, &'static str)], &'static str) {
        match self {
            Mechanism::Mailgun => (
                &[
                    ("signature.timestamp (JSON) or timestamp (form)", "Unix seconds within the tolerance"),
                    ("signature.token or token", "the token"),
                    ("signature.signature or signature", "lowercase hex HMAC-SHA256"),
                ],
                "{timestamp}{token}",
            ),
            Mechanism::AdyenNotification => (
                &[("notificationItems[].NotificationRequestItem.additionalData.hmacSignature", "base64 HMAC-SHA256 under the hex key, in every item")],
                "pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success",
            ),
            Mechanism::Braintree => (
                &[
                    ("bt_signature (form)", "`public_key|lowercase hex HMAC-SHA1` pairs joined by `&`"),
                    ("bt_payload (form)", "base64 notification XML"),
                ],
                "{bt_payload} (or with a newline), keyed with SHA-1 of the private key",
            ),
            Mechanism::Treezor => (
                &[
                    ("object_payload_signature", "base64 HMAC-SHA256"),
                    ("object_payload", "the signed object"),
                ],
                "object_payload written compact, `/` as `\\/`, non-ASCII as \\uXXXX",
            ),
        }
    }
}

/// Verifies the signature carried in `body` against every key; the id of the one that matched.
pub fn verify(
    mechanism: Mechanism,
    keys: &[&Secret],
    headers: &HeaderMap,
    body: &[u8],
    tolerance_ms: i64,
    now: UnixMillis,
) -> Result<Arc<str>, Reason> {
    match mechanism {
        Mechanism::Mailgun => {
            mailgun::verify(keys, form::body_type(headers)?, body, tolerance_ms, now)
        }
        Mechanism::AdyenNotification => adyen::verify(keys, body),
        Mechanism::Braintree => braintree::verify(keys, form::body_type(headers)?, body),
        Mechanism::Treezor => treezor::verify(keys, body),
    }
}

/// `body` with its signature fields filled in as the provider sends it (Mailgun's `timestamp`
/// and `token` taken from `timestamp` and `id`), and the `Content-Type` it goes with.
pub fn sign(
    mechanism: Mechanism,
    key: &[u8],
    body: &[u8],
    timestamp: &str,
    id: &str,
) -> Result<Signed, String> {
    match mechanism {
        Mechanism::Mailgun => mailgun::sign(key, body, timestamp, id),
        Mechanism::AdyenNotification => adyen::sign(key, body),
        Mechanism::Braintree => braintree::sign(key, body),
        Mechanism::Treezor => treezor::sign(key, body),
    }
}
