//! The `infusio check` input, read strictly from JSON: unknown keys are refused, every
//! quantity goes through the typed parsers, and nothing missing is ever filled in.

use serde_json::Value;

use super::time::parse_instant_h;
use super::{LAB_NAMES, SCREENING_RESULTS, lab_value};
use crate::calc::common::{self, Sex};
use crate::input::{Fields, InputError, as_given, check_range, parse_quantity_value};
use crate::library::{CARE_AREAS, LINES};
use crate::units::{Age, Amount, Area, BodyWeight, DosePer, Duration, Length, Volume, VolumeRate};

/// A dosing frequency: `once`, `q<N>h`, `q<N>d`, `q<N>w`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Frequency {
    Once,
    /// Every N hours (days and weeks converted to hours).
    EveryHours(f64),
}

impl Frequency {
    pub fn parse(text: &str) -> Option<Frequency> {
        if text == "once" {
            return Some(Frequency::Once);
        }
        let rest = text.strip_prefix('q')?;
        let (num, unit) = rest.split_at(rest.len().checked_sub(1)?);
        let n: f64 = num.parse().ok()?;
        if !(n.is_finite() && n > 0.0) {
            return None;
        }
        let hours = match unit {
            "h" => n,
            "d" => n * 24.0,
            "w" => n * 168.0,
            _ => return None,
        };
        Some(Frequency::EveryHours(hours))
    }

    /// Doses given in any 24 hours.
    pub fn doses_per_day(self) -> f64 {
        match self {
            Frequency::Once => 1.0,
            Frequency::EveryHours(h) if h < 24.0 => 24.0 / h,
            Frequency::EveryHours(_) => 1.0,
        }
    }

    pub fn interval_h(self) -> Option<f64> {
        match self {
            Frequency::Once => None,
            Frequency::EveryHours(h) => Some(h),
        }
    }
}

/// An order (the one being checked, or an active one).
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    pub medication: String,
    pub dose: Amount,
    pub dose_per: Option<DosePer>,
    pub route: Option<String>,
    pub volume: Option<Volume>,
    pub duration: Option<Duration>,
    pub rate: Option<VolumeRate>,
    pub line: Option<String>,
    pub frequency: Option<Frequency>,
    pub infusion_number: Option<u32>,
    /// Number of subcutaneous infusion sites the volume and rate are split over (1 to 12).
    pub sites: Option<u32>,
    /// Steps given before this infusion, by id (`hyaluronidase` before HyQvia's immune
    /// globulin).
    pub preceded_by: Vec<String>,
    pub product: Option<String>,
    pub indication: Option<String>,
    /// Number of doses this order gives (`order.doses`; daily × 5: 5), when it is limited.
    pub doses: Option<u32>,
    /// A limit set a pharmacist entered for a medication outside the library.
    pub off_library: Option<OffLibraryLimits>,
}

/// The limits a pharmacist entered for a medication the library does not hold
/// (`order.off_library`). Permission to order outside the library is the application's
/// role right; the engine checks the order against these limits and always asks for a
/// double check.
#[derive(Clone, Debug, PartialEq)]
pub struct OffLibraryLimits {
    /// Who entered the limits (a pharmacist's user id or name).
    pub entered_by: String,
    /// Why the medication is ordered outside the library.
    pub reason: String,
    /// The largest dose that may be given.
    pub dose_hard_max: Amount,
    /// The fastest pump rate that may be given, when the medication is infused.
    pub rate_hard_max: Option<VolumeRate>,
}

/// A laboratory result in the lab's canonical unit.
#[derive(Clone, Debug, PartialEq)]
pub struct LabResult {
    pub name: String,
    pub value: f64,
    pub given: String,
    /// Hours since 1970-01-01T00:00Z, when the time was given.
    pub at_h: Option<f64>,
}

/// An allergy as recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Allergy {
    pub substance: String,
    pub reaction: Option<String>,
    pub severity: Option<String>,
}

/// An earlier administration.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryItem {
    pub medication: String,
    pub dose: Option<Amount>,
    pub bsa: Option<Area>,
    pub weight: Option<BodyWeight>,
    pub at_h: Option<f64>,
}

/// The patient context.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Patient {
    pub age: Option<Age>,
    pub sex: Option<Sex>,
    pub weight: Option<BodyWeight>,
    pub height: Option<Length>,
    pub bsa: Option<Area>,
    pub labs: Vec<LabResult>,
    pub allergies: Vec<Allergy>,
    pub history: Vec<HistoryItem>,
    pub active_orders: Vec<Order>,
    pub screening: Vec<(String, String)>,
    pub conditions: Vec<String>,
    /// Lab results dated after the check's `at`: never used, each reported.
    pub future_labs: Vec<LabResult>,
}

