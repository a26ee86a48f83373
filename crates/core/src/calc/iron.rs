//! Total iron deficit by Ganzoni, with the iron-sucrose label's defaults:
//! up to and including 35 kg, target Hb 13 g/dL and stores 15 mg/kg; above 35 kg, target
//! 15 g/dL and stores 500 mg. The haemoglobin term is never negative.
//!
//! Findings (stable codes):
//! - `iron.hemoglobin_at_or_above_target` (info): the deficit is the stores only.

use serde_json::Value;

use super::common;
use super::common::{missing, ranged};
use super::sources;
use crate::derivation::{Calculation, Finding, Severity, Step};
use crate::input::{Fields, InputError, as_given};
use crate::units::{
    AmountKind, BodyWeight, DoseBasis, DosePer, Hemoglobin, Mass, Qty, Quantity, UnitError,
    format_number, parse_quantity,
};

/// mg of iron per kg of body weight per g/dL of haemoglobin: 0.0034 (iron content of
/// haemoglobin) × 0.07 (blood volume, 7% of body weight) × 10,000 (g/dL to g/L, g to mg);
/// 2.38 rounded to 2.4 as in Ganzoni's formula. With haemoglobin in g/L the factor is 0.24.
pub const GANZONI_FACTOR: f64 = 2.4;
/// The weight boundary of the label's defaults (kg): at or below it, the child defaults.
pub const CHILD_DEFAULTS_MAX_KG: f64 = 35.0;
/// Target Hb at or below 35 kg (g/dL).
pub const CHILD_TARGET_HB_G_PER_DL: f64 = 13.0;
/// Iron stores at or below 35 kg (mg/kg).
pub const CHILD_STORES_MG_PER_KG: f64 = 15.0;
/// Target Hb above 35 kg (g/dL).
pub const ADULT_TARGET_HB_G_PER_DL: f64 = 15.0;
/// Iron stores above 35 kg (mg).
pub const ADULT_STORES_MG: f64 = 500.0;
/// Accepted haemoglobin: 1 to 25 g/dL.
pub const HB_RANGE_G_PER_DL: (f64, f64) = (1.0, 25.0);
/// Accepted target haemoglobin: 5 to 20 g/dL.
pub const TARGET_HB_RANGE_G_PER_DL: (f64, f64) = (5.0, 20.0);

/// Iron stores to replenish: a flat amount or per kg of body weight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum IronStores {
    /// A fixed amount (the label's 500 mg above 35 kg).
    Flat(Mass),
    /// mg per kg of body weight (the label's 15 mg/kg at or below 35 kg).
    MgPerKg(f64),
}

impl IronStores {
    /// The stores in mg for `weight`.
    pub fn amount(self, weight: BodyWeight) -> Mass {
        match self {
            IronStores::Flat(m) => m,
            IronStores::MgPerKg(mg_per_kg) => Mass::new(mg_per_kg * weight.value()),
        }
    }

    fn from_quantity(q: &Quantity) -> Result<Self, UnitError> {
        if let Ok(m) = Mass::from_quantity(q) {
            return Ok(IronStores::Flat(m));
        }
        let refuse = || UnitError::Incompatible {
            given: q.unit.spelling(),
            expected: "mg or mg/kg".to_string(),
        };
        let per = DosePer::from_quantity(q).map_err(|_| refuse())?;
        if per.amount_kind != AmountKind::Mass
            || per.basis != DoseBasis::PerKg
            || per.per_time.is_some()
        {
            return Err(refuse());
        }
        let mg = Quantity {
            value: per.value,
            unit: crate::units::parse_unit(&per.amount_unit)?,
        }
        .value_in("mg")?;
        Ok(IronStores::MgPerKg(mg))
    }

    fn per_kg_value(self) -> f64 {
        match self {
            IronStores::Flat(m) => m.value(),
            IronStores::MgPerKg(v) => v,
        }
    }
}

/// The label's defaults for `weight`: (target Hb, stores).
pub fn label_defaults(weight: BodyWeight) -> (Hemoglobin, IronStores) {
    if weight.value() <= CHILD_DEFAULTS_MAX_KG {
        (
            Hemoglobin::new(CHILD_TARGET_HB_G_PER_DL),
            IronStores::MgPerKg(CHILD_STORES_MG_PER_KG),
        )
    } else {
        (
            Hemoglobin::new(ADULT_TARGET_HB_G_PER_DL),
            IronStores::Flat(Mass::new(ADULT_STORES_MG)),
        )
    }
}

/// Iron for the haemoglobin deficit: weight × max(0, target − Hb) × 2.4 (mg).
pub fn hemoglobin_iron(weight: BodyWeight, hemoglobin: Hemoglobin, target: Hemoglobin) -> Mass {
    Mass::new(weight.value() * (target.value() - hemoglobin.value()).max(0.0) * GANZONI_FACTOR)
}

