//! A lower bound on the objective, so a report can say how far from optimal a plan may be.
//!
//! Every part is a relaxation: it drops rules, so no plan can do better than it.
//! - *Each alone*: every appointment placed as if the centre were empty: its cost is at least
//!   that of its earliest start allowed by ready, open, the grid and some nurse's shift; an
//!   appointment with no such start is unscheduled in every plan.
//! - *Capacity* (when every schedulable appointment is scheduled): a resource with `m`
//!   identical units (all nurses for set-ups; all places, the beds, the plain chairs for
//!   treatments; the sum of `max_patients` for monitoring) is relaxed to one machine `m`
//!   times as fast that may interrupt jobs (Chekuri, Motwani, Natarajan & Stein, SIAM J
//!   Comput 2001;31:146–166). On it, shortest-remaining-processing-time gives the least sum
//!   of completion times (Schrage, Oper Res 1968;16:687–690), hence a least sum of starts and
//!   of waits. It ignores shifts, the grid, take-downs and that a patient needs a place and
//!   a nurse at once, so it is weak when the day is not congested.
//!
//! The bound is `10000 × (appointments no plan can schedule) + min(cost if one more is left
//! unscheduled, max(each-alone, capacity wait + each-alone overtime))`.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::model::{
    ChairKind, GRID_MINUTES, Instance, Needs, WEIGHT_OVERTIME_PER_MINUTE, WEIGHT_UNSCHEDULED,
};

/// One relaxation's value (in objective points) and what it relaxes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoundPart {
    pub name: &'static str,
    pub value: u64,
    pub relaxes: &'static str,
}

/// The lower bound and the parts it was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LowerBound {
    pub total: u64,
    /// Appointments that no plan can schedule (no nurse shift and place fit them at all).
    pub certainly_unscheduled: u64,
    pub parts: Vec<BoundPart>,
}

/// Cheapest placement of one appointment alone: (cost, wait, overtime) or `None`.
fn alone(inst: &Instance, a: usize) -> Option<(u64, u64, u64)> {
    let ap = &inst.appointments[a];
    if !inst.chairs.iter().any(|c| ap.needs.accepts(c.kind)) {
        return None;
    }
    let est = inst.earliest_start(a).minutes();
    inst.nurses
        .iter()
        .filter_map(|n| {
            let t = est.max(n.start.minutes().div_ceil(GRID_MINUTES) * GRID_MINUTES);
            let e = t + ap.duration_minutes;
            (e <= n.end.minutes()).then(|| {
                let wait = u64::from(t - ap.ready.minutes().min(t));
                let over = u64::from(e.saturating_sub(inst.close.minutes()));
                (wait + WEIGHT_OVERTIME_PER_MINUTE * over, wait, over)
            })
        })
        .min()
}

#[derive(PartialEq)]
struct Rem(f64, usize);
impl Eq for Rem {}
impl PartialOrd for Rem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Rem {
    // Min-heap on remaining work.
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(other.1.cmp(&self.1))
    }
}

/// Least Σ completion time on one preemptive machine of speed `m` for jobs (release,
/// processing), by shortest remaining processing time.
pub(crate) fn srpt_sum_completion(jobs: &[(f64, f64)], m: f64) -> f64 {
    let mut jobs: Vec<(f64, f64)> = jobs.to_vec();
    jobs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut heap = BinaryHeap::new();
    let (mut t, mut i, mut sum) = (0.0f64, 0usize, 0.0f64);
    while i < jobs.len() || !heap.is_empty() {
        if heap.is_empty() && t < jobs[i].0 {
            t = jobs[i].0;
        }
        while i < jobs.len() && jobs[i].0 <= t {
            heap.push(Rem(jobs[i].1, i));
            i += 1;
        }
        let Some(Rem(rem, j)) = heap.pop() else {
            continue;
        };
        let finish = t + rem / m;
        let next_release = if i < jobs.len() {
            jobs[i].0
        } else {
            f64::INFINITY
        };
        if finish <= next_release {
            t = finish;
            sum += t;
        } else {
            heap.push(Rem(rem - (next_release - t) * m, j));
            t = next_release;
        }
    }
    sum
}

/// Σ wait ≥ this for the appointments `group` on a resource of `m` units with per-job work
/// `work(a)` (minutes), all scheduled.
fn capacity_wait(inst: &Instance, group: &[usize], m: u64, work: impl Fn(usize) -> u32) -> u64 {
    if group.is_empty() || m == 0 {
        return 0;
    }
    let jobs: Vec<(f64, f64)> = group
        .iter()
        .map(|&a| {
            (
                f64::from(inst.earliest_start(a).minutes()),
                f64::from(work(a)),
            )
        })
        .collect();
    let sum_c = srpt_sum_completion(&jobs, m as f64);
    let sum_p: f64 = jobs.iter().map(|j| j.1).sum();
    let sum_r: f64 = jobs.iter().map(|j| j.0).sum();
    let extra = (sum_c - sum_p - sum_r - 1e-6).ceil().max(0.0) as u64;
    let forced: u64 = group
        .iter()
        .map(|&a| {
            u64::from(
                inst.earliest_start(a).minutes()
                    - inst.appointments[a]
                        .ready
                        .minutes()
                        .min(inst.earliest_start(a).minutes()),
            )
        })
        .sum();
    forced + extra
}

