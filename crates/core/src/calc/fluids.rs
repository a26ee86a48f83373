//! Placeholder: being written.

use serde_json::Value;

use crate::derivation::Calculation;
use crate::input::InputError;

pub fn maintenance_fluids_json(input: &Value) -> Result<Calculation, InputError> {
    let _ = input;
    Err(InputError::new("calculator", "", "not implemented yet"))
}

pub fn fluid_deficit_json(input: &Value) -> Result<Calculation, InputError> {
    let _ = input;
    Err(InputError::new("calculator", "", "not implemented yet"))
}

pub fn sodium_deficit_json(input: &Value) -> Result<Calculation, InputError> {
    let _ = input;
    Err(InputError::new("calculator", "", "not implemented yet"))
}

pub fn free_water_deficit_json(input: &Value) -> Result<Calculation, InputError> {
    let _ = input;
    Err(InputError::new("calculator", "", "not implemented yet"))
}
