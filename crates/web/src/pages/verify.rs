//! Pharmacist verification: the queue, the blind re-derivation (the pharmacist's own figures
//! first), then the comparison with the prescriber's and the differences highlighted.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::response::Response;
use infusio_app::AppError;
use infusio_app::patients::number;
use infusio_core::units::format_number;
use infusio_server::AppState;
use serde_json::{Value as Json, json};

use super::order::{order_header, version_of};
use super::{Posted, form_data};
use crate::html::{drug_name, e, input, q, select, when, when_us};
use crate::{FormData, Viewer, page, page_with_error};

pub async fn queue(State(s): State<AppState>, viewer: Viewer) -> Response {
    let lib = s.app.library();
    match s
        .app
        .list_orders(viewer.actor(), Some("signed"), None)
        .await
    {
        Ok(orders) => {
            let mut b = String::from(
                "<p>Signed orders awaiting an independent pharmacist check. You will enter your own figures before you see the prescriber’s.</p>",
            );
            if orders.is_empty() {
                b.push_str("<p>Nothing to verify.</p>");
            } else {
                b.push_str("<table><thead><tr><th>Drug</th><th>Patient</th><th>Signed</th><th></th></tr></thead><tbody>");
                for o in orders {
                    let patient = match s.app.chart(viewer.actor(), &o.patient_id).await {
                        Ok(c) => format!(
                            "{}, {} ({})",
                            c.patient.data.family_name,
                            c.patient.data.given_name,
                            c.patient.data.mrn
                        ),
                        Err(_) => o.patient_id.clone(),
                    };
                    let _ = write!(
                        b,
                        "<tr><td>{}</td><td>{}</td><td>{}</td><td><a class=\"button primary\" href=\"/ui/orders/{}/verify\">Verify</a></td></tr>",
                        e(&drug_name(lib, &o.medication)),
                        e(&patient),
                        e(&o.signed_at.as_deref().map(when).unwrap_or_default()),
                        e(&o.id)
                    );
                }
                b.push_str("</tbody></table>");
            }
            page("Verification queue", &viewer, "verify", &b)
        }
        Err(err) => page_with_error("Verification queue", &viewer, "verify", &err, ""),
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
    let (v, version) = match s.app.get_order(viewer.actor(), id).await {
        Ok(x) => x,
        Err(err) => return page_with_error(title, viewer, "verify", &err, ""),
    };
    let mut b = order_header(s, viewer, &v).await;
    // What the pharmacist re-derives from: the request without the prescriber's figures.
    b.push_str("<section class=\"card\"><h2>The order as written</h2>");
    b.push_str(&crate::html::json_view(&v.request));
    b.push_str("</section>");
    if let Ok(c) = s.app.chart(viewer.actor(), &v.patient_id).await {
        b.push_str("<section class=\"card\"><h2>Patient data</h2><ul>");
        let mut seen = std::collections::HashSet::new();
        for m in c
            .measurements
            .iter()
            .filter(|m| seen.insert(m.data.kind.clone()))
        {
            let _ = write!(
                b,
                "<li>{} {} (measured {})</li>",
                e(&m.data.kind),
                e(&q(number(&m.data.value), &m.data.unit)),
                e(&when_us(m.data.measured_at_us))
            );
        }
        let mut seen = std::collections::HashSet::new();
        for l in c.labs.iter().filter(|l| seen.insert(l.data.name.clone())) {
            let _ = write!(
                b,
                "<li>{} {} (collected {})</li>",
                e(&l.data.name.replace('_', " ")),
                e(&q(number(&l.data.value), &l.data.unit)),
                e(&when_us(l.data.collected_at_us))
            );
        }
        b.push_str("</ul></section>");
    }
    let extra = match &err {
        Some(AppError::Blocked { findings, .. }) => findings
            .as_array()
            .map(|fs| {
                fs.iter()
                    .filter(|f| f["severity"] == "warning")
                    .map(|w| {
                        let code = w["code"].as_str().unwrap_or("");
                        let name = format!("override.{code}");
                        input(
                            &name,
                            &format!("Reason to override {code}"),
                            f.val(&name),
                            "required",
                        )
                    })
                    .collect::<String>()
            })
            .unwrap_or_default(),
        _ => String::new(),
    };
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/ui/orders/{}/verify\" class=\"card\">{}<input type=\"hidden\" name=\"version\" value=\"{version}\">\
         <h2>Your independent figures</h2><div class=\"grid\"><div>{}</div><div>{}</div><div>{}</div><div>{}</div></div>{}{extra}\
         <div class=\"actions\"><button type=\"submit\" class=\"primary\">Record my figures and compare</button></div></form>",
        e(id),
        viewer.csrf_field(),
        input("dose", "Dose", f.val("dose"), "e.g. 340 mg"),
        input("volume", "Final volume", f.val("volume"), "e.g. 250 mL"),
        input("rate", "Rate", f.val("rate"), "e.g. 125 mL/h"),
        select(
            "decision",
            "Decision",
            &[
                ("verify".into(), "Verify".into()),
                ("reject".into(), "Reject".into())
            ],
            f.val("decision")
        ),
        input("note", "Note", f.val("note"), "optional"),
    );
    match err {
        Some(err) => page_with_error(title, viewer, "verify", &err, &b),
        None => page(title, viewer, "verify", &b),
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
        s.app
            .verify_order(viewer.actor(), &id, version, &body)
            .await
    }
    .await;
    let r = match result {
        Ok(r) => r,
        Err(err) => return render(&s, &viewer, &id, &f, Some(err)).await,
    };
    let title = "Verification result";
    let mut b = order_header(&s, &viewer, &r.order).await;
    let _ = write!(
        b,
        "<div class=\"{}\" role=\"status\" data-outcome=\"{}\"><h2>{}</h2><p>Tolerance: {}% of the prescriber’s figure.</p></div>",
        if r.outcome == "verified" {
            "success"
        } else {
            "error hardstop"
        },
        e(&r.outcome),
        if r.outcome == "verified" {
            "✓ Verified — your figures agree with the prescriber’s"
        } else {
            "✗ Not verified — the order stays awaiting verification"
        },
        e(&format_number(r.tolerance_percent, 2))
    );
    b.push_str("<table class=\"compare\"><thead><tr><th>Figure</th><th>Yours</th><th>Prescriber’s</th><th>Difference</th></tr></thead><tbody>");
    for d in &r.differences {
        let unit = d["unit"].as_str().unwrap_or("");
        let within = d["within_tolerance"] == true;
        let _ = write!(
            b,
            "<tr class=\"{}\"><th scope=\"row\">{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}{}</td></tr>",
            if within { "diff-ok" } else { "diff-out" },
            e(d["field"].as_str().unwrap_or("")),
            e(&d["pharmacist"]
                .as_f64()
                .map(|x| q(x, unit))
                .unwrap_or_default()),
            e(&d["prescriber"]
                .as_f64()
                .map(|x| q(x, unit))
                .unwrap_or_else(|| "—".into())),
            e(&d["difference_percent"]
                .as_f64()
                .map(|p| format!("{}%", format_number(p, 1)))
                .unwrap_or_else(|| "n/a".into())),
            if within { "" } else { " ⚠ outside tolerance" }
        );
    }
    let _ = write!(
        b,
        "</tbody></table><p><a class=\"button primary\" href=\"/ui/orders/{}\">Back to the order</a> <a class=\"button\" href=\"/ui/verify\">Verification queue</a></p>",
        e(&id)
    );
    page(title, &viewer, "verify", &b)
}
