//! # overbook-db
//!
//! A simulated PostgreSQL for deterministic simulation: the database layer
//! of [overbook](https://docs.rs/overbook), usable on its own by anyone who
//! wants a database with PostgreSQL 15's isolation semantics inside a
//! simulation (turmoil, madsim, a hand-written executor).
//!
//! - [`store`]: an ordered multi-version store with Read Committed,
//!   Repeatable Read and Serializable (SSI) as PostgreSQL 15 implements
//!   them; row locks in the four modes with waits and deadlock detection,
//!   table and advisory locks, `lock_timeout` and `statement_timeout`,
//!   unique and exclusion constraints, injected 40001s and latency, and a
//!   record of committed transactions. It never reads a clock or spawns a
//!   task: time comes from a [`store::Pacer`] the caller supplies.
//! - [`sql`]: the SQL booking services write (DDL, types, `now()` and
//!   intervals, joins, CTEs, subqueries, window functions, triggers and
//!   PL/pgSQL, every lock), on the store. [`sql::SqlDb`] is a database,
//!   [`sql::SqlSession`] a connection implementing [`sql::Session`].
//! - [`history`]: a serializability checker over the committed record
//!   (Adya's G0, G1, G-single, G2).
//! - [`seed`]: per-component ChaCha streams derived from one `u64`, and the
//!   trace hasher.
//!
//! Behind the `postgres` feature (on by default):
//! - `postgres`: the same `Session` on a real PostgreSQL through
//!   tokio-postgres, and the script runner's real backend;
//! - `pgwire`: the simulated database on PostgreSQL's wire protocol, so a
//!   service's own tokio-postgres connects to it;
//! - `conform`, `pgspecs`, `sqlcheck`: fidelity measured against a real
//!   server: generated programs step by step, PostgreSQL's own isolation
//!   suite, and a team's SQL files statement by statement. (`pgspecs::spec`
//!   and `pgspecs::split`, isolationtester's file grammar and a statement
//!   splitter, compile without the feature: `sql::scripts` reads its
//!   transcripts, `transcripts/*.spec`, with them.)
//!
//! This crate depends on no simulator, no harness and no CLI crate; the
//! harness (`overbook`) re-exports it module by module.
#![deny(missing_docs)]

#[cfg(feature = "postgres")]
pub mod conform;
pub mod history;
pub mod pgspecs;
#[cfg(feature = "postgres")]
pub mod pgwire;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod seed;
pub mod sql;
#[cfg(feature = "postgres")]
pub mod sqlcheck;
pub mod store;
