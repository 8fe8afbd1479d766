//! The booking services from the load-test reports, written once against
//! the store API: the appointment board (k6), authorization units
//! (Artillery) and room assignment (Locust), each with named planted bugs.
//!
//! A service never touches turmoil: time and sleeping come from an [`Env`],
//! so the same handler runs in the simulated world and in the model checker.

pub mod api;

pub use api::*;

use crate::store::PauseFuture;

/// Time and sleep as the services see them. The world maps these to
/// turmoil's simulated clock; the model checker to logical time and
/// scheduling points.
pub trait Env: Send + Sync {
    /// Milliseconds of simulated time since the run's start.
    fn now_ms(&self) -> u64;
    /// A future that completes `ms` milliseconds of simulated time later.
    fn sleep_ms(&self, ms: u64) -> PauseFuture;
}

/// A service implementation: the correct one or a named planted bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// Every service as it should be written.
    Correct,
    /// `units/read-committed`: read-then-write of the unit counters at Read
    /// Committed without a row lock: concurrent reserves overbook.
    UnitsReadCommitted,
    /// `units/no-idempotency`: the idempotency key is ignored, so a client's
    /// retry after a lost response reserves twice.
    UnitsNoIdempotency,
    /// `board/no-version-check`: moves ignore `expected_version`: lost updates.
    BoardNoVersionCheck,
    /// `board/version-not-incremented`: a move forgets to bump the version.
    BoardVersionNotIncremented,
    /// `rooms/check-then-insert-repeatable-read`: availability check and
    /// insert at Repeatable Read with no exclusion constraint: write skew,
    /// double booking.
    RoomsCheckThenInsertRepeatableRead,
    /// `rooms/inclusive-end`: the overlap test gets touching intervals and
    /// the cleaning buffer wrong, with no exclusion constraint behind it.
    RoomsInclusiveEnd,
    /// `rooms/stale-availability-cache`: availability is read from a
    /// per-server cache outside the booking transaction.
    RoomsStaleAvailabilityCache,
}

impl Variant {
    /// Every variant, the correct one first.
    pub const ALL: [Variant; 8] = [
        Variant::Correct,
        Variant::UnitsReadCommitted,
        Variant::UnitsNoIdempotency,
        Variant::BoardNoVersionCheck,
        Variant::BoardVersionNotIncremented,
        Variant::RoomsCheckThenInsertRepeatableRead,
        Variant::RoomsInclusiveEnd,
        Variant::RoomsStaleAvailabilityCache,
    ];

    /// The name used on the command line and in corpus entries.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Correct => "correct",
            Variant::UnitsReadCommitted => "units/read-committed",
            Variant::UnitsNoIdempotency => "units/no-idempotency",
            Variant::BoardNoVersionCheck => "board/no-version-check",
            Variant::BoardVersionNotIncremented => "board/version-not-incremented",
            Variant::RoomsCheckThenInsertRepeatableRead => {
                "rooms/check-then-insert-repeatable-read"
            }
            Variant::RoomsInclusiveEnd => "rooms/inclusive-end",
            Variant::RoomsStaleAvailabilityCache => "rooms/stale-availability-cache",
        }
    }

    /// Looks a variant up by name.
    pub fn parse(name: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == name)
    }

    /// One line on what the variant does wrong.
    pub fn description(self) -> &'static str {
        match self {
            Variant::Correct => "all services correct",
            Variant::UnitsReadCommitted => {
                "reserve reads then writes counters at Read Committed without FOR UPDATE"
            }
            Variant::UnitsNoIdempotency => {
                "idempotency keys ignored: a retried reserve reserves twice"
            }
            Variant::BoardNoVersionCheck => "moves ignore expected_version (lost update)",
            Variant::BoardVersionNotIncremented => "a move does not bump the version",
            Variant::RoomsCheckThenInsertRepeatableRead => {
                "check-then-insert at Repeatable Read, no exclusion constraint (write skew)"
            }
            Variant::RoomsInclusiveEnd => {
                "overlap test treats touching intervals as free and drops the cleaning buffer"
            }
            Variant::RoomsStaleAvailabilityCache => {
                "availability read from a per-server cache outside the transaction"
            }
        }
    }
}
