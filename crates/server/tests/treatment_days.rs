//! Treatment days through the API (both backends): a plan's day is released as its ordered
//! lines (premedications with lead times, the drugs in sequence, observation), each line an
//! order made through the normal order path and linked to the plan and its day; the go/no-go
//! labs hold the release until they are met or a reason is given; the day is signed in one
//! action and verified line by line; a dose level replaces the protocol dose; holding,
//! resuming and stopping the plan are recorded.

mod common;

use infusio_testkit::on_both_backends;

use axum::http::StatusCode;
use serde_json::{Value, json};

/// Creates an mFOLFOX6 plan; returns (plan id, etag).
async fn folfox_plan(h: &common::Harness) -> (String, String) {
    let pid = h.patient_id.clone();
    let r = h
        .call(
            "POST",
            &format!("/api/patients/{pid}/plans"),
            Some("prescriber"),
            Some(json!({"protocol": "mfolfox6", "start_date": "2026-03-02"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (
        r.body["id"].as_str().unwrap_or_default().to_string(),
        r.etag(),
    )
}

/// The bag volumes and infusion times the prescriber sets at release: oxaliplatin in 500 mL,
/// leucovorin over the 2 h it runs beside oxaliplatin (the template's 0.5 min is its chair
/// time only, as its note says).
fn adjustments() -> Value {
    json!({"3": {"volume": "500 mL"}, "4": {"volume": "250 mL", "duration": "2 h"}})
}

/// The overrides each line needs, from a preview of its planned order (with the
/// adjustments): `{"<line>": [...]}`.
async fn overrides_for(h: &common::Harness, day: &Value) -> Value {
    let adjust = adjustments();
    let mut out = serde_json::Map::new();
    for line in day["lines"].as_array().cloned().unwrap_or_default() {
        let Some(order) = line["planned_order"].as_object() else {
            continue;
        };
        let mut body = Value::Object(order.clone());
        body["patient_id"] = json!(h.patient_id);
        let n = line["line"]["line_no"].to_string();
        for key in ["volume", "duration"] {
            if let Some(v) = adjust[&n].get(key) {
                body[key] = v.clone();
            }
        }
        let (r, warnings) = preview_warnings(h, body).await;
        assert!(
            !r.body["computed"]["findings"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x["severity"] == "hard_stop")),
            "line {} has a hard stop: {}",
            line["line"]["line_no"],
            r.body["computed"]["findings"]
        );
        if !warnings.is_empty() {
            out.insert(line["line"]["line_no"].to_string(), Value::Array(warnings));
        }
    }
    // The fluorouracil bolus and the 46-hour infusion are one protocol step: the second is a
    // duplicate to confirm, as on any order.
    let mut six = out
        .get("6")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    six.push(json!({"code": "order.duplicate_therapy", "reason": "bolus and 46-hour infusion of one mFOLFOX6 day"}));
    out.insert("6".into(), Value::Array(six));
    Value::Object(out)
}

/// At signing, each fluorouracil line sees the other as active: both are confirmed.
/// Previews one planned order (absent fields dropped: the preview reads the order fields
/// only) and answers its warnings as overrides with a reason, as the prescriber would.
async fn preview_warnings(h: &common::Harness, mut body: Value) -> (common::Reply, Vec<Value>) {
    if let Some(o) = body.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    let r = h
        .call(
            "POST",
            "/api/orders/preview",
            Some("prescriber"),
            Some(body),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let warnings = r.body["computed"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f["severity"] == "warning")
        .map(|f| json!({"code": f["code"], "reason": "reviewed with the protocol"}))
        .collect();
    (r, warnings)
}

fn sign_overrides(ids: &[String]) -> Value {
    let dup = json!([{"code": "order.duplicate_therapy", "reason": "bolus and 46-hour infusion of one mFOLFOX6 day"}]);
    json!({"overrides": {ids[4].clone(): dup.clone(), ids[5].clone(): dup}})
}

fn kinds(day: &Value) -> Vec<(String, String)> {
    day["lines"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|l| {
                    (
                        l["line"]["line_kind"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        l["line"]["medication"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn line(day: &Value, n: usize) -> &Value {
    &day["lines"][n - 1]
}

/// The dose of a line's order in mg (`"153 mg"` → 153).
fn mg(day: &Value, n: usize) -> f64 {
    line(day, n)["dose_text"]
        .as_str()
        .and_then(|t| t.strip_suffix(" mg"))
        .and_then(|t| t.replace(',', "").parse().ok())
        .unwrap_or(f64::NAN)
}

async fn record_lab(h: &common::Harness, name: &str, value: &str) {
    let pid = h.patient_id.clone();
    let r = h
        .call(
            "POST",
            &format!("/api/patients/{pid}/labs"),
            Some("nurse"),
            Some(json!({"name": name, "value": value})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

async fn a_day_is_released_signed_together_and_verified_line_by_line() {
    let h = common::harness().await;
    let (plan, etag) = folfox_plan(&h).await;
    let day_path = format!("/api/plans/{plan}/days/0");
    let r = h.call("GET", &day_path, Some("nurse"), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["released"].is_null());
    assert_eq!(r.body["next_unreleased"], 0);
    let k = kinds(&r.body);
    // The two premedications (30 min before), the four drugs in the protocol's order
    // (oxaliplatin, leucovorin, the fluorouracil bolus, the 46-hour infusion).
    assert_eq!(k[0], ("premedication".into(), "ondansetron".into()));
    assert_eq!(k[1], ("premedication".into(), "dexamethasone".into()));
    assert_eq!(line(&r.body, 1)["line"]["lead_min"], 30.0);
    assert_eq!(k[2], ("drug".into(), "oxaliplatin".into()));
    assert_eq!(k[3], ("drug".into(), "leucovorin".into()));
    assert_eq!(k[4], ("drug".into(), "fluorouracil".into()));
    assert_eq!(k[5], ("drug".into(), "fluorouracil".into()));
    assert_eq!(
        line(&r.body, 3)["available_levels"],
        json!(["85 mg/m2", "65 mg/m2"])
    );
    assert_eq!(line(&r.body, 3)["planned_order"]["dose_per"], "85 mg/m2");
    // The 46-hour infusion: its duration says it is continuous (no repeat interval).
    assert_eq!(line(&r.body, 6)["planned_order"]["duration"], "2760 min");
    assert!(line(&r.body, 6)["planned_order"]["frequency"].is_null());

    // This morning's ANC is 1.2: the go/no-go labs hold the day.
    record_lab(&h, "anc", "1.2 10*9/L").await;
    let r = h.call("GET", &day_path, Some("nurse"), None, &[]).await;
    let anc = r.body["labs"]
        .as_array()
        .and_then(|a| a.iter().find(|g| g["lab"] == "anc").cloned())
        .unwrap_or_default();
    assert_eq!(
        (
            anc["outcome"].as_str(),
            anc["status"].as_str(),
            anc["blocks"].as_bool()
        ),
        (Some("hold"), Some("outside"), Some(true)),
        "{anc}"
    );
    let platelets = r.body["labs"]
        .as_array()
        .and_then(|a| a.iter().find(|g| g["lab"] == "platelets").cloned())
        .unwrap_or_default();
    assert_eq!(platelets["outcome"], "go", "{platelets}");
    let overrides = overrides_for(&h, &r.body).await;
    let body = json!({"overrides": overrides, "lines": adjustments()});

    let release = format!("/api/plans/{plan}/release");
    let r = h
        .call(
            "POST",
            &release,
            Some("prescriber"),
            Some(body.clone()),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::PRECONDITION_REQUIRED, "{}", r.body);
    let r = h
        .call(
            "POST",
            &release,
            Some("nurse"),
            Some(json!({})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = h
        .call(
            "POST",
            &release,
            Some("prescriber"),
            Some(body.clone()),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["code"], "treatment_day.labs_hold", "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("anc 1.2"),
        "{}",
        r.body
    );
    // A line without the override of its warning refuses the whole day, naming the line.
    let mut missing = body.clone();
    missing["lab_override_reason"] =
        json!("ANC 1.2 accepted by the oncologist: growth factor support");
    if let Some(o) = missing["overrides"].as_object_mut() {
        o.remove("3");
    }
    let r = h
        .call(
            "POST",
            &release,
            Some("prescriber"),
            Some(missing),
            &[("if-match", &etag)],
        )
        .await;
    if overrides.get("3").is_some() {
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(
            r.body.to_string().contains("lines[3] (oxaliplatin)"),
            "{}",
            r.body
        );
    }
    // Nothing was ordered by the refused releases.
    let r = h
        .call(
            "GET",
            &format!("/api/orders?patient_id={}", h.patient_id),
            Some("prescriber"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(0), "{}", r.body);

    let mut body = body;
    body["lab_override_reason"] =
        json!("ANC 1.2 accepted by the oncologist: growth factor support");
    let r = h
        .call(
            "POST",
            &release,
            Some("prescriber"),
            Some(body),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let plan_etag = r.etag();
    assert_eq!(r.body["released"]["day_index"], 0);
    assert_eq!(
        r.body["released"]["lab_override_reason"],
        "ANC 1.2 accepted by the oncologist: growth factor support"
    );
    let ids: Vec<String> = r.body["released"]["order_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        ids.len(),
        6,
        "two premedications and four drugs: {}",
        r.body
    );
    for n in 1..=6 {
        assert_eq!(
            line(&r.body, n)["order"]["status"],
            "draft",
            "line {n}: {}",
            line(&r.body, n)
        );
    }
    assert!(
        mg(&r.body, 3) > 100.0,
        "oxaliplatin 85 mg/m2: {}",
        line(&r.body, 3)
    );
    // The first dose of the plan: nothing administered before, so no percent change.
    assert!(line(&r.body, 3)["percent_change_from_last"].is_null());
    // Each order is linked to the plan and to its day and line, with the prescriber's volume
    // and time.
    let oxa = ids[2].clone();
    let o = h
        .call(
            "GET",
            &format!("/api/orders/{oxa}"),
            Some("prescriber"),
            None,
            &[],
        )
        .await;
    assert_eq!(o.body["medication"], "oxaliplatin");
    assert_eq!(o.body["derivation"]["origin"]["kind"], "treatment_day");
    assert_eq!(o.body["derivation"]["origin"]["plan_id"], plan);
    assert_eq!(o.body["derivation"]["origin"]["line_no"], 3);
    assert_eq!(o.body["request"]["volume"], "500 mL");
    let leu = h
        .call(
            "GET",
            &format!("/api/orders/{}", ids[3]),
            Some("prescriber"),
            None,
            &[],
        )
        .await;
    assert_eq!(leu.body["request"]["duration"], "2 h");
    // The same day cannot be released twice.
    let r = h
        .call(
            "POST",
            &release,
            Some("prescriber"),
            Some(json!({"day_index": 0})),
            &[("if-match", &plan_etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // One action signs every line.
    let r = h
        .call(
            "POST",
            &format!("{day_path}/sign"),
            Some("pharmacist"),
            Some(json!({})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = h
        .call(
            "POST",
            &format!("{day_path}/sign"),
            Some("prescriber"),
            Some(sign_overrides(&ids)),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for n in 1..=6 {
        assert_eq!(
            line(&r.body, n)["order"]["status"],
            "signed",
            "{}",
            line(&r.body, n)
        );
    }
    // The pharmacist sees the day blind, then verifies one line: the others stay signed.
    let r = h
        .call("GET", &day_path, Some("pharmacist"), None, &[])
        .await;
    assert_eq!(
        line(&r.body, 3)["order"]["figures_shown"],
        false,
        "{}",
        line(&r.body, 3)
    );
    assert!(line(&r.body, 3)["order"]["dose"].is_null());
    let v = h
        .call(
            "GET",
            &format!("/api/orders/{oxa}"),
            Some("prescriber"),
            None,
            &[],
        )
        .await;
    let mut blind = json!({"dose": v.body["dose"]["text"]});
    if let Some(vol) = v.body["volume_ml"].as_f64() {
        blind["volume"] = json!(format!("{vol} mL"));
    }
    if let Some(rate) = v.body["rate_ml_per_h"].as_f64() {
        blind["rate"] = json!(format!("{rate} mL/h"));
    }
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{oxa}/verify"),
            Some("pharmacist"),
            Some(blind),
            &[("if-match", &v.etag())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["outcome"], "verified", "{}", r.body);
    let r = h
        .call("GET", &day_path, Some("prescriber"), None, &[])
        .await;
    assert_eq!(line(&r.body, 3)["order"]["status"], "verified");
    assert_eq!(line(&r.body, 4)["order"]["status"], "signed");
    assert_eq!(r.body["next_unreleased"], 1);
    let report = h.app.store().verify_audit().await.expect("verify");
    assert!(report.intact(), "{report:?}");
}

async fn a_dose_level_is_released_and_a_held_or_stopped_plan_releases_nothing() {
    let h = common::harness().await;
    let (plan, etag) = folfox_plan(&h).await;
    // Hold: the reason is required, and a held plan releases nothing.
    let hold = format!("/api/plans/{plan}/hold");
    let r = h
        .call(
            "POST",
            &hold,
            Some("prescriber"),
            Some(json!({})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "reason");
    let r = h
        .call(
            "POST",
            &hold,
            Some("prescriber"),
            Some(json!({"reason": "grade 3 neuropathy; review on Monday"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let etag = r.etag();
    assert_eq!(
        r.body["schedule_json"]["held"]["reason"],
        "grade 3 neuropathy; review on Monday"
    );
    let release = format!("/api/plans/{plan}/release");
    let r = h
        .call(
            "POST",
            &release,
            Some("prescriber"),
            Some(json!({})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.body["code"], "therapy_plan.not_active");
    let day = h
        .call(
            "GET",
            &format!("/api/plans/{plan}/days/0"),
            Some("prescriber"),
            None,
            &[],
        )
        .await;
    assert_eq!(day.body["plan_status"], "held");
    let r = h
        .call(
            "POST",
            &format!("/api/plans/{plan}/resume"),
            Some("prescriber"),
            Some(json!({"reason": "neuropathy grade 1"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let etag = r.etag();

    // Level -2 of oxaliplatin is not defined by the protocol; level -1 is its 65 mg/m2.
    let r = h
        .call(
            "POST",
            &release,
            Some("prescriber"),
            Some(json!({"dose_levels": {"oxaliplatin": -2}})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "dose_levels.oxaliplatin");
    let mut overrides = overrides_for(&h, &day.body).await;
    // The reduced dose is previewed as it will be released: its warnings are overridden too.
    let mut reduced = line(&day.body, 3)["planned_order"].clone();
    reduced["dose_per"] = json!("65 mg/m2");
    reduced["volume"] = json!("500 mL");
    reduced["patient_id"] = json!(h.patient_id);
    let (_, w) = preview_warnings(&h, reduced).await;
    overrides["3"] = Value::Array(w);
    let r = h
        .call(
            "POST",
            &release,
            Some("prescriber"),
            Some(json!({"dose_levels": {"oxaliplatin": -1}, "overrides": overrides, "lines": adjustments()})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let etag = r.etag();
    let oxa = line(&r.body, 3);
    assert_eq!(oxa["line"]["dose_level"], -1);
    assert_eq!(oxa["line"]["protocol_dose"], "65 mg/m2");
    assert_eq!(r.body["released"]["dose_levels"]["oxaliplatin"], -1);
    assert_eq!(r.body["labs_block"], false, "{}", r.body["labs"]);
    // 65/85 of the full dose the same day would have had (same BSA).
    let full = overrides_dose(&h).await;
    let ratio = mg(&r.body, 3) / full;
    assert!(
        (ratio - 65.0 / 85.0).abs() < 0.01,
        "{} vs {full} mg",
        line(&r.body, 3)
    );

    // Stop: for good; a stopped plan cannot be resumed.
    let r = h
        .call(
            "POST",
            &format!("/api/plans/{plan}/stop"),
            Some("prescriber"),
            Some(json!({"reason": "progression on imaging"})),
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["status"], "stopped");
    let r = h
        .call(
            "POST",
            &format!("/api/plans/{plan}/resume"),
            Some("prescriber"),
            Some(json!({"reason": "try again"})),
            &[("if-match", &r.etag())],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let report = h.app.store().verify_audit().await.expect("verify");
    assert!(report.intact(), "{report:?}");
}

/// Oxaliplatin 85 mg/m2 for the harness patient, as the preview computes it (mg).
async fn overrides_dose(h: &common::Harness) -> f64 {
    let r = h
        .call(
            "POST",
            "/api/orders/preview",
            Some("prescriber"),
            Some(json!({"patient_id": h.patient_id, "medication": "oxaliplatin", "dose_per": "85 mg/m2", "route": "iv", "volume": "500 mL", "duration": "120 min"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["computed"]["dose"].as_f64().unwrap_or(f64::NAN)
}

on_both_backends!(
    a_day_is_released_signed_together_and_verified_line_by_line,
    a_dose_level_is_released_and_a_held_or_stopped_plan_releases_nothing,
);
