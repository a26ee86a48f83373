//! Administration at the bedside: scan the wristband and the bag (typed input is fine), the
//! five-rights result, the pump programme and what was keyed on the pump (a mismatch blocks),
//! the second nurse's double check for high-alert drugs; then rate changes, titration steps
//! with a timer, vitals, reactions with their grade, stop and complete.

use axum::extract::{Path, State};
use axum::response::Response;
use infusio_app::AppError;
use infusio_app::orders::{OrderView, StoredTitration};
use infusio_app::patients::number;
use infusio_app::pump_checks::{ScheduleState, expected_start_rate, is_titrated, schedule_now};
use infusio_server::AppState;
use infusio_store::Stored;
use infusio_store::records::{Administration, AdministrationEvent};
use maud::{Markup, html};
use serde_json::{Value as Json, json};

use super::order::{figures, order_header, pump_table, version_of};
use super::{Posted, form_data};
use crate::html::{
    badge, error_box, hhmm_us, input, input_with_id, q, qty_json, select, steps, when_us,
};
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
fn rights_table(findings: &Json) -> Markup {
    let codes: Vec<&str> = findings
        .as_array()
        .map(|fs| fs.iter().filter_map(|f| f["code"].as_str()).collect())
        .unwrap_or_default();
    html! {
        table.rights aria-label="Five-rights result" {
            tbody {
                @for (code, label) in RIGHTS {
                    @let bad = codes.contains(code);
                    tr class=(if bad { "diff-out" } else { "diff-ok" }) data-right=(code) {
                        th scope="row" { (label) }
                        td { @if bad { "✗ NOT MET" } @else { "✓" } }
                    }
                }
            }
        }
    }
}

/// The scans, what was keyed on the pump and, for a high-alert drug, the second nurse.
fn start_form(viewer: &Viewer, v: &OrderView, version: i64, f: &FormData) -> Markup {
    html! {
        form method="post" action={ "/ui/orders/" (v.id) "/administer" } class="card" {
            (viewer.csrf_field())
            input type="hidden" name="version" value=(version);
            h2 { "Scan and confirm" }
            div.grid {
                div { (input("wristband", "Wristband scan", f.val("wristband"), "scan the patient’s wristband")) }
                div { (input("bag", "Bag scan", f.val("bag"), "scan the bag label")) }
                div { (input("dose", "Dose on the label", f.val("dose"), "e.g. 340 mg")) }
                div { (input("route", "Route", f.get("route").unwrap_or(&v.route), "iv")) }
            }
            h3 { "What you keyed on the pump" }
            div.grid {
                div { (input("pump_rate", "Pump rate keyed", f.val("pump_rate"), "e.g. 125 mL/h")) }
                div { (input("pump_vtbi", "Pump VTBI keyed", f.val("pump_vtbi"), "e.g. 250 mL")) }
            }
            @if v.high_alert {
                fieldset {
                    legend { "Second nurse: independent double check (high-alert)" }
                    div.grid {
                        div { (input("second_username", "Second nurse’s user name", f.val("second_username"), "")) }
                        div {
                            label for="f-second_password" { "Second nurse’s password" }
                            input id="f-second_password" name="second_password" type="password" autocomplete="off";
                        }
                    }
                }
            }
            (input("time_override_reason", "Reason to start outside the time window (only if asked)", f.val("time_override_reason"), "e.g. patient arrived late; prescriber confirmed"))
            div.actions { button type="submit" class="primary" { "Check five rights and start" } }
        }
    }
}

