//! The solver: a serial schedule-generation construction, then large-neighbourhood search.
//!
//! *Construction.* Appointments are taken one at a time in a priority order and each is
//! placed at its earliest feasible start (on the grid, not before ready or open) with a
//! place and a nurse free for it: the serial schedule-generation scheme of project
//! scheduling (Kolisch 1996). Several priority orders are tried and the best plan kept.
//!
//! *Improvement.* Large-neighbourhood search (Shaw 1998): remove a handful of related
//! appointments (random, close in time, same nurse, or the costliest), re-insert them and
//! the unscheduled ones in a fresh order by the same earliest-feasible rule, and keep the
//! result when it is no worse than the current plan plus a threshold that shrinks to zero
//! over the run (threshold accepting, Dueck & Scheuer 1990). Because every plan the search
//! visits is built from feasible insertions, every plan it returns is feasible.
//!
//! Why not constraint programming or a MIP: the objective is regular (never better for a
//! later start), so earliest-start insertion loses nothing by construction, and the search
//! stays dependency-free, deterministic per seed and fast on a 300-appointment day. Exact
//! optimality is checked separately by [`crate::exact`] on small instances.

use crate::model::{
    Assignment, Clock, GRID_MINUTES, Instance, InstanceError, Objective, Plan, WEIGHT_UNSCHEDULED,
};
use crate::rng::Rng;
use crate::state::{Pick, State};

/// Options for [`solve`]. Defaults: seed 1, 20,000 iterations, no target, no callbacks.
pub struct SolveOptions<'a> {
    /// Seed of the search; the same seed and iteration limit give the same plan.
    pub seed: u64,
    /// Number of large-neighbourhood iterations after the construction.
    pub iterations: u64,
    /// Stop as soon as a plan reaches this objective total (a lower bound: the plan is then
    /// optimal and searching on cannot help).
    pub target: Option<u64>,
    /// Asked before each iteration; returning `true` ends the search early (a wall-clock
    /// limit lives in the caller, so this crate reads no clock).
    pub should_stop: Option<&'a dyn Fn() -> bool>,
    /// Called every 64 iterations with (iterations done, iteration limit, best total).
    pub progress: Option<&'a mut dyn FnMut(u64, u64, u64)>,
}

impl Default for SolveOptions<'_> {
    fn default() -> Self {
        SolveOptions {
            seed: 1,
            iterations: DEFAULT_ITERATIONS,
            target: None,
            should_stop: None,
            progress: None,
        }
    }
}

/// The default iteration limit of [`SolveOptions`] (a caller with a time limit passes a
/// larger one and lets the time limit end the search).
pub const DEFAULT_ITERATIONS: u64 = 20_000;

/// Iterations per search epoch: the acceptance threshold falls from its start value to zero
/// over an epoch, then the search restarts from the best plan found. Fixed (not a fraction
/// of the limit), so a run cut short after `k` iterations visits exactly the plans of a run
/// limited to `k` iterations.
pub const EPOCH_ITERATIONS: u64 = 4_000;

/// Why the search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The iteration limit was reached.
    Iterations,
    /// `should_stop` returned true (a time limit).
    TimeLimit,
    /// The plan reached the target (a lower bound): it is optimal.
    Optimal,
}

impl StopReason {
    /// The contract's spelling: `iterations`, `time_limit`, `optimal`.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Iterations => "iterations",
            StopReason::TimeLimit => "time_limit",
            StopReason::Optimal => "optimal",
        }
    }
}

/// What [`solve`] returns.
#[derive(Clone, Debug)]
pub struct Solution {
    pub plan: Plan,
    pub objective: Objective,
    /// The objective of the best constructed plan, before the search.
    pub constructed: Objective,
    pub iterations_done: u64,
    /// True when `should_stop` ended the search before the iteration limit.
    pub stopped_early: bool,
    pub stopped_by: StopReason,
    /// Restarts from the best plan (one per completed epoch).
    pub restarts: u64,
    /// Iterations that found a new best plan.
    pub improvements: u64,
}

