use super::*;
use crate::store::block_on;

fn db_with(ddl: &[&str]) -> SqlDb {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    for stmt in ddl {
        block_on(s.execute(stmt, &[])).unwrap_or_else(|e| panic!("{stmt}: {e}"));
    }
    db
}

fn exec(s: &mut SqlSession, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
    block_on(s.execute(sql, params))
}

fn ok(s: &mut SqlSession, sql: &str, params: &[Value]) -> Rows {
    exec(s, sql, params).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn code(s: &mut SqlSession, sql: &str, params: &[Value]) -> &'static str {
    match exec(s, sql, params) {
        Ok(rows) => panic!("{sql}: expected an error, got {rows:?}"),
        Err(e) => e.code.code(),
    }
}

fn ints(rows: &Rows) -> Vec<Vec<i64>> {
    rows.rows
        .iter()
        .map(|r| r.iter().map(|v| v.as_int().unwrap_or(i64::MIN)).collect())
        .collect()
}

const ROOMS: &[&str] = &[
    "CREATE TABLE rooms (id int PRIMARY KEY, name text NOT NULL UNIQUE, floor int, capacity int CHECK (capacity > 0))",
    "CREATE INDEX rooms_floor ON rooms (floor)",
    "CREATE TABLE bookings (id serial PRIMARY KEY, room_id int NOT NULL REFERENCES rooms(id), span int4range NOT NULL, who text DEFAULT 'anon', EXCLUDE USING gist (room_id WITH =, span WITH &&))",
];

fn rooms() -> SqlDb {
    let db = db_with(ROOMS);
    let mut s = db.session();
    for (id, name, floor, cap) in [
        (1, "a", 1, 2),
        (2, "b", 1, 4),
        (3, "c", 2, 6),
        (4, "d", 3, 8),
    ] {
        ok(
            &mut s,
            "INSERT INTO rooms (id, name, floor, capacity) VALUES ($1, $2, $3, $4)",
            &[id.into(), name.into(), floor.into(), cap.into()],
        );
    }
    db
}

#[test]
fn insert_select_where_order_limit() {
    let db = rooms();
    let mut s = db.session();
    let r = ok(
        &mut s,
        "SELECT id, name FROM rooms WHERE floor = $1 ORDER BY id DESC",
        &[1.into()],
    );
    assert_eq!(r.columns, vec!["id", "name"]);
    assert_eq!(
        r.rows,
        vec![
            vec![Value::Int(2), "b".into()],
            vec![Value::Int(1), "a".into()]
        ]
    );
    let r = ok(&mut s, "SELECT id FROM rooms WHERE capacity BETWEEN 3 AND 7 OR name IN ('d') ORDER BY 1 LIMIT 2 OFFSET 1", &[]);
    assert_eq!(ints(&r), vec![vec![3], vec![4]]);
    let r = ok(
        &mut s,
        "SELECT id FROM rooms WHERE NOT (floor = 1) AND floor IS NOT NULL ORDER BY capacity",
        &[],
    );
    assert_eq!(ints(&r), vec![vec![3], vec![4]]);
    let r = ok(&mut s, "SELECT * FROM rooms WHERE id = 3", &[]);
    assert_eq!(r.columns.len(), 4);
    assert_eq!(r.get(0, "name"), Some(&Value::Text("c".into())));
    // A text parameter is read as the column's type, as a text-format
    // parameter is by PostgreSQL.
    assert_eq!(
        ok(
            &mut s,
            "SELECT name FROM rooms WHERE id = $1",
            &["2".into()]
        )
        .len(),
        1
    );
}

#[test]
fn aggregates_and_group_by() {
    let db = rooms();
    let mut s = db.session();
    let r = ok(&mut s, "SELECT floor, count(*) AS n, sum(capacity), min(capacity), max(id) FROM rooms GROUP BY floor ORDER BY floor", &[]);
    assert_eq!(
        ints(&r),
        vec![
            vec![1, 2, 6, 2, 2],
            vec![2, 1, 6, 6, 3],
            vec![3, 1, 8, 8, 4]
        ]
    );
    let r = ok(
        &mut s,
        "SELECT count(*), sum(capacity) FROM rooms WHERE floor = 9",
        &[],
    );
    assert_eq!(r.rows, vec![vec![Value::Int(0), Value::Null]]);
    let r = ok(
        &mut s,
        "SELECT floor FROM rooms GROUP BY floor HAVING count(*) > 1",
        &[],
    );
    assert_eq!(ints(&r), vec![vec![1]]);
    assert_eq!(
        code(
            &mut s,
            "SELECT name, count(*) FROM rooms GROUP BY floor",
            &[]
        ),
        "42803"
    );
}

#[test]
fn joins_use_the_earlier_table_values() {
    let db = rooms();
    let mut s = db.session();
    ok(&mut s, "INSERT INTO bookings (room_id, span, who) VALUES (1, '[10,20)', 'x'), (3, int4range(5, 9), 'y')", &[]);
    let r = ok(&mut s, "SELECT r.name, b.who, lower(b.span) AS lo, upper(b.span) FROM rooms r JOIN bookings b ON b.room_id = r.id WHERE r.floor <= 2 ORDER BY r.id", &[]);
    assert_eq!(r.rows.len(), 2);
    assert_eq!(r.get(0, "who"), Some(&"x".into()));
    assert_eq!(r.int(1, "lo"), Some(5));
    assert_eq!(r.int(1, "upper"), Some(9));
    let r = ok(
        &mut s,
        "SELECT b.id FROM bookings b WHERE b.span && '[15,16)'::int4range",
        &[],
    );
    assert_eq!(ints(&r), vec![vec![1]]);
    let r = ok(&mut s, "SELECT id FROM bookings WHERE span @> 7", &[]);
    assert_eq!(ints(&r), vec![vec![2]]);
}

