//! The simulated transactional database.
//!
//! An ordered key-value store with tables as key prefixes, multi-version,
//! with PostgreSQL's isolation semantics: Read Committed, Repeatable Read
//! (snapshot isolation, first updater wins with 40001) and Serializable
//! (SSI over item and range reads, aborting one transaction per dangerous
//! structure, and only when its out-conflict commits first, by
//! PostgreSQL's rules, READ ONLY transactions' exemptions and DEFERRABLE
//! ones' safe snapshots included; the scripts of `crate::sql::scripts`
//! pin them against PostgreSQL's transcripts). Row locks and advisory
//! transaction locks are held to commit, waits are async, deadlocks are
//! detected (40P01) and waits may be limited by `lock_timeout` (55P03) and
//! `statement_timeout` (57014); primary keys are unique (23505) and tables
//! may carry an exclusion constraint on intervals (23P01).
//!
//! Every statement is async and starts at a *pause point* given to the
//! store's [`Pacer`]: under the turmoil world a pause costs simulated
//! latency; under the model checker it is a scheduling choice. The store
//! itself knows nothing of either.
//!
//! ```
//! use overbook_db::store::{Isolation, Key, Row, Schema, Store, StoreConfig};
//! use overbook_db::seed::Seed;
//! # futures_lite_block_on(async {
//! let store = Store::new(Schema::default(), StoreConfig::default(), Seed(1));
//! store.load(Key::new("auth", &["a1"]), Row::new().with("units_total", 50));
//! let mut tx = store.begin(Isolation::Serializable);
//! let row = tx.get_for_update(&Key::new("auth", &["a1"])).await.unwrap().unwrap();
//! assert_eq!(row.int("units_total"), Some(50));
//! tx.commit().await.unwrap();
//! # });
//! # fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     overbook_db::store::block_on(f)
//! # }
//! ```

pub mod activity;
pub mod anomaly;
mod engine;
pub mod record;
pub mod types;

pub use engine::{CommitEvent, StoreStats, TableLockMode};
pub use record::{CommittedTx, ReadRecord, WriteRecord};
pub use types::{Datum, DbError, Isolation, Key, KeyRange, Row, RowLockMode, SqlState, TxId};

use crate::seed::Seed;
pub(crate) use engine::{index_page, AdvisoryMode, WriteKind, EXCLUSION_PAGE, HASH_INDEX, PK_PAGE};

use engine::{LockAttempt, State};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// An exclusion constraint: rows of `table` with equal `group_column` must
/// not have overlapping `[start_column, end_column)` intervals, like
/// `EXCLUDE USING gist (room WITH =, during WITH &&)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exclusion {
    /// The table (key prefix before the first `/`).
    pub table: String,
    /// The column whose equal values form a group (the room).
    pub group_column: &'static str,
    /// Interval start (inclusive), an integer column.
    pub start_column: &'static str,
    /// Interval end (exclusive), an integer column.
    pub end_column: &'static str,
}

/// Constraints beyond primary-key uniqueness.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schema {
    /// Exclusion constraints, at most one per table.
    pub exclusions: Vec<Exclusion>,
}

impl Schema {
    /// This schema with an exclusion constraint added.
    pub fn with_exclusion(
        mut self,
        table: &str,
        group_column: &'static str,
        start_column: &'static str,
        end_column: &'static str,
    ) -> Schema {
        assert!(
            self.exclusions.iter().all(|e| e.table != table),
            "one exclusion constraint per table"
        );
        self.exclusions.push(Exclusion {
            table: table.to_string(),
            group_column,
            start_column,
            end_column,
        });
        self
    }
}

/// Simulated latency of one statement, in whole milliseconds of simulated time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LatencyConfig {
    /// Lowest latency of a statement.
    pub min_ms: u64,
    /// Highest latency of a statement (uniform between min and max).
    pub max_ms: u64,
    /// Probability that a statement is a latency spike instead.
    pub spike_probability: f64,
    /// Latency of a spike.
    pub spike_ms: u64,
}

impl Default for LatencyConfig {
    fn default() -> Self {
        LatencyConfig {
            min_ms: 0,
            max_ms: 0,
            spike_probability: 0.0,
            spike_ms: 0,
        }
    }
}

/// Faults the store injects, drawn from the run's seed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    /// Probability that any statement fails with an injected 40001.
    pub serialization_failure_per_statement: f64,
    /// Probability that a commit fails with an injected 40001.
    pub serialization_failure_at_commit: f64,
}

/// How the store behaves: faults, latency, history recording.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Injected failures.
    pub faults: FaultConfig,
    /// Statement latency.
    pub latency: LatencyConfig,
    /// Keep the record of every committed transaction for the history
    /// checker (costs memory proportional to the run).
    pub record_history: bool,
    /// Keep each commit's writes until [`Store::drain_commits`] takes them,
    /// for incremental invariant checks.
    pub record_commits: bool,
    /// How long a lock wait lasts before the waiter checks for a deadlock
    /// (PostgreSQL's `deadlock_timeout`, 1 s by default): a deadlock stalls
    /// its transactions this long before one fails with 40P01. 0 checks at
    /// once.
    pub deadlock_timeout_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            faults: FaultConfig::default(),
            latency: LatencyConfig::default(),
            record_history: true,
            record_commits: false,
            deadlock_timeout_ms: 1000,
        }
    }
}

/// What a statement is, as shown to a [`Pacer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// Waiting for a pooled connection.
    Connect,
    /// A plain read.
    Get,
    /// SELECT ... FOR UPDATE.
    GetForUpdate,
    /// A range (predicate) read.
    Scan,
    /// INSERT.
    Insert,
    /// UPDATE.
    Update,
    /// Upsert.
    Put,
    /// DELETE.
    Delete,
    /// COMMIT.
    Commit,
}

impl Op {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Op::Connect => "connect",
            Op::Get => "get",
            Op::GetForUpdate => "get-for-update",
            Op::Scan => "scan",
            Op::Insert => "insert",
            Op::Update => "update",
            Op::Put => "put",
            Op::Delete => "delete",
            Op::Commit => "commit",
        }
    }
}

/// A pause before a statement: which transaction, which statement, on which
/// key, and the latency the store drew for it.
#[derive(Clone, Debug)]
pub struct PausePoint {
    /// The transaction.
    pub tx: TxId,
    /// The statement.
    pub op: Op,
    /// The key (or range start) the statement touches, if any.
    pub key: Option<Key>,
    /// For a scan, the end of its range (exclusive).
    pub range_end: Option<Key>,
    /// Simulated latency drawn for the statement.
    pub latency_ms: u64,
    /// Of `latency_ms`, an injected latency spike (`store.latency.spike_*`),
    /// or 0: the world excuses it from liveness as it does host stalls.
    pub spike_ms: u64,
}

/// How a transaction begins beyond its isolation level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxMode {
    /// `READ ONLY`: writes and locking reads fail with 25006.
    pub read_only: bool,
    /// `DEFERRABLE`: with SERIALIZABLE READ ONLY, the first statement
    /// waits for a safe snapshot, on which the transaction runs without
    /// SSI (it never fails with 40001); no effect otherwise, as in
    /// PostgreSQL.
    pub deferrable: bool,
}

/// A boxed future, `Send` so store futures can run on tokio's spawn.
pub type PauseFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A boxed future resolving to the index of the alternative taken at a
/// [`Store::choose`] point.
pub type ChoiceFuture = Pin<Box<dyn Future<Output = usize> + Send>>;

/// What happens at a pause point: simulated latency (world), a scheduling
/// choice (model checker), or nothing.
pub trait Pacer: Send + Sync {
    /// The future to await before the statement runs.
    fn pause(&self, point: &PausePoint) -> PauseFuture;

