//! The solver's bookkeeping: minute-resolution occupancy of places and nurses, so that
//! "can appointment a start at t with place c and nurse n?" is a few word operations.

use crate::model::{
    Assignment, Clock, DAY_MINUTES, GRID_MINUTES, Instance, Needs, Objective, WEIGHT_UNSCHEDULED,
};
use crate::rng::Rng;

const WORDS: usize = (DAY_MINUTES as usize).div_ceil(64);

/// One bit per minute of the day.
#[derive(Clone)]
struct Bits([u64; WORDS]);

fn mask(lo: usize, hi: usize) -> u64 {
    // Bits lo..hi of one word, 0 ≤ lo < hi ≤ 64.
    let upper = if hi == 64 { u64::MAX } else { (1u64 << hi) - 1 };
    upper & !((1u64 << lo) - 1)
}

impl Bits {
    fn new() -> Bits {
        Bits([0; WORDS])
    }

    /// Calls `f(word, mask)` for each word touched by minutes [a, b).
    fn for_range(a: u32, b: u32, mut f: impl FnMut(usize, u64) -> bool) -> bool {
        if a >= b {
            return false;
        }
        let (a, b) = (a as usize, b as usize);
        let (wa, wb) = (a / 64, (b - 1) / 64);
        for w in wa..=wb {
            let lo = if w == wa { a % 64 } else { 0 };
            let hi = if w == wb { (b - 1) % 64 + 1 } else { 64 };
            if f(w, mask(lo, hi)) {
                return true;
            }
        }
        false
    }

    /// Whether any minute in [a, b) is set.
    fn any(&self, a: u32, b: u32) -> bool {
        Bits::for_range(a, b, |w, m| self.0[w] & m != 0)
    }

    fn set(&mut self, a: u32, b: u32) {
        Bits::for_range(a, b, |w, m| {
            self.0[w] |= m;
            false
        });
    }

    fn clear(&mut self, a: u32, b: u32) {
        Bits::for_range(a, b, |w, m| {
            self.0[w] &= !m;
            false
        });
    }

    /// The minute after the last set minute before `t` (0 when none).
    fn busy_until_before(&self, t: u32) -> u32 {
        let t = t as usize;
        if t == 0 {
            return 0;
        }
        let mut w = (t - 1) / 64;
        let mut m = mask(0, (t - 1) % 64 + 1);
        loop {
            let x = self.0[w] & m;
            if x != 0 {
                return (w * 64 + 63 - x.leading_zeros() as usize + 1) as u32;
            }
            if w == 0 {
                return 0;
            }
            w -= 1;
            m = u64::MAX;
        }
    }
}

/// How an insertion picks among feasible places and nurses at the earliest feasible start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pick {
    /// The place of the exact kind with the smallest idle gap before the start; the nurse
    /// monitoring the fewest patients at the start.
    BestFit,
    /// A uniformly random feasible place and nurse.
    Random,
}

pub(crate) struct State<'a> {
    pub inst: &'a Instance,
    chair_busy: Vec<Bits>,
    nurse_excl: Vec<Bits>,
    nurse_count: Vec<Vec<u8>>,
    nurse_full: Vec<Bits>,
    pub place: Vec<Option<Assignment>>,
    /// Per need (chair, bed, any): the accepting places, exact kind first.
    chairs_for: [Vec<usize>; 3],
    latest_nurse_end: u32,
    n_unscheduled: u64,
    overtime: u64,
    wait: u64,
}

fn need_index(n: Needs) -> usize {
    match n {
        Needs::Chair => 0,
        Needs::Bed => 1,
        Needs::Any => 2,
    }
}

