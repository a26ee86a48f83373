//! `pk simulate`: concentrations of linear 1-, 2- or 3-compartment models at given times, for
//! one parameter set or a list of subjects, in the units a `units` block names.

use std::fmt::Write as _;

use infusio_core::derivation::{Calculation, Step};
use infusio_core::input::{Fields, InputError, as_given, check_range};
use infusio_core::units::{Qty, format_number};
use serde_json::{Value, json};

use super::plot::{self, Plot};
use super::{Options, Output, SUPERPOSITION, attach_derivation, bare, items, pk_error, qty_json};
use crate::linear::{Disposition, LinearParams, RawDose, Schedule, Simulator};

const TIME_UNITS: &[&str] = &["h", "min", "day"];
const AMOUNT_UNITS: &[&str] = &["mg", "g", "mcg", "units", "mmol"];
const VOLUME_UNITS: &[&str] = &["L", "mL"];

/// The units of the bare numbers.
struct Units {
    time: String,
    amount: String,
    volume: String,
}

impl Units {
    fn conc(&self) -> String {
        format!("{}/{}", self.amount, self.volume)
    }
    fn auc(&self) -> String {
        format!("{}.{}/{}", self.amount, self.time, self.volume)
    }
}

/// A validated `simulate` input.
struct Request {
    units: Units,
    shared: Option<LinearParams>,
    doses: Vec<RawDose>,
    times: Vec<f64>,
    summary: bool,
    subjects: Option<Vec<(String, LinearParams)>>,
}

/// One subject's simulation: id, disposition, concentrations at the times, AUC.
type Simulated = (String, Disposition, Vec<f64>, f64);

pub(super) fn simulate(input: &Value, options: &Options) -> Result<Output, InputError> {
    let r = read_request(input)?;
    let first = r.doses.iter().map(|d| d.time).fold(f64::INFINITY, f64::min);
    let last = r.times.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let results = run_subjects(&r, first, last)?;
    let (conc_unit, time_unit) = (r.units.conc(), &r.units.time);

    let mut calc = Calculation::new("pk simulate");
    calc.steps = steps(&results, &r.units);
    calc.sources = vec![SUPERPOSITION];
    let (mut json, text) = if r.subjects.is_some() {
        subjects_answer(&r, &results, first, last)
    } else {
        single_answer(&r, &results[0].2)
    };
    attach_derivation(&mut json, &calc);
    let plot = options
        .plot
        .then(|| results.first())
        .flatten()
        .map(|(_, d, _, _)| {
            let t0 = first.min(r.times.iter().cloned().fold(f64::INFINITY, f64::min));
            let t0 = if t0.is_finite() { t0 } else { 0.0 };
            let t1 = last.max(t0 + 1e-9);
            let curve = plot::sample_curve(d, &r.doses, t0, t1);
            plot::plot(&Plot {
                title: "Simulated concentration",
                time_unit,
                conc_unit: &conc_unit,
                curve: &curve,
                observations: &[],
                band: None,
            })
        });
    Ok(Output {
        json,
        preface: format!("{text}\n"),
        title: "Concentrations (pk simulate)".into(),
        calculation: calc,
        plot,
    })
}

fn read_request(input: &Value) -> Result<Request, InputError> {
    let mut top = Fields::new(input, "")?;
    let units = read_units(&mut top)?;
    let (compartments, shared) = read_model_block(&mut top, &units)?;
    let doses = read_doses(&mut top, &units)?;
    let times = read_times(&mut top, &units)?;
    let output = top
        .opt_choice("output", &["concentrations", "summary"])?
        .unwrap_or_else(|| "concentrations".into());
    let subjects = read_subjects(&mut top, compartments, &units)?;
    top.finish()?;
    if subjects.is_none() && shared.is_none() {
        return Err(InputError::new(
            "model.parameters",
            "",
            "required: the model's parameters (or a \"subjects\" list with parameters each)",
        ));
    }
    Ok(Request {
        units,
        shared,
        doses,
        times,
        summary: output == "summary",
        subjects,
    })
}

fn read_units(top: &mut Fields) -> Result<Units, InputError> {
    let mut units = top
        .opt_object("units")?
        .ok_or_else(|| InputError::new("units", "", "required: {\"time\": \"h\", \"amount\": \"mg\", \"volume\": \"L\"} naming the units of the bare numbers"))?;
    let time = units.choice("time", TIME_UNITS)?;
    let amount = units.choice("amount", AMOUNT_UNITS)?;
    let volume = units.choice("volume", VOLUME_UNITS)?;
    units.finish()?;
    Ok(Units {
        time,
        amount,
        volume,
    })
}

