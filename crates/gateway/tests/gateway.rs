//! The gateway over real TCP connections on 127.0.0.1: ADT registration with weight and
//! height, a creatinine result that changes the next vancomycin check, redelivery, garbage and
//! malformed messages, and a verified vancomycin order programmed into the simulated pump whose
//! PCD-01 events complete the administration with the pump's times. Every message built in
//! these exchanges is validated by hl7apy (HL7 v2.6, strict) when INFUSIO_TEST_PYTHON is set.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use infusio_app::{Actor, App, AppConfig};
use infusio_gateway::pump_sim::{PumpSim, PumpSimConfig, RateChange};
use infusio_gateway::{Gateway, GatewayConfig, exchange};
use infusio_interop::ack::{AckCode, read_ack};
use infusio_interop::hl7::Message;
use infusio_interop::mllp;
use infusio_store::records::{Administration, AdministrationEvent, LabResult, Order, Patient};
use infusio_store::{OrderStatus, Role};
use infusio_testkit::on_both_backends;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const PASSWORD: &str = "correct horse battery";
const WAIT: Duration = Duration::from_secs(30);

struct Harness {
    app: App,
    gateway: Arc<Gateway>,
    addr: SocketAddr,
    users: Vec<(String, Actor)>,
}

impl Harness {
    fn user(&self, name: &str) -> &Actor {
        &self.users.iter().find(|(n, _)| n == name).expect("user").1
    }
}

on_both_backends!(
    adt_a04_registers_a_patient_with_weight_and_height,
    a_creatinine_result_changes_the_next_vancomycin_check,
    a_redelivered_message_is_answered_once_and_recorded_once,
    garbage_and_malformed_messages_are_refused_and_the_listener_stays_up,
    a_verified_vancomycin_order_runs_on_the_simulated_pump_and_completes_with_its_times,
    the_pump_refuses_a_programme_beyond_its_limits
);