impl Patient {
    pub fn lab(&self, name: &str) -> Option<&LabResult> {
        self.labs.iter().find(|l| l.name == name)
    }

    pub fn has_condition(&self, c: &str) -> bool {
        self.conditions.iter().any(|x| x == c)
    }
}

/// A complete check request.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckRequest {
    pub patient: Patient,
    pub care_area: String,
    pub order: Order,
    /// The time of the check (hours since 1970-01-01T00:00Z); lab ages need it.
    pub at_h: Option<f64>,
}

impl CheckRequest {
    /// Reads the contract's JSON shape; unknown keys and malformed values are refused.
    pub fn from_json(input: &Value) -> Result<CheckRequest, InputError> {
        let mut f = Fields::new(input, "")?;
        let patient = match f.opt_object("patient")? {
            Some(p) => read_patient(p)?,
            None => Patient::default(),
        };
        let care_area = f.choice("care_area", &CARE_AREAS)?;
        let order = match f.raw("order") {
            Some(v) => read_order(v, "order")?,
            None => return Err(InputError::new("order", "", "required: the order to check")),
        };
        let at_h = opt_instant(&mut f, "at")?;
        f.finish()?;
        let mut patient = patient;
        if let Some(now) = at_h {
            let (future, kept): (Vec<LabResult>, Vec<LabResult>) = patient
                .labs
                .into_iter()
                .partition(|l| l.at_h.is_some_and(|t| t > now + FUTURE_TOLERANCE_H));
            patient.labs = kept;
            patient.future_labs = future;
        }
        Ok(CheckRequest {
            patient,
            care_area,
            order,
            at_h,
        })
    }
}

/// A result may be dated this far after the check's `at` (clock differences between
/// systems) before it counts as dated in the future: 5 minutes.
pub const FUTURE_TOLERANCE_H: f64 = 5.0 / 60.0;

/// Physiologically possible ranges of the labs, in their canonical units: a result outside
/// is refused as a slip (a creatinine of 0.001 mg/dL would give a clearance of 50,000 mL/min).
/// Wide on purpose: these are the limits of the possible, not of the normal.
pub const LAB_PLAUSIBLE: [(&str, f64, f64); 20] = [
    ("serum_creatinine", 0.05, 30.0),
    ("anc", 0.0, 300.0),
    ("wbc", 0.0, 1000.0),
    ("platelets", 0.0, 5000.0),
    ("lymphocytes", 0.0, 1000.0),
    ("hemoglobin", 1.0, 25.0),
    ("potassium", 1.0, 12.0),
    ("sodium", 90.0, 200.0),
    ("magnesium", 0.2, 20.0),
    ("calcium", 2.0, 25.0),
    ("phosphate", 0.2, 30.0),
    ("glucose", 5.0, 3000.0),
    ("triglycerides", 5.0, 20000.0),
    ("bilirubin", 0.0, 80.0),
    ("ast", 0.0, 50000.0),
    ("alt", 0.0, 50000.0),
    ("albumin", 0.5, 7.0),
    ("ferritin", 0.0, 100000.0),
    ("transferrin_saturation", 0.0, 100.0),
    ("factor_level", 0.0, 400.0),
];

/// A medication name as ordered: Unicode NFKC, trimmed and lowercased. Invisible and control
/// characters (a zero-width space makes `heparin` a different string) and letters outside
/// basic Latin (a Cyrillic `а` looks like a Latin `a`) are refused: library names are
/// Latin, so such a name could only ever look like one without being it.
pub fn normalize_medication(text: &str) -> Result<String, String> {
    use unicode_normalization::UnicodeNormalization;
    // Fast path: printable ASCII is already in NFKC (this runs on every check).
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Ok(text.trim().to_ascii_lowercase());
    }
    if let Some(c) = crate::library::invisible_char(text) {
        return Err(format!(
            "the name holds the invisible or control character U+{:04X}; type the name again",
            c as u32
        ));
    }
    let n: String = text.nfkc().collect::<String>().trim().to_lowercase();
    if let Some(c) = n.chars().find(|c| !c.is_ascii()) {
        return Err(format!(
            "the name holds '{c}' (U+{:04X}), a character outside basic Latin that can look like a Latin letter; library names are Latin letters, digits, spaces and hyphens",
            c as u32
        ));
    }
    Ok(n)
}

