//! One permutation of a spec on one engine, as isolationtester runs it
//! (PostgreSQL 14's `run_permutation`): the global setup on the control
//! connection, each session's setup on its own, the steps (each sent as
//! one query that may hold several statements; a step whose session still
//! waits on an earlier one is sent once that one completes), a wait for
//! the steps still running, then each session's teardown and the global
//! one. Steps run through [`crate::sql::script::Runner`], which sees a
//! step blocked as isolationtester does.

use super::spec::{Planned, Resolved, Spec};
use super::split::split;
use crate::conform::run::{Outcome, StepRun};
use crate::postgres::PgSession;
use crate::sql::script::{Backend, Runner, Setup, StepRecord, Stmt};
use crate::sql::{Rows, Session, SqlSession, Value};
use crate::store::{CommittedTx, DbError, SqlState};
use serde::Serialize;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// One result set, as text (`None` for NULL), in the order the engine
/// returned the rows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ResultSet {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<Option<String>>>,
}

/// What one query (a step, or a setup block) returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepOutput {
    /// Its result sets, in order.
    pub sets: Vec<ResultSet>,
    /// Rows inserted, updated or deleted by its statements without a
    /// result set.
    pub affected: u64,
    /// The error that ended it.
    pub error: Option<DbError>,
}

/// A connection that runs a step's SQL as isolationtester sends it: one
/// simple query, statements in order, the first error ending it.
pub trait StepConn: Session + 'static {
    /// Runs `sql`.
    fn run_step(&mut self, sql: &str) -> impl Future<Output = StepOutput>;

    /// The tables the database holds (those a spec's setup created), when
    /// the engine can list them cheaply; empty otherwise.
    fn table_names(&self) -> Vec<String> {
        Vec::new()
    }
}

fn text_set(rows: &Rows) -> ResultSet {
    ResultSet {
        columns: rows.columns.clone(),
        rows: rows
            .rows
            .iter()
            .map(|r| r.iter().map(Value::to_pg_text).collect())
            .collect(),
    }
}

/// Whether a statement is one the store may run inside an implicit
/// transaction block (DDL may not run in a block there).
fn is_data(sql: &str) -> bool {
    let word: String = sql
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase();
    matches!(
        word.as_str(),
        "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "WITH" | "VALUES" | "TABLE"
    )
}

impl StepConn for SqlSession {
    async fn run_step(&mut self, sql: &str) -> StepOutput {
        let statements = split(sql);
        // PostgreSQL runs the statements of one simple query outside a
        // block as one implicit transaction; the store has no such mode, so
        // a block of data statements is opened and closed around them.
        let implicit = statements.len() > 1
            && !self.in_transaction()
            && statements.iter().all(|s| is_data(&s.sql));
        let mut out = StepOutput::default();
        if implicit {
            if let Err(e) = self.execute("BEGIN", &[]).await {
                out.error = Some(e);
                return out;
            }
        }
        for statement in &statements {
            match self.execute(&statement.sql, &[]).await {
                Ok(rows) if rows.columns.is_empty() => out.affected += rows.affected,
                Ok(rows) => out.sets.push(text_set(&rows)),
                Err(e) => {
                    out.error = Some(e);
                    break;
                }
            }
        }
        if implicit {
            let end = if out.error.is_some() {
                "ROLLBACK"
            } else {
                "COMMIT"
            };
            if let Err(e) = self.execute(end, &[]).await {
                out.error.get_or_insert(e);
            }
        }
        out
    }

    fn table_names(&self) -> Vec<String> {
        self.db().tables().into_iter().map(|t| t.name).collect()
    }
}

impl StepConn for PgSession {
    async fn run_step(&mut self, sql: &str) -> StepOutput {
        use futures_core::Stream;
        use tokio_postgres::SimpleQueryMessage;
        let mut out = StepOutput::default();
        let stream = match self.client().simple_query_raw(sql).await {
            Ok(stream) => stream,
            Err(e) => {
                out.error = Some(crate::postgres::db_error(&e));
                return out;
            }
        };
        let mut stream = std::pin::pin!(stream);
        let mut current: Option<ResultSet> = None;
        loop {
            let next = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await;
            match next {
                None => break,
                Some(Ok(SimpleQueryMessage::RowDescription(columns))) => {
                    current = Some(ResultSet {
                        columns: columns.iter().map(|c| c.name().to_string()).collect(),
                        rows: Vec::new(),
                    });
                }
                Some(Ok(SimpleQueryMessage::Row(row))) => {
                    let values = (0..row.len()).map(|i| row.get(i).map(str::to_string));
                    current
                        .get_or_insert_with(ResultSet::default)
                        .rows
                        .push(values.collect());
                }
                Some(Ok(SimpleQueryMessage::CommandComplete(n))) => match current.take() {
                    Some(set) => out.sets.push(set),
                    None => out.affected += n,
                },
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    out.error = Some(crate::postgres::db_error(&e));
                    break;
                }
            }
        }
        if out.error.is_some() {
            // As PgSession's statements: once an empty query's answer is
            // back, the failed transaction's locks are gone.
            let _ = self.client().simple_query("").await;
        }
        out
    }
}

