//! Which steps commute: the independence relation behind sleep sets.
//!
//! Two steps by different clients are independent when running them in
//! either order from the same state gives the same state and neither
//! enables or disables the other. The base rule is the textbook one: they
//! touch different keys, or both only read. A step's keys are those of the
//! statement its client is paused at, read from the store's pause point,
//! widened where the store has effects beyond that key:
//!
//! - a commit publishes and unlocks every key its transaction wrote or
//!   locked, and moves the snapshot a later *first* statement of a
//!   Repeatable Read transaction takes, so commits conflict with each other
//!   and with snapshot-taking statements;
//! - a write may fail (first updater wins, unique key) and the client then
//!   rolls back, unlocking every key its transaction holds, so a write's
//!   footprint includes them;
//! - a write to a row another transaction has locked waits, and the order of
//!   two waits decides which one a deadlock check aborts: global; so is an
//!   advisory lock (announced as a locking read of its key) that another
//!   transaction holds or waits for;
//! - at Serializable, an SSI read or write can doom a third transaction
//!   through a dangerous structure built from other keys, and which one it
//!   dooms depends on the order; so a Serializable statement is global
//!   unless the store says it is *quiet* ([`Store::statement_is_quiet`]: it
//!   adds no rw-antidependency, cannot fail and dooms nobody, its only SSI
//!   effect being a SIREAD lock on its own keys, which the read/write rule
//!   already orders against writes of those keys). Serializable commits
//!   are always global: they decide dooms from the transaction's edges;
//! - exclusion constraints relate different keys of one table (a group's
//!   intervals), and injected faults draw from one shared random stream:
//!   global.
//!
//! Being too conservative only costs reduction; being too liberal would
//! lose schedules, which the "same final states with and without sleep
//! sets" test guards against.

use crate::store::{Isolation, Key, Op, PausePoint, Store};

/// What a step may touch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Footprint {
    /// Conflicts with every other step.
    Global,
    /// Conflicts with steps touching the same keys as described.
    Local(Access),
}

/// A step's accesses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Access {
    /// Keys only read.
    reads: Vec<Key>,
    /// Keys written, locked or possibly unlocked.
    writes: Vec<Key>,
    /// A predicate read: conflicts with any write.
    reads_everything: bool,
    /// The step commits.
    commits: bool,
    /// The step takes its transaction's snapshot (first statement at
    /// Repeatable Read): conflicts with any commit.
    takes_snapshot: bool,
}

impl Footprint {
    /// The footprint of the step a client paused at `point` will take next.
    pub(crate) fn of(store: &Store, point: Option<&PausePoint>) -> Footprint {
        let Some(point) = point else {
            return Footprint::Global;
        };
        let faults = store.config().faults;
        if faults.serialization_failure_per_statement > 0.0
            || faults.serialization_failure_at_commit > 0.0
        {
            return Footprint::Global;
        }
        let Some(tx) = store.tx_footprint(point.tx) else {
            return Footprint::Global;
        };
        if tx.isolation == Isolation::Serializable {
            let quiet = point.op != Op::Commit
                && point.key.as_ref().is_some_and(|key| {
                    store.statement_is_quiet(point.tx, point.op, key, point.range_end.as_ref())
                });
            if !quiet {
                return Footprint::Global;
            }
        }
        let held: Vec<Key> = tx.locked.iter().chain(tx.written.iter()).cloned().collect();
        let takes_snapshot = tx.isolation != Isolation::ReadCommitted && !tx.has_snapshot;
        let mut access = Access {
            takes_snapshot,
            ..Access::default()
        };
        match (point.op, &point.key) {
            (Op::Commit, _) => {
                access.commits = true;
                access.writes = held;
            }
            (Op::Get, Some(key)) => access.reads.push(key.clone()),
            (Op::Scan, Some(_)) => access.reads_everything = true,
            (Op::GetForUpdate | Op::Insert | Op::Update | Op::Put | Op::Delete, Some(key)) => {
                if store.has_exclusion(key.table())
                    || store
                        .lock_holders(key)
                        .iter()
                        .any(|&(holder, _)| holder != point.tx)
                    || store.advisory_contended(key, point.tx)
                {
                    return Footprint::Global;
                }
                access.writes = held;
                access.writes.push(key.clone());
            }
            _ => return Footprint::Global,
        }
        Footprint::Local(access)
    }

    /// Whether steps with these footprints (by different clients) commute.
    pub(crate) fn independent(&self, other: &Footprint) -> bool {
        let (Footprint::Local(a), Footprint::Local(b)) = (self, other) else {
            return false;
        };
        if a.commits && (b.commits || b.takes_snapshot) || b.commits && a.takes_snapshot {
            return false;
        }
        if a.reads_everything && !b.writes.is_empty() || b.reads_everything && !a.writes.is_empty()
        {
            return false;
        }
        let overlaps = |x: &[Key], y: &[Key]| x.iter().any(|k| y.contains(k));
        !(overlaps(&a.writes, &b.writes)
            || overlaps(&a.writes, &b.reads)
            || overlaps(&a.reads, &b.writes))
    }
}
