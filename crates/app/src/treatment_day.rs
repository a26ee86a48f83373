//! Treatment days: a therapy plan's planned day released as its ordered lines — the
//! premedications with their lead times, hydration, the drugs in the protocol's sequence and
//! the observation after them. Each medication line is an order made through the normal order
//! path (every check, overrides per line) and linked to the plan (`orders.therapy_plan_id`)
//! and to its day and line (`derivation.origin.kind = "treatment_day"`). The day is signed in
//! one action (each line re-checked first; nothing is signed unless every line can be) and
//! verified line by line by the pharmacist (the ordinary blind verification of each order).
//!
//! At release the protocol's go/no-go labs are evaluated for the day (a `hold` lab outside
//! its threshold, missing or too old refuses the release unless the prescriber records a
//! reason), a dose-modification level (0, −1, −2 … as the protocol's `dose_levels` define)
//! may be chosen per drug, and every line shows the percent change of its dose from the last
//! administered dose of the same drug. Releases, holds, resumptions and stops are stored in
//! the plan (`schedule_json.released`, `schedule_json.held`, `status`) with their audit
//! events (`therapy_plan.release_day`, `.hold`, `.resume`, `.stop`).

use std::collections::BTreeMap;

use infusio_core::input::Fields;
use infusio_core::plan::protocol::{DoseBasis, HydrationTiming, LabAction, LabGate, Protocol};
use infusio_core::units::parse_quantity;
use infusio_store::records::{Order, TherapyPlan};
use infusio_store::{Change, OrderStatus, Stored};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::commands::{NewOrder, SignInput};
use crate::db::text;
use crate::order_origin::{OrderLink, OrderOrigin, origin_of};
use crate::orders::{
    ActiveOrder, OrderParams, OrderSeen, Override, apply_overrides, num_text, read_overrides,
    stored,
};
use crate::patients::number;
use crate::plans::{PlannedDay, builtin_protocols};
use crate::time::{iso_from_us, parse_instant};
use crate::{Action, Actor, App, AppError};

const US_PER_H: f64 = 3_600_000_000.0;

/// What a line of a treatment day is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    Premedication,
    Hydration,
    Drug,
    /// Observation after the drugs (no order).
    Observation,
}

/// The link from an order to its treatment day and line, kept in the order's derivation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayLine {
    pub plan_id: String,
    /// Position of the day in the plan's planned days (from 0).
    pub day_index: usize,
    pub date: String,
    pub cycle: u32,
    pub day: u32,
    /// Position of the line in the day (from 1).
    pub line_no: u32,
    pub line_kind: LineKind,
    pub medication: String,
    /// Premedication: minutes before the first drug starts.
    pub lead_min: Option<f64>,
    /// Hydration: `before`, `with` or `after` the drugs.
    pub hydration_timing: Option<String>,
    /// The dose as the protocol writes it at the chosen level (`175 mg/m2`).
    pub protocol_dose: String,
    /// 0 = the protocol's dose; −1, −2 … the protocol's reduced levels.
    pub dose_level: i32,
    /// The protocol's source id for this line.
    pub source: String,
}

/// A line as planned: its link and, for a medication, the order it becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedLine {
    pub line: DayLine,
    /// `None` for the observation line.
    pub params: Option<OrderParams>,
    /// Observation minutes (observation line only).
    pub observation_min: Option<f64>,
}

/// The go/no-go result of one protocol lab for the day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    pub lab: String,
    /// `12.5 10*9/L`, or `None` when no result is recorded.
    pub value: Option<String>,
    pub collected_at: Option<String>,
    /// `>= 1.5 10*9/L`, `<= 1.5 mg/dL`, `1.5 to 3 …`
    pub threshold: String,
    /// `go`, or when outside / missing / too old: the protocol's action (`hold`, `reduce`,
    /// `notify`).
    pub outcome: String,
    /// `in_range`, `outside`, `missing` or `too_old`.
    pub status: String,
    /// Whether this result stops the day (a `hold` lab that is not in range).
    pub blocks: bool,
    pub message: String,
    pub source: String,
}

/// Evaluates the protocol's labs on the patient's latest results at `now_us`. A lab that is
/// missing or older than `max_age_h` counts as not in range: the day cannot be judged on it.
pub fn evaluate_gates(
    gates: &[LabGate],
    labs: &[(String, f64, String, String)],
    now_us: i64,
) -> Vec<GateResult> {
    gates
        .iter()
        .map(|g| {
            let latest = labs.iter().find(|(name, ..)| *name == g.lab);
            let threshold = match (g.min, g.max) {
                (Some(lo), Some(hi)) => format!("{} to {} {}", num_text(lo), num_text(hi), g.unit),
                (Some(lo), None) => format!(">= {} {}", num_text(lo), g.unit),
                (None, Some(hi)) => format!("<= {} {}", num_text(hi), g.unit),
                (None, None) => format!("recorded ({})", g.unit),
            };
            let (value, collected_at, status) = match latest {
                None => (None, None, "missing"),
                Some((_, v, unit, at)) => {
                    let converted = if *unit == g.unit {
                        Some(*v)
                    } else {
                        parse_quantity(&format!("{v} {unit}"))
                            .ok()
                            .and_then(|q| q.value_in(&g.unit).ok())
                    };
                    let age_h = parse_instant("collected_at", at)
                        .map(|t| (now_us - t) as f64 / US_PER_H)
                        .unwrap_or(f64::INFINITY);
                    let status = match converted {
                        _ if g.max_age_h.is_some_and(|m| age_h > m) => "too_old",
                        None => "missing",
                        Some(x)
                            if g.min.is_some_and(|lo| x < lo) || g.max.is_some_and(|hi| x > hi) =>
                        {
                            "outside"
                        }
                        Some(_) => "in_range",
                    };
                    (
                        Some(format!("{} {unit}", num_text(*v))),
                        Some(at.clone()),
                        status,
                    )
                }
            };
            let action = match g.action {
                LabAction::Hold => "hold",
                LabAction::Reduce => "reduce",
                LabAction::Notify => "notify",
            };
            let in_range = status == "in_range";
            GateResult {
                lab: g.lab.clone(),
                value,
                collected_at,
                threshold,
                outcome: if in_range { "go" } else { action }.to_string(),
                status: status.to_string(),
                blocks: !in_range && g.action == LabAction::Hold,
                message: g.message.clone(),
                source: g.source.clone(),
            }
        })
        .collect()
}

