//! Runs the tidy checks over the real workspace: the dependency map in ARCHITECTURE.md, SQL
//! only in `infusio-store`, HTTP (`axum`) only in the HTTP crates.

use std::path::{Path, PathBuf};

use infusio_tidy::{
    Violation, check_manifest, crate_use_lines, parse_edge_map, rust_files, sql_lines,
};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn crate_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("crates"))
        .expect("crates/ exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn assert_none(what: &str, found: &[Violation]) {
    let list: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(
        found.is_empty(),
        "{what}: {} violation(s)\n{}",
        found.len(),
        list.join("\n")
    );
}

#[test]
fn every_dependency_edge_is_on_the_map() {
    let map = parse_edge_map(&read(&root().join("ARCHITECTURE.md"))).expect("dependency map");
    let mut found = Vec::new();
    for dir in crate_dirs() {
        let manifest = dir.join("Cargo.toml");
        found.extend(check_manifest(&relative(&manifest), &read(&manifest), &map));
    }
    assert_none("dependency edges outside ARCHITECTURE.md's map", &found);
}

/// Production sources of every crate except the named ones.
fn sources_outside(except: &[&str]) -> Vec<PathBuf> {
    crate_dirs()
        .into_iter()
        .filter(|d| !except.iter().any(|e| d.ends_with(e)))
        .flat_map(|d| rust_files(&d.join("src")))
        .collect()
}

#[test]
fn sql_lives_only_in_the_store() {
    let mut found = Vec::new();
    for file in sources_outside(&["store", "tidy"]) {
        for line in sql_lines(&read(&file)) {
            found.push(Violation {
                file: relative(&file),
                line,
                message: "SQL outside infusio-store: make it a store function".to_owned(),
            });
        }
    }
    assert_none("SQL outside crates/store", &found);
}

#[test]
fn migrations_live_only_in_the_store() {
    let mut found = Vec::new();
    for dir in crate_dirs().into_iter().filter(|d| !d.ends_with("store")) {
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = entry.path();
                if p.is_dir() && !p.ends_with("node_modules") {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "sql") {
                    found.push(Violation {
                        file: relative(&p),
                        line: 0,
                        message: "an SQL file outside infusio-store".to_owned(),
                    });
                }
            }
        }
    }
    assert_none("SQL files outside crates/store", &found);
}

#[test]
fn http_lives_only_in_the_http_crates() {
    let http_crates = ["server", "web", "fhir", "tidy"];
    let mut found = Vec::new();
    for file in sources_outside(&http_crates) {
        for line in crate_use_lines(&read(&file), "axum") {
            found.push(Violation {
                file: relative(&file),
                line,
                message: "axum outside the HTTP crates (server, web, fhir)".to_owned(),
            });
        }
    }
    assert_none("HTTP outside the HTTP crates", &found);
}
