//! Reads of patient data are recorded (issue 19, item 6): who, which patient, which view,
//! when, in the append-only access log; an auditor lists a patient's entries.

use infusio_store::access::AccessEntry;

use crate::{Action, Actor, App, AppError};

/// The most entries one listing returns.
pub const ACCESS_LIST_MAX: i64 = 10_000;

impl App {
    /// Records that `actor` read `patient_id`'s data through `view` (`chart`, `order` …),
    /// with `detail` naming what within it (an order id). Its own small transaction: a read
    /// that is answered is a read that is logged.
    pub async fn record_access(
        &self,
        actor: &Actor,
        patient_id: &str,
        view: &str,
        detail: Option<&str>,
    ) -> Result<(), AppError> {
        let role = actor.permit(Action::ReadClinical)?;
        let mut tx = self.store().begin().await?;
        tx.log_access(
            self.now_us(),
            &actor.user_id,
            role.as_str(),
            patient_id,
            view,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A patient's access log, oldest first (auditors: administrators and pharmacists).
    pub async fn access_log(
        &self,
        actor: &Actor,
        patient_id: &str,
    ) -> Result<Vec<AccessEntry>, AppError> {
        actor.permit(Action::ReadAudit)?;
        self.access_log_unchecked(patient_id).await
    }

    /// A patient's access log for the operator's command line (`infusio audit access`).
    pub async fn access_log_unchecked(
        &self,
        patient_id: &str,
    ) -> Result<Vec<AccessEntry>, AppError> {
        let mut tx = self.store().begin_snapshot().await?;
        let entries = tx.access_of_patient(patient_id, ACCESS_LIST_MAX).await?;
        tx.rollback().await?;
        Ok(entries)
    }
}
