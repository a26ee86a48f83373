//! The pharmacy's recall list: lots that must not be compounded. A pharmacist records a
//! recall (`{"lot", ["gtin"], ["product"], "reason"}`); a preparation that uses a recalled lot
//! is refused with the hard stop `preparation.recalled_lot`, naming the component, the lot and
//! the recall's reason. A recall with a GTIN applies to that product's lot only; without one,
//! to the lot whatever the product (lot numbers are the manufacturer's and may repeat across
//! products, so a GTIN is the precise form).

use infusio_core::derivation::{Finding, Severity};
use infusio_core::input::Fields;
use infusio_store::records::LotRecall;
use infusio_store::{Change, Role, Stored};
use serde_json::{Value as Json, json};

use crate::commands::PreparedComponent;
use crate::{Actor, App, AppError};

/// A recall as the pharmacy records it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecall {
    pub lot: String,
    /// GTIN-14 (check digit verified), when the recall names the product.
    pub gtin: Option<String>,
    pub product: Option<String>,
    pub reason: String,
}

impl TryFrom<&Json> for NewRecall {
    type Error = AppError;

    fn try_from(input: &Json) -> Result<Self, AppError> {
        let mut f = Fields::new(input, "")?;
        let lot = f
            .opt_string("lot")?
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AppError::invalid("lot", "", "required: the recalled lot number"))?;
        let gtin = match f.opt_string("gtin")? {
            Some(g) if !g.trim().is_empty() => Some(
                infusio_core::barcode::gs1::validate_gtin(&g)
                    .map_err(|e| AppError::invalid("gtin", g.clone(), e.to_string()))?,
            ),
            _ => None,
        };
        let product = f.opt_string("product")?.filter(|s| !s.trim().is_empty());
        let reason = f
            .opt_string("reason")?
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AppError::invalid("reason", "", "required: why the lot is recalled"))?;
        f.finish()?;
        Ok(NewRecall {
            lot,
            gtin,
            product,
            reason,
        })
    }
}

/// The GTIN-14 form of a component's GTIN, when it is a valid one.
fn gtin14(gtin: Option<&str>) -> Option<String> {
    gtin.and_then(|g| infusio_core::barcode::gs1::validate_gtin(g).ok())
}

/// The hard stops for the components whose lot is recalled (active recalls only).
pub fn recalled(components: &[PreparedComponent], recalls: &[LotRecall]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, c) in components.iter().enumerate() {
        let gtin = gtin14(c.gtin.as_deref());
        let hit = recalls.iter().find(|r| {
            r.active
                && r.lot.eq_ignore_ascii_case(c.lot.trim())
                && r.gtin.as_ref().is_none_or(|g| gtin.as_ref() == Some(g))
        });
        if let Some(r) = hit {
            out.push(Finding::new(
                "preparation.recalled_lot",
                Severity::HardStop,
                format!(
                    "components[{i}]: {} lot {} is recalled ({}): do not use it",
                    c.product, c.lot, r.reason
                ),
            ));
        }
    }
    out
}

impl App {
    /// Records a recalled lot (pharmacists only).
    pub async fn record_recall(
        &self,
        actor: &Actor,
        input: &NewRecall,
    ) -> Result<Stored<LotRecall>, AppError> {
        if !actor.has(Role::Pharmacist) {
            return Err(AppError::forbidden(
                "record a recall",
                "only a pharmacist maintains the recall list",
            ));
        }
        let change =
            Change::by(&actor.user_id, Role::Pharmacist.as_str()).action("lot_recall.record");
        let mut tx = self.store().begin().await?;
        let row = tx
            .insert(
                &change,
                LotRecall {
                    lot: input.lot.clone(),
                    gtin: input.gtin.clone(),
                    product: input.product.clone(),
                    reason: input.reason.clone(),
                    recalled_by: actor.user_id.clone(),
                    active: true,
                },
            )
            .await?;
        tx.commit().await?;
        Ok(row)
    }

