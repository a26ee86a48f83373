//! Benchmarks of the PK issue, single thread:
//! (a) 2-compartment IV infusion, 10,000 subjects × 5 doses (1000 mg over 1 h q12h) × 50
//!     observations over 0.5–60 h;
//! (b) MAP fit of Goti 2018 with 1, 2 and 4 levels;
//! (c) PTA, 10,000 virtual patients × 100 regimens.
//!
//! Run: `cargo bench -p infusio-pk --bench pk -- --sample-size 10 --warm-up-time 1 --measurement-time 5`

#![allow(clippy::unwrap_used)] // a benchmark failing on unwrap is a failing benchmark

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use infusio_core::units::{BodyWeight, Clearance};
use infusio_pk::linear::{Disposition, LinearParams, RawDose, Schedule, Simulator};
use infusio_pk::map::{self, Level};
use infusio_pk::population::{Covariates, GOTI_2018};
use infusio_pk::pta::{self, CovariateModel, Distribution, Rng};
use infusio_pk::regimen::{Regimen, Target};

fn population_simulation(c: &mut Criterion) {
    let mut rng = Rng::seed(42);
    let subjects: Vec<LinearParams> = (0..10_000)
        .map(|_| LinearParams::Two {
            cl: 4.0 * (0.3 * rng.normal()).exp(),
            v1: 50.0 * (0.3 * rng.normal()).exp(),
            q: 6.0 * (0.3 * rng.normal()).exp(),
            v2: 40.0 * (0.3 * rng.normal()).exp(),
        })
        .collect();
    let doses: Vec<RawDose> = (0..5)
        .map(|k| RawDose::infusion(12.0 * k as f64, 1000.0, 1.0))
        .collect();
    let times: Vec<f64> = (0..50).map(|i| 0.5 + 59.5 * i as f64 / 49.0).collect();
    // The doses are shared by every subject: their timeline is built once.
    let schedule = Schedule::new(&doses).unwrap();
    let mut sim = Simulator::default();
    let mut out = vec![0.0; times.len()];
    c.bench_function("a_2cmt_10000_subjects_x5_doses_x50_obs", |b| {
        b.iter(|| {
            let mut total = 0.0;
            for p in &subjects {
                let d = Disposition::new(p).unwrap();
                sim.run_schedule(&d, &schedule, &times, &mut out, None)
                    .unwrap();
                total += out[49];
            }
            black_box(total)
        })
    });
}

fn map_fit(c: &mut Criterion) {
    let cov = Covariates {
        weight: BodyWeight::new(80.0),
        crcl: Clearance::new(85.0),
        dialysis: false,
    };
    let doses: Vec<RawDose> = (0..4)
        .map(|k| RawDose::infusion(12.0 * k as f64, 1000.0, 1.0))
        .collect();
    let all = [
        Level {
            time_h: 47.5,
            concentration_mg_per_l: 14.2,
        },
        Level {
            time_h: 37.5,
            concentration_mg_per_l: 32.0,
        },
        Level {
            time_h: 13.0,
            concentration_mg_per_l: 24.0,
        },
        Level {
            time_h: 23.5,
            concentration_mg_per_l: 9.5,
        },
    ];
    let mut group = c.benchmark_group("b_map_fit_goti_2018");
    for n in [1usize, 2, 4] {
        let levels = &all[..n];
        group.bench_function(format!("{n}_levels"), |b| {
            b.iter(|| black_box(map::fit(&GOTI_2018, &cov, &doses, levels).unwrap()))
        });
    }
    group.finish();
}

fn target_attainment(c: &mut Criterion) {
    let cov = CovariateModel {
        weight_kg: Distribution::Normal {
            mean: 80.0,
            sd: 15.0,
            min: 40.0,
            max: 150.0,
        },
        crcl_ml_per_min: Distribution::Normal {
            mean: 80.0,
            sd: 25.0,
            min: 10.0,
            max: 150.0,
        },
        dialysis: false,
    };
    let mut regimens = Vec::new();
    for interval in [8.0, 12.0, 24.0, 36.0] {
        for k in 1..=25 {
            let dose = 125.0 * k as f64;
            regimens.push(Regimen {
                dose_mg: dose,
                interval_h: interval,
                duration_h: (dose / 600.0).max(1.0).min(interval),
            });
        }
    }
    assert_eq!(regimens.len(), 100);
    let mut group = c.benchmark_group("c_pta");
    group.sample_size(10);
    group.bench_function("10000_patients_x100_regimens", |b| {
        b.iter(|| {
            black_box(
                pta::simulate(
                    &GOTI_2018,
                    &cov,
                    &regimens,
                    &Target::VANCOMYCIN_DEFAULT,
                    10_000,
                    1,
                    |_| {},
                )
                .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, population_simulation, map_fit, target_attainment);
criterion_main!(benches);
