//! The bedside check before an infusion starts: the "five rights" (right patient, drug, dose,
//! route, time) plus the pump as keyed and the preparation's beyond-use time.
//!
//! [`five_rights`] is a pure function over what the record says ([`BedsideFacts`]) and what
//! the nurse scanned and keyed ([`BedsideScan`]): no clock (the time is a fact), no store, so
//! each rule is pinned by a table test below. Any mismatch is a hard-stop [`Finding`]; the
//! workflow refuses to start while there is one.
//!
//! Source: the "rights" of medication administration as taught in nursing practice (Institute
//! for Safe Medication Practices, "The five rights: a destination without a map", 2007), with
//! the barcode verification at the bedside described by ISMP's *Guidelines for the safe use of
//! bar-code medication administration* (2009).

use infusio_core::derivation::{Finding, Severity};
use infusio_core::input::Fields;
use infusio_core::units::{Volume, VolumeRate};
use serde_json::Value as Json;

use crate::AppError;
use crate::orders::num_text;
use crate::time::iso_from_us;

/// A pump rate keyed on the pump may differ from the order by at most this much, mL/h
/// (rounding of the display to one decimal).
pub const PUMP_RATE_TOLERANCE_ML_PER_H: f64 = 0.05;
/// A volume to be infused keyed on the pump may differ from the order by at most this much, mL.
pub const PUMP_VTBI_TOLERANCE_ML: f64 = 0.5;
/// The dose on the label may differ from the order by at most this fraction (rounding of the
/// label's printed figure).
pub const DOSE_TOLERANCE_FRACTION: f64 = 1e-3;

/// The second nurse of an independent double check (high-alert drugs). The password is never
/// printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecondNurse {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SecondNurse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondNurse")
            .field("username", &self.username)
            .field("password", &"(hidden)")
            .finish()
    }
}

/// What the nurse scanned and keyed at the bedside: the command that starts an
/// administration. Built from the JSON API by `TryFrom<&Json>` (strict: unknown keys refused,
/// every missing field named) or directly by a screen.
#[derive(Debug, Clone, PartialEq)]
pub struct BedsideScan {
    /// The wristband barcode as scanned (the patient's MRN).
    pub wristband: String,
    /// The bag barcode as scanned (the preparation id, or a component's GTIN).
    pub bag: String,
    /// The dose as printed on the label, e.g. `350 mg` (converted to the order's unit when
    /// checked).
    pub dose: String,
    pub route: String,
    /// The rate keyed on the pump.
    pub pump_rate: VolumeRate,
    /// The volume to be infused keyed on the pump.
    pub pump_vtbi: Volume,
    pub second_nurse: Option<SecondNurse>,
    /// Why the infusion starts outside its time window (the appointment's, or the order's own
    /// without one): with a reason the time is an override recorded in the audit, not a
    /// hard stop.
    pub time_override_reason: Option<String>,
}

fn required_text(f: &mut Fields, key: &str, what: &str) -> Result<String, AppError> {
    let path = f.path_of(key);
    f.opt_string(key)?
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| AppError::invalid(path, "", format!("required: {what}")))
}

impl TryFrom<&Json> for BedsideScan {
    type Error = AppError;

    /// Reads `{"wristband", "bag", "dose", "route", "pump": {"rate", "vtbi"},
    /// ["second_nurse": {"username", "password"}]}`.
    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let wristband = required_text(&mut f, "wristband", "the wristband barcode as scanned")?;
        let bag = required_text(&mut f, "bag", "the bag barcode as scanned")?;
        let dose = required_text(&mut f, "dose", "the dose on the label, e.g. '350 mg'")?;
        let route = required_text(&mut f, "route", "the route")?;
        let mut pump = f.opt_object("pump")?.ok_or_else(|| {
            AppError::invalid(
                "pump",
                "",
                "required: the programme as keyed on the pump, {\"rate\", \"vtbi\"}",
            )
        })?;
        let pump_rate = pump.quantity(
            "rate",
            "the rate keyed, e.g. '125 mL/h'",
            VolumeRate::from_quantity,
        )?;
        let pump_vtbi = pump.quantity(
            "vtbi",
            "the volume to be infused keyed, e.g. '250 mL'",
            Volume::from_quantity,
        )?;
        pump.finish()?;
        let second_nurse = match f.opt_object("second_nurse")? {
            Some(mut s) => {
                let username = s.opt_string("username")?.unwrap_or_default();
                let password = s.opt_string("password")?.unwrap_or_default();
                s.finish()?;
                Some(SecondNurse { username, password })
            }
            None => None,
        };
        let time_override_reason = f
            .opt_string("time_override_reason")?
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        f.finish()?;
        Ok(BedsideScan {
            wristband,
            bag,
            dose,
            route,
            pump_rate,
            pump_vtbi,
            second_nurse,
            time_override_reason,
        })
    }
}

