//! A simulated infusion pump for demos and tests. It listens for IHE PCD-03 `RGV^O15`
//! programmes over MLLP, answers `RRG^O16` (accepted, or refused with the reason), runs an
//! accepted programme on a compressed clock and reports what it does as PCD-01 `ORU^R01`
//! events to the gateway: started, optionally a rate change keyed at the pump part-way
//! through, the step changes of a multistep programme, and completed with the volume
//! infused.
//!
//! Time: the simulated pump runs `time_scale` times faster than real time, and reports the
//! instants of its own (real) clock, as a pump does; the volumes it reports are those of the
//! programme in simulated time. With `time_scale = 1` it is a real-time pump.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use infusio_interop::ack::{
    AckCode, AckReply, ErrorCondition, Problem, Sender, build_reply, read_ack,
};
use infusio_interop::hl7::Message;
use infusio_interop::mllp::{self, Decoder, Frame};
use infusio_interop::pcd::{
    PumpEvent, PumpEventKind, PumpProgramme, build_pump_event, read_rgv_o15,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// A rate change keyed at the pump during the first step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateChange {
    /// When, as a fraction (0 to 1) of the first step's volume.
    pub after_fraction: f64,
    /// The new rate, mL/h.
    pub rate_ml_per_h: f64,
}

/// Settings of the simulated pump. Every field documents its default.
#[derive(Debug, Clone)]
pub struct PumpSimConfig {
    /// MSH-3.1 of its messages. Default `PUMPSIM`.
    pub application: String,
    /// Its EUI-64 device id (MSH-3.2). Default `0012A1FFFE000001`.
    pub device_id: String,
    /// The gateway's MLLP address, where PCD-01 events go.
    pub gateway: SocketAddr,
    /// Simulated seconds per real second. Default 60.
    pub time_scale: f64,
    /// The pump's rate limit, mL/h; a faster programme is refused. Default 999.
    pub max_rate_ml_per_h: f64,
    /// A rate change keyed at the pump, if any. Default none.
    pub rate_change: Option<RateChange>,
    /// How long to wait for the gateway's ACK, seconds. Default 30.
    pub ack_timeout_s: u64,
}

impl PumpSimConfig {
    pub fn new(gateway: SocketAddr) -> PumpSimConfig {
        PumpSimConfig {
            application: "PUMPSIM".into(),
            device_id: "0012A1FFFE000001".into(),
            gateway,
            time_scale: 60.0,
            max_rate_ml_per_h: 999.0,
            rate_change: None,
            ack_timeout_s: 30,
        }
    }
}

/// One event the pump sent and the gateway's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SentEvent {
    pub event: PumpEvent,
    pub message: String,
    pub ack: Result<AckReply, String>,
}

/// What one programme run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub programme: PumpProgramme,
    pub events: Vec<SentEvent>,
}

/// The simulated pump.
pub struct PumpSim {
    config: PumpSimConfig,
    counter: AtomicU64,
    runs: mpsc::UnboundedSender<Run>,
}

