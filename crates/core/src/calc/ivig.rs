//! Immune globulin: dose (g) = g/kg × dosing weight, with a configurable weight basis (actual
//! by default; adjusted = the dose-determining weight of NBA Australia and Transfusion
//! Ontario), and the volume of a 10% (100 mg/mL) product.
//!
//! Findings (stable codes):
//! - `ivig.consider_adjusted_weight` (warning): actual weight used with a BMI above 30.

use serde_json::Value;

use super::body::{self, WeightBasis};
use super::common;
use super::common::missing;
use super::sources;
use crate::derivation::{Calculation, Finding, Severity, Step};
use crate::input::{Fields, InputError, as_given, check_range};
use crate::units::{
    AmountKind, BodyWeight, DoseBasis, DosePer, Qty, Quantity, Volume, format_number, parse_unit,
};

/// mL of a 10% product per gram (100 mg/mL).
pub const ML_PER_G_10_PERCENT: f64 = 10.0;
/// Accepted dose: above 0 up to 3 g/kg (2 g/kg is the usual largest course; multifocal motor
/// neuropathy is labelled up to 2.4 g/kg a month).
pub const DOSE_G_PER_KG_MAX: f64 = 3.0;
/// BMI above which Transfusion Ontario makes the dose-determining weight mandatory.
pub const ONTARIO_ADJUSTED_WEIGHT_BMI: f64 = 30.0;

/// A dose in g/kg.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GramsPerKg(f64);

impl GramsPerKg {
    /// A dose from a value in g/kg.
    pub fn new(value: f64) -> Self {
        GramsPerKg(value)
    }

    /// The value in g/kg.
    pub fn value(self) -> f64 {
        self.0
    }

    /// The output shape `{"value", "unit": "g/kg"}`.
    pub fn qty(self) -> Qty {
        Qty::new(self.0, "g/kg")
    }

    /// Accepts a mass per kg (`0.4 g/kg`, `400 mg/kg`), not per time nor per m2 nor flat.
    pub fn from_quantity(q: &Quantity) -> Result<Self, crate::units::UnitError> {
        let refuse = || crate::units::UnitError::Incompatible {
            given: q.unit.spelling(),
            expected: "a dose per kg such as '0.4 g/kg', '2 g/kg' or '400 mg/kg'".to_string(),
        };
        let per = DosePer::from_quantity(q).map_err(|_| refuse())?;
        if per.amount_kind != AmountKind::Mass
            || per.basis != DoseBasis::PerKg
            || per.per_time.is_some()
        {
            return Err(refuse());
        }
        let grams = Quantity {
            value: per.value,
            unit: parse_unit(&per.amount_unit)?,
        }
        .value_in("g")?;
        Ok(GramsPerKg(grams))
    }
}

/// An immune-globulin dose in grams.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grams(f64);

impl Grams {
    /// The value in g.
    pub fn value(self) -> f64 {
        self.0
    }

    /// The output shape `{"value", "unit": "g"}`.
    pub fn qty(self) -> Qty {
        Qty::new(self.0, "g")
    }
}

/// Dose = g/kg × dosing weight.
pub fn ivig_dose(dose_per: GramsPerKg, weight_used: BodyWeight) -> Grams {
    Grams(dose_per.value() * weight_used.value())
}

/// Volume of a 10% product: grams × 10 mL.
pub fn volume_10_percent(dose: Grams) -> Volume {
    Volume::new(dose.value() * ML_PER_G_10_PERCENT)
}

