//! What interfaces (the HL7 v2 gateway) need from the record, beside the workflows people
//! use: an interface identity, patients found and registered by MRN, observations recorded
//! all together, the inbound message log that makes redelivery idempotent, and pump events
//! reconciled with the administration they belong to.
//!
//! Invariants:
//! - Interfaces act as the user [`INTERFACE_USERNAME`]: it has no password (it can never sign
//!   in) and holds the nurse role, the one role that may register patients, record
//!   observations and record administration events; every change it makes carries the
//!   message it came from (sender, control id) in its audit event.
//! - A message's observations are written in one transaction with the patient they belong
//!   to: all or nothing.
//! - Pump events only ever attach to an administration a nurse started at the bedside (the
//!   five-rights scan); a pump cannot start one.

use infusio_core::check::lab_unit;
use infusio_store::records::{
    Administration, AdministrationEvent, Appointment, LabResult, Measurement, Order, Patient, User,
    UserRole,
};
use infusio_store::{
    AdministrationEventKind, AdministrationStatus, AppointmentStatus, Change, OrderStatus, Role,
    Stored,
};
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::db::text;
use crate::patients::{decimal, number};
use crate::{Action, Actor, App, AppError};

/// The user name of the interface identity.
pub const INTERFACE_USERNAME: &str = "interface.hl7";

/// Pump times may lead the server's clock by at most this much (clock drift), µs (5 min).
pub const PUMP_CLOCK_TOLERANCE_US: i64 = 5 * 60 * 1_000_000;

/// What an observation is, for the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObservationKind {
    Weight,
    Height,
    /// A lab named as the checks name it (`serum_creatinine`, `anc` …).
    Lab(String),
}

/// One observation from an interface, already converted to the record's unit (kg, cm, or the
/// lab's unit) by `infusio-core`.
#[derive(Debug, Clone, PartialEq)]
pub struct InterfaceObservation {
    pub kind: ObservationKind,
    /// The code it came with (LOINC).
    pub code: String,
    pub value: f64,
    pub unit: String,
    pub as_given: String,
    pub observed_at_us: i64,
}

/// Demographics from an interface (PID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfacePatient {
    pub mrn: String,
    pub family_name: String,
    pub given_name: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// female | male | other | unknown
    pub sex: String,
}

/// One row of the inbound message log (kept by the store, table `interface_inbound`).
pub use infusio_store::InboundRecord;

/// Where an interface message came from; it goes into the audit event of every change the
/// message makes (`{"interface": …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// MSH-3, the sending application (and device).
    pub sender: String,
    /// MSH-10, the message control id.
    pub control_id: String,
    /// MSH-9, e.g. `ADT^A04`.
    pub message_type: String,
    /// The pump that reported a pump event (PCD-01 MSH-3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pump: Option<String>,
}

/// What a pump reported (PCD-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpEventKind {
    Started,
    RateChanged,
    Paused,
    Resumed,
    Completed,
}

impl PumpEventKind {
    /// The name kept in the record (`started`, `rate_changed` …).
    pub fn as_str(self) -> &'static str {
        match self {
            PumpEventKind::Started => "started",
            PumpEventKind::RateChanged => "rate_changed",
            PumpEventKind::Paused => "paused",
            PumpEventKind::Resumed => "resumed",
            PumpEventKind::Completed => "completed",
        }
    }
}

/// A pump event for the record.
#[derive(Debug, Clone, PartialEq)]
pub struct PumpEventInput {
    pub order_id: String,
    /// The administration id the pump echoed from the programme, if any.
    pub administration_id: Option<String>,
    pub kind: PumpEventKind,
    pub at_us: i64,
    pub rate_ml_per_h: Option<f64>,
    pub volume_infused_ml: Option<f64>,
    /// Which pump and which message.
    pub source: Provenance,
}

/// What a pump event did to the record.
#[derive(Debug, Clone, PartialEq)]
pub struct PumpEventOutcome {
    pub administration_id: String,
    /// The administration's status afterwards.
    pub status: AdministrationStatus,
    /// Remarks on the reconciliation (e.g. the volume infused differs from the VTBI).
    pub remarks: Vec<String>,
}

