//! One infliximab order end to end through the API: create (warnings need reasons), sign,
//! blind verification (a discrepancy first), preparation, booking, a refused bedside scan, the
//! administration with its events, completion; the audit chain intact afterwards. Also: a hard
//! stop blocks, and an edit after verification returns the order to `signed`.

mod common;

use infusio_testkit::on_both_backends;

use axum::http::StatusCode;
use serde_json::json;

async fn infliximab_order_from_prescription_to_completed_administration() {
    let h = common::harness().await;
    let body = h.order_body().await;
    // A typical order (labelled dose, recent normal labs) raises no warning: nothing to override.
    assert_eq!(body["overrides"], json!([]), "{body}");

    // Created: the dose is the engine's, 5 mg/kg × 70 kg = 350 mg; rate 250 mL / 2 h.
    let r = h
        .call("POST", "/api/orders", Some("prescriber"), Some(body), &[])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["status"], "draft");
    assert_eq!(r.body["dose"]["value"], 350.0);
    assert_eq!(r.body["dose"]["unit"], "mg");
    assert_eq!(r.body["rate_ml_per_h"], 125.0);
    assert!(
        r.body["derivation"]["dose_calculation"]["steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
    assert_eq!(r.etag(), "\"1\"");
    let id = r.body["id"].as_str().unwrap_or_default().to_string();

    // Signed by its prescriber.
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/sign"),
            Some("prescriber"),
            None,
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "signed");
    let etag = r.etag();

    // The pharmacist sees it blind: no dose, volume, rate or derivation.
    let r = h
        .call(
            "GET",
            &format!("/api/orders/{id}"),
            Some("pharmacist"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["figures_shown"], false);
    assert!(
        r.body["dose"].is_null()
            && r.body["rate_ml_per_h"].is_null()
            && r.body["derivation"].is_null()
    );
    assert_eq!(r.body["request"]["dose_per"], "5 mg/kg");
    // The prescriber sees the figures.
    let r = h
        .call(
            "GET",
            &format!("/api/orders/{id}"),
            Some("prescriber"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.body["figures_shown"], true);

    // A blind entry 10% off is recorded as rejected, with the differences; the order stays signed.
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/verify"),
            Some("pharmacist"),
            Some(json!({"dose": "385 mg", "volume": "250 mL", "rate": "125 mL/h"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["outcome"], "rejected");
    assert_eq!(r.body["order"]["status"], "signed");
    let dose_diff = &r.body["differences"][0];
    assert_eq!(dose_diff["field"], "dose");
    assert_eq!(dose_diff["prescriber"], 350.0);
    assert!((dose_diff["difference_percent"].as_f64().unwrap_or(0.0) - 10.0).abs() < 1e-9);
    assert_eq!(dose_diff["within_tolerance"], false);

    // That pharmacist has now seen the prescriber's figures: not again on this version.
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/verify"),
            Some("pharmacist"),
            Some(json!({"dose": "0.35 g", "volume": "250 mL", "rate": "125 mL/h"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["code"], "verification.figures_seen");

    // A second pharmacist's own figures agree (0.35 g is 350 mg): verified.
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/verify"),
            Some("pharmacist2"),
            Some(json!({"dose": "0.35 g", "volume": "250 mL", "rate": "125 mL/h"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["outcome"], "verified");
    assert_eq!(r.body["order"]["status"], "verified");
    let etag = r.etag();

    // An expired vial is refused; a good one prepares the order.
    let prep = |expiry: &str| {
        json!({"components": [{"product": "Remicade 100 mg vial", "gtin": "00312345678906", "lot": "LOT-A1", "expiry_date": expiry, "quantity": "350 mg"}],
               "final_volume": "250 mL", "beyond_use_at": "2099-01-01T00:00:00Z"})
    };
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/preparations"),
            Some("technician"),
            Some(prep("2020-01-01")),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["code"], "preparation.expired_component");
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/preparations"),
            Some("technician"),
            Some(prep("2099-12-31")),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["order"]["status"], "prepared");
    assert_eq!(r.body["preparation"]["concentration"], "1.4");
    let prep_id = r.body["preparation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // Booked now: the order is scheduled.
    let now = infusio_store::now_us();
    let start = infusio_app::time::iso_from_us(now - 10 * 60 * 1_000_000);
    let end = infusio_app::time::iso_from_us(now + 3 * 3600 * 1_000_000);
    let r = h
        .call("POST", "/api/appointments", Some("scheduler"), Some(json!({"patient_id": h.patient_id, "order_id": id, "chair": "C1", "start_at": start, "end_at": end})), &[])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // The same chair at the same time is refused.
    let r = h
        .call("POST", "/api/appointments", Some("scheduler"), Some(json!({"patient_id": h.patient_id, "chair": "C1", "start_at": start, "end_at": end})), &[])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = h
        .call(
            "GET",
            &format!("/api/orders/{id}"),
            Some("nurse"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.body["status"], "scheduled");
    let etag = r.etag();

    // The bedside: a wrong wristband and a mis-keyed pump rate block, each named.
    let scan = |wristband: &str, rate: &str| json!({"wristband": wristband, "bag": prep_id, "dose": "350 mg", "route": "IV", "pump": {"rate": rate, "vtbi": "250 mL"}});
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/administrations"),
            Some("nurse"),
            Some(scan("MRN99", "152 mL/h")),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["code"], "administration.blocked");
    let codes: Vec<&str> = r.body["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|x| x["code"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        codes.contains(&"five_rights.patient") && codes.contains(&"pump.rate_mismatch"),
        "{codes:?}"
    );
    // The commercial product's GTIN does not identify the bag: every bag made from that
    // product carries it. Only the bag id on the pharmacy label does.
    let mut gtin = scan("MRN42", "125 mL/h");
    gtin["bag"] = json!("00312345678906");
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/administrations"),
            Some("nurse"),
            Some(gtin),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.to_string().contains("bag.product_barcode"),
        "{}",
        r.body
    );
    let good = scan("MRN42", "125 mL/h");
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/administrations"),
            Some("nurse"),
            Some(good),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["order"]["status"], "in_progress");
    let admin_id = r.body["administration"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    for ev in [
        json!({"kind": "vitals", "detail": {"heart_rate_per_min": 72, "systolic_mmhg": 118}}),
        json!({"kind": "rate_change", "rate": "150 mL/h"}),
        json!({"kind": "reaction", "grade": 1, "detail": {"sign": "flushing"}}),
    ] {
        let r = h
            .call(
                "POST",
                &format!("/api/administrations/{admin_id}/events"),
                Some("nurse"),
                Some(ev),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let r = h
        .call(
            "POST",
            &format!("/api/administrations/{admin_id}/events"),
            Some("nurse"),
            Some(json!({"kind": "reaction", "grade": 7})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["field"], "grade");

    let r = h
        .call(
            "POST",
            &format!("/api/administrations/{admin_id}/finish"),
            Some("nurse"),
            // Completed as soon as it started: the pump shows what ran (1 mL), recorded as
            // given; a full bag cannot have run in that time.
            Some(json!({"outcome": "completed", "volume_infused": "1 mL"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["order"]["status"], "completed");

    // The lot is traceable to the patient; the audit chain is intact and records each step.
    let r = h
        .call("GET", "/api/lots/LOT-A1", Some("pharmacist"), None, &[])
        .await;
    assert_eq!(r.body[0]["patient_id"], h.patient_id.as_str());
    let r = h
        .call("GET", "/api/audit/verify", Some("admin"), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["broken"].is_null(), "{}", r.body);
    assert!(
        r.body["events_verified"].as_i64().is_some_and(|n| n > 20),
        "{}",
        r.body
    );
    let mut tx = h.app.store().begin_snapshot().await.expect("tx");
    let rows = tx.audit_events_of(&id).await.expect("audit rows");
    let actions: Vec<String> = rows.iter().map(|r| r.action.clone()).collect();
    for step in [
        "order.create",
        "order.sign",
        "order.verify",
        "order.prepared",
        "order.scheduled",
        "order.start",
        "order.completed",
    ] {
        assert!(
            actions.iter().any(|a| a == step),
            "{step} missing from {actions:?}"
        );
    }
}

async fn a_warning_needs_an_override_reason_which_is_stored_with_who_gave_it() {
    let h = common::harness().await;
    h.signed().await;
    // A second infliximab order for the same patient: duplicate therapy, a warning.
    let body = h.order_body().await;
    assert_eq!(
        body["overrides"][0]["code"], "order.duplicate_therapy",
        "{body}"
    );
    let mut bare = body.clone();
    bare["overrides"] = json!([]);
    let r = h
        .call(
            "POST",
            "/api/orders",
            Some("prescriber"),
            Some(bare.clone()),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["code"], "order.override_required");
    assert_eq!(r.body["findings"][0]["code"], "order.duplicate_therapy");
    bare["overrides"] = json!([{"code": "order.duplicate_therapy", "reason": "  "}]);
    let r = h
        .call("POST", "/api/orders", Some("prescriber"), Some(bare), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["field"], "overrides[0].reason");
    let r = h
        .call("POST", "/api/orders", Some("prescriber"), Some(body), &[])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let o = &r.body["overrides"][0];
    assert_eq!(o["code"], "order.duplicate_therapy");
    assert_eq!(o["reason"], "reviewed in clinic");
    assert_eq!(o["role"], "prescriber");
    assert!(o["by"].as_str().is_some_and(|b| !b.is_empty()));
}

async fn a_hard_stop_blocks_the_order_and_nothing_is_stored() {
    let h = common::harness().await;
    let mut body = h.order_body().await;
    body["dose_per"] = json!("50 mg/kg");
    let r = h
        .call("POST", "/api/orders", Some("prescriber"), Some(body), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["code"], "order.hard_stop");
    assert!(
        r.body["findings"]
            .as_array()
            .is_some_and(|f| f.iter().all(|x| x["severity"] == "hard_stop") && !f.is_empty())
    );
    let r = h
        .call("GET", "/api/orders", Some("prescriber"), None, &[])
        .await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(0));
}

async fn an_edit_after_verification_returns_the_order_to_signed() {
    let h = common::harness().await;
    let (id, etag) = h.verified().await;
    let mut body = h.order_body().await;
    body.as_object_mut().map(|m| m.remove("patient_id"));
    body["volume"] = json!("500 mL");
    body["duration"] = json!("2.5 h");
    let r = h
        .call(
            "PUT",
            &format!("/api/orders/{id}"),
            Some("prescriber"),
            Some(body),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "signed");
    assert_eq!(r.body["rate_ml_per_h"], 200.0);
}

async fn bad_input_names_the_field_the_value_and_what_is_accepted() {
    let h = common::harness().await;
    let pid = h.patient_id.clone();
    let r = h
        .call(
            "POST",
            &format!("/api/patients/{pid}/measurements"),
            Some("nurse"),
            Some(json!({"kind": "weight", "value": "70"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["field"], "value");
    assert_eq!(r.body["value"], "70");
    let mut body = h.order_body().await;
    body["weight_bassis"] = json!("actual");
    let r = h
        .call("POST", "/api/orders", Some("prescriber"), Some(body), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["field"], "weight_bassis");
    let r = h
        .call(
            "POST",
            "/api/orders",
            Some("prescriber"),
            Some(json!([1, 2])),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
}

on_both_backends!(
    infliximab_order_from_prescription_to_completed_administration,
    a_warning_needs_an_override_reason_which_is_stored_with_who_gave_it,
    a_hard_stop_blocks_the_order_and_nothing_is_stored,
    an_edit_after_verification_returns_the_order_to_signed,
    bad_input_names_the_field_the_value_and_what_is_accepted,
);
