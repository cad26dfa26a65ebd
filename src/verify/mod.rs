//! The pure core: secrets, MACs, schemes, header extraction, verification and signing. Bytes,
//! headers, secrets and `now` in; a verdict or signature headers out. No I/O, no clock.
//!
//! The verification API is re-exported here, so callers say `verify::verify` and
//! `verify::Reason` without knowing which file holds them.

pub mod check;
pub mod extract;
pub mod mac;
pub mod precheck;
pub mod reason;
pub mod scheme;
pub mod secret;
pub mod sign;

pub use check::{
    decode, encode, parse_timestamp, payload, verify, verify_check, Check, CheckKind,
    CompiledSecret, Rejected, Request, Verified,
};
pub use reason::Reason;
