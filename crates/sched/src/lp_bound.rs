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
    let slot_of = |minute: u32| (minute / GRID_MINUTES - first) as usize;

    // Count the variables first, so that an oversized programme is refused before building.
    let mut n_vars = 0usize;
    for a in 0..inst.appointments.len() {
        let d = inst.appointments[a].duration_minutes;
        let est = inst.earliest_start(a).minutes();
        for &(gs, ge) in &groups {
            let lo = est.max(gs.div_ceil(GRID_MINUTES) * GRID_MINUTES);
            if lo + d <= ge {
                n_vars += ((ge - d - lo) / GRID_MINUTES + 1) as usize;
            }
        }
    }
    if n_vars > MAX_LP_VARIABLES {
        return None;
    }

    let mut lp = Problem::new(OptimizationDirection::Minimize);
    type Row = Vec<(Variable, f64)>;
    let mut place: Vec<Row> = vec![Vec::new(); n_slots];
    let mut bed: Vec<Row> = vec![Vec::new(); n_slots];
    let mut chair: Vec<Row> = vec![Vec::new(); n_slots];
    let mut exclusive: Vec<Vec<Row>> = vec![vec![Vec::new(); n_slots]; groups.len()];
    let mut monitor: Vec<Vec<Row>> = vec![vec![Vec::new(); n_slots]; groups.len()];
    for (a, ap) in inst.appointments.iter().enumerate() {
        let u = lp.add_var(WEIGHT_UNSCHEDULED as f64, (0.0, 1.0));
        let mut assign: Row = vec![(u, 1.0)];
        let d = ap.duration_minutes;
        let est = inst.earliest_start(a).minutes();
        for (k, &(gs, ge)) in groups.iter().enumerate() {
            let mut t = est.max(gs.div_ceil(GRID_MINUTES) * GRID_MINUTES);
            while t + d <= ge {
                let e = t + d;
                let cost = u64::from(t - ap.ready.minutes().min(t))
                    + WEIGHT_OVERTIME_PER_MINUTE
                        * u64::from(e.saturating_sub(inst.close.minutes()));
                let x = lp.add_var(cost as f64, (0.0, 1.0));
                assign.push((x, 1.0));
                // Grid minutes g with t ≤ g < e: slots of t up to that of e − 1.
                for i in slot_of(t)..=slot_of(e - 1) {
                    place[i].push((x, 1.0));
                    monitor[k][i].push((x, 1.0));
                    match ap.needs {
                        Needs::Bed => bed[i].push((x, 1.0)),
                        Needs::Chair => chair[i].push((x, 1.0)),
                        Needs::Any => {}
                    }
                }
                // Set-up [t, t + setup) and take-down [e − takedown, e) are disjoint.
                for (w0, w1) in [(t, t + ap.setup_minutes), (e - ap.takedown_minutes, e)] {
                    let mut g = w0.div_ceil(GRID_MINUTES) * GRID_MINUTES;
                    while g < w1 {
                        exclusive[k][slot_of(g)].push((x, 1.0));
                        g += GRID_MINUTES;
                    }
                }
                t += GRID_MINUTES;
            }
        }
        lp.add_constraint(assign, ComparisonOp::Eq, 1.0);
    }
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
    for i in 0..n_slots {
        add(std::mem::take(&mut place[i]), n_places);
        add(std::mem::take(&mut bed[i]), n_beds);
        add(std::mem::take(&mut chair[i]), n_places - n_beds);
    }
    for (k, &(gs, ge)) in groups.iter().enumerate() {
        let members = inst
            .nurses
            .iter()
            .filter(|n| n.start.minutes() == gs && n.end.minutes() == ge);
        let n_nurses = members.clone().count() as f64;
        let capacity: f64 = members.map(|n| f64::from(n.max_patients)).sum();
        for i in 0..n_slots {
            add(std::mem::take(&mut exclusive[k][i]), n_nurses);
            add(std::mem::take(&mut monitor[k][i]), capacity);
        }
    }
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
