//! Invariants: what must hold of committed state and of what clients saw,
//! whatever the interleaving, faults or crashes.
//!
//! The [`Checker`] is fed every committed transaction
//! ([`Checker::on_commit`], from [`Store::drain_commits`]) and every
//! response a client received ([`Checker::on_response`]); it keeps running
//! sums and interval indexes so each call costs in proportion to what it is
//! given. [`Checker::at_end`] recomputes everything from committed rows and
//! cross-checks the incremental state. A broken invariant is a
//! [`Violation`] value naming it, with the keys, numbers and clients
//! involved. The checker keeps going after a violation, so a test or a run
//! can collect every one.
//!
//! The invariants ([`INVARIANTS`]) and the planted bug each one exists to
//! catch:
//!
//! | invariant | catches |
//! |---|---|
//! | `no_overbooking` | `units/read-committed` |
//! | `units_conserved` | `units/read-committed` (the lost counter update itself) |
//! | `exactly_once_reservation` | `units/no-idempotency` |
//! | `version_monotonic` | `board/version-not-incremented` |
//! | `valid_transition` | a move past the workflow |
//! | `no_lost_update` | `board/no-version-check` (and version-not-incremented) |
//! | `no_room_double_booking` | all three `rooms/...` bugs |
//! | `no_practitioner_double_booking`, `no_patient_double_booking` | a missing slot check |
//! | `hard_constraints_hold` | a room chosen against a hard constraint |
//! | `access_enforced` | a 2xx without a valid token, role or organization |
//! | `responses_consistent` | a status that does not match its body or request |
//! | `acknowledged_bookings_durable` | a confirmation sent before (or without) the commit |
//! | `state_agrees` | a checker that missed commits, or a store that lost writes |

mod board;
mod responses;
mod rooms;
mod units;

use crate::service::Dataset;
use crate::service::{Request, Response};
use overbook::store::{CommitEvent, Store};
use std::collections::BTreeMap;

use std::sync::Arc;

use overbook::system::InvariantInfo;
pub use overbook::system::Violation;

/// Every invariant with a one-line description.
pub const INVARIANTS: &[InvariantInfo] = &[
    InvariantInfo {
        name: "no_overbooking",
        description: "an authorization's reserved plus used units, by its reservations and by its counters, never exceed units_total",
    },
    InvariantInfo {
        name: "units_conserved",
        description: "an authorization's counters equal the sums of its reservations by state, and units_total never changes",
    },
    InvariantInfo {
        name: "exactly_once_reservation",
        description: "at most one reservation is ever made per client and idempotency key",
    },
    InvariantInfo {
        name: "version_monotonic",
        description: "every committed change of an appointment raises its version; clients never see a version go back",
    },
    InvariantInfo {
        name: "valid_transition",
        description: "every committed status change is one the board's workflow allows",
    },
    InvariantInfo {
        name: "no_lost_update",
        description: "a move succeeds only from the version the client expected, and once per (appointment, version)",
    },
    InvariantInfo {
        name: "no_room_double_booking",
        description: "bookings of one room never overlap, cleaning buffer included",
    },
    InvariantInfo {
        name: "no_practitioner_double_booking",
        description: "a practitioner's bookings never overlap",
    },
    InvariantInfo {
        name: "no_patient_double_booking",
        description: "a patient's bookings never overlap",
    },
    InvariantInfo {
        name: "hard_constraints_hold",
        description: "every booking's room and time satisfy the static hard constraints",
    },
    InvariantInfo {
        name: "access_enforced",
        description: "no success without a token, for an auditor's write, or on another organization's data",
    },
    InvariantInfo {
        name: "responses_consistent",
        description: "a response's status matches its body, and its body matches the request",
    },
    InvariantInfo {
        name: "acknowledged_bookings_durable",
        description: "every booking confirmed to a client is in the committed state at the end",
    },
    InvariantInfo {
        name: "state_agrees",
        description: "at the end, the incrementally kept state equals a recomputation from committed rows",
    },
];

/// Violations found while evaluating one input, and the evaluation counts.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    violations: Vec<Violation>,
}

impl Findings {
    fn first(self) -> Result<(), Violation> {
        match self.violations.into_iter().next() {
            Some(violation) => Err(violation),
            None => Ok(()),
        }
    }
}

/// Counts evaluations and collects violations.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    checks: BTreeMap<&'static str, u64>,
}

