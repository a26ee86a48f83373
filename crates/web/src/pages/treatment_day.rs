//! A therapy plan's treatment day: the go/no-go labs for the day, the ordered lines
//! (premedications with their lead times, hydration, the drugs in sequence, observation) with
//! each line's order, dose level and percent change from the last administered dose; the
//! prescriber releases the day (dose levels, each line's bag volume and time, overrides per
//! line, a reason when a lab says hold) and signs all its lines in one action; the pharmacist
//! verifies line by line (each line links to its blind verification); the plan is held,
//! resumed or stopped with a reason. The page draws `App::treatment_day` and posts to the
//! release, sign and plan-status methods.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use infusio_app::AppError;
use infusio_app::commands::NewOrder;
use infusio_app::treatment_day::{
    DayLineView, LineKind, PlanStatusChange, PlanStep, ReleaseDay, SignDay, TreatmentDayView,
};
use infusio_server::AppState;
use maud::{Markup, html};
use serde_json::{Value as Json, json};

use super::{Posted, form_data};
use crate::html::{error_box, findings_list, input};
use crate::{FormData, Viewer, page, see_other};

fn kind_words(k: LineKind) -> &'static str {
    match k {
        LineKind::Premedication => "Premedication",
        LineKind::Hydration => "Hydration",
        LineKind::Drug => "Drug",
        LineKind::Observation => "Observation",
    }
}

fn labs(v: &TreatmentDayView) -> Markup {
    html! {
        section.card data-labs {
            h2 { "Go/no-go labs for the day" }
            table {
                thead { tr { th { "Lab" } th { "Result" } th { "Needs" } th { "Outcome" } th { "Protocol says" } } }
                tbody {
                    @for g in &v.labs {
                        tr class=(if g.blocks { "diff-out" } else { "diff-ok" }) data-lab=(g.lab) {
                            td { (g.lab.replace('_', " ")) }
                            td { (g.value.clone().unwrap_or_else(|| "not recorded".into())) @if let Some(at) = &g.collected_at { " (" (crate::html::when(at)) ")" } }
                            td { (g.threshold) }
                            td data-outcome=(g.outcome) { (g.outcome) @if g.status != "in_range" { " — " (g.status.replace('_', " ")) } }
                            td { (g.message) }
                        }
                    }
                }
            }
        }
    }
}

/// A dose as the record holds it (`181.808622 mg`) at display precision, ISMP-safe; a
/// protocol dose (`85 mg/m2`) as written.
fn dose_shown(text: &str) -> String {
    match text.split_once(' ') {
        Some((v, unit)) if !unit.contains('/') => v
            .parse::<f64>()
            .map_or_else(|_| text.to_string(), |x| crate::html::q(x, unit)),
        _ => text.to_string(),
    }
}

fn line_row(l: &DayLineView) -> Markup {
    let line = &l.line;
    html! {
        tr data-line=(line.line_no) data-kind=(format!("{:?}", line.line_kind).to_lowercase()) {
            td.num { (line.line_no) }
            td { (kind_words(line.line_kind)) @if let Some(m) = line.lead_min { " (" (m) " min before)" } @if let Some(t) = &line.hydration_timing { " (" (t) " the drugs)" } }
            td { (line.medication) }
            td { (line.protocol_dose) @if line.dose_level != 0 { " " strong { "level " (line.dose_level) } } }
            td data-dose { (dose_shown(&l.dose_text)) }
            td.num data-change { @if let Some(p) = l.percent_change_from_last { (format!("{p:+.1}%")) } @else { "—" } }
            td data-status { @if let Some(o) = &l.order { (o.status.as_str()) } @else if line.line_kind == LineKind::Observation { (l.observation_min.map(|m| format!("{m} min")).unwrap_or_default()) } @else { "not released" } }
            td {
                @if let Some(o) = &l.order {
                    a href={ "/ui/orders/" (o.id) } { "Order" }
                    " · " a href={ "/ui/orders/" (o.id) "/verify" } { "Verify" }
                    @if !o.findings.is_empty() { details { summary { (o.findings.len()) " findings" } (findings_list(&o.findings)) } }
                }
            }
        }
    }
}

fn lines(v: &TreatmentDayView) -> Markup {
    html! {
        section.card {
            h2 { "Lines" }
            table data-lines {
                thead { tr { th { "#" } th { "Line" } th { "Drug" } th { "Protocol dose" } th { "Dose" } th { "Change from last dose" } th { "Status" } th {} } }
                tbody { @for l in &v.lines { (line_row(l)) } }
            }
        }
    }
}

