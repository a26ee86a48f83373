//! Where an order came from when it was not typed by hand: a line of a treatment day released
//! from a therapy plan, or a regimen recommended from drug levels. The origin is kept in the
//! order's derivation (`derivation.origin`), so the order page, the audit trail and FHIR show
//! the step that produced the order beside the dose calculation and the checks.

use infusio_store::Stored;
use infusio_store::records::Order;
use serde::{Deserialize, Serialize};

use crate::AppError;
use crate::model_dosing::ModelInformed;
use crate::orders::{OrderDerivation, stored};

/// The step that produced an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OrderOrigin {
    /// A regimen recommended by a Bayesian fit to measured levels.
    ModelInformed(Box<ModelInformed>),
    /// One line of a treatment day released from a therapy plan.
    TreatmentDay(crate::treatment_day::DayLine),
}

/// What an order made by the application (not typed by hand) is linked to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OrderLink {
    /// The therapy plan the order belongs to (`orders.therapy_plan_id`).
    pub therapy_plan_id: Option<String>,
    pub origin: Option<OrderOrigin>,
}

/// The origin stored with an order, if any.
pub(crate) fn origin_of(o: &Stored<Order>) -> Result<Option<OrderOrigin>, AppError> {
    let d: OrderDerivation = stored(&o.id, "derivation", &o.data.derivation_json)?;
    Ok(d.origin)
}
