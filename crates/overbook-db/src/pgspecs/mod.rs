//! PostgreSQL's isolation suite as a yardstick: `overbook pgspecs` runs
//! isolationtester spec files verbatim on the simulated store and, with a
//! PostgreSQL to compare with, on a real server, permutation by
//! permutation.
//!
//! - [`spec`] parses a spec (PostgreSQL 14's grammar) and lists its
//!   permutations: the listed ones, or every interleaving.
//! - [`run`] runs one permutation on one engine as isolationtester does,
//!   through [`crate::sql::script::Runner`]: the global setup, each
//!   session's setup, the steps (a step sent as one query holding any
//!   number of statements; a step blocked when the engine says so, on
//!   PostgreSQL through `pg_isolation_test_session_is_blocked`; a step for
//!   a session still waiting sent once that session's step completes),
//!   the wait for what still runs, the teardowns.
//! - [`compare`] classifies a permutation's two runs in `conform`'s
//!   classes; a spec the store cannot run (a statement rejected with 0A000
//!   or not parsed) is rejected, with the first such statement's reason,
//!   and not run on PostgreSQL.
//! - [`render`] prints the store's run as isolationtester would, to
//!   compare with the spec's expected `.out` files; a spec whose `.out` is
//!   one of overbook's transcripts (`crate::sql::scripts`, the folder
//!   `crates/overbook-db/transcripts`) is run as a transcript instead and
//!   its lines compared, on the store and on PostgreSQL.
//!
//! [`spec`] and [`split`] compile without the `postgres` feature: the
//! transcripts are read with them.
//!
//! On PostgreSQL each spec runs in a database of its own (created with a
//! unique name and dropped afterwards), on connections left as the server
//! gives them: a spec's `SET deadlock_timeout` is the only one. The store
//! checks for deadlocks after PostgreSQL's default second, on the
//! simulated clock the Runner moves as PostgreSQL's real one moves.

pub mod spec;
pub mod split;

#[cfg(feature = "postgres")]
mod check;
#[cfg(feature = "postgres")]
pub mod compare;
#[cfg(feature = "postgres")]
pub mod render;
#[cfg(feature = "postgres")]
mod report;
#[cfg(feature = "postgres")]
pub mod run;

#[cfg(feature = "postgres")]
pub use check::*;
#[cfg(feature = "postgres")]
pub use report::*;
pub use spec::{Spec, SpecError};

#[cfg(all(test, feature = "postgres"))]
mod tests;
