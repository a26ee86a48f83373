//! Linear 1-, 2- and 3-compartment IV models in closed form.
//!
//! Method: the central-compartment concentration after a unit amount put into the central
//! compartment at time 0 is a sum of exponentials, `h(t) = Σ aᵢ·e^(−λᵢ·t)` (the macro-constant
//! or "hybrid rate constant" form; Gibaldi & Perrier, *Pharmacokinetics*, 2nd ed., 1982,
//! chapter 2 and appendix B). The λᵢ are the roots of the characteristic polynomial of the
//! compartment matrix; for mamillary models with input into and elimination from the central
//! compartment, `aᵢ = (1/V1) · Π_p (k_p1 − λᵢ) / Π_{j≠i} (λⱼ − λᵢ)` over the peripheral
//! compartments p. Every dose (bolus or zero-order infusion) is superposed on that response.
//!
//! The simulator does the superposition in modal coordinates: it keeps one state sᵢ per
//! exponential (the current value of that exponential's share of the concentration) and
//! advances it exactly from one event to the next (`sᵢ ← sᵢ·e^(−λᵢΔ) + R·aᵢ·(1 − e^(−λᵢΔ))/λᵢ`).
//! This is algebraically the same sum as adding up every past dose, costs one exponential
//! per compartment per time point whatever the length of the history, and never subtracts
//! large numbers, so it stays exact (to rounding) over long histories. The AUC is the exact
//! integral of the same expression over each step.
//!
//! Values are plain `f64` in any consistent set of units (amount A, volume V, time T):
//! clearances in V/T, volumes in V, times in T; concentrations come out in A/V and AUCs in
//! A·T/V. The typed API in [`crate::typed`] fixes mg, L and h.

// Numeric kernels index several parallel arrays with one counter; iterator chains would
// hide that the indices are the same exponential or state.
#![allow(clippy::needless_range_loop)]

use crate::PkError;

/// Parameters of a linear model, in consistent units (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LinearParams {
    /// One compartment: clearance `cl`, volume `v`.
    One { cl: f64, v: f64 },
    /// Two compartments: clearance `cl`, central volume `v1`, inter-compartmental clearance
    /// `q`, peripheral volume `v2`.
    Two { cl: f64, v1: f64, q: f64, v2: f64 },
    /// Three compartments: `cl`, `v1`, and two peripheral compartments (`q2`, `v2`), (`q3`, `v3`).
    Three {
        cl: f64,
        v1: f64,
        q2: f64,
        v2: f64,
        q3: f64,
        v3: f64,
    },
}

impl LinearParams {
    /// Number of compartments.
    pub fn compartments(&self) -> usize {
        match self {
            LinearParams::One { .. } => 1,
            LinearParams::Two { .. } => 2,
            LinearParams::Three { .. } => 3,
        }
    }

    /// The elimination clearance.
    pub fn cl(&self) -> f64 {
        match *self {
            LinearParams::One { cl, .. }
            | LinearParams::Two { cl, .. }
            | LinearParams::Three { cl, .. } => cl,
        }
    }

    /// The central volume.
    pub fn v1(&self) -> f64 {
        match *self {
            LinearParams::One { v, .. } => v,
            LinearParams::Two { v1, .. } | LinearParams::Three { v1, .. } => v1,
        }
    }

    /// Parameter names and values, in the order of the CLI contract.
    pub fn named(&self) -> Vec<(&'static str, f64)> {
        match *self {
            LinearParams::One { cl, v } => vec![("cl", cl), ("v", v)],
            LinearParams::Two { cl, v1, q, v2 } => {
                vec![("cl", cl), ("v1", v1), ("q", q), ("v2", v2)]
            }
            LinearParams::Three {
                cl,
                v1,
                q2,
                v2,
                q3,
                v3,
            } => vec![
                ("cl", cl),
                ("v1", v1),
                ("q2", q2),
                ("v2", v2),
                ("q3", q3),
                ("v3", v3),
            ],
        }
    }

    fn check(&self) -> Result<(), PkError> {
        for (name, value) in self.named() {
            if !(value.is_finite() && value > 0.0) {
                return Err(PkError::Parameter {
                    name,
                    value,
                    reason: "must be a finite number greater than zero",
                });
            }
        }
        Ok(())
    }
}

