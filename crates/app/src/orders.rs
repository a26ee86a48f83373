//! Orders: the dose computed by the core engine from the patient's latest measures, the
//! findings of the dose-error check, overrides with reasons, and the views shown to each role.

use std::collections::BTreeMap;

use infusio_core::calc;
use infusio_core::check::check_json;
use infusio_core::derivation::{Calculation, Finding, Severity, Step};
use infusio_core::input::{Fields, InputError};
use infusio_core::units::Qty;
use infusio_store::records::Order;
use infusio_store::{OrderStatus, Stored};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::patients::{Context, number};
use crate::time::iso_from_us;
use crate::{Actor, App, AppError};

/// What a prescriber asks for. Quantities are strings with their units, as in the check
/// contract (`"5 mg/kg"`, `"250 mL"`, `"2 h"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderParams {
    /// Drug-library id, e.g. `infliximab`.
    pub medication: String,
    /// Dose per body measure (`5 mg/kg`, `375 mg/m2`) or a flat dose (`200 mg`); the engine
    /// computes the dose from the patient's latest weight and height.
    pub dose_per: Option<String>,
    /// A flat dose, when `dose_per` is absent.
    pub dose: Option<String>,
    pub weight_basis: Option<String>,
    pub max_dose: Option<String>,
    /// `{"increment": "100 mg", "tolerance_percent": 10}` or `{"vials": [...], ...}`.
    pub rounding: Option<Json>,
    pub route: String,
    pub volume: Option<String>,
    pub duration: Option<String>,
    pub line: Option<String>,
    pub frequency: Option<String>,
    pub infusion_number: Option<u32>,
    pub product: Option<String>,
    pub indication: Option<String>,
    /// A drug outside the library: the pharmacist-entered limit set the check engine applies
    /// (`order.off_library` of the check contract); permitted by `roles::permit_off_library`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off_library: Option<Json>,
    /// For an iron course by the Ganzoni deficit (`dose_per: "ganzoni"`): the target
    /// haemoglobin (`"15 g/dL"`; default by the iron-sucrose label's weight band).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_hemoglobin: Option<String>,
    /// For an iron course by the Ganzoni deficit: the iron stores (`"500 mg"` or `"15 mg/kg"`;
    /// default by the label's weight band).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iron_stores: Option<String>,
    /// A compounded parenteral-nutrition bag (`medication: "parenteral-nutrition"`, no dose):
    /// `{"bag", "dextrose", "amino_acids", "lipid", "electrolytes"}`, see `pn_order`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pn: Option<Json>,
    /// A titrated drug's schedule, by its library id (`first-infusion`); without it,
    /// verification uses the library's schedule for the infusion number (`crate::titrated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub titration: Option<String>,
}

/// A soft-limit override: the warning's code and the prescriber's (or pharmacist's) reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Override {
    pub code: String,
    pub reason: String,
}