/// The protocol's dose of `medication` at `level` (0, −1, −2 …), in `unit`.
fn dose_at_level(
    p: &Protocol,
    medication: &str,
    protocol_dose: f64,
    unit: &str,
    level: i32,
) -> Result<f64, AppError> {
    if level == 0 {
        return Ok(protocol_dose);
    }
    let field = format!("dose_levels.{medication}");
    let levels = p
        .dose_levels
        .iter()
        .find(|l| l.medication == medication && l.unit == unit)
        .ok_or_else(|| {
            AppError::invalid(
                &field,
                level.to_string(),
                format!(
                    "0: the protocol {} defines no reduced levels for {medication}",
                    p.id
                ),
            )
        })?;
    let idx = usize::try_from(-i64::from(level)).unwrap_or(usize::MAX);
    levels.levels.get(idx).copied().ok_or_else(|| {
        AppError::invalid(
            &field,
            level.to_string(),
            format!(
                "a level from 0 to -{} ({} {unit})",
                levels.levels.len().saturating_sub(1),
                levels
                    .levels
                    .iter()
                    .map(|v| num_text(*v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })
}

/// The lines of planned day `index` of `plan_id`: premedications (longest lead first),
/// hydration before, the drugs in the protocol's order (with hydration given with them),
/// hydration after, then the observation. `levels` picks a dose level per drug;
/// `infusion_numbers` gives each drug's infusion number within the plan.
#[expect(
    clippy::too_many_lines,
    reason = "one day's line order (premedications, hydration before and with, drugs, hydration after, observation) read top to bottom"
)]
pub fn day_lines(
    p: &Protocol,
    plan_id: &str,
    planned: &[PlannedDay],
    index: usize,
    levels: &BTreeMap<String, i32>,
) -> Result<Vec<PlannedLine>, AppError> {
    let d = planned.get(index).ok_or_else(|| {
        AppError::invalid(
            "day_index",
            index.to_string(),
            format!(
                "a planned day from 0 to {}",
                planned.len().saturating_sub(1)
            ),
        )
    })?;
    let phase = p
        .phases
        .iter()
        .find(|ph| ph.name == d.phase)
        .ok_or_else(|| AppError::Internal(format!("phase {} not in {}", d.phase, p.id)))?;
    for m in levels.keys() {
        if !phase
            .drugs
            .iter()
            .any(|x| &x.medication == m && x.days.contains(&d.day))
        {
            return Err(AppError::invalid(
                format!("dose_levels.{m}"),
                m.clone(),
                format!("a drug of this day: {}", d.medications.join(", ")),
            ));
        }
    }
    let mut out: Vec<PlannedLine> = Vec::new();
    let mut push = |kind,
                    medication: &str,
                    params,
                    extra: (Option<f64>, Option<String>, String, i32, String)| {
        let (lead_min, timing, protocol_dose, dose_level, source) = extra;
        let line_no = u32::try_from(out.len() + 1).unwrap_or(u32::MAX);
        out.push(PlannedLine {
            line: DayLine {
                plan_id: plan_id.to_string(),
                day_index: index,
                date: d.date.clone(),
                cycle: d.cycle,
                day: d.day,
                line_no,
                line_kind: kind,
                medication: medication.to_string(),
                lead_min,
                hydration_timing: timing,
                protocol_dose,
                dose_level,
                source,
            },
            observation_min: None,
            params,
        });
    };
    let mut premeds: Vec<_> = phase
        .premedications
        .iter()
        .filter(|pm| !pm.optional && (pm.days.is_empty() || pm.days.contains(&d.day)))
        .collect();
    premeds.sort_by(|a, b| b.lead_min.total_cmp(&a.lead_min));
    for pm in premeds {
        let params = base_params(&pm.medication, &pm.route, Some(pm.dose.clone()), None);
        push(
            LineKind::Premedication,
            &pm.medication,
            Some(params),
            (
                Some(pm.lead_min),
                None,
                pm.dose.clone(),
                0,
                pm.source.clone(),
            ),
        );
    }
    let hydration = |timing: HydrationTiming| {
        phase
            .hydration
            .iter()
            .filter(move |h| h.timing == timing && (h.days.is_empty() || h.days.contains(&d.day)))
    };
    let hydration_line = |h: &infusio_core::plan::protocol::Hydration| {
        let volume = format!("{} mL", num_text(h.volume_ml));
        let mut params = base_params(&h.fluid, "iv", Some(volume.clone()), None);
        params.volume = Some(volume.clone());
        params.duration = Some(format!("{} min", num_text(h.duration_min)));
        let timing = match h.timing {
            HydrationTiming::Before => "before",
            HydrationTiming::With => "with",
            HydrationTiming::After => "after",
        };
        (params, timing.to_string(), volume, h.source.clone())
    };
    for h in hydration(HydrationTiming::Before).chain(hydration(HydrationTiming::With)) {
        let (params, timing, dose, source) = hydration_line(h);
        push(
            LineKind::Hydration,
            &h.fluid,
            Some(params),
            (None, Some(timing), dose, 0, source),
        );
    }
    for (i, drug) in phase
        .drugs
        .iter()
        .filter(|x| x.days.contains(&d.day))
        .enumerate()
    {
        let level = levels.get(&drug.medication).copied().unwrap_or(0);
        let dose = dose_at_level(p, &drug.medication, drug.dose, &drug.dose_unit, level)?;
        let text = format!("{} {}", num_text(dose), drug.dose_unit);
        let mut params = match drug.basis {
            DoseBasis::Flat => base_params(&drug.medication, &drug.route, Some(text.clone()), None),
            DoseBasis::PerKg | DoseBasis::PerM2 | DoseBasis::PerAuc => {
                base_params(&drug.medication, &drug.route, None, Some(text.clone()))
            }
            DoseBasis::Formula => {
                return Err(AppError::invalid(
                    format!("phases.drugs[{i}]"),
                    drug.medication.clone(),
                    format!(
                        "a drug dosed by a formula ({}) is ordered from the order form with its inputs, not released with the day",
                        drug.formula.clone().unwrap_or_default()
                    ),
                ));
            }
        };
        params.duration = drug.duration_min.map(|m| format!("{} min", num_text(m)));
        params.max_dose.clone_from(&drug.max_dose);
        params.product.clone_from(&drug.product);
        // A continuous infusion is described by its duration; the order's frequency is a
        // repeat interval (`q8h`), so `continuous` is not carried over.
        params.frequency = drug.frequency.clone().filter(|f| f != "continuous");
        params.infusion_number = Some(infusion_number(planned, index, &drug.medication));
        push(
            LineKind::Drug,
            &drug.medication,
            Some(params),
            (None, None, text, level, drug.source.clone()),
        );
    }
    for h in hydration(HydrationTiming::After) {
        let (params, timing, dose, source) = hydration_line(h);
        push(
            LineKind::Hydration,
            &h.fluid,
            Some(params),
            (None, Some(timing), dose, 0, source),
        );
    }
    let first = planned.iter().position(|x| x.phase == d.phase) == Some(index)
        && phase.infusion.as_deref() == Some("first")
        || index == 0;
    let observation = if first {
        p.chair.observation_min_first
    } else {
        p.chair.observation_min_subsequent
    };
    if observation > 0.0 {
        push(
            LineKind::Observation,
            "observation",
            None,
            (
                None,
                None,
                format!("{} min", num_text(observation)),
                0,
                p.chair.source.clone(),
            ),
        );
        if let Some(last) = out.last_mut() {
            last.observation_min = Some(observation);
        }
    }
    Ok(out)
}

/// Infusion number of `medication` on planned day `index`: 1 + the earlier planned days with it.
fn infusion_number(planned: &[PlannedDay], index: usize, medication: &str) -> u32 {
    let earlier = planned[..index]
        .iter()
        .filter(|d| d.medications.iter().any(|m| m == medication))
        .count();
    u32::try_from(earlier + 1).unwrap_or(u32::MAX)
}

fn base_params(
    medication: &str,
    route: &str,
    dose: Option<String>,
    dose_per: Option<String>,
) -> OrderParams {
    OrderParams {
        medication: medication.to_string(),
        dose_per,
        dose,
        weight_basis: None,
        max_dose: None,
        rounding: None,
        route: route.to_string(),
        volume: None,
        duration: None,
        line: None,
        frequency: None,
        infusion_number: None,
        product: None,
        indication: None,
        off_library: None,
        target_hemoglobin: None,
        iron_stores: None,
        pn: None,
        titration: None,
    }
}

/// Releasing a plan's day: `{["day_index"], ["dose_levels": {"paclitaxel": -1}],
/// ["overrides": {"<line_no>": [{"code", "reason"}]}], ["lab_override_reason"]}`. Without
/// `day_index`, the next planned day not yet released.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReleaseDay {
    pub day_index: Option<usize>,
    /// Per line number, the bag volume and infusion time the prescriber chooses where the
    /// protocol gives none or gives chair time only (`{"4": {"volume": "250 mL", "duration":
    /// "2 h"}}`).
    pub adjustments: BTreeMap<u32, LineAdjustment>,
    pub dose_levels: BTreeMap<String, i32>,
    pub overrides: BTreeMap<u32, Vec<Override>>,
    pub lab_override_reason: Option<String>,
}

fn whole(f: &mut Fields, key: &str, min: f64, max: f64) -> Result<Option<f64>, AppError> {
    match f.opt_number(key)? {
        None => Ok(None),
        Some(n) if n.fract() == 0.0 && (min..=max).contains(&n) => Ok(Some(n)),
        Some(n) => Err(AppError::invalid(
            f.path_of(key),
            n.to_string(),
            format!("a whole number from {} to {}", num_text(min), num_text(max)),
        )),
    }
}

impl TryFrom<&Json> for ReleaseDay {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let day_index = whole(&mut f, "day_index", 0.0, 10_000.0)?.map(|n| n as usize);
        let adjustments = read_adjustments(&mut f, input)?;
        let mut dose_levels = BTreeMap::new();
        if let Some(mut levels) = f.opt_object("dose_levels")? {
            let keys: Vec<String> = input["dose_levels"]
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            for k in keys {
                let n = whole(&mut levels, &k, -10.0, 0.0)?.unwrap_or(0.0);
                dose_levels.insert(k, n as i32);
            }
            levels.finish()?;
        }
        let mut overrides = BTreeMap::new();
        if let Some(mut by_line) = f.opt_object("overrides")? {
            let keys: Vec<String> = input["overrides"]
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            for k in keys {
                let line: u32 = k.parse().map_err(|_| {
                    AppError::invalid(
                        format!("overrides.{k}"),
                        k.clone(),
                        "a line number, e.g. \"3\"",
                    )
                })?;
                let wrapped = json!({"overrides": by_line.raw(&k).cloned().unwrap_or(Json::Null)});
                let mut w = Fields::new(&wrapped, &format!("overrides.{k}"))?;
                overrides.insert(line, read_overrides(&mut w)?);
            }
            by_line.finish()?;
        }
        let lab_override_reason = f
            .opt_string("lab_override_reason")?
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        f.finish()?;
        Ok(ReleaseDay {
            day_index,
            adjustments,
            dose_levels,
            overrides,
            lab_override_reason,
        })
    }
}