/// One dose in consistent units: start time, amount, and infusion duration (0 = bolus).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RawDose {
    pub time: f64,
    pub amount: f64,
    pub duration: f64,
}

impl RawDose {
    /// A bolus at `time`.
    pub fn bolus(time: f64, amount: f64) -> Self {
        RawDose {
            time,
            amount,
            duration: 0.0,
        }
    }

    /// A zero-order infusion starting at `time` and lasting `duration`.
    pub fn infusion(time: f64, amount: f64, duration: f64) -> Self {
        RawDose {
            time,
            amount,
            duration,
        }
    }

    fn check(&self, index: usize) -> Result<(), PkError> {
        let bad = |field: &'static str, value: f64, reason: &'static str| PkError::Dose {
            index,
            field,
            value,
            reason,
        };
        if !self.time.is_finite() {
            return Err(bad("time", self.time, "must be a finite number"));
        }
        if !(self.amount.is_finite() && self.amount >= 0.0) {
            return Err(bad(
                "amount",
                self.amount,
                "must be a finite number, zero or more",
            ));
        }
        if !(self.duration.is_finite() && self.duration >= 0.0) {
            return Err(bad(
                "duration",
                self.duration,
                "must be a finite number, zero (bolus) or more",
            ));
        }
        Ok(())
    }
}

/// The sum-of-exponentials unit response of a linear model: `h(t) = Σ coef[i]·e^(−lambda[i]·t)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Disposition {
    n: usize,
    lambda: [f64; 3],
    coef: [f64; 3],
    cl: f64,
}

impl Disposition {
    /// Computes the hybrid rate constants and coefficients. Refuses non-positive or
    /// non-finite parameters.
    pub fn new(p: &LinearParams) -> Result<Self, PkError> {
        p.check()?;
        let d = match *p {
            LinearParams::One { cl, v } => Disposition {
                n: 1,
                lambda: [cl / v, 0.0, 0.0],
                coef: [1.0 / v, 0.0, 0.0],
                cl,
            },
            LinearParams::Two { cl, v1, q, v2 } => {
                let k10 = cl / v1;
                let k12 = q / v1;
                let k21 = q / v2;
                let sum = k10 + k12 + k21;
                let prod = k10 * k21;
                // The discriminant is (k10 − k21)² + k12² + 2·k12·(k10 + k21) > 0 when q > 0,
                // written as a sum of non-negative terms to avoid cancellation.
                let disc = (k10 - k21) * (k10 - k21) + k12 * k12 + 2.0 * k12 * (k10 + k21);
                let alpha = 0.5 * (sum + disc.sqrt());
                // β from the product of the roots (Vieta) rather than a difference, which would
                // lose the digits of a small β.
                let beta = prod / alpha;
                let diff = disc.sqrt(); // α − β
                Disposition {
                    n: 2,
                    lambda: [alpha, beta, 0.0],
                    coef: [(alpha - k21) / (v1 * diff), (k21 - beta) / (v1 * diff), 0.0],
                    cl,
                }
            }
            LinearParams::Three {
                cl,
                v1,
                q2,
                v2,
                q3,
                v3,
            } => {
                let k10 = cl / v1;
                let k12 = q2 / v1;
                let k21 = q2 / v2;
                let k13 = q3 / v1;
                let k31 = q3 / v3;
                let roots = three_compartment_roots(k10, k12, k21, k13, k31);
                let mut coef = [0.0; 3];
                for i in 0..3 {
                    let l = roots[i];
                    let (j, k) = ((i + 1) % 3, (i + 2) % 3);
                    coef[i] = (k21 - l) * (k31 - l) / (v1 * (roots[j] - l) * (roots[k] - l));
                }
                Disposition {
                    n: 3,
                    lambda: roots,
                    coef,
                    cl,
                }
            }
        };
        if d.lambda[..d.n]
            .iter()
            .chain(&d.coef[..d.n])
            .any(|x| !x.is_finite())
            || d.lambda[..d.n].iter().any(|&l| l <= 0.0)
        {
            return Err(PkError::Numerical(
                "the model's rate constants could not be computed for these parameters",
            ));
        }
        Ok(d)
    }

    /// The hybrid rate constants λᵢ (largest first).
    pub fn lambdas(&self) -> &[f64] {
        &self.lambda[..self.n]
    }

