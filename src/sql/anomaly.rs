//! The isolation anomaly suite of [`crate::store::anomaly`], as SQL
//! scripts that run on any [`Backend`]: the simulated store
//! ([`SimBackend`]) or a real PostgreSQL
//! (`crate::postgres::PgBackend`), each session on its own connection,
//! steps in the script's order. A step that blocks stays pending while the
//! script goes on with the other sessions, as in three psql windows (and
//! PostgreSQL's isolationtester).

use super::{begin_sql, Rows, Session, SqlDb, Value};
use crate::store::anomaly::{AnomalyResult, Outcome, ANOMALIES};
use crate::store::{DbError, Isolation, SqlState};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// Where the scripts run.
pub trait Backend {
    /// A connection.
    type S: Session + 'static;

    /// `sessions` fresh connections plus one observer (last), on a
    /// database holding only the suite's tables, created empty.
    fn open(&mut self, sessions: usize) -> impl Future<Output = Result<Vec<Self::S>, DbError>>;

    /// Called while session `index`'s statement is still running after
    /// every other runnable session made its progress: whether it is
    /// blocked on a lock (the script then goes on). `false` means "not
    /// yet known": the runner polls again.
    fn blocked(&mut self, observer: &mut Self::S, index: usize) -> impl Future<Output = bool>;
}

/// The tables every script starts from.
pub const SETUP: [&str; 6] = [
    "CREATE TABLE kv (k text PRIMARY KEY, v integer NOT NULL)",
    "CREATE TABLE emp (id integer PRIMARY KEY, dept integer NOT NULL)",
    "CREATE INDEX emp_dept ON emp (dept)",
    "CREATE TABLE booking (id integer PRIMARY KEY, room integer NOT NULL)",
    "CREATE INDEX booking_room ON booking (room)",
    "CREATE TABLE stay (id integer PRIMARY KEY, room integer NOT NULL, span int4range NOT NULL, \
     EXCLUDE USING gist (room WITH =, span WITH &&))",
];

/// The simulated store: a fresh [`SqlDb`] per script; a statement still
/// pending once nothing else can run is blocked.
#[derive(Debug, Default)]
pub struct SimBackend;

impl Backend for SimBackend {
    type S = super::SqlSession;

    async fn open(&mut self, sessions: usize) -> Result<Vec<Self::S>, DbError> {
        let db = SqlDb::new_empty();
        let mut observer = db.session();
        for stmt in SETUP {
            observer.execute(stmt, &[]).await?;
        }
        let mut out: Vec<_> = (0..sessions).map(|_| db.session()).collect();
        out.push(observer);
        Ok(out)
    }

    async fn blocked(&mut self, _observer: &mut Self::S, _index: usize) -> bool {
        true
    }
}

type StepFuture<S> = Pin<Box<dyn Future<Output = (S, Result<Rows, DbError>)>>>;

enum Slot<S> {
    Idle(S),
    Busy(StepFuture<S>, usize),
    Gone,
}

/// What a script did.
struct Run<S: Session + 'static> {
    slots: Vec<Slot<S>>,
    observer: S,
    steps: Vec<(usize, String)>,
    results: Vec<Option<Result<Rows, DbError>>>,
    /// Step indexes in the order their statements completed.
    completed: Vec<usize>,
}

