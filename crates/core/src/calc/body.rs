//! Body size: body-surface area, body-mass index, ideal, adjusted and lean body weight, and
//! the choice of dosing weight.

use serde_json::Value;

use super::common::{self, Sex};
use super::sources;
use crate::derivation::{Calculation, Finding, Severity, Step};
use crate::input::{Fields, InputError};
use crate::units::{Area, Bmi, BodyWeight, Length, Qty, format_number};

/// Inches per centimetre as used by Devine: 1 in = 2.54 cm exactly.
const CM_PER_INCH: f64 = 2.54;

/// Body-surface-area formulas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BsaMethod {
    Mosteller,
    DuBois,
    Haycock,
    GehanGeorge,
    Boyd,
}

impl BsaMethod {
    pub const NAMES: [&'static str; 5] = ["mosteller", "dubois", "haycock", "gehan-george", "boyd"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "mosteller" => BsaMethod::Mosteller,
            "dubois" => BsaMethod::DuBois,
            "haycock" => BsaMethod::Haycock,
            "gehan-george" => BsaMethod::GehanGeorge,
            "boyd" => BsaMethod::Boyd,
            _ => return None,
        })
    }

    pub fn formula(self) -> &'static str {
        match self {
            BsaMethod::Mosteller => "BSA = sqrt(height_cm × weight_kg / 3600)",
            BsaMethod::DuBois => "BSA = 0.007184 × height_cm^0.725 × weight_kg^0.425",
            BsaMethod::Haycock => "BSA = 0.024265 × height_cm^0.3964 × weight_kg^0.5378",
            BsaMethod::GehanGeorge => "BSA = 0.0235 × height_cm^0.42246 × weight_kg^0.51456",
            BsaMethod::Boyd => {
                "BSA = 0.0003207 × height_cm^0.3 × weight_g^(0.7285 − 0.0188 × log10(weight_g))"
            }
        }
    }

    fn source(self) -> crate::derivation::Source {
        match self {
            BsaMethod::Mosteller => sources::MOSTELLER,
            BsaMethod::DuBois => sources::DUBOIS,
            BsaMethod::Haycock => sources::HAYCOCK,
            BsaMethod::GehanGeorge => sources::GEHAN_GEORGE,
            BsaMethod::Boyd => sources::BOYD,
        }
    }
}

/// Body-surface area by `method`. Inputs are never rounded first (a weight converted from
/// pounds keeps full precision).
pub fn bsa(method: BsaMethod, weight: BodyWeight, height: Length) -> Area {
    let w = weight.value();
    let h = height.value();
    Area::new(match method {
        BsaMethod::Mosteller => (h * w / 3600.0).sqrt(),
        BsaMethod::DuBois => 0.007184 * h.powf(0.725) * w.powf(0.425),
        BsaMethod::Haycock => 0.024265 * h.powf(0.3964) * w.powf(0.5378),
        BsaMethod::GehanGeorge => 0.0235 * h.powf(0.42246) * w.powf(0.51456),
        BsaMethod::Boyd => {
            let grams = w * 1000.0;
            0.0003207 * h.powf(0.3) * grams.powf(0.7285 - 0.0188 * grams.log10())
        }
    })
}

/// Body-mass index: weight / height².
pub fn bmi(weight: BodyWeight, height: Length) -> Bmi {
    let m = height.value() / 100.0;
    Bmi::new(weight.value() / (m * m))
}

/// Ideal body weight by Devine: 50 kg (men) or 45.5 kg (women) + 2.3 kg per inch over 60 in.
/// Below 60 in the formula is still applied; [`devine_range_finding`] says so.
pub fn ideal_body_weight(sex: Sex, height: Length) -> BodyWeight {
    let inches = height.value() / CM_PER_INCH;
    let base = match sex {
        Sex::Male => 50.0,
        Sex::Female => 45.5,
    };
    BodyWeight::new(base + 2.3 * (inches - 60.0))
}

/// A warning when Devine is applied below its valid range (60 in, 152.4 cm).
pub fn devine_range_finding(height: Length) -> Option<Finding> {
    (height.value() < 60.0 * CM_PER_INCH).then(|| {
        Finding::new(
            "body_weight.ideal_outside_range",
            Severity::Warning,
            format!(
                "Height {} cm is below 152.4 cm (60 in), where the Devine ideal-body-weight formula is not validated; the formula was applied anyway. Consider actual weight.",
                format_number(height.value(), 1)
            ),
        )
    })
}

