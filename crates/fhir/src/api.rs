//! The handlers: each reads the FHIR request, calls the application (which checks roles and
//! rules) and maps the answer back to FHIR.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use infusio_app::OrderStep;
use infusio_app::commands::{NewAppointment, NewOrder, TransitionInput};
use infusio_app::orders::must_be_blind;
use infusio_app::patients::{NewAllergy, NewLab, NewMeasurement, NewPatient};
use infusio_app::{Action, Actor, App, AppError};
use infusio_server::{ApiError, AppState, Authed};
use infusio_store::Stored;
use infusio_store::records::{
    Administration, AdministrationEvent, Allergy, Appointment, LabResult, Measurement, Order,
    Patient, Verification,
};
use serde_json::{Value as Json, json};

use crate::codes::*;
use crate::http::*;
use crate::map;

type Auth = Result<Authed, ApiError>;
type Q = Result<Query<Vec<(String, String)>>, QueryRejection>;

fn query(q: Q) -> Result<Vec<(String, String)>, Fail> {
    q.map(|Query(v)| v)
        .map_err(|e| Fail::bad("(query)", "", format!("a URL query string: {e}")))
}

/// `NotFound` → `None`; other errors stay errors.
fn found<T>(r: Result<T, AppError>) -> Result<Option<T>, Fail> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(AppError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Comma-separated alternatives of one search value.
fn alternatives(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn created(headers: &HeaderMap, resource_type: &str, body: &Json) -> Response {
    let location = format!(
        "{}/{resource_type}/{}/_history/{}",
        base_url(headers),
        body["id"].as_str().unwrap_or_default(),
        body["meta"]["versionId"].as_str().unwrap_or("1")
    );
    resource(StatusCode::CREATED, body, Some(&location))
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------- Patient

const PATIENT_PARAMS: &[&str] = &[
    "_id",
    "identifier",
    "name",
    "family",
    "given",
    "birthdate",
    "gender",
];

const PATIENT_FIELDS: &[(&str, &str)] = &[
    ("mrn", "Patient.identifier"),
    ("identifiers", "Patient.identifier"),
    ("family_name", "Patient.name.family"),
    ("given_name", "Patient.name.given"),
    ("birth_date", "Patient.birthDate"),
    ("sex", "Patient.gender"),
];

fn has_identifier(p: &Stored<Patient>, system: Option<&str>, value: Option<&str>) -> bool {
    let mrn_match = system.is_none_or(|s| s == MRN_SYSTEM) && value.is_none_or(|v| v == p.data.mrn);
    mrn_match
        || p.data.identifiers_json.as_array().is_some_and(|items| {
            items.iter().any(|i| {
                system.is_none_or(|s| i["system"] == s) && value.is_none_or(|v| i["value"] == v)
            })
        })
}

fn starts_with_ci(text: &str, prefix: &str) -> bool {
    text.to_lowercase().starts_with(&prefix.to_lowercase())
}

async fn find_patients(app: &App, actor: &Actor, s: &Search) -> Result<Vec<Stored<Patient>>, Fail> {
    let mut rows = match s.one("_id")? {
        Some(id) => found(app.clinical_get::<Patient>(actor, id).await)?
            .into_iter()
            .collect(),
        None => app.clinical_list::<Patient>(actor).await?,
    };
    for v in s.all("identifier") {
        rows.retain(|p| {
            alternatives(v).any(|alt| {
                let (sys, code) = token(alt);
                has_identifier(p, sys, code)
            })
        });
    }
    for v in s.all("name") {
        rows.retain(|p| {
            alternatives(v).any(|n| {
                starts_with_ci(&p.data.family_name, n) || starts_with_ci(&p.data.given_name, n)
            })
        });
    }
    for v in s.all("family") {
        rows.retain(|p| alternatives(v).any(|n| starts_with_ci(&p.data.family_name, n)));
    }
    for v in s.all("given") {
        rows.retain(|p| alternatives(v).any(|n| starts_with_ci(&p.data.given_name, n)));
    }
    for v in s.all("gender") {
        if let Some(bad) =
            alternatives(v).find(|g| !["female", "male", "other", "unknown"].contains(g))
        {
            return Err(Fail::bad("gender", bad, "female, male, other or unknown"));
        }
        rows.retain(|p| alternatives(v).any(|g| g == p.data.sex));
    }
    for v in s.all("birthdate") {
        let mut keep = Vec::new();
        for p in rows {
            let (start, _) = date_range("birthdate", &p.data.birth_date)?;
            if date_matches("birthdate", v, start)? {
                keep.push(p);
            }
        }
        rows = keep;
    }
    rows.sort_by(|a, b| {
        (&a.data.family_name, &a.data.given_name, &a.id).cmp(&(
            &b.data.family_name,
            &b.data.given_name,
            &b.id,
        ))
    });
    Ok(rows)
}

/// A FHIR Patient → the application's registration fields.
fn patient_input(body: &Json) -> Result<Json, Fail> {
    only_elements(body, &["identifier", "name", "gender", "birthDate"])?;
    let mut mrn: Option<String> = None;
    let mut others = Vec::new();
    for (i, ident) in body["identifier"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = format!("Patient.identifier[{i}]");
        let value = ident["value"].as_str().ok_or_else(|| {
            Fail::bad(
                format!("{path}.value"),
                ident["value"].to_string(),
                "a string",
            )
        })?;
        let system = ident["system"].as_str();
        let is_mr = ident["type"]["coding"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["code"] == "MR" && c["system"] == V2_0203)
        });
        if system == Some(MRN_SYSTEM) || (is_mr && system.is_none()) {
            if mrn.is_some() {
                return Err(Fail::unprocessable(
                    path,
                    value,
                    "one medical record number",
                ));
            }
            mrn = Some(value.to_string());
        } else {
            let system = system.ok_or_else(|| {
                Fail::unprocessable(
                    format!("{path}.system"),
                    "",
                    format!("the identifier's system (the MRN's is {MRN_SYSTEM})"),
                )
            })?;
            others.push(json!({"system": system, "value": value}));
        }
    }
    let mrn = mrn.ok_or_else(|| {
        Fail::unprocessable(
            "Patient.identifier",
            body["identifier"].to_string(),
            format!("an identifier with system {MRN_SYSTEM}: the medical record number"),
        )
    })?;
    let names = body["name"].as_array().cloned().unwrap_or_default();
    if names.len() != 1 {
        return Err(Fail::unprocessable(
            "Patient.name",
            body["name"].to_string(),
            "exactly one name with family and given",
        ));
    }
    let family = names[0]["family"].as_str().unwrap_or_default();
    let given: Vec<&str> = names[0]["given"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .collect();
    let mut input = json!({
        "mrn": mrn,
        "family_name": family,
        "given_name": given.join(" "),
        "identifiers": others,
    });
    if let Some(g) = body.get("gender") {
        input["sex"] = g.clone();
    }
    if let Some(b) = body.get("birthDate") {
        input["birth_date"] = b.clone();
    }
    Ok(input)
}

pub async fn patient_read(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> FhirResult {
    let a = signed_in(auth)?;
    let p = s.app.clinical_get::<Patient>(a.actor(), &id).await?;
    Ok(resource(StatusCode::OK, &map::patient(&p), None))
}

pub async fn patient_search(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    q: Q,
) -> FhirResult {
    let a = signed_in(auth)?;
    let search = Search::read(query(q)?, PATIENT_PARAMS)?;
    let rows = find_patients(&s.app, a.actor(), &search).await?;
    Ok(searchset(
        &base_url(&headers),
        "Patient",
        &search,
        rows.iter().map(map::patient).collect(),
    ))
}

pub async fn patient_create(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> FhirResult {
    let a = signed_in(auth)?;
    let body = read_body(&headers, &bytes, "Patient")?;
    let input = patient_input(&body)?;
    // A reader who may not register patients learns nothing more from a conditional create.
    a.actor().permit(infusio_app::Action::WritePatient)?;
    if let Some(existing) =
        conditional_match(&s.app, a.actor(), &headers, "Patient", PATIENT_PARAMS).await?
    {
        return Ok(resource(StatusCode::OK, &existing, None));
    }
    let p = async {
        let input = NewPatient::try_from(&input)?;
        s.app.create_patient(a.actor(), &input).await
    }
    .await
    .map_err(|e| renamed(e, PATIENT_FIELDS))?;
    Ok(created(&headers, "Patient", &map::patient(&p)))
}

pub async fn patient_update(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> FhirResult {
    let a = signed_in(auth)?;
    let body = read_body(&headers, &bytes, "Patient")?;
    if body["id"].as_str() != Some(id.as_str()) {
        return Err(Fail::bad(
            "Patient.id",
            body["id"].to_string(),
            format!("the id of the URL, '{id}'"),
        ));
    }
    let input = patient_input(&body)?;
    let version = if_match(&headers)?;
    let p = async {
        // A caller who may not change patients is refused before the request is validated.
        a.actor().permit(Action::WritePatient)?;
        let input = NewPatient::try_from(&input)?;
        s.app.update_patient(a.actor(), &id, version, &input).await
    }
    .await
    .map_err(|e| renamed(e, PATIENT_FIELDS))?;
    Ok(resource(StatusCode::OK, &map::patient(&p), None))
}

// ---------------------------------------------------------------- Observation

const OBSERVATION_PARAMS: &[&str] = &["_id", "patient", "subject", "code", "category", "date"];

fn obs_matches_code(r: &Json, v: &str) -> bool {
    alternatives(v).any(|alt| {
        let (sys, code) = token(alt);
        r["code"]["coding"].as_array().is_some_and(|cs| {
            cs.iter().any(|c| {
                sys.is_none_or(|s| c["system"] == s) && code.is_none_or(|k| c["code"] == k)
            })
        })
    })
}

pub async fn observation_read(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> FhirResult {
    let a = signed_in(auth)?;
    let r = match id.split_at_checked(2) {
        Some(("m-", rest)) => {
            map::measurement(&s.app.clinical_get::<Measurement>(a.actor(), rest).await?)
        }
        Some(("l-", rest)) => map::lab(&s.app.clinical_get::<LabResult>(a.actor(), rest).await?),
        _ => {
            a.actor().permit(infusio_app::Action::ReadClinical)?;
            return Err(Fail::not_found("Observation", &id));
        }
    };
    Ok(resource(StatusCode::OK, &r, None))
}

/// The observations matching `search`, newest first.
async fn find_observations(app: &App, actor: &Actor, search: &Search) -> Result<Vec<Json>, Fail> {
    let patient = match (search.one("patient")?, search.one("subject")?) {
        (Some(p), None) => Some(reference_id("patient", p, "Patient")?.to_string()),
        (None, Some(p)) => Some(reference_id("subject", p, "Patient")?.to_string()),
        (None, None) => None,
        (Some(p), Some(_)) => {
            return Err(Fail::bad(
                "subject",
                p,
                "either patient or subject, not both",
            ));
        }
    };
    let (ms, ls) = match &patient {
        Some(p) => (
            app.clinical_find::<Measurement>(actor, "patient_id", p)
                .await?,
            app.clinical_find::<LabResult>(actor, "patient_id", p)
                .await?,
        ),
        None => (
            app.clinical_list::<Measurement>(actor).await?,
            app.clinical_list::<LabResult>(actor).await?,
        ),
    };
    let mut all: Vec<(i64, Json)> = ms
        .iter()
        .map(|m| (m.data.measured_at_us, map::measurement(m)))
        .chain(ls.iter().map(|l| (l.data.collected_at_us, map::lab(l))))
        .collect();
    if let Some(id) = search.one("_id")? {
        all.retain(|(_, r)| r["id"] == id);
    }
    for v in search.all("code") {
        all.retain(|(_, r)| obs_matches_code(r, v));
    }
    for v in search.all("category") {
        all.retain(|(_, r)| {
            alternatives(v).any(|alt| {
                let (sys, code) = token(alt);
                sys.is_none_or(|s| s == OBSERVATION_CATEGORY)
                    && code.is_none_or(|c| r["category"][0]["coding"][0]["code"] == c)
            })
        });
    }
    for v in search.all("date") {
        let mut keep = Vec::new();
        for (at, r) in all {
            if date_matches("date", v, at)? {
                keep.push((at, r));
            }
        }
        all = keep;
    }
    all.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then_with(|| b.1["id"].as_str().cmp(&a.1["id"].as_str()))
    });
    Ok(all.into_iter().map(|(_, r)| r).collect())
}

pub async fn observation_search(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    q: Q,
) -> FhirResult {
    let a = signed_in(auth)?;
    let search = Search::read(query(q)?, OBSERVATION_PARAMS)?;
    let all = find_observations(&s.app, a.actor(), &search).await?;
    Ok(searchset(&base_url(&headers), "Observation", &search, all))
}

/// `If-None-Exist`: the one existing match (answered instead of creating), none, or a refusal
/// when several match.
async fn conditional_match(
    app: &App,
    actor: &Actor,
    headers: &HeaderMap,
    resource_type: &str,
    allowed: &[&str],
) -> Result<Option<Json>, Fail> {
    let Some(cond) = headers.get("if-none-exist") else {
        return Ok(None);
    };
    let text = cond.to_str().unwrap_or_default();
    let text = text.split_once('?').map(|(_, q)| q).unwrap_or(text);
    let params: Vec<(String, String)> = text
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    if params.is_empty() {
        return Err(Fail::bad(
            "If-None-Exist",
            text,
            format!("a {resource_type} search, e.g. identifier=urn:infusio:mrn|MRN42"),
        ));
    }
    let search = Search::read(params, allowed).map_err(|mut f| {
        f.expression = Some("If-None-Exist".into());
        f
    })?;
    let found: Vec<Json> = match resource_type {
        "Patient" => find_patients(app, actor, &search)
            .await?
            .iter()
            .map(map::patient)
            .collect(),
        _ => find_observations(app, actor, &search).await?,
    };
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        _ => Err(Fail::new(
            StatusCode::PRECONDITION_FAILED,
            "multiple-matches",
            format!(
                "If-None-Exist '{text}' matches {} {resource_type} resources",
                found.len()
            ),
        )),
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "FHIR Observation mapping field by field: to be split when standard payloads are accepted (interoperability work)"
)]
pub async fn observation_create(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> FhirResult {
    let a = signed_in(auth)?;
    let body = read_body(&headers, &bytes, "Observation")?;
    only_elements(
        &body,
        &[
            "status",
            "category",
            "code",
            "subject",
            "effectiveDateTime",
            "issued",
            "valueQuantity",
        ],
    )?;
    let status = body["status"].as_str().unwrap_or_default();
    if !["final", "amended", "corrected"].contains(&status) {
        return Err(Fail::unprocessable(
            "Observation.status",
            status,
            "final, amended or corrected (the record keeps results, not preliminary ones)",
        ));
    }
    let code = body["code"]["coding"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|c| obs_from_coding(c["system"].as_str(), c["code"].as_str().unwrap_or_default()))
        .ok_or_else(|| {
            let known: Vec<String> = OBS_CODES
                .iter()
                .map(|c| match c.loinc {
                    Some(l) => format!("{LOINC}|{l} ({})", local_code(c.kind)),
                    None => format!("{LAB_SYSTEM}|{}", local_code(c.kind)),
                })
                .collect();
            Fail::unprocessable(
                "Observation.code",
                body["code"].to_string(),
                format!(
                    "a coding of a measure the record keeps: {}",
                    known.join(", ")
                ),
            )
        })?;
    let patient_id = patient_of(&body, "subject")?;
    // A resent result (an interface retrying) finds the first instead of making a second.
    a.actor().permit(infusio_app::Action::RecordObservation)?;
    if let Some(existing) = conditional_match(
        &s.app,
        a.actor(),
        &headers,
        "Observation",
        OBSERVATION_PARAMS,
    )
    .await?
    {
        return Ok(resource(StatusCode::OK, &existing, None));
    }
    let q = &body["valueQuantity"];
    let value = q["value"].as_number().ok_or_else(|| {
        Fail::bad(
            "Observation.valueQuantity.value",
            q["value"].to_string(),
            "a number",
        )
    })?;
    let unit = match (q["system"].as_str(), q["code"].as_str(), q["unit"].as_str()) {
        (Some(UCUM) | None, Some(c), _) => unit_for_record(c),
        (_, _, Some(u)) => u.to_string(),
        _ => {
            return Err(Fail::bad(
                "Observation.valueQuantity.code",
                q.to_string(),
                format!("a UCUM unit code (system {UCUM}), e.g. '{}'", code.ucum),
            ));
        }
    };
    let given = format!("{value} {unit}");
    let at = match body["effectiveDateTime"].as_str() {
        Some(t) => Some(iso(parse_fhir_instant("Observation.effectiveDateTime", t)?)),
        None if body.get("effectiveDateTime").is_some() => {
            return Err(Fail::bad(
                "Observation.effectiveDateTime",
                body["effectiveDateTime"].to_string(),
                "a dateTime string",
            ));
        }
        None => None,
    };
    let fields: &[(&str, &str)] = &[
        ("value", "Observation.valueQuantity"),
        ("measured_at", "Observation.effectiveDateTime"),
        ("collected_at", "Observation.effectiveDateTime"),
        ("kind", "Observation.code"),
        ("name", "Observation.code"),
    ];
    let on_patient = |e: AppError| match e {
        AppError::NotFound {
            entity: "patient",
            id,
        } => Fail::unprocessable(
            "Observation.subject.reference",
            format!("Patient/{id}"),
            "a patient on this server",
        ),
        other => renamed(other, fields),
    };
    let r = match code.kind {
        ObsKind::Measurement(kind) => {
            let mut input = json!({"kind": kind, "value": given, "source": "EHR"});
            if let Some(t) = at {
                input["measured_at"] = json!(t);
            }
            map::measurement(
                &s.app
                    .add_measurement(
                        a.actor(),
                        &patient_id,
                        &NewMeasurement::try_from(&input).map_err(|e| renamed(e, fields))?,
                    )
                    .await
                    .map_err(on_patient)?,
            )
        }
        ObsKind::Lab(name) => {
            let mut input = json!({"name": name, "value": given, "source": "EHR"});
            if let Some(t) = at {
                input["collected_at"] = json!(t);
            }
            map::lab(
                &s.app
                    .add_lab(
                        a.actor(),
                        &patient_id,
                        &NewLab::try_from(&input).map_err(|e| renamed(e, fields))?,
                    )
                    .await
                    .map_err(on_patient)?,
            )
        }
    };
    Ok(created(&headers, "Observation", &r))
}

// ---------------------------------------------------------------- AllergyIntolerance

pub async fn allergy_read(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> FhirResult {
    let a = signed_in(auth)?;
    let r = s.app.clinical_get::<Allergy>(a.actor(), &id).await?;
    Ok(resource(StatusCode::OK, &map::allergy(&r), None))
}

pub async fn allergy_search(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    q: Q,
) -> FhirResult {
    let a = signed_in(auth)?;
    let search = Search::read(query(q)?, &["_id", "patient"])?;
    let mut rows = match search.one("patient")? {
        Some(p) => {
            let p = reference_id("patient", p, "Patient")?;
            s.app
                .clinical_find::<Allergy>(a.actor(), "patient_id", p)
                .await?
        }
        None => s.app.clinical_list::<Allergy>(a.actor()).await?,
    };
    if let Some(id) = search.one("_id")? {
        rows.retain(|r| r.id == id);
    }
    Ok(searchset(
        &base_url(&headers),
        "AllergyIntolerance",
        &search,
        rows.iter().map(map::allergy).collect(),
    ))
}

pub async fn allergy_create(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> FhirResult {
    let a = signed_in(auth)?;
    let body = read_body(&headers, &bytes, "AllergyIntolerance")?;
    only_elements(&body, &["clinicalStatus", "code", "patient", "reaction"])?;
    if let Some(cs) = body.get("clinicalStatus") {
        let code = cs["coding"][0]["code"].as_str().unwrap_or_default();
        if code != "active" {
            return Err(Fail::unprocessable(
                "AllergyIntolerance.clinicalStatus",
                code,
                "active (the record keeps active allergies)",
            ));
        }
    }
    let c = &body["code"];
    let substance = c["text"]
        .as_str()
        .or_else(|| c["coding"][0]["display"].as_str())
        .or_else(|| c["coding"][0]["code"].as_str())
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            Fail::unprocessable(
                "AllergyIntolerance.code",
                c.to_string(),
                "the substance as code.text or a coding with a display",
            )
        })?;
    let patient_id = patient_of(&body, "patient")?;
    let mut input = json!({"substance": substance});
    match body["reaction"].as_array().map(Vec::as_slice) {
        None | Some([]) => {}
        Some([r]) => {
            let m = &r["manifestation"][0];
            if let Some(t) = m["text"]
                .as_str()
                .or_else(|| m["coding"][0]["display"].as_str())
            {
                input["reaction"] = json!(t);
            }
            if let Some(sev) = r.get("severity") {
                input["severity"] = sev.clone();
            }
        }
        Some(more) => {
            return Err(Fail::unprocessable(
                "AllergyIntolerance.reaction",
                more.len().to_string(),
                "at most one reaction",
            ));
        }
    }
    let allergy_fields: &[(&str, &str)] = &[
        ("substance", "AllergyIntolerance.code"),
        ("reaction", "AllergyIntolerance.reaction.manifestation"),
        ("severity", "AllergyIntolerance.reaction.severity"),
    ];
    let allergy = NewAllergy::try_from(&input).map_err(|e| renamed(e, allergy_fields))?;
    let r = s
        .app
        .add_allergy(a.actor(), &patient_id, &allergy)
        .await
        .map_err(|e| match e {
            AppError::NotFound {
                entity: "patient",
                id,
            } => Fail::unprocessable(
                "AllergyIntolerance.patient.reference",
                format!("Patient/{id}"),
                "a patient on this server",
            ),
            other => renamed(other, allergy_fields),
        })?;
    Ok(created(&headers, "AllergyIntolerance", &map::allergy(&r)))
}

// ---------------------------------------------------------------- Medication

pub async fn medication_read(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> FhirResult {
    signed_in(auth)?;
    let e = s
        .app
        .library()
        .get(&id)
        .ok_or_else(|| Fail::not_found("Medication", &id))?;
    Ok(resource(StatusCode::OK, &map::medication(e), None))
}

pub async fn medication_search(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    q: Q,
) -> FhirResult {
    signed_in(auth)?;
    let search = Search::read(query(q)?, &["_id", "code"])?;
    let mut all: Vec<Json> = s
        .app
        .library()
        .entries()
        .iter()
        .map(map::medication)
        .collect();
    all.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    if let Some(id) = search.one("_id")? {
        all.retain(|r| r["id"] == id);
    }
    for v in search.all("code") {
        all.retain(|r| obs_matches_code(r, v));
    }
    Ok(searchset(&base_url(&headers), "Medication", &search, all))
}

// ---------------------------------------------------------------- MedicationRequest

fn order_resource(actor: &Actor, o: &Stored<Order>) -> Json {
    map::medication_request(o, must_be_blind(actor, o))
}

pub async fn request_read(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> FhirResult {
    let a = signed_in(auth)?;
    let o = s.app.clinical_get::<Order>(a.actor(), &id).await?;
    Ok(resource(
        StatusCode::OK,
        &order_resource(a.actor(), &o),
        None,
    ))
}

async fn orders_for(
    app: &App,
    actor: &Actor,
    patient: Option<&str>,
) -> Result<Vec<Stored<Order>>, Fail> {
    Ok(match patient {
        Some(p) => app.clinical_find::<Order>(actor, "patient_id", p).await?,
        None => app.clinical_list::<Order>(actor).await?,
    })
}

const REQUEST_STATUSES: &[&str] = &[
    "active",
    "on-hold",
    "cancelled",
    "completed",
    "entered-in-error",
    "stopped",
    "draft",
    "unknown",
];

pub async fn request_search(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    q: Q,
) -> FhirResult {
    let a = signed_in(auth)?;
    let search = Search::read(
        query(q)?,
        &[
            "_id",
            "patient",
            "subject",
            "status",
            "medication",
            "intent",
        ],
    )?;
    let patient = match search.one("patient")?.or(search.one("subject")?) {
        Some(p) => Some(reference_id("patient", p, "Patient")?),
        None => None,
    };
    let mut rows = orders_for(&s.app, a.actor(), patient).await?;
    if let Some(id) = search.one("_id")? {
        rows.retain(|o| o.id == id);
    }
    for v in search.all("status") {
        if let Some(bad) = alternatives(v).find(|st| !REQUEST_STATUSES.contains(st)) {
            return Err(Fail::bad("status", bad, REQUEST_STATUSES.join(", ")));
        }
        rows.retain(|o| alternatives(v).any(|st| st == map::request_status(o.data.status)));
    }
    for v in search.all("medication") {
        let mut ids = Vec::new();
        for alt in alternatives(v) {
            ids.push(reference_id("medication", alt, "Medication")?.to_string());
        }
        rows.retain(|o| ids.contains(&o.data.drug_id));
    }
    for v in search.all("intent") {
        rows.retain(|_| alternatives(v).any(|i| i == "order"));
    }
    rows.reverse();
    Ok(searchset(
        &base_url(&headers),
        "MedicationRequest",
        &search,
        rows.iter().map(|o| order_resource(a.actor(), o)).collect(),
    ))
}

/// `value code` of a FHIR Quantity (UCUM code, else unit) at `path`.
fn quantity_text(q: &Json, path: &str) -> Result<String, Fail> {
    let value = q["value"]
        .as_number()
        .ok_or_else(|| Fail::bad(format!("{path}.value"), q["value"].to_string(), "a number"))?;
    let unit = q["code"]
        .as_str()
        .or_else(|| q["unit"].as_str())
        .ok_or_else(|| Fail::bad(format!("{path}.code"), q.to_string(), "a UCUM unit code"))?;
    Ok(format!("{value} {}", unit_for_record(unit)))
}

/// A FHIR MedicationRequest (status draft, intent order) → the application's order request.
#[expect(
    clippy::too_many_lines,
    reason = "MedicationRequest to order input, field by field: to be split with the typed order command"
)]
fn order_input(body: &Json) -> Result<Json, Fail> {
    only_elements(
        body,
        &[
            "extension",
            "status",
            "intent",
            "medicationReference",
            "subject",
            "reasonCode",
            "dosageInstruction",
            "dispenseRequest",
        ],
    )?;
    let status = body["status"].as_str().unwrap_or_default();
    if status != "draft" {
        return Err(Fail::unprocessable(
            "MedicationRequest.status",
            status,
            "draft (an order is signed and verified through the order workflow)",
        ));
    }
    let intent = body["intent"].as_str().unwrap_or_default();
    if intent != "order" {
        return Err(Fail::unprocessable(
            "MedicationRequest.intent",
            intent,
            "order",
        ));
    }
    let med = body["medicationReference"]["reference"]
        .as_str()
        .unwrap_or_default();
    let medication = reference_id("MedicationRequest.medicationReference", med, "Medication")?;
    let patient_id = patient_of(body, "subject")?;
    let mut input = json!({"patient_id": patient_id, "medication": medication});
    let dosages = body["dosageInstruction"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let [d] = dosages.as_slice() else {
        return Err(Fail::unprocessable(
            "MedicationRequest.dosageInstruction",
            body["dosageInstruction"].to_string(),
            "exactly one dosage instruction",
        ));
    };
    let dr = &d["doseAndRate"];
    if dr.as_array().is_some_and(|a| a.len() != 1) || dr[0]["doseQuantity"].is_null() {
        return Err(Fail::unprocessable(
            "MedicationRequest.dosageInstruction.doseAndRate",
            dr.to_string(),
            "one doseAndRate with doseQuantity: a flat dose (350 mg) or a dose per body measure (5 mg/kg, 375 mg/m2)",
        ));
    }
    if !dr[0]["rateQuantity"].is_null() {
        return Err(Fail::unprocessable(
            "MedicationRequest.dosageInstruction.doseAndRate.rateQuantity",
            dr[0]["rateQuantity"].to_string(),
            "no rate: the engine computes it from dispenseRequest.quantity (volume) and timing.repeat.duration",
        ));
    }
    let dose = quantity_text(
        &dr[0]["doseQuantity"],
        "MedicationRequest.dosageInstruction.doseAndRate.doseQuantity",
    )?;
    let per_measure = dose.ends_with("/kg") || dose.ends_with("/m2");
    input[if per_measure { "dose_per" } else { "dose" }] = json!(dose);
    let route = route_from(&d["route"]).ok_or_else(|| {
        Fail::unprocessable(
            "MedicationRequest.dosageInstruction.route",
            d["route"].to_string(),
            "a SNOMED CT route (47625008 intravenous, 34206005 subcutaneous, 78421000 intramuscular) or the route as text",
        )
    })?;
    input["route"] = json!(route);
    let timing = &d["timing"];
    if let Some(code) = timing["code"]["text"].as_str() {
        input["frequency"] = json!(code);
    } else if let (Some(n), Some(p), Some(u)) = (
        timing["repeat"]["frequency"].as_u64(),
        timing["repeat"]["period"].as_number(),
        timing["repeat"]["periodUnit"].as_str(),
    ) {
        let unit = match u {
            "h" => "h",
            "d" => "d",
            "wk" => "w",
            other => {
                return Err(Fail::unprocessable(
                    "MedicationRequest.dosageInstruction.timing.repeat.periodUnit",
                    other,
                    "h, d or wk",
                ));
            }
        };
        if n != 1 {
            return Err(Fail::unprocessable(
                "MedicationRequest.dosageInstruction.timing.repeat.frequency",
                n.to_string(),
                "1 (one dose every period)",
            ));
        }
        input["frequency"] = json!(format!("q{p}{unit}"));
    }
    if let (Some(v), Some(u)) = (
        timing["repeat"]["duration"].as_number(),
        timing["repeat"]["durationUnit"].as_str(),
    ) {
        input["duration"] = json!(format!("{v} {u}"));
    }
    for e in d["extension"].as_array().into_iter().flatten() {
        if e["url"] == EXT_LINE {
            input["line"] = e["valueCode"].clone();
        }
    }
    if !body["dispenseRequest"].is_null() {
        input["volume"] = json!(quantity_text(
            &body["dispenseRequest"]["quantity"],
            "MedicationRequest.dispenseRequest.quantity"
        )?);
    }
    if let Some(i) = body["reasonCode"][0]["text"].as_str() {
        input["indication"] = json!(i);
    }
    let mut overrides = Vec::new();
    for (i, e) in body["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if e["url"] != EXT_OVERRIDE {
            continue;
        }
        let part = |name: &str| {
            e["extension"].as_array().and_then(|xs| {
                xs.iter()
                    .find(|x| x["url"] == name)
                    .and_then(|x| x["valueString"].as_str().or(x["valueCode"].as_str()))
            })
        };
        match (part("code"), part("reason")) {
            (Some(c), Some(r)) => overrides.push(json!({"code": c, "reason": r})),
            _ => {
                return Err(Fail::unprocessable(
                    format!("MedicationRequest.extension[{i}]"),
                    e.to_string(),
                    "an override with nested extensions 'code' (the warning's code) and 'reason'",
                ));
            }
        }
    }
    if !overrides.is_empty() {
        input["overrides"] = Json::Array(overrides);
    }
    Ok(input)
}

/// Creates a draft order through the order workflow: the engine computes dose, volume and
/// rate from the patient's record and the checks run; a hard stop or a warning without an
/// override (extension `urn:infusio:fhir:extension:override`) answers 422 with each finding
/// as an issue.
pub async fn request_create(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> FhirResult {
    let a = signed_in(auth)?;
    let body = read_body(&headers, &bytes, "MedicationRequest")?;
    let input = order_input(&body)?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let created_order = async {
        // A caller who may not order is refused before the request is validated.
        a.actor().permit(Action::CreateOrder)?;
        let input = NewOrder::try_from(&input)?;
        s.app.create_order(a.actor(), &input, key.as_deref()).await
    }
    .await
    .map_err(|e| match e {
        AppError::NotFound {
            entity: "patient",
            id,
        } => Fail::unprocessable(
            "MedicationRequest.subject.reference",
            format!("Patient/{id}"),
            "a patient on this server",
        ),
        other => renamed(
            other,
            &[
                ("medication", "MedicationRequest.medicationReference"),
                (
                    "dose_per",
                    "MedicationRequest.dosageInstruction.doseAndRate.doseQuantity",
                ),
                (
                    "dose",
                    "MedicationRequest.dosageInstruction.doseAndRate.doseQuantity",
                ),
                ("route", "MedicationRequest.dosageInstruction.route"),
                ("frequency", "MedicationRequest.dosageInstruction.timing"),
                (
                    "duration",
                    "MedicationRequest.dosageInstruction.timing.repeat.duration",
                ),
                ("line", "MedicationRequest.dosageInstruction.extension"),
                ("volume", "MedicationRequest.dispenseRequest.quantity"),
                ("indication", "MedicationRequest.reasonCode"),
                ("overrides", "MedicationRequest.extension"),
                ("patient", "Patient"),
            ],
        ),
    })?;
    let r = order_resource(a.actor(), &created_order.order);
    if created_order.replayed {
        return Ok(resource(StatusCode::OK, &r, None));
    }
    Ok(created(&headers, "MedicationRequest", &r))
}

/// Elements of a MedicationRequest that an update may carry but that are the server's own.
const REQUEST_SERVER_ELEMENTS: &[&str] = &[
    "resourceType",
    "id",
    "meta",
    "text",
    "extension",
    "status",
    "statusReason",
];

/// An update of an order's status: on-hold (hold), active from on-hold (release), cancelled
/// (cancel) or stopped (discontinue), with `statusReason` as the reason. Every other element
/// must be as read: dose, rate and medication change only through the order workflow, which
/// recomputes and re-verifies them.
pub async fn request_update(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    Path(id): Path<String>,
    bytes: Bytes,
) -> FhirResult {
    let a = signed_in(auth)?;
    let actor = a.actor();
    let body = read_body(&headers, &bytes, "MedicationRequest")?;
    if body["id"].as_str() != Some(id.as_str()) {
        return Err(Fail::bad(
            "MedicationRequest.id",
            body["id"].to_string(),
            format!("the id of the URL, '{id}'"),
        ));
    }
    let version = if_match(&headers)?;
    let current = s.app.clinical_get::<Order>(actor, &id).await?;
    // A stale copy is refused before its content is judged (the workflow checks again, under
    // its transaction).
    if let Some(v) = version
        && v != current.version
    {
        return Err(AppError::Stale {
            entity: "order",
            id: id.clone(),
            expected: v,
            current: current.version,
        }
        .into());
    }
    let shown = order_resource(actor, &current);
    let mut keys: Vec<&String> = body
        .as_object()
        .into_iter()
        .flat_map(|o| o.keys())
        .chain(shown.as_object().into_iter().flat_map(|o| o.keys()))
        .filter(|k| !REQUEST_SERVER_ELEMENTS.contains(&k.as_str()))
        .collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        if body.get(k) != shown.get(k) {
            let given = body.get(k).map(Json::to_string).unwrap_or_default();
            return Err(Fail::unprocessable(
                format!("MedicationRequest.{k}"),
                &given[..given.len().min(200)],
                "the element as read: only status (with statusReason) changes through FHIR; dose, rate and medication change through the order workflow, which recomputes and re-verifies them",
            ));
        }
    }
    let from = map::request_status(current.data.status);
    let to = body["status"].as_str().unwrap_or_default();
    let step = match (from, to) {
        ("on-hold", "active") => "release",
        (_, "on-hold") if from != "on-hold" => "hold",
        (_, "cancelled") if from != "cancelled" => "cancel",
        (_, "stopped") if from != "stopped" => "discontinue",
        _ => {
            return Err(Fail::unprocessable(
                "MedicationRequest.status",
                to,
                format!(
                    "from {from}: on-hold, cancelled or stopped (or active from on-hold), a change the order workflow allows"
                ),
            ));
        }
    };
    let reason = body["statusReason"]["text"]
        .as_str()
        .or_else(|| body["statusReason"]["coding"][0]["display"].as_str());
    let input = match reason {
        Some(r) => json!({"reason": r}),
        None => json!({}),
    };
    let reason_field: &[(&str, &str)] = &[("reason", "MedicationRequest.statusReason")];
    let step = OrderStep::parse_transition(step).map_err(Fail::from)?;
    let input = TransitionInput::try_from((step, &input)).map_err(|e| renamed(e, reason_field))?;
    let o = s
        .app
        .transition(actor, &id, version, step, &input)
        .await
        .map_err(|e| renamed(e, reason_field))?;
    Ok(resource(StatusCode::OK, &order_resource(actor, &o), None))
}

// ---------------------------------------------------------------- MedicationAdministration

async fn administration_resource(
    app: &App,
    actor: &Actor,
    adm: &Stored<Administration>,
) -> Result<Json, Fail> {
    let order = app.clinical_get::<Order>(actor, &adm.data.order_id).await?;
    let mut events = app
        .clinical_find::<AdministrationEvent>(actor, "administration_id", &adm.id)
        .await?;
    events.sort_by_key(|e| e.data.at_us);
    Ok(map::medication_administration(adm, &order, &events))
}

pub async fn administration_read(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> FhirResult {
    let a = signed_in(auth)?;
    let adm = s.app.clinical_get::<Administration>(a.actor(), &id).await?;
    let r = administration_resource(&s.app, a.actor(), &adm).await?;
    Ok(resource(StatusCode::OK, &r, None))
}

pub async fn administration_search(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    q: Q,
) -> FhirResult {
    let a = signed_in(auth)?;
    let actor = a.actor();
    let search = Search::read(
        query(q)?,
        &["_id", "patient", "subject", "request", "status"],
    )?;
    let mut rows: Vec<Stored<Administration>> = if let Some(r) = search.one("request")? {
        let oid = reference_id("request", r, "MedicationRequest")?;
        s.app
            .clinical_find::<Administration>(actor, "order_id", oid)
            .await?
    } else if let Some(p) = search.one("patient")?.or(search.one("subject")?) {
        let p = reference_id("patient", p, "Patient")?;
        let mut out = Vec::new();
        for o in orders_for(&s.app, actor, Some(p)).await? {
            out.extend(
                s.app
                    .clinical_find::<Administration>(actor, "order_id", &o.id)
                    .await?,
            );
        }
        out
    } else {
        s.app.clinical_list::<Administration>(actor).await?
    };
    if let Some(id) = search.one("_id")? {
        rows.retain(|r| r.id == id);
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.data.started_at_us));
    let mut out = Vec::new();
    for r in &rows {
        out.push(administration_resource(&s.app, actor, r).await?);
    }
    for v in search.all("status") {
        out.retain(|r| alternatives(v).any(|st| r["status"] == st));
    }
    Ok(searchset(
        &base_url(&headers),
        "MedicationAdministration",
        &search,
        out,
    ))
}

// ---------------------------------------------------------------- Appointment

pub async fn appointment_read(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> FhirResult {
    let a = signed_in(auth)?;
    let r = s.app.clinical_get::<Appointment>(a.actor(), &id).await?;
    Ok(resource(StatusCode::OK, &map::appointment(&r), None))
}

pub async fn appointment_search(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    q: Q,
) -> FhirResult {
    let a = signed_in(auth)?;
    let search = Search::read(query(q)?, &["_id", "patient", "date", "status"])?;
    let mut rows = match search.one("patient")? {
        Some(p) => {
            let p = reference_id("patient", p, "Patient")?;
            s.app
                .clinical_find::<Appointment>(a.actor(), "patient_id", p)
                .await?
        }
        None => s.app.clinical_list::<Appointment>(a.actor()).await?,
    };
    if let Some(id) = search.one("_id")? {
        rows.retain(|r| r.id == id);
    }
    for v in search.all("date") {
        let mut keep = Vec::new();
        for r in rows {
            if date_matches("date", v, r.data.start_at_us)? {
                keep.push(r);
            }
        }
        rows = keep;
    }
    rows.sort_by_key(|r| r.data.start_at_us);
    let mut out: Vec<Json> = rows.iter().map(map::appointment).collect();
    for v in search.all("status") {
        out.retain(|r| alternatives(v).any(|st| r["status"] == st));
    }
    Ok(searchset(&base_url(&headers), "Appointment", &search, out))
}

/// Books a chair: an Appointment with status `booked`, `start` and `end`, a participant
/// `Patient/<id>`, a participant whose actor carries the chair's identifier
/// (`urn:infusio:chair`), and optionally `supportingInformation` naming the order.
#[expect(
    clippy::too_many_lines,
    reason = "FHIR Appointment mapping field by field: to be split when appointments gain their full life (scheduling work)"
)]
pub async fn appointment_create(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    bytes: Bytes,
) -> FhirResult {
    let a = signed_in(auth)?;
    let body = read_body(&headers, &bytes, "Appointment")?;
    only_elements(
        &body,
        &[
            "status",
            "serviceType",
            "start",
            "end",
            "participant",
            "supportingInformation",
        ],
    )?;
    let status = body["status"].as_str().unwrap_or_default();
    if status != "booked" {
        return Err(Fail::unprocessable(
            "Appointment.status",
            status,
            "booked (a chair is booked; other states follow from the workflow)",
        ));
    }
    let mut patient = None;
    let mut chair = None;
    for (i, p) in body["participant"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let actor = &p["actor"];
        if let Some(r) = actor["reference"].as_str() {
            match r.split_once('/') {
                Some(("Patient", id)) if patient.is_none() && !id.is_empty() => {
                    patient = Some(id.to_string())
                }
                _ => {
                    return Err(Fail::unprocessable(
                        format!("Appointment.participant[{i}].actor.reference"),
                        r,
                        "one 'Patient/<id>'",
                    ));
                }
            }
        } else if actor["identifier"]["system"] == CHAIR_SYSTEM && chair.is_none() {
            chair = actor["identifier"]["value"].as_str().map(str::to_string);
        } else {
            return Err(Fail::unprocessable(
                format!("Appointment.participant[{i}].actor"),
                actor.to_string(),
                format!("a Patient reference or a chair identifier ({CHAIR_SYSTEM})"),
            ));
        }
    }
    let patient = patient.ok_or_else(|| {
        Fail::unprocessable(
            "Appointment.participant",
            "",
            "a participant 'Patient/<id>'",
        )
    })?;
    let chair = chair.ok_or_else(|| {
        Fail::unprocessable(
            "Appointment.participant",
            "",
            format!("a participant whose actor.identifier is the chair ({CHAIR_SYSTEM})"),
        )
    })?;
    let instant = |key: &str| -> Result<String, Fail> {
        let path = format!("Appointment.{key}");
        let t = body[key]
            .as_str()
            .ok_or_else(|| Fail::bad(&path, body[key].to_string(), "an instant with zone"))?;
        Ok(iso(parse_fhir_instant(&path, t)?))
    };
    let mut input = json!({
        "patient_id": patient,
        "chair": chair,
        "start_at": instant("start")?,
        "end_at": instant("end")?,
    });
    match body["supportingInformation"].as_array().map(Vec::as_slice) {
        None | Some([]) => {}
        Some([r]) => {
            let text = r["reference"].as_str().unwrap_or_default();
            let oid = reference_id(
                "Appointment.supportingInformation",
                text,
                "MedicationRequest",
            )?;
            input["order_id"] = json!(oid);
        }
        Some(_) => {
            return Err(Fail::unprocessable(
                "Appointment.supportingInformation",
                body["supportingInformation"].to_string(),
                "at most one MedicationRequest",
            ));
        }
    }
    let r = async {
        // A caller who may not book is refused before the request is validated.
        a.actor().permit(Action::BookAppointment)?;
        let input = NewAppointment::try_from(&input)?;
        s.app.book_appointment(a.actor(), &input).await
    }
    .await
    .map_err(|e| match e {
        AppError::NotFound { entity, id } => Fail::unprocessable(
            if entity == "patient" {
                "Appointment.participant"
            } else {
                "Appointment.supportingInformation"
            },
            id,
            format!("a {entity} on this server"),
        ),
        other => renamed(
            other,
            &[
                ("start_at", "Appointment.start"),
                ("end_at", "Appointment.end"),
                ("order_id", "Appointment.supportingInformation"),
                ("chair", "Appointment.participant"),
            ],
        ),
    })?;
    Ok(created(&headers, "Appointment", &map::appointment(&r)))
}

// ---------------------------------------------------------------- Provenance

async fn provenances_of(app: &App, actor: &Actor, o: &Stored<Order>) -> Result<Vec<Json>, Fail> {
    let mut v = app
        .clinical_find::<Verification>(actor, "order_id", &o.id)
        .await?;
    v.sort_by_key(|x| x.data.verified_at_us);
    Ok(map::provenances(o, &v))
}

pub async fn provenance_read(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> FhirResult {
    let a = signed_in(auth)?;
    let actor = a.actor();
    let order_id = if let Some(vid) = id.strip_prefix("vf-") {
        found(s.app.clinical_get::<Verification>(actor, vid).await)?.map(|v| v.data.order_id)
    } else {
        id.split_once('-').map(|(_, o)| o.to_string())
    };
    let order = match order_id {
        Some(oid) => found(s.app.clinical_get::<Order>(actor, &oid).await)?,
        None => None,
    };
    let Some(order) = order else {
        actor.permit(infusio_app::Action::ReadClinical)?;
        return Err(Fail::not_found("Provenance", &id));
    };
    provenances_of(&s.app, actor, &order)
        .await?
        .into_iter()
        .find(|p| p["id"] == id.as_str())
        .map(|p| resource(StatusCode::OK, &p, None))
        .ok_or_else(|| Fail::not_found("Provenance", &id))
}

pub async fn provenance_search(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    q: Q,
) -> FhirResult {
    let a = signed_in(auth)?;
    let actor = a.actor();
    let search = Search::read(query(q)?, &["_id", "target", "patient"])?;
    let orders = if let Some(t) = search.one("target")? {
        let oid = reference_id("target", t, "MedicationRequest")?;
        found(s.app.clinical_get::<Order>(actor, oid).await)?
            .into_iter()
            .collect()
    } else {
        let p = match search.one("patient")? {
            Some(p) => Some(reference_id("patient", p, "Patient")?),
            None => None,
        };
        orders_for(&s.app, actor, p).await?
    };
    let mut out = Vec::new();
    for o in orders.iter().rev() {
        out.extend(provenances_of(&s.app, actor, o).await?);
    }
    if let Some(id) = search.one("_id")? {
        out.retain(|r| r["id"] == id);
    }
    Ok(searchset(&base_url(&headers), "Provenance", &search, out))
}

// ---------------------------------------------------------------- AuditEvent

pub async fn audit_read(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> FhirResult {
    let a = signed_in(auth)?;
    let seq: i64 = match id.parse() {
        Ok(n) if n >= 1 => n,
        _ => {
            a.actor().permit(infusio_app::Action::ReadAudit)?;
            return Err(Fail::not_found("AuditEvent", &id));
        }
    };
    let events = s.app.audit_events(a.actor(), seq, 1).await?;
    match events.first() {
        Some(e) if e.seq == seq => Ok(resource(StatusCode::OK, &map::audit_event(e), None)),
        _ => Err(Fail::not_found("AuditEvent", &id)),
    }
}

pub async fn audit_search(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    q: Q,
) -> FhirResult {
    let a = signed_in(auth)?;
    let search = Search::read(query(q)?, &[])?;
    let head = s.app.audit_head(a.actor()).await?;
    let page = if search.count == 0 {
        Vec::new()
    } else {
        s.app
            .audit_events(a.actor(), search.offset as i64 + 1, search.count as i64)
            .await?
    };
    Ok(searchset_page(
        &base_url(&headers),
        "AuditEvent",
        &search,
        head.seq.max(0) as usize,
        page.iter().map(map::audit_event).collect(),
    ))
}

// ---------------------------------------------------------------- Device

/// The pumps that have reported events (the record keeps no pump registry: a pump is known
/// by the identity its messages carry), with the time of the last event of each.
async fn pumps(app: &App, actor: &Actor) -> Result<Vec<Json>, Fail> {
    let mut last: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for e in app.clinical_list::<AdministrationEvent>(actor).await? {
        if let Some(p) = e.data.detail_json["interface"]["pump"].as_str() {
            let at = last.entry(p.to_string()).or_insert(e.data.at_us);
            *at = (*at).max(e.data.at_us);
        }
    }
    Ok(last
        .iter()
        .filter_map(|(p, at)| map::device(p, *at))
        .collect())
}

pub async fn device_read(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> FhirResult {
    let a = signed_in(auth)?;
    pumps(&s.app, a.actor())
        .await?
        .into_iter()
        .find(|d| d["id"] == id.as_str())
        .map(|d| resource(StatusCode::OK, &d, None))
        .ok_or_else(|| Fail::not_found("Device", &id))
}

pub async fn device_search(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    q: Q,
) -> FhirResult {
    let a = signed_in(auth)?;
    let search = Search::read(query(q)?, &["_id", "identifier"])?;
    let mut all = pumps(&s.app, a.actor()).await?;
    if let Some(id) = search.one("_id")? {
        all.retain(|d| d["id"] == id);
    }
    for v in search.all("identifier") {
        all.retain(|d| {
            alternatives(v).any(|alt| {
                let (sys, code) = token(alt);
                d["identifier"].as_array().is_some_and(|ids| {
                    ids.iter().any(|i| {
                        sys.is_none_or(|s| i["system"] == s) && code.is_none_or(|c| i["value"] == c)
                    })
                })
            })
        });
    }
    Ok(searchset(&base_url(&headers), "Device", &search, all))
}

// ---------------------------------------------------------------- Schedule and Slot

async fn schedules(app: &App, actor: &Actor) -> Result<Vec<Json>, Fail> {
    let mut chairs: Vec<String> = app
        .clinical_list::<Appointment>(actor)
        .await?
        .into_iter()
        .map(|a| a.data.chair)
        .collect();
    chairs.sort();
    chairs.dedup();
    Ok(chairs.iter().filter_map(|c| map::schedule(c)).collect())
}

pub async fn schedule_read(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> FhirResult {
    let a = signed_in(auth)?;
    schedules(&s.app, a.actor())
        .await?
        .into_iter()
        .find(|r| r["id"] == id.as_str())
        .map(|r| resource(StatusCode::OK, &r, None))
        .ok_or_else(|| Fail::not_found("Schedule", &id))
}

pub async fn schedule_search(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    q: Q,
) -> FhirResult {
    let a = signed_in(auth)?;
    let search = Search::read(query(q)?, &["_id", "actor"])?;
    let mut all = schedules(&s.app, a.actor()).await?;
    if let Some(id) = search.one("_id")? {
        all.retain(|r| r["id"] == id);
    }
    for v in search.all("actor") {
        all.retain(|r| {
            alternatives(v).any(|alt| {
                let (sys, code) = token(alt);
                let i = &r["actor"][0]["identifier"];
                sys.is_none_or(|s| i["system"] == s) && code.is_none_or(|c| i["value"] == c)
            })
        });
    }
    Ok(searchset(&base_url(&headers), "Schedule", &search, all))
}

pub async fn slot_read(
    State(s): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> FhirResult {
    let a = signed_in(auth)?;
    let Some(aid) = id.strip_prefix("ap-") else {
        a.actor().permit(infusio_app::Action::ReadClinical)?;
        return Err(Fail::not_found("Slot", &id));
    };
    let ap = s.app.clinical_get::<Appointment>(a.actor(), aid).await?;
    map::slot(&ap)
        .map(|r| resource(StatusCode::OK, &r, None))
        .ok_or_else(|| Fail::not_found("Slot", &id))
}

pub async fn slot_search(
    State(s): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    q: Q,
) -> FhirResult {
    let a = signed_in(auth)?;
    let search = Search::read(query(q)?, &["_id", "schedule", "start", "status"])?;
    let mut rows = s.app.clinical_list::<Appointment>(a.actor()).await?;
    for v in search.all("start") {
        let mut keep = Vec::new();
        for r in rows {
            if date_matches("start", v, r.data.start_at_us)? {
                keep.push(r);
            }
        }
        rows = keep;
    }
    rows.sort_by_key(|r| r.data.start_at_us);
    let mut all: Vec<Json> = rows.iter().filter_map(map::slot).collect();
    if let Some(id) = search.one("_id")? {
        all.retain(|r| r["id"] == id);
    }
    for v in search.all("schedule") {
        let mut ids = Vec::new();
        for alt in alternatives(v) {
            ids.push(format!(
                "Schedule/{}",
                reference_id("schedule", alt, "Schedule")?
            ));
        }
        all.retain(|r| ids.iter().any(|i| r["schedule"]["reference"] == i.as_str()));
    }
    for v in search.all("status") {
        all.retain(|r| alternatives(v).any(|st| r["status"] == st));
    }
    Ok(searchset(&base_url(&headers), "Slot", &search, all))
}

// ---------------------------------------------------------------- vread

/// The current resource of a versioned type, as read.
async fn current(app: &App, actor: &Actor, rt: &str, id: &str) -> Result<Json, Fail> {
    Ok(match rt {
        "Patient" => map::patient(&app.clinical_get::<Patient>(actor, id).await?),
        "Observation" => match id.split_at_checked(2) {
            Some(("m-", rest)) => {
                map::measurement(&app.clinical_get::<Measurement>(actor, rest).await?)
            }
            Some(("l-", rest)) => map::lab(&app.clinical_get::<LabResult>(actor, rest).await?),
            _ => {
                actor.permit(infusio_app::Action::ReadClinical)?;
                return Err(Fail::not_found(rt, id));
            }
        },
        "AllergyIntolerance" => map::allergy(&app.clinical_get::<Allergy>(actor, id).await?),
        "MedicationRequest" => order_resource(actor, &app.clinical_get::<Order>(actor, id).await?),
        "Appointment" => map::appointment(&app.clinical_get::<Appointment>(actor, id).await?),
        _ => return Err(Fail::not_found(rt, id)),
    })
}

/// `GET /fhir/<type>/<id>/_history/<vid>`: the current version when `vid` names it. Earlier
/// versions are not kept as resources (the audit trail has every change).
async fn vread(s: AppState, auth: Auth, id: String, vid: String, rt: &str) -> FhirResult {
    let a = signed_in(auth)?;
    let r = current(&s.app, a.actor(), rt, &id).await?;
    if r["meta"]["versionId"] == vid.as_str() {
        return Ok(resource(StatusCode::OK, &r, None));
    }
    let mut f = Fail::new(
        StatusCode::NOT_FOUND,
        "not-found",
        format!(
            "{rt}/{id} version {vid} is not served: the current version is {}; earlier versions are recorded in the audit trail (AuditEvent)",
            r["meta"]["versionId"].as_str().unwrap_or("?")
        ),
    );
    f.expression = Some("vid".into());
    Err(f)
}

macro_rules! vread_handlers {
    ($($name:ident => $rt:literal),+ $(,)?) => {
        $(
            pub async fn $name(
                State(s): State<AppState>,
                auth: Auth,
                Path((id, vid)): Path<(String, String)>,
            ) -> FhirResult {
                vread(s, auth, id, vid, $rt).await
            }
        )+
    };
}

vread_handlers! {
    patient_vread => "Patient",
    observation_vread => "Observation",
    allergy_vread => "AllergyIntolerance",
    request_vread => "MedicationRequest",
    appointment_vread => "Appointment",
}

// ---------------------------------------------------------------- others

/// A resource type or path under /fhir that this server does not serve.
pub async fn unsupported(Path(rest): Path<String>) -> Response {
    let mut f = Fail::new(
        StatusCode::NOT_FOUND,
        "not-supported",
        format!(
            "/fhir/{rest} is not served; see /fhir/metadata for the resources and interactions this server supports"
        ),
    );
    f.expression = Some(rest);
    f.into_response()
}

/// A method a route does not serve.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> Response {
    Fail::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "not-supported",
        format!(
            "{method} {} is not served; see /fhir/metadata for the interactions of each resource",
            uri.path()
        ),
    )
    .into_response()
}