enum Stmt {
    Sql(&'static str),
    /// `UPDATE kv SET v = <this session's last read of key> + delta`.
    WritePlus(&'static str, i64),
}

const LIMIT_POLLS: usize = 4000;

impl<S: Session + 'static> Run<S> {
    /// Polls every running statement until none progresses.
    async fn settle(&mut self) {
        loop {
            let progressed = std::future::poll_fn(|cx| {
                let mut any = false;
                for slot in self.slots.iter_mut() {
                    let Slot::Busy(future, index) = slot else {
                        continue;
                    };
                    if let Poll::Ready((s, result)) = future.as_mut().poll(cx) {
                        self.results[*index] = Some(result);
                        self.completed.push(*index);
                        *slot = Slot::Idle(s);
                        any = true;
                    }
                }
                Poll::Ready(any)
            })
            .await;
            if !progressed {
                return;
            }
        }
    }

    fn last_read(&self, session: usize, key: &str) -> Option<i64> {
        let read = format!("SELECT v FROM kv WHERE k = '{key}'");
        self.steps
            .iter()
            .zip(&self.results)
            .rev()
            .find(|((s, sql), _)| *s == session && *sql == read)
            .and_then(|(_, r)| r.as_ref()?.as_ref().ok()?.int(0, "v"))
    }

    async fn step<B: Backend<S = S>>(&mut self, backend: &mut B, session: usize, stmt: Stmt) {
        let (sql, params): (String, Vec<Value>) = match stmt {
            Stmt::Sql(sql) => (sql.to_string(), Vec::new()),
            Stmt::WritePlus(key, delta) => {
                let base = self.last_read(session, key).unwrap_or(0);
                (
                    format!("UPDATE kv SET v = $1 WHERE k = '{key}'"),
                    vec![Value::Int(base + delta)],
                )
            }
        };
        let index = self.steps.len();
        self.steps.push((session, sql.clone()));
        self.results.push(None);
        match std::mem::replace(&mut self.slots[session], Slot::Gone) {
            Slot::Idle(mut s) => {
                self.slots[session] = Slot::Busy(
                    Box::pin(async move {
                        let r = s.execute(&sql, &params).await;
                        (s, r)
                    }),
                    index,
                );
            }
            other => {
                self.slots[session] = other;
                self.results[index] = Some(Err(DbError::new(
                    SqlState::Other("XX000"),
                    "script issued a statement to a session that is waiting",
                )));
                return;
            }
        }
        for _ in 0..LIMIT_POLLS {
            self.settle().await;
            if !matches!(self.slots[session], Slot::Busy(..)) {
                return;
            }
            if backend.blocked(&mut self.observer, session).await {
                return;
            }
        }
    }

    async fn finish<B: Backend<S = S>>(&mut self, backend: &mut B) {
        for _ in 0..LIMIT_POLLS {
            self.settle().await;
            let waiting = self.slots.iter().position(|s| matches!(s, Slot::Busy(..)));
            match waiting {
                None => return,
                Some(i) => {
                    if backend.blocked(&mut self.observer, i).await {
                        // Still blocked with nothing left to run: a script bug.
                        return;
                    }
                }
            }
        }
    }

    /// Lets every waiting statement that the last step unblocked complete
    /// (a real server finishes it a moment after the step), as
    /// isolationtester checks the waiting steps after each step.
    async fn settle_waiting<B: Backend<S = S>>(&mut self, backend: &mut B) {
        for i in 0..self.slots.len() {
            for _ in 0..LIMIT_POLLS {
                self.settle().await;
                if !matches!(self.slots[i], Slot::Busy(..))
                    || backend.blocked(&mut self.observer, i).await
                {
                    break;
                }
            }
        }
    }

    fn ok(&self, index: usize) -> Option<&Rows> {
        self.results.get(index)?.as_ref()?.as_ref().ok()
    }

    fn int(&self, index: usize) -> Option<i64> {
        self.ok(index)
            .and_then(|r| r.rows.first()?.first()?.as_int())
    }

    fn committed(&self, session: usize) -> bool {
        let mine: Vec<_> = self
            .steps
            .iter()
            .zip(&self.results)
            .filter(|((s, _), _)| *s == session)
            .collect();
        mine.iter().all(|(_, r)| matches!(r, Some(Ok(_))))
            && mine.iter().any(|((_, sql), _)| sql == "COMMIT")
    }

    fn first_error(&self) -> Option<&'static str> {
        self.results
            .iter()
            .flatten()
            .find_map(|r| r.as_ref().err())
            .filter(|e| e.code != SqlState::InFailedTransaction)
            .map(|e| e.code.code())
    }

    async fn query_int(&mut self, sql: &str) -> Option<i64> {
        let rows = self.observer.execute(sql, &[]).await.ok()?;
        rows.rows.first()?.first()?.as_int()
    }
}

