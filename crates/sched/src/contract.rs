//! The `infusio schedule solve | generate | check | replan` JSON contract: reading the
//! input strictly (unknown keys refused, every error naming its dotted field, the value and
//! what is accepted), the defaults and limits, and the output objects and readable reports.
//!
//! Pure like the rest of the crate: no I/O and no clock. The caller reads the input, turns
//! `time_limit_s` into a `should_stop` callback, shows progress if it wants to, measures the
//! elapsed time and writes the output; the CLI does exactly that, and the web UI and the
//! API can call the same functions.

use std::fmt::Write as _;

use infusio_core::input::{Fields, InputError, as_given, check_range};
use serde_json::{Value, json};

use crate::check::{AssignmentById, VIOLATION_CODES, resolve_plan};
use crate::generate::{GenerateOptions, THERAPY_CLASSES};
use crate::model::{
    Appointment, Chair, ChairKind, Clock, DAY_MINUTES, Instance, MAX_PATIENTS_PER_NURSE, Needs,
    Nurse, Objective, Plan,
};
use crate::solve::StopReason;
use crate::{
    Change, LowerBound, Metrics, Solution, Violation, check, lower_bound, metrics, objective,
};

/// The default wall-clock limit of `solve`, in seconds, when the input gives no `time_limit`.
pub const DEFAULT_TIME_LIMIT_S: f64 = 10.0;
/// The largest accepted `time_limit`, in seconds.
pub const MAX_TIME_LIMIT_S: f64 = 600.0;
/// Size limits that keep one run bounded.
pub const MAX_APPOINTMENTS: usize = 2_000;
pub const MAX_CHAIRS: usize = 1_000;
pub const MAX_NURSES: usize = 500;

/// One answer: the JSON object for `--json` and the readable report.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub json: Value,
    pub text: String,
}

/// Why an operation gave no report: the input was refused (the caller's fault), or the
/// result broke a rule (a bug in this crate: an internal error, never the caller's).
#[derive(Clone, Debug, PartialEq)]
pub enum ContractError {
    Refused(InputError),
    Internal(String),
}

