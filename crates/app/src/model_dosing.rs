//! Model-informed dosing to the order in one step: vancomycin levels are fitted (Bayesian MAP,
//! `infusio_pk::contract::assess`) on the doses **as recorded** — each administration's start,
//! its stop, and the share of the bag the pump reported infused — and the regimen the levels
//! view recommends becomes a draft order through the normal order path (all checks), with the
//! fit, the target and the chosen regimen kept in the order's derivation
//! (`derivation.origin.kind = "model_informed"`). A new level refits on what was actually given.

use infusio_core::derivation::Step;
use infusio_core::input::Fields;
use infusio_core::units::{BodyWeight, Qty};
use infusio_pk::contract::{assess, default_search};
use infusio_pk::linear::{LinearParams, RawDose};
use infusio_pk::map::Level;
use infusio_pk::population::{self, Covariates, PopulationModel};
use infusio_pk::regimen::Target;
use infusio_store::records::{Administration, AdministrationEvent, Order};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::commands::NewOrder;
use crate::db::text;
use crate::order_origin::{OrderLink, OrderOrigin};
use crate::orders::{OrderParams, Override, num_text, read_overrides};
use crate::patients::{Context, number};
use crate::time::{iso_from_us, parse_instant};
use crate::workflow::Created;
use crate::{Action, Actor, App, AppError};

/// The population model the vancomycin levels view uses (Goti 2018).
pub const VANCOMYCIN_MODEL: &str = "vancomycin-goti-2018";
/// Regimens ranked and shown: the five best of the contract's default search.
pub const N_REGIMENS: usize = 5;
/// Bag volumes offered for the recommended dose, mL, smallest first (institutional stock).
const BAG_VOLUMES_ML: [f64; 4] = [250.0, 500.0, 750.0, 1000.0];
/// The label's concentration for a peripheral infusion: no more than 5 mg/mL (vancomycin
/// injection US prescribing information, 2.2).
const MAX_CONCENTRATION_MG_PER_ML: f64 = 5.0;
const US_PER_H: f64 = 3_600_000_000.0;

/// One measured serum level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeasuredLevel {
    /// Collection time, µs since the epoch (UTC).
    pub at_us: i64,
    pub concentration_mg_per_l: f64,
}

/// `{"levels": [{"at": ISO 8601 instant, "concentration": "24.5 mg/L"}, …]}` (1 to 10 levels).
#[derive(Debug, Clone, PartialEq)]
pub struct VancomycinLevels {
    pub levels: Vec<MeasuredLevel>,
}

/// The regimen chosen from the recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChosenRegimen {
    pub dose_mg: f64,
    pub interval_h: f64,
    pub duration_h: f64,
}

/// `{"levels": […], "regimen": {"dose": "1250 mg", "every": "12 h", "over": "1.5 h"},
/// ["line": "peripheral" | "central"], ["overrides": [{"code", "reason"}]]}`. The regimen must
/// be one the fit recommends now (refitted on the record at the time of the request).
#[derive(Debug, Clone, PartialEq)]
pub struct RegimenOrder {
    pub levels: Vec<MeasuredLevel>,
    pub regimen: ChosenRegimen,
    pub line: Option<String>,
    pub overrides: Vec<Override>,
}

fn read_levels(f: &mut Fields) -> Result<Vec<MeasuredLevel>, AppError> {
    let items = f.opt_array("levels")?.unwrap_or_default();
    if items.is_empty() || items.len() > 10 {
        return Err(AppError::invalid(
            "levels",
            items.len().to_string(),
            "1 to 10 measured levels, each {\"at\": ISO 8601 instant, \"concentration\": \"<n> mg/L\"}",
        ));
    }
    let mut out = Vec::new();
    for (path, item) in items {
        let mut l = Fields::new(item, &path)?;
        let at = l.opt_string("at")?.unwrap_or_default();
        let at_us = parse_instant(&format!("{path}.at"), &at)?;
        let c = l.quantity("concentration", "a concentration in mg/L", |q| {
            q.value_in("mg/L")
        })?;
        l.finish()?;
        if !(0.0..=200.0).contains(&c) {
            return Err(AppError::invalid(
                format!("{path}.concentration"),
                format!("{c} mg/L"),
                "a concentration from 0 to 200 mg/L",
            ));
        }
        out.push(MeasuredLevel {
            at_us,
            concentration_mg_per_l: c,
        });
    }
    Ok(out)
}

