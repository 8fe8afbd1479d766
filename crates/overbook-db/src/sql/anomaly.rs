//! The isolation anomaly suite of [`crate::store::anomaly`], as SQL
//! scripts that run on any [`Backend`]: the simulated store
//! ([`SimBackend`]) or a real PostgreSQL
//! (`crate::postgres::PgBackend`), each session on its own connection,
//! steps in the script's order. A step that blocks stays pending while the
//! script goes on with the other sessions, as in three psql windows (and
//! PostgreSQL's isolationtester).

pub use super::script::{Backend, SimBackend};
use super::script::{Runner, Setup, Stmt};
use super::{begin_sql, Session};
use crate::store::anomaly::{AnomalyResult, Outcome, ANOMALIES};
use crate::store::{DbError, Isolation, SqlState};

/// The tables every script starts from.
pub const SETUP: Setup = Setup {
    tables: &["kv", "emp", "booking", "stay", "kv_ref", "heap", "hold"],
    ddl: &[
        "CREATE TABLE kv (k text PRIMARY KEY, v integer NOT NULL)",
        "CREATE TABLE emp (id integer PRIMARY KEY, dept integer NOT NULL)",
        "CREATE INDEX emp_dept ON emp (dept)",
        "CREATE TABLE booking (id integer PRIMARY KEY, room integer NOT NULL)",
        "CREATE INDEX booking_room ON booking (room)",
        "CREATE TABLE stay (id integer PRIMARY KEY, room integer NOT NULL, span int4range NOT NULL, \
         EXCLUDE USING gist (room WITH =, span WITH &&))",
        "CREATE TABLE kv_ref (id integer PRIMARY KEY, k text NOT NULL REFERENCES kv (k))",
        "CREATE TABLE heap (id integer, v integer)",
        "CREATE TABLE hold (id integer PRIMARY KEY, seat integer NOT NULL, status text NOT NULL)",
        "CREATE UNIQUE INDEX hold_one_active ON hold (seat) WHERE status = 'active'",
    ],
};

/// One anomaly's script: its sessions, the rows loaded before they begin
/// (autocommit, on the observer), and its steps as (session, statement).
#[derive(Clone, Debug)]
pub struct Script {
    /// How many sessions it uses.
    pub sessions: usize,
    /// Statements that load the initial rows.
    pub initial: &'static [&'static str],
    /// The steps, in order; each session has begun at the level first.
    pub steps: Vec<(usize, Stmt)>,
}

/// The script of `anomaly` (one of [`ANOMALIES`]), or `None` for an
/// unknown name.
pub fn script(anomaly: &str) -> Option<Script> {
    let (sessions, initial) = sessions_and_data(anomaly)?;
    Some(Script {
        sessions,
        initial,
        steps: steps(anomaly),
    })
}

/// How many sessions `anomaly` takes and the rows it starts from, or
/// `None` for an unknown name.
fn sessions_and_data(anomaly: &str) -> Option<(usize, &'static [&'static str])> {
    Some(match anomaly {
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
        _ => return None,
    })
}

