//! Administration at the bedside: scan the wristband and the bag (typed input is fine), the
//! five-rights result, the pump programme and what was keyed on the pump (a mismatch blocks),
//! the second nurse's double check for high-alert drugs; then rate changes, titration steps
//! with a timer, vitals, reactions with their grade, stop and complete.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::response::Response;
use infusio_app::AppError;
use infusio_app::orders::OrderView;
use infusio_app::patients::number;
use infusio_core::calc;
use infusio_server::AppState;
use serde_json::{Value as Json, json};

use super::order::{figures, order_header, pump_table, version_of};
use super::{Posted, form_data};
use crate::html::{e, error_box, hhmm_us, input, q, select, steps, when_us};
use crate::{FormData, Viewer, page, page_with_error, see_other};

const RIGHTS: &[(&str, &str)] = &[
    ("five_rights.patient", "Right patient (wristband)"),
    ("five_rights.drug", "Right drug (bag)"),
    ("five_rights.dose", "Right dose"),
    ("five_rights.route", "Right route"),
    ("five_rights.time", "Right time"),
    ("five_rights.beyond_use_date", "Within beyond-use date"),
    ("pump.rate_mismatch", "Pump rate as ordered"),
    ("pump.vtbi_mismatch", "Pump VTBI as ordered"),
    ("double_check.required", "Second-nurse double check"),
];

/// The five-rights table from the problems of a blocked start.
fn rights_table(findings: &Json) -> String {
    let codes: Vec<&str> = findings
        .as_array()
        .map(|fs| fs.iter().filter_map(|f| f["code"].as_str()).collect())
        .unwrap_or_default();
    let mut out = String::from("<table class=\"rights\" aria-label=\"Five-rights result\"><tbody>");
    for (code, label) in RIGHTS {
        let bad = codes.contains(code);
        let _ = write!(
            out,
            "<tr class=\"{}\" data-right=\"{}\"><th scope=\"row\">{label}</th><td>{}</td></tr>",
            if bad { "diff-out" } else { "diff-ok" },
            e(code),
            if bad { "✗ NOT MET" } else { "✓" }
        );
    }
    out.push_str("</tbody></table>");
    out
}

async fn render_start(
    s: &AppState,
    viewer: &Viewer,
    id: &str,
    f: &FormData,
    err: Option<AppError>,
) -> Response {
    let title = "Administer";
    let (v, version) = match s.app.get_order(viewer.actor(), id).await {
        Ok(x) => x,
        Err(err) => return page_with_error(title, viewer, "board", &err, ""),
    };
    let mut b = order_header(s, viewer, &v).await;
    if let Some(AppError::Blocked { findings, .. }) = &err {
        b.push_str("<section class=\"card\"><h2>Five-rights result</h2>");
        b.push_str(&rights_table(findings));
        b.push_str("</section>");
    }
    b.push_str(&figures(&v));
    b.push_str("<section><h2>Pump programme to key</h2>");
    b.push_str(&pump_table(
        v.pump_programme.as_ref().unwrap_or(&Json::Null),
    ));
    b.push_str("</section>");
    let second = if v.high_alert {
        format!(
            "<fieldset><legend>Second nurse: independent double check (high-alert)</legend><div class=\"grid\"><div>{}</div><div><label for=\"f-second_password\">Second nurse’s password</label>\
             <input id=\"f-second_password\" name=\"second_password\" type=\"password\" autocomplete=\"off\"></div></div></fieldset>",
            input(
                "second_username",
                "Second nurse’s user name",
                f.val("second_username"),
                ""
            )
        )
    } else {
        String::new()
    };
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/ui/orders/{}/administer\" class=\"card\">{}<input type=\"hidden\" name=\"version\" value=\"{version}\">\
         <h2>Scan and confirm</h2><div class=\"grid\"><div>{}</div><div>{}</div><div>{}</div><div>{}</div></div>\
         <h3>What you keyed on the pump</h3><div class=\"grid\"><div>{}</div><div>{}</div></div>{second}\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">Check five rights and start</button></div></form>",
        e(id),
        viewer.csrf_field(),
        input(
            "wristband",
            "Wristband scan",
            f.val("wristband"),
            "scan the patient’s wristband"
        ),
        input("bag", "Bag scan", f.val("bag"), "scan the bag label"),
        input("dose", "Dose on the label", f.val("dose"), "e.g. 340 mg"),
        input("route", "Route", f.get("route").unwrap_or(&v.route), "iv"),
        input(
            "pump_rate",
            "Pump rate keyed",
            f.val("pump_rate"),
            "e.g. 125 mL/h"
        ),
        input(
            "pump_vtbi",
            "Pump VTBI keyed",
            f.val("pump_vtbi"),
            "e.g. 250 mL"
        ),
    );
    match err {
        Some(err) => page_with_error(title, viewer, "board", &err, &b),
        None => page(title, viewer, "board", &b),
    }
}

