//! `pk pta`: the probability that candidate regimens attain a target in a seeded virtual
//! population drawn from a population model and covariate distributions.

use std::fmt::Write as _;

use infusio_core::derivation::{Calculation, Finding, Severity, Step};
use infusio_core::input::{Fields, InputError, as_given, check_range, parse_quantity_value};
use infusio_core::units::{BodyWeight, Clearance, Qty, Quantity, UnitError, format_number};
use serde_json::{Value, json};

use super::{
    CONSENSUS_2020, Output, bare, items, model_default_target, pk_error, qty_json, read_model,
    read_regimen, read_target, regimen_json, target_json,
};
use crate::population::{self, PopulationModel};
use crate::pta::{self, Attainment, CovariateModel, Distribution};
use crate::regimen::{Regimen, Target};

/// A validated `pta` input.
struct Request {
    model: &'static PopulationModel,
    cov: CovariateModel,
    regimens: Vec<Regimen>,
    n: usize,
    seed: u64,
    target: Target,
}

pub(super) fn pta(
    input: &Value,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Output, InputError> {
    let r = read_request(input)?;
    let (model, n, seed) = (r.model, r.n, r.seed);
    let mut calc = Calculation::new("pk pta");
    calc.source(model.source);
    if matches!(r.target, Target::Auc24 { .. }) && model.drug == "vancomycin" {
        calc.source(CONSENSUS_2020);
    }
    if !model.verified {
        calc.finding(Finding::new(
            "model.parameters_unverified",
            Severity::Warning,
            format!("{}: {}", model.id, model.provenance),
        ));
    }
    let results = pta::simulate(model, &r.cov, &r.regimens, &r.target, n, seed, |done| {
        progress(done, n)
    })
    .map_err(|e| pk_error("covariates", e))?;
    calc.steps.push(Step::new(
        "Virtual patients: covariates drawn (fixed, or normal truncated to [min, max] by redrawing), η ~ N(0, ω²) per parameter, individual parameters = typical × e^η; xoshiro256** random numbers with Box-Muller normals, seeded",
        "attained if the steady-state exposure of the regimen lies in the target range; probability = attained / n",
        Qty::new(n as f64, ""),
    ));
    let (list, mut preface) = results_table(model.id, n, seed, &results);
    preface.push('\n');
    let json = json!({
        "model": model.id,
        "n": n,
        "seed": seed,
        "target": target_json(&r.target),
        "regimens": list,
        "steps": calc.steps,
        "sources": calc.sources,
        "findings": calc.findings,
    });
    Ok(Output {
        json,
        preface,
        title: "Method".into(),
        calculation: calc,
        plot: None,
    })
}

fn read_request(input: &Value) -> Result<Request, InputError> {
    let mut top = Fields::new(input, "")?;
    let model = read_model(&mut top)?;
    let cov = read_covariate_model(&mut top)?;
    let mut regimens = Vec::new();
    for (path, v) in items(
        &mut top,
        "regimens",
        "candidate regimens [{\"dose\", \"interval\", \"duration\"}]",
    )? {
        let mut rf = Fields::new(v, &path)?;
        let r = read_regimen(&mut rf, model)?;
        let dpath = rf.path_of("dose");
        check_range(&dpath, "", r.dose_mg, 1.0, 100_000.0, "mg")?;
        rf.finish()?;
        regimens.push(r);
    }
    if regimens.len() > 10_000 {
        return Err(InputError::new(
            "regimens",
            format!("{} regimens", regimens.len()),
            "at most 10,000 regimens",
        ));
    }
    let n = whole(
        &mut top,
        "n",
        1.0,
        1_000_000.0,
        "virtual patients",
        "expected a whole number of virtual patients",
    )?;
    let seed = whole(
        &mut top,
        "seed",
        0.0,
        9_007_199_254_740_991.0,
        "",
        "expected a whole number",
    )?;
    let target = read_target(&mut top, model_default_target(model))?
        .ok_or_else(|| InputError::new("target", "", "required for this model"))?;
    top.finish()?;
    let n = n as usize;
    // Percentiles keep every simulated AUC: 8 bytes per patient and regimen.
    if n.saturating_mul(regimens.len()) > 10_000_000 {
        return Err(InputError::new(
            "n",
            n.to_string(),
            format!(
                "n × number of regimens must be at most 10,000,000 (here {} regimens); split the regimens over several runs",
                regimens.len()
            ),
        ));
    }
    Ok(Request {
        model,
        cov,
        regimens,
        n,
        seed: seed as u64,
        target,
    })
}

/// A bare whole number within `[min, max]`.
fn whole(
    top: &mut Fields,
    key: &str,
    min: f64,
    max: f64,
    unit: &str,
    not_whole: &str,
) -> Result<f64, InputError> {
    let v = bare(top, key, min, max, unit)?;
    if v.fract() != 0.0 {
        return Err(InputError::new(key, v.to_string(), not_whole));
    }
    Ok(v)
}

fn read_covariate_model(top: &mut Fields) -> Result<CovariateModel, InputError> {
    let mut cf = top.opt_object("covariates")?.ok_or_else(|| {
        InputError::new("covariates", "", "required: {\"weight\": \"80 kg\" or {\"mean\", \"sd\", \"min\", \"max\"}, \"crcl\": likewise, \"dialysis\": false}")
    })?;
    let weight = read_distribution(
        &mut cf,
        "weight",
        "kg",
        |q| BodyWeight::from_quantity(q).map(|x| x.value()),
        population::WEIGHT_KG_RANGE,
    )?;
    let crcl = read_distribution(
        &mut cf,
        "crcl",
        "mL/min",
        |q| Clearance::from_quantity(q).map(|x| x.value()),
        population::CRCL_ML_MIN_RANGE,
    )?;
    let dialysis = cf
        .opt_bool("dialysis")?
        .ok_or_else(|| InputError::new("covariates.dialysis", "", "required: true or false"))?;
    cf.finish()?;
    Ok(CovariateModel {
        weight_kg: weight,
        crcl_ml_per_min: crcl,
        dialysis,
    })
}

fn read_distribution(
    f: &mut Fields,
    key: &str,
    unit: &str,
    convert: fn(&Quantity) -> Result<f64, UnitError>,
    range: (f64, f64),
) -> Result<Distribution, InputError> {
    let path = f.path_of(key);
    let what = format!("a quantity in {unit}, or {{\"mean\", \"sd\", \"min\", \"max\"}}");
    let value = f
        .raw(key)
        .ok_or_else(|| InputError::new(&path, "", format!("required: {what}")))?;
    if let Value::String(_) = value {
        let v = parse_quantity_value(value, &path, &what, convert)?;
        check_range(&path, &as_given(value), v, range.0, range.1, unit)?;
        return Ok(Distribution::Fixed(v));
    }
    let mut d = Fields::new(value, &path)?;
    let mut get = |k: &str| -> Result<f64, InputError> {
        let p = d.path_of(k);
        let raw = d
            .raw(k)
            .ok_or_else(|| InputError::new(&p, "", format!("required: a quantity in {unit}")))?;
        let v = parse_quantity_value(raw, &p, unit, convert)?;
        let (lo, hi) = if k == "sd" { (0.0, range.1) } else { range };
        check_range(&p, &as_given(raw), v, lo, hi, unit)?;
        Ok(v)
    };
    let (mean, sd, min, max) = (get("mean")?, get("sd")?, get("min")?, get("max")?);
    d.finish()?;
    if !(min <= mean && mean <= max) {
        return Err(InputError::new(
            path,
            as_given(value),
            "expected min ≤ mean ≤ max",
        ));
    }
    Ok(Distribution::Normal { mean, sd, min, max })
}

/// The regimens' JSON and the readable table.
fn results_table(
    model_id: &str,
    n: usize,
    seed: u64,
    results: &[Attainment],
) -> (Vec<Value>, String) {
    let mut text = format!("Probability of target attainment ({model_id}, n = {n}, seed {seed})\n");
    let _ = writeln!(
        text,
        "  {:>9}  {:>8}  {:>8}  {:>11}  {:>28}",
        "dose", "every", "over", "probability", "AUC24 p5 / p50 / p95"
    );
    let list = results
        .iter()
        .map(|a| {
            let _ = writeln!(
                text,
                "  {:>9}  {:>8}  {:>8}  {:>10}%  {:>28}",
                Qty::new(a.regimen.dose_mg, "mg").display(),
                Qty::new(a.regimen.interval_h, "h").display(),
                Qty::new(a.regimen.duration_h, "h").display(),
                format_number(100.0 * a.probability, 1),
                format!(
                    "{} / {} / {} mg.h/L",
                    format_number(a.auc24_percentiles[0], 0),
                    format_number(a.auc24_percentiles[1], 0),
                    format_number(a.auc24_percentiles[2], 0)
                )
            );
            let mut r = regimen_json(&a.regimen);
            r["probability"] = json!(a.probability);
            r["attained"] = json!(a.attained);
            r["n"] = json!(a.n);
            r["auc24_percentiles"] = json!({
                "p5": qty_json(a.auc24_percentiles[0], "mg.h/L"),
                "p50": qty_json(a.auc24_percentiles[1], "mg.h/L"),
                "p95": qty_json(a.auc24_percentiles[2], "mg.h/L"),
            });
            r
        })
        .collect();
    (list, text)
}