/// Priority orders for the construction.
fn construction_orders(inst: &Instance) -> Vec<Vec<usize>> {
    let n = inst.appointments.len();
    let ap = &inst.appointments;
    let base: Vec<usize> = (0..n).collect();
    let mut orders = Vec::new();
    let mut o = base.clone();
    o.sort_by_key(|&a| {
        (
            inst.earliest_start(a),
            std::cmp::Reverse(ap[a].duration_minutes),
            a,
        )
    });
    orders.push(o);
    let mut o = base.clone();
    o.sort_by_key(|&a| {
        (
            std::cmp::Reverse(ap[a].duration_minutes),
            inst.earliest_start(a),
            a,
        )
    });
    orders.push(o);
    let mut o = base.clone();
    o.sort_by_key(|&a| {
        (
            ap[a].needs != crate::model::Needs::Bed,
            inst.earliest_start(a),
            a,
        )
    });
    orders.push(o);
    let mut o = base;
    // Latest possible start first: those with the least room.
    o.sort_by_key(|&a| {
        (
            inst.close.minutes().saturating_sub(ap[a].duration_minutes),
            a,
        )
    });
    orders.push(o);
    orders
}

fn construct<'a>(inst: &'a Instance, rng: &mut Rng) -> State<'a> {
    let mut best: Option<State<'a>> = None;
    for order in construction_orders(inst) {
        let mut s = State::new(inst);
        for &a in &order {
            if let Some(asg) = s.find(a, 0, 0, Pick::BestFit, rng) {
                s.insert(asg);
            }
        }
        if best.as_ref().is_none_or(|b| s.total() < b.total()) {
            best = Some(s);
        }
    }
    best.unwrap_or_else(|| State::new(inst))
}

/// Solves `inst`: construction, then up to `options.iterations` search iterations.
pub fn solve(inst: &Instance, options: SolveOptions<'_>) -> Result<Solution, InstanceError> {
    inst.validate()?;
    let SolveOptions {
        seed,
        iterations,
        target,
        should_stop,
        mut progress,
    } = options;
    let mut rng = Rng::new(seed);
    let mut state = construct(inst, &mut rng);
    let constructed = state.objective();
    let limits = Limits {
        iterations,
        target,
        should_stop,
    };
    let run = improve(&mut state, &mut rng, &limits, &mut progress, &[]);
    Ok(Solution {
        plan: state.plan(),
        objective: state.objective(),
        constructed,
        iterations_done: run.done,
        stopped_early: run.stopped_by == StopReason::TimeLimit,
        stopped_by: run.stopped_by,
        restarts: run.restarts,
        improvements: run.improvements,
    })
}

/// When the search ends.
struct Limits<'a> {
    iterations: u64,
    target: Option<u64>,
    should_stop: Option<&'a dyn Fn() -> bool>,
}

/// What one search did.
struct Run {
    done: u64,
    stopped_by: StopReason,
    restarts: u64,
    improvements: u64,
}

/// The removal size: up to `k_max` appointments, grown while the search stalls.
struct RemovalSize {
    base: usize,
    current: usize,
    limit: usize,
    since_improvement: u64,
}

impl RemovalSize {
    /// Up to a quarter of the movable appointments (at most 30) to begin with; small days
    /// may be rebuilt whole, which makes the search a randomised restart over insertion
    /// orders. While no better plan is found the size grows, up to half the day (at most
    /// 80), so that a large day can escape a plan that only many moves together improve.
    fn new(n_movable: usize) -> RemovalSize {
        let base = if n_movable <= 10 {
            n_movable
        } else {
            (n_movable / 4 + 3).min(30)
        };
        RemovalSize {
            base,
            current: base,
            limit: base.max((n_movable / 2).min(80)),
            since_improvement: 0,
        }
    }

    fn improved(&mut self) {
        self.current = self.base;
        self.since_improvement = 0;
    }

    fn stalled(&mut self) {
        self.since_improvement += 1;
        if self.since_improvement.is_multiple_of(300) {
            self.current = (self.current + self.current.div_ceil(4)).min(self.limit);
        }
    }
}

