//! This crate's own tables (sessions, sign-in failures, idempotency keys) and small helpers
//! over the store's raw statements. They sit beside the store's schema, created with
//! `IF NOT EXISTS` in the same portable types (TEXT, BIGINT).

use infusio_store::{Kind, Store, StoreError, Tx, Val};

use crate::AppError;

const TABLES: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS app_sessions (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id),
        kind TEXT NOT NULL CHECK (kind IN ('cookie', 'bearer')),
        csrf_token TEXT NOT NULL,
        created_at_us BIGINT NOT NULL,
        last_seen_at_us BIGINT NOT NULL,
        expires_at_us BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS app_sign_in_failures (
        username TEXT PRIMARY KEY,
        failures BIGINT NOT NULL,
        locked_until_us BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS app_idempotency (
        idem_key TEXT PRIMARY KEY,
        request_hash TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        created_at_us BIGINT NOT NULL
    )",
];

pub(crate) async fn ensure_tables(store: &Store) -> Result<(), AppError> {
    let mut tx = store.begin().await?;
    for statement in TABLES {
        exec(&mut tx, statement, &[]).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn exec(tx: &mut Tx, sql: &str, args: &[Val]) -> Result<u64, AppError> {
    Ok(tx.execute(sql, args).await.map_err(StoreError::from)?)
}

pub(crate) async fn fetch(
    tx: &mut Tx,
    sql: &str,
    args: &[Val],
    kinds: &[Kind],
) -> Result<Vec<Vec<Val>>, AppError> {
    Ok(tx.fetch(sql, args, kinds).await.map_err(StoreError::from)?)
}

pub(crate) fn text(s: impl Into<String>) -> Val {
    Val::Text(Some(s.into()))
}

pub(crate) fn int(i: i64) -> Val {
    Val::Int(Some(i))
}

pub(crate) fn as_text(v: &Val) -> Option<&str> {
    match v {
        Val::Text(Some(s)) => Some(s),
        _ => None,
    }
}

pub(crate) fn as_int(v: &Val) -> Option<i64> {
    match v {
        Val::Int(Some(i)) => Some(*i),
        _ => None,
    }
}
