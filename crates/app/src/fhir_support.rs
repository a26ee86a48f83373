//! Reads (and the one demographic update) that the FHIR API needs beside the JSON API's
//! workflows: single records and lists of the clinical tables, the audit events as a list,
//! and a versioned update of a patient's demographics.
//!
//! Every read checks the actor's role like the chart does (`ReadClinical`; the audit trail
//! needs `ReadAudit`); the update checks `WritePatient` and the version the caller read.

use infusio_store::records::{
    Administration, AdministrationEvent, Allergy, Appointment, LabResult, Measurement, Order,
    Patient, Preparation, Verification,
};
use infusio_store::{AuditEvent, Change, Record, Stored};

use crate::db::text;
use crate::patients::{PatientUpdate, patient_row};
use crate::{Action, Actor, App, AppError};

mod sealed {
    pub trait Sealed {}
}

/// A table of the clinical record that any reader of the chart may read (users and their
/// password hashes are not among them).
pub trait ClinicalRecord: Record + sealed::Sealed {
    /// The entity's name in a not-found answer.
    const ENTITY: &'static str;
}

macro_rules! clinical {
    ($($t:ty => $name:literal),+ $(,)?) => {
        $(
            impl sealed::Sealed for $t {}
            impl ClinicalRecord for $t {
                const ENTITY: &'static str = $name;
            }
        )+
    };
}

clinical! {
    Patient => "patient",
    Measurement => "measurement",
    LabResult => "lab result",
    Allergy => "allergy",
    Order => "order",
    Verification => "verification",
    Preparation => "preparation",
    Appointment => "appointment",
    Administration => "administration",
    AdministrationEvent => "administration event",
}

impl App {
    /// One clinical record by id.
    pub async fn clinical_get<T: ClinicalRecord>(
        &self,
        actor: &Actor,
        id: &str,
    ) -> Result<Stored<T>, AppError> {
        actor.permit(Action::ReadClinical)?;
        self.store()
            .get::<T>(id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                entity: T::ENTITY,
                id: id.to_string(),
            })
    }

    /// The clinical records whose `column` equals `value`, oldest first.
    pub async fn clinical_find<T: ClinicalRecord>(
        &self,
        actor: &Actor,
        column: &str,
        value: &str,
    ) -> Result<Vec<Stored<T>>, AppError> {
        actor.permit(Action::ReadClinical)?;
        let mut tx = self.store().begin_snapshot().await?;
        let rows = tx.find_by::<T>(column, text(value)).await?;
        tx.rollback().await?;
        Ok(rows)
    }

    /// Every record of a clinical table, oldest first.
    pub async fn clinical_list<T: ClinicalRecord>(
        &self,
        actor: &Actor,
    ) -> Result<Vec<Stored<T>>, AppError> {
        actor.permit(Action::ReadClinical)?;
        let mut tx = self.store().begin_snapshot().await?;
        let rows = tx.list::<T>().await?;
        tx.rollback().await?;
        Ok(rows)
    }

    /// Audit events with `from_seq <= seq`, in chain order, at most `limit` (1 to 1,000).
    pub async fn audit_events(
        &self,
        actor: &Actor,
        from_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, AppError> {
        actor.permit(Action::ReadAudit)?;
        if !(1..=1000).contains(&limit) {
            return Err(AppError::invalid(
                "limit",
                limit.to_string(),
                "a whole number from 1 to 1000",
            ));
        }
        let mut tx = self.store().begin_snapshot().await?;
        let events = infusio_store::audit::read_events(&mut tx, from_seq.max(0), limit).await?;
        tx.rollback().await?;
        Ok(events)
    }

    /// Replaces a patient's demographics (the same fields as [`App::create_patient`]) if the
    /// caller read version `version`; a stale version is refused, an absent one too.
    pub async fn update_patient(
        &self,
        actor: &Actor,
        id: &str,
        version: Option<i64>,
        input: &PatientUpdate,
    ) -> Result<Stored<Patient>, AppError> {
        let role = actor.permit(Action::WritePatient)?;
        let change = Change::by(&actor.user_id, role.as_str()).action("patient.update");
        let version = version.ok_or(AppError::VersionRequired)?;
        let row = patient_row(input, self.now_us())?;
        let mut tx = self.store().begin().await?;
        let current = tx
            .get::<Patient>(id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                entity: "patient",
                id: id.to_string(),
            })?;
        if current.version != version {
            return Err(AppError::Stale {
                entity: "patient",
                id: id.to_string(),
                expected: version,
                current: current.version,
            });
        }
        if row.mrn != current.data.mrn
            && tx
                .find_by::<Patient>("mrn", text(&row.mrn))
                .await?
                .iter()
                .any(|p| p.id != id)
        {
            return Err(AppError::Conflict(format!(
                "a patient with MRN {} is already registered",
                row.mrn
            )));
        }
        let updated = tx.update(&change, id, version, row).await?;
        tx.commit().await?;
        Ok(updated)
    }
}
