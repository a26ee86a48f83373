//! Formula dose bases of an order: a `dose_per` that is not an amount per kg or per m2 but the
//! input of a calculator of `infusio calc` — carboplatin's target AUC (`"5 mg/mL.min"`, the
//! Calvert formula), a clotting factor's desired rise (`"50 IU/dL"` or `"50 %"`) and immune
//! globulin per kg (`"2 g/kg"`, the IVIG calculator with its weight-basis finding). The dose
//! is computed by the same core calculator as the CLI, from the patient's latest measures,
//! then capped and rounded as the order asks; it is computed again at signing and at
//! verification, and a dose that has moved beyond the tolerance needs a new signature.

use infusio_core::calc;
use infusio_core::derivation::{Calculation, Finding, Step};
use infusio_core::input::InputError;
use infusio_core::library::{Basis, Library};
use infusio_core::units::Qty;
use infusio_core::units::parse_quantity;
use infusio_store::Stored;
use infusio_store::records::Order;
use serde_json::{Value as Json, json};

use crate::orders::{CalculationRecord, OrderParams, SourceRecord, num_text, stored};
use crate::patients::{Context, number};
use crate::{App, AppError};

/// A formula basis recognised in an order's `dose_per`.
#[derive(Debug, Clone, PartialEq)]
pub enum Formula {
    /// Carboplatin by the Calvert formula: the target AUC as written (`"5 mg/mL.min"`).
    CarboplatinAuc(String),
    /// A clotting factor (VIII or IX) from the desired rise as written (`"50 IU/dL"`, `"50 %"`).
    FactorRise(String),
    /// Immune globulin per kg (`"2 g/kg"`, `"400 mg/kg"`) by the IVIG calculator: the dose, the
    /// volume of a 10% product and the adjusted-weight finding for obesity.
    Ivig(String),
    /// An IV iron course by the Ganzoni total iron deficit (`dose_per: "ganzoni"`), given in
    /// the library's labelled single doses of the ordered product.
    IronCourse,
}

impl Formula {
    /// The `infusio calc` calculator that computes this dose.
    pub fn calculator(&self) -> &'static str {
        match self {
            Formula::CarboplatinAuc(_) => "carboplatin",
            Formula::FactorRise(_) => "factor-dose",
            Formula::Ivig(_) => "ivig",
            Formula::IronCourse => "iron-deficit",
        }
    }
}

/// The formula basis of an order, or `None` for a dose per kg, per m2 or a flat dose (which the
/// `dose` calculator computes). Read from the unit of `dose_per`: `mg/mL.min` is a target AUC;
/// `IU/dL`, `units/dL` or `%` a desired factor rise.
pub fn formula_of(params: &OrderParams) -> Option<Formula> {
    let text = params.dose_per.as_deref()?;
    if params.medication == "immune-globulin"
        && parse_quantity(text).is_ok_and(|q| q.value_in("g/kg").is_ok())
    {
        return Some(Formula::Ivig(text.to_string()));
    }
    formula_of_dose_per(text)
}

/// The formula basis of a `dose_per` text (see [`formula_of`]).
pub fn formula_of_dose_per(text: &str) -> Option<Formula> {
    if text.trim().eq_ignore_ascii_case("ganzoni") {
        return Some(Formula::IronCourse);
    }
    let q = parse_quantity(text).ok()?;
    if q.value_in("mg/mL.min").is_ok() {
        return Some(Formula::CarboplatinAuc(text.to_string()));
    }
    if q.value_in("%").is_ok() || q.value_in("units/dL").is_ok() {
        return Some(Formula::FactorRise(text.to_string()));
    }
    None
}

/// A dose computed by a formula: the dose (capped and rounded as the order asks), its unit,
/// the calculation with every step, and the calculator's findings.
#[derive(Debug, Clone)]
pub struct FormulaDose {
    pub dose: f64,
    pub unit: String,
    pub calculation: CalculationRecord,
    pub findings: Vec<Finding>,
}

