//! `infusio schedule solve | generate | check`: JSON in, plan or verdict out. Glue only:
//! the model, solver, bound, validator and generator live in `infusio-sched`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use infusio_core::input::{Fields, InputError, as_given, check_range};
use infusio_sched::check::{AssignmentById, VIOLATION_CODES, resolve_plan};
use infusio_sched::generate::{GenerateOptions, THERAPY_CLASSES, generate};
use infusio_sched::model::{
    Appointment, Chair, ChairKind, Clock, DAY_MINUTES, Instance, MAX_PATIENTS_PER_NURSE, Needs,
    Nurse, Objective, Plan,
};
use infusio_sched::solve::DEFAULT_ITERATIONS;
use infusio_sched::{
    Change, LowerBound, Metrics, SolveOptions, Violation, check, lower_bound, metrics, objective,
    replan, solve,
};
use serde_json::{Value, json};

use crate::common::{Invocation, Outcome};

/// The default wall-clock limit of `solve` when the input gives no `time_limit`.
const DEFAULT_TIME_LIMIT_S: f64 = 10.0;
/// The largest accepted `time_limit`.
const MAX_TIME_LIMIT_S: f64 = 600.0;
/// Size limits that keep one run bounded.
const MAX_APPOINTMENTS: usize = 2_000;
const MAX_CHAIRS: usize = 1_000;
const MAX_NURSES: usize = 500;

pub fn run(sub: &str, inv: &Invocation) -> Outcome {
    let result = match sub {
        "solve" => run_solve(inv),
        "generate" => run_generate(inv),
        "check" => run_check(inv),
        "replan" => run_replan(inv),
        other => Err(InputError::new(
            "(subcommand)",
            other,
            "expected one of: solve, generate, check, replan",
        )),
    };
    match result {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Refused(e),
    }
}

// ---------------------------------------------------------------------------------------
// Reading input

fn required<T>(value: Option<T>, path: String, what: &str) -> Result<T, InputError> {
    value.ok_or_else(|| InputError::new(path, "", format!("required: {what}")))
}

/// A whole number in `[min, max]`.
fn opt_integer(
    f: &mut Fields<'_>,
    key: &str,
    min: u64,
    max: u64,
    unit: &str,
) -> Result<Option<u64>, InputError> {
    let path = f.path_of(key);
    let given = f.raw(key).map(as_given);
    let Some(n) = f.opt_number(key)? else {
        return Ok(None);
    };
    let given = given.unwrap_or_default();
    if n.fract() != 0.0 {
        return Err(InputError::new(
            path,
            given,
            format!("expected a whole number of {unit}"),
        ));
    }
    check_range(&path, &given, n, min as f64, max as f64, unit)?;
    Ok(Some(n as u64))
}

fn integer(
    f: &mut Fields<'_>,
    key: &str,
    min: u64,
    max: u64,
    unit: &str,
) -> Result<u64, InputError> {
    let v = opt_integer(f, key, min, max, unit)?;
    required(
        v,
        f.path_of(key),
        &format!("a whole number of {unit} from {min} to {max}"),
    )
}

fn opt_clock(f: &mut Fields<'_>, key: &str) -> Result<Option<Clock>, InputError> {
    let path = f.path_of(key);
    let Some(v) = f.raw(key) else { return Ok(None) };
    match v {
        Value::String(s) => Clock::parse(s)
            .map(Some)
            .map_err(|m| InputError::new(path, s.clone(), m)),
        other => Err(InputError::new(
            path,
            as_given(other),
            "expected a time of day \"HH:MM\" (00:00 to 24:00)",
        )),
    }
}

fn clock(f: &mut Fields<'_>, key: &str) -> Result<Clock, InputError> {
    let v = opt_clock(f, key)?;
    required(v, f.path_of(key), "a time of day \"HH:MM\"")
}

fn id(f: &mut Fields<'_>, key: &str) -> Result<String, InputError> {
    let path = f.path_of(key);
    match f.opt_string(key)? {
        Some(s) if !s.trim().is_empty() => Ok(s),
        Some(s) => Err(InputError::new(path, s, "expected a non-empty id")),
        None => Err(InputError::new(path, "", "required: an id (string)")),
    }
}

