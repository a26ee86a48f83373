//! Dose-error reduction: checks an order against the drug library and the patient.
//!
//! The engine ([`check`]) takes a parsed [`CheckRequest`] and a loaded [`Library`] and returns
//! findings, never errors: an over-limit dose is a normal result. Each finding has a stable
//! dotted code (see [`FINDING_CODES`]), a severity (`info`; `warning` = outside a soft limit,
//! override with a reason; `hard_stop` = outside a hard limit) and a message that carries the
//! numbers. The verdict is the most severe finding; an order with only `info` findings is
//! `ok`. A value the check needs but the input lacks is reported, never assumed.

pub mod allergy;
mod engine;
pub mod growth;
pub mod request;
pub mod time;

use serde::Serialize;
use serde_json::Value;

pub use engine::check;
pub use request::{
    CheckRequest, FUTURE_TOLERANCE_H, Frequency, LAB_PLAUSIBLE, OffLibraryLimits, Order, Patient,
    normalize_medication,
};

use crate::derivation::{Finding, Severity, Step};
use crate::input::InputError;
use crate::library::Library;
use crate::units::{MonovalentConcentration, SerumCreatinine, parse_quantity};

/// Laboratory results the check understands, with their canonical unit.
pub const LAB_NAMES: [(&str, &str); 20] = [
    ("serum_creatinine", "mg/dL"),
    ("anc", "10*9/L"),
    ("wbc", "10*9/L"),
    ("platelets", "10*9/L"),
    ("lymphocytes", "10*9/L"),
    ("hemoglobin", "g/dL"),
    ("potassium", "mEq/L"),
    ("sodium", "mEq/L"),
    ("magnesium", "mg/dL"),
    ("calcium", "mg/dL"),
    ("phosphate", "mg/dL"),
    ("glucose", "mg/dL"),
    ("triglycerides", "mg/dL"),
    ("bilirubin", "mg/dL"),
    ("ast", "units/L"),
    ("alt", "units/L"),
    ("albumin", "g/dL"),
    ("ferritin", "ng/mL"),
    ("transferrin_saturation", "%"),
    ("factor_level", "%"),
];

/// Screening tests recorded in `patient.screening`.
pub const SCREENING_TESTS: [&str; 2] = ["hepatitis_b", "tuberculosis"];
/// Accepted screening results.
pub const SCREENING_RESULTS: [&str; 4] = ["negative", "positive", "pending", "indeterminate"];

/// The canonical unit of a lab, or `None` for an unknown lab.
pub fn lab_unit(name: &str) -> Option<&'static str> {
    LAB_NAMES.iter().find(|(n, _)| *n == name).map(|(_, u)| *u)
}

/// Converts a lab result (`"1.8 10*9/L"`, `"106 umol/L"`, `"3.1 mmol/L"`) to the lab's
/// canonical unit; the error says what is accepted.
pub fn lab_value(name: &str, text: &str) -> Result<f64, String> {
    let unit = lab_unit(name).ok_or_else(|| format!("unknown lab '{name}'"))?;
    let q = parse_quantity(text).map_err(|e| format!("{e}; expected a result in {unit}"))?;
    let v = match name {
        "serum_creatinine" => SerumCreatinine::from_quantity(&q).map(|s| s.value()),
        "potassium" | "sodium" => MonovalentConcentration::from_quantity(&q).map(|s| s.value()),
        "anc" | "wbc" | "platelets" | "lymphocytes" => {
            q.value_in(unit).or_else(|_| q.value_in("10*9/L"))
        }
        _ => q.value_in(unit),
    }
    .map_err(|e| format!("{e}; expected a result in {unit}"))?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(format!("a result must be a number ≥ 0 in {unit}"));
    }
    Ok(v)
}

/// The verdict of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Ok,
    Warning,
    HardStop,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warning => "warning",
            Verdict::HardStop => "hard_stop",
        }
    }

    /// The most severe finding; only `info` (or nothing) is `ok`.
    pub fn of(findings: &[Finding]) -> Verdict {
        match findings.iter().map(|f| f.severity).max() {
            Some(Severity::HardStop) => Verdict::HardStop,
            Some(Severity::Warning) => Verdict::Warning,
            _ => Verdict::Ok,
        }
    }
}

