//! The check engine. See the module documentation of [`super`].

use super::allergy::{ALLERGY_SOURCE, check_allergy};
use super::growth::{GROWTH_SOURCE, plausible_band_kg};
use super::request::{CheckRequest, Frequency};
use super::{CheckResult, CheckSource, Matched, Verdict, lab_value};
use crate::calc::body::{self, BsaMethod};
use crate::calc::common::Sex;
use crate::calc::{oncology, renal};
use crate::derivation::{Finding, Severity, Step};
use crate::library::{Basis, DosingRule, DrugEntry, Library, Limits, Titration};
use crate::units::{
    Amount, AmountKind, Concentration, DoseBasis, DosePer, Qty, SerumCreatinine, format_number,
};

/// Relative tolerance for comparing against a limit (floating-point noise only).
const EPS: f64 = 1e-9;
/// A dose differing from dose_per × measure by more than this fraction is flagged.
const DOSE_MISMATCH_FRACTION: f64 = 0.10;
/// Stated and programmed (volume ÷ rate) durations may differ by this fraction.
const RATE_CONSISTENCY_FRACTION: f64 = 0.10;
/// Pump-programming allowance over a titration start rate.
const START_RATE_ALLOWANCE: f64 = 0.05;
/// A weight change from the previous dose's weight at or above this fraction is flagged.
const WEIGHT_CHANGE_FRACTION: f64 = 0.10;

const CG_SOURCE: (&str, &str) = (
    "cockcroft-gault-1976",
    "Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum creatinine. Nephron 1976;16:31-41",
);
const CALVERT_SOURCE: (&str, &str) = (
    "calvert-1989",
    "Calvert AH, et al. Carboplatin dosage: prospective evaluation of a simple formula based on renal function. J Clin Oncol 1989;7:1748-56; GFR capped at 125 mL/min per the carboplatin US label (FDA 2010 safety communication)",
);

/// Formats a clinical number for a message: 3 decimals under 1, otherwise 2.
fn num(v: f64) -> String {
    if v.abs() < 1.0 {
        // Keep very small slips (0.005 mg/kg) visible instead of rounding them to 0.
        if v != 0.0 && v.abs() < 0.001 {
            return format!("{v:.2e}");
        }
        format_number(v, 3)
    } else {
        format_number(v, 2)
    }
}

struct Ctx<'a> {
    req: &'a CheckRequest,
    findings: Vec<Finding>,
    steps: Vec<Step>,
    sources: Vec<CheckSource>,
    weight_kg: Option<f64>,
    /// The weight a per-kg rule used (actual, ideal or adjusted).
    dosing_weight_kg: Option<f64>,
    bsa_m2: Option<f64>,
    crcl: Option<Result<f64, String>>,
    /// The dosing rule the rule-dependent stages run against (limit blocks qualified by rule).
    rule_id: Option<String>,
    /// The ordered dose in the canonical unit of its kind (for dose-band qualifiers).
    dose_canonical: Option<(f64, AmountKind)>,
}

impl<'a> Ctx<'a> {
    fn finding(&mut self, code: &str, severity: Severity, message: String) {
        self.findings.push(Finding::new(code, severity, message));
    }

    fn source(&mut self, id: &str, citation: &str) {
        if !self.sources.iter().any(|s| s.id == id) {
            self.sources.push(CheckSource {
                id: id.to_string(),
                citation: citation.to_string(),
            });
        }
    }

    /// Compares `value` with a limit block and records the findings `<prefix>.<bound>`.
    fn eval(
        &mut self,
        prefix: &str,
        what: &str,
        value: f64,
        unit: &str,
        l: &Limits,
        context: &str,
    ) {
        let u = if unit == "%" {
            "%".to_string()
        } else {
            format!(" {unit}")
        };
        let note = l
            .note
            .as_deref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        if let Some(max) = l.hard_max
            && value > max * (1.0 + EPS)
        {
            self.finding(
                &format!("{prefix}.above_hard_max"),
                Severity::HardStop,
                format!("{what} {}{u} is above the hard maximum of {}{u} for {context}. Do not give as ordered; contact the prescriber. [source: {}]{note}", num(value), num(max), l.source),
            );
        } else if let Some(max) = l.soft_max
            && value > max * (1.0 + EPS)
        {
            self.finding(
                &format!("{prefix}.above_soft_max"),
                Severity::Warning,
                format!("{what} {}{u} is above the usual maximum of {}{u} for {context}; an override reason is required. [source: {}]{note}", num(value), num(max), l.source),
            );
        }
        if let Some(min) = l.hard_min
            && value < min * (1.0 - EPS)
        {
            self.finding(
                &format!("{prefix}.below_hard_min"),
                Severity::HardStop,
                format!("{what} {}{u} is below the hard minimum of {}{u} for {context}. Do not give as ordered; contact the prescriber. [source: {}]{note}", num(value), num(min), l.source),
            );
        } else if let Some(min) = l.soft_min
            && value < min * (1.0 - EPS)
        {
            self.finding(
                &format!("{prefix}.below_soft_min"),
                Severity::Warning,
                format!("{what} {}{u} is below the usual minimum of {}{u} for {context}; an override reason is required. [source: {}]{note}", num(value), num(min), l.source),
            );
        }
    }

    /// Cockcroft–Gault creatinine clearance (mL/min), computed once.
    fn crcl(&mut self) -> Result<f64, String> {
        if let Some(c) = &self.crcl {
            return c.clone();
        }
        let p = &self.req.patient;
        let scr = p.lab("serum_creatinine").map(|l| l.value);
        let mut missing = Vec::new();
        if p.age.is_none() {
            missing.push("patient.age");
        }
        if p.sex.is_none() {
            missing.push("patient.sex");
        }
        if p.weight.is_none() {
            missing.push("patient.weight");
        }
        if scr.is_none() {
            missing.push("patient.labs.serum_creatinine");
        }
        let result = match (p.age, p.sex, p.weight, scr) {
            (Some(age), Some(sex), Some(w), Some(scr)) if age.value() >= 18.0 && scr > 0.0 => {
                let crcl = renal::cockcroft_gault(age, sex, w, SerumCreatinine::new(scr)).value();
                self.source(CG_SOURCE.0, CG_SOURCE.1);
                self.steps.push(
                    Step::new(
                        "Creatinine clearance (Cockcroft–Gault, actual body weight, no creatinine floor)",
                        format!("CrCl = (140 − age) × weight / (72 × SCr){}", if sex == Sex::Female { " × 0.85" } else { "" }),
                        Qty::new(crcl, "mL/min"),
                    )
                    .input("age", age.qty())
                    .input("weight", w.qty())
                    .input("serum_creatinine", Qty::new(scr, "mg/dL")),
                );
                Ok(crcl)
            }
            (Some(age), _, _, _) if age.value() < 18.0 => {
                Err("Cockcroft–Gault is not validated under 18 years; renal dosing needs a pharmacist's review".to_string())
            }
            _ => Err(format!("creatinine clearance needs {}", missing.join(", "))),
        };
        self.crcl = Some(result.clone());
        result
    }

    /// Whether a qualified block applies; `None` when it depends on a missing order field.
    fn matches(&self, l: &Limits) -> Option<bool> {
        let o = &self.req.order;
        if !l.rules.is_empty()
            && !self
                .rule_id
                .as_ref()
                .is_some_and(|r| l.rules.iter().any(|x| x == r))
        {
            return Some(false);
        }
        if !dose_in_band(l, self.dose_canonical) {
            return Some(false);
        }
        let in_band = |v: Option<f64>, min: Option<f64>, max: Option<f64>| -> Option<bool> {
            if min.is_none() && max.is_none() {
                return Some(true);
            }
            let v = v?;
            Some(min.is_none_or(|m| v >= m) && max.is_none_or(|m| v < m))
        };
        let age = self.req.patient.age.map(|a| a.value());
        match in_band(age, l.age_min_y, l.age_max_y) {
            Some(true) => {}
            other => return other,
        }
        match in_band(self.weight_kg, l.weight_min_kg, l.weight_max_kg) {
            Some(true) => {}
            other => return other,
        }
        if !l.care_areas.is_empty() && !l.care_areas.contains(&self.req.care_area) {
            return Some(false);
        }
        if !l.conditions.is_empty()
            && !l
                .conditions
                .iter()
                .any(|c| self.req.patient.has_condition(c))
        {
            return Some(false);
        }
        if !l.products.is_empty() && !o.product.as_ref().is_some_and(|p| l.products.contains(p)) {
            return Some(false);
        }
        if let Some(line) = &l.line {
            match &o.line {
                None => return None,
                Some(x) if x != line => return Some(false),
                _ => {}
            }
        }
        if let Some(inf) = &l.infusion {
            match o.infusion_number {
                None => return None,
                Some(n) => {
                    if crate::library::model::infusion_matches(inf, n) != Some(true) {
                        return Some(false);
                    }
                }
            }
        }
        Some(true)
    }

    /// For each unit, the most specific matching block. Reports blocks that could not be
    /// matched because the line or infusion number is missing.
    fn select<'l>(&mut self, blocks: &'l [Limits], what: &str) -> Vec<&'l Limits> {
        let mut chosen: Vec<&'l Limits> = Vec::new();
        let mut missing_line = false;
        let mut missing_infusion = false;
        let mut missing_measure = false;
        let mut n_matching = 0;
        for b in blocks {
            match self.matches(b) {
                Some(true) => {
                    n_matching += 1;
                    if let Some(pos) = chosen.iter().position(|c| c.unit == b.unit) {
                        if b.specificity() > chosen[pos].specificity() {
                            chosen[pos] = b;
                        }
                    } else {
                        chosen.push(b);
                    }
                }
                Some(false) => {}
                None => {
                    missing_line |= b.line.is_some() && self.req.order.line.is_none();
                    missing_infusion |=
                        b.infusion.is_some() && self.req.order.infusion_number.is_none();
                    missing_measure |= b.age_min_y.is_some()
                        || b.age_max_y.is_some()
                        || b.weight_min_kg.is_some()
                        || b.weight_max_kg.is_some();
                }
            }
        }
        // Name the block that applied and why, when the choice was not trivial.
        if blocks.len() > 1 {
            for c in &chosen {
                let index = blocks
                    .iter()
                    .position(|b| std::ptr::eq(b, *c))
                    .unwrap_or_default();
                self.steps.push(Step::new(
                    format!(
                        "{what} limit block {index} applies ({}): the most specific of {n_matching} matching block(s) of {} in this drug's {what} limits [source: {}]",
                        c.qualifiers(),
                        blocks.len(),
                        c.source
                    ),
                    "most specific matching block per unit",
                    Qty::new(index as f64, "1"),
                ));
            }
        }
        if missing_measure
            && !self
                .findings
                .iter()
                .any(|f| f.code == "patient.measure_missing")
        {
            self.finding(
                "patient.measure_missing",
                Severity::Warning,
                format!("The library has {what} limits for age or weight bands, but patient.age or patient.weight is missing; they could not be checked."),
            );
        }
        if missing_line && !self.findings.iter().any(|f| f.code == "order.line_missing") {
            self.finding(
                "order.line_missing",
                Severity::Warning,
                format!("The library has {what} limits that depend on the line (peripheral or central), but order.line is not given; they could not be checked."),
            );
        }
        if missing_infusion
            && !self
                .findings
                .iter()
                .any(|f| f.code == "order.infusion_number_missing")
        {
            self.finding(
                "order.infusion_number_missing",
                Severity::Warning,
                format!("The library has {what} limits for first and later infusions, but order.infusion_number is not given; they could not be checked."),
            );
        }
        chosen
    }
}

