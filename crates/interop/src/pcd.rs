//! Infusion pumps, IHE Patient Care Device (PCD) profiles:
//! - PCD-03 (Point-of-care Infusion Verification, PIV): `RGV^O15` carries a verified order's
//!   pump programme to the pump; the pump answers `RRG^O16` (accepted or refused).
//! - PCD-01 (Communicate PCD Data) `ORU^R01` carries what the pump did back: started, rate
//!   changed, paused, resumed, completed, with the rate and the volume infused.
//!
//! Choices (IHE PCD Technical Framework vol. 2; codes by reference id of ISO/IEEE 11073-10101):
//! - Units are sent as UCUM codes (`mL`, `mL/h`, `mg`, `kg`); MDC unit reference ids are
//!   accepted on input. Observation identifiers carry the MDC reference id in CWE.2 with
//!   system `MDC`; the numeric MDC code (CWE.1) is left empty because this code base holds no
//!   verified copy of the nomenclature tables, and readers match on the reference id.
//! - A multistep programme is one `RXG` give group per step (RXG-1 = step number), each with
//!   its `RXR`; the drug amount and volume of the bag go in RXG-17/18 and RXG-23/24, VTBI in
//!   RXG-5/7 and the rate in RXG-15/16.
//! - The ordered dose and the care area travel as OBX with the local coding system
//!   `INFUSIO` (the profile leaves them to the site's drug library on the pump), the
//!   patient's weight as `MDC_ATTR_PT_WEIGHT`.
//! - Pump events: one event per `ORU^R01`, named by the OBX whose CWE.2 is one of
//!   [`EVENT_CODES`]; OBR-2 holds the order id from the programme's ORC-2, ORC-4 the
//!   administration id.

use crate::ack::{AckCode, ErrorCondition as E, Problem, Sender, msh};
use crate::codes::{core_unit, parse_nm};
use crate::hl7::{
    Field, Message, MessageBuilder, Segment, SegmentBuilder, format_instant, parse_instant,
};
use crate::inbound::Refusal;
use infusio_core::codes::{record_unit_from_ucum, ucum_of_record_unit};

/// MSH-21 of PCD-03 messages.
pub const PROFILE_PIV: [&str; 3] = ["IHE_PCD_PIV_001", "IHE PCD", "1.3.6.1.4.1.19376.1.6.1.3.1"];
/// MSH-21 of PCD-01 messages.
pub const PROFILE_DEC: [&str; 3] = ["IHE_PCD_001", "IHE PCD", "1.3.6.1.4.1.19376.1.6.1.1.1"];

/// The pump events read and written, by MDC reference id.
pub const EVENT_CODES: &[(&str, PumpEventKind)] = &[
    ("MDC_EVT_PUMP_DELIV_START", PumpEventKind::Started),
    ("MDC_EVT_PUMP_RATE_CHANGE", PumpEventKind::RateChanged),
    ("MDC_EVT_PUMP_DELIV_STOP", PumpEventKind::Paused),
    ("MDC_EVT_PUMP_DELIV_RESUME", PumpEventKind::Resumed),
    ("MDC_EVT_PUMP_DELIV_COMP", PumpEventKind::Completed),
];
const RATE: &str = "MDC_FLOW_FLUID_PUMP";
const VOLUME_DELIVERED: &str = "MDC_VOL_FLUID_DELIV";

/// One step of a pump programme.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgrammeStep {
    pub rate_ml_per_h: f64,
    pub vtbi_ml: f64,
}

/// A verified order's programme for the pump, as PCD-03 carries it.
#[derive(Debug, Clone, PartialEq)]
pub struct PumpProgramme {
    pub order_id: String,
    pub administration_id: String,
    pub mrn: String,
    pub family_name: String,
    pub given_name: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// The drug library id and the name shown on the pump.
    pub drug_id: String,
    pub drug_name: String,
    /// The ordered dose and its unit (e.g. 1000 and `mg`).
    pub dose_amount: f64,
    pub dose_unit: String,
    /// Drug amount in the bag (in `dose_unit`) and the bag's volume: the concentration.
    pub bag_amount: f64,
    pub bag_volume_ml: f64,
    pub steps: Vec<ProgrammeStep>,
    pub care_area: String,
    pub weight_kg: Option<f64>,
}

