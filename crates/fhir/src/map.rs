//! Domain records → FHIR R4 resources (JSON). Pure functions: no I/O, no rules.

use infusio_app::patients::number;
use infusio_core::library::DrugEntry;
use infusio_store::records::{
    Administration, AdministrationEvent, Allergy, Appointment, LabResult, Measurement, Order,
    Patient, Verification,
};
use infusio_store::{AuditEvent, OrderStatus, Stored};
use serde_json::{Map, Value as Json, json};

use crate::codes::*;
use crate::http::meta;

fn num(d: &infusio_store::Decimal) -> Json {
    // The record's decimal text is the exact value; JSON numbers carry it.
    d.as_str()
        .parse::<serde_json::Number>()
        .map(Json::Number)
        .unwrap_or_else(|_| json!(number(d)))
}

pub fn patient(p: &Stored<Patient>) -> Json {
    let d = &p.data;
    let mut identifiers = vec![json!({
        "use": "usual",
        "type": {"coding": [{"system": V2_0203, "code": "MR", "display": "Medical record number"}]},
        "system": MRN_SYSTEM,
        "value": d.mrn,
    })];
    if let Some(items) = d.identifiers_json.as_array() {
        for i in items {
            identifiers.push(json!({"system": i["system"], "value": i["value"]}));
        }
    }
    json!({
        "resourceType": "Patient",
        "id": p.id,
        "meta": meta(p.version, p.updated_at_us),
        "identifier": identifiers,
        "name": [{"use": "official", "family": d.family_name, "given": [d.given_name]}],
        "gender": d.sex,
        "birthDate": d.birth_date,
    })
}

fn quantity(value: Json, code: &ObsCode) -> Json {
    json!({"value": value, "unit": code.unit, "system": UCUM, "code": code.ucum})
}

fn obs_coding(code: &ObsCode) -> Json {
    let mut codings = Vec::new();
    if let Some(l) = code.loinc {
        codings.push(json!({"system": LOINC, "code": l, "display": code.display}));
    }
    let system = match code.kind {
        ObsKind::Measurement(_) => "urn:infusio:measurement",
        ObsKind::Lab(_) => LAB_SYSTEM,
    };
    codings.push(json!({"system": system, "code": local_code(code.kind)}));
    json!({"coding": codings, "text": code.display})
}

fn category(code: &str, display: &str) -> Json {
    json!([{"coding": [{"system": OBSERVATION_CATEGORY, "code": code, "display": display}]}])
}

/// Observation ids: `m-<id>` for a measurement, `l-<id>` for a lab result.
pub fn measurement(m: &Stored<Measurement>) -> Json {
    let d = &m.data;
    let kind = if d.kind == "height" {
        "height"
    } else {
        "weight"
    };
    let code = obs_code(ObsKind::Measurement(kind)).unwrap_or(&OBS_CODES[0]);
    let mut o = json!({
        "resourceType": "Observation",
        "id": format!("m-{}", m.id),
        "meta": meta(m.version, m.updated_at_us),
        "status": "final",
        "category": category("vital-signs", "Vital Signs"),
        "code": obs_coding(code),
        "subject": {"reference": format!("Patient/{}", d.patient_id)},
        "effectiveDateTime": iso(d.measured_at_us),
        "issued": iso(m.created_at_us),
        "valueQuantity": quantity(num(&d.value), code),
        "method": {"text": d.source},
    });
    if let Some(u) = &d.recorded_by {
        o["performer"] = json!([user_ref(u)]);
    }
    o
}

pub fn lab(l: &Stored<LabResult>) -> Json {
    let d = &l.data;
    let code = OBS_CODES
        .iter()
        .find(|c| matches!(c.kind, ObsKind::Lab(n) if n == d.code));
    let (code_json, value) = match code {
        Some(c) => (obs_coding(c), quantity(num(&d.value), c)),
        None => (
            json!({"coding": [{"system": LAB_SYSTEM, "code": d.code}], "text": d.name}),
            json!({"value": num(&d.value), "unit": d.unit}),
        ),
    };
    json!({
        "resourceType": "Observation",
        "id": format!("l-{}", l.id),
        "meta": meta(l.version, l.updated_at_us),
        "status": "final",
        "category": category("laboratory", "Laboratory"),
        "code": code_json,
        "subject": {"reference": format!("Patient/{}", d.patient_id)},
        "effectiveDateTime": iso(d.collected_at_us),
        "issued": iso(d.resulted_at_us.unwrap_or(l.created_at_us)),
        "valueQuantity": value,
        "note": [{"text": format!("source: {}", d.source)}],
    })
}

