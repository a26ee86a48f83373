//! The end of an infusion records what was given: the volume infused (the nurse's reading of
//! the pump, or the last volume a pump event reported) and the dose given, pro rata of the
//! ordered dose by volume, with its derivation. The cumulative ledgers sum the doses given,
//! so a partial infusion is a partial dose.
//!
//! Three endings, three different actions:
//! - `completed`: the administration and the order are complete;
//! - `stopped` ("stop this infusion", reason required): the administration is stopped with
//!   the volume that ran; the order is not discontinued — it returns to `verified`, so the
//!   rest can be given with a new bag (a new preparation) or the order discontinued later;
//! - `discontinued` ("discontinue the order", reason required): the infusion stops and the
//!   order is discontinued.
//!
//! [`dose_given`] is a pure function over the record's facts, pinned by table tests. A bag
//! order without a volume infused is refused (a completion after 4 minutes of a 4-hour
//! infusion cannot count the full dose by default); a volume that could not have run in the
//! time elapsed at the highest rate programmed or recorded is refused as implausible.

use infusio_core::derivation::Step;
use infusio_core::units::Qty;
use infusio_store::records::{
    Administration, AdministrationEvent, Appointment, Order, Preparation,
};
use infusio_store::{AdministrationStatus, AppointmentStatus, Change, OrderStatus, Stored, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::commands::FinishAdministration;
use crate::db::text;
use crate::orders::{PumpProgramme, num_text};
use crate::patients::{CumulativeDose, number};
use crate::pump_checks::programme_steps;
use crate::{Action, Actor, App, AppError};

/// A volume infused may exceed the bag's final volume by this fraction (overfill and the
/// pump's volumetric accuracy) before it is refused. Institutional.
pub const VOLUME_OVER_BAG_FRACTION: f64 = 0.10;
/// The average rate implied by the volume and the time elapsed may exceed the highest rate
/// programmed or recorded by this fraction (pump accuracy, the minute of the reading).
/// Institutional.
pub const AVERAGE_RATE_ALLOWANCE_FRACTION: f64 = 0.10;
/// Below this fraction of the bag the infusion is recorded as partial.
pub const PARTIAL_BELOW_FRACTION: f64 = 0.95;

/// What the record says at the end of an infusion.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionFacts {
    pub ordered_dose: f64,
    pub dose_unit: String,
    /// The bag's final volume (the preparation's, else the order's), mL; `None` for an
    /// order without a volume (a push).
    pub bag_volume_ml: Option<f64>,
    pub started_at_us: i64,
    pub now_us: i64,
    /// The highest rate programmed (the order's programme) or recorded (rate changes,
    /// titration steps, boluses), mL/h.
    pub max_rate_ml_per_h: Option<f64>,
    /// The last volume infused a pump event reported, mL.
    pub pump_volume_ml: Option<f64>,
}

/// What was given, as stored with the administration (`completion` in its programme
/// document) and in the audit event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Given {
    pub volume_infused_ml: Option<f64>,
    /// `nurse`, `pump`, or `none` (an order without a volume).
    pub volume_source: String,
    pub dose_given: f64,
    pub dose_unit: String,
    /// Less than [`PARTIAL_BELOW_FRACTION`] of the bag ran.
    pub partial: bool,
    pub minutes_elapsed: f64,
    pub steps: Vec<Step>,
}

