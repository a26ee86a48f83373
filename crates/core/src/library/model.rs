//! The drug-library model: what one `data/library/<id>.toml` file holds.
//!
//! Every clinical number sits in a block that names its `source` (an id declared in the
//! file's `[[sources]]`); the validator refuses a block without one. Limits follow the smart-pump
//! convention: a value outside `soft_min..=soft_max` needs an override reason (a `warning`
//! finding), a value outside `hard_min..=hard_max` cannot be given (a `hard_stop`).

use serde::{Deserialize, Serialize};

use crate::derivation::Severity;

/// The eight therapy classes of the library.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TherapyClass {
    Biologic,
    Oncology,
    AntiInfective,
    ImmuneGlobulin,
    FluidElectrolyte,
    Nutrition,
    Iron,
    ClottingFactor,
}

impl TherapyClass {
    pub const ALL: [TherapyClass; 8] = [
        TherapyClass::Biologic,
        TherapyClass::Oncology,
        TherapyClass::AntiInfective,
        TherapyClass::ImmuneGlobulin,
        TherapyClass::FluidElectrolyte,
        TherapyClass::Nutrition,
        TherapyClass::Iron,
        TherapyClass::ClottingFactor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TherapyClass::Biologic => "biologic",
            TherapyClass::Oncology => "oncology",
            TherapyClass::AntiInfective => "anti-infective",
            TherapyClass::ImmuneGlobulin => "immune-globulin",
            TherapyClass::FluidElectrolyte => "fluid-electrolyte",
            TherapyClass::Nutrition => "nutrition",
            TherapyClass::Iron => "iron",
            TherapyClass::ClottingFactor => "clotting-factor",
        }
    }
}

/// Care areas; each may carry its own limits.
pub const CARE_AREAS: [&str; 5] = [
    "adult-infusion",
    "oncology-infusion",
    "pediatric",
    "adult-icu",
    "home-infusion",
];

/// Vascular access.
pub const LINES: [&str; 2] = ["peripheral", "central"];

/// A citation declared once per file and referred to by id.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDef {
    pub id: String,
    /// Label (name, manufacturer, revision date, section) or guideline (authors, journal, year).
    pub citation: String,
}

/// Safety flags.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Flags {
    /// ISMP high-alert medication: requires an independent double check.
    #[serde(default)]
    pub high_alert: bool,
    /// An independent double check is required before administration.
    #[serde(default)]
    pub double_check: bool,
    /// NIOSH hazardous drug: handling precautions.
    #[serde(default)]
    pub hazardous: bool,
    /// Vesicant: extravasation precautions.
    #[serde(default)]
    pub vesicant: bool,
    /// Subject to a REMS programme.
    #[serde(default)]
    pub rems: bool,
    /// The source for the flags above.
    #[serde(default)]
    pub source: Option<String>,
}

/// A severity as written in a library file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LibSeverity {
    Info,
    Warning,
    HardStop,
}

impl LibSeverity {
    pub fn severity(self) -> Severity {
        match self {
            LibSeverity::Info => Severity::Info,
            LibSeverity::Warning => Severity::Warning,
            LibSeverity::HardStop => Severity::HardStop,
        }
    }
}