    /// Which of `alternatives` a client takes at a nondeterministic point of
    /// its own (a response lost or delivered). Only the model checker
    /// branches on it; every other pacer takes the first alternative, the
    /// one that happens when nothing goes wrong.
    fn choose(&self, alternatives: &'static [&'static str]) -> ChoiceFuture {
        let _ = alternatives;
        Box::pin(std::future::ready(0))
    }

    /// A future that completes `ms` of the pacer's time later: the store's
    /// own timers (`deadlock_timeout`) and, through the model checker's
    /// environment, the clients' sleeps. By default time does not pass: it
    /// completes at once.
    fn sleep(&self, ms: u64) -> PauseFuture {
        let _ = ms;
        Box::pin(std::future::ready(()))
    }

    /// A timeout the store itself waits on (`deadlock_timeout`): like
    /// [`Pacer::sleep`], except that the model checker never lets it pass
    /// by itself: it fires when nothing else can run, or when the search
    /// moves the clock.
    fn timeout(&self, ms: u64) -> PauseFuture {
        self.sleep(ms)
    }

    /// The pacer's time, in ms since the run began (0 where time does not
    /// pass).
    fn now_ms(&self) -> u64 {
        0
    }

    /// Of [`Pacer::now_ms`], the time that passed because nothing could run
    /// until a timer fired (the model checker's forced clock steps): the
    /// stalls a client would see, as opposed to delays a search chose.
    /// Where every wait is real (the world), all of it.
    fn stalled_ms(&self) -> u64 {
        self.now_ms()
    }
}

/// A pacer that never waits.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoPause;

impl Pacer for NoPause {
    fn pause(&self, _point: &PausePoint) -> PauseFuture {
        Box::pin(std::future::ready(()))
    }
}

/// A pacer that yields once at every pause point: each statement lets every
/// other runnable task go first, so round-robin polling interleaves
/// transactions statement by statement (tests, benchmarks).
#[derive(Clone, Copy, Debug, Default)]
pub struct YieldOnce;

impl Pacer for YieldOnce {
    fn pause(&self, _point: &PausePoint) -> PauseFuture {
        let mut yielded = false;
        Box::pin(std::future::poll_fn(move |cx| {
            if yielded {
                Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }))
    }
}

/// A layer's per-store value, with how a fork of the store copies it
/// (`None`: it cannot be forked).
struct Extension {
    value: Arc<dyn std::any::Any + Send + Sync>,
    fork: Option<ForkExtension>,
}

type ForkExtension = fn(&(dyn std::any::Any + Send + Sync)) -> Arc<dyn std::any::Any + Send + Sync>;

struct Shared {
    state: Mutex<State>,
    pacer: Mutex<Arc<dyn Pacer>>,
    /// State that layers over the store keep per store (the SQL catalog),
    /// one value per type. They must not hold the store itself, or the two
    /// would keep each other alive.
    extensions: Mutex<Vec<Extension>>,
    /// The run's seed, for layers that draw their own streams.
    seed: Seed,
}

/// What an open transaction has touched so far, as [`Store::tx_footprint`]
/// reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxFootprint {
    /// Its isolation level.
    pub isolation: Isolation,
    /// Whether it has taken its snapshot (Repeatable Read and Serializable
    /// take it at the first statement, so a commit before or after that
    /// statement changes what it sees).
    pub has_snapshot: bool,
    /// Whether an error failed it (its locks are already released).
    pub failed: bool,
    /// Row locks held, in key order.
    pub locked: Vec<Key>,
    /// Keys written and not yet committed, in key order.
    pub written: Vec<Key>,
    /// Its newest read, for traces.
    pub last_read: Option<ReadRecord>,
}

