//! `infusio schedule` subcommands.

use crate::common::{Invocation, Outcome};

pub fn run(sub: &str, inv: &Invocation) -> Outcome {
    let _ = inv;
    Outcome::Failed(format!("`infusio schedule {sub}` is not available in this build yet"))
}