/// A product (brand, strength or presentation) of the drug.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Stable id used as `order.product` (e.g. `gammagard-liquid`, `dextrose-70-percent`).
    pub id: String,
    pub name: String,
    /// Vial or bag sizes as quantity strings (`"100 mg"`, `"10 g/100 mL"`).
    #[serde(default)]
    pub strengths: Vec<String>,
    /// Concentration of the product as supplied, when fixed (`"100 mg/mL"`).
    #[serde(default)]
    pub concentration: Option<String>,
    #[serde(default)]
    pub reconstitution: Option<String>,
    #[serde(default)]
    pub diluents: Vec<String>,
    /// Stability or beyond-use statement.
    #[serde(default)]
    pub stability: Option<String>,
    /// Diluent added per vial to reconstitute a powder (mL), one per `strengths` entry
    /// (infliximab 100 mg: `[10]`). Empty for solutions. Used by the preparation plan.
    #[serde(default)]
    pub reconstitution_ml: Vec<f64>,
    /// Volume of drug solution per vial once ready (mL), one per `strengths` entry, when it is
    /// not `strength ÷ concentration` (e.g. a powder whose reconstituted volume is larger than
    /// the diluent added). Empty: derived from `concentration` or `reconstitution_ml`.
    #[serde(default)]
    pub vial_volume_ml: Vec<f64>,
    /// How the dose is diluted: `replace` (remove an equal volume from the bag first, so the
    /// final volume is the bag's), `add` (add to the bag) or `none` (given undiluted).
    /// Default: `replace` when the administration has `final_volume_ml`, `add` when it has a
    /// concentration range, otherwise `none`.
    #[serde(default)]
    pub dilution: Option<String>,
    /// Bag sizes in stock for the dilution (mL).
    #[serde(default)]
    pub bag_sizes_ml: Vec<f64>,
    /// In-use stability of the prepared infusion at room temperature (h), from the label.
    #[serde(default)]
    pub stability_room_temperature_h: Option<f64>,
    /// In-use stability of the prepared infusion refrigerated (h), from the label.
    #[serde(default)]
    pub stability_refrigerated_h: Option<f64>,
    /// The label's "begin the infusion within" limit after preparation (h), whatever the storage.
    #[serde(default)]
    pub begin_within_h: Option<f64>,
    /// A step the label requires before this product is infused (HyQvia: the recombinant
    /// human hyaluronidase through the same needle set); an order that does not list it in
    /// `order.preceded_by` is a hard stop.
    #[serde(default)]
    pub preceded_by: Option<PrecedingStep>,
    /// The most infusion sites the label allows at once (Cuvitru 4, Xembify 6); more on an
    /// order is a warning. Cited by the product's `source`.
    #[serde(default)]
    pub max_sites: Option<u32>,
    pub source: String,
}

/// A step that must precede the infusion of a product, by its stable id (`hyaluronidase`).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrecedingStep {
    /// The id an order names in `order.preceded_by`.
    pub id: String,
    /// What the label says, for the nurse and pharmacist.
    pub text: String,
    pub source: String,
}

/// Whether an infusion qualifier matches infusion number `n` (1 = the first): `first`,
/// `subsequent` (2 and later), a range `N-M` (inclusive) or an open range `N+`. `None` when
/// the qualifier is not one of these forms.
pub fn infusion_matches(spec: &str, n: u32) -> Option<bool> {
    match spec {
        "first" => return Some(n == 1),
        "subsequent" => return Some(n >= 2),
        _ => {}
    }
    if let Some(from) = spec.strip_suffix('+') {
        let from: u32 = from.parse().ok().filter(|f| *f >= 1)?;
        return Some(n >= from);
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
    if a < 1 || a > b {
        return None;
    }
    Some((a..=b).contains(&n))
}

/// A set of limits, optionally qualified. A block whose qualifiers do not match the order is
/// skipped; among matching blocks of the same unit the most specific one applies.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// The unit of the numbers, where the block does not inherit one (e.g. `mg/h`, `mEq/L`).
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub hard_min: Option<f64>,
    #[serde(default)]
    pub soft_min: Option<f64>,
    #[serde(default)]
    pub soft_max: Option<f64>,
    #[serde(default)]
    pub hard_max: Option<f64>,
    /// Applies only on this line (`peripheral`, `central`).
    #[serde(default)]
    pub line: Option<String>,
    /// Applies only in these care areas.
    #[serde(default)]
    pub care_areas: Vec<String>,
    /// Applies only when the patient has one of these conditions (`thrombosis-risk`).
    #[serde(default)]
    pub conditions: Vec<String>,
    /// Applies only to these products.
    #[serde(default)]
    pub products: Vec<String>,
    /// Applies only to the first (`first`) or later (`subsequent`) infusions, or to a range of
    /// infusion numbers (`1-2`: the first two; `3+`: the third and later), as labels ramp.
    #[serde(default)]
    pub infusion: Option<String>,
    /// Applies only when the order is checked against one of these dosing rules (ids of
    /// `[[dosing]]`): the regimen-specific limits (fluorouracil over 46 h, the rituximab
    /// 90-minute infusion).
    #[serde(default)]
    pub rules: Vec<String>,
    /// Dose band: applies only to doses above this amount (`"200 mg"`), exclusive.
    #[serde(default)]
    pub dose_above: Option<String>,
    /// Dose band: applies only to doses of at most this amount (`"200 mg"`), inclusive.
    #[serde(default)]
    pub dose_at_most: Option<String>,
    /// Age band: applies from this age (years, inclusive).
    #[serde(default)]
    pub age_min_y: Option<f64>,
    /// Age band: applies below this age (years, exclusive).
    #[serde(default)]
    pub age_max_y: Option<f64>,
    /// Weight band: applies from this weight (kg, inclusive).
    #[serde(default)]
    pub weight_min_kg: Option<f64>,
    /// Weight band: applies below this weight (kg, exclusive).
    #[serde(default)]
    pub weight_max_kg: Option<f64>,
    /// Citation id for every number in this block.
    #[serde(default)]
    pub source: String,
    /// Why these numbers (e.g. "institutional default pending pharmacist review").
    #[serde(default)]
    pub note: Option<String>,
}

