//! `infusio calc` through the real binary: for every calculator, the first worked example of
//! its reference file must give exit 0 and the contract's JSON shape, and every error case
//! must give exit 2 with `{"error": {"field", "value", "message"}}` naming the field.

use std::path::Path;

use infusio_testkit::run::{code, run_in, stderr, stdout};

use serde_json::Value;

fn run(args: &[&str], stdin: &str) -> (i32, String, String) {
    let out = run_in(env!("CARGO_BIN_EXE_infusio"), args, stdin, Path::new("."));
    (code(&out), stdout(&out), stderr(&out))
}

fn toml_to_json(v: &toml::Value) -> Value {
    serde_json::to_value(v).expect("toml to json")
}

#[test]
fn every_calculator_through_the_binary() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/reference");
    let mut calculators_seen = 0;
    for (name, _) in infusio_core::calc::CALCULATORS {
        let path = dir.join(format!("{name}.toml"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc: toml::Table = toml::from_str(&text).expect("toml");
        let cases = doc["case"].as_array().expect("cases");
        let mut ok_checked = false;
        let mut error_checked = false;
        for case in cases {
            let input = toml_to_json(&case["input"]).to_string();
            if let Some(field) = case.get("error_field").and_then(|f| f.as_str()) {
                let (code, stdout, _) = run(&["calc", name, "--json"], &input);
                assert_eq!(code, 2, "{name}: bad input must exit 2: {stdout}");
                let v: Value = serde_json::from_str(&stdout).expect("error JSON");
                assert_eq!(v["error"]["field"], field, "{name}: {stdout}");
                assert!(
                    v["error"]["message"]
                        .as_str()
                        .is_some_and(|m| !m.is_empty())
                );
                assert!(v["error"]["value"].is_string());
                error_checked = true;
            } else if !ok_checked {
                let (code, stdout, stderr) = run(&["calc", name, "--json"], &input);
                assert_eq!(code, 0, "{name}: {stderr}");
                let v: Value = serde_json::from_str(&stdout).expect("JSON");
                assert_eq!(v["calculator"], *name);
                for key in ["outputs", "steps", "sources", "findings"] {
                    assert!(!v[key].is_null(), "{name}: missing {key}");
                }
                for (_, q) in v["outputs"].as_object().expect("outputs object") {
                    assert!(
                        q["value"].is_number() && q["unit"].is_string(),
                        "{name}: {q}"
                    );
                }
                for step in v["steps"].as_array().expect("steps") {
                    for key in ["description", "formula", "result"] {
                        assert!(!step[key].is_null(), "{name}: step without {key}");
                    }
                }
                // The readable report shows the results and the derivation.
                let (code, report, _) = run(&["calc", name], &input);
                assert_eq!(code, 0);
                assert!(
                    report.contains("Derivation") && report.contains("Sources"),
                    "{report}"
                );
                ok_checked = true;
            }
        }
        assert!(ok_checked, "{name}: no valid case");
        // A typo'd key is refused, whatever the calculator.
        let (code, stdout, _) = run(&["calc", name, "--json"], r#"{"weight_bassis": "auto"}"#);
        assert_eq!(code, 2, "{name}");
        let v: Value = serde_json::from_str(&stdout).expect("error JSON");
        assert!(v["error"]["field"].is_string());
        assert!(
            error_checked,
            "{name}: no refusal case in its reference file"
        );
        calculators_seen += 1;
    }
    assert!(calculators_seen >= 18);
}

#[test]
fn unknown_keys_are_refused_by_name() {
    let (code, stdout, _) = run(
        &["calc", "bsa", "--json"],
        r#"{"weight": "70 kg", "height": "170 cm", "weight_bassis": "auto"}"#,
    );
    assert_eq!(code, 2);
    let v: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(v["error"]["field"], "weight_bassis");
    assert_eq!(v["error"]["value"], "auto");
}

#[test]
fn malformed_json_and_unknown_calculator_are_refused() {
    let (code, stdout, _) = run(&["calc", "bsa", "--json"], "{weight: 70");
    assert_eq!(code, 2);
    assert!(stdout.contains("\"error\""));
    let (code, stdout, _) = run(&["calc", "bsaa", "--json"], "{}");
    assert_eq!(code, 2);
    let v: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(v["error"]["field"], "calculator");
}

#[test]
fn input_from_a_file() {
    let dir = std::env::temp_dir().join(format!("infusio-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let file = dir.join("in.json");
    std::fs::write(&file, r#"{"weight": "70 kg", "height": "170 cm"}"#).expect("write");
    let (code, stdout, _) = run(
        &[
            "calc",
            "bmi",
            "--json",
            "--input",
            file.to_str().expect("utf8"),
        ],
        "",
    );
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&stdout).expect("JSON");
    assert!((v["outputs"]["bmi"]["value"].as_f64().expect("bmi") - 24.221).abs() < 0.001);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tour_runs() {
    let (code, stdout, stderr) = run(&["tour"], "");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("carboplatin") && stdout.contains("900 mg"),
        "{stdout}"
    );
}
