//! The store's state machine: versions, row locks, SSI bookkeeping and
//! constraints. Everything here is synchronous and runs under the store's
//! mutex; the async layer in `mod.rs` turns "must wait" into a parked task.

use super::record::{CommittedTx, ReadRecord, WriteRecord};
use super::types::{Datum, DbError, Isolation, Key, KeyRange, Row, RowLockMode, SqlState, TxId};
use super::{Op, Schema, StoreConfig};
use crate::seed::Rng64;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ops::Bound;
use std::sync::Arc;
use std::task::Waker;

mod activity;
mod advisory;
mod deferrable;
mod siread;
mod table_locks;
pub(crate) use advisory::AdvisoryMode;
pub use table_locks::TableLockMode;

/// One committed version of a key. `row == None` is a tombstone (deleted).
#[derive(Clone, Debug)]
pub(crate) struct Version {
    pub(crate) writer: TxId,
    pub(crate) seq: u64,
    pub(crate) row: Option<Arc<Row>>,
    /// The write changed the row's key (a DELETE, or an UPDATE of a column
    /// of a unique index): PostgreSQL's HEAP_KEYS_UPDATED, which a later
    /// `FOR KEY SHARE` at a snapshot level cannot pass.
    pub(crate) keys_changed: bool,
    /// The writer deleted the row it found and inserted another with the
    /// same key: a new tuple, not a successor of the old one, so a Read
    /// Committed statement that waited on the old row finds it deleted.
    pub(crate) replaced: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Status {
    Active,
    /// Failed: every later statement gets 25P02 until rollback.
    Failed,
    Committed,
}

/// What the store knows of one transaction.
#[derive(Debug)]
pub(crate) struct TxState {
    pub(crate) isolation: Isolation,
    pub(crate) status: Status,
    /// The snapshot (a commit sequence number: versions with `seq <=
    /// snapshot` are visible). Taken at the first statement, as PostgreSQL
    /// does; Read Committed retakes it every statement.
    pub(crate) snapshot: Option<u64>,
    /// The snapshot of its first statement: every read it makes sees at
    /// least the commits up to it (Read Committed only moves forward).
    pub(crate) first_snapshot: Option<u64>,
    /// The commit sequence number once committed.
    pub(crate) commit_seq: Option<u64>,
    /// Uncommitted writes: the transaction's own view of the keys it wrote.
    pub(crate) writes: BTreeMap<Key, Option<Arc<Row>>>,
    /// The own writes its reads see during the current statement, when
    /// they are not `writes`: a SQL statement with data-modifying WITH
    /// queries reads as of its start (see [`State::freeze_own_writes`]).
    pub(crate) read_view: Option<BTreeMap<Key, Option<Arc<Row>>>>,
    /// Row locks held (written or locked with FOR UPDATE and the like);
    /// their strengths are in `State::row_locks`.
    pub(crate) locks: BTreeSet<Key>,
    /// Keys whose row it deleted or whose unique columns it updated.
    pub(crate) keys_changed: BTreeSet<Key>,
    /// Keys whose row it deleted and then inserted anew.
    pub(crate) replaced: BTreeSet<Key>,
    /// Keys it inserted beside a row another transaction deleted after
    /// this one's snapshot (Repeatable Read, Serializable). PostgreSQL's
    /// snapshot then shows both rows, the deleted one and the new one; the
    /// store keeps one version of a key per transaction and cannot, so a
    /// later read or write of the key fails with 40001 instead (see
    /// [`State::shadowed_read`]).
    pub(crate) shadowed: BTreeSet<Key>,
    /// A foreign-key check's lock is under way: at Read Committed it
    /// reads the newest committed version (see `Tx::sql_ri_key_share`).
    pub(crate) ri_query: bool,
    /// Row locks granted during the current statement, with the strength
    /// held before it (`None`: none).
    granted_this_statement: BTreeMap<Key, Option<RowLockMode>>,
    pub(crate) reads: Vec<ReadRecord>,
    /// SSI: predicate (SIREAD) locks on single keys and on ranges.
    pub(crate) siread_keys: BTreeSet<Key>,
    pub(crate) siread_ranges: Vec<KeyRange>,
    /// SSI: rw-antidependencies in (`reader -> self`) and out (`self -> writer`).
    pub(crate) rw_in: BTreeSet<TxId>,
    pub(crate) rw_out: BTreeSet<TxId>,
    /// SSI chose this transaction as the victim of a dangerous structure
    /// found by another transaction's statement; its next statement fails.
    pub(crate) doomed: Option<String>,
    /// Declared READ ONLY (SSI exempts it from some structures).
    pub(crate) read_only: bool,
    /// It wrote a row (an SSI conflict in was checked for it).
    pub(crate) did_write: bool,
    /// Once committed: the earliest commit among the transactions it had
    /// a conflict out to that committed before it (see
    /// `summarize_conflict_out`).
    pub(crate) conflict_out_commit: Option<u64>,
    /// Rows this transaction moved to another key (an UPDATE of the
    /// primary key): old key -> new key, PostgreSQL's update chain.
    pub(crate) moves: BTreeMap<Key, (Key, bool)>,
    /// Open savepoints, oldest first.
    pub(crate) savepoints: Vec<Savepoint>,
    /// Its session's `deadlock_timeout` (`None`: the store's).
    pub(crate) deadlock_timeout_ms: Option<u64>,
    /// Key ranges it emptied with `TRUNCATE`: at commit their older
    /// versions go, so that no snapshot sees them (PostgreSQL gives the
    /// table a new, empty file: TRUNCATE is not MVCC-safe).
    pub(crate) truncated: Vec<KeyRange>,
}

/// What a transaction had written and locked when it set a savepoint:
/// `ROLLBACK TO SAVEPOINT` (and an error after it) goes back to this, as
/// PostgreSQL aborts a subtransaction. Reads, SIREAD locks and SSI edges
/// stay: PostgreSQL keeps a subtransaction's predicate locks and conflicts
/// with its top-level transaction.
#[derive(Debug)]
pub(crate) struct Savepoint {
    pub(crate) name: String,
    writes: BTreeMap<Key, Option<Arc<Row>>>,
    locks: BTreeMap<Key, RowLockMode>,
    keys_changed: BTreeSet<Key>,
    replaced: BTreeSet<Key>,
    moves: BTreeMap<Key, (Key, bool)>,
    did_write: bool,
    /// The last exclusion entry placed before it: later ones of this
    /// transaction go with a rollback to it (their inserter aborted).
    last_entry_seq: u64,
    /// The table locks held then (a mask of modes per table): later ones
    /// go with a rollback to it, as PostgreSQL releases an aborted
    /// subtransaction's locks.
    table_locks: BTreeMap<String, u16>,
    /// The advisory transaction locks held then: likewise.
    advisory: advisory::AdvisoryHeld,
    /// How many ranges it had truncated then.
    truncated: usize,
}

impl TxState {
    /// Failed with no savepoint to go back to: it can only roll back. One
    /// with a savepoint may be revived by `ROLLBACK TO` and commit, so its
    /// SSI conflicts still count, as PostgreSQL keeps a top-level
    /// transaction's predicate locks and conflicts when a subtransaction
    /// aborts.
    fn failed_for_good(&self) -> bool {
        self.status == Status::Failed && self.savepoints.is_empty()
    }
}

/// A scan through an index page: the page's (table, index) names (see
/// [`index_page`]) and which rows the index returns.
type PageScan<'a> = ((&'a str, &'a str), &'a dyn Fn(&Row) -> bool);

/// The name of a table's primary key page in [`index_page`].
pub(crate) const PK_PAGE: &str = "@pkey";
/// How a hash index's key prefix ends (`T@name@hash/`): its SSI checks
/// go by bucket, not by page (see [`State::index_page_conflict_in`]).
pub(crate) const HASH_INDEX: &str = "@hash";
/// The name of a table's exclusion (GiST) index page in [`index_page`].
pub(crate) const EXCLUSION_PAGE: &str = "@exclusion";

/// The SIREAD key standing for the leaf page of one of `table`'s indexes
/// (`table`: a row key's prefix without its '/'): `T@@pkey/` for the
/// primary key, `T@@exclusion/` for an exclusion constraint's GiST index.
/// A name never holds '@', so no declared index's keys fall under these.
pub(crate) fn index_page(table: &str, index: &str) -> Key {
    // Built by hand: every serializable read through an index names one.
    let mut text = String::with_capacity(table.len() + index.len() + 2);
    text.push_str(table);
    text.push('@');
    text.push_str(index);
    text.push('/');
    Key::raw(&text)
}

/// One transaction as the SSI failure rules see it.
struct SsiView {
    commit: Option<u64>,
    read_only: bool,
    doomed: bool,
    snapshot: u64,
}

/// An exclusion constraint's index entry of a row version written by a
/// transaction still in progress (PostgreSQL's gist entry whose heap tuple
/// has that transaction as xmin). Every version the transaction writes
/// keeps its entry until the transaction ends: another transaction that
/// finds any of them waits for it, as PostgreSQL's dirty-snapshot scan does.
#[derive(Clone, Debug)]
struct PendingInterval {
    key: Key,
    start: i64,
    end: i64,
    owner: TxId,
    /// Its place in the index, in insertion order: the exclusion check acts
    /// on the first conflicting entry it finds, as PostgreSQL's gist scan
    /// returns a leaf page's entries in the order they were added.
    entry_seq: u64,
}

/// Counters of what the store did, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoreStats {
    /// Transactions begun.
    pub begun: u64,
    /// Transactions committed.
    pub committed: u64,
    /// Transactions rolled back (by the client, by an error or by a drop).
    pub aborted: u64,
    /// Statements executed (reads, scans, writes).
    pub statements: u64,
    /// Lock waits started.
    pub lock_waits: u64,
    /// 40001 raised by a real conflict (first updater wins or SSI).
    pub serialization_failures: u64,
    /// 40001 raised by the fault injector.
    pub injected_failures: u64,
    /// 40P01 raised.
    pub deadlocks: u64,
    /// 23505 raised.
    pub unique_violations: u64,
    /// 23P01 raised.
    pub exclusion_violations: u64,
}

/// Outcome of trying to take a row lock (or pass an exclusion check).
pub(crate) enum LockAttempt<T> {
    Done(T),
    /// Another transaction holds what we need; wait for it to end.
    WaitFor(TxId),
}

/// The kind of write a statement makes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum WriteKind {
    /// INSERT: 23505 when a live row exists.
    Insert,
    /// UPDATE: no effect (returns false) when there is no row.
    Update,
    /// INSERT ... ON CONFLICT DO UPDATE.
    Upsert,
    /// DELETE: no effect when there is no row.
    Delete,
    /// UPDATE of a column of a unique index (the row keeps its primary
    /// key): takes FOR UPDATE strength, where a plain UPDATE takes FOR NO
    /// KEY UPDATE.
    KeyUpdate,
    /// SELECT ... FOR UPDATE and the other locking reads: lock only.
    Lock(RowLockMode),
}

impl WriteKind {
    /// The row-lock strength the statement takes, as PostgreSQL's
    /// `heap_update`, `heap_delete` and `heap_lock_tuple` do.
    pub(crate) fn lock_mode(self) -> RowLockMode {
        match self {
            WriteKind::Lock(mode) => mode,
            WriteKind::Update | WriteKind::Upsert => RowLockMode::NoKeyUpdate,
            WriteKind::Insert | WriteKind::KeyUpdate | WriteKind::Delete => RowLockMode::Update,
        }
    }
}

/// What a write's new version changes beyond the row itself, gathered
/// while the write finds its row and recorded once it is made.
struct WriteChanges {
    kind: WriteKind,
    /// An UPDATE of a row the transaction holds FOR UPDATE: it counts as
    /// changing the key (see `State::write`).
    updates_under_for_update: bool,
    /// An INSERT beside a row the snapshot still shows (`TxState::shadowed`).
    shadows: bool,
    /// An INSERT of a key this transaction deleted: a new tuple replaces it.
    replaces_own_delete: bool,
}

pub(crate) struct State {
    pub(crate) config: StoreConfig,
    pub(crate) schema: Schema,
    pub(crate) rng: Rng64,
    next_tx: TxId,
    pub(crate) commit_seq: u64,
    data: BTreeMap<Key, Vec<Version>>,
    /// Boxed: a transaction's state is large, and the map's node
    /// operations (every begin and end) move its values.
    pub(crate) txs: BTreeMap<TxId, Box<TxState>>,
    /// The committed Serializable transactions still in `txs` (their
    /// SIREAD locks matter while a concurrent transaction is open), by
    /// commit sequence: a commit collects them from the front instead of
    /// scanning every transaction.
    finished_serializable: BTreeSet<(u64, TxId)>,
    /// Row locks: key -> holders and the strength each holds.
    row_locks: BTreeMap<Key, BTreeMap<TxId, RowLockMode>>,
    /// Uncommitted writes: key -> writer (for SSI phantom detection).
    intents: BTreeMap<Key, TxId>,
    /// Tasks waiting for a transaction to end, by that transaction.
    waiters: BTreeMap<TxId, Vec<Waker>>,
    /// Transactions queued for each row lock, first come first served: a
    /// released row goes to the head of its queue, as PostgreSQL's tuple
    /// lock queue hands it on, rather than to whichever waiter retries
    /// first.
    lock_queues: BTreeMap<Key, VecDeque<(TxId, RowLockMode)>>,
    /// Where each queued transaction waits, and its task's waker.
    queued: BTreeMap<TxId, (Key, Option<Waker>)>,
    /// The wait-for graph: a waiting transaction -> the ones it waits for
    /// (several when a row is held in a shared strength).
    waits_for: BTreeMap<TxId, BTreeSet<TxId>>,
    /// SSI: global indexes of SIREAD locks.
    siread_keys: BTreeMap<Key, BTreeSet<TxId>>,
    siread_ranges: siread::SireadRanges,
    pending_intervals: BTreeMap<(String, Datum), Vec<PendingInterval>>,
    /// Advisory transaction locks.
    pub(crate) advisory: advisory::AdvisoryLocks,
    /// Table locks (`LOCK TABLE` and the modes statements take).
    pub(crate) table_locks: table_locks::TableLocks,
    /// The session each open transaction runs in, when it has one (a SQL
    /// connection: session-level advisory locks are the session's).
    pub(crate) tx_session: BTreeMap<TxId, TxId>,
    /// The open transaction of each session that has one: a wait for a
    /// session's lock is a wait for what that transaction waits for.
    pub(crate) session_tx: BTreeMap<TxId, TxId>,
    /// DEFERRABLE transactions still getting their safe snapshot.
    safe_snapshots: deferrable::SafeSnapshotWaits,
    /// The place in the index of each committed row's exclusion entry (see
    /// [`PendingInterval::entry_seq`]); rows loaded before the run have none
    /// and come first.
    committed_entry_seq: BTreeMap<Key, u64>,
    /// The last `entry_seq` given.
    last_entry_seq: u64,
    /// Committed update chains across keys: (old key, the transaction that
    /// deleted it by moving the row) -> the key the row moved to. Read
    /// Committed follows them after a lock wait, as PostgreSQL follows a
    /// tuple's ctid chain.
    moved: BTreeMap<(Key, TxId), (Key, bool)>,
    pub(crate) history: Vec<CommittedTx>,
    /// Commits not yet taken by `drain_commits`, for invariant checks.
    pub(crate) commit_log: Vec<CommitEvent>,
    pub(crate) stats: StoreStats,
}

