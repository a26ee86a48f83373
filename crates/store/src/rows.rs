//! Rows bound to the audit chain (see the [`crate::audit`] module documentation).
//!
//! Every row insert and update writes, in its audit event, the hash of the row version it
//! wrote. [`row_hash`] is that hash; [`verify_rows`] recomputes it for every current row of
//! every entity table and compares it with the row's last binding event; [`row_status`] does
//! the same for one row (the API uses it to flag a row and refuse to act on it).

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::records::{
    Administration, AdministrationEvent, Allergy, Appointment, LabResult, LotRecall, Measurement,
    Order, Patient, Preparation, PreparationComponent, Protocol, Record, TherapyPlan, User,
    UserRole, Verification,
};
use crate::{Kind, Store, StoreError, Stored, Tx, Val};

/// The `row_hash` of a delete event.
pub const DELETED: &str = "deleted";

/// The hash of a row version as stored: SHA-256 (lowercase hex) of `infusio-row-v1\n`, the
/// table name and `\n`, then one line per column in the table's column order (`id`,
/// `version`, `created_at_us`, `updated_at_us`, then the business columns): `name=value\n`,
/// where an integer is written in decimal ASCII, a text as its UTF-8 byte length, `:` and its
/// bytes, and NULL as `~`. The values are the column values exactly as written and read, so
/// the hash does not depend on how a JSON column's numbers are parsed back.
pub fn hash_values(table: &str, columns: &[&str], values: &[Val]) -> String {
    let mut h = Sha256::new();
    h.update(b"infusio-row-v1\n");
    h.update(table.as_bytes());
    h.update(b"\n");
    for (name, v) in columns.iter().zip(values) {
        h.update(name.as_bytes());
        h.update(b"=");
        match v {
            Val::Int(Some(i)) => h.update(i.to_string().as_bytes()),
            Val::Text(Some(t)) => {
                h.update(format!("{}:", t.len()).as_bytes());
                h.update(t.as_bytes());
            }
            Val::Int(None) | Val::Text(None) => h.update(b"~"),
        }
        h.update(b"\n");
    }
    hex(&h.finalize())
}

/// The hash of the row version `row` as the store writes it (see [`hash_values`]).
pub fn row_hash<T: Record>(row: &Stored<T>) -> String {
    let mut values = vec![
        Val::Text(Some(row.id.clone())),
        Val::Int(Some(row.version)),
        Val::Int(Some(row.created_at_us)),
        Val::Int(Some(row.updated_at_us)),
    ];
    values.extend(row.data.to_values());
    hash_values(T::TABLE, &crate::all_columns::<T>(), &values)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The last binding event of a row: its sequence number and the row hash it carries.
async fn last_binding(
    tx: &mut Tx,
    table: &str,
    id: &str,
) -> Result<Option<(i64, String)>, StoreError> {
    let rows = tx
        .fetch(
            "SELECT seq, row_hash FROM audit_event WHERE entity_type = $1 AND entity_id = $2 \
             AND row_hash IS NOT NULL ORDER BY seq DESC LIMIT 1",
            &[Val::Text(Some(table.into())), Val::Text(Some(id.into()))],
            &[Kind::Int, Kind::Text],
        )
        .await?;
    Ok(rows.into_iter().next().and_then(|r| match r.as_slice() {
        [Val::Int(Some(seq)), Val::Text(Some(hash))] => Some((*seq, hash.clone())),
        _ => None,
    }))
}

/// The hash the row should have: from this transaction's own queued events first (a row
/// written twice in one transaction), else from the chain. `None`: the row is not bound
/// (written before schema version 5).
async fn expected_hash(
    tx: &mut Tx,
    table: &str,
    id: &str,
) -> Result<Option<(i64, String)>, StoreError> {
    let queued = tx
        .pending
        .iter()
        .zip(&tx.pending_rows)
        .rev()
        .find(|(d, h)| h.is_some() && d.entity_type == table && d.entity_id == id)
        .and_then(|(_, h)| h.clone());
    if let Some(h) = queued {
        return Ok(Some((0, h)));
    }
    last_binding(tx, table, id).await
}

/// Refuses a row read in a read-write transaction (about to be changed, or used to derive a
/// change) whose stored content, hashed as `actual`, no longer matches its last binding event.
pub(crate) async fn refuse_unbound_change(
    tx: &mut Tx,
    table: &'static str,
    id: &str,
    actual: &str,
) -> Result<(), StoreError> {
    if let Some((seq, expected)) = expected_hash(tx, table, id).await?
        && expected != actual
    {
        return Err(StoreError::RowTampered {
            table,
            id: id.to_string(),
            seq,
        });
    }
    Ok(())
}

/// How one row stands against the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum RowStatus {
    /// The row matches the row version its last event wrote.
    Bound { seq: i64 },
    /// No event binds the row (written before schema version 5, or inserted outside the
    /// application).
    Unbound,
    /// The row's content differs from its last event's: changed outside the application.
    Mismatch { seq: i64 },
}

/// The status of row `id` of entity `T`, read in `tx`. `None` when the row does not exist.
pub async fn row_status<T: Record>(tx: &mut Tx, id: &str) -> Result<Option<RowStatus>, StoreError> {
    let Some((_, actual)) = tx.get_hashed::<T>(id).await? else {
        return Ok(None);
    };
    Ok(Some(match last_binding(tx, T::TABLE, id).await? {
        None => RowStatus::Unbound,
        Some((seq, h)) if h == actual => RowStatus::Bound { seq },
        Some((seq, _)) => RowStatus::Mismatch { seq },
    }))
}