impl OrderParams {
    /// Reads the order fields of `f` (the caller reads its own extra fields and calls
    /// `finish`).
    pub fn read(f: &mut Fields) -> Result<OrderParams, AppError> {
        let medication = f
            .opt_string("medication")?
            .filter(|m| !m.trim().is_empty())
            .ok_or_else(|| {
                AppError::invalid(
                    "medication",
                    "",
                    "required: the drug-library id, e.g. 'infliximab'",
                )
            })?;
        let dose_per = f.opt_string("dose_per")?;
        let dose = f.opt_string("dose")?;
        let pn = f.raw("pn").cloned();
        const PN_RULE: &str = "a parenteral-nutrition order is one bag: medication 'parenteral-nutrition' with pn (bag, dextrose, amino_acids, lipid, electrolytes) and the bag's volume, without dose_per or dose";
        if pn.is_some() != (medication.trim() == crate::pn_order::PN_MEDICATION) {
            return Err(AppError::invalid("pn", "", PN_RULE));
        }
        if let (Some(_), Some(given)) = (&pn, dose_per.clone().or(dose.clone())) {
            return Err(AppError::invalid("dose_per", given, PN_RULE));
        }
        if pn.is_none() && dose_per.is_none() == dose.is_none() {
            return Err(AppError::invalid(
                "dose_per",
                dose_per.or(dose).unwrap_or_default(),
                "exactly one of dose_per (e.g. '5 mg/kg', '375 mg/m2') or dose (a flat dose such as '200 mg')",
            ));
        }
        let weight_basis = f.opt_choice(
            "weight_basis",
            &["actual", "ideal", "adjusted", "lean", "auto"],
        )?;
        let max_dose = f.opt_string("max_dose")?;
        let rounding = f.raw("rounding").cloned();
        let route = f
            .opt_string("route")?
            .ok_or_else(|| AppError::invalid("route", "", "required: the route, e.g. 'iv'"))?;
        let volume = f.opt_string("volume")?;
        let duration = f.opt_string("duration")?;
        let line = f.opt_string("line")?;
        let frequency = f.opt_string("frequency")?;
        let infusion_number = match f.opt_number("infusion_number")? {
            None => None,
            Some(n) if (1.0..=1000.0).contains(&n) && n.fract() == 0.0 => Some(n as u32),
            Some(n) => {
                return Err(AppError::invalid(
                    "infusion_number",
                    n.to_string(),
                    "a whole number from 1 to 1000",
                ));
            }
        };
        let product = f.opt_string("product")?;
        let indication = f.opt_string("indication")?;
        let off_library = f.raw("off_library").cloned();
        let target_hemoglobin = f.opt_string("target_hemoglobin")?;
        let iron_stores = f.opt_string("iron_stores")?;
        let titration = f
            .opt_string("titration")?
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        Ok(OrderParams {
            medication: medication.trim().to_string(),
            dose_per,
            dose,
            weight_basis,
            max_dose,
            rounding,
            route,
            volume,
            duration,
            line,
            frequency,
            infusion_number,
            product,
            indication,
            off_library,
            target_hemoglobin,
            iron_stores,
            pn,
            titration,
        })
    }
}

/// Reads `overrides: [{"code", "reason"}]`.
pub fn read_overrides(f: &mut Fields) -> Result<Vec<Override>, AppError> {
    let mut out = Vec::new();
    for (path, item) in f.opt_array("overrides")?.unwrap_or_default() {
        let mut o = Fields::new(item, &path)?;
        let code = o.opt_string("code")?.ok_or_else(|| {
            AppError::invalid(format!("{path}.code"), "", "required: the warning's code")
        })?;
        let reason = o
            .opt_string("reason")?
            .map(|r| r.trim().to_string())
            .filter(|r| r.len() >= 3)
            .ok_or_else(|| {
                AppError::invalid(
                    format!("{path}.reason"),
                    "",
                    "required: the clinical reason for the override (at least 3 characters)",
                )
            })?;
        o.finish()?;
        out.push(Override { code, reason });
    }
    Ok(out)
}

/// The engine's result for an order: the dose, volume and rate with their derivations, and the
/// findings of the check.
#[derive(Debug, Clone, Serialize)]
pub struct Computed {
    pub dose: f64,
    pub dose_unit: String,
    pub volume_ml: Option<f64>,
    pub rate_ml_per_h: Option<f64>,
    pub duration_h: Option<f64>,
    pub verdict: String,
    pub findings: Vec<Finding>,
    pub derivation: OrderDerivation,
    pub high_alert: bool,
    pub double_check: bool,
}

impl Computed {
    /// The findings that block the order.
    pub fn hard_stops(&self) -> Vec<Finding> {
        of_severity(&self.findings, Severity::HardStop)
    }

    /// The findings that need an override with a reason.
    pub fn warnings(&self) -> Vec<Finding> {
        of_severity(&self.findings, Severity::Warning)
    }
}

fn of_severity(findings: &[Finding], severity: Severity) -> Vec<Finding> {
    findings
        .iter()
        .filter(|f| f.severity == severity)
        .cloned()
        .collect()
}

