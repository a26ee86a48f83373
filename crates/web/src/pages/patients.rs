//! Patient list and search; the patient chart.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use infusio_app::patients::{Chart, CumulativeDose, OrderSummary, number};
use infusio_core::library::Library;
use infusio_server::AppState;
use maud::{Markup, html};

use crate::html::{badge, drug_name, q, when, when_us};
use crate::{FormData, Viewer, page, page_with_error};

pub async fn list(
    State(s): State<AppState>,
    viewer: Viewer,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let query = FormData(query);
    let text = query.val("q").to_string();
    let search = html! {
        form method="get" action="/ui/patients" role="search" class="inline" {
            label for="q" { "Search by MRN or name" }
            input id="q" name="q" value=(text) autofocus;
            button type="submit" { "Search" }
        }
    };
    match s.app.search_patients(viewer.actor(), &text).await {
        Ok(patients) => {
            let body = html! {
                (search)
                @if patients.is_empty() {
                    p { "No patient matches." }
                } @else {
                    table {
                        thead { tr { th { "MRN" } th { "Name" } th { "Born" } th { "Sex" } th {} } }
                        tbody {
                            @for p in patients {
                                tr {
                                    td { (p.data.mrn) }
                                    td { a href={ "/ui/patients/" (p.id) } { (p.data.family_name) ", " (p.data.given_name) } }
                                    td { (p.data.birth_date) }
                                    td { (p.data.sex) }
                                    td { a.button href={ "/ui/orders/new?patient_id=" (p.id) } { "New order" } }
                                }
                            }
                        }
                    }
                }
            };
            page("Patients", &viewer, "patients", body)
        }
        Err(err) => page_with_error("Patients", &viewer, "patients", &err, search),
    }
}

/// One line of the chart's order list with its dose as shown to this user.
struct OrderLine<'a> {
    order: &'a OrderSummary,
    dose: String,
}

/// What the chart gathers from each order: its lines and the administrations timeline (the
/// cumulative doses are the app's view, `App::cumulative_doses`).
#[derive(Default)]
struct OrdersDigest<'a> {
    lines: Vec<OrderLine<'a>>,
    timeline: Vec<(i64, Markup)>,
}

async fn digest<'a>(s: &AppState, viewer: &Viewer, c: &'a Chart) -> OrdersDigest<'a> {
    let lib = s.app.library();
    let mut d = OrdersDigest::default();
    for o in &c.orders {
        let view = crate::pages::order_shown(&s.app, viewer.actor(), &o.id)
            .await
            .ok();
        let dose = view
            .as_ref()
            .and_then(|(v, _)| v.dose.as_ref())
            .map(|d| q(d.quantity.value, &d.quantity.unit))
            .unwrap_or_else(|| "—".into());
        d.lines.push(OrderLine { order: o, dose });
        if let Ok(act) = s.app.order_activity(viewer.actor(), &o.id).await {
            let drug = drug_name(lib, &o.medication);
            for (a, events) in &act.administrations {
                d.timeline.push((
                    a.data.started_at_us,
                    html! {
                        a href={ "/ui/administrations/" (a.id) } { (drug) }
                        " started (" (events.len()) " events) — " (a.data.status.as_str().replace('_', " "))
                    },
                ));
                for ev in events.iter().filter(|ev| ev.data.kind == "reaction") {
                    d.timeline.push((
                        ev.data.at_us,
                        html! {
                            span.alert-text { "Reaction grade " (ev.data.reaction_grade.unwrap_or(0)) }
                            " during " (drug)
                        },
                    ));
                }
                if let Some(stop) = a.data.stopped_at_us {
                    d.timeline
                        .push((stop, html! { (drug) " " (a.data.status.as_str()) }));
                }
            }
        }
    }
    d.timeline.sort_by_key(|(t, _)| *t);
    d
}

pub async fn chart(State(s): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let lib = s.app.library();
    let c = match s.app.chart(viewer.actor(), &id).await {
        Ok(c) => c,
        Err(err) => return page_with_error("Patient", &viewer, "patients", &err, html! {}),
    };
    let p = &c.patient.data;
    let title = format!("{}, {} — {}", p.family_name, p.given_name, p.mrn);
    let d = digest(&s, &viewer, &c).await;
    let given = s
        .app
        .cumulative_doses(viewer.actor(), &c.patient.id)
        .await
        .unwrap_or_default();
    let body = html! {
        (facts(&c))
        // Allergies first: they change what may be given.
        (allergies(&c))
        (measurements(&c))
        (labs(&c))
        (plans(&c, &super::today(&s.app)))
        (orders(lib, &d))
        (cumulative(lib, &given))
        (timeline(&d))
    };
    page(&title, &viewer, "patients", body)
}

fn facts(c: &Chart) -> Markup {
    let p = &c.patient.data;
    let id = &c.patient.id;
    html! {
        section.card {
            dl.facts { dt { "MRN" } dd { (p.mrn) } dt { "Born" } dd { (p.birth_date) } dt { "Sex" } dd { (p.sex) } }
            p {
                a.button.primary href={ "/ui/orders/new?patient_id=" (id) } { "New order" } " "
                a.button href={ "/ui/schedule?patient_id=" (id) } { "Book a chair" } " "
                a.button href={ "/ui/pk/vancomycin?patient_id=" (id) } { "Vancomycin dosing from levels" }
            }
        }
    }
}

