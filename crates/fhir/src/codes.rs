//! Code systems, identifier systems, extension URLs and the LOINC/UCUM table of the
//! observations the dose checks read.

use axum::http::StatusCode;
use infusio_core::time::{
    STRICT_INSTANT_FORM, US_PER_S, days_from_civil, iso_from_us, parse_date, parse_instant_strict,
};

use crate::http::Fail;

pub const LOINC: &str = "http://loinc.org";
pub const UCUM: &str = "http://unitsofmeasure.org";
pub const SNOMED: &str = "http://snomed.info/sct";
pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
pub const V2_0203: &str = "http://terminology.hl7.org/CodeSystem/v2-0203";

/// The local medical record number (the `mrn` of the record).
pub const MRN_SYSTEM: &str = "urn:infusio:mrn";
/// Users of this installation (prescribers, pharmacists, nurses): references carry their id.
pub const USER_SYSTEM: &str = "urn:infusio:user";
/// The lab names of the record (the checks' names, e.g. `serum_creatinine`).
pub const LAB_SYSTEM: &str = "urn:infusio:lab";
/// Infusion chairs (`C1`).
pub const CHAIR_SYSTEM: &str = "urn:infusio:chair";
/// Drug-library ids (`vancomycin`).
pub const DRUG_SYSTEM: &str = "urn:infusio:drug-library";
/// The record's order states (finer than MedicationRequest.status).
pub const ORDER_STATUS_SYSTEM: &str = "urn:infusio:order-status";
/// Actions of the audit chain (`order.create`).
pub const AUDIT_ACTION_SYSTEM: &str = "urn:infusio:audit-action";
/// Safety-check finding codes.
pub const FINDING_SYSTEM: &str = "urn:infusio:finding";

/// Extension: the engine's derivation of an order's dose, volume and rate (an attachment of
/// `application/json`).
pub const EXT_DERIVATION: &str = "urn:infusio:fhir:extension:derivation";
/// Extension: the record's order state.
pub const EXT_ORDER_STATUS: &str = "urn:infusio:fhir:extension:order-status";
/// Extension: the drug is high-alert (independent double check at the bedside).
pub const EXT_HIGH_ALERT: &str = "urn:infusio:fhir:extension:high-alert";
/// Extension: a rate change during an administration (nested `at` and `rate`).
pub const EXT_RATE_CHANGE: &str = "urn:infusio:fhir:extension:rate-change";
/// Extension: the line of an infusion order (`peripheral` or `central`), valueCode.
pub const EXT_LINE: &str = "urn:infusio:fhir:extension:line";
/// Extension: an override of a safety-check warning, with nested `code` and `reason`.
pub const EXT_OVERRIDE: &str = "urn:infusio:fhir:extension:override";
/// Extension: the volume a pump reported as infused (mL).
pub const EXT_VOLUME_INFUSED: &str = "urn:infusio:fhir:extension:volume-infused";
/// Infusion pumps, by the sending application and device id of their messages (MSH-3).
pub const PUMP_SYSTEM: &str = "urn:infusio:pump";
/// Extension: the figures are hidden from this reader until their blind verification.
pub const EXT_FIGURES_HIDDEN: &str = "urn:infusio:fhir:extension:figures-hidden";

// The observation table is the workspace's one LOINC/UCUM table, shared with HL7 v2.
pub use infusio_core::codes::{OBS_CODES, ObsCode, ObsKind, local_code, obs_code};

/// The entry for a coding (`system`, `code`): LOINC or the local lab system.
pub fn obs_from_coding(system: Option<&str>, code: &str) -> Option<&'static ObsCode> {
    OBS_CODES.iter().find(|c| match system {
        Some(LOINC) => c.loinc == Some(code),
        Some(LAB_SYSTEM) => local_code(c.kind) == code,
        Some(_) => false,
        None => c.loinc == Some(code) || local_code(c.kind) == code,
    })
}

/// A UCUM unit code as the record's quantity parser writes it.
pub fn unit_for_record(ucum: &str) -> String {
    infusio_core::codes::record_unit_from_ucum(ucum)
}

/// The UCUM code of a unit as the record writes it (`units` → `[iU]`, `mEq` → `meq`).
pub fn ucum_code(unit: &str) -> String {
    infusio_core::codes::ucum_of_record_unit(unit)
}

/// SNOMED CT route codes of the record's routes.
pub fn route_coding(route: &str) -> serde_json::Value {
    let (code, display) = match route.to_ascii_lowercase().as_str() {
        "iv" => ("47625008", "Intravenous route"),
        "sc" => ("34206005", "Subcutaneous route"),
        "im" => ("78421000", "Intramuscular route"),
        _ => return serde_json::json!({"text": route}),
    };
    serde_json::json!({"coding": [{"system": SNOMED, "code": code, "display": display}], "text": route})
}

/// The record's route of a SNOMED CT route code (or of a route's text).
pub fn route_from(concept: &serde_json::Value) -> Option<String> {
    let by_code = concept["coding"].as_array().and_then(|cs| {
        cs.iter()
            .find_map(|c| match (c["system"].as_str(), c["code"].as_str()) {
                (Some(SNOMED), Some("47625008")) => Some("iv"),
                (Some(SNOMED), Some("34206005")) => Some("sc"),
                (Some(SNOMED), Some("78421000")) => Some("im"),
                _ => None,
            })
    });
    by_code
        .map(str::to_string)
        .or_else(|| concept["text"].as_str().map(|t| t.trim().to_lowercase()))
}

