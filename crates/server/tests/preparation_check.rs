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

/// A carboplatin order (high-alert, hazardous), signed and verified; returns (id, etag).
async fn verified_carboplatin(h: &common::Harness) -> (String, String) {
    let body = json!({"patient_id": h.patient_id, "medication": "carboplatin", "dose": "450 mg", "route": "iv",
                      "volume": "250 mL", "duration": "1 h", "line": "peripheral", "frequency": "q21d"});
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
    let mut body = body;
    body["overrides"] = Value::Array(
        preview.body["computed"]["findings"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f["severity"] == "warning")
            .map(|f| json!({"code": f["code"], "reason": "reviewed"}))
            .collect(),
    );
    let r = h
        .call("POST", "/api/orders", Some("prescriber"), Some(body), &[])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap_or_default().to_string();
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
            Some(json!({"dose": "450 mg", "volume": "250 mL", "rate": "250 mL/h"})),
            &[("if-match", &r.etag())],
        )
        .await;
    assert_eq!(r.body["outcome"], "verified", "{}", r.body);
    (id, r.etag())
}

async fn an_expired_lot_is_a_hard_stop_and_a_second_pharmacist_releases_the_bag() {
    let h = common::harness_with(infusio_app::AppConfig {
        preparation_release_required: true,
        ..common::config()
    })
    .await;
    let (id, etag) = verified_carboplatin(&h).await;
    let path = format!("/api/orders/{id}/preparations");
    let expired = json!({"components": [{"product": "carboplatin 450 mg", "lot": "C-OLD", "expiry_date": "2001-01-31", "quantity": "450 mg"}],
                         "final_volume": "250 mL", "beyond_use_at": "2099-01-01T00:00:00Z"});
    let r = h
        .call(
            "POST",
            &path,
            Some("pharmacist"),
            Some(expired),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(
        r.body["code"], "preparation.expired_component",
        "{}",
        r.body
    );
    assert!(r.body.to_string().contains("C-OLD"), "{}", r.body);
    let good = json!({"components": [{"product": "carboplatin 450 mg", "lot": "C-9", "expiry_date": "2099-01-01", "quantity": "450 mg"}],
                      "final_volume": "250 mL", "beyond_use_at": "2099-01-01T00:00:00Z"});
    let r = h
        .call(
            "POST",
            &path,
            Some("pharmacist"),
            Some(good),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let bag = r.body["preparation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let bag_etag = format!("\"{}\"", r.body["preparation"]["version"]);
    let order_etag = r.etag();
    let scan = json!({"wristband": "MRN42", "bag": bag, "dose": "450 mg", "route": "iv",
                      "pump": {"rate": "250 mL/h", "vtbi": "250 mL"},
                      "second_nurse": {"username": "nurse2", "password": common::PASSWORD}});
    let start = format!("/api/orders/{id}/administrations");
    // Not released yet: the bedside refuses it.
    let r = h
        .call(
            "POST",
            &start,
            Some("nurse"),
            Some(scan.clone()),
            &[("if-match", &order_etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.to_string().contains("preparation.not_released"),
        "{}",
        r.body
    );
    // The preparer cannot release their own bag, nor can a technician.
    let release = format!("/api/preparations/{bag}/release");
    for who in ["pharmacist", "technician"] {
        let r = h
            .call(
                "POST",
                &release,
                Some(who),
                None,
                &[("if-match", &bag_etag)],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}: {}", r.body);
    }
    let r = h
        .call(
            "POST",
            &release,
            Some("pharmacist2"),
            None,
            &[("if-match", &bag_etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "released", "{}", r.body);
    assert!(r.body["checked_by"].is_string(), "{}", r.body);
    // Released once only.
    let r = h
        .call(
            "POST",
            &release,
            Some("pharmacist2"),
            None,
            &[("if-match", &r.etag())],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = h
        .call(
            "POST",
            &start,
            Some("nurse"),
            Some(scan),
            &[("if-match", &order_etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

async fn a_lot_on_the_recall_list_is_a_hard_stop() {
    let h = common::harness().await;
    let (id, etag) = h.verified().await;
    let recall = json!({"lot": "LOT-R1", "reason": "particulate matter (manufacturer recall)"});
    let r = h
        .call(
            "POST",
            "/api/recalls",
            Some("technician"),
            Some(recall.clone()),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = h
        .call(
            "POST",
            "/api/recalls",
            Some("pharmacist"),
            Some(json!({"lot": "LOT-R1", "gtin": "00312345678907", "reason": "x"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "gtin", "{}", r.body);
    let r = h
        .call(
            "POST",
            "/api/recalls",
            Some("pharmacist"),
            Some(recall),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = h
        .call("GET", "/api/recalls", Some("technician"), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body[0]["lot"], "LOT-R1", "{}", r.body);
    let path = format!("/api/orders/{id}/preparations");
    let with_lot = |lot: &str| {
        json!({"components": [{"product": "infliximab 100 mg vial", "lot": lot, "expiry_date": "2099-12-31", "quantity": "350 mg"}],
               "final_volume": "250 mL", "beyond_use_at": "2099-01-01T00:00:00Z"})
    };
    let r = h
        .call(
            "POST",
            &path,
            Some("technician"),
            Some(with_lot("lot-r1")),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["code"], "preparation.recalled_lot", "{}", r.body);
    assert!(
        r.body.to_string().contains("particulate matter"),
        "{}",
        r.body
    );
    // A scanned product barcode whose lot is not the lot recorded is refused, naming it.
    let mut scanned = with_lot("LOT-R2");
    scanned["components"][0]["gtin"] = json!("(01)00312345678906(10)LOT-OTHER");
    let r = h
        .call(
            "POST",
            &path,
            Some("technician"),
            Some(scanned.clone()),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "components[0].gtin", "{}", r.body);
    assert!(r.body.to_string().contains("LOT-OTHER"), "{}", r.body);
    scanned["components"][0]["gtin"] = json!("(01)00312345678906(10)LOT-R2");
    let r = h
        .call(
            "POST",
            &path,
            Some("technician"),
            Some(scanned),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

on_both_backends!(
    a_preparation_that_differs_from_the_verified_order_is_refused_with_the_difference,
    an_expired_lot_is_a_hard_stop_and_a_second_pharmacist_releases_the_bag,
    a_lot_on_the_recall_list_is_a_hard_stop,
);
