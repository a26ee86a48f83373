//! Account administration over the API (issue 19): deactivation, password reset and change,
//! role changes and session revocation; each ends the user's sessions at once.

mod common;

use infusio_testkit::on_both_backends;

use axum::http::StatusCode;
use serde_json::json;

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// `GET /api/auth/me` with a raw token.
async fn me(h: &common::Harness, token: &str) -> StatusCode {
    let auth = bearer(token);
    h.call(
        "GET",
        "/api/auth/me",
        None,
        None,
        &[("authorization", &auth)],
    )
    .await
    .status
}

async fn sign_in(h: &common::Harness, user: &str, password: &str) -> (StatusCode, String) {
    let r = h
        .call(
            "POST",
            "/api/auth/sign-in",
            None,
            Some(json!({"username": user, "password": password, "mode": "token"})),
            &[],
        )
        .await;
    (
        r.status,
        r.body["token"].as_str().unwrap_or_default().to_string(),
    )
}

async fn user_id(h: &common::Harness, name: &str) -> String {
    let r = h.call("GET", "/api/users", Some("admin"), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
        .as_array()
        .and_then(|a| a.iter().find(|u| u["username"] == name))
        .and_then(|u| u["id"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// A deactivated user's open session ends at once and the right password no longer works.
async fn a_deactivated_user_is_signed_out_and_cannot_sign_in() {
    let h = common::harness().await;
    let nurse = h.token("nurse");
    assert_eq!(me(&h, &nurse).await, StatusCode::OK);
    let id = user_id(&h, "nurse").await;
    let r = h
        .call(
            "POST",
            &format!("/api/users/{id}/deactivate"),
            Some("nurse2"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = h
        .call(
            "POST",
            &format!("/api/users/{id}/deactivate"),
            Some("admin"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["user"]["active"], false);
    assert_eq!(r.body["sessions_ended"], 1);
    assert_eq!(me(&h, &nurse).await, StatusCode::UNAUTHORIZED);
    let (status, _) = sign_in(&h, "nurse", common::PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The change is in the audit chain.
    let events = h.app.store().begin_snapshot().await.expect("tx");
    let mut tx = events;
    let evs = infusio_store::audit::events_of(&mut tx, &id)
        .await
        .expect("events");
    tx.rollback().await.expect("rollback");
    assert!(evs.iter().any(|e| e.action == "user.deactivate"), "{evs:?}");
    // An administrator cannot deactivate their own account.
    let admin = user_id(&h, "admin").await;
    let r = h
        .call(
            "POST",
            &format!("/api/users/{admin}/deactivate"),
            Some("admin"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
}

/// A user changes their own password: the current one is required, the policy applies, and
/// every session ends (the old password no longer signs in).
async fn a_password_change_needs_the_current_password_and_ends_sessions() {
    let h = common::harness().await;
    let new = "silver maple in october";
    let wrong = h
        .call(
            "POST",
            "/api/auth/password",
            Some("nurse"),
            Some(json!({"current_password": "not my password at all", "new_password": new})),
            &[],
        )
        .await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.body
    );
    assert_eq!(wrong.body["field"], "current_password");
    assert_eq!(wrong.body["value"], "(hidden)");
    let weak = h
        .call(
            "POST",
            "/api/auth/password",
            Some("nurse"),
            Some(json!({"current_password": common::PASSWORD, "new_password": "password1234"})),
            &[],
        )
        .await;
    assert_eq!(
        weak.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        weak.body
    );
    assert_eq!(weak.body["field"], "password");
    assert!(
        !weak.body.to_string().contains("password1234"),
        "{}",
        weak.body
    );
    let (status, second) = sign_in(&h, "nurse", common::PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    let ok = h
        .call(
            "POST",
            "/api/auth/password",
            Some("nurse"),
            Some(json!({"current_password": common::PASSWORD, "new_password": new})),
            &[],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["sessions_ended"], 2);
    assert_eq!(me(&h, &h.token("nurse")).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&h, &second).await, StatusCode::UNAUTHORIZED);
    let (status, _) = sign_in(&h, "nurse", common::PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, token) = sign_in(&h, "nurse", new).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me(&h, &token).await, StatusCode::OK);
}

/// An administrator resets a password, replaces roles and revokes sessions; each ends the
/// user's sessions; the role set keeps separation of duties.
async fn an_administrator_resets_sets_roles_and_revokes() {
    let h = common::harness().await;
    let id = user_id(&h, "prescriber2").await;
    let new = "copper kettle by the window";
    let r = h
        .call(
            "POST",
            &format!("/api/users/{id}/password"),
            Some("admin"),
            Some(json!({"password": new})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!r.body.to_string().contains("copper"), "{}", r.body);
    assert_eq!(
        me(&h, &h.token("prescriber2")).await,
        StatusCode::UNAUTHORIZED
    );
    let (status, token) = sign_in(&h, "prescriber2", new).await;
    assert_eq!(status, StatusCode::OK);

    let r = h
        .call(
            "PUT",
            &format!("/api/users/{id}/roles"),
            Some("admin"),
            Some(json!({"roles": ["prescriber", "pharmacist"]})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.body["field"], "roles");
    assert_eq!(
        me(&h, &token).await,
        StatusCode::OK,
        "a refused change ended the session"
    );
    let r = h
        .call(
            "PUT",
            &format!("/api/users/{id}/roles"),
            Some("admin"),
            Some(json!({"roles": ["scheduler"]})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["user"]["roles"], json!(["scheduler"]));
    assert_eq!(me(&h, &token).await, StatusCode::UNAUTHORIZED);
    let (_, token) = sign_in(&h, "prescriber2", new).await;
    let auth = bearer(&token);
    let r = h
        .call(
            "GET",
            "/api/auth/me",
            None,
            None,
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(r.body["roles"], json!(["scheduler"]), "{}", r.body);

    let r = h
        .call(
            "POST",
            "/api/users/prescriber2/revoke-sessions",
            Some("admin"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["sessions_ended"], 1);
    assert_eq!(me(&h, &token).await, StatusCode::UNAUTHORIZED);
    let (status, _) = sign_in(&h, "prescriber2", new).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "revocation does not lock the account"
    );

    let r = h
        .call(
            "POST",
            "/api/users/nobody/revoke-sessions",
            Some("admin"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}

on_both_backends!(
    a_deactivated_user_is_signed_out_and_cannot_sign_in,
    a_password_change_needs_the_current_password_and_ends_sessions,
    an_administrator_resets_sets_roles_and_revokes,
);