/// Whether the ordered dose lies in the block's dose band `(dose_above, dose_at_most]`; a
/// band in another kind of amount (mg against mL) does not match.
fn dose_in_band(l: &Limits, dose: Option<(f64, AmountKind)>) -> bool {
    if l.dose_above.is_none() && l.dose_at_most.is_none() {
        return true;
    }
    let Some((v, kind)) = dose else { return false };
    let bound = |t: &Option<String>| -> Option<Option<f64>> {
        match t {
            None => Some(None),
            Some(t) => {
                let a = Amount::parse(t).ok()?;
                if a.kind != kind {
                    return None;
                }
                a.value_in(kind.unit()).ok().map(Some)
            }
        }
    };
    match (bound(&l.dose_above), bound(&l.dose_at_most)) {
        (Some(lo), Some(hi)) => {
            lo.is_none_or(|lo| v > lo * (1.0 + EPS)) && hi.is_none_or(|hi| v <= hi * (1.0 + EPS))
        }
        _ => false,
    }
}

/// Converts an amount per hour (in the canonical unit of `kind`) into a rate unit such as
/// `mg/kg/min`; `None` when the kinds differ or a needed measure is missing.
fn per_hour_in(
    amount_per_h: f64,
    kind: AmountKind,
    unit: &str,
    weight: Option<f64>,
    bsa: Option<f64>,
) -> Result<Option<f64>, String> {
    let d = DosePer::parse(&format!("1 {unit}")).map_err(|e| e.to_string())?;
    if d.amount_kind != kind {
        return Ok(None);
    }
    let factor = Amount::parse(&format!("1 {}", d.amount_unit))
        .and_then(|a| a.value_in(kind.unit()))
        .map_err(|e| e.to_string())?;
    let measure = match d.basis {
        DoseBasis::Flat => 1.0,
        DoseBasis::PerKg => match weight {
            Some(w) => w,
            None => return Err("patient.weight".to_string()),
        },
        DoseBasis::PerM2 => match bsa {
            Some(b) => b,
            None => return Err("patient.weight and patient.height (for BSA)".to_string()),
        },
    };
    let minutes = d.per_time.map(|(_, m)| m).unwrap_or(60.0);
    Ok(Some(amount_per_h / factor / measure * (minutes / 60.0)))
}

/// Hours needed to deliver `total` (canonical amount) following a titration schedule whose
/// rates are given as amount per hour.
fn schedule_hours(total: f64, start: f64, increment: f64, interval_h: f64, max: f64) -> f64 {
    let mut rate = start;
    let mut delivered = 0.0;
    let mut t = 0.0;
    for _ in 0..10_000 {
        let step = rate * interval_h;
        if delivered + step >= total || (rate >= max && increment >= 0.0) {
            return t + (total - delivered) / rate;
        }
        delivered += step;
        t += interval_h;
        rate = (rate + increment).min(max);
    }
    t
}

/// Checks one order. Never fails: problems are findings.
pub fn check(library: &Library, req: &CheckRequest) -> CheckResult {
    let mut cx = Ctx {
        req,
        findings: Vec::new(),
        steps: Vec::new(),
        sources: Vec::new(),
        weight_kg: req.patient.weight.map(|w| w.value()),
        dosing_weight_kg: None,
        bsa_m2: None,
        crcl: None,
        rule_id: None,
        dose_canonical: req
            .order
            .dose
            .value_in(req.order.dose.kind.unit())
            .ok()
            .map(|v| (v, req.order.dose.kind)),
    };
    patient_checks(&mut cx);
    dated_in_future(&mut cx);
    let Some(entry) = library.find(&req.order.medication) else {
        off_library(&mut cx);
        return finish(cx, None);
    };
    for s in &entry.sources {
        cx.source(&s.id, &s.citation);
    }
    let rule = select_rule(&mut cx, entry);
    cx.rule_id = rule.map(|r| r.id.clone());
    rule_stage(&mut cx, entry, rule);
    route_and_line(&mut cx, entry);
    lab_checks(&mut cx, entry);
    allergy_checks(&mut cx, entry);
    screening_checks(&mut cx, entry);
    cumulative_checks(&mut cx, entry, library);
    history_checks(&mut cx, entry, library);
    flag_checks(&mut cx, entry);
    let matched = Matched {
        id: entry.id.clone(),
        generic_name: entry.generic_name.clone(),
        library_version: entry.version,
        rule: rule.map(|r| r.id.clone()),
    };
    finish(cx, Some(matched))
}

/// Lab results and administrations dated after the check's `at`: a result from the future
/// is a wrong date or a wrong patient, never a value to dose by.
fn dated_in_future(cx: &mut Ctx) {
    let p = &cx.req.patient;
    let mut found = Vec::new();
    for l in &p.future_labs {
        found.push((
            "lab.dated_in_future",
            format!("The {} result {} is dated after the time of this check; it was not used. Check the result's date and the patient.", l.name.replace('_', " "), l.given),
        ));
    }
    if let Some(now) = cx.req.at_h {
        for (i, h) in p.history.iter().enumerate() {
            if h.at_h
                .is_some_and(|t| t > now + super::request::FUTURE_TOLERANCE_H)
            {
                found.push((
                    "patient.history_dated_in_future",
                    format!("patient.history[{i}] ({}) is dated after the time of this check; check its date.", h.medication),
                ));
            }
        }
    }
    for (code, message) in found {
        cx.finding(code, Severity::Warning, message);
    }
}

/// The stages whose limits depend on the dosing rule: dose (per basis, per kg, per day,
/// absolute, cap, rolling windows, renal bands), eligibility and administration.
fn rule_stage(cx: &mut Ctx, entry: &DrugEntry, rule: Option<&DosingRule>) {
    if let Some(rule) = rule {
        dose_checks(cx, entry, rule);
        if let Some(el) = &rule.eligibility {
            cx.finding(
                "rule.eligibility",
                Severity::Warning,
                format!(
                    "{} is ordered by the rule '{}' ({}): {} Confirm the patient's eligibility. [source: {}]",
                    entry.generic_name, rule.id, rule.indication, el.text, el.source
                ),
            );
        }
    }
    administration_checks(cx, entry, rule);
}

/// A medication outside the library: a hard stop, unless the order carries a limit set a
/// pharmacist entered for it (then its dose and rate are checked against that set, and a
/// double check is always required).
fn off_library(cx: &mut Ctx) {
    let o = &cx.req.order;
    let Some(limits) = &o.off_library else {
        // The contract keeps `medication.unknown` a warning; what makes the order stop is
        // its own code, so a drug outside the library can never be clicked through.
        cx.finding(
            "medication.unknown",
            Severity::Warning,
            format!(
                "'{}' is not in the drug library: no dose, rate or concentration limit could be checked.",
                o.medication
            ),
        );
        cx.finding(
            "medication.off_library_required",
            Severity::HardStop,
            format!(
                "'{}' can be ordered only from the library, or outside it with a limit set entered by a pharmacist (order.off_library), which always needs a double check.",
                o.medication
            ),
        );
        return;
    };
    cx.finding(
        "medication.off_library",
        Severity::Warning,
        format!(
            "'{}' is not in the drug library; it is checked only against the limit set entered by {} ({}). Ordering outside the library is a separately permitted path.",
            o.medication, limits.entered_by, limits.reason
        ),
    );
    cx.finding(
        "double_check.required",
        Severity::Info,
        "A medication ordered outside the library always needs an independent double check before administration.".to_string(),
    );
    let dose = o.dose.value_in(limits.dose_hard_max.kind.unit()).ok();
    let max = limits
        .dose_hard_max
        .value_in(limits.dose_hard_max.kind.unit())
        .ok();
    match (dose, max) {
        (Some(d), Some(m)) if d > m * (1.0 + EPS) => cx.finding(
            "dose.above_hard_max",
            Severity::HardStop,
            format!(
                "Dose {} {} is above the hard maximum of {} {} entered by {}. Do not give as ordered.",
                num(o.dose.value),
                o.dose.display_unit,
                num(limits.dose_hard_max.value),
                limits.dose_hard_max.display_unit,
                limits.entered_by
            ),
        ),
        (Some(_), Some(_)) => {}
        _ => cx.finding(
            "dose.unverifiable",
            Severity::HardStop,
            format!(
                "The dose {} {} cannot be compared with the entered maximum of {} {}: the units differ in kind.",
                num(o.dose.value),
                o.dose.display_unit,
                num(limits.dose_hard_max.value),
                limits.dose_hard_max.display_unit
            ),
        ),
    }
    if let Some(max) = limits.rate_hard_max {
        let rate = match (o.rate, o.volume, o.duration) {
            (Some(r), _, _) => Some(r.value()),
            (None, Some(v), Some(d)) => Some(v.value() / d.value()),
            _ => None,
        };
        match rate {
            Some(r) if r > max.value() * (1.0 + EPS) => cx.finding(
                "rate.above_hard_max",
                Severity::HardStop,
                format!(
                    "Rate {} mL/h is above the hard maximum of {} mL/h entered by {}.",
                    num(r),
                    num(max.value()),
                    limits.entered_by
                ),
            ),
            Some(_) => {}
            None => cx.finding(
                "rate.unverifiable",
                Severity::Warning,
                "The entered rate limit could not be checked: give order.rate, or order.volume and order.duration.".to_string(),
            ),
        }
    }
}

fn finish(cx: Ctx, medication: Option<Matched>) -> CheckResult {
    CheckResult {
        verdict: Verdict::of(&cx.findings),
        findings: cx.findings,
        steps: cx.steps,
        sources: cx.sources,
        medication,
    }
}

