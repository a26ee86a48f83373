//! `pk fit` and `pk recommend`: a population model fitted to a patient's levels by Bayesian
//! MAP (or its prior without levels), the steady-state exposure of the regimen, and for a
//! recommendation the ranked regimens.

use std::fmt::Write as _;

use infusio_core::derivation::{Calculation, Finding, Severity, Source, Step};
use infusio_core::input::{Fields, InputError, as_given, check_range, parse_quantity_value};
use infusio_core::time::iso_from_us;
use infusio_core::units::{
    Age, BodyWeight, Clearance, Duration, Mass, PlasmaConcentration, Qty, SerumCreatinine,
    format_number,
};
use serde_json::{Value, json};

use super::plot::{self, Plot};
use super::times::{read_time, resolve_times};
use super::{
    CONSENSUS_2020, DOSE_WHAT, MAP_SOURCE, Options, Output, SUPERPOSITION, TIME_WHAT,
    attach_derivation, default_search, items, model_default_target, pk_error, qty_json, read_model,
    read_regimen, read_target, regimen_json, target_json,
};
use crate::PkError;
use crate::linear::{Disposition, LinearParams, RawDose};
use crate::map::{self, Level, MapFit};
use crate::population::{self, Covariates, PopulationModel};
use crate::regimen::{self, Candidate, Exposure, Regimen, Search, Target};

/// Why [`assess`] stopped: the input the failing step reads, and the library's reason.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{input}: {reason}")]
pub struct AssessError {
    /// `doses`, `covariates`, `observations`, `regimen` or `target`.
    pub input: &'static str,
    pub reason: PkError,
}

fn at(input: &'static str) -> impl Fn(PkError) -> AssessError {
    move |reason| AssessError { input, reason }
}

/// The typed result of [`assess`].
#[derive(Clone, Debug)]
pub struct Assessment {
    /// The MAP fit; `None` without levels (the prior is used).
    pub fit: Option<MapFit>,
    /// The individual parameters (the fit's, or the typical ones without levels).
    pub individual: LinearParams,
    /// The population's typical parameters for these covariates.
    pub typical: LinearParams,
    /// The regimen whose steady state is reported.
    pub regimen: Regimen,
    /// True when one dose was recorded and no regimen given: that dose every 12 h is assumed.
    pub regimen_assumed_q12h: bool,
    /// Steady-state and daily exposure of `regimen` after the recorded doses.
    pub exposure: Exposure,
    /// Ranked regimens (empty unless a search was given).
    pub candidates: Vec<Candidate>,
}

/// The typed pipeline behind `fit` and `recommend`, for callers that hold typed covariates,
/// doses as administered and levels (hours from a common origin): the MAP fit when there are
/// levels, the steady-state exposure of `regimen` (default: the regimen the recorded doses
/// repeat; for a single dose, that dose every 12 h, flagged), and with a `search` the best
/// `n_candidates` regimens. `doses` must not be empty.
pub fn assess(
    model: &PopulationModel,
    cov: &Covariates,
    doses: &[RawDose],
    levels: &[Level],
    regimen: Option<Regimen>,
    search: Option<&Search>,
    n_candidates: usize,
) -> Result<Assessment, AssessError> {
    let fit = if levels.is_empty() {
        None
    } else {
        Some(map::fit(model, cov, doses, levels).map_err(at("observations"))?)
    };
    let typical = model.typical(cov).map_err(at("covariates"))?;
    let individual = fit.as_ref().map_or(typical, |f| f.individual);
    let (regimen, regimen_assumed_q12h) = match regimen.or_else(|| Regimen::from_history(doses)) {
        Some(r) => (r, false),
        None => {
            let d = doses.first().copied().ok_or(AssessError {
                input: "doses",
                reason: PkError::Regimen("at least one dose is needed"),
            })?;
            let r = Regimen {
                dose_mg: d.amount,
                interval_h: 12.0,
                duration_h: d.duration,
            };
            (r, true)
        }
    };
    let exposure = regimen::exposure(&individual, doses, regimen).map_err(at("regimen"))?;
    let candidates = match search {
        Some(s) => regimen::recommend(&individual, s, n_candidates).map_err(at("target"))?,
        None => Vec::new(),
    };
    Ok(Assessment {
        fit,
        individual,
        typical,
        regimen,
        regimen_assumed_q12h,
        exposure,
        candidates,
    })
}