    /// The coefficients aᵢ of the unit response (concentration per unit amount).
    pub fn coefficients(&self) -> &[f64] {
        &self.coef[..self.n]
    }

    /// The elimination clearance.
    pub fn clearance(&self) -> f64 {
        self.cl
    }

    /// Concentration at `t` by direct superposition of every dose (used as a second
    /// closed-form path in tests and for single time points).
    pub fn concentration_at(&self, doses: &[RawDose], t: f64) -> f64 {
        let mut c = 0.0;
        for d in doses {
            let tau = t - d.time;
            if tau < 0.0 {
                continue;
            }
            for i in 0..self.n {
                let (l, a) = (self.lambda[i], self.coef[i]);
                if d.duration == 0.0 {
                    c += d.amount * a * (-l * tau).exp();
                } else {
                    let rate = d.amount / d.duration;
                    if tau <= d.duration {
                        c += rate * a / l * -(-l * tau).exp_m1();
                    } else {
                        c += rate * a / l
                            * -(-l * d.duration).exp_m1()
                            * (-l * (tau - d.duration)).exp();
                    }
                }
            }
        }
        c
    }

    /// Concentrations (and, if asked, the cumulative AUC from the beginning of time) at
    /// `times`, which must be sorted ascending; see [`Simulator`] for unsorted times and
    /// reuse of scratch memory.
    pub fn simulate(
        &self,
        doses: &[RawDose],
        times: &[f64],
        conc: &mut [f64],
        auc: Option<&mut [f64]>,
    ) -> Result<(), PkError> {
        Simulator::default().run(self, doses, times, conc, auc)
    }

    /// Steady state of a regimen repeated every `interval`: the given amount infused over
    /// `duration` (0 = bolus) from the start of each interval.
    pub fn steady_state(
        &self,
        amount: f64,
        interval: f64,
        duration: f64,
    ) -> Result<SteadyState, PkError> {
        if !(interval.is_finite() && interval > 0.0) {
            return Err(PkError::Regimen(
                "the dosing interval must be greater than zero",
            ));
        }
        if !(duration.is_finite() && duration >= 0.0 && duration <= interval) {
            return Err(PkError::Regimen(
                "the infusion duration must be between zero and the dosing interval",
            ));
        }
        let mut cmax = 0.0;
        let mut cmin = 0.0;
        for i in 0..self.n {
            let (l, a) = (self.lambda[i], self.coef[i]);
            let accumulation = 1.0 / -(-l * interval).exp_m1();
            if duration == 0.0 {
                cmax += amount * a * accumulation;
                cmin += amount * a * (-l * interval).exp() * accumulation;
            } else {
                let rate = amount / duration;
                let end = rate * a / l * -(-l * duration).exp_m1() * accumulation;
                cmax += end;
                cmin += end * (-l * (interval - duration)).exp();
            }
        }
        Ok(SteadyState {
            cmax,
            cmin,
            auc_interval: amount / self.cl,
            auc24: amount / self.cl * 24.0 / interval,
        })
    }
}

/// Steady-state exposure of a repeated regimen (consistent units; `auc24` assumes hours).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SteadyState {
    /// Peak: at the end of the infusion (at the dose for a bolus).
    pub cmax: f64,
    /// Trough: just before the next dose.
    pub cmin: f64,
    /// AUC over one interval = dose / CL (exact for linear models).
    pub auc_interval: f64,
    /// AUC over 24 h = AUC over one interval × 24 / interval (time unit: hours).
    pub auc24: f64,
}

