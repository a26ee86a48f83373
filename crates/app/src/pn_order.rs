//! Parenteral nutrition as one compounded order: one bag (`2-in-1`: dextrose and amino acids,
//! lipid given apart; `3-in-1`: with lipid) whose macronutrients, cations, volume, energy,
//! glucose infusion rate and osmolarity come from the `parenteral-nutrition` calculator of
//! `infusio calc`, and whose components are each checked against their drug-library entries
//! (per-kg and per-day limits, line, concentration in the bag). The order's dose is the bag's
//! volume (what is compounded, verified and hung).
//!
//! The request names `medication: "parenteral-nutrition"`, no `dose_per` or `dose`, the bag's
//! `volume`, `duration`, `line`, and `pn`:
//! `{"bag": "3-in-1", "dextrose": "4 g/kg", "amino_acids": "1.5 g/kg", "lipid": "1 g/kg",
//!   "electrolytes": {"sodium": "100 mEq", "potassium": "80 mEq", "calcium": "10 mEq",
//!   "magnesium": "16 mEq"}}` — amounts per day, in g or g/kg (per kg of the latest weight).

use infusio_core::calc;
use infusio_core::check::check_json;
use infusio_core::derivation::{Calculation, Finding, Severity, Step};
use infusio_core::input::{Fields, InputError};
use infusio_core::units::{DoseBasis, DosePer, Qty, parse_quantity};
use serde_json::{Value as Json, json};

use crate::orders::{
    ActiveOrder, CalculationRecord, CheckRecord, Computed, Measured, OrderDerivation, OrderParams,
    PatientBasis, SourceRecord, num_text, to_column,
};
use crate::patients::Context;
use crate::time::iso_from_us;
use crate::{App, AppError};

/// The medication id of a compounded PN order.
pub const PN_MEDICATION: &str = "parenteral-nutrition";

/// The library entry that checks each component of the bag.
const COMPONENTS: &[(&str, &str)] = &[
    ("dextrose", "dextrose"),
    ("amino_acids", "amino-acids"),
    ("lipid", "lipid-emulsion"),
];

/// Cations the osmolarity estimate counts (mEq per day).
const CATIONS: &[&str] = &["sodium", "potassium", "calcium", "magnesium"];

