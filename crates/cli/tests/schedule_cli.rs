//! `infusio schedule`: the built binary driven through JSON, as scripts drive it.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use infusio_testkit::run::{code, run_in, stdout_json};

use serde_json::{Value, json};

/// Runs `infusio schedule <sub> --json [extra]` with `input` on standard input.
fn run(sub: &str, input: &Value, extra: &[&str]) -> (i32, Value) {
    let args: Vec<&str> = ["schedule", sub, "--json"]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    let out = run_in(
        env!("CARGO_BIN_EXE_infusio"),
        &args,
        &input.to_string(),
        Path::new("."),
    );
    (code(&out), stdout_json(&out))
}

/// The example shape: two places, two nurses, three appointments.
fn small() -> Value {
    json!({
        "day": {"open": "07:00", "close": "19:00"},
        "chairs": [{"id": "C1", "kind": "chair"}, {"id": "B1", "kind": "bed"}],
        "nurses": [
            {"id": "N1", "start": "07:00", "end": "15:30", "max_patients": 3},
            {"id": "N2", "start": "10:30", "end": "19:00", "max_patients": 4}
        ],
        "appointments": [
            {"id": "A1", "duration_minutes": 120, "setup_minutes": 15, "takedown_minutes": 10, "ready": "08:00", "needs": "any"},
            {"id": "A2", "duration_minutes": 240, "setup_minutes": 20, "takedown_minutes": 10, "ready": "08:02", "needs": "bed"},
            {"id": "A3", "duration_minutes": 30, "setup_minutes": 10, "takedown_minutes": 5, "ready": "09:00", "needs": "chair"}
        ],
        "seed": 1
    })
}

#[test]
fn solve_returns_the_contract_shape() {
    let (code, out) = run("solve", &small(), &[]);
    assert_eq!(code, 0, "{out}");
    let a = out["assignments"].as_array().unwrap();
    assert_eq!(a.len(), 3);
    for key in ["appointment", "chair", "nurse", "start", "end"] {
        assert!(a[0][key].is_string(), "{key} in {}", a[0]);
    }
    assert_eq!(out["unscheduled"], json!([]));
    // Worked by hand: before 10:30 only N1 is on duty. A1 (any) takes C1 at 08:00, set-up
    // 08:00–08:15; A2 (bed) cannot start its set-up before 08:15 with the same nurse: B1
    // 08:15–12:15, wait 13 (ready 08:02). A3 needs the only plain chair, C1, busy with A1
    // until 10:00: A3 10:00–10:30, wait 60 (A1 moved after A3 would wait 90 instead).
    // Total wait 73, no overtime; N1 monitors at most two patients at once.
    let o = &out["objective"];
    assert_eq!(o["unscheduled"], 0);
    assert_eq!(o["overtime_minutes"], 0);
    assert_eq!(o["wait_minutes"], 73, "{out}");
    assert_eq!(o["total"], 73);
    assert!(out["lower_bound"].as_u64().unwrap() <= 73);
    assert_eq!(out["metrics"]["nurse_peak_load"], 2);
    assert_eq!(out["metrics"]["last_end"], "12:15");
    assert!(out["steps"].as_array().is_some_and(|s| !s.is_empty()));
    assert!(out["sources"].as_array().is_some_and(|s| !s.is_empty()));
}

#[test]
fn generated_instances_solve_and_check_valid() {
    for (seed, chairs, nurses, appts) in [(1, 10, 3, 25), (2, 30, 8, 60)] {
        let (code, inst) = run(
            "generate",
            &json!({"n_chairs": chairs, "n_nurses": nurses, "n_appointments": appts, "seed": seed}),
            &[],
        );
        assert_eq!(code, 0);
        assert_eq!(inst["appointments"].as_array().unwrap().len(), appts);
        let mut input = inst.clone();
        input["iterations"] = json!(200);
        let (code, plan) = run("solve", &input, &[]);
        assert_eq!(code, 0, "{plan}");
        assert_eq!(plan["solver"]["stopped_by"], "iterations");
        let (code, verdict) = run("check", &json!({"instance": inst, "plan": plan}), &[]);
        assert_eq!(code, 0, "{verdict}");
        assert_eq!(verdict["valid"], true, "{verdict}");
        assert_eq!(verdict["violations"], json!([]));
        assert_eq!(verdict["objective"], plan["objective"]);
    }
}

#[test]
fn same_seed_same_plan() {
    let (_, inst) = run(
        "generate",
        &json!({"n_chairs": 20, "n_nurses": 5, "n_appointments": 40, "seed": 9}),
        &[],
    );
    let mut input = inst;
    input["iterations"] = json!(300);
    let (_, a) = run("solve", &input, &[]);
    let (_, b) = run("solve", &input, &[]);
    assert_eq!(a["assignments"], b["assignments"]);
    assert_eq!(a["objective"], b["objective"]);
}

