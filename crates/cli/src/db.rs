//! `infusio db` and `infusio audit`.

use std::path::Path;
use std::process::ExitCode;

use crate::StoreArgs;

pub fn run_db(sub: &str, file: Option<&Path>, store: &StoreArgs) -> ExitCode {
    let _ = (file, store);
    eprintln!("`infusio db {sub}` is not available in this build yet");
    ExitCode::from(1)
}

pub fn run_audit(sub: &str, json: bool, store: &StoreArgs) -> ExitCode {
    let _ = (json, store);
    eprintln!("`infusio audit {sub}` is not available in this build yet");
    ExitCode::from(1)
}
