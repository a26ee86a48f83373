//! Input refusal for `infusio check`: unknown keys, bare numbers, refused units, bad dates.
//! Each error names the dotted path, the value and what is accepted.

mod common;

use common::{contract_example, library, set};
use infusio_core::check::check_json;
use serde_json::{Value, json};

fn refused(input: &Value) -> infusio_core::input::InputError {
    match check_json(common::shared(), input) {
        Ok(r) => panic!("accepted: {:?}", r.verdict),
        Err(e) => e,
    }
}

#[test]
fn unknown_keys_are_refused_with_their_path() {
    let mut v = contract_example();
    set(&mut v, "order.weight_bassis", json!("ideal"));
    let e = refused(&v);
    assert_eq!(e.field, "order.weight_bassis");
    let mut v = contract_example();
    set(&mut v, "patient.labs.creatinine", json!("1 mg/dL"));
    assert_eq!(refused(&v).field, "patient.labs.creatinine");
}

#[test]
fn a_bare_number_is_refused() {
    let mut v = contract_example();
    set(&mut v, "order.dose", json!(350));
    let e = refused(&v);
    assert_eq!(e.field, "order.dose");
    assert!(e.message.contains("bare number"));
}

#[test]
fn the_abbreviation_u_is_refused() {
    let mut v = contract_example();
    set(&mut v, "order.dose", json!("1000 U"));
    let e = refused(&v);
    assert_eq!(e.field, "order.dose");
    assert!(e.message.contains("ISMP"));
}

#[test]
fn arrays_name_the_index() {
    let mut v = contract_example();
    set(
        &mut v,
        "patient.history",
        json!([{"medication": "doxorubicin", "dose": "108 mg"}, {"medication": "doxorubicin", "dose": "10 kg/m2"}]),
    );
    assert_eq!(refused(&v).field, "patient.history[1].dose");
}

#[test]
fn dates_need_a_zone() {
    let mut v = contract_example();
    set(&mut v, "at", json!("2026-11-26T09:00:00"));
    assert_eq!(refused(&v).field, "at");
}

#[test]
fn care_area_and_required_fields() {
    let mut v = contract_example();
    set(&mut v, "care_area", json!("emergency"));
    assert_eq!(refused(&v).field, "care_area");
    let mut v = contract_example();
    if let Some(o) = v["order"].as_object_mut() {
        o.remove("dose");
    }
    assert_eq!(refused(&v).field, "order.dose");
}

#[test]
fn a_lab_in_the_wrong_dimension_is_refused() {
    let mut v = contract_example();
    set(&mut v, "patient.labs.hemoglobin", json!("9.1 mg/kg"));
    let e = refused(&v);
    assert_eq!(e.field, "patient.labs.hemoglobin");
    assert!(e.message.contains("g/dL"));
}

#[test]
fn frequency_is_validated() {
    let mut v = contract_example();
    set(&mut v, "order.frequency", json!("twice daily"));
    let e = refused(&v);
    assert_eq!(e.field, "order.frequency");
    assert!(e.message.contains("q<N>h"));
}

#[test]
fn the_minimal_order_is_accepted_and_missing_data_reported() {
    let v = json!({"care_area": "adult-infusion", "order": {"medication": "infliximab", "dose": "350 mg"}});
    let r = check_json(&library(), &v).expect("accepted");
    assert!(r.has("dose.unverifiable"));
    assert!(r.has("order.route_missing"));
}
