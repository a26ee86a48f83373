//! Civil dates and UTC instants: the one calendar of the workspace.
//!
//! Instants are microseconds since 1970-01-01T00:00:00Z (`*_us`), dates are (year, month,
//! day) in the proleptic Gregorian calendar. No clock is read and no time-zone database is
//! consulted: an instant given as text must carry its own offset (`Z`, `+01:00`), because a
//! zone the reader would have to assume is a guess. The day arithmetic is the
//! days-from-civil / civil-from-days pair of H. Hinnant, "chrono-Compatible Low-Level Date
//! Algorithms" (2013), valid for every year an `i64` day count can hold.
//!
//! Every parser is strict and its error is an [`InputError`] naming the field, the text as
//! given and the accepted form.

use crate::input::InputError;

/// Microseconds in one second.
pub const US_PER_S: i64 = 1_000_000;
/// Seconds in one civil day (UTC has no leap seconds in this arithmetic).
pub const S_PER_DAY: i64 = 86_400;
/// Microseconds in one civil day.
pub const US_PER_DAY: i64 = S_PER_DAY * US_PER_S;

/// The accepted form of an instant, quoted in errors.
pub const INSTANT_FORM: &str = "an ISO 8601 date-time with its offset, e.g. '2026-11-26T09:00:00Z' or '2026-11-26T10:00:00+01:00' (the offset is required)";
/// The accepted form of a date, quoted in errors.
pub const DATE_FORM: &str = "a calendar date YYYY-MM-DD";