/// Chooses the appointments to remove (destroy step) into `chosen`.
fn destroy(state: &State<'_>, rng: &mut Rng, movable: &[usize], k: usize, chosen: &mut Vec<usize>) {
    let inst = state.inst;
    let placed: Vec<usize> = movable
        .iter()
        .copied()
        .filter(|&a| state.place[a].is_some())
        .collect();
    if placed.is_empty() {
        chosen.extend(movable.iter().copied().take(k));
        return;
    }
    match rng.below(5) {
        0 | 3 => {
            // Related: close in time to a random seed appointment (half the time: the
            // same nurse's first).
            let seed_a = placed[rng.below(placed.len())];
            let Some(s) = state.place[seed_a] else {
                return;
            };
            let same_nurse = rng.chance(0.5);
            let mut by_distance: Vec<(u32, usize)> = placed
                .iter()
                .filter_map(|&b| state.place[b].map(|p| (b, p)))
                .map(|(b, p)| {
                    let dt = p.start.minutes().abs_diff(s.start.minutes());
                    let penalty = if same_nurse && p.nurse != s.nurse {
                        600
                    } else {
                        0
                    };
                    (dt + penalty + rng.below(30) as u32, b)
                })
                .collect();
            by_distance.sort_unstable();
            chosen.extend(by_distance.iter().take(k).map(|&(_, b)| b));
        }
        1 => {
            // Costliest (wait + 10 × overtime), with noise.
            let mut by_cost: Vec<(std::cmp::Reverse<u64>, usize)> = placed
                .iter()
                .filter_map(|&b| state.place[b].map(|p| (b, p)))
                .map(|(b, p)| {
                    let o = Objective::of_start(inst, b, p.start);
                    (std::cmp::Reverse(o.total * (50 + rng.below(100) as u64)), b)
                })
                .collect();
            by_cost.sort_unstable();
            chosen.extend(by_cost.iter().take(k).map(|&(_, b)| b));
        }
        4 => {
            // A costly appointment and what ran on its place or with its nurse just before
            // it: what made it wait.
            let worst = placed
                .iter()
                .copied()
                .filter_map(|b| state.place[b].map(|p| (b, p)))
                .max_by_key(|&(b, p)| {
                    Objective::of_start(inst, b, p.start).total * (1 + rng.below(4) as u64)
                });
            let Some((_, w)) = worst else {
                return;
            };
            let t = w.start.minutes();
            let mut before: Vec<(u32, usize)> = placed
                .iter()
                .filter_map(|&b| state.place[b].map(|p| (b, p)))
                .filter(|(_, p)| p.chair == w.chair || p.nurse == w.nurse)
                .filter(|(_, p)| p.start.minutes() <= t)
                .map(|(b, p)| (t - p.start.minutes() + rng.below(20) as u32, b))
                .collect();
            before.sort_unstable();
            chosen.extend(before.iter().take(k).map(|&(_, b)| b));
        }
        _ => {
            for _ in 0..k {
                chosen.push(movable[rng.below(movable.len())]);
            }
        }
    }
}

/// Re-inserts the removed appointments (repair step), in a fresh order.
fn repair(state: &mut State<'_>, rng: &mut Rng, order: &mut [usize]) {
    let inst = state.inst;
    match rng.below(3) {
        0 => order.sort_by_cached_key(|&a| (inst.earliest_start(a), rng.below(1000))),
        1 => order.sort_by_cached_key(|&a| {
            (
                std::cmp::Reverse(inst.appointments[a].duration_minutes),
                rng.below(1000),
            )
        }),
        _ => rng.shuffle(order),
    }
    let pick = if rng.chance(0.7) {
        Pick::BestFit
    } else {
        Pick::Random
    };
    for &a in order.iter() {
        let skip = u32::from(rng.chance(0.03));
        let nurse = if rng.chance(0.1) && !inst.nurses.is_empty() {
            Some(rng.below(inst.nurses.len()))
        } else {
            None
        };
        let chair = if rng.chance(0.1) && !inst.chairs.is_empty() {
            Some(rng.below(inst.chairs.len()))
        } else {
            None
        };
        let found = state
            .find_with(a, 0, skip, pick, (nurse, chair), rng)
            .or_else(|| state.find(a, 0, 0, pick, rng));
        if let Some(asg) = found {
            state.insert(asg);
        }
    }
}

