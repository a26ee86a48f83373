//! The plan validator: every rule of the model, checked independently of the solver.
//!
//! This code shares nothing with the solver's bookkeeping (it works on intervals, the solver
//! on minute bitmaps), so a solver bug cannot hide behind a shared helper.

use std::collections::HashMap;

use crate::model::{Assignment, Clock, GRID_MINUTES, Instance, Objective, Plan};

/// One broken rule: the appointment concerned (its id) where there is one, a stable dotted
/// code, and a message naming the numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub appointment: Option<String>,
    pub code: &'static str,
    pub message: String,
}

impl Violation {
    pub fn new(appointment: Option<&str>, code: &'static str, message: String) -> Violation {
        Violation {
            appointment: appointment.map(str::to_string),
            code,
            message,
        }
    }
}

/// The codes [`check`] can report, with what each means.
pub const VIOLATION_CODES: &[(&str, &str)] = &[
    (
        "plan.unknown_appointment",
        "an appointment index or id not in the instance",
    ),
    (
        "plan.unknown_chair",
        "a chair index or id not in the instance",
    ),
    (
        "plan.unknown_nurse",
        "a nurse index or id not in the instance",
    ),
    (
        "plan.duplicate",
        "an appointment assigned twice, or both assigned and unscheduled",
    ),
    (
        "plan.missing",
        "an appointment neither assigned nor listed as unscheduled",
    ),
    (
        "plan.end_mismatch",
        "the stated end is not start + duration_minutes",
    ),
    (
        "start.off_grid",
        "the start is not on the 5-minute grid from midnight",
    ),
    (
        "start.before_ready",
        "the start is before the appointment's ready time",
    ),
    ("start.before_open", "the start is before the day opens"),
    (
        "chair.kind",
        "the place's kind does not match what the appointment needs",
    ),
    (
        "chair.overlap",
        "two appointments in one place at once over [start, end)",
    ),
    (
        "nurse.shift",
        "the nurse's shift does not cover [start, end]",
    ),
    ("nurse.busy", "two set-ups/take-downs of one nurse at once"),
    (
        "nurse.capacity",
        "a nurse monitoring more than max_patients patients at once",
    ),
];

fn overlaps(a: (u32, u32), b: (u32, u32)) -> bool {
    a.0 < a.1 && b.0 < b.1 && a.0 < b.1 && b.0 < a.1
}

/// Every violation of `plan` against `instance` (empty when the plan is valid). Assignments
/// with an unknown appointment, chair or nurse index are reported and left out of the
/// other checks.
pub fn check(instance: &Instance, plan: &Plan) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut seen = vec![0u32; instance.appointments.len()];
    let good = known_assignments(instance, plan, &mut seen, &mut out);
    unscheduled_and_missing(instance, plan, &mut seen, &mut out);
    // Rules on one assignment alone.
    for asg in &good {
        single_rules(instance, asg, &mut out);
    }
    // Pairwise rules: one place, one nurse's exclusive work.
    pairwise_rules(instance, &good, &mut out);
    monitoring_capacity(instance, &good, &mut out);
    out
}

/// The assignments whose appointment, chair and nurse exist; the others are reported. Counts
/// each appointment's listings in `seen` and reports the second.
fn known_assignments<'p>(
    instance: &Instance,
    plan: &'p Plan,
    seen: &mut [u32],
    out: &mut Vec<Violation>,
) -> Vec<&'p Assignment> {
    let n_appointments = instance.appointments.len();
    let id = |a: usize| instance.appointments[a].id.as_str();
    let mut good: Vec<&Assignment> = Vec::new();
    for (k, asg) in plan.assignments.iter().enumerate() {
        if asg.appointment >= n_appointments {
            out.push(Violation::new(
                None,
                "plan.unknown_appointment",
                format!(
                    "assignments[{k}] names appointment #{} but the instance has {n_appointments}",
                    asg.appointment
                ),
            ));
            continue;
        }
        seen[asg.appointment] += 1;
        if seen[asg.appointment] == 2 {
            out.push(Violation::new(
                Some(id(asg.appointment)),
                "plan.duplicate",
                format!(
                    "appointment {} is assigned more than once",
                    id(asg.appointment)
                ),
            ));
        }
        if asg.chair >= instance.chairs.len() {
            out.push(Violation::new(
                Some(id(asg.appointment)),
                "plan.unknown_chair",
                format!(
                    "chair #{} does not exist (the instance has {})",
                    asg.chair,
                    instance.chairs.len()
                ),
            ));
            continue;
        }
        if asg.nurse >= instance.nurses.len() {
            out.push(Violation::new(
                Some(id(asg.appointment)),
                "plan.unknown_nurse",
                format!(
                    "nurse #{} does not exist (the instance has {})",
                    asg.nurse,
                    instance.nurses.len()
                ),
            ));
            continue;
        }
        good.push(asg);
    }
    good
}

