//! Store test fixtures: records to insert and a tamper helper. The databases come from
//! `infusio-testkit` (a fresh SQLite file, or a fresh schema on the PostgreSQL server named by
//! `INFUSIO_TEST_PG_URL`).
#![allow(dead_code)]

use infusio_store::records::*;
use infusio_store::{Change, Decimal, OrderStatus, Role, Store, Stored, Tx};
pub use infusio_testkit::backend::{pg_fresh_store, with_param};
pub use infusio_testkit::{TempDir, TestDb, on_both_backends, pg_url};
use serde_json::json;

pub fn clinician(role: &str) -> Change {
    Change::by("user-under-test", role)
}

pub fn d(s: &str) -> Decimal {
    Decimal::parse(s).expect("a valid decimal in the test")
}

pub fn patient(mrn: &str) -> Patient {
    Patient {
        mrn: mrn.into(),
        family_name: "Test".into(),
        given_name: "Pat".into(),
        birth_date: "1970-01-31".into(),
        sex: "female".into(),
        identifiers_json: json!([{"system": "urn:test:mrn", "value": mrn}]),
    }
}

/// Inserts one patient in its own transaction and returns it with its audit sequence number.
pub async fn add_patient(store: &Store, mrn: &str) -> (Stored<Patient>, i64) {
    let mut tx = store.begin().await.expect("begin");
    let p = tx
        .insert(&clinician("admin"), patient(mrn))
        .await
        .expect("insert patient");
    let events = tx.commit().await.expect("commit");
    (p, events[0].seq)
}

/// Raw SQL that bypasses the append-only guards, as an attacker with database-owner rights
/// could: SQLite drops the triggers; PostgreSQL switches this transaction to replica mode,
/// in which ordinary triggers do not fire (a superuser right).
pub async fn bypass_guards(tx: &mut Tx) {
    match tx.backend() {
        infusio_store::Backend::Sqlite => {
            for t in ["audit_event_no_update", "audit_event_no_delete"] {
                tx.raw_execute(&format!("DROP TRIGGER IF EXISTS {t}"), &[])
                    .await
                    .expect("drop trigger");
            }
        }
        infusio_store::Backend::Postgres => {
            tx.raw_execute("SET LOCAL session_replication_role = replica", &[])
                .await
                .expect("replica mode");
        }
    }
}

pub fn user(name: &str) -> User {
    User {
        username: name.into(),
        display_name: format!("{name} (test)"),
        password_hash: None,
        active: true,
    }
}

pub fn order(patient_id: &str, prescriber_id: &str, plan: Option<String>) -> Order {
    Order {
        patient_id: patient_id.into(),
        therapy_plan_id: plan,
        drug_id: "infliximab".into(),
        dose: d("350"),
        dose_unit: "mg".into(),
        route: "IV".into(),
        final_volume_ml: Some(d("250")),
        rate_ml_per_h: Some(d("125")),
        status: OrderStatus::Draft,
        prescriber_id: prescriber_id.into(),
        signed_at_us: None,
        high_alert: false,
        pump_programme_json: json!({"rate_ml_per_h": "125", "vtbi_ml": "250"}),
        derivation_json: json!({"steps": [{"formula": "5 mg/kg x 70 kg", "result": "350 mg"}]}),
        findings_json: json!([]),
        overrides_json: json!([]),
    }
}

pub fn role(user_id: &str, role: Role) -> UserRole {
    UserRole {
        user_id: user_id.into(),
        role,
    }
}
