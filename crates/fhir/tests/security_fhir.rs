//! Strict input at the FHIR edge (issue 19): a duplicated key at any depth is refused with 400
//! naming it, and a body without a FHIR JSON Content-Type is refused with 415; both as
//! OperationOutcomes.

mod common;

use infusio_testkit::on_both_backends;

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

/// Sends `req` to `router` and returns status, headers and the body as text.
async fn send(
    router: &axum::Router,
    req: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let res = router.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), 16 << 20)
        .await
        .expect("body");
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

/// The review's reproduction: `Host: evil.example` (with forged forwarded headers) was echoed
/// into FHIR bundle links and `Location`. With a configured public URL every link is built
/// from it; with only the listen address known, from that; the foreign host never appears.
async fn a_foreign_host_never_appears_in_a_response() {
    let h = common::harness().await;
    let configs = [
        (
            infusio_server::EdgeConfig {
                public_url: Some(
                    infusio_server::PublicUrl::parse("https://infusio.example.org").expect("url"),
                ),
                ..Default::default()
            },
            "https://infusio.example.org/fhir",
        ),
        (
            infusio_server::EdgeConfig {
                listen_authority: Some("127.0.0.1:8080".into()),
                ..Default::default()
            },
            "http://127.0.0.1:8080/fhir",
        ),
    ];
    for (i, (edge, base)) in configs.into_iter().enumerate() {
        let router = infusio_server::router_at_edge(
            h.app.clone(),
            infusio_server::ServerConfig {
                secure_cookies: false,
            },
            edge,
            vec![infusio_fhir::routes()],
        );
        let forged = |req: axum::http::request::Builder| {
            req.header("host", "evil.example")
                .header("x-forwarded-host", "evil.example")
                .header("x-forwarded-proto", "gopher")
                .header("authorization", format!("Bearer {}", h.token("scheduler")))
        };
        let (status, headers, body) = send(
            &router,
            forged(Request::get("/fhir/Patient?_count=1"))
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains(&format!("{base}/Patient")), "{base}: {body}");
        assert!(!body.contains("evil.example"), "{body}");
        assert!(
            !format!("{headers:?}").contains("evil.example"),
            "{headers:?}"
        );
        let clean = PATIENT
            .replace(r#", "family": "Forged""#, "")
            .replace("MRN77", &format!("MRN-HOST-{i}"));
        let (status, headers, body) = send(
            &router,
            forged(Request::post("/fhir/Patient"))
                .header("content-type", "application/fhir+json")
                .body(Body::from(clean))
                .expect("request"),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(location.starts_with(base), "{location}");
        assert!(!body.contains("evil.example"), "{body}");
        if base.starts_with("https") {
            assert!(headers.contains_key("strict-transport-security"));
        }
    }
}

on_both_backends!(
    fhir_refuses_duplicate_keys_and_undeclared_json,
    a_foreign_host_never_appears_in_a_response,
);
