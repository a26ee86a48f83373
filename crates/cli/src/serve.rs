//! `infusio serve`: opens the record (SQLite in the data directory by default, or the
//! `--database-url`), migrates it, optionally seeds the demo data, and serves the HTTP API
//! until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use infusio_app::{App, AppConfig};
use infusio_server::ServerConfig;
use infusio_store::Store;

use crate::StoreArgs;

pub fn run(demo: bool, listen: &str, mllp_port: Option<u16>, store: &StoreArgs) -> ExitCode {
    let addr: SocketAddr = match listen.parse() {
        Ok(a) => a,
        Err(_) => {
            eprintln!("error: --listen: {listen:?} is not an address such as 127.0.0.1:8080");
            return ExitCode::from(2);
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
    infusio_server::init_logging();
    let mllp = mllp_port.map(|port| SocketAddr::new(addr.ip(), port));
    match runtime.block_on(serve(demo, addr, mllp, store)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

async fn serve(
    demo: bool,
    addr: SocketAddr,
    mllp: Option<SocketAddr>,
    args: &StoreArgs,
) -> Result<(), String> {
    let store = match &args.database_url {
        Some(url) => Store::open(url).await,
        None => {
            let dir = args
                .data_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from("infusio-data"));
            Store::open_data_dir(&dir).await
        }
    }
    .map_err(|e| format!("opening the record: {e}"))?;
    let library = infusio_app::library::builtin().map_err(|errors| {
        format!(
            "the built-in drug library is invalid: {}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    let app = App::open(store, library, AppConfig::default())
        .await
        .map_err(|e| format!("preparing the record: {e}"))?;
    if demo {
        let seeded = app
            .seed_demo()
            .await
            .map_err(|e| format!("seeding the demo data: {e}"))?;
        if seeded.users > 0 {
            eprintln!(
                "demo data: {} users (password '{}': {}), {} patients, {} orders, {} appointments today",
                seeded.users,
                infusio_app::demo::DEMO_PASSWORD,
                infusio_app::demo::DEMO_USERS
                    .iter()
                    .map(|u| u.0)
                    .collect::<Vec<_>>()
                    .join(", "),
                seeded.patients,
                seeded.orders,
                seeded.appointments
            );
            for s in &seeded.skipped {
                eprintln!("demo data: order skipped: {s}");
            }
        } else {
            eprintln!("demo data: the record already has users; nothing seeded");
        }
    }
    // Plain HTTP is acceptable only on the loopback interface; anywhere else the session
    // cookie is marked Secure and a TLS-terminating proxy must sit in front.
    let config = ServerConfig {
        secure_cookies: !addr.ip().is_loopback(),
    };
    eprintln!(
        "Infusio listening on http://{addr} (record: {} {}); API description at /api/openapi.json",
        app.store().backend().as_str(),
        app.store().location()
    );
    if let Some(mllp_addr) = mllp {
        // The HL7 gateway runs beside the HTTP server on the same record; it stops with the
        // process.
        let gateway =
            infusio_gateway::Gateway::new(app.clone(), infusio_gateway::GatewayConfig::default())
                .await
                .map_err(|e| format!("preparing the HL7 gateway: {e}"))?;
        let listener = tokio::net::TcpListener::bind(mllp_addr)
            .await
            .map_err(|e| format!("listening for MLLP on {mllp_addr}: {e}"))?;
        eprintln!("HL7 v2 (MLLP) gateway listening on {mllp_addr}");
        tokio::spawn(async move {
            if let Err(e) = std::sync::Arc::new(gateway)
                .serve(listener, std::future::pending())
                .await
            {
                eprintln!("error: the HL7 gateway stopped: {e}");
            }
        });
    }
    let router = infusio_server::router_with(
        app.clone(),
        config,
        vec![infusio_web::routes(), infusio_fhir::routes()],
    );
    infusio_server::serve(addr, router, infusio_server::shutdown_signal())
        .await
        .map_err(|e| format!("serving on {addr}: {e}"))?;
    app.store().close().await;
    Ok(())
}
