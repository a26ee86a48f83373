//! `infusio users add`: the first administrator of a fresh install without `--demo`. The
//! password comes from standard input or a file, is checked against the policy, and is never
//! printed.

use std::io::Write;
use std::process::{Command, Stdio};

fn add(dir: &std::path::Path, args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_infusio"))
        .args(["users", "add"])
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run infusio");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_first_administrator_is_created_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("infusio-users-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Refused: too short, the user name inside, a prescriber who is also a pharmacist.
    for (args, password) in [
        (&["siteadmin", "--role", "admin"][..], "tooshort1\n"),
        (
            &["siteadmin", "--role", "admin"][..],
            "siteadmin-forever-2026\n",
        ),
        (
            &["siteadmin", "--role", "prescriber", "--role", "pharmacist"][..],
            "violet kettle on tuesday\n",
        ),
    ] {
        let (code, text) = add(&dir, args, password);
        assert_eq!(code, 2, "{text}");
        assert!(
            !text.contains(password.trim()),
            "the password was printed: {text}"
        );
    }
    let (code, text) = add(
        &dir,
        &["siteadmin", "--role", "admin"],
        "violet kettle on tuesday\n",
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Created user siteadmin (admin)"), "{text}");
    assert!(!text.contains("violet"), "the password was printed: {text}");
    // The name is taken now.
    let (code, text) = add(
        &dir,
        &["siteadmin", "--role", "admin"],
        "another long secret here\n",
    );
    assert_eq!(code, 1, "{text}");
    // From a file.
    let file = dir.join("pw.txt");
    std::fs::write(&file, "amber lantern by the river\n").expect("write");
    let (code, text) = add(
        &dir,
        &[
            "nurse.one",
            "--role",
            "nurse",
            "--password-file",
            &file.to_string_lossy(),
        ],
        "",
    );
    assert_eq!(code, 0, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
