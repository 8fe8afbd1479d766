//! Multi-session SQL scripts run step by step on any [`Backend`]: the
//! simulated store ([`SimBackend`]) or a real PostgreSQL
//! (`crate::postgres::PgBackend`), each session on its own connection, in
//! the manner of PostgreSQL's isolationtester.
//!
//! [`Runner::issue`] sends one statement to one session and drives it until
//! it finishes or its engine says it is blocked on a lock; then every other
//! statement still running is driven the same way, so a statement a step
//! unblocked completes *after that step*, on both engines alike. A blocked
//! statement stays pending while the script goes on with the other
//! sessions, as in several psql windows. Each [`StepRecord`] keeps the
//! result, whether the statement waited, and after which step it
//! completed: what the anomaly suite judges and `conform` compares.

use super::{Rows, Session, SqlDb, SqlSession};
use crate::seed::Seed;
use crate::store::{
    CommittedTx, DbError, Pacer, PauseFuture, PausePoint, Schema, SqlState, Store, StoreConfig,
};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// The tables a script starts from: their names (the order DROP and
/// TRUNCATE list them in) and the DDL that creates them, empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Every table the DDL creates.
    pub tables: &'static [&'static str],
    /// `CREATE TABLE` and `CREATE INDEX` statements, in order.
    pub ddl: &'static [&'static str],
}

/// Where scripts run.
pub trait Backend {
    /// A connection.
    type S: Session + 'static;

    /// `sessions` connections plus one observer (last), on a database
    /// holding only `setup`'s tables, created empty, outside any
    /// transaction.
    fn open(
        &mut self,
        setup: &Setup,
        sessions: usize,
    ) -> impl Future<Output = Result<Vec<Self::S>, DbError>>;

    /// Gives the connections of a finished script back (a backend may
    /// reuse them). `None` marks a session whose statement never finished
    /// and was abandoned; the observer comes last.
    fn close(&mut self, sessions: Vec<Option<Self::S>>) -> impl Future<Output = ()> {
        drop(sessions);
        async {}
    }

    /// Whether session `index`'s running statement is blocked on a lock,
    /// asked through the observer. `false` means "not yet known": the
    /// runner waits [`Backend::idle`] and asks again.
    fn blocked(&mut self, observer: &mut Self::S, index: usize) -> impl Future<Output = bool>;

    /// How long to let running statements progress before asking whether
    /// they are blocked (the simulated store: not at all; every statement
    /// there finishes or parks when polled).
    fn idle(&mut self) -> impl Future<Output = ()>;

    /// How long to keep watching a statement first seen blocked before
    /// calling it waiting: long enough for the engine to end a deadlock the
    /// statement closed (PostgreSQL: past its `deadlock_timeout`).
    fn grace(&mut self) -> impl Future<Output = ()>;

    /// The engine's record of committed transactions, when it keeps one
    /// (the simulated store does; PostgreSQL does not).
    fn history(&self, observer: &Self::S) -> Option<Vec<CommittedTx>> {
        let _ = observer;
        None
    }
}

/// The simulated store: a fresh [`SqlDb`] per script; a statement still
/// pending once nothing else can run is blocked. Its store's timers run on
/// a clock of the backend's own, which moves only where PostgreSQL's
/// backend lets real time pass: [`Backend::idle`] and [`Backend::grace`]
/// move it as long as they sleep there, so that `deadlock_timeout` (set
/// to PostgreSQL's backend's), `lock_timeout` and `statement_timeout`
/// fire at the same points of a script on both.
#[derive(Debug, Default)]
pub struct SimBackend {
    clock: ScriptClock,
    /// The store's `deadlock_timeout`, when not PostgreSQL's backend's.
    deadlock_timeout_ms: Option<u64>,
}

impl SimBackend {
    /// A backend whose stores check for deadlocks after `ms` of waiting
    /// (PostgreSQL's default is 1000), for scripts run against a server
    /// whose `deadlock_timeout` nothing overrides.
    pub fn with_deadlock_timeout_ms(ms: u64) -> SimBackend {
        SimBackend {
            deadlock_timeout_ms: Some(ms),
            ..SimBackend::default()
        }
    }
}

/// Simulated time: timers that fire when [`ScriptClock::advance`] passes
/// their deadline.
#[derive(Clone, Debug, Default)]
struct ScriptClock {
    state: Arc<Mutex<ClockState>>,
}

