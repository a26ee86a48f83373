//! One test per kind of finding, on the shipped library: each asserts the code, the
//! severity and the verdict, so a regression in any check fails here.

mod common;

use common::{contract_example, library, remove, run, set, severity_of, typical};
use infusio_core::check::{CheckResult, Verdict, check_json};
use infusio_core::derivation::Severity;
use serde_json::{Value, json};

fn message_of(r: &CheckResult, code: &str) -> String {
    r.findings
        .iter()
        .find(|f| f.code == code)
        .map(|f| f.message.clone())
        .unwrap_or_default()
}

#[test]
fn the_contract_example_is_ok_without_warnings() {
    let r = run(&contract_example());
    assert_eq!(r.verdict, Verdict::Ok, "{:?}", r.findings);
    assert!(r.findings.iter().all(|f| f.severity == Severity::Info));
    // TB and hepatitis B screening are not recorded: said, as info only.
    assert_eq!(severity_of(&r, "screening.missing"), Some(Severity::Info));
    assert!(!r.steps.is_empty() && !r.sources.is_empty());
}

#[test]
fn ten_fold_infliximab_is_a_hard_stop_with_the_numbers() {
    let mut v = contract_example();
    set(&mut v, "order.dose", json!("3500 mg"));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::HardStop);
    assert_eq!(
        severity_of(&r, "dose.above_hard_max"),
        Some(Severity::HardStop)
    );
    let m = message_of(&r, "dose.above_hard_max");
    assert!(m.contains("50 mg/kg") && m.contains("15 mg/kg"), "{m}");
    assert_eq!(
        severity_of(&r, "order.dose_mismatch"),
        Some(Severity::Warning)
    );
}

#[test]
fn a_dose_between_soft_and_hard_is_a_warning() {
    let mut v = contract_example();
    set(&mut v, "order.dose", json!("840 mg"));
    remove(&mut v, "order.dose_per");
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::Warning, "{:?}", r.findings);
    assert_eq!(
        severity_of(&r, "dose.above_soft_max"),
        Some(Severity::Warning)
    );
}

#[test]
fn a_missing_weight_is_reported_never_assumed() {
    let mut v = contract_example();
    remove(&mut v, "patient.weight");
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "dose.unverifiable"),
        Some(Severity::Warning)
    );
    assert!(message_of(&r, "dose.unverifiable").contains("patient.weight"));
    assert_eq!(r.verdict, Verdict::Warning);
}

#[test]
fn an_unknown_medication_is_a_hard_stop_not_a_crash() {
    // An unknown name used to be a warning that switched off every limit (issue 14): a drug
    // outside the library now needs a pharmacist-entered limit set (order.off_library).
    let mut v = contract_example();
    set(&mut v, "order.medication", json!("unobtainium"));
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "medication.unknown"),
        Some(Severity::Warning)
    );
    assert_eq!(
        severity_of(&r, "medication.off_library_required"),
        Some(Severity::HardStop)
    );
    assert_eq!(r.verdict, Verdict::HardStop);
    assert!(r.medication.is_none());
}

#[test]
fn brand_names_resolve_to_the_library_entry() {
    let mut v = contract_example();
    set(&mut v, "order.medication", json!("Remicade"));
    let r = run(&v);
    assert_eq!(r.medication.map(|m| m.id), Some("infliximab".to_string()));
}

