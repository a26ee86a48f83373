//! The errors that kill patients, each beside the standard order that must not alarm:
//! regimen-, product-, dose-band- and infusion-qualified limits, rule selection without an
//! indication, rolling-window (per-cycle) ceilings, per-kg ceilings for flat doses, drug
//! identity, and the plausibility of the inputs. Each test names the label or report behind it.

mod common;

use common::{assert_severity, codes, remove, run, set, severity_of, typical};
use infusio_core::check::{Verdict, check_json};
use infusio_core::derivation::Severity;
use infusio_core::library::Library;
use serde_json::{Value, json};

fn lib() -> &'static Library {
    common::shared()
}

/// The typical order of `id` whose `order.<key>` equals `value`.
fn typical_where(id: &str, key: &str, value: &str) -> Value {
    lib()
        .get(id)
        .and_then(|e| {
            e.typical_order
                .iter()
                .find(|t| t["order"][key] == value)
                .cloned()
        })
        .unwrap_or_else(|| panic!("{id} has a typical order with {key} = {value}"))
}

// ---- Fluorouracil: ISMP 2015 (46-h infusion delivered in 2 h); ISMP Canada 2007 RCA ----

fn fluorouracil_46h() -> Value {
    typical_where("fluorouracil", "indication", "continuous-46h")
}

#[test]
fn fluorouracil_46_hour_infusion_is_ok() {
    let r = run(&fluorouracil_46h());
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
}

#[test]
fn fluorouracil_46_hour_dose_programmed_over_3_hours_is_a_hard_stop() {
    let mut v = fluorouracil_46h();
    set(&mut v, "order.duration", json!("3 h"));
    set(&mut v, "order.rate", json!("33.3 mL/h"));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert_severity(&r, "duration.below_hard_min", Severity::HardStop);
    // The derivation names the block that applied and why.
    assert!(
        r.steps
            .iter()
            .any(|s| s.description.contains("rule continuous-46h")),
        "no step names the rule-qualified duration block"
    );
}

#[test]
fn fluorouracil_46_hour_order_without_indication_is_not_hard_stopped() {
    let mut v = fluorouracil_46h();
    remove(&mut v, "order.indication");
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::Warning, "{}", codes(&r));
    assert_eq!(
        severity_of(&r, "order.indication_unstated"),
        Some(Severity::Warning)
    );
    assert_eq!(
        r.medication.as_ref().and_then(|m| m.rule.as_deref()),
        Some("continuous-46h")
    );
}

#[test]
fn fluorouracil_46_hour_dose_over_3_hours_without_indication_is_still_a_hard_stop() {
    let mut v = fluorouracil_46h();
    remove(&mut v, "order.indication");
    set(&mut v, "order.duration", json!("3 h"));
    set(&mut v, "order.rate", json!("33.3 mL/h"));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
}

#[test]
fn fluorouracil_bolus_is_ok_and_the_bolus_dose_over_46_hours_is_not_the_bolus_rule() {
    let bolus = typical_where("fluorouracil", "indication", "bolus");
    let r = run(&bolus);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    // The continuous dose named as a bolus: the bolus rule's dose limit stops it.
    let mut v = fluorouracil_46h();
    set(&mut v, "order.indication", json!("bolus"));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
}

// ---- Rituximab: Rituxan label 2.x (90-minute infusion from cycle 2; 400 mg/h otherwise) ----

fn rituximab_90_minutes(infusion_number: u64) -> Value {
    let mut v = typical(lib(), "rituximab");
    remove(&mut v, "order.indication");
    // 700 mg in 250 mL (2.8 mg/mL): 20% over 30 min (280 mg/h = 100 mL/h), 80% over 60 min.
    set(&mut v, "order.volume", json!("250 mL"));
    set(&mut v, "order.duration", json!("90 min"));
    set(&mut v, "order.rate", json!("100 mL/h"));
    set(&mut v, "order.frequency", json!("q21d"));
    set(&mut v, "order.infusion_number", json!(infusion_number));
    v
}

#[test]
fn rituximab_90_minute_infusion_from_cycle_2_is_allowed_with_an_eligibility_warning() {
    let r = run(&rituximab_90_minutes(2));
    assert_eq!(r.verdict, Verdict::Warning, "{}", codes(&r));
    assert_severity(&r, "rule.eligibility", Severity::Warning);
    assert_eq!(
        r.medication.as_ref().and_then(|m| m.rule.as_deref()),
        Some("nhl-90-minute")
    );
}