/// Roots of λ³ − a2·λ² + a1·λ − a0 for the 3-compartment mamillary model, largest first.
///
/// Trigonometric solution of the cubic (all three roots are real and positive for these
/// models), then two guarded Newton steps on the original polynomial to recover the digits
/// the trigonometric form loses for widely separated roots.
fn three_compartment_roots(k10: f64, k12: f64, k21: f64, k13: f64, k31: f64) -> [f64; 3] {
    let a0 = k10 * k21 * k31;
    let a1 = k10 * k31 + k21 * k31 + k21 * k13 + k10 * k21 + k31 * k12;
    let a2 = k10 + k12 + k13 + k21 + k31;
    let p = a1 - a2 * a2 / 3.0;
    let q = -2.0 * a2 * a2 * a2 / 27.0 + a1 * a2 / 3.0 - a0;
    // y³ + p·y + q = 0 with λ = y + a2/3; p < 0 when the three roots are real and distinct.
    let m = 2.0 * (-p / 3.0).max(0.0).sqrt();
    let arg = if m > 0.0 {
        (3.0 * q / (p * m)).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let theta = arg.acos() / 3.0;
    let third = 2.0 * std::f64::consts::PI / 3.0;
    let mut r = [0.0; 3];
    for (k, root) in r.iter_mut().enumerate() {
        *root = m * (theta - third * k as f64).cos() + a2 / 3.0;
    }
    r.sort_by(|x, y| y.total_cmp(x));
    // The smallest root via Vieta (a0 = λ1·λ2·λ3) keeps its relative precision.
    if r[0] * r[1] > 0.0 {
        r[2] = a0 / (r[0] * r[1]);
    }
    let f = |x: f64| ((x - a2) * x + a1) * x - a0;
    let df = |x: f64| (3.0 * x - 2.0 * a2) * x + a1;
    for root in &mut r {
        for _ in 0..2 {
            let d = df(*root);
            if d == 0.0 {
                break;
            }
            let next = *root - f(*root) / d;
            if next.is_finite() && f(next).abs() <= f(*root).abs() {
                *root = next;
            } else {
                break;
            }
        }
    }
    r
}

/// `x − 1 + e^(−x)` without cancellation for small `x` (the infusion term of the AUC).
#[inline]
fn x_minus_one_minus_expm1(x: f64) -> f64 {
    if x < 0.02 {
        // Taylor series; the first omitted term is below 1e-16 relative for x < 0.02.
        let x2 = x * x;
        x2 * (0.5
            - x * (1.0 / 6.0
                - x * (1.0 / 24.0 - x * (1.0 / 120.0 - x * (1.0 / 720.0 - x / 5040.0)))))
    } else {
        x + (-x).exp_m1()
    }
}

/// One event of the dosing timeline: at `time`, add `bolus` to the amount and `rate_change`
/// to the infusion rate.
#[derive(Clone, Copy, Debug)]
struct Event {
    time: f64,
    bolus: f64,
    rate_change: f64,
    /// +1 when an infusion starts, −1 when it ends.
    running_change: i32,
}

/// A dosing history turned into a sorted timeline of events (bolus, infusion start, infusion
/// end). Built once and reused when the same doses are simulated many times (a population,
/// the iterations of a fit).
#[derive(Clone, Debug, Default)]
pub struct Schedule {
    events: Vec<Event>,
}

impl Schedule {
    /// Validates the doses and builds the timeline.
    pub fn new(doses: &[RawDose]) -> Result<Self, PkError> {
        let mut s = Schedule::default();
        s.fill(doses)?;
        Ok(s)
    }

    fn fill(&mut self, doses: &[RawDose]) -> Result<(), PkError> {
        self.events.clear();
        for (i, dose) in doses.iter().enumerate() {
            dose.check(i)?;
            if dose.duration == 0.0 {
                self.events.push(Event {
                    time: dose.time,
                    bolus: dose.amount,
                    rate_change: 0.0,
                    running_change: 0,
                });
            } else {
                let rate = dose.amount / dose.duration;
                self.events.push(Event {
                    time: dose.time,
                    bolus: 0.0,
                    rate_change: rate,
                    running_change: 1,
                });
                self.events.push(Event {
                    time: dose.time + dose.duration,
                    bolus: 0.0,
                    rate_change: -rate,
                    running_change: -1,
                });
            }
        }
        if !self.events.is_sorted_by(|a, b| a.time <= b.time) {
            self.events.sort_by(|a, b| a.time.total_cmp(&b.time));
        }
        Ok(())
    }
}

/// The event-marching simulator, holding scratch memory so that repeated simulations (a
/// population, an optimiser) allocate nothing.
#[derive(Default, Debug)]
pub struct Simulator {
    scratch: Schedule,
    order: Vec<usize>,
}

impl Simulator {
    /// See [`Disposition::simulate`]; here `times` may be in any order.
    pub fn run(
        &mut self,
        d: &Disposition,
        doses: &[RawDose],
        times: &[f64],
        conc: &mut [f64],
        auc: Option<&mut [f64]>,
    ) -> Result<(), PkError> {
        let mut schedule = std::mem::take(&mut self.scratch);
        let result = schedule
            .fill(doses)
            .and_then(|()| self.run_schedule(d, &schedule, times, conc, auc));
        self.scratch = schedule;
        result
    }

    /// Simulates a prepared [`Schedule`]: concentrations (and, if asked, the cumulative AUC
    /// from the first event) at `times`, in any order.
    pub fn run_schedule(
        &mut self,
        d: &Disposition,
        schedule: &Schedule,
        times: &[f64],
        conc: &mut [f64],
        mut auc: Option<&mut [f64]>,
    ) -> Result<(), PkError> {
        if conc.len() != times.len() || auc.as_ref().is_some_and(|a| a.len() != times.len()) {
            return Err(PkError::Numerical(
                "output buffers must have one slot per time",
            ));
        }
        if let Some(t) = times.iter().find(|t| !t.is_finite()) {
            return Err(PkError::Time { value: *t });
        }
        let sorted = times.is_sorted();
        if !sorted {
            self.order.clear();
            self.order.extend(0..times.len());
            self.order.sort_by(|&a, &b| times[a].total_cmp(&times[b]));
        }
        let events = &schedule.events;
        let mut march = March::new(d, auc.is_some());
        // The clock starts at the first event: nothing happens before it.
        march.now = events.first().map_or(f64::NEG_INFINITY, |e| e.time);
        let mut next_event = 0usize;
        let mut running = 0i32;
        for k in 0..times.len() {
            let idx = if sorted { k } else { self.order[k] };
            let t = times[idx];
            // Apply every event at or before t: a bolus given at t is included at t.
            while next_event < events.len() && events[next_event].time <= t {
                let ev = events[next_event];
                march.advance(ev.time);
                if ev.bolus != 0.0 {
                    for i in 0..march.n {
                        march.s[i] += ev.bolus * d.coef[i];
                    }
                }
                march.rate += ev.rate_change;
                running += ev.running_change;
                // When no infusion runs, the rate is exactly zero, not a rounding residue of
                // overlapping infusions' additions and subtractions.
                if running == 0 {
                    march.rate = 0.0;
                }
                next_event += 1;
            }
            march.advance(t);
            let before_first = t < march.now;
            conc[idx] = if before_first {
                0.0
            } else {
                march.s[..march.n].iter().sum()
            };
            if let Some(a) = auc.as_deref_mut() {
                a[idx] = if before_first {
                    0.0
                } else {
                    march.cum[..march.n].iter().sum()
                };
            }
        }
        Ok(())
    }
}

/// The modal state of the simulator and its exact propagation over one step.
struct March<'a> {
    d: &'a Disposition,
    n: usize,
    with_auc: bool,
    now: f64,
    rate: f64,
    /// Each exponential's share of the concentration.
    s: [f64; 3],
    /// Each exponential's share of the cumulative AUC.
    cum: [f64; 3],
    /// Propagators of the last step length: observation grids are often regular, so the
    /// same step recurs and its exponentials are reused.
    last_dt: f64,
    decay: [f64; 3],
    one_minus_decay: [f64; 3],
    auc_infusion: [f64; 3],
}

