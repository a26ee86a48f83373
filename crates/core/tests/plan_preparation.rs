//! Preparation plans and pump programmes against label worked examples.
//!
//! Infliximab: REMICADE US prescribing information, section 2 (100 mg vials reconstituted with
//! 10 mL sterile water; dilute to 250 mL 0.9 % sodium chloride; 0.4–4 mg/mL; begin within 3 h).
//! Rituximab: RITUXAN US prescribing information (100 mg/10 mL and 500 mg/50 mL vials; 1–4 mg/mL).
//! Beyond-use: USP <797> (2023).

use infusio_core::derivation::Severity;
use infusio_core::plan::preparation::{
    BagMode, Dilution, PreparationRequest, Stability, Storage, UspCategory, VialSpec, least_waste,
    prepare, usp797_limit_h,
};
use infusio_core::plan::pump::{PumpProgramme, RateLimit};
use infusio_core::plan::titration::{Bag, RampUnit, Schedule, plan};
use infusio_core::units::{Qty, Volume};
use proptest::prelude::*;

fn infliximab(dose: f64) -> PreparationRequest {
    PreparationRequest {
        dose,
        amount_unit: "mg".into(),
        vials: vec![VialSpec {
            strength: 100.0,
            reconstitution_ml: Some(10.0),
            volume_ml: 10.0,
        }],
        dilution: Some(Dilution {
            diluent: "0.9% sodium chloride".into(),
            bag_sizes_ml: vec![100.0, 250.0, 500.0],
            final_volume_ml: Some(250.0),
            concentration_min: Some(0.4),
            concentration_max: Some(4.0),
            mode: BagMode::ReplaceVolume,
            bag_overfill_ml: None,
        }),
        category: UspCategory::Category1,
        storage: Storage::Refrigerated,
        stability: Stability {
            room_temperature_h: Some(24.0),
            refrigerated_h: Some(24.0),
            begin_within_h: Some(3.0),
        },
        light_protection: false,
        filter: Some("an in-line low-protein-binding filter (1.2 micron or less)".into()),
        hazardous: false,
    }
}

fn rituximab(dose: f64, bags: Vec<f64>) -> PreparationRequest {
    PreparationRequest {
        dose,
        amount_unit: "mg".into(),
        vials: vec![
            VialSpec {
                strength: 100.0,
                reconstitution_ml: None,
                volume_ml: 10.0,
            },
            VialSpec {
                strength: 500.0,
                reconstitution_ml: None,
                volume_ml: 50.0,
            },
        ],
        dilution: Some(Dilution {
            diluent: "0.9% sodium chloride".into(),
            bag_sizes_ml: bags,
            final_volume_ml: None,
            concentration_min: Some(1.0),
            concentration_max: Some(4.0),
            mode: BagMode::AddToBag,
            bag_overfill_ml: None,
        }),
        category: UspCategory::Category1,
        storage: Storage::Refrigerated,
        stability: Stability {
            room_temperature_h: None,
            refrigerated_h: Some(24.0),
            begin_within_h: None,
        },
        light_protection: false,
        filter: None,
        hazardous: false,
    }
}

#[test]
fn infliximab_350_mg_from_100_mg_vials() {
    // [C] on the Remicade PI rules: 70 kg × 5 mg/kg = 350 mg; 4 vials; 50 mg waste; 35 mL
    // withdrawn; 250 mL final volume (35 mL of saline removed first); 1.4 mg/mL; begin within 3 h.
    let p = prepare(&infliximab(350.0)).expect("plan");
    assert_eq!(p.vials.len(), 1);
    assert_eq!(p.vials[0].count, 4);
    assert_eq!(p.vial_count, 4);
    assert!((p.waste - 50.0).abs() < 1e-9);
    assert!((p.withdraw_volume_ml - 35.0).abs() < 1e-9);
    assert_eq!(p.reconstitution_ml, vec![(100.0, 10.0)]);
    let bag = p.bag.as_ref().expect("bag");
    assert_eq!(bag.size_ml, 250.0);
    assert!((bag.remove_ml - 35.0).abs() < 1e-9);
    assert!((p.final_volume_ml - 250.0).abs() < 1e-9);
    assert!((p.final_concentration - 1.4).abs() < 1e-12);
    assert_eq!(p.beyond_use_h, 3.0);
    let codes: Vec<&str> = p.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(codes.contains(&"preparation.filter_required"), "{codes:?}");
    assert!(!codes.contains(&"preparation.concentration_out_of_range"));
    assert!(!p.steps.is_empty());
}

