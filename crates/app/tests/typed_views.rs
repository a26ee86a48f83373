//! The typed order views serialise to exactly the JSON the record holds (the API's wire
//! shape did not change when the views were typed), and the typed commands read the JSON API
//! with errors naming the field.

use infusio_app::auth::SessionKind;
use infusio_app::commands::{
    BlindVerification, NewAppointment, NewOrder, NewPreparation, SignInput,
};
use infusio_app::orders::{OrderView, Override, StoredTitration};
use infusio_app::patients::{NewMeasurement, NewPatient};
use infusio_app::{Actor, App, AppConfig, AppError, Clock};
use infusio_core::derivation::Severity;
use infusio_store::records::Order;
use infusio_store::{Role, Store, Stored};
use serde_json::{Value, json};

const T0_US: i64 = 1_767_268_800 * 1_000_000; // 2026-01-01T12:00:00Z

struct Harness {
    app: App,
    dir: std::path::PathBuf,
}

impl Harness {
    async fn new(name: &str) -> Harness {
        let dir =
            std::env::temp_dir().join(format!("infusio-app-typed-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open_data_dir(&dir).await.expect("store");
        let config = AppConfig {
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            clock: Clock::fixed(T0_US),
            ..AppConfig::default()
        };
        let library = infusio_app::library::builtin().expect("library");
        let app = App::open(store, library, config).await.expect("app");
        for (name, role) in [
            ("prescriber", Role::Prescriber),
            ("pharmacist", Role::Pharmacist),
            ("nurse", Role::Nurse),
            ("scheduler", Role::Scheduler),
        ] {
            app.create_user(None, name, name, "a long password", &[role])
                .await
                .expect("user");
        }
        Harness { app, dir }
    }

    async fn actor(&self, name: &str) -> Actor {
        let s = self
            .app
            .sign_in(name, "a long password", SessionKind::Cookie)
            .await
            .expect("sign in");
        self.app.session(&s.token).await.expect("session").actor
    }

    async fn finish(self) {
        self.app.store().close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The stored JSON columns of an order, as the API showed them before the view was typed.
fn stored_columns(o: &Stored<Order>) -> Value {
    let d = &o.data;
    json!({
        "findings": d.findings_json,
        "overrides": d.overrides_json,
        "pump_programme": d.pump_programme_json,
        "derivation": d.derivation_json,
        "request": d.derivation_json["request"],
        "dose": {"value": d.dose.as_str().parse::<f64>().expect("dose"), "unit": d.dose_unit,
                 "text": format!("{} {}", d.dose, d.dose_unit)},
    })
}

fn view_columns(o: &Stored<Order>) -> Value {
    let v = serde_json::to_value(OrderView::full(o).expect("view")).expect("json");
    json!({
        "findings": v["findings"],
        "overrides": v["overrides"],
        "pump_programme": v["pump_programme"],
        "derivation": v["derivation"],
        "request": v["request"],
        "dose": v["dose"],
    })
}

#[tokio::test]
async fn a_verified_titrated_order_reads_back_typed_and_serialises_as_stored() {
    let h = Harness::new("rituximab").await;
    let (prescriber, pharmacist, nurse, scheduler) = (
        h.actor("prescriber").await,
        h.actor("pharmacist").await,
        h.actor("nurse").await,
        h.actor("scheduler").await,
    );
    let patient = h
        .app
        .create_patient(
            &scheduler,
            &NewPatient::try_from(&json!({"mrn": "MRN-T1", "family_name": "Doe",
                "given_name": "Ann", "birth_date": "1960-03-01", "sex": "female"}))
            .expect("patient command"),
        )
        .await
        .expect("patient");
    for m in [
        json!({"kind": "weight", "value": "70 kg"}),
        json!({"kind": "height", "value": "165 cm"}),
    ] {
        h.app
            .add_measurement(
                &nurse,
                &patient.id,
                &NewMeasurement::try_from(&m).expect("measure"),
            )
            .await
            .expect("measured");
    }
    let mut order = NewOrder::try_from(&json!({"patient_id": patient.id,
        "medication": "rituximab", "dose_per": "375 mg/m2", "route": "iv", "volume": "500 mL",
        "duration": "4 h", "line": "peripheral", "frequency": "once", "infusion_number": 1}))
    .expect("order command");
    let preview = h
        .app
        .preview_order(&prescriber, &order)
        .await
        .expect("preview");
    assert!(preview.computed.hard_stops().is_empty(), "{preview:?}");
    assert!(
        preview
            .computed
            .warnings()
            .iter()
            .all(|w| w.severity == Severity::Warning)
    );
    order.overrides = preview
        .computed
        .warnings()
        .into_iter()
        .map(|w| Override {
            code: w.code,
            reason: "reviewed for this test".into(),
        })
        .collect();
    let created = h
        .app
        .create_order(&prescriber, &order, None)
        .await
        .expect("created")
        .order;
    assert_eq!(view_columns(&created), stored_columns(&created));
    let signed = h
        .app
        .sign_order(
            &prescriber,
            &created.id,
            Some(created.version),
            &SignInput::default(),
        )
        .await
        .expect("signed");
    let entry = BlindVerification::try_from(&json!({
        "dose": format!("{} {}", signed.data.dose, signed.data.dose_unit),
        "volume": "500 mL", "rate": "125 mL/h"}))
    .expect("verification command");
    let verified = h
        .app
        .verify_order(&pharmacist, &signed.id, Some(signed.version), &entry)
        .await
        .expect("verification");
    assert_eq!(verified.outcome.as_str(), "verified", "{verified:?}");
    assert!(verified.differences.iter().all(|d| d.within_tolerance));
    let stored = h
        .app
        .store()
        .get::<Order>(&signed.id)
        .await
        .expect("read")
        .expect("order");
    // The titration computed at verification is kept in the typed programme and reads back
    // unchanged.
    assert!(
        stored.data.pump_programme_json.get("titration").is_some(),
        "{}",
        stored.data.pump_programme_json
    );
    assert_eq!(view_columns(&stored), stored_columns(&stored));
    let view = OrderView::full(&stored).expect("view");
    match view.titration() {
        Some(StoredTitration::Computed(c)) => assert_eq!(c.calculator, "titration"),
        other => panic!("expected the titration computed at verification, got {other:?}"),
    }
    h.finish().await;
}

fn field_of<T: std::fmt::Debug>(r: Result<T, AppError>) -> String {
    match r {
        Err(AppError::Invalid(e)) => e.field,
        other => format!("not an input error: {other:?}"),
    }
}

#[test]
fn each_command_names_the_field_it_refuses() {
    let order = json!({"patient_id": "p", "medication": "infliximab", "dose_per": "5 mg/kg",
                       "route": "iv"});
    assert!(NewOrder::try_from(&order).is_ok());
    let cases: Vec<(String, &str)> = vec![
        (
            field_of(NewOrder::try_from(
                &json!({"medication": "x", "dose": "1 mg", "route": "iv"}),
            )),
            "patient_id",
        ),
        (
            field_of(NewOrder::try_from(
                &json!({"patient_id": "p", "medication": "x", "route": "iv"}),
            )),
            "dose_per",
        ),
        (
            field_of(NewOrder::try_from(
                &json!({"patient_id": "p", "medication": "x", "dose": "1 mg", "route": "iv", "colour": 1}),
            )),
            "colour",
        ),
        (field_of(BlindVerification::try_from(&json!({}))), "dose"),
        (
            field_of(BlindVerification::try_from(&json!({"dose": "350 mL/h"}))),
            "dose",
        ),
        (
            field_of(BlindVerification::try_from(
                &json!({"dose": "350 mg", "rate": "fast"}),
            )),
            "rate",
        ),
        (
            field_of(BlindVerification::try_from(
                &json!({"dose": "350 mg", "decision": "maybe"}),
            )),
            "decision",
        ),
        (
            field_of(NewPreparation::try_from(
                &json!({"components": [], "final_volume": "250 mL"}),
            )),
            "components",
        ),
        (
            field_of(NewPreparation::try_from(
                &json!({"components": [{"product": "P", "lot": "L", "expiry_date": "2099-02-30", "quantity": "1 mg"}], "final_volume": "250 mL", "beyond_use_at": "2099-01-01T00:00:00Z"}),
            )),
            "components[0].expiry_date",
        ),
        (
            field_of(NewPreparation::try_from(
                &json!({"components": [{"product": "P", "lot": "L", "expiry_date": "2099-01-30", "quantity": "1 mg"}], "final_volume": "0 mL", "beyond_use_at": "2099-01-01T00:00:00Z"}),
            )),
            "final_volume",
        ),
        (
            field_of(NewAppointment::try_from(
                &json!({"patient_id": "p", "chair": "C1", "start_at": "2026-01-01T10:00:00Z", "end_at": "2026-01-01T09:00:00Z"}),
            )),
            "end_at",
        ),
        (
            field_of(NewPatient::try_from(
                &json!({"mrn": "M", "family_name": "F", "given_name": "G", "birth_date": "1970-01-01", "sex": "female", "identifiers": [{"system": 1}]}),
            )),
            "identifiers",
        ),
    ];
    for (got, want) in cases {
        assert_eq!(got, want);
    }
}
