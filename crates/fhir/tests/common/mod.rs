//! Test harness: an application on the test's record (`infusio-testkit`: a fresh SQLite file,
//! or inside `on_both_backends!`'s PostgreSQL variant a fresh schema of the server named by
//! `INFUSIO_TEST_PG_URL`), with a
//! user per role, the server's router with the FHIR routes, one request at a time through
//! `oneshot`; every FHIR resource the server answers is kept for the outside validator.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use infusio_app::{App, AppConfig};
use infusio_server::ServerConfig;
use infusio_store::Role;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh directory for the test's record and the validator's files (kept after the test).
pub fn temp_dir() -> PathBuf {
    infusio_testkit::TempDir::new("fhir-test").keep()
}

pub const USERS: &[(&str, &[Role])] = &[
    ("prescriber", &[Role::Prescriber]),
    ("pharmacist", &[Role::Pharmacist]),
    ("technician", &[Role::PharmacyTechnician]),
    ("nurse", &[Role::Nurse]),
    ("nurse2", &[Role::Nurse]),
    ("scheduler", &[Role::Scheduler]),
    ("admin", &[Role::Admin]),
];

pub struct Harness {
    pub app: App,
    pub router: Router,
    pub dir: PathBuf,
    pub tokens: Vec<(String, String)>,
    pub patient_id: String,
    /// Every FHIR resource (including Bundles and OperationOutcomes) answered so far.
    pub emitted: Mutex<Vec<Value>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// The resources of a searchset Bundle.
    pub fn entries(&self) -> Vec<Value> {
        self.body["entry"]
            .as_array()
            .map(|e| e.iter().map(|x| x["resource"].clone()).collect())
            .unwrap_or_default()
    }

    pub fn link(&self, relation: &str) -> Option<String> {
        self.body["link"].as_array().and_then(|ls| {
            ls.iter()
                .find(|l| l["relation"] == relation)
                .and_then(|l| l["url"].as_str())
                .map(str::to_string)
        })
    }
}

pub async fn harness() -> Harness {
    let dir = temp_dir();
    let store = infusio_testkit::open_store_in(&dir).await;
    let library = infusio_app::library::builtin().expect("library");
    let cfg = AppConfig {
        argon2_memory_kib: 64,
        argon2_iterations: 1,
        ..AppConfig::default()
    };
    let app = App::open(store, library, cfg).await.expect("open app");
    for (name, roles) in USERS {
        app.create_user(None, name, name, PASSWORD, roles)
            .await
            .expect("user");
    }
    let router = infusio_server::router_with(
        app.clone(),
        ServerConfig {
            secure_cookies: false,
        },
        vec![infusio_fhir::routes()],
    );
    let mut h = Harness {
        app,
        router,
        dir,
        tokens: Vec::new(),
        patient_id: String::new(),
        emitted: Mutex::new(Vec::new()),
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
    // The patient of the JSON API tests, registered through the JSON API: the FHIR side must
    // see what the rest of the system recorded.
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

    /// Sends one request as `user` (bearer token); a FHIR answer is kept for validation.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        user: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "infusio.test");
        if let Some(u) = user {
            req = req.header("authorization", format!("Bearer {}", self.token(u)));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = match body {
            Some(b) => {
                let ct = if path.starts_with("/fhir") {
                    "application/fhir+json"
                } else {
                    "application/json"
                };
                req = req.header("content-type", ct);
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
        if path.starts_with("/fhir") {
            assert_eq!(
                headers
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default(),
                "application/fhir+json; charset=utf-8",
                "{method} {path}: {body}"
            );
            assert!(body["resourceType"].is_string(), "{method} {path}: {body}");
            if let Ok(mut e) = self.emitted.lock() {
                e.push(body.clone());
            }
        }
        Reply {
            status,
            headers,
            body,
        }
    }

    /// GET as `user` of a link the server gave (absolute, on this server).
    pub async fn follow(&self, url: &str, user: &str) -> Reply {
        let path = url
            .strip_prefix("http://infusio.test")
            .unwrap_or(url)
            .to_string();
        self.call("GET", &path, Some(user), None, &[]).await
    }

    /// Runs the outside validator (fhir.resources, R4B models) on every FHIR resource answered
    /// so far. Skips with a note when INFUSIO_TEST_PYTHON is unset, unless
    /// INFUSIO_REQUIRE_VALIDATORS is set.
    pub fn validate_emitted(&self) {
        let resources: Vec<Value> = self.emitted.lock().map(|e| e.clone()).unwrap_or_default();
        assert!(!resources.is_empty(), "nothing to validate");
        validate(&resources, &self.dir);
    }
}

/// Validates `resources` with `crates/fhir/tests/validate.py` under INFUSIO_TEST_PYTHON.
pub fn validate(resources: &[Value], dir: &std::path::Path) {
    let python = match std::env::var("INFUSIO_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            if std::env::var("INFUSIO_REQUIRE_VALIDATORS").is_ok_and(|v| !v.is_empty()) {
                panic!(
                    "INFUSIO_REQUIRE_VALIDATORS is set but INFUSIO_TEST_PYTHON is not: the FHIR validator (fhir.resources) cannot run"
                );
            }
            eprintln!(
                "note: INFUSIO_TEST_PYTHON is unset: {} FHIR resources NOT validated with fhir.resources (scripts/test.sh sets it)",
                resources.len()
            );
            return;
        }
    };
    let file = dir.join(format!(
        "resources-{}.json",
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&file, Value::Array(resources.to_vec()).to_string()).expect("write resources");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/validate.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(&file)
        .output()
        .expect("run the FHIR validator");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "fhir.resources refused resources:\n{stderr}\n{stdout}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        format!("{0} of {0} resources valid", resources.len()),
        "{stdout}"
    );
    eprintln!("fhir.resources (R4B): {last}");
}

/// Runs the validator on `resources` and returns (passed, output), or `None` when
/// INFUSIO_TEST_PYTHON is unset.
pub fn run_validator(resources: &[Value], dir: &std::path::Path) -> Option<(bool, String)> {
    let python = std::env::var("INFUSIO_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())?;
    let file = dir.join(format!(
        "resources-{}.json",
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::write(&file, Value::Array(resources.to_vec()).to_string()).expect("write resources");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/validate.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(&file)
        .output()
        .expect("run the FHIR validator");
    Some((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}
