//! `infusio pk`: simulate, fit, recommend, pta. Glue between the JSON interface of the PK
//! issue and `infusio-pk`: read and validate the input (errors name the field), call the
//! library, shape the output (quantities, steps, sources, findings), and draw the plot.

use std::fmt::Write as _;

use infusio_core::derivation::{Calculation, Finding, Severity, Source, Step};
use infusio_core::input::{Fields, InputError, as_given, check_range, parse_quantity_value};
use infusio_core::units::{
    AucMgHourPerL, BodyWeight, Clearance, Duration, Mass, PlasmaConcentration, Qty, Quantity,
    SerumCreatinine, UnitError, format_number,
};
use infusio_pk::PkError;
use infusio_pk::linear::{Disposition, LinearParams, RawDose};
use infusio_pk::map::{self, Level, MapFit};
use infusio_pk::population::{self, Covariates, PopulationModel};
use infusio_pk::pta::{self, CovariateModel, Distribution};
use infusio_pk::regimen::{self, Candidate, Exposure, Regimen, Search, Target};
use serde_json::{Value, json};

use crate::common::{Invocation, Outcome};

/// Closed-form superposition: the method of the linear models.
const SUPERPOSITION: Source = Source {
    id: "gibaldi-perrier-1982",
    citation: "Gibaldi M, Perrier D. Pharmacokinetics, 2nd ed. Marcel Dekker 1982: multi-compartment models, sums of exponentials and superposition (closed form, exact integrals)",
};
const MAP_SOURCE: Source = Source {
    id: "sheiner-beal-map",
    citation: "Sheiner LB, Beal SL. Bayesian individualization of pharmacokinetics: simple implementation and comparison with non-Bayesian methods. J Pharm Sci 1982;71:1344-1348 (MAP objective, NONMEM -2 log-likelihood convention)",
};
const CONSENSUS_2020: Source = Source {
    id: "rybak-2020",
    citation: "Rybak MJ, Le J, Lodise TP, et al. Therapeutic monitoring of vancomycin for serious MRSA infections: a revised consensus guideline. Am J Health-Syst Pharm 2020;77:835-864 (AUC24 400-600 mg.h/L, Bayesian dosing preferred)",
};

pub fn run(sub: &str, inv: &Invocation) -> Outcome {
    let result = match sub {
        "simulate" => simulate(inv),
        "fit" => fit(inv, false),
        "recommend" => fit(inv, true),
        "pta" => pta_run(inv),
        other => Err(InputError::new(
            "(subcommand)",
            other,
            "expected one of: simulate, fit, recommend, pta",
        )),
    };
    match result {
        Ok(Done { json, text, plot }) => {
            if let (Some(path), Some(svg)) = (&inv.plot, plot)
                && let Err(e) = std::fs::write(path, svg)
            {
                return Outcome::Failed(format!("writing the plot to {}: {e}", path.display()));
            }
            Outcome::Done { json, text }
        }
        Err(e) => Outcome::Refused(e),
    }
}

struct Done {
    json: Value,
    text: String,
    plot: Option<String>,
}

/// A library refusal that validation should have caught: shown as a refused input with the
/// library's reason rather than a crash.
fn pk_error(field: &str, e: PkError) -> InputError {
    InputError::new(field, "", e.to_string())
}

fn qty_json(value: f64, unit: &str) -> Value {
    json!({"value": value, "unit": unit})
}

// ---------------------------------------------------------------------------------------
// Shared readers.
// ---------------------------------------------------------------------------------------

/// A non-negative finite bare number.
fn bare(f: &mut Fields, key: &str, min: f64, max: f64, unit: &str) -> Result<f64, InputError> {
    let path = f.path_of(key);
    let given = f.raw(key).map(as_given).unwrap_or_default();
    let v = f.number(key)?;
    check_range(&path, &given, v, min, max, unit)?;
    Ok(v)
}

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

/// A time: either a duration from time zero (`"11.5 h"`, `"30 min"`) or an ISO 8601 date-time
/// with an offset (`"2026-11-26T09:00:00Z"`). Mixing the two forms is refused.
#[derive(Clone, Copy, Debug)]
enum TimeValue {
    Hours(f64),
    /// Seconds since 1970-01-01T00:00:00Z.
    Instant(f64),
}

fn read_time(f: &mut Fields, key: &str) -> Result<(TimeValue, String), InputError> {
    let path = f.path_of(key);
    let value = f.raw(key).ok_or_else(|| {
        InputError::new(
            &path,
            "",
            "required: a time such as '11.5 h' or an ISO date-time such as '2026-11-26T09:00:00Z'",
        )
    })?;
    if let Value::String(s) = value
        && looks_like_iso(s)
    {
        return parse_iso(s).map(|t| (TimeValue::Instant(t), path.clone())).ok_or_else(|| {
            InputError::new(&path, s.clone(), "not a valid ISO 8601 date-time; expected e.g. '2026-11-26T09:00:00Z' or '2026-11-26T10:00:00+01:00' (the offset is required)")
        });
    }
    let d = parse_quantity_value(
        value,
        &path,
        "a time such as '11.5 h' or an ISO date-time",
        Duration::from_quantity,
    )?;
    check_range(&path, &as_given(value), d.value(), -8760.0, 87_600.0, "h")?;
    Ok((TimeValue::Hours(d.value()), path))
}

