//! The scheduling model: a day, chairs, nurses and appointments, and a plan.
//!
//! Times of day are [`Clock`] values (minutes since midnight, shown as `HH:MM`); durations
//! are whole minutes in fields whose names end in `_minutes`.

use std::fmt;

/// Minutes in a day; every time of day lies in `00:00..=24:00`.
pub const DAY_MINUTES: u32 = 1440;
/// Starts lie on a grid of this many minutes counted from midnight.
pub const GRID_MINUTES: u32 = 5;
/// Weight of one unscheduled appointment in the objective.
pub const WEIGHT_UNSCHEDULED: u64 = 10_000;
/// Weight of one minute of overtime (an appointment ending after `close`) in the objective.
pub const WEIGHT_OVERTIME_PER_MINUTE: u64 = 10;
/// Weight of one minute of waiting (start − ready) in the objective.
pub const WEIGHT_WAIT_PER_MINUTE: u64 = 1;
/// The most patients one nurse may be declared to monitor at once.
pub const MAX_PATIENTS_PER_NURSE: u32 = 50;

/// A time of day: minutes since midnight, shown as `HH:MM`. A plan being checked may hold
/// times past 24:00 (an end computed from a start), so the value is not capped here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Clock(u32);

impl Clock {
    /// The time `minutes` after midnight.
    pub const fn from_minutes(minutes: u32) -> Clock {
        Clock(minutes)
    }

    /// Minutes since midnight.
    pub const fn minutes(self) -> u32 {
        self.0
    }

    /// Parses `HH:MM` (24-hour clock, `00:00` to `24:00`).
    pub fn parse(text: &str) -> Result<Clock, String> {
        let bad =
            || format!("expected a time of day \"HH:MM\" from 00:00 to 24:00, got \"{text}\"");
        let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return Err(bad());
        }
        let h: u32 = h.parse().map_err(|_| bad())?;
        let m: u32 = m.parse().map_err(|_| bad())?;
        if m >= 60 || h > 24 || (h == 24 && m != 0) {
            return Err(bad());
        }
        Ok(Clock(h * 60 + m))
    }

    /// The first grid time (a multiple of [`GRID_MINUTES`]) at or after this one.
    pub const fn ceil_to_grid(self) -> Clock {
        Clock(self.0.div_ceil(GRID_MINUTES) * GRID_MINUTES)
    }
}

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// What a treatment place is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChairKind {
    Chair,
    Bed,
}

impl ChairKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChairKind::Chair => "chair",
            ChairKind::Bed => "bed",
        }
    }
}

/// What an appointment needs: a chair, a bed, or either.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Needs {
    Chair,
    Bed,
    Any,
}

impl Needs {
    /// Whether a place of `kind` serves this need.
    pub fn accepts(self, kind: ChairKind) -> bool {
        match self {
            Needs::Any => true,
            Needs::Chair => kind == ChairKind::Chair,
            Needs::Bed => kind == ChairKind::Bed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Needs::Chair => "chair",
            Needs::Bed => "bed",
            Needs::Any => "any",
        }
    }
}

/// A treatment place (chair or bed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chair {
    pub id: String,
    pub kind: ChairKind,
}

/// A nurse on shift from `start` to `end`, monitoring at most `max_patients` patients at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nurse {
    pub id: String,
    pub start: Clock,
    pub end: Clock,
    pub max_patients: u32,
}

/// One patient's treatment: `duration_minutes` in the place, of which the first
/// `setup_minutes` and the last `takedown_minutes` take the nurse's exclusive attention.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appointment {
    pub id: String,
    pub duration_minutes: u32,
    pub setup_minutes: u32,
    pub takedown_minutes: u32,
    /// Earliest start: arrival, labs cleared and the drug prepared.
    pub ready: Clock,
    pub needs: Needs,
    /// Free-text therapy label (e.g. from the generator); the solver ignores it.
    pub therapy: Option<String>,
}

/// One day at one infusion centre.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    pub open: Clock,
    pub close: Clock,
    pub chairs: Vec<Chair>,
    pub nurses: Vec<Nurse>,
    pub appointments: Vec<Appointment>,
}

/// An instance that breaks the model's own rules (not a plan violation): the dotted field
/// path (e.g. `appointments[3].setup_minutes`) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for InstanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for InstanceError {}