    /// The recall list, newest first.
    pub async fn recalls(&self, actor: &Actor) -> Result<Vec<Stored<LotRecall>>, AppError> {
        actor.permit(crate::Action::ReadClinical)?;
        let mut tx = self.store().begin_snapshot().await?;
        let mut all = tx.list::<LotRecall>().await?;
        tx.rollback().await?;
        all.sort_by_key(|r| std::cmp::Reverse(r.created_at_us));
        Ok(all)
    }

    /// Refuses a preparation that uses a recalled lot (`preparation.recalled_lot`).
    pub(crate) async fn check_recalls(
        &self,
        components: &[PreparedComponent],
    ) -> Result<(), AppError> {
        // The whole list (a pharmacy's recall list is short): lots are compared without
        // regard to case or surrounding spaces, as they are typed from a carton.
        let mut tx = self.store().begin_snapshot().await?;
        let recalls: Vec<LotRecall> = tx
            .list::<LotRecall>()
            .await?
            .into_iter()
            .map(|r| r.data)
            .collect();
        tx.rollback().await?;
        let found = recalled(components, &recalls);
        if found.is_empty() {
            return Ok(());
        }
        let message = found
            .iter()
            .map(|f| f.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        Err(AppError::Blocked {
            code: "preparation.recalled_lot",
            message,
            findings: Json::Array(
                found
                    .iter()
                    .map(|f| json!({"code": f.code, "severity": f.severity.as_str(), "message": f.message}))
                    .collect(),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use infusio_core::units::parse_quantity;

    fn component(lot: &str, gtin: Option<&str>) -> PreparedComponent {
        PreparedComponent {
            product: "carboplatin 450 mg".into(),
            gtin: gtin.map(str::to_string),
            lot: lot.into(),
            expiry_date: "2099-01-01".into(),
            quantity: parse_quantity("450 mg").expect("quantity"),
        }
    }

    fn recall(lot: &str, gtin: Option<&str>, active: bool) -> LotRecall {
        LotRecall {
            lot: lot.into(),
            gtin: gtin.map(str::to_string),
            product: None,
            reason: "particulate matter".into(),
            recalled_by: "ph".into(),
            active,
        }
    }

    #[test]
    fn a_recalled_lot_is_a_hard_stop_and_a_gtin_narrows_the_recall() {
        let gtin = "09506000134352";
        // (component, recall list, recalled?)
        let cases = [
            (
                component("C-9", None),
                vec![recall("C-9", None, true)],
                true,
            ),
            (
                component("c-9 ", None),
                vec![recall("C-9", None, true)],
                true,
            ),
            (
                component("C-9", None),
                vec![recall("C-9", None, false)],
                false,
            ),
            (
                component("C-8", None),
                vec![recall("C-9", None, true)],
                false,
            ),
            (
                component("C-9", Some("9506000134352")),
                vec![recall("C-9", Some(gtin), true)],
                true,
            ),
            (
                component("C-9", Some("00312345678906")),
                vec![recall("C-9", Some(gtin), true)],
                false,
            ),
            (
                component("C-9", None),
                vec![recall("C-9", Some(gtin), true)],
                false,
            ),
        ];
        for (c, recalls, expected) in cases {
            let found = recalled(std::slice::from_ref(&c), &recalls);
            assert_eq!(!found.is_empty(), expected, "{c:?} against {recalls:?}");
            if expected {
                assert_eq!(found[0].code, "preparation.recalled_lot");
                assert!(found[0].message.contains("particulate matter"));
            }
        }
    }

    #[test]
    fn a_recall_is_read_strictly() {
        let ok =
            NewRecall::try_from(&json!({"lot": " C-9 ", "gtin": "9506000134352", "reason": "r"}))
                .expect("recall");
        assert_eq!(ok.lot, "C-9");
        assert_eq!(ok.gtin.as_deref(), Some("09506000134352"));
        let bad =
            NewRecall::try_from(&json!({"lot": "C-9", "gtin": "9506000134353", "reason": "r"}));
        assert!(bad.is_err_and(|e| e.to_string().contains("check digit")));
        assert!(NewRecall::try_from(&json!({"lot": "C-9"})).is_err());
        assert!(NewRecall::try_from(&json!({"lot": "C-9", "reason": "r", "lots": 1})).is_err());
    }
}
