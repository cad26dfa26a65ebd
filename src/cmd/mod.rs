//! The command line on top of every layer: clap definitions and exit codes (`cli`), the
//! offline commands (`commands`), `run`, and `demo` with its cases and receiver.

pub mod cli;
pub mod commands;
pub mod demo;
pub mod demo_cases;
pub mod demo_receiver;
pub mod explain;
pub mod run;
pub mod schemes;
