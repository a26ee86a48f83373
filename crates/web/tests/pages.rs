//! The web UI through the whole router (`oneshot`, no socket): sessions, the cookie's flags,
//! CSRF and same-origin refusals, escaping, and the refusal of a role without the right.
//! The flows themselves are tested in a real browser (crates/web/browser).

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use infusio_app::{App, AppConfig};
use infusio_server::ServerConfig;
use infusio_store::{Role, Store};
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery";

async fn router() -> (Router, App, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("infusio-web-test-{}", infusio_store::new_id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = Store::open_data_dir(&dir).await.expect("store");
    let library = infusio_app::library::builtin().expect("library");
    let config = AppConfig {
        argon2_memory_kib: 64,
        argon2_iterations: 1,
        ..AppConfig::default()
    };
    let app = App::open(store, library, config).await.expect("app");
    for (name, role) in [("nurse", Role::Nurse), ("scheduler", Role::Scheduler)] {
        app.create_user(None, name, name, PASSWORD, &[role])
            .await
            .expect("user");
    }
    let router = infusio_server::router_with(
        app.clone(),
        ServerConfig {
            secure_cookies: true,
        },
        vec![infusio_web::routes()],
    );
    (router, app, dir)
}

async fn send(r: &Router, req: Request<Body>) -> (StatusCode, Vec<(String, String)>, String) {
    let res = r.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = axum::body::to_bytes(res.into_body(), 1 << 22)
        .await
        .expect("body");
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn header_of<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Signs in through the form; returns the cookie pair and the page's CSRF token.
async fn sign_in(r: &Router, user: &str) -> (String, String) {
    let (status, headers, _) = send(
        r,
        Request::post("/ui/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "username={user}&password=correct+horse+battery"
            )))
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cookie = header_of(&headers, "set-cookie")
        .expect("cookie")
        .to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(flag), "{flag} missing from {cookie}");
    }
    let pair = cookie.split(';').next().expect("pair").to_string();
    let (status, _, body) = send(
        r,
        Request::get("/ui/board")
            .header(header::COOKIE, &pair)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let csrf = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("csrf field")
        .to_string();
    (pair, csrf)
}

#[tokio::test]
async fn pages_without_a_session_go_to_sign_in_and_bad_passwords_are_refused_on_the_page() {
    let (r, _, dir) = router().await;
    let (status, headers, _) = send(
        &r,
        Request::get("/ui/board")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert!(status.is_redirection());
    assert_eq!(header_of(&headers, "location"), Some("/ui/sign-in"));
    let (status, headers, body) = send(
        &r,
        Request::post("/ui/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("username=nurse&password=wrong"))
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(header_of(&headers, "set-cookie").is_none());
    assert!(body.contains("not recognised"), "{body}");
    // An unknown path is still the API's answer (the UI sets no fallback).
    let (status, _, body) = send(
        &r,
        Request::get("/ui/no-such-page")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.starts_with('{'), "{body}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn changes_need_the_csrf_token_and_the_same_origin() {
    let (r, _, dir) = router().await;
    let (cookie, csrf) = sign_in(&r, "scheduler").await;
    let post = |body: String, origin: Option<&str>| {
        let mut b = Request::post("/ui/schedule")
            .header(header::HOST, "infusio.test")
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        b.body(Body::from(body)).expect("request")
    };
    let form = "patient_id=nobody&chair=C9&start_at=2030-01-01T08:00Z&end_at=2030-01-01T09:00Z";
    let (status, _, body) = send(&r, post(form.to_string(), None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("CSRF"), "{body}");
    let with_token = format!("csrf={csrf}&{form}");
    let (status, _, body) = send(&r, post(with_token.clone(), Some("http://evil.example"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("cross-origin"), "{body}");
    // With the token from the same origin the step reaches the application, which refuses
    // the unknown patient on the page.
    let (status, _, body) = send(&r, post(with_token, Some("http://infusio.test"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("patient nobody not found"), "{body}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn record_text_is_escaped_and_a_missing_role_is_refused_with_the_reason() {
    let (r, app, dir) = router().await;
    let scheduler = infusio_app::Actor {
        user_id: String::new(),
        username: "scheduler".into(),
        display_name: "scheduler".into(),
        roles: vec![Role::Scheduler],
    };
    app.create_patient(
        &scheduler,
        &serde_json::json!({"mrn": "MRN7", "family_name": "<script>alert(1)</script>", "given_name": "A&B",
                            "birth_date": "1980-01-01", "sex": "female"}),
    )
    .await
    .expect("patient");
    let (cookie, _) = sign_in(&r, "nurse").await;
    let get = |uri: &str| {
        Request::get(uri)
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .expect("request")
    };
    let (status, _, body) = send(&r, get("/ui/patients?q=MRN7")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{body}"
    );
    assert!(body.contains("A&amp;B"));
    assert!(!body.contains("<script>alert"));
    let (status, _, body) = send(&r, get("/ui/audit")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("needs the role"), "{body}");
    let _ = std::fs::remove_dir_all(dir);
}
