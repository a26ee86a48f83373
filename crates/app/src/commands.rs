//! Typed commands of the administration and order-transition steps. Each is read from the
//! JSON API by `TryFrom<&Json>` on the strict `infusio_core::input::Fields` reader (unknown
//! keys refused, every error naming its field), or built directly by a screen.

use infusio_core::input::Fields;
use infusio_core::units::{Amount, Quantity, Volume, VolumeRate, parse_quantity};
use infusio_store::{AdministrationEventKind, AdministrationStatus};
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::AppError;
use crate::orders::{OrderParams, Override, read_overrides};
use crate::patients::opt_instant;
use crate::time::{iso_from_us, parse_date};

/// A reason: trimmed, empty means none; `required` refuses none, naming the field.
pub(crate) fn reason_of(f: &mut Fields, required: bool) -> Result<Option<String>, AppError> {
    let r = f
        .opt_string("reason")?
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if required && r.is_none() {
        return Err(AppError::invalid(
            "reason",
            "",
            "required: why (it goes into the audit trail)",
        ));
    }
    Ok(r)
}

/// An event during an administration: `{"kind", ["rate"], ["grade"], ["detail"]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// rate_change | titration | vitals | reaction | note (a stop is
    /// [`FinishAdministration`]).
    pub kind: AdministrationEventKind,
    /// Required for a rate change or titration step.
    pub rate: Option<VolumeRate>,
    /// Required for a reaction, and only there: a whole CTCAE grade 1–5.
    pub reaction_grade: Option<i64>,
    /// Details: vital signs read with their units and plausibility ranges
    /// ([`crate::vitals::read_vitals`]), a note's text, kept as given otherwise.
    pub detail: Json,
    /// A bolus (`"kind": "bolus"`, recorded as a rate change whose detail names the bolus):
    /// its volume; `rate` is the bolus rate.
    pub bolus: Option<Volume>,
    /// Reasons for the soft limits a rate raises (`[{"code", "reason"}]`), recorded in the
    /// audit event.
    pub overrides: Vec<crate::orders::Override>,
}

impl TryFrom<&Json> for NewEvent {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let kind = f.choice(
            "kind",
            &[
                "rate_change",
                "titration",
                "vitals",
                "reaction",
                "note",
                "bolus",
            ],
        )?;
        let is_bolus = kind == "bolus";
        let kind = if is_bolus {
            AdministrationEventKind::RateChange
        } else {
            AdministrationEventKind::parse(&kind)?
        };
        let bolus = f.opt_quantity(
            "volume",
            "the bolus volume, e.g. '50 mL'",
            Volume::from_quantity,
        )?;
        let overrides = read_overrides(&mut f)?;
        let rate = f.opt_quantity(
            "rate",
            "a rate such as '125 mL/h'",
            VolumeRate::from_quantity,
        )?;
        let grade = f.opt_number("grade")?;
        let mut detail = f.raw("detail").cloned().unwrap_or(json!({}));
        f.finish()?;
        use AdministrationEventKind as K;
        if matches!(kind, K::RateChange | K::Titration) && rate.is_none() {
            return Err(AppError::invalid(
                "rate",
                "",
                "required for a rate change, titration step or bolus (the bolus rate)",
            ));
        }
        match (is_bolus, bolus) {
            (true, None) => {
                return Err(AppError::invalid(
                    "volume",
                    "",
                    "required for a bolus: its volume, e.g. '50 mL'",
                ));
            }
            (false, Some(v)) => {
                return Err(AppError::invalid(
                    "volume",
                    format!("{} mL", v.value()),
                    "only a bolus has a volume",
                ));
            }
            (true, Some(v)) if v.value() <= 0.0 => {
                return Err(AppError::invalid(
                    "volume",
                    format!("{} mL", v.value()),
                    "a bolus volume above 0 mL",
                ));
            }
            _ => {}
        }
        if let (Some(v), Some(d)) = (bolus, detail.as_object_mut()) {
            d.insert("bolus_volume_ml".into(), json!(v.value()));
        }
        if kind == K::Vitals {
            detail = crate::vitals::read_vitals(&detail)?;
        }
        let reaction_grade = match (kind, grade) {
            (K::Reaction, Some(g)) if (1.0..=5.0).contains(&g) && g.fract() == 0.0 => {
                Some(g as i64)
            }
            (K::Reaction, g) => {
                return Err(AppError::invalid(
                    "grade",
                    g.map(|g| g.to_string()).unwrap_or_default(),
                    "required for a reaction: a whole grade from 1 to 5 (CTCAE)",
                ));
            }
            (_, Some(g)) => {
                return Err(AppError::invalid(
                    "grade",
                    g.to_string(),
                    "only a reaction has a grade",
                ));
            }
            (_, None) => None,
        };
        Ok(NewEvent {
            kind,
            rate,
            reaction_grade,
            detail,
            bolus,
            overrides,
        })
    }
}

