//! Fluids and electrolytes: Holliday–Segar maintenance (4-2-1 hourly, 100/50/20 daily),
//! dehydration deficit, sodium deficit and free-water deficit with the total-body-water
//! fraction convention of the CLI contract and correction-limit findings.
//!
//! Findings (stable codes):
//! - `fluids.adult_guidance` (warning): weight 40 kg or more, adult 25–30 mL/kg/day applies.
//! - `fluids.maintenance_capped` (info): `max_rate` lowered the rate and daily volume.
//! - `fluids.severe_dehydration` (warning): dehydration 10% or more.
//! - `sodium.correction_above_limit` (warning): target − sodium above 8 mEq/L.
//! - `free_water.correction_above_limit` (warning): sodium − target above 10 mEq/L;
//!   otherwise `free_water.correction_limit` (info) states the 10 mEq/L in 24 h limit.

use serde_json::Value;

use super::common::{self, Sex};
use super::common::{POSITIVE, missing, ranged};
use super::sources;
use crate::derivation::{Calculation, Finding, Severity, Step};
use crate::input::{Fields, InputError, check_range};
use crate::units::{
    Age, BodyWeight, Equivalents, Litres, MonovalentConcentration, Qty, Volume, VolumeRate,
    format_number,
};

/// Weight from which adult maintenance guidance (25–30 mL/kg/day) applies rather than
/// Holliday–Segar.
pub const ADULT_WEIGHT_KG: f64 = 40.0;
/// Adult routine maintenance water, mL/kg/day (NICE CG174).
pub const ADULT_ML_PER_KG_DAY: (f64, f64) = (25.0, 30.0);
/// Largest correction of a low sodium in 24 h in patients at high risk of osmotic
/// demyelination (mEq/L).
pub const HYPONATRAEMIA_CORRECTION_LIMIT_MEQ_PER_L_24H: f64 = 8.0;
/// Largest fall of a high sodium in 24 h (mEq/L).
pub const HYPERNATRAEMIA_CORRECTION_LIMIT_MEQ_PER_L_24H: f64 = 10.0;
/// Default target sodium of the free-water deficit (mEq/L).
pub const FREE_WATER_TARGET_SODIUM_MEQ_PER_L: f64 = 140.0;
/// Accepted serum sodium: 80 to 200 mEq/L.
pub const SODIUM_RANGE_MEQ_PER_L: (f64, f64) = (80.0, 200.0);
/// Accepted target sodium: 85 to 160 mEq/L (a step target in severe hyponatraemia may be low).
pub const TARGET_SODIUM_RANGE_MEQ_PER_L: (f64, f64) = (85.0, 160.0);
/// Accepted dehydration: above 0 up to 20 %.
pub const DEHYDRATION_PERCENT_MAX: f64 = 20.0;
/// Dehydration from which the deficit is severe (%).
pub const SEVERE_DEHYDRATION_PERCENT: f64 = 10.0;

/// Holliday–Segar hourly rate, 4-2-1: 4 mL/kg/h for the first 10 kg, 2 mL/kg/h for the next
/// 10 kg, 1 mL/kg/h for each kg above 20.
pub fn maintenance_rate(weight: BodyWeight) -> VolumeRate {
    let w = weight.value();
    VolumeRate::new(
        4.0 * w.min(10.0) + 2.0 * (w - 10.0).clamp(0.0, 10.0) + 1.0 * (w - 20.0).max(0.0),
    )
}

/// Holliday–Segar daily volume, 100/50/20: 100 mL/kg for the first 10 kg, 50 mL/kg for the
/// next 10 kg, 20 mL/kg for each kg above 20. Above 20 kg this is not 24 × the 4-2-1 rate
/// (30 kg: 1,700 mL/day against 1,680).
pub fn maintenance_daily_volume(weight: BodyWeight) -> Volume {
    let w = weight.value();
    Volume::new(
        100.0 * w.min(10.0) + 50.0 * (w - 10.0).clamp(0.0, 10.0) + 20.0 * (w - 20.0).max(0.0),
    )
}

/// Dehydration deficit: percent × weight (kg) × 10 mL.
pub fn fluid_deficit(weight: BodyWeight, dehydration_percent: f64) -> Volume {
    Volume::new(dehydration_percent * weight.value() * 10.0)
}

