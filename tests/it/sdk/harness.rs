//! The SDK interop harness: finds the SDKs `.ci/run` installs (a venv at `target/sdk-venv`,
//! npm packages in `tests/sdk/node_modules`), runs a script of `tests/sdk/` or `hookguard`
//! itself as a time-bound child process, and serves a config with the real binary's
//! `hookguard run`.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long any child (an SDK script, `hookguard sign`) may run before it is killed.
const CHILD_LIMIT: Duration = Duration::from_secs(30);

/// How long `hookguard run` may take to bind its listener.
const START_LIMIT: Duration = Duration::from_secs(10);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The language an SDK is used from.
#[derive(Clone, Copy, Debug)]
pub enum Runtime {
    /// The venv's Python, with `tests/sdk/requirements.txt` installed.
    Python,
    /// The machine's Node.js, with `tests/sdk/package.json` installed.
    Node,
}

/// An installed runtime: the interpreter that runs the scripts of `tests/sdk/`.
pub struct Sdk {
    program: PathBuf,
}

/// The runtime's interpreter once `.ci/run` has installed its SDKs. Without them a local run
/// says so loudly and gets `None` (the caller returns); in CI (`CI=true`) it fails instead.
pub fn installed(runtime: Runtime) -> Option<Sdk> {
    let (program, installed) = match runtime {
        Runtime::Python => {
            let python = root().join("target/sdk-venv/bin/python");
            (python.clone(), python)
        }
        Runtime::Node => ("node".into(), root().join("tests/sdk/node_modules")),
    };
    if installed.exists() {
        return Some(Sdk { program });
    }
    let missing = format!("{} is missing", installed.display());
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{missing}: in CI, .ci/run installs the SDKs before the tests run"
    );
    // Straight to the process's stderr, past the test harness's capture, so it is seen.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED: run .ci/run to install the SDKs ({missing}) ***\n"
    );
    None
}

/// A child that finished within its time bound.
pub struct Finished {
    /// What ran, for failure messages.
    pub what: String,
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Everything it printed on stdout.
    pub stdout: String,
    /// Everything it printed on stderr.
    pub stderr: String,
}

impl Finished {
    /// Panics, showing both streams, unless the child exited 0.
    pub fn success(self) -> Finished {
        assert_eq!(self.code, Some(0), "{self}");
        self
    }
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} exited {:?}\n--- stdout\n{}--- stderr\n{}",
            self.what, self.code, self.stdout, self.stderr
        )
    }
}

/// What an SDK's verifier script said of a delivery.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The SDK accepted it.
    Valid,
    /// The SDK's reason.
    Invalid(String),
}

impl Sdk {
    /// Runs `tests/sdk/<script> args...` with `stdin`; panics if it outlives its bound.
    pub fn run(&self, script: &str, args: &[String], stdin: &[u8]) -> Finished {
        let path = root().join("tests/sdk").join(script);
        let mut cmd = Command::new(&self.program);
        // No `__pycache__` left in the source tree (the venv's packages were compiled at install).
        cmd.arg(&path)
            .args(args)
            .env("PYTHONDONTWRITEBYTECODE", "1");
        run_bounded(cmd, stdin, format!("{} {script}", self.program.display()))
    }

    /// Runs a verifier script: exit 0 `valid`, exit 3 `invalid: why`; anything else (a crash,
    /// a missing package) panics with the script's output.
    pub fn verdict(&self, script: &str, args: &[String], body: &[u8]) -> Verdict {
        let out = self.run(script, args, body);
        match (out.code, out.stdout.trim()) {
            (Some(0), "valid") => Verdict::Valid,
            (Some(3), said) if said.starts_with("invalid") => Verdict::Invalid(said.to_owned()),
            _ => panic!("the verifier broke instead of giving a verdict: {out}"),
        }
    }
}

/// Runs `cmd` with `stdin` written to it; kills it and panics after [`CHILD_LIMIT`].
pub fn run_bounded(mut cmd: Command, stdin: &[u8], what: String) -> Finished {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let mut input = child.stdin.take().expect("stdin piped");
    let stdin = stdin.to_vec();
    // A child that exits without reading its input is the child's failure, seen in its code.
    let writer = std::thread::spawn(move || drop(input.write_all(&stdin)));
    let stdout = drain(child.stdout.take().expect("stdout piped"));
    let stderr = drain(child.stderr.take().expect("stderr piped"));
    let deadline = Instant::now() + CHILD_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {CHILD_LIMIT:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    Finished {
        what,
        code: status.code(),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The `Name: value` lines a signer printed, as pairs; panics on any other line.
pub fn header_lines(printed: &str) -> Vec<(String, String)> {
    printed
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (name, value) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("not a `Name: value` line: {l:?} in\n{printed}"));
            (name.trim().to_owned(), value.trim().to_owned())
        })
        .collect()
}

/// `hookguard sign --config CONFIG --route r --body - ARGS...` (e.g. `--secret ID`, `--url`,
/// `--private-key FILE`), the body on stdin; the headers it printed.
pub fn hookguard_sign(config: &Path, args: &[&str], body: &[u8]) -> Vec<(String, String)> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookguard"));
    cmd.arg("sign").arg("--config").arg(config);
    cmd.args(["--route", "r", "--body", "-"])
        .args(args)
        .env_remove("HOOKGUARD_CONFIG");
    let out = run_bounded(cmd, body, format!("hookguard sign {args:?}")).success();
    header_lines(&out.stdout)
}

/// The real binary's `hookguard run` on a config file, until dropped.
pub struct Served {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    /// The address it listens on, as its `listening` log line says.
    pub addr: String,
}

impl Served {
    /// Runs `hookguard run --config <config>` and waits for its `listening` line.
    pub fn start(config: &Path) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hookguard"))
            .arg("run")
            .arg("--config")
            .arg(config)
            .args(["--log-format", "json"])
            .env("RUST_LOG", "info")
            .env_remove("HOOKGUARD_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("hookguard run starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let pipe = child.stderr.take().expect("stderr piped");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock().expect("log lines").push(line);
            }
        });
        let mut served = Served {
            child,
            lines,
            addr: String::new(),
        };
        served.addr = served.listening();
        served
    }

    fn listening(&mut self) -> String {
        let deadline = Instant::now() + START_LIMIT;
        loop {
            let found = self.lines.lock().expect("log lines").iter().find_map(|l| {
                let line: serde_json::Value = serde_json::from_str(l).ok()?;
                if line["message"] != "listening" {
                    return None;
                }
                line["addr"].as_str().map(str::to_owned)
            });
            if let Some(addr) = found {
                return addr;
            }
            let exited = self.child.try_wait().expect("try_wait");
            assert!(
                exited.is_none() && Instant::now() < deadline,
                "hookguard run never listened (exit {exited:?}):\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Its log so far, for failure messages.
    pub fn log(&self) -> String {
        self.lines.lock().expect("log lines").join("\n")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
