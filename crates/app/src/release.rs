//! The pharmacist's final check that releases a prepared bag: a pharmacist other than the
//! person who prepared it compares the bag with the verified order and releases it
//! (`prepared → released`, `checked_by` recorded). The bedside accepts a released bag, or a
//! prepared one where no release is required.
//!
//! Release is required for the drugs the library flags as high-alert or hazardous (ISMP
//! high-alert list; NIOSH hazardous-drug list), when
//! [`crate::AppConfig::preparation_release_required`] is on. The preparer may be a pharmacist
//! too; the check is then still by a second person (independent double check, ISMP, *Independent
//! double checks: worth the effort if used judiciously and properly*, 2019).

use infusio_core::derivation::{Finding, Severity};
use infusio_store::records::{Order, Preparation};
use infusio_store::{Change, PreparationStatus, Role, Stored};

use crate::{Actor, App, AppError};

/// Whether the bag of an order for this drug must be released by a pharmacist before the
/// bedside accepts it: the library flags the drug high-alert or hazardous, or the order is
/// high-alert.
pub fn release_required(library: &infusio_core::library::Library, order: &Order) -> bool {
    order.high_alert
        || library
            .get(&order.drug_id)
            .is_some_and(|e| e.flags.high_alert || e.flags.hazardous)
}

/// The bedside's hard stop for a bag that must be released and is not (empty otherwise).
pub fn release_findings(required: bool, prep: &Preparation) -> Vec<Finding> {
    if required && prep.status != PreparationStatus::Released {
        vec![Finding::new(
            "preparation.not_released",
            Severity::HardStop,
            format!(
                "the bag is {} but not released: a pharmacist other than the preparer must check and release it first",
                prep.status.as_str()
            ),
        )]
    } else {
        Vec::new()
    }
}

impl App {
    /// Releases a prepared bag after the pharmacist's final check: the actor must be a
    /// pharmacist and not the person who prepared it; the bag must be `prepared` (not yet
    /// released, given or wasted) and at `version`.
    pub async fn release_preparation(
        &self,
        actor: &Actor,
        preparation_id: &str,
        version: Option<i64>,
    ) -> Result<Stored<Preparation>, AppError> {
        const ACTION: &str = "release a preparation";
        if !actor.has(Role::Pharmacist) {
            return Err(AppError::forbidden(
                ACTION,
                "only a pharmacist performs the final check that releases a bag",
            ));
        }
        let version = version.ok_or(AppError::VersionRequired)?;
        let mut tx = self.store().begin().await?;
        let p = tx
            .get::<Preparation>(preparation_id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                entity: "preparation",
                id: preparation_id.to_string(),
            })?;
        if p.version != version {
            return Err(AppError::Stale {
                entity: "preparation",
                id: p.id.clone(),
                expected: version,
                current: p.version,
            });
        }
        if p.data.prepared_by == actor.user_id {
            return Err(AppError::forbidden(
                ACTION,
                "the final check is by a pharmacist other than the person who prepared the bag",
            ));
        }
        if p.data.status != PreparationStatus::Prepared {
            return Err(AppError::state(
                "preparation.not_prepared",
                format!(
                    "the bag is {}: only a prepared bag can be released",
                    p.data.status.as_str()
                ),
            ));
        }
        let order = tx.get::<Order>(&p.data.order_id).await?;
        debug_assert!(order.is_some(), "a preparation belongs to an order");
        let mut row = p.data.clone();
        row.status = PreparationStatus::Released;
        row.checked_by = Some(actor.user_id.clone());
        let change =
            Change::by(&actor.user_id, Role::Pharmacist.as_str()).action("preparation.released");
        let updated = tx.update(&change, &p.id, version, row).await?;
        tx.commit().await?;
        Ok(updated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bag_that_must_be_released_is_refused_until_it_is() {
        let mut prep = Preparation {
            order_id: "o".into(),
            prepared_by: "tech".into(),
            checked_by: None,
            prepared_at_us: 0,
            beyond_use_at_us: 1,
            final_volume_ml: infusio_store::Decimal::parse("250").expect("decimal"),
            concentration: infusio_store::Decimal::parse("1").expect("decimal"),
            concentration_unit: "mg/mL".into(),
            status: PreparationStatus::Prepared,
            waste_json: None,
        };
        assert_eq!(release_findings(false, &prep), vec![]);
        let found = release_findings(true, &prep);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, "preparation.not_released");
        prep.status = PreparationStatus::Released;
        assert_eq!(release_findings(true, &prep), vec![]);
    }

    #[test]
    fn hazardous_and_high_alert_drugs_need_a_release() {
        let library = crate::library::builtin().expect("library");
        let order = |drug: &str, high_alert: bool| Order {
            patient_id: "p".into(),
            therapy_plan_id: None,
            drug_id: drug.into(),
            dose: infusio_store::Decimal::parse("1").expect("decimal"),
            dose_unit: "mg".into(),
            route: "iv".into(),
            final_volume_ml: None,
            rate_ml_per_h: None,
            status: infusio_store::OrderStatus::Prepared,
            prescriber_id: "x".into(),
            signed_at_us: None,
            high_alert,
            pump_programme_json: serde_json::json!({}),
            derivation_json: serde_json::json!({}),
            findings_json: serde_json::json!([]),
            overrides_json: serde_json::json!([]),
        };
        assert!(release_required(&library, &order("carboplatin", false)));
        assert!(release_required(&library, &order("infliximab", true)));
        assert!(!release_required(&library, &order("infliximab", false)));
    }
}
