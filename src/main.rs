//! The `hookguard` binary: parse arguments, dispatch, map failures to the contract's exit codes.

use std::process::ExitCode;

use hookguard::cmd::cli::{self, Command, EXIT_USAGE};
use hookguard::cmd::commands::{self, Failure, SignArgs};
use hookguard::config::clock::now_ms;

fn main() -> ExitCode {
    hookguard::config::tls::install_crypto_provider();
    let cli = match cli::parse() {
        Ok(cli) => cli,
        Err(code) => return ExitCode::from(code),
    };
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(failure) => {
            eprintln!("hookguard: {failure}");
            ExitCode::from(failure.code)
        }
    }
}

fn dispatch(cli: cli::Cli) -> Result<u8, Failure> {
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Check { config } => commands::check(&config.config, now_ms(), &mut out),
        Command::Sign {
            config,
            route,
            secret,
            body,
            timestamp,
            id,
            method,
            url,
            private_key,
        } => {
            let snap = hookguard::config::compile::load(&config.config).map_err(to_usage)?;
            let private_key = private_key
                .map(|path| hookguard::cmd::sign_key::load(&path))
                .transpose()
                .map_err(to_usage)?;
            let body = match body {
                Some(path) => commands::read_input(&path)?,
                None => Vec::new(),
            };
            let timestamp = timestamp.unwrap_or_else(|| (now_ms() / 1000).to_string());
            let id = id.unwrap_or_else(random_msg_id);
            let args = SignArgs {
                route: &route,
                secret: secret.as_deref(),
                body: &body,
                timestamp: &timestamp,
                id: &id,
                method: &method,
                url: url.as_deref(),
                private_key: private_key.as_ref(),
            };
            commands::sign_cmd(&snap, &args, now_ms(), &mut out)
        }
        Command::Verify {
            config,
            route,
            headers,
            body,
            now,
            method,
            url,
        } => {
            let snap = hookguard::config::compile::load(&config.config).map_err(to_usage)?;
            let text = commands::read_input(&headers)?;
            let mut captured = commands::parse_headers(&String::from_utf8_lossy(&text))?;
            if let Some(method) = method {
                captured.method = method;
            }
            captured.url = url;
            let body = commands::read_input(&body)?;
            let now = now.map_or_else(now_ms, |s| s.saturating_mul(1000));
            commands::verify_cmd(&snap, &route, &captured, &body, now, &mut out)
        }
        Command::Schemes { json } => hookguard::cmd::schemes::list(json, &mut out),
        Command::GenSecret { scheme } => {
            println!("{}", commands::gen_secret(&scheme)?);
            Ok(0)
        }
        Command::Run { config } => {
            let _log = hookguard::ops::logging::init(cli.log_format);
            // Signals, admin, reload and expiry only: the proxy runs on its own worker threads.
            let control = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let control = control.map_err(|e| Failure {
                message: format!("cannot start the runtime: {e}"),
                code: 1,
            })?;
            control.block_on(hookguard::cmd::run::run(config.config))
        }
        Command::Demo { serve } => {
            // The table alone is the demo's output; logs when serving or asked for.
            let logs = serve || std::env::var_os("RUST_LOG").is_some();
            let _log = logs.then(|| hookguard::ops::logging::init(cli.log_format));
            if serve {
                let shutdown = hookguard::cmd::run::shutdown_signal();
                runtime()?.block_on(hookguard::cmd::demo::serve(&mut out, shutdown))
            } else {
                runtime()?.block_on(hookguard::cmd::demo::run(&mut out))
            }
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure {
            message: format!("cannot start the runtime: {e}"),
            code: 1,
        })
}

fn to_usage(e: impl std::fmt::Display) -> Failure {
    Failure {
        message: e.to_string(),
        code: EXIT_USAGE,
    }
}

fn random_msg_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    format!("msg_{}", hex::encode(bytes))
}
