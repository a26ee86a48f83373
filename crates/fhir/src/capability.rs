//! The CapabilityStatement at `/fhir/metadata`: exactly the resources, interactions and search
//! parameters the routes serve (a test reads it back against the routes).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value as Json, json};

use crate::http::resource;

/// One served resource type: its name, interactions, search parameters as (name, type), and
/// whether conditional create (If-None-Exist) is supported.
pub type Served = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    bool,
);

pub const SERVED: &[Served] = &[
    (
        "Patient",
        &["read", "vread", "search-type", "create", "update"],
        &[
            ("_id", "token"),
            ("identifier", "token"),
            ("name", "string"),
            ("family", "string"),
            ("given", "string"),
            ("birthdate", "date"),
            ("gender", "token"),
        ],
        true,
    ),
    (
        "Observation",
        &["read", "vread", "search-type", "create"],
        &[
            ("_id", "token"),
            ("patient", "reference"),
            ("subject", "reference"),
            ("code", "token"),
            ("category", "token"),
            ("date", "date"),
        ],
        true,
    ),
    (
        "AllergyIntolerance",
        &["read", "vread", "search-type", "create"],
        &[("_id", "token"), ("patient", "reference")],
        false,
    ),
    (
        "Medication",
        &["read", "search-type"],
        &[("_id", "token"), ("code", "token")],
        false,
    ),
    (
        "MedicationRequest",
        &["read", "vread", "search-type", "create", "update"],
        &[
            ("_id", "token"),
            ("patient", "reference"),
            ("subject", "reference"),
            ("status", "token"),
            ("medication", "reference"),
            ("intent", "token"),
        ],
        false,
    ),
    (
        "MedicationAdministration",
        &["read", "search-type"],
        &[
            ("_id", "token"),
            ("patient", "reference"),
            ("subject", "reference"),
            ("request", "reference"),
            ("status", "token"),
        ],
        false,
    ),
    (
        "Appointment",
        &["read", "vread", "search-type", "create"],
        &[
            ("_id", "token"),
            ("patient", "reference"),
            ("date", "date"),
            ("status", "token"),
        ],
        false,
    ),
    (
        "Schedule",
        &["read", "search-type"],
        &[("_id", "token"), ("actor", "token")],
        false,
    ),
    (
        "Slot",
        &["read", "search-type"],
        &[
            ("_id", "token"),
            ("schedule", "reference"),
            ("start", "date"),
            ("status", "token"),
        ],
        false,
    ),
    (
        "Provenance",
        &["read", "search-type"],
        &[
            ("_id", "token"),
            ("target", "reference"),
            ("patient", "reference"),
        ],
        false,
    ),
    (
        "Device",
        &["read", "search-type"],
        &[("_id", "token"), ("identifier", "token")],
        false,
    ),
    ("AuditEvent", &["read", "search-type"], &[], false),
];

pub fn statement() -> Json {
    let resources: Vec<Json> = SERVED
        .iter()
        .map(|(t, interactions, params, conditional)| {
            let mut r = json!({
                "type": t,
                "interaction": interactions.iter().map(|i| json!({"code": i})).collect::<Vec<_>>(),
                "versioning": "versioned-update",
                "readHistory": false,
                "updateCreate": false,
                "conditionalCreate": conditional,
                "conditionalUpdate": false,
                "conditionalDelete": "not-supported",
            });
            if !params.is_empty() {
                r["searchParam"] = params
                    .iter()
                    .map(|(n, ty)| json!({"name": n, "type": ty}))
                    .collect();
            }
            r
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-26",
        "publisher": "Infusio",
        "kind": "instance",
        "software": {"name": "Infusio", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "Infusio FHIR R4 API"},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [{
            "mode": "server",
            "documentation": "Paging: _count (0 to 500, default 50) and _offset; searchset Bundles carry self, first, next and previous links. Unknown search parameters are refused (400). Updates need If-Match with the ETag W/\"<versionId>\"; a stale one answers 412. Errors are OperationOutcome.",
            "security": {
                "cors": false,
                "service": [{"text": "Bearer API token from POST /api/auth/sign-in (mode token), or the session cookie with its X-CSRF-Token for changes; no OAuth or SMART on FHIR authorization server"}],
                "description": "Every interaction but metadata needs a signed-in user. Access follows the user's roles exactly as in the JSON API; tokens carry no SMART scopes (patient/*.rs, user/*.cruds are not evaluated).",
            },
            "resource": resources,
        }],
    })
}

pub async fn metadata() -> Response {
    resource(StatusCode::OK, &statement(), None)
}
