//! The data path: the process state every request shares (`app`, with its `metrics`), accept
//! and the first head (`server`, `rewind`), route, bound, verify (`proxy`) and forward
//! (`forward`). It knows of schemes only "verify this request against this route".

pub mod app;
pub mod forward;
pub mod handshake;
pub mod keys;
pub mod metrics;
pub mod proxy;
pub mod rewind;
pub mod server;
pub mod sns_confirm;