/// The dose given from the volume infused. Refuses a bag order without a volume, a volume
/// beyond the bag, or one that could not have run in the time elapsed.
pub fn dose_given(
    facts: &CompletionFacts,
    nurse_volume_ml: Option<f64>,
) -> Result<Given, AppError> {
    let minutes = (facts.now_us - facts.started_at_us).max(0) as f64 / 60e6;
    let (volume, source) = match (nurse_volume_ml, facts.pump_volume_ml) {
        (Some(v), _) => (Some(v), "nurse"),
        (None, Some(v)) => (Some(v), "pump"),
        (None, None) => (None, "none"),
    };
    let Some(bag) = facts.bag_volume_ml.filter(|b| *b > 0.0) else {
        let step = Step::new(
            "Dose given",
            "the order has no volume: the ordered dose is counted",
            Qty::new(facts.ordered_dose, &facts.dose_unit),
        );
        return Ok(Given {
            volume_infused_ml: volume,
            volume_source: source.into(),
            dose_given: facts.ordered_dose,
            dose_unit: facts.dose_unit.clone(),
            partial: false,
            minutes_elapsed: minutes,
            steps: vec![step],
        });
    };
    let Some(volume) = volume else {
        return Err(AppError::invalid(
            "volume_infused",
            "",
            format!(
                "required: the volume infused as read on the pump (the bag holds {} mL; the infusion has run {} min), e.g. '{} mL'",
                num_text(bag),
                num_text(minutes.floor()),
                num_text(bag)
            ),
        ));
    };
    let given_text = format!("{} mL", num_text(volume));
    if volume > bag * (1.0 + VOLUME_OVER_BAG_FRACTION) {
        return Err(AppError::invalid(
            "volume_infused",
            given_text,
            format!(
                "at most the bag's {} mL (+{}% for overfill and pump accuracy)",
                num_text(bag),
                num_text(VOLUME_OVER_BAG_FRACTION * 100.0)
            ),
        ));
    }
    if let Some(max) = facts.max_rate_ml_per_h {
        let could = max * (1.0 + AVERAGE_RATE_ALLOWANCE_FRACTION) * minutes / 60.0;
        if volume > could + 1.0 {
            return Err(AppError::invalid(
                "volume_infused",
                given_text,
                format!(
                    "{} mL cannot have run in {} min at the highest rate programmed or recorded ({} mL/h): at most {} mL; record the volume shown on the pump",
                    num_text(volume),
                    num_text((minutes * 10.0).floor() / 10.0),
                    num_text(max),
                    num_text(could.floor())
                ),
            ));
        }
    }
    let fraction = (volume / bag).min(1.0);
    let dose = facts.ordered_dose * fraction;
    let steps = vec![
        Step::new(
            "Fraction of the bag infused",
            "min(volume infused / bag volume, 1)",
            Qty::new(fraction, "1"),
        )
        .input("volume infused", Qty::new(volume, "mL"))
        .input("bag volume", Qty::new(bag, "mL")),
        Step::new(
            "Dose given",
            "ordered dose × fraction infused",
            Qty::new(dose, &facts.dose_unit),
        )
        .input(
            "ordered dose",
            Qty::new(facts.ordered_dose, &facts.dose_unit),
        ),
    ];
    Ok(Given {
        volume_infused_ml: Some(volume),
        volume_source: source.into(),
        dose_given: dose,
        dose_unit: facts.dose_unit.clone(),
        partial: fraction < PARTIAL_BELOW_FRACTION,
        minutes_elapsed: minutes,
        steps,
    })
}

/// The dose an administration gave, as recorded at its end.
pub fn given_of(a: &Administration) -> Option<Given> {
    a.pump_programme_json
        .get("completion")
        .cloned()
        .and_then(|c| serde_json::from_value(c).ok())
}

/// The cumulative ledger: per (drug, unit), the doses given by finished administrations
/// (partial infusions count their partial dose); a completed order whose administration
/// recorded no dose given (finished before doses given were recorded) counts its ordered dose.
pub fn ledger(
    orders: &[Stored<Order>],
    administrations: &[Stored<Administration>],
) -> Vec<CumulativeDose> {
    let mut out: std::collections::BTreeMap<(String, String), (f64, usize)> =
        std::collections::BTreeMap::new();
    for o in orders {
        let given: Vec<Given> = administrations
            .iter()
            .filter(|a| a.data.order_id == o.id)
            .filter_map(|a| given_of(&a.data))
            .collect();
        let counted: Vec<(f64, String)> = if given.is_empty() {
            if o.data.status == OrderStatus::Completed {
                vec![(number(&o.data.dose), o.data.dose_unit.clone())]
            } else {
                Vec::new()
            }
        } else {
            given
                .into_iter()
                .map(|g| (g.dose_given, g.dose_unit))
                .collect()
        };
        if counted.is_empty() {
            continue;
        }
        let e = out
            .entry((o.data.drug_id.clone(), o.data.dose_unit.clone()))
            .or_insert((0.0, 0));
        for (d, _) in counted {
            e.0 += d;
        }
        e.1 += 1;
    }
    out.into_iter()
        .map(|((medication, unit), (total, n_orders))| CumulativeDose {
            medication,
            unit,
            total,
            n_orders,
        })
        .collect()
}

