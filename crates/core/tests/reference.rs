//! Published worked examples, as data: `tests/reference/<calculator>.toml`.
//!
//! Each `[[case]]` carries its citation and evidence class (A: authoritative source; T:
//! third-party page whose numbers were recomputed and agree; C: computed from the cited
//! formula, pending clinical sign-off). One runner checks them all, so a new example is a
//! few lines of data, never new code.

mod common;

use std::path::Path;

use infusio_core::calc;
use serde_json::Value;

#[derive(Debug)]
struct Failure(String);

/// The drug library from `data/library`, for the calculators that read it (`preparation`,
/// `titration`); every calculator is run through `run_with_library`.
fn library() -> &'static infusio_core::library::Library {
    common::shared()
}

fn run(
    calculator: &str,
    input: &Value,
) -> Result<infusio_core::derivation::Calculation, infusio_core::input::InputError> {
    calc::run_with_library(calculator, input, Some(library()))
}

fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

fn check_case(calculator: &str, case: &toml::Table, failures: &mut Vec<Failure>) -> usize {
    let name = case
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or("(unnamed)");
    let label = format!("{calculator}: {name}");
    let citation = case.get("citation").and_then(|v| v.as_str()).unwrap_or("");
    let class = case.get("class").and_then(|v| v.as_str()).unwrap_or("");
    assert!(
        !citation.trim().is_empty(),
        "{label}: every case needs a citation"
    );
    assert!(
        matches!(class, "A" | "T" | "C"),
        "{label}: class must be A, T or C"
    );
    if class == "C" {
        assert_eq!(
            case.get("pending_clinical_signoff")
                .and_then(|v| v.as_bool()),
            Some(true),
            "{label}: computed [C] cases must be marked pending_clinical_signoff = true"
        );
    }
    let input = toml_to_json(case.get("input").expect("case.input"));
    let mut checked = 0;
    if let Some(field) = case.get("error_field").and_then(|v| v.as_str()) {
        match run(calculator, &input) {
            Err(e) if e.field == field => {}
            Err(e) => failures.push(Failure(format!(
                "{label}: error on field '{}', expected '{field}' ({})",
                e.field, e.message
            ))),
            Ok(_) => failures.push(Failure(format!(
                "{label}: expected an input error on '{field}', got a result"
            ))),
        }
        return 1;
    }
    let result = match run(calculator, &input) {
        Ok(r) => r,
        Err(e) => {
            failures.push(Failure(format!("{label}: refused: {e}")));
            return 0;
        }
    };
    assert!(!result.steps.is_empty(), "{label}: no derivation steps");
    assert!(!result.sources.is_empty(), "{label}: no sources");
    if let Some(toml::Value::Table(expect)) = case.get("expect") {
        for (output, spec) in expect {
            let spec = spec.as_table().expect("expect.<output> is a table");
            let want = spec
                .get("value")
                .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
                .expect("value");
            let tol = spec
                .get("tolerance")
                .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
                .expect("tolerance");
            match result.outputs.get(output) {
                None => failures.push(Failure(format!("{label}: no output '{output}'"))),
                Some(q) => {
                    if (q.value - want).abs() > tol {
                        failures.push(Failure(format!(
                            "{label}: {output} = {} {}, expected {want} ± {tol}",
                            q.value, q.unit
                        )));
                    }
                    if let Some(unit) = spec.get("unit").and_then(|v| v.as_str())
                        && q.unit != unit
                    {
                        failures.push(Failure(format!(
                            "{label}: {output} unit '{}', expected '{unit}'",
                            q.unit
                        )));
                    }
                }
            }
            checked += 1;
        }
    }
    let codes: Vec<&str> = result.findings.iter().map(|f| f.code.as_str()).collect();
    for code in case
        .get("findings")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
    {
        let code = code.as_str().expect("finding code");
        if !codes.contains(&code) {
            failures.push(Failure(format!(
                "{label}: expected finding '{code}', got {codes:?}"
            )));
        }
        checked += 1;
    }
    for code in case
        .get("no_findings")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
    {
        let code = code.as_str().expect("finding code");
        if codes.contains(&code) {
            failures.push(Failure(format!("{label}: unexpected finding '{code}'")));
        }
        checked += 1;
    }
    assert!(checked > 0, "{label}: the case checks nothing");
    checked
}

#[test]
fn published_worked_examples() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference");
    let mut failures = Vec::new();
    let mut per_calculator = std::collections::BTreeMap::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/reference")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let calculator = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("file name")
            .to_string();
        let text = std::fs::read_to_string(&path).expect("read");
        let doc: toml::Table =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let cases = doc
            .get("case")
            .and_then(|v| v.as_array())
            .expect("[[case]]");
        let mut cited_examples = 0;
        for case in cases {
            let case = case.as_table().expect("case table");
            check_case(&calculator, case, &mut failures);
            if !case.contains_key("error_field") {
                cited_examples += 1;
            }
        }
        per_calculator.insert(calculator, cited_examples);
    }
    for (name, _) in calc::CALCULATORS {
        let n = per_calculator.get(*name).copied().unwrap_or(0);
        if n < 2 {
            failures.push(Failure(format!(
                "calculator '{name}' has {n} worked examples; at least 2 are required"
            )));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures
            .iter()
            .map(|f| f.0.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
