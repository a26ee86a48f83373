//! Clotting-factor doses for haemophilia: units = weight × desired rise × units/kg per IU/dL
//! (factor VIII 0.5; factor IX by product: plasma-derived 1.0, BeneFIX 1.3 at 12 years and
//! over, 1.4 under 12 years).
//!
//! Findings (stable codes):
//! - `factor.rise_above_100` (warning): desired rise above 100 IU/dL.

use serde_json::Value;

use super::common;
use super::common::{POSITIVE, missing, ranged};
use super::sources;
use crate::derivation::{Calculation, Finding, Severity, Source, Step};
use crate::input::{Fields, InputError, as_given};
use crate::units::{Age, BodyWeight, IntlUnits, Percent, Qty, format_number};

/// Units/kg per IU/dL of rise for factor VIII.
pub const FACTOR_VIII_UNITS_PER_KG_PER_RISE: f64 = 0.5;
/// Units/kg per IU/dL for plasma-derived factor IX.
pub const PLASMA_DERIVED_IX_UNITS_PER_KG_PER_RISE: f64 = 1.0;
/// BeneFIX units/kg per IU/dL at 12 years and over (recovery 0.8).
pub const BENEFIX_ADULT_UNITS_PER_KG_PER_RISE: f64 = 1.3;
/// BeneFIX units/kg per IU/dL under 12 years (recovery 0.7).
pub const BENEFIX_CHILD_UNITS_PER_KG_PER_RISE: f64 = 1.4;
/// The BeneFIX label's age boundary (years): at or above it, the adult factor.
pub const BENEFIX_ADULT_FROM_Y: f64 = 12.0;
/// Accepted desired rise: above 0 up to 200 IU/dL.
pub const RISE_MAX_IU_PER_DL: f64 = 200.0;
/// Rise above which a finding asks to check the target.
pub const RISE_CHECK_IU_PER_DL: f64 = 100.0;

/// The clotting factor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factor {
    /// Factor VIII (haemophilia A).
    VIII,
    /// Factor IX (haemophilia B).
    IX,
}

/// A factor IX product with its label recovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactorIxProduct {
    /// Plasma-derived factor IX: 1 unit/kg per IU/dL.
    PlasmaDerived,
    /// BeneFIX (recombinant): 1.3 units/kg per IU/dL from 12 years, 1.4 under 12.
    BeneFix,
}

impl FactorIxProduct {
    /// The product names accepted in `product`.
    pub const NAMES: [&'static str; 2] = ["plasma-derived", "benefix"];

    fn source(self) -> Source {
        match self {
            FactorIxProduct::PlasmaDerived => sources::FACTOR_IX_PLASMA,
            FactorIxProduct::BeneFix => sources::BENEFIX,
        }
    }
}

/// Why a factor IX dose cannot be computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FactorError {
    /// Factor IX without a product.
    #[error("factor IX recovery differs by product: a product is required")]
    ProductRequired,
    /// BeneFIX without an age.
    #[error(
        "the BeneFIX label's factor depends on age (1.4 under 12 years, 1.3 at 12 and over): an age is required"
    )]
    AgeRequired,
}

/// Units per kg per IU/dL of rise for `factor`, `product` and `age`.
pub fn units_per_kg_per_rise(
    factor: Factor,
    product: Option<FactorIxProduct>,
    age: Option<Age>,
) -> Result<f64, FactorError> {
    Ok(match (factor, product) {
        (Factor::VIII, _) => FACTOR_VIII_UNITS_PER_KG_PER_RISE,
        (Factor::IX, None) => return Err(FactorError::ProductRequired),
        (Factor::IX, Some(FactorIxProduct::PlasmaDerived)) => {
            PLASMA_DERIVED_IX_UNITS_PER_KG_PER_RISE
        }
        (Factor::IX, Some(FactorIxProduct::BeneFix)) => {
            if age.ok_or(FactorError::AgeRequired)?.value() >= BENEFIX_ADULT_FROM_Y {
                BENEFIX_ADULT_UNITS_PER_KG_PER_RISE
            } else {
                BENEFIX_CHILD_UNITS_PER_KG_PER_RISE
            }
        }
    })
}

