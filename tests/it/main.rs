//! Integration tests: one binary (`cargo test --test it`), one module per concern.

mod any;
mod catalogue;
mod cli;
mod config_errors;
mod demo;
mod forward;
mod layout;
mod limits;
mod logs;
mod metrics;
mod misc_keys;
mod misc_schemes;
mod net;
mod reject;
mod reload;
mod rotation;
mod schemes;
mod sdk;
mod sdk_urlbody;
mod shutdown;
mod support;
mod tls;
mod urlbody;
mod urlbody_cli;
mod urlbody_proxy;
mod vectors;
