//! ISO 8601 instants as hours since 1970-01-01T00:00Z. No clock is read: the time of a check
//! is part of its input.

/// Days from 1970-01-01 to a civil date (proleptic Gregorian; H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `2026-11-26`, `2026-11-26T09:00Z`, `2026-11-26T09:00:00Z`,
/// `2026-11-26T09:00:00.5+01:00`. A date-time without a zone is refused (it would be a guess).
pub fn parse_instant_h(text: &str) -> Option<f64> {
    let text = text.trim();
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let y = num(parts.next()?)?;
    let m = num(parts.next()?)?;
    let d = num(parts.next()?)?;
    if parts.next().is_some()
        || date.len() != 10
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&d)
    {
        return None;
    }
    let days = days_from_civil(y, m, d);
    let Some(time) = time else {
        return Some(days as f64 * 24.0);
    };
    let (clock, offset_h) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0.0)
    } else {
        let idx = time.rfind(['+', '-'])?;
        let (c, off) = time.split_at(idx);
        let sign = if off.starts_with('-') { -1.0 } else { 1.0 };
        let (oh, om) = off[1..].split_once(':')?;
        let (oh, om) = (num(oh)?, num(om)?);
        if oh > 23 || om > 59 {
            return None;
        }
        (c, sign * (oh as f64 + om as f64 / 60.0))
    };
    let mut hms = clock.split(':');
    let h = num(hms.next()?)?;
    let mi = num(hms.next()?)?;
    let s: f64 = match hms.next() {
        Some(s) => {
            let v: f64 = s.parse().ok()?;
            if !(0.0..61.0).contains(&v) {
                return None;
            }
            v
        }
        None => 0.0,
    };
    if hms.next().is_some() || h > 23 || mi > 59 {
        return None;
    }
    Some(days as f64 * 24.0 + h as f64 + mi as f64 / 60.0 + s / 3600.0 - offset_h)
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
