//! `infusio users add`: accounts from the operator's command line. On a fresh install
//! (without `--demo`) this is how the first administrator is made. The password is read from
//! a file (`--password-file`) or the first line of standard input, never from the command
//! line (it would stay in the shell history and the process list) and never printed.
//!
//! Exit status: 0 created; 1 the operation failed (database unreachable, name taken); 2 the
//! command line or the password was refused (the policy's reason is printed).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use infusio_app::{App, AppConfig, AppError};
use infusio_store::{Role, Store};

use crate::StoreArgs;

/// `infusio users add USERNAME --role ROLE …`.
#[derive(Args, Clone, Debug)]
pub struct AddArgs {
    /// The new user's name: lowercase letters, digits, '.', '-', '_'.
    pub username: String,
    /// A role (repeat for several): prescriber, pharmacist, pharmacy_technician, nurse,
    /// scheduler, admin.
    #[arg(long = "role", value_name = "ROLE", required = true)]
    pub roles: Vec<String>,
    /// The name shown in the record (default: the user name).
    #[arg(long, value_name = "NAME")]
    pub display_name: Option<String>,
    /// Read the password from the first line of FILE (default: standard input).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

fn read_password(file: Option<&PathBuf>) -> Result<String, String> {
    let mut line = String::new();
    match file {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .map_err(|e| format!("--password-file {}: {e}", f.display()))?;
            line = text.lines().next().unwrap_or("").to_string();
        }
        None => {
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| format!("reading the password from standard input: {e}"))?;
        }
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub fn run_add(args: &AddArgs, store: &StoreArgs) -> ExitCode {
    let mut roles = Vec::new();
    for r in &args.roles {
        match Role::parse(r) {
            Ok(role) => roles.push(role),
            Err(_) => {
                eprintln!(
                    "error: --role {r:?}: expected prescriber, pharmacist, pharmacy_technician, nurse, scheduler or admin"
                );
                return ExitCode::from(2);
            }
        }
    }
    let password = match read_password(args.password_file.as_ref()) {
        Ok(p) => p,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(1);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("internal error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let display_name = args
        .display_name
        .clone()
        .unwrap_or_else(|| args.username.clone());
    let outcome = runtime.block_on(async {
        let store = match &store.database_url {
            Some(url) => Store::open(url).await,
            None => Store::open_data_dir(&crate::db::data_dir(store)).await,
        }
        .map_err(|e| AppError::Internal(format!("opening the record: {e}")))?;
        let library = infusio_app::library::builtin()
            .map_err(|_| AppError::Internal("the built-in drug library is invalid".into()))?;
        let app = App::open(store, library, AppConfig::default()).await?;
        let user = app
            .create_user_by_operator(&args.username, &display_name, &password, &roles)
            .await;
        app.store().close().await;
        user
    });
    match outcome {
        Ok(user) => {
            let roles: Vec<&str> = user.roles.iter().map(|r| r.as_str()).collect();
            println!("Created user {} ({}).", user.username, roles.join(", "));
            ExitCode::SUCCESS
        }
        Err(AppError::Invalid(e)) => {
            eprintln!("error: {}: {}", e.field, e.message);
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
