//! Bayesian maximum a posteriori (MAP) estimation of a patient's parameters from drug levels.
//!
//! Objective (NONMEM-style −2 log posterior, constants omitted as NONMEM omits them):
//!
//! ```text
//! OFV(η) = Σⱼ [ (yⱼ − fⱼ(η))² / σⱼ² + ln σⱼ² ]  +  Σₖ ηₖ² / ωₖ²,   σⱼ² = add² + (prop · fⱼ(η))²
//! ```
//!
//! with fⱼ the closed-form prediction at the j-th level given every recorded dose (as it ran:
//! start, amount, duration), and log-normal inter-individual variability Pₖ = P_typical·e^ηₖ.
//! The ln σ² term belongs to the likelihood because the variance depends on the prediction
//! (the "INTERACTION" form).
//!
//! Minimiser: damped Newton on η/ω with finite-difference derivatives (central gradient,
//! forward-difference Hessian; Levenberg–Marquardt shift when the Hessian is not positive
//! definite; Armijo step halving). The posterior is smooth and, thanks to the prior, has a
//! positive-definite curvature even when a single level leaves a direction flat, so Newton
//! converges in a handful of iterations (about ten evaluations each for three η): tens of
//! microseconds. Should it stall, Nelder–Mead (Nelder JA, Mead R. Comput J 1965;7:308-313),
//! restarted once from its optimum, takes over.

use crate::PkError;
use crate::linear::{Disposition, LinearParams, RawDose, Schedule, Simulator};
use crate::population::{Covariates, PopulationModel};

/// Result of a MAP fit. Concentrations in mg/L, times in h, parameters in L and L/h.
#[derive(Clone, Debug, PartialEq)]
pub struct MapFit {
    /// Typical parameters for the covariates (η = 0).
    pub typical: LinearParams,
    /// Individual (MAP) parameters.
    pub individual: LinearParams,
    /// η of each parameter with variability, in the model's order.
    pub etas: Vec<f64>,
    /// Individual predictions at the levels' times.
    pub predictions: Vec<f64>,
    /// Population (η = 0) predictions at the levels' times.
    pub population_predictions: Vec<f64>,
    /// −2 log posterior at the optimum (NONMEM convention, constants omitted).
    pub objective: f64,
    /// Objective evaluations used.
    pub evaluations: usize,
    /// Whether the simplex met the tolerance (otherwise the evaluation budget ran out).
    pub converged: bool,
}

/// One measured level in consistent units with the doses (h, mg/L).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Level {
    pub time_h: f64,
    pub concentration_mg_per_l: f64,
}

