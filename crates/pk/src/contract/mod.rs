//! The JSON contract of `infusio pk` (simulate, fit, recommend, pta), callable by every edge.
//!
//! Each entry point reads one JSON object strictly (unknown keys refused; every quantity
//! typed and range-checked; an [`InputError`] names the field, the value as given and what is
//! accepted), applies the documented defaults, runs the library and shapes the answer: the
//! contract's JSON object, a [`Calculation`] (outputs, derivation steps, sources, findings)
//! for a readable report, the table that precedes that report, and on request an SVG plot.
//! The CLI, the web UI and the API call these same functions; the CLI only reads the input,
//! prints and writes files.
//!
//! Pure like the rest of the crate: no I/O, no clock. Progress of a long virtual-population
//! run is reported through a callback.
//!
//! For a caller that has typed covariates, doses and levels already (the web page, the app),
//! [`assess`] is the typed pipeline behind `fit` and `recommend`: MAP fit, the regimen's
//! steady-state exposure and the ranked regimens, with [`default_search`] as its limits.

mod fit;
mod plot;
mod pta;
mod simulate;
mod times;

pub use fit::{AssessError, Assessment, assess};
pub use plot::{Plot, plot as svg_plot, sample_curve};

use infusio_core::derivation::{Calculation, Source};
use infusio_core::input::{Fields, InputError, as_given, check_range, parse_quantity_value};
use infusio_core::units::{
    AucMgHourPerL, Duration, Mass, PlasmaConcentration, Quantity, UnitError, format_number,
};
use serde_json::{Value, json};

use crate::PkError;
use crate::population::{self, PopulationModel};
use crate::regimen::{self, Regimen, Search, Target};

/// Closed-form superposition: the method of the linear models.
pub const SUPERPOSITION: Source = Source {
    id: "gibaldi-perrier-1982",
    citation: "Gibaldi M, Perrier D. Pharmacokinetics, 2nd ed. Marcel Dekker 1982: multi-compartment models, sums of exponentials and superposition (closed form, exact integrals)",
};
/// The MAP objective of the Bayesian fit.
pub const MAP_SOURCE: Source = Source {
    id: "sheiner-beal-map",
    citation: "Sheiner LB, Beal SL. Bayesian individualization of pharmacokinetics: simple implementation and comparison with non-Bayesian methods. J Pharm Sci 1982;71:1344-1348 (MAP objective, NONMEM -2 log-likelihood convention)",
};
/// The vancomycin AUC24 target.
pub const CONSENSUS_2020: Source = Source {
    id: "rybak-2020",
    citation: "Rybak MJ, Le J, Lodise TP, et al. Therapeutic monitoring of vancomycin for serious MRSA infections: a revised consensus guideline. Am J Health-Syst Pharm 2020;77:835-864 (AUC24 400-600 mg.h/L, Bayesian dosing preferred)",
};

/// What the caller wants beyond the JSON answer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Draw the SVG concentration-time plot (`simulate`, `fit`, `recommend`). Default: no.
    pub plot: bool,
}

/// The answer of one contract call.
#[derive(Clone, Debug)]
pub struct Output {
    /// The contract's JSON object (`--json`).
    pub json: Value,
    /// Readable text printed before the report (tables of concentrations or regimens);
    /// ends with the blank line that separates it from the report, or is empty.
    pub preface: String,
    /// The title of the readable report.
    pub title: String,
    /// Outputs, derivation steps, sources and findings for the readable report (the same
    /// steps, sources and findings as the JSON object).
    pub calculation: Calculation,
    /// The SVG plot, when asked for and when the command draws one.
    pub plot: Option<String>,
}