#[test]
fn rituximab_first_infusion_over_90_minutes_is_a_hard_stop() {
    let r = run(&rituximab_90_minutes(1));
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert_eq!(
        severity_of(&r, "rate.above_hard_max"),
        Some(Severity::HardStop)
    );
    // Naming the 90-minute rule does not make a first infusion eligible.
    let mut v = rituximab_90_minutes(1);
    set(&mut v, "order.indication", json!("nhl-90-minute"));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert!(r.has("order.indication_not_applicable"), "{}", codes(&r));
}

#[test]
fn rituximab_standard_first_infusion_is_ok() {
    let r = run(&typical(lib(), "rituximab"));
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
}

// ---- Iron sucrose: Venofer label 2.x (push up to 200 mg over 2-5 min) ----

fn iron_sucrose_push(dose_mg: u32, minutes: u32) -> Value {
    let mut v = typical(lib(), "iron-sucrose");
    let volume = f64::from(dose_mg) / 20.0;
    set(&mut v, "order.dose", json!(format!("{dose_mg} mg")));
    set(&mut v, "order.volume", json!(format!("{volume} mL")));
    set(&mut v, "order.duration", json!(format!("{minutes} min")));
    set(
        &mut v,
        "order.rate",
        json!(format!("{} mL/h", volume * 60.0 / f64::from(minutes))),
    );
    v
}

#[test]
fn iron_sucrose_200_mg_push_over_2_to_5_minutes_is_ok() {
    for minutes in [2, 5] {
        let r = run(&iron_sucrose_push(200, minutes));
        assert_eq!(r.verdict, Verdict::Ok, "{minutes} min: {}", codes(&r));
    }
}

#[test]
fn iron_sucrose_400_mg_push_over_4_minutes_is_a_hard_stop() {
    let r = run(&iron_sucrose_push(400, 4));
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert_eq!(
        severity_of(&r, "duration.below_hard_min"),
        Some(Severity::HardStop)
    );
    assert!(
        r.steps
            .iter()
            .any(|s| s.description.contains("doses above 300 mg")),
        "no step names the dose-band block"
    );
}

// ---- Cisplatin: boxed warning (100 mg/m2 per cycle, not per day) ----

fn cisplatin(dose_per_m2: f64, frequency: &str) -> Value {
    let mut v = typical(lib(), "cisplatin");
    // Mosteller for 70 kg, 165 cm.
    let bsa = (165.0_f64 * 70.0 / 3600.0).sqrt();
    let mg = (dose_per_m2 * bsa).round();
    set(&mut v, "order.dose", json!(format!("{mg} mg")));
    set(
        &mut v,
        "order.dose_per",
        json!(format!("{dose_per_m2} mg/m2")),
    );
    set(&mut v, "order.frequency", json!(frequency));
    v
}

#[test]
fn cisplatin_100_mg_m2_every_21_days_is_ok_and_every_24_hours_is_a_hard_stop() {
    let r = run(&cisplatin(100.0, "q21d"));
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    let r = run(&cisplatin(100.0, "q24h"));
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert_severity(&r, "dose.window.above_hard_max", Severity::HardStop);
    // Without an indication too: no rule of cisplatin allows 100 mg/m2 daily.
    let mut v = cisplatin(100.0, "q24h");
    remove(&mut v, "order.indication");
    assert_eq!(run(&v).verdict, Verdict::HardStop);
}

#[test]
fn cisplatin_testicular_20_mg_m2_daily_for_5_days_is_its_own_rule() {
    let mut v = cisplatin(20.0, "q24h");
    set(&mut v, "order.indication", json!("testicular-daily-x5"));
    set(&mut v, "order.doses", json!(5));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    // Seven daily doses are 140 mg/m2 in the cycle.
    set(&mut v, "order.doses", json!(7));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
}

#[test]
fn cisplatin_cycle_ceiling_counts_the_history_in_the_window() {
    let mut v = cisplatin(75.0, "q21d");
    set(
        &mut v,
        "patient.history",
        json!([{"medication": "cisplatin", "dose": "135 mg", "bsa": "1.8 m2", "at": "2026-11-16T09:00:00Z"}]),
    );
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert!(r.has("dose.window.above_hard_max"));
    // The same dose 22 days earlier is outside the 21-day window.
    set(
        &mut v,
        "patient.history",
        json!([{"medication": "cisplatin", "dose": "135 mg", "bsa": "1.8 m2", "at": "2026-11-04T09:00:00Z"}]),
    );
    assert_eq!(run(&v).verdict, Verdict::Ok);
}