pub async fn start_page(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    render_start(&s, &viewer, &id, &FormData::default(), None).await
}

pub async fn start(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let f = form_data(posted);
    let result = async {
        viewer.check_csrf(&f)?;
        let version = version_of(&f)?;
        let mut body = json!({});
        for k in ["wristband", "bag", "dose", "route"] {
            if let Some(v) = f.get(k) {
                body[k] = json!(v);
            }
        }
        let mut pump = json!({});
        if let Some(r) = f.get("pump_rate") {
            pump["rate"] = json!(r);
        }
        if let Some(r) = f.get("pump_vtbi") {
            pump["vtbi"] = json!(r);
        }
        body["pump"] = pump;
        if let Some(u) = f.get("second_username") {
            let p =
                f.0.iter()
                    .find(|(k, _)| k == "second_password")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
            body["second_nurse"] = json!({"username": u, "password": p});
        }
        s.app
            .start_administration(viewer.actor(), &id, version, &body)
            .await
    }
    .await;
    match result {
        Ok((a, _)) => see_other(&format!("/ui/administrations/{}?started=1", a.id)),
        Err(err) => render_start(&s, &viewer, &id, &f, Some(err)).await,
    }
}

/// The library's titration schedule for the order, computed by the core engine for this
/// patient's weight and this bag, with its derivation. `None` when the drug has none.
async fn titration(s: &AppState, viewer: &Viewer, v: &OrderView) -> Option<Result<Json, AppError>> {
    let entry = s.app.library().get(&v.medication)?;
    if entry.titration.is_empty() {
        return None;
    }
    let product = v.request["product"]
        .as_str()
        .map(str::to_string)
        .or_else(|| entry.titration[0].products.first().cloned());
    let mut input = json!({
        "medication": v.medication,
        "dose": v.dose.as_ref().and_then(|d| d["text"].as_str()).unwrap_or(""),
    });
    if let Some(p) = product {
        input["product"] = json!(p);
    }
    if let Some(vol) = v.volume_ml {
        input["final_volume"] = json!(format!("{} mL", infusio_app::orders::num_text(vol)));
    }
    if let Ok(c) = s.app.chart(viewer.actor(), &v.patient_id).await
        && let Some(w) = c.measurements.iter().find(|m| m.data.kind == "weight")
    {
        input["weight"] = json!(format!("{} {}", w.data.value, w.data.unit));
    }
    Some(
        calc::run_with_library("titration", &input, Some(s.app.library()))
            .map_err(AppError::Invalid)
            .and_then(|c| serde_json::to_value(&c).map_err(|e| AppError::Internal(e.to_string()))),
    )
}

