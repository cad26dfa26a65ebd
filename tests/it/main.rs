//! Integration tests: one binary (`cargo test --test it`), one module per concern.

mod any;
mod catalogue;
mod cli;
mod config_errors;
mod demo;
mod fetched;
mod forward;
mod layout;
mod limits;
mod logs;
mod metrics;
mod net;
mod reject;
mod reload;
mod rotation;
mod schemes;
mod sdk;
mod shutdown;
mod support;
mod tls;
mod vectors;