fn array<'a>(
    f: &mut Fields<'a>,
    key: &str,
    max: usize,
) -> Result<Vec<(String, &'a Value)>, InputError> {
    let path = f.path_of(key);
    let items = f.opt_array(key)?;
    let items = required(items, path.clone(), "an array")?;
    if items.len() > max {
        return Err(InputError::new(
            path,
            format!("{} items", items.len()),
            format!("at most {max} items are accepted"),
        ));
    }
    Ok(items)
}

/// Reads one appointment object (without `finish`).
fn read_appointment(a: &mut Fields<'_>) -> Result<Appointment, InputError> {
    let id = id(a, "id")?;
    let duration = integer(a, "duration_minutes", 1, u64::from(DAY_MINUTES), "minutes")? as u32;
    let setup = integer(a, "setup_minutes", 0, u64::from(DAY_MINUTES), "minutes")? as u32;
    let takedown = integer(a, "takedown_minutes", 0, u64::from(DAY_MINUTES), "minutes")? as u32;
    if setup + takedown > duration {
        return Err(InputError::new(
            a.path_of("setup_minutes"),
            setup.to_string(),
            format!(
                "set-up ({setup} min) plus take-down ({takedown} min) must not exceed duration_minutes ({duration})"
            ),
        ));
    }
    let ready = clock(a, "ready")?;
    let needs = match a.choice("needs", &["chair", "bed", "any"])?.as_str() {
        "chair" => Needs::Chair,
        "bed" => Needs::Bed,
        _ => Needs::Any,
    };
    let therapy = a.opt_string("therapy")?;
    Ok(Appointment {
        id,
        duration_minutes: duration,
        setup_minutes: setup,
        takedown_minutes: takedown,
        ready,
        needs,
        therapy,
    })
}

/// Reads an instance object (`path` is "" at the top level or "instance").
fn read_instance(f: &mut Fields<'_>) -> Result<Instance, InputError> {
    let day_path = f.path_of("day");
    let mut day = required(
        f.opt_object("day")?,
        day_path,
        "an object {\"open\": \"HH:MM\", \"close\": \"HH:MM\"}",
    )?;
    let open = clock(&mut day, "open")?;
    let close = clock(&mut day, "close")?;
    if close <= open {
        return Err(InputError::new(
            day.path_of("close"),
            close.to_string(),
            format!("must be after open ({open})"),
        ));
    }
    day.finish()?;

    let mut chairs = Vec::new();
    for (path, v) in array(f, "chairs", MAX_CHAIRS)? {
        let mut c = Fields::new(v, &path)?;
        let id = id(&mut c, "id")?;
        let kind = match c.choice("kind", &["chair", "bed"])?.as_str() {
            "bed" => ChairKind::Bed,
            _ => ChairKind::Chair,
        };
        c.finish()?;
        chairs.push(Chair { id, kind });
    }

    let mut nurses = Vec::new();
    for (path, v) in array(f, "nurses", MAX_NURSES)? {
        let mut n = Fields::new(v, &path)?;
        let id = id(&mut n, "id")?;
        let start = clock(&mut n, "start")?;
        let end = clock(&mut n, "end")?;
        if end <= start {
            return Err(InputError::new(
                n.path_of("end"),
                end.to_string(),
                format!("must be after the shift start ({start})"),
            ));
        }
        let max_patients = integer(
            &mut n,
            "max_patients",
            1,
            u64::from(MAX_PATIENTS_PER_NURSE),
            "patients",
        )? as u32;
        n.finish()?;
        nurses.push(Nurse {
            id,
            start,
            end,
            max_patients,
        });
    }

    let mut appointments = Vec::new();
    for (path, v) in array(f, "appointments", MAX_APPOINTMENTS)? {
        let mut a = Fields::new(v, &path)?;
        let appointment = read_appointment(&mut a)?;
        a.finish()?;
        appointments.push(appointment);
    }
    let inst = Instance {
        open,
        close,
        chairs,
        nurses,
        appointments,
    };
    // Cross-field rules (duplicate ids): the library names the field; prefix the path.
    if let Err(e) = inst.validate() {
        let prefix = if f.path_of("x") == "x" {
            String::new()
        } else {
            f.path_of("")
        };
        let field = if prefix.is_empty() {
            e.field
        } else {
            format!("{prefix}{}", e.field)
        };
        return Err(InputError::new(field, "", e.message));
    }
    Ok(inst)
}

// ---------------------------------------------------------------------------------------
// Writing output

