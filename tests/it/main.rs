//! Integration tests: one binary (`cargo test --test it`), one module per concern.

mod admission;
mod child;
mod cli;
mod config_errors;
mod demo;
mod forward;
mod framing;
mod h2_abuse;
mod inputs;
mod limits;
mod logs;
mod metrics;
mod net;
mod props;
mod reject;
mod reload;
mod rotation;
mod schemes;
mod shutdown;
mod slow;
mod support;
mod tls;
mod vectors;