async fn render_start(
    s: &AppState,
    viewer: &Viewer,
    id: &str,
    f: &FormData,
    err: Option<AppError>,
) -> Response {
    let title = "Administer";
    let (v, version) = match crate::pages::order_shown(&s.app, viewer.actor(), id).await {
        Ok(x) => x,
        Err(err) => return page_with_error(title, viewer, "board", &err, html! {}),
    };
    let body = html! {
        (order_header(s, viewer, &v).await)
        @if let Some(AppError::Blocked { findings, .. }) = &err {
            section.card { h2 { "Five-rights result" } (rights_table(findings)) }
        }
        (figures(&v))
        section {
            h2 { "Pump programme to key" }
            (pump_table(v.pump_programme.as_ref()))
            @if let Some(p) = v.pump_programme.as_ref().filter(|p| is_titrated(p)) {
                @if let Some(r) = expected_start_rate(p) {
                    p.start-rate data-start-rate=(r.value()) {
                        "Titrated: key the schedule’s first step, " strong { (q(r.value(), "mL/h")) }
                        ", with the bag’s full volume as VTBI; step up as the schedule below says."
                    }
                }
            }
        }
        (start_form(viewer, &v, version, f))
    };
    match err {
        Some(err) => page_with_error(title, viewer, "board", &err, body),
        None => page(title, viewer, "board", body),
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
        for k in ["wristband", "bag", "dose", "route", "time_override_reason"] {
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
        let scan = infusio_app::bedside::BedsideScan::try_from(&body)?;
        s.app
            .start_administration(viewer.actor(), &id, version, &scan)
            .await
    }
    .await;
    match result {
        Ok((a, _)) => see_other(&format!("/ui/administrations/{}?started=1", a.id)),
        Err(err) => render_start(&s, &viewer, &id, &f, Some(err)).await,
    }
}

/// The titration schedule computed once, at verification, with the weight then recorded,
/// and stored with the order (the bedside never recomputes it with a later weight). `None`
/// when the drug has none.
fn titration(v: &OrderView) -> Option<Result<Json, AppError>> {
    Some(match v.titration()? {
        StoredTitration::Computed(c) => Ok(serde_json::to_value(c).unwrap_or_default()),
        StoredTitration::Failed(e) => Err(AppError::invalid(
            e.field.clone(),
            e.value.clone(),
            e.message.clone(),
        )),
    })
}

/// The administration's status, who started it, what was keyed and scanned.
fn status_section(
    a: &Stored<Administration>,
    name: &dyn Fn(&str) -> String,
    started: bool,
) -> Markup {
    let keyed = &a.data.pump_programme_json;
    let keyed_qty = |k: &str, unit: &str| keyed[k].as_f64().map(|r| q(r, unit)).unwrap_or_default();
    html! {
        section.card {
            p data-admin-status=(a.data.status.as_str()) {
                (badge(a.data.status.as_str(), a.data.status.as_str())) " · started " (when_us(a.data.started_at_us))
                " by " (name(&a.data.nurse_id))
                @if let Some(n) = &a.data.second_nurse_id { " · double-checked by " (name(n)) }
            }
            @if started {
                div.success role="status" { h2 { "✓ Five rights confirmed — infusion started" } }
                (rights_table(&json!([])))
            }
            p {
                "Pump keyed: " (keyed_qty("rate_ml_per_h", "mL/h")) " · VTBI " (keyed_qty("vtbi_ml", "mL"))
                " · wristband " code { (a.data.wristband_scan) } " · bag " code { (a.data.bag_scan) }
            }
            @if let Some(r) = &a.data.stop_reason { p { "Stop reason: " (r) } }
            @if let Some(g) = infusio_app::completion::given_of(&a.data) {
                p.given data-dose-given=(g.dose_given) {
                    "Given: " (q(g.dose_given, &g.dose_unit))
                    @if let Some(v) = g.volume_infused_ml { " from " (q(v, "mL")) " infused (" (g.volume_source) ")" }
                    @if g.partial { " · " strong { "partial infusion" } }
                }
                details { summary { "Derivation of the dose given" } (steps(&json!({"steps": g.steps}))) }
            }
        }
    }
}

/// The titration schedule for this patient and bag, the next step's timer while running
/// (from the recorded steps and holds: a hold pauses it, the resumed rate restarts it), and
/// the derivation.
fn titration_section(c: &Json, running: bool, state: Option<&ScheduleState>) -> Markup {
    let pump_steps = c["pump_steps"].as_array().cloned().unwrap_or_default();
    let qty =
        |st: &Json, k: &str, unit: &str| st[k].as_f64().map(|r| q(r, unit)).unwrap_or_default();
    html! {
        table.pump {
            thead { tr { th { "From minute" } th { "Rate" } th { "Drug rate" } th { "VTBI" } th { "For" } } }
            tbody {
                @for st in &pump_steps {
                    tr data-titration-step {
                        td.num { (infusio_core::units::format_number(st["start_minute"].as_f64().unwrap_or(0.0), 0)) }
                        td.num { (qty(st, "rate_ml_per_h", "mL/h")) }
                        td.num { (qty_json(&st["dose_rate"]).unwrap_or_default()) }
                        td.num { (qty(st, "vtbi_ml", "mL")) }
                        td.num { (qty(st, "duration_minutes", "min")) }
                    }
                }
            }
        }
        @if running {
            @match state {
                Some(st) if st.held => {
                    p.timer data-held { "On hold since " (hhmm_us(st.step_started_at_us)) " UTC: the schedule is paused; resume at the re-planned rate." }
                }
                Some(ScheduleState { next_rate: Some(n), next_due_at_us: Some(due), .. }) => {
                    p.timer data-due-ms=(due / 1000) {
                        "Next step to " (q(n.value(), "mL/h")) " due at " (hhmm_us(*due)) " UTC "
                        span data-countdown {}
                    }
                }
                _ => { p { "At the final rate of the schedule." } }
            }
        }
        details { summary { "Derivation" } (steps(c)) }
    }
}

/// What an event says, in words: `rate change to 60 mL/h`, `reaction — grade 2`.
fn event_what(ev: &AdministrationEvent) -> String {
    let mut what = ev.kind.as_str().replace('_', " ");
    if let Some(r) = &ev.rate_ml_per_h {
        what = format!("{what} to {}", q(number(r), "mL/h"));
    }
    if let Some(g) = ev.reaction_grade {
        what = format!("{what} — grade {g}");
    }
    what
}

/// An event's details as `key: value; …`.
fn event_detail(ev: &AdministrationEvent) -> String {
    let overrides: Vec<String> = ev.detail_json["limit_checks"]["overrides"]
        .as_array()
        .map(|o| {
            o.iter()
                .map(|x| {
                    format!(
                        "override {}: {}",
                        x["code"].as_str().unwrap_or_default(),
                        x["reason"].as_str().unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    ev.detail_json
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.as_str() != "limit_checks")
                .map(|(k, v)| {
                    let v = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    format!("{}: {v}", k.replace('_', " "))
                })
                .chain(overrides)
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

fn events_section(events: &[Stored<AdministrationEvent>], name: &dyn Fn(&str) -> String) -> Markup {
    html! {
        section {
            h2 { "Events" }
            @if events.is_empty() {
                p { "None yet." }
            } @else {
                table.events {
                    thead { tr { th { "Time" } th { "What" } th { "Detail" } th { "By" } } }
                    tbody {
                        @for ev in events {
                            tr class={ "ev-" (ev.data.kind.as_str()) } {
                                td { (hhmm_us(ev.data.at_us)) }
                                td { (event_what(&ev.data)) }
                                td { (event_detail(&ev.data)) }
                                td { (name(&ev.data.recorded_by)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One event form: its kind, heading, fields and button.
fn event_form(
    viewer: &Viewer,
    id: &str,
    kind: &str,
    heading: &str,
    fields: Markup,
    button: &str,
) -> Markup {
    html! {
        form method="post" action={ "/ui/administrations/" (id) "/event" } class="card event" {
            (viewer.csrf_field())
            input type="hidden" name="kind" value=(kind);
            h3 { (heading) }
            (fields)
            button type="submit" { (button) }
        }
    }
}

/// A field of an event form, its id prefixed by the form's key (one name, several forms).
fn event_field(key: &str, name: &str, label: &str, hint: &str) -> Markup {
    input_with_id(&format!("{key}-{name}"), name, label, "", hint)
}

/// The forms for what happens during the infusion: titration, rate change, vitals, reaction,
/// note.
fn event_forms(viewer: &Viewer, id: &str) -> Markup {
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
    let vitals = html! {
        div.grid {
            div { (event_field("v", "bp", "Blood pressure (mmHg)", "e.g. 120/80")) }
            div { (event_field("v", "heart_rate", "Heart rate (/min)", "e.g. 72")) }
            div { (event_field("v", "temperature", "Temperature (°C)", "e.g. 36.8")) }
            div { (event_field("v", "resp_rate", "Respiratory rate (/min)", "e.g. 16")) }
            div { (event_field("v", "spo2", "SpO₂ (%)", "e.g. 98")) }
        }
    };
    let reaction = html! {
        (select("grade", "Grade", &grades, ""))
        (event_field("r", "symptoms", "Symptoms and action taken", "e.g. flushing; rate halved"))
    };
    let reason = |key: &str| {
        event_field(
            key,
            "override_reason",
            "Override reason (for a soft limit shown)",
            "only when a soft limit asks for one",
        )
    };
    html! {
        div.events-forms {
            (event_form(viewer, id, "titration", "Titration step",
                html! { (event_field("t", "rate", "New rate (titration)", "e.g. 110 mL/h")) (reason("t")) }, "Record titration step"))
            (event_form(viewer, id, "rate_change", "Rate change (0 mL/h holds the infusion)",
                html! { (event_field("rc", "rate", "New rate", "e.g. 60 mL/h")) (reason("rc")) }, "Record rate change"))
            (event_form(viewer, id, "bolus", "Bolus",
                html! {
                    (event_field("b", "rate", "Bolus rate", "e.g. 300 mL/h"))
                    (event_field("b", "volume", "Bolus volume", "e.g. 50 mL"))
                    (reason("b"))
                }, "Record bolus"))
            (event_form(viewer, id, "vitals", "Vitals", vitals, "Record vitals"))
            (event_form(viewer, id, "reaction", "Infusion reaction (CTCAE grade)", reaction, "Record reaction"))
            (event_form(viewer, id, "note", "Note", event_field("n", "text", "Note", ""), "Add note"))
        }
    }
}

/// Complete the infusion, stop this infusion (the order stays, to be given with a new bag),
/// or discontinue the order: each records the volume infused read on the pump, from which the
/// dose given is computed; a stop and a discontinuation need a reason.
fn finish_section(viewer: &Viewer, id: &str, f: &FormData) -> Markup {
    let volume = |key: &str| {
        input_with_id(
            &format!("{key}-volume_infused"),
            "volume_infused",
            "Volume infused (read on the pump)",
            f.val("volume_infused"),
            "e.g. 250 mL",
        )
    };
    html! {
        section.card.finish {
            h2 { "Finish" }
            form method="post" action={ "/ui/administrations/" (id) "/finish" } data-confirm="Mark the infusion complete?" {
                (viewer.csrf_field())
                input type="hidden" name="outcome" value="completed";
                (volume("c"))
                button type="submit" class="primary" { "Complete infusion" }
            }
            form method="post" action={ "/ui/administrations/" (id) "/finish" } data-confirm="Stop this infusion? The order stays active and can be given with a new bag." {
                (viewer.csrf_field())
                input type="hidden" name="outcome" value="stopped";
                (volume("s"))
                (input_with_id("s-reason", "reason", "Reason to stop", f.val("reason"), "required"))
                button type="submit" class="danger" { "Stop this infusion" }
            }
            form method="post" action={ "/ui/administrations/" (id) "/finish" } data-confirm="Discontinue the order? The infusion stops and the order ends." {
                (viewer.csrf_field())
                input type="hidden" name="outcome" value="discontinued";
                (volume("d"))
                (input_with_id("d-reason", "reason", "Reason to discontinue", f.val("reason"), "required"))
                button type="submit" class="danger" { "Discontinue the order" }
            }
        }
    }
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
        Err(err) => return page_with_error(title, viewer, "board", &err, html! {}),
    };
    let (v, _) = match crate::pages::order_shown(&s.app, viewer.actor(), &a.data.order_id).await {
        Ok(x) => x,
        Err(err) => return page_with_error(title, viewer, "board", &err, html! {}),
    };
    let names = s.app.user_names(viewer.actor()).await.unwrap_or_default();
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let running = a.data.status == "in_progress";
    let titration = titration(&v);
    let schedule = v
        .pump_programme
        .as_ref()
        .and_then(|p| schedule_now(&a, &events, p));
    let body = html! {
        (order_header(s, viewer, &v).await)
        (status_section(&a, &name, started))
        @if let Some(t) = titration {
            section.card {
                h2 { "Titration schedule" }
                @match t {
                    Ok(c) => { (titration_section(&c, running, schedule.as_ref())) }
                    Err(err) => { (error_box(&err)) }
                }
            }
        }
        (events_section(&events, &name))
        @if running {
            (event_forms(viewer, id))
            (finish_section(viewer, id, f))
        }
    };
    match err {
        Some(err) => page_with_error(title, viewer, "board", &err, body),
        None => page(title, viewer, "board", body),
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
        if let Some(v) = f.get("volume") {
            body["volume"] = json!(v);
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
        let event = infusio_app::commands::NewEvent::try_from(&body)?;
        match (
            s.app.record_event(viewer.actor(), &id, &event).await,
            f.get("override_reason"),
        ) {
            // The nurse has seen the soft limits (or gives the reason with the entry): the
            // reason is recorded for each warning the checks raised.
            (
                Err(AppError::Blocked {
                    code: "pump.override_required",
                    findings,
                    ..
                }),
                Some(reason),
            ) => {
                let mut event = event;
                event.overrides = findings
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x["code"].as_str())
                            .map(|code| infusio_app::orders::Override {
                                code: code.to_string(),
                                reason: reason.to_string(),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                s.app.record_event(viewer.actor(), &id, &event).await
            }
            (other, _) => other,
        }
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
        if let Some(v) = f.get("volume_infused") {
            body["volume_infused"] = json!(v);
        }
        let finish = infusio_app::commands::FinishAdministration::try_from(&body)?;
        s.app
            .finish_administration(viewer.actor(), &id, &finish)
            .await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/ui/administrations/{id}")),
        Err(err) => render_running(&s, &viewer, &id, &f, Some(err), false).await,
    }
}
