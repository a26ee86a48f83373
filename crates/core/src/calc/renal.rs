//! Placeholder: being written.

use serde_json::Value;

use crate::derivation::Calculation;
use crate::input::InputError;

pub fn crcl_json(input: &Value) -> Result<Calculation, InputError> {
    let _ = input;
    Err(InputError::new("calculator", "", "not implemented yet"))
}

pub fn egfr_json(input: &Value) -> Result<Calculation, InputError> {
    let _ = input;
    Err(InputError::new("calculator", "", "not implemented yet"))
}