#[test]
fn check_reports_violations_as_a_result() {
    let plan = json!({
        "assignments": [
            {"appointment": "A1", "chair": "C1", "nurse": "N1", "start": "07:55", "end": "09:55"},
            {"appointment": "A2", "chair": "C1", "nurse": "N1", "start": "08:00", "end": "12:00"},
            {"appointment": "A3", "chair": "B1", "nurse": "N2", "start": "09:03", "end": "09:33"}
        ],
        "unscheduled": [],
        "objective": {"total": 1}
    });
    let (code, out) = run("check", &json!({"instance": small(), "plan": plan}), &[]);
    assert_eq!(code, 0, "violations are a result, not refused input: {out}");
    assert_eq!(out["valid"], false);
    let found: Vec<(String, String)> = out["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["appointment"].as_str().unwrap_or("-").to_string(),
                v["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let has = |a: &str, c: &str| found.contains(&(a.to_string(), c.to_string()));
    assert!(has("A1", "start.before_ready"), "{found:?}");
    assert!(has("A2", "chair.kind"), "{found:?}");
    assert!(has("A1", "chair.overlap"), "{found:?}");
    assert!(has("A1", "nurse.busy"), "{found:?}");
    assert!(has("A3", "start.off_grid"), "{found:?}");
    assert!(has("A3", "chair.kind"), "{found:?}");
    assert!(has("A3", "nurse.shift"), "{found:?}");
    assert!(has("-", "plan.objective_mismatch"), "{found:?}");
}

fn refused(sub: &str, input: &Value) -> (String, String, String) {
    let (code, out) = run(sub, input, &[]);
    assert_eq!(code, 2, "{out}");
    let e = &out["error"];
    (
        e["field"].as_str().unwrap().to_string(),
        e["value"].as_str().unwrap().to_string(),
        e["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn bad_input_is_refused_naming_the_field() {
    let mut i = small();
    i["appointments"][2]["duration_minutes"] = json!(-5);
    let (field, value, message) = refused("solve", &i);
    assert_eq!(field, "appointments[2].duration_minutes");
    assert_eq!(value, "-5");
    assert!(message.contains("1 to 1,440"), "{message}");

    let mut i = small();
    i["appointments"][0]["durration_minutes"] = json!(5);
    assert_eq!(refused("solve", &i).0, "appointments[0].durration_minutes");

    let mut i = small();
    i["nurses"][1]["start"] = json!("25:00");
    assert_eq!(refused("solve", &i).0, "nurses[1].start");

    let mut i = small();
    i["nurses"][0]["end"] = json!("06:00");
    assert_eq!(refused("solve", &i).0, "nurses[0].end");

    let mut i = small();
    i["appointments"][1]["needs"] = json!("sofa");
    assert_eq!(refused("solve", &i).0, "appointments[1].needs");

    let mut i = small();
    i["appointments"][1]["setup_minutes"] = json!(235);
    let (field, _, message) = refused("solve", &i);
    assert_eq!(field, "appointments[1].setup_minutes");
    assert!(
        message.contains("must not exceed duration_minutes"),
        "{message}"
    );

    let mut i = small();
    i["appointments"][2]["id"] = json!("A1");
    assert_eq!(refused("solve", &i).0, "appointments[2].id");

    let mut i = small();
    i["chairs"][0]["kind"] = json!("stool");
    assert_eq!(refused("solve", &i).0, "chairs[0].kind");

    let mut i = small();
    i["time_limit"] = json!("10");
    assert_eq!(refused("solve", &i).0, "time_limit");
    i["time_limit"] = json!("10 kg");
    assert_eq!(refused("solve", &i).0, "time_limit");

    let mut i = small();
    i["day"]["close"] = json!("06:00");
    assert_eq!(refused("solve", &i).0, "day.close");

    let mut i = small();
    i["appointments"][0]["max_patients"] = json!(1.5);
    assert_eq!(refused("solve", &i).0, "appointments[0].max_patients");

    let mut i = small();
    i["nurses"][0]["max_patients"] = json!(1.5);
    assert_eq!(refused("solve", &i).0, "nurses[0].max_patients");

    let i = json!({"day": {"open": "07:00", "close": "19:00"}, "chairs": [], "nurses": []});
    assert_eq!(refused("solve", &i).0, "appointments");

    // check: a malformed plan is refused input; the instance path is prefixed.
    let bad_plan = json!({"instance": small(), "plan": {"assignments": [{"appointment": "A1", "chair": "C1", "nurse": "N1", "start": "8 am"}]}});
    assert_eq!(refused("check", &bad_plan).0, "plan.assignments[0].start");
    let mut inst = small();
    inst["appointments"][1]["ready"] = json!(480);
    assert_eq!(
        refused(
            "check",
            &json!({"instance": inst, "plan": {"assignments": []}})
        )
        .0,
        "instance.appointments[1].ready"
    );

    // generate
    assert_eq!(refused("generate", &json!({"n_chairs": 0})).0, "n_chairs");
    assert_eq!(refused("generate", &json!({"chairs": 10})).0, "chairs");
}

#[test]
fn plot_writes_an_svg_gantt_chart() {
    let dir = std::env::temp_dir().join(format!("infusio-sched-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("plan.svg");
    let (code, _) = run("solve", &small(), &["--plot", path.to_str().unwrap()]);
    assert_eq!(code, 0);
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg"));
    assert!(svg.trim_end().ends_with("</svg>"));
    for id in ["A1", "A2", "A3", "C1", "B1", "close"] {
        assert!(svg.contains(id), "{id} missing from the chart");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn readable_report_without_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_infusio"))
        .args(["schedule", "solve"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin
                .take()
                .unwrap()
                .write_all(small().to_string().as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("objective 73"), "{text}");
    assert!(text.contains("lower bound"), "{text}");
    // Not interactive: no progress on standard error.
    assert!(out.stderr.is_empty());
}

#[test]
fn replan_moves_few_and_stays_valid() {
    let (_, inst) = run(
        "generate",
        &json!({"n_chairs": 20, "n_nurses": 5, "n_appointments": 40, "seed": 5}),
        &[],
    );
    let mut input = inst.clone();
    input["iterations"] = json!(200);
    let (_, plan) = run("solve", &input, &[]);
    let first = plan["assignments"][0]["appointment"]
        .as_str()
        .unwrap()
        .to_string();
    let second = plan["assignments"][1]["appointment"]
        .as_str()
        .unwrap()
        .to_string();
    let changes = json!([
        {"cancel": second},
        {"add": {"id": "ADD-1", "duration_minutes": 45, "setup_minutes": 10, "takedown_minutes": 5, "ready": "12:00", "needs": "any"}}
    ]);
    let (code, out) = run(
        "replan",
        &json!({"instance": inst, "plan": plan, "changes": changes, "now": "11:00"}),
        &[],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out["moved"],
        json!([]),
        "a cancellation and an add-on with room need no move"
    );
    let ids: Vec<&str> = out["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["appointment"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"ADD-1"));
    assert!(!ids.contains(&second.as_str()));
    assert!(ids.contains(&first.as_str()));

    let bad = json!({"instance": inst, "plan": plan, "changes": [{"cancel": "A001", "delay": {"appointment": "A001", "ready": "09:00"}}]});
    assert_eq!(refused("replan", &bad).0, "changes[0]");
    let bad = json!({"instance": inst, "plan": plan, "changes": [{"cancel": "NOPE"}]});
    assert_eq!(refused("replan", &bad).0, "changes[0].cancel");
}

#[test]
fn a_time_limit_cuts_a_long_run_and_the_plan_stays_valid() {
    let (_, inst) = run(
        "generate",
        &json!({"n_chairs": 30, "n_nurses": 8, "n_appointments": 60, "seed": 3}),
        &[],
    );
    let mut input = inst.clone();
    input["iterations"] = json!(10_000_000);
    input["time_limit"] = json!("0.2 s");
    let (code, plan) = run("solve", &input, &[]);
    assert_eq!(code, 0, "{plan}");
    assert_eq!(plan["solver"]["stopped_by"], "time_limit");
    assert!(plan["solver"]["iterations_done"].as_u64().unwrap() < 10_000_000);
    let (_, verdict) = run("check", &json!({"instance": inst, "plan": plan}), &[]);
    assert_eq!(verdict["valid"], true, "{verdict}");
}

/// `solve` reports the time-indexed LP bound among its parts, a gap computed from the bound
/// it reports, and, when asked with `INFUSIO_PROGRESS=1`, a progress line on standard error
/// while standard output stays one JSON object.
#[test]
fn solve_reports_the_lp_bound_the_gap_and_progress_when_asked() {
    let (_, inst) = run(
        "generate",
        &json!({"n_chairs": 10, "n_nurses": 3, "n_appointments": 25, "seed": 4}),
        &[],
    );
    let mut input = inst.clone();
    input["time_limit"] = json!("1 s");
    let mut child = Command::new(env!("CARGO_BIN_EXE_infusio"))
        .args(["schedule", "solve", "--json"])
        .env("INFUSIO_PROGRESS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("solving ["), "{stderr}");
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let lb = plan["lower_bound"].as_u64().unwrap();
    let total = plan["objective"]["total"].as_u64().unwrap();
    assert!(lb <= total);
    let lp = plan["lower_bound_parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "time_indexed_lp")
        .unwrap_or_else(|| panic!("no LP part: {plan}"));
    assert!(lp["value"].as_u64().unwrap() <= lb);
    let gap = plan["gap_percent"].as_f64().unwrap();
    let expected = if total == 0 {
        0.0
    } else {
        (total - lb) as f64 / total as f64 * 100.0
    };
    assert!((gap - expected).abs() < 1e-9, "{gap} vs {expected}");
    let stopped_by = plan["solver"]["stopped_by"].as_str().unwrap();
    assert!(
        stopped_by == "time_limit" || (stopped_by == "optimal" && total == lb),
        "{stopped_by}: {total} vs {lb}"
    );
    let (_, verdict) = run("check", &json!({"instance": inst, "plan": plan}), &[]);
    assert_eq!(verdict["valid"], true, "{verdict}");
}