/// Runs one subcommand of the contract: `simulate`, `fit`, `recommend` or `pta`.
/// `progress(done, n)` is called while a `pta` population is simulated.
pub fn run(
    sub: &str,
    input: &Value,
    options: &Options,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Output, InputError> {
    match sub {
        "simulate" => simulate::simulate(input, options),
        "fit" => fit::fit(input, options, false),
        "recommend" => fit::fit(input, options, true),
        "pta" => pta::pta(input, progress),
        other => Err(InputError::new(
            "(subcommand)",
            other,
            "expected one of: simulate, fit, recommend, pta",
        )),
    }
}

/// `pk simulate`: concentrations of linear compartment models at given times.
pub fn simulate(input: &Value, options: &Options) -> Result<Output, InputError> {
    simulate::simulate(input, options)
}

/// `pk fit`: Bayesian MAP fit of a population model to measured levels.
pub fn fit(input: &Value, options: &Options) -> Result<Output, InputError> {
    fit::fit(input, options, false)
}

/// `pk recommend`: the fit (or the prior without levels) and ranked regimens.
pub fn recommend(input: &Value, options: &Options) -> Result<Output, InputError> {
    fit::fit(input, options, true)
}

/// `pk pta`: seeded Monte Carlo probability of target attainment.
pub fn pta(input: &Value, progress: &mut dyn FnMut(usize, usize)) -> Result<Output, InputError> {
    pta::pta(input, progress)
}

/// The default dose search of a model: its administration defaults, the vancomycin AUC24
/// target (Rybak 2020), intervals of 8, 12 and 24 h, durations in 0.5 h steps, at most
/// 4,000 mg per dose.
pub fn default_search(model: &PopulationModel) -> Search {
    Search {
        target: Target::VANCOMYCIN_DEFAULT,
        increment_mg: model.administration.increment_mg,
        intervals_h: vec![8.0, 12.0, 24.0],
        max_rate_mg_per_h: model.administration.max_rate_mg_per_h,
        min_duration_h: model.administration.min_duration_h,
        duration_step_h: 0.5,
        max_dose_mg: 4000.0,
    }
}

// ---------------------------------------------------------------------------------------
// Shared readers and writers.
// ---------------------------------------------------------------------------------------

const DOSE_WHAT: &str = "a dose such as '1000 mg' or '1 g'";
const TIME_WHAT: &str = "a duration such as '1 h' or '90 min'";

/// A library refusal that validation should have caught: shown as a refused input with the
/// library's reason rather than a crash.
fn pk_error(field: &str, e: PkError) -> InputError {
    InputError::new(field, "", e.to_string())
}

fn qty_json(value: f64, unit: &str) -> Value {
    json!({"value": value, "unit": unit})
}

/// A finite bare number within `[min, max]`.
fn bare(f: &mut Fields, key: &str, min: f64, max: f64, unit: &str) -> Result<f64, InputError> {
    let path = f.path_of(key);
    let given = f.raw(key).map(as_given).unwrap_or_default();
    let v = f.number(key)?;
    check_range(&path, &given, v, min, max, unit)?;
    Ok(v)
}

/// A required, non-empty array.
fn items<'a>(
    f: &mut Fields<'a>,
    key: &str,
    what: &str,
) -> Result<Vec<(String, &'a Value)>, InputError> {
    let list = f
        .opt_array(key)?
        .ok_or_else(|| InputError::new(f.path_of(key), "", format!("required: {what}")))?;
    if list.is_empty() {
        return Err(InputError::new(
            f.path_of(key),
            "[]",
            format!("at least one entry is needed: {what}"),
        ));
    }
    Ok(list)
}

/// The model named by `model`. Only models whose parameters were checked against their
/// publication are offered for patient care; an unverified one (`verified: false`, e.g. a
/// model written from memory) is refused unless the input says `"research": true`, and then
/// every output carries `model.parameters_unverified`.
fn read_model(top: &mut Fields) -> Result<&'static PopulationModel, InputError> {
    let ids: Vec<&str> = population::MODELS.iter().map(|m| m.id).collect();
    let id = top.choice("model", &ids)?;
    let research = top.opt_bool("research")?.unwrap_or(false);
    let model =
        population::model(&id).ok_or_else(|| InputError::new("model", &id, "unknown model"))?;
    if !model.verified && !research {
        let verified: Vec<&str> = population::MODELS
            .iter()
            .filter(|m| m.verified)
            .map(|m| m.id)
            .collect();
        return Err(InputError::new(
            "model",
            id,
            format!(
                "a model whose parameters were checked against its publication: {}; this model's parameters are unverified, so it is offered for research only (add \"research\": true)",
                verified.join(", ")
            ),
        ));
    }
    Ok(model)
}

