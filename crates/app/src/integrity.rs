//! Whether a record's rows still match the audit chain (issue 19, "rows bound to the chain").
//!
//! The store binds every row version to the audit event that wrote it and refuses any change
//! derived from a row that no longer matches (see `infusio_store::rows`). This module lets
//! the edges show that state: an order page or document flags a row changed outside the
//! application, and an auditor runs the whole-record check.

use infusio_store::records::Order;
use infusio_store::rows::{RowReport, RowStatus};

use crate::{Action, Actor, App, AppError};

impl App {
    /// How order `id` stands against the chain: `bound` (matches its last event), `unbound`
    /// (written before rows were bound) or `mismatch` (changed outside the application).
    pub async fn order_integrity(&self, actor: &Actor, id: &str) -> Result<RowStatus, AppError> {
        actor.permit(Action::ReadClinical)?;
        let mut tx = self.store().begin_snapshot().await?;
        let status = infusio_store::rows::row_status::<Order>(&mut tx, id).await?;
        tx.rollback().await?;
        status.ok_or_else(|| AppError::NotFound {
            entity: "order",
            id: id.to_string(),
        })
    }

    /// Checks every row of the record against its last audit event (auditors).
    pub async fn verify_rows(&self, actor: &Actor) -> Result<RowReport, AppError> {
        actor.permit(Action::ReadAudit)?;
        Ok(infusio_store::rows::verify_rows(self.store()).await?)
    }
}
