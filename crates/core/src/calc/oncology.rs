//! Oncology dosing: carboplatin by the Calvert formula, and the generic dose pipeline
//! (per-kg / per-m2 / flat basis → maximum cap → rounding to an increment or vial set within
//! a tolerance).

use serde_json::Value;

use super::body::{self, BsaMethod, WeightBasis};
use super::common::{self, Sex};
use super::renal;
use super::sources;
use crate::derivation::{Calculation, Finding, Severity, Step};
use crate::input::{Fields, InputError, as_given, check_range, parse_quantity_value};
use crate::units::{
    Amount, Area, AucMgMinPerMl, BodyWeight, Clearance, DoseBasis, DosePer, Length, Mass, Qty,
    format_number,
};

/// Default carboplatin GFR cap (US prescribing information; NCCN): 125 mL/min.
pub const CARBOPLATIN_GFR_CAP_ML_PER_MIN: f64 = 125.0;

/// Calvert: dose (mg) = target AUC (mg/mL.min) × (GFR (mL/min) + 25).
pub fn calvert(target_auc: AucMgMinPerMl, gfr: Clearance) -> Mass {
    Mass::new(target_auc.value() * (gfr.value() + 25.0))
}

/// `infusio calc carboplatin`.
pub fn carboplatin_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let (auc, cap) = read_auc_and_gfr_cap(&mut f)?;
    let mut calc = Calculation::new("carboplatin");
    let gfr = if f.has("gfr") {
        gfr_as_given(f, &mut calc)?
    } else {
        gfr_from_creatinine_clearance(f, &mut calc)?
    };
    calvert_steps(&mut calc, auc, gfr, cap);
    Ok(calc)
}

/// `target_auc` (0.5 to 10 mg/mL.min) and `gfr_cap` (10 to 250 mL/min, default 125).
fn read_auc_and_gfr_cap(f: &mut Fields) -> Result<(AucMgMinPerMl, Clearance), InputError> {
    let auc_text = f.raw("target_auc").map(as_given).unwrap_or_default();
    let auc = f.quantity(
        "target_auc",
        "a target AUC such as '5 mg/mL.min'",
        AucMgMinPerMl::from_quantity,
    )?;
    check_range("target_auc", &auc_text, auc.value(), 0.5, 10.0, "mg/mL.min")?;
    let cap_text = f.raw("gfr_cap").map(as_given).unwrap_or_default();
    let cap = f
        .opt_quantity(
            "gfr_cap",
            "a GFR cap in mL/min such as '125 mL/min'",
            Clearance::from_quantity,
        )?
        .unwrap_or(Clearance::new(CARBOPLATIN_GFR_CAP_ML_PER_MIN));
    check_range("gfr_cap", &cap_text, cap.value(), 10.0, 250.0, "mL/min")?;
    Ok((auc, cap))
}

/// A measured or estimated `gfr` (mL/min), refused beside the creatinine-clearance inputs.
fn gfr_as_given(mut f: Fields, calc: &mut Calculation) -> Result<Clearance, InputError> {
    for key in [
        "age",
        "sex",
        "weight",
        "serum_creatinine",
        "height",
        "weight_basis",
        "scr_floor",
    ] {
        if f.has(key) {
            return Err(InputError::new(
                key,
                f.raw(key).map(as_given).unwrap_or_default(),
                "give either 'gfr' or the creatinine-clearance inputs, not both",
            ));
        }
    }
    let text = f.raw("gfr").map(as_given).unwrap_or_default();
    let gfr = f.quantity(
        "gfr",
        "an absolute GFR in mL/min (a value in mL/min/1.73m2 must first be de-normalised by BSA)",
        Clearance::from_quantity,
    )?;
    check_range("gfr", &text, gfr.value(), 0.0, 300.0, "mL/min")?;
    f.finish()?;
    calc.step(Step::new(
        "GFR as given",
        "GFR = measured or estimated GFR (mL/min)",
        gfr.qty(),
    ));
    Ok(gfr)
}

