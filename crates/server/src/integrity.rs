//! Refuses every change to an order whose row no longer matches the audit chain (changed
//! outside the application), before any clinical check runs on its altered content: the
//! answer is `409 record.tampered`, whichever step was asked. The store refuses such a write
//! too (`StoreError::RowTampered`); this layer makes the reason the first thing the caller
//! hears, for the API and the pages alike.

use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use infusio_app::AppError;
use infusio_store::rows::RowStatus;

use crate::{ApiError, AppState, Authed};

/// The order id of a change to `/api/orders/{id}[/…]` or `/ui/orders/{id}[/…]`.
fn order_of(path: &str) -> Option<&str> {
    let mut segments = path.trim_start_matches('/').split('/');
    let area = segments.next()?;
    if !matches!(area, "api" | "ui") || segments.next()? != "orders" {
        return None;
    }
    let id = segments.next()?;
    (!id.is_empty() && id != "preview" && id != "new").then_some(id)
}

pub(crate) async fn refuse_tampered_orders(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    use axum::http::Method;
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let Some(id) = order_of(req.uri().path()).map(str::to_string) else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    // Only a signed-in caller hears about the row; anyone else gets the handler's answer.
    let actor = match Authed::from_request_parts(&mut parts, &state).await {
        Ok(a) => a.0.actor,
        Err(_) => return next.run(Request::from_parts(parts, body)).await,
    };
    match state.app.order_integrity(&actor, &id).await {
        Ok(RowStatus::Mismatch { seq }) => ApiError::from(AppError::InvalidState {
            code: "record.tampered",
            message: format!(
                "orders {id} was changed outside the application: its content no longer matches its last audit event (seq {seq}); nothing can be done on it until it is resolved"
            ),
        })
        .into_response(),
        _ => next.run(Request::from_parts(parts, body)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::order_of;

    #[test]
    fn order_paths_are_recognised() {
        assert_eq!(order_of("/api/orders/abc/verify"), Some("abc"));
        assert_eq!(order_of("/api/orders/abc"), Some("abc"));
        assert_eq!(order_of("/ui/orders/abc/administer"), Some("abc"));
        assert_eq!(order_of("/api/orders/preview"), None);
        assert_eq!(order_of("/api/orders"), None);
        assert_eq!(order_of("/api/patients/abc"), None);
    }
}