/// Body-surface area and weight plausibility.
fn patient_checks(cx: &mut Ctx) {
    let p = &cx.req.patient;
    let computed = match (p.weight, p.height) {
        (Some(w), Some(h)) => {
            let a = body::bsa(BsaMethod::Mosteller, w, h).value();
            cx.steps.push(
                Step::new(
                    "Body-surface area (Mosteller)",
                    BsaMethod::Mosteller.formula(),
                    Qty::new(a, "m2"),
                )
                .input("weight", w.qty())
                .input("height", h.qty()),
            );
            cx.source("mosteller-1987", "Mosteller RD. Simplified calculation of body-surface area. N Engl J Med 1987;317:1098");
            Some(a)
        }
        _ => None,
    };
    cx.bsa_m2 = match (p.bsa, computed) {
        (Some(given), Some(c)) => {
            if (given.value() - c).abs() / c > 0.05 {
                cx.finding(
                    "patient.bsa_given_differs",
                    Severity::Info,
                    format!("The given BSA {} m2 differs by more than 5% from Mosteller's {} m2; the given BSA was used.", num(given.value()), num(c)),
                );
            }
            Some(given.value())
        }
        (Some(given), None) => Some(given.value()),
        (None, c) => c,
    };
    let Some(w) = p.weight.map(|w| w.value()) else {
        return;
    };
    match p.age.map(|a| a.value()) {
        Some(age) if age < 18.0 => {
            let (low, high) = plausible_band_kg(age);
            if w < low || w > high {
                let age_text = if age < 2.0 {
                    format!("{} months", format_number(age * 12.0, 0))
                } else {
                    format!("{} years", format_number(age, 1))
                };
                cx.source("growth-references", GROWTH_SOURCE);
                cx.finding(
                    "patient.weight_implausible",
                    Severity::Warning,
                    format!("A weight of {} kg is implausible for a child of {age_text} (expected about {} to {} kg). Re-weigh the patient and check the unit (pounds entered as kilograms?) before any weight-based dose.", num(w), num(low), num(high)),
                );
            }
        }
        _ => {
            let implausible = match p.height {
                Some(h) => {
                    let bmi = body::bmi(crate::units::BodyWeight::new(w), h).value();
                    !(12.0..=70.0).contains(&bmi)
                }
                None => !(30.0..=300.0).contains(&w),
            };
            if implausible {
                cx.source("growth-references", GROWTH_SOURCE);
                cx.finding(
                    "patient.weight_implausible",
                    Severity::Warning,
                    format!("A weight of {} kg is implausible for an adult{}; verify the weight and its unit (pounds entered as kilograms?).", num(w), p.height.map(|h| format!(" of {} cm (BMI outside 12 to 70 kg/m2)", num(h.value()))).unwrap_or_default()),
                );
            }
        }
    }
}

/// Whether the order's `dose_per` lies within the rule's per-dose hard limits; `None` when
/// they cannot be compared (another basis, no per-dose limits).
fn dose_per_within(r: &DosingRule, dp: &DosePer) -> Option<bool> {
    let l = r.per_dose.as_ref()?;
    let unit = DosePer::parse(&format!("1 {}", r.dose_unit)).ok()?;
    if unit.basis != dp.basis || dp.per_time.is_some() {
        return None;
    }
    let v = Amount::parse(&format!("{} {}", dp.value, dp.amount_unit))
        .ok()?
        .value_in(&unit.amount_unit)
        .ok()?;
    Some(
        l.hard_min.is_none_or(|m| v >= m * (1.0 - EPS))
            && l.hard_max.is_none_or(|m| v <= m * (1.0 + EPS)),
    )
}

/// Whether a rule's own qualifiers (care area, age, weight, infusion number, route) admit the
/// order; a qualifier the order cannot resolve (no age) does not exclude the rule.
fn rule_fits(cx: &Ctx, r: &DosingRule) -> bool {
    let age = cx.req.patient.age.map(|a| a.value());
    let n = cx.req.order.infusion_number;
    let route = cx.req.order.route.as_ref();
    (r.care_areas.is_empty() || r.care_areas.contains(&cx.req.care_area))
        && (r.routes.is_empty() || route.is_none_or(|ro| r.routes.contains(ro)))
        && age
            .is_none_or(|a| r.age_min_y.is_none_or(|m| a >= m) && r.age_max_y.is_none_or(|m| a < m))
        && cx.weight_kg.is_none_or(|w| {
            r.weight_min_kg.is_none_or(|m| w >= m) && r.weight_max_kg.is_none_or(|m| w < m)
        })
        && match (r.infusion.as_deref(), n) {
            (None, _) | (_, None) => true,
            (Some("first"), Some(k)) => k == 1,
            (Some(_), Some(k)) => k > 1,
        }
}

/// Chooses the dosing rule. A named indication whose rule fits the patient is used as
/// named. Otherwise every rule consistent with the order (care area, age, weight, infusion
/// number, and the basis of dose_per) is tried through the rule-dependent stages, and the
/// one that alarms least is assumed, so a dose some applicable rule allows is never
/// hard-stopped; a warning says the indication is unstated and which rule was assumed.
fn select_rule<'e>(cx: &mut Ctx, entry: &'e DrugEntry) -> Option<&'e DosingRule> {
    let o = &cx.req.order;
    if let Some(r) = named_rule(cx, entry) {
        return Some(r);
    }
    let candidates = consistent_rules(cx, entry)?;
    if candidates.len() == 1 {
        return Some(candidates[0]);
    }
    let outcomes = try_rules(cx, entry, &candidates);
    let best = outcomes
        .iter()
        .min_by_key(|(sev, warnings, _)| (*sev, *warnings))
        .map(|(_, _, r)| *r)?;
    let summary = outcomes
        .iter()
        .map(|(sev, _, r)| format!("{} → {}", r.id, sev.as_str()))
        .collect::<Vec<_>>()
        .join("; ");
    cx.steps.push(Step::new(
        format!(
            "Dosing rule assumed: '{}' ({}), the least alarming of the rules consistent with the order ({summary})",
            best.id, best.indication
        ),
        "least severe outcome among consistent rules",
        Qty::new(candidates.len() as f64, "1"),
    ));
    if o.indication.is_none() {
        // The assumption matters most when another consistent rule would have stopped the
        // order: then it is a warning to confirm; otherwise an info (alarm fatigue).
        let decisive = outcomes
            .iter()
            .any(|(sev, _, _)| *sev == Severity::HardStop);
        cx.finding(
            "order.indication_unstated",
            if decisive { Severity::Warning } else { Severity::Info },
            format!(
                "The order names no indication; {} has {} rules consistent with it ({}). It was checked against '{}' ({}), the rule that allows it best. State the indication (order.indication: one of {}).",
                entry.generic_name,
                candidates.len(),
                summary,
                best.id,
                best.indication,
                candidates.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
            ),
        );
    }
    Some(best)
}

/// The rule named by order.indication when it fits the patient; otherwise a warning that
/// the indication is unknown or does not apply, and `None`.
fn named_rule<'e>(cx: &mut Ctx, entry: &'e DrugEntry) -> Option<&'e DosingRule> {
    let ind = cx.req.order.indication.as_ref()?;
    match entry.dosing.iter().find(|r| &r.id == ind) {
        Some(r) if rule_fits(cx, r) => {
            cx.steps.push(Step::new(
                format!("Dosing rule '{}' as named by order.indication ({})", r.id, r.indication),
                "order.indication",
                Qty::new(1.0, "1"),
            ));
            return Some(r);
        }
        Some(r) => cx.finding(
            "order.indication_not_applicable",
            Severity::Warning,
            format!(
                "The indication '{ind}' ({}) does not apply to this patient or infusion (care area, age, weight, infusion number or route); the order is checked against the rules that do.",
                r.indication
            ),
        ),
        None => cx.finding(
            "order.indication_unknown",
            Severity::Warning,
            format!(
                "'{ind}' is not an indication of {} (choose one of: {}); the order is checked against every rule consistent with it.",
                entry.generic_name,
                entry.dosing.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ),
    }
    None
}

/// The rules consistent with the order: they fit the patient, share the basis of dose_per
/// when any does, and allow dose_per itself when any does. `None` (with a warning) when no
/// rule fits.
fn consistent_rules<'e>(cx: &mut Ctx, entry: &'e DrugEntry) -> Option<Vec<&'e DosingRule>> {
    let o = &cx.req.order;
    let mut candidates: Vec<&DosingRule> =
        entry.dosing.iter().filter(|r| rule_fits(cx, r)).collect();
    if candidates.is_empty() {
        let age = cx.req.patient.age.map(|a| a.value());
        cx.finding(
            "order.rule_not_found",
            Severity::Warning,
            format!(
                "No dosing rule of {} matches{}{} in care area {}; dose limits were not checked. Rules: {}.",
                entry.generic_name,
                age.map(|a| format!(" age {} y", num(a))).unwrap_or_default(),
                cx.weight_kg.map(|w| format!(" weight {} kg", num(w))).unwrap_or_default(),
                cx.req.care_area,
                entry.dosing.iter().map(|r| r.id.as_str()).collect::<Vec<_>>().join(", ")
            ),
        );
        return None;
    }
    if let Some(wanted) = o.dose_per.as_ref().map(|d| d.basis) {
        let same_basis: Vec<&DosingRule> = candidates
            .iter()
            .copied()
            .filter(|r| {
                matches!(
                    (r.basis, wanted),
                    (Basis::PerKg, DoseBasis::PerKg)
                        | (Basis::PerM2, DoseBasis::PerM2)
                        | (Basis::Flat, DoseBasis::Flat)
                )
            })
            .collect();
        if !same_basis.is_empty() {
            candidates = same_basis;
        }
    }
    // The stated dose_per is the regimen the prescriber meant: a rule whose hard limits
    // exclude dose_per itself (gentamicin 7 mg/kg is not the traditional 1.7 mg/kg) is not
    // consistent with the order, so a slip in the dose cannot shelter under it.
    if let Some(dp) = &o.dose_per {
        let within: Vec<&DosingRule> = candidates
            .iter()
            .copied()
            .filter(|r| dose_per_within(r, dp).unwrap_or(true))
            .collect();
        if !within.is_empty() {
            candidates = within;
        }
    }
    Some(candidates)
}

/// Each candidate through the rule-dependent stages, then forget what it produced: the
/// worst severity and the number of warnings each would give.
fn try_rules<'e>(
    cx: &mut Ctx,
    entry: &DrugEntry,
    candidates: &[&'e DosingRule],
) -> Vec<(Severity, usize, &'e DosingRule)> {
    let mark = (cx.findings.len(), cx.steps.len(), cx.sources.len());
    let mut outcomes: Vec<(Severity, usize, &DosingRule)> = Vec::new();
    for r in candidates {
        cx.rule_id = Some(r.id.clone());
        rule_stage(cx, entry, Some(r));
        let new = &cx.findings[mark.0..];
        let worst = new
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Info);
        let warnings = new
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .count();
        outcomes.push((worst, warnings, *r));
        cx.findings.truncate(mark.0);
        cx.steps.truncate(mark.1);
        cx.sources.truncate(mark.2);
        cx.dosing_weight_kg = None;
        cx.crcl = None;
    }
    cx.rule_id = None;
    outcomes
}

