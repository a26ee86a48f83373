//! The order lifecycle: draft → signed → verified → prepared → scheduled → in progress →
//! completed, with held, cancelled and discontinued. Each step checks the actor's role, the
//! order's state and version, re-runs the safety checks where the issue asks for it, and writes
//! its rows and audit events in one transaction.

use infusio_core::units::{Volume, VolumeRate};
use infusio_store::records::{
    Administration, AdministrationEvent, Appointment, Order, Patient, Preparation,
    PreparationComponent, Verification,
};
use infusio_store::{
    AdministrationStatus, AppointmentStatus, Change, IdempotencyRow, OrderStatus,
    PreparationStatus, Role, Stored, Tx, VerificationOutcome,
};
use serde::Serialize;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

use crate::bedside::{BedsideFacts, BedsideScan, five_rights};
use crate::commands::{
    BlindVerification, Decision, FinishAdministration, NewAppointment, NewEvent, NewOrder,
    NewPreparation, OrderEdit, SignInput, TransitionInput,
};
use crate::db::text;
use crate::order_origin::OrderLink;
use crate::orders::{
    ActiveOrder, CalculationRecord, ChosenSchedule, Computed, InputProblem, OrderParams, OrderSeen,
    OrderView, OverrideRecord, PumpProgramme, apply_overrides, findings_json, num_text,
    pump_programme, stored, to_column,
};
use crate::patients::{decimal, number};
use crate::steps::OrderStep;
use crate::time::{iso_from_us, parse_date};
use crate::{Action, Actor, App, AppError};

use OrderStatus as S;

/// One product of a recalled lot: who received it, through which order and preparation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LotTrace {
    pub patient_id: String,
    pub order_id: String,
    pub preparation_id: String,
    pub product: String,
    pub lot: String,
    pub preparation_status: PreparationStatus,
}

/// The result of a create: the order, and whether it was an earlier submit replayed under the
/// same idempotency key.
#[derive(Debug, Clone)]
pub struct Created {
    pub order: Stored<Order>,
    pub replayed: bool,
}

/// The preview of an order before it is created: the engine's figures and findings.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub computed: Computed,
}

/// The answer to a blind verification: the pharmacist's figures, then the prescriber's and
/// the differences.
#[derive(Debug, Clone, Serialize)]
pub struct VerificationResult {
    /// `verified`, or `rejected` when the figures differ beyond the tolerance or the
    /// pharmacist rejected the order.
    pub outcome: VerificationOutcome,
    pub tolerance_percent: f64,
    pub differences: Vec<Difference>,
    pub order: OrderView,
    pub verification_id: String,
}

fn change(actor: &Actor, action: Action, name: &str) -> Result<(Change, Role), AppError> {
    let role = actor.permit(action)?;
    Ok((Change::by(&actor.user_id, role.as_str()).action(name), role))
}

fn need_version(v: Option<i64>) -> Result<i64, AppError> {
    v.ok_or(AppError::VersionRequired)
}

async fn load_order(tx: &mut Tx, id: &str) -> Result<Stored<Order>, AppError> {
    tx.get::<Order>(id)
        .await?
        .ok_or_else(|| AppError::NotFound {
            entity: "order",
            id: id.to_string(),
        })
}

fn check_version(o: &Stored<Order>, expected: i64) -> Result<(), AppError> {
    if o.version != expected {
        return Err(AppError::Stale {
            entity: "order",
            id: o.id.clone(),
            expected,
            current: o.version,
        });
    }
    Ok(())
}