/// Runs one anomaly at one level on `backend`.
pub async fn run_anomaly<B: Backend>(
    backend: &mut B,
    anomaly: &'static str,
    level: Isolation,
) -> Result<AnomalyResult, DbError> {
    use Stmt::*;
    let (sessions, initial): (usize, &[&str]) = match anomaly {
        "G0" | "G1c" | "read-skew" | "write-skew" | "read-only-anomaly" => (
            if anomaly == "read-only-anomaly" { 3 } else { 2 },
            match anomaly {
                "read-skew" => &["INSERT INTO kv VALUES ('x', 50), ('y', 50)"],
                "write-skew" => &["INSERT INTO kv VALUES ('x', 1), ('y', 1)"],
                _ => &["INSERT INTO kv VALUES ('x', 0), ('y', 0)"],
            },
        ),
        "G1a" | "G1b" | "lost-update" | "non-repeatable-read" => {
            (2, &["INSERT INTO kv VALUES ('x', 0)"])
        }
        "phantom" => (2, &["INSERT INTO emp VALUES (1, 1)"]),
        "predicate-write-skew" => (2, &[]),
        other => {
            return Err(DbError::new(
                SqlState::Other("XX000"),
                format!("unknown anomaly {other}"),
            ))
        }
    };
    let mut conns = backend.open(sessions).await?;
    let mut observer = conns.pop().expect("an observer");
    for stmt in initial {
        observer.execute(stmt, &[]).await?;
    }
    let mut run = Run {
        slots: Vec::new(),
        observer,
        steps: Vec::new(),
        results: Vec::new(),
        completed: Vec::new(),
    };
    for mut s in conns {
        s.execute(begin_sql(level), &[]).await?;
        run.slots.push(Slot::Idle(s));
    }
    let read_x = "SELECT v FROM kv WHERE k = 'x'";
    let read_y = "SELECT v FROM kv WHERE k = 'y'";
    let script: Vec<(usize, Stmt)> = match anomaly {
        "G0" => vec![
            (0, Sql("UPDATE kv SET v = 1 WHERE k = 'x'")),
            (1, Sql("UPDATE kv SET v = 2 WHERE k = 'x'")),
            (0, Sql("UPDATE kv SET v = 1 WHERE k = 'y'")),
            (0, Sql("COMMIT")),
            (1, Sql("UPDATE kv SET v = 2 WHERE k = 'y'")),
            (1, Sql("COMMIT")),
        ],
        "G1a" => vec![
            (0, Sql("UPDATE kv SET v = 1 WHERE k = 'x'")),
            (1, Sql(read_x)),
            (0, Sql("ROLLBACK")),
            (1, Sql("COMMIT")),
        ],
        "G1b" => vec![
            (0, Sql("UPDATE kv SET v = 1 WHERE k = 'x'")),
            (1, Sql(read_x)),
            (0, Sql("UPDATE kv SET v = 2 WHERE k = 'x'")),
            (0, Sql("COMMIT")),
            (1, Sql("COMMIT")),
        ],
        "G1c" => vec![
            (0, Sql("UPDATE kv SET v = 1 WHERE k = 'x'")),
            (1, Sql("UPDATE kv SET v = 1 WHERE k = 'y'")),
            (0, Sql(read_y)),
            (1, Sql(read_x)),
            (0, Sql("COMMIT")),
            (1, Sql("COMMIT")),
        ],
        "lost-update" => vec![
            (0, Sql(read_x)),
            (1, Sql(read_x)),
            (0, WritePlus("x", 1)),
            (1, WritePlus("x", 1)),
            (0, Sql("COMMIT")),
            (1, Sql("COMMIT")),
        ],
        "non-repeatable-read" => vec![
            (0, Sql(read_x)),
            (1, Sql("UPDATE kv SET v = 1 WHERE k = 'x'")),
            (1, Sql("COMMIT")),
            (0, Sql(read_x)),
            (0, Sql("COMMIT")),
        ],
        "phantom" => vec![
            (0, Sql("SELECT count(*) FROM emp WHERE dept = 1")),
            (1, Sql("INSERT INTO emp VALUES (2, 1)")),
            (1, Sql("COMMIT")),
            (0, Sql("SELECT count(*) FROM emp WHERE dept = 1")),
            (0, Sql("COMMIT")),
        ],
        "read-skew" => vec![
            (0, Sql(read_x)),
            (1, Sql("UPDATE kv SET v = 25 WHERE k = 'x'")),
            (1, Sql("UPDATE kv SET v = 75 WHERE k = 'y'")),
            (1, Sql("COMMIT")),
            (0, Sql(read_y)),
            (0, Sql("COMMIT")),
        ],
        "write-skew" => vec![
            (0, Sql(read_x)),
            (0, Sql(read_y)),
            (1, Sql(read_x)),
            (1, Sql(read_y)),
            (0, Sql("UPDATE kv SET v = 0 WHERE k = 'x'")),
            (1, Sql("UPDATE kv SET v = 0 WHERE k = 'y'")),
            (0, Sql("COMMIT")),
            (1, Sql("COMMIT")),
        ],
        "predicate-write-skew" => vec![
            (0, Sql("SELECT count(*) FROM booking WHERE room = 1")),
            (1, Sql("SELECT count(*) FROM booking WHERE room = 1")),
            (0, Sql("INSERT INTO booking VALUES (1, 1)")),
            (1, Sql("INSERT INTO booking VALUES (2, 1)")),
            (0, Sql("COMMIT")),
            (1, Sql("COMMIT")),
        ],
        "read-only-anomaly" => vec![
            (0, Sql(read_x)),
            (0, Sql(read_y)),
            (1, Sql(read_y)),
            (1, Sql("UPDATE kv SET v = 20 WHERE k = 'y'")),
            (1, Sql("COMMIT")),
            (2, Sql(read_x)),
            (2, Sql(read_y)),
            (2, Sql("COMMIT")),
            (0, Sql("UPDATE kv SET v = -11 WHERE k = 'x'")),
            (0, Sql("COMMIT")),
        ],
        _ => unreachable!("checked above"),
    };
    for (session, stmt) in script {
        run.step(backend, session, stmt).await;
    }
    run.finish(backend).await;
    let x = run.query_int("SELECT v FROM kv WHERE k = 'x'").await;
    let y = run.query_int("SELECT v FROM kv WHERE k = 'y'").await;
    let happened = match anomaly {
        "G0" => (x == Some(2) && y == Some(1)) || (x == Some(1) && y == Some(2)),
        "G1a" | "G1b" => run.int(1) == Some(1) && run.committed(1),
        "G1c" => {
            run.int(2) == Some(1) && run.int(3) == Some(1) && run.committed(0) && run.committed(1)
        }
        "lost-update" => run.committed(0) && run.committed(1) && x == Some(1),
        "non-repeatable-read" | "phantom" => run.int(0) != run.int(3) && run.committed(0),
        "read-skew" => match (run.int(0), run.int(4)) {
            (Some(a), Some(b)) => a + b != 100 && run.committed(0),
            _ => false,
        },
        "write-skew" => run.committed(0) && run.committed(1) && x == Some(0) && y == Some(0),
        "predicate-write-skew" => {
            run.committed(0)
                && run.committed(1)
                && run
                    .query_int("SELECT count(*) FROM booking WHERE room = 1")
                    .await
                    == Some(2)
        }
        "read-only-anomaly" => {
            run.committed(0)
                && run.committed(1)
                && run.committed(2)
                && run.int(5) == Some(0)
                && run.int(6) == Some(20)
        }
        _ => unreachable!("checked above"),
    };
    Ok(AnomalyResult {
        anomaly,
        level,
        outcome: if happened {
            Outcome::Allowed
        } else {
            Outcome::Prevented
        },
        error: if happened { None } else { run.first_error() },
        cycle_found: None,
    })
}

