//! HTML building blocks: escaping, ISMP-safe numbers with their units, tall-man drug names,
//! the page frame, the error box and a renderer for derivations.
//!
//! Every piece of text that did not come from this crate goes through [`e`] (or a helper that
//! calls it) before it reaches a page.

use std::fmt::{self, Display, Write as _};

use infusio_app::AppError;
use infusio_core::library::Library;
use infusio_core::units::{display_decimals, format_quantity};
use serde_json::Value as Json;

/// Text escaped for HTML element content and quoted attribute values.
pub struct Esc<'a>(pub &'a str);

impl Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&#39;")?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Escapes `s`.
pub fn e(s: &str) -> Esc<'_> {
    Esc(s)
}

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
pub fn badge(text: &str, class: &str) -> String {
    format!(
        "<span class=\"badge {}\">{}</span>",
        e(class),
        e(&text.replace('_', " "))
    )
}

/// The error of a refused step, shown at the top of the page: what was refused, the field,
/// the value as given and what is accepted; for a block, every finding. Internal details are
/// logged, never shown.
pub fn error_box(err: &AppError) -> String {
    let mut out = String::new();
    match err {
        AppError::Invalid(ie) => {
            let _ = write!(
                out,
                "<div class=\"error\" role=\"alert\" data-error=\"invalid\"><h2>Not accepted</h2>\
                 <dl><dt>Field</dt><dd class=\"field\">{}</dd><dt>Value given</dt><dd>{}</dd>\
                 <dt>Accepted</dt><dd>{}</dd></dl></div>",
                e(&ie.field),
                if ie.value.is_empty() {
                    "(empty)".to_string()
                } else {
                    e(&ie.value).to_string()
                },
                e(&ie.message)
            );
        }
        AppError::Blocked {
            code,
            message,
            findings,
        } => {
            let _ = write!(
                out,
                "<div class=\"error hardstop\" role=\"alert\" data-error=\"blocked\" data-code=\"{}\">\
                 <h2>✖ BLOCKED</h2><p>{}</p>{}</div>",
                e(code),
                e(message),
                findings_list(findings)
            );
        }
        AppError::Internal(detail) => {
            tracing::error!(detail, "internal error on a web page");
            out.push_str(
                "<div class=\"error\" role=\"alert\" data-error=\"internal\"><h2>Something went wrong</h2>\
                 <p>The step was not recorded. The error has been logged; try again or call support.</p></div>",
            );
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
            let _ = write!(
                out,
                "<div class=\"error\" role=\"alert\" data-error=\"{kind}\"><h2>Refused</h2><p>{}</p></div>",
                e(&other.to_string())
            );
        }
    }
    out
}

/// The findings of a check, hard stops first and unmissable.
pub fn findings_list(findings: &Json) -> String {
    let Some(items) = findings.as_array() else {
        return String::new();
    };
    if items.is_empty() {
        return "<p class=\"ok\">No findings.</p>".into();
    }
    let mut sorted: Vec<&Json> = items.iter().collect();
    sorted.sort_by_key(|f| match f["severity"].as_str() {
        Some("hard_stop") => 0,
        Some("warning") => 1,
        _ => 2,
    });
    let mut out = String::from("<ul class=\"findings\">");
    for f in sorted {
        let sev = f["severity"].as_str().unwrap_or("info");
        let label = match sev {
            "hard_stop" => "HARD STOP",
            "warning" => "Warning",
            _ => "Info",
        };
        let _ = write!(
            out,
            "<li class=\"finding {}\" data-code=\"{}\"><strong>{label}</strong> <code>{}</code> {}</li>",
            e(sev),
            e(f["code"].as_str().unwrap_or("")),
            e(f["code"].as_str().unwrap_or("")),
            e(f["message"].as_str().unwrap_or(""))
        );
    }
    out.push_str("</ul>");
    out
}

