//! A seeded instance generator, from a 10-chair clinic to a 160-chair centre.
//!
//! Sources and assumptions, honestly separated:
//! - Per-class chair times are anchored on the labelled infusion times of typical drugs,
//!   plus time for pre-medication, flushes and observation (our assumption, 15–60 min):
//!   pembrolizumab and nivolumab over 30 min (KEYTRUDA, OPDIVO US prescribing information);
//!   gemcitabine over 30 min (GEMZAR PI), docetaxel over 1 h (TAXOTERE PI); paclitaxel over
//!   3 h (TAXOL PI) with carboplatin over 15–60 min; oxaliplatin over 2 h (ELOXATIN PI);
//!   infliximab over at least 2 h (REMICADE PI); vedolizumab over 30 min (ENTYVIO PI);
//!   rituximab first infusion from 50 mg/h rising by 50 mg/h every 30 min to 400 mg/h,
//!   about 4–6 h (RITUXAN PI); immune globulin 2–6 h by product rate escalation (e.g.
//!   PRIVIGEN PI); ferric carboxymaltose and zoledronic acid over at least 15 min
//!   (INJECTAFER, ZOMETA PI); a red-cell unit within 4 h (AABB Standards).
//! - The class *shares*, set-up (10–20 min) and take-down (5–10 min) times, the share of
//!   beds (about 1 in 10 places), the arrival pattern (booked on quarter hours, biased to
//!   the morning, long treatments earlier, plus 0–45 min for labs and pharmacy) and the
//!   shift patterns are assumptions of this generator, not taken from a study.
//! - Nurse ratios of 1:3 to 1:4 (`max_patients` 3 or 4) follow the ratios commonly used in
//!   ambulatory infusion, as stated in the project's scheduling issue; not a cited standard.

use crate::model::{Appointment, Chair, ChairKind, Clock, DAY_MINUTES, Instance, Needs, Nurse};
use crate::rng::Rng;

/// A therapy class: its share of appointments (percent, an assumption), chair time range
/// (minutes) and the chance (percent) that it needs a bed.
#[derive(Clone, Copy, Debug)]
pub struct TherapyClass {
    pub name: &'static str,
    pub share_percent: u32,
    pub min_minutes: u32,
    pub max_minutes: u32,
    pub bed_percent: u32,
}

/// The duration mix (see the module documentation for sources and assumptions).
pub const THERAPY_CLASSES: &[TherapyClass] = &[
    TherapyClass {
        name: "immunotherapy (checkpoint inhibitor)",
        share_percent: 20,
        min_minutes: 45,
        max_minutes: 75,
        bed_percent: 0,
    },
    TherapyClass {
        name: "chemotherapy, short regimen",
        share_percent: 15,
        min_minutes: 60,
        max_minutes: 120,
        bed_percent: 0,
    },
    TherapyClass {
        name: "chemotherapy, long regimen",
        share_percent: 12,
        min_minutes: 150,
        max_minutes: 330,
        bed_percent: 5,
    },
    TherapyClass {
        name: "biologic, maintenance infusion",
        share_percent: 18,
        min_minutes: 60,
        max_minutes: 240,
        bed_percent: 0,
    },
    TherapyClass {
        name: "biologic, first infusion",
        share_percent: 5,
        min_minutes: 270,
        max_minutes: 390,
        bed_percent: 15,
    },
    TherapyClass {
        name: "immune globulin",
        share_percent: 7,
        min_minutes: 150,
        max_minutes: 390,
        bed_percent: 10,
    },
    TherapyClass {
        name: "supportive, short (iron, bisphosphonate, hydration)",
        share_percent: 18,
        min_minutes: 30,
        max_minutes: 60,
        bed_percent: 0,
    },
    TherapyClass {
        name: "transfusion",
        share_percent: 3,
        min_minutes: 150,
        max_minutes: 270,
        bed_percent: 15,
    },
    TherapyClass {
        name: "long multi-drug or desensitisation",
        share_percent: 2,
        min_minutes: 360,
        max_minutes: 480,
        bed_percent: 25,
    },
];

/// Generator settings. `open`/`close` default to 07:00–19:00.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerateOptions {
    pub n_chairs: usize,
    pub n_nurses: usize,
    pub n_appointments: usize,
    pub seed: u64,
    pub open: Clock,
    pub close: Clock,
}