/// Fits the individual parameters. Refuses levels that are not finite or negative, and an
/// empty list of levels (with no level the answer is the prior: use the typical values).
pub fn fit(
    model: &PopulationModel,
    cov: &Covariates,
    doses: &[RawDose],
    levels: &[Level],
) -> Result<MapFit, PkError> {
    if levels.is_empty() {
        return Err(PkError::Regimen(
            "at least one level is needed for a Bayesian fit",
        ));
    }
    for l in levels {
        if !l.time_h.is_finite() {
            return Err(PkError::Time { value: l.time_h });
        }
        if !(l.concentration_mg_per_l.is_finite() && l.concentration_mg_per_l >= 0.0) {
            return Err(PkError::Numerical(
                "a level must be a finite concentration, zero or more",
            ));
        }
    }
    let typical = model.typical(cov)?;
    // Fail early, with the reason, if the typical parameters or the doses are invalid.
    let d0 = Disposition::new(&typical)?;
    let times: Vec<f64> = levels.iter().map(|l| l.time_h).collect();
    let mut population_predictions = vec![0.0; levels.len()];
    d0.simulate(doses, &times, &mut population_predictions, None)?;

    let omega2: Vec<f64> = model.omega2().collect();
    let schedule = Schedule::new(doses)?;
    let mut sim = Simulator::default();
    let mut pred = vec![0.0; levels.len()];
    let omega: Vec<f64> = omega2.iter().map(|w| w.sqrt()).collect();
    let mut eta = vec![0.0; omega.len()];
    // The optimiser works on z = η / ω, in which the prior is Σ z² and every direction has
    // the same scale.
    let mut objective = |z: &[f64]| -> f64 {
        for ((e, z), w) in eta.iter_mut().zip(z).zip(&omega) {
            *e = z * w;
        }
        let p = model.individual(&typical, &eta);
        let Ok(d) = Disposition::new(&p) else {
            return f64::INFINITY;
        };
        if sim
            .run_schedule(&d, &schedule, &times, &mut pred, None)
            .is_err()
        {
            return f64::INFINITY;
        }
        let mut ofv = 0.0;
        for (l, f) in levels.iter().zip(&pred) {
            let var = model.residual.variance(*f);
            let r = l.concentration_mg_per_l - f;
            ofv += r * r / var + var.ln();
        }
        for z in z {
            ofv += z * z;
        }
        if ofv.is_finite() { ofv } else { f64::INFINITY }
    };

    let start = vec![0.0; omega.len()];
    let mut best = newton(&mut objective, &start, 1e-4, 100);
    if !best.converged {
        // Newton can stall where the posterior is far from quadratic; the simplex is slower
        // but needs no curvature.
        let ones = vec![1.0; omega.len()];
        let first = nelder_mead(&mut objective, &best.x, &ones, 1e-10, 4000);
        let tenth = vec![0.1; omega.len()];
        let mut second = nelder_mead(&mut objective, &first.x, &tenth, 1e-12, 4000);
        second.evaluations += first.evaluations + best.evaluations;
        best = second;
    }
    best.x.iter_mut().zip(&omega).for_each(|(z, w)| *z *= w);
    let individual = model.individual(&typical, &best.x);
    let d = Disposition::new(&individual)?;
    let mut predictions = vec![0.0; levels.len()];
    d.simulate(doses, &times, &mut predictions, None)?;
    Ok(MapFit {
        typical,
        individual,
        etas: best.x,
        predictions,
        population_predictions,
        objective: best.f,
        evaluations: best.evaluations,
        converged: best.converged,
    })
}

/// Damped Newton minimisation with finite-difference derivatives (step `h`): see the module
/// documentation. Converges when the Newton decrement gᵀH⁻¹g falls below 1e-12.
pub fn newton(
    f: &mut impl FnMut(&[f64]) -> f64,
    x0: &[f64],
    h: f64,
    max_iterations: usize,
) -> Minimum {
    let n = x0.len();
    let mut x = x0.to_vec();
    let mut fx = f(&x);
    let mut evaluations = 1;
    let mut g = vec![0.0; n];
    let mut hess = vec![0.0; n * n];
    let mut fp = vec![0.0; n];
    let mut xt = vec![0.0; n];
    let mut converged = false;
    for _ in 0..max_iterations {
        if !fx.is_finite() {
            break;
        }
        for i in 0..n {
            xt.copy_from_slice(&x);
            xt[i] = x[i] + h;
            fp[i] = f(&xt);
            xt[i] = x[i] - h;
            let fm = f(&xt);
            g[i] = (fp[i] - fm) / (2.0 * h);
            hess[i * n + i] = (fp[i] - 2.0 * fx + fm) / (h * h);
        }
        for i in 0..n {
            for j in i + 1..n {
                xt.copy_from_slice(&x);
                xt[i] += h;
                xt[j] += h;
                let hij = (f(&xt) - fp[i] - fp[j] + fx) / (h * h);
                hess[i * n + j] = hij;
                hess[j * n + i] = hij;
            }
        }
        evaluations += 2 * n + n * (n - 1) / 2;
        if g.iter().chain(&hess).any(|v| !v.is_finite()) {
            break;
        }
        let max_diag = (0..n).map(|i| hess[i * n + i].abs()).fold(0.0, f64::max);
        let mut shift = 0.0;
        let p = loop {
            if let Some(p) = cholesky_solve(&hess, shift, &g, n) {
                break Some(p);
            }
            shift = if shift == 0.0 {
                1e-6 * (1.0 + max_diag)
            } else {
                shift * 10.0
            };
            if shift > 1e12 * (1.0 + max_diag) {
                break None;
            }
        };
        let Some(p) = p else { break };
        // p solves (H + shift·I)·p = −g, so −gᵀp is the predicted decrease (≥ 0).
        let decrement: f64 = -g.iter().zip(&p).map(|(a, b)| a * b).sum::<f64>();
        if decrement < 1e-12 {
            converged = true;
            break;
        }
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..40 {
            for i in 0..n {
                xt[i] = x[i] + t * p[i];
            }
            let ft = f(&xt);
            evaluations += 1;
            if ft.is_finite() && ft <= fx - 1e-4 * t * decrement {
                x.copy_from_slice(&xt);
                fx = ft;
                accepted = true;
                break;
            }
            t *= 0.5;
        }
        if !accepted {
            // No decrease along a descent direction: at the optimum to rounding.
            converged = decrement < 1e-8;
            break;
        }
    }
    Minimum {
        x,
        f: fx,
        evaluations,
        converged,
    }
}

