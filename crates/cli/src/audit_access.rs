//! `infusio audit access --patient ID`: who read a patient's data, through which view, when
//! (the operator's view of the append-only access log).

use std::process::ExitCode;

use infusio_app::{App, AppConfig, AppError};
use infusio_store::Store;

use crate::StoreArgs;
use crate::audit::AuditArgs;
use crate::db::refused;

pub fn run(json: bool, opts: &AuditArgs, store: &StoreArgs) -> ExitCode {
    let Some(patient) = &opts.patient else {
        return refused("audit access needs --patient ID");
    };
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
    let outcome = runtime.block_on(async {
        let store = match &store.database_url {
            Some(url) => Store::open(url).await,
            None => Store::open_data_dir(&crate::db::data_dir(store)).await,
        }
        .map_err(|e| AppError::Internal(format!("opening the record: {e}")))?;
        let library = infusio_app::library::builtin()
            .map_err(|_| AppError::Internal("the built-in drug library is invalid".into()))?;
        let app = App::open(store, library, AppConfig::default()).await?;
        let entries = app.access_log_unchecked(patient).await;
        app.store().close().await;
        entries
    });
    let entries = match outcome {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string(&entries).unwrap_or_else(|_| "[]".into())
        );
    } else {
        println!("{} reads of patient {patient}:", entries.len());
        for e in &entries {
            println!(
                "  {} {} ({}) {}{}",
                infusio_app::time::iso_from_us(e.at_us),
                e.actor,
                e.actor_role,
                e.view,
                e.detail
                    .as_deref()
                    .map(|d| format!(" {d}"))
                    .unwrap_or_default()
            );
        }
    }
    ExitCode::SUCCESS
}