pub(crate) async fn render_running(
    s: &AppState,
    viewer: &Viewer,
    id: &str,
    f: &FormData,
    err: Option<AppError>,
    started: bool,
) -> Response {
    let title = "Administration";
    let (a, events) = match s.app.administration(viewer.actor(), id).await {
        Ok(x) => x,
        Err(err) => return page_with_error(title, viewer, "board", &err, ""),
    };
    let (v, _) = match s.app.get_order(viewer.actor(), &a.data.order_id).await {
        Ok(x) => x,
        Err(err) => return page_with_error(title, viewer, "board", &err, ""),
    };
    let names = s.app.user_names(viewer.actor()).await.unwrap_or_default();
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let mut b = order_header(s, viewer, &v).await;
    let running = a.data.status == "in_progress";
    let _ = write!(
        b,
        "<section class=\"card\"><p data-admin-status=\"{}\">{} · started {} by {}{}</p>",
        e(&a.data.status),
        crate::html::badge(&a.data.status, &a.data.status),
        e(&when_us(a.data.started_at_us)),
        e(&name(&a.data.nurse_id)),
        a.data
            .second_nurse_id
            .as_ref()
            .map(|n| format!(" · double-checked by {}", e(&name(n))))
            .unwrap_or_default()
    );
    if started {
        b.push_str("<div class=\"success\" role=\"status\"><h2>✓ Five rights confirmed — infusion started</h2></div>");
        b.push_str(&rights_table(&json!([])));
    }
    let keyed = &a.data.pump_programme_json;
    let _ = write!(
        b,
        "<p>Pump keyed: {} · VTBI {} · wristband <code>{}</code> · bag <code>{}</code></p>",
        e(&keyed["rate_ml_per_h"]
            .as_f64()
            .map(|r| q(r, "mL/h"))
            .unwrap_or_default()),
        e(&keyed["vtbi_ml"]
            .as_f64()
            .map(|r| q(r, "mL"))
            .unwrap_or_default()),
        e(&a.data.wristband_scan),
        e(&a.data.bag_scan)
    );
    if let Some(r) = &a.data.stop_reason {
        let _ = write!(b, "<p>Stop reason: {}</p>", e(r));
    }
    b.push_str("</section>");
    // Titration schedule and timer.
    let last_rate_event = events
        .iter()
        .rev()
        .find(|ev| matches!(ev.data.kind.as_str(), "titration" | "rate_change"));
    if let Some(t) = titration(s, viewer, &v).await {
        b.push_str("<section class=\"card\"><h2>Titration schedule</h2>");
        match t {
            Ok(c) => {
                let pump_steps = c["pump_steps"].as_array().cloned().unwrap_or_default();
                b.push_str("<table class=\"pump\"><thead><tr><th>From minute</th><th>Rate</th><th>Drug rate</th><th>VTBI</th><th>For</th></tr></thead><tbody>");
                for st in &pump_steps {
                    let _ = write!(
                        b,
                        "<tr data-titration-step><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                        e(&infusio_core::units::format_number(
                            st["start_minute"].as_f64().unwrap_or(0.0),
                            0
                        )),
                        e(&st["rate_ml_per_h"]
                            .as_f64()
                            .map(|r| q(r, "mL/h"))
                            .unwrap_or_default()),
                        e(&crate::html::qty_json(&st["dose_rate"]).unwrap_or_default()),
                        e(&st["vtbi_ml"]
                            .as_f64()
                            .map(|r| q(r, "mL"))
                            .unwrap_or_default()),
                        e(&st["duration_minutes"]
                            .as_f64()
                            .map(|r| q(r, "min"))
                            .unwrap_or_default())
                    );
                }
                b.push_str("</tbody></table>");
                // The next step: by minutes from the start, the first step after the elapsed time.
                if running {
                    let now = infusio_store::now_us();
                    let elapsed_min = (now - a.data.started_at_us) as f64 / 60_000_000.0;
                    let next = pump_steps
                        .iter()
                        .find(|st| st["start_minute"].as_f64().unwrap_or(0.0) > elapsed_min);
                    if let Some(n) = next {
                        let due_us = a.data.started_at_us
                            + (n["start_minute"].as_f64().unwrap_or(0.0) * 60_000_000.0) as i64;
                        let _ = write!(
                            b,
                            "<p class=\"timer\" data-due-ms=\"{}\">Next step to {} due at {} UTC <span data-countdown></span></p>",
                            due_us / 1000,
                            e(&n["rate_ml_per_h"]
                                .as_f64()
                                .map(|r| q(r, "mL/h"))
                                .unwrap_or_default()),
                            hhmm_us(due_us)
                        );
                    } else {
                        b.push_str("<p>At the final rate of the schedule.</p>");
                    }
                }
                b.push_str("<details><summary>Derivation</summary>");
                b.push_str(&steps(&c));
                b.push_str("</details>");
            }
            Err(err) => b.push_str(&error_box(&err)),
        }
        b.push_str("</section>");
    }
    let _ = last_rate_event;
    // Events.
    b.push_str("<section><h2>Events</h2>");
    if events.is_empty() {
        b.push_str("<p>None yet.</p>");
    } else {
        b.push_str("<table class=\"events\"><thead><tr><th>Time</th><th>What</th><th>Detail</th><th>By</th></tr></thead><tbody>");
        for ev in &events {
            let mut what = ev.data.kind.replace('_', " ");
            if let Some(r) = &ev.data.rate_ml_per_h {
                what = format!("{what} to {}", q(number(r), "mL/h"));
            }
            if let Some(g) = ev.data.reaction_grade {
                what = format!("{what} — grade {g}");
            }
            let detail = ev
                .data
                .detail_json
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            format!(
                                "{}: {}",
                                k.replace('_', " "),
                                v.as_str()
                                    .map(str::to_string)
                                    .unwrap_or_else(|| v.to_string())
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            let _ = write!(
                b,
                "<tr class=\"ev-{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e(&ev.data.kind),
                hhmm_us(ev.data.at_us),
                e(&what),
                e(&detail),
                e(&name(&ev.data.recorded_by))
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("</section>");
    if running {
        let form = |kind: &str, heading: &str, fields: String, button: &str| {
            format!(
                "<form method=\"post\" action=\"/ui/administrations/{}/event\" class=\"card event\">{}<input type=\"hidden\" name=\"kind\" value=\"{kind}\">\
                 <h3>{heading}</h3>{fields}<button type=\"submit\">{button}</button></form>",
                e(id),
                viewer.csrf_field()
            )
        };
        let idf = |k: &str, name: &str, label: &str, hint: &str| {
            input(name, label, "", hint)
                .replace(&format!("\"f-{name}\""), &format!("\"{k}-{name}\""))
        };
        b.push_str("<div class=\"events-forms\">");
        b.push_str(&form(
            "titration",
            "Titration step",
            idf("t", "rate", "New rate (titration)", "e.g. 110 mL/h"),
            "Record titration step",
        ));
        b.push_str(&form(
            "rate_change",
            "Rate change",
            idf("rc", "rate", "New rate", "e.g. 60 mL/h"),
            "Record rate change",
        ));
        b.push_str(&form(
            "vitals",
            "Vitals",
            format!(
                "<div class=\"grid\"><div>{}</div><div>{}</div><div>{}</div><div>{}</div><div>{}</div></div>",
                idf("v", "bp", "Blood pressure (mmHg)", "e.g. 120/80"),
                idf("v", "heart_rate", "Heart rate (/min)", "e.g. 72"),
                idf("v", "temperature", "Temperature (°C)", "e.g. 36.8"),
                idf("v", "resp_rate", "Respiratory rate (/min)", "e.g. 16"),
                idf("v", "spo2", "SpO₂ (%)", "e.g. 98")
            ),
            "Record vitals",
        ));
        let grades: Vec<(String, String)> = [
            ("", "— grade —"),
            ("1", "1 — mild"),
            ("2", "2 — moderate"),
            ("3", "3 — severe"),
            ("4", "4 — life-threatening"),
            ("5", "5 — death"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        b.push_str(&form(
            "reaction",
            "Infusion reaction (CTCAE grade)",
            format!(
                "{}{}",
                select("grade", "Grade", &grades, ""),
                idf(
                    "r",
                    "symptoms",
                    "Symptoms and action taken",
                    "e.g. flushing; rate halved"
                )
            ),
            "Record reaction",
        ));
        b.push_str(&form(
            "note",
            "Note",
            idf("n", "text", "Note", ""),
            "Add note",
        ));
        b.push_str("</div>");
        let _ = write!(
            b,
            "<section class=\"card finish\"><h2>Finish</h2>\
             <form method=\"post\" action=\"/ui/administrations/{id}/finish\" data-confirm=\"Mark the infusion complete?\">{csrf}<input type=\"hidden\" name=\"outcome\" value=\"completed\">\
             <button type=\"submit\" class=\"primary\">Complete infusion</button></form>\
             <form method=\"post\" action=\"/ui/administrations/{id}/finish\" data-confirm=\"Stop the infusion? The order will be discontinued.\">{csrf}<input type=\"hidden\" name=\"outcome\" value=\"stopped\">\
             {reason}<button type=\"submit\" class=\"danger\">Stop infusion</button></form></section>",
            id = e(id),
            csrf = viewer.csrf_field(),
            reason = input("reason", "Reason to stop", f.val("reason"), "required")
        );
    }
    match err {
        Some(err) => page_with_error(title, viewer, "board", &err, &b),
        None => page(title, viewer, "board", &b),
    }
}

pub async fn running(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<Vec<(String, String)>>,
) -> Response {
    let started = FormData(query).get("started").is_some();
    render_running(&s, &viewer, &id, &FormData::default(), None, started).await
}

pub async fn event(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let f = form_data(posted);
    let result = async {
        viewer.check_csrf(&f)?;
        let kind = f.val("kind").to_string();
        let mut body = json!({"kind": kind});
        if let Some(r) = f.get("rate") {
            body["rate"] = json!(r);
        }
        if let Some(g) = f.get("grade") {
            let n: f64 = g
                .parse()
                .map_err(|_| AppError::invalid("grade", g, "a whole grade from 1 to 5 (CTCAE)"))?;
            body["grade"] = json!(n);
        }
        let mut detail = serde_json::Map::new();
        for k in [
            "bp",
            "heart_rate",
            "temperature",
            "resp_rate",
            "spo2",
            "symptoms",
            "text",
        ] {
            if let Some(v) = f.get(k) {
                detail.insert(k.into(), json!(v));
            }
        }
        if !detail.is_empty() {
            body["detail"] = Json::Object(detail);
        }
        s.app.record_event(viewer.actor(), &id, &body).await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/ui/administrations/{id}")),
        Err(err) => render_running(&s, &viewer, &id, &f, Some(err), false).await,
    }
}

pub async fn finish(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let f = form_data(posted);
    let result = async {
        viewer.check_csrf(&f)?;
        let mut body = json!({"outcome": f.val("outcome")});
        if let Some(r) = f.get("reason") {
            body["reason"] = json!(r);
        }
        s.app
            .finish_administration(viewer.actor(), &id, &body)
            .await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/ui/administrations/{id}")),
        Err(err) => render_running(&s, &viewer, &id, &f, Some(err), false).await,
    }
}