/// Cockcroft-Gault clearance as the GFR, with NCCN's warnings for obesity on actual weight
/// and for a low creatinine without a floor.
fn gfr_from_creatinine_clearance(
    mut f: Fields,
    calc: &mut Calculation,
) -> Result<Clearance, InputError> {
    let inputs = renal::read_crcl_inputs(&mut f)?;
    f.finish()?;
    let (crcl, _) = renal::crcl_steps(calc, &inputs);
    if let Some(height) = inputs.height {
        let bmi = body::bmi(inputs.weight, height);
        if bmi.value() >= 30.0 && inputs.basis == WeightBasis::Actual {
            calc.finding(Finding::new(
                "carboplatin.obesity_weight",
                Severity::Warning,
                format!(
                    "BMI {} kg/m2 and clearance on actual weight: NCCN suggests considering adjusted body weight (weight_basis 'adjusted').",
                    format_number(bmi.value(), 1)
                ),
            ));
        }
    }
    if inputs.scr.value() < 0.7 && inputs.scr_floor.is_none() {
        calc.finding(Finding::new(
            "carboplatin.low_creatinine",
            Severity::Warning,
            format!(
                "Serum creatinine {} mg/dL is below 0.7 mg/dL: clearance may be overestimated; NCCN suggests considering a creatinine floor of 0.7 mg/dL (scr_floor).",
                format_number(inputs.scr.value(), 2)
            ),
        ));
    }
    calc.source(sources::NCCN_CARBOPLATIN);
    Ok(crcl)
}

/// The Calvert dose before and after the GFR cap, with the outputs.
fn calvert_steps(calc: &mut Calculation, auc: AucMgMinPerMl, gfr: Clearance, cap: Clearance) {
    let uncapped = calvert(auc, gfr);
    calc.step(
        Step::new(
            "Carboplatin dose before the GFR cap",
            "dose = AUC × (GFR + 25)",
            uncapped.qty(),
        )
        .input("target_auc", auc.qty())
        .input("gfr", gfr.qty()),
    );
    let gfr_used = if gfr.value() > cap.value() {
        calc.finding(Finding::new(
            "carboplatin.gfr_capped",
            Severity::Info,
            format!(
                "GFR {} mL/min capped at {} mL/min: maximum dose {} mg for AUC {}.",
                format_number(gfr.value(), 0),
                format_number(cap.value(), 0),
                format_number(auc.value() * (cap.value() + 25.0), 0),
                format_number(auc.value(), 1)
            ),
        ));
        cap
    } else {
        gfr
    };
    calc.step(
        Step::new(
            "GFR used (capped)",
            "GFR_used = min(GFR, cap)",
            gfr_used.qty(),
        )
        .input("gfr", gfr.qty())
        .input("gfr_cap", cap.qty()),
    );
    let dose = calvert(auc, gfr_used);
    calc.step(
        Step::new(
            "Carboplatin dose (Calvert)",
            "dose = AUC × (GFR_used + 25)",
            dose.qty(),
        )
        .input("target_auc", auc.qty())
        .input("gfr_used", gfr_used.qty())
        .rounding("none; round to the product per institutional policy"),
    );
    calc.source(sources::CALVERT);
    calc.output("dose", dose.qty());
    calc.output("dose_uncapped", uncapped.qty());
    calc.output("gfr_used", gfr_used.qty());
}

/// How a dose is rounded.
#[derive(Clone, Debug, PartialEq)]
pub enum Rounding {
    /// To the nearest multiple of the increment (in the dose unit).
    Increment(f64),
    /// To the nearest sum of whole vials of these sizes (in the dose unit).
    Vials(Vec<f64>),
}

/// The result of rounding a capped dose.
#[derive(Clone, Debug, PartialEq)]
pub struct Rounded {
    pub dose: f64,
    pub deviation_percent: f64,
    pub within_tolerance: bool,
    /// For vials: the count of each size.
    pub vial_counts: Vec<(f64, u32)>,
}

/// Largest number of distinct vial sums examined; a vial set that needs more is refused.
const MAX_VIAL_SUMS: usize = 200_000;

