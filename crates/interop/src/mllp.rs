//! MLLP framing (HL7 v2 Minimal Lower Layer Protocol, release 2): a message travels as
//! `<VT> message <FS><CR>` (0x0B … 0x1C 0x0D). Byte-level and pure: the caller feeds the bytes
//! it read and gets frames back; nothing here touches a socket.

/// Start of block.
pub const START: u8 = 0x0B;
/// End of block, followed by [`CR`].
pub const END: u8 = 0x1C;
pub const CR: u8 = 0x0D;

/// Wraps a message in an MLLP frame.
pub fn encode(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 3);
    out.push(START);
    out.extend_from_slice(message);
    out.push(END);
    out.push(CR);
    out
}

/// What the decoder found in the byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The content of one complete frame.
    Message(Vec<u8>),
    /// Bytes outside any frame (before a start byte), skipped; how many.
    Garbage { bytes: usize },
    /// A frame longer than the limit: its bytes are skipped up to the next end of block.
    TooLarge { bytes: usize },
}

/// Reassembles frames from a byte stream that arrives in pieces.
#[derive(Debug, Clone)]
pub struct Decoder {
    max_frame_bytes: usize,
    buffer: Vec<u8>,
    /// Inside a frame (a start byte was seen).
    in_frame: bool,
    /// Inside an over-long frame being skipped; bytes skipped so far.
    skipping: Option<usize>,
    /// Garbage bytes seen since the last frame.
    garbage: usize,
    /// The frame's end byte was seen; the next byte should be CR.
    after_end: bool,
}

impl Decoder {
    /// A decoder that refuses frames longer than `max_frame_bytes`.
    pub fn new(max_frame_bytes: usize) -> Decoder {
        Decoder {
            max_frame_bytes,
            buffer: Vec::new(),
            in_frame: false,
            skipping: None,
            garbage: 0,
            after_end: false,
        }
    }

    /// Feeds bytes; returns the frames they complete, in order. A start byte inside a frame
    /// starts a new frame (the unfinished one is reported as garbage), so one lost end byte
    /// costs one message, not the connection.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        let mut out = Vec::new();
        for &b in bytes {
            if self.after_end {
                self.after_end = false;
                if b == CR {
                    continue;
                }
                // A missing CR after FS is tolerated: the byte is read normally.
            }
            if let Some(skipped) = self.skipping.as_mut() {
                *skipped += 1;
                if b == END {
                    out.push(Frame::TooLarge { bytes: *skipped });
                    self.skipping = None;
                    self.after_end = true;
                }
                continue;
            }
            if !self.in_frame {
                if b == START {
                    if self.garbage > 0 {
                        out.push(Frame::Garbage {
                            bytes: self.garbage,
                        });
                        self.garbage = 0;
                    }
                    self.in_frame = true;
                    self.buffer.clear();
                } else {
                    self.garbage += 1;
                }
                continue;
            }
            match b {
                END => {
                    out.push(Frame::Message(std::mem::take(&mut self.buffer)));
                    self.in_frame = false;
                    self.after_end = true;
                }
                START => {
                    out.push(Frame::Garbage {
                        bytes: self.buffer.len() + 1,
                    });
                    self.buffer.clear();
                }
                _ => {
                    if self.buffer.len() >= self.max_frame_bytes {
                        self.skipping = Some(self.buffer.len() + 2);
                        self.buffer = Vec::new();
                        self.in_frame = false;
                    } else {
                        self.buffer.push(b);
                    }
                }
            }
        }
        out
    }

    /// Garbage bytes seen since the last frame and not yet reported (reported when the next
    /// frame starts, or by the caller when the connection closes).
    pub fn pending_garbage(&self) -> usize {
        self.garbage
            + if self.in_frame {
                self.buffer.len() + 1
            } else {
                0
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_survive_any_split_of_the_stream() {
        let mut stream = encode(b"MSH|first");
        stream.extend(encode(b"MSH|second"));
        for cut in 0..=stream.len() {
            let mut d = Decoder::new(1024);
            let mut frames = d.push(&stream[..cut]);
            frames.extend(d.push(&stream[cut..]));
            assert_eq!(
                frames,
                vec![
                    Frame::Message(b"MSH|first".to_vec()),
                    Frame::Message(b"MSH|second".to_vec())
                ],
                "cut at {cut}"
            );
            assert_eq!(d.pending_garbage(), 0);
        }
    }

    #[test]
    fn garbage_and_oversize_are_reported_and_the_stream_recovers() {
        let mut d = Decoder::new(4);
        let mut stream = b"junk".to_vec();
        stream.extend(encode(b"toolong"));
        stream.extend(encode(b"ok"));
        stream.extend([START, b'a', START]);
        stream.extend(encode(b"b").split_off(1));
        assert_eq!(
            d.push(&stream),
            vec![
                Frame::Garbage { bytes: 4 },
                Frame::TooLarge { bytes: 9 },
                Frame::Message(b"ok".to_vec()),
                Frame::Garbage { bytes: 2 },
                Frame::Message(b"b".to_vec()),
            ]
        );
        assert_eq!(d.push(b"xx"), vec![]);
        assert_eq!(d.pending_garbage(), 2);
    }
}
