//! The targets a load is driven at, and the configs the harness writes for them. Worker
//! counts are matched to the machine: hookguard's tokio runtime uses every core, so nginx
//! gets `worker_processes` and haproxy `nbthread` equal to the core count too.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::payload::{secret_base64, Cert, SECRET};
use crate::procs::{free_port, Proc};

/// One thing a load can be driven at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    /// The upstream itself, no proxy: the ceiling.
    Direct,
    /// hookguard verifying the GitHub signature.
    Hookguard,
    /// nginx as a plain reverse proxy.
    Nginx,
    /// haproxy as a plain reverse proxy.
    Haproxy,
    /// haproxy verifying the same HMAC with its `hmac()` converter.
    HaproxyVerify,
    /// hookguard as `Hookguard`, with `replay: memory`.
    HookguardReplayMemory,
    /// hookguard as `Hookguard`, with `replay:` on the harness's redis-server.
    HookguardReplayRedis,
    /// `--baseline`: another hookguard build, same config, for an A/B pair in one run.
    HookguardBase,
}

impl Target {
    /// The name used in tables, JSON and `--only`.
    pub fn name(self) -> &'static str {
        match self {
            Target::Direct => "direct",
            Target::Hookguard => "hookguard",
            Target::Nginx => "nginx",
            Target::Haproxy => "haproxy",
            Target::HaproxyVerify => "haproxy-verify",
            Target::HookguardReplayMemory => "hookguard-replay-memory",
            Target::HookguardReplayRedis => "hookguard-replay-redis",
            Target::HookguardBase => "hookguard-base",
        }
    }
}

/// What every target is started from.
pub struct Ctx {
    /// Scratch directory for configs, logs and bodies.
    pub dir: PathBuf,
    /// Port of the harness's own upstream.
    pub upstream: u16,
    /// The hookguard binary.
    pub hookguard: PathBuf,
    /// `--baseline`: a second hookguard binary, run as `hookguard-base` beside `hookguard`.
    pub baseline: Option<PathBuf>,
    /// The shared certificate.
    pub cert: Cert,
    /// Worker threads or processes each proxy gets.
    pub workers: usize,
    /// Clock ticks per second of /proc CPU times.
    pub clk_tck: u64,
    /// Port of the harness's redis-server, when one runs.
    pub redis: Option<u16>,
}

/// How a target is to be set up for one scenario.
#[derive(Clone, Copy, Debug, Default)]
pub struct Setup {
    /// Listen with TLS (the shared certificate).
    pub tls: bool,
    /// Bodies of 1 MiB: haproxy must buffer the whole body to verify it.
    pub big: bool,
}

/// A started target: where to send load, and the process to measure (none for direct).
pub struct Started {
    /// Port to drive load at.
    pub port: u16,
    /// The proxy process, measured and stopped when dropped.
    pub proc: Option<Proc>,
    /// hookguard's admin port.
    pub admin: Option<u16>,
    /// hookguard's config file, rewritten by the reload scenario.
    pub config: Option<PathBuf>,
}

/// Start `target` for a scenario set up as `setup`.
pub fn start(ctx: &Ctx, target: Target, setup: Setup) -> Result<Started> {
    let port = free_port()?;
    let mut started = Started {
        port,
        proc: None,
        admin: None,
        config: None,
    };
    let (name, mut cmd) = match target {
        Target::Direct => {
            return Ok(Started {
                port: ctx.upstream,
                ..started
            })
        }
        Target::Hookguard
        | Target::HookguardReplayMemory
        | Target::HookguardReplayRedis
        | Target::HookguardBase => {
            let admin = free_port()?;
            let path = ctx.dir.join("hookguard.yaml");
            let mut text = hookguard_config(ctx, port, admin, setup.tls, false);
            text += &replay_config(ctx, target)?;
            write_atomic(&path, &text)?;
            let binary = match (target, &ctx.baseline) {
                (Target::HookguardBase, Some(base)) => base,
                _ => &ctx.hookguard,
            };
            let mut cmd = Command::new(binary);
            cmd.arg("run")
                .arg("--config")
                .arg(&path)
                .env("RUST_LOG", "warn");
            (started.admin, started.config) = (Some(admin), Some(path));
            ("hookguard", cmd)
        }
        Target::Nginx => {
            let path = ctx.dir.join("nginx.conf");
            std::fs::write(&path, nginx_config(ctx, port))?;
            let mut cmd = Command::new("nginx");
            cmd.arg("-p")
                .arg(&ctx.dir)
                .arg("-c")
                .arg(&path)
                .arg("-e")
                .arg("stderr");
            ("nginx", cmd)
        }
        Target::Haproxy | Target::HaproxyVerify => {
            let verify = target == Target::HaproxyVerify;
            let path = ctx.dir.join("haproxy.cfg");
            std::fs::write(&path, haproxy_config(ctx, port, verify, setup))?;
            let mut cmd = Command::new("haproxy");
            cmd.arg("-db").arg("-f").arg(&path);
            ("haproxy", cmd)
        }
    };
    let mut proc = Proc::spawn(name, &mut cmd, ctx.dir.join(format!("{name}.log")))?;
    proc.wait_ready(port, Duration::from_secs(10))?;
    started.proc = Some(proc);
    Ok(started)
}

