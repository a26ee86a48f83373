//! `infusio-pk`: pharmacokinetics for model-informed precision dosing.
//!
//! - [`linear`]: linear 1-, 2- and 3-compartment IV models in closed form (boluses and
//!   zero-order infusions by superposition), with exact AUC and steady state.
//! - [`ode`]: an embedded Dormand–Prince 5(4) solver for non-linear models (Michaelis–Menten)
//!   and for cross-checking the closed forms.
//! - [`population`]: published population models with their citations and covariate models.
//! - [`map`]: Bayesian MAP estimation of a patient's parameters from levels.
//! - [`regimen`]: steady-state and daily exposure; dose recommendation.
//! - [`pta`]: seeded Monte Carlo probability of target attainment.
//! - [`typed`]: the same with units in the types (mg, h, L, mg/L).
//! - [`contract`]: the JSON contract of `infusio pk` (simulate, fit, recommend, pta) with its
//!   defaults, limits and plot, called alike by the CLI, the web UI and the API.
//!
//! Invariants: no I/O, no clock, no global state, no randomness without an explicit seed.
//! Inside the hot loops values are plain `f64` in consistent units; the public clinical API
//! ([`typed`]) takes and returns the typed quantities of `infusio-core` (mg, L, h, mg/L).
#![warn(clippy::too_many_lines)] // production functions stay under 100 lines (clippy.toml)

pub mod contract;
pub mod linear;
pub mod map;
pub mod ode;
pub mod population;
pub mod pta;
pub mod regimen;
pub mod typed;

/// Why a pharmacokinetic computation was refused. These are caller errors (a parameter or
/// dose out of its domain) or numerical failures; never a panic.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PkError {
    #[error("parameter {name} = {value}: {reason}")]
    Parameter {
        name: &'static str,
        value: f64,
        reason: &'static str,
    },
    #[error("dose {index}: {field} = {value}: {reason}")]
    Dose {
        index: usize,
        field: &'static str,
        value: f64,
        reason: &'static str,
    },
    #[error("time {value} is not a finite number")]
    Time { value: f64 },
    #[error("regimen: {0}")]
    Regimen(&'static str),
    #[error("covariate {name} = {value}: {reason}")]
    Covariate {
        name: &'static str,
        value: f64,
        reason: String,
    },
    #[error("{0}")]
    Numerical(&'static str),
}
