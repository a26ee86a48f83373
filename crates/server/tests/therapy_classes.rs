//! One order of each therapy class end to end through the API, on SQLite and PostgreSQL:
//! create (dose from the engine, warnings overridden with a reason), sign, blind verification
//! with the pharmacist's own figures, preparation from a lot, booking, the bedside scan (five
//! rights, pump programme, a second nurse for high-alert drugs), completion; the lot traces
//! back to the patient and the audit chain is intact.

mod common;

use infusio_testkit::on_both_backends;

use axum::http::StatusCode;
use infusio_app::App;
use infusio_store::Change;
use infusio_store::records::Order;
use serde_json::{Value, json};

/// A patient of the class: MRN, weight, height; the order (without patient_id); the product
/// and lot prepared.
struct Case {
    class: &'static str,
    mrn: &'static str,
    weight: &'static str,
    height: &'static str,
    order: Value,
    product: &'static str,
    lot: &'static str,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            class: "biologic",
            mrn: "TC-BIO",
            weight: "90 kg",
            height: "183 cm",
            order: json!({"medication": "rituximab", "dose_per": "375 mg/m2", "route": "iv", "volume": "500 mL", "duration": "4 h", "line": "peripheral", "frequency": "once", "infusion_number": 1}),
            product: "rituximab 500 mg vial",
            lot: "TC-RTX-1",
        },
        Case {
            class: "chemotherapy (mg/m2)",
            mrn: "TC-CHEMO",
            weight: "74 kg",
            height: "170 cm",
            order: json!({"medication": "oxaliplatin", "dose_per": "85 mg/m2", "route": "iv", "volume": "500 mL", "duration": "2 h", "line": "peripheral", "frequency": "q14d"}),
            product: "oxaliplatin 100 mg vial",
            lot: "TC-OXA-1",
        },
        Case {
            class: "anti-infective",
            mrn: "TC-VANC",
            weight: "74 kg",
            height: "160 cm",
            order: json!({"medication": "vancomycin", "dose_per": "15 mg/kg", "route": "iv", "volume": "250 mL", "duration": "2 h", "line": "peripheral", "frequency": "q12h", "rounding": {"increment": "250 mg", "tolerance_percent": 10}}),
            product: "vancomycin 1 g vial",
            lot: "TC-VAN-1",
        },
        Case {
            class: "immune globulin",
            mrn: "TC-IVIG",
            weight: "55 kg",
            height: "158 cm",
            order: json!({"medication": "immune-globulin", "dose_per": "0.4 g/kg", "route": "iv", "volume": "220 mL", "duration": "3 h", "frequency": "q28d"}),
            product: "immune globulin 10% 10 g",
            lot: "TC-IG-1",
        },
        Case {
            class: "fluids and electrolytes",
            mrn: "TC-KCL",
            weight: "77 kg",
            height: "175 cm",
            order: json!({"medication": "potassium-chloride", "dose": "20 mEq", "route": "iv", "volume": "100 mL", "duration": "2 h", "line": "central"}),
            product: "potassium chloride 20 mEq/100 mL",
            lot: "TC-KCL-1",
        },
        Case {
            class: "parenteral nutrition (amino acids)",
            mrn: "TC-PN",
            weight: "70 kg",
            height: "175 cm",
            order: json!({"medication": "amino-acids", "dose_per": "1.2 g/kg", "route": "iv", "volume": "1000 mL", "duration": "24 h", "line": "central", "frequency": "q24h"}),
            product: "amino acids 10% 1000 mL",
            lot: "TC-AA-1",
        },
        Case {
            class: "iron",
            mrn: "TC-IRON",
            weight: "61 kg",
            height: "162 cm",
            order: json!({"medication": "iron-sucrose", "dose": "200 mg", "route": "iv", "volume": "100 mL", "duration": "30 min", "frequency": "once"}),
            product: "iron sucrose 200 mg/10 mL",
            lot: "TC-FE-1",
        },
        Case {
            class: "clotting factor",
            mrn: "TC-F8",
            weight: "70 kg",
            height: "180 cm",
            order: json!({"medication": "factor-viii", "dose": "1750 units", "route": "iv", "volume": "10 mL", "duration": "10 min", "frequency": "once"}),
            product: "factor VIII 1000 units",
            lot: "TC-F8-1",
        },
    ]
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// `{"value": 350.0, "unit": "mg"}` → "350 mg".
fn amount(v: &Value) -> String {
    let n = v["value"].as_f64().unwrap_or(f64::NAN);
    format!("{n} {}", text(&v["unit"]))
}

