//! `infusio-sched`: the infusion-centre scheduling model, validator, solver, lower bound
//! and instance generator.
//!
//! Pure: no I/O and no clock. A wall-clock limit is the caller's business, passed in as a
//! `should_stop` callback ([`solve::SolveOptions`]). The JSON contract of
//! `infusio schedule` (reading, defaults, limits, output, the Gantt chart) lives here too
//! ([`contract`], [`gantt`]), so every caller uses the same functions.
//!
//! The model ([`model`]): places (chairs and beds), nurses with shifts and a monitoring
//! limit, appointments with a duration, exclusive set-up and take-down, a ready time and a
//! need. The rules, checked by [`check::check`]:
//! - one patient per place at a time over [start, end), end = start + duration_minutes;
//! - the place's kind matches `needs`;
//! - one nurse per appointment, whose shift covers [start, end];
//! - set-up (the first `setup_minutes`) and take-down (the last `takedown_minutes`) take the
//!   nurse's exclusive attention: one at a time per nurse;
//! - a nurse monitors at most `max_patients` of her patients at any moment (a patient is
//!   hers for the whole [start, end), set-up and take-down included);
//! - start ≥ ready and start ≥ open; starts on a 5-minute grid counted from midnight.
//!
//! Objective: `10000 × unscheduled + 10 × overtime_minutes + wait_minutes`, overtime
//! Σ max(0, end − close), wait Σ (start − ready).
#![warn(clippy::too_many_lines)] // production functions stay under 100 lines (clippy.toml)

pub mod bound;
pub mod check;
pub mod contract;
pub mod exact;
pub mod gantt;
pub mod generate;
pub mod lp_bound;
pub mod model;
mod rng;
pub mod solve;
mod state;

pub use bound::{LowerBound, lower_bound, strong_lower_bound};
pub use check::{Metrics, Violation, check, metrics, objective};
pub use model::{
    Appointment, Assignment, Chair, ChairKind, Clock, Instance, InstanceError, Needs, Nurse,
    Objective, Plan,
};
pub use solve::{Change, Replan, Solution, SolveOptions, StopReason, replan, solve};