fn assess_error(e: AssessError) -> InputError {
    pk_error(e.input, e.reason)
}

/// The doses and levels as read, in hours from a common origin.
struct History {
    doses: Vec<RawDose>,
    levels: Vec<Level>,
    /// The earliest ISO date-time (µs since the epoch), when times were given as such.
    origin: Option<i64>,
}

/// A validated `fit` or `recommend` input.
struct Request {
    model: &'static PopulationModel,
    cov: Covariates,
    history: History,
    regimen: Option<Regimen>,
    target: Option<Target>,
    search: Search,
}

pub(super) fn fit(input: &Value, options: &Options, recommend: bool) -> Result<Output, InputError> {
    let mut calc = Calculation::new(if recommend { "pk recommend" } else { "pk fit" });
    let r = read_request(input, recommend, &mut calc)?;
    let model = r.model;
    calc.source(model.source);
    calc.source(SUPERPOSITION);
    if !model.verified {
        calc.finding(Finding::new(
            "model.parameters_unverified",
            Severity::Warning,
            format!("{}: {}", model.id, model.provenance),
        ));
    }
    calc.steps.extend(
        model
            .typical_steps(&r.cov)
            .map_err(|e| pk_error("covariates", e))?,
    );
    let search = recommend.then_some(&r.search);
    let a = assess(
        model,
        &r.cov,
        &r.history.doses,
        &r.history.levels,
        r.regimen,
        search,
        10,
    )
    .map_err(assess_error)?;
    push_fit_findings(&mut calc, &r.history, a.fit.as_ref());
    push_exposure_findings(&mut calc, &r, &a);
    let mut json = fit_json(&r, &a);
    let mut preface = String::new();
    if recommend {
        recommend_part(&mut calc, &mut json, &mut preface, &r, &a.candidates);
    }
    push_outputs(&mut calc, &r, &a);
    attach_derivation(&mut json, &calc);
    let title = format!(
        "{} ({}, regimen {} every {} over {})",
        if recommend {
            "Dose recommendation"
        } else {
            "Bayesian fit"
        },
        model.id,
        Qty::new(a.regimen.dose_mg, "mg").display(),
        Qty::new(a.regimen.interval_h, "h").display(),
        Qty::new(a.regimen.duration_h, "h").display()
    );
    let plot = options.plot.then(|| fit_plot(&r, &a, recommend));
    Ok(Output {
        json,
        preface,
        title,
        calculation: calc,
        plot,
    })
}

fn read_request(
    input: &Value,
    recommend: bool,
    calc: &mut Calculation,
) -> Result<Request, InputError> {
    let mut top = Fields::new(input, "")?;
    let model = read_model(&mut top)?;
    let mut cf = top.opt_object("covariates")?.ok_or_else(|| {
        InputError::new("covariates", "", "required: {\"weight\", \"crcl\", \"dialysis\"} or {\"weight\", \"age\", \"sex\", \"serum_creatinine\", \"dialysis\"}")
    })?;
    let cov = read_covariates(&mut cf, calc)?;
    cf.finish()?;
    let history = read_history(&mut top, !recommend)?;
    let regimen = match top.opt_object("regimen")? {
        Some(mut rf) => {
            let r = read_regimen(&mut rf, model)?;
            rf.finish()?;
            Some(r)
        }
        None => None,
    };
    let target = read_target(&mut top, model_default_target(model))?;
    let mut search = default_search(model);
    if recommend {
        search.target = target.ok_or_else(|| InputError::new("target", "", "required for this model: {\"auc24\": [low, high]} or {\"peak\": [...], \"trough\": [...]}"))?;
        read_search(&mut top, &mut search)?;
    }
    top.finish()?;
    Ok(Request {
        model,
        cov,
        history,
        regimen,
        target,
        search,
    })
}

