//! Titration (rate-escalation) schedules and the pump steps they produce.
//!
//! A schedule is either a **linear ramp** (start rate, increment every interval, maximum rate;
//! e.g. rituximab first infusion 50 mg/h + 50 mg/h every 30 min to 400 mg/h, Rituxan PI
//! section 2.1) or an **explicit step table** (e.g. the ocrelizumab shorter 600 mg infusion:
//! 100 mL/h for 15 min, 200 mL/h for 15 min, 250 mL/h for 30 min, then 300 mL/h; the rituximab
//! 90-minute infusion: 20 % of the dose in 30 min, 80 % in 60 min). Rates are in one of four
//! units: mg/h, mL/h, mL/kg/h, mg/kg/min (the amount may also be units, mEq or mmol; the
//! engine only needs "amount per mL").
//!
//! The engine is pure arithmetic on a bag of known volume and concentration: every step's
//! volume to be infused (VTBI) is `rate × minutes / 60`; the last step is cut so that the
//! schedule ends exactly when the bag is empty. Invariants (tested): the steps' VTBI sum to the
//! bag volume, each step starts when the previous one ends, and rates never exceed the
//! schedule's maximum.

use crate::units::{BodyWeight, Duration, Qty, Volume, VolumeRate};

/// The unit a schedule's rates are written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RampUnit {
    /// Amount per hour (mg/h, units/h …): mL/h = rate ÷ concentration.
    AmountPerHour,
    /// mL/h: the pump rate itself.
    MlPerHour,
    /// mL/kg/h (immune globulin): mL/h = rate × weight.
    MlPerKgPerHour,
    /// Amount per kg per minute (mg/kg/min): mL/h = rate × weight × 60 ÷ concentration.
    AmountPerKgPerMinute,
}

impl RampUnit {
    /// Parses a library unit: `mg/h`, `units/h`, `mL/h`, `mL/kg/h`, `mg/kg/min`.
    pub fn parse(unit: &str) -> Option<RampUnit> {
        match unit {
            "mL/h" => Some(RampUnit::MlPerHour),
            "mL/kg/h" => Some(RampUnit::MlPerKgPerHour),
            "mg/h" | "units/h" | "mEq/h" | "mmol/h" | "g/h" => Some(RampUnit::AmountPerHour),
            "mg/kg/min" | "units/kg/min" => Some(RampUnit::AmountPerKgPerMinute),
            _ => None,
        }
    }

    /// Whether a body weight is needed to turn a rate into mL/h.
    pub fn needs_weight(self) -> bool {
        matches!(
            self,
            RampUnit::MlPerKgPerHour | RampUnit::AmountPerKgPerMinute
        )
    }
}

/// One row of an explicit step table.
#[derive(Clone, Debug, PartialEq)]
pub enum StepSpec {
    /// A rate (in the schedule's unit) for `minutes`; `None` on the last row = until the bag is
    /// empty.
    Rate { rate: f64, minutes: Option<f64> },
    /// A fraction of the whole dose infused evenly over `minutes` (rituximab 90-minute
    /// infusion: 0.2 over 30 min, then 0.8 over 60 min).
    DoseFraction { fraction: f64, minutes: f64 },
}

/// A titration schedule.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// Start rate, plus `increment` every `interval_min` minutes, up to `max_rate`.
    Linear {
        unit: RampUnit,
        start_rate: f64,
        increment: f64,
        interval_min: f64,
        max_rate: f64,
    },
    /// An explicit table of steps, in order.
    Steps {
        unit: RampUnit,
        steps: Vec<StepSpec>,
    },
}

impl Schedule {
    pub fn unit(&self) -> RampUnit {
        match self {
            Schedule::Linear { unit, .. } | Schedule::Steps { unit, .. } => *unit,
        }
    }
}

