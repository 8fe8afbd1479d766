//! Advisory locks (`pg_advisory_xact_lock`, `pg_advisory_lock` and their
//! shared and `try` variants): locks on application-chosen keys, in a
//! table of their own beside the row locks. A transaction-level lock is
//! held by its transaction until it ends; a session-level one by the
//! session (its owner is the session's id, see [`State::new_session`])
//! until `pg_advisory_unlock` or the session's end, whatever its
//! transactions do, and it is re-entrant: each acquisition needs an
//! unlock, counted per mode, as in PostgreSQL. A session and its open
//! transaction are one backend and never conflict with each other. As in
//! PostgreSQL's lock manager a request waits for every holder whose mode
//! conflicts with it and for every earlier waiter whose mode conflicts
//! with it (so a stream of shared lockers cannot starve an exclusive
//! one), and each of those is an edge of the wait-for graph; a waiter for
//! a session's lock waits for what the session's transaction waits for.

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

/// How many times an owner holds a key in each mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Held {
    shared: u32,
    exclusive: u32,
}

impl Held {
    fn count(&mut self, mode: AdvisoryMode) -> &mut u32 {
        match mode {
            AdvisoryMode::Shared => &mut self.shared,
            AdvisoryMode::Exclusive => &mut self.exclusive,
        }
    }

    fn holds(&self, mode: AdvisoryMode) -> bool {
        match mode {
            AdvisoryMode::Shared => self.shared > 0,
            AdvisoryMode::Exclusive => self.exclusive > 0,
        }
    }

    fn conflicts(&self, mode: AdvisoryMode) -> bool {
        (self.shared > 0 && AdvisoryMode::Shared.conflicts(mode))
            || (self.exclusive > 0 && AdvisoryMode::Exclusive.conflicts(mode))
    }

    fn is_empty(&self) -> bool {
        self.shared == 0 && self.exclusive == 0
    }
}

/// The advisory locks one owner holds (for a savepoint to go back to).
pub(crate) type AdvisoryHeld = BTreeMap<Key, Held>;

#[derive(Debug, Default)]
struct AdvisoryLock {
    /// Holders (a transaction or a session) and their counts.
    holders: BTreeMap<TxId, Held>,
    /// Waiting transactions, first come first served.
    queue: Vec<(TxId, AdvisoryMode)>,
}

/// Every advisory lock held or waited for.
#[derive(Debug, Default)]
pub(crate) struct AdvisoryLocks {
    locks: BTreeMap<Key, AdvisoryLock>,
    /// The keys each owner holds or each transaction waits for.
    keys_of: BTreeMap<TxId, BTreeSet<Key>>,
    /// Sessions handed out so far.
    sessions: u64,
}

/// Where session ids start: far above any transaction's, and drawn from a
/// counter of their own, so that opening connections does not renumber
/// transactions (their ids show in traces and pinned hashes).
pub(crate) const FIRST_SESSION: TxId = 1 << 62;

impl AdvisoryLocks {
    /// The advisory keys `id` holds or waits for.
    pub(crate) fn keys_of(&self, id: TxId) -> impl Iterator<Item = &Key> {
        self.keys_of.get(&id).into_iter().flatten()
    }

    /// Whether an owner other than `id` (and `session`, its session)
    /// holds or waits for `key`.
    pub(crate) fn contended(&self, key: &Key, id: TxId) -> bool {
        self.locks.get(key).is_some_and(|lock| {
            lock.holders.keys().any(|&holder| holder != id)
                || lock.queue.iter().any(|&(waiter, _)| waiter != id)
        })
    }

    /// Every advisory lock held or waited for, by key: `(key, owner,
    /// exclusive, granted)`, holders (shared before exclusive) before
    /// the queue.
    pub(crate) fn entries(&self) -> Vec<(&Key, TxId, bool, bool)> {
        let mut entries = Vec::new();
        for (key, lock) in &self.locks {
            for (&holder, held) in &lock.holders {
                if held.shared > 0 {
                    entries.push((key, holder, false, true));
                }
                if held.exclusive > 0 {
                    entries.push((key, holder, true, true));
                }
            }
            for &(waiter, mode) in &lock.queue {
                entries.push((key, waiter, mode == AdvisoryMode::Exclusive, false));
            }
        }
        entries
    }

    /// Whether `id` waits in an advisory lock's queue.
    pub(crate) fn waits(&self, id: TxId) -> bool {
        self.keys_of(id).any(|key| {
            self.locks
                .get(key)
                .is_some_and(|lock| lock.queue.iter().any(|&(waiter, _)| waiter == id))
        })
    }

    /// Whether no lock is held or waited for.
    pub(crate) fn is_empty(&self) -> bool {
        self.locks.is_empty() && self.keys_of.is_empty()
    }

