//! Chair time for an appointment: set-up + premedication lead + hydration before + the drugs'
//! infusion durations (titrated ones from their titration plan) + hydration after +
//! observation (first or later infusion) + take-down. The scheduler and the UI call this.

use super::protocol::{HydrationTiming, Phase, Protocol, ProtocolDrug};
use crate::derivation::Step;
use crate::units::{Duration, Qty};

/// Chair time with its parts, in minutes, and the derivation.
#[derive(Clone, Debug, PartialEq)]
pub struct ChairTime {
    pub total: Duration,
    pub setup_min: f64,
    pub premedication_lead_min: f64,
    pub hydration_before_min: f64,
    pub infusion_min: f64,
    pub hydration_after_min: f64,
    pub observation_min: f64,
    pub takedown_min: f64,
    pub steps: Vec<Step>,
}

/// Why chair time cannot be computed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ChairError {
    #[error("phase {0} does not exist in this protocol")]
    NoPhase(usize),
    #[error("no drug of phase '{phase}' is given on day {day}")]
    NotATreatmentDay { phase: String, day: u32 },
    #[error("the infusion number starts at 1")]
    BadInfusionNumber,
    #[error(
        "{medication} is titrated: pass its duration from the titration plan (the protocol has no fixed duration)"
    )]
    DurationRequired { medication: String },
}

/// Computes the chair time for `day` of phase `phase` (0-based index) for the patient's
/// `infusion_number` (1 = first ever infusion of this protocol). `durations` gives the
/// infusion duration of a drug by library id (from [`super::titration::plan`]); it overrides the
/// protocol's fixed `duration_min`. Drugs run one after another, in protocol order; a drug with
/// a frequency (`q8h`) counts its first dose only — the chair holds one visit.
pub fn chair_time(
    protocol: &Protocol,
    phase: usize,
    day: u32,
    infusion_number: u32,
    durations: &[(&str, Duration)],
) -> Result<ChairTime, ChairError> {
    let ph = protocol
        .phases
        .get(phase)
        .ok_or(ChairError::NoPhase(phase))?;
    if infusion_number == 0 {
        return Err(ChairError::BadInfusionNumber);
    }
    let drugs: Vec<&ProtocolDrug> = ph.drugs.iter().filter(|d| d.days.contains(&day)).collect();
    if drugs.is_empty() {
        return Err(ChairError::NotATreatmentDay {
            phase: ph.name.clone(),
            day,
        });
    }
    let mut steps = Vec::new();
    let infusion = infusion_minutes(&drugs, durations, &mut steps)?;
    let around = AroundInfusions::of_day(ph, day);
    let first = infusion_number == 1 || ph.infusion.as_deref() == Some("first");
    let c = &protocol.chair;
    let observation = if first {
        c.observation_min_first
    } else {
        c.observation_min_subsequent
    };
    let total_min = c.setup_min
        + around.lead_min
        + around.hydration_before_min
        + infusion
        + around.hydration_after_min
        + observation
        + c.takedown_min;
    steps.push(
        Step::new(
            format!(
                "Chair time, {} infusion",
                if first { "first" } else { "a later" }
            ),
            "set-up + premedication lead + hydration before + infusions + hydration after + observation + take-down",
            Qty::new(total_min / 60.0, "h"),
        )
        .input("set-up", Qty::new(c.setup_min, "min"))
        .input("premedication lead", Qty::new(around.lead_min, "min"))
        .input(
            "hydration before",
            Qty::new(around.hydration_before_min, "min"),
        )
        .input("infusions", Qty::new(infusion, "min"))
        .input(
            "hydration after",
            Qty::new(around.hydration_after_min, "min"),
        )
        .input("observation", Qty::new(observation, "min"))
        .input("take-down", Qty::new(c.takedown_min, "min")),
    );
    Ok(ChairTime {
        total: Duration::new(total_min / 60.0),
        setup_min: c.setup_min,
        premedication_lead_min: around.lead_min,
        hydration_before_min: around.hydration_before_min,
        infusion_min: infusion,
        hydration_after_min: around.hydration_after_min,
        observation_min: observation,
        takedown_min: c.takedown_min,
        steps,
    })
}

/// The drugs' infusion minutes in the chair, one after another, each with its step: the
/// duration from its titration plan when given, else the protocol's; an ambulatory drug
/// counts 0 and a non-IV drug without a duration counts 0.
fn infusion_minutes(
    drugs: &[&ProtocolDrug],
    durations: &[(&str, Duration)],
    steps: &mut Vec<Step>,
) -> Result<f64, ChairError> {
    let mut infusion = 0.0;
    for d in drugs {
        let given = durations
            .iter()
            .find(|(m, _)| *m == d.medication)
            .map(|(_, h)| h.value() * 60.0);
        if d.ambulatory {
            steps.push(Step::new(
                format!(
                    "{} runs on an ambulatory pump after the visit",
                    d.medication
                ),
                "not counted in chair time",
                Qty::new(0.0, "min"),
            ));
            continue;
        }
        let minutes = match (given, d.duration_min) {
            (Some(m), _) => m,
            (None, Some(m)) => m,
            (None, None) if d.route != "iv" => 0.0,
            (None, None) => {
                return Err(ChairError::DurationRequired {
                    medication: d.medication.clone(),
                });
            }
        };
        steps.push(Step::new(
            format!(
                "{} infusion ({})",
                d.medication,
                if given.is_some() {
                    "from its titration plan"
                } else {
                    "protocol duration"
                }
            ),
            "minutes",
            Qty::new(minutes, "min"),
        ));
        infusion += minutes;
    }
    Ok(infusion)
}

/// What a treatment day adds around the infusions (minutes).
struct AroundInfusions {
    /// The longest lead of the day's non-optional premedications.
    lead_min: f64,
    hydration_before_min: f64,
    hydration_after_min: f64,
}

impl AroundInfusions {
    fn of_day(ph: &Phase, day: u32) -> Self {
        let on_day = |days: &[u32]| days.is_empty() || days.contains(&day);
        let hydration = |timing: HydrationTiming| -> f64 {
            ph.hydration
                .iter()
                .filter(|h| h.timing == timing && on_day(&h.days))
                .map(|h| h.duration_min)
                .sum()
        };
        AroundInfusions {
            lead_min: ph
                .premedications
                .iter()
                .filter(|p| on_day(&p.days) && !p.optional)
                .map(|p| p.lead_min)
                .fold(0.0, f64::max),
            hydration_before_min: hydration(HydrationTiming::Before),
            hydration_after_min: hydration(HydrationTiming::After),
        }
    }
}