/// Unscheduled entries naming unknown appointments or listed twice, and appointments neither
/// assigned nor unscheduled.
fn unscheduled_and_missing(
    instance: &Instance,
    plan: &Plan,
    seen: &mut [u32],
    out: &mut Vec<Violation>,
) {
    let n_appointments = instance.appointments.len();
    let id = |a: usize| instance.appointments[a].id.as_str();
    for &u in &plan.unscheduled {
        if u >= n_appointments {
            out.push(Violation::new(
                None,
                "plan.unknown_appointment",
                format!("unscheduled names appointment #{u} but the instance has {n_appointments}"),
            ));
            continue;
        }
        seen[u] += 1;
        if seen[u] == 2 {
            out.push(Violation::new(
                Some(id(u)),
                "plan.duplicate",
                format!(
                    "appointment {} is listed more than once (assigned and/or unscheduled)",
                    id(u)
                ),
            ));
        }
    }
    for (a, &n) in seen.iter().enumerate() {
        if n == 0 {
            out.push(Violation::new(
                Some(id(a)),
                "plan.missing",
                format!(
                    "appointment {} is neither assigned nor listed as unscheduled",
                    id(a)
                ),
            ));
        }
    }
}

/// Rules on one assignment alone: grid, ready time, opening, chair kind, nurse shift.
fn single_rules(instance: &Instance, asg: &Assignment, out: &mut Vec<Violation>) {
    let ap = &instance.appointments[asg.appointment];
    let chair = &instance.chairs[asg.chair];
    let nurse = &instance.nurses[asg.nurse];
    let start = asg.start;
    let end = asg.end(instance);
    let aid = Some(ap.id.as_str());
    if !start.minutes().is_multiple_of(GRID_MINUTES) {
        out.push(Violation::new(
            aid,
            "start.off_grid",
            format!(
                "{}: start {start} is not on the {GRID_MINUTES}-minute grid",
                ap.id
            ),
        ));
    }
    if start < ap.ready {
        out.push(Violation::new(
            aid,
            "start.before_ready",
            format!("{}: start {start} is before ready {}", ap.id, ap.ready),
        ));
    }
    if start < instance.open {
        out.push(Violation::new(
            aid,
            "start.before_open",
            format!(
                "{}: start {start} is before the day opens at {}",
                ap.id, instance.open
            ),
        ));
    }
    if !ap.needs.accepts(chair.kind) {
        out.push(Violation::new(
            aid,
            "chair.kind",
            format!(
                "{} needs a {} but {} is a {}",
                ap.id,
                ap.needs.as_str(),
                chair.id,
                chair.kind.as_str()
            ),
        ));
    }
    if start < nurse.start || end > nurse.end {
        out.push(Violation::new(
            aid,
            "nurse.shift",
            format!(
                "{}: [{start}, {end}] is not inside nurse {}'s shift {}–{}",
                ap.id, nurse.id, nurse.start, nurse.end
            ),
        ));
    }
}

/// Pairwise rules: one appointment per chair at a time; one nurse's set-up and take-down
/// are exclusive work.
fn pairwise_rules(instance: &Instance, good: &[&Assignment], out: &mut Vec<Violation>) {
    for (i, x) in good.iter().enumerate() {
        let xa = &instance.appointments[x.appointment];
        let xs = x.start.minutes();
        let xe = x.end(instance).minutes();
        for y in &good[i + 1..] {
            if x.appointment == y.appointment {
                continue;
            }
            let ya = &instance.appointments[y.appointment];
            let ys = y.start.minutes();
            let ye = y.end(instance).minutes();
            if x.chair == y.chair && overlaps((xs, xe), (ys, ye)) {
                out.push(Violation::new(
                    Some(&xa.id),
                    "chair.overlap",
                    format!(
                        "{} [{}, {}) and {} [{}, {}) overlap in {}",
                        xa.id,
                        x.start,
                        Clock::from_minutes(xe),
                        ya.id,
                        y.start,
                        Clock::from_minutes(ye),
                        instance.chairs[x.chair].id
                    ),
                ));
            }
            if x.nurse == y.nurse {
                nurse_busy(instance, x, y, out);
            }
        }
    }
}

