//! The drug library browser.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use infusio_app::AppError;
use infusio_server::AppState;

use crate::html::{badge, drug_name, e, json_view};
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
    let mut b = format!(
        "<form method=\"get\" action=\"/ui/library\" role=\"search\" class=\"inline\"><label for=\"q\">Find a drug</label>\
         <input id=\"q\" name=\"q\" value=\"{}\"><button type=\"submit\">Find</button></form>\
         <table><thead><tr><th>Drug</th><th>Brands</th><th>Class</th><th>Routes</th><th>Flags</th><th>Review</th></tr></thead><tbody>",
        e(&filter)
    );
    for d in entries {
        let mut flags = String::new();
        if d.flags.high_alert {
            flags.push_str(&badge("high-alert", "high-alert"));
        }
        if d.flags.hazardous {
            flags.push_str(&badge("hazardous", "hazardous"));
        }
        if d.flags.vesicant {
            flags.push_str(&badge("vesicant", "hazardous"));
        }
        if d.flags.double_check {
            flags.push_str(&badge("double check", "high-alert"));
        }
        let _ = write!(
            b,
            "<tr><td><a href=\"/ui/library/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{flags}</td><td>{} {}</td></tr>",
            e(&d.id),
            e(&drug_name(lib, &d.id)),
            e(&d.brands.join(", ")),
            e(d.class.as_str()),
            e(&d.routes.join(", ")),
            e(&d.review.status),
            e(&d.review.date)
        );
    }
    b.push_str("</tbody></table>");
    page("Drug library", &viewer, "library", &b)
}

pub async fn entry(State(s): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let lib = s.app.library();
    let Some(d) = lib.get(&id) else {
        return page_with_error(
            "Drug library",
            &viewer,
            "library",
            &AppError::NotFound { entity: "drug", id },
            "",
        );
    };
    let v = serde_json::to_value(d).unwrap_or_default();
    let mut b = String::from("<p><a href=\"/ui/library\">← all drugs</a></p>");
    for (k, heading) in [
        ("flags", "Safety flags"),
        ("dosing", "Dosing limits"),
        ("administration", "Administration"),
        ("titration", "Titration"),
        ("labs", "Laboratory requirements"),
        ("products", "Products"),
        ("premedication", "Premedication"),
        ("monitoring", "Monitoring"),
        ("sources", "Sources"),
    ] {
        if v[k].is_null() || v[k].as_array().is_some_and(|a| a.is_empty()) {
            continue;
        }
        let _ = write!(
            b,
            "<section><h2>{heading}</h2>{}</section>",
            json_view(&v[k])
        );
    }
    page(&drug_name(lib, &d.id), &viewer, "library", &b)
}