/// The optional limits of a recommendation: increment, intervals, max_rate, min_duration,
/// max_dose (defaults: [`default_search`]).
fn read_search(top: &mut Fields, search: &mut Search) -> Result<(), InputError> {
    if let Some(inc) = top.opt_quantity("increment", DOSE_WHAT, Mass::from_quantity)? {
        let given = format!("{} mg", inc.value());
        check_range("increment", &given, inc.value(), 1.0, 5000.0, "mg")?;
        search.increment_mg = inc.value();
    }
    if let Some(list) = top.opt_array("intervals")? {
        search.intervals_h.clear();
        for (path, v) in list {
            let i = parse_quantity_value(
                v,
                &path,
                "an interval such as '12 h'",
                Duration::from_quantity,
            )?;
            check_range(&path, &as_given(v), i.value(), 0.25, 336.0, "h")?;
            search.intervals_h.push(i.value());
        }
        if search.intervals_h.is_empty() {
            return Err(InputError::new("intervals", "[]", "at least one interval"));
        }
    }
    if let Some(rate_value) = top.raw("max_rate") {
        let r = parse_quantity_value(rate_value, "max_rate", "a rate such as '10 mg/min'", |q| {
            q.value_in("mg/h")
        })?;
        check_range("max_rate", &as_given(rate_value), r, 1.0, 1e9, "mg/h")?;
        search.max_rate_mg_per_h = r;
    }
    if let Some(d) = top.opt_quantity("min_duration", TIME_WHAT, Duration::from_quantity)? {
        check_range("min_duration", "", d.value(), 0.0, 24.0, "h")?;
        search.min_duration_h = d.value();
    }
    if let Some(m) = top.opt_quantity("max_dose", DOSE_WHAT, Mass::from_quantity)? {
        let lowest = search.increment_mg;
        check_range("max_dose", "", m.value(), lowest, 20_000.0, "mg")?;
        search.max_dose_mg = m.value();
    }
    Ok(())
}

/// A quantity with its range checked, the error naming the field and the value as given.
fn ranged<T: Copy>(
    f: &mut Fields,
    key: &str,
    what: &str,
    parse: fn(&infusio_core::units::Quantity) -> Result<T, infusio_core::units::UnitError>,
    value: fn(T) -> f64,
    range: (f64, f64),
    unit: &str,
) -> Result<T, InputError> {
    let path = f.path_of(key);
    let given = f.raw(key).map(as_given).unwrap_or_default();
    let q = f.quantity(key, what, parse)?;
    check_range(&path, &given, value(q), range.0, range.1, unit)?;
    Ok(q)
}

/// Covariates: `weight`, `crcl` and `dialysis`, or patient fields (`age`, `sex`, `weight`,
/// `serum_creatinine`) from which CrCl is computed as the model specifies.
fn read_covariates(f: &mut Fields, calc: &mut Calculation) -> Result<Covariates, InputError> {
    let weight = ranged(
        f,
        "weight",
        "a body weight such as '80 kg'",
        BodyWeight::from_quantity,
        |w| w.value(),
        population::WEIGHT_KG_RANGE,
        "kg",
    )?;
    let dialysis = f.opt_bool("dialysis")?.ok_or_else(|| {
        InputError::new(
            f.path_of("dialysis"),
            "",
            "required: true or false (intermittent haemodialysis); never assumed",
        )
    })?;
    let crcl = if f.has("crcl") {
        for k in ["age", "sex", "serum_creatinine"] {
            if f.has(k) {
                return Err(InputError::new(
                    f.path_of(k),
                    "",
                    "give either crcl or the patient fields (age, sex, serum_creatinine) it is computed from, not both",
                ));
            }
        }
        ranged(
            f,
            "crcl",
            "a creatinine clearance such as '85 mL/min'",
            Clearance::from_quantity,
            |c| c.value(),
            population::CRCL_ML_MIN_RANGE,
            "mL/min",
        )?
    } else {
        crcl_from_patient(f, weight, calc)?
    };
    Ok(Covariates {
        weight,
        crcl,
        dialysis,
    })
}

