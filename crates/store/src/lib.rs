//! `infusio-store`: the system of record.
//!
//! One schema (see `migrations/`) on two backends: an embedded **SQLite** file (the default
//! for a single clinic: WAL journal, `synchronous=FULL`, foreign keys on) or **PostgreSQL**
//! (for a health system: refused if `fsync` or `synchronous_commit` is off).
//!
//! Invariants:
//! - Every write goes through a [`Tx`]; every entity write made through [`Tx::insert`],
//!   [`Tx::update`] or [`Tx::delete`] appends its audit event **in the same transaction**, so
//!   the row and its event commit together or not at all.
//! - Updates are optimistic: the caller names the version it read; a stale version is refused
//!   with [`StoreError::StaleVersion`] and nothing is written.
//! - The audit chain is gap-free and hash-linked; appends are serialised through one head row
//!   (see [`audit`]). This crate knows nothing of HTTP, roles' rules or clinical logic.
#![warn(clippy::too_many_lines)] // production functions stay under 100 lines (clippy.toml)

pub mod access;
pub mod anchor;
pub mod audit;
pub mod backup;
mod error;
pub mod queries;
pub mod records;
pub mod rows;
mod sql;
pub mod value;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value as Json;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use audit::{AuditDraft, AuditEvent, AuditHead, BreakKind, BrokenLink, VerifyReport};
pub use error::StoreError;
pub use queries::{ActiveOrderSummary, IdempotencyRow, InboundRecord, SessionRow, SignInFailures};
pub use records::{Record, Stored};
pub use value::{
    AdministrationEventKind, AdministrationStatus, AppointmentStatus, Decimal, Kind, OrderStatus,
    PreparationStatus, Role, Val, VerificationOutcome,
};

use crate::error::write_error;
use crate::records::MANAGED_COLUMNS;

/// The SQLite file name inside a data directory.
pub const SQLITE_FILE_NAME: &str = "infusio.sqlite3";

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A handle on the record: a connection pool to one database. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    /// A description for messages: the SQLite path, or the PostgreSQL host and database
    /// (never the password).
    location: String,
}

/// Current time in microseconds since the Unix epoch (UTC).
pub fn now_us() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_micros()).unwrap_or(i64::MAX)
}

/// A new key: a UUIDv7 (time-ordered, so keys sort by creation) as lowercase hyphenated text.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

