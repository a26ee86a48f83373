//! The `preparation` and `titration` calculators of `infusio calc`. Both read the drug's facts
//! (vials, reconstitution, concentration range, stability, titration schedules, rate limits)
//! from the drug library; the arithmetic lives in [`super::preparation`] and
//! [`super::titration`].
//!
//! Finding codes: `preparation.no_bag_fits`, `preparation.concentration_out_of_range`,
//! `preparation.drug_volume_exceeds_bag`, `preparation.protect_from_light`,
//! `preparation.filter_required`, `preparation.hazardous_handling`, `preparation.vial_waste`,
//! `titration.concentration_outside_label_range`, `titration.replanned_after_reaction`,
//! `pump.rate_above_soft_max`, `pump.rate_above_hard_max`, `pump.limit_not_comparable`.

use serde_json::{Value, json};

use super::preparation::{
    BagMode, Dilution, PreparationError, PreparationPlan, PreparationRequest, Stability, Storage,
    UspCategory, VialSpec, prepare,
};
use super::pump::{PumpProgramme, RateLimit};
use super::sources;
use super::titration::{
    Bag, RampUnit, Reaction, Schedule, StepSpec, TitrationError, TitrationPlan, plan,
    replan_after_reaction,
};
use crate::derivation::{Calculation, Finding, Severity, Source, Step};
use crate::input::{Fields, InputError, as_given, check_range};
use crate::library::{DrugEntry, Library, Limits, Product, Titration};
use crate::units::{
    Amount, BodyWeight, Concentration, Duration, Qty, Volume, format_number, parse_quantity,
};

/// Accepted body weight for per-kg schedules (kg).
const WEIGHT_KG_RANGE: (f64, f64) = (0.3, 350.0);
/// Accepted dose, in the unit given (a smaller or larger number is a unit slip).
const DOSE_RANGE: (f64, f64) = (1e-6, 1e9);
/// Accepted final volume (mL).
const VOLUME_ML_MAX: f64 = 10_000.0;

fn fmt(v: f64) -> String {
    format_number(v, 3)
}

fn refuse(path: &str, given: &str, message: impl Into<String>) -> InputError {
    InputError::new(path, given, message)
}

