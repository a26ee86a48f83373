//! `infusio pk` through the real binary: the JSON interface of the PK issue, exit codes, and
//! errors that name the field.

#![allow(clippy::unwrap_used)] // a test failing on unwrap is a failing test

use std::path::Path;

use infusio_testkit::run::{code, run_in, stdout};

use serde_json::{Value, json};

fn run(args: &[&str], input: &Value) -> (i32, Value, String) {
    let out = run_in(
        env!("CARGO_BIN_EXE_infusio"),
        args,
        &input.to_string(),
        Path::new("."),
    );
    let stdout = stdout(&out);
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (code(&out), json, stdout)
}

fn pk(sub: &str, input: &Value) -> (i32, Value) {
    let (code, json, _) = run(&["pk", sub, "--json"], input);
    (code, json)
}

fn refused_field(sub: &str, input: &Value) -> String {
    let (code, json) = pk(sub, input);
    assert_eq!(code, 2, "expected a refusal, got {json}");
    json["error"]["field"].as_str().unwrap().to_string()
}

fn simulate_input() -> Value {
    json!({
        "units": {"time": "h", "amount": "mg", "volume": "L"},
        "model": {"compartments": 1, "parameters": {"cl": 5, "v": 50}},
        "doses": [{"time": 0, "amount": 1000, "duration": 1}, {"time": 12, "amount": 500, "duration": 0}],
        "times": [0.5, 1, 12, 24]
    })
}

/// One compartment written out by hand: infusion 1000 mg over 1 h at 0 h, bolus 500 mg at 12 h.
fn one_compartment_by_hand(t: f64) -> f64 {
    let (cl, v) = (5.0f64, 50.0f64);
    let k = cl / v;
    let inf = if t <= 1.0 {
        1000.0 / cl * (1.0 - (-k * t).exp())
    } else {
        1000.0 / cl * (1.0 - (-k).exp()) * (-k * (t - 1.0)).exp()
    };
    let bolus = if t >= 12.0 {
        500.0 / v * (-k * (t - 12.0)).exp()
    } else {
        0.0
    };
    inf + bolus
}

#[test]
fn simulate_matches_the_one_compartment_formulas_and_includes_a_bolus_at_its_time() {
    let (code, out) = pk("simulate", &simulate_input());
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["unit"], "mg/L");
    let c: Vec<f64> = out["concentrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    for (t, c) in [0.5, 1.0, 12.0, 24.0].iter().zip(&c) {
        let expected = one_compartment_by_hand(*t);
        assert!(
            (c / expected - 1.0).abs() < 1e-12,
            "t = {t}: {c} vs {expected}"
        );
    }
    // At 12 h the 500 mg bolus (10 mg/L) is included.
    assert!(c[2] > 10.0);
    assert!(!out["steps"].as_array().unwrap().is_empty());
    assert!(!out["sources"].as_array().unwrap().is_empty());
}

#[test]
fn simulate_takes_the_units_block_for_its_bare_numbers() {
    let mut input = simulate_input();
    input["units"] = json!({"time": "min", "amount": "mcg", "volume": "mL"});
    input["model"]["parameters"] = json!({"cl": 5, "v": 3000});
    input["doses"] = json!([{"time": 0, "amount": 600, "duration": 0}]);
    input["times"] = json!([0, 600]);
    let (code, out) = pk("simulate", &input);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["unit"], "mcg/mL");
    let c0 = out["concentrations"][0].as_f64().unwrap();
    let c1 = out["concentrations"][1].as_f64().unwrap();
    assert!((c0 - 0.2).abs() < 1e-15);
    assert!((c1 - 0.2 * (-1.0f64).exp()).abs() < 1e-15);
}

#[test]
fn simulate_three_compartments_and_population_summary() {
    let input = json!({
        "units": {"time": "h", "amount": "mg", "volume": "L"},
        "model": {"compartments": 3},
        "subjects": [
            {"id": "a", "parameters": {"cl": 4, "v1": 10, "q2": 6, "v2": 20, "q3": 0.5, "v3": 100}},
            {"id": "b", "parameters": {"cl": 8, "v1": 10, "q2": 6, "v2": 20, "q3": 0.5, "v3": 100}}
        ],
        "output": "summary",
        "doses": [{"time": 0, "amount": 1000, "duration": 1}],
        "times": [0.5, 1, 2, 20000]
    });
    let (code, out) = pk("simulate", &input);
    assert_eq!(code, 0, "{out}");
    let s = out["subjects"].as_array().unwrap();
    assert_eq!(s.len(), 2);
    // By 20,000 h the whole dose is eliminated: AUC = dose / CL.
    assert!((s[0]["auc"]["value"].as_f64().unwrap() - 250.0).abs() < 1e-6);
    assert!((s[1]["auc"]["value"].as_f64().unwrap() - 125.0).abs() < 1e-6);
    assert_eq!(s[0]["auc"]["unit"], "mg.h/L");
    assert!(s[0]["cmax"]["value"].as_f64().unwrap() > s[0]["cmin"]["value"].as_f64().unwrap());
    assert!(s[0].get("concentrations").is_none());
}

