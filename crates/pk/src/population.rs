//! Published population models, as code: structural model, covariate model, inter-individual
//! variability (log-normal: Pᵢ = P_typical · e^ηᵢ, ηᵢ ~ N(0, ω²)) and residual error
//! (combined: variance = additive² + (proportional × prediction)²).
//!
//! Each model carries its citation and an honest statement of how its numbers were
//! obtained. Values marked *unverified* were written from memory of the publication and
//! have not been checked against the primary paper; every result computed with such a model
//! carries a warning finding (`model.parameters_unverified`) until a pharmacist has checked
//! them against the paper and the flag is removed here.

use infusio_core::derivation::{Source, Step};
use infusio_core::units::{BodyWeight, Clearance, Qty};

use crate::PkError;
use crate::linear::LinearParams;

/// Covariates used by the models of this module. Units are in the types.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Covariates {
    /// Total body weight.
    pub weight: BodyWeight,
    /// Creatinine clearance (Cockcroft–Gault; see [`cockcroft_gault_for_model`]).
    pub crcl: Clearance,
    /// Intermittent haemodialysis.
    pub dialysis: bool,
}

/// Accepted covariate ranges (the models were not built outside them; a value outside is
/// refused rather than extrapolated).
pub const WEIGHT_KG_RANGE: (f64, f64) = (2.0, 350.0);
/// Accepted creatinine clearance (mL/min). The lower bound is 1, not 0: the power and
/// proportional covariate models give a clearance of zero at zero, which no patient has.
pub const CRCL_ML_MIN_RANGE: (f64, f64) = (1.0, 300.0);

/// Which parameter an η acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    Cl,
    V1,
    Q,
    V2,
}

impl Param {
    pub fn name(self) -> &'static str {
        match self {
            Param::Cl => "cl",
            Param::V1 => "v1",
            Param::Q => "q",
            Param::V2 => "v2",
        }
    }
}

/// Combined residual error: variance = additive² + (proportional × prediction)².
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResidualError {
    /// Additive standard deviation (mg/L).
    pub additive_mg_per_l: f64,
    /// Proportional coefficient (fraction, e.g. 0.227 for 22.7 %).
    pub proportional: f64,
}

impl ResidualError {
    /// The residual variance at a prediction (mg²/L²).
    #[inline]
    pub fn variance(&self, prediction: f64) -> f64 {
        self.additive_mg_per_l * self.additive_mg_per_l + (self.proportional * prediction).powi(2)
    }
}

/// Administration limits the dose recommendation respects unless the caller overrides them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdministrationDefaults {
    /// Maximum infusion rate (mg/h).
    pub max_rate_mg_per_h: f64,
    /// Shortest infusion (h).
    pub min_duration_h: f64,
    /// Dose rounding increment (mg).
    pub increment_mg: f64,
    /// Source of these limits.
    pub source: &'static str,
}

/// A population model.
#[derive(Clone, Copy, Debug)]
pub struct PopulationModel {
    /// Stable id, e.g. `vancomycin-goti-2018`.
    pub id: &'static str,
    /// Drug-library id.
    pub drug: &'static str,
    /// The publication.
    pub source: Source,
    /// Population the model was built in.
    pub population: &'static str,
    /// How the parameter values were obtained and what is uncertain.
    pub provenance: &'static str,
    /// Whether every number was checked against the primary publication.
    pub verified: bool,
    /// Parameters carrying inter-individual variability, with their ω² (log scale).
    pub iiv: &'static [(Param, f64)],
    pub residual: ResidualError,
    pub administration: AdministrationDefaults,
    typical: fn(&Covariates) -> LinearParams,
    /// The covariate model as text (one line per parameter), for derivations.
    pub equations: &'static [&'static str],
}

impl PopulationModel {
    /// Typical parameters (η = 0) for these covariates (mg, L, h).
    pub fn typical(&self, cov: &Covariates) -> Result<LinearParams, PkError> {
        check_covariates(cov)?;
        Ok((self.typical)(cov))
    }