/// A handle to one simulated database. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// A new, empty store. Its faults draw from `seed`'s `"store"` stream.
    pub fn new(schema: Schema, config: StoreConfig, seed: Seed) -> Store {
        Store {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new(schema, config, seed.stream("store"))),
                pacer: Mutex::new(Arc::new(NoPause)),
                extensions: Mutex::new(Vec::new()),
                seed,
            }),
        }
    }

    /// This store's value of type `T`, made by `init` on first use. Layers
    /// over the store keep their per-database state here (the SQL layer its
    /// catalog), so every handle to one store sees the same state.
    pub fn extension<T: std::any::Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        self.extension_with(init, None)
    }

    /// [`Store::extension`] for a value that [`Store::fork`] copies with
    /// `fork` (the SQL catalog: a forked database has the same tables).
    pub(crate) fn forkable_extension<T: std::any::Any + Send + Sync>(
        &self,
        init: impl FnOnce() -> T,
        fork: ForkExtension,
    ) -> Arc<T> {
        self.extension_with(init, Some(fork))
    }

    fn extension_with<T: std::any::Any + Send + Sync>(
        &self,
        init: impl FnOnce() -> T,
        fork: Option<ForkExtension>,
    ) -> Arc<T> {
        let mut extensions = self
            .shared
            .extensions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(found) = extensions
            .iter()
            .find_map(|e| e.value.clone().downcast::<T>().ok())
        {
            return found;
        }
        let made = Arc::new(init());
        extensions.push(Extension {
            value: made.clone(),
            fork,
        });
        made
    }

    /// A copy of this database as it is now, which then goes its own way:
    /// the same committed data, counters, records and layers' state (the
    /// SQL catalog, sequences and prepared statements), with no pacer
    /// installed. Running the copy gives exactly what running this store
    /// would (same transaction ids, same fault draws), so a harness sets a
    /// database up once and forks it for every run instead of building it
    /// again (the model checker does, for every schedule).
    ///
    /// Only between transactions: an open transaction, a held lock or a
    /// waiter is an error, as is a layer's value made with
    /// [`Store::extension`] (which says nothing about how to copy it).
    pub fn fork(&self) -> Result<Store, String> {
        let state = self.state().fork()?;
        let extensions = self
            .shared
            .extensions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|extension| match extension.fork {
                Some(fork) => Ok(Extension {
                    value: fork(extension.value.as_ref()),
                    fork: Some(fork),
                }),
                None => {
                    Err("a store forks only when every layer over it can be copied".to_string())
                }
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Store {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                pacer: Mutex::new(Arc::new(NoPause)),
                extensions: Mutex::new(extensions),
                seed: self.shared.seed,
            }),
        })
    }

    /// The seed the store was made with (layers over it draw their own
    /// streams from it, such as the SQL layer's `gen_random_uuid()`).
    pub fn seed(&self) -> Seed {
        self.shared.seed
    }

    /// Sets what happens at every pause point.
    pub fn set_pacer(&self, pacer: Arc<dyn Pacer>) {
        *self.shared.pacer.lock().unwrap_or_else(|e| e.into_inner()) = pacer;
    }

    /// A nondeterministic choice among named `alternatives` (at least
    /// one), resolved by the installed [`Pacer`]: the model checker explores
    /// each of them as a separate branch; elsewhere the first one is taken.
    /// Client code uses it for what the network or the clock would decide,
    /// such as whether a response arrives.
    pub fn choose(&self, alternatives: &'static [&'static str]) -> ChoiceFuture {
        assert!(!alternatives.is_empty(), "a choice needs an alternative");
        let pacer = self
            .shared
            .pacer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        pacer.choose(alternatives)
    }

    /// The installed [`Pacer`]'s time.
    pub fn now_ms(&self) -> u64 {
        let pacer = self
            .shared
            .pacer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        pacer.now_ms()
    }

    /// The installed [`Pacer`]'s stalled time ([`Pacer::stalled_ms`]).
    pub fn stalled_ms(&self) -> u64 {
        self.pacer().stalled_ms()
    }

    fn pacer(&self) -> Arc<dyn Pacer> {
        self.shared
            .pacer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// A timer of `ms` on the installed [`Pacer`]'s clock.
    pub fn sleep_ms(&self, ms: u64) -> PauseFuture {
        let pacer = self
            .shared
            .pacer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        pacer.sleep(ms)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock is a harness bug; the state is
        // still the best record of what happened, so keep using it.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Loads a row into the initial state (as transaction 0). Only before
    /// any transaction begins.
    pub fn load(&self, key: Key, row: Row) {
        self.state().load(key, row);
    }

    /// Begins a transaction at `isolation`. Its snapshot is taken at its
    /// first statement, as in PostgreSQL.
    pub fn begin(&self, isolation: Isolation) -> Tx {
        self.begin_with(isolation, TxMode::default())
    }

    /// Begins a transaction at `isolation` in `mode` (`BEGIN ... READ
    /// ONLY`): a read-only transaction's writes fail with 25006, and at
    /// Serializable SSI exempts it from structures it cannot be part of.
    pub fn begin_with(&self, isolation: Isolation, mode: TxMode) -> Tx {
        let id = {
            let mut state = self.state();
            let id = state.begin(isolation, mode.read_only);
            if mode.deferrable && mode.read_only && isolation == Isolation::Serializable {
                state.defer_until_safe(id);
            }
            id
        };
        Tx {
            store: self.clone(),
            id,
            isolation,
            open: true,
            timeouts: Timeouts::default(),
            statement_started_ms: 0,
            sql_time_ms: None,
            relation_locks: Arc::default(),
            table_modes_held: Vec::new(),
            advisory_calls: Vec::new(),
            _connection: None,
        }
    }

    /// A new session (a connection's backend): the owner of session-level
    /// advisory locks, which outlive its transactions until
    /// [`Store::end_session`].
    pub fn new_session(&self) -> SessionId {
        SessionId(self.state().new_session())
    }

    /// Ends `session`: its session-level advisory locks are released, as
    /// when PostgreSQL's backend exits.
    pub fn end_session(&self, session: SessionId) {
        self.state().end_session(session.0);
    }

    /// Applies `event`, a commit of another store, to this store's
    /// committed state as one commit, outside any transaction: a store
    /// that follows another's commits (the invariants'
    /// `CommittedState` in the harness). Only between
    /// transactions: none may be open.
    pub fn apply_commit(&self, event: &CommitEvent) {
        self.state().apply_commit(event);
    }

    /// The newest committed row of `key` (outside any transaction).
    pub fn read_committed(&self, key: &Key) -> Option<Row> {
        self.state().latest_row(key).map(|row| (*row).clone())
    }

    /// The newest committed rows in `range` (outside any transaction).
    pub fn scan_committed(&self, range: &KeyRange) -> Vec<(Key, Row)> {
        self.state()
            .latest_range(range)
            .into_iter()
            .map(|(key, row)| (key, (*row).clone()))
            .collect()
    }

    /// The newest committed rows in `range`, shared rather than copied
    /// (outside any transaction).
    pub fn rows_committed(&self, range: &KeyRange) -> Vec<Arc<Row>> {
        self.state().latest_rows(range)
    }

    /// The record of committed transactions so far (empty when
    /// `record_history` is off).
    pub fn history(&self) -> Vec<CommittedTx> {
        self.state().history.clone()
    }

    /// The committed transactions recorded after the first `from` (for
    /// callers that follow the record as it grows).
    pub fn history_since(&self, from: usize) -> Vec<CommittedTx> {
        let state = self.state();
        state
            .history
            .get(from..)
            .map(<[CommittedTx]>::to_vec)
            .unwrap_or_default()
    }

    /// Takes the committed transactions recorded so far out of the store,
    /// so that a caller that follows the record (the world's incremental
    /// checker) keeps the store's memory bounded in long runs. Later
    /// calls to [`Store::history`] see only what was recorded after.
    pub fn take_history(&self) -> Vec<CommittedTx> {
        std::mem::take(&mut self.state().history)
    }

    /// The oldest first snapshot (a commit position) of a transaction that
    /// may still commit; see [`CommittedTx::first_snapshot`]. Every
    /// transaction that commits from now on saw at least the commits up to
    /// it.
    pub fn oldest_live_first_snapshot(&self) -> u64 {
        self.state().oldest_live_first_snapshot()
    }

    /// Takes the commits recorded since the last call (needs
    /// `record_commits`).
    pub fn drain_commits(&self) -> Vec<CommitEvent> {
        std::mem::take(&mut self.state().commit_log)
    }

    /// Counters of what the store did.
    pub fn stats(&self) -> StoreStats {
        self.state().stats
    }

    /// Transactions begun and not yet committed or rolled back.
    pub fn open_transactions(&self) -> usize {
        self.state().open_transactions()
    }

    /// The number of commits so far.
    pub fn commit_count(&self) -> u64 {
        self.state().commit_seq
    }

    /// The newest committed row of every key, in key order (for hashing a
    /// final state).
    pub fn scan_all_committed(&self) -> Vec<(Key, Row)> {
        self.state()
            .latest_all()
            .into_iter()
            .map(|(key, row)| (key, (*row).clone()))
            .collect()
    }

    /// [`Store::scan_all_committed`] with the rows shared rather than
    /// copied.
    pub fn latest_all_committed(&self) -> Vec<(Key, Arc<Row>)> {
        self.state().latest_all()
    }

    /// The store's configuration.
    pub fn config(&self) -> StoreConfig {
        self.state().config
    }

    /// Adds an exclusion constraint at run time (`CREATE TABLE ... EXCLUDE`
    /// in the SQL layer): rows of `table` with equal `group_column` must not
    /// have overlapping ranges in `range_column` (a [`Datum::Range`]).
    pub fn add_range_exclusion(
        &self,
        table: &str,
        group_column: &'static str,
        range_column: &'static str,
    ) {
        let mut state = self.state();
        let schema = std::mem::take(&mut state.schema);
        state.schema = schema.with_exclusion(table, group_column, range_column, range_column);
    }

    /// Whether `table` carries an exclusion constraint.
    pub fn has_exclusion(&self, table: &str) -> bool {
        self.state()
            .schema
            .exclusions
            .iter()
            .any(|e| e.table == table)
    }

    /// Every lock held or waited for and every open transaction, as they
    /// stand now: what `pg_locks` and `pg_stat_activity` show (see
    /// [`activity`]). A copy: it does not change as the store moves on.
    pub fn activity(&self) -> activity::Activity {
        self.state().activity()
    }

    /// The open transactions holding the row lock on `key`, with the
    /// strength each holds (several when the strengths are shared ones).
    pub fn lock_holders(&self, key: &Key) -> Vec<(TxId, RowLockMode)> {
        self.state().lock_holders(key)
    }

    /// Whether a transaction holds or waits for a lock on `table` in a
    /// mode that conflicts with `mode`.
    pub fn table_lock_contended(&self, table: &str, mode: TableLockMode) -> bool {
        self.state().table_locks.contended(table, mode, 0)
    }

    /// Whether a transaction other than `tx` holds or waits for the
    /// advisory lock `key` (so that `tx` taking it may wait).
    pub fn advisory_contended(&self, key: &Key, tx: TxId) -> bool {
        self.state().advisory.contended(key, tx)
    }

    /// Whether statement `op` of transaction `tx` on `key` (a scan: on
    /// `[key, range_end)`) would run *quietly* if it ran now: without
    /// waiting, failing, adding an SSI rw-antidependency or dooming anyone,
    /// so that its only effects are its own reads, writes, locks and SIREAD
    /// locks. Conservative: any version of the keys committed after the
    /// transaction's snapshot, any other transaction's uncommitted write or
    /// row lock on them, or (for writes) any other transaction's SIREAD lock
    /// on them makes it not quiet, as do a doomed or failed transaction and
    /// commits. The model checker lets quiet statements commute with others
    /// on different keys.
    pub fn statement_is_quiet(&self, tx: TxId, op: Op, key: &Key, range_end: Option<&Key>) -> bool {
        self.state().statement_is_quiet(tx, op, key, range_end)
    }

    /// What an open transaction has touched so far (`None` once it ended):
    /// the model checker decides from it which statements commute.
    pub fn tx_footprint(&self, tx: TxId) -> Option<TxFootprint> {
        let state = self.state();
        let open = state.txs.get(&tx)?;
        if open.status == engine::Status::Committed {
            return None;
        }
        Some(TxFootprint {
            isolation: open.isolation,
            has_snapshot: open.snapshot.is_some(),
            failed: open.status == engine::Status::Failed,
            locked: open
                .locks
                .iter()
                .chain(state.advisory.keys_of(tx))
                .cloned()
                .collect::<std::collections::BTreeSet<Key>>()
                .into_iter()
                .collect(),
            written: open.writes.keys().cloned().collect(),
            last_read: open.reads.last().cloned(),
        })
    }

    /// A statement's latency and, if it is an injected spike, that too.
    fn draw_latency_ms(&self) -> (u64, u64) {
        let mut state = self.state();
        let latency = state.config.latency;
        if latency.spike_probability > 0.0 && state.rng.chance(latency.spike_probability) {
            return (latency.spike_ms, latency.spike_ms);
        }
        let latency_ms = if latency.max_ms > latency.min_ms {
            state.rng.between(latency.min_ms, latency.max_ms)
        } else {
            latency.min_ms
        };
        (latency_ms, 0)
    }

    async fn pause(&self, tx: TxId, op: Op, key: Option<&Key>, range_end: Option<&Key>) {
        let (latency_ms, spike_ms) = self.draw_latency_ms();
        let pacer = self
            .shared
            .pacer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let point = PausePoint {
            tx,
            op,
            key: key.cloned(),
            range_end: range_end.cloned(),
            latency_ms,
            spike_ms,
        };
        pacer.pause(&point).await;
    }
}

/// An open transaction. Dropping it without [`Tx::commit`] rolls it back,
/// so a crashed server's transactions vanish like PostgreSQL's do when the
/// connection dies.
pub struct Tx {
    store: Store,
    id: TxId,
    isolation: Isolation,
    open: bool,
    /// The limits its statements' lock waits run under.
    timeouts: Timeouts,
    /// When the current statement started, on the pacer's clock (read only
    /// when a statement timeout is set: the model checker notes every read
    /// of its clock).
    statement_started_ms: u64,
    /// The transaction's time as SQL's `now()` reads it, once read.
    sql_time_ms: Option<u64>,
    /// The table locks the next statement takes before its snapshot (see
    /// [`Tx::sql_prelude`]).
    relation_locks: Arc<[(String, TableLockMode)]>,
    /// The table lock modes it is known to hold (as
    /// [`TableLockMode::bit`]s): every statement asks for its tables'
    /// locks, and a mode held needs no trip to the lock manager. Locks
    /// are held to the end of the transaction, except that a rollback to a
    /// savepoint gives back what came after it: that forgets them all.
    table_modes_held: Vec<(String, u16)>,
    /// The advisory locks the next statement takes after its snapshot.
    advisory_calls: Vec<AdvisoryCall>,
    _connection: Option<Connection>,
}

/// A session (a connection's backend), the owner of its session-level
/// advisory locks: see [`Store::new_session`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SessionId(TxId);

/// An advisory lock a statement's WHERE clause takes (`WHERE
/// pg_advisory_lock(k) IS NOT NULL`): the key, the mode, and whether it
/// is the session's (`pg_advisory_lock`) or the transaction's.
#[derive(Clone, Debug)]
pub(crate) struct AdvisoryCall {
    pub(crate) key: Key,
    pub(crate) mode: AdvisoryMode,
    pub(crate) session_level: bool,
}

/// PostgreSQL's `lock_timeout` and `statement_timeout`, in ms of the
/// pacer's clock (0: none, the default). A statement spends time in the
/// store only while it waits for a lock, so both limit lock waits: a
/// single wait longer than `lock_timeout_ms` fails with 55P03, a statement
/// whose waits add up to more than `statement_timeout_ms` with 57014.
/// They race `deadlock_timeout` as in PostgreSQL, whose wait loop runs the
/// deadlock check first and then takes the pending cancel: whichever
/// limit is reached first decides, and when one of these is reached at the
/// same moment as the deadlock check, it wins (a lock timeout also wins a
/// tie with the statement timeout).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// `lock_timeout`: the longest one lock wait may last.
    pub lock_timeout_ms: u64,
    /// `statement_timeout`: the longest a statement may run.
    pub statement_timeout_ms: u64,
    /// `deadlock_timeout`: how long a lock wait lasts before the waiter
    /// checks for a deadlock (`None`: the store's
    /// [`StoreConfig::deadlock_timeout_ms`]). PostgreSQL runs the check in
    /// the waiting backend, on its own setting, and aborts that backend:
    /// of the transactions in a cycle, the one whose timeout expires first
    /// fails with 40P01.
    pub deadlock_timeout_ms: Option<u64>,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tx({}, {})", self.id, self.isolation)
    }
}

