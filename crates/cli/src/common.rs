//! What every subcommand shares: the JSON input, the output mode and the outcome.

use std::path::PathBuf;

use infusio_core::input::InputError;
use serde_json::Value;

/// One invocation of a JSON-driven subcommand.
pub struct Invocation {
    /// The input object (from standard input or `--input FILE`).
    pub input: Value,
    /// `--json`: print one JSON object; otherwise a readable report.
    pub json: bool,
    /// `--plot FILE.svg`, for commands that can draw.
    pub plot: Option<PathBuf>,
    /// Whether standard error is a terminal (progress bars only then).
    pub interactive: bool,
}

/// What a subcommand produced.
pub enum Outcome {
    /// A result (exit 0): the JSON object for `--json`, and the readable report.
    Done { json: Value, text: String },
    /// The input was refused (exit 2).
    Refused(InputError),
    /// An internal failure (exit 1): a bug or an I/O failure, never a user error.
    Failed(String),
}

/// Renders a calculation as a readable report: results, findings, derivation steps, sources.
pub fn report(title: &str, c: &infusio_core::derivation::Calculation) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "{title}");
    let width = c.outputs.0.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    for (name, qty) in &c.outputs.0 {
        let _ = writeln!(out, "  {name:<width$}  {}", qty.display());
    }
    if !c.findings.is_empty() {
        let _ = writeln!(out, "\nFindings");
        for f in &c.findings {
            let _ = writeln!(out, "  [{}] {}: {}", f.severity.as_str(), f.code, f.message);
        }
    }
    let _ = writeln!(out, "\nDerivation");
    for (i, s) in c.steps.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", i + 1, s.description);
        let _ = writeln!(out, "     {}", s.formula);
        if !s.inputs.is_empty() {
            let inputs: Vec<String> = s
                .inputs
                .iter()
                .map(|q| {
                    let d = infusio_core::units::Qty::new(q.value, &q.unit).display();
                    format!("{} = {d}", q.name)
                })
                .collect();
            let _ = writeln!(out, "     with {}", inputs.join(", "));
        }
        let _ = writeln!(out, "     = {}", s.result.display());
        if let Some(r) = &s.rounding {
            let _ = writeln!(out, "     rounding: {r}");
        }
    }
    let _ = writeln!(out, "\nSources");
    for s in &c.sources {
        let _ = writeln!(out, "  - {}", s.citation);
    }
    out
}