/// Dose per basis, absolute, per day, cap, dose_per consistency and renal bands.
fn dose_checks(cx: &mut Ctx, entry: &DrugEntry, rule: &DosingRule) {
    let context = format!("{} ({})", entry.generic_name, rule.indication);
    let (amount_unit, basis_unit) = match rule.basis {
        Basis::PerAuc => ("mg".to_string(), "mg/mL.min".to_string()),
        _ => match DosePer::parse(&format!("1 {}", rule.dose_unit)) {
            Ok(d) => (d.amount_unit.clone(), rule.dose_unit.clone()),
            Err(_) => return,
        },
    };
    let o = &cx.req.order;
    let dose = match o.dose.value_in(&amount_unit) {
        Ok(v) => v,
        Err(_) => {
            cx.finding(
                "dose.unverifiable",
                Severity::Warning,
                format!("The dose {} {} cannot be compared with the library's limits in {amount_unit}; check the dose unit.", num(o.dose.value), o.dose.display_unit),
            );
            return;
        }
    };
    let per_basis = dose_per_basis(cx, rule, dose, &amount_unit, &basis_unit);
    basis_limit_checks(cx, entry, rule, &per_basis, &basis_unit, &context);
    absolute_and_cap_checks(cx, entry, rule, &context);
    per_kg_ceiling_check(cx, entry, rule, &context);
    if let Ok((v, _)) = &per_basis {
        window_checks(cx, entry, rule, *v, &basis_unit, &context);
    }
    dose_per_consistency(cx, entry, rule);
    renal_checks(cx, entry, rule, per_basis.ok().map(|(v, _)| v));
}

/// The ordered dose in the rule's basis (per kg of the dosing weight, per m2, or the target
/// AUC it implies) with the words that introduce it in a finding, or what the patient record
/// lacks to compute it.
fn dose_per_basis(
    cx: &mut Ctx,
    rule: &DosingRule,
    dose: f64,
    amount_unit: &str,
    basis_unit: &str,
) -> Result<(f64, String), String> {
    match rule.basis {
        Basis::Flat => Ok((dose, "Dose".to_string())),
        Basis::PerKg => dosing_weight(cx, rule).map(|(w, label)| {
            cx.dosing_weight_kg = Some(w);
            let v = dose / w;
            cx.steps.push(
                Step::new(
                    format!("Dose per kg of {label}"),
                    "dose / weight",
                    Qty::new(v, basis_unit),
                )
                .input("dose", Qty::new(dose, amount_unit))
                .input("weight", Qty::new(w, "kg")),
            );
            (
                v,
                format!(
                    "Dose {} {amount_unit} for {} kg ({label}) =",
                    num(dose),
                    num(w)
                ),
            )
        }),
        Basis::PerM2 => match cx.bsa_m2 {
            Some(b) => {
                let v = dose / b;
                cx.steps.push(
                    Step::new(
                        "Dose per m2 of body-surface area",
                        "dose / BSA",
                        Qty::new(v, basis_unit),
                    )
                    .input("dose", Qty::new(dose, amount_unit))
                    .input("bsa", Qty::new(b, "m2")),
                );
                Ok((
                    v,
                    format!("Dose {} {amount_unit} for BSA {} m2 =", num(dose), num(b)),
                ))
            }
            None => Err("patient.weight and patient.height (or patient.bsa)".to_string()),
        },
        Basis::PerAuc => {
            let crcl = cx.crcl()?;
            let gfr = crcl.min(oncology::CARBOPLATIN_GFR_CAP_ML_PER_MIN);
            let auc = dose / (gfr + 25.0);
            cx.source(CALVERT_SOURCE.0, CALVERT_SOURCE.1);
            cx.steps.push(
                Step::new(
                    "Target AUC implied by the dose (Calvert, GFR = CrCl capped at 125 mL/min)",
                    "AUC = dose / (GFR + 25)",
                    Qty::new(auc, "mg/mL.min"),
                )
                .input("dose", Qty::new(dose, "mg"))
                .input("gfr", Qty::new(gfr, "mL/min")),
            );
            Ok((
                auc,
                format!(
                    "Dose {} mg with GFR {} mL/min gives a target AUC of",
                    num(dose),
                    num(gfr)
                ),
            ))
        }
    }
}

/// The rule's per-dose and per-day limits against the dose per basis; when that could not be
/// computed, a warning naming what is missing.
fn basis_limit_checks(
    cx: &mut Ctx,
    entry: &DrugEntry,
    rule: &DosingRule,
    per_basis: &Result<(f64, String), String>,
    basis_unit: &str,
    context: &str,
) {
    let o = &cx.req.order;
    match per_basis {
        Ok((v, what)) => {
            if let Some(l) = &rule.per_dose {
                cx.eval("dose", what, *v, basis_unit, l, context);
            }
            if let Some(l) = &rule.per_day {
                match o.frequency {
                    Some(f) => {
                        let daily = v * f.doses_per_day();
                        cx.steps.push(
                            Step::new("Daily dose", "dose per basis × doses per 24 h", Qty::new(daily, &format!("{basis_unit}/day")))
                                .input("doses_per_day", Qty::new(f.doses_per_day(), "1/day")),
                        );
                        cx.eval("dose.daily", &format!("Daily dose ({} doses in 24 h)", num(f.doses_per_day())), daily, &format!("{basis_unit}/day"), l, context);
                    }
                    None => cx.finding(
                        "order.frequency_missing",
                        Severity::Warning,
                        format!("The daily limit for {} could not be checked because order.frequency is missing.", entry.generic_name),
                    ),
                }
            }
        }
        Err(missing) => {
            if rule.per_dose.is_some() || rule.per_day.is_some() {
                cx.finding(
                    "dose.unverifiable",
                    Severity::Warning,
                    format!(
                        "The {} limit for {} could not be checked: {}{}.",
                        basis_unit,
                        entry.generic_name,
                        if missing.contains("needs") || missing.contains("validated") {
                            ""
                        } else {
                            "it needs "
                        },
                        missing
                    ),
                );
            }
        }
    }
}

/// Absolute limits (in an amount unit) and the rule's cap.
fn absolute_and_cap_checks(cx: &mut Ctx, entry: &DrugEntry, rule: &DosingRule, context: &str) {
    let o = &cx.req.order;
    if let Some(l) = &rule.per_dose_absolute
        && let Some(unit) = &l.unit
        && let Ok(abs) = o.dose.value_in(unit)
    {
        cx.eval("dose.absolute", "Dose", abs, unit, l, context);
    }
    if let Some(cap) = &rule.cap
        && let Ok(abs) = o.dose.value_in(&cap.unit)
        && abs > cap.value * (1.0 + EPS)
    {
        cx.finding(
            "dose.above_cap",
            Severity::HardStop,
            format!("Dose {} {} is above the cap of {} {} for {}. Do not give as ordered; contact the prescriber. [source: {}]", num(abs), cap.unit, num(cap.value), cap.unit, entry.generic_name, cap.source),
        );
    }
}

/// A flat dose's ceiling per kg (ferric carboxymaltose: 15 mg/kg up to 750 mg under 50 kg).
fn per_kg_ceiling_check(cx: &mut Ctx, entry: &DrugEntry, rule: &DosingRule, context: &str) {
    let o = &cx.req.order;
    if let Some(l) = &rule.per_kg
        && let Some(unit) = &l.unit
        && let Ok(d) = DosePer::parse(&format!("1 {unit}"))
        && let Ok(amount) = o.dose.value_in(&d.amount_unit)
    {
        match cx.weight_kg {
            Some(w) => {
                let v = amount / w;
                cx.steps.push(
                    Step::new(
                        "Flat dose per kg of actual body weight",
                        "dose / weight",
                        Qty::new(v, unit),
                    )
                    .input("dose", Qty::new(amount, &d.amount_unit))
                    .input("weight", Qty::new(w, "kg")),
                );
                cx.eval(
                    "dose.per_kg",
                    &format!("Dose {} {} for {} kg =", num(amount), d.amount_unit, num(w)),
                    v,
                    unit,
                    l,
                    context,
                );
            }
            None => cx.finding(
                "dose.unverifiable",
                Severity::Warning,
                format!(
                    "The {unit} ceiling of {} could not be checked: it needs patient.weight.",
                    entry.generic_name
                ),
            ),
        }
    }
}

/// dose_per consistency: the dose should equal dose_per × the patient's measure.
fn dose_per_consistency(cx: &mut Ctx, entry: &DrugEntry, rule: &DosingRule) {
    let o = &cx.req.order;
    let Some(dp) = &o.dose_per else {
        return;
    };
    if dp.per_time.is_some() {
        return;
    }
    let rule_basis = match rule.basis {
        Basis::PerKg => Some(DoseBasis::PerKg),
        Basis::PerM2 => Some(DoseBasis::PerM2),
        Basis::Flat => Some(DoseBasis::Flat),
        Basis::PerAuc => None,
    };
    if rule_basis.is_some_and(|b| b != dp.basis) {
        cx.finding(
            "order.basis_differs",
            Severity::Info,
            format!(
                "dose_per is {} {}, but the library doses {} as {}.",
                num(dp.value),
                dp.unit(),
                entry.generic_name,
                rule.dose_unit
            ),
        );
    }
    let measure = match dp.basis {
        DoseBasis::Flat => Some(1.0),
        DoseBasis::PerKg => cx.dosing_weight_kg.or(cx.weight_kg),
        DoseBasis::PerM2 => cx.bsa_m2,
    };
    let (Some(m), Ok(given)) = (measure, o.dose.value_in(&dp.amount_unit)) else {
        return;
    };
    // A capped drug (vincristine 2 mg) is correctly ordered at the cap.
    let cap = rule
        .cap
        .as_ref()
        .and_then(|c| Amount::parse(&format!("{} {}", c.value, c.unit)).ok())
        .and_then(|c| c.value_in(&dp.amount_unit).ok());
    let expected = cap.map_or(dp.value * m, |c| (dp.value * m).min(c));
    cx.steps.push(
        Step::new(
            "Dose expected from dose_per",
            "dose_per × measure",
            Qty::new(expected, &dp.amount_unit),
        )
        .input("dose_per", dp.qty())
        .input(
            "measure",
            Qty::new(
                m,
                match dp.basis {
                    DoseBasis::Flat => "1",
                    DoseBasis::PerKg => "kg",
                    DoseBasis::PerM2 => "m2",
                },
            ),
        ),
    );
    if expected > 0.0 && (given - expected).abs() / expected > DOSE_MISMATCH_FRACTION {
        cx.finding(
            "order.dose_mismatch",
            Severity::Warning,
            format!("The dose {} {} does not match dose_per {} {} × the patient's measure ({} {}); a dose calculated for another weight or a typing slip? Recalculate.", num(given), dp.amount_unit, num(dp.value), dp.unit(), num(expected), dp.amount_unit),
        );
    }
}

