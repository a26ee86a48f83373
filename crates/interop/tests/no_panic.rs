//! Deterministic robustness runs, bounded by an iteration count (never by the clock): valid
//! messages of every kind this interface reads or builds are mutated by a seeded generator
//! (byte flips, delimiter injection, deletions, duplications, splices, truncations, random
//! bytes), and every result must be typed: a message or a parse error, a read value or a
//! refusal with problems, and no panic. The MLLP decoder gets the same treatment over streams
//! cut at random points. The cargo-fuzz targets in `fuzz/` explore the same entry points with
//! coverage guidance; this runs in every `cargo test`.

use infusio_interop::ack::{AckCode, Sender, build_ack, read_ack};
use infusio_interop::hl7::{Message, Separators, parse_instant};
use infusio_interop::inbound::{Inbound, read};
use infusio_interop::mllp::{Decoder, Frame, encode};
use infusio_interop::pcd::{
    ProgrammeStep, PumpEvent, PumpEventKind, PumpProgramme, build_pump_event, build_rgv_o15,
    read_rgv_o15,
};

/// xoshiro-style generator (splitmix64), seeded: the same seed gives the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let t = 1_795_000_000_000_000;
    let programme = PumpProgramme {
        order_id: "ord".into(),
        administration_id: "adm".into(),
        mrn: "M1".into(),
        family_name: "A|B".into(),
        given_name: "C^D".into(),
        birth_date: "1970-01-01".into(),
        drug_id: "vancomycin".into(),
        drug_name: "vancomycin".into(),
        dose_amount: 1000.0,
        dose_unit: "mg".into(),
        bag_amount: 1000.0,
        bag_volume_ml: 250.0,
        steps: vec![
            ProgrammeStep {
                rate_ml_per_h: 50.0,
                vtbi_ml: 25.0,
            },
            ProgrammeStep {
                rate_ml_per_h: 150.0,
                vtbi_ml: 225.0,
            },
        ],
        care_area: "adult-infusion".into(),
        weight_kg: Some(70.0),
    };
    let event = PumpEvent {
        pump: String::new(),
        order_id: "ord".into(),
        administration_id: "adm".into(),
        mrn: "M1".into(),
        family_name: "A".into(),
        given_name: "B".into(),
        kind: PumpEventKind::Completed,
        at_us: t,
        rate_ml_per_h: Some(125.0),
        volume_infused_ml: Some(250.0),
    };
    let oru = "MSH|^~\\&|LAB|HOSP|INFUSIO|CLINIC|20261126101500+0000||ORU^R01^ORU_R01|L1|P|2.6\rPID|1||M55^^^HOSP^MR\rOBR|1||F1|24323-8^Panel^LN|||202611260800+0000\rOBX|1|NM|14682-9^Creatinine^LN||106|umol/L|||||F\rOBX|2|NM|751-8^ANC^LN||1.8|10*9/L|||||F|||202611260805+0000\r";
    let adt = "MSH|^~\\&|ADT|HOSP|INFUSIO|CLINIC|20261126101500+0100||ADT^A04^ADT_A01|A1|P|2.6\rEVN|A04|20261126101500+0100\rPID|1||X9^^^OTHER^PI~M55^^^HOSP^MR||Ng\\S\\uyen^Linh||19600315|F\rPV1|1|O\rOBX|1|NM|29463-7^Body weight^LN||154|[lb_av]|||||F\rOBX|2|NM|8302-2^Body height^LN||170|cm|||||F|||202611260900+0100\r";
    let original = Message::parse(oru).expect("corpus parses");
    vec![
        oru.as_bytes().to_vec(),
        // A later segment named MSH is an ordinary segment (found by the fuzz target).
        format!("{oru}MSH|^PID|1||x\r").into_bytes(),
        adt.as_bytes().to_vec(),
        adt.replace('\r', "\n").into_bytes(),
        build_rgv_o15(&Sender::default(), "PUMP", &programme, "R1", t).into_bytes(),
        build_pump_event("PUMPSIM", "00AB", &event, "E1", t).into_bytes(),
        build_ack(
            &Sender::default(),
            Some(&original.header()),
            AckCode::Error,
            &[],
            "K1",
            t,
        )
        .into_bytes(),
        "MSH#!@$%#A#B#C#D#20261126101500+0000##ADT!A08#Z1#P#2.6\rPID###M1!!!!MR##X!Y##19700101#M\r"
            .as_bytes()
            .to_vec(),
    ]
}

const DELIMITERS: &[u8] = b"|^~\\&\r\nMSHOBXPID0123456789+-.X";

