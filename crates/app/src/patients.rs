//! Patients: registration, search, the chart, and the observations the dose engine reads
//! (weight and height with time and source, lab results, allergies).

use infusio_core::check::{LAB_NAMES, lab_unit, lab_value};
use infusio_core::input::Fields;
use infusio_core::units::{BodyWeight, Length};
use infusio_store::records::{Allergy, LabResult, Measurement, Order, Patient};
use infusio_store::{Change, Decimal, Stored};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::db::text;
use crate::time::{age_at, iso_from_us, parse_date, parse_instant};
use crate::{Action, Actor, App, AppError};

/// A number as decimal text for the record: at most 6 decimals, trailing zeros removed, no
/// thousands separators (the record is not a display).
pub fn decimal(value: f64) -> Result<Decimal, AppError> {
    if !value.is_finite() {
        return Err(AppError::Internal(format!("non-finite number {value}")));
    }
    let fixed = format!("{value:.6}");
    let trimmed = if fixed.contains('.') {
        fixed
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        fixed
    };
    let trimmed = if trimmed == "-0" {
        "0".to_string()
    } else {
        trimmed
    };
    Ok(Decimal::parse(&trimmed)?)
}

/// A stored decimal as a number.
pub fn number(d: &Decimal) -> f64 {
    d.as_str().parse().unwrap_or(f64::NAN)
}

/// The patient's chart: demographics and everything recorded about them, newest first.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    pub patient: Stored<Patient>,
    pub measurements: Vec<Stored<Measurement>>,
    pub labs: Vec<Stored<LabResult>>,
    pub allergies: Vec<Stored<Allergy>>,
    pub orders: Vec<OrderSummary>,
    /// Therapy plans (a protocol from a start date, with every planned day), oldest first.
    pub plans: Vec<Stored<infusio_store::records::TherapyPlan>>,
}

/// One line of the chart's order list.
#[derive(Debug, Clone, Serialize)]
pub struct OrderSummary {
    pub id: String,
    pub version: i64,
    pub medication: String,
    pub status: infusio_store::OrderStatus,
    pub created_at: String,
}

/// Which body measure a [`NewMeasurement`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeasureKind {
    /// Body weight, kg.
    Weight,
    /// Height, cm.
    Height,
}

impl MeasureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MeasureKind::Weight => "weight",
            MeasureKind::Height => "height",
        }
    }

    /// The unit the record keeps this measure in.
    pub fn unit(self) -> &'static str {
        match self {
            MeasureKind::Weight => "kg",
            MeasureKind::Height => "cm",
        }
    }
}

/// A weight or height to record: `{"kind", "value", ["measured_at"], ["source"]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMeasurement {
    pub kind: MeasureKind,
    /// In [`MeasureKind::unit`]: a weight 0.3–500 kg, a height 20–260 cm.
    pub value: f64,
    /// The value as the user gave it (`154 lb`), for the audit event.
    pub as_given: String,
    /// When it was measured; `None`: now.
    pub measured_at_us: Option<i64>,
    /// scale | stated | EHR | estimated (default scale).
    pub source: String,
}

