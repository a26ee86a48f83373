//! One-off repairs of records written by earlier versions, run when the application opens.
//!
//! Orders verified before the titration schedule was stored with the order (see
//! `App::verify`, which keeps it in the pump programme) have neither `titration` nor
//! `titration_error` in their programme, and the bedside would show no schedule for them.
//! [`titration_schedules`] computes it for each such order still on its way to the bedside, as
//! verification would have: with the weight recorded at the time of the (last) verification,
//! never a later one. Each repaired order is one audited update by the `system` actor
//! (`order.titration_backfill`); an order already carrying either key is left alone, so a
//! second start repairs nothing.

use crate::db::text;
use crate::orders::{PumpProgramme, stored, to_column};
use crate::{App, AppError};
use infusio_store::records::{Order, Verification};
use infusio_store::{Change, OrderStatus, Stored, VerificationOutcome};

/// The states from which an order can still reach the bedside.
const BEFORE_THE_BEDSIDE: &[OrderStatus] = &[
    OrderStatus::Verified,
    OrderStatus::Prepared,
    OrderStatus::Scheduled,
    OrderStatus::InProgress,
    OrderStatus::Held,
];

/// Whether a verified order of a titrated drug lacks its stored schedule.
fn lacks_schedule(app: &App, o: &Stored<Order>) -> bool {
    let p = &o.data.pump_programme_json;
    BEFORE_THE_BEDSIDE.contains(&o.data.status)
        && p.get("titration").is_none()
        && p.get("titration_error").is_none()
        && app
            .library()
            .get(&o.data.drug_id)
            .is_some_and(|e| !e.titration.is_empty())
}

/// When the order was last verified, if it ever was.
async fn verified_at(app: &App, order_id: &str) -> Result<Option<i64>, AppError> {
    let mut tx = app.store().begin_snapshot().await?;
    let rows = tx
        .find_by::<Verification>("order_id", text(order_id))
        .await?;
    tx.rollback().await?;
    Ok(rows
        .iter()
        .filter(|v| v.data.outcome == VerificationOutcome::Verified)
        .map(|v| v.data.verified_at_us)
        .max())
}

/// Stores the titration schedule of every verified order that lacks it; returns how many
/// orders were repaired. An order that cannot be repaired now (its parameters unreadable, or
/// changed meanwhile by another instance) is left as it is: the start-up does not fail for it,
/// and the next start tries again.
pub(crate) async fn titration_schedules(app: &App) -> Result<usize, AppError> {
    let mut tx = app.store().begin_snapshot().await?;
    let orders = tx.list::<Order>().await?;
    tx.rollback().await?;
    let mut repaired = 0;
    for o in orders.iter().filter(|o| lacks_schedule(app, o)) {
        if repair(app, o).await.unwrap_or(false) {
            repaired += 1;
        }
    }
    Ok(repaired)
}

/// Repairs one order; `Ok(false)` when it was never verified.
async fn repair(app: &App, o: &Stored<Order>) -> Result<bool, AppError> {
    let Some(at) = verified_at(app, &o.id).await? else {
        return Ok(false);
    };
    let mut row = o.data.clone();
    let mut programme: PumpProgramme = if row.pump_programme_json.is_object() {
        stored(&o.id, "pump programme", &row.pump_programme_json)?
    } else {
        PumpProgramme::default()
    };
    app.store_titration(o, &mut programme, at).await?;
    row.pump_programme_json = to_column(&programme)?;
    let mut tx = app.store().begin().await?;
    tx.update(
        &Change::by("system", "system").action("order.titration_backfill"),
        &o.id,
        o.version,
        row,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
