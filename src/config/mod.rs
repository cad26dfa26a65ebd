//! From YAML to the immutable [`Snapshot`]: parse (`yaml`), validate and compile (`compile`,
//! `checks`, with `ctx` carrying locations and the files read), freeze (`snapshot`). Also the
//! TLS server config built from PEM, and the wall clock the layers above pass to
//! verification.

pub mod checks;
pub mod clock;
pub mod compile;
pub mod ctx;
pub mod fetched;
pub mod handshakes;
pub mod nets;
pub mod replay;
pub mod secrets;
pub mod snapshot;
pub mod tls;
pub mod yaml;

pub use compile::{compile, load};
pub use snapshot::{Route, Shared, Snapshot};
pub use yaml::*;
