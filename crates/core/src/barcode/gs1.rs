//! GS1 element strings (GS1-128 and GS1 DataMatrix) as a barcode scanner types them.
//!
//! Two spellings are read:
//! - the raw form a scanner sends: an optional symbology identifier (`]C1` GS1-128, `]d2`
//!   GS1 DataMatrix, `]Q3` GS1 QR), then Application Identifiers (AIs) back to back, a
//!   variable-length field ended by the group separator `\x1d` (the transmitted FNC1) or by
//!   the end of the string;
//! - the human-readable form with parenthesised AIs, `(01)09506000134352(17)201225(10)ABC123`.
//!
//! Read AIs (GS1 General Specifications, section 3, "GS1 Application Identifier
//! definitions"): (01) GTIN, 14 digits, check digit verified; (10) batch/lot, up to 20
//! characters; (11) production date and (17) expiration date, `YYMMDD`; (21) serial number,
//! up to 20 characters. Any other AI is refused by name: guessing its length would misread
//! everything after it.
//!
//! Rules taken from the GS1 General Specifications (Release 24.0, January 2024):
//! - check digit: the standard modulo-10 calculation with weights 3 and 1 from the right
//!   (section 7.9.1, "Standard check digit calculations for GS1 data structures");
//! - a date's day `00` means the last day of the month (definition of AI (17): "if it is not
//!   necessary to specify the day, the field must be filled with two zeros", read as the
//!   last day of the month);
//! - the century of `YY` (section 7.12, "Determination of century in dates"): the difference
//!   between `YY` and the current year's two digits, from 51 to 99 means the previous
//!   century, from -99 to -50 the next century, otherwise the current century.
//!
//! The section numbers above were read from the specification's table of contents as cited
//! by GS1's own material; the worked examples in the tests are marked where they come from.

use thiserror::Error;

/// The group separator a scanner transmits for FNC1 (ASCII 29).
pub const GROUP_SEPARATOR: char = '\u{1d}';

/// What a GS1 element string held.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Gs1Data {
    /// AI (01), 14 digits, check digit verified.
    pub gtin: Option<String>,
    /// AI (10).
    pub lot: Option<String>,
    /// AI (17), `YYYY-MM-DD` (day `00` read as the last day of the month).
    pub expiry_date: Option<String>,
    /// AI (11), `YYYY-MM-DD`.
    pub production_date: Option<String>,
    /// AI (21).
    pub serial: Option<String>,
}

/// Why an element string was refused; every variant names what was wrong and what is
/// accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Gs1Error {
    #[error("empty barcode: expected a GS1 element string such as (01)…(17)…(10)…")]
    Empty,
    #[error("GTIN {gtin}: check digit {found}, expected {expected} (GS1 modulo-10)")]
    CheckDigit {
        gtin: String,
        found: u8,
        expected: u8,
    },
    #[error("AI ({ai}) at position {position}: {value:?} is {problem}")]
    Malformed {
        ai: String,
        position: usize,
        value: String,
        problem: String,
    },
    #[error(
        "AI ({ai}) at position {position} is not read here: accepted AIs are (01) GTIN, (10) lot, (11) production date, (17) expiry date, (21) serial"
    )]
    UnsupportedAi { ai: String, position: usize },
    #[error("AI ({ai}) appears twice")]
    Repeated { ai: String },
    #[error(
        "not a GS1 element string at position {position}: {found:?}; expected an application identifier such as (01)"
    )]
    NotGs1 { position: usize, found: String },
}

/// The GS1 modulo-10 check digit of `digits` (the digits before the check digit): weights 3
/// and 1 alternating from the rightmost digit (section 7.9.1). `None` when a character is not
/// a digit.
pub fn check_digit(digits: &str) -> Option<u8> {
    let mut sum = 0u32;
    for (i, c) in digits.chars().rev().enumerate() {
        let d = c.to_digit(10)?;
        sum += if i % 2 == 0 { 3 * d } else { d };
    }
    Some(((10 - sum % 10) % 10) as u8)
}

