//! Pharmacy: the preparation queue, the preparation (products and lots, diluent, final
//! concentration, beyond-use date) and a printable label.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use infusio_app::AppError;
use infusio_app::orders::OrderView;
use infusio_app::patients::number;
use infusio_core::calc;
use infusio_server::AppState;
use maud::{Markup, html};
use serde_json::{Value as Json, json};

use super::order::{figures, order_header, version_of};
use super::{Posted, form_data};
use crate::html::{drug_name, error_box, input, q, qty, qty_json, select, steps, when_us};
use crate::{FormData, Viewer, page, page_with_error, see_other};

pub async fn queue(State(s): State<AppState>, viewer: Viewer) -> Response {
    let lib = s.app.library();
    let mut sections = Vec::new();
    for (status, heading, action, label) in [
        ("verified", "To prepare", "prepare", "Prepare"),
        ("prepared", "Prepared, not yet scheduled", "label", "Label"),
        ("scheduled", "Prepared and scheduled", "label", "Label"),
    ] {
        let orders =
            match crate::pages::orders_shown(&s.app, viewer.actor(), Some(status), None).await {
                Ok(o) => o,
                Err(err) => {
                    return page_with_error("Pharmacy", &viewer, "pharmacy", &err, html! {});
                }
            };
        let mut rows = Vec::new();
        for o in orders {
            let patient = match s.app.chart(viewer.actor(), &o.patient_id).await {
                Ok(c) => format!(
                    "{}, {} ({})",
                    c.patient.data.family_name, c.patient.data.given_name, c.patient.data.mrn
                ),
                Err(_) => o.patient_id.clone(),
            };
            rows.push((o, patient));
        }
        sections.push(html! {
            section {
                h2 { (heading) }
                @if rows.is_empty() {
                    p { "None." }
                } @else {
                    table {
                        thead { tr { th { "Drug" } th { "Dose" } th { "Patient" } th {} } }
                        tbody {
                            @for (o, patient) in &rows {
                                tr {
                                    td { a href={ "/ui/orders/" (o.id) } { (drug_name(lib, &o.medication)) } }
                                    td.num { (o.dose.as_ref().map(|d| qty(&d.quantity)).unwrap_or_default()) }
                                    td { (patient) }
                                    td { a.button href={ "/ui/orders/" (o.id) "/" (action) } { (label) } }
                                }
                            }
                        }
                    }
                }
            }
        });
    }
    let body = html! { @for section in sections { (section) } };
    page("Pharmacy", &viewer, "pharmacy", body)
}

/// The core preparation plan for the order's dose (vials, reconstitution, bag, concentration,
/// beyond-use hours), with its derivation.
fn plan(s: &AppState, v: &OrderView, f: &FormData) -> Result<Json, AppError> {
    let dose = v
        .dose
        .as_ref()
        .map(|d| d.text.clone())
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
    if let Some(p) = &v.request.product {
        input["product"] = json!(p);
    }
    let c = calc::run_with_library("preparation", &input, Some(s.app.library()))
        .map_err(AppError::Invalid)?;
    serde_json::to_value(&c).map_err(|e| AppError::Internal(e.to_string()))
}

/// The library product the technician starts from when the plan names none (a premixed bag,
/// say): the order's own product, else the drug's first product. The preparation is checked
/// against the order, so the field must name the drug, never a placeholder.
fn library_product(s: &AppState, v: &OrderView) -> String {
    let Some(entry) = s.app.library().get(&v.medication) else {
        return String::new();
    };
    let chosen = v
        .request
        .product
        .as_deref()
        .and_then(|id| entry.products.iter().find(|p| p.id == id))
        .or_else(|| entry.products.first());
    chosen.map_or_else(|| entry.generic_name.clone(), |p| p.name.clone())
}

