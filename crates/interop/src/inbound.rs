//! Inbound messages, typed: ADT A01/A04/A08 (demographics with weight and height) and
//! ORU^R01 (lab results by LOINC), and IHE PCD-01 pump events (see [`crate::pcd`]).
//!
//! Reading is all or nothing: a message is either fully understood (every OBX mapped to a
//! known code, every unit known to the core's parser, every value in range, every instant
//! with its UTC offset) or refused with the problems found, so that a receiver never applies
//! half a message.

use infusio_core::units::{BodyWeight, Length, parse_quantity};

use crate::ack::{AckCode, ErrorCondition as E, Problem};
use crate::codes::{Target, core_unit, loinc_target, parse_nm};
use crate::hl7::{Header, Message, Segment, offset_minutes, parse_date, parse_instant};
use crate::pcd::{PumpEvent, read_pump_event};

/// A message this interface reads, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Adt(Adt),
    Labs(LabReport),
    Pump(PumpEvent),
}

/// Why a message was not read: the acknowledgement code it earns and the problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: AckCode,
    pub problems: Vec<Problem>,
}

impl Refusal {
    fn reject(p: Problem) -> Refusal {
        Refusal {
            code: AckCode::Reject,
            problems: vec![p],
        }
    }
}

/// Patient demographics from PID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demographics {
    /// PID-3, the repetition whose identifier type (CX-5) is `MR`, else the first.
    pub mrn: String,
    pub family_name: String,
    pub given_name: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// female | male | other | unknown (from HL7 table 0001).
    pub sex: String,
}

/// One observation mapped to the record, with its value already in the record's unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// OBX-3.1 (LOINC).
    pub loinc: String,
    pub target: Target,
    /// The value converted by `infusio-core` to the target's canonical unit.
    pub value: f64,
    /// That unit (`kg`, `cm`, or the lab's unit).
    pub unit: &'static str,
    /// The value and unit as sent, e.g. `"106 umol/L"`.
    pub as_given: String,
    /// When it was observed (OBX-14, else OBR-7 for labs, else EVN-6/EVN-2 for ADT), µs UTC.
    pub observed_at_us: i64,
    /// OBX-11: `F` (final) or `C` (corrected).
    pub status: String,
}

/// ADT A01 (admit), A04 (register) or A08 (update) with its observations.
#[derive(Debug, Clone, PartialEq)]
pub struct Adt {
    pub event: String,
    pub patient: Demographics,
    pub observations: Vec<Observation>,
}

/// ORU^R01 lab results for one patient.
#[derive(Debug, Clone, PartialEq)]
pub struct LabReport {
    pub mrn: String,
    pub observations: Vec<Observation>,
}

/// Reads a parsed message: its header checks (version 2.x, processing id P/D/T, MSH-10
/// present), its type, and its content. The header is returned with the result so that the
/// caller can acknowledge either way.
pub fn read(m: &Message) -> (Header, Result<Inbound, Refusal>) {
    let h = m.header();
    (h.clone(), read_with(m, &h))
}

fn read_with(m: &Message, h: &Header) -> Result<Inbound, Refusal> {
    if h.control_id.is_empty() {
        return Err(Refusal::reject(
            Problem::new(
                E::RequiredFieldMissing,
                "MSH-10 (message control id) is empty",
            )
            .at("MSH", 1, 10),
        ));
    }
    if h.sending_application.is_empty() {
        return Err(Refusal::reject(
            Problem::new(
                E::RequiredFieldMissing,
                "MSH-3 (sending application) is empty",
            )
            .at("MSH", 1, 3),
        ));
    }
    if !h.version.starts_with("2.") {
        return Err(Refusal::reject(
            Problem::new(
                E::UnsupportedVersionId,
                format!(
                    "MSH-12 version {:?}: HL7 v2.x is read (2.5 to 2.6 structures)",
                    h.version
                ),
            )
            .at("MSH", 1, 12),
        ));
    }
    // Training (T) and debugging (D) messages must not reach a patient's record.
    if h.processing_id != "P" {
        return Err(Refusal::reject(
            Problem::new(
                E::UnsupportedProcessingId,
                format!(
                    "MSH-11 processing id {:?}: this interface applies production (P) messages only",
                    h.processing_id
                ),
            )
            .at("MSH", 1, 11),
        ));
    }
    let default_offset = offset_minutes(&h.timestamp);
    match (h.message_code.as_str(), h.trigger_event.as_str()) {
        ("ADT", "A01" | "A04" | "A08") => {
            read_adt(m, &h.trigger_event, default_offset).map(Inbound::Adt)
        }
        ("ADT", other) => Err(Refusal::reject(
            Problem::new(
                E::UnsupportedEventCode,
                format!("ADT^{other} is not read; ADT^A01, A04 and A08 are"),
            )
            .at("MSH", 1, 9),
        )),
        ("ORU", "R01") if is_device_message(m) => {
            read_pump_event(m, default_offset).map(Inbound::Pump)
        }
        ("ORU", "R01") => read_labs(m, default_offset).map(Inbound::Labs),
        ("ORU", other) => Err(Refusal::reject(
            Problem::new(
                E::UnsupportedEventCode,
                format!("ORU^{other} is not read; ORU^R01 is"),
            )
            .at("MSH", 1, 9),
        )),
        (code, event) => Err(Refusal::reject(
            Problem::new(
                E::UnsupportedMessageType,
                format!("{code}^{event} is not read; ADT^A01/A04/A08 and ORU^R01 are"),
            )
            .at("MSH", 1, 9),
        )),
    }
}

