//! Shared test harness: an application on a fresh SQLite file — or, inside
//! [`on_both_backends!`]'s PostgreSQL variant, on a fresh schema of the PostgreSQL server named by
//! `INFUSIO_TEST_PG_URL` — users for every role, and a helper that sends one request through the
//! router with `oneshot` (no socket).

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use infusio_app::{App, AppConfig};
use infusio_server::ServerConfig;
use infusio_store::{Role, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery";

/// The variable naming a PostgreSQL server where this user may create schemas
/// (`scripts/test.sh` starts a throwaway cluster and sets it).
pub const PG_URL_VAR: &str = "INFUSIO_TEST_PG_URL";

/// The database the harness of the current test opens.
#[derive(Clone, Debug)]
pub enum TestBackend {
    Sqlite,
    /// A fresh schema `schema` on the server at `url`.
    Postgres {
        url: String,
        schema: String,
    },
}

tokio::task_local! {
    /// Set by [`on_both_backends!`]; a test outside it runs on SQLite.
    pub static BACKEND: TestBackend;
}

/// The PostgreSQL server URL, or `None` after saying (on the process's stderr, which libtest
/// does not capture) that the PostgreSQL variant of `test` is skipped.
pub fn pg_url(test: &str) -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test} on PostgreSQL: {PG_URL_VAR} is not set (scripts/test.sh sets it)"
            );
            None
        }
    }
}

fn with_param(url: &str, param: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{param}")
}

/// Creates schema `schema` on the server at `url` (a schema per test keeps tests apart and is
/// much cheaper than a database per test).
pub async fn pg_create_schema(url: &str, schema: &str) {
    let admin = Store::open(url)
        .await
        .expect("connect to the test PostgreSQL server");
    admin
        .execute_admin(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create the test schema");
    admin.close().await;
}

/// Drops the test's schema (best effort: the cluster of scripts/test.sh is thrown away anyway).
pub async fn pg_drop_schema(url: &str, schema: &str) {
    if let Ok(admin) = Store::open(url).await {
        let _ = admin
            .execute_admin(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await;
        admin.close().await;
    }
}

/// A schema name unique to this run.
pub fn pg_schema_name() -> String {
    format!("srv_{}", infusio_store::new_id().replace('-', ""))
}

/// Opens the store of the current test's backend.
pub async fn open_store() -> Store {
    match BACKEND
        .try_with(|b| b.clone())
        .unwrap_or(TestBackend::Sqlite)
    {
        TestBackend::Sqlite => Store::open_sqlite(&temp_db()).await.expect("open sqlite"),
        TestBackend::Postgres { url, schema } => {
            let store = Store::open(&with_param(
                &url,
                &format!("options%5Bsearch_path%5D={schema}"),
            ))
            .await
            .expect("open the test schema");
            assert_eq!(store.backend(), infusio_store::Backend::Postgres);
            store
        }
    }
}

/// A second, empty store on the current test's backend (a restore target). On PostgreSQL a new
/// schema, returned so the caller can drop it.
pub async fn open_another_store() -> (Store, Option<(String, String)>) {
    match BACKEND
        .try_with(|b| b.clone())
        .unwrap_or(TestBackend::Sqlite)
    {
        TestBackend::Sqlite => (
            Store::open_sqlite(&temp_db()).await.expect("open sqlite"),
            None,
        ),
        TestBackend::Postgres { url, .. } => {
            let schema = pg_schema_name();
            pg_create_schema(&url, &schema).await;
            let store = Store::open(&with_param(
                &url,
                &format!("options%5Bsearch_path%5D={schema}"),
            ))
            .await
            .expect("open the second test schema");
            (store, Some((url, schema)))
        }
    }
}

/// Runs each named `async fn` test on SQLite and, when `INFUSIO_TEST_PG_URL` is set, on a fresh
/// PostgreSQL schema: `on_both_backends!(test_a, test_b);` makes `test_a::sqlite`,
/// `test_a::postgres`, …
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    $crate::common::BACKEND
                        .scope($crate::common::TestBackend::Sqlite, super::$name())
                        .await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    let Some(url) = $crate::common::pg_url(stringify!($name)) else {
                        return;
                    };
                    let schema = $crate::common::pg_schema_name();
                    $crate::common::pg_create_schema(&url, &schema).await;
                    $crate::common::BACKEND
                        .scope(
                            $crate::common::TestBackend::Postgres {
                                url: url.clone(),
                                schema: schema.clone(),
                            },
                            super::$name(),
                        )
                        .await;
                    $crate::common::pg_drop_schema(&url, &schema).await;
                }
            }
        )*
    };
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh database file under the system temp directory.
pub fn temp_db() -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("infusio-server-test-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    dir.join("test.sqlite3")
}

