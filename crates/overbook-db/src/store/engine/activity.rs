//! The lock manager's state as `pg_locks` and `pg_stat_activity` rows
//! (see `store::activity`): read on request only, never by a statement.

use super::advisory::FIRST_SESSION;
use super::{State, Status};
use crate::store::activity::{
    tuple_lock_mode, Activity, LockEntry, LockOwner, LockType, OpenTransaction,
};
use crate::store::types::TxId;

/// A transaction, or a session (their ids are counted from
/// [`FIRST_SESSION`]).
fn owner(id: TxId) -> LockOwner {
    if id >= FIRST_SESSION {
        LockOwner::Session(id - FIRST_SESSION)
    } else {
        LockOwner::Tx(id)
    }
}

impl State {
    /// Every lock held or waited for and every open transaction, now.
    pub(crate) fn activity(&self) -> Activity {
        let transactions: Vec<OpenTransaction> = self
            .txs
            .iter()
            .filter(|(_, tx)| tx.status != Status::Committed)
            .map(|(&id, tx)| OpenTransaction {
                tx: id,
                session: self.tx_session.get(&id).map(|s| s - FIRST_SESSION),
                isolation: tx.isolation,
                read_only: tx.read_only,
                failed: tx.status == Status::Failed,
                doomed: tx.doomed.is_some(),
                snapshot: tx.snapshot,
                waiting_on: self.waiting_on(id),
                blocked_by: self
                    .waits_for
                    .get(&id)
                    .into_iter()
                    .flatten()
                    .map(|&holder| owner(holder))
                    .collect(),
                writes: tx.writes.keys().cloned().collect(),
            })
            .collect();
        let mut locks = self.relation_and_advisory_locks();
        self.add_row_locks(&mut locks);
        for open in &transactions {
            // Each transaction holds its own id while it runs; a row-lock
            // waiter, or one waiting for a writer to end, waits for the
            // holder's id, as in PostgreSQL (a table lock waiter waits on
            // the table alone).
            locks.push(LockEntry {
                locktype: LockType::TransactionId,
                relation: None,
                key: None,
                transactionid: Some(open.tx),
                owner: LockOwner::Tx(open.tx),
                mode: "ExclusiveLock",
                row_lock: None,
                granted: true,
            });
            if !matches!(
                open.waiting_on,
                Some(LockType::Tuple | LockType::TransactionId)
            ) {
                continue;
            }
            for blocker in &open.blocked_by {
                if let LockOwner::Tx(holder) = *blocker {
                    locks.push(LockEntry {
                        locktype: LockType::TransactionId,
                        relation: None,
                        key: None,
                        transactionid: Some(holder),
                        owner: LockOwner::Tx(open.tx),
                        mode: "ShareLock",
                        row_lock: None,
                        granted: false,
                    });
                }
            }
        }
        // Stable: within one lock, holders stay before waiters and the
        // queue keeps its order.
        locks.sort_by(|a, b| {
            (a.locktype, &a.relation, &a.key, a.transactionid, !a.granted).cmp(&(
                b.locktype,
                &b.relation,
                &b.key,
                b.transactionid,
                !b.granted,
            ))
        });
        Activity {
            locks,
            transactions,
        }
    }

    /// What `id` waits on, if it waits.
    fn waiting_on(&self, id: TxId) -> Option<LockType> {
        if self.queued.contains_key(&id) {
            Some(LockType::Tuple)
        } else if self.table_locks.waits_on(id).is_some() {
            Some(LockType::Relation)
        } else if self.advisory.waits(id) {
            Some(LockType::Advisory)
        } else if self.waits_for.contains_key(&id) {
            Some(LockType::TransactionId)
        } else {
            None
        }
    }

    fn relation_and_advisory_locks(&self) -> Vec<LockEntry> {
        let tables = self
            .table_locks
            .entries()
            .into_iter()
            .map(|(table, id, mode, granted)| LockEntry {
                locktype: LockType::Relation,
                relation: Some(table.to_string()),
                key: None,
                transactionid: None,
                owner: owner(id),
                mode: mode.lock_name(),
                row_lock: None,
                granted,
            });
        let advisory = self
            .advisory
            .entries()
            .into_iter()
            .map(|(key, id, exclusive, granted)| LockEntry {
                locktype: LockType::Advisory,
                relation: None,
                key: Some(key.clone()),
                transactionid: None,
                owner: owner(id),
                mode: if exclusive {
                    "ExclusiveLock"
                } else {
                    "ShareLock"
                },
                row_lock: None,
                granted,
            });
        tables.chain(advisory).collect()
    }

    /// Row locks held, then the queue of each row.
    fn add_row_locks(&self, locks: &mut Vec<LockEntry>) {
        let row = |key: &crate::store::Key, id, strength, granted| LockEntry {
            locktype: LockType::Tuple,
            relation: Some(key.table().to_string()),
            key: Some(key.clone()),
            transactionid: None,
            owner: owner(id),
            mode: tuple_lock_mode(strength),
            row_lock: Some(strength),
            granted,
        };
        for (key, holders) in &self.row_locks {
            for (&id, &strength) in holders {
                locks.push(row(key, id, strength, true));
            }
        }
        for (key, queue) in &self.lock_queues {
            for &(id, strength) in queue {
                locks.push(row(key, id, strength, false));
            }
        }
    }
}
