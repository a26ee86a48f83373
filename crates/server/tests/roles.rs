//! Each forbidden action is refused: by role (the role table), by separation of duties (a
//! prescriber never verifies their own order, only the prescriber signs, a double check needs a
//! second distinct nurse) and by authentication (no session, CSRF, lockout, idle timeout).

mod common;

use infusio_testkit::on_both_backends;

use axum::http::StatusCode;
use serde_json::json;

async fn each_role_is_refused_what_it_may_not_do() {
    let h = common::harness().await;
    let (signed, signed_etag) = h.signed().await;
    let (verified, verified_etag) = h.verified().await;
    let pid = h.patient_id.clone();
    let order = h.order_body().await;
    let blind = json!({"dose": "350 mg", "volume": "250 mL", "rate": "125 mL/h"});
    let prep = json!({"components": [{"product": "infliximab 100 mg vial", "lot": "L1", "expiry_date": "2099-01-01", "quantity": "350 mg"}],
                      "final_volume": "250 mL", "beyond_use_at": "2099-01-01T00:00:00Z"});
    let user = json!({"username": "newbie", "password": "long enough pw", "roles": ["nurse"]});
    // (who, method, path, body, if-match)
    let cases: Vec<(&str, &str, String, Option<serde_json::Value>, &str)> = vec![
        (
            "nurse",
            "POST",
            "/api/orders".into(),
            Some(order.clone()),
            "",
        ),
        (
            "pharmacist",
            "POST",
            "/api/orders".into(),
            Some(order.clone()),
            "",
        ),
        (
            "scheduler",
            "POST",
            "/api/orders".into(),
            Some(order.clone()),
            "",
        ),
        (
            "admin",
            "POST",
            "/api/orders".into(),
            Some(order.clone()),
            "",
        ),
        (
            "nurse",
            "POST",
            format!("/api/orders/{signed}/verify"),
            Some(blind.clone()),
            &signed_etag,
        ),
        (
            "prescriber2",
            "POST",
            format!("/api/orders/{signed}/verify"),
            Some(blind.clone()),
            &signed_etag,
        ),
        (
            "technician",
            "POST",
            format!("/api/orders/{signed}/verify"),
            Some(blind.clone()),
            &signed_etag,
        ),
        (
            "nurse",
            "POST",
            format!("/api/orders/{verified}/preparations"),
            Some(prep.clone()),
            &verified_etag,
        ),
        (
            "prescriber",
            "POST",
            format!("/api/orders/{verified}/preparations"),
            Some(prep.clone()),
            &verified_etag,
        ),
        (
            "pharmacist",
            "POST",
            format!("/api/orders/{verified}/administrations"),
            Some(json!({})),
            &verified_etag,
        ),
        (
            "scheduler",
            "POST",
            format!("/api/orders/{verified}/administrations"),
            Some(json!({})),
            &verified_etag,
        ),
        (
            "nurse",
            "POST",
            format!("/api/orders/{verified}/cancel"),
            Some(json!({"reason": "x"})),
            &verified_etag,
        ),
        (
            "scheduler",
            "POST",
            format!("/api/orders/{verified}/hold"),
            Some(json!({"reason": "x"})),
            &verified_etag,
        ),
        (
            "pharmacist",
            "POST",
            "/api/appointments".into(),
            Some(
                json!({"patient_id": pid, "chair": "C1", "start_at": "2099-01-01T08:00:00Z", "end_at": "2099-01-01T09:00:00Z"}),
            ),
            "",
        ),
        ("admin", "GET", format!("/api/patients/{pid}"), None, ""),
        ("admin", "GET", "/api/orders".into(), None, ""),
        (
            "technician",
            "POST",
            format!("/api/patients/{pid}/labs"),
            Some(json!({"name": "anc", "value": "2 10*9/L"})),
            "",
        ),
        ("nurse", "GET", "/api/audit/verify".into(), None, ""),
        ("prescriber", "GET", "/api/users".into(), None, ""),
        ("nurse", "POST", "/api/users".into(), Some(user.clone()), ""),
    ];
    for (who, method, path, body, etag) in cases {
        let headers: Vec<(&str, &str)> = if etag.is_empty() {
            vec![]
        } else {
            vec![("if-match", etag)]
        };
        let r = h.call(method, &path, Some(who), body, &headers).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{who} {method} {path}: {}",
            r.body
        );
        assert_eq!(r.body["code"], "forbidden");
    }
    // Nothing changed: the orders are where they were.
    let r = h
        .call(
            "GET",
            &format!("/api/orders/{signed}"),
            Some("prescriber"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.body["status"], "signed");
    assert_eq!(r.etag(), signed_etag);
    let r = h
        .call(
            "GET",
            &format!("/api/orders/{verified}"),
            Some("prescriber"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.body["status"], "verified");
    // And the admin may do what is theirs.
    let r = h
        .call("POST", "/api/users", Some("admin"), Some(user), &[])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

async fn a_prescriber_who_is_also_a_pharmacist_cannot_verify_their_own_order() {
    let h = common::harness().await;
    let body = h.order_body().await;
    let r = h
        .call("POST", "/api/orders", Some("dual"), Some(body), &[])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.body["id"].as_str().unwrap_or_default().to_string();
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/sign"),
            Some("dual"),
            None,
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/verify"),
            Some("dual"),
            Some(json!({"dose": "350 mg", "volume": "250 mL", "rate": "125 mL/h"})),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("separation of duties"))
    );
    // Another pharmacist may.
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/verify"),
            Some("pharmacist"),
            Some(json!({"dose": "350 mg", "volume": "250 mL", "rate": "125 mL/h"})),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(r.body["outcome"], "verified", "{}", r.body);
}

