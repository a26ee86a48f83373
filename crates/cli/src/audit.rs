//! `infusio audit`: the integrity of the record.
//!
//! - `verify` checks the hash chain, then every current row against its last audit event
//!   (a row changed, deleted or inserted outside the application is listed), and with
//!   `--anchor FILE` compares the chain with a signed head written earlier (a cut-off tail or
//!   a rewritten head is reported). `--public-key FILE` pins the key the anchor must be
//!   signed with.
//! - `head` prints the chain head; with `--sign KEYFILE` it writes a signed anchor (to `--out
//!   FILE` or standard output) to keep outside the database.
//! - `keygen --out KEYFILE` makes an Ed25519 key pair: `KEYFILE` (secret, mode 0600) and
//!   `KEYFILE.pub`. Keep the secret key off the database server's disks where possible.
//!
//! Exit status: 0 intact; 3 the chain, a row or the anchor failed its check; 2 the command
//! line was refused; 1 the operation failed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use infusio_store::anchor::{self, Anchor, AnchorCheck};
use infusio_store::rows::RowReport;
use infusio_store::{Store, VerifyReport};
use serde_json::json;

use crate::StoreArgs;
use crate::db::{EXIT_CHAIN_BROKEN, Failure, block_on, open, refused, require_migrated};

/// Options of `infusio audit`.
#[derive(Args, Clone, Debug, Default)]
pub struct AuditArgs {
    /// `head`: sign the head with this Ed25519 secret key file (from `audit keygen`).
    #[arg(long, value_name = "KEYFILE")]
    pub sign: Option<PathBuf>,
    /// `head --sign`: write the anchor here (default: standard output); `keygen`: the secret
    /// key file to create (its public key goes to FILE.pub).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// `verify`: compare the chain with this signed anchor.
    #[arg(long, value_name = "FILE")]
    pub anchor: Option<PathBuf>,
    /// `verify --anchor`: the public key file the anchor must be signed with.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
    /// `access`: the patient whose access log to list.
    #[arg(long, value_name = "ID")]
    pub patient: Option<String>,
}

pub fn run(sub: &str, json: bool, opts: &AuditArgs, store: &StoreArgs) -> ExitCode {
    match sub {
        "keygen" => keygen(opts),
        "head" => block_on(async {
            let s = open(store, false).await?;
            require_migrated(&s).await?;
            let code = head(&s, json, opts).await;
            s.close().await;
            code
        }),
        "verify" => block_on(async {
            let s = open(store, false).await?;
            require_migrated(&s).await?;
            let code = verify(&s, json, opts).await;
            s.close().await;
            code
        }),
        "access" => crate::audit_access::run(json, opts, store),
        other => refused(&format!(
            "unknown audit command {other:?}: expected verify, head, keygen or access"
        )),
    }
}

fn read(path: &Path, what: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure(format!("{what} {}: {e}", path.display())))
}

fn keygen(opts: &AuditArgs) -> ExitCode {
    let Some(out) = &opts.out else {
        return refused("audit keygen needs --out KEYFILE");
    };
    let public = PathBuf::from(format!("{}.pub", out.display()));
    if out.exists() || public.exists() {
        return refused(&format!(
            "{} or its .pub exists already: a key is never overwritten",
            out.display()
        ));
    }
    let (secret, public_text) = match anchor::generate_key() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = write_private(out, &secret).and_then(|()| std::fs::write(&public, &public_text))
    {
        eprintln!("error: writing the key: {e}");
        return ExitCode::from(1);
    }
    println!(
        "Wrote the secret key to {} and the public key to {}. Keep the secret key outside the database server.",
        out.display(),
        public.display()
    );
    ExitCode::SUCCESS
}

/// Creates `path` readable by its owner only, failing if it exists.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

