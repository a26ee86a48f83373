//! Properties of the check: no panic on any input, the verdict is the most severe finding,
//! and scaling a dose up by 10 never makes a verdict less severe.

mod common;

use infusio_core::check::{Verdict, check_json};
use infusio_core::derivation::Severity;
use proptest::prelude::*;
use serde_json::json;

const UNITS: [&str; 12] = [
    "mg", "mcg", "g", "units", "mEq", "mmol", "mL", "kg", "mg/kg", "U", "cc", "",
];

fn ids() -> Vec<String> {
    let mut v: Vec<String> = common::shared()
        .entries()
        .iter()
        .map(|e| e.id.clone())
        .collect();
    v.push("unobtainium".to_string());
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn no_panic_on_any_order(
        med in 0usize..51,
        dose in prop_oneof![Just(0.0), Just(-1.0), 1e-9f64..1e9],
        unit in 0usize..UNITS.len(),
        weight in prop_oneof![Just(None), (0.1f64..600.0).prop_map(Some)],
        age in prop_oneof![Just(None), (0.0f64..130.0).prop_map(Some)],
        rate in prop_oneof![Just(None), (0.0f64..5000.0).prop_map(Some)],
        volume in prop_oneof![Just(None), (0.0f64..5000.0).prop_map(Some)],
        hours in prop_oneof![Just(None), (0.0f64..100.0).prop_map(Some)],
        line in prop_oneof![Just(None), Just(Some("peripheral")), Just(Some("central")), Just(Some("arterial"))],
        n in prop_oneof![Just(None), (0u64..20).prop_map(Some)],
        scr in prop_oneof![Just(None), (0.01f64..40.0).prop_map(Some)],
    ) {
        let ids = ids();
        let mut order = json!({"medication": ids[med % ids.len()], "dose": format!("{dose} {}", UNITS[unit]), "route": "iv"});
        if let Some(r) = rate { order["rate"] = json!(format!("{r} mL/h")); }
        if let Some(v) = volume { order["volume"] = json!(format!("{v} mL")); }
        if let Some(h) = hours { order["duration"] = json!(format!("{h} h")); }
        if let Some(l) = line { order["line"] = json!(l); }
        if let Some(k) = n { order["infusion_number"] = json!(k); }
        let mut patient = json!({"sex": "male", "height": "170 cm"});
        if let Some(w) = weight { patient["weight"] = json!(format!("{w} kg")); }
        if let Some(a) = age { patient["age"] = json!(format!("{a} y")); }
        if let Some(s) = scr { patient["labs"] = json!({"serum_creatinine": format!("{s} mg/dL")}); }
        let input = json!({"patient": patient, "care_area": "adult-infusion", "order": order, "at": "2026-11-26T09:00:00Z"});
        // Either refused with a named field, or a result whose verdict is its most severe finding.
        match check_json(common::shared(), &input) {
            Err(e) => prop_assert!(!e.field.is_empty() && !e.message.is_empty()),
            Ok(r) => {
                let worst = r.findings.iter().map(|f| f.severity).max();
                let expected = match worst {
                    Some(Severity::HardStop) => Verdict::HardStop,
                    Some(Severity::Warning) => Verdict::Warning,
                    _ => Verdict::Ok,
                };
                prop_assert_eq!(r.verdict, expected);
            }
        }
    }

    #[test]
    fn a_tenfold_dose_is_never_judged_safer(med in 0usize..50, scale in 1.0f64..5.0) {
        let lib = common::shared();
        let e = &lib.entries()[med % lib.entries().len()];
        let base = e.typical_order[0].clone();
        let dose = infusio_core::units::Amount::parse(base["order"]["dose"].as_str().unwrap_or("1 mg")).expect("typical dose parses");
        let mut low = base.clone();
        low["order"]["dose"] = json!(format!("{} {}", dose.value * scale, dose.display_unit));
        let mut high = base.clone();
        high["order"]["dose"] = json!(format!("{} {}", dose.value * scale * 10.0, dose.display_unit));
        let a = check_json(lib, &low).expect("accepted");
        let b = check_json(lib, &high).expect("accepted");
        prop_assert!(b.verdict as u8 >= a.verdict as u8, "{}: {:?} then {:?}", e.id, a.verdict, b.verdict);
        prop_assert!(b.verdict != Verdict::Ok, "{}: a dose x{} still ok", e.id, scale * 10.0);
    }
}
