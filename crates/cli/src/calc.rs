//! `infusio calc <calculator>`.

use infusio_core::calc;
use infusio_core::derivation::Calculation;

use crate::common::{Invocation, Outcome};

pub fn run(name: &str, inv: &Invocation) -> Outcome {
    // The library-backed calculators (preparation, titration) get the drug library built into
    // this binary; the others never load it, so a library problem cannot affect them.
    let library = if calc::LIBRARY_CALCULATORS.contains(&name) {
        match crate::library::embedded() {
            Ok(lib) => Some(lib),
            Err(e) => return Outcome::Failed(format!("the built-in drug library: {e}")),
        }
    } else {
        None
    };
    match calc::run_with_library(name, &inv.input, library.as_ref()) {
        Ok(c) => match serde_json::to_value(&c) {
            Ok(json) => Outcome::Done {
                json,
                text: report(&c),
            },
            Err(e) => Outcome::Failed(format!("serialising the result: {e}")),
        },
        Err(e) => Outcome::Refused(e),
    }
}

/// The readable report: results, findings, derivation, sources.
pub fn report(c: &Calculation) -> String {
    crate::common::report(&c.calculator, c)
}