    /// Individual parameters: the typical value × e^η for each parameter with variability.
    pub fn individual(&self, typical: &LinearParams, etas: &[f64]) -> LinearParams {
        let mut p = *typical;
        for ((param, _), eta) in self.iiv.iter().zip(etas) {
            let f = eta.exp();
            match (&mut p, param) {
                (LinearParams::One { cl, .. }, Param::Cl)
                | (LinearParams::Two { cl, .. }, Param::Cl) => *cl *= f,
                (LinearParams::One { v, .. }, Param::V1) => *v *= f,
                (LinearParams::Two { v1, .. }, Param::V1) => *v1 *= f,
                (LinearParams::Two { q, .. }, Param::Q) => *q *= f,
                (LinearParams::Two { v2, .. }, Param::V2) => *v2 *= f,
                _ => {}
            }
        }
        p
    }

    /// The name of each η's parameter, as in the parameter list of the model (`v` for the
    /// volume of a one-compartment model, `v1` for the central volume otherwise).
    pub fn eta_names(&self) -> Vec<&'static str> {
        let one_compartment = matches!(
            (self.typical)(&Covariates {
                weight: BodyWeight::new(70.0),
                crcl: Clearance::new(100.0),
                dialysis: false,
            }),
            LinearParams::One { .. }
        );
        self.iiv
            .iter()
            .map(|(p, _)| match p {
                Param::V1 if one_compartment => "v",
                other => other.name(),
            })
            .collect()
    }

    /// The ω² of each η, in order.
    pub fn omega2(&self) -> impl Iterator<Item = f64> + '_ {
        self.iiv.iter().map(|(_, w)| *w)
    }

    /// Derivation steps for the typical parameters.
    pub fn typical_steps(&self, cov: &Covariates) -> Result<Vec<Step>, PkError> {
        let p = self.typical(cov)?;
        let mut steps = Vec::new();
        for ((name, value), eq) in p.named().into_iter().zip(self.equations) {
            let unit = if name.starts_with('v') { "L" } else { "L/h" };
            steps.push(
                Step::new(
                    format!("Typical {name} ({})", self.id),
                    *eq,
                    Qty::new(value, unit),
                )
                .input("weight", cov.weight.qty())
                .input("crcl", cov.crcl.qty())
                .input(
                    "dialysis",
                    Qty::new(if cov.dialysis { 1.0 } else { 0.0 }, ""),
                ),
            );
        }
        Ok(steps)
    }
}

fn check_covariates(cov: &Covariates) -> Result<(), PkError> {
    let w = cov.weight.value();
    if !(w.is_finite() && (WEIGHT_KG_RANGE.0..=WEIGHT_KG_RANGE.1).contains(&w)) {
        return Err(PkError::Covariate {
            name: "weight",
            value: w,
            reason: format!("accepted {} to {} kg", WEIGHT_KG_RANGE.0, WEIGHT_KG_RANGE.1),
        });
    }
    let c = cov.crcl.value();
    if !(c.is_finite() && (CRCL_ML_MIN_RANGE.0..=CRCL_ML_MIN_RANGE.1).contains(&c)) {
        return Err(PkError::Covariate {
            name: "crcl",
            value: c,
            reason: format!(
                "accepted {} to {} mL/min",
                CRCL_ML_MIN_RANGE.0, CRCL_ML_MIN_RANGE.1
            ),
        });
    }
    Ok(())
}

/// Every model, by id.
pub const MODELS: &[PopulationModel] = &[
    GOTI_2018,
    BUELGA_2005,
    THOMSON_2009,
    GENTAMICIN_HULL_SARUBBI,
];

/// Looks a model up by id.
pub fn model(id: &str) -> Option<&'static PopulationModel> {
    MODELS.iter().find(|m| m.id == id)
}