/// The calculator input for `formula` from the patient as recorded and the order: the JSON that
/// `infusio calc <calculator>` reads.
pub(crate) fn calculator_input(
    ctx: &Context,
    params: &OrderParams,
    formula: &Formula,
) -> Result<Json, AppError> {
    let mut input = serde_json::Map::new();
    if let Some((w, _)) = ctx.weight_kg {
        input.insert("weight".into(), json!(format!("{} kg", num_text(w))));
    }
    match formula {
        Formula::CarboplatinAuc(auc) => {
            input.insert("target_auc".into(), json!(auc));
            input.insert("age".into(), json!(format!("{} y", ctx.age_y)));
            if ctx.sex == "male" || ctx.sex == "female" {
                input.insert("sex".into(), json!(ctx.sex));
            }
            if let Some((h, _)) = ctx.height_cm {
                input.insert("height".into(), json!(format!("{} cm", num_text(h))));
            }
            if let Some((_, v, unit, _)) = ctx.labs.iter().find(|(n, ..)| n == "serum_creatinine") {
                input.insert(
                    "serum_creatinine".into(),
                    json!(format!("{} {unit}", num_text(*v))),
                );
            }
            // The order's weight basis for the clearance; `auto` is the dose calculator's
            // choice and has no meaning for Cockcroft-Gault, so it is not passed on.
            if let Some(b) = params.weight_basis.as_deref().filter(|b| *b != "auto") {
                input.insert("weight_basis".into(), json!(b));
            }
        }
        Formula::Ivig(per) => {
            input.insert("dose_per".into(), json!(per));
            if let Some((h, _)) = ctx.height_cm {
                input.insert("height".into(), json!(format!("{} cm", num_text(h))));
            }
            if ctx.sex == "male" || ctx.sex == "female" {
                input.insert("sex".into(), json!(ctx.sex));
            }
            if let Some(b) = &params.weight_basis {
                input.insert("weight_basis".into(), json!(b));
            }
        }
        Formula::IronCourse => {
            if let Some((_, v, unit, _)) = ctx.labs.iter().find(|(n, ..)| n == "hemoglobin") {
                input.insert(
                    "hemoglobin".into(),
                    json!(format!("{} {unit}", num_text(*v))),
                );
            }
            if let Some(t) = &params.target_hemoglobin {
                input.insert("target_hemoglobin".into(), json!(t));
            }
            if let Some(s) = &params.iron_stores {
                input.insert("iron_stores".into(), json!(s));
            }
        }
        Formula::FactorRise(rise) => {
            let factor = match params.medication.as_str() {
                "factor-viii" => "viii",
                "factor-ix" => "ix",
                other => {
                    return Err(AppError::invalid(
                        "dose_per",
                        rise.clone(),
                        format!(
                            "a desired rise is computed for factor-viii and factor-ix (the factor-dose calculator knows their recovery), not for {other}; order {other} in units/kg"
                        ),
                    ));
                }
            };
            input.insert("factor".into(), json!(factor));
            input.insert("desired_rise".into(), json!(rise));
            if factor == "ix" {
                if let Some(p) = &params.product {
                    input.insert("product".into(), json!(p));
                }
                input.insert("age".into(), json!(format!("{} y", ctx.age_y)));
            }
        }
    }
    Ok(Json::Object(input))
}

/// A calculator's input error as the order's error: the patient's missing or implausible
/// measures under `patient.`, the formula's own value under `dose_per`, the rest as is.
fn order_error(e: InputError, formula: &Formula) -> AppError {
    let field = e.field.as_str();
    if [
        "weight",
        "height",
        "sex",
        "age",
        "serum_creatinine",
        "hemoglobin",
    ]
    .contains(&field)
    {
        return AppError::Invalid(InputError::new(
            format!("patient.{field}"),
            e.value,
            format!(
                "the patient record lacks what the {} dose needs: {}; record it first",
                formula.calculator(),
                e.message
            ),
        ));
    }
    if ["target_auc", "desired_rise", "dose_per"].contains(&field) {
        return AppError::Invalid(InputError::new("dose_per", e.value, e.message));
    }
    AppError::Invalid(e)
}

