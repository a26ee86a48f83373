//! Derivations, sources and findings: how every computed number explains itself.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};

use crate::units::Qty;

/// One step of a derivation: what was computed, by which formula, from which inputs, with
/// which rounding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub description: String,
    pub formula: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<NamedQty>,
    pub result: Qty,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounding: Option<String>,
}

impl Step {
    pub fn new(description: impl Into<String>, formula: impl Into<String>, result: Qty) -> Self {
        Step {
            description: description.into(),
            formula: formula.into(),
            inputs: Vec::new(),
            result,
            rounding: None,
        }
    }

    /// Adds a named input (builder style).
    pub fn input(mut self, name: &str, qty: Qty) -> Self {
        self.inputs.push(NamedQty {
            name: name.to_string(),
            value: qty.value,
            unit: qty.unit,
        });
        self
    }

    /// Records the rounding rule applied in this step.
    pub fn rounding(mut self, rule: impl Into<String>) -> Self {
        self.rounding = Some(rule.into());
        self
    }
}

/// An input of a step: `{"name": "weight", "value": 70, "unit": "kg"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedQty {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

/// A citation for a formula or a clinical number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Source {
    /// Short stable id, e.g. `mosteller-1987`.
    pub id: &'static str,
    /// The citation as a clinician would look it up.
    pub citation: &'static str,
}

/// Severity of a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    HardStop,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::HardStop => "hard_stop",
        }
    }
}

/// A clinical finding: a value, not an error. Codes are stable and dotted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub code: String,
    pub severity: Severity,
    pub message: String,
}

impl Finding {
    pub fn new(code: &str, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            code: code.to_string(),
            severity,
            message: message.into(),
        }
    }
}

/// Named outputs in a fixed order; serialised as a JSON object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outputs(pub Vec<(String, Qty)>);

impl Outputs {
    pub fn push(&mut self, name: &str, qty: Qty) {
        self.0.push((name.to_string(), qty));
    }

    pub fn get(&self, name: &str) -> Option<&Qty> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, q)| q)
    }
}

impl Serialize for Outputs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, qty) in &self.0 {
            map.serialize_entry(name, qty)?;
        }
        map.end()
    }
}

/// The result of a calculator: outputs, derivation, sources, findings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Calculation {
    pub calculator: String,
    pub outputs: Outputs,
    pub steps: Vec<Step>,
    pub sources: Vec<Source>,
    pub findings: Vec<Finding>,
    /// Structured results that are not single quantities (`pump_steps`, `vials`), serialised
    /// at the top level beside `outputs`. Empty for most calculators.
    #[serde(flatten)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl Calculation {
    pub fn new(calculator: &str) -> Self {
        Calculation {
            calculator: calculator.to_string(),
            outputs: Outputs::default(),
            steps: Vec::new(),
            sources: Vec::new(),
            findings: Vec::new(),
            details: serde_json::Map::new(),
        }
    }

    /// Adds a step and returns its result value for use in the next step.
    pub fn step(&mut self, step: Step) -> f64 {
        let v = step.result.value;
        self.steps.push(step);
        v
    }

    pub fn output(&mut self, name: &str, qty: Qty) {
        self.outputs.push(name, qty);
    }

    pub fn source(&mut self, source: Source) {
        if !self.sources.contains(&source) {
            self.sources.push(source);
        }
    }

    pub fn finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Merges another calculation's steps, sources and findings (not its outputs).
    pub fn absorb(&mut self, other: Calculation) {
        self.steps.extend(other.steps);
        for s in other.sources {
            self.source(s);
        }
        self.findings.extend(other.findings);
    }
}
