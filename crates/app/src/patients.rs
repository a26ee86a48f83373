//! Patients: registration, search, the chart, and the observations the dose engine reads
//! (weight and height with time and source, lab results, allergies).

use infusio_core::check::{LAB_NAMES, lab_unit, lab_value};
use infusio_core::input::Fields;
use infusio_core::units::{BodyWeight, Length};
use infusio_store::records::{Allergy, LabResult, Measurement, Order, Patient};
use infusio_store::{Change, Decimal, Kind, Stored, now_us};
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::db::{fetch, text};
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
    pub fn check_json(&self) -> Json {
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
    /// Registers a patient: `{"mrn", "family_name", "given_name", "birth_date": "YYYY-MM-DD",
    /// "sex": "female|male|other|unknown", ["identifiers": [{"system", "value"}]]}`.
    pub async fn create_patient(
        &self,
        actor: &Actor,
        input: &Json,
    ) -> Result<Stored<Patient>, AppError> {
        let change = patient_change(actor, Action::WritePatient, "patient.create")?;
        let patient = read_patient(input)?;
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
        let pattern = format!("{}%", q.trim().to_lowercase().replace(['%', '_'], ""));
        let ids = fetch(
            &mut tx,
            "SELECT id FROM patients WHERE mrn = $1 OR lower(family_name) LIKE $2 OR lower(given_name) LIKE $2
             ORDER BY family_name, given_name LIMIT 100",
            &[text(q.trim()), text(pattern)],
            &[Kind::Text],
        )
        .await?;
        let mut out = Vec::new();
        for row in ids {
            if let Some(id) = crate::db::as_text(&row[0])
                && let Some(p) = tx.get::<Patient>(id).await?
            {
                out.push(p);
            }
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// The chart of one patient.
    pub async fn chart(&self, actor: &Actor, patient_id: &str) -> Result<Chart, AppError> {
        actor.permit(Action::ReadClinical)?;
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

    /// Records a weight or height: `{"kind": "weight|height", "value": "70 kg" | "154 lb" |
    /// "170 cm" | "67 in", ["measured_at": "…Z"], ["source": "scale|stated|EHR"]}`. Stored in kg
    /// or cm; the value as given is kept in the audit event.
    pub async fn add_measurement(
        &self,
        actor: &Actor,
        patient_id: &str,
        input: &Json,
    ) -> Result<Stored<Measurement>, AppError> {
        let change = patient_change(actor, Action::RecordObservation, "measurement.record")?;
        let mut f = Fields::new(input, "")?;
        let kind = f.choice("kind", &["weight", "height"])?;
        let (value, unit) = if kind == "weight" {
            let w = f.quantity(
                "value",
                "a weight such as '70 kg' or '154 lb'",
                BodyWeight::from_quantity,
            )?;
            infusio_core::input::check_range(
                "value",
                &format!("{} kg", w.value()),
                w.value(),
                0.3,
                500.0,
                "kg",
            )?;
            (w.value(), "kg")
        } else {
            let h = f.quantity(
                "value",
                "a height such as '170 cm' or '67 in'",
                Length::from_quantity,
            )?;
            infusio_core::input::check_range(
                "value",
                &format!("{} cm", h.value()),
                h.value(),
                20.0,
                260.0,
                "cm",
            )?;
            (h.value(), "cm")
        };
        let measured_at_us = opt_instant(&mut f, "measured_at")?.unwrap_or_else(now_us);
        let source = f
            .opt_choice("source", &["scale", "stated", "EHR", "estimated"])?
            .unwrap_or_else(|| "scale".into());
        f.finish()?;
        self.insert_for_patient(
            patient_id,
            &change.derivation(json!({"as_given": input.get("value")})),
            Measurement {
                patient_id: patient_id.to_string(),
                kind,
                value: decimal(value)?,
                unit: unit.to_string(),
                measured_at_us,
                source,
                recorded_by: Some(actor.user_id.clone()),
            },
        )
        .await
    }

    /// Records a lab result: `{"name": "serum_creatinine", "value": "0.9 mg/dL",
    /// ["collected_at": "…Z"], ["source"]}`. `name` is one of the labs the checks read; the
    /// value is converted to that lab's unit (e.g. 80 umol/L → 0.905 mg/dL).
    pub async fn add_lab(
        &self,
        actor: &Actor,
        patient_id: &str,
        input: &Json,
    ) -> Result<Stored<LabResult>, AppError> {
        let change = patient_change(actor, Action::RecordObservation, "lab.record")?;
        let mut f = Fields::new(input, "")?;
        let names: Vec<&str> = LAB_NAMES.iter().map(|(n, _)| *n).collect();
        let name = f.choice("name", &names)?;
        let given = f.opt_string("value")?.ok_or_else(|| {
            AppError::invalid("value", "", "required: the result as a quantity string")
        })?;
        let value =
            lab_value(&name, &given).map_err(|m| AppError::invalid("value", given.clone(), m))?;
        let unit = lab_unit(&name).unwrap_or_default();
        let collected_at_us = opt_instant(&mut f, "collected_at")?.unwrap_or_else(now_us);
        let source = f.opt_string("source")?.unwrap_or_else(|| "lab".into());
        f.finish()?;
        self.insert_for_patient(
            patient_id,
            &change.derivation(json!({"as_given": given})),
            LabResult {
                patient_id: patient_id.to_string(),
                code: name.clone(),
                name,
                value: decimal(value)?,
                unit: unit.to_string(),
                collected_at_us,
                resulted_at_us: Some(now_us()),
                source,
            },
        )
        .await
    }

    /// Records an allergy: `{"substance", ["reaction"], ["severity": "mild|moderate|severe|unknown"]}`.
    pub async fn add_allergy(
        &self,
        actor: &Actor,
        patient_id: &str,
        input: &Json,
    ) -> Result<Stored<Allergy>, AppError> {
        let change = patient_change(actor, Action::RecordObservation, "allergy.record")?;
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
        self.insert_for_patient(
            patient_id,
            &change,
            Allergy {
                patient_id: patient_id.to_string(),
                substance: substance.trim().to_lowercase(),
                reaction,
                severity,
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
        Some(s) => parse_instant(&path, &s).map(Some),
    }
}

/// The demographic fields of a patient, checked as at registration (and at a demographic
/// update).
pub(crate) fn read_patient(input: &Json) -> Result<Patient, AppError> {
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
    if birth_date > crate::time::date_from_us(now_us()) {
        return Err(AppError::invalid(
            "birth_date",
            birth_date,
            "a date not in the future",
        ));
    }
    let sex = f.choice("sex", &["female", "male", "other", "unknown"])?;
    let identifiers = match f.raw("identifiers") {
        None => json!([]),
        Some(v @ Json::Array(items))
            if items.iter().all(|i| {
                i.get("system").is_some_and(Json::is_string)
                    && i.get("value").is_some_and(Json::is_string)
            }) =>
        {
            v.clone()
        }
        Some(other) => {
            return Err(AppError::invalid(
                "identifiers",
                other.to_string(),
                "an array of {\"system\": \"...\", \"value\": \"...\"}",
            ));
        }
    };
    f.finish()?;
    Ok(Patient {
        mrn,
        family_name,
        given_name,
        birth_date,
        sex,
        identifiers_json: identifiers,
    })
}