fn looks_like_iso(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

/// Parses `YYYY-MM-DDTHH:MM[:SS[.fff]](Z|±HH:MM)` to seconds since the Unix epoch. A time
/// without an offset is refused: its time zone would be a guess.
fn parse_iso(s: &str) -> Option<f64> {
    let (date, rest) = s.split_once(['T', 't', ' '])?;
    let mut dp = date.split('-');
    let year: i64 = dp.next()?.parse().ok()?;
    let month: i64 = dp.next()?.parse().ok()?;
    let day: i64 = dp.next()?.parse().ok()?;
    if dp.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (clock, offset_s) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0i64)
    } else {
        let pos = rest.rfind(['+', '-'])?;
        let (c, off) = rest.split_at(pos);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':').unwrap_or((&off[1..], "0"));
        let (oh, om): (i64, i64) = (oh.parse().ok()?, om.parse().ok()?);
        if oh > 18 || om > 59 {
            return None;
        }
        (c, sign * (oh * 3600 + om * 60))
    };
    let mut cp = clock.split(':');
    let hour: i64 = cp.next()?.parse().ok()?;
    let minute: i64 = cp.next()?.parse().ok()?;
    let second: f64 = match cp.next() {
        Some(x) => x.parse().ok()?,
        None => 0.0,
    };
    if cp.next().is_some() || hour > 23 || minute > 59 || !(0.0..61.0).contains(&second) {
        return None;
    }
    // Days from the civil date (Hinnant's algorithm, proleptic Gregorian calendar).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    // Refuse impossible dates such as 31 April by round-tripping the day of the month.
    let days_in_month = match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day > days_in_month {
        return None;
    }
    Some((days * 86_400 + hour * 3600 + minute * 60 - offset_s) as f64 + second)
}

/// Converts every time to hours from a common origin. With ISO date-times the origin is the
/// earliest of them (returned as text); mixing forms is refused at the first odd one.
fn resolve_times(times: &[(TimeValue, String)]) -> Result<(Vec<f64>, Option<f64>), InputError> {
    let iso = matches!(times.first(), Some((TimeValue::Instant(_), _)));
    let mut origin = f64::INFINITY;
    for (t, path) in times {
        match (t, iso) {
            (TimeValue::Instant(s), true) => origin = origin.min(*s),
            (TimeValue::Hours(_), false) => {}
            _ => {
                return Err(InputError::new(
                    path,
                    "",
                    "all times must be of one form: either durations from time zero ('11.5 h') or ISO date-times, not a mix",
                ));
            }
        }
    }
    let hours = times
        .iter()
        .map(|(t, _)| match t {
            TimeValue::Hours(h) => *h,
            TimeValue::Instant(s) => (s - origin) / 3600.0,
        })
        .collect();
    Ok((hours, iso.then_some(origin)))
}

