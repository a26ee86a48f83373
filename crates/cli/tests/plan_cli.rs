//! `infusio calc preparation` and `infusio calc titration` through the real binary, with the
//! drug library built into it.

use std::path::Path;

use infusio_testkit::run::{code, run_in, stdout};

use serde_json::Value;

fn run(args: &[&str], stdin: &str) -> (i32, String) {
    let out = run_in(env!("CARGO_BIN_EXE_infusio"), args, stdin, Path::new("."));
    (code(&out), stdout(&out))
}

fn json(args: &[&str], stdin: &str) -> (i32, Value) {
    let (code, out) = run(args, stdin);
    (code, serde_json::from_str(&out).expect("JSON output"))
}

#[test]
fn titration_rituximab_first_infusion_pump_steps() {
    // Rituxan PI 2.1: 700 mg at 2 mg/mL, first infusion: 25, 50 … 175 mL/h, 3.5 h.
    let (code, v) = json(
        &["calc", "titration", "--json"],
        r#"{"medication": "rituximab", "schedule": "first", "dose": "700 mg", "concentration": "2 mg/mL"}"#,
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["outputs"]["duration"]["value"], 3.5);
    assert_eq!(v["outputs"]["duration"]["unit"], "h");
    let steps = v["pump_steps"].as_array().expect("pump_steps");
    let rates: Vec<f64> = steps
        .iter()
        .map(|s| s["rate_ml_per_h"].as_f64().expect("rate"))
        .collect();
    assert_eq!(rates, vec![25.0, 50.0, 75.0, 100.0, 125.0, 150.0, 175.0]);
    for key in [
        "start_minute",
        "rate_ml_per_h",
        "dose_rate",
        "vtbi_ml",
        "duration_minutes",
    ] {
        assert!(!steps[0][key].is_null(), "pump step without {key}");
    }
    assert_eq!(steps[0]["dose_rate"]["unit"], "mg/h");
    let vtbi: f64 = steps
        .iter()
        .map(|s| s["vtbi_ml"].as_f64().expect("vtbi"))
        .sum();
    assert!((vtbi - 350.0).abs() < 1e-9);
    assert!(v["sources"].as_array().expect("sources").iter().any(|s| {
        s["citation"]
            .as_str()
            .is_some_and(|c| c.contains("RITUXAN"))
    }));
}

#[test]
fn titration_immune_globulin_per_kg() {
    let (code, v) = json(
        &["calc", "titration", "--json"],
        r#"{"medication": "immune-globulin", "product": "gammagard-liquid", "dose": "28 g", "concentration": "100 mg/mL", "weight": "70 kg"}"#,
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["outputs"]["initial_rate"]["value"], 35.0);
    assert_eq!(v["outputs"]["max_rate"]["value"], 350.0);
    assert_eq!(v["pump_steps"][0]["dose_rate"]["unit"], "mg/kg/min");
    // Without the weight the input is refused by name.
    let (code, v) = json(
        &["calc", "titration", "--json"],
        r#"{"medication": "immune-globulin", "product": "gammagard-liquid", "dose": "28 g", "concentration": "100 mg/mL"}"#,
    );
    assert_eq!(code, 2);
    assert_eq!(v["error"]["field"], "weight");
}

#[test]
fn preparation_infliximab_350_mg() {
    let (code, v) = json(
        &["calc", "preparation", "--json"],
        r#"{"medication": "infliximab", "dose": "350 mg", "usp_category": "category-1", "storage": "refrigerated"}"#,
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["vials"][0]["count"], 4);
    assert_eq!(v["vials"][0]["strength"]["value"], 100.0);
    assert_eq!(v["vials"][0]["strength"]["unit"], "mg");
    assert_eq!(v["outputs"]["waste"]["value"], 50.0);
    assert_eq!(v["outputs"]["withdraw_volume"]["value"], 35.0);
    assert_eq!(v["outputs"]["final_volume"]["value"], 250.0);
    assert_eq!(v["outputs"]["final_concentration"]["unit"], "mg/mL");
    assert_eq!(v["outputs"]["beyond_use"]["value"], 3.0);
    assert_eq!(v["bag"]["remove_ml"], 35.0);
    assert_eq!(v["reconstitution"][0]["diluent_ml"], 10.0);
}

#[test]
fn preparation_refusals_name_the_field() {
    let (code, v) = json(
        &["calc", "preparation", "--json"],
        r#"{"medication": "infliximab", "dose": "350 mg", "storage": "freezer"}"#,
    );
    assert_eq!(code, 2);
    assert_eq!(v["error"]["field"], "storage");
    assert_eq!(v["error"]["value"], "freezer");
    let (code, v) = json(
        &["calc", "preparation", "--json"],
        r#"{"medication": "infliximab", "dose": "350 mg", "dose_per": "5 mg/kg"}"#,
    );
    assert_eq!(code, 2);
    assert_eq!(v["error"]["field"], "dose_per");
}

#[test]
fn readable_reports() {
    let (code, text) = run(
        &["calc", "titration"],
        r#"{"medication": "rituximab", "schedule": "rapid", "dose": "700 mg", "concentration": "2 mg/mL"}"#,
    );
    assert_eq!(code, 0);
    assert!(
        text.contains("Pump step 1") && text.contains("140 mL/h"),
        "{text}"
    );
}