#[test]
fn simulate_refusals_name_the_field() {
    let mut i = simulate_input();
    i["doses"][1]["amount"] = json!(-5);
    assert_eq!(refused_field("simulate", &i), "doses[1].amount");
    let mut i = simulate_input();
    i.as_object_mut().unwrap().remove("units");
    assert_eq!(refused_field("simulate", &i), "units");
    let mut i = simulate_input();
    i["dosez"] = json!([]);
    assert_eq!(refused_field("simulate", &i), "dosez");
    let mut i = simulate_input();
    i["model"]["parameters"]["cl"] = json!("5 L/h");
    assert_eq!(refused_field("simulate", &i), "model.parameters.cl");
    let mut i = simulate_input();
    i["model"]["parameters"]["v"] = json!(0);
    assert_eq!(refused_field("simulate", &i), "model.parameters.v");
    let mut i = simulate_input();
    i["model"]["compartments"] = json!(4);
    assert_eq!(refused_field("simulate", &i), "model.compartments");
}

fn fit_input() -> Value {
    json!({
        "model": "vancomycin-goti-2018",
        "covariates": {"weight": "80 kg", "crcl": "85 mL/min", "dialysis": false},
        "doses": [
            {"time": "0 h", "amount": "1000 mg", "duration": "1 h"},
            {"time": "12 h", "amount": "1000 mg", "duration": "1 h"},
            {"time": "24 h", "amount": "1000 mg", "duration": "1 h"},
            {"time": "36 h", "amount": "1000 mg", "duration": "1 h"}
        ],
        "observations": [{"time": "37.5 h", "concentration": "32 mg/L"}, {"time": "47.5 h", "concentration": "14.2 mg/L"}]
    })
}