/// The bag being infused and what converts the schedule's rates to mL/h.
#[derive(Clone, Debug, PartialEq)]
pub struct Bag {
    /// Total amount of drug in the bag, in the amount unit of `amount_unit` (mg, units …).
    pub dose_amount: f64,
    /// `mg`, `g`, `units`, `mEq`, `mmol`.
    pub amount_unit: String,
    /// Total volume to infuse.
    pub volume: Volume,
    /// Needed for mL/kg/h and amount/kg/min schedules.
    pub weight: Option<BodyWeight>,
}

impl Bag {
    /// Amount per mL.
    pub fn concentration_per_ml(&self) -> f64 {
        self.dose_amount / self.volume.value()
    }
}

/// One pump step: the shape of `pump_steps` in the CLI output and of a PCD-03 programme step.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PumpStep {
    /// Minutes from the start of the infusion.
    pub start_minute: f64,
    pub rate_ml_per_h: f64,
    /// The drug rate: amount/h for flat schedules, amount/kg/min for per-kg schedules.
    pub dose_rate: Qty,
    /// Volume to be infused in this step.
    pub vtbi_ml: f64,
    pub duration_minutes: f64,
}

/// A computed titration plan.
#[derive(Clone, Debug, PartialEq)]
pub struct TitrationPlan {
    pub steps: Vec<PumpStep>,
    pub duration: Duration,
    pub total_volume: Volume,
    /// The schedule's highest rate in mL/h (reached or not).
    pub max_rate: VolumeRate,
}

/// Why a schedule cannot be computed. Each names what is wrong; callers map it to the field.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TitrationError {
    #[error("this schedule is per kg (mL/kg/h or mg/kg/min): a weight is required")]
    WeightRequired,
    #[error("the bag must hold a positive, finite amount and volume")]
    EmptyBag,
    #[error("the schedule is invalid: {0}")]
    BadSchedule(String),
    #[error(
        "the step table ends before the bag is empty ({remaining_ml:.1} mL left); its last row needs no duration"
    )]
    TableTooShort { remaining_ml: f64 },
}

/// Relative tolerance under which a remainder counts as an empty bag (floating-point noise).
const EMPTY_EPS: f64 = 1e-9;
/// A linear ramp never needs more steps than this (guards a zero increment loop).
const MAX_STEPS: usize = 1000;

/// mL/h for a schedule rate.
fn to_ml_per_h(unit: RampUnit, rate: f64, bag: &Bag) -> Result<f64, TitrationError> {
    let c = bag.concentration_per_ml();
    let w = || {
        bag.weight
            .map(|w| w.value())
            .ok_or(TitrationError::WeightRequired)
    };
    Ok(match unit {
        RampUnit::AmountPerHour => rate / c,
        RampUnit::MlPerHour => rate,
        RampUnit::MlPerKgPerHour => rate * w()?,
        RampUnit::AmountPerKgPerMinute => rate * w()? * 60.0 / c,
    })
}

/// The drug rate shown beside a pump rate.
fn dose_rate(unit: RampUnit, ml_per_h: f64, bag: &Bag) -> Qty {
    let amount_per_h = ml_per_h * bag.concentration_per_ml();
    match (unit, bag.weight) {
        (RampUnit::MlPerKgPerHour | RampUnit::AmountPerKgPerMinute, Some(w)) => Qty::new(
            amount_per_h / w.value() / 60.0,
            &format!("{}/kg/min", bag.amount_unit),
        ),
        _ => Qty::new(amount_per_h, &format!("{}/h", bag.amount_unit)),
    }
}

/// A ladder row: a pump rate for a number of minutes (`None` = until empty).
type Rung = (f64, Option<f64>);

fn check_positive(name: &str, v: f64) -> Result<(), TitrationError> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(TitrationError::BadSchedule(format!(
            "{name} must be a positive number, not {v}"
        )))
    }
}

