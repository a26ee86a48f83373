//! The store's one error type. Callers match on the variants that are theirs to handle
//! (`StaleVersion`, `NotFound`, `Conflict`, `Invalid`); the rest are operating failures.

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Optimistic concurrency: the row moved on since the caller read it.
    #[error(
        "stale write refused: {table} {id} is at version {current}, the update was based on version {expected}"
    )]
    StaleVersion {
        table: &'static str,
        id: String,
        expected: i64,
        current: i64,
    },
    #[error("{table} {id} not found")]
    NotFound { table: &'static str, id: String },
    /// The row no longer matches the row version its last audit event wrote: it was changed
    /// outside the application. Nothing is written on it until the discrepancy is resolved.
    #[error(
        "{table} {id} was changed outside the application: its content no longer matches its last audit event (seq {seq})"
    )]
    RowTampered {
        table: &'static str,
        id: String,
        seq: i64,
    },
    /// A uniqueness, foreign-key or CHECK constraint refused the write.
    #[error("refused by the database ({table}): {message}")]
    Conflict {
        table: &'static str,
        message: String,
    },
    /// A value handed to the store is malformed.
    #[error("{field} = {value:?} is not valid: expected {message}")]
    Invalid {
        field: &'static str,
        value: String,
        message: String,
    },
    /// PostgreSQL runs with a setting that could lose acknowledged writes.
    #[error(
        "refusing to use this PostgreSQL server: {setting} = {value}; Infusio needs {setting} = on so that an acknowledged write survives a crash"
    )]
    UnsafeDurability {
        setting: &'static str,
        value: String,
    },
    /// A stored value cannot be read back as its column's type (the database was edited).
    #[error("stored value in column {column} is corrupt: {message}")]
    Corrupt {
        column: &'static str,
        message: String,
    },
    #[error("database URL {url:?} is not understood: expected sqlite://FILE or postgres://…")]
    BadUrl { url: String },
    #[error("backup/restore: {0}")]
    Backup(String),
    #[error("schema migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

/// Maps a database error from a write on `table` to `Conflict` when a constraint refused it.
pub(crate) fn write_error(table: &'static str, e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        use sqlx::error::ErrorKind;
        match db.kind() {
            ErrorKind::UniqueViolation
            | ErrorKind::ForeignKeyViolation
            | ErrorKind::NotNullViolation
            | ErrorKind::CheckViolation => {
                return StoreError::Conflict {
                    table,
                    message: db.message().to_string(),
                };
            }
            _ => {}
        }
    }
    StoreError::Database(e)
}