/// Cockcroft-Gault as the model specifies, from age, sex and serum creatinine.
fn crcl_from_patient(
    f: &mut Fields,
    weight: BodyWeight,
    calc: &mut Calculation,
) -> Result<Clearance, InputError> {
    let age_path = f.path_of("age");
    let age = f.quantity("age", "an age such as '54 y'", Age::from_quantity)?;
    let sex = f.choice("sex", &["male", "female"])?;
    let scr_path = f.path_of("serum_creatinine");
    let scr = f.quantity(
        "serum_creatinine",
        "a serum creatinine such as '1.2 mg/dL' or '106 umol/L'",
        SerumCreatinine::from_quantity,
    )?;
    let (c, steps) =
        population::cockcroft_gault_for_model(age.value(), sex == "female", weight, scr.value())
            .map_err(|e| match e {
                PkError::Covariate {
                    name: "age",
                    value,
                    reason,
                } => InputError::new(
                    age_path.clone(),
                    format!("{} y", format_number(value, 1)),
                    reason,
                ),
                PkError::Covariate { value, reason, .. } => InputError::new(
                    scr_path.clone(),
                    format!("{} mg/dL", format_number(value, 2)),
                    reason,
                ),
                other => pk_error("covariates", other),
            })?;
    calc.steps.extend(steps);
    calc.source(population::COCKCROFT_GAULT);
    Ok(c)
}

fn read_history(top: &mut Fields, levels_required: bool) -> Result<History, InputError> {
    let mut raw_times = Vec::new();
    let mut amounts = Vec::new();
    for (path, v) in items(
        top,
        "doses",
        "the doses as administered [{\"time\", \"amount\", \"duration\"}]",
    )? {
        let mut d = Fields::new(v, &path)?;
        raw_times.push(read_time(&mut d, "time")?);
        let amount = ranged(
            &mut d,
            "amount",
            DOSE_WHAT,
            Mass::from_quantity,
            |m| m.value(),
            (0.0, 100_000.0),
            "mg",
        )?;
        let duration = ranged(
            &mut d,
            "duration",
            &format!("{TIME_WHAT}; '0 h' for a bolus"),
            Duration::from_quantity,
            |t| t.value(),
            (0.0, 48.0),
            "h",
        )?;
        d.finish()?;
        amounts.push((amount.value(), duration.value()));
    }
    let n_doses = raw_times.len();
    let concs = read_observations(top, levels_required, &mut raw_times)?;
    let (hours, origin) = resolve_times(&raw_times)?;
    let doses = hours[..n_doses]
        .iter()
        .zip(&amounts)
        .map(|(t, (a, d))| RawDose::infusion(*t, *a, *d))
        .collect();
    let levels = hours[n_doses..]
        .iter()
        .zip(&concs)
        .map(|(t, c)| Level {
            time_h: *t,
            concentration_mg_per_l: *c,
        })
        .collect();
    Ok(History {
        doses,
        levels,
        origin,
    })
}

/// The measured levels; their times are appended to `raw_times`.
fn read_observations(
    top: &mut Fields,
    levels_required: bool,
    raw_times: &mut Vec<(super::times::TimeValue, String)>,
) -> Result<Vec<f64>, InputError> {
    let mut concs = Vec::new();
    match top.opt_array("observations")? {
        Some(list) => {
            for (path, v) in list {
                let mut o = Fields::new(v, &path)?;
                raw_times.push(read_time(&mut o, "time")?);
                let c = ranged(
                    &mut o,
                    "concentration",
                    "a concentration such as '14.2 mg/L' (= mcg/mL)",
                    PlasmaConcentration::from_quantity,
                    |c| c.value(),
                    (0.0, 10_000.0),
                    "mg/L",
                )?;
                o.finish()?;
                concs.push(c.value());
            }
        }
        None if levels_required => {
            return Err(InputError::new(
                "observations",
                "",
                "required: at least one measured level [{\"time\", \"concentration\"}]",
            ));
        }
        None => {}
    }
    if levels_required && concs.is_empty() {
        return Err(InputError::new(
            "observations",
            "[]",
            "at least one measured level is needed for a fit",
        ));
    }
    Ok(concs)
}

/// The prior's or the fit's findings, and the MAP source when levels were fitted.
fn push_fit_findings(calc: &mut Calculation, history: &History, fit: Option<&MapFit>) {
    let Some(f) = fit else {
        calc.finding(Finding::new(
            "pk.a_priori",
            Severity::Info,
            "No measured level: the recommendation uses the population (typical) parameters for these covariates. Draw levels and refit.",
        ));
        return;
    };
    calc.source(MAP_SOURCE);
    if !f.converged {
        calc.finding(Finding::new(
            "pk.fit_not_converged",
            Severity::Warning,
            "The optimiser stopped before meeting its tolerance; check the levels and doses.",
        ));
    }
    if history.levels.len() == 1 {
        calc.finding(Finding::new(
            "pk.single_level",
            Severity::Info,
            "One level: the estimate leans on the population prior for what that level cannot tell apart (clearance versus volume).",
        ));
    }
    for (l, p) in history.levels.iter().zip(&f.predictions) {
        if history.doses.iter().all(|d| d.time > l.time_h) {
            calc.finding(Finding::new(
                "pk.level_before_first_dose",
                Severity::Warning,
                format!(
                    "A level at {} h precedes every recorded dose (predicted {}).",
                    format_number(l.time_h, 2),
                    format_number(*p, 2)
                ),
            ));
        }
    }
}

