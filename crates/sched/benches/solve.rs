//! Solve time for generated days of 30, 100 and 300 appointments (default iteration limit),
//! and re-planning time for a running 300-appointment day.
//!
//! Before timing, prints for each size and seed the objective, both lower bounds (the fast
//! combinatorial one and the LP one), the gap and one solve's wall time, then the time of
//! one re-plan (a late arrival, a cancellation and an add-on at 11:00), so
//! `cargo bench -p infusio-sched --bench solve` yields the numbers of the closing note.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group};
use infusio_sched::generate::{GenerateOptions, generate};
use infusio_sched::model::{Appointment, Clock, Needs};
use infusio_sched::strong_lower_bound;
use infusio_sched::{Change, Instance, Plan, SolveOptions, check, lower_bound, replan, solve};

/// (places, nurses, appointments): a 10-chair clinic, a mid-size unit, a 160-chair centre.
const SIZES: [(usize, usize, usize); 3] = [(10, 4, 30), (50, 13, 100), (160, 40, 300)];
const SEEDS: [u64; 3] = [1, 2, 3];

fn report() {
    println!(
        "size (places/nurses/appointments) | seed | objective (unscheduled, overtime min, wait min) | fast bound | LP bound (time) | gap | constructed | time"
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
            let fast = lower_bound(&inst).total;
            let t_lp = Instant::now();
            let lb = strong_lower_bound(&inst, None).total;
            let t_lp = t_lp.elapsed();
            let o = sol.objective;
            let gap = if o.total == 0 {
                0.0
            } else {
                (o.total - lb) as f64 / o.total as f64 * 100.0
            };
            println!(
                "{chairs}/{nurses}/{appts} | {seed} | {} ({}, {}, {}) | {fast} | {lb} ({:.2} s) | {gap:.1}% | {} | {:.2} s{}",
                o.total,
                o.unscheduled,
                o.overtime_minutes,
                o.wait_minutes,
                t_lp.as_secs_f64(),
                sol.constructed.total,
                elapsed.as_secs_f64(),
                if valid { "" } else { " INVALID PLAN" }
            );
        }
    }
}

/// A running 300-appointment day and the changes of 11:00: the first patient ready after
/// 11:00 arrives 45 minutes late, one later appointment is cancelled, one add-on arrives.
fn running_day() -> (Instance, Plan, Vec<Change>, Clock) {
    let inst = generate(&GenerateOptions::new(160, 40, 300, 1));
    let sol = solve(
        &inst,
        SolveOptions {
            seed: 1,
            iterations: 2_000,
            ..SolveOptions::default()
        },
    )
    .expect("generated instances are valid");
    let now = Clock::from_minutes(11 * 60);
    let mut later = sol
        .plan
        .assignments
        .iter()
        .filter(|a| a.start > now)
        .map(|a| inst.appointments[a.appointment].id.clone());
    let mut changes = Vec::new();
    if let Some(id) = later.next() {
        changes.push(Change::Delay {
            appointment: id,
            ready: Clock::from_minutes(11 * 60 + 45),
        });
    }
    if let Some(id) = later.next() {
        changes.push(Change::Cancel(id));
    }
    changes.push(Change::AddOn(Appointment {
        id: "ADD-ON".into(),
        duration_minutes: 120,
        setup_minutes: 15,
        takedown_minutes: 10,
        ready: now,
        needs: Needs::Any,
        therapy: None,
    }));
    (inst, sol.plan, changes, now)
}

fn report_replan() {
    let (inst, plan, changes, now) = running_day();
    let t = Instant::now();
    match replan(&inst, &plan, &changes, Some(now), 1) {
        Ok(r) => println!(
            "replan 160/40/300 at 11:00 ({} changes): {:.3} s, {} moved, objective {} -> {}, valid {}",
            changes.len(),
            t.elapsed().as_secs_f64(),
            r.moved.len(),
            infusio_sched::objective(&inst, &plan).total,
            r.objective.total,
            check(&r.instance, &r.plan).is_empty()
        ),
        Err(e) => println!("replan refused: {e}"),
    }
}

fn bench_replan(c: &mut Criterion) {
    let (inst, plan, changes, now) = running_day();
    c.bench_function("replan_300_appointments_at_11", |b| {
        b.iter(|| replan(black_box(&inst), &plan, &changes, Some(now), 1))
    });
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

criterion_group!(benches, bench_solve, bench_replan);

fn main() {
    report();
    report_replan();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
