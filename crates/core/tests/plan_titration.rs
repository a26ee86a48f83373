//! Titration plans against the labels' published schedules.
//!
//! Rituximab: RITUXAN US prescribing information, section 2.1. Ocrelizumab: OCREVUS US
//! prescribing information, section 2.3, Table 1. Immune globulin: GAMMAGARD LIQUID US
//! prescribing information, section 2. Durations and cumulative amounts are computed from the
//! label schedules ([C], pending clinical sign-off) except where the label states them.

use infusio_core::plan::titration::{
    Bag, RampUnit, Reaction, Schedule, StepSpec, TitrationError, TitrationPlan, plan,
    replan_after_reaction,
};
use infusio_core::units::{BodyWeight, Volume};
use proptest::prelude::*;

fn linear(unit: RampUnit, start: f64, inc: f64, max: f64) -> Schedule {
    Schedule::Linear {
        unit,
        start_rate: start,
        increment: inc,
        interval_min: 30.0,
        max_rate: max,
    }
}

fn mg_bag(dose_mg: f64, volume_ml: f64) -> Bag {
    Bag {
        dose_amount: dose_mg,
        amount_unit: "mg".into(),
        volume: Volume::new(volume_ml),
        weight: None,
    }
}

fn rituximab_first() -> Schedule {
    linear(RampUnit::AmountPerHour, 50.0, 50.0, 400.0)
}
fn rituximab_subsequent() -> Schedule {
    linear(RampUnit::AmountPerHour, 100.0, 100.0, 400.0)
}
fn rituximab_90_min() -> Schedule {
    Schedule::Steps {
        unit: RampUnit::AmountPerHour,
        steps: vec![
            StepSpec::DoseFraction {
                fraction: 0.2,
                minutes: 30.0,
            },
            StepSpec::DoseFraction {
                fraction: 0.8,
                minutes: 60.0,
            },
        ],
    }
}
fn ocrelizumab_shorter() -> Schedule {
    Schedule::Steps {
        unit: RampUnit::MlPerHour,
        steps: vec![
            StepSpec::Rate {
                rate: 100.0,
                minutes: Some(15.0),
            },
            StepSpec::Rate {
                rate: 200.0,
                minutes: Some(15.0),
            },
            StepSpec::Rate {
                rate: 250.0,
                minutes: Some(30.0),
            },
            StepSpec::Rate {
                rate: 300.0,
                minutes: None,
            },
        ],
    }
}

fn hours(p: &TitrationPlan) -> f64 {
    p.duration.value()
}

fn assert_ends_when_empty(p: &TitrationPlan) {
    let vtbi: f64 = p.steps.iter().map(|s| s.vtbi_ml).sum();
    assert!(
        (vtbi - p.total_volume.value()).abs() < 1e-9 * p.total_volume.value(),
        "VTBI {vtbi} vs bag {}",
        p.total_volume.value()
    );
    for w in p.steps.windows(2) {
        assert!((w[0].start_minute + w[0].duration_minutes - w[1].start_minute).abs() < 1e-9);
    }
    for s in &p.steps {
        assert!((s.rate_ml_per_h * s.duration_minutes / 60.0 - s.vtbi_ml).abs() < 1e-9);
    }
}