async fn only_the_orders_prescriber_signs_it() {
    let h = common::harness().await;
    let (id, etag) = h.draft().await;
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/sign"),
            Some("prescriber2"),
            None,
            &[("if-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn requests_without_a_valid_session_are_refused() {
    let h = common::harness().await;
    let r = h.call("GET", "/api/orders", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["code"], "auth.required");
    let r = h
        .call(
            "GET",
            "/api/orders",
            None,
            None,
            &[("authorization", "Bearer 00")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // After sign-out the token is dead.
    let t = h.token("nurse");
    let r = h
        .call("POST", "/api/auth/sign-out", Some("nurse"), None, &[])
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = h
        .call(
            "GET",
            "/api/orders",
            None,
            None,
            &[("authorization", &format!("Bearer {t}"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Health and the API description are public.
    assert_eq!(
        h.call("GET", "/healthz", None, None, &[]).await.status,
        StatusCode::OK
    );
    assert_eq!(
        h.call("GET", "/api/openapi.json", None, None, &[])
            .await
            .status,
        StatusCode::OK
    );
}

async fn cookie_sign_in(h: &common::Harness, user: &str) -> (String, String) {
    let r = h
        .call(
            "POST",
            "/api/auth/sign-in",
            None,
            Some(json!({"username": user, "password": common::PASSWORD})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let set_cookie = r
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    assert!(
        r.body.get("token").is_none(),
        "a cookie sign-in never shows the token in the body"
    );
    let cookie = set_cookie.split(';').next().unwrap_or_default().to_string();
    (
        cookie,
        r.body["csrf_token"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

async fn cookie_sessions_need_the_csrf_token_and_a_same_host_origin_for_changes() {
    let h = common::harness().await;
    let (cookie, csrf) = cookie_sign_in(&h, "nurse").await;
    let pid = h.patient_id.clone();
    let path = format!("/api/patients/{pid}/measurements");
    let body = json!({"kind": "weight", "value": "71 kg"});
    // Reading needs no CSRF token.
    let r = h
        .call(
            "GET",
            &format!("/api/patients/{pid}"),
            None,
            None,
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h
        .call(
            "POST",
            &path,
            None,
            Some(body.clone()),
            &[("cookie", &cookie)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = h
        .call(
            "POST",
            &path,
            None,
            Some(body.clone()),
            &[("cookie", &cookie), ("x-csrf-token", "0000")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = h
        .call(
            "POST",
            &path,
            None,
            Some(body.clone()),
            &[
                ("cookie", &cookie),
                ("x-csrf-token", &csrf),
                ("host", "infusio.local"),
                ("origin", "https://evil.example"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = h
        .call(
            "POST",
            &path,
            None,
            Some(body.clone()),
            &[
                ("cookie", &cookie),
                ("x-csrf-token", &csrf),
                ("host", "infusio.local"),
                ("origin", "https://infusio.local"),
            ],
        )
        .await;
    // The scheme is compared too: this server speaks plain HTTP (no trusted proxy says
    // otherwise), so an https origin is another origin.
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = h
        .call(
            "POST",
            &path,
            None,
            Some(body.clone()),
            &[
                ("cookie", &cookie),
                ("x-csrf-token", &csrf),
                ("host", "infusio.local"),
                ("origin", "http://infusio.local"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A cookie token presented as a bearer token is refused (it would dodge the CSRF rule).
    let token = cookie
        .split_once('=')
        .map(|(_, t)| t.to_string())
        .unwrap_or_default();
    let r = h
        .call(
            "POST",
            &path,
            None,
            Some(body),
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn an_idle_cookie_session_ends() {
    let h = common::harness().await;
    let (cookie, _) = cookie_sign_in(&h, "nurse").await;
    let token = cookie
        .split_once('=')
        .map(|(_, t)| t.to_string())
        .unwrap_or_default();
    assert_eq!(
        h.call("GET", "/api/orders", None, None, &[("cookie", &cookie)])
            .await
            .status,
        StatusCode::OK
    );
    h.app
        .age_session(&token, h.app.config().session_idle_timeout_s + 1)
        .await
        .expect("age");
    let r = h
        .call("GET", "/api/orders", None, None, &[("cookie", &cookie)])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn repeated_failed_sign_ins_lock_the_account_even_for_the_right_password() {
    let h = common::harness().await;
    let threshold = h.app.config().lockout_threshold;
    for _ in 0..threshold {
        let r = h
            .call(
                "POST",
                "/api/auth/sign-in",
                None,
                Some(json!({"username": "nurse2", "password": "wrong password"})),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.body["code"], "auth.bad_credentials");
    }
    let r = h
        .call(
            "POST",
            "/api/auth/sign-in",
            None,
            Some(json!({"username": "nurse2", "password": common::PASSWORD})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body["code"], "auth.locked");
    assert!(r.headers.get("retry-after").is_some());
    // Unknown names lock the same way, so locking reveals nothing about which names exist.
    for _ in 0..threshold {
        h.call(
            "POST",
            "/api/auth/sign-in",
            None,
            Some(json!({"username": "ghost", "password": "x"})),
            &[],
        )
        .await;
    }
    let r = h
        .call(
            "POST",
            "/api/auth/sign-in",
            None,
            Some(json!({"username": "ghost", "password": "x"})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Other users are unaffected.
    let r = h
        .call(
            "POST",
            "/api/auth/sign-in",
            None,
            Some(json!({"username": "nurse", "password": common::PASSWORD})),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

async fn a_high_alert_drug_needs_a_second_distinct_nurse() {
    let h = common::harness().await;
    // Carboplatin is flagged for an independent double check in the library.
    let entry = h
        .app
        .library()
        .get("carboplatin")
        .expect("carboplatin in the library");
    assert!(entry.flags.high_alert || entry.flags.double_check);
    let pid = h.patient_id.clone();
    let body = json!({"patient_id": pid, "medication": "carboplatin", "dose": "450 mg", "route": "iv", "volume": "250 mL", "duration": "1 h", "line": "peripheral", "frequency": "q21d"});
    let preview = h
        .call(
            "POST",
            "/api/orders/preview",
            Some("prescriber"),
            Some(body.clone()),
            &[],
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    let mut body = body;
    body["overrides"] = serde_json::Value::Array(
        preview.body["computed"]["findings"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f["severity"] == "warning")
            .map(|f| json!({"code": f["code"], "reason": "reviewed"}))
            .collect(),
    );
    let r = h
        .call("POST", "/api/orders", Some("prescriber"), Some(body), &[])
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["high_alert"], true);
    let id = r.body["id"].as_str().unwrap_or_default().to_string();
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/sign"),
            Some("prescriber"),
            None,
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/verify"),
            Some("pharmacist"),
            Some(json!({"dose": "450 mg", "volume": "250 mL", "rate": "250 mL/h"})),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(r.body["outcome"], "verified", "{}", r.body);
    let prep = json!({"components": [{"product": "carboplatin 450 mg", "lot": "C-9", "expiry_date": "2099-01-01", "quantity": "450 mg"}],
                      "final_volume": "250 mL", "beyond_use_at": "2099-01-01T00:00:00Z"});
    let r = h
        .call(
            "POST",
            &format!("/api/orders/{id}/preparations"),
            Some("pharmacist"),
            Some(prep),
            &[("if-match", "\"3\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let bag = r.body["preparation"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let scan = |second: serde_json::Value| {
        let mut s = json!({"wristband": "MRN42", "bag": bag, "dose": "450 mg", "route": "iv", "pump": {"rate": "250 mL/h", "vtbi": "250 mL"}});
        if !second.is_null() {
            s["second_nurse"] = second;
        }
        s
    };
    let path = format!("/api/orders/{id}/administrations");
    let r = h
        .call(
            "POST",
            &path,
            Some("nurse"),
            Some(scan(serde_json::Value::Null)),
            &[("if-match", "\"4\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.to_string().contains("double_check.required"));
    let r = h
        .call(
            "POST",
            &path,
            Some("nurse"),
            Some(scan(
                json!({"username": "nurse", "password": common::PASSWORD}),
            )),
            &[("if-match", "\"4\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = h
        .call(
            "POST",
            &path,
            Some("nurse"),
            Some(scan(
                json!({"username": "pharmacist", "password": common::PASSWORD}),
            )),
            &[("if-match", "\"4\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = h
        .call(
            "POST",
            &path,
            Some("nurse"),
            Some(scan(json!({"username": "nurse2", "password": "wrong"}))),
            &[("if-match", "\"4\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = h
        .call(
            "POST",
            &path,
            Some("nurse"),
            Some(scan(
                json!({"username": "nurse2", "password": common::PASSWORD}),
            )),
            &[("if-match", "\"4\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(
        r.body["administration"]["second_nurse_id"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
}

on_both_backends!(
    each_role_is_refused_what_it_may_not_do,
    a_prescriber_who_is_also_a_pharmacist_cannot_verify_their_own_order,
    only_the_orders_prescriber_signs_it,
    requests_without_a_valid_session_are_refused,
    cookie_sessions_need_the_csrf_token_and_a_same_host_origin_for_changes,
    an_idle_cookie_session_ends,
    repeated_failed_sign_ins_lock_the_account_even_for_the_right_password,
    a_high_alert_drug_needs_a_second_distinct_nurse,
);
