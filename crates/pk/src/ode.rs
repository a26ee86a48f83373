//! The ODE path: models without a closed form (Michaelis–Menten elimination), and the linear
//! models written as differential equations so that the closed forms can be cross-checked
//! against an independent method.
//!
//! Solver: explicit Runge–Kutta Dormand–Prince 5(4) with local-extrapolation step control
//! (Dormand JR, Prince PJ. A family of embedded Runge-Kutta formulae. J Comput Appl Math
//! 1980;6:19-26; Hairer, Nørsett & Wanner, *Solving Ordinary Differential Equations I*, 2nd ed.,
//! section II.5). It is written here rather than taken from a solver crate because it is
//! about a hundred lines, compiles in no time, and its behaviour at dose events is ours to
//! control: integration restarts at every dose, infusion end and observation time, so the
//! right-hand side is smooth on each segment and a bolus given at an observation time is
//! included in that observation, exactly as in the closed forms.
//!
//! PK ODEs at clinical parameter values are not stiff; a stiff model would show up as a
//! [`PkError::Numerical`] (step budget exhausted), never as a silent wrong answer.

// Numeric kernels index several parallel arrays with one counter; iterator chains would
// hide that the indices are the same exponential or state.
#![allow(clippy::needless_range_loop)]

use crate::PkError;
use crate::linear::{LinearParams, RawDose};

/// Tolerances of the integrator. Defaults: relative 1e-10, absolute 1e-12 (in the state's
/// amount units), at most 10 million steps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OdeOptions {
    pub rtol: f64,
    pub atol: f64,
    pub max_steps: usize,
}

impl Default for OdeOptions {
    fn default() -> Self {
        OdeOptions {
            rtol: 1e-10,
            atol: 1e-12,
            max_steps: 10_000_000,
        }
    }
}

/// A model integrated numerically. States are amounts; the first state is the central
/// compartment; one extra state accumulates the AUC of the central concentration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OdeModel {
    /// A linear model (for cross-checking the closed forms).
    Linear(LinearParams),
    /// One compartment with saturable (Michaelis–Menten) elimination: dA/dt = R(t) −
    /// vmax·C/(km + C), C = A/v. `vmax` in amount/time, `km` in amount/volume, `v` in volume.
    MichaelisMenten { vmax: f64, km: f64, v: f64 },
}

impl OdeModel {
    fn n_states(&self) -> usize {
        match self {
            OdeModel::Linear(p) => p.compartments(),
            OdeModel::MichaelisMenten { .. } => 1,
        }
    }

    fn v1(&self) -> f64 {
        match self {
            OdeModel::Linear(p) => p.v1(),
            OdeModel::MichaelisMenten { v, .. } => *v,
        }
    }

    /// dy/dt for the amounts `y[..n]` and the AUC state `y[n]`, with input rate `rate` into
    /// the central compartment.
    fn rhs(&self, y: &[f64], rate: f64, dy: &mut [f64]) {
        match *self {
            OdeModel::Linear(LinearParams::One { cl, v }) => {
                dy[0] = rate - cl / v * y[0];
                dy[1] = y[0] / v;
            }
            OdeModel::Linear(LinearParams::Two { cl, v1, q, v2 }) => {
                let c1 = y[0] / v1;
                let c2 = y[1] / v2;
                dy[0] = rate - cl * c1 - q * (c1 - c2);
                dy[1] = q * (c1 - c2);
                dy[2] = c1;
            }
            OdeModel::Linear(LinearParams::Three {
                cl,
                v1,
                q2,
                v2,
                q3,
                v3,
            }) => {
                let c1 = y[0] / v1;
                let c2 = y[1] / v2;
                let c3 = y[2] / v3;
                dy[0] = rate - cl * c1 - q2 * (c1 - c2) - q3 * (c1 - c3);
                dy[1] = q2 * (c1 - c2);
                dy[2] = q3 * (c1 - c3);
                dy[3] = c1;
            }
            OdeModel::MichaelisMenten { vmax, km, v } => {
                let c = y[0] / v;
                dy[0] = rate - vmax * c / (km + c);
                dy[1] = c;
            }
        }
    }