/// The plan's figures, vials, diluent bag and derivation.
fn plan_section(p: &Json) -> Markup {
    let outputs = [
        ("vial_count", "Vials"),
        ("total_in_vials", "Total in vials"),
        ("waste", "Waste"),
        ("withdraw_volume", "Withdraw"),
        ("final_volume", "Final volume"),
        ("final_concentration", "Final concentration"),
        ("beyond_use", "Beyond use after"),
    ];
    let ml = |x: Option<&Json>| {
        x.and_then(Json::as_f64)
            .map(|x| q(x, "mL"))
            .unwrap_or_default()
    };
    html! {
        section.card {
            h2 { "Preparation plan" }
            dl.figures {
                @for (k, label) in outputs {
                    @if let Some(x) = qty_json(&p["outputs"][k]) {
                        dt { (label) } dd data-figure=(k) { (x) }
                    }
                }
            }
            @if let Some(vials) = p["vials"].as_array() {
                ul {
                    @for vl in vials {
                        li { (vl["count"].to_string()) " × " (qty_json(&vl["strength"]).unwrap_or_default()) " vial" }
                    }
                }
            }
            @if let Some(bag) = p["bag"].as_object() {
                p {
                    "Diluent: " (bag.get("diluent").and_then(Json::as_str).unwrap_or("")) " bag of "
                    (ml(bag.get("size_ml"))) "; remove " (ml(bag.get("remove_ml"))) " before adding the drug."
                }
            }
            details { summary { "Derivation" } (steps(p)) }
        }
    }
}

/// One product of the preparation: product, GTIN, lot, expiry, quantity.
fn component_fields(i: usize, f: &FormData, default_product: &str, dose_text: &str) -> Markup {
    let val = |k: &str, default: &str| {
        f.get(&format!("c{i}.{k}"))
            .map(str::to_string)
            .unwrap_or_else(|| {
                if i == 0 {
                    default.to_string()
                } else {
                    String::new()
                }
            })
    };
    let name = |k: &str| format!("c{i}.{k}");
    html! {
        fieldset {
            legend { "Product " (i + 1) }
            div.grid {
                div { (input(&name("product"), "Product", &val("product", default_product), "name")) }
                div { (input(&name("gtin"), "GTIN (optional)", &val("gtin", ""), "barcode")) }
                div { (input(&name("lot"), "Lot", &val("lot", ""), "lot number")) }
                div { (input(&name("expiry_date"), "Expiry date", &val("expiry_date", ""), "YYYY-MM-DD")) }
                div { (input(&name("quantity"), "Quantity used", &val("quantity", dose_text), "e.g. 340 mg")) }
            }
        }
    }
}

/// The form that records the preparation: up to three products, final volume, beyond use.
fn record_form(
    viewer: &Viewer,
    v: &OrderView,
    version: i64,
    f: &FormData,
    default_product: &str,
    bud_h: f64,
    now: i64,
) -> Markup {
    let bud_default = infusio_app::time::iso_from_us(now + (bud_h * 3_600_000_000.0) as i64);
    let bud_default = format!("{}Z", &bud_default[..16.min(bud_default.len())]);
    let dose_text = v.dose.as_ref().map(|d| d.text.clone()).unwrap_or_default();
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
    html! {
        form method="post" action={ "/ui/orders/" (v.id) "/prepare" } class="card" {
            (viewer.csrf_field())
            input type="hidden" name="version" value=(version);
            h2 { "Record the preparation" }
            p { "Scan or type each product’s lot and expiry." }
            @for i in 0..3 { (component_fields(i, f, default_product, &dose_text)) }
            div.grid {
                div { (input("final_volume", "Final volume", &fv, "e.g. 250 mL")) }
                div { (input("beyond_use_at", "Beyond-use date and time (UTC)", &bud, "YYYY-MM-DDTHH:MMZ")) }
            }
            div.actions { button type="submit" class="primary" { "Record preparation" } }
        }
    }
}

