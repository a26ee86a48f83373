//! Parenteral nutrition: energy, energy and protein per kg, glucose infusion rate and an
//! osmolarity estimate, with findings for a peripheral line over its osmolarity limit, a GIR
//! above 5 mg/kg/min and lipid above 2.5 g/kg/day.
//!
//! Findings (stable codes):
//! - `pn.osmolarity_above_peripheral_limit` (warning): peripheral line over the limit.
//! - `pn.gir_above_limit` (warning): GIR above 5 mg/kg/min.
//! - `pn.lipid_above_limit` (warning): lipid above 2.5 g/kg/day.
//! - `pn.osmolarity_without_cations` (info): no cations given, the estimate is too low.

use serde_json::Value;

use super::common;
use super::common::{POSITIVE, missing, ranged};
use super::infusion::opt_duration;
use super::sources;
use crate::derivation::{Calculation, Finding, Severity, Step};
use crate::input::{Fields, InputError};
use crate::units::{
    BodyWeight, Duration, Energy, EnergyDensity, Equivalents, Mass, Osmolarity, Qty, Quantity,
    UnitError, Volume, format_number,
};

/// Dextrose monohydrate, kcal/g.
pub const DEXTROSE_KCAL_PER_G: f64 = 3.4;
/// Amino acids, kcal/g.
pub const AMINO_ACID_KCAL_PER_G: f64 = 4.0;
/// Default lipid-emulsion energy, kcal/g (20% emulsion: 2 kcal/mL). Some texts use 9 kcal/g.
pub const DEFAULT_LIPID_KCAL_PER_G: f64 = 10.0;
/// Osmolarity estimate: mOsm per g of dextrose.
pub const MOSM_PER_G_DEXTROSE: f64 = 5.0;
/// Osmolarity estimate: mOsm per g of amino acids.
pub const MOSM_PER_G_AMINO_ACID: f64 = 10.0;
/// Osmolarity estimate: mOsm per mEq of cations (each cation brings its anion).
pub const MOSM_PER_MEQ_CATION: f64 = 2.0;
/// Default peripheral-line osmolarity limit, mOsm/L (ASPEN).
pub const DEFAULT_PERIPHERAL_LIMIT_MOSM_PER_L: f64 = 900.0;
/// GIR above which a finding is raised, mg/kg/min.
pub const GIR_WARNING_MG_PER_KG_MIN: f64 = 5.0;
/// Lipid above which a finding is raised, g/kg/day.
pub const LIPID_WARNING_G_PER_KG_DAY: f64 = 2.5;
/// Default infusion duration (h).
pub const DEFAULT_INFUSION_H: f64 = 24.0;

/// Line through which the PN runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// Central venous access (the default): no osmolarity limit is applied.
    Central,
    /// Peripheral access: the osmolarity is checked against the peripheral limit.
    Peripheral,
}

/// A day's parenteral nutrition.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DailyPn {
    /// Total volume per day.
    pub volume: Volume,
    /// Dextrose (monohydrate) per day.
    pub dextrose: Mass,
    /// Amino acids per day.
    pub amino_acids: Mass,
    /// Lipid per day, if any.
    pub lipid: Option<Mass>,
    /// Energy of the lipid emulsion (default 10 kcal/g).
    pub lipid_energy: EnergyDensity,
    /// Cations per day (sodium, potassium, calcium, magnesium), if known.
    pub cations: Option<Equivalents>,
    /// Hours over which the day's PN runs (default 24 h; shorter when cycled).
    pub infusion_duration: Duration,
}

/// The energy of each part and the total (kcal/day).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PnEnergy {
    /// Dextrose × 3.4 kcal/g.
    pub dextrose: Energy,
    /// Amino acids × 4 kcal/g.
    pub amino_acids: Energy,
    /// Lipid × lipid energy (0 without lipid).
    pub lipid: Energy,
    /// The sum.
    pub total: Energy,
}

fn grams(m: Mass) -> f64 {
    m.value() / 1000.0
}

