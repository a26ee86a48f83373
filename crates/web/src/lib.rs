//! `infusio-web`: the clinician web UI, served by `infusio serve` beside the JSON API.
//!
//! Server-rendered HTML pages over the workflows of `infusio-app`; plain forms, no client
//! framework; one stylesheet and one small script built into the binary.
//!
//! Invariants:
//! - No clinical rule lives here: every number comes from `infusio-app` / `infusio-core` with
//!   its derivation, every step is one workflow call, and every refusal (`AppError`) is shown
//!   on the page with its field, value and accepted range, or its findings.
//! - Every page needs a cookie session (the same cookie as the JSON API); a form that changes
//!   anything carries the session's CSRF token in a hidden field and, when the browser sends
//!   one, a same-host `Origin`.
//! - Pages are built with `maud`'s `html!`, which escapes every interpolated value: nothing
//!   that a user, a record or a file supplied can become markup. Raw markup (`PreEscaped`)
//!   is used only in the vetted places listed in `tests/tidy.rs`.
//! - Every response carries the security headers (`security_headers`): a
//!   Content-Security-Policy without inline script or style, `nosniff`, no referrer to
//!   another site, no framing; pages (which show patient data) are never stored by a cache.
//! - The router sets no fallback: unknown paths get the API's answer.
#![warn(clippy::too_many_lines)] // production functions stay under 100 lines (clippy.toml)

mod html;
mod pages;
pub mod words;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use infusio_app::auth::{Session, SessionKind};
use infusio_app::{Actor, AppError};
use infusio_server::{AppState, SESSION_COOKIE, cookie_value};
use maud::{DOCTYPE, Markup, html};

const STYLE: &str = include_str!("../assets/style.css");
const SCRIPT: &str = include_str!("../assets/app.js");

/// The UI's routes, merged into the server's router by `infusio serve`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/board") }))
        .route("/ui", get(|| async { Redirect::to("/ui/board") }))
        .route("/ui/assets/style.css", get(style))
        .route("/ui/assets/app.js", get(script))
        .route(
            "/ui/sign-in",
            get(pages::auth::sign_in_page).post(pages::auth::sign_in),
        )
        .route("/ui/sign-out", post(pages::auth::sign_out))
        .route("/ui/board", get(pages::board::board))
        .route("/ui/patients", get(pages::patients::list))
        .route("/ui/patients/{id}", get(pages::patients::chart))
        .route(
            "/ui/orders/new",
            get(pages::order::new_page).post(pages::order::new_post),
        )
        .route("/ui/orders/{id}", get(pages::order::show))
        .route("/ui/orders/{id}/sign", post(pages::order::sign))
        .route("/ui/orders/{id}/step", post(pages::order::step))
        .route(
            "/ui/orders/{id}/verify",
            get(pages::verify::view).post(pages::verify::post),
        )
        .route("/ui/verify", get(pages::verify::queue))
        .route("/ui/pharmacy", get(pages::prepare::queue))
        .route(
            "/ui/orders/{id}/prepare",
            get(pages::prepare::view).post(pages::prepare::post),
        )
        .route("/ui/orders/{id}/label", get(pages::prepare::label))
        .route(
            "/ui/schedule",
            get(pages::schedule::view).post(pages::schedule::post),
        )
        .route(
            "/ui/orders/{id}/administer",
            get(pages::administer::start_page).post(pages::administer::start),
        )
        .route("/ui/administrations/{id}", get(pages::administer::running))
        .route(
            "/ui/administrations/{id}/event",
            post(pages::administer::event),
        )
        .route(
            "/ui/administrations/{id}/finish",
            post(pages::administer::finish),
        )
        .route("/ui/pk/vancomycin", get(pages::pk::vancomycin))
        .route("/ui/pk/vancomycin/order", post(pages::pk_order::order))
        .route(
            "/ui/plans/{id}/days/{index}",
            get(pages::treatment_day::view),
        )
        .route(
            "/ui/plans/{id}/days/{index}/release",
            post(pages::treatment_day::release),
        )
        .route(
            "/ui/plans/{id}/days/{index}/sign",
            post(pages::treatment_day::sign),
        )
        .route("/ui/plans/{id}/hold", post(pages::treatment_day::hold))
        .route("/ui/plans/{id}/resume", post(pages::treatment_day::resume))
        .route("/ui/plans/{id}/stop", post(pages::treatment_day::stop))
        .route("/ui/library", get(pages::library::list))
        .route("/ui/library/{id}", get(pages::library::entry))
        .route("/ui/audit", get(pages::audit::view))
        .layer(axum::middleware::map_response(security_headers))
}

