//! Schedule: the day's appointments and booking a chair, with the duration from the order.

use axum::extract::{Query, State};
use axum::response::Response;
use infusio_app::AppError;
use infusio_app::time::iso_from_us;
use infusio_app::ui_support::BoardRow;
use infusio_core::library::Library;
use infusio_server::AppState;
use maud::{Markup, html};
use serde_json::json;

use super::{Posted, form_data, today};
use crate::html::{drug_name, error_box, hhmm_us, input, q, select, select_with_id};
use crate::{FormData, Viewer, page, page_with_error, see_other};

fn minute_iso(us: i64) -> String {
    let iso = iso_from_us(us);
    format!("{}Z", &iso[..16.min(iso.len())])
}

/// The open orders of the patient as options of the booking form, and the infusion duration
/// of the chosen one (for the end time).
async fn order_options(
    s: &AppState,
    viewer: &Viewer,
    patient_id: &str,
    chosen: Option<&str>,
) -> (Vec<(String, String)>, Option<f64>) {
    let lib = s.app.library();
    let mut oopts: Vec<(String, String)> = vec![(String::new(), "— no order —".into())];
    let mut duration_h: Option<f64> = None;
    if !patient_id.is_empty()
        && let Ok(orders) =
            crate::pages::orders_shown(&s.app, viewer.actor(), None, Some(patient_id)).await
    {
        for o in orders.iter().filter(|o| {
            matches!(
                o.status.as_str(),
                "draft" | "signed" | "verified" | "prepared"
            )
        }) {
            oopts.push((
                o.id.clone(),
                format!("{} — {}", drug_name(lib, &o.medication), o.status.as_str()),
            ));
            if Some(o.id.as_str()) == chosen {
                duration_h = o
                    .request
                    .duration
                    .as_deref()
                    .and_then(|d| infusio_core::units::Duration::parse(d).ok())
                    .map(|d| d.value());
            }
        }
    }
    (oopts, duration_h)
}

async fn render(s: &AppState, viewer: &Viewer, f: &FormData, err: Option<AppError>) -> Response {
    let title = "Schedule";
    let lib = s.app.library();
    let date = f
        .get("date")
        .map(str::to_string)
        .unwrap_or_else(|| today(&s.app));
    let patients = match s.app.search_patients(viewer.actor(), "").await {
        Ok(p) => p,
        Err(err) => return page_with_error(title, viewer, "schedule", &err, html! {}),
    };
    let patient_id = f.val("patient_id").to_string();
    let mut popts: Vec<(String, String)> = vec![(String::new(), "— choose —".into())];
    popts.extend(patients.iter().map(|p| {
        (
            p.id.clone(),
            format!(
                "{}, {} ({})",
                p.data.family_name, p.data.given_name, p.data.mrn
            ),
        )
    }));
    let (oopts, duration_h) = order_options(s, viewer, &patient_id, f.get("order_id")).await;
    let now = s.app.now_us();
    let start_default = minute_iso(now - now.rem_euclid(60_000_000));
    let start = f
        .get("start_at")
        .map(str::to_string)
        .unwrap_or(start_default);
    let end = f.get("end_at").map(str::to_string).unwrap_or_else(|| {
        let mins = duration_h.map(|h| (h * 60.0).ceil() as i64).unwrap_or(60);
        match infusio_app::time::parse_instant("start_at", &start) {
            Ok(st) => minute_iso(st + mins * 60_000_000),
            Err(_) => String::new(),
        }
    });
    let day = match s.app.board_day(viewer.actor(), &date).await {
        Ok(rows) => day_table(lib, &date, &rows),
        Err(err) => error_box(&err),
    };
    let body = html! {
        form method="get" action="/ui/schedule" class="inline" {
            (select_with_id("g-patient_id", "patient_id", "Patient", &popts, &patient_id))
            button type="submit" { "Show this patient’s orders" }
        }
        form method="post" action="/ui/schedule" class="card" {
            (viewer.csrf_field())
            h2 { "Book a chair" }
            div.grid {
                div { (select("patient_id", "Patient", &popts, &patient_id)) }
                div { (select("order_id", "Order", &oopts, f.val("order_id"))) }
                div { (input("chair", "Chair", f.get("chair").unwrap_or(""), "e.g. C5")) }
                div { (input("start_at", "Start (UTC)", &start, "YYYY-MM-DDTHH:MMZ")) }
                div { (input("end_at", "End (UTC)", &end, "YYYY-MM-DDTHH:MMZ")) }
            }
            @if let Some(h) = duration_h {
                p { "Infusion duration from the order: " (q(h * 60.0, "min")) "." }
            }
            div.actions { button type="submit" class="primary" { "Book" } }
        }
        (day)
    };
    match err {
        Some(err) => page_with_error(title, viewer, "schedule", &err, body),
        None => page(title, viewer, "schedule", body),
    }
}

/// The appointments of a day.
fn day_table(lib: &Library, date: &str, rows: &[BoardRow]) -> Markup {
    html! {
        section {
            h2 { "Appointments on " (date) }
            @if rows.is_empty() {
                p { "None." }
            } @else {
                table {
                    thead { tr { th { "Time" } th { "Chair" } th { "Patient" } th { "Drug" } th { "Status" } } }
                    tbody {
                        @for r in rows {
                            @let (status, _) = super::board::status_of(r);
                            tr {
                                td { (hhmm_us(r.appointment.data.start_at_us)) "–" (hhmm_us(r.appointment.data.end_at_us)) }
                                td { (r.appointment.data.chair) }
                                td { (r.patient.as_ref().map(|p| format!("{}, {}", p.data.family_name, p.data.given_name)).unwrap_or_default()) }
                                td { (r.order.as_ref().map(|o| drug_name(lib, &o.data.drug_id)).unwrap_or_default()) }
                                td { (status) }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn view(
    State(s): State<AppState>,
    viewer: Viewer,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    render(&s, &viewer, &FormData(query), None).await
}

pub async fn post(State(s): State<AppState>, viewer: Viewer, posted: Posted) -> Response {
    let f = form_data(posted);
    let result = async {
        viewer.check_csrf(&f)?;
        let mut body = json!({});
        for k in ["patient_id", "order_id", "chair", "start_at", "end_at"] {
            if let Some(v) = f.get(k) {
                body[k] = json!(v);
            }
        }
        let input = infusio_app::commands::NewAppointment::try_from(&body)?;
        s.app.book_appointment(viewer.actor(), &input).await
    }
    .await;
    match result {
        Ok(a) => see_other(&format!(
            "/ui/board?date={}",
            infusio_app::time::date_from_us(a.data.start_at_us)
        )),
        Err(err) => render(&s, &viewer, &f, Some(err)).await,
    }
}