/// The derivation step of a Devine ideal body weight.
fn ideal_weight_step(sex: Sex, height: Length, ibw: BodyWeight) -> Step {
    Step::new(
        "Ideal body weight (Devine)",
        format!(
            "IBW = {} + 2.3 × (height_in − 60)",
            if sex == Sex::Male { "50" } else { "45.5" }
        ),
        ibw.qty(),
    )
    .input("height", Qty::new(height.value() / CM_PER_INCH, "in"))
}

/// Adjusted body weight: IBW + 0.4 × (TBW − IBW).
pub fn adjusted_body_weight(ideal: BodyWeight, actual: BodyWeight) -> BodyWeight {
    BodyWeight::new(ideal.value() + 0.4 * (actual.value() - ideal.value()))
}

/// Lean body weight by Janmahasatian (2005).
pub fn lean_body_weight(sex: Sex, weight: BodyWeight, height: Length) -> BodyWeight {
    let b = bmi(weight, height).value();
    let w = weight.value();
    BodyWeight::new(match sex {
        Sex::Male => 9270.0 * w / (6680.0 + 216.0 * b),
        Sex::Female => 9270.0 * w / (8780.0 + 244.0 * b),
    })
}

/// Which weight a dose or clearance is computed on. Default [`WeightBasis::Actual`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightBasis {
    /// Total (actual) body weight.
    Actual,
    /// Devine ideal body weight.
    Ideal,
    /// IBW + 0.4 × (TBW − IBW); TBW when TBW ≤ IBW.
    Adjusted,
    /// Janmahasatian lean body weight.
    Lean,
    /// BMI < 18.5 → actual; 18.5 ≤ BMI < 25 → lower of ideal and actual; BMI ≥ 25 → adjusted.
    Auto,
}

impl WeightBasis {
    pub const NAMES: [&'static str; 5] = ["actual", "ideal", "adjusted", "lean", "auto"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "actual" => WeightBasis::Actual,
            "ideal" => WeightBasis::Ideal,
            "adjusted" => WeightBasis::Adjusted,
            "lean" => WeightBasis::Lean,
            "auto" => WeightBasis::Auto,
            _ => return None,
        })
    }

    pub fn needs_height_and_sex(self) -> bool {
        self != WeightBasis::Actual
    }
}

/// Chooses the dosing weight by `basis`, recording each step in `calc`. `height` and `sex`
/// must be present for every basis but `Actual` (the JSON readers enforce it).
pub fn dosing_weight(
    calc: &mut Calculation,
    basis: WeightBasis,
    weight: BodyWeight,
    height: Option<Length>,
    sex: Option<Sex>,
) -> BodyWeight {
    let (Some(height), Some(sex)) = (height, sex) else {
        debug_assert_eq!(
            basis,
            WeightBasis::Actual,
            "height and sex are required for {basis:?}"
        );
        return actual_weight(calc, weight);
    };
    let patient = MeasuredPatient {
        weight,
        height,
        sex,
        ideal: ideal_body_weight(sex, height),
    };
    match basis {
        WeightBasis::Actual => actual_weight(calc, weight),
        WeightBasis::Ideal => {
            patient.ideal_weight_steps(calc);
            patient.ideal
        }
        WeightBasis::Adjusted => patient.adjusted_weight(calc),
        WeightBasis::Lean => patient.lean_weight(calc),
        WeightBasis::Auto => patient.auto_weight(calc),
    }
}

/// The actual body weight as the dosing weight, with its step.
fn actual_weight(calc: &mut Calculation, weight: BodyWeight) -> BodyWeight {
    calc.step(
        Step::new(
            "Dosing weight: actual body weight",
            "weight_used = actual weight",
            weight.qty(),
        )
        .input("weight", weight.qty()),
    );
    weight
}

/// A patient with the measures every weight basis but `Actual` needs, and the Devine ideal
/// body weight that follows from them.
struct MeasuredPatient {
    weight: BodyWeight,
    height: Length,
    sex: Sex,
    ideal: BodyWeight,
}