impl App {
    /// The interface identity, created on first use (user [`INTERFACE_USERNAME`], no
    /// password, role nurse).
    pub async fn interface_actor(&self) -> Result<Actor, AppError> {
        let mut tx = self.store().begin().await?;
        let existing = tx
            .find_by::<User>("username", text(INTERFACE_USERNAME))
            .await?;
        let user = match existing.into_iter().next() {
            Some(u) => {
                tx.rollback().await?;
                u
            }
            None => {
                let change = Change::by("system", "system").action("user.create");
                let u = tx
                    .insert(
                        &change,
                        User {
                            username: INTERFACE_USERNAME.into(),
                            display_name: "HL7 v2 interface".into(),
                            password_hash: None,
                            active: true,
                        },
                    )
                    .await?;
                tx.insert(
                    &change,
                    UserRole {
                        user_id: u.id.clone(),
                        role: Role::Nurse,
                    },
                )
                .await?;
                tx.commit().await?;
                u
            }
        };
        Ok(Actor {
            user_id: user.id,
            username: user.data.username,
            display_name: user.data.display_name,
            roles: vec![Role::Nurse],
        })
    }

    /// The log row of a message already received from `sender` with `control_id`.
    pub async fn inbound_seen(
        &self,
        sender: &str,
        control_id: &str,
    ) -> Result<Option<InboundRecord>, AppError> {
        let mut tx = self.store().begin_snapshot().await?;
        let row = tx.inbound(sender, control_id).await?;
        tx.rollback().await?;
        Ok(row)
    }

    /// Logs a received message with the acknowledgement sent. A second row for the same
    /// (sender, control id) is not written: the first answer stands.
    pub async fn inbound_record(&self, r: &InboundRecord) -> Result<(), AppError> {
        let mut tx = self.store().begin().await?;
        tx.insert_inbound(r).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every logged inbound message, oldest first (for audits and tests).
    pub async fn inbound_log(&self) -> Result<Vec<InboundRecord>, AppError> {
        let mut tx = self.store().begin_snapshot().await?;
        let rows = tx.inbound_log().await?;
        tx.rollback().await?;
        Ok(rows)
    }

    /// The patient with this MRN, if registered.
    pub async fn patient_by_mrn(
        &self,
        actor: &Actor,
        mrn: &str,
    ) -> Result<Option<Stored<Patient>>, AppError> {
        actor.permit(Action::ReadClinical)?;
        let mut tx = self.store().begin_snapshot().await?;
        let found = tx.find_by::<Patient>("mrn", text(mrn)).await?;
        tx.rollback().await?;
        Ok(found.into_iter().next())
    }

    /// Registers the patient (or updates the demographics of the one with this MRN) and
    /// records the observations, in one transaction. `provenance` (sender, control id …) goes
    /// into every audit event. Returns the patient and whether it was created.
    pub async fn interface_admit(
        &self,
        actor: &Actor,
        patient: &InterfacePatient,
        observations: &[InterfaceObservation],
        provenance: &Provenance,
    ) -> Result<(Stored<Patient>, bool), AppError> {
        let role = actor.permit(Action::WritePatient)?;
        actor.permit(Action::RecordObservation)?;
        let row = checked_patient(patient, self.now_us())?;
        let mut tx = self.store().begin().await?;
        let existing = tx.find_by::<Patient>("mrn", text(&row.mrn)).await?;
        let (stored, created) = match existing.into_iter().next() {
            None => {
                let change = Change::by(&actor.user_id, role.as_str())
                    .action("patient.create")
                    .derivation(json!({"interface": provenance}));
                (tx.insert(&change, row).await?, true)
            }
            Some(current) => {
                let mut updated = row;
                // The interface does not know the local identifiers list; keep it.
                updated.identifiers_json = current.data.identifiers_json.clone();
                if updated == current.data {
                    (current, false)
                } else {
                    let change = Change::by(&actor.user_id, role.as_str())
                        .action("patient.update")
                        .derivation(json!({"interface": provenance}));
                    (
                        tx.update(&change, &current.id, current.version, updated)
                            .await?,
                        false,
                    )
                }
            }
        };
        insert_observations(
            &mut tx,
            actor,
            &stored.id,
            observations,
            provenance,
            self.now_us(),
        )
        .await?;
        tx.commit().await?;
        Ok((stored, created))
    }

    /// Records observations for the patient with this MRN, all in one transaction; a patient
    /// who is not registered is `NotFound` (labs never register a patient).
    pub async fn interface_results(
        &self,
        actor: &Actor,
        mrn: &str,
        observations: &[InterfaceObservation],
        provenance: &Provenance,
    ) -> Result<Stored<Patient>, AppError> {
        actor.permit(Action::RecordObservation)?;
        let mut tx = self.store().begin().await?;
        let patient = tx
            .find_by::<Patient>("mrn", text(mrn))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| AppError::NotFound {
                entity: "patient with MRN",
                id: mrn.to_string(),
            })?;
        insert_observations(
            &mut tx,
            actor,
            &patient.id,
            observations,
            provenance,
            self.now_us(),
        )
        .await?;
        tx.commit().await?;
        Ok(patient)
    }

