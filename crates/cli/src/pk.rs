//! `infusio pk` subcommands.

use crate::common::{Invocation, Outcome};

pub fn run(sub: &str, inv: &Invocation) -> Outcome {
    let _ = inv;
    Outcome::Failed(format!("`infusio pk {sub}` is not available in this build yet"))
}