/// `infusio calc ivig`.
pub fn ivig_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    const WHAT: &str = "a dose per kg such as '0.4 g/kg', '2 g/kg' or '400 mg/kg'";
    let given = f.raw("dose_per").map(as_given).unwrap_or_default();
    let path = f.path_of("dose_per");
    let dose_per = f
        .opt_quantity("dose_per", WHAT, GramsPerKg::from_quantity)?
        .ok_or_else(|| missing(&f, "dose_per", WHAT))?;
    check_range(
        &path,
        &given,
        dose_per.value(),
        f64::MIN_POSITIVE,
        DOSE_G_PER_KG_MAX,
        "g/kg",
    )?;
    let weight = common::weight(&mut f, "weight")?;
    let height = common::opt_height(&mut f, "height")?;
    let sex = common::opt_sex(&mut f, "sex")?;
    let basis = body::read_weight_basis(&mut f, height, sex, WeightBasis::Actual)?;
    f.finish()?;

    let mut calc = Calculation::new("ivig");
    let weight_used = body::dosing_weight(&mut calc, basis, weight, height, sex);
    let dose = ivig_dose(dose_per, weight_used);
    calc.step(
        Step::new("Immune globulin dose", "dose = dose_per × weight_used", dose.qty())
            .input("dose_per", dose_per.qty())
            .input("weight_used", weight_used.qty())
            .rounding("none (Transfusion Ontario rounds to the nearest 5 g; apply local rounding when ordering)"),
    );
    let volume = volume_10_percent(dose);
    calc.step(
        Step::new(
            "Volume of a 10% product",
            "volume = dose_g × 10 mL/g (100 mg/mL)",
            volume.qty(),
        )
        .input("dose", dose.qty()),
    );
    calc.source(sources::IVIG_CONCENTRATION);
    calc.source(sources::ADJUSTED_WEIGHT);
    if basis == WeightBasis::Actual
        && let Some(h) = height
    {
        let bmi = body::bmi(weight, h);
        if bmi.value() > ONTARIO_ADJUSTED_WEIGHT_BMI {
            calc.finding(Finding::new(
                "ivig.consider_adjusted_weight",
                Severity::Warning,
                format!(
                    "BMI {} kg/m2 is above 30: Transfusion Ontario requires, and NBA Australia recommends, the dose-determining weight (weight_basis 'adjusted', IBW + 0.4 × (actual − IBW)); actual weight was used.",
                    format_number(bmi.value(), 1)
                ),
            ));
        }
    }
    calc.output("dose", dose.qty());
    calc.output("volume_10_percent", volume.qty());
    calc.output("weight_used", weight_used.qty());
    Ok(calc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn out(c: &Calculation, name: &str) -> f64 {
        c.outputs.get(name).expect("output").value
    }

    #[test]
    fn milligrams_per_kg_equal_grams_per_kg() {
        let a = ivig_json(&json!({"dose_per": "0.4 g/kg", "weight": "70 kg"})).expect("ok");
        let b = ivig_json(&json!({"dose_per": "400 mg/kg", "weight": "70 kg"})).expect("ok");
        assert!((out(&a, "dose") - 28.0).abs() < 1e-9);
        assert!((out(&a, "dose") - out(&b, "dose")).abs() < 1e-9);
        assert!((out(&a, "volume_10_percent") - 280.0).abs() < 1e-9);
    }

    #[test]
    fn adjusted_basis_uses_actual_weight_at_or_below_ideal() {
        // Female 165 cm: IBW 45.5 + 2.3 × (64.96 − 60) ≈ 56.9 kg; at 50 kg actual is used.
        let c = ivig_json(&json!({"dose_per": "1 g/kg", "weight": "50 kg", "height": "165 cm", "sex": "female", "weight_basis": "adjusted"}))
            .expect("ok");
        assert_eq!(out(&c, "weight_used"), 50.0);
    }

    #[test]
    fn dose_is_monotone_in_weight() {
        let mut last = 0.0;
        for kg in 1..200 {
            let d = ivig_dose(GramsPerKg::new(2.0), BodyWeight::new(kg as f64)).value();
            assert!(d > last);
            last = d;
        }
    }

    #[test]
    fn obese_patient_on_actual_weight_gets_a_finding() {
        let c = ivig_json(
            &json!({"dose_per": "2 g/kg", "weight": "100 kg", "height": "175 cm", "sex": "male"}),
        )
        .expect("ok");
        assert!(
            c.findings
                .iter()
                .any(|f| f.code == "ivig.consider_adjusted_weight")
        );
        let c = ivig_json(&json!({"dose_per": "2 g/kg", "weight": "100 kg", "height": "175 cm", "sex": "male", "weight_basis": "adjusted"}))
            .expect("ok");
        assert!(c.findings.is_empty());
    }
}