impl GenerateOptions {
    /// A day of `n_appointments` in `n_chairs` places with `n_nurses` nurses, 07:00–19:00.
    pub fn new(
        n_chairs: usize,
        n_nurses: usize,
        n_appointments: usize,
        seed: u64,
    ) -> GenerateOptions {
        GenerateOptions {
            n_chairs,
            n_nurses,
            n_appointments,
            seed,
            open: Clock::from_minutes(7 * 60),
            close: Clock::from_minutes(19 * 60),
        }
    }
}

fn pick_class(rng: &mut Rng) -> &'static TherapyClass {
    let total: u32 = THERAPY_CLASSES.iter().map(|c| c.share_percent).sum();
    let mut x = rng.below(total as usize) as u32;
    for c in THERAPY_CLASSES {
        if x < c.share_percent {
            return c;
        }
        x -= c.share_percent;
    }
    &THERAPY_CLASSES[0]
}

/// A generated instance; the same options give the same instance.
pub fn generate(options: &GenerateOptions) -> Instance {
    let mut rng = Rng::new(options.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0xA5A5);
    let open = options.open.minutes().min(DAY_MINUTES - 60);
    let close = options.close.minutes().clamp(open + 60, DAY_MINUTES);
    let n_beds = if options.n_chairs >= 5 {
        options.n_chairs.div_ceil(10)
    } else {
        0
    };
    let chairs = (0..options.n_chairs)
        .map(|i| {
            if i < n_beds {
                Chair {
                    id: format!("B{:02}", i + 1),
                    kind: ChairKind::Bed,
                }
            } else {
                Chair {
                    id: format!("C{:03}", i + 1 - n_beds),
                    kind: ChairKind::Chair,
                }
            }
        })
        .collect();
    // Shifts of 8.5 h: early from open, middle two hours later, late ending an hour after close.
    let shift = 510u32;
    let patterns = [
        (open, (open + shift).min(DAY_MINUTES)),
        (
            (open + 120).min(DAY_MINUTES - 60),
            (open + 120 + shift).min(DAY_MINUTES),
        ),
        (
            (close + 60)
                .min(DAY_MINUTES)
                .saturating_sub(shift)
                .max(open),
            (close + 60).min(DAY_MINUTES),
        ),
    ];
    let nurses = (0..options.n_nurses)
        .map(|i| {
            // 40% early, 30% middle, 30% late, in a fixed rotation so small teams cover the day.
            let p = [0, 2, 1, 0, 2, 1, 0, 2, 1, 0][i % 10];
            let (s, e) = patterns[p];
            Nurse {
                id: format!("N{:02}", i + 1),
                start: Clock::from_minutes(s),
                end: Clock::from_minutes(e.max(s + 60)),
                max_patients: 3 + rng.below(2) as u32,
            }
        })
        .collect();
    let appointments = (0..options.n_appointments)
        .map(|i| {
            let class = pick_class(&mut rng);
            let duration = class.min_minutes
                + 5 * rng.below(((class.max_minutes - class.min_minutes) / 5 + 1) as usize) as u32;
            let duration = duration.min(close - open);
            let setup = 10 + 5 * rng.below(3) as u32;
            let takedown = 5 + 5 * rng.below(2) as u32;
            // Booked on a quarter hour so that the treatment could end by close, biased to the
            // morning (the earlier of two draws half of the time).
            let last_slot = (close.saturating_sub(duration).max(open) - open) / 15;
            let mut slot = rng.below(last_slot as usize + 1) as u32;
            if rng.chance(0.5) {
                slot = slot.min(rng.below(last_slot as usize + 1) as u32);
            }
            let ready = (open + 15 * slot + rng.below(10) as u32 * 5).min(DAY_MINUTES);
            let needs = if rng.below(100) < class.bed_percent as usize && n_beds > 0 {
                Needs::Bed
            } else if rng.chance(0.1) || n_beds == options.n_chairs {
                if n_beds == options.n_chairs {
                    Needs::Any
                } else {
                    Needs::Chair
                }
            } else {
                Needs::Any
            };
            Appointment {
                id: format!("A{:03}", i + 1),
                duration_minutes: duration,
                setup_minutes: setup,
                takedown_minutes: takedown,
                ready: Clock::from_minutes(ready),
                needs,
                therapy: Some(class.name.to_string()),
            }
        })
        .collect();
    Instance {
        open: Clock::from_minutes(open),
        close: Clock::from_minutes(close),
        chairs,
        nurses,
        appointments,
    }
}
