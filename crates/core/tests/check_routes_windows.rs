//! Route-bound dosing rules and per-week ceilings: methotrexate weekly versus daily (the
//! label's boxed warning names the fatal daily-instead-of-weekly error), intrathecal
//! methotrexate with its own ceiling, and the vinca alkaloids, which are fatal intrathecally
//! and stay a hard stop by that route.

mod common;

use common::{assert_severity, codes, remove, run, set, severity_of};
use infusio_core::check::Verdict;
use infusio_core::derivation::Severity;
use serde_json::{Value, json};

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

// ---- Methotrexate weekly versus daily (methotrexate PI, boxed warning) ----

#[test]
fn weekly_methotrexate_is_ok_and_the_same_dose_daily_is_a_hard_stop() {
    let weekly = typical_where("methotrexate", "indication", "weekly-non-oncologic");
    let r = run(&weekly);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    // 15 mg every 24 h: each dose is within the weekly dose and the daily limit, so the old
    // library accepted it; seven in a week is 105 mg.
    let mut daily = weekly.clone();
    set(&mut daily, "order.frequency", json!("q24h"));
    let r = run(&daily);
    assert_severity(&r, "dose.window.above_hard_max", Severity::HardStop);
    // Without the indication the SC order still meets only the weekly rule (the oncology
    // rules are IV/IM): still a hard stop.
    remove(&mut daily, "order.indication");
    assert_eq!(run(&daily).verdict, Verdict::HardStop);
}

#[test]
fn a_weekly_dose_given_again_three_days_later_is_a_hard_stop() {
    let mut v = typical_where("methotrexate", "indication", "weekly-non-oncologic");
    set(
        &mut v,
        "patient.history",
        json!([{"medication": "methotrexate", "dose": "20 mg", "at": "2026-11-23T09:00:00Z"}]),
    );
    let at = v["at"].clone();
    assert!(at.is_string(), "the typical order has a check time");
    let r = run(&v);
    assert_severity(&r, "dose.window.above_hard_max", Severity::HardStop);
}

// ---- Intrathecal methotrexate: its own rule and ceiling ----

#[test]
fn intrathecal_methotrexate_12_mg_is_ok_and_an_iv_sized_dose_intrathecally_is_stopped() {
    let it = typical_where("methotrexate", "route", "intrathecal");
    let r = run(&it);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    assert!(!r.has("route.not_allowed"));
    // Without an indication, the route alone picks the intrathecal rule.
    let mut unnamed = it.clone();
    remove(&mut unnamed, "order.indication");
    let r = run(&unnamed);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    assert_eq!(
        r.medication.as_ref().and_then(|m| m.rule.as_deref()),
        Some("intrathecal")
    );
    // 50 mg intrathecally (an IV dose by the wrong route): a hard stop.
    let mut big = unnamed.clone();
    set(&mut big, "order.dose", json!("50 mg"));
    set(&mut big, "order.volume", json!("50 mL"));
    let r = run(&big);
    assert_severity(&r, "dose.above_hard_max", Severity::HardStop);
    // The undiluted 25 mg/mL vial intrathecally: stopped by the intrathecal concentration.
    let mut neat = unnamed;
    set(&mut neat, "order.volume", json!("0.48 mL"));
    assert_eq!(
        severity_of(&run(&neat), "concentration.above_hard_max"),
        Some(Severity::HardStop)
    );
}

#[test]
fn intrathecal_methotrexate_for_a_two_year_old_uses_the_under_3_rule() {
    let mut v = typical_where("methotrexate", "route", "intrathecal");
    remove(&mut v, "order.indication");
    set(&mut v, "care_area", json!("pediatric"));
    set(&mut v, "patient.age", json!("2 y"));
    set(&mut v, "patient.weight", json!("12 kg"));
    set(&mut v, "patient.height", json!("86 cm"));
    set(&mut v, "order.dose", json!("10 mg"));
    set(&mut v, "order.volume", json!("10 mL"));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    assert_eq!(
        r.medication.as_ref().and_then(|m| m.rule.as_deref()),
        Some("intrathecal-under-3")
    );
    // The adult 12 mg ceiling does not stretch: 15 mg to a 2-year-old is a hard stop.
    set(&mut v, "order.dose", json!("15 mg"));
    set(&mut v, "order.volume", json!("15 mL"));
    assert_eq!(run(&v).verdict, Verdict::HardStop);
}

#[test]
fn an_iv_methotrexate_rule_never_admits_an_intrathecal_order() {
    // Named as the osteosarcoma rule but given intrathecally: the IV rule does not apply.
    let mut v = typical_where("methotrexate", "route", "intrathecal");
    set(&mut v, "order.indication", json!("high-dose-osteosarcoma"));
    let r = run(&v);
    assert_severity(&r, "order.indication_not_applicable", Severity::Warning);
    assert_eq!(
        r.medication.as_ref().and_then(|m| m.rule.as_deref()),
        Some("intrathecal")
    );
}

// ---- Vinca alkaloids: fatal intrathecally (vincristine, vinblastine, vinorelbine labels) ----

#[test]
fn every_vinca_alkaloid_intrathecally_is_a_hard_stop() {
    for id in ["vincristine", "vinblastine", "vinorelbine"] {
        let mut v = common::typical(common::shared(), id);
        set(&mut v, "order.route", json!("intrathecal"));
        let r = run(&v);
        assert_eq!(r.verdict, Verdict::HardStop, "{id}: {}", codes(&r));
        assert_eq!(
            severity_of(&r, "route.not_allowed"),
            Some(Severity::HardStop),
            "{id}"
        );
        // The standard IV order is ok.
        let r = run(&common::typical(common::shared(), id));
        assert_eq!(r.verdict, Verdict::Ok, "{id}: {}", codes(&r));
    }
}

