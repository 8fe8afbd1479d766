//! Table locks (PostgreSQL's relation locks): `LOCK TABLE ... IN <mode>
//! MODE` and the modes ordinary statements take implicitly (ACCESS SHARE
//! for a read, ROW SHARE for a locking read, ROW EXCLUSIVE for a write,
//! ACCESS EXCLUSIVE for `DROP TABLE` and `TRUNCATE`, SHARE for `CREATE
//! INDEX`), held to the end of the transaction, in a table of their own
//! beside the row and advisory locks.
//!
//! They follow PostgreSQL's lock manager (`lock.c`, `proc.c`): a
//! transaction may hold several modes of one table; a request is granted
//! at once unless it conflicts with a mode another transaction holds or
//! with a mode someone waits for; a waiter that already holds a mode of
//! the table goes ahead of the first waiter that must wait for it (and is
//! granted at once when nothing ahead of that place blocks it), or fails
//! with 40P01 on the spot when that waiter holds a mode it must wait for
//! (`ProcSleep`'s early deadlock); a release grants the queue in order to
//! each waiter that conflicts neither with the holders nor with a waiter
//! left ahead of it (`ProcLockWakeup`). Each waiter's edges in the store's
//! wait-for graph are the holders it conflicts with and the conflicting
//! waiters ahead of it, so deadlocks through table, row and advisory locks
//! are found together.

use super::{LockAttempt, State};
use crate::store::types::{DbError, SqlState, TxId};
use std::collections::{BTreeMap, BTreeSet};
use std::task::Waker;

/// A table lock mode, weakest first, as PostgreSQL numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TableLockMode {
    /// `ACCESS SHARE`: what a plain `SELECT` takes.
    AccessShare = 1,
    /// `ROW SHARE`: `SELECT ... FOR UPDATE / SHARE`.
    RowShare = 2,
    /// `ROW EXCLUSIVE`: `INSERT`, `UPDATE`, `DELETE`.
    RowExclusive = 3,
    /// `SHARE UPDATE EXCLUSIVE`: `VACUUM`, `ANALYZE`, `CREATE INDEX
    /// CONCURRENTLY`.
    ShareUpdateExclusive = 4,
    /// `SHARE`: `CREATE INDEX`.
    Share = 5,
    /// `SHARE ROW EXCLUSIVE`: `CREATE TRIGGER`.
    ShareRowExclusive = 6,
    /// `EXCLUSIVE`: `REFRESH MATERIALIZED VIEW CONCURRENTLY`.
    Exclusive = 7,
    /// `ACCESS EXCLUSIVE`: `DROP TABLE`, `TRUNCATE`, a bare `LOCK TABLE`.
    AccessExclusive = 8,
}

impl TableLockMode {
    /// Every mode, weakest first.
    pub const ALL: [TableLockMode; 8] = [
        TableLockMode::AccessShare,
        TableLockMode::RowShare,
        TableLockMode::RowExclusive,
        TableLockMode::ShareUpdateExclusive,
        TableLockMode::Share,
        TableLockMode::ShareRowExclusive,
        TableLockMode::Exclusive,
        TableLockMode::AccessExclusive,
    ];

    pub(crate) fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The modes this one conflicts with, as a mask of [`Self::bit`]s
    /// (PostgreSQL's `LockConflicts` table): a constant per mode, as
    /// every table-lock request and grant reads it.
    fn conflict_mask(self) -> u16 {
        use TableLockMode as M;
        const fn mask(modes: &[M]) -> u16 {
            let mut mask = 0;
            let mut i = 0;
            while i < modes.len() {
                mask |= 1 << (modes[i] as u16);
                i += 1;
            }
            mask
        }
        const CONFLICTS: [u16; 9] = [
            0,
            mask(&[M::AccessExclusive]),
            mask(&[M::Exclusive, M::AccessExclusive]),
            mask(&[
                M::Share,
                M::ShareRowExclusive,
                M::Exclusive,
                M::AccessExclusive,
            ]),
            mask(&[
                M::ShareUpdateExclusive,
                M::Share,
                M::ShareRowExclusive,
                M::Exclusive,
                M::AccessExclusive,
            ]),
            mask(&[
                M::RowExclusive,
                M::ShareUpdateExclusive,
                M::ShareRowExclusive,
                M::Exclusive,
                M::AccessExclusive,
            ]),
            mask(&[
                M::RowExclusive,
                M::ShareUpdateExclusive,
                M::Share,
                M::ShareRowExclusive,
                M::Exclusive,
                M::AccessExclusive,
            ]),
            mask(&[
                M::RowShare,
                M::RowExclusive,
                M::ShareUpdateExclusive,
                M::Share,
                M::ShareRowExclusive,
                M::Exclusive,
                M::AccessExclusive,
            ]),
            mask(&TableLockMode::ALL),
        ];
        CONFLICTS[self as usize]
    }

