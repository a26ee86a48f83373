//! Subcutaneous immune globulins: per-site rate and volume limits that ramp with the infusion
//! number, the subcutaneous-only route, and HyQvia's hyaluronidase step. Each case cites the
//! US label it follows (the citations in `data/library/immune-globulin-subcutaneous.toml`).

mod common;

use common::{assert_severity, codes, remove, run, set, severity_of};
use infusio_core::check::{CheckResult, Verdict, check_json};
use infusio_core::derivation::Severity;
use infusio_core::library::{infusion_matches, parse_entry};
use serde_json::{Value, json};

const ID: &str = "immune-globulin-subcutaneous";

fn typical(product: &str) -> Value {
    typical_for(product, "primary-immunodeficiency")
}

fn typical_for(product: &str, indication: &str) -> Value {
    common::shared()
        .get(ID)
        .and_then(|e| {
            e.typical_order
                .iter()
                .find(|t| {
                    t["order"]["product"] == product && t["order"]["indication"] == indication
                })
                .cloned()
        })
        .unwrap_or_else(|| panic!("{ID} has a typical order for {product} in {indication}"))
}

fn step_value(r: &CheckResult, description: &str) -> f64 {
    r.steps
        .iter()
        .find(|s| s.description == description)
        .map(|s| s.result.value)
        .unwrap_or_else(|| panic!("no step '{description}'"))
}

// ---- Hizentra (US PI 04/2023, 2.1 and 2.3) ----

#[test]
fn the_standard_hizentra_weekly_order_on_four_sites_is_ok() {
    // 0.2 g/kg weekly for 70 kg = 14 g = 70 mL of the 20% solution; a later infusion on 4
    // sites at 100 mL/h: 17.5 mL and 25 mL/h per site, within the label's <=25 mL/site and
    // <=25 mL/hr/site for subsequent infusions.
    let v = typical("hizentra");
    assert_eq!(v["order"]["sites"], 4);
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    assert!((step_value(&r, "Rate per site") - 25.0).abs() < 1e-9);
    assert!((step_value(&r, "Volume per site") - 17.5).abs() < 1e-9);
}

#[test]
fn hizentra_at_an_intravenous_rate_on_one_site_is_a_hard_stop() {
    // 200 mL/h into one site is an IVIG pump programme: 8 times the label's 25 mL/hr/site,
    // and the whole 70 mL at one site is almost 3 times its 25 mL/site.
    let mut v = typical("hizentra");
    set(&mut v, "order.rate", json!("200 mL/h"));
    set(&mut v, "order.duration", json!("21 min"));
    set(&mut v, "order.sites", json!(1));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert_eq!(
        severity_of(&r, "rate.above_hard_max"),
        Some(Severity::HardStop)
    );
    assert_eq!(
        severity_of(&r, "site_volume.above_hard_max"),
        Some(Severity::HardStop)
    );
}

#[test]
fn the_first_hizentra_infusion_has_the_lower_per_site_limits() {
    // 1st infusion: <=15 mL/site and <=15 mL/hr/site. The later infusion's 25 mL/h and 17.5 mL
    // per site are above both (soft: override with reason, within the 20% allowance).
    let mut v = typical("hizentra");
    set(&mut v, "order.infusion_number", json!(1));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    assert_eq!(
        severity_of(&r, "rate.above_hard_max"),
        Some(Severity::HardStop)
    );
    assert_eq!(
        severity_of(&r, "site_volume.above_soft_max"),
        Some(Severity::Warning)
    );
    // At 60 mL/h on 5 sites (12 mL/h and 14 mL per site) the first infusion is ok.
    set(&mut v, "order.rate", json!("60 mL/h"));
    set(&mut v, "order.duration", json!("70 min"));
    set(&mut v, "order.sites", json!(5));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
}

