//! Typed clinical quantities.
//!
//! A quantity crosses a public API only as one of the newtypes below: the type carries the
//! unit, so a body weight cannot be passed where a drug mass is expected, a per-minute rate
//! cannot be read as a per-hour rate, and a creatinine in µmol/L cannot be read as mg/dL.
//! Each newtype stores its value in one canonical unit (named by its `UNIT` constant) and
//! is built from user text through the closed parser in [`parse`].

pub mod format;
pub mod parse;

pub use format::{display_decimals, format_number, format_quantity};
pub use parse::{Quantity, UnitExpr, parse_quantity, parse_unit};

use serde::{Deserialize, Serialize};

/// Kinds of base unit. A compound unit's dimension is the sorted list of the kinds in its
/// numerator and in its denominator, kept unreduced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Mass,
    Volume,
    Length,
    Time,
    Area,
    Substance,
    Equivalent,
    IntlUnit,
    Energy,
    Drop,
    Percent,
    Count,
    Osmole,
}

/// Why a quantity string was refused. Each message says what is accepted.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum UnitError {
    #[error("empty; expected '<number> <unit>'")]
    Empty,
    #[error("'{0}' has no number; expected '<number> <unit>', e.g. '70 kg'")]
    NoNumber(String),
    #[error("'{0}' has no unit; expected '<number> <unit>', e.g. '70 kg'")]
    NoUnit(String),
    #[error("'{0}' is not a number")]
    BadNumber(String),
    #[error("'{0}': commas are refused in numbers (1,000 or 1,5?); write 1000 or 1.5")]
    Comma(String),
    #[error("unknown unit '{0}'")]
    UnknownUnit(String),
    #[error("unit '{unit}' refused: {reason}")]
    Refused { unit: String, reason: String },
    #[error("unit '{given}' cannot be converted to {expected}")]
    Incompatible { given: String, expected: String },
}

/// A quantity as it leaves the engine: a value (unrounded) and the unit it is expressed in.
/// This is the JSON shape `{"value": 1.82, "unit": "m2"}` of the CLI and HTTP contracts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Qty {
    pub value: f64,
    pub unit: String,
}

impl Qty {
    pub fn new(value: f64, unit: &str) -> Self {
        Qty {
            value,
            unit: unit.to_string(),
        }
    }

    /// ISMP-formatted display (`"1,234.5 mg"`), with the unit's clinical display precision.
    pub fn display(&self) -> String {
        format_quantity(
            self.value,
            &self.unit,
            display_decimals(&self.unit, self.value),
        )
    }
}