/// Dose (units) = weight × rise (IU/dL, = %) × units/kg per IU/dL.
pub fn factor_dose(weight: BodyWeight, rise: Percent, units_per_kg_per_rise: f64) -> IntlUnits {
    IntlUnits::new(weight.value() * rise.value() * units_per_kg_per_rise)
}

/// The factor-dose calculator's inputs, read and checked, with the units/kg per IU/dL that
/// follow from them.
struct FactorInput {
    factor: Factor,
    product: Option<FactorIxProduct>,
    weight: BodyWeight,
    rise: Percent,
    age: Option<Age>,
    /// Units/kg per IU/dL of rise for this factor, product and age.
    units_per_kg_per_rise: f64,
}

/// Reads the calculator's fields in their documented order.
fn read_factor_input(f: &mut Fields) -> Result<FactorInput, InputError> {
    let factor = match f.choice("factor", &["viii", "ix"])?.as_str() {
        "viii" => Factor::VIII,
        _ => Factor::IX,
    };
    let weight = common::weight(f, "weight")?;
    const RISE_WHAT: &str = "a desired rise such as '30 %' or '30 IU/dL' (1 IU/dL = 1%)";
    let rise = ranged(
        f,
        "desired_rise",
        RISE_WHAT,
        |q| {
            q.value_in("%")
                .or_else(|_| q.value_in("units/dL"))
                .map(Percent::new)
        },
        |p| p.value(),
        POSITIVE,
        RISE_MAX_IU_PER_DL,
        "IU/dL",
    )?
    .ok_or_else(|| missing(f, "desired_rise", RISE_WHAT))?;
    let product = read_factor_product(f, factor)?;
    let age = common::opt_age(f, "age")?;
    let per_rise = units_per_kg_per_rise(factor, product, age).map_err(|e| match e {
        FactorError::ProductRequired => missing(f, "product", "the factor IX product: plasma-derived or benefix"),
        FactorError::AgeRequired => missing(
            f,
            "age",
            "an age such as '30 y' (BeneFIX: 1.4 units/kg per IU/dL under 12 years, 1.3 at 12 and over)",
        ),
    })?;
    Ok(FactorInput {
        factor,
        product,
        weight,
        rise,
        age,
        units_per_kg_per_rise: per_rise,
    })
}

/// `product`: refused for factor VIII (one recovery for every product), required for IX.
fn read_factor_product(
    f: &mut Fields,
    factor: Factor,
) -> Result<Option<FactorIxProduct>, InputError> {
    let product_given = f.raw("product").map(as_given);
    match factor {
        Factor::VIII => {
            if let Some(given) = product_given {
                return Err(InputError::new(
                    f.path_of("product"),
                    given,
                    "not used for factor VIII (0.5 units/kg per IU/dL for every product); give product only for factor IX",
                ));
            }
            Ok(None)
        }
        Factor::IX => {
            let name = f.opt_choice("product", &FactorIxProduct::NAMES)?.ok_or_else(|| {
                missing(
                    f,
                    "product",
                    "the factor IX product (plasma-derived or benefix): recovery differs by product",
                )
            })?;
            Ok(Some(if name == "benefix" {
                FactorIxProduct::BeneFix
            } else {
                FactorIxProduct::PlasmaDerived
            }))
        }
    }
}

/// The step stating the units/kg per IU/dL used, and why.
fn units_per_rise_step(input: &FactorInput) -> Step {
    let (description, formula) = match (input.factor, input.product) {
        (Factor::VIII, _) => (
            "Factor VIII: 0.5 units/kg per IU/dL",
            "factor = 0.5 units/kg per IU/dL",
        ),
        (Factor::IX, Some(FactorIxProduct::BeneFix)) => (
            "BeneFIX: reciprocal of the label's recovery by age",
            "factor = 1.3 units/kg per IU/dL at 12 years and over (recovery 0.8), 1.4 under 12 years (recovery 0.7)",
        ),
        (Factor::IX, _) => (
            "Plasma-derived factor IX: 1 unit/kg per IU/dL",
            "factor = 1 unit/kg per IU/dL",
        ),
    };
    let mut step = Step::new(
        description,
        formula,
        Qty::new(input.units_per_kg_per_rise, "units/kg per IU/dL"),
    );
    if let Some(a) = input.age {
        step = step.input("age", a.qty());
    }
    step
}

