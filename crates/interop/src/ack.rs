//! Acknowledgements (HL7 v2.6 original mode): `ACK` with `MSA-1` = AA, AE or AR and
//! `MSA-2` = the acknowledged message's MSH-10, and one `ERR` segment per problem, coded
//! from HL7 table 0357.

use crate::hl7::{Field, Header, MessageBuilder, SegmentBuilder, format_instant};

/// The acknowledgement code (HL7 table 0008).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// Application accept: the message was applied to the record.
    Accept,
    /// Application error: the message was understood but not applied (unknown patient,
    /// unknown code or unit, a value out of range); nothing of it was applied.
    Error,
    /// Application reject: the message is not one this interface reads (not HL7, wrong type,
    /// wrong version or processing id).
    Reject,
}

impl AckCode {
    pub fn as_str(self) -> &'static str {
        match self {
            AckCode::Accept => "AA",
            AckCode::Error => "AE",
            AckCode::Reject => "AR",
        }
    }

    pub fn parse(code: &str) -> Option<AckCode> {
        match code {
            "AA" | "CA" => Some(AckCode::Accept),
            "AE" | "CE" => Some(AckCode::Error),
            "AR" | "CR" => Some(AckCode::Reject),
            _ => None,
        }
    }
}

/// HL7 table 0357 (message error condition codes) used by this interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCondition {
    /// Code 0: the message was accepted; used with severity W for remarks on an accepted
    /// message.
    MessageAccepted,
    SegmentSequence,
    RequiredFieldMissing,
    DataTypeError,
    TableValueNotFound,
    UnsupportedMessageType,
    UnsupportedEventCode,
    UnsupportedProcessingId,
    UnsupportedVersionId,
    UnknownKeyIdentifier,
    DuplicateKeyIdentifier,
    ApplicationRecordLocked,
    ApplicationInternalError,
}

impl ErrorCondition {
    /// (code, text) as in table 0357.
    pub fn code(self) -> (&'static str, &'static str) {
        match self {
            ErrorCondition::MessageAccepted => ("0", "Message accepted"),
            ErrorCondition::SegmentSequence => ("100", "Segment sequence error"),
            ErrorCondition::RequiredFieldMissing => ("101", "Required field missing"),
            ErrorCondition::DataTypeError => ("102", "Data type error"),
            ErrorCondition::TableValueNotFound => ("103", "Table value not found"),
            ErrorCondition::UnsupportedMessageType => ("200", "Unsupported message type"),
            ErrorCondition::UnsupportedEventCode => ("201", "Unsupported event code"),
            ErrorCondition::UnsupportedProcessingId => ("202", "Unsupported processing id"),
            ErrorCondition::UnsupportedVersionId => ("203", "Unsupported version id"),
            ErrorCondition::UnknownKeyIdentifier => ("204", "Unknown key identifier"),
            ErrorCondition::DuplicateKeyIdentifier => ("205", "Duplicate key identifier"),
            ErrorCondition::ApplicationRecordLocked => ("206", "Application record locked"),
            ErrorCondition::ApplicationInternalError => ("207", "Application internal error"),
        }
    }
}

/// One problem with a message: what, where, and a sentence for the sender's interface team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub condition: ErrorCondition,
    /// (segment name, its 1-based position among segments, field number), when known.
    pub location: Option<(String, usize, usize)>,
    pub message: String,
}

impl Problem {
    pub fn new(condition: ErrorCondition, message: impl Into<String>) -> Problem {
        Problem {
            condition,
            location: None,
            message: message.into(),
        }
    }

