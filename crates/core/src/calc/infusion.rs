//! Infusion mathematics: pump rates (mL/h) from a dose rate and a concentration or from a
//! volume over a duration, and gravity drip rates (gtt/min).
//!
//! Findings (stable codes):
//! - `infusion_rate.weight_unused` (info): a weight was given for a rate that is not per kg.
//! - `infusion_rate.above_pump_range` (warning): rate above 999 mL/h, usually a unit slip.
//! - `infusion_rate.below_pump_resolution` (warning): rate below 0.1 mL/h.

use serde_json::Value;

use super::common::{self, POSITIVE, missing, ranged};
use super::sources;
use crate::derivation::{Calculation, Finding, Severity, Step};
use crate::input::{Fields, InputError, as_given, check_range};
use crate::units::{
    AmountKind, BodyWeight, Concentration, DoseBasis, DosePer, DropFactor, DropRate, Duration, Qty,
    Volume, VolumeRate, format_number, parse_unit,
};

const VOLUME_WHAT: &str = "a volume such as '250 mL' or '1 L'";
const DURATION_WHAT: &str = "a duration such as '2 h' or '30 min'";
const DOSE_RATE_WHAT: &str =
    "a dose rate such as '5 mcg/kg/min', '18 units/kg/h', '10 mEq/h', '2 mg/min' or '0.5 mL/kg/h'";
const CONCENTRATION_WHAT: &str =
    "a concentration such as '1600 mcg/mL', '400 mg/250 mL' or '25000 units/250 mL'";
const DROP_FACTOR_WHAT: &str =
    "an administration set's drop factor such as '20 gtt/mL' or '60 gtt/mL'";
const RATE_WHAT: &str = "a pump rate such as '125 mL/h'";

/// Accepted infusion volume: above 0 up to 10,000 mL.
pub const VOLUME_ML_MAX: f64 = 10_000.0;
/// Accepted infusion duration: above 0 up to 168 h (one week).
pub const DURATION_H_MAX: f64 = 168.0;
/// Accepted pump rate: above 0 up to 2,000 mL/h.
pub const RATE_ML_PER_H_MAX: f64 = 2_000.0;
/// Accepted dose-rate number, in its own unit: above 0 up to 1,000,000.
pub const DOSE_RATE_NUMBER_MAX: f64 = 1e6;
/// Accepted concentration, in mg, units, mEq or mmol per mL: 0.000000001 to 1,000,000.
pub const CONCENTRATION_PER_ML_RANGE: (f64, f64) = (1e-9, 1e6);
/// Pump rates above this raise `infusion_rate.above_pump_range` (mL/h).
pub const PUMP_RATE_ML_PER_H_MAX: f64 = 999.0;
/// Pump rates below this raise `infusion_rate.below_pump_resolution` (mL/h).
pub const PUMP_RATE_ML_PER_H_MIN: f64 = 0.1;
/// Accepted drop factors: 5 to 100 gtt/mL (macrodrip sets are 10, 15 or 20; microdrip 60).
pub const DROP_FACTOR_RANGE: (f64, f64) = (5.0, 100.0);

pub(crate) fn opt_volume(f: &mut Fields, key: &str) -> Result<Option<Volume>, InputError> {
    ranged(
        f,
        key,
        VOLUME_WHAT,
        Volume::from_quantity,
        |v| v.value(),
        POSITIVE,
        VOLUME_ML_MAX,
        "mL",
    )
}

pub(crate) fn opt_duration(
    f: &mut Fields,
    key: &str,
    max_h: f64,
) -> Result<Option<Duration>, InputError> {
    ranged(
        f,
        key,
        DURATION_WHAT,
        Duration::from_quantity,
        |d| d.value(),
        POSITIVE,
        max_h,
        "h",
    )
}

/// Pump rate: volume over duration.
pub fn rate_from_volume(volume: Volume, duration: Duration) -> VolumeRate {
    VolumeRate::new(volume.value() / duration.value())
}

