//! Advisory transaction locks (`pg_advisory_xact_lock` and its shared and
//! `try` variants): locks on application-chosen keys, held until the
//! transaction ends, in a table of their own beside the row locks. As in
//! PostgreSQL's lock manager a request waits for every holder whose mode
//! conflicts with it and for every earlier waiter whose mode conflicts
//! with it (so a stream of shared lockers cannot starve an exclusive
//! one), and each of those is an edge of the wait-for graph.

use super::{LockAttempt, State};
use crate::store::types::{DbError, Key, TxId};
use std::collections::{BTreeMap, BTreeSet};

/// An advisory lock's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AdvisoryMode {
    /// `_shared`: compatible with other shared holders.
    Shared,
    /// Conflicts with every other holder.
    Exclusive,
}

impl AdvisoryMode {
    fn conflicts(self, other: AdvisoryMode) -> bool {
        self == AdvisoryMode::Exclusive || other == AdvisoryMode::Exclusive
    }
}

#[derive(Debug, Default)]
struct AdvisoryLock {
    holders: BTreeMap<TxId, AdvisoryMode>,
    /// Waiters, first come first served.
    queue: Vec<(TxId, AdvisoryMode)>,
}

/// Every advisory lock held or waited for.
#[derive(Debug, Default)]
pub(crate) struct AdvisoryLocks {
    locks: BTreeMap<Key, AdvisoryLock>,
    /// The keys each transaction holds or waits for.
    keys_of: BTreeMap<TxId, BTreeSet<Key>>,
}

impl AdvisoryLocks {
    /// The advisory keys `id` holds or waits for.
    pub(crate) fn keys_of(&self, id: TxId) -> impl Iterator<Item = &Key> {
        self.keys_of.get(&id).into_iter().flatten()
    }

    /// Whether a transaction other than `id` holds or waits for `key`.
    pub(crate) fn contended(&self, key: &Key, id: TxId) -> bool {
        self.locks.get(key).is_some_and(|lock| {
            lock.holders.keys().any(|&holder| holder != id)
                || lock.queue.iter().any(|&(waiter, _)| waiter != id)
        })
    }

    /// Forgets `id`'s locks and places in queues (it ended or failed).
    pub(crate) fn release(&mut self, id: TxId) {
        for key in self.keys_of.remove(&id).unwrap_or_default() {
            if let Some(lock) = self.locks.get_mut(&key) {
                lock.holders.remove(&id);
                lock.queue.retain(|&(waiter, _)| waiter != id);
                if lock.holders.is_empty() && lock.queue.is_empty() {
                    self.locks.remove(&key);
                }
            }
        }
    }
}

impl State {
    /// `pg_advisory_xact_lock` (`wait`) or `pg_try_advisory_xact_lock` of
    /// `key` in `mode` for `id`: `Done(true)` once held, `Done(false)` when
    /// a `try` finds it taken, else a wait. A transaction that already
    /// holds the key only waits for the other holders when it asks for a
    /// stronger mode (PostgreSQL puts such a request ahead of the
    /// waiters it would block).
    pub(crate) fn advisory_lock(
        &mut self,
        id: TxId,
        key: &Key,
        mode: AdvisoryMode,
        wait: bool,
    ) -> Result<LockAttempt<bool>, DbError> {
        let lock = self.advisory.locks.entry(key.clone()).or_default();
        let held = lock.holders.get(&id).copied();
        if held == Some(AdvisoryMode::Exclusive) || (held.is_some() && mode == AdvisoryMode::Shared)
        {
            return Ok(LockAttempt::Done(true));
        }
        let place = lock.queue.iter().position(|&(waiter, _)| waiter == id);
        let ahead = if held.is_some() {
            0
        } else {
            place.unwrap_or(lock.queue.len())
        };
        let blockers: BTreeSet<TxId> = lock
            .holders
            .iter()
            .filter(|&(&holder, &other)| holder != id && other.conflicts(mode))
            .map(|(&holder, _)| holder)
            .chain(
                lock.queue[..ahead]
                    .iter()
                    .filter(|&&(_, other)| other.conflicts(mode))
                    .map(|&(waiter, _)| waiter),
            )
            .collect();
        if blockers.is_empty() {
            if let Some(place) = place {
                lock.queue.remove(place);
            }
            lock.holders.insert(id, mode);
            self.advisory
                .keys_of
                .entry(id)
                .or_default()
                .insert(key.clone());
            self.waits_for.remove(&id);
            return Ok(LockAttempt::Done(true));
        }
        if !wait {
            if lock.holders.is_empty() && lock.queue.is_empty() {
                self.advisory.locks.remove(key);
            }
            return Ok(LockAttempt::Done(false));
        }
        if place.is_none() {
            lock.queue.push((id, mode));
            self.advisory
                .keys_of
                .entry(id)
                .or_default()
                .insert(key.clone());
        }
        match self.wait_for_all(id, blockers)? {
            LockAttempt::WaitFor(first) => Ok(LockAttempt::WaitFor(first)),
            LockAttempt::Done(()) => unreachable!("a wait is never done"),
        }
    }
}