impl<'a> State<'a> {
    /// An empty plan. The instance must have passed [`Instance::validate`].
    pub fn new(inst: &'a Instance) -> State<'a> {
        let n_nurses = inst.nurses.len();
        let mut chairs_for: [Vec<usize>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        for need in [Needs::Chair, Needs::Bed, Needs::Any] {
            let list = &mut chairs_for[need_index(need)];
            list.extend((0..inst.chairs.len()).filter(|&c| need.accepts(inst.chairs[c].kind)));
            // For "any", plain chairs first so that beds stay free for those who need one.
            list.sort_by_key(|&c| (inst.chairs[c].kind != crate::model::ChairKind::Chair, c));
        }
        State {
            inst,
            chair_busy: vec![Bits::new(); inst.chairs.len()],
            nurse_excl: vec![Bits::new(); n_nurses],
            nurse_count: vec![vec![0; DAY_MINUTES as usize]; n_nurses],
            nurse_full: vec![Bits::new(); n_nurses],
            place: vec![None; inst.appointments.len()],
            chairs_for,
            latest_nurse_end: inst
                .nurses
                .iter()
                .map(|n| n.end.minutes())
                .max()
                .unwrap_or(0),
            n_unscheduled: inst.appointments.len() as u64,
            overtime: 0,
            wait: 0,
        }
    }

    pub fn objective(&self) -> Objective {
        Objective::from_parts(self.n_unscheduled, self.overtime, self.wait)
    }

    pub fn total(&self) -> u64 {
        WEIGHT_UNSCHEDULED * self.n_unscheduled
            + crate::model::WEIGHT_OVERTIME_PER_MINUTE * self.overtime
            + self.wait
    }

    fn nurse_ok(&self, a: usize, n: usize, t: u32) -> bool {
        let ap = &self.inst.appointments[a];
        let nurse = &self.inst.nurses[n];
        let e = t + ap.duration_minutes;
        nurse.start.minutes() <= t
            && e <= nurse.end.minutes()
            && !self.nurse_excl[n].any(t, t + ap.setup_minutes)
            && !self.nurse_excl[n].any(e - ap.takedown_minutes, e)
            && !self.nurse_full[n].any(t, e)
    }

    fn chair_ok(&self, c: usize, t: u32, e: u32) -> bool {
        !self.chair_busy[c].any(t, e)
    }

    /// Whether `asg` can be added to the current plan (all rules, including ready, open
    /// and the grid).
    pub fn can_place(&self, asg: &Assignment) -> bool {
        let inst = self.inst;
        if asg.appointment >= inst.appointments.len()
            || asg.chair >= inst.chairs.len()
            || asg.nurse >= inst.nurses.len()
        {
            return false;
        }
        let ap = &inst.appointments[asg.appointment];
        let t = asg.start.minutes();
        let e = t + ap.duration_minutes;
        self.place[asg.appointment].is_none()
            && t.is_multiple_of(GRID_MINUTES)
            && t >= inst.earliest_start(asg.appointment).minutes()
            && e <= DAY_MINUTES
            && ap.needs.accepts(inst.chairs[asg.chair].kind)
            && self.chair_ok(asg.chair, t, e)
            && self.nurse_ok(asg.appointment, asg.nurse, t)
    }

    pub fn insert(&mut self, asg: Assignment) {
        let ap = &self.inst.appointments[asg.appointment];
        let t = asg.start.minutes();
        let e = t + ap.duration_minutes;
        debug_assert!(self.place[asg.appointment].is_none());
        self.chair_busy[asg.chair].set(t, e);
        let n = asg.nurse;
        self.nurse_excl[n].set(t, t + ap.setup_minutes);
        self.nurse_excl[n].set(e - ap.takedown_minutes, e);
        let max = self.inst.nurses[n].max_patients;
        for m in t..e {
            let c = &mut self.nurse_count[n][m as usize];
            *c += 1;
            if u32::from(*c) >= max {
                self.nurse_full[n].set(m, m + 1);
            }
        }
        let o = Objective::of_start(self.inst, asg.appointment, asg.start);
        self.overtime += o.overtime_minutes;
        self.wait += o.wait_minutes;
        self.n_unscheduled -= 1;
        self.place[asg.appointment] = Some(asg);
    }

    pub fn remove(&mut self, a: usize) -> Option<Assignment> {
        let asg = self.place[a].take()?;
        let ap = &self.inst.appointments[a];
        let t = asg.start.minutes();
        let e = t + ap.duration_minutes;
        self.chair_busy[asg.chair].clear(t, e);
        let n = asg.nurse;
        self.nurse_excl[n].clear(t, t + ap.setup_minutes);
        self.nurse_excl[n].clear(e - ap.takedown_minutes, e);
        let max = self.inst.nurses[n].max_patients;
        for m in t..e {
            let c = &mut self.nurse_count[n][m as usize];
            *c -= 1;
            if u32::from(*c) < max {
                self.nurse_full[n].clear(m, m + 1);
            }
        }
        let o = Objective::of_start(self.inst, a, asg.start);
        self.overtime -= o.overtime_minutes;
        self.wait -= o.wait_minutes;
        self.n_unscheduled += 1;
        Some(asg)
    }

    /// The earliest feasible placement of `a` starting at or after `not_before` (and its
    /// earliest start), skipping the first `skip` feasible start times; `None` when none.
    pub fn find(
        &self,
        a: usize,
        not_before: u32,
        skip: u32,
        pick: Pick,
        rng: &mut Rng,
    ) -> Option<Assignment> {
        self.find_with(a, not_before, skip, pick, (None, None), rng)
    }

    /// As [`State::find`], with the nurse and/or the place fixed when given: this reaches
    /// plans in which an appointment waits for a particular nurse or place although another
    /// is free earlier.
    pub fn find_with(
        &self,
        a: usize,
        not_before: u32,
        skip: u32,
        pick: Pick,
        (nurse, chair): (Option<usize>, Option<usize>),
        rng: &mut Rng,
    ) -> Option<Assignment> {
        let inst = self.inst;
        let ap = &inst.appointments[a];
        let d = ap.duration_minutes;
        let mut t = inst
            .earliest_start(a)
            .minutes()
            .max(Clock::from_minutes(not_before).ceil_to_grid().minutes());
        let chairs = &self.chairs_for[need_index(ap.needs)];
        let mut skip = skip;
        while t + d <= self.latest_nurse_end {
            let e = t + d;
            let nurse_any = match nurse {
                Some(n) => self.nurse_ok(a, n, t),
                None => (0..inst.nurses.len()).any(|n| self.nurse_ok(a, n, t)),
            };
            let chair_any = match chair {
                Some(c) => chairs.contains(&c) && self.chair_ok(c, t, e),
                None => chairs.iter().any(|&c| self.chair_ok(c, t, e)),
            };
            if nurse_any && chair_any {
                if skip > 0 {
                    skip -= 1;
                } else {
                    let mut asg = self.choose(a, t, pick, rng);
                    if let Some(n) = nurse {
                        asg.nurse = n;
                    }
                    if let Some(c) = chair {
                        asg.chair = c;
                    }
                    return Some(asg);
                }
            }
            t += GRID_MINUTES;
        }
        None
    }

    fn choose(&self, a: usize, t: u32, pick: Pick, rng: &mut Rng) -> Assignment {
        let inst = self.inst;
        let ap = &inst.appointments[a];
        let e = t + ap.duration_minutes;
        let chairs: Vec<usize> = self.chairs_for[need_index(ap.needs)]
            .iter()
            .copied()
            .filter(|&c| self.chair_ok(c, t, e))
            .collect();
        let nurses: Vec<usize> = (0..inst.nurses.len())
            .filter(|&n| self.nurse_ok(a, n, t))
            .collect();
        let (chair, nurse) = match pick {
            Pick::Random => (
                chairs[rng.below(chairs.len())],
                nurses[rng.below(nurses.len())],
            ),
            Pick::BestFit => {
                let exact = |c: usize| match ap.needs {
                    Needs::Any => inst.chairs[c].kind == crate::model::ChairKind::Chair,
                    _ => true,
                };
                let chair = chairs
                    .iter()
                    .copied()
                    .min_by_key(|&c| (!exact(c), t - self.chair_busy[c].busy_until_before(t), c))
                    .unwrap_or(chairs[0]);
                let nurse = nurses
                    .iter()
                    .copied()
                    .min_by_key(|&n| (self.nurse_count[n][t as usize], n))
                    .unwrap_or(nurses[0]);
                (chair, nurse)
            }
        };
        Assignment {
            appointment: a,
            chair,
            nurse,
            start: Clock::from_minutes(t),
        }
    }

    /// The current plan (assignments by start, then place; unscheduled by index).
    pub fn plan(&self) -> crate::model::Plan {
        plan_of(&self.place)
    }
}

pub(crate) fn plan_of(place: &[Option<Assignment>]) -> crate::model::Plan {
    let mut assignments: Vec<Assignment> = place.iter().flatten().copied().collect();
    assignments.sort_by_key(|a| (a.start, a.chair, a.appointment));
    let unscheduled = place
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_none())
        .map(|(i, _)| i)
        .collect();
    crate::model::Plan {
        assignments,
        unscheduled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_ranges() {
        let mut b = Bits::new();
        b.set(60, 130);
        assert!(b.any(129, 131));
        assert!(!b.any(130, 200));
        assert!(!b.any(0, 60));
        assert!(b.any(0, 61));
        assert!(!b.any(70, 70));
        assert_eq!(b.busy_until_before(200), 130);
        assert_eq!(b.busy_until_before(100), 100);
        assert_eq!(b.busy_until_before(60), 0);
        b.clear(60, 130);
        assert!(!b.any(0, 1440));
        b.set(1400, 1440);
        assert!(b.any(1439, 1440));
        assert_eq!(b.busy_until_before(1440), 1440);
    }
}
