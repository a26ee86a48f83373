//! `infusio users deactivate|reset-password|roles|revoke-sessions`: the operator changes an
//! account; each change ends the user's sessions, a deactivated user cannot sign in, and a
//! password is never printed.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use infusio_app::auth::SessionKind;
use infusio_app::{App, AppConfig, AppError};

fn users(dir: &Path, args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_infusio"))
        .arg("users")
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

/// An application over the data directory, as the server would open it.
async fn app(dir: &Path) -> App {
    let store = infusio_store::Store::open_data_dir(dir)
        .await
        .expect("open");
    let library = infusio_app::library::builtin().expect("library");
    App::open(store, library, AppConfig::default())
        .await
        .expect("app")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_resets_changes_roles_revokes_and_deactivates() {
    let dir = std::env::temp_dir().join(format!("infusio-accounts-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let first = "amber lantern by the river";
    let (code, text) = users(&dir, &["add", "nurse.one", "--role", "nurse"], first);
    assert_eq!(code, 0, "{text}");

    // A session to be ended by each change.
    let a = app(&dir).await;
    let s = a
        .sign_in("nurse.one", first, SessionKind::Bearer)
        .await
        .expect("sign in");
    a.store().close().await;

    // Reset: a weak password is refused (exit 2) and not printed; a good one ends the session.
    let (code, text) = users(&dir, &["reset-password", "nurse.one"], "password\n");
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("password"), "{text}");
    let second = "quiet harbour after the storm";
    let (code, text) = users(&dir, &["reset-password", "nurse.one"], second);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("1 session(s) ended"), "{text}");
    assert!(
        !text.contains("harbour"),
        "the password was printed: {text}"
    );
    let a = app(&dir).await;
    assert!(matches!(
        a.session(&s.token).await,
        Err(AppError::Unauthenticated)
    ));
    assert!(matches!(
        a.sign_in("nurse.one", first, SessionKind::Bearer).await,
        Err(AppError::BadCredentials)
    ));
    let s = a
        .sign_in("nurse.one", second, SessionKind::Bearer)
        .await
        .expect("sign in with the new password");
    a.store().close().await;

    // Roles: separation of duties holds; a valid set replaces the roles and ends sessions.
    let (code, text) = users(
        &dir,
        &[
            "roles",
            "nurse.one",
            "--role",
            "prescriber",
            "--role",
            "pharmacist",
        ],
        "",
    );
    assert_eq!(code, 2, "{text}");
    let (code, text) = users(
        &dir,
        &[
            "roles",
            "nurse.one",
            "--role",
            "nurse",
            "--role",
            "scheduler",
        ],
        "",
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("(nurse, scheduler)"), "{text}");
    let a = app(&dir).await;
    assert!(a.session(&s.token).await.is_err(), "the session survived");
    let s = a
        .sign_in("nurse.one", second, SessionKind::Bearer)
        .await
        .expect("sign in");
    let session = a.session(&s.token).await.expect("session");
    assert_eq!(session.actor.roles.len(), 2);
    a.store().close().await;

    // Revoke: the user may sign in again afterwards.
    let (code, text) = users(&dir, &["revoke-sessions", "nurse.one"], "");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("1 session(s) ended"), "{text}");
    let a = app(&dir).await;
    assert!(a.session(&s.token).await.is_err(), "the session survived");
    let s = a
        .sign_in("nurse.one", second, SessionKind::Bearer)
        .await
        .expect("sign in");
    a.store().close().await;

    // Deactivate: the session ends and the right password no longer signs in.
    let (code, text) = users(&dir, &["deactivate", "nurse.one"], "");
    assert_eq!(code, 0, "{text}");
    let a = app(&dir).await;
    assert!(a.session(&s.token).await.is_err(), "the session survived");
    assert!(matches!(
        a.sign_in("nurse.one", second, SessionKind::Bearer).await,
        Err(AppError::BadCredentials)
    ));
    a.store().close().await;

    // No such user.
    let (code, text) = users(&dir, &["deactivate", "nobody"], "");
    assert_eq!(code, 1, "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
