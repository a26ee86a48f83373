//! The preparation label through the whole router (`oneshot`, no socket): an infliximab bag
//! prepared for a patient carries the patient's name, MRN and date of birth, the drug, dose,
//! total volume, diluent, concentration, rate and duration, route and line, the in-line
//! filter the label requires, beyond use, storage, the preparer, and the bag id as a Code 128
//! barcode whose bars decode back to the bag id.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use infusio_app::commands::{BlindVerification, NewOrder, NewPreparation, SignInput};
use infusio_app::patients::{NewMeasurement, NewPatient};
use infusio_app::{Actor, App, AppConfig};
use infusio_core::barcode::code128;
use infusio_server::ServerConfig;
use infusio_store::{Role, Store};
use serde_json::json;
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery";

async fn router() -> (Router, App, std::path::PathBuf) {
    let dir = infusio_testkit::TempDir::new("web-label").keep();
    let store = Store::open_data_dir(&dir).await.expect("store");
    let library = infusio_app::library::builtin().expect("library");
    let config = AppConfig {
        argon2_memory_kib: 64,
        argon2_iterations: 1,
        ..AppConfig::default()
    };
    let app = App::open(store, library, config).await.expect("app");
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

/// Signs in through the form; returns the cookie pair.
async fn sign_in(r: &Router, user: &str) -> String {
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
    headers
        .iter()
        .find(|(k, _)| k == "set-cookie")
        .and_then(|(_, v)| v.split(';').next())
        .expect("cookie")
        .to_string()
}

async fn user(app: &App, name: &str, display: &str, role: Role) -> Actor {
    let u = app
        .create_user(None, name, display, PASSWORD, &[role])
        .await
        .expect("user");
    Actor {
        user_id: u.id,
        username: u.username,
        display_name: u.display_name,
        roles: u.roles,
    }
}

/// The value of attribute `name` in the tag text `tag`.
fn attr(tag: &str, name: &str) -> Option<u32> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = start + tag[start..].find('"')?;
    tag[start..end].parse().ok()
}

/// Reads the Code 128 symbol on the page back into its text: the bars' `x` and `width` (in
/// modules) give the bar and space widths, which decode with the symbology's table.
fn decode_barcode(page: &str) -> Option<String> {
    let svg = page.split("data-barcode=\"code128\"").nth(1)?;
    let svg = &svg[..svg.find("</svg>")?];
    let bars: Vec<(u32, u32)> = svg
        .split("<rect ")
        .skip(1)
        .filter(|t| t.starts_with("class=\"bar\""))
        .map(|t| Some((attr(t, "x")?, attr(t, "width")?)))
        .collect::<Option<_>>()?;
    let mut widths = Vec::new();
    for (i, (x, w)) in bars.iter().enumerate() {
        if i > 0 {
            let (px, pw) = bars[i - 1];
            widths.push(x.checked_sub(px + pw)?);
        }
        widths.push(*w);
    }
    code128::decode_widths(&widths).ok()
}

#[tokio::test]
async fn the_label_carries_what_a_compounding_label_needs_and_a_barcode_that_decodes() {
    let (r, app, dir) = router().await;
    let prescriber = user(&app, "prescriber", "Dr Ada Okoye", Role::Prescriber).await;
    let pharmacist = user(&app, "pharmacist", "Ben Pharm", Role::Pharmacist).await;
    let technician = user(&app, "technician", "Tess Tech", Role::PharmacyTechnician).await;
    let nurse = user(&app, "nurse", "Nia Nurse", Role::Nurse).await;
    let patient = app
        .create_patient(
            &nurse,
            &NewPatient::try_from(
                &json!({"mrn": "MRN51", "family_name": "Okafor", "given_name": "Grace",
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
        let m = NewMeasurement::try_from(&m).expect("measurement");
        app.add_measurement(&nurse, &patient.id, &m)
            .await
            .expect("measurement");
    }
    let mut order = json!({"patient_id": patient.id, "medication": "infliximab", "dose_per": "5 mg/kg",
                       "route": "iv", "volume": "250 mL", "duration": "2 h", "line": "peripheral",
                       "frequency": "q8w", "infusion_number": 4});
    let command = NewOrder::try_from(&order).expect("order command");
    let preview = app
        .preview_order(&prescriber, &command)
        .await
        .expect("preview");
    let overrides: Vec<_> = preview
        .computed
        .warnings()
        .iter()
        .map(|f| json!({"code": f.code, "reason": "reviewed"}))
        .collect();
    order["overrides"] = json!(overrides);
    let command = NewOrder::try_from(&order).expect("order command");
    let created = app
        .create_order(&prescriber, &command, None)
        .await
        .expect("order");
    let id = created.order.id.clone();
    let sign = SignInput::try_from(&json!({})).expect("sign");
    let signed = app
        .sign_order(&prescriber, &id, Some(created.order.version), &sign)
        .await
        .expect("sign");
    let blind = BlindVerification::try_from(
        &json!({"dose": "350 mg", "volume": "250 mL", "rate": "125 mL/h"}),
    )
    .expect("verification");
    let verified = app
        .verify_order(&pharmacist, &id, Some(signed.version), &blind)
        .await
        .expect("verify");
    let preparation = NewPreparation::try_from(&json!({"components": [
            {"product": "infliximab 100 mg vial", "lot": "LOT-L1", "expiry_date": "2099-12-31", "quantity": "350 mg"},
            {"product": "sodium chloride 0.9% 250 mL bag", "lot": "NS-1", "expiry_date": "2099-12-31", "quantity": "250 mL"}],
        "final_volume": "250 mL", "beyond_use_at": "2099-01-01T00:00:00Z"}))
    .expect("preparation command");
    let (prep, _) = app
        .prepare(&technician, &id, Some(verified.order.version), &preparation)
        .await
        .expect("prepare");

    let cookie = sign_in(&r, "pharmacist").await;
    let (status, _, page) = send(
        &r,
        Request::get(format!("/ui/orders/{id}/label"))
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for expected in [
        "Okafor",
        "Grace",
        "MRN51",
        "1979-04-12",
        "inFLIXimab",
        "350 mg",
        "250 mL",
        "sodium chloride 0.9% 250 mL bag",
        "1.4 mg/mL",
        "125 mL/h over 2 h",
        "peripheral line",
        "1.2 micron",
        "Beyond use",
        "Begin the infusion within 3 hours",
        "Tess Tech",
        "not yet checked",
    ] {
        assert!(
            page.contains(expected),
            "{expected} missing from the label: {page}"
        );
    }
    assert!(
        !page.contains("HAZARDOUS"),
        "infliximab is not a hazardous drug"
    );
    assert_eq!(decode_barcode(&page).as_deref(), Some(prep.id.as_str()));
    let _ = std::fs::remove_dir_all(dir);
}