impl Limits {
    /// How many qualifiers this block has (more = more specific).
    pub fn specificity(&self) -> usize {
        usize::from(self.line.is_some())
            + usize::from(!self.care_areas.is_empty())
            + usize::from(!self.conditions.is_empty())
            + usize::from(!self.products.is_empty())
            + usize::from(self.infusion.is_some())
            + usize::from(!self.rules.is_empty())
            + usize::from(self.dose_above.is_some() || self.dose_at_most.is_some())
            + usize::from(self.age_min_y.is_some() || self.age_max_y.is_some())
            + usize::from(self.weight_min_kg.is_some() || self.weight_max_kg.is_some())
    }

    /// Whether the block has a qualifier that only an order can resolve (rule, dose band, age
    /// or weight band), so that an order-free reader (the preparation plan) must skip it.
    pub fn order_qualified(&self) -> bool {
        !self.rules.is_empty()
            || self.dose_above.is_some()
            || self.dose_at_most.is_some()
            || self.age_min_y.is_some()
            || self.age_max_y.is_some()
            || self.weight_min_kg.is_some()
            || self.weight_max_kg.is_some()
    }

    /// The block's qualifiers in words (`rule continuous-46h, doses above 200 mg`), or
    /// `drug-wide` when it has none: the derivation names the block that applied and why.
    pub fn qualifiers(&self) -> String {
        let mut q = Vec::new();
        if !self.rules.is_empty() {
            q.push(format!("rule {}", self.rules.join("/")));
        }
        if !self.products.is_empty() {
            q.push(format!("product {}", self.products.join("/")));
        }
        match (&self.dose_above, &self.dose_at_most) {
            (Some(a), Some(b)) => q.push(format!("doses above {a} up to {b}")),
            (Some(a), None) => q.push(format!("doses above {a}")),
            (None, Some(b)) => q.push(format!("doses up to {b}")),
            (None, None) => {}
        }
        if let Some(i) = &self.infusion {
            q.push(format!("{i} infusion"));
        }
        match (self.age_min_y, self.age_max_y) {
            (Some(a), Some(b)) => q.push(format!("age {a} to under {b} y")),
            (Some(a), None) => q.push(format!("age {a} y and over")),
            (None, Some(b)) => q.push(format!("age under {b} y")),
            (None, None) => {}
        }
        match (self.weight_min_kg, self.weight_max_kg) {
            (Some(a), Some(b)) => q.push(format!("weight {a} to under {b} kg")),
            (Some(a), None) => q.push(format!("weight {a} kg and over")),
            (None, Some(b)) => q.push(format!("weight under {b} kg")),
            (None, None) => {}
        }
        if let Some(l) = &self.line {
            q.push(format!("{l} line"));
        }
        if !self.care_areas.is_empty() {
            q.push(format!("care area {}", self.care_areas.join("/")));
        }
        if !self.conditions.is_empty() {
            q.push(format!("condition {}", self.conditions.join("/")));
        }
        if q.is_empty() {
            "drug-wide".to_string()
        } else {
            q.join(", ")
        }
    }
}