/// A citation as printed with a check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckSource {
    pub id: String,
    pub citation: String,
}

/// What the library entry and rule were used.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Matched {
    pub id: String,
    pub generic_name: String,
    pub library_version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// The result of `infusio check`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckResult {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub steps: Vec<Step>,
    pub sources: Vec<CheckSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub medication: Option<Matched>,
}

impl CheckResult {
    /// Whether a finding with this code is present.
    pub fn has(&self, code: &str) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }
}

/// Reads the JSON input of the contract and checks it.
pub fn check_json(library: &Library, input: &Value) -> Result<CheckResult, InputError> {
    let request = CheckRequest::from_json(input)?;
    Ok(check(library, &request))
}

/// Every finding code the check can emit, with its meaning.
pub const FINDING_CODES: &[(&str, &str)] = &[
    (
        "medication.unknown",
        "warning: the medication is not in the drug library; no limit could be checked (with medication.off_library_required unless the order carries a pharmacist-entered limit set)",
    ),
    (
        "medication.off_library_required",
        "hard_stop: a medication outside the library is ordered only with a limit set entered by a pharmacist (order.off_library)",
    ),
    (
        "medication.off_library",
        "warning: ordered outside the library, checked only against the limit set a pharmacist entered",
    ),
    (
        "order.indication_unstated",
        "warning (info when no consistent rule would have stopped the order): no indication given and several rules fit the order; names the rule assumed, the one that alarms least",
    ),
    (
        "order.indication_unknown",
        "warning: order.indication is not a rule id of the drug; every consistent rule was tried",
    ),
    (
        "order.indication_not_applicable",
        "warning: the named indication's rule excludes this patient or infusion (age, weight, care area, infusion number)",
    ),
    (
        "order.product_missing",
        "warning: the drug's orders must name a product (rate ramps and maxima differ by brand)",
    ),
    (
        "rule.eligibility",
        "warning: the rule used (e.g. the rituximab 90-minute infusion) needs the patient's eligibility confirmed",
    ),
    (
        "route.conditional",
        "per library: the route is not a standard route but the library allows it under named conditions",
    ),
    (
        "patient.measure_missing",
        "warning: limits for age or weight bands exist but the age or weight is missing",
    ),
    (
        "dose.per_kg.below_hard_min",
        "hard_stop: a flat dose per kg of body weight below the hard minimum",
    ),
    (
        "dose.per_kg.below_soft_min",
        "warning: a flat dose per kg of body weight below the soft minimum",
    ),
    (
        "dose.per_kg.above_soft_max",
        "warning: a flat dose per kg of body weight above the soft maximum",
    ),
    (
        "dose.per_kg.above_hard_max",
        "hard_stop: a flat dose per kg of body weight above the hard maximum (ferric carboxymaltose to a child)",
    ),
    (
        "dose.window.below_hard_min",
        "hard_stop: the doses in the rolling window are below the hard minimum",
    ),
    (
        "dose.window.below_soft_min",
        "warning: the doses in the rolling window are below the soft minimum",
    ),
    (
        "dose.window.above_soft_max",
        "warning: the doses in the rolling window (per cycle) are above the soft maximum",
    ),
    (
        "dose.window.above_hard_max",
        "hard_stop: the doses in the rolling window (per cycle) are above the hard maximum (cisplatin 100 mg/m2 daily)",
    ),
    (
        "dose.window.history_undated",
        "info: earlier doses without a time could not be placed in the rolling window",
    ),
    (
        "lab.dated_in_future",
        "warning: a lab result is dated after the check's time; it was not used",
    ),
    (
        "patient.history_dated_in_future",
        "warning: an earlier administration is dated after the check's time",
    ),
    (
        "order.product_unknown",
        "warning: order.product is not a product of this library entry",
    ),
    (
        "order.product_of_other_drug",
        "hard_stop: the product named belongs to another library entry (an SC-only immune globulin ordered as IVIG), whose label limits would not apply",
    ),
    (
        "order.rule_not_found",
        "warning: no dosing rule of the entry matches the indication, care area or age",
    ),
    (
        "order.dose_mismatch",
        "warning: the dose differs by more than 10% from dose_per × the patient's measure",
    ),
    (
        "order.basis_differs",
        "info: dose_per is expressed on another basis than the library rule",
    ),
    (
        "order.rate_inconsistent",
        "warning: volume ÷ rate differs by more than 10% from the stated duration",
    ),
    (
        "order.duplicate_therapy",
        "warning: an active order for the same medication exists",
    ),
    (
        "order.route_missing",
        "info: no route given; the route restriction could not be checked",
    ),
    (
        "order.line_missing",
        "warning: line-specific limits exist but the line was not given",
    ),
    (
        "order.frequency_missing",
        "warning: a daily limit or renal interval could not be verified without the frequency",
    ),
    (
        "order.infusion_number_missing",
        "warning: first-infusion rate limits could not be verified",
    ),
    (
        "order.sites_above_label",
        "warning: more subcutaneous infusion sites at once than the product's label allows",
    ),
    (
        "order.sites_assumed",
        "info: the drug has per-site limits and order.sites is not given; one site is assumed",
    ),
    (
        "site_volume.above_soft_max",
        "warning: volume per subcutaneous infusion site above the soft maximum",
    ),
    (
        "site_volume.above_hard_max",
        "hard_stop: volume per subcutaneous infusion site above the hard maximum",
    ),
    (
        "site_volume.below_soft_min",
        "warning: volume per subcutaneous infusion site below the soft minimum",
    ),
    (
        "site_volume.below_hard_min",
        "hard_stop: volume per subcutaneous infusion site below the hard minimum",
    ),
    (
        "site_volume.unverifiable",
        "warning: a per-site volume limit exists but order.volume is missing",
    ),
    (
        "administration.preceding_step_missing",
        "hard_stop: the product's label requires a step before the infusion (HyQvia: hyaluronidase first) that the order does not list",
    ),
    (
        "route.not_allowed",
        "hard_stop unless the library says otherwise: the route is not an allowed route",
    ),
    (
        "line.not_allowed",
        "warning: the line is not one the library allows for this drug",
    ),
    (
        "dose.unverifiable",
        "warning: a dose limit could not be verified because a patient measure is missing",
    ),
    (
        "dose.below_hard_min",
        "hard_stop: dose per basis below the hard minimum",
    ),
    (
        "dose.below_soft_min",
        "warning: dose per basis below the soft minimum",
    ),
    (
        "dose.above_soft_max",
        "warning: dose per basis above the soft maximum",
    ),
    (
        "dose.above_hard_max",
        "hard_stop: dose per basis above the hard maximum",
    ),
    (
        "dose.absolute.below_hard_min",
        "hard_stop: absolute dose below the hard minimum",
    ),
    (
        "dose.absolute.below_soft_min",
        "warning: absolute dose below the soft minimum",
    ),
    (
        "dose.absolute.above_soft_max",
        "warning: absolute dose above the soft maximum",
    ),
    (
        "dose.absolute.above_hard_max",
        "hard_stop: absolute dose above the hard maximum",
    ),
    (
        "dose.daily.below_hard_min",
        "hard_stop: daily dose below the hard minimum",
    ),
    (
        "dose.daily.below_soft_min",
        "warning: daily dose below the soft minimum",
    ),
    (
        "dose.daily.above_soft_max",
        "warning: daily dose above the soft maximum",
    ),
    (
        "dose.daily.above_hard_max",
        "hard_stop: daily dose above the hard maximum",
    ),
    (
        "dose.above_cap",
        "hard_stop: dose above the drug's cap (e.g. vincristine 2 mg)",
    ),
    (
        "dose.cumulative.above_soft_max",
        "warning: lifetime cumulative dose (doxorubicin equivalents) above the soft maximum",
    ),
    (
        "dose.cumulative.above_hard_max",
        "hard_stop: lifetime cumulative dose above the hard maximum",
    ),
    (
        "dose.cumulative.history_incomplete",
        "warning: a history entry lacks the dose or BSA needed for the cumulative ledger",
    ),
    (
        "duration.below_hard_min",
        "hard_stop: infusion shorter than the hard minimum",
    ),
    (
        "duration.below_soft_min",
        "warning: infusion shorter than the soft minimum",
    ),
    (
        "duration.above_soft_max",
        "warning: infusion longer than the soft maximum",
    ),
    (
        "duration.above_hard_max",
        "hard_stop: infusion longer than the hard maximum",
    ),
    (
        "rate.below_hard_min",
        "hard_stop: dose rate below the hard minimum",
    ),
    (
        "rate.below_soft_min",
        "warning: dose rate below the soft minimum",
    ),
    (
        "rate.above_soft_max",
        "warning: dose rate above the soft maximum",
    ),
    (
        "rate.above_hard_max",
        "hard_stop: dose rate above the hard maximum (e.g. potassium mEq/h)",
    ),
    (
        "rate.unverifiable",
        "warning: a rate limit exists but rate, volume or duration is missing",
    ),
    (
        "concentration.below_hard_min",
        "hard_stop: final concentration below the hard minimum",
    ),
    (
        "concentration.below_soft_min",
        "warning: final concentration below the soft minimum",
    ),
    (
        "concentration.above_soft_max",
        "warning: final concentration above the soft maximum",
    ),
    (
        "concentration.above_hard_max",
        "hard_stop: final concentration above the hard maximum (e.g. potassium on a peripheral line)",
    ),
    (
        "concentration.unverifiable",
        "warning: a concentration limit exists but the volume is missing",
    ),
    (
        "titration.start_rate_above_schedule",
        "warning: the starting rate exceeds the label's start rate for this infusion",
    ),
    (
        "titration.duration_shorter_than_schedule",
        "warning: the duration is shorter than the label's escalation schedule allows",
    ),
    (
        "renal.crcl_unavailable",
        "warning: renal dose bands exist but creatinine clearance could not be computed",
    ),
    (
        "renal.adjustment_required",
        "warning or hard_stop per band: the order does not follow the renal band for the patient's CrCl",
    ),
    (
        "renal.band_note",
        "info, warning or hard_stop per band: the label's statement for the patient's CrCl band",
    ),
    (
        "lab.missing",
        "info: a lab the label requires before this dose is not recorded",
    ),
    (
        "lab.below_hold_threshold",
        "per library: a lab is below the label's hold threshold",
    ),
    (
        "lab.above_hold_threshold",
        "per library: a lab is above the label's hold threshold",
    ),
    (
        "lab.result_too_old",
        "warning: a required lab result is older than the allowed age",
    ),
    (
        "lab.age_unknown",
        "info: a required lab result has no time, so its age could not be checked",
    ),
    (
        "allergy.same_drug",
        "hard_stop: recorded allergy to this drug",
    ),
    (
        "allergy.same_class",
        "warning (hard_stop if the reaction was severe): recorded allergy to the drug's class",
    ),
    (
        "allergy.cross_reactivity_low",
        "info (warning if severe): recorded allergy with low, evidence-graded cross-reactivity",
    ),
    (
        "screening.missing",
        "info: a screening test the label requires is not recorded",
    ),
    (
        "screening.pending",
        "info: a required screening test is pending or indeterminate",
    ),
    (
        "screening.positive",
        "per library: a required screening test is positive",
    ),
    (
        "patient.weight_implausible",
        "warning: the weight is implausible for the age (or BMI); verify the weight and its unit",
    ),
    (
        "patient.weight_change",
        "warning: weight changed by 10% or more since the weight the previous dose used",
    ),
    (
        "patient.bsa_given_differs",
        "info: the given BSA differs from Mosteller by more than 5%",
    ),
    (
        "double_check.required",
        "info: high-alert medication; an independent double check is required",
    ),
    (
        "handling.hazardous",
        "info: NIOSH hazardous drug; handle with precautions",
    ),
    (
        "administration.vesicant",
        "info: vesicant; monitor the site for extravasation",
    ),
];