/// A device (IHE PCD) message: MSH-21 names an IHE PCD profile or an OBX is coded in the
/// device nomenclature (MDC).
fn is_device_message(m: &Message) -> bool {
    let Some(msh) = m.segments.first() else {
        return false;
    };
    (0..m.repetitions(msh, 21)).any(|r| m.get(msh, 21, r, 2) == "IHE PCD")
        || m.all("OBX").any(|o| m.get(o, 3, 0, 3) == "MDC")
}

/// The 1-based position of a segment among the segments of its name.
fn sequence(m: &Message, seg: &Segment) -> usize {
    m.all(&seg.name)
        .position(|s| std::ptr::eq(s, seg))
        .map_or(1, |i| i + 1)
}

pub(crate) fn demographics(m: &Message) -> Result<Demographics, Vec<Problem>> {
    let Some(pid) = m.segment("PID") else {
        return Err(vec![Problem::new(
            E::SegmentSequence,
            "the message has no PID segment",
        )]);
    };
    let mut problems = Vec::new();
    let reps = m.repetitions(pid, 3);
    let mr = (0..reps)
        .find(|&r| m.get(pid, 3, r, 5) == "MR")
        .unwrap_or(0);
    let mrn = m.get(pid, 3, mr, 1).trim().to_string();
    if mrn.is_empty() || mrn.len() > 200 {
        problems.push(
            Problem::new(
                E::RequiredFieldMissing,
                "PID-3 holds no medical record number",
            )
            .at("PID", 1, 3),
        );
    }
    let family_name = m.get(pid, 5, 0, 1).trim().to_string();
    let given_name = m.get(pid, 5, 0, 2).trim().to_string();
    let birth_raw = m.get(pid, 7, 0, 1);
    let birth_date = parse_date(&birth_raw).unwrap_or_default();
    let sex = match m.get(pid, 8, 0, 1).as_str() {
        "F" => "female",
        "M" => "male",
        "O" | "A" | "N" => "other",
        "U" | "" => "unknown",
        other => {
            problems.push(
                Problem::new(
                    E::TableValueNotFound,
                    format!("PID-8 sex {other:?}: F, M, O, A, N or U (HL7 table 0001)"),
                )
                .at("PID", 1, 8),
            );
            "unknown"
        }
    }
    .to_string();
    if problems.is_empty() {
        Ok(Demographics {
            mrn,
            family_name,
            given_name,
            birth_date: if birth_raw.is_empty() {
                String::new()
            } else {
                birth_date
            },
            sex,
        })
        .and_then(|d| {
            if !birth_raw.is_empty() && d.birth_date.is_empty() {
                Err(vec![
                    Problem::new(
                        E::DataTypeError,
                        format!("PID-7 birth date {birth_raw:?} is not YYYYMMDD"),
                    )
                    .at("PID", 1, 7),
                ])
            } else {
                Ok(d)
            }
        })
    } else {
        Err(problems)
    }
}