impl MeasuredPatient {
    /// The ideal body weight's source, its out-of-range finding and its step.
    fn ideal_weight_steps(&self, calc: &mut Calculation) {
        calc.source(sources::DEVINE);
        if let Some(f) = devine_range_finding(self.height) {
            calc.finding(f);
        }
        calc.step(ideal_weight_step(self.sex, self.height, self.ideal));
    }

    /// Adjusted body weight, or the actual weight when it is at or below ideal.
    fn adjusted_weight(&self, calc: &mut Calculation) -> BodyWeight {
        let (weight, ibw) = (self.weight, self.ideal);
        self.ideal_weight_steps(calc);
        calc.source(sources::ADJUSTED_WEIGHT);
        if weight.value() <= ibw.value() {
            calc.step(
                Step::new(
                    "Adjusted body weight: actual weight is at or below ideal, so actual weight is used",
                    "weight_used = TBW when TBW ≤ IBW",
                    weight.qty(),
                )
                .input("weight", weight.qty())
                .input("ideal_body_weight", ibw.qty()),
            );
            weight
        } else {
            let adj = adjusted_body_weight(ibw, weight);
            calc.step(
                Step::new(
                    "Adjusted body weight",
                    "AdjBW = IBW + 0.4 × (TBW − IBW)",
                    adj.qty(),
                )
                .input("weight", weight.qty())
                .input("ideal_body_weight", ibw.qty()),
            );
            adj
        }
    }

    /// Janmahasatian lean body weight.
    fn lean_weight(&self, calc: &mut Calculation) -> BodyWeight {
        let (weight, height) = (self.weight, self.height);
        calc.source(sources::JANMAHASATIAN);
        let lbw = lean_body_weight(self.sex, weight, height);
        calc.step(
            Step::new(
                "Lean body weight (Janmahasatian)",
                match self.sex {
                    Sex::Male => "LBW = 9270 × W / (6680 + 216 × BMI)",
                    Sex::Female => "LBW = 9270 × W / (8780 + 244 × BMI)",
                },
                lbw.qty(),
            )
            .input("weight", weight.qty())
            .input("bmi", bmi(weight, height).qty()),
        );
        lbw
    }

    /// By BMI: actual below 18.5, the lower of ideal and actual below 25, else adjusted.
    fn auto_weight(&self, calc: &mut Calculation) -> BodyWeight {
        let (weight, ibw) = (self.weight, self.ideal);
        let b = bmi(weight, self.height);
        calc.step(
            Step::new(
                "Body-mass index for the automatic weight choice",
                "BMI = weight_kg / height_m²",
                b.qty(),
            )
            .input("weight", weight.qty())
            .input("height", self.height.qty()),
        );
        if b.value() < 18.5 {
            calc.step(Step::new(
                "BMI < 18.5: actual body weight",
                "weight_used = actual weight",
                weight.qty(),
            ));
            weight
        } else if b.value() < 25.0 {
            self.ideal_weight_steps(calc);
            let used = if ibw.value() < weight.value() {
                ibw
            } else {
                weight
            };
            calc.step(Step::new(
                "18.5 ≤ BMI < 25: the lower of ideal and actual weight",
                "weight_used = min(IBW, TBW)",
                used.qty(),
            ));
            used
        } else {
            self.adjusted_weight(calc)
        }
    }
}

/// Reads `weight_basis` and enforces that `height` and `sex` exist when the basis needs them.
pub(crate) fn read_weight_basis(
    f: &mut Fields,
    height: Option<Length>,
    sex: Option<Sex>,
    default: WeightBasis,
) -> Result<WeightBasis, InputError> {
    let basis = match f.opt_choice("weight_basis", &WeightBasis::NAMES)? {
        Some(name) => WeightBasis::from_name(&name).unwrap_or(default),
        None => default,
    };
    if basis.needs_height_and_sex() {
        let name = WeightBasis::NAMES
            .iter()
            .zip([
                WeightBasis::Actual,
                WeightBasis::Ideal,
                WeightBasis::Adjusted,
                WeightBasis::Lean,
                WeightBasis::Auto,
            ])
            .find(|(_, b)| *b == basis)
            .map(|(n, _)| *n)
            .unwrap_or("?");
        if height.is_none() {
            return Err(InputError::new(
                f.path_of("height"),
                "",
                format!("required when weight_basis is '{name}'"),
            ));
        }
        if sex.is_none() {
            return Err(InputError::new(
                f.path_of("sex"),
                "",
                format!("required when weight_basis is '{name}' (male or female)"),
            ));
        }
    }
    Ok(basis)
}