#[test]
fn rituximab_first_infusion_700_mg_at_2_mg_per_ml() {
    // Rituxan PI 2.1: 50 mg/h, +50 mg/h every 30 min, max 400 mg/h. [C]: 3.50 h; cumulative mg
    // 25, 75, 150, 250, 375, 525, 700; pump ladder 25 … 200 mL/h at 2 mg/mL.
    let p = plan(&rituximab_first(), &mg_bag(700.0, 350.0)).expect("plan");
    assert!((hours(&p) - 3.5).abs() < 1e-12, "{}", hours(&p));
    let mut cumulative = 0.0;
    let mg: Vec<f64> = p
        .steps
        .iter()
        .map(|s| {
            cumulative += s.vtbi_ml * 2.0;
            cumulative
        })
        .collect();
    assert_eq!(mg.len(), 7);
    for (got, want) in mg
        .iter()
        .zip([25.0, 75.0, 150.0, 250.0, 375.0, 525.0, 700.0])
    {
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }
    let rates: Vec<f64> = p.steps.iter().map(|s| s.rate_ml_per_h).collect();
    assert_eq!(rates, vec![25.0, 50.0, 75.0, 100.0, 125.0, 150.0, 175.0]);
    // The ladder's top (400 mg/h = 200 mL/h) is not reached: the bag is empty first.
    assert!((p.max_rate.value() - 200.0).abs() < 1e-12);
    assert_eq!(p.steps[0].dose_rate.unit, "mg/h");
    assert!((p.steps[6].dose_rate.value - 350.0).abs() < 1e-9);
    assert_ends_when_empty(&p);
}

#[test]
fn rituximab_first_infusion_1000_mg_reaches_400_mg_per_h() {
    let p = plan(&rituximab_first(), &mg_bag(1000.0, 500.0)).expect("plan");
    assert!((hours(&p) - 4.25).abs() < 1e-12, "{}", hours(&p));
    let last = p.steps.last().expect("steps");
    assert!((last.rate_ml_per_h - 200.0).abs() < 1e-12);
    assert!((last.duration_minutes - 45.0).abs() < 1e-9);
    assert_ends_when_empty(&p);
}

#[test]
fn rituximab_subsequent_infusions() {
    let p = plan(&rituximab_subsequent(), &mg_bag(1000.0, 500.0)).expect("plan");
    assert!((hours(&p) - 3.25).abs() < 1e-12, "{}", hours(&p));
    let p = plan(&rituximab_subsequent(), &mg_bag(700.0, 350.0)).expect("plan");
    assert!((hours(&p) - 2.5).abs() < 1e-12, "{}", hours(&p));
    assert_ends_when_empty(&p);
}

#[test]
fn rituximab_90_minute_infusion_700_mg() {
    // Rituxan PI 2.1: 20 % of the dose in 30 min, 80 % in 60 min: 140 mg at 280 mg/h, then
    // 560 mg at 560 mg/h; 140 and 280 mL/h at 2 mg/mL.
    let p = plan(&rituximab_90_min(), &mg_bag(700.0, 350.0)).expect("plan");
    assert_eq!(p.steps.len(), 2);
    assert!((p.steps[0].vtbi_ml * 2.0 - 140.0).abs() < 1e-9);
    assert!((p.steps[1].vtbi_ml * 2.0 - 560.0).abs() < 1e-9);
    assert!((p.steps[0].rate_ml_per_h - 140.0).abs() < 1e-9);
    assert!((p.steps[1].rate_ml_per_h - 280.0).abs() < 1e-9);
    assert!((p.steps[0].dose_rate.value - 280.0).abs() < 1e-9);
    assert!((p.steps[1].dose_rate.value - 560.0).abs() < 1e-9);
    assert!((hours(&p) - 1.5).abs() < 1e-12);
    assert_ends_when_empty(&p);
}

#[test]
fn ocrelizumab_standard_schedules() {
    // Ocrevus PI Table 1. 300 mg/250 mL: 30 mL/h +30 every 30 min to 180 mL/h, [C] 2.64 h
    // (label "2.5 hours or longer"). 600 mg/500 mL: 40 mL/h +40 to 200 mL/h, 3.5 h (label).
    let p = plan(
        &linear(RampUnit::MlPerHour, 30.0, 30.0, 180.0),
        &mg_bag(300.0, 250.0),
    )
    .expect("plan");
    assert!((hours(&p) - (2.5 + 25.0 / 180.0)).abs() < 1e-12);
    assert!((hours(&p) - 2.64).abs() < 0.005);
    assert_eq!(p.steps[0].dose_rate.unit, "mg/h");
    assert!((p.steps[0].dose_rate.value - 36.0).abs() < 1e-9); // 30 mL/h × 1.2 mg/mL
    assert_ends_when_empty(&p);
    let p = plan(
        &linear(RampUnit::MlPerHour, 40.0, 40.0, 200.0),
        &mg_bag(600.0, 500.0),
    )
    .expect("plan");
    assert!((hours(&p) - 3.5).abs() < 1e-12);
    assert_ends_when_empty(&p);
}

