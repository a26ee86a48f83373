//! Citations for the formulas and clinical numbers used by the calculators.

use crate::derivation::Source;

pub const MOSTELLER: Source = Source {
    id: "mosteller-1987",
    citation: "Mosteller RD. Simplified calculation of body-surface area. N Engl J Med 1987;317:1098",
};
pub const DUBOIS: Source = Source {
    id: "dubois-1916",
    citation: "Du Bois D, Du Bois EF. A formula to estimate the approximate surface area if height and weight be known. Arch Intern Med 1916;17:863",
};
pub const HAYCOCK: Source = Source {
    id: "haycock-1978",
    citation: "Haycock GB, Schwartz GJ, Wisotsky DH. Geometric method for measuring body surface area. J Pediatr 1978;93:62",
};
pub const GEHAN_GEORGE: Source = Source {
    id: "gehan-george-1970",
    citation: "Gehan EA, George SL. Estimation of human body surface area from height and weight. Cancer Chemother Rep 1970;54:225",
};
pub const BOYD: Source = Source {
    id: "boyd-1935",
    citation: "Boyd E. The Growth of the Surface Area of the Human Body. University of Minnesota Press, 1935 (weight in grams, log base 10)",
};
pub const DEVINE: Source = Source {
    id: "devine-1974",
    citation: "Devine BJ. Gentamicin therapy. Drug Intell Clin Pharm 1974;8:650 (ideal body weight)",
};
pub const ADJUSTED_WEIGHT: Source = Source {
    id: "nba-dose-determining-weight",
    citation: "National Blood Authority (Australia), Dose Determining Weight: IBW + 0.4 x (actual - IBW); NCCN Chemotherapy Order Templates, carboplatin",
};
pub const JANMAHASATIAN: Source = Source {
    id: "janmahasatian-2005",
    citation: "Janmahasatian S, Duffull SB, Ash S, et al. Quantification of lean bodyweight. Clin Pharmacokinet 2005;44:1051",
};
pub const COCKCROFT_GAULT: Source = Source {
    id: "cockcroft-gault-1976",
    citation: "Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum creatinine. Nephron 1976;16:31",
};
pub const CKD_EPI_2021: Source = Source {
    id: "ckd-epi-2021",
    citation: "Inker LA, et al. New creatinine- and cystatin C-based equations to estimate GFR without race. N Engl J Med 2021;385:1737 (NKF CKD-EPI 2021 creatinine equation)",
};
pub const SCHWARTZ_BEDSIDE: Source = Source {
    id: "schwartz-2009",
    citation: "Schwartz GJ, et al. New equations to estimate GFR in children with CKD. J Am Soc Nephrol 2009;20:629 (bedside Schwartz, k = 0.413)",
};
pub const CALVERT: Source = Source {
    id: "calvert-1989",
    citation: "Calvert AH, et al. Carboplatin dosage: prospective evaluation of a simple formula based on renal function. J Clin Oncol 1989;7:1748; carboplatin US prescribing information (GFR capped at 125 mL/min)",
};
pub const NCCN_CARBOPLATIN: Source = Source {
    id: "nccn-carboplatin-template",
    citation: "NCCN Chemotherapy Order Templates, Appendix B: carboplatin dosing (GFR cap 125 mL/min; consider adjusted weight when BMI >= 25 and a creatinine minimum of 0.7 mg/dL)",
};
pub const HOPA_ROUNDING: Source = Source {
    id: "hopa-2018-dose-rounding",
    citation: "Fahrenbruch R, et al. Dose rounding of biologic and cytotoxic anticancer agents: a position statement of HOPA. J Oncol Pract 2018;14:e130 (rounding within 10%)",
};
pub const ASCO_OBESITY: Source = Source {
    id: "asco-2021-obesity",
    citation: "Griggs JJ, et al. Appropriate systemic therapy dosing for obese adult patients with cancer: ASCO guideline update. J Clin Oncol 2021;39:2037 (full weight-based doses)",
};

// Infusion mathematics, anti-infectives, fluids, nutrition, iron, clotting factors, immune
// globulin.

