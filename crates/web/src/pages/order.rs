//! New order (with the engine's live derivation and findings), the order page with its
//! history, signing, and the simple steps (hold, release, cancel, discontinue).

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use infusio_app::orders::OrderView;
use infusio_app::ui_support::OrderActivity;
use infusio_app::{App, AppError};
use infusio_server::AppState;
use infusio_store::OrderStatus;
use serde_json::{Value as Json, json};

use super::{Posted, form_data};
use crate::html::{
    badge, drug_name, e, findings_list, input, q, qty_json, select, steps, when, when_us,
};
use crate::{FormData, Viewer, page, page_with_error, see_other};

const ORDER_FIELDS: &[(&str, &str, &str)] = &[
    (
        "dose_per",
        "Dose per body measure",
        "e.g. 5 mg/kg or 375 mg/m2",
    ),
    ("dose", "…or a flat dose", "e.g. 600 mg"),
    ("max_dose", "Maximum dose (cap)", "e.g. 1000 mg"),
    (
        "rounding_increment",
        "Round dose to a multiple of",
        "e.g. 100 mg",
    ),
    (
        "rounding_tolerance_percent",
        "Rounding tolerance (%)",
        "e.g. 10",
    ),
    ("route", "Route", "iv"),
    ("volume", "Final volume", "e.g. 250 mL"),
    ("duration", "Infusion duration", "e.g. 2 h or 30 min"),
    ("frequency", "Frequency", "e.g. q8w, q21d, once"),
    ("infusion_number", "Infusion number", "e.g. 1"),
    ("product", "Product (library id)", "optional"),
    ("indication", "Indication", "optional"),
];

/// The order request as JSON from the form: only the fields given.
fn request_json(f: &FormData) -> Result<Json, AppError> {
    let mut m = serde_json::Map::new();
    for k in ["patient_id", "medication"] {
        if let Some(v) = f.get(k) {
            m.insert(k.into(), json!(v));
        }
    }
    for (k, _, _) in ORDER_FIELDS {
        if k.starts_with("rounding_") || *k == "infusion_number" {
            continue;
        }
        if let Some(v) = f.get(k) {
            m.insert((*k).into(), json!(v));
        }
    }
    for k in ["weight_basis", "line"] {
        if let Some(v) = f.get(k) {
            m.insert(k.into(), json!(v));
        }
    }
    if let Some(n) = f.get("infusion_number") {
        let v: f64 = n.parse().map_err(|_| {
            AppError::invalid("infusion_number", n, "a whole number from 1 to 1000")
        })?;
        m.insert("infusion_number".into(), json!(v));
    }
    if let Some(inc) = f.get("rounding_increment") {
        let mut r = json!({"increment": inc});
        if let Some(t) = f.get("rounding_tolerance_percent") {
            let v: f64 = t.parse().map_err(|_| {
                AppError::invalid(
                    "rounding_tolerance_percent",
                    t,
                    "a number of percent, e.g. 10",
                )
            })?;
            r["tolerance_percent"] = json!(v);
        }
        m.insert("rounding".into(), r);
    }
    Ok(Json::Object(m))
}

/// `override.<code>` fields → `[{"code", "reason"}]`.
fn overrides_json(f: &FormData) -> Json {
    Json::Array(
        f.with_prefix("override.")
            .map(|(code, reason)| json!({"code": code, "reason": reason}))
            .collect(),
    )
}

fn override_fields(warnings: &[&Json], f: &FormData) -> String {
    let mut out = String::new();
    for w in warnings {
        let code = w["code"].as_str().unwrap_or("");
        let name = format!("override.{code}");
        let id = format!("ov-{}", code.replace('.', "-"));
        let _ = write!(
            out,
            "<div class=\"override\"><p class=\"finding warning\"><strong>Warning</strong> <code>{}</code> {}</p>\
             <label for=\"{}\">Reason to override {} (required to proceed)</label>\
             <textarea id=\"{}\" name=\"{}\" rows=\"2\">{}</textarea></div>",
            e(code),
            e(w["message"].as_str().unwrap_or("")),
            e(&id),
            e(code),
            e(&id),
            e(&name),
            e(f.val(&name))
        );
    }
    out
}

