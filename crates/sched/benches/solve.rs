//! Solve time for generated days of 30, 100 and 300 appointments (default iteration limit).
//!
//! Before timing, prints for each size and seed the objective, the lower bound, the gap
//! and one solve's wall time, so `cargo bench -p infusio-sched --bench solve` yields the
//! numbers of the closing note.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group};
use infusio_sched::generate::{GenerateOptions, generate};
use infusio_sched::{SolveOptions, check, lower_bound, solve};

/// (places, nurses, appointments): a 10-chair clinic, a mid-size unit, a 160-chair centre.
const SIZES: [(usize, usize, usize); 3] = [(10, 4, 30), (50, 13, 100), (160, 40, 300)];
const SEEDS: [u64; 3] = [1, 2, 3];

fn report() {
    println!(
        "size (places/nurses/appointments) | seed | objective (unscheduled, overtime min, wait min) | lower bound | gap | constructed | time"
    );
    for (chairs, nurses, appts) in SIZES {
        for seed in SEEDS {
            let inst = generate(&GenerateOptions::new(chairs, nurses, appts, seed));
            let t = Instant::now();
            let sol = match solve(
                &inst,
                SolveOptions {
                    seed,
                    ..SolveOptions::default()
                },
            ) {
                Ok(s) => s,
                Err(e) => {
                    println!("{chairs}/{nurses}/{appts} seed {seed}: invalid instance: {e}");
                    continue;
                }
            };
            let elapsed = t.elapsed();
            let valid = check(&inst, &sol.plan).is_empty();
            let lb = lower_bound(&inst).total;
            let o = sol.objective;
            let gap = if o.total == 0 {
                0.0
            } else {
                (o.total - lb) as f64 / o.total as f64 * 100.0
            };
            println!(
                "{chairs}/{nurses}/{appts} | {seed} | {} ({}, {}, {}) | {lb} | {gap:.1}% | {} | {:.2} s{}",
                o.total,
                o.unscheduled,
                o.overtime_minutes,
                o.wait_minutes,
                sol.constructed.total,
                elapsed.as_secs_f64(),
                if valid { "" } else { " INVALID PLAN" }
            );
        }
    }
}

fn bench_solve(c: &mut Criterion) {
    let mut group = c.benchmark_group("solve");
    group.sample_size(10);
    for (chairs, nurses, appts) in SIZES {
        let inst = generate(&GenerateOptions::new(chairs, nurses, appts, 1));
        group.bench_function(
            format!("{appts}_appointments_{chairs}_places_{nurses}_nurses"),
            |b| {
                b.iter(|| {
                    solve(
                        black_box(&inst),
                        SolveOptions {
                            seed: 1,
                            ..SolveOptions::default()
                        },
                    )
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_solve);

fn main() {
    report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