#[test]
fn ocrelizumab_shorter_600_mg_infusion() {
    // Ocrevus PI Table 1, shorter infusion: 25 + 50 + 125 + 300 mL = 500 mL in 2.0 h.
    let p = plan(&ocrelizumab_shorter(), &mg_bag(600.0, 500.0)).expect("plan");
    let vtbi: Vec<f64> = p.steps.iter().map(|s| s.vtbi_ml).collect();
    assert_eq!(vtbi.len(), 4);
    for (got, want) in vtbi.iter().zip([25.0, 50.0, 125.0, 300.0]) {
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }
    assert!((hours(&p) - 2.0).abs() < 1e-12);
    assert_ends_when_empty(&p);
}

#[test]
fn gammagard_liquid_70_kg() {
    // Gammagard Liquid PI section 2 (PI): 0.5 mL/kg/h for 30 min, then up every 30 min to 5 mL/kg/h:
    // 35 mL/h initial and 350 mL/h maximum for 70 kg; 0.5 mL/kg/h of 100 mg/mL = 0.833 mg/kg/min.
    // The label gives no increment; 0.5 mL/kg/h per 30 min here is an institutional choice.
    let bag = Bag {
        dose_amount: 28_000.0, // 0.4 g/kg × 70 kg = 28 g in 280 mL
        amount_unit: "mg".into(),
        volume: Volume::new(280.0),
        weight: Some(BodyWeight::new(70.0)),
    };
    let s = linear(RampUnit::MlPerKgPerHour, 0.5, 0.5, 5.0);
    let p = plan(&s, &bag).expect("plan");
    assert!((p.steps[0].rate_ml_per_h - 35.0).abs() < 1e-9);
    assert!((p.max_rate.value() - 350.0).abs() < 1e-9);
    assert_eq!(p.steps[0].dose_rate.unit, "mg/kg/min");
    assert!((p.steps[0].dose_rate.value - 0.5 * 100.0 / 60.0).abs() < 1e-9);
    assert!(p.steps.iter().all(|s| s.rate_ml_per_h <= 350.0 + 1e-9));
    assert_ends_when_empty(&p);
    // The same ramp written in mg/kg/min (0.8 … 8 mg/kg/min, the label's rounding).
    let s = linear(RampUnit::AmountPerKgPerMinute, 0.8, 0.8, 8.0);
    let p = plan(&s, &bag).expect("plan");
    assert!((p.steps[0].rate_ml_per_h - 0.8 * 70.0 * 60.0 / 100.0).abs() < 1e-9);
    // Without a weight a per-kg ramp is refused.
    let no_weight = Bag {
        weight: None,
        ..bag
    };
    assert_eq!(plan(&s, &no_weight), Err(TitrationError::WeightRequired));
}

#[test]
fn reaction_replan_rituximab_halves_and_re_escalates() {
    // Rituxan PI: interrupt, resume at no more than half the previous rate. Reaction at
    // 100 min (in the 200 mg/h step, 100 mL/h), pause 30 min, resume at 50 mL/h for 30 min,
    // then +25 mL/h every 30 min to 200 mL/h.
    let s = rituximab_first();
    let bag = mg_bag(700.0, 350.0);
    let r = Reaction {
        at_minute: 100.0,
        pause_minutes: 30.0,
        resume_fraction: 0.5,
        hold_minutes: 30.0,
    };
    let p = replan_after_reaction(&s, &bag, &r).expect("replan");
    let vtbi: f64 = p.steps.iter().map(|s| s.vtbi_ml).sum();
    assert!((vtbi - 350.0).abs() < 1e-9);
    // Before the reaction: 25, 50, 75 mL/h for 30 min each, then 100 mL/h for 10 min.
    assert_eq!(p.steps[3].rate_ml_per_h, 100.0);
    assert!((p.steps[3].duration_minutes - 10.0).abs() < 1e-9);
    let resumed = &p.steps[4];
    assert!((resumed.start_minute - 130.0).abs() < 1e-9);
    assert!((resumed.rate_ml_per_h - 50.0).abs() < 1e-9);
    assert!((p.steps[5].rate_ml_per_h - 75.0).abs() < 1e-9);
    assert!(p.steps.iter().all(|s| s.rate_ml_per_h <= 200.0 + 1e-9));
    // It takes longer than the uninterrupted 3.5 h.
    assert!(p.duration.value() > 3.5 + 0.5);
}