#[test]
fn infliximab_high_dose_outside_the_range_is_flagged() {
    // 10 mg/kg × 110 kg = 1100 mg in 250 mL = 4.4 mg/mL > 4 mg/mL.
    let p = prepare(&infliximab(1100.0)).expect("plan");
    assert_eq!(p.vial_count, 11);
    assert!(
        p.findings
            .iter()
            .any(|f| f.code == "preparation.concentration_out_of_range"
                && f.severity == Severity::Warning)
    );
}

#[test]
fn rituximab_700_mg_vials_and_bag() {
    // 700 mg = 1 × 500 mg + 2 × 100 mg (no waste, 3 vials); 70 mL of 10 mg/mL. The 100 mL bag
    // gives 700/170 = 4.1 mg/mL (above 4); the 250 mL bag gives 700/320 = 2.19 mg/mL.
    let p = prepare(&rituximab(700.0, vec![100.0, 250.0, 500.0])).expect("plan");
    assert_eq!(p.vial_count, 3);
    assert_eq!(p.waste, 0.0);
    assert!((p.withdraw_volume_ml - 70.0).abs() < 1e-9);
    assert_eq!(p.bag.as_ref().expect("bag").size_ml, 250.0);
    assert!((p.final_volume_ml - 320.0).abs() < 1e-9);
    assert!((p.final_concentration - 700.0 / 320.0).abs() < 1e-12);
    assert_eq!(p.beyond_use_h, 24.0);
}

#[test]
fn no_bag_fits_is_a_finding_not_an_error() {
    // 2000 mg of rituximab = 200 mL; only 1000 mL bags: 2000/1200 = 1.67 mg/mL fits; only
    // 50 mL bags: 2000/250 = 8 mg/mL does not.
    let p = prepare(&rituximab(2000.0, vec![50.0])).expect("plan");
    assert!(
        p.findings
            .iter()
            .any(|f| f.code == "preparation.no_bag_fits")
    );
}

#[test]
fn beyond_use_is_the_shorter_of_usp_and_product() {
    assert_eq!(
        usp797_limit_h(UspCategory::Category1, Storage::RoomTemperature),
        12.0
    );
    assert_eq!(
        usp797_limit_h(UspCategory::Category2, Storage::Refrigerated),
        240.0
    );
    let mut r = rituximab(500.0, vec![250.0]);
    r.category = UspCategory::Category2;
    r.stability.refrigerated_h = Some(24.0);
    assert_eq!(prepare(&r).expect("plan").beyond_use_h, 24.0);
    r.stability.refrigerated_h = None;
    assert_eq!(prepare(&r).expect("plan").beyond_use_h, 240.0);
    r.category = UspCategory::ImmediateUse;
    assert_eq!(prepare(&r).expect("plan").beyond_use_h, 4.0);
}

#[test]
fn hazardous_and_light_findings() {
    let mut r = rituximab(500.0, vec![250.0]);
    r.hazardous = true;
    r.light_protection = true;
    let p = prepare(&r).expect("plan");
    let codes: Vec<&str> = p.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(codes.contains(&"preparation.hazardous_handling"));
    assert!(codes.contains(&"preparation.protect_from_light"));
}

#[test]
fn undiluted_immune_globulin() {
    // 28 g of a 10 % product from 10 g/100 mL and 5 g/50 mL vials: 2 × 10 g + 1 × 5 g + 1 × …
    // least waste: 2 × 10 g + 2 × 5 g = 30 g (2 g waste, 4 vials) vs 3 × 10 g (2 g waste,
    // 3 vials) → 3 × 10 g; 280 mL given undiluted.
    let r = PreparationRequest {
        dose: 28.0,
        amount_unit: "g".into(),
        vials: vec![
            VialSpec {
                strength: 5.0,
                reconstitution_ml: None,
                volume_ml: 50.0,
            },
            VialSpec {
                strength: 10.0,
                reconstitution_ml: None,
                volume_ml: 100.0,
            },
        ],
        dilution: None,
        category: UspCategory::ImmediateUse,
        storage: Storage::RoomTemperature,
        stability: Stability::default(),
        light_protection: false,
        filter: None,
        hazardous: false,
    };
    let p = prepare(&r).expect("plan");
    assert_eq!(p.vial_count, 3);
    assert!((p.waste - 2.0).abs() < 1e-9);
    assert!((p.withdraw_volume_ml - 280.0).abs() < 1e-9);
    assert!((p.final_concentration - 0.1).abs() < 1e-12);
}