    /// Reconciles one pump event with the administration of its order that is in progress:
    /// `started` sets the administration's start to the pump's start (the bedside scan time
    /// is kept in the event); `rate_changed` records a rate change at the pump's time;
    /// `paused`/`resumed` record notes; `completed` ends the administration at the pump's
    /// time with the volume infused, completes the order and the appointment. Times before
    /// the bedside scan or ahead of the server's clock by more than
    /// [`PUMP_CLOCK_TOLERANCE_US`] are refused.
    #[expect(
        clippy::too_many_lines,
        reason = "pump-event reconciliation: to be split when pump events are matched by pump id (interoperability work)"
    )]
    pub async fn interface_pump_event(
        &self,
        actor: &Actor,
        e: &PumpEventInput,
    ) -> Result<PumpEventOutcome, AppError> {
        let role = actor.permit(Action::Administer)?;
        let change = |action: &str| {
            Change::by(&actor.user_id, role.as_str())
                .action(action.to_string())
                .derivation(json!({"interface": e.source}))
        };
        let now = self.now_us();
        if e.at_us > now + PUMP_CLOCK_TOLERANCE_US {
            return Err(AppError::invalid(
                "event time",
                crate::time::iso_from_us(e.at_us),
                "a time no later than the server's clock plus 5 min",
            ));
        }
        let mut tx = self.store().begin().await?;
        let running: Vec<Stored<Administration>> = tx
            .find_by::<Administration>("order_id", text(&e.order_id))
            .await?
            .into_iter()
            .filter(|a| a.data.status == "in_progress")
            .collect();
        let Some(a) = running.into_iter().last() else {
            return Err(AppError::state(
                "administration.not_running",
                format!(
                    "no administration of order {} is in progress; pump events attach to an administration started at the bedside",
                    e.order_id
                ),
            ));
        };
        if let Some(hint) = e.administration_id.as_deref().filter(|h| !h.is_empty())
            && hint != a.id
        {
            return Err(AppError::Conflict(format!(
                "the pump names administration {hint}, but administration {} of order {} is the one in progress",
                a.id, e.order_id
            )));
        }
        let bedside_scan_at_us = a.data.started_at_us;
        let earliest = if e.kind == PumpEventKind::Started {
            bedside_scan_at_us - PUMP_CLOCK_TOLERANCE_US
        } else {
            a.data.started_at_us
        };
        if e.at_us < earliest {
            return Err(AppError::invalid(
                "event time",
                crate::time::iso_from_us(e.at_us),
                format!(
                    "a time after the administration's start at {}",
                    crate::time::iso_from_us(a.data.started_at_us)
                ),
            ));
        }
        let rate = e.rate_ml_per_h.map(decimal).transpose()?;
        let mut detail = json!({
            "source": "pump",
            "pump_event": e.kind.as_str(),
            "interface": e.source,
        });
        if let Some(v) = e.volume_infused_ml {
            detail["volume_infused_ml"] = json!(v);
        }
        let mut remarks = Vec::new();
        let event = |kind: AdministrationEventKind, detail: Json| AdministrationEvent {
            administration_id: a.id.clone(),
            kind,
            at_us: e.at_us,
            recorded_by: actor.user_id.clone(),
            rate_ml_per_h: rate.clone(),
            reaction_grade: None,
            detail_json: detail,
        };
        let status = match e.kind {
            PumpEventKind::Started => {
                detail["bedside_scan_at_us"] = json!(bedside_scan_at_us);
                tx.insert(
                    &change("administration.pump_started"),
                    event(AdministrationEventKind::Note, detail),
                )
                .await?;
                let mut row = a.data.clone();
                row.started_at_us = e.at_us;
                if let Some(r) = e.rate_ml_per_h {
                    let keyed = row.pump_programme_json["rate_ml_per_h"].as_f64();
                    if keyed.is_some_and(|k| (k - r).abs() > 0.05) {
                        remarks.push(format!(
                            "the pump started at {r} mL/h; the programme keyed at the bedside is {} mL/h",
                            keyed.unwrap_or_default()
                        ));
                    }
                }
                tx.update(
                    &change("administration.actual_start"),
                    &a.id,
                    a.version,
                    row,
                )
                .await?;
                AdministrationStatus::InProgress
            }
            PumpEventKind::RateChanged => {
                if rate.is_none() {
                    return Err(AppError::invalid("rate", "", "required for a rate change"));
                }
                tx.insert(
                    &change("administration.event"),
                    event(AdministrationEventKind::RateChange, detail),
                )
                .await?;
                AdministrationStatus::InProgress
            }
            PumpEventKind::Paused | PumpEventKind::Resumed => {
                tx.insert(
                    &change("administration.event"),
                    event(AdministrationEventKind::Note, detail),
                )
                .await?;
                AdministrationStatus::InProgress
            }
            PumpEventKind::Completed => {
                let volume = e.volume_infused_ml.ok_or_else(|| {
                    AppError::invalid("volume_infused", "", "required for a completion")
                })?;
                let vtbi = a.data.pump_programme_json["vtbi_ml"].as_f64();
                if let Some(v) = vtbi
                    && (volume - v).abs() > (0.05 * v).max(1.0)
                {
                    let remark = format!(
                        "volume infused {volume} mL differs from the programmed {v} mL by more than 5%"
                    );
                    detail["reconciliation"] = json!(remark);
                    remarks.push(remark);
                }
                tx.insert(
                    &change("administration.event"),
                    event(AdministrationEventKind::Stop, detail),
                )
                .await?;
                let mut row = a.data.clone();
                row.status = AdministrationStatus::Completed;
                row.stopped_at_us = Some(e.at_us);
                let admin = tx
                    .update(&change("administration.finish"), &a.id, a.version, row)
                    .await?;
                let o = tx.get_for_update::<Order>(&admin.data.order_id).await?;
                let mut orow = o.data.clone();
                orow.status = OrderStatus::Completed;
                tx.update(&change("order.completed"), &o.id, o.version, orow)
                    .await?;
                if let Some(aid) = &admin.data.appointment_id {
                    let ap = tx.get_for_update::<Appointment>(aid).await?;
                    let mut aprow = ap.data.clone();
                    aprow.status = AppointmentStatus::Completed;
                    tx.update(&change("appointment.completed"), aid, ap.version, aprow)
                        .await?;
                }
                AdministrationStatus::Completed
            }
        };
        tx.commit().await?;
        Ok(PumpEventOutcome {
            administration_id: a.id,
            status,
            remarks,
        })
    }

    /// The administration and its events, oldest event first (for the pump programme and
    /// for reconciliation checks).
    pub async fn administration_with_events(
        &self,
        actor: &Actor,
        administration_id: &str,
    ) -> Result<(Stored<Administration>, Vec<Stored<AdministrationEvent>>), AppError> {
        actor.permit(Action::ReadClinical)?;
        let mut tx = self.store().begin_snapshot().await?;
        let a = tx
            .get::<Administration>(administration_id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                entity: "administration",
                id: administration_id.to_string(),
            })?;
        let mut events = tx
            .find_by::<AdministrationEvent>("administration_id", text(administration_id))
            .await?;
        tx.rollback().await?;
        events.sort_by_key(|e| e.data.at_us);
        Ok((a, events))
    }
}