/// Findings as the `findings` array of a blocked step carries them.
pub(crate) fn findings_json(findings: &[Finding]) -> Json {
    Json::Array(
        findings
            .iter()
            .map(|f| json!({"code": f.code, "severity": f.severity.as_str(), "message": f.message}))
            .collect(),
    )
}

fn rename_field(e: InputError, from_prefix: &str, to_prefix: &str) -> AppError {
    let field = match e.field.strip_prefix(from_prefix) {
        Some(rest) => format!("{to_prefix}{rest}"),
        None => e.field,
    };
    AppError::Invalid(InputError::new(field, e.value, e.message))
}

/// A number for a quantity string: up to 6 decimals, no trailing zeros.
pub fn num_text(v: f64) -> String {
    crate::patients::decimal(v)
        .map(|d| d.to_string())
        .unwrap_or_else(|_| v.to_string())
}

impl App {
    /// Computes dose, volume and rate and runs the dose-error check for `params` on the patient
    /// as recorded at `at_us`. `dose_override` checks an already computed dose instead of
    /// computing it again (re-checks at signing and verification).
    #[expect(
        clippy::too_many_lines,
        reason = "order computation: to be split with the typed order command (application-boundary work still open)"
    )]
    pub fn compute(
        &self,
        ctx: &Context,
        params: &OrderParams,
        active_orders: &[ActiveOrder],
        at_us: i64,
        fixed_dose: Option<(f64, &str)>,
    ) -> Result<Computed, AppError> {
        crate::titrated::ordered_schedule(self.library(), params)?;
        if let Some(pn) = &params.pn {
            // One compounded bag: its own calculator and component checks.
            return self.compute_pn(ctx, params, pn, active_orders, at_us);
        }
        let mut findings: Vec<Finding> = Vec::new();
        let mut body = serde_json::Map::new();
        if let Some((w, _)) = ctx.weight_kg {
            body.insert("weight".into(), json!(format!("{w} kg")));
        }
        if let Some((h, _)) = ctx.height_cm {
            body.insert("height".into(), json!(format!("{h} cm")));
        }
        if ctx.sex == "male" || ctx.sex == "female" {
            body.insert("sex".into(), json!(ctx.sex));
        }

        // 1. The dose: from dose_per × the patient's measure, or the flat dose as ordered.
        let formula = crate::dose_basis::formula_of(params);
        let (dose, dose_unit, dose_calc) = if let Some((d, u)) = fixed_dose {
            (d, u.to_string(), None)
        } else if let Some(formula) = &formula {
            // A formula basis (target AUC, desired factor rise): its own calculator.
            let f = crate::dose_basis::formula_dose(self.library(), ctx, params, formula)?;
            findings.extend(f.findings);
            (f.dose, f.unit, Some(f.calculation))
        } else {
            let mut input = body.clone();
            match (&params.dose_per, &params.dose) {
                (Some(per), _) => input.insert("dose_per".into(), json!(per)),
                (None, Some(flat)) => input.insert("dose_per".into(), json!(flat)),
                (None, None) => {
                    return Err(AppError::invalid(
                        "dose_per",
                        "",
                        "required: dose_per or dose",
                    ));
                }
            };
            if let Some(b) = &params.weight_basis {
                input.insert("weight_basis".into(), json!(b));
            }
            let mut cap_step = None;
            if let Some(m) = &params.max_dose {
                let (cap, step) = crate::dose_basis::cap_for_patient(&input, m)?;
                cap_step = step;
                input.insert("max_dose".into(), json!(cap));
            }
            if let Some(r) = &params.rounding {
                input.insert("rounding".into(), r.clone());
            }
            let c = calc::run("dose", &Json::Object(input)).map_err(|e| {
                let field = e.field.clone();
                if ["weight", "height", "sex", "bsa"].contains(&field.as_str()) {
                    AppError::Invalid(InputError::new(
                        format!("patient.{field}"),
                        e.value,
                        format!(
                            "the patient record lacks what this dose needs: {}; record it first",
                            e.message
                        ),
                    ))
                } else if params.dose_per.is_none() && field == "dose_per" {
                    rename_field(e, "dose_per", "dose")
                } else {
                    AppError::Invalid(e)
                }
            })?;
            let q = c
                .outputs
                .get("dose_rounded")
                .or_else(|| c.outputs.get("dose"))
                .cloned()
                .ok_or_else(|| AppError::Internal("the dose calculator returned no dose".into()))?;
            findings.extend(c.findings.iter().cloned());
            let mut record = CalculationRecord::of(&c)?;
            record.steps.splice(0..0, cap_step);
            (q.value, q.unit.clone(), Some(record))
        };

        // 2. The rate from volume and duration.
        let mut volume_ml = None;
        let mut duration_h = None;
        let mut rate = None;
        let mut rate_calc = None;
        if let Some(v) = &params.volume {
            let vol = infusio_core::units::Volume::parse(v).map_err(|e| {
                AppError::invalid(
                    "volume",
                    v.clone(),
                    format!("{e}; expected a volume such as '250 mL'"),
                )
            })?;
            volume_ml = Some(vol.value());
        }
        if let Some(d) = &params.duration {
            let dur = infusio_core::units::Duration::parse(d).map_err(|e| {
                AppError::invalid(
                    "duration",
                    d.clone(),
                    format!("{e}; expected a duration such as '2 h' or '30 min'"),
                )
            })?;
            duration_h = Some(dur.value());
        }
        if let (Some(v), Some(d)) = (&params.volume, &params.duration) {
            let c = calc::run("infusion-rate", &json!({"volume": v, "duration": d}))
                .map_err(AppError::Invalid)?;
            rate = c.outputs.get("rate").map(|q| q.value);
            rate_calc = Some(CalculationRecord::of(&c)?);
        }

        // 3. The dose-error check on the patient as recorded now.
        let mut order = serde_json::Map::new();
        order.insert("medication".into(), json!(params.medication));
        order.insert(
            "dose".into(),
            json!(format!("{} {dose_unit}", num_text(dose))),
        );
        order.insert("route".into(), json!(params.route));
        // A formula's dose_per (an AUC, a factor rise) is no amount per measure: the check
        // reads the dose it gave (and, for carboplatin, derives the AUC back from it).
        if let Some(p) = params.dose_per.as_ref().filter(|_| formula.is_none()) {
            order.insert("dose_per".into(), json!(p));
        }
        for (k, v) in [
            ("volume", &params.volume),
            ("duration", &params.duration),
            ("line", &params.line),
            ("frequency", &params.frequency),
            ("product", &params.product),
            ("indication", &params.indication),
        ] {
            if let Some(v) = v {
                order.insert(k.into(), json!(v));
            }
        }
        if let Some(r) = rate {
            order.insert("rate".into(), json!(format!("{} mL/h", num_text(r))));
        }
        if let Some(n) = params.infusion_number {
            order.insert("infusion_number".into(), json!(n));
        }
        if let Some(l) = &params.off_library {
            order.insert("off_library".into(), l.clone());
        }
        let mut patient = ctx.check_json();
        if !active_orders.is_empty() {
            patient["active_orders"] = to_column(&active_orders)?;
        }
        let check_input = json!({
            "patient": patient,
            "care_area": self.config().care_area,
            "order": Json::Object(order),
            "at": iso_from_us(at_us),
        });
        let result =
            check_json(self.library(), &check_input).map_err(|e| rename_field(e, "order.", ""))?;
        findings.extend(result.findings.iter().cloned());
        let entry = self.library().get(&params.medication);
        let high_alert = entry.is_some_and(|e| e.flags.high_alert);
        let double_check = entry.is_some_and(|e| e.flags.high_alert || e.flags.double_check)
            || params.off_library.is_some();
        let verdict = if findings.iter().any(|f| f.severity == Severity::HardStop) {
            "hard_stop"
        } else if findings.iter().any(|f| f.severity == Severity::Warning) {
            "warning"
        } else {
            "ok"
        };
        Ok(Computed {
            dose,
            dose_unit,
            volume_ml,
            rate_ml_per_h: rate,
            duration_h,
            verdict: verdict.to_string(),
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
                dose_calculation: dose_calc,
                rate_calculation: rate_calc,
                check: stored(
                    "(new)",
                    "check",
                    &json!({"input": check_input, "verdict": result.verdict, "steps": result.steps, "sources": result.sources, "medication": result.medication}),
                )?,
                origin: None,
            },
            findings,
            high_alert,
            double_check,
        })
    }
}

