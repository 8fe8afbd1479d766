//! # overbook-clinic
//!
//! The bundled clinic services on overbook's system API: an appointment
//! board (moves with versions), authorization units (reserve and release
//! against an authorized total) and room assignment, each with named
//! planted bugs, and their invariants (no overbooking, version
//! monotonicity, no room double-booking, response checks). They are
//! examples of the public API, not special cases: the harness (`overbook`)
//! never names them. The `overbook` binary is the harness's command line
//! over [`service::Clinic`] with the sims of `sims/` built in.
#![deny(missing_docs)]

pub mod invariant;
pub mod service;