fn opt_instant(f: &mut Fields, key: &str) -> Result<Option<f64>, InputError> {
    match f.opt_string(key)? {
        None => Ok(None),
        Some(s) => parse_instant_h(&s).map(Some).ok_or_else(|| {
            InputError::new(
                f.path_of(key),
                s,
                "expected an ISO 8601 date or UTC date-time such as '2026-11-26' or '2026-11-26T09:00:00Z'",
            )
        }),
    }
}

fn read_patient(mut f: Fields) -> Result<Patient, InputError> {
    let mut p = Patient {
        age: common::opt_age(&mut f, "age")?,
        sex: common::opt_sex(&mut f, "sex")?,
        weight: common::opt_weight(&mut f, "weight")?,
        height: common::opt_height(&mut f, "height")?,
        ..Patient::default()
    };
    p.bsa = f.opt_quantity(
        "bsa",
        "a body-surface area such as '1.8 m2'",
        Area::from_quantity,
    )?;
    if let Some(b) = p.bsa {
        check_range(
            &f.path_of("bsa"),
            &format!("{} m2", b.value()),
            b.value(),
            0.1,
            3.5,
            "m2",
        )?;
    }
    if let Some(mut labs) = f.opt_object("labs")? {
        for (name, _) in LAB_NAMES {
            // Paths are built only for labs that are present (this loop runs on every check).
            if let Some(v) = labs.raw(name) {
                p.labs.push(read_lab(name, v, &labs.path_of(name))?);
            }
        }
        labs.finish()?;
    }
    if let Some(items) = f.opt_array("allergies")? {
        for (path, v) in items {
            p.allergies.push(read_allergy(v, &path)?);
        }
    }
    if let Some(items) = f.opt_array("history")? {
        for (path, v) in items {
            p.history.push(read_history(v, &path)?);
        }
    }
    if let Some(items) = f.opt_array("active_orders")? {
        for (path, v) in items {
            p.active_orders.push(read_order(v, &path)?);
        }
    }
    if let Some(mut s) = f.opt_object("screening")? {
        for test in super::SCREENING_TESTS {
            if let Some(r) = s.opt_choice(test, &SCREENING_RESULTS)? {
                p.screening.push((test.to_string(), r));
            }
        }
        s.finish()?;
    }
    if let Some(items) = f.opt_array("conditions")? {
        for (path, v) in items {
            match v.as_str() {
                Some(c) if !c.trim().is_empty() => p.conditions.push(c.trim().to_lowercase()),
                _ => {
                    return Err(InputError::new(
                        path,
                        as_given(v),
                        "expected a condition name such as 'mediastinal-radiotherapy'",
                    ));
                }
            }
        }
    }
    f.finish()?;
    Ok(p)
}

fn read_lab(name: &str, v: &Value, path: &str) -> Result<LabResult, InputError> {
    let (text, at_h) = match v {
        Value::String(s) => (s.clone(), None),
        Value::Object(_) => {
            let mut o = Fields::new(v, path)?;
            let text = o.opt_string("value")?.ok_or_else(|| {
                InputError::new(
                    o.path_of("value"),
                    "",
                    "required: the result as a quantity string",
                )
            })?;
            let at = opt_instant(&mut o, "at")?;
            o.finish()?;
            (text, at)
        }
        other => {
            return Err(InputError::new(
                path,
                as_given(other),
                "expected a quantity string or {\"value\": \"<quantity>\", \"at\": \"<ISO date-time>\"}",
            ));
        }
    };
    let value_path = || {
        if matches!(v, Value::Object(_)) {
            format!("{path}.value")
        } else {
            path.to_string()
        }
    };
    let value =
        lab_value(name, &text).map_err(|m| InputError::new(value_path(), text.clone(), m))?;
    // The path is built only for a refusal (this runs for every lab of every check).
    if let Some((_, min, max)) = LAB_PLAUSIBLE.iter().find(|(n, _, _)| *n == name)
        && !(value >= *min && value <= *max)
    {
        let unit = super::lab_unit(name).unwrap_or("");
        check_range(&value_path(), &text, value, *min, *max, unit).map_err(|e| {
            InputError::new(
                e.field,
                e.value,
                format!(
                    "{} (physiologically possible range; check the value and its unit)",
                    e.message
                ),
            )
        })?;
    }
    Ok(LabResult {
        name: name.to_string(),
        value,
        given: text,
        at_h,
    })
}

