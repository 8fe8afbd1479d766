//! SQL on both engines: the simulated store and a real PostgreSQL.
//!
//! The tests on PostgreSQL need a server: they are ignored by a plain
//! `cargo test` (and counted so in its summary); run them with
//! `scripts/with-postgres.sh cargo test -- --ignored` (it starts a throwaway
//! server and sets `OVERBOOK_PG_URL`). See [`pg_url`].

use overbook::postgres::{PgBackend, PgSession};
use overbook::seed::Seed;
use overbook::sql::anomaly::{run_matrix, run_sim_matrix};
use overbook::sql::{Session, SqlDb, Value};
use overbook::store::{DbError, Isolation, Schema, SqlState, Store, StoreConfig, YieldOnce};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

mod confirm;
mod joins;
mod pgspecs;
mod services;
mod types;
mod wire;

/// The PostgreSQL to test against (`OVERBOOK_PG_URL`).
///
/// A test that calls it is marked, so that a plain `cargo test` counts it
/// as ignored, with why, in its summary line (the suite checks the mark):
///
/// ```text
/// #[test]
/// #[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
/// fn my_test_on_postgres() {
///     let Some(url) = pg_url("my_test_on_postgres") else { return };
/// ```
///
/// Run (with `--ignored` or `--include-ignored`) without the variable, it
/// fails rather than pass having done nothing. (The `Option` keeps the
/// older `let Some(url) = pg_url(..) else { return }` form compiling.)
pub fn pg_url(test: &str) -> Option<String> {
    match std::env::var("OVERBOOK_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => panic!(
            "{test} needs PostgreSQL and OVERBOOK_PG_URL is not set: run it through scripts/with-postgres.sh (scripts/with-postgres.sh cargo test -- --ignored)"
        ),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

#[test]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
fn isolation_matrix_of_the_sql_scripts_equals_postgres_run() {
    let store = run_sim_matrix();
    let Some(url) = pg_url("isolation_matrix_of_the_sql_scripts_equals_postgres_run") else {
        return;
    };
    let pg = runtime()
        .block_on(run_matrix(&mut PgBackend::new(&url)))
        .expect("the suite runs on PostgreSQL");
    assert_eq!(store.len(), pg.len());
    for (s, p) in store.iter().zip(&pg) {
        assert_eq!((s.anomaly, s.level), (p.anomaly, p.level));
        assert_eq!(
            (s.outcome, s.error),
            (p.outcome, p.error),
            "{} at {}: store vs PostgreSQL",
            s.anomaly,
            s.level
        );
    }
}

// ---- one booking handler, written once, on both engines ----------------

type Hook = Rc<dyn Fn() -> Pin<Box<dyn Future<Output = ()>>>>;

const SCHEMA: [&str; 2] = [
    "CREATE TABLE auths (id text PRIMARY KEY, total integer NOT NULL, used integer NOT NULL)",
    "CREATE TABLE reservations (id serial PRIMARY KEY, auth_id text NOT NULL REFERENCES auths (id), units integer NOT NULL)",
];

fn retryable(e: &DbError) -> bool {
    matches!(
        e.code,
        SqlState::SerializationFailure | SqlState::DeadlockDetected
    )
}

/// Reserves `units` of authorization `auth`: at Serializable, the row
/// locked with FOR UPDATE, the counter and a reservation row written, the
/// whole transaction retried on 40001/40P01. Returns whether it fit.
async fn reserve_units<S: Session>(s: &mut S, auth: &str, units: i64) -> Result<bool, DbError> {
    for _attempt in 0..20 {
        let result: Result<bool, DbError> = async {
            s.begin(Isolation::Serializable).await?;
            let row = s
                .execute(
                    "SELECT total, used FROM auths WHERE id = $1 FOR UPDATE",
                    &[auth.into()],
                )
                .await?;
            let (total, used) = (
                row.int(0, "total").unwrap_or(0),
                row.int(0, "used").unwrap_or(0),
            );
            if used + units > total {
                s.rollback().await?;
                return Ok(false);
            }
            s.execute(
                "UPDATE auths SET used = used + $2 WHERE id = $1",
                &[auth.into(), units.into()],
            )
            .await?;
            s.execute(
                "INSERT INTO reservations (auth_id, units) VALUES ($1, $2)",
                &[auth.into(), units.into()],
            )
            .await?;
            s.commit().await?;
            Ok(true)
        }
        .await;
        match result {
            Err(e) if retryable(&e) => {
                s.rollback().await?;
            }
            Err(e) => {
                let _ = s.rollback().await;
                return Err(e);
            }
            Ok(fit) => return Ok(fit),
        }
    }
    Err(DbError::new(
        SqlState::SerializationFailure,
        "retries exhausted",
    ))
}

/// The planted bug: Read Committed, read without a lock, write back the
/// value computed from the read. `after_read` is where the test lets the
/// other clients catch up (what real concurrency does by chance).
async fn reserve_units_buggy<S: Session>(
    s: &mut S,
    auth: &str,
    units: i64,
    after_read: Hook,
) -> Result<bool, DbError> {
    s.begin(Isolation::ReadCommitted).await?;
    let row = s
        .execute(
            "SELECT total, used FROM auths WHERE id = $1",
            &[auth.into()],
        )
        .await?;
    let (total, used) = (
        row.int(0, "total").unwrap_or(0),
        row.int(0, "used").unwrap_or(0),
    );
    after_read().await;
    if used + units > total {
        s.rollback().await?;
        return Ok(false);
    }
    s.execute(
        "UPDATE auths SET used = $2 WHERE id = $1",
        &[auth.into(), (used + units).into()],
    )
    .await?;
    s.execute(
        "INSERT INTO reservations (auth_id, units) VALUES ($1, $2)",
        &[auth.into(), units.into()],
    )
    .await?;
    s.commit().await?;
    Ok(true)
}

/// Reserved units, the counter and the authorized total, from the final
/// tables.
async fn totals<S: Session>(s: &mut S) -> (i64, i64, i64) {
    let a = s
        .execute("SELECT total, used FROM auths WHERE id = 'a1'", &[])
        .await
        .unwrap();
    let r = s
        .execute(
            "SELECT coalesce(sum(units), 0) AS units FROM reservations WHERE auth_id = 'a1'",
            &[],
        )
        .await
        .unwrap();
    (
        r.int(0, "units").unwrap(),
        a.int(0, "used").unwrap(),
        a.int(0, "total").unwrap(),
    )
}

const CLIENTS: usize = 8;

/// Runs `CLIENTS` clients at once, each reserving 2 of 10 units, and
/// returns (units reserved, counter, total, reservations that fit).
async fn workload<S: Session + 'static>(
    mut sessions: Vec<S>,
    buggy: bool,
) -> (i64, i64, i64, usize) {
    let mut setup = sessions.pop().expect("a setup session");
    setup
        .execute("INSERT INTO auths VALUES ('a1', 10, 0)", &[])
        .await
        .unwrap();
    let barrier = Rc::new(tokio::sync::Barrier::new(CLIENTS));
    let local = tokio::task::LocalSet::new();
    let mut handles = Vec::new();
    for mut s in sessions {
        let barrier = barrier.clone();
        handles.push(local.spawn_local(async move {
            let hook: Hook = Rc::new(move || {
                let barrier = barrier.clone();
                Box::pin(async move {
                    barrier.wait().await;
                })
            });
            if buggy {
                reserve_units_buggy(&mut s, "a1", 2, hook).await
            } else {
                reserve_units(&mut s, "a1", 2).await
            }
        }));
    }
    let fit = local
        .run_until(async move {
            let mut fit = 0;
            for h in handles {
                if h.await.expect("client task").expect("no fatal error") {
                    fit += 1;
                }
            }
            fit
        })
        .await;
    let (units, used, total) = totals(&mut setup).await;
    (units, used, total, fit)
}

