//! UTC instants as microseconds since the Unix epoch, and their ISO 8601 text.
//!
//! Only the proleptic Gregorian calendar in UTC is needed here (the record stores UTC; the UI
//! shows the site's zone), so the conversion is the civil-from-days algorithm of
//! H. Hinnant, "chrono-Compatible Low-Level Date Algorithms" (2013), without a time-zone
//! database.

use crate::AppError;

const US_PER_S: i64 = 1_000_000;
const S_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `2026-11-26T09:00:00Z` (seconds precision).
pub fn iso_from_us(us: i64) -> String {
    let s = us.div_euclid(US_PER_S);
    let days = s.div_euclid(S_PER_DAY);
    let sod = s.rem_euclid(S_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// `2026-11-26`.
pub fn date_from_us(us: i64) -> String {
    let (y, m, d) = civil_from_days(us.div_euclid(US_PER_S).div_euclid(S_PER_DAY));
    format!("{y:04}-{m:02}-{d:02}")
}

fn num(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Reads `YYYY-MM-DD` into (year, month, day), checking the day exists.
pub fn parse_date(field: &str, text: &str) -> Result<(i64, i64, i64), AppError> {
    let bad = || AppError::invalid(field, text, "a calendar date YYYY-MM-DD");
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(bad());
    }
    let (y, m, d) = (
        num(y).ok_or_else(bad)?,
        num(m).ok_or_else(bad)?,
        num(d).ok_or_else(bad)?,
    );
    if !(1..=12).contains(&m) || d < 1 {
        return Err(bad());
    }
    // The day must survive a round trip (rejects 2026-02-30).
    if civil_from_days(days_from_civil(y, m, d)) != (y, m, d) {
        return Err(bad());
    }
    Ok((y, m, d))
}

/// Reads a UTC instant `YYYY-MM-DDTHH:MM[:SS]Z` into microseconds since the epoch. Only `Z`
/// is accepted so that no instant is ever read in a guessed zone.
pub fn parse_instant(field: &str, text: &str) -> Result<i64, AppError> {
    let bad = || {
        AppError::invalid(
            field,
            text,
            "a UTC date-time YYYY-MM-DDTHH:MM:SSZ (the trailing Z is required)",
        )
    };
    let body = text.strip_suffix('Z').ok_or_else(bad)?;
    let (date, clock) = body.split_once('T').ok_or_else(bad)?;
    let (y, m, d) = parse_date(field, date).map_err(|_| bad())?;
    let mut hms = clock.split(':');
    let h = hms.next().and_then(num).ok_or_else(bad)?;
    let mi = hms.next().and_then(num).ok_or_else(bad)?;
    let s = match hms.next() {
        Some(s) => num(s).ok_or_else(bad)?,
        None => 0,
    };
    if hms.next().is_some() || h > 23 || mi > 59 || s > 59 {
        return Err(bad());
    }
    let secs = days_from_civil(y, m, d) * S_PER_DAY + h * 3600 + mi * 60 + s;
    Ok(secs * US_PER_S)
}

/// Age in whole years on the day of `at_us` for a birth date `YYYY-MM-DD`, and the whole
/// months (for children under 2 years, whose doses are checked in months).
pub fn age_at(birth_date: &str, at_us: i64) -> Result<(i64, i64), AppError> {
    let (by, bm, bd) = parse_date("birth_date", birth_date)?;
    let (y, m, d) = civil_from_days(at_us.div_euclid(US_PER_S).div_euclid(S_PER_DAY));
    let mut months = (y - by) * 12 + (m - bm);
    if d < bd {
        months -= 1;
    }
    Ok((months.div_euclid(12), months))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_known_instants() {
        assert_eq!(iso_from_us(0), "1970-01-01T00:00:00Z");
        let us = parse_instant("at", "2026-11-26T09:00:00Z").unwrap_or_default();
        assert_eq!(iso_from_us(us), "2026-11-26T09:00:00Z");
        assert_eq!(us, 1_795_683_600 * US_PER_S);
        assert_eq!(date_from_us(us), "2026-11-26");
    }

    #[test]
    fn refuses_impossible_dates_and_zoneless_times() {
        assert!(parse_date("d", "2026-02-30").is_err());
        assert!(parse_date("d", "2024-02-29").is_ok());
        assert!(parse_instant("at", "2026-11-26T09:00:00").is_err());
        assert!(parse_instant("at", "2026-11-26T24:00:00Z").is_err());
    }

    #[test]
    fn age_counts_completed_years_and_months() {
        let at = parse_instant("at", "2026-11-26T09:00:00Z").unwrap_or_default();
        assert_eq!(age_at("1972-11-27", at).ok(), Some((53, 647)));
        assert_eq!(age_at("1972-11-26", at).ok(), Some((54, 648)));
        assert_eq!(age_at("2025-10-01", at).ok(), Some((1, 13)));
    }
}