#[test]
fn update_delete_returning_and_constraints() {
    let db = rooms();
    let mut s = db.session();
    let r = ok(
        &mut s,
        "UPDATE rooms SET capacity = capacity + 1 WHERE floor = 1 RETURNING id, capacity",
        &[],
    );
    assert_eq!(r.affected, 2);
    assert_eq!(ints(&r), vec![vec![1, 3], vec![2, 5]]);
    assert_eq!(
        code(&mut s, "UPDATE rooms SET capacity = 0 WHERE id = 1", &[]),
        "23514"
    );
    assert_eq!(
        code(&mut s, "INSERT INTO rooms VALUES (5, 'a', 1, 1)", &[]),
        "23505"
    );
    assert_eq!(
        code(&mut s, "INSERT INTO rooms VALUES (1, 'z', 1, 1)", &[]),
        "23505"
    );
    assert_eq!(
        code(&mut s, "INSERT INTO rooms (id, floor) VALUES (6, 1)", &[]),
        "23502"
    );
    assert_eq!(
        code(
            &mut s,
            "INSERT INTO bookings (room_id, span) VALUES (99, '[1,2)')",
            &[]
        ),
        "23503"
    );
    ok(
        &mut s,
        "INSERT INTO bookings (room_id, span) VALUES (2, '[1,5)')",
        &[],
    );
    assert_eq!(
        code(
            &mut s,
            "INSERT INTO bookings (room_id, span) VALUES (2, '[4,6)')",
            &[]
        ),
        "23P01"
    );
    ok(
        &mut s,
        "INSERT INTO bookings (room_id, span) VALUES (2, '[5,6)')",
        &[],
    );
    assert_eq!(code(&mut s, "DELETE FROM rooms WHERE id = 2", &[]), "23503");
    // A unique index moves with the row: the old name is free again.
    ok(&mut s, "UPDATE rooms SET name = 'aa' WHERE id = 1", &[]);
    ok(&mut s, "INSERT INTO rooms VALUES (7, 'a', 4, 1)", &[]);
    let r = ok(
        &mut s,
        "DELETE FROM rooms WHERE floor = 4 RETURNING name",
        &[],
    );
    assert_eq!(
        (r.affected, r.rows.clone()),
        (1, vec![vec![Value::from("a")]])
    );
    let r = ok(
        &mut s,
        "SELECT who FROM bookings WHERE room_id = 2 ORDER BY id",
        &[],
    );
    assert_eq!(r.get(0, "who"), Some(&"anon".into()));
    // The primary key moves too.
    ok(&mut s, "UPDATE rooms SET id = 40 WHERE id = 4", &[]);
    assert_eq!(
        ints(&ok(&mut s, "SELECT id FROM rooms WHERE floor = 3", &[])),
        vec![vec![40]]
    );
}

#[test]
fn on_conflict_do_nothing_and_do_update() {
    let db = db_with(&["CREATE TABLE counters (k text PRIMARY KEY, n bigint NOT NULL)"]);
    let mut s = db.session();
    let upsert = "INSERT INTO counters VALUES ($1, 1) ON CONFLICT (k) DO UPDATE SET n = counters.n + excluded.n RETURNING n";
    assert_eq!(ok(&mut s, upsert, &["a".into()]).int(0, "n"), Some(1));
    assert_eq!(ok(&mut s, upsert, &["a".into()]).int(0, "n"), Some(2));
    let r = ok(
        &mut s,
        "INSERT INTO counters VALUES ('a', 5) ON CONFLICT DO NOTHING",
        &[],
    );
    assert_eq!(r.affected, 0);
    assert_eq!(
        code(
            &mut s,
            "INSERT INTO counters VALUES ('b', 1), ('b', 2) ON CONFLICT (k) DO UPDATE SET n = 0",
            &[]
        ),
        "21000"
    );
    assert_eq!(
        code(
            &mut s,
            "INSERT INTO counters VALUES ('c', 1) ON CONFLICT (n) DO NOTHING",
            &[]
        ),
        "42P10"
    );
}

#[test]
fn rejected_sql_names_the_construct_and_the_statement() {
    let db = rooms();
    let mut s = db.session();
    for (sql, want) in [
        ("WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r", "0A000"),
        ("SAVEPOINT a", "25P01"),
        ("SET search_path = booking", "0A000"),
        ("SET no_such_parameter = 1", "42704"),
        ("SET lock_timeout = 'soon'", "22023"),
        (
            "SELECT * FROM rooms WHERE pg_try_advisory_lock(id)",
            "0A000",
        ),
        ("SELECT pg_advisory_xact_lock(id) FROM rooms", "0A000"),
        ("SELECT count(*) FROM rooms FOR SHARE", "0A000"),
        (
            "SELECT * FROM rooms r LEFT JOIN bookings b ON b.room_id = r.id FOR UPDATE",
            "0A000",
        ),
        ("SELEC 1", "42601"),
        ("SELECT * FROM nope", "42P01"),
        ("SELECT nope FROM rooms", "42703"),
        ("SELECT id FROM rooms WHERE id = $1", "08P01"),
    ] {
        let e = exec(&mut s, sql, &[]).unwrap_err();
        assert_eq!(e.code.code(), want, "{sql}: {e}");
        if want == "0A000" {
            assert!(e.message.contains(sql.trim()), "{e}");
        }
    }
}