impl From<InputError> for ContractError {
    fn from(e: InputError) -> Self {
        ContractError::Refused(e)
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
pub fn read_instance(f: &mut Fields<'_>) -> Result<Instance, InputError> {
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
    (
        "sousa-wolsey-1992",
        "Sousa JP, Wolsey LA. A time indexed formulation of non-preemptive single machine scheduling problems. Math Program 1992;54:353-367 (time-indexed model; its LP relaxation is the bound time_indexed_lp).",
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
    let mut has_lp = false;
    for p in &lb.parts {
        let (formula, unit) = match p.name {
            "each_alone" => ("each appointment alone at its cheapest start", "points"),
            "time_indexed_lp" => {
                has_lp = true;
                (
                    "⌈optimum of the LP relaxation of the time-indexed model⌉ (minimises the objective over fractional starts)",
                    "points",
                )
            }
            _ => ("see sources (fast single-machine SRPT relaxation)", "min"),
        };
        steps.push(json!({
            "description": format!("Lower-bound part {}: relaxes {}", p.name, p.relaxes),
            "formula": formula,
            "result": {"value": p.value, "unit": unit},
        }));
    }
    let combinatorial = "10000 × certainly_unscheduled + min(10000 + each_alone − costliest alone, max(each_alone, max(capacity waits) + 10 × Σ overtime alone))";
    steps.push(json!({
        "description": "Lower bound: no plan can score below it",
        "formula": if has_lp {
            format!("max({combinatorial}, time_indexed_lp)")
        } else {
            combinatorial.to_string()
        },
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

/// A `solve` request: the instance and the search options, with their defaults applied.
#[derive(Clone, Debug, PartialEq)]
pub struct SolveRequest {
    pub instance: Instance,
    /// Wall-clock limit in seconds (default [`DEFAULT_TIME_LIMIT_S`], at most
    /// [`MAX_TIME_LIMIT_S`]); the caller turns it into a `should_stop` callback.
    pub time_limit_s: f64,
    /// Seed of the search (default 1).
    pub seed: u64,
    /// Iteration limit (default [`MAX_ITERATIONS`], so that the time limit, not the count,
    /// ends the search); the same seed and iteration limit give the same plan.
    pub iterations: u64,
}

/// Reads `solve`'s input: an instance plus `time_limit` (a duration such as `"10 s"`),
/// `seed` and `iterations`, all optional.
pub fn read_solve(input: &Value) -> Result<SolveRequest, InputError> {
    let mut f = Fields::new(input, "")?;
    let instance = read_instance(&mut f)?;
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
    let iterations = opt_integer(&mut f, "iterations", 0, MAX_ITERATIONS, "iterations")?
        .unwrap_or(MAX_ITERATIONS);
    f.finish()?;
    Ok(SolveRequest {
        instance,
        time_limit_s,
        seed,
        iterations,
    })
}

/// The largest accepted `iterations`.
pub const MAX_ITERATIONS: u64 = 100_000_000;

/// `solve`'s output for `sol`, found for `req` in `elapsed_s` seconds, with the lower bound
/// `lb`. The plan is checked again here by the independent validator: a violation is an
/// internal error (the solver only builds plans from feasible insertions).
pub fn solve_report(
    req: &SolveRequest,
    sol: &Solution,
    lb: &LowerBound,
    elapsed_s: f64,
) -> Result<Report, ContractError> {
    let inst = &req.instance;
    let violations = check(inst, &sol.plan);
    if !violations.is_empty() {
        return Err(ContractError::Internal(format!(
            "internal error: the solver's plan breaks a rule: {violations:?}"
        )));
    }
    let m = metrics(inst, &sol.plan);
    let (assignments, unscheduled) = assignments_json(inst, &sol.plan);
    let stopped_by = sol.stopped_by.as_str();
    let json = json!({
        "assignments": assignments,
        "unscheduled": unscheduled,
        "objective": objective_json(&sol.objective),
        "lower_bound": lb.total,
        "gap_percent": gap_percent(&sol.objective, lb),
        "lower_bound_parts": lb.parts.iter().map(|p| json!({"name": p.name, "value": p.value, "relaxes": p.relaxes})).collect::<Vec<_>>(),
        "metrics": metrics_json(&m),
        "solver": {
            "method": "serial schedule generation, then large-neighbourhood search with threshold accepting, adaptive removal size and restarts from the best plan",
            "seed": req.seed,
            "iterations_limit": req.iterations,
            "iterations_done": sol.iterations_done,
            "stopped_by": stopped_by,
            "time_limit_s": req.time_limit_s,
            "elapsed_s": elapsed_s,
            "constructed_objective": sol.constructed.total,
            "restarts": sol.restarts,
            "improvements": sol.improvements,
            "reproduce_with_iterations": sol.iterations_done,
        },
        "steps": steps_json(&sol.objective, lb),
        "sources": sources_json(),
    });
    let mut text = text_report("Infusion-centre plan", inst, &sol.plan, &sol.objective, &m);
    let _ = writeln!(
        text,
        "\n  lower bound {} (gap at most {:.1} %); {} iterations ({}), seed {}, {:.2} s",
        lb.total,
        gap_percent(&sol.objective, lb),
        sol.iterations_done,
        match sol.stopped_by {
            StopReason::TimeLimit => "stopped by the time limit",
            StopReason::Iterations => "the iteration limit",
            StopReason::Optimal =>
                "stopped early: the plan meets the lower bound, so it is optimal",
        },
        req.seed,
        elapsed_s
    );
    Ok(Report { json, text })
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

/// What [`check_plan`] found: the report, and the instance and plan it read (so a caller
/// can draw them).
#[derive(Clone, Debug)]
pub struct Checked {
    pub report: Report,
    pub instance: Instance,
    pub plan: Plan,
}

/// `check`: `{"instance": solve's input, "plan": solve's output}` → whether the plan keeps
/// every rule, its violations and its objective. Independent of the solver: it shares no
/// bookkeeping with it (see [`crate::check`]).
pub fn check_plan(input: &Value) -> Result<Checked, InputError> {
    let mut f = Fields::new(input, "")?;
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
    Ok(Checked {
        report: Report { json, text },
        instance: inst,
        plan,
    })
}

// ---------------------------------------------------------------------------------------
// replan

/// `{"instance", "plan", "changes": [{"add": {appointment}} | {"cancel": "id"} |
/// {"delay": {"appointment": "id", "ready": "HH:MM"}}], ["now": "HH:MM"], ["seed": n]}`:
/// repairs the plan with as few moves as possible (see `infusio_sched::replan`).
pub fn replan(input: &Value) -> Result<Report, ContractError> {
    let mut f = Fields::new(input, "")?;
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
            )
            .into());
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
        )
        .into());
    }
    let r = crate::solve::replan(&inst, &previous, &changes, now, seed)
        .map_err(|e| InputError::new(e.field, "", e.message))?;
    let violations = check(&r.instance, &r.plan);
    if !violations.is_empty() {
        return Err(ContractError::Internal(format!(
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
    Ok(Report { json, text })
}

// ---------------------------------------------------------------------------------------
// generate

/// `generate`: `{["n_chairs"], ["n_nurses"], ["n_appointments"], ["seed"], ["open"],
/// ["close"]}` → a day to solve (solve's input) and a summary. Defaults: 10 places, one
/// nurse per three places, two appointments per place, seed 1, 07:00 to 19:00.
pub fn generate(input: &Value) -> Result<Report, InputError> {
    let mut f = Fields::new(input, "")?;
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
    let inst = crate::generate::generate(&options);
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
    Ok(Report { json, text })
}
