//! `infusio library list | show <id> | validate [PATH]`.

use std::fmt::Write;
use std::path::Path;
use std::process::ExitCode;

use infusio_core::library::{DrugEntry, Library, LibraryError};
use serde_json::json;

use infusio_app::library::FILES as LIBRARY_FILES;

/// The library built into the binary.
pub fn embedded() -> Result<Library, String> {
    Library::load(LIBRARY_FILES.iter().copied()).map_err(|errors| join(&errors))
}

fn join(errors: &[LibraryError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reads `*.toml` from a directory (or one file).
fn read_files(path: &Path) -> Result<Vec<(String, String)>, String> {
    let mut files = Vec::new();
    if path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        files.push((
            path.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string(),
            text,
        ));
        return Ok(files);
    }
    let rd = std::fs::read_dir(path)
        .map_err(|e| format!("cannot read the directory {}: {e}", path.display()))?;
    for entry in rd {
        let p = entry.map_err(|e| e.to_string())?.path();
        if p.extension().is_some_and(|x| x == "toml") {
            let text = std::fs::read_to_string(&p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?;
            files.push((
                p.file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default()
                    .to_string(),
                text,
            ));
        }
    }
    if files.is_empty() {
        return Err(format!("no .toml library files in {}", path.display()));
    }
    files.sort();
    Ok(files)
}

/// Loads a library directory given with `--library`.
pub fn load_dir(path: &Path) -> Result<Library, String> {
    let files = read_files(path)?;
    Library::load(files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        .map_err(|e| format!("the library does not validate: {}", join(&e)))
}

fn refuse(json_out: bool, field: &str, value: &str, message: &str) -> ExitCode {
    if json_out {
        println!(
            "{}",
            json!({"error": {"field": field, "value": value, "message": message}})
        );
    } else {
        eprintln!("error: {field}: {message}");
        if !value.is_empty() {
            eprintln!("  given: {value}");
        }
    }
    ExitCode::from(2)
}

pub fn run(sub: &str, arg: Option<&str>, json_out: bool) -> ExitCode {
    match sub {
        "list" => match embedded() {
            Ok(lib) => list(&lib, json_out),
            Err(e) => internal(&e),
        },
        "show" => {
            let Some(id) = arg else {
                return refuse(
                    json_out,
                    "id",
                    "",
                    "required: a drug id, e.g. `infusio library show infliximab`",
                );
            };
            match embedded() {
                Ok(lib) => match lib.find(id) {
                    Some(e) => show(e, json_out),
                    None => refuse(
                        json_out,
                        "id",
                        id,
                        "not in the drug library; see `infusio library list`",
                    ),
                },
                Err(e) => internal(&e),
            }
        }
        "validate" => validate(arg, json_out),
        other => refuse(
            json_out,
            "sub",
            other,
            "expected list, show <id> or validate [PATH]",
        ),
    }
}

fn internal(message: &str) -> ExitCode {
    eprintln!("internal error: the built-in drug library does not load: {message}");
    ExitCode::from(1)
}

fn flags(e: &DrugEntry) -> String {
    let f = &e.flags;
    let mut v = Vec::new();
    if f.high_alert {
        v.push("high-alert");
    }
    if f.hazardous {
        v.push("hazardous");
    }
    if f.vesicant {
        v.push("vesicant");
    }
    if f.rems {
        v.push("REMS");
    }
    v.join(", ")
}

fn list(lib: &Library, json_out: bool) -> ExitCode {
    if json_out {
        let items: Vec<_> = lib
            .entries()
            .iter()
            .map(|e| json!({"id": e.id, "generic_name": e.generic_name, "class": e.class.as_str(), "brands": e.brands, "version": e.version, "high_alert": e.flags.high_alert}))
            .collect();
        println!("{}", json!({"count": items.len(), "entries": items}));
    } else {
        println!("{:<26} {:<18} {:<28} brands", "id", "class", "flags");
        for e in lib.entries() {
            println!(
                "{:<26} {:<18} {:<28} {}",
                e.id,
                e.class.as_str(),
                flags(e),
                e.brands.join(", ")
            );
        }
        println!("\n{} drugs", lib.entries().len());
    }
    ExitCode::SUCCESS
}

fn show(e: &DrugEntry, json_out: bool) -> ExitCode {
    if json_out {
        match serde_json::to_value(e) {
            Ok(v) => println!("{v}"),
            Err(err) => return internal(&err.to_string()),
        }
        return ExitCode::SUCCESS;
    }
    let mut out = String::new();
    show_header(&mut out, e);
    show_dosing(&mut out, e);
    show_administration(&mut out, e);
    show_sources(&mut out, e);
    print!("{out}");
    ExitCode::SUCCESS
}

/// Name, class, version, review status, brands, flags and routes.
fn show_header(out: &mut String, e: &DrugEntry) {
    let _ = writeln!(
        out,
        "{} ({}), {} — library v{}, {}",
        e.generic_name,
        e.id,
        e.class.as_str(),
        e.version,
        e.review.status
    );
    if !e.brands.is_empty() {
        let _ = writeln!(out, "Brands: {}", e.brands.join(", "));
    }
    let fl = flags(e);
    if !fl.is_empty() {
        let _ = writeln!(
            out,
            "Flags: {fl}{}",
            if e.flags.double_check {
                "; independent double check required"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        out,
        "Routes: {} (any other route: {})",
        e.routes.join(", "),
        e.other_routes.severity().as_str()
    );
}

/// One limit block on one line: hard and soft bounds in `unit`, qualifiers, source.
fn limits_line(l: &infusio_core::library::Limits, unit: &str) -> String {
    let f = |v: Option<f64>| {
        v.map(|x| infusio_core::units::format_number(x, 3))
            .unwrap_or_else(|| "–".to_string())
    };
    let mut q = Vec::new();
    if let Some(x) = &l.line {
        q.push(format!("{x} line"));
    }
    if !l.care_areas.is_empty() {
        q.push(l.care_areas.join("/"));
    }
    if !l.conditions.is_empty() {
        q.push(format!("if {}", l.conditions.join(" or ")));
    }
    if !l.products.is_empty() {
        q.push(l.products.join("/"));
    }
    format!(
        "hard {}–{}, soft {}–{} {unit}{} [{}]",
        f(l.hard_min),
        f(l.hard_max),
        f(l.soft_min),
        f(l.soft_max),
        if q.is_empty() {
            String::new()
        } else {
            format!(" ({})", q.join(", "))
        },
        l.source
    )
}

/// Each dosing rule with its limits, cap and renal bands.
fn show_dosing(out: &mut String, e: &DrugEntry) {
    let _ = writeln!(out, "\nDosing");
    for r in &e.dosing {
        let _ = writeln!(out, "  {}: {}", r.id, r.indication);
        if let Some(u) = r.usual {
            let _ = writeln!(
                out,
                "    usual {} {} [{}]",
                infusio_core::units::format_number(u, 3),
                r.dose_unit,
                r.source
            );
        }
        if let Some(l) = &r.per_dose {
            let _ = writeln!(out, "    per dose: {}", limits_line(l, &r.dose_unit));
        }
        if let Some(l) = &r.per_dose_absolute {
            let _ = writeln!(
                out,
                "    per dose (absolute): {}",
                limits_line(l, l.unit.as_deref().unwrap_or(""))
            );
        }
        if let Some(l) = &r.per_day {
            let _ = writeln!(
                out,
                "    per day: {}",
                limits_line(l, &format!("{}/day", r.dose_unit))
            );
        }
        if let Some(c) = &r.cap {
            let _ = writeln!(out, "    cap: {} {} [{}]", c.value, c.unit, c.source);
        }
        for b in &r.renal {
            let _ = writeln!(
                out,
                "    renal CrCl {:?}–{:?} mL/min: {} [{}]",
                b.crcl_min_ml_per_min, b.crcl_max_ml_per_min, b.message, b.source
            );
        }
    }
}

/// Administration limits, titration schedules, labs, screening and the cumulative ledger.
fn show_administration(out: &mut String, e: &DrugEntry) {
    let a = &e.administration;
    let _ = writeln!(out, "\nAdministration");
    for (what, blocks) in [
        ("duration", &a.duration),
        ("concentration", &a.concentration),
        ("rate", &a.dose_rate),
    ] {
        for l in blocks {
            let _ = writeln!(
                out,
                "  {what}: {}",
                limits_line(l, l.unit.as_deref().unwrap_or(""))
            );
        }
    }
    for t in &e.titration {
        let _ = writeln!(
            out,
            "  titration {}: {} [{}]",
            t.id, t.description, t.source
        );
    }
    for l in &e.labs {
        let _ = writeln!(
            out,
            "  lab {}: hold below {:?} / above {:?} {}, max age {:?} h [{}]",
            l.lab, l.hold_below, l.hold_above, l.unit, l.max_age_h, l.source
        );
    }
    for s in &e.screening {
        let _ = writeln!(out, "  screening {}: {} [{}]", s.test, s.message, s.source);
    }
    if let Some(c) = &e.cumulative {
        let _ = writeln!(
            out,
            "  cumulative ({}): {}",
            c.group,
            limits_line(&c.limits, &c.unit)
        );
        if let Some(r) = &c.reduced {
            let _ = writeln!(out, "    reduced: {}", limits_line(r, &c.unit));
        }
    }
}

/// The entry's sources.
fn show_sources(out: &mut String, e: &DrugEntry) {
    let _ = writeln!(out, "\nSources");
    for s in &e.sources {
        let _ = writeln!(out, "  [{}] {}", s.id, s.citation);
    }
}

fn validate(path: Option<&str>, json_out: bool) -> ExitCode {
    let files: Vec<(String, String)> = match path {
        None => LIBRARY_FILES
            .iter()
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .collect(),
        Some(p) => match read_files(Path::new(p)) {
            Ok(f) => f,
            Err(message) => return refuse(json_out, "path", p, &message),
        },
    };
    match Library::load(files.iter().map(|(n, t)| (n.as_str(), t.as_str()))) {
        Ok(lib) => {
            if json_out {
                println!(
                    "{}",
                    json!({"valid": true, "files": files.len(), "entries": lib.entries().len()})
                );
            } else {
                println!(
                    "valid: {} files, {} drugs",
                    files.len(),
                    lib.entries().len()
                );
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            if json_out {
                println!("{}", json!({"valid": false, "errors": errors}));
            } else {
                for e in &errors {
                    eprintln!("{e}");
                }
                eprintln!(
                    "invalid: {} error(s); the library does not load",
                    errors.len()
                );
            }
            ExitCode::from(2)
        }
    }
}