fn objective_json(o: &Objective) -> Value {
    json!({
        "total": o.total,
        "unscheduled": o.unscheduled,
        "overtime_minutes": o.overtime_minutes,
        "wait_minutes": o.wait_minutes,
    })
}

fn metrics_json(m: &Metrics) -> Value {
    json!({
        "chair_utilisation": m.chair_utilisation,
        "nurse_peak_load": m.nurse_peak_load,
        "last_end": m.last_end.map(|c| c.to_string()),
    })
}

fn assignments_json(inst: &Instance, plan: &Plan) -> (Value, Value) {
    let assignments: Vec<Value> = plan
        .assignments
        .iter()
        .map(|a| {
            json!({
                "appointment": inst.appointments[a.appointment].id,
                "chair": inst.chairs[a.chair].id,
                "nurse": inst.nurses[a.nurse].id,
                "start": a.start.to_string(),
                "end": a.end(inst).to_string(),
            })
        })
        .collect();
    let unscheduled: Vec<Value> = plan
        .unscheduled
        .iter()
        .map(|&u| json!(inst.appointments[u].id))
        .collect();
    (Value::Array(assignments), Value::Array(unscheduled))
}

fn gap_percent(o: &Objective, lb: &LowerBound) -> f64 {
    if o.total == 0 {
        0.0
    } else {
        (o.total.saturating_sub(lb.total)) as f64 / o.total as f64 * 100.0
    }
}

const SOURCES: &[(&str, &str)] = &[
    (
        "kolisch-1996",
        "Kolisch R. Serial and parallel resource-constrained project scheduling methods revisited: theory and computation. Eur J Oper Res 1996;90:320-333 (serial schedule generation).",
    ),
    (
        "shaw-1998",
        "Shaw P. Using constraint programming and local search methods to solve vehicle routing problems. CP 1998, LNCS 1520:417-431 (large-neighbourhood search).",
    ),
    (
        "dueck-scheuer-1990",
        "Dueck G, Scheuer T. Threshold accepting. J Comput Phys 1990;90:161-175.",
    ),
    (
        "chekuri-2001",
        "Chekuri C, Motwani R, Natarajan B, Stein C. Approximation techniques for average completion time scheduling. SIAM J Comput 2001;31:146-166 (fast single-machine relaxation).",
    ),
    (
        "schrage-1968",
        "Schrage L. A proof of the optimality of the shortest remaining processing time discipline. Oper Res 1968;16:687-690.",
    ),
];

fn sources_json() -> Value {
    Value::Array(
        SOURCES
            .iter()
            .map(|(id, c)| json!({"id": id, "citation": c}))
            .collect(),
    )
}

fn steps_json(o: &Objective, lb: &LowerBound) -> Value {
    let mut steps = vec![json!({
        "description": "Objective of the plan (to be minimised)",
        "formula": "10000 × unscheduled + 10 × overtime_minutes + wait_minutes",
        "inputs": [
            {"name": "unscheduled", "value": o.unscheduled, "unit": "appointments"},
            {"name": "overtime_minutes", "value": o.overtime_minutes, "unit": "min"},
            {"name": "wait_minutes", "value": o.wait_minutes, "unit": "min"},
        ],
        "result": {"value": o.total, "unit": "points"},
    })];
    for p in &lb.parts {
        steps.push(json!({
            "description": format!("Lower-bound part {}: relaxes {}", p.name, p.relaxes),
            "formula": "see sources (fast single-machine SRPT relaxation) or each appointment alone",
            "result": {"value": p.value, "unit": if p.name == "each_alone" { "points" } else { "min" }},
        }));
    }
    steps.push(json!({
        "description": "Lower bound: no plan can score below it",
        "formula": "10000 × certainly_unscheduled + min(10000 + each_alone − costliest alone, max(each_alone, max(capacity waits) + 10 × Σ overtime alone))",
        "result": {"value": lb.total, "unit": "points"},
    }));
    steps.push(json!({
        "description": "Gap: how far above optimal the plan may be, at most",
        "formula": "(objective − lower_bound) / objective × 100",
        "result": {"value": gap_percent(o, lb), "unit": "%"},
    }));
    Value::Array(steps)
}

