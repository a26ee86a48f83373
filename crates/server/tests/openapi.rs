//! The OpenAPI document lists every route of the router with its methods, and nothing else.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;

/// (method, path) of every `.route(...)` in the router's source.
fn routes_in_source() -> BTreeSet<(String, String)> {
    // Whitespace removed, so a call that rustfmt splits over lines reads the same.
    let source: String = include_str!("../src/routes.rs")
        .split_whitespace()
        .collect();
    let mut out = BTreeSet::new();
    for call in source.split(".route(\"").skip(1) {
        let Some((path, rest)) = call.split_once('"') else {
            continue;
        };
        // The handlers end where the next statement or route begins.
        let handlers = rest.split(".route(").next().unwrap_or_default();
        let handlers = handlers.split(".fallback(").next().unwrap_or_default();
        for method in ["get", "post", "put", "patch", "delete"] {
            if handlers.contains(&format!("{method}(")) {
                out.insert((method.to_string(), path.to_string()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_document_lists_every_route_and_only_those() {
    let h = common::harness().await;
    let r = h.call("GET", "/api/openapi.json", None, None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in r.body["paths"].as_object().cloned().unwrap_or_default() {
        for (method, op) in item.as_object().cloned().unwrap_or_default() {
            assert!(op["responses"].is_object(), "{method} {path} has responses");
            documented.insert((method, path.clone()));
        }
    }
    let routed = routes_in_source();
    assert!(
        routed.len() > 25,
        "the source parser found the routes: {routed:?}"
    );
    assert_eq!(documented, routed);
}