fn read_model_block(
    top: &mut Fields,
    units: &Units,
) -> Result<(usize, Option<LinearParams>), InputError> {
    let mut model = top.opt_object("model")?.ok_or_else(|| {
        InputError::new(
            "model",
            "",
            "required: {\"compartments\": 1|2|3, \"parameters\": {...}}",
        )
    })?;
    let compartments = bare(&mut model, "compartments", 1.0, 3.0, "compartments")?;
    if compartments.fract() != 0.0 {
        return Err(InputError::new(
            model.path_of("compartments"),
            compartments.to_string(),
            "expected 1, 2 or 3",
        ));
    }
    let compartments = compartments as usize;
    let shared = match model.opt_object("parameters")? {
        Some(mut pf) => {
            let p = read_linear(&mut pf, compartments, units)?;
            pf.finish()?;
            Some(p)
        }
        None => None,
    };
    model.finish()?;
    Ok((compartments, shared))
}

fn read_linear(
    f: &mut Fields,
    compartments: usize,
    units: &Units,
) -> Result<LinearParams, InputError> {
    let vol = units.volume.as_str();
    let clearance = format!("{vol}/{}", units.time);
    let mut p = |key: &str, unit: &str| bare(f, key, 1e-9, 1e9, unit);
    Ok(match compartments {
        1 => LinearParams::One {
            cl: p("cl", &clearance)?,
            v: p("v", vol)?,
        },
        2 => LinearParams::Two {
            cl: p("cl", &clearance)?,
            v1: p("v1", vol)?,
            q: p("q", &clearance)?,
            v2: p("v2", vol)?,
        },
        _ => LinearParams::Three {
            cl: p("cl", &clearance)?,
            v1: p("v1", vol)?,
            q2: p("q2", &clearance)?,
            v2: p("v2", vol)?,
            q3: p("q3", &clearance)?,
            v3: p("v3", vol)?,
        },
    })
}

fn read_doses(top: &mut Fields, units: &Units) -> Result<Vec<RawDose>, InputError> {
    let mut doses = Vec::new();
    for (path, v) in items(
        top,
        "doses",
        "the doses [{\"time\", \"amount\", \"duration\"}]",
    )? {
        let mut d = Fields::new(v, &path)?;
        let time = bare(&mut d, "time", -1e7, 1e7, &units.time)?;
        let amount = bare(&mut d, "amount", 0.0, 1e12, &units.amount)?;
        let duration = bare(&mut d, "duration", 0.0, 1e7, &units.time)?;
        d.finish()?;
        doses.push(RawDose {
            time,
            amount,
            duration,
        });
    }
    Ok(doses)
}

fn read_times(top: &mut Fields, units: &Units) -> Result<Vec<f64>, InputError> {
    let mut times = Vec::new();
    for (path, v) in items(top, "times", "the observation times")? {
        let t = v.as_f64().filter(|t| t.is_finite()).ok_or_else(|| {
            InputError::new(
                &path,
                as_given(v),
                format!("expected a bare number in {}", units.time),
            )
        })?;
        check_range(&path, &as_given(v), t, -1e7, 1e7, &units.time)?;
        times.push(t);
    }
    Ok(times)
}

fn read_subjects(
    top: &mut Fields,
    compartments: usize,
    units: &Units,
) -> Result<Option<Vec<(String, LinearParams)>>, InputError> {
    let Some(list) = top.opt_array("subjects")? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for (path, v) in list {
        let mut s = Fields::new(v, &path)?;
        let id = match s.raw("id") {
            Some(Value::String(x)) => x.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                return Err(InputError::new(
                    s.path_of("id"),
                    as_given(other),
                    "expected a string or a number",
                ));
            }
            None => {
                return Err(InputError::new(
                    s.path_of("id"),
                    "",
                    "required: the subject's id",
                ));
            }
        };
        let mut pf = s.opt_object("parameters")?.ok_or_else(|| {
            InputError::new(
                s.path_of("parameters"),
                "",
                "required: the subject's parameters",
            )
        })?;
        let p = read_linear(&mut pf, compartments, units)?;
        pf.finish()?;
        s.finish()?;
        out.push((id, p));
    }
    Ok(Some(out))
}

