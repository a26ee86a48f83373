//! Consistent snapshots and restores.
//!
//! * SQLite: `VACUUM INTO FILE` writes a compact, transactionally consistent copy of the
//!   database (a SQLite file that opens on its own).
//! * PostgreSQL: a logical JSON dump of every table read inside one `REPEATABLE READ, READ ONLY`
//!   transaction (one snapshot), format `infusio-backup` version 1:
//!   `{"format", "format_version", "schema_version", "backend", "taken_at_us",
//!   "audit_head": {"seq", "hash"}, "tables": [{"name", "columns", "rows": [[…], …]}]}`, tables in
//!   foreign-key order, values as JSON strings, integers or null.
//!
//! A restore reads either form, refuses a non-empty target, writes everything in one
//! transaction, then verifies the chain and checks that the restored head equals the
//! snapshot's. The logical form also moves a record between backends (SQLite → PostgreSQL).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::audit::{self, AuditHead};
use crate::records::{ENTITY_TABLES, MANAGED_COLUMNS};
use crate::{Backend, Kind, Store, StoreError, Tx, Val, now_us};

const FORMAT: &str = "infusio-backup";
const FORMAT_VERSION: i64 = 1;
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// One table's rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDump {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Json>>,
}

/// A whole record, as read in one snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dump {
    pub format: String,
    pub format_version: i64,
    pub schema_version: i64,
    pub backend: String,
    pub taken_at_us: i64,
    pub audit_head: AuditHead,
    pub tables: Vec<TableDump>,
}

/// What a backup or restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupSummary {
    /// `sqlite-file` or `json`.
    pub format: &'static str,
    pub audit_head: AuditHead,
    pub rows: usize,
}

/// The tables of the schema with their columns, in foreign-key order: the entities, the
/// workflow layer's sessions, sign-in failures and idempotency keys, then the audit chain (its
/// head row is restored from the dump's `audit_head`).
fn all_tables() -> Vec<(&'static str, Vec<(&'static str, Kind)>)> {
    let mut out: Vec<(&'static str, Vec<(&'static str, Kind)>)> = ENTITY_TABLES
        .iter()
        .map(|(t, cols, kinds)| {
            let mut c: Vec<(&'static str, Kind)> = MANAGED_COLUMNS.to_vec();
            c.extend(cols.iter().copied().zip(kinds.iter().copied()));
            (*t, c)
        })
        .collect();
    out.extend(APP_TABLES.iter().map(|(t, cols)| (*t, cols.to_vec())));
    out.push((
        "audit_event",
        vec![
            ("seq", Kind::Int),
            ("at_us", Kind::Int),
            ("actor", Kind::Text),
            ("actor_role", Kind::Text),
            ("action", Kind::Text),
            ("entity_type", Kind::Text),
            ("entity_id", Kind::Text),
            ("before_json", Kind::Text),
            ("after_json", Kind::Text),
            ("reason", Kind::Text),
            ("derivation_json", Kind::Text),
            ("prev_hash", Kind::Text),
            ("hash", Kind::Text),
            ("row_hash", Kind::Text),
        ],
    ));
    out
}

/// The workflow layer's tables (schema migration 3) and the interface's inbound message log
/// (migration 4): not entities (no id or version), not
/// audited row by row, but part of the record a restore must bring back — a restored server
/// honours the sessions, lockouts and idempotency keys it had.
const APP_TABLES: &[(&str, &[(&str, Kind)])] = &[
    (
        "app_sessions",
        &[
            ("token_hash", Kind::Text),
            ("user_id", Kind::Text),
            ("kind", Kind::Text),
            ("csrf_token", Kind::Text),
            ("created_at_us", Kind::Int),
            ("last_seen_at_us", Kind::Int),
            ("expires_at_us", Kind::Int),
        ],
    ),
    (
        "app_sign_in_failures",
        &[
            ("username", Kind::Text),
            ("failures", Kind::Int),
            ("locked_until_us", Kind::Int),
        ],
    ),
    (
        "app_idempotency",
        &[
            ("idem_key", Kind::Text),
            ("request_hash", Kind::Text),
            ("entity_id", Kind::Text),
            ("created_at_us", Kind::Int),
        ],
    ),
    (
        "interface_inbound",
        &[
            ("sender", Kind::Text),
            ("control_id", Kind::Text),
            ("message_hash", Kind::Text),
            ("message_type", Kind::Text),
            ("received_at_us", Kind::Int),
            ("ack_code", Kind::Text),
            ("ack_text", Kind::Text),
            ("outcome", Kind::Text),
            ("message_text", Kind::Text),
        ],
    ),
    (
        "access_log",
        &[
            ("id", Kind::Text),
            ("at_us", Kind::Int),
            ("actor", Kind::Text),
            ("actor_role", Kind::Text),
            ("patient_id", Kind::Text),
            ("view", Kind::Text),
            ("detail", Kind::Text),
        ],
    ),
];

