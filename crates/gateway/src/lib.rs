//! `infusio-gateway`: the HL7 v2 gateway. An MLLP listener reads ADT A01/A04/A08, ORU^R01 lab
//! results and IHE PCD-01 pump events into the record through `infusio-app`, and answers each
//! with an ACK (AA, AE or AR, MSA-2 = the message's MSH-10); [`Gateway::program_pump`] sends a
//! verified order's programme to a pump as IHE PCD-03 `RGV^O15`; [`pump_sim`] is a simulated
//! pump for demos and tests.
//!
//! Invariants:
//! - Every message received is answered and logged (`interface_inbound`), whatever its
//!   content; bytes that are not a message are logged too. Only an operating failure of the
//!   record (the database unreachable) leaves a message unlogged, answered AE so the sender
//!   retries.
//! - A message is applied at most once per (MSH-3, MSH-10): a redelivery gets the first
//!   answer again; a different message under a used MSH-10 is refused (AR).
//! - Messages are applied one at a time (one lock), so two deliveries of one message cannot
//!   race.
//! - No input can panic the listener: parsing and framing are total (`infusio-interop`), and
//!   each connection runs in its own task.
#![warn(clippy::too_many_lines)] // production functions stay under 100 lines (clippy.toml)

pub mod pump_sim;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use infusio_app::interface::{
    InboundRecord, InterfaceObservation, InterfacePatient, ObservationKind, Provenance,
    PumpEventInput, PumpEventKind,
};
use infusio_app::{Actor, App, AppError};
use infusio_interop::ack::{
    AckCode, AckReply, ErrorCondition, Problem, Sender, build_ack, read_ack,
};
use infusio_interop::codes::Target;
use infusio_interop::hl7::{Header, Message};
use infusio_interop::inbound::{Inbound, Observation, read};
use infusio_interop::mllp::{self, Decoder, Frame};
use infusio_interop::pcd::{ProgrammeStep, PumpProgramme, build_rgv_o15};
use infusio_store::records::{Administration, Order, Patient};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

/// Settings of the gateway. Every field documents its default.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// MSH-3/MSH-4 of what the gateway sends. Default `INFUSIO`/`INFUSIO`.
    pub sender: Sender,
    /// The largest MLLP frame read, bytes. Default 1 MiB (the parser's limit).
    pub max_frame_bytes: usize,
    /// How long to wait for a pump's answer to a programme, seconds. Default 30.
    pub pump_reply_timeout_s: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            sender: Sender::default(),
            max_frame_bytes: infusio_interop::hl7::MAX_MESSAGE_BYTES,
            pump_reply_timeout_s: 30,
        }
    }
}

/// The gateway: the application, the interface identity, the settings.
pub struct Gateway {
    app: App,
    actor: Actor,
    config: GatewayConfig,
    lock: Mutex<()>,
    counter: AtomicU64,
}

/// Why the gateway could not program a pump.
#[derive(Debug)]
pub enum PumpError {
    Record(AppError),
    /// The administration, order or patient does not allow a programme (named).
    NotReady(String),
    Io(std::io::Error),
    /// The pump answered something that is not an acknowledgement.
    BadReply(String),
}

impl std::fmt::Display for PumpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PumpError::Record(e) => write!(f, "{e}"),
            PumpError::NotReady(m) => write!(f, "{m}"),
            PumpError::Io(e) => write!(f, "talking to the pump: {e}"),
            PumpError::BadReply(m) => write!(f, "the pump's reply: {m}"),
        }
    }
}

impl std::error::Error for PumpError {}

impl From<AppError> for PumpError {
    fn from(e: AppError) -> Self {
        PumpError::Record(e)
    }
}