/// A script in the manner of PostgreSQL's isolationtester: sessions
/// (each on its own connection) run `steps` in order; a step that blocks
/// stays pending while the others go on, and its result is shown where it
/// completes. Its [`Transcript`] on the simulated store must equal the one
/// recorded from PostgreSQL 15 (`expected`), statement for statement.
#[derive(Clone, Copy, Debug)]
pub struct Script {
    /// A kebab-case name.
    pub name: &'static str,
    /// What it shows, in a sentence.
    pub about: &'static str,
    /// Rows loaded before the sessions start (on the suite's tables).
    pub setup: &'static [&'static str],
    /// How many sessions.
    pub sessions: usize,
    /// `(session, statement)` in the order they are issued.
    pub steps: &'static [(usize, &'static str)],
    /// Queries an observer runs once every session is done.
    pub check: &'static [&'static str],
    /// The transcript PostgreSQL 15 gives, one line per event.
    pub expected: &'static str,
}

/// What a script did, one line per event: each step as it is issued with
/// its outcome (`ok`, the rows, `affected n`, `error SQLSTATE`, or
/// `waiting`), a waiting step's outcome where it completes (`sN <- ...`),
/// then the checks' rows.
pub type Transcript = Vec<String>;

fn outcome(result: &Result<Rows, DbError>) -> String {
    match result {
        Err(e) => format!("error {}", e.code.code()),
        Ok(rows) if !rows.columns.is_empty() => {
            let rows: Vec<String> = rows
                .rows
                .iter()
                .map(|row| {
                    let values: Vec<String> = row.iter().map(|v| v.to_string()).collect();
                    format!("({})", values.join(", "))
                })
                .collect();
            format!("[{}]", rows.join(" "))
        }
        Ok(rows) if rows.affected > 0 => format!("affected {}", rows.affected),
        Ok(_) => "ok".to_string(),
    }
}

