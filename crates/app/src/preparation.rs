//! A preparation checked against the verified order: the product is one of the ordered drug,
//! the total amount and the final volume agree with the order within the preparation
//! tolerance, and every other component is a diluent. A pure function over the order's
//! figures, the library entry and the preparation, with table tests; `App::prepare` refuses
//! the preparation (422, `preparation.mismatch`) with each difference named.

use infusio_core::library::model::DrugEntry;
use serde::Serialize;

use crate::commands::{NewPreparation, PreparedComponent};

/// The verified order's figures a preparation must match.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderedContents {
    pub drug_id: String,
    /// The ordered dose, in `dose_unit`.
    pub dose: f64,
    pub dose_unit: String,
    /// The order's final volume, mL, when it has one.
    pub final_volume_ml: Option<f64>,
}

/// One difference between the preparation and the verified order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreparationDifference {
    /// The field of the preparation (`components[0].product`, `total_amount`, `final_volume`).
    pub field: String,
    pub expected: String,
    pub found: String,
}

/// Lower-case, hyphens and repeated spaces folded to one space.
fn fold(text: &str) -> String {
    text.to_lowercase()
        .replace(['-', '_'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `haystack` holds `needle` as whole words.
fn has_words(haystack: &str, needle: &str) -> bool {
    let needle = fold(needle);
    if needle.is_empty() {
        return false;
    }
    let padded = format!(" {} ", fold(haystack));
    padded.contains(&format!(" {needle} "))
}

/// The names under which a product of the drug may be written: the generic name, the id,
/// brands, synonyms and the library's product ids and names.
fn drug_names(entry: &DrugEntry) -> Vec<&str> {
    let mut names = vec![entry.id.as_str(), entry.generic_name.as_str()];
    names.extend(entry.brands.iter().map(String::as_str));
    names.extend(entry.synonyms.iter().map(String::as_str));
    for p in &entry.products {
        names.push(p.id.as_str());
        names.push(p.name.as_str());
    }
    names
}

/// Diluents a component may be besides the drug: those the library lists for the drug's
/// products, and the common infusion fluids.
fn is_diluent(entry: &DrugEntry, product: &str) -> bool {
    const FLUIDS: [&str; 6] = [
        "sodium chloride",
        "normal saline",
        "dextrose",
        "sterile water",
        "lactated ringer",
        "water for injection",
    ];
    let listed = entry.products.iter().flat_map(|p| p.diluents.iter());
    FLUIDS.iter().any(|f| has_words(product, f))
        || listed.into_iter().any(|d| has_words(product, d))
}

/// Whether the component is the ordered drug.
fn is_drug(entry: &DrugEntry, c: &PreparedComponent) -> bool {
    is_drug_product(entry, &c.product)
}

/// Whether a product name names the drug of `entry` (its generic name, id, a brand, a synonym
/// or one of its library products), as whole words. The label lists the other components as
/// the diluent.
pub fn is_drug_product(entry: &DrugEntry, product: &str) -> bool {
    drug_names(entry).iter().any(|n| has_words(product, n))
}

/// Reads a component's product barcode as scanned or typed into `gtin`: a bare GTIN (8, 12,
/// 13 or 14 digits) or a GS1 element string (`(01)…(17)…(10)…`, or the raw form with group
/// separators). The GTIN's check digit must hold; a lot or expiry date in the barcode must be
/// the lot and expiry recorded for the component (a barcode from another carton is refused).
/// Returns the GTIN-14.
///
/// The expiry's two-digit year is read in the century of the recorded expiry date (GS1
/// General Specifications section 7.12 with the recorded year as reference), so a barcode
/// agrees with the record exactly when its `YYMMDD` names the recorded date (day `00`: the
/// month's last day).
pub fn read_product_scan(
    field: &str,
    scan: &str,
    lot: &str,
    expiry_date: &str,
) -> Result<String, crate::AppError> {
    use infusio_core::barcode::gs1;
    let bad = |why: String| crate::AppError::invalid(field, scan, why);
    let t = scan.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
        return gs1::validate_gtin(t).map_err(|e| bad(e.to_string()));
    }
    let reference_year = expiry_date
        .get(..4)
        .and_then(|y| y.parse::<i64>().ok())
        .unwrap_or(2000);
    let data = gs1::parse(t, reference_year).map_err(|e| bad(e.to_string()))?;
    let gtin = data
        .gtin
        .ok_or_else(|| bad("the barcode holds no GTIN, AI (01)".into()))?;
    if let Some(scanned) = data.lot.filter(|l| !l.eq_ignore_ascii_case(lot.trim())) {
        return Err(bad(format!(
            "the barcode's lot {scanned} is not the lot recorded, {lot}"
        )));
    }
    if let Some(scanned) = data.expiry_date.filter(|d| d != expiry_date) {
        return Err(bad(format!(
            "the barcode's expiry {scanned} is not the expiry date recorded, {expiry_date}"
        )));
    }
    Ok(gtin)
}

fn fmt(value: f64) -> String {
    let rounded = (value * 1000.0).round() / 1000.0;
    format!("{rounded}")
}

/// The differences between a preparation and the verified order (empty: it matches).
/// `tolerance_percent` bounds the total amount and the final volume on either side.
pub fn differences(
    ordered: &OrderedContents,
    entry: Option<&DrugEntry>,
    input: &NewPreparation,
    tolerance_percent: f64,
) -> Vec<PreparationDifference> {
    debug_assert!(tolerance_percent >= 0.0);
    let mut out = Vec::new();
    let mut total = 0.0;
    for (i, c) in input.components.iter().enumerate() {
        let drug = entry.is_none_or(|e| is_drug(e, c));
        if drug {
            match c.quantity.value_in(&ordered.dose_unit) {
                Ok(v) => total += v,
                Err(_) => out.push(PreparationDifference {
                    field: format!("components[{i}].quantity"),
                    expected: format!("an amount in {}", ordered.dose_unit),
                    found: format!("{} {}", fmt(c.quantity.value), c.quantity.unit.spelling()),
                }),
            }
        } else if !entry.is_some_and(|e| is_diluent(e, &c.product)) {
            out.push(PreparationDifference {
                field: format!("components[{i}].product"),
                expected: format!(
                    "a product of {} or a diluent",
                    entry.map_or(ordered.drug_id.as_str(), |e| e.generic_name.as_str())
                ),
                found: c.product.clone(),
            });
        }
    }
    let outside = |found: f64, expected: f64| {
        expected > 0.0 && ((found - expected).abs() / expected * 100.0) > tolerance_percent + 1e-9
    };
    if outside(total, ordered.dose) {
        out.push(PreparationDifference {
            field: "total_amount".into(),
            expected: format!(
                "{} {} ± {}%",
                fmt(ordered.dose),
                ordered.dose_unit,
                fmt(tolerance_percent)
            ),
            found: format!("{} {}", fmt(total), ordered.dose_unit),
        });
    }
    if let Some(ordered_ml) = ordered.final_volume_ml {
        let found_ml = input.final_volume.value();
        if outside(found_ml, ordered_ml) {
            out.push(PreparationDifference {
                field: "final_volume".into(),
                expected: format!("{} mL ± {}%", fmt(ordered_ml), fmt(tolerance_percent)),
                found: format!("{} mL", fmt(found_ml)),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use infusio_core::units::{Volume, parse_quantity};

    fn prep(components: &[(&str, &str)], volume_ml: f64) -> NewPreparation {
        NewPreparation {
            components: components
                .iter()
                .map(|(product, q)| PreparedComponent {
                    product: product.to_string(),
                    gtin: None,
                    lot: "L1".into(),
                    expiry_date: "2099-01-01".into(),
                    quantity: parse_quantity(q).expect("quantity"),
                })
                .collect(),
            final_volume: Volume::new(volume_ml),
            beyond_use_at_us: 0,
        }
    }

    /// The components (product, quantity), the final volume in mL, the fields refused.
    type Case<'a> = (&'a [(&'a str, &'a str)], f64, &'a [&'a str]);

    #[test]
    fn a_preparation_is_compared_with_the_verified_order() {
        let library = crate::library::builtin().expect("library");
        let entry = library.get("vancomycin");
        assert!(entry.is_some());
        let ordered = OrderedContents {
            drug_id: "vancomycin".into(),
            dose: 1000.0,
            dose_unit: "mg".into(),
            final_volume_ml: Some(250.0),
        };
        // (components, final volume, the fields refused)
        let cases: &[Case] = &[
            (&[("vancomycin 1 g vial", "1 g")], 250.0, &[]),
            (
                &[
                    ("vancomycin 500 mg vial", "1000 mg"),
                    ("sodium chloride 0.9% 250 mL", "250 mL"),
                ],
                250.0,
                &[],
            ),
            // Within 5%: 1,040 mg in 260 mL.
            (&[("vancomycin 1 g vial", "1040 mg")], 260.0, &[]),
            (
                &[("potassium chloride 2 mEq/mL", "40 mEq")],
                1000.0,
                &["components[0].product", "total_amount", "final_volume"],
            ),
            (&[("vancomycin 1 g vial", "10 g")], 250.0, &["total_amount"]),
            (
                &[("vancomycin 1 g vial", "1000 mg")],
                1000.0,
                &["final_volume"],
            ),
            (
                &[("vancomycin 1 g vial", "1060 mg")],
                250.0,
                &["total_amount"],
            ),
            (
                &[("vancomycin 1 g vial", "2 mL")],
                250.0,
                &["components[0].quantity", "total_amount"],
            ),
        ];
        for (components, volume, expected) in cases {
            let found = differences(&ordered, entry, &prep(components, *volume), 5.0);
            let fields: Vec<&str> = found.iter().map(|d| d.field.as_str()).collect();
            assert_eq!(
                &fields, expected,
                "{components:?} in {volume} mL: {found:?}"
            );
        }
    }

    #[test]
    fn a_product_barcode_must_agree_with_the_recorded_lot_and_expiry() {
        let read = |scan: &str| {
            read_product_scan("components[0].gtin", scan, "AB12", "2027-05-31")
                .map_err(|e| e.to_string())
        };
        assert_eq!(read("9506000134352").as_deref(), Ok("09506000134352"));
        assert_eq!(
            read("(01)09506000134352(17)270500(10)ab12").as_deref(),
            Ok("09506000134352")
        );
        assert_eq!(
            read("]d2010950600013435217270531\u{1d}10AB12").as_deref(),
            Ok("09506000134352")
        );
        for (scan, why) in [
            ("9506000134353", "check digit"),
            ("(01)09506000134352(10)ZZ9", "lot ZZ9"),
            ("(01)09506000134352(17)270430", "expiry 2027-04-30"),
            ("(10)AB12", "no GTIN"),
            ("(99)X", "AI (99)"),
        ] {
            let e = read(scan).expect_err(scan);
            assert!(e.to_string().contains(why), "{scan}: {e}");
        }
    }

    #[test]
    fn the_difference_names_what_was_expected_and_found() {
        let ordered = OrderedContents {
            drug_id: "vancomycin".into(),
            dose: 1000.0,
            dose_unit: "mg".into(),
            final_volume_ml: Some(250.0),
        };
        let found = differences(
            &ordered,
            None,
            &prep(&[("vancomycin", "10000 mg")], 250.0),
            5.0,
        );
        assert_eq!(
            found,
            vec![PreparationDifference {
                field: "total_amount".into(),
                expected: "1000 mg ± 5%".into(),
                found: "10000 mg".into(),
            }]
        );
    }
}