#[test]
fn potassium_peripheral_limits_differ_from_central() {
    let lib = library();
    let mut v = typical(&lib, "potassium-chloride");
    // 20 mEq in 100 mL at 200 mL/h: 200 mEq/L and 40 mEq/h.
    set(&mut v, "order.volume", json!("100 mL"));
    set(&mut v, "order.rate", json!("200 mL/h"));
    set(&mut v, "order.duration", json!("30 min"));
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "rate.above_hard_max"),
        Some(Severity::HardStop),
        "{:?}",
        r.findings
    );
    assert_eq!(
        severity_of(&r, "concentration.above_soft_max"),
        Some(Severity::Warning)
    );
    assert!(message_of(&r, "rate.above_hard_max").contains("40 mEq/h"));
    // The same bag at 100 mL/h (20 mEq/h) on a central line in the adult ICU is allowed.
    set(&mut v, "order.line", json!("central"));
    set(&mut v, "care_area", json!("adult-icu"));
    set(&mut v, "order.rate", json!("100 mL/h"));
    set(&mut v, "order.duration", json!("1 h"));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::Ok, "{:?}", r.findings);
    assert_eq!(
        severity_of(&r, "double_check.required"),
        Some(Severity::Info)
    );
    // On a ward central line, 20 mEq/h needs an override.
    set(&mut v, "care_area", json!("adult-infusion"));
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "rate.above_soft_max"),
        Some(Severity::Warning)
    );
}

#[test]
fn potassium_without_a_line_cannot_be_verified() {
    let lib = library();
    let mut v = typical(&lib, "potassium-chloride");
    remove(&mut v, "order.line");
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "order.line_missing"),
        Some(Severity::Warning)
    );
}

#[test]
fn potassium_is_held_when_the_patient_is_hyperkalaemic() {
    let lib = library();
    let mut v = typical(&lib, "potassium-chloride");
    set(
        &mut v,
        "patient.labs.potassium",
        json!({"value": "5.6 mmol/L", "at": "2026-11-26T07:00:00Z"}),
    );
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "lab.above_hold_threshold"),
        Some(Severity::HardStop)
    );
}

#[test]
fn penicillin_allergy_flags_piperacillin_tazobactam() {
    let lib = library();
    let mut v = typical(&lib, "piperacillin-tazobactam");
    set(&mut v, "patient.allergies", json!(["penicillin"]));
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "allergy.same_class"),
        Some(Severity::Warning)
    );
    set(
        &mut v,
        "patient.allergies",
        json!([{"substance": "amoxicillin", "reaction": "anaphylaxis", "severity": "severe"}]),
    );
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "allergy.same_class"),
        Some(Severity::HardStop)
    );
}

#[test]
fn penicillin_allergy_does_not_hard_stop_cefazolin() {
    let lib = library();
    let mut v = typical(&lib, "cefazolin");
    set(&mut v, "patient.allergies", json!(["penicillin"]));
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "allergy.cross_reactivity_low"),
        Some(Severity::Info)
    );
    assert_eq!(r.verdict, Verdict::Ok);
    // Even after anaphylaxis to penicillin it is a warning, not a hard stop.
    set(
        &mut v,
        "patient.allergies",
        json!([{"substance": "penicillin", "reaction": "anaphylaxis"}]),
    );
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::Warning);
    // An allergy to cefazolin itself is a hard stop.
    set(&mut v, "patient.allergies", json!(["cefazolin"]));
    assert_eq!(run(&v).verdict, Verdict::HardStop);
}

#[test]
fn cumulative_anthracycline_counts_history_and_radiotherapy_lowers_the_ceiling() {
    let lib = library();
    let mut v = typical(&lib, "doxorubicin");
    // Six earlier doses of 60 mg/m2 plus this one: 420 mg/m2, below 450.
    let history: Vec<Value> = (0..6)
        .map(|i| json!({"medication": "doxorubicin", "dose": "109.2 mg", "bsa": "1.82 m2", "weight": "70 kg", "at": format!("2026-0{}-01", i + 3)}))
        .collect();
    set(&mut v, "patient.history", json!(history));
    let r = run(&v);
    assert!(!r.has("dose.cumulative.above_soft_max"), "{:?}", r.findings);
    let cumulative = r
        .steps
        .iter()
        .find(|s| s.description.starts_with("Lifetime cumulative"))
        .map(|s| s.result.value);
    assert!(
        cumulative.is_some_and(|c| (c - 420.4).abs() < 1.0),
        "{cumulative:?}"
    );
    // After mediastinal radiotherapy the ceiling is 400 mg/m2: a hard stop.
    set(
        &mut v,
        "patient.conditions",
        json!(["mediastinal-radiotherapy"]),
    );
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "dose.cumulative.above_hard_max"),
        Some(Severity::HardStop)
    );
    // A history entry without BSA is reported, not guessed.
    set(
        &mut v,
        "patient.history",
        json!([{"medication": "doxorubicin", "dose": "110 mg"}]),
    );
    set(&mut v, "patient.conditions", json!([]));
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "dose.cumulative.history_incomplete"),
        Some(Severity::Warning)
    );
}

