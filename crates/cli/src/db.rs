//! `infusio db migrate|backup FILE|restore FILE` and `infusio audit verify|head`.
//!
//! Exit status: 0 done (for `audit verify`: the chain is intact); 1 the operation failed
//! (database unreachable, file exists, restore target not empty, …); 2 the command line was
//! refused; 3 `audit verify` found a broken chain (the first broken link is printed).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use infusio_store::{Store, StoreError, backup};

use crate::StoreArgs;

/// The data directory when `--data-dir` is not given.
pub const DEFAULT_DATA_DIR: &str = "infusio-data";

/// Exit status of `audit verify` on a broken chain.
pub(crate) const EXIT_CHAIN_BROKEN: u8 = 3;

pub fn run_db(sub: &str, file: Option<&Path>, store: &StoreArgs) -> ExitCode {
    let needs_file = matches!(sub, "backup" | "restore");
    match (sub, file) {
        ("migrate" | "backup" | "restore", _) if needs_file && file.is_none() => {
            return refused(&format!(
                "`infusio db {sub}` needs a FILE: infusio db {sub} FILE"
            ));
        }
        ("migrate", Some(f)) => {
            return refused(&format!(
                "`infusio db migrate` takes no file (got {})",
                f.display()
            ));
        }
        ("migrate" | "backup" | "restore", _) => {}
        _ => {
            return refused(&format!(
                "unknown db command {sub:?}: expected migrate, backup FILE or restore FILE"
            ));
        }
    }
    block_on(async {
        match sub {
            "migrate" => {
                let s = open(store, true).await?;
                let version = s.migrate().await?;
                println!(
                    "The record at {} is at schema version {version}.",
                    backup::describe(&s)
                );
                s.close().await;
            }
            "backup" => {
                let file = file.unwrap_or(Path::new(""));
                let s = open(store, false).await?;
                require_migrated(&s).await?;
                let summary = backup::backup(&s, file).await?;
                println!(
                    "Backup of {} written to {} ({}, {} rows).\nAudit chain head: seq {} sha256 {}",
                    backup::describe(&s),
                    file.display(),
                    summary.format,
                    summary.rows,
                    summary.audit_head.seq,
                    summary.audit_head.hash
                );
                s.close().await;
            }
            _ => {
                let file = file.unwrap_or(Path::new(""));
                let s = open(store, true).await?;
                let summary = backup::restore(&s, file).await?;
                println!(
                    "Restored {} ({}, {} rows) into {}.\nAudit chain verified; head matches the snapshot: seq {} sha256 {}",
                    file.display(),
                    summary.format,
                    summary.rows,
                    backup::describe(&s),
                    summary.audit_head.seq,
                    summary.audit_head.hash
                );
                s.close().await;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// A failure to report: a store error, or a message of this command's own.
pub(crate) struct Failure(pub(crate) String);

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure(e.to_string())
    }
}

pub(crate) fn refused(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// Runs `f` on a small runtime; an error is printed and exits 1.
pub(crate) fn block_on(f: impl Future<Output = Result<ExitCode, Failure>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("internal error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(f) {
        Ok(code) => code,
        Err(Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

/// The SQLite file a `--data-dir` (or the default) designates.
pub fn data_dir(args: &StoreArgs) -> PathBuf {
    args.data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
}

/// Opens the record named by the arguments. With `create` false a missing SQLite file is an
/// error rather than a new empty database.
pub(crate) async fn open(args: &StoreArgs, create: bool) -> Result<Store, Failure> {
    if let Some(url) = &args.database_url {
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            && !create
            && !Path::new(path).exists()
        {
            return Err(missing(Path::new(path)));
        }
        return Ok(Store::open(url).await?);
    }
    let dir = data_dir(args);
    if create {
        return Ok(Store::open_data_dir(&dir).await?);
    }
    let file = Store::sqlite_path(&dir);
    if !file.exists() {
        return Err(missing(&file));
    }
    Ok(Store::open_sqlite(&file).await?)
}

fn missing(file: &Path) -> Failure {
    Failure(format!(
        "no record at {}: run `infusio db migrate` (or `infusio serve`) first, or pass --data-dir / --database-url",
        file.display()
    ))
}

pub(crate) async fn require_migrated(s: &Store) -> Result<(), Failure> {
    let version = s.schema_version().await.unwrap_or(0);
    if version < Store::latest_schema_version() {
        return Err(Failure(format!(
            "the record at {} is at schema version {version}, this build needs {}: run `infusio db migrate`",
            backup::describe(s),
            Store::latest_schema_version()
        )));
    }
    Ok(())
}
