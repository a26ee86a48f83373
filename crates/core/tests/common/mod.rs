//! Shared by the check and library tests: the shipped library and a base request.
#![allow(dead_code)]

use std::path::PathBuf;

use infusio_core::library::Library;
use serde_json::{Value, json};

pub fn library_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/library")
}

pub fn library_files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(library_dir()).expect("data/library exists") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            files.push((name, std::fs::read_to_string(&path).expect("readable")));
        }
    }
    files.sort();
    files
}

pub fn library() -> Library {
    let files = library_files();
    match Library::load(files.iter().map(|(n, t)| (n.as_str(), t.as_str()))) {
        Ok(lib) => lib,
        Err(errors) => panic!(
            "the library does not load:\n{}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// The contract's example input.
pub fn contract_example() -> Value {
    json!({
      "patient": {
        "age": "54 y", "sex": "female", "weight": "70 kg", "height": "165 cm",
        "labs": {"serum_creatinine": "0.9 mg/dL", "anc": "1.8 10*9/L", "platelets": "150 10*9/L",
                 "hemoglobin": "9.1 g/dL", "potassium": "3.1 mEq/L", "sodium": "139 mEq/L"},
        "allergies": ["penicillin"],
        "history": [{"medication": "doxorubicin", "dose": "108 mg", "bsa": "1.8 m2", "weight": "71 kg", "at": "2026-10-01"}]
      },
      "care_area": "adult-infusion",
      "order": {
        "medication": "infliximab", "dose": "350 mg", "dose_per": "5 mg/kg", "route": "iv",
        "volume": "250 mL", "duration": "2 h", "rate": "125 mL/h", "line": "peripheral",
        "frequency": "once", "infusion_number": 1
      },
      "at": "2026-11-26T09:00:00Z"
    })
}

/// The first typical order of a library entry.
pub fn typical(lib: &Library, id: &str) -> Value {
    lib.get(id)
        .and_then(|e| e.typical_order.first().cloned())
        .unwrap_or_else(|| panic!("{id} has a typical order"))
}

/// Sets a dotted path (`order.dose`, `patient.labs.anc`) in a JSON object.
pub fn set(v: &mut Value, path: &str, value: Value) {
    let mut cur = v;
    let parts: Vec<&str> = path.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        if cur.get(*p).is_none() {
            cur[*p] = json!({});
        }
        cur = &mut cur[*p];
    }
    cur[parts[parts.len() - 1]] = value;
}

/// Removes a dotted path.
pub fn remove(v: &mut Value, path: &str) {
    let parts: Vec<&str> = path.split('.').collect();
    let mut cur = v;
    for p in &parts[..parts.len() - 1] {
        cur = &mut cur[*p];
    }
    if let Some(o) = cur.as_object_mut() {
        o.remove(parts[parts.len() - 1]);
    }
}

/// The library, loaded once per test binary.
pub fn shared() -> &'static Library {
    static LIB: std::sync::OnceLock<Library> = std::sync::OnceLock::new();
    LIB.get_or_init(library)
}
