//! Integration tests: one binary (`cargo test --test it`), one module per concern.

mod cli;
mod config_errors;
mod demo;
mod forward;
mod limits;
mod logs;
mod metrics;
mod net;
mod redis_server;
mod reject;
mod reload;
mod replay;
mod replay_memory;
mod rotation;
mod schemes;
mod shutdown;
mod support;
mod tls;
mod vectors;