#[test]
fn hizentra_in_cidp_has_its_own_higher_per_site_limits() {
    // CIDP: 1st infusion <=20 mL/site and mL/hr/site, subsequent <=50; 0.2 g/kg weekly.
    let v = typical_for("hizentra", "cidp");
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    // 35 mL and 35 mL/h per site: within the CIDP limits, above the PI ones (25).
    let mut pi = v.clone();
    set(
        &mut pi,
        "order.indication",
        json!("primary-immunodeficiency"),
    );
    let r = run(&pi);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
    // The first CIDP infusion at those per-site figures is above its 20 (hard above 24).
    let mut first = v.clone();
    set(&mut first, "order.infusion_number", json!(1));
    let r = run(&first);
    assert_severity(&r, "site_volume.above_hard_max", Severity::HardStop);
    // 0.6 g/kg weekly is above the label's 0.4 g/kg (hard above 0.6 is institutional).
    let mut high = v;
    set(&mut high, "order.dose", json!("35 g"));
    set(&mut high, "order.dose_per", json!("0.5 g/kg"));
    set(&mut high, "order.volume", json!("175 mL"));
    set(&mut high, "order.sites", json!(4));
    set(&mut high, "order.rate", json!("175 mL/h"));
    let r = run(&high);
    assert!(r.has("dose.above_soft_max"), "{}", codes(&r));
}

#[test]
fn per_site_volume_exceeded_is_caught() {
    // Hizentra, subsequent infusion: 70 mL on 2 sites is 35 mL/site (label <=25): hard stop.
    let mut v = typical("hizentra");
    set(&mut v, "order.sites", json!(2));
    set(&mut v, "order.rate", json!("50 mL/h"));
    set(&mut v, "order.duration", json!("84 min"));
    let r = run(&v);
    assert_severity(&r, "site_volume.above_hard_max", Severity::HardStop);
    assert!(!r.has("rate.above_soft_max"), "{}", codes(&r));
    // Xembify: maximum 25 mL/site; 70 mL on 2 sites is 35 mL/site.
    let mut v = typical("xembify");
    set(&mut v, "order.sites", json!(2));
    set(&mut v, "order.rate", json!("70 mL/h"));
    set(&mut v, "order.duration", json!("60 min"));
    let r = run(&v);
    assert_severity(&r, "site_volume.above_hard_max", Severity::HardStop);
    // Cuvitru, first two infusions under 40 kg: <=20 mL/site; 60 mL on 2 sites is 30 mL/site.
    let mut v = typical("cuvitru");
    set(&mut v, "patient.weight", json!("30 kg"));
    set(&mut v, "patient.age", json!("9 y"));
    set(&mut v, "patient.height", json!("133 cm"));
    set(&mut v, "order.dose", json!("6 g"));
    set(&mut v, "order.dose_per", json!("0.2 g/kg"));
    set(&mut v, "order.volume", json!("30 mL"));
    set(&mut v, "order.rate", json!("30 mL/h"));
    set(&mut v, "order.duration", json!("60 min"));
    set(&mut v, "order.sites", json!(2));
    set(&mut v, "order.infusion_number", json!(2));
    let r = run(&v);
    assert_eq!(
        r.verdict,
        Verdict::Ok,
        "15 mL/site at 15 mL/h/site: {}",
        codes(&r)
    );
    set(&mut v, "order.sites", json!(1));
    let r = run(&v);
    assert_severity(&r, "site_volume.above_hard_max", Severity::HardStop);
}

#[test]
fn cutaquig_ramps_over_the_first_two_infusions_and_by_age() {
    // Cutaquig US label 2.3: adults <=20 mL/hr/site and <=25 mL/site for the first 2
    // infusions, then <=52 and <=40; children 2-16 years <=15 then <=25 mL/hr/site.
    let v = typical("cutaquig");
    assert_eq!(run(&v).verdict, Verdict::Ok);
    // 50 mL/h and 33.3 mL per site at the second infusion: above 20 (hard 24) and 25.
    let mut second = v.clone();
    set(&mut second, "order.infusion_number", json!(2));
    let r = run(&second);
    assert_severity(&r, "rate.above_hard_max", Severity::HardStop);
    assert_severity(&r, "site_volume.above_hard_max", Severity::HardStop);
    // A 12-year-old at the adult's later-infusion rate: 50 mL/h/site is above 25 (hard 30).
    let mut child = v;
    set(&mut child, "patient.age", json!("12 y"));
    set(&mut child, "patient.weight", json!("40 kg"));
    set(&mut child, "patient.height", json!("150 cm"));
    set(&mut child, "order.dose", json!("10 g"));
    set(&mut child, "order.volume", json!("60 mL"));
    set(&mut child, "order.rate", json!("150 mL/h"));
    set(&mut child, "order.duration", json!("24 min"));
    let r = run(&child);
    assert_severity(&r, "rate.above_hard_max", Severity::HardStop);
    // At 20 mL/h/site and 20 mL/site (3 sites) the child's later infusion is ok.
    set(&mut child, "order.rate", json!("60 mL/h"));
    set(&mut child, "order.duration", json!("60 min"));
    let r = run(&child);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
}