/// Rounds `dose` (already capped) by `rounding`: the nearest achievable value, ties rounding
/// up, never above `cap`; kept only when within `tolerance_percent`, otherwise the dose is
/// returned unchanged with `within_tolerance = false`.
pub fn round_dose(
    dose: f64,
    rounding: &Rounding,
    tolerance_percent: f64,
    cap: Option<f64>,
) -> Rounded {
    let limit = cap.unwrap_or(f64::INFINITY);
    let eps = 1e-9 * dose.abs().max(1.0);
    let (candidate, counts) = match rounding {
        Rounding::Increment(inc) => {
            let down = (dose / inc).floor() * inc;
            let up = down + inc;
            let pick = if up - dose <= dose - down + eps && up <= limit + eps {
                up
            } else {
                down
            };
            (pick, Vec::new())
        }
        Rounding::Vials(sizes) => nearest_vial_sum(dose, sizes, limit),
    };
    let deviation_percent = if dose == 0.0 {
        0.0
    } else {
        (candidate - dose) / dose * 100.0
    };
    let within = deviation_percent.abs() <= tolerance_percent + 1e-9 && candidate > 0.0;
    if within {
        Rounded {
            dose: candidate,
            deviation_percent,
            within_tolerance: true,
            vial_counts: counts,
        }
    } else {
        Rounded {
            dose,
            deviation_percent: 0.0,
            within_tolerance: false,
            vial_counts: Vec::new(),
        }
    }
}

/// The achievable vial sum nearest to `dose` (ties up, never above `limit`), by a
/// breadth-first enumeration of sums on a fine grid (so each sum is first reached with the
/// fewest vials).
fn nearest_vial_sum(dose: f64, sizes: &[f64], limit: f64) -> (f64, Vec<(f64, u32)>) {
    let smallest = sizes.iter().copied().fold(f64::INFINITY, f64::min);
    let largest = sizes.iter().copied().fold(0.0, f64::max);
    let ceiling = (dose + largest).min(limit);
    // Work on an integer grid of 1/1000 of the smallest vial to avoid float drift.
    let grid = smallest / 1000.0;
    let steps: Vec<u64> = sizes.iter().map(|s| (s / grid).round() as u64).collect();
    let max_key = (ceiling / grid).round() as u64;
    let mut best: Option<(u64, Vec<u32>)> = None;
    let target = dose / grid;
    let mut frontier = std::collections::VecDeque::from([(0_u64, vec![0_u32; sizes.len()])]);
    let mut seen = std::collections::HashSet::new();
    while let Some((sum, counts)) = frontier.pop_front() {
        if seen.len() > MAX_VIAL_SUMS {
            break;
        }
        for (i, step) in steps.iter().enumerate() {
            let next = sum + step;
            if next > max_key || !seen.insert(next) {
                continue;
            }
            let mut c = counts.clone();
            c[i] += 1;
            let better = match &best {
                None => true,
                Some((b, _)) => {
                    let db = (*b as f64 - target).abs();
                    let dn = (next as f64 - target).abs();
                    dn < db - 1e-9 || ((dn - db).abs() <= 1e-9 && next > *b)
                }
            };
            if better {
                best = Some((next, c.clone()));
            }
            frontier.push_back((next, c));
        }
    }
    match best {
        Some((key, counts)) => (
            key as f64 * grid,
            sizes
                .iter()
                .copied()
                .zip(counts)
                .filter(|(_, n)| *n > 0)
                .collect(),
        ),
        None => (0.0, Vec::new()),
    }
}

fn read_amount_in(
    f: &mut Fields,
    key: &str,
    unit: &str,
    what: &str,
) -> Result<Option<(f64, String)>, InputError> {
    let path = f.path_of(key);
    let text = f.raw(key).map(as_given);
    let amount = f.opt_quantity(key, what, Amount::from_quantity)?;
    match amount {
        None => Ok(None),
        Some(a) => {
            let v = a.value_in(unit).map_err(|e| {
                InputError::new(
                    &path,
                    text.clone().unwrap_or_default(),
                    format!("{e}; expected an amount in units compatible with {unit}"),
                )
            })?;
            if !(v.is_finite() && v > 0.0) {
                return Err(InputError::new(
                    path,
                    text.unwrap_or_default(),
                    "must be greater than zero",
                ));
            }
            Ok(Some((v, text.unwrap_or_default())))
        }
    }
}

/// What a dose is multiplied by, as read: nothing (flat), a dosing weight chosen by a weight
/// basis, or a body-surface area (given, or Mosteller from weight and height).
enum BasisMeasure {
    Flat,
    Weight {
        weight: BodyWeight,
        basis: WeightBasis,
        height: Option<Length>,
        sex: Option<Sex>,
    },
    AreaGiven(Area),
    AreaMosteller(BodyWeight, Length),
}