// ---- Ferric carboxymaltose: Injectafer label 2.1 (under 50 kg: 15 mg/kg up to 750 mg) ----

#[test]
fn ferric_carboxymaltose_750_mg_to_a_30_kg_child_is_a_hard_stop() {
    let ok = typical(lib(), "ferric-carboxymaltose");
    assert_eq!(run(&ok).verdict, Verdict::Ok);
    let mut v = ok;
    set(&mut v, "patient.age", json!("9 y"));
    set(&mut v, "patient.weight", json!("30 kg"));
    set(&mut v, "patient.height", json!("133 cm"));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    // 15 mg/kg for the same child is ordered correctly.
    set(&mut v, "order.dose", json!("450 mg"));
    set(&mut v, "order.dose_per", json!("15 mg/kg"));
    set(&mut v, "order.volume", json!("100 mL"));
    set(&mut v, "order.rate", json!("300 mL/h"));
    let r = run(&v);
    assert_ne!(r.verdict, Verdict::HardStop, "{}", codes(&r));
}

#[test]
fn ferric_carboxymaltose_flat_dose_has_a_per_kg_ceiling_at_50_kg_and_over() {
    let mut v = typical(lib(), "ferric-carboxymaltose");
    set(&mut v, "patient.weight", json!("52 kg"));
    set(&mut v, "order.dose", json!("1000 mg"));
    let r = run(&v);
    // 19.2 mg/kg: above the labelled 15 mg/kg (soft), below the institutional hard 20 mg/kg.
    assert_severity(&r, "dose.per_kg.above_soft_max", Severity::Warning);
}

// ---- Age bands: gentamicin extended interval is adult-only; paediatric KCl rate ----

#[test]
fn gentamicin_extended_interval_is_not_applied_to_a_child() {
    let mut v = typical(lib(), "gentamicin");
    set(&mut v, "patient.age", json!("8 y"));
    set(&mut v, "patient.weight", json!("26 kg"));
    set(&mut v, "patient.height", json!("128 cm"));
    set(&mut v, "care_area", json!("pediatric"));
    set(&mut v, "order.dose", json!("182 mg"));
    set(&mut v, "order.dose_per", json!("7 mg/kg"));
    set(&mut v, "order.frequency", json!("q24h"));
    remove(&mut v, "order.indication");
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
}

#[test]
fn potassium_chloride_paediatric_rate_applies_by_age_in_any_care_area() {
    let mut v = typical(lib(), "potassium-chloride");
    set(&mut v, "patient.age", json!("6 y"));
    set(&mut v, "patient.weight", json!("20 kg"));
    set(&mut v, "patient.height", json!("115 cm"));
    // 10 mEq in 100 mL over 15 min: 40 mEq/h, 2 mEq/kg/h for 20 kg (paediatric maximum 1).
    set(&mut v, "order.dose", json!("10 mEq"));
    set(&mut v, "order.volume", json!("100 mL"));
    set(&mut v, "order.duration", json!("15 min"));
    set(&mut v, "order.rate", json!("400 mL/h"));
    let r = run(&v);
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == "rate.above_hard_max" && f.message.contains("mEq/kg/h")),
        "{}",
        codes(&r)
    );
}

// ---- Identity: ISMP (confusable and invisible characters); unknown drugs; routes ----

#[test]
fn a_zero_width_character_or_a_confusable_letter_in_the_name_is_refused() {
    for name in [
        "potassium\u{200B}chloride",
        "v\u{0430}ncomycin",
        "heparin\u{0007}",
    ] {
        let mut v = typical(lib(), "vancomycin");
        set(&mut v, "order.medication", json!(name));
        match check_json(lib(), &v) {
            Err(e) => assert_eq!(e.field, "order.medication", "{name:?}"),
            Ok(r) => panic!("{name:?} was accepted: {}", codes(&r)),
        }
    }
    // A full-width name is the same name after NFKC.
    let mut v = typical(lib(), "vancomycin");
    set(&mut v, "order.medication", json!("ｖａｎｃｏｍｙｃｉｎ"));
    let r = run(&v);
    assert_eq!(r.medication.map(|m| m.id), Some("vancomycin".to_string()));
}