/// Energy: dextrose 3.4 kcal/g, amino acids 4 kcal/g, lipid at `lipid_energy`.
pub fn energy(pn: &DailyPn) -> PnEnergy {
    let dextrose = grams(pn.dextrose) * DEXTROSE_KCAL_PER_G;
    let amino = grams(pn.amino_acids) * AMINO_ACID_KCAL_PER_G;
    let lipid = pn.lipid.map_or(0.0, |l| grams(l) * pn.lipid_energy.value());
    PnEnergy {
        dextrose: Energy::new(dextrose),
        amino_acids: Energy::new(amino),
        lipid: Energy::new(lipid),
        total: Energy::new(dextrose + amino + lipid),
    }
}

/// Glucose infusion rate (mg/kg/min) over the infusion duration.
pub fn glucose_infusion_rate_mg_per_kg_min(
    dextrose: Mass,
    weight: BodyWeight,
    duration: Duration,
) -> f64 {
    dextrose.value() / weight.value() / (duration.value() * 60.0)
}

/// Osmolarity estimate: (5 × dextrose g + 10 × amino acid g + 2 × cation mEq) ÷ litres; lipid
/// excluded.
pub fn osmolarity(pn: &DailyPn) -> Osmolarity {
    let osmoles = MOSM_PER_G_DEXTROSE * grams(pn.dextrose)
        + MOSM_PER_G_AMINO_ACID * grams(pn.amino_acids)
        + MOSM_PER_MEQ_CATION * pn.cations.map_or(0.0, |c| c.value());
    Osmolarity::new(osmoles / (pn.volume.value() / 1000.0))
}

/// Reads an amount per day given either as an amount (`600 g`) or per day (`600 g/day`). Any
/// other time basis (`25 g/h`) is refused: over a cyclic infusion it would be ambiguous.
fn daily_amount(q: &Quantity, unit: &str) -> Result<f64, UnitError> {
    if q.unit.denominator.is_empty() {
        return q.value_in(unit);
    }
    match q.unit.denominator.as_slice() {
        [d] if d.symbol == "day" => q.value_in(&format!("{unit}/day")),
        _ => Err(UnitError::Incompatible {
            given: q.unit.spelling(),
            expected: format!("{unit} or {unit}/day"),
        }),
    }
}

#[allow(clippy::too_many_arguments)]
fn read_daily<T>(
    f: &mut Fields,
    key: &str,
    what: &str,
    unit: &'static str,
    make: fn(f64) -> T,
    value_of: fn(&T) -> f64,
    (min, max): (f64, f64),
    range_unit: &str,
) -> Result<Option<T>, InputError> {
    ranged(
        f,
        key,
        what,
        |q| daily_amount(q, unit).map(make),
        value_of,
        min,
        max,
        range_unit,
    )
}

/// Reads grams of `name` per day (`250 g` or `250 g/day`), accepted from 0 to `max_g`.
fn read_daily_grams(
    f: &mut Fields,
    key: &str,
    name: &str,
    max_g: f64,
) -> Result<Option<Mass>, InputError> {
    read_daily(
        f,
        key,
        &daily_grams_what(name),
        "g",
        |g| Mass::new(g * 1000.0),
        |m| m.value() / 1000.0,
        (0.0, max_g),
        "g/day",
    )
}

fn daily_grams_what(name: &str) -> String {
    format!("grams of {name} per day, such as '250 g' or '250 g/day'")
}

/// The parenteral-nutrition calculator's inputs, read and checked, with defaults applied.
struct PnInput {
    weight: BodyWeight,
    pn: DailyPn,
    /// Whether `lipid_energy` was given (else the default, which the derivation says).
    lipid_energy_given: bool,
    line: Line,
    peripheral_limit: Osmolarity,
}