/// Each session's finished steps' outputs, in the order they finished
/// (a session runs one step at a time, so its Runner records and these
/// line up one to one).
type Log = Arc<Mutex<Vec<VecDeque<StepOutput>>>>;

fn lock(log: &Log) -> std::sync::MutexGuard<'_, Vec<VecDeque<StepOutput>>> {
    log.lock().unwrap_or_else(|e| e.into_inner())
}

/// A [`StepConn`] as a [`Session`] for the Runner: `execute` runs a whole
/// step and keeps its output in the log.
#[derive(Debug)]
pub struct Conn<C> {
    inner: C,
    log: Log,
    index: usize,
}

impl<C: StepConn> Conn<C> {
    async fn step(&mut self, sql: &str) -> Result<Rows, DbError> {
        let out = self.inner.run_step(sql).await;
        let result = match &out.error {
            Some(e) => Err(e.clone()),
            None => Ok(Rows::default()),
        };
        if let Some(queue) = lock(&self.log).get_mut(self.index) {
            queue.push_back(out);
        }
        result
    }
}

impl<C: StepConn> Session for Conn<C> {
    fn execute(
        &mut self,
        sql: &str,
        _params: &[Value],
    ) -> impl Future<Output = Result<Rows, DbError>> {
        self.step(sql)
    }
}

const NO_TABLES: Setup = Setup {
    tables: &[],
    ddl: &[],
};

/// A [`Backend`] whose connections run whole steps; its `open` gives
/// connections to an empty database (the spec's setup runs through them).
#[derive(Debug)]
pub struct SpecBackend<B> {
    inner: B,
    log: Log,
}

impl<B> SpecBackend<B> {
    /// Steps on `inner`'s connections.
    pub fn new(inner: B) -> SpecBackend<B> {
        SpecBackend {
            inner,
            log: Arc::default(),
        }
    }
}

impl<B: Backend> Backend for SpecBackend<B>
where
    B::S: StepConn,
{
    type S = Conn<B::S>;

    async fn open(&mut self, _setup: &Setup, sessions: usize) -> Result<Vec<Conn<B::S>>, DbError> {
        let conns = self.inner.open(&NO_TABLES, sessions).await?;
        *lock(&self.log) = vec![VecDeque::new(); conns.len()];
        Ok(conns
            .into_iter()
            .enumerate()
            .map(|(index, inner)| Conn {
                inner,
                log: self.log.clone(),
                index,
            })
            .collect())
    }

    async fn close(&mut self, sessions: Vec<Option<Conn<B::S>>>) {
        let inner = sessions.into_iter().map(|c| c.map(|c| c.inner)).collect();
        self.inner.close(inner).await
    }

    async fn blocked(&mut self, observer: &mut Conn<B::S>, index: usize) -> bool {
        self.inner.blocked(&mut observer.inner, index).await
    }

    async fn idle(&mut self) {
        self.inner.idle().await
    }

    async fn grace(&mut self) {
        self.inner.grace().await
    }

    fn history(&self, observer: &Conn<B::S>) -> Option<Vec<CommittedTx>> {
        self.inner.history(&observer.inner)
    }
}

/// Passes of driving the running steps (each at least one
/// [`Backend::idle`], 1 ms, per running step) before a step that should
/// complete is given up on: past PostgreSQL's default `deadlock_timeout`
/// (1 s) with room to spare, far below isolationtester's 300 s, so that a
/// hanging permutation is reported rather than holding CI.
pub const WAIT_PASSES_MAX: usize = 3000;

/// What isolationtester prints, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A setup or teardown block's output (result sets are printed).
    Block(StepOutput),
    /// Step at this permutation position sent; `true` when reported
    /// `<waiting ...>` (else its results follow).
    Issued(usize, bool),
    /// The waiting step at this position reported `<... completed>`.
    Completed(usize),
}

/// A table's final rows (as text, sorted), or why it could not be read.
pub type TableRows = Result<Vec<Vec<String>>, String>;

