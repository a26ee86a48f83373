//! Pharmacy: the preparation queue, the preparation (products and lots, diluent, final
//! concentration, beyond-use date) and a printable label.

use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use infusio_app::AppError;
use infusio_app::orders::OrderView;
use infusio_app::patients::number;
use infusio_core::calc;
use infusio_server::AppState;
use serde_json::{Value as Json, json};

use super::order::{figures, order_header, version_of};
use super::{Posted, form_data};
use crate::html::{drug_name, e, error_box, input, q, qty_json, select, steps, when_us};
use crate::{FormData, Viewer, page, page_with_error, see_other};

pub async fn queue(State(s): State<AppState>, viewer: Viewer) -> Response {
    let lib = s.app.library();
    let mut b = String::new();
    for (status, heading, action, label) in [
        ("verified", "To prepare", "prepare", "Prepare"),
        ("prepared", "Prepared, not yet scheduled", "label", "Label"),
        ("scheduled", "Prepared and scheduled", "label", "Label"),
    ] {
        let orders = match s.app.list_orders(viewer.actor(), Some(status), None).await {
            Ok(o) => o,
            Err(err) => return page_with_error("Pharmacy", &viewer, "pharmacy", &err, ""),
        };
        let _ = write!(b, "<section><h2>{heading}</h2>");
        if orders.is_empty() {
            b.push_str("<p>None.</p>");
        } else {
            b.push_str("<table><thead><tr><th>Drug</th><th>Dose</th><th>Patient</th><th></th></tr></thead><tbody>");
            for o in orders {
                let patient = match s.app.chart(viewer.actor(), &o.patient_id).await {
                    Ok(c) => format!(
                        "{}, {} ({})",
                        c.patient.data.family_name, c.patient.data.given_name, c.patient.data.mrn
                    ),
                    Err(_) => o.patient_id.clone(),
                };
                let _ = write!(
                    b,
                    "<tr><td><a href=\"/ui/orders/{}\">{}</a></td><td class=\"num\">{}</td><td>{}</td><td><a class=\"button\" href=\"/ui/orders/{}/{action}\">{label}</a></td></tr>",
                    e(&o.id),
                    e(&drug_name(lib, &o.medication)),
                    e(&o.dose.as_ref().and_then(qty_json).unwrap_or_default()),
                    e(&patient),
                    e(&o.id)
                );
            }
            b.push_str("</tbody></table>");
        }
        b.push_str("</section>");
    }
    page("Pharmacy", &viewer, "pharmacy", &b)
}

/// The core preparation plan for the order's dose (vials, reconstitution, bag, concentration,
/// beyond-use hours), with its derivation.
fn plan(s: &AppState, v: &OrderView, f: &FormData) -> Result<Json, AppError> {
    let dose = v
        .dose
        .as_ref()
        .and_then(|d| d["text"].as_str().map(str::to_string))
        .ok_or_else(|| AppError::invalid("dose", "", "the order's dose is not shown"))?;
    let mut input = json!({
        "medication": v.medication,
        "dose": dose,
        "usp_category": f.get("usp_category").unwrap_or("category-1"),
        "storage": f.get("storage").unwrap_or("refrigerated"),
    });
    if let Some(vol) = v.volume_ml {
        input["final_volume"] = json!(format!("{} mL", infusio_app::orders::num_text(vol)));
    }
    if let Some(p) = v.request["product"].as_str() {
        input["product"] = json!(p);
    }
    let c = calc::run_with_library("preparation", &input, Some(s.app.library()))
        .map_err(AppError::Invalid)?;
    serde_json::to_value(&c).map_err(|e| AppError::Internal(e.to_string()))
}

