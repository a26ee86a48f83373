//! Infusio's clinical core: typed quantities, the dose engine and its calculators.
//!
//! Invariants: this crate performs no I/O, reads no clock and holds no global state. Every
//! computed clinical number is returned with its derivation ([`derivation::Step`]) and its
//! sources ([`derivation::Source`]); clinical findings are values ([`derivation::Finding`]),
//! never errors; input errors ([`input::InputError`]) name the field, the value and what is
//! accepted.
#![warn(clippy::too_many_lines)] // production functions stay under 100 lines (clippy.toml)

pub mod barcode;
pub mod calc;
pub mod check;
pub mod codes;
pub mod derivation;
pub mod input;
pub mod library;
pub mod plan;
pub mod time;
pub mod units;