/// Why a dose-rate calculation cannot be done with the given kinds of input.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RateError {
    /// A per-kg dose rate was given without a weight.
    #[error("the dose rate is per kg: a weight is required")]
    WeightRequired,
    /// The dose has no time unit (`5 mg/kg`).
    #[error("the dose rate is not per unit of time")]
    NotARate,
    /// Per-m2 rates are not converted here.
    #[error("a per-m2 dose rate needs a body-surface area; convert it to a per-hour dose first")]
    PerM2,
    /// The dose rate and the concentration measure different things (mEq against mg).
    #[error("the dose rate is in {dose} but the concentration is in {concentration}")]
    KindMismatch {
        /// The dose rate's canonical amount unit.
        dose: &'static str,
        /// The concentration's canonical amount unit.
        concentration: &'static str,
    },
}

/// A dose rate made absolute (for a per-kg rate, multiplied by the weight) and expressed per
/// hour in the canonical unit of its kind (mg/h, units/h, mEq/h, mmol/h, mL/h).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AbsoluteDoseRate {
    /// What the amount measures (mass, units, mEq, mmol, volume).
    pub kind: AmountKind,
    /// Amount per hour in the kind's canonical unit ([`AmountKind::unit`]): mg/h, units/h,
    /// mEq/h, mmol/h or mL/h.
    pub amount_per_h: f64,
}

impl AbsoluteDoseRate {
    /// The unit of [`Self::amount_per_h`], e.g. `mg/h`.
    pub fn unit(self) -> String {
        format!("{}/h", self.kind.unit())
    }

    /// The output shape `{"value", "unit"}`.
    pub fn qty(self) -> Qty {
        Qty::new(self.amount_per_h, &self.unit())
    }
}

/// Converts a dose rate (`5 mcg/kg/min`, `10 mEq/h`) to an absolute rate per hour.
pub fn absolute_dose_rate(
    dose_rate: &DosePer,
    weight: Option<BodyWeight>,
) -> Result<AbsoluteDoseRate, RateError> {
    let Some((_, minutes_per_time_unit)) = dose_rate.per_time else {
        return Err(RateError::NotARate);
    };
    // The amount unit came out of the closed parser, so it parses again; a failure would be a
    // programming error, reported as "not a rate" rather than a panic.
    let amount_factor = parse_unit(&dose_rate.amount_unit)
        .map_err(|_| RateError::NotARate)?
        .canonical_factor();
    let amount_per_h_each = dose_rate.value * amount_factor * 60.0 / minutes_per_time_unit;
    let amount_per_h = match dose_rate.basis {
        DoseBasis::Flat => amount_per_h_each,
        DoseBasis::PerKg => amount_per_h_each * weight.ok_or(RateError::WeightRequired)?.value(),
        DoseBasis::PerM2 => return Err(RateError::PerM2),
    };
    Ok(AbsoluteDoseRate {
        kind: dose_rate.amount_kind,
        amount_per_h,
    })
}

/// Pump rate: absolute dose rate ÷ concentration, both in the same kind of amount.
pub fn rate_from_dose(
    dose: AbsoluteDoseRate,
    concentration: &Concentration,
) -> Result<VolumeRate, RateError> {
    if dose.kind != concentration.amount_kind {
        return Err(RateError::KindMismatch {
            dose: dose.kind.unit(),
            concentration: concentration.amount_kind.unit(),
        });
    }
    Ok(VolumeRate::new(dose.amount_per_h / concentration.per_ml))
}

/// Gravity drip rate: mL/h × drop factor ÷ 60 (unrounded).
pub fn drip_rate(rate: VolumeRate, drop_factor: DropFactor) -> DropRate {
    DropRate::new(rate.value() * drop_factor.value() / 60.0)
}

/// Whole drops per minute, rounding half away from zero (12.5 → 13).
pub fn whole_drops(rate: DropRate) -> DropRate {
    DropRate::new(rate.value().round())
}

/// Reads `volume` + `duration` and returns the pump rate with its step, or `None` when neither
/// is given. One without the other is an error.
fn volume_over_duration(
    f: &mut Fields,
    calc: &mut Calculation,
) -> Result<Option<VolumeRate>, InputError> {
    let volume = opt_volume(f, "volume")?;
    let duration = opt_duration(f, "duration", DURATION_H_MAX)?;
    match (volume, duration) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(missing(
            f,
            "duration",
            &format!("{DURATION_WHAT} (with volume)"),
        )),
        (None, Some(_)) => Err(missing(
            f,
            "volume",
            &format!("{VOLUME_WHAT} (with duration)"),
        )),
        (Some(volume), Some(duration)) => {
            let rate = rate_from_volume(volume, duration);
            calc.step(
                Step::new(
                    "Pump rate from volume and duration",
                    "rate = volume ÷ duration",
                    rate.qty(),
                )
                .input("volume", volume.qty())
                .input("duration", duration.qty())
                .rounding("none (pumps are usually programmed to 0.1 mL/h)"),
            );
            Ok(Some(rate))
        }
    }
}