/// The library entry named by `medication`.
fn entry<'a>(f: &mut Fields, library: &'a Library) -> Result<&'a DrugEntry, InputError> {
    let path = f.path_of("medication");
    let name = f.opt_string("medication")?.ok_or_else(|| {
        refuse(
            &path,
            "",
            "required: the drug-library id of the medication (e.g. 'infliximab')",
        )
    })?;
    library.find(&name).ok_or_else(|| {
        refuse(
            &path,
            &name,
            format!(
                "not in the drug library; known ids: {}",
                library
                    .entries()
                    .iter()
                    .map(|e| e.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

/// The product named by `product`, if given; it must exist in the entry.
fn named_product<'a>(
    f: &mut Fields,
    entry: &'a DrugEntry,
) -> Result<Option<&'a Product>, InputError> {
    let path = f.path_of("product");
    let Some(id) = f.opt_string("product")? else {
        return Ok(None);
    };
    entry
        .products
        .iter()
        .find(|p| p.id == id)
        .map(Some)
        .ok_or_else(|| {
            refuse(
                &path,
                &id,
                format!(
                    "not a product of {}; one of: {}",
                    entry.id,
                    entry
                        .products
                        .iter()
                        .map(|p| p.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
}

fn dose(f: &mut Fields) -> Result<Amount, InputError> {
    let path = f.path_of("dose");
    let given = f.raw("dose").map(as_given).unwrap_or_default();
    let d = f.quantity(
        "dose",
        "a dose such as '350 mg', '28 g' or '2000 units'",
        Amount::from_quantity,
    )?;
    if d.kind == crate::units::AmountKind::Volume {
        return Err(refuse(
            &path,
            &given,
            "a dose is an amount of drug (mg, g, units, mEq), not a volume",
        ));
    }
    check_range(
        &path,
        &given,
        d.value,
        DOSE_RANGE.0,
        DOSE_RANGE.1,
        &d.display_unit,
    )?;
    Ok(d)
}

/// The label sources this module knows by drug; always the library entry too.
fn label_sources(entry: &DrugEntry, product: Option<&str>) -> Vec<Source> {
    let mut out = Vec::new();
    match entry.id.as_str() {
        "rituximab" => out.push(sources::RITUXAN_PI),
        "ocrelizumab" => out.push(sources::OCREVUS_PI),
        "infliximab" => out.push(sources::REMICADE_PI),
        "immune-globulin" if product == Some("gammagard-liquid") => out.push(sources::GAMMAGARD_PI),
        _ => {}
    }
    out.push(sources::DRUG_LIBRARY);
    out
}

fn citation<'a>(entry: &'a DrugEntry, id: &'a str) -> &'a str {
    entry.citation(id).unwrap_or(id)
}

/// Limit blocks that apply without patient conditions or line: product and care area match,
/// infusion matches when given; the most specific block per unit.
fn applicable<'a>(
    blocks: &'a [Limits],
    product: Option<&str>,
    care_area: Option<&str>,
    infusion: Option<&str>,
) -> Vec<&'a Limits> {
    let matching: Vec<&Limits> = blocks
        .iter()
        .filter(|l| {
            l.conditions.is_empty()
                && l.line.is_none()
                && !l.order_qualified()
                && (l.products.is_empty()
                    || product.is_some_and(|p| l.products.iter().any(|x| x == p)))
                && (l.care_areas.is_empty()
                    || care_area.is_some_and(|c| l.care_areas.iter().any(|x| x == c)))
                && (l.infusion.is_none() || infusion.is_none() || l.infusion.as_deref() == infusion)
        })
        .collect();
    let mut out: Vec<&Limits> = Vec::new();
    for l in matching {
        match out.iter_mut().find(|o| o.unit == l.unit) {
            Some(o) if l.specificity() > o.specificity() => *o = l,
            Some(_) => {}
            None => out.push(l),
        }
    }
    out
}

/// Factor converting a value in `unit` (e.g. `mg/mL`) to `target` (e.g. `g/mL`), if compatible.
fn unit_factor(unit: &str, target: &str) -> Option<f64> {
    parse_quantity(&format!("1 {unit}"))
        .ok()?
        .value_in(target)
        .ok()
}

/// The labelled concentration range (soft limits) in `amount_unit`/mL, with its block.
fn concentration_range<'a>(
    entry: &'a DrugEntry,
    product: Option<&str>,
    amount_unit: &str,
) -> Option<(Option<f64>, Option<f64>, &'a Limits)> {
    let target = format!("{amount_unit}/mL");
    applicable(&entry.administration.concentration, product, None, None)
        .into_iter()
        .find_map(|l| {
            let k = unit_factor(l.unit.as_deref()?, &target)?;
            Some((
                l.soft_min.or(l.hard_min).map(|v| v * k),
                l.soft_max.or(l.hard_max).map(|v| v * k),
                l,
            ))
        })
}

// ---------------------------------------------------------------------------------------------
// titration

/// Why a schedule name does not resolve to one library titration.
#[derive(Clone, Debug, PartialEq)]
pub enum ScheduleProblem {
    /// The drug has no titration at all.
    NoSchedules,
    /// The schedules are product-specific and no (matching) product was given; lists them.
    ProductRequired(Vec<String>),
    /// Several schedules apply and none was named; lists the names.
    Ambiguous(String),
    /// The name matches none; lists the names.
    Unknown(String),
}

/// Resolves a schedule name (`first`, `subsequent`, `rapid` or a library titration id) to the
/// library titration, as the titration calculator and the protocol check both do:
/// 1. a titration whose id is the name;
/// 2. a titration for that infusion (`first`/`subsequent`), the linear ramp before a step
///    table; a titration without an infusion qualifier applies to every infusion;
/// 3. `rapid`: the one step-table schedule (rituximab `rapid`, ocrelizumab `shorter`).
///
/// Titrations limited to products apply only when `product` is one of them.
pub fn resolve_titration<'a>(
    entry: &'a DrugEntry,
    product: Option<&str>,
    schedule: Option<&str>,
) -> Result<&'a Titration, ScheduleProblem> {
    let candidates: Vec<&Titration> = entry
        .titration
        .iter()
        .filter(|t| {
            t.products.is_empty() || product.is_some_and(|p| t.products.iter().any(|x| x == p))
        })
        .collect();
    if candidates.is_empty() {
        if entry.titration.is_empty() {
            return Err(ScheduleProblem::NoSchedules);
        }
        return Err(ScheduleProblem::ProductRequired(
            entry
                .titration
                .iter()
                .flat_map(|t| t.products.iter().cloned())
                .collect(),
        ));
    }
    let names = || {
        let mut n: Vec<String> = candidates.iter().map(|t| t.id.clone()).collect();
        for t in &candidates {
            if let Some(i) = &t.infusion
                && !n.contains(i)
            {
                n.push(i.clone());
            }
        }
        n.join(", ")
    };
    let Some(s) = schedule else {
        return match candidates.as_slice() {
            [one] => Ok(one),
            _ => Err(ScheduleProblem::Ambiguous(names())),
        };
    };
    if let Some(t) = candidates.iter().find(|t| t.id == s) {
        return Ok(t);
    }
    let infusion_named = s == "first" || s == "subsequent";
    let by_infusion: Vec<&&Titration> = candidates
        .iter()
        .filter(|t| match t.infusion.as_deref() {
            Some(i) => i == s,
            None => infusion_named,
        })
        .collect();
    let rapid: Vec<&&Titration> = candidates.iter().filter(|t| !t.steps.is_empty()).collect();
    by_infusion
        .iter()
        .find(|t| t.steps.is_empty())
        .or(by_infusion.first())
        .or(if s == "rapid" && rapid.len() == 1 {
            rapid.first()
        } else {
            None
        })
        .map(|t| **t)
        .ok_or_else(|| ScheduleProblem::Unknown(names()))
}

/// The titration plan of a library schedule for a bag: what the scheduler and the chair-time
/// computation use (the same resolution and arithmetic as `infusio calc titration`).
pub fn library_plan(
    entry: &DrugEntry,
    product: Option<&str>,
    schedule: Option<&str>,
    bag: &Bag,
) -> Result<super::titration::TitrationPlan, String> {
    let t = resolve_titration(entry, product, schedule)
        .map_err(|p| format!("{}: no schedule {schedule:?} ({p:?})", entry.id))?;
    let s = to_schedule(t)?;
    plan(&s, bag).map_err(|e| e.to_string())
}

fn choose_titration<'a>(
    f: &mut Fields,
    entry: &'a DrugEntry,
    product: Option<&str>,
) -> Result<&'a Titration, InputError> {
    let schedule_path = f.path_of("schedule");
    let schedule = f.opt_string("schedule")?;
    resolve_titration(entry, product, schedule.as_deref()).map_err(|p| match p {
        ScheduleProblem::NoSchedules => refuse(
            "medication",
            &entry.id,
            format!(
                "{} has no titration schedule in the drug library; it runs at one rate (use the infusion-rate calculator)",
                entry.id
            ),
        ),
        ScheduleProblem::ProductRequired(products) => refuse(
            &f.path_of("product"),
            product.unwrap_or(""),
            format!(
                "required: the schedule depends on the product; one of: {}",
                products.join(", ")
            ),
        ),
        ScheduleProblem::Ambiguous(names) => refuse(
            &schedule_path,
            "",
            format!("required: the library has several schedules; one of: {names}"),
        ),
        ScheduleProblem::Unknown(names) => refuse(
            &schedule_path,
            schedule.as_deref().unwrap_or(""),
            format!("unknown schedule for {}; one of: {names}", entry.id),
        ),
    })
}

/// The library schedule as an engine schedule.
fn to_schedule(t: &Titration) -> Result<Schedule, String> {
    let unit = RampUnit::parse(&t.unit).ok_or_else(|| {
        format!(
            "the library schedule '{}' is in '{}', which the titration engine does not support (mg/h, units/h, mEq/h, mL/h, mL/kg/h, mg/kg/min)",
            t.id, t.unit
        )
    })?;
    if t.steps.is_empty() {
        return Ok(Schedule::Linear {
            unit,
            start_rate: t.start_rate,
            increment: t.increment,
            interval_min: t.interval_min,
            max_rate: t.max_rate,
        });
    }
    let steps = t
        .steps
        .iter()
        .map(|s| match (s.rate, s.dose_fraction, s.minutes) {
            (Some(rate), _, minutes) => Ok(StepSpec::Rate { rate, minutes }),
            (None, Some(fraction), Some(minutes)) => {
                Ok(StepSpec::DoseFraction { fraction, minutes })
            }
            _ => Err(format!(
                "the library schedule '{}' has an incomplete step",
                t.id
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Schedule::Steps { unit, steps })
}

fn duration_field(f: &mut Fields, key: &str) -> Result<Option<Duration>, InputError> {
    let path = f.path_of(key);
    let given = f.raw(key).map(as_given).unwrap_or_default();
    let d = f.opt_quantity(
        key,
        "a time such as '30 min' or '1.5 h'",
        Duration::from_quantity,
    )?;
    if let Some(d) = d {
        check_range(&path, &given, d.value(), 0.0, 48.0, "h")?;
    }
    Ok(d)
}

fn reaction(f: &mut Fields) -> Result<Option<Reaction>, InputError> {
    let Some(mut r) = f.opt_object("reaction")? else {
        return Ok(None);
    };
    let at = duration_field(&mut r, "at")?.ok_or_else(|| {
        refuse(
            &r.path_of("at"),
            "",
            "required: minutes from the start of the infusion when it was stopped, e.g. '100 min'",
        )
    })?;
    let pause = duration_field(&mut r, "pause")?.unwrap_or(Duration::new(0.0));
    let hold = duration_field(&mut r, "hold")?.ok_or_else(|| {
        refuse(
            &r.path_of("hold"),
            "",
            "required: how long to run at the reduced rate before re-escalating, e.g. '30 min' (Ocrevus: at least 30 min)",
        )
    })?;
    let pct_path = r.path_of("resume_percent");
    let given = r.raw("resume_percent").map(as_given).unwrap_or_default();
    let pct = r.number("resume_percent")?;
    check_range(&pct_path, &given, pct, 1.0, 100.0, "%")?;
    if hold.value() <= 0.0 {
        return Err(refuse(&r.path_of("hold"), "0", "must be above 0 min"));
    }
    r.finish()?;
    Ok(Some(Reaction {
        at_minute: at.value() * 60.0,
        pause_minutes: pause.value() * 60.0,
        resume_fraction: pct / 100.0,
        hold_minutes: hold.value() * 60.0,
    }))
}

/// The titration calculator's inputs, read and checked: the library schedule and the bag it
/// runs.
struct TitrationInput<'a> {
    entry: &'a DrugEntry,
    product_id: Option<&'a str>,
    titration: &'a Titration,
    schedule: Schedule,
    /// Dose in its kind's canonical unit (`bag.amount_unit`), volume and weight.
    bag: Bag,
    care_area: Option<String>,
    reaction: Option<Reaction>,
}

impl TitrationInput<'_> {
    fn concentration_unit(&self) -> String {
        format!("{}/mL", self.bag.amount_unit)
    }

    /// Bag concentration in `concentration_unit()`.
    fn concentration(&self) -> f64 {
        self.bag.dose_amount / self.bag.volume.value()
    }
}

/// Reads the titration calculator's fields in their documented order (so the first error is
/// the same whichever fields are wrong).
fn read_titration_input<'a>(
    f: &mut Fields,
    library: &'a Library,
) -> Result<TitrationInput<'a>, InputError> {
    let entry = entry(f, library)?;
    let product = named_product(f, entry)?;
    let product_id = product.map(|p| p.id.as_str());
    let t = choose_titration(f, entry, product_id)?;
    let schedule = to_schedule(t).map_err(|m| refuse("schedule", &t.id, m))?;
    let dose = dose(f)?;
    let kind_unit = dose.kind.unit();
    let dose_canonical = dose.value_in(kind_unit).map_err(|e| {
        refuse(
            "dose",
            &as_given(&json!(dose.qty().display())),
            e.to_string(),
        )
    })?;
    if matches!(
        schedule.unit(),
        RampUnit::AmountPerHour | RampUnit::AmountPerKgPerMinute
    ) {
        let ramp_amount = t.unit.split('/').next().unwrap_or("");
        if ramp_amount != kind_unit {
            return Err(refuse(
                "dose",
                &format!("{} {}", fmt(dose.value), dose.display_unit),
                format!(
                    "the schedule '{}' is in {}; give a dose in {}",
                    t.id, t.unit, ramp_amount
                ),
            ));
        }
    }
    let volume_ml = bag_volume_ml(f, &dose, dose_canonical)?;
    let weight = schedule_weight(f, t, schedule.unit())?;
    let care_area = f.opt_choice("care_area", &crate::library::CARE_AREAS)?;
    let reaction = reaction(f)?;
    Ok(TitrationInput {
        entry,
        product_id,
        titration: t,
        schedule,
        bag: Bag {
            dose_amount: dose_canonical,
            amount_unit: kind_unit.to_string(),
            volume: Volume::new(volume_ml),
            weight,
        },
        care_area,
        reaction,
    })
}