/// One nurse's exclusive work (set-up, take-down) of two assignments at once: reported once
/// per pair.
fn nurse_busy(instance: &Instance, x: &Assignment, y: &Assignment, out: &mut Vec<Violation>) {
    let xa = &instance.appointments[x.appointment];
    let ya = &instance.appointments[y.appointment];
    let (xs, xe) = (x.start.minutes(), x.end(instance).minutes());
    let (ys, ye) = (y.start.minutes(), y.end(instance).minutes());
    let xw = [
        ("set-up", xs, xs + xa.setup_minutes),
        ("take-down", xe - xa.takedown_minutes, xe),
    ];
    let yw = [
        ("set-up", ys, ys + ya.setup_minutes),
        ("take-down", ye - ya.takedown_minutes, ye),
    ];
    'pairs: for (xn, x0, x1) in xw {
        for (yn, y0, y1) in yw {
            if overlaps((x0, x1), (y0, y1)) {
                out.push(Violation::new(
                    Some(&xa.id),
                    "nurse.busy",
                    format!(
                        "nurse {} has {}'s {xn} [{}, {}) and {}'s {yn} [{}, {}) at once",
                        instance.nurses[x.nurse].id,
                        xa.id,
                        Clock::from_minutes(x0),
                        Clock::from_minutes(x1),
                        ya.id,
                        Clock::from_minutes(y0),
                        Clock::from_minutes(y1)
                    ),
                ));
                break 'pairs;
            }
        }
    }
}

/// Monitoring capacity: sweep each nurse's [start, end) intervals; ends before starts at
/// the same minute, because [start, end) is half-open.
fn monitoring_capacity(instance: &Instance, good: &[&Assignment], out: &mut Vec<Violation>) {
    let id = |a: usize| instance.appointments[a].id.as_str();
    let mut by_nurse: HashMap<usize, Vec<&Assignment>> = HashMap::new();
    for asg in good {
        by_nurse.entry(asg.nurse).or_default().push(asg);
    }
    let mut nurses: Vec<_> = by_nurse.into_iter().collect();
    nurses.sort_by_key(|(n, _)| *n);
    for (n, list) in nurses {
        let nurse = &instance.nurses[n];
        let mut events: Vec<(u32, i32, usize)> = Vec::new();
        for asg in &list {
            events.push((asg.start.minutes(), 1, asg.appointment));
            events.push((asg.end(instance).minutes(), -1, asg.appointment));
        }
        events.sort_by_key(|&(t, d, a)| (t, d, a));
        let mut count: i32 = 0;
        for (t, d, a) in events {
            count += d;
            if d > 0 && count > nurse.max_patients as i32 {
                out.push(Violation::new(
                    Some(id(a)),
                    "nurse.capacity",
                    format!(
                        "nurse {} monitors {count} patients at {} when {} starts (max_patients {})",
                        nurse.id,
                        Clock::from_minutes(t),
                        id(a),
                        nurse.max_patients
                    ),
                ));
            }
        }
    }
}

/// The objective of `plan`: unscheduled counts appointments not validly assigned (listed
/// unscheduled, missing, or with an unknown chair or nurse); overtime and wait sum over the
/// other assignments (each appointment once).
pub fn objective(instance: &Instance, plan: &Plan) -> Objective {
    let n = instance.appointments.len();
    let mut done = vec![false; n];
    let (mut overtime, mut wait) = (0u64, 0u64);
    for asg in &plan.assignments {
        if asg.appointment >= n
            || asg.chair >= instance.chairs.len()
            || asg.nurse >= instance.nurses.len()
            || done[asg.appointment]
        {
            continue;
        }
        done[asg.appointment] = true;
        let o = Objective::of_start(instance, asg.appointment, asg.start);
        overtime += o.overtime_minutes;
        wait += o.wait_minutes;
    }
    let unscheduled = done.iter().filter(|d| !**d).count() as u64;
    Objective::from_parts(unscheduled, overtime, wait)
}

/// Descriptive measures of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Metrics {
    /// Occupied place-minutes within [open, close) ÷ (places × (close − open)), 0 to 1.
    pub chair_utilisation: f64,
    /// The most patients any nurse monitors at one moment.
    pub nurse_peak_load: u32,
    /// The latest end of any assignment (`None` when nothing is scheduled).
    pub last_end: Option<Clock>,
}