fn order_form(app: &App, viewer: &Viewer, f: &FormData) -> String {
    let lib = app.library();
    let mut meds: Vec<(String, String)> = lib
        .entries()
        .iter()
        .map(|d| (d.id.clone(), drug_name(lib, &d.id)))
        .collect();
    meds.sort_by_key(|(_, n)| n.to_lowercase());
    meds.insert(0, (String::new(), "— choose —".into()));
    let mut out = format!(
        "<form method=\"post\" action=\"/ui/orders/new\" class=\"card order-form\">{}\
         <input type=\"hidden\" name=\"patient_id\" value=\"{}\">\
         <input type=\"hidden\" name=\"idem\" value=\"{}\"><div class=\"grid\"><div>{}</div>",
        viewer.csrf_field(),
        e(f.val("patient_id")),
        e(f.get("idem")
            .map(str::to_string)
            .unwrap_or_else(infusio_store::new_id)
            .as_str()),
        select("medication", "Drug", &meds, f.val("medication"))
    );
    for (k, label, hint) in ORDER_FIELDS {
        let default = if *k == "route" && f.get("route").is_none() {
            "iv"
        } else {
            f.val(k)
        };
        let _ = write!(out, "<div>{}</div>", input(k, label, default, hint));
    }
    let opts = |xs: &[&str]| -> Vec<(String, String)> {
        xs.iter()
            .map(|x| {
                (
                    x.to_string(),
                    if x.is_empty() {
                        "—".into()
                    } else {
                        x.to_string()
                    },
                )
            })
            .collect()
    };
    let _ = write!(
        out,
        "<div>{}</div><div>{}</div></div>",
        select(
            "weight_basis",
            "Weight basis",
            &opts(&["", "actual", "ideal", "adjusted", "lean", "auto"]),
            f.val("weight_basis")
        ),
        select(
            "line",
            "Line",
            &opts(&["", "peripheral", "central"]),
            f.val("line")
        )
    );
    out
}

/// The embedded protocol templates, loaded once.
fn protocols() -> &'static [infusio_core::plan::protocol::Protocol] {
    static P: std::sync::OnceLock<Vec<infusio_core::plan::protocol::Protocol>> =
        std::sync::OnceLock::new();
    P.get_or_init(|| infusio_app::plans::builtin_protocols().unwrap_or_default())
}

/// The order fields of one drug line of a protocol (`protocol-id|phase|drug`), for the form.
/// A dose from a formula (Calvert AUC, Ganzoni …) is left for the prescriber to enter.
fn from_protocol(key: &str) -> Option<(Vec<(String, String)>, String)> {
    use infusio_core::plan::protocol::DoseBasis;
    let mut parts = key.split('|');
    let (pid, ph, dr) = (
        parts.next()?,
        parts.next()?.parse::<usize>().ok()?,
        parts.next()?.parse::<usize>().ok()?,
    );
    let p = protocols().iter().find(|p| p.id == pid)?;
    let phase = p.phases.get(ph)?;
    let d = phase.drugs.get(dr)?;
    let amount = format!(
        "{} {}",
        infusio_core::units::format_number(d.dose, 6).replace(',', ""),
        d.dose_unit
    );
    let mut f = vec![
        ("medication".to_string(), d.medication.clone()),
        ("route".to_string(), d.route.clone()),
    ];
    let mut note = format!("From protocol “{}”, phase {}.", p.name, phase.name);
    match d.basis {
        DoseBasis::PerKg | DoseBasis::PerM2 => f.push(("dose_per".into(), amount)),
        DoseBasis::Flat => f.push(("dose".into(), amount)),
        DoseBasis::PerAuc | DoseBasis::Formula => note.push_str(&format!(
            " The dose is {} by {}: enter it from the calculation.",
            amount,
            d.formula
                .clone()
                .unwrap_or_else(|| "the Calvert formula".into())
        )),
    }
    if let Some(m) = d.duration_min {
        f.push((
            "duration".into(),
            format!("{} min", infusio_core::units::format_number(m, 2)),
        ));
    }
    if let Some(v) = d.diluent.as_deref().and_then(|t| {
        let mut w = t.split_whitespace();
        let n = w.next()?;
        (w.next()? == "mL" && n.parse::<f64>().is_ok()).then(|| format!("{n} mL"))
    }) {
        f.push(("volume".into(), v));
    }
    for (k, v) in [
        ("product", &d.product),
        ("max_dose", &d.max_dose),
        ("frequency", &d.frequency),
    ] {
        if let Some(v) = v {
            f.push((k.into(), v.clone()));
        }
    }
    Some((f, note))
}