/// A permutation's run on one engine.
#[derive(Clone, Debug)]
pub struct PermRun {
    /// Per permutation position.
    pub steps: Vec<StepRun>,
    /// Per position, the step's output when it finished.
    pub outputs: Vec<Option<StepOutput>>,
    /// What isolationtester would print.
    pub events: Vec<Event>,
    /// The tables' final rows (as text, sorted), by name; an error when a
    /// table could not be read.
    pub tables: Vec<(String, TableRows)>,
    /// The setup block that failed (`setup`, `setup of session s1`) and
    /// its error.
    pub setup_error: Option<(String, DbError)>,
    /// Why the permutation was cut short, when a step never completed.
    pub timed_out: Option<String>,
    /// The store's committed transactions, when the engine records them.
    pub history: Option<Vec<CommittedTx>>,
}

impl PermRun {
    /// The first statement the engine rejected as not supported (0A000)
    /// or could not parse (42601), in setup or in a step.
    pub fn rejected(&self) -> Option<&DbError> {
        let rejects = |e: &&DbError| {
            matches!(
                e.code,
                SqlState::FeatureNotSupported | SqlState::SyntaxError
            )
        };
        if let Some((_, e)) = &self.setup_error {
            return Some(e).filter(rejects);
        }
        self.outputs
            .iter()
            .flatten()
            .filter_map(|o| o.error.as_ref())
            .find(rejects)
    }
}

fn flat_rows(out: &StepOutput) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = out
        .sets
        .iter()
        .flat_map(|s| s.rows.iter())
        .map(|r| {
            r.iter()
                .map(|v| v.clone().unwrap_or_else(|| "NULL".into()))
                .collect()
        })
        .collect();
    rows.sort();
    rows
}

struct Progress<'a> {
    perm: &'a [Planned],
    /// Per position: the Runner's record index once sent.
    record_of: Vec<Option<usize>>,
    /// Per session: the position of its step sent and not yet reported
    /// complete.
    active: Vec<Option<usize>>,
    /// Positions reported waiting, in isolationtester's array order.
    waiting: Vec<usize>,
    /// Per position: reported waiting, and after which position reported
    /// complete.
    waited: Vec<bool>,
    completed_after: Vec<Option<usize>>,
    events: Vec<Event>,
}

impl Progress<'_> {
    fn has_blocker(&self, pos: usize) -> bool {
        self.perm[pos].blockers.iter().any(|b| match b {
            Resolved::Step(session, step) => self.active[*session]
                .is_some_and(|p| self.perm[p].session == *session && self.perm[p].step == *step),
            // Neither engine's notices are counted: the marker is taken as
            // met (the `.out` comparison shows the difference).
            Resolved::Once | Resolved::Notices(..) => false,
        })
    }

    /// isolationtester's `try_complete_step`: whether the step at `pos`
    /// is reported complete now (after position `current`).
    fn try_complete<S: Session>(
        &mut self,
        runner: &Runner<S>,
        pos: usize,
        first: bool,
        current: usize,
    ) -> bool {
        if first && self.perm[pos].blockers.contains(&Resolved::Once) {
            self.report_waiting(pos);
            return false;
        }
        let finished = self.record_of[pos]
            .and_then(|r| runner.records().get(r))
            .is_some_and(|r| r.result.is_some());
        if !finished || self.has_blocker(pos) {
            if first {
                self.report_waiting(pos);
            }
            return false;
        }
        self.events.push(if first {
            Event::Issued(pos, false)
        } else {
            Event::Completed(pos)
        });
        self.active[self.perm[pos].session] = None;
        self.completed_after[pos] = Some(current);
        true
    }

    fn report_waiting(&mut self, pos: usize) {
        self.events.push(Event::Issued(pos, true));
        self.waited[pos] = true;
    }

    /// isolationtester's `try_complete_steps`: the waiting steps, in
    /// order, again while a completion may have released a marker.
    fn try_complete_waiting<S: Session>(&mut self, runner: &Runner<S>, current: usize) {
        loop {
            let before = self.waiting.len();
            let mut have_blocker = false;
            let mut w = 0;
            while w < self.waiting.len() {
                let pos = self.waiting[w];
                if self.try_complete(runner, pos, false, current) {
                    self.waiting.remove(w);
                } else {
                    have_blocker |= !self.perm[pos].blockers.is_empty();
                    w += 1;
                }
            }
            if !(have_blocker && self.waiting.len() < before) {
                break;
            }
        }
    }
}

impl PermRun {
    /// A run of a permutation of `steps` steps before anything ran.
    fn new(steps: usize) -> PermRun {
        PermRun {
            steps: vec![
                StepRun {
                    outcome: Outcome::NotRun,
                    waited: false,
                    completed_after: None,
                    message: String::new(),
                };
                steps
            ],
            outputs: vec![None; steps],
            events: Vec::new(),
            tables: Vec::new(),
            setup_error: None,
            timed_out: None,
            history: None,
        }
    }
}

