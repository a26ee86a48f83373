//! ISMP-safe number formatting: a leading zero (`0.5`), no trailing zero (`1`, never `1.0`),
//! thousands separators from 1,000 (`25,000`).

/// Formats `value` with at most `max_decimals` decimals, trailing zeros removed.
///
/// ```
/// use infusio_core::units::format_number;
/// assert_eq!(format_number(1.0, 2), "1");
/// assert_eq!(format_number(0.5, 2), "0.5");
/// assert_eq!(format_number(25000.0, 0), "25,000");
/// assert_eq!(format_number(1234.567, 1), "1,234.6");
/// ```
pub fn format_number(value: f64, max_decimals: usize) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let fixed = format!("{:.*}", max_decimals, value.abs());
    let (int_part, frac_part) = match fixed.split_once('.') {
        Some((i, f)) => (i.to_string(), f.trim_end_matches('0').to_string()),
        None => (fixed.clone(), String::new()),
    };
    let mut grouped = String::new();
    for (i, c) in int_part.chars().enumerate() {
        if i > 0 && (int_part.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let negative =
        value < 0.0 && (grouped.chars().any(|c| c != '0' && c != ',') || !frac_part.is_empty());
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&grouped);
    if !frac_part.is_empty() {
        out.push('.');
        out.push_str(&frac_part);
    }
    out
}

/// `"<number> <unit>"` with ISMP formatting.
pub fn format_quantity(value: f64, unit: &str, max_decimals: usize) -> String {
    if unit == "%" {
        format!("{}%", format_number(value, max_decimals))
    } else {
        format!("{} {}", format_number(value, max_decimals), unit)
    }
}

/// The number of decimals to show for a value in `unit`, following common clinical display
/// precision: BSA 2 dp, clearances whole numbers, pump rates 0.1 mL/h, doses up to 2 dp
/// (3 under 1), everything else 2 significant decimals.
pub fn display_decimals(unit: &str, value: f64) -> usize {
    match unit {
        "m2" => 2,
        "mL/min" | "mL/min/1.73m2" => 0,
        "mL/h" | "gtt/min" => 1,
        "units" | "mEq" | "kcal" | "kcal/day" => 0,
        _ if value.abs() < 1.0 => 3,
        _ => 2,
    }
}