impl Store {
    /// Opens `url`: `sqlite://FILE` (created if missing) or `postgres://…`/`postgresql://…`.
    /// Does not migrate: call [`Store::migrate`].
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() {
                return Err(StoreError::BadUrl { url: url.into() });
            }
            Store::open_sqlite(Path::new(path)).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Store::open_postgres(url).await
        } else {
            Err(StoreError::BadUrl { url: url.into() })
        }
    }

    /// Opens (creating if missing) the SQLite database at `path`: WAL journal,
    /// `synchronous=FULL` (a committed transaction survives power loss), foreign keys on.
    pub async fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        Ok(Store {
            pool: Pool::Sqlite(pool),
            location: path.display().to_string(),
        })
    }

    /// Opens a SQLite file read-only (a backup snapshot being restored). It must exist.
    pub async fn open_sqlite_read_only(path: &Path) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        Ok(Store {
            pool: Pool::Sqlite(pool),
            location: path.display().to_string(),
        })
    }

    /// Opens the SQLite database of a data directory (created if missing).
    pub async fn open_data_dir(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)?;
        Store::open_sqlite(&Store::sqlite_path(dir)).await
    }

    /// The SQLite file of a data directory.
    pub fn sqlite_path(dir: &Path) -> PathBuf {
        dir.join(SQLITE_FILE_NAME)
    }

    /// Opens PostgreSQL and refuses a server that could lose an acknowledged write
    /// (`fsync = off` or `synchronous_commit = off`).
    pub async fn open_postgres(url: &str) -> Result<Store, StoreError> {
        let options = PgConnectOptions::from_str(url)?;
        let location = format!(
            "postgres host {} database {}",
            options.get_host(),
            options.get_database().unwrap_or("(default)")
        );
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        for setting in ["fsync", "synchronous_commit"] {
            let value: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SHOW {setting}")))
                .fetch_one(&pool)
                .await?;
            if value == "off" {
                pool.close().await;
                return Err(StoreError::UnsafeDurability { setting, value });
            }
        }
        Ok(Store {
            pool: Pool::Postgres(pool),
            location,
        })
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Where the data lives, for messages (no secrets).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Brings the schema to the newest version (idempotent; on PostgreSQL an advisory lock
    /// keeps several servers starting at once from racing). Returns the schema version.
    pub async fn migrate(&self) -> Result<i64, StoreError> {
        match &self.pool {
            Pool::Sqlite(p) => sql::migrator(Backend::Sqlite).run(p).await?,
            Pool::Postgres(p) => sql::migrator(Backend::Postgres).run(p).await?,
        }
        self.schema_version().await
    }

    /// The newest applied migration, 0 for an empty database.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let q = "SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success";
        let v: i64 = match &self.pool {
            Pool::Sqlite(p) => sqlx::query_scalar(q).fetch_one(p).await?,
            Pool::Postgres(p) => sqlx::query_scalar(q).fetch_one(p).await?,
        };
        Ok(v)
    }

    /// The schema version this build migrates to.
    pub fn latest_schema_version() -> i64 {
        sql::LATEST_SCHEMA_VERSION
    }

    /// Starts a read-write transaction. On SQLite it takes the writer lock at once
    /// (`BEGIN IMMEDIATE`), so writers queue instead of failing midway with "database is
    /// locked"; on PostgreSQL it runs at READ COMMITTED and the audit head row is locked when
    /// the first event is appended.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let inner = match &self.pool {
            Pool::Sqlite(p) => TxInner::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Pool::Postgres(p) => TxInner::Postgres(p.begin().await?),
        };
        Ok(Tx {
            inner,
            pending: Vec::new(),
            pending_rows: Vec::new(),
            writable: true,
        })
    }

    /// Starts a read-only transaction that sees one consistent snapshot (SQLite: a deferred
    /// transaction in WAL mode; PostgreSQL: REPEATABLE READ, READ ONLY).
    pub async fn begin_snapshot(&self) -> Result<Tx, StoreError> {
        let inner = match &self.pool {
            Pool::Sqlite(p) => TxInner::Sqlite(p.begin_with("BEGIN DEFERRED").await?),
            Pool::Postgres(p) => TxInner::Postgres(
                p.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await?,
            ),
        };
        Ok(Tx {
            inner,
            pending: Vec::new(),
            pending_rows: Vec::new(),
            writable: false,
        })
    }

    /// Reads one row outside any write.
    pub async fn get<T: Record>(&self, id: &str) -> Result<Option<Stored<T>>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let row = tx.get::<T>(id).await?;
        tx.rollback().await?;
        Ok(row)
    }

    /// Verifies the whole audit chain against the head row (see [`audit::verify`]).
    pub async fn verify_audit(&self) -> Result<VerifyReport, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let report = audit::verify(&mut tx).await?;
        tx.rollback().await?;
        Ok(report)
    }

    /// The chain head: the last sequence number and its hash.
    pub async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let head = audit::read_head(&mut tx).await?;
        tx.rollback().await?;
        Ok(head)
    }

    /// Test support only (feature `raw-sql`): runs one administrative statement outside any
    /// transaction (`CREATE SCHEMA` for a test's own PostgreSQL schema, `CREATE DATABASE`…).
    /// Record changes never go through here: they need a [`Tx`].
    #[cfg(feature = "raw-sql")]
    pub async fn execute_admin(&self, statement: &str) -> Result<u64, StoreError> {
        let q = sqlx::query(sqlx::AssertSqlSafe(statement.to_string()));
        Ok(match &self.pool {
            Pool::Sqlite(p) => q.execute(p).await?.rows_affected(),
            Pool::Postgres(p) => sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
                .execute(p)
                .await?
                .rows_affected(),
        })
    }

    pub(crate) fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &self.pool {
            Pool::Sqlite(p) => Some(p),
            Pool::Postgres(_) => None,
        }
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

