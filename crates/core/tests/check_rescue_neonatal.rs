//! Root cause 5 of the dose-error audit: rescue and emergency doses, labelled neonatal doses and
//! maintenance regimens that fell outside the only rule a drug had were hard-stopped (alert
//! fatigue is a safety defect too), or had no limits at all. Each test puts the standard order
//! that must not alarm beside the harmful one that must, and names its source.

mod common;

use common::{assert_severity, codes, remove, run, set, severity_of};
use infusio_core::check::{CheckResult, Verdict};
use infusio_core::derivation::Severity;
use serde_json::{Value, json};

fn rule_of(r: &CheckResult) -> Option<&str> {
    r.medication.as_ref().and_then(|m| m.rule.as_deref())
}

/// The typical order of `id` whose `order.<key>` equals `value`.
fn typical_where(id: &str, key: &str, value: &str) -> Value {
    common::shared()
        .get(id)
        .and_then(|e| {
            e.typical_order
                .iter()
                .find(|t| t["order"][key] == value)
                .cloned()
        })
        .unwrap_or_else(|| panic!("{id} has a typical order with {key} = {value}"))
}

/// A term neonate (3 days, 3.2 kg, 50 cm) in the paediatric care area.
fn neonate(mut v: Value) -> Value {
    set(&mut v, "care_area", json!("pediatric"));
    set(&mut v, "patient.age", json!("3 d"));
    set(&mut v, "patient.sex", json!("male"));
    set(&mut v, "patient.weight", json!("3.2 kg"));
    set(&mut v, "patient.height", json!("50 cm"));
    remove(&mut v, "patient.labs");
    v
}

// ---- Aminoglycosides in neonates ----

#[test]
fn labelled_neonatal_gentamicin_is_not_stopped_by_a_negative_ideal_weight() {
    // Gentamicin PI: premature or full-term neonates one week of age or less, 2.5 mg/kg every
    // 12 hours. The traditional rule doses on adjusted weight; Devine's ideal weight is
    // negative at 50 cm, so the old engine computed -0.28 mg/kg and hard-stopped the label dose.
    let mut v = neonate(common::typical(common::shared(), "gentamicin"));
    set(&mut v, "order.indication", json!("traditional"));
    set(&mut v, "order.dose", json!("8 mg"));
    set(&mut v, "order.dose_per", json!("2.5 mg/kg"));
    set(&mut v, "order.volume", json!("4 mL"));
    set(&mut v, "order.duration", json!("30 min"));
    set(&mut v, "order.rate", json!("8 mL/h"));
    set(&mut v, "order.frequency", json!("q12h"));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    assert!(
        r.steps.iter().any(|s| s.description == "Dosing weight"
            && s.formula.contains("Devine")
            && (s.result.value - 3.2).abs() < 1e-9),
        "the derivation says why the actual weight was used"
    );
    // Ten times the dose is still a hard stop on the same weight.
    set(&mut v, "order.dose", json!("80 mg"));
    set(&mut v, "order.dose_per", json!("25 mg/kg"));
    assert_eq!(run(&v).verdict, Verdict::HardStop);
}

#[test]
fn neonatal_extended_interval_gentamicin_is_ok_and_a_ten_fold_or_8_hourly_slip_is_stopped() {
    // Neonatal extended interval 4-5 mg/kg every 24-48 h (CHEO handbook, secondary source);
    // label 5-7.5 mg/kg/day. Before the neonatal rule, 5 mg/kg was above the traditional
    // rule's 4 mg/kg hard maximum.
    let std = typical_where("gentamicin", "indication", "neonatal-extended-interval");
    let r = run(&std);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    let mut five = std.clone();
    set(&mut five, "order.dose", json!("16 mg"));
    set(&mut five, "order.dose_per", json!("5 mg/kg"));
    set(&mut five, "order.frequency", json!("q36h"));
    let r = run(&five);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    // Without an indication, the neonatal rule is the one assumed: not a hard stop.
    remove(&mut five, "order.indication");
    let r = run(&five);
    assert_ne!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert_eq!(rule_of(&r), Some("neonatal-extended-interval"));

    let mut ten = std.clone();
    set(&mut ten, "order.dose", json!("128 mg"));
    set(&mut ten, "order.dose_per", json!("40 mg/kg"));
    let r = run(&ten);
    assert_severity(&r, "dose.above_hard_max", Severity::HardStop);
    // The once-daily dose written every 8 hours: 15 mg/kg/day.
    let mut q8 = std.clone();
    set(&mut q8, "order.dose", json!("16 mg"));
    set(&mut q8, "order.dose_per", json!("5 mg/kg"));
    set(&mut q8, "order.frequency", json!("q8h"));
    let r = run(&q8);
    assert_severity(&r, "dose.daily.above_hard_max", Severity::HardStop);
}

