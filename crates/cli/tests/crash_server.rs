//! Server crash test: the real `infusio serve` is SIGKILLed while clients stream writes over
//! HTTP; after each restart every acknowledged write must be there and the audit chain intact.
//!
//! Three writer threads repeat, each with a bearer token: create a patient, record a weight and
//! a height, create an infliximab order (dose from the engine, full checks), sign it. A write
//! is *acknowledged* when its 2xx answer has been read; its id (and, for a signature, the
//! order's signed state) is recorded then. The main thread kills the server with SIGKILL at
//! seeded random moments, `INFUSIO_SERVER_CRASH_KILLS` times (default 20), restarting it on the
//! same record each time. At the end the server is started once more and every acknowledged
//! write is read back through the API; `GET /api/audit/verify` and `infusio audit verify` must
//! both report an intact chain.
//!
//! Runs on a fresh SQLite data directory and, when `INFUSIO_TEST_PG_URL` is set, on a fresh
//! PostgreSQL database. `INFUSIO_CRASH_SEED` fixes the kill moments (default 5). When
//! `INFUSIO_CRASH_REPORT` names a file, one JSON line per backend is appended to it
//! (`scripts/crash-soak.sh` uses this).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use infusio_store::new_id;
use infusio_testkit::{PgDatabase, TempDir};
use serde_json::{Value, json};

const KILLS_VAR: &str = "INFUSIO_SERVER_CRASH_KILLS";
const SEED_VAR: &str = "INFUSIO_CRASH_SEED";
const REPORT_VAR: &str = "INFUSIO_CRASH_REPORT";
const WRITERS: usize = 3;
const DEMO_PASSWORD: &str = "infusio-demo";

/// Writes a line to the process's stderr directly (libtest hides `eprintln!` of passing tests).
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// splitmix64: a tiny seeded generator, so a seed gives the same kill moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi` (milliseconds).
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// Where the record lives, as `infusio` arguments.
#[derive(Clone)]
enum Record {
    DataDir(PathBuf),
    Url(String),
}

impl Record {
    fn args(&self) -> Vec<String> {
        match self {
            Record::DataDir(d) => vec!["--data-dir".into(), d.display().to_string()],
            Record::Url(u) => vec!["--database-url".into(), u.clone()],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client: one request per connection, `Connection: close`.

#[derive(Debug)]
struct Reply {
    status: u16,
    etag: String,
    body: Value,
}

fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        payload.len()
    );
    if body.is_some() {
        req.push_str("Content-Type: application/json\r\n");
    }
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&payload);
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers (connection cut)"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("bad status line"))?;
    let mut etag = String::new();
    let mut length: Option<usize> = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            let k = k.trim().to_ascii_lowercase();
            if k == "etag" {
                etag = v.trim().to_string();
            } else if k == "content-length" {
                length = v.trim().parse().ok();
            }
        }
    }
    let body_bytes = &raw[split + 4..];
    if let Some(n) = length
        && body_bytes.len() < n
    {
        return Err(bad("body cut short"));
    }
    let body = if body_bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(body_bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body_bytes).into_owned()))
    };
    Ok(Reply { status, etag, body })
}

// ---------------------------------------------------------------------------------------------
// The server process.

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

struct Server {
    child: Child,
    addr: SocketAddr,
}