async fn harness() -> Harness {
    let store = infusio_testkit::open_store().await;
    let library = infusio_app::library::builtin().expect("library");
    let app = App::open(
        store,
        library,
        AppConfig {
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            ..AppConfig::default()
        },
    )
    .await
    .expect("app");
    let mut users = Vec::new();
    for (name, role) in [
        ("prescriber", Role::Prescriber),
        ("pharmacist", Role::Pharmacist),
        ("technician", Role::PharmacyTechnician),
        ("nurse", Role::Nurse),
        ("nurse2", Role::Nurse),
    ] {
        let u = app
            .create_user(None, name, name, PASSWORD, &[role])
            .await
            .expect("user");
        users.push((
            name.to_string(),
            Actor {
                user_id: u.id,
                username: u.username,
                display_name: u.display_name,
                roles: u.roles,
            },
        ));
    }
    let gateway = Arc::new(
        Gateway::new(app.clone(), GatewayConfig::default())
            .await
            .expect("gateway"),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(Arc::clone(&gateway).serve(listener, std::future::pending()));
    Harness {
        app,
        gateway,
        addr,
        users,
    }
}

/// Sends one message on a new connection; returns the ACK as text.
async fn send(addr: SocketAddr, message: &str) -> String {
    let bytes = exchange(addr, message, WAIT).await.expect("an answer");
    String::from_utf8(bytes).expect("utf-8 ack")
}

fn ack_of(text: &str) -> (AckCode, String, Vec<String>) {
    let m = Message::parse(text).expect("the ACK parses");
    let r = read_ack(&m).expect("an MSA");
    (r.code, r.acknowledged_control_id, r.messages)
}

fn adt_a04(control_id: &str, mrn: &str) -> String {
    format!(
        "MSH|^~\\&|ADT|HOSP|INFUSIO|CLINIC|20261126081500+0000||ADT^A04^ADT_A01|{control_id}|P|2.6\r\
         EVN|A04|20261126081500+0000\r\
         PID|1||{mrn}^^^HOSP^MR||Okafor^Grace||19720412|F\r\
         PV1|1|O\r\
         OBX|1|NM|29463-7^Body weight^LN||70|kg^kilogram^UCUM|||||F|||20261126080000+0000\r\
         OBX|2|NM|8302-2^Body height^LN||165|cm^centimeter^UCUM|||||F|||20261126080000+0000\r"
    )
}

fn oru_creatinine(control_id: &str, mrn: &str, value: &str, unit: &str, at: &str) -> String {
    format!(
        "MSH|^~\\&|LAB|HOSP|INFUSIO|CLINIC|{at}||ORU^R01^ORU_R01|{control_id}|P|2.6\r\
         PID|1||{mrn}^^^HOSP^MR||Okafor^Grace||19720412|F\r\
         OBR|1||LAB-{control_id}|24323-8^Comprehensive metabolic panel^LN|||{at}\r\
         OBX|1|NM|2160-0^Creatinine [Mass/volume] in Serum or Plasma^LN||{value}|{unit}|0.5-1.1||||F|||{at}\r"
    )
}

fn hl7_now(offset_s: i64) -> String {
    infusio_interop::hl7::format_instant(infusio_store::now_us() + offset_s * 1_000_000)
}

async fn find<T: infusio_store::Record>(
    app: &App,
    column: &str,
    value: &str,
) -> Result<Vec<infusio_store::Stored<T>>, infusio_store::StoreError> {
    let mut tx = app.store().begin_snapshot().await?;
    let rows = tx
        .find_by::<T>(column, infusio_store::Val::Text(Some(value.to_string())))
        .await?;
    tx.rollback().await?;
    Ok(rows)
}

async fn patient(app: &App, mrn: &str) -> Option<infusio_store::Stored<Patient>> {
    let mut found = find::<Patient>(app, "mrn", mrn).await.expect("query");
    found.pop()
}

async fn adt_a04_registers_a_patient_with_weight_and_height() {
    let h = harness().await;
    let ack = send(h.addr, &adt_a04("ADT-1", "MRN100")).await;
    let (code, acked, messages) = ack_of(&ack);
    assert_eq!(
        (code, acked.as_str()),
        (AckCode::Accept, "ADT-1"),
        "{messages:?}"
    );
    let p = patient(&h.app, "MRN100").await.expect("registered");
    assert_eq!(
        (
            p.data.family_name.as_str(),
            p.data.given_name.as_str(),
            p.data.birth_date.as_str(),
            p.data.sex.as_str()
        ),
        ("Okafor", "Grace", "1972-04-12", "female")
    );
    let ctx = h
        .app
        .context(&p.id, infusio_store::now_us())
        .await
        .expect("context");
    assert_eq!(ctx.weight_kg.as_ref().map(|w| w.0), Some(70.0));
    assert_eq!(ctx.height_cm.map(|c| c.0), Some(165.0));
    assert_eq!(
        ctx.weight_kg.map(|w| w.1),
        Some("2026-11-26T08:00:00Z".to_string())
    );

    // A08 updates the demographics of the same MRN; it does not register a second patient.
    let a08 = adt_a04("ADT-2", "MRN100")
        .replace("ADT^A04^ADT_A01", "ADT^A08^ADT_A01")
        .replace("EVN|A04", "EVN|A08")
        .replace("Okafor^Grace", "Okafor-Bello^Grace");
    assert_eq!(ack_of(&send(h.addr, &a08).await).0, AckCode::Accept);
    let p2 = patient(&h.app, "MRN100").await.expect("still there");
    assert_eq!(
        (p2.id.as_str(), p2.data.family_name.as_str()),
        (p.id.as_str(), "Okafor-Bello")
    );
    // Every change carries the interface identity.
    let interface = h.gateway.actor().user_id.clone();
    let log = h.app.inbound_log().await.expect("log");
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|r| r.ack_code == "AA"), "{log:?}");
    assert!(!interface.is_empty());
}