/// Computes the formula dose for the order on the patient as recorded: the calculator, then
/// the order's cap (`max_dose`) and rounding by the `dose` calculator on the computed amount.
pub fn formula_dose(
    library: &Library,
    ctx: &Context,
    params: &OrderParams,
    formula: &Formula,
) -> Result<FormulaDose, AppError> {
    let input = calculator_input(ctx, params, formula)?;
    let mut c = calc::run(formula.calculator(), &input).map_err(|e| order_error(e, formula))?;
    let course_source = if *formula == Formula::IronCourse {
        split_iron_course(library, params, &mut c)?
    } else {
        None
    };
    let q = c
        .outputs
        .get("dose")
        .cloned()
        .ok_or_else(|| AppError::Internal(format!("{} returned no dose", c.calculator)))?;
    let mut dose = q.value;
    let mut record = CalculationRecord::of(&c)?;
    record.sources.extend(course_source);
    let mut findings = c.findings.clone();
    if params.max_dose.is_some() || params.rounding.is_some() {
        let rounded = cap_and_round(params, dose, &q.unit)?;
        let out = rounded
            .outputs
            .get("dose_rounded")
            .or_else(|| rounded.outputs.get("dose"))
            .map(|o| o.value)
            .ok_or_else(|| AppError::Internal("the dose calculator returned no dose".into()))?;
        dose = out;
        let extra = CalculationRecord::of(&rounded)?;
        // The formula's steps first, then the cap and the rounding (the first step of the
        // `dose` calculator restates the flat amount and is kept for the reader).
        record.steps.extend(extra.steps);
        for s in extra.sources {
            if !record.sources.iter().any(|x| x.id == s.id) {
                record.sources.push(s);
            }
        }
        for (k, v) in extra.outputs {
            if k != "dose" {
                record.outputs.insert(k, v);
            }
        }
        record.outputs.insert("dose_capped".into(), q.clone());
        findings.extend(rounded.findings.iter().cloned());
    }
    Ok(FormulaDose {
        dose,
        unit: q.unit,
        calculation: record,
        findings,
    })
}

/// Splits a Ganzoni deficit into the labelled single doses of the ordered iron product: the
/// library's usual flat dose (mg) of the drug, with its source. The order is one dose of the
/// course: the single dose, or the whole deficit when it is smaller. The outputs say how many
/// doses the course has (`doses_in_course`) and its total (`course_total`).
fn split_iron_course(
    library: &Library,
    params: &OrderParams,
    c: &mut Calculation,
) -> Result<Option<SourceRecord>, AppError> {
    let medication = params.medication.as_str();
    let rule = library.get(medication).and_then(|e| {
        e.dosing
            .iter()
            .find(|r| r.basis == Basis::Flat && r.dose_unit == "mg" && r.usual.is_some())
            .map(|r| (e, r))
    });
    let Some((entry, rule)) = rule else {
        return Err(AppError::invalid(
            "dose_per",
            "ganzoni",
            format!(
                "an iron course by the Ganzoni deficit needs an IV iron with a labelled single dose in mg in the drug library (iron-sucrose, ferric-carboxymaltose, ferric-derisomaltose, ferumoxytol, iron-dextran); {medication} has none"
            ),
        ));
    };
    let single = rule.usual.unwrap_or(f64::NAN);
    let deficit = c
        .outputs
        .get("iron_deficit")
        .map(|q| q.value)
        .ok_or_else(|| AppError::Internal("iron-deficit returned no deficit".into()))?;
    let doses = (deficit / single).ceil().max(1.0);
    let dose = deficit.min(single);
    c.step(
        Step::new(
            format!(
                "Iron course in single doses of {} mg ({} rule '{}')",
                num_text(single),
                entry.generic_name,
                rule.id
            ),
            "doses = ceil(iron_deficit / single_dose); this dose = min(iron_deficit, single_dose)",
            Qty::new(dose, "mg"),
        )
        .input("iron_deficit", Qty::new(deficit, "mg"))
        .input("single_dose", Qty::new(single, "mg"))
        .rounding(
            "the last dose of the course is the remainder; doses are separated as the label says",
        ),
    );
    c.output("dose", Qty::new(dose, "mg"));
    c.output("single_dose", Qty::new(single, "mg"));
    c.output("doses_in_course", Qty::new(doses, "doses"));
    c.output("course_total", Qty::new(deficit, "mg"));
    Ok(entry.citation(&rule.source).map(|citation| SourceRecord {
        id: rule.source.clone(),
        citation: citation.to_string(),
    }))
}

