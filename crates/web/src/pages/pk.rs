//! Vancomycin dosing from levels: the dose history and measured levels, a Bayesian (MAP) fit
//! of the patient's parameters with a published population model (`infusio-pk`), the fitted
//! concentration curve as SVG with the target band, and the recommended regimens.
//!
//! The page only gathers the inputs (the patient's covariates from the record, the history
//! and levels from the form), calls `infusio-pk` and draws its answers.

use axum::extract::{Query, State};
use axum::response::Response;
use infusio_app::AppError;
use infusio_core::derivation::Step;
use infusio_core::units::{BodyWeight, format_number, format_quantity};
use infusio_pk::contract::{assess, default_search};
use infusio_pk::linear::{Disposition, LinearParams, RawDose};
use infusio_pk::map::{self, Level, MapFit};
use infusio_pk::population::{self, Covariates, PopulationModel};
use infusio_pk::regimen::{self, Regimen, Target};
use infusio_server::AppState;
use maud::{Markup, html};

use crate::html::{error_box, input, q};
use crate::{FormData, Viewer, page, page_with_error};

const MODEL: &str = "vancomycin-goti-2018";
/// The consensus AUC24 target (Rybak MJ, et al. Am J Health-Syst Pharm 2020;77:835-864).
const TARGET: Target = Target::VANCOMYCIN_DEFAULT;

fn num(f: &FormData, field: &str, min: f64, max: f64, unit: &str) -> Result<Option<f64>, AppError> {
    let Some(v) = f.get(field) else {
        return Ok(None);
    };
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && (min..=max).contains(&x) => Ok(Some(x)),
        _ => Err(AppError::invalid(
            field,
            v,
            format!(
                "a number from {} to {} {unit}",
                format_number(min, 2),
                format_number(max, 2)
            ),
        )),
    }
}

/// Exposure at clinical precision: AUC in whole mg·h/L, concentrations to 0.1 mg/L.
fn auc(v: f64) -> String {
    format_quantity(v, "mg·h/L", 0)
}

fn conc(v: f64) -> String {
    format_quantity(v, "mg/L", 1)
}

fn pk_err(field: &str, e: infusio_pk::PkError) -> AppError {
    AppError::invalid(field, "", e.to_string())
}

/// The plot's geometry: the drawing area inside the margins and the scales.
struct Plot {
    end_h: f64,
    ymax: f64,
}

impl Plot {
    const W: f64 = 760.0;
    const H: f64 = 300.0;
    const LEFT: f64 = 50.0;
    const RIGHT: f64 = 24.0;
    const TOP: f64 = 10.0;
    const BOTTOM: f64 = 30.0;

    fn x(&self, v: f64) -> f64 {
        Self::LEFT + (Self::W - Self::LEFT - Self::RIGHT) * v / self.end_h
    }

    fn y(&self, v: f64) -> f64 {
        Self::TOP + (Self::H - Self::TOP - Self::BOTTOM) * (1.0 - v / self.ymax)
    }