    /// Whether a holder of `self` blocks a request for `other` (the
    /// relation is symmetric).
    pub fn conflicts_with(self, other: TableLockMode) -> bool {
        self.conflict_mask() & other.bit() != 0
    }

    /// The mode as `pg_locks.mode` names it.
    pub fn lock_name(self) -> &'static str {
        match self {
            TableLockMode::AccessShare => "AccessShareLock",
            TableLockMode::RowShare => "RowShareLock",
            TableLockMode::RowExclusive => "RowExclusiveLock",
            TableLockMode::ShareUpdateExclusive => "ShareUpdateExclusiveLock",
            TableLockMode::Share => "ShareLock",
            TableLockMode::ShareRowExclusive => "ShareRowExclusiveLock",
            TableLockMode::Exclusive => "ExclusiveLock",
            TableLockMode::AccessExclusive => "AccessExclusiveLock",
        }
    }

    /// The mode as `LOCK TABLE ... IN <name> MODE` spells it.
    pub fn sql_name(self) -> &'static str {
        match self {
            TableLockMode::AccessShare => "ACCESS SHARE",
            TableLockMode::RowShare => "ROW SHARE",
            TableLockMode::RowExclusive => "ROW EXCLUSIVE",
            TableLockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            TableLockMode::Share => "SHARE",
            TableLockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            TableLockMode::Exclusive => "EXCLUSIVE",
            TableLockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }
}

#[derive(Debug, Default)]
struct TableLock {
    /// Holders and the modes each holds (a mask of bits). Changed only
    /// through [`TableLock::hold`] and [`TableLock::forget`], which keep
    /// `holding` in step.
    holders: BTreeMap<TxId, u16>,
    /// How many holders hold each mode (by the mode's number): what
    /// [`TableLock::others_hold`] reads, in a constant number of steps
    /// however many transactions hold the table (every transaction of a
    /// busy table holds a mode of it).
    holding: [u32; 9],
    /// Waiters in queue order (not always arrival order: see the module
    /// docs).
    queue: Vec<(TxId, TableLockMode)>,
}

impl TableLock {
    /// The modes transactions other than `id` hold.
    fn others_hold(&self, id: TxId) -> u16 {
        self.others_hold_beside(self.holders.get(&id).copied().unwrap_or(0))
    }

    /// [`TableLock::others_hold`] for a holder known to hold `mine`.
    fn others_hold_beside(&self, mine: u16) -> u16 {
        TableLockMode::ALL.iter().fold(0, |mask, mode| {
            let bit = mode.bit();
            let own = u32::from(mine & bit != 0);
            if self.holding[*mode as usize] > own {
                mask | bit
            } else {
                mask
            }
        })
    }

    /// `id` holds `bits` besides what it held.
    fn hold(&mut self, id: TxId, bits: u16) {
        let held = self.holders.entry(id).or_default();
        let added = bits & !*held;
        *held |= bits;
        for mode in TableLockMode::ALL {
            if added & mode.bit() != 0 {
                self.holding[mode as usize] += 1;
            }
        }
    }

    /// `id` holds no mode any more.
    fn forget(&mut self, id: TxId) {
        if let Some(held) = self.holders.remove(&id) {
            for mode in TableLockMode::ALL {
                if held & mode.bit() != 0 {
                    self.holding[mode as usize] -= 1;
                }
            }
        }
    }

    /// What `id` asking for `mode` waits for when queued at `place`: the
    /// holders of a conflicting mode and the waiters ahead of it asking
    /// for one.
    fn blockers(&self, id: TxId, mode: TableLockMode, place: usize) -> BTreeSet<TxId> {
        let conflicts = mode.conflict_mask();
        self.holders
            .iter()
            .filter(|&(&holder, &held)| holder != id && held & conflicts != 0)
            .map(|(&holder, _)| holder)
            .chain(
                self.queue[..place]
                    .iter()
                    .filter(|&&(waiter, other)| waiter != id && other.conflicts_with(mode))
                    .map(|&(waiter, _)| waiter),
            )
            .collect()
    }
}