fn read_adt(m: &Message, event: &str, default_offset: Option<i64>) -> Result<Adt, Refusal> {
    let mut problems = Vec::new();
    let patient = match demographics(m) {
        Ok(d) => Some(d),
        Err(p) => {
            problems.extend(p);
            None
        }
    };
    if let Some(p) = &patient {
        for (field, value, what) in [
            (5, &p.family_name, "family name (PID-5.1)"),
            (5, &p.given_name, "given name (PID-5.2)"),
            (7, &p.birth_date, "birth date"),
        ] {
            if value.is_empty() {
                problems.push(
                    Problem::new(
                        E::RequiredFieldMissing,
                        format!("PID-{field}: the {what} is required to register a patient"),
                    )
                    .at("PID", 1, field),
                );
            }
        }
    }
    let evn = m.segment("EVN");
    let fallback = evn.map(|e| {
        let occurred = m.get(e, 6, 0, 1);
        if occurred.is_empty() {
            m.get(e, 2, 0, 1)
        } else {
            occurred
        }
    });
    let observations = observations(
        m,
        fallback.as_deref(),
        "EVN-6 or EVN-2",
        default_offset,
        &mut problems,
    );
    match patient {
        Some(patient) if problems.is_empty() => Ok(Adt {
            event: event.to_string(),
            patient,
            observations,
        }),
        _ => Err(Refusal {
            code: AckCode::Error,
            problems,
        }),
    }
}

fn read_labs(m: &Message, default_offset: Option<i64>) -> Result<LabReport, Refusal> {
    let mut problems = Vec::new();
    let mrn = match m.segment("PID") {
        None => {
            problems.push(Problem::new(
                E::SegmentSequence,
                "the message has no PID segment",
            ));
            String::new()
        }
        Some(pid) => {
            let reps = m.repetitions(pid, 3);
            let mr = (0..reps)
                .find(|&r| m.get(pid, 3, r, 5) == "MR")
                .unwrap_or(0);
            let mrn = m.get(pid, 3, mr, 1).trim().to_string();
            if mrn.is_empty() {
                problems.push(
                    Problem::new(
                        E::RequiredFieldMissing,
                        "PID-3 holds no medical record number",
                    )
                    .at("PID", 1, 3),
                );
            }
            mrn
        }
    };
    if m.segment("OBR").is_none() {
        problems.push(Problem::new(
            E::SegmentSequence,
            "ORU^R01 has no OBR segment",
        ));
    }
    // Each OBX takes OBR-7 of the OBR it follows.
    let observations = observations(m, None, "OBR-7", default_offset, &mut problems);
    if observations.is_empty() && problems.is_empty() {
        problems.push(Problem::new(
            E::SegmentSequence,
            "ORU^R01 holds no OBX result",
        ));
    }
    if problems.is_empty() {
        Ok(LabReport { mrn, observations })
    } else {
        Err(Refusal {
            code: AckCode::Error,
            problems,
        })
    }
}

/// Reads every OBX. The time of each is OBX-14, else the OBR-7 of the OBR before it, else
/// `fallback_time`.
fn observations(
    m: &Message,
    fallback_time: Option<&str>,
    fallback_name: &str,
    default_offset: Option<i64>,
    problems: &mut Vec<Problem>,
) -> Vec<Observation> {
    let mut out = Vec::new();
    let mut obr_time: Option<String> = None;
    for seg in &m.segments {
        if seg.name == "OBR" {
            obr_time = Some(m.get(seg, 7, 0, 1)).filter(|t| !t.is_empty());
            continue;
        }
        if seg.name != "OBX" {
            continue;
        }
        let time = ObxTime {
            obr_time: obr_time.as_deref(),
            fallback_time,
            fallback_name,
            default_offset,
        };
        if let Some(o) = observation(m, seg, time, problems) {
            out.push(o);
        }
    }
    out
}

/// Where an OBX's time comes from when OBX-14 is empty.
#[derive(Clone, Copy)]
struct ObxTime<'a> {
    /// OBR-7 of the OBR before the OBX, if any.
    obr_time: Option<&'a str>,
    fallback_time: Option<&'a str>,
    fallback_name: &'a str,
    default_offset: Option<i64>,
}

/// One OBX: a mapped LOINC code, a final or corrected status, a numeric value in a mapped
/// unit, and a time. Anything else is a problem and no observation.
fn observation(
    m: &Message,
    seg: &Segment,
    time: ObxTime,
    problems: &mut Vec<Problem>,
) -> Option<Observation> {
    let n = sequence(m, seg);
    let code = m.get(seg, 3, 0, 1);
    let system = m.get(seg, 3, 0, 3);
    let target = if system.is_empty() || system == "LN" {
        loinc_target(&code)
    } else {
        None
    };
    let Some(target) = target else {
        problems.push(
            Problem::new(
                E::TableValueNotFound,
                format!(
                    "OBX-3 {code}^{}^{system}: not a LOINC code this interface maps (weights, heights and the labs the dose checks read); nothing of this message was recorded",
                    m.get(seg, 3, 0, 2)
                ),
            )
            .at("OBX", n, 3),
        );
        return None;
    };
    let status = m.get(seg, 11, 0, 1);
    if !matches!(status.as_str(), "F" | "C") {
        problems.push(
            Problem::new(E::TableValueNotFound, format!("OBX-11 result status {status:?}: only final (F) or corrected (C) results are recorded"))
                .at("OBX", n, 11),
        );
        return None;
    }
    let (value, unit, as_given) = obx_value(m, seg, n, target, problems)?;
    let observed_at_us = obx_time(m, seg, n, time, problems)?;
    Some(Observation {
        loinc: code,
        target,
        value,
        unit,
        as_given,
        observed_at_us,
        status,
    })
}

