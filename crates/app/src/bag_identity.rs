//! The bag at the bedside: only the bag identifier printed on this order's current
//! preparation is accepted. The identifier is the preparation's id, printed on the label as a
//! Code 128 barcode (`infusio_core::barcode::code128`).
//!
//! A scan that is not this bag is explained, so the nurse knows what is in their hand:
//! a product barcode (a GTIN or GS1 element string of a vial or premixed bag) in place of the
//! bag id; a bag made for another patient; a bag made for another order of this patient; a
//! bag made for an earlier version of this order (before the order was changed and signed
//! again); a bag already given or wasted; an identifier the record does not know. Each is a
//! hard stop. [`explain`] is a pure function over the record's facts, with a table test; the
//! workflow looks up the scanned bag and calls it.

use infusio_core::barcode::gs1;
use infusio_core::derivation::{Finding, Severity};

use crate::time::iso_from_us;

/// The order being started and its current preparation.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpectedBag {
    pub order_id: String,
    pub patient_id: String,
    /// When the order was last signed (an edit signs it again), µs UTC.
    pub order_signed_at_us: Option<i64>,
    /// The current preparation's id (the bag id on its label).
    pub preparation_id: String,
    pub prepared_at_us: i64,
    /// GTINs of the products that went into it.
    pub component_gtins: Vec<String>,
}

/// What the record holds about the scanned identifier, when it is a preparation's id.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannedBag {
    pub preparation_id: String,
    pub order_id: String,
    pub patient_id: String,
    /// `prepared`, `released`, `administered` or `wasted`.
    pub status: String,
    pub prepared_at_us: i64,
    pub drug_id: String,
}

fn stop(code: &str, message: String) -> Finding {
    Finding::new(code, Severity::HardStop, message)
}

/// The hard stops for a bag scan (empty: it is this order's current bag, made after the
/// order's latest signature). `scanned` is the record's preparation under the scanned
/// identifier, if any.
pub fn explain(expected: &ExpectedBag, scan: &str, scanned: Option<&ScannedBag>) -> Vec<Finding> {
    let scan = scan.trim();
    let earlier = |prepared_at_us: i64| {
        expected
            .order_signed_at_us
            .filter(|signed| prepared_at_us < *signed)
    };
    if scan == expected.preparation_id {
        return match earlier(expected.prepared_at_us) {
            Some(signed) => vec![stop(
                "bag.earlier_order_version",
                format!(
                    "bag {scan} was prepared at {} for an earlier version of this order (changed and signed again at {}); prepare the order as it stands",
                    iso_from_us(expected.prepared_at_us),
                    iso_from_us(signed)
                ),
            )],
            None => Vec::new(),
        };
    }
    let finding = match scanned {
        Some(s) if s.patient_id != expected.patient_id => stop(
            "bag.other_patient",
            format!("bag {scan} was prepared for another patient: do not give it"),
        ),
        Some(s) if s.order_id != expected.order_id => stop(
            "bag.other_order",
            format!(
                "bag {scan} was prepared for another order of this patient ({}), not this one",
                s.drug_id
            ),
        ),
        Some(s) if s.status == "administered" || s.status == "wasted" => stop(
            "bag.used",
            format!("bag {scan} of this order is already {}", s.status),
        ),
        Some(s) => stop(
            "bag.earlier_order_version",
            format!(
                "bag {scan} was prepared at {} for an earlier version of this order; the current bag is {}",
                iso_from_us(s.prepared_at_us),
                expected.preparation_id
            ),
        ),
        None if expected.component_gtins.iter().any(|g| g == scan) || gs1::looks_like_gs1(scan) => {
            stop(
                "bag.product_barcode",
                format!(
                    "{scan} is a product barcode (GTIN), not a bag id: scan the barcode on the pharmacy label of the bag"
                ),
            )
        }
        None => stop(
            "bag.unknown",
            format!(
                "bag {scan} is not a bag the pharmacy prepared: scan the barcode on the pharmacy label"
            ),
        ),
    };
    vec![finding]
}