/// The text of a JSON value as given (a string without its quotes).
fn as_given(v: Option<&Json>) -> String {
    match v {
        Some(Json::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

impl TryFrom<&Json> for NewMeasurement {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let kind = match f.choice("kind", &["weight", "height"])?.as_str() {
            "weight" => MeasureKind::Weight,
            _ => MeasureKind::Height,
        };
        let value = match kind {
            MeasureKind::Weight => {
                let w = f.quantity(
                    "value",
                    "a weight such as '70 kg' or '154 lb'",
                    BodyWeight::from_quantity,
                )?;
                let text = format!("{} kg", w.value());
                infusio_core::input::check_range("value", &text, w.value(), 0.3, 500.0, "kg")?;
                w.value()
            }
            MeasureKind::Height => {
                let h = f.quantity(
                    "value",
                    "a height such as '170 cm' or '67 in'",
                    Length::from_quantity,
                )?;
                let text = format!("{} cm", h.value());
                infusio_core::input::check_range("value", &text, h.value(), 20.0, 260.0, "cm")?;
                h.value()
            }
        };
        let measured_at_us = opt_instant(&mut f, "measured_at")?;
        let source = f
            .opt_choice("source", &["scale", "stated", "EHR", "estimated"])?
            .unwrap_or_else(|| "scale".into());
        f.finish()?;
        Ok(NewMeasurement {
            kind,
            value,
            as_given: as_given(input.get("value")),
            measured_at_us,
            source,
        })
    }
}

/// A lab result to record: `{"name", "value", ["collected_at"], ["source"]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLab {
    /// A lab the checks read (`serum_creatinine`, `anc` …).
    pub name: String,
    /// In `unit`, the lab's canonical unit.
    pub value: f64,
    pub unit: String,
    pub as_given: String,
    /// When the sample was collected; `None`: now.
    pub collected_at_us: Option<i64>,
    /// Default `lab`.
    pub source: String,
}

impl TryFrom<&Json> for NewLab {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let names: Vec<&str> = LAB_NAMES.iter().map(|(n, _)| *n).collect();
        let name = f.choice("name", &names)?;
        let given = f.opt_string("value")?.ok_or_else(|| {
            AppError::invalid("value", "", "required: the result as a quantity string")
        })?;
        let value =
            lab_value(&name, &given).map_err(|m| AppError::invalid("value", given.clone(), m))?;
        let unit = lab_unit(&name).unwrap_or_default().to_string();
        let collected_at_us = opt_instant(&mut f, "collected_at")?;
        let source = f.opt_string("source")?.unwrap_or_else(|| "lab".into());
        f.finish()?;
        Ok(NewLab {
            name,
            value,
            unit,
            as_given: given,
            collected_at_us,
            source,
        })
    }
}

/// The earliest birth date a patient may be registered with: an earlier one is a typing
/// error (year 0001, 1066), not a patient.
pub const EARLIEST_BIRTH_DATE: &str = "1900-01-01";

/// An allergy to record: `{"substance", ["reaction"], ["severity"]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAllergy {
    /// Trimmed, lower-case.
    pub substance: String,
    pub reaction: Option<String>,
    /// mild | moderate | severe | unknown (default unknown).
    pub severity: String,
}

impl TryFrom<&Json> for NewAllergy {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let substance = f
            .opt_string("substance")?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                AppError::invalid(
                    "substance",
                    "",
                    "required: the substance, e.g. 'penicillin'",
                )
            })?;
        let reaction = f.opt_string("reaction")?;
        let severity = f
            .opt_choice("severity", &["mild", "moderate", "severe", "unknown"])?
            .unwrap_or_else(|| "unknown".into());
        f.finish()?;
        Ok(NewAllergy {
            substance: substance.trim().to_lowercase(),
            reaction,
            severity,
        })
    }
}

/// The total of one drug given to a patient, in one unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CumulativeDose {
    pub medication: String,
    pub unit: String,
    /// The sum of the completed orders' doses, in `unit`.
    pub total: f64,
    /// How many completed orders it sums.
    pub n_orders: usize,
}

/// Sums the doses of the completed orders per (drug, unit), ordered by drug then unit.
pub fn cumulative(orders: &[Stored<Order>]) -> Vec<CumulativeDose> {
    let mut out: std::collections::BTreeMap<(String, String), (f64, usize)> =
        std::collections::BTreeMap::new();
    for o in orders
        .iter()
        .filter(|o| o.data.status == infusio_store::OrderStatus::Completed)
    {
        let e = out
            .entry((o.data.drug_id.clone(), o.data.dose_unit.clone()))
            .or_insert((0.0, 0));
        e.0 += number(&o.data.dose);
        e.1 += 1;
    }
    out.into_iter()
        .map(|((medication, unit), (total, n_orders))| CumulativeDose {
            medication,
            unit,
            total,
            n_orders,
        })
        .collect()
}

/// What the dose engine and the checks know of a patient at one instant.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    pub patient_id: String,
    pub mrn: String,
    pub age_y: i64,
    pub age_months: i64,
    pub sex: String,
    /// Latest weight, kg, with its time.
    pub weight_kg: Option<(f64, String)>,
    /// Latest height, cm, with its time.
    pub height_cm: Option<(f64, String)>,
    /// Latest result per lab name: (value in the lab's canonical unit, unit, collected at).
    pub labs: Vec<(String, f64, String, String)>,
    pub allergies: Vec<(String, Option<String>, String)>,
}

