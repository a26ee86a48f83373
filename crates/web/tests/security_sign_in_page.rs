//! Login CSRF on the sign-in form (issue 19): a form on another site, or a post with an
//! Origin of another scheme, cannot sign the browser in; a same-origin post can.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use infusio_app::{App, AppConfig};
use infusio_server::ServerConfig;
use infusio_store::{Role, Store};
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery";

async fn router() -> (Router, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("infusio-web-sec-{}", infusio_store::new_id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let store = Store::open_data_dir(&dir).await.expect("store");
    let library = infusio_app::library::builtin().expect("library");
    let config = AppConfig {
        argon2_memory_kib: 64,
        argon2_iterations: 1,
        ..AppConfig::default()
    };
    let app = App::open(store, library, config).await.expect("app");
    app.create_user(None, "nurse", "nurse", PASSWORD, &[Role::Nurse])
        .await
        .expect("user");
    let router = infusio_server::router_with(
        app,
        ServerConfig {
            secure_cookies: true,
        },
        vec![infusio_web::routes()],
    );
    (router, dir)
}

async fn post_sign_in(r: &Router, extra: &[(&str, &str)]) -> (StatusCode, bool) {
    let mut req = Request::post("/ui/sign-in")
        .header(header::HOST, "infusio.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let body = format!("username=nurse&password={}", PASSWORD.replace(' ', "+"));
    let res = r
        .clone()
        .oneshot(req.body(Body::from(body)).expect("request"))
        .await
        .expect("response");
    (res.status(), res.headers().contains_key(header::SET_COOKIE))
}

#[tokio::test]
async fn a_cross_site_sign_in_is_refused_and_a_same_origin_one_accepted() {
    let (r, dir) = router().await;
    for extra in [
        &[("origin", "http://evil.example")][..],
        &[("origin", "https://infusio.test")][..],
        &[("sec-fetch-site", "cross-site")][..],
    ] {
        let (status, cookie) = post_sign_in(&r, extra).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{extra:?}");
        assert!(!cookie, "a session was opened for {extra:?}");
    }
    let (status, cookie) = post_sign_in(&r, &[("origin", "http://infusio.test")]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(cookie);
    let _ = std::fs::remove_dir_all(dir);
}