/// The end of an administration: `{"outcome": "completed" | "stopped" | "discontinued",
/// ["volume_infused": "230 mL"], ["reason"]}`. `stopped` stops this infusion (the order stays
/// and can be given again with a new bag); `discontinued` stops it and discontinues the order.
/// Both need a reason. The volume infused is the nurse's reading of the pump; without it the
/// last volume a pump event reported is used (see [`crate::completion`]).
#[derive(Debug, Clone, PartialEq)]
pub struct FinishAdministration {
    /// Completed or stopped (never in progress).
    pub outcome: AdministrationStatus,
    /// Required when stopped.
    pub reason: Option<String>,
    /// The volume infused as the nurse read it on the pump.
    pub volume_infused: Option<Volume>,
    /// `discontinued`: the order is discontinued as well.
    pub discontinue_order: bool,
}

impl TryFrom<&Json> for FinishAdministration {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let chosen = f.choice("outcome", &["completed", "stopped", "discontinued"])?;
        let outcome = match chosen.as_str() {
            "completed" => AdministrationStatus::Completed,
            _ => AdministrationStatus::Stopped,
        };
        let volume_infused = f.opt_quantity(
            "volume_infused",
            "the volume infused as read on the pump, e.g. '230 mL'",
            Volume::from_quantity,
        )?;
        let reason = reason_of(&mut f, outcome == AdministrationStatus::Stopped)?;
        f.finish()?;
        if let Some(v) = volume_infused
            && !(v.value().is_finite() && v.value() >= 0.0)
        {
            return Err(AppError::invalid(
                "volume_infused",
                format!("{} mL", v.value()),
                "a volume of 0 mL or more",
            ));
        }
        Ok(FinishAdministration {
            outcome,
            reason,
            volume_infused,
            discontinue_order: chosen == "discontinued",
        })
    }
}

/// The body of a hold, release, cancel or discontinue: `{["reason"]}`, and for a release
/// `["overrides"]` (warnings raised by the re-run checks, each with a reason).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TransitionInput {
    pub reason: Option<String>,
    pub overrides: Vec<Override>,
}

impl TryFrom<(crate::OrderStep, &Json)> for TransitionInput {
    type Error = AppError;

    /// Reads the body of `step` (a reason is required where the step table says so; only a
    /// release takes overrides).
    fn try_from((step, input): (crate::OrderStep, &Json)) -> Result<TransitionInput, AppError> {
        let mut f = Fields::new(input, "")?;
        let reason = reason_of(&mut f, step.reason_required())?;
        let overrides = if step == crate::OrderStep::Release {
            read_overrides(&mut f)?
        } else {
            Vec::new()
        };
        f.finish()?;
        Ok(TransitionInput { reason, overrides })
    }
}

/// The body of a signature: `{["overrides"]}` (warnings raised by the re-run checks, each
/// with a reason).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SignInput {
    pub overrides: Vec<Override>,
}