#[test]
fn fit_reports_parameters_etas_predictions_exposure_and_objective() {
    let (code, out) = pk("fit", &fit_input());
    assert_eq!(code, 0, "{out}");
    for p in ["cl", "v1", "q", "v2"] {
        assert!(out["parameters"][p]["value"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(out["parameters"]["cl"]["unit"], "L/h");
    assert_eq!(out["parameters"]["v1"]["unit"], "L");
    assert_eq!(out["etas"].as_object().unwrap().len(), 3);
    assert_eq!(out["predictions"].as_array().unwrap().len(), 2);
    assert!(out["objective"].as_f64().unwrap().is_finite());
    assert_eq!(out["converged"], true);
    // AUC24 at steady state = 1000 mg × 24/12 / CL.
    let cl = out["parameters"]["cl"]["value"].as_f64().unwrap();
    let auc = out["auc24"]["value"].as_f64().unwrap();
    assert!((auc - 2000.0 / cl).abs() < 1e-9);
    assert_eq!(out["auc24"]["unit"], "mg.h/L");
    assert!(out["cmax"]["value"].as_f64().unwrap() > out["cmin"]["value"].as_f64().unwrap());
    // The predictions follow the levels more closely than the population predictions do.
    let p = &out["predictions"][1];
    let obs = p["observed"]["value"].as_f64().unwrap();
    assert!(
        (p["predicted"]["value"].as_f64().unwrap() - obs).abs()
            < (p["population_predicted"]["value"].as_f64().unwrap() - obs).abs()
    );
    assert!(
        out["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == "goti-2018")
    );
}

#[test]
fn fit_with_iso_times_equals_fit_with_hours() {
    let mut iso = fit_input();
    let times = [
        "2026-11-24T08:00:00Z",
        "2026-11-24T20:00:00Z",
        "2026-11-25T08:00:00Z",
        "2026-11-25T20:00:00Z",
    ];
    for (i, t) in times.iter().enumerate() {
        iso["doses"][i]["time"] = json!(t);
    }
    // 37.5 h and 47.5 h after the first dose, one written with a +01:00 offset.
    iso["observations"][0]["time"] = json!("2026-11-25T21:30:00Z");
    iso["observations"][1]["time"] = json!("2026-11-26T08:30:00+01:00");
    let (code, a) = pk("fit", &iso);
    assert_eq!(code, 0, "{a}");
    let (_, b) = pk("fit", &fit_input());
    assert_eq!(a["parameters"], b["parameters"]);
    assert_eq!(a["objective"], b["objective"]);
    assert_eq!(a["time_origin"], "2026-11-24T08:00:00Z");
}

#[test]
fn fit_from_patient_fields_computes_crcl_as_the_model_specifies() {
    let mut i = fit_input();
    i["covariates"] = json!({"weight": "80 kg", "age": "70 y", "sex": "male", "serum_creatinine": "0.7 mg/dL", "dialysis": false});
    let (code, out) = pk("fit", &i);
    assert_eq!(code, 0, "{out}");
    // Age > 65 and SCr < 1 → SCr 1: (140 − 70) × 80 / 72 = 77.78 mL/min.
    let crcl = out["covariates"]["crcl"]["value"].as_f64().unwrap();
    assert!((crcl - 70.0 * 80.0 / 72.0).abs() < 1e-9);
    assert!(
        out["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["description"].as_str().unwrap().contains("Cockcroft"))
    );
}

#[test]
fn fit_refusals_name_the_field() {
    let mut i = fit_input();
    i["observations"][0]["concentration"] = json!(14.2);
    assert_eq!(refused_field("fit", &i), "observations[0].concentration");
    let mut i = fit_input();
    i["doses"][2]["amount"] = json!("1000 kg/h");
    assert_eq!(refused_field("fit", &i), "doses[2].amount");
    let mut i = fit_input();
    i["doses"][1]["time"] = json!("2026-11-24T20:00:00Z");
    assert!(refused_field("fit", &i).starts_with("doses[1]"));
    let mut i = fit_input();
    i["model"] = json!("vancomycin-unknown");
    assert_eq!(refused_field("fit", &i), "model");
    let mut i = fit_input();
    i["covariates"].as_object_mut().unwrap().remove("dialysis");
    assert_eq!(refused_field("fit", &i), "covariates.dialysis");
    let mut i = fit_input();
    i["observations"] = json!([]);
    assert_eq!(refused_field("fit", &i), "observations");
    let mut i = fit_input();
    i["doses"][0]["time"] = json!("2026-02-30T08:00:00Z");
    assert_eq!(refused_field("fit", &i), "doses[0].time");
    let mut i = fit_input();
    i["doses"][0]["time"] = json!("2026-11-24T08:00:00");
    assert_eq!(
        refused_field("fit", &i),
        "doses[0].time",
        "a date-time without an offset is refused"
    );
}

#[test]
fn fit_with_a_recalled_model_warns_that_its_parameters_are_unverified() {
    let mut i = fit_input();
    i["model"] = json!("vancomycin-thomson-2009");
    // Unverified models are not offered for patient care: refused without the research flag.
    let (code, out) = pk("fit", &i);
    assert_eq!(code, 2, "{out}");
    assert!(out.to_string().contains("research"), "{out}");
    i["research"] = json!(true);
    let (code, out) = pk("fit", &i);
    assert_eq!(code, 0, "{out}");
    assert!(
        out["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "model.parameters_unverified" && f["severity"] == "warning")
    );
    let (_, goti) = pk("fit", &fit_input());
    assert!(
        !goti["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "model.parameters_unverified")
    );
}

#[test]
fn recommend_ranks_regimens_that_meet_the_target_and_respect_the_rate() {
    let mut i = fit_input();
    i["target"] = json!({"auc24": ["400 mg.h/L", "600 mg.h/L"]});
    i["increment"] = json!("250 mg");
    i["intervals"] = json!(["8 h", "12 h", "24 h"]);
    let (code, out) = pk("recommend", &i);
    assert_eq!(code, 0, "{out}");
    let regimens = out["regimens"].as_array().unwrap();
    assert!(!regimens.is_empty());
    let first = &regimens[0];
    assert_eq!(first["rank"], 1);
    assert_eq!(first["meets_target"], true);
    let auc = first["auc24"]["value"].as_f64().unwrap();
    assert!((400.0..=600.0).contains(&auc));
    for r in regimens {
        let dose = r["dose"]["value"].as_f64().unwrap();
        assert_eq!(dose % 250.0, 0.0);
        assert!(
            r["rate"]["value"].as_f64().unwrap() <= 10.0 + 1e-9,
            "vancomycin at most 10 mg/min: {r}"
        );
        assert!([8.0, 12.0, 24.0].contains(&r["interval"]["value"].as_f64().unwrap()));
    }
}

#[test]
fn recommend_without_levels_uses_the_population_prior() {
    let mut i = fit_input();
    i.as_object_mut().unwrap().remove("observations");
    i["target"] = json!({"auc24": ["400 mg.h/L", "600 mg.h/L"]});
    let (code, out) = pk("recommend", &i);
    assert_eq!(code, 0, "{out}");
    assert!(
        out["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "pk.a_priori")
    );
    assert!(out.get("etas").is_none());
}

#[test]
fn recommend_for_an_aminoglycoside_by_peak_and_trough() {
    let input = json!({
        "model": "gentamicin-hull-sarubbi-1976",
        "research": true,
        "covariates": {"weight": "70 kg", "crcl": "90 mL/min", "dialysis": false},
        "doses": [{"time": "0 h", "amount": "120 mg", "duration": "30 min"}, {"time": "8 h", "amount": "120 mg", "duration": "30 min"}],
        "observations": [{"time": "9 h", "concentration": "5.1 mg/L"}, {"time": "15.5 h", "concentration": "1.2 mg/L"}],
        "target": {"peak": ["8 mg/L", "10 mg/L"], "trough": ["0 mg/L", "1 mg/L"]},
        "increment": "20 mg",
        "intervals": ["8 h", "12 h", "24 h"]
    });
    let (code, out) = pk("recommend", &input);
    assert_eq!(code, 0, "{out}");
    let first = &out["regimens"][0];
    assert_eq!(first["meets_target"], true);
    let peak = first["cmax"]["value"].as_f64().unwrap();
    let trough = first["cmin"]["value"].as_f64().unwrap();
    assert!((8.0..=10.0).contains(&peak) && trough <= 1.0, "{first}");
    assert_eq!(first["dose"]["value"].as_f64().unwrap() % 20.0, 0.0);
    // One-compartment model: the volume's η is named like its parameter.
    assert!(out["etas"]["v"].is_number(), "{}", out["etas"]);
    assert!(out["parameters"]["v"]["value"].is_number());
}

fn pta_input(seed: u64) -> Value {
    json!({
        "model": "vancomycin-goti-2018",
        "covariates": {"weight": {"mean": "80 kg", "sd": "15 kg", "min": "40 kg", "max": "150 kg"}, "crcl": "85 mL/min", "dialysis": false},
        "regimens": [{"dose": "1000 mg", "interval": "12 h"}, {"dose": "250 mg", "interval": "24 h"}],
        "n": 2000,
        "seed": seed,
        "target": {"auc24": ["400 mg.h/L", "600 mg.h/L"]}
    })
}

#[test]
fn pta_is_reproducible_by_seed() {
    let (code, a) = pk("pta", &pta_input(1));
    assert_eq!(code, 0, "{a}");
    let (_, b) = pk("pta", &pta_input(1));
    let (_, c) = pk("pta", &pta_input(2));
    assert_eq!(a, b);
    assert_ne!(a["regimens"], c["regimens"]);
    let p0 = a["regimens"][0]["probability"].as_f64().unwrap();
    let p1 = a["regimens"][1]["probability"].as_f64().unwrap();
    assert!(
        (0.0..=1.0).contains(&p0) && p1 < p0,
        "250 mg a day rarely reaches 400 mg.h/L"
    );
    // The infusion duration was derived from the 10 mg/min limit: 1000 mg over 2 h.
    assert_eq!(a["regimens"][0]["duration"]["value"], 2.0);
}

#[test]
fn pta_refuses_a_bare_number_weight() {
    let mut i = pta_input(1);
    i["covariates"]["weight"] = json!(80);
    assert_eq!(refused_field("pta", &i), "covariates.weight");
}

#[test]
fn plot_writes_an_svg_with_observations_and_the_target_band() {
    let dir = std::env::temp_dir().join(format!("infusio-pk-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fit.svg");
    let (code, _, text) = run(
        &["pk", "fit", "--plot", path.to_str().unwrap()],
        &fit_input(),
    );
    assert_eq!(code, 0);
    assert!(text.contains("AUC24 at steady state"), "{text}");
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg"));
    assert_eq!(svg.matches("<circle").count(), 2, "one circle per level");
    assert!(svg.contains("<polyline"));
    assert!(svg.contains("AUC24 400-600"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unknown_subcommand_is_refused() {
    let (code, out) = pk("simulat", &simulate_input());
    assert_eq!(code, 2);
    assert_eq!(out["error"]["field"], "(subcommand)");
}
