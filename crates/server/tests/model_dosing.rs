//! Vancomycin from levels to the order in one step (both backends): the fit uses the doses as
//! recorded (each administration's start, stop and the volume infused), a new level refits,
//! and a recommended regimen becomes a draft order with the fit, the target and the regimen
//! in its derivation; a regimen that is not recommended is refused.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use infusio_app::Clock;
use infusio_app::time::iso_from_us;
use infusio_testkit::on_both_backends;

use axum::http::StatusCode;
use serde_json::{Value, json};

const HOUR_US: i64 = 3_600_000_000;

struct Timed {
    h: common::Harness,
    now: Arc<AtomicI64>,
    t0: i64,
}

impl Timed {
    fn at(&self, hours: f64) -> String {
        iso_from_us(self.t0() + (hours * HOUR_US as f64) as i64)
    }
    fn t0(&self) -> i64 {
        self.t0
    }
    fn move_to(&self, hours: f64) {
        self.now.store(
            self.t0() + (hours * HOUR_US as f64) as i64,
            Ordering::SeqCst,
        );
    }
}

async fn timed() -> Timed {
    // Whole seconds, so the instants written back read the same.
    let t0 = infusio_store::now_us() / 1_000_000 * 1_000_000;
    let now = Arc::new(AtomicI64::new(t0));
    let clock = Arc::clone(&now);
    let cfg = infusio_app::AppConfig {
        clock: Clock::from_fn(move || clock.load(Ordering::SeqCst)),
        session_idle_timeout_s: 7 * 24 * 3600,
        session_max_age_s: 7 * 24 * 3600,
        ..common::config()
    };
    let h = common::harness_with(cfg).await;
    Timed { h, now, t0 }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Orders, verifies, prepares and gives one vancomycin dose starting at `start_h`, running
/// `run_h` hours, with `infused_ml` reported; `stopped` ends it early. Returns the order id.
async fn give(t: &Timed, start_h: f64, run_h: f64, infused_ml: f64, stopped: bool) -> String {
    let h = &t.h;
    t.move_to(start_h - 1.0);
    let mut body = json!({"patient_id": h.patient_id, "medication": "vancomycin", "dose_per": "15 mg/kg",
        "route": "iv", "volume": "250 mL", "duration": "2 h", "line": "peripheral", "frequency": "q12h",
        "rounding": {"increment": "250 mg", "tolerance_percent": 10}});
    let p = h
        .call(
            "POST",
            "/api/orders/preview",
            Some("prescriber"),
            Some(body.clone()),
            &[],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    body["overrides"] = Value::Array(
        p.body["computed"]["findings"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f["severity"] == "warning")
            .map(|f| json!({"code": f["code"], "reason": "reviewed on the ward"}))
            .collect(),
    );
    let r = h
        .call("POST", "/api/orders", Some("prescriber"), Some(body), &[])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = text(&r.body["id"]);
    let dose = format!(
        "{} {}",
        r.body["dose"]["value"],
        text(&r.body["dose"]["unit"])
    );
    let rate = r.body["rate_ml_per_h"].as_f64().unwrap_or_default();
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/sign"),
            Some("prescriber"),
            None,
            &[("if-match", &r.etag())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/verify"),
            Some("pharmacist"),
            Some(json!({"dose": dose, "volume": "250 mL", "rate": format!("{rate} mL/h")})),
            &[("if-match", &r.etag())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["outcome"], "verified", "{}", r.body);
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/preparations"),
            Some("pharmacist"),
            Some(json!({"components": [{"product": "vancomycin 1 g vial", "lot": format!("VAN-{start_h}"), "expiry_date": "2099-12-31", "quantity": dose}],
                        "final_volume": "250 mL", "beyond_use_at": "2099-01-01T00:00:00Z"})),
            &[("if-match", &r.etag())],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let bag = text(&r.body["preparation"]["id"]);
    let r = h
        .call(
            "POST",
            "/api/appointments",
            Some("scheduler"),
            Some(json!({"patient_id": h.patient_id, "order_id": id, "chair": format!("bed-{start_h}"),
                        "start_at": t.at(start_h - 0.5), "end_at": t.at(start_h + 3.0)})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    t.move_to(start_h);
    let o = h
        .call(
            "GET",
            &format!("/api/orders/{id}"),
            Some("nurse"),
            None,
            &[],
        )
        .await;
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/administrations"),
            Some("nurse"),
            Some(
                json!({"wristband": "MRN42", "bag": bag, "dose": dose, "route": "iv",
                        "pump": {"rate": format!("{rate} mL/h"), "vtbi": "250 mL"}}),
            ),
            &[("if-match", &o.etag())],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let admin = text(&r.body["administration"]["id"]);
    t.move_to(start_h + run_h);
    let r = h
        .call(
            "POST",
            &format!("/api/administrations/{admin}/events"),
            Some("nurse"),
            Some(json!({"kind": "note", "detail": {"volume_infused_ml": infused_ml}})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let finish = if stopped {
        json!({"outcome": "stopped", "reason": "line occluded; the rest was not given"})
    } else {
        json!({"outcome": "completed"})
    };
    let r = h
        .call(
            "POST",
            &format!("/api/administrations/{admin}/finish"),
            Some("nurse"),
            Some(finish),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    id
}

async fn the_fit_uses_the_doses_as_given_and_a_recommended_regimen_becomes_a_draft_order() {
    let t = timed().await;
    let pid = t.h.patient_id.clone();
    let assess_path = format!("/api/patients/{pid}/vancomycin/assessment");
    // No dose recorded yet: nothing to fit on.
    let r =
        t.h.call(
            "POST",
            &assess_path,
            Some("pharmacist"),
            Some(json!({"levels": [{"at": t.at(0.0), "concentration": "20 mg/L"}]})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["code"], "pk.no_recorded_dose");

    // Dose 1 runs its 2 h in full; dose 2 is stopped after 1 h with half the bag infused.
    let first = give(&t, 1.0, 2.0, 250.0, false).await;
    let second = give(&t, 13.0, 1.0, 125.0, true).await;
    t.move_to(25.0);
    let levels = json!([
        {"at": t.at(15.0), "concentration": "14 mg/L"},
        {"at": t.at(24.5), "concentration": "6 mg/L"}
    ]);
    let r =
        t.h.call(
            "POST",
            &assess_path,
            Some("pharmacist"),
            Some(json!({"levels": levels})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let a = r.body.clone();
    assert_eq!(a["doses"].as_array().map(Vec::len), Some(2), "{a}");
    assert_eq!(a["doses"][0]["order_id"], first.as_str());
    assert_eq!(a["doses"][1]["order_id"], second.as_str());
    assert_eq!(a["doses"][0]["started_at"], t.at(1.0));
    assert_eq!(a["doses"][1]["stopped_at"], t.at(14.0));
    assert_eq!(a["doses"][0]["duration_h"], 2.0);
    assert_eq!(a["doses"][1]["duration_h"], 1.0);
    let ordered = a["doses"][1]["ordered_mg"].as_f64().unwrap_or_default();
    assert!(ordered > 0.0);
    assert_eq!(
        a["doses"][1]["given_mg"].as_f64(),
        Some(ordered / 2.0),
        "{}",
        a["doses"][1]
    );
    assert_eq!(
        a["doses"][0]["given_mg"].as_f64(),
        Some(ordered),
        "{}",
        a["doses"][0]
    );
    assert_eq!(a["origin_at"], t.at(1.0));
    assert_eq!(a["target"]["auc24_low_mg_h_per_l"], 400.0);
    let regimens = a["regimens"].as_array().cloned().unwrap_or_default();
    assert!(!regimens.is_empty(), "{a}");

    // A third level refits on the same doses as given.
    let mut three = levels.clone();
    if let Some(l) = three.as_array_mut() {
        l.push(json!({"at": t.at(21.0), "concentration": "12 mg/L"}));
    }
    let r =
        t.h.call(
            "POST",
            &assess_path,
            Some("pharmacist"),
            Some(json!({"levels": three})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_ne!(
        r.body["fit"]["individual"], a["fit"]["individual"],
        "the new level moved the fit"
    );

    // The first recommended regimen becomes a draft order in one call.
    let best = &regimens[0];
    let regimen = json!({"dose": format!("{} mg", best["dose_mg"]), "every": format!("{} h", best["interval_h"]), "over": format!("{} h", best["duration_h"])});
    let order_path = format!("/api/patients/{pid}/vancomycin/orders");
    let r =
        t.h.call(
            "POST",
            &order_path,
            Some("pharmacist"),
            Some(json!({"levels": levels, "regimen": regimen})),
            &[],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "ordering is the prescriber's: {}",
        r.body
    );
    // A regimen the fit does not recommend is refused, naming the recommended ones.
    let r = t
        .h
        .call(
            "POST",
            &order_path,
            Some("prescriber"),
            Some(json!({"levels": levels, "regimen": {"dose": "3750 mg", "every": "8 h", "over": "1 h"}})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "regimen");
    let mut body = json!({"levels": levels, "regimen": regimen, "line": "peripheral"});
    let r =
        t.h.call(
            "POST",
            &order_path,
            Some("prescriber"),
            Some(body.clone()),
            &[],
        )
        .await;
    if r.status == StatusCode::UNPROCESSABLE_ENTITY && r.body["code"] == "order.override_required" {
        // The recommended dose raised warnings: the prescriber overrides them with a reason.
        body["overrides"] = Value::Array(
            r.body["findings"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|f| json!({"code": f["code"], "reason": "AUC-guided regimen from levels"}))
                .collect(),
        );
    }
    let r =
        t.h.call("POST", &order_path, Some("prescriber"), Some(body), &[])
            .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["status"], "draft");
    assert_eq!(r.body["medication"], "vancomycin");
    assert_eq!(r.body["dose"]["value"], best["dose_mg"]);
    assert_eq!(
        r.body["request"]["frequency"],
        format!("q{}h", best["interval_h"].as_f64().unwrap_or_default())
    );
    let origin = &r.body["derivation"]["origin"];
    assert_eq!(origin["kind"], "model_informed", "{origin}");
    assert_eq!(origin["chosen"], *best);
    assert_eq!(origin["assessment"]["doses"], a["doses"]);
    assert_eq!(origin["assessment"]["model"], "vancomycin-goti-2018");
    assert!(
        origin["volume_step"]["description"]
            .as_str()
            .unwrap_or_default()
            .contains("5 mg/mL")
    );
    let report = t.h.app.store().verify_audit().await.expect("verify");
    assert!(report.intact(), "{report:?}");
}

on_both_backends!(the_fit_uses_the_doses_as_given_and_a_recommended_regimen_becomes_a_draft_order,);