/// Replaces the plan in `state` by `place`.
fn restore(state: &mut State<'_>, place: &[Option<Assignment>]) {
    for a in 0..place.len() {
        state.remove(a);
    }
    for asg in place.iter().flatten() {
        state.insert(*asg);
    }
}

/// One move of the large-neighbourhood search, with buffers reused from move to move.
struct Move {
    /// The appointments removed by the last move, with their places before it.
    removed: Vec<(usize, Option<Assignment>)>,
    chosen: Vec<usize>,
    in_set: Vec<bool>,
}

impl Move {
    /// Removes `k` movable appointments (by [`destroy`]) and every movable one still
    /// unplaced, then re-places them all by [`repair`].
    fn ruin_and_recreate(
        &mut self,
        state: &mut State<'_>,
        rng: &mut Rng,
        movable: &[usize],
        k: usize,
    ) {
        self.chosen.clear();
        destroy(state, rng, movable, k, &mut self.chosen);
        for &a in movable {
            if state.place[a].is_none() {
                self.chosen.push(a);
            }
        }
        self.removed.clear();
        for &a in &self.chosen {
            if !self.in_set[a] {
                self.in_set[a] = true;
                self.removed.push((a, state.remove(a)));
            }
        }
        for &(a, _) in &self.removed {
            self.in_set[a] = false;
        }
        let mut order: Vec<usize> = self.removed.iter().map(|&(a, _)| a).collect();
        repair(state, rng, &mut order);
    }

    /// Puts the appointments of the last move back where they were before it.
    fn undo(&self, state: &mut State<'_>) {
        for &(a, _) in &self.removed {
            state.remove(a);
        }
        for &(_, old) in &self.removed {
            if let Some(asg) = old {
                state.insert(asg);
            }
        }
    }
}

/// Large-neighbourhood search on `state`; leaves the best plan found in it. Appointments in
/// `fixed` are never removed.
///
/// The search runs in epochs of [`EPOCH_ITERATIONS`]: within one, a move is accepted when
/// it is no worse than the current plan plus a threshold that falls linearly to zero
/// (threshold accepting); at the end of each, the search restarts from the best plan. The
/// removal size grows while the best plan does not improve (see [`RemovalSize`]).
fn improve(
    state: &mut State<'_>,
    rng: &mut Rng,
    limits: &Limits<'_>,
    progress: &mut Option<&mut dyn FnMut(u64, u64, u64)>,
    fixed: &[bool],
) -> Run {
    let inst = state.inst;
    let n = inst.appointments.len();
    let movable: Vec<usize> = (0..n)
        .filter(|&a| !fixed.get(a).copied().unwrap_or(false))
        .collect();
    let mut run = Run {
        done: 0,
        stopped_by: StopReason::Iterations,
        restarts: 0,
        improvements: 0,
    };
    let mut best_total = state.total();
    if movable.is_empty() {
        return run;
    }
    let mut best_place = state.place.clone();
    let mut current = best_total;
    let mut size = RemovalSize::new(movable.len());
    let mut scratch = Move {
        removed: Vec::new(),
        chosen: Vec::new(),
        in_set: vec![false; n],
    };
    // Threshold at the start of an epoch: 1% of the best plan's wait and overtime part (at
    // least two grid steps), never large enough to trade a scheduled appointment away.
    let start_threshold =
        |best: u64| ((best % WEIGHT_UNSCHEDULED) as f64 * 0.01).max(f64::from(2 * GRID_MINUTES));
    let mut t0 = start_threshold(best_total);
    while run.done < limits.iterations {
        if limits.target.is_some_and(|t| best_total <= t) {
            run.stopped_by = StopReason::Optimal;
            break;
        }
        if limits.should_stop.is_some_and(|f| f()) {
            run.stopped_by = StopReason::TimeLimit;
            break;
        }
        let in_epoch = run.done % EPOCH_ITERATIONS;
        if in_epoch == 0 && run.done > 0 {
            run.restarts += 1;
            if current != best_total {
                restore(state, &best_place);
                current = best_total;
            }
            t0 = start_threshold(best_total);
        }
        if run.done.is_multiple_of(64)
            && let Some(p) = progress.as_mut()
        {
            p(run.done, limits.iterations, best_total);
        }
        let threshold = (t0 * (1.0 - in_epoch as f64 / EPOCH_ITERATIONS as f64)) as u64;
        run.done += 1;

        let k = rng.range(1, size.current);
        scratch.ruin_and_recreate(state, rng, &movable, k);

        // Accept or undo.
        let total = state.total();
        if total <= current + threshold {
            current = total;
            if total < best_total {
                best_total = total;
                best_place.clone_from(&state.place);
                run.improvements += 1;
                size.improved();
            } else {
                size.stalled();
            }
        } else {
            size.stalled();
            scratch.undo(state);
        }
    }
    if let Some(p) = progress.as_mut() {
        p(run.done, limits.iterations, best_total);
    }
    if state.total() != best_total {
        restore(state, &best_place);
    }
    debug_assert_eq!(state.total(), best_total);
    run
}

