//! Barcodes: GS1 element strings as a scanner types them ([`gs1`]) and Code 128 symbols
//! rendered as SVG for the preparation label ([`code128`]). Pure functions: no I/O, no clock
//! (the century of a two-digit year is decided against a year the caller passes).

pub mod code128;
pub mod gs1;
