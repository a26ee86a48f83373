//! The validator finds each broken rule, names the appointment, and accepts a valid plan.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use infusio_sched::check::{AssignmentById, resolve_plan};
use infusio_sched::model::{
    Appointment, Assignment, Chair, ChairKind, Clock, Instance, Needs, Nurse, Plan,
};
use infusio_sched::{check, objective};

fn hm(h: u32, m: u32) -> Clock {
    Clock::from_minutes(h * 60 + m)
}

fn appt(
    id: &str,
    duration: u32,
    setup: u32,
    takedown: u32,
    ready: Clock,
    needs: Needs,
) -> Appointment {
    Appointment {
        id: id.into(),
        duration_minutes: duration,
        setup_minutes: setup,
        takedown_minutes: takedown,
        ready,
        needs,
        therapy: None,
    }
}

/// Two places (a chair and a bed), two nurses, three appointments.
fn instance() -> Instance {
    Instance {
        open: hm(8, 0),
        close: hm(12, 0),
        chairs: vec![
            Chair {
                id: "C1".into(),
                kind: ChairKind::Chair,
            },
            Chair {
                id: "B1".into(),
                kind: ChairKind::Bed,
            },
        ],
        nurses: vec![
            Nurse {
                id: "N1".into(),
                start: hm(8, 0),
                end: hm(12, 0),
                max_patients: 1,
            },
            Nurse {
                id: "N2".into(),
                start: hm(8, 0),
                end: hm(13, 0),
                max_patients: 2,
            },
        ],
        appointments: vec![
            appt("A", 60, 15, 10, hm(8, 0), Needs::Any),
            appt("B", 120, 20, 10, hm(8, 10), Needs::Bed),
            appt("C", 30, 10, 5, hm(9, 0), Needs::Chair),
        ],
    }
}

fn asg(a: usize, chair: usize, nurse: usize, start: Clock) -> Assignment {
    Assignment {
        appointment: a,
        chair,
        nurse,
        start,
    }
}

fn codes(inst: &Instance, plan: &Plan) -> Vec<(Option<String>, &'static str)> {
    check(inst, plan)
        .into_iter()
        .map(|v| (v.appointment, v.code))
        .collect()
}

#[test]
fn a_valid_plan_has_no_violation_and_its_objective_by_part() {
    let inst = instance();
    // A 08:00–09:00 chair N1; B 08:15–10:15 bed N2; C 09:00–09:30 chair N2.
    let plan = Plan {
        assignments: vec![
            asg(0, 0, 0, hm(8, 0)),
            asg(1, 1, 1, hm(8, 15)),
            asg(2, 0, 1, hm(9, 0)),
        ],
        unscheduled: vec![],
    };
    assert_eq!(check(&inst, &plan), vec![]);
    let o = objective(&inst, &plan);
    // Waits: A 0, B 5 (ready 08:10, start 08:15), C 0; no overtime.
    assert_eq!(
        (o.total, o.unscheduled, o.overtime_minutes, o.wait_minutes),
        (5, 0, 0, 5)
    );
}