#[test]
fn transactions_fail_on_errors_and_read_only_refuses_writes() {
    let db = rooms();
    let mut s = db.session();
    ok(&mut s, "BEGIN", &[]);
    ok(&mut s, "UPDATE rooms SET capacity = 100 WHERE id = 1", &[]);
    assert_eq!(code(&mut s, "SELECT nope FROM rooms", &[]), "42703");
    assert_eq!(code(&mut s, "SELECT 1 FROM rooms", &[]), "25P02");
    ok(&mut s, "COMMIT", &[]);
    assert!(!s.in_transaction());
    assert_eq!(
        ok(&mut s, "SELECT capacity FROM rooms WHERE id = 1", &[]).int(0, "capacity"),
        Some(2)
    );
    ok(&mut s, "BEGIN READ ONLY", &[]);
    assert_eq!(code(&mut s, "DELETE FROM rooms", &[]), "25006");
    ok(&mut s, "ROLLBACK", &[]);
}

#[test]
fn row_locks_wait_nowait_and_skip_locked() {
    let db = db_with(&["CREATE TABLE jobs (id int PRIMARY KEY, state text NOT NULL)"]);
    let mut a = db.session();
    let mut b = db.session();
    for i in 1..=3 {
        ok(&mut a, "INSERT INTO jobs VALUES ($1, 'ready')", &[i.into()]);
    }
    ok(&mut a, "BEGIN", &[]);
    let first = ok(
        &mut a,
        "SELECT id FROM jobs WHERE state = 'ready' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
        &[],
    );
    assert_eq!(ints(&first), vec![vec![1]]);
    ok(&mut b, "BEGIN", &[]);
    let second = ok(
        &mut b,
        "SELECT id FROM jobs WHERE state = 'ready' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
        &[],
    );
    assert_eq!(ints(&second), vec![vec![2]]);
    assert_eq!(
        code(
            &mut b,
            "SELECT id FROM jobs WHERE id = 1 FOR NO KEY UPDATE NOWAIT",
            &[]
        ),
        "55P03"
    );
    ok(&mut b, "ROLLBACK", &[]);
    ok(&mut a, "COMMIT", &[]);
}

#[test]
fn read_committed_update_rechecks_the_new_row_version() {
    // T1 moves x out of the predicate; T2's waiting UPDATE re-reads the
    // committed row, finds it no longer matches, and updates nothing.
    let db = db_with(&["CREATE TABLE t (k int PRIMARY KEY, v int)"]);
    let mut s = db.session();
    ok(&mut s, "INSERT INTO t VALUES (1, 0)", &[]);
    let mut t1 = db.session();
    let mut t2 = db.session();
    ok(&mut t1, "BEGIN", &[]);
    ok(&mut t1, "UPDATE t SET v = 5 WHERE k = 1", &[]);
    ok(&mut t2, "BEGIN", &[]);
    let mut waiting = Box::pin(t2.execute("UPDATE t SET v = v + 100 WHERE v = 0", &[]));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(waiting.as_mut().poll(&mut cx).is_pending());
    ok(&mut t1, "COMMIT", &[]);
    let std::task::Poll::Ready(result) = waiting.as_mut().poll(&mut cx) else {
        panic!("the update still waits after the commit");
    };
    assert_eq!(result.unwrap().affected, 0);
    drop(waiting);
    ok(&mut t2, "COMMIT", &[]);
    assert_eq!(ints(&ok(&mut s, "SELECT v FROM t", &[])), vec![vec![5]]);
}

/// Two serializable transactions that each count one floor's shifts and
/// insert into that floor. Through a sequential scan (no index on the
/// column) each read covers the other's insert. Through the index too, as
/// on PostgreSQL 15 (recorded, with `enable_seqscan = off`): a small
/// table's index is one leaf page, which the read locks and the other's
/// insert goes into (transcript
/// `index-insert-conflicts-with-a-read-of-another-key-of-the-index`).
#[test]
fn index_scans_lock_the_index_page_and_seq_scans_lock_the_table() {
    for (indexed, both_commit) in [(true, false), (false, false)] {
        let mut ddl =
            vec!["CREATE TABLE shifts (id int PRIMARY KEY, floor int NOT NULL, nurse text)"];
        if indexed {
            ddl.push("CREATE INDEX shifts_floor ON shifts (floor)");
        }
        let db = db_with(&ddl);
        let mut t1 = db.session();
        let mut t2 = db.session();
        block_on(t1.begin(Isolation::Serializable)).unwrap();
        block_on(t2.begin(Isolation::Serializable)).unwrap();
        assert_eq!(
            ok(&mut t1, "SELECT count(*) FROM shifts WHERE floor = 1", &[]).int(0, "count"),
            Some(0)
        );
        assert_eq!(
            ok(&mut t2, "SELECT count(*) FROM shifts WHERE floor = 2", &[]).int(0, "count"),
            Some(0)
        );
        ok(&mut t1, "INSERT INTO shifts VALUES (1, 1, 'ann')", &[]);
        let second = exec(&mut t2, "INSERT INTO shifts VALUES (2, 2, 'bob')", &[]);
        let c1 = block_on(t1.commit());
        let c2 = match second {
            Ok(_) => block_on(t2.commit()),
            Err(e) => Err(e),
        };
        // Each read covers the other's insert: T1 -rw-> T2 -rw-> T1, and
        // SSI aborts one.
        let committed = c1.is_ok() && c2.is_ok();
        assert_eq!(committed, both_commit, "indexed {indexed}: {c1:?} {c2:?}");
    }
}

