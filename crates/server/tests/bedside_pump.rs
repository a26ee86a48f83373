//! Smart-pump checks at the bedside through the API, on SQLite and PostgreSQL: every rate
//! change, titration step and bolus is checked against the drug library's rate limits for the
//! drug, line and care area (the limits of the order check, re-run by the core engine), and a
//! titration step against the schedule verified with the order. Vital signs are read with
//! their units and plausibility ranges.
//!
//! Sources of the cases (each limit as the library cites it):
//! - rituximab: RITUXAN US prescribing information, section 2.1 — first infusion 50 mg/h,
//!   +50 mg/h every 30 min to at most 400 mg/h (library `rituximab`, source `rituxan-pi`);
//! - potassium chloride: at most 10 mEq/h on a peripheral line (library `potassium-chloride`,
//!   institutional default pending pharmacist review); elsewhere in an adult infusion area the
//!   label's usual 10 mEq/h (soft) and 40 mEq/h (hard) (`kcl-pi`).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::http::StatusCode;
use infusio_app::Clock;
use infusio_testkit::on_both_backends;
use serde_json::{Value, json};

const MIN_US: i64 = 60 * 1_000_000;

/// A harness whose application clock the test moves on.
async fn harness() -> (common::Harness, Arc<AtomicI64>) {
    let now = Arc::new(AtomicI64::new(infusio_store::now_us()));
    let read = now.clone();
    let cfg = infusio_app::AppConfig {
        clock: Clock::from_fn(move || read.load(Ordering::SeqCst)),
        ..common::config()
    };
    (common::harness_with(cfg).await, now)
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// An infusion running for the harness's patient (70 kg, 165 cm): the order created with its
/// warnings overridden, signed, verified with the prescriber's figures, prepared and started
/// at the programme's first rate, without an appointment. Returns (order id, administration
/// id, the order's pump programme).
async fn running(h: &common::Harness, order: Value, product: &str) -> (String, String, Value) {
    let mut body = order;
    body["patient_id"] = json!(h.patient_id);
    let preview = h
        .call(
            "POST",
            "/api/orders/preview",
            Some("prescriber"),
            Some(body.clone()),
            &[],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    let findings = preview.body["computed"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !findings.iter().any(|f| f["severity"] == "hard_stop"),
        "{findings:?}"
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
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = text(&r.body["id"]);
    let dose = format!(
        "{} {}",
        r.body["dose"]["value"],
        text(&r.body["dose"]["unit"])
    );
    let volume = r.body["volume_ml"].as_f64().expect("a bag order");
    let rate = r.body["rate_ml_per_h"].as_f64().expect("a rate");
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
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = h
        .call("POST", &format!("/api/orders/{id}/verify"), Some("pharmacist"),
              Some(json!({"dose": dose, "volume": format!("{volume} mL"), "rate": format!("{rate} mL/h")})),
              &[("if-match", &r.etag())])
        .await;
    assert_eq!(r.body["outcome"], "verified", "{}", r.body);
    let programme = r.body["order"]["pump_programme"].clone();
    let r = h
        .call("POST", &format!("/api/orders/{id}/preparations"), Some("pharmacist"),
              Some(json!({"components": [{"product": product, "lot": "BP-1", "expiry_date": "2099-12-31", "quantity": dose}],
                          "final_volume": format!("{volume} mL"), "beyond_use_at": "2099-01-01T00:00:00Z"})),
              &[("if-match", &r.etag())])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let bag = text(&r.body["preparation"]["id"]);
    let start = programme["titration"]["pump_steps"][0]["rate_ml_per_h"]
        .as_f64()
        .unwrap_or(rate);
    let mut scan = json!({"wristband": "MRN42", "bag": bag, "dose": dose, "route": "iv",
                          "pump": {"rate": format!("{start} mL/h"), "vtbi": format!("{volume} mL")}});
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
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (id, text(&r.body["administration"]["id"]), programme)
}

async fn event(h: &common::Harness, admin: &str, body: Value) -> common::Reply {
    h.call(
        "POST",
        &format!("/api/administrations/{admin}/events"),
        Some("nurse"),
        Some(body),
        &[],
    )
    .await
}

fn codes(r: &common::Reply) -> Vec<String> {
    r.body["findings"]
        .as_array()
        .map(|f| f.iter().map(|x| text(&x["code"])).collect())
        .unwrap_or_default()
}

fn rituximab_first() -> Value {
    json!({"medication": "rituximab", "dose_per": "375 mg/m2", "route": "iv", "volume": "500 mL",
           "duration": "4 h", "line": "peripheral", "frequency": "once", "infusion_number": 1,
           "indication": "nhl-cll"})
}

async fn rituximab_first_infusion_starts_at_the_labelled_rate_and_climbs_step_by_step() {
    let (h, clock) = harness().await;
    // Started at the label's 50 mg/h (the first pump step), not at the average rate.
    let (_, admin, programme) = running(&h, rituximab_first(), "rituximab 500 mg vial").await;
    let steps = programme["titration"]["pump_steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(steps.len() >= 7, "{programme}");
    assert_eq!(steps[0]["dose_rate"]["value"], 50.0);
    // Every step at its time: no finding, no override needed (label: +50 mg/h every 30 min).
    for s in &steps[1..] {
        clock.fetch_add(30 * MIN_US, Ordering::SeqCst);
        let rate = s["rate_ml_per_h"].as_f64().unwrap_or_default();
        let r = event(
            &h,
            &admin,
            json!({"kind": "titration", "rate": format!("{rate} mL/h")}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "step {s}: {}", r.body);
        assert_eq!(
            r.body["detail_json"]["limit_checks"]["overrides"],
            json!([]),
            "{}",
            r.body
        );
    }
    // 1,500 mL/h is above the label's 400 mg/h: refused, naming the limit and its source.
    let r = event(
        &h,
        &admin,
        json!({"kind": "rate_change", "rate": "1500 mL/h"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["code"], "pump.hard_limit");
    assert_eq!(codes(&r), ["rate.above_hard_max"]);
    let detail = text(&r.body["detail"]);
    assert!(
        detail.contains("400 mg/h") && detail.contains("rituxan-pi"),
        "{detail}"
    );
    // An override reason does not lift a hard limit.
    let r = event(
        &h,
        &admin,
        json!({"kind": "rate_change", "rate": "1500 mL/h",
        "overrides": [{"code": "rate.above_hard_max", "reason": "prescriber asked"}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
}

async fn a_step_taken_early_needs_a_reason_and_a_reaction_hold_pauses_the_schedule() {
    let (h, clock) = harness().await;
    let (_, admin, programme) = running(&h, rituximab_first(), "rituximab 500 mg vial").await;
    let rate = |k: usize| {
        programme["titration"]["pump_steps"][k]["rate_ml_per_h"]
            .as_f64()
            .unwrap_or_default()
    };
    // 10 minutes in, the next step is early: a soft limit that needs a reason.
    clock.fetch_add(10 * MIN_US, Ordering::SeqCst);
    let step = json!({"kind": "titration", "rate": format!("{} mL/h", rate(1))});
    let r = event(&h, &admin, step.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["code"], "pump.override_required");
    assert_eq!(codes(&r), ["titration.step_early"]);
    let mut with_reason = step;
    with_reason["overrides"] = json!([{"code": "titration.step_early", "reason": "prescriber at the chair, tolerating well"}]);
    let r = event(&h, &admin, with_reason).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // Skipping a step is ahead of the schedule.
    clock.fetch_add(30 * MIN_US, Ordering::SeqCst);
    let r = event(
        &h,
        &admin,
        json!({"kind": "titration", "rate": format!("{} mL/h", rate(3))}),
    )
    .await;
    assert_eq!(codes(&r), ["titration.ahead_of_schedule"], "{}", r.body);
    // A reaction: the pump is held (0 mL/h) and resumed at half the rate 30 min later.
    let r = event(
        &h,
        &admin,
        json!({"kind": "reaction", "grade": 2, "detail": {"symptoms": "rigors"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = event(&h, &admin, json!({"kind": "rate_change", "rate": "0 mL/h"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    clock.fetch_add(30 * MIN_US, Ordering::SeqCst);
    let half = rate(1) / 2.0;
    let r = event(
        &h,
        &admin,
        json!({"kind": "titration", "rate": format!("{half} mL/h")}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "resume at half the rate: {}",
        r.body
    );
    // The timer restarts from the resume, not from the start: 10 min later is early.
    clock.fetch_add(10 * MIN_US, Ordering::SeqCst);
    let r = event(
        &h,
        &admin,
        json!({"kind": "titration", "rate": format!("{} mL/h", rate(1))}),
    )
    .await;
    assert_eq!(codes(&r), ["titration.step_early"], "{}", r.body);
    clock.fetch_add(20 * MIN_US, Ordering::SeqCst);
    let r = event(
        &h,
        &admin,
        json!({"kind": "titration", "rate": format!("{} mL/h", rate(1))}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

async fn potassium_chloride_rates_follow_the_line() {
    let (h, _) = harness().await;
    // 10 mEq in 100 mL over 1 h on a peripheral line: 10 mEq/h, the standard.
    let order = json!({"medication": "potassium-chloride", "dose": "10 mEq", "route": "iv",
                       "volume": "100 mL", "duration": "1 h", "line": "peripheral"});
    let (_, admin, _) = running(&h, order, "potassium chloride 10 mEq/100 mL").await;
    let r = event(
        &h,
        &admin,
        json!({"kind": "rate_change", "rate": "100 mL/h"}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "10 mEq/h peripheral: {}",
        r.body
    );
    // 40 mEq/h on a peripheral line: refused, the peripheral limit named.
    let r = event(
        &h,
        &admin,
        json!({"kind": "rate_change", "rate": "400 mL/h"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["code"], "pump.hard_limit");
    let detail = text(&r.body["detail"]);
    assert!(
        detail.contains("40 mEq/h") && detail.contains("peripheral"),
        "{detail}"
    );
    // A bolus is checked at its rate too.
    let r = event(
        &h,
        &admin,
        json!({"kind": "bolus", "rate": "400 mL/h", "volume": "20 mL"}),
    )
    .await;
    assert_eq!(r.body["code"], "pump.hard_limit", "{}", r.body);
}

async fn a_soft_limit_on_a_central_line_needs_a_reason_kept_in_the_audit() {
    let (h, _) = harness().await;
    // Central line in an adult infusion area: usual 10 mEq/h, at most 40 mEq/h (kcl-pi).
    let order = json!({"medication": "potassium-chloride", "dose": "20 mEq", "route": "iv",
                       "volume": "100 mL", "duration": "2 h", "line": "central"});
    let (_, admin, _) = running(&h, order, "potassium chloride 20 mEq/100 mL").await;
    let r = event(
        &h,
        &admin,
        json!({"kind": "rate_change", "rate": "75 mL/h"}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "15 mEq/h: {}",
        r.body
    );
    assert_eq!(r.body["code"], "pump.override_required");
    assert_eq!(codes(&r), ["rate.above_soft_max"]);
    let reason = "serum K 2.6 mmol/L, ECG monitored, prescriber aware";
    let r = event(
        &h,
        &admin,
        json!({"kind": "rate_change", "rate": "75 mL/h",
        "overrides": [{"code": "rate.above_soft_max", "reason": reason}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let event_id = text(&r.body["id"]);
    let mut tx = h.app.store().begin_snapshot().await.expect("tx");
    let rows = tx.audit_events_of(&event_id).await.expect("audit rows");
    assert!(
        rows.iter()
            .any(|e| e.reason.as_deref().is_some_and(|r| r.contains(reason))),
        "{rows:?}"
    );
}

async fn vital_signs_carry_units_and_plausibility_ranges() {
    let (h, _) = harness().await;
    let (_, admin, _) = running(&h, common_infliximab(), "Remicade 100 mg vial").await;
    // 98.6 in the °C field is refused naming the field and the range.
    let r = event(
        &h,
        &admin,
        json!({"kind": "vitals", "detail": {"temperature": "98.6"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "detail.temperature");
    assert!(
        text(&r.body["detail"]).contains("25 to 45 °C"),
        "{}",
        r.body
    );
    // With an explicit °F it is converted.
    let r = event(
        &h,
        &admin,
        json!({"kind": "vitals", "detail": {"temperature": "98.6 °F", "bp": "118/76"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["detail_json"]["temperature_c"], 37.0);
    assert_eq!(r.body["detail_json"]["systolic_mmhg"], 118.0);
}

fn common_infliximab() -> Value {
    json!({"medication": "infliximab", "dose_per": "5 mg/kg", "route": "iv", "volume": "250 mL",
           "duration": "2 h", "line": "peripheral", "frequency": "q8w", "infusion_number": 4})
}

/// A titrated order names its schedule among the library's for its infusion number; the
/// verified programme is that schedule's, and the bedside starts at its first step
/// (RITUXAN label: later infusions 100 mg/h, +100 mg/h every 30 min to 400 mg/h).
async fn a_titrated_order_names_its_schedule_and_the_bedside_uses_it() {
    let (h, _) = harness().await;
    let mut order = rituximab_first();
    order["infusion_number"] = json!(2);
    order["titration"] = json!("first-infusion");
    order["patient_id"] = json!(h.patient_id);
    let r = h
        .call(
            "POST",
            "/api/orders/preview",
            Some("prescriber"),
            Some(order.clone()),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "titration");
    assert!(
        text(&r.body["detail"]).contains("subsequent-infusions"),
        "{}",
        r.body
    );
    order["titration"] = json!("subsequent-infusions");
    let (_, _, programme) = running(&h, order, "rituximab 500 mg vial").await;
    assert_eq!(
        programme["titration_schedule"]["id"],
        "subsequent-infusions"
    );
    assert!(
        text(&programme["titration_schedule"]["chosen_by"])
            .starts_with("ordered by the prescriber"),
        "{programme}"
    );
    assert_eq!(
        programme["titration"]["pump_steps"][0]["dose_rate"]["value"],
        100.0
    );
}

on_both_backends!(
    a_titrated_order_names_its_schedule_and_the_bedside_uses_it,
    rituximab_first_infusion_starts_at_the_labelled_rate_and_climbs_step_by_step,
    a_step_taken_early_needs_a_reason_and_a_reaction_hold_pauses_the_schedule,
    potassium_chloride_rates_follow_the_line,
    a_soft_limit_on_a_central_line_needs_a_reason_kept_in_the_audit,
    vital_signs_carry_units_and_plausibility_ranges,
);