/// Total iron deficit (Ganzoni): haemoglobin iron + stores.
pub fn iron_deficit(
    weight: BodyWeight,
    hemoglobin: Hemoglobin,
    target: Hemoglobin,
    stores: IronStores,
) -> Mass {
    Mass::new(hemoglobin_iron(weight, hemoglobin, target).value() + stores.amount(weight).value())
}

fn read_hb(
    f: &mut Fields,
    key: &str,
    range: (f64, f64),
) -> Result<Option<(Hemoglobin, String)>, InputError> {
    let given = f.raw(key).map(as_given);
    let hb = ranged(
        f,
        key,
        "a haemoglobin such as '9.5 g/dL' or '95 g/L'",
        Hemoglobin::from_quantity,
        |h| h.value(),
        range.0,
        range.1,
        "g/dL",
    )?;
    Ok(hb.map(|h| (h, given.unwrap_or_default())))
}

/// A step saying that a haemoglobin given in another unit (g/L) was converted to g/dL.
fn conversion_step(calc: &mut Calculation, name: &str, hb: Hemoglobin, given: &str) {
    if let Ok(q) = parse_quantity(given)
        && q.unit.spelling() != "g/dL"
    {
        calc.step(
            Step::new(
                format!(
                    "{} converted to g/dL",
                    if name == "hemoglobin" {
                        "Haemoglobin"
                    } else {
                        "Target haemoglobin"
                    }
                ),
                "g/dL = g/L ÷ 10",
                hb.qty(),
            )
            .input(name, Qty::new(q.value, &q.unit.spelling())),
        );
    }
}

/// The iron-deficit calculator's inputs, each haemoglobin with its text as given (to show a
/// g/L conversion).
struct IronInput {
    weight: BodyWeight,
    hemoglobin: (Hemoglobin, String),
    target: Option<(Hemoglobin, String)>,
    stores: Option<IronStores>,
}

/// Reads the calculator's fields in their documented order.
fn read_iron_input(f: &mut Fields) -> Result<IronInput, InputError> {
    let weight = common::weight(f, "weight")?;
    let hemoglobin = read_hb(f, "hemoglobin", HB_RANGE_G_PER_DL)?.ok_or_else(|| {
        missing(
            f,
            "hemoglobin",
            "a haemoglobin such as '9.5 g/dL' or '95 g/L'",
        )
    })?;
    let target = read_hb(f, "target_hemoglobin", TARGET_HB_RANGE_G_PER_DL)?;
    let stores_text = f.raw("iron_stores").map(as_given).unwrap_or_default();
    let stores_path = f.path_of("iron_stores");
    let stores = f.opt_quantity(
        "iron_stores",
        "iron stores such as '500 mg' or '15 mg/kg'",
        IronStores::from_quantity,
    )?;
    if let Some(s) = stores {
        let (max, unit) = match s {
            IronStores::Flat(_) => (1_500.0, "mg"),
            IronStores::MgPerKg(_) => (30.0, "mg/kg"),
        };
        crate::input::check_range(&stores_path, &stores_text, s.per_kg_value(), 0.0, max, unit)?;
    }
    Ok(IronInput {
        weight,
        hemoglobin,
        target,
        stores,
    })
}

/// The target haemoglobin and the iron stores, as given or by the label's defaults for the
/// weight band (a step for each default or g/L conversion).
fn target_and_stores(calc: &mut Calculation, input: &IronInput) -> (Hemoglobin, IronStores) {
    let weight = input.weight;
    let (default_target, default_stores) = label_defaults(weight);
    let band = if weight.value() <= CHILD_DEFAULTS_MAX_KG {
        "weight at or below 35 kg: target 13 g/dL, stores 15 mg/kg"
    } else {
        "weight above 35 kg: target 15 g/dL, stores 500 mg"
    };
    let target = match &input.target {
        Some((t, given)) => {
            conversion_step(calc, "target_hemoglobin", *t, given);
            *t
        }
        None => {
            calc.step(
                Step::new(
                    format!("Target haemoglobin by the label's default ({band})"),
                    "target = 13 g/dL if weight ≤ 35 kg, else 15 g/dL",
                    default_target.qty(),
                )
                .input("weight", weight.qty()),
            );
            default_target
        }
    };
    let stores = match input.stores {
        Some(s) => s,
        None => {
            calc.step(
                Step::new(
                    format!("Iron stores by the label's default ({band})"),
                    "stores = 15 mg/kg × weight if weight ≤ 35 kg, else 500 mg",
                    default_stores.amount(weight).qty(),
                )
                .input("weight", weight.qty()),
            );
            default_stores
        }
    };
    (target, stores)
}