/// `{"dose", "interval", "duration"?}`; without a duration, the model's default infusion
/// duration for that dose.
fn read_regimen(f: &mut Fields, model: &PopulationModel) -> Result<Regimen, InputError> {
    let dose = f.quantity("dose", DOSE_WHAT, Mass::from_quantity)?;
    let interval = f.quantity(
        "interval",
        "an interval such as '12 h'",
        Duration::from_quantity,
    )?;
    let ipath = f.path_of("interval");
    check_range(
        &ipath,
        &format!("{} h", format_number(interval.value(), 2)),
        interval.value(),
        0.25,
        336.0,
        "h",
    )?;
    let duration = match f.opt_quantity("duration", TIME_WHAT, Duration::from_quantity)? {
        Some(d) => d.value(),
        None => regimen::infusion_duration(dose.value(), &default_search(model)),
    };
    if duration < 0.0 || duration > interval.value() {
        return Err(InputError::new(
            f.path_of("duration"),
            format!("{duration} h"),
            "the infusion must last between 0 and the interval",
        ));
    }
    Ok(Regimen {
        dose_mg: dose.value(),
        interval_h: interval.value(),
        duration_h: duration,
    })
}

fn read_range(
    f: &mut Fields,
    key: &str,
    what: &str,
    convert: fn(&Quantity) -> Result<f64, UnitError>,
) -> Result<Option<(f64, f64)>, InputError> {
    let path = f.path_of(key);
    let Some(v) = f.raw(key) else { return Ok(None) };
    let Value::Array(pair) = v else {
        return Err(InputError::new(
            path,
            as_given(v),
            format!("expected [low, high], e.g. {what}"),
        ));
    };
    if pair.len() != 2 {
        return Err(InputError::new(
            path,
            as_given(v),
            format!("expected two values [low, high], e.g. {what}"),
        ));
    }
    let lo = parse_quantity_value(&pair[0], &format!("{path}[0]"), what, convert)?;
    let hi = parse_quantity_value(&pair[1], &format!("{path}[1]"), what, convert)?;
    if !(lo >= 0.0 && hi > lo) {
        return Err(InputError::new(
            path,
            as_given(v),
            "expected 0 ≤ low < high",
        ));
    }
    Ok(Some((lo, hi)))
}

/// `{"auc24": [low, high]}` or `{"peak": [...], "trough": [...]}`; `default` when absent.
fn read_target(top: &mut Fields, default: Option<Target>) -> Result<Option<Target>, InputError> {
    let Some(mut t) = top.opt_object("target")? else {
        return Ok(default);
    };
    let auc = read_range(&mut t, "auc24", "[\"400 mg.h/L\", \"600 mg.h/L\"]", |q| {
        AucMgHourPerL::from_quantity(q).map(|a| a.value())
    })?;
    let peak = read_range(&mut t, "peak", "[\"16 mg/L\", \"24 mg/L\"]", |q| {
        PlasmaConcentration::from_quantity(q).map(|a| a.value())
    })?;
    let trough = read_range(&mut t, "trough", "[\"0 mg/L\", \"1 mg/L\"]", |q| {
        PlasmaConcentration::from_quantity(q).map(|a| a.value())
    })?;
    let path = t.path_of("auc24");
    t.finish()?;
    match (auc, peak, trough) {
        (Some((low, high)), None, None) => Ok(Some(Target::Auc24 { low, high })),
        (None, None, None) => Err(InputError::new(
            "target",
            "{}",
            "give auc24, or peak and/or trough, each as [low, high]",
        )),
        (None, peak, trough) => Ok(Some(Target::PeakTrough { peak, trough })),
        (Some(_), _, _) => Err(InputError::new(
            path,
            "",
            "give either an auc24 target or peak/trough targets, not both",
        )),
    }
}

/// The vancomycin AUC24 target for a vancomycin model, none otherwise.
fn model_default_target(model: &PopulationModel) -> Option<Target> {
    (model.drug == "vancomycin").then_some(Target::VANCOMYCIN_DEFAULT)
}

