//! The only place that speaks to sqlx per backend: migrations, binding `$1…` parameters
//! and decoding rows by column kind. Everything above works on [`Val`] rows.

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, Row, SqlSafeStr};

use crate::{Backend, Kind, TxInner, Val};

/// The schema version a fully migrated database is at.
pub const LATEST_SCHEMA_VERSION: i64 = 6;

const SCHEMA: &str = include_str!("../migrations/0001_schema.sql");
const APPEND_ONLY_SQLITE: &str = include_str!("../migrations/0002_append_only.sqlite.sql");
const APPEND_ONLY_POSTGRES: &str = include_str!("../migrations/0002_append_only.postgres.sql");
const APP_TABLES: &str = include_str!("../migrations/0003_app_tables.sql");
const INTERFACE_TABLES: &str = include_str!("../migrations/0004_interface_inbound.sql");
const ROWS_AND_ACCESS_SQLITE: &str =
    include_str!("../migrations/0005_sec19b_row_hash_access_log.sqlite.sql");
const ROWS_AND_ACCESS_POSTGRES: &str =
    include_str!("../migrations/0005_sec19b_row_hash_access_log.postgres.sql");
const LOT_RECALLS: &str = include_str!("../migrations/0006_prep16b_lot_recalls.sql");

/// Migration 1 (the tables) is the same SQL on both backends, so the tables and columns cannot
/// differ; migration 2 (the append-only triggers) is written in each backend's dialect;
/// migration 3 (the workflow layer's sessions, sign-in failures and idempotency keys) is again
/// one file for both; migration 4 (the interface's inbound message log) likewise; migration 5
/// (row hashes in the audit chain, the append-only access log) again per dialect.
pub fn migrator(backend: Backend) -> Migrator {
    let append_only = match backend {
        Backend::Sqlite => APPEND_ONLY_SQLITE,
        Backend::Postgres => APPEND_ONLY_POSTGRES,
    };
    let rows_and_access = match backend {
        Backend::Sqlite => ROWS_AND_ACCESS_SQLITE,
        Backend::Postgres => ROWS_AND_ACCESS_POSTGRES,
    };
    Migrator::with_migrations(vec![
        Migration::new(
            1,
            "schema".into(),
            MigrationType::Simple,
            SCHEMA.into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            "append-only audit".into(),
            MigrationType::Simple,
            append_only.into_sql_str(),
            false,
        ),
        Migration::new(
            3,
            "sessions, sign-in failures and idempotency keys".into(),
            MigrationType::Simple,
            APP_TABLES.into_sql_str(),
            false,
        ),
        Migration::new(
            4,
            "interface inbound message log".into(),
            MigrationType::Simple,
            INTERFACE_TABLES.into_sql_str(),
            false,
        ),
        Migration::new(
            5,
            "row hashes in the audit chain, access log".into(),
            MigrationType::Simple,
            rows_and_access.into_sql_str(),
            false,
        ),
        Migration::new(
            6,
            "recalled lots".into(),
            MigrationType::Simple,
            LOT_RECALLS.into_sql_str(),
            false,
        ),
    ])
}

macro_rules! bind_all {
    ($sql:expr, $args:expr) => {{
        let mut q = sqlx::query(AssertSqlSafe($sql.to_string()));
        for a in $args {
            q = match a {
                Val::Text(t) => q.bind(t.clone()),
                Val::Int(i) => q.bind(*i),
            };
        }
        q
    }};
}

macro_rules! decode_row {
    ($row:expr, $kinds:expr) => {{
        let mut out = Vec::with_capacity($kinds.len());
        for (i, k) in $kinds.iter().enumerate() {
            out.push(match k {
                Kind::Text => Val::Text($row.try_get::<Option<String>, _>(i)?),
                Kind::Int => Val::Int($row.try_get::<Option<i64>, _>(i)?),
            });
        }
        out
    }};
}

pub(crate) async fn execute(tx: &mut TxInner, sql: &str, args: &[Val]) -> Result<u64, sqlx::Error> {
    Ok(match tx {
        TxInner::Sqlite(t) => bind_all!(sql, args)
            .execute(&mut **t)
            .await?
            .rows_affected(),
        TxInner::Postgres(t) => bind_all!(sql, args)
            .execute(&mut **t)
            .await?
            .rows_affected(),
    })
}

pub(crate) async fn fetch(
    tx: &mut TxInner,
    sql: &str,
    args: &[Val],
    kinds: &[Kind],
) -> Result<Vec<Vec<Val>>, sqlx::Error> {
    let mut out = Vec::new();
    match tx {
        TxInner::Sqlite(t) => {
            for row in bind_all!(sql, args).fetch_all(&mut **t).await? {
                out.push(decode_row!(row, kinds));
            }
        }
        TxInner::Postgres(t) => {
            for row in bind_all!(sql, args).fetch_all(&mut **t).await? {
                out.push(decode_row!(row, kinds));
            }
        }
    }
    Ok(out)
}
