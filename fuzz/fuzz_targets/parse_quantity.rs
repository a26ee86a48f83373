//! The quantity parser takes any text a user can type: it must never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = infusio_core::units::parse_quantity(text);
        let _ = infusio_core::units::DosePer::parse(text);
        let _ = infusio_core::units::Concentration::parse(text);
    }
});
