//! HL7 v2 messages as text: the parser (with the delimiters a message declares in MSH-1 and
//! MSH-2, and the escape sequences of HL7 v2.6 chapter 2.7), the encoder, and timestamps.
//!
//! The parser is total: any input gives a [`Message`] or a [`ParseError`], never a panic,
//! and accessors of absent fields answer the empty string (HL7 treats an absent field and an
//! empty one alike for reading).

use std::fmt;

use infusio_core::time::{
    S_PER_DAY, US_PER_S, civil_from_days, days_from_civil, days_in_month, format_date,
    is_valid_date,
};

/// The largest message the parser reads, in bytes (1 MiB). A larger one is refused, not
/// truncated.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// The delimiters of one message (MSH-1 and MSH-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Separators {
    pub field: char,
    pub component: char,
    pub repetition: char,
    pub escape: char,
    pub subcomponent: char,
}

impl Default for Separators {
    /// The recommended delimiters `|^~\&`.
    fn default() -> Self {
        Separators {
            field: '|',
            component: '^',
            repetition: '~',
            escape: '\\',
            subcomponent: '&',
        }
    }
}

impl Separators {
    /// MSH-2 as written: component, repetition, escape, subcomponent.
    pub fn encoding_characters(&self) -> String {
        [
            self.component,
            self.repetition,
            self.escape,
            self.subcomponent,
        ]
        .iter()
        .collect()
    }

    /// Escapes a value for one subcomponent (HL7 v2.6 §2.7.4): every delimiter becomes its
    /// escape sequence (`\F\`, `\S\`, `\R\`, `\E\`, `\T\`); CR and LF become `\X0D\`/`\X0A\`
    /// so that a value never breaks a segment.
    pub fn escape(&self, value: &str) -> String {
        let mut out = String::with_capacity(value.len());
        let e = self.escape;
        for c in value.chars() {
            let code = if c == self.field {
                Some("F")
            } else if c == self.component {
                Some("S")
            } else if c == self.repetition {
                Some("R")
            } else if c == self.escape {
                Some("E")
            } else if c == self.subcomponent {
                Some("T")
            } else if c == '\r' {
                Some("X0D")
            } else if c == '\n' {
                Some("X0A")
            } else {
                None
            };
            match code {
                Some(code) => {
                    out.push(e);
                    out.push_str(code);
                    out.push(e);
                }
                None => out.push(c),
            }
        }
        out
    }

