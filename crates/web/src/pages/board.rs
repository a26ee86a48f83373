//! The day board: chairs × time, each appointment with its patient, drug, nurse, status and,
//! for a blocked one, the finding that blocks it.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::Response;
use infusio_app::ui_support::BoardRow;
use infusio_server::AppState;
use infusio_store::OrderStatus;

use super::today;
use crate::html::{drug_name, e, hhmm_us, q};
use crate::{FormData, Viewer, page, page_with_error};

/// The board's status of one appointment and the findings that block it (if any).
pub(crate) fn status_of(row: &BoardRow) -> (&'static str, Vec<String>) {
    let blocking: Vec<String> = row
        .order
        .as_ref()
        .map(|o| {
            o.data
                .findings_json
                .as_array()
                .map(|fs| {
                    fs.iter()
                        .filter(|f| f["severity"] == "hard_stop")
                        .filter_map(|f| f["message"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        })
        .unwrap_or_default();
    if let Some((a, events)) = &row.administration {
        match a.data.status.as_str() {
            "in_progress" => {
                let reaction = events.iter().any(|ev| ev.data.kind == "reaction");
                return (if reaction { "reaction" } else { "running" }, blocking);
            }
            "completed" => return ("complete", blocking),
            "stopped" => return ("stopped", blocking),
            _ => {}
        }
    }
    if row.appointment.data.status == "arrived" {
        return ("in chair", blocking);
    }
    if row.appointment.data.status == "completed" {
        return ("complete", blocking);
    }
    let Some(o) = &row.order else {
        return ("booked", blocking);
    };
    let labs_pending = o.data.findings_json.as_array().is_some_and(|fs| {
        fs.iter().any(|f| {
            f["code"].as_str().is_some_and(|c| c.starts_with("lab.")) && f["severity"] != "info"
        })
    });
    let s = match o.data.status {
        OrderStatus::Draft => "awaiting signature",
        OrderStatus::Signed if labs_pending => "awaiting labs",
        OrderStatus::Signed => "awaiting verification",
        OrderStatus::Verified => "in preparation",
        OrderStatus::Prepared | OrderStatus::Scheduled => "ready",
        OrderStatus::InProgress => "running",
        OrderStatus::Completed => "complete",
        OrderStatus::Held => "held",
        OrderStatus::Cancelled => "cancelled",
        OrderStatus::Discontinued => "discontinued",
    };
    (s, blocking)
}

pub(crate) fn status_class(s: &str) -> &'static str {
    match s {
        "running" => "st-running",
        "reaction" | "held" | "stopped" => "st-alert",
        "complete" => "st-done",
        "ready" | "in chair" => "st-ready",
        "cancelled" | "discontinued" => "st-off",
        _ => "st-wait",
    }
}

pub async fn board(
    State(s): State<AppState>,
    viewer: Viewer,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let query = FormData(query);
    let date = query.get("date").map(str::to_string).unwrap_or_else(today);
    let title = format!("Today’s board — {date}");
    let rows = match s.app.board_day(viewer.actor(), &date).await {
        Ok(r) => r,
        Err(err) => return page_with_error(&title, &viewer, "board", &err, &date_form(&date)),
    };
    let names = s.app.user_names(viewer.actor()).await.unwrap_or_default();
    let body = render(&s, &rows, &names, &date);
    page(&title, &viewer, "board", &body)
}

fn date_form(date: &str) -> String {
    format!(
        "<form method=\"get\" action=\"/ui/board\" class=\"inline\"><label for=\"date\">Day (UTC)</label>\
         <input id=\"date\" name=\"date\" type=\"date\" value=\"{}\"><button type=\"submit\">Show</button></form>",
        e(date)
    )
}

fn render(s: &AppState, rows: &[BoardRow], names: &HashMap<String, String>, date: &str) -> String {
    let lib = s.app.library();
    let mut out = date_form(date);
    if rows.is_empty() {
        out.push_str("<p>No appointments on this day. <a href=\"/ui/schedule\">Book one</a>.</p>");
        return out;
    }
    // Time axis: whole hours covering every appointment (clipped to the day).
    let day_start = rows[0].appointment.data.start_at_us
        - rows[0]
            .appointment
            .data
            .start_at_us
            .rem_euclid(86_400_000_000);
    let hour = 3_600_000_000i64;
    let first_h = rows
        .iter()
        .map(|r| (r.appointment.data.start_at_us - day_start) / hour)
        .min()
        .unwrap_or(8)
        .clamp(0, 23);
    let last_h = rows
        .iter()
        .map(|r| (r.appointment.data.end_at_us - day_start + hour - 1) / hour)
        .max()
        .unwrap_or(18)
        .clamp(first_h + 1, 24);
    let slots = (last_h - first_h) * 4; // quarter hours
    let chairs: BTreeSet<&str> = rows
        .iter()
        .map(|r| r.appointment.data.chair.as_str())
        .collect();
    let _ = write!(
        out,
        "<h2>Chairs by time</h2><div class=\"board\" style=\"grid-template-columns: 5rem repeat({slots}, minmax(1.1rem, 1fr))\">\
         <div class=\"corner\">Chair</div>"
    );
    for h in first_h..last_h {
        let _ = write!(
            out,
            "<div class=\"hour\" style=\"grid-column: span 4\">{h:02}:00</div>"
        );
    }
    for (ci, chair) in chairs.iter().enumerate() {
        let row_n = ci + 2;
        let _ = write!(
            out,
            "<div class=\"chair\" style=\"grid-row: {row_n}; grid-column: 1\">{}</div>",
            e(chair)
        );
        for r in rows.iter().filter(|r| r.appointment.data.chair == *chair) {
            let a = &r.appointment.data;
            let start_slot = ((a.start_at_us - day_start - first_h * hour) / (hour / 4)).max(0);
            let end_slot = ((a.end_at_us - day_start - first_h * hour + hour / 4 - 1) / (hour / 4))
                .clamp(start_slot + 1, slots);
            let (status, blocking) = status_of(r);
            let patient = r
                .patient
                .as_ref()
                .map(|p| format!("{}, {}", p.data.family_name, p.data.given_name))
                .unwrap_or_else(|| "(patient)".into());
            let drug = r
                .order
                .as_ref()
                .map(|o| {
                    format!(
                        "{} {}",
                        drug_name(lib, &o.data.drug_id),
                        q(
                            infusio_app::patients::number(&o.data.dose),
                            &o.data.dose_unit
                        )
                    )
                })
                .unwrap_or_default();
            let nurse = r
                .administration
                .as_ref()
                .and_then(|(ad, _)| names.get(&ad.data.nurse_id))
                .map(|n| format!("Nurse: {n}"))
                .unwrap_or_else(|| "Nurse: not yet assigned".into());
            let href = r
                .order
                .as_ref()
                .map(|o| format!("/ui/orders/{}", o.id))
                .unwrap_or_else(|| format!("/ui/patients/{}", a.patient_id));
            let _ = write!(
                out,
                "<a class=\"appt {}{}\" href=\"{}\" data-status=\"{}\" style=\"grid-row: {row_n}; grid-column: {} / {}\">\
                 <span class=\"t\">{}–{}</span> <strong>{}</strong><span class=\"drug\">{}</span>\
                 <span class=\"status\">{}</span><span class=\"nurse\">{}</span>",
                status_class(status),
                if blocking.is_empty() { "" } else { " blocked" },
                e(&href),
                e(status),
                start_slot + 2,
                end_slot + 2,
                hhmm_us(a.start_at_us),
                hhmm_us(a.end_at_us),
                e(&patient),
                e(&drug),
                e(status),
                e(&nurse)
            );
            for b in &blocking {
                let _ = write!(out, "<span class=\"blocker\">✖ {}</span>", e(b));
            }
            out.push_str("</a>");
        }
    }
    out.push_str("</div>");
    // The same day as a list by time: for reading aloud and narrow screens.
    out.push_str("<h2>By time</h2><table class=\"by-time\"><thead><tr><th>Time</th><th>Chair</th><th>Patient</th><th>Drug</th><th>Status</th><th>Blocked by</th></tr></thead><tbody>");
    for r in rows {
        let (status, blocking) = status_of(r);
        let _ = write!(
            out,
            "<tr><td>{}–{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"alert-text\">{}</td></tr>",
            hhmm_us(r.appointment.data.start_at_us),
            hhmm_us(r.appointment.data.end_at_us),
            e(&r.appointment.data.chair),
            e(&r.patient
                .as_ref()
                .map(|p| format!("{}, {}", p.data.family_name, p.data.given_name))
                .unwrap_or_default()),
            match &r.order {
                Some(o) => format!(
                    "<a href=\"/ui/orders/{}\">{}</a>",
                    e(&o.id),
                    e(&drug_name(lib, &o.data.drug_id))
                ),
                None => String::new(),
            },
            crate::html::badge(status, status_class(status)),
            e(&blocking.join("; "))
        );
    }
    out.push_str("</tbody></table>");
    out
}
