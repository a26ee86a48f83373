//! Re-planning moves as few appointments as it can and keeps the plan valid.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use infusio_sched::generate::{GenerateOptions, generate};
use infusio_sched::model::{Appointment, Clock, Needs};
use infusio_sched::{Change, SolveOptions, check, replan, solve};

fn base() -> (infusio_sched::Instance, infusio_sched::Plan) {
    let inst = generate(&GenerateOptions::new(20, 5, 40, 11));
    let sol = solve(
        &inst,
        SolveOptions {
            seed: 1,
            iterations: 300,
            ..SolveOptions::default()
        },
    )
    .unwrap();
    assert!(check(&inst, &sol.plan).is_empty());
    (inst, sol.plan)
}

#[test]
fn a_cancellation_moves_nobody() {
    let (inst, plan) = base();
    let victim = inst.appointments[plan.assignments[3].appointment]
        .id
        .clone();
    let r = replan(&inst, &plan, &[Change::Cancel(victim.clone())], None, 1).unwrap();
    assert!(r.moved.is_empty(), "{:?}", r.moved);
    assert!(check(&r.instance, &r.plan).is_empty());
    assert_eq!(r.instance.appointments.len(), inst.appointments.len() - 1);
    assert!(!r.instance.appointments.iter().any(|a| a.id == victim));
}

#[test]
fn a_delay_moves_the_delayed_patient_and_few_others() {
    let (inst, plan) = base();
    let first = plan.assignments[0];
    let id = inst.appointments[first.appointment].id.clone();
    let new_ready = Clock::from_minutes(first.start.minutes() + 90);
    let r = replan(
        &inst,
        &plan,
        &[Change::Delay {
            appointment: id.clone(),
            ready: new_ready,
        }],
        None,
        1,
    )
    .unwrap();
    assert!(check(&r.instance, &r.plan).is_empty());
    assert!(r.moved.contains(&id));
    let moved_start = r
        .plan
        .assignments
        .iter()
        .find(|a| r.instance.appointments[a.appointment].id == id);
    if let Some(a) = moved_start {
        assert!(a.start >= new_ready);
    }
    assert!(r.moved.len() <= 2, "{:?}", r.moved);
}

#[test]
fn an_add_on_fits_without_moving_started_treatments() {
    let (inst, plan) = base();
    let now = Clock::from_minutes(10 * 60);
    let add = Appointment {
        id: "ADD-1".into(),
        duration_minutes: 60,
        setup_minutes: 10,
        takedown_minutes: 5,
        ready: Clock::from_minutes(10 * 60 + 3),
        needs: Needs::Any,
        therapy: None,
    };
    let r = replan(&inst, &plan, &[Change::AddOn(add)], Some(now), 2).unwrap();
    assert!(check(&r.instance, &r.plan).is_empty());
    let placed = r
        .plan
        .assignments
        .iter()
        .find(|a| r.instance.appointments[a.appointment].id == "ADD-1");
    let placed = placed.expect("a one-hour add-on fits in a 20-place centre");
    assert!(placed.start >= Clock::from_minutes(10 * 60 + 5));
    // Nothing that started before 10:00 moved.
    for a in &plan.assignments {
        if a.start < now {
            let id = &inst.appointments[a.appointment].id;
            assert!(!r.moved.contains(id), "{id} started before now and moved");
        }
    }
    assert!(r.moved.len() <= 1);
}

#[test]
fn unknown_ids_in_changes_are_errors() {
    let (inst, plan) = base();
    let e = replan(&inst, &plan, &[Change::Cancel("nope".into())], None, 1).unwrap_err();
    assert_eq!(e.field, "changes[0].cancel");
}
