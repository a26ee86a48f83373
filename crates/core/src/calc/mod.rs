//! The calculators of `infusio calc`: each reads a JSON object (see `shared` CLI contract),
//! computes with typed quantities and returns a [`Calculation`] with outputs, derivation steps,
//! sources and findings. The typed functions in each module are the library API that the
//! drug-library checks, orders and pharmacokinetics reuse.

// Functions stay under about 100 lines (clippy counts code lines, not comments or blank
// lines): split a long one along its seams (read inputs, compute, derive, write outputs).

pub mod body;
pub mod common;
pub mod factor;
pub mod fluids;
pub mod infusion;
pub mod iron;
pub mod ivig;
pub mod nutrition;
pub mod oncology;
pub mod renal;
pub mod sources;
pub mod vancomycin;

use serde_json::Value;

use crate::derivation::Calculation;
use crate::input::InputError;

/// Calculator names, as used by `infusio calc <name>`, with a one-line description.
pub const CALCULATORS: &[(&str, &str)] = &[
    (
        "bsa",
        "Body-surface area (Mosteller, DuBois, Haycock, Gehan-George, Boyd)",
    ),
    ("bmi", "Body-mass index"),
    (
        "body-weight",
        "Ideal (Devine), adjusted and lean (Janmahasatian) body weight",
    ),
    (
        "crcl",
        "Creatinine clearance (Cockcroft-Gault) with weight basis and creatinine floor",
    ),
    (
        "egfr",
        "eGFR: CKD-EPI 2021 (adults) or bedside Schwartz (children)",
    ),
    (
        "carboplatin",
        "Carboplatin dose by the Calvert formula with GFR cap",
    ),
    (
        "dose",
        "Dose from a per-kg, per-m2 or flat basis with cap and rounding",
    ),
    (
        "infusion-rate",
        "Pump rate (mL/h) from a dose rate and concentration, or a volume over a duration",
    ),
    (
        "drip-rate",
        "Gravity drip rate (gtt/min) from volume, duration and drop factor",
    ),
    (
        "vancomycin-levels",
        "Vancomycin AUC24 from two steady-state levels (Sawchuk-Zaske)",
    ),
    (
        "maintenance-fluids",
        "Maintenance fluids (Holliday-Segar 4-2-1 hourly, 100/50/20 daily)",
    ),
    ("fluid-deficit", "Dehydration fluid deficit"),
    ("sodium-deficit", "Sodium deficit for hyponatraemia"),
    (
        "free-water-deficit",
        "Free-water deficit for hypernatraemia",
    ),
    (
        "parenteral-nutrition",
        "Parenteral nutrition: energy, protein, GIR, osmolarity",
    ),
    ("iron-deficit", "Total iron deficit (Ganzoni)"),
    (
        "factor-dose",
        "Clotting factor VIII or IX dose from the desired rise",
    ),
    ("ivig", "Immune globulin dose (g/kg) and 10% volume"),
    (
        "preparation",
        "Preparation: least-waste vials, reconstitution, withdraw volume, bag, final concentration, beyond-use (needs the drug library)",
    ),
    (
        "titration",
        "Titration: pump steps of a label's rate-escalation schedule, duration, reaction re-plan (needs the drug library)",
    ),
];

/// Calculators that read the drug library; [`run`] refuses them, [`run_with_library`] runs them.
pub const LIBRARY_CALCULATORS: &[&str] = &["preparation", "titration"];

/// Runs the calculator `name`, giving the library-backed calculators (`preparation`,
/// `titration`) the drug library. Without a library they are refused with a message.
pub fn run_with_library(
    name: &str,
    input: &Value,
    library: Option<&crate::library::Library>,
) -> Result<Calculation, InputError> {
    match (name, library) {
        ("preparation", Some(lib)) => crate::plan::calc::preparation_json(input, lib),
        ("titration", Some(lib)) => crate::plan::calc::titration_json(input, lib),
        _ => run(name, input),
    }
}

/// Runs the calculator `name` on a JSON input object.
pub fn run(name: &str, input: &Value) -> Result<Calculation, InputError> {
    match name {
        "bsa" => body::bsa_json(input),
        "bmi" => body::bmi_json(input),
        "body-weight" => body::body_weight_json(input),
        "crcl" => renal::crcl_json(input),
        "egfr" => renal::egfr_json(input),
        "carboplatin" => oncology::carboplatin_json(input),
        "dose" => oncology::dose_json(input),
        "infusion-rate" => infusion::infusion_rate_json(input),
        "drip-rate" => infusion::drip_rate_json(input),
        "vancomycin-levels" => vancomycin::vancomycin_levels_json(input),
        "maintenance-fluids" => fluids::maintenance_fluids_json(input),
        "fluid-deficit" => fluids::fluid_deficit_json(input),
        "sodium-deficit" => fluids::sodium_deficit_json(input),
        "free-water-deficit" => fluids::free_water_deficit_json(input),
        "parenteral-nutrition" => nutrition::parenteral_nutrition_json(input),
        "iron-deficit" => iron::iron_deficit_json(input),
        "factor-dose" => factor::factor_dose_json(input),
        "ivig" => ivig::ivig_json(input),
        "preparation" | "titration" => Err(InputError::new(
            "calculator",
            name,
            "this calculator needs the drug library (use run_with_library)",
        )),
        _ => Err(InputError::new(
            "calculator",
            name,
            format!(
                "unknown calculator; one of: {}",
                CALCULATORS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}
