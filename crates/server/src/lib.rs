//! `infusio-server`: the HTTP JSON API of Infusio.
//!
//! Invariants:
//! - This is the only crate that knows HTTP: status codes, headers, cookies, ETags. The rules
//!   (who may do what, from which state, what blocks) live in `infusio-app`; a handler reads
//!   the request, calls one workflow function and writes its answer.
//! - Every route but `/healthz`, `/api/openapi.json` and sign-in needs a session (cookie) or
//!   an API token (bearer); a cookie-authenticated change must carry the session's CSRF token
//!   and, when the browser sends one, a same-host `Origin`.
//! - Every refusal is one JSON problem document ([`error::ApiError`]); internal details are
//!   logged, never returned.
#![warn(clippy::too_many_lines)] // production functions stay under 100 lines (clippy.toml)

mod accounts;
pub mod edge;
pub mod error;
mod integrity;
pub mod json;
mod plan_routes;
mod routes;

use std::net::SocketAddr;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use infusio_app::App;

pub use edge::{ClientSource, EdgeConfig, PublicUrl};
pub use error::ApiError;
pub use routes::{Authed, cookie_value};

/// The OpenAPI document served at `/api/openapi.json` (maintained by hand beside the routes; a
/// test checks that it lists every route).
pub const OPENAPI: &str = include_str!("openapi.json");

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "infusio_session";

/// HTTP settings. Every field documents its default.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Mark the session cookie `Secure` (sent over HTTPS only). Default true; turn it off only
    /// for plain HTTP on the loopback interface (`infusio serve` does so for 127.0.0.1).
    pub secure_cookies: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            secure_cookies: true,
        }
    }
}

/// What every handler sees.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub config: ServerConfig,
    /// Trust settings for the network edge (proxies, public URL).
    pub edge: std::sync::Arc<EdgeConfig>,
}

/// The router with every JSON API route and the request log.
pub fn router(app: App, config: ServerConfig) -> Router {
    router_with(app, config, Vec::new())
}

/// The JSON API plus other route sets (the web UI, the FHIR API) that share its state,
/// sessions and request log. The extra routers must not set a fallback: an unknown path gets
/// the API's JSON problem document.
pub fn router_with(app: App, config: ServerConfig, extra: Vec<Router<AppState>>) -> Router {
    router_at_edge(app, config, EdgeConfig::default(), extra)
}

/// [`router_with`] with the edge's trust settings (`infusio serve` builds it from its flags).
pub fn router_at_edge(
    app: App,
    config: ServerConfig,
    edge: EdgeConfig,
    extra: Vec<Router<AppState>>,
) -> Router {
    let edge = std::sync::Arc::new(edge);
    let mut routes = routes::routes();
    for r in extra {
        routes = routes.merge(r);
    }
    let state = AppState {
        app,
        config,
        edge: std::sync::Arc::clone(&edge),
    };
    routes
        .fallback(routes::fallback)
        .with_state(state.clone())
        .layer(axum::middleware::from_fn_with_state(
            state,
            integrity::refuse_tampered_orders,
        ))
        .layer(axum::middleware::from_fn(require_json_bodies))
        .layer(axum::middleware::from_fn_with_state(
            edge,
            edge::normalise_headers,
        ))
        .layer(axum::middleware::from_fn(log_request))
}

/// A request body sent to the JSON API (`/api/…`) must say it is JSON
/// (`Content-Type: application/json`); anything else is 415 before a handler reads it. (JSON
/// sent as `text/plain` is what a cross-site form can post without a CORS preflight.) FHIR
/// checks its own media types and answers with an OperationOutcome; the pages (`/ui/…`)
/// post forms.
async fn require_json_bodies(req: Request, next: Next) -> Response {
    use axum::body::HttpBody;
    use axum::http::{StatusCode, header};
    let path = req.uri().path();
    if !path.starts_with("/api/") {
        return next.run(req).await;
    }
    let accepted: &[&str] = &["application/json"];
    let declared_length = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let has_body = declared_length > 0
        || req.headers().contains_key(header::TRANSFER_ENCODING)
        || req.body().size_hint().lower() > 0;
    if !has_body {
        return next.run(req).await;
    }
    let media = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if media.as_deref().is_some_and(|m| accepted.contains(&m)) {
        return next.run(req).await;
    }
    let given = media.unwrap_or_else(|| "(none)".to_string());
    let detail = format!(
        "Content-Type {given} is not accepted for a request body here; send {}",
        accepted.join(" or ")
    );
    let doc = serde_json::json!({
        "type": "about:blank",
        "title": "Unsupported Media Type",
        "status": 415,
        "code": "input.media_type",
        "field": "Content-Type",
        "value": given,
        "detail": detail,
    });
    let mut res = (StatusCode::UNSUPPORTED_MEDIA_TYPE, doc.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/problem+json"),
    );
    res
}

/// One structured log line per request: method, route pattern (never the ids or query, which
/// may identify a patient), status and latency.
async fn log_request(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".to_string());
    let res = next.run(req).await;
    tracing::info!(
        %method,
        route,
        status = res.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    res
}

/// Serves `router` on `addr` until `shutdown` completes, then lets requests in flight finish.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    serve_on(listener, router, shutdown).await
}

/// Like [`serve`] on an already bound listener (tests bind port 0).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Installs the log subscriber: one line per event on standard error; the level comes from
/// `INFUSIO_LOG` (`error`, `warn`, `info` (default), `debug`, `trace`).
pub fn init_logging() {
    let level = std::env::var("INFUSIO_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or(tracing::Level::INFO);
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