#[test]
fn predicate_write_skew_on_an_index_is_caught_at_serializable() {
    let db = db_with(&[
        "CREATE TABLE oncall (id int PRIMARY KEY, shift int NOT NULL, doctor text)",
        "CREATE INDEX oncall_shift ON oncall (shift)",
    ]);
    let mut t1 = db.session();
    let mut t2 = db.session();
    block_on(t1.begin(Isolation::Serializable)).unwrap();
    block_on(t2.begin(Isolation::Serializable)).unwrap();
    ok(&mut t1, "SELECT count(*) FROM oncall WHERE shift = 7", &[]);
    ok(&mut t2, "SELECT count(*) FROM oncall WHERE shift = 7", &[]);
    ok(&mut t1, "INSERT INTO oncall VALUES (1, 7, 'a')", &[]);
    let r2 = exec(&mut t2, "INSERT INTO oncall VALUES (2, 7, 'b')", &[]);
    let c1 = block_on(t1.commit());
    let c2 = r2.and_then(|_| block_on(t2.commit()).map(|_| Rows::default()));
    assert!(
        c1.is_err() || c2.is_err(),
        "both committed a double booking"
    );
    let e = c1.err().or(c2.err()).unwrap();
    assert_eq!(e.code, SqlState::SerializationFailure);
}

#[test]
fn advisory_locks_serialize_and_release_at_commit() {
    let db = SqlDb::new_empty();
    let mut a = db.session();
    let mut b = db.session();
    ok(&mut a, "BEGIN", &[]);
    ok(&mut a, "SELECT pg_advisory_xact_lock($1)", &[42.into()]);
    ok(&mut b, "BEGIN", &[]);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut waiting = Box::pin(b.execute("SELECT pg_advisory_xact_lock(42)", &[]));
    assert!(waiting.as_mut().poll(&mut cx).is_pending());
    ok(&mut a, "COMMIT", &[]);
    assert!(waiting.as_mut().poll(&mut cx).is_ready());
}

#[test]
fn set_and_set_local_last_as_in_postgres() {
    // The values SHOW gives on PostgreSQL 15 after each line.
    let db = SqlDb::new_empty();
    let mut s = db.session();
    let lock_timeout = |s: &SqlSession| s.timeouts().lock_timeout_ms;
    ok(&mut s, "SET LOCAL lock_timeout = '5s'", &[]);
    assert_eq!(
        lock_timeout(&s),
        0,
        "SET LOCAL outside a block does nothing"
    );
    ok(&mut s, "BEGIN", &[]);
    ok(&mut s, "SET LOCAL lock_timeout = '1s'", &[]);
    ok(&mut s, "SET lock_timeout = '2s'", &[]);
    assert_eq!(lock_timeout(&s), 2000);
    ok(&mut s, "COMMIT", &[]);
    assert_eq!(
        lock_timeout(&s),
        2000,
        "a SET after a SET LOCAL outlives the block"
    );
    ok(&mut s, "BEGIN", &[]);
    ok(&mut s, "SET lock_timeout = '3s'", &[]);
    ok(&mut s, "SET LOCAL lock_timeout = '4s'", &[]);
    assert_eq!(lock_timeout(&s), 4000);
    ok(&mut s, "COMMIT", &[]);
    assert_eq!(lock_timeout(&s), 3000, "the SET LOCAL ends with its block");
    ok(&mut s, "BEGIN", &[]);
    assert!(exec(&mut s, "SELECT 1/0", &[]).is_err());
    let e = exec(&mut s, "SET lock_timeout = '9s'", &[]).unwrap_err();
    assert_eq!(e.code, SqlState::InFailedTransaction);
    ok(&mut s, "ROLLBACK", &[]);
    ok(&mut s, "SET statement_timeout = 250", &[]);
    ok(&mut s, "RESET ALL", &[]);
    assert_eq!(s.timeouts(), crate::store::Timeouts::default());
}

#[test]
fn statements_are_prepared_once() {
    let db = rooms();
    let mut s = db.session();
    for i in 0..3 {
        ok(
            &mut s,
            "SELECT name FROM rooms WHERE id = $1",
            &[Value::Int(i)],
        );
    }
    assert!(db
        .shared
        .cached("SELECT name FROM rooms WHERE id = $1")
        .is_some());
}

#[test]
fn one_sql_statement_is_one_store_statement() {
    let db = rooms();
    let before = db.store().stats().statements;
    let mut s = db.session();
    // Index scan (entries + rows) and an update of an indexed column: many
    // keys, one statement each.
    ok(&mut s, "SELECT * FROM rooms WHERE floor = 1", &[]);
    ok(
        &mut s,
        "UPDATE rooms SET floor = 5, name = name || 'q' WHERE floor = 1",
        &[],
    );
    assert_eq!(db.store().stats().statements - before, 2);
}

fn shown(s: &mut SqlSession, sql: &str) -> String {
    let rows = ok(s, sql, &[]);
    rows.rows[0][0].to_string()
}