impl crate::App {
    /// The hard stops for the bag scanned at the start of `order`, whose current preparation
    /// is `prep` (see [`explain`]): looks the scanned identifier up as a preparation.
    pub(crate) async fn bag_identity(
        &self,
        order: &infusio_store::Stored<infusio_store::records::Order>,
        prep: &infusio_store::Stored<infusio_store::records::Preparation>,
        component_gtins: &[String],
        scan: &str,
    ) -> Result<Vec<Finding>, crate::AppError> {
        use infusio_store::records::{Order, Preparation};
        let expected = ExpectedBag {
            order_id: order.id.clone(),
            patient_id: order.data.patient_id.clone(),
            order_signed_at_us: order.data.signed_at_us,
            preparation_id: prep.id.clone(),
            prepared_at_us: prep.data.prepared_at_us,
            component_gtins: component_gtins.to_vec(),
        };
        let trimmed = scan.trim();
        let mut scanned = None;
        if trimmed != prep.id && !trimmed.is_empty() && trimmed.len() <= 64 {
            let mut tx = self.store().begin_snapshot().await?;
            if let Some(p) = tx.get::<Preparation>(trimmed).await? {
                let o = tx.get::<Order>(&p.data.order_id).await?;
                scanned = o.map(|o| ScannedBag {
                    preparation_id: p.id.clone(),
                    order_id: o.id.clone(),
                    patient_id: o.data.patient_id.clone(),
                    status: p.data.status.as_str().to_string(),
                    prepared_at_us: p.data.prepared_at_us,
                    drug_id: o.data.drug_id.clone(),
                });
            }
            tx.rollback().await?;
        }
        let mut found = explain(&expected, scan, scanned.as_ref());
        if self.config().preparation_release_required {
            let required = crate::release::release_required(self.library(), &order.data);
            found.extend(crate::release::release_findings(required, &prep.data));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected() -> ExpectedBag {
        ExpectedBag {
            order_id: "order-a".into(),
            patient_id: "patient-a".into(),
            order_signed_at_us: Some(100),
            preparation_id: "prep-2".into(),
            prepared_at_us: 200,
            component_gtins: vec!["00312345678906".into()],
        }
    }

    fn bag(order: &str, patient: &str, status: &str, at: i64) -> ScannedBag {
        ScannedBag {
            preparation_id: "prep-x".into(),
            order_id: order.into(),
            patient_id: patient.into(),
            status: status.into(),
            prepared_at_us: at,
            drug_id: "vancomycin".into(),
        }
    }

    #[test]
    fn only_this_orders_current_bag_is_accepted() {
        let other_patient = bag("order-b", "patient-b", "prepared", 150);
        let other_order = bag("order-c", "patient-a", "prepared", 150);
        let earlier = bag("order-a", "patient-a", "prepared", 50);
        let used = bag("order-a", "patient-a", "administered", 50);
        // (scan, what the record holds under it, the code expected or none)
        let cases: [(&str, Option<&ScannedBag>, Option<&str>); 9] = [
            ("prep-2", None, None),
            (" prep-2\r\n", None, None),
            ("00312345678906", None, Some("bag.product_barcode")),
            (
                "(01)09506000134352(10)L1",
                None,
                Some("bag.product_barcode"),
            ),
            ("prep-x", Some(&other_patient), Some("bag.other_patient")),
            ("prep-x", Some(&other_order), Some("bag.other_order")),
            ("prep-x", Some(&earlier), Some("bag.earlier_order_version")),
            ("prep-x", Some(&used), Some("bag.used")),
            ("nonsense", None, Some("bag.unknown")),
        ];
        for (scan, scanned, code) in cases {
            let found = explain(&expected(), scan, scanned);
            let codes: Vec<&str> = found.iter().map(|f| f.code.as_str()).collect();
            assert_eq!(codes, code.into_iter().collect::<Vec<_>>(), "{scan:?}");
        }
    }

    #[test]
    fn a_bag_made_before_the_order_was_signed_again_is_refused() {
        let mut e = expected();
        e.order_signed_at_us = Some(300);
        let found = explain(&e, "prep-2", None);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].code, "bag.earlier_order_version");
        assert!(found[0].message.contains("earlier version"), "{found:?}");
    }
}
