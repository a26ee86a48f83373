//! The HL7 v2 parser and the typed readers take bytes from any system on the network: any
//! input must give a typed result (message or parse error; value or refusal), never a panic
//! or a hang, and encoding must be the parser's inverse on what it accepted.
#![no_main]

use infusio_interop::hl7::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse_bytes(data) {
        assert_eq!(Message::parse(&m.encode()).as_ref(), Ok(&m));
        let _ = infusio_interop::inbound::read(&m);
        let _ = infusio_interop::pcd::read_rgv_o15(&m);
        let _ = infusio_interop::ack::read_ack(&m);
        for seg in &m.segments {
            for n in 0..seg.len().min(30) {
                let v = m.get(seg, n, 0, 1);
                let _ = infusio_interop::hl7::parse_instant(&v, Some(0));
            }
        }
    }
});
