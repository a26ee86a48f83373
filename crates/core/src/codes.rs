//! The one table of codes on the wire: LOINC codes of the observations the record keeps (body
//! measurements and the labs the dose checks read) and UCUM unit codes of the record's units.
//! HL7 v2 (`infusio-interop`) and FHIR (`infusio-fhir`) both read and write through it, so an
//! observation or a unit is coded the same way on every interface.
//!
//! LOINC codes and names as published by the Regenstrief Institute (LOINC, loinc.org); UCUM
//! codes as in The Unified Code for Units of Measure (Regenstrief Institute, ucum.org;
//! case-sensitive codes). A code not in these tables is refused by the readers with its name,
//! never guessed.

/// What an observation is in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObsKind {
    /// A measurement: `weight` or `height`.
    Measurement(&'static str),
    /// A lab: the record's lab name.
    Lab(&'static str),
}

/// One observation the record keeps: its LOINC code and display, and the UCUM code of the
/// record's unit.
pub struct ObsCode {
    pub kind: ObsKind,
    pub loinc: Option<&'static str>,
    pub display: &'static str,
    /// The record's unit as written in the record.
    pub unit: &'static str,
    /// The same unit as a UCUM code.
    pub ucum: &'static str,
}

/// LOINC codes: the LOINC table (Regenstrief Institute, loinc.org), the usual serum/plasma or
/// blood quantity of each lab. `factor_level` has no single LOINC code (it depends on the
/// factor) and is sent with the local code only.
pub const OBS_CODES: &[ObsCode] = &[
    ObsCode {
        kind: ObsKind::Measurement("weight"),
        loinc: Some("29463-7"),
        display: "Body weight",
        unit: "kg",
        ucum: "kg",
    },
    ObsCode {
        kind: ObsKind::Measurement("height"),
        loinc: Some("8302-2"),
        display: "Body height",
        unit: "cm",
        ucum: "cm",
    },
    ObsCode {
        kind: ObsKind::Lab("serum_creatinine"),
        loinc: Some("2160-0"),
        display: "Creatinine [Mass/volume] in Serum or Plasma",
        unit: "mg/dL",
        ucum: "mg/dL",
    },
    ObsCode {
        kind: ObsKind::Lab("anc"),
        loinc: Some("751-8"),
        display: "Neutrophils [#/volume] in Blood by Automated count",
        unit: "10*9/L",
        ucum: "10*9/L",
    },
    ObsCode {
        kind: ObsKind::Lab("wbc"),
        loinc: Some("6690-2"),
        display: "Leukocytes [#/volume] in Blood by Automated count",
        unit: "10*9/L",
        ucum: "10*9/L",
    },
    ObsCode {
        kind: ObsKind::Lab("platelets"),
        loinc: Some("777-3"),
        display: "Platelets [#/volume] in Blood by Automated count",
        unit: "10*9/L",
        ucum: "10*9/L",
    },
    ObsCode {
        kind: ObsKind::Lab("lymphocytes"),
        loinc: Some("731-0"),
        display: "Lymphocytes [#/volume] in Blood by Automated count",
        unit: "10*9/L",
        ucum: "10*9/L",
    },
    ObsCode {
        kind: ObsKind::Lab("hemoglobin"),
        loinc: Some("718-7"),
        display: "Hemoglobin [Mass/volume] in Blood",
        unit: "g/dL",
        ucum: "g/dL",
    },
    ObsCode {
        kind: ObsKind::Lab("potassium"),
        loinc: Some("2823-3"),
        display: "Potassium [Moles/volume] in Serum or Plasma",
        unit: "mEq/L",
        ucum: "meq/L",
    },
    ObsCode {
        kind: ObsKind::Lab("sodium"),
        loinc: Some("2951-2"),
        display: "Sodium [Moles/volume] in Serum or Plasma",
        unit: "mEq/L",
        ucum: "meq/L",
    },
    ObsCode {
        kind: ObsKind::Lab("magnesium"),
        loinc: Some("19123-9"),
        display: "Magnesium [Mass/volume] in Serum or Plasma",
        unit: "mg/dL",
        ucum: "mg/dL",
    },
    ObsCode {
        kind: ObsKind::Lab("calcium"),
        loinc: Some("17861-6"),
        display: "Calcium [Mass/volume] in Serum or Plasma",
        unit: "mg/dL",
        ucum: "mg/dL",
    },
    ObsCode {
        kind: ObsKind::Lab("phosphate"),
        loinc: Some("2777-1"),
        display: "Phosphate [Mass/volume] in Serum or Plasma",
        unit: "mg/dL",
        ucum: "mg/dL",
    },
    ObsCode {
        kind: ObsKind::Lab("glucose"),
        loinc: Some("2345-7"),
        display: "Glucose [Mass/volume] in Serum or Plasma",
        unit: "mg/dL",
        ucum: "mg/dL",
    },
    ObsCode {
        kind: ObsKind::Lab("triglycerides"),
        loinc: Some("2571-8"),
        display: "Triglyceride [Mass/volume] in Serum or Plasma",
        unit: "mg/dL",
        ucum: "mg/dL",
    },
    ObsCode {
        kind: ObsKind::Lab("bilirubin"),
        loinc: Some("1975-2"),
        display: "Bilirubin.total [Mass/volume] in Serum or Plasma",
        unit: "mg/dL",
        ucum: "mg/dL",
    },
    ObsCode {
        kind: ObsKind::Lab("ast"),
        loinc: Some("1920-8"),
        display: "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        unit: "units/L",
        ucum: "U/L",
    },
    ObsCode {
        kind: ObsKind::Lab("alt"),
        loinc: Some("1742-6"),
        display: "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        unit: "units/L",
        ucum: "U/L",
    },
    ObsCode {
        kind: ObsKind::Lab("albumin"),
        loinc: Some("1751-7"),
        display: "Albumin [Mass/volume] in Serum or Plasma",
        unit: "g/dL",
        ucum: "g/dL",
    },
    ObsCode {
        kind: ObsKind::Lab("ferritin"),
        loinc: Some("2276-4"),
        display: "Ferritin [Mass/volume] in Serum or Plasma",
        unit: "ng/mL",
        ucum: "ng/mL",
    },
    ObsCode {
        kind: ObsKind::Lab("transferrin_saturation"),
        loinc: Some("2502-3"),
        display: "Iron saturation [Mass Fraction] in Serum or Plasma",
        unit: "%",
        ucum: "%",
    },
    ObsCode {
        kind: ObsKind::Lab("factor_level"),
        loinc: None,
        display: "Coagulation factor activity (factor named by the order)",
        unit: "%",
        ucum: "%",
    },
];

/// Other LOINC codes an interface may send for an observation the record keeps (measured
/// rather than stated weights, creatinine in blood or in µmol/L, manual neutrophil counts …).
/// They are read; [`OBS_CODES`] gives the code that is written.
pub const LOINC_ALTERNATES: &[(&str, ObsKind, &str)] = &[
    (
        "3141-9",
        ObsKind::Measurement("weight"),
        "Body weight Measured",
    ),
    (
        "3137-7",
        ObsKind::Measurement("height"),
        "Body height Measured",
    ),
    (
        "38483-4",
        ObsKind::Lab("serum_creatinine"),
        "Creatinine [Mass/volume] in Blood",
    ),
    (
        "14682-9",
        ObsKind::Lab("serum_creatinine"),
        "Creatinine [Moles/volume] in Serum or Plasma",
    ),
    (
        "753-4",
        ObsKind::Lab("anc"),
        "Neutrophils [#/volume] in Blood by Manual count",
    ),
    (
        "26499-4",
        ObsKind::Lab("anc"),
        "Neutrophils [#/volume] in Blood",
    ),
    (
        "26515-7",
        ObsKind::Lab("platelets"),
        "Platelets [#/volume] in Blood",
    ),
    (
        "6298-4",
        ObsKind::Lab("potassium"),
        "Potassium [Moles/volume] in Blood",
    ),
];

/// The entry of a measurement kind or lab name.
pub fn obs_code(kind: ObsKind) -> Option<&'static ObsCode> {
    OBS_CODES.iter().find(|c| c.kind == kind)
}