/// One committed transaction's effect, for incremental invariant checks.
#[derive(Clone, Debug)]
pub struct CommitEvent {
    /// The transaction.
    pub tx: TxId,
    /// Its position in the commit order.
    pub commit_seq: u64,
    /// The rows it wrote, after the write (`None`: deleted), with the row
    /// before (`None`: absent).
    // The tuple is the documented public shape consumers destructure; an
    // alias would only hide it.
    #[allow(clippy::type_complexity)]
    pub writes: Vec<(Key, Option<Arc<Row>>, Option<Arc<Row>>)>,
}

impl CommitEvent {
    /// The rows it wrote in `table` (keys `table/...`), in key order: each
    /// key with the row before (`None`: absent) and after (`None`:
    /// deleted), for checks of what a commit changed.
    ///
    /// ```
    /// use overbook_db::store::{CommitEvent, Key, Row};
    /// use std::sync::Arc;
    /// let sold = Arc::new(Row::new().with("sold_ms", 10));
    /// let event = CommitEvent {
    ///     tx: 7,
    ///     commit_seq: 3,
    ///     writes: vec![
    ///         (Key::raw("holds/1"), Some(sold), Some(Arc::new(Row::new()))),
    ///         (Key::raw("idempotency/1/hold"), Some(Arc::new(Row::new())), None),
    ///     ],
    /// };
    /// let (key, before, after) = event.changes("holds").next().unwrap();
    /// assert_eq!(key.as_str(), "holds/1");
    /// assert_eq!((before.unwrap().int("sold_ms"), after.unwrap().int("sold_ms")), (None, Some(10)));
    /// assert_eq!(event.changes("holds").count(), 1);
    /// ```
    pub fn changes<'a>(
        &'a self,
        table: &'a str,
    ) -> impl Iterator<Item = (&'a Key, Option<&'a Row>, Option<&'a Row>)> + 'a {
        self.writes
            .iter()
            .filter(move |(key, _, _)| key.table() == table)
            .map(|(key, after, before)| (key, before.as_deref(), after.as_deref()))
    }
}

fn error(code: SqlState, message: String) -> DbError {
    DbError::new(code, message)
}

impl State {
    pub(crate) fn new(schema: Schema, config: StoreConfig, rng: Rng64) -> State {
        State {
            config,
            schema,
            rng,
            next_tx: 1,
            commit_seq: 0,
            data: BTreeMap::new(),
            txs: BTreeMap::new(),
            finished_serializable: BTreeSet::new(),
            row_locks: BTreeMap::new(),
            intents: BTreeMap::new(),
            waiters: BTreeMap::new(),
            lock_queues: BTreeMap::new(),
            queued: BTreeMap::new(),
            waits_for: BTreeMap::new(),
            siread_keys: BTreeMap::new(),
            siread_ranges: siread::SireadRanges::default(),
            pending_intervals: BTreeMap::new(),
            advisory: advisory::AdvisoryLocks::default(),
            table_locks: table_locks::TableLocks::default(),
            tx_session: BTreeMap::new(),
            session_tx: BTreeMap::new(),
            safe_snapshots: deferrable::SafeSnapshotWaits::new(),
            committed_entry_seq: BTreeMap::new(),
            last_entry_seq: 0,
            moved: BTreeMap::new(),
            history: Vec::new(),
            commit_log: Vec::new(),
            stats: StoreStats::default(),
        }
    }

    /// A copy of this state for a fork of its store ([`crate::store::Store::fork`]):
    /// the committed data, the counters (transaction ids, commit
    /// positions, sessions, the fault stream's position) and the records
    /// made so far, so that the copy goes on exactly as this state would.
    /// Only between transactions: nothing may be open, held or waited for
    /// (a transaction's state, its wakers and its locks belong to tasks of
    /// the original's run). The error names what is still open.
    pub(crate) fn fork(&self) -> Result<State, String> {
        let open = [
            ("transactions", self.txs.is_empty()),
            (
                "committed Serializable transactions",
                self.finished_serializable.is_empty(),
            ),
            ("row locks", self.row_locks.is_empty()),
            ("uncommitted writes", self.intents.is_empty()),
            ("waiters", self.waiters.is_empty() && self.queued.is_empty()),
            (
                "lock queues",
                self.lock_queues.is_empty() && self.waits_for.is_empty(),
            ),
            (
                "SIREAD locks",
                self.siread_keys.is_empty() && self.siread_ranges.is_empty(),
            ),
            ("exclusion intervals", self.pending_intervals.is_empty()),
            (
                "sessions' transactions",
                self.tx_session.is_empty() && self.session_tx.is_empty(),
            ),
            ("safe snapshot waits", self.safe_snapshots.is_empty()),
            ("advisory locks", self.advisory.is_empty()),
            ("table locks", self.table_locks_idle()),
        ];
        if let Some((what, _)) = open.iter().find(|(_, empty)| !empty) {
            return Err(format!(
                "a store forks only between transactions: it has {what}"
            ));
        }
        // Everything a transaction owns starts empty, as in a new state;
        // only the committed data, counters and records carry over.
        Ok(State {
            next_tx: self.next_tx,
            commit_seq: self.commit_seq,
            data: self.data.clone(),
            advisory: self.advisory.fork(),
            committed_entry_seq: self.committed_entry_seq.clone(),
            last_entry_seq: self.last_entry_seq,
            moved: self.moved.clone(),
            history: self.history.clone(),
            commit_log: self.commit_log.clone(),
            stats: self.stats,
            ..State::new(self.schema.clone(), self.config, self.rng.clone())
        })
    }

    /// Loads a row as part of the initial state (transaction 0).
    pub(crate) fn load(&mut self, key: Key, row: Row) {
        assert!(
            self.txs.is_empty(),
            "initial rows must be loaded before any transaction begins"
        );
        let versions = self.data.entry(key.clone()).or_default();
        versions.clear();
        versions.push(Version {
            writer: 0,
            seq: 0,
            row: Some(Arc::new(row)),
            keys_changed: false,
            replaced: false,
        });
        if self.config.record_history {
            let initial = match self.history.first_mut() {
                Some(first) if first.id == 0 => first,
                _ => {
                    self.history.insert(
                        0,
                        CommittedTx {
                            id: 0,
                            isolation: Isolation::Serializable,
                            commit_seq: 0,
                            first_snapshot: 0,
                            reads: Vec::new(),
                            writes: Vec::new(),
                        },
                    );
                    &mut self.history[0]
                }
            };
            initial.writes.push(WriteRecord {
                key,
                deleted: false,
            });
            initial.writes.sort_by(|a, b| a.key.cmp(&b.key));
            initial.writes.dedup_by(|a, b| a.key == b.key);
        }
    }

    /// Applies another store's committed writes as one commit of this
    /// one, outside any transaction (see [`super::Store::apply_commit`]).
    /// Only the newest version of a key is kept: no transaction is open to
    /// read an older one, and a deleted key goes altogether.
    pub(crate) fn apply_commit(&mut self, event: &CommitEvent) {
        assert_eq!(
            self.open_transactions(),
            0,
            "commits are applied between transactions"
        );
        self.commit_seq += 1;
        let seq = self.commit_seq;
        for (key, after, _) in &event.writes {
            match after {
                Some(row) => {
                    let version = Version {
                        writer: 0,
                        seq,
                        row: Some(row.clone()),
                        keys_changed: false,
                        replaced: false,
                    };
                    self.data.insert(key.clone(), vec![version]);
                }
                None => {
                    self.data.remove(key);
                }
            }
        }
    }

    pub(crate) fn begin(&mut self, isolation: Isolation, read_only: bool) -> TxId {
        let id = self.next_tx;
        self.next_tx += 1;
        self.stats.begun += 1;
        self.txs.insert(
            id,
            Box::new(TxState {
                isolation,
                status: Status::Active,
                snapshot: None,
                first_snapshot: None,
                commit_seq: None,
                writes: BTreeMap::new(),
                read_view: None,
                locks: BTreeSet::new(),
                keys_changed: BTreeSet::new(),
                replaced: BTreeSet::new(),
                shadowed: BTreeSet::new(),
                ri_query: false,
                granted_this_statement: BTreeMap::new(),
                reads: Vec::new(),
                siread_keys: BTreeSet::new(),
                siread_ranges: Vec::new(),
                rw_in: BTreeSet::new(),
                rw_out: BTreeSet::new(),
                doomed: None,
                read_only,
                did_write: false,
                conflict_out_commit: None,
                moves: BTreeMap::new(),
                savepoints: Vec::new(),
                deadlock_timeout_ms: None,
                truncated: Vec::new(),
            }),
        );
        id
    }

    /// How long `id` waits for a lock before it checks for a deadlock: its
    /// session's `deadlock_timeout`, else the store's.
    pub(crate) fn deadlock_timeout_ms(&self, id: TxId) -> u64 {
        self.txs
            .get(&id)
            .and_then(|tx| tx.deadlock_timeout_ms)
            .unwrap_or(self.config.deadlock_timeout_ms)
    }

    pub(crate) fn set_deadlock_timeout(&mut self, id: TxId, deadlock_timeout_ms: Option<u64>) {
        self.tx_mut(id).deadlock_timeout_ms = deadlock_timeout_ms;
    }

    pub(crate) fn in_savepoint(&self, id: TxId) -> bool {
        !self.tx(id).savepoints.is_empty()
    }

    /// Changes the isolation level and modes of `id`, which has not begun
    /// a statement.
    pub(crate) fn set_mode(&mut self, id: TxId, isolation: Isolation, mode: crate::store::TxMode) {
        let tx = self.tx_mut(id);
        tx.isolation = isolation;
        tx.read_only = mode.read_only;
        self.safe_snapshots.remove(&id);
        if mode.deferrable && mode.read_only && isolation == Isolation::Serializable {
            self.defer_until_safe(id);
        }
    }

    fn tx(&self, id: TxId) -> &TxState {
        self.txs
            .get(&id)
            .expect("transaction state exists while open")
    }

    fn tx_mut(&mut self, id: TxId) -> &mut TxState {
        self.txs
            .get_mut(&id)
            .expect("transaction state exists while open")
    }

    /// Common entry of every statement: refuses statements of a failed
    /// transaction, surfaces an SSI doom, injects faults and takes the
    /// statement's snapshot.
    /// Fixes a Repeatable Read or Serializable transaction's snapshot now
    /// when it has none yet (its first statement, before that statement's
    /// table-lock waits); nothing at Read Committed, whose statements each
    /// take theirs after their table locks.
    pub(crate) fn take_transaction_snapshot(&mut self, id: TxId) {
        let now = self.commit_seq;
        let tx = self.tx_mut(id);
        if tx.isolation != Isolation::ReadCommitted && tx.snapshot.is_none() {
            tx.snapshot = Some(now);
            tx.first_snapshot.get_or_insert(now);
        }
    }

    /// A statement inside another (a trigger's or a function's): at Read
    /// Committed it reads with a snapshot of its own, taken now, and sees
    /// all of the transaction's own writes (none frozen). Returns the
    /// outer statement's view, for [`State::end_nested_statement`].
    pub(crate) fn start_nested_statement(&mut self, id: TxId) -> Result<NestedView, DbError> {
        let tx = self.tx(id);
        if tx.status == Status::Failed {
            return Err(error(
                SqlState::InFailedTransaction,
                "current transaction is aborted, commands ignored until end of transaction block"
                    .into(),
            ));
        }
        let now = self.commit_seq;
        let tx = self.tx_mut(id);
        let view = NestedView {
            snapshot: tx.snapshot,
            read_view: tx.read_view.take(),
        };
        if tx.isolation == Isolation::ReadCommitted {
            tx.snapshot = Some(now);
        }
        Ok(view)
    }

    /// Puts back the outer statement's view after a nested statement.
    pub(crate) fn end_nested_statement(&mut self, id: TxId, view: NestedView) {
        if let Some(tx) = self.txs.get_mut(&id) {
            tx.snapshot = view.snapshot;
            tx.read_view = view.read_view;
        }
    }