/// The dose calculator's inputs, read and checked.
struct DoseInput {
    dose_per: DosePer,
    measure: BasisMeasure,
    /// In the dose's amount unit.
    max_dose: Option<f64>,
    /// The rounding rule and its `tolerance_percent` (default applied later).
    rounding: Option<(Rounding, Option<f64>)>,
}

impl DoseInput {
    /// The dose's amount unit (`mg`, `g`, `units` …).
    fn unit(&self) -> &str {
        &self.dose_per.amount_unit
    }
}

/// Reads the dose calculator's fields in their documented order.
fn read_dose_input(f: &mut Fields) -> Result<DoseInput, InputError> {
    let dose_text = f.raw("dose_per").map(as_given).unwrap_or_default();
    let dose_per = f.quantity(
        "dose_per",
        "a dose such as '5 mg/kg', '375 mg/m2', '0.4 g/kg', '50 units/kg' or a flat '200 mg'",
        DosePer::from_quantity,
    )?;
    if dose_per.per_time.is_some() {
        return Err(InputError::new(
            "dose_per",
            dose_text,
            "a dose rate (per minute or per hour) is not a dose: use the infusion-rate calculator",
        ));
    }
    if !(dose_per.value.is_finite() && dose_per.value > 0.0) {
        return Err(InputError::new(
            "dose_per",
            dose_text,
            "must be greater than zero",
        ));
    }
    let measure = read_basis_measure(f, &dose_per)?;
    let unit = dose_per.amount_unit.clone();
    let max_dose = read_amount_in(f, "max_dose", &unit, "a maximum dose such as '2 mg'")?;
    let rounding = match f.opt_object("rounding")? {
        None => None,
        Some(mut r) => {
            let tolerance = common::percent_field(&mut r, "tolerance_percent", 0.0, 50.0)?;
            let rule = read_rounding_rule(&mut r, &unit)?;
            r.finish()?;
            Some((rule, tolerance))
        }
    };
    Ok(DoseInput {
        dose_per,
        measure,
        max_dose: max_dose.map(|(max, _)| max),
        rounding,
    })
}

/// Reads `weight`, `height`, `sex`, `bsa` and `weight_basis`, and requires what the dose basis
/// needs.
fn read_basis_measure(f: &mut Fields, dose_per: &DosePer) -> Result<BasisMeasure, InputError> {
    let weight = common::opt_weight(f, "weight")?;
    let height = common::opt_height(f, "height")?;
    let sex = common::opt_sex(f, "sex")?;
    let bsa_text = f.raw("bsa").map(as_given).unwrap_or_default();
    let bsa_given = f.opt_quantity(
        "bsa",
        "a body-surface area such as '1.8 m2'",
        Area::from_quantity,
    )?;
    if let Some(b) = bsa_given {
        check_range("bsa", &bsa_text, b.value(), 0.1, 3.5, "m2")?;
    }
    match dose_per.basis {
        DoseBasis::Flat => {
            let _ = body::read_weight_basis(f, height, sex, WeightBasis::Actual)?;
            Ok(BasisMeasure::Flat)
        }
        DoseBasis::PerKg => {
            let weight = weight.ok_or_else(|| {
                InputError::new(
                    "weight",
                    "",
                    format!("required for a per-kg dose ({})", dose_per.unit()),
                )
            })?;
            let basis = body::read_weight_basis(f, height, sex, WeightBasis::Actual)?;
            Ok(BasisMeasure::Weight {
                weight,
                basis,
                height,
                sex,
            })
        }
        DoseBasis::PerM2 => {
            let _ = body::read_weight_basis(f, height, sex, WeightBasis::Actual)?;
            match (bsa_given, weight, height) {
                (Some(b), _, _) => Ok(BasisMeasure::AreaGiven(b)),
                (None, Some(w), Some(h)) => Ok(BasisMeasure::AreaMosteller(w, h)),
                (None, None, _) => Err(InputError::new(
                    "weight",
                    "",
                    "required for a per-m2 dose when 'bsa' is not given",
                )),
                (None, Some(_), None) => Err(InputError::new(
                    "height",
                    "",
                    "required for a per-m2 dose when 'bsa' is not given",
                )),
            }
        }
    }
}