async fn head(s: &Store, json: bool, opts: &AuditArgs) -> Result<ExitCode, Failure> {
    let head = s.audit_head().await?;
    let Some(key_file) = &opts.sign else {
        if json {
            println!("{}", json!({"seq": head.seq, "hash": head.hash}));
        } else {
            println!("seq {}\nsha256 {}", head.seq, head.hash);
        }
        return Ok(ExitCode::SUCCESS);
    };
    let key = read(key_file, "--sign")?;
    let anchor = Anchor::sign(&head, &key, infusio_store::now_us())?;
    let text = serde_json::to_string_pretty(&anchor)
        .map_err(|e| Failure(format!("writing the anchor: {e}")))?;
    match &opts.out {
        Some(path) => {
            std::fs::write(path, format!("{text}\n"))
                .map_err(|e| Failure(format!("--out {}: {e}", path.display())))?;
            println!(
                "Signed head seq {} sha256 {} written to {}",
                head.seq,
                head.hash,
                path.display()
            );
        }
        None => println!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn verify(s: &Store, json: bool, opts: &AuditArgs) -> Result<ExitCode, Failure> {
    let report = s.verify_audit().await?;
    let rows = infusio_store::rows::verify_rows(s).await?;
    let anchored = match &opts.anchor {
        Some(path) => Some(check_anchor(s, path, opts.public_key.as_deref()).await?),
        None => None,
    };
    if json {
        println!(
            "{}",
            json!({
                "intact": report.intact() && rows.intact() && anchored.as_ref().is_none_or(|a| a.holds()),
                "events_verified": report.events_verified,
                "head": report.head,
                "broken": report.broken,
                "rows": rows,
                "anchor": anchored,
            })
        );
    } else {
        print_chain(&report);
        print_rows(&rows);
        if let Some(a) = &anchored {
            print_anchor(a);
        }
    }
    let intact = report.intact() && rows.intact() && anchored.is_none_or(|a| a.holds());
    Ok(if intact {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CHAIN_BROKEN)
    })
}

async fn check_anchor(
    s: &Store,
    path: &Path,
    public_key: Option<&Path>,
) -> Result<AnchorCheck, Failure> {
    let anchor: Anchor = serde_json::from_str(&read(path, "--anchor")?)
        .map_err(|e| Failure(format!("--anchor {}: not an anchor: {e}", path.display())))?;
    let trusted = match public_key {
        Some(p) => Some(anchor::read_public(&read(p, "--public-key")?)?),
        None => None,
    };
    anchor
        .check_signature(trusted.as_ref())
        .map_err(|e| Failure(format!("--anchor {}: {e}", path.display())))?;
    if trusted.is_none() {
        eprintln!(
            "note: the anchor's signature was checked against the key it names; pass --public-key to pin your own"
        );
    }
    Ok(anchor::check(s, &anchor).await?)
}

fn print_chain(report: &VerifyReport) {
    match &report.broken {
        None => println!(
            "Audit chain intact: {} events verified; head seq {} sha256 {}",
            report.events_verified, report.head.seq, report.head.hash
        ),
        Some(b) => println!(
            "AUDIT CHAIN BROKEN at event {} ({}): {}\n{} events before it verified; head row: seq {} sha256 {}",
            b.seq,
            serde_json::to_value(b.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            b.detail,
            report.events_verified,
            report.head.seq,
            report.head.hash
        ),
    }
}

fn print_rows(rows: &RowReport) {
    if rows.intact() {
        println!(
            "Rows intact: {} rows match their last audit event ({} written before rows were bound)",
            rows.rows_bound, rows.rows_unbound_legacy
        );
        return;
    }
    println!(
        "ROWS CHANGED OUTSIDE THE APPLICATION: {} ({} rows match)",
        rows.problems.len(),
        rows.rows_bound
    );
    for p in &rows.problems {
        let what = match p.problem {
            "mismatch" => "content differs from its last audit event",
            "missing" => "deleted without an audit event",
            _ => "no audit event wrote it",
        };
        match p.seq {
            Some(seq) => println!("  {} {}: {what} (event {seq})", p.table, p.id),
            None => println!("  {} {}: {what}", p.table, p.id),
        }
    }
}

fn print_anchor(a: &AnchorCheck) {
    match a {
        AnchorCheck::Matches { seq } => {
            println!("Anchor holds: event {seq} has the signed hash")
        }
        AnchorCheck::Truncated {
            anchored_seq,
            chain_ends_at,
        } => println!(
            "ANCHOR FAILED (truncated): the signed head is event {anchored_seq}, the chain now ends at {chain_ends_at}"
        ),
        AnchorCheck::Rewritten {
            seq,
            anchored_hash,
            stored_hash,
        } => println!(
            "ANCHOR FAILED (rewritten): event {seq} was signed with sha256 {anchored_hash}, it now has {stored_hash}"
        ),
    }
}