impl PumpSim {
    /// A pump and the receiver of its finished runs.
    pub fn new(config: PumpSimConfig) -> (Arc<PumpSim>, mpsc::UnboundedReceiver<Run>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Arc::new(PumpSim {
                config,
                counter: AtomicU64::new(0),
                runs: tx,
            }),
            rx,
        )
    }

    fn control_id(&self) -> String {
        format!(
            "PS{}{:04}",
            device_now_us(),
            self.counter.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// Checks a programme against the pump's limits.
    fn refusal(&self, p: &PumpProgramme) -> Option<String> {
        if p.steps.is_empty() {
            return Some("the programme has no step".into());
        }
        for (i, s) in p.steps.iter().enumerate() {
            if !(s.rate_ml_per_h > 0.0 && s.rate_ml_per_h <= self.config.max_rate_ml_per_h) {
                return Some(format!(
                    "step {}: rate {} mL/h is outside this pump's 0 to {} mL/h",
                    i + 1,
                    s.rate_ml_per_h,
                    self.config.max_rate_ml_per_h
                ));
            }
            if s.vtbi_ml.is_nan() || s.vtbi_ml <= 0.0 {
                return Some(format!(
                    "step {}: a volume to be infused > 0 mL is needed",
                    i + 1
                ));
            }
        }
        None
    }

    /// Answers one PCD-03 message: the `RRG^O16` text and the programme if accepted.
    pub fn answer(&self, bytes: &[u8]) -> (String, Option<PumpProgramme>) {
        let now = device_now_us();
        let sender = Sender {
            application: self.config.application.clone(),
            facility: String::new(),
        };
        let reply = |code, problems: &[Problem], header| {
            build_reply(
                &sender,
                header,
                ["RRG", "O16", "RRG_O16"],
                code,
                problems,
                &self.control_id(),
                now,
            )
        };
        let m = match Message::parse_bytes(bytes) {
            Ok(m) => m,
            Err(e) => {
                return (
                    reply(
                        AckCode::Reject,
                        &[Problem::new(ErrorCondition::SegmentSequence, e.to_string())],
                        None,
                    ),
                    None,
                );
            }
        };
        let header = m.header();
        match read_rgv_o15(&m) {
            Err(r) => (reply(r.code, &r.problems, Some(&header)), None),
            Ok(p) => match self.refusal(&p) {
                Some(why) => (
                    reply(
                        AckCode::Error,
                        &[Problem::new(ErrorCondition::DataTypeError, why).at("RXG", 1, 15)],
                        Some(&header),
                    ),
                    None,
                ),
                None => (reply(AckCode::Accept, &[], Some(&header)), Some(p)),
            },
        }
    }

    /// Listens for programmes until `shutdown` resolves; each accepted programme runs in its
    /// own task.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let pump = Arc::clone(&self);
                    tokio::spawn(async move { pump.connection(stream).await });
                }
            }
        }
    }

    async fn connection(self: Arc<Self>, mut stream: TcpStream) {
        let mut decoder = Decoder::new(1 << 20);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            for frame in decoder.push(&buf[..n]) {
                let Frame::Message(bytes) = frame else {
                    continue;
                };
                let (reply, programme) = self.answer(&bytes);
                if stream
                    .write_all(&mllp::encode(reply.as_bytes()))
                    .await
                    .is_err()
                {
                    return;
                }
                if let Some(p) = programme {
                    let pump = Arc::clone(&self);
                    tokio::spawn(async move {
                        let run = pump.run(p).await;
                        let _ = pump.runs.send(run);
                    });
                }
            }
        }
    }

    /// The events of a programme: (simulated seconds from the start, kind, rate, volume).
    pub fn schedule(&self, p: &PumpProgramme) -> Vec<(f64, PumpEventKind, Option<f64>, f64)> {
        let mut out = Vec::new();
        let mut t_s = 0.0;
        let mut volume_ml = 0.0;
        for (i, step) in p.steps.iter().enumerate() {
            let mut rate = step.rate_ml_per_h;
            let kind = if i == 0 {
                PumpEventKind::Started
            } else {
                PumpEventKind::RateChanged
            };
            out.push((t_s, kind, Some(rate), volume_ml));
            let mut remaining = step.vtbi_ml;
            if i == 0
                && let Some(rc) = self.config.rate_change
                && rc.after_fraction > 0.0
                && rc.after_fraction < 1.0
                && rc.rate_ml_per_h > 0.0
            {
                let first = step.vtbi_ml * rc.after_fraction;
                t_s += first / rate * 3600.0;
                volume_ml += first;
                remaining -= first;
                rate = rc.rate_ml_per_h.min(self.config.max_rate_ml_per_h);
                out.push((t_s, PumpEventKind::RateChanged, Some(rate), volume_ml));
            }
            t_s += remaining / rate * 3600.0;
            volume_ml += remaining;
        }
        out.push((t_s, PumpEventKind::Completed, None, volume_ml));
        out
    }

    /// Runs a programme: sends each event when its (compressed) time comes.
    pub async fn run(&self, p: PumpProgramme) -> Run {
        let start_us = device_now_us();
        let scale = if self.config.time_scale > 0.0 {
            self.config.time_scale
        } else {
            1.0
        };
        let timeout = Duration::from_secs(self.config.ack_timeout_s);
        let mut events = Vec::new();
        let mut connection: Option<(TcpStream, Decoder)> = None;
        for (t_s, kind, rate, volume) in self.schedule(&p) {
            let real_offset_us = (t_s / scale * 1e6).round() as i64;
            let at_us = start_us + real_offset_us;
            let wait = at_us - device_now_us();
            if wait > 0 {
                tokio::time::sleep(Duration::from_micros(wait as u64)).await;
            }
            let event = PumpEvent {
                pump: format!(
                    "{}^{}^EUI-64",
                    self.config.application, self.config.device_id
                ),
                order_id: p.order_id.clone(),
                administration_id: p.administration_id.clone(),
                mrn: p.mrn.clone(),
                family_name: p.family_name.clone(),
                given_name: p.given_name.clone(),
                kind,
                at_us,
                rate_ml_per_h: rate,
                volume_infused_ml: Some((volume * 1000.0).round() / 1000.0),
            };
            let message = build_pump_event(
                &self.config.application,
                &self.config.device_id,
                &event,
                &self.control_id(),
                device_now_us(),
            );
            if connection.is_none() {
                connection = TcpStream::connect(self.config.gateway)
                    .await
                    .ok()
                    .map(|s| (s, Decoder::new(1 << 20)));
            }
            let ack = match connection.as_mut() {
                None => Err(format!(
                    "cannot connect to the gateway at {}",
                    self.config.gateway
                )),
                Some((stream, decoder)) => {
                    match crate::send_and_receive(stream, decoder, &message, timeout).await {
                        Ok(bytes) => Message::parse_bytes(&bytes)
                            .map_err(|e| e.to_string())
                            .and_then(|m| read_ack(&m).map_err(|e| e.to_string())),
                        Err(e) => {
                            connection = None;
                            Err(e.to_string())
                        }
                    }
                }
            };
            events.push(SentEvent {
                event,
                message,
                ack,
            });
        }
        Run {
            programme: p,
            events,
        }
    }
}

/// The simulated pump's own clock (a real pump has one too, and it may drift from the
/// server's), µs since the Unix epoch.
fn device_now_us() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_micros()).unwrap_or(i64::MAX)
}
