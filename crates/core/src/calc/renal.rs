//! Renal function: Cockcroft–Gault creatinine clearance, CKD-EPI 2021 and bedside Schwartz.

use serde_json::Value;

use super::body::{self, WeightBasis};
use super::common::{self, Sex};
use super::sources;
use crate::derivation::{Calculation, Finding, Severity, Step};
use crate::input::{Fields, InputError, check_range};
use crate::units::{
    Age, BodyWeight, Clearance, Length, NormalisedGfr, SerumCreatinine, format_number,
};

/// Cockcroft–Gault: (140 − age) × weight / (72 × SCr), × 0.85 for women. mL/min, not
/// normalised to body surface.
pub fn cockcroft_gault(age: Age, sex: Sex, weight: BodyWeight, scr: SerumCreatinine) -> Clearance {
    let base = (140.0 - age.value()) * weight.value() / (72.0 * scr.value());
    Clearance::new(match sex {
        Sex::Male => base,
        Sex::Female => 0.85 * base,
    })
}

/// CKD-EPI 2021 creatinine equation (race-free), mL/min/1.73m2.
pub fn ckd_epi_2021(age: Age, sex: Sex, scr: SerumCreatinine) -> NormalisedGfr {
    let (kappa, alpha, female_factor) = match sex {
        Sex::Female => (0.7, -0.241, 1.012),
        Sex::Male => (0.9, -0.302, 1.0),
    };
    let ratio = scr.value() / kappa;
    NormalisedGfr::new(
        142.0
            * ratio.min(1.0).powf(alpha)
            * ratio.max(1.0).powf(-1.200)
            * 0.9938_f64.powf(age.value())
            * female_factor,
    )
}

/// Bedside Schwartz (2009): 0.413 × height_cm / SCr, mL/min/1.73m2.
pub fn schwartz_bedside(height: Length, scr: SerumCreatinine) -> NormalisedGfr {
    NormalisedGfr::new(0.413 * height.value() / scr.value())
}

/// The inputs of a Cockcroft–Gault estimate as read from JSON, shared with carboplatin.
pub(crate) struct CrclInputs {
    pub age: Age,
    pub sex: Sex,
    pub weight: BodyWeight,
    pub height: Option<Length>,
    pub scr: SerumCreatinine,
    pub scr_note: Option<String>,
    pub basis: WeightBasis,
    pub scr_floor: Option<SerumCreatinine>,
}

pub(crate) fn read_crcl_inputs(f: &mut Fields) -> Result<CrclInputs, InputError> {
    let age = common::age(f, "age")?;
    let sex = common::sex(f, "sex")?;
    let weight = common::weight(f, "weight")?;
    let height = common::opt_height(f, "height")?;
    let (scr, scr_note) = common::serum_creatinine(f, "serum_creatinine")?;
    let basis = body::read_weight_basis(f, height, Some(sex), WeightBasis::Actual)?;
    let floor_text = f.raw("scr_floor").map(crate::input::as_given);
    let floor_path = f.path_of("scr_floor");
    let scr_floor = f.opt_quantity(
        "scr_floor",
        "a creatinine floor such as '0.7 mg/dL'",
        SerumCreatinine::from_quantity,
    )?;
    if let Some(floor) = scr_floor {
        check_range(
            &floor_path,
            floor_text.as_deref().unwrap_or(""),
            floor.value(),
            0.1,
            2.0,
            "mg/dL",
        )?;
    }
    Ok(CrclInputs {
        age,
        sex,
        weight,
        height,
        scr,
        scr_note,
        basis,
        scr_floor,
    })
}

/// Computes Cockcroft–Gault with the weight basis and creatinine floor, recording every step.
/// Returns the clearance and the weight used.
pub(crate) fn crcl_steps(calc: &mut Calculation, inputs: &CrclInputs) -> (Clearance, BodyWeight) {
    if let Some(note) = &inputs.scr_note {
        calc.step(
            Step::new(
                "Serum creatinine converted from micromol/L",
                "SCr_mg/dL = SCr_micromol/L ÷ 88.4",
                inputs.scr.qty(),
            )
            .rounding(note.clone()),
        );
    }
    let weight_used = body::dosing_weight(
        calc,
        inputs.basis,
        inputs.weight,
        inputs.height,
        Some(inputs.sex),
    );
    let scr_used = match inputs.scr_floor {
        Some(floor) if inputs.scr.value() < floor.value() => {
            calc.step(
                Step::new(
                    "Serum creatinine raised to the floor",
                    "SCr_used = max(SCr, floor)",
                    floor.qty(),
                )
                .input("serum_creatinine", inputs.scr.qty())
                .input("scr_floor", floor.qty()),
            );
            floor
        }
        _ => inputs.scr,
    };
    let crcl = cockcroft_gault(inputs.age, inputs.sex, weight_used, scr_used);
    calc.step(
        Step::new(
            "Creatinine clearance (Cockcroft–Gault)",
            match inputs.sex {
                Sex::Male => "CrCl = (140 − age) × weight / (72 × SCr)",
                Sex::Female => "CrCl = 0.85 × (140 − age) × weight / (72 × SCr)",
            },
            crcl.qty(),
        )
        .input("age", inputs.age.qty())
        .input("weight", weight_used.qty())
        .input("serum_creatinine", scr_used.qty())
        .rounding("none (display as a whole number)"),
    );
    calc.source(sources::COCKCROFT_GAULT);
    if inputs.age.value() < 18.0 {
        calc.finding(Finding::new(
            "crcl.pediatric",
            Severity::Warning,
            format!(
                "Age {} y: Cockcroft–Gault is validated in adults only; use bedside Schwartz for children.",
                format_number(inputs.age.value(), 1)
            ),
        ));
    }
    (crcl, weight_used)
}

