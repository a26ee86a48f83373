//! Vital signs at the bedside, read with their units and plausibility ranges.
//!
//! A vital sign is stored as a number in its canonical unit (`°C`, `/min`, `mmHg`, `%`) with
//! the text as entered beside it when it was converted. A value outside the plausibility range
//! is refused naming the field, the value and the range: 98.6 in the temperature field (°C)
//! is refused, `98.6 °F` is accepted and converted to 37 °C.
//!
//! The ranges are physiological plausibility bounds chosen to catch unit and keying slips
//! (institutional, not clinical thresholds and not from a label): a value inside them may
//! still be alarming, and a clinician decides what it means.

use serde_json::{Map, Value as Json, json};

use crate::AppError;
use crate::orders::num_text;

/// One vital sign: the form field, its canonical unit, and its plausible range in that unit.
struct Vital {
    key: &'static str,
    /// The stored name, unit last; also accepted as input (a number in that unit).
    stored: &'static str,
    label: &'static str,
    unit: &'static str,
    min: f64,
    max: f64,
}

/// Plausibility ranges (institutional; see the module documentation).
const VITALS: &[Vital] = &[
    Vital {
        key: "temperature",
        stored: "temperature_c",
        label: "temperature",
        unit: "°C",
        min: 25.0,
        max: 45.0,
    },
    Vital {
        key: "heart_rate",
        stored: "heart_rate_per_min",
        label: "heart rate",
        unit: "/min",
        min: 20.0,
        max: 300.0,
    },
    Vital {
        key: "resp_rate",
        stored: "resp_rate_per_min",
        label: "respiratory rate",
        unit: "/min",
        min: 2.0,
        max: 80.0,
    },
    Vital {
        key: "spo2",
        stored: "spo2_percent",
        label: "SpO2",
        unit: "%",
        min: 50.0,
        max: 100.0,
    },
];

/// Systolic and diastolic plausibility, mmHg (institutional).
const SYSTOLIC_MMHG: (f64, f64) = (40.0, 300.0);
const DIASTOLIC_MMHG: (f64, f64) = (20.0, 200.0);

fn field(key: &str) -> String {
    format!("detail.{key}")
}

fn as_text(v: &Json) -> String {
    v.as_str()
        .map(str::to_string)
        .unwrap_or_else(|| v.to_string())
}

/// A number, or a text with the vital's unit (a temperature may be given in °F, converted).
fn read_value(v: &Vital, given: &Json) -> Result<(f64, bool), AppError> {
    let text = as_text(given);
    let bad = |why: &str| {
        AppError::invalid(
            field(v.key),
            text.clone(),
            format!(
                "{why}; expected the {} in {} from {} to {}{}",
                v.label,
                v.unit,
                num_text(v.min),
                num_text(v.max),
                if v.key == "temperature" {
                    " (or with an explicit unit, e.g. '98.6 °F')"
                } else {
                    ""
                }
            ),
        )
    };
    if let Some(n) = given.as_f64() {
        return Ok((n, false));
    }
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')) {
        Some(i) => (t[..i].trim(), t[i..].trim()),
        None => (t, ""),
    };
    let n: f64 = number.parse().map_err(|_| bad("not a number"))?;
    let unit = unit.trim_start_matches('°').trim().to_ascii_lowercase();
    match (v.key, unit.as_str()) {
        (_, "") => Ok((n, false)),
        ("temperature", "c") => Ok((n, false)),
        ("temperature", "f") => Ok(((n - 32.0) * 5.0 / 9.0, true)),
        (_, u) if u == v.unit.to_ascii_lowercase() || (v.unit == "/min" && u == "bpm") => {
            Ok((n, false))
        }
        _ => Err(bad("unknown unit")),
    }
}

/// Reads a vitals event's `detail`: each known vital checked against its range and stored
/// in its canonical unit (`temperature_c`, `heart_rate_per_min`, `resp_rate_per_min`,
/// `spo2_percent`, `systolic_mmhg` / `diastolic_mmhg` from `bp` as `120/80`), with the text
/// as entered under `<key>_as_entered` when converted. Other keys are kept as given.
pub(crate) fn read_vitals(detail: &Json) -> Result<Json, AppError> {
    let Some(given) = detail.as_object() else {
        return Err(AppError::invalid(
            "detail",
            as_text(detail),
            "an object of vital signs, e.g. {\"temperature\": \"36.8 °C\"}",
        ));
    };
    let mut out = Map::new();
    let mut any = false;
    for (k, value) in given {
        if let Some(v) = VITALS.iter().find(|v| v.key == k || v.stored == k) {
            if value.as_str().is_some_and(|s| s.trim().is_empty()) {
                continue;
            }
            let (n, converted) = if k == v.stored {
                let n = value.as_f64().ok_or_else(|| {
                    AppError::invalid(field(k), as_text(value), format!("a number of {}", v.unit))
                })?;
                (n, false)
            } else {
                read_value(v, value)?
            };
            if !(v.min..=v.max).contains(&n) {
                return Err(AppError::invalid(
                    field(k),
                    as_text(value),
                    format!(
                        "outside the plausible {} range of {} to {} {}{}",
                        v.label,
                        num_text(v.min),
                        num_text(v.max),
                        v.unit,
                        if converted {
                            format!(" (converted: {} {})", num_text(n), v.unit)
                        } else {
                            String::new()
                        }
                    ),
                ));
            }
            let rounded = (n * 10.0).round() / 10.0;
            out.insert(v.stored.into(), json!(rounded));
            if converted {
                out.insert(format!("{k}_as_entered"), json!(as_text(value)));
            }
            any = true;
        } else if let Some((lo, hi)) = match k.as_str() {
            "systolic_mmhg" => Some(SYSTOLIC_MMHG),
            "diastolic_mmhg" => Some(DIASTOLIC_MMHG),
            _ => None,
        } {
            let n = value
                .as_f64()
                .ok_or_else(|| AppError::invalid(field(k), as_text(value), "a number of mmHg"))?;
            if !(lo..=hi).contains(&n) {
                return Err(AppError::invalid(
                    field(k),
                    as_text(value),
                    format!(
                        "outside the plausible range of {} to {} mmHg",
                        num_text(lo),
                        num_text(hi)
                    ),
                ));
            }
            out.insert(k.clone(), json!(n));
            any = true;
        } else if k == "bp" {
            if value.as_str().is_some_and(|s| s.trim().is_empty()) {
                continue;
            }
            let (sys, dia) = read_bp(value)?;
            out.insert("systolic_mmhg".into(), json!(sys));
            out.insert("diastolic_mmhg".into(), json!(dia));
            any = true;
        } else {
            out.insert(k.clone(), value.clone());
        }
    }
    if !any {
        return Err(AppError::invalid(
            "detail",
            as_text(detail),
            "at least one vital sign: bp, heart_rate, temperature, resp_rate or spo2",
        ));
    }
    Ok(Json::Object(out))
}