    pub fn at(mut self, segment: &str, sequence: usize, field: usize) -> Problem {
        self.location = Some((segment.to_string(), sequence, field));
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some((s, _, n)) => write!(f, "{s}-{n}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Who we are in MSH-3/MSH-4 of the messages we build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub application: String,
    pub facility: String,
}

impl Default for Sender {
    fn default() -> Self {
        Sender {
            application: "INFUSIO".into(),
            facility: "INFUSIO".into(),
        }
    }
}

/// The MSH of a message we send. `profile`, when given, goes to MSH-21 as an EI
/// (entity, namespace, universal id, `ISO`).
pub(crate) fn msh(
    sender: &Sender,
    receiving: (&str, &str),
    code: [&str; 3],
    control_id: &str,
    processing_id: &str,
    now_us: i64,
    profile: Option<[&str; 3]>,
) -> SegmentBuilder {
    let mut s = SegmentBuilder::new("MSH")
        .text(3, sender.application.clone())
        .text(4, sender.facility.clone())
        .text(5, receiving.0)
        .text(6, receiving.1)
        .text(7, format_instant(now_us))
        .comps(9, &code)
        .text(10, control_id)
        .text(11, processing_id)
        .text(12, "2.6");
    if let Some(p) = profile {
        s = s
            .text(15, "AL")
            .text(16, "NE")
            .text(18, "UNICODE UTF-8")
            .comps(21, &[p[0], p[1], p[2], "ISO"]);
    }
    s
}

/// Builds the acknowledgement of a message whose header could be read (`original`), or of
/// bytes that were not a message at all (`None`: MSA-2 is then empty, as there is no MSH-10
/// to name). `control_id` is this ACK's own MSH-10.
pub fn build_ack(
    sender: &Sender,
    original: Option<&Header>,
    code: AckCode,
    problems: &[Problem],
    control_id: &str,
    now_us: i64,
) -> String {
    let event = original
        .map(|h| h.trigger_event.clone())
        .unwrap_or_default();
    build_reply(
        sender,
        original,
        ["ACK", &event, "ACK"],
        code,
        problems,
        control_id,
        now_us,
    )
}

/// Builds an application acknowledgement of type `message_type` (e.g. `RRG^O16^RRG_O16`):
/// MSH, MSA and one ERR per problem.
pub fn build_reply(
    sender: &Sender,
    original: Option<&Header>,
    message_type: [&str; 3],
    code: AckCode,
    problems: &[Problem],
    control_id: &str,
    now_us: i64,
) -> String {
    let empty = Header::default();
    let h = original.unwrap_or(&empty);
    let processing = if matches!(h.processing_id.as_str(), "P" | "D" | "T") {
        h.processing_id.as_str()
    } else {
        "P"
    };
    let mut b = MessageBuilder::new(msh(
        sender,
        (&h.sending_application, &h.sending_facility),
        message_type,
        control_id,
        processing,
        now_us,
        None,
    ))
    .push(
        SegmentBuilder::new("MSA")
            .text(1, code.as_str())
            .text(2, h.control_id.clone()),
    );
    for p in problems {
        let (c, text) = p.condition.code();
        let mut err = SegmentBuilder::new("ERR")
            .comps(3, &[c, text, "HL70357"])
            .text(4, if code == AckCode::Accept { "W" } else { "E" })
            .text(8, p.message.clone());
        if let Some((seg, seq, field)) = &p.location {
            err = err.set(
                2,
                Field::components(&[seg, &seq.to_string(), &field.to_string()]),
            );
        }
        b = b.push(err);
    }
    b.encode()
}

/// An acknowledgement as read back: code, the control id it acknowledges, and the text of
/// its ERR segments (ERR-8, else ERR-3.2) and MSA-3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckReply {
    pub code: AckCode,
    pub acknowledged_control_id: String,
    pub messages: Vec<String>,
}

/// Reads an ACK (or any message with an MSA, such as RRG^O16).
pub fn read_ack(m: &crate::hl7::Message) -> Result<AckReply, Problem> {
    let msa = m.segment("MSA").ok_or_else(|| {
        Problem::new(
            ErrorCondition::SegmentSequence,
            "the reply has no MSA segment",
        )
    })?;
    let code_text = m.get(msa, 1, 0, 1);
    let code = AckCode::parse(&code_text).ok_or_else(|| {
        Problem::new(
            ErrorCondition::TableValueNotFound,
            format!("MSA-1 {code_text:?} is not AA, AE or AR"),
        )
        .at("MSA", 1, 1)
    })?;
    let mut messages: Vec<String> = m
        .all("ERR")
        .map(|e| {
            let t = m.get(e, 8, 0, 1);
            if t.is_empty() { m.get(e, 3, 0, 2) } else { t }
        })
        .filter(|t| !t.is_empty())
        .collect();
    let msa3 = m.get(msa, 3, 0, 1);
    if !msa3.is_empty() {
        messages.push(msa3);
    }
    Ok(AckReply {
        code,
        acknowledged_control_id: m.get(msa, 2, 0, 1),
        messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hl7::Message;

    #[test]
    fn ack_names_the_original_control_id_and_each_problem() {
        let original = Message::parse(
            "MSH|^~\\&|LAB|HOSP|INFUSIO|CLINIC|20261126101500+0100||ORU^R01^ORU_R01|MSG9|P|2.6\r",
        )
        .expect("parses");
        let text = build_ack(
            &Sender::default(),
            Some(&original.header()),
            AckCode::Error,
            &[Problem::new(
                ErrorCondition::UnknownKeyIdentifier,
                "no patient with MRN X|1",
            )
            .at("PID", 1, 3)],
            "ACK1",
            0,
        );
        let ack = Message::parse(&text).expect("ack parses");
        let h = ack.header();
        assert_eq!(
            (
                h.message_code.as_str(),
                h.trigger_event.as_str(),
                h.structure.as_str()
            ),
            ("ACK", "R01", "ACK")
        );
        assert_eq!(h.receiving_application, "LAB");
        let reply = read_ack(&ack).expect("reads");
        assert_eq!(reply.code, AckCode::Error);
        assert_eq!(reply.acknowledged_control_id, "MSG9");
        assert_eq!(reply.messages, vec!["no patient with MRN X|1".to_string()]);
        let err = ack.segment("ERR").expect("ERR");
        assert_eq!(ack.get(err, 3, 0, 1), "204");
        assert_eq!(ack.components(err, 2, 0), vec!["PID", "1", "3"]);
    }
}
