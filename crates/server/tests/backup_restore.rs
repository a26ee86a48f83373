//! A restored backup is the same record to its clients: the audit head matches the snapshot's,
//! a bearer token issued before the backup still signs in, and an idempotency key used before
//! the backup still answers with the order it made instead of making a second one. On SQLite
//! (a `VACUUM INTO` snapshot) and PostgreSQL (the JSON dump).

mod common;

use infusio_testkit::on_both_backends;

use axum::http::StatusCode;
use infusio_app::App;
use infusio_server::ServerConfig;
use serde_json::json;

async fn a_restored_backup_honours_sessions_idempotency_keys_and_the_audit_head() {
    let h = common::harness().await;
    let body = h.order_body().await;
    let first = h
        .call(
            "POST",
            "/api/orders",
            Some("prescriber"),
            Some(body.clone()),
            &[("idempotency-key", "restore-key-1")],
        )
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let order_id = first.body["id"].as_str().unwrap_or_default().to_string();

    let dir = infusio_testkit::TempDir::new("backup");
    let file = dir.path().join("backup.infusio");
    let taken = infusio_store::backup::backup(h.app.store(), &file)
        .await
        .expect("backup");
    assert_eq!(
        taken.audit_head,
        h.app.store().audit_head().await.expect("head")
    );

    let (target, pg) = infusio_testkit::open_another_store().await;
    let restored = infusio_store::backup::restore(&target, &file)
        .await
        .expect("restore");
    assert_eq!(restored.audit_head, taken.audit_head);
    let app = App::open(
        target,
        infusio_app::library::builtin().expect("library"),
        common::config(),
    )
    .await
    .expect("open the restored record");
    assert_eq!(
        app.store().audit_head().await.expect("restored head"),
        taken.audit_head
    );
    let r = common::Harness {
        router: infusio_server::router(
            app.clone(),
            ServerConfig {
                secure_cookies: false,
            },
        ),
        app,
        tokens: h.tokens.clone(),
        patient_id: h.patient_id.clone(),
    };

    // The token issued before the backup still works on the restored record.
    let me = r
        .call("GET", "/api/auth/me", Some("prescriber"), None, &[])
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    // The retried submit answers with the same order; no second order is made.
    let again = r
        .call(
            "POST",
            "/api/orders",
            Some("prescriber"),
            Some(body.clone()),
            &[("idempotency-key", "restore-key-1")],
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["id"], order_id.as_str());
    let list = r
        .call(
            "GET",
            &format!("/api/orders?patient_id={}", r.patient_id),
            Some("prescriber"),
            None,
            &[],
        )
        .await;
    assert_eq!(list.body.as_array().map(Vec::len), Some(1), "{}", list.body);
    // The key still belongs to its request.
    let mut other = body;
    other["volume"] = json!("500 mL");
    let conflict = r
        .call(
            "POST",
            "/api/orders",
            Some("prescriber"),
            Some(other),
            &[("idempotency-key", "restore-key-1")],
        )
        .await;
    assert_eq!(conflict.status, StatusCode::CONFLICT, "{}", conflict.body);
    // And the chain verifies on the restored record.
    let v = r
        .call("GET", "/api/audit/verify", Some("admin"), None, &[])
        .await;
    assert!(v.body["broken"].is_null(), "{}", v.body);
    r.app.store().close().await;
    if let Some(schema) = pg {
        schema.drop().await;
    }
}

on_both_backends!(a_restored_backup_honours_sessions_idempotency_keys_and_the_audit_head);
