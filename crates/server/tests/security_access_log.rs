//! The access log (issue 19, item 6): reading a chart or an order is recorded (who, which
//! patient, which view, when) in an append-only log an auditor can query; the review found
//! chart reads recorded nowhere.

mod common;

use infusio_testkit::on_both_backends;

use axum::http::StatusCode;

async fn me_id(h: &common::Harness, user: &str) -> String {
    let r = h.call("GET", "/api/auth/me", Some(user), None, &[]).await;
    r.body["id"].as_str().unwrap_or_default().to_string()
}

async fn chart_and_order_reads_are_logged_for_the_auditor() {
    let h = common::harness().await;
    let pid = h.patient_id.clone();
    let (order_id, _) = h.draft().await;
    let path = format!("/api/audit/access?patient={pid}");
    let before = h.call("GET", &path, Some("admin"), None, &[]).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    let n_before = before.body.as_array().map_or(0, Vec::len);

    let r = h
        .call(
            "GET",
            &format!("/api/patients/{pid}"),
            Some("nurse"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = h
        .call(
            "GET",
            &format!("/api/orders/{order_id}"),
            Some("nurse2"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let after = h.call("GET", &path, Some("admin"), None, &[]).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.body);
    let entries = after.body.as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), n_before + 2, "{}", after.body);
    let nurse = me_id(&h, "nurse").await;
    let nurse2 = me_id(&h, "nurse2").await;
    let chart = &entries[n_before];
    assert_eq!(chart["actor"], nurse.as_str());
    assert_eq!(chart["actor_role"], "nurse");
    assert_eq!(chart["view"], "chart");
    assert_eq!(chart["patient_id"], pid.as_str());
    assert!(chart["at_us"].as_i64().is_some_and(|t| t > 0));
    let order = &entries[n_before + 1];
    assert_eq!(order["actor"], nurse2.as_str());
    assert_eq!(order["view"], "order");
    assert_eq!(order["detail"], order_id.as_str());

    // Auditors only.
    let r = h.call("GET", &path, Some("nurse"), None, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = h.call("GET", &path, Some("pharmacist"), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// The database itself refuses to change or delete an access entry.
async fn the_access_log_is_append_only() {
    let h = common::harness().await;
    let pid = h.patient_id.clone();
    let r = h
        .call(
            "GET",
            &format!("/api/patients/{pid}"),
            Some("nurse"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for statement in [
        "UPDATE access_log SET actor = 'someone-else'",
        "DELETE FROM access_log",
    ] {
        let mut tx = h.app.store().begin().await.expect("tx");
        let refused = tx.raw_execute(statement, &[]).await;
        assert!(refused.is_err(), "{statement} was accepted");
        drop(tx);
    }
    let mut tx = h.app.store().begin_snapshot().await.expect("tx");
    let entries = tx.access_of_patient(&pid, 100).await.expect("entries");
    tx.rollback().await.expect("rollback");
    assert!(!entries.is_empty());
}

on_both_backends!(
    chart_and_order_reads_are_logged_for_the_auditor,
    the_access_log_is_append_only,
);
