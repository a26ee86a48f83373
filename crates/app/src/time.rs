//! Civil time for the workflows: the one civil-time / ISO 8601 module of the workspace,
//! `infusio_core::time`, re-exported under the names this crate and its callers use. Instants
//! are microseconds since the Unix epoch (UTC); the time now comes from the app's `Clock`.

pub use infusio_core::time::{
    age_at, civil_from_days, date_from_us, days_from_civil, iso_from_us, parse_date, parse_instant,
};
