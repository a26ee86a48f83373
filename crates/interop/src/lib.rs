//! `infusio-interop`: HL7 v2 messages and MLLP framing, pure (no I/O).
