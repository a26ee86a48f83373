//! Protocols and therapy plans: the protocol templates built into this crate
//! (`data/protocols`, validated by `infusio_core::plan::protocol`), and a patient's plan — a
//! protocol applied from a start date, with every planned treatment day computed and stored.
//!
//! The date series: phases run one after another; a phase of `cycles` cycles of
//! `cycle_length_days` days starts the day after the previous phase ends. A drug given on day
//! `d` of cycle `c` (both counted from 1) of a phase starting at offset `P` is planned on
//! `start + P + (c − 1) × cycle_length_days + (d − 1)` days. An open-ended phase (`until` a
//! stopping rule) is planned for `open_ended_cycles` cycles (default
//! [`DEFAULT_OPEN_ENDED_CYCLES`]) and the plan says so. Examples from the templates:
//! infliximab weeks 0, 2, 6 then every 8 weeks; mFOLFOX6 every 14 days × 12; immune globulin
//! every 28 days; iron sucrose 200 mg on days 1, 4, 7, 10, 14.

use infusio_core::input::Fields;
use infusio_core::plan::protocol::{Protocol, ProtocolError, load_protocols};
use infusio_store::Stored;
use infusio_store::records::{Patient, Protocol as ProtocolRow, TherapyPlan};
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::db::text;
use crate::time::{civil_from_days, days_from_civil, parse_date};
use crate::{Action, Actor, App, AppError};

include!(concat!(env!("OUT_DIR"), "/protocol_files.rs"));

/// Cycles planned for an open-ended phase when the request does not say. Default 6.
pub const DEFAULT_OPEN_ENDED_CYCLES: u32 = 6;
/// The most cycles of an open-ended phase one plan lays out. 52.
pub const MAX_OPEN_ENDED_CYCLES: u32 = 52;

/// Loads and validates the embedded protocol templates; any invalid file refuses the set.
pub fn builtin_protocols() -> Result<Vec<Protocol>, Vec<ProtocolError>> {
    load_protocols(PROTOCOL_FILES.iter().copied())
}

/// One planned treatment day of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PlannedDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Days after the plan's start date (0 = the start date).
    pub day_offset: i64,
    pub phase: String,
    /// Cycle within the phase, from 1.
    pub cycle: u32,
    /// Day of the cycle as the protocol counts it, from 1.
    pub day: u32,
    /// The protocol's drugs given that day (library ids), in administration order.
    pub medications: Vec<String>,
}

/// Every planned treatment day of `p` from `start` (year, month, day), in date order.
pub fn plan_dates(p: &Protocol, start: (i64, i64, i64), open_ended_cycles: u32) -> Vec<PlannedDay> {
    let start_days = days_from_civil(start.0, start.1, start.2);
    let mut out = Vec::new();
    let mut phase_start: i64 = 0;
    for phase in &p.phases {
        let cycles = phase.cycles.unwrap_or(open_ended_cycles);
        let length = i64::from(phase.cycle_length_days);
        let mut days: Vec<u32> = phase
            .drugs
            .iter()
            .flat_map(|d| d.days.iter().copied())
            .collect();
        days.sort_unstable();
        days.dedup();
        for cycle in 1..=cycles {
            for &day in &days {
                let offset = phase_start + i64::from(cycle - 1) * length + i64::from(day) - 1;
                let (y, m, d) = civil_from_days(start_days + offset);
                out.push(PlannedDay {
                    date: format!("{y:04}-{m:02}-{d:02}"),
                    day_offset: offset,
                    phase: phase.name.clone(),
                    cycle,
                    day,
                    medications: phase
                        .drugs
                        .iter()
                        .filter(|d| d.days.contains(&day))
                        .map(|d| d.medication.clone())
                        .collect(),
                });
            }
        }
        phase_start += i64::from(cycles) * length;
    }
    out.sort_by_key(|d| d.day_offset);
    out
}

/// A protocol as the list shows it: identity, review status and each phase's drugs and days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProtocolSummary {
    pub id: String,
    pub name: String,
    pub class: String,
    pub version: u32,
    pub indication: String,
    pub care_area: String,
    pub review_status: String,
    pub phases: Vec<PhaseSummary>,
}