enum TxInner {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Who makes a change, and why: becomes the actor, role, action, reason and derivation of the
/// audit event that the change writes.
#[derive(Debug, Clone)]
pub struct Change {
    /// The user id (or a system actor such as `system:restore`).
    pub actor: String,
    /// The role the actor acted in (`prescriber`, `pharmacist`, … or `system`).
    pub actor_role: String,
    /// The action name; `None` means `<table>.create|update|delete`. Workflows name their
    /// step, e.g. `order.sign`, `order.verify`.
    pub action: Option<String>,
    pub reason: Option<String>,
    /// For computed values: how they were computed (steps, inputs, sources).
    pub derivation: Option<Json>,
}

impl Change {
    pub fn by(actor: impl Into<String>, actor_role: impl Into<String>) -> Change {
        Change {
            actor: actor.into(),
            actor_role: actor_role.into(),
            action: None,
            reason: None,
            derivation: None,
        }
    }

    pub fn action(mut self, action: impl Into<String>) -> Change {
        self.action = Some(action.into());
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Change {
        self.reason = Some(reason.into());
        self
    }

    pub fn derivation(mut self, derivation: Json) -> Change {
        self.derivation = Some(derivation);
        self
    }

    fn draft(
        &self,
        verb: &str,
        table: &str,
        id: &str,
        before: Option<Json>,
        after: Option<Json>,
    ) -> AuditDraft {
        AuditDraft {
            actor: self.actor.clone(),
            actor_role: self.actor_role.clone(),
            action: self
                .action
                .clone()
                .unwrap_or_else(|| format!("{table}.{verb}")),
            entity_type: table.to_string(),
            entity_id: id.to_string(),
            before,
            after,
            reason: self.reason.clone(),
            derivation: self.derivation.clone(),
        }
    }
}

/// One database transaction. Dropping it without [`Tx::commit`] rolls everything back — rows
/// and audit events alike.
///
/// Audit events of the transaction's writes are queued and appended in [`Tx::commit`], just
/// before the database commit: the head row (the one point every writer passes through) is
/// therefore locked only for the last moments of a transaction, and always after the rows it
/// touches, so two transactions cannot deadlock on "row, then head" against "head, then row".
pub struct Tx {
    inner: TxInner,
    pending: Vec<AuditDraft>,
    /// The row hash of each pending event (same index as `pending`): `Some` for the events of
    /// row writes, `None` for the others.
    pending_rows: Vec<Option<String>>,
    /// A read-write transaction: a row it reads by id must still match its last audit event
    /// (see [`rows`]), so no change is ever derived from a row altered outside the
    /// application.
    writable: bool,
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Json, StoreError> {
    serde_json::to_value(v).map_err(|e| StoreError::Corrupt {
        column: "(record)",
        message: format!("cannot serialise for the audit log: {e}"),
    })
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self.inner {
            TxInner::Sqlite(_) => Backend::Sqlite,
            TxInner::Postgres(_) => Backend::Postgres,
        }
    }

    /// The audit events queued by this transaction's writes, not yet appended.
    pub fn pending_audit(&self) -> &[AuditDraft] {
        &self.pending
    }

    /// Appends the queued audit events to the chain (locking the head row) and commits. Returns
    /// the events with their sequence numbers and hashes: once this returns `Ok`, the writes
    /// and their events are durable together; on `Err` neither is.
    pub async fn commit(mut self) -> Result<Vec<AuditEvent>, StoreError> {
        let pending = std::mem::take(&mut self.pending);
        let rows = std::mem::take(&mut self.pending_rows);
        let pending = pending.into_iter().zip(rows).collect();
        let events = audit::append_all(&mut self, pending).await?;
        match self.inner {
            TxInner::Sqlite(t) => t.commit().await?,
            TxInner::Postgres(t) => t.commit().await?,
        }
        Ok(events)
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.inner {
            TxInner::Sqlite(t) => t.rollback().await?,
            TxInner::Postgres(t) => t.rollback().await?,
        }
        Ok(())
    }