/// `infusio calc infusion-rate`.
pub fn infusion_rate_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let mut calc = Calculation::new("infusion-rate");
    let has_dose_rate = f.has("dose_rate");
    let has_volume = f.has("volume") || f.has("duration");
    if has_dose_rate && has_volume {
        let given = f
            .raw("volume")
            .or_else(|| f.raw("duration"))
            .map(as_given)
            .unwrap_or_default();
        let field = if f.has("volume") {
            "volume"
        } else {
            "duration"
        };
        return Err(InputError::new(
            f.path_of(field),
            given,
            "give either dose_rate + concentration, or volume + duration, not both",
        ));
    }
    let rate = if has_volume {
        volume_over_duration(&mut f, &mut calc)?
            .ok_or_else(|| missing(&f, "volume", VOLUME_WHAT))?
    } else {
        let input = read_dose_rate_input(&mut f)?;
        pump_rate_from_dose_rate(&f, &mut calc, input)?
    };
    calc.source(sources::INFUSION_RATE);
    f.finish()?;
    pump_range_findings(&mut calc, rate);
    calc.output("rate", rate.qty());
    Ok(calc)
}

/// The dose-rate form's inputs: the dose rate, the weight for a per-kg rate and the
/// concentration (checked later: a volume dose rate takes none), with their texts as given.
struct DoseRateInput {
    dose_rate: DosePer,
    /// `dose_rate` as given.
    given: String,
    weight: Option<BodyWeight>,
    concentration: Option<Concentration>,
    concentration_path: String,
    concentration_text: String,
}

/// Reads `dose_rate` (a positive rate, not per m2), `weight` and `concentration`; a per-kg rate
/// requires the weight.
fn read_dose_rate_input(f: &mut Fields) -> Result<DoseRateInput, InputError> {
    let text = f.raw("dose_rate").map(as_given);
    let dose_rate = f
        .opt_quantity("dose_rate", DOSE_RATE_WHAT, DosePer::from_quantity)?
        .ok_or_else(|| {
            missing(
                f,
                "dose_rate",
                &format!("{DOSE_RATE_WHAT} with a concentration, or a volume with a duration"),
            )
        })?;
    let given = text.unwrap_or_default();
    let dose_path = f.path_of("dose_rate");
    if dose_rate.per_time.is_none() {
        return Err(InputError::new(
            dose_path,
            given,
            format!("not a rate (no time unit); expected {DOSE_RATE_WHAT}"),
        ));
    }
    if !(dose_rate.value > 0.0 && dose_rate.value <= DOSE_RATE_NUMBER_MAX) {
        return Err(InputError::new(
            dose_path,
            given,
            "outside the accepted range: above 0 up to 1,000,000 in its unit",
        ));
    }
    if dose_rate.basis == DoseBasis::PerM2 {
        return Err(InputError::new(
            dose_path,
            given,
            "a per-m2 dose rate is not accepted here; multiply by the body-surface area (calc dose) and give the rate per hour or per minute",
        ));
    }
    let weight = common::opt_weight(f, "weight")?;
    let concentration_text = f.raw("concentration").map(as_given).unwrap_or_default();
    let concentration_path = f.path_of("concentration");
    let concentration = f.opt_quantity(
        "concentration",
        CONCENTRATION_WHAT,
        Concentration::from_quantity,
    )?;
    if dose_rate.basis == DoseBasis::PerKg && weight.is_none() {
        return Err(missing(
            f,
            "weight",
            &format!("a body weight such as '70 kg' (the dose rate {given} is per kg)"),
        ));
    }
    Ok(DoseRateInput {
        dose_rate,
        given,
        weight,
        concentration,
        concentration_path,
        concentration_text,
    })
}