impl Tally {
    /// Records one evaluation of `invariant`; when `holds` is false, adds a
    /// violation with the message `message()` builds.
    pub(crate) fn check(
        &mut self,
        findings: &mut Findings,
        invariant: &'static str,
        holds: bool,
        message: impl FnOnce() -> String,
    ) {
        debug_assert!(
            INVARIANTS.iter().any(|info| info.name == invariant),
            "unknown invariant {invariant}"
        );
        *self.checks.entry(invariant).or_insert(0) += 1;
        if !holds {
            findings.violations.push(Violation {
                invariant,
                message: message(),
            });
        }
    }
}

/// The invariant checker of one run.
#[derive(Debug)]
pub struct Checker {
    dataset: Arc<Dataset>,
    tally: Tally,
    units: units::UnitsState,
    board: board::BoardState,
    rooms: rooms::RoomsState,
    responses: responses::ResponseState,
    commits_seen: u64,
}

impl Checker {
    /// A checker for a store loaded with `dataset` (by
    /// [`Dataset::load_into`]).
    pub fn new(dataset: Arc<Dataset>) -> Checker {
        Checker {
            units: units::UnitsState::new(&dataset),
            board: board::BoardState::default(),
            rooms: rooms::RoomsState::default(),
            responses: responses::ResponseState::default(),
            tally: Tally::default(),
            commits_seen: 0,
            dataset,
        }
    }

    /// Incremental: called after every committed transaction, in commit
    /// order, with the events of [`Store::drain_commits`] (the store needs
    /// `record_commits`). Costs O(rows written) plus, for bookings, the
    /// other bookings of the same room, practitioner or patient that day.
    pub fn on_commit(&mut self, event: &CommitEvent) -> Result<(), Violation> {
        self.commits_seen += 1;
        let mut findings = Findings::default();
        let mut touched_authorizations = Vec::new();
        for (key, after, before) in &event.writes {
            let (after, before) = (after.as_deref(), before.as_deref());
            match key.table() {
                "authorizations" | "reservations" => {
                    if let Some(id) = self.units.apply(
                        &self.dataset,
                        key,
                        after,
                        before,
                        &mut self.tally,
                        &mut findings,
                    ) {
                        touched_authorizations.push(id);
                    }
                }
                "appointments" => {
                    self.board
                        .apply(key, after, before, &mut self.tally, &mut findings)
                }
                "bookings" => self.rooms.apply(
                    &self.dataset,
                    key,
                    after,
                    before,
                    &mut self.tally,
                    &mut findings,
                ),
                _ => {}
            }
        }
        touched_authorizations.sort_unstable();
        touched_authorizations.dedup();
        for id in touched_authorizations {
            self.units
                .check_authorization(id, &mut self.tally, &mut findings, "after commit");
        }
        findings.first()
    }

    /// Client-visible history: every response a client received, with its
    /// request, at simulated time `now_ms`, in the order received.
    ///
    /// Precondition: each client has at most one request in flight, so its
    /// responses arrive in the order the server handled its requests. (With
    /// two in flight, a board read that started before a move may arrive
    /// after it and show an older version, which `version_monotonic` would
    /// flag.)
    pub fn on_response(
        &mut self,
        request: &Request,
        response: &Response,
        now_ms: u64,
    ) -> Result<(), Violation> {
        let mut findings = Findings::default();
        self.responses.apply(
            &self.dataset,
            request,
            response,
            now_ms,
            &mut self.tally,
            &mut findings,
        );
        findings.first()
    }

    /// Full recomputation from committed state, and a cross-check that the
    /// incremental state agrees (when any commit was fed).
    pub fn at_end(&mut self, store: &Store) -> Result<(), Violation> {
        let mut findings = Findings::default();
        let cross_check = self.commits_seen > 0;
        self.units.at_end(
            &self.dataset,
            store,
            cross_check,
            &mut self.tally,
            &mut findings,
        );
        self.board.at_end(store, &mut self.tally, &mut findings);
        self.responses.at_end(store, &mut self.tally, &mut findings);
        self.rooms.at_end(
            &self.dataset,
            store,
            cross_check,
            &mut self.tally,
            &mut findings,
        );
        findings.first()
    }

    /// How many times each invariant was evaluated, by name.
    pub fn checks(&self) -> BTreeMap<&'static str, u64> {
        self.tally.checks.clone()
    }

    /// Committed transactions fed so far.
    pub fn commits_seen(&self) -> u64 {
        self.commits_seen
    }
}

#[cfg(test)]
mod tests;
