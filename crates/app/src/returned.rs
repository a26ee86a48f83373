//! Orders the pharmacy returned to their prescriber, and the rule that a pharmacist who has
//! seen the prescriber's figures does not verify the same version again.
//!
//! A verification that does not verify shows the pharmacist the prescriber's figures (the
//! answer lists the differences), so that pharmacist's next entry would no longer be blind.
//! Each verification records the order version it was made against (`order_version` in its
//! blind entry); the same pharmacist is refused on that version. An explicit rejection
//! (`decision: reject`, with a reason) also returns the order to its prescriber as a draft;
//! the draft carries the latest rejection, shown on the order page and the board, until it is
//! signed again.

use infusio_store::records::{Order, Verification};
use infusio_store::{OrderStatus, Stored, Val, VerificationOutcome};
use serde::Serialize;

use crate::time::iso_from_us;
use crate::{Action, Actor, App, AppError};

/// Why and by whom an order was returned to its prescriber.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Returned {
    pub order_id: String,
    pub patient_id: String,
    pub drug_id: String,
    pub prescriber_id: String,
    pub pharmacist_id: String,
    /// ISO 8601, UTC.
    pub returned_at: String,
    /// The pharmacist's reason, as written.
    pub reason: String,
    pub verification_id: String,
}

fn text(v: &str) -> Val {
    Val::Text(Some(v.to_string()))
}

/// Whether a verification was an explicit rejection (returned to the prescriber).
fn is_return(v: &Stored<Verification>) -> bool {
    v.data.outcome == VerificationOutcome::Rejected
        && v.data.blind_entry_json["decision"] == "reject"
}

/// The latest explicit rejection of a draft order, if any.
fn latest_return(
    order: &Stored<Order>,
    verifications: &[Stored<Verification>],
) -> Option<Returned> {
    if order.data.status != OrderStatus::Draft {
        return None;
    }
    let mut returns: Vec<&Stored<Verification>> =
        verifications.iter().filter(|v| is_return(v)).collect();
    returns.sort_by_key(|v| v.data.verified_at_us);
    let v = returns.last()?;
    Some(Returned {
        order_id: order.id.clone(),
        patient_id: order.data.patient_id.clone(),
        drug_id: order.data.drug_id.clone(),
        prescriber_id: order.data.prescriber_id.clone(),
        pharmacist_id: v.data.pharmacist_id.clone(),
        returned_at: iso_from_us(v.data.verified_at_us),
        reason: v.data.note.clone().unwrap_or_default(),
        verification_id: v.id.clone(),
    })
}

impl App {
    /// Refuses `actor` on `order`'s current version when one of their verifications of that
    /// version did not verify it: they have seen the prescriber's figures.
    pub(crate) async fn refuse_seen_figures(
        &self,
        actor: &Actor,
        order: &Stored<Order>,
    ) -> Result<(), AppError> {
        let mut tx = self.store().begin_snapshot().await?;
        let earlier = tx
            .find_by::<Verification>("order_id", text(&order.id))
            .await?;
        tx.rollback().await?;
        let seen = earlier.iter().any(|v| {
            v.data.pharmacist_id == actor.user_id
                && v.data.outcome == VerificationOutcome::Rejected
                && v.data.blind_entry_json["order_version"].as_i64() == Some(order.version)
        });
        if seen {
            return Err(AppError::state(
                "verification.figures_seen",
                format!(
                    "you have already verified version {} of this order and seen the \
                     prescriber's figures: another pharmacist must verify it, or the \
                     prescriber must sign a new version",
                    order.version
                ),
            ));
        }
        Ok(())
    }

    /// The latest rejection of `order_id` while it is back with its prescriber (a draft that
    /// the pharmacy returned); `None` otherwise.
    pub async fn order_returned(
        &self,
        actor: &Actor,
        order_id: &str,
    ) -> Result<Option<Returned>, AppError> {
        actor.permit(Action::ReadClinical)?;
        let mut tx = self.store().begin_snapshot().await?;
        let order = tx
            .get::<Order>(order_id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                entity: "order",
                id: order_id.to_string(),
            })?;
        let verifications = tx
            .find_by::<Verification>("order_id", text(order_id))
            .await?;
        tx.rollback().await?;
        Ok(latest_return(&order, &verifications))
    }

    /// Every order the pharmacy returned and its prescriber has not signed again, newest
    /// return first: the prescribers' queue.
    pub async fn returned_orders(&self, actor: &Actor) -> Result<Vec<Returned>, AppError> {
        actor.permit(Action::ReadClinical)?;
        let mut tx = self.store().begin_snapshot().await?;
        let drafts = tx
            .find_by::<Order>("status", text(OrderStatus::Draft.as_str()))
            .await?;
        let mut out = Vec::new();
        for o in &drafts {
            let verifications = tx.find_by::<Verification>("order_id", text(&o.id)).await?;
            out.extend(latest_return(o, &verifications));
        }
        tx.rollback().await?;
        out.sort_by(|a, b| b.returned_at.cmp(&a.returned_at));
        Ok(out)
    }
}
