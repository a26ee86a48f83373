//! Reading clinical inputs from JSON objects, with errors that name the field.
//!
//! Every machine interface (CLI, HTTP) hands the engine a JSON object. [`Fields`] reads it
//! key by key, converts quantity strings through the typed parsers, and at the end refuses
//! any key that was not read, so a typo such as `weight_bassis` is never silently ignored.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::units::{Quantity, UnitError, parse_quantity};

/// The longest string [`Fields::opt_string`] accepts, in characters: every free-text field of
/// every contract (an allergy's reaction, a reason, a note) is bounded, so one request cannot
/// store megabytes of text in the record. Identifiers and names have tighter limits where they
/// are read.
pub const MAX_TEXT_CHARS: usize = 4_000;

/// Input refused: which field (dotted path, `[i]` for arrays), the value as given, and what
/// is accepted. This is the `{"error": {...}}` of the contracts.
#[derive(Clone, Debug, PartialEq, Serialize, thiserror::Error)]
#[error("{field}: {message} (given: {value})")]
pub struct InputError {
    pub field: String,
    pub value: String,
    pub message: String,
}

impl InputError {
    pub fn new(
        field: impl Into<String>,
        value: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        InputError {
            field: field.into(),
            value: value.into(),
            message: message.into(),
        }
    }
}

/// The value as the user gave it: a string without quotes, anything else as JSON text.
pub fn as_given(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Joins a parent path and a key: `patient` + `weight` → `patient.weight`.
pub fn join_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// A JSON object being read; see the module documentation.
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    path: String,
    read: BTreeSet<String>,
}

impl<'a> Fields<'a> {
    /// Starts reading `value`, which must be an object; `path` is its dotted path ("" at the top).
    pub fn new(value: &'a Value, path: &str) -> Result<Self, InputError> {
        match value {
            Value::Object(object) => Ok(Fields {
                object,
                path: path.to_string(),
                read: BTreeSet::new(),
            }),
            other => Err(InputError::new(
                if path.is_empty() { "(input)" } else { path },
                as_given(other),
                "expected a JSON object",
            )),
        }
    }

    /// The dotted path of `key` inside this object.
    pub fn path_of(&self, key: &str) -> String {
        join_path(&self.path, key)
    }

    /// The raw value of `key`, marking it as read. JSON `null` counts as absent.
    pub fn raw(&mut self, key: &str) -> Option<&'a Value> {
        self.read.insert(key.to_string());
        match self.object.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    /// Whether `key` is present (without marking it read).
    pub fn has(&self, key: &str) -> bool {
        !matches!(self.object.get(key), None | Some(Value::Null))
    }

    fn missing(&self, key: &str, what: &str) -> InputError {
        InputError::new(self.path_of(key), "", format!("required: {what}"))
    }

    /// A required quantity string, converted by `convert` (e.g. `BodyWeight::from_quantity`).
    pub fn quantity<T>(
        &mut self,
        key: &str,
        what: &str,
        convert: impl Fn(&Quantity) -> Result<T, UnitError>,
    ) -> Result<T, InputError> {
        self.opt_quantity(key, what, convert)?
            .ok_or_else(|| self.missing(key, what))
    }

    /// An optional quantity string.
    pub fn opt_quantity<T>(
        &mut self,
        key: &str,
        what: &str,
        convert: impl Fn(&Quantity) -> Result<T, UnitError>,
    ) -> Result<Option<T>, InputError> {
        let path = self.path_of(key);
        let Some(value) = self.raw(key) else {
            return Ok(None);
        };
        parse_quantity_value(value, &path, what, convert).map(Some)
    }

    /// A required string that must be one of `allowed`.
    pub fn choice(&mut self, key: &str, allowed: &[&str]) -> Result<String, InputError> {
        let what = format!("one of {}", allowed.join(", "));
        self.opt_choice(key, allowed)?
            .ok_or_else(|| self.missing(key, &what))
    }

    /// An optional string that must be one of `allowed`.
    pub fn opt_choice(
        &mut self,
        key: &str,
        allowed: &[&str],
    ) -> Result<Option<String>, InputError> {
        let path = self.path_of(key);
        let Some(value) = self.raw(key) else {
            return Ok(None);
        };
        match value {
            Value::String(s) if allowed.contains(&s.as_str()) => Ok(Some(s.clone())),
            other => Err(InputError::new(
                path,
                as_given(other),
                format!("expected one of: {}", allowed.join(", ")),
            )),
        }
    }