/// `infusio calc crcl`.
pub fn crcl_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let inputs = read_crcl_inputs(&mut f)?;
    f.finish()?;
    let mut calc = Calculation::new("crcl");
    let (crcl, weight_used) = crcl_steps(&mut calc, &inputs);
    calc.output("crcl", crcl.qty());
    calc.output("weight_used", weight_used.qty());
    Ok(calc)
}

/// `infusio calc egfr`.
pub fn egfr_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let equation = f
        .opt_choice("equation", &["ckd-epi-2021", "schwartz-bedside"])?
        .unwrap_or_else(|| "ckd-epi-2021".to_string());
    let age = common::age(&mut f, "age")?;
    let (scr, scr_note) = common::serum_creatinine(&mut f, "serum_creatinine")?;
    let mut calc = Calculation::new("egfr");
    if let Some(note) = scr_note {
        calc.step(
            Step::new(
                "Serum creatinine converted from micromol/L",
                "SCr_mg/dL = SCr_micromol/L ÷ 88.4",
                scr.qty(),
            )
            .rounding(note),
        );
    }
    let egfr = if equation == "schwartz-bedside" {
        let _ = common::opt_sex(&mut f, "sex")?;
        let height = common::opt_height(&mut f, "height")?.ok_or_else(|| {
            InputError::new(
                "height",
                "",
                "required when equation is 'schwartz-bedside' (e.g. '100 cm')",
            )
        })?;
        f.finish()?;
        let egfr = schwartz_bedside(height, scr);
        calc.step(
            Step::new(
                "eGFR (bedside Schwartz 2009)",
                "eGFR = 0.413 × height_cm / SCr",
                egfr.qty(),
            )
            .input("height", height.qty())
            .input("serum_creatinine", scr.qty()),
        );
        calc.source(sources::SCHWARTZ_BEDSIDE);
        if !(1.0..=18.0).contains(&age.value()) {
            calc.finding(Finding::new(
                "egfr.schwartz_outside_age_range",
                Severity::Warning,
                format!(
                    "Age {} y: bedside Schwartz is validated for ages 1 to 18 years.",
                    format_number(age.value(), 1)
                ),
            ));
        }
        egfr
    } else {
        let sex = common::sex(&mut f, "sex")?;
        f.finish()?;
        let egfr = ckd_epi_2021(age, sex, scr);
        calc.step(
            Step::new(
                "eGFR (CKD-EPI 2021, race-free)",
                match sex {
                    Sex::Female => "eGFR = 142 × min(SCr/0.7, 1)^−0.241 × max(SCr/0.7, 1)^−1.200 × 0.9938^age × 1.012",
                    Sex::Male => "eGFR = 142 × min(SCr/0.9, 1)^−0.302 × max(SCr/0.9, 1)^−1.200 × 0.9938^age",
                },
                egfr.qty(),
            )
            .input("age", age.qty())
            .input("serum_creatinine", scr.qty())
            .rounding("none (display as a whole number)"),
        );
        calc.source(sources::CKD_EPI_2021);
        if age.value() < 18.0 {
            calc.finding(Finding::new(
                "egfr.ckd_epi_pediatric",
                Severity::Warning,
                "CKD-EPI 2021 is validated for adults (18 y and over); use bedside Schwartz for children.",
            ));
        }
        egfr
    };
    calc.finding(Finding::new(
        "egfr.normalised",
        Severity::Info,
        "eGFR is normalised to 1.73 m2 of body surface; for drug dosing on absolute GFR multiply by BSA / 1.73 or use Cockcroft–Gault as the label asks.",
    ));
    calc.output("egfr", egfr.qty());
    Ok(calc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ckd_epi_uses_2021_not_2009_coefficients() {
        // Male, 53 y, SCr 1.26: 2021 gives 68.2; the 2009 race-based equation gives about 65.
        let e = ckd_epi_2021(Age::new(53.0), Sex::Male, SerumCreatinine::new(1.26));
        assert!((e.value() - 68.2).abs() < 0.05, "{}", e.value());
    }

    #[test]
    fn cockcroft_gault_falls_with_creatinine_and_age() {
        let w = BodyWeight::new(70.0);
        let a = cockcroft_gault(Age::new(50.0), Sex::Male, w, SerumCreatinine::new(1.0));
        let b = cockcroft_gault(Age::new(50.0), Sex::Male, w, SerumCreatinine::new(2.0));
        let c = cockcroft_gault(Age::new(80.0), Sex::Male, w, SerumCreatinine::new(1.0));
        assert!(b.value() < a.value() && c.value() < a.value());
        let female = cockcroft_gault(Age::new(50.0), Sex::Female, w, SerumCreatinine::new(1.0));
        assert!((female.value() / a.value() - 0.85).abs() < 1e-12);
    }
}
