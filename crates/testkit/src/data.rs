//! Where the workspace's reviewed data lives, and its files as text. No `infusio-core` types:
//! each test tree loads the texts with its own `Library::load` / protocol loader.

use std::path::{Path, PathBuf};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

/// `data/library`: one reviewed TOML file per drug.
pub fn library_dir() -> PathBuf {
    workspace_root().join("data/library")
}

/// `data/protocols`: one cited regimen template per file.
pub fn protocol_dir() -> PathBuf {
    workspace_root().join("data/protocols")
}

/// (file name, text) of every `*.toml` file in `dir`, sorted by name.
pub fn toml_files(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{} cannot be listed: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{} is not readable: {e}", path.display()));
            files.push((name, text));
        }
    }
    files.sort();
    files
}

/// (file name, text) of every drug-library file, sorted by name.
pub fn library_files() -> Vec<(String, String)> {
    toml_files(&library_dir())
}

/// (file name, text) of every protocol template, sorted by name.
pub fn protocol_files() -> Vec<(String, String)> {
    toml_files(&protocol_dir())
}
