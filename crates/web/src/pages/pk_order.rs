//! Vancomycin from levels to the order in one step: the levels fitted on the doses as
//! recorded (each administration's start, stop and volume infused, from the record), the
//! ranked regimens, and for each an "Order this regimen" button that makes the draft order
//! (`App::order_vancomycin_regimen`: every check of the order path, the fit, the target and
//! the regimen kept in its derivation). Warnings raised by the draft are shown with a reason
//! box each, and the same button sends the reasons.

use axum::extract::State;
use axum::response::Response;
use infusio_app::AppError;
use infusio_app::model_dosing::{
    RecordedDose, RegimenOrder, VancomycinAssessment, VancomycinLevels,
};
use infusio_app::time::{iso_from_us, parse_instant};
use infusio_server::AppState;
use maud::{Markup, html};
use serde_json::{Value as Json, json};

use super::{Posted, form_data};
use crate::html::{error_box, input, q};
use crate::{FormData, Viewer, page, see_other};

const US_PER_H: f64 = 3_600_000_000.0;

/// The measured levels of the form (`rec_level{1,2}_after_h`, `rec_level{1,2}_mg_l`), timed
/// from the start of the last recorded dose, as the API's `levels`.
fn levels_json(f: &FormData, doses: &[RecordedDose]) -> Result<Json, AppError> {
    let last = doses.last().ok_or_else(|| {
        AppError::state(
            "pk.no_recorded_dose",
            "no finished vancomycin administration is recorded for this patient",
        )
    })?;
    let last_us = parse_instant("doses.started_at", &last.started_at)?;
    let mut out = Vec::new();
    for i in 1..=2 {
        let after = f.get(&format!("rec_level{i}_after_h"));
        let mg_l = f.get(&format!("rec_level{i}_mg_l"));
        match (after, mg_l) {
            (Some(a), Some(c)) => {
                let h: f64 = a
                    .parse()
                    .ok()
                    .filter(|h: &f64| (0.0..=72.0).contains(h))
                    .ok_or_else(|| {
                        AppError::invalid(
                            format!("rec_level{i}_after_h"),
                            a,
                            "hours after the start of the last recorded dose, 0 to 72",
                        )
                    })?;
                out.push(json!({"at": iso_from_us(last_us + (h * US_PER_H) as i64), "concentration": format!("{c} mg/L")}));
            }
            (None, None) => {}
            _ => {
                return Err(AppError::invalid(
                    format!("rec_level{i}"),
                    "",
                    "both the time after the last recorded dose and the concentration",
                ));
            }
        }
    }
    Ok(Json::Array(out))
}

fn doses_table(doses: &[RecordedDose]) -> Markup {
    html! {
        table data-recorded-doses {
            thead { tr { th { "Started" } th { "Stopped" } th { "Ordered" } th { "Infused" } th { "Counted as given" } } }
            tbody {
                @for d in doses {
                    tr {
                        td { (crate::html::when(&d.started_at)) }
                        td { (crate::html::when(&d.stopped_at)) }
                        td.num { (q(d.ordered_mg, "mg")) }
                        td.num { @if let Some(v) = d.volume_infused_ml { (q(v, "mL")) } @else { "not reported" } }
                        td.num title=(d.basis) { (q(d.given_mg, "mg")) }
                    }
                }
            }
        }
    }
}

fn hidden_levels(f: &FormData) -> Markup {
    html! {
        @for i in 1..=2 {
            @for key in [format!("rec_level{i}_after_h"), format!("rec_level{i}_mg_l")] {
                @if let Some(v) = f.get(&key) { input type="hidden" name=(key) value=(v); }
            }
        }
    }
}