/// `120/80` (mmHg): systolic within its range, diastolic within its range and below it.
fn read_bp(value: &Json) -> Result<(f64, f64), AppError> {
    let text = as_text(value);
    let bad = |why: String| AppError::invalid(field("bp"), text.clone(), why);
    let t = text.trim().trim_end_matches("mmHg").trim();
    let (s, d) = t
        .split_once('/')
        .ok_or_else(|| bad("expected systolic/diastolic in mmHg, e.g. '120/80'".into()))?;
    let parse = |x: &str| x.trim().parse::<f64>().ok();
    let (Some(s), Some(d)) = (parse(s), parse(d)) else {
        return Err(bad(
            "expected systolic/diastolic in mmHg, e.g. '120/80'".into()
        ));
    };
    let range = |what: &str, v: f64, (lo, hi): (f64, f64)| {
        if (lo..=hi).contains(&v) {
            Ok(())
        } else {
            Err(bad(format!(
                "{what} {} mmHg is outside the plausible range of {} to {} mmHg",
                num_text(v),
                num_text(lo),
                num_text(hi)
            )))
        }
    };
    range("systolic", s, SYSTOLIC_MMHG)?;
    range("diastolic", d, DIASTOLIC_MMHG)?;
    if d >= s {
        return Err(bad(
            "the diastolic pressure must be below the systolic".into()
        ));
    }
    Ok((s, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(r: Result<Json, AppError>) -> String {
        match r {
            Err(AppError::Invalid(e)) => format!("{}|{}|{}", e.field, e.value, e.message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fahrenheit_in_the_celsius_field_is_refused_naming_field_and_range() {
        let e = field_of(read_vitals(&json!({"temperature": "98.6"})));
        assert!(e.starts_with("detail.temperature|98.6|"), "{e}");
        assert!(e.contains("25 to 45 °C"), "{e}");
    }

    #[test]
    fn the_stored_names_are_read_as_numbers_in_their_unit() {
        let e = field_of(read_vitals(&json!({"temperature_c": 98.6})));
        assert!(e.starts_with("detail.temperature_c|98.6|"), "{e}");
        let ok = read_vitals(&json!({"heart_rate_per_min": 72, "systolic_mmhg": 118})).expect("ok");
        assert_eq!(ok["systolic_mmhg"], json!(118.0));
    }

    #[test]
    fn an_explicit_fahrenheit_unit_is_converted() {
        let v = read_vitals(&json!({"temperature": "98.6 °F", "heart_rate": "72"})).expect("ok");
        assert_eq!(v["temperature_c"], json!(37.0));
        assert_eq!(v["temperature_as_entered"], json!("98.6 °F"));
        assert_eq!(v["heart_rate_per_min"], json!(72.0));
    }

    #[test]
    fn each_vital_has_its_range() {
        for (k, bad) in [
            ("heart_rate", "720"),
            ("resp_rate", "160"),
            ("spo2", "980"),
            ("temperature", "3.7"),
            ("bp", "80/120"),
            ("bp", "1200/80"),
            ("bp", "high"),
        ] {
            let e = field_of(read_vitals(&json!({ k: bad })));
            assert!(e.starts_with(&format!("detail.{k}|{bad}|")), "{e}");
        }
        let ok = read_vitals(&json!({"bp": "120/80", "spo2": 98, "temperature": "36.8 °C"}))
            .expect("standard");
        assert_eq!(ok["systolic_mmhg"], json!(120.0));
        assert_eq!(ok["temperature_c"], json!(36.8));
    }

    #[test]
    fn an_empty_vitals_event_is_refused() {
        assert!(field_of(read_vitals(&json!({}))).starts_with("detail|"));
        assert!(field_of(read_vitals(&json!({"temperature": ""}))).starts_with("detail|"));
    }
}
