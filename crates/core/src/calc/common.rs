//! Shared readers for patient measurements, with plausibility ranges that refuse typing slips
//! (a weight in pounds typed as kilograms still parses, but `700 kg` does not).

use serde::Serialize;

use crate::input::{Fields, InputError, as_given, check_range};
use crate::units::{Age, BodyWeight, Length, Quantity, SerumCreatinine, UnitError, format_number};

/// Biological sex as used by the sex-specific formulas (Devine, Cockcroft-Gault, CKD-EPI,
/// Janmahasatian, total body water).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Male => "male",
            Sex::Female => "female",
        }
    }
}

/// Accepted body weight: 0.3 to 500 kg.
pub const WEIGHT_KG_RANGE: (f64, f64) = (0.3, 500.0);
/// Accepted height: 20 to 272 cm.
pub const HEIGHT_CM_RANGE: (f64, f64) = (20.0, 272.0);
/// Accepted age: 0 to 125 years.
pub const AGE_Y_RANGE: (f64, f64) = (0.0, 125.0);
/// Accepted serum creatinine: 0.05 to 30 mg/dL (4.4 to 2,652 micromol/L).
pub const SCR_MG_DL_RANGE: (f64, f64) = (0.05, 30.0);

/// Reads an optional quantity and refuses a value outside `[min, max]` (in `unit`, the unit
/// `value_of` returns), naming the field, the value as given and the accepted range.
#[allow(clippy::too_many_arguments)]
pub(crate) fn ranged<T>(
    f: &mut Fields,
    key: &str,
    what: &str,
    convert: impl Fn(&Quantity) -> Result<T, UnitError>,
    value_of: impl Fn(&T) -> f64,
    min: f64,
    max: f64,
    unit: &str,
) -> Result<Option<T>, InputError> {
    let given = f.raw(key).map(as_given);
    let path = f.path_of(key);
    let v = f.opt_quantity(key, what, convert)?;
    if let Some(t) = &v {
        check_range(
            &path,
            given.as_deref().unwrap_or(""),
            value_of(t),
            min,
            max,
            unit,
        )?;
    }
    Ok(v)
}

/// The error for a missing required field.
pub(crate) fn missing(f: &Fields, key: &str, what: &str) -> InputError {
    InputError::new(f.path_of(key), "", format!("required: {what}"))
}

/// The smallest accepted value of a quantity that must be strictly positive; shown as `0` in
/// range messages.
pub(crate) const POSITIVE: f64 = f64::MIN_POSITIVE;

fn required<T>(f: &Fields, key: &str, what: &str, v: Option<T>) -> Result<T, InputError> {
    v.ok_or_else(|| missing(f, key, what))
}

const WEIGHT_WHAT: &str = "a body weight such as '70 kg' or '154 lb'";
const HEIGHT_WHAT: &str = "a height such as '170 cm', '67 in' or '5 ft 7 in'";
const AGE_WHAT: &str = "an age such as '54 y' or '13 mo'";
const SCR_WHAT: &str = "a serum creatinine such as '1.2 mg/dL' or '106 umol/L'";

/// Reads an optional body weight (`"70 kg"`, `"154 lb"`).
pub fn opt_weight(f: &mut Fields, key: &str) -> Result<Option<BodyWeight>, InputError> {
    ranged(
        f,
        key,
        WEIGHT_WHAT,
        BodyWeight::from_quantity,
        |w| w.value(),
        WEIGHT_KG_RANGE.0,
        WEIGHT_KG_RANGE.1,
        "kg",
    )
}

/// Reads a required body weight.
pub fn weight(f: &mut Fields, key: &str) -> Result<BodyWeight, InputError> {
    let v = opt_weight(f, key)?;
    required(f, key, WEIGHT_WHAT, v)
}

/// Reads an optional height (`"170 cm"`, `"67 in"`, `"5 ft 7 in"`).
pub fn opt_height(f: &mut Fields, key: &str) -> Result<Option<Length>, InputError> {
    ranged(
        f,
        key,
        HEIGHT_WHAT,
        Length::from_quantity,
        |h| h.value(),
        HEIGHT_CM_RANGE.0,
        HEIGHT_CM_RANGE.1,
        "cm",
    )
}

/// Reads a required height.
pub fn height(f: &mut Fields, key: &str) -> Result<Length, InputError> {
    let v = opt_height(f, key)?;
    required(f, key, HEIGHT_WHAT, v)
}

/// Reads an optional age (`"54 y"`, `"13 mo"`).
pub fn opt_age(f: &mut Fields, key: &str) -> Result<Option<Age>, InputError> {
    ranged(
        f,
        key,
        AGE_WHAT,
        Age::from_quantity,
        |a| a.value(),
        AGE_Y_RANGE.0,
        AGE_Y_RANGE.1,
        "y",
    )
}

/// Reads a required age.
pub fn age(f: &mut Fields, key: &str) -> Result<Age, InputError> {
    let v = opt_age(f, key)?;
    required(f, key, AGE_WHAT, v)
}

/// Reads an optional serum creatinine (`"1.2 mg/dL"`, `"106 umol/L"`), with the conversion
/// note when micromol/L was converted.
pub fn opt_serum_creatinine(
    f: &mut Fields,
    key: &str,
) -> Result<Option<(SerumCreatinine, Option<String>)>, InputError> {
    ranged(
        f,
        key,
        SCR_WHAT,
        SerumCreatinine::from_quantity_explained,
        |(s, _)| s.value(),
        SCR_MG_DL_RANGE.0,
        SCR_MG_DL_RANGE.1,
        "mg/dL",
    )
}

/// Reads a required serum creatinine.
pub fn serum_creatinine(
    f: &mut Fields,
    key: &str,
) -> Result<(SerumCreatinine, Option<String>), InputError> {
    let v = opt_serum_creatinine(f, key)?;
    required(f, key, SCR_WHAT, v)
}

/// Reads an optional `sex` (`male` or `female`).
pub fn opt_sex(f: &mut Fields, key: &str) -> Result<Option<Sex>, InputError> {
    let v = f.opt_choice(key, &["male", "female"])?;
    Ok(v.map(|s| if s == "male" { Sex::Male } else { Sex::Female }))
}

/// Reads a required `sex`.
pub fn sex(f: &mut Fields, key: &str) -> Result<Sex, InputError> {
    let v = opt_sex(f, key)?;
    required(f, key, "male or female", v)
}

/// Reads an optional `tolerance_percent` (0 to 50, default applied by the caller).
pub fn percent_field(
    f: &mut Fields,
    key: &str,
    min: f64,
    max: f64,
) -> Result<Option<f64>, InputError> {
    let path = f.path_of(key);
    let v = f.opt_number(key)?;
    if let Some(x) = v {
        check_range(&path, &format_number(x, 6), x, min, max, "%")?;
    }
    Ok(v)
}