    /// Replaces escape sequences in `raw` by what they stand for. Highlighting (`\H\`, `\N\`)
    /// is dropped; `\Xhh…\` becomes the bytes it names when they are UTF-8 (else it is kept
    /// as written); `\.br\` becomes a line break; an unknown or unterminated sequence is
    /// kept as written, never guessed.
    pub fn unescape(&self, raw: &str) -> String {
        let e = self.escape;
        if !raw.contains(e) {
            return raw.to_string();
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(start) = rest.find(e) {
            out.push_str(&rest[..start]);
            let after = &rest[start + e.len_utf8()..];
            let Some(end) = after.find(e) else {
                out.push_str(&rest[start..]);
                return out;
            };
            let code = &after[..end];
            let consumed = start + e.len_utf8() + end + e.len_utf8();
            match code {
                "F" => out.push(self.field),
                "S" => out.push(self.component),
                "R" => out.push(self.repetition),
                "E" => out.push(self.escape),
                "T" => out.push(self.subcomponent),
                "H" | "N" => {}
                ".br" => out.push('\n'),
                _ if code.len() > 1
                    && code.len() % 2 == 1
                    && code.starts_with('X')
                    && code[1..].bytes().all(|b| b.is_ascii_hexdigit()) =>
                {
                    let bytes: Vec<u8> = (1..code.len())
                        .step_by(2)
                        .filter_map(|i| u8::from_str_radix(&code[i..i + 2], 16).ok())
                        .collect();
                    match String::from_utf8(bytes) {
                        Ok(s) => out.push_str(&s),
                        Err(_) => out.push_str(&rest[start..consumed]),
                    }
                }
                _ => out.push_str(&rest[start..consumed]),
            }
            rest = &rest[consumed..];
        }
        out.push_str(rest);
        out
    }
}

/// Why a text is not an HL7 v2 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    Empty,
    TooLarge {
        bytes: usize,
    },
    /// The text is neither UTF-8 nor declared ISO 8859-1 in MSH-18.
    NotText,
    /// The first segment is not MSH.
    NoHeader {
        found: String,
    },
    /// MSH-1/MSH-2 do not declare five distinct delimiters.
    BadDelimiters {
        found: String,
    },
    /// A segment whose name is not three upper-case letters or digits.
    BadSegmentName {
        segment_index: usize,
        found: String,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => write!(f, "the message is empty"),
            ParseError::TooLarge { bytes } => write!(
                f,
                "the message has {bytes} bytes; at most {MAX_MESSAGE_BYTES} are accepted"
            ),
            ParseError::NotText => write!(
                f,
                "the message is not UTF-8 text (ISO 8859-1 is accepted when MSH-18 says 8859/1)"
            ),
            ParseError::NoHeader { found } => {
                write!(f, "a message starts with an MSH segment; found {:?}", found)
            }
            ParseError::BadDelimiters { found } => write!(
                f,
                "MSH-1 and MSH-2 must declare five distinct delimiters such as |^~\\&; found {found:?}"
            ),
            ParseError::BadSegmentName {
                segment_index,
                found,
            } => write!(
                f,
                "segment {} has the name {found:?}; a segment name is three upper-case letters or digits",
                segment_index + 1
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// One segment: its name and its fields as written (escaped). `fields[0]` is the name, so
/// that `field(n)` is the HL7 field number; for MSH, `field(1)` is the field separator and
/// `field(2)` the encoding characters, as the standard numbers them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub name: String,
    fields: Vec<String>,
}

impl Segment {
    /// Field `n` as written (escaped, with its repetitions and components), or "".
    pub fn raw(&self, n: usize) -> &str {
        self.fields.get(n).map(String::as_str).unwrap_or("")
    }

    /// The number of the last field present.
    pub fn len(&self) -> usize {
        self.fields.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A parsed message: delimiters and segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub separators: Separators,
    pub segments: Vec<Segment>,
}

impl Message {
    /// Parses bytes: UTF-8, or ISO 8859-1 when MSH-18 declares `8859/1`.
    pub fn parse_bytes(bytes: &[u8]) -> Result<Message, ParseError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(ParseError::TooLarge { bytes: bytes.len() });
        }
        match std::str::from_utf8(bytes) {
            Ok(s) => Message::parse(s),
            Err(_) => {
                // Latin-1 maps every byte to the code point of the same value.
                let latin1: String = bytes.iter().map(|&b| b as char).collect();
                let m = Message::parse(&latin1)?;
                if m.text("MSH", 18).eq_ignore_ascii_case("8859/1") {
                    Ok(m)
                } else {
                    Err(ParseError::NotText)
                }
            }
        }
    }

    /// Parses a message. Segments end with CR (the standard); LF and CR LF are accepted too,
    /// and empty lines are skipped.
    pub fn parse(text: &str) -> Result<Message, ParseError> {
        if text.len() > MAX_MESSAGE_BYTES {
            return Err(ParseError::TooLarge { bytes: text.len() });
        }
        let mut lines = text
            .split(['\r', '\n'])
            .map(|l| l.trim_start_matches('\u{feff}'))
            .filter(|l| !l.trim().is_empty());
        let header = lines.next().ok_or(ParseError::Empty)?;
        if !header.starts_with("MSH") {
            return Err(ParseError::NoHeader {
                found: header.chars().take(20).collect(),
            });
        }
        let declared: Vec<char> = header.chars().skip(3).take(5).collect();
        let separators = match declared.as_slice() {
            [field, component, repetition, escape, subcomponent] => Separators {
                field: *field,
                component: *component,
                repetition: *repetition,
                escape: *escape,
                subcomponent: *subcomponent,
            },
            _ => {
                return Err(ParseError::BadDelimiters {
                    found: declared.iter().collect(),
                });
            }
        };
        let all = [
            separators.field,
            separators.component,
            separators.repetition,
            separators.escape,
            separators.subcomponent,
        ];
        let distinct = all
            .iter()
            .enumerate()
            .all(|(i, c)| !all[..i].contains(c) && !c.is_alphanumeric() && !c.is_whitespace());
        // MSH-2 ends at the next field separator; a fifth encoding character (v2.7's
        // truncation character) would sit before it, and is not part of v2.6.
        let after_header = &header[3 + separators.field.len_utf8()..];
        let msh2_end = after_header
            .find(separators.field)
            .unwrap_or(after_header.len());
        if !distinct || !matches!(after_header[..msh2_end].chars().count(), 4 | 5) {
            return Err(ParseError::BadDelimiters {
                found: declared.iter().collect(),
            });
        }
        let mut segments = Vec::new();
        // MSH: fields[1] is the field separator itself, fields[2] MSH-2.
        let mut msh_fields = vec!["MSH".to_string(), separators.field.to_string()];
        msh_fields.extend(after_header.split(separators.field).map(str::to_string));
        segments.push(Segment {
            name: "MSH".into(),
            fields: msh_fields,
        });
        for (i, line) in lines.enumerate() {
            let fields: Vec<String> = line.split(separators.field).map(str::to_string).collect();
            let name = fields.first().cloned().unwrap_or_default();
            if name.len() != 3
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            {
                return Err(ParseError::BadSegmentName {
                    segment_index: i + 1,
                    found: name.chars().take(10).collect(),
                });
            }
            segments.push(Segment { name, fields });
        }
        Ok(Message {
            separators,
            segments,
        })
    }

    /// The first segment named `name`.
    pub fn segment(&self, name: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.name == name)
    }

