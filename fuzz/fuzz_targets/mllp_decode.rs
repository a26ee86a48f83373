//! The MLLP decoder reads raw TCP bytes: any stream, cut anywhere, must give typed frames and
//! never panic; the frames must not depend on where the stream was cut.
#![no_main]

use infusio_interop::mllp::Decoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let mut whole = Decoder::new(4096);
    let all = whole.push(stream);
    let mut pieces = Decoder::new(4096);
    let step = usize::from(cut).max(1);
    let mut split = Vec::new();
    for chunk in stream.chunks(step) {
        split.extend(pieces.push(chunk));
    }
    assert_eq!(all, split);
    assert_eq!(whole.pending_garbage(), pieces.pending_garbage());
});
