//! Allergy checks with class cross-reactivity, following the evidence: a penicillin allergy
//! flags every penicillin (piperacillin-tazobactam included) but is only an `info` for
//! cefazolin, whose side chain is dissimilar.

use crate::derivation::Severity;

/// Citation for the cross-reactivity rules.
pub const ALLERGY_SOURCE: &str = "Khan DA, Banerji A, Blumenthal KG, et al. Drug allergy: a 2022 practice parameter update. J Allergy Clin Immunol 2022;150:1333-1393 (beta-lactam cross-reactivity; side-chain similarity)";

/// Words in a recorded allergy that name an allergy group.
const GROUP_WORDS: &[(&str, &str)] = &[
    ("penicillin", "penicillin"),
    ("penicillins", "penicillin"),
    ("amoxicillin", "penicillin"),
    ("ampicillin", "penicillin"),
    ("piperacillin", "penicillin"),
    ("nafcillin", "penicillin"),
    ("oxacillin", "penicillin"),
    ("dicloxacillin", "penicillin"),
    ("augmentin", "penicillin"),
    ("cephalosporin", "cephalosporin"),
    ("cephalosporins", "cephalosporin"),
    ("cephalexin", "cephalosporin"),
    ("cefazolin", "cephalosporin"),
    ("ceftriaxone", "cephalosporin"),
    ("cefepime", "cephalosporin"),
    ("carbapenem", "carbapenem"),
    ("carbapenems", "carbapenem"),
    ("meropenem", "carbapenem"),
    ("imipenem", "carbapenem"),
    ("ertapenem", "carbapenem"),
    ("platinum", "platinum"),
    ("carboplatin", "platinum"),
    ("cisplatin", "platinum"),
    ("oxaliplatin", "platinum"),
    ("aminoglycoside", "aminoglycoside"),
    ("aminoglycosides", "aminoglycoside"),
    ("gentamicin", "aminoglycoside"),
    ("tobramycin", "aminoglycoside"),
    ("amikacin", "aminoglycoside"),
    ("iron dextran", "iron-dextran"),
    ("taxane", "taxane"),
    ("paclitaxel", "taxane"),
    ("docetaxel", "taxane"),
];

/// Cross-reactivity between different groups: (allergy group, drug group, note).
const CROSS: &[(&str, &str, &str)] = &[
    (
        "penicillin",
        "cephalosporin",
        "cross-reactivity between penicillins and cephalosporins is about 1-2% and depends on side chains; cefazolin's side chain is unique. The 2022 practice parameter allows a cephalosporin with a dissimilar side chain without testing",
    ),
    (
        "penicillin",
        "carbapenem",
        "cross-reactivity between penicillins and carbapenems is below 1%; a carbapenem may be given without testing",
    ),
    (
        "cephalosporin",
        "penicillin",
        "cross-reactivity depends on shared side chains; check which cephalosporin caused the reaction",
    ),
    (
        "cephalosporin",
        "carbapenem",
        "cross-reactivity between cephalosporins and carbapenems is below 1%",
    ),
    (
        "iron-dextran",
        "iron",
        "a reaction to iron dextran does not predict a reaction to other IV iron products, which have lower rates of serious reactions",
    ),
];

/// The groups a recorded allergy names.
pub fn groups_of(substance: &str) -> Vec<&'static str> {
    let s = substance.to_lowercase();
    let mut out: Vec<&'static str> = GROUP_WORDS
        .iter()
        .filter(|(w, _)| s.contains(w))
        .map(|(_, g)| *g)
        .collect();
    out.dedup();
    out
}

/// One allergy match.
#[derive(Clone, Debug, PartialEq)]
pub struct AllergyMatch {
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
}

/// Whether the recorded reaction was severe (anaphylaxis, angioedema, SJS/TEN, DRESS).
fn severe(reaction: Option<&str>, severity: Option<&str>) -> bool {
    severity == Some("severe")
        || reaction.is_some_and(|r| {
            [
                "anaphyla",
                "angioedema",
                "stevens",
                "sjs",
                "toxic epidermal",
                "dress",
            ]
            .iter()
            .any(|w| r.contains(w))
        })
}

/// Checks one recorded allergy against a drug (`names`: id, generic name, brands, synonyms;
/// `drug_groups`: its allergy groups).
pub fn check_allergy(
    substance: &str,
    reaction: Option<&str>,
    severity: Option<&str>,
    drug_label: &str,
    names: &[&str],
    drug_groups: &[String],
) -> Option<AllergyMatch> {
    let sub = substance.to_lowercase();
    let is_severe = severe(reaction, severity);
    let reaction_text = reaction
        .map(|r| format!(" (reaction: {r})"))
        .unwrap_or_default();
    if names
        .iter()
        .any(|n| !n.is_empty() && sub == n.to_lowercase())
    {
        return Some(AllergyMatch {
            code: "allergy.same_drug",
            severity: Severity::HardStop,
            message: format!(
                "The patient is recorded as allergic to {drug_label}{reaction_text}. Do not give; contact the prescriber."
            ),
        });
    }
    let allergy_groups = groups_of(&sub);
    if let Some(g) = allergy_groups
        .iter()
        .find(|g| drug_groups.iter().any(|d| d == *g))
    {
        return Some(AllergyMatch {
            code: "allergy.same_class",
            severity: if is_severe {
                Severity::HardStop
            } else {
                Severity::Warning
            },
            message: format!(
                "The patient is recorded as allergic to {substance}{reaction_text}; {drug_label} belongs to the same class ({g}). {}",
                if is_severe {
                    "The recorded reaction was severe: do not give without an allergy consultation."
                } else {
                    "Give only after the prescriber has reviewed the allergy history (override reason required)."
                }
            ),
        });
    }
    for (a, d, note) in CROSS {
        if allergy_groups.contains(a) && drug_groups.iter().any(|x| x == d) {
            return Some(AllergyMatch {
                code: "allergy.cross_reactivity_low",
                severity: if is_severe {
                    Severity::Warning
                } else {
                    Severity::Info
                },
                message: format!(
                    "The patient is recorded as allergic to {substance}{reaction_text}. {drug_label}: {note}.{}",
                    if is_severe {
                        " The recorded reaction was severe: prescriber review required."
                    } else {
                        ""
                    }
                ),
            });
        }
    }
    None
}