/// Reads the calculator's fields in their documented order.
fn read_pn_input(f: &mut Fields) -> Result<PnInput, InputError> {
    let weight = common::weight(f, "weight")?;
    const VOLUME_WHAT: &str = "the daily volume such as '2400 mL' or '2400 mL/day'";
    let volume = read_daily(
        f,
        "volume",
        VOLUME_WHAT,
        "mL",
        Volume::new,
        |v| v.value(),
        (POSITIVE, 10_000.0),
        "mL/day",
    )?
    .ok_or_else(|| missing(f, "volume", VOLUME_WHAT))?;
    let dextrose = read_daily_grams(f, "dextrose", "dextrose", 2_000.0)?
        .ok_or_else(|| missing(f, "dextrose", &daily_grams_what("dextrose")))?;
    let amino_acids = read_daily_grams(f, "amino_acids", "amino acids", 500.0)?
        .ok_or_else(|| missing(f, "amino_acids", &daily_grams_what("amino acids")))?;
    let lipid = read_daily_grams(f, "lipid", "lipid", 300.0)?;
    let lipid_energy_given = ranged(
        f,
        "lipid_energy",
        "the lipid emulsion's energy such as '10 kcal/g' or '9 kcal/g'",
        EnergyDensity::from_quantity,
        |e| e.value(),
        5.0,
        12.0,
        "kcal/g",
    )?;
    let cations = read_daily(
        f,
        "cations",
        "the cations per day in mEq, such as '140 mEq' or '140 mEq/day'",
        "mEq",
        Equivalents::new,
        |e| e.value(),
        (0.0, 2_000.0),
        "mEq/day",
    )?;
    let duration_given = opt_duration(f, "infusion_duration", DEFAULT_INFUSION_H)?;
    let line = match f.opt_choice("line", &["central", "peripheral"])?.as_deref() {
        Some("peripheral") => Line::Peripheral,
        _ => Line::Central,
    };
    let limit_given = ranged(
        f,
        "peripheral_osmolarity_limit",
        "an osmolarity limit such as '900 mOsm/L'",
        Osmolarity::from_quantity,
        |o| o.value(),
        300.0,
        2_000.0,
        "mOsm/L",
    )?;
    Ok(PnInput {
        weight,
        pn: DailyPn {
            volume,
            dextrose,
            amino_acids,
            lipid,
            lipid_energy: lipid_energy_given
                .unwrap_or(EnergyDensity::new(DEFAULT_LIPID_KCAL_PER_G)),
            cations,
            infusion_duration: duration_given.unwrap_or(Duration::new(DEFAULT_INFUSION_H)),
        },
        lipid_energy_given: lipid_energy_given.is_some(),
        line,
        peripheral_limit: limit_given
            .unwrap_or(Osmolarity::new(DEFAULT_PERIPHERAL_LIMIT_MOSM_PER_L)),
    })
}

/// A daily mass as its derivation quantity (g/day).
fn grams_per_day(m: Mass) -> Qty {
    Qty::new(grams(m), "g/day")
}

/// An energy as its derivation quantity (kcal/day).
fn kcal_per_day(e: Energy) -> Qty {
    Qty::new(e.value(), "kcal/day")
}

/// `infusio calc parenteral-nutrition`.
pub fn parenteral_nutrition_json(input: &Value) -> Result<Calculation, InputError> {
    let mut f = Fields::new(input, "")?;
    let input = read_pn_input(&mut f)?;
    f.finish()?;
    let (pn, weight) = (&input.pn, input.weight);

    let mut calc = Calculation::new("parenteral-nutrition");
    let e = energy(pn);
    let (energy_per_kg, protein_per_kg) = energy_steps(&mut calc, &input, &e);
    calc.source(sources::PN_ENERGY);
    let gir = glucose_infusion_rate_mg_per_kg_min(pn.dextrose, weight, pn.infusion_duration);
    calc.step(
        Step::new(
            "Glucose infusion rate",
            "GIR = dextrose_mg ÷ weight_kg ÷ (infusion_duration_h × 60 min/h)",
            Qty::new(gir, "mg/kg/min"),
        )
        .input("dextrose", grams_per_day(pn.dextrose))
        .input("weight", weight.qty())
        .input("infusion_duration", pn.infusion_duration.qty()),
    );
    calc.source(sources::PN_GIR);
    let osm = osmolarity(pn);
    calc.step(
        Step::new(
            "Osmolarity estimate (lipid excluded)",
            "osmolarity = (5 × dextrose_g + 10 × amino_acids_g + 2 × cations_mEq) ÷ volume_L",
            osm.qty(),
        )
        .input("dextrose", grams_per_day(pn.dextrose))
        .input("amino_acids", grams_per_day(pn.amino_acids))
        .input(
            "cations",
            Qty::new(pn.cations.map_or(0.0, |c| c.value()), "mEq/day"),
        )
        .input("volume", Qty::new(pn.volume.value(), "mL/day")),
    );
    calc.source(sources::PN_OSMOLARITY);
    osmolarity_and_gir_findings(&mut calc, &input, osm, gir);
    calc.output("energy", kcal_per_day(e.total));
    calc.output("energy_per_kg", Qty::new(energy_per_kg, "kcal/kg/day"));
    calc.output("protein_per_kg", Qty::new(protein_per_kg, "g/kg/day"));
    calc.output("gir", Qty::new(gir, "mg/kg/min"));
    calc.output("osmolarity", osm.qty());
    if let Some(lipid) = pn.lipid {
        lipid_per_kg_steps(&mut calc, lipid, weight);
    }
    Ok(calc)
}

