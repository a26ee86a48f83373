//! Small helpers over the store's raw statements, for this crate's own tables (sessions,
//! sign-in failures, idempotency keys). Those tables are created by the store's schema
//! migration 3, so backups, restores and `infusio db migrate` cover them.

use infusio_store::{Kind, StoreError, Tx, Val};

use crate::AppError;

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
