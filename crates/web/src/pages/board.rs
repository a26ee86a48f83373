//! The day board: chairs × time, each appointment with its patient, drug, nurse, status and,
//! for a blocked one, the finding that blocks it.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Query, State};
use axum::response::Response;
use infusio_app::returned::Returned;
use infusio_app::ui_support::BoardRow;
use infusio_core::library::Library;
use infusio_server::AppState;
use infusio_store::OrderStatus;
use maud::{Markup, html};

use super::today;
use crate::html::{badge, drug_name, hhmm_us, q};
use crate::{BOARD_MAX_HOURS, BOARD_MAX_ROWS, FormData, Viewer, page, page_with_error};

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
    let date = query
        .get("date")
        .map(str::to_string)
        .unwrap_or_else(|| today(&s.app));
    let title = format!("Today’s board — {date}");
    let rows = match s.app.board_day(viewer.actor(), &date).await {
        Ok(r) => r,
        Err(err) => return page_with_error(&title, &viewer, "board", &err, date_form(&date)),
    };
    let names = s.app.user_names(viewer.actor()).await.unwrap_or_default();
    let returned = s
        .app
        .returned_orders(viewer.actor())
        .await
        .unwrap_or_default();
    let body = html! {
        (returned_section(&s, &returned, &names))
        (render(&s, &rows, &names, &date))
    };
    page(&title, &viewer, "board", body)
}

/// Orders the pharmacy returned to their prescriber, with the reason: each to be edited and
/// signed again.
fn returned_section(
    s: &AppState,
    returned: &[Returned],
    names: &HashMap<String, String>,
) -> Markup {
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    html! {
        @if !returned.is_empty() {
            section.card.returned {
                h2 { "Returned by the pharmacy" }
                ul {
                    @for r in returned {
                        li {
                            a href={ "/ui/orders/" (r.order_id) } { (drug_name(s.app.library(), &r.drug_id)) }
                            " (prescriber " (name(&r.prescriber_id)) ") — returned by "
                            (name(&r.pharmacist_id)) " at " (r.returned_at) ": "
                            q.reason { (r.reason) }
                        }
                    }
                }
            }
        }
    }
}

fn date_form(date: &str) -> Markup {
    html! {
        form method="get" action="/ui/board" class="inline" {
            label for="date" { "Day (UTC)" }
            input id="date" name="date" type="date" value=(date);
            button type="submit" { "Show" }
        }
    }
}

fn render(s: &AppState, rows: &[BoardRow], names: &HashMap<String, String>, date: &str) -> Markup {
    let lib = s.app.library();
    html! {
        (date_form(date))
        @if rows.is_empty() {
            p { "No appointments on this day. " a href="/ui/schedule" { "Book one" } "." }
        } @else {
            (grid(lib, rows, names))
            (by_time(lib, rows))
        }
    }
}

const HOUR_US: i64 = 3_600_000_000;

/// The time axis of the grid: the start of the day and whole hours covering every
/// appointment (clipped to the day).
struct Axis {
    day_start: i64,
    first_h: i64,
    last_h: i64,
}

impl Axis {
    fn of(rows: &[BoardRow]) -> Axis {
        let first_start = rows
            .first()
            .map(|r| r.appointment.data.start_at_us)
            .unwrap_or(0);
        let day_start = first_start - first_start.rem_euclid(86_400_000_000);
        let first_h = rows
            .iter()
            .map(|r| (r.appointment.data.start_at_us - day_start) / HOUR_US)
            .min()
            .unwrap_or(8)
            .clamp(0, BOARD_MAX_HOURS - 1);
        let last_h = rows
            .iter()
            .map(|r| (r.appointment.data.end_at_us - day_start + HOUR_US - 1) / HOUR_US)
            .max()
            .unwrap_or(18)
            .clamp(first_h + 1, BOARD_MAX_HOURS);
        Axis {
            day_start,
            first_h,
            last_h,
        }
    }