/// Rolling-window ceilings: the doses of this drug in the window (history within the window
/// before `at`, plus this order's repeats within the window by its frequency) against the
/// rule's window limits, all per the rule's basis.
fn window_checks(
    cx: &mut Ctx,
    entry: &DrugEntry,
    rule: &DosingRule,
    this_dose: f64,
    basis_unit: &str,
    context: &str,
) {
    if rule.windows.is_empty() {
        return;
    }
    let o = &cx.req.order;
    let Some(freq) = o.frequency else {
        if !cx
            .findings
            .iter()
            .any(|f| f.code == "order.frequency_missing")
        {
            cx.finding(
                "order.frequency_missing",
                Severity::Warning,
                format!("The per-cycle ceiling of {} could not be checked because order.frequency is missing.", entry.generic_name),
            );
        }
        return;
    };
    for w in &rule.windows {
        let window_h = w.days * 24.0;
        // Repeats of this order that fall inside one window starting with this dose.
        let by_frequency = match freq {
            Frequency::Once => 1.0,
            Frequency::EveryHours(h) => (window_h / h - EPS).ceil().max(1.0),
        };
        let (repeats, why) = match (o.doses, rule.course_doses) {
            (Some(n), _) => (by_frequency.min(f64::from(n)), "order.doses"),
            (None, Some(n)) if matches!(freq, Frequency::EveryHours(_)) => {
                (by_frequency.min(f64::from(n)), "the regimen's course_doses")
            }
            _ => (by_frequency, "the frequency"),
        };
        let (history, undated) = window_history(cx, entry, rule, window_h);
        if undated > 0 {
            cx.finding(
                "dose.window.history_undated",
                Severity::Info,
                format!("{undated} earlier dose(s) of {} have no time (or the check has no `at`) and were not counted in the {}-day ceiling.", entry.generic_name, num(w.days)),
            );
        }
        let total = history + this_dose * repeats;
        let label = w
            .label
            .clone()
            .unwrap_or_else(|| format!("per {} days", num(w.days)));
        cx.steps.push(
            Step::new(
                format!("Dose {label} (history within the window + this order × its repeats in the window, by {why})"),
                "Σ earlier doses in the window + dose × repeats",
                Qty::new(total, basis_unit),
            )
            .input("history_in_window", Qty::new(history, basis_unit))
            .input("this_dose", Qty::new(this_dose, basis_unit))
            .input("repeats_in_window", Qty::new(repeats, "1")),
        );
        cx.eval(
            "dose.window",
            &format!(
                "Total {label} ({} dose(s) of this order in {} days)",
                num(repeats),
                num(w.days)
            ),
            total,
            basis_unit,
            &w.limits,
            &format!("{context}; window source {}", w.source),
        );
    }
}

/// Earlier doses of this drug within `window_h` hours before `at`, per the rule's basis,
/// and how many earlier doses could not be placed in time.
fn window_history(cx: &Ctx, entry: &DrugEntry, rule: &DosingRule, window_h: f64) -> (f64, usize) {
    let mut history = 0.0;
    let mut undated = 0;
    for h in &cx.req.patient.history {
        if h.medication != entry.id && !entry.generic_name.eq_ignore_ascii_case(&h.medication) {
            continue;
        }
        let (Some(at), Some(now)) = (h.at_h, cx.req.at_h) else {
            undated += 1;
            continue;
        };
        if at > now || now - at >= window_h {
            continue;
        }
        let Some(amount) = h.dose.as_ref().and_then(|d| {
            let unit = DosePer::parse(&format!("1 {}", rule.dose_unit))
                .map(|p| p.amount_unit)
                .unwrap_or_else(|_| "mg".to_string());
            d.value_in(&unit).ok()
        }) else {
            continue;
        };
        let measure = match rule.basis {
            Basis::Flat => Some(1.0),
            Basis::PerM2 => h.bsa.map(|b| b.value()).or(cx.bsa_m2),
            Basis::PerKg => h.weight.map(|w| w.value()).or(cx.dosing_weight_kg),
            Basis::PerAuc => None,
        };
        if let Some(m) = measure {
            history += amount / m;
        }
    }
    (history, undated)
}

/// The weight a per-kg rule uses: actual (default), ideal (the lower of IBW and actual) or
/// adjusted (IBW + 0.4 × (actual − IBW) when actual > IBW).
fn dosing_weight(cx: &mut Ctx, rule: &DosingRule) -> Result<(f64, &'static str), String> {
    let p = &cx.req.patient;
    let Some(w) = p.weight else {
        return Err("patient.weight".to_string());
    };
    let basis = rule.weight_basis.as_deref().unwrap_or("actual");
    if basis == "actual" {
        return Ok((w.value(), "actual body weight"));
    }
    let (Some(h), Some(sex)) = (p.height, p.sex) else {
        return Err(format!(
            "patient.height and patient.sex (the rule doses on {basis} body weight)"
        ));
    };
    let ibw = body::ideal_body_weight(sex, h);
    // Devine is an adult formula from 60 inches (152.4 cm): below it, for a child, it is not
    // defined, and for a neonate it is negative, which once turned 2.5 mg/kg into -0.3 mg/kg.
    let short_child = p.age.is_some_and(|a| a.value() < 18.0) && h.value() < 152.4;
    if short_child || ibw.value() <= 0.0 {
        cx.steps.push(
            Step::new(
                "Dosing weight",
                format!(
                    "the rule doses on {basis} body weight, but the Devine ideal weight is an adult formula from 152.4 cm (60 in), not defined for a shorter child and not positive below about 100 cm: the actual weight is used"
                ),
                w.qty(),
            )
            .input("weight", w.qty()),
        );
        return Ok((w.value(), "actual body weight (Devine not applicable)"));
    }
    cx.source(
        "devine-1974",
        "Devine BJ. Gentamicin therapy. Drug Intell Clin Pharm 1974;8:650 (ideal body weight)",
    );
    cx.steps.push(
        Step::new(
            "Ideal body weight (Devine)",
            "IBW = 50 (men) or 45.5 (women) + 2.3 × (height_in − 60)",
            ibw.qty(),
        )
        .input("height", h.qty()),
    );
    if w.value() <= ibw.value() {
        return Ok((w.value(), "actual body weight (at or below ideal)"));
    }
    if basis == "ideal" {
        Ok((ibw.value(), "ideal body weight"))
    } else {
        let adj = body::adjusted_body_weight(ibw, w);
        cx.steps.push(Step::new(
            "Adjusted body weight",
            "IBW + 0.4 × (actual − IBW)",
            adj.qty(),
        ));
        Ok((adj.value(), "adjusted body weight"))
    }
}

fn renal_checks(cx: &mut Ctx, entry: &DrugEntry, rule: &DosingRule, per_basis: Option<f64>) {
    if rule.renal.is_empty() {
        return;
    }
    let crcl = match cx.crcl() {
        Ok(c) => c,
        Err(why) => {
            cx.finding(
                "renal.crcl_unavailable",
                Severity::Warning,
                format!("{} has renal dose adjustments, but {why}; the renal adjustment could not be checked.", entry.generic_name),
            );
            return;
        }
    };
    for band in &rule.renal {
        let inside = band.crcl_min_ml_per_min.is_none_or(|m| crcl >= m)
            && band.crcl_max_ml_per_min.is_none_or(|m| crcl < m);
        if !inside {
            continue;
        }
        let range = match (band.crcl_min_ml_per_min, band.crcl_max_ml_per_min) {
            (Some(a), Some(b)) => format!("{}–{} mL/min", num(a), num(b)),
            (Some(a), None) => format!("≥ {} mL/min", num(a)),
            (None, Some(b)) => format!("< {} mL/min", num(b)),
            (None, None) => String::new(),
        };
        let head = format!(
            "CrCl {} mL/min (band {range}) for {}: {}",
            num(crcl),
            entry.generic_name,
            band.message
        );
        let mut constrained = false;
        let mut violated = Vec::new();
        if let Some(min_int) = band.min_interval_h {
            constrained = true;
            match cx.req.order.frequency {
                None => cx.finding(
                    "order.frequency_missing",
                    Severity::Warning,
                    format!("{head} — the dosing interval could not be checked because order.frequency is missing."),
                ),
                Some(Frequency::Once) => {}
                Some(Frequency::EveryHours(h)) => {
                    if h < min_int * (1.0 - EPS) {
                        violated.push(format!("the order is every {} h, the band needs at least every {} h", num(h), num(min_int)));
                    }
                }
            }
        }
        if let (Some(frac), Some(usual), Some(v)) = (band.max_dose_fraction, rule.usual, per_basis)
        {
            constrained = true;
            // The same ±10% rounding allowance as the dose limits.
            let max = usual * frac * 1.10;
            if v > max * (1.0 + EPS) {
                violated.push(format!(
                    "the dose is {} {}, the band allows at most {}% of {} {}",
                    num(v),
                    rule.dose_unit,
                    num(frac * 100.0),
                    num(usual),
                    rule.dose_unit
                ));
            }
        }
        if constrained {
            if !violated.is_empty() {
                cx.finding(
                    "renal.adjustment_required",
                    band.severity.severity(),
                    format!(
                        "{head} — {}. [source: {}]",
                        violated.join("; "),
                        band.source
                    ),
                );
            }
        } else {
            cx.finding(
                "renal.band_note",
                band.severity.severity(),
                format!("{head} [source: {}]", band.source),
            );
        }
    }
}

fn route_and_line(cx: &mut Ctx, entry: &DrugEntry) {
    let o = &cx.req.order;
    match &o.route {
        None => cx.finding(
            "order.route_missing",
            Severity::Info,
            format!(
                "No route given; {} may be given by: {}.",
                entry.generic_name,
                entry.routes.join(", ")
            ),
        ),
        Some(r) if !entry.routes.contains(r) => {
            if let Some(c) = entry.conditional_routes.iter().find(|c| &c.route == r) {
                if let Some(p) = &o.product
                    && !c.products.is_empty()
                    && !c.products.contains(p)
                {
                    cx.finding(
                        "route.not_allowed",
                        Severity::HardStop,
                        format!(
                            "Route '{r}' is allowed for {} only with {}; the product '{p}' is not given by this route. Do not give. [source: {}]",
                            entry.generic_name,
                            c.products.join(", "),
                            c.source
                        ),
                    );
                    return line_check(cx, entry);
                }
                cx.finding(
                    "route.conditional",
                    c.severity.severity(),
                    format!(
                        "Route '{r}' is allowed for {} only under conditions: {} [source: {}]",
                        entry.generic_name, c.conditions, c.source
                    ),
                );
                return line_check(cx, entry);
            }
            let sev = entry.other_routes.severity();
            let extra = if sev == Severity::HardStop {
                " Giving it by any other route can be fatal. Do not give."
            } else {
                ""
            };
            cx.finding(
                "route.not_allowed",
                sev,
                format!(
                    "Route '{r}' is not allowed for {}: only {}.{extra}",
                    entry.generic_name,
                    entry.routes.join(", ")
                ),
            );
        }
        _ => {}
    }
    line_check(cx, entry);
}