impl Context {
    /// The `patient` object of the check contract.
    pub(crate) fn check_json(&self) -> Json {
        let mut p = serde_json::Map::new();
        let age = if self.age_y >= 2 {
            format!("{} y", self.age_y)
        } else {
            format!("{} mo", self.age_months)
        };
        p.insert("age".into(), json!(age));
        if self.sex == "male" || self.sex == "female" {
            p.insert("sex".into(), json!(self.sex));
        }
        if let Some((w, _)) = self.weight_kg {
            p.insert("weight".into(), json!(format!("{w} kg")));
        }
        if let Some((h, _)) = self.height_cm {
            p.insert("height".into(), json!(format!("{h} cm")));
        }
        let labs: serde_json::Map<String, Json> = self
            .labs
            .iter()
            .map(|(name, v, unit, at)| {
                (
                    name.clone(),
                    json!({"value": format!("{v} {unit}"), "at": at}),
                )
            })
            .collect();
        if !labs.is_empty() {
            p.insert("labs".into(), Json::Object(labs));
        }
        let allergies: Vec<Json> = self
            .allergies
            .iter()
            .map(|(substance, reaction, severity)| {
                let mut a = json!({"substance": substance, "severity": severity});
                if let Some(r) = reaction {
                    a["reaction"] = json!(r);
                }
                a
            })
            .collect();
        if !allergies.is_empty() {
            p.insert("allergies".into(), Json::Array(allergies));
        }
        Json::Object(p)
    }
}

fn patient_change(actor: &Actor, action: Action, name: &str) -> Result<Change, AppError> {
    Ok(Change::by(&actor.user_id, actor.permit(action)?.as_str()).action(name))
}

impl App {
    /// Registers a patient (the MRN must be new).
    pub async fn create_patient(
        &self,
        actor: &Actor,
        input: &NewPatient,
    ) -> Result<Stored<Patient>, AppError> {
        let change = patient_change(actor, Action::WritePatient, "patient.create")?;
        let patient = patient_row(input, self.now_us())?;
        let mut tx = self.store().begin().await?;
        if !tx
            .find_by::<Patient>("mrn", text(&patient.mrn))
            .await?
            .is_empty()
        {
            return Err(AppError::Conflict(format!(
                "a patient with MRN {} is already registered",
                patient.mrn
            )));
        }
        let p = tx.insert(&change, patient).await?;
        tx.commit().await?;
        Ok(p)
    }