/// Every table lock held or waited for.
#[derive(Debug, Default)]
pub(crate) struct TableLocks {
    locks: BTreeMap<String, TableLock>,
    /// The tables each transaction holds a mode of or waits for.
    /// (A sorted `Vec`: a transaction has few tables, and this is
    /// touched at its first statement on each.)
    tables_of: BTreeMap<TxId, Vec<String>>,
    /// The task of each queued transaction, woken when it is granted.
    wakers: BTreeMap<TxId, Waker>,
}

impl TableLocks {
    /// Every table lock held or waited for, by table: `(table, holder,
    /// mode, granted)`, each holder's modes weakest first, then the
    /// queue in its order.
    pub(crate) fn entries(&self) -> Vec<(&str, TxId, TableLockMode, bool)> {
        let mut entries = Vec::new();
        for (table, lock) in &self.locks {
            for (&holder, &mask) in &lock.holders {
                for mode in TableLockMode::ALL {
                    if mask & mode.bit() != 0 {
                        entries.push((table.as_str(), holder, mode, true));
                    }
                }
            }
            for &(waiter, mode) in &lock.queue {
                entries.push((table.as_str(), waiter, mode, false));
            }
        }
        entries
    }

    /// The table `id` waits in the queue of, if any.
    pub(crate) fn waits_on(&self, id: TxId) -> Option<&str> {
        self.queued(id)
    }

    /// Whether `id` waits in a table lock's queue.
    fn queued(&self, id: TxId) -> Option<&str> {
        self.tables_of.get(&id)?.iter().find_map(|table| {
            self.locks[table]
                .queue
                .iter()
                .any(|&(waiter, _)| waiter == id)
                .then_some(table.as_str())
        })
    }

    /// Registers the task of `id` if it waits for a table lock (it is
    /// woken when granted); false when it does not wait for one.
    pub(crate) fn park(&mut self, id: TxId, waker: &Waker) -> bool {
        if self.queued(id).is_none() {
            return false;
        }
        self.wakers.insert(id, waker.clone());
        true
    }

    /// The tables `id` holds a mode of, with the modes.
    pub(crate) fn held_by(&self, id: TxId) -> BTreeMap<String, u16> {
        self.tables_of
            .get(&id)
            .into_iter()
            .flatten()
            .filter_map(|table| {
                let held = *self.locks.get(table)?.holders.get(&id)?;
                Some((table.clone(), held))
            })
            .collect()
    }

    /// Whether a transaction other than `id` holds or waits for a lock on
    /// `table` in a mode that conflicts with `mode`.
    pub(crate) fn contended(&self, table: &str, mode: TableLockMode, id: TxId) -> bool {
        self.locks.get(table).is_some_and(|lock| {
            lock.others_hold(id) & mode.conflict_mask() != 0
                || lock
                    .queue
                    .iter()
                    .any(|&(waiter, other)| waiter != id && other.conflicts_with(mode))
        })
    }

    /// `table`'s lock, an empty one made if there is none (the name is
    /// copied only then: a statement asks for its tables' locks each time).
    fn lock_mut(&mut self, table: &str) -> &mut TableLock {
        if !self.locks.contains_key(table) {
            self.locks.insert(table.to_string(), TableLock::default());
        }
        self.locks.get_mut(table).expect("inserted above")
    }

    /// `id` holds a mode of `table` or waits for one.
    fn note_table_of(&mut self, id: TxId, table: &str) {
        let tables = self.tables_of.entry(id).or_default();
        if let Err(place) = tables.binary_search_by(|held| held.as_str().cmp(table)) {
            tables.insert(place, table.to_string());
        }
    }
}