async fn vancomycin_preview(h: &Harness, patient_id: &str) -> Value {
    let preview = h
        .app
        .preview_order(
            h.user("prescriber"),
            &infusio_app::commands::NewOrder::try_from(&json!({
                "patient_id": patient_id, "medication": "vancomycin", "dose_per": "15 mg/kg",
                "route": "iv", "volume": "250 mL", "duration": "2 h", "line": "peripheral",
                "frequency": "q12h", "infusion_number": 1
            }))
            .expect("order command"),
        )
        .await
        .expect("preview");
    serde_json::to_value(&preview.computed).expect("json")
}

async fn a_creatinine_result_changes_the_next_vancomycin_check() {
    let h = harness().await;
    assert_eq!(
        ack_of(&send(h.addr, &adt_a04("ADT-1", "MRN200")).await).0,
        AckCode::Accept
    );
    let p = patient(&h.app, "MRN200").await.expect("registered");
    let first = oru_creatinine("LAB-1", "MRN200", "0.9", "mg/dL", &hl7_now(-7200));
    assert_eq!(ack_of(&send(h.addr, &first).await).0, AckCode::Accept);
    let before = vancomycin_preview(&h, &p.id).await;
    let renal = |c: &Value| {
        c["findings"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter(|x| x["code"].as_str().is_some_and(|s| s.contains("renal")))
                    .count()
            })
            .unwrap_or(0)
    };
    assert_eq!(before["verdict"], "ok", "{before}");
    assert_eq!(renal(&before), 0, "{before}");

    // The new result, in µmol/L: 177 µmol/L = 2.0 mg/dL; Cockcroft-Gault falls to about
    // 35 mL/min, where the library asks for a 24-hour interval.
    let second = oru_creatinine("LAB-2", "MRN200", "177", "umol/L", &hl7_now(-60));
    let (code, acked, messages) = ack_of(&send(h.addr, &second).await);
    assert_eq!(
        (code, acked.as_str()),
        (AckCode::Accept, "LAB-2"),
        "{messages:?}"
    );
    let after = vancomycin_preview(&h, &p.id).await;
    assert_eq!(after["verdict"], "warning", "{after}");
    assert!(renal(&after) >= 1, "{after}");
    let labs = find::<LabResult>(&h.app, "patient_id", &p.id)
        .await
        .expect("labs");
    let latest = labs
        .iter()
        .max_by_key(|l| l.data.collected_at_us)
        .expect("a lab");
    assert_eq!(latest.data.unit, "mg/dL");
    assert!((latest.data.value.as_str().parse::<f64>().unwrap_or(0.0) - 2.002).abs() < 0.01);
}

async fn a_redelivered_message_is_answered_once_and_recorded_once() {
    let h = harness().await;
    assert_eq!(
        ack_of(&send(h.addr, &adt_a04("ADT-1", "MRN300")).await).0,
        AckCode::Accept
    );
    let p = patient(&h.app, "MRN300").await.expect("registered");
    let oru = oru_creatinine("LAB-DUP", "MRN300", "1.1", "mg/dL", &hl7_now(-600));
    let first = send(h.addr, &oru).await;
    let second = send(h.addr, &oru).await;
    assert_eq!(ack_of(&first).0, AckCode::Accept);
    assert_eq!(first, second, "the same answer, not a second application");
    let labs = find::<LabResult>(&h.app, "patient_id", &p.id)
        .await
        .expect("labs");
    assert_eq!(labs.len(), 1);
    // The same control id with different content is refused, and logged.
    let other = oru_creatinine("LAB-DUP", "MRN300", "1.4", "mg/dL", &hl7_now(-300));
    let (code, _, messages) = ack_of(&send(h.addr, &other).await);
    assert_eq!(code, AckCode::Reject);
    assert!(
        messages.iter().any(|m| m.contains("already used")),
        "{messages:?}"
    );
    let labs = find::<LabResult>(&h.app, "patient_id", &p.id)
        .await
        .expect("labs");
    assert_eq!(labs.len(), 1);
    // The same control id from another sender is another message.
    let from_other_lab = oru.replace("|LAB|HOSP|", "|LAB2|HOSP|");
    assert_eq!(
        ack_of(&send(h.addr, &from_other_lab).await).0,
        AckCode::Accept
    );
    // A result dated tomorrow would stay invisible to the checks until then: refused.
    let future = oru_creatinine("LAB-FUTURE", "MRN300", "1.2", "mg/dL", &hl7_now(86_400));
    let (code, _, messages) = ack_of(&send(h.addr, &future).await);
    assert_eq!(code, AckCode::Error);
    assert!(
        messages.iter().any(|m| m.contains("observed_at")),
        "{messages:?}"
    );
    let labs = find::<LabResult>(&h.app, "patient_id", &p.id)
        .await
        .expect("labs");
    assert_eq!(
        labs.len(),
        2,
        "the first and the other sender's, not the future one"
    );
    let log = h.app.inbound_log().await.expect("log");
    assert_eq!(log.len(), 5, "{log:?}");
}

