//! Rows bound to the audit chain (issue 19): a dose changed directly in the database is
//! reported by the row check, flagged on the order's document, and every step on the order is
//! refused — the review's `UPDATE orders SET dose = …` was administered before.

mod common;

use infusio_testkit::on_both_backends;

use axum::http::StatusCode;
use infusio_store::Val;
use serde_json::json;

/// Changes an order's dose behind the application's back (the review's reproduction).
async fn tamper_dose(h: &common::Harness, order_id: &str, dose: &str) {
    let mut tx = h.app.store().begin().await.expect("tx");
    let n = tx
        .raw_execute(
            "UPDATE orders SET dose = $1 WHERE id = $2",
            &[
                Val::Text(Some(dose.to_string())),
                Val::Text(Some(order_id.to_string())),
            ],
        )
        .await
        .expect("update");
    assert_eq!(n, 1);
    tx.commit().await.expect("commit");
}

async fn integrity(h: &common::Harness, order_id: &str) -> (String, String) {
    let r = h
        .call(
            "GET",
            &format!("/api/orders/{order_id}"),
            Some("nurse"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    (
        r.body["integrity"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        r.etag(),
    )
}

/// A signed order whose dose is doubled in the database: the row check names it, its
/// document is flagged, and the pharmacist's verification is refused.
async fn a_directly_edited_order_is_reported_and_cannot_be_verified() {
    let h = common::harness().await;
    let (id, etag) = h.signed().await;
    let report = infusio_store::rows::verify_rows(h.app.store())
        .await
        .expect("rows");
    assert!(report.intact(), "{report:?}");
    assert!(report.rows_bound > 10, "{report:?}");
    assert_eq!(integrity(&h, &id).await.0, "bound");

    tamper_dose(&h, &id, "700").await;
    let report = infusio_store::rows::verify_rows(h.app.store())
        .await
        .expect("rows");
    assert_eq!(report.problems.len(), 1, "{report:?}");
    assert_eq!(report.problems[0].table, "orders");
    assert_eq!(report.problems[0].id, id);
    assert_eq!(report.problems[0].problem, "mismatch");
    // The chain itself is intact: only the row moved.
    assert!(h.app.store().verify_audit().await.expect("verify").intact());

    let (status, etag_after) = integrity(&h, &id).await;
    assert_eq!(status, "mismatch");
    assert_eq!(etag_after, etag);
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/verify"),
            Some("pharmacist"),
            Some(json!({"dose": "700 mg", "volume": "250 mL", "rate": "125 mL/h"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["code"], "record.tampered", "{}", r.body);
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/hold"),
            Some("nurse"),
            Some(json!({"reason": "checking"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["code"], "record.tampered", "{}", r.body);
    // The refusal wrote nothing.
    let r = h
        .call(
            "GET",
            &format!("/api/orders/{id}"),
            Some("nurse"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.body["status"], "signed", "{}", r.body);
}

/// A verified, prepared and booked order whose dose is changed in the database cannot be
/// administered, whatever the nurse scans.
async fn a_directly_edited_order_cannot_be_administered() {
    let h = common::harness().await;
    let (id, etag) = h.verified().await;
    let prep = json!({"components": [{"product": "Remicade 100 mg vial", "gtin": "00312345678906", "lot": "LOT-A1", "expiry_date": "2099-12-31", "quantity": "350 mg"}],
               "final_volume": "250 mL", "beyond_use_at": "2099-01-01T00:00:00Z"});
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/preparations"),
            Some("technician"),
            Some(prep),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let prep_id = r.body["preparation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let etag = r.etag();
    let etag = if etag.is_empty() {
        integrity(&h, &id).await.1
    } else {
        etag
    };

    tamper_dose(&h, &id, "700").await;
    let (status, _) = integrity(&h, &id).await;
    assert_eq!(status, "mismatch");
    for dose in ["350 mg", "700 mg"] {
        let scan = json!({"wristband": "MRN42", "bag": prep_id, "dose": dose, "route": "IV", "pump": {"rate": "125 mL/h", "vtbi": "250 mL"}});
        let r = h
            .call(
                "POST",
                &format!("/api/orders/{id}/administrations"),
                Some("nurse"),
                Some(scan),
                &[("if-match", &etag)],
            )
            .await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{dose}: {}", r.body);
        assert_eq!(r.body["code"], "record.tampered", "{dose}: {}", r.body);
    }
}

/// A row deleted outside the application is reported as missing; one inserted outside it
/// (after rows were bound) as unbound.
async fn deleted_and_forged_rows_are_reported() {
    let h = common::harness().await;
    let pid = h.patient_id.clone();
    let mut tx = h.app.store().begin().await.expect("tx");
    let n = tx
        .raw_execute(
            "DELETE FROM allergies WHERE patient_id = $1",
            &[Val::Text(Some(pid.clone()))],
        )
        .await
        .expect("delete");
    assert_eq!(n, 0, "the harness records no allergy");
    tx.commit().await.expect("commit");
    let r = h
        .call(
            "POST",
            &format!("/api/patients/{pid}/allergies"),
            Some("nurse"),
            Some(json!({"substance": "penicillin", "severity": "severe"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let mut tx = h.app.store().begin().await.expect("tx");
    let n = tx
        .raw_execute(
            "DELETE FROM allergies WHERE patient_id = $1",
            &[Val::Text(Some(pid.clone()))],
        )
        .await
        .expect("delete");
    assert_eq!(n, 1);
    let now = infusio_store::now_us() + 1_000_000;
    tx.raw_execute(
        "INSERT INTO measurements (id, version, created_at_us, updated_at_us, patient_id, kind, value, unit, measured_at_us, source) \
         VALUES ('forged-1', 1, $1, $1, $2, 'weight', '35', 'kg', $1, 'scale')",
        &[Val::Int(Some(now)), Val::Text(Some(pid))],
    )
    .await
    .expect("insert");
    tx.commit().await.expect("commit");
    let report = infusio_store::rows::verify_rows(h.app.store())
        .await
        .expect("rows");
    let mut found: Vec<(&str, &str)> = report
        .problems
        .iter()
        .map(|p| (p.table.as_str(), p.problem))
        .collect();
    found.sort_unstable();
    assert_eq!(
        found,
        vec![("allergies", "missing"), ("measurements", "unbound")],
        "{report:?}"
    );
}

on_both_backends!(
    a_directly_edited_order_is_reported_and_cannot_be_verified,
    a_directly_edited_order_cannot_be_administered,
    deleted_and_forged_rows_are_reported,
);
