//! Integration tests: one binary (`cargo test --test it`), one module per concern.

mod cli;
mod config_errors;
mod schemes;
mod support;
mod vectors;