async fn render(
    s: &AppState,
    viewer: &Viewer,
    id: &str,
    f: &FormData,
    err: Option<AppError>,
) -> Response {
    let title = "Prepare";
    let (v, version) = match s.app.get_order(viewer.actor(), id).await {
        Ok(x) => x,
        Err(err) => return page_with_error(title, viewer, "pharmacy", &err, ""),
    };
    let mut b = order_header(s, viewer, &v).await;
    b.push_str(&figures(&v));
    let cat_opts: Vec<(String, String)> = ["category-1", "category-2", "immediate-use"]
        .iter()
        .map(|x| (x.to_string(), x.to_string()))
        .collect();
    let store_opts: Vec<(String, String)> = ["refrigerated", "room-temperature"]
        .iter()
        .map(|x| (x.to_string(), x.to_string()))
        .collect();
    let _ = write!(
        b,
        "<form method=\"get\" action=\"/ui/orders/{}/prepare\" class=\"inline\">{}{}<button type=\"submit\">Recalculate plan</button></form>",
        e(id),
        select(
            "usp_category",
            "USP <797> category",
            &cat_opts,
            f.get("usp_category").unwrap_or("category-1")
        ),
        select(
            "storage",
            "Storage",
            &store_opts,
            f.get("storage").unwrap_or("refrigerated")
        )
    );
    let mut default_product = String::new();
    let mut bud_h = 24.0;
    match plan(s, &v, f) {
        Ok(p) => {
            b.push_str("<section class=\"card\"><h2>Preparation plan</h2><dl class=\"figures\">");
            for (k, label) in [
                ("vial_count", "Vials"),
                ("total_in_vials", "Total in vials"),
                ("waste", "Waste"),
                ("withdraw_volume", "Withdraw"),
                ("final_volume", "Final volume"),
                ("final_concentration", "Final concentration"),
                ("beyond_use", "Beyond use after"),
            ] {
                if let Some(x) = qty_json(&p["outputs"][k]) {
                    let _ = write!(b, "<dt>{label}</dt><dd data-figure=\"{k}\">{}</dd>", e(&x));
                }
            }
            b.push_str("</dl>");
            if let Some(vials) = p["vials"].as_array() {
                b.push_str("<ul>");
                for vl in vials {
                    let _ = write!(
                        b,
                        "<li>{} × {} vial</li>",
                        e(&vl["count"].to_string()),
                        e(&qty_json(&vl["strength"]).unwrap_or_default())
                    );
                }
                b.push_str("</ul>");
            }
            if let Some(bag) = p["bag"].as_object() {
                let _ = write!(
                    b,
                    "<p>Diluent: {} bag of {}; remove {} before adding the drug.</p>",
                    e(bag.get("diluent").and_then(Json::as_str).unwrap_or("")),
                    e(&bag
                        .get("size_ml")
                        .and_then(Json::as_f64)
                        .map(|x| q(x, "mL"))
                        .unwrap_or_default()),
                    e(&bag
                        .get("remove_ml")
                        .and_then(Json::as_f64)
                        .map(|x| q(x, "mL"))
                        .unwrap_or_default())
                );
            }
            b.push_str("<details><summary>Derivation</summary>");
            b.push_str(&steps(&p));
            b.push_str("</details></section>");
            default_product = p["product"].as_str().unwrap_or("").to_string();
            bud_h = p["outputs"]["beyond_use"]["value"].as_f64().unwrap_or(24.0);
        }
        Err(err) => {
            b.push_str("<section class=\"card\"><h2>Preparation plan</h2>");
            b.push_str(&error_box(&err));
            b.push_str("</section>");
        }
    }
    let now = infusio_store::now_us();
    let bud_default = infusio_app::time::iso_from_us(now + (bud_h * 3_600_000_000.0) as i64);
    let bud_default = format!("{}Z", &bud_default[..16.min(bud_default.len())]);
    let _ = write!(
        b,
        "<form method=\"post\" action=\"/ui/orders/{}/prepare\" class=\"card\">{}<input type=\"hidden\" name=\"version\" value=\"{version}\">\
         <h2>Record the preparation</h2><p>Scan or type each product’s lot and expiry.</p>",
        e(id),
        viewer.csrf_field()
    );
    let dose_text = v
        .dose
        .as_ref()
        .and_then(|d| d["text"].as_str())
        .unwrap_or("")
        .to_string();
    for i in 0..3 {
        let val = |k: &str, default: &str| {
            let name = format!("c{i}.{k}");
            f.get(&name).map(str::to_string).unwrap_or_else(|| {
                if i == 0 {
                    default.to_string()
                } else {
                    String::new()
                }
            })
        };
        let _ = write!(
            b,
            "<fieldset><legend>Product {}</legend><div class=\"grid\"><div>{}</div><div>{}</div><div>{}</div><div>{}</div><div>{}</div></div></fieldset>",
            i + 1,
            input(
                &format!("c{i}.product"),
                "Product",
                &val("product", &default_product),
                "name"
            ),
            input(
                &format!("c{i}.gtin"),
                "GTIN (optional)",
                &val("gtin", ""),
                "barcode"
            ),
            input(&format!("c{i}.lot"), "Lot", &val("lot", ""), "lot number"),
            input(
                &format!("c{i}.expiry_date"),
                "Expiry date",
                &val("expiry_date", ""),
                "YYYY-MM-DD"
            ),
            input(
                &format!("c{i}.quantity"),
                "Quantity used",
                &val("quantity", &dose_text),
                "e.g. 340 mg"
            )
        );
    }
    let fv = f
        .get("final_volume")
        .map(str::to_string)
        .unwrap_or_else(|| {
            v.volume_ml
                .map(|x| format!("{} mL", infusio_app::orders::num_text(x)))
                .unwrap_or_default()
        });
    let bud = f
        .get("beyond_use_at")
        .map(str::to_string)
        .unwrap_or(bud_default);
    let _ = write!(
        b,
        "<div class=\"grid\"><div>{}</div><div>{}</div></div><div class=\"actions\"><button type=\"submit\" class=\"primary\">Record preparation</button></div></form>",
        input("final_volume", "Final volume", &fv, "e.g. 250 mL"),
        input(
            "beyond_use_at",
            "Beyond-use date and time (UTC)",
            &bud,
            "YYYY-MM-DDTHH:MMZ"
        )
    );
    match err {
        Some(err) => page_with_error(title, viewer, "pharmacy", &err, &b),
        None => page(title, viewer, "pharmacy", &b),
    }
}