/// Each step as PostgreSQL 15 answers it (checked with psql).
#[test]
fn transaction_statements_and_set_transaction_follow_postgres() {
    let db = rooms();
    let mut s = db.session();
    // Outside a block SET TRANSACTION only warns.
    ok(&mut s, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", &[]);
    assert_eq!(
        shown(&mut s, "SHOW transaction_isolation"),
        "read committed"
    );
    // Right after BEGIN it changes the level: the snapshot is not taken yet.
    ok(&mut s, "BEGIN", &[]);
    ok(&mut s, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", &[]);
    assert_eq!(shown(&mut s, "SHOW transaction_isolation"), "serializable");
    ok(&mut s, "SELECT 1 FROM rooms WHERE id = 1", &[]);
    // The same level again is allowed, another one is 25001.
    ok(&mut s, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", &[]);
    assert_eq!(
        code(
            &mut s,
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
            &[]
        ),
        "25001"
    );
    assert_eq!(code(&mut s, "SELECT 1 FROM rooms", &[]), "25P02");
    ok(&mut s, "ABORT", &[]);
    assert!(!s.in_transaction());
    // READ WRITE -> READ ONLY any time; back only before the first query.
    ok(&mut s, "START TRANSACTION", &[]);
    ok(&mut s, "SELECT 1 FROM rooms WHERE id = 1", &[]);
    ok(&mut s, "SET TRANSACTION READ ONLY", &[]);
    assert_eq!(shown(&mut s, "SHOW transaction_read_only"), "on");
    assert_eq!(
        code(&mut s, "UPDATE rooms SET capacity = 9 WHERE id = 1", &[]),
        "25006"
    );
    ok(&mut s, "ROLLBACK WORK", &[]);
    ok(&mut s, "BEGIN WORK", &[]);
    ok(&mut s, "SELECT 1 FROM rooms WHERE id = 1", &[]);
    assert_eq!(code(&mut s, "SET TRANSACTION NOT DEFERRABLE", &[]), "25001");
    ok(&mut s, "END", &[]);
    ok(&mut s, "BEGIN", &[]);
    ok(&mut s, "SAVEPOINT a", &[]);
    assert_eq!(
        code(&mut s, "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", &[]),
        "25001"
    );
    ok(&mut s, "ROLLBACK", &[]);
    ok(
        &mut s,
        "START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE",
        &[],
    );
    assert_eq!(shown(&mut s, "SHOW transaction_deferrable"), "on");
    ok(&mut s, "COMMIT WORK", &[]);
    // ABORT and END outside a block only warn.
    ok(&mut s, "ABORT", &[]);
    ok(&mut s, "END", &[]);
}

#[test]
fn session_characteristics_set_the_level_of_later_transactions() {
    let db = rooms();
    let mut s = db.session();
    ok(
        &mut s,
        "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        &[],
    );
    assert_eq!(
        shown(&mut s, "SHOW default_transaction_isolation"),
        "repeatable read"
    );
    ok(&mut s, "BEGIN", &[]);
    assert_eq!(
        shown(&mut s, "SHOW transaction_isolation"),
        "repeatable read"
    );
    ok(&mut s, "COMMIT", &[]);
    ok(
        &mut s,
        "SET default_transaction_isolation = 'serializable'",
        &[],
    );
    ok(&mut s, "BEGIN", &[]);
    assert_eq!(
        shown(&mut s, "SHOW TRANSACTION ISOLATION LEVEL"),
        "serializable"
    );
    // A plain SET in a block that rolls back is undone.
    ok(
        &mut s,
        "SET default_transaction_isolation = 'read committed'",
        &[],
    );
    ok(&mut s, "ROLLBACK", &[]);
    assert_eq!(
        shown(&mut s, "SHOW default_transaction_isolation"),
        "serializable"
    );
    // A single statement runs at the default level and read-only mode.
    ok(&mut s, "SET default_transaction_read_only = on", &[]);
    assert_eq!(
        code(&mut s, "UPDATE rooms SET capacity = 9 WHERE id = 1", &[]),
        "25006"
    );
    ok(&mut s, "RESET ALL", &[]);
    assert_eq!(
        shown(&mut s, "SHOW default_transaction_isolation"),
        "read committed"
    );
    ok(&mut s, "SET lock_timeout = '2s'", &[]);
    ok(&mut s, "BEGIN", &[]);
    assert_eq!(code(&mut s, "DISCARD ALL", &[]), "25001");
    ok(&mut s, "ROLLBACK", &[]);
    ok(&mut s, "DISCARD ALL", &[]);
    assert_eq!(shown(&mut s, "SHOW lock_timeout"), "0");
    ok(&mut s, "UPDATE rooms SET capacity = 9 WHERE id = 1", &[]);
}

#[test]
fn show_and_current_setting_give_postgres_text_forms() {
    let db = rooms();
    let mut s = db.session();
    assert_eq!(shown(&mut s, "SHOW deadlock_timeout"), "1s");
    assert_eq!(shown(&mut s, "SHOW lock_timeout"), "0");
    ok(&mut s, "SET deadlock_timeout = '100s'", &[]);
    assert_eq!(shown(&mut s, "SHOW deadlock_timeout"), "100s");
    assert_eq!(s.timeouts().deadlock_timeout_ms, Some(100_000));
    ok(&mut s, "SET lock_timeout = 60000", &[]);
    let rows = ok(
        &mut s,
        "SELECT current_setting('lock_timeout') AS lt, current_setting('TimeZone') AS tz",
        &[],
    );
    assert_eq!(
        rows.get(0, "lt").map(|v| v.to_string()),
        Some("1min".into())
    );
    assert_eq!(rows.get(0, "tz").map(|v| v.to_string()), Some("UTC".into()));
    let rows = ok(&mut s, "SHOW TimeZone", &[]);
    assert_eq!(rows.columns, vec!["TimeZone".to_string()]);
    for (name, want) in [
        ("server_version_num", "150000"),
        ("standard_conforming_strings", "on"),
        ("DateStyle", "ISO, MDY"),
        ("client_encoding", "UTF8"),
        ("integer_datetimes", "on"),
        ("transaction_read_only", "off"),
        ("enable_seqscan", "on"),
    ] {
        assert_eq!(shown(&mut s, &format!("SHOW {name}")), want, "{name}");
    }
    for sql in [
        "SET client_min_messages = warning",
        "SET application_name = 'booking-api'",
        "SET search_path = public",
        "SET TimeZone = 'UTC'",
        "SET max_parallel_workers_per_gather = 0",
        "SET parallel_setup_cost = 0",
        "SET parallel_tuple_cost = 0",
        "SET min_parallel_table_scan_size = 0",
        "SET min_parallel_index_scan_size = 0",
        "SET force_parallel_mode = on",
        "SET enable_hashjoin = off",
        "SET LOCAL seq_page_cost = 0.1",
    ] {
        ok(&mut s, sql, &[]);
    }
    assert_eq!(shown(&mut s, "SHOW application_name"), "booking-api");
    assert_eq!(code(&mut s, "SHOW nope", &[]), "42704");
    assert_eq!(code(&mut s, "SELECT current_setting('nope')", &[]), "42704");
    assert_eq!(code(&mut s, "SET server_version = '1'", &[]), "55P02");
    assert_eq!(code(&mut s, "SET TimeZone = 'Europe/Paris'", &[]), "0A000");
    // A failed block refuses SHOW too.
    ok(&mut s, "BEGIN", &[]);
    assert_eq!(code(&mut s, "SELECT nope FROM rooms", &[]), "42703");
    assert_eq!(code(&mut s, "SHOW lock_timeout", &[]), "25P02");
    ok(&mut s, "ROLLBACK", &[]);
}
#[test]
fn tables_without_a_primary_key_keep_rows_in_heap_order() {
    let db = db_with(&[
        "CREATE TABLE log (who text, n int)",
        "CREATE UNIQUE INDEX log_who ON log (who)",
        "CREATE TABLE dup (a int)",
    ]);
    let mut s = db.session();
    ok(
        &mut s,
        "INSERT INTO log VALUES ('a', 1), ('b', 2), ('c', 3)",
        &[],
    );
    let all = ok(&mut s, "SELECT * FROM log", &[]);
    assert_eq!(all.columns, vec!["who", "n"]);
    assert_eq!(
        all.rows,
        vec![
            vec!["a".into(), Value::Int(1)],
            vec!["b".into(), Value::Int(2)],
            vec!["c".into(), Value::Int(3)]
        ]
    );
    // An updated row's new version goes after the others, as in a heap.
    assert_eq!(
        ok(&mut s, "UPDATE log SET n = 10 WHERE who = 'a'", &[]).affected,
        1
    );
    assert_eq!(
        ints(&ok(&mut s, "SELECT n FROM log", &[])),
        vec![vec![2], vec![3], vec![10]]
    );
    // The unique index holds; ON CONFLICT finds the row through it.
    assert_eq!(
        code(&mut s, "INSERT INTO log VALUES ('b', 5)", &[]),
        "23505"
    );
    assert_eq!(
        ok(
            &mut s,
            "INSERT INTO log VALUES ('b', 5) ON CONFLICT (who) DO UPDATE SET n = excluded.n RETURNING *",
            &[]
        )
        .rows,
        vec![vec!["b".into(), Value::Int(5)]]
    );
    assert_eq!(
        ok(
            &mut s,
            "INSERT INTO log VALUES ('d', 4) ON CONFLICT DO NOTHING",
            &[]
        )
        .affected,
        1
    );
    assert_eq!(
        ok(&mut s, "DELETE FROM log WHERE n = 3 RETURNING who", &[]).rows,
        vec![vec![Value::from("c")]]
    );
    assert_eq!(
        ints(&ok(&mut s, "SELECT n FROM log WHERE who = 'd'", &[])),
        vec![vec![4]]
    );
    // Without a unique index, equal rows are separate rows.
    ok(&mut s, "INSERT INTO dup VALUES (1), (1), (2)", &[]);
    assert_eq!(
        ok(&mut s, "UPDATE dup SET a = 3 WHERE a = 1", &[]).affected,
        2
    );
    assert_eq!(
        ints(&ok(
            &mut s,
            "SELECT a, count(*) FROM dup GROUP BY a ORDER BY a",
            &[]
        )),
        vec![vec![2, 1], vec![3, 2]]
    );
    // Loading and the table list show the user's columns only.
    db.load("dup", &[Value::Int(7)]).unwrap();
    assert_eq!(
        ints(&ok(&mut s, "SELECT * FROM dup", &[])),
        vec![vec![2], vec![3], vec![3], vec![7]]
    );
    let layout = db.tables().into_iter().find(|t| t.name == "dup").unwrap();
    assert_eq!(layout.columns, vec!["a"]);
    assert!(layout.primary_key.is_empty());
    // A foreign key must name the referenced columns of a table without a
    // primary key, and they must be unique.
    assert_eq!(
        code(&mut s, "CREATE TABLE r1 (x text REFERENCES log)", &[]),
        "42704"
    );
    ok(&mut s, "CREATE TABLE r2 (x text REFERENCES log (who))", &[]);
    assert_eq!(code(&mut s, "INSERT INTO r2 VALUES ('zz')", &[]), "23503");
    ok(&mut s, "INSERT INTO r2 VALUES ('d')", &[]);
    assert_eq!(
        code(&mut s, "DELETE FROM log WHERE who = 'd'", &[]),
        "23503"
    );
}

#[test]
fn heap_rows_updated_concurrently_wait_and_recheck() {
    let db = db_with(&["CREATE TABLE t (k int, v int)"]);
    let mut s = db.session();
    ok(&mut s, "INSERT INTO t VALUES (1, 0), (2, 0)", &[]);
    for (level, want) in [("READ COMMITTED", Ok(1)), ("REPEATABLE READ", Err("40001"))] {
        ok(&mut s, "UPDATE t SET v = 0", &[]);
        let mut t1 = db.session();
        let mut t2 = db.session();
        ok(&mut t1, &format!("BEGIN ISOLATION LEVEL {level}"), &[]);
        ok(&mut t2, &format!("BEGIN ISOLATION LEVEL {level}"), &[]);
        ok(&mut t2, "SELECT * FROM t", &[]);
        ok(&mut t1, "UPDATE t SET v = 5 WHERE k = 1", &[]);
        let mut waiting = Box::pin(t2.execute("UPDATE t SET v = v + 100 WHERE v = 0", &[]));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(waiting.as_mut().poll(&mut cx).is_pending(), "{level}");
        ok(&mut t1, "COMMIT", &[]);
        let std::task::Poll::Ready(result) = waiting.as_mut().poll(&mut cx) else {
            panic!("{level}: the update still waits after the commit");
        };
        let got = result.map(|r| r.affected).map_err(|e| e.code.code());
        assert_eq!(got, want, "{level}");
        drop(waiting);
        ok(&mut t2, "ROLLBACK", &[]);
    }
}

#[test]
fn drop_table_and_index_follow_dependencies() {
    let db = db_with(&[
        "CREATE TABLE parent (id int PRIMARY KEY, code text UNIQUE)",
        "CREATE TABLE child (id serial PRIMARY KEY, p int REFERENCES parent, c text REFERENCES parent (code))",
        "CREATE INDEX child_p ON child (p)",
    ]);
    let mut s = db.session();
    ok(&mut s, "INSERT INTO parent VALUES (1, 'one')", &[]);
    ok(&mut s, "INSERT INTO child (p, c) VALUES (1, 'one')", &[]);
    assert_eq!(code(&mut s, "DROP TABLE nope", &[]), "42P01");
    ok(&mut s, "DROP TABLE IF EXISTS nope, also_nope", &[]);
    assert_eq!(code(&mut s, "DROP TABLE parent", &[]), "2BP01");
    assert_eq!(code(&mut s, "DROP TABLE parent RESTRICT", &[]), "2BP01");
    assert_eq!(code(&mut s, "DROP TABLE child_p", &[]), "42809");
    assert_eq!(code(&mut s, "DROP INDEX parent_pkey", &[]), "2BP01");
    assert_eq!(code(&mut s, "DROP INDEX nope", &[]), "42704");
    ok(&mut s, "DROP INDEX IF EXISTS nope", &[]);
    ok(&mut s, "DROP INDEX child_p", &[]);
    ok(
        &mut s,
        "CREATE INDEX IF NOT EXISTS child_p ON child (c)",
        &[],
    );
    ok(
        &mut s,
        "CREATE INDEX IF NOT EXISTS child_p ON child (c)",
        &[],
    );
    // CASCADE drops the child's foreign keys, not the child.
    ok(&mut s, "DROP TABLE parent CASCADE", &[]);
    ok(&mut s, "INSERT INTO child (p, c) VALUES (9, 'nine')", &[]);
    assert_eq!(
        ints(&ok(&mut s, "SELECT id, p FROM child WHERE c = 'nine'", &[])),
        vec![vec![2, 9]]
    );
    // A table made again under a dropped one's name starts empty, and its
    // serial starts over; a cached plan of the old table is not reused.
    ok(&mut s, "SELECT * FROM child", &[]);
    ok(&mut s, "DROP TABLE child, child", &[]);
    assert_eq!(code(&mut s, "SELECT * FROM child", &[]), "42P01");
    ok(
        &mut s,
        "CREATE TABLE IF NOT EXISTS child (id serial PRIMARY KEY, note text)",
        &[],
    );
    ok(&mut s, "CREATE TABLE IF NOT EXISTS child (other int)", &[]);
    assert!(ok(&mut s, "SELECT * FROM child", &[]).is_empty());
    ok(&mut s, "INSERT INTO child (note) VALUES ('x')", &[]);
    assert_eq!(
        ok(&mut s, "SELECT * FROM child", &[]).rows,
        vec![vec![Value::Int(1), "x".into()]]
    );
    assert_eq!(
        ok(&mut s, "SELECT * FROM child", &[]).columns,
        vec!["id", "note"]
    );
    // INCLUDE columns are accepted on constraints and indexes.
    ok(
        &mut s,
        "CREATE TABLE inc (a int, b int, c text, PRIMARY KEY (a) INCLUDE (b), UNIQUE (b) INCLUDE (c))",
        &[],
    );
    ok(&mut s, "CREATE INDEX inc_c ON inc (c) INCLUDE (a, b)", &[]);
    assert_eq!(
        code(&mut s, "CREATE INDEX inc_x ON inc (c) INCLUDE (zz)", &[]),
        "42703"
    );
    ok(&mut s, "INSERT INTO inc VALUES (1, 1, 'x')", &[]);
    assert_eq!(
        code(&mut s, "INSERT INTO inc VALUES (2, 1, 'y')", &[]),
        "23505"
    );
    // In a block DDL runs, and goes with a rollback (see `ddlblock`).
    ok(&mut s, "BEGIN", &[]);
    ok(&mut s, "DROP TABLE inc", &[]);
    ok(&mut s, "ROLLBACK", &[]);
    ok(&mut s, "SELECT * FROM inc", &[]);
}

#[test]
fn create_extension_accepts_what_booking_services_use() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    ok(&mut s, "CREATE EXTENSION pgcrypto", &[]);
    assert_eq!(code(&mut s, "CREATE EXTENSION pgcrypto", &[]), "42710");
    ok(&mut s, "CREATE EXTENSION IF NOT EXISTS pgcrypto", &[]);
    ok(
        &mut s,
        "CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\" WITH SCHEMA public",
        &[],
    );
    ok(&mut s, "CREATE EXTENSION IF NOT EXISTS btree_gist", &[]);
    assert_eq!(code(&mut s, "CREATE EXTENSION plpgsql", &[]), "42710");
    assert_eq!(
        code(&mut s, "CREATE EXTENSION btree_gist WITH SCHEMA nope", &[]),
        "3F000"
    );
    let e = exec(&mut s, "CREATE EXTENSION postgis", &[]).unwrap_err();
    assert_eq!(e.code.code(), "0A000");
    assert!(e.message.contains("postgis"), "{e}");
}

#[test]
fn schemas_qualify_tables_and_drop_with_cascade() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    assert_eq!(
        code(&mut s, "CREATE TABLE app.t (id int PRIMARY KEY)", &[]),
        "3F000"
    );
    ok(&mut s, "CREATE SCHEMA app", &[]);
    assert_eq!(code(&mut s, "CREATE SCHEMA app", &[]), "42P06");
    ok(&mut s, "CREATE SCHEMA IF NOT EXISTS app", &[]);
    assert_eq!(code(&mut s, "CREATE SCHEMA public", &[]), "42P06");
    ok(
        &mut s,
        "CREATE TABLE app.t (id int PRIMARY KEY, v int)",
        &[],
    );
    ok(
        &mut s,
        "CREATE TABLE public.t (id int PRIMARY KEY, w text)",
        &[],
    );
    ok(&mut s, "INSERT INTO app.t VALUES (1, 10)", &[]);
    ok(&mut s, "INSERT INTO t VALUES (1, 'public')", &[]);
    assert_eq!(
        ints(&ok(&mut s, "SELECT t.v FROM app.t WHERE t.id = 1", &[])),
        vec![vec![10]]
    );
    assert_eq!(
        ok(&mut s, "SELECT w FROM public.t", &[]).rows,
        vec![vec![Value::from("public")]]
    );
    assert_eq!(code(&mut s, "DROP SCHEMA app", &[]), "2BP01");
    assert_eq!(code(&mut s, "DROP SCHEMA nope", &[]), "3F000");
    ok(&mut s, "DROP SCHEMA IF EXISTS nope", &[]);
    ok(&mut s, "DROP SCHEMA app CASCADE", &[]);
    assert_eq!(code(&mut s, "SELECT * FROM app.t", &[]), "42P01");
    assert_eq!(ok(&mut s, "SELECT * FROM t", &[]).len(), 1);
}

/// Partial indexes, results as PostgreSQL 15 gives them: a row has an
/// entry only while it satisfies the predicate (backfill, INSERT, UPDATE
/// in and out, DELETE), a unique one constrains those rows only, and a
/// query whose WHERE lacks the predicate still sees every row (the index
/// is skipped for it).
#[test]
fn partial_indexes_hold_only_the_rows_their_predicate_accepts() {
    let db = db_with(&[
        "CREATE TABLE holds (id int PRIMARY KEY, seat int NOT NULL, status text NOT NULL)",
        "INSERT INTO holds VALUES (1, 7, 'released'), (2, 7, 'released'), (3, 8, 'active')",
        "CREATE UNIQUE INDEX holds_one_active ON holds (seat) WHERE status = 'active'",
        "CREATE INDEX holds_active_id ON holds (id) WHERE status = 'active'",
    ]);
    let mut s = db.session();
    ok(&mut s, "INSERT INTO holds VALUES (4, 7, 'active')", &[]);
    assert_eq!(
        code(&mut s, "INSERT INTO holds VALUES (5, 7, 'active')", &[]),
        "23505"
    );
    let e = exec(&mut s, "INSERT INTO holds VALUES (5, 8, 'active')", &[]).unwrap_err();
    assert_eq!(
        e.message,
        "duplicate key value violates unique constraint \"holds_one_active\""
    );
    ok(&mut s, "INSERT INTO holds VALUES (5, 7, 'released')", &[]);
    assert_eq!(
        code(
            &mut s,
            "UPDATE holds SET status = 'active' WHERE id = 1",
            &[]
        ),
        "23505"
    );
    ok(
        &mut s,
        "UPDATE holds SET status = 'released' WHERE id = 4",
        &[],
    );
    ok(
        &mut s,
        "UPDATE holds SET status = 'active' WHERE id = 1",
        &[],
    );
    ok(&mut s, "DELETE FROM holds WHERE id = 3", &[]);
    ok(&mut s, "INSERT INTO holds VALUES (6, 8, 'active')", &[]);
    let active = "SELECT id FROM holds WHERE seat = $1 AND status = 'active'";
    assert_eq!(ints(&ok(&mut s, active, &[7.into()])), vec![vec![1]]);
    assert_eq!(ints(&ok(&mut s, active, &[8.into()])), vec![vec![6]]);
    let all = "SELECT id FROM holds WHERE seat = 7 ORDER BY id";
    assert_eq!(
        ints(&ok(&mut s, all, &[])),
        vec![vec![1], vec![2], vec![4], vec![5]]
    );
    let range = "SELECT id FROM holds WHERE id >= 2 AND status = 'active' ORDER BY id";
    assert_eq!(ints(&ok(&mut s, range, &[])), vec![vec![6]]);
    let range_all = "SELECT id FROM holds WHERE id >= 5 ORDER BY id";
    assert_eq!(ints(&ok(&mut s, range_all, &[])), vec![vec![5], vec![6]]);
    // Two active holds already present: the index cannot be made.
    let db = db_with(&[
        "CREATE TABLE holds (id int PRIMARY KEY, seat int NOT NULL, status text NOT NULL)",
        "INSERT INTO holds VALUES (1, 7, 'active'), (2, 7, 'active')",
    ]);
    let mut s = db.session();
    let e = exec(
        &mut s,
        "CREATE UNIQUE INDEX holds_one_active ON holds (seat) WHERE status = 'active'",
        &[],
    )
    .unwrap_err();
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        (
            "23505",
            "could not create unique index \"holds_one_active\""
        )
    );
    assert_eq!(
        code(
            &mut s,
            "CREATE INDEX holds_recent ON holds (seat) WHERE now() > '2020-01-01'",
            &[]
        ),
        "42P17"
    );
}