pub fn allergy(a: &Stored<Allergy>) -> Json {
    let d = &a.data;
    let mut r = json!({
        "resourceType": "AllergyIntolerance",
        "id": a.id,
        "meta": meta(a.version, a.updated_at_us),
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
        "code": {"text": d.substance},
        "patient": {"reference": format!("Patient/{}", d.patient_id)},
        "recordedDate": iso(a.created_at_us),
    });
    if let Some(u) = &d.recorded_by {
        r["recorder"] = user_ref(u);
    }
    if let Some(reaction) = &d.reaction {
        let mut x = json!({"manifestation": [{"text": reaction}]});
        if ["mild", "moderate", "severe"].contains(&d.severity.as_str()) {
            x["severity"] = json!(d.severity);
        }
        r["reaction"] = json!([x]);
    } else if ["mild", "moderate", "severe"].contains(&d.severity.as_str()) {
        r["note"] = json!([{"text": format!("severity {} (no reaction recorded)", d.severity)}]);
    }
    r
}

pub fn medication(e: &DrugEntry) -> Json {
    let mut m = json!({
        "resourceType": "Medication",
        "id": e.id,
        "meta": {"versionId": e.version.to_string()},
        "code": {"coding": [{"system": DRUG_SYSTEM, "code": e.id, "display": e.generic_name}], "text": e.generic_name},
        "status": "active",
        "extension": [{"url": EXT_HIGH_ALERT, "valueBoolean": e.flags.high_alert}],
    });
    if !e.brands.is_empty() {
        m["identifier"] = Json::Array(
            e.brands
                .iter()
                .map(|b| json!({"system": "urn:infusio:brand", "value": b}))
                .collect(),
        );
    }
    m
}

/// MedicationRequest.status of an order state (the record's state also goes in an extension).
pub fn request_status(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Draft => "draft",
        OrderStatus::Signed
        | OrderStatus::Verified
        | OrderStatus::Prepared
        | OrderStatus::Scheduled
        | OrderStatus::InProgress => "active",
        OrderStatus::Held => "on-hold",
        OrderStatus::Cancelled => "cancelled",
        OrderStatus::Discontinued => "stopped",
        OrderStatus::Completed => "completed",
    }
}

/// Standard base64 (RFC 4648) of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A Quantity in a record unit: `unit` as the record writes it, `code` its UCUM code
/// (`units` is `[iU]`, `mEq` is `meq`).
fn ucum_quantity(value: Json, unit: &str) -> Json {
    json!({"value": value, "unit": unit, "system": UCUM, "code": ucum_code(unit)})
}