/// A change to the day after a plan was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A new patient (an add-on) to fit in.
    AddOn(crate::model::Appointment),
    /// An appointment cancelled (by id).
    Cancel(String),
    /// A patient delayed: the appointment's new ready time.
    Delay { appointment: String, ready: Clock },
}

/// The result of [`replan`].
#[derive(Clone, Debug)]
pub struct Replan {
    /// The instance after the changes.
    pub instance: Instance,
    pub plan: Plan,
    pub objective: Objective,
    /// Ids of appointments of the previous plan whose place, nurse or start changed
    /// (including ones now unscheduled).
    pub moved: Vec<String>,
}

/// Applies `changes` to `(inst, previous)` and repairs the plan with as few moves as
/// possible: every previous assignment that is still valid stays; delayed, displaced and
/// new appointments are placed at their earliest feasible start; one that still does not
/// fit may displace one other movable appointment, which is then re-placed (a depth-one
/// ejection chain). Assignments starting before `now` (if given) never move, and nothing
/// new starts before `now`. Changes naming unknown appointments are reported as errors.
pub fn replan(
    inst: &Instance,
    previous: &Plan,
    changes: &[Change],
    now: Option<Clock>,
    seed: u64,
) -> Result<Replan, InstanceError> {
    let (new_inst, prev) = apply_changes(inst, previous, changes)?;
    new_inst.validate()?;
    let now_min = now.map_or(0, |c| c.minutes());
    let mut state = State::new(&new_inst);
    let mut rng = Rng::new(seed);
    let (old, frozen) = keep_previous(&mut state, prev, now_min);
    let mut pending: Vec<usize> = (0..new_inst.appointments.len())
        .filter(|&a| state.place[a].is_none())
        .collect();
    pending.sort_by_key(|&a| (new_inst.earliest_start(a), a));
    for &a in &pending {
        if let Some(asg) = state.find(a, now_min, 0, Pick::BestFit, &mut rng) {
            state.insert(asg);
        }
    }
    // Depth-one ejection chains for what still does not fit.
    for &a in &pending {
        if state.place[a].is_none() {
            eject_one(&mut state, &mut rng, a, &frozen, now_min);
        }
    }
    let plan = state.plan();
    let moved = (0..new_inst.appointments.len())
        .filter(|&a| old[a].is_some() && old[a] != state.place[a])
        .map(|a| new_inst.appointments[a].id.clone())
        .collect();
    let objective = state.objective();
    drop(state);
    Ok(Replan {
        instance: new_inst,
        plan,
        objective,
        moved,
    })
}