/// The local code of an observation kind (`weight`, `serum_creatinine`).
pub fn local_code(kind: ObsKind) -> &'static str {
    match kind {
        ObsKind::Measurement(k) | ObsKind::Lab(k) => k,
    }
}

/// What a LOINC code is in the record, and its LOINC name: the written codes of
/// [`OBS_CODES`] and the read-only [`LOINC_ALTERNATES`].
pub fn obs_from_loinc(code: &str) -> Option<(ObsKind, &'static str)> {
    OBS_CODES
        .iter()
        .find(|c| c.loinc == Some(code))
        .map(|c| (c.kind, c.display))
        .or_else(|| {
            LOINC_ALTERNATES
                .iter()
                .find(|(c, ..)| *c == code)
                .map(|(_, k, d)| (*k, *d))
        })
}

/// UCUM code → the record's spelling (the core unit parser's), for the units an interface
/// may send. The enzyme unit `U` of UCUM is the record's `units` (the core refuses a bare `U`,
/// which ISMP lists as error-prone in handwriting, but a coded UCUM field is not
/// handwriting); `[iU]` and `[IU]` are UCUM's international unit. Device nomenclature units
/// (ISO/IEEE 11073 MDC) that pumps send are listed by their reference id.
pub const UCUM_READ: &[(&str, &str)] = &[
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
    ("[iU]/L", "units/L"),
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
    ("ug", "mcg"),
    ("mmol", "mmol"),
    ("meq", "mEq"),
    ("[iU]", "units"),
    ("[IU]", "units"),
    ("MDC_DIM_MILLI_L", "mL"),
    ("MDC_DIM_MILLI_L_PER_HR", "mL/h"),
    ("MDC_DIM_KILO_G", "kg"),
    ("MDC_DIM_CENTI_M", "cm"),
];

