//! One `infusio check` in process: the contract's example order (infliximab) and a busier
//! one (doxorubicin with history, labs and a cumulative ledger), against the shipped library.
//! Target: at most 50 microseconds per check (parsing the JSON input included).
//!
//! Run: `cargo bench -p infusio-core --bench check -- --warm-up-time 1 --measurement-time 3`

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark failing on unwrap is a failing benchmark

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use infusio_core::check::{CheckRequest, check, check_json};
use infusio_core::library::Library;

fn library() -> Library {
    let files = infusio_testkit::library_files();
    Library::load(files.iter().map(|(n, t)| (n.as_str(), t.as_str()))).unwrap()
}

fn bench(c: &mut Criterion) {
    let lib = library();
    let infliximab = infusio_testkit::json::check_contract_example();
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
        let files = infusio_testkit::library_files();
        b.iter(|| Library::load(files.iter().map(|(n, t)| (n.as_str(), t.as_str()))).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
