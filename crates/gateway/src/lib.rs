//! `infusio-gateway`: the HL7 v2 gateway (MLLP listener, inbound messages into the record,
//! outbound pump programmes, the simulated pump).