    /// Patients whose MRN equals `q` or whose family or given name starts with it
    /// (case-insensitive); every patient when `q` is empty. At most 100, by family name.
    pub async fn search_patients(
        &self,
        actor: &Actor,
        q: &str,
    ) -> Result<Vec<Stored<Patient>>, AppError> {
        actor.permit(Action::ReadClinical)?;
        let mut tx = self.store().begin_snapshot().await?;
        let ids = tx.search_patient_ids(q, 100).await?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(p) = tx.get::<Patient>(&id).await? {
                out.push(p);
            }
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// The total dose given per drug and unit (the doses given as recorded at the end of each
    /// administration; a completed order without that record counts its ordered dose), oldest
    /// drug first by name. Doses are summed as recorded, without converting between units
    /// (a drug ordered in mg and in g appears twice), so every figure can be traced to its
    /// orders. Lifetime limits (e.g. anthracycline equivalents) are the checks' `[cumulative]`
    /// ledger; this is the chart's record of what was given.
    pub async fn cumulative_doses(
        &self,
        actor: &Actor,
        patient_id: &str,
    ) -> Result<Vec<CumulativeDose>, AppError> {
        actor.permit(Action::ReadClinical)?;
        let mut tx = self.store().begin_snapshot().await?;
        if tx.get::<Patient>(patient_id).await?.is_none() {
            return Err(AppError::NotFound {
                entity: "patient",
                id: patient_id.into(),
            });
        }
        let orders = tx.find_by::<Order>("patient_id", text(patient_id)).await?;
        // Doses given, as recorded when each administration ended (a partial infusion is a
        // partial dose): see `crate::completion::ledger`.
        let mut administrations = Vec::new();
        for o in &orders {
            administrations.extend(
                tx.find_by::<infusio_store::records::Administration>("order_id", text(&o.id))
                    .await?,
            );
        }
        tx.rollback().await?;
        Ok(crate::completion::ledger(&orders, &administrations))
    }

    /// The chart of one patient.
    pub async fn chart(&self, actor: &Actor, patient_id: &str) -> Result<Chart, AppError> {
        actor.permit(Action::ReadClinical)?;
        // Every chart read is recorded in the access log (an unknown id reads nothing).
        if self.store().get::<Patient>(patient_id).await?.is_some() {
            self.record_access(actor, patient_id, "chart", None).await?;
        }
        let mut tx = self.store().begin_snapshot().await?;
        let patient = tx
            .get::<Patient>(patient_id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                entity: "patient",
                id: patient_id.to_string(),
            })?;
        let by_patient = || text(patient_id);
        let mut measurements = tx
            .find_by::<Measurement>("patient_id", by_patient())
            .await?;
        let mut labs = tx.find_by::<LabResult>("patient_id", by_patient()).await?;
        let allergies = tx.find_by::<Allergy>("patient_id", by_patient()).await?;
        let orders = tx.find_by::<Order>("patient_id", by_patient()).await?;
        let plans = tx
            .find_by::<infusio_store::records::TherapyPlan>("patient_id", by_patient())
            .await?;
        tx.rollback().await?;
        measurements.sort_by_key(|m| std::cmp::Reverse(m.data.measured_at_us));
        labs.sort_by_key(|l| std::cmp::Reverse(l.data.collected_at_us));
        Ok(Chart {
            patient,
            measurements,
            labs,
            allergies,
            orders: orders
                .into_iter()
                .rev()
                .map(|o| OrderSummary {
                    id: o.id,
                    version: o.version,
                    medication: o.data.drug_id,
                    status: o.data.status,
                    created_at: iso_from_us(o.created_at_us),
                })
                .collect(),
            plans,
        })
    }

    /// Records a weight or height ([`NewMeasurement`], converted to kg or cm and range-checked
    /// when it was read).
    pub async fn add_measurement(
        &self,
        actor: &Actor,
        patient_id: &str,
        m: &NewMeasurement,
    ) -> Result<Stored<Measurement>, AppError> {
        let change = patient_change(actor, Action::RecordObservation, "measurement.record")?;
        self.insert_for_patient(
            patient_id,
            &change.derivation(json!({"as_given": m.as_given})),
            Measurement {
                patient_id: patient_id.to_string(),
                kind: m.kind.as_str().to_string(),
                value: decimal(m.value)?,
                unit: m.kind.unit().to_string(),
                measured_at_us: m.measured_at_us.unwrap_or_else(|| self.now_us()),
                source: m.source.clone(),
                recorded_by: Some(actor.user_id.clone()),
            },
        )
        .await
    }

    /// Records a lab result ([`NewLab`], converted to the lab's canonical unit when read).
    pub async fn add_lab(
        &self,
        actor: &Actor,
        patient_id: &str,
        lab: &NewLab,
    ) -> Result<Stored<LabResult>, AppError> {
        let change = patient_change(actor, Action::RecordObservation, "lab.record")?;
        let now = self.now_us();
        self.insert_for_patient(
            patient_id,
            &change.derivation(json!({"as_given": lab.as_given})),
            LabResult {
                patient_id: patient_id.to_string(),
                code: lab.name.clone(),
                name: lab.name.clone(),
                value: decimal(lab.value)?,
                unit: lab.unit.clone(),
                collected_at_us: lab.collected_at_us.unwrap_or(now),
                resulted_at_us: Some(now),
                source: lab.source.clone(),
            },
        )
        .await
    }

    /// Records an allergy ([`NewAllergy`]; the substance is kept trimmed and lower-case).
    pub async fn add_allergy(
        &self,
        actor: &Actor,
        patient_id: &str,
        a: &NewAllergy,
    ) -> Result<Stored<Allergy>, AppError> {
        let change = patient_change(actor, Action::RecordObservation, "allergy.record")?;
        self.insert_for_patient(
            patient_id,
            &change,
            Allergy {
                patient_id: patient_id.to_string(),
                substance: a.substance.clone(),
                reaction: a.reaction.clone(),
                severity: a.severity.clone(),
                recorded_by: Some(actor.user_id.clone()),
            },
        )
        .await
    }