/// Runs `script` on `backend` and returns its transcript.
pub async fn run_script<B: Backend>(
    backend: &mut B,
    script: &Script,
) -> Result<Transcript, DbError> {
    let mut conns = backend.open(script.sessions).await?;
    let mut observer = conns.pop().expect("an observer");
    for stmt in script.setup {
        observer.execute(stmt, &[]).await?;
    }
    let mut run = Run {
        slots: conns.into_iter().map(Slot::Idle).collect(),
        observer,
        steps: Vec::new(),
        results: Vec::new(),
        completed: Vec::new(),
    };
    let mut lines = Vec::new();
    let mut reported = 0;
    for &(session, sql) in script.steps {
        assert!(
            session < script.sessions,
            "{}: no session {session}",
            script.name
        );
        let index = run.steps.len();
        run.step(backend, session, Stmt::Sql(sql)).await;
        run.settle_waiting(backend).await;
        let mut line = format!("s{}: {sql} -> ", session + 1);
        if run.results[index].is_none() {
            line.push_str("waiting");
        }
        for &done in &run.completed[reported..] {
            let result = run.results[done].as_ref().expect("completed");
            if done == index {
                line.push_str(&outcome(result));
            }
        }
        lines.push(line);
        for &done in &run.completed[reported..] {
            if done != index {
                let (s, _) = &run.steps[done];
                let result = run.results[done].as_ref().expect("completed");
                lines.push(format!("s{} <- {}", s + 1, outcome(result)));
            }
        }
        reported = run.completed.len();
    }
    run.finish(backend).await;
    for &done in &run.completed[reported..] {
        let (s, _) = &run.steps[done];
        let result = run.results[done].as_ref().expect("completed");
        lines.push(format!("s{} <- {}", s + 1, outcome(result)));
    }
    for (i, slot) in run.slots.iter().enumerate() {
        if matches!(slot, Slot::Busy(..)) {
            lines.push(format!("s{} still waiting at the end", i + 1));
        }
    }
    for query in script.check {
        let result = run.observer.execute(query, &[]).await;
        lines.push(format!("check: {query} -> {}", outcome(&result)));
    }
    Ok(lines)
}

/// The expected transcript of `script` as lines.
pub fn expected_lines(script: &Script) -> Transcript {
    script
        .expected
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Runs every script of [`super::scripts::SCRIPTS`] on `backend`.
pub async fn run_scripts<B: Backend>(
    backend: &mut B,
) -> Result<Vec<(&'static Script, Transcript)>, DbError> {
    let mut out = Vec::new();
    for script in super::scripts::SCRIPTS {
        out.push((script, run_script(backend, script).await?));
    }
    Ok(out)
}

/// Runs every anomaly at every level on `backend`.
pub async fn run_matrix<B: Backend>(backend: &mut B) -> Result<Vec<AnomalyResult>, DbError> {
    let mut results = Vec::with_capacity(ANOMALIES.len() * Isolation::ALL.len());
    for anomaly in ANOMALIES {
        for level in Isolation::ALL {
            results.push(run_anomaly(backend, anomaly, level).await?);
        }
    }
    Ok(results)
}

/// The matrix of the SQL scripts on the simulated store (needs no
/// runtime: the simulated engine never waits on anything outside itself).
pub fn run_sim_matrix() -> Vec<AnomalyResult> {
    crate::store::block_on(run_matrix(&mut SimBackend)).expect("the simulated suite sets up")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::anomaly::postgres_expected;

    #[test]
    fn sql_matrix_on_the_store_equals_postgres_documented_matrix() {
        for r in run_sim_matrix() {
            assert_eq!(
                r.outcome,
                postgres_expected(r.anomaly, r.level),
                "{} at {}: {:?} ({:?})",
                r.anomaly,
                r.level,
                r.outcome,
                r.error
            );
        }
    }

    #[test]
    fn sql_matrix_errors_are_postgres_sqlstates() {
        let m = run_sim_matrix();
        let cell = |a: &str, l: Isolation| {
            m.iter()
                .find(|r| r.anomaly == a && r.level == l)
                .and_then(|r| r.error)
        };
        assert_eq!(
            cell("lost-update", Isolation::RepeatableRead),
            Some("40001")
        );
        assert_eq!(cell("write-skew", Isolation::Serializable), Some("40001"));
        assert_eq!(
            cell("predicate-write-skew", Isolation::Serializable),
            Some("40001")
        );
        assert_eq!(cell("phantom", Isolation::RepeatableRead), None);
    }
}
