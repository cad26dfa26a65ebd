//! The command line: clap definitions and the exit codes of the contract (0 ok, 1 runtime
//! failure, 2 `verify` found the delivery invalid, 64 invalid config or arguments).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::ops::logging::LogFormat;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: runtime failure (cannot bind, demo outcome wrong, ...).
pub const EXIT_RUNTIME: u8 = 1;
/// Exit code: `verify` found the delivery invalid.
pub const EXIT_INVALID: u8 = 2;
/// Exit code: invalid config or arguments (EX_USAGE).
pub const EXIT_USAGE: u8 = 64;

/// A reverse proxy that verifies webhook signatures (Expedia, Stripe, GitHub, Slack, Shopify,
/// Standard Webhooks/Svix, generic HMAC, API keys) against every secret active now, and
/// forwards only verified deliveries to your receiver.
///
/// Exit codes: 0 ok, 1 runtime failure, 2 `verify` found the delivery invalid,
/// 64 invalid config or arguments.
#[derive(Debug, Parser)]
#[command(
    name = "hookguard",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Log format on stderr: text (default on a terminal) or json (default otherwise).
    /// The level comes from RUST_LOG (default `info`).
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the config comes from.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArg {
    /// Config file [default: $HOOKGUARD_CONFIG, then ./hookguard.yaml].
    #[arg(
        long,
        short = 'c',
        env = "HOOKGUARD_CONFIG",
        default_value = "hookguard.yaml"
    )]
    pub config: PathBuf,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve: verify every request and forward the valid ones; reloads on change or SIGHUP.
    Run {
        /// The config file.
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Validate the config only; print routes, checks, secret ids, fingerprints and expiry.
    Check {
        /// The config file.
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Print the headers a sender would attach, one `Name: value` a line.
    Sign {
        /// The config file.
        #[command(flatten)]
        config: ConfigArg,
        /// The route whose checks sign.
        #[arg(long)]
        route: String,
        /// The secret id to sign with [default: the first secret active now].
        #[arg(long)]
        secret: Option<String>,
        /// The body file, or `-` for stdin [default: empty body].
        #[arg(long)]
        body: Option<PathBuf>,
        /// The Unix timestamp to sign [default: now].
        #[arg(long)]
        timestamp: Option<String>,
        /// The message id (Standard Webhooks) [default: a random msg_ id].
        #[arg(long)]
        id: Option<String>,
        /// The request method, for schemes that sign it [default: POST].
        #[arg(long, default_value = "POST")]
        method: String,
        /// The full URL the sender calls, for schemes that sign it
        /// [default: the route's public_url and path].
        #[arg(long)]
        url: Option<String>,
        /// The sender's private key (PKCS#8 PEM, or a Standard Webhooks `whsk_` key), for
        /// public-key schemes (Discord, Telnyx, SendGrid, Standard Webhooks `v1a`).
        #[arg(long, value_name = "FILE")]
        private_key: Option<PathBuf>,
    },
    /// Offline verdict for one captured delivery: exit 0 valid, 2 invalid.
    Verify {
        /// The config file.
        #[command(flatten)]
        config: ConfigArg,
        /// The route whose checks verify.
        #[arg(long)]
        route: String,
        /// A file of `Name: value` lines (as `sign` prints them); a leading request line
        /// such as `POST /path HTTP/1.1` sets method and path.
        #[arg(long)]
        headers: PathBuf,
        /// The raw body file (`-` for stdin).
        #[arg(long)]
        body: PathBuf,
        /// Unix seconds to check timestamps and secret windows against [default: now].
        #[arg(long)]
        now: Option<i64>,
        /// The request method, for schemes that sign it [default: the headers file's
        /// request line, else POST].
        #[arg(long)]
        method: Option<String>,
        /// The full URL the sender called, for schemes that sign it [default: the route's
        /// public_url and path `/`, or the headers file's request line].
        #[arg(long)]
        url: Option<String>,
    },
    /// List every scheme hookguard verifies: id, kind, the headers it reads, its docs.
    Schemes {
        /// One JSON array, for tools.
        #[arg(long)]
        json: bool,
    },
    /// Print a fresh random secret in the scheme's native form (e.g. whsec_... for svix).
    GenSecret {
        /// The scheme the secret is for.
        #[arg(long, default_value = "hmac")]
        scheme: String,
    },
    /// Run the embedded demo: a proxy, a receiver and every kind of delivery, in-process.
    Demo {
        /// Keep serving and print ready-to-paste curl commands.
        #[arg(long)]
        serve: bool,
    },
}

/// Parses arguments; clap's own errors exit 64 (help and version exit 0).
pub fn parse() -> Result<Cli, u8> {
    Cli::try_parse().map_err(|e| {
        let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        let _ = e.print();
        code
    })
}
