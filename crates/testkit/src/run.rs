//! Runs a built binary (`env!("CARGO_BIN_EXE_…")` of the calling test) the way a user would.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// Runs `bin args` in `cwd` with `stdin` written to it, without the database variable of the
/// caller's environment (a test names its record explicitly).
pub fn run_in(bin: &str, args: &[&str], stdin: &str, cwd: &Path) -> Output {
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .env_remove("INFUSIO_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    if let Some(mut s) = child.stdin.take() {
        s.write_all(stdin.as_bytes()).expect("stdin written");
    }
    child.wait_with_output().expect("the binary finishes")
}

/// [`run_in`] from the system temporary directory, away from the workspace's data files (so
/// the binary must use what it embeds).
pub fn run(bin: &str, args: &[&str], stdin: &str) -> Output {
    run_in(bin, args, stdin, &std::env::temp_dir())
}

/// The exit code (`-1` when killed by a signal).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output read as JSON; the test fails with the text when it is not.
pub fn stdout_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is JSON ({e}): {}", stdout(o)))
}

/// Standard error read as JSON (the refusal object of the JSON commands).
pub fn stderr_json(o: &Output) -> Value {
    serde_json::from_slice(&o.stderr)
        .unwrap_or_else(|e| panic!("stderr is JSON ({e}): {}", stderr(o)))
}