/// The global setup blocks on the control connection, then each
/// session's on its own, each output an event; the first block that
/// fails ends them, as `setup_error`.
async fn run_setups<C: StepConn>(
    spec: &Spec,
    observer: &mut Conn<C>,
    conns: &mut [Conn<C>],
    run: &mut PermRun,
) {
    for block in &spec.setup {
        let out = observer.inner.run_step(block).await;
        if let Some(e) = &out.error {
            run.setup_error = Some(("setup".into(), e.clone()));
            return;
        }
        run.events.push(Event::Block(out));
    }
    for (i, session) in spec.sessions.iter().enumerate() {
        let Some(sql) = &session.setup else { continue };
        let out = conns[i].inner.run_step(sql).await;
        if let Some(e) = &out.error {
            run.setup_error = Some((format!("setup of session {}", session.name), e.clone()));
            return;
        }
        run.events.push(Event::Block(out));
    }
}

/// Sends the permutation's steps in order, each once its session's
/// earlier step is reported complete (isolationtester polls the other
/// waiting steps meanwhile). Returns why it stopped early, if it did.
async fn send_steps<B: Backend>(
    backend: &mut SpecBackend<B>,
    runner: &mut Runner<Conn<B::S>>,
    p: &mut Progress<'_>,
    spec: &Spec,
) -> Option<String>
where
    B::S: StepConn,
{
    let perm = p.perm;
    let name = |pos: usize| spec.step(perm[pos].session, perm[pos].step).name.clone();
    for (pos, planned) in perm.iter().enumerate() {
        let session = planned.session;
        let mut passes = 0;
        while let Some(old) = p.active[session] {
            let last = pos.saturating_sub(1);
            if p.try_complete(runner, old, false, last) {
                p.waiting.retain(|&w| w != old);
            }
            p.try_complete_waiting(runner, last);
            if p.active[session].is_none() {
                break;
            }
            if passes >= WAIT_PASSES_MAX {
                return Some(format!(
                    "step {} never completed, so step {} of the same session could not be sent",
                    name(old),
                    name(pos)
                ));
            }
            runner.drive(backend).await;
            passes += 1;
        }
        let step = spec.step(session, planned.step);
        let index = runner
            .issue(backend, session, &Stmt::Sql(step.sql.clone()))
            .await;
        p.record_of[pos] = Some(index);
        p.active[session] = Some(pos);
        let must_wait = !p.try_complete(runner, pos, true, pos);
        p.try_complete_waiting(runner, pos);
        if must_wait {
            p.waiting.push(pos);
        }
    }
    None
}

/// Drives the steps still reported waiting until each completes, or
/// returns why they never do.
async fn wait_for_waiting<B: Backend>(
    backend: &mut SpecBackend<B>,
    runner: &mut Runner<Conn<B::S>>,
    p: &mut Progress<'_>,
    spec: &Spec,
) -> Option<String>
where
    B::S: StepConn,
{
    let last = p.perm.len().saturating_sub(1);
    let mut passes = 0;
    loop {
        p.try_complete_waiting(runner, last);
        if p.waiting.is_empty() {
            return None;
        }
        if passes >= WAIT_PASSES_MAX {
            let names: Vec<String> = p
                .waiting
                .iter()
                .map(|&w| spec.step(p.perm[w].session, p.perm[w].step).name.clone())
                .collect();
            return Some(format!(
                "steps {} never completed (mutually blocking, or waiting on something outside the spec)",
                names.join(", ")
            ));
        }
        runner.drive(backend).await;
        passes += 1;
    }
}

/// Each of `tables` (default: those the engine lists) read on the
/// observer: its rows as text, sorted, or why it could not be read.
async fn read_tables<C: StepConn>(
    observer: &mut Conn<C>,
    tables: Option<&[String]>,
) -> Vec<(String, TableRows)> {
    let names: Vec<String> = match tables {
        Some(t) => t.to_vec(),
        None => observer.inner.table_names(),
    };
    let mut out = Vec::with_capacity(names.len());
    for table in names {
        let read = observer
            .inner
            .run_step(&format!("SELECT * FROM {table}"))
            .await;
        let rows = match &read.error {
            Some(e) => Err(format!("{} ({})", e.message, e.code.code())),
            None => Ok(flat_rows(&read)),
        };
        out.push((table, rows));
    }
    out
}

