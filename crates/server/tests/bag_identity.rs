//! The bag at the bedside is identified by the bag id on its pharmacy label, and only that
//! bag of the order as it stands is accepted: a product GTIN in place of the bag id, another
//! patient's bag, and a bag made before the order was changed (an earlier order version) are
//! refused, each with its own hard stop; the current bag starts the infusion.

mod common;

use infusio_testkit::on_both_backends;

use axum::http::StatusCode;
use serde_json::{Value, json};

/// A second patient with the same measures and labs as the harness's.
async fn second_patient(h: &common::Harness, mrn: &str) -> String {
    let p = h
        .call(
            "POST",
            "/api/patients",
            Some("scheduler"),
            Some(json!({"mrn": mrn, "family_name": "Mensah", "given_name": "Ama", "birth_date": "1981-02-03", "sex": "female"})),
            &[],
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    let pid = p.body["id"].as_str().unwrap_or_default().to_string();
    for body in [
        json!({"kind": "weight", "value": "70 kg", "source": "scale"}),
        json!({"kind": "height", "value": "165 cm"}),
    ] {
        let path = format!("/api/patients/{pid}/measurements");
        let r = h.call("POST", &path, Some("nurse"), Some(body), &[]).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    for (name, value) in [
        ("serum_creatinine", "0.9 mg/dL"),
        ("anc", "3.1 10*9/L"),
        ("platelets", "220 10*9/L"),
        ("hemoglobin", "12.8 g/dL"),
        ("bilirubin", "0.6 mg/dL"),
        ("ast", "24 units/L"),
        ("alt", "22 units/L"),
    ] {
        let path = format!("/api/patients/{pid}/labs");
        let body = json!({"name": name, "value": value});
        let r = h.call("POST", &path, Some("nurse"), Some(body), &[]).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    pid
}

/// Prepares the verified order (infliximab 350 mg in `volume`) and returns (bag id, etag).
async fn prepare(h: &common::Harness, id: &str, etag: &str, volume: &str) -> (String, String) {
    let body = json!({"components": [
            {"product": "infliximab 100 mg vial", "gtin": "00312345678906", "lot": "LOT-B1", "expiry_date": "2099-12-31", "quantity": "350 mg"}],
        "final_volume": volume, "beyond_use_at": "2099-01-01T00:00:00Z"});
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/preparations"),
            Some("technician"),
            Some(body),
            &[("if-match", etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let bag = r.body["preparation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (bag, r.etag())
}

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

async fn only_the_current_bag_of_this_order_and_patient_is_accepted() {
    let h = common::harness().await;
    // Patient B's infliximab bag.
    let other = second_patient(&h, "MRN77").await;
    let mut body = h.order_body().await;
    body["patient_id"] = json!(other);
    let r = h
        .call("POST", "/api/orders", Some("prescriber"), Some(body), &[])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let other_order = r.body["id"].as_str().unwrap_or_default().to_string();
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{other_order}/sign"),
            Some("prescriber"),
            None,
            &[("if-match", &r.etag())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{other_order}/verify"),
            Some("pharmacist"),
            Some(json!({"dose": "350 mg", "volume": "250 mL", "rate": "125 mL/h"})),
            &[("if-match", &r.etag())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (other_bag, _) = prepare(&h, &other_order, &r.etag(), "250 mL").await;

    // Patient A's order: prepared in 250 mL, then changed to 500 mL over 2.5 h, verified
    // again and prepared again.
    let (id, etag) = h.verified().await;
    let (stale_bag, etag) = prepare(&h, &id, &etag, "250 mL").await;
    let mut edit = h.order_body().await;
    edit.as_object_mut().map(|m| m.remove("patient_id"));
    edit["volume"] = json!("500 mL");
    edit["duration"] = json!("2.5 h");
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
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/verify"),
            Some("pharmacist"),
            Some(json!({"dose": "350 mg", "volume": "500 mL", "rate": "200 mL/h"})),
            &[("if-match", &r.etag())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let (bag, etag) = prepare(&h, &id, &r.etag(), "500 mL").await;
    assert_ne!(bag, stale_bag);

    let path = format!("/api/orders/{id}/administrations");
    let scan = |bag: &str| {
        json!({"wristband": "MRN42", "bag": bag, "dose": "350 mg", "route": "IV",
               "pump": {"rate": "200 mL/h", "vtbi": "500 mL"}})
    };
    // (what, the bag scanned, the hard stop expected)
    let cases = [
        (
            "the product GTIN in place of the bag id",
            "00312345678906".to_string(),
            "bag.product_barcode",
        ),
        (
            "a GS1 element string of the vial",
            "(01)00312345678906(17)991231(10)LOT-B1".to_string(),
            "bag.product_barcode",
        ),
        ("another patient's bag", other_bag, "bag.other_patient"),
        (
            "the bag made for the earlier order version",
            stale_bag,
            "bag.earlier_order_version",
        ),
    ];
    for (what, scanned, code) in cases {
        let r = h
            .call(
                "POST",
                &path,
                Some("nurse"),
                Some(scan(&scanned)),
                &[("if-match", &etag)],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {}",
            r.body
        );
        assert_eq!(r.body["code"], "administration.blocked", "{what}");
        let found = codes(&r.body);
        assert!(found.iter().any(|c| c == code), "{what}: {found:?}");
        assert!(
            found.iter().any(|c| c == "five_rights.drug"),
            "{what}: {found:?}"
        );
    }
    // The bag made for the order as it stands starts the infusion.
    let r = h
        .call(
            "POST",
            &path,
            Some("nurse"),
            Some(scan(&format!(" {bag}\r\n"))),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["order"]["status"], "in_progress", "{}", r.body);
}

on_both_backends!(only_the_current_bag_of_this_order_and_patient_is_accepted,);