    pub(crate) fn start_statement(&mut self, id: TxId, inject: bool) -> Result<(), DbError> {
        self.stats.statements += 1;
        let tx = self.tx(id);
        match tx.status {
            Status::Active => {}
            Status::Failed => return Err(error(
                SqlState::InFailedTransaction,
                "current transaction is aborted, commands ignored until end of transaction block"
                    .into(),
            )),
            Status::Committed => unreachable!("a committed transaction runs no statements"),
        }
        if let Some(reason) = tx.doomed.clone() {
            self.stats.serialization_failures += 1;
            return Err(self.fail(id, error(SqlState::SerializationFailure, reason)));
        }
        if inject {
            let probability = self.config.faults.serialization_failure_per_statement;
            if self.rng.chance(probability) {
                self.stats.injected_failures += 1;
                let mut injected = error(
                    SqlState::SerializationFailure,
                    "could not serialize access due to read/write dependencies among transactions (injected)"
                        .into(),
                );
                injected.injected = true;
                return Err(self.fail(id, injected));
            }
        }
        let now = self.commit_seq;
        let tx = self.tx_mut(id);
        tx.granted_this_statement.clear();
        tx.read_view = None;
        if tx.isolation == Isolation::ReadCommitted || tx.snapshot.is_none() {
            tx.snapshot = Some(now);
        }
        tx.first_snapshot.get_or_insert(now);
        Ok(())
    }

    /// Marks the transaction failed, releasing its locks, as PostgreSQL
    /// aborts a transaction at its error and only waits for the client's
    /// ROLLBACK to end the block. Inside a savepoint only what came after
    /// the newest savepoint is undone (PostgreSQL aborts the
    /// subtransaction), and `ROLLBACK TO SAVEPOINT` revives the
    /// transaction. Returns the error for `?`.
    pub(crate) fn fail(&mut self, id: TxId, err: DbError) -> DbError {
        let innermost = self
            .txs
            .get(&id)
            .and_then(|tx| tx.savepoints.len().checked_sub(1));
        match innermost {
            Some(index) => self.undo_to_savepoint(id, index),
            None => self.release(id, false),
        }
        if let Some(tx) = self.txs.get_mut(&id) {
            tx.status = Status::Failed;
        }
        err
    }

    /// `SAVEPOINT name`.
    pub(crate) fn savepoint(&mut self, id: TxId, name: &str) -> Result<(), DbError> {
        self.check_usable(id)?;
        let locks = self
            .tx(id)
            .locks
            .iter()
            .filter_map(|key| {
                let mode = *self.row_locks.get(key)?.get(&id)?;
                Some((key.clone(), mode))
            })
            .collect();
        let last_entry_seq = self.last_entry_seq;
        let table_locks = self.table_locks.held_by(id);
        let advisory = self.advisory.held_by(id);
        let tx = self.tx_mut(id);
        let mark = Savepoint {
            table_locks,
            advisory,
            truncated: tx.truncated.len(),
            name: name.to_string(),
            writes: tx.writes.clone(),
            locks,
            keys_changed: tx.keys_changed.clone(),
            replaced: tx.replaced.clone(),
            last_entry_seq,
            moves: tx.moves.clone(),
            did_write: tx.did_write,
        };
        tx.savepoints.push(mark);
        Ok(())
    }

    /// `RELEASE SAVEPOINT name`: forgets it and every newer one, keeping
    /// what was done since.
    pub(crate) fn release_savepoint(&mut self, id: TxId, name: &str) -> Result<(), DbError> {
        self.check_usable(id)?;
        let index = self.find_savepoint(id, name)?;
        self.tx_mut(id).savepoints.truncate(index);
        Ok(())
    }

    /// `ROLLBACK TO SAVEPOINT name`: undoes everything since it (also in
    /// a failed transaction, which it revives) and keeps the savepoint.
    pub(crate) fn rollback_to_savepoint(&mut self, id: TxId, name: &str) -> Result<(), DbError> {
        let index = self.find_savepoint(id, name)?;
        self.undo_to_savepoint(id, index);
        self.forget_reads_of_undone_writes(id);
        let tx = self.tx_mut(id);
        tx.savepoints.truncate(index + 1);
        tx.status = Status::Active;
        Ok(())
    }

    /// Reads `id` made of its own writes that a rollback to a savepoint
    /// took back: the versions they saw never reach the history (PostgreSQL
    /// aborts the subtransaction that wrote them), so the history's record
    /// of the transaction forgets them. Reads of others' versions stay,
    /// as PostgreSQL keeps an aborted subtransaction's predicate locks.
    fn forget_reads_of_undone_writes(&mut self, id: TxId) {
        // A range read's key goes back to the version the transaction
        // sees now (the one before its undone write), if any.
        let mut seen_now: BTreeMap<Key, Option<TxId>> = BTreeMap::new();
        for read in &self.tx(id).reads {
            if let ReadRecord::Predicate { observed, .. } = read {
                for (key, writer) in observed {
                    if *writer == id && !self.tx(id).writes.contains_key(key) {
                        let now = match self.tx(id).snapshot {
                            Some(_) => self.visible(id, key).map(|(_, writer)| writer),
                            None => self.latest(key).map(|v| v.writer),
                        };
                        seen_now.insert(key.clone(), now);
                    }
                }
            }
        }
        let tx = self.tx_mut(id);
        let writes = &tx.writes;
        tx.reads.retain_mut(|read| match read {
            ReadRecord::Item { key, version } => *version != Some(id) || writes.contains_key(key),
            ReadRecord::Predicate { observed, .. } => {
                observed.retain_mut(|(key, writer)| match seen_now.get(key) {
                    Some(Some(now)) if *writer == id => {
                        *writer = *now;
                        true
                    }
                    Some(None) if *writer == id => false,
                    _ => true,
                });
                true
            }
        });
    }

    /// `TRUNCATE` emptied `range` in `id` (see [`TxState::truncated`]).
    pub(crate) fn truncated(&mut self, id: TxId, range: KeyRange) {
        self.tx_mut(id).truncated.push(range);
    }

    /// Whether `id` is open and not failed.
    pub(crate) fn is_active(&self, id: TxId) -> bool {
        self.txs
            .get(&id)
            .is_some_and(|tx| tx.status == Status::Active)
    }

    fn check_usable(&self, id: TxId) -> Result<(), DbError> {
        match self.tx(id).status {
            Status::Active => Ok(()),
            _ => Err(error(
                SqlState::InFailedTransaction,
                "current transaction is aborted, commands ignored until end of transaction block"
                    .into(),
            )),
        }
    }

    /// The newest savepoint called `name`, as PostgreSQL finds it.
    fn find_savepoint(&mut self, id: TxId, name: &str) -> Result<usize, DbError> {
        match self.tx(id).savepoints.iter().rposition(|s| s.name == name) {
            Some(index) => Ok(index),
            None => Err(self.fail(
                id,
                error(
                    SqlState::Other("3B001"),
                    format!("savepoint \"{name}\" does not exist"),
                ),
            )),
        }
    }

    /// Puts the transaction's writes, row locks and update chains back to
    /// savepoint `index`, handing released locks to their waiters.
    fn undo_to_savepoint(&mut self, id: TxId, index: usize) {
        self.waits_for.remove(&id);
        if let Some((key, _)) = self.queued.remove(&id) {
            if let Some(queue) = self.lock_queues.get_mut(&key) {
                queue.retain(|&(waiter, _)| waiter != id);
            }
            self.grant_to_waiters(&key);
        }
        let mark = &self.tx(id).savepoints[index];
        let (table_locks, advisory) = (mark.table_locks.clone(), mark.advisory.clone());
        self.restore_table_locks(id, &table_locks);
        self.restore_advisory(id, &advisory);
        let mark = &self.tx(id).savepoints[index];
        let (writes, locks) = (mark.writes.clone(), mark.locks.clone());
        let truncated = mark.truncated;
        self.tx_mut(id).truncated.truncate(truncated);
        let mark = &self.tx(id).savepoints[index];
        let entries_before = mark.last_entry_seq;
        let replaced = mark.replaced.clone();
        let (keys_changed, moves, did_write) = (
            mark.keys_changed.clone(),
            mark.moves.clone(),
            mark.did_write,
        );
        let written: Vec<Key> = self.tx(id).writes.keys().cloned().collect();
        for key in &written {
            if !writes.contains_key(key) && self.intents.get(key) == Some(&id) {
                self.intents.remove(key);
            }
        }
        self.pending_intervals.retain(|_, entries| {
            entries.retain(|p| p.owner != id || p.entry_seq <= entries_before);
            !entries.is_empty()
        });
        let held: Vec<Key> = self.tx(id).locks.iter().cloned().collect();
        for key in held {
            let Some(holders) = self.row_locks.get_mut(&key) else {
                continue;
            };
            match locks.get(&key) {
                Some(&mode) => {
                    holders.insert(id, mode);
                }
                None => {
                    holders.remove(&id);
                    if holders.is_empty() {
                        self.row_locks.remove(&key);
                    }
                }
            }
            self.grant_to_waiters(&key);
        }
        let tx = self.tx_mut(id);
        tx.writes = writes;
        tx.locks = locks.into_keys().collect();
        tx.keys_changed = keys_changed;
        tx.replaced = replaced;
        tx.moves = moves;
        tx.did_write = did_write;
        if let Some(wakers) = self.waiters.remove(&id) {
            // Those waiting for this transaction to end may find what they
            // waited for gone with the undone writes.
            for waker in wakers {
                waker.wake();
            }
        }
    }

    /// The version of `key` that transaction `id` sees, with its writer.
    fn visible(&self, id: TxId, key: &Key) -> Option<(Option<Arc<Row>>, TxId)> {
        let tx = self.tx(id);
        if let Some(own) = tx.read_view.as_ref().unwrap_or(&tx.writes).get(key) {
            return Some((own.clone(), id));
        }
        let snapshot = tx.snapshot.expect("statement started");
        self.data.get(key).and_then(|versions| {
            versions
                .iter()
                .rev()
                .find(|version| version.seq <= snapshot)
                .map(|version| (version.row.clone(), version.writer))
        })
    }

    /// The commit sequence number of `key`'s newest committed version.
    pub(crate) fn newest_seq(&self, key: &Key) -> Option<u64> {
        self.latest(key).map(|v| v.seq)
    }

    fn latest(&self, key: &Key) -> Option<&Version> {
        self.data.get(key).and_then(|versions| versions.last())
    }

    /// Records that `id` moved the row at `from` to `to` (an UPDATE that
    /// changed its primary key; `across`: into another partition, which
    /// PostgreSQL does as a delete and an insert).
    pub(crate) fn record_move(&mut self, id: TxId, from: &Key, to: &Key, across: bool) {
        self.tx_mut(id)
            .moves
            .insert(from.clone(), (to.clone(), across));
    }

    /// Where the row at `key` went, when its newest committed version is
    /// the deletion half of a move by another transaction, and whether it
    /// went to another partition.
    pub(crate) fn moved_to(&self, id: TxId, key: &Key) -> Option<(Key, bool)> {
        if self.tx(id).writes.contains_key(key) {
            return None;
        }
        let latest = self.latest(key)?;
        if latest.row.is_some() {
            return None;
        }
        self.moved.get(&(key.clone(), latest.writer)).cloned()
    }

    /// From now to the end of the current statement, `id`'s reads see its
    /// own writes as they were now, not the statement's later ones: the
    /// one snapshot of all parts of a SQL statement with data-modifying
    /// WITH queries, none of which sees another's writes. The next
    /// statement's start ends it.
    pub(crate) fn freeze_own_writes(&mut self, id: TxId) {
        let tx = self.tx_mut(id);
        tx.read_view = Some(tx.writes.clone());
    }

    /// Fails with 40001 when `range` holds a key `id` inserted beside a
    /// row its snapshot still shows deleted by another transaction (see
    /// `TxState::shadowed`): PostgreSQL would show both rows here, which
    /// one version per key cannot. Only while the insert stands (a
    /// rollback to a savepoint takes it back, and the snapshot's row is
    /// then all there is, as on PostgreSQL).
    fn shadowed_read(&mut self, id: TxId, range: &KeyRange) -> Result<(), DbError> {
        let tx = self.tx(id);
        if tx.shadowed.is_empty() {
            return Ok(());
        }
        let shown_twice = tx
            .shadowed
            .range(range.start.clone()..range.end.clone())
            .find(|key| matches!(tx.writes.get(*key), Some(Some(_))))
            .cloned();
        match shown_twice {
            Some(key) => Err(self.shown_twice(id, &key)),
            None => Ok(()),
        }
    }

    /// [`State::shadowed_read`] of one key.
    fn shadowed_key(&mut self, id: TxId, key: &Key) -> Result<(), DbError> {
        let tx = self.tx(id);
        if tx.shadowed.contains(key) && matches!(tx.writes.get(key), Some(Some(_))) {
            return Err(self.shown_twice(id, key));
        }
        Ok(())
    }

    fn shown_twice(&mut self, id: TxId, key: &Key) -> DbError {
        self.stats.serialization_failures += 1;
        self.fail(
            id,
            error(
                SqlState::SerializationFailure,
                format!(
                    "could not serialize access: {key} was inserted beside a row deleted after this transaction's snapshot, which PostgreSQL's snapshot shows as well (the store keeps one version of a key)"
                ),
            ),
        )
    }

    /// A plain read (SELECT by key).
    pub(crate) fn get(&mut self, id: TxId, key: &Key) -> Result<Option<Row>, DbError> {
        self.shadowed_key(id, key)?;
        let seen = self.visible(id, key);
        self.tx_mut(id).reads.push(ReadRecord::Item {
            key: key.clone(),
            version: seen.as_ref().map(|(_, writer)| *writer),
        });
        if self.tx(id).isolation == Isolation::Serializable {
            self.ssi_read_key(id, key)?;
        }
        Ok(seen.and_then(|(row, _)| row).map(|row| (*row).clone()))
    }

    /// A predicate read over a range (SELECT ... WHERE key in range).
    pub(crate) fn scan(&mut self, id: TxId, range: &KeyRange) -> Result<Vec<(Key, Row)>, DbError> {
        self.scan_locking(id, range, None)
    }