impl TryFrom<&Json> for VancomycinLevels {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let levels = read_levels(&mut f)?;
        f.finish()?;
        Ok(VancomycinLevels { levels })
    }
}

impl TryFrom<&Json> for RegimenOrder {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let levels = read_levels(&mut f)?;
        let mut r = f.opt_object("regimen")?.ok_or_else(|| {
            AppError::invalid(
                "regimen",
                "",
                "required: {\"dose\": \"<n> mg\", \"every\": \"<n> h\", \"over\": \"<n> h\"}, one of the recommended regimens",
            )
        })?;
        let dose_mg = r.quantity("dose", "a dose in mg", |q| q.value_in("mg"))?;
        let interval_h = r.quantity("every", "an interval in h", |q| q.value_in("h"))?;
        let duration_h = r.quantity("over", "an infusion time in h", |q| q.value_in("h"))?;
        r.finish()?;
        let line = f.opt_choice("line", &["peripheral", "central"])?;
        let overrides = read_overrides(&mut f)?;
        f.finish()?;
        Ok(RegimenOrder {
            levels,
            regimen: ChosenRegimen {
                dose_mg,
                interval_h,
                duration_h,
            },
            line,
            overrides,
        })
    }
}

/// One dose as recorded and as the fit uses it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedDose {
    pub order_id: String,
    pub administration_id: String,
    pub started_at: String,
    pub stopped_at: String,
    /// The order's dose.
    pub ordered_mg: f64,
    /// The order's final volume, when it has one.
    pub final_volume_ml: Option<f64>,
    /// The volume the pump reported infused, when it did.
    pub volume_infused_ml: Option<f64>,
    /// The amount the fit uses: the ordered dose × volume infused ÷ final volume (at most the
    /// whole dose), or the ordered dose when no volume was reported.
    pub given_mg: f64,
    pub duration_h: f64,
    /// How `given_mg` was obtained, for people.
    pub basis: String,
}

/// The fitted individual parameters and the fit's quality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitSummary {
    /// `CL 3.1 L/h · V1 45 L …`
    pub individual: String,
    pub typical: String,
    pub objective: f64,
    pub evaluations: usize,
    pub converged: bool,
    /// Individual predictions at the levels' times, mg/L.
    pub predictions_mg_per_l: Vec<f64>,
}

/// A regimen with its predicted steady-state exposure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegimenExposure {
    pub dose_mg: f64,
    pub interval_h: f64,
    pub duration_h: f64,
    pub auc24_mg_h_per_l: f64,
    pub peak_mg_per_l: f64,
    pub trough_mg_per_l: f64,
    pub meets_target: bool,
}

/// The target the regimens are ranked against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetSummary {
    pub auc24_low_mg_h_per_l: f64,
    pub auc24_high_mg_h_per_l: f64,
    pub source: String,
}

/// The fit of a patient's vancomycin levels on the doses as recorded, and the ranked regimens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VancomycinAssessment {
    pub patient_id: String,
    pub model: String,
    pub model_citation: String,
    /// `false` when the model's parameters were not checked against the publication.
    pub model_verified: bool,
    pub weight_kg: f64,
    pub creatinine_clearance_ml_per_min: f64,
    pub covariate_steps: Vec<Step>,
    /// The time the fit counts hours from: the start of the first recorded dose.
    pub origin_at: String,
    pub doses: Vec<RecordedDose>,
    pub levels: Vec<MeasuredLevel>,
    pub fit: FitSummary,
    pub target: TargetSummary,
    /// The last recorded regimen (amount, gap between the last two starts, duration) at
    /// steady state.
    pub current: RegimenExposure,
    pub regimens: Vec<RegimenExposure>,
}