/// Total-body-water fraction by the contract's convention: age < 18 → 0.6; 18 to under 65:
/// men 0.6, women 0.5; 65 and over: men 0.5, women 0.45.
pub fn total_body_water_fraction(sex: Sex, age: Age) -> f64 {
    let years = age.value();
    match (years < 18.0, years < 65.0, sex) {
        (true, _, _) => 0.6,
        (false, true, Sex::Male) => 0.6,
        (false, true, Sex::Female) => 0.5,
        (false, false, Sex::Male) => 0.5,
        (false, false, Sex::Female) => 0.45,
    }
}

/// Total body water: weight × fraction (kg of water ≈ L).
pub fn total_body_water(weight: BodyWeight, sex: Sex, age: Age) -> Litres {
    Litres::new(weight.value() * total_body_water_fraction(sex, age))
}

/// Sodium deficit: TBW × (target − sodium).
pub fn sodium_deficit(
    tbw: Litres,
    sodium: MonovalentConcentration,
    target: MonovalentConcentration,
) -> Equivalents {
    Equivalents::new(tbw.value() * (target.value() - sodium.value()))
}

/// Free-water deficit: TBW × (sodium / target − 1).
pub fn free_water_deficit(
    tbw: Litres,
    sodium: MonovalentConcentration,
    target: MonovalentConcentration,
) -> Litres {
    Litres::new(tbw.value() * (sodium.value() / target.value() - 1.0))
}

/// Reads an optional sodium (mEq/L or mmol/L) within `range`.
fn opt_sodium(
    f: &mut Fields,
    key: &str,
    range: (f64, f64),
) -> Result<Option<MonovalentConcentration>, InputError> {
    ranged(
        f,
        key,
        "a sodium concentration such as '120 mEq/L' or '120 mmol/L'",
        MonovalentConcentration::from_quantity,
        |c| c.value(),
        range.0,
        range.1,
        "mEq/L",
    )
}

fn sodium(
    f: &mut Fields,
    key: &str,
    range: (f64, f64),
) -> Result<MonovalentConcentration, InputError> {
    opt_sodium(f, key, range)?
        .ok_or_else(|| missing(f, key, "a sodium concentration such as '120 mEq/L'"))
}

fn tbw_step(calc: &mut Calculation, weight: BodyWeight, sex: Sex, age: Age) -> Litres {
    let fraction = total_body_water_fraction(sex, age);
    let tbw = total_body_water(weight, sex, age);
    calc.step(
        Step::new(
            "Total body water",
            "TBW = weight × fraction (under 18 y: 0.6; 18 to 64 y: men 0.6, women 0.5; 65 y and over: men 0.5, women 0.45)",
            tbw.qty(),
        )
        .input("weight", weight.qty())
        .input("age", age.qty())
        .input("fraction", Qty::new(fraction, "L/kg")),
    );
    calc.source(sources::TOTAL_BODY_WATER);
    tbw
}

