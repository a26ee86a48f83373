//! Orders: the dose computed by the core engine from the patient's latest measures, the
//! findings of the dose-error check, overrides with reasons, and the views shown to each role.

use infusio_core::calc;
use infusio_core::check::check_json;
use infusio_core::input::{Fields, InputError};
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
        if dose_per.is_none() == dose.is_none() {
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
    pub findings: Vec<Json>,
    pub derivation: Json,
    pub high_alert: bool,
    pub double_check: bool,
}

impl Computed {
    pub fn hard_stops(&self) -> Vec<Json> {
        self.findings
            .iter()
            .filter(|f| f["severity"] == "hard_stop")
            .cloned()
            .collect()
    }

    pub fn warnings(&self) -> Vec<Json> {
        self.findings
            .iter()
            .filter(|f| f["severity"] == "warning")
            .cloned()
            .collect()
    }
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
        active_orders: &[Json],
        at_us: i64,
        fixed_dose: Option<(f64, &str)>,
    ) -> Result<Computed, AppError> {
        let mut findings: Vec<Json> = Vec::new();
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
        let (dose, dose_unit, dose_calc) = if let Some((d, u)) = fixed_dose {
            (d, u.to_string(), Json::Null)
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
            if let Some(m) = &params.max_dose {
                input.insert("max_dose".into(), json!(m));
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
            for f in &c.findings {
                findings.push(serde_json::to_value(f).unwrap_or(Json::Null));
            }
            (
                q.value,
                q.unit.clone(),
                serde_json::to_value(&c).unwrap_or(Json::Null),
            )
        };

        // 2. The rate from volume and duration.
        let mut volume_ml = None;
        let mut duration_h = None;
        let mut rate = None;
        let mut rate_calc = Json::Null;
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
            rate_calc = serde_json::to_value(&c).unwrap_or(Json::Null);
        }

        // 3. The dose-error check on the patient as recorded now.
        let mut order = serde_json::Map::new();
        order.insert("medication".into(), json!(params.medication));
        order.insert(
            "dose".into(),
            json!(format!("{} {dose_unit}", num_text(dose))),
        );
        order.insert("route".into(), json!(params.route));
        if let Some(p) = &params.dose_per {
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
            patient["active_orders"] = Json::Array(active_orders.to_vec());
        }
        let check_input = json!({
            "patient": patient,
            "care_area": self.config().care_area,
            "order": Json::Object(order),
            "at": iso_from_us(at_us),
        });
        let result =
            check_json(self.library(), &check_input).map_err(|e| rename_field(e, "order.", ""))?;
        for f in &result.findings {
            findings.push(serde_json::to_value(f).unwrap_or(Json::Null));
        }
        let entry = self.library().get(&params.medication);
        let high_alert = entry.is_some_and(|e| e.flags.high_alert);
        let double_check = entry.is_some_and(|e| e.flags.high_alert || e.flags.double_check)
            || params.off_library.is_some();
        let verdict = if findings.iter().any(|f| f["severity"] == "hard_stop") {
            "hard_stop"
        } else if findings.iter().any(|f| f["severity"] == "warning") {
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
            derivation: json!({
                "request": params,
                "patient": {
                    "age_y": ctx.age_y,
                    "sex": ctx.sex,
                    "weight_kg": ctx.weight_kg.as_ref().map(|(w, at)| json!({"value": w, "measured_at": at})),
                    "height_cm": ctx.height_cm.as_ref().map(|(h, at)| json!({"value": h, "measured_at": at})),
                },
                "dose_calculation": dose_calc,
                "rate_calculation": rate_calc,
                "check": {"input": check_input, "verdict": result.verdict, "steps": result.steps, "sources": result.sources, "medication": result.medication},
            }),
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
    earlier: &Json,
    actor: &Actor,
    role: &str,
    at_us: i64,
) -> Result<Json, AppError> {
    let hard = computed.hard_stops();
    if !hard.is_empty() {
        return Err(AppError::Blocked {
            code: "order.hard_stop",
            message: format!(
                "a hard stop blocks this order: {}",
                hard.iter()
                    .filter_map(|f| f["message"].as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            findings: Json::Array(hard),
        });
    }
    let warnings = computed.warnings();
    let earlier: Vec<Json> = earlier.as_array().cloned().unwrap_or_default();
    let missing: Vec<Json> = warnings
        .iter()
        .filter(|w| {
            let code = w["code"].as_str().unwrap_or_default();
            !given.iter().any(|o| o.code == code) && !earlier.iter().any(|e| e["code"] == code)
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
                    .filter_map(|f| f["code"].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            findings: Json::Array(missing),
        });
    }
    let mut out: Vec<Json> = earlier
        .into_iter()
        .filter(|e| warnings.iter().any(|w| w["code"] == e["code"]))
        .collect();
    // An override for a warning that is not (or no longer) raised has nothing to override and
    // is not stored: a re-computed order may lose a warning its client saw earlier.
    for o in given
        .iter()
        .filter(|o| warnings.iter().any(|w| w["code"] == o.code.as_str()))
    {
        out.retain(|e| e["code"] != o.code.as_str());
        out.push(json!({"code": o.code, "reason": o.reason, "by": actor.user_id, "role": role, "at": iso_from_us(at_us)}));
    }
    Ok(Json::Array(out))
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
    pub dose: Option<Json>,
    pub volume_ml: Option<f64>,
    pub rate_ml_per_h: Option<f64>,
    pub pump_programme: Option<Json>,
    pub request: Json,
    pub findings: Json,
    pub overrides: Json,
    pub derivation: Option<Json>,
}

impl OrderView {
    /// The full view.
    pub fn full(o: &Stored<Order>) -> OrderView {
        let d = &o.data;
        OrderView {
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
            dose: Some(
                json!({"value": number(&d.dose), "unit": d.dose_unit, "text": format!("{} {}", d.dose, d.dose_unit)}),
            ),
            volume_ml: d.final_volume_ml.as_ref().map(number),
            rate_ml_per_h: d.rate_ml_per_h.as_ref().map(number),
            pump_programme: Some(d.pump_programme_json.clone()),
            request: d.derivation_json["request"].clone(),
            findings: d.findings_json.clone(),
            overrides: d.overrides_json.clone(),
            derivation: Some(d.derivation_json.clone()),
        }
    }

    /// The titration schedule computed once, at verification, with the weight then recorded
    /// (see the order's pump programme); `None` before verification or for a drug without
    /// one. The bedside shows this, never a schedule recomputed with a later weight.
    pub fn titration(&self) -> Option<StoredTitration<'_>> {
        let p = self.pump_programme.as_ref()?;
        match (p.get("titration"), p.get("titration_error")) {
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
    Computed(&'a Json),
    /// Why it could not be computed: `{"field", "value", "message"}`.
    Failed(&'a Json),
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
    pub overrides: Json,
}

impl BlindOrderView {
    /// The blind view of an order; `Err` when its stored request cannot be read.
    pub fn of(o: &Stored<Order>) -> Result<BlindOrderView, AppError> {
        let d = &o.data;
        let params: OrderParams = serde_json::from_value(d.derivation_json["request"].clone())
            .map_err(|e| {
                AppError::Internal(format!("order {} has an unreadable request: {e}", o.id))
            })?;
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
            overrides: d.overrides_json.clone(),
        })
    }
}

/// An order as one viewer may see it: in full, or blind (a pharmacist before verifying).
#[derive(Debug, Clone, PartialEq)]
pub enum OrderSeen {
    Full(OrderView),
    Blind(BlindOrderView),
}

impl OrderSeen {
    /// The order as `actor` may see it.
    pub fn for_actor(actor: &Actor, o: &Stored<Order>) -> Result<OrderSeen, AppError> {
        Ok(if must_be_blind(actor, o) {
            OrderSeen::Blind(BlindOrderView::of(o)?)
        } else {
            OrderSeen::Full(OrderView::full(o))
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
pub fn pump_programme(c: &Computed) -> Json {
    match (c.rate_ml_per_h, c.volume_ml) {
        (Some(r), Some(v)) => {
            json!({"steps": [{"rate_ml_per_h": r, "vtbi_ml": v, "duration_h": c.duration_h}]})
        }
        _ => json!({"steps": []}),
    }
}