/// The instance after `changes`, and the previous assignments (by appointment id) that
/// survive them. A change naming an unknown appointment is an error at `changes[i]`.
fn apply_changes(
    inst: &Instance,
    previous: &Plan,
    changes: &[Change],
) -> Result<(Instance, Vec<(String, Assignment)>), InstanceError> {
    let mut new_inst = inst.clone();
    let mut prev: Vec<(String, Assignment)> = previous
        .assignments
        .iter()
        .filter(|a| a.appointment < inst.appointments.len())
        .map(|a| (inst.appointments[a.appointment].id.clone(), *a))
        .collect();
    for (i, change) in changes.iter().enumerate() {
        let find = |inst: &Instance, id: &str| inst.appointments.iter().position(|a| a.id == id);
        match change {
            Change::AddOn(ap) => new_inst.appointments.push(ap.clone()),
            Change::Cancel(id) => {
                let Some(k) = find(&new_inst, id) else {
                    return Err(InstanceError {
                        field: format!("changes[{i}].cancel"),
                        message: format!("no appointment \"{id}\""),
                    });
                };
                new_inst.appointments.remove(k);
                prev.retain(|(p, _)| p != id);
            }
            Change::Delay { appointment, ready } => {
                let Some(k) = find(&new_inst, appointment) else {
                    return Err(InstanceError {
                        field: format!("changes[{i}].delay"),
                        message: format!("no appointment \"{appointment}\""),
                    });
                };
                new_inst.appointments[k].ready = *ready;
            }
        }
    }
    Ok((new_inst, prev))
}

/// Keeps every previous assignment that is still valid, earliest first. Returns each
/// appointment's previous place and whether it is frozen (started before `now_min`).
fn keep_previous(
    state: &mut State<'_>,
    mut prev: Vec<(String, Assignment)>,
    now_min: u32,
) -> (Vec<Option<Assignment>>, Vec<bool>) {
    let new_inst = state.inst;
    let index: std::collections::HashMap<&str, usize> = new_inst
        .appointments
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.as_str(), i))
        .collect();
    let mut old: Vec<Option<Assignment>> = vec![None; new_inst.appointments.len()];
    let mut frozen = vec![false; new_inst.appointments.len()];
    prev.sort_by_key(|(_, a)| a.start);
    for (id, a) in &prev {
        let Some(&k) = index.get(id.as_str()) else {
            continue;
        };
        let asg = Assignment {
            appointment: k,
            ..*a
        };
        old[k] = Some(asg);
        if state.can_place(&asg) {
            state.insert(asg);
            frozen[k] = asg.start.minutes() < now_min;
        }
    }
    (old, frozen)
}

/// A depth-one ejection chain for `a`, which does not fit: tries displacing one other
/// movable appointment (nearest in start first, at most 200) so that both fit and the
/// objective improves; otherwise leaves the plan as it was.
fn eject_one(state: &mut State<'_>, rng: &mut Rng, a: usize, frozen: &[bool], now_min: u32) {
    let new_inst = state.inst;
    let est = new_inst.earliest_start(a).minutes().max(now_min);
    let mut others: Vec<usize> = (0..new_inst.appointments.len())
        .filter(|&b| !frozen[b] && b != a)
        .filter(|&b| state.place[b].is_some_and(|p| p.start.minutes() >= now_min))
        .collect();
    others.sort_by_key(|&b| state.place[b].map_or(u32::MAX, |p| p.start.minutes().abs_diff(est)));
    let before = state.total();
    for &b in others.iter().take(200) {
        let Some(old_b) = state.remove(b) else {
            continue;
        };
        if let Some(asg_a) = state.find(a, now_min, 0, Pick::BestFit, rng) {
            state.insert(asg_a);
            if let Some(asg_b) = state.find(b, now_min, 0, Pick::BestFit, rng) {
                state.insert(asg_b);
                if state.total() < before {
                    break;
                }
                state.remove(b);
            }
            state.remove(a);
        }
        state.insert(old_b);
    }
}
