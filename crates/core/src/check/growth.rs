//! Weight plausibility: a screen for a weight recorded in the wrong unit or for the wrong
//! patient (the 13-month-old recorded at 22 "kg"), not a growth assessment.

/// Median weight-for-age (kg), sexes averaged: WHO Child Growth Standards (2006) to 5 years,
/// CDC 2000 growth charts from 6 to 18 years.
const MEDIAN_WEIGHT_KG: [(f64, f64); 18] = [
    (0.0, 3.3),
    (1.0 / 12.0, 4.3),
    (2.0 / 12.0, 5.4),
    (0.25, 6.2),
    (0.5, 7.6),
    (0.75, 8.6),
    (1.0, 9.3),
    (1.5, 10.6),
    (2.0, 11.9),
    (3.0, 14.1),
    (4.0, 16.1),
    (5.0, 18.1),
    (6.0, 20.7),
    (8.0, 25.6),
    (10.0, 32.0),
    (12.0, 40.5),
    (14.0, 50.0),
    (18.0, 62.0),
];

/// Citation of the growth references and of the screening band.
pub const GROWTH_SOURCE: &str = "WHO Child Growth Standards: weight-for-age, 2006 (0-5 y); CDC 2000 growth charts: weight-for-age, 2-20 y (medians). Plausibility band around the median is an institutional default pending pharmacist review.";

/// Median weight for an age under 18 years, linearly interpolated.
pub fn median_weight_kg(age_y: f64) -> f64 {
    let t = &MEDIAN_WEIGHT_KG;
    if age_y <= t[0].0 {
        return t[0].1;
    }
    for w in t.windows(2) {
        let ((a0, w0), (a1, w1)) = (w[0], w[1]);
        if age_y <= a1 {
            return w0 + (w1 - w0) * (age_y - a0) / (a1 - a0);
        }
    }
    t[t.len() - 1].1
}

/// The plausible band `(low, high)` in kg for an age under 18 years: median × 0.5 (no lower
/// bound under 3 months, where preterm infants weigh far less) to median × 1.6 under 2 years,
/// × 2.0 from 2 to 6 years and × 2.6 from 6 years (obesity).
pub fn plausible_band_kg(age_y: f64) -> (f64, f64) {
    let m = median_weight_kg(age_y);
    let low = if age_y < 0.25 { 0.3 } else { 0.5 * m };
    let high = if age_y < 2.0 {
        1.6 * m
    } else if age_y < 6.0 {
        2.0 * m
    } else {
        2.6 * m
    };
    (low, high)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_13_month_old_at_22_kg_is_implausible() {
        let (low, high) = plausible_band_kg(13.0 / 12.0);
        assert!(low < 9.5 && 9.5 < high);
        assert!(22.0 > high);
    }

    #[test]
    fn medians_increase_with_age() {
        let mut prev = 0.0;
        for i in 0..=216 {
            let m = median_weight_kg(i as f64 / 12.0);
            assert!(m >= prev);
            prev = m;
        }
    }
}