/// Energy of each part, the total, and energy and protein per kg (returned, in kcal/kg/day
/// and g/kg/day).
fn energy_steps(calc: &mut Calculation, input: &PnInput, e: &PnEnergy) -> (f64, f64) {
    let (pn, weight) = (&input.pn, input.weight);
    calc.step(
        Step::new(
            "Energy from dextrose",
            "kcal = dextrose_g × 3.4 kcal/g",
            kcal_per_day(e.dextrose),
        )
        .input("dextrose", grams_per_day(pn.dextrose)),
    );
    calc.step(
        Step::new(
            "Energy from amino acids",
            "kcal = amino_acids_g × 4 kcal/g",
            kcal_per_day(e.amino_acids),
        )
        .input("amino_acids", grams_per_day(pn.amino_acids)),
    );
    if let Some(lipid) = pn.lipid {
        calc.step(
            Step::new(
                "Energy from lipid",
                "kcal = lipid_g × lipid_energy",
                kcal_per_day(e.lipid),
            )
            .input("lipid", grams_per_day(lipid))
            .input("lipid_energy", pn.lipid_energy.qty())
            .rounding(if input.lipid_energy_given {
                "none (lipid_energy as given)"
            } else {
                "none (lipid_energy default 10 kcal/g)"
            }),
        );
    }
    calc.step(Step::new(
        "Total energy",
        "energy = dextrose + amino acids + lipid kcal",
        kcal_per_day(e.total),
    ));
    let energy_per_kg = e.total.value() / weight.value();
    calc.step(
        Step::new(
            "Energy per kg",
            "energy_per_kg = energy ÷ weight",
            Qty::new(energy_per_kg, "kcal/kg/day"),
        )
        .input("weight", weight.qty()),
    );
    let protein_per_kg = grams(pn.amino_acids) / weight.value();
    calc.step(
        Step::new(
            "Protein per kg",
            "protein_per_kg = amino_acids_g ÷ weight",
            Qty::new(protein_per_kg, "g/kg/day"),
        )
        .input("amino_acids", grams_per_day(pn.amino_acids))
        .input("weight", weight.qty()),
    );
    (energy_per_kg, protein_per_kg)
}

/// Findings on the osmolarity (no cations given; above the peripheral limit) and the GIR.
fn osmolarity_and_gir_findings(
    calc: &mut Calculation,
    input: &PnInput,
    osm: Osmolarity,
    gir_mg_per_kg_min: f64,
) {
    if input.pn.cations.is_none() {
        calc.finding(Finding::new(
            "pn.osmolarity_without_cations",
            Severity::Info,
            "No cations were given: the osmolarity estimate excludes electrolytes and is too low.",
        ));
    }
    if input.line == Line::Peripheral && osm.value() > input.peripheral_limit.value() {
        calc.finding(Finding::new(
            "pn.osmolarity_above_peripheral_limit",
            Severity::Warning,
            format!(
                "Estimated osmolarity {} mOsm/L is above the peripheral limit of {} mOsm/L: give through a central line, or dilute.",
                format_number(osm.value(), 0),
                format_number(input.peripheral_limit.value(), 0)
            ),
        ));
    }
    if gir_mg_per_kg_min > GIR_WARNING_MG_PER_KG_MIN {
        calc.finding(Finding::new(
            "pn.gir_above_limit",
            Severity::Warning,
            format!(
                "Glucose infusion rate {} mg/kg/min is above 5 mg/kg/min: risk of hyperglycaemia and hepatic steatosis in adults; check the target for the patient's age.",
                format_number(gir_mg_per_kg_min, 2)
            ),
        ));
    }
}