/// `infusio calc maintenance-fluids`.
pub fn maintenance_fluids_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let weight = common::weight(&mut f, "weight")?;
    let max_rate = ranged(
        &mut f,
        "max_rate",
        "a maximum pump rate such as '100 mL/h'",
        VolumeRate::from_quantity,
        |r| r.value(),
        POSITIVE,
        1_000.0,
        "mL/h",
    )?;
    f.finish()?;
    let mut calc = Calculation::new("maintenance-fluids");
    let rate = maintenance_rate(weight);
    calc.step(
        Step::new(
            "Hourly maintenance rate (4-2-1)",
            "rate = 4 mL/kg/h × first 10 kg + 2 mL/kg/h × next 10 kg + 1 mL/kg/h × each kg above 20",
            rate.qty(),
        )
        .input("weight", weight.qty())
        .rounding("none (display to 0.1 mL/h)"),
    );
    let daily = maintenance_daily_volume(weight);
    calc.step(
        Step::new(
            "Daily maintenance volume (100/50/20)",
            "daily_volume = 100 mL/kg × first 10 kg + 50 mL/kg × next 10 kg + 20 mL/kg × each kg above 20",
            Qty::new(daily.value(), "mL/day"),
        )
        .input("weight", weight.qty()),
    );
    calc.source(sources::HOLLIDAY_SEGAR);
    let (mut rate_out, mut daily_out) = (rate.value(), daily.value());
    if let Some(max) = max_rate {
        let daily_max = max.value() * 24.0;
        if rate.value() > max.value() || daily.value() > daily_max {
            rate_out = rate.value().min(max.value());
            daily_out = daily.value().min(daily_max);
            calc.step(
                Step::new(
                    "Maximum rate applied",
                    "rate = min(rate, max_rate); daily_volume = min(daily_volume, max_rate × 24 h)",
                    Qty::new(rate_out, VolumeRate::UNIT),
                )
                .input("max_rate", max.qty())
                .input("daily_volume", Qty::new(daily_out, "mL/day")),
            );
            calc.finding(Finding::new(
                "fluids.maintenance_capped",
                Severity::Info,
                format!(
                    "The maintenance rate was capped at the maximum of {} mL/h ({} mL/day); uncapped: {} mL/h, {} mL/day.",
                    format_number(max.value(), 1),
                    format_number(daily_max, 0),
                    format_number(rate.value(), 1),
                    format_number(daily.value(), 0)
                ),
            ));
        }
    }
    if weight.value() >= ADULT_WEIGHT_KG {
        let (lo, hi) = ADULT_ML_PER_KG_DAY;
        calc.source(sources::NICE_ADULT_FLUIDS);
        calc.finding(Finding::new(
            "fluids.adult_guidance",
            Severity::Warning,
            format!(
                "Weight {} kg is 40 kg or more: adult guidance of 25 to 30 mL/kg/day applies ({} to {} mL/day, {} to {} mL/h); Holliday-Segar gives {} mL/day.",
                format_number(weight.value(), 1),
                format_number(lo * weight.value(), 0),
                format_number(hi * weight.value(), 0),
                format_number(lo * weight.value() / 24.0, 1),
                format_number(hi * weight.value() / 24.0, 1),
                format_number(daily.value(), 0)
            ),
        ));
    }
    calc.output("rate", Qty::new(rate_out, VolumeRate::UNIT));
    calc.output("daily_volume", Qty::new(daily_out, "mL/day"));
    if max_rate.is_some() {
        calc.output("rate_uncapped", rate.qty());
        calc.output("daily_volume_uncapped", Qty::new(daily.value(), "mL/day"));
    }
    Ok(calc)
}

/// `infusio calc fluid-deficit`.
pub fn fluid_deficit_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let weight = common::weight(&mut f, "weight")?;
    let path = f.path_of("dehydration_percent");
    let percent = f.opt_number("dehydration_percent")?.ok_or_else(|| {
        missing(
            &f,
            "dehydration_percent",
            "a bare number of percent, e.g. 5 for 5% dehydration",
        )
    })?;
    check_range(
        &path,
        &format_number(percent, 6),
        percent,
        POSITIVE,
        DEHYDRATION_PERCENT_MAX,
        "%",
    )?;
    f.finish()?;
    let mut calc = Calculation::new("fluid-deficit");
    let deficit = fluid_deficit(weight, percent);
    calc.step(
        Step::new(
            "Fluid deficit",
            "deficit = dehydration_percent × weight_kg × 10 mL",
            deficit.qty(),
        )
        .input("weight", weight.qty())
        .input("dehydration", Qty::new(percent, "%")),
    );
    calc.source(sources::DEHYDRATION_DEFICIT);
    if percent >= SEVERE_DEHYDRATION_PERCENT {
        calc.finding(Finding::new(
            "fluids.severe_dehydration",
            Severity::Warning,
            format!(
                "Dehydration of {}% is severe (10% or more): restore circulation with fluid boluses first and reassess before replacing the deficit.",
                format_number(percent, 1)
            ),
        ));
    }
    calc.output("deficit", deficit.qty());
    Ok(calc)
}

