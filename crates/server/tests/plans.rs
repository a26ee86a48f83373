//! Protocols and therapy plans through the API (both backends): the protocol list, a plan
//! from a protocol and a start date with every planned day stored and shown in the chart, the
//! planning step refused to other roles, bad input named.

mod common;

use infusio_testkit::on_both_backends;

use axum::http::StatusCode;
use serde_json::json;

async fn a_plan_from_a_protocol_stores_its_dates_and_shows_in_the_chart() {
    let h = common::harness().await;
    let r = h
        .call("GET", "/api/protocols", Some("nurse"), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let ids: Vec<&str> = r
        .body
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["id"].as_str()).collect())
        .unwrap_or_default();
    for id in [
        "infliximab-ibd",
        "mfolfox6",
        "ivig-replacement",
        "iron-sucrose-200-x5",
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    let r = h
        .call(
            "GET",
            "/api/protocols/mfolfox6",
            Some("pharmacist"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["phases"][0]["cycle_length_days"], 14);
    let r = h
        .call(
            "GET",
            "/api/protocols/no-such",
            Some("pharmacist"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    let pid = h.patient_id.clone();
    let path = format!("/api/patients/{pid}/plans");
    // Infliximab: weeks 0, 2, 6, then every 8 weeks (two maintenance cycles laid out).
    let r = h
        .call(
            "POST",
            &path,
            Some("prescriber"),
            Some(json!({"protocol": "infliximab-ibd", "start_date": "2026-01-05", "open_ended_cycles": 2})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let plan_id = r.body["id"].as_str().unwrap_or_default().to_string();
    let dates: Vec<&str> = r.body["schedule_json"]["planned"]
        .as_array()
        .map(|a| a.iter().filter_map(|d| d["date"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        dates,
        [
            "2026-01-05",
            "2026-01-19",
            "2026-02-16",
            "2026-04-13",
            "2026-06-08"
        ]
    );
    assert_eq!(
        r.body["schedule_json"]["open_ended_phases"],
        json!(["maintenance"])
    );
    assert_eq!(r.body["status"], "active");

    // FOLFOX, every 14 days × 12.
    let r = h
        .call(
            "POST",
            &path,
            Some("prescriber"),
            Some(json!({"protocol": "mfolfox6", "start_date": "2026-03-02"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.body["schedule_json"]["planned"].as_array().map(Vec::len),
        Some(12)
    );

    // Both show in the list and in the chart.
    let r = h.call("GET", &path, Some("scheduler"), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body.as_array().map(Vec::len), Some(2));
    let r = h
        .call(
            "GET",
            &format!("/api/patients/{pid}"),
            Some("nurse"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let in_chart: Vec<&str> = r.body["plans"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["id"].as_str()).collect())
        .unwrap_or_default();
    assert!(in_chart.contains(&plan_id.as_str()), "{}", r.body["plans"]);

    // The audit event carries how the dates were computed.
    let mut tx = h.app.store().begin_snapshot().await.expect("tx");
    let rows = tx.audit_events_of(&plan_id).await.expect("audit rows");
    tx.rollback().await.expect("rollback");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].action, "therapy_plan.create");
    assert!(
        rows[0]
            .derivation_json
            .as_deref()
            .is_some_and(|d| d.contains("cycle_length_days")),
        "{:?}",
        rows[0].derivation_json
    );
}

async fn planning_is_a_prescribers_step_and_bad_input_is_named() {
    let h = common::harness().await;
    let path = format!("/api/patients/{}/plans", h.patient_id);
    let good = json!({"protocol": "ivig-replacement", "start_date": "2026-02-01"});
    for user in ["nurse", "pharmacist", "scheduler", "technician", "admin"] {
        let r = h
            .call("POST", &path, Some(user), Some(good.clone()), &[])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{user}: {}", r.body);
    }
    for (body, field) in [
        (
            json!({"protocol": "nope", "start_date": "2026-02-01"}),
            "protocol",
        ),
        (
            json!({"protocol": "ivig-replacement", "start_date": "2026-02-30"}),
            "start_date",
        ),
        (json!({"protocol": "ivig-replacement"}), "start_date"),
        (
            json!({"protocol": "ivig-replacement", "start_date": "2026-02-01", "open_ended_cycles": 0}),
            "open_ended_cycles",
        ),
        (
            json!({"protocol": "ivig-replacement", "start_date": "2026-02-01", "cycles": 3}),
            "cycles",
        ),
    ] {
        let r = h
            .call("POST", &path, Some("prescriber"), Some(body.clone()), &[])
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.body["field"], field, "{body}: {}", r.body);
    }
    let r = h
        .call(
            "POST",
            "/api/patients/00000000-0000-7000-8000-000000000000/plans",
            Some("prescriber"),
            Some(good),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = h.call("GET", &path, Some("prescriber"), None, &[]).await;
    assert_eq!(r.body, json!([]), "nothing was stored");
}

async fn the_demo_seeds_therapy_plans() {
    let app = infusio_app::App::open(
        common::open_store().await,
        infusio_app::library::builtin().expect("library"),
        common::config(),
    )
    .await
    .expect("open");
    let seeded = app.seed_demo().await.expect("seed");
    assert!(seeded.skipped.is_empty(), "{:?}", seeded.skipped);
    assert_eq!(seeded.plans, 5);
    let mut tx = app.store().begin_snapshot().await.expect("tx");
    let plans = tx
        .list::<infusio_store::records::TherapyPlan>()
        .await
        .expect("plans");
    tx.rollback().await.expect("rollback");
    assert_eq!(plans.len(), 5);
    assert!(plans.iter().all(|p| {
        p.data.schedule_json["planned"]
            .as_array()
            .is_some_and(|d| !d.is_empty())
    }));
    let report = app.store().verify_audit().await.expect("verify");
    assert!(report.intact(), "{report:?}");
}

on_both_backends!(
    a_plan_from_a_protocol_stores_its_dates_and_shows_in_the_chart,
    planning_is_a_prescribers_step_and_bad_input_is_named,
    the_demo_seeds_therapy_plans,
);