/// The steps of a calculation (`{"steps": [{"description", "formula", "inputs", "result"}]}`)
/// as an ordered list: every number with where it came from.
pub fn steps(calc: &Json) -> String {
    let Some(items) = calc["steps"].as_array() else {
        return String::new();
    };
    let mut out = String::from("<ol class=\"steps\">");
    for s in items {
        let _ = write!(
            out,
            "<li><span class=\"desc\">{}</span>",
            e(s["description"].as_str().unwrap_or(""))
        );
        if let Some(f) = s["formula"].as_str().filter(|f| !f.is_empty()) {
            let _ = write!(out, " <code>{}</code>", e(f));
        }
        if let Some(inputs) = s["inputs"].as_array().filter(|i| !i.is_empty()) {
            out.push_str(" <span class=\"inputs\">(");
            let parts: Vec<String> = inputs
                .iter()
                .map(|i| {
                    format!(
                        "{} = {}",
                        e(i["name"].as_str().unwrap_or("")),
                        e(&qty_json(i).unwrap_or_default())
                    )
                })
                .collect();
            out.push_str(&parts.join("; "));
            out.push(')');
            out.push_str("</span>");
        }
        if let Some(r) = qty_json(&s["result"]) {
            let _ = write!(out, " → <strong>{}</strong>", e(&r));
        }
        if let Some(r) = s["rounding"].as_str() {
            let _ = write!(out, " <em>({})</em>", e(r));
        }
        out.push_str("</li>");
    }
    out.push_str("</ol>");
    if let Some(sources) = calc["sources"].as_array().filter(|s| !s.is_empty()) {
        out.push_str("<details><summary>Sources</summary><ul class=\"sources\">");
        for s in sources {
            let text = s["citation"]
                .as_str()
                .or_else(|| s.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| s.to_string());
            let _ = write!(out, "<li>{}</li>", e(&text));
        }
        out.push_str("</ul></details>");
    }
    out
}

/// Any JSON value as nested definition lists (library entries, audit details).
pub fn json_view(v: &Json) -> String {
    match v {
        Json::Null => "<span class=\"muted\">—</span>".into(),
        Json::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Json::Number(n) => e(&n.to_string()).to_string(),
        Json::String(s) => e(s).to_string(),
        Json::Array(items) => {
            if items.is_empty() {
                return "<span class=\"muted\">none</span>".into();
            }
            let mut out = String::from("<ul class=\"jv\">");
            for i in items {
                let _ = write!(out, "<li>{}</li>", json_view(i));
            }
            out.push_str("</ul>");
            out
        }
        Json::Object(m) => {
            let mut out = String::from("<dl class=\"jv\">");
            for (k, val) in m {
                let _ = write!(
                    out,
                    "<dt>{}</dt><dd>{}</dd>",
                    e(&k.replace('_', " ")),
                    json_view(val)
                );
            }
            out.push_str("</dl>");
            out
        }
    }
}

/// A labelled text input. `value` is pre-filled (escaped).
pub fn input(name: &str, label: &str, value: &str, hint: &str) -> String {
    let id = format!("f-{}", name.replace(['.', '[', ']'], "-"));
    format!(
        "<label for=\"{id}\">{}</label><input id=\"{id}\" name=\"{}\" value=\"{}\" autocomplete=\"off\"{}>",
        e(label),
        e(name),
        e(value),
        if hint.is_empty() {
            String::new()
        } else {
            format!(" placeholder=\"{}\"", e(hint))
        }
    )
}

/// A labelled select.
pub fn select(name: &str, label: &str, options: &[(String, String)], selected: &str) -> String {
    let id = format!("f-{}", name.replace(['.', '[', ']'], "-"));
    let mut out = format!(
        "<label for=\"{id}\">{}</label><select id=\"{id}\" name=\"{}\">",
        e(label),
        e(name)
    );
    for (value, text) in options {
        let _ = write!(
            out,
            "<option value=\"{}\"{}>{}</option>",
            e(value),
            if value == selected { " selected" } else { "" },
            e(text)
        );
    }
    out.push_str("</select>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            e("<script>\"a\" & 'b'</script>").to_string(),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
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
        let html = error_box(&blocked);
        assert!(html.contains("HARD STOP") && html.contains("dose.above_hard_max"));
        let invalid = AppError::invalid("volume", "abc", "a volume such as '250 mL'");
        let html = error_box(&invalid);
        assert!(html.contains("volume") && html.contains("abc") && html.contains("250 mL"));
        let internal = error_box(&AppError::Internal("db password is hunter2".into()));
        assert!(!internal.contains("hunter2"));
    }
}