    /// Quarter-hour columns.
    fn slots(&self) -> i64 {
        (self.last_h - self.first_h) * 4
    }

    /// The first and last (exclusive) quarter-hour slot of an appointment.
    fn span(&self, start_us: i64, end_us: i64) -> (i64, i64) {
        let origin = self.day_start + self.first_h * HOUR_US;
        let quarter = HOUR_US / 4;
        let start_slot = ((start_us - origin) / quarter).max(0);
        let end_slot =
            ((end_us - origin + quarter - 1) / quarter).clamp(start_slot + 1, self.slots());
        (start_slot, end_slot)
    }
}

/// Chairs by time: one grid row per chair, one column per quarter hour. Positions are
/// classes of the stylesheet (the Content-Security-Policy allows no inline style).
fn grid(lib: &Library, rows: &[BoardRow], names: &HashMap<String, String>) -> Markup {
    let axis = Axis::of(rows);
    let chairs: BTreeSet<&str> = rows
        .iter()
        .map(|r| r.appointment.data.chair.as_str())
        .collect();
    html! {
        h2 { "Chairs by time" }
        div class={ "board cols-" (axis.last_h - axis.first_h) } {
            div.corner { "Chair" }
            @for h in axis.first_h..axis.last_h {
                div.hour { (format!("{h:02}:00")) }
            }
            @for (ci, chair) in chairs.iter().enumerate() {
                @let row_n = (ci + 2).min(BOARD_MAX_ROWS);
                div class={ "chair row-" (row_n) " from-1" } { (chair) }
                @for r in rows.iter().filter(|r| r.appointment.data.chair == *chair) {
                    (appointment(lib, r, names, &axis, row_n))
                }
            }
        }
    }
}

/// One appointment on the grid: time, patient, drug, status, nurse and what blocks it.
fn appointment(
    lib: &Library,
    r: &BoardRow,
    names: &HashMap<String, String>,
    axis: &Axis,
    row_n: usize,
) -> Markup {
    let a = &r.appointment.data;
    let (start_slot, end_slot) = axis.span(a.start_at_us, a.end_at_us);
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
    let class = format!(
        "appt {}{} row-{row_n} from-{} to-{}",
        status_class(status),
        if blocking.is_empty() { "" } else { " blocked" },
        start_slot + 2,
        end_slot + 2
    );
    html! {
        a class=(class) href=(href) data-status=(status) {
            span.t { (hhmm_us(a.start_at_us)) "–" (hhmm_us(a.end_at_us)) }
            " "
            strong { (patient) }
            span.drug { (drug) }
            span.status { (status) }
            span.nurse { (nurse) }
            @for b in &blocking { span.blocker { "✖ " (b) } }
        }
    }
}

/// The same day as a list by time: for reading aloud and narrow screens.
fn by_time(lib: &Library, rows: &[BoardRow]) -> Markup {
    html! {
        h2 { "By time" }
        table.by-time {
            thead { tr { th { "Time" } th { "Chair" } th { "Patient" } th { "Drug" } th { "Status" } th { "Blocked by" } } }
            tbody {
                @for r in rows {
                    @let (status, blocking) = status_of(r);
                    tr {
                        td { (hhmm_us(r.appointment.data.start_at_us)) "–" (hhmm_us(r.appointment.data.end_at_us)) }
                        td { (r.appointment.data.chair) }
                        td { (r.patient.as_ref().map(|p| format!("{}, {}", p.data.family_name, p.data.given_name)).unwrap_or_default()) }
                        td {
                            @if let Some(o) = &r.order {
                                a href={ "/ui/orders/" (o.id) } { (drug_name(lib, &o.data.drug_id)) }
                            }
                        }
                        td { (badge(status, status_class(status))) }
                        td.alert-text { (blocking.join("; ")) }
                    }
                }
            }
        }
    }
}