/// The bag volume (mL), from either `concentration` (in the dose's unit per mL) or
/// `final_volume`, never both.
fn bag_volume_ml(f: &mut Fields, dose: &Amount, dose_canonical: f64) -> Result<f64, InputError> {
    let kind_unit = dose.kind.unit();
    let conc_path = f.path_of("concentration");
    let conc_given = f.raw("concentration").map(as_given);
    let concentration = f.opt_quantity(
        "concentration",
        "a concentration such as '2 mg/mL' or '600 mg/500 mL'",
        Concentration::from_quantity,
    )?;
    let vol_path = f.path_of("final_volume");
    let vol_given = f.raw("final_volume").map(as_given);
    let final_volume = f.opt_quantity(
        "final_volume",
        "a volume such as '250 mL'",
        Volume::from_quantity,
    )?;
    let volume_ml = match (&concentration, final_volume) {
        (Some(_), Some(_)) => {
            return Err(refuse(
                &vol_path,
                vol_given.as_deref().unwrap_or(""),
                "give either concentration or final_volume, not both",
            ));
        }
        (None, None) => {
            return Err(refuse(
                &conc_path,
                "",
                "required: the bag's concentration (e.g. '2 mg/mL') or its final_volume (e.g. '500 mL')",
            ));
        }
        (Some(c), None) => {
            if c.amount_kind != dose.kind {
                return Err(refuse(
                    &conc_path,
                    conc_given.as_deref().unwrap_or(""),
                    format!("the concentration must be in {kind_unit}/mL like the dose"),
                ));
            }
            check_range(
                &conc_path,
                conc_given.as_deref().unwrap_or(""),
                c.per_ml,
                f64::MIN_POSITIVE,
                1e6,
                &c.unit(),
            )?;
            dose_canonical / c.per_ml
        }
        (None, Some(v)) => {
            check_range(
                &vol_path,
                vol_given.as_deref().unwrap_or(""),
                v.value(),
                f64::MIN_POSITIVE,
                VOLUME_ML_MAX,
                "mL",
            )?;
            v.value()
        }
    };
    if volume_ml > VOLUME_ML_MAX {
        return Err(refuse(
            &conc_path,
            conc_given.as_deref().unwrap_or(""),
            format!(
                "gives a bag of {} mL, above the {} mL accepted",
                fmt(volume_ml),
                fmt(VOLUME_ML_MAX)
            ),
        ));
    }
    Ok(volume_ml)
}