/// The metrics of `plan` (assignments with unknown indices are skipped).
pub fn metrics(instance: &Instance, plan: &Plan) -> Metrics {
    let valid = |a: &&Assignment| {
        a.appointment < instance.appointments.len()
            && a.chair < instance.chairs.len()
            && a.nurse < instance.nurses.len()
    };
    let (open, close) = (instance.open.minutes(), instance.close.minutes());
    let mut busy: u64 = 0;
    let mut last_end: Option<Clock> = None;
    let mut events: Vec<(usize, u32, i32)> = Vec::new();
    for asg in plan.assignments.iter().filter(valid) {
        let (s, e) = (asg.start.minutes(), asg.end(instance).minutes());
        busy += u64::from(e.min(close).saturating_sub(s.max(open)));
        let end = Clock::from_minutes(e);
        last_end = Some(last_end.map_or(end, |l| l.max(end)));
        events.push((asg.nurse, s, 1));
        events.push((asg.nurse, e, -1));
    }
    events.sort_by_key(|&(n, t, d)| (n, t, d));
    let (mut peak, mut count, mut current) = (0i32, 0i32, usize::MAX);
    for (n, _, d) in events {
        if n != current {
            current = n;
            count = 0;
        }
        count += d;
        peak = peak.max(count);
    }
    let capacity = instance.chairs.len() as u64 * u64::from(close - open);
    Metrics {
        chair_utilisation: if capacity == 0 {
            0.0
        } else {
            busy as f64 / capacity as f64
        },
        nurse_peak_load: peak.max(0) as u32,
        last_end,
    }
}

/// One assignment as written in a plan file, by ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignmentById {
    pub appointment: String,
    pub chair: String,
    pub nurse: String,
    pub start: Clock,
    /// The end as stated, if any; it must equal start + duration_minutes.
    pub end: Option<Clock>,
}

/// Turns a plan written by ids into a [`Plan`] by indices, reporting unknown ids and stated
/// ends that disagree with the duration as violations (an entry with an unknown id is left
/// out of the plan, so its appointment counts as unscheduled).
pub fn resolve_plan(
    instance: &Instance,
    assignments: &[AssignmentById],
    unscheduled: &[String],
) -> (Plan, Vec<Violation>) {
    let index = |ids: Vec<&str>| -> HashMap<String, usize> {
        ids.into_iter()
            .enumerate()
            .map(|(i, s)| (s.to_string(), i))
            .collect()
    };
    let appts = index(
        instance
            .appointments
            .iter()
            .map(|a| a.id.as_str())
            .collect(),
    );
    let chairs = index(instance.chairs.iter().map(|c| c.id.as_str()).collect());
    let nurses = index(instance.nurses.iter().map(|n| n.id.as_str()).collect());
    let mut plan = Plan::default();
    let mut out = Vec::new();
    for (k, e) in assignments.iter().enumerate() {
        let Some(&a) = appts.get(&e.appointment) else {
            out.push(Violation::new(
                Some(&e.appointment),
                "plan.unknown_appointment",
                format!(
                    "assignments[{k}]: appointment \"{}\" is not in the instance",
                    e.appointment
                ),
            ));
            continue;
        };
        let Some(&c) = chairs.get(&e.chair) else {
            out.push(Violation::new(
                Some(&e.appointment),
                "plan.unknown_chair",
                format!(
                    "assignments[{k}]: chair \"{}\" is not in the instance",
                    e.chair
                ),
            ));
            continue;
        };
        let Some(&n) = nurses.get(&e.nurse) else {
            out.push(Violation::new(
                Some(&e.appointment),
                "plan.unknown_nurse",
                format!(
                    "assignments[{k}]: nurse \"{}\" is not in the instance",
                    e.nurse
                ),
            ));
            continue;
        };
        let asg = Assignment {
            appointment: a,
            chair: c,
            nurse: n,
            start: e.start,
        };
        if let Some(end) = e.end
            && end != asg.end(instance)
        {
            out.push(Violation::new(
                Some(&e.appointment),
                "plan.end_mismatch",
                format!(
                    "{}: stated end {end} but start {} + {} min = {}",
                    e.appointment,
                    e.start,
                    instance.appointments[a].duration_minutes,
                    asg.end(instance)
                ),
            ));
        }
        plan.assignments.push(asg);
    }
    for (k, u) in unscheduled.iter().enumerate() {
        match appts.get(u) {
            Some(&a) => plan.unscheduled.push(a),
            None => out.push(Violation::new(
                Some(u),
                "plan.unknown_appointment",
                format!("unscheduled[{k}]: appointment \"{u}\" is not in the instance"),
            )),
        }
    }
    (plan, out)
}
