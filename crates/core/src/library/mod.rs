//! The drug library: one reviewed, cited TOML file per drug, parsed and validated here.
//!
//! This module performs no I/O: callers hand it `(file name, text)` pairs (the CLI embeds
//! the library in the binary or reads a directory). A library with any invalid file never
//! loads; every error names the file, the line and the field.
//!
//! Invariants enforced by [`validate`]:
//! - `hard_min ≤ soft_min < soft_max ≤ hard_max` for every limit block (absent bounds skipped);
//! - units parse and are consistent with the dosing basis (`per_kg` ⇒ `…/kg`, `per_m2` ⇒ `…/m2`);
//! - a high-alert drug requires an independent double check;
//! - every block holding a clinical number names a source declared in the file;
//! - ids are lowercase generic names with hyphens and match the file name.
//!
//! The format, in brief (see `data/library/*.toml` and [`model`] for every field):
//!
//! ```toml
//! id = "vincristine"                 # = file name
//! generic_name = "vincristine"
//! class = "oncology"                 # one of the eight therapy classes
//! version = 1
//! routes = ["iv"]
//! other_routes = "hard_stop"         # any other route: fatal for vinca alkaloids
//! [review]
//! status = "draft: pending pharmacist review"
//! date = "2026-11-26"
//! [flags]                            # high_alert ⇒ double_check
//! high_alert = true
//! double_check = true
//! source = "vincristine-pi"
//! [[sources]]                        # every number below names one of these
//! id = "vincristine-pi"
//! citation = "Vincristine sulfate injection US prescribing information, ..."
//! [[dosing]]                         # one rule per indication (age, care area)
//! id = "adult"
//! indication = "..."
//! basis = "per_m2"                   # per_kg | per_m2 | flat | per_auc
//! dose_unit = "mg/m2"                # must agree with the basis
//! usual = 1.4
//! per_dose = { hard_min = 0.3, soft_min = 0.75, soft_max = 1.65, hard_max = 2.2, source = "vincristine-pi" }
//! cap = { value = 2, unit = "mg", source = "vincristine-pi" }
//! source = "vincristine-pi"
//! [administration]                   # duration, concentration, dose_rate: lists of limit
//! concentration = [                  # blocks, optionally qualified by line, care_areas,
//!   { unit = "mg/mL", soft_max = 0.1, hard_max = 1, source = "vincristine-pi" },
//! ]                                  # conditions, products, infusion (first/subsequent)
//! [[typical_order]]                  # an `infusio check` input that must give `ok`
//! ```

pub mod model;
mod validate;

use std::collections::HashMap;

pub use model::*;
pub use validate::{ROUTES, invisible_char, validate_entry};

/// Why a library file was refused.
#[derive(Clone, Debug, PartialEq, serde::Serialize, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}", line = self.line.map(|l| l.to_string()).unwrap_or_else(|| "?".to_string()))]
pub struct LibraryError {
    pub file: String,
    /// 1-based line, when it could be located.
    pub line: Option<usize>,
    /// Dotted path of the field (`dosing[0].per_dose.soft_max`).
    pub field: String,
    pub message: String,
}

/// One entry of an indication pick list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Indication<'a> {
    /// The dosing rule's id, the value of `order.indication`.
    pub id: &'a str,
    /// What the rule covers, for people.
    pub label: &'a str,
}

/// A loaded, validated library.
#[derive(Clone, Debug, Default)]
pub struct Library {
    entries: Vec<DrugEntry>,
    index: HashMap<String, usize>,
}

