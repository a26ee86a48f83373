//! Planning an infusion: from "dose = 700 mg" to a running pump.
//!
//! - [`titration`]: rate-escalation schedules (linear ramps and explicit step tables) turned
//!   into pump steps that end exactly when the bag is empty, and the re-plan after a reaction;
//! - [`preparation`]: vials with the least waste, reconstitution, withdraw volume, bag, final
//!   concentration and beyond-use time;
//! - [`pump`]: the pump programme (steps, drug, concentration, VTBI, care area, limits);
//! - [`protocol`]: protocol templates (regimens) and their validator;
//! - [`chair`]: chair time for an appointment;
//! - [`calc`]: the `preparation` and `titration` calculators of `infusio calc`, which read
//!   their drug facts from the drug library.
//!
//! Like the rest of the crate this module performs no I/O and reads no clock.

// Functions stay under about 100 lines (clippy counts code lines, not comments or blank
// lines): split a long one along its seams (read inputs, compute, derive, write outputs).

pub mod calc;
pub mod chair;
pub mod preparation;
pub mod protocol;
pub mod pump;
pub mod sources;
pub mod titration;
