//! A small helper for naming a value to the store's typed lookups (`find_by`). This crate
//! writes no SQL: every statement it needs is a named function of `infusio-store`.

use infusio_store::Val;

pub(crate) fn text(s: impl Into<String>) -> Val {
    Val::Text(Some(s.into()))
}
