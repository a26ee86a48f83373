//! Sign-in and sign-out. The session cookie is the JSON API's: HttpOnly, SameSite=Strict, and
//! Secure unless the server is configured for plain HTTP on the loopback interface.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use infusio_app::AppError;
use infusio_app::auth::SessionKind;
use infusio_server::{AppState, SESSION_COOKIE, cookie_value};
use maud::{Markup, html};

use super::{Posted, form_data};
use crate::html::error_box;
use crate::{Viewer, frame, see_other};

fn form(username: &str) -> Markup {
    html! {
        form method="post" action="/ui/sign-in" class="card narrow" {
            label for="username" { "User name" }
            input id="username" name="username" autocomplete="username" autofocus required value=(username);
            label for="password" { "Password" }
            input id="password" name="password" type="password" autocomplete="current-password" required;
            button type="submit" class="primary" { "Sign in" }
        }
    }
}

pub async fn sign_in_page() -> Response {
    Html(frame("Sign in", None, "", form("")).into_string()).into_response()
}

pub async fn sign_in(
    State(s): State<AppState>,
    source: infusio_server::ClientSource,
    headers: axum::http::HeaderMap,
    posted: Posted,
) -> Response {
    // Login CSRF: a form on another site must not sign this browser in to an account of the
    // other site's choosing (the session cookie's SameSite does not stop that).
    if !infusio_server::edge::origin_allowed(&axum::http::Method::POST, &headers) {
        let err = AppError::forbidden("sign in", "cross-origin request");
        let body = html! { (error_box(&err)) (form("")) };
        return (
            StatusCode::FORBIDDEN,
            Html(frame("Sign in", None, "", body).into_string()),
        )
            .into_response();
    }
    let f = form_data(posted);
    let username = f.val("username").to_string();
    let password =
        f.0.iter()
            .find(|(k, _)| k == "password")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
    match s
        .app
        .sign_in_from(
            &username,
            password,
            SessionKind::Cookie,
            source.as_text().as_deref(),
        )
        .await
    {
        Ok(session) => {
            let cookie = format!(
                "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{}",
                session.token,
                if s.config.secure_cookies {
                    "; Secure"
                } else {
                    ""
                }
            );
            let mut res = see_other("/ui/board");
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res
        }
        Err(err) => {
            let body = html! { (error_box(&err)) (form(&username)) };
            let status = match err {
                AppError::Locked { .. } => StatusCode::TOO_MANY_REQUESTS,
                AppError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
                AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::UNAUTHORIZED,
            };
            (status, Html(frame("Sign in", None, "", body).into_string())).into_response()
        }
    }
}

pub async fn sign_out(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    let f = form_data(posted);
    if let Err(err) = viewer.check_csrf(&f) {
        return crate::page_with_error("Sign out", &viewer, "", &err, html! {});
    }
    if let Some(t) = cookie_value(&headers, SESSION_COOKIE)
        && let Err(err) = s.app.sign_out(&t).await
    {
        return crate::page_with_error("Sign out", &viewer, "", &err, html! {});
    }
    let mut res = see_other("/ui/sign-in");
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("infusio_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    res
}