fn num(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

/// A CWE unit: the UCUM code, the record's spelling as text, the coding system.
fn ucum(unit: &str) -> Field {
    Field::components(&[&ucum_of_record_unit(unit), unit, "UCUM"])
}

/// Builds the PCD-03 `RGV^O15` for a programme. `pump` is the receiving application (the
/// pump or its gateway).
pub fn build_rgv_o15(
    sender: &Sender,
    pump: &str,
    p: &PumpProgramme,
    control_id: &str,
    now_us: i64,
) -> String {
    let mut b = MessageBuilder::new(msh(
        sender,
        (pump, ""),
        ["RGV", "O15", "RGV_O15"],
        control_id,
        "P",
        now_us,
        Some(PROFILE_PIV),
    ))
    .push(
        SegmentBuilder::new("PID")
            .comps(3, &[&p.mrn, "", "", "", "MR"])
            .comps(5, &[&p.family_name, &p.given_name])
            .text(7, p.birth_date.replace('-', "")),
    )
    .push(
        SegmentBuilder::new("PV1")
            .text(2, "O")
            .text(3, p.care_area.clone()),
    )
    .push(
        SegmentBuilder::new("ORC")
            .text(1, "RE")
            .comps(2, &[&p.order_id, "INFUSIO"])
            .comps(4, &[&p.administration_id, "INFUSIO"]),
    );
    for (i, step) in p.steps.iter().enumerate() {
        let n = i + 1;
        b = b
            .push(
                SegmentBuilder::new("RXG")
                    .text(1, n.to_string())
                    .comps(4, &[&p.drug_id, &p.drug_name, "INFUSIO"])
                    .text(5, num(step.vtbi_ml))
                    .set(7, ucum("mL"))
                    .text(15, num(step.rate_ml_per_h))
                    .set(16, ucum("mL/h"))
                    .text(17, num(p.bag_amount))
                    .set(18, ucum(&p.dose_unit))
                    .text(23, num(p.bag_volume_ml))
                    .set(24, ucum("mL")),
            )
            .push(
                SegmentBuilder::new("TQ1")
                    .text(1, "1")
                    .text(7, format_instant(now_us)),
            )
            .push(SegmentBuilder::new("RXR").comps(1, &["IV", "Intravenous", "HL70162"]));
        let mut k = 0;
        let mut obx = |code: [&str; 3], kind: &str, value: String, unit: Option<&str>| {
            k += 1;
            let mut s = SegmentBuilder::new("OBX")
                .text(1, k.to_string())
                .text(2, kind)
                .comps(3, &code)
                .text(4, format!("{n}.0.0.{k}"))
                .text(5, value)
                .text(11, "F");
            if let Some(u) = unit {
                s = s.set(6, ucum(u));
            }
            s
        };
        let mut segs = vec![
            obx(
                ["dose", "Dose ordered", "INFUSIO"],
                "NM",
                num(p.dose_amount),
                Some(&p.dose_unit),
            ),
            obx(
                ["care_area", "Care area", "INFUSIO"],
                "ST",
                p.care_area.clone(),
                None,
            ),
        ];
        if let Some(w) = p.weight_kg {
            segs.push(obx(
                ["", "MDC_ATTR_PT_WEIGHT", "MDC"],
                "NM",
                num(w),
                Some("kg"),
            ));
        }
        for s in segs {
            b = b.push(s);
        }
    }
    b.encode()
}

/// The drug of the first give segment: id, name, bag amount, its unit, bag volume (mL).
type BagDrug = (String, String, f64, String, f64);

/// The RXG give segments of an `RGV^O15`: one pump step each, and the drug and bag of the
/// first.
fn read_gives(m: &Message) -> Result<(Vec<ProgrammeStep>, BagDrug), Refusal> {
    let err = |p: Problem| Refusal {
        code: AckCode::Error,
        problems: vec![p],
    };
    let mut steps = Vec::new();
    let mut first: Option<BagDrug> = None;
    for (i, rxg) in m.all("RXG").enumerate() {
        let n = i + 1;
        let number = |field: usize, what: &str| {
            parse_nm(&m.get(rxg, field, 0, 1))
                .filter(|v| *v >= 0.0)
                .ok_or_else(|| {
                    err(Problem::new(
                        E::DataTypeError,
                        format!(
                            "RXG-{field} ({what}) {:?} is not a number ≥ 0",
                            m.get(rxg, field, 0, 1)
                        ),
                    )
                    .at("RXG", n, field))
                })
        };
        let unit = |field: usize, want: &str| {
            let u = m.get(rxg, field, 0, 1);
            if core_unit(&u) == Some(want) {
                Ok(())
            } else {
                Err(err(Problem::new(
                    E::TableValueNotFound,
                    format!("RXG-{field} unit {u:?}: {want} expected"),
                )
                .at("RXG", n, field)))
            }
        };
        let vtbi_ml = number(5, "volume to be infused")?;
        unit(7, "mL")?;
        let rate_ml_per_h = number(15, "rate")?;
        unit(16, "mL/h")?;
        if first.is_none() {
            let amount = number(17, "drug amount")?;
            // RXG-18 carries the UCUM code (`[iU]`, `meq`); the record keeps its own spelling.
            let amount_unit = record_unit_from_ucum(&m.get(rxg, 18, 0, 1));
            let volume = number(23, "bag volume")?;
            unit(24, "mL")?;
            first = Some((
                m.get(rxg, 4, 0, 1),
                m.get(rxg, 4, 0, 2),
                amount,
                amount_unit,
                volume,
            ));
        }
        steps.push(ProgrammeStep {
            rate_ml_per_h,
            vtbi_ml,
        });
    }
    let Some(first) = first else {
        return Err(err(Problem::new(
            E::SegmentSequence,
            "RGV^O15 holds no RXG give segment",
        )));
    };
    Ok((steps, first))
}

/// Reads an `RGV^O15` back into a programme (what the pump does on receipt).
pub fn read_rgv_o15(m: &Message) -> Result<PumpProgramme, Refusal> {
    let err = |p: Problem| Refusal {
        code: AckCode::Error,
        problems: vec![p],
    };
    let h = m.header();
    if (h.message_code.as_str(), h.trigger_event.as_str()) != ("RGV", "O15") {
        return Err(Refusal {
            code: AckCode::Reject,
            problems: vec![
                Problem::new(
                    E::UnsupportedMessageType,
                    format!("{}^{} is not RGV^O15", h.message_code, h.trigger_event),
                )
                .at("MSH", 1, 9),
            ],
        });
    }
    let pid = m
        .segment("PID")
        .ok_or_else(|| err(Problem::new(E::SegmentSequence, "no PID")))?;
    let orc = m
        .segment("ORC")
        .ok_or_else(|| err(Problem::new(E::SegmentSequence, "no ORC")))?;
    let order_id = m.get(orc, 2, 0, 1);
    if order_id.is_empty() {
        return Err(err(Problem::new(
            E::RequiredFieldMissing,
            "ORC-2 (placer order number) is empty",
        )
        .at("ORC", 1, 2)));
    }
    let (steps, (drug_id, drug_name, bag_amount, dose_unit, bag_volume_ml)) = read_gives(m)?;
    let obx_value = |code: &str| {
        m.all("OBX")
            .find(|o| m.get(o, 3, 0, 1) == code || m.get(o, 3, 0, 2) == code)
            .map(|o| m.get(o, 5, 0, 1))
    };
    Ok(PumpProgramme {
        order_id,
        administration_id: m.get(orc, 4, 0, 1),
        mrn: m.get(pid, 3, 0, 1),
        family_name: m.get(pid, 5, 0, 1),
        given_name: m.get(pid, 5, 0, 2),
        birth_date: crate::hl7::parse_date(&m.get(pid, 7, 0, 1)).unwrap_or_default(),
        drug_id,
        drug_name,
        dose_amount: obx_value("dose")
            .and_then(|v| parse_nm(&v))
            .unwrap_or(f64::NAN),
        dose_unit,
        bag_amount,
        bag_volume_ml,
        steps,
        care_area: obx_value("care_area").unwrap_or_default(),
        weight_kg: obx_value("MDC_ATTR_PT_WEIGHT").and_then(|v| parse_nm(&v)),
    })
}

/// What a pump reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PumpEventKind {
    Started,
    RateChanged,
    Paused,
    Resumed,
    Completed,
}