/// `infusio calc sodium-deficit`.
pub fn sodium_deficit_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let weight = common::weight(&mut f, "weight")?;
    let sex = common::sex(&mut f, "sex")?;
    let age = common::age(&mut f, "age")?;
    let na = sodium(&mut f, "sodium", SODIUM_RANGE_MEQ_PER_L)?;
    let target_given = f.raw("target_sodium").map(crate::input::as_given);
    let target = sodium(&mut f, "target_sodium", TARGET_SODIUM_RANGE_MEQ_PER_L)?;
    if target.value() <= na.value() {
        return Err(InputError::new(
            f.path_of("target_sodium"),
            target_given.unwrap_or_default(),
            format!(
                "must be above the sodium ({} mEq/L): the sodium deficit applies to a low sodium; for a high sodium use free-water-deficit",
                format_number(na.value(), 1)
            ),
        ));
    }
    f.finish()?;
    let mut calc = Calculation::new("sodium-deficit");
    let tbw = tbw_step(&mut calc, weight, sex, age);
    let deficit = sodium_deficit(tbw, na, target);
    calc.step(
        Step::new(
            "Sodium deficit",
            "deficit = TBW × (target_sodium − sodium)",
            deficit.qty(),
        )
        .input("total_body_water", tbw.qty())
        .input("sodium", na.qty())
        .input("target_sodium", target.qty()),
    );
    calc.source(sources::SODIUM_DEFICIT);
    let correction = target.value() - na.value();
    if correction > HYPONATRAEMIA_CORRECTION_LIMIT_MEQ_PER_L_24H {
        calc.finding(Finding::new(
            "sodium.correction_above_limit",
            Severity::Warning,
            format!(
                "Raising sodium by {} mEq/L exceeds 8 mEq/L in 24 h (risk of osmotic demyelination): spread the correction over more than 24 h and check sodium often.",
                format_number(correction, 1)
            ),
        ));
    }
    calc.output("deficit", deficit.qty());
    calc.output("total_body_water", tbw.qty());
    Ok(calc)
}