    /// Every segment named `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Segment> + 'a {
        self.segments.iter().filter(move |s| s.name == name)
    }

    /// The text of `SEG-n` (first repetition, first component, first subcomponent),
    /// unescaped; "" when absent.
    pub fn text(&self, segment: &str, n: usize) -> String {
        self.segment(segment)
            .map(|s| self.get(s, n, 0, 1))
            .unwrap_or_default()
    }

    /// `SEG-n.c` of the first repetition (components numbered from 1), first subcomponent,
    /// unescaped; "" when absent. MSH-1 and MSH-2 are answered as written.
    pub fn get(&self, segment: &Segment, n: usize, repetition: usize, component: usize) -> String {
        // MSH-1 and MSH-2 are the delimiters themselves, only in the header (a later segment
        // that happens to be named MSH is an ordinary segment).
        let is_header = self
            .segments
            .first()
            .is_some_and(|h| std::ptr::eq(h, segment));
        if is_header && (n == 1 || n == 2) {
            return segment.raw(n).to_string();
        }
        let field = segment.raw(n);
        let Some(rep) = field.split(self.separators.repetition).nth(repetition) else {
            return String::new();
        };
        let Some(comp) = rep
            .split(self.separators.component)
            .nth(component.saturating_sub(1))
        else {
            return String::new();
        };
        let sub = comp
            .split(self.separators.subcomponent)
            .next()
            .unwrap_or("");
        self.separators.unescape(sub)
    }

    /// The components of `SEG-n`'s repetition `repetition`, unescaped (first subcomponent of
    /// each).
    pub fn components(&self, segment: &Segment, n: usize, repetition: usize) -> Vec<String> {
        let field = segment.raw(n);
        match field.split(self.separators.repetition).nth(repetition) {
            None => Vec::new(),
            Some(rep) => rep
                .split(self.separators.component)
                .map(|c| {
                    self.separators
                        .unescape(c.split(self.separators.subcomponent).next().unwrap_or(""))
                })
                .collect(),
        }
    }

    /// How many repetitions `SEG-n` holds (0 when empty).
    pub fn repetitions(&self, segment: &Segment, n: usize) -> usize {
        let field = segment.raw(n);
        if field.is_empty() {
            0
        } else {
            field.split(self.separators.repetition).count()
        }
    }

    /// The message header's commonly read fields.
    pub fn header(&self) -> Header {
        let Some(msh) = self.segments.first() else {
            return Header::default();
        };
        Header {
            sending_application: self.get(msh, 3, 0, 1),
            sending_facility: self.get(msh, 4, 0, 1),
            receiving_application: self.get(msh, 5, 0, 1),
            receiving_facility: self.get(msh, 6, 0, 1),
            timestamp: self.get(msh, 7, 0, 1),
            message_code: self.get(msh, 9, 0, 1),
            trigger_event: self.get(msh, 9, 0, 2),
            structure: self.get(msh, 9, 0, 3),
            control_id: self.get(msh, 10, 0, 1),
            processing_id: self.get(msh, 11, 0, 1),
            version: self.get(msh, 12, 0, 1),
        }
    }

    /// The message as text, segments ended by CR.
    pub fn encode(&self) -> String {
        let f = self.separators.field;
        let mut out = String::new();
        for (i, s) in self.segments.iter().enumerate() {
            if i == 0 {
                out.push_str("MSH");
                out.push(f);
                let rest: Vec<&str> = s.fields.iter().skip(2).map(String::as_str).collect();
                out.push_str(&rest.join(&f.to_string()));
            } else {
                let all: Vec<&str> = s.fields.iter().map(String::as_str).collect();
                out.push_str(&all.join(&f.to_string()));
            }
            out.push('\r');
        }
        out
    }
}

