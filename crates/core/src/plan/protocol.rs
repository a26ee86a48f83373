//! Protocol templates (regimens): one reviewed, cited `data/protocols/<id>.toml` per protocol.
//!
//! A protocol lists its phases (induction, maintenance …); each phase has a cycle length and
//! count, the drugs in the order they are given with their dose basis and days, the
//! premedications with their lead time and the hydration. Go/no-go labs, dose levels for
//! reductions and the chair-time parameters (set-up, observation for first and later
//! infusions, take-down) complete it.
//!
//! Like the drug library, this module performs no I/O: [`load_protocols`] takes
//! `(file name, text)` pairs. A protocol with any problem never loads; every error names the
//! file, the line (when it can be located) and the dotted field path.

use std::collections::BTreeSet;

use crate::library::{key_at, line_of};
use serde::{Deserialize, Serialize};

/// The eight therapy classes (the library's spelling).
pub const CLASSES: [&str; 8] = [
    "biologic",
    "oncology",
    "anti-infective",
    "immune-globulin",
    "fluid-electrolyte",
    "nutrition",
    "iron",
    "clotting-factor",
];

/// Care areas (the library's spelling).
pub const CARE_AREAS: [&str; 5] = [
    "adult-infusion",
    "oncology-infusion",
    "pediatric",
    "adult-icu",
    "home-infusion",
];

/// Labs a protocol may gate on (the names of the order check's labs, plus protocol-only ones).
pub const LABS: [&str; 26] = [
    "anc",
    "platelets",
    "hemoglobin",
    "wbc",
    "lymphocytes",
    "serum_creatinine",
    "crcl",
    "egfr",
    "potassium",
    "sodium",
    "magnesium",
    "calcium",
    "phosphate",
    "glucose",
    "triglycerides",
    "bilirubin",
    "alt",
    "ast",
    "albumin",
    "ferritin",
    "transferrin_saturation",
    "igg_trough",
    "lvef",
    "factor_level",
    "factor_viii_inhibitor",
    "vancomycin_auc24",
];

/// Routes a protocol may use.
pub const ROUTES: [&str; 4] = ["iv", "po", "sc", "im"];

/// A citation, declared once and referred to by id.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolSource {
    pub id: String,
    pub citation: String,
}

/// Review state of the template.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolReview {
    /// `pending-clinical-signoff` until a pharmacist and a prescriber sign it.
    pub status: String,
    pub date: String,
}

/// What a drug's dose is expressed per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DoseBasis {
    PerKg,
    PerM2,
    Flat,
    /// Carboplatin target AUC by Calvert.
    PerAuc,
    /// A named formula (`holliday-segar`, `desired-rise`, `ganzoni` …) given in `formula`.
    Formula,
}

/// One drug of a phase, in administration order.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProtocolDrug {
    /// Drug-library id.
    pub medication: String,
    pub basis: DoseBasis,
    /// The dose number in `dose_unit` (for `formula`, the parameter of the formula, e.g. the
    /// desired rise in IU/dL).
    pub dose: f64,
    /// `mg/kg`, `mg/m2`, `mg`, `mg/mL.min`, `g/kg`, `units/kg`, `mEq`, `IU/dL` …
    pub dose_unit: String,
    /// For `basis = "formula"`: its name.
    #[serde(default)]
    pub formula: Option<String>,
    /// Days of the cycle (day 1 = first day).
    pub days: Vec<u32>,
    pub route: String,
    /// Repeats within a treatment day (`q8h`, `q12h`, `continuous`).
    #[serde(default)]
    pub frequency: Option<String>,
    /// Fixed infusion duration (minutes), when not titrated.
    #[serde(default)]
    pub duration_min: Option<f64>,
    /// Titration schedule name in the library (`first`, `subsequent`, `rapid` or a titration
    /// id), resolved as the titration calculator does.
    #[serde(default)]
    pub titration: Option<String>,
    /// Library product id, where the schedule or preparation depends on it
    /// (`gammagard-liquid`).
    #[serde(default)]
    pub product: Option<String>,
    /// Diluent and volume, for people (`250 mL 0.9% sodium chloride`).
    #[serde(default)]
    pub diluent: Option<String>,
    /// Dose cap as a quantity string (`2 mg`).
    #[serde(default)]
    pub max_dose: Option<String>,
    /// The library dosing rule the line is checked against (`kawasaki`), given to the order as
    /// its indication; without it a drug with several rules is checked against the one that
    /// allows the dose best.
    #[serde(default)]
    pub indication: Option<String>,
    /// Rate limit for people and the pump (`10 mEq/h`).
    #[serde(default)]
    pub max_rate: Option<String>,
    /// Runs on an ambulatory pump after the patient leaves the chair (e.g. a 46-hour
    /// fluorouracil infusion): excluded from chair time. Default: false.
    #[serde(default)]
    pub ambulatory: bool,
    #[serde(default)]
    pub note: Option<String>,
    pub source: String,
}