async fn sim_sessions() -> Vec<overbook::sql::SqlSession> {
    let store = Store::new(Schema::default(), StoreConfig::default(), Seed(7));
    store.set_pacer(Arc::new(YieldOnce));
    let db = SqlDb::new(store);
    let mut s = db.session();
    for stmt in SCHEMA {
        s.execute(stmt, &[]).await.unwrap();
    }
    (0..=CLIENTS).map(|_| db.session()).collect()
}

async fn pg_sessions(url: &str) -> Vec<PgSession> {
    let mut s = PgSession::connect(url).await.unwrap();
    s.client()
        .batch_execute("DROP TABLE IF EXISTS reservations, auths")
        .await
        .unwrap();
    for stmt in SCHEMA {
        s.execute(stmt, &[]).await.unwrap();
    }
    let mut out = Vec::new();
    for _ in 0..=CLIENTS {
        out.push(PgSession::connect(url).await.unwrap());
    }
    out
}

#[test]
fn one_reserve_handler_never_overbooks_on_the_store_and_its_bug_does() {
    let rt = runtime();
    let (units, used, total, fit) =
        rt.block_on(async { workload(sim_sessions().await, false).await });
    assert_eq!(
        (units, used, total, fit),
        (10, 10, 10, 5),
        "store, correct handler"
    );
    let (units, used, total, _) = rt.block_on(async { workload(sim_sessions().await, true).await });
    assert!(
        units > total && used < units,
        "store, buggy handler: {units} reserved, counter {used}, total {total}"
    );
}