impl PumpEventKind {
    pub fn code(self) -> &'static str {
        EVENT_CODES
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(c, _)| *c)
            .unwrap_or("")
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PumpEventKind::Started => "started",
            PumpEventKind::RateChanged => "rate_changed",
            PumpEventKind::Paused => "paused",
            PumpEventKind::Resumed => "resumed",
            PumpEventKind::Completed => "completed",
        }
    }
}

/// One pump event from PCD-01.
#[derive(Debug, Clone, PartialEq)]
pub struct PumpEvent {
    /// MSH-3 (application and device id, e.g. `PUMPSIM^0123456789ABCDEF^EUI-64`).
    pub pump: String,
    pub order_id: String,
    /// ORC-4, when the pump echoes it.
    pub administration_id: String,
    pub mrn: String,
    /// PID-5 (the pump has it from the programme).
    pub family_name: String,
    pub given_name: String,
    pub kind: PumpEventKind,
    pub at_us: i64,
    pub rate_ml_per_h: Option<f64>,
    /// Volume infused since the start of the programme.
    pub volume_infused_ml: Option<f64>,
}

/// Builds the PCD-01 `ORU^R01` for one pump event.
pub fn build_pump_event(
    pump_application: &str,
    pump_device_id: &str,
    e: &PumpEvent,
    control_id: &str,
    now_us: i64,
) -> String {
    let mut header = msh(
        &Sender {
            application: pump_application.to_string(),
            facility: String::new(),
        },
        ("INFUSIO", "INFUSIO"),
        ["ORU", "R01", "ORU_R01"],
        control_id,
        "P",
        now_us,
        Some(PROFILE_DEC),
    );
    header = header.comps(3, &[pump_application, pump_device_id, "EUI-64"]);
    let at = format_instant(e.at_us);
    let mut b = MessageBuilder::new(header)
        .push(
            SegmentBuilder::new("PID")
                .comps(3, &[&e.mrn, "", "", "", "MR"])
                .comps(5, &[&e.family_name, &e.given_name]),
        )
        .push(
            SegmentBuilder::new("ORC")
                .text(1, "RE")
                .comps(2, &[&e.order_id, "INFUSIO"])
                .comps(4, &[&e.administration_id, "INFUSIO"]),
        )
        .push(
            SegmentBuilder::new("OBR")
                .text(1, "1")
                .comps(2, &[&e.order_id, "INFUSIO"])
                .comps(3, &[control_id, pump_application])
                .comps(4, &["", "MDC_DEV_PUMP_INFUS_MDS", "MDC"])
                .text(7, at.clone()),
        )
        .push(
            SegmentBuilder::new("OBX")
                .text(1, "1")
                .comps(3, &["", e.kind.code(), "MDC"])
                .text(4, "1.1.1.1")
                .text(11, "F")
                .text(14, at.clone()),
        );
    let mut k = 1;
    for (code, value, unit) in [
        (RATE, e.rate_ml_per_h, "mL/h"),
        (VOLUME_DELIVERED, e.volume_infused_ml, "mL"),
    ] {
        if let Some(v) = value {
            k += 1;
            b = b.push(
                SegmentBuilder::new("OBX")
                    .text(1, k.to_string())
                    .text(2, "NM")
                    .comps(3, &["", code, "MDC"])
                    .text(4, format!("1.1.1.{k}"))
                    .text(5, num(v))
                    .set(6, ucum(unit))
                    .text(11, "F")
                    .text(14, at.clone()),
            );
        }
    }
    b.encode()
}

