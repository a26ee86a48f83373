//! Keeps the UI's HTML safe by construction: pages are written with `maud`'s `html!`, which
//! escapes every interpolated value. Raw markup enters a page only through `PreEscaped`,
//! and only in the vetted places listed here, each with its reason; markup is never built
//! as a string.

use std::path::{Path, PathBuf};

/// The files (relative to the crate) allowed to use `PreEscaped`, each with why its raw
/// markup is safe. None today: the inline SVG of the vancomycin plot is built by `html!`
/// like the rest of the page, and the doctype is maud's own constant.
const VETTED_PRE_ESCAPED: &[(&str, &str)] = &[];

/// What betrays markup built as a string: a tag opened inside a string literal that is
/// pushed or formatted.
const STRING_MARKUP: &[&str] = &[
    "push_str(\"<",
    "format!(\"<",
    "write!(out, \"<",
    "write!(b, \"<",
    "write!(s, \"<",
    "write!(h, \"<",
    "String::from(\"<",
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// Every line of `text` (a file at `rel`) that breaks the rules, as `file:line: what`.
fn problems(rel: &str, text: &str) -> Vec<String> {
    let vetted = VETTED_PRE_ESCAPED.iter().any(|(f, _)| *f == rel);
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        if code.contains("PreEscaped") && !vetted {
            found.push(format!(
                "{rel}:{}: PreEscaped outside the vetted list",
                n + 1
            ));
        }
        for pattern in STRING_MARKUP {
            if code.contains(pattern) {
                found.push(format!(
                    "{rel}:{}: markup built as a string ({pattern})",
                    n + 1
                ));
            }
        }
    }
    found
}

#[test]
fn raw_markup_only_in_vetted_places_and_never_built_as_a_string() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    assert!(
        files.len() > 10,
        "sources not found under {}",
        root.display()
    );
    let mut found = Vec::new();
    for path in &files {
        let rel = path
            .strip_prefix(root)
            .expect("inside the crate")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(path).expect("source");
        found.extend(problems(&rel, &text));
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
    for (file, reason) in VETTED_PRE_ESCAPED {
        assert!(
            root.join(file).is_file(),
            "vetted file {file} does not exist"
        );
        assert!(!reason.is_empty(), "vetted file {file} needs its reason");
    }
}

#[test]
fn the_check_finds_raw_markup_and_string_built_tags() {
    let bad = "fn f() -> Markup {\n    let x = maud::PreEscaped(user_text);\n    out.push_str(\"<b>\");\n    // PreEscaped in a comment is fine\n    x\n}\n";
    let found = problems("src/pages/example.rs", bad);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("src/pages/example.rs:2: PreEscaped"));
    assert!(found[1].starts_with("src/pages/example.rs:3: markup built as a string"));
    let good = "fn f(name: &str) -> Markup {\n    html! { p { (name) } }\n}\n";
    assert!(problems("src/pages/example.rs", good).is_empty());
}