/// Turns a schedule into pump-rate rungs.
fn ladder(schedule: &Schedule, bag: &Bag) -> Result<Vec<Rung>, TitrationError> {
    match schedule {
        Schedule::Linear {
            unit,
            start_rate,
            increment,
            interval_min,
            max_rate,
        } => {
            check_positive("start_rate", *start_rate)?;
            check_positive("interval_min", *interval_min)?;
            check_positive("max_rate", *max_rate)?;
            if !(increment.is_finite() && *increment >= 0.0) {
                return Err(TitrationError::BadSchedule(format!(
                    "increment must be ≥ 0, not {increment}"
                )));
            }
            if start_rate > max_rate {
                return Err(TitrationError::BadSchedule(format!(
                    "start_rate {start_rate} exceeds max_rate {max_rate}"
                )));
            }
            let mut rungs = Vec::new();
            let mut k = 0.0;
            loop {
                let rate = start_rate + k * increment;
                if rate >= *max_rate * (1.0 - EMPTY_EPS)
                    || *increment == 0.0
                    || rungs.len() >= MAX_STEPS
                {
                    rungs.push((to_ml_per_h(*unit, rate.min(*max_rate), bag)?, None));
                    break;
                }
                rungs.push((to_ml_per_h(*unit, rate, bag)?, Some(*interval_min)));
                k += 1.0;
            }
            Ok(rungs)
        }
        Schedule::Steps { unit, steps } => {
            if steps.is_empty() {
                return Err(TitrationError::BadSchedule(
                    "the step table is empty".into(),
                ));
            }
            let mut rungs = Vec::new();
            for (i, s) in steps.iter().enumerate() {
                match s {
                    StepSpec::Rate { rate, minutes } => {
                        check_positive(&format!("steps[{i}].rate"), *rate)?;
                        if let Some(m) = minutes {
                            check_positive(&format!("steps[{i}].minutes"), *m)?;
                        } else if i + 1 != steps.len() {
                            return Err(TitrationError::BadSchedule(format!(
                                "only the last step may run until the bag is empty (steps[{i}] has no minutes)"
                            )));
                        }
                        rungs.push((to_ml_per_h(*unit, *rate, bag)?, *minutes));
                    }
                    StepSpec::DoseFraction { fraction, minutes } => {
                        check_positive(&format!("steps[{i}].fraction"), *fraction)?;
                        check_positive(&format!("steps[{i}].minutes"), *minutes)?;
                        let ml = fraction * bag.volume.value();
                        rungs.push((ml / (minutes / 60.0), Some(*minutes)));
                    }
                }
            }
            Ok(rungs)
        }
    }
}

/// Runs rungs against a volume, from `start_minute`, until the volume is infused.
fn run_rungs(
    rungs: &[Rung],
    volume_ml: f64,
    start_minute: f64,
    unit: RampUnit,
    bag: &Bag,
) -> Result<Vec<PumpStep>, TitrationError> {
    let mut steps = Vec::new();
    let mut remaining = volume_ml;
    let mut t = start_minute;
    let eps = EMPTY_EPS * bag.volume.value();
    for &(rate, minutes) in rungs {
        if remaining <= eps {
            break;
        }
        let full = minutes.map(|m| rate * m / 60.0);
        let (vtbi, dur) = match full {
            Some(v) if v < remaining - eps => (v, minutes.unwrap_or(0.0)),
            _ => (remaining, remaining / rate * 60.0),
        };
        steps.push(PumpStep {
            start_minute: t,
            rate_ml_per_h: rate,
            dose_rate: dose_rate(unit, rate, bag),
            vtbi_ml: vtbi,
            duration_minutes: dur,
        });
        t += dur;
        remaining -= vtbi;
    }
    if remaining > eps {
        return Err(TitrationError::TableTooShort {
            remaining_ml: remaining,
        });
    }
    Ok(steps)
}