fn text_report(title: &str, inst: &Instance, plan: &Plan, o: &Objective, m: &Metrics) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{title}");
    let _ = writeln!(
        out,
        "  day {}–{}, {} places, {} nurses, {} appointments",
        inst.open,
        inst.close,
        inst.chairs.len(),
        inst.nurses.len(),
        inst.appointments.len()
    );
    let _ = writeln!(
        out,
        "  objective {}  = 10000 × {} unscheduled + 10 × {} min overtime + {} min wait",
        o.total, o.unscheduled, o.overtime_minutes, o.wait_minutes
    );
    let _ = writeln!(
        out,
        "  chair utilisation {:.1} %, nurse peak load {} patients, last end {}",
        m.chair_utilisation * 100.0,
        m.nurse_peak_load,
        m.last_end.map_or("-".to_string(), |c| c.to_string())
    );
    let _ = writeln!(
        out,
        "\n  {:<12} {:<8} {:<8} {:>5}  {:>5}  {:>8}",
        "appointment", "place", "nurse", "start", "end", "wait min"
    );
    for a in &plan.assignments {
        let ap = &inst.appointments[a.appointment];
        let _ = writeln!(
            out,
            "  {:<12} {:<8} {:<8} {:>5}  {:>5}  {:>8}",
            ap.id,
            inst.chairs[a.chair].id,
            inst.nurses[a.nurse].id,
            a.start.to_string(),
            a.end(inst).to_string(),
            a.start.minutes().saturating_sub(ap.ready.minutes())
        );
    }
    if !plan.unscheduled.is_empty() {
        let ids: Vec<&str> = plan
            .unscheduled
            .iter()
            .map(|&u| inst.appointments[u].id.as_str())
            .collect();
        let _ = writeln!(out, "\n  unscheduled: {}", ids.join(", "));
    }
    out
}

// ---------------------------------------------------------------------------------------
// solve

fn run_solve(inv: &Invocation) -> Result<Outcome, InputError> {
    let mut f = Fields::new(&inv.input, "")?;
    let inst = read_instance(&mut f)?;
    let time_limit_s = match f.opt_quantity("time_limit", "a duration such as \"10 s\"", |q| {
        q.value_in("s")
    })? {
        Some(s) => {
            let given = f.raw("time_limit").map(as_given).unwrap_or_default();
            check_range("time_limit", &given, s, 0.1, MAX_TIME_LIMIT_S, "s")?;
            s
        }
        None => DEFAULT_TIME_LIMIT_S,
    };
    let seed = opt_integer(&mut f, "seed", 0, u64::from(u32::MAX), "")?.unwrap_or(1);
    let iterations = opt_integer(&mut f, "iterations", 0, 10_000_000, "iterations")?
        .unwrap_or(DEFAULT_ITERATIONS);
    f.finish()?;

    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(time_limit_s);
    let should_stop = move || Instant::now() >= deadline;
    // A progress line on standard error only for an interactive, long run.
    let show_progress = inv.interactive
        && inst.appointments.len() * (iterations as usize).min(1_000_000) > 2_000_000;
    let mut last_print = started;
    let mut progress = |done: u64, total: u64, best: u64| {
        let now = Instant::now();
        if now.duration_since(last_print) >= Duration::from_millis(200) || done == total {
            last_print = now;
            let width = 30usize;
            let filled = (done as usize * width)
                .checked_div(total as usize)
                .unwrap_or(width)
                .min(width);
            eprint!(
                "\r  solving [{}{}] {done}/{total} iterations, best objective {best}   ",
                "#".repeat(filled),
                "-".repeat(width - filled)
            );
        }
    };
    let options = SolveOptions {
        seed,
        iterations,
        should_stop: Some(&should_stop),
        progress: if show_progress {
            Some(&mut progress)
        } else {
            None
        },
    };
    let sol = match solve(&inst, options) {
        Ok(s) => s,
        Err(e) => return Err(InputError::new(e.field, "", e.message)),
    };
    if show_progress {
        eprintln!();
    }
    let elapsed = started.elapsed();
    let violations = check(&inst, &sol.plan);
    if !violations.is_empty() {
        // The solver only builds plans from feasible insertions; a violation here is a bug.
        return Ok(Outcome::Failed(format!(
            "internal error: the solver's plan breaks a rule: {violations:?}"
        )));
    }
    let lb = lower_bound(&inst);
    let m = metrics(&inst, &sol.plan);
    let (assignments, unscheduled) = assignments_json(&inst, &sol.plan);
    let json = json!({
        "assignments": assignments,
        "unscheduled": unscheduled,
        "objective": objective_json(&sol.objective),
        "lower_bound": lb.total,
        "gap_percent": gap_percent(&sol.objective, &lb),
        "lower_bound_parts": lb.parts.iter().map(|p| json!({"name": p.name, "value": p.value, "relaxes": p.relaxes})).collect::<Vec<_>>(),
        "metrics": metrics_json(&m),
        "solver": {
            "method": "serial schedule generation, then large-neighbourhood search with threshold accepting",
            "seed": seed,
            "iterations_limit": iterations,
            "iterations_done": sol.iterations_done,
            "stopped_by": if sol.stopped_early { "time_limit" } else { "iterations" },
            "time_limit_s": time_limit_s,
            "elapsed_s": elapsed.as_secs_f64(),
            "constructed_objective": sol.constructed.total,
        },
        "steps": steps_json(&sol.objective, &lb),
        "sources": sources_json(),
    });
    let mut text = text_report("Infusion-centre plan", &inst, &sol.plan, &sol.objective, &m);
    let _ = writeln!(
        text,
        "\n  lower bound {} (gap at most {:.1} %); {} of {} iterations{}, seed {seed}, {:.2} s",
        lb.total,
        gap_percent(&sol.objective, &lb),
        sol.iterations_done,
        iterations,
        if sol.stopped_early {
            " (stopped by the time limit)"
        } else {
            ""
        },
        elapsed.as_secs_f64()
    );
    if let Some(path) = &inv.plot {
        if let Err(e) = std::fs::write(path, gantt_svg(&inst, &sol.plan)) {
            return Ok(Outcome::Failed(format!(
                "cannot write the plot to {}: {e}",
                path.display()
            )));
        }
        let _ = writeln!(text, "  Gantt chart written to {}", path.display());
    }
    Ok(Outcome::Done { json, text })
}