/// The dose rate per hour (× weight for a per-kg rate), then the pump rate: the volume rate
/// itself for a dose rate in mL, else ÷ the concentration.
fn pump_rate_from_dose_rate(
    f: &Fields,
    calc: &mut Calculation,
    input: DoseRateInput,
) -> Result<VolumeRate, InputError> {
    let DoseRateInput {
        dose_rate,
        given,
        weight,
        concentration,
        concentration_path,
        concentration_text,
    } = input;
    let per_kg = dose_rate.basis == DoseBasis::PerKg;
    if !per_kg && let Some(w) = weight {
        calc.finding(Finding::new(
            "infusion_rate.weight_unused",
            Severity::Info,
            format!(
                "The dose rate {given} is not per kg, so the weight {} kg was not used. Check that the dose rate was not meant per kg.",
                format_number(w.value(), 2)
            ),
        ));
    }
    let absolute = absolute_dose_rate(&dose_rate, weight)
        .map_err(|e| InputError::new(f.path_of("dose_rate"), given.clone(), e.to_string()))?;
    let mut step = Step::new(
        "Dose rate per hour",
        if per_kg {
            "dose_rate_per_hour = dose_rate × weight × (minutes or hours per hour)"
        } else {
            "dose_rate_per_hour = dose_rate × (minutes or hours per hour)"
        },
        absolute.qty(),
    )
    .input("dose_rate", dose_rate.qty());
    if let (true, Some(w)) = (per_kg, weight) {
        step = step.input("weight", w.qty());
    }
    calc.step(step);
    if dose_rate.amount_kind == AmountKind::Volume {
        if concentration.is_some() {
            return Err(InputError::new(
                concentration_path,
                concentration_text,
                "not used: the dose rate is already a volume rate (mL), so no concentration applies",
            ));
        }
        return Ok(VolumeRate::new(absolute.amount_per_h));
    }
    let concentration =
        concentration.ok_or_else(|| missing(f, "concentration", CONCENTRATION_WHAT))?;
    let unit = concentration.unit();
    check_range(
        &concentration_path,
        &concentration_text,
        concentration.per_ml,
        CONCENTRATION_PER_ML_RANGE.0,
        CONCENTRATION_PER_ML_RANGE.1,
        &unit,
    )?;
    let rate = rate_from_dose(absolute, &concentration)
        .map_err(|e| InputError::new(concentration_path, concentration_text, e.to_string()))?;
    calc.step(
        Step::new(
            "Pump rate",
            "rate = dose_rate_per_hour ÷ concentration",
            rate.qty(),
        )
        .input("dose_rate_per_hour", absolute.qty())
        .input("concentration", concentration.qty())
        .rounding("none (pumps are usually programmed to 0.1 mL/h)"),
    );
    Ok(rate)
}

/// Findings for a pump rate outside what infusion pumps deliver: usually a unit slip (mg for
/// mcg, per minute for per hour) in the dose rate or the concentration.
fn pump_range_findings(calc: &mut Calculation, rate: VolumeRate) {
    if rate.value() > PUMP_RATE_ML_PER_H_MAX {
        calc.finding(Finding::new(
            "infusion_rate.above_pump_range",
            Severity::Warning,
            format!(
                "A rate of {} mL/h is above the 999 mL/h that most infusion pumps deliver: check the units of the dose rate and the concentration.",
                format_number(rate.value(), 1)
            ),
        ));
    } else if rate.value() < PUMP_RATE_ML_PER_H_MIN {
        calc.finding(Finding::new(
            "infusion_rate.below_pump_resolution",
            Severity::Warning,
            format!(
                "A rate of {} mL/h is below 0.1 mL/h, which most infusion pumps cannot programme: check the units, or use a more dilute concentration.",
                format_number(rate.value(), 4)
            ),
        ));
    }
}

