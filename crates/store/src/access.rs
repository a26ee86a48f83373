//! The access log (schema version 5): who read which patient's data, through which view,
//! when. Append-only (the database refuses UPDATE and DELETE on `access_log`) and separate
//! from the audit chain, which records changes.

use serde::Serialize;

use crate::value::{Kind, Val};
use crate::{StoreError, Tx, new_id};

/// One read of a patient's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessEntry {
    pub id: String,
    pub at_us: i64,
    /// The reader's user id.
    pub actor: String,
    /// The role they read in.
    pub actor_role: String,
    pub patient_id: String,
    /// The view: `chart`, `order`, `fhir:Patient` …
    pub view: String,
    /// What was read within the view (an order id), if anything.
    pub detail: Option<String>,
}

fn text(v: &Val) -> Option<String> {
    match v {
        Val::Text(t) => t.clone(),
        Val::Int(_) => None,
    }
}

impl Tx {
    /// Appends one access entry; returns its id.
    pub async fn log_access(
        &mut self,
        at_us: i64,
        actor: &str,
        actor_role: &str,
        patient_id: &str,
        view: &str,
        detail: Option<&str>,
    ) -> Result<String, StoreError> {
        let id = new_id();
        self.execute(
            "INSERT INTO access_log (id, at_us, actor, actor_role, patient_id, view, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                Val::Text(Some(id.clone())),
                Val::Int(Some(at_us)),
                Val::Text(Some(actor.into())),
                Val::Text(Some(actor_role.into())),
                Val::Text(Some(patient_id.into())),
                Val::Text(Some(view.into())),
                Val::Text(detail.map(str::to_string)),
            ],
        )
        .await
        .map_err(|e| crate::error::write_error("access_log", e))?;
        Ok(id)
    }

    /// The access entries of one patient, oldest first (at most `limit`).
    pub async fn access_of_patient(
        &mut self,
        patient_id: &str,
        limit: i64,
    ) -> Result<Vec<AccessEntry>, StoreError> {
        let rows = self
            .fetch(
                "SELECT id, at_us, actor, actor_role, patient_id, view, detail FROM access_log \
                 WHERE patient_id = $1 ORDER BY at_us, id LIMIT $2",
                &[Val::Text(Some(patient_id.into())), Val::Int(Some(limit))],
                &[
                    Kind::Text,
                    Kind::Int,
                    Kind::Text,
                    Kind::Text,
                    Kind::Text,
                    Kind::Text,
                    Kind::Text,
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| AccessEntry {
                id: text(&r[0]).unwrap_or_default(),
                at_us: match r[1] {
                    Val::Int(Some(i)) => i,
                    _ => 0,
                },
                actor: text(&r[2]).unwrap_or_default(),
                actor_role: text(&r[3]).unwrap_or_default(),
                patient_id: text(&r[4]).unwrap_or_default(),
                view: text(&r[5]).unwrap_or_default(),
                detail: text(&r[6]),
            })
            .collect())
    }
}