/// Reads one MLLP frame from a raw connection.
async fn read_frame(stream: &mut TcpStream, decoder: &mut mllp::Decoder) -> String {
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("an answer in time")
            .expect("read");
        assert!(n > 0, "the gateway closed the connection");
        for f in decoder.push(&buf[..n]) {
            if let mllp::Frame::Message(b) = f {
                return String::from_utf8(b).expect("utf-8");
            }
        }
    }
}

async fn garbage_and_malformed_messages_are_refused_and_the_listener_stays_up() {
    let h = harness().await;
    let mut stream = TcpStream::connect(h.addr).await.expect("connect");
    let mut decoder = mllp::Decoder::new(1 << 20);
    // Bytes outside any frame.
    stream
        .write_all(b"\x00\xffGET / HTTP/1.1\r\n\r\n")
        .await
        .expect("write");
    stream
        .write_all(&mllp::encode(b"not hl7 at all"))
        .await
        .expect("write");
    let garbage_ack = read_frame(&mut stream, &mut decoder).await;
    assert_eq!(ack_of(&garbage_ack).0, AckCode::Reject);
    let not_hl7 = read_frame(&mut stream, &mut decoder).await;
    assert_eq!(ack_of(&not_hl7).0, AckCode::Reject);
    // Malformed and unsupported messages on the same connection, each answered.
    let cases: Vec<(String, AckCode, &str)> = vec![
        ("MSH|^~\\&|LAB|H|INFUSIO|C|20261126101500+0000||ORU^R01|||2.6\r".into(), AckCode::Reject, "MSH-10"),
        ("MSH|^~\\&|LAB|H|INFUSIO|C|20261126101500+0000||SIU^S12|M1|P|2.6\r".into(), AckCode::Reject, "SIU^S12"),
        ("MSH|^~\\&|LAB|H|INFUSIO|C|20261126101500+0000||ADT^A03|M2|P|2.6\r".into(), AckCode::Reject, "ADT^A03"),
        (oru_creatinine("M3", "NO-SUCH-MRN", "1", "mg/dL", &hl7_now(-60)), AckCode::Error, "NO-SUCH-MRN"),
        (oru_creatinine("M4", "MRN400", "1", "mmol/dL", &hl7_now(-60)), AckCode::Error, "mmol/dL"),
        (oru_creatinine("M5", "MRN400", "1", "mg/dL", &hl7_now(-60)).replace("2160-0", "99999-9"), AckCode::Error, "99999-9"),
        (oru_creatinine("M6", "MRN400", "1", "mg/dL", "202611261015"), AckCode::Error, "UTC offset"),
        ("MSH|^~\\&|LAB|H|INFUSIO|C|x||ORU^R01|M7|P|2.6\rPID|1\rpid|x\r".into(), AckCode::Reject, "segment"),
        ("MSH|^~\\&|LAB|H|INFUSIO|C|x||ORU^R01|M8|P|2.6\rPID|1||\\X\\E\\\\~^&|\rOBR\rOBX|||||||||||||||||||||||||||\r".into(), AckCode::Error, ""),
    ];
    for (message, expected, mentions) in &cases {
        stream
            .write_all(&mllp::encode(message.as_bytes()))
            .await
            .expect("write");
        let ack = read_frame(&mut stream, &mut decoder).await;
        let (code, _, messages) = ack_of(&ack);
        assert_eq!(code, *expected, "{message:?}: {messages:?}");
        assert!(
            messages.iter().any(|m| m.contains(mentions)),
            "{message:?} should mention {mentions:?}: {messages:?}"
        );
    }
    // A frame with a lost end byte: the next start byte resynchronises.
    stream
        .write_all(b"\x0bMSH|^~\\&|half")
        .await
        .expect("write");
    stream
        .write_all(&mllp::encode(adt_a04("ADT-OK", "MRN400").as_bytes()))
        .await
        .expect("write");
    let resync = read_frame(&mut stream, &mut decoder).await;
    assert_eq!(ack_of(&resync).0, AckCode::Reject);
    let ok = read_frame(&mut stream, &mut decoder).await;
    assert_eq!(ack_of(&ok).0, AckCode::Accept, "{ok}");
    drop(stream);
    // The listener still serves new connections.
    assert_eq!(
        ack_of(&send(h.addr, &adt_a04("ADT-2", "MRN401")).await).0,
        AckCode::Accept
    );
    // Nothing was silently dropped: every answer is in the log.
    let log = h.app.inbound_log().await.expect("log");
    assert_eq!(
        log.len(),
        2 + cases.len() + 2 + 1,
        "{:#?}",
        log.iter()
            .map(|r| (&r.control_id, &r.ack_code, &r.outcome))
            .collect::<Vec<_>>()
    );
    // Refused results were not recorded.
    let p = patient(&h.app, "MRN400")
        .await
        .expect("registered by ADT-OK");
    let labs = find::<LabResult>(&h.app, "patient_id", &p.id)
        .await
        .expect("labs");
    assert!(labs.is_empty());
}