/// `infusio calc factor-dose`.
pub fn factor_dose_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let input = read_factor_input(&mut f)?;
    f.finish()?;
    let (weight, rise, per_rise) = (input.weight, input.rise, input.units_per_kg_per_rise);

    let mut calc = Calculation::new("factor-dose");
    calc.step(units_per_rise_step(&input));
    let dose = factor_dose(weight, rise, per_rise);
    calc.step(
        Step::new(
            "Factor dose",
            "dose = weight × desired_rise × factor",
            dose.qty(),
        )
        .input("weight", weight.qty())
        .input("desired_rise", Qty::new(rise.value(), "IU/dL"))
        .input("factor", Qty::new(per_rise, "units/kg per IU/dL"))
        .rounding("none (round to whole vials per local policy)"),
    );
    calc.source(match input.product {
        None => sources::FACTOR_VIII,
        Some(p) => p.source(),
    });
    if rise.value() > RISE_CHECK_IU_PER_DL {
        calc.finding(Finding::new(
            "factor.rise_above_100",
            Severity::Warning,
            format!(
                "A desired rise of {} IU/dL is above 100 IU/dL: check the target level and the baseline.",
                format_number(rise.value(), 1)
            ),
        ));
    }
    calc.output("dose", dose.qty());
    calc.output(
        "dose_per_kg",
        Qty::new(dose.value() / weight.value(), "units/kg"),
    );
    Ok(calc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dose(input: Value) -> f64 {
        factor_dose_json(&input)
            .expect("ok")
            .outputs
            .get("dose")
            .expect("dose")
            .value
    }

    #[test]
    fn benefix_age_boundary_at_12() {
        let at = dose(
            json!({"factor": "ix", "product": "benefix", "weight": "40 kg", "desired_rise": "50 %", "age": "12 y"}),
        );
        let under = dose(
            json!({"factor": "ix", "product": "benefix", "weight": "40 kg", "desired_rise": "50 %", "age": "11.99 y"}),
        );
        assert!((at - 2600.0).abs() < 1e-9);
        assert!((under - 2800.0).abs() < 1e-9);
    }

    #[test]
    fn percent_and_iu_per_dl_are_the_same_rise() {
        let a = dose(json!({"factor": "viii", "weight": "50 kg", "desired_rise": "30 %"}));
        let b = dose(json!({"factor": "viii", "weight": "50 kg", "desired_rise": "30 IU/dL"}));
        let c = dose(json!({"factor": "viii", "weight": "50 kg", "desired_rise": "0.3 units/mL"}));
        assert_eq!(a, 750.0);
        assert!((a - b).abs() < 1e-9 && (a - c).abs() < 1e-9);
    }

    #[test]
    fn dose_is_monotone_in_weight_and_rise() {
        let mut last = 0.0;
        for kg in 1..150 {
            let d = factor_dose(BodyWeight::new(kg as f64), Percent::new(40.0), 1.3).value();
            assert!(d > last);
            last = d;
        }
        let mut last = 0.0;
        for rise in 1..200 {
            let d = factor_dose(BodyWeight::new(30.0), Percent::new(rise as f64), 0.5).value();
            assert!(d > last);
            last = d;
        }
    }

    #[test]
    fn refusals_name_the_field() {
        let e =
            factor_dose_json(&json!({"factor": "ix", "weight": "70 kg", "desired_rise": "60 %"}))
                .expect_err("no product");
        assert_eq!(e.field, "product");
        let e = factor_dose_json(&json!({"factor": "ix", "product": "benefix", "weight": "70 kg", "desired_rise": "60 %"}))
            .expect_err("no age");
        assert_eq!(e.field, "age");
        let e = factor_dose_json(&json!({"factor": "viii", "product": "benefix", "weight": "70 kg", "desired_rise": "60 %"}))
            .expect_err("product for VIII");
        assert_eq!(e.field, "product");
    }
}
