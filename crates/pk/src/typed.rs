//! The clinical API with units in the types: doses in mg over hours, levels in mg/L,
//! parameters in L and L/h. It converts to and from the `f64` kernels of [`crate::linear`],
//! [`crate::map`] and [`crate::regimen`], which work in exactly these units.

use infusio_core::units::{ClearanceLPerH, Duration, Litres, Mass, PlasmaConcentration, Qty};

use crate::PkError;
use crate::linear::{Disposition, LinearParams, RawDose};
use crate::map::Level;

/// A dose as administered: start, amount, infusion duration (zero for a bolus).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dose {
    pub start: Duration,
    pub amount: Mass,
    pub duration: Duration,
}

impl Dose {
    /// The kernel's form (h, mg).
    pub fn raw(&self) -> RawDose {
        RawDose::infusion(
            self.start.value(),
            self.amount.value(),
            self.duration.value(),
        )
    }
}

/// A measured drug level.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeasuredLevel {
    pub time: Duration,
    pub concentration: PlasmaConcentration,
}

impl MeasuredLevel {
    /// The kernel's form (h, mg/L).
    pub fn raw(&self) -> Level {
        Level {
            time_h: self.time.value(),
            concentration_mg_per_l: self.concentration.value(),
        }
    }
}

/// A parameter with its unit: clearances in L/h, volumes in L.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParameterValue {
    Clearance(ClearanceLPerH),
    Volume(Litres),
}

impl ParameterValue {
    pub fn qty(self) -> Qty {
        match self {
            ParameterValue::Clearance(c) => c.qty(),
            ParameterValue::Volume(v) => v.qty(),
        }
    }
}

/// The named parameters of a model in mg/L/h units, typed: `cl`, `q…` are clearances, `v…`
/// volumes.
pub fn parameters(p: &LinearParams) -> Vec<(&'static str, ParameterValue)> {
    p.named()
        .into_iter()
        .map(|(name, value)| {
            let typed = if name.starts_with('v') {
                ParameterValue::Volume(Litres::new(value))
            } else {
                ParameterValue::Clearance(ClearanceLPerH::new(value))
            };
            (name, typed)
        })
        .collect()
}

/// Concentrations at `times` for a model in mg, L and h.
pub fn concentrations(
    p: &LinearParams,
    doses: &[Dose],
    times: &[Duration],
) -> Result<Vec<PlasmaConcentration>, PkError> {
    let d = Disposition::new(p)?;
    let raw: Vec<RawDose> = doses.iter().map(Dose::raw).collect();
    let t: Vec<f64> = times.iter().map(|x| x.value()).collect();
    let mut c = vec![0.0; t.len()];
    d.simulate(&raw, &t, &mut c, None)?;
    Ok(c.into_iter().map(PlasmaConcentration::new).collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test failing on unwrap is a failing test
mod tests {
    use super::*;

    #[test]
    fn typed_concentrations_match_the_kernel() {
        let p = LinearParams::One { cl: 5.0, v: 50.0 };
        let doses = [Dose {
            start: Duration::new(0.0),
            amount: Mass::new(1000.0),
            duration: Duration::new(0.0),
        }];
        let c = concentrations(&p, &doses, &[Duration::new(0.0), Duration::new(10.0)]).unwrap();
        assert!((c[0].value() - 20.0).abs() < 1e-12);
        assert!((c[1].value() - 20.0 * (-1.0f64).exp()).abs() < 1e-12);
        let named = parameters(&p);
        assert_eq!(named[0].1.qty().unit, "L/h");
        assert_eq!(named[1].1.qty().unit, "L");
    }
}
