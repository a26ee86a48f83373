//! The drug library built into this crate (the reviewed files of the workspace's
//! `data/library/`, embedded at build time).

use infusio_core::library::{Library, LibraryError};

include!(concat!(env!("OUT_DIR"), "/library_files.rs"));

/// The names of the embedded library files.
pub fn builtin_files() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|(n, _)| *n)
}

/// Loads and validates the embedded library; a library with any invalid file never loads.
pub fn builtin() -> Result<Library, Vec<LibraryError>> {
    Library::load(FILES.iter().copied())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_embedded_library_loads() {
        let lib = super::builtin();
        assert!(lib.is_ok(), "{:?}", lib.err());
        assert!(lib.is_ok_and(|l| l.get("infliximab").is_some()));
    }
}