/// The record's spelling of a unit code from [`UCUM_READ`] (matched exactly: UCUM is
/// case-sensitive), or `None` for a code the interfaces do not map.
pub fn record_unit_of_ucum(code: &str) -> Option<&'static str> {
    UCUM_READ.iter().find(|(u, _)| *u == code).map(|(_, c)| *c)
}

/// Unit atoms whose record spelling is not their UCUM code: (record, UCUM). ISMP asks for
/// `mcg`, `units` and `mEq` in what clinicians read; UCUM writes `ug`, `[iU]` (the
/// international unit of factor concentrates, heparin, insulin …) and `meq`.
const ATOMS: &[(&str, &str)] = &[
    ("mcg", "ug"),
    ("units", "[iU]"),
    ("unit", "[iU]"),
    ("mEq", "meq"),
    ("lb", "[lb_av]"),
    ("in", "[in_i]"),
    ("day", "d"),
];

/// Maps every atom of a unit (between `/` and `.`) through `f`, keeping the separators.
fn map_atoms(unit: &str, f: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(unit.len() + 4);
    let mut atom = String::new();
    for ch in unit.chars() {
        if ch == '/' || ch == '.' {
            out.push_str(&f(&atom));
            atom.clear();
            out.push(ch);
        } else {
            atom.push(ch);
        }
    }
    out.push_str(&f(&atom));
    out
}

/// The UCUM code of a unit as the record writes it (`mg`, `mcg/kg/min`, `units/kg`, `mEq`):
/// `ug/kg/min`, `[iU]/kg`, `meq`. Atoms that are already UCUM pass unchanged. For the unit
/// of an observation use [`ObsCode::ucum`] (the enzyme labs' `units/L` is UCUM `U/L`).
pub fn ucum_of_record_unit(unit: &str) -> String {
    map_atoms(unit, |a| {
        ATOMS
            .iter()
            .find(|(record, _)| *record == a)
            .map_or_else(|| a.to_string(), |(_, u)| (*u).to_string())
    })
}