/// Validates a GTIN-8, -12, -13 or -14 and returns it as GTIN-14 (left-padded with zeros, the
/// form AI (01) carries).
pub fn validate_gtin(text: &str) -> Result<String, Gs1Error> {
    let t = text.trim();
    if !matches!(t.len(), 8 | 12 | 13 | 14) || !t.chars().all(|c| c.is_ascii_digit()) {
        return Err(Gs1Error::Malformed {
            ai: "01".into(),
            position: 0,
            value: t.into(),
            problem: "not a GTIN: expected 8, 12, 13 or 14 digits".into(),
        });
    }
    let (body, last) = t.split_at(t.len() - 1);
    let found = last.as_bytes()[0] - b'0';
    let expected = check_digit(body).unwrap_or(10);
    if found != expected {
        return Err(Gs1Error::CheckDigit {
            gtin: t.into(),
            found,
            expected,
        });
    }
    Ok(format!("{t:0>14}"))
}

/// How an AI's field ends.
#[derive(Clone, Copy)]
enum Length {
    Fixed(usize),
    UpTo(usize),
}

fn ai_length(ai: &str) -> Option<Length> {
    match ai {
        "01" => Some(Length::Fixed(14)),
        "11" | "17" => Some(Length::Fixed(6)),
        "10" | "21" => Some(Length::UpTo(20)),
        _ => None,
    }
}

/// Two digits at the start of `rest` that name an AI this reader knows; the unsupported
/// ones are named with the first two digits.
fn split_ai(rest: &str, position: usize) -> Result<(&'static str, Length), Gs1Error> {
    let head: String = rest.chars().take(2).collect();
    if head.len() < 2 || !head.chars().all(|c| c.is_ascii_digit()) {
        return Err(Gs1Error::NotGs1 {
            position,
            found: rest.chars().take(8).collect(),
        });
    }
    for known in ["01", "10", "11", "17", "21"] {
        if head == known {
            return Ok((known, ai_length(known).unwrap_or(Length::UpTo(0))));
        }
    }
    Err(Gs1Error::UnsupportedAi { ai: head, position })
}

/// Splits the element string into (AI, value) pairs.
fn elements(input: &str) -> Result<Vec<(&'static str, String, usize)>, Gs1Error> {
    let mut s = input.trim_matches(|c: char| c == '\r' || c == '\n' || c == ' ');
    for prefix in ["]C1", "]d2", "]Q3", "]e0"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
        }
    }
    if s.is_empty() {
        return Err(Gs1Error::Empty);
    }
    if s.starts_with('(') {
        return parenthesised(s);
    }
    let mut out = Vec::new();
    let mut pos = 0;
    let chars: Vec<char> = s.chars().collect();
    while pos < chars.len() {
        if chars[pos] == GROUP_SEPARATOR {
            pos += 1;
            continue;
        }
        let rest: String = chars[pos..].iter().collect();
        let (ai, length) = split_ai(&rest, pos)?;
        let start = pos + 2;
        let end = match length {
            Length::Fixed(n) => (start + n).min(chars.len()),
            Length::UpTo(n) => {
                let stop = chars[start..]
                    .iter()
                    .position(|c| *c == GROUP_SEPARATOR)
                    .map_or(chars.len(), |i| start + i);
                if stop - start > n {
                    return Err(Gs1Error::Malformed {
                        ai: ai.into(),
                        position: pos,
                        value: chars[start..stop].iter().collect(),
                        problem: format!(
                            "longer than {n} characters (a missing group separator after it?)"
                        ),
                    });
                }
                stop
            }
        };
        out.push((ai, chars[start..end].iter().collect(), pos));
        pos = end;
    }
    Ok(out)
}

fn parenthesised(s: &str) -> Result<Vec<(&'static str, String, usize)>, Gs1Error> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < s.len() {
        let rest = &s[pos..];
        let close = rest.find(')').filter(|_| rest.starts_with('('));
        let Some(close) = close else {
            return Err(Gs1Error::NotGs1 {
                position: pos,
                found: rest.chars().take(8).collect(),
            });
        };
        let ai_text = &rest[1..close];
        let (ai, _) = split_ai(ai_text, pos)?;
        if ai_text.len() != 2 {
            return Err(Gs1Error::UnsupportedAi {
                ai: ai_text.into(),
                position: pos,
            });
        }
        let value_start = pos + close + 1;
        let value_end = s[value_start..]
            .find('(')
            .map_or(s.len(), |i| value_start + i);
        out.push((ai, s[value_start..value_end].to_string(), pos));
        pos = value_end;
    }
    Ok(out)
}