/// An order. `blind`: the reader is a pharmacist who has not yet verified it, so dose, volume,
/// rate and derivation are left out (the dose basis stays).
pub fn medication_request(o: &Stored<Order>, blind: bool) -> Json {
    let d = &o.data;
    let request = &d.derivation_json["request"];
    let mut dosage = Map::new();
    let mut text = Vec::new();
    if let Some(per) = request["dose_per"].as_str() {
        text.push(per.to_string());
    }
    dosage.insert("route".into(), route_coding(&d.route));
    if let Some(line) = request["line"].as_str() {
        dosage.insert(
            "extension".into(),
            json!([{"url": EXT_LINE, "valueCode": line}]),
        );
    }
    if let Some(f) = request["frequency"].as_str() {
        dosage.insert("timing".into(), json!({"code": {"text": f}}));
        text.push(f.to_string());
    }
    text.push(d.route.clone());
    let mut extensions = vec![
        json!({"url": EXT_ORDER_STATUS, "valueCoding": {"system": ORDER_STATUS_SYSTEM, "code": d.status.as_str()}}),
        json!({"url": EXT_HIGH_ALERT, "valueBoolean": d.high_alert}),
    ];
    if blind {
        extensions.push(json!({"url": EXT_FIGURES_HIDDEN, "valueBoolean": true}));
    } else {
        let mut dr = json!({
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/dose-rate-type", "code": "ordered", "display": "Ordered"}]},
            "doseQuantity": ucum_quantity(num(&d.dose), &d.dose_unit),
        });
        if let Some(r) = &d.rate_ml_per_h {
            dr["rateQuantity"] = ucum_quantity(num(r), "mL/h");
        }
        dosage.insert("doseAndRate".into(), json!([dr]));
        text.insert(0, format!("{} {}", d.dose, d.dose_unit));
        if let Some(v) = &d.final_volume_ml {
            text.push(format!("in {v} mL"));
        }
        if let Some(r) = &d.rate_ml_per_h {
            text.push(format!("at {r} mL/h"));
        }
        extensions.push(json!({
            "url": EXT_DERIVATION,
            "valueAttachment": {
                "contentType": "application/json",
                "title": "Dose, volume and rate derivation with the safety-check findings",
                "data": base64(json!({"derivation": d.derivation_json, "findings": d.findings_json, "overrides": d.overrides_json}).to_string().as_bytes()),
            }
        }));
    }
    dosage.insert("text".into(), json!(text.join(" ")));
    let mut r = json!({
        "resourceType": "MedicationRequest",
        "id": o.id,
        "meta": meta(o.version, o.updated_at_us),
        "extension": extensions,
        "status": request_status(d.status),
        "intent": "order",
        "medicationReference": {"reference": format!("Medication/{}", d.drug_id), "display": d.drug_id},
        "subject": {"reference": format!("Patient/{}", d.patient_id)},
        "authoredOn": iso(o.created_at_us),
        "requester": user_ref(&d.prescriber_id),
        "dosageInstruction": [Json::Object(dosage)],
    });
    if let Some(i) = request["indication"].as_str() {
        r["reasonCode"] = json!([{"text": i}]);
    }
    if !blind && let Some(v) = &d.final_volume_ml {
        r["dispenseRequest"] = json!({"quantity": ucum_quantity(num(v), "mL")});
    }
    r
}

