//! Tidy checks that keep `ARCHITECTURE.md` true: they read the workspace's sources and
//! manifests as text and report every place where the code has drifted from the map.
//!
//! The checks are plain functions over text so that each one can be tested on a deliberately
//! wrong input (a test of the test); `tests/tidy.rs` runs them over the real workspace.
//! This crate has no dependencies and is never linked into a binary.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

/// One place where the code breaks a rule of the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The file, relative to the workspace root.
    pub file: String,
    /// 1-based line, 0 when the violation is about the whole file.
    pub line: usize,
    /// What is wrong, in words.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// The allowed dependency edges between the workspace's crates: crate name → the workspace
/// crates it may depend on (normal `[dependencies]`; dev-dependencies are free).
pub type EdgeMap = BTreeMap<String, BTreeSet<String>>;

/// Reads the dependency map from `ARCHITECTURE.md`: the fenced block that follows the line
/// `<!-- tidy:dependencies -->`, one line per crate in the form `name -> dep, dep` (an empty
/// right-hand side means no workspace dependency).
///
/// # Errors
/// A message naming the line when the block is missing or a line is malformed.
pub fn parse_edge_map(architecture: &str) -> Result<EdgeMap, String> {
    let mut lines = architecture.lines().enumerate();
    lines
        .by_ref()
        .find(|(_, l)| l.trim() == "<!-- tidy:dependencies -->")
        .ok_or("ARCHITECTURE.md has no `<!-- tidy:dependencies -->` block")?;
    lines
        .by_ref()
        .find(|(_, l)| l.trim_start().starts_with("```"))
        .ok_or("the dependency block has no opening fence")?;
    let mut map = EdgeMap::new();
    for (idx, line) in lines {
        let line = line.trim();
        if line.starts_with("```") {
            return Ok(map);
        }
        if line.is_empty() {
            continue;
        }
        let (name, deps) = line
            .split_once("->")
            .ok_or_else(|| format!("ARCHITECTURE.md:{}: expected `crate -> deps`", idx + 1))?;
        let deps = deps
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
            .collect();
        if map.insert(name.trim().to_owned(), deps).is_some() {
            return Err(format!("ARCHITECTURE.md:{}: crate listed twice", idx + 1));
        }
    }
    Err("the dependency block is not closed".to_owned())
}

/// The package name and the workspace crates (`infusio*`) named under `[dependencies]` of
/// one `Cargo.toml` (target-specific and build dependencies count as dependencies too).
#[must_use]
pub fn manifest_edges(manifest: &str) -> (Option<String>, Vec<(usize, String)>) {
    let mut section = String::new();
    let mut name = None;
    let mut deps = Vec::new();
    for (idx, raw) in manifest.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            section = line.trim_matches(|c| c == '[' || c == ']').to_owned();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim().trim_end_matches(".workspace").trim();
        if section == "package" && key == "name" {
            name = Some(value.trim().trim_matches('"').to_owned());
        }
        let is_dependency_section = section == "dependencies"
            || section == "build-dependencies"
            || (section.starts_with("target.") && section.ends_with(".dependencies"));
        if is_dependency_section && key.starts_with("infusio") {
            deps.push((idx + 1, key.to_owned()));
        }
    }
    (name, deps)
}

/// Checks one manifest against the map.
#[must_use]
pub fn check_manifest(file: &str, manifest: &str, map: &EdgeMap) -> Vec<Violation> {
    let (name, deps) = manifest_edges(manifest);
    let Some(name) = name else {
        return vec![Violation {
            file: file.to_owned(),
            line: 0,
            message: "no [package] name".to_owned(),
        }];
    };
    let Some(allowed) = map.get(&name) else {
        return vec![Violation {
            file: file.to_owned(),
            line: 0,
            message: format!(
                "crate `{name}` is not in ARCHITECTURE.md's dependency map: add it with the edges it may have"
            ),
        }];
    };
    deps.into_iter()
        .filter(|(_, dep)| !allowed.contains(dep))
        .map(|(line, dep)| Violation {
            file: file.to_owned(),
            line,
            message: format!(
                "`{name}` depends on `{dep}`, an edge ARCHITECTURE.md does not allow (allowed: {})",
                if allowed.is_empty() {
                    "none".to_owned()
                } else {
                    allowed.iter().cloned().collect::<Vec<_>>().join(", ")
                }
            ),
        })
        .collect()
}