/// A `YYMMDD` field as `YYYY-MM-DD`; day `00` is the month's last day; the century follows
/// section 7.12 against `reference_year`.
fn date(ai: &str, value: &str, position: usize, reference_year: i64) -> Result<String, Gs1Error> {
    let bad = |problem: &str| Gs1Error::Malformed {
        ai: ai.into(),
        position,
        value: value.into(),
        problem: problem.into(),
    };
    if value.len() != 6 || !value.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad("not a date: expected 6 digits YYMMDD"));
    }
    let n = |r: std::ops::Range<usize>| value[r].parse::<i64>().unwrap_or(-1);
    let (yy, mm, dd) = (n(0..2), n(2..4), n(4..6));
    let current_century = reference_year.div_euclid(100) * 100;
    let difference = yy - reference_year.rem_euclid(100);
    let year = match difference {
        51..=99 => current_century - 100 + yy,
        -99..=-50 => current_century + 100 + yy,
        _ => current_century + yy,
    };
    if !(1..=12).contains(&mm) {
        return Err(bad("not a date: month must be 01 to 12"));
    }
    let last = crate::time::days_in_month(year, mm);
    let day = if dd == 0 { last } else { dd };
    if day > last {
        return Err(bad(&format!("not a date: {year}-{mm:02} has {last} days")));
    }
    Ok(crate::time::format_date(year, mm, day))
}

/// Parses a GS1 element string as a scanner types it (see the module documentation).
/// `reference_year` is the current year, for the century of two-digit years.
pub fn parse(input: &str, reference_year: i64) -> Result<Gs1Data, Gs1Error> {
    let mut data = Gs1Data::default();
    for (ai, value, position) in elements(input)? {
        let slot = match ai {
            "01" => &mut data.gtin,
            "10" => &mut data.lot,
            "11" => &mut data.production_date,
            "17" => &mut data.expiry_date,
            _ => &mut data.serial,
        };
        if slot.is_some() {
            return Err(Gs1Error::Repeated { ai: ai.into() });
        }
        let parsed = match ai {
            "01" => {
                if value.len() != 14 || !value.chars().all(|c| c.is_ascii_digit()) {
                    return Err(Gs1Error::Malformed {
                        ai: ai.into(),
                        position,
                        value,
                        problem: "not a GTIN-14: expected 14 digits".into(),
                    });
                }
                validate_gtin(&value)?
            }
            "11" | "17" => date(ai, &value, position, reference_year)?,
            _ => {
                if value.is_empty() || value.chars().any(|c| c.is_control() || c == ' ') {
                    return Err(Gs1Error::Malformed {
                        ai: ai.into(),
                        position,
                        value,
                        problem: "empty or holds a space or control character".into(),
                    });
                }
                value
            }
        };
        *slot = Some(parsed);
    }
    Ok(data)
}

