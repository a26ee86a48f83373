//! `infusio calc <calculator>`.

use infusio_core::calc;
use infusio_core::derivation::Calculation;

use crate::common::{Invocation, Outcome};

pub fn run(name: &str, inv: &Invocation) -> Outcome {
    match calc::run(name, &inv.input) {
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
