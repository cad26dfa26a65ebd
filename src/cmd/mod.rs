//! The command line on top of every layer: clap definitions and exit codes (`cli`), the
//! offline commands (`commands`, with `sign_key` for public-key schemes), `run`, and `demo`
//! with its cases and receiver.

pub mod cli;
pub mod commands;
pub mod demo;
pub mod demo_cases;
pub mod demo_receiver;
pub mod explain;
pub mod run;
pub mod schemes;
pub mod sign_key;