fn cap_and_round(params: &OrderParams, dose: f64, unit: &str) -> Result<Calculation, AppError> {
    let mut input = serde_json::Map::new();
    input.insert(
        "dose_per".into(),
        json!(format!("{} {unit}", num_text(dose))),
    );
    if let Some(m) = &params.max_dose {
        input.insert("max_dose".into(), json!(m));
    }
    if let Some(r) = &params.rounding {
        input.insert("rounding".into(), r.clone());
    }
    calc::run("dose", &Json::Object(input)).map_err(|e| {
        if e.field.starts_with("dose_per") {
            AppError::Internal(format!("the formula dose could not be capped: {e}"))
        } else {
            AppError::Invalid(e)
        }
    })
}

/// A cap written per measure (`"2.5 g/kg"`, as protocol templates give it) as the amount for
/// this patient: the `dose` calculator applied to the cap on the same measures and weight basis
/// as the dose (`dose_input`, the dose calculator's input without cap or rounding), with the
/// step that says so. A cap that is already an amount (`"900 mg"`) is returned as given.
pub(crate) fn cap_for_patient(
    dose_input: &serde_json::Map<String, Json>,
    max_dose: &str,
) -> Result<(String, Option<infusio_core::derivation::Step>), AppError> {
    let Some(per) = infusio_core::units::DosePer::parse(max_dose)
        .ok()
        .filter(|p| p.basis != infusio_core::units::DoseBasis::Flat)
    else {
        return Ok((max_dose.to_string(), None));
    };
    let mut input = dose_input.clone();
    input.insert("dose_per".into(), json!(max_dose));
    let c = calc::run("dose", &Json::Object(input)).map_err(|e| {
        AppError::invalid(
            "max_dose",
            max_dose,
            format!("a cap per measure could not be applied to this patient: {e}"),
        )
    })?;
    let q = c
        .outputs
        .get("dose")
        .cloned()
        .ok_or_else(|| AppError::Internal("the dose calculator returned no dose".into()))?;
    let step = infusio_core::derivation::Step::new(
        "Maximum dose for this patient",
        "max_dose_amount = max_dose × the measure the dose uses",
        q.clone(),
    )
    .input("max_dose", per.qty());
    Ok((format!("{} {}", num_text(q.value), q.unit), Some(step)))
}

/// The tolerance within which a recomputed formula dose still matches the signed one: the
/// order's rounding tolerance when it has one, else the verification tolerance.
fn tolerance_percent(params: &OrderParams, verification_tolerance: f64) -> f64 {
    params
        .rounding
        .as_ref()
        .and_then(|r| r.get("tolerance_percent"))
        .and_then(Json::as_f64)
        .unwrap_or(verification_tolerance)
}

