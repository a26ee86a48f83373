//! Citations for the preparation, titration and beyond-use rules.

use crate::derivation::Source;

pub const RITUXAN_PI: Source = Source {
    id: "rituxan-pi",
    citation: "RITUXAN (rituximab) injection, US prescribing information, Genentech, section 2.1 (first infusion 50 mg/h +50 mg/h every 30 min to 400 mg/h; subsequent 100 mg/h +100 mg/h every 30 min to 400 mg/h; 90-minute infusion 20% of the dose over 30 min, 80% over 60 min; dilute to 1-4 mg/mL; resume at half the rate after a reaction)",
};
pub const OCREVUS_PI: Source = Source {
    id: "ocrevus-pi",
    citation: "OCREVUS (ocrelizumab) injection, US prescribing information, Genentech, section 2.3 Table 1 (300 mg/250 mL: 30 mL/h +30 mL/h every 30 min to 180 mL/h; 600 mg/500 mL: 40 mL/h +40 mL/h every 30 min to 200 mL/h; shorter 600 mg infusion 100 mL/h 15 min, 200 mL/h 15 min, 250 mL/h 30 min, 300 mL/h 60 min; halve the rate after a mild or moderate reaction)",
};
pub const GAMMAGARD_PI: Source = Source {
    id: "gammagard-liquid-pi",
    citation: "GAMMAGARD LIQUID [immune globulin infusion (human)] 10%, US prescribing information, Takeda, section 2, dosage and administration (PI: initial 0.5 mL/kg/h (0.8 mg/kg/min) for 30 min, increase every 30 min as tolerated to 5 mL/kg/h (8 mg/kg/min))",
};
pub const REMICADE_PI: Source = Source {
    id: "remicade-pi",
    citation: "REMICADE (infliximab) for injection, US prescribing information, Janssen, section 2, dosage and administration (100 mg vial reconstituted with 10 mL sterile water for injection; dilute the dose to 250 mL 0.9% sodium chloride, removing an equal volume first; 0.4-4 mg/mL; begin within 3 h of preparation; in-line low-protein-binding filter 1.2 micron or less; over at least 2 h)",
};
pub const USP_797: Source = Source {
    id: "usp-797-2023",
    citation: "USP General Chapter <797> Pharmaceutical Compounding - Sterile Preparations (official 1 Nov 2023), Table 13 beyond-use dates: immediate use 4 h; Category 1 12 h room temperature, 24 h refrigerated; Category 2 aseptically processed from sterile components without sterility testing 4 days room temperature, 10 days refrigerated",
};
pub const USP_800: Source = Source {
    id: "usp-800",
    citation: "USP General Chapter <800> Hazardous Drugs - Handling in Healthcare Settings; NIOSH List of Hazardous Drugs in Healthcare Settings 2024",
};
pub const DRUG_LIBRARY: Source = Source {
    id: "infusio-drug-library",
    citation: "Infusio drug library entry for the medication (each number cites its label or guideline in the entry's [[sources]]; the citation is repeated in the derivation step)",
};