/// MSH fields every receiver reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    pub sending_application: String,
    pub sending_facility: String,
    pub receiving_application: String,
    pub receiving_facility: String,
    pub timestamp: String,
    pub message_code: String,
    pub trigger_event: String,
    pub structure: String,
    pub control_id: String,
    pub processing_id: String,
    pub version: String,
}

/// A field value for building: repetitions of components of subcomponents, written
/// unescaped; the builder escapes them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Field(pub Vec<Vec<Vec<String>>>);

impl Field {
    /// One plain value.
    pub fn text(value: impl Into<String>) -> Field {
        Field(vec![vec![vec![value.into()]]])
    }

    /// One repetition of components.
    pub fn components(values: &[&str]) -> Field {
        Field(vec![
            values.iter().map(|v| vec![(*v).to_string()]).collect(),
        ])
    }

    fn encode(&self, s: &Separators) -> String {
        let reps: Vec<String> = self
            .0
            .iter()
            .map(|rep| {
                let comps: Vec<String> = rep
                    .iter()
                    .map(|comp| {
                        let subs: Vec<String> = comp.iter().map(|v| s.escape(v)).collect();
                        subs.join(&s.subcomponent.to_string())
                    })
                    .collect();
                trim_empty(comps, s.component)
            })
            .collect();
        reps.join(&s.repetition.to_string())
    }
}

fn trim_empty(mut parts: Vec<String>, sep: char) -> String {
    while parts.len() > 1 && parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    parts.join(&sep.to_string())
}

/// Builds one segment field by field; unset fields are empty and trailing empty fields are
/// left out.
#[derive(Debug, Clone)]
pub struct SegmentBuilder {
    name: String,
    fields: Vec<Field>,
}

impl SegmentBuilder {
    pub fn new(name: &str) -> SegmentBuilder {
        assert!(
            name.len() == 3
                && name
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
            "segment names are three upper-case letters or digits"
        );
        SegmentBuilder {
            name: name.to_string(),
            fields: Vec::new(),
        }
    }

    /// Sets field `n` (numbered as in the standard; for MSH, from 3).
    pub fn set(mut self, n: usize, value: Field) -> SegmentBuilder {
        assert!(n >= 1, "fields are numbered from 1");
        if self.fields.len() < n {
            self.fields.resize(n, Field::default());
        }
        self.fields[n - 1] = value;
        self
    }

    /// Sets field `n` to one plain value.
    pub fn text(self, n: usize, value: impl Into<String>) -> SegmentBuilder {
        self.set(n, Field::text(value))
    }

    /// Sets field `n` to one repetition of components.
    pub fn comps(self, n: usize, values: &[&str]) -> SegmentBuilder {
        self.set(n, Field::components(values))
    }
}

/// Builds a message with the recommended delimiters. MSH-1 and MSH-2 are written by the
/// builder; the MSH builder sets fields from 3.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    separators: Separators,
    segments: Vec<SegmentBuilder>,
}