/// The Content-Security-Policy of every UI response: scripts, styles, images, fonts and
/// form targets only from this server; no inline script, no inline event handler, no inline
/// style; no plugins, no `<base>`, no framing by any page (clickjacking).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'; form-action 'self'";

/// Adds the security headers to every response of the UI's routes. A response that set its
/// own `Cache-Control` (the static assets) keeps it; every other one (pages with patient
/// data, redirects, refusals) is `no-store`.
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: under `no-referrer` a browser sends `Origin: null`
    // with a form post, which the same-origin check must refuse. No URL (with its patient
    // and order ids) leaves for another site either way.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

/// The largest number of hours, chairs and quarter-hour columns the board can place (a
/// whole day in quarter hours; chairs beyond the limit share its last row).
pub(crate) const BOARD_MAX_HOURS: i64 = 24;
pub(crate) const BOARD_MAX_ROWS: usize = 200;

/// The stylesheet: the hand-written one, then the board's grid placement classes. The
/// Content-Security-Policy allows no inline `style` attribute, so each grid position the
/// board uses is a class (`cols-H`: H hours of quarter-hour columns; `row-N`, `from-N`,
/// `to-N`: grid row, first and last grid line), generated once.
fn stylesheet() -> &'static str {
    static CSS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CSS.get_or_init(|| {
        use std::fmt::Write as _;
        let mut css = String::from(STYLE);
        css.push_str("\n/* Board grid placement (generated). */\n.board .hour { grid-column: span 4; }\n");
        for hours in 1..=BOARD_MAX_HOURS {
            let _ = writeln!(
                css,
                ".board.cols-{hours} {{ grid-template-columns: 5rem repeat({}, minmax(1.1rem, 1fr)); }}",
                hours * 4
            );
        }
        for row in 1..=BOARD_MAX_ROWS {
            let _ = writeln!(css, ".board .row-{row} {{ grid-row: {row}; }}");
        }
        for line in 1..=(BOARD_MAX_HOURS * 4 + 2) {
            let _ = writeln!(
                css,
                ".board .from-{line} {{ grid-column-start: {line}; }} .board .to-{line} {{ grid-column-end: {line}; }}"
            );
        }
        css
    })
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        stylesheet(),
    )
        .into_response()
}

async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// The signed-in user of a page. Without a valid cookie session the page redirects to
/// sign-in; a change from another origin is refused.
pub(crate) struct Viewer {
    pub session: Session,
}

impl Viewer {
    pub fn actor(&self) -> &Actor {
        &self.session.actor
    }

    /// The hidden CSRF field every changing form carries.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.session.csrf_token); }
    }

    /// Checks the form's CSRF token against the session's.
    pub fn check_csrf(&self, form: &FormData) -> Result<(), AppError> {
        if form.get("csrf") == Some(self.session.csrf_token.as_str()) {
            Ok(())
        } else {
            Err(AppError::forbidden(
                "change with a cookie session",
                "missing or wrong CSRF token; reload the page and try again",
            ))
        }
    }
}

/// Refuses a changing request from another origin (scheme, host and port compared; see
/// [`infusio_server::edge::origin_allowed`]).
fn same_origin(parts: &Parts) -> bool {
    infusio_server::edge::origin_allowed(&parts.method, &parts.headers)
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        if !same_origin(parts) {
            return Err(plain_error(
                StatusCode::FORBIDDEN,
                &AppError::forbidden("change with a cookie session", "cross-origin request"),
            ));
        }
        let to_sign_in = || Redirect::to("/ui/sign-in").into_response();
        let Some(token) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(to_sign_in());
        };
        match state.app.session(&token).await {
            Ok(s) if s.kind == SessionKind::Cookie => Ok(Viewer { session: s }),
            Ok(_) | Err(AppError::Unauthenticated) => Err(to_sign_in()),
            Err(other) => Err(plain_error(status_of(&other), &other)),
        }
    }
}

