//! Patient list and search; the patient chart.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use infusio_app::patients::number;
use infusio_server::AppState;
use infusio_store::OrderStatus;

use crate::html::{badge, drug_name, e, q, when, when_us};
use crate::{FormData, Viewer, page, page_with_error};

pub async fn list(
    State(s): State<AppState>,
    viewer: Viewer,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let query = FormData(query);
    let text = query.val("q").to_string();
    let mut body = format!(
        "<form method=\"get\" action=\"/ui/patients\" role=\"search\" class=\"inline\">\
         <label for=\"q\">Search by MRN or name</label><input id=\"q\" name=\"q\" value=\"{}\" autofocus>\
         <button type=\"submit\">Search</button></form>",
        e(&text)
    );
    match s.app.search_patients(viewer.actor(), &text).await {
        Ok(patients) => {
            if patients.is_empty() {
                body.push_str("<p>No patient matches.</p>");
            } else {
                body.push_str("<table><thead><tr><th>MRN</th><th>Name</th><th>Born</th><th>Sex</th><th></th></tr></thead><tbody>");
                for p in patients {
                    let _ = write!(
                        body,
                        "<tr><td>{}</td><td><a href=\"/ui/patients/{}\">{}, {}</a></td><td>{}</td><td>{}</td>\
                         <td><a class=\"button\" href=\"/ui/orders/new?patient_id={}\">New order</a></td></tr>",
                        e(&p.data.mrn),
                        e(&p.id),
                        e(&p.data.family_name),
                        e(&p.data.given_name),
                        e(&p.data.birth_date),
                        e(&p.data.sex),
                        e(&p.id)
                    );
                }
                body.push_str("</tbody></table>");
            }
            page("Patients", &viewer, "patients", &body)
        }
        Err(err) => page_with_error("Patients", &viewer, "patients", &err, &body),
    }
}