impl Tx {
    /// The transaction's id.
    pub fn id(&self) -> TxId {
        self.id
    }

    /// The transaction's isolation level.
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// The database's clock now, in ms since the run began (PostgreSQL's
    /// `clock_timestamp()`, read in the transaction): the store's
    /// [`Pacer`] time. Decide what depends on time against it, not on an
    /// application server's clock, which the world's clock faults set off
    /// the database's.
    pub fn clock_ms(&self) -> u64 {
        self.store.now_ms()
    }

    /// The transaction's time (SQL's `now()`), if a statement read it.
    pub fn sql_time_ms(&self) -> Option<u64> {
        self.sql_time_ms
    }

    /// Fixes the transaction's time (SQL's `now()`) for its later
    /// statements.
    pub fn set_sql_time_ms(&mut self, ms: u64) {
        self.sql_time_ms.get_or_insert(ms);
    }

    async fn start(&mut self, op: Op, key: Option<&Key>) -> Result<(), DbError> {
        self.start_ranged(op, key, None).await
    }

    async fn start_ranged(
        &mut self,
        op: Op,
        key: Option<&Key>,
        range_end: Option<&Key>,
    ) -> Result<(), DbError> {
        assert!(self.open, "statement on a finished transaction");
        self.store.pause(self.id, op, key, range_end).await;
        if self.store.state().awaits_safe_snapshot(self.id) {
            self.safe_snapshot().await;
        }
        if self.timeouts.statement_timeout_ms > 0 {
            self.statement_started_ms = self.store.now_ms();
        }
        // PostgreSQL locks a statement's tables as it parses it, before
        // its snapshot: a statement that waited for a table lock sees
        // what the holder committed.
        let relations = std::mem::take(&mut self.relation_locks);
        if !relations.is_empty() {
            let active = {
                let mut state = self.store.state();
                let active = state.is_active(self.id);
                // But a query (not TRUNCATE, the one statement here taking
                // ACCESS EXCLUSIVE) asks for a snapshot before it parses: at
                // Repeatable Read and Serializable its transaction's snapshot
                // is fixed then, before a wait for a table lock (transcript
                // `first-statement-waiting-on-a-table-lock-keeps-its-earlier-snapshot`).
                if active
                    && !relations
                        .iter()
                        .any(|(_, mode)| *mode == TableLockMode::AccessExclusive)
                {
                    state.take_transaction_snapshot(self.id);
                }
                active
            };
            if active {
                self.lock_tables(&relations, false).await?;
            }
        }
        self.store.state().start_statement(self.id, true)?;
        // A WHERE clause's advisory lock calls run in the scan, after the
        // snapshot and before any row is locked.
        for call in std::mem::take(&mut self.advisory_calls) {
            self.sql_advisory_lock(&call.key, call.mode, true, call.session_level)
                .await?;
        }
        Ok(())
    }

    /// Starts a statement nested in the current one (a trigger's or a
    /// SQL function's, run through PostgreSQL's SPI): its table locks,
    /// then at Read Committed a new snapshot (a volatile function's
    /// statements each take one), then its WHERE clause's advisory locks.
    /// No pause point: the outer statement is the step. The result goes
    /// back to [`Tx::sql_end_nested`] when the statement ends.
    pub(crate) async fn sql_start_nested(
        &mut self,
        relations: Arc<[(String, TableLockMode)]>,
        advisory_calls: Vec<AdvisoryCall>,
    ) -> Result<engine::NestedView, DbError> {
        assert!(self.open, "statement on a finished transaction");
        self.lock_tables(&relations, false).await?;
        let view = self.store.state().start_nested_statement(self.id)?;
        for call in advisory_calls {
            if let Err(e) = self
                .sql_advisory_lock(&call.key, call.mode, true, call.session_level)
                .await
            {
                self.sql_end_nested(view);
                return Err(e);
            }
        }
        Ok(view)
    }

    /// Ends a nested statement: the outer statement reads on with its own
    /// snapshot.
    pub(crate) fn sql_end_nested(&mut self, view: engine::NestedView) {
        self.store.state().end_nested_statement(self.id, view);
    }

