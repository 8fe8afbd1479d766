//! Who holds and waits for what at one moment: the store's side of
//! PostgreSQL's `pg_locks` and `pg_stat_activity` views.
//!
//! [`Store::activity`](super::Store::activity) copies it out of the lock
//! manager under the store's mutex, so a harness can keep the picture of a
//! failing step after the run's transactions are gone (the world rolls
//! them back when its simulation ends). Nothing here is read on the path
//! of a statement: it costs only when asked for.

use super::types::{Isolation, Key, TxId};
use super::RowLockMode;

/// What a lock is on, as `pg_locks.locktype` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockType {
    /// A table lock (`LOCK TABLE`, and the mode every statement takes).
    Relation,
    /// A row lock (a write, `SELECT ... FOR UPDATE` and the like, a
    /// foreign-key check's `FOR KEY SHARE`).
    Tuple,
    /// A transaction's own id: held by it while it runs, and waited for
    /// by whoever waits for it to end.
    TransactionId,
    /// An advisory lock (`pg_advisory_lock` and its forms).
    Advisory,
}

impl LockType {
    /// The name `pg_locks.locktype` gives it.
    pub fn name(self) -> &'static str {
        match self {
            LockType::Relation => "relation",
            LockType::Tuple => "tuple",
            LockType::TransactionId => "transactionid",
            LockType::Advisory => "advisory",
        }
    }
}

/// Who holds or waits: a transaction, or a session (a connection's
/// session-level advisory locks outlive its transactions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockOwner {
    /// A transaction (`T12` in traces).
    Tx(TxId),
    /// A session, numbered from 1 in the order sessions were opened.
    Session(u64),
}

/// One row of `pg_locks`: one lock held or waited for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockEntry {
    /// What the lock is on.
    pub locktype: LockType,
    /// The table (for a row lock: its key's table; for an index entry's
    /// lock: `table@index`).
    pub relation: Option<String>,
    /// The locked row's or advisory lock's key.
    pub key: Option<Key>,
    /// For a `transactionid` lock: whose end it is.
    pub transactionid: Option<TxId>,
    /// Who holds it or waits for it.
    pub owner: LockOwner,
    /// The mode as `pg_locks.mode` names it (`RowExclusiveLock`,
    /// `ExclusiveLock`, ...). For a row lock, the lock manager's mode
    /// PostgreSQL takes for its strength (see [`tuple_lock_mode`]).
    pub mode: &'static str,
    /// For a row lock, its strength as SQL spells it (`FOR UPDATE`).
    pub row_lock: Option<RowLockMode>,
    /// Held (true) or waited for (false).
    pub granted: bool,
}

/// One open transaction, for `pg_stat_activity`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenTransaction {
    /// The transaction.
    pub tx: TxId,
    /// Its session, when it runs in one (a SQL connection).
    pub session: Option<u64>,
    /// Its isolation level.
    pub isolation: Isolation,
    /// `READ ONLY`.
    pub read_only: bool,
    /// A statement failed: it can only roll back.
    pub failed: bool,
    /// SSI chose it as a victim: its next statement fails with 40001.
    pub doomed: bool,
    /// Its snapshot (a commit sequence number), once it took one.
    pub snapshot: Option<u64>,
    /// What it waits for, when it waits (see [`LockType`]).
    pub waiting_on: Option<LockType>,
    /// The transactions (or sessions) it waits for to move on.
    pub blocked_by: Vec<LockOwner>,
    /// The keys it wrote and has not committed, in key order.
    pub writes: Vec<Key>,
}

/// The locks and open transactions of a store at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    /// Every lock held or waited for: by type, then relation and key,
    /// granted ones before waiters.
    pub locks: Vec<LockEntry>,
    /// Every open transaction, by id.
    pub transactions: Vec<OpenTransaction>,
}

/// The lock manager mode PostgreSQL takes on a tuple for a row lock of
/// `strength` (heapam.c's `tupleLockExtraInfo`): what `pg_locks.mode`
/// shows for a waiter's `tuple` lock.
pub fn tuple_lock_mode(strength: RowLockMode) -> &'static str {
    match strength {
        RowLockMode::KeyShare => "AccessShareLock",
        RowLockMode::Share => "RowShareLock",
        RowLockMode::NoKeyUpdate => "ExclusiveLock",
        RowLockMode::Update => "AccessExclusiveLock",
    }
}
