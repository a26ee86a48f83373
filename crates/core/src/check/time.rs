//! ISO 8601 instants as hours since 1970-01-01T00:00Z. No clock is read: the time of a check
//! is part of its input. The calendar is [`crate::time`].

use crate::time::{US_PER_DAY, parse_date, parse_instant_with_offset};

/// Parses `2026-11-26` (midnight UTC), `2026-11-26T09:00Z`, `2026-11-26T09:00:00Z`,
/// `2026-11-26T09:00:00.5+01:00`. A date-time without a zone is refused (it would be a guess).
pub fn parse_instant_h(text: &str) -> Option<f64> {
    let text = text.trim();
    let us = if text.contains(['T', 't', ' ']) {
        parse_instant_with_offset("", text).ok()?
    } else {
        let (y, m, d) = parse_date("", text).ok()?;
        crate::time::us_from_date(y, m, d)
    };
    Some(us as f64 / US_PER_DAY as f64 * 24.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(parse_instant_h("1970-01-01"), Some(0.0));
        assert_eq!(parse_instant_h("1970-01-02T00:00:00Z"), Some(24.0));
        // 2026-11-26 is day 20,783 since the epoch.
        assert_eq!(parse_instant_h("2026-11-26"), Some(20_783.0 * 24.0));
        let a = parse_instant_h("2026-11-26T09:00:00Z").unwrap_or(f64::NAN);
        let b = parse_instant_h("2026-11-26T10:00:00+01:00").unwrap_or(f64::NAN);
        assert!((a - b).abs() < 1e-9);
    }

    #[test]
    fn refuses_zoneless_and_malformed() {
        assert_eq!(parse_instant_h("2026-11-26T09:00:00"), None);
        assert_eq!(parse_instant_h("26/11/2026"), None);
        assert_eq!(parse_instant_h("2026-13-01"), None);
        assert_eq!(parse_instant_h("2026-11-26T25:00Z"), None);
    }
}