impl TryFrom<&Json> for SignInput {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let overrides = read_overrides(&mut f)?;
        f.finish()?;
        Ok(SignInput { overrides })
    }
}

/// A new order (or its preview): `{"patient_id", <order fields>, ["overrides": [{"code",
/// "reason"}]]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewOrder {
    pub patient_id: String,
    pub params: OrderParams,
    /// Warnings the prescriber overrides, each with a reason.
    pub overrides: Vec<Override>,
}

impl TryFrom<&Json> for NewOrder {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let patient_id = f
            .opt_string("patient_id")?
            .ok_or_else(|| AppError::invalid("patient_id", "", "required: the patient's id"))?;
        let params = OrderParams::read(&mut f)?;
        let overrides = read_overrides(&mut f)?;
        f.finish()?;
        Ok(NewOrder {
            patient_id,
            params,
            overrides,
        })
    }
}

/// A replacement of an order's request: `{<order fields>, ["overrides"], ["reason"]}`.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderEdit {
    pub params: OrderParams,
    pub overrides: Vec<Override>,
    /// Why the order was changed (optional; it goes into the audit trail).
    pub reason: Option<String>,
}

impl TryFrom<&Json> for OrderEdit {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let params = OrderParams::read(&mut f)?;
        let overrides = read_overrides(&mut f)?;
        let reason = reason_of(&mut f, false)?;
        f.finish()?;
        Ok(OrderEdit {
            params,
            overrides,
            reason,
        })
    }
}

/// What the pharmacist decides after entering their own figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decision {
    /// Verify when the figures agree within the tolerance (the default).
    #[default]
    Verify,
    /// Reject whatever the figures.
    Reject,
}

/// A quantity as the pharmacist typed it, kept as typed for the record (`blind_entry`), with
/// the value read from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entered<Q> {
    pub text: String,
    pub quantity: Q,
}

/// A blind verification: `{"dose", ["volume"], ["rate"], ["decision": "verify|reject"],
/// ["note"], ["overrides"]}`: the pharmacist's own figures, entered before they see the
/// prescriber's. A rejection needs a `note`: the reason, which the prescriber reads.
#[derive(Debug, Clone, PartialEq)]
pub struct BlindVerification {
    pub dose: Entered<Amount>,
    pub volume: Option<Entered<Volume>>,
    pub rate: Option<Entered<VolumeRate>>,
    pub decision: Decision,
    pub note: Option<String>,
    /// Warnings raised by the re-run checks, each with a reason.
    pub overrides: Vec<Override>,
}

impl TryFrom<&Json> for BlindVerification {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let dose = f.opt_string("dose")?.ok_or_else(|| {
            AppError::invalid("dose", "", "required: your own dose, e.g. '350 mg'")
        })?;
        let volume = f.opt_string("volume")?;
        let rate = f.opt_string("rate")?;
        let decision = match f.opt_choice("decision", &["verify", "reject"])?.as_deref() {
            Some("reject") => Decision::Reject,
            _ => Decision::Verify,
        };
        let note = f
            .opt_string("note")?
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        if decision == Decision::Reject && note.is_none() {
            return Err(AppError::invalid(
                "note",
                "",
                "required when rejecting: the reason the prescriber will read",
            ));
        }
        let overrides = read_overrides(&mut f)?;
        f.finish()?;
        let dose = Entered {
            quantity: Amount::parse(&dose).map_err(|e| {
                AppError::invalid(
                    "dose",
                    dose.clone(),
                    format!("{e}; expected an amount such as '350 mg'"),
                )
            })?,
            text: dose,
        };
        let volume = volume
            .map(|v| {
                Ok::<_, AppError>(Entered {
                    quantity: Volume::parse(&v).map_err(|e| {
                        AppError::invalid(
                            "volume",
                            v.clone(),
                            format!("{e}; expected a volume such as '250 mL'"),
                        )
                    })?,
                    text: v,
                })
            })
            .transpose()?;
        let rate = rate
            .map(|r| {
                Ok::<_, AppError>(Entered {
                    quantity: VolumeRate::parse(&r).map_err(|e| {
                        AppError::invalid(
                            "rate",
                            r.clone(),
                            format!("{e}; expected a rate such as '125 mL/h'"),
                        )
                    })?,
                    text: r,
                })
            })
            .transpose()?;
        Ok(BlindVerification {
            dose,
            volume,
            rate,
            decision,
            note,
            overrides,
        })
    }
}