/// Days since 1970-01-01 of a civil date (proleptic Gregorian). The date is not checked:
/// `days_from_civil(2026, 2, 30)` is 2 March; use [`parse_date`] or [`is_valid_date`] first.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month 1–12, day 1–31) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Whether `y` is a Gregorian leap year.
pub fn is_leap_year(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// The number of days of month `m` (1–12) of year `y`; 0 for a month out of range.
pub fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Whether (y, m, d) names a day of the calendar (rejects 2026-02-30 and month 13).
pub fn is_valid_date(y: i64, m: i64, d: i64) -> bool {
    (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m)
}

/// `2026-11-26T09:00:00Z`: an instant in UTC to the second (fractions are truncated
/// towards the past).
pub fn iso_from_us(us: i64) -> String {
    let s = us.div_euclid(US_PER_S);
    let (y, m, d) = civil_from_days(s.div_euclid(S_PER_DAY));
    let sod = s.rem_euclid(S_PER_DAY);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// `2026-11-26`: the UTC date of an instant.
pub fn date_from_us(us: i64) -> String {
    let (y, m, d) = civil_from_days(us.div_euclid(US_PER_DAY));
    format_date(y, m, d)
}

/// `2026-11-26`: a civil date as ISO 8601 text.
pub fn format_date(y: i64, m: i64, d: i64) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

/// The instant of midnight UTC at the start of a civil date.
pub fn us_from_date(y: i64, m: i64, d: i64) -> i64 {
    days_from_civil(y, m, d) * US_PER_DAY
}

/// A run of ASCII digits of exactly `len` characters, as a number.
fn digits(text: &str, len: usize) -> Option<i64> {
    if text.len() != len || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Reads `YYYY-MM-DD` into (year, month, day), checking that the day exists.
pub fn parse_date(field: &str, text: &str) -> Result<(i64, i64, i64), InputError> {
    parse_date_parts(text).ok_or_else(|| InputError::new(field, text, DATE_FORM))
}

fn parse_date_parts(text: &str) -> Option<(i64, i64, i64)> {
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let (y, m, d) = (digits(y, 4)?, digits(m, 2)?, digits(d, 2)?);
    is_valid_date(y, m, d).then_some((y, m, d))
}

/// Reads a UTC instant `YYYY-MM-DDTHH:MM[:SS]Z` into microseconds since the epoch. Only `Z`
/// is accepted, and whole seconds; [`parse_instant_with_offset`] also reads offsets and
/// fractions.
pub fn parse_instant(field: &str, text: &str) -> Result<i64, InputError> {
    let bad = || {
        InputError::new(
            field,
            text,
            "a UTC date-time YYYY-MM-DDTHH:MM:SSZ (the trailing Z is required)",
        )
    };
    let body = text.strip_suffix('Z').ok_or_else(bad)?;
    let (date, clock) = body.split_once('T').ok_or_else(bad)?;
    let (y, m, d) = parse_date_parts(date).ok_or_else(bad)?;
    let (h, mi, s_us) = parse_clock(clock, false).ok_or_else(bad)?;
    Ok(us_from_date(y, m, d) + (h * 3600 + mi * 60) * US_PER_S + s_us)
}

/// Reads an ISO 8601 instant with its offset into microseconds since the epoch:
/// `YYYY-MM-DD(T|t| )HH:MM[:SS[.ffffff]](Z|z|±HH:MM|±HHMM|±HH)`. An instant without an offset
/// is refused (its zone would be a guess), as are impossible dates (31 April), hours past
/// 23, minutes or seconds past 59 and offsets beyond ±18:00. Fractions of a second are kept
/// to the microsecond.
pub fn parse_instant_with_offset(field: &str, text: &str) -> Result<i64, InputError> {
    parse_offset_parts(text).ok_or_else(|| InputError::new(field, text, INSTANT_FORM))
}

fn parse_offset_parts(text: &str) -> Option<i64> {
    let (date, rest) = text.split_once(['T', 't', ' '])?;
    let (y, m, d) = parse_date_parts(date)?;
    let (clock, offset_s) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let pos = rest.rfind(['+', '-'])?;
        let (c, off) = rest.split_at(pos);
        (c, parse_offset(off)?)
    };
    let (h, mi, s_us) = parse_clock(clock, true)?;
    Some(us_from_date(y, m, d) + (h * 3600 + mi * 60 - offset_s) * US_PER_S + s_us)
}

/// What [`parse_instant_strict`] accepts, for its errors.
pub const STRICT_INSTANT_FORM: &str =
    "a dateTime with time and zone, e.g. 2026-11-26T09:00:00Z or 2026-11-26T10:00:00+01:00";

/// Reads an instant in the strict form of FHIR R4 (`dateTime` with a time, `instant`) and
/// RFC 3339: `YYYY-MM-DDTHH:MM[:SS[.f…]](Z|±HH:MM)` with an upper-case `T` and `Z`, a `.`
/// before the fraction, and an offset written `±HH:MM` within ±14:00 (FHIR R4 datatypes,
/// dateTime regex: `(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))`). An instant without its
/// zone is refused, as in [`parse_instant_with_offset`], whose looser spellings (`t`, a space,
/// `z`, `±HHMM`, `±HH`, a comma) this refuses too. Seconds may be left out (read as `:00`),
/// as the record's FHIR clients have always been allowed; fractions are kept to the
/// microsecond.
pub fn parse_instant_strict(field: &str, text: &str) -> Result<i64, InputError> {
    parse_strict_parts(text).ok_or_else(|| InputError::new(field, text, STRICT_INSTANT_FORM))
}

fn parse_strict_parts(text: &str) -> Option<i64> {
    let (date, rest) = text.split_once('T')?;
    let (y, m, d) = parse_date_parts(date)?;
    let (clock, offset_s) = if let Some(c) = rest.strip_suffix('Z') {
        (c, 0)
    } else {
        let (c, off) = rest.split_at_checked(rest.len().checked_sub(6)?)?;
        if off.as_bytes().get(3) != Some(&b':') {
            return None;
        }
        let offset_s = parse_offset(off).filter(|s| s.abs() <= 14 * 3600)?;
        (c, offset_s)
    };
    if clock.contains(',') {
        return None;
    }
    let (h, mi, s_us) = parse_clock(clock, true)?;
    Some(us_from_date(y, m, d) + (h * 3600 + mi * 60 - offset_s) * US_PER_S + s_us)
}

/// `±HH:MM`, `±HHMM` or `±HH` → seconds east of UTC.
fn parse_offset(off: &str) -> Option<i64> {
    let sign = match off.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &off[1..];
    let (h, m) = match (body.len(), body.split_once(':')) {
        (5, Some((h, m))) => (digits(h, 2)?, digits(m, 2)?),
        (4, None) => (digits(body.get(..2)?, 2)?, digits(body.get(2..)?, 2)?),
        (2, None) => (digits(body, 2)?, 0),
        _ => return None,
    };
    if m > 59 || h * 60 + m > 18 * 60 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// `HH:MM[:SS[.ffffff]]` → (hours, minutes, seconds in µs). Fractions only if allowed.
fn parse_clock(clock: &str, fractions: bool) -> Option<(i64, i64, i64)> {
    let mut parts = clock.split(':');
    let h = digits(parts.next()?, 2)?;
    let mi = digits(parts.next()?, 2)?;
    let s_us = match parts.next() {
        None => 0,
        Some(s) => {
            let (whole, frac) = match s.split_once(['.', ',']) {
                Some((w, f)) if fractions => (w, f),
                Some(_) => return None,
                None => (s, ""),
            };
            let whole = digits(whole, 2)?;
            if whole > 59 || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            if s.contains(['.', ',']) && frac.is_empty() {
                return None;
            }
            let micro = format!("{:0<6}", &frac[..frac.len().min(6)]);
            whole * US_PER_S + micro.parse::<i64>().ok()?
        }
    };
    if parts.next().is_some() || h > 23 || mi > 59 {
        return None;
    }
    Some((h, mi, s_us))
}

/// Age in completed years on the UTC day of `at_us` for a birth date `YYYY-MM-DD`, and the
/// completed months (children under 2 years have their doses checked in months). A birth
/// date after `at_us` gives negative figures; callers that need a born patient check that.
pub fn age_at(birth_date: &str, at_us: i64) -> Result<(i64, i64), InputError> {
    let (by, bm, bd) = parse_date("birth_date", birth_date)?;
    let (y, m, d) = civil_from_days(at_us.div_euclid(US_PER_DAY));
    let mut months = (y - by) * 12 + (m - bm);
    if d < bd {
        months -= 1;
    }
    Ok((months.div_euclid(12), months))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOV_26_2026_9H_US: i64 = 1_795_683_600 * US_PER_S;

    #[test]
    fn known_days_and_instants() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        // 2026-11-26 is day 20,783 since the epoch; 2000-03-01 is day 11,017.
        assert_eq!(days_from_civil(2026, 11, 26), 20_783);
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(iso_from_us(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_from_us(-1), "1969-12-31T23:59:59Z");
        let us = parse_instant("at", "2026-11-26T09:00:00Z");
        assert_eq!(us, Ok(NOV_26_2026_9H_US));
        assert_eq!(iso_from_us(NOV_26_2026_9H_US), "2026-11-26T09:00:00Z");
        assert_eq!(date_from_us(NOV_26_2026_9H_US), "2026-11-26");
        assert_eq!(us_from_date(2026, 11, 26), 20_783 * US_PER_DAY);
    }

    #[test]
    fn offsets_are_read_to_utc() {
        for text in [
            "2026-11-26T09:00:00Z",
            "2026-11-26t09:00z",
            "2026-11-26 10:00:00+01:00",
            "2026-11-26T10:00+0100",
            "2026-11-26T10:00:00+01",
            "2026-11-26T04:00:00-05:00",
        ] {
            assert_eq!(
                parse_instant_with_offset("at", text),
                Ok(NOV_26_2026_9H_US),
                "{text}"
            );
        }
        assert_eq!(
            parse_instant_with_offset("at", "2026-11-26T09:00:00.25Z"),
            Ok(NOV_26_2026_9H_US + 250_000)
        );
    }

    #[test]
    fn the_strict_form_reads_fhir_instants_and_refuses_loose_spellings() {
        for text in [
            "2026-11-26T09:00:00Z",
            "2026-11-26T09:00Z",
            "2026-11-26T10:00:00+01:00",
            "2026-11-26T04:00:00-05:00",
            "2026-11-26T23:00:00+14:00",
        ] {
            assert_eq!(
                parse_instant_strict("at", text),
                Ok(NOV_26_2026_9H_US),
                "{text}"
            );
        }
        assert_eq!(
            parse_instant_strict("at", "2026-11-26T04:00:00.250-05:00"),
            Ok(NOV_26_2026_9H_US + 250_000)
        );
        for text in [
            "2026-11-26T09:00:00",
            "2026-11-26",
            "2026-11-26t09:00:00Z",
            "2026-11-26 09:00:00Z",
            "2026-11-26T09:00:00z",
            "2026-11-26T10:00:00+0100",
            "2026-11-26T10:00:00+01",
            "2026-11-26T09:00:00,5Z",
            "2026-11-26T23:30:00+14:30",
            "2026-11-26T09:00:00+1:000",
            "2026-02-30T09:00:00Z",
            "2026-11-26T24:00:00Z",
            "2026-11-26T09:00:00\u{e9}00:00",
        ] {
            let e = parse_instant_strict("effectiveDateTime", text);
            assert!(e.is_err(), "{text} was read as {e:?}");
            if let Err(e) = e {
                assert_eq!(e.field, "effectiveDateTime");
                assert_eq!(e.value, text);
            }
        }
    }

    #[test]
    fn refuses_impossible_dates_zoneless_times_and_odd_offsets() {
        assert!(parse_date("d", "2026-02-30").is_err());
        assert!(parse_date("d", "2023-02-29").is_err());
        assert_eq!(parse_date("d", "2024-02-29"), Ok((2024, 2, 29)));
        assert!(parse_date("d", "2026-4-01").is_err());
        assert!(parse_date("d", "26/11/2026").is_err());
        assert!(parse_instant("at", "2026-11-26T09:00:00").is_err());
        assert!(parse_instant("at", "2026-11-26T24:00:00Z").is_err());
        assert!(parse_instant("at", "2026-11-26T09:00:00+01:00").is_err());
        for bad in [
            "2026-11-26T09:00:00",
            "2026-11-26",
            "2026-04-31T09:00Z",
            "2026-11-26T09:60Z",
            "2026-11-26T09:00:60Z",
            "2026-11-26T09:00:00+19:00",
            "2026-11-26T09:00:00+01:0",
            "2026-11-26T09:00:00.Z",
            "2026-11-26T9:00Z",
        ] {
            assert!(parse_instant_with_offset("at", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_field_the_text_and_the_form() {
        let e = parse_instant_with_offset("doses[1].time", "2026-11-26T09:00");
        assert_eq!(
            e,
            Err(InputError::new(
                "doses[1].time",
                "2026-11-26T09:00",
                INSTANT_FORM
            ))
        );
        let e = parse_date("birth_date", "1972-13-01");
        assert_eq!(
            e,
            Err(InputError::new("birth_date", "1972-13-01", DATE_FORM))
        );
    }

    #[test]
    fn age_counts_completed_years_and_months() {
        let at = NOV_26_2026_9H_US;
        assert_eq!(age_at("1972-11-27", at), Ok((53, 647)));
        assert_eq!(age_at("1972-11-26", at), Ok((54, 648)));
        assert_eq!(age_at("2025-10-01", at), Ok((1, 13)));
        assert!(age_at("1972-11-31", at).is_err());
    }

    #[test]
    fn month_lengths() {
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2000, 2), 29);
        assert_eq!(days_in_month(2026, 13), 0);
    }

    proptest! {
        #[test]
        fn days_and_civil_dates_round_trip(days in -1_000_000i64..1_000_000) {
            let (y, m, d) = civil_from_days(days);
            prop_assert!(is_valid_date(y, m, d));
            prop_assert_eq!(days_from_civil(y, m, d), days);
        }

        #[test]
        fn iso_text_round_trips(s in -62_135_596_800i64..253_402_300_799) {
            let us = s * US_PER_S;
            let text = iso_from_us(us);
            prop_assert_eq!(parse_instant("at", &text), Ok(us));
            prop_assert_eq!(parse_instant_with_offset("at", &text), Ok(us));
            let date = date_from_us(us);
            let (y, m, d) = parse_date("d", &date).unwrap_or((0, 0, 0));
            prop_assert_eq!(us_from_date(y, m, d), us.div_euclid(US_PER_DAY) * US_PER_DAY);
        }

        #[test]
        fn an_offset_moves_the_instant_by_itself(
            s in 0i64..4_000_000_000, h in 0i64..=14, m in 0i64..60, east: bool
        ) {
            let us = s * US_PER_S;
            let utc = iso_from_us(us);
            let shift = (h * 3600 + m * 60) * if east { 1 } else { -1 };
            let local = iso_from_us(us + shift * US_PER_S);
            let sign = if east { '+' } else { '-' };
            let text = format!("{}{sign}{h:02}:{m:02}", local.trim_end_matches('Z'));
            prop_assert_eq!(parse_instant_with_offset("at", &text), Ok(us), "{} vs {}", text, utc);
        }

        #[test]
        fn parsers_never_panic(text in "\\PC{0,40}") {
            let _ = parse_instant_with_offset("at", &text);
            let _ = parse_instant("at", &text);
            let _ = parse_date("d", &text);
        }
    }
}
