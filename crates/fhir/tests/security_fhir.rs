//! Strict input at the FHIR edge (issue 19): a duplicated key at any depth is refused with 400
//! naming it, and a body without a FHIR JSON Content-Type is refused with 415; both as
//! OperationOutcomes.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

async fn post_raw(
    h: &common::Harness,
    content_type: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method("POST")
        .uri("/fhir/Patient")
        .header("authorization", format!("Bearer {}", h.token("scheduler")));
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

const PATIENT: &str = r#"{"resourceType": "Patient",
  "identifier": [{"system": "urn:infusio:mrn", "value": "MRN77"}],
  "name": [{"family": "Berg", "given": ["Ola"], "family": "Forged"}],
  "gender": "male", "birthDate": "1970-05-06"}"#;

async fn fhir_refuses_duplicate_keys_and_undeclared_json() {
    let h = common::harness().await;
    let (status, oo) = post_raw(&h, Some("application/fhir+json"), PATIENT).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{oo}");
    assert_eq!(oo["resourceType"], "OperationOutcome");
    assert!(oo.to_string().contains("name[0].family"), "{oo}");
    let clean = PATIENT.replace(r#", "family": "Forged""#, "");
    for ct in [None, Some("text/plain")] {
        let (status, oo) = post_raw(&h, ct, &clean).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}: {oo}");
        assert_eq!(oo["resourceType"], "OperationOutcome");
    }
    let (status, oo) = post_raw(&h, Some("application/fhir+json"), &clean).await;
    assert_eq!(status, StatusCode::CREATED, "{oo}");
}

on_both_backends!(fhir_refuses_duplicate_keys_and_undeclared_json);