/// SQL statements as they appear in source text. Matching is on upper-case keywords, the
/// house style for SQL, so English prose ("select a drug") does not match.
const SQL_PATTERNS: &[&[&str]] = &[
    &["SELECT ", " FROM "],
    &["INSERT INTO "],
    &["UPDATE ", " SET "],
    &["DELETE FROM "],
    &["CREATE TABLE"],
    &["CREATE INDEX"],
    &["CREATE UNIQUE INDEX"],
    &["ALTER TABLE"],
    &["DROP TABLE"],
    &["BEGIN IMMEDIATE"],
    &["PRAGMA "],
    &["FOR UPDATE"],
];

/// Lines of `source` that hold an SQL statement (inside a string or not).
#[must_use]
pub fn sql_lines(source: &str) -> Vec<usize> {
    source
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.split("//").next().unwrap_or("");
            SQL_PATTERNS
                .iter()
                .any(|parts| parts.iter().all(|p| code.contains(p)))
        })
        .map(|(idx, _)| idx + 1)
        .collect()
}

/// Lines of `source` that use a given crate (`use name::`, `name::` paths, `extern crate`).
#[must_use]
pub fn crate_use_lines(source: &str, crate_name: &str) -> Vec<usize> {
    let path = format!("{crate_name}::");
    source
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.split("//").next().unwrap_or("");
            code.match_indices(&path).any(|(at, _)| {
                at == 0
                    || !code[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
        .map(|(idx, _)| idx + 1)
        .collect()
}

/// Every `.rs` file below `dir`, sorted, skipping build output.
#[must_use]
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                let skip = p
                    .file_name()
                    .is_some_and(|n| n == "target" || n == "node_modules");
                if !skip {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = "intro\n<!-- tidy:dependencies -->\n```text\ninfusio-core ->\ninfusio-app -> infusio-core, infusio-store\ninfusio-store -> infusio-core\n```\n";

    #[test]
    fn reads_the_map() {
        let map = parse_edge_map(MAP).expect("map parses");
        assert!(map["infusio-core"].is_empty());
        assert_eq!(map["infusio-app"].len(), 2);
    }

    #[test]
    fn a_deliberately_wrong_edge_is_reported() {
        let map = parse_edge_map(MAP).expect("map parses");
        let core_on_app = "[package]\nname = \"infusio-core\"\n\n[dependencies]\nserde.workspace = true\ninfusio-app.workspace = true\n";
        let found = check_manifest("crates/core/Cargo.toml", core_on_app, &map);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].line, 6);
        assert!(
            found[0]
                .message
                .contains("`infusio-core` depends on `infusio-app`")
        );
    }

    #[test]
    fn allowed_edges_and_dev_dependencies_pass() {
        let map = parse_edge_map(MAP).expect("map parses");
        let app = "[package]\nname = \"infusio-app\"\n[dependencies]\ninfusio-store = { path = \"../store\" }\n[dev-dependencies]\ninfusio-web.workspace = true\n";
        assert!(check_manifest("a", app, &map).is_empty());
    }

    #[test]
    fn a_crate_missing_from_the_map_is_reported() {
        let map = parse_edge_map(MAP).expect("map parses");
        let new = "[package]\nname = \"infusio-new\"\n";
        assert_eq!(check_manifest("n", new, &map).len(), 1);
    }

    #[test]
    fn sql_is_found_and_prose_is_not() {
        let src = "let q = \"SELECT id FROM orders WHERE x = ?\";\n// select a drug from the list\nlet u = \"UPDATE orders SET dose = 1\";\nlet d = \"delete from the queue\";\n";
        assert_eq!(sql_lines(src), vec![1, 3]);
    }

    #[test]
    fn crate_paths_are_found_but_not_suffixes() {
        let src = "use axum::Router;\nlet x = my_axum::f();\nfn f() -> axum::Json<()> {}\n";
        assert_eq!(crate_use_lines(src, "axum"), vec![1, 3]);
    }
}