/// The highest rate an administration ran at, mL/h: its programme and every recorded rate.
fn max_rate(
    programme: &PumpProgramme,
    keyed: &Json,
    events: &[Stored<AdministrationEvent>],
) -> Option<f64> {
    programme_steps(programme)
        .iter()
        .map(|s| s.rate.value())
        .chain(keyed.get("rate_ml_per_h").and_then(Json::as_f64))
        .chain(
            events
                .iter()
                .filter_map(|e| e.data.rate_ml_per_h.as_ref().map(number)),
        )
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))))
}

/// The order's status and the audit actions of an ending.
fn ending(
    outcome: AdministrationStatus,
    discontinue_order: bool,
) -> (OrderStatus, &'static str, &'static str) {
    match (outcome, discontinue_order) {
        (AdministrationStatus::Completed, _) => (
            OrderStatus::Completed,
            "order.completed",
            "administration.finish",
        ),
        (_, true) => (
            OrderStatus::Discontinued,
            "order.discontinued",
            "administration.stop",
        ),
        _ => (
            OrderStatus::Verified,
            "order.infusion_stopped",
            "administration.stop",
        ),
    }
}

/// What the record says at the end of administration `a` of order `o`.
async fn facts_of(
    tx: &mut Tx,
    a: &Stored<Administration>,
    o: &Stored<Order>,
    now: i64,
) -> Result<CompletionFacts, AppError> {
    let prep = tx.get::<Preparation>(&a.data.preparation_id).await?;
    let events = tx
        .find_by::<AdministrationEvent>("administration_id", text(&a.id))
        .await?;
    let programme: PumpProgramme =
        serde_json::from_value(o.data.pump_programme_json.clone()).unwrap_or_default();
    let pump_volume_ml = events.iter().rev().find_map(|e| {
        e.data
            .detail_json
            .get("volume_infused_ml")
            .and_then(Json::as_f64)
    });
    Ok(CompletionFacts {
        ordered_dose: number(&o.data.dose),
        dose_unit: o.data.dose_unit.clone(),
        bag_volume_ml: prep.map(|p| number(&p.data.final_volume_ml)).or(o
            .data
            .final_volume_ml
            .as_ref()
            .map(number)),
        started_at_us: a.data.started_at_us,
        now_us: now,
        max_rate_ml_per_h: max_rate(&programme, &a.data.pump_programme_json, &events),
        pump_volume_ml,
    })
}

