//! DDL inside transaction blocks (see `ddlblock`), each outcome as
//! PostgreSQL 15 gives it for the same statements (checked with psql on
//! the shared server).

use super::test_util::*;
use super::*;
use std::task::{Context, Poll, Waker};

/// Runs `sql` on `s` and checks it waits; drive it on with [`finish`].
fn start<'a>(
    s: &'a mut SqlSession,
    sql: &'a str,
) -> std::pin::Pin<Box<impl std::future::Future<Output = Result<Rows, DbError>> + 'a>> {
    let mut waiting = Box::pin(s.execute(sql, &[]));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        waiting.as_mut().poll(&mut cx).is_pending(),
        "{sql} should wait"
    );
    waiting
}

fn finish<F: std::future::Future<Output = Result<Rows, DbError>>>(
    mut waiting: std::pin::Pin<Box<F>>,
) -> Result<Rows, DbError> {
    let mut cx = Context::from_waker(Waker::noop());
    match waiting.as_mut().poll(&mut cx) {
        Poll::Ready(result) => result,
        Poll::Pending => panic!("still waiting"),
    }
}

#[test]
fn rollback_undoes_each_kind_of_ddl() {
    let db = db_with(&[
        "CREATE TABLE a (i int PRIMARY KEY, v int)",
        "CREATE TABLE b (a_id int)",
        "CREATE TABLE gone (x int)",
        "CREATE SEQUENCE s",
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN NEW.v := 99; RETURN NEW; END'",
        "INSERT INTO a VALUES (1, 1), (2, 2)",
        "INSERT INTO b VALUES (7)",
        "INSERT INTO gone VALUES (5)",
    ]);
    let mut s = db.session();
    ok(&mut s, "BEGIN");
    ok(&mut s, "CREATE TABLE fresh (id serial PRIMARY KEY, n int)");
    ok(&mut s, "INSERT INTO fresh (n) VALUES (1)");
    ok(&mut s, "CREATE INDEX a_v ON a (v)");
    ok(&mut s, "DROP TABLE gone");
    ok(&mut s, "ALTER TABLE a ADD COLUMN note text DEFAULT 'x'");
    ok(
        &mut s,
        "ALTER TABLE b ADD CONSTRAINT bfk FOREIGN KEY (a_id) REFERENCES a (i) NOT VALID",
    );
    ok(
        &mut s,
        "CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW EXECUTE FUNCTION f()",
    );
    ok(&mut s, "ALTER SEQUENCE s RESTART WITH 50");
    // Its own transaction sees each change at once.
    assert_eq!(
        text(&ok(&mut s, "SELECT i, note FROM a ORDER BY i")),
        "1|x\n2|x"
    );
    ok(&mut s, "SAVEPOINT x");
    assert_eq!(code(&mut s, "SELECT * FROM gone"), "42P01");
    ok(&mut s, "ROLLBACK TO x");
    assert_eq!(code(&mut s, "INSERT INTO b VALUES (3)"), "23503");
    ok(&mut s, "ROLLBACK");
    ok(&mut s, "BEGIN");
    ok(&mut s, "INSERT INTO a VALUES (3, 3)");
    assert_eq!(text(&ok(&mut s, "SELECT v FROM a WHERE i = 3")), "3");
    assert_eq!(code(&mut s, "SELECT note FROM a"), "42703");
    ok(&mut s, "ROLLBACK");
    assert_eq!(code(&mut s, "SELECT * FROM fresh"), "42P01");
    assert_eq!(text(&ok(&mut s, "SELECT x FROM gone")), "5");
    ok(&mut s, "INSERT INTO b VALUES (3)");
    assert_eq!(text(&ok(&mut s, "SELECT nextval('s')")), "1");
    // The rolled-back index left nothing: its name is free.
    ok(&mut s, "CREATE INDEX a_v ON a (v)");
    // And the rolled-back table's serial sequence went with it.
    ok(&mut s, "CREATE TABLE fresh (id serial PRIMARY KEY, n int)");
    ok(&mut s, "INSERT INTO fresh (n) VALUES (1)");
    assert_eq!(text(&ok(&mut s, "SELECT id FROM fresh")), "1");
}

#[test]
fn commit_keeps_the_ddl_and_rollback_to_savepoint_undoes_what_came_after() {
    let db = db_with(&[
        "CREATE TABLE a (i int PRIMARY KEY)",
        "CREATE TABLE c (x int)",
    ]);
    let mut s = db.session();
    ok(&mut s, "BEGIN");
    ok(&mut s, "ALTER TABLE a ADD COLUMN kept int");
    ok(&mut s, "SAVEPOINT sp");
    ok(&mut s, "ALTER TABLE a ADD COLUMN undone int");
    ok(&mut s, "DROP TABLE c");
    ok(&mut s, "ROLLBACK TO SAVEPOINT sp");
    ok(&mut s, "SELECT kept FROM a");
    ok(&mut s, "SAVEPOINT sp2");
    assert_eq!(code(&mut s, "SELECT undone FROM a"), "42703");
    ok(&mut s, "ROLLBACK TO sp2");
    // An error in the block after DDL: ROLLBACK TO revives it, the DDL
    // before the savepoint stays.
    assert_eq!(code(&mut s, "CREATE INDEX ON a (nope)"), "42703");
    ok(&mut s, "ROLLBACK TO sp2");
    ok(&mut s, "COMMIT");
    ok(&mut s, "SELECT kept FROM a");
    ok(&mut s, "SELECT x FROM c");
}