/// What the record says about the administration about to start.
#[derive(Debug, Clone, PartialEq)]
pub struct BedsideFacts {
    /// The order's patient's MRN (what the wristband carries).
    pub patient_mrn: String,
    /// The prepared product's id (what its label's barcode carries).
    pub preparation_id: String,
    /// GTINs of the vials and bags that went into the preparation.
    pub component_gtins: Vec<String>,
    pub beyond_use_at_us: i64,
    /// The ordered dose in `dose_unit`.
    pub dose: f64,
    /// The ordered dose as stored (decimal text), for messages.
    pub dose_text: String,
    pub dose_unit: String,
    pub route: String,
    pub ordered_rate: Option<VolumeRate>,
    pub ordered_vtbi: Option<Volume>,
    /// Start of the booked appointment, if one is booked.
    pub appointment_start_at_us: Option<i64>,
    /// The scan must fall within this many minutes of the appointment's start.
    pub window_min: i64,
    /// When the order was signed: without an appointment, the order's own window runs from
    /// here for [`ORDER_WINDOW_HOURS`].
    pub order_signed_at_us: Option<i64>,
    /// The time of the scan.
    pub now_us: i64,
}

fn hard_stop(code: &str, message: String) -> Finding {
    Finding::new(code, Severity::HardStop, message)
}

/// The label's dose in the order's unit; an unreadable or inconvertible dose is an input
/// error naming the field `dose`.
fn dose_in(given: &str, unit: &str) -> Result<f64, AppError> {
    let q = infusio_core::units::parse_quantity(given).map_err(|e| {
        AppError::invalid("dose", given, format!("{e}; expected a quantity in {unit}"))
    })?;
    q.value_in(unit).map_err(|e| {
        AppError::invalid(
            "dose",
            given,
            format!("{e}; expected a quantity convertible to {unit}"),
        )
    })
}

/// Compares the scan with the record. Returns every mismatch as a hard-stop finding (empty
/// when all rights hold); `Err` only when the label's dose cannot be read.
pub fn five_rights(facts: &BedsideFacts, scan: &BedsideScan) -> Result<Vec<Finding>, AppError> {
    let mut out = Vec::new();
    if scan.wristband != facts.patient_mrn {
        out.push(hard_stop(
            "five_rights.patient",
            format!(
                "wristband {} is not this order's patient (MRN {})",
                scan.wristband, facts.patient_mrn
            ),
        ));
    }
    // Only the bag id on the pharmacy label identifies the bag; a product GTIN does not (it
    // is the same on every bag made from that product). `crate::bag_identity` says what
    // else was scanned.
    let bag_ok = scan.bag.trim() == facts.preparation_id;
    if !bag_ok {
        out.push(hard_stop(
            "five_rights.drug",
            format!("bag {} is not the preparation of this order", scan.bag),
        ));
    }
    if facts.beyond_use_at_us <= facts.now_us {
        out.push(hard_stop(
            "five_rights.beyond_use_date",
            format!(
                "the preparation's beyond-use time {} has passed",
                iso_from_us(facts.beyond_use_at_us)
            ),
        ));
    }
    let given = dose_in(&scan.dose, &facts.dose_unit)?;
    if (given - facts.dose).abs() > facts.dose.abs() * DOSE_TOLERANCE_FRACTION {
        out.push(hard_stop(
            "five_rights.dose",
            format!(
                "dose {} {} differs from the order's {} {}",
                num_text(given),
                facts.dose_unit,
                facts.dose_text,
                facts.dose_unit
            ),
        ));
    }
    if !scan.route.eq_ignore_ascii_case(&facts.route) {
        out.push(hard_stop(
            "five_rights.route",
            format!(
                "route {} differs from the order's {}",
                scan.route, facts.route
            ),
        ));
    }
    out.extend(time_window(facts, scan));
    out.extend(pump_mismatches(facts, scan));
    Ok(out)
}

/// Without an appointment, an order is due within this many hours of its signature (an
/// institutional default: a one-off order not given within a day is reviewed, not given
/// silently).
pub const ORDER_WINDOW_HOURS: i64 = 24;