/// A premedication, given `lead_min` minutes before the first drug of the day starts.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Premedication {
    pub medication: String,
    /// Dose as a quantity string (`650 mg`).
    pub dose: String,
    pub route: String,
    pub lead_min: f64,
    /// Days it is given; empty = every treatment day.
    #[serde(default)]
    pub days: Vec<u32>,
    #[serde(default)]
    pub optional: bool,
    pub source: String,
}

/// When hydration runs relative to the drugs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HydrationTiming {
    Before,
    With,
    After,
}

/// Hydration fluid.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Hydration {
    /// Drug-library id of the fluid.
    pub fluid: String,
    pub volume_ml: f64,
    pub duration_min: f64,
    pub timing: HydrationTiming,
    #[serde(default)]
    pub days: Vec<u32>,
    pub source: String,
}

/// A phase: a cycle repeated `cycles` times, or until `until` when open-ended.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    pub name: String,
    pub cycle_length_days: u32,
    #[serde(default)]
    pub cycles: Option<u32>,
    /// For open-ended phases: the stopping rule (`progression or unacceptable toxicity`).
    #[serde(default)]
    pub until: Option<String>,
    /// `first` when this phase holds the first infusion (observation and titration differ).
    #[serde(default)]
    pub infusion: Option<String>,
    pub drugs: Vec<ProtocolDrug>,
    #[serde(default)]
    pub premedications: Vec<Premedication>,
    #[serde(default)]
    pub hydration: Vec<Hydration>,
}

/// What to do when a lab is outside its threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LabAction {
    /// Do not treat today.
    Hold,
    /// Treat at a reduced dose level.
    Reduce,
    /// Treat, and tell the prescriber.
    Notify,
}

/// A go/no-go lab: proceed only when `min ≤ value ≤ max`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LabGate {
    pub lab: String,
    pub unit: String,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    pub action: LabAction,
    /// The result may be at most this old (hours).
    #[serde(default)]
    pub max_age_h: Option<f64>,
    pub message: String,
    pub source: String,
}

/// Dose levels for reductions: level 0 first, then −1, −2 …
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DoseLevels {
    pub medication: String,
    pub unit: String,
    pub levels: Vec<f64>,
    pub source: String,
}

/// Chair-time parameters (minutes).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChairSpec {
    pub setup_min: f64,
    pub takedown_min: f64,
    /// Observation after the first infusion.
    pub observation_min_first: f64,
    /// Observation after later infusions.
    pub observation_min_subsequent: f64,
    pub source: String,
}

/// One protocol template.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    /// Lowercase with hyphens; equals the file name.
    pub id: String,
    pub name: String,
    pub class: String,
    pub version: u32,
    pub review: ProtocolReview,
    pub indication: String,
    pub care_area: String,
    pub phases: Vec<Phase>,
    #[serde(default)]
    pub labs: Vec<LabGate>,
    #[serde(default)]
    pub dose_levels: Vec<DoseLevels>,
    pub chair: ChairSpec,
    #[serde(default)]
    pub notes: Vec<String>,
    pub sources: Vec<ProtocolSource>,
}