/// The optional `weight`, required when the schedule is per kg.
fn schedule_weight(
    f: &mut Fields,
    t: &Titration,
    unit: RampUnit,
) -> Result<Option<BodyWeight>, InputError> {
    let weight_path = f.path_of("weight");
    let weight_given = f.raw("weight").map(as_given);
    let weight = f.opt_quantity(
        "weight",
        "a body weight such as '70 kg'",
        BodyWeight::from_quantity,
    )?;
    if let Some(w) = weight {
        check_range(
            &weight_path,
            weight_given.as_deref().unwrap_or(""),
            w.value(),
            WEIGHT_KG_RANGE.0,
            WEIGHT_KG_RANGE.1,
            "kg",
        )?;
    }
    if unit.needs_weight() && weight.is_none() {
        return Err(refuse(
            &weight_path,
            "",
            format!("required: the schedule '{}' is in {}", t.id, t.unit),
        ));
    }
    Ok(weight)
}

/// `infusio calc titration`.
pub fn titration_json(input: &Value, library: &Library) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let input = read_titration_input(&mut f, library)?;
    f.finish()?;

    let t = input.titration;
    let map_err = |e: TitrationError| match e {
        TitrationError::WeightRequired => refuse("weight", "", e.to_string()),
        TitrationError::EmptyBag => refuse("dose", "", e.to_string()),
        TitrationError::BadSchedule(_) if input.reaction.is_some() => {
            refuse("reaction", "", e.to_string())
        }
        _ => refuse("schedule", &t.id, e.to_string()),
    };
    let base = plan(&input.schedule, &input.bag).map_err(map_err)?;
    let result = match &input.reaction {
        Some(r) => replan_after_reaction(&input.schedule, &input.bag, r).map_err(map_err)?,
        None => base.clone(),
    };

    let mut c = Calculation::new("titration");
    for s in label_sources(input.entry, input.product_id) {
        c.source(s);
    }
    titration_derivation(&mut c, &input, &base, &result);
    let programme = titration_programme(&input, &result);
    for finding in programme.check_limits() {
        c.finding(finding);
    }
    titration_outputs(&mut c, &input, &result, &programme);
    Ok(c)
}