fn bsa_plausibility(calc: &mut Calculation, area: Area) {
    if !(0.1..=3.5).contains(&area.value()) {
        calc.finding(Finding::new(
            "bsa.implausible",
            Severity::Warning,
            format!(
                "BSA {} m2 is outside 0.1 to 3.5 m2: check the weight and height units.",
                format_number(area.value(), 2)
            ),
        ));
    }
}

/// `infusio calc bsa`.
pub fn bsa_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let weight = common::weight(&mut f, "weight")?;
    let height = common::height(&mut f, "height")?;
    let method = f
        .opt_choice("method", &BsaMethod::NAMES)?
        .and_then(|n| BsaMethod::from_name(&n))
        .unwrap_or(BsaMethod::Mosteller);
    f.finish()?;
    let mut calc = Calculation::new("bsa");
    let area = bsa(method, weight, height);
    calc.step(
        Step::new("Body-surface area", method.formula(), area.qty())
            .input("weight", weight.qty())
            .input("height", height.qty())
            .rounding("none (display to 2 decimals)"),
    );
    calc.source(method.source());
    bsa_plausibility(&mut calc, area);
    calc.output("bsa", area.qty());
    Ok(calc)
}

/// `infusio calc bmi`.
pub fn bmi_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let weight = common::weight(&mut f, "weight")?;
    let height = common::height(&mut f, "height")?;
    f.finish()?;
    let mut calc = Calculation::new("bmi");
    let b = bmi(weight, height);
    calc.step(
        Step::new(
            "Body-mass index",
            "BMI = weight_kg / (height_cm / 100)²",
            b.qty(),
        )
        .input("weight", weight.qty())
        .input("height", height.qty()),
    );
    calc.source(crate::derivation::Source {
        id: "who-bmi",
        citation: "World Health Organization. Obesity: preventing and managing the global epidemic. WHO Technical Report Series 894, 2000 (BMI = kg/m2)",
    });
    calc.output("bmi", b.qty());
    Ok(calc)
}

/// `infusio calc body-weight`.
pub fn body_weight_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let weight = common::weight(&mut f, "weight")?;
    let height = common::height(&mut f, "height")?;
    let sex = common::sex(&mut f, "sex")?;
    f.finish()?;
    let mut calc = Calculation::new("body-weight");
    let ibw = ideal_body_weight(sex, height);
    calc.step(ideal_weight_step(sex, height, ibw));
    if let Some(finding) = devine_range_finding(height) {
        calc.finding(finding);
    }
    let adj = adjusted_body_weight(ibw, weight);
    calc.step(
        Step::new(
            "Adjusted body weight",
            "AdjBW = IBW + 0.4 × (TBW − IBW)",
            adj.qty(),
        )
        .input("weight", weight.qty())
        .input("ideal_body_weight", ibw.qty()),
    );
    if weight.value() <= ibw.value() {
        calc.finding(Finding::new(
            "body_weight.adjusted_not_applicable",
            Severity::Info,
            "Actual weight is at or below ideal weight: adjusted body weight is not meaningful, and the weight_basis 'adjusted' uses actual weight.",
        ));
    }
    let b = bmi(weight, height);
    let lbw = lean_body_weight(sex, weight, height);
    calc.step(
        Step::new(
            "Lean body weight (Janmahasatian)",
            match sex {
                Sex::Male => "LBW = 9270 × W / (6680 + 216 × BMI)",
                Sex::Female => "LBW = 9270 × W / (8780 + 244 × BMI)",
            },
            lbw.qty(),
        )
        .input("weight", weight.qty())
        .input("bmi", b.qty()),
    );
    calc.source(sources::DEVINE);
    calc.source(sources::ADJUSTED_WEIGHT);
    calc.source(sources::JANMAHASATIAN);
    calc.output("ideal_body_weight", ibw.qty());
    calc.output("adjusted_body_weight", adj.qty());
    calc.output("lean_body_weight", lbw.qty());
    calc.output("bmi", b.qty());
    Ok(calc)
}