// ---------------------------------------------------------------------------------------
// check

/// A plan as written by `solve` (by ids), and its stated objective total if any.
struct PlanInput {
    entries: Vec<AssignmentById>,
    unscheduled: Vec<String>,
    stated_total: Option<u64>,
}

/// Reads `instance` (solve's input) and `plan` (solve's output) from `f`.
fn read_instance_and_plan(f: &mut Fields<'_>) -> Result<(Instance, PlanInput), InputError> {
    let mut inst_fields = required(
        f.opt_object("instance")?,
        "instance".into(),
        "the instance object (solve's input)",
    )?;
    let inst = read_instance(&mut inst_fields)?;
    // The solver's own options may be left in the instance (it is solve's input).
    for key in ["time_limit", "seed", "iterations"] {
        let _ = inst_fields.raw(key);
    }
    inst_fields.finish()?;
    let mut p = required(
        f.opt_object("plan")?,
        "plan".into(),
        "the plan object (solve's output)",
    )?;
    let mut entries = Vec::new();
    for (path, v) in array(&mut p, "assignments", MAX_APPOINTMENTS * 2)? {
        let mut a = Fields::new(v, &path)?;
        let appointment = id(&mut a, "appointment")?;
        let chair = id(&mut a, "chair")?;
        let nurse = id(&mut a, "nurse")?;
        let start = clock(&mut a, "start")?;
        let end = opt_clock(&mut a, "end")?;
        a.finish()?;
        entries.push(AssignmentById {
            appointment,
            chair,
            nurse,
            start,
            end,
        });
    }
    let mut unscheduled = Vec::new();
    if let Some(items) = p.opt_array("unscheduled")? {
        for (path, v) in items {
            match v.as_str() {
                Some(s) => unscheduled.push(s.to_string()),
                None => {
                    return Err(InputError::new(
                        path,
                        as_given(v),
                        "expected an appointment id (string)",
                    ));
                }
            }
        }
    }
    // The rest of solve's output is accepted as it is; the checker recomputes what it needs.
    let stated_total = p
        .opt_object("objective")?
        .and_then(|mut o| o.raw("total").and_then(Value::as_u64));
    for key in [
        "lower_bound",
        "gap_percent",
        "lower_bound_parts",
        "metrics",
        "solver",
        "steps",
        "sources",
        "moved",
    ] {
        let _ = p.raw(key);
    }
    p.finish()?;
    Ok((
        inst,
        PlanInput {
            entries,
            unscheduled,
            stated_total,
        },
    ))
}