impl State {
    /// `id` asks for `mode` on `table`: `Done` once held, a wait, or (with
    /// `nowait`) 55P03 when it would wait; 40P01 at once when it would
    /// wait for a waiter that waits for it (see the module docs).
    pub(crate) fn table_lock(
        &mut self,
        id: TxId,
        table: &str,
        mode: TableLockMode,
        nowait: bool,
    ) -> Result<LockAttempt<()>, DbError> {
        /// What the lock manager decides for a new request.
        enum Decision {
            Grant,
            Busy,
            EarlyDeadlock(TxId),
            Queue(usize),
        }
        let lock = self.table_locks.lock_mut(table);
        let mine = lock.holders.get(&id).copied().unwrap_or(0);
        if mine & mode.bit() != 0 {
            return Ok(LockAttempt::Done(()));
        }
        if let Some(place) = lock.queue.iter().position(|&(waiter, _)| waiter == id) {
            // Still queued: the grant comes from a release
            // (`grant_table_waiters`); until then wait for what blocks it.
            let blockers = lock.blockers(id, mode, place);
            return match self.wait_for_all(id, blockers)? {
                LockAttempt::WaitFor(first) => Ok(LockAttempt::WaitFor(first)),
                LockAttempt::Done(()) => unreachable!("a wait is never done"),
            };
        }
        let conflicts = mode.conflict_mask();
        let waited_for = lock.queue.iter().fold(0, |mask, (_, m)| mask | m.bit());
        let held_by_others = lock.others_hold_beside(mine) & conflicts != 0;
        let decision = if conflicts & waited_for == 0 && !held_by_others {
            Decision::Grant
        } else if nowait {
            Decision::Busy
        } else {
            // ProcSleep: a holder of the table goes ahead of the first
            // waiter that must wait for it.
            let mut decision = Decision::Queue(lock.queue.len());
            if mine != 0 {
                let mut ahead = 0u16;
                for (i, &(waiter, wanted)) in lock.queue.iter().enumerate() {
                    if wanted.conflict_mask() & mine != 0 {
                        let his = lock.holders.get(&waiter).copied().unwrap_or(0);
                        decision = if conflicts & his != 0 {
                            Decision::EarlyDeadlock(waiter)
                        } else if conflicts & ahead == 0 && !held_by_others {
                            Decision::Grant
                        } else {
                            Decision::Queue(i)
                        };
                        break;
                    }
                    ahead |= wanted.bit();
                }
            }
            decision
        };
        match decision {
            Decision::Grant => {
                // The lock found above, not a second look-up by name.
                lock.hold(id, mode.bit());
                self.table_locks.note_table_of(id, table);
                Ok(LockAttempt::Done(()))
            }
            Decision::Busy => {
                if lock.holders.is_empty() && lock.queue.is_empty() {
                    self.table_locks.locks.remove(table);
                }
                Err(self.fail(
                    id,
                    DbError::new(
                        SqlState::LockNotAvailable,
                        format!("could not obtain lock on relation \"{table}\""),
                    ),
                ))
            }
            Decision::EarlyDeadlock(waiter) => Err(self.deadlock(id, waiter)),
            Decision::Queue(place) => {
                lock.queue.insert(place, (id, mode));
                let blockers = lock.blockers(id, mode, place);
                self.table_locks.note_table_of(id, table);
                match self.wait_for_all(id, blockers)? {
                    LockAttempt::WaitFor(first) => Ok(LockAttempt::WaitFor(first)),
                    LockAttempt::Done(()) => unreachable!("a wait is never done"),
                }
            }
        }
    }

    /// Grants `table`'s queue in order, to each waiter whose mode
    /// conflicts neither with the holders nor with a waiter left ahead of
    /// it (`ProcLockWakeup`); the rest wait for what now blocks them.
    pub(crate) fn grant_table_waiters(&mut self, table: &str) {
        let Some(lock) = self.table_locks.locks.get_mut(table) else {
            return;
        };
        if lock.queue.is_empty() {
            // Nobody to grant (the common release): only drop a lock
            // nobody holds any more.
            if lock.holders.is_empty() {
                self.table_locks.locks.remove(table);
            }
            return;
        }
        let queue = std::mem::take(&mut lock.queue);
        let mut ahead = 0u16;
        let mut granted = Vec::new();
        for (waiter, mode) in queue {
            if mode.conflict_mask() & (ahead | lock.others_hold(waiter)) == 0 {
                lock.hold(waiter, mode.bit());
                granted.push(waiter);
            } else {
                ahead |= mode.bit();
                lock.queue.push((waiter, mode));
            }
        }
        let still: Vec<(usize, TxId, TableLockMode)> = lock
            .queue
            .iter()
            .enumerate()
            .map(|(place, &(waiter, mode))| (place, waiter, mode))
            .collect();
        for (place, waiter, mode) in still {
            let blockers = self.table_locks.locks[table].blockers(waiter, mode, place);
            self.waits_for.insert(waiter, blockers);
        }
        for waiter in granted {
            self.waits_for.remove(&waiter);
            if let Some(waker) = self.table_locks.wakers.remove(&waiter) {
                waker.wake();
            }
        }
        let lock = &self.table_locks.locks[table];
        if lock.holders.is_empty() && lock.queue.is_empty() {
            self.table_locks.locks.remove(table);
        }
    }