/// The lower bound of `inst` (see the module documentation).
pub fn lower_bound(inst: &Instance) -> LowerBound {
    let n = inst.appointments.len();
    let mut schedulable = Vec::new();
    let (mut sum_alone, mut sum_over, mut max_alone) = (0u64, 0u64, 0u64);
    for a in 0..n {
        if let Some((cost, _wait, over)) = alone(inst, a) {
            schedulable.push(a);
            sum_alone += cost;
            sum_over += over;
            max_alone = max_alone.max(cost);
        }
    }
    let u0 = (n - schedulable.len()) as u64;
    let ap = &inst.appointments;
    let n_nurses = inst.nurses.len() as u64;
    let n_beds = inst
        .chairs
        .iter()
        .filter(|c| c.kind == ChairKind::Bed)
        .count() as u64;
    let n_places = inst.chairs.len() as u64;
    let monitor: u64 = inst.nurses.iter().map(|n| u64::from(n.max_patients)).sum();
    let beds: Vec<usize> = schedulable
        .iter()
        .copied()
        .filter(|&a| ap[a].needs == Needs::Bed)
        .collect();
    let chairs: Vec<usize> = schedulable
        .iter()
        .copied()
        .filter(|&a| ap[a].needs == Needs::Chair)
        .collect();
    let w_setup = capacity_wait(inst, &schedulable, n_nurses, |a| ap[a].setup_minutes);
    let w_places = capacity_wait(inst, &schedulable, n_places, |a| ap[a].duration_minutes).max(
        capacity_wait(inst, &beds, n_beds, |a| ap[a].duration_minutes)
            + capacity_wait(inst, &chairs, n_places - n_beds, |a| ap[a].duration_minutes),
    );
    let w_monitor = capacity_wait(inst, &schedulable, monitor, |a| ap[a].duration_minutes);
    let w_cap = w_setup.max(w_places).max(w_monitor);
    let all_scheduled = sum_alone.max(w_cap + WEIGHT_OVERTIME_PER_MINUTE * sum_over);
    let one_more_unscheduled = if schedulable.is_empty() {
        u64::MAX
    } else {
        WEIGHT_UNSCHEDULED + sum_alone - max_alone
    };
    let total = WEIGHT_UNSCHEDULED * u0 + all_scheduled.min(one_more_unscheduled);
    LowerBound {
        total,
        certainly_unscheduled: u0,
        parts: vec![
            BoundPart {
                name: "each_alone",
                value: WEIGHT_UNSCHEDULED * u0 + sum_alone,
                relaxes: "all interactions: each appointment at its earliest start in an empty centre",
            },
            BoundPart {
                name: "nurse_setup_capacity_wait",
                value: w_setup,
                relaxes: "wait forced by one set-up at a time per nurse (fast-machine SRPT relaxation)",
            },
            BoundPart {
                name: "place_capacity_wait",
                value: w_places,
                relaxes: "wait forced by the number of places, beds and chairs (fast-machine SRPT relaxation)",
            },
            BoundPart {
                name: "nurse_monitoring_capacity_wait",
                value: w_monitor,
                relaxes: "wait forced by the sum of max_patients (fast-machine SRPT relaxation)",
            },
        ],
    }
}

/// The [`lower_bound`] raised by the time-indexed LP relaxation
/// ([`crate::lp_bound::lp_lower_bound`]) when that programme is small enough to solve:
/// stronger, and slower (0.2 s on 100 appointments and 0.4 s on 300 in a release build
/// against microseconds), so `solve` uses it while `replan`, which must answer at once,
/// keeps the fast one.
/// `lp_time_limit` bounds the LP solve (it is then left out).
pub fn strong_lower_bound(
    inst: &Instance,
    lp_time_limit: Option<std::time::Duration>,
) -> LowerBound {
    let mut lb = lower_bound(inst);
    if let Some(lp) = crate::lp_bound::lp_lower_bound(inst, lp_time_limit) {
        lb.total = lb.total.max(lp);
        lb.parts.push(BoundPart {
            name: "time_indexed_lp",
            value: lp,
            relaxes: "which nurse and which place (counts per shift group and place kind are kept), minutes between grid points, and integrality: LP relaxation of a time-indexed model",
        });
    }
    lb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srpt_worked_example() {
        // One unit-speed machine: jobs (0, 3) and (1, 1): SRPT runs A 0–1, B 1–2, A 2–4:
        // completions 2 and 4.
        assert!((srpt_sum_completion(&[(0.0, 3.0), (1.0, 1.0)], 1.0) - 6.0).abs() < 1e-9);
        // Speed 2, three jobs of 4 released at 0: completions 2, 4, 6.
        assert!(
            (srpt_sum_completion(&[(0.0, 4.0), (0.0, 4.0), (0.0, 4.0)], 2.0) - 12.0).abs() < 1e-9
        );
    }
}