/// The vancomycin limits of the label and the 2020 consensus: infuse at no more than
/// 10 mg/min (600 mg/h) and over at least 60 min; round to 250 mg.
const VANCOMYCIN_ADMIN: AdministrationDefaults = AdministrationDefaults {
    max_rate_mg_per_h: 600.0,
    min_duration_h: 1.0,
    increment_mg: 250.0,
    source: "Vancomycin labelling: infuse at no more than 10 mg/min or over at least 60 minutes, whichever is longer; Rybak MJ et al., Am J Health-Syst Pharm 2020;77:835",
};

/// Goti 2018: two compartments, hospitalised adults with and without haemodialysis.
pub const GOTI_2018: PopulationModel = PopulationModel {
    id: "vancomycin-goti-2018",
    drug: "vancomycin",
    source: Source {
        id: "goti-2018",
        citation: "Goti V, Chaturvedula A, Fossler MJ, Mok S, Jacob JT. Hospitalized patients with and without hemodialysis have markedly different vancomycin pharmacokinetics: a population pharmacokinetic model-based analysis. Ther Drug Monit 2018;40:212-221 (and erratum: creatinine set to 1 mg/dL when age > 65 y and creatinine < 1 mg/dL)",
    },
    population: "hospitalised adults, with and without intermittent haemodialysis",
    provenance: "Values as specified for Infusio (issue 7), following the widely used clinical implementation of the model: V2 = 38.4 L is not weight-scaled there; public implementations differ on this point and this one follows the clinical one. CrCl by Cockcroft-Gault on total body weight, capped at 150 mL/min, creatinine set to 1 mg/dL when age > 65 y and creatinine < 1 mg/dL (the erratum).",
    verified: true,
    iiv: &[(Param::Cl, 0.147), (Param::V1, 0.510), (Param::V2, 0.282)],
    residual: ResidualError {
        additive_mg_per_l: 3.4,
        proportional: 0.227,
    },
    administration: VANCOMYCIN_ADMIN,
    typical: |c| {
        let dial = if c.dialysis { 1.0 } else { 0.0 };
        LinearParams::Two {
            cl: 4.5 * (c.crcl.value().min(150.0) / 120.0).powf(0.8) * 0.7f64.powf(dial),
            v1: 58.4 * (c.weight.value() / 70.0) * 0.5f64.powf(dial),
            q: 6.5,
            v2: 38.4,
        }
    },
    equations: &[
        "CL = 4.5 × (min(CrCl, 150)/120)^0.8 × 0.7^dialysis L/h",
        "V1 = 58.4 × (WT/70) × 0.5^dialysis L",
        "Q = 6.5 L/h",
        "V2 = 38.4 L",
    ],
};

/// Buelga 2005: one compartment, adults with haematological malignancies.
pub const BUELGA_2005: PopulationModel = PopulationModel {
    id: "vancomycin-buelga-2005",
    drug: "vancomycin",
    source: Source {
        id: "buelga-2005",
        citation: "Buelga DS, del Mar Fernandez de Gatta M, Herrera EV, Dominguez-Gil A, Garcia MJ. Population pharmacokinetic analysis of vancomycin in patients with hematological malignancies. Antimicrob Agents Chemother 2005;49:4934-4941",
    },
    population: "adults with haematological malignancies",
    provenance: "Checked against the publication's abstract (Antimicrob Agents Chemother 2005;49:4934, PMID 16304155: CL (L/h) = 1.08 × CrCl Cockcroft-Gault (L/h), CV 28.16 %; V (L) = 0.98 × total body weight, CV 37.15 %) and against a published implementation of its Table 4 final model (nlmixr2lib, model Buelga_2005_vancomycin: the same θ, ω² CL = ln(1 + 0.2816²) = 0.07631, ω² V = ln(1 + 0.3715²) = 0.12928, additive residual error σ = 3.52 mg/L). One published value is left out: the CL-V random-effect correlation of 23.12 % (this crate's variability is diagonal), which narrows the prior slightly; the population and covariate values are as published.",
    verified: true,
    iiv: &[(Param::Cl, 0.076_31), (Param::V1, 0.129_28)],
    residual: ResidualError {
        additive_mg_per_l: 3.52,
        proportional: 0.0,
    },
    administration: VANCOMYCIN_ADMIN,
    typical: |c| LinearParams::One {
        cl: 1.08 * c.crcl.value() * 0.06,
        v: 0.98 * c.weight.value(),
    },
    equations: &[
        "CL = 1.08 × CrCl × 0.06 L/h (CrCl in mL/min)",
        "V = 0.98 × WT L",
    ],
};