    /// A scan of a table's `range` that PostgreSQL runs through an index
    /// it cannot map to a key range (an exclusion constraint's GiST index):
    /// at Serializable it SIREAD-locks that index's page (`table`, `index`:
    /// see [`index_page`]) and the rows the index returns (`matches`),
    /// not the whole relation as a sequential scan does. A row with a
    /// version this transaction cannot see is locked when that version
    /// matches (PostgreSQL meets it through its own index entry). The
    /// history records the rows returned, item by item.
    pub(crate) fn scan_through_page(
        &mut self,
        id: TxId,
        range: &KeyRange,
        page: (&str, &str),
        matches: &dyn Fn(&Row) -> bool,
    ) -> Result<Vec<(Key, Row)>, DbError> {
        self.scan_locking(id, range, Some((page, matches)))
    }

    fn scan_locking(
        &mut self,
        id: TxId,
        range: &KeyRange,
        through_page: Option<PageScan<'_>>,
    ) -> Result<Vec<(Key, Row)>, DbError> {
        assert!(range.start <= range.end, "scan range must not be reversed");
        self.shadowed_read(id, range)?;
        let snapshot = self.tx(id).snapshot.expect("statement started");
        let mut seen: BTreeMap<Key, (Option<Arc<Row>>, TxId)> = BTreeMap::new();
        for (key, versions) in self.data.range(range.start.clone()..range.end.clone()) {
            if let Some(version) = versions.iter().rev().find(|v| v.seq <= snapshot) {
                seen.insert(key.clone(), (version.row.clone(), version.writer));
            }
        }
        let tx = self.tx(id);
        let own = tx.read_view.as_ref().unwrap_or(&tx.writes);
        for (key, row) in own.range(range.start.clone()..range.end.clone()) {
            seen.insert(key.clone(), (row.clone(), id));
        }
        match through_page {
            None => {
                let observed = seen
                    .iter()
                    .map(|(key, (_, writer))| (key.clone(), *writer))
                    .collect();
                self.tx_mut(id).reads.push(ReadRecord::Predicate {
                    range: range.clone(),
                    observed,
                });
            }
            // The history records what the index returned, item by item:
            // its predicate is no key range, and recording the whole range
            // would make the checker see a read of every row (a false G2
            // when a concurrent writer's rows do not match). Phantoms of
            // such a read are SSI's page lock's business.
            Some((_, matches)) => {
                let items: Vec<ReadRecord> = seen
                    .iter()
                    .filter(|(_, (row, _))| row.as_ref().is_some_and(|row| matches(row)))
                    .map(|(key, (_, writer))| ReadRecord::Item {
                        key: key.clone(),
                        version: Some(*writer),
                    })
                    .collect();
                self.tx_mut(id).reads.extend(items);
            }
        }
        if self.tx(id).isolation == Isolation::Serializable {
            match through_page {
                None => self.ssi_read_range(id, range)?,
                Some(((table, index), matches)) => {
                    self.siread_index_page(id, table, index);
                    let mut keys = self.keys_written_in(range);
                    keys.retain(|key| {
                        seen.get(key)
                            .and_then(|(row, _)| row.as_ref())
                            .is_some_and(|row| matches(row))
                            || self.newer_version_matches(id, key, snapshot, matches)
                    });
                    for key in keys {
                        self.ssi_read_key(id, &key)?;
                    }
                }
            }
        }
        Ok(seen
            .into_iter()
            .filter_map(|(key, (row, _))| row.map(|row| (key, (*row).clone())))
            .collect())
    }

    /// Tries to take the row lock on `key` for `id` in strength `mode`.
    /// Granted at once when no other holder's strength conflicts (a
    /// request that need not wait passes any queue, as PostgreSQL's
    /// `heap_lock_tuple` lets a non-conflicting locker in without the
    /// tuple lock); otherwise it queues first come first served. A
    /// transaction that already holds a weaker lock on the row upgrades
    /// without joining the queue: it waits for the conflicting holders
    /// only, as `heap_lock_tuple` skips the tuple lock for a locker that
    /// is already a member of the row's lockers (else a queued waiter,
    /// itself waiting for the upgrader's weaker lock, would deadlock it).
    fn try_row_lock(
        &mut self,
        id: TxId,
        key: &Key,
        mode: RowLockMode,
    ) -> Result<LockAttempt<()>, DbError> {
        let held = self.row_locks.get(key).and_then(|h| h.get(&id)).copied();
        if held.is_some_and(|held| held >= mode) {
            return Ok(LockAttempt::Done(()));
        }
        let queued_here = self.queued.get(&id).is_some_and(|(k, _)| k == key);
        if !queued_here && self.conflicting_holders(id, key, mode).is_empty() {
            self.grant_row_lock(id, key, mode);
            return Ok(LockAttempt::Done(()));
        }
        let upgrading = held.is_some() && !queued_here;
        let blockers = if queued_here {
            self.queued_blockers(id, key)
        } else if upgrading {
            self.conflicting_holders(id, key, mode)
        } else {
            let mut blockers = self.conflicting_holders(id, key, mode);
            if let Some(queue) = self.lock_queues.get(key) {
                blockers.extend(
                    queue
                        .iter()
                        .filter(|(_, queued)| queued.conflicts_with(mode))
                        .map(|&(waiter, _)| waiter),
                );
            }
            blockers
        };
        let attempt = self.wait_for_all(id, blockers)?;
        if !queued_here && !upgrading {
            self.lock_queues
                .entry(key.clone())
                .or_default()
                .push_back((id, mode));
            self.queued.insert(id, (key.clone(), None));
        }
        Ok(attempt)
    }

    /// The other holders of `key`'s row lock whose strength conflicts
    /// with `mode`.
    fn conflicting_holders(&self, id: TxId, key: &Key, mode: RowLockMode) -> BTreeSet<TxId> {
        self.row_locks
            .get(key)
            .into_iter()
            .flatten()
            .filter(|&(&holder, &held)| holder != id && held.conflicts_with(mode))
            .map(|(&holder, _)| holder)
            .collect()
    }

    /// What a transaction queued for `key` waits for: the holders its
    /// strength conflicts with, and the transactions queued ahead of it
    /// in a conflicting strength (PostgreSQL's tuple lock queue).
    fn queued_blockers(&self, id: TxId, key: &Key) -> BTreeSet<TxId> {
        let Some(queue) = self.lock_queues.get(key) else {
            return BTreeSet::new();
        };
        let Some(position) = queue.iter().position(|&(waiter, _)| waiter == id) else {
            return BTreeSet::new();
        };
        let mode = queue[position].1;
        let mut blockers = self.conflicting_holders(id, key, mode);
        blockers.extend(
            queue
                .iter()
                .take(position)
                .filter(|(_, ahead)| ahead.conflicts_with(mode))
                .map(|&(waiter, _)| waiter),
        );
        blockers
    }

    fn grant_row_lock(&mut self, id: TxId, key: &Key, mode: RowLockMode) {
        let holders = self.row_locks.entry(key.clone()).or_default();
        let before = holders.get(&id).copied();
        holders.insert(id, before.map_or(mode, |held| held.max(mode)));
        let tx = self.tx_mut(id);
        tx.locks.insert(key.clone());
        tx.granted_this_statement
            .entry(key.clone())
            .or_insert(before);
    }

    /// Records that `id` waits for `holder`, or fails `id` with 40P01 when
    /// that wait closes a cycle in the wait-for graph.
    /// With a `deadlock_timeout_ms` above 0 the wait is only recorded: the
    /// waiter runs [`State::deadlock_check`] once the timeout has passed.
    fn wait_or_deadlock(&mut self, id: TxId, holder: TxId) -> Result<LockAttempt<()>, DbError> {
        self.wait_for_all(id, BTreeSet::from([holder]))
    }

    /// [`State::wait_or_deadlock`] for a wait on every one of `holders`.
    fn wait_for_all(
        &mut self,
        id: TxId,
        holders: BTreeSet<TxId>,
    ) -> Result<LockAttempt<()>, DbError> {
        let first = *holders
            .first()
            .expect("a wait is for at least one transaction");
        if self.deadlock_timeout_ms(id) == 0 && self.closes_cycle(id, &holders) {
            return Err(self.deadlock(id, first));
        }
        if self.waits_for.get(&id) != Some(&holders) {
            self.stats.lock_waits += 1;
            self.waits_for.insert(id, holders);
        }
        Ok(LockAttempt::WaitFor(first))
    }

    /// Whether `id` waiting for `holders` closes a cycle through `id`.
    /// A session stands for its open transaction: waiting for a session's
    /// lock is waiting for what its transaction waits for, and reaching
    /// `id`'s own session closes the cycle too.
    fn closes_cycle(&self, id: TxId, holders: &BTreeSet<TxId>) -> bool {
        let own_session = self.tx_session.get(&id).copied();
        let mut seen = BTreeSet::new();
        let mut stack: Vec<TxId> = holders.iter().copied().collect();
        while let Some(current) = stack.pop() {
            if current == id || Some(current) == own_session {
                return true;
            }
            if !seen.insert(current) {
                continue;
            }
            if let Some(next) = self.waits_for.get(&current) {
                stack.extend(next.iter().copied());
            }
            if let Some(&tx) = self.session_tx.get(&current) {
                stack.push(tx);
            }
        }
        false
    }

    fn deadlock(&mut self, id: TxId, holder: TxId) -> DbError {
        self.waits_for.remove(&id);
        self.stats.deadlocks += 1;
        self.fail(
            id,
            error(
                SqlState::DeadlockDetected,
                format!(
                    "deadlock detected: transaction {id} waits for {holder}, which waits for {id}"
                ),
            ),
        )
    }

    /// PostgreSQL's check after `deadlock_timeout`: fails `id` with 40P01
    /// when its wait is part of a cycle in the wait-for graph.
    pub(crate) fn deadlock_check(&mut self, id: TxId) -> Result<(), DbError> {
        let Some(holders) = self.waits_for.get(&id) else {
            return Ok(());
        };
        if !self.closes_cycle(id, holders) {
            return Ok(());
        }
        if self.repair_soft_deadlock(id) {
            return Ok(());
        }
        let Some(holders) = self.waits_for.get(&id) else {
            return Ok(());
        };
        // Name a holder on the cycle.
        let holder = holders
            .iter()
            .copied()
            .find(|&h| self.closes_cycle(id, &BTreeSet::from([h])))
            .expect("a cycle passes through one of the holders");
        Err(self.deadlock(id, holder))
    }

    /// Registers `id`'s waker: woken when the row lock it is queued for is
    /// granted to it, or else when `holder` ends.
    pub(crate) fn park(&mut self, id: TxId, holder: TxId, waker: &Waker) {
        if self.table_locks.park(id, waker) {
            return;
        }
        if let Some((_, queued_waker)) = self.queued.get_mut(&id) {
            *queued_waker = Some(waker.clone());
            return;
        }
        let wakers = self.waiters.entry(holder).or_default();
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }

    /// A write statement (or SELECT FOR UPDATE). Returns the row the
    /// statement acted on (the current row before the write), or waits.
    pub(crate) fn write(
        &mut self,
        id: TxId,
        key: &Key,
        kind: WriteKind,
        new_row: Option<Row>,
    ) -> Result<LockAttempt<Option<Row>>, DbError> {
        if self.tx(id).read_only {
            return Err(self.fail(
                id,
                error(
                    SqlState::ReadOnlySqlTransaction,
                    format!("cannot write {key} in a read-only transaction"),
                ),
            ));
        }
        // A row this transaction inserted beside one its snapshot still
        // shows: PostgreSQL's UPDATE, DELETE or lock would find the old
        // row too, deleted concurrently, and fail with 40001.
        // (A lock is left alone: a foreign-key check's KEY SHARE lock reads
        // with a fresh snapshot, which shows the new row only.)
        if matches!(
            kind,
            WriteKind::Update | WriteKind::KeyUpdate | WriteKind::Delete
        ) {
            self.shadowed_key(id, key)?;
        }
        // An UPDATE of a row its transaction locked FOR UPDATE keeps that
        // stronger lock, and PostgreSQL marks such an update as changing the
        // key (compute_new_xmax_infomask takes the stronger mode): KEY SHARE
        // lockers then wait and re-read, or fail at Repeatable Read
        // (transcript `update-after-for-update-is-a-key-update-to-key-share`).
        let updates_under_for_update = kind == WriteKind::Update
            && self
                .row_locks
                .get(key)
                .and_then(|holders| holders.get(&id))
                .is_some_and(|&held| held == RowLockMode::Update);
        if let LockAttempt::WaitFor(holder) = self.lock_row_to_write(id, key, kind)? {
            return Ok(LockAttempt::WaitFor(holder));
        }
        self.waits_for.remove(&id);
        let own_before = self.tx(id).writes.get(key).cloned();
        let (current, shadows) = self.row_to_act_on(id, key, kind)?;
        let current_row = current.as_ref().and_then(|(row, _)| row.clone());
        let new_value = self.new_version(id, key, kind, current_row.is_some(), new_row)?;
        if let Some(Some(row)) = &new_value {
            if let LockAttempt::WaitFor(holder) = self.enter_exclusion_index(id, key, row)? {
                return Ok(LockAttempt::WaitFor(holder));
            }
        }
        self.waits_for.remove(&id);
        let isolation = self.tx(id).isolation;
        if matches!(
            kind,
            WriteKind::Lock(_) | WriteKind::Update | WriteKind::KeyUpdate | WriteKind::Delete
        ) {
            // The statement read the row it locked or changed.
            self.tx_mut(id).reads.push(ReadRecord::Item {
                key: key.clone(),
                version: current.as_ref().map(|(_, writer)| *writer),
            });
            if isolation == Isolation::Serializable {
                self.ssi_read_key(id, key)?;
            }
        }
        if let Some(value) = new_value {
            let changes = WriteChanges {
                kind,
                updates_under_for_update,
                shadows,
                replaces_own_delete: kind == WriteKind::Insert && matches!(own_before, Some(None)),
            };
            self.record_write(id, key, value, changes)?;
        }
        Ok(LockAttempt::Done(current_row.map(|row| (*row).clone())))
    }