/// Whether `text` looks like a GS1 element string or a bare GTIN rather than some other
/// identifier (a bag id): it starts with a symbology identifier, an opening parenthesis, the
/// AI (01), or is 8 to 14 digits.
pub fn looks_like_gs1(text: &str) -> bool {
    let t = text.trim();
    t.starts_with("]C1")
        || t.starts_with("]d2")
        || t.starts_with("]Q3")
        || t.starts_with("(01)")
        || t.get(..16)
            .is_some_and(|h| h.starts_with("01") && h.chars().all(|c| c.is_ascii_digit()))
        || (matches!(t.len(), 8 | 12 | 13 | 14) && t.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Check digits: the GTIN-13 worked example used by GS1 member organisations
    /// (6 2 9 1 0 4 1 5 0 0 2 1 → 3), the GS1 India example (890400021003 → 7) and the GS1
    /// example GTIN 09506000134352 that appears throughout the GS1 Digital Link and barcode
    /// examples (→ 2).
    #[test]
    fn check_digits_of_published_examples() {
        assert_eq!(check_digit("629104150021"), Some(3));
        assert_eq!(check_digit("890400021003"), Some(7));
        assert_eq!(check_digit("0950600013435"), Some(2));
        assert_eq!(check_digit("12a"), None);
        assert_eq!(
            validate_gtin("6291041500213").as_deref(),
            Ok("06291041500213")
        );
        assert_eq!(
            validate_gtin("6291041500214"),
            Err(Gs1Error::CheckDigit {
                gtin: "6291041500214".into(),
                found: 4,
                expected: 3
            })
        );
    }

    #[test]
    fn parenthesised_and_raw_forms_read_the_same() {
        let expected = Gs1Data {
            gtin: Some("09506000134352".into()),
            lot: Some("ABC123".into()),
            expiry_date: Some("2026-12-25".into()),
            production_date: None,
            serial: Some("SN42".into()),
        };
        let forms = [
            "(01)09506000134352(17)261225(10)ABC123(21)SN42".to_string(),
            format!("]d201095060001343521726122510ABC123{GROUP_SEPARATOR}21SN42"),
            format!(
                "{GROUP_SEPARATOR}010950600013435217261225{GROUP_SEPARATOR}10ABC123{GROUP_SEPARATOR}21SN42\r\n"
            ),
            format!("]C1010950600013435221SN42{GROUP_SEPARATOR}10ABC123{GROUP_SEPARATOR}17261225"),
        ];
        for f in &forms {
            assert_eq!(parse(f, 2026).as_ref(), Ok(&expected), "{f:?}");
        }
    }

    #[test]
    fn day_zero_is_the_last_day_of_the_month_and_the_century_slides() {
        let exp = |s: &str, year| parse(&format!("(17){s}"), year).map(|d| d.expiry_date);
        assert_eq!(exp("280200", 2026), Ok(Some("2028-02-29".into())));
        assert_eq!(exp("270200", 2026), Ok(Some("2027-02-28".into())));
        assert_eq!(exp("261100", 2026), Ok(Some("2026-11-30".into())));
        // Section 7.12: 2026 and YY = 80 (difference 54) is 1980; 2098 and YY = 05 is 2105.
        assert_eq!(exp("800101", 2026), Ok(Some("1980-01-01".into())));
        assert_eq!(exp("050101", 2098), Ok(Some("2105-01-01".into())));
        assert!(matches!(
            exp("261301", 2026),
            Err(Gs1Error::Malformed { .. })
        ));
        assert!(matches!(
            exp("260231", 2026),
            Err(Gs1Error::Malformed { .. })
        ));
    }

    #[test]
    fn malformed_strings_are_refused_by_name() {
        let e = |s: &str| parse(s, 2026).expect_err(s).to_string();
        assert!(e("(01)09506000134353").contains("check digit 3, expected 2"));
        assert!(e("(01)0950600013435").contains("expected 14 digits"));
        assert!(e("(99)ABC").contains("AI (99)"));
        assert!(e("0109506000134352(10)X").contains("not a GS1"));
        assert!(e("(10)A(10)B").contains("twice"));
        assert!(e("hello").contains("not a GS1"));
        assert!(e("").contains("empty"));
        assert!(e("10ABCDEFGHIJKLMNOPQRSTUVWXYZ").contains("longer than 20"));
        assert!(e("(17)26").contains("6 digits"));
    }

    #[test]
    fn no_panic_on_any_short_input() {
        let alphabet = ['0', '1', '7', '(', ')', GROUP_SEPARATOR, 'A', ']'];
        let mut s = String::new();
        for n in 0..8u32.pow(5) {
            s.clear();
            let mut k = n;
            for _ in 0..5 {
                s.push(alphabet[(k % 8) as usize]);
                k /= 8;
            }
            let _ = parse(&s, 2026);
            let _ = looks_like_gs1(&s);
        }
    }

    #[test]
    fn a_bag_id_does_not_look_like_gs1_and_a_gtin_does() {
        assert!(looks_like_gs1("09506000134352"));
        assert!(looks_like_gs1("(01)09506000134352(10)X"));
        assert!(looks_like_gs1("0109506000134352"));
        assert!(!looks_like_gs1("019a7c3e-1b2c-7d00-8000-000000000001"));
    }
}