    async fn insert_for_patient<T: infusio_store::Record>(
        &self,
        patient_id: &str,
        change: &Change,
        row: T,
    ) -> Result<Stored<T>, AppError> {
        let mut tx = self.store().begin().await?;
        if tx.get::<Patient>(patient_id).await?.is_none() {
            return Err(AppError::NotFound {
                entity: "patient",
                id: patient_id.to_string(),
            });
        }
        let stored = tx.insert(change, row).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// The patient as the dose engine sees them at `at_us`: latest weight and height, latest
    /// result of each lab, allergies.
    pub async fn context(&self, patient_id: &str, at_us: i64) -> Result<Context, AppError> {
        let mut tx = self.store().begin_snapshot().await?;
        let patient = tx
            .get::<Patient>(patient_id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                entity: "patient",
                id: patient_id.to_string(),
            })?;
        let measurements = tx
            .find_by::<Measurement>("patient_id", text(patient_id))
            .await?;
        let lab_rows = tx
            .find_by::<LabResult>("patient_id", text(patient_id))
            .await?;
        let allergies = tx
            .find_by::<Allergy>("patient_id", text(patient_id))
            .await?;
        tx.rollback().await?;
        let latest = |kind: &str| {
            measurements
                .iter()
                .filter(|m| m.data.kind == kind && m.data.measured_at_us <= at_us)
                .max_by_key(|m| m.data.measured_at_us)
                .map(|m| (number(&m.data.value), iso_from_us(m.data.measured_at_us)))
        };
        let mut labs: Vec<(String, f64, String, String)> = Vec::new();
        let mut sorted: Vec<&Stored<LabResult>> = lab_rows
            .iter()
            .filter(|l| l.data.collected_at_us <= at_us)
            .collect();
        sorted.sort_by_key(|l| std::cmp::Reverse(l.data.collected_at_us));
        for l in sorted {
            if !labs.iter().any(|(n, ..)| *n == l.data.code) {
                labs.push((
                    l.data.code.clone(),
                    number(&l.data.value),
                    l.data.unit.clone(),
                    iso_from_us(l.data.collected_at_us),
                ));
            }
        }
        let (age_y, age_months) = age_at(&patient.data.birth_date, at_us)?;
        Ok(Context {
            patient_id: patient.id,
            mrn: patient.data.mrn,
            age_y,
            age_months,
            sex: patient.data.sex,
            weight_kg: latest("weight"),
            height_cm: latest("height"),
            labs,
            allergies: allergies
                .into_iter()
                .map(|a| (a.data.substance, a.data.reaction, a.data.severity))
                .collect(),
        })
    }
}

/// An optional UTC instant field.
pub(crate) fn opt_instant(f: &mut Fields, key: &str) -> Result<Option<i64>, AppError> {
    let path = f.path_of(key);
    match f.opt_string(key)? {
        None => Ok(None),
        Some(s) => Ok(Some(parse_instant(&path, &s)?)),
    }
}

/// The demographic fields of a patient, checked as at registration (and at a demographic
/// update).
/// An identifier of a patient beside the MRN (a national number, another system's id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    pub system: String,
    pub value: String,
}

/// A patient's demographics, to register them or to replace what is recorded:
/// `{"mrn", "family_name", "given_name", "birth_date": "YYYY-MM-DD", "sex":
/// "female|male|other|unknown", ["identifiers": [{"system", "value"}]]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPatient {
    pub mrn: String,
    pub family_name: String,
    pub given_name: String,
    /// `YYYY-MM-DD`, a calendar date (checked not to be in the future when recorded).
    pub birth_date: String,
    /// `female`, `male`, `other` or `unknown`.
    pub sex: String,
    pub identifiers: Vec<Identifier>,
}

/// A replacement of a patient's demographics: the same fields as a registration.
pub type PatientUpdate = NewPatient;

