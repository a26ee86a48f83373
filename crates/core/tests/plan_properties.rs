//! No input makes the preparation or titration calculators panic; when they answer, the pump
//! steps infuse exactly the bag and the vials hold the dose.

mod common;

use infusio_core::calc::run_with_library;
use infusio_core::library::Library;
use proptest::prelude::*;
use serde_json::json;

fn library() -> &'static Library {
    common::shared()
}

const MEDICATIONS: [&str; 8] = [
    "rituximab",
    "ocrelizumab",
    "infliximab",
    "immune-globulin",
    "vancomycin",
    "potassium-chloride",
    "factor-viii",
    "carboplatin",
];
const UNITS: [&str; 6] = ["mg", "g", "mcg", "units", "mEq", "mL"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn titration_never_panics(
        med in prop::sample::select(MEDICATIONS.to_vec()),
        schedule in prop::sample::select(vec!["first", "subsequent", "rapid", "shorter", "x"]),
        dose in prop_oneof![prop::num::f64::ANY, 1.0f64..3000.0],
        unit in prop::sample::select(UNITS.to_vec()),
        conc in prop_oneof![0.0f64..1e4, 0.5f64..5.0],
        weight in -10.0f64..400.0,
        with_weight in any::<bool>(),
        product in prop::sample::select(vec![None, Some("gammagard-liquid"), Some("privigen")]),
        reaction_at in 0.0f64..600.0,
        resume in 0.0f64..120.0,
        with_reaction in any::<bool>(),
    ) {
        let mut input = json!({
            "medication": med, "schedule": schedule,
            "dose": format!("{dose} {unit}"), "concentration": format!("{conc} mg/mL"),
        });
        if with_weight { input["weight"] = json!(format!("{weight} kg")); }
        if let Some(p) = product { input["product"] = json!(p); }
        if with_reaction {
            input["reaction"] = json!({"at": format!("{reaction_at} min"), "resume_percent": resume, "hold": "30 min"});
        }
        let result = run_with_library("titration", &input, Some(library()));
        if let Ok(c) = result {
            let total = c.outputs.get("total_volume").expect("total_volume").value;
            let steps = c.details["pump_steps"].as_array().expect("pump_steps");
            let vtbi: f64 = steps.iter().map(|s| s["vtbi_ml"].as_f64().expect("vtbi")).sum();
            prop_assert!((vtbi - total).abs() <= 1e-6 * total.max(1.0));
            prop_assert!(c.outputs.get("duration").expect("duration").value > 0.0);
        }
    }

    #[test]
    fn preparation_never_panics(
        med in prop::sample::select(MEDICATIONS.to_vec()),
        dose in prop_oneof![prop::num::f64::ANY, 1.0f64..3000.0],
        unit in prop::sample::select(UNITS.to_vec()),
        bags in prop::collection::vec(0.0f64..2000.0, 0..3),
        with_bags in any::<bool>(),
    ) {
        let mut input = json!({"medication": med, "dose": format!("{dose} {unit}")});
        if with_bags {
            input["bag_sizes"] = json!(bags.iter().map(|b| format!("{b} mL")).collect::<Vec<_>>());
        }
        if let Ok(c) = run_with_library("preparation", &input, Some(library())) {
            let d = c.outputs.get("dose").expect("dose").value;
            let held = c.outputs.get("total_in_vials").expect("total").value;
            prop_assert!(held >= d * (1.0 - 1e-9));
            prop_assert!(c.outputs.get("waste").expect("waste").value >= -1e-9 * d);
        }
    }
}

/// The properties above are only meaningful if many generated inputs succeed: check that a
/// plain realistic input does.
#[test]
fn realistic_inputs_succeed() {
    for (med, sched) in [
        ("rituximab", "first"),
        ("rituximab", "rapid"),
        ("ocrelizumab", "subsequent"),
    ] {
        let input = json!({"medication": med, "schedule": sched, "dose": "600 mg", "concentration": "1.2 mg/mL"});
        assert!(
            run_with_library("titration", &input, Some(library())).is_ok(),
            "{med} {sched}"
        );
    }
    // Carboplatin 10 mg/mL with the bags in stock given.
    let input =
        json!({"medication": "carboplatin", "dose": "600 mg", "bag_sizes": ["250 mL", "500 mL"]});
    let c = run_with_library("preparation", &input, Some(library())).expect("carboplatin");
    assert!((c.outputs.get("withdraw_volume").expect("withdraw").value - 60.0).abs() < 1e-9);
    // FIXME: the vancomycin entry has no reconstitution volume yet, so its preparation is
    // refused, naming the product and the missing data (never a guessed volume).
    let input = json!({"medication": "vancomycin", "dose": "1750 mg"});
    let e = run_with_library("preparation", &input, Some(library())).expect_err("no data");
    assert_eq!(e.field, "product");
    assert!(e.message.contains("reconstitution"), "{}", e.message);
}