fn regimens(viewer: &Viewer, patient_id: &str, a: &VancomycinAssessment, f: &FormData) -> Markup {
    html! {
        p {
            "Fitted on the doses as given: " (a.fit.individual) " (population " (a.fit.typical) "). Model "
            (a.model) @if !a.model_verified { " " strong.alert-text { "(parameters not verified against the publication)" } }
            ". Target AUC24 " (q(a.target.auc24_low_mg_h_per_l, "mg·h/L")) " to " (q(a.target.auc24_high_mg_h_per_l, "mg·h/L")) "."
        }
        table data-record-regimens {
            thead { tr { th { "Dose" } th { "Every" } th { "Over" } th { "AUC24" } th { "On target" } th {} } }
            tbody {
                @for r in &a.regimens {
                    tr {
                        td.num { (q(r.dose_mg, "mg")) }
                        td.num { (q(r.interval_h, "h")) }
                        td.num { (q(r.duration_h, "h")) }
                        td.num { (q(r.auc24_mg_h_per_l.round(), "mg·h/L")) }
                        td { @if r.meets_target { "✓ yes" } @else { "✗ no" } }
                        td {
                            form method="post" action="/ui/pk/vancomycin/order" {
                                (viewer.csrf_field())
                                input type="hidden" name="patient_id" value=(patient_id);
                                (hidden_levels(f))
                                input type="hidden" name="dose_mg" value=(r.dose_mg);
                                input type="hidden" name="interval_h" value=(r.interval_h);
                                input type="hidden" name="duration_h" value=(r.duration_h);
                                button type="submit" class="primary" { "Order this regimen" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The section of the vancomycin page that works from the record.
pub(crate) async fn section(
    s: &AppState,
    viewer: &Viewer,
    patient_id: &str,
    f: &FormData,
) -> Markup {
    let doses = match s.app.vancomycin_doses(viewer.actor(), patient_id).await {
        Ok(d) => d,
        Err(e) => return error_box(&e),
    };
    if doses.is_empty() {
        return html! { section.card data-from-record { h2 { "From the record" } p.muted { "No finished vancomycin administration is recorded yet." } } };
    }
    let answer = if f.get("rec_level1_mg_l").is_some() {
        let assessed = async {
            let levels = levels_json(f, &doses)?;
            let input = VancomycinLevels::try_from(&json!({"levels": levels}))?;
            s.app
                .vancomycin_assessment(viewer.actor(), patient_id, &input)
                .await
        }
        .await;
        match assessed {
            Ok(a) => regimens(viewer, patient_id, &a, f),
            Err(e) => error_box(&e),
        }
    } else {
        html! {}
    };
    html! {
        section.card data-from-record {
            h2 { "From the record: doses as given" }
            (doses_table(&doses))
            form method="get" action="/ui/pk/vancomycin" {
                input type="hidden" name="patient_id" value=(patient_id);
                div.grid {
                    div { (input("rec_level1_after_h", "Level 1: hours after the start of the last recorded dose", f.val("rec_level1_after_h"), "e.g. 2")) }
                    div { (input("rec_level1_mg_l", "Level 1 measured (mg/L)", f.val("rec_level1_mg_l"), "e.g. 30")) }
                    div { (input("rec_level2_after_h", "Level 2: hours after the start of the last recorded dose", f.val("rec_level2_after_h"), "optional")) }
                    div { (input("rec_level2_mg_l", "Level 2 measured (mg/L)", f.val("rec_level2_mg_l"), "optional")) }
                }
                div.actions { button type="submit" { "Fit on the doses as given" } }
            }
            (answer)
        }
    }
}

fn num(f: &FormData, key: &str) -> Result<f64, AppError> {
    let v = f.val(key);
    v.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| AppError::invalid(key, v, "a number"))
}

/// `POST /ui/pk/vancomycin/order`: the chosen regimen becomes a draft order.
pub async fn order(State(s): State<AppState>, viewer: Viewer, posted: Posted) -> Response {
    let f = form_data(posted);
    let patient_id = f.val("patient_id").to_string();
    let result = async {
        viewer.check_csrf(&f)?;
        let doses = s.app.vancomycin_doses(viewer.actor(), &patient_id).await?;
        let overrides: Vec<Json> = f
            .with_prefix("override.")
            .map(|(code, reason)| json!({"code": code, "reason": reason}))
            .collect();
        let body = json!({
            "levels": levels_json(&f, &doses)?,
            "regimen": {
                "dose": format!("{} mg", num(&f, "dose_mg")?),
                "every": format!("{} h", num(&f, "interval_h")?),
                "over": format!("{} h", num(&f, "duration_h")?),
            },
            "overrides": overrides,
        });
        let input = RegimenOrder::try_from(&body)?;
        s.app
            .order_vancomycin_regimen(viewer.actor(), &patient_id, &input, None)
            .await
    }
    .await;
    match result {
        Ok(created) => see_other(&format!("/ui/orders/{}", created.order.id)),
        Err(err) => {
            let warnings: Vec<(String, String)> = match &err {
                AppError::Blocked {
                    code: "order.override_required",
                    findings,
                    ..
                } => findings
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|x| {
                                (
                                    x["code"].as_str().unwrap_or_default().to_string(),
                                    x["message"].as_str().unwrap_or_default().to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            let body = html! {
                (error_box(&err))
                @if !warnings.is_empty() {
                    form method="post" action="/ui/pk/vancomycin/order" class="card" {
                        (viewer.csrf_field())
                        @for key in ["patient_id", "dose_mg", "interval_h", "duration_h"] {
                            input type="hidden" name=(key) value=(f.val(key));
                        }
                        (hidden_levels(&f))
                        @for (code, message) in &warnings {
                            @let name = format!("override.{code}");
                            @let id = format!("ov-{}", code.replace('.', "-"));
                            div.override {
                                p.finding.warning data-code=(code) { strong { (crate::words::finding_title(code)) } " " (message) }
                                label for=(id) { "Reason to override “" (crate::words::finding_title(code)) "” (required to proceed)" }
                                textarea id=(id) name=(name) rows="2" { (f.val(&name)) }
                            }
                        }
                        div.actions { button type="submit" class="primary" { "Order this regimen" } }
                    }
                }
                p { a href={ "/ui/pk/vancomycin?patient_id=" (patient_id) } { "Back to vancomycin dosing" } }
            };
            page("Order a vancomycin regimen", &viewer, "patients", body)
        }
    }
}
