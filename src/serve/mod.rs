//! The data path: the process state every request shares (`app`, with its `metrics`), accept
//! and the first head (`server`, `rewind`), every head's framing (`framer`, `framing`,
//! `chunked`), hyper's settings (`conn`), what is refused before the body (`admit`), route,
//! bound, verify (`proxy`) and forward (`forward`), replay protection (`replay`, with its
//! `replay_memory` and `replay_redis` stores). It knows of schemes only "verify this request
//! against this route".

pub mod admit;
pub mod app;
pub mod chunked;
pub mod conn;
pub mod forward;
pub mod framer;
pub mod framing;
pub mod handshake;
pub mod hangup;
pub mod keys;
pub mod metrics;
pub mod pool;
pub mod proxy;
pub mod refusal;
pub mod replay;
pub mod replay_memory;
pub mod replay_redis;
pub mod rewind;
pub mod server;
pub mod sns_confirm;