#[expect(
    clippy::too_many_lines,
    reason = "MedicationAdministration built field by field from one record"
)]
pub fn medication_administration(
    a: &Stored<Administration>,
    order: &Stored<Order>,
    events: &[Stored<AdministrationEvent>],
) -> Json {
    let d = &a.data;
    let status = match d.status.as_str() {
        "in_progress" => "in-progress",
        "completed" => "completed",
        "stopped" => "stopped",
        _ => "unknown",
    };
    let mut period = json!({"start": iso(d.started_at_us)});
    if let Some(s) = d.stopped_at_us {
        period["end"] = json!(iso(s));
    }
    let mut performers =
        vec![json!({"function": {"text": "administering nurse"}, "actor": user_ref(&d.nurse_id)})];
    if let Some(s) = &d.second_nurse_id {
        performers
            .push(json!({"function": {"text": "independent double check"}, "actor": user_ref(s)}));
    }
    let rate = |v: f64| json!({"value": v, "unit": "mL/h", "system": UCUM, "code": "mL/h"});
    let changes: Vec<&Stored<AdministrationEvent>> = events
        .iter()
        .filter(|e| e.data.rate_ml_per_h.is_some())
        .collect();
    // The rate running now (or at the end): the last change, else the programme as keyed.
    let current = changes
        .iter()
        .max_by_key(|e| e.data.at_us)
        .and_then(|e| e.data.rate_ml_per_h.as_ref().map(number))
        .or_else(|| d.pump_programme_json["rate_ml_per_h"].as_f64());
    let mut dosage = json!({"route": route_coding(&order.data.route), "dose": ucum_quantity(num(&order.data.dose), &order.data.dose_unit)});
    if let Some(r) = current {
        dosage["rateQuantity"] = rate(r);
    }
    let mut ext = Vec::new();
    if let Some(r) = d.pump_programme_json["rate_ml_per_h"].as_f64() {
        ext.push(json!({"url": EXT_RATE_CHANGE, "extension": [
            {"url": "at", "valueDateTime": iso(d.started_at_us)},
            {"url": "rate", "valueQuantity": rate(r)},
            {"url": "kind", "valueString": "start"},
        ]}));
    }
    for e in &changes {
        if let Some(r) = &e.data.rate_ml_per_h {
            // A pump's event names itself (started, rate_changed, …); a nurse's is its kind.
            let kind = e.data.detail_json["pump_event"]
                .as_str()
                .map(|k| format!("pump {k}"))
                .unwrap_or_else(|| e.data.kind.to_string());
            ext.push(json!({"url": EXT_RATE_CHANGE, "extension": [
                {"url": "at", "valueDateTime": iso(e.data.at_us)},
                {"url": "rate", "valueQuantity": rate(number(r))},
                {"url": "kind", "valueString": kind},
            ]}));
        }
    }
    // What the pump reported as infused (the last report).
    if let Some(v) = events
        .iter()
        .filter_map(|e| e.data.detail_json["volume_infused_ml"].as_f64())
        .next_back()
    {
        ext.push(json!({"url": EXT_VOLUME_INFUSED, "valueQuantity": {"value": v, "unit": "mL", "system": UCUM, "code": "mL"}}));
    }
    // The pumps that reported events (MSH-3 of their messages).
    let mut pumps: Vec<&str> = events
        .iter()
        .filter_map(|e| e.data.detail_json["interface"]["pump"].as_str())
        .collect();
    pumps.sort_unstable();
    pumps.dedup();
    let mut r = json!({
        "resourceType": "MedicationAdministration",
        "id": a.id,
        "meta": meta(a.version, a.updated_at_us),
        "status": status,
        "medicationReference": {"reference": format!("Medication/{}", order.data.drug_id)},
        "subject": {"reference": format!("Patient/{}", order.data.patient_id)},
        "effectivePeriod": period,
        "performer": performers,
        "request": {"reference": format!("MedicationRequest/{}", order.id)},
        "dosage": dosage,
    });
    if !ext.is_empty() {
        r["extension"] = Json::Array(ext);
    }
    if !pumps.is_empty() {
        r["device"] = pumps
            .iter()
            .map(|p| {
                let mut r = json!({"type": "Device", "identifier": {"system": PUMP_SYSTEM, "value": p}, "display": "infusion pump"});
                if let Some(id) = device_id(p) {
                    r["reference"] = json!(format!("Device/{id}"));
                }
                r
            })
            .collect();
    }
    if let Some(reason) = &d.stop_reason {
        r["statusReason"] = json!([{"text": reason}]);
    }
    let notes: Vec<Json> = events
        .iter()
        .filter(|e| e.data.rate_ml_per_h.is_none())
        .map(|e| {
            let mut t = e.data.kind.to_string();
            if let Some(g) = e.data.reaction_grade {
                t.push_str(&format!(" grade {g}"));
            }
            if e.data.detail_json.as_object().is_some_and(|o| !o.is_empty()) {
                t.push_str(&format!(": {}", e.data.detail_json));
            }
            json!({"authorReference": user_ref(&e.data.recorded_by), "time": iso(e.data.at_us), "text": t})
        })
        .collect();
    if !notes.is_empty() {
        r["note"] = Json::Array(notes);
    }
    r
}

