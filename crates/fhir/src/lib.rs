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
use axum::routing::{MethodRouter, any, get};
use infusio_server::AppState;

/// A route's methods, with an OperationOutcome (405) for any other method.
fn m(methods: MethodRouter<AppState>) -> MethodRouter<AppState> {
    methods.fallback(api::method_not_allowed)
}

/// The FHIR routes, merged into the server's router by `infusio serve`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/fhir/metadata", m(get(capability::metadata)))
        .route(
            "/fhir/Patient",
            m(get(api::patient_search).post(api::patient_create)),
        )
        .route(
            "/fhir/Patient/{id}",
            m(get(api::patient_read).put(api::patient_update)),
        )
        .route(
            "/fhir/Observation",
            m(get(api::observation_search).post(api::observation_create)),
        )
        .route("/fhir/Observation/{id}", m(get(api::observation_read)))
        .route(
            "/fhir/AllergyIntolerance",
            m(get(api::allergy_search).post(api::allergy_create)),
        )
        .route("/fhir/AllergyIntolerance/{id}", m(get(api::allergy_read)))
        .route("/fhir/Medication", m(get(api::medication_search)))
        .route("/fhir/Medication/{id}", m(get(api::medication_read)))
        .route(
            "/fhir/MedicationRequest",
            m(get(api::request_search).post(api::request_create)),
        )
        .route(
            "/fhir/MedicationRequest/{id}",
            m(get(api::request_read).put(api::request_update)),
        )
        .route(
            "/fhir/MedicationAdministration",
            m(get(api::administration_search)),
        )
        .route(
            "/fhir/MedicationAdministration/{id}",
            m(get(api::administration_read)),
        )
        .route(
            "/fhir/Appointment",
            m(get(api::appointment_search).post(api::appointment_create)),
        )
        .route("/fhir/Appointment/{id}", m(get(api::appointment_read)))
        .route("/fhir/Schedule", m(get(api::schedule_search)))
        .route("/fhir/Schedule/{id}", m(get(api::schedule_read)))
        .route("/fhir/Slot", m(get(api::slot_search)))
        .route("/fhir/Slot/{id}", m(get(api::slot_read)))
        .route("/fhir/Provenance", m(get(api::provenance_search)))
        .route("/fhir/Provenance/{id}", m(get(api::provenance_read)))
        .route("/fhir/Device", m(get(api::device_search)))
        .route("/fhir/Device/{id}", m(get(api::device_read)))
        .route("/fhir/AuditEvent", m(get(api::audit_search)))
        .route("/fhir/AuditEvent/{id}", m(get(api::audit_read)))
        .route(
            "/fhir/Patient/{id}/_history/{vid}",
            m(get(api::patient_vread)),
        )
        .route(
            "/fhir/Observation/{id}/_history/{vid}",
            m(get(api::observation_vread)),
        )
        .route(
            "/fhir/AllergyIntolerance/{id}/_history/{vid}",
            m(get(api::allergy_vread)),
        )
        .route(
            "/fhir/MedicationRequest/{id}/_history/{vid}",
            m(get(api::request_vread)),
        )
        .route(
            "/fhir/Appointment/{id}/_history/{vid}",
            m(get(api::appointment_vread)),
        )
        .route("/fhir/{*rest}", any(api::unsupported))
}
