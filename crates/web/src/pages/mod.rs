//! The screens, one module each.

pub mod administer;
pub mod audit;
pub mod auth;
pub mod board;
pub mod library;
pub mod order;
pub mod patients;
pub mod pk;
pub mod pk_order;
pub mod prepare;
pub mod schedule;
pub mod treatment_day;
pub mod verify;

use axum::Form;

use crate::FormData;
use infusio_app::orders::{OrderParams, OrderSeen, OrderView};
use infusio_app::{Actor, App, AppError};

/// A posted form as name/value pairs.
pub(crate) type Posted = Form<Vec<(String, String)>>;

pub(crate) fn form_data(f: Posted) -> FormData {
    FormData(f.0)
}

/// Today's UTC date, `YYYY-MM-DD`, by the application's clock (`AppConfig::clock`), so that a
/// page and the rules that run behind it agree on the day.
pub(crate) fn today(app: &infusio_app::App) -> String {
    infusio_app::time::date_from_us(app.now_us())
}

/// The order as a page draws it. A blind view (a pharmacist before verifying) has no figures
/// to give: `BlindOrderView` carries none, so the page's figure fields stay empty and
/// `figures_shown` is false.
pub(crate) fn shown(seen: OrderSeen) -> OrderView {
    match seen {
        OrderSeen::Full(v) => *v,
        OrderSeen::Blind(b) => {
            let b = *b;
            OrderView {
                id: b.id,
                version: b.version,
                patient_id: b.patient_id,
                medication: b.medication,
                status: b.status,
                prescriber_id: b.prescriber_id,
                created_at: b.created_at,
                updated_at: b.updated_at,
                signed_at: b.signed_at,
                route: b.route,
                high_alert: b.high_alert,
                figures_shown: false,
                dose: None,
                volume_ml: None,
                rate_ml_per_h: None,
                pump_programme: None,
                request: OrderParams {
                    medication: b.request.medication,
                    dose_per: b.request.dose_per,
                    dose: b.request.dose,
                    weight_basis: b.request.weight_basis,
                    max_dose: None,
                    rounding: None,
                    route: b.request.route,
                    volume: None,
                    duration: None,
                    line: b.request.line,
                    frequency: b.request.frequency,
                    infusion_number: b.request.infusion_number,
                    product: b.request.product,
                    indication: b.request.indication,
                    off_library: None,
                    target_hemoglobin: b.request.target_hemoglobin,
                    iron_stores: b.request.iron_stores,
                    pn: b.request.pn,
                    titration: None,
                },
                findings: Vec::new(),
                overrides: b.overrides,
                derivation: None,
            }
        }
    }
}

/// One order as `actor` may see it, for drawing.
pub(crate) async fn order_shown(
    app: &App,
    actor: &Actor,
    id: &str,
) -> Result<(OrderView, i64), AppError> {
    let (seen, version) = app.get_order(actor, id).await?;
    Ok((shown(seen), version))
}

/// Orders as `actor` may see them, for drawing.
pub(crate) async fn orders_shown(
    app: &App,
    actor: &Actor,
    status: Option<&str>,
    patient_id: Option<&str>,
) -> Result<Vec<OrderView>, AppError> {
    Ok(app
        .list_orders(actor, status, patient_id)
        .await?
        .into_iter()
        .map(shown)
        .collect())
}
