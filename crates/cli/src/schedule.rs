//! `infusio schedule solve | generate | check | replan`: argument glue, progress and output
//! only. The contract (reading, defaults, limits, output objects, reports, the Gantt chart),
//! the solver, the bounds and the validator live in `infusio-sched`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use infusio_core::input::InputError;
use infusio_sched::contract::{self, ContractError, Report};
use infusio_sched::gantt::gantt_svg;
use infusio_sched::model::{Instance, Plan};
use infusio_sched::{SolveOptions, solve, strong_lower_bound};

use crate::common::{Invocation, Outcome};

/// Set to `1` to show the progress line even when standard error is not a terminal, or to
/// `0` to hide it on a terminal.
const PROGRESS_ENV: &str = "INFUSIO_PROGRESS";

pub fn run(sub: &str, inv: &Invocation) -> Outcome {
    let result = match sub {
        "solve" => run_solve(inv),
        "generate" => contract::generate(&inv.input).map_err(ContractError::Refused),
        "check" => run_check(inv),
        "replan" => contract::replan(&inv.input),
        other => Err(ContractError::Refused(InputError::new(
            "(subcommand)",
            other,
            "expected one of: solve, generate, check, replan",
        ))),
    };
    match result {
        Ok(Report { json, text }) => Outcome::Done { json, text },
        Err(ContractError::Refused(e)) => Outcome::Refused(e),
        Err(ContractError::Internal(message)) => Outcome::Failed(message),
    }
}

/// Writes the Gantt chart when `--plot` was given, and says so in the report.
fn plot(
    inv: &Invocation,
    inst: &Instance,
    plan: &Plan,
    report: &mut Report,
) -> Result<(), ContractError> {
    if let Some(path) = &inv.plot {
        std::fs::write(path, gantt_svg(inst, plan)).map_err(|e| {
            ContractError::Internal(format!("cannot write the plot to {}: {e}", path.display()))
        })?;
        let _ = writeln!(report.text, "  Gantt chart written to {}", path.display());
    }
    Ok(())
}

fn run_check(inv: &Invocation) -> Result<Report, ContractError> {
    let checked = contract::check_plan(&inv.input)?;
    let mut report = checked.report;
    plot(inv, &checked.instance, &checked.plan, &mut report)?;
    Ok(report)
}

fn show_progress(inv: &Invocation) -> bool {
    match std::env::var(PROGRESS_ENV).as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        _ => inv.interactive,
    }
}

/// `solve`: the lower bound first (it also lets the search stop once a plan meets it), then
/// the search for the rest of the time limit.
fn run_solve(inv: &Invocation) -> Result<Report, ContractError> {
    let req = contract::read_solve(&inv.input)?;
    let inst = &req.instance;
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(req.time_limit_s);
    // The LP bound may take up to half the time limit; the search gets the rest.
    let lb = strong_lower_bound(inst, Some(Duration::from_secs_f64(req.time_limit_s / 2.0)));
    let should_stop = move || Instant::now() >= deadline;
    let show = show_progress(inv);
    let time_limit_s = req.time_limit_s;
    let mut last_print: Option<Instant> = None;
    let mut progress = |done: u64, limit: u64, best: u64| {
        let now = Instant::now();
        if last_print.is_some_and(|t| now.duration_since(t) < Duration::from_millis(200)) {
            return;
        }
        last_print = Some(now);
        let by_time = now.duration_since(started).as_secs_f64() / time_limit_s;
        let by_count = done as f64 / limit.max(1) as f64;
        let fraction = by_time.max(by_count).min(1.0);
        let width = 30usize;
        let filled = (fraction * width as f64) as usize;
        eprint!(
            "\r  solving [{}{}] {:>5.1} s, {done} iterations, best objective {best}, lower bound {}   ",
            "#".repeat(filled),
            "-".repeat(width - filled),
            now.duration_since(started).as_secs_f64(),
            lb.total
        );
    };
    let options = SolveOptions {
        seed: req.seed,
        iterations: req.iterations,
        target: Some(lb.total),
        should_stop: Some(&should_stop),
        progress: if show { Some(&mut progress) } else { None },
    };
    let sol = solve(inst, options).map_err(|e| InputError::new(e.field, "", e.message))?;
    if show {
        eprintln!();
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    let mut report = contract::solve_report(&req, &sol, &lb, elapsed_s)?;
    plot(inv, inst, &sol.plan, &mut report)?;
    Ok(report)
}