    /// An empty copy for a forked store that goes on numbering sessions
    /// where this one is (see `State::fork`: no lock may be held).
    pub(crate) fn fork(&self) -> AdvisoryLocks {
        AdvisoryLocks {
            sessions: self.sessions,
            ..AdvisoryLocks::default()
        }
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

    /// The locks `id` holds, with their counts.
    pub(crate) fn held_by(&self, id: TxId) -> AdvisoryHeld {
        self.keys_of(id)
            .filter_map(|key| {
                let held = *self.locks.get(key)?.holders.get(&id)?;
                Some((key.clone(), held))
            })
            .collect()
    }
}

impl State {
    /// A new session: the owner of its session-level advisory locks.
    pub(crate) fn new_session(&mut self) -> TxId {
        self.advisory.sessions += 1;
        FIRST_SESSION + self.advisory.sessions
    }

    /// Runs `tx` in `session`: they are one backend for the lock manager.
    pub(crate) fn join_session(&mut self, tx: TxId, session: TxId) {
        self.tx_session.insert(tx, session);
        self.session_tx.insert(session, tx);
    }

    /// `pg_advisory_xact_lock` (`wait`) or `pg_try_advisory_xact_lock` of
    /// `key` in `mode` for `id`, or with `session_level` the `pg_advisory_lock`
    /// forms for `id`'s session: `Done(true)` once held, `Done(false)` when
    /// a `try` finds it taken, else a wait. A backend that already holds
    /// the key (in either level) only waits for the other holders
    /// (PostgreSQL puts such a request ahead of the waiters it would block).
    pub(crate) fn advisory_lock(
        &mut self,
        id: TxId,
        key: &Key,
        mode: AdvisoryMode,
        wait: bool,
        session_level: bool,
    ) -> Result<LockAttempt<bool>, DbError> {
        let session = self.tx_session.get(&id).copied();
        let owner = match (session_level, session) {
            (true, Some(session)) => session,
            _ => id,
        };
        let mine = |holder: TxId| holder == id || Some(holder) == session;
        let lock = self.advisory.locks.entry(key.clone()).or_default();
        let holds_any = lock.holders.keys().any(|&holder| mine(holder));
        let place = lock.queue.iter().position(|&(waiter, _)| waiter == id);
        let ahead = if holds_any {
            0
        } else {
            place.unwrap_or(lock.queue.len())
        };
        let blockers: BTreeSet<TxId> = lock
            .holders
            .iter()
            .filter(|&(&holder, held)| !mine(holder) && held.conflicts(mode))
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
            let held = lock.holders.entry(owner).or_default();
            // A transaction-level lock is held once however often it is
            // taken; a session-level one counts its acquisitions.
            if owner != id || !held.holds(mode) {
                *held.count(mode) += 1;
            }
            self.advisory
                .keys_of
                .entry(owner)
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

    /// `pg_advisory_unlock[_shared]` by `session`: drops one acquisition
    /// of `key` in `mode`; false when the session does not hold it
    /// (PostgreSQL warns and returns false).
    pub(crate) fn advisory_unlock(&mut self, session: TxId, key: &Key, mode: AdvisoryMode) -> bool {
        let Some(lock) = self.advisory.locks.get_mut(key) else {
            return false;
        };
        let Some(held) = lock.holders.get_mut(&session) else {
            return false;
        };
        if !held.holds(mode) {
            return false;
        }
        *held.count(mode) -= 1;
        if held.is_empty() {
            lock.holders.remove(&session);
            if let Some(keys) = self.advisory.keys_of.get_mut(&session) {
                keys.remove(key);
            }
            if lock.holders.is_empty() && lock.queue.is_empty() {
                self.advisory.locks.remove(key);
            }
        }
        self.wake_waiters_of(session);
        true
    }

    /// `pg_advisory_unlock_all()`, and the end of a session: drops every
    /// session-level advisory lock of `session`.
    pub(crate) fn advisory_unlock_all(&mut self, session: TxId) {
        self.advisory.release(session);
        self.wake_waiters_of(session);
    }

    /// A session ended: its locks go, and it is no one's session.
    pub(crate) fn end_session(&mut self, session: TxId) {
        self.advisory_unlock_all(session);
        if let Some(tx) = self.session_tx.remove(&session) {
            self.tx_session.remove(&tx);
        }
    }

    /// Puts `id`'s transaction-level advisory locks back to `held` and
    /// takes it out of any queue (a rollback to a savepoint).
    pub(crate) fn restore_advisory(&mut self, id: TxId, held: &AdvisoryHeld) {
        let keys: Vec<Key> = self.advisory.keys_of(id).cloned().collect();
        for key in keys {
            let Some(lock) = self.advisory.locks.get_mut(&key) else {
                continue;
            };
            lock.queue.retain(|&(waiter, _)| waiter != id);
            match held.get(&key) {
                Some(&counts) => {
                    lock.holders.insert(id, counts);
                }
                None => {
                    lock.holders.remove(&id);
                    if let Some(keys) = self.advisory.keys_of.get_mut(&id) {
                        keys.remove(&key);
                    }
                    if lock.holders.is_empty() && lock.queue.is_empty() {
                        self.advisory.locks.remove(&key);
                    }
                }
            }
        }
        self.wake_waiters_of(id);
    }

    /// Wakes the tasks waiting for `id` (they try again).
    fn wake_waiters_of(&mut self, id: TxId) {
        if let Some(wakers) = self.waiters.remove(&id) {
            for waker in wakers {
                waker.wake();
            }
        }
    }
}
