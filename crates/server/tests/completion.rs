//! The end of an infusion through the API, on SQLite and PostgreSQL: completing records the
//! volume infused (the nurse's reading or the pump's last report) and the dose given, pro rata
//! of the ordered dose with its derivation; a partial infusion is a partial dose in the
//! cumulative ledger; completing a long infusion after a few minutes without a volume is
//! refused; "stop this infusion" and "discontinue the order" are different actions.
//!
//! The order is the harness's infliximab 5 mg/kg for 70 kg: 350 mg in 250 mL over 2 h at
//! 125 mL/h (infliximab label: infuse over a period of not less than 2 hours).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::http::StatusCode;
use infusio_app::{Actor, Clock};
use infusio_store::Role;
use infusio_testkit::on_both_backends;
use serde_json::{Value, json};

const MIN_US: i64 = 60 * 1_000_000;

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

/// Prepares the verified infliximab order and starts it at 125 mL/h; returns (order id,
/// administration id).
async fn started(h: &common::Harness) -> (String, String) {
    let (id, bag, etag) = prepared(h).await;
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/administrations"),
            Some("nurse"),
            Some(scan(&bag, None)),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (id, text(&r.body["administration"]["id"]))
}

fn scan(bag: &str, time_override_reason: Option<&str>) -> Value {
    let mut s = json!({"wristband": "MRN42", "bag": bag, "dose": "350 mg", "route": "iv",
                       "pump": {"rate": "125 mL/h", "vtbi": "250 mL"}});
    if let Some(r) = time_override_reason {
        s["time_override_reason"] = json!(r);
    }
    s
}