/// A line's volume and infusion time as the prescriber sets them at release.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LineAdjustment {
    pub volume: Option<String>,
    pub duration: Option<String>,
}

fn read_adjustments(
    f: &mut Fields,
    input: &Json,
) -> Result<BTreeMap<u32, LineAdjustment>, AppError> {
    let mut out = BTreeMap::new();
    let Some(mut by_line) = f.opt_object("lines")? else {
        return Ok(out);
    };
    let keys: Vec<String> = input["lines"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    for k in keys {
        let line: u32 = k.parse().map_err(|_| {
            AppError::invalid(format!("lines.{k}"), k.clone(), "a line number, e.g. \"3\"")
        })?;
        let mut a = by_line.opt_object(&k)?.ok_or_else(|| {
            AppError::invalid(
                format!("lines.{k}"),
                "",
                "an object {\"volume\": \"250 mL\", \"duration\": \"2 h\"}",
            )
        })?;
        let volume = a.opt_string("volume")?;
        let duration = a.opt_string("duration")?;
        a.finish()?;
        out.insert(line, LineAdjustment { volume, duration });
    }
    by_line.finish()?;
    Ok(out)
}

/// Signing a released day: `{["overrides": {"<order id>": [{"code", "reason"}]}]}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SignDay {
    pub overrides: BTreeMap<String, Vec<Override>>,
}