/// `infusio calc free-water-deficit`.
pub fn free_water_deficit_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let weight = common::weight(&mut f, "weight")?;
    let sex = common::sex(&mut f, "sex")?;
    let age = common::age(&mut f, "age")?;
    let na_given = f.raw("sodium").map(crate::input::as_given);
    let na = sodium(&mut f, "sodium", SODIUM_RANGE_MEQ_PER_L)?;
    let target_given = opt_sodium(&mut f, "target_sodium", TARGET_SODIUM_RANGE_MEQ_PER_L)?;
    let target = target_given.unwrap_or(MonovalentConcentration::new(
        FREE_WATER_TARGET_SODIUM_MEQ_PER_L,
    ));
    if na.value() <= target.value() {
        return Err(InputError::new(
            f.path_of("sodium"),
            na_given.unwrap_or_default(),
            format!(
                "must be above the target sodium ({} mEq/L): the free-water deficit applies to a high sodium; for a low sodium use sodium-deficit",
                format_number(target.value(), 1)
            ),
        ));
    }
    f.finish()?;
    let mut calc = Calculation::new("free-water-deficit");
    if target_given.is_none() {
        calc.step(Step::new(
            "Target sodium (default)",
            "target_sodium = 140 mEq/L unless given",
            target.qty(),
        ));
    }
    let tbw = tbw_step(&mut calc, weight, sex, age);
    let deficit = free_water_deficit(tbw, na, target);
    calc.step(
        Step::new(
            "Free-water deficit",
            "deficit = TBW × (sodium ÷ target_sodium − 1)",
            deficit.qty(),
        )
        .input("total_body_water", tbw.qty())
        .input("sodium", na.qty())
        .input("target_sodium", target.qty()),
    );
    calc.source(sources::FREE_WATER_DEFICIT);
    let fall = na.value() - target.value();
    if fall > HYPERNATRAEMIA_CORRECTION_LIMIT_MEQ_PER_L_24H {
        calc.finding(Finding::new(
            "free_water.correction_above_limit",
            Severity::Warning,
            format!(
                "Replacing the whole deficit would lower sodium by {} mEq/L: lower it by no more than 10 mEq/L in 24 h (risk of cerebral oedema), so give the deficit over more than 24 h and check sodium often.",
                format_number(fall, 1)
            ),
        ));
    } else {
        calc.finding(Finding::new(
            "free_water.correction_limit",
            Severity::Info,
            format!(
                "Replacing the whole deficit lowers sodium by {} mEq/L; correction should not exceed 10 mEq/L in 24 h.",
                format_number(fall, 1)
            ),
        ));
    }
    calc.output("deficit", deficit.qty());
    calc.output("total_body_water", tbw.qty());
    Ok(calc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kg(v: f64) -> BodyWeight {
        BodyWeight::new(v)
    }

    #[test]
    fn holliday_segar_breakpoints() {
        assert_eq!(maintenance_rate(kg(10.0)).value(), 40.0);
        assert_eq!(maintenance_rate(kg(20.0)).value(), 60.0);
        assert_eq!(maintenance_rate(kg(30.0)).value(), 70.0);
        assert_eq!(maintenance_daily_volume(kg(10.0)).value(), 1000.0);
        assert_eq!(maintenance_daily_volume(kg(20.0)).value(), 1500.0);
        assert_eq!(maintenance_daily_volume(kg(30.0)).value(), 1700.0);
        // 4-2-1 × 24 is not 100/50/20 above 20 kg.
        assert_eq!(maintenance_rate(kg(30.0)).value() * 24.0, 1680.0);
    }

    #[test]
    fn maintenance_is_monotone_and_continuous() {
        let mut last = (0.0, 0.0);
        for i in 1..2000 {
            let w = kg(i as f64 * 0.1);
            let (r, d) = (
                maintenance_rate(w).value(),
                maintenance_daily_volume(w).value(),
            );
            assert!(r > last.0 && d > last.1);
            // Continuity: no jump larger than the steepest slope × step.
            assert!(r - last.0 <= 0.4 + 1e-9 && d - last.1 <= 10.0 + 1e-9);
            last = (r, d);
        }
    }

    #[test]
    fn tbw_fraction_boundaries() {
        let y = Age::new;
        assert_eq!(total_body_water_fraction(Sex::Female, y(17.99)), 0.6);
        assert_eq!(total_body_water_fraction(Sex::Female, y(18.0)), 0.5);
        assert_eq!(total_body_water_fraction(Sex::Male, y(18.0)), 0.6);
        assert_eq!(total_body_water_fraction(Sex::Male, y(64.99)), 0.6);
        assert_eq!(total_body_water_fraction(Sex::Male, y(65.0)), 0.5);
        assert_eq!(total_body_water_fraction(Sex::Female, y(65.0)), 0.45);
    }

    #[test]
    fn adult_finding_from_40_kg() {
        let c = maintenance_fluids_json(&json!({"weight": "39.9 kg"})).expect("ok");
        assert!(c.findings.is_empty());
        let c = maintenance_fluids_json(&json!({"weight": "40 kg"})).expect("ok");
        assert!(c.findings.iter().any(|f| f.code == "fluids.adult_guidance"));
    }

    #[test]
    fn max_rate_caps_rate_and_daily_volume() {
        let c = maintenance_fluids_json(&json!({"weight": "70 kg", "max_rate": "100 mL/h"}))
            .expect("ok");
        assert_eq!(c.outputs.get("rate").expect("rate").value, 100.0);
        assert_eq!(c.outputs.get("daily_volume").expect("daily").value, 2400.0);
        assert_eq!(
            c.outputs.get("rate_uncapped").expect("uncapped").value,
            110.0
        );
        assert!(
            c.findings
                .iter()
                .any(|f| f.code == "fluids.maintenance_capped")
        );
    }

    #[test]
    fn sodium_deficit_rises_with_the_gap() {
        let tbw = Litres::new(35.0);
        let target = MonovalentConcentration::new(130.0);
        let mut last = 0.0;
        for na in (100..130).rev() {
            let d = sodium_deficit(tbw, MonovalentConcentration::new(na as f64), target).value();
            assert!(d > last);
            last = d;
        }
    }

    #[test]
    fn wrong_direction_targets_are_refused() {
        let e = sodium_deficit_json(&json!({"weight": "70 kg", "sex": "female", "age": "40 y", "sodium": "130 mEq/L", "target_sodium": "125 mEq/L"}))
            .expect_err("refused");
        assert_eq!(e.field, "target_sodium");
        let e = free_water_deficit_json(
            &json!({"weight": "70 kg", "sex": "female", "age": "40 y", "sodium": "135 mEq/L"}),
        )
        .expect_err("refused");
        assert_eq!(e.field, "sodium");
    }

    #[test]
    fn sodium_limit_boundary_is_strict() {
        let at = sodium_deficit_json(&json!({"weight": "70 kg", "sex": "male", "age": "40 y", "sodium": "120 mEq/L", "target_sodium": "128 mEq/L"}))
            .expect("ok");
        assert!(at.findings.is_empty());
        let over = sodium_deficit_json(&json!({"weight": "70 kg", "sex": "male", "age": "40 y", "sodium": "120 mEq/L", "target_sodium": "128.5 mmol/L"}))
            .expect("ok");
        assert!(
            over.findings
                .iter()
                .any(|f| f.code == "sodium.correction_above_limit")
        );
    }
}