/// An order verified before the titration schedule was stored with the order has a programme
/// without it. Opening the application again (a start-up) stores it, computed as at
/// verification: the same programme as if it had been stored then. Returns the order's new
/// ETag.
async fn schedule_backfilled_at_start_up(h: &common::Harness, id: &str) -> String {
    let store = h.app.store().clone();
    let read = async || {
        store
            .get::<Order>(id)
            .await
            .expect("read the order")
            .expect("the order exists")
    };
    let verified = read().await;
    let mut row = verified.data.clone();
    if let Some(m) = row.pump_programme_json.as_object_mut() {
        for key in ["titration", "titration_error", "titration_schedule"] {
            m.remove(key);
        }
    }
    let mut tx = store.begin().await.expect("begin");
    tx.update(&Change::by("test", "system"), id, verified.version, row)
        .await
        .expect("store the programme as an earlier version did");
    tx.commit().await.expect("commit");
    assert!(
        read()
            .await
            .data
            .pump_programme_json
            .get("titration")
            .is_none()
    );

    let reopened = App::open(
        store.clone(),
        infusio_app::library::builtin().expect("library"),
        common::config(),
    )
    .await
    .expect("the application opens");
    let repaired = read().await;
    assert_eq!(
        repaired.data.pump_programme_json, verified.data.pump_programme_json,
        "the schedule stored at start-up is the one verification stored"
    );
    assert_eq!(repaired.version, verified.version + 2);
    // A second start finds nothing to repair.
    drop(reopened);
    App::open(
        store.clone(),
        infusio_app::library::builtin().expect("library"),
        common::config(),
    )
    .await
    .expect("the application opens again");
    assert_eq!(read().await.version, repaired.version);
    format!("\"{}\"", repaired.version)
}

