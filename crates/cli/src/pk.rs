//! `infusio pk`: simulate, fit, recommend, pta. The contract (reading, validation, defaults,
//! the pipelines and the plot) is `infusio_pk::contract`; this module prints its answer,
//! writes the plot and shows progress on a terminal.

use infusio_pk::contract::{self, Options};

use crate::common::{Invocation, Outcome};

/// A virtual population at least this large shows progress on a terminal.
const PROGRESS_FROM_N: usize = 200_000;

pub fn run(sub: &str, inv: &Invocation) -> Outcome {
    let options = Options {
        plot: inv.plot.is_some(),
    };
    let show = inv.interactive && !inv.json;
    let mut shown = false;
    let mut progress = |done: usize, n: usize| {
        if show && n >= PROGRESS_FROM_N && done.is_multiple_of(10_000) {
            eprint!("\r  simulated {done} of {n} virtual patients");
            shown = true;
        }
    };
    let result = contract::run(sub, &inv.input, &options, &mut progress);
    if shown {
        eprintln!();
    }
    match result {
        Ok(out) => {
            if let (Some(path), Some(svg)) = (&inv.plot, &out.plot)
                && let Err(e) = std::fs::write(path, svg)
            {
                return Outcome::Failed(format!("writing the plot to {}: {e}", path.display()));
            }
            let text = format!(
                "{}{}",
                out.preface,
                crate::common::report(&out.title, &out.calculation)
            );
            Outcome::Done {
                json: out.json,
                text,
            }
        }
        Err(e) => Outcome::Refused(e),
    }
}