    /// Takes `mode` on each table in order, waiting for conflicting
    /// holders (each wait with its own deadlock check and lock timeout,
    /// as PostgreSQL arms them at every lock sleep), or with `nowait`
    /// failing with 55P03 instead.
    async fn lock_tables(
        &mut self,
        tables: &[(String, TableLockMode)],
        nowait: bool,
    ) -> Result<(), DbError> {
        for (table, mode) in tables {
            // A mode this transaction holds needs no trip to the store
            // (the common case of a statement on a table it used before).
            if self.holds_table_mode(table, *mode) {
                continue;
            }
            self.lock_table(table, *mode, nowait).await?;
        }
        Ok(())
    }

    /// Whether this transaction holds `mode` on `table` already.
    fn holds_table_mode(&self, table: &str, mode: TableLockMode) -> bool {
        self.table_modes_held
            .iter()
            .any(|(t, bits)| bits & mode.bit() != 0 && t == table)
    }

    /// Takes `mode` on `table` (see `lock_tables`).
    async fn lock_table(
        &mut self,
        table: &str,
        mode: TableLockMode,
        nowait: bool,
    ) -> Result<(), DbError> {
        let held = self.table_modes_held.iter().position(|(t, _)| t == table);
        if held.is_some_and(|i| self.table_modes_held[i].1 & mode.bit() != 0) {
            return Ok(());
        }
        // Most requests are granted at once (no conflict): then no wait is
        // set up. One that must wait is queued by this first try; the
        // wait's first poll finds it queued and waits for the same
        // blockers.
        let first = self
            .store
            .state()
            .table_lock(self.id, table, mode, nowait)?;
        if !matches!(first, LockAttempt::Done(())) {
            let mut wait = self.lock_wait();
            std::future::poll_fn(|cx: &mut Context<'_>| {
                wait.poll(cx, |state, id| state.table_lock(id, table, mode, nowait))
            })
            .await?;
        }
        match held {
            Some(i) => self.table_modes_held[i].1 |= mode.bit(),
            None => self.table_modes_held.push((table.to_string(), mode.bit())),
        }
        Ok(())
    }

    /// A DEFERRABLE transaction's wait for a safe snapshot, at its first
    /// statement. Not a lock wait: the transaction holds nothing yet, so it
    /// is in no deadlock, and `lock_timeout` does not limit it.
    async fn safe_snapshot(&mut self) {
        let store = self.store.clone();
        let id = self.id;
        std::future::poll_fn(move |cx: &mut Context<'_>| {
            let mut state = store.state();
            match state.safe_snapshot(id) {
                LockAttempt::Done(()) => Poll::Ready(()),
                LockAttempt::WaitFor(_) => {
                    state.park_for_safe_snapshot(id, cx.waker());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Sets the limits of the lock waits of this transaction's next
    /// statements.
    pub fn set_timeouts(&mut self, timeouts: Timeouts) {
        if timeouts.deadlock_timeout_ms != self.timeouts.deadlock_timeout_ms {
            self.store
                .state()
                .set_deadlock_timeout(self.id, timeouts.deadlock_timeout_ms);
        }
        self.timeouts = timeouts;
    }

    /// Whether a savepoint is open (PostgreSQL: in a subtransaction).
    pub(crate) fn in_savepoint(&self) -> bool {
        self.store.state().in_savepoint(self.id)
    }

    /// `SET TRANSACTION`: the transaction's isolation level and modes,
    /// before its first statement (the caller checks, as PostgreSQL
    /// refuses a change after it with 25001).
    pub(crate) fn set_mode(&mut self, isolation: Isolation, mode: TxMode) {
        self.store.state().set_mode(self.id, isolation, mode);
        self.isolation = isolation;
    }

    /// A lock wait of the current statement, under its limits.
    fn lock_wait(&self) -> LockWait {
        let statement_left_ms = (self.timeouts.statement_timeout_ms > 0).then(|| {
            let spent_ms = self
                .store
                .now_ms()
                .saturating_sub(self.statement_started_ms);
            self.timeouts.statement_timeout_ms.saturating_sub(spent_ms)
        });
        LockWait::new(
            self.store.clone(),
            self.id,
            self.timeouts.lock_timeout_ms,
            statement_left_ms,
        )
    }

    /// `SELECT * WHERE key = $1`: the row as of this statement's snapshot.
    pub async fn get(&mut self, key: &Key) -> Result<Option<Row>, DbError> {
        self.start(Op::Get, Some(key)).await?;
        self.store.state().get(self.id, key)
    }

    /// `SELECT ... FOR UPDATE`: locks the row, waiting for a concurrent
    /// writer. Read Committed then returns the newest committed row;
    /// Repeatable Read and Serializable fail with 40001 when it changed
    /// since their snapshot.
    pub async fn get_for_update(&mut self, key: &Key) -> Result<Option<Row>, DbError> {
        self.start(Op::GetForUpdate, Some(key)).await?;
        self.write_statement(key, WriteKind::Lock(RowLockMode::Update), None)
            .await
    }

    /// A predicate read of every row in `range`, in key order.
    pub async fn scan(&mut self, range: &KeyRange) -> Result<Vec<(Key, Row)>, DbError> {
        self.start_ranged(Op::Scan, Some(&range.start), Some(&range.end))
            .await?;
        self.store.state().scan(self.id, range)
    }

    /// `INSERT`: fails with 23505 when a live row with this key exists
    /// (waiting first for an uncommitted writer of the key, like PostgreSQL).
    pub async fn insert(&mut self, key: &Key, row: Row) -> Result<(), DbError> {
        self.start(Op::Insert, Some(key)).await?;
        self.write_statement(key, WriteKind::Insert, Some(row))
            .await
            .map(|_| ())
    }

    /// `UPDATE ... WHERE key = $1`: replaces the row; returns false (and
    /// changes nothing) when there is no row.
    pub async fn update(&mut self, key: &Key, row: Row) -> Result<bool, DbError> {
        self.start(Op::Update, Some(key)).await?;
        self.write_statement(key, WriteKind::Update, Some(row))
            .await
            .map(|before| before.is_some())
    }

    /// `INSERT ... ON CONFLICT DO UPDATE`: writes the row whether or not one
    /// exists; returns the row it replaced.
    pub async fn put(&mut self, key: &Key, row: Row) -> Result<Option<Row>, DbError> {
        self.start(Op::Put, Some(key)).await?;
        self.write_statement(key, WriteKind::Upsert, Some(row))
            .await
    }

    /// `DELETE ... WHERE key = $1`: returns whether a row was deleted.
    pub async fn delete(&mut self, key: &Key) -> Result<bool, DbError> {
        self.start(Op::Delete, Some(key)).await?;
        self.write_statement(key, WriteKind::Delete, None)
            .await
            .map(|before| before.is_some())
    }

    /// Commits; returns the commit sequence number. On error the
    /// transaction is rolled back.
    pub async fn commit(mut self) -> Result<u64, DbError> {
        assert!(self.open, "commit on a finished transaction");
        self.store.pause(self.id, Op::Commit, None, None).await;
        let result = self.store.state().commit(self.id);
        self.open = false;
        result
    }

    /// Rolls back.
    pub fn rollback(mut self) {
        self.finish_rollback();
    }

    fn finish_rollback(&mut self) {
        if self.open {
            self.open = false;
            self.store.state().rollback(self.id);
        }
    }

    /// Runs a write statement, parking the task while the row (or an
    /// overlapping interval) is held by another transaction.
    async fn write_statement(
        &mut self,
        key: &Key,
        kind: WriteKind,
        row: Option<Row>,
    ) -> Result<Option<Row>, DbError> {
        let mut wait = self.lock_wait();
        std::future::poll_fn(move |cx: &mut Context<'_>| {
            wait.poll(cx, |state, id| state.write(id, key, kind, row.clone()))
        })
        .await
    }
}

/// Statement-level access for the SQL layer (`crate::sql`): one SQL
/// statement is one pause point and one snapshot, however many keys it
/// reads and writes. `sql_start` begins the statement; the other calls act
/// within it without pausing again (a lock wait still parks the task).
impl Tx {
    /// Begins one SQL statement: pauses once (`op`, and `key`/`range_end`
    /// when the statement touches exactly that, else none so the model
    /// checker treats it as touching everything), draws injected faults and
    /// takes the statement's snapshot.
    pub(crate) async fn sql_start(
        &mut self,
        op: Op,
        key: Option<&Key>,
        range_end: Option<&Key>,
    ) -> Result<(), DbError> {
        self.start_ranged(op, key, range_end).await
    }

    /// A read of one key within the current statement.
    pub(crate) fn sql_get(&mut self, key: &Key) -> Result<Option<Row>, DbError> {
        self.store.state().get(self.id, key)
    }

    /// A predicate read of a range within the current statement.
    pub(crate) fn sql_scan(&mut self, range: &KeyRange) -> Result<Vec<(Key, Row)>, DbError> {
        self.store.state().scan(self.id, range)
    }

    /// A non-HOT UPDATE's conflict-in checks on the pages of the table's
    /// indexes (`pages`: see [`index_page`] and the secondary indexes'
    /// prefixes), which PostgreSQL makes as it inserts the new row version
    /// into every index.
    pub(crate) fn sql_index_pages_written(&mut self, pages: &[Key]) -> Result<(), DbError> {
        self.store.state().index_pages_written(self.id, pages)
    }

    /// Until the current statement ends, its reads see this transaction's
    /// own writes as they are now (see `State::freeze_own_writes`).
    pub(crate) fn sql_freeze_own_writes(&mut self) {
        self.store.state().freeze_own_writes(self.id);
    }

    /// A handle that reads within the current statement as this
    /// transaction (snapshot, own writes, SSI predicate locks), for
    /// subqueries evaluated inside an expression, where the transaction
    /// itself is borrowed by the statement.
    pub(crate) fn sql_reader(&self) -> SqlReader {
        SqlReader {
            store: self.store.clone(),
            id: self.id,
        }
    }

    /// A write (or row lock) within the current statement; waits for the
    /// row's holder like the key-value calls.
    pub(crate) async fn sql_write(
        &mut self,
        key: &Key,
        kind: WriteKind,
        row: Option<Row>,
    ) -> Result<Option<Row>, DbError> {
        self.write_statement(key, kind, row).await
    }

    /// A foreign-key check's `FOR KEY SHARE` lock of `key`. At Read
    /// Committed the RI query runs on a snapshot of its own, taken when the
    /// trigger fires, so it finds the newest committed version rather than
    /// the one the statement's snapshot shows (transcript
    /// `no-action-after-waiting-finds-a-row-updated-to-refer`).
    pub(crate) async fn sql_ri_key_share(&mut self, key: &Key) -> Result<Option<Row>, DbError> {
        if let Some(tx) = self.store.state().txs.get_mut(&self.id) {
            tx.ri_query = true;
        }
        let locked = self
            .write_statement(key, WriteKind::Lock(RowLockMode::KeyShare), None)
            .await;
        if let Some(tx) = self.store.state().txs.get_mut(&self.id) {
            tx.ri_query = false;
        }
        locked
    }

    /// `pg_advisory_xact_lock` and its variants within the current
    /// statement: takes the advisory lock `key` in `mode`, waiting for its
    /// holders (`wait`), or reports that it is taken (`pg_try_...`).
    pub(crate) async fn sql_advisory_lock(
        &mut self,
        key: &Key,
        mode: AdvisoryMode,
        wait: bool,
        session_level: bool,
    ) -> Result<bool, DbError> {
        let mut lock_wait = self.lock_wait();
        std::future::poll_fn(move |cx: &mut Context<'_>| {
            lock_wait.poll(cx, |state, id| {
                state.advisory_lock(id, key, mode, wait, session_level)
            })
        })
        .await
    }

    /// An exclusive transaction-level advisory lock on `key`, for a
    /// handler on the key-value API: one statement (a pause point, so a
    /// scheduling point of the model checker) that holds the lock until
    /// the transaction ends, waiting for its holders, with deadlock
    /// detection. The lock lives in the same table as SQL's
    /// `pg_advisory_xact_lock`, whose key the SQL layer derives from its
    /// arguments: the key names the lock, and only the same key conflicts.
    pub async fn advisory_xact_lock(&mut self, key: &Key) -> Result<(), DbError> {
        self.sql_start(Op::GetForUpdate, Some(key), None).await?;
        self.sql_advisory_lock(key, AdvisoryMode::Exclusive, true, false)
            .await
            .map(|_| ())
    }

    /// `TRUNCATE` of the keys in `range` (already deleted in this
    /// transaction): at commit no snapshot sees their older versions.
    pub(crate) fn sql_truncated(&mut self, range: KeyRange) {
        self.store.state().truncated(self.id, range);
    }

    /// `pg_advisory_unlock[_shared]`: drops one of the session's
    /// acquisitions of `key` in `mode`; false when it holds none (or the
    /// transaction has no session).
    pub(crate) fn sql_advisory_unlock(&mut self, key: &Key, mode: AdvisoryMode) -> bool {
        let mut state = self.store.state();
        match state.tx_session.get(&self.id).copied() {
            Some(session) => state.advisory_unlock(session, key, mode),
            None => false,
        }
    }

    /// `pg_advisory_unlock_all()`: drops every session-level advisory lock
    /// of the transaction's session.
    pub(crate) fn sql_advisory_unlock_all(&mut self) {
        let mut state = self.store.state();
        if let Some(session) = state.tx_session.get(&self.id).copied() {
            state.advisory_unlock_all(session);
        }
    }

    /// Runs this transaction in `session` (whose session-level advisory
    /// locks it shares, and whose waiters wait for it).
    pub(crate) fn join_session(&mut self, session: SessionId) {
        self.store.state().join_session(self.id, session.0);
    }

    /// What the next statement does around its snapshot: the table locks
    /// it takes before (PostgreSQL locks a statement's tables as it
    /// parses it) and the advisory locks its WHERE clause takes after.
    pub(crate) fn sql_prelude(
        &mut self,
        relation_locks: Arc<[(String, TableLockMode)]>,
        advisory_calls: Vec<AdvisoryCall>,
    ) {
        self.relation_locks = relation_locks;
        self.advisory_calls = advisory_calls;
    }

    /// `LOCK TABLE`: one statement (a pause point) that takes `mode` on
    /// each table in order, to the end of the transaction.
    pub(crate) async fn sql_lock_tables(
        &mut self,
        tables: &[(String, TableLockMode)],
        nowait: bool,
    ) -> Result<(), DbError> {
        // No snapshot: `BEGIN ISOLATION LEVEL REPEATABLE READ; LOCK TABLE
        // t; SELECT ...` reads as of after the lock, as in PostgreSQL.
        assert!(self.open, "statement on a finished transaction");
        self.store
            .pause(self.id, Op::GetForUpdate, None, None)
            .await;
        if self.timeouts.statement_timeout_ms > 0 {
            self.statement_started_ms = self.store.now_ms();
        }
        self.lock_tables(tables, nowait).await
    }

    /// A table lock taken in the middle of a statement, as a foreign-key
    /// trigger's query takes one when it runs: `mode` on `table`, waiting
    /// for conflicting holders (no pause point and no new snapshot: the
    /// statement is already under way).
    pub(crate) async fn sql_lock_table_in_statement(
        &mut self,
        table: &str,
        mode: TableLockMode,
    ) -> Result<(), DbError> {
        self.lock_table(table, mode, false).await
    }

    /// `ON CONFLICT`'s check of `key`: waits for an uncommitted writer of
    /// it, then returns its live row without locking it.
    pub(crate) async fn sql_probe(&mut self, key: &Key) -> Result<Option<Row>, DbError> {
        let mut wait = self.lock_wait();
        std::future::poll_fn(move |cx: &mut Context<'_>| {
            wait.poll(cx, |state, id| state.probe(id, key))
        })
        .await
    }

    /// Records that this transaction's UPDATE moved the row at `from` to
    /// `to`, so that a Read Committed writer waiting on `from` follows it
    /// (`across`: to another partition, where PostgreSQL's waiter fails
    /// instead).
    pub(crate) fn sql_record_move(&self, from: &Key, to: &Key, across: bool) {
        self.store.state().record_move(self.id, from, to, across);
    }

    /// Where a concurrent, committed UPDATE moved the row at `key`, and
    /// whether to another partition.
    pub(crate) fn sql_moved_to(&self, key: &Key) -> Option<(Key, bool)> {
        self.store.state().moved_to(self.id, key)
    }

    /// Waits while another transaction has an uncommitted write of `key`
    /// (a unique check that found a conflicting entry whose row is being
    /// updated or deleted).
    pub(crate) async fn sql_wait_for_writer(&mut self, key: &Key) -> Result<(), DbError> {
        let mut wait = self.lock_wait();
        std::future::poll_fn(move |cx: &mut Context<'_>| {
            wait.poll(cx, |state, id| state.wait_for_writer(id, key))
        })
        .await
    }

    /// The newest committed row at `key`, read without a lock or a record
    /// (to find which row a conflicting index entry belongs to).
    pub(crate) fn sql_latest_row(&self, key: &Key) -> Option<Row> {
        self.store.state().latest_row(key).map(|row| (*row).clone())
    }

    /// Whether another transaction holds the row lock on `key` in a
    /// strength that conflicts with `mode` (NOWAIT, SKIP LOCKED).
    pub(crate) fn sql_lock_conflicts(&self, key: &Key, mode: RowLockMode) -> bool {
        self.store.state().lock_conflicts(self.id, key, mode)
    }

    /// Whether another transaction committed a version of `key` after
    /// this statement's snapshot: a row locked at Read Committed is then a
    /// newer version than the one the statement found, and PostgreSQL's
    /// EvalPlanQual projects it again even when its values are the same.
    pub(crate) fn sql_changed_since_snapshot(&self, key: &Key) -> bool {
        let state = self.store.state();
        let Some(snapshot) = state.txs.get(&self.id).and_then(|tx| tx.snapshot) else {
            return false;
        };
        state.newest_seq(key).is_some_and(|seq| seq > snapshot)
    }

    /// Whether this transaction wrote the version of `key` it sees (its
    /// own insert or update of the row, not yet committed).
    pub(crate) fn sql_wrote(&self, key: &Key) -> bool {
        self.store
            .state()
            .txs
            .get(&self.id)
            .is_some_and(|tx| matches!(tx.writes.get(key), Some(Some(_))))
    }

    /// Live rows in `range` as of the newest commit plus this
    /// transaction's own writes.
    pub(crate) fn sql_latest_range(&self, range: &KeyRange) -> Vec<(Key, Row)> {
        self.store.state().latest_range_for(self.id, range)
    }

    /// `SAVEPOINT name`.
    pub(crate) fn sql_savepoint(&mut self, name: &str) -> Result<(), DbError> {
        self.store.state().savepoint(self.id, name)
    }

    /// `RELEASE SAVEPOINT name`.
    pub(crate) fn sql_release_savepoint(&mut self, name: &str) -> Result<(), DbError> {
        self.store.state().release_savepoint(self.id, name)
    }

    /// `ROLLBACK TO SAVEPOINT name`: undoes what came after it and revives
    /// a failed transaction.
    pub(crate) fn sql_rollback_to_savepoint(&mut self, name: &str) -> Result<(), DbError> {
        self.table_modes_held.clear();
        self.store.state().rollback_to_savepoint(self.id, name)
    }

    /// Fails the transaction with `err` (an error the SQL layer raised):
    /// its locks go and later statements get 25P02, as in PostgreSQL.
    pub(crate) fn sql_fail(&mut self, err: DbError) -> DbError {
        if self.open {
            self.store.state().fail(self.id, err)
        } else {
            err
        }
    }
}

