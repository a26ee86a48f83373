//! `infusio serve`.

use std::process::ExitCode;

use crate::StoreArgs;

pub fn run(demo: bool, listen: &str, store: &StoreArgs) -> ExitCode {
    let _ = (demo, listen, store);
    eprintln!("`infusio serve` is not available in this build yet; try `infusio tour`");
    ExitCode::from(1)
}
