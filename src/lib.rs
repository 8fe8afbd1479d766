//! # overbook
//!
//! A deterministic simulation and model-checking harness for booking
//! concurrency: scenario -> seed -> violation -> replay.
//!
//! Booking back ends break under concurrency in ways load tests rarely
//! show: units reserved past the authorized total, appointment moves lost to
//! stale versions, one room booked twice. overbook runs the booking logic
//! ([`service`]) against a simulated database with PostgreSQL's isolation
//! semantics ([`store`]) inside a seeded turmoil network and clock
//! ([`world`]), with thousands of virtual clients ([`workload`]) and
//! injected faults, checks invariants after every step ([`invariant`]), and
//! reports every failure with the seed that reproduces it exactly.
//!
//! The pieces, bottom up:
//! - [`seed`]: one `u64` per run; every component draws from its own
//!   ChaCha stream derived from it.
//! - [`store`]: MVCC, Read Committed / Repeatable Read / Serializable (SSI),
//!   row locks with deadlock detection, unique and exclusion constraints,
//!   injected 40001s and latency, and a record of committed transactions.
//! - [`history`]: a serializability checker over that record (Adya's G0,
//!   G1, G-single, G2).
//! - [`service`]: the appointment board, authorization units and room
//!   assignment services, correct and with named planted bugs.
//! - [`scenario`], [`workload`], [`world`], [`metrics`]: scenario files,
//!   virtual users, the turmoil world and its report.
//! - [`corpus`], [`shrink`]: the regression corpus of failing seeds and
//!   the minimizer of failing cases.
//! - [`html`], [`junit`]: reports for people (charts over simulated time,
//!   the failure timeline) and for CI systems (JUnit XML).
//! - [`explore`]: the model checker, running the same handlers under
//!   controlled interleavings (DFS with sleep sets, PCT, random).
#![deny(missing_docs)]

pub mod check;
pub mod cli;
pub mod confirm;
pub mod conform;
pub mod corpus;
pub mod corpus_merge;
pub mod crash;
pub mod error;
pub mod explore;
pub mod history;
pub mod html;
pub mod invariant;
pub mod junit;
pub mod metrics;
pub mod pgspecs;
pub mod pgwire;
pub mod postgres;
pub mod prelude;
pub mod scenario;
pub mod seed;
pub mod service;
pub mod shrink;
pub mod sql;
pub mod sqlcheck;
pub mod store;
pub mod system;
pub mod wire;
pub mod workload;
pub mod world;
