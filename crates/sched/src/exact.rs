//! Exhaustive branch and bound for small instances: the oracle the solver is tested against.
//!
//! It shares no feasibility code with the solver: it keeps placed assignments as intervals
//! and checks each rule pairwise, as the validator does. Appointments are branched in order of
//! earliest start; for each, every grid start (cheapest first), nurse and place is tried, then
//! "unscheduled". A branch is cut when its cost so far plus each remaining appointment's
//! cheapest cost alone (then, more strongly, its earliest start that fits the partial
//! plan) cannot beat the best plan found. Two symmetries are broken: among
//! places of one kind that are still empty only the first is tried, and likewise among
//! still-idle nurses with identical shifts and `max_patients`. Exponential: meant for up to
//! about 8 appointments.

use crate::model::{
    Assignment, Clock, GRID_MINUTES, Instance, Objective, Plan, WEIGHT_UNSCHEDULED,
};

/// The optimum found and whether the search finished within its node budget (only then is
/// it proven optimal).
#[derive(Clone, Debug)]
pub struct Exact {
    pub plan: Plan,
    pub objective: Objective,
    pub proven: bool,
    pub nodes: u64,
}

struct Search<'a> {
    inst: &'a Instance,
    order: Vec<usize>,
    placed: Vec<Assignment>,
    unscheduled: Vec<usize>,
    best: u64,
    best_plan: Option<Plan>,
    suffix_lb: Vec<u64>,
    nodes: u64,
    node_limit: u64,
}

fn overlaps(a0: u32, a1: u32, b0: u32, b1: u32) -> bool {
    a0 < a1 && b0 < b1 && a0 < b1 && b0 < a1
}

impl Search<'_> {
    fn fits(&self, a: usize, chair: usize, nurse: usize, t: u32) -> bool {
        let inst = self.inst;
        let ap = &inst.appointments[a];
        let e = t + ap.duration_minutes;
        let nu = &inst.nurses[nurse];
        if t < nu.start.minutes()
            || e > nu.end.minutes()
            || !ap.needs.accepts(inst.chairs[chair].kind)
        {
            return false;
        }
        let (s0, s1) = (t, t + ap.setup_minutes);
        let (d0, d1) = (e - ap.takedown_minutes, e);
        for p in &self.placed {
            let bp = &inst.appointments[p.appointment];
            let (ps, pe) = (p.start.minutes(), p.start.minutes() + bp.duration_minutes);
            if p.chair == chair && overlaps(t, e, ps, pe) {
                return false;
            }
            if p.nurse == nurse {
                let windows = [(ps, ps + bp.setup_minutes), (pe - bp.takedown_minutes, pe)];
                for (w0, w1) in windows {
                    if overlaps(s0, s1, w0, w1) || overlaps(d0, d1, w0, w1) {
                        return false;
                    }
                }
            }
        }
        // Monitoring: the count within [t, e) peaks at t or at a later start inside it.
        let mine = || self.placed.iter().filter(move |p| p.nurse == nurse);
        let later_starts = mine()
            .map(|p| p.start.minutes())
            .filter(|&ps| ps > t && ps < e);
        std::iter::once(t).chain(later_starts).all(|x| {
            let covering = mine()
                .filter(|p| {
                    let ps = p.start.minutes();
                    ps <= x && x < ps + inst.appointments[p.appointment].duration_minutes
                })
                .count() as u32;
            covering < nu.max_patients
        })
    }

    fn dfs(&mut self, k: usize, cost: u64) {
        self.nodes += 1;
        if self.nodes > self.node_limit {
            return;
        }
        let inst = self.inst;
        let n = inst.appointments.len();
        if k == n {
            if cost < self.best {
                self.best = cost;
                self.best_plan = Some(Plan {
                    assignments: self.placed.clone(),
                    unscheduled: self.unscheduled.clone(),
                });
            }
            return;
        }
        let rest = self.suffix_lb[k + 1];
        if cost + self.suffix_lb[k] >= self.best {
            return;
        }
        let a = self.order[k];
        // A stronger bound: each remaining appointment at its earliest start that fits the
        // current partial plan (adding appointments only removes options).
        if self.partial_bound(k, cost) >= self.best {
            return;
        }
        let ap = &inst.appointments[a];
        let latest = inst
            .nurses
            .iter()
            .map(|nu| nu.end.minutes())
            .max()
            .unwrap_or(0);
        let mut t = inst.earliest_start(a).minutes();
        while t + ap.duration_minutes <= latest {
            let c = Objective::of_start(inst, a, Clock::from_minutes(t)).total;
            if cost + c + rest >= self.best {
                break;
            }
            for nurse in 0..inst.nurses.len() {
                if self.symmetric_idle_nurse(nurse) {
                    continue;
                }
                for chair in 0..inst.chairs.len() {
                    if self.symmetric_empty_chair(chair) || !self.fits(a, chair, nurse, t) {
                        continue;
                    }
                    self.placed.push(Assignment {
                        appointment: a,
                        chair,
                        nurse,
                        start: Clock::from_minutes(t),
                    });
                    self.dfs(k + 1, cost + c);
                    self.placed.pop();
                }
            }
            t += GRID_MINUTES;
        }
        if cost + WEIGHT_UNSCHEDULED + rest < self.best {
            self.unscheduled.push(a);
            self.dfs(k + 1, cost + WEIGHT_UNSCHEDULED);
            self.unscheduled.pop();
        }
    }

    fn partial_bound(&self, k: usize, cost: u64) -> u64 {
        let inst = self.inst;
        let latest = inst
            .nurses
            .iter()
            .map(|nu| nu.end.minutes())
            .max()
            .unwrap_or(0);
        let mut total = cost;
        for &a in &self.order[k..] {
            let ap = &inst.appointments[a];
            let mut t = inst.earliest_start(a).minutes();
            let mut c = WEIGHT_UNSCHEDULED;
            while t + ap.duration_minutes <= latest {
                let here = Objective::of_start(inst, a, Clock::from_minutes(t)).total;
                if here >= WEIGHT_UNSCHEDULED || total + here >= self.best {
                    c = c.min(here);
                    break;
                }
                let fits = (0..inst.nurses.len())
                    .any(|n| (0..inst.chairs.len()).any(|ch| self.fits(a, ch, n, t)));
                if fits {
                    c = here;
                    break;
                }
                t += GRID_MINUTES;
            }
            total += c;
            if total >= self.best {
                return total;
            }
        }
        total
    }

    /// An empty place with an earlier empty place of the same kind.
    fn symmetric_empty_chair(&self, chair: usize) -> bool {
        let used = |c: usize| self.placed.iter().any(|p| p.chair == c);
        let kind = self.inst.chairs[chair].kind;
        !used(chair) && (0..chair).any(|c| self.inst.chairs[c].kind == kind && !used(c))
    }

    /// An idle nurse with an earlier idle nurse of the same shift and capacity.
    fn symmetric_idle_nurse(&self, nurse: usize) -> bool {
        let used = |n: usize| self.placed.iter().any(|p| p.nurse == n);
        let me = &self.inst.nurses[nurse];
        let same = |n: usize| {
            let o = &self.inst.nurses[n];
            o.start == me.start && o.end == me.end && o.max_patients == me.max_patients
        };
        !used(nurse) && (0..nurse).any(|n| same(n) && !used(n))
    }
}