    /// Takes the row lock `kind` needs on `key`, or says whom to wait for.
    /// Two writes take none: an INSERT that must fail at once, and a
    /// locking read that finds no committed row to lock.
    fn lock_row_to_write(
        &mut self,
        id: TxId,
        key: &Key,
        kind: WriteKind,
    ) -> Result<LockAttempt<()>, DbError> {
        // An INSERT of a live committed key fails at once unless another
        // transaction is writing it: PostgreSQL's unique check waits only
        // for uncommitted writers, not for lockers.
        let fails_without_waiting = kind == WriteKind::Insert
            && self.uncommitted_writer(id, key).is_none()
            && self.latest(key).is_some_and(|v| v.row.is_some());
        // A locking read (a foreign-key check among them) of a key with no
        // committed row finds nothing to lock: a row another transaction
        // is inserting is invisible to it, so it does not wait.
        let nothing_to_lock = matches!(kind, WriteKind::Lock(_))
            && !self.tx(id).writes.contains_key(key)
            && self.latest(key).is_none_or(|v| v.row.is_none());
        if !fails_without_waiting && !nothing_to_lock {
            if let LockAttempt::WaitFor(holder) = self.try_row_lock(id, key, kind.lock_mode())? {
                return Ok(LockAttempt::WaitFor(holder));
            }
        }
        Ok(LockAttempt::Done(()))
    }

    /// The version a write statement acts on (its row, `None` if deleted,
    /// and its writer), once its row lock is held, and whether an INSERT
    /// shadows a row the snapshot still shows (see `TxState::shadowed`).
    /// The transaction's own write comes first; otherwise Read Committed
    /// re-reads the newest committed version after the lock wait
    /// (EvalPlanQual), and the snapshot levels must find that nobody
    /// changed the row since the snapshot.
    #[allow(clippy::type_complexity)]
    fn row_to_act_on(
        &mut self,
        id: TxId,
        key: &Key,
        kind: WriteKind,
    ) -> Result<(Option<(Option<Arc<Row>>, TxId)>, bool), DbError> {
        if let Some(row) = self.tx(id).writes.get(key).cloned() {
            return Ok((Some((row, id)), false));
        }
        match self.tx(id).isolation {
            Isolation::ReadCommitted => {
                Ok((self.read_committed_row_to_act_on(id, key, kind), false))
            }
            Isolation::RepeatableRead | Isolation::Serializable => {
                self.snapshot_row_to_act_on(id, key, kind)
            }
        }
    }

    /// Read Committed's row for a write: the newest committed version,
    /// unless the row the statement found was replaced by another tuple.
    fn read_committed_row_to_act_on(
        &mut self,
        id: TxId,
        key: &Key,
        kind: WriteKind,
    ) -> Option<(Option<Arc<Row>>, TxId)> {
        let latest = self.latest(key).cloned();
        let snapshot = self.tx(id).snapshot.expect("statement started");
        let acts_on_found_row = matches!(
            kind,
            WriteKind::Update | WriteKind::KeyUpdate | WriteKind::Delete | WriteKind::Lock(_)
        );
        let found = if self.tx(id).ri_query {
            match self.tx(id).writes.get(key) {
                Some(own) => Some((own.clone(), id)),
                None => latest.as_ref().map(|v| (v.row.clone(), v.writer)),
            }
        } else {
            self.visible(id, key)
        };
        let key_share_passes = kind == WriteKind::Lock(RowLockMode::KeyShare)
            && matches!(found, Some((Some(_), _)))
            && !self.keys_changed_since(key, snapshot);
        if key_share_passes {
            // KEY SHARE locks the version the statement
            // found and returns it when nobody changed its
            // key (PostgreSQL locks along the update chain
            // without re-reading the newest version). A
            // row reached by following a moved key was not
            // found by the snapshot and takes the newest.
            found
        } else if acts_on_found_row && self.replaced_since(key, snapshot) {
            // The row the statement found was deleted; the
            // live one is another tuple it never saw, and
            // the lock just taken was never on it.
            self.restore_row_lock(id, key);
            None
        } else {
            latest.map(|v| (v.row, v.writer))
        }
    }

    /// Repeatable Read's and Serializable's row for a write (first updater
    /// wins), and whether an INSERT shadows a row the snapshot shows.
    #[allow(clippy::type_complexity)]
    fn snapshot_row_to_act_on(
        &mut self,
        id: TxId,
        key: &Key,
        kind: WriteKind,
    ) -> Result<(Option<(Option<Arc<Row>>, TxId)>, bool), DbError> {
        let latest = self.latest(key).cloned();
        let snapshot = self.tx(id).snapshot.expect("statement started");
        let visible = self.visible(id, key);
        let mut shadows = false;
        // First updater wins: a row changed since the
        // snapshot cannot be updated, locked or deleted, and
        // an upsert cannot overwrite a version it never saw
        // (PostgreSQL's ON CONFLICT DO UPDATE raises 40001
        // there too). A row the snapshot never saw alive is
        // simply not found by UPDATE or DELETE.
        let changed_since_snapshot = latest.as_ref().is_some_and(|l| l.seq > snapshot);
        let saw_live_row = matches!(&visible, Some((Some(_), _)));
        let conflicts = match kind {
            // PostgreSQL inserts beside the tuple another
            // transaction deleted after the snapshot; the
            // snapshot goes on showing that tuple next to
            // the new one (see `TxState::shadowed`).
            WriteKind::Insert => {
                shadows = saw_live_row && latest.as_ref().is_some_and(|l| l.row.is_none());
                false
            }
            WriteKind::Upsert => true,
            // KEY SHARE passes a newer version whose key is
            // unchanged (PostgreSQL locks along the update
            // chain instead).
            WriteKind::Lock(RowLockMode::KeyShare) => {
                saw_live_row && self.keys_changed_since(key, snapshot)
            }
            WriteKind::Update | WriteKind::KeyUpdate | WriteKind::Delete | WriteKind::Lock(_) => {
                saw_live_row
            }
        };
        if changed_since_snapshot && conflicts {
            self.stats.serialization_failures += 1;
            return Err(self.fail(
                id,
                error(
                    SqlState::SerializationFailure,
                    format!("could not serialize access due to concurrent update of {key}"),
                ),
            ));
        }
        let row = if kind == WriteKind::Insert {
            latest.map(|v| (v.row, v.writer))
        } else {
            visible
        };
        Ok((row, shadows))
    }

    /// The version a write leaves at `key`: `None` when it writes nothing
    /// (a lock, or an UPDATE or DELETE that found no row), `Some(None)` for
    /// a delete. An INSERT onto a live row is a unique violation.
    fn new_version(
        &mut self,
        id: TxId,
        key: &Key,
        kind: WriteKind,
        found_live_row: bool,
        new_row: Option<Row>,
    ) -> Result<Option<Option<Arc<Row>>>, DbError> {
        Ok(match kind {
            WriteKind::Lock(_) => None,
            WriteKind::Insert => {
                if found_live_row {
                    self.conflict_in_before_violation(id, key)?;
                    self.stats.unique_violations += 1;
                    return Err(self.fail(
                        id,
                        error(
                            SqlState::UniqueViolation,
                            format!("duplicate key value violates unique constraint \"{}_pkey\": Key ({key}) already exists", key.table()),
                        ),
                    ));
                }
                Some(Some(Arc::new(new_row.expect("insert carries a row"))))
            }
            WriteKind::Update | WriteKind::KeyUpdate => {
                found_live_row.then(|| Some(Arc::new(new_row.expect("update carries a row"))))
            }
            WriteKind::Upsert => Some(Some(Arc::new(new_row.expect("upsert carries a row")))),
            WriteKind::Delete => found_live_row.then_some(None),
        })
    }

    /// Enters a new row version in its exclusion constraint's index and
    /// checks it, waiting for an in-progress writer of a conflicting entry.
    fn enter_exclusion_index(
        &mut self,
        id: TxId,
        key: &Key,
        row: &Row,
    ) -> Result<LockAttempt<()>, DbError> {
        // PostgreSQL inserts the new version's index entry before its
        // exclusion check (execIndexing.c), and the check waits for any
        // in-progress transaction whose conflicting entry it finds: a
        // statement waiting there already stands in the index, so a write
        // of the transaction it waits for that overlaps it waits back (a
        // deadlock), and so do two waiters that find each other once the
        // transaction they both waited for rolls back. Recording the entry
        // is idempotent: the statement, re-run after a wait, records once.
        if self.tx(id).isolation == Isolation::Serializable && self.interval_of(key, row).is_some()
        {
            // PostgreSQL inserts the gist index entry, checking for
            // conflicts in, before its exclusion check waits or fails:
            // a structure already dangerous fails with 40001 here;
            // one that becomes dangerous while this waits dooms it, yet
            // the exclusion check then reports 23P01 (it makes no SSI
            // check of its own, unlike the unique check).
            self.ssi_conflict_in(id, key)?;
        }
        self.add_pending_interval(id, key, row);
        self.check_exclusion(id, key, row)
    }

    /// Records a write's new version as the transaction's own, with the
    /// key changes later readers and lockers look at, and its SSI write.
    fn record_write(
        &mut self,
        id: TxId,
        key: &Key,
        value: Option<Arc<Row>>,
        changes: WriteChanges,
    ) -> Result<(), DbError> {
        let inserted = value.is_some();
        if value.is_none()
            || changes.kind == WriteKind::KeyUpdate
            || changes.updates_under_for_update
        {
            self.tx_mut(id).keys_changed.insert(key.clone());
        }
        if changes.shadows {
            self.tx_mut(id).shadowed.insert(key.clone());
        }
        if changes.replaces_own_delete {
            let tx = self.tx_mut(id);
            tx.keys_changed.insert(key.clone());
            tx.replaced.insert(key.clone());
        }
        self.tx_mut(id).writes.insert(key.clone(), value);
        self.intents.insert(key.clone(), id);
        if self.tx(id).isolation == Isolation::Serializable {
            if changes.kind == WriteKind::Insert && inserted {
                self.ssi_insert(id, key)?;
            } else {
                self.ssi_write(id, key)?;
            }
        }
        Ok(())
    }

    /// Speculative insertion's check (`INSERT ... ON CONFLICT`): waits for
    /// another transaction holding the row lock on `key` (an uncommitted
    /// insert or update of it), then returns the live row there, if any,
    /// without locking it. At Repeatable Read and Serializable a live row
    /// the snapshot cannot see fails with 40001, as PostgreSQL's
    /// `ON CONFLICT` does. The read is recorded (and SIREAD-locked).
    pub(crate) fn probe(
        &mut self,
        id: TxId,
        key: &Key,
    ) -> Result<LockAttempt<Option<Row>>, DbError> {
        if let Some(own) = self.tx(id).writes.get(key) {
            return Ok(LockAttempt::Done(own.as_ref().map(|row| (**row).clone())));
        }
        // Only an uncommitted writer is waited for: a row another
        // transaction merely locked is a settled conflict.
        if let Some(writer) = self.uncommitted_writer(id, key) {
            return match self.wait_or_deadlock(id, writer)? {
                LockAttempt::WaitFor(holder) => Ok(LockAttempt::WaitFor(holder)),
                LockAttempt::Done(()) => unreachable!("a wait is never done"),
            };
        }
        self.waits_for.remove(&id);
        let latest = self.latest(key).cloned();
        let isolation = self.tx(id).isolation;
        if isolation != Isolation::ReadCommitted {
            let snapshot = self.tx(id).snapshot.expect("statement started");
            if latest
                .as_ref()
                .is_some_and(|v| v.seq > snapshot && v.row.is_some())
            {
                self.stats.serialization_failures += 1;
                return Err(self.fail(
                    id,
                    error(
                        SqlState::SerializationFailure,
                        format!("could not serialize access due to concurrent update of {key}"),
                    ),
                ));
            }
        }
        self.tx_mut(id).reads.push(ReadRecord::Item {
            key: key.clone(),
            version: latest.as_ref().map(|v| v.writer),
        });
        if isolation == Isolation::Serializable {
            self.ssi_read_key(id, key)?;
        }
        Ok(LockAttempt::Done(
            latest.and_then(|v| v.row).map(|row| (*row).clone()),
        ))
    }

    /// Puts `id`'s row lock on `key` back to what it held before the
    /// statement and lets waiters in.
    fn restore_row_lock(&mut self, id: TxId, key: &Key) {
        let Some(held) = self.tx_mut(id).granted_this_statement.remove(key) else {
            return;
        };
        let Some(holders) = self.row_locks.get_mut(key) else {
            return;
        };
        match held {
            Some(mode) => {
                holders.insert(id, mode);
            }
            None => {
                holders.remove(&id);
                if holders.is_empty() {
                    self.row_locks.remove(key);
                }
                self.tx_mut(id).locks.remove(key);
            }
        }
        self.grant_to_waiters(key);
        // An upgrader parked on this transaction (not queued) may be free
        // to go now that the lock is weaker; it retries and parks again if
        // not.
        if let Some(wakers) = self.waiters.remove(&id) {
            for waker in wakers {
                waker.wake();
            }
        }
    }

    /// Whether a version of `key` committed after `snapshot` matches
    /// `what`.
    fn any_version_since(&self, key: &Key, snapshot: u64, what: impl Fn(&Version) -> bool) -> bool {
        self.data.get(key).is_some_and(|versions| {
            versions
                .iter()
                .rev()
                .take_while(|v| v.seq > snapshot)
                .any(what)
        })
    }

    /// Whether a version of `key` committed after `snapshot` replaced the
    /// row with a new one (deleted and inserted it in one transaction).
    fn replaced_since(&self, key: &Key, snapshot: u64) -> bool {
        self.any_version_since(key, snapshot, |v| v.replaced)
    }

