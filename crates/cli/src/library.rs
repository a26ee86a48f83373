//! `infusio library` subcommands.

use std::process::ExitCode;

pub fn run(sub: &str, arg: Option<&str>, json: bool) -> ExitCode {
    let _ = (arg, json);
    eprintln!("`infusio library {sub}` is not available in this build yet");
    ExitCode::from(1)
}