#[test]
fn an_unknown_drug_is_a_hard_stop_unless_a_pharmacist_entered_its_limits() {
    let mut v = typical(lib(), "vancomycin");
    set(&mut v, "order.medication", json!("unobtainium"));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert_eq!(
        severity_of(&r, "medication.unknown"),
        Some(Severity::Warning)
    );
    assert_eq!(
        severity_of(&r, "medication.off_library_required"),
        Some(Severity::HardStop)
    );
    set(
        &mut v,
        "order.off_library",
        json!({"entered_by": "pharmacist-7", "reason": "trial drug", "dose_hard_max": "2 g", "rate_hard_max": "500 mL/h"}),
    );
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::Warning, "{}", codes(&r));
    assert!(r.has("medication.off_library") && r.has("double_check.required"));
    set(&mut v, "order.off_library.dose_hard_max", json!("500 mg"));
    assert_eq!(run(&v).verdict, Verdict::HardStop);
}

#[test]
fn a_route_the_library_does_not_list_is_a_hard_stop() {
    let mut v = typical(lib(), "infliximab");
    set(&mut v, "order.route", json!("intrathecal"));
    let r = run(&v);
    assert_severity(&r, "route.not_allowed", Severity::HardStop);
}

// ---- Products: immune globulin brands (each label's maximum rate by indication) ----

fn ivig(product: &str, indication: &str, rate_mg_per_kg_min: f64) -> Value {
    let mut v = typical_where("immune-globulin", "product", "gammagard-liquid");
    set(&mut v, "order.product", json!(product));
    set(&mut v, "order.indication", json!(indication));
    set(&mut v, "order.dose", json!("70 g"));
    set(&mut v, "order.dose_per", json!("1 g/kg"));
    set(&mut v, "order.volume", json!("700 mL"));
    // 70 kg, 10%: mg/kg/min × 70 × 60 / 100 mg/mL = mL/h; a short duration keeps the average
    // (dose ÷ duration) equal to the rate.
    let ml_per_h = rate_mg_per_kg_min * 70.0 * 60.0 / 100.0;
    set(&mut v, "order.rate", json!(format!("{ml_per_h} mL/h")));
    set(
        &mut v,
        "order.duration",
        json!(format!("{} h", 700.0 / ml_per_h)),
    );
    set(&mut v, "order.frequency", json!("q24h"));
    v
}

#[test]
fn every_brand_typical_order_is_ok() {
    let entry = lib().get("immune-globulin").expect("immune-globulin");
    let brands: std::collections::BTreeSet<&str> = entry
        .typical_order
        .iter()
        .filter_map(|t| t["order"]["product"].as_str())
        .collect();
    assert!(brands.len() >= 8, "{brands:?}");
    for t in &entry.typical_order {
        let r = run(t);
        assert_eq!(r.verdict, Verdict::Ok, "{}: {}", t["order"], codes(&r));
    }
}

#[test]
fn privigen_in_itp_is_limited_to_4_mg_per_kg_per_min() {
    let r = run(&ivig("privigen", "itp", 8.0));
    assert!(
        r.findings
            .iter()
            .any(|f| f.code == "rate.above_hard_max" && f.message.contains("mg/kg/min")),
        "{}",
        codes(&r)
    );
    let r = run(&ivig("privigen", "cidp-mmn", 8.0));
    assert!(!r.has("rate.above_hard_max"), "{}", codes(&r));
}

#[test]
fn panzyga_pi_runs_to_14_and_octagam_dermatomyositis_stops_at_4() {
    let r = run(&ivig("panzyga", "primary-immunodeficiency", 12.0));
    assert!(!r.has("rate.above_hard_max"), "{}", codes(&r));
    let r = run(&ivig("octagam-10", "dermatomyositis", 6.0));
    assert!(r.has("rate.above_hard_max"), "{}", codes(&r));
}

#[test]
fn an_ivig_order_without_a_product_is_flagged() {
    let mut v = typical_where("immune-globulin", "product", "gammagard-liquid");
    remove(&mut v, "order.product");
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "order.product_missing"),
        Some(Severity::Warning)
    );
}

// ---- Plausibility of inputs ----

#[test]
fn an_impossible_creatinine_is_refused_with_its_range() {
    let mut v = typical(lib(), "vancomycin");
    set(
        &mut v,
        "patient.labs.serum_creatinine",
        json!("0.001 mg/dL"),
    );
    match check_json(lib(), &v) {
        Err(e) => {
            assert_eq!(e.field, "patient.labs.serum_creatinine");
            assert!(e.message.contains("0.05"), "{}", e.message);
        }
        Ok(r) => panic!("accepted: {}", codes(&r)),
    }
}