/// A UCUM code as the record's quantity parser reads it: the codes of [`UCUM_READ`] exactly;
/// otherwise atom by atom, `meq` → `mEq`, `U`, `[iU]` and `[IU]` → `units`, everything else as
/// given (the core parser then accepts or refuses it with its own error).
pub fn record_unit_from_ucum(code: &str) -> String {
    if let Some(u) = record_unit_of_ucum(code) {
        return u.to_string();
    }
    map_atoms(code, |a| {
        match a {
            "meq" => "mEq",
            "U" | "[iU]" | "[IU]" => "units",
            other => other,
        }
        .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lab_of_the_checks_has_a_code_and_the_record_unit() {
        for (name, unit) in crate::check::LAB_NAMES {
            let c = OBS_CODES.iter().find(|c| c.kind == ObsKind::Lab(name));
            assert!(c.is_some_and(|c| c.unit == unit), "{name}");
        }
    }

    #[test]
    fn every_code_names_a_lab_the_checks_read_and_a_unit_the_core_parses() {
        let kinds = OBS_CODES
            .iter()
            .map(|c| c.kind)
            .chain(LOINC_ALTERNATES.iter().map(|(_, k, _)| *k));
        for kind in kinds {
            match kind {
                ObsKind::Lab(name) => assert!(crate::check::lab_unit(name).is_some(), "{name}"),
                ObsKind::Measurement(m) => assert!(m == "weight" || m == "height", "{m}"),
            }
        }
        for c in OBS_CODES {
            assert!(crate::units::parse_unit(c.unit).is_ok(), "{}", c.unit);
            let back = record_unit_from_ucum(c.ucum);
            assert_eq!(
                crate::units::parse_unit(&back).ok(),
                crate::units::parse_unit(c.unit).ok(),
                "{} -> {back}",
                c.ucum
            );
        }
        for (ucum, record) in UCUM_READ {
            assert!(
                crate::units::parse_unit(record).is_ok(),
                "{ucum} -> {record} does not parse"
            );
        }
    }

    #[test]
    fn loinc_codes_are_unique_and_alternates_resolve() {
        let mut all: Vec<&str> = OBS_CODES.iter().filter_map(|c| c.loinc).collect();
        all.extend(LOINC_ALTERNATES.iter().map(|(c, ..)| *c));
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a LOINC code is listed twice");
        assert_eq!(
            obs_from_loinc("29463-7").map(|o| o.0),
            Some(ObsKind::Measurement("weight"))
        );
        assert_eq!(
            obs_from_loinc("14682-9").map(|o| o.0),
            Some(ObsKind::Lab("serum_creatinine"))
        );
        assert_eq!(obs_from_loinc("0000-0"), None);
    }

    #[test]
    fn record_units_are_written_as_valid_ucum() {
        // Regression: doses in units (factor VIII) went out as the invalid UCUM code `units`,
        // and milliequivalents as `mEq` (UCUM is case-sensitive: `meq`).
        assert_eq!(ucum_of_record_unit("units"), "[iU]");
        assert_eq!(ucum_of_record_unit("units/kg"), "[iU]/kg");
        assert_eq!(ucum_of_record_unit("mEq"), "meq");
        assert_eq!(ucum_of_record_unit("mEq/kg/h"), "meq/kg/h");
        assert_eq!(ucum_of_record_unit("mcg/kg/min"), "ug/kg/min");
        assert_eq!(ucum_of_record_unit("mg/mL.min"), "mg/mL.min");
        assert_eq!(ucum_of_record_unit("mg/m2"), "mg/m2");
        assert_eq!(ucum_of_record_unit("mL/h"), "mL/h");
        for unit in [
            "units",
            "units/kg",
            "mEq",
            "mEq/kg/h",
            "mcg/kg/min",
            "mg/m2",
        ] {
            let back = record_unit_from_ucum(&ucum_of_record_unit(unit));
            assert_eq!(
                crate::units::parse_unit(&back).ok(),
                crate::units::parse_unit(unit).ok(),
                "{unit} -> {back}"
            );
        }
    }

    #[test]
    fn ucum_is_read_case_sensitively() {
        assert_eq!(record_unit_of_ucum("U/L"), Some("units/L"));
        assert_eq!(record_unit_of_ucum("u/l"), None);
        assert_eq!(record_unit_of_ucum("{cells}/uL"), None);
        assert_eq!(record_unit_from_ucum("meq/L"), "mEq/L");
        assert_eq!(record_unit_from_ucum("[iU]/kg"), "units/kg");
        assert_eq!(record_unit_from_ucum("[lb_av]"), "lb");
        assert_eq!(record_unit_from_ucum("mg/kg"), "mg/kg");
    }
}