/// The assumed regimen, the AUC24 target check and the exposure steps.
fn push_exposure_findings(calc: &mut Calculation, r: &Request, a: &Assessment) {
    if a.regimen_assumed_q12h {
        calc.finding(Finding::new(
            "pk.regimen_assumed_q12h",
            Severity::Warning,
            "Only one dose was recorded and no \"regimen\" was given: the steady-state figures assume that dose every 12 h. Give \"regimen\" to choose.",
        ));
    }
    if let Some(Target::Auc24 { low, high }) = r.target {
        calc.source(CONSENSUS_2020);
        let auc = a.exposure.auc24_steady_state;
        if auc < low || auc > high {
            calc.finding(Finding::new(
                if auc < low { "pk.auc24_below_target" } else { "pk.auc24_above_target" },
                Severity::Warning,
                format!("Steady-state AUC24 {} mg.h/L with the current regimen is outside the target {}-{} mg.h/L.", format_number(auc, 0), format_number(low, 0), format_number(high, 0)),
            ));
        }
    }
    push_exposure_steps(calc, &a.individual, &a.exposure);
}

fn push_exposure_steps(calc: &mut Calculation, params: &LinearParams, e: &Exposure) {
    let r = e.regimen;
    calc.steps.push(
        Step::new(
            "AUC24 at steady state (exact for a linear model: AUC over one interval = dose / CL)",
            "AUC24 = dose × (24 / interval) / CL",
            Qty::new(e.auc24_steady_state, "mg.h/L"),
        )
        .input("dose", Qty::new(r.dose_mg, "mg"))
        .input("interval", Qty::new(r.interval_h, "h"))
        .input("cl", Qty::new(params.cl(), "L/h")),
    );
    calc.steps.push(
        Step::new(
            "Cmax at steady state (end of infusion)",
            "Cmax = Σ R·(aᵢ/λᵢ)·(1 − e^(−λᵢ·T)) / (1 − e^(−λᵢ·τ)), R = dose / T",
            Qty::new(e.cmax_steady_state, "mg/L"),
        )
        .input("duration", Qty::new(r.duration_h, "h"))
        .input("interval", Qty::new(r.interval_h, "h")),
    );
    calc.steps.push(Step::new(
        "Cmin at steady state (just before the next dose)",
        "Cmin = Σ R·(aᵢ/λᵢ)·(1 − e^(−λᵢ·T))·e^(−λᵢ·(τ − T)) / (1 − e^(−λᵢ·τ))",
        Qty::new(e.cmin_steady_state, "mg/L"),
    ));
}

fn params_json(p: &LinearParams) -> Value {
    let named: serde_json::Map<String, Value> = crate::typed::parameters(p)
        .into_iter()
        .map(|(n, v)| {
            (
                n.to_string(),
                serde_json::to_value(v.qty()).unwrap_or(Value::Null),
            )
        })
        .collect();
    Value::Object(named)
}