pub struct Harness {
    pub app: App,
    pub router: Router,
    /// Bearer tokens by user name.
    pub tokens: Vec<(String, String)>,
    pub patient_id: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn etag(&self) -> String {
        self.headers
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
}

/// Users of the harness: one per role, a second prescriber and nurse, and a user who is both
/// prescriber and pharmacist (for the separation-of-duties test).
pub const USERS: &[(&str, &[Role])] = &[
    ("prescriber", &[Role::Prescriber]),
    ("prescriber2", &[Role::Prescriber]),
    ("pharmacist", &[Role::Pharmacist]),
    ("technician", &[Role::PharmacyTechnician]),
    ("nurse", &[Role::Nurse]),
    ("nurse2", &[Role::Nurse]),
    ("scheduler", &[Role::Scheduler]),
    ("admin", &[Role::Admin]),
    ("dual", &[Role::Prescriber, Role::Pharmacist]),
];

pub fn config() -> AppConfig {
    AppConfig {
        // Cheap hashes keep the suite fast; production uses the defaults.
        argon2_memory_kib: 64,
        argon2_iterations: 1,
        ..AppConfig::default()
    }
}

pub async fn harness() -> Harness {
    harness_with(config()).await
}

pub async fn harness_with(cfg: AppConfig) -> Harness {
    let store = open_store().await;
    let library = infusio_app::library::builtin().expect("library");
    let app = App::open(store, library, cfg).await.expect("open app");
    for (name, roles) in USERS {
        app.create_user(None, name, name, PASSWORD, roles)
            .await
            .expect("user");
    }
    let router = infusio_server::router(
        app.clone(),
        ServerConfig {
            secure_cookies: false,
        },
    );
    let mut h = Harness {
        app,
        router,
        tokens: Vec::new(),
        patient_id: String::new(),
    };
    for (name, _) in USERS {
        let r = h
            .call(
                "POST",
                "/api/auth/sign-in",
                None,
                Some(json!({"username": name, "password": PASSWORD, "mode": "token"})),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let token = r.body["token"].as_str().unwrap_or_default().to_string();
        h.tokens.push((name.to_string(), token));
    }
    let p = h
        .call(
            "POST",
            "/api/patients",
            Some("scheduler"),
            Some(json!({"mrn": "MRN42", "family_name": "Okafor", "given_name": "Grace", "birth_date": "1979-04-12", "sex": "female"})),
            &[],
        )
        .await;
    assert_eq!(p.status, StatusCode::CREATED, "{}", p.body);
    h.patient_id = p.body["id"].as_str().unwrap_or_default().to_string();
    let pid = h.patient_id.clone();
    for body in [
        json!({"kind": "weight", "value": "70 kg", "source": "scale"}),
        json!({"kind": "height", "value": "165 cm"}),
    ] {
        let r = h
            .call(
                "POST",
                &format!("/api/patients/{pid}/measurements"),
                Some("nurse"),
                Some(body),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    for (name, value) in [
        ("serum_creatinine", "0.9 mg/dL"),
        ("anc", "3.1 10*9/L"),
        ("platelets", "220 10*9/L"),
        ("hemoglobin", "12.8 g/dL"),
        ("bilirubin", "0.6 mg/dL"),
        ("ast", "24 units/L"),
        ("alt", "22 units/L"),
    ] {
        let r = h
            .call(
                "POST",
                &format!("/api/patients/{pid}/labs"),
                Some("nurse"),
                Some(json!({"name": name, "value": value})),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    h
}

impl Harness {
    pub fn token(&self, user: &str) -> String {
        self.tokens
            .iter()
            .find(|(n, _)| n == user)
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    }

    pub fn user_id(&self, _user: &str) -> String {
        String::new()
    }

    /// Sends one request as `user` (bearer token) with extra headers.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        user: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(u) = user {
            req = req.header("authorization", format!("Bearer {}", self.token(u)));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let res = self
            .router
            .clone()
            .oneshot(req.body(body).expect("request"))
            .await
            .expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 16 << 20)
            .await
            .expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// The infliximab order used across the tests (5 mg/kg for a 70 kg patient = 350 mg in
    /// 250 mL over 2 h = 125 mL/h), with its warnings overridden.
    pub async fn order_body(&self) -> Value {
        let mut body = json!({
            "patient_id": self.patient_id,
            "medication": "infliximab", "dose_per": "5 mg/kg", "route": "iv",
            "volume": "250 mL", "duration": "2 h", "line": "peripheral",
            "frequency": "q8w", "infusion_number": 4
        });
        let preview = self
            .call(
                "POST",
                "/api/orders/preview",
                Some("prescriber"),
                Some(body.clone()),
                &[],
            )
            .await;
        assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
        let overrides: Vec<Value> = preview.body["computed"]["findings"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f["severity"] == "warning")
            .map(|f| json!({"code": f["code"], "reason": "reviewed in clinic"}))
            .collect();
        body["overrides"] = Value::Array(overrides);
        body
    }

    /// Creates and returns (id, etag) of a draft order as `prescriber`.
    pub async fn draft(&self) -> (String, String) {
        let body = self.order_body().await;
        let r = self
            .call("POST", "/api/orders", Some("prescriber"), Some(body), &[])
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        (
            r.body["id"].as_str().unwrap_or_default().to_string(),
            r.etag(),
        )
    }

    /// Creates and signs an order; returns (id, etag).
    pub async fn signed(&self) -> (String, String) {
        let (id, etag) = self.draft().await;
        let r = self
            .call(
                "POST",
                &format!("/api/orders/{id}/sign"),
                Some("prescriber"),
                None,
                &[("if-match", &etag)],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        (id, r.etag())
    }

    /// Creates, signs and verifies an order; returns (id, etag).
    pub async fn verified(&self) -> (String, String) {
        let (id, etag) = self.signed().await;
        let r = self
            .call(
                "POST",
                &format!("/api/orders/{id}/verify"),
                Some("pharmacist"),
                Some(json!({"dose": "350 mg", "volume": "250 mL", "rate": "125 mL/h"})),
                &[("if-match", &etag)],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["outcome"], "verified", "{}", r.body);
        (id, r.etag())
    }
}
