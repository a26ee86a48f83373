//! The drug library browser.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use infusio_app::AppError;
use infusio_core::library::DrugEntry;
use infusio_server::AppState;
use maud::{Markup, html};

use crate::html::{badge, drug_name, json_view};
use crate::{FormData, Viewer, page, page_with_error};

pub async fn list(
    State(s): State<AppState>,
    viewer: Viewer,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let lib = s.app.library();
    let query = FormData(query);
    let filter = query.val("q").to_lowercase();
    let mut entries: Vec<_> = lib
        .entries()
        .iter()
        .filter(|d| {
            filter.is_empty()
                || d.id.contains(&filter)
                || d.generic_name.to_lowercase().contains(&filter)
                || d.brands.iter().any(|b| b.to_lowercase().contains(&filter))
        })
        .collect();
    entries.sort_by_key(|d| d.generic_name.to_lowercase());
    let body = html! {
        form method="get" action="/ui/library" role="search" class="inline" {
            label for="q" { "Find a drug" }
            input id="q" name="q" value=(filter);
            button type="submit" { "Find" }
        }
        table {
            thead { tr { th { "Drug" } th { "Brands" } th { "Class" } th { "Routes" } th { "Flags" } th { "Review" } } }
            tbody {
                @for d in entries {
                    tr {
                        td { a href={ "/ui/library/" (d.id) } { (drug_name(lib, &d.id)) } }
                        td { (d.brands.join(", ")) }
                        td { (d.class.as_str()) }
                        td { (d.routes.join(", ")) }
                        td { (flags(d)) }
                        td { (d.review.status) " " (d.review.date) }
                    }
                }
            }
        }
    };
    page("Drug library", &viewer, "library", body)
}

/// The safety flags of a drug as badges.
fn flags(d: &DrugEntry) -> Markup {
    html! {
        @if d.flags.high_alert { (badge("high-alert", "high-alert")) }
        @if d.flags.hazardous { (badge("hazardous", "hazardous")) }
        @if d.flags.vesicant { (badge("vesicant", "hazardous")) }
        @if d.flags.double_check { (badge("double check", "high-alert")) }
    }
}

pub async fn entry(State(s): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let lib = s.app.library();
    let Some(d) = lib.get(&id) else {
        return page_with_error(
            "Drug library",
            &viewer,
            "library",
            &AppError::NotFound { entity: "drug", id },
            html! {},
        );
    };
    let v = serde_json::to_value(d).unwrap_or_default();
    let sections = [
        ("flags", "Safety flags"),
        ("dosing", "Dosing limits"),
        ("administration", "Administration"),
        ("titration", "Titration"),
        ("labs", "Laboratory requirements"),
        ("products", "Products"),
        ("premedication", "Premedication"),
        ("monitoring", "Monitoring"),
        ("sources", "Sources"),
    ];
    let body = html! {
        p { a href="/ui/library" { "← all drugs" } }
        @for (k, heading) in sections {
            @if !(v[k].is_null() || v[k].as_array().is_some_and(|a| a.is_empty())) {
                section { h2 { (heading) } (json_view(&v[k])) }
            }
        }
    };
    page(&drug_name(lib, &d.id), &viewer, "library", body)
}