impl TryFrom<&Json> for SignDay {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let mut overrides = BTreeMap::new();
        if let Some(mut by_order) = f.opt_object("overrides")? {
            let keys: Vec<String> = input["overrides"]
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            for k in keys {
                let wrapped = json!({"overrides": by_order.raw(&k).cloned().unwrap_or(Json::Null)});
                let mut w = Fields::new(&wrapped, &format!("overrides.{k}"))?;
                overrides.insert(k, read_overrides(&mut w)?);
            }
            by_order.finish()?;
        }
        f.finish()?;
        Ok(SignDay { overrides })
    }
}

/// Holding, resuming or stopping a plan: `{"reason"}` (required).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanStatusChange {
    pub reason: String,
}

impl TryFrom<&Json> for PlanStatusChange {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let reason = crate::commands::reason_of(&mut f, true)?.unwrap_or_default();
        f.finish()?;
        Ok(PlanStatusChange { reason })
    }
}

/// What a plan's status change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanStep {
    Hold,
    Resume,
    Stop,
}

/// One released day as stored in the plan (`schedule_json.released[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleasedDay {
    pub day_index: usize,
    pub date: String,
    pub released_at: String,
    pub released_by: String,
    pub order_ids: Vec<String>,
    pub dose_levels: BTreeMap<String, i32>,
    pub labs: Vec<GateResult>,
    pub lab_override_reason: Option<String>,
}

/// One line of a treatment day as shown: the line, its order (as the viewer may see it) and
/// the percent change of its dose from the last administered dose of the same drug.
#[derive(Debug, Clone, Serialize)]
pub struct DayLineView {
    pub line: DayLine,
    /// The order this line becomes (request fields, as `POST /api/orders/preview` takes
    /// them); `None` for the observation line.
    pub planned_order: Option<OrderParams>,
    pub order: Option<DayOrder>,
    /// The planned dose for a day not yet released (`175 mg/m2`), the order's dose otherwise.
    pub dose_text: String,
    /// The dose levels the protocol defines for this drug (`["175 mg/m2", "140 mg/m2"]`).
    pub available_levels: Vec<String>,
    /// The last administered dose of this drug (`350 mg on 2026-…`).
    pub last_administered: Option<String>,
    /// (this dose − last administered) ÷ last administered × 100; `None` without a last
    /// dose, a shown dose, or when the units differ.
    pub percent_change_from_last: Option<f64>,
    pub observation_min: Option<f64>,
}

/// A line's order as the viewer may see it: a pharmacist before verification sees no figures
/// and no findings (blind verification).
#[derive(Debug, Clone, Serialize)]
pub struct DayOrder {
    pub id: String,
    pub version: i64,
    pub status: OrderStatus,
    pub figures_shown: bool,
    /// `350 mg`; `None` when hidden.
    pub dose: Option<String>,
    pub volume_ml: Option<f64>,
    pub rate_ml_per_h: Option<f64>,
    pub findings: Vec<infusio_core::derivation::Finding>,
    pub overrides: Vec<crate::orders::OverrideRecord>,
}

impl DayOrder {
    fn of(seen: &OrderSeen) -> DayOrder {
        match seen {
            OrderSeen::Full(v) => DayOrder {
                id: v.id.clone(),
                version: v.version,
                status: v.status,
                figures_shown: true,
                dose: v.dose.as_ref().map(|d| d.text.clone()),
                volume_ml: v.volume_ml,
                rate_ml_per_h: v.rate_ml_per_h,
                findings: v.findings.clone(),
                overrides: v.overrides.clone(),
            },
            OrderSeen::Blind(v) => DayOrder {
                id: v.id.clone(),
                version: v.version,
                status: v.status,
                figures_shown: false,
                dose: None,
                volume_ml: None,
                rate_ml_per_h: None,
                findings: Vec::new(),
                overrides: v.overrides.clone(),
            },
        }
    }
}

/// A treatment day: the plan, the day, the labs for the day and its lines.
#[derive(Debug, Clone, Serialize)]
pub struct TreatmentDayView {
    pub plan_id: String,
    pub plan_version: i64,
    pub patient_id: String,
    pub protocol: String,
    pub protocol_name: String,
    /// `active`, `held`, `stopped` or `completed`.
    pub plan_status: String,
    pub held_reason: Option<String>,
    pub day_index: usize,
    pub date: String,
    pub phase: String,
    pub cycle: u32,
    pub day: u32,
    pub released: Option<ReleasedDay>,
    /// The next day the prescriber may release (`None` when every day is released).
    pub next_unreleased: Option<usize>,
    pub labs: Vec<GateResult>,
    pub labs_block: bool,
    pub lines: Vec<DayLineView>,
}

fn released_of(plan: &Stored<TherapyPlan>) -> Result<Vec<ReleasedDay>, AppError> {
    match plan.data.schedule_json.get("released") {
        None | Some(Json::Null) => Ok(Vec::new()),
        Some(v) => Vec::<ReleasedDay>::deserialize(v).map_err(|e| {
            AppError::Internal(format!(
                "plan {} has unreadable released days: {e}",
                plan.id
            ))
        }),
    }
}

