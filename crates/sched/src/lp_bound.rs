//! A lower bound from the linear-programming relaxation of a time-indexed model.
//!
//! Time-indexed formulations (Sousa & Wolsey, Math Program 1992;54:353–367; van den Akker,
//! Hurkens & Savelsbergh, INFORMS J Comput 2000;12:111–124) give each job one variable per
//! possible start time. Here, on the 5-minute grid:
//!
//! - `x[a, t, k]` ∈ [0, 1]: appointment `a` starts at `t` with a nurse of shift group `k`
//!   (nurses with the same shift start and end); it exists only when `t` is on the grid, not
//!   before the appointment's earliest start, and the shift covers `[t, t + duration]`.
//!   Its cost is the objective's: `(t − ready) + 10 × max(0, t + duration − close)`.
//! - `u[a]` ∈ [0, 1]: appointment `a` unscheduled, cost 10,000; `Σ x[a, ·, ·] + u[a] = 1`.
//! - At every grid minute `g`: appointments in their place ≤ the number of places; those
//!   that need a bed ≤ beds; those that need a chair ≤ plain chairs; per shift group,
//!   appointments in set-up or take-down ≤ the group's nurses (one exclusive task per
//!   nurse), and appointments in progress ≤ the sum of the group's `max_patients`.
//!
//! Every plan gives a solution of this linear programme with the same cost (each rule above
//! holds in every plan), so the programme's optimum is a lower bound. It drops: which nurse
//! and which place (only counts per group and kind are kept), the minutes between grid
//! points, and integrality. Solved with `microlp`, a pure-Rust simplex; the value is rounded
//! up after subtracting a small tolerance (the objective of a plan is a whole number).

use std::time::Duration;

use microlp::{ComparisonOp, OptimizationDirection, Problem, Variable};

use crate::model::{
    ChairKind, GRID_MINUTES, Instance, Needs, WEIGHT_OVERTIME_PER_MINUTE, WEIGHT_UNSCHEDULED,
};

/// The largest programme attempted (start-time variables); a larger one is not solved, so
/// the bound stays quick to compute (about 40,000 variables for 300 appointments).
pub const MAX_LP_VARIABLES: usize = 200_000;

/// Relative tolerance subtracted from the LP optimum before rounding up: far above the
/// simplex's own round-off, far below one objective point on any day (at most 0.1 point
/// for an optimum of 100,000).
const TOLERANCE: f64 = 1e-6;

/// The time-indexed LP bound of `inst`, in objective points, or `None` when the programme
/// would exceed [`MAX_LP_VARIABLES`], the LP solver does not report an optimum, or it runs
/// out of `time_limit` (which the LP solver measures itself: this crate reads no clock).
pub fn lp_lower_bound(inst: &Instance, time_limit: Option<Duration>) -> Option<u64> {
    if inst.appointments.is_empty() {
        return Some(0);
    }
    let grid = Grid::new(inst);
    // Count the variables first, so that an oversized programme is refused before building.
    if grid.n_variables(inst) > MAX_LP_VARIABLES {
        return None;
    }
    let mut lp = Problem::new(OptimizationDirection::Minimize);
    let mut rows = Rows::new(grid.n_slots, grid.groups.len());
    for a in 0..inst.appointments.len() {
        add_start_variables(&mut lp, inst, &grid, &mut rows, a);
    }
    add_capacity_rows(&mut lp, inst, &grid, rows);
    if let Some(limit) = time_limit {
        lp.set_time_limit(limit);
    }
    let outcome = lp.solve().ok()?;
    if !outcome.is_optimal() {
        return None;
    }
    let value = outcome.solution()?.objective();
    if !value.is_finite() {
        return None;
    }
    Some((value - TOLERANCE * value.abs().max(1.0)).ceil().max(0.0) as u64)
}

/// The shift groups (nurses with the same start and end, in minutes) and the grid slots
/// from the earliest shift start (or opening) to the latest shift end.
struct Grid {
    groups: Vec<(u32, u32)>,
    /// The first slot, in grid steps from midnight.
    first: u32,
    n_slots: usize,
}

impl Grid {
    fn new(inst: &Instance) -> Grid {
        let mut groups: Vec<(u32, u32)> = inst
            .nurses
            .iter()
            .map(|n| (n.start.minutes(), n.end.minutes()))
            .collect();
        groups.sort_unstable();
        groups.dedup();
        let first = inst
            .nurses
            .iter()
            .map(|n| n.start.minutes())
            .min()
            .unwrap_or(0)
            .min(inst.open.minutes())
            / GRID_MINUTES;
        let last = inst
            .nurses
            .iter()
            .map(|n| n.end.minutes())
            .max()
            .unwrap_or(0)
            / GRID_MINUTES;
        let n_slots = (last.saturating_sub(first) + 1) as usize;
        Grid {
            groups,
            first,
            n_slots,
        }
    }

    /// The slot of a grid minute.
    fn slot_of(&self, minute: u32) -> usize {
        (minute / GRID_MINUTES - self.first) as usize
    }