#[test]
fn more_sites_than_the_label_allows_is_a_warning() {
    // Cuvitru US PI 2.3: up to 4 infusion sites simultaneously.
    let mut v = typical("cuvitru");
    set(&mut v, "order.sites", json!(5));
    let r = run(&v);
    assert_severity(&r, "order.sites_above_label", Severity::Warning);
    set(&mut v, "order.sites", json!(4));
    assert!(!run(&v).has("order.sites_above_label"));
}

#[test]
fn without_sites_one_site_is_assumed_and_said() {
    let mut v = typical("hizentra");
    remove(&mut v, "order.sites");
    let r = run(&v);
    assert_eq!(severity_of(&r, "order.sites_assumed"), Some(Severity::Info));
    // The whole 100 mL/h at one site: a hard stop, never a guess that it is split.
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
}

// ---- Route: SC-only products by vein, IV-only products under the skin ----

#[test]
fn an_sc_only_product_ordered_intravenously_is_a_hard_stop() {
    // Every label: for subcutaneous use only, do not inject into a blood vessel.
    for product in ["hizentra", "cuvitru", "hyqvia", "xembify", "cutaquig"] {
        let mut v = typical(product);
        set(&mut v, "order.route", json!("iv"));
        let r = run(&v);
        assert_eq!(
            severity_of(&r, "route.not_allowed"),
            Some(Severity::HardStop),
            "{product}: {}",
            codes(&r)
        );
    }
}

#[test]
fn an_iv_only_immune_globulin_ordered_subcutaneously_stays_a_hard_stop() {
    // Privigen US PI: intravenous only (the full case is in check_routes_windows.rs).
    let mut v = common::typical(common::shared(), "immune-globulin");
    set(&mut v, "order.product", json!("privigen"));
    set(&mut v, "order.route", json!("sc"));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::HardStop, "{}", codes(&r));
}

#[test]
fn an_sc_product_named_on_an_ivig_order_is_a_hard_stop_naming_its_entry() {
    // Hizentra ordered as intravenous immune globulin would be checked against the IVIG
    // maximum of 8 mg/kg/min instead of its own label (subcutaneous only, 25 mL/hr/site).
    let mut v = common::typical(common::shared(), "immune-globulin");
    set(&mut v, "order.product", json!("hizentra"));
    let r = run(&v);
    assert_severity(&r, "order.product_of_other_drug", Severity::HardStop);
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "order.product_of_other_drug")
        .expect("finding");
    assert!(f.message.contains(ID), "{}", f.message);
    // A product known to no entry stays the overridable warning.
    set(&mut v, "order.product", json!("no-such-brand"));
    let r = run(&v);
    assert_eq!(
        severity_of(&r, "order.product_unknown"),
        Some(Severity::Warning)
    );
    assert!(!r.has("order.product_of_other_drug"));
}

#[test]
fn every_subcutaneous_product_has_a_typical_order_that_is_ok() {
    for product in ["hizentra", "cuvitru", "hyqvia", "xembify", "cutaquig"] {
        let r = run(&typical(product));
        assert_eq!(r.verdict, Verdict::Ok, "{product}: {}", codes(&r));
    }
    let r = run(&typical_for("hizentra", "cidp"));
    assert_eq!(r.verdict, Verdict::Ok, "hizentra cidp: {}", codes(&r));
}

// ---- HyQvia (US PI 2.1, 2.4; the per-site rate steps from the EU table, see the file) ----

#[test]
fn hyqvia_without_the_hyaluronidase_step_is_a_hard_stop() {
    let mut v = typical("hyqvia");
    remove(&mut v, "order.preceded_by");
    let r = run(&v);
    assert_severity(
        &r,
        "administration.preceding_step_missing",
        Severity::HardStop,
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.code == "administration.preceding_step_missing")
        .expect("finding");
    assert!(f.message.contains("hyaluronidase"), "{}", f.message);
    // Another step named instead is not the hyaluronidase.
    set(&mut v, "order.preceded_by", json!(["saline flush"]));
    assert!(run(&v).has("administration.preceding_step_missing"));
}