#[test]
fn a_13_month_old_recorded_at_22_kg_is_implausible() {
    let lib = library();
    let mut v = typical(&lib, "cefazolin");
    set(&mut v, "care_area", json!("pediatric"));
    set(&mut v, "patient.age", json!("13 mo"));
    set(&mut v, "patient.weight", json!("22 kg"));
    set(&mut v, "patient.height", json!("76 cm"));
    set(&mut v, "order.dose", json!("550 mg"));
    set(&mut v, "order.dose_per", json!("25 mg/kg"));
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "patient.weight_implausible"),
        Some(Severity::Warning),
        "{:?}",
        r.findings
    );
    assert!(message_of(&r, "patient.weight_implausible").contains("13 months"));
    // 9.5 kg is plausible.
    set(&mut v, "patient.weight", json!("9.5 kg"));
    set(&mut v, "order.dose", json!("240 mg"));
    assert!(!run(&v).has("patient.weight_implausible"));
}

#[test]
fn vincristine_by_any_route_but_iv_is_a_hard_stop() {
    let lib = library();
    let mut v = typical(&lib, "vincristine");
    set(&mut v, "order.route", json!("intrathecal"));
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "route.not_allowed"),
        Some(Severity::HardStop)
    );
    assert!(message_of(&r, "route.not_allowed").contains("fatal"));
}

#[test]
fn vincristine_above_the_2_mg_cap_is_a_hard_stop() {
    let lib = library();
    let mut v = typical(&lib, "vincristine");
    set(&mut v, "order.dose", json!("2.5 mg"));
    let r = run(&v);
    assert_eq!(severity_of(&r, "dose.above_cap"), Some(Severity::HardStop));
}

#[test]
fn a_vincristine_syringe_is_outside_ismp_practice() {
    let lib = library();
    let mut v = typical(&lib, "vincristine");
    set(&mut v, "order.volume", json!("2 mL"));
    set(&mut v, "order.rate", json!("12 mL/h"));
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "concentration.above_soft_max"),
        Some(Severity::Warning)
    );
}

#[test]
fn screening_positive_and_missing() {
    let lib = library();
    let mut v = typical(&lib, "rituximab");
    set(
        &mut v,
        "patient.screening",
        json!({"hepatitis_b": "positive"}),
    );
    assert_eq!(
        severity_of(&run(&v), "screening.positive"),
        Some(Severity::Warning)
    );
    remove(&mut v, "patient.screening");
    let r = run(&v);
    assert_eq!(severity_of(&r, "screening.missing"), Some(Severity::Info));
    assert_eq!(r.verdict, Verdict::Ok);
}

#[test]
fn weight_change_of_10_percent_since_the_previous_dose() {
    let mut v = contract_example();
    set(
        &mut v,
        "patient.history",
        json!([{"medication": "infliximab", "dose": "400 mg", "weight": "80 kg", "at": "2026-10-01"}]),
    );
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "patient.weight_change"),
        Some(Severity::Warning)
    );
    assert!(message_of(&r, "patient.weight_change").contains("-12.5%"));
    set(
        &mut v,
        "patient.history",
        json!([{"medication": "infliximab", "dose": "350 mg", "weight": "72 kg", "at": "2026-10-01"}]),
    );
    assert!(!run(&v).has("patient.weight_change"));
}