    /// Runs one statement with `$1…` parameters; returns the rows affected. Private to this
    /// crate: callers above it use the named statements of [`queries`]. The `raw-sql` feature
    /// (tests that tamper with the record on purpose) exposes it as [`Tx::raw_execute`].
    pub(crate) async fn execute(&mut self, sql: &str, args: &[Val]) -> Result<u64, sqlx::Error> {
        sql::execute(&mut self.inner, sql, args).await
    }

    /// Runs one query and decodes each row's columns by `kinds` (crate-private, see
    /// [`Tx::execute`]).
    pub(crate) async fn fetch(
        &mut self,
        sql: &str,
        args: &[Val],
        kinds: &[Kind],
    ) -> Result<Vec<Vec<Val>>, sqlx::Error> {
        sql::fetch(&mut self.inner, sql, args, kinds).await
    }

    /// Test support only (feature `raw-sql`, never enabled by a production crate): runs any
    /// statement, e.g. to tamper with the audit chain and prove that verification notices.
    #[cfg(feature = "raw-sql")]
    pub async fn raw_execute(&mut self, sql: &str, args: &[Val]) -> Result<u64, sqlx::Error> {
        self.execute(sql, args).await
    }

    /// Test support only (feature `raw-sql`): runs any query.
    #[cfg(feature = "raw-sql")]
    pub async fn raw_fetch(
        &mut self,
        sql: &str,
        args: &[Val],
        kinds: &[Kind],
    ) -> Result<Vec<Vec<Val>>, sqlx::Error> {
        self.fetch(sql, args, kinds).await
    }

    /// Queues an audit event that is not tied to a row written through this API (a sign-in,
    /// an export, a state change made with raw SQL). Row writes queue their own. The event is
    /// appended at [`Tx::commit`].
    pub fn append_audit(&mut self, draft: AuditDraft) {
        self.pending.push(draft);
        self.pending_rows.push(None);
    }

    /// Queues the event of a row write with the hash of the row version written.
    fn append_row_event(&mut self, draft: AuditDraft, row_hash: String) {
        self.pending.push(draft);
        self.pending_rows.push(Some(row_hash));
    }

    /// Inserts a new row (version 1) and its audit event (`<table>.create`, after = the row).
    pub async fn insert<T: Record>(
        &mut self,
        change: &Change,
        data: T,
    ) -> Result<Stored<T>, StoreError> {
        let now = now_us();
        let stored = Stored {
            id: new_id(),
            version: 1,
            created_at_us: now,
            updated_at_us: now,
            data,
        };
        let mut args = vec![
            Val::Text(Some(stored.id.clone())),
            Val::Int(Some(1)),
            Val::Int(Some(now)),
            Val::Int(Some(now)),
        ];
        args.extend(stored.data.to_values());
        let columns = all_columns::<T>();
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
        let statement = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            T::TABLE,
            columns.join(", "),
            placeholders.join(", ")
        );
        self.execute(&statement, &args)
            .await
            .map_err(|e| write_error(T::TABLE, e))?;
        let after = to_json(&stored)?;
        let hash = rows::hash_values(T::TABLE, &columns, &args);
        self.append_row_event(
            change.draft("create", T::TABLE, &stored.id, None, Some(after)),
            hash,
        );
        Ok(stored)
    }

    /// Replaces the business columns of row `id`, which the caller read at
    /// `expected_version`. A row that has moved on is refused with
    /// [`StoreError::StaleVersion`] and nothing is written. Writes the audit event
    /// (`<table>.update`, before and after images).
    pub async fn update<T: Record>(
        &mut self,
        change: &Change,
        id: &str,
        expected_version: i64,
        data: T,
    ) -> Result<Stored<T>, StoreError> {
        let before = self.get_for_update::<T>(id).await?;
        if before.version != expected_version {
            return Err(StoreError::StaleVersion {
                table: T::TABLE,
                id: id.to_string(),
                expected: expected_version,
                current: before.version,
            });
        }
        let now = now_us().max(before.updated_at_us);
        let sets: Vec<String> = T::COLUMNS
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = ${}", i + 4))
            .collect();
        let statement = format!(
            "UPDATE {} SET version = version + 1, updated_at_us = $1, {} WHERE id = $2 AND version = $3",
            T::TABLE,
            sets.join(", ")
        );
        let mut args = vec![
            Val::Int(Some(now)),
            Val::Text(Some(id.to_string())),
            Val::Int(Some(expected_version)),
        ];
        args.extend(data.to_values());
        let n = self
            .execute(&statement, &args)
            .await
            .map_err(|e| write_error(T::TABLE, e))?;
        if n != 1 {
            // Unreachable while the row is locked (get_for_update), kept as a second guard.
            return Err(StoreError::StaleVersion {
                table: T::TABLE,
                id: id.to_string(),
                expected: expected_version,
                current: before.version,
            });
        }
        let after = Stored {
            id: id.to_string(),
            version: expected_version + 1,
            created_at_us: before.created_at_us,
            updated_at_us: now,
            data,
        };
        let (before_json, after_json) = (to_json(&before)?, to_json(&after)?);
        let hash = rows::row_hash(&after);
        self.append_row_event(
            change.draft("update", T::TABLE, id, Some(before_json), Some(after_json)),
            hash,
        );
        Ok(after)
    }

