//! Strict input at the JSON API's edge (issue 19): duplicate keys refused at every depth
//! (naming the key), a JSON body must say it is JSON (415 otherwise), free text is bounded,
//! and birth dates must be plausible.

mod common;

use infusio_testkit::on_both_backends;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Sends `body` as-is (not re-serialised, so duplicate keys survive) with `content_type`.
async fn raw(
    h: &common::Harness,
    path: &str,
    user: &str,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", format!("Bearer {}", h.token(user)));
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let res = h
        .router
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).expect("request"))
        .await
        .expect("infallible");
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn weights(h: &common::Harness) -> Vec<String> {
    let r = h
        .call(
            "GET",
            &format!("/api/patients/{}", h.patient_id),
            Some("nurse"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
        .to_string()
        .match_indices("kg")
        .map(|(i, _)| r.body.to_string()[i.saturating_sub(8)..i].to_string())
        .collect()
}

/// The review's reproduction: `{"value": "70 kg", "value": "7 kg"}` recorded 7 kg. Now it is
/// refused naming `value`, and nothing is recorded.
async fn a_duplicate_key_is_refused_naming_it_and_nothing_is_recorded() {
    let h = common::harness().await;
    let before = weights(&h).await;
    let path = format!("/api/patients/{}/measurements", h.patient_id);
    let (status, body) = raw(
        &h,
        &path,
        "nurse",
        Some("application/json"),
        r#"{"kind": "weight", "value": "70 kg", "value": "7 kg"}"#,
    )
    .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert_eq!(body["field"], "value", "{body}");
    assert!(
        body["message"].as_str().unwrap_or("").contains("twice"),
        "{body}"
    );
    assert_eq!(weights(&h).await, before, "a measurement was recorded");
    // Nested: a duplicate inside an object inside the body.
    let (status, body) = raw(
        &h,
        "/api/orders/preview",
        "prescriber",
        Some("application/json"),
        &format!(
            r#"{{"patient_id": "{}", "medication": "infliximab", "dose_per": "5 mg/kg", "override": {{"reason": "a", "reason": "b"}}}}"#,
            h.patient_id
        ),
    )
    .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert_eq!(body["field"], "override.reason", "{body}");
}

/// JSON sent as `text/plain` (what a cross-site form can post) or without a Content-Type is
/// refused with 415 naming the header; `application/json; charset=utf-8` is accepted.
async fn a_json_body_must_say_it_is_json() {
    let h = common::harness().await;
    let path = format!("/api/patients/{}/measurements", h.patient_id);
    let body = r#"{"kind": "weight", "value": "71 kg"}"#;
    for ct in [
        Some("text/plain"),
        None,
        Some("application/x-www-form-urlencoded"),
    ] {
        let (status, doc) = raw(&h, &path, "nurse", ct, body).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}: {doc}");
        assert_eq!(doc["field"], "Content-Type", "{doc}");
    }
    let (status, doc) = raw(
        &h,
        &path,
        "nurse",
        Some("application/json; charset=utf-8"),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{doc}");
}

/// A 1.9 MB allergy reaction text is refused naming the field and the limit, without
/// echoing the text; the allergy is not stored.
async fn a_huge_free_text_is_refused_with_the_field_and_the_limit() {
    let h = common::harness().await;
    let huge = "a".repeat(1_900_000);
    let r = h
        .call(
            "POST",
            &format!("/api/patients/{}/allergies", h.patient_id),
            Some("nurse"),
            Some(json!({"substance": "penicillin", "reaction": huge})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.status);
    assert_eq!(r.body["field"], "reaction");
    let limit = "4000"; // infusio_core::input::MAX_TEXT_CHARS
    assert!(
        r.body["message"].as_str().unwrap_or("").contains(limit),
        "{}",
        r.body["message"]
    );
    assert!(r.body.to_string().len() < 10_000, "the text was echoed");
    let chart = h
        .call(
            "GET",
            &format!("/api/patients/{}", h.patient_id),
            Some("nurse"),
            None,
            &[],
        )
        .await;
    assert!(!chart.body.to_string().contains("penicillin"), "stored");
}

/// Birth dates before 1900 (the review used year 0001) or in the future are refused; 1900-01-01
/// is accepted.
async fn implausible_birth_dates_are_refused() {
    let h = common::harness().await;
    for (i, date) in ["0001-01-01", "1899-12-31", "2999-01-01"]
        .iter()
        .enumerate()
    {
        let r = h
            .call(
                "POST",
                "/api/patients",
                Some("scheduler"),
                Some(json!({"mrn": format!("BD{i}"), "family_name": "Test", "given_name": "Date", "birth_date": date, "sex": "unknown"})),
                &[],
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{date}: {}",
            r.body
        );
        assert_eq!(r.body["field"], "birth_date");
    }
    let r = h
        .call(
            "POST",
            "/api/patients",
            Some("scheduler"),
            Some(json!({"mrn": "BD9", "family_name": "Test", "given_name": "Date", "birth_date": "1900-01-01", "sex": "unknown"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

on_both_backends!(
    a_duplicate_key_is_refused_naming_it_and_nothing_is_recorded,
    a_json_body_must_say_it_is_json,
    a_huge_free_text_is_refused_with_the_field_and_the_limit,
    implausible_birth_dates_are_refused,
);
