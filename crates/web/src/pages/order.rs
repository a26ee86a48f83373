//! New order (with the engine's live derivation and findings), the order page with its
//! history, signing, and the simple steps (hold, release, cancel, discontinue).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use infusio_app::commands::NewOrder;
use infusio_app::orders::{Computed, Measured, OrderDerivation, OrderView, PumpProgramme};
use infusio_app::ui_support::OrderActivity;
use infusio_app::{App, AppError};
use infusio_core::derivation::{Finding, Severity};
use infusio_server::AppState;
use infusio_store::OrderStatus;
use maud::{Markup, html};
use serde_json::{Value as Json, json};

use super::{Posted, form_data};
use crate::html::{
    badge, drug_name, error_box, findings_list, input, input_with_id, q, qty, select, steps, when,
    when_us,
};
use crate::{FormData, Viewer, page, page_with_error, see_other};

const ORDER_FIELDS: &[(&str, &str, &str)] = &[
    (
        "dose_per",
        "Dose per body measure, target AUC, factor rise or iron course",
        "e.g. 5 mg/kg, 375 mg/m2, 5 mg/mL.min, 50 IU/dL or ganzoni",
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
    (
        "target_hemoglobin",
        "Target haemoglobin (iron course)",
        "default by the label: 15 g/dL above 35 kg",
    ),
    (
        "iron_stores",
        "Iron stores (iron course)",
        "default by the label: 500 mg above 35 kg",
    ),
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

fn override_fields(warnings: &[&Finding], f: &FormData) -> Markup {
    html! {
        @for w in warnings {
            @let code = w.code.as_str();
            @let name = format!("override.{code}");
            @let id = format!("ov-{}", code.replace('.', "-"));
            div.override {
                p.finding.warning data-code=(code) { strong { "Warning" } " " strong.finding-title { (crate::words::finding_title(code)) } " " (w.message) }
                label for=(id) { "Reason to override “" (crate::words::finding_title(code)) "” (required to proceed)" }
                textarea id=(id) name=(name) rows="2" { (f.val(&name)) }
            }
        }
    }
}

/// The order fields of the new-order form (inside its `form`).
fn order_fields(app: &App, viewer: &Viewer, f: &FormData) -> Markup {
    let lib = app.library();
    let mut meds: Vec<(String, String)> = lib
        .entries()
        .iter()
        .map(|d| (d.id.clone(), drug_name(lib, &d.id)))
        .collect();
    meds.sort_by_key(|(_, n)| n.to_lowercase());
    meds.insert(0, (String::new(), "— choose —".into()));
    let opts = |xs: &[&str]| -> Vec<(String, String)> {
        xs.iter()
            .map(|x| {
                let text = if x.is_empty() { "—" } else { x };
                (x.to_string(), text.to_string())
            })
            .collect()
    };
    let idem = f
        .get("idem")
        .map(str::to_string)
        .unwrap_or_else(infusio_store::new_id);
    html! {
        (viewer.csrf_field())
        input type="hidden" name="patient_id" value=(f.val("patient_id"));
        input type="hidden" name="idem" value=(idem);
        div.grid {
            div { (select("medication", "Drug", &meds, f.val("medication"))) }
            @for (k, label, hint) in ORDER_FIELDS {
                @let default = if *k == "route" && f.get("route").is_none() { "iv" } else { f.val(k) };
                div { (input(k, label, default, hint)) }
            }
            div {
                (select("weight_basis", "Weight basis",
                    &opts(&["", "actual", "ideal", "adjusted", "lean", "auto"]), f.val("weight_basis")))
            }
            div { (select("line", "Line", &opts(&["", "peripheral", "central"]), f.val("line"))) }
        }
    }
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
        // A target AUC or a desired factor rise is an order input: the engine computes the
        // dose from the patient's latest measures.
        DoseBasis::PerAuc | DoseBasis::Formula
            if infusio_app::dose_basis::formula_of_dose_per(&amount).is_some() =>
        {
            note.push_str(&format!(
                " The dose is computed from {amount} with the patient's latest measures."
            ));
            f.push(("dose_per".into(), amount));
        }
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
        ("indication", &d.indication),
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
) -> Markup {
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
    html! {
        form method="get" action="/ui/orders/new" class="inline" {
            input type="hidden" name="patient_id" value=(patient_id);
            (select("from", "Start from a protocol", &opts, selected))
            button type="submit" { "Start from this protocol" }
        }
    }
}

/// Allergies as a banner item, or nothing when none is recorded.
fn allergy_note(c: &infusio_app::patients::Chart) -> Markup {
    let substances: Vec<&str> = c
        .allergies
        .iter()
        .map(|a| a.data.substance.as_str())
        .collect();
    html! {
        @if !substances.is_empty() {
            " · " strong.alert-text { "Allergies: " (substances.join(", ")) }
        }
    }
}

async fn render_new(
    s: &AppState,
    viewer: &Viewer,
    f: &FormData,
    err: Option<AppError>,
) -> Response {
    let title = "New order";
    let Some(patient_id) = f.get("patient_id") else {
        let body = html! { p { "Choose the patient first: " a href="/ui/patients" { "patient list" } "." } };
        return page(title, viewer, "patients", body);
    };
    let banner = match s.app.chart(viewer.actor(), patient_id).await {
        Ok(c) => {
            let p = &c.patient.data;
            html! {
                p.patient-banner {
                    "Patient: " a href={ "/ui/patients/" (c.patient.id) } { strong { (p.family_name) ", " (p.given_name) } }
                    " " (p.mrn) " · born " (p.birth_date) " · " (p.sex) (allergy_note(&c))
                }
            }
        }
        Err(err) => return page_with_error(title, viewer, "patients", &err, html! {}),
    };
    let prefilled;
    let (f, note) = match f.get("from").and_then(from_protocol) {
        Some((fields, note)) if f.get("medication").is_none() => {
            let mut all = f.0.clone();
            all.extend(fields);
            prefilled = FormData(all);
            (&prefilled, Some(note))
        }
        _ => (f, None),
    };
    let (preview, can_create) = if f.get("medication").is_some() {
        preview(s, viewer, f).await
    } else {
        (html! {}, false)
    };
    let body = html! {
        (banner)
        (protocol_picker(s.app.library(), patient_id, f.val("from")))
        @if let Some(note) = note { p.notice { (note) } }
        form method="post" action="/ui/orders/new" class="card order-form" {
            (order_fields(&s.app, viewer, f))
            @if f.get("medication") == Some("vancomycin") {
                p { a.button href={ "/ui/pk/vancomycin?patient_id=" (patient_id) } { "Vancomycin dosing from levels (Bayesian)" } }
            }
            div.actions {
                button type="submit" name="action" value="preview" { "Calculate / preview" }
                @if can_create {
                    " " button type="submit" name="action" value="create" class="primary" { "Create order" }
                } @else if f.get("medication").is_some() {
                    " " button type="button" disabled aria-disabled="true" { "Create order (blocked)" }
                }
            }
            (preview)
        }
    };
    match err {
        Some(err) => page_with_error(title, viewer, "patients", &err, body),
        None => page(title, viewer, "patients", body),
    }
}

/// The engine's figures for what is on the form, and whether the order may be created (no
/// hard stop).
async fn preview(s: &AppState, viewer: &Viewer, f: &FormData) -> (Markup, bool) {
    let preview = match request_json(f) {
        Ok(r) => match NewOrder::try_from(&r) {
            Ok(cmd) => s.app.preview_order(viewer.actor(), &cmd).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let c = match preview {
        Ok(p) => p.computed,
        Err(err) => return (error_box(&err), false),
    };
    let hard = c.hard_stops();
    let warnings = c.warnings();
    let warn_refs: Vec<&Finding> = warnings.iter().collect();
    let others: Vec<Finding> = c
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Info)
        .cloned()
        .collect();
    let or_dash = |x: Option<f64>, unit: &str| x.map(|v| q(v, unit)).unwrap_or_else(|| "—".into());
    let markup = html! {
        section.preview aria-live="polite" {
            h2 { "Derived order" }
            dl.figures {
                dt { "Dose" } dd data-figure="dose" { (q(c.dose, &c.dose_unit)) }
                dt { "Final volume" } dd data-figure="volume" { (or_dash(c.volume_ml, "mL")) }
                dt { "Rate" } dd data-figure="rate" { (or_dash(c.rate_ml_per_h, "mL/h")) }
                dt { "Duration" } dd { (c.duration_h.map(crate::words::duration_words).unwrap_or_else(|| "—".into())) }
            }
            @if c.double_check {
                p.badge.high-alert { "High-alert: independent double check at the bedside" }
            }
            @if !hard.is_empty() {
                div.error.hardstop role="alert" data-error="hard-stop" {
                    h2 { "✖ HARD STOP — this order cannot be created" }
                    p { "Change the order; a hard stop cannot be overridden." }
                    (findings_list(&hard))
                }
            }
            @if !warnings.is_empty() && hard.is_empty() {
                h3 { "Warnings" }
                (override_fields(&warn_refs, f))
            }
            @if !others.is_empty() {
                h3 { "Information" }
                (findings_list(&others))
            }
            (preview_derivation(&c))
        }
    };
    (markup, hard.is_empty())
}

/// How each number of a preview was derived: the patient's measurements, then the dose, rate
/// and safety-check steps.
fn preview_derivation(c: &Computed) -> Markup {
    let d = &c.derivation;
    let measured = |m: &Measured, unit: &str| (q(m.value, unit), when(&m.measured_at));
    html! {
        details open {
            summary { "How each number was derived" }
            p {
                @if let Some(w) = &d.patient.weight_kg {
                    @let (value, at) = measured(w, "kg");
                    "Weight " (value) " (measured " (at) "). "
                }
                @if let Some(h) = &d.patient.height_cm {
                    @let (value, at) = measured(h, "cm");
                    "Height " (value) " (measured " (at) "). "
                }
            }
            (derivation_steps(d))
        }
    }
}

/// The dose, rate and safety-check steps of a derivation.
fn derivation_steps(d: &OrderDerivation) -> Markup {
    html! {
        @if let Some(c) = &d.dose_calculation {
            h3 { "Dose" } (steps(&serde_json::to_value(c).unwrap_or_default()))
        }
        @if let Some(c) = &d.rate_calculation {
            h3 { "Rate" } (steps(&serde_json::to_value(c).unwrap_or_default()))
        }
        h3 { "Safety check" } (steps(&serde_json::to_value(&d.check).unwrap_or_default()))
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
    let req = request_json(&f).and_then(|mut r| {
        r["overrides"] = overrides_json(&f);
        NewOrder::try_from(&r)
    });
    let req = match req {
        Ok(r) => r,
        Err(err) => return render_new(&s, &viewer, &f, Some(err)).await,
    };
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
pub(crate) fn figures(v: &OrderView) -> Markup {
    if !v.figures_shown {
        return html! {
            p.notice data-blind="true" { "Figures hidden: verify blind — enter your own dose, volume and rate first." }
        };
    }
    html! {
        dl.figures {
            dt { "Dose" } dd data-figure="dose" { (v.dose.as_ref().map(|d| qty(&d.quantity)).unwrap_or_else(|| "—".into())) }
            dt { "Final volume" } dd data-figure="volume" { (v.volume_ml.map(|x| q(x, "mL")).unwrap_or_else(|| "—".into())) }
            dt { "Rate" } dd data-figure="rate" { (v.rate_ml_per_h.map(|x| q(x, "mL/h")).unwrap_or_else(|| "—".into())) }
            dt { "Route" } dd { (v.route) }
        }
    }
}

/// The pump programme's steps.
pub(crate) fn pump_table(prog: Option<&PumpProgramme>) -> Markup {
    let Some(steps) = prog.map(|p| &p.steps).filter(|s| !s.is_empty()) else {
        return html! { p { "No pump programme (no volume and duration ordered)." } };
    };
    html! {
        table.pump {
            thead { tr { th { "Step" } th { "Rate" } th { "VTBI" } th { "Time" } } }
            tbody {
                @for (i, st) in steps.iter().enumerate() {
                    tr {
                        td { (i + 1) }
                        td.num { (q(st.rate_ml_per_h, "mL/h")) }
                        td.num { (q(st.vtbi_ml, "mL")) }
                        td.num { (st.duration_h.map(|r| q(r * 60.0, "min")).unwrap_or_else(|| "until empty".into())) }
                    }
                }
            }
        }
    }
}

/// The header of an order page: patient, drug, status.
pub(crate) async fn order_header(s: &AppState, viewer: &Viewer, v: &OrderView) -> Markup {
    let lib = s.app.library();
    let patient = match s.app.chart(viewer.actor(), &v.patient_id).await {
        Ok(c) => html! {
            a href={ "/ui/patients/" (c.patient.id) } { (c.patient.data.family_name) ", " (c.patient.data.given_name) }
            " " (c.patient.data.mrn) " · born " (c.patient.data.birth_date) (allergy_note(&c))
        },
        Err(_) => html! { (v.patient_id) },
    };
    html! {
        section.card.order-head {
            p.patient-banner { "Patient: " (patient) }
            p.drug-title {
                strong { (drug_name(lib, &v.medication)) } " " (badge(v.status.as_str(), v.status.as_str())) " "
                @if v.high_alert { (badge("high-alert · double check", "high-alert")) }
            }
        }
    }
}

/// A pharmacist's differences as text: `dose: 340 mg vs 345 mg (1.4%)`.
fn differences_text(differences: &Json) -> String {
    let Some(ds) = differences.as_array() else {
        return String::new();
    };
    ds.iter()
        .map(|d| {
            let unit = d["unit"].as_str().unwrap_or("");
            format!(
                "{}: {} vs {} ({})",
                d["field"].as_str().unwrap_or(""),
                d["pharmacist"]
                    .as_f64()
                    .map(|x| q(x, unit))
                    .unwrap_or_default(),
                d["prescriber"]
                    .as_f64()
                    .map(|x| q(x, unit))
                    .unwrap_or_else(|| "—".into()),
                d["difference_percent"]
                    .as_f64()
                    .map(|p| format!("{}%", infusio_core::units::format_number(p, 1)))
                    .unwrap_or_else(|| "n/a".into())
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The verifications, preparations, appointments and administrations of an order.
fn activity(act: &OrderActivity, names: &HashMap<String, String>, order_id: &str) -> Markup {
    let name = |id: &str| names.get(id).cloned().unwrap_or_else(|| id.to_string());
    html! {
        @if !act.verifications.is_empty() {
            section {
                h2 { "Verifications" }
                table {
                    thead { tr { th { "When" } th { "Pharmacist" } th { "Outcome" } th { "Differences" } } }
                    tbody {
                        @for v in &act.verifications {
                            tr {
                                td { (when_us(v.data.verified_at_us)) }
                                td { (name(&v.data.pharmacist_id)) }
                                td { (badge(v.data.outcome.as_str(), v.data.outcome.as_str())) }
                                td { (differences_text(&v.data.differences_json)) }
                            }
                        }
                    }
                }
            }
        }
        @if !act.preparations.is_empty() {
            (preparations(act, &name, order_id))
        }
        @if !act.appointments.is_empty() {
            section {
                h2 { "Appointments" }
                ul {
                    @for a in &act.appointments {
                        li {
                            "Chair " (a.data.chair) " · " (when_us(a.data.start_at_us)) " – "
                            (crate::html::hhmm_us(a.data.end_at_us)) " · " (a.data.status.as_str())
                        }
                    }
                }
            }
        }
        @if !act.administrations.is_empty() {
            section {
                h2 { "Administrations" }
                ul {
                    @for (a, events) in &act.administrations {
                        li {
                            a href={ "/ui/administrations/" (a.id) } { "Started " (when_us(a.data.started_at_us)) }
                            " by " (name(&a.data.nurse_id))
                            @if let Some(n) = &a.data.second_nurse_id { ", double-checked by " (name(n)) }
                            " · " (a.data.status.as_str().replace('_', " ")) " · " (events.len()) " events"
                        }
                    }
                }
            }
        }
    }
}

/// The preparations of an order with their products and lots.
fn preparations(act: &OrderActivity, name: &dyn Fn(&str) -> String, order_id: &str) -> Markup {
    use infusio_app::patients::number;
    html! {
        section {
            h2 { "Preparations" }
            @for (p, comps) in &act.preparations {
                div.card {
                    p {
                        "Prepared " (when_us(p.data.prepared_at_us)) " by " (name(&p.data.prepared_by))
                        " · final volume " (q(number(&p.data.final_volume_ml), "mL"))
                        " · concentration " (q(number(&p.data.concentration), &p.data.concentration_unit))
                        " · beyond use " (when_us(p.data.beyond_use_at_us))
                        " · bag barcode " code { (p.id) } " · " (p.data.status.as_str()) " · "
                        a href={ "/ui/orders/" (order_id) "/label" } { "label" }
                    }
                    ul {
                        @for c in comps {
                            li {
                                (c.data.product) " · lot " (c.data.lot) " · expires " (c.data.expiry_date)
                                " · " (q(number(&c.data.quantity), &c.data.quantity_unit))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// One of the simple steps (hold, release, cancel, discontinue) as its own form; a step that
/// cannot be undone asks for confirmation.
fn step_form(
    viewer: &Viewer,
    id: &str,
    version: i64,
    step: &str,
    label: &str,
    reason: bool,
    danger: bool,
) -> Markup {
    let confirm = danger.then(|| format!("{label}: are you sure? This cannot be undone."));
    html! {
        form method="post" action={ "/ui/orders/" (id) "/step" } class="step" data-confirm=[confirm] {
            (viewer.csrf_field())
            input type="hidden" name="version" value=(version);
            input type="hidden" name="step" value=(step);
            @if reason {
                (input_with_id(&format!("r-{step}"), "reason",
                    &format!("Reason to {}", label.to_lowercase()), "", "required"))
            }
            button type="submit" class=[danger.then_some("danger")] { (label) }
        }
    }
}

/// What can be done next, by status.
fn next_step(
    viewer: &Viewer,
    v: &OrderView,
    version: i64,
    act: &OrderActivity,
    f: &FormData,
) -> Markup {
    let id = v.id.as_str();
    match v.status {
        OrderStatus::Draft => {
            let warnings: Vec<&Finding> = v
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Warning)
                .filter(|f| !v.overrides.iter().any(|o| o.code == f.code))
                .collect();
            html! {
                form method="post" action={ "/ui/orders/" (id) "/sign" } {
                    (viewer.csrf_field())
                    input type="hidden" name="version" value=(version);
                    (override_fields(&warnings, f))
                    button type="submit" class="primary" { "Sign order" }
                }
            }
        }
        OrderStatus::Signed => html! {
            p { "Awaiting pharmacist verification. " a.button.primary href={ "/ui/orders/" (id) "/verify" } { "Verify (pharmacist)" } }
        },
        OrderStatus::Verified => html! {
            p { "Verified; awaiting preparation. " a.button.primary href={ "/ui/orders/" (id) "/prepare" } { "Prepare" } }
        },
        OrderStatus::Prepared | OrderStatus::Scheduled => html! {
            p {
                "Prepared" @if v.status == OrderStatus::Scheduled { " and scheduled" } ". "
                a.button.primary href={ "/ui/orders/" (id) "/administer" } { "Administer at the bedside" } " "
                a.button href={ "/ui/orders/" (id) "/label" } { "Label" }
            }
        },
        OrderStatus::InProgress => html! {
            @if let Some((a, _)) = act.administrations.iter().rev().find(|(a, _)| a.data.status == "in_progress") {
                p { "Running. " a.button.primary href={ "/ui/administrations/" (a.id) } { "Open the administration" } }
            }
        },
        other => html! { p { "This order is " (other.as_str().replace('_', " ")) "." } },
    }
}

/// Hold, release, cancel and discontinue, as the app's order-step table allows them from the
/// order's status (the same table that accepts or refuses the step).
fn other_actions(viewer: &Viewer, v: &OrderView, version: i64) -> Markup {
    use infusio_app::OrderStep;
    let id = v.id.as_str();
    let offered: Vec<(OrderStep, &str, bool)> = [
        (OrderStep::Release, "Release", false),
        (OrderStep::Hold, "Hold", false),
        (OrderStep::Cancel, "Cancel order", true),
        (OrderStep::Discontinue, "Discontinue", true),
    ]
    .into_iter()
    .filter(|(step, _, _)| step.allowed(v.status))
    .collect();
    html! {
        details.other-actions {
            summary { "Hold, cancel, discontinue" }
            @for (step, label, danger) in &offered {
                (step_form(viewer, id, version, step.as_str(), label, step.reason_required(), *danger))
            }
        }
    }
}

/// Findings with their overrides, the pump programme and the derivation (not for a blind
/// pharmacist).
fn clinical_detail(v: &OrderView, names: &HashMap<String, String>) -> Markup {
    html! {
        section {
            h2 { "Findings" }
            (findings_list(&v.findings))
            @if !v.overrides.is_empty() {
                h3 { "Overrides" }
                ul {
                    @for o in &v.overrides {
                        li data-code=(o.code) {
                            (crate::words::finding_title(&o.code))
                            " — “" (o.reason) "” by "
                            (names.get(&o.by).map(String::as_str).unwrap_or(""))
                            " (" (o.role) ") at " (when(&o.at))
                        }
                    }
                }
            }
        }
        section {
            h2 { "Pump programme" }
            (pump_table(v.pump_programme.as_ref()))
        }
        @if let Some(d) = &v.derivation {
            details {
                summary { "How each number was derived" }
                (derivation_steps(d))
            }
        }
    }
}

pub(crate) async fn render_show(
    s: &AppState,
    viewer: &Viewer,
    id: &str,
    err: Option<AppError>,
    f: &FormData,
) -> Response {
    let (v, version) = match crate::pages::order_shown(&s.app, viewer.actor(), id).await {
        Ok(x) => x,
        Err(err) => return page_with_error("Order", viewer, "patients", &err, html! {}),
    };
    let lib = s.app.library();
    let title = format!("Order: {}", drug_name(lib, &v.medication));
    let names = s.app.user_names(viewer.actor()).await.unwrap_or_default();
    let act = s
        .app
        .order_activity(viewer.actor(), id)
        .await
        .unwrap_or_default();
    let returned = s
        .app
        .order_returned(viewer.actor(), id)
        .await
        .unwrap_or_default();
    let bookable = matches!(
        v.status,
        OrderStatus::Draft | OrderStatus::Signed | OrderStatus::Verified | OrderStatus::Prepared
    ) && !act.appointments.iter().any(|a| a.data.status == "booked");
    let prescriber = names
        .get(&v.prescriber_id)
        .map(String::as_str)
        .unwrap_or(&v.prescriber_id);
    let body = html! {
        (order_header(s, viewer, &v).await)
        (figures(&v))
        @if let Some(r) = &returned {
            section.card.returned {
                h2 { "Returned by the pharmacy" }
                p {
                    (names.get(&r.pharmacist_id).map(String::as_str).unwrap_or(&r.pharmacist_id))
                    " returned this order at " (when(&r.returned_at)) ": "
                    q.reason { (r.reason) }
                }
                p { "Edit the order if needed and sign it again; it then goes back to the pharmacy." }
            }
        }
        p {
            "Prescriber: " (prescriber) " · written " (when(&v.created_at))
            @if let Some(t) = &v.signed_at { " · signed " (when(t)) }
        }
        section.card.next {
            h2 { "Next step" }
            (next_step(viewer, &v, version, &act, f))
            @if bookable {
                p { a.button href={ "/ui/schedule?patient_id=" (v.patient_id) "&order_id=" (id) } { "Book a chair for this order" } }
            }
            @if v.medication == "vancomycin" {
                p { a.button href={ "/ui/pk/vancomycin?patient_id=" (v.patient_id) } { "Vancomycin dosing from levels" } }
            }
            (other_actions(viewer, &v, version))
        }
        @if v.figures_shown { (clinical_detail(&v, &names)) }
        (activity(&act, &names, id))
    };
    match err {
        Some(err) => page_with_error(&title, viewer, "patients", &err, body),
        None => page(&title, viewer, "patients", body),
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
                &infusio_app::commands::SignInput::try_from(
                    &json!({"overrides": overrides_json(&f)}),
                )?,
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
        let step = infusio_app::OrderStep::parse_transition(f.val("step"))?;
        let mut body = json!({});
        if let Some(r) = f.get("reason") {
            body["reason"] = json!(r);
        }
        let input = infusio_app::commands::TransitionInput::try_from((step, &body))?;
        s.app
            .transition(viewer.actor(), &id, version, step, &input)
            .await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/ui/orders/{id}")),
        Err(err) => render_show(&s, &viewer, &id, Some(err), &f).await,
    }
}