async fn render(
    s: &AppState,
    viewer: &Viewer,
    id: &str,
    f: &FormData,
    err: Option<AppError>,
) -> Response {
    let title = "Prepare";
    let (v, version) = match crate::pages::order_shown(&s.app, viewer.actor(), id).await {
        Ok(x) => x,
        Err(err) => return page_with_error(title, viewer, "pharmacy", &err, html! {}),
    };
    let options = |xs: &[&str]| -> Vec<(String, String)> {
        xs.iter().map(|x| (x.to_string(), x.to_string())).collect()
    };
    let (plan_markup, default_product, bud_h) = match plan(s, &v, f) {
        Ok(p) => (
            plan_section(&p),
            p["product"]
                .as_str()
                .filter(|name| !name.is_empty())
                .map_or_else(|| library_product(s, &v), str::to_string),
            p["outputs"]["beyond_use"]["value"].as_f64().unwrap_or(24.0),
        ),
        Err(err) => (
            html! { section.card { h2 { "Preparation plan" } (error_box(&err)) } },
            library_product(s, &v),
            24.0,
        ),
    };
    let body = html! {
        (order_header(s, viewer, &v).await)
        (figures(&v))
        form method="get" action={ "/ui/orders/" (id) "/prepare" } class="inline" {
            (select("usp_category", "USP <797> category",
                &options(&["category-1", "category-2", "immediate-use"]),
                f.get("usp_category").unwrap_or("category-1")))
            (select("storage", "Storage", &options(&["refrigerated", "room-temperature"]),
                f.get("storage").unwrap_or("refrigerated")))
            button type="submit" { "Recalculate plan" }
        }
        (plan_markup)
        (record_form(viewer, &v, version, f, &default_product, bud_h, s.app.now_us()))
    };
    match err {
        Some(err) => page_with_error(title, viewer, "pharmacy", &err, body),
        None => page(title, viewer, "pharmacy", body),
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
        let input = infusio_app::commands::NewPreparation::try_from(&body)?;
        s.app.prepare(viewer.actor(), &id, version, &input).await
    }
    .await;
    match result {
        Ok(_) => see_other(&format!("/ui/orders/{id}/label")),
        Err(err) => render(&s, &viewer, &id, &f, Some(err)).await,
    }
}

pub async fn label(State(s): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let title = "Label";
    let (v, _) = match crate::pages::order_shown(&s.app, viewer.actor(), &id).await {
        Ok(x) => x,
        Err(err) => return page_with_error(title, &viewer, "pharmacy", &err, html! {}),
    };
    let act = match s.app.order_activity(viewer.actor(), &id).await {
        Ok(a) => a,
        Err(err) => return page_with_error(title, &viewer, "pharmacy", &err, html! {}),
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
            html! {},
        );
    };
    let patient = match s.app.chart(viewer.actor(), &v.patient_id).await {
        Ok(c) => Some(c.patient.data),
        Err(_) => None,
    };
    let names = s.app.user_names(viewer.actor()).await.unwrap_or_default();
    let name_of = |user: &str| names.get(user).cloned().unwrap_or_else(|| user.to_string());
    let people = LabelPeople {
        preparer: name_of(&p.data.prepared_by),
        checker: p.data.checked_by.as_deref().map(name_of),
    };
    let body = html! {
        p.noprint {
            button type="button" data-print { "Print label" } " "
            a.button href={ "/ui/orders/" (id) } { "Back to the order" }
        }
        (label_markup(&s, &v, patient.as_ref(), p, comps, &people))
    };
    page(title, &viewer, "pharmacy", body)
}

/// Who prepared the bag and who checked it, by name.
struct LabelPeople {
    preparer: String,
    checker: Option<String>,
}

/// The infusion's duration and rate as the label prints them: "titrate per schedule" for a
/// titrated infusion, otherwise the rate and the duration (final volume ÷ rate).
fn rate_and_duration(v: &OrderView, final_volume_ml: f64) -> String {
    let titrated = v
        .pump_programme
        .as_ref()
        .is_some_and(|p| p.titration_schedule.is_some());
    if titrated {
        return "titrate per schedule (see the pump programme)".into();
    }
    match v.rate_ml_per_h.filter(|r| *r > 0.0) {
        Some(rate) => {
            let minutes = final_volume_ml / rate * 60.0;
            let duration = if minutes >= 120.0 {
                q(minutes / 60.0, "h")
            } else {
                q(minutes.round(), "min")
            };
            format!("{} over {duration}", q(rate, "mL/h"))
        }
        None => "—".into(),
    }
}

/// The Code 128 symbol of the bag id, drawn with `html!` from the bars' geometry in modules
/// (`infusio_core::barcode::code128`): a scanner or a test reads the bars back. The symbol
/// stretches to the label's width (vector bars keep their proportions horizontally, so the
/// module widths stay in ratio at any print size).
fn bag_barcode(bag_id: &str) -> Markup {
    let Ok((total, bars)) = infusio_core::barcode::code128::bars(bag_id) else {
        return html! { p.small { "(no barcode: the bag id is outside Code 128 set B)" } };
    };
    let height = 50;
    html! {
        svg.barcode xmlns="http://www.w3.org/2000/svg" data-barcode="code128" data-bag-barcode=(bag_id)
            viewBox={ "0 0 " (total) " " (height) } width="100%" height="64" preserveAspectRatio="none"
            role="img" aria-label={ "Code 128 barcode of bag " (bag_id) } shape-rendering="crispEdges" {
            rect.background x="0" y="0" width=(total) height=(height) fill="white" {}
            @for (x, w) in bars {
                rect.bar x=(x) y="0" width=(w) height=(height) fill="black" {}
            }
        }
    }
}

