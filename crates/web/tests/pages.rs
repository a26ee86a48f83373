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
    let dir = infusio_testkit::TempDir::new("web-test").keep();
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
    assert_security_headers("refused sign-in", &headers);
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
    let (status, headers, body) =
        send(&r, post(with_token.clone(), Some("http://evil.example"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("cross-origin"), "{body}");
    // A refusal outside any screen is a page too: same headers, never stored.
    assert_security_headers("cross-origin refusal", &headers);
    assert_eq!(header_of(&headers, "cache-control"), Some("no-store"));
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
        &infusio_app::patients::NewPatient::try_from(&serde_json::json!({"mrn": "MRN7", "family_name": "<script>alert(1)</script>", "given_name": "A&B",
                            "birth_date": "1980-01-01", "sex": "female"}))
        .expect("patient command"),
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

/// Every `name=value` directive of a Content-Security-Policy.
fn csp_directives(csp: &str) -> Vec<(String, String)> {
    csp.split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let (name, value) = d.split_once(' ').unwrap_or((d, ""));
            (name.to_string(), value.trim().to_string())
        })
        .collect()
}

fn assert_security_headers(uri: &str, headers: &[(String, String)]) {
    let csp = header_of(headers, "content-security-policy")
        .unwrap_or_else(|| panic!("{uri}: no Content-Security-Policy"));
    let directives = csp_directives(csp);
    let directive = |name: &str| {
        directives
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    for (name, expected) in [
        ("default-src", "'self'"),
        ("script-src", "'self'"),
        ("style-src", "'self'"),
        ("object-src", "'none'"),
        ("base-uri", "'none'"),
        ("frame-ancestors", "'none'"),
        ("form-action", "'self'"),
    ] {
        assert_eq!(directive(name), Some(expected), "{uri}: {name} in {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{uri}: {csp}"
    );
    assert_eq!(
        header_of(headers, "x-content-type-options"),
        Some("nosniff"),
        "{uri}"
    );
    assert_eq!(
        header_of(headers, "referrer-policy"),
        Some("same-origin"),
        "{uri}"
    );
}

/// Inline script, inline event handlers and inline styles would be refused by the policy
/// (and are what an injection would use): no page has any.
fn assert_no_inline_code(uri: &str, body: &str) {
    let lower = body.to_lowercase();
    for (i, _) in lower.match_indices("<script") {
        let tag = &lower[i..lower[i..].find('>').map_or(lower.len(), |e| i + e)];
        assert!(tag.contains(" src="), "{uri}: inline script {tag}");
    }
    for attr in [
        " onclick=",
        " onload=",
        " onerror=",
        " onsubmit=",
        " style=",
        "javascript:",
    ] {
        assert!(!lower.contains(attr), "{uri}: {attr} in {body}");
    }
    assert!(!lower.contains("<style"), "{uri}: a style element");
}

#[tokio::test]
async fn every_page_carries_the_security_headers_and_patient_pages_are_never_stored() {
    let (r, app, dir) = router().await;
    let scheduler = infusio_app::Actor {
        user_id: String::new(),
        username: "scheduler".into(),
        display_name: "scheduler".into(),
        roles: vec![Role::Scheduler],
    };
    let patient = app
        .create_patient(
            &scheduler,
            &infusio_app::patients::NewPatient::try_from(
                &serde_json::json!({"mrn": "MRN8", "family_name": "Doe", "given_name": "Jo",
                                "birth_date": "1970-05-01", "sex": "male"}),
            )
            .expect("patient command"),
        )
        .await
        .expect("patient");
    let (cookie, _) = sign_in(&r, "scheduler").await;
    // Without a session: the sign-in page and the redirect to it.
    for uri in ["/ui/sign-in", "/ui/board"] {
        let (_, headers, body) =
            send(&r, Request::get(uri).body(Body::empty()).expect("request")).await;
        assert_security_headers(uri, &headers);
        assert_eq!(
            header_of(&headers, "cache-control"),
            Some("no-store"),
            "{uri}"
        );
        assert_no_inline_code(uri, &body);
    }
    let chart = format!("/ui/patients/{}", patient.id);
    for uri in [
        "/ui/board",
        "/ui/patients",
        chart.as_str(),
        "/ui/schedule",
        "/ui/library",
        "/ui/library/carboplatin",
        "/ui/audit",
    ] {
        let (status, headers, body) = send(
            &r,
            Request::get(uri)
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .expect("request"),
        )
        .await;
        assert!(
            status == StatusCode::OK || status == StatusCode::FORBIDDEN,
            "{uri}: {status}"
        );
        assert_security_headers(uri, &headers);
        assert_eq!(
            header_of(&headers, "cache-control"),
            Some("no-store"),
            "{uri}"
        );
        assert_eq!(
            header_of(&headers, "content-type"),
            Some("text/html; charset=utf-8"),
            "{uri}"
        );
        assert_no_inline_code(uri, &body);
    }
    // The static assets may be cached (they hold no patient data) and are never sniffed.
    for (uri, kind) in [
        ("/ui/assets/style.css", "text/css"),
        ("/ui/assets/app.js", "text/javascript"),
    ] {
        let (status, headers, _) =
            send(&r, Request::get(uri).body(Body::empty()).expect("request")).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_security_headers(uri, &headers);
        assert!(
            header_of(&headers, "content-type").is_some_and(|t| t.starts_with(kind)),
            "{uri}"
        );
        assert_eq!(
            header_of(&headers, "cache-control"),
            Some("max-age=3600"),
            "{uri}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_board_places_appointments_by_stylesheet_classes_that_exist() {
    let (r, _, dir) = router().await;
    let (_, _, css) = send(
        &r,
        Request::get("/ui/assets/style.css")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    // Whole days of quarter hours, the first grid line and the last, are all placeable.
    for class in [
        ".board.cols-1 ",
        ".board.cols-24 ",
        ".board .row-2 ",
        ".board .from-1 ",
        ".board .to-98 ",
    ] {
        assert!(css.contains(class), "{class} missing from the stylesheet");
    }
    assert!(css.contains(".board.cols-24 { grid-template-columns: 5rem repeat(96,"));
    let _ = std::fs::remove_dir_all(dir);
}

fn actor_of(u: infusio_app::auth::UserView) -> infusio_app::Actor {
    infusio_app::Actor {
        user_id: u.id,
        username: u.username,
        display_name: u.display_name,
        roles: u.roles,
    }
}

#[tokio::test]
async fn a_returned_order_shows_the_pharmacists_reason_on_its_page_and_on_the_board() {
    use infusio_app::commands::{BlindVerification, NewOrder, SignInput};
    use infusio_app::patients::{NewMeasurement, NewPatient};
    use serde_json::json;
    let (r, app, dir) = router().await;
    let mut actors = Vec::new();
    for (name, display, role) in [
        ("prescriber", "Dr Ada Okoye", Role::Prescriber),
        ("pharmacist", "Ben Pharm", Role::Pharmacist),
    ] {
        let u = app
            .create_user(None, name, display, PASSWORD, &[role])
            .await
            .expect("user");
        actors.push(actor_of(u));
    }
    let (prescriber, pharmacist) = (&actors[0], &actors[1]);
    let nurse = actor_of(
        app.create_user(
            None,
            "nurse9",
            "nurse9",
            PASSWORD,
            &[Role::Nurse, Role::Scheduler],
        )
        .await
        .expect("user"),
    );
    let patient = app
        .create_patient(
            &nurse,
            &NewPatient::try_from(
                &json!({"mrn": "MRN9", "family_name": "Okafor", "given_name": "Grace",
                                          "birth_date": "1979-04-12", "sex": "female"}),
            )
            .expect("patient command"),
        )
        .await
        .expect("patient");
    for m in [
        json!({"kind": "weight", "value": "70 kg"}),
        json!({"kind": "height", "value": "165 cm"}),
    ] {
        app.add_measurement(
            &nurse,
            &patient.id,
            &NewMeasurement::try_from(&m).expect("measurement"),
        )
        .await
        .expect("measurement");
    }
    let order = json!({"patient_id": patient.id, "medication": "infliximab", "dose_per": "5 mg/kg",
                       "route": "iv", "volume": "250 mL", "duration": "2 h", "line": "peripheral",
                       "frequency": "q8w", "infusion_number": 4});
    let preview = app
        .preview_order(
            prescriber,
            &NewOrder::try_from(&order).expect("order command"),
        )
        .await
        .expect("preview");
    let overrides: Vec<_> = preview
        .computed
        .warnings()
        .iter()
        .map(|f| json!({"code": f.code, "reason": "reviewed"}))
        .collect();
    let mut order = order;
    order["overrides"] = json!(overrides);
    let created = app
        .create_order(
            prescriber,
            &NewOrder::try_from(&order).expect("order command"),
            None,
        )
        .await
        .expect("order");
    let id = created.order.id.clone();
    let signed = app
        .sign_order(
            prescriber,
            &id,
            Some(created.order.version),
            &SignInput::try_from(&json!({})).expect("sign"),
        )
        .await
        .expect("sign");
    let reason = "Please confirm q8w <maintenance> for this patient";
    let result = app
        .verify_order(
            pharmacist,
            &id,
            Some(signed.version),
            &BlindVerification::try_from(
                &json!({"dose": "350 mg", "volume": "250 mL", "rate": "125 mL/h", "decision": "reject", "note": reason}),
            )
            .expect("verification"),
        )
        .await
        .expect("reject");
    assert_eq!(result.order.status, infusio_store::OrderStatus::Draft);

    let (cookie, _) = sign_in(&r, "prescriber").await;
    let get = |uri: String| {
        Request::get(uri)
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .expect("request")
    };
    let escaped = "Please confirm q8w &lt;maintenance&gt; for this patient";
    let (status, _, body) = send(&r, get(format!("/ui/orders/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Returned by the pharmacy"), "{body}");
    assert!(body.contains("Ben Pharm"), "{body}");
    assert!(body.contains(escaped), "{body}");
    let (status, _, body) = send(&r, get("/ui/board".into())).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Returned by the pharmacy"), "{body}");
    assert!(body.contains(escaped), "{body}");
    assert!(body.contains(&format!("/ui/orders/{id}")), "{body}");
    let _ = std::fs::remove_dir_all(dir);
}