/// A rolling-window (per-cycle) ceiling: the doses of this drug given in any `days`-day
/// window (the patient's history plus this order's repeats within the window) must stay
/// within `limits`, in the rule's `dose_unit` (cisplatin: 100 mg/m2 per 21 days).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowLimit {
    /// Length of the window in days.
    pub days: f64,
    pub limits: Limits,
    /// What the window means, for people (`per 21-day cycle`).
    #[serde(default)]
    pub label: Option<String>,
    pub source: String,
}

/// A route outside `routes` that the library allows under conditions (e.g. a drug given
/// intrathecally only under a protocol): the finding carries the conditions.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionalRoute {
    pub route: String,
    /// Severity of the finding when this route is ordered (`warning`: override with reason).
    pub severity: LibSeverity,
    pub conditions: String,
    /// The products the route is allowed with (empty: any); an order naming another product
    /// by this route is a hard stop (an IV-only immune globulin given subcutaneously).
    #[serde(default)]
    pub products: Vec<String>,
    pub source: String,
}

/// A rule whose use needs a clinician to confirm the patient's eligibility (the rituximab
/// 90-minute infusion): a `warning` finding every time the rule is used.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Eligibility {
    pub text: String,
    pub source: String,
}

/// What a dosing rule's dose is expressed per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// Per kilogram of dosing weight.
    PerKg,
    /// Per square metre of body-surface area (Mosteller).
    PerM2,
    /// A flat dose.
    Flat,
    /// Carboplatin: target AUC (mg/mL.min) by the Calvert formula with Cockcroft–Gault GFR.
    PerAuc,
}

impl Basis {
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::PerKg => "per_kg",
            Basis::PerM2 => "per_m2",
            Basis::Flat => "flat",
            Basis::PerAuc => "per_auc",
        }
    }
}

/// A dose cap: doses above it are a hard stop (e.g. vincristine 2 mg).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cap {
    pub value: f64,
    pub unit: String,
    pub source: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// A renal band: applies when creatinine clearance (Cockcroft–Gault) is in
/// `[crcl_min_ml_per_min, crcl_max_ml_per_min)`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RenalBand {
    #[serde(default)]
    pub crcl_min_ml_per_min: Option<f64>,
    #[serde(default)]
    pub crcl_max_ml_per_min: Option<f64>,
    pub severity: LibSeverity,
    /// What the label says for this band, for the nurse and pharmacist.
    pub message: String,
    /// The band requires at least this dosing interval; a shorter interval is flagged.
    #[serde(default)]
    pub min_interval_h: Option<f64>,
    /// The band allows at most this fraction of the usual dose; a larger dose is flagged.
    #[serde(default)]
    pub max_dose_fraction: Option<f64>,
    pub source: String,
}

