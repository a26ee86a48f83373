//! The validator: a library file that breaks an invariant never loads, and the error names
//! the file, the line and the field.

mod common;

use infusio_core::library::{Library, LibraryError, parse_entry};

fn infliximab() -> String {
    std::fs::read_to_string(common::library_dir().join("infliximab.toml")).expect("readable")
}

fn errors(text: &str) -> Vec<LibraryError> {
    match parse_entry("infliximab.toml", text) {
        Ok(_) => panic!("the broken file loaded"),
        Err(e) => e,
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .expect("needle present")
}

#[test]
fn the_shipped_file_is_valid() {
    assert!(parse_entry("infliximab.toml", &infliximab()).is_ok());
}

#[test]
fn soft_min_above_soft_max_names_file_line_and_field() {
    let good = infliximab();
    let bad = good.replace(
        "soft_min = 2.7, soft_max = 11",
        "soft_min = 12, soft_max = 11",
    );
    assert_ne!(good, bad);
    let e = errors(&bad);
    let hit = e
        .iter()
        .find(|e| e.field == "dosing[0].per_dose.soft_max")
        .expect("soft_max error");
    assert_eq!(hit.file, "infliximab.toml");
    assert_eq!(hit.line, Some(line_of(&bad, "per_dose = {")));
    assert!(
        hit.message
            .contains("hard_min ≤ soft_min < soft_max ≤ hard_max"),
        "{}",
        hit.message
    );
    assert!(hit.to_string().starts_with(&format!(
        "infliximab.toml:{}: dosing[0].per_dose.soft_max:",
        line_of(&bad, "per_dose = {")
    )));
}

#[test]
fn hard_max_below_soft_max_is_refused() {
    let bad = infliximab().replace(
        "soft_max = 11, hard_max = 15",
        "soft_max = 11, hard_max = 10",
    );
    assert!(
        errors(&bad)
            .iter()
            .any(|e| e.field == "dosing[0].per_dose.hard_max")
    );
}

#[test]
fn a_block_without_a_source_is_refused() {
    let bad = infliximab().replace(
        "{ unit = \"h\", hard_min = 1, soft_min = 2, source = \"remicade-pi\",",
        "{ unit = \"h\", hard_min = 1, soft_min = 2,",
    );
    let e = errors(&bad);
    let hit = e
        .iter()
        .find(|e| e.field == "administration.duration[0].source")
        .expect("source error");
    assert!(hit.message.contains("needs a source"));
    assert_eq!(hit.line, Some(line_of(&bad, "unit = \"h\", hard_min = 1")));
}

#[test]
fn an_undeclared_source_is_refused() {
    let bad = infliximab().replace("per_dose = { hard_min = 1, soft_min = 2.7, soft_max = 11, hard_max = 15, source = \"remicade-pi\"", "per_dose = { hard_min = 1, soft_min = 2.7, soft_max = 11, hard_max = 15, source = \"my-memory\"");
    let e = errors(&bad);
    assert!(
        e.iter()
            .any(|e| e.field == "dosing[0].per_dose.source" && e.message.contains("not declared"))
    );
}

#[test]
fn a_unit_inconsistent_with_the_basis_is_refused() {
    let bad = infliximab().replace("dose_unit = \"mg/kg\"", "dose_unit = \"mg/m2\"");
    let e = errors(&bad);
    let hit = e
        .iter()
        .find(|e| e.field == "dosing[0].dose_unit")
        .expect("unit error");
    assert!(hit.message.contains("inconsistent with basis per_kg"));
    assert_eq!(hit.line, Some(line_of(&bad, "dose_unit = \"mg/m2\"")));
}

#[test]
fn high_alert_requires_double_check() {
    let bad = infliximab().replace(
        "[review]",
        "[flags]\nhigh_alert = true\nsource = \"remicade-pi\"\n\n[review]",
    );
    let e = errors(&bad);
    assert!(
        e.iter()
            .any(|e| e.field == "flags.double_check" && e.message.contains("double check"))
    );
}

#[test]
fn a_typo_in_a_key_is_refused_with_its_line() {
    let bad = infliximab().replace("usual = 5", "usal = 5");
    let e = errors(&bad);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line, Some(line_of(&bad, "usal = 5")));
    assert!(e[0].message.contains("usal"), "{}", e[0].message);
}

#[test]
fn the_id_must_match_the_file_name() {
    let e = match parse_entry("remicade.toml", &infliximab()) {
        Ok(_) => panic!("loaded"),
        Err(e) => e,
    };
    assert!(
        e.iter()
            .any(|e| e.field == "id" && e.message.contains("remicade.toml"))
    );
}

#[test]
fn one_broken_file_refuses_the_whole_library() {
    let mut files = common::library_files();
    let n = files.len();
    for (name, text) in files.iter_mut() {
        if name == "infliximab.toml" {
            *text = text.replace(
                "soft_min = 2.7, soft_max = 11",
                "soft_min = 12, soft_max = 11",
            );
        }
    }
    let r = Library::load(files.iter().map(|(a, b)| (a.as_str(), b.as_str())));
    assert!(r.is_err());
    assert!(n > 1);
}

#[test]
fn every_shipped_entry_declares_sources_and_a_review_status() {
    let lib = common::library();
    for e in lib.entries() {
        assert!(!e.sources.is_empty(), "{}", e.id);
        assert!(
            e.review.status.contains("pending") || e.review.status.contains("reviewed"),
            "{}",
            e.id
        );
    }
}