#[test]
fn the_validator_refuses_a_rule_route_the_entry_does_not_allow() {
    let files = common::library_files();
    let (name, text) = files
        .iter()
        .find(|(n, _)| n == "vincristine.toml")
        .cloned()
        .unwrap_or_default();
    let bad = text.replacen(
        "[[dosing]]\n",
        "[[dosing]]\nroutes = [\"intrathecal\"]\n",
        1,
    );
    assert_ne!(bad, text, "the edit applied");
    let err = infusio_core::library::Library::load([(name.as_str(), bad.as_str())])
        .err()
        .unwrap_or_default();
    assert!(
        err.iter()
            .any(|e| e.field.contains("routes[0]") && e.message.contains("intrathecal")),
        "{err:?}"
    );
}

// ---- Per-cycle doses written weekly or daily (each drug's label cycle; windows shorter than
// the shortest standard cycle, so one dose per cycle never alarms) ----

#[test]
fn a_per_cycle_dose_written_weekly_or_daily_is_a_hard_stop_and_the_cycle_dose_is_ok() {
    // (drug, frequency that must stop): doxorubicin 60-75 mg/m2 q21d, docetaxel 75 mg/m2
    // q21d, oxaliplatin 85 mg/m2 q14d written weekly; vinblastine weekly and cyclophosphamide
    // per cycle written daily.
    for (id, wrong) in [
        ("doxorubicin", "q7d"),
        ("docetaxel", "q7d"),
        ("oxaliplatin", "q7d"),
        ("vinblastine", "q24h"),
        ("cyclophosphamide", "q24h"),
    ] {
        let std = common::typical(common::shared(), id);
        let r = run(&std);
        assert_eq!(r.verdict, Verdict::Ok, "{id}: {}", codes(&r));
        let mut v = std;
        set(&mut v, "order.frequency", json!(wrong));
        let r = run(&v);
        assert_eq!(
            severity_of(&r, "dose.window.above_hard_max"),
            Some(Severity::HardStop),
            "{id} {wrong}: {}",
            codes(&r)
        );
    }
    // Vinblastine weekly is its labelled schedule: ok.
    let mut v = common::typical(common::shared(), "vinblastine");
    set(&mut v, "order.frequency", json!("q7d"));
    assert_eq!(run(&v).verdict, Verdict::Ok);
}

// ---- SC maintenance forms of the IV biologics ----

#[test]
fn ustekinumab_sc_maintenance_is_its_own_rule_and_the_iv_and_sc_doses_do_not_cross() {
    // STELARA PI 2.3: IV induction 260-520 mg by weight, then 90 mg SC every 8 weeks.
    let sc = typical_where("ustekinumab", "route", "sc");
    let r = run(&sc);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    // The IV induction dose given SC: hard stop (the SC rule's ceiling).
    let mut induction_sc = sc.clone();
    set(&mut induction_sc, "order.dose", json!("390 mg"));
    remove(&mut induction_sc, "order.indication");
    let r = run(&induction_sc);
    assert_severity(&r, "dose.above_hard_max", Severity::HardStop);
    // The SC dose infused IV: below the IV rule's minimum, hard stop.
    let mut sc_iv = typical_where("ustekinumab", "route", "iv");
    set(&mut sc_iv, "order.dose", json!("90 mg"));
    assert_eq!(run(&sc_iv).verdict, Verdict::HardStop);
}

#[test]
fn sc_orders_of_iv_only_biologics_are_refused_naming_the_sc_product() {
    for (id, product) in [
        ("risankizumab", "SKYRIZI"),
        ("guselkumab", "TREMFYA"),
        ("abatacept", "ORENCIA"),
        ("golimumab", "SIMPONI"),
    ] {
        let mut v = common::typical(common::shared(), id);
        set(&mut v, "order.route", json!("sc"));
        let r = run(&v);
        assert_eq!(r.verdict, Verdict::HardStop, "{id}: {}", codes(&r));
        let f = r
            .findings
            .iter()
            .find(|f| f.code == "route.conditional")
            .unwrap_or_else(|| panic!("{id}: {}", codes(&r)));
        assert_eq!(f.severity, Severity::HardStop);
        assert!(
            f.message.contains(product) && f.message.contains("subcutaneous"),
            "{id}: {}",
            f.message
        );
    }
}

// ---- Immune globulin: an IV-only brand by the subcutaneous route ----

#[test]
fn an_iv_only_immune_globulin_given_subcutaneously_is_a_hard_stop() {
    // Gamunex-C and Gammagard Liquid are labelled for SC use in primary immunodeficiency (a
    // warning naming the conditions); Panzyga, Bivigam, Privigen, Octagam and Gammaplex are
    // IV only. The old conditional route warned for every brand.
    let mut v = typical_where("immune-globulin", "product", "gamunex-c");
    set(&mut v, "order.route", json!("sc"));
    let r = run(&v);
    assert_severity(&r, "route.conditional", Severity::Warning);
    assert!(!r.has("route.not_allowed"));
    for product in [
        "panzyga",
        "bivigam",
        "gammaplex-5",
        "privigen",
        "octagam-10",
    ] {
        let mut v = typical_where("immune-globulin", "product", product);
        set(&mut v, "order.route", json!("sc"));
        let r = run(&v);
        assert_eq!(
            severity_of(&r, "route.not_allowed"),
            Some(Severity::HardStop),
            "{product}: {}",
            codes(&r)
        );
    }
}
