//! Smart-pump checks at the bedside: every rate change, titration step and bolus recorded
//! during an infusion is checked against the drug library's rate limits for that drug, line
//! and care area, with the same engine and the same blocks as at ordering, and a titration
//! step is checked against the schedule the order was verified with.
//!
//! The rate limits are not restated here: [`App::bedside_rate_findings`] re-runs the core
//! check engine (`infusio_core::check`) on the check input stored with the verified order,
//! with the order's rate replaced by the rate at the pump, and keeps the engine's `rate.*`
//! findings. A hard limit refuses the event (`pump.hard_limit`, naming the limit and its
//! source); a soft limit needs an override with a reason, which the audit event records.
//!
//! The titration timer ([`schedule_state`]) reads the recorded steps and holds, never the
//! start time alone: the current step started at the last recorded rate (a titration step,
//! a rate change or the start), a hold (a rate change to 0 mL/h, e.g. for an infusion
//! reaction) stops the schedule, and the rate the nurse resumes at after a hold (the
//! re-plan) is a new step from which the schedule climbs again.
//!
//! Sources: the limits are the library's own (each finding cites its block's source); the
//! practice of checking every rate change and bolus against the same drug library as the
//! order is ISMP's *Guidelines for optimizing safe implementation and use of smart infusion
//! pumps* (2020), the labelled titration schedules are cited in each library entry
//! (`[[titration]]`, e.g. the rituximab label: 50 mg/h, +50 mg/h every 30 min to 400 mg/h at
//! a first infusion).

use infusio_core::check::check_json;
use infusio_core::derivation::{Finding, Severity};
use infusio_core::units::{Volume, VolumeRate};
use infusio_store::records::{Administration, AdministrationEvent, Order};
use infusio_store::{AdministrationEventKind, Change, Stored};
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::commands::NewEvent;
use crate::db::text;
use crate::orders::{Override, PumpProgramme, num_text};
use crate::patients::{decimal, number};
use crate::{Action, Actor, App, AppError};

/// A step's rate may differ from the schedule's by at most this much, mL/h (the pump shows
/// one decimal).
pub const STEP_RATE_TOLERANCE_ML_PER_H: f64 = 0.05;

/// One step of an order's pump programme: the titration steps computed at verification, or
/// the one continuous step of an untitrated order. The shape the bedside, the scheduler's
/// chair time and a PCD-03 programme read.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgrammeStep {
    /// Minutes from the start of the infusion.
    pub start_minute: f64,
    pub rate: VolumeRate,
    /// Volume to be infused in this step.
    pub vtbi: Volume,
    /// How long the step runs, minutes (the last step: until the bag is empty).
    pub duration_minutes: Option<f64>,
}

/// The complete multi-step programme of an order as stored at verification: the titration
/// schedule's pump steps when the drug titrates, otherwise the ordered rate and volume.
/// Empty when the order has neither.
pub fn programme_steps(p: &PumpProgramme) -> Vec<ProgrammeStep> {
    let titrated = p
        .titration
        .as_ref()
        .and_then(|t| t.details.get("pump_steps"))
        .and_then(Json::as_array);
    if let Some(steps) = titrated {
        let read = |s: &Json, k: &str| s.get(k).and_then(Json::as_f64);
        let out: Vec<ProgrammeStep> = steps
            .iter()
            .filter_map(|s| {
                Some(ProgrammeStep {
                    start_minute: read(s, "start_minute")?,
                    rate: VolumeRate::new(read(s, "rate_ml_per_h")?),
                    vtbi: Volume::new(read(s, "vtbi_ml")?),
                    duration_minutes: read(s, "duration_minutes"),
                })
            })
            .collect();
        if !out.is_empty() {
            return out;
        }
    }
    p.steps
        .iter()
        .map(|s| ProgrammeStep {
            start_minute: 0.0,
            rate: VolumeRate::new(s.rate_ml_per_h),
            vtbi: Volume::new(s.vtbi_ml),
            duration_minutes: s.duration_h.map(|h| h * 60.0),
        })
        .collect()
}

/// The rate the pump is expected to start at: the first step of a titration schedule (the
/// labelled start rate), else the ordered rate.
pub fn expected_start_rate(p: &PumpProgramme) -> Option<VolumeRate> {
    programme_steps(p).first().map(|s| s.rate)
}

