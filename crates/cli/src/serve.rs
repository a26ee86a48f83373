//! `infusio serve`: opens the record (SQLite in the data directory by default, or the
//! `--database-url`), migrates it, optionally seeds the demo data, and serves the HTTP API
//! until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use infusio_app::{App, AppConfig};
use infusio_server::{EdgeConfig, PublicUrl, ServerConfig};
use infusio_store::Store;

use crate::StoreArgs;

/// How the server is reached from outside.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct EdgeArgs {
    /// The URL clients use to reach this server, e.g. https://infusio.example.org. Every
    /// absolute link and the expected Origin of changes are built from it, never from the
    /// request's Host; with https, cookies are Secure and HSTS is sent. Default: links use
    /// the --listen address.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// A reverse proxy whose X-Forwarded-For and X-Forwarded-Proto are believed (repeat for
    /// several). Default: none; forwarded headers are ignored.
    #[arg(long, value_name = "IP")]
    pub trusted_proxy: Vec<String>,
}

impl EdgeArgs {
    fn config(&self, listen: SocketAddr) -> Result<EdgeConfig, String> {
        let public_url = match &self.public_url {
            Some(u) => Some(PublicUrl::parse(u).map_err(|e| format!("--public-url: {e}"))?),
            None => None,
        };
        let mut trusted_proxies = Vec::new();
        for p in &self.trusted_proxy {
            trusted_proxies.push(p.parse().map_err(|_| {
                format!("--trusted-proxy: {p:?} is not an IP address such as 10.0.0.2")
            })?);
        }
        Ok(EdgeConfig {
            trusted_proxies,
            public_url,
            listen_authority: Some(listen.to_string()),
        })
    }
}

pub fn run(
    demo: bool,
    listen: &str,
    mllp_port: Option<u16>,
    edge: &EdgeArgs,
    store: &StoreArgs,
) -> ExitCode {
    let addr: SocketAddr = match listen.parse() {
        Ok(a) => a,
        Err(_) => {
            eprintln!("error: --listen: {listen:?} is not an address such as 127.0.0.1:8080");
            return ExitCode::from(2);
        }
    };
    let edge = match edge.config(addr) {
        Ok(e) => e,
        Err(message) => {
            eprintln!("error: {message}");
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
    match runtime.block_on(serve(demo, addr, mllp, edge, store)) {
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
    edge: EdgeConfig,
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
    // Plain HTTP is acceptable only on the loopback interface; anywhere else, and whenever
    // the public URL is https, the session cookie is marked Secure and a TLS-terminating
    // proxy must sit in front.
    let https = edge
        .public_url
        .as_ref()
        .is_some_and(|u| u.scheme == "https");
    let config = ServerConfig {
        secure_cookies: https || !addr.ip().is_loopback(),
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
    let router = infusio_server::router_at_edge(
        app.clone(),
        config,
        edge,
        vec![infusio_web::routes(), infusio_fhir::routes()],
    );
    infusio_server::serve(addr, router, infusio_server::shutdown_signal())
        .await
        .map_err(|e| format!("serving on {addr}: {e}"))?;
    app.store().close().await;
    Ok(())
}