/// Applies the override rule: a hard stop blocks; every warning needs an override with a
/// reason (given now, or earlier for the same code). Returns the overrides to store
/// (with who and when).
pub fn apply_overrides(
    computed: &Computed,
    given: &[Override],
    earlier: &[OverrideRecord],
    actor: &Actor,
    role: &str,
    at_us: i64,
) -> Result<Vec<OverrideRecord>, AppError> {
    let hard = computed.hard_stops();
    if !hard.is_empty() {
        return Err(AppError::Blocked {
            code: "order.hard_stop",
            message: format!(
                "a hard stop blocks this order: {}",
                hard.iter()
                    .map(|f| f.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            findings: findings_json(&hard),
        });
    }
    let warnings = computed.warnings();
    let missing: Vec<Finding> = warnings
        .iter()
        .filter(|w| {
            !given.iter().any(|o| o.code == w.code) && !earlier.iter().any(|e| e.code == w.code)
        })
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(AppError::Blocked {
            code: "order.override_required",
            message: format!(
                "each warning needs an override with a reason: {}",
                missing
                    .iter()
                    .map(|f| f.code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            findings: findings_json(&missing),
        });
    }
    let mut out: Vec<OverrideRecord> = earlier
        .iter()
        .filter(|e| warnings.iter().any(|w| w.code == e.code))
        .cloned()
        .collect();
    // An override for a warning that is not (or no longer) raised has nothing to override and
    // is not stored: a re-computed order may lose a warning its client saw earlier.
    for o in given
        .iter()
        .filter(|o| warnings.iter().any(|w| w.code == o.code))
    {
        out.retain(|e| e.code != o.code);
        out.push(OverrideRecord {
            code: o.code.clone(),
            reason: o.reason.clone(),
            by: actor.user_id.clone(),
            role: role.to_string(),
            at: iso_from_us(at_us),
        });
    }
    Ok(out)
}

/// An order as a client sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderView {
    pub id: String,
    pub version: i64,
    pub patient_id: String,
    pub medication: String,
    pub status: OrderStatus,
    pub prescriber_id: String,
    pub created_at: String,
    pub updated_at: String,
    pub signed_at: Option<String>,
    pub route: String,
    pub high_alert: bool,
    /// `false` when the figures are hidden from a pharmacist who has not yet entered their own
    /// (blind verification).
    pub figures_shown: bool,
    pub dose: Option<DoseView>,
    pub volume_ml: Option<f64>,
    pub rate_ml_per_h: Option<f64>,
    pub pump_programme: Option<PumpProgramme>,
    pub request: OrderParams,
    pub findings: Vec<Finding>,
    pub overrides: Vec<OverrideRecord>,
    pub derivation: Option<OrderDerivation>,
}

impl OrderView {
    /// The full view; `Err` when a stored column of the order cannot be read.
    pub fn full(o: &Stored<Order>) -> Result<OrderView, AppError> {
        let d = &o.data;
        let derivation: OrderDerivation = stored(&o.id, "derivation", &d.derivation_json)?;
        Ok(OrderView {
            id: o.id.clone(),
            version: o.version,
            patient_id: d.patient_id.clone(),
            medication: d.drug_id.clone(),
            status: d.status,
            prescriber_id: d.prescriber_id.clone(),
            created_at: iso_from_us(o.created_at_us),
            updated_at: iso_from_us(o.updated_at_us),
            signed_at: d.signed_at_us.map(iso_from_us),
            route: d.route.clone(),
            high_alert: d.high_alert,
            figures_shown: true,
            dose: Some(DoseView {
                quantity: Qty::new(number(&d.dose), &d.dose_unit),
                text: format!("{} {}", d.dose, d.dose_unit),
            }),
            volume_ml: d.final_volume_ml.as_ref().map(number),
            rate_ml_per_h: d.rate_ml_per_h.as_ref().map(number),
            pump_programme: Some(stored(&o.id, "pump programme", &d.pump_programme_json)?),
            request: derivation.request.clone(),
            findings: stored(&o.id, "findings", &d.findings_json)?,
            overrides: stored(&o.id, "overrides", &d.overrides_json)?,
            derivation: Some(derivation),
        })
    }

    /// The titration schedule computed once, at verification, with the weight then recorded
    /// (see the order's pump programme); `None` before verification or for a drug without
    /// one. The bedside shows this, never a schedule recomputed with a later weight.
    pub fn titration(&self) -> Option<StoredTitration<'_>> {
        let p = self.pump_programme.as_ref()?;
        match (&p.titration, &p.titration_error) {
            (Some(c), _) => Some(StoredTitration::Computed(c)),
            (None, Some(e)) => Some(StoredTitration::Failed(e)),
            (None, None) => None,
        }
    }
}

/// A titration schedule as stored with a verified order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StoredTitration<'a> {
    /// The calculation (steps, derivation, sources) as computed at verification.
    Computed(&'a CalculationRecord),
    /// Why it could not be computed: the field, the value and what is accepted.
    Failed(&'a InputProblem),
}

/// What an order asked for, as a pharmacist verifying blind may see it: what to re-derive
/// from (drug, dose basis, route, indication …) and nothing the prescriber computed. A flat
/// dose is the order itself and stays; a computed one (`dose_per` given) is what the
/// pharmacist re-derives. Volume, duration, rounding and the dose cap are left out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlindRequest {
    pub medication: String,
    pub dose_per: Option<String>,
    /// Only for a flat dose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dose: Option<String>,
    pub weight_basis: Option<String>,
    pub route: String,
    pub line: Option<String>,
    pub frequency: Option<String>,
    pub infusion_number: Option<u32>,
    pub product: Option<String>,
    pub indication: Option<String>,
    /// The inputs of a Ganzoni iron course, as ordered (the pharmacist re-derives from them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_hemoglobin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iron_stores: Option<String>,
    /// A PN bag's prescription (amounts per day), re-derived by the pharmacist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pn: Option<Json>,
}

impl From<&OrderParams> for BlindRequest {
    fn from(p: &OrderParams) -> Self {
        BlindRequest {
            medication: p.medication.clone(),
            dose_per: p.dose_per.clone(),
            dose: if p.dose_per.is_some() {
                None
            } else {
                p.dose.clone()
            },
            weight_basis: p.weight_basis.clone(),
            route: p.route.clone(),
            line: p.line.clone(),
            frequency: p.frequency.clone(),
            infusion_number: p.infusion_number,
            product: p.product.clone(),
            indication: p.indication.clone(),
            target_hemoglobin: p.target_hemoglobin.clone(),
            iron_stores: p.iron_stores.clone(),
            pn: p.pn.clone(),
        }
    }
}

/// An order as a pharmacist sees it before their blind verification. This type has no dose,
/// volume, rate, pump programme, findings or derivation field at all, so no change elsewhere
/// can leak the prescriber's figures into the blind screen without a compiler error here.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlindOrderView {
    pub id: String,
    pub version: i64,
    pub patient_id: String,
    pub medication: String,
    pub status: OrderStatus,
    pub prescriber_id: String,
    pub created_at: String,
    pub updated_at: String,
    pub signed_at: Option<String>,
    pub route: String,
    pub high_alert: bool,
    pub request: BlindRequest,
    pub overrides: Vec<OverrideRecord>,
}