/// `infusio calc iron-deficit`.
pub fn iron_deficit_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let input = read_iron_input(&mut f)?;
    f.finish()?;
    let weight = input.weight;
    let (hb, hb_given) = &input.hemoglobin;
    let hb = *hb;

    let mut calc = Calculation::new("iron-deficit");
    conversion_step(&mut calc, "hemoglobin", hb, hb_given);
    let (target, stores) = target_and_stores(&mut calc, &input);
    let hb_iron = hemoglobin_iron(weight, hb, target);
    calc.step(
        Step::new(
            "Iron for the haemoglobin deficit",
            "Hb_iron = weight_kg × max(0, target − Hb) [g/dL] × 2.4",
            hb_iron.qty(),
        )
        .input("weight", weight.qty())
        .input("hemoglobin", hb.qty())
        .input("target_hemoglobin", target.qty()),
    );
    let stores_mg = stores.amount(weight);
    let total = iron_deficit(weight, hb, target, stores);
    calc.step(
        Step::new(
            "Total iron deficit (Ganzoni)",
            "iron_deficit = Hb_iron + stores",
            total.qty(),
        )
        .input("hemoglobin_iron", hb_iron.qty())
        .input("iron_stores", stores_mg.qty())
        .rounding("none (round to the product's vial size when ordering)"),
    );
    calc.source(sources::GANZONI);
    if hb.value() >= target.value() {
        calc.finding(Finding::new(
            "iron.hemoglobin_at_or_above_target",
            Severity::Info,
            format!(
                "Haemoglobin {} g/dL is at or above the target {} g/dL: the deficit is the iron stores only.",
                format_number(hb.value(), 1),
                format_number(target.value(), 1)
            ),
        ));
    }
    calc.output("iron_deficit", total.qty());
    calc.output("hemoglobin_iron", hb_iron.qty());
    calc.output("iron_stores", stores_mg.qty());
    Ok(calc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deficit(input: Value) -> f64 {
        iron_deficit_json(&input)
            .expect("ok")
            .outputs
            .get("iron_deficit")
            .expect("output")
            .value
    }

    #[test]
    fn boundary_at_35_kg_uses_the_child_defaults() {
        // 35.0 kg: 35 × (13 − 6) × 2.4 + 15 × 35 = 588 + 525.
        assert!(
            (deficit(json!({"weight": "35 kg", "hemoglobin": "6 g/dL"})) - 1113.0).abs() < 1e-9
        );
        // Just above: 35.01 × (15 − 6) × 2.4 + 500.
        let above = deficit(json!({"weight": "35.01 kg", "hemoglobin": "6 g/dL"}));
        assert!((above - (35.01 * 9.0 * 2.4 + 500.0)).abs() < 1e-9);
    }

    #[test]
    fn hemoglobin_term_is_never_negative() {
        let c =
            iron_deficit_json(&json!({"weight": "70 kg", "hemoglobin": "16 g/dL"})).expect("ok");
        assert_eq!(c.outputs.get("iron_deficit").expect("out").value, 500.0);
        assert_eq!(c.outputs.get("hemoglobin_iron").expect("out").value, 0.0);
        assert!(
            c.findings
                .iter()
                .any(|f| f.code == "iron.hemoglobin_at_or_above_target")
        );
    }

    #[test]
    fn grams_per_litre_equal_grams_per_decilitre() {
        let a = deficit(
            json!({"weight": "70 kg", "hemoglobin": "8 g/dL", "target_hemoglobin": "12 g/dL", "iron_stores": "500 mg"}),
        );
        let b = deficit(
            json!({"weight": "70 kg", "hemoglobin": "80 g/L", "target_hemoglobin": "120 g/L", "iron_stores": "500 mg"}),
        );
        assert!((a - b).abs() < 1e-9);
        assert!((a - 1172.0).abs() < 1e-9);
        // The tenfold error of "× 0.24 with Hb in g/dL" (567.2 mg) is never produced.
        assert!((a - (70.0 * 4.0 * 0.24 + 500.0)).abs() > 100.0);
    }

    #[test]
    fn deficit_falls_as_hemoglobin_rises() {
        let w = BodyWeight::new(60.0);
        let target = Hemoglobin::new(15.0);
        let stores = IronStores::Flat(Mass::new(500.0));
        let mut last = f64::INFINITY;
        for tenth in 30..150 {
            let d = iron_deficit(w, Hemoglobin::new(tenth as f64 / 10.0), target, stores).value();
            assert!(d < last);
            last = d;
        }
    }

    #[test]
    fn stores_per_kg_are_accepted_and_time_rates_refused() {
        let d =
            deficit(json!({"weight": "30 kg", "hemoglobin": "6 g/dL", "iron_stores": "15 mg/kg"}));
        assert!((d - 954.0).abs() < 1e-9);
        let e = iron_deficit_json(
            &json!({"weight": "30 kg", "hemoglobin": "6 g/dL", "iron_stores": "15 mg/kg/day"}),
        )
        .expect_err("refused");
        assert_eq!(e.field, "iron_stores");
    }
}
