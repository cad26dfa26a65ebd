//! Integration tests: one binary (`cargo test --test it`), one module per concern.

mod cli;
mod config_errors;
mod demo;
mod net;
mod schemes;
mod support;
mod vectors;
