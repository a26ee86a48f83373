//! `infusio pump-sim`: a simulated infusion pump for demos. It listens for IHE PCD-03
//! programmes over MLLP and reports what it does as PCD-01 events to the gateway of
//! `infusio serve --mllp-port`.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;
use infusio_gateway::pump_sim::{PumpSim, PumpSimConfig, RateChange};

#[derive(Args, Clone)]
pub struct PumpSimArgs {
    /// Where the pump listens for PCD-03 programmes.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:2576")]
    listen: String,
    /// The gateway's MLLP address (`infusio serve --mllp-port`), where PCD-01 events go.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:2575")]
    gateway: String,
    /// Simulated seconds per real second (60: a 2-hour infusion takes 2 minutes).
    #[arg(long, default_value_t = 60.0)]
    time_scale: f64,
    /// The pump's rate limit in mL/h; faster programmes are refused.
    #[arg(long, default_value_t = 999.0)]
    max_rate_ml_per_h: f64,
    /// Change the rate at the pump after this fraction (0 to 1) of the first step's volume
    /// (needs --rate-change-ml-per-h). Default: no change.
    #[arg(long, value_name = "FRACTION")]
    rate_change_after: Option<f64>,
    /// The rate, mL/h, keyed at the pump for --rate-change-after.
    #[arg(long, value_name = "ML_PER_H")]
    rate_change_ml_per_h: Option<f64>,
}

fn address(flag: &str, text: &str) -> Result<SocketAddr, String> {
    text.parse()
        .map_err(|_| format!("{flag}: {text:?} is not an address such as 127.0.0.1:2575"))
}

fn config(args: &PumpSimArgs) -> Result<(SocketAddr, PumpSimConfig), String> {
    let listen = address("--listen", &args.listen)?;
    let mut config = PumpSimConfig::new(address("--gateway", &args.gateway)?);
    if !(args.time_scale.is_finite() && args.time_scale > 0.0 && args.time_scale <= 1e6) {
        return Err(format!(
            "--time-scale: {} is not a number from above 0 to 1000000",
            args.time_scale
        ));
    }
    config.time_scale = args.time_scale;
    if !(args.max_rate_ml_per_h.is_finite() && args.max_rate_ml_per_h > 0.0) {
        return Err(format!(
            "--max-rate-ml-per-h: {} is not a rate above 0 mL/h",
            args.max_rate_ml_per_h
        ));
    }
    config.max_rate_ml_per_h = args.max_rate_ml_per_h;
    config.rate_change = match (args.rate_change_after, args.rate_change_ml_per_h) {
        (None, None) => None,
        (Some(f), Some(r)) if f > 0.0 && f < 1.0 && r > 0.0 && r.is_finite() => Some(RateChange {
            after_fraction: f,
            rate_ml_per_h: r,
        }),
        (f, r) => {
            return Err(format!(
                "--rate-change-after {f:?} and --rate-change-ml-per-h {r:?}: give both, a fraction between 0 and 1 and a rate above 0 mL/h"
            ));
        }
    };
    Ok((listen, config))
}

pub fn run(args: &PumpSimArgs) -> ExitCode {
    let (listen, config) = match config(args) {
        Ok(c) => c,
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
    let gateway = config.gateway;
    let result: Result<(), String> = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("listening on {listen}: {e}"))?;
        let (pump, mut runs) = PumpSim::new(config);
        eprintln!("simulated pump listening for PCD-03 on {listen}; PCD-01 events go to {gateway}");
        tokio::spawn(async move {
            while let Some(run) = runs.recv().await {
                for e in &run.events {
                    let answer = match &e.ack {
                        Ok(a) => format!("{} {}", a.code.as_str(), a.messages.join("; ")),
                        Err(err) => format!("no answer: {err}"),
                    };
                    println!(
                        "order {} {}: {} -> {answer}",
                        run.programme.order_id,
                        infusio_interop::hl7::format_instant(e.event.at_us),
                        e.event.kind.as_str()
                    );
                }
            }
        });
        pump.serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("serving on {listen}: {e}"))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}
