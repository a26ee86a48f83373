//! `schedule <solve|generate|check|replan> [--json]`: the contract functions of
//! `infusio schedule` behind a minimal command line (JSON on standard input, the JSON answer
//! on standard output), for benchmarks that should not have to build the whole `infusio`
//! binary. `solve` does what the CLI does: the strong lower bound within half the time
//! limit, then the search until the time limit or the bound.

use std::io::Read;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use infusio_sched::contract::{self, ContractError, Report};
use infusio_sched::{SolveOptions, solve, strong_lower_bound};
use serde_json::{Value, json};

fn run(sub: &str, input: &Value) -> Result<Report, ContractError> {
    match sub {
        "solve" => {
            let req = contract::read_solve(input)?;
            let started = Instant::now();
            let deadline = started + Duration::from_secs_f64(req.time_limit_s);
            let lb = strong_lower_bound(
                &req.instance,
                Some(Duration::from_secs_f64(req.time_limit_s / 2.0)),
            );
            let should_stop = move || Instant::now() >= deadline;
            let sol = solve(
                &req.instance,
                SolveOptions {
                    seed: req.seed,
                    iterations: req.iterations,
                    target: Some(lb.total),
                    should_stop: Some(&should_stop),
                    progress: None,
                },
            )
            .map_err(|e| ContractError::Internal(e.to_string()))?;
            contract::solve_report(&req, &sol, &lb, started.elapsed().as_secs_f64())
        }
        "generate" => contract::generate(input).map_err(ContractError::Refused),
        "check" => contract::check_plan(input)
            .map(|c| c.report)
            .map_err(ContractError::Refused),
        "replan" => contract::replan(input),
        other => Err(ContractError::Internal(format!(
            "unknown subcommand {other}"
        ))),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sub = match args.as_slice() {
        [first, sub, ..] if first == "schedule" => sub.clone(),
        [sub, ..] => sub.clone(),
        [] => {
            eprintln!("usage: schedule <solve|generate|check|replan> [--json] < input.json");
            return ExitCode::from(2);
        }
    };
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        eprintln!("cannot read standard input: {e}");
        return ExitCode::from(1);
    }
    let input: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            println!(
                "{}",
                json!({"error": {"field": "(input)", "value": "", "message": e.to_string()}})
            );
            return ExitCode::from(2);
        }
    };
    match run(&sub, &input) {
        Ok(report) => {
            println!("{}", report.json);
            ExitCode::SUCCESS
        }
        Err(ContractError::Refused(e)) => {
            println!(
                "{}",
                json!({"error": {"field": e.field, "value": e.value, "message": e.message}})
            );
            ExitCode::from(2)
        }
        Err(ContractError::Internal(m)) => {
            eprintln!("{m}");
            ExitCode::from(1)
        }
    }
}
