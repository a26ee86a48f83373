//! HTML building blocks: ISMP-safe numbers with their units, tall-man drug names, form fields,
//! the error box and renderers for findings, derivations and JSON records.
//!
//! Every page is built with `maud`'s `html!`, which escapes every interpolated value by
//! default: text that did not come from this crate cannot become markup. Raw markup is an
//! explicit opt-out (`PreEscaped`), allowed only in the vetted places listed in
//! `tests/tidy.rs`.

use infusio_app::AppError;
use infusio_core::derivation::{Finding, Severity};
use infusio_core::library::Library;
use infusio_core::units::{Qty, display_decimals, format_quantity};
use maud::{Markup, html};
use serde_json::Value as Json;

/// A quantity for display: ISMP number format (leading zero, no trailing zero, thousands
/// separators) with the unit beside it, at the clinical display precision of the unit.
pub fn q(value: f64, unit: &str) -> String {
    format_quantity(value, &display_unit(unit), display_decimals(unit, value))
}

/// Units as ISMP wants them spelled: `mcg` (never µg or ug), `units` (never U or IU).
pub fn display_unit(unit: &str) -> String {
    unit.replace("µg", "mcg")
        .replace("ug/", "mcg/")
        .replace("IU", "units")
        .replace("m2", "m²")
        .replace("10*9/L", "× 10⁹/L")
}

/// `{"value": 1.2, "unit": "mg"}` → `1.2 mg`.
/// A typed quantity, ISMP-formatted.
pub fn qty(v: &Qty) -> String {
    q(v.value, &v.unit)
}

pub fn qty_json(v: &Json) -> Option<String> {
    let value = v.get("value")?.as_f64()?;
    let unit = v.get("unit")?.as_str()?;
    Some(q(value, unit))
}

/// ISMP and FDA recommended tall-man lettering for look-alike names of drugs in the library.
/// The drug library does not carry these yet; the table is the display's own, from the
/// ISMP List of Look-Alike Drug Names with Recommended Tall Man (Mixed Case) Letters (2023)
/// and the FDA Name Differentiation Project.
const TALL_MAN: &[(&str, &str)] = &[
    ("carboplatin", "CARBOplatin"),
    ("cisplatin", "CISplatin"),
    ("doxorubicin", "DOXOrubicin"),
    ("vincristine", "vinCRIStine"),
    ("paclitaxel", "PACLitaxel"),
    ("docetaxel", "DOCEtaxel"),
    ("cyclophosphamide", "cycloPHOSphamide"),
    ("infliximab", "inFLIXimab"),
    ("rituximab", "riTUXimab"),
];

/// The display name of a library drug: its generic name, in tall-man letters where the list
/// above has it. Unknown ids are shown as given.
pub fn drug_name(lib: &Library, id: &str) -> String {
    if let Some((_, t)) = TALL_MAN.iter().find(|(k, _)| *k == id) {
        return (*t).to_string();
    }
    match lib.get(id) {
        Some(entry) => {
            let g = entry.generic_name.to_lowercase();
            TALL_MAN
                .iter()
                .find(|(k, _)| *k == g)
                .map(|(_, t)| (*t).to_string())
                .unwrap_or_else(|| entry.generic_name.clone())
        }
        None => id.to_string(),
    }
}

/// `2026-11-26T14:05:00.123Z` → `2026-11-26 14:05 UTC`.
pub fn when(iso: &str) -> String {
    if iso.len() >= 16 && iso.as_bytes().get(10) == Some(&b'T') {
        format!("{} {} UTC", &iso[..10], &iso[11..16])
    } else {
        iso.to_string()
    }
}

/// Microseconds since the epoch → `2026-11-26 14:05 UTC`.
pub fn when_us(us: i64) -> String {
    when(&infusio_app::time::iso_from_us(us))
}

/// Microseconds since the epoch → `14:05`.
pub fn hhmm_us(us: i64) -> String {
    let iso = infusio_app::time::iso_from_us(us);
    iso.get(11..16).unwrap_or("").to_string()
}

/// A status badge.
pub fn badge(text: &str, class: &str) -> Markup {
    html! { span class={ "badge " (class) } { (text.replace('_', " ")) } }
}