impl App {
    /// Recomputes a formula dose with the patient as recorded now and refuses the step
    /// (`order.dose_stale`, naming the signed and the new dose) when it moved beyond the
    /// tolerance: the prescriber edits the order (which recomputes it) and signs it again.
    /// Orders without a formula basis pass unchanged. Returns the recomputed dose, if any.
    pub(crate) async fn refuse_stale_formula_dose(
        &self,
        o: &Stored<Order>,
        step: &str,
    ) -> Result<Option<FormulaDose>, AppError> {
        let params: OrderParams = stored(&o.id, "request", &o.data.derivation_json["request"])?;
        let Some(formula) = formula_of(&params) else {
            return Ok(None);
        };
        let now = self.now_us();
        let ctx = self.context(&o.data.patient_id, now).await?;
        let fresh = formula_dose(self.library(), &ctx, &params, &formula)?;
        let signed = number(&o.data.dose);
        let tol = tolerance_percent(&params, self.config().verification_tolerance_percent);
        let moved = if signed == 0.0 {
            fresh.dose != 0.0
        } else {
            ((fresh.dose - signed) / signed * 100.0).abs() > tol
        };
        if moved {
            return Err(AppError::state(
                "order.dose_stale",
                format!(
                    "cannot {step}: the {} dose, recomputed with the patient's latest measures, is {} {} where the order says {} {} (beyond the {}% tolerance); edit the order to recompute it and sign it again",
                    formula.calculator(),
                    num_text(fresh.dose),
                    fresh.unit,
                    num_text(signed),
                    o.data.dose_unit,
                    num_text(tol)
                ),
            ));
        }
        Ok(Some(fresh))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(medication: &str, dose_per: &str) -> OrderParams {
        OrderParams {
            medication: medication.into(),
            dose_per: Some(dose_per.into()),
            dose: None,
            weight_basis: None,
            max_dose: None,
            rounding: None,
            route: "iv".into(),
            volume: None,
            duration: None,
            line: None,
            frequency: None,
            infusion_number: None,
            product: None,
            indication: None,
            off_library: None,
            target_hemoglobin: None,
            iron_stores: None,
            pn: None,
            titration: None,
        }
    }

    fn lib() -> Library {
        crate::library::builtin().expect("library")
    }

    fn ctx() -> Context {
        Context {
            patient_id: "p".into(),
            mrn: "m".into(),
            age_y: 60,
            age_months: 720,
            sex: "female".into(),
            weight_kg: Some((70.0, "2026-01-01T00:00:00Z".into())),
            height_cm: Some((165.0, "2026-01-01T00:00:00Z".into())),
            labs: vec![(
                "serum_creatinine".into(),
                1.0,
                "mg/dL".into(),
                "2026-01-01T00:00:00Z".into(),
            )],
            allergies: vec![],
        }
    }

    #[test]
    fn the_basis_is_read_from_the_unit_of_dose_per() {
        assert_eq!(
            formula_of(&params("carboplatin", "5 mg/mL.min")),
            Some(Formula::CarboplatinAuc("5 mg/mL.min".into()))
        );
        assert_eq!(
            formula_of(&params("factor-viii", "50 %")),
            Some(Formula::FactorRise("50 %".into()))
        );
        assert!(matches!(
            formula_of(&params("factor-viii", "50 IU/dL")),
            Some(Formula::FactorRise(_))
        ));
        assert_eq!(formula_of(&params("infliximab", "5 mg/kg")), None);
        assert_eq!(formula_of(&params("rituximab", "375 mg/m2")), None);
    }

    #[test]
    fn carboplatin_auc_is_the_calvert_dose_of_the_calculator() {
        // Female, 60 y, 70 kg, creatinine 1.0 mg/dL: CrCl = (140 − 60) × 70 × 0.85 / 72
        // = 66.1 mL/min; AUC 5 → 5 × (66.1 + 25) = 455.6 mg.
        let d = formula_dose(
            &lib(),
            &ctx(),
            &params("carboplatin", "5 mg/mL.min"),
            &Formula::CarboplatinAuc("5 mg/mL.min".into()),
        )
        .expect("dose");
        let crcl = (140.0 - 60.0) * 70.0 * 0.85 / 72.0;
        assert!((d.dose - 5.0 * (crcl + 25.0)).abs() < 0.01, "{}", d.dose);
        assert_eq!(d.unit, "mg");
        assert_eq!(d.calculation.calculator, "carboplatin");
    }

    #[test]
    fn a_cap_and_a_rounding_apply_after_the_formula() {
        let mut p = params("carboplatin", "5 mg/mL.min");
        p.max_dose = Some("400 mg".into());
        let d = formula_dose(&lib(), &ctx(), &p, &formula_of(&p).expect("formula")).expect("dose");
        assert_eq!(d.dose, 400.0);
        let mut p = params("carboplatin", "5 mg/mL.min");
        p.rounding = Some(json!({"increment": "10 mg", "tolerance_percent": 10}));
        let d = formula_dose(&lib(), &ctx(), &p, &formula_of(&p).expect("formula")).expect("dose");
        assert_eq!(d.dose, 460.0);
    }

    #[test]
    fn an_auc_of_50_is_refused_naming_dose_per() {
        let p = params("carboplatin", "50 mg/mL.min");
        let e = formula_dose(&lib(), &ctx(), &p, &formula_of(&p).expect("formula"))
            .expect_err("refused");
        assert!(e.to_string().contains("dose_per"), "{e}");
    }

    #[test]
    fn a_missing_creatinine_names_the_patient_field() {
        let mut c = ctx();
        c.labs.clear();
        let p = params("carboplatin", "5 mg/mL.min");
        let e =
            formula_dose(&lib(), &c, &p, &formula_of(&p).expect("formula")).expect_err("refused");
        assert!(e.to_string().contains("patient.serum_creatinine"), "{e}");
    }

    #[test]
    fn factor_viii_rise_uses_half_a_unit_per_kg_per_iu_dl() {
        let p = params("factor-viii", "50 IU/dL");
        let d = formula_dose(&lib(), &ctx(), &p, &formula_of(&p).expect("formula")).expect("dose");
        assert_eq!(d.dose, 70.0 * 50.0 * 0.5);
    }

    #[test]
    fn immune_globulin_per_kg_goes_through_the_ivig_calculator() {
        let p = params("immune-globulin", "2 g/kg");
        let f = formula_of(&p).expect("formula");
        assert_eq!(f, Formula::Ivig("2 g/kg".into()));
        let d = formula_dose(&lib(), &ctx(), &p, &f).expect("dose");
        assert_eq!((d.dose, d.unit.as_str()), (140.0, "g"));
        assert!(d.calculation.outputs.contains_key("volume_10_percent"));
        // Another drug's g/kg stays a per-kg dose of the dose calculator.
        assert_eq!(formula_of(&params("amino-acids", "1.5 g/kg")), None);
    }

    #[test]
    fn an_iron_course_is_the_ganzoni_deficit_in_the_labelled_single_doses() {
        // 70 kg, Hb 9 g/dL, label defaults (target 15 g/dL, stores 500 mg): 70 × 6 × 2.4 + 500
        // = 1,508 mg; iron sucrose 200 mg doses: 8 doses, this one 200 mg.
        let mut c = ctx();
        c.labs.push((
            "hemoglobin".into(),
            9.0,
            "g/dL".into(),
            "2026-01-01T00:00:00Z".into(),
        ));
        let p = params("iron-sucrose", "ganzoni");
        let f = formula_of(&p).expect("formula");
        assert_eq!(f, Formula::IronCourse);
        let d = formula_dose(&lib(), &c, &p, &f).expect("dose");
        assert_eq!(d.dose, 200.0);
        let out = |k: &str| d.calculation.outputs.get(k).map(|q| q.value);
        assert_eq!(out("course_total"), Some(70.0 * 6.0 * 2.4 + 500.0));
        assert_eq!(out("doses_in_course"), Some(8.0));
        // Without a haemoglobin on record the patient field is named.
        let e = formula_dose(&lib(), &ctx(), &p, &f).expect_err("no Hb");
        assert!(e.to_string().contains("patient.hemoglobin"), "{e}");
        // A drug that is not an IV iron has no single dose to split into.
        let p = params("infliximab", "ganzoni");
        assert!(formula_dose(&lib(), &c, &p, &f).is_err());
    }

    #[test]
    fn a_rise_for_a_factor_without_a_known_recovery_is_refused() {
        let p = params("efmoroctocog-alfa", "50 IU/dL");
        let e = formula_dose(&lib(), &ctx(), &p, &formula_of(&p).expect("formula"))
            .expect_err("refused");
        assert!(e.to_string().contains("units/kg"), "{e}");
    }
}
