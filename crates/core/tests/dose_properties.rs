//! Properties of the dose engine: doses rise with weight and body size; no input panics.

use infusio_core::calc;
use proptest::prelude::*;
use serde_json::json;

fn output(name: &str, input: serde_json::Value, key: &str) -> f64 {
    calc::run(name, &input)
        .expect("valid input")
        .outputs
        .get(key)
        .expect("output")
        .value
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn per_kg_dose_is_monotone_in_weight(w1 in 1.0f64..250.0, dw in 0.0f64..100.0, per in 0.1f64..50.0) {
        let a = output("dose", json!({"dose_per": format!("{per} mg/kg"), "weight": format!("{w1} kg")}), "dose");
        let b = output("dose", json!({"dose_per": format!("{per} mg/kg"), "weight": format!("{} kg", w1 + dw)}), "dose");
        prop_assert!(b >= a);
    }

    #[test]
    fn per_m2_dose_is_monotone_in_weight_and_height(w in 5.0f64..200.0, h in 60.0f64..210.0, dw in 0.0f64..50.0, dh in 0.0f64..40.0) {
        let dose = |w: f64, h: f64| output("dose", json!({"dose_per": "375 mg/m2", "weight": format!("{w} kg"), "height": format!("{h} cm")}), "dose");
        prop_assert!(dose(w + dw, h) >= dose(w, h));
        prop_assert!(dose(w, h + dh) >= dose(w, h));
    }

    #[test]
    fn every_bsa_formula_is_monotone(w in 2.0f64..250.0, h in 40.0f64..220.0, dw in 0.0f64..30.0,
                                     method in prop::sample::select(vec!["mosteller", "dubois", "haycock", "gehan-george", "boyd"])) {
        let bsa = |w: f64| output("bsa", json!({"weight": format!("{w} kg"), "height": format!("{h} cm"), "method": method}), "bsa");
        prop_assert!(bsa(w + dw) >= bsa(w) - 1e-12);
    }

    #[test]
    fn carboplatin_never_exceeds_auc_times_cap_plus_25(auc in 1.0f64..8.0, gfr in 5.0f64..300.0) {
        let dose = output("carboplatin", json!({"target_auc": format!("{auc} mg/mL.min"), "gfr": format!("{gfr} mL/min")}), "dose");
        prop_assert!(dose <= auc * 150.0 + 1e-9);
    }

    #[test]
    fn rounded_dose_stays_within_tolerance_and_cap(per in 1.0f64..500.0, bsa in 0.5f64..2.6, tol in 1.0f64..20.0) {
        let c = calc::run("dose", &json!({"dose_per": format!("{per} mg/m2"), "bsa": format!("{bsa} m2"), "max_dose": "800 mg",
            "rounding": {"increment": "50 mg", "tolerance_percent": tol}})).expect("valid");
        let dose = c.outputs.get("dose").expect("dose").value;
        let rounded = c.outputs.get("dose_rounded").expect("rounded").value;
        prop_assert!(rounded <= 800.0 + 1e-9);
        prop_assert!(((rounded - dose) / dose * 100.0).abs() <= tol + 1e-9);
    }

    /// Any JSON object of strings given to any calculator returns a result or an error, never a panic.
    #[test]
    fn calculators_never_panic(keys in prop::collection::vec(prop::sample::select(vec![
            "weight", "height", "sex", "age", "serum_creatinine", "dose_per", "bsa", "max_dose", "target_auc", "gfr",
            "weight_basis", "scr_floor", "method", "equation", "volume", "duration", "rate", "drop_factor", "concentration",
            "dose_rate", "sodium", "target_sodium", "hemoglobin", "factor", "desired_rise", "product", "dextrose",
            "amino_acids", "lipid", "dose", "interval", "infusion_duration", "dehydration_percent", "bogus"]), 0..8),
        values in prop::collection::vec(prop::sample::select(vec![
            "70 kg", "0 kg", "-5 kg", "170 cm", "male", "female", "54 y", "1.2 mg/dL", "0 mg/dL", "5 mg/kg", "375 mg/m2",
            "1.8 m2", "2 mg", "5 mg/mL.min", "90 mL/min", "auto", "adjusted", "boyd", "250 mL", "2 h", "0 h", "125 mL/h",
            "20 gtt/mL", "1 mg/mL", "5 mcg/kg/min", "140 mEq/L", "9 g/dL", "viii", "ix", "30 %", "benefix", "1e308 mg", "", "U"]), 0..8),
        name in prop::sample::select(calc::CALCULATORS.iter().map(|(n, _)| *n).collect::<Vec<_>>()),
    ) {
        let mut obj = serde_json::Map::new();
        for (k, v) in keys.iter().zip(values.iter()) {
            obj.insert((*k).to_string(), json!(v));
        }
        let _ = calc::run(name, &serde_json::Value::Object(obj));
    }
}