/// One phase of a protocol in the list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseSummary {
    pub name: String,
    pub cycle_length_days: u32,
    /// `None` for an open-ended phase (see `until`).
    pub cycles: Option<u32>,
    pub until: Option<String>,
    pub drugs: Vec<DrugSummary>,
}

/// One drug of a phase in the list: the protocol's dose (in `dose_unit`, per the protocol's
/// basis), the cycle days it is given and the route.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrugSummary {
    pub medication: String,
    pub dose: f64,
    pub dose_unit: String,
    pub days: Vec<u32>,
    pub route: String,
}

impl From<&Protocol> for ProtocolSummary {
    fn from(p: &Protocol) -> Self {
        ProtocolSummary {
            id: p.id.clone(),
            name: p.name.clone(),
            class: p.class.clone(),
            version: p.version,
            indication: p.indication.clone(),
            care_area: p.care_area.clone(),
            review_status: p.review.status.clone(),
            phases: p
                .phases
                .iter()
                .map(|ph| PhaseSummary {
                    name: ph.name.clone(),
                    cycle_length_days: ph.cycle_length_days,
                    cycles: ph.cycles,
                    until: ph.until.clone(),
                    drugs: ph
                        .drugs
                        .iter()
                        .map(|d| DrugSummary {
                            medication: d.medication.clone(),
                            dose: d.dose,
                            dose_unit: d.dose_unit.clone(),
                            days: d.days.clone(),
                            route: d.route.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A new therapy plan: `{"protocol": "infliximab-ibd", "start_date": "YYYY-MM-DD",
/// ["open_ended_cycles": 1–52]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTherapyPlan {
    /// A protocol id (checked against the built-in templates when the plan is created).
    pub protocol: String,
    /// `YYYY-MM-DD`, checked to be a calendar date.
    pub start_date: String,
    /// Cycles planned for an open-ended phase, 1 to [`MAX_OPEN_ENDED_CYCLES`]; default
    /// [`DEFAULT_OPEN_ENDED_CYCLES`].
    pub open_ended_cycles: u32,
}

impl TryFrom<&Json> for NewTherapyPlan {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let protocol = f
            .opt_string("protocol")?
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                AppError::invalid("protocol", "", "required: a protocol id, e.g. 'mfolfox6'")
            })?;
        let start_date = f.opt_string("start_date")?.unwrap_or_default();
        let open_ended_cycles = match f.opt_number("open_ended_cycles")? {
            None => DEFAULT_OPEN_ENDED_CYCLES,
            Some(n)
                if n.fract() == 0.0 && (1.0..=f64::from(MAX_OPEN_ENDED_CYCLES)).contains(&n) =>
            {
                n as u32
            }
            Some(n) => {
                return Err(AppError::invalid(
                    "open_ended_cycles",
                    n.to_string(),
                    format!("a whole number from 1 to {MAX_OPEN_ENDED_CYCLES}"),
                ));
            }
        };
        f.finish()?;
        parse_date("start_date", &start_date)?;
        Ok(NewTherapyPlan {
            protocol,
            start_date,
            open_ended_cycles,
        })
    }
}

impl App {
    fn protocol(&self, id: &str) -> Result<Protocol, AppError> {
        let all = builtin_protocols().map_err(|e| {
            AppError::Internal(format!(
                "the built-in protocols are invalid: {}",
                e.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        })?;
        let names: Vec<String> = all.iter().map(|p| p.id.clone()).collect();
        all.into_iter().find(|p| p.id == id).ok_or_else(|| {
            AppError::invalid(
                "protocol",
                id,
                format!("one of the protocol ids: {}", names.join(", ")),
            )
        })
    }

    /// The protocol templates (summaries: phases, cycles, days, drugs).
    pub async fn list_protocols(&self, actor: &Actor) -> Result<Vec<ProtocolSummary>, AppError> {
        actor.permit(Action::ReadClinical)?;
        let all = builtin_protocols().map_err(|e| {
            AppError::Internal(format!(
                "the built-in protocols are invalid ({} problems)",
                e.len()
            ))
        })?;
        Ok(all.iter().map(ProtocolSummary::from).collect())
    }

    /// One protocol template in full.
    pub async fn get_protocol(&self, actor: &Actor, id: &str) -> Result<Protocol, AppError> {
        actor.permit(Action::ReadClinical)?;
        self.protocol(id).map_err(|_| AppError::NotFound {
            entity: "protocol",
            id: id.to_string(),
        })
    }

    /// Creates a therapy plan (a prescriber's step). The planned days are computed
    /// and stored with the plan (`schedule_json.planned`), with how they were computed; the
    /// protocol template is recorded in the `protocols` table on first use.
    pub async fn create_therapy_plan(
        &self,
        actor: &Actor,
        patient_id: &str,
        input: &NewTherapyPlan,
    ) -> Result<Stored<TherapyPlan>, AppError> {
        let role = actor.permit(Action::CreateOrder)?;
        let NewTherapyPlan {
            protocol: protocol_id,
            start_date: start_text,
            open_ended_cycles: open_ended,
        } = input.clone();
        let start = parse_date("start_date", &start_text)?;
        let p = self.protocol(&protocol_id)?;
        let planned = plan_dates(&p, start, open_ended);
        let open_phases: Vec<&str> = p
            .phases
            .iter()
            .filter(|ph| ph.cycles.is_none())
            .map(|ph| ph.name.as_str())
            .collect();
        let schedule = json!({
            "protocol": p.id,
            "protocol_version": p.version,
            "protocol_name": p.name,
            "open_ended_cycles": open_ended,
            "open_ended_phases": open_phases,
            "planned": planned,
        });
        let derivation = json!({
            "formula": "date = start_date + phase_start + (cycle - 1) x cycle_length_days + (day - 1)",
            "inputs": {
                "start_date": start_text,
                "phases": p.phases.iter().map(|ph| json!({"name": ph.name, "cycle_length_days": ph.cycle_length_days, "cycles": ph.cycles.unwrap_or(open_ended), "open_ended": ph.cycles.is_none()})).collect::<Vec<_>>(),
            },
            "sources": p.sources.iter().map(|s| json!({"id": s.id, "citation": s.citation})).collect::<Vec<_>>(),
        });
        let by = infusio_store::Change::by(&actor.user_id, role.as_str());
        let mut tx = self.store().begin().await?;
        tx.get::<Patient>(patient_id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                entity: "patient",
                id: patient_id.to_string(),
            })?;
        let existing = tx
            .find_by::<ProtocolRow>("code", text(p.id.clone()))
            .await?;
        let protocol_row_id = match existing.into_iter().next() {
            Some(row) => row.id,
            None => {
                let template =
                    serde_json::to_value(&p).map_err(|e| AppError::Internal(e.to_string()))?;
                tx.insert(
                    &by.clone().action("protocol.record"),
                    ProtocolRow {
                        code: p.id.clone(),
                        name: p.name.clone(),
                        therapy_class: p.class.clone(),
                        template_json: template,
                        source: p
                            .sources
                            .iter()
                            .map(|s| s.citation.as_str())
                            .collect::<Vec<_>>()
                            .join(" | "),
                    },
                )
                .await?
                .id
            }
        };
        let plan = tx
            .insert(
                &by.action("therapy_plan.create").derivation(derivation),
                TherapyPlan {
                    patient_id: patient_id.to_string(),
                    protocol_id: protocol_row_id,
                    start_date: start_text,
                    status: "active".to_string(),
                    schedule_json: schedule,
                },
            )
            .await?;
        tx.commit().await?;
        Ok(plan)
    }

    /// A patient's therapy plans, oldest first.
    pub async fn therapy_plans_of(
        &self,
        actor: &Actor,
        patient_id: &str,
    ) -> Result<Vec<Stored<TherapyPlan>>, AppError> {
        actor.permit(Action::ReadClinical)?;
        let mut tx = self.store().begin_snapshot().await?;
        if tx.get::<Patient>(patient_id).await?.is_none() {
            return Err(AppError::NotFound {
                entity: "patient",
                id: patient_id.to_string(),
            });
        }
        let plans = tx
            .find_by::<TherapyPlan>("patient_id", text(patient_id))
            .await?;
        tx.rollback().await?;
        Ok(plans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protocol(id: &str) -> Protocol {
        builtin_protocols()
            .expect("the built-in protocols load")
            .into_iter()
            .find(|p| p.id == id)
            .unwrap_or_else(|| panic!("protocol {id} is built in"))
    }

    fn dates(p: &str, start: (i64, i64, i64), open: u32) -> Vec<String> {
        plan_dates(&protocol(p), start, open)
            .into_iter()
            .map(|d| d.date)
            .collect()
    }

    #[test]
    fn every_built_in_protocol_loads_and_plans_at_least_one_day() {
        let all = builtin_protocols().expect("load");
        assert!(all.len() >= 10, "{}", all.len());
        for p in &all {
            let days = plan_dates(p, (2026, 1, 5), 2);
            assert!(!days.is_empty(), "{} plans no day", p.id);
            assert_eq!(days[0].day_offset, i64::from(days[0].day) - 1, "{}", p.id);
            assert!(
                days.windows(2).all(|w| w[0].day_offset <= w[1].day_offset),
                "{} in date order",
                p.id
            );
        }
    }

    /// REMICADE label: 5 mg/kg at 0, 2 and 6 weeks, then every 8 weeks.
    #[test]
    fn infliximab_weeks_0_2_6_then_every_8_weeks() {
        let d = dates("infliximab-ibd", (2026, 1, 5), 3);
        assert_eq!(
            d,
            [
                "2026-01-05", // week 0
                "2026-01-19", // week 2
                "2026-02-16", // week 6
                "2026-04-13", // week 14 = week 6 + 8
                "2026-06-08", // week 22
                "2026-08-03", // week 30
            ]
        );
        let days = plan_dates(&protocol("infliximab-ibd"), (2026, 1, 5), 3);
        let weeks: Vec<i64> = days.iter().map(|d| d.day_offset / 7).collect();
        assert_eq!(weeks, [0, 2, 6, 14, 22, 30]);
        assert!(days.iter().all(|d| d.day_offset % 7 == 0));
        assert_eq!(days[3].phase, "maintenance");
        assert_eq!(days[3].cycle, 1);
    }

    /// mFOLFOX6: every 14 days, 12 cycles, all three drugs on day 1.
    #[test]
    fn folfox_every_14_days_for_12_cycles() {
        let days = plan_dates(&protocol("mfolfox6"), (2026, 3, 2), 6);
        assert_eq!(days.len(), 12);
        assert!(
            days.iter()
                .enumerate()
                .all(|(i, d)| d.day_offset == 14 * i as i64 && d.cycle == i as u32 + 1)
        );
        assert_eq!(days[0].date, "2026-03-02");
        assert_eq!(days[1].date, "2026-03-16");
        assert_eq!(days[11].date, "2026-08-03");
        for m in ["oxaliplatin", "leucovorin", "fluorouracil"] {
            assert!(
                days[0].medications.iter().any(|x| x == m),
                "{m} on day 1: {:?}",
                days[0].medications
            );
        }
    }

    /// Immune globulin replacement: every 28 days; the open-ended maintenance phase is laid
    /// out for the number of cycles asked.
    #[test]
    fn ivig_every_28_days() {
        let d = dates("ivig-replacement", (2026, 2, 1), 4);
        assert_eq!(
            d,
            [
                "2026-02-01",
                "2026-03-01",
                "2026-03-29",
                "2026-04-26",
                "2026-05-24"
            ]
        );
        assert_eq!(dates("ivig-replacement", (2026, 2, 1), 10).len(), 11);
    }

    /// Iron sucrose 200 mg × 5 within 14 days (1000 mg course).
    #[test]
    fn iron_sucrose_five_doses_within_14_days() {
        let days = plan_dates(&protocol("iron-sucrose-200-x5"), (2026, 12, 28), 6);
        let d: Vec<&str> = days.iter().map(|d| d.date.as_str()).collect();
        // Across a year end.
        assert_eq!(
            d,
            [
                "2026-12-28",
                "2026-12-31",
                "2027-01-03",
                "2027-01-06",
                "2027-01-10"
            ]
        );
        assert!(days.iter().all(|x| x.medications == ["iron-sucrose"]));
    }

    /// Leap years: 28 days from 2028-02-01 is 2028-02-29.
    #[test]
    fn dates_cross_a_leap_day() {
        let d = dates("ivig-replacement", (2028, 2, 1), 1);
        assert_eq!(d, ["2028-02-01", "2028-02-29"]);
    }
}
