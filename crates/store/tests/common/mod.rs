//! Test harness: a fresh SQLite file, or a fresh database on the PostgreSQL server named by
//! `INFUSIO_TEST_PG_URL` (`scripts/test.sh` starts a throwaway cluster and sets it).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use infusio_store::records::*;
use infusio_store::{Change, Decimal, OrderStatus, Role, Store, Stored, Tx, new_id};
use serde_json::json;

/// The variable the PostgreSQL tests read.
pub const PG_URL_VAR: &str = "INFUSIO_TEST_PG_URL";

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("infusio-store-{tag}-{}", new_id()));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store under test and what keeps it alive.
pub struct TestDb {
    pub store: Store,
    pub dir: TempDir,
    /// The PostgreSQL schema, when on PostgreSQL.
    pub pg_schema: Option<String>,
}

pub async fn sqlite() -> TestDb {
    let dir = TempDir::new("sqlite");
    let store = Store::open_data_dir(dir.path()).await.expect("open sqlite");
    store.migrate().await.expect("migrate sqlite");
    TestDb {
        store,
        dir,
        pg_schema: None,
    }
}

/// The server URL, or `None` after saying loudly why the PostgreSQL test is skipped.
pub fn pg_server_url(test: &str) -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            // Written to the process's stderr directly: libtest would hide an eprintln! of a
            // passing test, and a skip must be seen.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test} on PostgreSQL: {PG_URL_VAR} is not set. \
                 Run scripts/test.sh (it starts a throwaway cluster) or set {PG_URL_VAR} to a \
                 server where this user may CREATE DATABASE."
            );
            None
        }
    }
}

/// `url` with one more query parameter.
pub fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// Creates a fresh schema on the test server and opens a store whose connections use it
/// (`search_path`), not migrated. A schema per test keeps tests apart and is much cheaper than
/// a database per test (CREATE/DROP DATABASE force checkpoints).
pub async fn pg_fresh_unmigrated(test: &str) -> Option<(Store, String)> {
    let url = pg_server_url(test)?;
    let admin = Store::open(&url)
        .await
        .expect("connect to the test PostgreSQL server");
    let name = format!("t_{}", new_id().replace('-', ""));
    admin
        .execute_admin(&format!("CREATE SCHEMA {name}"))
        .await
        .expect("create the test schema");
    admin.close().await;
    let store = Store::open(&with_param(
        &url,
        &format!("options%5Bsearch_path%5D={name}"),
    ))
    .await
    .expect("open the test schema");
    Some((store, name))
}

pub async fn postgres(test: &str) -> Option<TestDb> {
    let (store, name) = pg_fresh_unmigrated(test).await?;
    store.migrate().await.expect("migrate postgres");
    Some(TestDb {
        store,
        dir: TempDir::new("pg"),
        pg_schema: Some(name),
    })
}

impl TestDb {
    /// Drops the PostgreSQL schema (the SQLite file goes with the temporary directory).
    pub async fn finish(self) {
        self.store.close().await;
        if let (Some(name), Ok(url)) = (self.pg_schema, std::env::var(PG_URL_VAR))
            && let Ok(admin) = Store::open(&url).await
        {
            let _ = admin
                .execute_admin(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .await;
            admin.close().await;
        }
    }
}

/// Runs one async test body on SQLite and, when configured, on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::common::sqlite().await;
                super::$body(&db).await;
                db.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = $crate::common::postgres(stringify!($name)).await else {
                    return;
                };
                super::$body(&db).await;
                db.finish().await;
            }
        }
    };
}

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
