//! What HL7 v2 reads codes into: LOINC codes to the labs and body measurements the dose
//! engine reads, UCUM unit codes to the spellings of `infusio-core`'s unit parser, through
//! the workspace's one closed table ([`infusio_core::codes`], shared with FHIR). A code not
//! in it is refused with its name, never guessed.

use infusio_core::codes::{ObsKind, obs_from_loinc, record_unit_of_ucum};

/// What an observation becomes in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A body weight (measurement `weight`, kg).
    Weight,
    /// A body height (measurement `height`, cm).
    Height,
    /// A lab result under the check engine's lab name (`infusio_core::check::LAB_NAMES`).
    Lab(&'static str),
}

/// The target of a LOINC code, if the record keeps it (the workspace's one table,
/// [`infusio_core::codes`]).
pub fn loinc_target(code: &str) -> Option<Target> {
    obs_from_loinc(code).map(|(kind, _)| match kind {
        ObsKind::Measurement("height") => Target::Height,
        ObsKind::Measurement(_) => Target::Weight,
        ObsKind::Lab(name) => Target::Lab(name),
    })
}

/// The core spelling of a unit code (matched exactly: UCUM is case-sensitive), from the
/// workspace's one UCUM table ([`infusio_core::codes::UCUM_READ`]).
pub fn core_unit(code: &str) -> Option<&'static str> {
    record_unit_of_ucum(code)
}

/// A plain decimal as HL7's NM data type writes it (`-12.5`, `+3`, `.5`): a number, or None.
pub fn parse_nm(text: &str) -> Option<f64> {
    let t = text.trim();
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    if body.is_empty() || body == "." {
        return None;
    }
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v: f64 = t.parse().ok().or_else(|| {
        // ".5" and "-.5" are valid NM; Rust parses them too, this is only a fallback.
        format!("0{body}").parse().ok()
    })?;
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lab_target_is_a_lab_the_checks_read() {
        let codes = infusio_core::codes::OBS_CODES
            .iter()
            .filter_map(|c| c.loinc);
        let alternates = infusio_core::codes::LOINC_ALTERNATES
            .iter()
            .map(|(c, ..)| *c);
        for code in codes.chain(alternates) {
            let target = loinc_target(code);
            assert!(target.is_some(), "{code} has no target");
            if let Some(Target::Lab(name)) = target {
                assert!(
                    infusio_core::check::lab_unit(name).is_some(),
                    "{code} maps to unknown lab {name}"
                );
            }
        }
        assert_eq!(loinc_target("29463-7"), Some(Target::Weight));
        assert_eq!(loinc_target("3137-7"), Some(Target::Height));
        assert_eq!(
            loinc_target("2160-0"),
            Some(Target::Lab("serum_creatinine"))
        );
    }

    #[test]
    fn units_are_matched_exactly() {
        assert_eq!(core_unit("U/L"), Some("units/L"));
        assert_eq!(core_unit("u/l"), None);
        assert_eq!(core_unit("{cells}/uL"), None);
        assert_eq!(core_unit("MDC_DIM_MILLI_L_PER_HR"), Some("mL/h"));
    }

    #[test]
    fn nm_is_a_plain_decimal() {
        assert_eq!(parse_nm("1.4"), Some(1.4));
        assert_eq!(parse_nm(" -0.5 "), Some(-0.5));
        assert_eq!(parse_nm(".5"), Some(0.5));
        for bad in [
            "", ".", "<0.2", "1e3", "1,2", "NaN", "inf", "1.2.3", "12 mg",
        ] {
            assert_eq!(parse_nm(bad), None, "{bad:?}");
        }
    }
}
