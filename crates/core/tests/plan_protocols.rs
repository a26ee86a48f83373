//! Protocol templates: every file in `data/protocols` loads and validates; broken templates
//! fail with the file, line and field; chair time for first and later infusions.

mod common;

use infusio_core::plan::chair::{ChairError, chair_time};
use infusio_core::plan::protocol::{CLASSES, Protocol, load_protocols, parse_protocol};
use infusio_core::plan::titration::{Bag, RampUnit, Schedule, plan};
use infusio_core::units::{Duration, Volume};

fn files() -> Vec<(String, String)> {
    infusio_testkit::protocol_files()
}

fn all() -> Vec<Protocol> {
    let f = files();
    match load_protocols(f.iter().map(|(n, t)| (n.as_str(), t.as_str()))) {
        Ok(p) => p,
        Err(errors) => panic!(
            "{}",
            errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn get(id: &str) -> Protocol {
    all()
        .into_iter()
        .find(|p| p.id == id)
        .unwrap_or_else(|| panic!("protocol {id}"))
}

#[test]
fn every_protocol_loads_and_all_classes_are_covered() {
    let protocols = all();
    assert!(protocols.len() >= 18, "{} protocols", protocols.len());
    for class in CLASSES {
        assert!(
            protocols.iter().any(|p| p.class == class),
            "no protocol for class {class}"
        );
    }
    for p in &protocols {
        assert!(!p.sources.is_empty(), "{}", p.id);
        for ph in &p.phases {
            assert!(!ph.drugs.is_empty(), "{}", p.id);
        }
    }
}

#[test]
fn the_issue_s_protocols_are_present() {
    let ids: Vec<String> = all().into_iter().map(|p| p.id).collect();
    for id in [
        "infliximab-ibd",
        "rituximab-ra",
        "ocrelizumab-ms",
        "mfolfox6",
        "carboplatin-paclitaxel",
        "pembrolizumab-q3w",
        "pembrolizumab-q6w",
        "doxorubicin-cyclophosphamide",
        "vancomycin-auc-guided",
        "gentamicin-extended-interval",
        "acyclovir-hsv-encephalitis",
        "ivig-replacement",
        "ivig-kawasaki",
        "iron-sucrose-200-x5",
        "ferric-carboxymaltose-750-x2",
        "parenteral-nutrition-adult-central",
        "potassium-replacement",
        "maintenance-fluids-adult",
        "factor-viii-prophylaxis",
        "factor-viii-bleed",
    ] {
        assert!(ids.iter().any(|i| i == id), "missing protocol {id}");
    }
}

#[test]
fn infliximab_induction_days_are_weeks_0_2_6_then_every_8_weeks() {
    let p = get("infliximab-ibd");
    assert_eq!(p.phases[0].drugs[0].days, vec![1, 15, 43]);
    // Maintenance starts on day 99 = week 14, then every 56 days: weeks 14, 22, 30.
    assert_eq!(p.phases[0].cycle_length_days, 98);
    assert_eq!(p.phases[1].cycle_length_days, 56);
}

/// Breaks a valid file with one substitution and returns the first error.
fn broken(file: &str, from: &str, to: &str) -> infusio_core::plan::protocol::ProtocolError {
    let (name, text) = files().into_iter().find(|(n, _)| n == file).expect("file");
    assert!(text.contains(from), "{from}");
    let text = text.replacen(from, to, 1);
    parse_protocol(&name, &text).expect_err("must fail")[0].clone()
}

#[test]
fn a_broken_protocol_fails_with_file_line_and_field() {
    // A day outside the cycle.
    let e = broken(
        "infliximab-ibd.toml",
        "days = [1, 15, 43]",
        "days = [1, 15, 143]",
    );
    assert_eq!(e.file, "infliximab-ibd.toml");
    assert_eq!(e.field, "phases[0].drugs[0].days[2]");
    assert!(e.message.contains("outside the cycle (1 to 98)"), "{e}");
    assert!(e.line.is_some());
    // An undeclared source.
    let e = broken(
        "rituximab-ra.toml",
        "source = \"rituxan-pi\"",
        "source = \"rituxan-label\"",
    );
    assert_eq!(e.field, "phases[0].drugs[0].source");
    assert!(e.message.contains("not declared"), "{e}");
    // A typo'd key is refused by name, with its line.
    let e = broken(
        "mfolfox6.toml",
        "cycle_length_days = 14",
        "cycle_lenght_days = 14",
    );
    assert_eq!(e.field, "cycle_lenght_days");
    assert!(e.message.contains("unknown field"), "{e}");
    assert!(e.line.is_some_and(|l| l > 1));
    // A dose unit that contradicts the basis.
    let e = broken(
        "carboplatin-paclitaxel.toml",
        "dose_unit = \"mg/m2\"",
        "dose_unit = \"mg/kg\"",
    );
    assert_eq!(e.field, "phases[0].drugs[0].dose_unit");
    // A lab gate with min above max.
    let e = broken(
        "carboplatin-paclitaxel.toml",
        "max = 1.5",
        "min = 2.0\nmax = 1.5",
    );
    assert_eq!(e.field, "labs[2].max");
    // The id must match the file name.
    let e = broken("mfolfox6.toml", "id = \"mfolfox6\"", "id = \"folfox\"");
    assert_eq!(e.field, "id");
    assert_eq!(e.line, Some(3));
}

#[test]
fn chair_time_rituximab_first_and_later_infusions() {
    let p = get("rituximab-ra");
    let first = Schedule::Linear {
        unit: RampUnit::AmountPerHour,
        start_rate: 50.0,
        increment: 50.0,
        interval_min: 30.0,
        max_rate: 400.0,
    };
    let bag = Bag {
        dose_amount: 1000.0,
        amount_unit: "mg".into(),
        volume: Volume::new(500.0),
        weight: None,
    };
    let t = plan(&first, &bag).expect("plan");
    // First infusion: 15 set-up + 30 premedication + 255 infusion + 30 observation + 10 = 340 min.
    let c = chair_time(&p, 0, 1, 1, &[("rituximab", t.duration)]).expect("chair");
    assert_eq!(c.infusion_min, 255.0);
    assert_eq!(c.premedication_lead_min, 30.0);
    assert_eq!(c.observation_min, 30.0);
    assert!((c.total.value() - 340.0 / 60.0).abs() < 1e-12);
    // Later course: subsequent titration 3.25 h, no observation: 15 + 30 + 195 + 0 + 10.
    let c = chair_time(&p, 1, 1, 3, &[("rituximab", Duration::new(3.25))]).expect("chair");
    assert_eq!(c.observation_min, 0.0);
    assert!((c.total.value() - 250.0 / 60.0).abs() < 1e-12);
    // A titrated drug needs its duration.
    assert_eq!(
        chair_time(&p, 1, 1, 3, &[]),
        Err(ChairError::DurationRequired {
            medication: "rituximab".into()
        })
    );
}

#[test]
fn chair_time_infliximab_and_mfolfox6() {
    let p = get("infliximab-ibd");
    // First: 15 + 0 (optional premedication) + 120 + 60 + 10 = 205 min; later: 30 min observation.
    let c = chair_time(&p, 0, 1, 1, &[]).expect("chair");
    assert!((c.total.value() * 60.0 - 205.0).abs() < 1e-9);
    let c = chair_time(&p, 1, 1, 4, &[]).expect("chair");
    assert!((c.total.value() * 60.0 - 175.0).abs() < 1e-9);
    assert!(matches!(
        chair_time(&p, 0, 2, 1, &[]),
        Err(ChairError::NotATreatmentDay { .. })
    ));
    // mFOLFOX6: the 46-hour fluorouracil runs on an ambulatory pump after the visit.
    let p = get("mfolfox6");
    let c = chair_time(&p, 0, 1, 2, &[]).expect("chair");
    assert!((c.infusion_min - 125.5).abs() < 1e-9, "{}", c.infusion_min);
    assert!(c.total.value() < 4.0);
}

fn library() -> infusio_core::library::Library {
    common::library()
}

#[test]
fn every_protocol_agrees_with_the_drug_library() {
    use infusio_core::plan::protocol::check_against_library;
    let lib = library();
    let mut problems = Vec::new();
    for (name, text) in files() {
        let p = parse_protocol(&name, &text).expect("valid");
        problems.extend(check_against_library(&p, &name, &text, &lib));
    }
    assert!(
        problems.is_empty(),
        "{}",
        problems
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // A schedule the library does not have, a missing product and an unknown IV drug.
    let (name, text) = files()
        .into_iter()
        .find(|(n, _)| n == "rituximab-ra.toml")
        .expect("file");
    let text = text.replacen("titration = \"first\"", "titration = \"fast\"", 1);
    let p = parse_protocol(&name, &text).expect("still valid on its own");
    let e = check_against_library(&p, &name, &text, &lib);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].field, "phases[0].drugs[0].titration");
    assert!(e[0].message.contains("first-infusion"), "{}", e[0].message);
    let (name, text) = files()
        .into_iter()
        .find(|(n, _)| n == "ivig-replacement.toml")
        .expect("file");
    let text = text.replacen("product = \"gammagard-liquid\"\n", "", 1);
    let p = parse_protocol(&name, &text).expect("valid");
    let e = check_against_library(&p, &name, &text, &lib);
    assert_eq!(e[0].field, "phases[0].drugs[0].titration");
    assert!(
        e[0].message.contains("gammagard-liquid"),
        "{}",
        e[0].message
    );
    let text = files()
        .into_iter()
        .find(|(n, _)| n == "mfolfox6.toml")
        .expect("file")
        .1
        .replacen(
            "medication = \"leucovorin\"",
            "medication = \"leucovorine\"",
            1,
        );
    let p = parse_protocol("mfolfox6.toml", &text).expect("valid");
    let e = check_against_library(&p, "mfolfox6.toml", &text, &lib);
    assert_eq!(e[0].field, "phases[0].drugs[1].medication");
    assert!(e[0].line.is_some());
}

#[test]
fn chair_time_ocrelizumab_from_the_library_schedules() {
    use infusio_core::plan::calc::library_plan;
    let lib = library();
    let entry = lib.get("ocrelizumab").expect("ocrelizumab");
    let p = get("ocrelizumab-ms");
    let bag = |dose: f64, ml: f64| Bag {
        dose_amount: dose,
        amount_unit: "mg".into(),
        volume: Volume::new(ml),
        weight: None,
    };
    // Ocrevus PI Table 1: 300 mg/250 mL first infusions take 2.64 h; the antihistamine is given
    // 45 min before and observation lasts 1 h: 15 + 45 + 158.3 + 60 + 10 min.
    let first = library_plan(entry, None, Some("first"), &bag(300.0, 250.0)).expect("plan");
    let c = chair_time(&p, 0, 1, 1, &[("ocrelizumab", first.duration)]).expect("chair");
    assert!((c.infusion_min - (150.0 + 25.0 / 180.0 * 60.0)).abs() < 1e-9);
    assert!((c.total.value() * 60.0 - (15.0 + 45.0 + c.infusion_min + 60.0 + 10.0)).abs() < 1e-9);
    // Later: 600 mg/500 mL, 3.5 h standard or 2 h with the shorter schedule.
    let standard = library_plan(entry, None, Some("subsequent"), &bag(600.0, 500.0)).expect("plan");
    let c = chair_time(&p, 1, 1, 3, &[("ocrelizumab", standard.duration)]).expect("chair");
    assert!((c.total.value() * 60.0 - 340.0).abs() < 1e-9);
    let short = library_plan(entry, None, Some("rapid"), &bag(600.0, 500.0)).expect("plan");
    let c = chair_time(&p, 1, 1, 3, &[("ocrelizumab", short.duration)]).expect("chair");
    assert!((c.total.value() * 60.0 - 250.0).abs() < 1e-9);
}