/// Thomson 2009: two compartments, adults in UK hospitals.
pub const THOMSON_2009: PopulationModel = PopulationModel {
    id: "vancomycin-thomson-2009",
    drug: "vancomycin",
    source: Source {
        id: "thomson-2009",
        citation: "Thomson AH, Staatz CE, Tobin CM, Gall M, Lovering AM. Development and evaluation of vancomycin dosage guidelines designed to achieve new target concentrations. J Antimicrob Chemother 2009;63:1050-1057",
    },
    population: "adult hospital in-patients (UK)",
    provenance: "UNVERIFIED, offered for research only (the contracts refuse it without \"research\": true): no source checked so far gave every value. Written from memory of the publication, not checked against the paper. CL = 2.99 × (1 + 0.0154 × (CrCl − 66)) L/h; V1 = 0.675 L/kg × WT; Q = 2.28 L/h; V2 = 0.732 L/kg × WT; variability recalled as about 26 % (CL) and 15 % (V1) CV, ω² = ln(1 + CV²); residual recalled as 1.6 mg/L additive + 15 % proportional. The CrCl term can make CL negative below about 1 mL/min; CL is floored at 0.1 L/h by Infusio.",
    verified: false,
    iiv: &[(Param::Cl, 0.065_41), (Param::V1, 0.022_25)],
    residual: ResidualError {
        additive_mg_per_l: 1.6,
        proportional: 0.15,
    },
    administration: VANCOMYCIN_ADMIN,
    typical: |c| LinearParams::Two {
        cl: (2.99 * (1.0 + 0.0154 * (c.crcl.value() - 66.0))).max(0.1),
        v1: 0.675 * c.weight.value(),
        q: 2.28,
        v2: 0.732 * c.weight.value(),
    },
    equations: &[
        "CL = 2.99 × (1 + 0.0154 × (CrCl − 66)) L/h, at least 0.1 L/h",
        "V1 = 0.675 × WT L",
        "Q = 2.28 L/h",
        "V2 = 0.732 × WT L",
    ],
};

/// Gentamicin: the Hull–Sarubbi elimination equation with a 0.26 L/kg volume, as taught
/// for aminoglycoside dosing.
pub const GENTAMICIN_HULL_SARUBBI: PopulationModel = PopulationModel {
    id: "gentamicin-hull-sarubbi-1976",
    drug: "gentamicin",
    source: Source {
        id: "hull-sarubbi-1976",
        citation: "Hull JH, Sarubbi FA. Gentamicin serum concentrations: pharmacokinetic predictions. Ann Intern Med 1976;85:183-189; volume of distribution 0.26 L/kg as in Bauer LA, Applied Clinical Pharmacokinetics, McGraw-Hill, aminoglycosides chapter",
    },
    population: "adults with stable renal function, normal body weight",
    provenance: "UNVERIFIED, offered for research only (the contracts refuse it without \"research\": true): no source checked so far gave every value. Written from memory. ke (1/h) = 0.00293 × CrCl (mL/min) + 0.014; V = 0.26 L/kg × WT; CL = ke × V. The source publishes no inter-individual variability for MAP estimation: ω² CL 0.09 (30 % CV), V 0.04 (20 %) and the residual error (0.2 mg/L + 10 %) are Infusio assumptions, not published values.",
    verified: false,
    iiv: &[(Param::Cl, 0.09), (Param::V1, 0.04)],
    residual: ResidualError {
        additive_mg_per_l: 0.2,
        proportional: 0.10,
    },
    administration: AdministrationDefaults {
        max_rate_mg_per_h: 1.0e9,
        min_duration_h: 0.5,
        increment_mg: 20.0,
        source: "Gentamicin: 30-minute infusion; doses rounded to 20 mg (institutional practice)",
    },
    typical: |c| {
        let v = 0.26 * c.weight.value();
        LinearParams::One {
            cl: (0.00293 * c.crcl.value() + 0.014) * v,
            v,
        }
    },
    equations: &["CL = (0.00293 × CrCl + 0.014) × V L/h", "V = 0.26 × WT L"],
};