/// The error of a refused step, shown at the top of the page: what was refused, the field,
/// the value as given and what is accepted; for a block, every finding. Internal details are
/// logged, never shown.
pub fn error_box(err: &AppError) -> Markup {
    match err {
        AppError::Invalid(ie) => html! {
            div.error role="alert" data-error="invalid" {
                h2 { "Not accepted" }
                dl {
                    dt { "Field" } dd.field { (ie.field) }
                    dt { "Value given" }
                    dd { @if ie.value.is_empty() { "(empty)" } @else { (ie.value) } }
                    dt { "Accepted" } dd { (ie.message) }
                }
            }
        },
        AppError::Blocked {
            code,
            message,
            findings,
        } => html! {
            div.error.hardstop role="alert" data-error="blocked" data-code=(code) {
                h2 { "✖ BLOCKED" }
                p { (message) }
                (findings_list(&blocked_findings(findings)))
            }
        },
        AppError::Internal(detail) => {
            tracing::error!(detail, "internal error on a web page");
            html! {
                div.error role="alert" data-error="internal" {
                    h2 { "Something went wrong" }
                    p { "The step was not recorded. The error has been logged; try again or call support." }
                }
            }
        }
        other => {
            let kind = match other {
                AppError::Forbidden { .. } => "forbidden",
                AppError::NotFound { .. } => "not-found",
                AppError::Stale { .. } => "stale",
                AppError::InvalidState { .. } => "state",
                AppError::Conflict(_) => "conflict",
                AppError::Locked { .. } => "locked",
                _ => "refused",
            };
            html! {
                div.error role="alert" data-error=(kind) {
                    h2 { "Refused" }
                    p { (other.to_string()) }
                }
            }
        }
    }
}

/// The findings a refused step carries (the error's `findings` array).
fn blocked_findings(findings: &Json) -> Vec<Finding> {
    serde_json::from_value(findings.clone()).unwrap_or_default()
}

/// The findings of a check, hard stops first and unmissable.
pub fn findings_list(findings: &[Finding]) -> Markup {
    if findings.is_empty() {
        return html! { p.ok { "No findings." } };
    }
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| std::cmp::Reverse(f.severity));
    html! {
        ul.findings {
            @for f in sorted {
                @let sev = f.severity.as_str();
                @let label = match f.severity {
                    Severity::HardStop => "HARD STOP",
                    Severity::Warning => "Warning",
                    Severity::Info => "Info",
                };
                li class={ "finding " (sev) } data-code=(f.code) {
                    strong { (label) } " " strong.finding-title { (crate::words::finding_title(&f.code)) } " " (f.message)
                }
            }
        }
    }
}

/// One step of a calculation: description, formula, inputs, result and rounding.
fn step(s: &Json) -> Markup {
    let inputs = s["inputs"].as_array().filter(|i| !i.is_empty());
    html! {
        li {
            span.desc { (s["description"].as_str().unwrap_or("")) }
            @if let Some(f) = s["formula"].as_str().filter(|f| !f.is_empty()) {
                " " code { (f) }
            }
            @if let Some(inputs) = inputs {
                " "
                span.inputs {
                    "("
                    @for (n, i) in inputs.iter().enumerate() {
                        @if n > 0 { "; " }
                        (i["name"].as_str().unwrap_or("")) " = " (qty_json(i).unwrap_or_default())
                    }
                    ")"
                }
            }
            @if let Some(r) = qty_json(&s["result"]) {
                " → " strong { (r) }
            }
            @if let Some(r) = s["rounding"].as_str() {
                " " em { "(" (r) ")" }
            }
        }
    }
}

/// The steps of a calculation (`{"steps": [{"description", "formula", "inputs", "result"}]}`)
/// as an ordered list: every number with where it came from.
pub fn steps(calc: &Json) -> Markup {
    let Some(items) = calc["steps"].as_array() else {
        return html! {};
    };
    html! {
        ol.steps { @for s in items { (step(s)) } }
        @if let Some(sources) = calc["sources"].as_array().filter(|s| !s.is_empty()) {
            details {
                summary { "Sources" }
                ul.sources {
                    @for s in sources {
                        li {
                            (s["citation"].as_str().or_else(|| s.as_str()).map(str::to_string)
                                .unwrap_or_else(|| s.to_string()))
                        }
                    }
                }
            }
        }
    }
}

/// Any JSON value as nested definition lists (library entries, audit details).
pub fn json_view(v: &Json) -> Markup {
    match v {
        Json::Null => html! { span.muted { "—" } },
        Json::Bool(b) => html! { @if *b { "yes" } @else { "no" } },
        Json::Number(n) => html! { (n.to_string()) },
        Json::String(s) => html! { (s) },
        Json::Array(items) if items.is_empty() => html! { span.muted { "none" } },
        Json::Array(items) => html! {
            ul.jv { @for i in items { li { (json_view(i)) } } }
        },
        Json::Object(m) => html! {
            dl.jv {
                @for (k, val) in m {
                    dt { (k.replace('_', " ")) } dd { (json_view(val)) }
                }
            }
        },
    }
}