#[test]
fn extended_interval_tobramycin_is_an_adult_rule() {
    // Nicolau 1995 validated 7 mg/kg once daily in adults; the issue names extended-interval
    // aminoglycoside rules adult-only. The old tobramycin rule had no age band, so 7 mg/kg to
    // a 5-year-old checked ok.
    let mut v = typical_where("tobramycin", "frequency", "q24h");
    set(&mut v, "care_area", json!("pediatric"));
    set(&mut v, "patient.age", json!("5 y"));
    set(&mut v, "patient.weight", json!("18 kg"));
    set(&mut v, "patient.height", json!("110 cm"));
    set(&mut v, "order.dose", json!("126 mg"));
    set(&mut v, "order.dose_per", json!("7 mg/kg"));
    set(&mut v, "order.indication", json!("extended-interval"));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert!(r.has("order.indication_not_applicable"), "{}", codes(&r));
    // The adult order stays ok.
    let r = run(&typical_where("tobramycin", "frequency", "q24h"));
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
}

// ---- Ampicillin in neonates (LHSC NICU manual; label neonatal table via secondary summaries) ----

#[test]
fn neonatal_ampicillin_has_limits_and_the_standard_dose_is_ok() {
    // Before: no rule matched a neonate ("dose limits were not checked", a warning).
    let std = typical_where("ampicillin", "indication", "neonatal");
    let r = run(&std);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    assert!(!r.has("order.rule_not_found"));
    // 500 mg/kg (a ten-fold slip) is a hard stop.
    let mut ten = std.clone();
    set(&mut ten, "order.dose", json!("1700 mg"));
    set(&mut ten, "order.dose_per", json!("500 mg/kg"));
    set(&mut ten, "order.volume", json!("17 mL"));
    set(&mut ten, "order.rate", json!("204 mL/h"));
    let r = run(&ten);
    assert_severity(&r, "dose.above_hard_max", Severity::HardStop);
    // Pushed in one minute: below the label's 3-5 minutes for doses up to 500 mg.
    let mut fast = std;
    set(&mut fast, "order.duration", json!("1 min"));
    set(&mut fast, "order.rate", json!("102 mL/h"));
    assert_eq!(
        severity_of(&run(&fast), "duration.below_hard_min"),
        Some(Severity::HardStop)
    );
}

#[test]
fn neonatal_acyclovir_and_vancomycin_standard_doses_are_ok() {
    // Acyclovir 20 mg/kg every 8 h for neonatal HSV and vancomycin 10 mg/kg every 12 h in the
    // first week (vancomycin PI, neonates) fall in the paediatric rules, which have no lower
    // age bound. A guard: these passed before this change too.
    let mut acv = neonate(common::typical(common::shared(), "acyclovir"));
    remove(&mut acv, "order.indication");
    set(&mut acv, "order.dose", json!("64 mg"));
    set(&mut acv, "order.dose_per", json!("20 mg/kg"));
    set(&mut acv, "order.volume", json!("12.8 mL"));
    set(&mut acv, "order.duration", json!("1 h"));
    set(&mut acv, "order.rate", json!("12.8 mL/h"));
    set(&mut acv, "order.frequency", json!("q8h"));
    remove(&mut acv, "order.product");
    let r = run(&acv);
    assert_ne!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert_eq!(rule_of(&r), Some("pediatric"));

    let mut vanco = neonate(common::typical(common::shared(), "vancomycin"));
    remove(&mut vanco, "order.indication");
    set(&mut vanco, "order.dose", json!("32 mg"));
    set(&mut vanco, "order.dose_per", json!("10 mg/kg"));
    set(&mut vanco, "order.volume", json!("6.4 mL"));
    set(&mut vanco, "order.duration", json!("1 h"));
    set(&mut vanco, "order.rate", json!("6.4 mL/h"));
    set(&mut vanco, "order.frequency", json!("q12h"));
    remove(&mut vanco, "order.product");
    let r = run(&vanco);
    assert_ne!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert_eq!(rule_of(&r), Some("pediatric"));
}

// ---- Potassium chloride: NICE CG174 routine maintenance ----