    /// Deletes row `id` (read at `expected_version`) and writes the audit event
    /// (`<table>.delete`, before image). Clinical workflows normally change a status instead;
    /// this exists for corrections of entries made in error.
    pub async fn delete<T: Record>(
        &mut self,
        change: &Change,
        id: &str,
        expected_version: i64,
    ) -> Result<(), StoreError> {
        let before = self.get_for_update::<T>(id).await?;
        if before.version != expected_version {
            return Err(StoreError::StaleVersion {
                table: T::TABLE,
                id: id.to_string(),
                expected: expected_version,
                current: before.version,
            });
        }
        let statement = format!("DELETE FROM {} WHERE id = $1 AND version = $2", T::TABLE);
        self.execute(
            &statement,
            &[
                Val::Text(Some(id.to_string())),
                Val::Int(Some(expected_version)),
            ],
        )
        .await
        .map_err(|e| write_error(T::TABLE, e))?;
        let before_json = to_json(&before)?;
        self.append_row_event(
            change.draft("delete", T::TABLE, id, Some(before_json), None),
            rows::DELETED.to_string(),
        );
        Ok(())
    }

    /// Reads row `id`. In a read-write transaction a row that no longer matches its last
    /// audit event is refused ([`StoreError::RowTampered`]).
    pub async fn get<T: Record>(&mut self, id: &str) -> Result<Option<Stored<T>>, StoreError> {
        self.get_checked::<T>(id, false).await
    }