/// The schedule, bag and pump-step steps, the concentration and reaction findings.
fn titration_derivation(
    c: &mut Calculation,
    input: &TitrationInput,
    base: &TitrationPlan,
    result: &TitrationPlan,
) {
    let (entry, t) = (input.entry, input.titration);
    let conc_unit = input.concentration_unit();
    let conc = input.concentration();
    c.step(schedule_step(entry, t, result));
    c.step(
        Step::new(
            "Bag volume and concentration",
            "volume = dose ÷ concentration",
            input.bag.volume.qty(),
        )
        .input(
            "dose",
            Qty::new(input.bag.dose_amount, &input.bag.amount_unit),
        )
        .input("concentration", Qty::new(conc, &conc_unit)),
    );
    if let Some((lo, hi, block)) =
        concentration_range(entry, input.product_id, &input.bag.amount_unit)
        && (lo.is_some_and(|l| conc < l * (1.0 - 1e-9))
            || hi.is_some_and(|h| conc > h * (1.0 + 1e-9)))
    {
        c.finding(Finding::new(
            "titration.concentration_outside_label_range",
            Severity::Warning,
            format!(
                "{} {conc_unit} is outside the labelled range {}-{} {conc_unit} [source: {}]",
                fmt(conc),
                lo.map(fmt).unwrap_or_else(|| "0".into()),
                hi.map(fmt).unwrap_or_else(|| "-".into()),
                citation(entry, &block.source)
            ),
        ));
    }
    for (i, s) in result.steps.iter().enumerate() {
        c.step(
            Step::new(
                format!(
                    "Pump step {}: from minute {} run {} mL/h ({}) for {} min",
                    i + 1,
                    fmt(s.start_minute),
                    fmt(s.rate_ml_per_h),
                    s.dose_rate.display(),
                    fmt(s.duration_minutes)
                ),
                "VTBI = rate × minutes ÷ 60; the last step ends when the bag is empty",
                Qty::new(s.vtbi_ml, "mL"),
            )
            .input("rate", Qty::new(s.rate_ml_per_h, "mL/h")),
        );
    }
    if let Some(r) = &input.reaction {
        c.finding(Finding::new(
            "titration.replanned_after_reaction",
            Severity::Info,
            format!(
                "stopped at minute {}, resumed after {} min at {} % of the running rate for {} min, then re-escalated; uninterrupted the infusion would have taken {} h",
                fmt(r.at_minute),
                fmt(r.pause_minutes),
                fmt(r.resume_fraction * 100.0),
                fmt(r.hold_minutes),
                fmt(base.duration.value())
            ),
        ));
    }
    c.step(Step::new(
        "Infusion duration",
        "end of the last pump step",
        result.duration.qty(),
    ));
    c.step(Step::new(
        "Highest pump rate of the schedule (reached only if the bag lasts that long)",
        "schedule maximum converted to mL/h (÷ concentration, or × weight for per-kg rates)",
        result.max_rate.qty(),
    ));
}