/// Cockcroft–Gault as the Goti 2018 model uses it: total body weight; creatinine set to
/// 1 mg/dL when age > 65 y and creatinine < 1 mg/dL; result capped at 150 mL/min.
/// Returns the CrCl and the derivation steps.
pub fn cockcroft_gault_for_model(
    age_y: f64,
    female: bool,
    weight: BodyWeight,
    scr_mg_per_dl: f64,
) -> Result<(Clearance, Vec<Step>), PkError> {
    if !(age_y.is_finite() && (18.0..=120.0).contains(&age_y)) {
        return Err(PkError::Covariate {
            name: "age",
            value: age_y,
            reason: "Cockcroft-Gault is for adults: accepted 18 to 120 y".into(),
        });
    }
    if !(scr_mg_per_dl.is_finite() && (0.05..=30.0).contains(&scr_mg_per_dl)) {
        return Err(PkError::Covariate {
            name: "serum_creatinine",
            value: scr_mg_per_dl,
            reason: "accepted 0.05 to 30 mg/dL".into(),
        });
    }
    let mut steps = Vec::new();
    let scr_used = if age_y > 65.0 && scr_mg_per_dl < 1.0 {
        1.0
    } else {
        scr_mg_per_dl
    };
    steps.push(
        Step::new(
            "Creatinine used (Goti 2018 erratum: 1 mg/dL when age > 65 y and creatinine < 1 mg/dL)",
            "SCr_used = 1 if age > 65 and SCr < 1, else SCr",
            Qty::new(scr_used, "mg/dL"),
        )
        .input("age", Qty::new(age_y, "y"))
        .input("serum_creatinine", Qty::new(scr_mg_per_dl, "mg/dL")),
    );
    let raw =
        (140.0 - age_y) * weight.value() / (72.0 * scr_used) * if female { 0.85 } else { 1.0 };
    steps.push(
        Step::new(
            "Creatinine clearance (Cockcroft-Gault, total body weight)",
            "CrCl = (140 − age) × WT / (72 × SCr_used) × 0.85 if female",
            Qty::new(raw, "mL/min"),
        )
        .input("age", Qty::new(age_y, "y"))
        .input("weight", weight.qty())
        .input("serum_creatinine_used", Qty::new(scr_used, "mg/dL")),
    );
    let capped = raw.min(150.0);
    steps.push(Step::new(
        "Creatinine clearance capped at 150 mL/min (Goti 2018)",
        "CrCl = min(CrCl, 150)",
        Qty::new(capped, "mL/min"),
    ));
    Ok((Clearance::new(capped), steps))
}

/// Cockcroft & Gault's paper.
pub const COCKCROFT_GAULT: Source = Source {
    id: "cockcroft-gault-1976",
    citation: "Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum creatinine. Nephron 1976;16:31-41",
};

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test failing on unwrap is a failing test
mod tests {
    use super::*;

    fn cov(weight: f64, crcl: f64, dialysis: bool) -> Covariates {
        Covariates {
            weight: BodyWeight::new(weight),
            crcl: Clearance::new(crcl),
            dialysis,
        }
    }

    #[test]
    fn goti_typical_values_follow_the_covariate_model() {
        // CrCl 120 mL/min, 70 kg, no dialysis: the typical values themselves.
        let p = GOTI_2018.typical(&cov(70.0, 120.0, false)).unwrap();
        assert_eq!(
            p,
            LinearParams::Two {
                cl: 4.5,
                v1: 58.4,
                q: 6.5,
                v2: 38.4
            }
        );
        // Dialysis: CL × 0.7, V1 × 0.5; CrCl above 150 is capped.
        let p = GOTI_2018.typical(&cov(140.0, 200.0, true)).unwrap();
        let LinearParams::Two { cl, v1, q, v2 } = p else {
            panic!("two compartments")
        };
        assert!((cl - 4.5 * (150.0f64 / 120.0).powf(0.8) * 0.7).abs() < 1e-12);
        assert!((v1 - 58.4 * 2.0 * 0.5).abs() < 1e-12);
        assert_eq!((q, v2), (6.5, 38.4));
    }

