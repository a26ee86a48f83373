//! The closed tables that map codes on the wire to the record: LOINC codes to the labs and
//! body measurements the dose engine reads, and UCUM unit codes to the spellings of
//! `infusio-core`'s unit parser. A code not in these tables is refused with its name, never
//! guessed. LOINC codes and names as published by the Regenstrief Institute (LOINC, loinc.org);
//! UCUM codes as in The Unified Code for Units of Measure (Regenstrief, ucum.org).

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

/// LOINC code → (target, LOINC short description).
pub const LOINC: &[(&str, Target, &str)] = &[
    ("29463-7", Target::Weight, "Body weight"),
    ("3141-9", Target::Weight, "Body weight Measured"),
    ("8302-2", Target::Height, "Body height"),
    ("3137-7", Target::Height, "Body height Measured"),
    (
        "2160-0",
        Target::Lab("serum_creatinine"),
        "Creatinine [Mass/volume] in Serum or Plasma",
    ),
    (
        "38483-4",
        Target::Lab("serum_creatinine"),
        "Creatinine [Mass/volume] in Blood",
    ),
    (
        "14682-9",
        Target::Lab("serum_creatinine"),
        "Creatinine [Moles/volume] in Serum or Plasma",
    ),
    (
        "751-8",
        Target::Lab("anc"),
        "Neutrophils [#/volume] in Blood by Automated count",
    ),
    (
        "753-4",
        Target::Lab("anc"),
        "Neutrophils [#/volume] in Blood by Manual count",
    ),
    (
        "26499-4",
        Target::Lab("anc"),
        "Neutrophils [#/volume] in Blood",
    ),
    (
        "6690-2",
        Target::Lab("wbc"),
        "Leukocytes [#/volume] in Blood by Automated count",
    ),
    (
        "777-3",
        Target::Lab("platelets"),
        "Platelets [#/volume] in Blood by Automated count",
    ),
    (
        "26515-7",
        Target::Lab("platelets"),
        "Platelets [#/volume] in Blood",
    ),
    (
        "731-0",
        Target::Lab("lymphocytes"),
        "Lymphocytes [#/volume] in Blood by Automated count",
    ),
    (
        "718-7",
        Target::Lab("hemoglobin"),
        "Hemoglobin [Mass/volume] in Blood",
    ),
    (
        "2823-3",
        Target::Lab("potassium"),
        "Potassium [Moles/volume] in Serum or Plasma",
    ),
    (
        "6298-4",
        Target::Lab("potassium"),
        "Potassium [Moles/volume] in Blood",
    ),
    (
        "2951-2",
        Target::Lab("sodium"),
        "Sodium [Moles/volume] in Serum or Plasma",
    ),
    (
        "19123-9",
        Target::Lab("magnesium"),
        "Magnesium [Mass/volume] in Serum or Plasma",
    ),
    (
        "17861-6",
        Target::Lab("calcium"),
        "Calcium [Mass/volume] in Serum or Plasma",
    ),
    (
        "2777-1",
        Target::Lab("phosphate"),
        "Phosphate [Mass/volume] in Serum or Plasma",
    ),
    (
        "2345-7",
        Target::Lab("glucose"),
        "Glucose [Mass/volume] in Serum or Plasma",
    ),
    (
        "2571-8",
        Target::Lab("triglycerides"),
        "Triglyceride [Mass/volume] in Serum or Plasma",
    ),
    (
        "1975-2",
        Target::Lab("bilirubin"),
        "Bilirubin.total [Mass/volume] in Serum or Plasma",
    ),
    (
        "1920-8",
        Target::Lab("ast"),
        "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
    ),
    (
        "1742-6",
        Target::Lab("alt"),
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
    ),
    (
        "1751-7",
        Target::Lab("albumin"),
        "Albumin [Mass/volume] in Serum or Plasma",
    ),
    (
        "2276-4",
        Target::Lab("ferritin"),
        "Ferritin [Mass/volume] in Serum or Plasma",
    ),
    (
        "2502-3",
        Target::Lab("transferrin_saturation"),
        "Iron saturation [Mass Fraction] in Serum or Plasma",
    ),
];

/// The target of a LOINC code, if the record keeps it.
pub fn loinc_target(code: &str) -> Option<Target> {
    LOINC.iter().find(|(c, ..)| *c == code).map(|(_, t, _)| *t)
}

/// UCUM code → the core parser's spelling. The enzyme unit `U` of UCUM is the core's
/// `units` (the core refuses the bare `U` that ISMP lists as error-prone in handwriting, but
/// a coded UCUM field is not handwriting). Device nomenclature units (ISO/IEEE 11073 MDC)
/// that pumps send are listed by their reference id.
pub const UCUM: &[(&str, &str)] = &[
    ("mg/dL", "mg/dL"),
    ("mg/L", "mg/L"),
    ("g/dL", "g/dL"),
    ("g/L", "g/L"),
    ("ug/L", "mcg/L"),
    ("ng/mL", "ng/mL"),
    ("umol/L", "umol/L"),
    ("mmol/L", "mmol/L"),
    ("meq/L", "mEq/L"),
    ("mEq/L", "mEq/L"),
    ("10*9/L", "10*9/L"),
    ("10*3/uL", "10*3/uL"),
    ("10*3/mm3", "10*3/mm3"),
    ("U/L", "units/L"),
    ("[IU]/L", "units/L"),
    ("%", "%"),
    ("kg", "kg"),
    ("g", "g"),
    ("[lb_av]", "lb"),
    ("cm", "cm"),
    ("m", "m"),
    ("[in_i]", "in"),
    ("mL", "mL"),
    ("mL/h", "mL/h"),
    ("mg", "mg"),
    ("MDC_DIM_MILLI_L", "mL"),
    ("MDC_DIM_MILLI_L_PER_HR", "mL/h"),
    ("MDC_DIM_KILO_G", "kg"),
    ("MDC_DIM_CENTI_M", "cm"),
];

/// The core spelling of a unit code (matched exactly: UCUM is case-sensitive).
pub fn core_unit(code: &str) -> Option<&'static str> {
    UCUM.iter().find(|(u, _)| *u == code).map(|(_, c)| *c)
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
        for (code, target, _) in LOINC {
            if let Target::Lab(name) = target {
                assert!(
                    infusio_core::check::lab_unit(name).is_some(),
                    "{code} maps to unknown lab {name}"
                );
            }
        }
    }

    #[test]
    fn every_mapped_unit_parses_in_the_core() {
        for (ucum, core) in UCUM {
            assert!(
                infusio_core::units::parse_unit(core).is_ok(),
                "{ucum} → {core} does not parse"
            );
        }
        assert_eq!(core_unit("U/L"), Some("units/L"));
        assert_eq!(core_unit("u/l"), None);
        assert_eq!(core_unit("{cells}/uL"), None);
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
