//! The safety checks run again, with the patient's latest labs and weight, when a held order is
//! released back to the pharmacy and when a verified order is released to preparation: a value
//! recorded since signing that makes a hard stop blocks the step (both backends).

mod common;

use infusio_testkit::on_both_backends;

use axum::http::StatusCode;
use serde_json::{Value, json};

fn codes(body: &Value) -> Vec<String> {
    body["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(|x| x["code"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn a_new_weight_that_makes_a_hard_stop_blocks_release_of_a_held_order() {
    let h = common::harness().await;
    // 350 mg infliximab, signed for a 70 kg patient (5 mg/kg).
    let (id, etag) = h.signed().await;
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/hold"),
            Some("prescriber"),
            Some(json!({"reason": "awaiting today's weight"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "held");
    let held = r.etag();

    // Today's weight is 22 kg (say, a paediatric chart mix-up): 350 mg is now 15.9 mg/kg, over
    // the library's hard maximum of 15 mg/kg per dose.
    let pid = h.patient_id.clone();
    let w = h
        .call(
            "POST",
            &format!("/api/patients/{pid}/measurements"),
            Some("nurse"),
            Some(json!({"kind": "weight", "value": "22 kg", "source": "scale"})),
            &[],
        )
        .await;
    assert_eq!(w.status, StatusCode::CREATED, "{}", w.body);
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/release"),
            Some("prescriber"),
            Some(json!({"reason": "weight taken"})),
            &[("if-match", &held)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["code"], "order.hard_stop", "{}", r.body);
    assert!(
        r.body["findings"]
            .as_array()
            .is_some_and(|f| !f.is_empty() && f.iter().all(|x| x["severity"] == "hard_stop")),
        "{}",
        r.body
    );
    // Nothing moved: still held, same version.
    let g = h
        .call(
            "GET",
            &format!("/api/orders/{id}"),
            Some("prescriber"),
            None,
            &[],
        )
        .await;
    assert_eq!(g.body["status"], "held");
    assert_eq!(g.etag(), held);

    // The weight is corrected (70 kg, measured now): the release goes through to `signed`
    // (the pharmacist verifies again), with any new warning overridden with a reason.
    let w = h
        .call(
            "POST",
            &format!("/api/patients/{pid}/measurements"),
            Some("nurse"),
            Some(json!({"kind": "weight", "value": "70 kg", "source": "scale"})),
            &[],
        )
        .await;
    assert_eq!(w.status, StatusCode::CREATED, "{}", w.body);
    let mut release = json!({"reason": "weight corrected"});
    let first = h
        .call(
            "POST",
            &format!("/api/orders/{id}/release"),
            Some("prescriber"),
            Some(release.clone()),
            &[("if-match", &held)],
        )
        .await;
    let r = if first.status == StatusCode::UNPROCESSABLE_ENTITY {
        // Only an override request is acceptable here, never a hard stop.
        assert_eq!(
            first.body["code"], "order.override_required",
            "{}",
            first.body
        );
        release["overrides"] = Value::Array(
            codes(&first.body)
                .into_iter()
                .map(|c| json!({"code": c, "reason": "weight re-measured"}))
                .collect(),
        );
        h.call(
            "POST",
            &format!("/api/orders/{id}/release"),
            Some("prescriber"),
            Some(release),
            &[("if-match", &held)],
        )
        .await
    } else {
        first
    };
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "signed");
}

async fn a_new_creatinine_that_makes_a_hard_stop_blocks_release_to_preparation() {
    let h = common::harness().await;
    let pid = h.patient_id.clone();
    // Cisplatin 75 mg/m2 with a normal creatinine (0.9 mg/dL): signed and verified.
    let mut body = json!({"patient_id": pid, "medication": "cisplatin", "dose_per": "75 mg/m2", "route": "iv", "volume": "1000 mL", "duration": "2 h", "line": "peripheral", "frequency": "q21d"});
    let preview = h
        .call(
            "POST",
            "/api/orders/preview",
            Some("prescriber"),
            Some(body.clone()),
            &[],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    let findings = preview.body["computed"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !findings.iter().any(|f| f["severity"] == "hard_stop"),
        "{findings:?}"
    );
    body["overrides"] = Value::Array(
        findings
            .iter()
            .filter(|f| f["severity"] == "warning")
            .map(|f| json!({"code": f["code"], "reason": "reviewed"}))
            .collect(),
    );
    let r = h
        .call("POST", "/api/orders", Some("prescriber"), Some(body), &[])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap_or_default().to_string();
    let dose = format!(
        "{} {}",
        r.body["dose"]["value"].as_f64().unwrap_or(f64::NAN),
        r.body["dose"]["unit"].as_str().unwrap_or_default()
    );
    let volume = r.body["volume_ml"].as_f64().unwrap_or(f64::NAN);
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
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/verify"),
            Some("pharmacist"),
            Some(json!({"dose": dose, "volume": format!("{volume} mL"), "rate": format!("{rate} mL/h")})),
            &[("if-match", &r.etag())],
        )
        .await;
    assert_eq!(r.body["outcome"], "verified", "{}", r.body);
    let verified = r.etag();

    let prep = json!({"components": [{"product": "cisplatin 1 mg/mL 100 mL", "lot": "CIS-1", "expiry_date": "2099-01-01", "quantity": dose}],
                      "final_volume": format!("{volume} mL"), "beyond_use_at": "2099-01-01T00:00:00Z"});
    // This morning's creatinine is 4.0 mg/dL: a creatinine clearance below 30 mL/min, where the
    // library says to avoid cisplatin (Kintzel & Dorr 1995) — a hard stop.
    let l = h
        .call(
            "POST",
            &format!("/api/patients/{pid}/labs"),
            Some("nurse"),
            Some(json!({"name": "serum_creatinine", "value": "4.0 mg/dL"})),
            &[],
        )
        .await;
    assert_eq!(l.status, StatusCode::CREATED, "{}", l.body);
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/preparations"),
            Some("pharmacist"),
            Some(prep.clone()),
            &[("if-match", &verified)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["code"], "preparation.hard_stop", "{}", r.body);
    assert!(
        codes(&r.body).iter().any(|c| c.contains("renal")),
        "the hard stop is the renal one: {}",
        r.body
    );
    let g = h
        .call(
            "GET",
            &format!("/api/orders/{id}"),
            Some("prescriber"),
            None,
            &[],
        )
        .await;
    assert_eq!(g.body["status"], "verified");
    assert_eq!(g.etag(), verified);

    // The creatinine was a haemolysed sample; the repeat is normal: preparation proceeds.
    let l = h
        .call(
            "POST",
            &format!("/api/patients/{pid}/labs"),
            Some("nurse"),
            Some(json!({"name": "serum_creatinine", "value": "0.9 mg/dL"})),
            &[],
        )
        .await;
    assert_eq!(l.status, StatusCode::CREATED, "{}", l.body);
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/preparations"),
            Some("pharmacist"),
            Some(prep),
            &[("if-match", &verified)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["order"]["status"], "prepared");
}

on_both_backends!(
    a_new_weight_that_makes_a_hard_stop_blocks_release_of_a_held_order,
    a_new_creatinine_that_makes_a_hard_stop_blocks_release_to_preparation,
);