/// Reads of one transaction's current statement, without the transaction
/// handle (see [`Tx::sql_reader`]): the same records and SSI locks as
/// [`Tx::sql_get`] and [`Tx::sql_scan`].
#[derive(Clone)]
pub(crate) struct SqlReader {
    store: Store,
    id: TxId,
}

impl SqlReader {
    /// A read of one key within the current statement.
    pub(crate) fn get(&self, key: &Key) -> Result<Option<Row>, DbError> {
        self.store.state().get(self.id, key)
    }

    /// A predicate read of a range within the current statement.
    pub(crate) fn scan(&self, range: &KeyRange) -> Result<Vec<(Key, Row)>, DbError> {
        self.store.state().scan(self.id, range)
    }

    /// A scan of `range` through `table`'s exclusion index (see
    /// `State::scan_through_page`).
    pub(crate) fn scan_through_page(
        &self,
        range: &KeyRange,
        table: &str,
        matches: &dyn Fn(&Row) -> bool,
    ) -> Result<Vec<(Key, Row)>, DbError> {
        self.store
            .state()
            .scan_through_page(self.id, range, (table, EXCLUSION_PAGE), matches)
    }

    /// The SIREAD lock a Serializable read through `table`'s index `index`
    /// ([`PK_PAGE`], [`EXCLUSION_PAGE`]) takes on the index's page (see
    /// [`index_page`]).
    pub(crate) fn index_page_read(&self, table: &str, index: &str) {
        self.store.state().siread_index_page(self.id, table, index);
    }
}