pub fn appointment(a: &Stored<Appointment>) -> Json {
    let d = &a.data;
    let status = match d.status.as_str() {
        "booked" => "booked",
        "arrived" => "arrived",
        "completed" => "fulfilled",
        "cancelled" => "cancelled",
        "no_show" => "noshow",
        _ => "proposed",
    };
    let mut r = json!({
        "resourceType": "Appointment",
        "id": a.id,
        "meta": meta(a.version, a.updated_at_us),
        "status": status,
        "serviceType": [{"text": "infusion"}],
        "start": iso(d.start_at_us),
        "end": iso(d.end_at_us),
        "participant": [
            {"actor": {"reference": format!("Patient/{}", d.patient_id)}, "status": "accepted"},
            {"type": [{"text": "chair"}], "actor": {"type": "Location", "identifier": {"system": CHAIR_SYSTEM, "value": d.chair}, "display": format!("chair {}", d.chair)}, "status": "accepted"},
        ],
    });
    if let Some(o) = &d.order_id {
        r["supportingInformation"] = json!([{"reference": format!("MedicationRequest/{o}")}]);
    }
    r
}

fn provenance_agent(kind: &str, display: &str, who: &str) -> Json {
    json!({
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": kind, "display": display}]},
        "who": user_ref(who),
    })
}

/// Provenance of an order: its prescription (`rx-<order>`), each override of a warning
/// (`ov<n>-<order>`) and each blind verification (`vf-<verification>`).
pub fn provenances(o: &Stored<Order>, verifications: &[Stored<Verification>]) -> Vec<Json> {
    let target = json!([{"reference": format!("MedicationRequest/{}", o.id)}]);
    let mut out = vec![json!({
        "resourceType": "Provenance",
        "id": format!("rx-{}", o.id),
        "target": target,
        "recorded": iso(o.data.signed_at_us.unwrap_or(o.created_at_us)),
        "activity": {"text": if o.data.signed_at_us.is_some() { "prescribed and signed" } else { "prescribed (draft)" }},
        "agent": [provenance_agent("author", "Author", &o.data.prescriber_id)],
    })];
    if let Some(items) = o.data.overrides_json.as_array() {
        for (n, ov) in items.iter().enumerate() {
            let at = ov["at"].as_str().unwrap_or_default();
            let who = ov["by"].as_str().unwrap_or_default();
            out.push(json!({
                "resourceType": "Provenance",
                "id": format!("ov{n}-{}", o.id),
                "target": target,
                "recorded": if at.is_empty() { iso(o.created_at_us) } else { at.to_string() },
                "activity": {"coding": [{"system": FINDING_SYSTEM, "code": ov["code"]}], "text": format!("override of warning {} ({})", ov["code"].as_str().unwrap_or_default(), ov["role"].as_str().unwrap_or_default())},
                "reason": [{"text": ov["reason"]}],
                "agent": [provenance_agent("author", "Author", who)],
            }));
        }
    }
    for v in verifications {
        out.push(json!({
            "resourceType": "Provenance",
            "id": format!("vf-{}", v.id),
            "target": target,
            "recorded": iso(v.data.verified_at_us),
            "activity": {"text": format!("blind pharmacist verification: {}", v.data.outcome)},
            "agent": [provenance_agent("verifier", "Verifier", &v.data.pharmacist_id)],
        }));
    }
    out
}

/// FHIR resource type and id of a record table row, when the API serves it.
fn served(entity_type: &str, id: &str) -> Option<String> {
    let t = match entity_type {
        "patients" => "Patient",
        "allergies" => "AllergyIntolerance",
        "orders" => "MedicationRequest",
        "appointments" => "Appointment",
        "administrations" => "MedicationAdministration",
        "measurements" => return Some(format!("Observation/m-{id}")),
        "lab_results" => return Some(format!("Observation/l-{id}")),
        _ => return None,
    };
    Some(format!("{t}/{id}"))
}