fn require_state(o: &Stored<Order>, allowed: &[OrderStatus], step: &str) -> Result<(), AppError> {
    if allowed.contains(&o.data.status) {
        Ok(())
    } else {
        Err(AppError::state(
            "order.invalid_state",
            format!(
                "cannot {step} an order that is {}; allowed from: {}",
                o.data.status,
                allowed
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ))
    }
}

fn params_of(o: &Stored<Order>) -> Result<OrderParams, AppError> {
    stored(&o.id, "request", &o.data.derivation_json["request"])
}

fn overrides_of(o: &Stored<Order>) -> Result<Vec<OverrideRecord>, AppError> {
    stored(&o.id, "overrides", &o.data.overrides_json)
}

fn request_hash(v: &NewOrder) -> Result<String, AppError> {
    let digest = Sha256::digest(to_column(v)?.to_string().as_bytes());
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn quantity_in(field: &str, given: &str, unit: &str) -> Result<f64, AppError> {
    let q = infusio_core::units::parse_quantity(given).map_err(|e| {
        AppError::invalid(field, given, format!("{e}; expected a quantity in {unit}"))
    })?;
    q.value_in(unit).map_err(|e| {
        AppError::invalid(
            field,
            given,
            format!("{e}; expected a quantity convertible to {unit}"),
        )
    })
}

/// One figure of a blind verification: the pharmacist's, the prescriber's, and how far apart
/// they are (percent of the prescriber's figure).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// `dose`, `volume` or `rate`; `dose_recomputed` for a formula dose (target AUC, factor
    /// rise): the pharmacist's dose against the formula recomputed at verification.
    pub field: &'static str,
    pub pharmacist: f64,
    pub prescriber: Option<f64>,
    pub unit: String,
    /// `None` when the prescriber's figure is absent or zero.
    pub difference_percent: Option<f64>,
    pub within_tolerance: bool,
}

fn diff(
    field: &'static str,
    mine: f64,
    theirs: Option<f64>,
    unit: &str,
    tolerance: f64,
) -> Difference {
    let pct = theirs.filter(|t| *t != 0.0).map(|t| (mine - t) / t * 100.0);
    Difference {
        field,
        pharmacist: mine,
        prescriber: theirs,
        unit: unit.to_string(),
        difference_percent: pct,
        within_tolerance: match pct {
            Some(p) => p.abs() <= tolerance,
            None => theirs.is_none(),
        },
    }
}

impl App {
    /// The patient's other active orders, for the duplicate-therapy check. Reads only the
    /// four columns it needs (an order row carries its whole derivation).
    pub(crate) async fn active_orders_of(
        &self,
        patient_id: &str,
        except: Option<&str>,
    ) -> Result<Vec<ActiveOrder>, AppError> {
        let mut tx = self.store().begin_snapshot().await?;
        let rows = tx.active_order_summaries(patient_id).await?;
        tx.rollback().await?;
        Ok(rows
            .iter()
            .filter(|r| Some(r.id.as_str()) != except)
            .map(|r| ActiveOrder {
                medication: r.drug_id.clone(),
                dose: format!("{} {}", r.dose, r.dose_unit),
                route: r.route.clone(),
            })
            .collect())
    }

    /// Runs the engine on an order request without storing anything (the screen's live
    /// derivation); the command's overrides are not needed for a preview.
    pub async fn preview_order(
        &self,
        actor: &Actor,
        input: &NewOrder,
    ) -> Result<Preview, AppError> {
        actor.permit(Action::CreateOrder)?;
        let now = self.now_us();
        let ctx = self.context(&input.patient_id, now).await?;
        let active = self.active_orders_of(&input.patient_id, None).await?;
        Ok(Preview {
            computed: self.compute(&ctx, &input.params, &active, now, None)?,
        })
    }

    /// Creates a draft order. The dose comes from the engine; a hard stop blocks; each warning needs an
    /// override with a reason. With an idempotency key, a retried submit returns the first
    /// order instead of making a second.
    pub async fn create_order(
        &self,
        actor: &Actor,
        input: &NewOrder,
        idempotency_key: Option<&str>,
    ) -> Result<Created, AppError> {
        self.create_order_linked(actor, input, idempotency_key, OrderLink::default())
            .await
    }

    /// [`App::create_order`] for an order made from a plan or a recommendation: the same
    /// checks, with the therapy plan it belongs to and its origin kept in the derivation.
    pub(crate) async fn create_order_linked(
        &self,
        actor: &Actor,
        input: &NewOrder,
        idempotency_key: Option<&str>,
        link: OrderLink,
    ) -> Result<Created, AppError> {
        let (change, role) = change(actor, Action::CreateOrder, "order.create")?;
        if let Some(k) = idempotency_key
            && (k.is_empty() || k.len() > 200)
        {
            return Err(AppError::invalid(
                "Idempotency-Key",
                k,
                "1 to 200 characters",
            ));
        }
        let idem = match idempotency_key {
            Some(k) => Some((format!("{}:{k}", actor.user_id), request_hash(input)?)),
            None => None,
        };
        if let Some((key, hash)) = &idem
            && let Some(existing) = self.replay(key, hash).await?
        {
            return Ok(Created {
                order: existing,
                replayed: true,
            });
        }
        let NewOrder {
            patient_id,
            params,
            overrides,
        } = input;
        crate::roles::permit_off_library(actor, params)?;
        let now = self.now_us();
        let ctx = self.context(patient_id, now).await?;
        let active = self.active_orders_of(patient_id, None).await?;
        let mut computed = self.compute(&ctx, params, &active, now, None)?;
        computed.derivation.origin = link.origin;
        let overrides = apply_overrides(&computed, overrides, &[], actor, role.as_str(), now)?;
        let derivation = to_column(&computed.derivation)?;
        let row = Order {
            patient_id: patient_id.clone(),
            therapy_plan_id: link.therapy_plan_id,
            drug_id: params.medication.clone(),
            dose: decimal(computed.dose)?,
            dose_unit: computed.dose_unit.clone(),
            route: params.route.clone(),
            final_volume_ml: computed.volume_ml.map(decimal).transpose()?,
            rate_ml_per_h: computed.rate_ml_per_h.map(decimal).transpose()?,
            status: S::Draft,
            prescriber_id: actor.user_id.clone(),
            signed_at_us: None,
            high_alert: computed.double_check,
            pump_programme_json: to_column(&pump_programme(&computed))?,
            derivation_json: derivation.clone(),
            findings_json: to_column(&computed.findings)?,
            overrides_json: to_column(&overrides)?,
        };
        let mut tx = self.store().begin().await?;
        if let Some((key, hash)) = &idem {
            // Under the writer lock (SQLite) or the unique key (PostgreSQL): a concurrent twin
            // that committed first is found here, or makes our insert fail below.
            if let Some(id) = Self::idem_lookup(&mut tx, key, hash).await? {
                let order = load_order(&mut tx, &id).await?;
                tx.rollback().await?;
                return Ok(Created {
                    order,
                    replayed: true,
                });
            }
        }
        let order = tx.insert(&change.derivation(derivation), row).await?;
        if let Some((key, hash)) = &idem {
            let row = IdempotencyRow {
                entity_id: order.id.clone(),
                request_hash: hash.clone(),
            };
            if !tx.insert_idempotency(key, &row, now).await? {
                tx.rollback().await?;
                return match self.replay(key, hash).await? {
                    Some(order) => Ok(Created {
                        order,
                        replayed: true,
                    }),
                    None => Err(AppError::Internal("idempotency key vanished".into())),
                };
            }
        }
        tx.commit().await?;
        Ok(Created {
            order,
            replayed: false,
        })
    }

    async fn idem_lookup(tx: &mut Tx, key: &str, hash: &str) -> Result<Option<String>, AppError> {
        match tx.idempotency(key).await? {
            None => Ok(None),
            Some(r) if r.request_hash == hash => Ok(Some(r.entity_id)),
            Some(_) => Err(AppError::Conflict(
                "this Idempotency-Key was already used for a different request; use a new key for a new order".into(),
            )),
        }
    }

    async fn replay(&self, key: &str, hash: &str) -> Result<Option<Stored<Order>>, AppError> {
        let mut tx = self.store().begin_snapshot().await?;
        let found = match Self::idem_lookup(&mut tx, key, hash).await? {
            Some(id) => Some(load_order(&mut tx, &id).await?),
            None => None,
        };
        tx.rollback().await?;
        Ok(found)
    }

    /// One order as `actor` may see it (blind for a pharmacist before verification).
    pub async fn get_order(&self, actor: &Actor, id: &str) -> Result<(OrderSeen, i64), AppError> {
        actor.permit(Action::ReadClinical)?;
        let o = self
            .store()
            .get::<Order>(id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                entity: "order",
                id: id.into(),
            })?;
        self.record_access(actor, &o.data.patient_id, "order", Some(&o.id))
            .await?;
        Ok((OrderSeen::for_actor(actor, &o)?, o.version))
    }

    /// Orders, optionally of one status or one patient, newest first (at most 500).
    pub async fn list_orders(
        &self,
        actor: &Actor,
        status: Option<&str>,
        patient_id: Option<&str>,
    ) -> Result<Vec<OrderSeen>, AppError> {
        actor.permit(Action::ReadClinical)?;
        let status = status.map(OrderStatus::parse).transpose()?;
        let mut tx = self.store().begin_snapshot().await?;
        let orders = match (status, patient_id) {
            (_, Some(p)) => tx.find_by::<Order>("patient_id", text(p)).await?,
            (Some(s), None) => tx.find_by::<Order>("status", text(s.as_str())).await?,
            (None, None) => tx.list::<Order>().await?,
        };
        tx.rollback().await?;
        orders
            .iter()
            .rev()
            .filter(|o| status.is_none_or(|s| o.data.status == s))
            .take(500)
            .map(|o| OrderSeen::for_actor(actor, o))
            .collect()
    }

    /// Replaces an order's request and recomputes it. A
    /// draft stays a draft; an order that was signed, verified, prepared or scheduled returns to
    /// `signed` (signed by the editing prescriber) and must be verified again.
    pub async fn edit_order(
        &self,
        actor: &Actor,
        id: &str,
        version: Option<i64>,
        input: &OrderEdit,
    ) -> Result<Stored<Order>, AppError> {
        let (change, role) = change(actor, Action::EditOrder, "order.edit")?;
        let version = need_version(version)?;
        let OrderEdit {
            params,
            overrides,
            reason,
        } = input;
        crate::roles::permit_off_library(actor, params)?;
        let current = self
            .store()
            .get::<Order>(id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                entity: "order",
                id: id.into(),
            })?;
        check_version(&current, version)?;
        require_state(&current, OrderStep::Edit.allowed_from(), "edit")?;
        let now = self.now_us();
        let ctx = self.context(&current.data.patient_id, now).await?;
        let active = self
            .active_orders_of(&current.data.patient_id, Some(id))
            .await?;
        let mut computed = self.compute(&ctx, params, &active, now, None)?;
        computed.derivation.origin = crate::order_origin::origin_of(&current)?;
        let overrides = apply_overrides(
            &computed,
            overrides,
            &overrides_of(&current)?,
            actor,
            role.as_str(),
            now,
        )?;
        let status = if current.data.status == S::Draft {
            S::Draft
        } else {
            S::Signed
        };
        let mut row = current.data.clone();
        row.drug_id = params.medication.clone();
        row.dose = decimal(computed.dose)?;
        row.dose_unit = computed.dose_unit.clone();
        row.route = params.route.clone();
        row.final_volume_ml = computed.volume_ml.map(decimal).transpose()?;
        row.rate_ml_per_h = computed.rate_ml_per_h.map(decimal).transpose()?;
        row.status = status;
        row.prescriber_id = actor.user_id.clone();
        row.signed_at_us = if status == S::Signed { Some(now) } else { None };
        row.high_alert = computed.double_check;
        row.pump_programme_json = to_column(&pump_programme(&computed))?;
        row.derivation_json = to_column(&computed.derivation)?;
        row.findings_json = to_column(&computed.findings)?;
        row.overrides_json = to_column(&overrides)?;
        let mut change = change.derivation(row.derivation_json.clone());
        if let Some(r) = reason {
            change = change.reason(r.clone());
        }
        let mut tx = self.store().begin().await?;
        let updated = tx.update(&change, id, version, row).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Re-runs the checks with the patient as recorded now (the day's labs and weight) and
    /// refuses the step with `code` when a hard stop is raised — e.g. a creatinine drawn this
    /// morning that now puts the dose over its renal limit.
    async fn recheck_blocking(
        &self,
        o: &Stored<Order>,
        code: &'static str,
        step: &str,
    ) -> Result<Computed, AppError> {
        let computed = self.recheck(o).await?;
        let hard = computed.hard_stops();
        if !hard.is_empty() {
            return Err(AppError::Blocked {
                code,
                message: format!(
                    "the checks, re-run {step} with the patient's latest labs and measures, raise a hard stop: {}",
                    hard.iter()
                        .map(|f| f.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                findings: findings_json(&hard),
            });
        }
        Ok(computed)
    }

    /// Re-runs the checks on an order's stored figures with the patient as recorded now.
    pub(crate) async fn recheck(&self, o: &Stored<Order>) -> Result<Computed, AppError> {
        let params = params_of(o)?;
        let now = self.now_us();
        let ctx = self.context(&o.data.patient_id, now).await?;
        let active = self
            .active_orders_of(&o.data.patient_id, Some(&o.id))
            .await?;
        self.compute(
            &ctx,
            &params,
            &active,
            now,
            Some((number(&o.data.dose), &o.data.dose_unit)),
        )
    }

    /// Signs a draft (its prescriber only): `{["overrides"]}`. The checks run again first.
    pub async fn sign_order(
        &self,
        actor: &Actor,
        id: &str,
        version: Option<i64>,
        input: &SignInput,
    ) -> Result<Stored<Order>, AppError> {
        let (change, role) = change(actor, Action::SignOrder, "order.sign")?;
        let version = need_version(version)?;
        let overrides = input.overrides.clone();
        let o = self
            .store()
            .get::<Order>(id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                entity: "order",
                id: id.into(),
            })?;
        if o.data.prescriber_id != actor.user_id {
            return Err(AppError::forbidden(
                "sign an order",
                "only the order's prescriber signs it",
            ));
        }
        check_version(&o, version)?;
        require_state(&o, OrderStep::Sign.allowed_from(), "sign")?;
        crate::roles::permit_off_library(actor, &params_of(&o)?)?;
        self.refuse_stale_formula_dose(&o, "sign").await?;
        let computed = self.recheck(&o).await?;
        let now = self.now_us();
        let overrides = apply_overrides(
            &computed,
            &overrides,
            &overrides_of(&o)?,
            actor,
            role.as_str(),
            now,
        )?;
        let mut row = o.data.clone();
        row.status = S::Signed;
        row.signed_at_us = Some(now);
        row.findings_json = to_column(&computed.findings)?;
        row.overrides_json = to_column(&overrides)?;
        let mut tx = self.store().begin().await?;
        let updated = tx.update(&change, id, version, row).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Blind verification by a pharmacist who is not the prescriber. The pharmacist's own
    /// figures are recorded first; the answer then shows the prescriber's and the differences.
    /// Within the tolerance (and with no hard stop on re-check) the order becomes `verified`;
    /// otherwise the verification is recorded as `rejected` and the order stays `signed` (for
    /// another pharmacist). An explicit rejection (`decision: reject`, with its reason) returns
    /// the order to its prescriber as a `draft` (`order.reject` in the audit trail). A pharmacist
    /// whose verification of the current signature did not verify it has seen the
    /// prescriber's figures and may not verify that signature again
    /// (`verification.figures_seen`): a different pharmacist, or a new signature, is needed.
    pub async fn verify_order(
        &self,
        actor: &Actor,
        id: &str,
        version: Option<i64>,
        input: &BlindVerification,
    ) -> Result<VerificationResult, AppError> {
        let (change, role) = change(actor, Action::VerifyOrder, "order.verify")?;
        let version = need_version(version)?;
        let o = self
            .store()
            .get::<Order>(id)
            .await?
            .ok_or_else(|| AppError::NotFound {
                entity: "order",
                id: id.into(),
            })?;
        if o.data.prescriber_id == actor.user_id {
            return Err(AppError::forbidden(
                "verify an order",
                "separation of duties: the prescriber of an order cannot verify it",
            ));
        }
        check_version(&o, version)?;
        require_state(&o, OrderStep::Verify.allowed_from(), "verify")?;
        self.refuse_seen_figures(actor, &o).await?;
        let recomputed = self.refuse_stale_formula_dose(&o, "verify").await?;
        let tol = self.config().verification_tolerance_percent;
        let differences = differences_with_formula(&o, input, tol, recomputed.as_ref())?;
        let agree = differences.iter().all(|d| d.within_tolerance);
        let now = self.now_us();
        let verified = agree && input.decision == Decision::Verify;
        let mut row = o.data.clone();
        if verified {
            let computed = self.recheck(&o).await?;
            let overrides = apply_overrides(
                &computed,
                &input.overrides,
                &overrides_of(&o)?,
                actor,
                role.as_str(),
                now,
            )?;
            row.overrides_json = to_column(&overrides)?;
            row.findings_json = to_column(&computed.findings)?;
            row.status = S::Verified;
            let mut programme: PumpProgramme =
                stored(&o.id, "pump programme", &o.data.pump_programme_json)?;
            self.store_titration(&o, &mut programme, now).await?;
            row.pump_programme_json = to_column(&programme)?;
        }
        let returned = input.decision == Decision::Reject;
        if returned {
            // An explicit rejection returns the order to its prescriber: a draft again, to be
            // edited and signed anew; the reason goes with the audit event.
            row.status = S::Draft;
            row.signed_at_us = None;
        }
        let blind_entry = json!({
            "dose": input.dose.text,
            "volume": input.volume.as_ref().map(|v| &v.text),
            "rate": input.rate.as_ref().map(|r| &r.text),
            "decision": if returned { "reject" } else { "verify" },
            "order_version": version,
        });
        let outcome = if verified {
            VerificationOutcome::Verified
        } else {
            VerificationOutcome::Rejected
        };
        let mut tx = self.store().begin().await?;
        let v = tx
            .insert(
                &Change::by(&actor.user_id, role.as_str()).action("verification.record"),
                Verification {
                    order_id: id.to_string(),
                    pharmacist_id: actor.user_id.clone(),
                    verified_at_us: now,
                    outcome,
                    blind_entry_json: blind_entry,
                    differences_json: to_column(&differences)?,
                    note: input.note.clone(),
                },
            )
            .await?;
        let order = if verified {
            tx.update(&change, id, version, row).await?
        } else if returned {
            let change = Change::by(&actor.user_id, role.as_str())
                .action("order.reject")
                .reason(input.note.clone().unwrap_or_default());
            tx.update(&change, id, version, row).await?
        } else {
            // The order is unchanged; lock its version so a concurrent edit is not missed.
            let current = tx.get_for_update::<Order>(id).await?;
            check_version(&current, version)?;
            current
        };
        tx.commit().await?;
        Ok(VerificationResult {
            outcome,
            tolerance_percent: tol,
            differences,
            order: OrderView::full(&order)?,
            verification_id: v.id,
        })
    }

    /// Computes the library's titration schedule for a verified order once, with the weight
    /// recorded at verification and the order's bag, and keeps it in the order's pump
    /// programme (`titration`: the calculation with its derivation; `titration_error`: why it
    /// could not be computed). The bedside reads it from there: it is never recomputed with a
    /// later weight. Drugs without a titration schedule get neither key.
    pub(crate) async fn store_titration(
        &self,
        o: &Stored<Order>,
        programme: &mut PumpProgramme,
        now: i64,
    ) -> Result<(), AppError> {
        let Some(entry) = self.library().get(&o.data.drug_id) else {
            return Ok(());
        };
        let Some(first) = entry.titration.first() else {
            return Ok(());
        };
        let params = params_of(o)?;
        let product = params
            .product
            .clone()
            .or_else(|| first.products.first().cloned());
        let mut input = json!({
            "medication": o.data.drug_id,
            "dose": format!("{} {}", o.data.dose, o.data.dose_unit),
        });
        let chosen = match crate::titrated::ordered_schedule(self.library(), &params)? {
            Some(ordered) => Some(ordered),
            None => choose_schedule(&entry.titration, product.as_deref(), params.infusion_number),
        };
        if let Some(p) = product {
            input["product"] = json!(p);
        }
        if let Some(v) = &o.data.final_volume_ml {
            input["final_volume"] = json!(format!("{v} mL"));
        }
        if let Some((id, why)) = &chosen {
            input["schedule"] = json!(id);
            programme.titration_schedule = Some(ChosenSchedule {
                id: id.clone(),
                chosen_by: why.clone(),
            });
        }
        let ctx = self.context(&o.data.patient_id, now).await?;
        if let Some((w, _)) = ctx.weight_kg {
            input["weight"] = json!(format!("{} kg", num_text(w)));
        }
        let outcome =
            infusio_core::calc::run_with_library("titration", &input, Some(self.library()));
        match outcome {
            Ok(c) => programme.titration = Some(CalculationRecord::of(&c)?),
            Err(e) => {
                programme.titration_error = Some(InputProblem {
                    field: e.field,
                    value: e.value,
                    message: e.message,
                });
            }
        }
        Ok(())
    }

    /// Moves an order to `to` for a simple step (hold, release, cancel, discontinue):
    /// `{["reason"]}`; release also takes `["overrides"]`. Release of a held order re-runs the
    /// checks with the patient's latest labs and measures: a hard stop blocks
    /// (`order.hard_stop`), a warning not overridden before needs an override with a reason.
    pub async fn transition(
        &self,
        actor: &Actor,
        id: &str,
        version: Option<i64>,
        order_step: OrderStep,
        input: &TransitionInput,
    ) -> Result<Stored<Order>, AppError> {
        let step = order_step.as_str();
        let from = order_step.allowed_from();
        let to = match order_step {
            OrderStep::Hold | OrderStep::Release | OrderStep::Cancel | OrderStep::Discontinue => {
                order_step.leads_to()
            }
            _ => None,
        }
        .ok_or_else(|| {
            AppError::invalid("step", step, "one of hold, release, cancel, discontinue")
        })?;
        let (change, role) = change(actor, order_step.action(), &format!("order.{step}"))?;
        let version = need_version(version)?;
        let reason = input.reason.clone();
        let overrides = input.overrides.clone();
        // Release of a held order back to the pharmacy: the checks run again with the day's
        // labs and weight first; a hard stop blocks, a new warning needs an override.
        let released = if order_step == OrderStep::Release {
            let current =
                self.store()
                    .get::<Order>(id)
                    .await?
                    .ok_or_else(|| AppError::NotFound {
                        entity: "order",
                        id: id.into(),
                    })?;
            check_version(&current, version)?;
            require_state(&current, from, step)?;
            let computed = self
                .recheck_blocking(&current, "order.hard_stop", "at release")
                .await?;
            let overrides = apply_overrides(
                &computed,
                &overrides,
                &overrides_of(&current)?,
                actor,
                role.as_str(),
                self.now_us(),
            )?;
            Some((to_column(&computed.findings)?, to_column(&overrides)?))
        } else {
            None
        };
        let mut tx = self.store().begin().await?;
        let o = load_order(&mut tx, id).await?;
        check_version(&o, version)?;
        require_state(&o, from, step)?;
        let mut row = o.data.clone();
        row.status = to;
        if let Some((findings, overrides_json)) = released {
            row.findings_json = findings;
            row.overrides_json = overrides_json;
        }
        let change = match reason {
            Some(r) => change.reason(r),
            None => change,
        };
        let updated = tx.update(&change, id, version, row).await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Records the preparation of a verified order. An expired component blocks. The order
    /// becomes `prepared`, or `scheduled` when an appointment is already booked for it.
    pub async fn prepare(
        &self,
        actor: &Actor,
        order_id: &str,
        version: Option<i64>,
        input: &NewPreparation,
    ) -> Result<(Stored<Preparation>, Stored<Order>), AppError> {
        let (change, role) = change(actor, Action::Prepare, "preparation.record")?;
        let version = need_version(version)?;
        let now = self.now_us();
        let today = crate::time::date_from_us(now);
        for c in &input.components {
            if c.expiry_date < today {
                let message = format!("{} lot {} expired on {}", c.product, c.lot, c.expiry_date);
                return Err(AppError::Blocked {
                    code: "preparation.expired_component",
                    message: message.clone(),
                    findings: json!([{"code": "preparation.expired_component", "severity": "hard_stop", "message": message}]),
                });
            }
        }
        self.check_recalls(&input.components).await?;
        let final_volume = input.final_volume;
        let bud = input.beyond_use_at_us;
        if bud <= now {
            return Err(AppError::invalid(
                "beyond_use_at",
                iso_from_us(bud),
                "a time after now",
            ));
        }
        // Release to preparation: the checks run again with the day's labs and weight; a new
        // hard stop blocks compounding.
        if let Some(current) = self.store().get::<Order>(order_id).await? {
            check_version(&current, version)?;
            require_state(&current, OrderStep::Prepare.allowed_from(), "prepare")?;
            self.recheck_blocking(
                &current,
                "preparation.hard_stop",
                "at release to preparation",
            )
            .await?;
        }
        let mut tx = self.store().begin().await?;
        let o = load_order(&mut tx, order_id).await?;
        check_version(&o, version)?;
        require_state(&o, OrderStep::Prepare.allowed_from(), "prepare")?;
        self.check_contents(&o, input)?;
        let concentration = number(&o.data.dose) / final_volume.value();
        let prep = tx
            .insert(
                &change,
                Preparation {
                    order_id: order_id.to_string(),
                    prepared_by: actor.user_id.clone(),
                    checked_by: None,
                    prepared_at_us: now,
                    beyond_use_at_us: bud,
                    final_volume_ml: decimal(final_volume.value())?,
                    concentration: decimal(concentration)?,
                    concentration_unit: format!("{}/mL", o.data.dose_unit),
                    status: PreparationStatus::Prepared,
                    waste_json: None,
                },
            )
            .await?;
        for c in &input.components {
            tx.insert(
                &change,
                PreparationComponent {
                    preparation_id: prep.id.clone(),
                    product: c.product.clone(),
                    gtin: c.gtin.clone(),
                    lot: c.lot.clone(),
                    expiry_date: c.expiry_date.clone(),
                    quantity: decimal(c.quantity.value)?,
                    quantity_unit: c.quantity.unit.spelling(),
                },
            )
            .await?;
        }
        let booked = tx
            .find_by::<Appointment>("order_id", text(order_id))
            .await?
            .iter()
            .any(|a| a.data.status == "booked");
        let mut row = o.data.clone();
        row.status = if booked { S::Scheduled } else { S::Prepared };
        let order = tx
            .update(
                &Change::by(&actor.user_id, role.as_str()).action("order.prepared"),
                order_id,
                version,
                row,
            )
            .await?;
        tx.commit().await?;
        Ok((prep, order))
    }

    /// Refuses a preparation whose drug, total amount or final volume differs from the
    /// verified order (beyond `preparation_tolerance_percent`), naming each difference.
    fn check_contents(&self, o: &Stored<Order>, input: &NewPreparation) -> Result<(), AppError> {
        let ordered = crate::preparation::OrderedContents {
            drug_id: o.data.drug_id.clone(),
            dose: number(&o.data.dose),
            dose_unit: o.data.dose_unit.clone(),
            final_volume_ml: o.data.final_volume_ml.as_ref().map(number),
        };
        let tolerance = self.config().preparation_tolerance_percent;
        let entry = self.library().get(&o.data.drug_id);
        let found = crate::preparation::differences(&ordered, entry, input, tolerance);
        if found.is_empty() {
            return Ok(());
        }
        let message = found
            .iter()
            .map(|d| format!("{}: expected {}, found {}", d.field, d.expected, d.found))
            .collect::<Vec<_>>()
            .join("; ");
        let findings = found
            .iter()
            .map(|d| {
                json!({"code": "preparation.mismatch", "severity": "hard_stop",
                       "field": d.field, "expected": d.expected, "found": d.found,
                       "message": format!("{}: expected {}, found {}", d.field, d.expected, d.found)})
            })
            .collect::<Vec<_>>();
        Err(AppError::Blocked {
            code: "preparation.mismatch",
            message: format!("the preparation does not match the verified order: {message}"),
            findings: Json::Array(findings),
        })
    }

    /// Books a chair. A chair is never double-booked. A prepared order becomes `scheduled`.
    pub async fn book_appointment(
        &self,
        actor: &Actor,
        input: &NewAppointment,
    ) -> Result<Stored<Appointment>, AppError> {
        let (change, role) = change(actor, Action::BookAppointment, "appointment.book")?;
        let NewAppointment {
            patient_id,
            order_id,
            chair,
            start_at_us: start,
            end_at_us: end,
        } = input.clone();
        let mut tx = self.store().begin().await?;
        if tx.get::<Patient>(&patient_id).await?.is_none() {
            return Err(AppError::NotFound {
                entity: "patient",
                id: patient_id,
            });
        }
        let clash = tx.chair_bookings_overlapping(&chair, start, end).await?;
        if !clash.is_empty() {
            return Err(AppError::Conflict(format!(
                "chair {chair} is already booked in that time"
            )));
        }
        let appointment = tx
            .insert(
                &change,
                Appointment {
                    patient_id: patient_id.clone(),
                    order_id: order_id.clone(),
                    chair,
                    start_at_us: start,
                    end_at_us: end,
                    status: AppointmentStatus::Booked,
                },
            )
            .await?;
        if let Some(oid) = &order_id {
            let o = load_order(&mut tx, oid).await?;
            if o.data.patient_id != patient_id {
                return Err(AppError::invalid(
                    "order_id",
                    oid.clone(),
                    "an order of this patient",
                ));
            }
            if OrderStep::Schedule.allowed(o.data.status) {
                let mut row = o.data.clone();
                row.status = S::Scheduled;
                tx.update(
                    &Change::by(&actor.user_id, role.as_str()).action("order.scheduled"),
                    oid,
                    o.version,
                    row,
                )
                .await?;
            } else if !matches!(o.data.status, S::Draft | S::Signed | S::Verified) {
                return Err(AppError::state(
                    "order.invalid_state",
                    format!("cannot book an order that is {}", o.data.status),
                ));
            }
        }
        tx.commit().await?;
        Ok(appointment)
    }

    /// The appointments starting on one UTC day (`YYYY-MM-DD`), by start time.
    pub async fn appointments_on(
        &self,
        actor: &Actor,
        date: &str,
    ) -> Result<Vec<Stored<Appointment>>, AppError> {
        actor.permit(Action::ReadClinical)?;
        let (y, m, d) = parse_date("date", date)?;
        let start = crate::time::days_from_civil(y, m, d) * 86_400 * 1_000_000;
        let end = start + 86_400 * 1_000_000;
        let mut tx = self.store().begin_snapshot().await?;
        let mut all: Vec<_> = tx
            .list::<Appointment>()
            .await?
            .into_iter()
            .filter(|a| a.data.start_at_us >= start && a.data.start_at_us < end)
            .collect();
        tx.rollback().await?;
        all.sort_by_key(|a| a.data.start_at_us);
        Ok(all)
    }

    /// Starts an administration at the bedside with the five rights checked
    /// ([`crate::bedside::five_rights`] over the record and the scan). Any mismatch blocks,
    /// naming each one; the dose-error checks run again with the day's labs and weight; a
    /// high-alert drug needs a second, distinct nurse.
    pub async fn start_administration(
        &self,
        actor: &Actor,
        order_id: &str,
        version: Option<i64>,
        scan: &BedsideScan,
    ) -> Result<(Stored<Administration>, Stored<Order>), AppError> {
        let (change, role) = change(actor, Action::Administer, "administration.start")?;
        let version = need_version(version)?;
        let now = self.now_us();
        let bedside = self.bedside_record(order_id, now).await?;
        let o = &bedside.order;
        check_version(o, version)?;
        require_state(
            o,
            OrderStep::Start.allowed_from(),
            "start the administration of",
        )?;
        let prep = bedside.preparation.clone().ok_or_else(|| {
            AppError::state("preparation.missing", "no prepared product for this order")
        })?;
        let rights = five_rights(&bedside.facts(&prep), scan)?;
        // A warning (a start outside the time window with a reason) is recorded, not blocking.
        let overridden: Vec<String> = rights
            .iter()
            .filter(|f| f.severity != infusio_core::derivation::Severity::HardStop)
            .map(|f| f.message.clone())
            .collect();
        let mut problems: Vec<Json> = rights
            .iter()
            .filter(|f| f.severity == infusio_core::derivation::Severity::HardStop)
            .map(finding_json)
            .collect();
        let bag = self
            .bag_identity(o, &prep, &bedside.component_gtins, &scan.bag)
            .await?;
        problems.extend(bag.iter().map(finding_json));
        // The safety checks again, with the day's labs and weight.
        problems.extend(self.recheck(o).await?.hard_stops().iter().map(finding_json));
        let second_nurse_id = self.double_check(actor, o, scan, &mut problems).await?;
        if !problems.is_empty() {
            return Err(AppError::Blocked {
                code: "administration.blocked",
                message: format!(
                    "administration blocked: {}",
                    problems
                        .iter()
                        .filter_map(|p| p["message"].as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                findings: Json::Array(problems),
            });
        }
        let booked = bedside.booked.clone();
        let change = if overridden.is_empty() {
            change
        } else {
            change.reason(overridden.join("; "))
        };
        let mut tx = self.store().begin().await?;
        let o = load_order(&mut tx, order_id).await?;
        check_version(&o, version)?;
        let admin = tx
            .insert(
                &change,
                Administration {
                    order_id: order_id.to_string(),
                    preparation_id: prep.id.clone(),
                    appointment_id: booked.as_ref().map(|a| a.id.clone()),
                    nurse_id: actor.user_id.clone(),
                    second_nurse_id,
                    wristband_scan: scan.wristband.clone(),
                    bag_scan: scan.bag.clone(),
                    pump_programme_json: json!({"rate_ml_per_h": scan.pump_rate.value(), "vtbi_ml": scan.pump_vtbi.value()}),
                    started_at_us: now,
                    stopped_at_us: None,
                    status: AdministrationStatus::InProgress,
                    stop_reason: None,
                },
            )
            .await?;
        let by = Change::by(&actor.user_id, role.as_str());
        let order = start_in_tx(&mut tx, &by, &o, version, &prep, booked.as_ref()).await?;
        tx.commit().await?;
        Ok((admin, order))
    }

    /// What the record holds for a bedside scan: the order, its patient, its latest prepared
    /// product with the components' GTINs, and its booked appointment.
    async fn bedside_record(&self, order_id: &str, now: i64) -> Result<BedsideRecord, AppError> {
        let mut tx = self.store().begin_snapshot().await?;
        let order = load_order(&mut tx, order_id).await?;
        let patient = tx
            .get::<Patient>(&order.data.patient_id)
            .await?
            .ok_or_else(|| AppError::Internal("order without patient".into()))?;
        let preps = tx
            .find_by::<Preparation>("order_id", text(order_id))
            .await?;
        let appts = tx
            .find_by::<Appointment>("order_id", text(order_id))
            .await?;
        let preparation = preps
            .into_iter()
            .rev()
            .find(|p| p.data.status == "prepared" || p.data.status == "released");
        let mut component_gtins = Vec::new();
        if let Some(p) = &preparation {
            component_gtins = tx
                .find_by::<PreparationComponent>("preparation_id", text(&p.id))
                .await?
                .into_iter()
                .filter_map(|c| c.data.gtin)
                .collect();
        }
        tx.rollback().await?;
        Ok(BedsideRecord {
            order,
            patient_mrn: patient.data.mrn,
            preparation,
            component_gtins,
            booked: appts.into_iter().find(|a| a.data.status == "booked"),
            window_min: self.config().administration_window_min,
            now_us: now,
        })
    }

    /// The independent double check of a high-alert drug: the second nurse's id, or a
    /// `double_check.required` problem when none was named. A wrong second nurse (the same
    /// person, not a nurse, credentials refused) is refused outright.
    async fn double_check(
        &self,
        actor: &Actor,
        o: &Stored<Order>,
        scan: &BedsideScan,
        problems: &mut Vec<Json>,
    ) -> Result<Option<String>, AppError> {
        if !o.data.high_alert {
            return Ok(None);
        }
        let Some(second) = &scan.second_nurse else {
            problems.push(json!({"code": "double_check.required", "severity": "hard_stop", "message": "a high-alert drug needs a second nurse's independent double check"}));
            return Ok(None);
        };
        match self.sign_in_check(&second.username, &second.password).await {
            Ok(a) if a.user_id == actor.user_id => Err(AppError::forbidden(
                "double check",
                "the second check must be made by a different nurse",
            )),
            Ok(a) if a.has(Role::Nurse) => Ok(Some(a.user_id)),
            // One answer for a wrong password, a locked name and a user who is not a nurse,
            // so the field cannot be used to test passwords or to learn roles. Not 401: the
            // signed-in nurse's own session is fine; the second confirmation failed.
            Ok(_) | Err(AppError::BadCredentials) | Err(AppError::Locked { .. }) => Err(
                AppError::forbidden("double check", crate::auth::SECOND_CHECKER_REFUSED),
            ),
            Err(e) => Err(e),
        }
    }

    /// Checks a second nurse's credentials without opening a session (failures count towards
    /// their lockout).
    async fn sign_in_check(&self, username: &str, password: &str) -> Result<Actor, AppError> {
        let s = self
            .sign_in(username, password, crate::auth::SessionKind::Bearer)
            .await?;
        self.sign_out(&s.token).await?;
        Ok(Actor {
            user_id: s.user.id,
            username: s.user.username,
            display_name: s.user.display_name,
            roles: s.user.roles,
        })
    }

    /// Records a rate change, titration step, bolus, vitals, reaction (grade 1–5) or note:
    /// `{"kind", ["rate": "x mL/h"], ["volume"], ["grade"], ["detail": {...}],
    /// ["overrides"]}`. Rates are checked against the library and the verified schedule
    /// (see [`crate::pump_checks`]).
    pub async fn record_event(
        &self,
        actor: &Actor,
        administration_id: &str,
        event: &NewEvent,
    ) -> Result<Stored<AdministrationEvent>, AppError> {
        self.record_checked_event(actor, administration_id, event)
            .await
    }

    /// Ends an administration recording the volume infused and the dose given:
    /// `{"outcome": "completed" | "stopped" | "discontinued", ["volume_infused"], ["reason"]}`
    /// (see [`crate::completion`]).
    pub async fn finish_administration(
        &self,
        actor: &Actor,
        administration_id: &str,
        finish: &FinishAdministration,
    ) -> Result<(Stored<Administration>, Stored<Order>), AppError> {
        self.finish_recording_given(actor, administration_id, finish)
            .await
    }

    /// Recalls: every patient who received a product of `lot`, with the order and preparation.
    pub async fn lot_trace(&self, actor: &Actor, lot: &str) -> Result<Vec<LotTrace>, AppError> {
        actor.permit(Action::ReadClinical)?;
        let mut tx = self.store().begin_snapshot().await?;
        let comps = tx.find_by::<PreparationComponent>("lot", text(lot)).await?;
        let mut out = Vec::new();
        for c in comps {
            if let Some(p) = tx.get::<Preparation>(&c.data.preparation_id).await?
                && let Some(o) = tx.get::<Order>(&p.data.order_id).await?
            {
                out.push(LotTrace {
                    patient_id: o.data.patient_id,
                    order_id: o.id,
                    preparation_id: p.id,
                    product: c.data.product,
                    lot: c.data.lot,
                    preparation_status: p.data.status,
                });
            }
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// The audit chain's verification report (administrators and pharmacists).
    pub async fn audit_verify(
        &self,
        actor: &Actor,
    ) -> Result<infusio_store::VerifyReport, AppError> {
        actor.permit(Action::ReadAudit)?;
        Ok(self.store().verify_audit().await?)
    }

    /// The audit chain head.
    pub async fn audit_head(&self, actor: &Actor) -> Result<infusio_store::AuditHead, AppError> {
        actor.permit(Action::ReadAudit)?;
        Ok(self.store().audit_head().await?)
    }
}

/// The record's side of a bedside scan (see [`App::start_administration`]).
struct BedsideRecord {
    order: Stored<Order>,
    patient_mrn: String,
    preparation: Option<Stored<Preparation>>,
    component_gtins: Vec<String>,
    booked: Option<Stored<Appointment>>,
    window_min: i64,
    now_us: i64,
}

impl BedsideRecord {
    fn programme(&self) -> PumpProgramme {
        serde_json::from_value(self.order.data.pump_programme_json.clone()).unwrap_or_default()
    }

    fn facts(&self, prep: &Stored<Preparation>) -> BedsideFacts {
        let o = &self.order.data;
        BedsideFacts {
            patient_mrn: self.patient_mrn.clone(),
            preparation_id: prep.id.clone(),
            component_gtins: self.component_gtins.clone(),
            beyond_use_at_us: prep.data.beyond_use_at_us,
            dose: number(&o.dose),
            dose_text: o.dose.to_string(),
            dose_unit: o.dose_unit.clone(),
            route: o.route.clone(),
            // A titrated order starts at its schedule's first step (the labelled start rate).
            ordered_rate: crate::pump_checks::expected_start_rate(&self.programme())
                .or_else(|| o.rate_ml_per_h.as_ref().map(|r| VolumeRate::new(number(r)))),
            ordered_vtbi: o.final_volume_ml.as_ref().map(|v| Volume::new(number(v))),
            appointment_start_at_us: self.booked.as_ref().map(|a| a.data.start_at_us),
            window_min: self.window_min,
            order_signed_at_us: o.signed_at_us,
            now_us: self.now_us,
        }
    }
}

/// The pharmacist's figures against the prescriber's: the dose always, the volume and the
/// rate where the order has them (then they are required).
fn differences(
    o: &Stored<Order>,
    input: &BlindVerification,
    tol: f64,
) -> Result<Vec<Difference>, AppError> {
    let d = &o.data;
    let mut out = vec![diff(
        "dose",
        quantity_in("dose", &input.dose.text, &d.dose_unit)?,
        Some(number(&d.dose)),
        &d.dose_unit,
        tol,
    )];
    if let Some(v) = &input.volume {
        let theirs = d.final_volume_ml.as_ref().map(number);
        out.push(diff("volume", v.quantity.value(), theirs, "mL", tol));
    }
    if let Some(r) = &input.rate {
        let theirs = d.rate_ml_per_h.as_ref().map(number);
        out.push(diff("rate", r.quantity.value(), theirs, "mL/h", tol));
    }
    if d.final_volume_ml.is_some() && input.volume.is_none() {
        return Err(AppError::invalid(
            "volume",
            "",
            "required: your own final volume, the order has one",
        ));
    }
    if d.rate_ml_per_h.is_some() && input.rate.is_none() {
        return Err(AppError::invalid(
            "rate",
            "",
            "required: your own rate, the order has one",
        ));
    }
    Ok(out)
}

/// [`differences`] and, for a formula dose, the pharmacist's dose against the formula
/// recomputed at verification with the patient's latest measures (`dose_recomputed`): a
/// formula dose is re-derived blind.
fn differences_with_formula(
    o: &Stored<Order>,
    input: &BlindVerification,
    tol: f64,
    recomputed: Option<&crate::dose_basis::FormulaDose>,
) -> Result<Vec<Difference>, AppError> {
    let mut out = differences(o, input, tol)?;
    if let Some(f) = recomputed {
        let mine = quantity_in("dose", &input.dose.text, &f.unit)?;
        out.push(diff("dose_recomputed", mine, Some(f.dose), &f.unit, tol));
    }
    Ok(out)
}

/// The titration schedule for an order: the first of the library's schedules (in the file's
/// order, which lists the standard ramps before the rapid ones that need an eligibility
/// check) that fits the product and the infusion number (`first` for infusion 1, `subsequent`
/// after). With one schedule only, that one. `None` when the infusion number is unknown and
/// several schedules fit: the choice is then left to a person, never guessed.
fn choose_schedule(
    schedules: &[infusio_core::library::Titration],
    product: Option<&str>,
    infusion_number: Option<u32>,
) -> Option<(String, String)> {
    let for_product: Vec<&infusio_core::library::Titration> = schedules
        .iter()
        .filter(|t| {
            t.products.is_empty() || product.is_some_and(|p| t.products.iter().any(|x| x == p))
        })
        .collect();
    if let [only] = for_product.as_slice() {
        let why = match product {
            Some(p) => format!("the library's only schedule for {p}"),
            None => "the library's only schedule".to_string(),
        };
        return Some((only.id.clone(), why));
    }
    let n = infusion_number?;
    let wanted = if n == 1 { "first" } else { "subsequent" };
    for_product
        .iter()
        .find(|t| t.infusion.as_deref().is_none_or(|i| i == wanted))
        .map(|t| {
            (
                t.id.clone(),
                format!("infusion number {n}: the first library schedule for a {wanted} infusion"),
            )
        })
}

/// A finding as the `findings` array of a blocked step carries it.
fn finding_json(f: &infusio_core::derivation::Finding) -> Json {
    json!({"code": f.code, "severity": f.severity.as_str(), "message": f.message})
}

/// Inside the start's transaction: the preparation is administered, the booked appointment
/// arrived, the order in progress.
async fn start_in_tx(
    tx: &mut Tx,
    by: &Change,
    o: &Stored<Order>,
    version: i64,
    prep: &Stored<Preparation>,
    booked: Option<&Stored<Appointment>>,
) -> Result<Stored<Order>, AppError> {
    let p = tx.get_for_update::<Preparation>(&prep.id).await?;
    let mut prow = p.data.clone();
    prow.status = PreparationStatus::Administered;
    tx.update(
        &by.clone().action("preparation.administered"),
        &p.id,
        p.version,
        prow,
    )
    .await?;
    if let Some(a) = booked {
        let current = tx.get_for_update::<Appointment>(&a.id).await?;
        let mut arow = current.data.clone();
        arow.status = AppointmentStatus::Arrived;
        tx.update(
            &by.clone().action("appointment.arrived"),
            &a.id,
            current.version,
            arow,
        )
        .await?;
    }
    let mut row = o.data.clone();
    row.status = S::InProgress;
    Ok(tx
        .update(&by.clone().action("order.start"), &o.id, version, row)
        .await?)
}