    fn check(&self) -> Result<(), PkError> {
        match self {
            OdeModel::Linear(p) => crate::linear::Disposition::new(p).map(|_| ()),
            OdeModel::MichaelisMenten { vmax, km, v } => {
                for (name, value) in [("vmax", *vmax), ("km", *km), ("v", *v)] {
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
    }
}

/// Result of an ODE simulation at the requested times (in the order given).
#[derive(Clone, Debug, PartialEq)]
pub struct OdeSolution {
    pub concentrations: Vec<f64>,
    /// Cumulative AUC from the first event.
    pub auc: Vec<f64>,
    /// Accepted steps (for diagnostics).
    pub steps: usize,
}

/// Simulates `model` under `doses` and reports concentration and cumulative AUC at `times`.
pub fn simulate(
    model: &OdeModel,
    doses: &[RawDose],
    times: &[f64],
    opts: &OdeOptions,
) -> Result<OdeSolution, PkError> {
    model.check()?;
    let n = model.n_states();
    let mut breaks: Vec<f64> = Vec::with_capacity(2 * doses.len() + times.len());
    for d in doses {
        breaks.push(d.time);
        if d.duration > 0.0 {
            breaks.push(d.time + d.duration);
        }
    }
    breaks.extend_from_slice(times);
    if breaks.iter().any(|t| !t.is_finite()) {
        return Err(PkError::Numerical("times must be finite"));
    }
    breaks.sort_by(f64::total_cmp);
    breaks.dedup();

    let mut order: Vec<usize> = (0..times.len()).collect();
    order.sort_by(|&a, &b| times[a].total_cmp(&times[b]));
    let mut out = OdeSolution {
        concentrations: vec![0.0; times.len()],
        auc: vec![0.0; times.len()],
        steps: 0,
    };
    let mut y = vec![0.0; n + 1];
    let mut work = Work::new(n + 1);
    let mut h = f64::NAN;
    let mut next_obs = 0;
    let first_dose = doses.iter().map(|d| d.time).fold(f64::INFINITY, f64::min);
    let mut now = breaks.first().copied().unwrap_or(0.0);
    for &t in &breaks {
        if t > now {
            let rate: f64 = doses
                .iter()
                .filter(|d| d.duration > 0.0 && d.time <= now && now < d.time + d.duration)
                .map(|d| d.amount / d.duration)
                .sum();
            let f = |y: &[f64], dy: &mut [f64]| model.rhs(y, rate, dy);
            out.steps += integrate(f, now, t, &mut y, &mut h, opts, &mut work)?;
            now = t;
        }
        for d in doses.iter().filter(|d| d.duration == 0.0 && d.time == t) {
            y[0] += d.amount;
        }
        while next_obs < order.len() && times[order[next_obs]] <= t {
            let i = order[next_obs];
            if times[i] >= first_dose {
                out.concentrations[i] = y[0] / model.v1();
                out.auc[i] = y[n];
            }
            next_obs += 1;
        }
    }
    Ok(out)
}

struct Work {
    k: [Vec<f64>; 7],
    tmp: Vec<f64>,
    y5: Vec<f64>,
}

impl Work {
    fn new(n: usize) -> Self {
        Work {
            k: std::array::from_fn(|_| vec![0.0; n]),
            tmp: vec![0.0; n],
            y5: vec![0.0; n],
        }
    }
}

// Dormand–Prince 5(4) tableau (Dormand & Prince 1980, Table 2). The nodes c are not needed:
// on each segment between events the system is autonomous.
const A: [[f64; 6]; 7] = [
    [0.0; 6],
    [1.0 / 5.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    [3.0 / 40.0, 9.0 / 40.0, 0.0, 0.0, 0.0, 0.0],
    [44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0, 0.0, 0.0, 0.0],
    [
        19372.0 / 6561.0,
        -25360.0 / 2187.0,
        64448.0 / 6561.0,
        -212.0 / 729.0,
        0.0,
        0.0,
    ],
    [
        9017.0 / 3168.0,
        -355.0 / 33.0,
        46732.0 / 5247.0,
        49.0 / 176.0,
        -5103.0 / 18656.0,
        0.0,
    ],
    [
        35.0 / 384.0,
        0.0,
        500.0 / 1113.0,
        125.0 / 192.0,
        -2187.0 / 6784.0,
        11.0 / 84.0,
    ],
];
/// Fifth-order weights (the last row of A: the method is FSAL).
const B5: [f64; 7] = [
    35.0 / 384.0,
    0.0,
    500.0 / 1113.0,
    125.0 / 192.0,
    -2187.0 / 6784.0,
    11.0 / 84.0,
    0.0,
];
/// Embedded fourth-order weights.
const B4: [f64; 7] = [
    5179.0 / 57600.0,
    0.0,
    7571.0 / 16695.0,
    393.0 / 640.0,
    -92097.0 / 339200.0,
    187.0 / 2100.0,
    1.0 / 40.0,
];

/// Integrates the autonomous system `f` from `t0` to `t1`, updating `y` in place; `h` carries
/// the step size between calls. Returns the number of accepted steps.
fn integrate(
    f: impl Fn(&[f64], &mut [f64]),
    t0: f64,
    t1: f64,
    y: &mut [f64],
    h: &mut f64,
    opts: &OdeOptions,
    w: &mut Work,
) -> Result<usize, PkError> {
    let n = y.len();
    let span = t1 - t0;
    if !h.is_finite() || *h <= 0.0 {
        *h = span * 1e-3;
    }
    let mut t = t0;
    let mut accepted = 0;
    let mut tries = 0;
    while t < t1 {
        tries += 1;
        if tries > opts.max_steps {
            return Err(PkError::Numerical(
                "the ODE solver exhausted its step budget",
            ));
        }
        let last = t + *h >= t1;
        let step = if last { t1 - t } else { *h };
        f(y, &mut w.k[0]);
        for s in 1..7 {
            for i in 0..n {
                let mut acc = 0.0;
                for (j, a) in A[s].iter().enumerate().take(s) {
                    acc += a * w.k[j][i];
                }
                w.tmp[i] = y[i] + step * acc;
            }
            let (_, rest) = w.k.split_at_mut(s);
            f(&w.tmp, &mut rest[0]);
        }
        let mut err = 0.0f64;
        for i in 0..n {
            let mut s5 = 0.0;
            let mut s4 = 0.0;
            for j in 0..7 {
                s5 += B5[j] * w.k[j][i];
                s4 += B4[j] * w.k[j][i];
            }
            w.y5[i] = y[i] + step * s5;
            let scale = opts.atol + opts.rtol * y[i].abs().max(w.y5[i].abs());
            err = err.max((step * (s5 - s4)).abs() / scale);
        }
        if !err.is_finite() {
            return Err(PkError::Numerical("the ODE solution is not finite"));
        }
        if err <= 1.0 {
            y.copy_from_slice(&w.y5);
            t = if last { t1 } else { t + step };
            accepted += 1;
        }
        let factor = if err == 0.0 {
            5.0
        } else {
            (0.9 * err.powf(-0.2)).clamp(0.2, 5.0)
        };
        // Keep the unclipped step for the next segment when the last step was cut short.
        if !(last && err <= 1.0) {
            *h = step * factor;
        }
    }
    Ok(accepted)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test failing on unwrap is a failing test
mod tests {
    use super::*;

    #[test]
    fn exponential_decay_to_tight_tolerance() {
        // dA/dt = −0.3·A from A(0) = 100: A(t) = 100·e^(−0.3t).
        let model = OdeModel::Linear(LinearParams::One { cl: 3.0, v: 10.0 });
        let opts = OdeOptions {
            rtol: 1e-12,
            atol: 1e-14,
            ..OdeOptions::default()
        };
        let sol = simulate(
            &model,
            &[RawDose::bolus(0.0, 100.0)],
            &[1.0, 10.0, 40.0],
            &opts,
        )
        .unwrap();
        for (t, c) in [1.0f64, 10.0, 40.0].iter().zip(&sol.concentrations) {
            let exact = 10.0 * (-0.3 * t).exp();
            assert!((c / exact - 1.0).abs() < 1e-10, "t = {t}: {c} vs {exact}");
        }
        let exact_auc = 100.0 / 3.0 * (1.0 - (-0.3f64 * 40.0).exp());
        assert!((sol.auc[2] / exact_auc - 1.0).abs() < 1e-10);
    }

    #[test]
    fn michaelis_menten_bolus_satisfies_the_integrated_equation() {
        // For a bolus into one compartment with saturable elimination, the exact solution
        // satisfies V·(C0 − C) + Km·V·ln(C0/C) = Vmax·t (Wagner JG, J Pharmacokinet Biopharm
        // 1973;1:103).
        let (vmax, km, v) = (50.0, 5.0, 20.0);
        let model = OdeModel::MichaelisMenten { vmax, km, v };
        let opts = OdeOptions {
            rtol: 1e-12,
            atol: 1e-14,
            ..OdeOptions::default()
        };
        let times = [0.5, 2.0, 6.0, 12.0];
        let sol = simulate(&model, &[RawDose::bolus(0.0, 1000.0)], &times, &opts).unwrap();
        let c0 = 1000.0 / v;
        for (t, c) in times.iter().zip(&sol.concentrations) {
            let lhs = v * (c0 - c) + km * v * (c0 / c).ln();
            assert!(
                (lhs / (vmax * t) - 1.0).abs() < 1e-9,
                "t = {t}: {lhs} vs {}",
                vmax * t
            );
        }
    }

    #[test]
    fn michaelis_menten_far_below_km_is_linear() {
        let model = OdeModel::MichaelisMenten {
            vmax: 4.0e6,
            km: 1.0e6,
            v: 50.0,
        };
        let lin = crate::linear::Disposition::new(&LinearParams::One { cl: 4.0, v: 50.0 }).unwrap();
        let doses = [RawDose::infusion(0.0, 1000.0, 1.0)];
        let times = [0.5, 1.0, 8.0];
        let sol = simulate(&model, &doses, &times, &OdeOptions::default()).unwrap();
        let mut c = [0.0; 3];
        lin.simulate(&doses, &times, &mut c, None).unwrap();
        for (a, b) in sol.concentrations.iter().zip(&c) {
            // Saturation at C ≈ 20 mg/L against Km = 10⁶ mg/L changes CL by ~2e-5 relative.
            assert!((a / b - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn bad_michaelis_menten_parameters_are_refused() {
        let model = OdeModel::MichaelisMenten {
            vmax: -1.0,
            km: 1.0,
            v: 1.0,
        };
        assert!(simulate(&model, &[], &[1.0], &OdeOptions::default()).is_err());
    }
}