impl From<std::io::Error> for PumpError {
    fn from(e: std::io::Error) -> Self {
        PumpError::Io(e)
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The application error as an acknowledgement problem, or None for an operating failure
/// (which is answered AE but not logged, so that the sender's retry is applied).
fn problem_of(e: &AppError) -> Option<Problem> {
    let condition = match e {
        AppError::NotFound { .. } => ErrorCondition::UnknownKeyIdentifier,
        AppError::Invalid(_) => ErrorCondition::DataTypeError,
        AppError::Conflict(_) => ErrorCondition::DuplicateKeyIdentifier,
        AppError::Stale { .. } => ErrorCondition::ApplicationRecordLocked,
        AppError::Internal(_) => return None,
        _ => ErrorCondition::ApplicationInternalError,
    };
    Some(Problem::new(condition, e.to_string()))
}

fn observation(o: &Observation) -> InterfaceObservation {
    InterfaceObservation {
        kind: match o.target {
            Target::Weight => ObservationKind::Weight,
            Target::Height => ObservationKind::Height,
            Target::Lab(name) => ObservationKind::Lab(name.to_string()),
        },
        code: o.loinc.clone(),
        value: o.value,
        unit: o.unit.to_string(),
        as_given: o.as_given.clone(),
        observed_at_us: o.observed_at_us,
    }
}

impl Gateway {
    /// Prepares the interface identity. The inbound message log is a table of the store's
    /// schema (migration 4), created when the record is migrated, not here.
    pub async fn new(app: App, config: GatewayConfig) -> Result<Gateway, AppError> {
        let actor = app.interface_actor().await?;
        Ok(Gateway {
            app,
            actor,
            config,
            lock: Mutex::new(()),
            counter: AtomicU64::new(0),
        })
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    /// The identity inbound messages act as.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    fn next_control_id(&self) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        format!("INF{}{n:04}", self.app.now_us())
    }

    async fn log(&self, record: InboundRecord) {
        if let Err(e) = self.app.inbound_record(&record).await {
            tracing::error!(error = %e, sender = %record.sender, control_id = %record.control_id, "HL7 inbound log write failed");
        }
    }

    /// Answers bytes that arrived outside any MLLP frame or in a frame too long to read: AR,
    /// logged with what was seen.
    pub async fn handle_unframed(&self, what: &str) -> String {
        let problem = Problem::new(ErrorCondition::SegmentSequence, what.to_string());
        let ack = build_ack(
            &self.config.sender,
            None,
            AckCode::Reject,
            std::slice::from_ref(&problem),
            &self.next_control_id(),
            self.app.now_us(),
        );
        let now = self.app.now_us();
        self.log(InboundRecord {
            sender: String::new(),
            control_id: format!(
                "unframed:{now}:{}",
                self.counter.fetch_add(1, Ordering::Relaxed)
            ),
            message_hash: sha256_hex(what.as_bytes()),
            message_type: String::new(),
            received_at_us: now,
            ack_code: "AR".into(),
            ack_text: ack.clone(),
            outcome: what.to_string(),
            message_text: String::new(),
        })
        .await;
        ack
    }

    /// Reads, applies and acknowledges one message (the content of one MLLP frame). Returns
    /// the acknowledgement text.
    #[expect(
        clippy::too_many_lines,
        reason = "one HL7 message's dispatch by type: to be split when sender trust and lab-feed rules arrive (interoperability work)"
    )]
    pub async fn handle(&self, bytes: &[u8]) -> String {
        let hash = sha256_hex(bytes);
        let text = String::from_utf8_lossy(bytes).into_owned();
        let now = self.app.now_us();
        let message = match Message::parse_bytes(bytes) {
            Ok(m) => m,
            Err(e) => {
                let problem = Problem::new(ErrorCondition::SegmentSequence, e.to_string());
                let ack = build_ack(
                    &self.config.sender,
                    None,
                    AckCode::Reject,
                    std::slice::from_ref(&problem),
                    &self.next_control_id(),
                    now,
                );
                self.log(InboundRecord {
                    sender: String::new(),
                    control_id: format!("sha256:{hash}"),
                    message_hash: hash,
                    message_type: String::new(),
                    received_at_us: now,
                    ack_code: "AR".into(),
                    ack_text: ack.clone(),
                    outcome: format!("not an HL7 message: {e}"),
                    message_text: text,
                })
                .await;
                return ack;
            }
        };
        let header = message.header();
        let sender = message
            .segments
            .first()
            .map(|msh| message.components(msh, 3, 0).join("^"))
            .unwrap_or_default();
        let message_type = format!("{}^{}", header.message_code, header.trigger_event);
        let _guard = self.lock.lock().await;
        let key = if header.control_id.is_empty() {
            format!("sha256:{hash}")
        } else {
            header.control_id.clone()
        };
        match self.app.inbound_seen(&sender, &key).await {
            Ok(Some(seen)) if seen.message_hash == hash => return seen.ack_text,
            Ok(Some(_)) => {
                let problem = Problem::new(
                    ErrorCondition::DuplicateKeyIdentifier,
                    format!(
                        "MSH-10 {} from {sender} was already used for a different message; a new message needs a new control id",
                        header.control_id
                    ),
                )
                .at("MSH", 1, 10);
                let ack = build_ack(
                    &self.config.sender,
                    Some(&header),
                    AckCode::Reject,
                    std::slice::from_ref(&problem),
                    &self.next_control_id(),
                    now,
                );
                self.log(InboundRecord {
                    sender,
                    control_id: format!("{key}#sha256:{hash}"),
                    message_hash: hash,
                    message_type,
                    received_at_us: now,
                    ack_code: "AR".into(),
                    ack_text: ack.clone(),
                    outcome: problem.to_string(),
                    message_text: text,
                })
                .await;
                return ack;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "HL7 inbound log read failed");
                return self.internal_error(&header, now);
            }
        }
        let (code, problems, outcome) = match read(&message).1 {
            Err(refusal) => {
                let outcome = refusal
                    .problems
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join("; ");
                (refusal.code, refusal.problems, outcome)
            }
            Ok(inbound) => {
                let provenance = Provenance {
                    sender: sender.clone(),
                    control_id: header.control_id.clone(),
                    message_type: message_type.clone(),
                    pump: None,
                };
                match self.apply(inbound, &provenance).await {
                    Ok((outcome, remarks)) => (
                        AckCode::Accept,
                        remarks
                            .into_iter()
                            .map(|r| Problem::new(ErrorCondition::MessageAccepted, r))
                            .collect(),
                        outcome,
                    ),
                    Err(e) => match problem_of(&e) {
                        Some(p) => {
                            let outcome = p.to_string();
                            (AckCode::Error, vec![p], outcome)
                        }
                        None => {
                            tracing::error!(error = %e, control_id = %header.control_id, "applying an HL7 message failed");
                            return self.internal_error(&header, now);
                        }
                    },
                }
            }
        };
        let ack = build_ack(
            &self.config.sender,
            Some(&header),
            code,
            &problems,
            &self.next_control_id(),
            now,
        );
        self.log(InboundRecord {
            sender,
            control_id: key,
            message_hash: hash,
            message_type,
            received_at_us: now,
            ack_code: code.as_str().into(),
            ack_text: ack.clone(),
            outcome,
            message_text: text,
        })
        .await;
        ack
    }

    fn internal_error(&self, header: &Header, now: i64) -> String {
        build_ack(
            &self.config.sender,
            Some(header),
            AckCode::Error,
            &[Problem::new(
                ErrorCondition::ApplicationInternalError,
                "the record is unavailable; the message was not applied, send it again",
            )],
            &self.next_control_id(),
            now,
        )
    }

    /// Applies a message; returns what was done and remarks for the sender.
    async fn apply(
        &self,
        inbound: Inbound,
        provenance: &Provenance,
    ) -> Result<(String, Vec<String>), AppError> {
        match inbound {
            Inbound::Adt(a) => {
                let observations: Vec<InterfaceObservation> =
                    a.observations.iter().map(observation).collect();
                let (p, created) = self
                    .app
                    .interface_admit(
                        &self.actor,
                        &InterfacePatient {
                            mrn: a.patient.mrn,
                            family_name: a.patient.family_name,
                            given_name: a.patient.given_name,
                            birth_date: a.patient.birth_date,
                            sex: a.patient.sex,
                        },
                        &observations,
                        provenance,
                    )
                    .await?;
                Ok((
                    format!(
                        "ADT^{}: patient {} (MRN {}) {}; {} observation(s) recorded",
                        a.event,
                        p.id,
                        p.data.mrn,
                        if created { "registered" } else { "updated" },
                        observations.len()
                    ),
                    Vec::new(),
                ))
            }
            Inbound::Labs(l) => {
                let observations: Vec<InterfaceObservation> =
                    l.observations.iter().map(observation).collect();
                let p = self
                    .app
                    .interface_results(&self.actor, &l.mrn, &observations, provenance)
                    .await?;
                Ok((
                    format!(
                        "ORU^R01: {} result(s) recorded for patient {} (MRN {})",
                        observations.len(),
                        p.id,
                        p.data.mrn
                    ),
                    Vec::new(),
                ))
            }
            Inbound::Pump(e) => {
                let source = Provenance {
                    pump: Some(e.pump.clone()),
                    ..provenance.clone()
                };
                let out = self
                    .app
                    .interface_pump_event(
                        &self.actor,
                        &PumpEventInput {
                            order_id: e.order_id.clone(),
                            administration_id: Some(e.administration_id.clone())
                                .filter(|a| !a.is_empty()),
                            kind: pump_event_kind(e.kind),
                            at_us: e.at_us,
                            rate_ml_per_h: e.rate_ml_per_h,
                            volume_infused_ml: e.volume_infused_ml,
                            source,
                        },
                    )
                    .await?;
                Ok((
                    format!(
                        "pump event {} for administration {} (now {})",
                        e.kind.as_str(),
                        out.administration_id,
                        out.status
                    ),
                    out.remarks,
                ))
            }
        }
    }

    /// Serves MLLP on `listener` until `shutdown` resolves. Each connection runs in its own
    /// task; a failing connection never stops the listener.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> std::io::Result<()> {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let gateway = Arc::clone(&self);
                        tokio::spawn(async move {
                            if let Err(e) = gateway.connection(stream).await {
                                tracing::warn!(%peer, error = %e, "MLLP connection ended with an error");
                            }
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors and similar: wait a little, keep listening.
                        tracing::warn!(error = %e, "MLLP accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
    }

    async fn connection(&self, mut stream: TcpStream) -> std::io::Result<()> {
        let mut decoder = Decoder::new(self.config.max_frame_bytes);
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                let pending = decoder.pending_garbage();
                if pending > 0 {
                    self.handle_unframed(&format!(
                        "{pending} byte(s) outside a complete MLLP frame when the connection closed"
                    ))
                    .await;
                }
                return Ok(());
            }
            for frame in decoder.push(&buf[..n]) {
                let reply = match frame {
                    Frame::Message(bytes) => self.handle(&bytes).await,
                    Frame::Garbage { bytes } => {
                        self.handle_unframed(&format!(
                            "{bytes} byte(s) outside an MLLP frame (<VT> message <FS><CR>) were skipped"
                        ))
                        .await
                    }
                    Frame::TooLarge { bytes } => {
                        self.handle_unframed(&format!(
                            "an MLLP frame of {bytes} bytes exceeds the limit of {} bytes and was skipped",
                            self.config.max_frame_bytes
                        ))
                        .await
                    }
                };
                stream.write_all(&mllp::encode(reply.as_bytes())).await?;
            }
        }
    }

    /// The PCD-03 programme of an administration in progress: the verified order's pump
    /// steps, drug, dose and bag, the patient, the care area and the latest weight.
    pub async fn programme(&self, administration_id: &str) -> Result<PumpProgramme, PumpError> {
        let store = self.app.store();
        let a = store
            .get::<Administration>(administration_id)
            .await
            .map_err(AppError::from)?
            .ok_or_else(|| {
                PumpError::NotReady(format!("administration {administration_id} not found"))
            })?;
        if a.data.status != "in_progress" {
            return Err(PumpError::NotReady(format!(
                "administration {administration_id} is {}; a programme is sent after the bedside scan, while it is in progress",
                a.data.status
            )));
        }
        let o = store
            .get::<Order>(&a.data.order_id)
            .await
            .map_err(AppError::from)?
            .ok_or_else(|| PumpError::NotReady("the administration's order is missing".into()))?;
        let p = store
            .get::<Patient>(&o.data.patient_id)
            .await
            .map_err(AppError::from)?
            .ok_or_else(|| PumpError::NotReady("the order's patient is missing".into()))?;
        let mut steps: Vec<ProgrammeStep> = o.data.pump_programme_json["steps"]
            .as_array()
            .map(|s| {
                s.iter()
                    .filter_map(|s| {
                        Some(ProgrammeStep {
                            rate_ml_per_h: s["rate_ml_per_h"].as_f64()?,
                            vtbi_ml: s["vtbi_ml"].as_f64()?,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let bag_volume_ml = o
            .data
            .final_volume_ml
            .as_ref()
            .map(infusio_app::patients::number);
        if steps.is_empty()
            && let (Some(r), Some(v)) = (
                infusio_app::interface::order_rate_ml_per_h(&o.data),
                bag_volume_ml,
            )
        {
            steps.push(ProgrammeStep {
                rate_ml_per_h: r,
                vtbi_ml: v,
            });
        }
        let Some(bag_volume_ml) = bag_volume_ml.filter(|_| !steps.is_empty()) else {
            return Err(PumpError::NotReady(format!(
                "order {} has no pump programme (rate and volume)",
                o.id
            )));
        };
        let dose = infusio_app::patients::number(&o.data.dose);
        let weight_kg = self
            .app
            .context(&p.id, self.app.now_us())
            .await?
            .weight_kg
            .map(|(w, _)| w);
        let drug_name = self
            .app
            .library()
            .get(&o.data.drug_id)
            .map(|d| d.generic_name.clone())
            .unwrap_or_else(|| o.data.drug_id.clone());
        Ok(PumpProgramme {
            order_id: o.id.clone(),
            administration_id: a.id.clone(),
            mrn: p.data.mrn.clone(),
            family_name: p.data.family_name.clone(),
            given_name: p.data.given_name.clone(),
            birth_date: p.data.birth_date.clone(),
            drug_id: o.data.drug_id.clone(),
            drug_name,
            dose_amount: dose,
            dose_unit: o.data.dose_unit.clone(),
            bag_amount: dose,
            bag_volume_ml,
            steps,
            care_area: self.app.config().care_area.clone(),
            weight_kg,
        })
    }

    /// Builds the PCD-03 `RGV^O15` of an administration in progress (see [`Gateway::programme`]).
    pub async fn rgv_o15(&self, administration_id: &str, pump: &str) -> Result<String, PumpError> {
        let p = self.programme(administration_id).await?;
        Ok(build_rgv_o15(
            &self.config.sender,
            pump,
            &p,
            &self.next_control_id(),
            self.app.now_us(),
        ))
    }

    /// Sends the programme of an administration in progress to the pump at `pump` over MLLP
    /// and returns its answer (`RRG^O16`: accepted, or refused with the reasons).
    pub async fn program_pump(
        &self,
        administration_id: &str,
        pump: SocketAddr,
    ) -> Result<AckReply, PumpError> {
        let message = self.rgv_o15(administration_id, "PUMP").await?;
        let sent_control_id = Message::parse(&message)
            .map(|m| m.header().control_id)
            .unwrap_or_default();
        let reply = exchange(
            pump,
            &message,
            Duration::from_secs(self.config.pump_reply_timeout_s),
        )
        .await?;
        let m = Message::parse_bytes(&reply).map_err(|e| PumpError::BadReply(e.to_string()))?;
        let h = m.header();
        // PCD-03 answers RRG^O16; a plain ACK is how some pump gateways refuse outright.
        if !matches!(
            (h.message_code.as_str(), h.trigger_event.as_str()),
            ("RRG", "O16") | ("ACK", _)
        ) {
            return Err(PumpError::BadReply(format!(
                "{}^{} is not RRG^O16",
                h.message_code, h.trigger_event
            )));
        }
        let ack = read_ack(&m).map_err(|p| PumpError::BadReply(p.to_string()))?;
        if ack.acknowledged_control_id != sent_control_id {
            return Err(PumpError::BadReply(format!(
                "MSA-2 {} does not name the programme sent ({sent_control_id})",
                ack.acknowledged_control_id
            )));
        }
        Ok(ack)
    }
}

/// Sends one message over a new MLLP connection and returns the first frame answered.
pub async fn exchange(
    to: SocketAddr,
    message: &str,
    timeout: Duration,
) -> Result<Vec<u8>, std::io::Error> {
    let mut stream = tokio::time::timeout(timeout, TcpStream::connect(to))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    send_and_receive(&mut stream, &mut Decoder::new(1 << 20), message, timeout).await
}

/// Sends one message on an open MLLP connection and waits for the next frame.
pub async fn send_and_receive(
    stream: &mut TcpStream,
    decoder: &mut Decoder,
    message: &str,
    timeout: Duration,
) -> Result<Vec<u8>, std::io::Error> {
    stream.write_all(&mllp::encode(message.as_bytes())).await?;
    let mut buf = vec![0u8; 16 * 1024];
    let read = async {
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the peer closed the connection before answering",
                ));
            }
            for frame in decoder.push(&buf[..n]) {
                if let Frame::Message(bytes) = frame {
                    return Ok(bytes);
                }
            }
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in time"))?
}

/// The record's name for what a pump reported.
fn pump_event_kind(k: infusio_interop::pcd::PumpEventKind) -> PumpEventKind {
    use infusio_interop::pcd::PumpEventKind as P;
    match k {
        P::Started => PumpEventKind::Started,
        P::RateChanged => PumpEventKind::RateChanged,
        P::Paused => PumpEventKind::Paused,
        P::Resumed => PumpEventKind::Resumed,
        P::Completed => PumpEventKind::Completed,
    }
}
