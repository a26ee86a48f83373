//! Ordering a drug outside the library is its own right: an order carrying a pharmacist-entered
//! limit set (`off_library`) is refused to a prescriber who does not hold it (403, `forbidden`,
//! naming the action), while a prescriber who also holds the pharmacist role may create and
//! sign it; the engine checks the limit set and the order always needs a double check. Without
//! a limit set, a drug outside the library stays a hard stop for everyone.

mod common;

use infusio_testkit::on_both_backends;

use axum::http::StatusCode;
use serde_json::{Value, json};

fn off_library_body(patient_id: &str) -> Value {
    json!({
        "patient_id": patient_id,
        "medication": "unobtainium", "dose": "500 mg", "route": "iv",
        "volume": "100 mL", "duration": "1 h", "line": "peripheral", "frequency": "once",
        "off_library": {
            "entered_by": "dual", "reason": "compassionate-use supply, no library entry",
            "dose_hard_max": "1 g", "rate_hard_max": "200 mL/h"
        }
    })
}

/// The body with an override for each warning the preview (as `user`) raises.
async fn with_overrides(h: &common::Harness, user: &str, mut body: Value) -> Value {
    let preview = h
        .call(
            "POST",
            "/api/orders/preview",
            Some(user),
            Some(body.clone()),
            &[],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    let overrides: Vec<Value> = preview.body["computed"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f["severity"] == "warning")
        .map(|f| json!({"code": f["code"], "reason": "limit set reviewed by pharmacy"}))
        .collect();
    body["overrides"] = Value::Array(overrides);
    body
}

async fn ordering_outside_the_library_needs_its_own_right() {
    let h = common::harness().await;
    let body = with_overrides(&h, "dual", off_library_body(&h.patient_id)).await;

    // A prescriber without the right: 403 with the stable code and the action named.
    let r = h
        .call(
            "POST",
            "/api/orders",
            Some("prescriber"),
            Some(body.clone()),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.body["code"], "forbidden", "{}", r.body);
    assert_eq!(
        r.body["action"], "order a drug outside the drug library",
        "{}",
        r.body
    );

    // A prescriber who also holds the pharmacist role: created, flagged for a double check,
    // and checked against the limit set.
    let r = h
        .call("POST", "/api/orders", Some("dual"), Some(body.clone()), &[])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap_or_default().to_string();
    let etag = r.etag();
    let text = r.body.to_string();
    assert!(text.contains("medication.off_library"), "{text}");
    assert!(text.contains("double_check.required"), "{text}");
    assert_eq!(r.body["high_alert"], true, "{}", r.body);
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/sign"),
            Some("dual"),
            None,
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // Above the pharmacist's own limit: a hard stop even for the permitted path.
    let mut over = body.clone();
    over["dose"] = json!("1500 mg");
    let r = h
        .call("POST", "/api/orders", Some("dual"), Some(over), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    // Without a limit set, the drug outside the library is a hard stop for everyone.
    let mut bare = body;
    bare.as_object_mut().map(|o| o.remove("off_library"));
    let r = h
        .call("POST", "/api/orders", Some("dual"), Some(bare), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body
            .to_string()
            .contains("medication.off_library_required"),
        "{}",
        r.body
    );
}

on_both_backends!(ordering_outside_the_library_needs_its_own_right);
