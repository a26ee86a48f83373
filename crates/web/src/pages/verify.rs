//! Pharmacist verification: the queue, the blind re-derivation (the pharmacist's own figures
//! first), then the comparison with the prescriber's and the differences highlighted.

use axum::extract::{Path, State};
use axum::response::Response;
use infusio_app::AppError;
use infusio_app::commands::BlindVerification;
use infusio_app::orders::OrderSeen;
use infusio_app::patients::{Chart, number};
use infusio_app::workflow::Difference;
use infusio_core::units::format_number;
use infusio_server::AppState;
use maud::{Markup, html};
use serde_json::{Value as Json, json};

use super::order::{order_header, version_of};
use super::{Posted, form_data};
use crate::html::{drug_name, input, q, select, when, when_us};
use crate::{FormData, Viewer, page, page_with_error};

pub async fn queue(State(s): State<AppState>, viewer: Viewer) -> Response {
    let lib = s.app.library();
    let orders =
        match crate::pages::orders_shown(&s.app, viewer.actor(), Some("signed"), None).await {
            Ok(orders) => orders,
            Err(err) => {
                return page_with_error("Verification queue", &viewer, "verify", &err, html! {});
            }
        };
    let mut rows = Vec::new();
    for o in &orders {
        let patient = match s.app.chart(viewer.actor(), &o.patient_id).await {
            Ok(c) => format!(
                "{}, {} ({})",
                c.patient.data.family_name, c.patient.data.given_name, c.patient.data.mrn
            ),
            Err(_) => o.patient_id.clone(),
        };
        rows.push((o, patient));
    }
    let body = html! {
        p { "Signed orders awaiting an independent pharmacist check. You will enter your own figures before you see the prescriber’s." }
        @if rows.is_empty() {
            p { "Nothing to verify." }
        } @else {
            table {
                thead { tr { th { "Drug" } th { "Patient" } th { "Signed" } th {} } }
                tbody {
                    @for (o, patient) in &rows {
                        tr {
                            td { (drug_name(lib, &o.medication)) }
                            td { (patient) }
                            td { (o.signed_at.as_deref().map(when).unwrap_or_default()) }
                            td { a.button.primary href={ "/ui/orders/" (o.id) "/verify" } { "Verify" } }
                        }
                    }
                }
            }
        }
    };
    page("Verification queue", &viewer, "verify", body)
}

/// The patient's latest measurements and laboratory results, one of each kind.
fn patient_data(c: &Chart) -> Markup {
    let mut seen = std::collections::HashSet::new();
    let measurements: Vec<_> = c
        .measurements
        .iter()
        .filter(|m| seen.insert(m.data.kind.clone()))
        .collect();
    let mut seen = std::collections::HashSet::new();
    let labs: Vec<_> = c
        .labs
        .iter()
        .filter(|l| seen.insert(l.data.name.clone()))
        .collect();
    html! {
        section.card {
            h2 { "Patient data" }
            ul {
                @for m in measurements {
                    li { (m.data.kind) " " (q(number(&m.data.value), &m.data.unit)) " (measured " (when_us(m.data.measured_at_us)) ")" }
                }
                @for l in labs {
                    li { (l.data.name.replace('_', " ")) " " (q(number(&l.data.value), &l.data.unit)) " (collected " (when_us(l.data.collected_at_us)) ")" }
                }
            }
        }
    }
}

