//! Times in the contract: a duration from time zero (`"11.5 h"`) or an ISO 8601 date-time
//! with its offset (`"2026-11-26T09:00:00Z"`), never a mix. The calendar is
//! [`infusio_core::time`].

use infusio_core::input::{Fields, InputError, as_given, check_range, parse_quantity_value};
use infusio_core::time::{US_PER_S, parse_instant_with_offset};
use infusio_core::units::Duration;
use serde_json::Value;

/// One time as given.
#[derive(Clone, Copy, Debug)]
pub(super) enum TimeValue {
    Hours(f64),
    /// Microseconds since 1970-01-01T00:00:00Z.
    Instant(i64),
}

/// Reads a time at `key`; returns it with its path for later errors.
pub(super) fn read_time(f: &mut Fields, key: &str) -> Result<(TimeValue, String), InputError> {
    let path = f.path_of(key);
    let value = f.raw(key).ok_or_else(|| {
        InputError::new(
            &path,
            "",
            "required: a time such as '11.5 h' or an ISO date-time such as '2026-11-26T09:00:00Z'",
        )
    })?;
    if let Value::String(s) = value
        && looks_like_iso(s)
    {
        return parse_instant_with_offset(&path, s)
            .map(|us| (TimeValue::Instant(us), path.clone()))
            .map_err(|_| {
                InputError::new(&path, s.clone(), "not a valid ISO 8601 date-time; expected e.g. '2026-11-26T09:00:00Z' or '2026-11-26T10:00:00+01:00' (the offset is required)")
            });
    }
    let d = parse_quantity_value(
        value,
        &path,
        "a time such as '11.5 h' or an ISO date-time",
        Duration::from_quantity,
    )?;
    check_range(&path, &as_given(value), d.value(), -8760.0, 87_600.0, "h")?;
    Ok((TimeValue::Hours(d.value()), path))
}

fn looks_like_iso(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-'
}

/// Converts every time to hours from a common origin. With ISO date-times the origin is the
/// earliest of them (returned in microseconds since the epoch); mixing forms is refused at
/// the first odd one.
pub(super) fn resolve_times(
    times: &[(TimeValue, String)],
) -> Result<(Vec<f64>, Option<i64>), InputError> {
    let iso = matches!(times.first(), Some((TimeValue::Instant(_), _)));
    let mut origin = i64::MAX;
    for (t, path) in times {
        match (t, iso) {
            (TimeValue::Instant(us), true) => origin = origin.min(*us),
            (TimeValue::Hours(_), false) => {}
            _ => {
                return Err(InputError::new(
                    path,
                    "",
                    "all times must be of one form: either durations from time zero ('11.5 h') or ISO date-times, not a mix",
                ));
            }
        }
    }
    let us_per_h = (3600 * US_PER_S) as f64;
    let hours = times
        .iter()
        .map(|(t, _)| match t {
            TimeValue::Hours(h) => *h,
            TimeValue::Instant(us) => (us - origin) as f64 / us_per_h,
        })
        .collect();
    Ok((hours, iso.then_some(origin)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn times(values: &[Value]) -> Result<(Vec<f64>, Option<i64>), InputError> {
        let object = json!({"t": values});
        let list = object["t"].as_array().cloned().unwrap_or_default();
        let mut read = Vec::new();
        for (i, v) in list.iter().enumerate() {
            let wrapped = json!({ "time": v });
            let mut f = Fields::new(&wrapped, &format!("doses[{i}]"))?;
            read.push(read_time(&mut f, "time")?);
        }
        resolve_times(&read)
    }

    #[test]
    fn iso_times_become_hours_from_the_earliest() {
        let r = times(&[
            json!("2026-11-24T20:00:00Z"),
            json!("2026-11-24T08:00:00Z"),
            json!("2026-11-24T10:30:00+01:00"),
        ]);
        let (hours, origin) = r.unwrap_or_default();
        assert_eq!(hours, vec![12.0, 0.0, 1.5]);
        assert_eq!(
            origin.map(infusio_core::time::iso_from_us),
            Some("2026-11-24T08:00:00Z".to_string())
        );
    }

    #[test]
    fn mixed_or_zoneless_times_are_refused_by_field() {
        let e = times(&[json!("2026-11-24T08:00:00Z"), json!("12 h")]);
        assert_eq!(e.map_err(|e| e.field), Err("doses[1].time".to_string()));
        let e = times(&[json!("2026-11-24T08:00:00")]);
        assert_eq!(e.map_err(|e| e.field), Err("doses[0].time".to_string()));
        let e = times(&[json!("2026-02-30T08:00:00Z")]);
        assert_eq!(e.map_err(|e| e.field), Err("doses[0].time".to_string()));
    }
}