    /// Reads row `id` (locked when `lock`) and, in a read-write transaction, checks it against
    /// its last audit event. On PostgreSQL (read committed) the row and its event are read by
    /// two statements: a writer committing between them makes a newer event meet the older row
    /// just read. Such a row is read again; only a mismatch that persists on fresh reads is a
    /// change made outside the application. (The caller's version check then refuses a stale
    /// expectation as a conflict, as it would have without the race.)
    async fn get_checked<T: Record>(
        &mut self,
        id: &str,
        lock: bool,
    ) -> Result<Option<Stored<T>>, StoreError> {
        let mut rereads = 0;
        loop {
            let mut found = self
                .select_hashed::<T>("WHERE id = $1", &[Val::Text(Some(id.to_string()))], lock)
                .await?;
            let Some((row, actual)) = found.pop() else {
                return Ok(None);
            };
            if !self.writable {
                return Ok(Some(row));
            }
            match rows::refuse_unbound_change(self, T::TABLE, id, &actual).await {
                Ok(()) => return Ok(Some(row)),
                Err(StoreError::RowTampered { .. }) if rereads < 2 => rereads += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads row `id` and, on PostgreSQL, locks it until the transaction ends (SQLite's
    /// `BEGIN IMMEDIATE` already holds the writer lock).
    pub async fn get_for_update<T: Record>(&mut self, id: &str) -> Result<Stored<T>, StoreError> {
        self.get_checked::<T>(id, true)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                table: T::TABLE,
                id: id.to_string(),
            })
    }

    /// Rows whose `column` equals `value`, oldest first (keys are UUIDv7). `column` must be one
    /// of the entity's columns.
    pub async fn find_by<T: Record>(
        &mut self,
        column: &str,
        value: Val,
    ) -> Result<Vec<Stored<T>>, StoreError> {
        let known =
            MANAGED_COLUMNS.iter().any(|(c, _)| *c == column) || T::COLUMNS.contains(&column);
        if !known {
            return Err(StoreError::Invalid {
                field: "column",
                value: column.to_string(),
                message: format!(
                    "one of the columns of {}: {}",
                    T::TABLE,
                    T::COLUMNS.join(", ")
                ),
            });
        }
        self.select::<T>(&format!("WHERE {column} = $1 ORDER BY id"), &[value], false)
            .await
    }

    /// Every row of the table, oldest first.
    pub async fn list<T: Record>(&mut self) -> Result<Vec<Stored<T>>, StoreError> {
        self.select::<T>("ORDER BY id", &[], false).await
    }

    /// Row `id` with the hash of its stored content ([`rows::hash_values`]), never refused.
    pub(crate) async fn get_hashed<T: Record>(
        &mut self,
        id: &str,
    ) -> Result<Option<(Stored<T>, String)>, StoreError> {
        let mut found = self
            .select_hashed::<T>("WHERE id = $1", &[Val::Text(Some(id.to_string()))], false)
            .await?;
        Ok(found.pop())
    }

    /// Every row with the hash of its stored content, oldest first.
    pub(crate) async fn list_hashed<T: Record>(
        &mut self,
    ) -> Result<Vec<(Stored<T>, String)>, StoreError> {
        self.select_hashed::<T>("ORDER BY id", &[], false).await
    }

    async fn select_hashed<T: Record>(
        &mut self,
        tail: &str,
        args: &[Val],
        lock: bool,
    ) -> Result<Vec<(Stored<T>, String)>, StoreError> {
        let columns = all_columns::<T>();
        let raw = self.select_raw::<T>(tail, args, lock).await?;
        raw.into_iter()
            .map(|row| {
                let hash = rows::hash_values(T::TABLE, &columns, &row);
                Ok((stored_from_row::<T>(row)?, hash))
            })
            .collect()
    }

    async fn select<T: Record>(
        &mut self,
        tail: &str,
        args: &[Val],
        lock: bool,
    ) -> Result<Vec<Stored<T>>, StoreError> {
        let rows = self.select_raw::<T>(tail, args, lock).await?;
        rows.into_iter().map(stored_from_row::<T>).collect()
    }

    async fn select_raw<T: Record>(
        &mut self,
        tail: &str,
        args: &[Val],
        lock: bool,
    ) -> Result<Vec<Vec<Val>>, StoreError> {
        let lock = if lock && self.backend() == Backend::Postgres {
            " FOR UPDATE"
        } else {
            ""
        };
        let statement = format!(
            "SELECT {} FROM {} {tail}{lock}",
            all_columns::<T>().join(", "),
            T::TABLE
        );
        let kinds: Vec<Kind> = MANAGED_COLUMNS
            .iter()
            .map(|(_, k)| *k)
            .chain(T::KINDS.iter().copied())
            .collect();
        Ok(self.fetch(&statement, args, &kinds).await?)
    }
}

pub(crate) fn all_columns<T: Record>() -> Vec<&'static str> {
    MANAGED_COLUMNS
        .iter()
        .map(|(c, _)| *c)
        .chain(T::COLUMNS.iter().copied())
        .collect()
}

fn stored_from_row<T: Record>(row: Vec<Val>) -> Result<Stored<T>, StoreError> {
    use value::ColumnValue;
    let mut it = row.into_iter();
    let mut next = |column: &'static str| {
        it.next().ok_or(StoreError::Corrupt {
            column,
            message: "missing from the row".into(),
        })
    };
    let id = String::from_val(next("id")?, "id")?;
    let version = i64::from_val(next("version")?, "version")?;
    let created_at_us = i64::from_val(next("created_at_us")?, "created_at_us")?;
    let updated_at_us = i64::from_val(next("updated_at_us")?, "updated_at_us")?;
    let data = T::from_values(it.collect())?;
    Ok(Stored {
        id,
        version,
        created_at_us,
        updated_at_us,
        data,
    })
}
