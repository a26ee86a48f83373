//! `infusio check`: dose-error reduction against the drug library.

use std::fmt::Write;
use std::path::Path;

use infusio_core::check::{CheckResult, check_json};
use infusio_core::input::InputError;
use infusio_core::library::Library;

use crate::common::{Invocation, Outcome};
use crate::library::{embedded, load_dir};

pub fn run(inv: &Invocation, library: Option<&Path>) -> Outcome {
    let lib = match library {
        None => match embedded() {
            Ok(l) => l,
            Err(e) => {
                return Outcome::Failed(format!("the built-in drug library does not load: {e}"));
            }
        },
        Some(dir) => match load_dir(dir) {
            Ok(l) => l,
            Err(message) => {
                return Outcome::Refused(InputError::new(
                    "--library",
                    dir.display().to_string(),
                    message,
                ));
            }
        },
    };
    run_with(&lib, inv)
}

fn run_with(lib: &Library, inv: &Invocation) -> Outcome {
    match check_json(lib, &inv.input) {
        Ok(result) => match serde_json::to_value(&result) {
            Ok(json) => Outcome::Done {
                json,
                text: report(&result),
            },
            Err(e) => Outcome::Failed(format!("serialising the result: {e}")),
        },
        Err(e) => Outcome::Refused(e),
    }
}

/// The readable report: verdict, findings, derivation, sources.
fn report(r: &CheckResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Verdict: {}",
        r.verdict.as_str().to_uppercase().replace('_', " ")
    );
    if let Some(m) = &r.medication {
        let _ = writeln!(
            out,
            "Medication: {} (library {} v{}{})",
            m.generic_name,
            m.id,
            m.library_version,
            m.rule
                .as_ref()
                .map(|x| format!(", rule {x}"))
                .unwrap_or_default()
        );
    }
    if r.findings.is_empty() {
        let _ = writeln!(out, "\nNo findings.");
    } else {
        let _ = writeln!(out, "\nFindings");
        for f in &r.findings {
            let _ = writeln!(out, "  [{}] {}: {}", f.severity.as_str(), f.code, f.message);
        }
    }
    if !r.steps.is_empty() {
        let _ = writeln!(out, "\nDerivation");
        for (i, s) in r.steps.iter().enumerate() {
            let _ = writeln!(
                out,
                "  {}. {}: {} = {}",
                i + 1,
                s.description,
                s.formula,
                s.result.display()
            );
        }
    }
    if !r.sources.is_empty() {
        let _ = writeln!(out, "\nSources");
        for s in &r.sources {
            let _ = writeln!(out, "  - [{}] {}", s.id, s.citation);
        }
    }
    out
}