fn read_allergy(v: &Value, path: &str) -> Result<Allergy, InputError> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Ok(Allergy {
            substance: s.trim().to_lowercase(),
            reaction: None,
            severity: None,
        }),
        Value::Object(_) => {
            let mut o = Fields::new(v, path)?;
            let substance = o
                .opt_string("substance")?
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| {
                    InputError::new(
                        o.path_of("substance"),
                        "",
                        "required: the substance, e.g. 'penicillin'",
                    )
                })?;
            let reaction = o.opt_string("reaction")?;
            let severity = o.opt_choice("severity", &["mild", "moderate", "severe", "unknown"])?;
            o.finish()?;
            Ok(Allergy {
                substance: substance.trim().to_lowercase(),
                reaction: reaction.map(|r| r.to_lowercase()),
                severity,
            })
        }
        other => Err(InputError::new(
            path,
            as_given(other),
            "expected a substance name or {\"substance\", \"reaction\", \"severity\"}",
        )),
    }
}

fn read_history(v: &Value, path: &str) -> Result<HistoryItem, InputError> {
    let mut o = Fields::new(v, path)?;
    let medication = o.opt_string("medication")?.ok_or_else(|| {
        InputError::new(o.path_of("medication"), "", "required: the medication id")
    })?;
    let dose = o.opt_quantity("dose", "an amount such as '108 mg'", Amount::from_quantity)?;
    let bsa = o.opt_quantity(
        "bsa",
        "a body-surface area such as '1.8 m2'",
        Area::from_quantity,
    )?;
    let weight = common::opt_weight(&mut o, "weight")?;
    let at_h = opt_instant(&mut o, "at")?;
    o.finish()?;
    let medication = normalize_medication(&medication).map_err(|m| {
        InputError::new(
            format!("{path}.medication"),
            medication.escape_debug().to_string(),
            m,
        )
    })?;
    Ok(HistoryItem {
        medication,
        dose,
        bsa,
        weight,
        at_h,
    })
}

/// Reads an order object at `path` (`order`, `patient.active_orders[0]`).
pub fn read_order(v: &Value, path: &str) -> Result<Order, InputError> {
    let mut o = Fields::new(v, path)?;
    let medication = read_medication(&mut o)?;
    let (dose, dose_per) = read_dose(&mut o)?;
    let route = o.opt_choice("route", &crate::library::ROUTES)?;
    let (volume, duration, rate) = read_pump(&mut o)?;
    let line = o.opt_choice("line", &LINES)?;
    let frequency = match o.opt_string("frequency")? {
        None => None,
        Some(s) => Some(Frequency::parse(&s).ok_or_else(|| {
            InputError::new(
                o.path_of("frequency"),
                s.clone(),
                "expected once, q<N>h, q<N>d or q<N>w (e.g. q8h, q21d)",
            )
        })?),
    };
    let infusion_number = opt_count(
        &mut o,
        "infusion_number",
        10_000,
        "expected a whole number from 1 (first infusion)",
    )?;
    let sites = opt_count(
        &mut o,
        "sites",
        12,
        "expected the number of subcutaneous infusion sites, a whole number from 1 to 12",
    )?;
    let preceded_by = read_preceded_by(&mut o)?;
    let product = o.opt_string("product")?;
    let indication = o.opt_string("indication")?;
    let doses = opt_count(
        &mut o,
        "doses",
        1000,
        "expected the number of doses the order gives, a whole number from 1 to 1,000",
    )?;
    let off_library = match o.opt_object("off_library")? {
        None => None,
        Some(f) => Some(read_off_library(f)?),
    };
    o.finish()?;
    Ok(Order {
        medication,
        doses,
        off_library,
        dose,
        dose_per,
        route,
        volume,
        duration,
        rate,
        line,
        frequency,
        infusion_number,
        sites,
        preceded_by,
        product,
        indication,
    })
}

/// The order's `preceded_by`: an optional list of step ids (`["hyaluronidase"]`).
fn read_preceded_by(o: &mut Fields) -> Result<Vec<String>, InputError> {
    let Some(items) = o.opt_array("preceded_by")? else {
        return Ok(Vec::new());
    };
    items
        .into_iter()
        .map(|(path, v)| {
            v.as_str()
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().to_string())
                .ok_or_else(|| {
                    InputError::new(
                        path,
                        as_given(v),
                        "expected a step id such as 'hyaluronidase'",
                    )
                })
        })
        .collect()
}

/// The order's `medication`: required, normalised to a library id.
fn read_medication(o: &mut Fields) -> Result<String, InputError> {
    let given = o
        .opt_string("medication")?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            InputError::new(
                o.path_of("medication"),
                "",
                "required: the drug-library id, e.g. 'infliximab'",
            )
        })?;
    normalize_medication(&given)
        .map_err(|m| InputError::new(o.path_of("medication"), given.escape_debug().to_string(), m))
}