fn checked_patient(p: &InterfacePatient, now_us: i64) -> Result<Patient, AppError> {
    let required = |field: &str, value: &str, what: &str| -> Result<String, AppError> {
        let v = value.trim();
        if v.is_empty() || v.len() > 200 {
            Err(AppError::invalid(
                field,
                value,
                format!("required: {what}, 1 to 200 characters"),
            ))
        } else {
            Ok(v.to_string())
        }
    };
    let birth_date = required("birth_date", &p.birth_date, "the birth date YYYY-MM-DD")?;
    crate::time::parse_date("birth_date", &birth_date)?;
    if birth_date > crate::time::date_from_us(now_us) {
        return Err(AppError::invalid(
            "birth_date",
            birth_date,
            "a date not in the future",
        ));
    }
    if !["female", "male", "other", "unknown"].contains(&p.sex.as_str()) {
        return Err(AppError::invalid(
            "sex",
            &p.sex,
            "female, male, other or unknown",
        ));
    }
    Ok(Patient {
        mrn: required("mrn", &p.mrn, "the medical record number")?,
        family_name: required("family_name", &p.family_name, "the family name")?,
        given_name: required("given_name", &p.given_name, "the given name")?,
        birth_date,
        sex: p.sex.clone(),
        identifiers_json: json!([]),
    })
}

