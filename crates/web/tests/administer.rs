//! The administer page through the whole router (`oneshot`, no socket): a rituximab first
//! infusion (RITUXAN label: 50 mg/h, +50 mg/h every 30 min to 400 mg/h) shows the labelled
//! start rate to key and the step timer; a rate above the library's hard limit is refused on
//! the page naming the limit; completion needs the volume infused; "stop this infusion" keeps
//! the order, unlike "discontinue the order".

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use infusio_app::commands::{BlindVerification, NewOrder, NewPreparation, SignInput};
use infusio_app::patients::{NewMeasurement, NewPatient};
use infusio_app::{Actor, App, AppConfig};
use infusio_server::ServerConfig;
use infusio_store::{Role, Store};
use serde_json::json;
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery";

async fn send(r: &Router, req: Request<Body>) -> (StatusCode, String, String) {
    let res = r.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = axum::body::to_bytes(res.into_body(), 1 << 22)
        .await
        .expect("body");
    (
        status,
        location,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

fn actor_of(u: infusio_app::auth::UserView) -> Actor {
    Actor {
        user_id: u.id,
        username: u.username,
        display_name: u.display_name,
        roles: u.roles,
    }
}

/// The app with a rituximab first infusion prepared and started at the labelled start rate;
/// returns (router, app, order id, administration id, data dir).
async fn running() -> (Router, App, String, String, std::path::PathBuf) {
    let dir = infusio_testkit::TempDir::new("web-administer").keep();
    let store = Store::open_data_dir(&dir).await.expect("store");
    let config = AppConfig {
        argon2_memory_kib: 64,
        argon2_iterations: 1,
        ..AppConfig::default()
    };
    let app = App::open(
        store,
        infusio_app::library::builtin().expect("library"),
        config,
    )
    .await
    .expect("app");
    let mut actors = Vec::new();
    for (name, role) in [
        ("prescriber", Role::Prescriber),
        ("pharmacist", Role::Pharmacist),
        ("nurse", Role::Nurse),
    ] {
        let u = app
            .create_user(None, name, name, PASSWORD, &[role])
            .await
            .expect("user");
        actors.push(actor_of(u));
    }
    let (prescriber, pharmacist, nurse) = (&actors[0], &actors[1], &actors[2]);
    let patient = app
        .create_patient(
            nurse,
            &NewPatient::try_from(
                &json!({"mrn": "MRN7", "family_name": "Okafor", "given_name": "Grace",
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
            nurse,
            &patient.id,
            &NewMeasurement::try_from(&m).expect("measurement"),
        )
        .await
        .expect("measurement");
    }
    let mut order = json!({"patient_id": patient.id, "medication": "rituximab", "dose_per": "375 mg/m2",
                           "route": "iv", "volume": "500 mL", "duration": "4 h", "line": "peripheral",
                           "frequency": "once", "infusion_number": 1, "indication": "nhl-cll"});
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
    let dose = format!(
        "{} {}",
        created.order.data.dose, created.order.data.dose_unit
    );
    let rate = created
        .order
        .data
        .rate_ml_per_h
        .as_ref()
        .map(|r| r.to_string())
        .unwrap_or_default();
    let signed = app
        .sign_order(
            prescriber,
            &id,
            Some(created.order.version),
            &SignInput::default(),
        )
        .await
        .expect("sign");
    let verified = app
        .verify_order(
            pharmacist,
            &id,
            Some(signed.version),
            &BlindVerification::try_from(
                &json!({"dose": dose, "volume": "500 mL", "rate": format!("{rate} mL/h")}),
            )
            .expect("verification"),
        )
        .await
        .expect("verify");
    let (prep, prepared) = app
        .prepare(
            pharmacist,
            &id,
            Some(verified.order.version),
            &NewPreparation::try_from(
                &json!({"components": [{"product": "rituximab 500 mg vial", "lot": "W-1",
                "expiry_date": "2099-12-31", "quantity": dose}], "final_volume": "500 mL",
                "beyond_use_at": "2099-01-01T00:00:00Z"}),
            )
            .expect("preparation"),
        )
        .await
        .expect("prepare");
    let programme = verified.order.pump_programme.clone().unwrap_or_default();
    let start = infusio_app::pump_checks::expected_start_rate(&programme).expect("a start rate");
    let scan = infusio_app::bedside::BedsideScan::try_from(&json!({
        "wristband": "MRN7", "bag": prep.id, "dose": dose, "route": "iv",
        "pump": {"rate": format!("{} mL/h", start.value()), "vtbi": "500 mL"}}))
    .expect("scan");
    let (admin, _) = app
        .start_administration(nurse, &id, Some(prepared.version), &scan)
        .await
        .expect("started at the labelled rate");
    let router = infusio_server::router_with(
        app.clone(),
        ServerConfig {
            secure_cookies: true,
        },
        vec![infusio_web::routes()],
    );
    (router, app, id, admin.id, dir)
}

async fn sign_in(r: &Router, user: &str) -> (String, String) {
    let res = r
        .clone()
        .oneshot(
            Request::post("/ui/sign-in")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!(
                    "username={user}&password=correct+horse+battery"
                )))
                .expect("request"),
        )
        .await
        .expect("response");
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("cookie")
        .to_string();
    let (_, _, body) = send(
        r,
        Request::get("/ui/board")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    let csrf = body
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("csrf field")
        .to_string();
    (cookie, csrf)
}

fn post(cookie: &str, uri: &str, form: &str) -> Request<Body> {
    Request::post(uri)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ORIGIN, "http://localhost")
        .header(header::HOST, "localhost")
        .body(Body::from(form.to_string()))
        .expect("request")
}

#[tokio::test]
async fn the_running_page_shows_the_step_timer_refuses_a_hard_limit_and_stops_without_discontinuing()
 {
    let (r, app, order_id, admin, dir) = running().await;
    let (cookie, csrf) = sign_in(&r, "nurse").await;
    let page = format!("/ui/administrations/{admin}");
    let (status, _, body) = send(
        &r,
        Request::get(&page)
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("Next step to"), "{body}");
    for button in [
        "Stop this infusion",
        "Discontinue the order",
        "Record bolus",
        "Override reason",
    ] {
        assert!(body.contains(button), "{button} missing");
    }
    // 1,500 mL/h: refused on the page, the label's 400 mg/h named.
    let uri = format!("{page}/event");
    let (status, _, body) = send(
        &r,
        post(
            &cookie,
            &uri,
            &format!("csrf={csrf}&kind=rate_change&rate=1500+mL%2Fh"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.contains("hard maximum of 400 mg/h"), "{body}");
    // Completion without the volume infused is refused naming the field.
    let uri = format!("{page}/finish");
    let (status, _, body) = send(
        &r,
        post(&cookie, &uri, &format!("csrf={csrf}&outcome=completed")),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body.contains("volume_infused") || body.contains("Volume infused"),
        "{body}"
    );
    // Stop this infusion with what ran: the order is not discontinued.
    let (status, location, _) = send(
        &r,
        post(
            &cookie,
            &uri,
            &format!("csrf={csrf}&outcome=stopped&volume_infused=0+mL&reason=line+occluded"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, page);
    let nurse = Actor {
        user_id: String::new(),
        username: "nurse".into(),
        display_name: "nurse".into(),
        roles: vec![Role::Nurse],
    };
    let (seen, _) = app.get_order(&nurse, &order_id).await.expect("order");
    assert_eq!(seen.status(), infusio_store::OrderStatus::Verified);
    let _ = std::fs::remove_dir_all(dir);
}