/// Solves (A + shift·I)·x = −b by Cholesky; `None` when the matrix is not positive definite.
fn cholesky_solve(a: &[f64], shift: f64, b: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut sum = a[i * n + j] + if i == j { shift } else { 0.0 };
            for k in 0..j {
                sum -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if sum.is_nan() || sum <= 0.0 {
                    return None;
                }
                l[i * n + i] = sum.sqrt();
            } else {
                l[i * n + j] = sum / l[j * n + j];
            }
        }
    }
    let mut y = vec![0.0; n];
    for i in 0..n {
        let mut sum = -b[i];
        for k in 0..i {
            sum -= l[i * n + k] * y[k];
        }
        y[i] = sum / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let mut sum = y[i];
        for k in i + 1..n {
            sum -= l[k * n + i] * x[k];
        }
        x[i] = sum / l[i * n + i];
    }
    Some(x)
}

/// A minimum found by [`newton`] or [`nelder_mead`].
#[derive(Clone, Debug, PartialEq)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub f: f64,
    pub evaluations: usize,
    pub converged: bool,
}

/// Nelder–Mead simplex minimisation (reflection 1, expansion 2, contraction ½, shrink ½).
/// `scale` gives the initial simplex's edge along each axis; converges when the spread of
/// the objective over the simplex is below `ftol` (absolute) and its edges below 1e-7.
pub fn nelder_mead(
    f: &mut impl FnMut(&[f64]) -> f64,
    x0: &[f64],
    scale: &[f64],
    ftol: f64,
    max_evaluations: usize,
) -> Minimum {
    let n = x0.len();
    let mut pts: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
    pts.push(x0.to_vec());
    for i in 0..n {
        let mut p = x0.to_vec();
        p[i] += scale[i];
        pts.push(p);
    }
    let mut vals: Vec<f64> = pts.iter().map(|p| f(p)).collect();
    let mut evaluations = n + 1;
    let mut centroid = vec![0.0; n];
    let mut trial = vec![0.0; n];
    let mut trial2 = vec![0.0; n];
    let mut converged = false;
    while evaluations < max_evaluations {
        // Order: best first.
        let mut idx: Vec<usize> = (0..=n).collect();
        idx.sort_by(|&a, &b| vals[a].total_cmp(&vals[b]));
        pts = idx.iter().map(|&i| pts[i].clone()).collect();
        vals = idx.iter().map(|&i| vals[i]).collect();
        let spread = vals[n] - vals[0];
        let size = pts[1..]
            .iter()
            .flat_map(|p| p.iter().zip(&pts[0]).map(|(a, b)| (a - b).abs()))
            .fold(0.0, f64::max);
        if spread.is_finite() && spread <= ftol && size <= 1e-7 {
            converged = true;
            break;
        }
        centroid.iter_mut().for_each(|c| *c = 0.0);
        for p in &pts[..n] {
            for (c, v) in centroid.iter_mut().zip(p) {
                *c += v / n as f64;
            }
        }
        let worst = pts[n].clone();
        for i in 0..n {
            trial[i] = centroid[i] + (centroid[i] - worst[i]);
        }
        let fr = f(&trial);
        evaluations += 1;
        if fr < vals[0] {
            for i in 0..n {
                trial2[i] = centroid[i] + 2.0 * (centroid[i] - worst[i]);
            }
            let fe = f(&trial2);
            evaluations += 1;
            if fe < fr {
                pts[n].copy_from_slice(&trial2);
                vals[n] = fe;
            } else {
                pts[n].copy_from_slice(&trial);
                vals[n] = fr;
            }
        } else if fr < vals[n - 1] {
            pts[n].copy_from_slice(&trial);
            vals[n] = fr;
        } else {
            // Contract towards the better of the worst point and its reflection.
            let outside = fr < vals[n];
            for i in 0..n {
                trial2[i] = if outside {
                    centroid[i] + 0.5 * (trial[i] - centroid[i])
                } else {
                    centroid[i] + 0.5 * (worst[i] - centroid[i])
                };
            }
            let fc = f(&trial2);
            evaluations += 1;
            if fc < vals[n].min(fr) {
                pts[n].copy_from_slice(&trial2);
                vals[n] = fc;
            } else {
                let best = pts[0].clone();
                for k in 1..=n {
                    for i in 0..n {
                        pts[k][i] = best[i] + 0.5 * (pts[k][i] - best[i]);
                    }
                    vals[k] = f(&pts[k]);
                }
                evaluations += n;
            }
        }
    }
    let (bi, _) =
        vals.iter().enumerate().fold(
            (0, f64::INFINITY),
            |acc, (i, v)| if *v < acc.1 { (i, *v) } else { acc },
        );
    Minimum {
        x: pts[bi].clone(),
        f: vals[bi],
        evaluations,
        converged,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test failing on unwrap is a failing test
mod tests {
    use super::*;
    use crate::population::GOTI_2018;
    use infusio_core::units::{BodyWeight, Clearance};

    fn cov() -> Covariates {
        Covariates {
            weight: BodyWeight::new(80.0),
            crcl: Clearance::new(85.0),
            dialysis: false,
        }
    }

    fn q12h(n: usize) -> Vec<RawDose> {
        (0..n)
            .map(|k| RawDose::infusion(12.0 * k as f64, 1000.0, 1.0))
            .collect()
    }

    /// The objective written out independently of [`fit`], for checking optimality.
    fn ofv(eta: &[f64], doses: &[RawDose], levels: &[Level]) -> f64 {
        let t = GOTI_2018.typical(&cov()).unwrap();
        let p = GOTI_2018.individual(&t, eta);
        let d = Disposition::new(&p).unwrap();
        let mut s = 0.0;
        for l in levels {
            let f = d.concentration_at(doses, l.time_h);
            let var = 3.4f64.powi(2) + (0.227 * f).powi(2);
            s += (l.concentration_mg_per_l - f).powi(2) / var + var.ln();
        }
        s + eta[0] * eta[0] / 0.147 + eta[1] * eta[1] / 0.510 + eta[2] * eta[2] / 0.282
    }

    #[test]
    fn newton_finds_the_rosenbrock_minimum() {
        let mut f = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let m = newton(&mut f, &[-1.2, 1.0], 1e-5, 200);
        assert!(m.converged);
        assert!(
            (m.x[0] - 1.0).abs() < 1e-5 && (m.x[1] - 1.0).abs() < 1e-5,
            "{:?}",
            m.x
        );
    }

    #[test]
    fn nelder_mead_finds_the_rosenbrock_minimum() {
        let mut f = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let m = nelder_mead(&mut f, &[-1.2, 1.0], &[0.5, 0.5], 1e-14, 10_000);
        assert!(m.converged);
        assert!(
            (m.x[0] - 1.0).abs() < 1e-4 && (m.x[1] - 1.0).abs() < 1e-4,
            "{:?}",
            m.x
        );
    }

    #[test]
    fn the_map_optimum_is_stationary_and_beats_every_nearby_point() {
        let doses = q12h(4);
        for levels in [
            vec![Level {
                time_h: 47.5,
                concentration_mg_per_l: 14.2,
            }],
            vec![
                Level {
                    time_h: 38.0,
                    concentration_mg_per_l: 31.0,
                },
                Level {
                    time_h: 47.5,
                    concentration_mg_per_l: 14.2,
                },
            ],
            // A level drawn during the infusion.
            vec![Level {
                time_h: 36.5,
                concentration_mg_per_l: 25.0,
            }],
        ] {
            let fit = fit(&GOTI_2018, &cov(), &doses, &levels).unwrap();
            assert!(fit.converged);
            let f0 = ofv(&fit.etas, &doses, &levels);
            assert!(
                (f0 - fit.objective).abs() < 1e-9 * f0.abs().max(1.0),
                "{f0} vs {}",
                fit.objective
            );
            // Central-difference gradient ≈ 0.
            for k in 0..3 {
                let h = 1e-5;
                let mut up = fit.etas.clone();
                let mut down = fit.etas.clone();
                up[k] += h;
                down[k] -= h;
                let g = (ofv(&up, &doses, &levels) - ofv(&down, &doses, &levels)) / (2.0 * h);
                assert!(g.abs() < 1e-3, "gradient {k} = {g}");
            }
            // No point on a ring around the optimum is better.
            for i in 0..200 {
                let a = i as f64 * 0.7;
                let e = [
                    fit.etas[0] + 0.01 * a.cos(),
                    fit.etas[1] + 0.01 * a.sin(),
                    fit.etas[2] + 0.01 * (1.3 * a).cos(),
                ];
                assert!(ofv(&e, &doses, &levels) >= fit.objective - 1e-9);
            }
        }
    }

    #[test]
    fn newton_and_the_simplex_agree_on_the_optimum() {
        let doses = q12h(4);
        let levels = [
            Level {
                time_h: 13.0,
                concentration_mg_per_l: 24.0,
            },
            Level {
                time_h: 47.5,
                concentration_mg_per_l: 14.2,
            },
        ];
        let fitted = fit(&GOTI_2018, &cov(), &doses, &levels).unwrap();
        let mut f = |e: &[f64]| ofv(e, &doses, &levels);
        let first = nelder_mead(&mut f, &[0.0; 3], &[0.4, 0.7, 0.5], 1e-12, 20_000);
        let simplex = nelder_mead(&mut f, &first.x, &[0.04, 0.07, 0.05], 1e-13, 20_000);
        assert!(
            (simplex.f - fitted.objective).abs() < 1e-8,
            "{} vs {}",
            simplex.f,
            fitted.objective
        );
        for (a, b) in simplex.x.iter().zip(&fitted.etas) {
            assert!((a - b).abs() < 1e-4, "{:?} vs {:?}", simplex.x, fitted.etas);
        }
    }

    #[test]
    fn a_high_trough_lowers_the_clearance_estimate() {
        let doses = q12h(4);
        let low = fit(
            &GOTI_2018,
            &cov(),
            &doses,
            &[Level {
                time_h: 47.5,
                concentration_mg_per_l: 8.0,
            }],
        )
        .unwrap();
        let high = fit(
            &GOTI_2018,
            &cov(),
            &doses,
            &[Level {
                time_h: 47.5,
                concentration_mg_per_l: 25.0,
            }],
        )
        .unwrap();
        assert!(high.individual.cl() < low.individual.cl());
        assert!(high.predictions[0] > low.predictions[0]);
    }

    #[test]
    fn no_level_is_refused() {
        assert!(fit(&GOTI_2018, &cov(), &q12h(2), &[]).is_err());
        assert!(
            fit(
                &GOTI_2018,
                &cov(),
                &q12h(2),
                &[Level {
                    time_h: f64::NAN,
                    concentration_mg_per_l: 1.0
                }]
            )
            .is_err()
        );
    }
}
