//! `infusio check`.

use std::path::Path;

use crate::common::{Invocation, Outcome};

pub fn run(inv: &Invocation, library: Option<&Path>) -> Outcome {
    let _ = (inv, library);
    Outcome::Failed("`infusio check` is not available in this build yet".to_string())
}