/// One product of a preparation, with its lot.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedComponent {
    pub product: String,
    pub gtin: Option<String>,
    pub lot: String,
    /// `YYYY-MM-DD`, checked to be a calendar date.
    pub expiry_date: String,
    /// The quantity used, with its unit as given (`350 mg`, `2 vials` …).
    pub quantity: Quantity,
}

/// The record of a preparation: `{"components": [{"product", ["gtin"], "lot",
/// "expiry_date": "YYYY-MM-DD", "quantity": "350 mg"}], "final_volume": "250 mL",
/// "beyond_use_at": "…Z"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPreparation {
    /// At least one.
    pub components: Vec<PreparedComponent>,
    pub final_volume: Volume,
    /// The beyond-use time, µs since the Unix epoch (UTC).
    pub beyond_use_at_us: i64,
}

impl TryFrom<&Json> for NewPreparation {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let items = f.opt_array("components")?.unwrap_or_default();
        if items.is_empty() {
            return Err(AppError::invalid(
                "components",
                "[]",
                "at least one product with its lot",
            ));
        }
        let components = items
            .into_iter()
            .map(|(path, item)| read_component(&path, item))
            .collect::<Result<Vec<_>, _>>()?;
        let final_volume = f.quantity(
            "final_volume",
            "the final volume, e.g. '250 mL'",
            Volume::from_quantity,
        )?;
        let beyond_use_at_us = opt_instant(&mut f, "beyond_use_at")?.ok_or_else(|| {
            AppError::invalid(
                "beyond_use_at",
                "",
                "required: the beyond-use date and time (UTC)",
            )
        })?;
        f.finish()?;
        if final_volume.value() <= 0.0 {
            return Err(AppError::invalid(
                "final_volume",
                final_volume.value().to_string(),
                "a volume above 0 mL",
            ));
        }
        Ok(NewPreparation {
            components,
            final_volume,
            beyond_use_at_us,
        })
    }
}

fn read_component(path: &str, item: &Json) -> Result<PreparedComponent, AppError> {
    let mut c = Fields::new(item, path)?;
    let req = |c: &mut Fields, k: &str, what: &str| -> Result<String, AppError> {
        let p = c.path_of(k);
        c.opt_string(k)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| AppError::invalid(p, "", format!("required: {what}")))
    };
    let product = req(&mut c, "product", "the product name")?;
    let gtin = c.opt_string("gtin")?.filter(|g| !g.trim().is_empty());
    let lot = req(&mut c, "lot", "the lot number")?;
    let expiry_date = req(&mut c, "expiry_date", "the expiry date YYYY-MM-DD")?;
    parse_date(&format!("{path}.expiry_date"), &expiry_date)?;
    // A GTIN or a scanned GS1 barcode: check digit, and its lot and expiry agree with these.
    let gtin = gtin
        .map(|g| {
            crate::preparation::read_product_scan(&format!("{path}.gtin"), &g, &lot, &expiry_date)
        })
        .transpose()?;
    let quantity_text = req(&mut c, "quantity", "the quantity used, e.g. '350 mg'")?;
    let quantity = parse_quantity(&quantity_text).map_err(|e| {
        AppError::invalid(
            format!("{path}.quantity"),
            quantity_text.clone(),
            e.to_string(),
        )
    })?;
    c.finish()?;
    Ok(PreparedComponent {
        product,
        gtin,
        lot,
        expiry_date,
        quantity,
    })
}