fn run_check(inv: &Invocation) -> Result<Outcome, InputError> {
    let mut f = Fields::new(&inv.input, "")?;
    let (
        inst,
        PlanInput {
            entries,
            unscheduled,
            stated_total,
        },
    ) = read_instance_and_plan(&mut f)?;
    f.finish()?;

    let (plan, mut violations) = resolve_plan(&inst, &entries, &unscheduled);
    violations.extend(check(&inst, &plan));
    let o = objective(&inst, &plan);
    if let Some(stated) = stated_total
        && stated != o.total
    {
        violations.push(Violation::new(
            None,
            "plan.objective_mismatch",
            format!(
                "the plan states objective {stated} but it computes to {}",
                o.total
            ),
        ));
    }
    let m = metrics(&inst, &plan);
    let valid = violations.is_empty();
    let json = json!({
        "valid": valid,
        "violations": violations.iter().map(|v| json!({"appointment": v.appointment, "code": v.code, "message": v.message})).collect::<Vec<_>>(),
        "objective": objective_json(&o),
        "metrics": metrics_json(&m),
        "violation_codes": VIOLATION_CODES.iter().map(|(c, d)| json!({"code": c, "meaning": d})).collect::<Vec<_>>(),
        "steps": [{
            "description": "Objective of the plan as checked",
            "formula": "10000 × unscheduled + 10 × overtime_minutes + wait_minutes",
            "result": {"value": o.total, "unit": "points"},
        }],
        "sources": [],
    });
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Plan check: {}",
        if valid { "valid" } else { "NOT valid" }
    );
    let _ = writeln!(
        text,
        "  objective {} = 10000 × {} unscheduled + 10 × {} min overtime + {} min wait",
        o.total, o.unscheduled, o.overtime_minutes, o.wait_minutes
    );
    for v in &violations {
        let _ = writeln!(
            text,
            "  [{}] {}: {}",
            v.code,
            v.appointment.as_deref().unwrap_or("-"),
            v.message
        );
    }
    if let Some(path) = &inv.plot {
        if let Err(e) = std::fs::write(path, gantt_svg(&inst, &plan)) {
            return Ok(Outcome::Failed(format!(
                "cannot write the plot to {}: {e}",
                path.display()
            )));
        }
        let _ = writeln!(text, "  Gantt chart written to {}", path.display());
    }
    Ok(Outcome::Done { json, text })
}

// ---------------------------------------------------------------------------------------
// replan

/// `{"instance", "plan", "changes": [{"add": {appointment}} | {"cancel": "id"} |
/// {"delay": {"appointment": "id", "ready": "HH:MM"}}], ["now": "HH:MM"], ["seed": n]}`:
/// repairs the plan with as few moves as possible (see `infusio_sched::replan`).
fn run_replan(inv: &Invocation) -> Result<Outcome, InputError> {
    let mut f = Fields::new(&inv.input, "")?;
    let (inst, input) = read_instance_and_plan(&mut f)?;
    let mut changes = Vec::new();
    for (path, v) in array(&mut f, "changes", MAX_APPOINTMENTS)? {
        let mut c = Fields::new(v, &path)?;
        let add = c.opt_object("add")?;
        let cancel = c.opt_string("cancel")?;
        let delay = c.opt_object("delay")?;
        let n_given = usize::from(add.is_some())
            + usize::from(cancel.is_some())
            + usize::from(delay.is_some());
        if n_given != 1 {
            return Err(InputError::new(
                path,
                as_given(v),
                "expected exactly one of: add (an appointment), cancel (an id), delay ({appointment, ready})",
            ));
        }
        if let Some(mut a) = add {
            let appointment = read_appointment(&mut a)?;
            a.finish()?;
            changes.push(Change::AddOn(appointment));
        } else if let Some(id) = cancel {
            changes.push(Change::Cancel(id));
        } else if let Some(mut d) = delay {
            let appointment = id(&mut d, "appointment")?;
            let ready = clock(&mut d, "ready")?;
            d.finish()?;
            changes.push(Change::Delay { appointment, ready });
        }
        c.finish()?;
    }
    let now = opt_clock(&mut f, "now")?;
    let seed = opt_integer(&mut f, "seed", 0, u64::from(u32::MAX), "")?.unwrap_or(1);
    f.finish()?;
    let (previous, violations) = resolve_plan(&inst, &input.entries, &input.unscheduled);
    if let Some(v) = violations.first() {
        return Err(InputError::new(
            "plan",
            v.appointment.clone().unwrap_or_default(),
            format!("the plan does not match the instance: {}", v.message),
        ));
    }
    let r = replan(&inst, &previous, &changes, now, seed)
        .map_err(|e| InputError::new(e.field, "", e.message))?;
    let violations = check(&r.instance, &r.plan);
    if !violations.is_empty() {
        return Ok(Outcome::Failed(format!(
            "internal error: the repaired plan breaks a rule: {violations:?}"
        )));
    }
    let lb = lower_bound(&r.instance);
    let m = metrics(&r.instance, &r.plan);
    let (assignments, unscheduled) = assignments_json(&r.instance, &r.plan);
    let json = json!({
        "assignments": assignments,
        "unscheduled": unscheduled,
        "moved": r.moved,
        "objective": objective_json(&r.objective),
        "lower_bound": lb.total,
        "gap_percent": gap_percent(&r.objective, &lb),
        "metrics": metrics_json(&m),
        "steps": steps_json(&r.objective, &lb),
        "sources": sources_json(),
    });
    let mut text = text_report("Repaired plan", &r.instance, &r.plan, &r.objective, &m);
    let _ = writeln!(
        text,
        "\n  moved: {}",
        if r.moved.is_empty() {
            "none".to_string()
        } else {
            r.moved.join(", ")
        }
    );
    Ok(Outcome::Done { json, text })
}