#[test]
fn hyqvia_above_its_ramp_is_caught() {
    // Later infusions from 40 kg: at most 300 mL/hr/site. 800 mL/h on 2 sites = 400.
    let mut v = typical("hyqvia");
    set(&mut v, "order.rate", json!("800 mL/h"));
    set(&mut v, "order.duration", json!("21 min"));
    let r = run(&v);
    assert_severity(&r, "rate.above_hard_max", Severity::HardStop);
    // 600 mL/h on 2 sites (300 per site) is the label's maximum for later infusions: ok ...
    set(&mut v, "order.rate", json!("600 mL/h"));
    set(&mut v, "order.duration", json!("28 min"));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    // ... but above the first two infusions' 240 mL/hr/site ramp (hard above 288).
    set(&mut v, "order.infusion_number", json!(2));
    let r = run(&v);
    assert_severity(&r, "rate.above_hard_max", Severity::HardStop);
}

#[test]
fn hyqvia_per_site_volume_is_lower_under_40_kg() {
    // From 40 kg up to 600 mL/site; under 40 kg 300 mL/site (marked unverified in the file).
    let mut v = typical("hyqvia");
    set(&mut v, "patient.weight", json!("35 kg"));
    set(&mut v, "patient.age", json!("12 y"));
    set(&mut v, "patient.height", json!("145 cm"));
    set(&mut v, "order.dose", json!("14 g"));
    set(&mut v, "order.volume", json!("140 mL"));
    set(&mut v, "order.rate", json!("160 mL/h"));
    set(&mut v, "order.duration", json!("53 min"));
    set(&mut v, "order.sites", json!(1));
    let r = run(&v);
    assert_eq!(r.verdict, Verdict::Ok, "{}", codes(&r));
    set(&mut v, "order.dose", json!("40 g"));
    set(&mut v, "order.dose_per", json!("1.14 g/kg"));
    set(&mut v, "order.volume", json!("400 mL"));
    set(&mut v, "order.duration", json!("150 min"));
    let r = run(&v);
    assert_severity(&r, "site_volume.above_hard_max", Severity::HardStop);
}

// ---- Input and library shape ----

#[test]
fn sites_and_preceded_by_are_read_strictly() {
    for bad in [json!(0), json!(13), json!(2.5), json!("two")] {
        let mut v = typical("hizentra");
        set(&mut v, "order.sites", bad.clone());
        let e = check_json(common::shared(), &v).expect_err("refused");
        assert_eq!(e.field, "order.sites", "{bad}");
    }
    let mut v = typical("hyqvia");
    set(&mut v, "order.preceded_by", json!([1]));
    let e = check_json(common::shared(), &v).expect_err("refused");
    assert_eq!(e.field, "order.preceded_by[0]");
}

#[test]
fn infusion_ranges_match_the_label_ramps() {
    assert_eq!(infusion_matches("first", 1), Some(true));
    assert_eq!(infusion_matches("subsequent", 1), Some(false));
    assert_eq!(infusion_matches("1-2", 2), Some(true));
    assert_eq!(infusion_matches("1-2", 3), Some(false));
    assert_eq!(infusion_matches("3+", 3), Some(true));
    assert_eq!(infusion_matches("7+", 6), Some(false));
    for bad in ["0+", "2-1", "1-", "x", "0-3"] {
        assert_eq!(infusion_matches(bad, 1), None, "{bad}");
    }
}

#[test]
fn the_validator_refuses_a_bad_infusion_range_and_a_per_site_unit() {
    let text = std::fs::read_to_string(common::library_dir().join(format!("{ID}.toml")))
        .expect("readable");
    assert!(parse_entry(&format!("{ID}.toml"), &text).is_ok());
    let bad = text.replacen("infusion = \"1-2\"", "infusion = \"2-1\"", 1);
    assert_ne!(bad, text);
    let e = parse_entry(&format!("{ID}.toml"), &bad).expect_err("refused");
    assert!(
        e.iter()
            .any(|e| e.field.starts_with("administration.per_site_rate")
                && e.field.ends_with("infusion")),
        "{e:?}"
    );
    let bad = text.replacen(
        "{ unit = \"mL/h\", products = [\"hizentra\"]",
        "{ unit = \"mg/h\", products = [\"hizentra\"]",
        1,
    );
    assert_ne!(bad, text);
    let e = parse_entry(&format!("{ID}.toml"), &bad).expect_err("refused");
    assert!(
        e.iter()
            .any(|e| e.field.starts_with("administration.per_site_rate")),
        "{e:?}"
    );
}