fn check_bag(bag: &Bag) -> Result<(), TitrationError> {
    let ok = |v: f64| v.is_finite() && v > 0.0;
    if !ok(bag.dose_amount) || !ok(bag.volume.value()) {
        return Err(TitrationError::EmptyBag);
    }
    if let Some(w) = bag.weight
        && !ok(w.value())
    {
        return Err(TitrationError::WeightRequired);
    }
    Ok(())
}

fn finish(steps: Vec<PumpStep>, bag: &Bag, rungs: &[Rung]) -> TitrationPlan {
    let end = steps
        .last()
        .map(|s| s.start_minute + s.duration_minutes)
        .unwrap_or(0.0);
    TitrationPlan {
        steps,
        duration: Duration::new(end / 60.0),
        total_volume: bag.volume,
        max_rate: VolumeRate::new(rungs.iter().map(|r| r.0).fold(0.0, f64::max)),
    }
}

/// Plans an infusion of `bag` by `schedule`: pump steps ending exactly when the bag is empty.
pub fn plan(schedule: &Schedule, bag: &Bag) -> Result<TitrationPlan, TitrationError> {
    check_bag(bag)?;
    if schedule.unit().needs_weight() && bag.weight.is_none() {
        return Err(TitrationError::WeightRequired);
    }
    let rungs = ladder(schedule, bag)?;
    let steps = run_rungs(&rungs, bag.volume.value(), 0.0, schedule.unit(), bag)?;
    Ok(finish(steps, bag, &rungs))
}

/// An infusion reaction during a planned infusion.
#[derive(Clone, Debug, PartialEq)]
pub struct Reaction {
    /// Minutes from the start of the infusion when the infusion was stopped.
    pub at_minute: f64,
    /// Minutes the infusion stays stopped (symptoms resolving) before it resumes.
    pub pause_minutes: f64,
    /// The resumed rate as a fraction of the rate running at the reaction (Rituxan PI: at
    /// most 0.5; Ocrevus PI: half the rate).
    pub resume_fraction: f64,
    /// Minutes at the resumed rate before re-escalating (Ocrevus PI: at least 30).
    pub hold_minutes: f64,
}