/// Whether the programme is a titration (more than one step).
pub fn is_titrated(p: &PumpProgramme) -> bool {
    programme_steps(p).len() > 1
}

/// A rate-setting moment of a running infusion: the start, a titration step, a rate change
/// (0 mL/h is a hold). Boluses are not steps and are left out by the caller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateEvent {
    pub at_us: i64,
    pub rate: VolumeRate,
}

/// Where the infusion stands on its schedule, from the recorded steps and holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleState {
    /// The rate running now (0 while held).
    pub current_rate: VolumeRate,
    pub held: bool,
    /// When the current step (or hold) began.
    pub step_started_at_us: i64,
    /// The schedule's next rate above the current one; `None` at the top of the schedule.
    pub next_rate: Option<VolumeRate>,
    /// When the next step is due: the current step's start plus the schedule's interval for
    /// the step running now. `None` while held or at the top.
    pub next_due_at_us: Option<i64>,
}

/// The schedule position after `events` (in time order, the first being the start).
pub fn schedule_state(steps: &[ProgrammeStep], events: &[RateEvent]) -> Option<ScheduleState> {
    let last = events.last()?;
    let current = last.rate;
    let held = current.value() <= 0.0;
    let next = steps
        .iter()
        .find(|s| s.rate.value() > current.value() + STEP_RATE_TOLERANCE_ML_PER_H)
        .map(|s| s.rate);
    // The interval of the step running now: the schedule step with the highest rate not
    // above the current one (a re-plan rate below the first step runs the first interval).
    let running = steps
        .iter()
        .rev()
        .find(|s| s.rate.value() <= current.value() + STEP_RATE_TOLERANCE_ML_PER_H)
        .or(steps.first());
    let interval_us = running
        .and_then(|s| s.duration_minutes)
        .map(|m| (m * 60.0 * 1e6).round() as i64);
    let next_due_at_us = match (held, next, interval_us) {
        (false, Some(_), Some(i)) => Some(last.at_us + i),
        _ => None,
    };
    Some(ScheduleState {
        current_rate: current,
        held,
        step_started_at_us: last.at_us,
        next_rate: next,
        next_due_at_us,
    })
}

/// A titration step at `now_us` to `rate` against the verified schedule: above the
/// schedule's next rate, or before the current step has run its interval, is a warning
/// (override with a reason); resuming after a hold is never early.
pub fn titration_findings(
    state: &ScheduleState,
    rate: VolumeRate,
    now_us: i64,
    schedule: &str,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if state.held {
        return out;
    }
    match state.next_rate {
        Some(next) if rate.value() > next.value() + STEP_RATE_TOLERANCE_ML_PER_H => {
            out.push(Finding::new(
                "titration.ahead_of_schedule",
                Severity::Warning,
                format!(
                    "titration to {} mL/h skips the verified schedule's next step of {} mL/h ({schedule}); an override reason is required",
                    num_text(rate.value()),
                    num_text(next.value())
                ),
            ));
        }
        None if rate.value() > state.current_rate.value() + STEP_RATE_TOLERANCE_ML_PER_H => {
            out.push(Finding::new(
                "titration.ahead_of_schedule",
                Severity::Warning,
                format!(
                    "titration to {} mL/h goes above the verified schedule's last step of {} mL/h ({schedule}); an override reason is required",
                    num_text(rate.value()),
                    num_text(state.current_rate.value())
                ),
            ));
        }
        _ => {}
    }
    if let Some(due) = state.next_due_at_us
        && now_us < due
        && rate.value() > state.current_rate.value() + STEP_RATE_TOLERANCE_ML_PER_H
    {
        let ran_min = (now_us - state.step_started_at_us) as f64 / 60e6;
        let interval_min = (due - state.step_started_at_us) as f64 / 60e6;
        out.push(Finding::new(
            "titration.step_early",
            Severity::Warning,
            format!(
                "the current step at {} mL/h has run {} min of the schedule's {} min ({schedule}); an override reason is required to step up early",
                num_text(state.current_rate.value()),
                num_text((ran_min * 10.0).floor() / 10.0),
                num_text(interval_min)
            ),
        ));
    }
    out
}

/// The outcome of the checks on one bedside rate: the findings (hard stops, warnings that
/// need an override, information) and the overrides that were accepted for the warnings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateCheck {
    pub findings: Vec<Finding>,
    pub overrides: Vec<Override>,
}