/// What the OBX segments of a PCD-01 message say.
struct PumpObservations {
    kind: Option<PumpEventKind>,
    /// The event's OBX-14, else the OBR-7 given.
    at_text: String,
    rate: Option<f64>,
    volume: Option<f64>,
}

/// Reads the OBX segments: one event (with its time), the rate and the volume delivered.
fn pump_observations(
    m: &Message,
    at_text: String,
    problems: &mut Vec<Problem>,
) -> PumpObservations {
    let mut seen = PumpObservations {
        kind: None,
        at_text,
        rate: None,
        volume: None,
    };
    for (i, obx) in m.all("OBX").enumerate() {
        let n = i + 1;
        let code = m.get(obx, 3, 0, 2);
        if let Some((_, k)) = EVENT_CODES.iter().find(|(c, _)| *c == code) {
            if seen.kind.is_some() {
                problems.push(
                    Problem::new(E::SegmentSequence, "more than one event in one message")
                        .at("OBX", n, 3),
                );
            }
            seen.kind = Some(*k);
            let t = m.get(obx, 14, 0, 1);
            if !t.is_empty() {
                seen.at_text = t;
            }
            continue;
        }
        let slot = match code.as_str() {
            RATE => (&mut seen.rate, "mL/h"),
            VOLUME_DELIVERED => (&mut seen.volume, "mL"),
            _ => {
                problems.push(
                    Problem::new(E::TableValueNotFound, format!("OBX-3 {code:?} is not a pump observation this interface reads ({RATE}, {VOLUME_DELIVERED}, or an event)"))
                        .at("OBX", n, 3),
                );
                continue;
            }
        };
        pump_value(m, obx, n, slot, problems);
    }
    seen
}