/// One row that fails the check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowProblem {
    pub table: String,
    pub id: String,
    /// `mismatch` (content changed), `missing` (deleted outside the application) or
    /// `unbound` (no event binds it though it was created after binding began).
    pub problem: &'static str,
    /// The last binding event, if any.
    pub seq: Option<i64>,
}

/// The result of [`verify_rows`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RowReport {
    /// Rows whose content matches their last event.
    pub rows_bound: u64,
    /// Rows no event binds, created before the first binding event (written by an earlier
    /// version): not checkable, not an error.
    pub rows_unbound_legacy: u64,
    pub problems: Vec<RowProblem>,
}

impl RowReport {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Every binding event's last row hash by (table, id), and when binding began.
async fn bindings(
    tx: &mut Tx,
) -> Result<(BTreeMap<(String, String), (i64, String)>, Option<i64>), StoreError> {
    let rows = tx
        .fetch(
            "SELECT entity_type, entity_id, seq, row_hash, at_us FROM audit_event \
             WHERE row_hash IS NOT NULL ORDER BY seq",
            &[],
            &[Kind::Text, Kind::Text, Kind::Int, Kind::Text, Kind::Int],
        )
        .await?;
    let mut out = BTreeMap::new();
    let mut began = None;
    for r in rows {
        if let [
            Val::Text(Some(t)),
            Val::Text(Some(id)),
            Val::Int(Some(seq)),
            Val::Text(Some(h)),
            Val::Int(Some(at)),
        ] = r.as_slice()
        {
            began = began.or(Some(*at));
            out.insert((t.clone(), id.clone()), (*seq, h.clone()));
        }
    }
    Ok((out, began))
}

async fn check_table<T: Record>(
    tx: &mut Tx,
    bound: &mut BTreeMap<(String, String), (i64, String)>,
    began: Option<i64>,
    report: &mut RowReport,
) -> Result<(), StoreError> {
    for (row, actual) in tx.list_hashed::<T>().await? {
        let problem = match bound.remove(&(T::TABLE.to_string(), row.id.clone())) {
            Some((_, h)) if h == actual => {
                report.rows_bound += 1;
                continue;
            }
            Some((seq, _)) => ("mismatch", Some(seq)),
            None if began.is_some_and(|b| row.created_at_us >= b) => ("unbound", None),
            None => {
                report.rows_unbound_legacy += 1;
                continue;
            }
        };
        report.problems.push(RowProblem {
            table: T::TABLE.to_string(),
            id: row.id,
            problem: problem.0,
            seq: problem.1,
        });
    }
    Ok(())
}

/// Recomputes the hash of every current row and compares it with its last binding event;
/// reports changed rows, rows deleted outside the application and rows no event binds.
pub async fn verify_rows(store: &Store) -> Result<RowReport, StoreError> {
    let mut tx = store.begin_snapshot().await?;
    let (mut bound, began) = bindings(&mut tx).await?;
    let mut report = RowReport::default();
    let mut checked = Vec::new();
    macro_rules! each {
        ($($t:ty),+) => {
            $(
                check_table::<$t>(&mut tx, &mut bound, began, &mut report).await?;
                checked.push(<$t as Record>::TABLE);
            )+
        };
    }
    each!(
        User,
        UserRole,
        Patient,
        Allergy,
        Measurement,
        LabResult,
        Protocol,
        TherapyPlan,
        Order,
        Verification,
        Preparation,
        PreparationComponent,
        LotRecall,
        Appointment,
        Administration,
        AdministrationEvent
    );
    tx.rollback().await?;
    // What is left was bound but is gone: deleted through the application (last event a
    // delete) or outside it.
    for ((table, id), (seq, h)) in bound {
        if h != DELETED && checked.contains(&table.as_str()) {
            report.problems.push(RowProblem {
                table,
                id,
                problem: "missing",
                seq: Some(seq),
            });
        }
    }
    Ok(report)
}

/// The tables [`verify_rows`] checks (a test holds it equal to every entity table).
pub const CHECKED_TABLES: &[&str] = &[
    "users",
    "user_roles",
    "patients",
    "allergies",
    "measurements",
    "lab_results",
    "protocols",
    "therapy_plans",
    "orders",
    "verifications",
    "preparations",
    "preparation_components",
    "lot_recalls",
    "appointments",
    "administrations",
    "administration_events",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A new entity table must be added to `verify_rows` (and here), or its rows would go
    /// unchecked.
    #[test]
    fn every_entity_table_is_checked() {
        let tables: Vec<&str> = crate::records::ENTITY_TABLES.iter().map(|t| t.0).collect();
        assert_eq!(tables, CHECKED_TABLES);
    }

    #[test]
    fn a_changed_column_changes_the_row_hash() {
        let row = Stored {
            id: "u1".to_string(),
            version: 1,
            created_at_us: 1,
            updated_at_us: 1,
            data: User {
                username: "a".into(),
                display_name: "A".into(),
                password_hash: None,
                active: true,
            },
        };
        let mut other = row.clone();
        other.data.active = false;
        let h = row_hash(&row);
        assert_eq!(h.len(), 64);
        assert_eq!(h, row_hash(&row.clone()));
        assert_ne!(h, row_hash(&other));
    }
}