async fn run_case(h: &common::Harness, c: &Case) {
    let what = c.class;
    let p = h
        .call(
            "POST",
            "/api/patients",
            Some("scheduler"),
            Some(json!({"mrn": c.mrn, "family_name": "Class", "given_name": what, "birth_date": "1970-06-15", "sex": "female"})),
            &[],
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{what}: {}", p.body);
    let pid = text(&p.body["id"]);
    for body in [
        json!({"kind": "weight", "value": c.weight, "source": "scale"}),
        json!({"kind": "height", "value": c.height}),
    ] {
        let r = h
            .call(
                "POST",
                &format!("/api/patients/{pid}/measurements"),
                Some("nurse"),
                Some(body),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{what}: {}", r.body);
    }
    for (name, value) in [
        ("serum_creatinine", "0.9 mg/dL"),
        ("anc", "3.1 10*9/L"),
        ("platelets", "220 10*9/L"),
        ("hemoglobin", "12.8 g/dL"),
        ("potassium", "4.1 mEq/L"),
        ("sodium", "139 mEq/L"),
        ("bilirubin", "0.6 mg/dL"),
        ("ast", "24 units/L"),
        ("alt", "22 units/L"),
    ] {
        let r = h
            .call(
                "POST",
                &format!("/api/patients/{pid}/labs"),
                Some("nurse"),
                Some(json!({"name": name, "value": value})),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{what}: {}", r.body);
    }

    // Preview, then create with every warning overridden (a hard stop would fail here).
    let mut body = c.order.clone();
    body["patient_id"] = json!(pid);
    let preview = h
        .call(
            "POST",
            "/api/orders/preview",
            Some("prescriber"),
            Some(body.clone()),
            &[],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{what}: {}", preview.body);
    let findings = preview.body["computed"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !findings.iter().any(|f| f["severity"] == "hard_stop"),
        "{what}: a typical order raised a hard stop: {findings:?}"
    );
    body["overrides"] = Value::Array(
        findings
            .iter()
            .filter(|f| f["severity"] == "warning")
            .map(|f| json!({"code": f["code"], "reason": "reviewed in clinic"}))
            .collect(),
    );
    let r = h
        .call("POST", "/api/orders", Some("prescriber"), Some(body), &[])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{what}: {}", r.body);
    assert_eq!(r.body["medication"], c.order["medication"], "{what}");
    assert!(
        r.body["derivation"]["dose_calculation"]["steps"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{what}: the dose carries its derivation: {}",
        r.body
    );
    let id = text(&r.body["id"]);
    let dose = amount(&r.body["dose"]);
    let volume = r.body["volume_ml"].as_f64();
    let rate = r.body["rate_ml_per_h"].as_f64();
    let high_alert = r.body["high_alert"] == true;

    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/sign"),
            Some("prescriber"),
            None,
            &[("if-match", &format!("\"{}\"", r.body["version"]))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.body);
    assert_eq!(r.body["status"], "signed", "{what}");

    // Blind verification with the pharmacist's own figures (re-derived to the same numbers).
    let mut blind = json!({"dose": dose});
    if let Some(v) = volume {
        blind["volume"] = json!(format!("{v} mL"));
    }
    if let Some(x) = rate {
        blind["rate"] = json!(format!("{x} mL/h"));
    }
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/verify"),
            Some("pharmacist"),
            Some(blind),
            &[("if-match", &r.etag())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.body);
    assert_eq!(r.body["outcome"], "verified", "{what}: {}", r.body);
    let mut etag = r.etag();
    // The titration schedule of a titrated drug is computed once, at verification, and kept
    // with the order; a drug without one gets none.
    let medication = c.order["medication"].as_str().unwrap_or_default();
    let titrated = h
        .app
        .library()
        .get(medication)
        .is_some_and(|e| !e.titration.is_empty());
    let programme = &r.body["order"]["pump_programme"];
    assert_eq!(
        programme.get("titration").is_some() || programme.get("titration_error").is_some(),
        titrated,
        "{what}: {programme}"
    );
    if titrated {
        assert_eq!(
            programme["titration"]["calculator"], "titration",
            "{what}: {programme}"
        );
        assert!(
            programme["titration"]["pump_steps"]
                .as_array()
                .is_some_and(|s| s.len() > 1),
            "{what}: {programme}"
        );
        etag = schedule_backfilled_at_start_up(h, &id).await;
    }

    let mut prep = json!({"components": [{"product": c.product, "lot": c.lot, "expiry_date": "2099-12-31", "quantity": dose}],
                          "beyond_use_at": "2099-01-01T00:00:00Z"});
    if let Some(v) = volume {
        prep["final_volume"] = json!(format!("{v} mL"));
    }
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/preparations"),
            Some("pharmacist"),
            Some(prep),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{what}: {}", r.body);
    assert_eq!(r.body["order"]["status"], "prepared", "{what}");
    let bag = text(&r.body["preparation"]["id"]);

    let now = infusio_store::now_us();
    let start = infusio_app::time::iso_from_us(now - 5 * 60 * 1_000_000);
    let end = infusio_app::time::iso_from_us(now + 25 * 3600 * 1_000_000);
    let r = h
        .call(
            "POST",
            "/api/appointments",
            Some("scheduler"),
            Some(json!({"patient_id": pid, "order_id": id, "chair": format!("chair-{}", c.mrn), "start_at": start, "end_at": end})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{what}: {}", r.body);
    let r = h
        .call(
            "GET",
            &format!("/api/orders/{id}"),
            Some("nurse"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.body["status"], "scheduled", "{what}");
    let pump = &r.body["pump_programme"];
    // A titrated order starts at its schedule's first step (the labelled start rate).
    let start_rate = pump["titration"]["pump_steps"][0]["rate_ml_per_h"]
        .as_f64()
        .or(rate)
        .unwrap_or(0.0);
    let mut scan = json!({"wristband": c.mrn, "bag": bag, "dose": dose, "route": "iv",
        "pump": {"rate": format!("{start_rate} mL/h"), "vtbi": format!("{} mL", volume.unwrap_or(0.0))}});
    if high_alert {
        scan["second_nurse"] = json!({"username": "nurse2", "password": common::PASSWORD});
    }
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/administrations"),
            Some("nurse"),
            Some(scan),
            &[("if-match", &r.etag())],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "{what}: {} (pump programme {pump})",
        r.body
    );
    assert_eq!(r.body["order"]["status"], "in_progress", "{what}");
    let admin_id = text(&r.body["administration"]["id"]);
    let r = h
        .call(
            "POST",
            &format!("/api/administrations/{admin_id}/events"),
            Some("nurse"),
            Some(json!({"kind": "vitals", "detail": {"heart_rate_per_min": 76}})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{what}: {}", r.body);
    let r = h
        .call(
            "POST",
            &format!("/api/administrations/{admin_id}/finish"),
            Some("nurse"),
            // Completed as soon as it started: the pump shows what ran (1 mL), recorded as
            // given; a full bag cannot have run in that time.
            Some(json!({"outcome": "completed", "volume_infused": "1 mL"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.body);
    assert_eq!(r.body["order"]["status"], "completed", "{what}");

    let r = h
        .call(
            "GET",
            &format!("/api/lots/{}", c.lot),
            Some("pharmacist"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.body);
    assert!(
        r.body
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["patient_id"] == pid.as_str())),
        "{what}: lot {} does not trace to the patient: {}",
        c.lot,
        r.body
    );
}

async fn one_order_of_each_therapy_class_runs_from_prescription_to_completion() {
    let h = common::harness().await;
    let cases = cases();
    for c in &cases {
        run_case(&h, c).await;
    }
    let r = h
        .call("GET", "/api/audit/verify", Some("admin"), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["broken"].is_null(), "{}", r.body);
    // Each class: ≥ 13 writes (patient, 2 measurements, 9 labs, order, sign, verify, …).
    assert!(
        r.body["events_verified"]
            .as_i64()
            .is_some_and(|n| n > 20 * cases.len() as i64),
        "{}",
        r.body
    );
}

on_both_backends!(one_order_of_each_therapy_class_runs_from_prescription_to_completion);
