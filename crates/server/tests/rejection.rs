//! A rejection closes the loop: it needs a reason, returns the order to its prescriber as a
//! draft carrying the reason (in the order document and the audit trail), the prescriber edits
//! and signs again, and a pharmacist who has seen the prescriber's figures does not verify the
//! same version again.

mod common;

use infusio_testkit::on_both_backends;

use axum::http::StatusCode;
use serde_json::{Value, json};

const AGREEING: &str = r#"{"dose": "350 mg", "volume": "250 mL", "rate": "125 mL/h"}"#;

fn agreeing() -> Value {
    serde_json::from_str(AGREEING).unwrap_or(Value::Null)
}

async fn verify(
    h: &common::Harness,
    who: &str,
    id: &str,
    etag: &str,
    body: Value,
) -> common::Reply {
    h.call(
        "POST",
        &format!("/api/orders/{id}/verify"),
        Some(who),
        Some(body),
        &[("if-match", etag)],
    )
    .await
}

async fn a_rejection_without_a_reason_is_refused_naming_the_note() {
    let h = common::harness().await;
    let (id, etag) = h.signed().await;
    for note in [None, Some("   ")] {
        let mut body = agreeing();
        body["decision"] = json!("reject");
        if let Some(n) = note {
            body["note"] = json!(n);
        }
        let r = verify(&h, "pharmacist", &id, &etag, body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.body["field"], "note", "{}", r.body);
    }
    // Nothing was recorded: the order is still signed, and the pharmacist may still verify.
    let r = verify(&h, "pharmacist", &id, &etag, agreeing()).await;
    assert_eq!(r.body["outcome"], "verified", "{}", r.body);
}

async fn a_rejection_returns_the_order_to_its_prescriber_with_the_reason() {
    let h = common::harness().await;
    let (id, etag) = h.signed().await;
    let reason = "Infliximab 5 mg/kg: please confirm the week-0/2/6 induction, not q8w";
    let mut body = agreeing();
    body["decision"] = json!("reject");
    body["note"] = json!(reason);
    let r = verify(&h, "pharmacist", &id, &etag, body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["outcome"], "rejected");
    assert_eq!(r.body["order"]["status"], "draft", "{}", r.body);
    let returned_etag = r.etag();

    // The prescriber sees the order back as a draft, with who returned it and why.
    let r = h
        .call(
            "GET",
            &format!("/api/orders/{id}"),
            Some("prescriber"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "draft");
    assert_eq!(r.body["returned"]["reason"], reason, "{}", r.body);
    assert!(
        r.body["returned"]["pharmacist_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    assert_eq!(r.etag(), returned_etag);

    // The audit trail holds the return with its reason.
    let mut tx = h.app.store().begin_snapshot().await.expect("tx");
    let rows = tx.audit_events_of(&id).await.expect("audit rows");
    let reject = rows.iter().find(|e| e.action == "order.reject");
    assert_eq!(
        reject.and_then(|e| e.reason.as_deref()),
        Some(reason),
        "{:?}",
        rows.iter().map(|e| &e.action).collect::<Vec<_>>()
    );
    drop(tx);

    // The pharmacy cannot verify a draft.
    let r = verify(&h, "pharmacist2", &id, &returned_etag, agreeing()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["code"], "order.invalid_state");

    // The prescriber edits (a longer infusion) and signs again: the return is cleared.
    let mut edit = h.order_body().await;
    edit["duration"] = json!("2.5 h");
    edit["reason"] = json!("pharmacy query answered");
    if let Value::Object(m) = &mut edit {
        m.remove("patient_id");
    }
    let r = h
        .call(
            "PUT",
            &format!("/api/orders/{id}"),
            Some("prescriber"),
            Some(edit),
            &[("if-match", &returned_etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "draft");
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
    assert_eq!(r.body["status"], "signed");
    let signed_etag = r.etag();
    let r = h
        .call(
            "GET",
            &format!("/api/orders/{id}"),
            Some("prescriber"),
            None,
            &[],
        )
        .await;
    assert!(r.body["returned"].is_null(), "{}", r.body);

    // The new version is a new verification, even for the pharmacist who rejected the old.
    let r = verify(
        &h,
        "pharmacist",
        &id,
        &signed_etag,
        json!({"dose": "350 mg", "volume": "250 mL", "rate": "100 mL/h"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["outcome"], "verified", "{}", r.body);
}

async fn a_pharmacist_who_saw_the_figures_cannot_verify_the_same_version_again() {
    let h = common::harness().await;
    let (id, etag) = h.signed().await;
    // A 10% discrepancy: recorded as rejected, the answer shows the prescriber's dose.
    let r = verify(
        &h,
        "pharmacist",
        &id,
        &etag,
        json!({"dose": "385 mg", "volume": "250 mL", "rate": "125 mL/h"}),
    )
    .await;
    assert_eq!(r.body["outcome"], "rejected", "{}", r.body);
    assert_eq!(r.body["order"]["status"], "signed");
    assert!(r.body["returned"].is_null());

    // The same pharmacist, same version, now with the right figures: refused.
    let r = verify(&h, "pharmacist", &id, &etag, agreeing()).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["code"], "verification.figures_seen", "{}", r.body);
    // Nor can they return it to the prescriber on that version.
    let mut body = agreeing();
    body["decision"] = json!("reject");
    body["note"] = json!("second thoughts");
    let r = verify(&h, "pharmacist", &id, &etag, body).await;
    assert_eq!(r.body["code"], "verification.figures_seen", "{}", r.body);

    // A different pharmacist verifies blind.
    let r = verify(&h, "pharmacist2", &id, &etag, agreeing()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["outcome"], "verified", "{}", r.body);
}

on_both_backends!(
    a_rejection_without_a_reason_is_refused_naming_the_note,
    a_rejection_returns_the_order_to_its_prescriber_with_the_reason,
    a_pharmacist_who_saw_the_figures_cannot_verify_the_same_version_again,
);