/// The element id of a form field named `name`.
pub fn field_id(name: &str) -> String {
    format!("f-{}", name.replace(['.', '[', ']'], "-"))
}

/// A labelled text input. `value` is pre-filled.
pub fn input(name: &str, label: &str, value: &str, hint: &str) -> Markup {
    input_with_id(&field_id(name), name, label, value, hint)
}

/// A labelled text input with its own element id (for a name used twice on one page).
pub fn input_with_id(id: &str, name: &str, label: &str, value: &str, hint: &str) -> Markup {
    let placeholder = (!hint.is_empty()).then_some(hint);
    html! {
        label for=(id) { (label) }
        input id=(id) name=(name) value=(value) autocomplete="off" placeholder=[placeholder];
    }
}

/// A labelled select.
pub fn select(name: &str, label: &str, options: &[(String, String)], selected: &str) -> Markup {
    select_with_id(&field_id(name), name, label, options, selected)
}

/// A labelled select with its own element id (for a name used twice on one page).
pub fn select_with_id(
    id: &str,
    name: &str,
    label: &str,
    options: &[(String, String)],
    selected: &str,
) -> Markup {
    html! {
        label for=(id) { (label) }
        select id=(id) name=(name) {
            @for (value, text) in options {
                option value=(value) selected[value == selected] { (text) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolated_text_is_escaped_in_content_and_attributes() {
        let evil = "<script>\"a\" & 'b'</script>";
        let page = html! { p title=(evil) { (evil) } }.into_string();
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&lt;script&gt;"), "{page}");
        assert!(page.contains("&quot;a&quot; &amp;"), "{page}");
        let field = input("note", evil, evil, evil).into_string();
        assert!(
            !field.contains("<script>") && !field.contains("\"a\""),
            "{field}"
        );
    }

    #[test]
    fn numbers_are_ismp_safe_with_units() {
        assert_eq!(q(0.5, "mg"), "0.5 mg");
        assert_eq!(q(340.0, "mg"), "340 mg");
        assert_eq!(q(1750.0, "units"), "1,750 units");
        assert_eq!(q(125.04, "mL/h"), "125 mL/h");
        assert_eq!(display_unit("µg/kg/min"), "mcg/kg/min");
        assert_eq!(display_unit("IU"), "units");
    }

    #[test]
    fn tall_man_only_where_listed() {
        let lib = infusio_app::library::builtin().expect("library");
        assert_eq!(drug_name(&lib, "carboplatin"), "CARBOplatin");
        assert_eq!(drug_name(&lib, "vancomycin").to_lowercase(), "vancomycin");
        assert_eq!(drug_name(&lib, "no-such-drug"), "no-such-drug");
    }

    #[test]
    fn a_block_lists_every_finding_and_an_invalid_input_names_field_value_and_range() {
        let blocked = AppError::Blocked {
            code: "order.hard_stop",
            message: "a hard stop blocks this order".into(),
            findings: serde_json::json!([{"code": "dose.above_hard_max", "severity": "hard_stop", "message": "1,500 mg is above 1,275 mg"}]),
        };
        let html = error_box(&blocked).into_string();
        assert!(html.contains("HARD STOP") && html.contains("dose.above_hard_max"));
        let invalid = AppError::invalid("volume", "abc", "a volume such as '250 mL'");
        let html = error_box(&invalid).into_string();
        assert!(html.contains("volume") && html.contains("abc") && html.contains("250 mL"));
        let internal =
            error_box(&AppError::Internal("db password is hunter2".into())).into_string();
        assert!(!internal.contains("hunter2"));
    }

    #[test]
    fn a_selected_option_is_marked_and_an_empty_hint_leaves_no_placeholder() {
        let opts = vec![
            ("a".to_string(), "A".to_string()),
            ("b".to_string(), "B".to_string()),
        ];
        let s = select("x", "X", &opts, "b").into_string();
        assert!(s.contains("<option value=\"b\" selected>B</option>"), "{s}");
        assert!(s.contains("<option value=\"a\">A</option>"), "{s}");
        assert!(
            !input("x", "X", "", "")
                .into_string()
                .contains("placeholder")
        );
    }
}