/// The first step: which library schedule, with its citation, and its starting rate.
fn schedule_step(entry: &DrugEntry, t: &Titration, result: &TitrationPlan) -> Step {
    let formula = if t.steps.is_empty() {
        format!(
            "start {} {u}, +{} {u} every {} min, to at most {} {u}",
            fmt(t.start_rate),
            fmt(t.increment),
            fmt(t.interval_min),
            fmt(t.max_rate),
            u = t.unit
        )
    } else {
        "explicit step table (rate or fraction of the dose for a number of minutes; the last row until the bag is empty)".to_string()
    };
    let start = if t.steps.is_empty() {
        Qty::new(t.start_rate, &t.unit)
    } else {
        // A table's first rate (a dose-fraction row has no rate of its own).
        result
            .steps
            .first()
            .map(|s| s.dose_rate.clone())
            .unwrap_or_else(|| Qty::new(t.start_rate, &t.unit))
    };
    Step::new(
        format!(
            "Schedule '{}': {} [source: {}]",
            t.id,
            t.description,
            citation(entry, &t.source)
        ),
        formula,
        start,
    )
}

/// The pump programme of the plan, with the library's dose-rate limits for this product, care
/// area and infusion.
fn titration_programme(input: &TitrationInput, result: &TitrationPlan) -> PumpProgramme {
    let entry = input.entry;
    let care_area = input.care_area.as_deref();
    let limits: Vec<RateLimit> = applicable(
        &entry.administration.dose_rate,
        input.product_id,
        care_area,
        input.titration.infusion.as_deref(),
    )
    .into_iter()
    .filter_map(|l| {
        Some(RateLimit {
            unit: l.unit.clone()?,
            soft_max: l.soft_max,
            hard_max: l.hard_max,
            source: citation(entry, &l.source).to_string(),
        })
    })
    .collect();
    PumpProgramme::from_plan(
        &entry.id,
        input.product_id,
        Qty::new(input.concentration(), &input.concentration_unit()),
        care_area.unwrap_or("unspecified"),
        result,
        limits,
        input.bag.weight.map(|w| w.value()),
    )
}

/// Outputs and the structured details (`schedule`, `pump_steps`, `pump_programme`).
fn titration_outputs(
    c: &mut Calculation,
    input: &TitrationInput,
    result: &TitrationPlan,
    programme: &PumpProgramme,
) {
    c.output("duration", result.duration.qty());
    c.output("total_volume", result.total_volume.qty());
    c.output(
        "concentration",
        Qty::new(input.concentration(), &input.concentration_unit()),
    );
    c.output(
        "initial_rate",
        Qty::new(
            result.steps.first().map(|s| s.rate_ml_per_h).unwrap_or(0.0),
            "mL/h",
        ),
    );
    c.output("max_rate", result.max_rate.qty());
    c.details
        .insert("schedule".into(), json!(input.titration.id));
    c.details.insert(
        "pump_steps".into(),
        serde_json::to_value(&result.steps).unwrap_or(Value::Null),
    );
    c.details.insert(
        "pump_programme".into(),
        serde_json::to_value(programme).unwrap_or(Value::Null),
    );
}

// ---------------------------------------------------------------------------------------------
// preparation

/// The preparation calculator's inputs, read and checked.
struct PreparationInput<'a> {
    entry: &'a DrugEntry,
    /// The named product, or the entry's first product with vial sizes.
    product: &'a Product,
    dose: Amount,
    /// `usp_category` and `storage` as given; absent ones are assumed (and said so).
    category_name: Option<String>,
    storage_name: Option<String>,
    /// Bag sizes in stock (mL), replacing the library's.
    bag_sizes_ml: Option<Vec<f64>>,
    final_volume: Option<Volume>,
    /// The bag's overfill above its nominal volume, when known.
    bag_overfill: Option<Volume>,
}