impl App {
    /// Ends an administration recording what was given (see the module documentation).
    pub(crate) async fn finish_recording_given(
        &self,
        actor: &Actor,
        administration_id: &str,
        finish: &FinishAdministration,
    ) -> Result<(Stored<Administration>, Stored<Order>), AppError> {
        let role = actor.permit(Action::Administer)?;
        let outcome = finish.outcome;
        if outcome == AdministrationStatus::InProgress {
            return Err(AppError::invalid(
                "outcome",
                outcome.as_str(),
                "completed, stopped or discontinued",
            ));
        }
        let now = self.now_us();
        let mut tx = self.store().begin().await?;
        let a = tx
            .get_for_update::<Administration>(administration_id)
            .await?;
        if a.data.status != "in_progress" {
            return Err(AppError::state(
                "administration.not_running",
                format!("the administration is {}", a.data.status),
            ));
        }
        let o = tx.get_for_update::<Order>(&a.data.order_id).await?;
        let facts = facts_of(&mut tx, &a, &o, now).await?;
        let given = dose_given(&facts, finish.volume_infused.map(|v| v.value()))?;
        let derivation = json!({"completion": given});
        let (order_status, order_action, admin_action) = ending(outcome, finish.discontinue_order);
        let with_reason = |c: Change| match &finish.reason {
            Some(r) => c.reason(r.clone()),
            None => c,
        };
        let by = || Change::by(&actor.user_id, role.as_str());
        let mut arow = a.data.clone();
        arow.status = outcome;
        arow.stopped_at_us = Some(now);
        arow.stop_reason = finish.reason.clone();
        if let Some(doc) = arow.pump_programme_json.as_object_mut() {
            doc.insert(
                "completion".into(),
                serde_json::to_value(&given).map_err(|e| AppError::Internal(e.to_string()))?,
            );
        }
        let admin = tx
            .update(
                &with_reason(by().action(admin_action)).derivation(derivation.clone()),
                administration_id,
                a.version,
                arow,
            )
            .await?;
        let mut row = o.data.clone();
        row.status = order_status;
        let order = tx
            .update(
                &with_reason(by().action(order_action)).derivation(derivation),
                &o.id,
                o.version,
                row,
            )
            .await?;
        if let Some(aid) = &a.data.appointment_id {
            let ap = tx.get_for_update::<Appointment>(aid).await?;
            let mut aprow = ap.data.clone();
            aprow.status = AppointmentStatus::Completed;
            tx.update(
                &by().action("appointment.completed"),
                aid,
                ap.version,
                aprow,
            )
            .await?;
        }
        tx.commit().await?;
        Ok((admin, order))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN_US: i64 = 60 * 1_000_000;

    /// 1,000 mg in 250 mL over 4 h (62.5 mL/h).
    fn facts(minutes: i64) -> CompletionFacts {
        CompletionFacts {
            ordered_dose: 1000.0,
            dose_unit: "mg".into(),
            bag_volume_ml: Some(250.0),
            started_at_us: 0,
            now_us: minutes * MIN_US,
            max_rate_ml_per_h: Some(62.5),
            pump_volume_ml: None,
        }
    }

    fn refused_field(r: Result<Given, AppError>) -> String {
        match r {
            Err(AppError::Invalid(e)) => format!("{}|{}", e.field, e.message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_full_bag_over_its_time_gives_the_ordered_dose() {
        let g = dose_given(&facts(240), Some(250.0)).expect("complete");
        assert!((g.dose_given - 1000.0).abs() < 1e-9);
        assert!(!g.partial);
        assert_eq!(g.volume_source, "nurse");
    }

    #[test]
    fn a_partial_bag_is_a_partial_dose_with_its_derivation() {
        let g = dose_given(&facts(120), Some(100.0)).expect("partial");
        assert!((g.dose_given - 400.0).abs() < 1e-9, "{g:?}");
        assert!(g.partial);
        assert_eq!(g.steps.len(), 2);
        assert_eq!(g.steps[1].formula, "ordered dose × fraction infused");
    }

    #[test]
    fn completing_a_four_hour_infusion_after_four_minutes_is_refused() {
        // Without a volume: the volume is required.
        let e = refused_field(dose_given(&facts(4), None));
        assert!(e.starts_with("volume_infused|required"), "{e}");
        // With the full bag: it cannot have run at 62.5 mL/h in 4 minutes.
        let e = refused_field(dose_given(&facts(4), Some(250.0)));
        assert!(e.contains("cannot have run in 4 min"), "{e}");
        // What the pump shows after 4 minutes is accepted as a partial dose (4.2 mL).
        let g = dose_given(&facts(4), Some(4.2)).expect("what ran");
        assert!((g.dose_given - 16.8).abs() < 1e-9, "{g:?}");
    }

    #[test]
    fn the_pump_volume_is_used_when_the_nurse_gives_none() {
        let mut f = facts(240);
        f.pump_volume_ml = Some(245.0);
        let g = dose_given(&f, None).expect("pump volume");
        assert_eq!(g.volume_source, "pump");
        assert!((g.dose_given - 980.0).abs() < 1e-9);
    }

    #[test]
    fn more_than_the_bag_is_refused_and_an_order_without_volume_counts_its_dose() {
        let e = refused_field(dose_given(&facts(600), Some(300.0)));
        assert!(e.contains("at most the bag's 250 mL"), "{e}");
        let mut push = facts(2);
        push.bag_volume_ml = None;
        let g = dose_given(&push, None).expect("push");
        assert!((g.dose_given - 1000.0).abs() < 1e-9);
    }
}