/// The pharmacist's own figures, the decision and, after a block, a reason for each warning.
fn figures_form(
    viewer: &Viewer,
    id: &str,
    version: i64,
    f: &FormData,
    err: Option<&AppError>,
) -> Markup {
    let warnings: Vec<&str> = match err {
        Some(AppError::Blocked { findings, .. }) => findings
            .as_array()
            .map(|fs| {
                fs.iter()
                    .filter(|f| f["severity"] == "warning")
                    .map(|w| w["code"].as_str().unwrap_or(""))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let decisions = [
        ("verify".to_string(), "Verify".to_string()),
        ("reject".to_string(), "Reject".to_string()),
    ];
    html! {
        form method="post" action={ "/ui/orders/" (id) "/verify" } class="card" {
            (viewer.csrf_field())
            input type="hidden" name="version" value=(version);
            h2 { "Your independent figures" }
            div.grid {
                div { (input("dose", "Dose", f.val("dose"), "e.g. 340 mg")) }
                div { (input("volume", "Final volume", f.val("volume"), "e.g. 250 mL")) }
                div { (input("rate", "Rate", f.val("rate"), "e.g. 125 mL/h")) }
                div { (select("decision", "Decision", &decisions, f.val("decision"))) }
            }
            (input("note", "Note (the reason: required to reject; the prescriber reads it)", f.val("note"), "optional to verify"))
            @for code in warnings {
                @let name = format!("override.{code}");
                (input(&name, &format!("Reason to override “{}”", crate::words::finding_title(code)), f.val(&name), "required"))
            }
            div.actions { button type="submit" class="primary" { "Record my figures and compare" } }
        }
    }
}

async fn render(
    s: &AppState,
    viewer: &Viewer,
    id: &str,
    f: &FormData,
    err: Option<AppError>,
) -> Response {
    let title = "Verify order (blind)";
    let (seen, version) = match s.app.get_order(viewer.actor(), id).await {
        Ok(x) => x,
        Err(err) => return page_with_error(title, viewer, "verify", &err, html! {}),
    };
    // The request as the viewer may see it: the blind request (no figures) before
    // verification, drawn from the blind view itself.
    let request = match &seen {
        OrderSeen::Blind(b) => serde_json::to_value(&b.request),
        OrderSeen::Full(v) => serde_json::to_value(&v.request),
    }
    .unwrap_or_default();
    let v = crate::pages::shown(seen);
    let chart = s.app.chart(viewer.actor(), &v.patient_id).await.ok();
    let body = html! {
        (order_header(s, viewer, &v).await)
        // What the pharmacist re-derives from: the request without the prescriber's figures.
        section.card { h2 { "The order as written" } (crate::html::json_view(&request)) }
        @if let Some(c) = &chart { (patient_data(c)) }
        (figures_form(viewer, id, version, f, err.as_ref()))
    };
    match err {
        Some(err) => page_with_error(title, viewer, "verify", &err, body),
        None => page(title, viewer, "verify", body),
    }
}

pub async fn page_handler(s: &AppState, viewer: &Viewer, id: &str) -> Response {
    render(s, viewer, id, &FormData::default(), None).await
}

pub async fn view(State(s): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    page_handler(&s, &viewer, &id).await
}

pub async fn post(
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
        // The form is read through the API's strict reader, so the errors name the same
        // fields.
        for k in ["dose", "volume", "rate", "decision", "note"] {
            if let Some(v) = f.get(k) {
                body[k] = json!(v);
            }
        }
        let overrides: Vec<Json> = f
            .with_prefix("override.")
            .map(|(code, reason)| json!({"code": code, "reason": reason}))
            .collect();
        if !overrides.is_empty() {
            body["overrides"] = Json::Array(overrides);
        }
        let input = BlindVerification::try_from(&body)?;
        s.app
            .verify_order(viewer.actor(), &id, version, &input)
            .await
    }
    .await;
    let r = match result {
        Ok(r) => r,
        Err(err) => return render(&s, &viewer, &id, &f, Some(err)).await,
    };
    let verified = r.outcome == "verified";
    let body = html! {
        (order_header(&s, &viewer, &r.order).await)
        div class=(if verified { "success" } else { "error hardstop" }) role="status" data-outcome=(r.outcome.as_str()) {
            h2 {
                @if verified { "✓ Verified — your figures agree with the prescriber’s" }
                @else { "✗ Not verified — the order stays awaiting verification" }
            }
            p { "Tolerance: " (format_number(r.tolerance_percent, 2)) "% of the prescriber’s figure." }
        }
        (comparison(&r.differences))
        p {
            a.button.primary href={ "/ui/orders/" (id) } { "Back to the order" } " "
            a.button href="/ui/verify" { "Verification queue" }
        }
    };
    page("Verification result", &viewer, "verify", body)
}

/// The pharmacist's figures beside the prescriber's, each difference marked against the
/// tolerance.
fn comparison(differences: &[Difference]) -> Markup {
    html! {
        table.compare {
            thead { tr { th { "Figure" } th { "Yours" } th { "Prescriber’s" } th { "Difference" } } }
            tbody {
                @for d in differences {
                    @let unit = d.unit.as_str();
                    @let within = d.within_tolerance;
                    tr class=(if within { "diff-ok" } else { "diff-out" }) {
                        th scope="row" { (d.field) }
                        td.num { (q(d.pharmacist, unit)) }
                        td.num { (d.prescriber.map(|x| q(x, unit)).unwrap_or_else(|| "—".into())) }
                        td.num {
                            (d.difference_percent.map(|p| format!("{}%", format_number(p, 1))).unwrap_or_else(|| "n/a".into()))
                            @if !within { " ⚠ outside tolerance" }
                        }
                    }
                }
            }
        }
    }
}