fn format_instant(epoch_s: f64) -> String {
    let secs = epoch_s.floor() as i64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from days (Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

// ---------------------------------------------------------------------------------------
// simulate
// ---------------------------------------------------------------------------------------

const TIME_UNITS: &[&str] = &["h", "min", "day"];
const AMOUNT_UNITS: &[&str] = &["mg", "g", "mcg", "units", "mmol"];
const VOLUME_UNITS: &[&str] = &["L", "mL"];

fn read_linear(
    f: &mut Fields,
    compartments: usize,
    vol: &str,
    time: &str,
) -> Result<LinearParams, InputError> {
    let clearance = format!("{vol}/{time}");
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

fn simulate(inv: &Invocation) -> Result<Done, InputError> {
    let mut top = Fields::new(&inv.input, "")?;
    let mut units = top
        .opt_object("units")?
        .ok_or_else(|| InputError::new("units", "", "required: {\"time\": \"h\", \"amount\": \"mg\", \"volume\": \"L\"} naming the units of the bare numbers"))?;
    let time_unit = units.choice("time", TIME_UNITS)?;
    let amount_unit = units.choice("amount", AMOUNT_UNITS)?;
    let volume_unit = units.choice("volume", VOLUME_UNITS)?;
    units.finish()?;
    let conc_unit = format!("{amount_unit}/{volume_unit}");
    let auc_unit = format!("{amount_unit}.{time_unit}/{volume_unit}");

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
            let p = read_linear(&mut pf, compartments, &volume_unit, &time_unit)?;
            pf.finish()?;
            Some(p)
        }
        None => None,
    };
    model.finish()?;

    let mut doses = Vec::new();
    for (path, v) in items(
        &mut top,
        "doses",
        "the doses [{\"time\", \"amount\", \"duration\"}]",
    )? {
        let mut d = Fields::new(v, &path)?;
        let time = bare(&mut d, "time", -1e7, 1e7, &time_unit)?;
        let amount = bare(&mut d, "amount", 0.0, 1e12, &amount_unit)?;
        let duration = bare(&mut d, "duration", 0.0, 1e7, &time_unit)?;
        d.finish()?;
        doses.push(RawDose {
            time,
            amount,
            duration,
        });
    }
    let mut times = Vec::new();
    for (path, v) in items(&mut top, "times", "the observation times")? {
        let t = v.as_f64().filter(|t| t.is_finite()).ok_or_else(|| {
            InputError::new(
                &path,
                as_given(v),
                format!("expected a bare number in {time_unit}"),
            )
        })?;
        check_range(&path, &as_given(v), t, -1e7, 1e7, &time_unit)?;
        times.push(t);
    }
    let output = top
        .opt_choice("output", &["concentrations", "summary"])?
        .unwrap_or_else(|| "concentrations".into());
    let subjects = match top.opt_array("subjects")? {
        None => None,
        Some(list) => {
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
                let p = read_linear(&mut pf, compartments, &volume_unit, &time_unit)?;
                pf.finish()?;
                s.finish()?;
                out.push((id, p));
            }
            Some(out)
        }
    };
    top.finish()?;

    let sources = vec![SUPERPOSITION];
    let first = doses.iter().map(|d| d.time).fold(f64::INFINITY, f64::min);
    let last = times.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let subjects_list = match (&subjects, shared) {
        (Some(s), _) => s.clone(),
        (None, Some(p)) => vec![(String::new(), p)],
        (None, None) => {
            return Err(InputError::new(
                "model.parameters",
                "",
                "required: the model's parameters (or a \"subjects\" list with parameters each)",
            ));
        }
    };
    let mut results = Vec::with_capacity(subjects_list.len());
    let mut sim = infusio_pk::linear::Simulator::default();
    let schedule = infusio_pk::linear::Schedule::new(&doses).map_err(|e| pk_error("doses", e))?;
    for (k, (id, p)) in subjects_list.iter().enumerate() {
        let field = if subjects.is_some() {
            format!("subjects[{k}].parameters")
        } else {
            "model.parameters".into()
        };
        let d = Disposition::new(p).map_err(|e| pk_error(&field, e))?;
        let mut conc = vec![0.0; times.len()];
        sim.run_schedule(&d, &schedule, &times, &mut conc, None)
            .map_err(|e| pk_error("doses", e))?;
        let mut auc = [0.0, 0.0];
        let mut c2 = [0.0, 0.0];
        let auc_times = [first.min(last), last];
        d.simulate(&doses, &auc_times, &mut c2, Some(&mut auc))
            .map_err(|e| pk_error("doses", e))?;
        results.push((id.clone(), d, conc, auc[1] - auc[0]));
    }

    let mut steps = Vec::new();
    if let Some((_, d, _, _)) = results.first() {
        for (i, (l, a)) in d.lambdas().iter().zip(d.coefficients()).enumerate() {
            steps.push(Step::new(
                format!("Hybrid rate constant λ{} and its coefficient a{} = {} per {amount_unit}", i + 1, i + 1, format_number(*a, 6)),
                "roots of the characteristic polynomial of the compartment matrix; h(t) = Σ aᵢ·e^(−λᵢ·t) per unit dose",
                Qty::new(*l, &format!("1/{time_unit}")),
            ));
        }
        steps.push(Step::new(
            "Concentration by superposition of every dose (bolus: D·Σaᵢe^(−λᵢτ); infusion at rate R: R·Σ(aᵢ/λᵢ)(1−e^(−λᵢτ)) during, decaying after); a bolus given at an observation time is included",
            "C(t) = Σ over doses of the closed-form response",
            Qty::new(results[0].2.first().copied().unwrap_or(0.0), &conc_unit),
        ));
    }
    let label = |id: &str| {
        if id.is_empty() {
            String::new()
        } else {
            format!("{id}: ")
        }
    };
    let mut text = String::new();
    let json = if let Some(_subj) = &subjects {
        let list: Vec<Value> = results
            .iter()
            .map(|(id, _, conc, auc)| {
                if output == "summary" {
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
                    let _ = writeln!(text, "  {}{}", label(id), conc.iter().map(|c| format_number(*c, 4)).collect::<Vec<_>>().join(", "));
                    json!({"id": id, "concentrations": conc})
                }
            })
            .collect();
        json!({
            "subjects": list,
            "unit": conc_unit,
            "summary_definition": format!("auc: exact integral from the first dose ({}) to the last observation time ({} {time_unit}); cmax and cmin: highest and lowest of the concentrations at the given times", format_number(first.min(last), 4), format_number(last, 4)),
        })
    } else {
        let conc = &results[0].2;
        let _ = writeln!(
            text,
            "  {:>10}  {:>14}",
            format!("time ({time_unit})"),
            format!("conc ({conc_unit})")
        );
        for (t, c) in times.iter().zip(conc) {
            let _ = writeln!(
                text,
                "  {:>10}  {:>14}",
                format_number(*t, 4),
                format_number(*c, 4)
            );
        }
        json!({"concentrations": conc, "unit": conc_unit, "times": times, "time_unit": time_unit})
    };
    let mut json = json;
    json["steps"] = serde_json::to_value(&steps).unwrap_or(Value::Null);
    json["sources"] = serde_json::to_value(&sources).unwrap_or(Value::Null);
    json["findings"] = json!([]);
    let mut calc = Calculation::new("pk simulate");
    calc.steps = steps;
    calc.sources = sources;
    let text = format!(
        "{text}\n{}",
        crate::common::report("Concentrations (pk simulate)", &calc)
    );
    let plot = results.first().map(|(_, d, _, _)| {
        let t0 = first.min(sorted.first().copied().unwrap_or(0.0));
        let t1 = last.max(t0 + 1e-9);
        let curve = sample_curve(d, &doses, t0, t1);
        svg::plot(&svg::Plot {
            title: "Simulated concentration",
            time_unit: &time_unit,
            conc_unit: &conc_unit,
            curve: &curve,
            observations: &[],
            band: None,
        })
    });
    Ok(Done { json, text, plot })
}