/// A PN prescription as read from the order's `pn` object: each component in g/day (with the
/// text as ordered), the cations in mEq/day, and whether lipid is in the bag.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PnPrescription {
    pub three_in_one: bool,
    /// (component key, grams per day, as ordered).
    pub grams: Vec<(&'static str, f64, String)>,
    /// (cation, mEq per day).
    pub cations: Vec<(&'static str, f64)>,
}

fn invalid(field: &str, value: impl Into<String>, message: impl Into<String>) -> AppError {
    AppError::invalid(format!("pn.{field}"), value, message)
}

/// A daily amount in grams: `"105 g"`, or `"1.5 g/kg"` × the patient's latest weight.
fn grams_per_day(key: &str, text: &str, weight_kg: Option<f64>) -> Result<f64, AppError> {
    let what = "grams per day such as '105 g', or per kg such as '1.5 g/kg'";
    let per = DosePer::parse(text).map_err(|e| invalid(key, text, format!("{e}; {what}")))?;
    let grams_of = |v: f64, unit: &str| {
        parse_quantity(&format!("{v} {unit}"))
            .and_then(|q| q.value_in("g"))
            .map_err(|e| invalid(key, text, format!("{e}; {what}")))
    };
    let g = match per.basis {
        DoseBasis::Flat => grams_of(per.value, &per.amount_unit)?,
        DoseBasis::PerKg => {
            let w = weight_kg.ok_or_else(|| {
                AppError::invalid(
                    "patient.weight",
                    "",
                    "the patient record lacks a weight, which a PN amount per kg needs; record it first",
                )
            })?;
            grams_of(per.value, &per.amount_unit)? * w
        }
        DoseBasis::PerM2 => return Err(invalid(key, text, what)),
    };
    if !(g.is_finite() && g > 0.0) {
        return Err(invalid(key, text, "an amount above 0"));
    }
    Ok(g)
}

/// Reads `pn` strictly (unknown fields refused).
pub(crate) fn read_prescription(
    pn: &Json,
    weight_kg: Option<f64>,
) -> Result<PnPrescription, AppError> {
    let mut f = Fields::new(pn, "pn")?;
    let bag = f.opt_choice("bag", &["2-in-1", "3-in-1"])?.ok_or_else(|| {
        invalid(
            "bag",
            "",
            "required: '2-in-1' (dextrose and amino acids; lipid apart) or '3-in-1' (with lipid)",
        )
    })?;
    let three_in_one = bag == "3-in-1";
    let mut grams = Vec::new();
    for (key, _) in COMPONENTS {
        match f.opt_string(key)? {
            Some(text) => grams.push((*key, grams_per_day(key, &text, weight_kg)?, text)),
            None if *key == "lipid" && !three_in_one => {}
            None => {
                return Err(invalid(
                    key,
                    "",
                    format!("required for a {bag} bag: {key} per day such as '1.5 g/kg'"),
                ));
            }
        }
    }
    if !three_in_one && grams.iter().any(|(k, ..)| *k == "lipid") {
        return Err(invalid(
            "lipid",
            "",
            "a 2-in-1 bag has no lipid: order the lipid emulsion apart, or make it a 3-in-1 bag",
        ));
    }
    let mut cations = Vec::new();
    if let Some(e) = f.raw("electrolytes").cloned() {
        let mut ef = Fields::new(&e, "pn.electrolytes")?;
        for c in CATIONS {
            if let Some(text) = ef.opt_string(c)? {
                let v = parse_quantity(&text)
                    .and_then(|q| q.value_in("mEq"))
                    .map_err(|err| {
                        invalid(
                            &format!("electrolytes.{c}"),
                            text.clone(),
                            format!("{err}; mEq per day such as '80 mEq'"),
                        )
                    })?;
                if !(v.is_finite() && v >= 0.0) {
                    return Err(invalid(&format!("electrolytes.{c}"), text, "0 mEq or more"));
                }
                cations.push((*c, v));
            }
        }
        ef.finish().map_err(AppError::Invalid)?;
    }
    f.finish().map_err(AppError::Invalid)?;
    Ok(PnPrescription {
        three_in_one,
        grams,
        cations,
    })
}

/// The calculator's record with the bag's contents: each component's grams per day (with the
/// step from the amount as ordered) and each cation's mEq per day.
fn bag_record(c: &Calculation, rx: &PnPrescription) -> Result<CalculationRecord, AppError> {
    let mut record = CalculationRecord::of(c)?;
    let bag = if rx.three_in_one { "3-in-1" } else { "2-in-1" };
    for (key, g, text) in &rx.grams {
        record
            .outputs
            .insert(format!("{key}_g_per_day"), Qty::new(*g, "g/day"));
        record.steps.insert(
            0,
            Step::new(
                format!("{key} in the {bag} bag, per day"),
                "grams = amount per kg × weight, or as ordered",
                Qty::new(*g, "g/day"),
            )
            .input(
                key,
                DosePer::parse(text).map_or(Qty::new(*g, "g/day"), |p| p.qty()),
            ),
        );
    }
    for (cation, v) in &rx.cations {
        record
            .outputs
            .insert(format!("{cation}_meq_per_day"), Qty::new(*v, "mEq/day"));
    }
    Ok(record)
}

fn field_error(e: InputError) -> AppError {
    let field = e.field.clone();
    let mapped = match field.as_str() {
        "weight" => "patient.weight".to_string(),
        "volume" | "line" => field,
        "infusion_duration" => "duration".to_string(),
        other => format!("pn.{other}"),
    };
    AppError::Invalid(InputError::new(mapped, e.value, e.message))
}

impl App {
    /// Computes a compounded PN order (see the module): the calculator, then the library check
    /// of each component in the bag. The dose is the bag's volume (mL).
    pub(crate) fn compute_pn(
        &self,
        ctx: &Context,
        params: &OrderParams,
        pn: &Json,
        active_orders: &[ActiveOrder],
        at_us: i64,
    ) -> Result<Computed, AppError> {
        let weight = ctx.weight_kg.as_ref().map(|(w, _)| *w);
        let rx = read_prescription(pn, weight)?;
        let volume = params.volume.clone().ok_or_else(|| {
            AppError::invalid(
                "volume",
                "",
                "required: the bag's volume per day, e.g. '2000 mL'",
            )
        })?;
        let duration = params.duration.clone().unwrap_or_else(|| "24 h".into());
        let mut input = json!({
            "weight": weight.map(|w| format!("{} kg", num_text(w))),
            "volume": volume,
            "infusion_duration": duration,
            "line": params.line.clone().unwrap_or_else(|| "central".into()),
        });
        if weight.is_none() {
            input.as_object_mut().map(|o| o.remove("weight"));
        }
        for (key, g, _) in &rx.grams {
            input[*key] = json!(format!("{} g", num_text(*g)));
        }
        if !rx.cations.is_empty() {
            let total: f64 = rx.cations.iter().map(|(_, v)| v).sum();
            input["cations"] = json!(format!("{} mEq", num_text(total)));
        }
        let c = calc::run("parenteral-nutrition", &input).map_err(field_error)?;
        let mut findings: Vec<Finding> = c.findings.clone();
        let record = bag_record(&c, &rx)?;
        let (checks, check_findings) =
            self.check_components(ctx, params, &rx, active_orders, at_us)?;
        findings.extend(check_findings);
        let rate_calc = calc::run(
            "infusion-rate",
            &json!({"volume": volume, "duration": duration}),
        )
        .map_err(AppError::Invalid)?;
        let volume_ml = parse_quantity(&volume)
            .and_then(|q| q.value_in("mL"))
            .map_err(|e| AppError::invalid("volume", volume.clone(), e.to_string()))?;
        let duration_h = parse_quantity(&duration)
            .and_then(|q| q.value_in("h"))
            .map_err(|e| AppError::invalid("duration", duration.clone(), e.to_string()))?;
        let rate = rate_calc.outputs.get("rate").map(|q| q.value);
        let verdict = if findings.iter().any(|f| f.severity == Severity::HardStop) {
            "hard_stop"
        } else if findings.iter().any(|f| f.severity == Severity::Warning) {
            "warning"
        } else {
            "ok"
        };
        Ok(Computed {
            dose: volume_ml,
            dose_unit: "mL".into(),
            volume_ml: Some(volume_ml),
            rate_ml_per_h: rate,
            duration_h: Some(duration_h),
            verdict: verdict.into(),
            derivation: OrderDerivation {
                request: params.clone(),
                patient: PatientBasis {
                    age_y: ctx.age_y,
                    sex: ctx.sex.clone(),
                    weight_kg: ctx.weight_kg.as_ref().map(|(w, at)| Measured {
                        value: *w,
                        measured_at: at.clone(),
                    }),
                    height_cm: ctx.height_cm.as_ref().map(|(h, at)| Measured {
                        value: *h,
                        measured_at: at.clone(),
                    }),
                },
                dose_calculation: Some(record),
                rate_calculation: Some(CalculationRecord::of(&rate_calc)?),
                check: checks,
                origin: None,
            },
            findings,
            // Parenteral nutrition is on ISMP's list of high-alert medications.
            high_alert: true,
            double_check: true,
        })
    }

    /// Each component of the bag through the dose-error check of its library entry, in the
    /// bag's volume over its duration on its line; the findings name the component.
    fn check_components(
        &self,
        ctx: &Context,
        params: &OrderParams,
        rx: &PnPrescription,
        active_orders: &[ActiveOrder],
        at_us: i64,
    ) -> Result<(CheckRecord, Vec<Finding>), AppError> {
        let mut inputs = Vec::new();
        let mut steps = Vec::new();
        let mut sources: Vec<SourceRecord> = Vec::new();
        let mut findings = Vec::new();
        let mut worst = "ok";
        let mut patient = ctx.check_json();
        if !active_orders.is_empty() {
            patient["active_orders"] = to_column(&active_orders)?;
        }
        for (key, g, text) in &rx.grams {
            let medication = COMPONENTS
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, m)| *m)
                .unwrap_or_default();
            let mut order = json!({
                "medication": medication,
                "dose": format!("{} g", num_text(*g)),
                "route": params.route,
                "frequency": "q24h",
            });
            if DosePer::parse(text).is_ok_and(|p| p.basis == DoseBasis::PerKg) {
                order["dose_per"] = json!(text);
            }
            for (k, v) in [
                ("volume", &params.volume),
                ("duration", &params.duration),
                ("line", &params.line),
            ] {
                if let Some(v) = v {
                    order[k] = json!(v);
                }
            }
            let check_input = json!({
                "patient": patient,
                "care_area": self.config().care_area,
                "order": order,
                "at": iso_from_us(at_us),
            });
            let result = check_json(self.library(), &check_input).map_err(|e| {
                AppError::Invalid(InputError::new(
                    format!("pn.{key}"),
                    e.value,
                    format!("{} ({})", e.message, e.field),
                ))
            })?;
            for f in &result.findings {
                // Every component shares the bag's patient-level findings (allergies, high
                // alert …): keep one of each code.
                let mut f = f.clone();
                f.message = format!("{medication} in the PN bag: {}", f.message);
                if !findings
                    .iter()
                    .any(|x: &Finding| x.code == f.code && x.message == f.message)
                {
                    findings.push(f);
                }
            }
            let verdict = result.verdict.as_str();
            if verdict == "hard_stop" || (verdict == "warning" && worst == "ok") {
                worst = verdict;
            }
            let record: CheckRecord = serde_json::to_value(json!({
                "input": check_input, "verdict": result.verdict, "steps": result.steps,
                "sources": result.sources, "medication": result.medication,
            }))
            .and_then(serde_json::from_value)
            .map_err(|e| AppError::Internal(format!("PN component check: {e}")))?;
            steps.extend(record.steps);
            for s in record.sources {
                if !sources.iter().any(|x| x.id == s.id) {
                    sources.push(s);
                }
            }
            inputs.push(check_input);
        }
        Ok((
            CheckRecord {
                input: Json::Array(inputs),
                verdict: worst.into(),
                steps,
                sources,
                medication: None,
            },
            findings,
        ))
    }
}