    /// The number of start-time variables the programme would have.
    fn n_variables(&self, inst: &Instance) -> usize {
        let mut n_vars = 0usize;
        for a in 0..inst.appointments.len() {
            let d = inst.appointments[a].duration_minutes;
            let est = inst.earliest_start(a).minutes();
            for &(gs, ge) in &self.groups {
                let lo = est.max(gs.div_ceil(GRID_MINUTES) * GRID_MINUTES);
                if lo + d <= ge {
                    n_vars += ((ge - d - lo) / GRID_MINUTES + 1) as usize;
                }
            }
        }
        n_vars
    }
}

type Row = Vec<(Variable, f64)>;

/// The capacity rows being built, per slot (and per shift group for nurses).
struct Rows {
    place: Vec<Row>,
    bed: Vec<Row>,
    chair: Vec<Row>,
    exclusive: Vec<Vec<Row>>,
    monitor: Vec<Vec<Row>>,
}

impl Rows {
    fn new(n_slots: usize, n_groups: usize) -> Rows {
        Rows {
            place: vec![Vec::new(); n_slots],
            bed: vec![Vec::new(); n_slots],
            chair: vec![Vec::new(); n_slots],
            exclusive: vec![vec![Vec::new(); n_slots]; n_groups],
            monitor: vec![vec![Vec::new(); n_slots]; n_groups],
        }
    }
}

/// Appointment `a`'s unscheduled variable and start-time variables, its assignment row
/// (`Σ x + u = 1`), and its terms in the capacity rows.
fn add_start_variables(lp: &mut Problem, inst: &Instance, grid: &Grid, rows: &mut Rows, a: usize) {
    let ap = &inst.appointments[a];
    let u = lp.add_var(WEIGHT_UNSCHEDULED as f64, (0.0, 1.0));
    let mut assign: Row = vec![(u, 1.0)];
    let d = ap.duration_minutes;
    let est = inst.earliest_start(a).minutes();
    for (k, &(gs, ge)) in grid.groups.iter().enumerate() {
        let mut t = est.max(gs.div_ceil(GRID_MINUTES) * GRID_MINUTES);
        while t + d <= ge {
            let e = t + d;
            let cost = u64::from(t - ap.ready.minutes().min(t))
                + WEIGHT_OVERTIME_PER_MINUTE * u64::from(e.saturating_sub(inst.close.minutes()));
            let x = lp.add_var(cost as f64, (0.0, 1.0));
            assign.push((x, 1.0));
            // Grid minutes g with t ≤ g < e: slots of t up to that of e − 1.
            for i in grid.slot_of(t)..=grid.slot_of(e - 1) {
                rows.place[i].push((x, 1.0));
                rows.monitor[k][i].push((x, 1.0));
                match ap.needs {
                    Needs::Bed => rows.bed[i].push((x, 1.0)),
                    Needs::Chair => rows.chair[i].push((x, 1.0)),
                    Needs::Any => {}
                }
            }
            // Set-up [t, t + setup) and take-down [e − takedown, e) are disjoint.
            for (w0, w1) in [(t, t + ap.setup_minutes), (e - ap.takedown_minutes, e)] {
                let mut g = w0.div_ceil(GRID_MINUTES) * GRID_MINUTES;
                while g < w1 {
                    rows.exclusive[k][grid.slot_of(g)].push((x, 1.0));
                    g += GRID_MINUTES;
                }
            }
            t += GRID_MINUTES;
        }
    }
    lp.add_constraint(assign, ComparisonOp::Eq, 1.0);
}

/// The capacity rows: places, beds and plain chairs per slot, then per shift group the
/// nurses' exclusive work and their monitoring capacity. Empty rows are left out.
fn add_capacity_rows(lp: &mut Problem, inst: &Instance, grid: &Grid, mut rows: Rows) {
    let n_beds = inst
        .chairs
        .iter()
        .filter(|c| c.kind == ChairKind::Bed)
        .count() as f64;
    let n_places = inst.chairs.len() as f64;
    let mut add = |row: Row, capacity: f64| {
        if !row.is_empty() {
            lp.add_constraint(row, ComparisonOp::Le, capacity);
        }
    };
    for i in 0..grid.n_slots {
        add(std::mem::take(&mut rows.place[i]), n_places);
        add(std::mem::take(&mut rows.bed[i]), n_beds);
        add(std::mem::take(&mut rows.chair[i]), n_places - n_beds);
    }
    for (k, &(gs, ge)) in grid.groups.iter().enumerate() {
        let members = inst
            .nurses
            .iter()
            .filter(|n| n.start.minutes() == gs && n.end.minutes() == ge);
        let n_nurses = members.clone().count() as f64;
        let capacity: f64 = members.map(|n| f64::from(n.max_patients)).sum();
        for i in 0..grid.n_slots {
            add(std::mem::take(&mut rows.exclusive[k][i]), n_nurses);
            add(std::mem::take(&mut rows.monitor[k][i]), capacity);
        }
    }
}
