//! Every kind of message this crate builds (ACKs AA/AE/AR, PCD-03 RGV^O15, the pump's
//! RRG^O16, PCD-01 pump events) is parsed and validated by hl7apy against the HL7 v2.6
//! structures (strict). Runs with the Python named by INFUSIO_TEST_PYTHON; without it the test
//! prints a note and passes, unless INFUSIO_REQUIRE_VALIDATORS is set.

use infusio_interop::ack::{AckCode, ErrorCondition, Problem, Sender, build_ack, build_reply};
use infusio_interop::hl7::Message;
use infusio_interop::pcd::{
    ProgrammeStep, PumpEvent, PumpEventKind, PumpProgramme, build_pump_event, build_rgv_o15,
};

/// Validates messages with hl7apy; Ok(None) when no validator is configured.
pub fn validate(messages: &[(String, String)]) -> Result<Option<String>, String> {
    let Some(python) = std::env::var_os("INFUSIO_TEST_PYTHON") else {
        if std::env::var_os("INFUSIO_REQUIRE_VALIDATORS").is_some() {
            return Err("INFUSIO_REQUIRE_VALIDATORS is set but INFUSIO_TEST_PYTHON is not".into());
        }
        eprintln!("note: INFUSIO_TEST_PYTHON is not set; HL7 messages not checked by hl7apy");
        return Ok(None);
    };
    let dir = std::env::temp_dir().join(format!("infusio-hl7-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut paths = Vec::new();
    for (name, text) in messages {
        let p = dir.join(format!("{name}.hl7"));
        std::fs::write(&p, text).map_err(|e| e.to_string())?;
        paths.push(p);
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/validate_hl7.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .args(&paths)
        .output()
        .map_err(|e| format!("running the validator: {e}"))?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    if out.status.success() {
        Ok(Some(report))
    } else {
        Err(report)
    }
}

fn programme(steps: Vec<ProgrammeStep>) -> PumpProgramme {
    PumpProgramme {
        order_id: "0193f1c2-order".into(),
        administration_id: "0193f1c2-admin".into(),
        mrn: "MRN42".into(),
        family_name: "O'Brien|Smith".into(),
        given_name: "Ann^Mary".into(),
        birth_date: "1972-04-12".into(),
        drug_id: "vancomycin".into(),
        drug_name: "vancomycin".into(),
        dose_amount: 1000.0,
        dose_unit: "mg".into(),
        bag_amount: 1000.0,
        bag_volume_ml: 250.0,
        steps,
        care_area: "adult-infusion".into(),
        weight_kg: Some(70.0),
    }
}

#[test]
fn hl7apy_accepts_every_message_kind_we_build() {
    let original = Message::parse(
        "MSH|^~\\&|LAB|HOSP|INFUSIO|CLINIC|20261126101500+0100||ORU^R01^ORU_R01|MSG9|P|2.6\r",
    )
    .expect("parses");
    let h = original.header();
    let sender = Sender::default();
    let t = 1_795_000_000_000_000;
    let mut messages = vec![
        (
            "ack_aa".to_string(),
            build_ack(&sender, Some(&h), AckCode::Accept, &[], "A1", t),
        ),
        (
            "ack_ae".to_string(),
            build_ack(
                &sender,
                Some(&h),
                AckCode::Error,
                &[Problem::new(
                    ErrorCondition::UnknownKeyIdentifier,
                    "no patient with MRN X",
                )
                .at("PID", 1, 3)],
                "A2",
                t,
            ),
        ),
        (
            "ack_ar".to_string(),
            build_ack(
                &sender,
                Some(&h),
                AckCode::Reject,
                &[Problem::new(
                    ErrorCondition::UnsupportedEventCode,
                    "ORU^R30 is not read",
                )],
                "A3",
                t,
            ),
        ),
        (
            "rgv_o15_one_step".to_string(),
            build_rgv_o15(
                &sender,
                "PUMP",
                &programme(vec![ProgrammeStep {
                    rate_ml_per_h: 125.0,
                    vtbi_ml: 250.0,
                }]),
                "R1",
                t,
            ),
        ),
        (
            "rgv_o15_two_steps".to_string(),
            build_rgv_o15(
                &sender,
                "PUMP",
                &programme(vec![
                    ProgrammeStep {
                        rate_ml_per_h: 50.0,
                        vtbi_ml: 25.0,
                    },
                    ProgrammeStep {
                        rate_ml_per_h: 150.0,
                        vtbi_ml: 225.0,
                    },
                ]),
                "R2",
                t,
            ),
        ),
        (
            "rrg_o16".to_string(),
            build_reply(
                &Sender {
                    application: "PUMPSIM".into(),
                    facility: String::new(),
                },
                Some(&h),
                ["RRG", "O16", "RRG_O16"],
                AckCode::Accept,
                &[],
                "P1",
                t,
            ),
        ),
    ];
    for (i, (kind, rate, volume)) in [
        (PumpEventKind::Started, Some(125.0), Some(0.0)),
        (PumpEventKind::RateChanged, Some(62.5), Some(125.0)),
        (PumpEventKind::Paused, None, Some(130.0)),
        (PumpEventKind::Completed, None, Some(250.0)),
    ]
    .into_iter()
    .enumerate()
    {
        let e = PumpEvent {
            pump: String::new(),
            order_id: "0193f1c2-order".into(),
            administration_id: "0193f1c2-admin".into(),
            mrn: "MRN42".into(),
            family_name: "O'Brien|Smith".into(),
            given_name: "Ann^Mary".into(),
            kind,
            at_us: t + i as i64 * 1_000_000,
            rate_ml_per_h: rate,
            volume_infused_ml: volume,
        };
        messages.push((
            format!("pcd01_{}", kind.as_str()),
            build_pump_event("PUMPSIM", "0012A1FFFE000001", &e, &format!("E{i}"), t),
        ));
    }
    match validate(&messages) {
        Ok(Some(report)) => {
            assert_eq!(
                report.lines().filter(|l| l.starts_with("ok ")).count(),
                messages.len(),
                "{report}"
            );
        }
        Ok(None) => {}
        Err(report) => panic!("HL7 validation failed:\n{report}"),
    }
}
