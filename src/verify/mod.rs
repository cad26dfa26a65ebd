//! The pure core: secrets, MACs, schemes, header extraction, verification and signing. Bytes,
//! headers, secrets and `now` in; a verdict or signature headers out. No I/O, no clock.
//!
//! The verification API is re-exported here, so callers say `verify::verify` and
//! `verify::Reason` without knowing which file holds them.

pub mod adyen;
pub mod allow;
pub mod braintree;
pub mod catalogue;
pub mod certs;
pub mod challenge;
pub mod check;
pub mod claim;
pub mod client_state;
pub mod contentful;
pub mod ebay;
pub mod embedded;
pub mod extract;
pub mod fetched;
pub mod fetched_verify;
pub mod form;
pub mod graphcms;
pub mod handshake;
pub mod hook0;
pub mod hubspot;
pub mod jwt;
pub mod keyed;
pub mod keyform;
pub mod linear;
pub mod mac;
pub mod mailgun;
pub mod mechanism;
pub mod paypal;
pub mod pinned;
pub mod plivo;
pub mod precheck;
pub mod privkey;
pub mod pubkey;
pub mod pusher;
pub mod reason;
pub mod recurly;
pub mod reply;
pub mod scheme;
pub mod secret;
pub mod sign;
pub mod sns;
pub mod treezor;
pub mod twilio;
pub mod twilio_url;
pub mod urlsign;
pub mod worldpay;

pub use check::{
    decode, encode, parse_timestamp, payload, signed_digest, verify, verify_check,
    verify_check_keyed, verify_keyed, Check, CheckKind, CompiledSecret, Rejected, Request, Tried,
    Verified,
};
pub use reason::Reason;