async fn order_version(h: &Harness, id: &str) -> i64 {
    h.app
        .store()
        .get::<Order>(id)
        .await
        .expect("read")
        .expect("order")
        .version
}

/// A verified, prepared vancomycin order whose administration a nurse has started at the
/// bedside. Returns (order id, administration id).
async fn running_vancomycin(h: &Harness, mrn: &str) -> (String, String) {
    assert_eq!(
        ack_of(&send(h.addr, &adt_a04("ADT-V", mrn)).await).0,
        AckCode::Accept
    );
    let lab = oru_creatinine("LAB-V", mrn, "0.9", "mg/dL", &hl7_now(-3600));
    assert_eq!(ack_of(&send(h.addr, &lab).await).0, AckCode::Accept);
    let p = patient(&h.app, mrn).await.expect("patient");
    let mut body = json!({
        "patient_id": p.id, "medication": "vancomycin", "dose_per": "15 mg/kg",
        "route": "iv", "volume": "250 mL", "duration": "2 h", "line": "peripheral",
        "frequency": "q12h", "infusion_number": 1
    });
    let preview = vancomycin_preview(h, &p.id).await;
    body["overrides"] = Value::Array(
        preview["findings"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f["severity"] == "warning")
            .map(|f| json!({"code": f["code"], "reason": "reviewed"}))
            .collect(),
    );
    let created = h
        .app
        .create_order(
            h.user("prescriber"),
            &infusio_app::commands::NewOrder::try_from(&body).expect("order command"),
            None,
        )
        .await
        .expect("order");
    let id = created.order.id.clone();

    h.app
        .sign_order(
            h.user("prescriber"),
            &id,
            Some(order_version(h, &id).await),
            &infusio_app::commands::SignInput::default(),
        )
        .await
        .expect("signed");
    let dose = format!("{} mg", created.order.data.dose);
    let v = h
        .app
        .verify_order(
            h.user("pharmacist"),
            &id,
            Some(order_version(h, &id).await),
            &infusio_app::commands::BlindVerification::try_from(
                &json!({"dose": dose, "volume": "250 mL", "rate": "125 mL/h"}),
            )
            .expect("verification command"),
        )
        .await
        .expect("verification");
    assert_eq!(v.outcome, "verified", "{:?}", v.differences);
    let (prep, _) = h
        .app
        .prepare(
            h.user("technician"),
            &id,
            Some(order_version(h, &id).await),
            &infusio_app::commands::NewPreparation::try_from(&json!({"components": [{"product": "Vancomycin 1 g vial", "lot": "LOT-V1", "expiry_date": "2099-12-31", "quantity": dose}],
                    "final_volume": "250 mL", "beyond_use_at": "2099-01-01T00:00:00Z"}))
            .expect("preparation command"),
        )
        .await
        .expect("prepared");
    let mut scan = json!({"wristband": mrn, "bag": prep.id, "dose": dose, "route": "IV",
                          "pump": {"rate": "125 mL/h", "vtbi": "250 mL"}});
    if created.order.data.high_alert {
        scan["second_nurse"] = json!({"username": "nurse2", "password": PASSWORD});
    }
    let (admin, _) = h
        .app
        .start_administration(
            h.user("nurse"),
            &id,
            Some(order_version(h, &id).await),
            &infusio_app::bedside::BedsideScan::try_from(&scan).expect("a valid scan"),
        )
        .await
        .expect("administration started");
    (id, admin.id)
}