impl Library {
    /// Parses and validates every file; any error refuses the whole library.
    pub fn load<'a>(
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Library, Vec<LibraryError>> {
        let mut lib = Library::default();
        let mut errors = Vec::new();
        for (name, text) in files {
            match parse_entry(name, text) {
                Ok(entry) => {
                    if lib.index.contains_key(&entry.id) {
                        errors.push(LibraryError {
                            file: name.to_string(),
                            line: Some(1),
                            field: "id".to_string(),
                            message: format!("duplicate id '{}'", entry.id),
                        });
                        continue;
                    }
                    lib.index.insert(entry.id.clone(), lib.entries.len());
                    lib.entries.push(entry);
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        if errors.is_empty() {
            Ok(lib)
        } else {
            Err(errors)
        }
    }

    /// The entry with this id.
    pub fn get(&self, id: &str) -> Option<&DrugEntry> {
        self.index.get(id).map(|&i| &self.entries[i])
    }

    /// All entries, in load order.
    pub fn entries(&self) -> &[DrugEntry] {
        &self.entries
    }

    /// The indications of a drug for a pick list: each dosing rule's id (the value of
    /// `order.indication`) and its label, in file order; `None` for an unknown id.
    pub fn indications(&self, id: &str) -> Option<Vec<Indication<'_>>> {
        self.get(id).map(|e| {
            e.dosing
                .iter()
                .map(|r| Indication {
                    id: &r.id,
                    label: &r.indication,
                })
                .collect()
        })
    }

    /// Finds an entry by id, generic name, brand or synonym (case-insensitive).
    pub fn find(&self, name: &str) -> Option<&DrugEntry> {
        if let Some(e) = self.get(name) {
            return Some(e);
        }
        let lower = name.to_lowercase();
        self.entries.iter().find(|e| {
            e.generic_name.to_lowercase() == lower
                || e.brands.iter().any(|b| b.to_lowercase() == lower)
                || e.synonyms.iter().any(|s| s.to_lowercase() == lower)
        })
    }
}

/// Parses one library file and validates it.
pub fn parse_entry(file: &str, text: &str) -> Result<DrugEntry, Vec<LibraryError>> {
    let entry: DrugEntry = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        let field = e
            .span()
            .map(|s| key_at(text, s.start))
            .unwrap_or_else(|| "(file)".to_string());
        vec![LibraryError {
            file: file.to_string(),
            line,
            field,
            message: e.message().trim().to_string(),
        }]
    })?;
    let problems = validate_entry(&entry, file);
    if problems.is_empty() {
        return Ok(entry);
    }
    let tree = toml::de::DeTable::parse(text).ok();
    Err(problems
        .into_iter()
        .map(|(field, message)| LibraryError {
            line: tree
                .as_ref()
                .and_then(|t| locate(t, &field))
                .map(|off| line_of(text, off)),
            file: file.to_string(),
            field,
            message,
        })
        .collect())
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The key written on the line of `offset` (`soft_max = 3` → `soft_max`), for parse errors.
pub(crate) fn key_at(text: &str, offset: usize) -> String {
    let start = text[..offset.min(text.len())]
        .rfind('\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let line = text[start..].lines().next().unwrap_or("");
    match line.split_once('=') {
        Some((k, _)) => k.trim().to_string(),
        None => line.trim().to_string(),
    }
}

/// Byte offset of a dotted path (`dosing[0].per_dose.soft_max`) in the parsed file; the
/// deepest existing ancestor when the field itself is absent (e.g. a missing `source`).
fn locate(tree: &toml::Spanned<toml::de::DeTable<'_>>, path: &str) -> Option<usize> {
    use toml::de::DeValue;
    let mut best = None;
    let mut table = Some(tree.get_ref());
    for segment in path.split('.') {
        let (key, indices) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        let Some(value) = table.and_then(|t| t.get(key)) else {
            return best;
        };
        best = Some(value.span().start);
        let mut v = value.get_ref();
        for idx in indices.split(['[', ']']).filter(|s| !s.is_empty()) {
            let Ok(i) = idx.parse::<usize>() else {
                return best;
            };
            match v {
                DeValue::Array(a) => match a.get(i) {
                    Some(item) => {
                        best = Some(item.span().start);
                        v = item.get_ref();
                    }
                    None => return best,
                },
                _ => return best,
            }
        }
        table = match v {
            DeValue::Table(t) => Some(t),
            _ => None,
        };
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_of_counts_newlines() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
    }

    #[test]
    fn key_at_reads_the_key_of_the_line() {
        assert_eq!(key_at("x = 1\nsoft_max = \"a\"\n", 8), "soft_max");
    }
}