/// `infusio calc drip-rate`.
pub fn drip_rate_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let mut calc = Calculation::new("drip-rate");
    let from_volume = volume_over_duration(&mut f, &mut calc)?;
    let given_rate = ranged(
        &mut f,
        "rate",
        RATE_WHAT,
        VolumeRate::from_quantity,
        |r| r.value(),
        POSITIVE,
        RATE_ML_PER_H_MAX,
        "mL/h",
    )?;
    let rate = match (from_volume, given_rate) {
        (Some(_), Some(r)) => {
            return Err(InputError::new(
                f.path_of("rate"),
                format!("{} mL/h", format_number(r.value(), 6)),
                "give either volume + duration, or rate, not both",
            ));
        }
        (Some(r), None) | (None, Some(r)) => r,
        (None, None) => {
            return Err(missing(
                &f,
                "volume",
                &format!("{VOLUME_WHAT} with a duration, or a rate such as '125 mL/h'"),
            ));
        }
    };
    let drop_factor = ranged(
        &mut f,
        "drop_factor",
        DROP_FACTOR_WHAT,
        DropFactor::from_quantity,
        |d| d.value(),
        DROP_FACTOR_RANGE.0,
        DROP_FACTOR_RANGE.1,
        "gtt/mL",
    )?
    .ok_or_else(|| missing(&f, "drop_factor", DROP_FACTOR_WHAT))?;
    f.finish()?;
    let drops = drip_rate(rate, drop_factor);
    calc.step(
        Step::new(
            "Drip rate",
            "drip_rate = rate (mL/h) × drop_factor (gtt/mL) ÷ 60 min/h",
            drops.qty(),
        )
        .input("rate", rate.qty())
        .input("drop_factor", drop_factor.qty())
        .rounding("none"),
    );
    let rounded = whole_drops(drops);
    calc.step(
        Step::new(
            "Drip rate in whole drops",
            "drip_rate_rounded = round(drip_rate)",
            rounded.qty(),
        )
        .input("drip_rate", drops.qty())
        .rounding("to a whole drop, half away from zero"),
    );
    calc.source(sources::DRIP_RATE);
    calc.output("drip_rate", drops.qty());
    calc.output("drip_rate_rounded", rounded.qty());
    calc.output("rate", rate.qty());
    Ok(calc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::BodyWeight;
    use serde_json::json;

    fn out(calc: &Calculation, name: &str) -> f64 {
        calc.outputs.get(name).expect("output").value
    }

    #[test]
    fn per_kg_per_minute_rate() {
        let dose = DosePer::parse("5 mcg/kg/min").expect("parse");
        let abs = absolute_dose_rate(&dose, Some(BodyWeight::new(70.0))).expect("rate");
        assert!((abs.amount_per_h - 21.0).abs() < 1e-12, "{abs:?}");
        let conc = Concentration::parse("400 mg/250 mL").expect("parse");
        let rate = rate_from_dose(abs, &conc).expect("rate");
        assert!((rate.value() - 13.125).abs() < 1e-12);
    }

    #[test]
    fn per_kg_rate_without_weight_is_refused() {
        let e = infusion_rate_json(
            &json!({"dose_rate": "5 mcg/kg/min", "concentration": "1600 mcg/mL"}),
        )
        .expect_err("refused");
        assert_eq!(e.field, "weight");
    }

    #[test]
    fn mismatched_amount_kinds_are_refused() {
        let e = infusion_rate_json(&json!({"dose_rate": "10 mEq/h", "concentration": "1 mg/mL"}))
            .expect_err("refused");
        assert_eq!(e.field, "concentration");
    }

    #[test]
    fn dose_rate_without_time_is_refused() {
        let e = infusion_rate_json(
            &json!({"dose_rate": "5 mg/kg", "weight": "70 kg", "concentration": "1 mg/mL"}),
        )
        .expect_err("refused");
        assert_eq!(e.field, "dose_rate");
    }

    #[test]
    fn both_modes_are_refused() {
        let e = infusion_rate_json(&json!({"dose_rate": "10 mEq/h", "concentration": "20 mEq/100 mL", "volume": "100 mL", "duration": "1 h"}))
            .expect_err("refused");
        assert_eq!(e.field, "volume");
    }

    #[test]
    fn flat_rate_with_weight_says_weight_unused() {
        let c = infusion_rate_json(
            &json!({"dose_rate": "10 mEq/h", "concentration": "20 mEq/100 mL", "weight": "70 kg"}),
        )
        .expect("ok");
        assert!((out(&c, "rate") - 50.0).abs() < 1e-12);
        assert!(
            c.findings
                .iter()
                .any(|f| f.code == "infusion_rate.weight_unused")
        );
    }

    #[test]
    fn whole_drops_round_half_away_from_zero() {
        assert_eq!(whole_drops(DropRate::new(12.5)).value(), 13.0);
        assert_eq!(whole_drops(DropRate::new(12.4999)).value(), 12.0);
        assert_eq!(whole_drops(DropRate::new(16.6667)).value(), 17.0);
        // 75 mL/h with a 10 gtt/mL set is exactly 12.5 gtt/min.
        let c =
            drip_rate_json(&json!({"rate": "75 mL/h", "drop_factor": "10 gtt/mL"})).expect("ok");
        assert_eq!(out(&c, "drip_rate"), 12.5);
        assert_eq!(out(&c, "drip_rate_rounded"), 13.0);
    }

    #[test]
    fn pump_rate_is_monotone_in_weight_and_dose() {
        let conc = Concentration::parse("4 mg/250 mL").expect("parse");
        let dose = DosePer::parse("0.1 mcg/kg/min").expect("parse");
        let mut last = 0.0;
        for kg in 1..300 {
            let r = rate_from_dose(
                absolute_dose_rate(&dose, Some(BodyWeight::new(kg as f64))).expect("rate"),
                &conc,
            )
            .expect("rate")
            .value();
            assert!(r > last);
            last = r;
        }
    }

    #[test]
    fn drip_rate_needs_a_drop_factor_in_range() {
        let e = drip_rate_json(&json!({"rate": "125 mL/h", "drop_factor": "2 gtt/mL"}))
            .expect_err("refused");
        assert_eq!(e.field, "drop_factor");
        let e = drip_rate_json(&json!({"rate": "125 mL/h"})).expect_err("refused");
        assert_eq!(e.field, "drop_factor");
        let e = drip_rate_json(&json!({"volume": "1000 mL", "drop_factor": "20 gtt/mL"}))
            .expect_err("refused");
        assert_eq!(e.field, "duration");
    }

    /// Valid inputs for each therapy-class calculator, as (calculator, input).
    fn bases() -> Vec<(&'static str, Value)> {
        vec![
            (
                "infusion-rate",
                json!({"dose_rate": "5 mcg/kg/min", "weight": "70 kg", "concentration": "400 mg/250 mL"}),
            ),
            (
                "infusion-rate",
                json!({"volume": "1000 mL", "duration": "8 h"}),
            ),
            (
                "drip-rate",
                json!({"volume": "1000 mL", "duration": "8 h", "drop_factor": "20 gtt/mL"}),
            ),
            (
                "vancomycin-levels",
                json!({"dose": "1000 mg", "interval": "12 h", "infusion_duration": "1 h",
                "level_1": {"concentration": "30 mg/L", "time_after_start": "2 h"},
                "level_2": {"concentration": "12 mg/L", "time_after_start": "11.5 h"}, "target_auc24": "500 mg.h/L"}),
            ),
            (
                "maintenance-fluids",
                json!({"weight": "30 kg", "max_rate": "100 mL/h"}),
            ),
            (
                "fluid-deficit",
                json!({"weight": "10 kg", "dehydration_percent": 5}),
            ),
            (
                "sodium-deficit",
                json!({"weight": "70 kg", "sex": "female", "age": "45 y", "sodium": "120 mEq/L", "target_sodium": "126 mEq/L"}),
            ),
            (
                "free-water-deficit",
                json!({"weight": "70 kg", "sex": "male", "age": "45 y", "sodium": "160 mEq/L"}),
            ),
            (
                "parenteral-nutrition",
                json!({"weight": "70 kg", "volume": "2400 mL", "dextrose": "600 g", "amino_acids": "102 g",
                "lipid": "72 g", "cations": "140 mEq", "infusion_duration": "24 h", "line": "peripheral"}),
            ),
            (
                "iron-deficit",
                json!({"weight": "70 kg", "hemoglobin": "8 g/dL", "target_hemoglobin": "12 g/dL", "iron_stores": "500 mg"}),
            ),
            (
                "factor-dose",
                json!({"factor": "ix", "product": "benefix", "age": "30 y", "weight": "70 kg", "desired_rise": "60 %"}),
            ),
            (
                "ivig",
                json!({"dose_per": "2 g/kg", "weight": "100 kg", "height": "175 cm", "sex": "male", "weight_basis": "adjusted"}),
            ),
        ]
    }

    #[test]
    fn every_base_input_is_valid() {
        for (name, input) in bases() {
            let c = crate::calc::run(name, &input).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!c.steps.is_empty() && !c.sources.is_empty(), "{name}");
        }
    }

    #[test]
    fn extreme_numbers_found_by_the_property_test_are_refused() {
        for (name, input, field) in [
            (
                "infusion-rate",
                json!({"dose_rate": "5 mcg/kg/min", "weight": "70 kg", "concentration": "1e-320 mg/mL"}),
                "concentration",
            ),
            (
                "infusion-rate",
                json!({"dose_rate": "1e300 mg/min", "concentration": "1e-300 mg/mL"}),
                "dose_rate",
            ),
            (
                "vancomycin-levels",
                json!({"dose": "1000 mg", "interval": "12 h", "infusion_duration": "1e-300 h",
                "level_1": {"concentration": "30 mg/L", "time_after_start": "1 h"},
                "level_2": {"concentration": "29.9999 mg/L", "time_after_start": "1.0000000000001 h"}}),
                "infusion_duration",
            ),
            (
                "vancomycin-levels",
                json!({"dose": "1000 mg", "interval": "168 h", "infusion_duration": "1 h",
                "level_1": {"concentration": "200 mg/L", "time_after_start": "150 h"},
                "level_2": {"concentration": "0.1 mg/L", "time_after_start": "150.25 h"}}),
                "level_2.concentration",
            ),
        ] {
            let e = crate::calc::run(name, &input).expect_err("refused");
            assert_eq!(e.field, field, "{name}: {e}");
        }
        let c = infusion_rate_json(
            &json!({"dose_rate": "5 mg/kg/min", "weight": "70 kg", "concentration": "1600 mcg/mL"}),
        )
        .expect("a mg-for-mcg slip still gives a result");
        assert!(
            c.findings
                .iter()
                .any(|f| f.code == "infusion_rate.above_pump_range")
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Replacing any one field with an extreme number in its own unit (or another unit, a
        /// bare number, or nothing) never panics, and any result has finite outputs.
        #[test]
        fn extreme_numbers_never_panic_and_results_are_finite(
            which in 0usize..12,
            field_idx in 0usize..16,
            number in proptest::prop_oneof![
                proptest::prelude::Just(0.0f64), proptest::prelude::Just(-1.0), proptest::prelude::Just(1e-320),
                proptest::prelude::Just(1e-300), proptest::prelude::Just(1e300), proptest::prelude::Just(f64::MAX),
                -1e6f64..1e6,
            ],
            unit in proptest::sample::select(vec!["", "kg", "mg", "g", "mL", "h", "min", "mg/L", "mEq/L", "g/dL", "g/L",
                "mcg/kg/min", "units/kg/h", "mg/mL", "gtt/mL", "mL/h", "%", "IU/dL", "g/kg", "mg/kg", "y", "kcal/g",
                "mOsm/L", "mg.h/L", "U", "g/day", "mEq"]),
            mode in 0u8..5,
        ) {
            let cases = bases();
            let (name, mut input) = cases[which % cases.len()].clone();
            let keys: Vec<String> = input.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
            let key = keys[field_idx % keys.len()].clone();
            let text = format!("{number} {unit}");
            let own_unit = input[&key]
                .as_str()
                .and_then(|v| v.split_once(' '))
                .map(|(_, u)| u.to_string())
                .unwrap_or_default();
            match mode {
                0 => input[&key] = json!(text),
                4 => input[&key] = json!(format!("{number} {own_unit}")),
                1 => input[&key] = json!(number.to_string()),
                2 => input[&key] = json!(number),
                _ => {
                    if let Some(o) = input.as_object_mut() {
                        o.remove(&key);
                    }
                }
            }
            if let Ok(c) = crate::calc::run(name, &input) {
                for (out, q) in &c.outputs.0 {
                    proptest::prop_assert!(q.value.is_finite(), "{name}.{out} = {} for {input}", q.value);
                }
            }
        }
    }
}