impl BlindOrderView {
    /// The blind view of an order; `Err` when its stored request cannot be read.
    pub fn of(o: &Stored<Order>) -> Result<BlindOrderView, AppError> {
        let d = &o.data;
        let params: OrderParams = stored(&o.id, "request", &d.derivation_json["request"])?;
        Ok(BlindOrderView {
            id: o.id.clone(),
            version: o.version,
            patient_id: d.patient_id.clone(),
            medication: d.drug_id.clone(),
            status: d.status,
            prescriber_id: d.prescriber_id.clone(),
            created_at: iso_from_us(o.created_at_us),
            updated_at: iso_from_us(o.updated_at_us),
            signed_at: d.signed_at_us.map(iso_from_us),
            route: d.route.clone(),
            high_alert: d.high_alert,
            request: BlindRequest::from(&params),
            overrides: stored(&o.id, "overrides", &d.overrides_json)?,
        })
    }
}

/// An order as one viewer may see it: in full, or blind (a pharmacist before verifying).
#[derive(Debug, Clone, PartialEq)]
pub enum OrderSeen {
    // Both boxed: the views differ much in size (the full one carries the derivation).
    Full(Box<OrderView>),
    Blind(Box<BlindOrderView>),
}

impl OrderSeen {
    /// The order as `actor` may see it.
    pub fn for_actor(actor: &Actor, o: &Stored<Order>) -> Result<OrderSeen, AppError> {
        Ok(if must_be_blind(actor, o) {
            OrderSeen::Blind(Box::new(BlindOrderView::of(o)?))
        } else {
            OrderSeen::Full(Box::new(OrderView::full(o)?))
        })
    }