/// One dosing rule (an indication, possibly limited to ages or care areas).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DosingRule {
    /// Short id, usable as `order.indication`.
    pub id: String,
    pub indication: String,
    pub basis: Basis,
    /// Unit of `usual`, `per_dose` and `per_day` (`mg/kg`, `mg/m2`, `mg`, `mg/mL.min`).
    pub dose_unit: String,
    #[serde(default)]
    pub usual: Option<f64>,
    /// Usual schedule, for people (`q8w`, `once`).
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default)]
    pub care_areas: Vec<String>,
    #[serde(default)]
    pub age_min_y: Option<f64>,
    #[serde(default)]
    pub age_max_y: Option<f64>,
    /// The rule applies from this weight (kg, inclusive).
    #[serde(default)]
    pub weight_min_kg: Option<f64>,
    /// The rule applies below this weight (kg, exclusive).
    #[serde(default)]
    pub weight_max_kg: Option<f64>,
    /// The rule applies only to the first (`first`) or later (`subsequent`) infusions.
    #[serde(default)]
    pub infusion: Option<String>,
    /// The rule applies only to orders by one of these routes (empty: any route the entry
    /// allows): intrathecal methotrexate has its own dose ceiling, and an IV rule's limits never
    /// admit an intrathecal dose.
    #[serde(default)]
    pub routes: Vec<String>,
    /// Number of doses in one course of this regimen (daily × 5: 5); the rolling-window
    /// ceiling counts at most this many repeats of the order unless `order.doses` says.
    #[serde(default)]
    pub course_doses: Option<u32>,
    /// A flat-dose rule's ceiling per kg of actual body weight (`unit` required, e.g.
    /// `mg/kg`): ferric carboxymaltose 15 mg/kg up to 750 mg under 50 kg.
    #[serde(default)]
    pub per_kg: Option<Limits>,
    /// Rolling-window ceilings (per 21 days, per course).
    #[serde(default)]
    pub windows: Vec<WindowLimit>,
    /// Eligibility the prescriber and pharmacist must confirm when this rule is used.
    #[serde(default)]
    pub eligibility: Option<Eligibility>,
    /// Weight used for per-kg dosing: `actual` (default), `ideal`, `adjusted`.
    #[serde(default)]
    pub weight_basis: Option<String>,
    /// Limits per dose, in `dose_unit`.
    #[serde(default)]
    pub per_dose: Option<Limits>,
    /// Limits per dose in absolute amount (`unit` required, e.g. `mg`).
    #[serde(default)]
    pub per_dose_absolute: Option<Limits>,
    /// Limits per day (24 h), in `dose_unit` per day.
    #[serde(default)]
    pub per_day: Option<Limits>,
    #[serde(default)]
    pub cap: Option<Cap>,
    /// Rounding policy, for people (`nearest 10 mg; ±10% (HOPA)`).
    #[serde(default)]
    pub rounding: Option<String>,
    #[serde(default)]
    pub renal: Vec<RenalBand>,
    /// Source of `usual`.
    pub source: String,
}

/// Administration limits.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Administration {
    /// Lines on which it may run; empty = any.
    #[serde(default)]
    pub lines: Vec<String>,
    /// Infusion duration limits (`unit` = `h` or `min`).
    #[serde(default)]
    pub duration: Vec<Limits>,
    /// Final concentration limits (`unit` such as `mg/mL`, `mEq/L`, `units/mL`).
    #[serde(default)]
    pub concentration: Vec<Limits>,
    /// Dose-rate limits (`unit` such as `mg/h`, `mEq/h`, `mg/kg/min`, `mL/kg/h`, `mL/h`).
    #[serde(default)]
    pub dose_rate: Vec<Limits>,
    /// Rate limits per infusion site (`unit` = `mL/h`, read as mL/h per site) for infusions
    /// split over several subcutaneous sites: the order's rate ÷ `order.sites`.
    #[serde(default)]
    pub per_site_rate: Vec<Limits>,
    /// Volume limits per infusion site (`unit` = `mL`): the order's volume ÷ `order.sites`.
    #[serde(default)]
    pub per_site_volume: Vec<Limits>,
    #[serde(default)]
    pub final_volume: Option<String>,
    /// The label's fixed final volume (mL), when it gives one (infliximab: 250 mL).
    #[serde(default)]
    pub final_volume_ml: Option<f64>,
    #[serde(default)]
    pub filter: Option<String>,
    #[serde(default)]
    pub light_protection: bool,
    #[serde(default)]
    pub notes: Vec<String>,
    #[serde(default)]
    pub source: Option<String>,
}

/// A titration (rate-escalation) schedule.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Titration {
    pub id: String,
    pub description: String,
    /// `first`, `subsequent` or absent (any infusion).
    #[serde(default)]
    pub infusion: Option<String>,
    /// Applies only to these products.
    #[serde(default)]
    pub products: Vec<String>,
    /// Applies only when the order is checked against one of these dosing rules.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Rate unit: `mg/h`, `mL/h`, `mL/kg/h`, `mg/kg/min`.
    pub unit: String,
    pub start_rate: f64,
    pub increment: f64,
    pub interval_min: f64,
    pub max_rate: f64,
    /// An explicit step table that replaces the linear ramp (the ocrelizumab shorter infusion;
    /// the rituximab 90-minute infusion). `start_rate` and `max_rate` still bound it.
    #[serde(default)]
    pub steps: Vec<TitrationStep>,
    pub source: String,
}

/// One row of an explicit titration step table: either a `rate` (in the titration's unit)
/// for `minutes` (absent on the last row: until the bag is empty), or a `dose_fraction` of the
/// whole dose infused evenly over `minutes`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TitrationStep {
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default)]
    pub dose_fraction: Option<f64>,
    #[serde(default)]
    pub minutes: Option<f64>,
}

