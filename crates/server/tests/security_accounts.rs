//! Accounts an administrator creates (issue 19): the password policy (length, common
//! passwords, the user name) and separation of duties in role combinations.

mod common;

use infusio_testkit::on_both_backends;

use axum::http::StatusCode;
use serde_json::json;

async fn create(
    h: &common::Harness,
    username: &str,
    password: &str,
    roles: &[&str],
) -> (StatusCode, serde_json::Value) {
    let r = h
        .call(
            "POST",
            "/api/users",
            Some("admin"),
            Some(json!({"username": username, "password": password, "roles": roles})),
            &[],
        )
        .await;
    (r.status, r.body)
}

/// The review created accounts with `12345678`, `password` and the user name as password.
async fn weak_passwords_are_refused_without_echoing_them() {
    let h = common::harness().await;
    for (name, password) in [
        ("newnurse", "12345678"),
        ("newnurse", "password"),
        ("newnurse", "password1234"),
        ("newnurse", "Password1234!"),
        ("newnurse", "newnurse"),
        ("newnurse", "my-newnurse-account"),
    ] {
        let (status, body) = create(&h, name, password, &["nurse"]).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{password}: {body}"
        );
        assert_eq!(body["field"], "password", "{body}");
        assert_eq!(body["value"], "(hidden)", "the password was echoed: {body}");
    }
    let (status, body) = create(&h, "newnurse", "violet kettle on tuesday", &["nurse"]).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// The review made one account prescriber + pharmacist + nurse, who then signed and verified.
async fn a_prescriber_pharmacist_account_is_refused() {
    let h = common::harness().await;
    let (status, body) = create(
        &h,
        "allrounder",
        "violet kettle on tuesday",
        &["prescriber", "pharmacist", "nurse"],
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "roles");
    assert_eq!(body["value"], "prescriber + pharmacist");
    let (status, body) = create(
        &h,
        "allrounder",
        "violet kettle on tuesday",
        &["prescriber", "nurse"],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

on_both_backends!(
    weak_passwords_are_refused_without_echoing_them,
    a_prescriber_pharmacist_account_is_refused,
);