/// The steps of `anomaly` (a known name), session by session: a table of
/// data, as the literature writes each history.
fn steps(anomaly: &str) -> Vec<(usize, Stmt)> {
    let sql = |text: &str| Stmt::sql(text);
    let plus = |key: &str, delta: i64| Stmt::WritePlus(key.to_string(), delta);
    let read_x = "SELECT v FROM kv WHERE k = 'x'";
    let read_y = "SELECT v FROM kv WHERE k = 'y'";
    match anomaly {
        "G0" => vec![
            (0, sql("UPDATE kv SET v = 1 WHERE k = 'x'")),
            (1, sql("UPDATE kv SET v = 2 WHERE k = 'x'")),
            (0, sql("UPDATE kv SET v = 1 WHERE k = 'y'")),
            (0, sql("COMMIT")),
            (1, sql("UPDATE kv SET v = 2 WHERE k = 'y'")),
            (1, sql("COMMIT")),
        ],
        "G1a" => vec![
            (0, sql("UPDATE kv SET v = 1 WHERE k = 'x'")),
            (1, sql(read_x)),
            (0, sql("ROLLBACK")),
            (1, sql("COMMIT")),
        ],
        "G1b" => vec![
            (0, sql("UPDATE kv SET v = 1 WHERE k = 'x'")),
            (1, sql(read_x)),
            (0, sql("UPDATE kv SET v = 2 WHERE k = 'x'")),
            (0, sql("COMMIT")),
            (1, sql("COMMIT")),
        ],
        "G1c" => vec![
            (0, sql("UPDATE kv SET v = 1 WHERE k = 'x'")),
            (1, sql("UPDATE kv SET v = 1 WHERE k = 'y'")),
            (0, sql(read_y)),
            (1, sql(read_x)),
            (0, sql("COMMIT")),
            (1, sql("COMMIT")),
        ],
        "lost-update" => vec![
            (0, sql(read_x)),
            (1, sql(read_x)),
            (0, plus("x", 1)),
            (1, plus("x", 1)),
            (0, sql("COMMIT")),
            (1, sql("COMMIT")),
        ],
        "non-repeatable-read" => vec![
            (0, sql(read_x)),
            (1, sql("UPDATE kv SET v = 1 WHERE k = 'x'")),
            (1, sql("COMMIT")),
            (0, sql(read_x)),
            (0, sql("COMMIT")),
        ],
        "phantom" => vec![
            (0, sql("SELECT count(*) FROM emp WHERE dept = 1")),
            (1, sql("INSERT INTO emp VALUES (2, 1)")),
            (1, sql("COMMIT")),
            (0, sql("SELECT count(*) FROM emp WHERE dept = 1")),
            (0, sql("COMMIT")),
        ],
        "read-skew" => vec![
            (0, sql(read_x)),
            (1, sql("UPDATE kv SET v = 25 WHERE k = 'x'")),
            (1, sql("UPDATE kv SET v = 75 WHERE k = 'y'")),
            (1, sql("COMMIT")),
            (0, sql(read_y)),
            (0, sql("COMMIT")),
        ],
        "write-skew" => vec![
            (0, sql(read_x)),
            (0, sql(read_y)),
            (1, sql(read_x)),
            (1, sql(read_y)),
            (0, sql("UPDATE kv SET v = 0 WHERE k = 'x'")),
            (1, sql("UPDATE kv SET v = 0 WHERE k = 'y'")),
            (0, sql("COMMIT")),
            (1, sql("COMMIT")),
        ],
        "predicate-write-skew" => vec![
            (0, sql("SELECT count(*) FROM booking WHERE room = 1")),
            (1, sql("SELECT count(*) FROM booking WHERE room = 1")),
            (0, sql("INSERT INTO booking VALUES (1, 1)")),
            (1, sql("INSERT INTO booking VALUES (2, 1)")),
            (0, sql("COMMIT")),
            (1, sql("COMMIT")),
        ],
        "read-only-anomaly" => vec![
            (0, sql(read_x)),
            (0, sql(read_y)),
            (1, sql(read_y)),
            (1, sql("UPDATE kv SET v = 20 WHERE k = 'y'")),
            (1, sql("COMMIT")),
            (2, sql(read_x)),
            (2, sql(read_y)),
            (2, sql("COMMIT")),
            (0, sql("UPDATE kv SET v = -11 WHERE k = 'x'")),
            (0, sql("COMMIT")),
        ],
        _ => unreachable!("`script` knows the name"),
    }
}

/// Runs one anomaly at one level on `backend`.
pub async fn run_anomaly<B: Backend>(
    backend: &mut B,
    anomaly: &'static str,
    level: Isolation,
) -> Result<AnomalyResult, DbError> {
    let Some(Script {
        sessions,
        initial,
        steps,
    }) = script(anomaly)
    else {
        return Err(DbError::new(
            SqlState::Other("XX000"),
            format!("unknown anomaly {anomaly}"),
        ));
    };
    let mut conns = backend.open(&SETUP, sessions).await?;
    let mut observer = conns.pop().expect("an observer");
    for stmt in initial {
        observer.execute(stmt, &[]).await?;
    }
    for s in conns.iter_mut() {
        s.execute(begin_sql(level), &[]).await?;
    }
    let mut run = Runner::new(conns, observer);
    for (session, stmt) in &steps {
        run.issue(backend, *session, stmt).await;
    }
    // Whatever still waits once the script ends stays unfinished (a
    // script that leaves a session blocked is a script bug).
    while run.any_busy() && run.drive(backend).await {}
    let x = query_int(run.observer(), "SELECT v FROM kv WHERE k = 'x'").await;
    let y = query_int(run.observer(), "SELECT v FROM kv WHERE k = 'y'").await;
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
                && query_int(
                    run.observer(),
                    "SELECT count(*) FROM booking WHERE room = 1",
                )
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
    let error = if happened { None } else { run.first_error() };
    let (sessions, _) = run.into_parts();
    backend.close(sessions).await;
    Ok(AnomalyResult {
        anomaly,
        level,
        outcome: if happened {
            Outcome::Allowed
        } else {
            Outcome::Prevented
        },
        error,
        cycle_found: None,
    })
}

async fn query_int<S: Session>(observer: &mut S, sql: &str) -> Option<i64> {
    let rows = observer.execute(sql, &[]).await.ok()?;
    rows.rows.first()?.first()?.as_int()
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
    crate::store::block_on(run_matrix(&mut SimBackend::default()))
        .expect("the simulated suite sets up")
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