fn key_column(table: &str) -> &'static str {
    match table {
        "audit_event" => "seq",
        "app_sessions" => "token_hash",
        "app_sign_in_failures" => "username",
        "app_idempotency" => "idem_key",
        "interface_inbound" => "sender, control_id",
        _ => "id",
    }
}

/// Reads every table in one snapshot.
pub async fn dump(store: &Store) -> Result<Dump, StoreError> {
    let schema_version = store.schema_version().await?;
    let mut tx = store.begin_snapshot().await?;
    let head = audit::read_head(&mut tx).await?;
    let mut tables = Vec::new();
    for (name, columns) in all_tables() {
        let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
        let kinds: Vec<Kind> = columns.iter().map(|(_, k)| *k).collect();
        let rows = tx
            .fetch(
                &format!(
                    "SELECT {} FROM {name} ORDER BY {}",
                    names.join(", "),
                    key_column(name)
                ),
                &[],
                &kinds,
            )
            .await?;
        tables.push(TableDump {
            name: name.to_string(),
            columns: names.iter().map(|c| c.to_string()).collect(),
            rows: rows
                .into_iter()
                .map(|r| r.iter().map(Val::to_json).collect())
                .collect(),
        });
    }
    tx.rollback().await?;
    Ok(Dump {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        schema_version,
        backend: store.backend().as_str().into(),
        taken_at_us: now_us(),
        audit_head: head,
        tables,
    })
}

/// Writes a consistent snapshot of `store` to `file`, which must not exist yet.
pub async fn backup(store: &Store, file: &Path) -> Result<BackupSummary, StoreError> {
    if file.exists() {
        return Err(StoreError::Backup(format!(
            "{} already exists: choose a new file (a backup never overwrites)",
            file.display()
        )));
    }
    match store.sqlite_pool() {
        Some(pool) => {
            let target = file.to_str().ok_or_else(|| {
                StoreError::Backup(format!("{} is not a UTF-8 path", file.display()))
            })?;
            sqlx::query("VACUUM INTO $1")
                .bind(target)
                .execute(pool)
                .await?;
            // Read the head from the snapshot itself: that is what a restore will check.
            let snapshot = Store::open_sqlite_read_only(file).await?;
            let head = snapshot.audit_head().await;
            let rows = count_rows(&snapshot).await;
            snapshot.close().await;
            Ok(BackupSummary {
                format: "sqlite-file",
                audit_head: head?,
                rows: rows?,
            })
        }
        None => {
            let d = dump(store).await?;
            let rows = d.tables.iter().map(|t| t.rows.len()).sum();
            let text = serde_json::to_vec(&d)
                .map_err(|e| StoreError::Backup(format!("cannot serialise the dump: {e}")))?;
            write_durably(file, &text)?;
            Ok(BackupSummary {
                format: "json",
                audit_head: d.audit_head,
                rows,
            })
        }
    }
}

async fn count_rows(store: &Store) -> Result<usize, StoreError> {
    let mut tx = store.begin_snapshot().await?;
    let mut n = 0usize;
    for (name, _) in all_tables() {
        let rows = tx
            .fetch(&format!("SELECT COUNT(*) FROM {name}"), &[], &[Kind::Int])
            .await?;
        if let Some(Val::Int(Some(c))) = rows.first().and_then(|r| r.first()) {
            n += usize::try_from(*c).unwrap_or(0);
        }
    }
    tx.rollback().await?;
    Ok(n)
}