pub async fn chart(State(s): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let lib = s.app.library();
    let c = match s.app.chart(viewer.actor(), &id).await {
        Ok(c) => c,
        Err(err) => return page_with_error("Patient", &viewer, "patients", &err, ""),
    };
    let p = &c.patient.data;
    let title = format!("{}, {} — {}", p.family_name, p.given_name, p.mrn);
    let mut b = format!(
        "<section class=\"card\"><dl class=\"facts\"><dt>MRN</dt><dd>{}</dd><dt>Born</dt><dd>{}</dd><dt>Sex</dt><dd>{}</dd></dl>\
         <p><a class=\"button primary\" href=\"/ui/orders/new?patient_id={}\">New order</a> \
         <a class=\"button\" href=\"/ui/schedule?patient_id={}\">Book a chair</a> \
         <a class=\"button\" href=\"/ui/pk/vancomycin?patient_id={}\">Vancomycin dosing from levels</a></p></section>",
        e(&p.mrn),
        e(&p.birth_date),
        e(&p.sex),
        e(&c.patient.id),
        e(&c.patient.id),
        e(&c.patient.id)
    );
    // Allergies first: they change what may be given.
    b.push_str("<section><h2>Allergies</h2>");
    if c.allergies.is_empty() {
        b.push_str("<p>No known allergies recorded.</p>");
    } else {
        b.push_str("<ul class=\"allergies\">");
        for a in &c.allergies {
            let _ = write!(
                b,
                "<li><strong>{}</strong> — {} ({})</li>",
                e(&a.data.substance),
                e(a.data
                    .reaction
                    .as_deref()
                    .unwrap_or("reaction not recorded")),
                e(&a.data.severity)
            );
        }
        b.push_str("</ul>");
    }
    b.push_str("</section><section><h2>Measurements</h2>");
    if c.measurements.is_empty() {
        b.push_str("<p>None recorded.</p>");
    } else {
        b.push_str("<table><thead><tr><th>What</th><th>Value</th><th>Measured</th><th>Source</th></tr></thead><tbody>");
        for m in &c.measurements {
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                e(&m.data.kind),
                e(&q(number(&m.data.value), &m.data.unit)),
                e(&when_us(m.data.measured_at_us)),
                e(&m.data.source)
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("</section><section><h2>Laboratory results</h2>");
    if c.labs.is_empty() {
        b.push_str("<p>None recorded.</p>");
    } else {
        b.push_str(
            "<table><thead><tr><th>Test</th><th>Value</th><th>Collected</th></tr></thead><tbody>",
        );
        for l in &c.labs {
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                e(&l.data.name.replace('_', " ")),
                e(&q(number(&l.data.value), &l.data.unit)),
                e(&when_us(l.data.collected_at_us))
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("</section><section><h2>Therapy plans</h2>");
    if c.plans.is_empty() {
        b.push_str("<p>No therapy plan.</p>");
    } else {
        let today = super::today();
        for plan in &c.plans {
            let sj = &plan.data.schedule_json;
            let planned = sj["planned"].as_array().cloned().unwrap_or_default();
            let upcoming: Vec<String> = planned
                .iter()
                .filter(|d| d["date"].as_str().is_some_and(|x| x >= today.as_str()))
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
            let _ = write!(
                b,
                "<div class=\"card\"><p><strong>{}</strong> · from {} · {} · {} planned days</p><p>Next: {}</p></div>",
                e(sj["protocol_name"]
                    .as_str()
                    .unwrap_or(&plan.data.protocol_id)),
                e(&plan.data.start_date),
                e(&plan.data.status),
                planned.len(),
                e(&if upcoming.is_empty() {
                    "none".to_string()
                } else {
                    upcoming.join("; ")
                })
            );
        }
    }
    b.push_str("</section><section><h2>Orders</h2>");
    let mut timeline: Vec<(i64, String)> = Vec::new();
    // Totals of completed orders per drug and unit, shown as recorded (no conversion).
    let mut given: BTreeMap<(String, String), (f64, usize)> = BTreeMap::new();
    if c.orders.is_empty() {
        b.push_str("<p>No orders.</p>");
    } else {
        b.push_str("<table><thead><tr><th>Drug</th><th>Dose</th><th>Status</th><th>Written</th></tr></thead><tbody>");
        for o in &c.orders {
            let view = s.app.get_order(viewer.actor(), &o.id).await.ok();
            let dose = view
                .as_ref()
                .and_then(|(v, _)| v.dose.as_ref())
                .and_then(|d| Some(q(d["value"].as_f64()?, d["unit"].as_str()?)))
                .unwrap_or_else(|| "—".into());
            if o.status == OrderStatus::Completed
                && let Some((v, _)) = &view
                && let Some(d) = &v.dose
                && let (Some(val), Some(unit)) = (d["value"].as_f64(), d["unit"].as_str())
            {
                let entry = given
                    .entry((o.medication.clone(), unit.to_string()))
                    .or_insert((0.0, 0));
                entry.0 += val;
                entry.1 += 1;
            }
            let _ = write!(
                b,
                "<tr><td><a href=\"/ui/orders/{}\">{}</a></td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                e(&o.id),
                e(&drug_name(lib, &o.medication)),
                e(&dose),
                badge(o.status.as_str(), o.status.as_str()),
                e(&when(&o.created_at))
            );
            if let Ok(act) = s.app.order_activity(viewer.actor(), &o.id).await {
                for (a, events) in &act.administrations {
                    timeline.push((
                        a.data.started_at_us,
                        format!(
                            "<a href=\"/ui/administrations/{}\">{}</a> started ({} events) — {}",
                            e(&a.id),
                            e(&drug_name(lib, &o.medication)),
                            events.len(),
                            e(&a.data.status.replace('_', " "))
                        ),
                    ));
                    for ev in events.iter().filter(|ev| ev.data.kind == "reaction") {
                        timeline.push((
                            ev.data.at_us,
                            format!(
                                "<span class=\"alert-text\">Reaction grade {}</span> during {}",
                                ev.data.reaction_grade.unwrap_or(0),
                                e(&drug_name(lib, &o.medication))
                            ),
                        ));
                    }
                    if let Some(stop) = a.data.stopped_at_us {
                        timeline.push((
                            stop,
                            format!(
                                "{} {}",
                                e(&drug_name(lib, &o.medication)),
                                e(&a.data.status)
                            ),
                        ));
                    }
                }
            }
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("</section><section><h2>Cumulative doses (completed orders)</h2>");
    if given.is_empty() {
        b.push_str("<p>None completed.</p>");
    } else {
        b.push_str("<table><thead><tr><th>Drug</th><th>Total given</th><th>Administrations</th></tr></thead><tbody>");
        for ((drug, unit), (total, n)) in &given {
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{n}</td></tr>",
                e(&drug_name(lib, drug)),
                e(&q(*total, unit))
            );
        }
        b.push_str("</tbody></table>");
    }
    b.push_str("</section><section><h2>Administrations timeline</h2>");
    timeline.sort_by_key(|(t, _)| *t);
    if timeline.is_empty() {
        b.push_str("<p>No administrations yet.</p>");
    } else {
        b.push_str("<ol class=\"timeline\">");
        for (t, text) in &timeline {
            let _ = write!(b, "<li><time>{}</time> {text}</li>", e(&when_us(*t)));
        }
        b.push_str("</ol>");
    }
    b.push_str("</section>");
    page(&title, &viewer, "patients", &b)
}