fn line_check(cx: &mut Ctx, entry: &DrugEntry) {
    let o = &cx.req.order;
    if let Some(line) = &o.line
        && !entry.administration.lines.is_empty()
        && !entry.administration.lines.contains(line)
    {
        cx.finding(
            "line.not_allowed",
            Severity::Warning,
            format!(
                "{} should run on a {} line, not a {line} line.",
                entry.generic_name,
                entry.administration.lines.join(" or ")
            ),
        );
    }
}

/// What the administration stages derive once from the order: the dose in the canonical
/// unit of its kind, the volume in mL and the final concentration per mL.
#[derive(Clone, Copy)]
struct Infusion {
    kind: AmountKind,
    dose_canonical: Option<f64>,
    volume: Option<f64>,
    conc_per_ml: Option<f64>,
}

fn administration_checks(cx: &mut Ctx, entry: &DrugEntry, rule: Option<&DosingRule>) {
    let o = &cx.req.order;
    let kind = o.dose.kind;
    let dose_canonical = o.dose.value_in(kind.unit()).ok();
    let volume = o.volume.map(|v| v.value());
    let conc_per_ml = match (dose_canonical, volume) {
        (Some(d), Some(v)) if kind != AmountKind::Volume => Some(d / v),
        _ => None,
    };
    let inf = Infusion {
        kind,
        dose_canonical,
        volume,
        conc_per_ml,
    };
    concentration_checks(cx, entry, inf);
    let schedules = titration_schedules(cx, entry, rule);
    let (stated, effective) = duration_checks(cx, entry, inf, schedules.is_empty());
    dose_rate_checks(cx, entry, inf, stated, effective, schedules.is_empty());
    if !schedules.is_empty() {
        titration_checks(cx, entry, &schedules, conc_per_ml, dose_canonical, volume);
    }
    per_site_checks(cx, entry, volume);
    preceding_step_check(cx, entry);
}

/// Subcutaneous infusions split over sites: the order's rate and volume divided by
/// `order.sites` against the per-site limits (mL/h per site, mL per site). Without
/// `order.sites` one site is assumed, the strictest reading, and an `info` says so.
fn per_site_checks(cx: &mut Ctx, entry: &DrugEntry, volume: Option<f64>) {
    let adm = &entry.administration;
    if adm.per_site_rate.is_empty() && adm.per_site_volume.is_empty() {
        return;
    }
    let name = &entry.generic_name;
    let sites = match cx.req.order.sites {
        Some(n) => n,
        None => {
            cx.finding(
                "order.sites_assumed",
                Severity::Info,
                format!("{name} has per-site limits but order.sites is not given: one infusion site is assumed (the whole rate and volume at one site)."),
            );
            1
        }
    };
    let product = cx
        .req
        .order
        .product
        .as_ref()
        .and_then(|id| entry.products.iter().find(|p| &p.id == id));
    if let Some(p) = product
        && let Some(max) = p.max_sites
        && sites > max
    {
        let citation = entry.citation(&p.source).unwrap_or(&p.source).to_string();
        cx.finding(
            "order.sites_above_label",
            Severity::Warning,
            format!("{sites} infusion sites at once is more than the {max} the {} label allows; an override reason is required. [{citation}]", p.name),
        );
    }
    let n = f64::from(sites);
    let rate = cx.req.order.rate.map(|r| r.value());
    let rate_blocks = cx.select(&adm.per_site_rate, "per-site rate");
    for b in rate_blocks {
        match rate {
            Some(r) => {
                let v = r / n;
                cx.steps.push(
                    Step::new("Rate per site", "rate / sites", Qty::new(v, "mL/h"))
                        .input("rate", Qty::new(r, "mL/h"))
                        .input("sites", Qty::new(n, "1")),
                );
                cx.eval("rate", "Rate per site", v, "mL/h", b, &format!("{name} per infusion site"));
            }
            None => cx.finding(
                "rate.unverifiable",
                Severity::Warning,
                format!("The per-site rate limit for {name} could not be checked: order.rate is missing."),
            ),
        }
    }
    let volume_blocks = cx.select(&adm.per_site_volume, "per-site volume");
    for b in volume_blocks {
        match volume {
            Some(v) => {
                let per = v / n;
                cx.steps.push(
                    Step::new("Volume per site", "volume / sites", Qty::new(per, "mL"))
                        .input("volume", Qty::new(v, "mL"))
                        .input("sites", Qty::new(n, "1")),
                );
                cx.eval("site_volume", "Volume per site", per, "mL", b, &format!("{name} per infusion site"));
            }
            None => cx.finding(
                "site_volume.unverifiable",
                Severity::Warning,
                format!("The per-site volume limit for {name} could not be checked: order.volume is missing."),
            ),
        }
    }
}

/// A product whose label requires a step before the infusion (HyQvia: the hyaluronidase
/// first, through the same needle set): an order that does not list the step in
/// `order.preceded_by` is a hard stop.
fn preceding_step_check(cx: &mut Ctx, entry: &DrugEntry) {
    let Some(product) = cx.req.order.product.as_ref() else {
        return;
    };
    let Some(step) = entry
        .products
        .iter()
        .find(|p| &p.id == product)
        .and_then(|p| p.preceded_by.as_ref())
    else {
        return;
    };
    if cx.req.order.preceded_by.iter().any(|s| s == &step.id) {
        return;
    }
    let citation = entry
        .citation(&step.source)
        .unwrap_or(&step.source)
        .to_string();
    cx.finding(
        "administration.preceding_step_missing",
        Severity::HardStop,
        format!(
            "{} ({product}) must be preceded by '{}', which order.preceded_by does not list: {} [{citation}]",
            entry.generic_name, step.id, step.text
        ),
    );
}

/// The final concentration against the concentration limits of the dose's kind.
fn concentration_checks(cx: &mut Ctx, entry: &DrugEntry, inf: Infusion) {
    let o = &cx.req.order;
    let name = &entry.generic_name;
    let blocks = cx.select(&entry.administration.concentration, "concentration");
    for b in blocks {
        let Some(unit) = &b.unit else { continue };
        let Ok(c1) = Concentration::parse(&format!("1 {unit}")) else {
            continue;
        };
        if c1.amount_kind != inf.kind {
            continue;
        }
        match inf.conc_per_ml {
            Some(c) => {
                let v = c / c1.per_ml;
                cx.steps.push(
                    Step::new("Final concentration", "dose / volume", Qty::new(v, unit))
                        .input("dose", o.dose.qty())
                        .input("volume", Qty::new(inf.volume.unwrap_or(0.0), "mL")),
                );
                let ctx = format!("{name}{}", b.line.as_ref().map(|l| format!(" on a {l} line")).unwrap_or_default());
                cx.eval("concentration", "Concentration", v, unit, b, &ctx);
            }
            None => cx.finding(
                "concentration.unverifiable",
                Severity::Warning,
                format!("The concentration limit for {name} could not be checked: order.volume is missing."),
            ),
        }
    }
}

/// The titration schedules for this infusion (product, rule and infusion number); a warning
/// when the schedules differ by infusion number and the order does not give it.
fn titration_schedules<'e>(
    cx: &mut Ctx,
    entry: &'e DrugEntry,
    rule: Option<&DosingRule>,
) -> Vec<&'e Titration> {
    let o = &cx.req.order;
    let n = o.infusion_number;
    let schedules: Vec<&Titration> = entry
        .titration
        .iter()
        .filter(|t| {
            (t.products.is_empty() || o.product.as_ref().is_some_and(|p| t.products.contains(p)))
                && (t.rules.is_empty() || rule.is_some_and(|r| t.rules.contains(&r.id)))
                && match (t.infusion.as_deref(), n) {
                    (None, _) => true,
                    (Some(_), None) => false,
                    (Some("first"), Some(k)) => k == 1,
                    (Some(_), Some(k)) => k > 1,
                }
        })
        .collect();
    let needs_number = entry.titration.iter().any(|t| t.infusion.is_some()) && n.is_none();
    if needs_number
        && !cx
            .findings
            .iter()
            .any(|f| f.code == "order.infusion_number_missing")
    {
        cx.finding(
            "order.infusion_number_missing",
            Severity::Warning,
            format!("{} has different start rates for the first and later infusions, but order.infusion_number is not given; the start rate could not be checked.", entry.generic_name),
        );
    }
    schedules
}

/// Duration: the stated one and the one the pump will give (volume ÷ rate), against the
/// duration limits. Returns the stated duration and the effective one (h).
fn duration_checks(
    cx: &mut Ctx,
    entry: &DrugEntry,
    inf: Infusion,
    untitrated: bool,
) -> (Option<f64>, Option<f64>) {
    let o = &cx.req.order;
    let name = &entry.generic_name;
    let volume = inf.volume;
    let stated = o.duration.map(|d| d.value());
    let programmed = match (volume, o.rate) {
        (Some(v), Some(r)) => Some(v / r.value()),
        _ => None,
    };
    if let (Some(s), Some(p)) = (stated, programmed)
        && untitrated
        && (s - p).abs() / s > RATE_CONSISTENCY_FRACTION
    {
        cx.finding(
            "order.rate_inconsistent",
            Severity::Warning,
            format!("{} mL at {} mL/h runs over {} h, but the order says {} h. Check the rate and the duration.", num(volume.unwrap_or(0.0)), num(o.rate.map(|r| r.value()).unwrap_or(0.0)), num(p), num(s)),
        );
    }
    let effective = match (stated, programmed) {
        (Some(s), Some(p)) if untitrated => Some(s.min(p)),
        (Some(s), _) => Some(s),
        (None, p) if untitrated => p,
        _ => None,
    };
    let blocks = cx.select(&entry.administration.duration, "duration");
    for b in blocks {
        let Some(unit) = &b.unit else { continue };
        if let Some(h) = effective {
            let v = if unit == "min" { h * 60.0 } else { h };
            cx.steps.push(Step::new(
                "Infusion duration",
                "stated duration, or volume / rate if shorter",
                Qty::new(v, unit),
            ));
            cx.eval("duration", "Infusion time", v, unit, b, name);
        } else if b.hard_min.is_some() || b.soft_min.is_some() {
            cx.finding(
                "rate.unverifiable",
                Severity::Warning,
                format!("The minimum infusion time for {name} could not be checked: give order.duration, or order.volume and order.rate."),
            );
        }
    }
    (stated, effective)
}