/// Writes to a temporary file, fsyncs it, then renames it into place: a crash leaves either no
/// backup or a whole one.
fn write_durably(file: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = std::path::PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, file)?;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Persist the rename itself.
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Reads a backup written by [`backup`] (either form).
pub async fn read_backup(file: &Path) -> Result<Dump, StoreError> {
    let bytes = std::fs::read(file)?;
    if bytes.starts_with(SQLITE_MAGIC) {
        let snapshot = Store::open_sqlite_read_only(file).await?;
        let d = dump(&snapshot).await;
        snapshot.close().await;
        return d;
    }
    let d: Dump = serde_json::from_slice(&bytes).map_err(|e| {
        StoreError::Backup(format!(
            "{} is neither a SQLite snapshot nor an Infusio JSON backup: {e}",
            file.display()
        ))
    })?;
    if d.format != FORMAT || d.format_version != FORMAT_VERSION {
        return Err(StoreError::Backup(format!(
            "{} is format {:?} version {}; this build reads {FORMAT} version {FORMAT_VERSION}",
            file.display(),
            d.format,
            d.format_version
        )));
    }
    Ok(d)
}

/// Restores `file` into `store` (migrated first), which must hold no records yet.
pub async fn restore(store: &Store, file: &Path) -> Result<BackupSummary, StoreError> {
    let d = read_backup(file).await?;
    let format = if d.backend == "sqlite" && std::fs::read(file)?.starts_with(SQLITE_MAGIC) {
        "sqlite-file"
    } else {
        "json"
    };
    let version = store.migrate().await?;
    if d.schema_version != version {
        return Err(StoreError::Backup(format!(
            "the backup is at schema version {}, this database at {version}: restore with the matching Infusio version",
            d.schema_version
        )));
    }
    let mut tx = store.begin().await?;
    refuse_non_empty(&mut tx).await?;
    let expected = all_tables();
    let mut rows = 0usize;
    for (name, columns) in &expected {
        let table = d
            .tables
            .iter()
            .find(|t| t.name == *name)
            .ok_or_else(|| StoreError::Backup(format!("the backup has no table {name}")))?;
        let names: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
        if table.columns != names {
            return Err(StoreError::Backup(format!(
                "table {name}: the backup's columns {:?} differ from the schema's {names:?}",
                table.columns
            )));
        }
        let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let statement = format!(
            "INSERT INTO {name} ({}) VALUES ({})",
            names.join(", "),
            placeholders.join(", ")
        );
        for (i, row) in table.rows.iter().enumerate() {
            if row.len() != columns.len() {
                return Err(StoreError::Backup(format!(
                    "table {name}, row {i}: wrong number of values"
                )));
            }
            let mut args = Vec::with_capacity(row.len());
            for ((column, kind), v) in columns.iter().zip(row) {
                args.push(Val::from_json(*kind, v).ok_or_else(|| {
                    StoreError::Backup(format!(
                        "table {name}, row {i}, column {column}: unexpected value {v}"
                    ))
                })?);
            }
            tx.execute(&statement, &args)
                .await
                .map_err(|e| crate::error::write_error("restore", e))?;
            rows += 1;
        }
    }
    tx.execute(
        "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
        &[
            Val::Int(Some(d.audit_head.seq)),
            Val::Text(Some(d.audit_head.hash.clone())),
        ],
    )
    .await?;
    tx.commit().await?;
    let report = store.verify_audit().await?;
    if let Some(b) = report.broken {
        return Err(StoreError::Backup(format!(
            "the restored audit chain is broken at event {} ({:?}): {}",
            b.seq, b.kind, b.detail
        )));
    }
    if report.head != d.audit_head {
        return Err(StoreError::Backup(format!(
            "the restored head {:?} differs from the snapshot's {:?}",
            report.head, d.audit_head
        )));
    }
    Ok(BackupSummary {
        format,
        audit_head: report.head,
        rows,
    })
}

async fn refuse_non_empty(tx: &mut Tx) -> Result<(), StoreError> {
    let head = audit::read_head(tx).await?;
    if head.seq != 0 {
        return Err(StoreError::Backup(format!(
            "the target database already holds {} audit events: restore only into a new, empty database",
            head.seq
        )));
    }
    for (name, _) in all_tables() {
        let rows = tx
            .fetch(&format!("SELECT COUNT(*) FROM {name}"), &[], &[Kind::Int])
            .await?;
        if let Some(Val::Int(Some(c))) = rows.first().and_then(|r| r.first())
            && *c > 0
        {
            return Err(StoreError::Backup(format!(
                "the target database already holds {c} rows in {name}: restore only into a new, empty database"
            )));
        }
    }
    Ok(())
}

/// Which backend a store is (re-exported for messages).
pub fn describe(store: &Store) -> String {
    format!(
        "{} ({})",
        store.location(),
        match store.backend() {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    )
}
