//! The audit trail with its chain verification.

use axum::extract::{Query, State};
use axum::response::Response;
use infusio_server::AppState;
use infusio_store::AuditEvent;
use maud::{Markup, html};
use std::collections::HashMap;

use crate::html::when_us;
use crate::{FormData, Viewer, page, page_with_error};

const PAGE: i64 = 100;

pub async fn view(
    State(s): State<AppState>,
    viewer: Viewer,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let title = "Audit trail";
    let query = FormData(query);
    let report = match s.app.audit_verify(viewer.actor()).await {
        Ok(r) => r,
        Err(err) => return page_with_error(title, &viewer, "audit", &err, html! {}),
    };
    let head = report.head.seq;
    let from = query
        .get("from")
        .and_then(|f| f.parse::<i64>().ok())
        .unwrap_or((head - PAGE + 1).max(1));
    let chain = match &report.broken {
        None => html! {
            div.success role="status" data-chain="intact" {
                h2 { "✓ Chain intact" }
                p { (report.events_verified) " events verified; head at sequence " (head)
                    " (hash " code { (report.head.hash) } ")." }
            }
        },
        Some(br) => html! {
            div.error.hardstop role="alert" data-chain="broken" {
                h2 { "✖ Chain broken at sequence " (br.seq) }
                p { (format!("{:?}", br.kind)) ": " (br.detail) }
            }
        },
    };
    let events = match s.app.audit_events(viewer.actor(), from, PAGE).await {
        Ok(ev) => ev,
        Err(err) => return page_with_error(title, &viewer, "audit", &err, chain),
    };
    let names = s.app.user_names(viewer.actor()).await.unwrap_or_default();
    let last = (from + events.len() as i64 - 1).max(from);
    let body = html! {
        (chain)
        p {
            "Events " (from) " to " (last) " of " (head) ". "
            @if from > 1 { a href={ "/ui/audit?from=" ((from - PAGE).max(1)) } { "← earlier" } }
            " "
            @if from + PAGE <= head { a href={ "/ui/audit?from=" (from + PAGE) } { "later →" } }
        }
        (events_table(&events, &names))
    };
    page(title, &viewer, "audit", body)
}

/// The events of one page of the trail, newest first.
fn events_table(events: &[AuditEvent], names: &HashMap<String, String>) -> Markup {
    html! {
        table.audit {
            thead { tr { th { "Seq" } th { "When" } th { "Who" } th { "Action" } th { "Record" } th { "Reason" } th { "Hash" } } }
            tbody {
                @for ev in events.iter().rev() {
                    tr {
                        td.num { (ev.seq) }
                        td { (when_us(ev.at_us)) }
                        td { (names.get(&ev.actor).map(String::as_str).unwrap_or(&ev.actor)) " " small { "(" (ev.actor_role) ")" } }
                        td { (ev.action) }
                        td { (ev.entity_type) " " small { (ev.entity_id) } }
                        td { (ev.reason.as_deref().unwrap_or("")) }
                        td { code title=(ev.hash) { (ev.hash[..12.min(ev.hash.len())]) } }
                    }
                }
            }
        }
    }
}
