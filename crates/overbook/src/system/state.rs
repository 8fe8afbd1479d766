//! The committed state as of one commit, for invariants over the whole
//! state: a copy of the run's database that the harness brings up to each
//! commit, so that a checker can read it (key by key, by range, or in
//! SQL) without keeping a mirror of its own and without touching the run.

use super::{System, Variant};
use crate::sql::{Rows, Session, SqlDb, SqlSession, Value};
use crate::store::{
    block_on, CommitEvent, DbError, Key, KeyRange, Pacer, PauseFuture, PausePoint, Row, Schema,
    Store, StoreConfig,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The committed state of a run's database as of one commit, for
/// invariants over the whole state ([`Invariants::on_state`]): "no night
/// oversold" as one query, with no mirror of committed rows to keep.
///
/// It is a copy. The harness (the world, the model checker, `confirm`)
/// sets up a store of its own with the system's schema and the data set,
/// and applies every commit's writes to it in commit order, outside any
/// transaction. Reading it therefore takes no lock and no SSI SIREAD lock
/// on the run's database, records nothing in the history checker or the
/// trace, draws from none of the run's random streams, and cannot change
/// what the run does: the trace hash is the same with it as without it.
/// Its reads are as of the commit [`CommittedState::commit_seq`] names:
/// the copy holds exactly the commits up to it.
///
/// SQL ([`CommittedState::sql`]) runs in a read-only transaction on the
/// copy (a write fails with 25006), with `now()` at the commit's time.
///
/// A clone is a handle to the same copy: a checker may keep one from
/// `on_state` to read in [`Invariants::on_response`], where it holds every
/// commit applied so far.
///
/// ```
/// use overbook::seed::Seed;
/// use overbook::store::{block_on, Isolation, Key, KeyRange, Row, Schema, Store, StoreConfig};
/// use overbook::system::CommittedState;
///
/// let config = StoreConfig { record_commits: true, ..StoreConfig::default() };
/// let store = Store::new(Schema::default(), config, Seed(1));
/// store.load(Key::raw("seats/1"), Row::new().with("taken", 0));
/// let state = CommittedState::new(&store, Schema::default(), "").unwrap();
///
/// let mut tx = store.begin(Isolation::ReadCommitted);
/// block_on(tx.put(&Key::raw("seats/2"), Row::new().with("taken", 1))).unwrap();
/// block_on(tx.commit()).unwrap();
/// for event in store.drain_commits() {
///     state.apply(&event, 0);
/// }
/// assert_eq!(state.scan(&KeyRange::prefix("seats/")).len(), 2);
/// assert_eq!(state.get(&Key::raw("seats/2")).unwrap().int("taken"), Some(1));
/// ```
///
/// [`Invariants::on_state`]: super::Invariants::on_state
/// [`Invariants::on_response`]: super::Invariants::on_response
#[derive(Clone)]
pub struct CommittedState {
    shared: Arc<Shared>,
}

struct Shared {
    store: Store,
    clock: Arc<StateClock>,
    /// The run's commit the copy is as of.
    commit_seq: AtomicU64,
    /// A read-only session, for systems with a SQL schema.
    sql: Option<Mutex<SqlSession>>,
}

impl std::fmt::Debug for CommittedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommittedState")
            .field("commit_seq", &self.commit_seq())
            .finish_non_exhaustive()
    }
}

/// The copy's clock: the time of the commit it is as of (SQL's `now()`).
/// Its statements never wait, so nothing else of a pacer matters.
#[derive(Default)]
struct StateClock {
    now_ms: AtomicU64,
}

impl Pacer for StateClock {
    fn pause(&self, _point: &PausePoint) -> PauseFuture {
        Box::pin(std::future::ready(()))
    }

    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::Relaxed)
    }
}

impl CommittedState {
    /// A copy of `store`'s committed state now, on a store with `schema`
    /// and the SQL schema `sql_schema` (empty: none), which should be the
    /// ones `store` was set up with. An error is a statement of
    /// `sql_schema` the simulated engine refused.
    pub fn new(store: &Store, schema: Schema, sql_schema: &str) -> Result<CommittedState, DbError> {
        // No faults, no latency, no records: the copy only answers reads.
        let config = StoreConfig {
            record_history: false,
            record_commits: false,
            ..StoreConfig::default()
        };
        let copy = Store::new(schema, config, store.seed());
        let sql = if sql_schema.trim().is_empty() {
            None
        } else {
            let db = SqlDb::attach(&copy);
            db.install(sql_schema)?;
            let mut session = db.session();
            block_on(session.execute("SET default_transaction_read_only = on", &[]))?;
            Some(Mutex::new(session))
        };
        let clock = Arc::new(StateClock::default());
        copy.set_pacer(clock.clone());
        let rows = store.scan_all_committed();
        copy.apply_commit(&CommitEvent {
            tx: 0,
            commit_seq: 0,
            writes: rows
                .into_iter()
                .map(|(key, row)| (key, Some(Arc::new(row)), None))
                .collect(),
        });
        Ok(CommittedState {
            shared: Arc::new(Shared {
                store: copy,
                clock,
                commit_seq: AtomicU64::new(store.commit_count()),
                sql,
            }),
        })
    }

