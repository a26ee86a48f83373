//! The one error → response mapping: every refusal is a JSON problem document
//! (`application/problem+json`, RFC 9457) with a stable `code`; internal failures are logged
//! here, once, and answered without their details.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use infusio_app::AppError;
use serde_json::{Value as Json, json};

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

impl From<infusio_store::StoreError> for ApiError {
    fn from(e: infusio_store::StoreError) -> Self {
        ApiError(e.into())
    }
}

impl ApiError {
    /// Status, stable code and the problem document.
    pub fn parts(&self) -> (StatusCode, Json) {
        let e = &self.0;
        let (status, code, extra) = match e {
            AppError::Unauthenticated => (StatusCode::UNAUTHORIZED, "auth.required", json!({})),
            AppError::BadCredentials => {
                (StatusCode::UNAUTHORIZED, "auth.bad_credentials", json!({}))
            }
            AppError::Locked { retry_after_s } => (
                StatusCode::TOO_MANY_REQUESTS,
                "auth.locked",
                json!({"retry_after_s": retry_after_s}),
            ),
            AppError::Forbidden { action, .. } => (
                StatusCode::FORBIDDEN,
                "forbidden",
                json!({"action": action}),
            ),
            AppError::NotFound { entity, id } => (
                StatusCode::NOT_FOUND,
                "not_found",
                json!({"entity": entity, "id": id}),
            ),
            AppError::Invalid(i) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "input.invalid",
                json!({"field": i.field, "value": i.value, "message": i.message}),
            ),
            AppError::Stale {
                current, expected, ..
            } => (
                StatusCode::PRECONDITION_FAILED,
                "version.stale",
                json!({"current_version": current, "expected_version": expected}),
            ),
            AppError::VersionRequired => (
                StatusCode::PRECONDITION_REQUIRED,
                "version.required",
                json!({}),
            ),
            AppError::InvalidState { code, .. } => (StatusCode::CONFLICT, *code, json!({})),
            AppError::Blocked { code, findings, .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                *code,
                json!({"findings": findings}),
            ),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict", json!({})),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", json!({})),
        };
        let detail = match e {
            AppError::Internal(_) => "an internal error occurred; it has been logged".to_string(),
            other => other.to_string(),
        };
        let mut doc = json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("error"),
            "status": status.as_u16(),
            "code": code,
            "detail": detail,
        });
        if let (Json::Object(d), Json::Object(x)) = (&mut doc, extra) {
            d.extend(x);
        }
        (status, doc)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let AppError::Internal(message) = &self.0 {
            tracing::error!(error = %message, "internal error");
        }
        let (status, doc) = self.parts();
        let mut res = (status, doc.to_string()).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let AppError::Locked { retry_after_s } = &self.0
            && let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"infusio\""),
            );
        }
        res
    }
}
