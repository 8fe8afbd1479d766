//! `PREPARE`, `EXECUTE` and `DEALLOCATE` on one session, each outcome as
//! PostgreSQL 15 gives it for the same statements (checked with psql).

use super::test_util::*;
use super::*;

/// The rows of `sql` as psql -At prints them, one string per row.
fn ok(s: &mut SqlSession, sql: &str) -> Vec<String> {
    pg_lines(&super::test_util::ok(s, sql))
}

fn session() -> SqlSession {
    let mut s = SqlDb::new_empty().session();
    ok(&mut s, "CREATE TABLE pt (id int PRIMARY KEY, v text)");
    ok(&mut s, "INSERT INTO pt VALUES (1, 'a'), (2, 'b')");
    s
}

#[test]
fn prepared_statements_run_with_their_arguments() {
    let mut s = session();
    ok(&mut s, "PREPARE q1 AS SELECT v FROM pt WHERE id = $1");
    assert_eq!(ok(&mut s, "EXECUTE q1(2)"), ["b"]);
    assert_eq!(ok(&mut s, "EXECUTE q1('1')"), ["a"]);
    let wrong = "wrong number of parameters for prepared statement \"q1\"";
    assert_eq!(sqlstate(&mut s, "EXECUTE q1"), ("42601", wrong.into()));
    assert_eq!(
        sqlstate(&mut s, "EXECUTE q1(1, 2)"),
        ("42601", wrong.into())
    );
    assert_eq!(
        sqlstate(&mut s, "PREPARE q1 AS SELECT 1"),
        ("42P05", "prepared statement \"q1\" already exists".into())
    );
    ok(
        &mut s,
        "PREPARE q2 (int, text) AS INSERT INTO pt VALUES ($1, $2)",
    );
    ok(&mut s, "EXECUTE q2(3, 'c')");
    ok(&mut s, "EXECUTE q2(1 + 3, 'd' || 'e')");
    assert_eq!(
        ok(&mut s, "SELECT * FROM pt ORDER BY id"),
        ["1|a", "2|b", "3|c", "4|de"]
    );
    // Declared and unused parameters are still arguments.
    ok(&mut s, "PREPARE q6 (int, int) AS SELECT $1");
    assert_eq!(ok(&mut s, "EXECUTE q6(1, 2)"), ["1"]);
    // Planned at PREPARE.
    assert_eq!(
        sqlstate(&mut s, "PREPARE q3 AS SELECT * FROM nope"),
        ("42P01", "relation \"nope\" does not exist".into())
    );
    assert_eq!(
        sqlstate(&mut s, "PREPARE q4 AS CREATE TABLE x (a int)"),
        ("42601", "syntax error at or near \"CREATE\"".into())
    );
    assert_eq!(sqlstate(&mut s, "PREPARE TRANSACTION 'x'").0, "0A000");
}

#[test]
fn prepared_statements_outlive_rollbacks_until_deallocated() {
    let mut s = session();
    ok(&mut s, "BEGIN");
    ok(&mut s, "PREPARE q5 AS SELECT count(*) FROM pt");
    ok(&mut s, "ROLLBACK");
    assert_eq!(ok(&mut s, "EXECUTE q5"), ["2"]);
    ok(&mut s, "BEGIN");
    assert_eq!(sqlstate(&mut s, "SELECT 1/0").0, "22012");
    assert_eq!(sqlstate(&mut s, "EXECUTE q5").0, "25P02");
    ok(&mut s, "ROLLBACK");
    ok(&mut s, "DEALLOCATE q5");
    let missing = (
        "26000",
        "prepared statement \"q5\" does not exist".to_string(),
    );
    assert_eq!(sqlstate(&mut s, "EXECUTE q5"), missing);
    assert_eq!(sqlstate(&mut s, "DEALLOCATE q5"), missing);
    ok(&mut s, "PREPARE q1 AS SELECT 1");
    ok(&mut s, "PREPARE q2 AS SELECT 2");
    ok(&mut s, "DEALLOCATE PREPARE q1");
    ok(&mut s, "DEALLOCATE ALL");
    assert_eq!(sqlstate(&mut s, "EXECUTE q2").0, "26000");
    // Another session has its own.
    ok(&mut s, "PREPARE mine AS SELECT 1");
    let mut other = s.db().session();
    assert_eq!(sqlstate(&mut other, "EXECUTE mine").0, "26000");
    ok(&mut other, "PREPARE mine AS SELECT 2");
    assert_eq!(ok(&mut s, "EXECUTE mine"), ["1"]);
    // DISCARD ALL deallocates them.
    ok(&mut s, "DISCARD ALL");
    assert_eq!(sqlstate(&mut s, "EXECUTE mine").0, "26000");
}

#[test]
fn an_executed_locking_query_waits_and_fails_as_the_statement_does() {
    let db = SqlDb::new_empty();
    let mut a = db.session();
    ok(&mut a, "CREATE TABLE pt (id int PRIMARY KEY, v text)");
    ok(&mut a, "INSERT INTO pt VALUES (1, 'a')");
    let mut b = db.session();
    ok(&mut b, "BEGIN");
    ok(&mut b, "SELECT * FROM pt WHERE id = 1 FOR SHARE");
    ok(
        &mut a,
        "PREPARE l AS SELECT id FROM pt WHERE id = $1 FOR UPDATE NOWAIT",
    );
    ok(&mut a, "BEGIN");
    assert_eq!(
        sqlstate(&mut a, "EXECUTE l(1)"),
        (
            "55P03",
            "could not obtain lock on row in relation \"pt\"".into()
        )
    );
    ok(&mut a, "ROLLBACK");
    ok(&mut b, "COMMIT");
    assert_eq!(ok(&mut a, "EXECUTE l(1)"), ["1"]);
}
