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
//!
//! Mapping (record → FHIR R4, `fhirVersion` 4.0.1; ids are the record's UUIDs unless said):
//! - Patient ← patient: MRN as identifier `urn:infusio:mrn` (type v2-0203 MR), other
//!   identifiers as recorded; create (If-None-Exist) and update (If-Match) go through
//!   registration and a versioned demographic update.
//! - Observation ← measurement (`m-<id>`, vital-signs) or lab result (`l-<id>`, laboratory):
//!   LOINC code and the local code, value in the record's unit as a UCUM Quantity; create maps
//!   LOINC (or the local lab code) to `add_measurement`/`add_lab`, converting the unit.
//! - AllergyIntolerance ← allergy. Medication ← drug-library entry (id = library id).
//! - MedicationRequest ← order: status draft/active/on-hold/cancelled/stopped/completed (the
//!   record's finer state in an extension), `doseAndRate` with the engine's dose and rate, the
//!   derivation with findings and overrides as a base64 JSON attachment extension; hidden from a
//!   pharmacist before their blind verification, as in the JSON API. Create runs the order
//!   workflow (draft); update changes status only (hold, release, cancel, discontinue).
//! - MedicationAdministration ← administration: actual start and stop, the rate in force, each
//!   rate change (nurse or pump) in an extension, volume infused and the pump when reported.
//! - Appointment ← appointment (create books a chair); Schedule per chair, Slot per appointment.
//! - Provenance ← the prescription (`rx-<order>`), each override (`ov<n>-<order>`) and each
//!   blind verification (`vf-<verification>`). AuditEvent ← the audit chain (id = sequence).
//! - Device ← a pump known from the events it reported (no pump registry in the record).
#![warn(clippy::too_many_lines)] // production functions stay under 100 lines (clippy.toml)

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
        .route_layer(axum::middleware::from_fn(http::negotiate))
}