fn start_server(record: &Record, demo: bool, log: &Path) -> Server {
    for _attempt in 0..5 {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("address");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("server log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_infusio"));
        cmd.arg("serve").arg("--listen").arg(addr.to_string());
        if demo {
            cmd.arg("--demo");
        }
        cmd.args(record.args())
            .env_remove("INFUSIO_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file);
        let mut child = cmd.spawn().expect("start infusio serve");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                // Most likely the port was taken between probing and binding: try another.
                say(&format!("infusio serve exited early ({status}); retrying"));
                break;
            }
            if let Ok(r) = http(addr, "GET", "/healthz", None, &[], None)
                && r.status == 200
            {
                return Server { child, addr };
            }
            assert!(
                Instant::now() < deadline,
                "the server did not answer /healthz within 120 s; see {}",
                log.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("infusio serve would not start; see {}", log.display());
}

impl Server {
    /// SIGKILL (what `Child::kill` sends on Unix): no shutdown code runs.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// The writers.

/// One acknowledged write.
#[derive(Debug, Clone)]
enum Ack {
    Patient(String),
    Measurement { patient: String, id: String },
    Order(String),
    Signed(String),
}

struct Shared {
    /// The address of the running server; `None` while it is down.
    addr: Mutex<Option<SocketAddr>>,
    stop: AtomicBool,
    acks: Mutex<Vec<Ack>>,
    /// Answers that were neither a success nor a cut connection: each is a failure.
    unexpected: Mutex<Vec<String>>,
    attempts: AtomicU64,
    /// Requests whose connection failed or was cut (in flight at a kill, or sent while down).
    cut: AtomicU64,
}

struct Tokens {
    scheduler: String,
    nurse: String,
    prescriber: String,
}

/// Why a step did not get acknowledged.
enum Miss {
    /// The connection failed or was cut: the server is (being) killed.
    Down,
    /// The server answered something else than success.
    Unexpected,
}

fn step(
    shared: &Shared,
    addr: SocketAddr,
    (method, path): (&str, &str),
    token: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
    want: u16,
) -> Result<Reply, Miss> {
    shared.attempts.fetch_add(1, Ordering::Relaxed);
    match http(addr, method, path, Some(token), headers, body) {
        Ok(r) if r.status == want => Ok(r),
        Ok(r) => {
            shared
                .unexpected
                .lock()
                .expect("lock")
                .push(format!("{method} {path} → {}: {}", r.status, r.body));
            Err(Miss::Unexpected)
        }
        Err(_) => {
            shared.cut.fetch_add(1, Ordering::Relaxed);
            Err(Miss::Down)
        }
    }
}

fn id_of(r: &Reply) -> String {
    r.body["id"].as_str().unwrap_or_default().to_string()
}

/// One round of writes; every success is recorded before the next request goes out.
fn round(shared: &Shared, addr: SocketAddr, t: &Tokens, writer: usize, n: u64) -> Result<(), Miss> {
    let ack = |a: Ack| shared.acks.lock().expect("lock").push(a);
    let mrn = format!("CRASH-{writer}-{n}-{}", &new_id()[24..]);
    let p = step(
        shared,
        addr,
        ("POST", "/api/patients"),
        &t.scheduler,
        &[],
        Some(
            &json!({"mrn": mrn, "family_name": "Crash", "given_name": format!("Writer {writer}"), "birth_date": "1975-03-02", "sex": "female"}),
        ),
        201,
    )?;
    let pid = id_of(&p);
    ack(Ack::Patient(pid.clone()));
    for body in [
        json!({"kind": "weight", "value": "70 kg", "source": "scale"}),
        json!({"kind": "height", "value": "165 cm"}),
    ] {
        let m = step(
            shared,
            addr,
            ("POST", &format!("/api/patients/{pid}/measurements")),
            &t.nurse,
            &[],
            Some(&body),
            201,
        )?;
        ack(Ack::Measurement {
            patient: pid.clone(),
            id: id_of(&m),
        });
    }
    let mut order = json!({
        "patient_id": pid,
        "medication": "infliximab", "dose_per": "5 mg/kg", "route": "iv",
        "volume": "250 mL", "duration": "2 h", "line": "peripheral",
        "frequency": "q8w", "infusion_number": 4, "indication": "crohns-disease"
    });
    let preview = step(
        shared,
        addr,
        ("POST", "/api/orders/preview"),
        &t.prescriber,
        &[],
        Some(&order),
        200,
    )?;
    let overrides: Vec<Value> = preview.body["computed"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f["severity"] == "warning")
        .map(|f| json!({"code": f["code"], "reason": "reviewed in clinic"}))
        .collect();
    order["overrides"] = Value::Array(overrides);
    let o = step(
        shared,
        addr,
        ("POST", "/api/orders"),
        &t.prescriber,
        &[],
        Some(&order),
        201,
    )?;
    let oid = id_of(&o);
    ack(Ack::Order(oid.clone()));
    step(
        shared,
        addr,
        ("POST", &format!("/api/orders/{oid}/sign")),
        &t.prescriber,
        &[("If-Match", &o.etag)],
        None,
        200,
    )?;
    ack(Ack::Signed(oid));
    Ok(())
}

fn writer(shared: Arc<Shared>, tokens: Arc<Tokens>, index: usize) {
    let mut n = 0u64;
    while !shared.stop.load(Ordering::SeqCst) {
        let addr = *shared.addr.lock().expect("lock");
        let Some(addr) = addr else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        n += 1;
        match round(&shared, addr, &tokens, index, n) {
            Ok(()) => {}
            Err(Miss::Down) => std::thread::sleep(Duration::from_millis(5)),
            // Recorded; keep going so one odd answer does not hide others.
            Err(Miss::Unexpected) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn sign_in(addr: SocketAddr, user: &str) -> String {
    let r = http(
        addr,
        "POST",
        "/api/auth/sign-in",
        None,
        &[],
        Some(&json!({"username": user, "password": DEMO_PASSWORD, "mode": "token"})),
    )
    .expect("sign in");
    assert_eq!(r.status, 200, "sign-in of {user}: {}", r.body);
    r.body["token"].as_str().expect("a token").to_string()
}

// ---------------------------------------------------------------------------------------------
// The run.

struct Outcome {
    kills: usize,
    acknowledged: usize,
    attempts: u64,
    cut: u64,
    lost: Vec<String>,
    audit_events: i64,
}

fn run(backend: &str, record: Record, work: &Path) -> Outcome {
    let kills: usize = std::env::var(KILLS_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var(SEED_VAR)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut rng = Rng(seed);
    let log = work.join(format!("server-{backend}.log"));
    let server = start_server(&record, true, &log);
    let tokens = Arc::new(Tokens {
        scheduler: sign_in(server.addr, "scheduler"),
        nurse: sign_in(server.addr, "nurse"),
        prescriber: sign_in(server.addr, "prescriber"),
    });
    let admin = sign_in(server.addr, "admin");
    let shared = Arc::new(Shared {
        addr: Mutex::new(Some(server.addr)),
        stop: AtomicBool::new(false),
        acks: Mutex::new(Vec::new()),
        unexpected: Mutex::new(Vec::new()),
        attempts: AtomicU64::new(0),
        cut: AtomicU64::new(0),
    });
    let threads: Vec<_> = (0..WRITERS)
        .map(|i| {
            let (s, t) = (shared.clone(), tokens.clone());
            std::thread::spawn(move || writer(s, t, i))
        })
        .collect();
    let mut server = Some(server);
    for k in 0..kills {
        // A random moment within the stream: from just after start-up to a few rounds in.
        std::thread::sleep(Duration::from_millis(rng.between(20, 700)));
        if let Some(s) = server.take() {
            s.kill();
        }
        *shared.addr.lock().expect("lock") = None;
        if k + 1 < kills {
            let s = start_server(&record, false, &log);
            *shared.addr.lock().expect("lock") = Some(s.addr);
            server = Some(s);
        }
    }
    shared.stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().expect("writer thread");
    }
    let unexpected = shared.unexpected.lock().expect("lock").clone();
    assert!(
        unexpected.is_empty(),
        "{backend}: answers other than success or a cut connection: {unexpected:#?}"
    );

    // Restart and read every acknowledged write back.
    let server = start_server(&record, false, &log);
    let addr = server.addr;
    let acks = shared.acks.lock().expect("lock").clone();
    let mut lost = Vec::new();
    let mut charts: std::collections::HashMap<String, Value> = Default::default();
    for a in &acks {
        match a {
            Ack::Patient(id) | Ack::Measurement { patient: id, .. } => {
                if !charts.contains_key(id) {
                    let r = http(
                        addr,
                        "GET",
                        &format!("/api/patients/{id}"),
                        Some(&tokens.nurse),
                        &[],
                        None,
                    )
                    .expect("read chart");
                    if r.status != 200 {
                        lost.push(format!("patient {id}: {} {}", r.status, r.body));
                        continue;
                    }
                    charts.insert(id.clone(), r.body);
                }
                if let Ack::Measurement { id: mid, .. } = a {
                    let present = charts[id]["measurements"]
                        .as_array()
                        .is_some_and(|ms| ms.iter().any(|m| m["id"] == mid.as_str()));
                    if !present {
                        lost.push(format!("measurement {mid} of patient {id}"));
                    }
                }
            }
            Ack::Order(id) | Ack::Signed(id) => {
                let r = http(
                    addr,
                    "GET",
                    &format!("/api/orders/{id}"),
                    Some(&tokens.prescriber),
                    &[],
                    None,
                )
                .expect("read order");
                if r.status != 200 {
                    lost.push(format!("order {id}: {} {}", r.status, r.body));
                } else if matches!(a, Ack::Signed(_)) && r.body["status"] != "signed" {
                    lost.push(format!(
                        "signature of order {id}: status {}",
                        r.body["status"]
                    ));
                }
            }
        }
    }
    let v = http(addr, "GET", "/api/audit/verify", Some(&admin), &[], None).expect("verify");
    assert_eq!(v.status, 200, "{backend}: /api/audit/verify: {}", v.body);
    assert!(
        v.body["broken"].is_null(),
        "{backend}: the API reports a broken chain: {}",
        v.body
    );
    server.kill();
    let out = Command::new(env!("CARGO_BIN_EXE_infusio"))
        .args(["audit", "verify", "--json"])
        .args(record.args())
        .env_remove("INFUSIO_DATABASE_URL")
        .output()
        .expect("infusio audit verify");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{backend}: audit verify printed no JSON ({e}): {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        out.status.success() && report["broken"].is_null(),
        "{backend}: infusio audit verify: {report}"
    );
    let audit_events = report["head"]["seq"].as_i64().unwrap_or(0);
    Outcome {
        kills,
        acknowledged: acks.len(),
        attempts: shared.attempts.load(Ordering::Relaxed),
        cut: shared.cut.load(Ordering::Relaxed),
        lost,
        audit_events,
    }
}

fn report(backend: &str, o: &Outcome, elapsed: Duration) {
    let line = json!({
        "backend": backend,
        "kills": o.kills,
        "acknowledged_writes": o.acknowledged,
        "requests": o.attempts,
        "requests_cut_or_refused": o.cut,
        "lost": o.lost.len(),
        "audit_events": o.audit_events,
        "audit_verify": "intact",
        "seconds": (elapsed.as_secs_f64() * 10.0).round() / 10.0,
    });
    say(&format!("server crash test: {line}"));
    if let Ok(file) = std::env::var(REPORT_VAR)
        && !file.is_empty()
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)
    {
        let _ = writeln!(f, "{line}");
    }
}

fn check(backend: &str, o: &Outcome, elapsed: Duration) {
    report(backend, o, elapsed);
    assert!(
        o.lost.is_empty(),
        "{backend}: {} acknowledged writes lost: {:#?}",
        o.lost.len(),
        o.lost
    );
    // The test means something only if writes were acknowledged between the kills.
    assert!(
        o.acknowledged >= o.kills,
        "{backend}: only {} writes acknowledged over {} kills",
        o.acknowledged,
        o.kills
    );
    assert!(
        o.audit_events >= o.acknowledged as i64,
        "{backend}: {} audit events for {} acknowledged writes",
        o.audit_events,
        o.acknowledged
    );
}

fn work_dir(tag: &str) -> TempDir {
    TempDir::new(&format!("crash-server-{tag}"))
}

#[test]
fn sigkilled_server_loses_no_acknowledged_write_sqlite() {
    let started = Instant::now();
    let work = work_dir("sqlite");
    let record = Record::DataDir(work.path().join("data"));
    let o = run("sqlite", record, work.path());
    check("sqlite", &o, started.elapsed());
}

#[test]
fn sigkilled_server_loses_no_acknowledged_write_postgres() {
    let Some(db) = PgDatabase::create(
        "sigkilled_server_loses_no_acknowledged_write_postgres",
        "crashsrv",
    ) else {
        return;
    };
    let started = Instant::now();
    let work = work_dir("postgres");
    let o = run("postgres", Record::Url(db.url.clone()), work.path());
    db.drop();
    check("postgres", &o, started.elapsed());
}