/// Dose rate (for titrated drugs this is the starting rate) against the rate limits.
fn dose_rate_checks(
    cx: &mut Ctx,
    entry: &DrugEntry,
    inf: Infusion,
    stated: Option<f64>,
    effective: Option<f64>,
    untitrated: bool,
) {
    let o = &cx.req.order;
    let name = &entry.generic_name;
    let Infusion {
        kind,
        dose_canonical,
        volume,
        conc_per_ml,
    } = inf;
    let amount_per_h = match (o.rate, conc_per_ml, dose_canonical) {
        (Some(r), _, _) if kind == AmountKind::Volume => Some(r.value()),
        (Some(r), Some(c), _) => Some(r.value() * c),
        (_, _, Some(_)) if !untitrated => None,
        (_, _, Some(d)) => effective.map(|h| d / h),
        _ => None,
    };
    // A titrated infusion's programmed start rate may be low, but the whole dose still has to
    // run within the stated duration: the average (dose ÷ duration) can never exceed a
    // maximum rate either (rituximab 375 mg/m2 over 90 minutes at a first infusion).
    let amount_per_h = match (amount_per_h, dose_canonical, stated) {
        (a, Some(d), Some(h)) if !untitrated && kind != AmountKind::Volume => {
            Some(a.map_or(d / h, |a| a.max(d / h)))
        }
        (a, _, _) => a,
    };
    let volume_per_h = match (o.rate, volume, effective) {
        (Some(r), _, _) => Some(r.value()),
        (None, Some(v), Some(h)) => Some(v / h),
        _ => None,
    };
    let blocks = cx.select(&entry.administration.dose_rate, "rate");
    for b in blocks {
        let Some(unit) = &b.unit else { continue };
        let volume_unit =
            DosePer::parse(&format!("1 {unit}")).is_ok_and(|d| d.amount_kind == AmountKind::Volume);
        let (rate_amount, rate_kind) = if volume_unit {
            (volume_per_h, AmountKind::Volume)
        } else {
            (amount_per_h, kind)
        };
        match rate_amount {
            Some(a) => match per_hour_in(a, rate_kind, unit, cx.weight_kg, cx.bsa_m2) {
                Ok(Some(v)) => {
                    cx.steps.push(Step::new("Dose rate", "rate × concentration (or dose / duration)", Qty::new(v, unit)));
                    let ctx = format!("{name}{}", b.line.as_ref().map(|l| format!(" on a {l} line")).unwrap_or_default());
                    cx.eval("rate", "Rate", v, unit, b, &ctx);
                }
                Ok(None) => {}
                Err(missing) => cx.finding(
                    "rate.unverifiable",
                    Severity::Warning,
                    format!("The {unit} rate limit for {name} could not be checked: it needs {missing}."),
                ),
            },
            None => cx.finding(
                "rate.unverifiable",
                Severity::Warning,
                format!("The {unit} rate limit for {name} could not be checked: give order.rate with order.volume, or order.duration."),
            ),
        }
    }
}

fn titration_checks(
    cx: &mut Ctx,
    entry: &DrugEntry,
    schedules: &[&Titration],
    conc_per_ml: Option<f64>,
    dose_canonical: Option<f64>,
    volume: Option<f64>,
) {
    start_rate_check(cx, entry, schedules, conc_per_ml, dose_canonical);
    // Duration: at least the time the fastest applicable schedule needs.
    let Some(duration) = cx.req.order.duration.map(|d| d.value()) else {
        return;
    };
    if let Some((hours, t)) = fastest_schedule(cx, schedules, dose_canonical, volume) {
        cx.steps.push(Step::new(
            format!(
                "Shortest infusion time by the label's escalation ({})",
                t.id
            ),
            "simulate start rate + increments to the maximum",
            Qty::new(hours, "h"),
        ));
        if duration < hours * 0.95 {
            cx.finding(
                "titration.duration_shorter_than_schedule",
                Severity::Warning,
                format!("An infusion time of {} h is shorter than the {} h that {}'s escalation schedule ({}) needs for this dose. [source: {}]", num(duration), num(hours), entry.generic_name, t.description, t.source),
            );
        }
    }
}

/// Start rate: conforms when it does not exceed the start rate of at least one schedule.
fn start_rate_check(
    cx: &mut Ctx,
    entry: &DrugEntry,
    schedules: &[&Titration],
    conc_per_ml: Option<f64>,
    dose_canonical: Option<f64>,
) {
    let o = &cx.req.order;
    let kind = o.dose.kind;
    let Some(rate) = o.rate else {
        cx.finding(
            "rate.unverifiable",
            Severity::Warning,
            format!("{} has a labelled starting rate, but order.rate is not given; the starting rate could not be checked.", entry.generic_name),
        );
        return;
    };
    let mut best: Option<(f64, f64, &Titration)> = None;
    for t in schedules {
        let Ok(d) = DosePer::parse(&format!("1 {}", t.unit)) else {
            continue;
        };
        let (amount_per_h, k) = if d.amount_kind == AmountKind::Volume {
            (Some(rate.value()), AmountKind::Volume)
        } else {
            (conc_per_ml.map(|c| rate.value() * c), kind)
        };
        let Some(a) = amount_per_h else { continue };
        // A step table of dose fractions starts at its first fraction over its minutes.
        let start = match (t.steps.first(), dose_canonical) {
            (Some(step), Some(dose)) if k == kind => match (step.dose_fraction, step.minutes) {
                (Some(f), Some(m)) => {
                    per_hour_in(f * dose / (m / 60.0), k, &t.unit, cx.weight_kg, cx.bsa_m2)
                        .ok()
                        .flatten()
                        .unwrap_or(t.start_rate)
                }
                _ => t.start_rate,
            },
            _ => t.start_rate,
        };
        if let Ok(Some(v)) = per_hour_in(a, k, &t.unit, cx.weight_kg, cx.bsa_m2)
            && best.is_none_or(|(bv, bs, _)| v / start < bv / bs)
        {
            best = Some((v, start, t));
        }
    }
    if let Some((v, start, t)) = best {
        cx.steps.push(Step::new(
            format!("Starting rate in the schedule's unit ({})", t.id),
            "rate × concentration / measure",
            Qty::new(v, &t.unit),
        ));
        if v > start * (1.0 + START_RATE_ALLOWANCE) {
            cx.finding(
                "titration.start_rate_above_schedule",
                Severity::Warning,
                format!("Starting rate {} {} is above the label's start rate of {} {} for {} ({}). Start at {} {} and increase by {} {} every {} min to at most {} {}. [source: {}]", num(v), t.unit, num(start), t.unit, entry.generic_name, t.description, num(start), t.unit, num(t.increment), t.unit, num(t.interval_min), num(t.max_rate), t.unit, t.source),
            );
        }
    } else {
        cx.finding(
            "rate.unverifiable",
            Severity::Warning,
            format!("The starting rate for {} could not be checked: it needs order.volume (for the concentration) and patient.weight for per-kg schedules.", entry.generic_name),
        );
    }
}

/// The applicable schedule that gives this dose (or volume) in the shortest time, with
/// that time in hours.
fn fastest_schedule<'t>(
    cx: &Ctx,
    schedules: &[&'t Titration],
    dose_canonical: Option<f64>,
    volume: Option<f64>,
) -> Option<(f64, &'t Titration)> {
    let kind = cx.req.order.dose.kind;
    let mut fastest: Option<(f64, &Titration)> = None;
    for t in schedules {
        let Ok(d) = DosePer::parse(&format!("1 {}", t.unit)) else {
            continue;
        };
        let (total, k) = if d.amount_kind == AmountKind::Volume {
            (volume, AmountKind::Volume)
        } else {
            (dose_canonical, kind)
        };
        let Some(total) = total else { continue };
        // A step table of dose fractions takes the sum of its minutes, whatever the dose.
        let hours = if !t.steps.is_empty()
            && t.steps
                .iter()
                .all(|s| s.dose_fraction.is_some() && s.minutes.is_some())
        {
            t.steps.iter().filter_map(|s| s.minutes).sum::<f64>() / 60.0
        } else {
            // Schedule rates expressed as canonical amount per hour.
            let Ok(Some(one)) = per_hour_in(1.0, k, &t.unit, cx.weight_kg, cx.bsa_m2) else {
                continue;
            };
            let to_per_h = |x: f64| x / one;
            if !t.steps.is_empty() && t.steps.iter().all(|s| s.rate.is_some()) {
                rate_table_hours(t, total, to_per_h)
            } else {
                schedule_hours(
                    total,
                    to_per_h(t.start_rate),
                    to_per_h(t.increment),
                    t.interval_min / 60.0,
                    to_per_h(t.max_rate),
                )
            }
        };
        if fastest.is_none_or(|(h, _)| hours < h) {
            fastest = Some((hours, *t));
        }
    }
    fastest
}

/// A step table of rates: each row for its minutes, the last until the dose is in (then
/// the maximum rate for whatever is left).
fn rate_table_hours(t: &Titration, total: f64, to_per_h: impl Fn(f64) -> f64) -> f64 {
    let (mut left, mut hours) = (total, 0.0);
    for step in &t.steps {
        let rate = to_per_h(step.rate.unwrap_or(t.max_rate));
        match step.minutes {
            Some(m) if rate * m / 60.0 < left => {
                left -= rate * m / 60.0;
                hours += m / 60.0;
            }
            _ => {
                hours += left / rate;
                left = 0.0;
                break;
            }
        }
    }
    if left > 0.0 {
        hours += left / to_per_h(t.max_rate);
    }
    hours
}

fn lab_checks(cx: &mut Ctx, entry: &DrugEntry) {
    for req in &entry.labs {
        let Some(result) = cx.req.patient.lab(&req.lab).cloned() else {
            cx.finding(
                "lab.missing",
                Severity::Info,
                format!("{} requires a recent {} result before each dose; none is recorded. [source: {}]", entry.generic_name, req.lab.replace('_', " "), req.source),
            );
            continue;
        };
        let Ok(factor) = lab_value(&req.lab, &format!("1 {}", req.unit)) else {
            continue;
        };
        let label = req.lab.replace('_', " ");
        let why = req
            .message
            .as_deref()
            .map(|m| format!(" {m}"))
            .unwrap_or_default();
        if let Some(b) = req.hold_below
            && result.value < b * factor * (1.0 - EPS)
        {
            cx.finding(
                "lab.below_hold_threshold",
                req.severity.severity(),
                format!(
                    "{} {} is below {} {}: hold {} and contact the prescriber.{why} [source: {}]",
                    label,
                    result.given,
                    num(b),
                    req.unit,
                    entry.generic_name,
                    req.source
                ),
            );
        }
        if let Some(a) = req.hold_above
            && result.value > a * factor * (1.0 + EPS)
        {
            cx.finding(
                "lab.above_hold_threshold",
                req.severity.severity(),
                format!(
                    "{} {} is above {} {}: hold {} and contact the prescriber.{why} [source: {}]",
                    label,
                    result.given,
                    num(a),
                    req.unit,
                    entry.generic_name,
                    req.source
                ),
            );
        }
        if let Some(max_age) = req.max_age_h {
            match (result.at_h, cx.req.at_h) {
                (Some(t), Some(now)) => {
                    let age = now - t;
                    if age > max_age {
                        cx.finding(
                            "lab.result_too_old",
                            Severity::Warning,
                            format!("The {label} result is {} h old; {} needs one from the last {} h. Repeat the test. [source: {}]", num(age), entry.generic_name, num(max_age), req.source),
                        );
                    }
                }
                _ => cx.finding(
                    "lab.age_unknown",
                    Severity::Info,
                    format!("The {label} result has no time (or the check has no `at`), so its age could not be checked; {} needs one from the last {} h.", entry.generic_name, num(max_age)),
                ),
            }
        }
    }
}