async fn a_verified_vancomycin_order_runs_on_the_simulated_pump_and_completes_with_its_times() {
    let h = harness().await;
    let (order_id, admin_id) = running_vancomycin(&h, "MRN500").await;
    let bedside_scan_at_us = h
        .app
        .store()
        .get::<Administration>(&admin_id)
        .await
        .expect("read")
        .expect("admin")
        .data
        .started_at_us;

    // The PCD-03 programme carries the verified order's figures.
    let rgv = h
        .gateway
        .rgv_o15(&admin_id, "PUMP")
        .await
        .expect("programme");
    let programme =
        infusio_interop::pcd::read_rgv_o15(&Message::parse(&rgv).expect("parses")).expect("reads");
    assert_eq!(programme.order_id, order_id);
    assert_eq!(programme.drug_id, "vancomycin");
    // 15 mg/kg × 70 kg, as ordered and verified.
    assert_eq!(
        (programme.dose_amount, programme.dose_unit.as_str()),
        (1050.0, "mg")
    );
    assert_eq!(programme.bag_volume_ml, 250.0);
    assert_eq!(programme.steps.len(), 1);
    assert_eq!(
        (programme.steps[0].rate_ml_per_h, programme.steps[0].vtbi_ml),
        (125.0, 250.0)
    );
    assert_eq!(programme.care_area, "adult-infusion");
    assert_eq!(programme.weight_kg, Some(70.0));

    // The simulated pump: 2 h compressed 7,200-fold into about a second, with the rate halved
    // at the pump after 40% of the bag.
    let mut config = PumpSimConfig::new(h.addr);
    config.time_scale = 7200.0;
    config.rate_change = Some(RateChange {
        after_fraction: 0.4,
        rate_ml_per_h: 62.5,
    });
    let (pump, mut runs) = PumpSim::new(config);
    let pump_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let pump_addr = pump_listener.local_addr().expect("addr");
    tokio::spawn(Arc::clone(&pump).serve(pump_listener, std::future::pending()));

    let reply = h
        .gateway
        .program_pump(&admin_id, pump_addr)
        .await
        .expect("the pump answers");
    assert_eq!(reply.code, AckCode::Accept, "{:?}", reply.messages);
    let run = tokio::time::timeout(WAIT, runs.recv())
        .await
        .expect("the run ends in time")
        .expect("a run");
    let kinds: Vec<&str> = run.events.iter().map(|e| e.event.kind.as_str()).collect();
    assert_eq!(kinds, ["started", "rate_changed", "completed"]);
    for e in &run.events {
        let ack = e.ack.as_ref().expect("an ACK");
        assert_eq!(
            ack.code,
            AckCode::Accept,
            "{}: {:?}",
            e.event.kind.as_str(),
            ack.messages
        );
    }
    let started_at = run.events[0].event.at_us;
    let changed_at = run.events[1].event.at_us;
    let completed_at = run.events[2].event.at_us;
    // HL7 times carry milliseconds.
    let ms = |us: i64| us / 1000;

    let a = h
        .app
        .store()
        .get::<Administration>(&admin_id)
        .await
        .expect("read")
        .expect("admin");
    assert_eq!(a.data.status, "completed");
    assert_eq!(ms(a.data.started_at_us), ms(started_at));
    assert!(a.data.started_at_us >= bedside_scan_at_us - 1000);
    assert_eq!(a.data.stopped_at_us.map(ms), Some(ms(completed_at)));
    let o = h
        .app
        .store()
        .get::<Order>(&order_id)
        .await
        .expect("read")
        .expect("order");
    assert_eq!(o.data.status, OrderStatus::Completed);
    let events = find::<AdministrationEvent>(&h.app, "administration_id", &admin_id)
        .await
        .expect("events");
    let rate_change = events
        .iter()
        .find(|e| e.data.kind == "rate_change")
        .expect("the rate change");
    assert_eq!(ms(rate_change.data.at_us), ms(changed_at));
    assert_eq!(
        rate_change
            .data
            .rate_ml_per_h
            .as_ref()
            .map(|r| r.as_str().to_string()),
        Some("62.5".to_string())
    );
    let stop = events
        .iter()
        .find(|e| e.data.kind == "stop")
        .expect("the stop");
    assert_eq!(stop.data.detail_json["volume_infused_ml"], json!(250.0));
    assert_eq!(
        events
            .iter()
            .filter(|e| e.data.recorded_by == h.gateway.actor().user_id)
            .count(),
        3
    );

    // A further event after completion is refused (AE) and logged, not applied.
    let late = infusio_interop::pcd::build_pump_event(
        "PUMPSIM",
        "0012A1FFFE000001",
        &run.events[1].event,
        "LATE-1",
        infusio_store::now_us(),
    );
    let (code, _, messages) = ack_of(&send(h.addr, &late).await);
    assert_eq!(code, AckCode::Error, "{messages:?}");

    // Every message of the exchange passes hl7apy's v2.6 structures.
    let mut messages = vec![("rgv_o15".to_string(), rgv)];
    for (i, e) in run.events.iter().enumerate() {
        messages.push((
            format!("pcd01_{i}_{}", e.event.kind.as_str()),
            e.message.clone(),
        ));
    }
    let log = h.app.inbound_log().await.expect("log");
    for (i, r) in log.iter().enumerate() {
        messages.push((format!("ack_{i}_{}", r.ack_code), r.ack_text.clone()));
    }
    validate(&messages);
}

