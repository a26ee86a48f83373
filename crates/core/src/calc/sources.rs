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