    pub fn id(&self) -> &str {
        match self {
            OrderSeen::Full(v) => &v.id,
            OrderSeen::Blind(v) => &v.id,
        }
    }

    pub fn status(&self) -> OrderStatus {
        match self {
            OrderSeen::Full(v) => v.status,
            OrderSeen::Blind(v) => v.status,
        }
    }

    /// The full view, when the viewer may see the figures.
    pub fn full(&self) -> Option<&OrderView> {
        match self {
            OrderSeen::Full(v) => Some(v),
            OrderSeen::Blind(_) => None,
        }
    }
}

/// Whether `actor` must see `order` blind: a pharmacist (not its prescriber) looking at an
/// order awaiting verification.
pub fn must_be_blind(actor: &Actor, order: &Stored<Order>) -> bool {
    order.data.status == OrderStatus::Signed
        && actor.has(infusio_store::Role::Pharmacist)
        && !actor.has(infusio_store::Role::Prescriber)
        && actor.user_id != order.data.prescriber_id
}

/// The pump programme of an order: one continuous step at the ordered rate (titrated
/// programmes come from the infusion plan).
pub fn pump_programme(c: &Computed) -> PumpProgramme {
    let steps = match (c.rate_ml_per_h, c.volume_ml) {
        (Some(r), Some(v)) => vec![PumpStep {
            rate_ml_per_h: r,
            vtbi_ml: v,
            duration_h: c.duration_h,
        }],
        _ => Vec::new(),
    };
    PumpProgramme {
        steps,
        ..PumpProgramme::default()
    }
}