/// What a model-informed order keeps in its derivation: the fit, the target and the choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInformed {
    pub assessment: VancomycinAssessment,
    pub chosen: RegimenExposure,
    /// The bag volume chosen for the dose and why.
    pub volume_step: Step,
}

fn params_text(p: &LinearParams) -> String {
    let n = |v: f64, u: &str| format!("{} {u}", num_text((v * 100.0).round() / 100.0));
    match *p {
        LinearParams::One { cl, v } => format!("CL {} · V {}", n(cl, "L/h"), n(v, "L")),
        LinearParams::Two { cl, v1, q, v2 } => format!(
            "CL {} · V1 {} · Q {} · V2 {}",
            n(cl, "L/h"),
            n(v1, "L"),
            n(q, "L/h"),
            n(v2, "L")
        ),
        LinearParams::Three { cl, v1, .. } => format!("CL {} · V1 {}", n(cl, "L/h"), n(v1, "L")),
    }
}

fn target_summary() -> TargetSummary {
    let (low, high) = match Target::VANCOMYCIN_DEFAULT {
        Target::Auc24 { low, high } => (low, high),
        _ => (400.0, 600.0),
    };
    TargetSummary {
        auc24_low_mg_h_per_l: low,
        auc24_high_mg_h_per_l: high,
        source: "Rybak MJ, et al. Therapeutic monitoring of vancomycin for serious MRSA infections: a revised consensus guideline. Am J Health-Syst Pharm 2020;77:835-864".into(),
    }
}

/// The covariates of the model from the chart: weight and a creatinine in mg/dL.
fn covariates(ctx: &Context) -> Result<(Covariates, Vec<Step>), AppError> {
    let weight = ctx.weight_kg.as_ref().map(|(w, _)| *w).ok_or_else(|| {
        AppError::invalid("patient.weight", "", "a recorded weight; record it first")
    })?;
    let scr = ctx
        .labs
        .iter()
        .find(|(name, ..)| name == "serum_creatinine")
        .ok_or_else(|| {
            AppError::invalid(
                "patient.serum_creatinine",
                "",
                "a recorded serum creatinine; record it first",
            )
        })?;
    if scr.2 != "mg/dL" {
        return Err(AppError::invalid(
            "patient.serum_creatinine",
            format!("{} {}", scr.1, scr.2),
            "a creatinine in mg/dL",
        ));
    }
    let (crcl, steps) = population::cockcroft_gault_for_model(
        ctx.age_y as f64,
        ctx.sex == "female",
        BodyWeight::new(weight),
        scr.1,
    )
    .map_err(|e| AppError::invalid("patient", "", e.to_string()))?;
    Ok((
        Covariates {
            weight: BodyWeight::new(weight),
            crcl,
            dialysis: false,
        },
        steps,
    ))
}

/// The amount given by one administration: the ordered dose scaled by the reported volume.
fn given(ordered_mg: f64, final_volume_ml: Option<f64>, infused_ml: Option<f64>) -> (f64, String) {
    match (final_volume_ml, infused_ml) {
        (Some(v), Some(i)) if v > 0.0 => {
            let share = (i / v).clamp(0.0, 1.0);
            (
                ordered_mg * share,
                format!(
                    "{} mg × {} mL infused ÷ {} mL in the bag",
                    num_text(ordered_mg),
                    num_text(i),
                    num_text(v)
                ),
            )
        }
        _ => (
            ordered_mg,
            "the ordered dose (no infused volume reported)".into(),
        ),
    }
}

