//! Crash test: no acknowledged write is lost when the writer is SIGKILLed.
//!
//! The test re-runs its own binary as a child writer (selected by `INFUSIO_CRASH_CHILD_URL`)
//! that commits one patient row plus its audit event per transaction, in a loop, and prints
//! `ack SEQ HASH ID` on a whole line only after the commit returned. The parent kills the
//! child with SIGKILL at a random moment, `INFUSIO_CRASH_KILLS` times (default 5), restarting
//! it on the same database each time, then checks that every acknowledged write is present
//! with its event, that rows and events match one to one, and that the chain verifies.
//! It runs on SQLite, and on PostgreSQL too when `INFUSIO_TEST_PG_URL` is set.
//!
//! `harness = false`: this file has its own `main`, so the child can be the same executable.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use infusio_store::records::Patient;
use infusio_store::{Change, Kind, Store, Val, new_id, now_us};
use infusio_testkit::PgDatabase;

const CHILD_VAR: &str = "INFUSIO_CRASH_CHILD_URL";
const KILLS_VAR: &str = "INFUSIO_CRASH_KILLS";
const NAME: &str = "crash_sigkill_loses_no_acknowledged_write";

fn main() {
    if let Ok(url) = std::env::var(CHILD_VAR) {
        child(&url);
        return;
    }
    // Honour a test-name filter (`cargo test -p infusio-store some_other_test`).
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !filters.is_empty() && !filters.iter().any(|f| NAME.contains(f.as_str())) {
        println!("0 passed, 0 failed");
        return;
    }
    let kills: usize = std::env::var(KILLS_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let started = Instant::now();
    let dir = infusio_testkit::TempDir::new("crash");
    let sqlite_url = format!("sqlite://{}", Store::sqlite_path(dir.path()).display());
    let n = run("sqlite", &sqlite_url, kills);
    drop(dir);
    let mut passed = 1;
    println!("test {NAME}::sqlite ... ok ({kills} kills, {n} acknowledged writes, all present)");
    if let Some(db) = PgDatabase::create(NAME, "crash") {
        let n = run("postgres", &db.url, kills);
        db.drop();
        passed += 1;
        println!(
            "test {NAME}::postgres ... ok ({kills} kills, {n} acknowledged writes, all present)"
        );
    }
    println!("finished in {:.2}s", started.elapsed().as_secs_f64());
    // The plain closing line that test runners' summaries understand.
    println!("{passed} passed, 0 failed");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The child: write and acknowledge until killed (bounded, in case the parent is gone).
fn child(url: &str) {
    runtime().block_on(async {
        let store = Store::open(url).await.expect("child: open");
        store.migrate().await.expect("child: migrate");
        let mut out = std::io::stdout().lock();
        for i in 0..100_000u32 {
            let mut tx = store.begin().await.expect("child: begin");
            let p = tx
                .insert(
                    &Change::by("crash-writer", "system"),
                    Patient {
                        mrn: format!("CRASH-{}", new_id()),
                        family_name: "Crash".into(),
                        given_name: format!("Write {i}"),
                        birth_date: "1990-01-01".into(),
                        sex: "unknown".into(),
                        identifiers_json: serde_json::json!([]),
                    },
                )
                .await
                .expect("child: insert");
            let events = tx.commit().await.expect("child: commit");
            // Acknowledged only now that the commit returned.
            writeln!(out, "ack {} {} {}", events[0].seq, events[0].hash, p.id)
                .expect("child: stdout");
            out.flush().expect("child: flush");
        }
    });
}

struct Ack {
    seq: i64,
    hash: String,
    id: String,
}

/// xorshift64*: a tiny seeded generator for the kill moments (the seed is printed).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Kills a writer `kills` times on `url`; returns the number of acknowledged writes checked.
fn run(backend: &str, url: &str, kills: usize) -> usize {
    let seed = now_us().unsigned_abs() | 1;
    eprintln!("{NAME}::{backend}: seed {seed}");
    let mut rng = Rng(seed);
    let acks: Arc<Mutex<Vec<Ack>>> = Arc::default();
    let exe = std::env::current_exe().expect("own executable");
    for round in 0..kills {
        let mut child = Command::new(&exe)
            .env(CHILD_VAR, url)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the writer");
        let stdout = child.stdout.take().expect("piped stdout");
        let sink = Arc::clone(&acks);
        let before = sink.lock().expect("lock").len();
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            loop {
                line.clear();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    // A line cut by the kill (no newline) was never acknowledged.
                    Ok(_) if !line.ends_with('\n') => break,
                    Ok(_) => {
                        let parts: Vec<&str> = line.split_whitespace().collect();
                        if let ["ack", seq, hash, id] = parts[..] {
                            sink.lock().expect("lock").push(Ack {
                                seq: seq.parse().expect("sequence number"),
                                hash: hash.to_string(),
                                id: id.to_string(),
                            });
                        }
                    }
                }
            }
        });
        // Let the writer get going (at least one acknowledged write), then kill it at a
        // random moment 0–150 ms later: mid-transaction, mid-commit or mid-print.
        let deadline = Instant::now() + Duration::from_secs(60);
        while acks.lock().expect("lock").len() == before {
            assert!(
                Instant::now() < deadline,
                "round {round}: the writer acknowledged nothing in 60 s"
            );
            if let Ok(Some(status)) = child.try_wait() {
                panic!("round {round}: the writer exited early: {status}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(rng.below(150)));
        child.kill().expect("SIGKILL the writer");
        child.wait().expect("reap the writer");
        reader.join().expect("reader thread");
    }
    let acks = acks.lock().expect("lock");
    runtime().block_on(async {
        let store = Store::open(url).await.expect("reopen after the last kill");
        let report = store.verify_audit().await.expect("verify");
        assert!(
            report.intact(),
            "{backend}: chain broken after kills: {report:?}"
        );
        let mut tx = store.begin_snapshot().await.expect("snapshot");
        for a in acks.iter() {
            let rows = tx
                .raw_fetch(
                    "SELECT hash, entity_id FROM audit_event WHERE seq = $1",
                    &[Val::Int(Some(a.seq))],
                    &[Kind::Text, Kind::Text],
                )
                .await
                .expect("read event");
            assert_eq!(
                rows,
                vec![vec![
                    Val::Text(Some(a.hash.clone())),
                    Val::Text(Some(a.id.clone()))
                ]],
                "{backend}: acknowledged event {} lost or changed",
                a.seq
            );
            assert!(
                tx.get::<Patient>(&a.id).await.expect("read row").is_some(),
                "{backend}: acknowledged row {} lost",
                a.id
            );
        }
        // Rows and events match one to one: no row without its event, no event without its row.
        let patients = tx.list::<Patient>().await.expect("list").len();
        assert_eq!(
            i64::try_from(patients).expect("count"),
            report.head.seq,
            "{backend}: every committed row has exactly one event"
        );
        let max_ack = acks.iter().map(|a| a.seq).max().unwrap_or(0);
        assert!(report.head.seq >= max_ack);
        tx.rollback().await.expect("rollback");
        store.close().await;
    });
    acks.len()
}
