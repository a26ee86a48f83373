//! `infusio-web`: the clinician web UI, served by `infusio serve` beside the JSON API.

use axum::Router;
use infusio_server::AppState;

/// The UI's routes, merged into the server's router by `infusio serve`.
pub fn routes() -> Router<AppState> {
    Router::new()
}