impl App {
    /// The patient's finished vancomycin administrations (completed or stopped), oldest first.
    async fn recorded_vancomycin_doses(
        &self,
        patient_id: &str,
    ) -> Result<Vec<RecordedDose>, AppError> {
        let mut tx = self.store().begin_snapshot().await?;
        let orders = tx.find_by::<Order>("patient_id", text(patient_id)).await?;
        let mut out = Vec::new();
        for o in orders.iter().filter(|o| {
            o.data.drug_id == population::model(VANCOMYCIN_MODEL).map_or("vancomycin", |m| m.drug)
        }) {
            let admins = tx
                .find_by::<Administration>("order_id", text(o.id.clone()))
                .await?;
            for a in admins {
                let Some(stop) = a.data.stopped_at_us else {
                    continue;
                };
                let events = tx
                    .find_by::<AdministrationEvent>("administration_id", text(a.id.clone()))
                    .await?;
                let infused = events
                    .iter()
                    .filter_map(|e| e.data.detail_json["volume_infused_ml"].as_f64())
                    .next_back();
                let ordered = number(&o.data.dose);
                let final_volume = o.data.final_volume_ml.as_ref().map(number);
                let (given_mg, basis) = given(ordered, final_volume, infused);
                out.push((
                    a.data.started_at_us,
                    RecordedDose {
                        order_id: o.id.clone(),
                        administration_id: a.id.clone(),
                        started_at: iso_from_us(a.data.started_at_us),
                        stopped_at: iso_from_us(stop),
                        ordered_mg: ordered,
                        final_volume_ml: final_volume,
                        volume_infused_ml: infused,
                        given_mg,
                        duration_h: (stop - a.data.started_at_us) as f64 / US_PER_H,
                        basis,
                    },
                ));
            }
        }
        tx.rollback().await?;
        out.sort_by_key(|(t, _)| *t);
        Ok(out.into_iter().map(|(_, d)| d).collect())
    }

    /// The patient's finished vancomycin administrations as the fit uses them, oldest first.
    pub async fn vancomycin_doses(
        &self,
        actor: &Actor,
        patient_id: &str,
    ) -> Result<Vec<RecordedDose>, AppError> {
        actor.permit(Action::ReadClinical)?;
        self.recorded_vancomycin_doses(patient_id).await
    }

    /// Fits the levels on the doses as recorded and ranks the regimens (read only).
    pub async fn vancomycin_assessment(
        &self,
        actor: &Actor,
        patient_id: &str,
        input: &VancomycinLevels,
    ) -> Result<VancomycinAssessment, AppError> {
        actor.permit(Action::ReadClinical)?;
        self.assess_vancomycin(patient_id, &input.levels).await
    }

    async fn assess_vancomycin(
        &self,
        patient_id: &str,
        levels: &[MeasuredLevel],
    ) -> Result<VancomycinAssessment, AppError> {
        let model = population::model(VANCOMYCIN_MODEL).ok_or_else(|| {
            AppError::Internal(format!("population model {VANCOMYCIN_MODEL} missing"))
        })?;
        let ctx = self.context(patient_id, self.now_us()).await?;
        let (cov, covariate_steps) = covariates(&ctx)?;
        let doses = self.recorded_vancomycin_doses(patient_id).await?;
        let first = doses.first().cloned().ok_or_else(|| {
            AppError::state(
                "pk.no_recorded_dose",
                "no finished vancomycin administration is recorded for this patient: the fit uses the doses as given",
            )
        })?;
        let origin_us = parse_instant("doses[0].started_at", &first.started_at)?;
        let raw = raw_doses(&doses, origin_us)?;
        let pk_levels: Vec<Level> = levels
            .iter()
            .map(|l| Level {
                time_h: (l.at_us - origin_us) as f64 / US_PER_H,
                concentration_mg_per_l: l.concentration_mg_per_l,
            })
            .collect();
        if let Some((i, _)) = pk_levels.iter().enumerate().find(|(_, l)| l.time_h < 0.0) {
            return Err(AppError::invalid(
                format!("levels[{i}].at"),
                iso_from_us(levels[i].at_us),
                format!(
                    "a time after the first recorded dose ({})",
                    first.started_at
                ),
            ));
        }
        run_assessment(model, &cov, &raw, &pk_levels).map(|(fit, current, regimens)| {
            VancomycinAssessment {
                patient_id: patient_id.to_string(),
                model: model.id.to_string(),
                model_citation: model.source.citation.to_string(),
                model_verified: model.verified,
                weight_kg: cov.weight.value(),
                creatinine_clearance_ml_per_min: cov.crcl.value(),
                covariate_steps,
                origin_at: first.started_at.clone(),
                doses,
                levels: levels.to_vec(),
                fit,
                target: target_summary(),
                current,
                regimens,
            }
        })
    }

