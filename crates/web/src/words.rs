//! Words for clinicians: a finding's stable code (`order.duplicate_therapy`) is shown as
//! words ("Duplicate therapy"), and a duration in hours as hours and minutes ("2 h 30 min").
//! The code itself stays in the JSON, the audit trail and the page's `data-code` attributes.
//! This is the one table; every page goes through [`finding_title`] and [`duration_words`].

/// Finding codes and the words shown for them. A code not listed falls back to its dotted
/// parts made readable (`dose.per_kg.above_soft_max` → "Dose per kg: above soft max").
const FINDING_WORDS: &[(&str, &str)] = &[
    ("administration.vesicant", "Vesicant: protect the line"),
    (
        "allergy.cross_reactivity_low",
        "Allergy: low cross-reactivity",
    ),
    ("allergy.same_class", "Allergy to the same drug class"),
    ("allergy.same_drug", "Allergy to this drug"),
    (
        "concentration.above_hard_max",
        "Concentration above the hard maximum",
    ),
    (
        "concentration.above_soft_max",
        "Concentration above the usual maximum",
    ),
    (
        "concentration.below_hard_min",
        "Concentration below the hard minimum",
    ),
    (
        "concentration.below_soft_min",
        "Concentration below the usual minimum",
    ),
    (
        "concentration.unverifiable",
        "Concentration cannot be checked",
    ),
    ("dose.above_cap", "Dose above the cap"),
    ("dose.above_hard_max", "Dose above the hard maximum"),
    ("dose.above_soft_max", "Dose above the usual maximum"),
    ("dose.below_hard_min", "Dose below the hard minimum"),
    ("dose.below_soft_min", "Dose below the usual minimum"),
    (
        "dose.cumulative.above_hard_max",
        "Lifetime dose above the hard maximum",
    ),
    (
        "dose.cumulative.above_soft_max",
        "Lifetime dose above the usual maximum",
    ),
    (
        "dose.cumulative.history_incomplete",
        "Dose history incomplete",
    ),
    ("dose.unverifiable", "Dose cannot be checked"),
    ("double_check.required", "Independent double check required"),
    (
        "duration.above_hard_max",
        "Infusion longer than the hard maximum",
    ),
    ("duration.above_soft_max", "Infusion longer than usual"),
    (
        "duration.below_hard_min",
        "Infusion shorter than the hard minimum",
    ),
    ("duration.below_soft_min", "Infusion shorter than usual"),
    (
        "handling.hazardous",
        "Hazardous drug: handle with protection",
    ),
    ("lab.above_hold_threshold", "Lab above the hold threshold"),
    ("lab.below_hold_threshold", "Lab below the hold threshold"),
    ("lab.missing", "Required lab missing"),
    ("lab.result_too_old", "Lab result too old"),
    ("line.not_allowed", "Line not allowed for this drug"),
    ("medication.off_library", "Outside the drug library"),
    ("medication.unknown", "Unknown medication"),
    ("order.duplicate_therapy", "Duplicate therapy"),
    (
        "order.rate_inconsistent",
        "Rate inconsistent with volume and duration",
    ),
    ("patient.measure_missing", "Patient measure missing"),
    (
        "patient.weight_change",
        "Weight changed since the last order",
    ),
];

/// The words shown for a finding code.
pub fn finding_title(code: &str) -> String {
    if let Some((_, words)) = FINDING_WORDS.iter().find(|(c, _)| *c == code) {
        return (*words).to_string();
    }
    let mut parts = code.split('.').map(|p| p.replace('_', " "));
    let head = parts.next().unwrap_or_default();
    let rest: Vec<String> = parts.collect();
    let mut out = capitalised(&head);
    if !rest.is_empty() {
        out.push_str(": ");
        out.push_str(&rest.join(", "));
    }
    out
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A duration in hours as whole hours and minutes ("2 h 30 min", "45 min", "3 h"), rounded
/// to the minute; a negative or non-finite input is shown as given, with its unit.
pub fn duration_words(hours: f64) -> String {
    if !hours.is_finite() || hours < 0.0 {
        return format!("{hours} h");
    }
    // Durations on an order are hours to days; the cast is exact for any of them.
    #[allow(clippy::cast_possible_truncation)]
    let minutes = (hours * 60.0).round() as i64;
    if minutes == 0 && hours > 0.0 {
        // A push of a few seconds is not "0 min".
        let seconds = (hours * 3600.0).round() as i64;
        return format!("{seconds} s");
    }
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_become_words_from_the_table_or_their_parts() {
        assert_eq!(
            finding_title("order.duplicate_therapy"),
            "Duplicate therapy"
        );
        assert_eq!(
            finding_title("dose.per_kg.above_soft_max"),
            "Dose: per kg, above soft max"
        );
        assert_eq!(finding_title("lab"), "Lab");
    }

    #[test]
    fn durations_are_hours_and_minutes_never_decimal_hours() {
        assert_eq!(duration_words(2.5), "2 h 30 min");
        assert_eq!(duration_words(5.0 / 60.0), "5 min");
        assert_eq!(duration_words(3.0), "3 h");
        assert_eq!(duration_words(0.0), "0 min");
        assert_eq!(duration_words(20.0 / 3600.0), "20 s");
        assert_eq!(duration_words(1.0 / 3.0), "20 min");
        assert_eq!(duration_words(-1.0), "-1 h");
    }

    #[test]
    fn every_code_in_the_table_is_dotted_and_listed_once() {
        for (i, (code, words)) in FINDING_WORDS.iter().enumerate() {
            assert!(code.contains('.') && !words.is_empty(), "{code}");
            assert!(
                !FINDING_WORDS[i + 1..].iter().any(|(c, _)| c == code),
                "{code} twice"
            );
        }
    }
}
