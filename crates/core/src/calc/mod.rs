//! The calculators of `infusio calc`: each reads a JSON object (see `shared` CLI contract),
//! computes with typed quantities and returns a [`Calculation`] with outputs, derivation steps,
//! sources and findings. The typed functions in each module are the library API that the
//! drug-library checks, orders and pharmacokinetics reuse.

pub mod body;
pub mod common;
pub mod sources;

use serde_json::Value;

use crate::derivation::Calculation;
use crate::input::InputError;

/// Calculator names, as used by `infusio calc <name>`, with a one-line description.
pub const CALCULATORS: &[(&str, &str)] = &[
    ("bsa", "Body-surface area (Mosteller, DuBois, Haycock, Gehan-George, Boyd)"),
    ("bmi", "Body-mass index"),
    ("body-weight", "Ideal (Devine), adjusted and lean (Janmahasatian) body weight"),
    ("crcl", "Creatinine clearance (Cockcroft-Gault) with weight basis and creatinine floor"),
    ("egfr", "eGFR: CKD-EPI 2021 (adults) or bedside Schwartz (children)"),
    ("carboplatin", "Carboplatin dose by the Calvert formula with GFR cap"),
    ("dose", "Dose from a per-kg, per-m2 or flat basis with cap and rounding"),
];

/// Runs the calculator `name` on a JSON input object.
pub fn run(name: &str, input: &Value) -> Result<Calculation, InputError> {
    match name {
        "bsa" => body::bsa_json(input),
        "bmi" => body::bmi_json(input),
        "body-weight" => body::body_weight_json(input),
        _ => Err(InputError::new(
            "calculator",
            name,
            format!(
                "unknown calculator; one of: {}",
                CALCULATORS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}