#[test]
fn pump_programme_checks_library_limits() {
    let s = Schedule::Linear {
        unit: RampUnit::AmountPerHour,
        start_rate: 50.0,
        increment: 50.0,
        interval_min: 30.0,
        max_rate: 400.0,
    };
    let bag = Bag {
        dose_amount: 1000.0,
        amount_unit: "mg".into(),
        volume: Volume::new(500.0),
        weight: None,
    };
    let t = plan(&s, &bag).expect("plan");
    let limits = vec![RateLimit {
        unit: "mg/h".into(),
        soft_max: Some(300.0),
        hard_max: Some(400.0),
        source: "rituxan-pi".into(),
    }];
    let p = PumpProgramme::from_plan(
        "rituximab",
        None,
        Qty::new(2.0, "mg/mL"),
        "oncology-infusion",
        &t,
        limits,
        None,
    );
    assert_eq!(p.vtbi_ml, 500.0);
    assert!((p.duration_h - 4.25).abs() < 1e-12);
    let f = p.check_limits();
    // 350 and 400 mg/h exceed the soft maximum of 300; nothing exceeds 400.
    assert_eq!(
        f.iter()
            .filter(|f| f.code == "pump.rate_above_soft_max")
            .count(),
        2
    );
    assert!(!f.iter().any(|f| f.code == "pump.rate_above_hard_max"));
    let tight = PumpProgramme {
        limits: vec![RateLimit {
            unit: "mL/h".into(),
            soft_max: None,
            hard_max: Some(150.0),
            source: "test".into(),
        }],
        ..p
    };
    assert_eq!(
        tight
            .check_limits()
            .iter()
            .filter(|f| f.code == "pump.rate_above_hard_max")
            .count(),
        2 // 175 and 200 mL/h
    );
}

proptest! {
    /// The least-waste combination holds the dose, and no combination wastes less.
    #[test]
    fn least_waste_is_optimal(dose in 1.0f64..3000.0, a in prop::sample::select(vec![10.0, 40.0, 50.0, 100.0]), b in prop::sample::select(vec![100.0, 400.0, 500.0])) {
        let counts = least_waste(dose, &[a, b]).expect("combination");
        let total = f64::from(counts[0]) * a + f64::from(counts[1]) * b;
        prop_assert!(total >= dose - 1e-6);
        let waste = total - dose;
        for i in 0..=(dose / a).ceil() as u32 + 1 {
            for j in 0..=(dose / b).ceil() as u32 + 1 {
                let t = f64::from(i) * a + f64::from(j) * b;
                if t >= dose - 1e-6 {
                    prop_assert!(t - dose >= waste - 1e-6, "{i}×{a} + {j}×{b} wastes less");
                }
            }
        }
    }
}

/// Rituximab 800 mg ordered in 500 mL (1.6 mg/mL): 80 mL of drug from 10 mg/mL vials. The
/// RITUXAN label says to withdraw the necessary amount and dilute into an infusion bag to 1–4
/// mg/mL; to hold the ordered final volume, 80 mL of diluent is removed from the 500 mL bag
/// first (the plan used to say "remove 0 mL" and hand over 580 mL at 1.38 mg/mL).
#[test]
fn rituximab_in_a_fixed_final_volume_removes_the_drug_volume_and_the_overfill() {
    let mut r = rituximab(800.0, vec![100.0, 250.0, 500.0]);
    if let Some(d) = r.dilution.as_mut() {
        d.final_volume_ml = Some(500.0);
    }
    let p = prepare(&r).expect("plan");
    assert!((p.withdraw_volume_ml - 80.0).abs() < 1e-9);
    let bag = p.bag.as_ref().expect("bag");
    assert_eq!(bag.size_ml, 500.0);
    assert!((bag.remove_ml - 80.0).abs() < 1e-9, "{bag:?}");
    assert!((p.final_volume_ml - 500.0).abs() < 1e-9);
    assert!((p.final_concentration - 1.6).abs() < 1e-12);
    assert!(
        p.findings
            .iter()
            .any(|f| f.code == "preparation.overfill_unknown" && f.severity == Severity::Info)
    );
    // A known overfill of 30 mL is removed too: 500 + 30 − (500 − 80) = 110 mL.
    if let Some(d) = r.dilution.as_mut() {
        d.bag_overfill_ml = Some(30.0);
    }
    let p = prepare(&r).expect("plan");
    assert!((p.bag.as_ref().expect("bag").remove_ml - 110.0).abs() < 1e-9);
    assert!(
        !p.findings
            .iter()
            .any(|f| f.code == "preparation.overfill_unknown")
    );
    // 400 mL ordered: the 500 mL bag is the smallest that holds it; 500 − (400 − 80) = 180 mL.
    if let Some(d) = r.dilution.as_mut() {
        d.final_volume_ml = Some(400.0);
        d.bag_overfill_ml = None;
    }
    let p = prepare(&r).expect("plan");
    let bag = p.bag.as_ref().expect("bag");
    assert_eq!(bag.size_ml, 500.0);
    assert!((bag.remove_ml - 180.0).abs() < 1e-9, "{bag:?}");
    assert!((p.final_volume_ml - 400.0).abs() < 1e-9);
    assert!((p.final_concentration - 2.0).abs() < 1e-12);
}