/// One numeric pump observation (OBX-5 ≥ 0 in the OBX-6 unit `slot.1`) into `slot.0`.
fn pump_value(
    m: &Message,
    obx: &Segment,
    n: usize,
    slot: (&mut Option<f64>, &str),
    problems: &mut Vec<Problem>,
) {
    let raw = m.get(obx, 5, 0, 1);
    let unit = m.get(obx, 6, 0, 1);
    let unit_ref = m.get(obx, 6, 0, 2);
    let unit_ok = core_unit(&unit) == Some(slot.1) || core_unit(&unit_ref) == Some(slot.1);
    match parse_nm(&raw).filter(|v| *v >= 0.0) {
        Some(v) if unit_ok => *slot.0 = Some(v),
        Some(_) => problems.push(
            Problem::new(
                E::TableValueNotFound,
                format!("OBX-6 unit {unit:?}: {} expected", slot.1),
            )
            .at("OBX", n, 6),
        ),
        None => problems.push(
            Problem::new(
                E::DataTypeError,
                format!("OBX-5 {raw:?} is not a number ≥ 0"),
            )
            .at("OBX", n, 5),
        ),
    }
}

/// Reads a PCD-01 pump event.
pub fn read_pump_event(m: &Message, default_offset: Option<i64>) -> Result<PumpEvent, Refusal> {
    let mut problems = Vec::new();
    let pump = m
        .segments
        .first()
        .map(|msh| m.components(msh, 3, 0).join("^"))
        .unwrap_or_default();
    let obr = m.segment("OBR");
    let order_id = obr.map(|o| m.get(o, 2, 0, 1)).unwrap_or_default();
    if order_id.is_empty() {
        problems.push(
            Problem::new(
                E::RequiredFieldMissing,
                "OBR-2 (placer order number) is empty: the event cannot be matched to an order",
            )
            .at("OBR", 1, 2),
        );
    }
    let administration_id = m
        .segment("ORC")
        .map(|o| m.get(o, 4, 0, 1))
        .unwrap_or_default();
    let pid = m.segment("PID");
    let family_name = pid.map(|p| m.get(p, 5, 0, 1)).unwrap_or_default();
    let given_name = pid.map(|p| m.get(p, 5, 0, 2)).unwrap_or_default();
    let mrn = m
        .segment("PID")
        .map(|p| m.get(p, 3, 0, 1))
        .unwrap_or_default();
    let at_text = obr.map(|o| m.get(o, 7, 0, 1)).unwrap_or_default();
    let PumpObservations {
        kind,
        at_text,
        rate,
        volume,
    } = pump_observations(m, at_text, &mut problems);
    let Some(kind) = kind else {
        problems.push(Problem::new(
            E::RequiredFieldMissing,
            "no pump event OBX (MDC_EVT_PUMP_…)",
        ));
        return Err(Refusal {
            code: AckCode::Error,
            problems,
        });
    };
    if kind == PumpEventKind::RateChanged && rate.is_none() {
        problems.push(Problem::new(
            E::RequiredFieldMissing,
            format!("a rate change needs the new rate ({RATE})"),
        ));
    }
    if kind == PumpEventKind::Completed && volume.is_none() {
        problems.push(Problem::new(
            E::RequiredFieldMissing,
            format!("a completion needs the volume infused ({VOLUME_DELIVERED})"),
        ));
    }
    let at_us = match parse_instant(&at_text, default_offset) {
        Ok(i) => Some(i.epoch_us),
        Err(e) => {
            problems
                .push(Problem::new(E::DataTypeError, format!("event time: {e}")).at("OBX", 1, 14));
            None
        }
    };
    match at_us {
        Some(at_us) if problems.is_empty() => Ok(PumpEvent {
            pump,
            order_id,
            administration_id,
            mrn,
            family_name,
            given_name,
            kind,
            at_us,
            rate_ml_per_h: rate,
            volume_infused_ml: volume,
        }),
        _ => Err(Refusal {
            code: AckCode::Error,
            problems,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::{Inbound, read};

    fn programme() -> PumpProgramme {
        PumpProgramme {
            order_id: "ord-1".into(),
            administration_id: "adm-1".into(),
            mrn: "M1".into(),
            family_name: "Okafor".into(),
            given_name: "Grace".into(),
            birth_date: "1979-04-12".into(),
            drug_id: "vancomycin".into(),
            drug_name: "Vancomycin".into(),
            dose_amount: 1000.0,
            dose_unit: "mg".into(),
            bag_amount: 1000.0,
            bag_volume_ml: 250.0,
            steps: vec![ProgrammeStep {
                rate_ml_per_h: 125.0,
                vtbi_ml: 250.0,
            }],
            care_area: "adult-infusion".into(),
            weight_kg: Some(70.0),
        }
    }

    #[test]
    fn rgv_round_trips_the_programme() {
        let text = build_rgv_o15(&Sender::default(), "PUMP", &programme(), "C1", 0);
        let m = Message::parse(&text).expect("parses");
        assert_eq!(m.header().structure, "RGV_O15");
        assert_eq!(read_rgv_o15(&m), Ok(programme()));
    }

    #[test]
    fn units_and_milliequivalents_go_out_as_ucum_codes() {
        // Regression: RXG-18 carried the record's `units`, which is no UCUM code.
        for (record, code) in [("units", "[iU]"), ("mEq", "meq"), ("mg", "mg")] {
            let mut p = programme();
            p.dose_unit = record.into();
            let text = build_rgv_o15(&Sender::default(), "PUMP", &p, "C1", 0);
            let m = Message::parse(&text).expect("parses");
            let rxg = m.segment("RXG").expect("RXG");
            assert_eq!(m.get(rxg, 18, 0, 1), code);
            assert_eq!(m.get(rxg, 18, 0, 2), record);
            assert_eq!(read_rgv_o15(&m), Ok(p));
        }
    }

    #[test]
    fn pump_events_round_trip_through_the_inbound_reader() {
        for (kind, rate, volume) in [
            (PumpEventKind::Started, Some(125.0), Some(0.0)),
            (PumpEventKind::RateChanged, Some(62.5), Some(100.0)),
            (PumpEventKind::Completed, None, Some(250.0)),
        ] {
            let e = PumpEvent {
                pump: "PUMPSIM^00AB^EUI-64".into(),
                order_id: "ord-1".into(),
                administration_id: "adm-1".into(),
                mrn: "M1".into(),
                family_name: "Okafor".into(),
                given_name: "Grace".into(),
                kind,
                at_us: 1_790_000_000_123_000,
                rate_ml_per_h: rate,
                volume_infused_ml: volume,
            };
            let text = build_pump_event("PUMPSIM", "00AB", &e, "E1", 0);
            let (_, r) = read(&Message::parse(&text).expect("parses"));
            assert_eq!(r, Ok(Inbound::Pump(e)));
        }
    }

    #[test]
    fn a_completion_without_volume_is_refused() {
        let text = "MSH|^~\\&|PUMPSIM|W|INFUSIO|I|20261126120000+0000||ORU^R01^ORU_R01|E9|P|2.6\rPID|||M1\rOBR|1|ord-1||^MDC_DEV_PUMP_INFUS_MDS^MDC|||20261126120000+0000\rOBX|1||^MDC_EVT_PUMP_DELIV_COMP^MDC|1.1.1.1||||||F\r";
        let (_, r) = read(&Message::parse(text).expect("parses"));
        assert!(
            matches!(
                r,
                Err(Refusal {
                    code: AckCode::Error,
                    ..
                })
            ),
            "{r:?}"
        );
    }
}
