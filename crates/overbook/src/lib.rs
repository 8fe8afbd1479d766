//! # overbook
//!
//! A deterministic simulation and model-checking harness for booking
//! concurrency: scenario -> seed -> violation -> replay.
//!
//! Booking back ends break under concurrency in ways load tests rarely
//! show: units reserved past the authorized total, appointment moves lost to
//! stale versions, one room booked twice. overbook runs a booking service
//! (anything implementing [`system::System`]: a handler over SQL, a virtual
//! user, invariants, named planted bugs) against a simulated database with
//! PostgreSQL's semantics ([`sql`] over [`store`]) inside a seeded turmoil
//! network and clock ([`world`]), with thousands of virtual clients and
//! injected faults; checks invariants after every step; and reports every
//! failure with the seed that reproduces it exactly. The same handler runs
//! under a model checker ([`explore`]) and on a real PostgreSQL
//! ([`postgres`], [`confirm`]).
//!
//! Start with [`system`] (what you implement), [`prelude`] (what you
//! import), [`check`] (running it in `cargo test`) and [`cli`] (your
//! binary in one call). `ARCHITECTURE.md` at the repository root is the map
//! of the code.
//!
//! The database layer is its own crate, `overbook-db`, re-exported here
//! module by module ([`seed`], [`store`], [`sql`], [`history`], and with
//! the `postgres` feature `postgres`, `pgwire`, `conform`, `pgspecs`,
//! `sqlcheck`), so `overbook::sql::Session` is the same type as
//! `overbook_db::sql::Session`. The bundled clinic services that the
//! `overbook` binary runs live in `overbook-clinic`, outside this crate:
//! the harness never names a service.
//!
//! Features (all on by default): `cli` (the command line, [`cli`]),
//! `html` (the HTML report, [`html`]) and `postgres` (a real PostgreSQL:
//! handlers on a real server, [`confirm`], and the database crate's
//! fidelity tools). Off by default: `http` (a team's own HTTP app, an axum
//! `Router`, as the system under test: `http`) and `deadpool` (the
//! world's database behind deadpool-postgres: `pg::Connector`). With none of them the harness still runs the world,
//! the model checker, the corpus and `cargo test` checks, and compiles
//! without clap, indicatif, plotters or tokio-postgres.
//!
//! The pieces, bottom up:
//! - [`seed`]: one `u64` per run; every component draws from its own
//!   ChaCha stream derived from it.
//! - [`store`]: MVCC, Read Committed / Repeatable Read / Serializable (SSI),
//!   row, table and advisory locks with deadlock detection, unique and
//!   exclusion constraints, injected 40001s and latency, and a record of
//!   committed transactions.
//! - [`sql`]: the SQL real booking services write (DDL, joins, CTEs,
//!   subqueries, window functions, triggers and PL/pgSQL, every lock), on
//!   the store; [`postgres`]: the same [`sql::Session`] on a real server;
//!   [`pgwire`]: the simulated database on PostgreSQL's wire protocol, for
//!   a service's own tokio-postgres.
//! - [`history`]: a serializability checker over the committed record
//!   (Adya's G0, G1, G-single, G2).
//! - [`conform`], [`pgspecs`], [`sqlcheck`]: fidelity, measured: generated
//!   programs on both engines step by step, PostgreSQL's own isolation
//!   suite, and a team's SQL files statement by statement.
//! - [`system`], [`prelude`]: the plug-in API and its kit (retry with
//!   jitter, idempotency records, rate limits, tokens).
//! - [`scenario`], [`workload`], [`metrics`], [`world`]: scenario files,
//!   arrivals, the turmoil world and its report.
//! - [`explore`]: the model checker, running the same handlers under
//!   controlled interleavings (DFS with sleep sets, PCT, random);
//!   [`confirm`] replays its counterexamples on a real PostgreSQL.
//! - [`corpus`], [`corpus_merge`], [`shrink`], [`crash`]: the regression
//!   corpus of failing seeds, merging fuzz shards, the minimizer, and
//!   panics as findings; [`inspect`]: a failing step's database served
//!   to `psql`.
//! - [`check`], [`cli`], [`html`], [`junit`]: `cargo test` entry points, the
//!   command line as a library function, and reports for people and CI.
//! - [`wire`], [`error`]: the world's request framing, and input errors
//!   that name the file, line and field.
//! - `http` and [`pg`]: a team's real service in the world, its HTTP app
//!   on the API hosts and its own tokio-postgres talking to the simulated
//!   database over PostgreSQL's wire protocol.
#![deny(missing_docs)]

/// Awaits several futures at once, on one task: a virtual user's calls on
/// its connections ([`system::UserContext::connection`]). tokio's `join!`,
/// which needs no runtime: the world and the model checker both poll it.
pub use tokio::join;

// The database layer, re-exported so a service names one crate.
#[cfg(feature = "postgres")]
pub use overbook_db::{conform, pgspecs, pgwire, postgres, sqlcheck};
pub use overbook_db::{history, seed, sql, store};

pub mod check;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "postgres")]
pub mod confirm;
pub mod corpus;
pub mod corpus_merge;
pub mod crash;
pub mod error;
pub mod explore;
#[cfg(feature = "html")]
pub mod html;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "postgres")]
pub mod inspect;
pub mod junit;
pub mod metrics;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod prelude;
pub mod scenario;
pub mod shrink;
pub mod system;
pub mod wire;
pub mod workload;
pub mod world;
