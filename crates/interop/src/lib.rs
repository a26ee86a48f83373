//! `infusio-interop`: HL7 v2 messages and MLLP framing, pure (no I/O, no clock: callers pass
//! the current time).
//!
//! - [`hl7`]: the parser and builder (delimiters from MSH-1/2, escape sequences, timestamps).
//! - [`mllp`]: the MLLP frame codec over bytes.
//! - [`inbound`]: ADT A01/A04/A08 and ORU^R01 read into typed values, all or nothing.
//! - [`codes`]: the closed LOINC and UCUM tables.
//! - [`ack`]: acknowledgements (AA/AE/AR, MSA-2 = MSH-10, ERR from table 0357).
//! - [`pcd`]: IHE PCD-03 (RGV^O15 out, RRG^O16 back) and PCD-01 pump events.
//!
//! Invariant: every input, however malformed, gives a typed result (a value or a refusal
//! naming segment, field and reason); nothing here panics on input.
#![warn(clippy::too_many_lines)] // production functions stay under 100 lines (clippy.toml)

pub mod ack;
pub mod codes;
pub mod hl7;
pub mod inbound;
pub mod mllp;
pub mod pcd;