    /// Whether no table lock is held or waited for.
    pub(crate) fn table_locks_idle(&self) -> bool {
        self.table_locks.locks.is_empty()
            && self.table_locks.tables_of.is_empty()
            && self.table_locks.wakers.is_empty()
    }

    /// Forgets `id`'s table locks and its place in a queue (it ended or
    /// failed), granting what that frees.
    pub(crate) fn release_table_locks(&mut self, id: TxId) {
        let tables = self.table_locks.tables_of.remove(&id).unwrap_or_default();
        self.table_locks.wakers.remove(&id);
        for table in tables {
            if let Some(lock) = self.table_locks.locks.get_mut(&table) {
                lock.forget(id);
                lock.queue.retain(|&(waiter, _)| waiter != id);
                // Nobody waits (the common release): nothing to grant,
                // and no second look-up of the lock by name.
                if lock.queue.is_empty() {
                    if lock.holders.is_empty() {
                        self.table_locks.locks.remove(&table);
                    }
                    continue;
                }
                self.grant_table_waiters(&table);
            }
        }
    }

    /// Puts `id`'s table locks back to `held` (what it held at a
    /// savepoint) and takes it out of any queue: PostgreSQL releases the
    /// locks an aborted subtransaction took.
    pub(crate) fn restore_table_locks(&mut self, id: TxId, held: &BTreeMap<String, u16>) {
        let tables = self.table_locks.tables_of.remove(&id).unwrap_or_default();
        self.table_locks.wakers.remove(&id);
        for table in tables {
            let Some(lock) = self.table_locks.locks.get_mut(&table) else {
                continue;
            };
            lock.queue.retain(|&(waiter, _)| waiter != id);
            match held.get(&table) {
                Some(&modes) => {
                    lock.forget(id);
                    lock.hold(id, modes);
                    self.table_locks.note_table_of(id, &table);
                }
                None => {
                    lock.forget(id);
                }
            }
            self.grant_table_waiters(&table);
        }
    }
}

impl State {
    /// PostgreSQL's repair of a soft deadlock (`deadlock.c`): when the
    /// cycle through `id` passes an edge from a table-lock waiter to a
    /// waiter queued ahead of it (a wait only the queue order makes),
    /// putting the one behind in front may break the cycle. Each such
    /// edge is tried, the one found deepest in the cycle first as
    /// PostgreSQL does; the first reordering after which `id` is in no
    /// cycle is kept (and the queue granted anew). False when none helps:
    /// a real deadlock.
    pub(crate) fn repair_soft_deadlock(&mut self, id: TxId) -> bool {
        let Some(path) = self.cycle_path(id) else {
            return false;
        };
        let soft: Vec<(TxId, TxId, String)> = path
            .iter()
            .filter_map(|&(waiter, blocker)| {
                let table = self.table_locks.queued(waiter)?.to_string();
                let lock = &self.table_locks.locks[&table];
                let (place, mode) = lock
                    .queue
                    .iter()
                    .enumerate()
                    .find(|(_, &(w, _))| w == waiter)
                    .map(|(place, &(_, mode))| (place, mode))?;
                let ahead = lock.queue[..place].iter().any(|&(w, _)| w == blocker);
                let hard = lock
                    .holders
                    .get(&blocker)
                    .is_some_and(|&held| held & mode.conflict_mask() != 0);
                (ahead && !hard).then_some((waiter, blocker, table))
            })
            .collect();
        for (waiter, blocker, table) in soft.into_iter().rev() {
            let saved = self.table_locks.locks[&table].queue.clone();
            let queue = &mut self
                .table_locks
                .locks
                .get_mut(&table)
                .expect("queued there")
                .queue;
            let from = queue
                .iter()
                .position(|&(w, _)| w == waiter)
                .expect("queued there");
            let entry = queue.remove(from);
            let to = queue
                .iter()
                .position(|&(w, _)| w == blocker)
                .expect("queued ahead");
            queue.insert(to, entry);
            self.refresh_table_waits(&table);
            let still = self
                .waits_for
                .get(&id)
                .cloned()
                .is_some_and(|holders| !holders.is_empty() && self.closes_cycle(id, &holders));
            if !still {
                self.grant_table_waiters(&table);
                return true;
            }
            self.table_locks
                .locks
                .get_mut(&table)
                .expect("queued there")
                .queue = saved;
            self.refresh_table_waits(&table);
        }
        false
    }

