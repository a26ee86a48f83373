//! The pump programme: what the UI shows, the scheduler times and the pump interface sends
//! (IHE PCD-03 later): drug, concentration, VTBI, care area, the titration steps and the library
//! rate limits they are checked against.

use serde::Serialize;

use super::titration::{PumpStep, TitrationPlan};
use crate::derivation::{Finding, Severity};
use crate::units::Qty;

/// A rate limit from the drug library, in mL/h or in the unit of the steps' `dose_rate`
/// (`mg/h`, `mg/kg/min`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RateLimit {
    pub unit: String,
    pub soft_max: Option<f64>,
    pub hard_max: Option<f64>,
    /// Citation of the limit.
    pub source: String,
}

/// A complete pump programme.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PumpProgramme {
    /// Drug-library id.
    pub medication: String,
    pub product: Option<String>,
    /// Amount per mL in the bag.
    pub concentration: Qty,
    pub vtbi_ml: f64,
    pub care_area: String,
    pub steps: Vec<PumpStep>,
    pub duration_h: f64,
    pub limits: Vec<RateLimit>,
    /// Body weight for per-kg limits (mL/kg/h), when known.
    pub weight_kg: Option<f64>,
}

impl PumpProgramme {
    /// Builds the programme from a titration plan. The steps' VTBI add up to the bag volume by
    /// construction of [`super::titration::plan`]; this is asserted, since a programme that
    /// does not empty the bag (or overruns it) is a programming error.
    pub fn from_plan(
        medication: &str,
        product: Option<&str>,
        concentration: Qty,
        care_area: &str,
        plan: &TitrationPlan,
        limits: Vec<RateLimit>,
        weight_kg: Option<f64>,
    ) -> PumpProgramme {
        let vtbi: f64 = plan.steps.iter().map(|s| s.vtbi_ml).sum();
        assert!(
            (vtbi - plan.total_volume.value()).abs() <= 1e-6 * plan.total_volume.value().max(1.0),
            "pump steps infuse {vtbi} mL of a {} mL bag",
            plan.total_volume.value()
        );
        PumpProgramme {
            medication: medication.to_string(),
            product: product.map(str::to_string),
            concentration,
            vtbi_ml: plan.total_volume.value(),
            care_area: care_area.to_string(),
            steps: plan.steps.clone(),
            duration_h: plan.duration.value(),
            limits,
            weight_kg,
        }
    }

    /// Checks every step against the limits: above `soft_max` is a warning (override with a
    /// reason), above `hard_max` a hard stop. A limit in a unit the steps do not carry is
    /// reported once as `info`, never silently skipped.
    pub fn check_limits(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        for limit in &self.limits {
            let value_of = |s: &PumpStep| -> Option<f64> {
                if limit.unit == "mL/h" {
                    Some(s.rate_ml_per_h)
                } else if limit.unit == "mL/kg/h" {
                    self.weight_kg.map(|w| s.rate_ml_per_h / w)
                } else if s.dose_rate.unit == limit.unit {
                    Some(s.dose_rate.value)
                } else {
                    None
                }
            };
            if self.steps.iter().any(|s| value_of(s).is_none()) {
                out.push(Finding::new(
                    "pump.limit_not_comparable",
                    Severity::Info,
                    format!(
                        "the library limit in {} cannot be compared with steps in mL/h and {}",
                        limit.unit,
                        self.steps
                            .first()
                            .map(|s| s.dose_rate.unit.as_str())
                            .unwrap_or("-")
                    ),
                ));
                continue;
            }
            for (i, s) in self.steps.iter().enumerate() {
                let Some(v) = value_of(s) else { continue };
                if let Some(h) = limit.hard_max
                    && v > h * (1.0 + 1e-9)
                {
                    out.push(Finding::new(
                        "pump.rate_above_hard_max",
                        Severity::HardStop,
                        format!(
                            "step {} runs at {} {}, above the hard maximum {} {}",
                            i + 1,
                            crate::units::format_number(v, 3),
                            limit.unit,
                            crate::units::format_number(h, 3),
                            limit.unit
                        ),
                    ));
                } else if let Some(sm) = limit.soft_max
                    && v > sm * (1.0 + 1e-9)
                {
                    out.push(Finding::new(
                        "pump.rate_above_soft_max",
                        Severity::Warning,
                        format!(
                            "step {} runs at {} {}, above the soft maximum {} {} (override with a reason)",
                            i + 1,
                            crate::units::format_number(v, 3),
                            limit.unit,
                            crate::units::format_number(sm, 3),
                            limit.unit
                        ),
                    ));
                }
            }
        }
        out
    }
}