// ---------------------------------------------------------------------------------------
// generate

fn run_generate(inv: &Invocation) -> Result<Outcome, InputError> {
    let mut f = Fields::new(&inv.input, "")?;
    let n_chairs =
        opt_integer(&mut f, "n_chairs", 1, MAX_CHAIRS as u64, "places")?.unwrap_or(10) as usize;
    let default_nurses = n_chairs.div_ceil(3) as u64;
    let n_nurses = opt_integer(&mut f, "n_nurses", 1, MAX_NURSES as u64, "nurses")?
        .unwrap_or(default_nurses) as usize;
    let n_appointments = opt_integer(
        &mut f,
        "n_appointments",
        0,
        MAX_APPOINTMENTS as u64,
        "appointments",
    )?
    .unwrap_or(2 * n_chairs as u64) as usize;
    let seed = opt_integer(&mut f, "seed", 0, u64::from(u32::MAX), "")?.unwrap_or(1);
    let mut options = GenerateOptions::new(n_chairs, n_nurses, n_appointments, seed);
    if let Some(open) = opt_clock(&mut f, "open")? {
        options.open = open;
    }
    if let Some(close) = opt_clock(&mut f, "close")? {
        options.close = close;
    }
    if options.close.minutes() < options.open.minutes() + 60
        || options.open.minutes() > DAY_MINUTES - 60
    {
        return Err(InputError::new(
            "close",
            options.close.to_string(),
            format!(
                "the day must last at least one hour after open ({})",
                options.open
            ),
        ));
    }
    f.finish()?;
    let inst = generate(&options);
    let json = json!({
        "day": {"open": inst.open.to_string(), "close": inst.close.to_string()},
        "chairs": inst.chairs.iter().map(|c| json!({"id": c.id, "kind": c.kind.as_str()})).collect::<Vec<_>>(),
        "nurses": inst.nurses.iter().map(|n| json!({"id": n.id, "start": n.start.to_string(), "end": n.end.to_string(), "max_patients": n.max_patients})).collect::<Vec<_>>(),
        "appointments": inst.appointments.iter().map(|a| json!({
            "id": a.id,
            "duration_minutes": a.duration_minutes,
            "setup_minutes": a.setup_minutes,
            "takedown_minutes": a.takedown_minutes,
            "ready": a.ready.to_string(),
            "needs": a.needs.as_str(),
            "therapy": a.therapy,
        })).collect::<Vec<_>>(),
        "seed": seed,
    });
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Generated day (seed {seed}); use --json for the instance itself"
    );
    let beds = inst
        .chairs
        .iter()
        .filter(|c| c.kind == ChairKind::Bed)
        .count();
    let _ = writeln!(
        text,
        "  {}–{}, {} places ({beds} beds), {} nurses, {} appointments",
        inst.open,
        inst.close,
        inst.chairs.len(),
        inst.nurses.len(),
        inst.appointments.len()
    );
    for class in THERAPY_CLASSES {
        let n = inst
            .appointments
            .iter()
            .filter(|a| a.therapy.as_deref() == Some(class.name))
            .count();
        let _ = writeln!(
            text,
            "  {:<55} {:>4}  ({}–{} min, assumed share {} %)",
            class.name, n, class.min_minutes, class.max_minutes, class.share_percent
        );
    }
    let _ = writeln!(
        text,
        "\n  The class shares and arrival pattern are assumptions; durations follow labelled infusion times (see the generator's documentation)."
    );
    Ok(Outcome::Done { json, text })
}