/// Why a protocol file was refused.
#[derive(Clone, Debug, PartialEq, Serialize, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}", line = self.line.map(|l| l.to_string()).unwrap_or_else(|| "?".to_string()))]
pub struct ProtocolError {
    pub file: String,
    pub line: Option<usize>,
    /// Dotted path (`phases[0].drugs[1].days`).
    pub field: String,
    pub message: String,
}

/// Parses and validates one protocol file.
pub fn parse_protocol(file: &str, text: &str) -> Result<Protocol, Vec<ProtocolError>> {
    let protocol: Protocol = toml::from_str(text).map_err(|e| {
        let span = e.span();
        vec![ProtocolError {
            file: file.to_string(),
            line: span.as_ref().map(|s| line_of(text, s.start)),
            field: span
                .map(|s| key_at(text, s.start))
                .unwrap_or_else(|| "(file)".to_string()),
            message: e.message().trim().to_string(),
        }]
    })?;
    let problems = validate(&protocol, file);
    if problems.is_empty() {
        return Ok(protocol);
    }
    Err(problems
        .into_iter()
        .map(|(field, message)| ProtocolError {
            line: locate_line(text, &field),
            file: file.to_string(),
            field,
            message,
        })
        .collect())
}

/// Parses and validates every file; any problem refuses the whole set.
pub fn load_protocols<'a>(
    files: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<Protocol>, Vec<ProtocolError>> {
    let mut out: Vec<Protocol> = Vec::new();
    let mut errors = Vec::new();
    for (file, text) in files {
        match parse_protocol(file, text) {
            Ok(p) => {
                if out.iter().any(|q| q.id == p.id) {
                    errors.push(ProtocolError {
                        file: file.to_string(),
                        line: Some(1),
                        field: "id".into(),
                        message: format!("duplicate protocol id '{}'", p.id),
                    });
                } else {
                    out.push(p);
                }
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn positive(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// The problems found so far, each `(dotted field, message)`, and the source ids declared in
/// `[[sources]]` that every `source` field must name.
struct Problems<'p> {
    out: Vec<(String, String)>,
    declared: BTreeSet<&'p str>,
}

impl<'p> Problems<'p> {
    fn new(p: &'p Protocol) -> Self {
        Problems {
            out: Vec::new(),
            declared: p.sources.iter().map(|s| s.id.as_str()).collect(),
        }
    }

    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.out.push((field.into(), message.into()));
    }

    /// A `source` field must name a declared `[[sources]]` entry.
    fn source(&mut self, field: String, id: &str) {
        if id.trim().is_empty() {
            self.push(field, "every clinical number needs a source: add `source = \"<id of a [[sources]] entry>\"`");
        } else if !self.declared.contains(id) {
            let declared = self.declared.iter().copied().collect::<Vec<_>>().join(", ");
            self.push(
                field,
                format!("source '{id}' is not declared in [[sources]] (declared: {declared})"),
            );
        }
    }

    /// Each day of `days` (at `at.days[j]`) must be a treatment day of the phase.
    fn treatment_days(&mut self, at: &str, days: &[u32], treatment_days: &BTreeSet<u32>) {
        for (j, &day) in days.iter().enumerate() {
            if !treatment_days.contains(&day) {
                self.push(
                    format!("{at}.days[{j}]"),
                    format!("day {day} is not a treatment day of this phase"),
                );
            }
        }
    }
}

/// The semantic checks; each problem is `(dotted field, message)`.
pub fn validate(p: &Protocol, file: &str) -> Vec<(String, String)> {
    let mut problems = Problems::new(p);
    validate_header(p, file, &mut problems);
    let mut medications = BTreeSet::new();
    for (pi, ph) in p.phases.iter().enumerate() {
        validate_phase(
            &format!("phases[{pi}]"),
            ph,
            &mut medications,
            &mut problems,
        );
    }
    for (i, l) in p.labs.iter().enumerate() {
        validate_lab(&format!("labs[{i}]"), l, &mut problems);
    }
    for (i, dl) in p.dose_levels.iter().enumerate() {
        validate_dose_levels(
            &format!("dose_levels[{i}]"),
            dl,
            &medications,
            &mut problems,
        );
    }
    validate_chair(&p.chair, &mut problems);
    if !["pending-clinical-signoff", "reviewed"].contains(&p.review.status.as_str()) {
        problems.push(
            "review.status",
            format!(
                "'{}' must be pending-clinical-signoff or reviewed",
                p.review.status
            ),
        );
    }
    problems.out
}

/// Id (equal to the file name), class, care area, the `[[sources]]` list and that there is
/// at least one phase.
fn validate_header(p: &Protocol, file: &str, problems: &mut Problems) {
    let stem = file
        .rsplit('/')
        .next()
        .unwrap_or(file)
        .trim_end_matches(".toml");
    if !is_id(&p.id) {
        problems.push(
            "id",
            format!("'{}' must be lowercase letters, digits and hyphens", p.id),
        );
    } else if stem != p.id {
        problems.push(
            "id",
            format!("'{}' must equal the file name '{stem}'", p.id),
        );
    }
    if !CLASSES.contains(&p.class.as_str()) {
        problems.push(
            "class",
            format!("unknown class '{}'; one of {}", p.class, CLASSES.join(", ")),
        );
    }
    if !CARE_AREAS.contains(&p.care_area.as_str()) {
        problems.push(
            "care_area",
            format!(
                "unknown care area '{}'; one of {}",
                p.care_area,
                CARE_AREAS.join(", ")
            ),
        );
    }
    if p.sources.is_empty() {
        problems.push(
            "sources",
            "a protocol needs at least one [[sources]] citation",
        );
    }
    for (i, s) in p.sources.iter().enumerate() {
        if s.citation.trim().len() < 10 {
            problems.push(
                format!("sources[{i}].citation"),
                "a citation names the label or guideline (author, title, year)",
            );
        }
        if p.sources[..i].iter().any(|t| t.id == s.id) {
            problems.push(
                format!("sources[{i}].id"),
                format!("duplicate source id '{}'", s.id),
            );
        }
    }
    if p.phases.is_empty() {
        problems.push("phases", "a protocol needs at least one phase");
    }
}

/// One phase: its cycle, its drugs (collecting their medication ids), premedications and
/// hydration, which may only fall on the phase's treatment days.
fn validate_phase(
    at: &str,
    ph: &Phase,
    medications: &mut BTreeSet<String>,
    problems: &mut Problems,
) {
    if ph.cycle_length_days == 0 {
        problems.push(format!("{at}.cycle_length_days"), "must be at least 1 day");
    }
    match (ph.cycles, &ph.until) {
        (Some(0), _) => problems.push(format!("{at}.cycles"), "must be at least 1"),
        (None, None) => problems.push(
            format!("{at}.cycles"),
            "give a cycle count, or `until` for an open-ended phase",
        ),
        (Some(_), Some(_)) => problems.push(
            format!("{at}.until"),
            "give either `cycles` or `until`, not both",
        ),
        _ => {}
    }
    if let Some(i) = &ph.infusion
        && i != "first"
        && i != "subsequent"
    {
        problems.push(
            format!("{at}.infusion"),
            format!("must be 'first' or 'subsequent', not '{i}'"),
        );
    }
    if ph.drugs.is_empty() {
        problems.push(format!("{at}.drugs"), "a phase needs at least one drug");
    }
    let mut treatment_days = BTreeSet::new();
    for (di, d) in ph.drugs.iter().enumerate() {
        medications.insert(d.medication.clone());
        let at = format!("{at}.drugs[{di}]");
        validate_drug(&at, d, ph.cycle_length_days, &mut treatment_days, problems);
    }
    for (k, pm) in ph.premedications.iter().enumerate() {
        let at = format!("{at}.premedications[{k}]");
        validate_premedication(&at, pm, problems);
        problems.treatment_days(&at, &pm.days, &treatment_days);
        problems.source(format!("{at}.source"), &pm.source);
    }
    for (k, h) in ph.hydration.iter().enumerate() {
        let at = format!("{at}.hydration[{k}]");
        validate_hydration(&at, h, problems);
        problems.treatment_days(&at, &h.days, &treatment_days);
        problems.source(format!("{at}.source"), &h.source);
    }
}

/// One drug of a phase; its days (within the cycle, each once) are added to `treatment_days`.
fn validate_drug(
    at: &str,
    d: &ProtocolDrug,
    cycle_length_days: u32,
    treatment_days: &mut BTreeSet<u32>,
    problems: &mut Problems,
) {
    if !is_id(&d.medication) {
        problems.push(
            format!("{at}.medication"),
            format!(
                "'{}' is not a library id (lowercase, hyphens)",
                d.medication
            ),
        );
    }
    if !positive(d.dose) {
        problems.push(
            format!("{at}.dose"),
            format!("must be a positive number, not {}", d.dose),
        );
    }
    validate_dose_unit(at, d, problems);
    if d.days.is_empty() {
        problems.push(
            format!("{at}.days"),
            "list the days of the cycle (day 1 = first day)",
        );
    }
    for (k, &day) in d.days.iter().enumerate() {
        if !(day >= 1 && day <= cycle_length_days) {
            problems.push(
                format!("{at}.days[{k}]"),
                format!("day {day} is outside the cycle (1 to {cycle_length_days})"),
            );
        }
        if d.days[..k].contains(&day) {
            problems.push(
                format!("{at}.days[{k}]"),
                format!("day {day} is listed twice"),
            );
        }
        treatment_days.insert(day);
    }
    validate_drug_administration(at, d, problems);
    problems.source(format!("{at}.source"), &d.source);
}

/// The dose unit must fit the dose basis and be a known unit; a formula basis names its
/// formula.
fn validate_dose_unit(at: &str, d: &ProtocolDrug, problems: &mut Problems) {
    let unit_ok = match d.basis {
        DoseBasis::PerKg => d.dose_unit.contains("/kg"),
        DoseBasis::PerM2 => d.dose_unit.ends_with("/m2"),
        DoseBasis::PerAuc => d.dose_unit == "mg/mL.min",
        DoseBasis::Flat => !d.dose_unit.contains('/'),
        DoseBasis::Formula => true,
    };
    if !unit_ok {
        problems.push(
            format!("{at}.dose_unit"),
            format!("'{}' does not match basis '{:?}'", d.dose_unit, d.basis).to_lowercase(),
        );
    } else if crate::units::parse_unit(&d.dose_unit).is_err() {
        problems.push(
            format!("{at}.dose_unit"),
            format!("unknown unit '{}'", d.dose_unit),
        );
    }
    if d.basis == DoseBasis::Formula && d.formula.as_deref().is_none_or(|f| f.trim().is_empty()) {
        problems.push(
            format!("{at}.formula"),
            "basis 'formula' needs the formula's name",
        );
    }
}

/// Route, duration or titration (so chair time can be planned), and the dose and rate caps.
fn validate_drug_administration(at: &str, d: &ProtocolDrug, problems: &mut Problems) {
    if !ROUTES.contains(&d.route.as_str()) {
        problems.push(
            format!("{at}.route"),
            format!("unknown route '{}'; one of {}", d.route, ROUTES.join(", ")),
        );
    }
    if d.route == "iv" && d.duration_min.is_none() && d.titration.is_none() {
        problems.push(
            format!("{at}.duration_min"),
            "an IV drug needs a duration (minutes) or a titration schedule, so chair time can be planned",
        );
    }
    if let Some(m) = d.duration_min
        && !positive(m)
    {
        problems.push(
            format!("{at}.duration_min"),
            format!("must be a positive number of minutes, not {m}"),
        );
    }
    if let Some(t) = &d.titration
        && !is_id(t)
    {
        problems.push(
            format!("{at}.titration"),
            format!("'{t}' must be first, subsequent, rapid or a library titration id"),
        );
    }
    for (key, q) in [("max_dose", &d.max_dose), ("max_rate", &d.max_rate)] {
        if let Some(q) = q
            && crate::units::parse_quantity(q).is_err()
        {
            problems.push(
                format!("{at}.{key}"),
                format!("'{q}' is not a quantity such as '2 mg' or '10 mEq/h'"),
            );
        }
    }
}

/// A premedication's own fields (its days and source are checked by the phase).
fn validate_premedication(at: &str, pm: &Premedication, problems: &mut Problems) {
    if !is_id(&pm.medication) {
        problems.push(
            format!("{at}.medication"),
            format!("'{}' is not a library id", pm.medication),
        );
    }
    if crate::units::Amount::parse(&pm.dose).is_err() {
        problems.push(
            format!("{at}.dose"),
            format!("'{}' is not a dose such as '650 mg'", pm.dose),
        );
    }
    if !ROUTES.contains(&pm.route.as_str()) {
        problems.push(
            format!("{at}.route"),
            format!("unknown route '{}'", pm.route),
        );
    }
    if !(pm.lead_min.is_finite() && (0.0..=240.0).contains(&pm.lead_min)) {
        problems.push(
            format!("{at}.lead_min"),
            format!("must be 0 to 240 minutes, not {}", pm.lead_min),
        );
    }
}

/// A hydration's own fields (its days and source are checked by the phase).
fn validate_hydration(at: &str, h: &Hydration, problems: &mut Problems) {
    if !is_id(&h.fluid) {
        problems.push(
            format!("{at}.fluid"),
            format!("'{}' is not a library id", h.fluid),
        );
    }
    if !positive(h.volume_ml) || h.volume_ml > 5000.0 {
        problems.push(
            format!("{at}.volume_ml"),
            format!("must be above 0 and at most 5000 mL, not {}", h.volume_ml),
        );
    }
    if !positive(h.duration_min) {
        problems.push(
            format!("{at}.duration_min"),
            format!(
                "must be a positive number of minutes, not {}",
                h.duration_min
            ),
        );
    }
}

/// A go/no-go lab: a known lab and unit, and a valid min/max window.
fn validate_lab(at: &str, l: &LabGate, problems: &mut Problems) {
    if !LABS.contains(&l.lab.as_str()) {
        problems.push(
            format!("{at}.lab"),
            format!("unknown lab '{}'; one of {}", l.lab, LABS.join(", ")),
        );
    }
    if crate::units::parse_unit(&l.unit).is_err() {
        problems.push(format!("{at}.unit"), format!("unknown unit '{}'", l.unit));
    }
    match (l.min, l.max) {
        (None, None) => problems.push(format!("{at}.min"), "a lab gate needs min, max or both"),
        (Some(a), Some(b)) if a >= b => problems.push(
            format!("{at}.max"),
            format!("max {b} must be above min {a}"),
        ),
        _ => {}
    }
    for (k, v) in [("min", l.min), ("max", l.max)] {
        if let Some(v) = v
            && !(v.is_finite() && v >= 0.0)
        {
            problems.push(
                format!("{at}.{k}"),
                format!("must be a finite number ≥ 0, not {v}"),
            );
        }
    }
    problems.source(format!("{at}.source"), &l.source);
}

/// Dose levels of a drug of this protocol: level 0 and at least one reduction, decreasing.
fn validate_dose_levels(
    at: &str,
    dl: &DoseLevels,
    medications: &BTreeSet<String>,
    problems: &mut Problems,
) {
    if !medications.contains(&dl.medication) {
        problems.push(
            format!("{at}.medication"),
            format!("'{}' is not a drug of this protocol", dl.medication),
        );
    }
    if dl.levels.len() < 2 {
        problems.push(
            format!("{at}.levels"),
            "list level 0 and at least one reduced level",
        );
    }
    if dl.levels.iter().any(|v| !positive(*v)) || dl.levels.windows(2).any(|w| w[1] >= w[0]) {
        problems.push(
            format!("{at}.levels"),
            "levels must be positive and strictly decreasing (level 0, −1, −2 …)",
        );
    }
    problems.source(format!("{at}.source"), &dl.source);
}

/// Chair-time parameters: each 0 to 480 minutes.
fn validate_chair(c: &ChairSpec, problems: &mut Problems) {
    for (k, v) in [
        ("setup_min", c.setup_min),
        ("takedown_min", c.takedown_min),
        ("observation_min_first", c.observation_min_first),
        ("observation_min_subsequent", c.observation_min_subsequent),
    ] {
        if !(v.is_finite() && (0.0..=480.0).contains(&v)) {
            problems.push(
                format!("chair.{k}"),
                format!("must be 0 to 480 minutes, not {v}"),
            );
        }
    }
    problems.source("chair.source".into(), &c.source);
}

/// Checks a validated protocol against the drug library: every IV drug and hydration fluid is
/// a library entry, named products exist, and every titration name resolves to one library
/// schedule (as `infusio calc titration` resolves it). Drugs by other routes (oral
/// premedications, aspirin) may be outside the infusion library.
pub fn check_against_library(
    p: &Protocol,
    file: &str,
    text: &str,
    library: &crate::library::Library,
) -> Vec<ProtocolError> {
    use super::calc::{ScheduleProblem, resolve_titration};
    let mut out: Vec<(String, String)> = Vec::new();
    for (pi, ph) in p.phases.iter().enumerate() {
        for (di, d) in ph.drugs.iter().enumerate() {
            let at = format!("phases[{pi}].drugs[{di}]");
            let Some(entry) = library.get(&d.medication) else {
                if d.route == "iv" {
                    out.push((
                        format!("{at}.medication"),
                        format!("'{}' is not in the drug library", d.medication),
                    ));
                }
                continue;
            };
            if let Some(prod) = &d.product
                && !entry.products.iter().any(|x| &x.id == prod)
            {
                out.push((
                    format!("{at}.product"),
                    format!("'{prod}' is not a product of {}", entry.id),
                ));
                continue;
            }
            if let Some(t) = &d.titration
                && let Err(problem) = resolve_titration(entry, d.product.as_deref(), Some(t))
            {
                let message = match problem {
                    ScheduleProblem::NoSchedules => {
                        format!("{} has no titration schedule in the library", entry.id)
                    }
                    ScheduleProblem::ProductRequired(products) => format!(
                        "the schedule depends on the product: add product = one of {}",
                        products.join(", ")
                    ),
                    ScheduleProblem::Ambiguous(names) | ScheduleProblem::Unknown(names) => {
                        format!("'{t}' is not a schedule of {}; one of: {names}", entry.id)
                    }
                };
                out.push((format!("{at}.titration"), message));
            }
        }
        for (k, h) in ph.hydration.iter().enumerate() {
            if library.get(&h.fluid).is_none() {
                out.push((
                    format!("phases[{pi}].hydration[{k}].fluid"),
                    format!("'{}' is not in the drug library", h.fluid),
                ));
            }
        }
    }
    out.into_iter()
        .map(|(field, message)| ProtocolError {
            line: locate_line(text, &field),
            file: file.to_string(),
            field,
            message,
        })
        .collect()
}

/// Line of a dotted path (`phases[0].drugs[1].days[2]`), or of its deepest existing ancestor.
fn locate_line(text: &str, path: &str) -> Option<usize> {
    use toml::de::DeValue;
    let tree = toml::de::DeTable::parse(text).ok()?;
    let mut best = None;
    let mut table = Some(tree.get_ref());
    for segment in path.split('.') {
        let (key, indices) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        let Some(value) = table.and_then(|t| t.get(key)) else {
            break;
        };
        best = Some(value.span().start);
        let mut v = value.get_ref();
        for idx in indices.split(['[', ']']).filter(|s| !s.is_empty()) {
            let item = match (idx.parse::<usize>(), v) {
                (Ok(i), DeValue::Array(a)) => a.get(i),
                _ => None,
            };
            let Some(item) = item else {
                return best.map(|o| line_of(text, o));
            };
            best = Some(item.span().start);
            v = item.get_ref();
        }
        table = match v {
            DeValue::Table(t) => Some(t),
            _ => None,
        };
    }
    best.map(|o| line_of(text, o))
}