impl MessageBuilder {
    pub fn new(msh: SegmentBuilder) -> MessageBuilder {
        assert_eq!(msh.name, "MSH", "a message starts with MSH");
        MessageBuilder {
            separators: Separators::default(),
            segments: vec![msh],
        }
    }

    pub fn push(mut self, segment: SegmentBuilder) -> MessageBuilder {
        self.segments.push(segment);
        self
    }

    /// The message as text (segments ended by CR).
    pub fn encode(&self) -> String {
        let s = &self.separators;
        let f = s.field.to_string();
        let mut out = String::new();
        for (i, seg) in self.segments.iter().enumerate() {
            let mut parts: Vec<String> = vec![seg.name.clone()];
            if i == 0 {
                parts.push(s.encoding_characters());
                for v in seg.fields.iter().skip(2) {
                    parts.push(v.encode(s));
                }
            } else {
                for v in &seg.fields {
                    parts.push(v.encode(s));
                }
            }
            while parts.len() > 1 && parts.last().is_some_and(String::is_empty) {
                parts.pop();
            }
            out.push_str(&parts.join(&f));
            out.push('\r');
        }
        out
    }
}

/// An instant read from an HL7 DTM (`YYYYMMDDHHMM[SS[.S…]]±ZZZZ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instant {
    /// Microseconds since 1970-01-01T00:00:00Z.
    pub epoch_us: i64,
}

/// Why a DTM is not an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeError {
    Malformed {
        value: String,
    },
    /// Precise to the minute at least, but without a UTC offset: which instant it means
    /// depends on a time zone the message does not name.
    NoOffset {
        value: String,
    },
    /// Less precise than a minute: not an instant.
    TooCoarse {
        value: String,
    },
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeError::Malformed { value } => write!(
                f,
                "{value:?} is not an HL7 timestamp YYYYMMDDHHMM[SS[.SSSS]]+ZZZZ"
            ),
            TimeError::NoOffset { value } => write!(
                f,
                "{value:?} has no UTC offset (+ZZZZ) and the message header gives none"
            ),
            TimeError::TooCoarse { value } => write!(
                f,
                "{value:?} is not precise to the minute; an instant YYYYMMDDHHMM[SS]+ZZZZ is needed"
            ),
        }
    }
}

/// The UTC offset of a DTM in minutes, if it has one.
pub fn offset_minutes(value: &str) -> Option<i64> {
    let pos = value.find(['+', '-'])?;
    let z = &value[pos + 1..];
    if z.len() != 4 || !z.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i64 = z[..2].parse().ok()?;
    let m: i64 = z[2..].parse().ok()?;
    if h > 14 || m > 59 {
        return None;
    }
    let sign = if value[pos..].starts_with('-') { -1 } else { 1 };
    Some(sign * (h * 60 + m))
}

/// Reads a DTM precise to the minute at least. Without its own offset, `default_offset_min`
/// (the offset of MSH-7) is used; without either it is refused, never assumed.
pub fn parse_instant(value: &str, default_offset_min: Option<i64>) -> Result<Instant, TimeError> {
    let malformed = || TimeError::Malformed {
        value: value.chars().take(40).collect(),
    };
    let value = value.trim();
    let (body, offset) = match value.find(['+', '-']) {
        Some(pos) => (
            &value[..pos],
            Some(offset_minutes(value).ok_or_else(malformed)?),
        ),
        None => (value, None),
    };
    let (digits, fraction) = match body.split_once('.') {
        Some((d, f)) => (d, Some(f)),
        None => (body, None),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit())
        || !matches!(digits.len(), 4 | 6 | 8 | 10 | 12 | 14)
    {
        return Err(malformed());
    }
    if digits.len() < 12 {
        return Err(TimeError::TooCoarse {
            value: value.to_string(),
        });
    }
    let n = |a: usize, b: usize| digits[a..b].parse::<i64>().unwrap_or(-1);
    let (y, mo, d, h, mi) = (n(0, 4), n(4, 6), n(6, 8), n(8, 10), n(10, 12));
    let s = if digits.len() == 14 { n(12, 14) } else { 0 };
    if !(1..=12).contains(&mo)
        || d < 1
        || d > days_in_month(y, mo)
        || !(0..24).contains(&h)
        || !(0..60).contains(&mi)
        || !(0..60).contains(&s)
    {
        return Err(malformed());
    }
    let micros = match fraction {
        None => 0,
        Some(f)
            if digits.len() == 14
                && (1..=4).contains(&f.len())
                && f.bytes().all(|b| b.is_ascii_digit()) =>
        {
            let padded = format!("{f:0<6}");
            padded.parse::<i64>().map_err(|_| malformed())?
        }
        Some(_) => return Err(malformed()),
    };
    let offset = offset
        .or(default_offset_min)
        .ok_or_else(|| TimeError::NoOffset {
            value: value.to_string(),
        })?;
    let local_s = days_from_civil(y, mo, d) * S_PER_DAY + h * 3600 + mi * 60 + s;
    Ok(Instant {
        epoch_us: (local_s - offset * 60) * US_PER_S + micros,
    })
}

