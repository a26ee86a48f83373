//! Test support shared by every test tree of the workspace, so that no test tree keeps its own
//! copy (issue 13, "one home per helper"):
//!
//! - [`on_both_backends!`] and the throwaway-PostgreSQL harness ([`backend`]): a test runs on
//!   a fresh SQLite file and, when `INFUSIO_TEST_PG_URL` names a PostgreSQL server, on a fresh
//!   schema of that server; without the variable the PostgreSQL variant says loudly that it is
//!   skipped.
//! - The drug-library and protocol locators ([`data`]): paths and file texts only, no
//!   `infusio-core` types, so `infusio-core`'s own tests can use the kit without a second copy
//!   of core in the test binary.
//! - [`TempDir`], the binary runner ([`run`]) and JSON helpers ([`json`]).
//!
//! A dev-dependency only: no production crate links it.

#![allow(clippy::expect_used, clippy::panic)] // a failing fixture is a failing test

pub mod backend;
pub mod data;
pub mod json;
pub mod run;

pub use backend::{
    BACKEND, PG_URL_VAR, PgDatabase, PgSchema, TestBackend, TestDb, open_another_store, open_store,
    open_store_in, pg_url,
};
pub use data::{library_dir, library_files, protocol_dir, protocol_files, workspace_root};

use std::path::{Path, PathBuf};

/// A fresh directory under the system temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new, empty directory whose name carries `tag` and a unique id.
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "infusio-{tag}-{}",
            infusio_store::new_id().replace('-', "")
        ));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Keeps the directory after the test (for a record inspected later or a server still
    /// writing to it) and returns its path.
    pub fn keep(self) -> PathBuf {
        let path = self.0.clone();
        std::mem::forget(self);
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a line to the process's stderr directly: libtest captures `eprintln!` of a passing
/// test, and a skipped variant must be seen.
pub fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