/// Whether `program -v` runs here (nginx, haproxy, wrk).
pub fn installed(program: &str) -> bool {
    Command::new(program).arg("-v").output().is_ok()
}

/// Write `text` to a temporary sibling of `path`, then rename it over `path`: a watcher sees
/// the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming onto {}", path.display()))
}

/// hookguard's config (CONTRACT §2); `second_secret` adds another secret, which is how the
/// reload scenario makes each rewrite a real change.
pub fn hookguard_config(ctx: &Ctx, port: u16, admin: u16, tls: bool, second: bool) -> String {
    let tls = if tls {
        format!(
            "tls:\n  cert: \"{}\"\n  key: \"{}\"\n",
            ctx.cert.cert.display(),
            ctx.cert.key.display()
        )
    } else {
        String::new()
    };
    let extra = if second {
        "        - id: \"k2\"\n          value: \"second-bench-secret\"\n"
    } else {
        ""
    };
    format!(
        "listen: \"127.0.0.1:{port}\"\nadmin:\n  listen: \"127.0.0.1:{admin}\"\n{tls}\
         limits:\n  max_body_bytes: 2097152\n  max_connections: 20000\nroutes:\n  - name: bench\n    \
         path: /\n    upstream: \"http://127.0.0.1:{up}\"\n    verify:\n      scheme: github\n      \
         secrets:\n        - id: \"k1\"\n          value: \"{SECRET}\"\n{extra}",
        up = ctx.upstream,
    )
}

/// The route's `replay:` for a replay target (empty for plain hookguard): key `auto`, so the
/// `X-GitHub-Delivery` each request carries, and the default window (10m).
fn replay_config(ctx: &Ctx, target: Target) -> Result<String> {
    let store = match target {
        Target::HookguardReplayMemory => "memory".to_string(),
        Target::HookguardReplayRedis => {
            let port = ctx.redis.context("no redis-server running")?;
            format!("redis://127.0.0.1:{port}/0")
        }
        _ => return Ok(String::new()),
    };
    Ok(format!("    replay:\n      store: \"{store}\"\n"))
}

fn nginx_config(ctx: &Ctx, port: u16) -> String {
    let dir = ctx.dir.display();
    format!(
        "daemon off;\nworker_processes {workers};\npid {dir}/nginx.pid;\nerror_log stderr warn;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {dir}/nginx-body;\n  \
         proxy_temp_path {dir}/nginx-proxy;\n  fastcgi_temp_path {dir}/nginx-fcgi;\n  \
         uwsgi_temp_path {dir}/nginx-uwsgi;\n  scgi_temp_path {dir}/nginx-scgi;\n  \
         client_max_body_size 2m;\n  client_body_buffer_size 2m;\n  keepalive_requests 1000000;\n  \
         upstream up {{ server 127.0.0.1:{up}; keepalive 512; }}\n  \
         server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      proxy_pass http://up;\n      \
         proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n    }}\n  }}\n}}\n",
        workers = ctx.workers,
        up = ctx.upstream,
    )
}

fn haproxy_config(ctx: &Ctx, port: u16, verify: bool, setup: Setup) -> String {
    // To hash a body, haproxy needs all of it in one buffer: 1 MiB bodies need 1 MiB buffers.
    let bufsize = if verify && setup.big {
        1_200_000
    } else {
        16_384
    };
    let ssl = if setup.tls {
        format!(" ssl crt {}", ctx.cert.combined.display())
    } else {
        String::new()
    };
    let check = if verify {
        format!(
            "  option http-buffer-request\n  \
             http-request set-var(txn.sig) req.hdr(X-Hub-Signature-256),regsub(^sha256=,)\n  \
             http-request set-var(txn.mac) req.body,hmac(sha256,{key}),hex,lower\n  \
             http-request deny deny_status 401 unless {{ var(txn.mac),secure_memcmp(txn.sig) }}\n",
            key = secret_base64()
        )
    } else {
        String::new()
    };
    format!(
        "global\n  nbthread {workers}\n  maxconn 4096\n  tune.bufsize {bufsize}\n\
         defaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  \
         timeout http-keep-alive 60s\n  timeout http-request 60s\n\
         frontend fe\n  bind 127.0.0.1:{port}{ssl}\n{check}  default_backend be\n\
         backend be\n  http-reuse always\n  server up 127.0.0.1:{up}\n",
        workers = ctx.workers,
        up = ctx.upstream,
    )
}
