//! Shared test harness: an application on the test's record (`infusio-testkit`: a fresh SQLite
//! file, or inside `on_both_backends!`'s PostgreSQL variant a fresh schema of the server named
//! by `INFUSIO_TEST_PG_URL`), users for every role, and a helper that sends one request through
//! the router with `oneshot` (no socket).

#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use infusio_app::{App, AppConfig};
use infusio_server::ServerConfig;
use infusio_store::Role;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery";

pub use infusio_testkit::open_store;

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
    ("pharmacist2", &[Role::Pharmacist]),
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