/// The time against the appointment's window (± `window_min` of its start) or, without an
/// appointment, the order's own (from its signature for [`ORDER_WINDOW_HOURS`]). Outside it,
/// a hard stop (`five_rights.time`) unless the scan gives a reason, then a warning
/// (`five_rights.time_overridden`) that the start records with the reason.
fn time_window(facts: &BedsideFacts, scan: &BedsideScan) -> Option<Finding> {
    let outside = if let Some(start) = facts.appointment_start_at_us {
        let window_us = facts.window_min * 60 * 1_000_000;
        ((facts.now_us - start).abs() > window_us).then(|| {
            format!(
                "now is outside ±{} min of the appointment at {}",
                facts.window_min,
                iso_from_us(start)
            )
        })
    } else {
        let signed = facts.order_signed_at_us?;
        let end = signed + ORDER_WINDOW_HOURS * 3_600 * 1_000_000;
        (facts.now_us > end).then(|| {
            format!(
                "no appointment is booked and the order's own window ({} h from its signature at {}) ended at {}",
                ORDER_WINDOW_HOURS,
                iso_from_us(signed),
                iso_from_us(end)
            )
        })
    }?;
    Some(match &scan.time_override_reason {
        Some(reason) => Finding::new(
            "five_rights.time_overridden",
            Severity::Warning,
            format!("{outside}; started with the reason: {reason}"),
        ),
        None => hard_stop(
            "five_rights.time",
            format!("{outside}; give a reason to start outside the window"),
        ),
    })
}