fn run_subjects(r: &Request, first: f64, last: f64) -> Result<Vec<Simulated>, InputError> {
    let list: Vec<(String, LinearParams)> = match (&r.subjects, r.shared) {
        (Some(s), _) => s.clone(),
        (None, Some(p)) => vec![(String::new(), p)],
        (None, None) => Vec::new(),
    };
    let mut results = Vec::with_capacity(list.len());
    let mut sim = Simulator::default();
    let schedule = Schedule::new(&r.doses).map_err(|e| pk_error("doses", e))?;
    for (k, (id, p)) in list.iter().enumerate() {
        let field = if r.subjects.is_some() {
            format!("subjects[{k}].parameters")
        } else {
            "model.parameters".into()
        };
        let d = Disposition::new(p).map_err(|e| pk_error(&field, e))?;
        let mut conc = vec![0.0; r.times.len()];
        sim.run_schedule(&d, &schedule, &r.times, &mut conc, None)
            .map_err(|e| pk_error("doses", e))?;
        let mut auc = [0.0, 0.0];
        let mut c2 = [0.0, 0.0];
        let auc_times = [first.min(last), last];
        d.simulate(&r.doses, &auc_times, &mut c2, Some(&mut auc))
            .map_err(|e| pk_error("doses", e))?;
        results.push((id.clone(), d, conc, auc[1] - auc[0]));
    }
    Ok(results)
}

fn steps(results: &[Simulated], units: &Units) -> Vec<Step> {
    let mut steps = Vec::new();
    let Some((_, d, conc, _)) = results.first() else {
        return steps;
    };
    for (i, (l, a)) in d.lambdas().iter().zip(d.coefficients()).enumerate() {
        steps.push(Step::new(
            format!(
                "Hybrid rate constant λ{} and its coefficient a{} = {} per {}",
                i + 1,
                i + 1,
                format_number(*a, 6),
                units.amount
            ),
            "roots of the characteristic polynomial of the compartment matrix; h(t) = Σ aᵢ·e^(−λᵢ·t) per unit dose",
            Qty::new(*l, &format!("1/{}", units.time)),
        ));
    }
    steps.push(Step::new(
        "Concentration by superposition of every dose (bolus: D·Σaᵢe^(−λᵢτ); infusion at rate R: R·Σ(aᵢ/λᵢ)(1−e^(−λᵢτ)) during, decaying after); a bolus given at an observation time is included",
        "C(t) = Σ over doses of the closed-form response",
        Qty::new(conc.first().copied().unwrap_or(0.0), &units.conc()),
    ));
    steps
}

/// The answer for a `subjects` list: per subject the concentrations or the summary.
fn subjects_answer(r: &Request, results: &[Simulated], first: f64, last: f64) -> (Value, String) {
    let (conc_unit, auc_unit) = (r.units.conc(), r.units.auc());
    let label = |id: &str| {
        if id.is_empty() {
            String::new()
        } else {
            format!("{id}: ")
        }
    };
    let mut text = String::new();
    let list: Vec<Value> = results
        .iter()
        .map(|(id, _, conc, auc)| {
            if r.summary {
                let cmax = conc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let cmin = conc.iter().cloned().fold(f64::INFINITY, f64::min);
                let _ = writeln!(
                    text,
                    "  {}AUC {}  Cmax {}  Cmin {}",
                    label(id),
                    Qty::new(*auc, &auc_unit).display(),
                    Qty::new(cmax, &conc_unit).display(),
                    Qty::new(cmin, &conc_unit).display()
                );
                json!({"id": id, "auc": qty_json(*auc, &auc_unit), "cmax": qty_json(cmax, &conc_unit), "cmin": qty_json(cmin, &conc_unit)})
            } else {
                let shown: Vec<String> = conc.iter().map(|c| format_number(*c, 4)).collect();
                let _ = writeln!(text, "  {}{}", label(id), shown.join(", "));
                json!({"id": id, "concentrations": conc})
            }
        })
        .collect();
    let json = json!({
        "subjects": list,
        "unit": conc_unit,
        "summary_definition": format!("auc: exact integral from the first dose ({}) to the last observation time ({} {}); cmax and cmin: highest and lowest of the concentrations at the given times", format_number(first.min(last), 4), format_number(last, 4), r.units.time),
    });
    (json, text)
}

/// The answer for one parameter set: a table of time and concentration.
fn single_answer(r: &Request, conc: &[f64]) -> (Value, String) {
    let (conc_unit, time_unit) = (r.units.conc(), &r.units.time);
    let mut text = String::new();
    let _ = writeln!(
        text,
        "  {:>10}  {:>14}",
        format!("time ({time_unit})"),
        format!("conc ({conc_unit})")
    );
    for (t, c) in r.times.iter().zip(conc) {
        let _ = writeln!(
            text,
            "  {:>10}  {:>14}",
            format_number(*t, 4),
            format_number(*c, 4)
        );
    }
    let json = json!({"concentrations": conc, "unit": conc_unit, "times": r.times, "time_unit": time_unit});
    (json, text)
}