// ---------------------------------------------------------------------------------------
// Gantt chart

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A Gantt chart: one row per place, one bar per appointment coloured by nurse, set-up and
/// take-down shaded darker, the close of day as a red line.
fn gantt_svg(inst: &Instance, plan: &Plan) -> String {
    let valid: Vec<_> = plan
        .assignments
        .iter()
        .filter(|a| {
            a.appointment < inst.appointments.len()
                && a.chair < inst.chairs.len()
                && a.nurse < inst.nurses.len()
        })
        .collect();
    let t0 = inst.open.minutes() / 60 * 60;
    let last = valid
        .iter()
        .map(|a| a.end(inst).minutes())
        .max()
        .unwrap_or(0);
    let t1 = last.max(inst.close.minutes()).div_ceil(60) * 60;
    let (left, top, row_h, px_per_min) = (90.0, 30.0, 18.0, 1.2);
    let width = left + f64::from(t1 - t0) * px_per_min + 20.0;
    let height = top + row_h * inst.chairs.len() as f64 + 30.0;
    let x = |m: u32| left + f64::from(m.saturating_sub(t0)) * px_per_min;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" font-family="sans-serif" font-size="10">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{left}" y="14" font-size="12">Infusion-centre plan: places × time; colour = nurse</text>"#
    );
    let mut h = t0;
    while h <= t1 {
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{1:.1}" stroke="#ddd"/><text x="{0:.1}" y="{2:.1}" text-anchor="middle">{3:02}:00</text>"##,
            x(h),
            height - 25.0,
            height - 12.0,
            h / 60
        );
        h += 60;
    }
    for (i, c) in inst.chairs.iter().enumerate() {
        let y = top + row_h * i as f64;
        let _ = writeln!(
            s,
            r#"<text x="4" y="{:.1}">{} ({})</text>"#,
            y + row_h * 0.7,
            xml_escape(&c.id),
            c.kind.as_str()
        );
    }
    let n_nurses = inst.nurses.len().max(1);
    for a in valid {
        let ap = &inst.appointments[a.appointment];
        let y = top + row_h * a.chair as f64 + 2.0;
        let (s0, e0) = (a.start.minutes(), a.end(inst).minutes());
        let hue = (a.nurse * 360 / n_nurses + (a.nurse % 2) * 180 / n_nurses) % 360;
        let _ = writeln!(
            s,
            r#"<g><title>{} · {} · nurse {} · {}–{}</title><rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="hsl({hue},60%,70%)" stroke="hsl({hue},60%,35%)"/>"#,
            xml_escape(&ap.id),
            xml_escape(&inst.chairs[a.chair].id),
            xml_escape(&inst.nurses[a.nurse].id),
            a.start,
            a.end(inst),
            x(s0),
            f64::from(e0 - s0) * px_per_min,
            row_h - 4.0
        );
        for (w0, w1) in [(s0, s0 + ap.setup_minutes), (e0 - ap.takedown_minutes, e0)] {
            if w1 > w0 {
                let _ = writeln!(
                    s,
                    r#"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="hsl({hue},60%,40%)"/>"#,
                    x(w0),
                    f64::from(w1 - w0) * px_per_min,
                    row_h - 4.0
                );
            }
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{}</text></g>"#,
            x(s0) + 2.0,
            y + row_h * 0.6,
            xml_escape(&ap.id)
        );
    }
    let _ = writeln!(
        s,
        r#"<line x1="{0:.1}" y1="{top}" x2="{0:.1}" y2="{1:.1}" stroke="red" stroke-width="1.5"/><text x="{0:.1}" y="{2}" fill="red">close</text>"#,
        x(inst.close.minutes()),
        height - 25.0,
        top - 3.0
    );
    s.push_str("</svg>\n");
    s
}
