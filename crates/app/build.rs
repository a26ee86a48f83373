//! Embeds the reviewed drug library (`data/library/*.toml` at the workspace root) and the
//! protocol templates (`data/protocols/*.toml`) so that every binary carries the exact library
//! and protocols it was built and tested with. A missing library or protocol set is a build
//! failure, never an empty one.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    embed(
        &manifest.join("../../data/library"),
        "the drug library",
        "library_files.rs",
        "/// The drug library built into this crate: (file name, text).\npub static FILES: &[(&str, &str)] = &[\n",
    );
    embed(
        &manifest.join("../../data/protocols"),
        "the protocol templates",
        "protocol_files.rs",
        "/// The protocol templates built into this crate: (file name, text).\npub static PROTOCOL_FILES: &[(&str, &str)] = &[\n",
    );
}

fn embed(dir: &Path, what: &str, out_name: &str, header: &str) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect(),
        Err(e) => panic!("cannot read {what} at {}: {e}", dir.display()),
    };
    assert!(!files.is_empty(), "{what} at {} is empty", dir.display());
    files.sort();
    let mut out = String::from(header);
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let abs = f.canonicalize().unwrap_or_else(|_| f.clone());
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            abs.display().to_string()
        ));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join(out_name);
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("cannot write {}: {e}", dest.display());
    }
}
