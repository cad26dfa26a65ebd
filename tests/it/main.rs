//! Integration tests: one binary (`cargo test --test it`), one module per concern.

mod cli;
mod config_errors;
mod demo;
mod forward;
mod limits;
mod logs;
mod metrics;
mod net;
mod pubkey;
mod pubkey_keys;
mod pubkey_proxy;
mod reject;
mod reload;
mod rotation;
mod schemes;
mod sdk_pubkey;
mod shutdown;
mod support;
mod tls;
mod vectors;
