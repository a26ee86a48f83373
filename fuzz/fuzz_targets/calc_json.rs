//! Every calculator takes any JSON a client sends: a result or an input error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let calculators = infusio_core::calc::CALCULATORS;
    let (name, _) = calculators[selector as usize % calculators.len()];
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(rest) {
        let _ = infusio_core::calc::run(name, &value);
    }
});