/// One statement's lock wait, with PostgreSQL's deadlock check: a waiter
/// sleeps `deadlock_timeout` (on the pacer's clock) before it looks for a
/// cycle through itself in the wait-for graph, once per statement, and
/// fails with 40P01 if it finds one; with a timeout of 0 the check runs as
/// the wait begins. `lock_timeout` and `statement_timeout` are further
/// deadlines on the same clock (see [`Timeouts`]); one timer runs at a
/// time, for the nearest deadline not yet passed. A statement that goes on to wait for
/// another transaction (an exclusion check that finds a second
/// conflicting entry once the first one's transaction ended) starts a new
/// wait with its own deadlock check and lock timeout, as PostgreSQL arms
/// them at every lock sleep.
struct LockWait {
    store: Store,
    id: TxId,
    timer: Option<PauseFuture>,
    /// How long into the wait the running timer ends.
    timer_at_ms: u64,
    /// How long the wait has lasted, as far as fired timers tell.
    waited_ms: u64,
    checked: bool,
    /// 0: no lock timeout.
    lock_timeout_ms: u64,
    /// What is left of the statement's timeout, if it has one.
    statement_left_ms: Option<u64>,
    /// The transaction waited for.
    holder: Option<TxId>,
}

impl LockWait {
    fn new(
        store: Store,
        id: TxId,
        lock_timeout_ms: u64,
        statement_left_ms: Option<u64>,
    ) -> LockWait {
        LockWait {
            store,
            id,
            timer: None,
            timer_at_ms: 0,
            waited_ms: 0,
            checked: false,
            lock_timeout_ms,
            statement_left_ms,
            holder: None,
        }
    }

    /// Tries the statement (`attempt`), parks the task while it waits, and
    /// acts on each deadline as the wait reaches it.
    fn poll<T>(
        &mut self,
        cx: &mut Context<'_>,
        mut attempt: impl FnMut(&mut State, TxId) -> Result<LockAttempt<T>, DbError>,
    ) -> Poll<Result<T, DbError>> {
        if let Some(timer) = self.timer.as_mut() {
            if timer.as_mut().poll(cx).is_ready() {
                self.timer = None;
                self.waited_ms = self.timer_at_ms;
                if let Err(err) = self.reach_deadlines() {
                    return Poll::Ready(Err(err));
                }
            }
        }
        let mut state = self.store.state();
        let holder = match attempt(&mut state, self.id) {
            Err(err) => return Poll::Ready(Err(err)),
            Ok(LockAttempt::Done(value)) => return Poll::Ready(Ok(value)),
            Ok(LockAttempt::WaitFor(holder)) => holder,
        };
        state.park(self.id, holder, cx.waker());
        let deadlock_timeout_ms = state.deadlock_timeout_ms(self.id);
        drop(state);
        if self
            .holder
            .replace(holder)
            .is_some_and(|before| before != holder)
        {
            // A new wait: what the statement waited so far counts against
            // its statement timeout only.
            self.timer = None;
            self.checked = false;
            if let Some(left_ms) = self.statement_left_ms.as_mut() {
                *left_ms = left_ms.saturating_sub(self.waited_ms);
            }
            self.waited_ms = 0;
        }
        while self.timer.is_none() {
            let Some(at_ms) = self.next_deadline_ms(deadlock_timeout_ms) else {
                break;
            };
            // A deadline already reached (a statement timeout used up by
            // earlier waits) needs no timer.
            let mut timer = (at_ms > self.waited_ms)
                .then(|| self.store.pacer().timeout(at_ms - self.waited_ms));
            if timer
                .as_mut()
                .is_none_or(|t| t.as_mut().poll(cx).is_ready())
            {
                self.waited_ms = at_ms;
                if let Err(err) = self.reach_deadlines() {
                    return Poll::Ready(Err(err));
                }
            } else {
                self.timer = timer;
                self.timer_at_ms = at_ms;
            }
        }
        Poll::Pending
    }

