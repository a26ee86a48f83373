//! The new-order form takes the formula dose bases: started from a protocol line dosed by a
//! target AUC (carboplatin) or a desired factor rise, it prefills `dose_per` with that basis,
//! and the engine's preview shows the dose computed by the calculator (the Calvert step), not
//! a request to compute it elsewhere. Through the whole router (`oneshot`, no socket).

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use infusio_app::patients::{NewLab, NewMeasurement, NewPatient};
use infusio_app::{Actor, App, AppConfig};
use infusio_server::ServerConfig;
use infusio_store::{Role, Store};
use serde_json::json;
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery";

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

fn actor_of(u: infusio_app::auth::UserView) -> Actor {
    Actor {
        user_id: u.id,
        username: u.username,
        display_name: u.display_name,
        roles: u.roles,
    }
}

/// The app and its router, a prescriber, and a patient with weight, height and creatinine.
async fn setup() -> (Router, String, std::path::PathBuf) {
    let dir = infusio_testkit::TempDir::new("web-dose-bases").keep();
    let store = Store::open_data_dir(&dir).await.expect("store");
    let library = infusio_app::library::builtin().expect("library");
    let config = AppConfig {
        argon2_memory_kib: 64,
        argon2_iterations: 1,
        ..AppConfig::default()
    };
    let app: App = App::open(store, library, config).await.expect("app");
    app.create_user(None, "prescriber", "Dr P", PASSWORD, &[Role::Prescriber])
        .await
        .expect("user");
    let nurse = actor_of(
        app.create_user(
            None,
            "nurse",
            "N",
            PASSWORD,
            &[Role::Nurse, Role::Scheduler],
        )
        .await
        .expect("user"),
    );
    let patient = app
        .create_patient(
            &nurse,
            &NewPatient::try_from(&json!({"mrn": "MRN-AUC", "family_name": "Okafor",
                "given_name": "Grace", "birth_date": "1979-04-12", "sex": "female"}))
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
    app.add_lab(
        &nurse,
        &patient.id,
        &NewLab::try_from(&json!({"name": "serum_creatinine", "value": "0.9 mg/dL"})).expect("lab"),
    )
    .await
    .expect("lab");
    let router = infusio_server::router_with(
        app.clone(),
        ServerConfig {
            secure_cookies: true,
        },
        vec![infusio_web::routes()],
    );
    (router, patient.id, dir)
}

async fn session(r: &Router) -> String {
    let (status, headers, _) = send(
        r,
        Request::post("/ui/sign-in")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(
                "username=prescriber&password=correct+horse+battery",
            ))
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    headers
        .iter()
        .find(|(k, _)| k == "set-cookie")
        .and_then(|(_, v)| v.split(';').next())
        .expect("cookie")
        .to_string()
}

/// The `value` of the input named `name` in `body`.
fn input_value<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let at = body.find(&format!("name=\"{name}\""))?;
    let tag_start = body[..at].rfind('<')?;
    let tag = &body[tag_start..tag_start + body[tag_start..].find('>')?];
    let v = tag.split("value=\"").nth(1)?;
    v.split('"').next()
}

async fn new_order_from(r: &Router, cookie: &str, patient_id: &str, line: &str) -> String {
    let (status, _, body) = send(
        r,
        Request::get(format!(
            "/ui/orders/new?patient_id={patient_id}&from={}",
            line.replace('|', "%7C")
        ))
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn a_carboplatin_auc_line_prefills_the_target_auc_and_previews_the_calvert_dose() {
    let (r, patient_id, dir) = setup().await;
    let cookie = session(&r).await;
    let body = new_order_from(&r, &cookie, &patient_id, "carboplatin-paclitaxel|0|1").await;
    assert_eq!(
        input_value(&body, "dose_per"),
        Some("6 mg/mL.min"),
        "the target AUC is the order's dose_per"
    );
    assert!(
        !body.contains("enter it from the calculation"),
        "the form no longer asks for a dose computed elsewhere"
    );
    assert!(
        body.contains("dose = AUC × (GFR_used + 25)"),
        "the preview shows the Calvert step"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_factor_rise_line_prefills_the_desired_rise() {
    let (r, patient_id, dir) = setup().await;
    let cookie = session(&r).await;
    let body = new_order_from(&r, &cookie, &patient_id, "factor-viii-bleed|0|0").await;
    assert_eq!(input_value(&body, "dose_per"), Some("50 [iU]/dL"));
    assert!(
        body.contains("dose = weight × desired_rise × factor"),
        "the preview shows the factor-dose step"
    );
    let _ = std::fs::remove_dir_all(dir);
}