/// Each position's outcome and output into `run`: the Runner's records
/// matched with the step outputs `log` kept, session by session in the
/// order their steps finished.
fn record_outcomes(
    run: &mut PermRun,
    p: &Progress<'_>,
    records: &[StepRecord],
    mut log: Vec<VecDeque<StepOutput>>,
) {
    let mut by_record: Vec<Option<StepOutput>> = vec![None; records.len()];
    for (r, record) in records.iter().enumerate() {
        if record.result.is_some() {
            by_record[r] = log.get_mut(record.session).and_then(|q| q.pop_front());
        }
    }
    for pos in 0..p.perm.len() {
        let Some(r) = p.record_of[pos] else { continue };
        let reported = p.completed_after[pos].is_some();
        let (outcome, message) = match (&by_record[r], reported) {
            (Some(out), true) => match &out.error {
                Some(e) => (Outcome::Error(e.code.code().to_string()), e.message.clone()),
                None => (
                    Outcome::Done {
                        rows: flat_rows(out),
                        affected: out.affected,
                    },
                    String::new(),
                ),
            },
            _ => (Outcome::Unfinished, String::new()),
        };
        run.outputs[pos] = by_record[r].clone();
        run.steps[pos] = StepRun {
            outcome,
            waited: p.waited[pos],
            completed_after: p.completed_after[pos],
            message,
        };
    }
}

/// Each session's teardown block on its connection, then the global one
/// on the observer (last), and gives the connections back. A session
/// whose step never finished is ended first (close does) and the
/// connections opened afresh: the teardown would wait on its locks.
async fn run_teardowns<B: Backend>(
    backend: &mut SpecBackend<B>,
    spec: &Spec,
    mut sessions: Vec<Option<Conn<B::S>>>,
) -> Result<(), DbError>
where
    B::S: StepConn,
{
    if sessions.iter().any(Option::is_none) {
        backend.close(sessions).await;
        let mut conns = backend.open(&NO_TABLES, spec.sessions.len()).await?;
        sessions = conns.drain(..).map(Some).collect();
    }
    for (i, session) in spec.sessions.iter().enumerate() {
        if let (Some(sql), Some(Some(conn))) = (&session.teardown, sessions.get_mut(i)) {
            let _ = conn.inner.run_step(sql).await;
        }
    }
    if let (Some(sql), Some(Some(observer))) = (&spec.teardown, sessions.last_mut()) {
        let _ = observer.inner.run_step(sql).await;
    }
    backend.close(sessions).await;
    Ok(())
}

/// Runs one permutation on `backend`. `tables` names the tables to read
/// at the end (default: those the engine lists); `teardown` runs the
/// teardown blocks (needed where the database outlives the permutation).
/// Errs only when the engine cannot be reached.
pub async fn run_permutation<B: Backend>(
    backend: &mut SpecBackend<B>,
    spec: &Spec,
    perm: &[Planned],
    tables: Option<&[String]>,
    teardown: bool,
) -> Result<PermRun, DbError>
where
    B::S: StepConn,
{
    let n = spec.sessions.len();
    let mut conns = backend.open(&NO_TABLES, n).await?;
    let mut observer = conns.pop().expect("backends open an observer");
    let mut run = PermRun::new(perm.len());
    run_setups(spec, &mut observer, &mut conns, &mut run).await;
    if run.setup_error.is_some() {
        let mut all: Vec<Option<Conn<B::S>>> = conns.into_iter().map(Some).collect();
        if teardown {
            if let Some(sql) = &spec.teardown {
                let _ = observer.inner.run_step(sql).await;
            }
        }
        all.push(Some(observer));
        backend.close(all).await;
        return Ok(run);
    }
    let mut runner = Runner::new(conns, observer);
    let mut p = Progress {
        perm,
        record_of: vec![None; perm.len()],
        active: vec![None; n],
        waiting: Vec::new(),
        waited: vec![false; perm.len()],
        completed_after: vec![None; perm.len()],
        events: std::mem::take(&mut run.events),
    };
    run.timed_out = send_steps(backend, &mut runner, &mut p, spec).await;
    if run.timed_out.is_none() {
        run.timed_out = wait_for_waiting(backend, &mut runner, &mut p, spec).await;
    }
    run.tables = read_tables(runner.observer(), tables).await;
    run.history = backend.history(runner.observer());
    let (sessions, records) = runner.into_parts();
    let log = std::mem::take(&mut *lock(&backend.log));
    record_outcomes(&mut run, &p, &records, log);
    run.events = p.events;
    if teardown {
        run_teardowns(backend, spec, sessions).await?;
    } else {
        backend.close(sessions).await;
    }
    Ok(run)
}