#[test]
fn rituximab_first_infusion_start_rate_and_schedule() {
    let lib = library();
    let mut v = typical(&lib, "rituximab");
    // 50 mL/h at 2 mg/mL is 100 mg/h: the later-infusion start rate, not the first.
    set(&mut v, "order.rate", json!("50 mL/h"));
    set(&mut v, "order.duration", json!("2 h"));
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "titration.start_rate_above_schedule"),
        Some(Severity::Warning)
    );
    assert_eq!(
        severity_of(&r, "titration.duration_shorter_than_schedule"),
        Some(Severity::Warning)
    );
    assert!(message_of(&r, "titration.duration_shorter_than_schedule").contains("3.5 h"));
    // The same rate is right for a later infusion, which may run 2.5 h.
    set(&mut v, "order.infusion_number", json!(2));
    set(&mut v, "order.duration", json!("2.5 h"));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::Ok, "{:?}", r.findings);
    // Above the 400 mg/h label maximum.
    set(&mut v, "order.rate", json!("250 mL/h"));
    assert_eq!(
        severity_of(&run(&v), "rate.above_hard_max"),
        Some(Severity::HardStop)
    );
}

#[test]
fn carboplatin_lab_holds_and_result_age() {
    let lib = library();
    let mut v = typical(&lib, "carboplatin");
    set(
        &mut v,
        "patient.labs.anc",
        json!({"value": "1.1 10*9/L", "at": "2026-11-25T08:00:00Z"}),
    );
    set(
        &mut v,
        "patient.labs.platelets",
        json!({"value": "210 10*9/L", "at": "2026-11-20T08:00:00Z"}),
    );
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "lab.below_hold_threshold"),
        Some(Severity::Warning)
    );
    assert_eq!(
        severity_of(&r, "lab.result_too_old"),
        Some(Severity::Warning)
    );
    assert!(message_of(&r, "lab.result_too_old").contains("145 h"));
    // A count given in cells/microL converts: 1,100/microL is 1.1 10*9/L.
    set(
        &mut v,
        "patient.labs.anc",
        json!({"value": "1100 cells/uL", "at": "2026-11-25T08:00:00Z"}),
    );
    assert!(run(&v).has("lab.below_hold_threshold"));
    // A missing lab is said (info), never assumed normal.
    remove(&mut v, "patient.labs.anc");
    assert_eq!(severity_of(&run(&v), "lab.missing"), Some(Severity::Info));
}

#[test]
fn carboplatin_auc_uses_calvert_and_the_gfr_cap() {
    let lib = library();
    let v = typical(&lib, "carboplatin");
    let r = run(&v);
    // F 60 y 70 kg SCr 0.8: CrCl 82.64; 540 mg / (82.64 + 25) = AUC 5.02.
    let auc = r
        .steps
        .iter()
        .find(|s| s.result.unit == "mg/mL.min")
        .map(|s| s.result.value);
    assert!(
        auc.is_some_and(|a| (a - 540.0 / (82.638_888 + 25.0)).abs() < 1e-3),
        "{auc:?}"
    );
    let mut v = v;
    set(&mut v, "order.dose", json!("1500 mg"));
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "dose.above_hard_max"),
        Some(Severity::HardStop)
    );
    assert_eq!(
        severity_of(&r, "dose.absolute.above_hard_max"),
        Some(Severity::HardStop)
    );
    // Without a creatinine the AUC cannot be verified.
    remove(&mut v, "patient.labs.serum_creatinine");
    let r = run(&v);
    assert!(message_of(&r, "dose.unverifiable").contains("serum_creatinine"));
}