    /// [`CommittedState::new`] for a store `system`'s `variant` was set up
    /// on ([`super::prepare_store`]), before anything ran.
    pub fn of<S: System>(
        system: &S,
        variant: Variant,
        store: &Store,
    ) -> Result<CommittedState, DbError> {
        CommittedState::new(store, system.schema(variant), &system.sql_schema(variant))
    }

    /// Brings the copy up to `event`, the run's next commit, made at
    /// simulated `now_ms` (the harness calls this for every commit, in
    /// order).
    pub fn apply(&self, event: &CommitEvent, now_ms: u64) {
        self.shared.store.apply_commit(event);
        self.shared
            .commit_seq
            .store(event.commit_seq, Ordering::Relaxed);
        self.shared.clock.now_ms.store(now_ms, Ordering::Relaxed);
    }

    /// The run's commit the copy is as of (its position in the commit
    /// order; 0 before any).
    pub fn commit_seq(&self) -> u64 {
        self.shared.commit_seq.load(Ordering::Relaxed)
    }

    /// The committed row of `key`.
    pub fn get(&self, key: &Key) -> Option<Row> {
        self.shared.store.read_committed(key)
    }

    /// The committed rows in `range`, in key order.
    pub fn scan(&self, range: &KeyRange) -> Vec<(Key, Row)> {
        self.shared.store.scan_committed(range)
    }

    /// The committed rows of `table` (keys `table/...`), in key order,
    /// shared with the copy rather than copied: the cheap whole-table read.
    pub fn rows(&self, table: &str) -> Vec<Arc<Row>> {
        let prefix = KeyRange::prefix(&format!("{table}/"));
        self.shared.store.rows_committed(&prefix)
    }

    /// Runs one SQL statement with `$1..$n` bound to `params`, in a
    /// read-only transaction of its own on the copy: for systems with a
    /// SQL schema ([`System::sql_schema`]); without one, every table is
    /// unknown (42P01).
    pub fn sql(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        let Some(session) = &self.shared.sql else {
            return Err(DbError::new(
                crate::store::SqlState::UndefinedTable,
                "the system has no SQL schema".to_string(),
            ));
        };
        let mut session = session.lock().unwrap_or_else(|e| e.into_inner());
        block_on(session.execute(sql, params))
    }

