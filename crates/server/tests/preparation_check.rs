//! A preparation is compared with the verified order (infliximab 350 mg in 250 mL): another
//! drug, ten times the amount or four times the volume is refused (422) with the difference
//! named (field, expected, found); the matching preparation is accepted.

mod common;

use infusio_testkit::on_both_backends;

use axum::http::StatusCode;
use serde_json::{Value, json};

fn prep(product: &str, quantity: &str, volume: &str) -> Value {
    json!({"components": [{"product": product, "lot": "LOT-P1", "expiry_date": "2099-12-31", "quantity": quantity}],
           "final_volume": volume, "beyond_use_at": "2099-01-01T00:00:00Z"})
}

async fn a_preparation_that_differs_from_the_verified_order_is_refused_with_the_difference() {
    let h = common::harness().await;
    let (id, etag) = h.verified().await;
    let path = format!("/api/orders/{id}/preparations");
    // (what, preparation, the difference expected: field, expected, found)
    let cases = [
        (
            "another drug",
            prep("potassium chloride 2 mEq/mL", "40 mEq", "250 mL"),
            (
                "components[0].product",
                "a product of infliximab or a diluent",
                "potassium chloride 2 mEq/mL",
            ),
        ),
        (
            "ten times the amount",
            prep("infliximab 100 mg vial", "3500 mg", "250 mL"),
            ("total_amount", "350 mg ± 5%", "3500 mg"),
        ),
        (
            "four times the volume",
            prep("infliximab 100 mg vial", "350 mg", "1000 mL"),
            ("final_volume", "250 mL ± 5%", "1000 mL"),
        ),
    ];
    for (what, body, (field, expected, found)) in cases {
        let r = h
            .call(
                "POST",
                &path,
                Some("technician"),
                Some(body),
                &[("if-match", &etag)],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            r.body
        );
        assert_eq!(r.body["code"], "preparation.mismatch", "{what}: {}", r.body);
        let findings = r.body["findings"].as_array().cloned().unwrap_or_default();
        assert!(
            findings.iter().any(|f| f["field"] == field
                && f["expected"] == expected
                && f["found"] == found
                && f["severity"] == "hard_stop"),
            "{what}: {}",
            r.body
        );
    }
    // Nothing was stored: the order is still verified, at the same version.
    let r = h
        .call(
            "GET",
            &format!("/api/orders/{id}"),
            Some("technician"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.body["status"], "verified", "{}", r.body);
    assert_eq!(r.etag(), etag);

    // The matching preparation (a brand name, 0.35 g with its diluent bag) is accepted.
    let body = json!({"components": [
            {"product": "Remicade 100 mg vial", "lot": "LOT-P1", "expiry_date": "2099-12-31", "quantity": "0.35 g"},
            {"product": "sodium chloride 0.9% 250 mL bag", "lot": "NS-7", "expiry_date": "2099-12-31", "quantity": "250 mL"}],
        "final_volume": "250 mL", "beyond_use_at": "2099-01-01T00:00:00Z"});
    let r = h
        .call(
            "POST",
            &path,
            Some("technician"),
            Some(body),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["order"]["status"], "prepared", "{}", r.body);
}

on_both_backends!(
    a_preparation_that_differs_from_the_verified_order_is_refused_with_the_difference,
);