impl RateCheck {
    /// Refuses a hard stop (`pump.hard_limit`) and a warning without an override reason
    /// (`pump.override_required`), naming each finding; otherwise the overrides to record.
    pub fn decide(findings: Vec<Finding>, given: &[Override]) -> Result<RateCheck, AppError> {
        let hard: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.severity == Severity::HardStop)
            .collect();
        if !hard.is_empty() {
            return Err(blocked("pump.hard_limit", "refused by a hard limit", &hard));
        }
        let mut overrides = Vec::new();
        let mut missing = Vec::new();
        for f in findings.iter().filter(|f| f.severity == Severity::Warning) {
            match given
                .iter()
                .find(|o| o.code == f.code && !o.reason.trim().is_empty())
            {
                Some(o) => overrides.push(o.clone()),
                None => missing.push(f),
            }
        }
        if !missing.is_empty() {
            return Err(blocked(
                "pump.override_required",
                "a soft limit needs an override with a reason (overrides: [{code, reason}])",
                &missing,
            ));
        }
        Ok(RateCheck {
            findings,
            overrides,
        })
    }
}

fn blocked(code: &'static str, what: &str, findings: &[&Finding]) -> AppError {
    AppError::Blocked {
        code,
        message: format!(
            "{what}: {}",
            findings
                .iter()
                .map(|f| f.message.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        ),
        findings: Json::Array(
            findings
                .iter()
                .map(|f| json!({"code": f.code, "severity": f.severity.as_str(), "message": f.message}))
                .collect(),
        ),
    }
}

/// The event kinds whose rate is checked against the library.
pub fn checks_rate(kind: AdministrationEventKind) -> bool {
    matches!(
        kind,
        AdministrationEventKind::RateChange | AdministrationEventKind::Titration
    )
}

impl App {
    /// The library's rate limits for `rate` at the pump on this order: the check engine runs
    /// on the check input stored with the order (its drug, dose, volume, line, care area and
    /// patient), with `order.rate` set to `rate` and the ordered duration left out (at the
    /// pump the rate is what runs, not the average over the ordered duration). Only the
    /// engine's rate findings are kept; a limit the engine could not verify is information.
    /// A rate of 0 (a hold) is never checked.
    pub fn bedside_rate_findings(
        &self,
        order: &Stored<Order>,
        rate: VolumeRate,
    ) -> Result<Vec<Finding>, AppError> {
        if rate.value() <= 0.0 {
            return Ok(Vec::new());
        }
        let stored = order
            .data
            .derivation_json
            .get("check")
            .and_then(|c| c.get("input"))
            .cloned();
        let Some(mut input) = stored else {
            return Ok(vec![Finding::new(
                "rate.unverifiable",
                Severity::Info,
                "the order carries no stored check input; the rate could not be checked against the library",
            )]);
        };
        let Some(o) = input.get_mut("order").and_then(Json::as_object_mut) else {
            return Err(AppError::Internal(
                "stored check input without order".into(),
            ));
        };
        o.insert(
            "rate".into(),
            json!(format!("{} mL/h", num_text(rate.value()))),
        );
        o.remove("duration");
        let result = check_json(self.library(), &input)
            .map_err(|e| AppError::Internal(format!("stored check input: {e}")))?;
        Ok(result
            .findings
            .into_iter()
            .filter(|f| f.code.starts_with("rate."))
            .map(|mut f| {
                if f.code == "rate.unverifiable" {
                    f.severity = Severity::Info;
                }
                f
            })
            .collect())
    }
}

/// The rate-setting moments of a running administration, in time order: the start at the
/// rate keyed, then every titration step and rate change (boluses left out).
fn rate_events(
    a: &Stored<Administration>,
    events: &[Stored<AdministrationEvent>],
) -> Vec<RateEvent> {
    let keyed = a.data.pump_programme_json["rate_ml_per_h"].as_f64();
    let mut out: Vec<RateEvent> = keyed
        .map(|r| RateEvent {
            at_us: a.data.started_at_us,
            rate: VolumeRate::new(r),
        })
        .into_iter()
        .collect();
    let mut sorted: Vec<&Stored<AdministrationEvent>> = events
        .iter()
        .filter(|e| checks_rate(e.data.kind) && e.data.detail_json.get("bolus_volume_ml").is_none())
        .collect();
    sorted.sort_by_key(|e| e.data.at_us);
    out.extend(sorted.into_iter().filter_map(|e| {
        Some(RateEvent {
            at_us: e.data.at_us,
            rate: VolumeRate::new(number(e.data.rate_ml_per_h.as_ref()?)),
        })
    }));
    out
}

/// Where a running administration stands on its order's programme now, from its recorded
/// steps and holds (what the bedside timer shows).
pub fn schedule_now(
    a: &Stored<Administration>,
    events: &[Stored<AdministrationEvent>],
    programme: &PumpProgramme,
) -> Option<ScheduleState> {
    schedule_state(&programme_steps(programme), &rate_events(a, events))
}

impl App {
    /// Records an event of a running administration. A rate change, titration step or bolus
    /// is checked first: the library's rate limits ([`App::bedside_rate_findings`]) and, for
    /// a titration step, the verified schedule ([`titration_findings`]). A hard limit is
    /// refused; each warning needs an override with a reason, and the audit event records the
    /// findings and the overrides.
    pub(crate) async fn record_checked_event(
        &self,
        actor: &Actor,
        administration_id: &str,
        event: &NewEvent,
    ) -> Result<Stored<AdministrationEvent>, AppError> {
        let role = actor.permit(Action::Administer)?;
        let now = self.now_us();
        let mut tx = self.store().begin().await?;
        let a = tx
            .get::<Administration>(administration_id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                entity: "administration",
                id: administration_id.into(),
            })?;
        if a.data.status != "in_progress" {
            return Err(AppError::state(
                "administration.not_running",
                format!("the administration is {}", a.data.status),
            ));
        }
        let mut checked = None;
        if let (true, Some(rate)) = (checks_rate(event.kind), event.rate) {
            let order = tx
                .get::<Order>(&a.data.order_id)
                .await?
                .ok_or_else(|| AppError::Internal("administration without order".into()))?;
            let mut findings = self.bedside_rate_findings(&order, rate)?;
            if event.kind == AdministrationEventKind::Titration {
                let programme: PumpProgramme =
                    serde_json::from_value(order.data.pump_programme_json.clone())
                        .unwrap_or_default();
                let steps = programme_steps(&programme);
                let schedule = programme
                    .titration_schedule
                    .as_ref()
                    .map_or("the verified programme".to_string(), |c| {
                        format!("schedule {}", c.id)
                    });
                let events = tx
                    .find_by::<AdministrationEvent>("administration_id", text(administration_id))
                    .await?;
                if let Some(state) = schedule_state(&steps, &rate_events(&a, &events)) {
                    findings.extend(titration_findings(&state, rate, now, &schedule));
                }
            }
            checked = Some(RateCheck::decide(findings, &event.overrides)?);
        }
        let mut change = Change::by(&actor.user_id, role.as_str()).action("administration.event");
        let mut detail = event.detail.clone();
        if let Some(c) = &checked {
            if !c.overrides.is_empty() {
                change = change.reason(
                    c.overrides
                        .iter()
                        .map(|o| format!("{}: {}", o.code, o.reason))
                        .collect::<Vec<_>>()
                        .join("; "),
                );
            }
            change = change.derivation(json!({"limit_checks": c}));
            if let Some(d) = detail.as_object_mut() {
                d.insert(
                    "limit_checks".into(),
                    serde_json::to_value(c).map_err(|e| AppError::Internal(e.to_string()))?,
                );
            }
        }
        let e = tx
            .insert(
                &change,
                AdministrationEvent {
                    administration_id: administration_id.to_string(),
                    kind: event.kind,
                    at_us: now,
                    recorded_by: actor.user_id.clone(),
                    rate_ml_per_h: event.rate.map(|r| decimal(r.value())).transpose()?,
                    reaction_grade: event.reaction_grade,
                    detail_json: detail,
                },
            )
            .await?;
        tx.commit().await?;
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN_US: i64 = 60 * 1_000_000;

    /// Rituximab 700 mg in 500 mL (1.4 mg/mL), first infusion: 50 mg/h (35.7 mL/h) +50 mg/h
    /// every 30 min to 400 mg/h (rituximab label).
    fn rituximab_steps() -> Vec<ProgrammeStep> {
        (1..=8)
            .map(|k| ProgrammeStep {
                start_minute: f64::from(k - 1) * 30.0,
                rate: VolumeRate::new(f64::from(k) * 50.0 / 1.4),
                vtbi: Volume::new(f64::from(k) * 50.0 / 1.4 / 2.0),
                duration_minutes: Some(30.0),
            })
            .collect()
    }

    fn at(min: i64, rate: f64) -> RateEvent {
        RateEvent {
            at_us: min * MIN_US,
            rate: VolumeRate::new(rate),
        }
    }

    #[test]
    fn the_labelled_ramp_step_by_step_raises_nothing() {
        let steps = rituximab_steps();
        let mut events = vec![at(0, steps[0].rate.value())];
        for (k, s) in steps.iter().enumerate().skip(1) {
            let now = k as i64 * 30;
            let state = schedule_state(&steps, &events).expect("started");
            assert_eq!(state.next_rate, Some(s.rate), "step {k}");
            assert!(titration_findings(&state, s.rate, now * MIN_US, "first-infusion").is_empty());
            events.push(at(now, s.rate.value()));
        }
        let top = schedule_state(&steps, &events).expect("at the top");
        assert_eq!(top.next_rate, None);
    }

    #[test]
    fn a_step_skipped_or_taken_early_is_a_warning() {
        let steps = rituximab_steps();
        let events = vec![at(0, steps[0].rate.value())];
        let state = schedule_state(&steps, &events).expect("started");
        let codes = |r: f64, min: i64| -> Vec<String> {
            titration_findings(&state, VolumeRate::new(r), min * MIN_US, "first-infusion")
                .into_iter()
                .map(|f| f.code)
                .collect()
        };
        assert_eq!(
            codes(steps[2].rate.value(), 30),
            ["titration.ahead_of_schedule"]
        );
        assert_eq!(codes(steps[1].rate.value(), 10), ["titration.step_early"]);
        assert!(codes(steps[1].rate.value(), 30).is_empty());
    }

    #[test]
    fn a_hold_pauses_the_schedule_and_the_resumed_rate_restarts_the_timer() {
        let steps = rituximab_steps();
        // Two steps up, a reaction hold at 70 min, resumed at half the rate at 100 min.
        let half = steps[2].rate.value() / 2.0;
        let events = vec![
            at(0, steps[0].rate.value()),
            at(30, steps[1].rate.value()),
            at(60, steps[2].rate.value()),
            at(70, 0.0),
        ];
        let held = schedule_state(&steps, &events).expect("held");
        assert!(held.held && held.next_due_at_us.is_none());
        // Resuming is never early nor ahead.
        assert!(titration_findings(&held, VolumeRate::new(half), 100 * MIN_US, "s").is_empty());
        let mut resumed = events.clone();
        resumed.push(at(100, half));
        let state = schedule_state(&steps, &resumed).expect("resumed");
        // The timer runs from the resume, not from the start: due at 130 min.
        assert_eq!(state.next_due_at_us, Some(130 * MIN_US));
        assert_eq!(state.next_rate, Some(steps[1].rate));
        let early = titration_findings(&state, steps[1].rate, 110 * MIN_US, "s");
        assert_eq!(early.len(), 1);
        assert_eq!(early[0].code, "titration.step_early");
        assert!(titration_findings(&state, steps[1].rate, 130 * MIN_US, "s").is_empty());
    }

    #[test]
    fn a_hard_stop_is_refused_and_a_warning_needs_a_reason() {
        let hard = Finding::new("rate.above_hard_max", Severity::HardStop, "Rate 40 mEq/h");
        match RateCheck::decide(vec![hard], &[]) {
            Err(AppError::Blocked { code, message, .. }) => {
                assert_eq!(code, "pump.hard_limit");
                assert!(message.contains("40 mEq/h"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let soft = Finding::new("rate.above_soft_max", Severity::Warning, "Rate 12 mEq/h");
        assert!(matches!(
            RateCheck::decide(vec![soft.clone()], &[]),
            Err(AppError::Blocked {
                code: "pump.override_required",
                ..
            })
        ));
        let blank = Override {
            code: "rate.above_soft_max".into(),
            reason: "  ".into(),
        };
        assert!(RateCheck::decide(vec![soft.clone()], &[blank]).is_err());
        let reason = Override {
            code: "rate.above_soft_max".into(),
            reason: "ECG monitored, prescriber aware".into(),
        };
        let ok = RateCheck::decide(vec![soft], std::slice::from_ref(&reason)).expect("overridden");
        assert_eq!(ok.overrides, [reason]);
    }
}