    /// The nearest deadline (ms into the wait) still ahead: the deadlock
    /// check's (unless done or run at once), the lock timeout's and the
    /// statement timeout's.
    fn next_deadline_ms(&self, deadlock_timeout_ms: u64) -> Option<u64> {
        let deadlock = (deadlock_timeout_ms > 0 && !self.checked).then_some(deadlock_timeout_ms);
        let lock = (self.lock_timeout_ms > 0).then_some(self.lock_timeout_ms);
        [deadlock, lock, self.statement_left_ms]
            .into_iter()
            .flatten()
            .filter(|&at_ms| at_ms >= self.waited_ms)
            .min()
    }

    /// Acts on every deadline the wait has reached: a lock or statement
    /// timeout fails the transaction (before the deadlock check, as
    /// PostgreSQL takes a pending cancel right after its check), otherwise
    /// the deadlock check runs.
    fn reach_deadlines(&mut self) -> Result<(), DbError> {
        if self.lock_timeout_ms > 0 && self.waited_ms >= self.lock_timeout_ms {
            return Err(self.cancel(
                "canceling statement due to lock timeout",
                SqlState::LockNotAvailable,
            ));
        }
        if self
            .statement_left_ms
            .is_some_and(|left_ms| self.waited_ms >= left_ms)
        {
            return Err(self.cancel(
                "canceling statement due to statement timeout",
                SqlState::Other("57014"),
            ));
        }
        let deadlock_timeout_ms = self.store.state().deadlock_timeout_ms(self.id);
        if !self.checked && deadlock_timeout_ms > 0 && self.waited_ms >= deadlock_timeout_ms {
            self.checked = true;
            self.store.state().deadlock_check(self.id)?;
        }
        Ok(())
    }

    fn cancel(&mut self, message: &str, code: SqlState) -> DbError {
        self.timer = None;
        self.store
            .state()
            .fail(self.id, DbError::new(code, message))
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        self.finish_rollback();
    }
}

struct PoolState {
    size: usize,
    in_use: usize,
    max_waiting: usize,
    waiting: VecDeque<(u64, Waker)>,
    next_ticket: u64,
    /// Tickets granted a slot but not yet polled.
    granted: Vec<u64>,
    /// The backends of the connections not in use, the latest returned
    /// last (handed out first, as node-postgres reuses its idle clients).
    idle_sessions: Vec<SessionId>,
}

/// A connection pool of a fixed size in front of a store, like
/// node-postgres's `Pool` or a PgBouncer: transactions wait for a free
/// connection, first come first served.
#[derive(Clone)]
pub struct Pool {
    store: Store,
    state: Arc<Mutex<PoolState>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

/// A held pool connection; returned to the pool on drop. Its backend
/// ([`Connection::session`]) goes back with it, with its session-level
/// advisory locks, as a real pool keeps its server connections open.
pub struct Connection {
    pool: Arc<Mutex<PoolState>>,
    session: Option<SessionId>,
}

impl Connection {
    /// The backend behind this connection: an idle one of the pool's, or
    /// a new one of `store`'s.
    pub fn session(&mut self, store: &Store) -> SessionId {
        let pool = &self.pool;
        *self.session.get_or_insert_with(|| {
            let idle = pool
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .idle_sessions
                .pop();
            idle.unwrap_or_else(|| store.new_session())
        })
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        pool.in_use -= 1;
        if let Some(session) = self.session.take() {
            pool.idle_sessions.push(session);
        }
        if let Some((ticket, waker)) = pool.waiting.pop_front() {
            pool.in_use += 1;
            pool.granted.push(ticket);
            waker.wake();
        }
    }
}

impl Pool {
    /// A pool of `size` connections that lets at most `max_waiting`
    /// requests queue (more get 53300).
    pub fn new(store: Store, size: usize, max_waiting: usize) -> Pool {
        assert!(size > 0, "a pool needs at least one connection");
        Pool {
            store,
            state: Arc::new(Mutex::new(PoolState {
                size,
                in_use: 0,
                max_waiting,
                waiting: VecDeque::new(),
                next_ticket: 0,
                granted: Vec::new(),
                idle_sessions: Vec::new(),
            })),
        }
    }

    /// The store behind the pool.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Connections in use now.
    pub fn in_use(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).in_use
    }

    /// Waits for a connection and holds it until the returned value is
    /// dropped (for a session that runs several transactions on it, as a
    /// SQL session does).
    pub async fn connect(&self) -> Result<Connection, DbError> {
        self.acquire().await
    }

    /// Waits for a connection, then begins a transaction on it.
    pub async fn begin(&self, isolation: Isolation) -> Result<Tx, DbError> {
        let connection = self.acquire().await?;
        let mut tx = self.store.begin(isolation);
        tx._connection = Some(connection);
        Ok(tx)
    }

    fn acquire(&self) -> Acquire {
        Acquire {
            pool: self.state.clone(),
            ticket: None,
            done: false,
        }
    }
}

/// Waiting for a pool slot. Dropped while queued (the request timed out or
/// its server crashed), it leaves the queue, and a slot granted to it but
/// never taken goes to the next in line, so no slot leaks.
struct Acquire {
    pool: Arc<Mutex<PoolState>>,
    ticket: Option<u64>,
    done: bool,
}

impl Future for Acquire {
    type Output = Result<Connection, DbError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut pool = this.pool.lock().unwrap_or_else(|e| e.into_inner());
        let granted = match this.ticket {
            Some(mine) => {
                if let Some(index) = pool.granted.iter().position(|&t| t == mine) {
                    pool.granted.swap_remove(index);
                    true
                } else {
                    if let Some(entry) = pool.waiting.iter_mut().find(|(t, _)| *t == mine) {
                        entry.1 = cx.waker().clone();
                    }
                    false
                }
            }
            None if pool.in_use < pool.size && pool.waiting.is_empty() => {
                pool.in_use += 1;
                true
            }
            None if pool.waiting.len() >= pool.max_waiting => {
                this.done = true;
                return Poll::Ready(Err(DbError::new(
                    SqlState::TooManyConnections,
                    format!(
                        "sorry, too many clients already ({} connections busy, {} waiting)",
                        pool.in_use,
                        pool.waiting.len()
                    ),
                )));
            }
            None => {
                let mine = pool.next_ticket;
                pool.next_ticket += 1;
                pool.waiting.push_back((mine, cx.waker().clone()));
                this.ticket = Some(mine);
                false
            }
        };
        if !granted {
            return Poll::Pending;
        }
        this.done = true;
        drop(pool);
        Poll::Ready(Ok(Connection {
            pool: this.pool.clone(),
            session: None,
        }))
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let Some(ticket) = self.ticket else { return };
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        pool.waiting.retain(|(t, _)| *t != ticket);
        if let Some(index) = pool.granted.iter().position(|&t| t == ticket) {
            pool.granted.swap_remove(index);
            pool.in_use -= 1;
            if let Some((next, waker)) = pool.waiting.pop_front() {
                pool.in_use += 1;
                pool.granted.push(next);
                waker.wake();
            }
        }
    }
}

/// Runs a future to completion on the current thread, for store futures
/// that never wait on anything but the store itself (tests, examples, the
/// anomaly suite). Panics if the future stays pending with nothing able to
/// wake it, which means a lock wait no other task can end.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("block_on: the future waits for another transaction"),
    }
}

#[cfg(test)]
mod tests;
