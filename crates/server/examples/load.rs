//! Load benchmark (not a test): "create + sign an order with full checks" against a running
//! `infusio serve` on loopback.
//!
//! ```text
//! infusio serve --demo --data-dir /tmp/bench --listen 127.0.0.1:8080 &
//! cargo run --release -p infusio-server --example load -- 127.0.0.1:8080 [workers] [iterations per worker]
//! ```
//!
//! Each iteration is two requests: `POST /api/orders` (dose from the engine, the full
//! dose-error check, audit event) and `POST /api/orders/{id}/sign` (checks again, audit
//! event). Prints iterations/s, requests/s and the latency percentiles of one iteration.
//! Only loopback addresses are accepted, and the run is bounded by its iteration count.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Conn {
    stream: BufReader<TcpStream>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Conn, String> {
        let s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let _ = s.set_nodelay(true);
        Ok(Conn {
            stream: BufReader::new(s),
        })
    }

    /// One HTTP/1.1 request on the kept-alive connection; returns status, ETag and body.
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        extra: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(u16, String, Value), String> {
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n",
            payload.len()
        );
        if body.is_some() {
            req.push_str("Content-Type: application/json\r\n");
        }
        if let Some(t) = token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        for (k, v) in extra {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(&payload);
        let io = |e: std::io::Error| e.to_string();
        self.stream
            .get_mut()
            .write_all(req.as_bytes())
            .await
            .map_err(io)?;
        let mut line = String::new();
        self.stream.read_line(&mut line).await.map_err(io)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or(format!("bad status line {line:?}"))?;
        let (mut length, mut etag) = (0usize, String::new());
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.map_err(io)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                match k.to_ascii_lowercase().as_str() {
                    "content-length" => length = v.trim().parse().unwrap_or(0),
                    "etag" => etag = v.trim().to_string(),
                    _ => {}
                }
            }
        }
        let mut buf = vec![0u8; length];
        self.stream.read_exact(&mut buf).await.map_err(io)?;
        Ok((
            status,
            etag,
            serde_json::from_slice(&buf).unwrap_or(Value::Null),
        ))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr: SocketAddr = args
        .first()
        .map(String::as_str)
        .unwrap_or("127.0.0.1:8080")
        .parse()
        .map_err(|e| format!("address: {e}"))?;
    if !addr.ip().is_loopback() {
        return Err("this benchmark only targets a loopback address".into());
    }
    let workers: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(8);
    let per_worker: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(250);

    let mut c = Conn::open(addr).await?;
    let (s, _, me) = c
        .call(
            "POST",
            "/api/auth/sign-in",
            None,
            &[],
            Some(&json!({"username": "prescriber", "password": "infusio-demo", "mode": "token"})),
        )
        .await?;
    if s != 200 {
        return Err(format!(
            "sign-in as the demo prescriber failed ({s}): start the server with --demo"
        ));
    }
    let token = me["token"].as_str().unwrap_or_default().to_string();
    // A pool of fresh patients per run, weighed and with recent labs; iterations spread over
    // them so no patient collects an unrealistic number of orders.
    let n_patients = workers * 10;
    let mut pids = Vec::new();
    for k in 0..n_patients {
        let mrn = format!("BENCH{}-{k}", std::process::id());
        let (s, _, p) = c
            .call("POST", "/api/patients", Some(&token), &[], Some(&json!({"mrn": mrn, "family_name": "Bench", "given_name": "Load", "birth_date": "1980-01-01", "sex": "female"})))
            .await?;
        if s != 201 {
            return Err(format!("creating a patient failed ({s}): {p}"));
        }
        let pid = p["id"].as_str().unwrap_or_default().to_string();
        for body in [
            json!({"kind": "weight", "value": "70 kg"}),
            json!({"kind": "height", "value": "165 cm"}),
        ] {
            c.call(
                "POST",
                &format!("/api/patients/{pid}/measurements"),
                Some(&token),
                &[],
                Some(&body),
            )
            .await?;
        }
        for (n, v) in [
            ("serum_creatinine", "0.9 mg/dL"),
            ("anc", "3 10*9/L"),
            ("platelets", "200 10*9/L"),
            ("hemoglobin", "13 g/dL"),
            ("bilirubin", "0.5 mg/dL"),
            ("ast", "20 units/L"),
            ("alt", "20 units/L"),
        ] {
            c.call(
                "POST",
                &format!("/api/patients/{pid}/labs"),
                Some(&token),
                &[],
                Some(&json!({"name": n, "value": v})),
            )
            .await?;
        }
        pids.push(pid);
    }
    let pids = std::sync::Arc::new(pids);
    let order = json!({"medication": "infliximab", "dose_per": "5 mg/kg", "route": "iv", "volume": "250 mL",
        "duration": "2 h", "line": "peripheral", "frequency": "q8w", "infusion_number": 4,
        "overrides": [{"code": "order.duplicate_therapy", "reason": "load benchmark"}]});

    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (token, order, pids) = (token.clone(), order.clone(), pids.clone());
        // Earlier signed orders of this run make later ones duplicates: the prescriber
        // overrides that warning with a reason, at signing as at creation.
        let sign =
            json!({"overrides": [{"code": "order.duplicate_therapy", "reason": "load benchmark"}]});
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(addr).await?;
            let mut lat = Vec::with_capacity(per_worker);
            let mut per_request = Vec::with_capacity(2 * per_worker);
            for i in 0..per_worker {
                let t0 = Instant::now();
                let key = format!("bench-{w}-{i}-{}", std::process::id());
                let mut order = order.clone();
                order["patient_id"] = json!(pids[(w * per_worker + i) % pids.len()]);
                let (s, etag, o) = c
                    .call(
                        "POST",
                        "/api/orders",
                        Some(&token),
                        &[("Idempotency-Key", &key)],
                        Some(&order),
                    )
                    .await?;
                if s != 201 {
                    return Err(format!("create: {s} {o}"));
                }
                let t1 = Instant::now();
                per_request.push(t1 - t0);
                let id = o["id"].as_str().unwrap_or_default().to_string();
                let (s, _, o) = c
                    .call(
                        "POST",
                        &format!("/api/orders/{id}/sign"),
                        Some(&token),
                        &[("If-Match", &etag)],
                        Some(&sign),
                    )
                    .await?;
                if s != 200 {
                    return Err(format!("sign: {s} {o}"));
                }
                per_request.push(t1.elapsed());
                lat.push(t0.elapsed());
            }
            Ok::<(Vec<Duration>, Vec<Duration>), String>((lat, per_request))
        }));
    }
    let mut all = Vec::new();
    let mut requests = Vec::new();
    for t in tasks {
        let (lat, per_request) = t.await.map_err(|e| e.to_string())??;
        all.extend(lat);
        requests.extend(per_request);
    }
    let wall = started.elapsed().as_secs_f64();
    all.sort();
    requests.sort();
    let n = all.len() as f64;
    println!(
        "create + sign with full checks: {workers} connections × {per_worker} iterations on {addr}"
    );
    println!(
        "iterations: {} in {wall:.2} s = {:.1} iterations/s = {:.1} requests/s",
        all.len(),
        n / wall,
        2.0 * n / wall
    );
    println!(
        "latency per iteration (2 requests): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&all, 50.0).as_secs_f64() * 1e3,
        percentile(&all, 90.0).as_secs_f64() * 1e3,
        percentile(&all, 99.0).as_secs_f64() * 1e3,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "latency per request (create or sign): p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&requests, 50.0).as_secs_f64() * 1e3,
        percentile(&requests, 90.0).as_secs_f64() * 1e3,
        percentile(&requests, 99.0).as_secs_f64() * 1e3,
        requests.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    Ok(())
}