/// The same handler as [`one_reserve_handler_never_overbooks_on_the_store_and_its_bug_does`], on PostgreSQL.
#[test]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
fn one_reserve_handler_never_overbooks_on_postgres_and_its_bug_does() {
    let rt = runtime();
    let Some(url) = pg_url("one_reserve_handler_never_overbooks_on_postgres_and_its_bug_does")
    else {
        return;
    };
    let (units, used, total, fit) =
        rt.block_on(async { workload(pg_sessions(&url).await, false).await });
    assert_eq!(
        (units, used, total, fit),
        (10, 10, 10, 5),
        "PostgreSQL, correct handler"
    );
    let (units, used, total, _) =
        rt.block_on(async { workload(pg_sessions(&url).await, true).await });
    assert!(
        units > total && used < units,
        "PostgreSQL, buggy handler: {units} reserved, counter {used}, total {total}"
    );
}

// ---- statement by statement: the same results and SQLSTATEs -----------

const SCRIPT: &[&str] = &[
    "CREATE TABLE rooms (id integer PRIMARY KEY, name text NOT NULL UNIQUE, floor integer, capacity integer CHECK (capacity > 0))",
    "CREATE INDEX rooms_floor ON rooms (floor)",
    "CREATE TABLE stays (id integer PRIMARY KEY, room_id integer NOT NULL REFERENCES rooms (id), span int4range NOT NULL, note jsonb, EXCLUDE USING gist (room_id WITH =, span WITH &&))",
    "INSERT INTO rooms VALUES (1, 'a', 1, 2), (2, 'b', 1, 4), (3, 'c', 2, 6), (4, 'd', NULL, 8)",
    "SELECT id, name FROM rooms WHERE floor = 1 ORDER BY id DESC",
    "SELECT id FROM rooms WHERE floor IS NULL OR capacity BETWEEN 5 AND 6 ORDER BY id",
    "SELECT floor, count(*), sum(capacity), min(name), max(capacity) FROM rooms GROUP BY floor ORDER BY floor NULLS FIRST",
    "SELECT count(*) FROM rooms WHERE floor > 5",
    "UPDATE rooms SET capacity = capacity * 2 WHERE floor = 1 RETURNING id, capacity",
    "UPDATE rooms SET capacity = 0 WHERE id = 1",
    "INSERT INTO rooms VALUES (5, 'a', 3, 1)",
    "INSERT INTO rooms (id, name) VALUES (1, 'z') ON CONFLICT (id) DO UPDATE SET name = excluded.name || rooms.name RETURNING id, name",
    "INSERT INTO rooms (id, name) VALUES (1, 'y') ON CONFLICT DO NOTHING",
    "INSERT INTO stays VALUES (1, 1, '[10,20)', '{\"b\": 1, \"a\": [true, null]}')",
    "INSERT INTO stays VALUES (2, 1, '[15,25)', NULL)",
    "INSERT INTO stays VALUES (3, 1, int4range(20, 30), NULL)",
    "INSERT INTO stays VALUES (4, 9, '[1,2)', NULL)",
    "SELECT s.id, r.name, lower(s.span), upper(s.span), s.note FROM stays s JOIN rooms r ON r.id = s.room_id ORDER BY s.id",
    "SELECT id FROM stays WHERE span && '[19,21)' ORDER BY id",
    "SELECT id FROM stays WHERE span @> 25",
    "DELETE FROM rooms WHERE id = 1",
    "DELETE FROM rooms WHERE id = 4 RETURNING name, floor",
    "SELECT id, name, capacity FROM rooms ORDER BY capacity DESC LIMIT 2 OFFSET 1",
    "SELECT name FROM rooms WHERE id IN (2, 3) AND NOT (name = 'b')",
    "INSERT INTO rooms (id, name, capacity) VALUES (6, 'f', 1), (7, 'g', NULL) RETURNING id",
    "SELECT nope FROM rooms",
    "SELECT * FROM nowhere",
    "SELECT id / 0 FROM rooms",
];