#[test]
fn a_lab_dated_after_the_check_is_flagged_and_not_used() {
    let mut v = typical(lib(), "carboplatin");
    set(
        &mut v,
        "patient.labs.serum_creatinine",
        json!({"value": "0.9 mg/dL", "at": "2026-12-24T06:00:00Z"}),
    );
    let r = run(&v);
    assert_severity(&r, "lab.dated_in_future", Severity::Warning);
    // Without a usable creatinine the carboplatin dose cannot be verified.
    assert!(r.has("dose.unverifiable"), "{}", codes(&r));
}

// ---- Library: pick list and the validator's ambiguity rule ----

#[test]
fn indications_are_offered_as_a_pick_list() {
    let list = lib().indications("fluorouracil").expect("fluorouracil");
    let ids: Vec<&str> = list.iter().map(|i| i.id).collect();
    assert_eq!(ids, ["bolus", "continuous-46h", "continuous-96-120h"]);
    assert!(list.iter().all(|i| !i.label.is_empty()));
    assert!(lib().indications("unobtainium").is_none());
}

#[test]
fn the_validator_refuses_ambiguous_overlapping_blocks() {
    let text = std::fs::read_to_string(common::library_dir().join("iron-sucrose.toml"))
        .expect("iron-sucrose.toml");
    // A second block for doses up to 250 mg overlaps the up-to-200-mg band.
    let broken = text.replacen(
        "duration = [\n",
        "duration = [\n  { dose_at_most = \"250 mg\", unit = \"min\", hard_min = 1, source = \"venofer-pi\" },\n",
        1,
    );
    assert_ne!(broken, text);
    let errors = match infusio_core::library::parse_entry("iron-sucrose.toml", &broken) {
        Ok(_) => panic!("an ambiguous file loaded"),
        Err(e) => e,
    };
    assert!(
        errors.iter().any(|e| e.message.contains("ambiguous")),
        "{errors:?}"
    );
}

#[test]
fn the_validator_refuses_unknown_rules_and_a_per_kg_ceiling_on_a_per_kg_rule() {
    let text = std::fs::read_to_string(common::library_dir().join("rituximab.toml"))
        .expect("rituximab.toml");
    let broken = text.replacen(
        "rules = [\"nhl-90-minute\"]",
        "rules = [\"nhl-9O-minute\"]",
        1,
    );
    assert_ne!(broken, text);
    let errors = infusio_core::library::parse_entry("rituximab.toml", &broken)
        .err()
        .unwrap_or_default();
    assert!(
        errors
            .iter()
            .any(|e| e.message.contains("unknown dosing rule 'nhl-9O-minute'")),
        "{errors:?}"
    );
    let text = std::fs::read_to_string(common::library_dir().join("ferric-carboxymaltose.toml"))
        .expect("ferric-carboxymaltose.toml");
    // Move the per-kg ceiling onto the per-kg rule: refused (it belongs to flat rules).
    let broken = text.replacen(
        "weight_max_kg = 50\n",
        "weight_max_kg = 50\nper_kg = { unit = \"mg/kg\", hard_max = 20, source = \"injectafer-pi\" }\n",
        1,
    );
    assert_ne!(broken, text);
    let errors = infusio_core::library::parse_entry("ferric-carboxymaltose.toml", &broken)
        .err()
        .unwrap_or_default();
    assert!(
        errors.iter().any(|e| e.field.ends_with("per_kg.unit")),
        "{errors:?}"
    );
}

#[test]
fn every_new_rule_has_a_typical_order_or_a_regression_test() {
    // The regimens this issue added are checked as orders: their typical orders are ok.
    for (id, indication) in [
        ("fluorouracil", "continuous-96-120h"),
        ("cisplatin", "testicular-daily-x5"),
    ] {
        let r = run(&typical_where(id, "indication", indication));
        assert_eq!(r.verdict, Verdict::Ok, "{id} {indication}: {}", codes(&r));
    }
}

#[test]
fn a_route_the_library_allows_under_conditions_is_a_warning_naming_them() {
    // Gamunex-C label: subcutaneous for primary immunodeficiency only, never in ITP.
    let mut v = typical_where("immune-globulin", "product", "gammagard-liquid");
    set(&mut v, "order.route", json!("sc"));
    let r = run(&v);
    assert_severity(&r, "route.conditional", Severity::Warning);
    assert!(!r.has("route.not_allowed"));
    // Intramuscular is listed nowhere: a hard stop.
    set(&mut v, "order.route", json!("im"));
    assert_eq!(
        severity_of(&run(&v), "route.not_allowed"),
        Some(Severity::HardStop)
    );
}