/// A submitted form: every name/value pair in order (repeated names kept).
#[derive(Debug, Clone, Default)]
pub(crate) struct FormData(pub Vec<(String, String)>);

impl FormData {
    /// The first value of `name`, trimmed, if not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The value of `name` or the empty string (for re-filling a form).
    pub fn val(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Every non-empty value of a name starting with `prefix`, with the rest of the name.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.0.iter().filter_map(move |(k, v)| {
            let rest = k.strip_prefix(prefix)?;
            let v = v.trim();
            (!v.is_empty()).then_some((rest, v))
        })
    }
}

/// The HTTP status for a refusal shown on a page.
/// The server's one mapping, so a page answers a refusal with the same status as the JSON
/// API and FHIR (a stale write is 412 Precondition Failed, no longer 409).
pub(crate) fn status_of(err: &AppError) -> StatusCode {
    infusio_server::error::http_status(err.kind())
}

/// A minimal page for a refusal outside any screen (no session, cross-origin).
fn plain_error(status: StatusCode, err: &AppError) -> Response {
    let body = frame("Refused", None, "", html::error_box(err));
    (status, Html(body.into_string())).into_response()
}

/// The navigation, by what each role does.
const NAV: &[(&str, &str, &str)] = &[
    ("board", "/ui/board", "Today"),
    ("patients", "/ui/patients", "Patients"),
    ("verify", "/ui/verify", "Verify"),
    ("pharmacy", "/ui/pharmacy", "Pharmacy"),
    ("schedule", "/ui/schedule", "Schedule"),
    ("library", "/ui/library", "Drug library"),
    ("audit", "/ui/audit", "Audit"),
];

/// The main navigation with the signed-in user and the sign-out button.
fn nav(v: &Viewer, current: &str) -> Markup {
    let roles: Vec<&str> = v.actor().roles.iter().map(|r| r.as_str()).collect();
    html! {
        nav aria-label="Main" {
            ul {
                @for (key, href, label) in NAV {
                    li { a href=(href) aria-current=[(*key == current).then_some("page")] { (label) } }
                }
            }
            form method="post" action="/ui/sign-out" class="who" {
                (v.csrf_field())
                span { (v.actor().display_name) " " small { "(" (roles.join(", ").replace('_', " ")) ")" } }
                " "
                button type="submit" { "Sign out" }
            }
        }
    }
}

/// The page frame: head, navigation with the user and sign-out, and `body`.
pub(crate) fn frame(title: &str, viewer: Option<&Viewer>, current: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Infusio" }
                link rel="stylesheet" href="/ui/assets/style.css";
                script src="/ui/assets/app.js" defer {}
            }
            body {
                header {
                    a.brand href="/ui/board" { "Infusio" }
                    @if let Some(v) = viewer { (nav(v, current)) }
                }
                main #main { h1 { (title) } (body) }
            }
        }
    }
}

/// A rendered page with status 200.
pub(crate) fn page(title: &str, viewer: &Viewer, current: &str, body: Markup) -> Response {
    Html(frame(title, Some(viewer), current, body).into_string()).into_response()
}

/// A page showing a refusal with its status code, above the page body.
pub(crate) fn page_with_error(
    title: &str,
    viewer: &Viewer,
    current: &str,
    err: &AppError,
    body: Markup,
) -> Response {
    let status = status_of(err);
    let full = html! { (html::error_box(err)) (body) };
    (
        status,
        Html(frame(title, Some(viewer), current, full).into_string()),
    )
        .into_response()
}

/// After a successful change: go to `to` (303, so reload does not repeat the post).
pub(crate) fn see_other(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}