/// A soft-limit override as stored with an order: the warning's code, the reason, and who
/// gave it, in which role, when (ISO 8601, UTC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverrideRecord {
    pub code: String,
    pub reason: String,
    /// The user id of whoever overrode the warning.
    pub by: String,
    /// Their role when they did (`prescriber`, `pharmacist` …).
    pub role: String,
    pub at: String,
}

/// The ordered dose: the quantity (`{"value", "unit"}`, the unit as stored) and the text
/// `"350 mg"` as the record holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoseView {
    #[serde(flatten)]
    pub quantity: Qty,
    pub text: String,
}

/// One step of a pump programme: a rate until a volume has run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PumpStep {
    pub rate_ml_per_h: f64,
    /// Volume to be infused, mL.
    pub vtbi_ml: f64,
    /// The ordered duration, h, when the order gave one.
    pub duration_h: Option<f64>,
}

/// Which library titration schedule an order uses and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenSchedule {
    pub id: String,
    pub chosen_by: String,
}

/// Why a value could not be computed: the field, the value as given and what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputProblem {
    pub field: String,
    pub value: String,
    pub message: String,
}

/// A source as a stored derivation names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    pub id: String,
    pub citation: String,
}

/// A calculator's result as stored with an order: outputs (unrounded), steps, sources and
/// findings; `details` holds the structured results a calculator adds beside its outputs
/// (`pump_steps`, `vials` …), under their own names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalculationRecord {
    pub calculator: String,
    pub outputs: BTreeMap<String, Qty>,
    pub steps: Vec<Step>,
    pub sources: Vec<SourceRecord>,
    pub findings: Vec<Finding>,
    #[serde(flatten)]
    pub details: serde_json::Map<String, Json>,
}