    /// Whether a version of `key` committed after `snapshot` deleted the
    /// row or changed its unique columns.
    fn keys_changed_since(&self, key: &Key, snapshot: u64) -> bool {
        self.any_version_since(key, snapshot, |v| v.keys_changed || v.row.is_none())
    }

    /// Another, uncommitted transaction that wrote `key`: a statement that
    /// found a conflict on the row's committed version waits for it, as
    /// PostgreSQL's unique and exclusion checks wait for an in-progress
    /// updater or deleter before they decide.
    pub(crate) fn uncommitted_writer(&self, id: TxId, key: &Key) -> Option<TxId> {
        self.intents
            .get(key)
            .copied()
            .filter(|&writer| writer != id)
    }

    /// Waits (or fails with 40P01) while another transaction has an
    /// uncommitted write of `key`.
    pub(crate) fn wait_for_writer(
        &mut self,
        id: TxId,
        key: &Key,
    ) -> Result<LockAttempt<()>, DbError> {
        match self.uncommitted_writer(id, key) {
            Some(writer) => self.wait_or_deadlock(id, writer),
            None => {
                self.waits_for.remove(&id);
                Ok(LockAttempt::Done(()))
            }
        }
    }

    /// Whether another transaction than `id` holds the row lock on `key`
    /// in a strength that conflicts with `mode` (NOWAIT, SKIP LOCKED).
    pub(crate) fn lock_conflicts(&self, id: TxId, key: &Key, mode: RowLockMode) -> bool {
        !self.conflicting_holders(id, key, mode).is_empty()
    }

    /// The live rows in `range` as of the newest commit, overlaid with
    /// `id`'s own uncommitted writes (foreign-key checks of referencing
    /// rows, which PostgreSQL makes with a fresh snapshot).
    pub(crate) fn latest_range_for(&self, id: TxId, range: &KeyRange) -> Vec<(Key, Row)> {
        let mut seen: BTreeMap<Key, Option<Arc<Row>>> = self
            .data
            .range(range.start.clone()..range.end.clone())
            .map(|(key, versions)| (key.clone(), versions.last().and_then(|v| v.row.clone())))
            .collect();
        for (key, row) in self
            .tx(id)
            .writes
            .range(range.start.clone()..range.end.clone())
        {
            seen.insert(key.clone(), row.clone());
        }
        seen.into_iter()
            .filter_map(|(key, row)| row.map(|row| (key, (*row).clone())))
            .collect()
    }

    /// The exclusion constraint on `key`'s table, if any, and the group and
    /// interval of `row` under it.
    fn interval_of(&self, key: &Key, row: &Row) -> Option<(Datum, i64, i64)> {
        let constraint = self
            .schema
            .exclusions
            .iter()
            .find(|constraint| constraint.table == key.table())?;
        let group = row.get(constraint.group_column)?.clone();
        if group == Datum::Null {
            // NULL never equals anything: no conflict, as in PostgreSQL.
            return None;
        }
        if constraint.start_column == constraint.end_column {
            // One range column (`span WITH &&`).
            return match row.get(constraint.start_column)? {
                Datum::Range(start, end) => Some((group, *start, *end)),
                _ => None,
            };
        }
        let start = row.int(constraint.start_column)?;
        let end = row.int(constraint.end_column)?;
        Some((group, start, end))
    }

    /// Checks the exclusion constraint (non-overlapping `[start, end)` per
    /// group) for a row `id` is writing, whose own entry is already in
    /// place. Like PostgreSQL, it acts on the first conflicting entry in
    /// index order: an entry of another in-progress transaction (or a
    /// committed row another transaction is updating or deleting) makes it
    /// wait for that transaction and check again; a committed row, or this
    /// transaction's own current version of another row, fails with 23P01.
    fn check_exclusion(
        &mut self,
        id: TxId,
        key: &Key,
        row: &Row,
    ) -> Result<LockAttempt<()>, DbError> {
        let Some((group, start, end)) = self.interval_of(key, row) else {
            return Ok(LockAttempt::Done(()));
        };
        if start >= end {
            return Ok(LockAttempt::Done(()));
        }
        let table = key.table().to_string();
        // (place in the index, the other row, its in-progress writer)
        let mut conflicts: Vec<(u64, Key, Option<TxId>)> = Vec::new();
        let pending = self
            .pending_intervals
            .get(&(table.clone(), group.clone()))
            .map(Vec::as_slice)
            .unwrap_or_default();
        for other in pending {
            if other.key == *key || other.end <= start || end <= other.start {
                continue;
            }
            if other.owner == id {
                // Of this transaction's own entries only the current version
                // of a row conflicts: the versions it replaced are deleted
                // by itself, which its own check does not see.
                let current = match self.tx(id).writes.get(&other.key) {
                    Some(Some(own)) => self.interval_of(&other.key, own),
                    _ => None,
                };
                if current != Some((group.clone(), other.start, other.end)) {
                    continue;
                }
            }
            let writer = (other.owner != id).then_some(other.owner);
            conflicts.push((other.entry_seq, other.key.clone(), writer));
        }
        // Committed rows of the same table and group: the newest version of
        // each key, minus keys this transaction rewrote itself (their own
        // entries stand for them).
        let prefix = KeyRange::prefix(&format!("{table}/"));
        for (other_key, versions) in self.data.range(prefix.start.clone()..prefix.end.clone()) {
            if other_key == key || self.tx(id).writes.contains_key(other_key) {
                continue;
            }
            let Some(other_row) = versions.last().and_then(|v| v.row.clone()) else {
                continue;
            };
            if let Some((other_group, other_start, other_end)) =
                self.interval_of(other_key, &other_row)
            {
                if other_group == group && other_start < end && start < other_end {
                    // The conflicting row is being updated or deleted:
                    // PostgreSQL waits for that transaction and checks again.
                    let entry_seq = self.committed_entry_seq.get(other_key).copied();
                    conflicts.push((
                        entry_seq.unwrap_or(0),
                        other_key.clone(),
                        self.uncommitted_writer(id, other_key),
                    ));
                }
            }
        }
        let first = conflicts
            .into_iter()
            .min_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        match first {
            None => Ok(LockAttempt::Done(())),
            Some((_, _, Some(writer))) => self.wait_or_deadlock(id, writer),
            Some((_, other_key, None)) => {
                Err(self.exclusion_error(id, key, &group, start, end, &other_key))
            }
        }
    }

    fn exclusion_error(
        &mut self,
        id: TxId,
        key: &Key,
        group: &Datum,
        start: i64,
        end: i64,
        other: &Key,
    ) -> DbError {
        self.stats.exclusion_violations += 1;
        self.fail(
            id,
            error(
                SqlState::ExclusionViolation,
                format!(
                    "conflicting key value violates exclusion constraint \"{}_no_overlap\": ({group}, [{start},{end})) of {key} conflicts with existing {other}",
                    key.table()
                ),
            ),
        )
    }

    /// Puts the index entry of the version `id` writes at `key` in place,
    /// unless it is there already (the statement re-run after a wait, or a
    /// version that repeats one this transaction wrote before).
    fn add_pending_interval(&mut self, id: TxId, key: &Key, row: &Row) {
        let Some((group, start, end)) = self.interval_of(key, row) else {
            return;
        };
        let entries = self
            .pending_intervals
            .entry((key.table().to_string(), group))
            .or_default();
        let recorded = entries
            .iter()
            .any(|p| p.owner == id && p.key == *key && p.start == start && p.end == end);
        if !recorded {
            self.last_entry_seq += 1;
            entries.push(PendingInterval {
                key: key.clone(),
                start,
                end,
                owner: id,
                entry_seq: self.last_entry_seq,
            });
        }
    }

    /// Removes every index entry `id` wrote while in progress: it ended
    /// (its committed rows' entries are in `committed_entry_seq` by then).
    fn remove_pending_intervals_of(&mut self, id: TxId) {
        self.pending_intervals.retain(|_, entries| {
            entries.retain(|p| p.owner != id);
            !entries.is_empty()
        });
    }

    /// How many index entries of in-progress transactions are in place.
    #[cfg(test)]
    pub(crate) fn pending_entries(&self) -> usize {
        self.pending_intervals.values().map(Vec::len).sum()
    }

    /// At commit: where the entry of the committed version of `key`
    /// (`row`, `None` once deleted) stands in the index.
    fn commit_entry(&mut self, id: TxId, key: &Key, row: Option<&Row>) {
        let entry_seq =
            row.and_then(|row| self.interval_of(key, row))
                .and_then(|(group, start, end)| {
                    self.pending_intervals
                        .get(&(key.table().to_string(), group))?
                        .iter()
                        .find(|p| {
                            p.owner == id && p.key == *key && p.start == start && p.end == end
                        })
                        .map(|p| p.entry_seq)
                });
        match entry_seq {
            Some(entry_seq) => self.committed_entry_seq.insert(key.clone(), entry_seq),
            None => self.committed_entry_seq.remove(key),
        };
    }

    // ---- SSI -----------------------------------------------------------
    //
    // PostgreSQL's rules (src/backend/storage/lmgr/predicate.c), with the
    // store's commit sequence numbers standing for PostgreSQL's: a commit is
    // atomic here, so a transaction's prepare and commit numbers are one,
    // and `lastCommitBeforeSnapshot` is the snapshot itself.

    /// Whether two serializable transactions overlapped in time: neither
    /// committed before the other took its snapshot.
    fn concurrent(&self, a: TxId, b: TxId) -> bool {
        let (Some(ta), Some(tb)) = (self.txs.get(&a), self.txs.get(&b)) else {
            return false;
        };
        let a_before_b = match (ta.commit_seq, tb.snapshot) {
            (Some(commit), Some(snapshot)) => commit <= snapshot,
            (Some(_), None) => true,
            _ => false,
        };
        let b_before_a = match (tb.commit_seq, ta.snapshot) {
            (Some(commit), Some(snapshot)) => commit <= snapshot,
            (Some(_), None) => true,
            _ => false,
        };
        !a_before_b && !b_before_a
    }

    /// A serializable transaction that can still take part in a conflict:
    /// not failed for good, and not doomed (PostgreSQL ignores a doomed
    /// transaction, which will roll back, in both conflict checks).
    fn is_serializable_live(&self, id: TxId) -> bool {
        self.txs.get(&id).is_some_and(|tx| {
            tx.isolation == Isolation::Serializable && !tx.failed_for_good() && tx.doomed.is_none()
        })
    }

    /// What the dangerous-structure rules need to know of one transaction.
    /// A transaction no longer in `txs` committed before every open
    /// snapshot (see `collect_finished`): it reads as committed at 0.
    fn ssi_view(&self, id: TxId) -> SsiView {
        match self.txs.get(&id) {
            None => SsiView {
                commit: Some(0),
                read_only: false,
                doomed: false,
                snapshot: 0,
            },
            Some(tx) => SsiView {
                commit: tx.commit_seq,
                // PostgreSQL's SXACT_FLAG_READ_ONLY: declared READ ONLY, or
                // committed without writing.
                read_only: tx.read_only || (tx.commit_seq.is_some() && !tx.did_write),
                doomed: tx.doomed.is_some() || tx.failed_for_good(),
                snapshot: tx.snapshot.unwrap_or(self.commit_seq),
            },
        }
    }

    /// SSI read of one key: a SIREAD lock, and rw edges to every concurrent
    /// writer of a version this read cannot see.
    fn ssi_read_key(&mut self, id: TxId, key: &Key) -> Result<(), DbError> {
        if self.tx_mut(id).siread_keys.insert(key.clone()) {
            self.siread_keys.entry(key.clone()).or_default().insert(id);
        }
        let writers = self.invisible_writers(id, key);
        for writer in writers {
            self.conflict_out(id, writer)?;
        }
        Ok(())
    }

    /// Every key in `range` with a committed version or an uncommitted
    /// write, in key order.
    fn keys_written_in(&self, range: &KeyRange) -> BTreeSet<Key> {
        let bounds = range.start.clone()..range.end.clone();
        self.data
            .range(bounds.clone())
            .map(|(key, _)| key.clone())
            .chain(self.intents.range(bounds).map(|(key, _)| key.clone()))
            .collect()
    }

    fn ssi_read_range(&mut self, id: TxId, range: &KeyRange) -> Result<(), DbError> {
        self.tx_mut(id).siread_ranges.push(range.clone());
        self.siread_ranges.add(id, range.clone());
        for key in self.keys_written_in(range) {
            for writer in self.invisible_writers(id, &key) {
                self.conflict_out(id, writer)?;
            }
        }
        Ok(())
    }

    /// Whether a version of `key` that `id` cannot see (committed after
    /// `snapshot`, or another transaction's uncommitted write) is a row
    /// `matches` accepts: an index scan meets such a version through its
    /// own index entry, and checks it for a conflict out.
    fn newer_version_matches(
        &self,
        id: TxId,
        key: &Key,
        snapshot: u64,
        matches: &dyn Fn(&Row) -> bool,
    ) -> bool {
        let committed = self.data.get(key).is_some_and(|versions| {
            versions
                .iter()
                .filter(|v| v.seq > snapshot)
                .any(|v| v.row.as_ref().is_some_and(|row| matches(row)))
        });
        committed
            || self
                .intents
                .get(key)
                .filter(|&&writer| writer != id)
                .and_then(|writer| self.txs.get(writer))
                .and_then(|tx| tx.writes.get(key))
                .is_some_and(|row| row.as_ref().is_some_and(|row| matches(row)))
    }