/// Reads the preparation calculator's fields in their documented order.
fn read_preparation_input<'a>(
    f: &mut Fields,
    library: &'a Library,
) -> Result<PreparationInput<'a>, InputError> {
    let entry = entry(f, library)?;
    let product = match named_product(f, entry)? {
        Some(p) => p,
        None => entry
            .products
            .iter()
            .find(|p| !p.strengths.is_empty())
            .ok_or_else(|| {
                refuse(
                    "medication",
                    &entry.id,
                    format!("{} has no vial sizes in the drug library", entry.id),
                )
            })?,
    };
    let dose = dose(f)?;
    let category_name = f.opt_choice("usp_category", &UspCategory::NAMES)?;
    let storage_name = f.opt_choice("storage", &Storage::NAMES)?;
    let bag_sizes_ml = match f.opt_array("bag_sizes")? {
        None => None,
        Some(items) => {
            let mut out = Vec::new();
            for (path, v) in items {
                let vol = crate::input::parse_quantity_value(
                    v,
                    &path,
                    "a bag volume such as '250 mL'",
                    Volume::from_quantity,
                )?;
                check_range(
                    &path,
                    &as_given(v),
                    vol.value(),
                    f64::MIN_POSITIVE,
                    VOLUME_ML_MAX,
                    "mL",
                )?;
                out.push(vol.value());
            }
            Some(out)
        }
    };
    let fv_path = f.path_of("final_volume");
    let fv_given = f.raw("final_volume").map(as_given);
    let final_volume = f.opt_quantity(
        "final_volume",
        "a volume such as '250 mL'",
        Volume::from_quantity,
    )?;
    if let Some(v) = final_volume {
        check_range(
            &fv_path,
            fv_given.as_deref().unwrap_or(""),
            v.value(),
            f64::MIN_POSITIVE,
            VOLUME_ML_MAX,
            "mL",
        )?;
    }
    let overfill_path = f.path_of("bag_overfill");
    let overfill_given = f.raw("bag_overfill").map(as_given);
    let bag_overfill = f.opt_quantity(
        "bag_overfill",
        "the bag's overfill above its nominal volume, such as '25 mL'",
        Volume::from_quantity,
    )?;
    if let Some(v) = bag_overfill {
        check_range(
            &overfill_path,
            overfill_given.as_deref().unwrap_or(""),
            v.value(),
            0.0,
            VOLUME_ML_MAX,
            "mL",
        )?;
    }
    Ok(PreparationInput {
        entry,
        product,
        dose,
        category_name,
        storage_name,
        bag_sizes_ml,
        final_volume,
        bag_overfill,
    })
}

/// An error in the drug library's product data, reported against `product`.
fn product_data_error(product: &Product, message: String) -> InputError {
    refuse("product", &product.id, message)
}

/// The product's vials in the dose's unit, with their volume once ready (labelled vial volume,
/// else reconstitution volume, else strength ÷ supplied concentration).
fn vial_specs(product: &Product, dose: &Amount) -> Result<Vec<VialSpec>, InputError> {
    let du = &dose.display_unit;
    let data_error = |m: String| product_data_error(product, m);
    let supplied = product
        .concentration
        .as_deref()
        .map(Concentration::parse)
        .transpose()
        .map_err(|e| data_error(format!("library concentration: {e}")))?;
    let mut vials = Vec::new();
    for (i, s) in product.strengths.iter().enumerate() {
        let amount =
            Amount::parse(s).map_err(|e| data_error(format!("library strength '{s}': {e}")))?;
        if amount.kind != dose.kind {
            return Err(refuse(
                "dose",
                &format!("{} {du}", fmt(dose.value)),
                format!(
                    "the vials of {} are in {}; give the dose in the same kind of unit",
                    product.id, amount.display_unit
                ),
            ));
        }
        let strength = amount.value_in(du).map_err(|e| data_error(e.to_string()))?;
        let canonical = amount
            .value_in(amount.kind.unit())
            .map_err(|e| data_error(e.to_string()))?;
        let reconstitution_ml = product.reconstitution_ml.get(i).copied();
        let volume_ml = match (product.vial_volume_ml.get(i), reconstitution_ml, &supplied) {
            (Some(v), _, _) => *v,
            (None, Some(r), _) => r,
            (None, None, Some(c)) if c.amount_kind == amount.kind => canonical / c.per_ml,
            _ => {
                return Err(data_error(format!(
                    "the drug library gives neither a concentration nor a reconstitution volume for the {s} vial of {}; a preparation cannot be planned",
                    product.id
                )));
            }
        };
        vials.push(VialSpec {
            strength,
            reconstitution_ml,
            volume_ml,
        });
    }
    Ok(vials)
}

/// How the dose is diluted: into a bag whose volume is replaced (a fixed final volume) or
/// added to, within the labelled concentration range; `None` when it is given undiluted.
fn dilution(input: &PreparationInput) -> Result<Option<Dilution>, InputError> {
    let (entry, product) = (input.entry, input.product);
    let range = concentration_range(entry, Some(&product.id), &input.dose.display_unit);
    let fixed = input
        .final_volume
        .map(|v| v.value())
        .or(entry.administration.final_volume_ml);
    let mode = match product.dilution.as_deref() {
        Some("replace") => Some(BagMode::ReplaceVolume),
        Some("add") => Some(BagMode::AddToBag),
        Some(_) => None,
        None if fixed.is_some() => Some(BagMode::ReplaceVolume),
        None if range.is_some() => Some(BagMode::AddToBag),
        None => None,
    };
    let Some(mode) = mode else {
        return Ok(None);
    };
    let sizes = input
        .bag_sizes_ml
        .clone()
        .unwrap_or_else(|| product.bag_sizes_ml.clone());
    if fixed.is_none() && sizes.is_empty() {
        return Err(refuse(
            "bag_sizes",
            "",
            format!(
                "required: the drug library lists no bag sizes for {}; give the sizes in stock, e.g. [\"100 mL\", \"250 mL\", \"500 mL\"]",
                product.id
            ),
        ));
    }
    Ok(Some(Dilution {
        diluent: product
            .diluents
            .first()
            .cloned()
            .unwrap_or_else(|| "diluent".to_string()),
        bag_sizes_ml: sizes,
        final_volume_ml: fixed,
        concentration_min: range.and_then(|r| r.0),
        concentration_max: range.and_then(|r| r.1),
        mode,
        bag_overfill_ml: input.bag_overfill.map(|v| v.value()),
    }))
}