    #[test]
    fn goti_cockcroft_gault_applies_the_erratum_and_the_cap() {
        // 70 y, 0.7 mg/dL → creatinine taken as 1: (140 − 70) × 80 / 72 = 77.8 mL/min.
        let (c, _) = cockcroft_gault_for_model(70.0, false, BodyWeight::new(80.0), 0.7).unwrap();
        assert!((c.value() - 70.0 * 80.0 / 72.0).abs() < 1e-12);
        // F, 60 y, 60 kg, 0.9 mg/dL: no substitution at 65 y or younger:
        // (140 − 60) × 60 / (72 × 0.9) × 0.85 = 62.96 mL/min.
        let (c, _) = cockcroft_gault_for_model(60.0, true, BodyWeight::new(60.0), 0.9).unwrap();
        assert!((c.value() - 80.0 * 60.0 / 64.8 * 0.85).abs() < 1e-12);
        // Young, heavy, low creatinine: capped at 150.
        let (c, _) = cockcroft_gault_for_model(30.0, false, BodyWeight::new(120.0), 0.6).unwrap();
        assert_eq!(c.value(), 150.0);
        // Cockcroft-Gault worked example (superglobalcalculator, recomputed): M, 65 y, 70 kg,
        // SCr 1.4 → 52.1 mL/min.
        let (c, _) = cockcroft_gault_for_model(65.0, false, BodyWeight::new(70.0), 1.4).unwrap();
        assert!((c.value() - 52.083).abs() < 0.001);
    }

    #[test]
    fn individual_parameters_scale_by_exp_eta() {
        let t = GOTI_2018.typical(&cov(70.0, 120.0, false)).unwrap();
        let p = GOTI_2018.individual(&t, &[0.1, -0.2, 0.3]);
        let LinearParams::Two { cl, v1, q, v2 } = p else {
            panic!("two compartments")
        };
        assert!((cl - 4.5 * 0.1f64.exp()).abs() < 1e-12);
        assert!((v1 - 58.4 * (-0.2f64).exp()).abs() < 1e-12);
        assert_eq!(q, 6.5);
        assert!((v2 - 38.4 * 0.3f64.exp()).abs() < 1e-12);
    }

    #[test]
    fn every_model_is_listed_once_and_has_a_citation() {
        for m in MODELS {
            assert_eq!(MODELS.iter().filter(|x| x.id == m.id).count(), 1);
            assert!(m.source.citation.len() > 40);
            assert!(model(m.id).is_some());
            let p = m.typical(&cov(75.0, 90.0, false)).unwrap();
            assert!(crate::linear::Disposition::new(&p).is_ok(), "{}", m.id);
            assert_eq!(p.named().len(), m.equations.len());
        }
    }

    #[test]
    fn eta_names_match_the_parameter_names() {
        for m in MODELS {
            let p = m.typical(&cov(75.0, 90.0, false)).unwrap();
            let names: Vec<&str> = p.named().into_iter().map(|(n, _)| n).collect();
            for e in m.eta_names() {
                assert!(names.contains(&e), "{}: {e} not in {names:?}", m.id);
            }
        }
        assert_eq!(BUELGA_2005.eta_names(), vec!["cl", "v"]);
    }

    #[test]
    fn covariates_out_of_range_are_refused() {
        assert!(GOTI_2018.typical(&cov(0.5, 90.0, false)).is_err());
        assert!(GOTI_2018.typical(&cov(70.0, -5.0, false)).is_err());
        assert!(GOTI_2018.typical(&cov(70.0, f64::NAN, false)).is_err());
    }
}