    /// Serializable writers of versions of `key` that `id` cannot see:
    /// committed after its snapshot, or still uncommitted.
    fn invisible_writers(&self, id: TxId, key: &Key) -> Vec<TxId> {
        let tx = self.tx(id);
        if tx.writes.contains_key(key) {
            return Vec::new();
        }
        let snapshot = tx.snapshot.expect("statement started");
        let mut writers: Vec<TxId> = self
            .data
            .get(key)
            .map(|versions| {
                versions
                    .iter()
                    .filter(|v| v.seq > snapshot)
                    .map(|v| v.writer)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(&writer) = self.intents.get(key) {
            if writer != id {
                writers.push(writer);
            }
        }
        writers.retain(|&writer| self.is_serializable_live(writer) && self.concurrent(id, writer));
        writers
    }

    /// CheckForSerializableConflictOut: `reader` (running the statement)
    /// read past a version `writer` made. A READ ONLY reader has no
    /// conflict with a committed writer unless that writer had itself a
    /// conflict out to a transaction committed before the reader's
    /// snapshot: the reader then simply appears to run first.
    fn conflict_out(&mut self, reader: TxId, writer: TxId) -> Result<(), DbError> {
        let w = self.tx(writer);
        if self.tx(reader).read_only
            && w.commit_seq.is_some()
            && w.conflict_out_commit
                .is_none_or(|earliest| self.tx(reader).snapshot.unwrap_or(0) < earliest)
        {
            return Ok(());
        }
        self.flag_rw_conflict(reader, writer, reader)
    }

    /// SSI insert of `key`: as [`State::ssi_write`], plus the check
    /// PostgreSQL's btree insert makes on the leaf page the new entry goes
    /// into: a secondary index's entry, or a row key's primary key entry
    /// (see [`State::index_page_conflict_in`]).
    fn ssi_insert(&mut self, id: TxId, key: &Key) -> Result<(), DbError> {
        self.tx_mut(id).did_write = true;
        self.ssi_conflict_in(id, key)?;
        self.index_page_conflict_in(id, key).map(|_| ())
    }

    /// SSI write: the transaction wrote, and checks for conflicts in.
    fn ssi_write(&mut self, id: TxId, key: &Key) -> Result<(), DbError> {
        self.tx_mut(id).did_write = true;
        self.ssi_conflict_in(id, key)
    }

    /// Before a Serializable transaction is told of a unique violation
    /// (23505) on `key`, the conflict-in check its write would have made:
    /// PostgreSQL's unique check calls CheckForSerializableConflictIn so
    /// that "SSI conflicts that would otherwise be masked by this unique
    /// constraint violation" are reported (nbtinsert.c). A violation caused
    /// by a concurrent transaction that also read the key is then a 40001,
    /// which a retry resolves, not a 23505. PostgreSQL checks the index's
    /// leaf page, not the key (see [`State::index_page_conflict_in`]).
    fn conflict_in_before_violation(&mut self, id: TxId, key: &Key) -> Result<(), DbError> {
        if self.tx(id).isolation != Isolation::Serializable {
            return Ok(());
        }
        if !self.index_page_conflict_in(id, key)? {
            return self.ssi_conflict_in(id, key);
        }
        Ok(())
    }

    /// SIREAD lock on the page of `table`'s index `index` (see
    /// [`index_page`]), taken by
    /// a read that went through that index: PostgreSQL's index scans lock
    /// the leaf pages they visit.
    pub(crate) fn siread_index_page(&mut self, id: TxId, table: &str, index: &str) {
        if self.tx(id).isolation != Isolation::Serializable {
            return;
        }
        let page = index_page(table, index);
        if self.tx_mut(id).siread_keys.insert(page.clone()) {
            self.siread_keys.entry(page).or_default().insert(id);
        }
    }

    /// A non-HOT UPDATE: PostgreSQL inserts the new row version into every
    /// index of the table, each insert checking its leaf page.
    pub(crate) fn index_pages_written(&mut self, id: TxId, pages: &[Key]) -> Result<(), DbError> {
        if self.tx(id).isolation != Isolation::Serializable {
            return Ok(());
        }
        for page in pages {
            self.index_page_conflict_in(id, page)?;
        }
        Ok(())
    }

    /// Rw edges from every concurrent reader holding a SIREAD lock on the
    /// index page a new entry `key` goes into. PostgreSQL locks and checks
    /// btree leaf pages; the store has no pages and takes a small table's
    /// index to be one page (a leaf holds hundreds of entries), so any
    /// SIREAD lock in a secondary index (`T@index/...`) counts, and for a
    /// row key (`T/...`, its primary key entry) the page lock that reads
    /// through the primary key took (`T@@pkey/`). True when `key` is a
    /// secondary index's entry.
    fn index_page_conflict_in(&mut self, id: TxId, key: &Key) -> Result<bool, DbError> {
        let Some(slash) = key.as_str().find('/') else {
            return Ok(false);
        };
        let secondary = key.as_str()[..slash].contains('@');
        if key.as_str()[..slash].ends_with(HASH_INDEX) {
            // A hash index's insert checks only the bucket its entry goes
            // into, which holds the entries of equal keys: the key-level
            // check (`ssi_conflict_in`) is that one.
            return Ok(true);
        }
        let page = if secondary {
            KeyRange::prefix(&key.as_str()[..=slash])
        } else {
            KeyRange::prefix(index_page(&key.as_str()[..slash], PK_PAGE).as_str())
        };
        let mut readers: BTreeSet<TxId> = self
            .siread_keys
            .range(page.start.clone()..page.end.clone())
            .flat_map(|(_, readers)| readers.iter().copied())
            .collect();
        readers.extend(self.siread_ranges.holders_overlapping(&page));
        self.flag_readers(id, readers)?;
        Ok(secondary)
    }

    /// CheckForSerializableConflictIn: rw edges from every concurrent
    /// reader holding a SIREAD lock on `key` (a key lock or a range that
    /// covers it).
    fn ssi_conflict_in(&mut self, id: TxId, key: &Key) -> Result<(), DbError> {
        let mut readers: BTreeSet<TxId> = self.siread_keys.get(key).cloned().unwrap_or_default();
        readers.extend(self.siread_ranges.holders_of(key));
        self.flag_readers(id, readers)
    }

    /// Rw edges `reader -> id` from each concurrent, still live
    /// Serializable reader (the conflict-in checks' common end).
    fn flag_readers(&mut self, id: TxId, mut readers: BTreeSet<TxId>) -> Result<(), DbError> {
        readers.remove(&id);
        for reader in readers {
            if self.is_serializable_live(reader) && self.concurrent(reader, id) {
                self.flag_rw_conflict(reader, id, id)?;
            }
        }
        Ok(())
    }

    /// Adds `reader -rw-> writer` unless it exists (FlagRWConflict), after
    /// checking whether it completes a dangerous structure
    /// `T0 -rw-> T1 -rw-> T2` in which T2 committed first: only then can
    /// the structure close a cycle (OnConflict_CheckForSerializationFailure).
    /// One transaction dies: the writer when it runs the statement or can
    /// still be aborted (it is doomed, and fails at its next statement or
    /// commit); the reader, running the statement, when the writer has
    /// already committed. Structures whose T2 has not committed yet are
    /// settled at T2's commit ([`State::pre_commit`]).
    fn flag_rw_conflict(
        &mut self,
        reader: TxId,
        writer: TxId,
        current: TxId,
    ) -> Result<(), DbError> {
        if reader == writer || self.tx(reader).rw_out.contains(&writer) {
            return Ok(());
        }
        let failure = self.completes_dangerous_structure(reader, writer);
        if failure && (current == writer || self.ssi_view(writer).commit.is_some()) {
            debug_assert!(current == writer || current == reader);
            self.stats.serialization_failures += 1;
            let message = format!(
                "could not serialize access due to read/write dependencies among transactions (rw-antidependency T{reader} -> T{writer}; T{current} canceled on identification as a pivot)"
            );
            return Err(self.fail(current, error(SqlState::SerializationFailure, message)));
        }
        if failure {
            let message = format!(
                "could not serialize access due to read/write dependencies among transactions (rw-antidependency T{reader} -> T{writer}; T{writer} canceled on identification as a pivot)"
            );
            self.tx_mut(writer).doomed = Some(message);
        }
        self.tx_mut(reader).rw_out.insert(writer);
        self.tx_mut(writer).rw_in.insert(reader);
        Ok(())
    }

    /// OnConflict_CheckForSerializationFailure's three cases for a new edge
    /// `reader -rw-> writer`.
    fn completes_dangerous_structure(&self, reader: TxId, writer: TxId) -> bool {
        let r = self.ssi_view(reader);
        let w = self.ssi_view(writer);
        // reader -> writer -> T2, the writer committed after T2 did (its
        // conflict out to an earlier commit was summarized at its commit).
        if w.commit.is_some() && self.tx(writer).conflict_out_commit.is_some() {
            return true;
        }
        // reader -> writer -> T2 with T2 committed, first of the three.
        let writer_out = &self.tx(writer).rw_out;
        for &t2 in writer_out {
            let Some(t2_commit) = self.ssi_view(t2).commit else {
                continue;
            };
            if r.commit.is_none_or(|c| t2_commit <= c)
                && w.commit.is_none_or(|c| t2_commit <= c)
                && (!r.read_only || t2_commit <= r.snapshot)
            {
                return true;
            }
        }
        // T0 -> reader -> writer with the writer committed: T0 must not
        // have committed before it, and a READ ONLY T0 must have taken its
        // snapshot after it.
        if let Some(w_commit) = w.commit {
            if !r.read_only {
                for &t0 in &self.tx(reader).rw_in {
                    let t0v = self.ssi_view(t0);
                    if !t0v.doomed
                        && t0v.commit.is_none_or(|c| c >= w_commit)
                        && (!t0v.read_only || t0v.snapshot >= w_commit)
                    {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// PreCommit_CheckForSerializationFailure: `id`, committing, is the T2
    /// of every structure `T0 -rw-> T1 -rw-> id` with T0 and T1 still
    /// running (or `T0` = `id`, a cycle of two): its commit makes T2 the
    /// first to commit, so the pivot T1 is doomed and `id` commits, which
    /// guarantees progress (a retried pivot does not meet `id` again).
    fn pre_commit(&mut self, id: TxId) {
        let mut pivots = Vec::new();
        for &near in &self.tx(id).rw_in {
            let n = self.ssi_view(near);
            if n.commit.is_some() || n.doomed {
                continue;
            }
            let dangerous = self.tx(near).rw_in.iter().any(|&far| {
                let f = self.ssi_view(far);
                far == id || (f.commit.is_none() && !f.read_only && !f.doomed)
            });
            if dangerous {
                pivots.push(near);
            }
        }
        for pivot in pivots {
            let message = format!(
                "could not serialize access due to read/write dependencies among transactions (T{pivot} canceled on identification as a pivot, at the commit of T{id})"
            );
            self.tx_mut(pivot).doomed = Some(message);
        }
    }

    /// At commit: the earliest commit among the transactions this one had
    /// a conflict out to that committed before it (PostgreSQL's
    /// SXACT_FLAG_CONFLICT_OUT and earliestOutConflictCommit), kept for
    /// later edges into it. Only a transaction that wrote has one.
    fn summarize_conflict_out(&mut self, id: TxId) {
        if !self.tx(id).did_write || self.tx(id).read_only {
            return;
        }
        let earliest = self
            .tx(id)
            .rw_out
            .iter()
            .filter_map(|&t2| self.ssi_view(t2).commit)
            .min();
        self.tx_mut(id).conflict_out_commit = earliest;
    }

    // ---- commit and abort ------------------------------------------------

    pub(crate) fn commit(&mut self, id: TxId) -> Result<u64, DbError> {
        self.fail_commit_that_cannot_succeed(id)?;
        if self.tx(id).isolation == Isolation::Serializable {
            self.pre_commit(id);
            self.summarize_conflict_out(id);
        }
        self.commit_seq += 1;
        let seq = self.commit_seq;
        let writes = std::mem::take(&mut self.tx_mut(id).writes);
        for (from, to) in std::mem::take(&mut self.tx_mut(id).moves) {
            if matches!(writes.get(&from), Some(None)) {
                self.moved.insert((from, id), to);
            }
        }
        let event_writes = self.install_versions(id, seq, &writes);
        self.apply_truncations(id, seq);
        {
            let tx = self.tx_mut(id);
            tx.status = Status::Committed;
            tx.commit_seq = Some(seq);
        }
        self.stats.committed += 1;
        if self.config.record_history {
            self.record_committed_tx(id, seq, &writes);
        } else {
            self.tx_mut(id).reads.clear();
        }
        if !event_writes.is_empty() {
            self.commit_log.push(CommitEvent {
                tx: id,
                commit_seq: seq,
                writes: event_writes,
            });
        }
        self.release(id, true);
        if self.tx(id).isolation == Isolation::Serializable {
            self.finished_serializable.insert((seq, id));
        } else {
            // Only Serializable transactions' SIREAD locks outlive them.
            self.drop_siread(id);
            self.txs.remove(&id);
        }
        // One horizon for both: pruning changes no transaction.
        let horizon = self.oldest_open_snapshot();
        self.prune_versions(writes.keys(), horizon);
        self.collect_finished_before(horizon);
        Ok(seq)
    }

    /// Fails (and rolls back) a COMMIT that cannot succeed: of a failed
    /// transaction, of one SSI doomed, or one the fault plan fails.
    fn fail_commit_that_cannot_succeed(&mut self, id: TxId) -> Result<(), DbError> {
        match self.tx(id).status {
            Status::Active => {}
            Status::Failed => {
                self.rollback(id);
                return Err(error(
                    SqlState::InFailedTransaction,
                    "current transaction is aborted; COMMIT rolled back".into(),
                ));
            }
            Status::Committed => unreachable!("commit twice"),
        }
        if let Some(reason) = self.tx(id).doomed.clone() {
            self.stats.serialization_failures += 1;
            let err = self.fail(id, error(SqlState::SerializationFailure, reason));
            self.rollback(id);
            return Err(err);
        }
        if self
            .rng
            .chance(self.config.faults.serialization_failure_at_commit)
        {
            self.stats.injected_failures += 1;
            let mut injected = error(
                SqlState::SerializationFailure,
                "could not serialize access due to read/write dependencies among transactions (injected at commit)"
                    .into(),
            );
            injected.injected = true;
            let err = self.fail(id, injected);
            self.rollback(id);
            return Err(err);
        }
        Ok(())
    }

    /// Appends the committing transaction's writes as the newest committed
    /// versions. Returns the commit event's writes (each with the row
    /// before), built only when commits are recorded.
    #[allow(clippy::type_complexity)]
    fn install_versions(
        &mut self,
        id: TxId,
        seq: u64,
        writes: &BTreeMap<Key, Option<Arc<Row>>>,
    ) -> Vec<(Key, Option<Arc<Row>>, Option<Arc<Row>>)> {
        let keys_changed = std::mem::take(&mut self.tx_mut(id).keys_changed);
        let replaced = std::mem::take(&mut self.tx_mut(id).replaced);
        let record_commits = self.config.record_commits;
        let mut event_writes = Vec::new();
        for (key, row) in writes {
            self.commit_entry(id, key, row.as_deref());
            let versions = self.data.entry(key.clone()).or_default();
            let before = versions.last().and_then(|v| v.row.clone());
            versions.push(Version {
                writer: id,
                seq,
                row: row.clone(),
                keys_changed: keys_changed.contains(key),
                replaced: replaced.contains(key),
            });
            if record_commits {
                event_writes.push((key.clone(), row.clone(), before));
            }
        }
        event_writes
    }

    /// TRUNCATE at commit: every older version in a truncated range goes,
    /// leaving only what this commit (`seq`) wrote there.
    fn apply_truncations(&mut self, id: TxId, seq: u64) {
        for range in std::mem::take(&mut self.tx_mut(id).truncated) {
            let keys: Vec<Key> = self
                .data
                .range(range.start.clone()..range.end.clone())
                .map(|(key, _)| key.clone())
                .collect();
            for key in keys {
                let versions = self.data.get_mut(&key).expect("listed above");
                versions.retain(|version| version.seq == seq);
                if versions.is_empty() {
                    self.data.remove(&key);
                }
            }
        }
    }

    /// Adds the committed transaction to the history the serializability
    /// checker reads.
    fn record_committed_tx(
        &mut self,
        id: TxId,
        seq: u64,
        writes: &BTreeMap<Key, Option<Arc<Row>>>,
    ) {
        let tx = self.tx_mut(id);
        let reads = std::mem::take(&mut tx.reads);
        let isolation = tx.isolation;
        // A transaction that ran no statement read nothing: the commit
        // just before its own stands for its snapshot.
        let first_snapshot = tx.first_snapshot.unwrap_or(seq - 1);
        self.history.push(CommittedTx {
            id,
            isolation,
            commit_seq: seq,
            first_snapshot,
            reads,
            writes: writes
                .iter()
                .map(|(key, row)| WriteRecord {
                    key: key.clone(),
                    deleted: row.is_none(),
                })
                .collect(),
        });
    }

    /// Rolls back (idempotent). Dropping an open transaction lands here.
    pub(crate) fn rollback(&mut self, id: TxId) {
        let Some(tx) = self.txs.get(&id) else { return };
        if tx.status == Status::Committed {
            return;
        }
        self.release(id, false);
        self.stats.aborted += 1;
        self.remove_tx_edges(id);
        self.txs.remove(&id);
        self.collect_finished();
    }

    /// Releases locks, intents and pending intervals, and wakes waiters.
    fn release(&mut self, id: TxId, committed: bool) {
        self.waits_for.remove(&id);
        self.advisory.release(id);
        self.release_table_locks(id);
        if let Some(session) = self.tx_session.remove(&id) {
            self.session_tx.remove(&session);
        }
        self.settle_safe_snapshots(id, committed);
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        let locks = std::mem::take(&mut tx.locks);
        if !committed {
            tx.writes.clear();
        }
        if let Some((key, _)) = self.queued.remove(&id) {
            if let Some(queue) = self.lock_queues.get_mut(&key) {
                queue.retain(|&(waiter, _)| waiter != id);
            }
            // Those queued behind it may be free to go now.
            self.grant_to_waiters(&key);
        }
        for key in &locks {
            if let Some(holders) = self.row_locks.get_mut(key) {
                holders.remove(&id);
                if holders.is_empty() {
                    self.row_locks.remove(key);
                }
                self.grant_to_waiters(key);
            }
            if self.intents.get(key) == Some(&id) {
                self.intents.remove(key);
            }
        }
        self.remove_pending_intervals_of(id);
        if !committed {
            // A failed transaction's SIREAD locks and edges no longer
            // constrain anyone: it will never commit.
            self.drop_siread(id);
            self.remove_tx_edges(id);
        }
        if let Some(wakers) = self.waiters.remove(&id) {
            for waker in wakers {
                waker.wake();
            }
        }
    }

    /// Grants `key`'s row lock to the transactions queued for it, in
    /// order, while each one's strength conflicts neither with the holders
    /// nor with a transaction still queued ahead of it; the rest wait for
    /// what now blocks them.
    fn grant_to_waiters(&mut self, key: &Key) {
        let Some(queue) = self.lock_queues.remove(key) else {
            return;
        };
        let mut still: VecDeque<(TxId, RowLockMode)> = VecDeque::new();
        for (waiter, mode) in queue {
            let active = self.queued.get(&waiter).is_some_and(|(k, _)| k == key)
                && self
                    .txs
                    .get(&waiter)
                    .is_some_and(|tx| tx.status == Status::Active);
            if !active {
                continue;
            }
            let blocked = !self.conflicting_holders(waiter, key, mode).is_empty()
                || still.iter().any(|(_, ahead)| ahead.conflicts_with(mode));
            if blocked {
                still.push_back((waiter, mode));
                continue;
            }
            let (_, waker) = self.queued.remove(&waiter).expect("checked above");
            self.grant_row_lock(waiter, key, mode);
            self.waits_for.remove(&waiter);
            if let Some(waker) = waker {
                waker.wake();
            }
        }
        if still.is_empty() {
            return;
        }
        self.lock_queues.insert(key.clone(), still);
        let waiting: Vec<TxId> = self.lock_queues[key].iter().map(|&(w, _)| w).collect();
        for waiter in waiting {
            let blockers = self.queued_blockers(waiter, key);
            if !blockers.is_empty() {
                self.waits_for.insert(waiter, blockers);
            }
        }
    }

    fn drop_siread(&mut self, id: TxId) {
        if let Some(tx) = self.txs.get_mut(&id) {
            let keys = std::mem::take(&mut tx.siread_keys);
            let ranges = std::mem::take(&mut tx.siread_ranges);
            for key in keys {
                if let Some(set) = self.siread_keys.get_mut(&key) {
                    set.remove(&id);
                    if set.is_empty() {
                        self.siread_keys.remove(&key);
                    }
                }
            }
            self.siread_ranges.remove(id, &ranges);
        }
    }

    fn remove_tx_edges(&mut self, id: TxId) {
        let Some(tx) = self.txs.get_mut(&id) else {
            return;
        };
        let ins = std::mem::take(&mut tx.rw_in);
        let outs = std::mem::take(&mut tx.rw_out);
        for other in ins {
            if let Some(t) = self.txs.get_mut(&other) {
                t.rw_out.remove(&id);
            }
        }
        for other in outs {
            if let Some(t) = self.txs.get_mut(&other) {
                t.rw_in.remove(&id);
            }
        }
    }

    /// The oldest first snapshot of a transaction that may still commit:
    /// every transaction that commits from now on saw at least the commits
    /// up to it (one that has not run a statement yet will take a snapshot
    /// at least as new as the current commit).
    pub(crate) fn oldest_live_first_snapshot(&self) -> u64 {
        self.txs
            .values()
            .filter(|tx| tx.status == Status::Active)
            .map(|tx| tx.first_snapshot.unwrap_or(self.commit_seq))
            .min()
            .unwrap_or(self.commit_seq)
    }

    /// The oldest snapshot any open transaction may still read at.
    fn oldest_open_snapshot(&self) -> u64 {
        self.txs
            .values()
            .filter(|tx| tx.status != Status::Committed)
            .map(|tx| match tx.snapshot {
                // A transaction that has not started a statement yet will
                // take a snapshot at least as new as the current one.
                Some(snapshot) if tx.isolation != Isolation::ReadCommitted => snapshot,
                Some(snapshot) => snapshot,
                None => self.commit_seq,
            })
            .min()
            .unwrap_or(self.commit_seq)
    }

    /// Drops versions no open snapshot can see: everything older than the
    /// newest version visible to the oldest snapshot. That version itself
    /// stays (even a tombstone), so reads keep naming the right writer.
    fn prune_versions<'a>(&mut self, keys: impl Iterator<Item = &'a Key>, horizon: u64) {
        for key in keys {
            if let Some(versions) = self.data.get_mut(key) {
                if let Some(keep_from) = versions.iter().rposition(|v| v.seq <= horizon) {
                    if keep_from > 0 {
                        versions.drain(..keep_from);
                    }
                }
            }
        }
    }

    /// Forgets committed serializable transactions that no open transaction
    /// overlaps any more (their SIREAD locks can no longer matter), and
    /// committed transactions of other levels at once.
    fn collect_finished(&mut self) {
        self.collect_finished_before(self.oldest_open_snapshot());
    }

    /// [`State::collect_finished`] with the oldest open snapshot known.
    fn collect_finished_before(&mut self, horizon: u64) {
        while let Some(&(seq, id)) = self.finished_serializable.first() {
            if seq > horizon {
                break;
            }
            self.finished_serializable.pop_first();
            // Its SIREAD locks go, but not the edges its neighbours hold to
            // it: a transaction still open keeps knowing that it has an
            // rw-conflict with a committed one (PostgreSQL keeps the same
            // summary), or a later edge could complete a dangerous
            // structure unnoticed.
            self.drop_siread(id);
            self.txs.remove(&id);
        }
    }

    // ---- committed-state reads (for invariants, outside transactions) ----

    pub(crate) fn latest_row(&self, key: &Key) -> Option<Arc<Row>> {
        self.latest(key).and_then(|v| v.row.clone())
    }

    pub(crate) fn latest_range(&self, range: &KeyRange) -> Vec<(Key, Arc<Row>)> {
        self.data
            .range(range.start.clone()..range.end.clone())
            .filter_map(|(key, versions)| {
                versions
                    .last()
                    .and_then(|v| v.row.clone())
                    .map(|row| (key.clone(), row))
            })
            .collect()
    }

    /// The newest committed rows in `range`, without their keys.
    pub(crate) fn latest_rows(&self, range: &KeyRange) -> Vec<Arc<Row>> {
        self.data
            .range(range.start.clone()..range.end.clone())
            .filter_map(|(_, versions)| versions.last().and_then(|v| v.row.clone()))
            .collect()
    }

    /// See [`super::Store::statement_is_quiet`].
    pub(crate) fn statement_is_quiet(
        &self,
        id: TxId,
        op: Op,
        key: &Key,
        range_end: Option<&Key>,
    ) -> bool {
        let Some(tx) = self.txs.get(&id) else {
            return false;
        };
        if tx.status != Status::Active || tx.doomed.is_some() {
            return false;
        }
        // The snapshot the statement will read at (a first statement takes
        // the current one).
        let snapshot = match (tx.isolation, tx.snapshot) {
            (Isolation::ReadCommitted, _) | (_, None) => self.commit_seq,
            (_, Some(snapshot)) => snapshot,
        };
        // The keys the statement touches: `key` alone, or `[key, end)`.
        let range: (Bound<&Key>, Bound<&Key>) = match range_end {
            Some(end) => (Bound::Included(key), Bound::Excluded(end)),
            None => (Bound::Included(key), Bound::Included(key)),
        };
        let newer = self
            .data
            .range::<Key, _>(range)
            .any(|(_, versions)| versions.last().is_some_and(|v| v.seq > snapshot));
        let foreign_intent = self
            .intents
            .range::<Key, _>(range)
            .any(|(_, &writer)| writer != id);
        let foreign_lock = self
            .row_locks
            .range::<Key, _>(range)
            .any(|(_, holders)| holders.keys().any(|&holder| holder != id))
            || self.advisory.contended(key, id);
        if newer || foreign_intent || foreign_lock {
            return false;
        }
        match op {
            Op::Get | Op::Scan => true,
            Op::Commit | Op::Connect => false,
            Op::GetForUpdate | Op::Update | Op::Put | Op::Delete | Op::Insert => {
                if op == Op::Insert
                    && !tx.writes.contains_key(key)
                    && self.latest(key).is_some_and(|v| v.row.is_some())
                {
                    // It will fail with 23505.
                    return false;
                }
                let other_key_reader = self
                    .siread_keys
                    .get(key)
                    .is_some_and(|readers| readers.iter().any(|&r| r != id));
                let other_range_reader = self.siread_ranges.holders_of(key).any(|r| r != id);
                !other_key_reader && !other_range_reader
            }
        }
    }

    /// The transactions holding the row lock on `key`, with their
    /// strengths.
    pub(crate) fn lock_holders(&self, key: &Key) -> Vec<(TxId, RowLockMode)> {
        self.row_locks
            .get(key)
            .into_iter()
            .flatten()
            .map(|(&holder, &mode)| (holder, mode))
            .collect()
    }

    /// The newest committed row of every key, in key order.
    pub(crate) fn latest_all(&self) -> Vec<(Key, Arc<Row>)> {
        self.data
            .iter()
            .filter_map(|(key, versions)| {
                versions
                    .last()
                    .and_then(|v| v.row.clone())
                    .map(|row| (key.clone(), row))
            })
            .collect()
    }

    pub(crate) fn open_transactions(&self) -> usize {
        self.txs
            .values()
            .filter(|tx| tx.status != Status::Committed)
            .count()
    }
}

/// The snapshot and frozen own writes of a statement while a statement
/// nested in it (a trigger's, a function's) runs.
#[derive(Debug)]
pub(crate) struct NestedView {
    snapshot: Option<u64>,
    read_view: Option<BTreeMap<Key, Option<Arc<Row>>>>,
}