    /// Creates a draft vancomycin order for a regimen the levels view recommends, refitted on
    /// the record now; the fit, the target and the regimen are kept in its derivation. The
    /// order goes through every check of [`App::create_order`].
    pub async fn order_vancomycin_regimen(
        &self,
        actor: &Actor,
        patient_id: &str,
        input: &RegimenOrder,
        idempotency_key: Option<&str>,
    ) -> Result<Created, AppError> {
        actor.permit(Action::CreateOrder)?;
        let assessment = self.assess_vancomycin(patient_id, &input.levels).await?;
        let r = input.regimen;
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs().max(1.0);
        let chosen = assessment
            .regimens
            .iter()
            .find(|c| {
                close(c.dose_mg, r.dose_mg)
                    && close(c.interval_h, r.interval_h)
                    && close(c.duration_h, r.duration_h)
            })
            .cloned()
            .ok_or_else(|| {
                AppError::invalid(
                    "regimen",
                    format!(
                        "{} mg every {} h over {} h",
                        num_text(r.dose_mg),
                        num_text(r.interval_h),
                        num_text(r.duration_h)
                    ),
                    format!(
                        "one of the regimens recommended now: {}",
                        assessment
                            .regimens
                            .iter()
                            .map(|c| format!(
                                "{} mg every {} h over {} h",
                                num_text(c.dose_mg),
                                num_text(c.interval_h),
                                num_text(c.duration_h)
                            ))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                )
            })?;
        let (volume_ml, volume_step) = bag_volume(chosen.dose_mg)?;
        let params = OrderParams {
            medication: "vancomycin".into(),
            dose_per: None,
            dose: Some(format!("{} mg", num_text(chosen.dose_mg))),
            weight_basis: None,
            max_dose: None,
            rounding: None,
            route: "iv".into(),
            volume: Some(format!("{} mL", num_text(volume_ml))),
            duration: Some(format!("{} h", num_text(chosen.duration_h))),
            line: input.line.clone(),
            frequency: Some(format!("q{}h", num_text(chosen.interval_h))),
            infusion_number: None,
            product: None,
            indication: Some("maintenance".into()),
            off_library: None,
            target_hemoglobin: None,
            iron_stores: None,
            pn: None,
            titration: None,
        };
        let order = NewOrder {
            patient_id: patient_id.to_string(),
            params,
            overrides: input.overrides.clone(),
        };
        let link = OrderLink {
            therapy_plan_id: None,
            origin: Some(OrderOrigin::ModelInformed(Box::new(ModelInformed {
                assessment,
                chosen,
                volume_step,
            }))),
        };
        self.create_order_linked(actor, &order, idempotency_key, link)
            .await
    }
}

/// The recorded doses in hours from `origin_us`.
fn raw_doses(doses: &[RecordedDose], origin_us: i64) -> Result<Vec<RawDose>, AppError> {
    doses
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let t = parse_instant(&format!("doses[{i}].started_at"), &d.started_at)?;
            Ok(RawDose {
                time: (t - origin_us) as f64 / US_PER_H,
                amount: d.given_mg,
                // A stop recorded within the same minute as the start is an infusion the
                // record cannot time; the fit refuses a zero duration, so one minute is used.
                duration: d.duration_h.max(1.0 / 60.0),
            })
        })
        .collect()
}