macro_rules! quantity {
    ($(#[$meta:meta])* $name:ident, $unit:literal, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
        pub struct $name(f64);

        impl $name {
            #[doc = concat!("The canonical unit of a ", $what, ".")]
            pub const UNIT: &'static str = $unit;

            #[doc = concat!("A ", $what, " from a value in ", $unit, ".")]
            pub fn new(value: f64) -> Self {
                $name(value)
            }

            #[doc = concat!("The value in ", $unit, ".")]
            pub fn value(self) -> f64 {
                self.0
            }

            /// Converts a parsed quantity, refusing any other dimension.
            pub fn from_quantity(q: &Quantity) -> Result<Self, UnitError> {
                Ok($name(q.value_in($unit)?))
            }

            /// Parses user text such as `"70 kg"`.
            pub fn parse(text: &str) -> Result<Self, UnitError> {
                Self::from_quantity(&parse_quantity(text)?)
            }

            /// The output shape `{"value", "unit"}` in the canonical unit.
            pub fn qty(self) -> Qty {
                Qty::new(self.0, $unit)
            }
        }
    };
}

quantity!(
    /// A patient's body weight (kg). Distinct from a drug [`Mass`] on purpose.
    BodyWeight, "kg", "body weight"
);
quantity!(
    /// An amount of drug by mass (mg).
    Mass, "mg", "drug mass"
);
quantity!(
    /// A volume (mL).
    Volume, "mL", "volume"
);
quantity!(
    /// A length such as height (cm).
    Length, "cm", "length"
);
quantity!(
    /// A duration or time point (h).
    Duration, "h", "duration"
);
quantity!(
    /// An age (years; a month is 1/12 of a year).
    Age, "y", "age"
);
quantity!(
    /// An area such as body-surface area (m2).
    Area, "m2", "area"
);
quantity!(
    /// International units of activity (`units`; `IU` accepted on input, `U` refused).
    IntlUnits, "units", "number of international units"
);
quantity!(
    /// Milliequivalents (mEq).
    Equivalents, "mEq", "number of milliequivalents"
);
quantity!(
    /// Amount of substance (mmol).
    Substance, "mmol", "amount of substance"
);
quantity!(
    /// Energy (kcal).
    Energy, "kcal", "energy"
);
quantity!(
    /// A clearance or absolute filtration rate (mL/min, not normalised to body surface).
    Clearance, "mL/min", "clearance"
);
quantity!(
    /// A filtration rate normalised to 1.73 m2 of body surface (mL/min/1.73m2).
    NormalisedGfr, "mL/min/1.73m2", "normalised filtration rate"
);
quantity!(
    /// Carboplatin target exposure (mg/mL.min).
    AucMgMinPerMl, "mg/mL.min", "carboplatin AUC"
);
quantity!(
    /// Exposure as used for vancomycin (mg.h/L).
    AucMgHourPerL, "mg.h/L", "AUC"
);
quantity!(
    /// A pump rate (mL/h).
    VolumeRate, "mL/h", "volume rate"
);
quantity!(
    /// An administration set's drop factor (gtt/mL).
    DropFactor, "gtt/mL", "drop factor"
);
quantity!(
    /// A gravity drip rate (gtt/min).
    DropRate, "gtt/min", "drip rate"
);
quantity!(
    /// Body-mass index (kg/m2).
    Bmi, "kg/m2", "body-mass index"
);
quantity!(
    /// Haemoglobin (g/dL; g/L is converted, 10 g/L = 1 g/dL).
    Hemoglobin, "g/dL", "haemoglobin"
);
quantity!(
    /// A drug concentration in plasma (mg/L, which equals mcg/mL).
    PlasmaConcentration, "mg/L", "plasma concentration"
);
quantity!(
    /// A first-order rate constant (1/h).
    RateConstant, "1/h", "rate constant"
);
quantity!(
    /// A percentage (%).
    Percent, "%", "percentage"
);
quantity!(
    /// A volume of distribution or other volume in litres (L).
    Litres, "L", "volume in litres"
);
quantity!(
    /// A clearance in litres per hour (L/h), as used in pharmacokinetics.
    ClearanceLPerH, "L/h", "clearance in L/h"
);
quantity!(
    /// An osmolarity (mOsm/L).
    Osmolarity, "mOsm/L", "osmolarity"
);
quantity!(
    /// Energy per gram of a nutrient (kcal/g), e.g. lipid emulsion about 10 kcal/g.
    EnergyDensity, "kcal/g", "energy density"
);

/// Creatinine conversion: µmol/L ÷ 88.4 = mg/dL (NKF; some tools use 88.42).
pub const CREATININE_UMOL_PER_L_PER_MG_PER_DL: f64 = 88.4;

/// Serum creatinine (mg/dL). µmol/L input is divided by
/// [`CREATININE_UMOL_PER_L_PER_MG_PER_DL`]; the conversion is reported by [`Self::parse_explained`].
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct SerumCreatinine(f64);

impl SerumCreatinine {
    pub const UNIT: &'static str = "mg/dL";

    pub fn new(mg_per_dl: f64) -> Self {
        SerumCreatinine(mg_per_dl)
    }

    pub fn value(self) -> f64 {
        self.0
    }

    pub fn qty(self) -> Qty {
        Qty::new(self.0, Self::UNIT)
    }

    /// Accepts mass/volume (mg/dL, mg/L …) or substance/volume (µmol/L, mmol/L).
    pub fn from_quantity(q: &Quantity) -> Result<Self, UnitError> {
        Ok(Self::from_quantity_explained(q)?.0)
    }

    /// As [`Self::from_quantity`], and says which conversion was applied, if any.
    pub fn from_quantity_explained(q: &Quantity) -> Result<(Self, Option<String>), UnitError> {
        if let Ok(mg_dl) = q.value_in("mg/dL") {
            return Ok((SerumCreatinine(mg_dl), None));
        }
        match q.value_in("umol/L") {
            Ok(umol) => Ok((
                SerumCreatinine(umol / CREATININE_UMOL_PER_L_PER_MG_PER_DL),
                Some(format!(
                    "{} micromol/L ÷ {} = {} mg/dL",
                    format_number(umol, 2),
                    CREATININE_UMOL_PER_L_PER_MG_PER_DL,
                    format_number(umol / CREATININE_UMOL_PER_L_PER_MG_PER_DL, 3)
                )),
            )),
            Err(_) => Err(UnitError::Incompatible {
                given: q.unit.spelling(),
                expected: "mg/dL or umol/L".to_string(),
            }),
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnitError> {
        Self::from_quantity(&parse_quantity(text)?)
    }
}

/// A monovalent electrolyte concentration such as sodium or potassium (mEq/L). For a
/// monovalent ion mmol/L equals mEq/L, so both are accepted.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct MonovalentConcentration(f64);

impl MonovalentConcentration {
    pub const UNIT: &'static str = "mEq/L";

    pub fn new(meq_per_l: f64) -> Self {
        MonovalentConcentration(meq_per_l)
    }

    pub fn value(self) -> f64 {
        self.0
    }

    pub fn qty(self) -> Qty {
        Qty::new(self.0, Self::UNIT)
    }

    pub fn from_quantity(q: &Quantity) -> Result<Self, UnitError> {
        q.value_in("mEq/L")
            .or_else(|_| q.value_in("mmol/L"))
            .map(MonovalentConcentration)
            .map_err(|_| UnitError::Incompatible {
                given: q.unit.spelling(),
                expected: "mEq/L or mmol/L".to_string(),
            })
    }

    pub fn parse(text: &str) -> Result<Self, UnitError> {
        Self::from_quantity(&parse_quantity(text)?)
    }
}

/// What a dose is measured in: the numerator of a dose, a concentration or a dose rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AmountKind {
    Mass,
    IntlUnits,
    Equivalents,
    Substance,
    Volume,
}

impl AmountKind {
    fn from_kind(kind: Kind) -> Option<Self> {
        match kind {
            Kind::Mass => Some(AmountKind::Mass),
            Kind::IntlUnit => Some(AmountKind::IntlUnits),
            Kind::Equivalent => Some(AmountKind::Equivalents),
            Kind::Substance => Some(AmountKind::Substance),
            Kind::Volume => Some(AmountKind::Volume),
            _ => None,
        }
    }

    /// The canonical unit this engine uses for amounts of this kind.
    pub fn unit(self) -> &'static str {
        match self {
            AmountKind::Mass => "mg",
            AmountKind::IntlUnits => "units",
            AmountKind::Equivalents => "mEq",
            AmountKind::Substance => "mmol",
            AmountKind::Volume => "mL",
        }
    }
}

/// A drug amount of any kind (mass, units, mEq, mmol, mL), with the unit it was given in so
/// that output keeps the prescriber's unit (a dose of `5 mg/kg` comes out in mg, `0.4 g/kg` in g).
#[derive(Clone, Debug, PartialEq)]
pub struct Amount {
    pub kind: AmountKind,
    /// Value in `display_unit`.
    pub value: f64,
    /// The unit the prescriber used (`mg`, `g`, `units` …).
    pub display_unit: String,
}

impl Amount {
    /// Parses `"200 mg"`, `"1.5 g"`, `"2000 units"`, `"40 mEq"`.
    pub fn parse(text: &str) -> Result<Self, UnitError> {
        let q = parse_quantity(text)?;
        Self::from_quantity(&q)
    }

    pub fn from_quantity(q: &Quantity) -> Result<Self, UnitError> {
        match (q.unit.numerator.as_slice(), q.unit.denominator.as_slice()) {
            ([u], []) if q.unit.scale == 1.0 => match AmountKind::from_kind(u.kind) {
                Some(kind) => Ok(Amount {
                    kind,
                    value: q.value,
                    display_unit: u.symbol.to_string(),
                }),
                None => Err(not_an_amount(q)),
            },
            _ => Err(not_an_amount(q)),
        }
    }

    /// The value converted to `unit`, which must be of the same kind.
    pub fn value_in(&self, unit: &str) -> Result<f64, UnitError> {
        let q = Quantity {
            value: self.value,
            unit: parse_unit(&self.display_unit)?,
        };
        q.value_in(unit)
    }

    pub fn qty(&self) -> Qty {
        Qty::new(self.value, &self.display_unit)
    }
}

fn not_an_amount(q: &Quantity) -> UnitError {
    UnitError::Incompatible {
        given: q.unit.spelling(),
        expected: "an amount (mg, g, mcg, units, mEq, mmol or mL)".to_string(),
    }
}

/// What a weight- or size-based dose is expressed per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DoseBasis {
    /// A flat dose (`200 mg`).
    Flat,
    /// Per kilogram of dosing weight (`5 mg/kg`).
    PerKg,
    /// Per square metre of body-surface area (`375 mg/m2`).
    PerM2,
}

