//! Library invariants. Each problem is `(dotted field path, message)`; the loader adds the
//! file and line.

use super::model::*;
use crate::check::lab_unit;
use crate::units::{Amount, AmountKind, Concentration, DoseBasis, DosePer, parse_quantity};

/// Routes the library knows.
pub const ROUTES: [&str; 7] = [
    "iv",
    "sc",
    "im",
    "po",
    "intrathecal",
    "intraperitoneal",
    "intravesical",
];

struct Problems<'a> {
    entry: &'a DrugEntry,
    out: Vec<(String, String)>,
}

impl Problems<'_> {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.out.push((field.into(), message.into()));
    }

    /// The field must name a source declared in `[[sources]]`.
    fn source(&mut self, field: String, id: &str) {
        if id.trim().is_empty() {
            self.push(field, "every clinical number needs a source: add `source = \"<id of a [[sources]] entry>\"`");
        } else if self.entry.citation(id).is_none() {
            self.push(
                field,
                format!(
                    "source '{id}' is not declared in [[sources]] (declared: {})",
                    self.entry
                        .sources
                        .iter()
                        .map(|s| s.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }

    fn care_areas(&mut self, field: String, areas: &[String]) {
        for a in areas {
            if !CARE_AREAS.contains(&a.as_str()) {
                self.push(
                    field.clone(),
                    format!("unknown care area '{a}'; one of {}", CARE_AREAS.join(", ")),
                );
            }
        }
    }

    fn products(&mut self, field: String, products: &[String]) {
        for p in products {
            if !self.entry.products.iter().any(|x| &x.id == p) {
                self.push(
                    field.clone(),
                    format!("unknown product '{p}' (not in [[products]])"),
                );
            }
        }
    }

    fn infusion(&mut self, field: String, infusion: &Option<String>) {
        if let Some(i) = infusion
            && super::model::infusion_matches(i, 1).is_none()
        {
            self.push(
                field,
                format!("infusion must be 'first', 'subsequent', a range such as '1-2' or an open range such as '3+', not '{i}'"),
            );
        }
    }

    /// `hard_min ≤ soft_min < soft_max ≤ hard_max`, qualifiers and source.
    fn limits(&mut self, path: &str, l: &Limits) {
        let bounds = [
            ("hard_min", l.hard_min),
            ("soft_min", l.soft_min),
            ("soft_max", l.soft_max),
            ("hard_max", l.hard_max),
        ];
        if bounds.iter().all(|(_, v)| v.is_none()) {
            self.push(
                path.to_string(),
                "a limit block needs at least one of hard_min, soft_min, soft_max, hard_max",
            );
        }
        for (name, v) in bounds {
            if let Some(v) = v
                && (!v.is_finite() || v < 0.0)
            {
                self.push(
                    format!("{path}.{name}"),
                    format!("must be a finite number ≥ 0, not {v}"),
                );
            }
        }
        let present: Vec<(&str, f64)> = bounds
            .iter()
            .filter_map(|(n, v)| v.map(|v| (*n, v)))
            .collect();
        for i in 0..present.len() {
            for j in i + 1..present.len() {
                let (a, va) = present[i];
                let (b, vb) = present[j];
                let strict = a == "soft_min" && b == "soft_max";
                if va > vb || (strict && va >= vb) {
                    self.push(
                        format!("{path}.{b}"),
                        format!(
                            "limits must satisfy hard_min ≤ soft_min < soft_max ≤ hard_max, but {a} = {va} and {b} = {vb}"
                        ),
                    );
                }
            }
        }
        if let Some(line) = &l.line
            && !LINES.contains(&line.as_str())
        {
            self.push(
                format!("{path}.line"),
                format!("line must be one of {}, not '{line}'", LINES.join(", ")),
            );
        }
        self.care_areas(format!("{path}.care_areas"), &l.care_areas);
        self.products(format!("{path}.products"), &l.products);
        self.infusion(format!("{path}.infusion"), &l.infusion);
        self.rules(format!("{path}.rules"), &l.rules);
        let mut band = [None, None];
        for (k, (key, v)) in [
            ("dose_above", &l.dose_above),
            ("dose_at_most", &l.dose_at_most),
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(text) = v {
                match Amount::parse(text) {
                    Ok(a) if a.value.is_finite() && a.value >= 0.0 => {
                        band[k] = a.value_in(a.kind.unit()).ok().map(|v| (v, a.kind));
                    }
                    _ => self.push(
                        format!("{path}.{key}"),
                        format!("'{text}' is not an amount such as '200 mg'"),
                    ),
                }
            }
        }
        if let [Some((a, ka)), Some((b, kb))] = band
            && (ka != kb || a >= b)
        {
            self.push(
                format!("{path}.dose_at_most"),
                "must be an amount of the same kind above dose_above",
            );
        }
        self.band(path, "age", l.age_min_y, l.age_max_y, "_y");
        self.band(path, "weight", l.weight_min_kg, l.weight_max_kg, "_kg");
        self.source(format!("{path}.source"), &l.source);
    }

    /// A `<name>_min<suffix>` / `<name>_max<suffix>` band: finite, ≥ 0, min below max.
    fn band(&mut self, path: &str, name: &str, min: Option<f64>, max: Option<f64>, suffix: &str) {
        for (which, v) in [("min", min), ("max", max)] {
            if let Some(v) = v
                && !(v.is_finite() && v >= 0.0)
            {
                self.push(
                    format!("{path}.{name}_{which}{suffix}"),
                    format!("must be a finite number ≥ 0, not {v}"),
                );
            }
        }
        if let (Some(a), Some(b)) = (min, max)
            && a >= b
        {
            self.push(
                format!("{path}.{name}_max{suffix}"),
                format!("{name}_min{suffix} ({a}) must be below {name}_max{suffix} ({b})"),
            );
        }
    }

    /// Names of dosing rules must exist.
    fn rules(&mut self, field: String, rules: &[String]) {
        for r in rules {
            if !self.entry.dosing.iter().any(|d| &d.id == r) {
                self.push(
                    field.clone(),
                    format!(
                        "unknown dosing rule '{r}' (rules: {})",
                        self.entry
                            .dosing
                            .iter()
                            .map(|d| d.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
    }

    /// Refuses two blocks of one list with the same unit and the same specificity that one
    /// order could match at once: neither would be "the most specific", so which limit
    /// applies would depend on the order of the file.
    fn ambiguous(&mut self, list: &str, blocks: &[Limits]) {
        for i in 0..blocks.len() {
            for j in i + 1..blocks.len() {
                let (a, b) = (&blocks[i], &blocks[j]);
                if a.unit == b.unit && a.specificity() == b.specificity() && may_overlap(a, b) {
                    self.push(
                        format!("{list}[{j}]"),
                        format!(
                            "ambiguous: {list}[{i}] ({}) and {list}[{j}] ({}) have the same unit and specificity and can both match one order; qualify one of them further or make their qualifiers disjoint",
                            a.qualifiers(),
                            b.qualifiers()
                        ),
                    );
                }
            }
        }
    }
}

/// Whether one order could match both blocks (lists intersect or one is unqualified, bands
/// overlap, equal line and infusion or one unset). Conditions are "any of", so they never
/// make two blocks disjoint.
fn may_overlap(a: &Limits, b: &Limits) -> bool {
    fn sets(x: &[String], y: &[String]) -> bool {
        x.is_empty() || y.is_empty() || x.iter().any(|v| y.contains(v))
    }
    fn same(x: &Option<String>, y: &Option<String>) -> bool {
        x.is_none() || y.is_none() || x == y
    }
    fn bands(a: (Option<f64>, Option<f64>), b: (Option<f64>, Option<f64>)) -> bool {
        let lo = a.0.unwrap_or(0.0).max(b.0.unwrap_or(0.0));
        let hi =
            a.1.unwrap_or(f64::INFINITY)
                .min(b.1.unwrap_or(f64::INFINITY));
        lo < hi
    }
    fn dose(l: &Limits) -> (Option<f64>, Option<f64>) {
        let v = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| Amount::parse(t).ok())
                .and_then(|a| a.value_in(a.kind.unit()).ok())
        };
        // (above, at most]: nudge the exclusive lower end so touching bands are disjoint.
        (
            v(&l.dose_above).map(|x| x * (1.0 + 1e-12) + 1e-12),
            v(&l.dose_at_most),
        )
    }
    sets(&a.rules, &b.rules)
        && sets(&a.products, &b.products)
        && sets(&a.care_areas, &b.care_areas)
        && same(&a.line, &b.line)
        && same(&a.infusion, &b.infusion)
        && bands(dose(a), dose(b))
        && bands((a.age_min_y, a.age_max_y), (b.age_min_y, b.age_max_y))
        && bands(
            (a.weight_min_kg, a.weight_max_kg),
            (b.weight_min_kg, b.weight_max_kg),
        )
}

/// Zero-width, bidirectional and other invisible or control characters: a name holding one
/// looks like another name.
pub fn invisible_char(text: &str) -> Option<char> {
    text.chars().find(|&c| {
        c.is_control()
            || matches!(c,
                '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
                | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E0FFF}')
    })
}

fn amount_kind(unit: &str) -> Option<AmountKind> {
    Amount::parse(&format!("1 {unit}")).ok().map(|a| a.kind)
}

/// Checks one entry; `file` is its file name (`infliximab.toml` or a path ending in it).
///
/// Problems come out in the order of the sections of a drug file, so the loader's report
/// reads top to bottom.
pub fn validate_entry(e: &DrugEntry, file: &str) -> Vec<(String, String)> {
    let mut p = Problems {
        entry: e,
        out: Vec::new(),
    };
    p.identity(file);
    p.sources();
    p.flags();
    p.routes();
    p.product_list();
    p.dosing();
    p.administration();
    p.titration();
    p.labs();
    p.screening();
    p.cumulative();
    p.typical_notes();
    p.out
}

/// One section of the drug file each.
impl Problems<'_> {
    /// Identity: id (lowercase, equal to the file name), names free of invisible
    /// characters, version and review status.
    fn identity(&mut self, file: &str) {
        let e = self.entry;
        if e.id.is_empty()
            || !e
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            self.push(
                "id",
                format!("'{}' must be the lowercase generic name with hyphens", e.id),
            );
        }
        let stem = file
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(file)
            .trim_end_matches(".toml");
        if stem != e.id {
            self.push(
                "id",
                format!("id '{}' must equal the file name '{stem}.toml'", e.id),
            );
        }
        if e.generic_name.trim().is_empty() {
            self.push("generic_name", "required");
        }
        for (field, names) in [
            ("generic_name", std::slice::from_ref(&e.generic_name)),
            ("brands", e.brands.as_slice()),
            ("synonyms", e.synonyms.as_slice()),
        ] {
            for n in names {
                if let Some(c) = invisible_char(n) {
                    self.push(
                        field,
                        format!(
                            "'{}' holds the invisible or control character U+{:04X}",
                            n.escape_debug(),
                            c as u32
                        ),
                    );
                }
            }
        }
        if e.version == 0 {
            self.push("version", "versions start at 1");
        }
        if e.review.status.trim().is_empty() {
            self.push(
                "review.status",
                "required (e.g. 'draft: pending pharmacist review')",
            );
        }
    }

    /// `[[sources]]`: at least one, each with id and citation, ids unique.
    fn sources(&mut self) {
        let e = self.entry;
        if e.sources.is_empty() {
            self.push("sources", "at least one [[sources]] entry is required");
        }
        for (i, s) in e.sources.iter().enumerate() {
            if s.id.trim().is_empty() || s.citation.trim().is_empty() {
                self.push(format!("sources[{i}]"), "id and citation are required");
            }
            if e.sources[..i].iter().any(|o| o.id == s.id) {
                self.push(
                    format!("sources[{i}].id"),
                    format!("duplicate source id '{}'", s.id),
                );
            }
        }
    }

    /// `[flags]`: a high-alert drug needs a double check; any flag needs a source.
    fn flags(&mut self) {
        let flags = &self.entry.flags;
        if flags.high_alert && !flags.double_check {
            self.push(
                "flags.double_check",
                "a high-alert medication requires an independent double check (double_check = true)",
            );
        }
        let any_flag = flags.high_alert
            || flags.double_check
            || flags.hazardous
            || flags.vesicant
            || flags.rems;
        if any_flag {
            self.source(
                "flags.source".to_string(),
                flags.source.as_deref().unwrap_or(""),
            );
        }
    }

    /// `routes`, `[[conditional_routes]]` and `product_required`.
    fn routes(&mut self) {
        let e = self.entry;
        if e.routes.is_empty() {
            self.push("routes", "at least one route is required");
        }
        for r in &e.routes {
            if !ROUTES.contains(&r.as_str()) {
                self.push(
                    "routes",
                    format!("unknown route '{r}'; one of {}", ROUTES.join(", ")),
                );
            }
        }
        for (i, c) in e.conditional_routes.iter().enumerate() {
            let path = format!("conditional_routes[{i}]");
            if !ROUTES.contains(&c.route.as_str()) || e.routes.contains(&c.route) {
                self.push(
                    format!("{path}.route"),
                    format!(
                        "'{}' must be a known route ({}) not already in routes",
                        c.route,
                        ROUTES.join(", ")
                    ),
                );
            }
            self.products(format!("{path}.products"), &c.products);
            self.source(format!("{path}.source"), &c.source);
        }
        if e.product_required && e.products.is_empty() {
            self.push(
                "product_required",
                "orders cannot name a product when [[products]] is empty",
            );
        }
    }

    /// `[[products]]`: unique ids, parseable strengths and concentration, preparation
    /// fields, source.
    fn product_list(&mut self) {
        let e = self.entry;
        for (i, prod) in e.products.iter().enumerate() {
            let path = format!("products[{i}]");
            if e.products[..i].iter().any(|o| o.id == prod.id) {
                self.push(
                    format!("{path}.id"),
                    format!("duplicate product id '{}'", prod.id),
                );
            }
            for s in &prod.strengths {
                if parse_quantity(s).is_err() {
                    self.push(
                        format!("{path}.strengths"),
                        format!("'{s}' is not a quantity such as '100 mg'"),
                    );
                }
            }
            if let Some(c) = &prod.concentration
                && Concentration::parse(c).is_err()
            {
                self.push(
                    format!("{path}.concentration"),
                    format!("'{c}' is not a concentration such as '100 mg/mL'"),
                );
            }
            self.preparation(&path, prod);
            if prod.max_sites == Some(0) {
                self.push(format!("{path}.max_sites"), "max_sites must be at least 1");
            }
            if let Some(step) = &prod.preceded_by {
                if step.id.trim().is_empty() || step.text.trim().is_empty() {
                    self.push(
                        format!("{path}.preceded_by"),
                        "a preceding step needs an id and the label's text",
                    );
                }
                self.source(format!("{path}.preceded_by.source"), &step.source);
            }
            self.source(format!("{path}.source"), &prod.source);
        }
    }

    /// A product's preparation fields (reconstitution, vial volumes, bags, stability,
    /// dilution).
    fn preparation(&mut self, path: &str, prod: &Product) {
        for (key, list) in [
            ("reconstitution_ml", &prod.reconstitution_ml),
            ("vial_volume_ml", &prod.vial_volume_ml),
        ] {
            if !list.is_empty() && list.len() != prod.strengths.len() {
                self.push(
                    format!("{path}.{key}"),
                    format!(
                        "needs one value per strength ({} strengths)",
                        prod.strengths.len()
                    ),
                );
            }
        }
        for (key, values) in [
            ("reconstitution_ml", prod.reconstitution_ml.clone()),
            ("vial_volume_ml", prod.vial_volume_ml.clone()),
            ("bag_sizes_ml", prod.bag_sizes_ml.clone()),
            (
                "stability_room_temperature_h",
                prod.stability_room_temperature_h.into_iter().collect(),
            ),
            (
                "stability_refrigerated_h",
                prod.stability_refrigerated_h.into_iter().collect(),
            ),
            ("begin_within_h", prod.begin_within_h.into_iter().collect()),
        ] {
            if values.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
                self.push(format!("{path}.{key}"), "values must be positive numbers");
            }
        }
        if let Some(d) = &prod.dilution
            && !["replace", "add", "none"].contains(&d.as_str())
        {
            self.push(
                format!("{path}.dilution"),
                format!("'{d}' must be replace, add or none"),
            );
        }
    }

    /// `[[dosing]]`: at least one rule, ids unique, then each rule.
    fn dosing(&mut self) {
        let e = self.entry;
        if e.dosing.is_empty() {
            self.push("dosing", "at least one [[dosing]] rule is required");
        }
        for (i, rule) in e.dosing.iter().enumerate() {
            let path = format!("dosing[{i}]");
            if e.dosing[..i].iter().any(|o| o.id == rule.id) {
                self.push(
                    format!("{path}.id"),
                    format!("duplicate rule id '{}'", rule.id),
                );
            }
            self.dosing_rule(&path, rule);
        }
    }

    /// One dosing rule, in the order of its fields.
    fn dosing_rule(&mut self, path: &str, rule: &DosingRule) {
        let amount = self.dose_unit(path, rule);
        self.care_areas(format!("{path}.care_areas"), &rule.care_areas);
        if let (Some(a), Some(b)) = (rule.age_min_y, rule.age_max_y)
            && a >= b
        {
            self.push(
                format!("{path}.age_max_y"),
                format!("age_min_y ({a}) must be below age_max_y ({b})"),
            );
        }
        self.band(
            path,
            "weight",
            rule.weight_min_kg,
            rule.weight_max_kg,
            "_kg",
        );
        self.infusion(format!("{path}.infusion"), &rule.infusion);
        for (j, r) in rule.routes.iter().enumerate() {
            let allowed = self.entry.routes.contains(r)
                || self.entry.conditional_routes.iter().any(|c| &c.route == r);
            if !allowed {
                self.push(
                    format!("{path}.routes[{j}]"),
                    format!("'{r}' is not a route of this entry (routes or conditional_routes)"),
                );
            }
        }
        if rule.course_doses == Some(0) {
            self.push(format!("{path}.course_doses"), "must be at least 1");
        }
        if let Some(l) = &rule.per_kg {
            self.per_kg_ceiling(path, rule, l, amount);
        }
        for (j, w) in rule.windows.iter().enumerate() {
            let wp = format!("{path}.windows[{j}]");
            if !(w.days.is_finite() && w.days > 0.0) {
                self.push(format!("{wp}.days"), "must be a positive number of days");
            }
            self.unitless_limits(
                &format!("{wp}.limits"),
                &w.limits,
                "window limits use the rule's dose_unit; remove `unit`",
            );
            self.source(format!("{wp}.source"), &w.source);
        }
        if let Some(el) = &rule.eligibility {
            self.source(format!("{path}.eligibility.source"), &el.source);
        }
        if let Some(w) = &rule.weight_basis
            && !["actual", "ideal", "adjusted"].contains(&w.as_str())
        {
            self.push(
                format!("{path}.weight_basis"),
                format!("one of actual, ideal, adjusted; not '{w}'"),
            );
        }
        self.source(format!("{path}.source"), &rule.source);
        self.unqualified_own_limits(path, rule);
        for (name, limits) in [("per_dose", &rule.per_dose), ("per_day", &rule.per_day)] {
            if let Some(l) = limits {
                self.unitless_limits(
                    &format!("{path}.{name}"),
                    l,
                    "per_dose and per_day use the rule's dose_unit; remove `unit`",
                );
            }
        }
        self.absolute_limits(path, rule, amount);
        for (j, band) in rule.renal.iter().enumerate() {
            self.renal_band(&format!("{path}.renal[{j}]"), rule, band);
        }
    }

    /// The rule's `dose_unit` against its basis; returns the kind of amount it doses
    /// (`None` when the unit does not parse).
    fn dose_unit(&mut self, path: &str, rule: &DosingRule) -> Option<AmountKind> {
        match rule.basis {
            Basis::PerAuc => {
                if rule.dose_unit != "mg/mL.min" {
                    self.push(
                        format!("{path}.dose_unit"),
                        "basis per_auc needs dose_unit = \"mg/mL.min\"",
                    );
                }
                Some(AmountKind::Mass)
            }
            basis => match DosePer::parse(&format!("1 {}", rule.dose_unit)) {
                Ok(d) => {
                    let expected = match basis {
                        Basis::PerKg => DoseBasis::PerKg,
                        Basis::PerM2 => DoseBasis::PerM2,
                        _ => DoseBasis::Flat,
                    };
                    if d.basis != expected || d.per_time.is_some() {
                        self.push(
                            format!("{path}.dose_unit"),
                            format!(
                                "unit '{}' is inconsistent with basis {} (per_kg needs '<amount>/kg', per_m2 '<amount>/m2', flat '<amount>'; no time)",
                                rule.dose_unit,
                                basis.as_str()
                            ),
                        );
                    }
                    Some(d.amount_kind)
                }
                Err(err) => {
                    self.push(
                        format!("{path}.dose_unit"),
                        format!("'{}': {err}", rule.dose_unit),
                    );
                    None
                }
            },
        }
    }

    /// A per-kg ceiling on a flat rule: a limit block in '<amount>/kg' of the rule's
    /// amount.
    fn per_kg_ceiling(
        &mut self,
        path: &str,
        rule: &DosingRule,
        l: &Limits,
        amount: Option<AmountKind>,
    ) {
        let kp = format!("{path}.per_kg");
        self.limits(&kp, l);
        let ok = rule.basis == Basis::Flat
            && l.unit.as_deref().is_some_and(|u| {
                DosePer::parse(&format!("1 {u}")).is_ok_and(|d| {
                    d.basis == DoseBasis::PerKg
                        && d.per_time.is_none()
                        && Some(d.amount_kind) == amount
                })
            });
        if !ok {
            self.push(
                format!("{kp}.unit"),
                "a per-kg ceiling belongs to a flat rule and needs a unit such as 'mg/kg' of the same amount as dose_unit",
            );
        }
    }

    /// A rule's own limits apply whenever the rule does: a qualifier on them would be
    /// silently ignored, so it is refused (a banded limit is a rule with its own bands).
    fn unqualified_own_limits(&mut self, path: &str, rule: &DosingRule) {
        for (name, limits) in [
            ("per_dose", rule.per_dose.as_ref()),
            ("per_day", rule.per_day.as_ref()),
            ("per_dose_absolute", rule.per_dose_absolute.as_ref()),
            ("per_kg", rule.per_kg.as_ref()),
        ]
        .into_iter()
        .chain(
            rule.windows
                .iter()
                .map(|w| ("windows[].limits", Some(&w.limits))),
        ) {
            if let Some(l) = limits
                && l.specificity() > 0
            {
                self.push(
                    format!("{path}.{name}"),
                    format!(
                        "qualifiers ({}) are not applied to a rule's own limits; give the band its own [[dosing]] rule",
                        l.qualifiers()
                    ),
                );
            }
        }
    }

    /// The usual dose inside its soft limits, `per_dose_absolute` and `cap` in an amount
    /// of the rule's kind.
    fn absolute_limits(&mut self, path: &str, rule: &DosingRule, amount: Option<AmountKind>) {
        if let (Some(usual), Some(l)) = (rule.usual, &rule.per_dose) {
            let low = l.soft_min.or(l.hard_min).unwrap_or(0.0);
            let high = l.soft_max.or(l.hard_max).unwrap_or(f64::INFINITY);
            if usual < low || usual > high {
                self.push(
                    format!("{path}.usual"),
                    format!("the usual dose {usual} lies outside its own soft limits"),
                );
            }
        }
        if let Some(l) = &rule.per_dose_absolute {
            self.limit_block(
                &format!("{path}.per_dose_absolute"),
                l,
                |u| matches!(u.map(amount_kind), Some(Some(k)) if Some(k) == amount),
                "needs the unit of an amount of the same kind as dose_unit (e.g. 'mg')",
            );
        }
        if let Some(cap) = &rule.cap {
            if amount_kind(&cap.unit) != amount || amount.is_none() {
                self.push(
                    format!("{path}.cap.unit"),
                    "needs the unit of an amount of the same kind as dose_unit (e.g. 'mg')",
                );
            }
            if !(cap.value.is_finite() && cap.value > 0.0) {
                self.push(format!("{path}.cap.value"), "must be a positive number");
            }
            self.source(format!("{path}.cap.source"), &cap.source);
        }
    }

    /// One renal band of a rule: a creatinine-clearance band and a dose fraction.
    fn renal_band(&mut self, bp: &str, rule: &DosingRule, band: &RenalBand) {
        if band.crcl_min_ml_per_min.is_none() && band.crcl_max_ml_per_min.is_none() {
            self.push(
                bp.to_string(),
                "a renal band needs crcl_min_ml_per_min or crcl_max_ml_per_min",
            );
        }
        if let (Some(a), Some(b)) = (band.crcl_min_ml_per_min, band.crcl_max_ml_per_min)
            && a >= b
        {
            self.push(
                format!("{bp}.crcl_max_ml_per_min"),
                format!("must exceed crcl_min_ml_per_min ({a})"),
            );
        }
        if let Some(f) = band.max_dose_fraction {
            if !(f > 0.0 && f <= 1.0) {
                self.push(format!("{bp}.max_dose_fraction"), "must be in (0, 1]");
            }
            if rule.usual.is_none() {
                self.push(
                    format!("{bp}.max_dose_fraction"),
                    "needs the rule's `usual` dose",
                );
            }
        }
        self.source(format!("{bp}.source"), &band.source);
    }

    /// The repeated limit-block shape: the block's own invariants, then its `unit`
    /// accepted by `unit_ok` or refused with `unit_message` at `<path>.unit`.
    fn limit_block(
        &mut self,
        path: &str,
        l: &Limits,
        unit_ok: impl Fn(Option<&str>) -> bool,
        unit_message: &str,
    ) {
        self.limits(path, l);
        if !unit_ok(l.unit.as_deref()) {
            self.push(format!("{path}.unit"), unit_message.to_string());
        }
    }

    /// A limit block that takes the rule's dose_unit, so must not name its own.
    fn unitless_limits(&mut self, path: &str, l: &Limits, unit_message: &str) {
        self.limit_block(path, l, |u| u.is_none(), unit_message);
    }

    /// A list of limit blocks: each block with its unit check, then ambiguity.
    fn limit_list(
        &mut self,
        list: &str,
        blocks: &[Limits],
        unit_ok: impl Fn(Option<&str>) -> bool,
        unit_message: &str,
    ) {
        for (i, l) in blocks.iter().enumerate() {
            self.limit_block(&format!("{list}[{i}]"), l, &unit_ok, unit_message);
        }
    }

    /// `[administration]`: lines, duration, concentration and dose-rate limits, final
    /// volume, source.
    fn administration(&mut self) {
        let adm = &self.entry.administration;
        for l in &adm.lines {
            if !LINES.contains(&l.as_str()) {
                self.push(
                    "administration.lines",
                    format!("line must be one of {}, not '{l}'", LINES.join(", ")),
                );
            }
        }
        self.limit_list(
            "administration.duration",
            &adm.duration,
            |u| matches!(u, Some("h" | "min")),
            "duration limits need unit = \"h\" or \"min\"",
        );
        self.limit_list(
            "administration.concentration",
            &adm.concentration,
            |u| u.is_some_and(|u| Concentration::parse(&format!("1 {u}")).is_ok()),
            "needs a concentration unit such as 'mg/mL' or 'mEq/L'",
        );
        self.limit_list(
            "administration.dose_rate",
            &adm.dose_rate,
            |u| {
                u.is_some_and(|u| {
                    DosePer::parse(&format!("1 {u}")).is_ok_and(|d| d.per_time.is_some())
                })
            },
            "needs a rate unit such as 'mg/h', 'mEq/h', 'mg/kg/min' or 'mL/h'",
        );
        self.ambiguous("administration.duration", &adm.duration);
        self.ambiguous("administration.concentration", &adm.concentration);
        self.ambiguous("administration.dose_rate", &adm.dose_rate);
        self.limit_list(
            "administration.per_site_rate",
            &adm.per_site_rate,
            |u| u == Some("mL/h"),
            "per-site rate limits need unit = \"mL/h\" (per site)",
        );
        self.limit_list(
            "administration.per_site_volume",
            &adm.per_site_volume,
            |u| u == Some("mL"),
            "per-site volume limits need unit = \"mL\" (per site)",
        );
        self.ambiguous("administration.per_site_rate", &adm.per_site_rate);
        self.ambiguous("administration.per_site_volume", &adm.per_site_volume);
        if let Some(v) = adm.final_volume_ml
            && !(v.is_finite() && v > 0.0)
        {
            self.push(
                "administration.final_volume_ml",
                "must be a positive number of mL",
            );
        }
        if let Some(s) = &adm.source {
            self.source("administration.source".to_string(), s);
        }
    }

    /// `[[titration]]`: rate unit, start/max/increment/interval, steps, references.
    fn titration(&mut self) {
        for (i, t) in self.entry.titration.iter().enumerate() {
            let path = format!("titration[{i}]");
            match DosePer::parse(&format!("1 {}", t.unit)) {
                Ok(d) if d.per_time.is_some() => {}
                _ => self.push(
                    format!("{path}.unit"),
                    "needs a rate unit such as 'mg/h', 'mL/h', 'mL/kg/h' or 'mg/kg/min'",
                ),
            }
            let ok = t.start_rate > 0.0
                && t.start_rate <= t.max_rate
                && t.increment >= 0.0
                && t.interval_min > 0.0;
            if !ok {
                self.push(
                    path.clone(),
                    "needs 0 < start_rate ≤ max_rate, increment ≥ 0 and interval_min > 0",
                );
            }
            self.titration_steps(&path, t);
            self.products(format!("{path}.products"), &t.products);
            self.rules(format!("{path}.rules"), &t.rules);
            self.infusion(format!("{path}.infusion"), &t.infusion);
            self.source(format!("{path}.source"), &t.source);
        }
    }

    /// The steps of one titration: each a rate or a dose fraction, fractions adding to 1.
    fn titration_steps(&mut self, path: &str, t: &Titration) {
        for (k, step) in t.steps.iter().enumerate() {
            let at = format!("{path}.steps[{k}]");
            let last = k + 1 == t.steps.len();
            let positive = |v: Option<f64>| v.is_some_and(|v| v.is_finite() && v > 0.0);
            match (step.rate, step.dose_fraction) {
                (Some(r), None) => {
                    if !positive(Some(r)) || r > t.max_rate {
                        self.push(format!("{at}.rate"), "must be above 0 and at most max_rate");
                    }
                    if step.minutes.is_none() && !last {
                        self.push(
                            format!("{at}.minutes"),
                            "only the last step may run until the bag is empty",
                        );
                    }
                }
                (None, Some(f)) => {
                    if !positive(Some(f)) || f > 1.0 {
                        self.push(
                            format!("{at}.dose_fraction"),
                            "must be above 0 and at most 1",
                        );
                    }
                    if step.minutes.is_none() {
                        self.push(format!("{at}.minutes"), "a dose fraction needs its minutes");
                    }
                }
                _ => self.push(at.clone(), "give either rate or dose_fraction"),
            }
            if step.minutes.is_some() && !positive(step.minutes) {
                self.push(
                    format!("{at}.minutes"),
                    "must be a positive number of minutes",
                );
            }
        }
        let fractions: f64 = t.steps.iter().filter_map(|s| s.dose_fraction).sum();
        if t.steps.iter().all(|s| s.dose_fraction.is_some())
            && !t.steps.is_empty()
            && (fractions - 1.0).abs() > 1e-9
        {
            self.push(
                format!("{path}.steps"),
                format!("dose fractions add up to {fractions}, not 1"),
            );
        }
    }

    /// `[[labs]]`: a known lab in a convertible unit, with a threshold or a maximum age.
    fn labs(&mut self) {
        for (i, lab) in self.entry.labs.iter().enumerate() {
            let path = format!("labs[{i}]");
            match lab_unit(&lab.lab) {
                None => self.push(
                    format!("{path}.lab"),
                    format!(
                        "unknown lab '{}'; one of {}",
                        lab.lab,
                        crate::check::LAB_NAMES
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                Some(canonical) => {
                    if crate::check::lab_value(&lab.lab, &format!("1 {}", lab.unit)).is_err() {
                        self.push(
                            format!("{path}.unit"),
                            format!("'{}' cannot be converted to {canonical}", lab.unit),
                        );
                    }
                }
            }
            if lab.hold_below.is_none() && lab.hold_above.is_none() && lab.max_age_h.is_none() {
                self.push(
                    path.clone(),
                    "a lab requirement needs hold_below, hold_above or max_age_h",
                );
            }
            if let (Some(a), Some(b)) = (lab.hold_below, lab.hold_above)
                && a >= b
            {
                self.push(format!("{path}.hold_above"), "must exceed hold_below");
            }
            self.source(format!("{path}.source"), &lab.source);
        }
    }

    /// `[[screening]]`: a known test and a source.
    fn screening(&mut self) {
        for (i, s) in self.entry.screening.iter().enumerate() {
            if !crate::check::SCREENING_TESTS.contains(&s.test.as_str()) {
                self.push(
                    format!("screening[{i}].test"),
                    format!("one of {}", crate::check::SCREENING_TESTS.join(", ")),
                );
            }
            self.source(format!("screening[{i}].source"), &s.source);
        }
    }

    /// `[cumulative]`: the lifetime ledger in mg/m2, its limits and reduced limits.
    fn cumulative(&mut self) {
        let Some(c) = &self.entry.cumulative else {
            return;
        };
        if c.unit != "mg/m2" {
            self.push("cumulative.unit", "the cumulative ledger is kept in mg/m2");
        }
        if c.equivalence_factor.is_nan() || c.equivalence_factor <= 0.0 {
            self.push("cumulative.equivalence_factor", "must be positive");
        }
        self.limits("cumulative.limits", &c.limits);
        if let Some(r) = &c.reduced {
            self.limits("cumulative.reduced", r);
            if r.conditions.is_empty() {
                self.push(
                    "cumulative.reduced.conditions",
                    "reduced limits apply to named conditions",
                );
            }
            if r.hard_max > c.limits.hard_max {
                self.push(
                    "cumulative.reduced.hard_max",
                    "reduced limits must not exceed the normal ones",
                );
            }
        }
        self.source("cumulative.source".to_string(), &c.source);
    }

    /// The typical-order notes (`[[premedication]]`, `[[monitoring]]`): each cites a source.
    fn typical_notes(&mut self) {
        let e = self.entry;
        for (name, notes) in [
            ("premedication", &e.premedication),
            ("monitoring", &e.monitoring),
        ] {
            for (i, n) in notes.iter().enumerate() {
                self.source(format!("{name}[{i}].source"), &n.source);
            }
        }
    }
}