type Assessed = (FitSummary, RegimenExposure, Vec<RegimenExposure>);

fn run_assessment(
    model: &PopulationModel,
    cov: &Covariates,
    doses: &[RawDose],
    levels: &[Level],
) -> Result<Assessed, AppError> {
    let a = assess(
        model,
        cov,
        doses,
        levels,
        None,
        Some(&default_search(model)),
        N_REGIMENS,
    )
    .map_err(|e| {
        let field = match e.input {
            "observations" => "levels",
            "covariates" => "patient",
            other => other,
        };
        AppError::invalid(field, "", e.reason.to_string())
    })?;
    let fit = a
        .fit
        .ok_or_else(|| AppError::invalid("levels", "", "at least one measured level"))?;
    let summary = FitSummary {
        individual: params_text(&fit.individual),
        typical: params_text(&fit.typical),
        objective: fit.objective,
        evaluations: fit.evaluations,
        converged: fit.converged,
        predictions_mg_per_l: fit.predictions.clone(),
    };
    let current = RegimenExposure {
        dose_mg: a.regimen.dose_mg,
        interval_h: a.regimen.interval_h,
        duration_h: a.regimen.duration_h,
        auc24_mg_h_per_l: a.exposure.auc24_steady_state,
        peak_mg_per_l: a.exposure.cmax_steady_state,
        trough_mg_per_l: a.exposure.cmin_steady_state,
        meets_target: false,
    };
    let regimens = a
        .candidates
        .iter()
        .map(|c| RegimenExposure {
            dose_mg: c.regimen.dose_mg,
            interval_h: c.regimen.interval_h,
            duration_h: c.regimen.duration_h,
            auc24_mg_h_per_l: c.auc24,
            peak_mg_per_l: c.cmax,
            trough_mg_per_l: c.cmin,
            meets_target: c.meets_target,
        })
        .collect();
    Ok((summary, current, regimens))
}

/// The smallest stocked bag that keeps the concentration within the label's 5 mg/mL.
fn bag_volume(dose_mg: f64) -> Result<(f64, Step), AppError> {
    let v = BAG_VOLUMES_ML
        .iter()
        .copied()
        .find(|v| dose_mg / v <= MAX_CONCENTRATION_MG_PER_ML)
        .ok_or_else(|| {
            AppError::invalid(
                "regimen.dose",
                format!("{} mg", num_text(dose_mg)),
                "a dose that fits a 1,000 mL bag at no more than 5 mg/mL",
            )
        })?;
    let step = Step::new(
        "Bag volume: the smallest stocked bag (250, 500, 750, 1,000 mL) at no more than 5 mg/mL (vancomycin injection US prescribing information, 2.2)",
        "volume = min { V in stock : dose / V <= 5 mg/mL }",
        Qty::new(v, "mL"),
    );
    Ok((v, step))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_amount_given_follows_the_volume_infused() {
        assert_eq!(given(1000.0, Some(250.0), Some(125.0)).0, 500.0);
        // More than the bag (priming, overfill) never counts as more than the dose.
        assert_eq!(given(1000.0, Some(250.0), Some(260.0)).0, 1000.0);
        assert_eq!(given(1000.0, Some(250.0), None).0, 1000.0);
        assert_eq!(given(1000.0, None, Some(100.0)).0, 1000.0);
    }

    #[test]
    fn the_bag_keeps_the_label_concentration() {
        assert_eq!(bag_volume(1000.0).map(|x| x.0).ok(), Some(250.0));
        assert_eq!(bag_volume(1250.0).map(|x| x.0).ok(), Some(250.0));
        assert_eq!(bag_volume(1500.0).map(|x| x.0).ok(), Some(500.0));
        assert_eq!(bag_volume(4000.0).map(|x| x.0).ok(), Some(1000.0));
        assert!(bag_volume(5500.0).is_err());
    }
}