/// A prescribed dose per basis, such as `5 mg/kg`, `375 mg/m2`, `0.4 g/kg`, `50 units/kg`
/// or a flat `200 mg`, optionally per unit of time (`5 mcg/kg/min`, `18 units/kg/h`).
#[derive(Clone, Debug, PartialEq)]
pub struct DosePer {
    pub amount_kind: AmountKind,
    /// The number as written.
    pub value: f64,
    /// The amount unit as written (`mg`, `g`, `units` …).
    pub amount_unit: String,
    pub basis: DoseBasis,
    /// When the dose is a rate: the time unit it is per, and its length in minutes.
    pub per_time: Option<(String, f64)>,
}

impl DosePer {
    pub fn parse(text: &str) -> Result<Self, UnitError> {
        Self::from_quantity(&parse_quantity(text)?)
    }

    pub fn from_quantity(q: &Quantity) -> Result<Self, UnitError> {
        let refuse = || {
            UnitError::Incompatible {
            given: q.unit.spelling(),
            expected: "a dose per kg, per m2 or flat (e.g. '5 mg/kg', '375 mg/m2', '200 mg', '5 mcg/kg/min')"
                .to_string(),
        }
        };
        if q.unit.scale != 1.0 {
            return Err(refuse());
        }
        let [amount] = q.unit.numerator.as_slice() else {
            return Err(refuse());
        };
        let amount_kind = AmountKind::from_kind(amount.kind).ok_or_else(refuse)?;
        let mut basis = DoseBasis::Flat;
        let mut per_time = None;
        for den in &q.unit.denominator {
            match den.kind {
                Kind::Mass if den.symbol == "kg" && basis == DoseBasis::Flat => {
                    basis = DoseBasis::PerKg
                }
                Kind::Area if den.symbol == "m2" && basis == DoseBasis::Flat => {
                    basis = DoseBasis::PerM2
                }
                Kind::Time if per_time.is_none() => {
                    per_time = Some((den.symbol.to_string(), den.factor))
                }
                _ => return Err(refuse()),
            }
        }
        Ok(DosePer {
            amount_kind,
            value: q.value,
            amount_unit: amount.symbol.to_string(),
            basis,
            per_time,
        })
    }

