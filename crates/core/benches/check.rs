//! One `infusio check` in process: the contract's example order (infliximab) and a busier
//! one (doxorubicin with history, labs and a cumulative ledger), against the shipped library.
//! Target: at most 50 microseconds per check (parsing the JSON input included).
//!
//! Run: `cargo bench -p infusio-core --bench check -- --warm-up-time 1 --measurement-time 3`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark failing on unwrap is a failing benchmark

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use infusio_core::check::{CheckRequest, check, check_json};
use infusio_core::library::Library;
use serde_json::{Value, json};

fn library() -> Library {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/library");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            files.push((name, std::fs::read_to_string(&path).unwrap()));
        }
    }
    Library::load(files.iter().map(|(n, t)| (n.as_str(), t.as_str()))).unwrap()
}

fn example() -> Value {
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

fn bench(c: &mut Criterion) {
    let lib = library();
    let infliximab = example();
    let doxorubicin = lib.get("doxorubicin").unwrap().typical_order[0].clone();
    let request = CheckRequest::from_json(&infliximab).unwrap();
    c.bench_function("check/infliximab (JSON in, result out)", |b| {
        b.iter(|| check_json(&lib, black_box(&infliximab)).unwrap())
    });
    c.bench_function("check/infliximab (input parsing only)", |b| {
        b.iter(|| CheckRequest::from_json(black_box(&infliximab)).unwrap())
    });
    c.bench_function("units/parse_quantity 70 kg", |b| {
        b.iter(|| infusio_core::units::parse_quantity(black_box("70 kg")).unwrap())
    });
    c.bench_function("check/infliximab (engine only)", |b| {
        b.iter(|| check(&lib, black_box(&request)))
    });
    c.bench_function("check/doxorubicin with history (JSON in)", |b| {
        b.iter(|| check_json(&lib, black_box(&doxorubicin)).unwrap())
    });
    c.bench_function("library/load 50 files", |b| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/library");
        let files: Vec<(String, String)> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .map(|p| {
                (
                    p.file_name().unwrap().to_str().unwrap().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                )
            })
            .collect();
        b.iter(|| Library::load(files.iter().map(|(n, t)| (n.as_str(), t.as_str()))).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