/// OBX-5 (numeric) in the OBX-6 unit, converted to the target's unit and range: the value,
/// that unit and the value as given.
fn obx_value(
    m: &Message,
    seg: &Segment,
    n: usize,
    target: Target,
    problems: &mut Vec<Problem>,
) -> Option<(f64, &'static str, String)> {
    let at = |field: usize, msg: String| Problem::new(E::DataTypeError, msg).at("OBX", n, field);
    let value_type = m.get(seg, 2, 0, 1);
    let raw = m.get(seg, 5, 0, 1);
    let Some(number) = (value_type == "NM").then(|| parse_nm(&raw)).flatten() else {
        problems.push(at(
            5,
            format!("OBX-2/OBX-5 {value_type}/{raw:?}: a numeric (NM) value is needed"),
        ));
        return None;
    };
    let unit_code = m.get(seg, 6, 0, 1);
    let Some(unit) = core_unit(&unit_code) else {
        problems.push(
            Problem::new(
                E::TableValueNotFound,
                format!("OBX-6 unit {unit_code:?} is not a UCUM unit this interface maps"),
            )
            .at("OBX", n, 6),
        );
        return None;
    };
    let as_given = format!("{raw} {unit_code}");
    let quantity_text = format!("{number} {unit}");
    let converted = match target {
        Target::Weight => parse_quantity(&quantity_text)
            .map_err(|e| e.to_string())
            .and_then(|q| BodyWeight::from_quantity(&q).map_err(|e| e.to_string()))
            .map(|w| w.value())
            .and_then(|v| in_range(v, 0.3, 500.0, "kg")),
        Target::Height => parse_quantity(&quantity_text)
            .map_err(|e| e.to_string())
            .and_then(|q| Length::from_quantity(&q).map_err(|e| e.to_string()))
            .map(|h| h.value())
            .and_then(|v| in_range(v, 20.0, 260.0, "cm")),
        Target::Lab(name) => infusio_core::check::lab_value(name, &quantity_text),
    };
    let value = match converted {
        Ok(v) => v,
        Err(e) => {
            problems.push(at(5, format!("OBX-5/OBX-6 {as_given}: {e}")));
            return None;
        }
    };
    let unit = match target {
        Target::Weight => "kg",
        Target::Height => "cm",
        Target::Lab(name) => infusio_core::check::lab_unit(name).unwrap_or(""),
    };
    Some((value, unit, as_given))
}

/// The OBX's time in epoch microseconds: OBX-14, else OBR-7, else the fallback.
fn obx_time(
    m: &Message,
    seg: &Segment,
    n: usize,
    time: ObxTime,
    problems: &mut Vec<Problem>,
) -> Option<i64> {
    let own = m.get(seg, 14, 0, 1);
    let (time_text, from) = if !own.is_empty() {
        (Some(own), "OBX-14")
    } else if let Some(t) = time.obr_time {
        (Some(t.to_string()), "OBR-7")
    } else {
        (
            time.fallback_time
                .map(str::to_string)
                .filter(|t| !t.is_empty()),
            time.fallback_name,
        )
    };
    let Some(time_text) = time_text else {
        problems.push(
            Problem::new(
                E::RequiredFieldMissing,
                format!(
                    "OBX-14: no observation time (OBX-14, OBR-7 or {})",
                    time.fallback_name
                ),
            )
            .at("OBX", n, 14),
        );
        return None;
    };
    match parse_instant(&time_text, time.default_offset) {
        Ok(i) => Some(i.epoch_us),
        Err(e) => {
            problems.push(Problem::new(E::DataTypeError, format!("{from}: {e}")).at("OBX", n, 14));
            None
        }
    }
}

