//! The closed forms against an independent numerical integration of the same ODEs.
//!
//! Random models (1, 2 and 3 compartments), random dosing histories (boluses and infusions,
//! overlapping or not) and random observation times, deliberately including times at dose
//! starts (a bolus given then is included), inside infusions and at infusion ends. The
//! acceptance criterion of the issue: relative error ≤ 1e-9, or absolute error ≤ 1e-9 × the
//! largest concentration of the case where the concentration is near zero.
//!
//! Cases: 1,000 by default; `PROPTEST_CASES=10000` runs more (the release-mode run of the
//! closing note).

#![allow(clippy::unwrap_used)] // a test failing on unwrap is a failing test

use infusio_pk::linear::{Disposition, LinearParams, RawDose};
use infusio_pk::ode::{self, OdeModel, OdeOptions};
use proptest::prelude::*;

const TOLERANCE: f64 = 1e-9;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
}

fn params() -> impl Strategy<Value = LinearParams> {
    let one = (0.2f64..20.0, 5.0f64..150.0).prop_map(|(cl, v)| LinearParams::One { cl, v });
    let two = (0.2f64..20.0, 5.0f64..100.0, 0.2f64..30.0, 5.0f64..200.0)
        .prop_map(|(cl, v1, q, v2)| LinearParams::Two { cl, v1, q, v2 });
    let three = (
        0.2f64..20.0,
        5.0f64..100.0,
        0.2f64..30.0,
        5.0f64..200.0,
        0.05f64..10.0,
        10.0f64..400.0,
    )
        .prop_map(|(cl, v1, q2, v2, q3, v3)| LinearParams::Three {
            cl,
            v1,
            q2,
            v2,
            q3,
            v3,
        });
    prop_oneof![one, two, three]
}

fn dose() -> impl Strategy<Value = RawDose> {
    (
        0.0f64..72.0,
        1.0f64..2000.0,
        prop_oneof![Just(0.0), 0.05f64..4.0],
    )
        .prop_map(|(time, amount, duration)| RawDose {
            time,
            amount,
            duration,
        })
}

/// Observation times: random ones plus every dose start, a time inside each infusion and
/// every infusion end.
fn case() -> impl Strategy<Value = (LinearParams, Vec<RawDose>, Vec<f64>)> {
    (
        params(),
        prop::collection::vec(dose(), 1..7),
        prop::collection::vec(0.0f64..96.0, 1..12),
        0.0f64..1.0,
    )
        .prop_map(|(p, doses, mut times, frac)| {
            for d in &doses {
                times.push(d.time);
                if d.duration > 0.0 {
                    times.push(d.time + frac * d.duration);
                    times.push(d.time + d.duration);
                }
            }
            (p, doses, times)
        })
}

fn check(p: &LinearParams, doses: &[RawDose], times: &[f64]) -> Result<(), TestCaseError> {
    let d = Disposition::new(p).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut conc = vec![0.0; times.len()];
    let mut auc = vec![0.0; times.len()];
    d.simulate(doses, times, &mut conc, Some(&mut auc))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let total: f64 = doses.iter().map(|x| x.amount).sum();
    let opts = OdeOptions {
        rtol: 1e-13,
        atol: 1e-15 * total,
        max_steps: 5_000_000,
    };
    let reference = ode::simulate(&OdeModel::Linear(*p), doses, times, &opts)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let cmax = reference.concentrations.iter().cloned().fold(0.0, f64::max);
    let auc_max = reference.auc.iter().cloned().fold(0.0, f64::max);
    for i in 0..times.len() {
        let (c, r) = (conc[i], reference.concentrations[i]);
        let ok = (c - r).abs() <= TOLERANCE * r.abs() || (c - r).abs() <= TOLERANCE * cmax;
        prop_assert!(
            ok,
            "concentration at t = {}: closed form {c}, ODE {r} (Cmax {cmax}); {p:?} {doses:?}",
            times[i]
        );
        let (a, ra) = (auc[i], reference.auc[i]);
        let ok = (a - ra).abs() <= TOLERANCE * ra.abs() || (a - ra).abs() <= TOLERANCE * auc_max;
        prop_assert!(
            ok,
            "AUC to t = {}: closed form {a}, ODE {ra}; {p:?} {doses:?}",
            times[i]
        );
        // The second closed-form path (direct superposition) agrees too.
        let direct = d.concentration_at(doses, times[i]);
        prop_assert!(
            (direct - c).abs() <= 1e-12 * cmax.max(1e-300) + 1e-12 * c.abs(),
            "direct superposition {direct} vs marching {c}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn closed_forms_agree_with_numerical_integration((p, doses, times) in case()) {
        check(&p, &doses, &times)?;
    }
}

/// A hand-picked stiff-ish case: fast distribution, slow terminal phase, infusions that
/// overlap, and an observation exactly at a bolus given during an infusion.
#[test]
fn overlapping_infusions_and_a_bolus_during_an_infusion() {
    let p = LinearParams::Three {
        cl: 0.5,
        v1: 5.0,
        q2: 25.0,
        v2: 20.0,
        q3: 0.1,
        v3: 300.0,
    };
    let doses = [
        RawDose::infusion(0.0, 1000.0, 4.0),
        RawDose::infusion(2.0, 500.0, 1.0),
        RawDose::bolus(2.5, 250.0),
    ];
    let times = [0.0, 1.0, 2.0, 2.5, 3.0, 4.0, 10.0, 200.0];
    check(&p, &doses, &times).unwrap();
}