fn allergies(c: &Chart) -> Markup {
    html! {
        section {
            h2 { "Allergies" }
            @if c.allergies.is_empty() {
                p { "No known allergies recorded." }
            } @else {
                ul.allergies {
                    @for a in &c.allergies {
                        li {
                            strong { (a.data.substance) } " — "
                            (a.data.reaction.as_deref().unwrap_or("reaction not recorded"))
                            " (" (a.data.severity) ")"
                        }
                    }
                }
            }
        }
    }
}

fn measurements(c: &Chart) -> Markup {
    html! {
        section {
            h2 { "Measurements" }
            @if c.measurements.is_empty() {
                p { "None recorded." }
            } @else {
                table {
                    thead { tr { th { "What" } th { "Value" } th { "Measured" } th { "Source" } } }
                    tbody {
                        @for m in &c.measurements {
                            tr {
                                td { (m.data.kind) }
                                td.num { (q(number(&m.data.value), &m.data.unit)) }
                                td { (when_us(m.data.measured_at_us)) }
                                td { (m.data.source) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn labs(c: &Chart) -> Markup {
    html! {
        section {
            h2 { "Laboratory results" }
            @if c.labs.is_empty() {
                p { "None recorded." }
            } @else {
                table {
                    thead { tr { th { "Test" } th { "Value" } th { "Collected" } } }
                    tbody {
                        @for l in &c.labs {
                            tr {
                                td { (l.data.name.replace('_', " ")) }
                                td.num { (q(number(&l.data.value), &l.data.unit)) }
                                td { (when_us(l.data.collected_at_us)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn plans(c: &Chart, today: &str) -> Markup {
    html! {
        section {
            h2 { "Therapy plans" }
            @if c.plans.is_empty() {
                p { "No therapy plan." }
            }
            @for plan in &c.plans {
                @let sj = &plan.data.schedule_json;
                @let planned = sj["planned"].as_array().cloned().unwrap_or_default();
                @let upcoming: Vec<String> = planned
                    .iter()
                    .filter(|d| d["date"].as_str().is_some_and(|x| x >= today))
                    .take(4)
                    .map(|d| {
                        format!(
                            "{} ({} cycle {} day {})",
                            d["date"].as_str().unwrap_or(""),
                            d["phase"].as_str().unwrap_or(""),
                            d["cycle"],
                            d["day"]
                        )
                    })
                    .collect();
                div.card {
                    p {
                        strong { (sj["protocol_name"].as_str().unwrap_or(&plan.data.protocol_id)) }
                        " · from " (plan.data.start_date) " · " (plan.data.status) " · "
                        (planned.len()) " planned days"
                    }
                    p { "Next: " @if upcoming.is_empty() { "none" } @else { (upcoming.join("; ")) } }
                    @let released: Vec<u64> = sj["released"].as_array().map(|a| a.iter().filter_map(|r| r["day_index"].as_u64()).collect()).unwrap_or_default();
                    @let next = (0..planned.len() as u64).find(|i| !released.contains(i)).unwrap_or(0);
                    p { a href={ "/ui/plans/" (plan.id) "/days/" (next) } data-treatment-day { "Treatment day " (next + 1) " of " (planned.len()) } }
                }
            }
        }
    }
}

fn orders(lib: &Library, d: &OrdersDigest) -> Markup {
    html! {
        section {
            h2 { "Orders" }
            @if d.lines.is_empty() {
                p { "No orders." }
            } @else {
                table {
                    thead { tr { th { "Drug" } th { "Dose" } th { "Status" } th { "Written" } } }
                    tbody {
                        @for l in &d.lines {
                            tr {
                                td { a href={ "/ui/orders/" (l.order.id) } { (drug_name(lib, &l.order.medication)) } }
                                td.num { (l.dose) }
                                td { (badge(l.order.status.as_str(), l.order.status.as_str())) }
                                td { (when(&l.order.created_at)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Totals of completed orders per drug and unit, as recorded (no conversion): the app's view
/// (`App::cumulative_doses`), not a sum made here.
fn cumulative(lib: &Library, given: &[CumulativeDose]) -> Markup {
    html! {
        section {
            h2 { "Cumulative doses (completed orders)" }
            @if given.is_empty() {
                p { "None completed." }
            } @else {
                table {
                    thead { tr { th { "Drug" } th { "Total given" } th { "Administrations" } } }
                    tbody {
                        @for c in given {
                            tr {
                                td { (drug_name(lib, &c.medication)) }
                                td.num { (q(c.total, &c.unit)) }
                                td.num { (c.n_orders) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn timeline(d: &OrdersDigest) -> Markup {
    html! {
        section {
            h2 { "Administrations timeline" }
            @if d.timeline.is_empty() {
                p { "No administrations yet." }
            } @else {
                ol.timeline {
                    @for (t, text) in &d.timeline {
                        li { time { (when_us(*t)) } " " (text) }
                    }
                }
            }
        }
    }
}
