//! `infusio check` and `infusio library` through the real binary: exit codes, JSON shapes,
//! refusals and the built-in library (run from a directory without the data files).

use std::process::Output;

use serde_json::{Value, json};

fn infusio(args: &[&str], stdin: &str) -> Output {
    infusio_testkit::run::run(env!("CARGO_BIN_EXE_infusio"), args, stdin)
}

fn json_out(o: &Output) -> Value {
    infusio_testkit::run::stdout_json(o)
}

fn example() -> Value {
    infusio_testkit::json::check_contract_example()
}

#[test]
fn the_contract_example_is_ok_with_the_built_in_library() {
    let o = infusio(&["check", "--json"], &example().to_string());
    assert_eq!(o.status.code(), Some(0));
    let v = json_out(&o);
    assert_eq!(v["verdict"], "ok");
    assert!(v["findings"].is_array() && v["steps"].is_array());
    let step = &v["steps"][0];
    assert!(
        step["description"].is_string()
            && step["formula"].is_string()
            && step["result"]["unit"].is_string()
    );
}

#[test]
fn a_hard_stop_still_exits_0() {
    let mut e = example();
    e["order"]["dose"] = json!("3500 mg");
    let o = infusio(&["check", "--json"], &e.to_string());
    assert_eq!(o.status.code(), Some(0));
    let v = json_out(&o);
    assert_eq!(v["verdict"], "hard_stop");
    let codes: Vec<&str> = v["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert!(codes.contains(&"dose.above_hard_max"));
    assert!(
        v["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|f| f["severity"].is_string() && f["message"].is_string())
    );
}

#[test]
fn an_unknown_key_exits_2_with_the_error_object() {
    let mut e = example();
    e["order"]["weight_bassis"] = json!("ideal");
    let o = infusio(&["check", "--json"], &e.to_string());
    assert_eq!(o.status.code(), Some(2));
    let v = json_out(&o);
    assert_eq!(v["error"]["field"], "order.weight_bassis");
    assert_eq!(v["error"]["value"], "ideal");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown field"))
    );
}

#[test]
fn the_readable_report_names_the_verdict() {
    let o = infusio(&["check"], &example().to_string());
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("Verdict: OK"), "{text}");
    assert!(text.contains("Sources"));
}

#[test]
fn library_list_show_and_validate() {
    let o = infusio(&["library", "list", "--json"], "");
    assert_eq!(o.status.code(), Some(0));
    let v = json_out(&o);
    assert!(v["count"].as_u64().is_some_and(|n| n >= 10));
    let o = infusio(&["library", "show", "vincristine", "--json"], "");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_out(&o)["other_routes"], "hard_stop");
    let o = infusio(&["library", "show", "unobtainium", "--json"], "");
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(json_out(&o)["error"]["field"], "id");
    let o = infusio(&["library", "validate", "--json"], "");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_out(&o)["valid"], true);
}

#[test]
fn validate_and_check_refuse_a_broken_library_directory() {
    let dir = std::env::temp_dir().join(format!("infusio-broken-library-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let src = infusio_testkit::library_dir().join("infliximab.toml");
    let text = std::fs::read_to_string(src).expect("library file");
    let broken = text.replace(
        "soft_min = 2.7, soft_max = 11",
        "soft_min = 12, soft_max = 11",
    );
    std::fs::write(dir.join("infliximab.toml"), &broken).expect("written");
    let line = broken
        .lines()
        .position(|l| l.contains("per_dose = {"))
        .map(|i| i + 1)
        .unwrap_or(0);
    let d = dir.display().to_string();
    let o = infusio(&["library", "validate", &d, "--json"], "");
    assert_eq!(o.status.code(), Some(2));
    let v = json_out(&o);
    assert_eq!(v["valid"], false);
    let err = &v["errors"][0];
    assert_eq!(err["file"], "infliximab.toml");
    assert_eq!(err["line"], line);
    assert_eq!(err["field"], "dosing[0].per_dose.soft_max");
    let o = infusio(
        &["check", "--json", "--library", &d],
        &example().to_string(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(json_out(&o)["error"]["field"], "--library");
    // The valid file from the same directory works with --library.
    std::fs::write(dir.join("infliximab.toml"), &text).expect("written");
    let o = infusio(
        &["check", "--json", "--library", &d],
        &example().to_string(),
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json_out(&o)["verdict"], "ok");
    let _ = std::fs::remove_dir_all(&dir);
}
