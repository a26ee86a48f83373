//! Optimistic concurrency and idempotency: a stale write is refused with 412 and changes
//! nothing; of two writers racing on one version exactly one wins; 50 parallel submits with one
//! idempotency key make one order.

mod common;

use infusio_testkit::on_both_backends;

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;

async fn a_stale_write_is_refused_with_412_and_changes_nothing() {
    let h = common::harness().await;
    let (id, etag) = h.signed().await;
    assert_eq!(etag, "\"2\"");
    // A hold moves the order on to version 3.
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/hold"),
            Some("pharmacist"),
            Some(json!({"reason": "awaiting labs"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.etag(), "\"3\"");
    // The prescriber, still holding version 2, tries to cancel: refused.
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/cancel"),
            Some("prescriber"),
            Some(json!({"reason": "changed plan"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.body);
    assert_eq!(r.body["code"], "version.stale");
    assert_eq!(r.body["current_version"], 3);
    let r = h
        .call(
            "GET",
            &format!("/api/orders/{id}"),
            Some("prescriber"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.body["status"], "held");
    assert_eq!(r.etag(), "\"3\"");
    // Without If-Match a change is refused too (428), so no client can overwrite blindly.
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/release"),
            Some("prescriber"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_REQUIRED);
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/release"),
            Some("prescriber"),
            None,
            &[("if-match", "\"3\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "signed");
}

async fn of_two_writers_racing_on_one_version_exactly_one_wins() {
    let h = Arc::new(common::harness().await);
    let (id, etag) = h.signed().await;
    let a = {
        let (h, id, etag) = (h.clone(), id.clone(), etag.clone());
        tokio::spawn(async move {
            h.call(
                "POST",
                &format!("/api/orders/{id}/hold"),
                Some("pharmacist"),
                Some(json!({"reason": "query"})),
                &[("if-match", &etag)],
            )
            .await
            .status
        })
    };
    let b = {
        let (h, id, etag) = (h.clone(), id.clone(), etag.clone());
        tokio::spawn(async move {
            h.call(
                "POST",
                &format!("/api/orders/{id}/cancel"),
                Some("prescriber"),
                Some(json!({"reason": "stop"})),
                &[("if-match", &etag)],
            )
            .await
            .status
        })
    };
    let mut statuses = vec![a.await.expect("task"), b.await.expect("task")];
    statuses.sort();
    assert_eq!(
        statuses,
        vec![StatusCode::OK, StatusCode::PRECONDITION_FAILED]
    );
}

async fn fifty_parallel_submits_with_one_idempotency_key_make_one_order() {
    let h = Arc::new(common::harness().await);
    let body = h.order_body().await;
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (h, body) = (h.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let r = h
                .call(
                    "POST",
                    "/api/orders",
                    Some("prescriber"),
                    Some(body),
                    &[("idempotency-key", "submit-7f3a")],
                )
                .await;
            (
                r.status,
                r.body["id"].as_str().unwrap_or_default().to_string(),
            )
        }));
    }
    let mut created = 0;
    let mut ids = std::collections::BTreeSet::new();
    for t in tasks {
        let (status, id) = t.await.expect("task");
        assert!(
            status == StatusCode::CREATED || status == StatusCode::OK,
            "{status}"
        );
        if status == StatusCode::CREATED {
            created += 1;
        }
        ids.insert(id);
    }
    assert_eq!(created, 1, "exactly one submit creates");
    assert_eq!(
        ids.len(),
        1,
        "every submit answers with the same order: {ids:?}"
    );
    let r = h
        .call(
            "GET",
            &format!("/api/orders?patient_id={}", h.patient_id),
            Some("prescriber"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(1));

    // The key belongs to that request: reusing it for another order is refused.
    let mut other = body.clone();
    other["volume"] = json!("500 mL");
    let r = h
        .call(
            "POST",
            "/api/orders",
            Some("prescriber"),
            Some(other.clone()),
            &[("idempotency-key", "submit-7f3a")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // Keys are per user: another prescriber's identical key is a separate submit.
    let first = ids.into_iter().next().unwrap_or_default();
    let r = h
        .call(
            "POST",
            "/api/orders",
            Some("prescriber2"),
            Some(body),
            &[("idempotency-key", "submit-7f3a")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_ne!(r.body["id"].as_str().unwrap_or_default(), first);
}

on_both_backends!(
    a_stale_write_is_refused_with_412_and_changes_nothing,
    of_two_writers_racing_on_one_version_exactly_one_wins,
    fifty_parallel_submits_with_one_idempotency_key_make_one_order,
);
