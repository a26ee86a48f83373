//! In-use stability: every product either carries a numeric in-use time (room temperature,
//! refrigerated or begin-within, from its label) or says why not (not verified from the label,
//! or no prepared dose to keep) — never silence, never an invented number.

mod common;

#[test]
fn every_product_has_a_numeric_in_use_time_or_says_why_not() {
    let lib = common::shared();
    let mut silent = Vec::new();
    let (mut numeric, mut total) = (0, 0);
    for e in lib.entries() {
        for p in &e.products {
            total += 1;
            let has_number = p.stability_room_temperature_h.is_some()
                || p.stability_refrigerated_h.is_some()
                || p.begin_within_h.is_some();
            if has_number {
                numeric += 1;
                continue;
            }
            let text = p.stability.as_deref().unwrap_or("").to_lowercase();
            let explained = text.contains("unverified")
                || text.contains("no in-use stability applies")
                || text.contains("discard the unused")
                || text.contains("no admixture time")
                || text.contains("follows the admixed fluid");
            if !explained {
                silent.push(format!("{}/{}", e.id, p.id));
            }
        }
    }
    assert!(
        silent.is_empty(),
        "products silent about in-use time: {silent:?}"
    );
    println!("products with a numeric in-use time: {numeric} of {total}");
}

#[test]
fn label_times_read_this_round_reach_the_products() {
    let lib = common::shared();
    let product = |drug: &str, id: &str| {
        lib.get(drug)
            .and_then(|e| e.products.iter().find(|p| p.id == id).cloned())
            .unwrap_or_else(|| panic!("{drug}/{id}"))
    };
    // Cefazolin PI: 24 h at room temperature, 10 days refrigerated after reconstitution.
    let c = product("cefazolin", "cefazolin-vial");
    assert_eq!(c.stability_room_temperature_h, Some(24.0));
    assert_eq!(c.stability_refrigerated_h, Some(240.0));
    // Zosyn PI: reconstituted vial 24 h room temperature, 48 h refrigerated.
    let z = product("piperacillin-tazobactam", "zosyn-vial");
    assert_eq!(z.stability_room_temperature_h, Some(24.0));
    assert_eq!(z.stability_refrigerated_h, Some(48.0));
}