/// Exactly one of `increment` or `vials`, in the dose's amount unit.
fn read_rounding_rule(r: &mut Fields, unit: &str) -> Result<Rounding, InputError> {
    let has_inc = r.has("increment");
    let has_vials = r.has("vials");
    if has_inc && !has_vials {
        let (inc, _) = read_amount_in(r, "increment", unit, "an increment such as '100 mg'")?
            .ok_or_else(|| InputError::new("rounding.increment", "", "required"))?;
        return Ok(Rounding::Increment(inc));
    }
    if !has_vials || has_inc {
        return Err(InputError::new(
            "rounding",
            "",
            "give exactly one of 'increment' (e.g. '100 mg') or 'vials' (e.g. ['100 mg', '500 mg'])",
        ));
    }
    let items = r.opt_array("vials")?.unwrap_or_default();
    if items.is_empty() {
        return Err(InputError::new(
            "rounding.vials",
            "[]",
            "at least one vial size such as '100 mg'",
        ));
    }
    let mut sizes = Vec::new();
    for (path, v) in items {
        let a = parse_quantity_value(
            v,
            &path,
            "a vial size such as '100 mg'",
            Amount::from_quantity,
        )?;
        let s = a.value_in(unit).map_err(|e| {
            InputError::new(
                &path,
                as_given(v),
                format!("{e}; expected a vial size in {unit}"),
            )
        })?;
        if !(s.is_finite() && s > 0.0) {
            return Err(InputError::new(
                path,
                as_given(v),
                "must be greater than zero",
            ));
        }
        sizes.push(s);
    }
    Ok(Rounding::Vials(sizes))
}

/// The dosing weight (kg) or body-surface area (m2) the dose is multiplied by, with its
/// steps; `None` for a flat dose.
fn basis_measure_steps(calc: &mut Calculation, measure: &BasisMeasure) -> Option<Qty> {
    match *measure {
        BasisMeasure::Flat => None,
        BasisMeasure::Weight {
            weight,
            basis,
            height,
            sex,
        } => {
            let used = body::dosing_weight(calc, basis, weight, height, sex);
            Some(Qty::new(used.value(), "kg"))
        }
        BasisMeasure::AreaGiven(b) => {
            calc.step(Step::new(
                "Body-surface area as given",
                "BSA = given",
                b.qty(),
            ));
            Some(b.qty())
        }
        BasisMeasure::AreaMosteller(w, h) => {
            let b = body::bsa(BsaMethod::Mosteller, w, h);
            calc.step(
                Step::new(
                    "Body-surface area (Mosteller)",
                    BsaMethod::Mosteller.formula(),
                    b.qty(),
                )
                .input("weight", w.qty())
                .input("height", h.qty()),
            );
            calc.source(sources::MOSTELLER);
            Some(b.qty())
        }
    }
}

/// `infusio calc dose`.
pub fn dose_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let input = read_dose_input(&mut f)?;
    f.finish()?;

    let mut calc = Calculation::new("dose");
    let basis_measure = basis_measure_steps(&mut calc, &input.measure);
    let (dose_per, unit) = (&input.dose_per, input.unit());
    let raw = match &basis_measure {
        None => dose_per.value,
        Some(m) => dose_per.value * m.value,
    };
    let mut step = Step::new(
        "Dose from the prescribed basis",
        match dose_per.basis {
            DoseBasis::Flat => "dose = flat dose".to_string(),
            DoseBasis::PerKg => "dose = dose_per_kg × weight_used".to_string(),
            DoseBasis::PerM2 => "dose = dose_per_m2 × BSA".to_string(),
        },
        Qty::new(raw, unit),
    )
    .input("dose_per", dose_per.qty());
    if let Some(m) = &basis_measure {
        step = step.input(
            if m.unit == "kg" { "weight_used" } else { "bsa" },
            m.clone(),
        );
    }
    calc.step(step);
    calc.source(sources::ASCO_OBESITY);

    let capped = match input.max_dose {
        Some(max) if raw > max => {
            calc.step(
                Step::new(
                    "Dose capped at the maximum",
                    "dose = min(dose, max_dose)",
                    Qty::new(max, unit),
                )
                .input("dose_uncapped", Qty::new(raw, unit))
                .input("max_dose", Qty::new(max, unit)),
            );
            calc.finding(Finding::new(
                "dose.capped",
                Severity::Info,
                format!(
                    "Calculated dose {} {unit} exceeds the maximum {} {unit}: capped at {} {unit}.",
                    format_number(raw, 3),
                    format_number(max, 3),
                    format_number(max, 3)
                ),
            ));
            max
        }
        _ => raw,
    };
    calc.output("dose", Qty::new(capped, unit));
    calc.output("dose_uncapped", Qty::new(raw, unit));
    if let Some((rule, tolerance)) = &input.rounding {
        rounding_steps(
            &mut calc,
            capped,
            rule,
            tolerance.unwrap_or(10.0),
            input.max_dose,
            unit,
        );
    }
    Ok(calc)
}