fn protocol_picker(
    lib: &infusio_core::library::Library,
    patient_id: &str,
    selected: &str,
) -> String {
    let mut opts = vec![(String::new(), "— choose a protocol drug —".to_string())];
    for p in protocols() {
        for (pi, ph) in p.phases.iter().enumerate() {
            for (di, d) in ph.drugs.iter().enumerate() {
                opts.push((
                    format!("{}|{pi}|{di}", p.id),
                    format!(
                        "{} — {} — {} {}",
                        p.name,
                        ph.name,
                        drug_name(lib, &d.medication),
                        q(d.dose, &d.dose_unit)
                    ),
                ));
            }
        }
    }
    format!(
        "<form method=\"get\" action=\"/ui/orders/new\" class=\"inline\"><input type=\"hidden\" name=\"patient_id\" value=\"{}\">{}<button type=\"submit\">Start from this protocol</button></form>",
        e(patient_id),
        select("from", "Start from a protocol", &opts, selected)
    )
}

async fn render_new(
    s: &AppState,
    viewer: &Viewer,
    f: &FormData,
    err: Option<AppError>,
) -> Response {
    let title = "New order";
    let Some(patient_id) = f.get("patient_id") else {
        let body = "<p>Choose the patient first: <a href=\"/ui/patients\">patient list</a>.</p>";
        return page(title, viewer, "patients", body);
    };
    let mut body = String::new();
    match s.app.chart(viewer.actor(), patient_id).await {
        Ok(c) => {
            let p = &c.patient.data;
            let _ = write!(
                body,
                "<p class=\"patient-banner\">Patient: <a href=\"/ui/patients/{}\"><strong>{}, {}</strong></a> {} · born {} · {}{}</p>",
                e(&c.patient.id),
                e(&p.family_name),
                e(&p.given_name),
                e(&p.mrn),
                e(&p.birth_date),
                e(&p.sex),
                if c.allergies.is_empty() {
                    String::new()
                } else {
                    format!(
                        " · <strong class=\"alert-text\">Allergies: {}</strong>",
                        e(&c.allergies
                            .iter()
                            .map(|a| a.data.substance.clone())
                            .collect::<Vec<_>>()
                            .join(", "))
                    )
                }
            );
        }
        Err(err) => return page_with_error(title, viewer, "patients", &err, ""),
    }
    body.push_str(&protocol_picker(s.app.library(), patient_id, f.val("from")));
    let prefilled;
    let f = match f.get("from").and_then(from_protocol) {
        Some((fields, note)) if f.get("medication").is_none() => {
            let _ = write!(body, "<p class=\"notice\">{}</p>", e(&note));
            let mut all = f.0.clone();
            all.extend(fields);
            prefilled = FormData(all);
            &prefilled
        }
        _ => f,
    };
    body.push_str(&order_form(&s.app, viewer, f));
    if f.get("medication") == Some("vancomycin") {
        let _ = write!(
            body,
            "<p><a class=\"button\" href=\"/ui/pk/vancomycin?patient_id={}\">Vancomycin dosing from levels (Bayesian)</a></p>",
            e(patient_id)
        );
    }
    // The engine's figures for what is on the form, when a drug is chosen.
    let mut preview_html = String::new();
    let mut can_create = false;
    if f.get("medication").is_some() {
        let req = request_json(f);
        let preview = match req {
            Ok(r) => s.app.preview_order(viewer.actor(), &r).await,
            Err(e) => Err(e),
        };
        match preview {
            Ok(p) => {
                let c = &p.computed;
                let hard = c.hard_stops();
                let warnings = c.warnings();
                let _ = write!(
                    preview_html,
                    "<section class=\"preview\" aria-live=\"polite\"><h2>Derived order</h2>\
                     <dl class=\"figures\"><dt>Dose</dt><dd data-figure=\"dose\">{}</dd><dt>Final volume</dt><dd data-figure=\"volume\">{}</dd>\
                     <dt>Rate</dt><dd data-figure=\"rate\">{}</dd><dt>Duration</dt><dd>{}</dd></dl>{}",
                    e(&q(c.dose, &c.dose_unit)),
                    e(&c.volume_ml
                        .map(|v| q(v, "mL"))
                        .unwrap_or_else(|| "—".into())),
                    e(&c.rate_ml_per_h
                        .map(|v| q(v, "mL/h"))
                        .unwrap_or_else(|| "—".into())),
                    e(&c.duration_h
                        .map(|v| q(v, "h"))
                        .unwrap_or_else(|| "—".into())),
                    if c.double_check {
                        "<p class=\"badge high-alert\">High-alert: independent double check at the bedside</p>"
                    } else {
                        ""
                    }
                );
                if !hard.is_empty() {
                    let _ = write!(
                        preview_html,
                        "<div class=\"error hardstop\" role=\"alert\" data-error=\"hard-stop\"><h2>✖ HARD STOP — this order cannot be created</h2>\
                         <p>Change the order; a hard stop cannot be overridden.</p>{}</div>",
                        findings_list(&Json::Array(hard.clone()))
                    );
                }
                let others: Vec<Json> = c
                    .findings
                    .iter()
                    .filter(|f| f["severity"] != "hard_stop" && f["severity"] != "warning")
                    .cloned()
                    .collect();
                let warn_refs: Vec<&Json> = warnings.iter().collect();
                if !warnings.is_empty() && hard.is_empty() {
                    preview_html.push_str("<h3>Warnings</h3>");
                    preview_html.push_str(&override_fields(&warn_refs, f));
                }
                if !others.is_empty() {
                    preview_html.push_str("<h3>Information</h3>");
                    preview_html.push_str(&findings_list(&Json::Array(others)));
                }
                preview_html
                    .push_str("<details open><summary>How each number was derived</summary>");
                let d = &c.derivation;
                if let Some(pt) = d["patient"].as_object() {
                    let mut facts = String::new();
                    if let Some(w) = pt.get("weight_kg").filter(|w| !w.is_null()) {
                        let _ = write!(
                            facts,
                            "Weight {} (measured {}). ",
                            e(&q(w["value"].as_f64().unwrap_or(f64::NAN), "kg")),
                            e(&when(w["measured_at"].as_str().unwrap_or("")))
                        );
                    }
                    if let Some(h) = pt.get("height_cm").filter(|h| !h.is_null()) {
                        let _ = write!(
                            facts,
                            "Height {} (measured {}). ",
                            e(&q(h["value"].as_f64().unwrap_or(f64::NAN), "cm")),
                            e(&when(h["measured_at"].as_str().unwrap_or("")))
                        );
                    }
                    let _ = write!(preview_html, "<p>{facts}</p>");
                }
                if !d["dose_calculation"].is_null() {
                    preview_html.push_str("<h3>Dose</h3>");
                    preview_html.push_str(&steps(&d["dose_calculation"]));
                }
                if !d["rate_calculation"].is_null() {
                    preview_html.push_str("<h3>Rate</h3>");
                    preview_html.push_str(&steps(&d["rate_calculation"]));
                }
                preview_html.push_str("<h3>Safety check</h3>");
                preview_html.push_str(&steps(&d["check"]));
                preview_html.push_str("</details></section>");
                can_create = hard.is_empty();
            }
            Err(err) => {
                preview_html.push_str(&crate::html::error_box(&err));
            }
        }
    }
    body.push_str("<div class=\"actions\"><button type=\"submit\" name=\"action\" value=\"preview\">Calculate / preview</button>");
    if can_create {
        body.push_str(" <button type=\"submit\" name=\"action\" value=\"create\" class=\"primary\">Create order</button>");
    } else if f.get("medication").is_some() {
        body.push_str(" <button type=\"button\" disabled aria-disabled=\"true\">Create order (blocked)</button>");
    }
    body.push_str("</div>");
    body.push_str(&preview_html);
    body.push_str("</form>");
    match err {
        Some(err) => page_with_error(title, viewer, "patients", &err, &body),
        None => page(title, viewer, "patients", &body),
    }
}

