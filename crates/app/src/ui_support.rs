//! Reads the clinician screens need beside the workflow calls: what happened to an order
//! (verifications, preparations, appointments, administrations with their events), the day's
//! board with each appointment's order state, and user names.
//! Read-only; every read checks the actor's role like the workflow reads do.

use std::collections::HashMap;

use infusio_store::records::{
    Administration, AdministrationEvent, Appointment, Order, Patient, Preparation,
    PreparationComponent, User, Verification,
};
use infusio_store::{Stored, Val};

use crate::orders::must_be_blind;
use crate::time::parse_date;
use crate::{Action, Actor, App, AppError};

/// Everything recorded about one order after it was written.
#[derive(Debug, Clone, Default)]
pub struct OrderActivity {
    /// Empty for a pharmacist who must still verify the order blind (an earlier rejected
    /// attempt would show the prescriber's figures).
    pub verifications: Vec<Stored<Verification>>,
    pub preparations: Vec<(Stored<Preparation>, Vec<Stored<PreparationComponent>>)>,
    pub appointments: Vec<Stored<Appointment>>,
    pub administrations: Vec<(Stored<Administration>, Vec<Stored<AdministrationEvent>>)>,
}

/// One appointment of the day's board with what the board shows about it.
#[derive(Debug, Clone)]
pub struct BoardRow {
    pub appointment: Stored<Appointment>,
    pub patient: Option<Stored<Patient>>,
    pub order: Option<Stored<Order>>,
    /// The order's latest administration and its events.
    pub administration: Option<(Stored<Administration>, Vec<Stored<AdministrationEvent>>)>,
}

fn text(v: &str) -> Val {
    Val::Text(Some(v.to_string()))
}

impl App {
    /// What happened to `order_id` after it was written.
    pub async fn order_activity(
        &self,
        actor: &Actor,
        order_id: &str,
    ) -> Result<OrderActivity, AppError> {
        actor.permit(Action::ReadClinical)?;
        let mut tx = self.store().begin_snapshot().await?;
        let order = tx
            .get::<Order>(order_id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                entity: "order",
                id: order_id.to_string(),
            })?;
        let mut out = OrderActivity::default();
        if !must_be_blind(actor, &order) {
            out.verifications = tx
                .find_by::<Verification>("order_id", text(order_id))
                .await?;
        }
        for p in tx
            .find_by::<Preparation>("order_id", text(order_id))
            .await?
        {
            let comps = tx
                .find_by::<PreparationComponent>("preparation_id", text(&p.id))
                .await?;
            out.preparations.push((p, comps));
        }
        out.appointments = tx
            .find_by::<Appointment>("order_id", text(order_id))
            .await?;
        for a in tx
            .find_by::<Administration>("order_id", text(order_id))
            .await?
        {
            let events = tx
                .find_by::<AdministrationEvent>("administration_id", text(&a.id))
                .await?;
            out.administrations.push((a, events));
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// One administration with its events.
    pub async fn administration(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<(Stored<Administration>, Vec<Stored<AdministrationEvent>>), AppError> {
        actor.permit(Action::ReadClinical)?;
        let mut tx = self.store().begin_snapshot().await?;
        let a = tx
            .get::<Administration>(id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                entity: "administration",
                id: id.to_string(),
            })?;
        let events = tx
            .find_by::<AdministrationEvent>("administration_id", text(id))
            .await?;
        tx.rollback().await?;
        Ok((a, events))
    }

    /// The appointments starting on one UTC day (`YYYY-MM-DD`) with their patient, order and
    /// latest administration, by start time.
    pub async fn board_day(&self, actor: &Actor, date: &str) -> Result<Vec<BoardRow>, AppError> {
        actor.permit(Action::ReadClinical)?;
        let (y, m, d) = parse_date("date", date)?;
        let start = crate::time::days_from_civil(y, m, d) * 86_400 * 1_000_000;
        let end = start + 86_400 * 1_000_000;
        let mut tx = self.store().begin_snapshot().await?;
        let mut appts: Vec<_> = tx
            .list::<Appointment>()
            .await?
            .into_iter()
            .filter(|a| a.data.start_at_us >= start && a.data.start_at_us < end)
            .collect();
        appts.sort_by_key(|a| (a.data.start_at_us, a.data.chair.clone()));
        let mut rows = Vec::with_capacity(appts.len());
        for a in appts {
            let patient = tx.get::<Patient>(&a.data.patient_id).await?;
            let (order, administration) = match &a.data.order_id {
                Some(oid) => {
                    let order = tx.get::<Order>(oid).await?;
                    let admins = tx.find_by::<Administration>("order_id", text(oid)).await?;
                    let administration = match admins.into_iter().last() {
                        Some(ad) => {
                            let ev = tx
                                .find_by::<AdministrationEvent>("administration_id", text(&ad.id))
                                .await?;
                            Some((ad, ev))
                        }
                        None => None,
                    };
                    (order, administration)
                }
                None => (None, None),
            };
            rows.push(BoardRow {
                appointment: a,
                patient,
                order,
                administration,
            });
        }
        tx.rollback().await?;
        Ok(rows)
    }

    /// User id → display name, for showing who did what (any clinical or audit reader).
    pub async fn user_names(&self, actor: &Actor) -> Result<HashMap<String, String>, AppError> {
        if actor.permit(Action::ReadClinical).is_err() {
            actor.permit(Action::ReadAudit)?;
        }
        let mut tx = self.store().begin_snapshot().await?;
        let users = tx.list::<User>().await?;
        tx.rollback().await?;
        Ok(users
            .into_iter()
            .map(|u| (u.id, u.data.display_name))
            .collect())
    }
}
