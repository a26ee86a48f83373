//! Any dosing history and levels within the accepted ranges give a finite fit (never a
//! panic, never a NaN): doses before and after the levels, zero doses, zero levels, levels
//! during infusions, every model, every covariate within its range.

use infusio_core::units::{BodyWeight, Clearance};
use infusio_pk::linear::RawDose;
use infusio_pk::map::{self, Level};
use infusio_pk::population::{Covariates, MODELS};
use infusio_pk::regimen::{self, Regimen};
use proptest::prelude::*;

fn dose() -> impl Strategy<Value = RawDose> {
    (
        -24.0f64..96.0,
        prop_oneof![Just(0.0), 0.0f64..5000.0],
        prop_oneof![Just(0.0), 0.01f64..24.0],
    )
        .prop_map(|(time, amount, duration)| RawDose {
            time,
            amount,
            duration,
        })
}

fn level() -> impl Strategy<Value = Level> {
    (-24.0f64..120.0, prop_oneof![Just(0.0), 0.0f64..200.0]).prop_map(
        |(time_h, concentration_mg_per_l)| Level {
            time_h,
            concentration_mg_per_l,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn fits_are_finite_or_refused(
        model in 0..MODELS.len(),
        weight in 2.0f64..350.0,
        crcl in 1.0f64..300.0,
        dialysis in any::<bool>(),
        doses in prop::collection::vec(dose(), 1..6),
        levels in prop::collection::vec(level(), 1..5),
    ) {
        let m = &MODELS[model];
        let cov = Covariates { weight: BodyWeight::new(weight), crcl: Clearance::new(crcl), dialysis };
        // Every input here is within the accepted ranges: the fit must succeed.
        let fit = map::fit(m, &cov, &doses, &levels);
        prop_assert!(fit.is_ok(), "{:?}", fit);
        if let Ok(fit) = fit {
            prop_assert!(fit.objective.is_finite());
            prop_assert!(fit.etas.iter().all(|e| e.is_finite()));
            prop_assert!(fit.predictions.iter().all(|p| p.is_finite() && *p >= 0.0));
            let r = Regimen::from_history(&doses).unwrap_or(Regimen { dose_mg: 1000.0, interval_h: 12.0, duration_h: 1.0 });
            if let Ok(e) = regimen::exposure(&fit.individual, &doses, r) {
                prop_assert!(e.auc24_steady_state.is_finite() && e.cmax_steady_state >= e.cmin_steady_state);
            }
        }
    }
}
