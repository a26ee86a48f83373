//! `infusio-fhir`: the FHIR R4 REST API under `/fhir`, served by `infusio serve`.

use axum::Router;
use infusio_server::AppState;

/// The FHIR routes, merged into the server's router by `infusio serve`.
pub fn routes() -> Router<AppState> {
    Router::new()
}
