//! Every dose basis the calculators know is an order input: each basis previewed for the
//! harness patient (female, 70 kg, 165 cm, creatinine 0.9 mg/dL) equals the core calculator's
//! result on the same measures (the function `infusio calc` runs), the harmful variant is
//! refused beside the standard one, a changed creatinine changes a carboplatin AUC dose at
//! verification and asks for a new signature, and every protocol template's dose line can be
//! previewed (both backends).

mod common;

use axum::http::StatusCode;
use infusio_core::calc;
use infusio_testkit::on_both_backends;
use serde_json::{Value, json};

/// The dose of a preview (`computed.dose`, `computed.dose_unit`).
fn dose_of(body: &Value) -> (f64, String) {
    (
        body["computed"]["dose"].as_f64().unwrap_or(f64::NAN),
        body["computed"]["dose_unit"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// The core calculator's dose output on `input`.
fn core_dose(calculator: &str, input: &Value) -> (f64, String) {
    let c = calc::run(calculator, input).expect("the core calculator accepts the measures");
    let q = c
        .outputs
        .get("dose_rounded")
        .or_else(|| c.outputs.get("dose"))
        .expect("a dose output");
    (q.value, q.unit.clone())
}

async fn preview(h: &common::Harness, order: Value) -> common::Reply {
    let mut body = order;
    body["patient_id"] = json!(h.patient_id);
    h.call(
        "POST",
        "/api/orders/preview",
        Some("prescriber"),
        Some(body),
        &[],
    )
    .await
}

/// The patient's age in years as the application computed it (its clock, the birth date).
fn age_of(body: &Value) -> i64 {
    body["computed"]["derivation"]["patient"]["age_y"]
        .as_i64()
        .expect("age in the derivation")
}

async fn carboplatin_auc_equals_the_calvert_calculator_and_an_auc_of_50_is_refused() {
    let h = common::harness().await;
    let r = preview(
        &h,
        json!({"medication": "carboplatin", "dose_per": "5 mg/mL.min", "route": "iv",
               "volume": "250 mL", "duration": "30 min"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let expected = core_dose(
        "carboplatin",
        &json!({"target_auc": "5 mg/mL.min", "age": format!("{} y", age_of(&r.body)),
                "sex": "female", "weight": "70 kg", "height": "165 cm",
                "serum_creatinine": "0.9 mg/dL"}),
    );
    assert_eq!(dose_of(&r.body), expected, "{}", r.body);
    let calc = &r.body["computed"]["derivation"]["dose_calculation"];
    assert_eq!(calc["calculator"], "carboplatin", "{calc}");
    assert!(
        calc["steps"].as_array().is_some_and(|s| s
            .iter()
            .any(|s| s["formula"] == "dose = AUC × (GFR_used + 25)")),
        "the Calvert step is in the derivation: {calc}"
    );
    assert_eq!(
        r.body["computed"]["derivation"]["request"]["dose_per"],
        "5 mg/mL.min"
    );

    // AUC 50 typed for 5: refused, naming the field and the accepted range.
    let r = preview(
        &h,
        json!({"medication": "carboplatin", "dose_per": "50 mg/mL.min", "route": "iv"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "dose_per", "{}", r.body);

    // The cap and rounding of the order apply after the formula.
    let r = preview(
        &h,
        json!({"medication": "carboplatin", "dose_per": "5 mg/mL.min", "route": "iv",
               "rounding": {"increment": "10 mg", "tolerance_percent": 10}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (rounded, _) = dose_of(&r.body);
    assert_eq!(rounded, (expected.0 / 10.0).round() * 10.0, "{}", r.body);
}

async fn factor_viii_target_rise_equals_the_factor_calculator_and_1000_percent_is_refused() {
    let h = common::harness().await;
    for rise in ["50 IU/dL", "50 %", "50 [iU]/dL"] {
        let r = preview(
            &h,
            json!({"medication": "factor-viii", "dose_per": rise, "route": "iv",
                   "volume": "10 mL", "duration": "5 min"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{rise}: {}", r.body);
        let expected = core_dose(
            "factor-dose",
            &json!({"factor": "viii", "desired_rise": rise, "weight": "70 kg"}),
        );
        assert_eq!(dose_of(&r.body), expected, "{rise}: {}", r.body);
        assert_eq!(
            r.body["computed"]["derivation"]["dose_calculation"]["calculator"],
            "factor-dose"
        );
    }
    let r = preview(
        &h,
        json!({"medication": "factor-viii", "dose_per": "1000 %", "route": "iv"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "dose_per", "{}", r.body);
}

async fn per_measure_bases_equal_the_dose_calculator() {
    let h = common::harness().await;
    for (medication, dose_per) in [
        ("infliximab", "5 mg/kg"),
        ("rituximab", "375 mg/m2"),
        ("factor-viii", "25 units/kg"),
    ] {
        let r = preview(
            &h,
            json!({"medication": medication, "dose_per": dose_per, "route": "iv"}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{medication}: {}", r.body);
        let expected = core_dose(
            "dose",
            &json!({"dose_per": dose_per, "weight": "70 kg", "height": "165 cm", "sex": "female"}),
        );
        assert_eq!(dose_of(&r.body), expected, "{medication}: {}", r.body);
    }
}

async fn ivig_per_kg_with_a_product_equals_the_ivig_calculator_and_the_indication_picks_the_rule() {
    let h = common::harness().await;
    for (indication, dose_per) in [
        ("kawasaki", "2 g/kg"),
        ("primary-immunodeficiency", "0.4 g/kg"),
    ] {
        let r = preview(
            &h,
            json!({"medication": "immune-globulin", "dose_per": dose_per, "route": "iv",
                   "product": "gammagard-liquid", "indication": indication}),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{indication}: {}", r.body);
        let expected = core_dose(
            "ivig",
            &json!({"dose_per": dose_per, "weight": "70 kg", "height": "165 cm", "sex": "female"}),
        );
        assert_eq!(dose_of(&r.body), expected, "{indication}: {}", r.body);
        let derivation = &r.body["computed"]["derivation"];
        assert_eq!(derivation["dose_calculation"]["calculator"], "ivig");
        assert_eq!(
            derivation["check"]["medication"]["rule"], indication,
            "the order's indication picks the library rule: {derivation}"
        );
    }
    // 20 g/kg typed for 2 g/kg: refused by the calculator's range, naming dose_per.
    let r = preview(
        &h,
        json!({"medication": "immune-globulin", "dose_per": "20 g/kg", "route": "iv",
               "product": "gammagard-liquid", "indication": "kawasaki"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "dose_per", "{}", r.body);
}

async fn an_iron_course_is_the_ganzoni_deficit_in_labelled_single_doses() {
    let h = common::harness().await;
    let r = preview(
        &h,
        json!({"medication": "iron-sucrose", "dose_per": "ganzoni", "route": "iv",
               "volume": "100 mL", "duration": "30 min"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The harness patient: 70 kg, haemoglobin 12.8 g/dL; the label's defaults apply.
    let c = calc::run(
        "iron-deficit",
        &json!({"weight": "70 kg", "hemoglobin": "12.8 g/dL"}),
    )
    .expect("iron-deficit");
    let deficit = c.outputs.get("iron_deficit").expect("deficit").value;
    let calc = &r.body["computed"]["derivation"]["dose_calculation"];
    assert_eq!(calc["calculator"], "iron-deficit", "{calc}");
    let course_total = calc["outputs"]["course_total"]["value"].as_f64();
    assert_eq!(course_total, Some(deficit), "{calc}");
    // Iron sucrose: the library's usual single dose is 200 mg.
    assert_eq!(dose_of(&r.body), (200.0_f64.min(deficit), "mg".to_string()));
    assert_eq!(
        calc["outputs"]["doses_in_course"]["value"].as_f64(),
        Some((deficit / 200.0).ceil())
    );
    // A target of 150 g/dL (g/L meant as g/dL … or a slip): refused, naming the field.
    let r = preview(
        &h,
        json!({"medication": "iron-sucrose", "dose_per": "ganzoni", "route": "iv",
               "target_hemoglobin": "150 g/dL"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "target_hemoglobin", "{}", r.body);
}

/// A 3-in-1 bag for the 70 kg harness patient: the PN protocol's amounts per kg.
fn pn_bag(line: &str, dextrose: &str) -> Value {
    json!({"medication": "parenteral-nutrition", "route": "iv", "volume": "2000 mL",
           "duration": "24 h", "line": line, "frequency": "q24h",
           "pn": {"bag": "3-in-1", "dextrose": dextrose, "amino_acids": "1.5 g/kg",
                  "lipid": "1 g/kg",
                  "electrolytes": {"sodium": "100 mEq", "potassium": "80 mEq",
                                   "calcium": "10 mEq", "magnesium": "16 mEq"}}})
}

async fn a_pn_bag_is_one_order_with_the_calculator_figures_and_its_components_checked() {
    let h = common::harness().await;
    let r = preview(&h, pn_bag("central", "4 g/kg")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(dose_of(&r.body), (2000.0, "mL".to_string()));
    let c = calc::run(
        "parenteral-nutrition",
        &json!({"weight": "70 kg", "volume": "2000 mL", "dextrose": "280 g",
                "amino_acids": "105 g", "lipid": "70 g", "cations": "206 mEq",
                "infusion_duration": "24 h", "line": "central"}),
    )
    .expect("parenteral-nutrition");
    let calc = &r.body["computed"]["derivation"]["dose_calculation"];
    assert_eq!(calc["calculator"], "parenteral-nutrition", "{calc}");
    for out in ["energy", "gir", "osmolarity", "protein_per_kg"] {
        let expected = c.outputs.get(out).expect("output").value;
        let got = calc["outputs"][out]["value"].as_f64().unwrap_or(f64::NAN);
        assert!((got - expected).abs() < 1e-9, "{out}: {got} vs {expected}");
    }
    let rate = r.body["computed"]["rate_ml_per_h"]
        .as_f64()
        .unwrap_or(f64::NAN);
    assert!((rate - 2000.0 / 24.0).abs() < 1e-6, "{rate}");
    // Each component was checked against its own library entry.
    let checked: Vec<String> = r.body["computed"]["derivation"]["check"]["input"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["order"]["medication"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(checked, ["dextrose", "amino-acids", "lipid-emulsion"]);

    // The same bag through a peripheral line: over the 900 mOsm/L limit (ASPEN).
    let osm = c.outputs.get("osmolarity").expect("osmolarity").value;
    assert!(osm > 900.0, "{osm}");
    let r = preview(&h, pn_bag("peripheral", "4 g/kg")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let codes: Vec<&str> = r.body["computed"]["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["code"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        codes.contains(&"pn.osmolarity_above_peripheral_limit"),
        "{codes:?}"
    );

    // 15 g/kg of dextrose (1,050 g; 15 typed for 1.5?): the dextrose library limit is a hard
    // stop and the GIR is above 5 mg/kg/min.
    let r = preview(&h, pn_bag("central", "15 g/kg")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["computed"]["verdict"], "hard_stop", "{}", r.body);
    let codes: Vec<&str> = r.body["computed"]["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["code"].as_str()).collect())
        .unwrap_or_default();
    assert!(codes.contains(&"pn.gir_above_limit"), "{codes:?}");

    // A 2-in-1 bag refuses lipid inside it; a PN order refuses a dose.
    let mut two = pn_bag("central", "4 g/kg");
    two["pn"]["bag"] = json!("2-in-1");
    let r = preview(&h, two).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "pn.lipid", "{}", r.body);
    let mut dosed = pn_bag("central", "4 g/kg");
    dosed["dose"] = json!("2000 mL");
    let r = preview(&h, dosed).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "dose_per", "{}", r.body);
}

async fn the_pn_protocol_lines_make_one_bag_that_is_accepted() {
    let h = common::harness().await;
    let protocols = infusio_app::plans::builtin_protocols().expect("protocols load");
    let p = protocols
        .iter()
        .find(|p| p.id == "parenteral-nutrition-adult-central")
        .expect("the PN protocol");
    let mut pn = json!({"bag": "3-in-1"});
    for d in &p.phases[0].drugs {
        let key = match d.medication.as_str() {
            "dextrose" => "dextrose",
            "amino-acids" => "amino_acids",
            "lipid-emulsion" => "lipid",
            other => panic!("a PN protocol line of {other}"),
        };
        pn[key] = json!(format!("{} {}", d.dose, d.dose_unit));
    }
    let r = preview(
        &h,
        json!({"medication": "parenteral-nutrition", "route": "iv", "volume": "2000 mL",
               "duration": "24 h", "line": "central", "frequency": "q24h", "pn": pn}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_ne!(r.body["computed"]["verdict"], "hard_stop", "{}", r.body);
}

async fn a_pn_bag_is_created_signed_and_verified_as_one_order() {
    let h = common::harness().await;
    let mut body = pn_bag("central", "4 g/kg");
    let r = preview(&h, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    body["patient_id"] = json!(h.patient_id);
    body["overrides"] = Value::Array(
        r.body["computed"]["findings"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f["severity"] == "warning")
            .map(|f| json!({"code": f["code"], "reason": "reviewed with the nutrition team"}))
            .collect(),
    );
    let r = h
        .call("POST", "/api/orders", Some("prescriber"), Some(body), &[])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["medication"], "parenteral-nutrition");
    assert_eq!(r.body["high_alert"], true);
    let id = r.body["id"].as_str().unwrap_or_default().to_string();
    let rate = r.body["rate_ml_per_h"].as_f64().unwrap_or(f64::NAN);
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/sign"),
            Some("prescriber"),
            None,
            &[("if-match", &r.etag())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Blind: the pharmacist sees the prescription, not the figures.
    let blind = h
        .call(
            "GET",
            &format!("/api/orders/{id}"),
            Some("pharmacist"),
            None,
            &[],
        )
        .await;
    assert_eq!(blind.status, StatusCode::OK, "{}", blind.body);
    assert_eq!(
        blind.body["request"]["pn"]["bag"], "3-in-1",
        "{}",
        blind.body
    );
    assert_eq!(blind.body["figures_shown"], false, "{}", blind.body);
    assert!(blind.body["volume_ml"].is_null(), "{}", blind.body);
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/verify"),
            Some("pharmacist"),
            Some(json!({"dose": "2000 mL", "volume": "2000 mL", "rate": format!("{rate} mL/h")})),
            &[("if-match", &r.etag())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["outcome"], "verified", "{}", r.body);
}

/// Creates a carboplatin AUC 5 order with its warnings overridden, signs it; returns (id,
/// etag, dose text, the order body).
async fn signed_carboplatin(h: &common::Harness) -> (String, String, String, Value) {
    let mut body = json!({"patient_id": h.patient_id, "medication": "carboplatin",
        "dose_per": "5 mg/mL.min", "route": "iv", "frequency": "q21d"});
    let r = preview(h, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    body["overrides"] = Value::Array(
        r.body["computed"]["findings"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f["severity"] == "warning")
            .map(|f| json!({"code": f["code"], "reason": "reviewed in clinic"}))
            .collect(),
    );
    let r = h
        .call(
            "POST",
            "/api/orders",
            Some("prescriber"),
            Some(body.clone()),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap_or_default().to_string();
    let dose = r.body["dose"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/sign"),
            Some("prescriber"),
            None,
            &[("if-match", &r.etag())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    (id, r.etag(), dose, body)
}

async fn a_changed_creatinine_changes_the_carboplatin_dose_at_verification_and_asks_for_a_new_signature()
 {
    let h = common::harness().await;
    let pid = h.patient_id.clone();
    let (id, etag, dose, body) = signed_carboplatin(&h).await;

    // This morning's creatinine is 1.8 mg/dL (was 0.9): the clearance halves, so does the
    // Calvert dose's GFR term.
    let r = h
        .call(
            "POST",
            &format!("/api/patients/{pid}/labs"),
            Some("nurse"),
            Some(json!({"name": "serum_creatinine", "value": "1.8 mg/dL"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/verify"),
            Some("pharmacist"),
            Some(json!({"dose": dose})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["code"], "order.dose_stale", "{}", r.body);
    let message = r.body["detail"].as_str().unwrap_or_default();
    assert!(
        message.contains(&dose),
        "the message names the signed dose {dose}: {message}"
    );
    let age = {
        let p = preview(&h, body.clone()).await;
        age_of(&p.body)
    };
    let (new_dose, _) = core_dose(
        "carboplatin",
        &json!({"target_auc": "5 mg/mL.min", "age": format!("{age} y"), "sex": "female",
                "weight": "70 kg", "height": "165 cm", "serum_creatinine": "1.8 mg/dL"}),
    );
    let new_text = infusio_app::orders::num_text(new_dose);
    assert!(
        message.contains(&format!("{new_text} mg")),
        "the message names the new dose {new_text} mg: {message}"
    );

    // The prescriber edits the order (recomputed now) and it is signed again; the first
    // pharmacist saw no figures (the step was refused before anything was recorded) and
    // verifies the new dose.
    let mut edit = body;
    edit.as_object_mut().map(|o| o.remove("patient_id"));
    let r = h
        .call(
            "PUT",
            &format!("/api/orders/{id}"),
            Some("prescriber"),
            Some(edit),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "signed", "{}", r.body);
    // The record keeps 6 decimals.
    let stored = r.body["dose"]["value"].as_f64().unwrap_or(f64::NAN);
    assert!((stored - new_dose).abs() < 1e-6, "{stored} vs {new_dose}");
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/verify"),
            Some("pharmacist"),
            Some(json!({"dose": format!("{new_text} mg")})),
            &[("if-match", &r.etag())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["outcome"], "verified", "{}", r.body);
    let recomputed = r.body["differences"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["field"] == "dose_recomputed"))
        .cloned()
        .unwrap_or_default();
    let prescriber = recomputed["prescriber"].as_f64().unwrap_or(f64::NAN);
    assert!((prescriber - new_dose).abs() < 1e-6, "{}", r.body);
    assert_eq!(recomputed["within_tolerance"], true, "{}", r.body);
}

async fn a_blind_dose_far_from_the_recomputed_formula_does_not_verify() {
    let h = common::harness().await;
    let (id, etag, _, _) = signed_carboplatin(&h).await;
    // The pharmacist's own Calvert gives 10 times the dose (an AUC of 50 for 5).
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/verify"),
            Some("pharmacist"),
            Some(json!({"dose": "5000 mg"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["outcome"], "rejected", "{}", r.body);
    let recomputed = r.body["differences"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["field"] == "dose_recomputed"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(recomputed["within_tolerance"], false, "{}", r.body);
}

/// The request a protocol line prefills (as the order form does), without volume or product
/// choices the prescriber adds.
fn protocol_line_order(d: &infusio_core::plan::protocol::ProtocolDrug) -> Value {
    use infusio_core::plan::protocol::DoseBasis;
    let amount = format!("{} {}", d.dose, d.dose_unit);
    let mut o = json!({"medication": d.medication, "route": d.route});
    match d.basis {
        DoseBasis::Flat => o["dose"] = json!(amount),
        _ => o["dose_per"] = json!(amount),
    }
    if let Some(m) = &d.max_dose {
        o["max_dose"] = json!(m);
    }
    if let Some(p) = &d.product {
        o["product"] = json!(p);
    }
    if let Some(i) = &d.indication {
        o["indication"] = json!(i);
    }
    o
}

async fn every_protocol_dose_line_can_be_previewed() {
    let h = common::harness().await;
    let protocols = infusio_app::plans::builtin_protocols().expect("protocols load");
    let mut refused = Vec::new();
    let mut n = 0;
    for p in &protocols {
        for phase in &p.phases {
            for d in &phase.drugs {
                n += 1;
                let order = protocol_line_order(d);
                let r = preview(&h, order.clone()).await;
                let codes: Vec<&str> = r.body["computed"]["findings"]
                    .as_array()
                    .map(|f| f.iter().filter_map(|f| f["code"].as_str()).collect())
                    .unwrap_or_default();
                if r.status != StatusCode::OK
                    || codes.contains(&"order.indication_unknown")
                    || codes.contains(&"order.indication_not_applicable")
                {
                    refused.push(format!("{} / {}: {order} → {}", p.id, phase.name, r.body));
                }
            }
        }
    }
    assert!(n > 20, "the protocol templates have their lines: {n}");
    assert!(refused.is_empty(), "refused lines:\n{}", refused.join("\n"));
}

on_both_backends!(
    carboplatin_auc_equals_the_calvert_calculator_and_an_auc_of_50_is_refused,
    factor_viii_target_rise_equals_the_factor_calculator_and_1000_percent_is_refused,
    per_measure_bases_equal_the_dose_calculator,
    an_iron_course_is_the_ganzoni_deficit_in_labelled_single_doses,
    a_pn_bag_is_one_order_with_the_calculator_figures_and_its_components_checked,
    a_pn_bag_is_created_signed_and_verified_as_one_order,
    the_pn_protocol_lines_make_one_bag_that_is_accepted,
    ivig_per_kg_with_a_product_equals_the_ivig_calculator_and_the_indication_picks_the_rule,
    a_changed_creatinine_changes_the_carboplatin_dose_at_verification_and_asks_for_a_new_signature,
    a_blind_dose_far_from_the_recomputed_formula_does_not_verify,
    every_protocol_dose_line_can_be_previewed,
);
