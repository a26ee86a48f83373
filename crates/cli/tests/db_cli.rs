//! `infusio db` and `infusio audit` end to end: the real binary on a real SQLite file and, when
//! `INFUSIO_TEST_PG_URL` is set (scripts/test.sh sets it), on a real PostgreSQL database.

use std::path::Path;
use std::process::Output;

use infusio_store::records::Patient;
use infusio_store::{Change, Store, new_id};
use infusio_testkit::run::{run_in, stderr, stdout, stdout_json};
use infusio_testkit::{PgDatabase, TempDir};
use serde_json::{Value, json};

fn infusio(args: &[&str], cwd: &Path) -> Output {
    run_in(env!("CARGO_BIN_EXE_infusio"), args, "", cwd)
}

fn json_of(o: &Output) -> Value {
    stdout_json(o)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Writes `n` patients (one audit event each) through the store API.
fn add_patients(url: &str, n: usize) {
    runtime().block_on(async {
        let store = Store::open(url).await.expect("open");
        for i in 0..n {
            let mut tx = store.begin().await.expect("begin");
            tx.insert(
                &Change::by("cli-test", "admin"),
                Patient {
                    mrn: format!("MRN-{}", new_id()),
                    family_name: "Cli".into(),
                    given_name: format!("Test {i}"),
                    birth_date: "1980-05-01".into(),
                    sex: "male".into(),
                    identifiers_json: json!([]),
                },
            )
            .await
            .expect("insert");
            tx.commit().await.expect("commit");
        }
        store.close().await;
    });
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", Store::sqlite_path(dir).display())
}

#[test]
fn sqlite_migrate_verify_head_backup_restore_and_tamper() {
    let tmp = TempDir::new("db-cli");
    let cwd = tmp.path();

    // Before anything exists: a clear failure, and no database is created by a read.
    let o = infusio(&["audit", "verify"], cwd);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("infusio db migrate"), "{}", stderr(&o));
    assert!(!cwd.join("infusio-data").exists());

    // migrate creates ./infusio-data/infusio.sqlite3 and is idempotent.
    for _ in 0..2 {
        let o = infusio(&["db", "migrate"], cwd);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let expected = format!("schema version {}", Store::latest_schema_version());
        assert!(stdout(&o).contains(&expected), "{}", stdout(&o));
    }
    let data = cwd.join("infusio-data");
    assert!(Store::sqlite_path(&data).exists());

    add_patients(&sqlite_url(&data), 7);
    let head = json_of(&infusio(&["audit", "head", "--json"], cwd));
    assert_eq!(head["seq"], 7);
    assert_eq!(head["hash"].as_str().map(str::len), Some(64));
    let text = stdout(&infusio(&["audit", "head"], cwd));
    assert_eq!(
        text,
        format!("seq 7\nsha256 {}\n", head["hash"].as_str().unwrap_or(""))
    );

    let o = infusio(&["audit", "verify", "--json"], cwd);
    assert_eq!(o.status.code(), Some(0));
    let v = json_of(&o);
    assert_eq!(
        (v["intact"].clone(), v["events_verified"].clone()),
        (json!(true), json!(7))
    );

    // Backup, refuse to overwrite, restore into a new directory: the same head.
    let o = infusio(&["db", "backup", "snap.sqlite"], cwd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains(head["hash"].as_str().unwrap_or("?")));
    let o = infusio(&["db", "backup", "snap.sqlite"], cwd);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    let o = infusio(
        &["db", "restore", "snap.sqlite", "--data-dir", "restored"],
        cwd,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let restored = json_of(&infusio(
        &["audit", "head", "--json", "--data-dir", "restored"],
        cwd,
    ));
    assert_eq!(restored, head);
    // Restoring over a record that holds data is refused.
    let o = infusio(
        &["db", "restore", "snap.sqlite", "--data-dir", "restored"],
        cwd,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("empty database"), "{}", stderr(&o));

    // Tamper with event 3 of the original behind the store's back: verify exits 3 and names it.
    runtime().block_on(async {
        let store = Store::open(&sqlite_url(&data)).await.expect("open");
        let mut tx = store.begin().await.expect("begin");
        tx.raw_execute("DROP TRIGGER audit_event_no_update", &[])
            .await
            .expect("drop trigger");
        tx.raw_execute(
            "UPDATE audit_event SET actor = 'mallory' WHERE seq = 3",
            &[],
        )
        .await
        .expect("tamper");
        tx.commit().await.expect("commit");
        store.close().await;
    });
    let o = infusio(&["audit", "verify", "--json"], cwd);
    assert_eq!(o.status.code(), Some(3));
    let v = json_of(&o);
    assert_eq!(v["intact"], false);
    assert_eq!(v["broken"]["seq"], 3);
    assert_eq!(v["broken"]["kind"], "hash_mismatch");
    let o = infusio(&["audit", "verify"], cwd);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stdout(&o).contains("AUDIT CHAIN BROKEN at event 3 (hash_mismatch)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn bad_command_lines_are_refused() {
    let tmp = TempDir::new("db-cli");
    for args in [
        &["db", "backup"][..],
        &["db", "restore"],
        &["db", "frobnicate"],
        &["db", "migrate", "extra-file"],
        &["audit", "rewrite"],
    ] {
        let o = infusio(args, tmp.path());
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).starts_with("error: "),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    let o = infusio(
        &["db", "migrate", "--database-url", "mysql://x"],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not understood"), "{}", stderr(&o));
}

#[test]
fn postgres_migrate_backup_and_restore_into_sqlite() {
    let Some(db) = PgDatabase::create("postgres_migrate_backup_and_restore_into_sqlite", "cli")
    else {
        return;
    };
    let url = db.url.clone();
    let tmp = TempDir::new("db-cli");
    let cwd = tmp.path();
    let o = infusio(&["db", "migrate", "--database-url", &url], cwd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    add_patients(&url, 5);
    let head = json_of(&infusio(
        &["audit", "head", "--json", "--database-url", &url],
        cwd,
    ));
    assert_eq!(head["seq"], 5);
    let o = infusio(&["db", "backup", "pg.json", "--database-url", &url], cwd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let dump: Value =
        serde_json::from_slice(&std::fs::read(cwd.join("pg.json")).expect("backup file"))
            .expect("JSON");
    assert_eq!(dump["format"], "infusio-backup");
    assert_eq!(dump["audit_head"], head);
    let o = infusio(&["db", "restore", "pg.json", "--data-dir", "from-pg"], cwd);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let restored = json_of(&infusio(
        &["audit", "head", "--json", "--data-dir", "from-pg"],
        cwd,
    ));
    assert_eq!(restored, head);
    let o = infusio(&["audit", "verify", "--data-dir", "from-pg"], cwd);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    db.drop();
}
