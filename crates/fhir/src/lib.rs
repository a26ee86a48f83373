//! `infusio-fhir`: the FHIR R4 REST API under `/fhir`, served by `infusio serve`.
//!
//! Invariants:
//! - FHIR types stay here: handlers read FHIR JSON, call the same `infusio-app` workflows and
//!   reads as the JSON API (which check roles and rules), and map the records back. Nothing
//!   here decides who may do what.
//! - Every answer is `application/fhir+json`; every refusal is an `OperationOutcome` naming the
//!   element or parameter and the value at fault.
//! - What the record does not store is refused on create rather than silently dropped.
//! - The CapabilityStatement lists exactly the routes of [`routes`].

mod api;
pub mod capability;
pub mod codes;
pub mod http;
pub mod map;

use axum::Router;
use axum::routing::{any, get};
use infusio_server::AppState;

/// The FHIR routes, merged into the server's router by `infusio serve`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/fhir/metadata", get(capability::metadata))
        .route(
            "/fhir/Patient",
            get(api::patient_search).post(api::patient_create),
        )
        .route(
            "/fhir/Patient/{id}",
            get(api::patient_read).put(api::patient_update),
        )
        .route(
            "/fhir/Observation",
            get(api::observation_search).post(api::observation_create),
        )
        .route("/fhir/Observation/{id}", get(api::observation_read))
        .route(
            "/fhir/AllergyIntolerance",
            get(api::allergy_search).post(api::allergy_create),
        )
        .route("/fhir/AllergyIntolerance/{id}", get(api::allergy_read))
        .route("/fhir/Medication", get(api::medication_search))
        .route("/fhir/Medication/{id}", get(api::medication_read))
        .route(
            "/fhir/MedicationRequest",
            get(api::request_search).post(api::request_create),
        )
        .route(
            "/fhir/MedicationRequest/{id}",
            get(api::request_read).put(api::request_update),
        )
        .route(
            "/fhir/MedicationAdministration",
            get(api::administration_search),
        )
        .route(
            "/fhir/MedicationAdministration/{id}",
            get(api::administration_read),
        )
        .route(
            "/fhir/Appointment",
            get(api::appointment_search).post(api::appointment_create),
        )
        .route("/fhir/Appointment/{id}", get(api::appointment_read))
        .route("/fhir/Schedule", get(api::schedule_search))
        .route("/fhir/Schedule/{id}", get(api::schedule_read))
        .route("/fhir/Slot", get(api::slot_search))
        .route("/fhir/Slot/{id}", get(api::slot_read))
        .route("/fhir/Provenance", get(api::provenance_search))
        .route("/fhir/Provenance/{id}", get(api::provenance_read))
        .route("/fhir/Device", get(api::device_search))
        .route("/fhir/Device/{id}", get(api::device_read))
        .route("/fhir/AuditEvent", get(api::audit_search))
        .route("/fhir/AuditEvent/{id}", get(api::audit_read))
        .route("/fhir/Patient/{id}/_history/{vid}", get(api::patient_vread))
        .route(
            "/fhir/Observation/{id}/_history/{vid}",
            get(api::observation_vread),
        )
        .route(
            "/fhir/AllergyIntolerance/{id}/_history/{vid}",
            get(api::allergy_vread),
        )
        .route(
            "/fhir/MedicationRequest/{id}/_history/{vid}",
            get(api::request_vread),
        )
        .route(
            "/fhir/Appointment/{id}/_history/{vid}",
            get(api::appointment_vread),
        )
        .route("/fhir/{*rest}", any(api::unsupported))
}