/// The contract's JSON for a fit (before recommendations and the derivation).
fn fit_json(r: &Request, a: &Assessment) -> Value {
    let cov = &r.cov;
    let mut json = json!({"model": r.model.id});
    json["parameters"] = params_json(&a.individual);
    json["typical_parameters"] = params_json(&a.typical);
    json["covariates"] =
        json!({"weight": cov.weight.qty(), "crcl": cov.crcl.qty(), "dialysis": cov.dialysis});
    if let Some(f) = &a.fit {
        let etas: serde_json::Map<String, Value> = r
            .model
            .eta_names()
            .into_iter()
            .zip(&f.etas)
            .map(|(p, e)| (p.to_string(), json!(e)))
            .collect();
        json["etas"] = Value::Object(etas);
        json["predictions"] = predictions_json(&r.history.levels, f);
        json["objective"] = json!(f.objective);
        json["objective_definition"] = json!(
            "-2 log posterior (NONMEM convention, constants omitted): sum over levels of (y - f)^2/var + ln var, plus sum of eta^2/omega^2; var = additive^2 + (proportional x f)^2"
        );
        json["converged"] = json!(f.converged);
    }
    let e = &a.exposure;
    json["regimen"] = regimen_json(&e.regimen);
    json["auc24"] = qty_json(e.auc24_steady_state, "mg.h/L");
    json["cmax"] = qty_json(e.cmax_steady_state, "mg/L");
    json["cmin"] = qty_json(e.cmin_steady_state, "mg/L");
    json["auc24_by_day"] = Value::Array(
        e.auc_by_day
            .iter()
            .map(|(d, auc)| json!({"day": d, "auc": qty_json(*auc, "mg.h/L")}))
            .collect(),
    );
    if let Some(o) = r.history.origin {
        json["time_origin"] = json!(iso_from_us(o));
    }
    json
}

fn predictions_json(levels: &[Level], f: &MapFit) -> Value {
    Value::Array(
        levels
            .iter()
            .zip(&f.predictions)
            .zip(&f.population_predictions)
            .map(|((l, p), pp)| {
                json!({
                    "time": qty_json(l.time_h, "h"),
                    "observed": qty_json(l.concentration_mg_per_l, "mg/L"),
                    "predicted": qty_json(*p, "mg/L"),
                    "population_predicted": qty_json(*pp, "mg/L"),
                })
            })
            .collect(),
    )
}

/// The recommendation: its finding, step and source, the ranked regimens in the JSON and
/// their table in the preface.
fn recommend_part(
    calc: &mut Calculation,
    json: &mut Value,
    preface: &mut String,
    r: &Request,
    candidates: &[Candidate],
) {
    let (model, search) = (r.model, &r.search);
    if !candidates.first().is_some_and(|c| c.meets_target) {
        calc.finding(Finding::new("pk.no_regimen_meets_target", Severity::Warning, "No regimen within the increments, intervals and maximum dose meets the target; the closest are listed."));
    }
    calc.steps.push(
        Step::new(
            "Candidate regimens: every multiple of the increment up to the maximum dose, at each interval; infusion duration = max(minimum, dose / maximum rate) rounded up to 0.5 h; steady state in closed form",
            "AUC24 = dose × 24/interval / CL; Cmax at the end of the infusion; Cmin before the next dose",
            Qty::new(candidates.len() as f64, ""),
        )
        .input("increment", Qty::new(search.increment_mg, "mg"))
        .input("max_rate", Qty::new(search.max_rate_mg_per_h, "mg/h"))
        .input("min_duration", Qty::new(search.min_duration_h, "h")),
    );
    calc.source(Source {
        id: "administration-limits",
        citation: model.administration.source,
    });
    json["regimens"] = Value::Array(
        candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut j = regimen_json(&c.regimen);
                j["rank"] = json!(i + 1);
                j["auc24"] = qty_json(c.auc24, "mg.h/L");
                j["cmax"] = qty_json(c.cmax, "mg/L");
                j["cmin"] = qty_json(c.cmin, "mg/L");
                j["meets_target"] = json!(c.meets_target);
                j
            })
            .collect(),
    );
    json["target"] = target_json(&search.target);
    preface.push_str(&candidates_table(model.id, candidates));
}

fn candidates_table(model_id: &str, candidates: &[Candidate]) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "Recommended regimens ({model_id})");
    let _ = writeln!(
        text,
        "  {:>4}  {:>9}  {:>8}  {:>8}  {:>13}  {:>10}  {:>10}  target",
        "rank", "dose", "every", "over", "AUC24", "Cmax", "Cmin"
    );
    for (i, c) in candidates.iter().enumerate() {
        let _ = writeln!(
            text,
            "  {:>4}  {:>9}  {:>8}  {:>8}  {:>13}  {:>10}  {:>10}  {}",
            i + 1,
            Qty::new(c.regimen.dose_mg, "mg").display(),
            Qty::new(c.regimen.interval_h, "h").display(),
            Qty::new(c.regimen.duration_h, "h").display(),
            format!("{} mg.h/L", format_number(c.auc24, 0)),
            Qty::new(c.cmax, "mg/L").display(),
            Qty::new(c.cmin, "mg/L").display(),
            if c.meets_target { "yes" } else { "no" }
        );
    }
    text.push('\n');
    text
}

