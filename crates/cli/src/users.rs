//! `infusio users add`: accounts from the operator's command line. On a fresh install
//! (without `--demo`) this is how the first administrator is made. The password is read from
//! a file (`--password-file`) or the first line of standard input, never from the command
//! line (it would stay in the shell history and the process list) and never printed.
//!
//! `infusio users deactivate|reset-password|roles|revoke-sessions USER` change an account
//! (by user name or id) as the operator: the record names `system` as the actor. Each ends the
//! user's sessions and API tokens.
//!
//! Exit status: 0 done; 1 the operation failed (database unreachable, name taken, no such
//! user); 2 the command line or the password was refused (the policy's reason is printed).

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

/// `infusio users deactivate|revoke-sessions USER`.
#[derive(Args, Clone, Debug)]
pub struct UserArgs {
    /// The user name (or id).
    pub user: String,
}

/// `infusio users reset-password USER [--password-file FILE]`.
#[derive(Args, Clone, Debug)]
pub struct ResetArgs {
    /// The user name (or id).
    pub user: String,
    /// Read the new password from the first line of FILE (default: standard input).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
}

/// `infusio users roles USER --role ROLE …`.
#[derive(Args, Clone, Debug)]
pub struct RolesArgs {
    /// The user name (or id).
    pub user: String,
    /// The new role set (repeat for several); replaces the roles held.
    #[arg(long = "role", value_name = "ROLE", required = true)]
    pub roles: Vec<String>,
}

/// What `infusio users` changes on an existing account.
#[derive(Debug, Clone)]
pub enum AccountCommand {
    Deactivate(UserArgs),
    ResetPassword(ResetArgs),
    Roles(RolesArgs),
    RevokeSessions(UserArgs),
}

fn parse_roles(texts: &[String]) -> Result<Vec<Role>, String> {
    texts
        .iter()
        .map(|r| {
            Role::parse(r).map_err(|_| {
                format!(
                    "--role {r:?}: expected prescriber, pharmacist, pharmacy_technician, nurse, scheduler or admin"
                )
            })
        })
        .collect()
}

/// Runs one account change and prints its outcome (never a password).
pub fn run_account(command: &AccountCommand, store: &StoreArgs) -> ExitCode {
    let password = match command {
        AccountCommand::ResetPassword(a) => match read_password(a.password_file.as_ref()) {
            Ok(p) => Some(p),
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(1);
            }
        },
        _ => None,
    };
    let roles = match command {
        AccountCommand::Roles(a) => match parse_roles(&a.roles) {
            Ok(r) => r,
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        },
        _ => Vec::new(),
    };
    let outcome = with_app(store, |app| async move {
        match command {
            AccountCommand::Deactivate(a) => app.deactivate_user(None, &a.user).await,
            AccountCommand::ResetPassword(a) => {
                let password = password.unwrap_or_default();
                app.reset_password(None, &a.user, &password).await
            }
            AccountCommand::Roles(a) => app.set_roles(None, &a.user, &roles).await,
            AccountCommand::RevokeSessions(a) => app.revoke_sessions(None, &a.user).await,
        }
    });
    match outcome {
        Ok(change) => {
            let what = match command {
                AccountCommand::Deactivate(_) => "Deactivated",
                AccountCommand::ResetPassword(_) => "Password reset for",
                AccountCommand::Roles(_) => "Roles set for",
                AccountCommand::RevokeSessions(_) => "Sessions revoked for",
            };
            let roles: Vec<&str> = change.user.roles.iter().map(|r| r.as_str()).collect();
            println!(
                "{what} user {} ({}); {} session(s) ended.",
                change.user.username,
                roles.join(", "),
                change.sessions_ended
            );
            ExitCode::SUCCESS
        }
        Err(e) => report_error(&e),
    }
}

fn report_error(e: &AppError) -> ExitCode {
    match e {
        AppError::Invalid(e) => {
            eprintln!("error: {}: {}", e.field, e.message);
            ExitCode::from(2)
        }
        e => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Opens the record named by `store`, runs `f` on an application over it and closes it.
fn with_app<T, F, Fut>(store: &StoreArgs, f: F) -> Result<T, AppError>
where
    F: FnOnce(App) -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::Internal(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let store = match &store.database_url {
            Some(url) => Store::open(url).await,
            None => Store::open_data_dir(&crate::db::data_dir(store)).await,
        }
        .map_err(|e| AppError::Internal(format!("opening the record: {e}")))?;
        let library = infusio_app::library::builtin()
            .map_err(|_| AppError::Internal("the built-in drug library is invalid".into()))?;
        let app = App::open(store, library, AppConfig::default()).await?;
        let out = f(app.clone()).await;
        app.store().close().await;
        out
    })
}