impl TryFrom<&Json> for NewPatient {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let required = |f: &mut Fields, key: &str, what: &str| -> Result<String, AppError> {
            let path = f.path_of(key);
            match f.opt_string(key)? {
                Some(s) if !s.trim().is_empty() && s.len() <= 200 => Ok(s.trim().to_string()),
                Some(s) => Err(AppError::invalid(
                    path,
                    s,
                    format!("{what}, 1 to 200 characters"),
                )),
                None => Err(AppError::invalid(path, "", format!("required: {what}"))),
            }
        };
        let mrn = required(&mut f, "mrn", "the medical record number")?;
        let family_name = required(&mut f, "family_name", "the family name")?;
        let given_name = required(&mut f, "given_name", "the given name")?;
        let birth_date = required(&mut f, "birth_date", "the birth date YYYY-MM-DD")?;
        parse_date("birth_date", &birth_date)?;
        let sex = f.choice("sex", &["female", "male", "other", "unknown"])?;
        let identifiers = match f.raw("identifiers") {
            None => Vec::new(),
            Some(v) => Vec::<Identifier>::deserialize(v).map_err(|_| {
                AppError::invalid(
                    "identifiers",
                    v.to_string(),
                    "an array of {\"system\": \"...\", \"value\": \"...\"}",
                )
            })?,
        };
        f.finish()?;
        Ok(NewPatient {
            mrn,
            family_name,
            given_name,
            birth_date,
            sex,
            identifiers,
        })
    }
}

/// The patient row for `p`, refusing a birth date after today (by `now_us`).
pub(crate) fn patient_row(p: &NewPatient, now_us: i64) -> Result<Patient, AppError> {
    if p.birth_date > crate::time::date_from_us(now_us)
        || p.birth_date.as_str() < EARLIEST_BIRTH_DATE
    {
        return Err(AppError::invalid(
            "birth_date",
            p.birth_date.clone(),
            format!("a date from {EARLIEST_BIRTH_DATE} to today"),
        ));
    }
    Ok(Patient {
        mrn: p.mrn.clone(),
        family_name: p.family_name.clone(),
        given_name: p.given_name.clone(),
        birth_date: p.birth_date.clone(),
        sex: p.sex.clone(),
        identifiers_json: serde_json::to_value(&p.identifiers)
            .map_err(|e| AppError::Internal(format!("identifiers: {e}")))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use infusio_store::OrderStatus;

    fn order(drug: &str, dose: &str, unit: &str, status: OrderStatus) -> Stored<Order> {
        Stored {
            id: format!("{drug}-{dose}"),
            version: 1,
            created_at_us: 0,
            updated_at_us: 0,
            data: Order {
                patient_id: "p".into(),
                therapy_plan_id: None,
                drug_id: drug.into(),
                dose: Decimal::parse(dose).expect("decimal"),
                dose_unit: unit.into(),
                route: "IV".into(),
                final_volume_ml: None,
                rate_ml_per_h: None,
                status,
                prescriber_id: "doc".into(),
                signed_at_us: None,
                high_alert: false,
                pump_programme_json: json!({}),
                derivation_json: json!({}),
                findings_json: json!([]),
                overrides_json: json!([]),
            },
        }
    }

    #[test]
    fn only_completed_orders_count_and_units_are_never_mixed() {
        use OrderStatus as S;
        let orders = [
            order("doxorubicin", "75", "mg", S::Completed),
            order("doxorubicin", "72.5", "mg", S::Completed),
            order("doxorubicin", "70", "mg", S::InProgress),
            order("doxorubicin", "0.07", "g", S::Completed),
            order("doxorubicin", "60", "mg", S::Discontinued),
            order("cyclophosphamide", "1200", "mg", S::Completed),
            order("cyclophosphamide", "1000", "mg", S::Cancelled),
        ];
        let got: Vec<(String, String, f64, usize)> = cumulative(&orders)
            .into_iter()
            .map(|c| (c.medication, c.unit, c.total, c.n_orders))
            .collect();
        assert_eq!(
            got,
            vec![
                ("cyclophosphamide".into(), "mg".into(), 1200.0, 1),
                ("doxorubicin".into(), "g".into(), 0.07, 1),
                ("doxorubicin".into(), "mg".into(), 147.5, 2),
            ]
        );
    }

    #[test]
    fn no_completed_order_gives_no_total() {
        let orders = [order("rituximab", "700", "mg", OrderStatus::Verified)];
        assert!(cumulative(&orders).is_empty());
    }
}