/// The verified infliximab order prepared: (order id, bag id, etag).
async fn prepared(h: &common::Harness) -> (String, String, String) {
    let (id, etag) = h.verified().await;
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/preparations"),
            Some("technician"),
            Some(json!({"components": [{"product": "Remicade 100 mg vial", "lot": "C-1", "expiry_date": "2099-12-31", "quantity": "350 mg"}],
                        "final_volume": "250 mL", "beyond_use_at": "2099-01-01T00:00:00Z"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let bag = text(&r.body["preparation"]["id"]);
    (id, bag, r.etag())
}

async fn finish(h: &common::Harness, admin: &str, body: Value) -> common::Reply {
    h.call(
        "POST",
        &format!("/api/administrations/{admin}/finish"),
        Some("nurse"),
        Some(body),
        &[],
    )
    .await
}

async fn ledger(h: &common::Harness) -> Vec<(String, f64)> {
    let nurse = Actor {
        user_id: String::new(),
        username: "nurse".into(),
        display_name: "nurse".into(),
        roles: vec![Role::Nurse],
    };
    h.app
        .cumulative_doses(&nurse, &h.patient_id)
        .await
        .expect("ledger")
        .into_iter()
        .map(|c| (c.medication, c.total))
        .collect()
}

async fn a_full_bag_over_its_time_is_the_ordered_dose() {
    let (h, clock) = harness().await;
    let (_, admin) = started(&h).await;
    clock.fetch_add(120 * MIN_US, Ordering::SeqCst);
    let r = finish(
        &h,
        &admin,
        json!({"outcome": "completed", "volume_infused": "250 mL"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["order"]["status"], "completed");
    let given = &r.body["administration"]["pump_programme_json"]["completion"];
    assert_eq!(given["dose_given"], 350.0, "{given}");
    assert_eq!(given["partial"], false);
    assert_eq!(given["volume_source"], "nurse");
    assert_eq!(ledger(&h).await, [("infliximab".to_string(), 350.0)]);
}

async fn completing_a_two_hour_infusion_after_four_minutes_is_refused_without_a_plausible_volume() {
    let (h, clock) = harness().await;
    let (_, admin) = started(&h).await;
    clock.fetch_add(4 * MIN_US, Ordering::SeqCst);
    // No volume: refused, naming the field.
    let r = finish(&h, &admin, json!({"outcome": "completed"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "volume_infused");
    // The whole bag cannot have run at 125 mL/h in 4 minutes.
    let r = finish(
        &h,
        &admin,
        json!({"outcome": "completed", "volume_infused": "250 mL"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        text(&r.body["detail"]).contains("cannot have run in 4 min"),
        "{}",
        r.body
    );
    assert!(ledger(&h).await.is_empty());
    // Nothing was recorded: the infusion still runs, and what the pump shows (8 mL) is
    // accepted as a partial dose: 350 mg × 8 / 250 mL = 11.2 mg.
    let r = finish(
        &h,
        &admin,
        json!({"outcome": "completed", "volume_infused": "8 mL"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let given = &r.body["administration"]["pump_programme_json"]["completion"];
    assert_eq!(given["partial"], true, "{given}");
    let total = ledger(&h).await[0].1;
    assert!((total - 11.2).abs() < 1e-9, "{total}");
}

async fn stopping_the_infusion_records_a_partial_dose_and_keeps_the_order() {
    let (h, clock) = harness().await;
    let (id, admin) = started(&h).await;
    clock.fetch_add(60 * MIN_US, Ordering::SeqCst);
    // A stop needs a reason.
    let r = finish(
        &h,
        &admin,
        json!({"outcome": "stopped", "volume_infused": "100 mL"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "reason");
    let r = finish(
        &h,
        &admin,
        json!({"outcome": "stopped", "volume_infused": "100 mL", "reason": "infiltration at the cannula site"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["administration"]["status"], "stopped");
    // The order is not discontinued: it can be given again with a new bag.
    assert_eq!(r.body["order"]["status"], "verified");
    let given = &r.body["administration"]["pump_programme_json"]["completion"];
    // 350 mg × 100 / 250 mL = 140 mg.
    assert_eq!(given["dose_given"], 140.0, "{given}");
    assert_eq!(given["partial"], true);
    assert_eq!(
        given["steps"][1]["formula"],
        "ordered dose × fraction infused"
    );
    assert_eq!(ledger(&h).await, [("infliximab".to_string(), 140.0)]);
    let mut tx = h.app.store().begin_snapshot().await.expect("tx");
    let rows = tx.audit_events_of(&id).await.expect("audit rows");
    assert!(
        rows.iter().any(|e| e.action == "order.infusion_stopped"),
        "{rows:?}"
    );
    assert!(!rows.iter().any(|e| e.action == "order.discontinued"));
}

async fn discontinuing_the_order_stops_the_infusion_and_the_order() {
    let (h, clock) = harness().await;
    let (_, admin) = started(&h).await;
    clock.fetch_add(30 * MIN_US, Ordering::SeqCst);
    let r = finish(
        &h,
        &admin,
        json!({"outcome": "discontinued", "volume_infused": "60 mL", "reason": "anaphylaxis, grade 3"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["administration"]["status"], "stopped");
    assert_eq!(r.body["order"]["status"], "discontinued");
    assert_eq!(ledger(&h).await, [("infliximab".to_string(), 84.0)]);
}

async fn the_pump_reported_volume_is_used_when_the_nurse_gives_none() {
    let (h, clock) = harness().await;
    let (_, admin) = started(&h).await;
    clock.fetch_add(120 * MIN_US, Ordering::SeqCst);
    // A note carrying the pump's reading, as a pump event records it.
    let r = h
        .call(
            "POST",
            &format!("/api/administrations/{admin}/events"),
            Some("nurse"),
            Some(json!({"kind": "note", "detail": {"source": "pump", "volume_infused_ml": 245.0}})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = finish(&h, &admin, json!({"outcome": "completed"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let given = &r.body["administration"]["pump_programme_json"]["completion"];
    assert_eq!(given["volume_source"], "pump");
    assert_eq!(given["dose_given"], 343.0, "{given}");
}

/// Without an appointment the order's own window applies (24 h from its signature,
/// institutional); outside it a start needs a reason, which the audit keeps.
async fn a_start_outside_the_orders_own_window_needs_a_reason() {
    let (mut h, clock) = harness().await;
    let (id, bag, etag) = prepared(&h).await;
    clock.fetch_add(25 * 60 * MIN_US, Ordering::SeqCst);
    // A day later the nurse signs in again (the harness's session has expired).
    let r = h
        .call(
            "POST",
            "/api/auth/sign-in",
            None,
            Some(json!({"username": "nurse", "password": common::PASSWORD, "mode": "token"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let token = text(&r.body["token"]);
    h.tokens.retain(|(n, _)| n != "nurse");
    h.tokens.push(("nurse".into(), token));
    let start = |body: Value, etag: String| {
        let h = &h;
        let id = id.clone();
        async move {
            h.call(
                "POST",
                &format!("/api/orders/{id}/administrations"),
                Some("nurse"),
                Some(body),
                &[("if-match", &etag)],
            )
            .await
        }
    };
    let r = start(scan(&bag, None), etag.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let codes: Vec<String> = r.body["findings"]
        .as_array()
        .map(|f| f.iter().map(|x| text(&x["code"])).collect())
        .unwrap_or_default();
    assert_eq!(codes, ["five_rights.time"], "{}", r.body);
    let reason = "patient arrived a day late; prescriber confirmed the dose";
    let r = start(scan(&bag, Some(reason)), etag).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let admin = text(&r.body["administration"]["id"]);
    let mut tx = h.app.store().begin_snapshot().await.expect("tx");
    let rows = tx.audit_events_of(&admin).await.expect("audit rows");
    assert!(
        rows.iter()
            .any(|e| e.reason.as_deref().is_some_and(|r| r.contains(reason))),
        "{rows:?}"
    );
}

on_both_backends!(
    a_start_outside_the_orders_own_window_needs_a_reason,
    a_full_bag_over_its_time_is_the_ordered_dose,
    completing_a_two_hour_infusion_after_four_minutes_is_refused_without_a_plausible_volume,
    stopping_the_infusion_records_a_partial_dose_and_keeps_the_order,
    discontinuing_the_order_stops_the_infusion_and_the_order,
    the_pump_reported_volume_is_used_when_the_nurse_gives_none,
);