#[derive(Debug, Default)]
struct ClockState {
    now_ms: u64,
    /// Deadlines and the wakers of the tasks waiting for them.
    timers: Vec<(u64, Waker)>,
}

impl ScriptClock {
    fn state(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the clock `ms` on and wakes the timers that are then due.
    fn advance(&self, ms: u64) {
        let due: Vec<Waker> = {
            let mut state = self.state();
            state.now_ms += ms;
            let now_ms = state.now_ms;
            let (due, waiting) = std::mem::take(&mut state.timers)
                .into_iter()
                .partition(|(deadline_ms, _)| *deadline_ms <= now_ms);
            state.timers = waiting;
            due.into_iter().map(|(_, waker)| waker).collect()
        };
        for waker in due {
            waker.wake();
        }
    }
}

impl Pacer for ScriptClock {
    fn pause(&self, _point: &PausePoint) -> PauseFuture {
        Box::pin(std::future::ready(()))
    }

    fn sleep(&self, ms: u64) -> PauseFuture {
        let clock = self.clone();
        let deadline_ms = self.state().now_ms + ms;
        Box::pin(std::future::poll_fn(move |cx| {
            let mut state = clock.state();
            if state.now_ms >= deadline_ms {
                return Poll::Ready(());
            }
            state.timers.push((deadline_ms, cx.waker().clone()));
            Poll::Pending
        }))
    }

    fn now_ms(&self) -> u64 {
        self.state().now_ms
    }
}

/// How long the PostgreSQL backend's [`Backend::idle`] sleeps.
const IDLE_MS: u64 = 1;

/// How long a lock wait lasts before the deadlock check, for scripts on
/// every engine (the store's `deadlock_timeout`, and `SET deadlock_timeout`
/// on a real PostgreSQL's connections): short, so that the statement that
/// closes a cycle is the one that fails, on both, and a script does not
/// stall for PostgreSQL's default second.
pub const DEADLOCK_TIMEOUT_MS: u64 = 1;

/// How long [`Backend::grace`] watches a statement first seen blocked: a
/// few deadlock checks' worth, on every engine.
pub const GRACE_MS: u64 = 4 * DEADLOCK_TIMEOUT_MS + 2;

impl Backend for SimBackend {
    type S = SqlSession;

    async fn open(&mut self, setup: &Setup, sessions: usize) -> Result<Vec<SqlSession>, DbError> {
        let config = StoreConfig {
            deadlock_timeout_ms: self.deadlock_timeout_ms.unwrap_or(DEADLOCK_TIMEOUT_MS),
            ..StoreConfig::default()
        };
        let store = Store::new(Schema::default(), config, Seed(0));
        self.clock = ScriptClock::default();
        store.set_pacer(Arc::new(self.clock.clone()));
        let db = SqlDb::new(store);
        let mut observer = db.session();
        for stmt in setup.ddl {
            observer.execute(stmt, &[]).await?;
        }
        let mut out: Vec<_> = (0..sessions).map(|_| db.session()).collect();
        out.push(observer);
        Ok(out)
    }

    async fn blocked(&mut self, _observer: &mut SqlSession, _index: usize) -> bool {
        true
    }

    async fn idle(&mut self) {
        self.clock.advance(IDLE_MS);
    }

    async fn grace(&mut self) {
        self.clock.advance(GRACE_MS);
    }

    fn history(&self, observer: &SqlSession) -> Option<Vec<CommittedTx>> {
        Some(observer.db().store().history())
    }
}

/// One statement of a script.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Stmt {
    /// Literal SQL.
    Sql(String),
    /// A client's read-modify-write on the anomaly suite's `kv` table:
    /// `UPDATE kv SET v = <what this session last read of key> + delta
    /// WHERE k = key` (0 when it read nothing), resolved when issued.
    WritePlus(String, i64),
}

impl Stmt {
    /// Literal SQL.
    pub fn sql(text: impl Into<String>) -> Stmt {
        Stmt::Sql(text.into())
    }
}

/// What happened to one issued statement.
#[derive(Clone, Debug)]
pub struct StepRecord {
    /// The session it ran in.
    pub session: usize,
    /// The SQL sent (a [`Stmt::WritePlus`] resolved to literal SQL).
    pub sql: String,
    /// Its result; `None` while it runs (or when it never finished).
    pub result: Option<Result<Rows, DbError>>,
    /// Whether it was seen blocked and the script went on without it.
    pub waited: bool,
    /// The step (index into the records) during which it finished: its own
    /// index when it did not wait.
    pub completed_after: Option<usize>,
}