/// The order's `dose` (required, above 0) and `dose_per` (optional).
fn read_dose(o: &mut Fields) -> Result<(Amount, Option<DosePer>), InputError> {
    let dose = o.quantity(
        "dose",
        "an amount such as '350 mg', '2 g', '1000 units', '20 mEq' or '1000 mL'",
        Amount::from_quantity,
    )?;
    if !(dose.value.is_finite() && dose.value > 0.0) {
        return Err(InputError::new(
            o.path_of("dose"),
            format!("{} {}", dose.value, dose.display_unit),
            "a dose must be greater than 0",
        ));
    }
    let dose_per = match o.raw("dose_per") {
        None => None,
        Some(v) => Some(parse_quantity_value(
            v,
            &o.path_of("dose_per"),
            "a dose per basis such as '5 mg/kg', '375 mg/m2' or '200 mg'",
            DosePer::from_quantity,
        )?),
    };
    Ok((dose, dose_per))
}

/// An order's pump fields: volume, duration, rate.
type PumpFields = (Option<Volume>, Option<Duration>, Option<VolumeRate>);

/// The order's pump fields, each optional and above 0: `volume`, `duration`, `rate`.
fn read_pump(o: &mut Fields) -> Result<PumpFields, InputError> {
    let volume = positive(
        o,
        "volume",
        "a volume such as '250 mL'",
        Volume::from_quantity,
        |x| x.value(),
    )?;
    let duration = positive(
        o,
        "duration",
        "a duration such as '2 h' or '30 min'",
        Duration::from_quantity,
        |x| x.value(),
    )?;
    let rate = positive(
        o,
        "rate",
        "a pump rate such as '125 mL/h'",
        VolumeRate::from_quantity,
        |x| x.value(),
    )?;
    Ok((volume, duration, rate))
}

/// An optional whole number from 1 to `max` at `key`; `accepted` says what is accepted.
fn opt_count(
    o: &mut Fields,
    key: &str,
    max: u64,
    accepted: &str,
) -> Result<Option<u32>, InputError> {
    match o.raw(key) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if (1..=max).contains(&n) => Ok(Some(n as u32)),
            _ => Err(InputError::new(o.path_of(key), as_given(v), accepted)),
        },
    }
}

fn read_off_library(mut f: Fields) -> Result<OffLibraryLimits, InputError> {
    let required = |f: &mut Fields, key: &str, what: &str| -> Result<String, InputError> {
        f.opt_string(key)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| InputError::new(f.path_of(key), "", format!("required: {what}")))
    };
    let entered_by = required(
        &mut f,
        "entered_by",
        "the pharmacist who entered the limits",
    )?;
    let reason = required(
        &mut f,
        "reason",
        "why the medication is ordered outside the library",
    )?;
    let dose_hard_max = f
        .opt_quantity(
            "dose_hard_max",
            "an amount such as '40 mEq'",
            Amount::from_quantity,
        )?
        .ok_or_else(|| {
            InputError::new(
                f.path_of("dose_hard_max"),
                "",
                "required: the largest dose that may be given, such as '40 mEq'",
            )
        })?;
    if !(dose_hard_max.value.is_finite() && dose_hard_max.value > 0.0) {
        return Err(InputError::new(
            f.path_of("dose_hard_max"),
            format!("{} {}", dose_hard_max.value, dose_hard_max.display_unit),
            "must be greater than 0",
        ));
    }
    let rate_hard_max = positive(
        &mut f,
        "rate_hard_max",
        "a pump rate such as '100 mL/h'",
        VolumeRate::from_quantity,
        |x| x.value(),
    )?;
    f.finish()?;
    Ok(OffLibraryLimits {
        entered_by: entered_by.trim().to_string(),
        reason: reason.trim().to_string(),
        dose_hard_max,
        rate_hard_max,
    })
}

fn positive<T>(
    o: &mut Fields,
    key: &str,
    what: &str,
    convert: impl Fn(&crate::units::Quantity) -> Result<T, crate::units::UnitError>,
    value_of: impl Fn(&T) -> f64,
) -> Result<Option<T>, InputError> {
    let v = o.opt_quantity(key, what, convert)?;
    if let Some(x) = &v {
        let n = value_of(x);
        if !(n.is_finite() && n > 0.0) {
            let given = o.raw(key).map(as_given);
            return Err(InputError::new(
                o.path_of(key),
                given.unwrap_or_default(),
                format!("must be greater than 0; expected {what}"),
            ));
        }
    }
    Ok(v)
}