async fn insert_observations(
    tx: &mut infusio_store::Tx,
    actor: &Actor,
    patient_id: &str,
    observations: &[InterfaceObservation],
    provenance: &Provenance,
    now_us: i64,
) -> Result<(), AppError> {
    let role = actor.permit(Action::RecordObservation)?;
    let latest_us = now_us + PUMP_CLOCK_TOLERANCE_US;
    for o in observations {
        // A result dated in the future would be invisible to the checks until then (they
        // read what was known at the time); refuse it instead.
        if o.observed_at_us > latest_us {
            return Err(AppError::invalid(
                "observed_at",
                crate::time::iso_from_us(o.observed_at_us),
                "a time not after the server's clock plus 5 min",
            ));
        }
        if !o.value.is_finite() {
            return Err(AppError::invalid(
                "value",
                o.as_given.clone(),
                "a finite number",
            ));
        }
        let derivation = json!({"as_given": o.as_given, "code": o.code, "interface": provenance});
        match &o.kind {
            ObservationKind::Weight | ObservationKind::Height => {
                let (kind, unit, lo, hi) = if o.kind == ObservationKind::Weight {
                    ("weight", "kg", 0.3, 500.0)
                } else {
                    ("height", "cm", 20.0, 260.0)
                };
                if o.unit != unit || !(lo..=hi).contains(&o.value) {
                    return Err(AppError::invalid(
                        kind,
                        format!("{} {}", o.value, o.unit),
                        format!("{lo} to {hi} {unit}"),
                    ));
                }
                let change = Change::by(&actor.user_id, role.as_str())
                    .action("measurement.record")
                    .derivation(derivation);
                tx.insert(
                    &change,
                    Measurement {
                        patient_id: patient_id.to_string(),
                        kind: kind.into(),
                        value: decimal(o.value)?,
                        unit: unit.into(),
                        measured_at_us: o.observed_at_us,
                        source: "EHR".into(),
                        recorded_by: Some(actor.user_id.clone()),
                    },
                )
                .await?;
            }
            ObservationKind::Lab(name) => {
                let unit = lab_unit(name).ok_or_else(|| {
                    AppError::invalid("lab", name.clone(), "a lab the checks read")
                })?;
                if o.unit != unit || o.value < 0.0 {
                    return Err(AppError::invalid(
                        name.clone(),
                        format!("{} {}", o.value, o.unit),
                        format!("a result ≥ 0 in {unit}"),
                    ));
                }
                let change = Change::by(&actor.user_id, role.as_str())
                    .action("lab.record")
                    .derivation(derivation);
                tx.insert(
                    &change,
                    LabResult {
                        patient_id: patient_id.to_string(),
                        code: name.clone(),
                        name: name.clone(),
                        value: decimal(o.value)?,
                        unit: unit.into(),
                        collected_at_us: o.observed_at_us,
                        resulted_at_us: Some(now_us),
                        source: "interface".into(),
                    },
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// The number of an order's stored rate, for callers building pump programmes.
pub fn order_rate_ml_per_h(o: &Order) -> Option<f64> {
    o.rate_ml_per_h.as_ref().map(number)
}