type StepFuture<S> = Pin<Box<dyn Future<Output = (S, Result<Rows, DbError>)>>>;

enum Slot<S> {
    Idle(S),
    Busy(StepFuture<S>, usize),
}

/// Polls of [`Backend::idle`] length before a statement that is neither
/// finished nor blocked is given up on (PostgreSQL: about 10 s).
pub const LIMIT_POLLS: usize = 5000;

/// Runs a script's statements on a backend's sessions, step by step.
pub struct Runner<S: Session + 'static> {
    slots: Vec<Option<Slot<S>>>,
    observer: S,
    records: Vec<StepRecord>,
    /// Step indexes in the order their statements finished.
    finished: Vec<usize>,
}

impl<S: Session + 'static> std::fmt::Debug for Runner<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("sessions", &self.slots.len())
            .field("records", &self.records)
            .finish()
    }
}

impl<S: Session + 'static> Runner<S> {
    /// A runner over `sessions` (numbered from 0) and an observer.
    pub fn new(sessions: Vec<S>, observer: S) -> Runner<S> {
        Runner {
            slots: sessions.into_iter().map(|s| Some(Slot::Idle(s))).collect(),
            observer,
            records: Vec::new(),
            finished: Vec::new(),
        }
    }

    /// Whether `session` has a statement running (waiting or not).
    pub fn busy(&self, session: usize) -> bool {
        matches!(self.slots.get(session), Some(Some(Slot::Busy(..))))
    }

    /// Whether any session has a statement running.
    pub fn any_busy(&self) -> bool {
        (0..self.slots.len()).any(|s| self.busy(s))
    }

    /// Every statement issued so far, in issue order.
    pub fn records(&self) -> &[StepRecord] {
        &self.records
    }

    /// Step indexes in the order their statements finished (a transcript
    /// shows two statements one step released in that order).
    pub fn finished(&self) -> &[usize] {
        &self.finished
    }

    /// The observer connection (setup, final reads, lock checks).
    pub fn observer(&mut self) -> &mut S {
        &mut self.observer
    }

    /// The integer in the first column of the first row step `index`
    /// returned.
    pub fn int(&self, index: usize) -> Option<i64> {
        self.ok(index)
            .and_then(|r| r.rows.first()?.first()?.as_int())
    }

    /// The rows step `index` returned, if it finished without error.
    pub fn ok(&self, index: usize) -> Option<&Rows> {
        self.records.get(index)?.result.as_ref()?.as_ref().ok()
    }

    /// Whether every statement of `session` succeeded and one was COMMIT.
    pub fn committed(&self, session: usize) -> bool {
        let mut mine = self.records.iter().filter(|r| r.session == session);
        let mut any_commit = false;
        let all_ok = mine.all(|r| {
            any_commit |= r.sql == "COMMIT";
            matches!(r.result, Some(Ok(_)))
        });
        all_ok && any_commit
    }

    /// The first error's SQLSTATE, not counting 25P02 (a statement in a
    /// transaction already failed).
    pub fn first_error(&self) -> Option<&'static str> {
        self.records
            .iter()
            .find_map(|r| r.result.as_ref()?.as_ref().err())
            .filter(|e| e.code != SqlState::InFailedTransaction)
            .map(|e| e.code.code())
    }

    /// The SQL a statement stands for in `session` now.
    fn resolve(&self, session: usize, stmt: &Stmt) -> String {
        match stmt {
            Stmt::Sql(sql) => sql.clone(),
            Stmt::WritePlus(key, delta) => {
                let read = format!("SELECT v FROM kv WHERE k = '{key}'");
                let base = self
                    .records
                    .iter()
                    .enumerate()
                    .rev()
                    .find(|(_, r)| r.session == session && r.sql == read)
                    .and_then(|(i, _)| self.int(i))
                    .unwrap_or(0);
                format!("UPDATE kv SET v = {} WHERE k = '{key}'", base + delta)
            }
        }
    }

    /// Issues `stmt` in `session` and drives it until it finishes or is
    /// blocked, then drives every other running statement the same way.
    /// Returns the step's index. A statement for a session that is still
    /// busy is refused with XX000 (a script error, not the engine's).
    pub async fn issue<B: Backend<S = S>>(
        &mut self,
        backend: &mut B,
        session: usize,
        stmt: &Stmt,
    ) -> usize {
        assert!(session < self.slots.len(), "session {session} out of range");
        let sql = self.resolve(session, stmt);
        let index = self.records.len();
        self.records.push(StepRecord {
            session,
            sql: sql.clone(),
            result: None,
            waited: false,
            completed_after: None,
        });
        match self.slots[session].take() {
            Some(Slot::Idle(mut s)) => {
                self.slots[session] = Some(Slot::Busy(
                    Box::pin(async move {
                        let r = s.execute(&sql, &[]).await;
                        (s, r)
                    }),
                    index,
                ));
            }
            other => {
                self.slots[session] = other;
                self.records[index].result = Some(Err(DbError::new(
                    SqlState::Other("XX000"),
                    "script issued a statement to a session that is waiting",
                )));
                self.records[index].completed_after = Some(index);
                self.finished.push(index);
                return index;
            }
        }
        self.wait_for(backend, session).await;
        self.drive(backend).await;
        index
    }

    /// Drives every running statement until each has finished or is
    /// blocked. Returns whether any finished.
    pub async fn drive<B: Backend<S = S>>(&mut self, backend: &mut B) -> bool {
        let finished_before = self.finished_count();
        for session in 0..self.slots.len() {
            if self.busy(session) {
                self.wait_for(backend, session).await;
            }
        }
        self.finished_count() > finished_before
    }

    fn finished_count(&self) -> usize {
        self.records.iter().filter(|r| r.result.is_some()).count()
    }

    /// Drives `session`'s statement until it finishes or its engine says
    /// it is blocked (after the grace period the first time).
    async fn wait_for<B: Backend<S = S>>(&mut self, backend: &mut B, session: usize) {
        for _ in 0..LIMIT_POLLS {
            let idle = backend.idle();
            self.settle(session, idle).await;
            let Some(Some(Slot::Busy(_, index))) = self.slots.get(session) else {
                return;
            };
            let index = *index;
            if backend.blocked(&mut self.observer, session).await {
                if !self.records[index].waited {
                    let grace = backend.grace();
                    self.settle(session, grace).await;
                    if !self.busy(session) {
                        return;
                    }
                    self.records[index].waited = true;
                }
                return;
            }
        }
    }

    /// Polls every running statement, recording those that finish, until
    /// `session` is no longer busy or `timer` ends with nothing left to
    /// make progress.
    async fn settle(&mut self, session: usize, timer: impl Future<Output = ()>) {
        let mut timer = std::pin::pin!(timer);
        let current = self.records.len().saturating_sub(1);
        std::future::poll_fn(|cx| {
            loop {
                let progressed = self.poll_slots(cx, current);
                if !matches!(self.slots[session], Some(Slot::Busy(..))) {
                    return Poll::Ready(());
                }
                if !progressed {
                    break;
                }
            }
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            // Collect what the time that passed let finish (a simulated
            // store's timers fire as its clock moves at the end of the
            // timer, not while it runs).
            while self.poll_slots(cx, current) {}
            Poll::Ready(())
        })
        .await
    }

    /// Polls every running statement once, recording those that finish
    /// as finished after step `current`. Returns whether any did.
    fn poll_slots(&mut self, cx: &mut std::task::Context<'_>, current: usize) -> bool {
        let mut progressed = false;
        for slot in self.slots.iter_mut() {
            let Some(Slot::Busy(future, index)) = slot else {
                continue;
            };
            if let Poll::Ready((s, result)) = future.as_mut().poll(cx) {
                let record = &mut self.records[*index];
                record.result = Some(result);
                record.completed_after = Some(current);
                self.finished.push(*index);
                *slot = Some(Slot::Idle(s));
                progressed = true;
            }
        }
        progressed
    }

    /// The sessions (`None` for one whose statement never finished), the
    /// observer last, and the records.
    pub fn into_parts(self) -> (Vec<Option<S>>, Vec<StepRecord>) {
        let mut sessions: Vec<Option<S>> = self
            .slots
            .into_iter()
            .map(|slot| match slot {
                Some(Slot::Idle(s)) => Some(s),
                _ => None,
            })
            .collect();
        sessions.push(Some(self.observer));
        (sessions, self.records)
    }
}