async fn transcript<S: Session>(s: &mut S) -> Vec<String> {
    let mut out = Vec::new();
    for sql in SCRIPT {
        out.push(match s.execute(sql, &[]).await {
            Ok(rows) => format!("{sql} -> {:?} affected {}", rows.rows, rows.affected),
            Err(e) => format!("{sql} -> error {}", e.code),
        });
    }
    out
}

#[test]
fn statements_on_the_store_fail_with_the_constraints_sqlstates() {
    let db = SqlDb::new_empty();
    let store = runtime().block_on(async { transcript(&mut db.session()).await });
    assert!(store[9].ends_with("error 23514"), "{}", store[9]);
    assert!(store[14].ends_with("error 23P01"), "{}", store[14]);
    assert!(store[20].ends_with("error 23503"), "{}", store[20]);
}

#[test]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
fn statements_return_what_postgres_returns() {
    let rt = runtime();
    let db = SqlDb::new_empty();
    let store = rt.block_on(async { transcript(&mut db.session()).await });
    let Some(url) = pg_url("statements_return_what_postgres_returns") else {
        return;
    };
    let pg = rt.block_on(async {
        let mut s = PgSession::connect(&url).await.unwrap();
        s.client()
            .batch_execute(
                "DROP TABLE IF EXISTS stays, rooms; CREATE EXTENSION IF NOT EXISTS btree_gist",
            )
            .await
            .unwrap();
        transcript(&mut s).await
    });
    for (a, b) in store.iter().zip(&pg) {
        assert_eq!(a, b, "simulated store vs PostgreSQL");
    }
    assert_eq!(Value::Int(1), Value::from(1i64));
}

// ---- scripts with PostgreSQL's transcripts ------------------------------

#[test]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
fn scripts_give_the_recorded_transcripts_on_postgres() {
    use overbook::sql::scripts::{expected_lines, run_scripts};
    let Some(url) = pg_url("scripts_give_the_recorded_transcripts_on_postgres") else {
        return;
    };
    let pg = runtime()
        .block_on(run_scripts(&mut PgBackend::new(&url)))
        .expect("the scripts run on PostgreSQL");
    let mut failures = Vec::new();
    for (script, got) in pg {
        let want = expected_lines(script);
        if got != want {
            failures.push(format!(
                "{}:\n  PostgreSQL:\n    {}\n  recorded:\n    {}",
                script.name,
                got.join("\n    "),
                want.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
