//! Unit parsing, conversion and formatting: examples and properties.

use infusio_core::units::{
    Amount, BodyWeight, Clearance, Concentration, DoseBasis, DosePer, Length,
    MonovalentConcentration, SerumCreatinine, format_number, parse_quantity,
};
use proptest::prelude::*;

#[test]
fn concentrations_from_bag_labels() {
    let c = Concentration::parse("4 mg/250 mL").expect("parses");
    assert!((c.per_ml - 0.016).abs() < 1e-15);
    let h = Concentration::parse("25000 units/250 mL").expect("parses");
    assert_eq!(h.per_ml, 100.0);
    assert_eq!(h.unit(), "units/mL");
    let k = Concentration::parse("40 mEq/L").expect("parses");
    assert!((k.per_ml - 0.04).abs() < 1e-15);
    let ug = Concentration::parse("1600 mcg/mL").expect("parses");
    assert!((ug.per_ml - 1.6).abs() < 1e-12);
}

#[test]
fn body_measures_in_imperial_units() {
    assert!((BodyWeight::parse("154 lb").expect("lb").value() - 69.853_224_98).abs() < 1e-8);
    assert!((BodyWeight::parse("154 [lb_av]").expect("UCUM").value() - 69.853_224_98).abs() < 1e-8);
    assert!((Length::parse("5 ft 7 in").expect("ft in").value() - 170.18).abs() < 1e-9);
    assert!((Length::parse("67 in").expect("in").value() - 170.18).abs() < 1e-9);
}

#[test]
fn creatinine_micromol_uses_88_4() {
    let s = SerumCreatinine::parse("106 umol/L").expect("parses");
    assert!((s.value() - 106.0 / 88.4).abs() < 1e-12);
    let s = SerumCreatinine::parse("1.2 mg/dL").expect("parses");
    assert_eq!(s.value(), 1.2);
    assert!(SerumCreatinine::parse("1.2 mg").is_err());
}

#[test]
fn sodium_in_mmol_equals_meq_for_a_monovalent_ion() {
    assert_eq!(
        MonovalentConcentration::parse("140 mmol/L")
            .expect("parses")
            .value(),
        140.0
    );
    assert_eq!(
        MonovalentConcentration::parse("140 mEq/L")
            .expect("parses")
            .value(),
        140.0
    );
}

#[test]
fn dangerous_spellings_are_refused_with_the_safe_one() {
    for (text, hint) in [
        ("10 U", "units"),
        ("5 cc", "mL"),
        ("1,5 mg", "1.5"),
        ("1,000 mg", "1000"),
        ("3 mM", "mmol/L"),
    ] {
        let err = parse_quantity(text)
            .map(|_| ())
            .expect_err(text)
            .to_string();
        assert!(err.contains(hint), "{text}: {err}");
    }
    assert!(Amount::parse("10 U/kg").is_err());
    assert!(Amount::parse("10 IU").is_ok());
}

#[test]
fn normalised_gfr_never_converts_to_absolute() {
    let q = parse_quantity("90 mL/min/1.73m2").expect("parses");
    assert!(Clearance::from_quantity(&q).is_err());
    let q = parse_quantity("1.5 mL/s").expect("parses");
    assert!((Clearance::from_quantity(&q).expect("converts").value() - 90.0).abs() < 1e-12);
}

#[test]
fn dose_bases() {
    let d = DosePer::parse("375 mg/m2").expect("parses");
    assert_eq!(d.basis, DoseBasis::PerM2);
    let d = DosePer::parse("5 mcg/kg/min").expect("parses");
    assert_eq!(d.basis, DoseBasis::PerKg);
    assert_eq!(d.unit(), "mcg/kg/min");
    let d = DosePer::parse("0.4 g/kg").expect("parses");
    assert_eq!((d.amount_unit.as_str(), d.basis), ("g", DoseBasis::PerKg));
    assert!(DosePer::parse("5 mg/L").is_err());
}

#[test]
fn unknown_units_and_malformed_text_are_errors() {
    for text in [
        "",
        "kg",
        "70",
        "70 kgs",
        "70 stone",
        "seventy kg",
        "NaN kg",
        "inf mg",
        "1e400 mg",
        "5 mg//mL",
    ] {
        assert!(parse_quantity(text).is_err(), "{text} should be refused");
    }
}

#[test]
fn ismp_number_formatting() {
    assert_eq!(format_number(1.0, 2), "1");
    assert_eq!(format_number(0.5, 3), "0.5");
    assert_eq!(format_number(1234.5, 1), "1,234.5");
    assert_eq!(format_number(25000.0, 0), "25,000");
    assert_eq!(format_number(-0.0001, 2), "0");
    assert_eq!(format_number(1_000_000.0, 0), "1,000,000");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No string, however strange, makes the parser panic.
    #[test]
    fn parser_never_panics(text in "\\PC{0,40}") {
        let _ = parse_quantity(&text);
    }

    /// Units-shaped strings built from real pieces never panic either.
    #[test]
    fn unit_shaped_strings_never_panic(
        n in -1e6f64..1e6,
        a in prop::sample::select(vec!["mg", "mcg", "g", "kg", "units", "mEq", "mL", "L", "m2", "h", "min", "%", "gtt", "U", "cc", "10*9", "1.73m2", "250 mL", ""]),
        b in prop::sample::select(vec!["", "/", ".", "/kg", "/m2", "/min", "/h", "/mL", "/250 mL"]),
        c in prop::sample::select(vec!["", "/min", "/h", "/L", ".min", "/1.73m2"]),
    ) {
        let _ = parse_quantity(&format!("{n} {a}{b}{c}"));
    }

    /// Converting to another unit of the same kind and back returns the value.
    #[test]
    fn mass_round_trip(v in 1e-6f64..1e6, unit in prop::sample::select(vec!["kg", "g", "mg", "mcg", "lb", "ng"])) {
        let q = parse_quantity(&format!("{v} {unit}")).expect("parses");
        let mg = q.value_in("mg").expect("mass");
        let back = parse_quantity(&format!("{mg} mg")).expect("parses").value_in(unit).expect("mass");
        prop_assert!((back - v).abs() <= 1e-9 * v.abs());
    }

    #[test]
    fn concentration_round_trip(v in 1e-6f64..1e5, num in prop::sample::select(vec!["mg", "mcg", "g", "units", "mEq", "mmol"]),
                                den in prop::sample::select(vec!["mL", "L", "dL", "100 mL", "250 mL"])) {
        let q = parse_quantity(&format!("{v} {num}/{den}")).expect("parses");
        let canonical = Concentration::from_quantity(&q).expect("concentration");
        let back = parse_quantity(&format!("{} {}", canonical.per_ml, canonical.unit())).expect("parses").value_in(&format!("{num}/{den}")).expect("same kind");
        prop_assert!((back - v).abs() <= 1e-9 * v.abs());
    }

    /// Formatting then parsing loses nothing beyond the decimals shown.
    #[test]
    fn formatted_numbers_parse_back(v in 0f64..1e7) {
        let text = format_number(v, 3).replace(',', "");
        let parsed: f64 = text.parse().expect("a number");
        prop_assert!((parsed - v).abs() <= 0.0005 + 1e-9 * v);
    }
}