fn in_range(v: f64, lo: f64, hi: f64, unit: &str) -> Result<f64, String> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} {unit} is outside {lo} to {hi} {unit}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Message {
        Message::parse(text).expect("parses")
    }

    const A04: &str = "MSH|^~\\&|ADT|HOSP|INFUSIO|CLINIC|20261126101500+0100||ADT^A04^ADT_A01|A1|P|2.6\rEVN|A04|20261126101500+0100\rPID|1||X9^^^OTHER^PI~M55^^^HOSP^MR||Nguyen^Linh||19600315|F\rPV1|1|O\rOBX|1|NM|29463-7^Body weight^LN||154|[lb_av]^pound^UCUM|||||F\rOBX|2|NM|8302-2^Body height^LN||170|cm|||||F|||202611260900+0100\r";

    #[test]
    fn adt_a04_reads_demographics_and_converts_weight() {
        let (h, r) = read(&parse(A04));
        assert_eq!(h.control_id, "A1");
        let Ok(Inbound::Adt(a)) = r else {
            panic!("{r:?}")
        };
        assert_eq!(a.event, "A04");
        assert_eq!(a.patient.mrn, "M55");
        assert_eq!(a.patient.birth_date, "1960-03-15");
        assert_eq!(a.patient.sex, "female");
        assert_eq!(a.observations.len(), 2);
        let w = &a.observations[0];
        assert_eq!((w.target, w.unit), (Target::Weight, "kg"));
        assert!((w.value - 69.853_225).abs() < 1e-5, "{}", w.value);
        // No OBX-14: EVN-2, 10:15 at +01:00.
        assert_eq!(
            w.observed_at_us,
            crate::hl7::parse_instant("20261126091500+0000", None)
                .map(|i| i.epoch_us)
                .unwrap_or(0)
        );
        assert_eq!(a.observations[1].target, Target::Height);
    }

    #[test]
    fn oru_reads_creatinine_in_umol_per_l() {
        let text = "MSH|^~\\&|LAB|HOSP|INFUSIO|CLINIC|20261126101500+0000||ORU^R01^ORU_R01|L1|P|2.6\rPID|1||M55^^^HOSP^MR\rOBR|1||F1|24323-8^Panel^LN|||202611260800+0000\rOBX|1|NM|14682-9^Creatinine^LN||106|umol/L|||||F\r";
        let (_, r) = read(&parse(text));
        let Ok(Inbound::Labs(l)) = r else {
            panic!("{r:?}")
        };
        assert_eq!(l.mrn, "M55");
        let o = &l.observations[0];
        assert_eq!(o.target, Target::Lab("serum_creatinine"));
        assert!((o.value - 106.0 / 88.4).abs() < 1e-3, "{}", o.value);
        assert_eq!(o.unit, "mg/dL");
    }

    #[test]
    fn unknown_codes_units_and_times_refuse_the_whole_message() {
        let base = "MSH|^~\\&|LAB|HOSP|INFUSIO|CLINIC|20261126101500||ORU^R01^ORU_R01|L2|P|2.6\rPID|1||M55\rOBR|1|||X|||202611260800\r";
        for (obx, field) in [
            ("OBX|1|NM|99999-9^Mystery^LN||1|mg/dL|||||F", 3),
            ("OBX|1|NM|2160-0^Creat^LN||1|mg/dl|||||F", 6),
            ("OBX|1|NM|2160-0^Creat^LN||<0.2|mg/dL|||||F", 5),
            ("OBX|1|NM|2160-0^Creat^LN||1|mg/dL|||||P", 11),
            ("OBX|1|NM|2160-0^Creat^LN||1|mg/dL|||||F", 14),
        ] {
            let (_, r) = read(&parse(&format!("{base}{obx}\r")));
            let Err(refusal) = r else {
                panic!("{obx}: {r:?}")
            };
            assert_eq!(refusal.code, AckCode::Error, "{obx}");
            assert_eq!(
                refusal.problems[0].location.as_ref().map(|l| l.2),
                Some(field),
                "{obx}: {:?}",
                refusal.problems
            );
        }
    }

    #[test]
    fn unsupported_types_are_rejected() {
        for (msh9, msh12, msh11) in [
            ("ADT^A03", "2.6", "P"),
            ("SIU^S12", "2.6", "P"),
            ("ORU^R01", "3.0", "P"),
            ("ORU^R01", "2.6", "X"),
            ("ORU^R01", "2.6", "T"),
        ] {
            let text =
                format!("MSH|^~\\&|A|B|C|D|20261126101500+0000||{msh9}|C1|{msh11}|{msh12}\r");
            let (_, r) = read(&parse(&text));
            assert_eq!(
                r.map_err(|e| e.code),
                Err(AckCode::Reject),
                "{msh9} {msh12} {msh11}"
            );
        }
    }
}
