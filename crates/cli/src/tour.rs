//! `infusio tour`: a guided tour on demo data, run by the README's first command until the
//! server exists. Every number printed is computed live by the same engine as `infusio calc`.

use std::process::ExitCode;

use serde_json::{Value, json};

/// Demo patients and orders, each a calculator with its input.
fn demos() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "An oncology patient's body-surface area, weight typed in pounds",
            "bsa",
            json!({"weight": "160 lb", "height": "5 ft 10 in", "method": "mosteller"}),
        ),
        (
            "Carboplatin AUC 6 for an obese man with a low creatinine (NCCN guardrails)",
            "carboplatin",
            json!({"target_auc": "6 mg/mL.min", "age": "45 y", "sex": "male", "weight": "100 kg",
                   "height": "178 cm", "serum_creatinine": "0.6 mg/dL",
                   "weight_basis": "adjusted", "scr_floor": "0.7 mg/dL"}),
        ),
        (
            "Rituximab 375 mg/m2 rounded to whole vials within 10%",
            "dose",
            json!({"dose_per": "375 mg/m2", "weight": "80 kg", "height": "178 cm",
                   "rounding": {"vials": ["100 mg", "500 mg"], "tolerance_percent": 10}}),
        ),
        (
            "Creatinine clearance from a creatinine reported in micromol/L",
            "crcl",
            json!({"age": "72 y", "sex": "female", "weight": "58 kg", "serum_creatinine": "97 umol/L"}),
        ),
    ]
}

pub fn run() -> ExitCode {
    println!("Infusio tour: live calculations on demo patients\n");
    for (title, calculator, input) in demos() {
        println!("── {title}");
        println!("   infusio calc {calculator} <<< '{input}'\n");
        match infusio_core::calc::run(calculator, &input) {
            Ok(c) => println!("{}", crate::common::report(calculator, &c)),
            Err(e) => {
                eprintln!("internal error: demo input refused: {e}");
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}
