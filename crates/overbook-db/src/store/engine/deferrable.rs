//! `SERIALIZABLE READ ONLY DEFERRABLE`: PostgreSQL's safe snapshots
//! (GetSafeSnapshot in predicate.c). The transaction's first statement
//! takes a snapshot and waits until every read-write serializable
//! transaction running at that moment has ended. The snapshot is unsafe
//! when one of them commits with a rw-conflict out to a transaction that
//! committed no later than the snapshot (it could then make this reader
//! the first edge of a dangerous structure), and the statement takes a new
//! snapshot and waits again; otherwise it is safe, and the transaction
//! runs on it without SSI bookkeeping: it can never fail with 40001 nor
//! make another transaction fail.

use super::{LockAttempt, State, Status};
use crate::store::types::{Isolation, TxId};
use std::collections::{BTreeMap, BTreeSet};
use std::task::Waker;

/// Where a deferrable transaction is in getting its safe snapshot.
#[derive(Debug)]
pub(crate) enum SafeSnapshot {
    /// No snapshot yet, or the last one turned out unsafe.
    NotTaken,
    /// Waiting on a snapshot (a commit position) for these read-write
    /// transactions to end.
    Waiting {
        snapshot: u64,
        concurrent: BTreeSet<TxId>,
    },
}

/// The deferrable transactions that have not got their safe snapshot.
pub(crate) type SafeSnapshotWaits = BTreeMap<TxId, SafeSnapshot>;

impl State {
    /// Marks `id` (begun SERIALIZABLE READ ONLY DEFERRABLE) as needing a
    /// safe snapshot before its first statement.
    pub(crate) fn defer_until_safe(&mut self, id: TxId) {
        self.safe_snapshots.insert(id, SafeSnapshot::NotTaken);
    }

    /// Whether `id` still has to get its safe snapshot.
    pub(crate) fn awaits_safe_snapshot(&self, id: TxId) -> bool {
        self.safe_snapshots.contains_key(&id)
    }

    /// Takes or checks `id`'s snapshot: `Done` once it is safe (it is then
    /// the transaction's snapshot and SSI no longer tracks it), else the
    /// read-write transactions it waits for.
    pub(crate) fn safe_snapshot(&mut self, id: TxId) -> LockAttempt<()> {
        match self.safe_snapshots.get(&id) {
            None => return LockAttempt::Done(()),
            Some(SafeSnapshot::Waiting {
                snapshot,
                concurrent,
            }) if concurrent.is_empty() => {
                let snapshot = *snapshot;
                self.safe_snapshots.remove(&id);
                let tx = self.tx_mut(id);
                tx.snapshot = Some(snapshot);
                tx.first_snapshot.get_or_insert(snapshot);
                // A read-only transaction on a safe snapshot is serializable
                // under snapshot isolation alone, which is how PostgreSQL
                // runs it (it drops out of SSI).
                tx.isolation = Isolation::RepeatableRead;
                return LockAttempt::Done(());
            }
            Some(SafeSnapshot::Waiting { concurrent, .. }) => {
                let first = *concurrent.first().expect("not empty");
                return LockAttempt::WaitFor(first);
            }
            Some(SafeSnapshot::NotTaken) => {}
        }
        let snapshot = self.commit_seq;
        let concurrent: BTreeSet<TxId> = self
            .txs
            .iter()
            .filter(|&(&other, tx)| {
                other != id
                    && tx.isolation == Isolation::Serializable
                    && tx.status == Status::Active
                    && tx.snapshot.is_some()
                    && !tx.read_only
            })
            .map(|(&other, _)| other)
            .collect();
        self.safe_snapshots.insert(
            id,
            SafeSnapshot::Waiting {
                snapshot,
                concurrent,
            },
        );
        self.safe_snapshot(id)
    }

    /// Wakes `waker` when any of the transactions `id`'s snapshot waits
    /// for ends (each may make it safe or unsafe).
    pub(crate) fn park_for_safe_snapshot(&mut self, id: TxId, waker: &Waker) {
        let Some(SafeSnapshot::Waiting { concurrent, .. }) = self.safe_snapshots.get(&id) else {
            return;
        };
        for other in concurrent.clone() {
            let wakers = self.waiters.entry(other).or_default();
            if !wakers.iter().any(|w| w.will_wake(waker)) {
                wakers.push(waker.clone());
            }
        }
    }

    /// `id` ended (ReleasePredicateLocks' part for read-only transactions
    /// waiting on it): a commit with a conflict out to a transaction
    /// committed by a waiter's snapshot makes that snapshot unsafe; any
    /// other end takes `id` off the waiter's list.
    pub(crate) fn settle_safe_snapshots(&mut self, id: TxId, committed: bool) {
        self.safe_snapshots.remove(&id);
        let conflict_out_commit = self.txs.get(&id).and_then(|tx| tx.conflict_out_commit);
        for wait in self.safe_snapshots.values_mut() {
            let SafeSnapshot::Waiting {
                snapshot,
                concurrent,
            } = wait
            else {
                continue;
            };
            if !concurrent.remove(&id) {
                continue;
            }
            if committed && conflict_out_commit.is_some_and(|earliest| earliest <= *snapshot) {
                *wait = SafeSnapshot::NotTaken;
            }
        }
    }
}
