//! Schedule: the day's appointments and booking a chair, with the duration from the order.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::Response;
use infusio_app::AppError;
use infusio_app::time::iso_from_us;
use infusio_server::AppState;
use serde_json::json;

use super::{Posted, form_data, today};
use crate::html::{drug_name, e, hhmm_us, input, q, select};
use crate::{FormData, Viewer, page, page_with_error, see_other};

fn minute_iso(us: i64) -> String {
    let iso = iso_from_us(us);
    format!("{}Z", &iso[..16.min(iso.len())])
}

async fn render(s: &AppState, viewer: &Viewer, f: &FormData, err: Option<AppError>) -> Response {
    let title = "Schedule";
    let lib = s.app.library();
    let date = f.get("date").map(str::to_string).unwrap_or_else(today);
    let mut b = String::new();
    let patients = match s.app.search_patients(viewer.actor(), "").await {
        Ok(p) => p,
        Err(err) => return page_with_error(title, viewer, "schedule", &err, ""),
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
    let mut oopts: Vec<(String, String)> = vec![(String::new(), "— no order —".into())];
    let mut duration_h: Option<f64> = None;
    if !patient_id.is_empty()
        && let Ok(orders) = s
            .app
            .list_orders(viewer.actor(), None, Some(&patient_id))
            .await
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
            if Some(o.id.as_str()) == f.get("order_id") {
                duration_h = o.request["duration"]
                    .as_str()
                    .and_then(|d| infusio_core::units::Duration::parse(d).ok())
                    .map(|d| d.value());
            }
        }
    }
    let now = infusio_store::now_us();
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
    let _ = write!(
        b,
        "<form method=\"get\" action=\"/ui/schedule\" class=\"inline\">{}<button type=\"submit\">Show this patient’s orders</button></form>",
        select("patient_id", "Patient", &popts, &patient_id)
            .replace("id=\"f-patient_id\"", "id=\"g-patient_id\"")
            .replace("for=\"f-patient_id\"", "for=\"g-patient_id\"")
    );
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/ui/schedule\" class=\"card\">{}<h2>Book a chair</h2>\
         <div class=\"grid\"><div>{}</div><div>{}</div><div>{}</div><div>{}</div><div>{}</div></div>{}\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">Book</button></div></form>",
        viewer.csrf_field(),
        select("patient_id", "Patient", &popts, &patient_id),
        select("order_id", "Order", &oopts, f.val("order_id")),
        input("chair", "Chair", f.get("chair").unwrap_or(""), "e.g. C5"),
        input("start_at", "Start (UTC)", &start, "YYYY-MM-DDTHH:MMZ"),
        input("end_at", "End (UTC)", &end, "YYYY-MM-DDTHH:MMZ"),
        duration_h
            .map(|h| format!(
                "<p>Infusion duration from the order: {}.</p>",
                e(&q(h * 60.0, "min"))
            ))
            .unwrap_or_default()
    );
    match s.app.board_day(viewer.actor(), &date).await {
        Ok(rows) => {
            let _ = write!(b, "<section><h2>Appointments on {}</h2>", e(&date));
            if rows.is_empty() {
                b.push_str("<p>None.</p>");
            } else {
                b.push_str("<table><thead><tr><th>Time</th><th>Chair</th><th>Patient</th><th>Drug</th><th>Status</th></tr></thead><tbody>");
                for r in &rows {
                    let (status, _) = super::board::status_of(r);
                    let _ = write!(
                        b,
                        "<tr><td>{}–{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                        hhmm_us(r.appointment.data.start_at_us),
                        hhmm_us(r.appointment.data.end_at_us),
                        e(&r.appointment.data.chair),
                        e(&r.patient
                            .as_ref()
                            .map(|p| format!("{}, {}", p.data.family_name, p.data.given_name))
                            .unwrap_or_default()),
                        e(&r.order
                            .as_ref()
                            .map(|o| drug_name(lib, &o.data.drug_id))
                            .unwrap_or_default()),
                        e(status)
                    );
                }
                b.push_str("</tbody></table>");
            }
            b.push_str("</section>");
        }
        Err(err) => b.push_str(&crate::html::error_box(&err)),
    }
    match err {
        Some(err) => page_with_error(title, viewer, "schedule", &err, &b),
        None => page(title, viewer, "schedule", &b),
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
        s.app.book_appointment(viewer.actor(), &body).await
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