/// A reference to a user of this installation (Practitioner is not served: the reference
/// carries the user's identifier).
pub fn user_ref(user_id: &str) -> serde_json::Value {
    serde_json::json!({"type": "Practitioner", "identifier": {"system": USER_SYSTEM, "value": user_id}})
}

/// A FHIR dateTime/instant with its zone (`Z` or `±HH:MM`) → microseconds since the epoch
/// (UTC), read by `infusio_core::time::parse_instant_strict`; fractions of a second are
/// truncated (the record keeps seconds).
pub fn parse_fhir_instant(expression: &str, text: &str) -> Result<i64, Fail> {
    let us = parse_instant_strict(expression, text).map_err(|_| {
        Fail::invalid(
            StatusCode::BAD_REQUEST,
            expression,
            text,
            STRICT_INSTANT_FORM,
        )
    })?;
    Ok(us - us.rem_euclid(US_PER_S))
}

/// The range `[start, end)` in microseconds of a FHIR date search value: `YYYY`, `YYYY-MM`,
/// `YYYY-MM-DD` or a dateTime with zone.
pub fn date_range(param: &str, text: &str) -> Result<(i64, i64), Fail> {
    const DAY: i64 = 86_400 * 1_000_000;
    let bad = || {
        Fail::bad(
            param,
            text,
            "an optional prefix (eq, ne, gt, ge, lt, le) and YYYY, YYYY-MM, YYYY-MM-DD or a dateTime with zone",
        )
    };
    if text.contains('T') {
        let at = parse_fhir_instant(param, text).map_err(|_| bad())?;
        return Ok((at, at + 1_000_000));
    }
    let parts: Vec<&str> = text.split('-').collect();
    let num = |s: &str, len: usize| {
        if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse::<i64>().ok()
        } else {
            None
        }
    };
    match parts.as_slice() {
        [y] => {
            let y = num(y, 4).ok_or_else(bad)?;
            Ok((
                days_from_civil(y, 1, 1) * DAY,
                days_from_civil(y + 1, 1, 1) * DAY,
            ))
        }
        [y, m] => {
            let (y, m) = (num(y, 4).ok_or_else(bad)?, num(m, 2).ok_or_else(bad)?);
            if !(1..=12).contains(&m) {
                return Err(bad());
            }
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            Ok((
                days_from_civil(y, m, 1) * DAY,
                days_from_civil(ny, nm, 1) * DAY,
            ))
        }
        [_, _, _] => {
            let (y, m, d) = parse_date(param, text).map_err(|_| bad())?;
            let start = days_from_civil(y, m, d) * DAY;
            Ok((start, start + DAY))
        }
        _ => Err(bad()),
    }
}

/// Whether an instant matches a FHIR date search value with its prefix.
pub fn date_matches(param: &str, value: &str, at_us: i64) -> Result<bool, Fail> {
    let (prefix, rest) = match value.get(..2) {
        Some(p @ ("eq" | "ne" | "gt" | "ge" | "lt" | "le")) => (p, &value[2..]),
        _ => ("eq", value),
    };
    let (start, end) = date_range(param, rest)?;
    Ok(match prefix {
        "eq" => at_us >= start && at_us < end,
        "ne" => !(at_us >= start && at_us < end),
        "gt" => at_us >= end,
        "ge" => at_us >= start,
        "lt" => at_us < start,
        _ => at_us < end,
    })
}

/// A token search value `system|code`, `|code`, `system|` or `code` → (system, code); `None`
/// for "any".
pub fn token(value: &str) -> (Option<&str>, Option<&str>) {
    match value.split_once('|') {
        None => (None, Some(value)),
        Some((s, c)) => (Some(s), if c.is_empty() { None } else { Some(c) }),
    }
}

pub fn iso(us: i64) -> String {
    iso_from_us(us)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_with_offsets_are_read_in_utc() {
        let z = parse_fhir_instant("x", "2026-11-26T09:00:00Z").ok();
        assert!(z.is_some());
        assert_eq!(parse_fhir_instant("x", "2026-11-26T10:00:00+01:00").ok(), z);
        assert_eq!(
            parse_fhir_instant("x", "2026-11-26T04:00:00.250-05:00").ok(),
            z
        );
        assert!(parse_fhir_instant("x", "2026-11-26T09:00:00").is_err());
        assert!(parse_fhir_instant("x", "2026-11-26").is_err());
        assert!(parse_fhir_instant("x", "2026-11-26T10:00:00+0100").is_err());
        assert!(parse_fhir_instant("x", "2026-11-26 09:00:00Z").is_err());
    }

    #[test]
    fn date_prefixes_bound_the_day() {
        let at = parse_fhir_instant("x", "2026-11-26T09:00:00Z").unwrap_or_default();
        assert_eq!(date_matches("date", "2026-11-26", at).ok(), Some(true));
        assert_eq!(date_matches("date", "gt2026-11-26", at).ok(), Some(false));
        assert_eq!(date_matches("date", "ge2026-11", at).ok(), Some(true));
        assert_eq!(date_matches("date", "lt2026", at).ok(), Some(false));
        assert_eq!(date_matches("date", "le2026-11-25", at).ok(), Some(false));
        assert!(date_matches("date", "yesterday", at).is_err());
    }
}