impl CalculationRecord {
    /// The record of a calculation just computed.
    pub fn of(c: &Calculation) -> Result<CalculationRecord, AppError> {
        serde_json::to_value(c)
            .and_then(serde_json::from_value)
            .map_err(|e| AppError::Internal(format!("calculation {}: {e}", c.calculator)))
    }
}

/// The pump programme of an order: one continuous step at the ordered rate and, from
/// verification on, the library's titration schedule computed then (or why it could not be).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PumpProgramme {
    #[serde(default)]
    pub steps: Vec<PumpStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub titration_schedule: Option<ChosenSchedule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub titration: Option<CalculationRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub titration_error: Option<InputProblem>,
}

/// A measure with the time it was taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    pub value: f64,
    pub measured_at: String,
}

/// The patient as the engine saw them when the order was computed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatientBasis {
    pub age_y: i64,
    pub sex: String,
    pub weight_kg: Option<Measured>,
    pub height_cm: Option<Measured>,
}

/// Which library entry and rule the check used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchedRecord {
    pub id: String,
    pub generic_name: String,
    pub library_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// The dose-error check as run for an order: the check contract's request document as sent
/// (`input`), the verdict, the steps and sources, and the library entry used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRecord {
    pub input: Json,
    /// `ok`, `warning` or `hard_stop`.
    pub verdict: String,
    pub steps: Vec<Step>,
    pub sources: Vec<SourceRecord>,
    /// `null` when the medication is not in the library.
    #[serde(default)]
    pub medication: Option<MatchedRecord>,
}

/// How an order's figures were derived: the request, the patient as recorded, the dose and
/// rate calculations (absent for a dose checked as given) and the dose-error check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderDerivation {
    pub request: OrderParams,
    pub patient: PatientBasis,
    pub dose_calculation: Option<CalculationRecord>,
    pub rate_calculation: Option<CalculationRecord>,
    pub check: CheckRecord,
    /// Where the order came from when not typed by hand (a treatment day's line, a regimen
    /// recommended from levels), with that step's own derivation. Absent on hand-made orders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<crate::order_origin::OrderOrigin>,
}

/// Reads a stored JSON column of order `id` into its type; a row that does not read is an
/// internal error (the record is written only by this crate).
pub(crate) fn stored<T: serde::de::DeserializeOwned>(
    id: &str,
    column: &str,
    v: &Json,
) -> Result<T, AppError> {
    T::deserialize(v)
        .map_err(|e| AppError::Internal(format!("order {id} has an unreadable {column}: {e}")))
}

/// A typed value as a stored JSON column.
pub(crate) fn to_column<T: Serialize>(v: &T) -> Result<Json, AppError> {
    serde_json::to_value(v).map_err(|e| AppError::Internal(format!("cannot store: {e}")))
}

/// Another active order of the patient, as the duplicate-therapy check reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveOrder {
    pub medication: String,
    /// The dose with its unit, e.g. `"350 mg"`.
    pub dose: String,
    pub route: String,
}