    /// The copy itself, for recounts written against a [`Store`] (such as
    /// an [`Invariants::at_end`](super::Invariants::at_end)'s): read it
    /// with [`Store::read_committed`] and [`Store::scan_committed`]; a
    /// transaction begun on it would see the same rows.
    pub fn store(&self) -> &Store {
        &self.shared.store
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::Seed;
    use crate::store::{Isolation, SqlState};

    const SCHEMA: &str = "CREATE TABLE seats (id integer PRIMARY KEY, taken integer NOT NULL)";

    /// A SQL store with seats 1 and 2, and its committed state.
    fn setup() -> (SqlDb, CommittedState) {
        let config = StoreConfig {
            record_commits: true,
            ..StoreConfig::default()
        };
        let db = SqlDb::attach(&Store::new(Schema::default(), config, Seed(3)));
        db.install(SCHEMA).unwrap();
        for id in [1, 2] {
            db.load("seats", &[Value::Int(id), Value::Int(0)]).unwrap();
        }
        let state = CommittedState::new(db.store(), Schema::default(), SCHEMA).unwrap();
        (db, state)
    }

    fn total(state: &CommittedState) -> Option<i64> {
        let rows = state.sql("SELECT sum(taken) AS total FROM seats", &[]);
        rows.unwrap().int(0, "total")
    }

    #[test]
    fn sql_reads_the_state_as_of_each_applied_commit_and_nothing_later() {
        let (db, state) = setup();
        assert_eq!(total(&state), Some(0));
        let mut session = db.session();
        for sql in [
            "UPDATE seats SET taken = 1 WHERE id = 1",
            "UPDATE seats SET taken = 2 WHERE id = 2",
        ] {
            block_on(session.execute(sql, &[])).unwrap();
        }
        let commits = db.store().drain_commits();
        assert_eq!(commits.len(), 2);
        state.apply(&commits[0], 40);
        // The second commit happened, but the copy is as of the first.
        assert_eq!(
            (state.commit_seq(), total(&state)),
            (commits[0].commit_seq, Some(1))
        );
        let now = state.sql("SELECT now() AS t", &[]).unwrap();
        assert_eq!(
            now.get(0, "t"),
            state.sql("SELECT now() AS t", &[]).unwrap().get(0, "t")
        );
        state.apply(&commits[1], 50);
        assert_eq!(total(&state), Some(3));
    }

    #[test]
    fn reading_the_state_leaves_the_runs_store_untouched_and_cannot_write() {
        let (db, state) = setup();
        let store = db.store();
        let mut tx = store.begin(Isolation::Serializable);
        block_on(tx.scan(&KeyRange::prefix("seats/"))).unwrap();
        let (stats, history) = (store.stats(), store.history().len());
        let (commits, open) = (store.commit_count(), store.open_transactions());
        assert_eq!(total(&state), Some(0));
        assert_eq!(state.scan(&KeyRange::prefix("seats/")).len(), 2);
        let write = state.sql("UPDATE seats SET taken = 9", &[]).unwrap_err();
        assert_eq!(write.code, SqlState::ReadOnlySqlTransaction);
        // No transaction, statement, SIREAD lock or record on the run's store.
        assert_eq!((store.stats(), store.history().len()), (stats, history));
        assert_eq!(
            (store.commit_count(), store.open_transactions()),
            (commits, open)
        );
        block_on(tx.commit()).unwrap();
        assert_eq!(total(&state), Some(0));
    }

    #[test]
    fn a_system_without_sql_reads_keys_and_refuses_sql() {
        let store = Store::new(Schema::default(), StoreConfig::default(), Seed(1));
        store.load(Key::raw("venue"), Row::new().with("seats", 3));
        let state = CommittedState::new(&store, Schema::default(), "").unwrap();
        assert_eq!(state.get(&Key::raw("venue")).unwrap().int("seats"), Some(3));
        let refused = state.sql("SELECT 1", &[]).unwrap_err();
        assert_eq!(refused.code, SqlState::UndefinedTable);
    }
}

/// What a whole-state check costs per commit on a venue of `holds` rows,
/// in SQL, as a scan, and as today's mirror loop: `cargo test --release
/// --lib committed_state_cost -- --ignored --nocapture`.
#[cfg(test)]
mod cost {
    use super::*;
    use crate::seed::Seed;
    use std::time::Instant;

    const SCHEMA: &str =
        "CREATE TABLE holds (id integer PRIMARY KEY, expires_ms bigint NOT NULL, sold_ms bigint)";
    const TAKEN: &str =
        "SELECT count(*) AS taken FROM holds WHERE sold_ms IS NOT NULL OR expires_ms > $1";

    #[test]
    #[ignore = "a measurement: run it with --release --ignored --nocapture"]
    fn committed_state_cost() {
        let holds = 600;
        let db = SqlDb::attach(&Store::new(
            Schema::default(),
            StoreConfig::default(),
            Seed(1),
        ));
        db.install(SCHEMA).unwrap();
        for id in 0..holds {
            let sold = if id % 2 == 0 {
                Value::Int(id)
            } else {
                Value::Null
            };
            db.load("holds", &[Value::Int(id), Value::Int(id + 100), sold])
                .unwrap();
        }
        let state = CommittedState::new(db.store(), Schema::default(), SCHEMA).unwrap();
        let rounds = 2000;
        let time = |what: &str, check: &dyn Fn() -> i64| {
            let started = Instant::now();
            let mut taken = 0;
            for _ in 0..rounds {
                taken = check();
            }
            let per_us = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
            println!("{what}: {per_us:.1} us a check over {holds} holds ({taken} taken)");
            taken
        };
        let live = |row: &Row| {
            let unexpired = row.int("expires_ms").is_some_and(|e| e > 400);
            !matches!(row.get("sold_ms"), None | Some(crate::store::Datum::Null)) || unexpired
        };
        let mirror: Vec<Row> = state.rows("holds").iter().map(|r| (**r).clone()).collect();
        let by_mirror = time("mirror loop", &|| {
            mirror.iter().filter(|r| live(r)).count() as i64
        });
        let by_rows = time("rows of the copy", &|| {
            state.rows("holds").iter().filter(|r| live(r)).count() as i64
        });
        let by_scan = time("scan of the copy", &|| {
            let rows = state.scan(&KeyRange::prefix("holds/"));
            rows.iter().filter(|(_, r)| live(r)).count() as i64
        });
        let by_sql = time("SQL on the copy", &|| {
            let rows = state.sql(TAKEN, &[Value::Int(400)]).unwrap();
            rows.int(0, "taken").unwrap()
        });
        assert_eq!((by_mirror, by_rows, by_scan, by_sql), (450, 450, 450, 450));
    }
}