    /// An SVG path through the points `(t, c)`.
    fn path(&self, ts: &[f64], cs: &[f64]) -> String {
        ts.iter()
            .zip(cs)
            .enumerate()
            .map(|(i, (tv, cv))| {
                format!(
                    "{}{:.1},{:.1}",
                    if i == 0 { "M" } else { "L" },
                    self.x(*tv),
                    self.y(*cv)
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Both axes with their ticks and labels.
    fn axes(&self) -> Markup {
        let (l, t, w, h, r, b) = (
            Self::LEFT,
            Self::TOP,
            Self::W,
            Self::H,
            Self::RIGHT,
            Self::BOTTOM,
        );
        let ystep = if self.ymax > 60.0 { 20.0 } else { 10.0 };
        let yticks: Vec<f64> = (0..)
            .map(|i| i as f64 * ystep)
            .take_while(|v| *v <= self.ymax)
            .collect();
        let xstep = if self.end_h > 72.0 { 24.0 } else { 12.0 };
        let xticks: Vec<f64> = (0..)
            .map(|i| i as f64 * xstep)
            .take_while(|v| *v <= self.end_h)
            .collect();
        html! {
            line x1=(l) y1=(fmt1(h - b)) x2=(fmt1(w - r)) y2=(fmt1(h - b)) stroke="#333" {}
            line x1=(l) y1=(t) x2=(l) y2=(fmt1(h - b)) stroke="#333" {}
            @for yv in yticks {
                text x=(fmt1(l - 4.0)) y=(fmt1(self.y(yv) + 4.0)) font-size="11" text-anchor="end" { (format_number(yv, 0)) }
            }
            @for xv in xticks {
                text x=(fmt1(self.x(xv))) y=(fmt1(h - b + 16.0)) font-size="11" text-anchor="middle" { (format_number(xv, 0)) " h" }
            }
        }
    }
}

/// A coordinate at one decimal.
fn fmt1(v: f64) -> String {
    format!("{v:.1}")
}

/// The fitted and population concentration curves with the measured levels and the target
/// band, as inline SVG built by `html!` (every value escaped like the rest of the page).
fn svg(
    d: &Disposition,
    typical: &Disposition,
    doses: &[RawDose],
    levels: &[Level],
    end_h: f64,
) -> Markup {
    let n = 300;
    let ts: Vec<f64> = (0..=n).map(|i| end_h * i as f64 / n as f64).collect();
    let mut c = vec![0.0; ts.len()];
    let mut c0 = vec![0.0; ts.len()];
    let ok = d.simulate(doses, &ts, &mut c, None).is_ok()
        && typical.simulate(doses, &ts, &mut c0, None).is_ok();
    if !ok {
        return html! {};
    }
    let (low, high) = match TARGET {
        Target::Auc24 { low, high } => (low / 24.0, high / 24.0),
        _ => (0.0, 0.0),
    };
    let ymax = c
        .iter()
        .chain(c0.iter())
        .copied()
        .chain(levels.iter().map(|l| l.concentration_mg_per_l))
        .fold(high, f64::max)
        * 1.1;
    let plot = Plot { end_h, ymax };
    let (l, w, r) = (Plot::LEFT, Plot::W, Plot::RIGHT);
    html! {
        svg viewBox={ "0 0 " (Plot::W) " " (Plot::H) } role="img"
            aria-label="Fitted vancomycin concentration over time with the target band" class="pk"
            xmlns="http://www.w3.org/2000/svg" {
            rect x=(l) y=(fmt1(plot.y(high))) width=(fmt1(w - l - r)) height=(fmt1(plot.y(low) - plot.y(high))) fill="#dff3e6" {
                title { "Target: average concentration for AUC24 400–600 mg·h/L" }
            }
            (plot.axes())
            path d=(plot.path(&ts, &c0)) fill="none" stroke="#999" stroke-dasharray="5 4" {
                title { "Population (typical) prediction" }
            }
            path d=(plot.path(&ts, &c)) fill="none" stroke="#0b5cad" stroke-width="2.5" data-curve="fitted" {
                title { "Fitted (this patient)" }
            }
            @for lv in levels {
                circle cx=(fmt1(plot.x(lv.time_h))) cy=(fmt1(plot.y(lv.concentration_mg_per_l))) r="5" fill="#b00020" data-level {
                    title { "Level " (q(lv.concentration_mg_per_l, "mg/L")) " at " (q(lv.time_h, "h")) }
                }
            }
            text x=(fmt1(l + 4.0)) y=(fmt1(Plot::TOP + 10.0)) font-size="11" { "mg/L" }
        }
    }
}

fn params_text(p: &LinearParams) -> String {
    match *p {
        LinearParams::One { cl, v } => format!("CL {} · V {}", q(cl, "L/h"), q(v, "L")),
        LinearParams::Two { cl, v1, q: qq, v2 } => format!(
            "CL {} · V1 {} · Q {} · V2 {}",
            q(cl, "L/h"),
            q(v1, "L"),
            q(qq, "L/h"),
            q(v2, "L")
        ),
        LinearParams::Three { cl, v1, .. } => format!("CL {} · V1 {}", q(cl, "L/h"), q(v1, "L")),
    }
}

/// The measured levels from the form, timed from the first dose (the form gives hours after
/// the start of the last dose, `last_start`). At least one is needed.
fn levels_of(f: &FormData, last_start: f64) -> Result<Vec<Level>, AppError> {
    let mut levels = Vec::new();
    for i in 1..=2 {
        let t = num(
            f,
            &format!("level{i}_after_h"),
            0.0,
            72.0,
            "h after the start of the last dose",
        )?;
        let c = num(f, &format!("level{i}_mg_l"), 0.0, 200.0, "mg/L")?;
        match (t, c) {
            (Some(t), Some(c)) => levels.push(Level {
                time_h: last_start + t,
                concentration_mg_per_l: c,
            }),
            (None, None) => {}
            _ => {
                return Err(AppError::invalid(
                    format!("level{i}"),
                    "",
                    "both the time after the last dose and the concentration",
                ));
            }
        }
    }
    if levels.is_empty() {
        return Err(AppError::invalid(
            "level1_mg_l",
            "",
            "at least one measured level",
        ));
    }
    Ok(levels)
}

async fn compute(s: &AppState, patient_id: &str, f: &FormData) -> Result<Option<Markup>, AppError> {
    let model = population::model(MODEL)
        .ok_or_else(|| AppError::Internal(format!("population model {MODEL} missing")))?;
    let ctx = s.app.context(patient_id, s.app.now_us()).await?;
    let (Some(dose), Some(interval), Some(duration), Some(count)) = (
        num(f, "dose_mg", 1.0, 4000.0, "mg")?,
        num(f, "interval_h", 1.0, 72.0, "h")?,
        num(f, "infusion_h", 0.25, 24.0, "h")?,
        num(f, "doses_given", 1.0, 60.0, "doses")?,
    ) else {
        return Ok(None);
    };
    let weight = ctx.weight_kg.as_ref().map(|(w, _)| *w).ok_or_else(|| {
        AppError::invalid("patient.weight", "", "a recorded weight; record it first")
    })?;
    let scr = ctx
        .labs
        .iter()
        .find(|(name, ..)| name == "serum_creatinine")
        .ok_or_else(|| {
            AppError::invalid(
                "patient.serum_creatinine",
                "",
                "a recorded serum creatinine; record it first",
            )
        })?;
    if scr.2 != "mg/dL" {
        return Err(AppError::invalid(
            "patient.serum_creatinine",
            format!("{} {}", scr.1, scr.2),
            "a creatinine in mg/dL",
        ));
    }
    let (crcl, crcl_steps) = population::cockcroft_gault_for_model(
        ctx.age_y as f64,
        ctx.sex == "female",
        BodyWeight::new(weight),
        scr.1,
    )
    .map_err(|e| pk_err("patient", e))?;
    let cov = Covariates {
        weight: BodyWeight::new(weight),
        crcl,
        dialysis: false,
    };
    let n = count.round() as usize;
    let doses: Vec<RawDose> = (0..n)
        .map(|k| RawDose {
            time: k as f64 * interval,
            amount: dose,
            duration,
        })
        .collect();
    let last_start = (n - 1) as f64 * interval;
    let levels = levels_of(f, last_start)?;
    let current = Regimen {
        dose_mg: dose,
        interval_h: interval,
        duration_h: duration,
    };
    let (fit, exposure, candidates) = assessed(model, &cov, &doses, &levels, current)?;
    let d = Disposition::new(&fit.individual).map_err(|e| pk_err("fit", e))?;
    let d0 = Disposition::new(&fit.typical).map_err(|e| pk_err("fit", e))?;
    let typical_steps = model
        .typical_steps(&cov)
        .map_err(|e| pk_err("patient", e))?;
    let plot = svg(&d, &d0, &doses, &levels, last_start + 2.0 * interval);
    Ok(Some(html! {
        section.card {
            h2 { "Fitted concentration" }
            (plot)
            p.muted { "Blue: fitted for this patient; dashed: population prediction; red: measured levels; green band: average concentration that gives AUC24 400–600 mg·h/L." }
        }
        (current_regimen(&exposure, &fit))
        (regimens(&candidates))
        (derivation(model, &fit, &crcl_steps, &typical_steps))
    }))
}

/// The fit to the levels, the steady-state exposure of the current regimen and the five best
/// regimens (the contract's default search: every 8, 12 or 24 h up to 4,000 mg a dose, within
/// the model's administration limits), by `infusio_pk::contract::assess` (the pipeline behind
/// `infusio pk fit` and `pk recommend`). `levels` is never empty here, so there is always a fit.
fn assessed(
    model: &PopulationModel,
    cov: &Covariates,
    doses: &[RawDose],
    levels: &[Level],
    current: Regimen,
) -> Result<(MapFit, regimen::Exposure, Vec<regimen::Candidate>), AppError> {
    let a = assess(
        model,
        cov,
        doses,
        levels,
        Some(current),
        Some(&default_search(model)),
        5,
    )
    .map_err(|e| {
        let field = match e.input {
            "observations" => "levels",
            "covariates" => "patient",
            _ => "regimen",
        };
        pk_err(field, e.reason)
    })?;
    let fit = a
        .fit
        .ok_or_else(|| AppError::invalid("level1_mg_l", "", "at least one measured level"))?;
    Ok((fit, a.exposure, a.candidates))
}

/// The current regimen's exposure at steady state and the fitted parameters.
fn current_regimen(exposure: &regimen::Exposure, fit: &map::MapFit) -> Markup {
    html! {
        section.card {
            h2 { "Current regimen at steady state" }
            dl.figures {
                dt { "AUC24" } dd data-figure="auc24" { (auc(exposure.auc24_steady_state)) }
                dt { "Peak" } dd { (conc(exposure.cmax_steady_state)) }
                dt { "Trough" } dd { (conc(exposure.cmin_steady_state)) }
            }
            p {
                "Fitted parameters: " (params_text(&fit.individual)) " (population: " (params_text(&fit.typical)) ")."
                @if !fit.converged {
                    " " strong.alert-text { "The fit did not converge within its budget: interpret with care." }
                }
            }
        }
    }
}

/// The creatinine clearance and population parameter steps, the model and its sources.
fn derivation(
    model: &population::PopulationModel,
    fit: &map::MapFit,
    crcl_steps: &[Step],
    typical_steps: &[Step],
) -> Markup {
    html! {
        details.card {
            summary { "Derivation and sources" }
            h3 { "Creatinine clearance" }
            (crate::html::steps(&serde_json::json!({"steps": crcl_steps})))
            h3 { "Population parameters" }
            (crate::html::steps(&serde_json::json!({"steps": typical_steps})))
            h3 { "Model" }
            p {
                (model.id) " — " (model.source.citation) ". Population: " (model.population)
                ". Fit: Bayesian maximum a posteriori (Sheiner LB, Beal SL. J Pharm Sci 1982;71:1344), objective "
                (format_number(fit.objective, 2)) " after " (fit.evaluations) " evaluations."
            }
            p { "Target: Rybak MJ, et al. Therapeutic monitoring of vancomycin for serious MRSA infections: a revised consensus guideline. Am J Health-Syst Pharm 2020;77:835-864." }
        }
    }
}

/// The recommended regimens, those on target marked.
fn regimens(candidates: &[regimen::Candidate]) -> Markup {
    html! {
        section.card {
            h2 { "Recommended regimens (target AUC24 400–600 mg·h/L)" }
            table data-regimens {
                thead { tr { th { "Dose" } th { "Every" } th { "Over" } th { "AUC24" } th { "Peak" } th { "Trough" } th { "On target" } } }
                tbody {
                    @for c in candidates {
                        tr class=(if c.meets_target { "diff-ok" } else { "diff-out" }) {
                            td.num { (q(c.regimen.dose_mg, "mg")) }
                            td.num { (q(c.regimen.interval_h, "h")) }
                            td.num { (q(c.regimen.duration_h, "h")) }
                            td.num { (auc(c.auc24)) }
                            td.num { (conc(c.cmax)) }
                            td.num { (conc(c.cmin)) }
                            td { @if c.meets_target { "✓ yes" } @else { "✗ no" } }
                        }
                    }
                }
            }
        }
    }
}

/// The form: the doses given and the measured levels.
fn levels_form(patient_id: &str, f: &FormData) -> Markup {
    html! {
        form method="get" action="/ui/pk/vancomycin" class="card" {
            input type="hidden" name="patient_id" value=(patient_id);
            h2 { "Doses given" }
            div.grid {
                div { (input("dose_mg", "Dose (mg)", f.val("dose_mg"), "e.g. 1000")) }
                div { (input("interval_h", "Every (h)", f.val("interval_h"), "e.g. 12")) }
                div { (input("infusion_h", "Infused over (h)", f.val("infusion_h"), "e.g. 1")) }
                div { (input("doses_given", "Doses given so far", f.val("doses_given"), "e.g. 4")) }
            }
            h2 { "Measured levels" }
            div.grid {
                div { (input("level1_after_h", "Level 1: hours after the start of the last dose", f.val("level1_after_h"), "e.g. 2")) }
                div { (input("level1_mg_l", "Level 1 (mg/L)", f.val("level1_mg_l"), "e.g. 30")) }
                div { (input("level2_after_h", "Level 2: hours after the start of the last dose", f.val("level2_after_h"), "optional, e.g. 11.5")) }
                div { (input("level2_mg_l", "Level 2 (mg/L)", f.val("level2_mg_l"), "optional")) }
            }
            div.actions { button type="submit" class="primary" { "Fit and recommend" } }
        }
    }
}

pub async fn vancomycin(
    State(s): State<AppState>,
    viewer: Viewer,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let title = "Vancomycin dosing from levels";
    let f = FormData(query);
    let Some(patient_id) = f.get("patient_id").map(str::to_string) else {
        return page(
            title,
            &viewer,
            "patients",
            html! { p { "Open it from a patient’s chart." } },
        );
    };
    let banner = match s.app.chart(viewer.actor(), &patient_id).await {
        Ok(c) => html! {
            p.patient-banner {
                "Patient: " a href={ "/ui/patients/" (c.patient.id) } { strong { (c.patient.data.family_name) ", " (c.patient.data.given_name) } }
                " " (c.patient.data.mrn)
            }
        },
        Err(err) => return page_with_error(title, &viewer, "patients", &err, html! {}),
    };
    let answer = match compute(&s, &patient_id, &f).await {
        Ok(Some(a)) => a,
        Ok(None) => html! {},
        Err(err) => error_box(&err),
    };
    let from_record = super::pk_order::section(&s, &viewer, &patient_id, &f).await;
    let body = html! { (banner) (levels_form(&patient_id, &f)) (answer) (from_record) };
    page(title, &viewer, "patients", body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use infusio_pk::regimen::Search;

    /// The page's figures through `assess` are those of the pipeline the page ran before
    /// (MAP fit, then the exposure of the current regimen, then the ranked regimens): 1 g every
    /// 12 h over 1 h, four doses, levels 2 h and 11.5 h after the start of the last one.
    #[test]
    fn the_page_figures_are_the_contract_pipelines() {
        let model = population::model(MODEL).expect("the page's model");
        let cov = Covariates {
            weight: BodyWeight::new(80.0),
            crcl: infusio_core::units::Clearance::new(90.0),
            dialysis: false,
        };
        let doses: Vec<RawDose> = (0..4)
            .map(|k| RawDose {
                time: f64::from(k) * 12.0,
                amount: 1000.0,
                duration: 1.0,
            })
            .collect();
        let levels = [
            Level {
                time_h: 36.0 + 2.0,
                concentration_mg_per_l: 32.0,
            },
            Level {
                time_h: 36.0 + 11.5,
                concentration_mg_per_l: 14.0,
            },
        ];
        let current = Regimen {
            dose_mg: 1000.0,
            interval_h: 12.0,
            duration_h: 1.0,
        };
        let (fit, exposure, candidates) =
            assessed(model, &cov, &doses, &levels, current).expect("assessed");
        // The search the page used to build itself is the contract's default.
        let page_search = Search {
            target: TARGET,
            increment_mg: model.administration.increment_mg,
            intervals_h: vec![8.0, 12.0, 24.0],
            max_rate_mg_per_h: model.administration.max_rate_mg_per_h,
            min_duration_h: model.administration.min_duration_h,
            duration_step_h: 0.5,
            max_dose_mg: 4000.0,
        };
        assert_eq!(default_search(model), page_search);

        let before = map::fit(model, &cov, &doses, &levels).expect("fit");
        let exposure_before =
            regimen::exposure(&before.individual, &doses, current).expect("exposure");
        let candidates_before =
            regimen::recommend(&before.individual, &default_search(model), 5).expect("regimens");
        assert_eq!(fit, before);
        assert_eq!(exposure, exposure_before);
        assert_eq!(candidates, candidates_before);
        assert_eq!(candidates.len(), 5);
        assert_eq!(
            current_regimen(&exposure, &fit).into_string(),
            current_regimen(&exposure_before, &before).into_string()
        );
        assert_eq!(
            regimens(&candidates).into_string(),
            regimens(&candidates_before).into_string()
        );
    }
}