/// Laboratory values a label or protocol requires before a dose.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LabRequirement {
    /// One of [`crate::check::LAB_NAMES`].
    pub lab: String,
    pub unit: String,
    #[serde(default)]
    pub hold_below: Option<f64>,
    #[serde(default)]
    pub hold_above: Option<f64>,
    /// Severity when a hold threshold is crossed (default `warning`).
    #[serde(default = "default_other_routes")]
    pub severity: LibSeverity,
    /// The result may be at most this old (hours) at the time of the check.
    #[serde(default)]
    pub max_age_h: Option<f64>,
    #[serde(default)]
    pub message: Option<String>,
    pub source: String,
}

/// A screening test that must be recorded before treatment.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Screening {
    /// `hepatitis_b` or `tuberculosis`.
    pub test: String,
    /// Severity when the result is positive.
    pub if_positive: LibSeverity,
    pub message: String,
    pub source: String,
}

/// Lifetime cumulative-dose limits (anthracyclines in doxorubicin equivalents).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cumulative {
    /// The ledger this drug counts towards (`anthracycline`).
    pub group: String,
    /// Ledger unit: `mg/m2` of doxorubicin equivalents.
    pub unit: String,
    /// Multiply this drug's mg/m2 by this to get doxorubicin equivalents.
    pub equivalence_factor: f64,
    pub limits: Limits,
    /// Lower limits when the patient has one of `conditions`.
    #[serde(default)]
    pub reduced: Option<Limits>,
    pub source: String,
}

/// A note for people with its source (premedication, monitoring).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub text: String,
    pub source: String,
}

/// Who reviewed the file and when.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    pub status: String,
    pub date: String,
}

/// One drug-library entry.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DrugEntry {
    /// Lowercase generic name with hyphens; equals the file name.
    pub id: String,
    pub generic_name: String,
    #[serde(default)]
    pub brands: Vec<String>,
    #[serde(default)]
    pub synonyms: Vec<String>,
    pub class: TherapyClass,
    pub version: u32,
    pub review: Review,
    #[serde(default)]
    pub flags: Flags,
    /// Allowed routes (`iv`, `sc`, `im`).
    pub routes: Vec<String>,
    /// Severity for any other route. Default `hard_stop`: a route the library does not list
    /// can never be clicked through; list it in `conditional_routes` to allow it under
    /// conditions.
    #[serde(default = "default_hard_stop")]
    pub other_routes: LibSeverity,
    /// Routes outside `routes` allowed under named conditions.
    #[serde(default)]
    pub conditional_routes: Vec<ConditionalRoute>,
    /// Orders must name a product (`order.product`): products differ in rate or dose
    /// (immune globulin brands). Default `false`.
    #[serde(default)]
    pub product_required: bool,
    /// Allergy groups this drug belongs to (`penicillin`, `cephalosporin`, `platinum`).
    #[serde(default)]
    pub allergy_groups: Vec<String>,
    #[serde(default)]
    pub products: Vec<Product>,
    pub dosing: Vec<DosingRule>,
    #[serde(default)]
    pub administration: Administration,
    #[serde(default)]
    pub titration: Vec<Titration>,
    #[serde(default)]
    pub labs: Vec<LabRequirement>,
    #[serde(default)]
    pub screening: Vec<Screening>,
    #[serde(default)]
    pub cumulative: Option<Cumulative>,
    #[serde(default)]
    pub premedication: Vec<Note>,
    #[serde(default)]
    pub monitoring: Vec<Note>,
    pub sources: Vec<SourceDef>,
    /// Example orders (the `infusio check` input shape) that must pass `ok`.
    #[serde(default)]
    pub typical_order: Vec<serde_json::Value>,
}

fn default_other_routes() -> LibSeverity {
    LibSeverity::Warning
}

fn default_hard_stop() -> LibSeverity {
    LibSeverity::HardStop
}

impl DrugEntry {
    /// The citation for a source id.
    pub fn citation(&self, id: &str) -> Option<&str> {
        self.sources
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.citation.as_str())
    }
}