impl Instance {
    /// Checks the rules every instance must keep before it can be solved: times within the
    /// day, `open < close`, each nurse's `start < end`, `1 ≤ max_patients ≤ 50`,
    /// `1 ≤ duration_minutes ≤ 1440`, `setup_minutes + takedown_minutes ≤ duration_minutes`,
    /// unique ids per list. Returns the first problem found.
    pub fn validate(&self) -> Result<(), InstanceError> {
        let err = |field: String, message: String| Err(InstanceError { field, message });
        if self.open.0 > DAY_MINUTES {
            return err("day.open".into(), format!("{} is after 24:00", self.open));
        }
        if self.close.0 > DAY_MINUTES {
            return err("day.close".into(), format!("{} is after 24:00", self.close));
        }
        if self.open >= self.close {
            return err(
                "day.close".into(),
                format!("close ({}) must be after open ({})", self.close, self.open),
            );
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.chairs.iter().enumerate() {
            if !seen.insert(c.id.as_str()) {
                return err(
                    format!("chairs[{i}].id"),
                    format!("duplicate chair id \"{}\"", c.id),
                );
            }
        }
        seen.clear();
        for (i, n) in self.nurses.iter().enumerate() {
            if !seen.insert(n.id.as_str()) {
                return err(
                    format!("nurses[{i}].id"),
                    format!("duplicate nurse id \"{}\"", n.id),
                );
            }
            if n.end.0 > DAY_MINUTES {
                return err(
                    format!("nurses[{i}].end"),
                    format!("{} is after 24:00", n.end),
                );
            }
            if n.start >= n.end {
                return err(
                    format!("nurses[{i}].end"),
                    format!(
                        "shift end ({}) must be after its start ({})",
                        n.end, n.start
                    ),
                );
            }
            if n.max_patients == 0 || n.max_patients > MAX_PATIENTS_PER_NURSE {
                return err(
                    format!("nurses[{i}].max_patients"),
                    format!(
                        "{} is outside 1 to {MAX_PATIENTS_PER_NURSE}",
                        n.max_patients
                    ),
                );
            }
        }
        seen.clear();
        for (i, a) in self.appointments.iter().enumerate() {
            if !seen.insert(a.id.as_str()) {
                return err(
                    format!("appointments[{i}].id"),
                    format!("duplicate appointment id \"{}\"", a.id),
                );
            }
            if a.duration_minutes == 0 || a.duration_minutes > DAY_MINUTES {
                return err(
                    format!("appointments[{i}].duration_minutes"),
                    format!(
                        "{} is outside 1 to {DAY_MINUTES} minutes",
                        a.duration_minutes
                    ),
                );
            }
            if a.setup_minutes.saturating_add(a.takedown_minutes) > a.duration_minutes {
                return err(
                    format!("appointments[{i}].setup_minutes"),
                    format!(
                        "set-up ({} min) plus take-down ({} min) exceed the duration ({} min)",
                        a.setup_minutes, a.takedown_minutes, a.duration_minutes
                    ),
                );
            }
            if a.ready.0 > DAY_MINUTES {
                return err(
                    format!("appointments[{i}].ready"),
                    format!("{} is after 24:00", a.ready),
                );
            }
        }
        Ok(())
    }

    /// The earliest start the rules allow for appointment `a` alone: on the grid, not before
    /// `ready` nor `open`.
    pub fn earliest_start(&self, a: usize) -> Clock {
        self.appointments[a].ready.max(self.open).ceil_to_grid()
    }
}

/// Appointment `appointment` in place `chair` with nurse `nurse` from `start` (indices into
/// the instance's lists).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Assignment {
    pub appointment: usize,
    pub chair: usize,
    pub nurse: usize,
    pub start: Clock,
}

impl Assignment {
    /// `start + duration_minutes`.
    pub fn end(&self, instance: &Instance) -> Clock {
        Clock(self.start.0 + instance.appointments[self.appointment].duration_minutes)
    }
}

/// A day's plan: the assignments and the appointments left unscheduled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub assignments: Vec<Assignment>,
    pub unscheduled: Vec<usize>,
}

/// The objective by part: `total = 10000 × unscheduled + 10 × overtime_minutes + wait_minutes`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Objective {
    pub total: u64,
    pub unscheduled: u64,
    /// Σ max(0, end − close) over scheduled appointments.
    pub overtime_minutes: u64,
    /// Σ (start − ready) over scheduled appointments (a start before ready counts 0 here and
    /// is a violation reported by the checker).
    pub wait_minutes: u64,
}

impl Objective {
    pub fn from_parts(unscheduled: u64, overtime_minutes: u64, wait_minutes: u64) -> Objective {
        Objective {
            total: WEIGHT_UNSCHEDULED * unscheduled
                + WEIGHT_OVERTIME_PER_MINUTE * overtime_minutes
                + WEIGHT_WAIT_PER_MINUTE * wait_minutes,
            unscheduled,
            overtime_minutes,
            wait_minutes,
        }
    }

    /// The objective of one placement of appointment `a` at `start`.
    pub fn of_start(instance: &Instance, a: usize, start: Clock) -> Objective {
        let ap = &instance.appointments[a];
        let end = start.0 + ap.duration_minutes;
        Objective::from_parts(
            0,
            u64::from(end.saturating_sub(instance.close.0)),
            u64::from(start.0.saturating_sub(ap.ready.0)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_parses_and_prints() {
        assert_eq!(Clock::parse("07:05"), Ok(Clock(425)));
        assert_eq!(Clock::parse("7:05"), Ok(Clock(425)));
        assert_eq!(Clock::parse("24:00"), Ok(Clock(1440)));
        for bad in [
            "24:01", "7", "07:60", "07:5", "-1:00", "ab:cd", "", "07:05:00",
        ] {
            assert!(Clock::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Clock(425).to_string(), "07:05");
        assert_eq!(Clock(423).ceil_to_grid(), Clock(425));
        assert_eq!(Clock(425).ceil_to_grid(), Clock(425));
    }

    #[test]
    fn objective_weights() {
        let o = Objective::from_parts(2, 3, 7);
        assert_eq!(o.total, 20_000 + 30 + 7);
    }
}