async fn the_pump_refuses_a_programme_beyond_its_limits() {
    let h = harness().await;
    let (_, admin_id) = running_vancomycin(&h, "MRN600").await;
    let mut config = PumpSimConfig::new(h.addr);
    config.max_rate_ml_per_h = 100.0;
    let (pump, _runs) = PumpSim::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let pump_addr = listener.local_addr().expect("addr");
    tokio::spawn(Arc::clone(&pump).serve(listener, std::future::pending()));
    let reply = h
        .gateway
        .program_pump(&admin_id, pump_addr)
        .await
        .expect("an answer");
    assert_eq!(reply.code, AckCode::Error);
    assert!(
        reply.messages.iter().any(|m| m.contains("125 mL/h")),
        "{:?}",
        reply.messages
    );
    let a = h
        .app
        .store()
        .get::<Administration>(&admin_id)
        .await
        .expect("read")
        .expect("admin");
    assert_eq!(a.data.status, "in_progress");

    // The nurse programs the pump by hand instead; its events still reconcile, and a
    // completion that infused less than the programme is accepted with a remark and recorded.
    let order_id = a.data.order_id.clone();
    let event = |kind, at_us, rate, volume| infusio_interop::pcd::PumpEvent {
        pump: String::new(),
        order_id: order_id.clone(),
        administration_id: admin_id.clone(),
        mrn: "MRN600".into(),
        family_name: "Okafor".into(),
        given_name: "Grace".into(),
        kind,
        at_us,
        rate_ml_per_h: rate,
        volume_infused_ml: volume,
    };
    let t0 = infusio_store::now_us();
    let started = event(
        infusio_interop::pcd::PumpEventKind::Started,
        t0,
        Some(125.0),
        Some(0.0),
    );
    let done = event(
        infusio_interop::pcd::PumpEventKind::Completed,
        t0 + 2_000_000,
        None,
        Some(200.0),
    );
    let mut messages = Vec::new();
    for (i, e) in [started, done].iter().enumerate() {
        let text =
            infusio_interop::pcd::build_pump_event("PUMP7", "00AA", e, &format!("P7-{i}"), t0);
        let ack = send(h.addr, &text).await;
        messages.push(ack_of(&ack));
        validate(&[(format!("pcd01_{i}"), text), (format!("ack_{i}"), ack)]);
    }
    assert_eq!(messages[0].0, AckCode::Accept, "{:?}", messages[0].2);
    assert_eq!(messages[1].0, AckCode::Accept, "{:?}", messages[1].2);
    assert!(
        messages[1]
            .2
            .iter()
            .any(|m| m.contains("volume infused 200 mL differs from the programmed 250 mL")),
        "{:?}",
        messages[1].2
    );
    let a = h
        .app
        .store()
        .get::<Administration>(&admin_id)
        .await
        .expect("read")
        .expect("admin");
    assert_eq!(a.data.status, "completed");
    let events = find::<AdministrationEvent>(&h.app, "administration_id", &admin_id)
        .await
        .expect("events");
    let stop = events.iter().find(|e| e.data.kind == "stop").expect("stop");
    assert_eq!(stop.data.detail_json["volume_infused_ml"], json!(200.0));
    assert!(stop.data.detail_json["reconciliation"].is_string());
}

