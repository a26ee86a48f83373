//! The audit trail with its chain verification.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::Response;
use infusio_server::AppState;

use crate::html::{e, when_us};
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
        Err(err) => return page_with_error(title, &viewer, "audit", &err, ""),
    };
    let head = report.head.seq;
    let from = query
        .get("from")
        .and_then(|f| f.parse::<i64>().ok())
        .unwrap_or((head - PAGE + 1).max(1));
    let mut b = match &report.broken {
        None => format!(
            "<div class=\"success\" role=\"status\" data-chain=\"intact\"><h2>✓ Chain intact</h2><p>{} events verified; head at sequence {} (hash <code>{}</code>).</p></div>",
            report.events_verified,
            head,
            e(&report.head.hash)
        ),
        Some(br) => format!(
            "<div class=\"error hardstop\" role=\"alert\" data-chain=\"broken\"><h2>✖ Chain broken at sequence {}</h2><p>{:?}: {}</p></div>",
            br.seq,
            br.kind,
            e(&br.detail)
        ),
    };
    let events = match s.app.audit_events(viewer.actor(), from, PAGE).await {
        Ok(ev) => ev,
        Err(err) => return page_with_error(title, &viewer, "audit", &err, &b),
    };
    let names = s.app.user_names(viewer.actor()).await.unwrap_or_default();
    let _ = write!(
        b,
        "<p>Events {} to {} of {}. {} {}</p>",
        from,
        (from + events.len() as i64 - 1).max(from),
        head,
        if from > 1 {
            format!(
                "<a href=\"/ui/audit?from={}\">← earlier</a>",
                (from - PAGE).max(1)
            )
        } else {
            String::new()
        },
        if from + PAGE <= head {
            format!("<a href=\"/ui/audit?from={}\">later →</a>", from + PAGE)
        } else {
            String::new()
        }
    );
    b.push_str("<table class=\"audit\"><thead><tr><th>Seq</th><th>When</th><th>Who</th><th>Action</th><th>Record</th><th>Reason</th><th>Hash</th></tr></thead><tbody>");
    for ev in events.iter().rev() {
        let _ = write!(
            b,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{} <small>({})</small></td><td>{}</td><td>{} <small>{}</small></td><td>{}</td><td><code title=\"{}\">{}</code></td></tr>",
            ev.seq,
            e(&when_us(ev.at_us)),
            e(names
                .get(&ev.actor)
                .map(String::as_str)
                .unwrap_or(&ev.actor)),
            e(&ev.actor_role),
            e(&ev.action),
            e(&ev.entity_type),
            e(&ev.entity_id),
            e(ev.reason.as_deref().unwrap_or("")),
            e(&ev.hash),
            e(&ev.hash[..12.min(ev.hash.len())])
        );
    }
    b.push_str("</tbody></table>");
    page(title, &viewer, "audit", &b)
}