pub async fn new_page(
    State(s): State<AppState>,
    viewer: Viewer,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    render_new(&s, &viewer, &FormData(query), None).await
}

pub async fn new_post(State(s): State<AppState>, viewer: Viewer, posted: Posted) -> Response {
    let f = form_data(posted);
    if let Err(err) = viewer.check_csrf(&f) {
        return render_new(&s, &viewer, &f, Some(err)).await;
    }
    if f.get("action") != Some("create") {
        return render_new(&s, &viewer, &f, None).await;
    }
    let mut req = match request_json(&f) {
        Ok(r) => r,
        Err(err) => return render_new(&s, &viewer, &f, Some(err)).await,
    };
    req["overrides"] = overrides_json(&f);
    match s
        .app
        .create_order(viewer.actor(), &req, f.get("idem"))
        .await
    {
        Ok(created) => see_other(&format!("/ui/orders/{}", created.order.id)),
        Err(err) => render_new(&s, &viewer, &f, Some(err)).await,
    }
}

/// The order's figures as a definition list.
pub(crate) fn figures(v: &OrderView) -> String {
    if !v.figures_shown {
        return "<p class=\"notice\" data-blind=\"true\">Figures hidden: verify blind — enter your own dose, volume and rate first.</p>".into();
    }
    format!(
        "<dl class=\"figures\"><dt>Dose</dt><dd data-figure=\"dose\">{}</dd><dt>Final volume</dt><dd data-figure=\"volume\">{}</dd>\
         <dt>Rate</dt><dd data-figure=\"rate\">{}</dd><dt>Route</dt><dd>{}</dd></dl>",
        e(&v.dose
            .as_ref()
            .and_then(qty_json)
            .unwrap_or_else(|| "—".into())),
        e(&v.volume_ml
            .map(|x| q(x, "mL"))
            .unwrap_or_else(|| "—".into())),
        e(&v.rate_ml_per_h
            .map(|x| q(x, "mL/h"))
            .unwrap_or_else(|| "—".into())),
        e(&v.route)
    )
}