fn sample_curve(d: &Disposition, doses: &[RawDose], t0: f64, t1: f64) -> Vec<(f64, f64)> {
    let mut ts: Vec<f64> = (0..=400)
        .map(|i| t0 + (t1 - t0) * i as f64 / 400.0)
        .collect();
    // Include every dose start and infusion end so that peaks are drawn where they are.
    for x in doses {
        for t in [x.time, x.time + x.duration] {
            if t >= t0 && t <= t1 {
                ts.push(t);
            }
        }
    }
    ts.sort_by(f64::total_cmp);
    let mut c = vec![0.0; ts.len()];
    if d.simulate(doses, &ts, &mut c, None).is_err() {
        return Vec::new();
    }
    ts.into_iter().zip(c).collect()
}

// ---------------------------------------------------------------------------------------
// fit and recommend
// ---------------------------------------------------------------------------------------

const DOSE_WHAT: &str = "a dose such as '1000 mg' or '1 g'";
const TIME_WHAT: &str = "a duration such as '1 h' or '90 min'";

fn read_model(top: &mut Fields) -> Result<&'static PopulationModel, InputError> {
    let ids: Vec<&str> = population::MODELS.iter().map(|m| m.id).collect();
    let id = top.choice("model", &ids)?;
    population::model(&id).ok_or_else(|| InputError::new("model", id, "unknown model"))
}

/// Covariates: `weight`, `crcl` and `dialysis`, or patient fields (`age`, `sex`, `weight`,
/// `serum_creatinine`) from which CrCl is computed as the model specifies.
fn read_covariates(f: &mut Fields, calc: &mut Calculation) -> Result<Covariates, InputError> {
    let weight_path = f.path_of("weight");
    let weight_given = f.raw("weight").map(as_given).unwrap_or_default();
    let weight = f.quantity(
        "weight",
        "a body weight such as '80 kg'",
        BodyWeight::from_quantity,
    )?;
    check_range(
        &weight_path,
        &weight_given,
        weight.value(),
        population::WEIGHT_KG_RANGE.0,
        population::WEIGHT_KG_RANGE.1,
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
        let path = f.path_of("crcl");
        let given = f.raw("crcl").map(as_given).unwrap_or_default();
        let c = f.quantity(
            "crcl",
            "a creatinine clearance such as '85 mL/min'",
            Clearance::from_quantity,
        )?;
        check_range(
            &path,
            &given,
            c.value(),
            population::CRCL_ML_MIN_RANGE.0,
            population::CRCL_ML_MIN_RANGE.1,
            "mL/min",
        )?;
        c
    } else {
        let age_path = f.path_of("age");
        let age = f.quantity(
            "age",
            "an age such as '54 y'",
            infusio_core::units::Age::from_quantity,
        )?;
        let sex = f.choice("sex", &["male", "female"])?;
        let scr_path = f.path_of("serum_creatinine");
        let scr = f.quantity(
            "serum_creatinine",
            "a serum creatinine such as '1.2 mg/dL' or '106 umol/L'",
            SerumCreatinine::from_quantity,
        )?;
        let (c, steps) = population::cockcroft_gault_for_model(
            age.value(),
            sex == "female",
            weight,
            scr.value(),
        )
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
        c
    };
    Ok(Covariates {
        weight,
        crcl,
        dialysis,
    })
}

