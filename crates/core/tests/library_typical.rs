//! The shipped drug library: every file loads and validates, every class is covered, the
//! contract's required ids exist, and every entry's `[[typical_order]]` passes `ok`.

mod common;

use infusio_core::check::{Verdict, check_json};
use infusio_core::library::{Library, TherapyClass};

fn load() -> Library {
    common::library()
}

#[test]
fn every_typical_order_passes_ok() {
    let lib = load();
    let mut failures = Vec::new();
    let mut n = 0;
    for e in lib.entries() {
        assert!(
            !e.typical_order.is_empty(),
            "{}: every entry carries at least one [[typical_order]]",
            e.id
        );
        for (i, order) in e.typical_order.iter().enumerate() {
            n += 1;
            match check_json(&lib, order) {
                Ok(r) if r.verdict == Verdict::Ok => {
                    assert_eq!(
                        r.medication.as_ref().map(|m| m.id.as_str()),
                        Some(e.id.as_str())
                    );
                }
                Ok(r) => failures.push(format!(
                    "{} typical_order[{i}]: verdict {} with {:?}",
                    e.id,
                    r.verdict.as_str(),
                    r.findings
                        .iter()
                        .filter(|f| f.severity != infusio_core::derivation::Severity::Info)
                        .map(|f| format!("{}: {}", f.code, f.message))
                        .collect::<Vec<_>>()
                )),
                Err(err) => {
                    failures.push(format!("{} typical_order[{i}]: input refused: {err}", e.id))
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(n >= lib.entries().len());
}

#[test]
fn all_eight_classes_are_covered() {
    let lib = load();
    for class in TherapyClass::ALL {
        assert!(
            lib.entries().iter().any(|e| e.class == class),
            "no library entry of class {}",
            class.as_str()
        );
    }
}

#[test]
fn every_id_the_contract_requires_exists() {
    let lib = load();
    let required = [
        "infliximab",
        "rituximab",
        "ocrelizumab",
        "natalizumab",
        "vedolizumab",
        "tocilizumab",
        "belimumab",
        "carboplatin",
        "cisplatin",
        "oxaliplatin",
        "fluorouracil",
        "leucovorin",
        "paclitaxel",
        "docetaxel",
        "doxorubicin",
        "cyclophosphamide",
        "vincristine",
        "gemcitabine",
        "irinotecan",
        "pembrolizumab",
        "nivolumab",
        "trastuzumab",
        "bevacizumab",
        "vancomycin",
        "gentamicin",
        "tobramycin",
        "amikacin",
        "acyclovir",
        "cefazolin",
        "ceftriaxone",
        "piperacillin-tazobactam",
        "meropenem",
        "immune-globulin",
        "sodium-chloride",
        "lactated-ringers",
        "dextrose",
        "potassium-chloride",
        "magnesium-sulfate",
        "amino-acids",
        "lipid-emulsion",
        "potassium-phosphate",
        "sodium-phosphate",
        "calcium-gluconate",
        "iron-sucrose",
        "ferric-carboxymaltose",
        "ferric-derisomaltose",
        "iron-dextran",
        "ferumoxytol",
        "factor-viii",
        "factor-ix",
    ];
    for id in required {
        assert!(lib.get(id).is_some(), "missing library entry {id}");
    }
    assert!(lib.entries().len() >= 40);
    // Products the contract names.
    let ig = lib.get("immune-globulin").expect("immune-globulin");
    assert!(
        ig.products.iter().any(|p| p.id == "gammagard-liquid")
            && ig.products.iter().any(|p| p.id == "privigen")
    );
    let dx = lib.get("dextrose").expect("dextrose");
    assert!(dx.products.iter().any(|p| p.id == "dextrose-70-percent"));
    let f9 = lib.get("factor-ix").expect("factor-ix");
    assert!(
        f9.products.iter().any(|p| p.id == "benefix")
            && f9.products.iter().any(|p| p.id == "plasma-derived")
    );
}

#[test]
fn high_alert_entries_require_a_double_check_and_d70_is_central_only() {
    let lib = load();
    for e in lib.entries() {
        if e.flags.high_alert {
            assert!(e.flags.double_check, "{}", e.id);
        }
    }
    let mut v = lib
        .get("dextrose")
        .and_then(|e| e.typical_order.first().cloned())
        .expect("dextrose typical order");
    v["order"]["product"] = serde_json::json!("dextrose-70-percent");
    v["order"]["dose"] = serde_json::json!("700 g");
    let r = check_json(&lib, &v).expect("accepted");
    assert!(r.has("concentration.above_hard_max"), "{:?}", r.findings);
}