#[test]
fn others_see_the_ddl_only_after_commit() {
    let db = db_with(&[
        "CREATE TABLE a (i int PRIMARY KEY)",
        "INSERT INTO a VALUES (1)",
    ]);
    let mut s1 = db.session();
    let mut s2 = db.session();
    ok(&mut s1, "BEGIN");
    ok(&mut s1, "CREATE TABLE fresh (n int)");
    ok(&mut s1, "INSERT INTO fresh VALUES (1)");
    // Not there for the others until it commits.
    assert_eq!(code(&mut s2, "SELECT * FROM fresh"), "42P01");
    // CREATE INDEX takes SHARE: a reader goes on, without the index.
    ok(&mut s1, "CREATE INDEX a_i2 ON a (i)");
    assert_eq!(text(&ok(&mut s2, "SELECT i FROM a")), "1");
    // A writer waits for the block.
    {
        let waiting = start(&mut s2, "INSERT INTO a VALUES (2)");
        ok(&mut s1, "COMMIT");
        finish(waiting).unwrap();
    }
    assert_eq!(text(&ok(&mut s2, "SELECT n FROM fresh")), "1");
    assert_eq!(text(&ok(&mut s2, "SELECT i FROM a WHERE i = 2")), "2");
}

#[test]
fn a_reader_waits_for_a_block_that_drops_or_alters_its_table() {
    let db = db_with(&[
        "CREATE TABLE a (i int PRIMARY KEY)",
        "INSERT INTO a VALUES (1)",
    ]);
    let mut s1 = db.session();
    let mut s2 = db.session();
    // Rolled back: the reader goes on with the table as it was.
    ok(&mut s1, "BEGIN");
    ok(&mut s1, "DROP TABLE a");
    {
        let waiting = start(&mut s2, "SELECT i FROM a");
        ok(&mut s1, "ROLLBACK");
        assert_eq!(text(&finish(waiting).unwrap()), "1");
    }
    // Committed ALTER: the reader is planned again and sees the column.
    ok(&mut s1, "BEGIN");
    ok(&mut s1, "ALTER TABLE a ADD COLUMN note text DEFAULT 'n'");
    {
        let waiting = start(&mut s2, "SELECT * FROM a");
        ok(&mut s1, "COMMIT");
        assert_eq!(text(&finish(waiting).unwrap()), "1|n");
    }
    // Committed DROP: the waiting reader finds no table.
    ok(&mut s1, "BEGIN");
    ok(&mut s1, "DROP TABLE a");
    {
        let waiting = start(&mut s2, "SELECT i FROM a");
        ok(&mut s1, "COMMIT");
        assert_eq!(finish(waiting).unwrap_err().code.code(), "42P01");
    }
}

#[test]
fn nextval_waits_for_a_block_that_alters_the_sequence() {
    let db = db_with(&["CREATE SEQUENCE seq1"]);
    let mut s1 = db.session();
    let mut s2 = db.session();
    ok(&mut s1, "BEGIN");
    ok(&mut s1, "ALTER SEQUENCE seq1 MAXVALUE 3");
    {
        let waiting = start(&mut s2, "SELECT nextval('seq1') FROM generate_series(1, 5)");
        ok(&mut s1, "COMMIT");
        assert_eq!(finish(waiting).unwrap_err().code.code(), "2200H");
    }
    // A rolled-back RESTART leaves the sequence where it was.
    ok(&mut s1, "ALTER SEQUENCE seq1 MAXVALUE 100");
    ok(&mut s1, "BEGIN");
    ok(&mut s1, "ALTER SEQUENCE seq1 RESTART WITH 50");
    assert_eq!(text(&ok(&mut s1, "SELECT nextval('seq1')")), "50");
    ok(&mut s1, "ROLLBACK");
    assert_eq!(text(&ok(&mut s2, "SELECT nextval('seq1')")), "4");
    // nextval's lock is held to the end of its block: ALTER SEQUENCE waits.
    ok(&mut s2, "BEGIN");
    ok(&mut s2, "SELECT nextval('seq1')");
    ok(&mut s1, "BEGIN");
    {
        let waiting = start(&mut s1, "ALTER SEQUENCE seq1 MAXVALUE 20");
        ok(&mut s2, "COMMIT");
        finish(waiting).unwrap();
    }
    ok(&mut s1, "COMMIT");
}

#[test]
fn an_empty_partition_drops_alone_and_vacuum_locks_one_relation_at_a_time() {
    // PostgreSQL's vacuum-concurrent-drop: VACUUM of a partitioned table
    // waits for a partition's lock without holding the table's, so the
    // block that holds the partition can drop another one.
    let db = db_with(&[
        "CREATE TABLE parted (a int) PARTITION BY LIST (a)",
        "CREATE TABLE part1 PARTITION OF parted FOR VALUES IN (1)",
        "CREATE TABLE part2 PARTITION OF parted FOR VALUES IN (2)",
    ]);
    let mut s1 = db.session();
    let mut s2 = db.session();
    ok(&mut s1, "BEGIN");
    ok(&mut s1, "LOCK part1 IN SHARE MODE");
    {
        let waiting = start(&mut s2, "VACUUM parted");
        ok(&mut s1, "DROP TABLE part2");
        ok(&mut s1, "COMMIT");
        finish(waiting).unwrap();
    }
    assert_eq!(code(&mut s2, "INSERT INTO parted VALUES (2)"), "23514");
    ok(&mut s2, "INSERT INTO parted VALUES (1)");
    // A partition holding rows cannot go alone: 0A000.
    assert_eq!(code(&mut s2, "DROP TABLE part1"), "0A000");
}