fn mutate(rng: &mut Rng, base: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..=rng.below(4) {
        let len = v.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(len + 1);
                v.insert(i, DELIMITERS[rng.below(DELIMITERS.len())]);
            }
            2 if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(32)).min(len);
                v.drain(a..b);
            }
            3 if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(64)).min(len);
                let chunk = v[a..b].to_vec();
                let at = rng.below(v.len() + 1);
                v.splice(at..at, chunk);
            }
            4 => {
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(other.len() + 1);
                let at = rng.below(len + 1);
                v.truncate(at);
                v.extend_from_slice(&other[cut..]);
            }
            5 => v.truncate(rng.below(len + 1)),
            6 => {
                let i = rng.below(len + 1);
                let n = rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(i..i, bytes);
            }
            7 if len > 0 => {
                let i = rng.below(len);
                // Multi-byte UTF-8 and escape sequences.
                let pieces: [&[u8]; 6] = [
                    b"\\X41\\",
                    b"\\F\\",
                    b"\\",
                    "é€".as_bytes(),
                    b"\\X0\\",
                    b"\xc3",
                ];
                let p = pieces[rng.below(pieces.len())];
                v.splice(i..i, p.iter().copied());
            }
            _ => {
                // Repeat a delimiter many times (wide fields, deep components).
                let i = rng.below(len + 1);
                let d = DELIMITERS[rng.below(5)];
                let n = rng.below(200);
                v.splice(i..i, std::iter::repeat_n(d, n));
            }
        }
    }
    v
}

/// Runs every reader on one input; every outcome is typed. Returns whether it parsed.
fn exercise(bytes: &[u8]) -> bool {
    let Ok(m) = Message::parse_bytes(bytes) else {
        return false;
    };
    // Encoding is the parser's inverse on anything it accepted.
    let again = Message::parse(&m.encode());
    assert_eq!(
        again.as_ref(),
        Ok(&m),
        "re-parse of {:?}",
        String::from_utf8_lossy(bytes)
    );
    let (_, result) = read(&m);
    match result {
        Ok(Inbound::Adt(a)) => assert!(!a.patient.mrn.is_empty()),
        Ok(Inbound::Labs(l)) => assert!(!l.observations.is_empty()),
        Ok(Inbound::Pump(e)) => assert!(!e.order_id.is_empty()),
        Err(refusal) => assert!(!refusal.problems.is_empty()),
    }
    let _ = read_rgv_o15(&m);
    let _ = read_ack(&m);
    for seg in &m.segments {
        for n in 0..seg.len().min(30) {
            let _ = m.get(seg, n, 1, 3);
            let _ = m.components(seg, n, 0);
            let _ = parse_instant(&m.get(seg, n, 0, 1), Some(0));
        }
    }
    true
}

#[test]
fn mutated_messages_always_get_a_typed_result() {
    const CASES: usize = 40_000;
    let corpus = corpus();
    for c in &corpus {
        assert!(exercise(c), "the corpus itself parses");
    }
    let mut rng = Rng(0x1A7_2026);
    let mut parsed = 0;
    for _ in 0..CASES {
        let base = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, base, &corpus);
        if exercise(&input) {
            parsed += 1;
        }
    }
    eprintln!("hl7 parse/read: {CASES} mutated inputs, {parsed} still parsed as messages");
    // The mutations must leave many inputs parseable, or the readers behind the parser were
    // not exercised.
    assert!(parsed > CASES / 4, "{parsed}");
}

#[test]
fn escape_round_trips_and_unescape_never_panics() {
    let s = Separators::default();
    let mut rng = Rng(7);
    let alphabet: Vec<char> = "|^~\\&\r\nabcXF.ébr0123456789".chars().collect();
    for _ in 0..20_000 {
        let n = rng.below(24);
        let text: String = (0..n)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        assert_eq!(s.unescape(&s.escape(&text)), text);
        let _ = s.unescape(&text);
    }
}

#[test]
fn mllp_streams_cut_anywhere_give_typed_frames() {
    const STREAMS: usize = 20_000;
    let corpus = corpus();
    let mut rng = Rng(0xF4A3E);
    let mut frames_seen = 0usize;
    for _ in 0..STREAMS {
        // A stream of frames, garbage and damaged frames.
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for _ in 0..=rng.below(4) {
            let m = &corpus[rng.below(corpus.len())];
            match rng.below(4) {
                0 => {
                    stream.extend((0..rng.below(8)).map(|_| rng.next() as u8 & 0x7f | 0x20));
                }
                1 => {
                    let mut f = encode(m);
                    let i = rng.below(f.len());
                    f[i] = [0x0b, 0x1c, 0x0d, b'x'][rng.below(4)];
                    stream.extend(f);
                    expected.clear();
                }
                _ => {
                    stream.extend(encode(m));
                    expected.push(m.clone());
                }
            }
        }
        let mut decoder = Decoder::new(1 << 20);
        let mut frames = Vec::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            let cut = 1 + rng.below(rest.len());
            frames.extend(decoder.push(&rest[..cut]));
            rest = &rest[cut..];
        }
        frames_seen += frames.len();
        let messages: Vec<&Vec<u8>> = frames
            .iter()
            .filter_map(|f| match f {
                Frame::Message(m) => Some(m),
                _ => None,
            })
            .collect();
        // Intact frames after the last damaged one arrive intact, in order.
        assert!(messages.len() >= expected.len());
        let tail = &messages[messages.len() - expected.len()..];
        for (got, want) in tail.iter().zip(&expected) {
            assert_eq!(*got, want);
        }
    }
    eprintln!("mllp decode: {STREAMS} streams, {frames_seen} frames");
}
