//! Shared by the check and library tests: the shipped library and a base request.
#![allow(dead_code, unused_imports)] // each test binary uses a part of it

use infusio_core::check::{CheckResult, check_json};
use infusio_core::derivation::Severity;
use infusio_core::library::Library;
use serde_json::Value;

pub use infusio_testkit::json::{remove, set};
pub use infusio_testkit::{library_dir, library_files};

pub fn library() -> Library {
    let files = library_files();
    match Library::load(files.iter().map(|(n, t)| (n.as_str(), t.as_str()))) {
        Ok(lib) => lib,
        Err(errors) => panic!(
            "the library does not load:\n{}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// The contract's example input.
pub fn contract_example() -> Value {
    infusio_testkit::json::check_contract_example()
}

/// The first typical order of a library entry.
pub fn typical(lib: &Library, id: &str) -> Value {
    lib.get(id)
        .and_then(|e| e.typical_order.first().cloned())
        .unwrap_or_else(|| panic!("{id} has a typical order"))
}

/// The library, loaded once per test binary.
pub fn shared() -> &'static Library {
    static LIB: std::sync::OnceLock<Library> = std::sync::OnceLock::new();
    LIB.get_or_init(library)
}

/// The check of `input` on the shared library; panics with the refusal (a test input must be valid).
pub fn run(input: &Value) -> CheckResult {
    match check_json(shared(), input) {
        Ok(r) => r,
        Err(e) => panic!("input refused: {e}"),
    }
}

/// Every finding of `r`, one per line: code, severity and message (for assertion messages).
pub fn codes(r: &CheckResult) -> String {
    r.findings
        .iter()
        .map(|f| format!("{} ({}): {}", f.code, f.severity.as_str(), f.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The highest severity among `r`'s findings with `code`.
pub fn severity_of(r: &CheckResult, code: &str) -> Option<Severity> {
    r.findings
        .iter()
        .filter(|f| f.code == code)
        .map(|f| f.severity)
        .max()
}

/// Asserts that `r` has a finding `code` whose highest severity is `expected`; the message
/// lists every finding.
#[track_caller]
pub fn assert_severity(r: &CheckResult, code: &str, expected: Severity) {
    assert_eq!(severity_of(r, code), Some(expected), "{code}: {}", codes(r));
}