fn planned_of(plan: &Stored<TherapyPlan>) -> Result<Vec<PlannedDay>, AppError> {
    Vec::<PlannedDay>::deserialize(&plan.data.schedule_json["planned"])
        .map_err(|e| AppError::Internal(format!("plan {} has unreadable days: {e}", plan.id)))
}

fn held_reason(plan: &Stored<TherapyPlan>) -> Option<String> {
    plan.data.schedule_json["held"]["reason"]
        .as_str()
        .map(str::to_string)
}

fn plan_status(plan: &Stored<TherapyPlan>) -> String {
    if plan.data.status == "active" && held_reason(plan).is_some() {
        "held".into()
    } else {
        plan.data.status.clone()
    }
}

fn protocol_of(plan: &Stored<TherapyPlan>) -> Result<Protocol, AppError> {
    let id = plan.data.schedule_json["protocol"]
        .as_str()
        .unwrap_or_default();
    builtin_protocols()
        .map_err(|e| {
            AppError::Internal(format!(
                "the built-in protocols are invalid ({} problems)",
                e.len()
            ))
        })?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or_else(|| {
            AppError::Internal(format!(
                "plan {} names protocol {id}, which is not built in",
                plan.id
            ))
        })
}

impl App {
    async fn load_plan(&self, plan_id: &str) -> Result<Stored<TherapyPlan>, AppError> {
        self.store()
            .get::<TherapyPlan>(plan_id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                entity: "therapy plan",
                id: plan_id.to_string(),
            })
    }

    /// Releases a plan's next (or named) day as orders, one per medication line, through the
    /// normal order path. Every line is computed and checked before any order is written: a
    /// hard stop or a warning without its override on any line refuses the whole day, naming
    /// the line. The plan records the release (`therapy_plan.release_day`).
    #[expect(
        clippy::too_many_lines,
        reason = "the release's order of checks (state, labs, every line, then the writes) kept in one place"
    )]
    pub async fn release_treatment_day(
        &self,
        actor: &Actor,
        plan_id: &str,
        version: Option<i64>,
        input: &ReleaseDay,
    ) -> Result<TreatmentDayView, AppError> {
        let role = actor.permit(Action::CreateOrder)?;
        let version = version.ok_or(AppError::VersionRequired)?;
        let plan = self.load_plan(plan_id).await?;
        check_plan_version(&plan, version)?;
        if plan_status(&plan) != "active" {
            return Err(AppError::state(
                "therapy_plan.not_active",
                format!(
                    "the plan is {}{}: resume it before releasing a day",
                    plan_status(&plan),
                    held_reason(&plan)
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ),
            ));
        }
        let p = protocol_of(&plan)?;
        let planned = planned_of(&plan)?;
        let mut released = released_of(&plan)?;
        let index = match input.day_index {
            Some(i) => i,
            None => (0..planned.len())
                .find(|i| !released.iter().any(|r| r.day_index == *i))
                .ok_or_else(|| {
                    AppError::state(
                        "therapy_plan.all_released",
                        "every planned day of this plan is released",
                    )
                })?,
        };
        if released.iter().any(|r| r.day_index == index) {
            return Err(AppError::state(
                "therapy_plan.day_released",
                format!("day {index} of this plan is already released"),
            ));
        }
        let mut lines = day_lines(&p, plan_id, &planned, index, &input.dose_levels)?;
        for (n, adj) in &input.adjustments {
            let params = lines
                .iter_mut()
                .find(|l| l.line.line_no == *n)
                .and_then(|l| l.params.as_mut())
                .ok_or_else(|| {
                    AppError::invalid(
                        format!("lines.{n}"),
                        n.to_string(),
                        "the number of a medication line of this day",
                    )
                })?;
            if adj.volume.is_some() {
                params.volume.clone_from(&adj.volume);
            }
            if adj.duration.is_some() {
                params.duration.clone_from(&adj.duration);
            }
        }
        let now = self.now_us();
        let ctx = self.context(&plan.data.patient_id, now).await?;
        let labs = evaluate_gates(&p.labs, &ctx.labs, now);
        let blocking: Vec<&GateResult> = labs.iter().filter(|g| g.blocks).collect();
        if !blocking.is_empty() && input.lab_override_reason.is_none() {
            return Err(AppError::Blocked {
                code: "treatment_day.labs_hold",
                message: format!(
                    "the day's go/no-go labs say hold: {}; give lab_override_reason to release anyway",
                    blocking
                        .iter()
                        .map(|g| format!("{} {} ({}; needs {})", g.lab, g.value.clone().unwrap_or_else(|| "not recorded".into()), g.status.replace('_', " "), g.threshold))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                findings: Json::Array(
                    blocking
                        .iter()
                        .map(|g| json!({"code": format!("lab.{}", g.lab), "severity": "hard_stop", "message": g.message}))
                        .collect(),
                ),
            });
        }
        // Every line is computed and its overrides applied before anything is written, with
        // the patient's active orders and the day's earlier lines as the order path will see
        // them (a second line of the same drug is a duplicate to confirm, as on any order).
        let mut active = self.active_orders_of(&plan.data.patient_id, None).await?;
        let mut prepared: Vec<(NewOrder, OrderLink)> = Vec::new();
        for l in &lines {
            let Some(params) = &l.params else { continue };
            let order = NewOrder {
                patient_id: plan.data.patient_id.clone(),
                params: params.clone(),
                overrides: input
                    .overrides
                    .get(&l.line.line_no)
                    .cloned()
                    .unwrap_or_default(),
            };
            crate::roles::permit_off_library(actor, params)?;
            let computed = self
                .compute(&ctx, params, &active, now, None)
                .map_err(|e| at_line(e, &l.line))?;
            active.push(ActiveOrder {
                medication: params.medication.clone(),
                dose: format!("{} {}", num_text(computed.dose), computed.dose_unit),
                route: params.route.clone(),
            });
            apply_overrides(&computed, &order.overrides, &[], actor, role.as_str(), now)
                .map_err(|e| at_line(e, &l.line))?;
            prepared.push((
                order,
                OrderLink {
                    therapy_plan_id: Some(plan_id.to_string()),
                    origin: Some(OrderOrigin::TreatmentDay(l.line.clone())),
                },
            ));
        }
        let mut order_ids = Vec::new();
        for (order, link) in prepared {
            let line = match &link.origin {
                Some(OrderOrigin::TreatmentDay(l)) => l.clone(),
                _ => unreachable!("every prepared line carries its day line"),
            };
            let created = self
                .create_order_linked(actor, &order, None, link)
                .await
                .map_err(|e| at_line(e, &line))?;
            order_ids.push(created.order.id);
        }
        released.push(ReleasedDay {
            day_index: index,
            date: planned[index].date.clone(),
            released_at: iso_from_us(now),
            released_by: actor.user_id.clone(),
            order_ids,
            dose_levels: input.dose_levels.clone(),
            labs,
            lab_override_reason: input.lab_override_reason.clone(),
        });
        let mut row = plan.data.clone();
        row.schedule_json["released"] =
            serde_json::to_value(&released).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut change = Change::by(&actor.user_id, role.as_str())
            .action("therapy_plan.release_day")
            .derivation(json!({"day_index": index, "dose_levels": input.dose_levels, "labs": released.last().map(|r| r.labs.clone())}));
        if let Some(r) = &input.lab_override_reason {
            change = change.reason(r.clone());
        }
        let mut tx = self.store().begin().await?;
        tx.update(&change, plan_id, plan.version, row).await?;
        tx.commit().await?;
        self.treatment_day(actor, plan_id, index).await
    }

    /// Signs every draft line of a released day in one action. Each line is re-checked with
    /// the patient as recorded now and its overrides applied first; nothing is signed unless
    /// every line can be.
    pub async fn sign_treatment_day(
        &self,
        actor: &Actor,
        plan_id: &str,
        index: usize,
        input: &SignDay,
    ) -> Result<TreatmentDayView, AppError> {
        let role = actor.permit(Action::SignOrder)?;
        let plan = self.load_plan(plan_id).await?;
        let released = released_of(&plan)?;
        let day = released
            .iter()
            .find(|r| r.day_index == index)
            .ok_or_else(|| {
                AppError::state(
                    "therapy_plan.day_not_released",
                    format!("day {index} of this plan is not released"),
                )
            })?;
        let now = self.now_us();
        let mut to_sign = Vec::new();
        for id in &day.order_ids {
            let o = self
                .store()
                .get::<Order>(id)
                .await?
                .ok_or_else(|| AppError::NotFound {
                    entity: "order",
                    id: id.clone(),
                })?;
            if o.data.status != OrderStatus::Draft {
                continue;
            }
            let line = match origin_of(&o)? {
                Some(OrderOrigin::TreatmentDay(l)) => l,
                _ => {
                    return Err(AppError::Internal(format!(
                        "order {id} of a released day has no day line"
                    )));
                }
            };
            let computed = self.recheck(&o).await.map_err(|e| at_line(e, &line))?;
            let given = input.overrides.get(id).cloned().unwrap_or_default();
            let earlier: Vec<crate::orders::OverrideRecord> =
                stored(id, "overrides", &o.data.overrides_json)?;
            apply_overrides(&computed, &given, &earlier, actor, role.as_str(), now)
                .map_err(|e| at_line(e, &line))?;
            to_sign.push((o, given, line));
        }
        for (o, overrides, line) in to_sign {
            self.sign_order(actor, &o.id, Some(o.version), &SignInput { overrides })
                .await
                .map_err(|e| at_line(e, &line))?;
        }
        self.treatment_day(actor, plan_id, index).await
    }

    /// Holds, resumes or stops a plan, with its reason in the audit trail. A held plan keeps
    /// its status `active` with `schedule_json.held`; a stopped plan is `stopped` for good.
    pub async fn change_plan_status(
        &self,
        actor: &Actor,
        plan_id: &str,
        version: Option<i64>,
        step: PlanStep,
        input: &PlanStatusChange,
    ) -> Result<Stored<TherapyPlan>, AppError> {
        let role = actor.permit(Action::CreateOrder)?;
        let version = version.ok_or(AppError::VersionRequired)?;
        let plan = self.load_plan(plan_id).await?;
        check_plan_version(&plan, version)?;
        let status = plan_status(&plan);
        let now = self.now_us();
        let mut row = plan.data.clone();
        let action = match (step, status.as_str()) {
            (PlanStep::Hold, "active") => {
                row.schedule_json["held"] =
                    json!({"since": iso_from_us(now), "by": actor.user_id, "reason": input.reason});
                "therapy_plan.hold"
            }
            (PlanStep::Resume, "held") => {
                row.schedule_json["held"] = Json::Null;
                "therapy_plan.resume"
            }
            (PlanStep::Stop, "active" | "held") => {
                row.status = "stopped".into();
                row.schedule_json["stopped"] =
                    json!({"at": iso_from_us(now), "by": actor.user_id, "reason": input.reason});
                "therapy_plan.stop"
            }
            (_, s) => {
                return Err(AppError::state(
                    "therapy_plan.invalid_state",
                    format!(
                        "cannot {} a plan that is {s}",
                        match step {
                            PlanStep::Hold => "hold",
                            PlanStep::Resume => "resume",
                            PlanStep::Stop => "stop",
                        }
                    ),
                ));
            }
        };
        let change = Change::by(&actor.user_id, role.as_str())
            .action(action)
            .reason(input.reason.clone());
        let mut tx = self.store().begin().await?;
        let updated = tx.update(&change, plan_id, plan.version, row).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// A plan's day: its labs evaluated now and its lines (with their orders once released).
    pub async fn treatment_day(
        &self,
        actor: &Actor,
        plan_id: &str,
        index: usize,
    ) -> Result<TreatmentDayView, AppError> {
        actor.permit(Action::ReadClinical)?;
        let plan = self.load_plan(plan_id).await?;
        let p = protocol_of(&plan)?;
        let planned = planned_of(&plan)?;
        let released_days = released_of(&plan)?;
        let released = released_days.iter().find(|r| r.day_index == index).cloned();
        let levels = released
            .as_ref()
            .map(|r| r.dose_levels.clone())
            .unwrap_or_default();
        let planned_lines = day_lines(&p, plan_id, &planned, index, &levels)?;
        let now = self.now_us();
        let ctx = self.context(&plan.data.patient_id, now).await?;
        let labs = evaluate_gates(&p.labs, &ctx.labs, now);
        let mut tx = self.store().begin_snapshot().await?;
        let orders = tx
            .find_by::<Order>("patient_id", text(plan.data.patient_id.clone()))
            .await?;
        tx.rollback().await?;
        // The day's orders by line number (an unreadable origin is an internal error, never a
        // line shown without its order).
        let mut by_line: BTreeMap<u32, &Stored<Order>> = BTreeMap::new();
        if let Some(r) = &released {
            for o in orders.iter().filter(|o| r.order_ids.contains(&o.id)) {
                if let Some(OrderOrigin::TreatmentDay(x)) = origin_of(o)? {
                    by_line.insert(x.line_no, o);
                }
            }
        }
        let mut lines = Vec::new();
        for l in planned_lines {
            let order = by_line.get(&l.line.line_no).copied();
            lines.push(line_view(actor, &p, l, order, &orders)?);
        }
        let d = &planned[index];
        Ok(TreatmentDayView {
            plan_id: plan.id.clone(),
            plan_version: plan.version,
            patient_id: plan.data.patient_id.clone(),
            protocol: p.id.clone(),
            protocol_name: p.name.clone(),
            plan_status: plan_status(&plan),
            held_reason: held_reason(&plan),
            day_index: index,
            date: d.date.clone(),
            phase: d.phase.clone(),
            cycle: d.cycle,
            day: d.day,
            released,
            next_unreleased: (0..planned.len())
                .find(|i| !released_days.iter().any(|r| r.day_index == *i)),
            labs_block: labs.iter().any(|g| g.blocks),
            labs,
            lines,
        })
    }
}

fn check_plan_version(plan: &Stored<TherapyPlan>, expected: i64) -> Result<(), AppError> {
    if plan.version == expected {
        Ok(())
    } else {
        Err(AppError::Stale {
            entity: "therapy plan",
            id: plan.id.clone(),
            expected,
            current: plan.version,
        })
    }
}

/// Names the line in a refusal of one of the day's orders.
fn at_line(e: AppError, line: &DayLine) -> AppError {
    let prefix = format!("lines[{}] ({})", line.line_no, line.medication);
    match e {
        AppError::Invalid(mut ie) => {
            ie.field = format!("{prefix}.{}", ie.field);
            AppError::Invalid(ie)
        }
        AppError::Blocked {
            code,
            message,
            findings,
        } => AppError::Blocked {
            code,
            message: format!("{prefix}: {message}"),
            findings,
        },
        other => other,
    }
}

fn line_view(
    actor: &Actor,
    p: &Protocol,
    l: PlannedLine,
    order: Option<&Stored<Order>>,
    all: &[Stored<Order>],
) -> Result<DayLineView, AppError> {
    let available_levels = p
        .dose_levels
        .iter()
        .find(|x| x.medication == l.line.medication && l.line.line_kind == LineKind::Drug)
        .map(|x| {
            x.levels
                .iter()
                .map(|v| format!("{} {}", num_text(*v), x.unit))
                .collect()
        })
        .unwrap_or_default();
    let seen = order.map(|o| OrderSeen::for_actor(actor, o)).transpose()?;
    let figures = seen
        .as_ref()
        .and_then(|s| s.full())
        .and_then(|v| v.dose.clone());
    let last = all
        .iter()
        .filter(|o| {
            o.data.drug_id == l.line.medication
                && o.data.status == OrderStatus::Completed
                && Some(&o.id) != order.map(|x| &x.id)
        })
        .max_by_key(|o| o.updated_at_us);
    let (last_text, pct) = match (last, &figures) {
        (Some(prev), Some(now)) => {
            let before = number(&prev.data.dose);
            let pct = (prev.data.dose_unit == now.quantity.unit && before > 0.0)
                .then(|| (now.quantity.value - before) / before * 100.0);
            (
                Some(format!(
                    "{} {} on {}",
                    prev.data.dose,
                    prev.data.dose_unit,
                    iso_from_us(prev.updated_at_us)
                )),
                pct,
            )
        }
        (Some(prev), None) => (
            Some(format!(
                "{} {} on {}",
                prev.data.dose,
                prev.data.dose_unit,
                iso_from_us(prev.updated_at_us)
            )),
            None,
        ),
        (None, _) => (None, None),
    };
    Ok(DayLineView {
        dose_text: figures.map_or_else(|| l.line.protocol_dose.clone(), |d| d.text),
        line: l.line,
        planned_order: l.params,
        order: seen.as_ref().map(DayOrder::of),
        available_levels,
        last_administered: last_text,
        percent_change_from_last: pct,
        observation_min: l.observation_min,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plans::plan_dates;

    fn protocol(id: &str) -> Protocol {
        builtin_protocols()
            .expect("protocols load")
            .into_iter()
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("{id} is built in"))
    }

    fn kinds(lines: &[PlannedLine]) -> Vec<(LineKind, String)> {
        lines
            .iter()
            .map(|l| (l.line.line_kind, l.line.medication.clone()))
            .collect()
    }

    /// Carboplatin–paclitaxel day 1: fosaprepitant (60 min lead) before the 30-minute
    /// premedications, then paclitaxel before carboplatin, then the first-infusion observation.
    #[test]
    fn a_day_lists_premedications_by_lead_then_drugs_in_sequence_then_observation() {
        let p = protocol("carboplatin-paclitaxel");
        let planned = plan_dates(&p, (2026, 3, 2), 6);
        let lines = day_lines(&p, "plan", &planned, 0, &BTreeMap::new()).expect("lines");
        let k = kinds(&lines);
        assert_eq!(k[0], (LineKind::Premedication, "fosaprepitant".into()));
        assert_eq!(lines[0].line.lead_min, Some(60.0));
        assert!(
            k[1..5]
                .iter()
                .all(|(kind, _)| *kind == LineKind::Premedication)
        );
        assert_eq!(k[5], (LineKind::Drug, "paclitaxel".into()));
        assert_eq!(k[6], (LineKind::Drug, "carboplatin".into()));
        assert_eq!(k[7].0, LineKind::Observation);
        assert_eq!(lines[7].observation_min, Some(30.0));
        assert_eq!(
            lines[5]
                .params
                .as_ref()
                .and_then(|x| x.dose_per.clone())
                .as_deref(),
            Some("175 mg/m2")
        );
        let numbers: Vec<u32> = lines.iter().map(|l| l.line.line_no).collect();
        assert_eq!(numbers, (1..=8).collect::<Vec<_>>());
        // Day 2 (cycle 2): no observation after later infusions (0 min in the template).
        let later = day_lines(&p, "plan", &planned, 1, &BTreeMap::new()).expect("lines");
        assert!(
            later
                .iter()
                .all(|l| l.line.line_kind != LineKind::Observation)
        );
        assert_eq!(
            later[5].params.as_ref().and_then(|x| x.infusion_number),
            Some(2)
        );
    }

    /// Dose level −1 of paclitaxel is the protocol's 140 mg/m2 (Taxol PI: reduce by 20%).
    #[test]
    fn a_dose_level_replaces_the_protocol_dose_and_an_undefined_one_is_refused() {
        let p = protocol("carboplatin-paclitaxel");
        let planned = plan_dates(&p, (2026, 3, 2), 6);
        let levels = BTreeMap::from([("paclitaxel".to_string(), -1)]);
        let lines = day_lines(&p, "plan", &planned, 0, &levels).expect("lines");
        let pac = lines
            .iter()
            .find(|l| l.line.medication == "paclitaxel")
            .expect("paclitaxel");
        assert_eq!(pac.line.dose_level, -1);
        assert_eq!(
            pac.params
                .as_ref()
                .and_then(|x| x.dose_per.clone())
                .as_deref(),
            Some("140 mg/m2")
        );
        let too_far = BTreeMap::from([("paclitaxel".to_string(), -2)]);
        let Err(AppError::Invalid(e)) = day_lines(&p, "plan", &planned, 0, &too_far) else {
            panic!("level -2 of paclitaxel is not defined");
        };
        assert_eq!(e.field, "dose_levels.paclitaxel");
        assert!(e.message.contains("175, 140"), "{}", e.message);
        let not_today = BTreeMap::from([("cisplatin".to_string(), -1)]);
        assert!(day_lines(&p, "plan", &planned, 0, &not_today).is_err());
    }

    /// Acyclovir: the hydration given with the drug is its own line, with volume and time.
    #[test]
    fn hydration_is_a_line_with_its_volume_and_duration() {
        let p = protocol("acyclovir-hsv-encephalitis");
        let planned = plan_dates(&p, (2026, 3, 2), 6);
        let lines = day_lines(&p, "plan", &planned, 0, &BTreeMap::new()).expect("lines");
        let h = lines
            .iter()
            .find(|l| l.line.line_kind == LineKind::Hydration)
            .expect("hydration");
        assert_eq!(h.line.hydration_timing.as_deref(), Some("with"));
        let params = h.params.as_ref().expect("an order");
        assert_eq!(params.volume.as_deref(), Some("500 mL"));
        assert_eq!(params.duration.as_deref(), Some("60 min"));
    }

    /// The origin kept in an order's derivation reads back as written (the day line's own
    /// fields never collide with the origin's tag).
    #[test]
    fn a_day_line_origin_reads_back() {
        let p = protocol("mfolfox6");
        let planned = plan_dates(&p, (2026, 3, 2), 6);
        let lines = day_lines(&p, "plan", &planned, 0, &BTreeMap::new()).expect("lines");
        let origin = OrderOrigin::TreatmentDay(lines[2].line.clone());
        let json = serde_json::to_value(&origin).expect("serialise");
        assert_eq!(json["kind"], "treatment_day");
        assert_eq!(json["line_kind"], "drug");
        let back: OrderOrigin = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, origin);
    }

    fn lab(name: &str, v: f64, unit: &str, at: &str) -> (String, f64, String, String) {
        (name.into(), v, unit.into(), at.into())
    }

    /// ANC 1.2 holds the day, platelets in range go, a missing or stale result also holds.
    #[test]
    fn the_go_no_go_labs_hold_on_low_missing_or_old_results() {
        let p = protocol("carboplatin-paclitaxel");
        let now = parse_instant("now", "2026-03-02T08:00:00Z").expect("instant");
        let labs = [
            lab("anc", 1.2, "10*9/L", "2026-03-02T06:00:00Z"),
            lab("platelets", 150.0, "10*9/L", "2026-03-02T06:00:00Z"),
            lab("serum_creatinine", 1.8, "mg/dL", "2026-03-02T06:00:00Z"),
        ];
        let g = evaluate_gates(&p.labs, &labs, now);
        let by = |n: &str| g.iter().find(|x| x.lab == n).expect("gate").clone();
        assert_eq!(
            (by("anc").outcome.as_str(), by("anc").blocks),
            ("hold", true)
        );
        assert_eq!(
            (by("platelets").outcome.as_str(), by("platelets").blocks),
            ("go", false)
        );
        // Creatinine above 1.5 mg/dL is a notify: shown, not blocking.
        assert_eq!(
            (
                by("serum_creatinine").outcome.as_str(),
                by("serum_creatinine").blocks
            ),
            ("notify", false)
        );
        let old = [lab("anc", 3.0, "10*9/L", "2026-02-20T06:00:00Z")];
        let g = evaluate_gates(&p.labs, &old, now);
        assert_eq!(g[0].status, "too_old");
        assert!(g[0].blocks);
        assert_eq!(g[1].status, "missing");
        assert!(g[1].blocks);
    }
}