#[test]
fn reaction_replan_ocrelizumab_shorter_schedule() {
    // Ocrevus PI: halve the rate for at least 30 min, then re-escalate. Reaction at 40 min
    // (250 mL/h row): resume at 125 mL/h for 30 min, then the rows above 125 mL/h.
    let r = Reaction {
        at_minute: 40.0,
        pause_minutes: 0.0,
        resume_fraction: 0.5,
        hold_minutes: 30.0,
    };
    let p =
        replan_after_reaction(&ocrelizumab_shorter(), &mg_bag(600.0, 500.0), &r).expect("replan");
    let resumed = p
        .steps
        .iter()
        .find(|s| (s.start_minute - 40.0).abs() < 1e-9)
        .expect("resumed step");
    assert!((resumed.rate_ml_per_h - 125.0).abs() < 1e-9);
    let vtbi: f64 = p.steps.iter().map(|s| s.vtbi_ml).sum();
    assert!((vtbi - 500.0).abs() < 1e-9);
    assert!(p.duration.value() > 2.0);
}

#[test]
fn a_reaction_after_the_end_is_refused() {
    let r = Reaction {
        at_minute: 500.0,
        pause_minutes: 0.0,
        resume_fraction: 0.5,
        hold_minutes: 30.0,
    };
    assert!(replan_after_reaction(&rituximab_first(), &mg_bag(700.0, 350.0), &r).is_err());
}

#[test]
fn a_step_table_that_runs_out_is_refused() {
    let s = Schedule::Steps {
        unit: RampUnit::MlPerHour,
        steps: vec![StepSpec::Rate {
            rate: 100.0,
            minutes: Some(30.0),
        }],
    };
    assert!(matches!(
        plan(&s, &mg_bag(600.0, 500.0)),
        Err(TitrationError::TableTooShort { .. })
    ));
}

proptest! {
    /// Whatever the dose and ramp: the steps empty the bag exactly, run back to back and never
    /// exceed the maximum rate; the duration is at least volume ÷ maximum rate.
    #[test]
    fn plans_empty_the_bag_and_respect_the_maximum(
        dose in 1.0f64..5000.0,
        conc in 0.1f64..10.0,
        start in 1.0f64..200.0,
        inc in 0.0f64..200.0,
        extra in 0.0f64..400.0,
        interval in 5.0f64..60.0,
    ) {
        let max = start + extra;
        let s = Schedule::Linear { unit: RampUnit::AmountPerHour, start_rate: start, increment: inc, interval_min: interval, max_rate: max };
        let bag = mg_bag(dose, dose / conc);
        let p = plan(&s, &bag).expect("plan");
        let vtbi: f64 = p.steps.iter().map(|s| s.vtbi_ml).sum();
        prop_assert!((vtbi - bag.volume.value()).abs() <= 1e-6 * bag.volume.value());
        for st in &p.steps {
            prop_assert!(st.rate_ml_per_h <= max / conc * (1.0 + 1e-9));
            prop_assert!(st.vtbi_ml > 0.0);
        }
        prop_assert!(p.duration.value() >= bag.volume.value() / (max / conc) * (1.0 - 1e-9));
    }
}