pub const INFUSION_RATE: Source = Source {
    id: "infusion-rate-dimensional-analysis",
    citation: "Pump rate by dimensional analysis: mL/h = dose rate (amount/h) ÷ concentration (amount/mL); per-kg rates × weight; per-minute rates × 60 (e.g. dopamine 5 mcg/kg/min, 70 kg, 1,600 mcg/mL = 13.1 mL/h)",
};
pub const DRIP_RATE: Source = Source {
    id: "gravity-drip-rate",
    citation: "Gravity drip rate: gtt/min = volume (mL) × drop factor (gtt/mL) ÷ time (min) = mL/h × drop factor ÷ 60, rounded to a whole drop (DosageHelp, IV flow rate in drops per minute)",
};
pub const SAWCHUK_ZASKE: Source = Source {
    id: "sawchuk-zaske-1976",
    citation: "Sawchuk RJ, Zaske DE. Pharmacokinetics of dosing regimens which utilize multiple intravenous infusions: gentamicin in burn patients. J Pharmacokinet Biopharm 1976;4:183 (two-level steady-state method, as described in Bauer LA, Applied Clinical Pharmacokinetics, and Shargel L, Applied Biopharmaceutics & Pharmacokinetics); AUC by linear trapezoid during the infusion and log trapezoid after it",
};
pub const VANCOMYCIN_AUC_2020: Source = Source {
    id: "rybak-2020-vancomycin",
    citation: "Rybak MJ, et al. Therapeutic monitoring of vancomycin for serious methicillin-resistant Staphylococcus aureus infections: a revised consensus guideline (ASHP/IDSA/PIDS/SIDP). Am J Health-Syst Pharm 2020;77:835 (AUC24 400-600 mg.h/L assuming MIC 1 mg/L)",
};
pub const HOLLIDAY_SEGAR: Source = Source {
    id: "holliday-segar-1957",
    citation: "Holliday MA, Segar WE. The maintenance need for water in parenteral fluid therapy. Pediatrics 1957;19:823 (100/50/20 mL/kg/day; 4-2-1 mL/kg/h)",
};
pub const NICE_ADULT_FLUIDS: Source = Source {
    id: "nice-cg174-maintenance",
    citation: "NICE guideline CG174, Intravenous fluid therapy in adults in hospital (2013, updated 2017): routine maintenance 25-30 mL/kg/day of water",
};
pub const DEHYDRATION_DEFICIT: Source = Source {
    id: "dehydration-deficit",
    citation: "Fluid deficit (mL) = dehydration (%) × weight (kg) × 10; mild 3-5%, moderate 6-9%, severe 10% or more (Pediatric IR, Fluid replacement)",
};
pub const TOTAL_BODY_WATER: Source = Source {
    id: "total-body-water-fraction",
    citation: "Total body water = weight × 0.6 (children, adult men), 0.5 (adult women, elderly men), 0.45 (elderly women) (Adrogué HJ, Madias NE. Hyponatremia. N Engl J Med 2000;342:1581; Family Practice Notebook, Total body sodium deficit)",
};
pub const SODIUM_DEFICIT: Source = Source {
    id: "sodium-deficit",
    citation: "Sodium deficit (mEq) = total body water × (target Na − current Na) (Family Practice Notebook, Total body sodium deficit); correction limit 8 mmol/L in 24 h in patients at high risk of osmotic demyelination (Verbalis JG, et al. Am J Med 2013;126:S1)",
};
pub const FREE_WATER_DEFICIT: Source = Source {
    id: "free-water-deficit",
    citation: "Free-water deficit (L) = total body water × (Na / target Na − 1), target 140 mEq/L by default; lower sodium by no more than 10 mEq/L in 24 h (Adrogué HJ, Madias NE. Hypernatremia. N Engl J Med 2000;342:1493)",
};
pub const PN_ENERGY: Source = Source {
    id: "krause-pn-energy",
    citation: "Krause's Food & the Nutrition Care Process, Box 18.5 (parenteral nutrition calculation: dextrose monohydrate 3.4 kcal/g, amino acids 4 kcal/g; lipid emulsion about 10 kcal/g, 20% = 2 kcal/mL)",
};
pub const PN_GIR: Source = Source {
    id: "gir-cornell-picu",
    citation: "Glucose infusion rate (mg/kg/min) = dextrose (mg) ÷ weight (kg) ÷ infusion time (min) (Weill Cornell PICU, glucose infusion rate calculator); the warning threshold of 5 mg/kg/min is the usual adult maximal glucose oxidation rate (about 4-5 mg/kg/min); neonatal targets are higher",
};
pub const PN_OSMOLARITY: Source = Source {
    id: "pn-osmolarity-estimate",
    citation: "PN osmolarity estimate (mOsm/L) = (5 × dextrose g + 10 × amino acid g + 2 × cation mEq) ÷ litres, lipid excluded; it underestimates measured osmolality (Valero Zanuy MA, et al. Nutr Hosp 2015;32:2757); peripheral PN at most 900 mOsm/L (ASPEN: Boullata JI, et al. JPEN 2014;38:334)",
};
pub const PN_LIPID_LIMIT: Source = Source {
    id: "aspen-lipid-limit",
    citation: "Intravenous lipid emulsion: do not exceed 2.5 g/kg/day in adults (ASPEN parenteral nutrition safety consensus; Mirtallo J, et al. JPEN 2004;28:S39)",
};
pub const GANZONI: Source = Source {
    id: "ganzoni-1970",
    citation: "Ganzoni AM. Intravenous iron-dextran: therapeutic and experimental possibilities. Schweiz Med Wochenschr 1970;100:301; iron sucrose (Ferrofer) prescribing information: total iron deficit = weight × (target − actual Hb) [g/dL] × 2.4 + stores; up to 35 kg target 13 g/dL and stores 15 mg/kg, above 35 kg target 15 g/dL and stores 500 mg",
};
pub const FACTOR_VIII: Source = Source {
    id: "factor-viii-dosing",
    citation: "Antihemophilic factor VIII (Lexicomp monograph): units = weight (kg) × desired rise (IU/dL or %) × 0.5",
};
pub const FACTOR_IX_PLASMA: Source = Source {
    id: "factor-ix-plasma-derived",
    citation: "Coagulation factor IX, plasma-derived (AlphaNine SD prescribing information): units = weight (kg) × desired rise (%) × 1 IU/kg",
};
pub const BENEFIX: Source = Source {
    id: "benefix-label",
    citation: "BeneFIX (coagulation factor IX, recombinant) US prescribing information, section 2: units = weight × desired rise × reciprocal of observed recovery; 1.3 IU/kg per IU/dL at 12 years and older (recovery 0.8), 1.4 under 12 years (recovery 0.7)",
};
pub const IVIG_CONCENTRATION: Source = Source {
    id: "ivig-10-percent",
    citation: "10% immune globulin products contain 100 mg/mL (Gammagard Liquid and Privigen US prescribing information): volume (mL) = grams × 10",
};