/// The pump programme's steps.
pub(crate) fn pump_table(prog: &Json) -> String {
    let Some(steps) = prog["steps"].as_array().filter(|s| !s.is_empty()) else {
        return "<p>No pump programme (no volume and duration ordered).</p>".into();
    };
    let mut out = String::from(
        "<table class=\"pump\"><thead><tr><th>Step</th><th>Rate</th><th>VTBI</th><th>Time</th></tr></thead><tbody>",
    );
    for (i, st) in steps.iter().enumerate() {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            i + 1,
            e(&st["rate_ml_per_h"]
                .as_f64()
                .map(|r| q(r, "mL/h"))
                .unwrap_or_default()),
            e(&st["vtbi_ml"]
                .as_f64()
                .map(|r| q(r, "mL"))
                .unwrap_or_default()),
            e(&st["duration_h"]
                .as_f64()
                .map(|r| q(r * 60.0, "min"))
                .unwrap_or_else(|| "until empty".into()))
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// The header of an order page: patient, drug, status.
pub(crate) async fn order_header(s: &AppState, viewer: &Viewer, v: &OrderView) -> String {
    let lib = s.app.library();
    let patient = match s.app.chart(viewer.actor(), &v.patient_id).await {
        Ok(c) => format!(
            "<a href=\"/ui/patients/{}\">{}, {}</a> {} · born {}{}",
            e(&c.patient.id),
            e(&c.patient.data.family_name),
            e(&c.patient.data.given_name),
            e(&c.patient.data.mrn),
            e(&c.patient.data.birth_date),
            if c.allergies.is_empty() {
                String::new()
            } else {
                format!(
                    " · <strong class=\"alert-text\">Allergies: {}</strong>",
                    e(&c.allergies
                        .iter()
                        .map(|a| a.data.substance.clone())
                        .collect::<Vec<_>>()
                        .join(", "))
                )
            }
        ),
        Err(_) => e(&v.patient_id).to_string(),
    };
    format!(
        "<section class=\"card order-head\"><p class=\"patient-banner\">Patient: {patient}</p>\
         <p class=\"drug-title\"><strong>{}</strong> {} {}</p></section>",
        e(&drug_name(lib, &v.medication)),
        badge(v.status.as_str(), v.status.as_str()),
        if v.high_alert {
            badge("high-alert · double check", "high-alert")
        } else {
            String::new()
        }
    )
}

fn activity_html(
    s: &AppState,
    act: &OrderActivity,
    names: &HashMap<String, String>,
    order_id: &str,
) -> String {
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    let mut out = String::new();
    if !act.verifications.is_empty() {
        out.push_str("<section><h2>Verifications</h2><table><thead><tr><th>When</th><th>Pharmacist</th><th>Outcome</th><th>Differences</th></tr></thead><tbody>");
        for v in &act.verifications {
            let diffs: Vec<String> = v
                .data
                .differences_json
                .as_array()
                .map(|ds| {
                    ds.iter()
                        .map(|d| {
                            format!(
                                "{}: {} vs {} ({})",
                                d["field"].as_str().unwrap_or(""),
                                d["pharmacist"]
                                    .as_f64()
                                    .map(|x| q(x, d["unit"].as_str().unwrap_or("")))
                                    .unwrap_or_default(),
                                d["prescriber"]
                                    .as_f64()
                                    .map(|x| q(x, d["unit"].as_str().unwrap_or("")))
                                    .unwrap_or_else(|| "—".into()),
                                d["difference_percent"]
                                    .as_f64()
                                    .map(|p| format!(
                                        "{}%",
                                        infusio_core::units::format_number(p, 1)
                                    ))
                                    .unwrap_or_else(|| "n/a".into())
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e(&when_us(v.data.verified_at_us)),
                e(&name(&v.data.pharmacist_id)),
                badge(&v.data.outcome, &v.data.outcome),
                e(&diffs.join("; "))
            );
        }
        out.push_str("</tbody></table></section>");
    }
    if !act.preparations.is_empty() {
        out.push_str("<section><h2>Preparations</h2>");
        for (p, comps) in &act.preparations {
            let _ = write!(
                out,
                "<div class=\"card\"><p>Prepared {} by {} · final volume {} · concentration {} · beyond use {} · bag barcode <code>{}</code> · {} · <a href=\"/ui/orders/{}/label\">label</a></p><ul>",
                e(&when_us(p.data.prepared_at_us)),
                e(&name(&p.data.prepared_by)),
                e(&q(
                    infusio_app::patients::number(&p.data.final_volume_ml),
                    "mL"
                )),
                e(&q(
                    infusio_app::patients::number(&p.data.concentration),
                    &p.data.concentration_unit
                )),
                e(&when_us(p.data.beyond_use_at_us)),
                e(&p.id),
                e(&p.data.status),
                e(order_id)
            );
            for c in comps {
                let _ = write!(
                    out,
                    "<li>{} · lot {} · expires {} · {}</li>",
                    e(&c.data.product),
                    e(&c.data.lot),
                    e(&c.data.expiry_date),
                    e(&q(
                        infusio_app::patients::number(&c.data.quantity),
                        &c.data.quantity_unit
                    ))
                );
            }
            out.push_str("</ul></div>");
        }
        out.push_str("</section>");
    }
    if !act.appointments.is_empty() {
        out.push_str("<section><h2>Appointments</h2><ul>");
        for a in &act.appointments {
            let _ = write!(
                out,
                "<li>Chair {} · {} – {} · {}</li>",
                e(&a.data.chair),
                e(&when_us(a.data.start_at_us)),
                e(&crate::html::hhmm_us(a.data.end_at_us)),
                e(&a.data.status)
            );
        }
        out.push_str("</ul></section>");
    }
    if !act.administrations.is_empty() {
        out.push_str("<section><h2>Administrations</h2><ul>");
        for (a, events) in &act.administrations {
            let _ = write!(
                out,
                "<li><a href=\"/ui/administrations/{}\">Started {}</a> by {}{} · {} · {} events</li>",
                e(&a.id),
                e(&when_us(a.data.started_at_us)),
                e(&name(&a.data.nurse_id)),
                a.data
                    .second_nurse_id
                    .as_ref()
                    .map(|n| format!(", double-checked by {}", e(&name(n))))
                    .unwrap_or_default(),
                e(&a.data.status.replace('_', " ")),
                events.len()
            );
        }
        out.push_str("</ul></section>");
    }
    let _ = s;
    out
}

fn step_form(
    viewer: &Viewer,
    id: &str,
    version: i64,
    step: &str,
    label: &str,
    reason: bool,
    danger: bool,
) -> String {
    format!(
        "<form method=\"post\" action=\"/ui/orders/{}/step\" class=\"step\"{}>{}\
         <input type=\"hidden\" name=\"version\" value=\"{version}\"><input type=\"hidden\" name=\"step\" value=\"{step}\">{}\
         <button type=\"submit\"{}>{label}</button></form>",
        e(id),
        if danger {
            format!(" data-confirm=\"{label}: are you sure? This cannot be undone.\"")
        } else {
            String::new()
        },
        viewer.csrf_field(),
        if reason {
            input(
                "reason",
                &format!("Reason to {}", label.to_lowercase()),
                "",
                "required",
            )
            .replace("id=\"f-reason\"", &format!("id=\"r-{step}\""))
            .replace("for=\"f-reason\"", &format!("for=\"r-{step}\""))
        } else {
            String::new()
        },
        if danger { " class=\"danger\"" } else { "" }
    )
}

pub(crate) async fn render_show(
    s: &AppState,
    viewer: &Viewer,
    id: &str,
    err: Option<AppError>,
    f: &FormData,
) -> Response {
    let (v, version) = match s.app.get_order(viewer.actor(), id).await {
        Ok(x) => x,
        Err(err) => return page_with_error("Order", viewer, "patients", &err, ""),
    };
    let lib = s.app.library();
    let title = format!("Order: {}", drug_name(lib, &v.medication));
    let names = s.app.user_names(viewer.actor()).await.unwrap_or_default();
    let act = s
        .app
        .order_activity(viewer.actor(), id)
        .await
        .unwrap_or_default();
    let mut b = order_header(s, viewer, &v).await;
    b.push_str(&figures(&v));
    let _ = write!(
        b,
        "<p>Prescriber: {} · written {}{}</p>",
        e(names
            .get(&v.prescriber_id)
            .map(String::as_str)
            .unwrap_or(&v.prescriber_id)),
        e(&when(&v.created_at)),
        v.signed_at
            .as_ref()
            .map(|t| format!(" · signed {}", e(&when(t))))
            .unwrap_or_default()
    );
    // What can be done next, by status.
    b.push_str("<section class=\"card next\"><h2>Next step</h2>");
    match v.status {
        OrderStatus::Draft => {
            let warnings: Vec<&Json> = v
                .findings
                .as_array()
                .map(|fs| {
                    fs.iter()
                        .filter(|f| f["severity"] == "warning")
                        .filter(|f| {
                            !v.overrides
                                .as_array()
                                .is_some_and(|os| os.iter().any(|o| o["code"] == f["code"]))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let _ = write!(
                b,
                "<form method=\"post\" action=\"/ui/orders/{}/sign\">{}<input type=\"hidden\" name=\"version\" value=\"{version}\">{}\
                 <button type=\"submit\" class=\"primary\">Sign order</button></form>",
                e(id),
                viewer.csrf_field(),
                override_fields(&warnings, f)
            );
        }
        OrderStatus::Signed => {
            let _ = write!(
                b,
                "<p>Awaiting pharmacist verification. <a class=\"button primary\" href=\"/ui/orders/{}/verify\">Verify (pharmacist)</a></p>",
                e(id)
            );
        }
        OrderStatus::Verified => {
            let _ = write!(
                b,
                "<p>Verified; awaiting preparation. <a class=\"button primary\" href=\"/ui/orders/{}/prepare\">Prepare</a></p>",
                e(id)
            );
        }
        OrderStatus::Prepared | OrderStatus::Scheduled => {
            let _ = write!(
                b,
                "<p>Prepared{}. <a class=\"button primary\" href=\"/ui/orders/{}/administer\">Administer at the bedside</a> <a class=\"button\" href=\"/ui/orders/{}/label\">Label</a></p>",
                if v.status == OrderStatus::Scheduled {
                    " and scheduled"
                } else {
                    ""
                },
                e(id),
                e(id)
            );
        }
        OrderStatus::InProgress => {
            if let Some((a, _)) = act
                .administrations
                .iter()
                .rev()
                .find(|(a, _)| a.data.status == "in_progress")
            {
                let _ = write!(
                    b,
                    "<p>Running. <a class=\"button primary\" href=\"/ui/administrations/{}\">Open the administration</a></p>",
                    e(&a.id)
                );
            }
        }
        other => {
            let _ = write!(
                b,
                "<p>This order is {}.</p>",
                e(other.as_str().replace('_', " ").as_str())
            );
        }
    }
    let bookable = matches!(
        v.status,
        OrderStatus::Draft | OrderStatus::Signed | OrderStatus::Verified | OrderStatus::Prepared
    ) && !act.appointments.iter().any(|a| a.data.status == "booked");
    if bookable {
        let _ = write!(
            b,
            "<p><a class=\"button\" href=\"/ui/schedule?patient_id={}&amp;order_id={}\">Book a chair for this order</a></p>",
            e(&v.patient_id),
            e(id)
        );
    }
    if v.medication == "vancomycin" {
        let _ = write!(
            b,
            "<p><a class=\"button\" href=\"/ui/pk/vancomycin?patient_id={}\">Vancomycin dosing from levels</a></p>",
            e(&v.patient_id)
        );
    }
    b.push_str("<details class=\"other-actions\"><summary>Hold, cancel, discontinue</summary>");
    match v.status {
        OrderStatus::Held => b.push_str(&step_form(
            viewer, id, version, "release", "Release", false, false,
        )),
        OrderStatus::Signed
        | OrderStatus::Verified
        | OrderStatus::Prepared
        | OrderStatus::Scheduled => {
            b.push_str(&step_form(viewer, id, version, "hold", "Hold", true, false))
        }
        _ => {}
    }
    if matches!(
        v.status,
        OrderStatus::Draft
            | OrderStatus::Signed
            | OrderStatus::Verified
            | OrderStatus::Prepared
            | OrderStatus::Scheduled
            | OrderStatus::Held
    ) {
        b.push_str(&step_form(
            viewer,
            id,
            version,
            "cancel",
            "Cancel order",
            true,
            true,
        ));
    }
    if matches!(
        v.status,
        OrderStatus::Verified
            | OrderStatus::Prepared
            | OrderStatus::Scheduled
            | OrderStatus::InProgress
            | OrderStatus::Held
    ) {
        b.push_str(&step_form(
            viewer,
            id,
            version,
            "discontinue",
            "Discontinue",
            true,
            true,
        ));
    }
    b.push_str("</details></section>");
    if v.figures_shown {
        b.push_str("<section><h2>Findings</h2>");
        b.push_str(&findings_list(&v.findings));
        if let Some(os) = v.overrides.as_array().filter(|o| !o.is_empty()) {
            b.push_str("<h3>Overrides</h3><ul>");
            for o in os {
                let _ = write!(
                    b,
                    "<li><code>{}</code> — “{}” by {} ({}) at {}</li>",
                    e(o["code"].as_str().unwrap_or("")),
                    e(o["reason"].as_str().unwrap_or("")),
                    e(names
                        .get(o["by"].as_str().unwrap_or(""))
                        .map(String::as_str)
                        .unwrap_or("")),
                    e(o["role"].as_str().unwrap_or("")),
                    e(&when(o["at"].as_str().unwrap_or("")))
                );
            }
            b.push_str("</ul>");
        }
        b.push_str("</section><section><h2>Pump programme</h2>");
        b.push_str(&pump_table(
            v.pump_programme.as_ref().unwrap_or(&Json::Null),
        ));
        b.push_str("</section>");
        if let Some(d) = &v.derivation {
            b.push_str("<details><summary>How each number was derived</summary>");
            if !d["dose_calculation"].is_null() {
                b.push_str("<h3>Dose</h3>");
                b.push_str(&steps(&d["dose_calculation"]));
            }
            if !d["rate_calculation"].is_null() {
                b.push_str("<h3>Rate</h3>");
                b.push_str(&steps(&d["rate_calculation"]));
            }
            b.push_str("<h3>Safety check</h3>");
            b.push_str(&steps(&d["check"]));
            b.push_str("</details>");
        }
    }
    b.push_str(&activity_html(s, &act, &names, id));
    match err {
        Some(err) => page_with_error(&title, viewer, "patients", &err, &b),
        None => page(&title, viewer, "patients", &b),
    }
}

pub async fn show(State(s): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    render_show(&s, &viewer, &id, None, &FormData::default()).await
}

/// The version field of a form.
pub(crate) fn version_of(f: &FormData) -> Result<Option<i64>, AppError> {
    match f.get("version") {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| AppError::invalid("version", v, "the version of the record you read")),
    }
}

pub async fn sign(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let f = form_data(posted);
    let result = async {
        viewer.check_csrf(&f)?;
        let version = version_of(&f)?;
        s.app
            .sign_order(
                viewer.actor(),
                &id,
                version,
                &json!({"overrides": overrides_json(&f)}),
            )
            .await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/ui/orders/{id}")),
        Err(err) => render_show(&s, &viewer, &id, Some(err), &f).await,
    }
}

pub async fn step(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let f = form_data(posted);
    let result = async {
        viewer.check_csrf(&f)?;
        let version = version_of(&f)?;
        let step = f.val("step").to_string();
        let mut body = json!({});
        if let Some(r) = f.get("reason") {
            body["reason"] = json!(r);
        }
        s.app
            .transition(viewer.actor(), &id, version, &step, &body)
            .await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/ui/orders/{id}")),
        Err(err) => render_show(&s, &viewer, &id, Some(err), &f).await,
    }
}
