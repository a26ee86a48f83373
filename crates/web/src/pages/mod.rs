//! The screens, one module each.

pub mod administer;
pub mod audit;
pub mod auth;
pub mod board;
pub mod library;
pub mod order;
pub mod patients;
pub mod pk;
pub mod prepare;
pub mod schedule;
pub mod verify;

use axum::Form;

use crate::FormData;

/// A posted form as name/value pairs.
pub(crate) type Posted = Form<Vec<(String, String)>>;

pub(crate) fn form_data(f: Posted) -> FormData {
    FormData(f.0)
}

/// Today's UTC date, `YYYY-MM-DD`.
pub(crate) fn today() -> String {
    infusio_app::time::date_from_us(infusio_store::now_us())
}