#[test]
fn each_rule_is_reported_with_its_appointment() {
    let inst = instance();
    let id = |s: &str| Some(s.to_string());
    // Off grid, before ready and before open.
    let plan = Plan {
        assignments: vec![asg(2, 0, 1, hm(8, 58))],
        unscheduled: vec![0, 1],
    };
    let c = codes(&inst, &plan);
    assert!(c.contains(&(id("C"), "start.off_grid")));
    assert!(c.contains(&(id("C"), "start.before_ready")));
    let early = Plan {
        assignments: vec![asg(0, 0, 1, hm(7, 55))],
        unscheduled: vec![1, 2],
    };
    assert!(codes(&inst, &early).contains(&(id("A"), "start.before_open")));
    // Kind: B needs a bed, C a chair.
    let plan = Plan {
        assignments: vec![asg(1, 0, 1, hm(8, 15)), asg(2, 1, 0, hm(9, 0))],
        unscheduled: vec![0],
    };
    let c = codes(&inst, &plan);
    assert!(c.contains(&(id("B"), "chair.kind")));
    assert!(c.contains(&(id("C"), "chair.kind")));
    // Chair overlap: A 08:00–09:00 and C from 08:55 would share C1 ([start, end) overlap) —
    // C at 09:00 touches A's end and is fine.
    let plan = Plan {
        assignments: vec![asg(0, 0, 0, hm(8, 0)), asg(2, 0, 1, hm(9, 0))],
        unscheduled: vec![1],
    };
    assert_eq!(codes(&inst, &plan), vec![]);
    let mut late_c = inst.clone();
    late_c.appointments[2].ready = hm(8, 0);
    let plan = Plan {
        assignments: vec![asg(0, 0, 0, hm(8, 0)), asg(2, 0, 1, hm(8, 55))],
        unscheduled: vec![1],
    };
    assert!(codes(&late_c, &plan).contains(&(id("A"), "chair.overlap")));
    // Shift: N1 ends at 12:00; B 10:30–12:30 with N1 is outside it.
    let plan = Plan {
        assignments: vec![asg(1, 1, 0, hm(10, 30))],
        unscheduled: vec![0, 2],
    };
    assert!(codes(&inst, &plan).contains(&(id("B"), "nurse.shift")));
    // Exclusive set-up: A's set-up 08:00–08:15 and B's 08:10–08:30 with one nurse (N2, max 2).
    let mut both_early = inst.clone();
    both_early.appointments[1].ready = hm(8, 0);
    let plan = Plan {
        assignments: vec![asg(0, 0, 1, hm(8, 0)), asg(1, 1, 1, hm(8, 10))],
        unscheduled: vec![2],
    };
    assert!(codes(&both_early, &plan).contains(&(id("A"), "nurse.busy")));
    // Same pair 08:00 and 08:15: set-ups touch, no conflict.
    let plan = Plan {
        assignments: vec![asg(0, 0, 1, hm(8, 0)), asg(1, 1, 1, hm(8, 15))],
        unscheduled: vec![2],
    };
    assert_eq!(codes(&both_early, &plan), vec![]);
    // Take-down of A (08:50–09:00) against set-up of C (09:00 → fine; 08:55 → busy).
    let plan = Plan {
        assignments: vec![asg(0, 1, 1, hm(8, 0)), asg(2, 0, 1, hm(8, 55))],
        unscheduled: vec![1],
    };
    assert!(codes(&late_c, &plan).contains(&(id("A"), "nurse.busy")));
    // Capacity: N1 monitors at most 1: A 08:00–09:00 and C 08:30 with N1.
    let plan = Plan {
        assignments: vec![asg(0, 1, 0, hm(8, 0)), asg(2, 0, 0, hm(8, 30))],
        unscheduled: vec![1],
    };
    assert!(codes(&late_c, &plan).contains(&(id("C"), "nurse.capacity")));
    // Missing and duplicate.
    let plan = Plan {
        assignments: vec![asg(0, 0, 0, hm(8, 0))],
        unscheduled: vec![0, 1],
    };
    let c = codes(&inst, &plan);
    assert!(c.contains(&(id("A"), "plan.duplicate")));
    assert!(c.contains(&(id("C"), "plan.missing")));
}

#[test]
fn plans_by_id_report_unknown_ids_and_wrong_ends() {
    let inst = instance();
    let by_id = |a: &str, c: &str, n: &str, s: Clock, e: Option<Clock>| AssignmentById {
        appointment: a.into(),
        chair: c.into(),
        nurse: n.into(),
        start: s,
        end: e,
    };
    let (plan, v) = resolve_plan(
        &inst,
        &[
            by_id("A", "C1", "N1", hm(8, 0), Some(hm(9, 5))),
            by_id("B", "X9", "N2", hm(8, 15), None),
            by_id("Z", "C1", "N2", hm(9, 0), None),
        ],
        &["C".into(), "Q".into()],
    );
    let c: Vec<&str> = v.iter().map(|v| v.code).collect();
    assert_eq!(
        c,
        vec![
            "plan.end_mismatch",
            "plan.unknown_chair",
            "plan.unknown_appointment",
            "plan.unknown_appointment"
        ]
    );
    assert_eq!(plan.assignments.len(), 1);
    // B, left out, counts as unscheduled and is reported missing by the checker.
    assert_eq!(objective(&inst, &plan).unscheduled, 2);
    assert!(
        check(&inst, &plan)
            .iter()
            .any(|v| v.code == "plan.missing" && v.appointment.as_deref() == Some("B"))
    );
}

/// Property: the validator never panics and always accounts for every appointment, whatever
/// the plan (indices out of range, starts past midnight, duplicates).
#[test]
fn the_checker_never_panics_on_arbitrary_plans() {
    let inst = instance();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for _ in 0..5_000 {
        let n = next(6) as usize;
        let assignments = (0..n)
            .map(|_| {
                asg(
                    next(5) as usize,
                    next(4) as usize,
                    next(4) as usize,
                    Clock::from_minutes(next(3_000) as u32),
                )
            })
            .collect();
        let unscheduled = (0..next(4)).map(|_| next(5) as usize).collect();
        let plan = Plan {
            assignments,
            unscheduled,
        };
        let _ = check(&inst, &plan);
        let o = objective(&inst, &plan);
        assert!(o.unscheduled <= 3);
        assert_eq!(
            o.total,
            10_000 * o.unscheduled + 10 * o.overtime_minutes + o.wait_minutes
        );
        let _ = infusio_sched::metrics(&inst, &plan);
    }
}