fn allergy_checks(cx: &mut Ctx, entry: &DrugEntry) {
    let mut names: Vec<&str> = vec![entry.id.as_str(), entry.generic_name.as_str()];
    names.extend(entry.brands.iter().map(|s| s.as_str()));
    names.extend(entry.synonyms.iter().map(|s| s.as_str()));
    for a in &cx.req.patient.allergies {
        if let Some(m) = check_allergy(
            &a.substance,
            a.reaction.as_deref(),
            a.severity.as_deref(),
            &entry.generic_name,
            &names,
            &entry.allergy_groups,
        ) {
            cx.source("khan-2022-drug-allergy", ALLERGY_SOURCE);
            cx.findings
                .push(Finding::new(m.code, m.severity, m.message));
        }
    }
}

fn screening_checks(cx: &mut Ctx, entry: &DrugEntry) {
    for s in &entry.screening {
        let result = cx
            .req
            .patient
            .screening
            .iter()
            .find(|(t, _)| t == &s.test)
            .map(|(_, r)| r.as_str());
        let test = s.test.replace('_', " ");
        match result {
            Some("negative") => {}
            Some("positive") => cx.finding(
                "screening.positive",
                s.if_positive.severity(),
                format!(
                    "{test} screening is positive: {} [source: {}]",
                    s.message, s.source
                ),
            ),
            Some(other) => cx.finding(
                "screening.pending",
                Severity::Info,
                format!(
                    "{test} screening is {other}: {} [source: {}]",
                    s.message, s.source
                ),
            ),
            None => cx.finding(
                "screening.missing",
                Severity::Info,
                format!(
                    "No {test} screening is recorded: {} [source: {}]",
                    s.message, s.source
                ),
            ),
        }
    }
}

fn cumulative_checks(cx: &mut Ctx, entry: &DrugEntry, library: &Library) {
    let Some(c) = &entry.cumulative else { return };
    let mut total = 0.0;
    let mut incomplete = Vec::new();
    for (i, h) in cx.req.patient.history.iter().enumerate() {
        let Some(e) = library.find(&h.medication) else {
            continue;
        };
        let Some(hc) = e.cumulative.as_ref().filter(|x| x.group == c.group) else {
            continue;
        };
        match (h.dose.as_ref().and_then(|d| d.value_in("mg").ok()), h.bsa) {
            (Some(mg), Some(b)) => total += mg / b.value() * hc.equivalence_factor,
            _ => incomplete.push(format!("patient.history[{i}]")),
        }
    }
    if !incomplete.is_empty() {
        cx.finding(
            "dose.cumulative.history_incomplete",
            Severity::Warning,
            format!(
                "The lifetime {} dose could not be fully counted: {} lack the dose or BSA.",
                c.group,
                incomplete.join(", ")
            ),
        );
    }
    let this = match (cx.req.order.dose.value_in("mg"), cx.bsa_m2) {
        (Ok(mg), Some(b)) => mg / b * c.equivalence_factor,
        _ => {
            if !cx.findings.iter().any(|f| f.code == "dose.unverifiable") {
                cx.finding("dose.unverifiable", Severity::Warning, format!("The lifetime {} limit could not be checked: it needs patient.weight and patient.height (or patient.bsa).", c.group));
            }
            return;
        }
    };
    let cumulative = total + this;
    cx.steps.push(
        Step::new(
            format!(
                "Lifetime cumulative {} dose in doxorubicin equivalents, including this order",
                c.group
            ),
            "Σ (dose / BSA × equivalence factor)",
            Qty::new(cumulative, &c.unit),
        )
        .input("history", Qty::new(total, &c.unit))
        .input("this_order", Qty::new(this, &c.unit)),
    );
    let reduced = c
        .reduced
        .as_ref()
        .filter(|r| r.conditions.iter().any(|x| cx.req.patient.has_condition(x)));
    let (limits, why) = match reduced {
        Some(r) => (
            r,
            format!(
                " with {}",
                r.conditions
                    .iter()
                    .filter(|x| cx.req.patient.has_condition(x))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        None => (&c.limits, String::new()),
    };
    cx.eval(
        "dose.cumulative",
        "Lifetime cumulative dose",
        cumulative,
        &c.unit,
        limits,
        &format!("{} ({} group{why})", entry.generic_name, c.group),
    );
}

fn history_checks(cx: &mut Ctx, entry: &DrugEntry, library: &Library) {
    let p = &cx.req.patient;
    // Weight change since the weight the previous dose of this drug used.
    if let Some(w) = p.weight {
        let previous = p
            .history
            .iter()
            .filter(|h| {
                library
                    .find(&h.medication)
                    .is_some_and(|e| e.id == entry.id)
                    && h.weight.is_some()
            })
            .max_by(|a, b| {
                a.at_h
                    .unwrap_or(f64::MIN)
                    .total_cmp(&b.at_h.unwrap_or(f64::MIN))
            });
        if let Some(prev) = previous.and_then(|h| h.weight) {
            let change = (w.value() - prev.value()) / prev.value();
            if change.abs() >= WEIGHT_CHANGE_FRACTION - EPS {
                cx.finding(
                    "patient.weight_change",
                    Severity::Warning,
                    format!("The weight is {} kg; the previous dose of {} used {} kg ({}{}%). Confirm the weight and recalculate the dose.", num(w.value()), entry.generic_name, num(prev.value()), if change > 0.0 { "+" } else { "" }, format_number(change * 100.0, 1)),
                );
            }
        }
    }
    // Duplicate therapy.
    let duplicates = p
        .active_orders
        .iter()
        .filter(|o| {
            library
                .find(&o.medication)
                .is_some_and(|e| e.id == entry.id)
        })
        .count();
    if duplicates > 0 {
        cx.finding(
            "order.duplicate_therapy",
            Severity::Warning,
            format!("The patient already has {duplicates} active order(s) for {}; check for duplicate therapy.", entry.generic_name),
        );
    }
    if entry.product_required && cx.req.order.product.is_none() {
        cx.finding(
            "order.product_missing",
            Severity::Warning,
            format!("{} orders must name the product (order.product: one of {}): the labelled rate ramp and maximum rate differ by product, so the rate could not be checked against the product's label.", entry.generic_name, entry.products.iter().map(|x| x.id.as_str()).collect::<Vec<_>>().join(", ")),
        );
    }
    // A product named on the order must be one of the entry's products. A product of another
    // entry (Hizentra, subcutaneous only, ordered as intravenous immune globulin) would be
    // checked against the wrong label: a hard stop naming the entry it belongs to.
    if let Some(prod) = &cx.req.order.product
        && !entry.products.iter().any(|x| &x.id == prod)
        && let Some(other) = library
            .entries()
            .iter()
            .find(|e| e.id != entry.id && e.products.iter().any(|x| &x.id == prod))
    {
        cx.finding(
            "order.product_of_other_drug",
            Severity::HardStop,
            format!("Product '{prod}' belongs to the library entry '{}' ({}; routes {}), not to {}: order it as '{}' so that its own label's limits apply.", other.id, other.generic_name, other.routes.join(", "), entry.generic_name, other.id),
        );
    } else if let Some(prod) = &cx.req.order.product
        && !entry.products.iter().any(|x| &x.id == prod)
    {
        cx.finding(
            "order.product_unknown",
            Severity::Warning,
            format!("Product '{prod}' is not a {} product in the library (known: {}); product-specific limits were not applied.", entry.generic_name, entry.products.iter().map(|x| x.id.as_str()).collect::<Vec<_>>().join(", ")),
        );
    }
}

fn flag_checks(cx: &mut Ctx, entry: &DrugEntry) {
    let f = &entry.flags;
    if f.high_alert || f.double_check {
        cx.finding(
            "double_check.required",
            Severity::Info,
            format!("{} is a high-alert medication: an independent double check (a second nurse or pharmacist) is required before administration.", entry.generic_name),
        );
    }
    if f.hazardous {
        cx.finding("handling.hazardous", Severity::Info, format!("{} is a NIOSH hazardous drug: wear chemotherapy gloves and gown; use closed-system transfer devices.", entry.generic_name));
    }
    if f.vesicant {
        cx.finding("administration.vesicant", Severity::Info, format!("{} is a vesicant: confirm blood return before and during the infusion and watch the site for extravasation.", entry.generic_name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rituximab_first_infusion_700_mg_takes_3_5_h() {
        // Start 50 mg/h, +50 mg/h every 30 min to 400 mg/h (Rituxan label): 3.50 h.
        let h = schedule_hours(700.0, 50.0, 50.0, 0.5, 400.0);
        assert!((h - 3.5).abs() < 1e-9, "{h}");
        // Subsequent: start 100, +100 every 30 min, 1000 mg → 3.25 h.
        let h = schedule_hours(1000.0, 100.0, 100.0, 0.5, 400.0);
        assert!((h - 3.25).abs() < 1e-9, "{h}");
    }

    #[test]
    fn ocrelizumab_600_mg_in_500_ml_takes_3_5_h() {
        let h = schedule_hours(500.0, 40.0, 40.0, 0.5, 200.0);
        assert!((h - 3.5).abs() < 1e-9, "{h}");
    }

    #[test]
    fn per_hour_conversion() {
        // 5 mL/kg/h for 70 kg = 350 mL/h.
        let v = per_hour_in(350.0, AmountKind::Volume, "mL/kg/h", Some(70.0), None);
        assert_eq!(v, Ok(Some(5.0)));
        // 10% IVIG at 350 mL/h = 35,000 mg/h; for 70 kg = 8.33 mg/kg/min.
        let v = per_hour_in(35_000.0, AmountKind::Mass, "mg/kg/min", Some(70.0), None)
            .ok()
            .flatten()
            .unwrap_or(0.0);
        assert!((v - 8.333_333).abs() < 1e-5);
    }
}