/// An event of the audit chain (id: its sequence number).
pub fn audit_event(e: &AuditEvent) -> Json {
    let action = match (&e.before_json, &e.after_json) {
        (None, Some(_)) => "C",
        (Some(_), None) => "D",
        _ => "U",
    };
    let what = match served(&e.entity_type, &e.entity_id) {
        Some(r) => json!({"reference": r}),
        None => {
            json!({"identifier": {"system": format!("urn:infusio:table:{}", e.entity_type), "value": e.entity_id}})
        }
    };
    let mut details = vec![
        json!({"type": "hash", "valueString": e.hash}),
        json!({"type": "prev_hash", "valueString": e.prev_hash}),
    ];
    if let Some(r) = &e.reason {
        details.push(json!({"type": "reason", "valueString": r}));
    }
    json!({
        "resourceType": "AuditEvent",
        "id": e.seq.to_string(),
        "type": {"system": AUDIT_ACTION_SYSTEM, "code": e.action},
        "action": action,
        "recorded": iso(e.at_us),
        "outcome": "0",
        "agent": [{"who": user_ref(&e.actor), "role": [{"text": e.actor_role}], "requestor": true}],
        "source": {"observer": {"display": "Infusio"}},
        "entity": [{"what": what, "type": {"system": "urn:infusio:table", "code": e.entity_type}, "detail": details}],
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(plain.as_bytes()), coded);
        }
    }
}

/// The Device id of a pump's identity (MSH-3): letters, digits and `-` kept, every other
/// byte written `.XX` (hex), so that distinct pumps never share an id; `None` when longer than
/// the 64 characters a FHIR id may have.
pub fn device_id(pump: &str) -> Option<String> {
    let mut id = String::new();
    for b in pump.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            id.push(b as char);
        } else {
            id.push_str(&format!(".{b:02X}"));
        }
    }
    (!id.is_empty() && id.len() <= 64).then_some(id)
}

/// A pump that reported events, as a Device: its identity and when it was last heard from.
pub fn device(pump: &str, last_event_us: i64) -> Option<Json> {
    let id = device_id(pump)?;
    let mut parts = pump.split('^');
    let application = parts.next().unwrap_or_default();
    let mut d = json!({
        "resourceType": "Device",
        "id": id,
        "identifier": [{"system": PUMP_SYSTEM, "value": pump}],
        "type": {"text": "infusion pump"},
        "note": [{"text": format!("last event received {}", iso(last_event_us))}],
    });
    if let (Some(serial), Some(kind)) = (parts.next(), parts.next())
        && let Some(ids) = d["identifier"].as_array_mut()
    {
        ids.push(json!({"system": format!("urn:infusio:device-id:{}", kind.to_ascii_lowercase()), "value": serial}));
    }
    if !application.is_empty() {
        d["deviceName"] = json!([{"name": application, "type": "model-name"}]);
    }
    Some(d)
}

#[cfg(test)]
mod device_tests {
    #[test]
    fn device_ids_are_valid_and_distinct() {
        let a = super::device_id("PUMPSIM^0123456789ABCDEF^EUI-64");
        assert_eq!(a.as_deref(), Some("PUMPSIM.5E0123456789ABCDEF.5EEUI-64"));
        assert_ne!(super::device_id("A^B"), super::device_id("A.5EB"));
        assert_eq!(super::device_id(&"x".repeat(65)), None);
    }
}

/// A chair's Schedule (chairs are named on appointments; the record has no chair registry).
pub fn schedule(chair: &str) -> Option<Json> {
    let id = format!("chair-{}", device_id(chair)?);
    (id.len() <= 64).then(|| {
        json!({
            "resourceType": "Schedule",
            "id": id,
            "active": true,
            "serviceType": [{"text": "infusion"}],
            "actor": [{"type": "Location", "identifier": {"system": CHAIR_SYSTEM, "value": chair}, "display": format!("chair {chair}")}],
        })
    })
}

/// The busy time of an appointment as a Slot of its chair's Schedule (`ap-<appointment>`);
/// a cancelled appointment or a no-show frees its time.
pub fn slot(a: &Stored<Appointment>) -> Option<Json> {
    let schedule = schedule(&a.data.chair)?;
    let status = match a.data.status.as_str() {
        "cancelled" | "no_show" => "free",
        _ => "busy",
    };
    Some(json!({
        "resourceType": "Slot",
        "id": format!("ap-{}", a.id),
        "meta": meta(a.version, a.updated_at_us),
        "schedule": {"reference": format!("Schedule/{}", schedule["id"].as_str().unwrap_or_default())},
        "status": status,
        "start": iso(a.data.start_at_us),
        "end": iso(a.data.end_at_us),
    }))
}
