//! `infusio audit keygen`, `audit head --sign`, and `audit verify` with rows and `--anchor`
//! (issue 19): the real binary on a real SQLite file.

use std::path::Path;
use std::process::Output;

use infusio_store::records::Patient;
use infusio_store::{Change, Store, Val};
use infusio_testkit::TempDir;
use infusio_testkit::run::{run_in, stderr, stdout, stdout_json};
use serde_json::json;

fn infusio(args: &[&str], cwd: &Path) -> Output {
    run_in(env!("CARGO_BIN_EXE_infusio"), args, "", cwd)
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Adds `n` patients through the store; returns the last one's id.
fn add_patients(dir: &Path, n: usize) -> String {
    block_on(async {
        let store = Store::open_data_dir(dir).await.expect("open");
        let mut last = String::new();
        for i in 0..n {
            let mut tx = store.begin().await.expect("begin");
            let p = tx
                .insert(
                    &Change::by("cli-test", "admin"),
                    Patient {
                        mrn: format!("MRN-ANCHOR-{}", infusio_store::new_id()),
                        family_name: "Anchor".into(),
                        given_name: format!("Test {i}"),
                        birth_date: "1980-05-01".into(),
                        sex: "male".into(),
                        identifiers_json: json!([]),
                    },
                )
                .await
                .expect("insert");
            tx.commit().await.expect("commit");
            last = p.id;
        }
        store.close().await;
        last
    })
}

/// Runs raw SQL on the data directory's database, as someone holding the file could.
fn raw(dir: &Path, statements: &[&str], args: &[Val]) {
    block_on(async {
        let store = Store::open_data_dir(dir).await.expect("open");
        let mut tx = store.begin().await.expect("begin");
        for s in statements {
            tx.raw_execute(s, args).await.expect("raw sql");
        }
        tx.commit().await.expect("commit");
        store.close().await;
    });
}

#[test]
fn a_signed_anchor_catches_a_cut_tail_and_verify_reports_an_edited_row() {
    let tmp = TempDir::new("audit-anchor-cli");
    let cwd = tmp.path();
    let o = infusio(&["db", "migrate"], cwd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let data = cwd.join("infusio-data");
    add_patients(&data, 6);

    // keygen: two files, never overwritten.
    let o = infusio(&["audit", "keygen", "--out", "anchor.key"], cwd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(cwd.join("anchor.key").exists() && cwd.join("anchor.key.pub").exists());
    let o = infusio(&["audit", "keygen", "--out", "anchor.key"], cwd);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));

    // head --sign writes the anchor; verify --anchor holds.
    let o = infusio(
        &[
            "audit",
            "head",
            "--sign",
            "anchor.key",
            "--out",
            "head.json",
        ],
        cwd,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let args = [
        "audit",
        "verify",
        "--json",
        "--anchor",
        "head.json",
        "--public-key",
        "anchor.key.pub",
    ];
    let o = infusio(&args, cwd);
    assert_eq!(o.status.code(), Some(0), "{} {}", stdout(&o), stderr(&o));
    let v = stdout_json(&o);
    assert_eq!(v["anchor"]["status"], "matches", "{v}");
    assert_eq!(v["rows"]["rows_bound"], 6, "{v}");

    // A patient's name changed in the database: the row check names it (exit 3).
    let last = add_patients(&data, 1);
    raw(
        &data,
        &["UPDATE patients SET family_name = 'Changed' WHERE id = $1"],
        &[Val::Text(Some(last.clone()))],
    );
    let o = infusio(&["audit", "verify"], cwd);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    let text = stdout(&o);
    assert!(text.contains("Audit chain intact"), "{text}");
    assert!(
        text.contains("ROWS CHANGED OUTSIDE THE APPLICATION: 1"),
        "{text}"
    );
    assert!(text.contains(&format!("patients {last}")), "{text}");

    // The tail cut off and the head row moved back: the chain verifies by itself, the anchor
    // does not.
    raw(
        &data,
        &[
            "DROP TRIGGER IF EXISTS audit_event_no_delete",
            "DELETE FROM audit_event WHERE seq >= 4",
            "UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_event WHERE seq = 3) WHERE id = 1",
        ],
        &[],
    );
    let o = infusio(&args, cwd);
    assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
    let v = stdout_json(&o);
    assert_eq!(v["broken"], json!(null), "{v}");
    assert_eq!(v["anchor"]["status"], "truncated", "{v}");
    assert_eq!(v["anchor"]["anchored_seq"], 6, "{v}");
    assert_eq!(v["anchor"]["chain_ends_at"], 3, "{v}");

    // An anchor edited by hand is refused (exit 1, the signature named).
    let text = std::fs::read_to_string(cwd.join("head.json")).expect("anchor");
    std::fs::write(
        cwd.join("edited.json"),
        text.replace("\"seq\": 6", "\"seq\": 3"),
    )
    .expect("write");
    let o = infusio(&["audit", "verify", "--anchor", "edited.json"], cwd);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("signature"), "{}", stderr(&o));
}