    /// Sets the wait-for edges of `table`'s waiters from the queue as it
    /// is (none for a waiter nothing blocks any more).
    fn refresh_table_waits(&mut self, table: &str) {
        let lock = &self.table_locks.locks[table];
        let edges: Vec<(TxId, BTreeSet<TxId>)> = lock
            .queue
            .iter()
            .enumerate()
            .map(|(place, &(waiter, mode))| (waiter, lock.blockers(waiter, mode, place)))
            .collect();
        for (waiter, blockers) in edges {
            if blockers.is_empty() {
                self.waits_for.remove(&waiter);
            } else {
                self.waits_for.insert(waiter, blockers);
            }
        }
    }

    /// The edges of a cycle of the wait-for graph through `id`, in the
    /// order a depth-first search from `id` meets them (a session stands
    /// for its open transaction, as in `closes_cycle`).
    fn cycle_path(&self, id: TxId) -> Option<Vec<(TxId, TxId)>> {
        let own_session = self.tx_session.get(&id).copied();
        let edges = |current: TxId| -> Vec<TxId> {
            self.waits_for
                .get(&current)
                .into_iter()
                .flatten()
                .copied()
                .chain(self.session_tx.get(&current).copied())
                .collect()
        };
        // An explicit stack of (node, its next edges to try).
        let mut seen = BTreeSet::from([id]);
        let mut path: Vec<(TxId, TxId)> = Vec::new();
        let mut stack: Vec<(TxId, Vec<TxId>)> = vec![(id, edges(id))];
        while let Some((current, pending)) = stack.last_mut() {
            let current = *current;
            let Some(next) = (!pending.is_empty()).then(|| pending.remove(0)) else {
                stack.pop();
                path.pop();
                continue;
            };
            if next == id || Some(next) == own_session {
                path.push((current, next));
                return Some(path);
            }
            if seen.insert(next) {
                path.push((current, next));
                stack.push((next, edges(next)));
            }
        }
        None
    }
}

#[cfg(test)]
mod holding_tests {
    use super::*;

    /// What `others_hold` answered before it kept counts: the union of
    /// the other holders' modes, walking them all.
    fn walked(lock: &TableLock, id: TxId) -> u16 {
        lock.holders
            .iter()
            .filter(|&(&holder, _)| holder != id)
            .fold(0, |mask, (_, &held)| mask | held)
    }

    #[test]
    fn counted_modes_match_the_holders_through_grants_upgrades_and_releases() {
        use TableLockMode as M;
        let mut lock = TableLock::default();
        let steps: &[(TxId, Option<M>)] = &[
            (1, Some(M::AccessShare)),
            (2, Some(M::AccessShare)),
            (1, Some(M::RowExclusive)),
            (1, Some(M::RowExclusive)),
            (3, Some(M::Share)),
            (2, None),
            (2, Some(M::RowShare)),
            (1, None),
            (3, None),
            (4, Some(M::AccessExclusive)),
            (2, None),
            (4, None),
        ];
        for &(id, step) in steps {
            match step {
                Some(mode) => lock.hold(id, mode.bit()),
                None => lock.forget(id),
            }
            for probe in 0..=5 {
                assert_eq!(
                    lock.others_hold(probe),
                    walked(&lock, probe),
                    "after {id} {step:?}, asked for {probe}"
                );
            }
        }
        assert!(lock.holders.is_empty());
        assert_eq!(lock.holding, [0; 9]);
    }
}