fn regimen_json(r: &Regimen) -> Value {
    json!({
        "dose": qty_json(r.dose_mg, "mg"),
        "interval": qty_json(r.interval_h, "h"),
        "duration": qty_json(r.duration_h, "h"),
        // A bolus has no rate.
        "rate": if r.duration_h > 0.0 { qty_json(r.dose_mg / r.duration_h / 60.0, "mg/min") } else { Value::Null },
    })
}

fn target_json(t: &Target) -> Value {
    match *t {
        Target::Auc24 { low, high } => {
            json!({"auc24": [qty_json(low, "mg.h/L"), qty_json(high, "mg.h/L")]})
        }
        Target::PeakTrough { peak, trough } => json!({
            "peak": peak.map(|(a, b)| json!([qty_json(a, "mg/L"), qty_json(b, "mg/L")])),
            "trough": trough.map(|(a, b)| json!([qty_json(a, "mg/L"), qty_json(b, "mg/L")])),
        }),
    }
}

/// Puts the calculation's steps, sources and findings into the JSON answer.
fn attach_derivation(json: &mut Value, calc: &Calculation) {
    json["steps"] = serde_json::to_value(&calc.steps).unwrap_or(Value::Null);
    json["sources"] = serde_json::to_value(&calc.sources).unwrap_or(Value::Null);
    json["findings"] = serde_json::to_value(&calc.findings).unwrap_or(Value::Null);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear::RawDose;
    use crate::map::Level;
    use crate::population::Covariates;
    use infusio_core::units::{BodyWeight, Clearance};

    fn no_progress() -> impl FnMut(usize, usize) {
        |_, _| {}
    }

    fn fit_input() -> Value {
        json!({
            "model": "vancomycin-goti-2018",
            "covariates": {"weight": "80 kg", "crcl": "85 mL/min", "dialysis": false},
            "doses": [
                {"time": "2026-11-24T08:00:00Z", "amount": "1000 mg", "duration": "1 h"},
                {"time": "2026-11-24T20:00:00Z", "amount": "1000 mg", "duration": "1 h"},
                {"time": "2026-11-25T08:00:00Z", "amount": "1000 mg", "duration": "1 h"},
                {"time": "2026-11-25T20:00:00Z", "amount": "1000 mg", "duration": "1 h"}
            ],
            "observations": [
                {"time": "2026-11-25T21:30:00Z", "concentration": "32 mg/L"},
                {"time": "2026-11-26T08:30:00+01:00", "concentration": "14.2 mg/L"}
            ]
        })
    }

    #[test]
    fn simulate_matches_a_one_compartment_bolus_written_out() {
        let input = json!({
            "units": {"time": "h", "amount": "mg", "volume": "L"},
            "model": {"compartments": 1, "parameters": {"cl": 5, "v": 50}},
            "doses": [{"time": 0, "amount": 1000, "duration": 0}],
            "times": [1, 6, 24]
        });
        let out = simulate(&input, &Options { plot: true });
        let out = out.map_err(|e| e.to_string());
        let Ok(out) = out else {
            panic!("refused: {out:?}");
        };
        let conc = out.json["concentrations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(conc.len(), 3);
        for (c, t) in conc.iter().zip([1.0f64, 6.0, 24.0]) {
            let by_hand = 1000.0 / 50.0 * (-(5.0 / 50.0) * t).exp();
            let c = c.as_f64().unwrap_or(f64::NAN);
            assert!(
                (c - by_hand).abs() < 1e-9 * by_hand,
                "{t} h: {c} vs {by_hand}"
            );
        }
        assert_eq!(out.json["unit"], "mg/L");
        assert!(out.preface.contains("conc (mg/L)"));
        assert!(out.plot.is_some_and(|s| s.contains("<polyline")));
        assert_eq!(out.json["findings"], json!([]));
    }

    #[test]
    fn a_fit_with_iso_times_agrees_with_the_typed_pipeline() {
        let out = fit(&fit_input(), &Options::default());
        let Ok(out) = out else {
            panic!("refused: {:?}", out.err());
        };
        assert_eq!(out.json["time_origin"], "2026-11-24T08:00:00Z");
        assert_eq!(out.json["predictions"][1]["time"]["value"], 47.5);
        assert!(out.plot.is_none(), "no plot unless asked for");
        let model = population::model("vancomycin-goti-2018");
        let Some(model) = model else {
            panic!("model missing");
        };
        let cov = Covariates {
            weight: BodyWeight::new(80.0),
            crcl: Clearance::new(85.0),
            dialysis: false,
        };
        let doses: Vec<RawDose> = (0..4)
            .map(|k| RawDose::infusion(12.0 * k as f64, 1000.0, 1.0))
            .collect();
        let levels = [
            Level {
                time_h: 37.5,
                concentration_mg_per_l: 32.0,
            },
            Level {
                time_h: 47.5,
                concentration_mg_per_l: 14.2,
            },
        ];
        let search = default_search(model);
        let a = assess(model, &cov, &doses, &levels, None, Some(&search), 5);
        let Ok(a) = a else {
            panic!("{:?}", a.err());
        };
        let auc = out.json["auc24"]["value"].as_f64().unwrap_or(f64::NAN);
        assert!((auc - a.exposure.auc24_steady_state).abs() < 1e-9 * auc);
        assert_eq!(a.candidates.len(), 5);
        assert!(!a.regimen_assumed_q12h);
        assert!(a.fit.is_some_and(|f| f.converged));
    }

    #[test]
    fn recommend_without_levels_uses_the_prior_and_ranks_regimens() {
        let mut input = fit_input();
        input.as_object_mut().map(|o| o.remove("observations"));
        let out = recommend(&input, &Options { plot: true });
        let Ok(out) = out else {
            panic!("refused: {:?}", out.err());
        };
        let codes: Vec<&str> = out
            .calculation
            .findings
            .iter()
            .map(|f| f.code.as_str())
            .collect();
        assert!(codes.contains(&"pk.a_priori"), "{codes:?}");
        let regimens = out.json["regimens"].as_array().cloned().unwrap_or_default();
        assert!(!regimens.is_empty() && regimens.len() <= 10);
        assert_eq!(regimens[0]["rank"], 1);
        assert!(
            out.preface
                .starts_with("Recommended regimens (vancomycin-goti-2018)")
        );
        assert!(out.plot.is_some_and(|s| s.contains("AUC24 400-600")));
    }

    #[test]
    fn refusals_name_the_field_the_value_and_the_form() {
        let mut input = fit_input();
        input["observations"][1]["time"] = json!("2026-11-26T08:30:00");
        let e = fit(&input, &Options::default()).err();
        assert_eq!(
            e.as_ref().map(|e| (e.field.as_str(), e.value.as_str())),
            Some(("observations[1].time", "2026-11-26T08:30:00"))
        );
        assert!(e.is_some_and(|e| e.message.contains("offset is required")));
        let mut input = fit_input();
        input["doses"][1]["time"] = json!("12 h");
        let e = fit(&input, &Options::default()).err();
        assert_eq!(e.map(|e| e.field), Some("doses[1].time".to_string()));
        let e = run("bogus", &json!({}), &Options::default(), &mut no_progress()).err();
        assert_eq!(e.map(|e| e.field), Some("(subcommand)".to_string()));
    }

    #[test]
    fn pta_reports_progress_and_is_reproducible_by_seed() {
        let input = json!({
            "model": "vancomycin-goti-2018",
            "covariates": {"weight": {"mean": "80 kg", "sd": "15 kg", "min": "40 kg", "max": "150 kg"}, "crcl": "90 mL/min", "dialysis": false},
            "regimens": [{"dose": "1000 mg", "interval": "12 h"}, {"dose": "1500 mg", "interval": "12 h"}],
            "n": 2000,
            "seed": 7
        });
        let mut calls = 0usize;
        let mut count = |_: usize, n: usize| {
            assert_eq!(n, 2000);
            calls += 1;
        };
        let a = pta(&input, &mut count).map(|o| o.json);
        // The library reports every 1,000 virtual patients.
        assert_eq!(calls, 2, "progress was reported");
        let b = pta(&input, &mut no_progress()).map(|o| o.json);
        assert!(a.is_ok());
        assert_eq!(a, b);
        let p = a.map(|j| j["regimens"][0]["probability"].as_f64().unwrap_or(-1.0));
        assert!(p.is_ok_and(|p| (0.0..=1.0).contains(&p)));
    }
}
