//! The one error → response mapping: every refusal is a JSON problem document
//! (`application/problem+json`, RFC 9457) with a stable `code`; internal failures are logged
//! here, once, and answered without their details.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use infusio_app::{AppError, ErrorKind};
use serde_json::{Value as Json, json};

/// The HTTP status of each kind of refusal: the one mapping shared by the JSON API, the FHIR
/// endpoints and the pages, so the same refusal has the same status everywhere (a stale write
/// is 412 Precondition Failed, a missing If-Match 428).
pub fn http_status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Unauthenticated | ErrorKind::BadCredentials => StatusCode::UNAUTHORIZED,
        ErrorKind::Locked => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Busy => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Invalid | ErrorKind::Blocked => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Stale => StatusCode::PRECONDITION_FAILED,
        ErrorKind::VersionRequired => StatusCode::PRECONDITION_REQUIRED,
        ErrorKind::InvalidState | ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

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
        let status = http_status(e.kind());
        let (code, extra) = match e {
            AppError::Unauthenticated => ("auth.required", json!({})),
            AppError::BadCredentials => ("auth.bad_credentials", json!({})),
            AppError::Locked { retry_after_s } => {
                ("auth.locked", json!({"retry_after_s": retry_after_s}))
            }
            AppError::Busy { retry_after_s } => {
                ("server.busy", json!({"retry_after_s": retry_after_s}))
            }
            AppError::Forbidden { action, .. } => ("forbidden", json!({"action": action})),
            AppError::NotFound { entity, id } => ("not_found", json!({"entity": entity, "id": id})),
            AppError::Invalid(i) => (
                "input.invalid",
                json!({"field": i.field, "value": i.value, "message": i.message}),
            ),
            AppError::Stale {
                current, expected, ..
            } => (
                "version.stale",
                json!({"current_version": current, "expected_version": expected}),
            ),
            AppError::VersionRequired => ("version.required", json!({})),
            AppError::InvalidState { code, .. } => (*code, json!({})),
            AppError::Blocked { code, findings, .. } => (*code, json!({"findings": findings})),
            AppError::Conflict(_) => ("conflict", json!({})),
            AppError::Internal(_) => ("internal", json!({})),
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
        if let AppError::Locked { retry_after_s } | AppError::Busy { retry_after_s } = &self.0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_write_is_412_and_a_missing_version_428() {
        assert_eq!(
            http_status(ErrorKind::Stale),
            StatusCode::PRECONDITION_FAILED
        );
        assert_eq!(
            http_status(ErrorKind::VersionRequired),
            StatusCode::PRECONDITION_REQUIRED
        );
    }

    #[test]
    fn every_kind_maps_to_a_client_or_server_error_and_only_internal_and_busy_are_5xx() {
        for k in ErrorKind::ALL {
            let s = http_status(*k);
            assert!(s.is_client_error() || s.is_server_error(), "{k:?}");
            assert_eq!(
                s.is_server_error(),
                matches!(k, ErrorKind::Internal | ErrorKind::Busy),
                "{k:?}"
            );
        }
    }
}