/// Lipid per kg with its step, output and a finding above 2.5 g/kg/day.
fn lipid_per_kg_steps(calc: &mut Calculation, lipid: Mass, weight: BodyWeight) {
    let lipid_per_kg = grams(lipid) / weight.value();
    calc.step(
        Step::new(
            "Lipid per kg",
            "lipid_per_kg = lipid_g ÷ weight",
            Qty::new(lipid_per_kg, "g/kg/day"),
        )
        .input("lipid", grams_per_day(lipid))
        .input("weight", weight.qty()),
    );
    if lipid_per_kg > LIPID_WARNING_G_PER_KG_DAY {
        calc.source(sources::PN_LIPID_LIMIT);
        calc.finding(Finding::new(
            "pn.lipid_above_limit",
            Severity::Warning,
            format!(
                "Lipid {} g/kg/day is above 2.5 g/kg/day.",
                format_number(lipid_per_kg, 2)
            ),
        ));
    }
    calc.output("lipid_per_kg", Qty::new(lipid_per_kg, "g/kg/day"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn out(c: &Calculation, name: &str) -> f64 {
        c.outputs.get(name).expect("output").value
    }

    #[test]
    fn gir_boundary_at_5_is_strict() {
        // 5 mg/kg/min × 10 kg × 1440 min = 72 g.
        let c = parenteral_nutrition_json(&json!({"weight": "10 kg", "volume": "500 mL", "dextrose": "72 g", "amino_acids": "20 g"}))
            .expect("ok");
        assert!((out(&c, "gir") - 5.0).abs() < 1e-12);
        assert!(!c.findings.iter().any(|f| f.code == "pn.gir_above_limit"));
        let c = parenteral_nutrition_json(&json!({"weight": "10 kg", "volume": "500 mL", "dextrose": "72.1 g", "amino_acids": "20 g"}))
            .expect("ok");
        assert!(c.findings.iter().any(|f| f.code == "pn.gir_above_limit"));
    }

    #[test]
    fn cyclic_infusion_raises_the_gir() {
        let base = json!({"weight": "70 kg", "volume": "2000 mL", "dextrose": "268 g", "amino_acids": "70 g"});
        let mut cyclic = base.clone();
        cyclic["infusion_duration"] = json!("12 h");
        let a = out(&parenteral_nutrition_json(&base).expect("ok"), "gir");
        let b = out(&parenteral_nutrition_json(&cyclic).expect("ok"), "gir");
        assert!((b - 2.0 * a).abs() < 1e-12);
    }

    #[test]
    fn per_hour_amounts_are_refused() {
        let e = parenteral_nutrition_json(&json!({"weight": "70 kg", "volume": "2000 mL", "dextrose": "10 g/h", "amino_acids": "70 g"}))
            .expect_err("refused");
        assert_eq!(e.field, "dextrose");
        let c = parenteral_nutrition_json(&json!({"weight": "70 kg", "volume": "2000 mL/day", "dextrose": "268 g/day", "amino_acids": "70 g"}))
            .expect("per day accepted");
        assert!((out(&c, "energy") - (268.0 * 3.4 + 280.0)).abs() < 1e-9);
    }

    #[test]
    fn osmolarity_falls_with_volume() {
        let mut last = f64::INFINITY;
        for ml in (500..4000).step_by(100) {
            let pn = DailyPn {
                volume: Volume::new(ml as f64),
                dextrose: Mass::new(200_000.0),
                amino_acids: Mass::new(80_000.0),
                lipid: None,
                lipid_energy: EnergyDensity::new(10.0),
                cations: Some(Equivalents::new(150.0)),
                infusion_duration: Duration::new(24.0),
            };
            let o = osmolarity(&pn).value();
            assert!(o < last);
            last = o;
        }
    }

    #[test]
    fn lipid_limit_boundary() {
        let at = parenteral_nutrition_json(&json!({"weight": "20 kg", "volume": "1000 mL", "dextrose": "100 g", "amino_acids": "40 g", "lipid": "50 g"}))
            .expect("ok");
        assert!(!at.findings.iter().any(|f| f.code == "pn.lipid_above_limit"));
        let over = parenteral_nutrition_json(&json!({"weight": "20 kg", "volume": "1000 mL", "dextrose": "100 g", "amino_acids": "40 g", "lipid": "50.5 g"}))
            .expect("ok");
        assert!(
            over.findings
                .iter()
                .any(|f| f.code == "pn.lipid_above_limit")
        );
    }
}