/// Re-plans after a reaction: the steps already run (cut at the reaction), a pause, the
/// reduced rate for `hold_minutes`, then re-escalation. A linear ramp climbs again by its
/// increment every interval up to its maximum; a step table resumes its rows whose rate is
/// above the reduced rate. The plan still ends exactly when the bag is empty.
pub fn replan_after_reaction(
    schedule: &Schedule,
    bag: &Bag,
    reaction: &Reaction,
) -> Result<TitrationPlan, TitrationError> {
    let original = plan(schedule, bag)?;
    let frac = reaction.resume_fraction;
    if !(frac.is_finite() && frac > 0.0 && frac <= 1.0) {
        return Err(TitrationError::BadSchedule(format!(
            "resume_fraction must be above 0 and at most 1, not {frac}"
        )));
    }
    if !(reaction.pause_minutes.is_finite() && reaction.pause_minutes >= 0.0) {
        return Err(TitrationError::BadSchedule(
            "pause_minutes must be ≥ 0".into(),
        ));
    }
    check_positive("hold_minutes", reaction.hold_minutes)?;
    let end = original.duration.value() * 60.0;
    if !(reaction.at_minute.is_finite() && reaction.at_minute >= 0.0 && reaction.at_minute < end) {
        return Err(TitrationError::BadSchedule(format!(
            "the reaction must happen during the infusion (0 to {end:.1} min), not at {} min",
            reaction.at_minute
        )));
    }
    // Steps before the reaction, the running one cut at the reaction.
    let mut steps = Vec::new();
    let mut infused = 0.0;
    let mut running_rate = 0.0;
    for s in &original.steps {
        if s.start_minute >= reaction.at_minute {
            break;
        }
        let mut s = s.clone();
        let ends = s.start_minute + s.duration_minutes;
        if ends > reaction.at_minute {
            s.duration_minutes = reaction.at_minute - s.start_minute;
            s.vtbi_ml = s.rate_ml_per_h * s.duration_minutes / 60.0;
        }
        running_rate = s.rate_ml_per_h;
        infused += s.vtbi_ml;
        steps.push(s);
    }
    let resumed = running_rate * frac;
    let unit = schedule.unit();
    let all = ladder(schedule, bag)?;
    let top = all.iter().map(|r| r.0).fold(0.0, f64::max);
    let mut rungs: Vec<Rung> = vec![(resumed, Some(reaction.hold_minutes))];
    match schedule {
        Schedule::Linear {
            increment,
            interval_min,
            ..
        } => {
            let inc_ml = to_ml_per_h(unit, *increment, bag)?;
            let mut rate = resumed;
            while inc_ml > 0.0 && rungs.len() < MAX_STEPS {
                rate += inc_ml;
                if rate >= top * (1.0 - EMPTY_EPS) {
                    break;
                }
                rungs.push((rate, Some(*interval_min)));
            }
            rungs.push((top, None));
        }
        Schedule::Steps { .. } => {
            rungs.extend(all.iter().filter(|r| r.0 > resumed * (1.0 + EMPTY_EPS)));
            // The last row runs until empty (a dose-fraction table ends with a timed row).
            if let Some(last) = rungs.last_mut() {
                last.1 = None;
            }
        }
    }
    let restart = reaction.at_minute + reaction.pause_minutes;
    let rest = run_rungs(&rungs, bag.volume.value() - infused, restart, unit, bag)?;
    steps.extend(rest);
    Ok(finish(steps, bag, &all))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rituximab(dose: f64, first: bool) -> (Schedule, Bag) {
        let (start, inc) = if first { (50.0, 50.0) } else { (100.0, 100.0) };
        (
            Schedule::Linear {
                unit: RampUnit::AmountPerHour,
                start_rate: start,
                increment: inc,
                interval_min: 30.0,
                max_rate: 400.0,
            },
            Bag {
                dose_amount: dose,
                amount_unit: "mg".into(),
                volume: Volume::new(dose / 2.0),
                weight: None,
            },
        )
    }

    #[test]
    fn rituximab_first_700_mg_cumulative_doses() {
        let (s, b) = rituximab(700.0, true);
        let p = plan(&s, &b).expect("plan");
        let mut cum = 0.0;
        let got: Vec<f64> = p
            .steps
            .iter()
            .map(|st| {
                cum += st.vtbi_ml * 2.0;
                cum
            })
            .collect();
        let want = [25.0, 75.0, 150.0, 250.0, 375.0, 525.0, 700.0];
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-9, "{g} vs {w}");
        }
        assert!((p.duration.value() - 3.5).abs() < 1e-12);
        assert!((p.max_rate.value() - 200.0).abs() < 1e-12);
    }

    #[test]
    fn zero_increment_runs_at_start_rate() {
        let s = Schedule::Linear {
            unit: RampUnit::MlPerHour,
            start_rate: 100.0,
            increment: 0.0,
            interval_min: 30.0,
            max_rate: 100.0,
        };
        let b = Bag {
            dose_amount: 1.0,
            amount_unit: "g".into(),
            volume: Volume::new(250.0),
            weight: None,
        };
        let p = plan(&s, &b).expect("plan");
        assert_eq!(p.steps.len(), 1);
        assert!((p.duration.value() - 2.5).abs() < 1e-12);
    }

    #[test]
    fn per_kg_schedule_needs_weight() {
        let s = Schedule::Linear {
            unit: RampUnit::MlPerKgPerHour,
            start_rate: 0.5,
            increment: 0.5,
            interval_min: 30.0,
            max_rate: 5.0,
        };
        let b = Bag {
            dose_amount: 28.0,
            amount_unit: "g".into(),
            volume: Volume::new(280.0),
            weight: None,
        };
        assert_eq!(plan(&s, &b), Err(TitrationError::WeightRequired));
    }
}