/// A chair booking: `{"patient_id", ["order_id"], "chair", "start_at", "end_at"}` (UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAppointment {
    pub patient_id: String,
    /// The order to be given; booking it moves a prepared order to `scheduled`.
    pub order_id: Option<String>,
    pub chair: String,
    /// µs since the Unix epoch (UTC).
    pub start_at_us: i64,
    /// µs since the Unix epoch (UTC), after the start.
    pub end_at_us: i64,
}

impl TryFrom<&Json> for NewAppointment {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let patient_id = f
            .opt_string("patient_id")?
            .ok_or_else(|| AppError::invalid("patient_id", "", "required"))?;
        let order_id = f.opt_string("order_id")?;
        let chair = f
            .opt_string("chair")?
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| AppError::invalid("chair", "", "required: the chair, e.g. 'C1'"))?;
        let start_at_us = opt_instant(&mut f, "start_at")?
            .ok_or_else(|| AppError::invalid("start_at", "", "required (UTC)"))?;
        let end_at_us = opt_instant(&mut f, "end_at")?
            .ok_or_else(|| AppError::invalid("end_at", "", "required (UTC)"))?;
        f.finish()?;
        if end_at_us <= start_at_us {
            return Err(AppError::invalid(
                "end_at",
                iso_from_us(end_at_us),
                "a time after start_at",
            ));
        }
        Ok(NewAppointment {
            patient_id,
            order_id,
            chair,
            start_at_us,
            end_at_us,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(r: Result<impl std::fmt::Debug, AppError>) -> String {
        match r {
            Err(AppError::Invalid(e)) => e.field,
            other => format!("not an input error: {other:?}"),
        }
    }

    #[test]
    fn an_event_is_read_strictly_and_each_rule_names_its_field() {
        let ok = NewEvent::try_from(&json!({"kind": "reaction", "grade": 2}));
        assert_eq!(ok.ok().and_then(|e| e.reaction_grade), Some(2));
        let cases = [
            (json!({"kind": "rate_change"}), "rate"),
            (json!({"kind": "titration"}), "rate"),
            (json!({"kind": "reaction"}), "grade"),
            (json!({"kind": "reaction", "grade": 6}), "grade"),
            (json!({"kind": "reaction", "grade": 1.5}), "grade"),
            (json!({"kind": "note", "grade": 1}), "grade"),
            (json!({"kind": "stop"}), "kind"),
            (json!({"kind": "note", "colour": "red"}), "colour"),
        ];
        for (input, field) in cases {
            assert_eq!(field_of(NewEvent::try_from(&input)), field, "{input}");
        }
    }

    #[test]
    fn a_stop_needs_a_reason_and_a_completion_does_not() {
        let done = FinishAdministration::try_from(&json!({"outcome": "completed"}));
        assert_eq!(
            done.ok().map(|d| d.outcome),
            Some(AdministrationStatus::Completed)
        );
        assert_eq!(
            field_of(FinishAdministration::try_from(
                &json!({"outcome": "stopped", "reason": "  "})
            )),
            "reason"
        );
    }

    #[test]
    fn transitions_read_their_reason_and_only_release_takes_overrides() {
        use crate::OrderStep as O;
        assert_eq!(
            field_of(TransitionInput::try_from((O::Hold, &json!({})))),
            "reason"
        );
        assert!(TransitionInput::try_from((O::Release, &json!({}))).is_ok());
        let with_overrides = json!({"overrides": [{"code": "dose.above_soft_max", "reason": "a reviewed exception"}]});
        assert_eq!(
            TransitionInput::try_from((O::Release, &with_overrides))
                .map(|t| t.overrides.len())
                .ok(),
            Some(1)
        );
        assert_eq!(
            field_of(TransitionInput::try_from((
                O::Cancel,
                &json!({"reason": "x", "overrides": []})
            ))),
            "overrides"
        );
    }
}