/// The optimum of `inst` by exhaustive search, visiting at most `node_limit` nodes.
/// `upper_bound`, if given, is a known plan's total: the search then looks only for plans
/// at most that good (and returns `None` if it finds none and finishes).
pub fn solve_exact(inst: &Instance, node_limit: u64, upper_bound: Option<u64>) -> Option<Exact> {
    inst.validate().ok()?;
    let n = inst.appointments.len();
    let mut single = vec![WEIGHT_UNSCHEDULED; n];
    for (a, s) in single.iter_mut().enumerate() {
        let ap = &inst.appointments[a];
        let t0 = inst.earliest_start(a).minutes();
        let best = inst
            .nurses
            .iter()
            .filter(|_| inst.chairs.iter().any(|c| ap.needs.accepts(c.kind)))
            .filter_map(|nu| {
                let t = t0.max(nu.start.minutes().div_ceil(GRID_MINUTES) * GRID_MINUTES);
                (t + ap.duration_minutes <= nu.end.minutes())
                    .then(|| Objective::of_start(inst, a, Clock::from_minutes(t)).total)
            })
            .min();
        if let Some(b) = best {
            *s = b.min(WEIGHT_UNSCHEDULED);
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&a| {
        (
            inst.earliest_start(a),
            std::cmp::Reverse(inst.appointments[a].duration_minutes),
            a,
        )
    });
    let mut suffix_lb = vec![0u64; n + 1];
    for k in (0..n).rev() {
        suffix_lb[k] = suffix_lb[k + 1] + single[order[k]];
    }
    let mut search = Search {
        inst,
        order,
        placed: Vec::new(),
        unscheduled: Vec::new(),
        best: upper_bound.map_or(u64::MAX, |u| u + 1),
        best_plan: None,
        suffix_lb,
        nodes: 0,
        node_limit,
    };
    search.dfs(0, 0);
    let proven = search.nodes <= node_limit;
    let plan = search.best_plan?;
    let objective = crate::check::objective(inst, &plan);
    Some(Exact {
        plan,
        objective,
        proven,
        nodes: search.nodes,
    })
}