/// The warnings each medication line would raise, by a preview of its planned order.
async fn line_warnings(
    s: &AppState,
    viewer: &Viewer,
    v: &TreatmentDayView,
    f: &FormData,
) -> BTreeMap<u32, Vec<(String, String)>> {
    let mut out = BTreeMap::new();
    for l in &v.lines {
        let Some(params) = &l.planned_order else {
            continue;
        };
        let mut params = params.clone();
        let n = l.line.line_no;
        if let Some(x) = f.get(&format!("line.{n}.volume")) {
            params.volume = Some(x.to_string());
        }
        if let Some(x) = f.get(&format!("line.{n}.duration")) {
            params.duration = Some(x.to_string());
        }
        let order = NewOrder {
            patient_id: v.patient_id.clone(),
            params,
            overrides: Vec::new(),
        };
        if let Ok(p) = s.app.preview_order(viewer.actor(), &order).await {
            let w: Vec<(String, String)> = p
                .computed
                .warnings()
                .into_iter()
                .map(|w| (w.code, w.message))
                .collect();
            if !w.is_empty() {
                out.insert(n, w);
            }
        }
    }
    out
}

/// The line a refusal names (`lines[4] (leucovorin): …`) and its findings.
fn refused_line(err: &AppError) -> Option<(u32, Vec<(String, String)>)> {
    let AppError::Blocked {
        message, findings, ..
    } = err
    else {
        return None;
    };
    let n = message
        .strip_prefix("lines[")?
        .split(']')
        .next()?
        .parse()
        .ok()?;
    let w = findings
        .as_array()?
        .iter()
        .map(|x| {
            (
                x["code"].as_str().unwrap_or_default().to_string(),
                x["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    Some((n, w))
}

fn reason_box(name: &str, code: &str, message: &str, f: &FormData) -> Markup {
    let id = format!("ov-{}", name.replace('.', "-"));
    html! {
        div.override {
            p.finding.warning data-code=(code) { strong { (crate::words::finding_title(code)) } " " (message) }
            label for=(id) { "Reason to override “" (crate::words::finding_title(code)) "” (required to proceed)" }
            textarea id=(id) name=(name) rows="2" { (f.val(name)) }
        }
    }
}

async fn release_form(
    s: &AppState,
    viewer: &Viewer,
    v: &TreatmentDayView,
    f: &FormData,
    err: Option<&AppError>,
) -> Markup {
    let mut warnings = line_warnings(s, viewer, v, f).await;
    if let Some((n, w)) = err.and_then(refused_line) {
        let e = warnings.entry(n).or_default();
        for x in w {
            if !e.contains(&x) {
                e.push(x);
            }
        }
    }
    html! {
        form.card method="post" action={ "/ui/plans/" (v.plan_id) "/days/" (v.day_index) "/release" } data-release {
            h2 { "Release this day" }
            (viewer.csrf_field())
            input type="hidden" name="version" value=(v.plan_version);
            @for l in v.lines.iter().filter(|l| l.planned_order.is_some()) {
                @let n = l.line.line_no;
                fieldset {
                    legend { "Line " (n) ": " (l.line.medication) " " (l.line.protocol_dose) }
                    div.grid {
                        div { (input(&format!("line.{n}.volume"), &format!("Line {n} bag volume"), f.get(&format!("line.{n}.volume")).or(l.planned_order.as_ref().and_then(|p| p.volume.as_deref())).unwrap_or(""), "e.g. 250 mL")) }
                        div { (input(&format!("line.{n}.duration"), &format!("Line {n} infusion time"), f.get(&format!("line.{n}.duration")).or(l.planned_order.as_ref().and_then(|p| p.duration.as_deref())).unwrap_or(""), "e.g. 2 h")) }
                        @if l.available_levels.len() > 1 {
                            @let name = format!("level.{}", l.line.medication);
                            div {
                                label for=(crate::html::field_id(&name)) { "Dose level of " (l.line.medication) }
                                select id=(crate::html::field_id(&name)) name=(name) {
                                    @for (i, text) in l.available_levels.iter().enumerate() {
                                        @let level = -(i as i64);
                                        option value=(level) selected[f.val(&name) == level.to_string()] { (if level == 0 { "0" } else { "" }) @if level != 0 { (level) } " (" (text) ")" }
                                    }
                                }
                            }
                        }
                    }
                    @for (code, message) in warnings.get(&n).cloned().unwrap_or_default() {
                        (reason_box(&format!("override.{n}.{code}"), &code, &message, f))
                    }
                }
            }
            @if v.labs_block {
                (input("lab_override_reason", "Reason to release although a lab says hold", f.val("lab_override_reason"), "required while a lab says hold"))
            }
            div.actions { button type="submit" class="primary" { "Release the day as orders" } }
        }
    }
}

fn sign_form(
    viewer: &Viewer,
    v: &TreatmentDayView,
    f: &FormData,
    err: Option<&AppError>,
) -> Markup {
    let refused = err.and_then(refused_line);
    let drafts: Vec<&DayLineView> = v
        .lines
        .iter()
        .filter(|l| {
            l.order
                .as_ref()
                .is_some_and(|o| o.status.as_str() == "draft")
        })
        .collect();
    html! {
        @if !drafts.is_empty() {
            form.card method="post" action={ "/ui/plans/" (v.plan_id) "/days/" (v.day_index) "/sign" } data-sign-day {
                h2 { "Sign the day" }
                (viewer.csrf_field())
                p { (drafts.len()) " lines to sign; each is re-checked with today's labs and measures first." }
                @if let Some((n, w)) = &refused {
                    @if let Some(order) = v.lines.iter().find(|l| l.line.line_no == *n).and_then(|l| l.order.as_ref()) {
                        @for (code, message) in w { (reason_box(&format!("override.{}.{code}", order.id), code, message, f)) }
                    }
                }
                @for (name, value) in f.with_prefix("override.") {
                    @if !refused.as_ref().is_some_and(|(n, _)| v.lines.iter().any(|l| l.line.line_no == *n && l.order.as_ref().is_some_and(|o| name.starts_with(&o.id)))) {
                        input type="hidden" name={ "override." (name) } value=(value);
                    }
                }
                div.actions { button type="submit" class="primary" { "Sign all lines" } }
            }
        }
    }
}

fn plan_forms(viewer: &Viewer, v: &TreatmentDayView) -> Markup {
    let steps: &[(&str, &str)] = match v.plan_status.as_str() {
        "active" => &[("hold", "Hold the plan"), ("stop", "Stop the plan")],
        "held" => &[("resume", "Resume the plan"), ("stop", "Stop the plan")],
        _ => &[],
    };
    html! {
        @for (step, label) in steps {
            form.card method="post" action={ "/ui/plans/" (v.plan_id) "/" (step) } data-plan-step=(step) {
                (viewer.csrf_field())
                input type="hidden" name="version" value=(v.plan_version);
                input type="hidden" name="day_index" value=(v.day_index);
                (input("reason", &format!("{label}: reason"), "", "required; kept in the audit trail"))
                div.actions { button type="submit" { (label) } }
            }
        }
    }
}

async fn render(
    s: &AppState,
    viewer: &Viewer,
    plan_id: &str,
    index: usize,
    f: &FormData,
    err: Option<AppError>,
) -> Response {
    let title = "Treatment day";
    let v = match s.app.treatment_day(viewer.actor(), plan_id, index).await {
        Ok(v) => v,
        Err(e) => return page(title, viewer, "patients", error_box(&e)),
    };
    let actions = if v.released.is_none() && v.plan_status == "active" {
        release_form(s, viewer, &v, f, err.as_ref()).await
    } else {
        sign_form(viewer, &v, f, err.as_ref())
    };
    let body = html! {
        p.patient-banner { a href={ "/ui/patients/" (v.patient_id) } { "Back to the chart" } }
        h2 data-day { (v.protocol_name) " — " (v.date) " (" (v.phase) ", cycle " (v.cycle) ", day " (v.day) ")" }
        p data-plan-status=(v.plan_status) {
            "Plan " (v.plan_status) @if let Some(r) = &v.held_reason { " (" (r) ")" }
            @if let Some(r) = &v.released { " · released " (crate::html::when(&r.released_at)) @if let Some(why) = &r.lab_override_reason { " despite the labs: " (why) } }
            @if v.day_index > 0 { " · " a href={ "/ui/plans/" (v.plan_id) "/days/" (v.day_index - 1) } { "previous day" } }
            " · " a href={ "/ui/plans/" (v.plan_id) "/days/" (v.day_index + 1) } { "next day" }
            @if let Some(n) = v.next_unreleased { @if n != v.day_index { " · " a href={ "/ui/plans/" (v.plan_id) "/days/" (n) } { "next day to release" } } }
        }
        @if let Some(e) = &err { (error_box(e)) }
        (labs(&v))
        (lines(&v))
        (actions)
        (plan_forms(viewer, &v))
    };
    page(title, viewer, "patients", body)
}

fn index_of(text: &str) -> Result<usize, AppError> {
    text.parse()
        .map_err(|_| AppError::invalid("index", text, "a planned day's index from 0"))
}

pub async fn view(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((id, index)): Path<(String, String)>,
) -> Response {
    match index_of(&index) {
        Ok(i) => render(&s, &viewer, &id, i, &FormData::default(), None).await,
        Err(e) => page("Treatment day", &viewer, "patients", error_box(&e)),
    }
}

fn release_input(f: &FormData) -> Result<ReleaseDay, AppError> {
    let mut overrides: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    let mut lines: BTreeMap<String, serde_json::Map<String, Json>> = BTreeMap::new();
    for (name, value) in &f.0 {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        if let Some(rest) = name.strip_prefix("override.")
            && let Some((n, code)) = rest.split_once('.')
        {
            overrides
                .entry(n.to_string())
                .or_default()
                .push(json!({"code": code, "reason": value}));
        } else if let Some(rest) = name.strip_prefix("line.")
            && let Some((n, key)) = rest.split_once('.')
        {
            lines
                .entry(n.to_string())
                .or_default()
                .insert(key.to_string(), json!(value));
        }
    }
    let levels: serde_json::Map<String, Json> = f
        .with_prefix("level.")
        .filter_map(|(m, v)| {
            v.parse::<i64>()
                .ok()
                .filter(|l| *l != 0)
                .map(|l| (m.to_string(), json!(l)))
        })
        .collect();
    let mut body = json!({"overrides": overrides, "lines": lines, "dose_levels": levels});
    if let Some(r) = f.get("lab_override_reason") {
        body["lab_override_reason"] = json!(r);
    }
    ReleaseDay::try_from(&body)
}

pub async fn release(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((id, index)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let f = form_data(posted);
    let i = match index_of(&index) {
        Ok(i) => i,
        Err(e) => return page("Treatment day", &viewer, "patients", error_box(&e)),
    };
    let result = async {
        viewer.check_csrf(&f)?;
        let mut input = release_input(&f)?;
        input.day_index = Some(i);
        s.app
            .release_treatment_day(viewer.actor(), &id, super::order::version_of(&f)?, &input)
            .await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/ui/plans/{id}/days/{i}")),
        Err(e) => render(&s, &viewer, &id, i, &f, Some(e)).await,
    }
}

pub async fn sign(
    State(s): State<AppState>,
    viewer: Viewer,
    Path((id, index)): Path<(String, String)>,
    posted: Posted,
) -> Response {
    let f = form_data(posted);
    let i = match index_of(&index) {
        Ok(i) => i,
        Err(e) => return page("Treatment day", &viewer, "patients", error_box(&e)),
    };
    let result = async {
        viewer.check_csrf(&f)?;
        let mut by_order: BTreeMap<String, Vec<Json>> = BTreeMap::new();
        for (rest, reason) in f.with_prefix("override.") {
            if let Some((order, code)) = rest.split_once('.')
                && !reason.trim().is_empty()
            {
                by_order
                    .entry(order.to_string())
                    .or_default()
                    .push(json!({"code": code, "reason": reason}));
            }
        }
        let input = SignDay::try_from(&json!({"overrides": by_order}))?;
        s.app
            .sign_treatment_day(viewer.actor(), &id, i, &input)
            .await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/ui/plans/{id}/days/{i}")),
        Err(e) => render(&s, &viewer, &id, i, &f, Some(e)).await,
    }
}

async fn plan_step(
    s: AppState,
    viewer: Viewer,
    id: String,
    posted: Posted,
    step: PlanStep,
) -> Response {
    let f = form_data(posted);
    let i = f.get("day_index").and_then(|x| x.parse().ok()).unwrap_or(0);
    let result = async {
        viewer.check_csrf(&f)?;
        let input = PlanStatusChange::try_from(&json!({"reason": f.val("reason")}))?;
        s.app
            .change_plan_status(
                viewer.actor(),
                &id,
                super::order::version_of(&f)?,
                step,
                &input,
            )
            .await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/ui/plans/{id}/days/{i}")),
        Err(e) => render(&s, &viewer, &id, i, &FormData::default(), Some(e)).await,
    }
}

pub async fn hold(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    plan_step(s, viewer, id, posted, PlanStep::Hold).await
}

pub async fn resume(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    plan_step(s, viewer, id, posted, PlanStep::Resume).await
}

pub async fn stop(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    plan_step(s, viewer, id, posted, PlanStep::Stop).await
}