    /// The unit as written, e.g. `mg/kg`, `mcg/kg/min`.
    pub fn unit(&self) -> String {
        let mut u = self.amount_unit.clone();
        match self.basis {
            DoseBasis::Flat => {}
            DoseBasis::PerKg => u.push_str("/kg"),
            DoseBasis::PerM2 => u.push_str("/m2"),
        }
        if let Some((t, _)) = &self.per_time {
            u.push('/');
            u.push_str(t);
        }
        u
    }

    pub fn qty(&self) -> Qty {
        Qty::new(self.value, &self.unit())
    }
}

/// A concentration of drug in a solution: an amount per volume (`4 mg/250 mL`, `1 mg/mL`,
/// `25000 units/250 mL`, `40 mEq/L`).
#[derive(Clone, Debug, PartialEq)]
pub struct Concentration {
    pub amount_kind: AmountKind,
    /// Amount (in `amount_kind`'s canonical unit: mg, units, mEq, mmol) per mL.
    pub per_ml: f64,
}

impl Concentration {
    pub fn parse(text: &str) -> Result<Self, UnitError> {
        Self::from_quantity(&parse_quantity(text)?)
    }

    pub fn from_quantity(q: &Quantity) -> Result<Self, UnitError> {
        let refuse = || UnitError::Incompatible {
            given: q.unit.spelling(),
            expected: "an amount per volume (e.g. '1 mg/mL', '4 mg/250 mL', '25000 units/250 mL')"
                .to_string(),
        };
        let ([amount], [vol]) = (q.unit.numerator.as_slice(), q.unit.denominator.as_slice()) else {
            return Err(refuse());
        };
        if vol.kind != Kind::Volume {
            return Err(refuse());
        }
        let amount_kind = AmountKind::from_kind(amount.kind).ok_or_else(refuse)?;
        if amount_kind == AmountKind::Volume {
            return Err(refuse());
        }
        let per_ml = q.value_in(&format!("{}/mL", amount_kind.unit()))?;
        Ok(Concentration {
            amount_kind,
            per_ml,
        })
    }

    /// Unit of [`Self::per_ml`], e.g. `mg/mL`.
    pub fn unit(&self) -> String {
        format!("{}/mL", self.amount_kind.unit())
    }

    pub fn qty(&self) -> Qty {
        Qty::new(self.per_ml, &self.unit())
    }
}