/// Validates with hl7apy when INFUSIO_TEST_PYTHON is set (see crates/interop/tests).
fn validate(messages: &[(String, String)]) {
    let Some(python) = std::env::var_os("INFUSIO_TEST_PYTHON") else {
        assert!(
            std::env::var_os("INFUSIO_REQUIRE_VALIDATORS").is_none(),
            "INFUSIO_REQUIRE_VALIDATORS is set but INFUSIO_TEST_PYTHON is not"
        );
        eprintln!("note: INFUSIO_TEST_PYTHON is not set; HL7 messages not checked by hl7apy");
        return;
    };
    let tmp = infusio_testkit::TempDir::new("gateway-hl7");
    let dir = tmp.path();
    let mut paths = Vec::new();
    for (name, text) in messages {
        let p = dir.join(format!("{name}.hl7"));
        std::fs::write(&p, text).expect("write");
        paths.push(p);
    }
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop/tests/validate_hl7.py");
    let out = std::process::Command::new(python)
        .arg(script)
        .args(&paths)
        .output()
        .expect("run python");
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    drop(tmp);
    assert!(out.status.success(), "hl7apy refused a message:\n{report}");
    assert_eq!(
        report.lines().filter(|l| l.starts_with("ok ")).count(),
        messages.len(),
        "{report}"
    );
}