/// The compounding label: patient, drug (tall-man), dose, volumes and concentration, diluent,
/// rate and duration, route and line, in-line filter, beyond use, storage, hazard warnings,
/// preparer and checker, the bag barcode.
fn label_markup(
    s: &AppState,
    v: &OrderView,
    patient: Option<&infusio_store::records::Patient>,
    p: &infusio_store::Stored<infusio_store::records::Preparation>,
    comps: &[infusio_store::Stored<infusio_store::records::PreparationComponent>],
    people: &LabelPeople,
) -> Markup {
    let lib = s.app.library();
    let entry = lib.get(&v.medication);
    let final_ml = number(&p.data.final_volume_ml);
    let diluent: Vec<String> = comps
        .iter()
        .filter(|c| {
            entry.is_some_and(|e| !infusio_app::preparation::is_drug_product(e, &c.data.product))
        })
        .map(|c| c.data.product.clone())
        .collect();
    let product = entry.and_then(|e| {
        v.request
            .product
            .as_deref()
            .and_then(|id| e.products.iter().find(|x| x.id == id))
            .or_else(|| e.products.first())
    });
    let planned_diluent = product.and_then(|x| x.diluents.first().cloned());
    let admin = entry.map(|e| &e.administration);
    let flags = entry.map(|e| e.flags.clone()).unwrap_or_default();
    html! {
        article.label aria-label="Preparation label" {
            @match patient {
                Some(pt) => p.lp data-label="patient" {
                    strong { (pt.family_name) ", " (pt.given_name) } " · MRN " span data-label="mrn" { (pt.mrn) }
                    " · DOB " span data-label="birth_date" { (pt.birth_date) }
                },
                None => p.lp data-label="patient" { (v.patient_id) },
            }
            p.ld { strong data-label="drug" { (drug_name(lib, &v.medication)) } " "
                span data-label="dose" { (v.dose.as_ref().map(|d| qty(&d.quantity)).unwrap_or_default()) } }
            p {
                "in " span data-label="final_volume" { (q(final_ml, "mL")) } " total volume · "
                span data-label="concentration" { (q(number(&p.data.concentration), &p.data.concentration_unit)) }
            }
            p data-label="diluent" { "Diluent: "
                @if diluent.is_empty() { (planned_diluent.unwrap_or_else(|| "none recorded".into())) }
                @else { (diluent.join(" + ")) } }
            p data-label="rate" { "Rate: " (rate_and_duration(v, final_ml)) }
            p data-label="route" { "Route " (v.route.to_uppercase())
                @if let Some(line) = &v.request.line { " · " (line) " line" } }
            @if let Some(filter) = admin.and_then(|a| a.filter.as_deref()) {
                p data-label="filter" { "In-line filter: " (filter) }
            }
            p { strong data-label="beyond_use" { "Beyond use: " (when_us(p.data.beyond_use_at_us)) } }
            p data-label="storage" { "Storage: "
                @if let Some(x) = product.and_then(|x| x.stability.as_deref()) { (x) } @else { "as the product label says" }
                @if admin.is_some_and(|a| a.light_protection) { " · " strong { "Protect from light" } } }
            @if v.high_alert || flags.high_alert {
                p.badge.high-alert { "HIGH-ALERT — independent double check" }
            }
            @if flags.hazardous {
                p.badge.hazardous data-label="hazardous" { "HAZARDOUS DRUG — handle and dispose of per NIOSH/USP <800>" }
            }
            @if flags.vesicant {
                p.badge.vesicant data-label="vesicant" { "VESICANT — monitor the site; stop at the first sign of extravasation" }
            }
            @for c in comps {
                p.small { (c.data.product) " lot " (c.data.lot) " exp " (c.data.expiry_date) }
            }
            p data-label="people" { "Prepared " (when_us(p.data.prepared_at_us)) " by " (people.preparer)
                " · checked by " (people.checker.clone().unwrap_or_else(|| "— (not yet checked)".into())) }
            div.barcode { (bag_barcode(&p.id)) }
            p.barcode { "Bag " code data-bag { (p.id) } }
        }
    }
}