/// The pump as keyed against the order's rate and volume.
fn pump_mismatches(facts: &BedsideFacts, scan: &BedsideScan) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(r) = facts.ordered_rate
        && (scan.pump_rate.value() - r.value()).abs() > PUMP_RATE_TOLERANCE_ML_PER_H
    {
        out.push(hard_stop(
            "pump.rate_mismatch",
            format!(
                "pump rate {} mL/h differs from the ordered {} mL/h",
                num_text(scan.pump_rate.value()),
                num_text(r.value())
            ),
        ));
    }
    if let Some(v) = facts.ordered_vtbi
        && (scan.pump_vtbi.value() - v.value()).abs() > PUMP_VTBI_TOLERANCE_ML
    {
        out.push(hard_stop(
            "pump.vtbi_mismatch",
            format!(
                "pump VTBI {} mL differs from the ordered {} mL",
                num_text(scan.pump_vtbi.value()),
                num_text(v.value())
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HOUR_US: i64 = 3_600 * 1_000_000;
    const T0: i64 = 1_767_225_600 * 1_000_000; // 2026-01-01T00:00:00Z

    fn facts() -> BedsideFacts {
        BedsideFacts {
            patient_mrn: "MRN-1".into(),
            preparation_id: "prep-1".into(),
            component_gtins: vec!["05012345678900".into()],
            beyond_use_at_us: T0 + 6 * HOUR_US,
            dose: 350.0,
            dose_text: "350".into(),
            dose_unit: "mg".into(),
            route: "IV".into(),
            ordered_rate: Some(VolumeRate::new(125.0)),
            ordered_vtbi: Some(Volume::new(250.0)),
            appointment_start_at_us: Some(T0),
            window_min: 60,
            order_signed_at_us: Some(T0 - HOUR_US),
            now_us: T0 + 10 * 60 * 1_000_000,
        }
    }

    fn scan() -> BedsideScan {
        BedsideScan {
            wristband: "MRN-1".into(),
            bag: "prep-1".into(),
            dose: "350 mg".into(),
            route: "IV".into(),
            pump_rate: VolumeRate::new(125.0),
            pump_vtbi: Volume::new(250.0),
            second_nurse: None,
            time_override_reason: None,
        }
    }

    fn codes(f: &BedsideFacts, s: &BedsideScan) -> Vec<String> {
        five_rights(f, s)
            .map(|v| v.into_iter().map(|f| f.code).collect())
            .unwrap_or_else(|e| vec![format!("error: {e}")])
    }

    #[test]
    #[expect(
        clippy::too_many_lines,
        reason = "one table of five-rights cases, read as a table"
    )]
    fn each_right_is_checked_alone() {
        type Case = (
            &'static str,
            fn(&mut BedsideFacts, &mut BedsideScan),
            &'static [&'static str],
        );
        let cases: &[Case] = &[
            ("all match", |_, _| {}, &[]),
            (
                "other patient",
                |_, s| s.wristband = "MRN-2".into(),
                &["five_rights.patient"],
            ),
            (
                "other bag",
                |_, s| s.bag = "prep-2".into(),
                &["five_rights.drug"],
            ),
            (
                "a component's GTIN in place of the bag id",
                |_, s| s.bag = "05012345678900".into(),
                &["five_rights.drug"],
            ),
            (
                "beyond use",
                |f, _| f.beyond_use_at_us = f.now_us,
                &["five_rights.beyond_use_date"],
            ),
            (
                "dose 10x",
                |_, s| s.dose = "3500 mg".into(),
                &["five_rights.dose"],
            ),
            ("dose in g", |_, s| s.dose = "0.35 g".into(), &[]),
            (
                "dose within rounding",
                |_, s| s.dose = "350.3 mg".into(),
                &[],
            ),
            (
                "dose beyond rounding",
                |_, s| s.dose = "350.4 mg".into(),
                &["five_rights.dose"],
            ),
            ("route case", |_, s| s.route = "iv".into(), &[]),
            (
                "route",
                |_, s| s.route = "SC".into(),
                &["five_rights.route"],
            ),
            (
                "late",
                |f, _| f.now_us = T0 + 61 * 60 * 1_000_000,
                &["five_rights.time"],
            ),
            (
                "edge of window",
                |f, _| f.now_us = T0 - 60 * 60 * 1_000_000,
                &[],
            ),
            (
                "no appointment",
                |f, _| {
                    f.appointment_start_at_us = None;
                    f.now_us = T0 + 5 * HOUR_US;
                },
                &[],
            ),
            (
                "no appointment, beyond the order's own window",
                |f, _| {
                    f.appointment_start_at_us = None;
                    f.order_signed_at_us = Some(T0 - 24 * HOUR_US);
                },
                &["five_rights.time"],
            ),
            (
                "late, with a reason",
                |f, s| {
                    f.now_us = T0 + 3 * HOUR_US;
                    s.time_override_reason = Some("transport delayed".into());
                },
                &["five_rights.time_overridden"],
            ),
            (
                "pump rate",
                |_, s| s.pump_rate = VolumeRate::new(152.0),
                &["pump.rate_mismatch"],
            ),
            (
                "pump vtbi",
                |_, s| s.pump_vtbi = Volume::new(25.0),
                &["pump.vtbi_mismatch"],
            ),
            (
                "no ordered rate",
                |f, s| {
                    f.ordered_rate = None;
                    s.pump_rate = VolumeRate::new(999.0);
                },
                &[],
            ),
            (
                "everything wrong",
                |f, s| {
                    s.wristband = "X".into();
                    s.bag = "Y".into();
                    s.route = "IM".into();
                    s.dose = "35 mg".into();
                    f.now_us = f.beyond_use_at_us + 1;
                },
                &[
                    "five_rights.patient",
                    "five_rights.drug",
                    "five_rights.beyond_use_date",
                    "five_rights.dose",
                    "five_rights.route",
                    "five_rights.time",
                ],
            ),
        ];
        for (name, edit, expected) in cases {
            let (mut f, mut s) = (facts(), scan());
            edit(&mut f, &mut s);
            assert_eq!(codes(&f, &s), *expected, "case {name}");
        }
    }

    #[test]
    fn every_finding_is_a_hard_stop_with_the_numbers_in_its_message() {
        let mut s = scan();
        s.pump_rate = VolumeRate::new(152.0);
        s.dose = "3500 mg".into();
        let found = five_rights(&facts(), &s).expect("readable dose");
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|f| f.severity == Severity::HardStop));
        assert!(found[0].message.contains("3500") && found[0].message.contains("350"));
        assert!(found[1].message.contains("152") && found[1].message.contains("125"));
    }

    #[test]
    fn an_unreadable_or_wrong_kind_dose_is_an_input_error_naming_the_field() {
        for bad in ["lots", "350 mL"] {
            let mut s = scan();
            s.dose = bad.into();
            match five_rights(&facts(), &s) {
                Err(AppError::Invalid(e)) => {
                    assert_eq!(e.field, "dose");
                    assert_eq!(e.value, bad);
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_scan_is_read_strictly_from_json() {
        let ok = json!({"wristband": " MRN-1 ", "bag": "prep-1", "dose": "350 mg", "route": "IV",
                        "pump": {"rate": "125 mL/h", "vtbi": "250 mL"}});
        let s = BedsideScan::try_from(&ok).expect("valid");
        assert_eq!(s.wristband, "MRN-1");
        assert!((s.pump_rate.value() - 125.0).abs() < 1e-9, "{s:?}");
        assert!(s.second_nurse.is_none());
        let mut unknown = ok.clone();
        unknown["colour"] = json!("blue");
        assert!(matches!(
            BedsideScan::try_from(&unknown),
            Err(AppError::Invalid(_))
        ));
        let mut missing = ok.clone();
        missing["bag"] = json!("  ");
        match BedsideScan::try_from(&missing) {
            Err(AppError::Invalid(e)) => assert_eq!(e.field, "bag"),
            other => panic!("{other:?}"),
        }
        let mut no_pump = ok;
        no_pump.as_object_mut().map(|o| o.remove("pump"));
        match BedsideScan::try_from(&no_pump) {
            Err(AppError::Invalid(e)) => assert_eq!(e.field, "pump"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_second_nurses_password_never_appears_in_debug_output() {
        let n = SecondNurse {
            username: "nurse2".into(),
            password: "s3cret-pw".into(),
        };
        let text = format!("{n:?}");
        assert!(
            text.contains("nurse2") && !text.contains("s3cret-pw"),
            "{text}"
        );
    }
}