/// Rounds the capped dose (in `unit`) by `rule` within `tolerance_percent`, with its steps,
/// finding and outputs.
fn rounding_steps(
    calc: &mut Calculation,
    capped: f64,
    rule: &Rounding,
    tolerance_percent: f64,
    max_dose: Option<f64>,
    unit: &str,
) {
    let tolerance = tolerance_percent;
    let r = round_dose(capped, rule, tolerance, max_dose);
    let rule_text = match rule {
        Rounding::Increment(inc) => format!(
            "nearest {} {unit} (ties up, never above the maximum), kept when within ±{}%",
            format_number(*inc, 4),
            format_number(tolerance, 2)
        ),
        Rounding::Vials(sizes) => format!(
            "nearest sum of whole vials of {} (ties up, never above the maximum), kept when within ±{}%",
            sizes
                .iter()
                .map(|s| format!("{} {unit}", format_number(*s, 4)))
                .collect::<Vec<_>>()
                .join(", "),
            format_number(tolerance, 2)
        ),
    };
    let mut step = Step::new(
        "Dose rounded",
        "dose_rounded = round(dose)",
        Qty::new(r.dose, unit),
    )
    .input("dose", Qty::new(capped, unit))
    .rounding(rule_text);
    if !r.vial_counts.is_empty() {
        step.description = format!(
            "Dose rounded to whole vials: {}",
            r.vial_counts
                .iter()
                .map(|(s, n)| format!("{n} × {} {unit}", format_number(*s, 4)))
                .collect::<Vec<_>>()
                .join(" + ")
        );
    }
    calc.step(step);
    calc.step(Step::new(
        "Deviation of the rounded dose",
        "deviation = (dose_rounded − dose) / dose × 100",
        Qty::new(r.deviation_percent, "%"),
    ));
    calc.source(sources::HOPA_ROUNDING);
    if !r.within_tolerance {
        calc.finding(Finding::new(
            "dose.rounding_outside_tolerance",
            Severity::Warning,
            format!(
                "No rounded dose lies within ±{}% of {} {unit}: the calculated dose is kept unrounded.",
                format_number(tolerance, 2),
                format_number(capped, 3)
            ),
        ));
    }
    calc.output("dose_rounded", Qty::new(r.dose, unit));
    calc.output("deviation_percent", Qty::new(r.deviation_percent, "%"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increment_rounding_ties_up_and_respects_cap() {
        let r = round_dose(750.0, &Rounding::Increment(100.0), 10.0, None);
        assert_eq!(r.dose, 800.0);
        let r = round_dose(750.0, &Rounding::Increment(100.0), 10.0, Some(750.0));
        assert_eq!(r.dose, 700.0);
    }

    #[test]
    fn vial_rounding_finds_nearest_combination() {
        let r = round_dose(697.5, &Rounding::Vials(vec![100.0, 500.0]), 10.0, None);
        assert!((r.dose - 700.0).abs() < 1e-9);
        assert_eq!(r.vial_counts, vec![(100.0, 2), (500.0, 1)]);
    }

    #[test]
    fn rounding_outside_tolerance_keeps_the_dose() {
        let r = round_dose(30.0, &Rounding::Increment(100.0), 10.0, None);
        assert!(!r.within_tolerance);
        assert_eq!(r.dose, 30.0);
    }
}