impl<'a> March<'a> {
    fn new(d: &'a Disposition, with_auc: bool) -> Self {
        March {
            d,
            n: d.n,
            with_auc,
            now: f64::NEG_INFINITY,
            rate: 0.0,
            s: [0.0; 3],
            cum: [0.0; 3],
            last_dt: f64::NAN,
            decay: [0.0; 3],
            one_minus_decay: [0.0; 3],
            auc_infusion: [0.0; 3],
        }
    }

    #[inline]
    fn advance(&mut self, to: f64) {
        let dt = to - self.now;
        if dt > 0.0 && self.now.is_finite() {
            // Reuse the propagators when the step matches the previous one to 1e-14 relative
            // (regular grids differ only in the last bits of their steps); the error this
            // admits, λ·Δt·1e-14 relative, is far below the rounding of the sums.
            if (dt - self.last_dt).abs() > 1e-14 * dt || self.last_dt.is_nan() {
                for i in 0..self.n {
                    let l = self.d.lambda[i];
                    let x = l * dt;
                    let e = (-x).exp();
                    self.decay[i] = e;
                    // 1 − e^(−x) without cancellation for small x; for larger x the plain
                    // difference is exact to a few ulps and saves a second transcendental.
                    self.one_minus_decay[i] = if x < 0.25 { -(-x).exp_m1() } else { 1.0 - e };
                    if self.with_auc {
                        self.auc_infusion[i] = x_minus_one_minus_expm1(x) / (l * l);
                    }
                }
                self.last_dt = dt;
            }
            for i in 0..self.n {
                let (l, a) = (self.d.lambda[i], self.d.coef[i]);
                if self.with_auc {
                    self.cum[i] += self.s[i] * self.one_minus_decay[i] / l
                        + self.rate * a * self.auc_infusion[i];
                }
                self.s[i] = self.s[i] * self.decay[i] + self.rate * a * self.one_minus_decay[i] / l;
            }
        }
        if to > self.now {
            self.now = to;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test failing on unwrap is a failing test
mod tests {
    use super::*;

    fn two() -> Disposition {
        Disposition::new(&LinearParams::Two {
            cl: 4.0,
            v1: 30.0,
            q: 6.0,
            v2: 40.0,
        })
        .unwrap()
    }

    #[test]
    fn unit_response_starts_at_one_over_v1_and_integrates_to_one_over_cl() {
        for p in [
            LinearParams::One { cl: 3.0, v: 40.0 },
            LinearParams::Two {
                cl: 4.0,
                v1: 30.0,
                q: 6.0,
                v2: 40.0,
            },
            LinearParams::Three {
                cl: 4.0,
                v1: 10.0,
                q2: 6.0,
                v2: 20.0,
                q3: 0.5,
                v3: 100.0,
            },
        ] {
            let d = Disposition::new(&p).unwrap();
            let h0: f64 = d.coefficients().iter().sum();
            assert!(
                (h0 * p.v1() - 1.0).abs() < 1e-13,
                "{p:?}: h(0)·V1 = {}",
                h0 * p.v1()
            );
            let auc: f64 = d
                .coefficients()
                .iter()
                .zip(d.lambdas())
                .map(|(a, l)| a / l)
                .sum();
            assert!(
                (auc * p.cl() - 1.0).abs() < 1e-12,
                "{p:?}: ∫h·CL = {}",
                auc * p.cl()
            );
        }
    }

    #[test]
    fn cubic_roots_satisfy_the_characteristic_polynomial_and_vieta() {
        let (k10, k12, k21, k13, k31) = (0.4, 0.6, 0.3, 0.05, 0.005);
        let r = three_compartment_roots(k10, k12, k21, k13, k31);
        let a0 = k10 * k21 * k31;
        let a2 = k10 + k12 + k13 + k21 + k31;
        assert!(((r[0] + r[1] + r[2]) - a2).abs() < 1e-14);
        assert!((r[0] * r[1] * r[2] / a0 - 1.0).abs() < 1e-13);
        assert!(r[0] > r[1] && r[1] > r[2] && r[2] > 0.0);
    }

    #[test]
    fn bolus_at_an_observation_time_is_included() {
        let d = two();
        let doses = [RawDose::bolus(0.0, 1000.0), RawDose::bolus(12.0, 1000.0)];
        let times = [0.0, 12.0];
        let mut c = [0.0; 2];
        d.simulate(&doses, &times, &mut c, None).unwrap();
        assert!((c[0] - 1000.0 / 30.0).abs() < 1e-12);
        assert!(
            c[1] > 1000.0 / 30.0,
            "the second bolus is included at t = 12 h"
        );
        assert!((c[1] - d.concentration_at(&doses, 12.0)).abs() < 1e-12);
    }

    #[test]
    fn regular_grids_reuse_propagators_without_losing_accuracy() {
        let d = Disposition::new(&LinearParams::Three {
            cl: 4.0,
            v1: 10.0,
            q2: 6.0,
            v2: 20.0,
            q3: 0.5,
            v3: 100.0,
        })
        .unwrap();
        let doses: Vec<RawDose> = (0..5)
            .map(|k| RawDose::infusion(12.0 * k as f64, 1000.0, 1.0))
            .collect();
        let times: Vec<f64> = (0..500).map(|i| 0.5 + 59.5 * i as f64 / 499.0).collect();
        let mut c = vec![0.0; times.len()];
        d.simulate(&doses, &times, &mut c, None).unwrap();
        for (t, c) in times.iter().zip(&c) {
            let direct = d.concentration_at(&doses, *t);
            assert!((c / direct - 1.0).abs() < 1e-12, "t = {t}: {c} vs {direct}");
        }
    }

    #[test]
    fn before_the_first_dose_concentration_and_auc_are_zero() {
        let d = two();
        let doses = [RawDose::infusion(5.0, 1000.0, 1.0)];
        let times = [-1.0, 5.0, 5.5];
        let mut c = [9.0; 3];
        let mut a = [9.0; 3];
        d.simulate(&doses, &times, &mut c, Some(&mut a)).unwrap();
        assert_eq!((c[0], a[0], c[1], a[1]), (0.0, 0.0, 0.0, 0.0));
        assert!(c[2] > 0.0 && a[2] > 0.0);
    }

    #[test]
    fn total_auc_equals_dose_over_clearance() {
        let d = two();
        let doses = [
            RawDose::infusion(0.0, 1000.0, 1.5),
            RawDose::bolus(3.0, 500.0),
        ];
        let mut c = [0.0];
        let mut a = [0.0];
        d.simulate(&doses, &[2000.0], &mut c, Some(&mut a)).unwrap();
        assert!((a[0] - 1500.0 / 4.0).abs() < 1e-9, "{}", a[0]);
    }

    #[test]
    fn unsorted_times_give_the_same_answers_as_sorted() {
        let d = two();
        let doses = [
            RawDose::infusion(0.0, 1000.0, 1.0),
            RawDose::infusion(12.0, 1000.0, 1.0),
        ];
        let sorted = [0.5, 1.0, 6.0, 12.0, 12.5, 30.0];
        let shuffled = [12.5, 0.5, 30.0, 6.0, 1.0, 12.0];
        let mut c1 = [0.0; 6];
        let mut c2 = [0.0; 6];
        d.simulate(&doses, &sorted, &mut c1, None).unwrap();
        d.simulate(&doses, &shuffled, &mut c2, None).unwrap();
        for (i, t) in shuffled.iter().enumerate() {
            let j = sorted.iter().position(|s| s == t).unwrap();
            assert_eq!(c2[i], c1[j]);
        }
    }

    #[test]
    fn steady_state_matches_a_long_history() {
        let d = two();
        let doses: Vec<RawDose> = (0..200)
            .map(|k| RawDose::infusion(12.0 * k as f64, 1000.0, 1.0))
            .collect();
        let ss = d.steady_state(1000.0, 12.0, 1.0).unwrap();
        let t0 = 12.0 * 199.0;
        let mut c = [0.0; 2];
        d.simulate(&doses, &[t0 + 1.0, t0 + 12.0], &mut c, None)
            .unwrap();
        assert!(
            (c[0] / ss.cmax - 1.0).abs() < 1e-10,
            "{} vs {}",
            c[0],
            ss.cmax
        );
        assert!(
            (c[1] / ss.cmin - 1.0).abs() < 1e-10,
            "{} vs {}",
            c[1],
            ss.cmin
        );
        assert!((ss.auc24 - 2000.0 / 4.0).abs() < 1e-12);
    }

    #[test]
    fn bad_parameters_are_refused_not_panicked_on() {
        for p in [
            LinearParams::One { cl: 0.0, v: 1.0 },
            LinearParams::One {
                cl: f64::NAN,
                v: 1.0,
            },
            LinearParams::Two {
                cl: 1.0,
                v1: -1.0,
                q: 1.0,
                v2: 1.0,
            },
        ] {
            assert!(Disposition::new(&p).is_err());
        }
        let d = two();
        let mut c = [0.0];
        assert!(
            d.simulate(&[RawDose::infusion(0.0, 1.0, -1.0)], &[1.0], &mut c, None)
                .is_err()
        );
        assert!(
            d.simulate(&[RawDose::bolus(0.0, 1.0)], &[f64::NAN], &mut c, None)
                .is_err()
        );
        assert!(d.steady_state(1.0, 12.0, 13.0).is_err());
    }
}