/// Reads an HL7 date `YYYYMMDD` as `YYYY-MM-DD`.
pub fn parse_date(value: &str) -> Option<String> {
    let v = value.trim();
    let d = v.get(..8)?;
    if !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (y, m, day) = (
        d[..4].parse::<i64>().ok()?,
        d[4..6].parse::<i64>().ok()?,
        d[6..8].parse::<i64>().ok()?,
    );
    if !is_valid_date(y, m, day) {
        return None;
    }
    Some(format_date(y, m, day))
}

/// Writes an instant as a DTM in UTC with milliseconds: `YYYYMMDDHHMMSS.SSS+0000`.
pub fn format_instant(epoch_us: i64) -> String {
    let secs = epoch_us.div_euclid(US_PER_S);
    let ms = epoch_us.rem_euclid(US_PER_S) / 1000;
    let days = secs.div_euclid(S_PER_DAY);
    let sod = secs.rem_euclid(S_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}.{ms:03}+0000",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADT: &str = "MSH|^~\\&|LAB|HOSP|INFUSIO|CLINIC|20261126101500+0100||ADT^A04^ADT_A01|MSG0001|P|2.6\rEVN|A04|20261126101500+0100\rPID|1||MRN77^^^HOSP^MR||O\\S\\Brien^Ann\\T\\Mary||19700102|F\r";

    #[test]
    fn parses_header_fields_and_escapes() {
        let m = Message::parse(ADT).expect("parses");
        let h = m.header();
        assert_eq!(h.sending_application, "LAB");
        assert_eq!(h.message_code, "ADT");
        assert_eq!(h.trigger_event, "A04");
        assert_eq!(h.structure, "ADT_A01");
        assert_eq!(h.control_id, "MSG0001");
        assert_eq!(h.version, "2.6");
        let pid = m.segment("PID").expect("PID");
        assert_eq!(m.get(pid, 3, 0, 1), "MRN77");
        assert_eq!(m.get(pid, 3, 0, 5), "MR");
        assert_eq!(m.get(pid, 5, 0, 1), "O^Brien");
        assert_eq!(m.get(pid, 5, 0, 2), "Ann&Mary");
        assert_eq!(m.get(pid, 99, 3, 7), "");
        assert_eq!(m.text("MSH", 1), "|");
        assert_eq!(m.text("MSH", 2), "^~\\&");
    }

    #[test]
    fn encode_round_trips_the_text() {
        let m = Message::parse(ADT).expect("parses");
        assert_eq!(m.encode(), ADT);
        assert_eq!(Message::parse(&m.encode()), Ok(m));
    }

    /// Found by the `hl7_parse` fuzz target: a second segment named MSH was encoded as a
    /// header (its first field dropped), so encoding was not the parser's inverse.
    #[test]
    fn a_later_msh_segment_is_an_ordinary_segment() {
        let text = "MSH|^~\\&|A|B|C|D|20260101120000+0000||ADT^A08|1|P|2.6\rMSH|^PID|1||x\r";
        let m = Message::parse(text).expect("parses");
        assert_eq!(m.segments[1].raw(1), "^PID");
        assert_eq!(m.get(&m.segments[1], 1, 0, 2), "PID");
        assert_eq!(m.encode(), text);
        assert_eq!(Message::parse(&m.encode()), Ok(m));
    }

    #[test]
    fn escape_and_unescape_are_inverse_for_any_delimiter_text() {
        let s = Separators::default();
        for v in ["a|b^c~d\\e&f", "\\", "plain", "", "line\rbreak\n", "ü€"] {
            assert_eq!(s.unescape(&s.escape(v)), v, "{v:?}");
        }
        assert_eq!(s.unescape("x\\X4142\\y"), "xABy");
        assert_eq!(s.unescape("\\H\\bold\\N\\"), "bold");
        assert_eq!(s.unescape("dangling\\F"), "dangling\\F");
        assert_eq!(s.unescape("\\Q\\"), "\\Q\\");
    }

    #[test]
    fn builder_escapes_and_parser_reads_back() {
        let text = MessageBuilder::new(
            SegmentBuilder::new("MSH")
                .text(3, "INFUSIO")
                .comps(9, &["ACK", "A04", "ACK"])
                .text(10, "X1")
                .text(12, "2.6"),
        )
        .push(SegmentBuilder::new("NTE").text(3, "dose 1|2 ^ ~ & \\ ok"))
        .encode();
        assert!(
            text.starts_with("MSH|^~\\&|INFUSIO||||||ACK^A04^ACK|X1||2.6\r"),
            "{text}"
        );
        let m = Message::parse(&text).expect("parses");
        assert_eq!(m.text("NTE", 3), "dose 1|2 ^ ~ & \\ ok");
    }

    #[test]
    fn refuses_what_is_not_a_message() {
        assert_eq!(Message::parse(""), Err(ParseError::Empty));
        assert!(matches!(
            Message::parse("PID|1"),
            Err(ParseError::NoHeader { .. })
        ));
        assert!(matches!(
            Message::parse("MSH"),
            Err(ParseError::BadDelimiters { .. })
        ));
        assert!(matches!(
            Message::parse("MSH|^^\\&|"),
            Err(ParseError::BadDelimiters { .. })
        ));
        assert!(matches!(
            Message::parse("MSH|^~\\&|A\rpid|1"),
            Err(ParseError::BadSegmentName { .. })
        ));
    }

    #[test]
    fn latin1_only_when_declared() {
        let mut bytes = b"MSH|^~\\&|A|B|C|D|20260101120000+0000||ADT^A08|1|P|2.6||||||8859/1\rPID|1||M1||M\xfcller^A\r".to_vec();
        let m = Message::parse_bytes(&bytes).expect("latin-1 declared");
        assert_eq!(m.text("PID", 5), "Müller");
        bytes = b"MSH|^~\\&|A|B|C|D|20260101120000+0000||ADT^A08|1|P|2.6\rPID|1||M1||M\xfcller\r"
            .to_vec();
        assert_eq!(Message::parse_bytes(&bytes), Err(ParseError::NotText));
    }

    #[test]
    fn instants_need_an_offset_and_a_minute() {
        let t = parse_instant("202611261015+0100", None).expect("instant");
        assert_eq!(format_instant(t.epoch_us), "20261126091500.000+0000");
        let t2 = parse_instant("20261126091500.25", Some(0)).expect("instant");
        assert_eq!(t2.epoch_us, t.epoch_us + 250_000);
        assert!(matches!(
            parse_instant("202611261015", None),
            Err(TimeError::NoOffset { .. })
        ));
        assert!(matches!(
            parse_instant("20261126", Some(0)),
            Err(TimeError::TooCoarse { .. })
        ));
        assert!(matches!(
            parse_instant("20260230101500+0000", None),
            Err(TimeError::Malformed { .. })
        ));
        assert!(matches!(
            parse_instant("2026112610+", None),
            Err(TimeError::Malformed { .. })
        ));
        assert_eq!(
            parse_instant("19700101000000+0000", None).map(|i| i.epoch_us),
            Ok(0)
        );
        assert_eq!(parse_date("19700102"), Some("1970-01-02".into()));
        assert_eq!(parse_date("19701302"), None);
    }
}