    /// An optional bare number (for fields whose name carries the unit, e.g. `tolerance_percent`).
    pub fn opt_number(&mut self, key: &str) -> Result<Option<f64>, InputError> {
        let path = self.path_of(key);
        let Some(value) = self.raw(key) else {
            return Ok(None);
        };
        match value.as_f64() {
            Some(n) if n.is_finite() => Ok(Some(n)),
            _ => Err(InputError::new(
                path,
                as_given(value),
                "expected a bare number (the unit is in the field's name)",
            )),
        }
    }

    /// A required bare number.
    pub fn number(&mut self, key: &str) -> Result<f64, InputError> {
        self.opt_number(key)?
            .ok_or_else(|| self.missing(key, "a number"))
    }

    /// An optional boolean.
    pub fn opt_bool(&mut self, key: &str) -> Result<Option<bool>, InputError> {
        let path = self.path_of(key);
        let Some(value) = self.raw(key) else {
            return Ok(None);
        };
        value
            .as_bool()
            .map(Some)
            .ok_or_else(|| InputError::new(path, as_given(value), "expected true or false"))
    }

    /// An optional string of any content, at most [`MAX_TEXT_CHARS`] characters (a longer one
    /// is refused naming the field, its length and the limit, never echoing the text).
    pub fn opt_string(&mut self, key: &str) -> Result<Option<String>, InputError> {
        let path = self.path_of(key);
        let Some(value) = self.raw(key) else {
            return Ok(None);
        };
        let text = value
            .as_str()
            .ok_or_else(|| InputError::new(path.clone(), as_given(value), "expected a string"))?;
        let n_chars = text.chars().count();
        if n_chars > MAX_TEXT_CHARS {
            return Err(InputError::new(
                path,
                format!("({n_chars} characters)"),
                format!("at most {MAX_TEXT_CHARS} characters"),
            ));
        }
        Ok(Some(text.to_string()))
    }

    /// An optional nested object, read with its own [`Fields`].
    pub fn opt_object(&mut self, key: &str) -> Result<Option<Fields<'a>>, InputError> {
        let path = self.path_of(key);
        match self.raw(key) {
            None => Ok(None),
            Some(v) => Fields::new(v, &path).map(Some),
        }
    }

    /// An optional array; each element is returned with its path (`doses[2]`).
    pub fn opt_array(&mut self, key: &str) -> Result<Option<Vec<(String, &'a Value)>>, InputError> {
        let path = self.path_of(key);
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (format!("{path}[{i}]"), v))
                    .collect(),
            )),
            Some(other) => Err(InputError::new(path, as_given(other), "expected an array")),
        }
    }

    /// Refuses every key that was not read: unknown keys are errors, never ignored.
    pub fn finish(self) -> Result<(), InputError> {
        let known: Vec<&String> = self.read.iter().collect();
        match self.object.iter().find(|(k, _)| !self.read.contains(*k)) {
            None => Ok(()),
            Some((key, value)) => Err(InputError::new(
                join_path(&self.path, key),
                as_given(value),
                format!(
                    "unknown field '{key}'; accepted fields here: {}",
                    known
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
    }
}

/// Converts one JSON value that must be a quantity string.
pub fn parse_quantity_value<T>(
    value: &Value,
    path: &str,
    what: &str,
    convert: impl Fn(&Quantity) -> Result<T, UnitError>,
) -> Result<T, InputError> {
    let Value::String(text) = value else {
        return Err(InputError::new(
            path,
            as_given(value),
            format!(
                "expected a quantity string '<number> <unit>' ({what}); a bare number is refused because its unit would be a guess"
            ),
        ));
    };
    let q = parse_quantity(text)
        .map_err(|e| InputError::new(path, text.clone(), format!("{e}; expected {what}")))?;
    convert(&q).map_err(|e| InputError::new(path, text.clone(), format!("{e}; expected {what}")))
}

/// Refuses a value outside `[min, max]` (inclusive), naming the accepted range.
pub fn check_range(
    path: &str,
    given: &str,
    value: f64,
    min: f64,
    max: f64,
    unit: &str,
) -> Result<(), InputError> {
    if value.is_finite() && value >= min && value <= max {
        Ok(())
    } else {
        Err(InputError::new(
            path,
            given,
            format!(
                "outside the accepted range {} to {} {unit}",
                crate::units::format_number(min, 3),
                crate::units::format_number(max, 3)
            ),
        ))
    }
}
