//! `infusio`: the one binary. Glue only: argument parsing, input and output; the clinical
//! work lives in the library crates.
#![warn(clippy::too_many_lines)] // production functions stay under 100 lines (clippy.toml)

mod audit;
mod audit_access;
mod calc;
mod check;
mod common;
mod db;
mod library;
mod pk;
mod pump_sim;
mod schedule;
mod serve;
mod tour;
mod users;

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use common::{Invocation, Outcome};
use infusio_core::input::InputError;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(
    name = "infusio",
    version,
    about = "Infusio: infusion therapy from order to bedside"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct IoArgs {
    /// Print one JSON object on standard output instead of a readable report.
    #[arg(long)]
    json: bool,
    /// Read the input object from FILE instead of standard input.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
}

/// Where the record lives.
#[derive(Args, Clone)]
pub struct StoreArgs {
    /// Data directory for the embedded SQLite database (default: ./infusio-data).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://FILE or postgres://… (overrides --data-dir).
    #[arg(long, value_name = "URL", env = "INFUSIO_DATABASE_URL")]
    pub database_url: Option<String>,
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a user (password from standard input or --password-file, never printed).
    Add {
        #[command(flatten)]
        args: users::AddArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Deactivate a user: no more sign-ins; their sessions end at once.
    Deactivate {
        #[command(flatten)]
        args: users::UserArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Set a new password (standard input or --password-file, never printed); sessions end.
    ResetPassword {
        #[command(flatten)]
        args: users::ResetArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Replace a user's roles (separation of duties checked); sessions end.
    Roles {
        #[command(flatten)]
        args: users::RolesArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// End every session and API token of a user.
    RevokeSessions {
        #[command(flatten)]
        args: users::UserArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Run a clinical calculator (see `infusio calc --list`).
    Calc {
        /// Calculator name, e.g. bsa, crcl, carboplatin.
        name: Option<String>,
        /// List the calculators.
        #[arg(long)]
        list: bool,
        #[command(flatten)]
        io: IoArgs,
    },
    /// A guided tour: live calculations on demo patients.
    Tour,
    /// Dose-error reduction: check an order against the drug library and the patient.
    Check {
        #[command(flatten)]
        io: IoArgs,
        /// Use the drug library in DIR instead of the one built into this binary.
        #[arg(long, value_name = "DIR")]
        library: Option<PathBuf>,
    },
    /// The drug library: list, show <id>, validate [PATH].
    Library {
        /// list | show | validate
        sub: String,
        /// The drug id for `show`, or the directory for `validate`.
        arg: Option<String>,
        /// Print JSON instead of a readable report.
        #[arg(long)]
        json: bool,
    },
    /// Start the server: JSON API, FHIR endpoints and the web UI.
    Serve {
        /// Seed demo users, patients, protocols and a day of appointments.
        #[arg(long)]
        demo: bool,
        /// Address to listen on.
        #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Also accept HL7 v2 over MLLP on this port (same address as --listen): ADT
        /// A01/A04/A08, ORU^R01 lab results and IHE PCD-01 pump events. Default: off.
        #[arg(long, value_name = "PORT")]
        mllp_port: Option<u16>,
        #[command(flatten)]
        edge: serve::EdgeArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// A simulated infusion pump: accepts IHE PCD-03 programmes over MLLP and reports
    /// PCD-01 events (started, rate changed, completed) to the gateway.
    PumpSim {
        #[command(flatten)]
        args: pump_sim::PumpSimArgs,
    },
    /// The database: migrate, backup, restore.
    Db {
        /// migrate | backup | restore
        sub: String,
        /// Backup file (for backup and restore).
        file: Option<PathBuf>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Accounts: `users add USERNAME --role ROLE` (the first administrator of a fresh
    /// install; the password is read from standard input or --password-file), `deactivate`,
    /// `reset-password`, `roles`, `revoke-sessions`.
    Users {
        #[command(subcommand)]
        sub: UsersCommand,
    },
    /// The audit chain: verify (chain, rows, `--anchor`), head (`--sign`), keygen, access.
    Audit {
        /// verify | head | keygen | access
        sub: String,
        /// Print JSON instead of a readable report.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        opts: audit::AuditArgs,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Pharmacokinetics: simulate, fit, recommend, pta.
    Pk {
        /// simulate | fit | recommend | pta
        sub: String,
        #[command(flatten)]
        io: IoArgs,
        /// Write an SVG concentration-time plot to FILE.
        #[arg(long, value_name = "FILE")]
        plot: Option<PathBuf>,
    },
    /// Infusion-centre scheduling: solve, generate, check.
    Schedule {
        /// solve | generate | check
        sub: String,
        #[command(flatten)]
        io: IoArgs,
        /// Write an SVG Gantt chart to FILE.
        #[arg(long, value_name = "FILE")]
        plot: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Calc { name, list, io } => {
            if list || name.is_none() {
                for (n, d) in infusio_core::calc::CALCULATORS {
                    println!("{n:<22} {d}");
                }
                return ExitCode::SUCCESS;
            }
            let name = name.unwrap_or_default();
            run_json(&io, None, |inv| calc::run(&name, inv))
        }
        Command::Tour => tour::run(),
        Command::Check { io, library } => {
            run_json(&io, None, |inv| check::run(inv, library.as_deref()))
        }
        Command::Library { sub, arg, json } => library::run(&sub, arg.as_deref(), json),
        Command::Serve {
            demo,
            listen,
            mllp_port,
            edge,
            store,
        } => serve::run(demo, &listen, mllp_port, &edge, &store),
        Command::PumpSim { args } => pump_sim::run(&args),
        Command::Db { sub, file, store } => db::run_db(&sub, file.as_deref(), &store),
        Command::Audit {
            sub,
            json,
            opts,
            store,
        } => audit::run(&sub, json, &opts, &store),
        Command::Users { sub } => run_users(sub),
        Command::Pk { sub, io, plot } => run_json(&io, plot, |inv| pk::run(&sub, inv)),
        Command::Schedule { sub, io, plot } => run_json(&io, plot, |inv| schedule::run(&sub, inv)),
    }
}

fn run_users(sub: UsersCommand) -> ExitCode {
    use users::AccountCommand as A;
    let (command, store) = match sub {
        UsersCommand::Add { args, store } => return users::run_add(&args, &store),
        UsersCommand::Deactivate { args, store } => (A::Deactivate(args), store),
        UsersCommand::ResetPassword { args, store } => (A::ResetPassword(args), store),
        UsersCommand::Roles { args, store } => (A::Roles(args), store),
        UsersCommand::RevokeSessions { args, store } => (A::RevokeSessions(args), store),
    };
    users::run_account(&command, &store)
}

/// Reads the input, runs `f`, prints the outcome and maps it to the exit status of the
/// contract: 0 result, 2 refused input, 1 internal failure.
fn run_json(
    io: &IoArgs,
    plot: Option<PathBuf>,
    f: impl FnOnce(&Invocation) -> Outcome,
) -> ExitCode {
    let input = match read_input(io) {
        Ok(v) => v,
        Err(e) => return print_outcome(io.json, Outcome::Refused(e)),
    };
    let inv = Invocation {
        input,
        json: io.json,
        plot,
        interactive: std::io::stderr().is_terminal(),
    };
    print_outcome(io.json, f(&inv))
}

fn read_input(io: &IoArgs) -> Result<Value, InputError> {
    let (text, origin) = match &io.input {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => (t, path.display().to_string()),
            Err(e) => {
                return Err(InputError::new(
                    "--input",
                    path.display().to_string(),
                    format!("cannot read the file: {e}"),
                ));
            }
        },
        None => {
            let mut t = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut t) {
                return Err(InputError::new(
                    "(stdin)",
                    "",
                    format!("cannot read standard input: {e}"),
                ));
            }
            (t, "(stdin)".to_string())
        }
    };
    serde_json::from_str(&text).map_err(|e| {
        InputError::new(
            "(input)",
            text.chars().take(200).collect::<String>(),
            format!("not a JSON object ({origin}): {e}"),
        )
    })
}

fn print_outcome(as_json: bool, outcome: Outcome) -> ExitCode {
    match outcome {
        Outcome::Done { json, text } => {
            if as_json {
                println!("{json}");
            } else {
                print!("{text}");
            }
            ExitCode::SUCCESS
        }
        Outcome::Refused(e) => {
            if as_json {
                println!(
                    "{}",
                    json!({"error": {"field": e.field, "value": e.value, "message": e.message}})
                );
            } else {
                eprintln!("error: {}: {}", e.field, e.message);
                if !e.value.is_empty() {
                    eprintln!("  given: {}", e.value);
                }
            }
            ExitCode::from(2)
        }
        Outcome::Failed(message) => {
            eprintln!("internal error: {message}");
            ExitCode::from(1)
        }
    }
}