pub async fn view(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    render(&s, &viewer, &id, &FormData(query), None).await
}

pub async fn post(
    State(s): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    posted: Posted,
) -> Response {
    let f = form_data(posted);
    let result = async {
        viewer.check_csrf(&f)?;
        let version = version_of(&f)?;
        let mut components = Vec::new();
        for i in 0..3 {
            let get = |k: &str| f.get(&format!("c{i}.{k}"));
            if get("lot").is_none() && (i > 0 || get("product").is_none()) {
                continue;
            }
            let mut c = json!({});
            for k in ["product", "gtin", "lot", "expiry_date", "quantity"] {
                if let Some(v) = get(k) {
                    c[k] = json!(v);
                }
            }
            components.push(c);
        }
        let mut body = json!({"components": components});
        for k in ["final_volume", "beyond_use_at"] {
            if let Some(v) = f.get(k) {
                body[k] = json!(v);
            }
        }
        s.app.prepare(viewer.actor(), &id, version, &body).await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/ui/orders/{id}/label")),
        Err(err) => render(&s, &viewer, &id, &f, Some(err)).await,
    }
}

pub async fn label(State(s): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let title = "Label";
    let lib = s.app.library();
    let (v, _) = match s.app.get_order(viewer.actor(), &id).await {
        Ok(x) => x,
        Err(err) => return page_with_error(title, &viewer, "pharmacy", &err, ""),
    };
    let act = match s.app.order_activity(viewer.actor(), &id).await {
        Ok(a) => a,
        Err(err) => return page_with_error(title, &viewer, "pharmacy", &err, ""),
    };
    let Some((p, comps)) = act.preparations.last() else {
        return page_with_error(
            title,
            &viewer,
            "pharmacy",
            &AppError::state(
                "preparation.missing",
                "no preparation recorded for this order yet",
            ),
            "",
        );
    };
    let patient = match s.app.chart(viewer.actor(), &v.patient_id).await {
        Ok(c) => format!(
            "{}, {} · {} · born {}",
            c.patient.data.family_name,
            c.patient.data.given_name,
            c.patient.data.mrn,
            c.patient.data.birth_date
        ),
        Err(_) => v.patient_id.clone(),
    };
    let mut b = format!(
        "<p class=\"noprint\"><button type=\"button\" data-print>Print label</button> <a class=\"button\" href=\"/ui/orders/{}\">Back to the order</a></p>\
         <article class=\"label\" aria-label=\"Preparation label\"><p class=\"lp\">{}</p>\
         <p class=\"ld\"><strong>{}</strong> {}</p>\
         <p>in {} final volume · {} · route {}</p><p>Rate {}</p>",
        e(&id),
        e(&patient),
        e(&drug_name(lib, &v.medication)),
        e(&v.dose.as_ref().and_then(qty_json).unwrap_or_default()),
        e(&q(number(&p.data.final_volume_ml), "mL")),
        e(&q(
            number(&p.data.concentration),
            &p.data.concentration_unit
        )),
        e(&v.route.to_uppercase()),
        e(&v.rate_ml_per_h
            .map(|r| q(r, "mL/h"))
            .unwrap_or_else(|| "—".into()))
    );
    if v.high_alert {
        b.push_str("<p class=\"badge high-alert\">HIGH-ALERT — independent double check</p>");
    }
    for c in comps {
        let _ = write!(
            b,
            "<p class=\"small\">{} lot {} exp {}</p>",
            e(&c.data.product),
            e(&c.data.lot),
            e(&c.data.expiry_date)
        );
    }
    let _ = write!(
        b,
        "<p><strong>Beyond use: {}</strong></p><p>Prepared {}</p><p class=\"barcode\">Bag <code data-bag>{}</code></p></article>",
        e(&when_us(p.data.beyond_use_at_us)),
        e(&when_us(p.data.prepared_at_us)),
        e(&p.id)
    );
    page(title, &viewer, "pharmacy", &b)
}