/// `infusio calc preparation`.
pub fn preparation_json(input: &Value, library: &Library) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let input = read_preparation_input(&mut f, library)?;
    f.finish()?;
    let (entry, product, dose) = (input.entry, input.product, &input.dose);
    let du = &dose.display_unit;

    let mut c = Calculation::new("preparation");
    for s in label_sources(entry, Some(&product.id)) {
        c.source(s);
    }
    c.source(sources::USP_797);

    let vials = vial_specs(product, dose)?;
    let dilution = dilution(&input)?;
    let category = input
        .category_name
        .as_deref()
        .and_then(UspCategory::parse)
        .unwrap_or(UspCategory::Category1);
    let storage = input
        .storage_name
        .as_deref()
        .and_then(Storage::parse)
        .unwrap_or(Storage::RoomTemperature);
    if input.category_name.is_none() || input.storage_name.is_none() {
        c.step(Step::new(
            format!(
                "Assumed {} stored at {} (give usp_category and storage to change; these defaults give the shorter beyond-use time of the usual choices)",
                category.as_str(),
                storage.as_str()
            ),
            "USP <797> category and storage",
            Qty::new(super::preparation::usp797_limit_h(category, storage), "h"),
        ));
    }
    let request = PreparationRequest {
        dose: dose.value,
        amount_unit: du.clone(),
        vials,
        dilution,
        category,
        storage,
        stability: Stability {
            room_temperature_h: product.stability_room_temperature_h,
            refrigerated_h: product.stability_refrigerated_h,
            begin_within_h: product.begin_within_h,
        },
        light_protection: entry.administration.light_protection,
        filter: entry.administration.filter.clone(),
        hazardous: entry.flags.hazardous,
    };
    if request.hazardous {
        c.source(sources::USP_800);
    }
    let p = prepare(&request).map_err(|e| match e {
        PreparationError::BadDose => refuse("dose", &fmt(dose.value), e.to_string()),
        PreparationError::TooManyVials(_) => {
            refuse("dose", &format!("{} {du}", fmt(dose.value)), e.to_string())
        }
        _ => product_data_error(product, e.to_string()),
    })?;
    if let Some(stability) = &product.stability {
        c.step(Step::new(
            format!(
                "Label stability for {}: {stability} [source: {}]",
                product.id,
                citation(entry, &product.source)
            ),
            "as stated by the label",
            Qty::new(p.beyond_use_h, "h"),
        ));
    }
    for s in p.steps.clone() {
        c.step(s);
    }
    for finding in p.findings.clone() {
        c.finding(finding);
    }
    preparation_outputs(&mut c, product, &request, &p);
    Ok(c)
}

/// Outputs and the structured details (`vials`, `reconstitution`, `bag`, handling).
fn preparation_outputs(
    c: &mut Calculation,
    product: &Product,
    request: &PreparationRequest,
    p: &PreparationPlan,
) {
    let du = &request.amount_unit;
    let conc_unit = format!("{du}/mL");
    c.output("dose", Qty::new(request.dose, du));
    c.output("vial_count", Qty::new(f64::from(p.vial_count), "vials"));
    c.output("total_in_vials", Qty::new(p.total_in_vials, du));
    c.output("waste", Qty::new(p.waste, du));
    c.output("withdraw_volume", Qty::new(p.withdraw_volume_ml, "mL"));
    c.output("final_volume", Qty::new(p.final_volume_ml, "mL"));
    c.output(
        "final_concentration",
        Qty::new(p.final_concentration, &conc_unit),
    );
    c.output("beyond_use", Qty::new(p.beyond_use_h, "h"));
    c.details.insert("product".into(), json!(product.id));
    c.details.insert(
        "vials".into(),
        serde_json::to_value(&p.vials).unwrap_or(Value::Null),
    );
    c.details.insert(
        "reconstitution".into(),
        Value::Array(
            p.reconstitution_ml
                .iter()
                .map(|(s, ml)| json!({"strength": Qty::new(*s, du), "diluent_ml": ml}))
                .collect(),
        ),
    );
    c.details.insert(
        "bag".into(),
        match &p.bag {
            Some(b) => {
                json!({"size_ml": b.size_ml, "diluent": b.diluent, "remove_ml": b.remove_ml})
            }
            None => Value::Null,
        },
    );
    c.details
        .insert("usp_category".into(), json!(request.category.as_str()));
    c.details
        .insert("storage".into(), json!(request.storage.as_str()));
    c.details
        .insert("light_protection".into(), json!(request.light_protection));
    c.details.insert("filter".into(), json!(request.filter));
    c.details
        .insert("hazardous".into(), json!(request.hazardous));
}