struct History {
    doses: Vec<RawDose>,
    levels: Vec<Level>,
    origin: Option<f64>,
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
        let amount_path = d.path_of("amount");
        let amount_given = d.raw("amount").map(as_given).unwrap_or_default();
        let amount = d.quantity("amount", DOSE_WHAT, Mass::from_quantity)?;
        check_range(
            &amount_path,
            &amount_given,
            amount.value(),
            0.0,
            100_000.0,
            "mg",
        )?;
        let dur_path = d.path_of("duration");
        let dur_given = d.raw("duration").map(as_given).unwrap_or_default();
        let duration = d.quantity(
            "duration",
            &format!("{TIME_WHAT}; '0 h' for a bolus"),
            Duration::from_quantity,
        )?;
        check_range(&dur_path, &dur_given, duration.value(), 0.0, 48.0, "h")?;
        d.finish()?;
        amounts.push((amount.value(), duration.value()));
    }
    let n_doses = raw_times.len();
    let mut concs = Vec::new();
    let observations = top.opt_array("observations")?;
    match observations {
        Some(list) => {
            for (path, v) in list {
                let mut o = Fields::new(v, &path)?;
                raw_times.push(read_time(&mut o, "time")?);
                let cpath = o.path_of("concentration");
                let cgiven = o.raw("concentration").map(as_given).unwrap_or_default();
                let c = o.quantity(
                    "concentration",
                    "a concentration such as '14.2 mg/L' (= mcg/mL)",
                    PlasmaConcentration::from_quantity,
                )?;
                check_range(&cpath, &cgiven, c.value(), 0.0, 10_000.0, "mg/L")?;
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

fn default_search(model: &PopulationModel) -> Search {
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

fn fit(inv: &Invocation, recommend: bool) -> Result<Done, InputError> {
    let mut calc = Calculation::new(if recommend { "pk recommend" } else { "pk fit" });
    let mut top = Fields::new(&inv.input, "")?;
    let model = read_model(&mut top)?;
    let mut cf = top.opt_object("covariates")?.ok_or_else(|| {
        InputError::new("covariates", "", "required: {\"weight\", \"crcl\", \"dialysis\"} or {\"weight\", \"age\", \"sex\", \"serum_creatinine\", \"dialysis\"}")
    })?;
    let cov = read_covariates(&mut cf, &mut calc)?;
    cf.finish()?;
    let history = read_history(&mut top, !recommend)?;
    let explicit_regimen = match top.opt_object("regimen")? {
        Some(mut rf) => {
            let r = read_regimen(&mut rf, model)?;
            rf.finish()?;
            Some(r)
        }
        None => None,
    };
    let default_target = (model.drug == "vancomycin").then_some(Target::VANCOMYCIN_DEFAULT);
    let target = read_target(&mut top, default_target)?;
    let mut search = default_search(model);
    if recommend {
        search.target = target.ok_or_else(|| InputError::new("target", "", "required for this model: {\"auc24\": [low, high]} or {\"peak\": [...], \"trough\": [...]}"))?;
        if let Some(inc) = top.opt_quantity("increment", DOSE_WHAT, Mass::from_quantity)? {
            check_range(
                "increment",
                &format!("{} mg", inc.value()),
                inc.value(),
                1.0,
                5000.0,
                "mg",
            )?;
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
            let r =
                parse_quantity_value(rate_value, "max_rate", "a rate such as '10 mg/min'", |q| {
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
            check_range(
                "max_dose",
                "",
                m.value(),
                search.increment_mg,
                20_000.0,
                "mg",
            )?;
            search.max_dose_mg = m.value();
        }
    }
    top.finish()?;

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
            .typical_steps(&cov)
            .map_err(|e| pk_error("covariates", e))?,
    );

    // The fit, or the prior when a recommendation is asked without levels.
    let fitted: Option<MapFit> = if history.levels.is_empty() {
        calc.finding(Finding::new(
            "pk.a_priori",
            Severity::Info,
            "No measured level: the recommendation uses the population (typical) parameters for these covariates. Draw levels and refit.",
        ));
        None
    } else {
        calc.source(MAP_SOURCE);
        let f = map::fit(model, &cov, &history.doses, &history.levels)
            .map_err(|e| pk_error("observations", e))?;
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
        Some(f)
    };
    let params = fitted
        .as_ref()
        .map(|f| f.individual)
        .unwrap_or(model.typical(&cov).map_err(|e| pk_error("covariates", e))?);

    let reg = match explicit_regimen.or_else(|| Regimen::from_history(&history.doses)) {
        Some(r) => r,
        None => {
            let d = history.doses[0];
            let r = Regimen {
                dose_mg: d.amount,
                interval_h: 12.0,
                duration_h: d.duration,
            };
            calc.finding(Finding::new(
                "pk.regimen_assumed_q12h",
                Severity::Warning,
                "Only one dose was recorded and no \"regimen\" was given: the steady-state figures assume that dose every 12 h. Give \"regimen\" to choose.",
            ));
            r
        }
    };
    let exposure =
        regimen::exposure(&params, &history.doses, reg).map_err(|e| pk_error("regimen", e))?;
    if let Some(Target::Auc24 { low, high }) = target {
        calc.source(CONSENSUS_2020);
        let a = exposure.auc24_steady_state;
        if a < low || a > high {
            calc.finding(Finding::new(
                if a < low { "pk.auc24_below_target" } else { "pk.auc24_above_target" },
                Severity::Warning,
                format!("Steady-state AUC24 {} mg.h/L with the current regimen is outside the target {}-{} mg.h/L.", format_number(a, 0), format_number(low, 0), format_number(high, 0)),
            ));
        }
    }
    push_exposure_steps(&mut calc, &params, &exposure);

    let mut json = json!({"model": model.id});
    let named: serde_json::Map<String, Value> = infusio_pk::typed::parameters(&params)
        .into_iter()
        .map(|(n, v)| {
            (
                n.to_string(),
                serde_json::to_value(v.qty()).unwrap_or(Value::Null),
            )
        })
        .collect();
    json["parameters"] = Value::Object(named);
    let typical = model.typical(&cov).map_err(|e| pk_error("covariates", e))?;
    let typical_named: serde_json::Map<String, Value> = infusio_pk::typed::parameters(&typical)
        .into_iter()
        .map(|(n, v)| {
            (
                n.to_string(),
                serde_json::to_value(v.qty()).unwrap_or(Value::Null),
            )
        })
        .collect();
    json["typical_parameters"] = Value::Object(typical_named);
    json["covariates"] =
        json!({"weight": cov.weight.qty(), "crcl": cov.crcl.qty(), "dialysis": cov.dialysis});
    if let Some(f) = &fitted {
        let etas: serde_json::Map<String, Value> = model
            .eta_names()
            .into_iter()
            .zip(&f.etas)
            .map(|(p, e)| (p.to_string(), json!(e)))
            .collect();
        json["etas"] = Value::Object(etas);
        json["predictions"] = Value::Array(
            history
                .levels
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
        );
        json["objective"] = json!(f.objective);
        json["objective_definition"] = json!(
            "-2 log posterior (NONMEM convention, constants omitted): sum over levels of (y - f)^2/var + ln var, plus sum of eta^2/omega^2; var = additive^2 + (proportional x f)^2"
        );
        json["converged"] = json!(f.converged);
    }
    json["regimen"] = regimen_json(&exposure.regimen);
    json["auc24"] = qty_json(exposure.auc24_steady_state, "mg.h/L");
    json["cmax"] = qty_json(exposure.cmax_steady_state, "mg/L");
    json["cmin"] = qty_json(exposure.cmin_steady_state, "mg/L");
    json["auc24_by_day"] = Value::Array(
        exposure
            .auc_by_day
            .iter()
            .map(|(d, a)| json!({"day": d, "auc": qty_json(*a, "mg.h/L")}))
            .collect(),
    );
    if let Some(o) = history.origin {
        json["time_origin"] = json!(format_instant(o));
    }

    let mut text = String::new();
    let mut candidates: Vec<Candidate> = Vec::new();
    if recommend {
        candidates = regimen::recommend(&params, &search, 10).map_err(|e| pk_error("target", e))?;
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
                    let mut r = regimen_json(&c.regimen);
                    r["rank"] = json!(i + 1);
                    r["auc24"] = qty_json(c.auc24, "mg.h/L");
                    r["cmax"] = qty_json(c.cmax, "mg/L");
                    r["cmin"] = qty_json(c.cmin, "mg/L");
                    r["meets_target"] = json!(c.meets_target);
                    r
                })
                .collect(),
        );
        json["target"] = target_json(&search.target);
        let _ = writeln!(text, "Recommended regimens ({})", model.id);
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
    }

    // Readable report.
    for (name, v) in infusio_pk::typed::parameters(&params) {
        calc.output(&format!("{name} (individual)"), v.qty());
    }
    if let Some(f) = &fitted {
        for (p, e) in model.eta_names().into_iter().zip(&f.etas) {
            calc.output(&format!("eta {p}"), Qty::new(*e, ""));
        }
        for (l, p) in history.levels.iter().zip(&f.predictions) {
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
    calc.output(
        "AUC24 at steady state",
        Qty::new(exposure.auc24_steady_state, "mg.h/L"),
    );
    calc.output(
        "Cmax at steady state",
        Qty::new(exposure.cmax_steady_state, "mg/L"),
    );
    calc.output(
        "Cmin at steady state",
        Qty::new(exposure.cmin_steady_state, "mg/L"),
    );
    for (d, a) in &exposure.auc_by_day {
        calc.output(&format!("AUC day {d}"), Qty::new(*a, "mg.h/L"));
    }
    json["steps"] = serde_json::to_value(&calc.steps).unwrap_or(Value::Null);
    json["sources"] = serde_json::to_value(&calc.sources).unwrap_or(Value::Null);
    json["findings"] = serde_json::to_value(&calc.findings).unwrap_or(Value::Null);
    let title = format!(
        "{} ({}, regimen {} every {} over {})",
        if recommend {
            "Dose recommendation"
        } else {
            "Bayesian fit"
        },
        model.id,
        Qty::new(reg.dose_mg, "mg").display(),
        Qty::new(reg.interval_h, "h").display(),
        Qty::new(reg.duration_h, "h").display()
    );
    text.push_str(&crate::common::report(&title, &calc));

    // Plot: the recorded history and, for a recommendation, the first regimen continued.
    let plot = inv.plot.as_ref().map(|_| {
        let d = Disposition::new(&params).ok();
        let mut doses = history.doses.clone();
        let last_start = doses
            .iter()
            .map(|x| x.time)
            .fold(f64::NEG_INFINITY, f64::max);
        let mut t1 = last_start + reg.interval_h;
        if let Some(best) = candidates.first() {
            let start = last_start + reg.interval_h;
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
        let curve = d
            .map(|d| sample_curve(&d, &doses, t0, t1))
            .unwrap_or_default();
        let obs: Vec<(f64, f64)> = history
            .levels
            .iter()
            .map(|l| (l.time_h, l.concentration_mg_per_l))
            .collect();
        let band = match (
            recommend.then_some(search.target).or(target),
            candidates.first(),
        ) {
            (Some(Target::Auc24 { low, high }), _) => Some((
                low / 24.0,
                high / 24.0,
                format!(
                    "average concentration for AUC24 {}-{} mg.h/L",
                    format_number(low, 0),
                    format_number(high, 0)
                ),
            )),
            (
                Some(Target::PeakTrough {
                    trough: Some((lo, hi)),
                    ..
                }),
                _,
            ) => Some((lo, hi, "trough target".to_string())),
            (
                Some(Target::PeakTrough {
                    peak: Some((lo, hi)),
                    ..
                }),
                _,
            ) => Some((lo, hi, "peak target".to_string())),
            _ => None,
        };
        svg::plot(&svg::Plot {
            title: &format!(
                "{} - {}",
                model.id,
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
            band: band.as_ref().map(|(a, b, l)| (*a, *b, l.as_str())),
        })
    });
    Ok(Done { json, text, plot })
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

// ---------------------------------------------------------------------------------------
// pta
// ---------------------------------------------------------------------------------------

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

fn pta_run(inv: &Invocation) -> Result<Done, InputError> {
    let mut calc = Calculation::new("pk pta");
    let mut top = Fields::new(&inv.input, "")?;
    let model = read_model(&mut top)?;
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
    let n = bare(&mut top, "n", 1.0, 1_000_000.0, "virtual patients")?;
    if n.fract() != 0.0 {
        return Err(InputError::new(
            "n",
            n.to_string(),
            "expected a whole number of virtual patients",
        ));
    }
    let seed = bare(&mut top, "seed", 0.0, 9_007_199_254_740_991.0, "")?;
    if seed.fract() != 0.0 {
        return Err(InputError::new(
            "seed",
            seed.to_string(),
            "expected a whole number",
        ));
    }
    let default_target = (model.drug == "vancomycin").then_some(Target::VANCOMYCIN_DEFAULT);
    let target = read_target(&mut top, default_target)?
        .ok_or_else(|| InputError::new("target", "", "required for this model"))?;
    top.finish()?;

    calc.source(model.source);
    if matches!(target, Target::Auc24 { .. }) && model.drug == "vancomycin" {
        calc.source(CONSENSUS_2020);
    }
    if !model.verified {
        calc.finding(Finding::new(
            "model.parameters_unverified",
            Severity::Warning,
            format!("{}: {}", model.id, model.provenance),
        ));
    }
    let cov = CovariateModel {
        weight_kg: weight,
        crcl_ml_per_min: crcl,
        dialysis,
    };
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
    let show_progress = inv.interactive && !inv.json && n >= 200_000;
    let results = pta::simulate(model, &cov, &regimens, &target, n, seed as u64, |done| {
        if show_progress && done % 10_000 == 0 {
            eprint!("\r  simulated {done} of {n} virtual patients");
        }
    })
    .map_err(|e| pk_error("covariates", e))?;
    if show_progress {
        eprintln!();
    }
    calc.steps.push(Step::new(
        "Virtual patients: covariates drawn (fixed, or normal truncated to [min, max] by redrawing), η ~ N(0, ω²) per parameter, individual parameters = typical × e^η; xoshiro256** random numbers with Box-Muller normals, seeded",
        "attained if the steady-state exposure of the regimen lies in the target range; probability = attained / n",
        Qty::new(n as f64, ""),
    ));
    let mut text = format!(
        "Probability of target attainment ({}, n = {n}, seed {seed})\n",
        model.id
    );
    let _ = writeln!(
        text,
        "  {:>9}  {:>8}  {:>8}  {:>11}  {:>28}",
        "dose", "every", "over", "probability", "AUC24 p5 / p50 / p95"
    );
    let list: Vec<Value> = results
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
    let json = json!({
        "model": model.id,
        "n": n,
        "seed": seed as u64,
        "target": target_json(&target),
        "regimens": list,
        "steps": calc.steps,
        "sources": calc.sources,
        "findings": calc.findings,
    });
    text.push('\n');
    text.push_str(&crate::common::report("Method", &calc));
    Ok(Done {
        json,
        text,
        plot: None,
    })
}

// ---------------------------------------------------------------------------------------
// SVG plot
// ---------------------------------------------------------------------------------------

mod svg {
    use std::fmt::Write as _;

    use infusio_core::units::format_number;

    pub struct Plot<'a> {
        pub title: &'a str,
        pub time_unit: &'a str,
        pub conc_unit: &'a str,
        pub curve: &'a [(f64, f64)],
        pub observations: &'a [(f64, f64)],
        /// Low, high, label.
        pub band: Option<(f64, f64, &'a str)>,
    }

    fn escape(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }

    /// A "nice" axis step (1, 2 or 5 × 10^k) giving about five ticks.
    fn step(range: f64) -> f64 {
        let raw = (range / 5.0).max(1e-12);
        let mag = 10f64.powf(raw.log10().floor());
        let f = raw / mag;
        mag * if f < 1.5 {
            1.0
        } else if f < 3.5 {
            2.0
        } else if f < 7.5 {
            5.0
        } else {
            10.0
        }
    }

    /// A hand-written SVG: prediction line, observations as circles, target band shaded.
    pub fn plot(p: &Plot) -> String {
        let (w, h) = (800.0, 450.0);
        let (left, right, top, bottom) = (70.0, 20.0, 40.0, 50.0);
        let xs = p
            .curve
            .iter()
            .map(|c| c.0)
            .chain(p.observations.iter().map(|o| o.0));
        let (mut x0, mut x1) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        if !x0.is_finite() {
            (x0, x1) = (0.0, 1.0);
        }
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        let mut y1 = p
            .curve
            .iter()
            .map(|c| c.1)
            .chain(p.observations.iter().map(|o| o.1))
            .fold(0.0, f64::max);
        if let Some((_, hi, _)) = p.band {
            y1 = y1.max(hi);
        }
        let ystep = step(y1.max(1e-9) * 1.1);
        let y1 = (y1 * 1.1 / ystep).ceil().max(1.0) * ystep;
        let sx = |x: f64| left + (x - x0) / (x1 - x0) * (w - left - right);
        let sy = |y: f64| h - bottom - y / y1 * (h - top - bottom);
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
            w / 2.0,
            escape(p.title)
        );
        if let Some((lo, hi, label)) = p.band {
            let _ = writeln!(
                s,
                r##"<rect x="{left}" y="{:.2}" width="{:.2}" height="{:.2}" fill="#2e7d32" fill-opacity="0.15"><title>{}</title></rect>"##,
                sy(hi),
                w - left - right,
                (sy(lo) - sy(hi)).max(0.0),
                escape(label)
            );
            let _ = writeln!(
                s,
                r##"<text x="{:.2}" y="{:.2}" text-anchor="end" fill="#2e7d32">{}</text>"##,
                w - right - 4.0,
                sy(hi) - 4.0,
                escape(label)
            );
        }
        // Axes and ticks.
        let _ = writeln!(
            s,
            r#"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="black"/>"#,
            h - bottom,
            w - right,
            h - bottom
        );
        let _ = writeln!(
            s,
            r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="black"/>"#,
            h - bottom
        );
        let xstep = step(x1 - x0);
        let mut t = (x0 / xstep).ceil() * xstep;
        while t <= x1 + 1e-9 {
            let _ = writeln!(
                s,
                r#"<line x1="{0:.2}" y1="{1}" x2="{0:.2}" y2="{2}" stroke="black"/><text x="{0:.2}" y="{3}" text-anchor="middle">{4}</text>"#,
                sx(t),
                h - bottom,
                h - bottom + 5.0,
                h - bottom + 18.0,
                format_number(t, 2)
            );
            t += xstep;
        }
        let mut c = 0.0;
        while c <= y1 + 1e-9 {
            let _ = writeln!(
                s,
                r#"<line x1="{0}" y1="{1:.2}" x2="{2}" y2="{1:.2}" stroke="black"/><text x="{3}" y="{4:.2}" text-anchor="end">{5}</text>"#,
                left - 5.0,
                sy(c),
                left,
                left - 8.0,
                sy(c) + 4.0,
                format_number(c, 2)
            );
            c += ystep;
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">time ({})</text>"#,
            (left + w - right) / 2.0,
            h - 12.0,
            escape(p.time_unit)
        );
        let _ = writeln!(
            s,
            r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">concentration ({})</text>"#,
            (top + h - bottom) / 2.0,
            (top + h - bottom) / 2.0,
            escape(p.conc_unit)
        );
        if !p.curve.is_empty() {
            let pts: Vec<String> = p
                .curve
                .iter()
                .map(|(x, y)| format!("{:.2},{:.2}", sx(*x), sy(*y)))
                .collect();
            let _ = writeln!(
                s,
                r##"<polyline fill="none" stroke="#1565c0" stroke-width="2" points="{}"><title>prediction</title></polyline>"##,
                pts.join(" ")
            );
        }
        for (x, y) in p.observations {
            let _ = writeln!(
                s,
                r##"<circle cx="{:.2}" cy="{:.2}" r="5" fill="#c62828"><title>observed {} {} at {} {}</title></circle>"##,
                sx(*x),
                sy(*y),
                format_number(*y, 2),
                escape(p.conc_unit),
                format_number(*x, 2),
                escape(p.time_unit)
            );
        }
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" fill="#1565c0">— prediction</text><text x="{}" y="{}" fill="#c62828">● observed</text>"##,
            left + 10.0,
            top + 4.0,
            left + 110.0,
            top + 4.0
        );
        s.push_str("</svg>\n");
        s
    }
}