/// The outputs of the readable report.
fn push_outputs(calc: &mut Calculation, r: &Request, a: &Assessment) {
    for (name, v) in crate::typed::parameters(&a.individual) {
        calc.output(&format!("{name} (individual)"), v.qty());
    }
    if let Some(f) = &a.fit {
        for (p, e) in r.model.eta_names().into_iter().zip(&f.etas) {
            calc.output(&format!("eta {p}"), Qty::new(*e, ""));
        }
        for (l, p) in r.history.levels.iter().zip(&f.predictions) {
            calc.output(
                &format!(
                    "level at {} h: observed {} mg/L, predicted",
                    format_number(l.time_h, 2),
                    format_number(l.concentration_mg_per_l, 2)
                ),
                Qty::new(*p, "mg/L"),
            );
        }
        calc.output("objective (-2 log posterior)", Qty::new(f.objective, ""));
    }
    let e = &a.exposure;
    calc.output(
        "AUC24 at steady state",
        Qty::new(e.auc24_steady_state, "mg.h/L"),
    );
    calc.output(
        "Cmax at steady state",
        Qty::new(e.cmax_steady_state, "mg/L"),
    );
    calc.output(
        "Cmin at steady state",
        Qty::new(e.cmin_steady_state, "mg/L"),
    );
    for (d, auc) in &e.auc_by_day {
        calc.output(&format!("AUC day {d}"), Qty::new(*auc, "mg.h/L"));
    }
}

/// The plot: the recorded history and, for a recommendation, the first regimen continued
/// for 72 h; the target band.
fn fit_plot(r: &Request, a: &Assessment, recommend: bool) -> String {
    let history = &r.history;
    let mut doses = history.doses.clone();
    let last_start = doses
        .iter()
        .map(|x| x.time)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut t1 = last_start + a.regimen.interval_h;
    if let Some(best) = a.candidates.first() {
        let start = last_start + a.regimen.interval_h;
        for k in 0..(72.0 / best.regimen.interval_h).ceil() as usize {
            doses.push(RawDose::infusion(
                start + k as f64 * best.regimen.interval_h,
                best.regimen.dose_mg,
                best.regimen.duration_h,
            ));
        }
        t1 = start + 72.0;
    }
    for l in &history.levels {
        t1 = t1.max(l.time_h);
    }
    let t0 = doses
        .iter()
        .map(|x| x.time)
        .fold(f64::INFINITY, f64::min)
        .min(0.0);
    let curve = Disposition::new(&a.individual)
        .map(|d| plot::sample_curve(&d, &doses, t0, t1))
        .unwrap_or_default();
    let obs: Vec<(f64, f64)> = history
        .levels
        .iter()
        .map(|l| (l.time_h, l.concentration_mg_per_l))
        .collect();
    let band = target_band(recommend.then_some(r.search.target).or(r.target));
    plot::plot(&Plot {
        title: &format!(
            "{} - {}",
            r.model.id,
            if recommend {
                "history and recommended regimen"
            } else {
                "individual fit"
            }
        ),
        time_unit: "h",
        conc_unit: "mg/L",
        curve: &curve,
        observations: &obs,
        band: band.as_ref().map(|(lo, hi, l)| (*lo, *hi, l.as_str())),
    })
}

/// The shaded band of a target: the average concentration of an AUC24 range, or the trough
/// (else the peak) range.
fn target_band(target: Option<Target>) -> Option<(f64, f64, String)> {
    match target? {
        Target::Auc24 { low, high } => Some((
            low / 24.0,
            high / 24.0,
            format!(
                "average concentration for AUC24 {}-{} mg.h/L",
                format_number(low, 0),
                format_number(high, 0)
            ),
        )),
        Target::PeakTrough {
            trough: Some((lo, hi)),
            ..
        } => Some((lo, hi, "trough target".to_string())),
        Target::PeakTrough {
            peak: Some((lo, hi)),
            ..
        } => Some((lo, hi, "peak target".to_string())),
        Target::PeakTrough { .. } => None,
    }
}