#[test]
fn vancomycin_renal_interval() {
    let lib = library();
    let mut v = typical(&lib, "vancomycin");
    // SCr 1.6: CrCl = 86 × 70 / (72 × 1.6) × 0.85 = 44 mL/min, so q24h.
    set(
        &mut v,
        "patient.labs.serum_creatinine",
        json!({"value": "141 umol/L", "at": "2026-11-26T06:00:00Z"}),
    );
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "renal.adjustment_required"),
        Some(Severity::Warning),
        "{:?}",
        r.findings
    );
    set(&mut v, "order.frequency", json!("q24h"));
    assert!(!run(&v).has("renal.adjustment_required"));
}

#[test]
fn vancomycin_too_fast_is_flagged() {
    let lib = library();
    let mut v = typical(&lib, "vancomycin");
    set(&mut v, "order.rate", json!("750 mL/h"));
    set(&mut v, "order.duration", json!("20 min"));
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "duration.below_hard_min"),
        Some(Severity::HardStop)
    );
    assert_eq!(
        severity_of(&r, "rate.above_hard_max"),
        Some(Severity::HardStop)
    );
}

#[test]
fn stated_duration_and_pump_rate_must_agree() {
    let mut v = contract_example();
    set(&mut v, "order.rate", json!("250 mL/h"));
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "order.rate_inconsistent"),
        Some(Severity::Warning)
    );
    // The pump would finish in 1 h, below the 2 h label minimum.
    assert_eq!(
        severity_of(&r, "duration.below_soft_min"),
        Some(Severity::Warning)
    );
}

#[test]
fn ivig_rate_limit_for_thrombosis_risk() {
    let lib = library();
    let mut v = typical(&lib, "immune-globulin");
    // 210 mL/h of 10% for 70 kg = 5 mg/kg/min.
    set(&mut v, "order.rate", json!("210 mL/h"));
    set(&mut v, "order.infusion_number", json!(5));
    let r = run(&v);
    assert!(!r.has("rate.above_hard_max"), "{:?}", r.findings);
    set(&mut v, "patient.conditions", json!(["thrombosis-risk"]));
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "rate.above_hard_max"),
        Some(Severity::HardStop),
        "{:?}",
        r.findings
    );
}

#[test]
fn duplicate_therapy() {
    let mut v = contract_example();
    set(
        &mut v,
        "patient.active_orders",
        json!([{"medication": "infliximab", "dose": "350 mg"}]),
    );
    assert_eq!(
        severity_of(&run(&v), "order.duplicate_therapy"),
        Some(Severity::Warning)
    );
}

#[test]
fn high_alert_drugs_require_a_double_check_as_info() {
    let lib = library();
    let r = run(&typical(&lib, "doxorubicin"));
    assert_eq!(
        severity_of(&r, "double_check.required"),
        Some(Severity::Info)
    );
    assert_eq!(
        severity_of(&r, "administration.vesicant"),
        Some(Severity::Info)
    );
    assert_eq!(r.verdict, Verdict::Ok);
}

#[test]
fn every_emitted_code_is_documented() {
    let lib = library();
    let documented: Vec<&str> = infusio_core::check::FINDING_CODES
        .iter()
        .map(|(c, _)| *c)
        .collect();
    for e in lib.entries() {
        for o in &e.typical_order {
            let mut v = o.clone();
            set(&mut v, "order.dose", json!("100000 g"));
            if let Ok(r) = check_json(&lib, &v) {
                for f in r.findings {
                    assert!(
                        documented.contains(&f.code.as_str()),
                        "undocumented code {}",
                        f.code
                    );
                }
            }
        }
    }
}

#[test]
fn a_titrated_drug_without_a_rate_is_reported() {
    let lib = library();
    let mut v = typical(&lib, "rituximab");
    remove(&mut v, "order.rate");
    assert_eq!(
        severity_of(&run(&v), "rate.unverifiable"),
        Some(Severity::Warning)
    );
    let mut v = typical(&lib, "immune-globulin");
    remove(&mut v, "patient.weight");
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "rate.unverifiable"),
        Some(Severity::Warning)
    );
    assert_eq!(
        severity_of(&r, "dose.unverifiable"),
        Some(Severity::Warning)
    );
}
