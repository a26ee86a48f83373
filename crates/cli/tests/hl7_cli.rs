//! The HL7 command-line path end to end with the real binaries: `infusio serve --mllp-port`
//! acknowledges an ADT over MLLP; `infusio pump-sim` accepts a PCD-03 programme (RRG^O16 AA)
//! and reports its PCD-01 events to that gateway, which refuses them (AE) because no
//! administration of that order was started at the bedside; bad pump-sim arguments exit 2.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use infusio_interop::ack::{AckCode, Sender, read_ack};
use infusio_interop::hl7::Message;
use infusio_interop::mllp::{Decoder, Frame, encode};
use infusio_interop::pcd::{ProgrammeStep, PumpProgramme, build_rgv_o15};

const WAIT: Duration = Duration::from_secs(60);

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for(addr: SocketAddr) {
    for _ in 0..600 {
        if TcpStream::connect(addr).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing listens on {addr}");
}

fn exchange(addr: SocketAddr, message: &str) -> Message {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s.write_all(&encode(message.as_bytes())).expect("write");
    let mut d = Decoder::new(1 << 20);
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).expect("an answer");
        assert!(n > 0, "closed without an answer");
        for f in d.push(&buf[..n]) {
            if let Frame::Message(b) = f {
                return Message::parse_bytes(&b).expect("the answer parses");
            }
        }
    }
}

#[test]
fn serve_with_mllp_and_the_pump_simulator_talk_hl7() {
    let bin = env!("CARGO_BIN_EXE_infusio");
    let dir = std::env::temp_dir().join(format!("infusio-hl7-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (http, mllp, pump) = (free_port(), free_port(), free_port());
    let gateway: SocketAddr = format!("127.0.0.1:{mllp}").parse().expect("addr");
    let pump_addr: SocketAddr = format!("127.0.0.1:{pump}").parse().expect("addr");
    let _serve = Killed(
        Command::new(bin)
            .args(["serve", "--listen", &format!("127.0.0.1:{http}")])
            .args(["--mllp-port", &mllp.to_string()])
            .arg("--data-dir")
            .arg(PathBuf::from(&dir))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts"),
    );
    wait_for(gateway);
    let adt = "MSH|^~\\&|ADT|HOSP|INFUSIO|CLINIC|20261126081500+0000||ADT^A04^ADT_A01|CLI-1|P|2.6\r\
               EVN|A04|20261126081500+0000\r\
               PID|1||CLI1^^^HOSP^MR||Test^Ada||19800101|F\r\
               OBX|1|NM|29463-7^Body weight^LN||61.5|kg|||||F\r";
    let ack = read_ack(&exchange(gateway, adt)).expect("an ACK");
    assert_eq!(
        (ack.code, ack.acknowledged_control_id.as_str()),
        (AckCode::Accept, "CLI-1"),
        "{:?}",
        ack.messages
    );

    let mut sim = Killed(
        Command::new(bin)
            .args(["pump-sim", "--listen", &pump_addr.to_string()])
            .args(["--gateway", &gateway.to_string(), "--time-scale", "100000"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("pump-sim starts"),
    );
    let stdout = sim.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    wait_for(pump_addr);
    let programme = PumpProgramme {
        order_id: "order-never-started".into(),
        administration_id: String::new(),
        mrn: "CLI1".into(),
        family_name: "Test".into(),
        given_name: "Ada".into(),
        birth_date: "1980-01-01".into(),
        drug_id: "vancomycin".into(),
        drug_name: "vancomycin".into(),
        dose_amount: 1000.0,
        dose_unit: "mg".into(),
        bag_amount: 1000.0,
        bag_volume_ml: 250.0,
        steps: vec![ProgrammeStep {
            rate_ml_per_h: 125.0,
            vtbi_ml: 250.0,
        }],
        care_area: "adult-infusion".into(),
        weight_kg: Some(61.5),
    };
    let rgv = build_rgv_o15(
        &Sender::default(),
        "PUMP",
        &programme,
        "RGV-CLI-1",
        1_795_000_000_000_000,
    );
    let reply = exchange(pump_addr, &rgv);
    assert_eq!(reply.header().structure, "RRG_O16");
    let ack = read_ack(&reply).expect("MSA");
    assert_eq!(
        (ack.code, ack.acknowledged_control_id.as_str()),
        (AckCode::Accept, "RGV-CLI-1")
    );
    // The pump reports start and completion; the gateway refuses both, naming the reason.
    let lines: Vec<String> = (0..2)
        .map(|_| rx.recv_timeout(WAIT).expect("a pump event line"))
        .collect();
    assert!(lines[0].contains("started -> AE"), "{lines:?}");
    assert!(lines[1].contains("completed -> AE"), "{lines:?}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("no administration of order order-never-started")),
        "{lines:?}"
    );
    drop(sim);

    let bad = Command::new(bin)
        .args(["pump-sim", "--time-scale", "0"])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--time-scale"));
    let _ = std::fs::remove_dir_all(&dir);
}