#[test]
fn maintenance_potassium_70_meq_over_24_hours_is_ok_without_an_8_hourly_split() {
    // NICE CG174: about 1 mmol/kg/day of potassium in routine maintenance. The old library had
    // only the replacement rule (hard maximum 60 mEq per dose), so 70 mEq in 2 L over 24 h was
    // a hard stop.
    let std = typical_where("potassium-chloride", "indication", "maintenance");
    let r = run(&std);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    let mut unnamed = std.clone();
    remove(&mut unnamed, "order.indication");
    let r = run(&unnamed);
    assert_ne!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert_eq!(rule_of(&r), Some("maintenance"));
    // The replacement order is still ok (the maintenance rule adds no stop to it).
    let r = run(&typical_where("potassium-chloride", "dose", "20 mEq"));
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
}

#[test]
fn maintenance_potassium_run_in_an_hour_or_at_three_times_the_need_is_stopped() {
    let std = typical_where("potassium-chloride", "indication", "maintenance");
    // The day's 70 mEq run in 1 h: 70 mEq/h (label: usually at most 10 mEq/h).
    let mut fast = std.clone();
    set(&mut fast, "order.duration", json!("1 h"));
    set(&mut fast, "order.rate", json!("2000 mL/h"));
    let r = run(&fast);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert_eq!(
        severity_of(&r, "rate.above_hard_max"),
        Some(Severity::HardStop)
    );
    assert_eq!(
        severity_of(&r, "duration.below_soft_min"),
        Some(Severity::Warning),
        "the maintenance rule's own duration block names the 12-24 h"
    );
    // 200 mEq as maintenance for 70 kg: 2.9 mEq/kg, three times NICE's 1 mmol/kg/day.
    let mut big = std.clone();
    set(&mut big, "order.dose", json!("200 mEq"));
    let r = run(&big);
    assert_severity(&r, "dose.above_hard_max", Severity::HardStop);
    // The day's 70 mEq written every 8 hours: 3 mEq/kg/day.
    let mut q8 = std;
    set(&mut q8, "order.frequency", json!("q8h"));
    set(&mut q8, "order.duration", json!("8 h"));
    set(&mut q8, "order.rate", json!("250 mL/h"));
    let r = run(&q8);
    assert_severity(&r, "dose.daily.above_hard_max", Severity::HardStop);
}

// ---- Heparin: bolus versus infusion (heparin PI; Raschke 1993) ----

#[test]
fn a_heparin_infusion_dose_pushed_from_vials_is_a_hard_stop_and_the_bolus_is_ok() {
    let bolus = typical_where("heparin", "indication", "vte-bolus");
    let r = run(&bolus);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    // 25,000 units (a day's infusion) drawn from 1,000 units/mL vials and pushed over
    // 5 minutes, no indication. The old rate limits were bound to the premixed bags, so the
    // continuous rule accepted it with a warning.
    let mut push = bolus;
    remove(&mut push, "order.indication");
    remove(&mut push, "order.dose_per");
    set(&mut push, "order.dose", json!("25000 units"));
    set(&mut push, "order.volume", json!("25 mL"));
    set(&mut push, "order.rate", json!("300 mL/h"));
    let r = run(&push);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert_eq!(
        severity_of(&r, "rate.above_hard_max"),
        Some(Severity::HardStop)
    );
    // The premixed bag over about 20 hours stays ok.
    let r = run(&typical_where("heparin", "indication", "vte-continuous"));
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
}

// ---- Epinephrine: paediatric cardiac arrest (AHA 2020 PALS) ----

#[test]
fn paediatric_cardiac_arrest_epinephrine_is_ok_and_the_high_dose_is_stopped() {
    // Before: the only cardiac-arrest rule was for 12 years and over, so the PALS dose for a
    // 5-year-old was "indication not applicable" (a warning to click through in an arrest).
    let std = typical_where("epinephrine", "indication", "cardiac-arrest-pediatric");
    let r = run(&std);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    assert!(!r.has("order.indication_not_applicable"));
    // 0.1 mg/kg (the endotracheal dose) given IV: hard stop, and above the 1 mg maximum.
    let mut high = std;
    set(&mut high, "order.dose", json!("1.8 mg"));
    set(&mut high, "order.dose_per", json!("0.1 mg/kg"));
    set(&mut high, "order.volume", json!("18 mL"));
    set(&mut high, "order.rate", json!("1080 mL/h"));
    let r = run(&high);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert_eq!(severity_of(&r, "dose.above_cap"), Some(Severity::HardStop));
}
