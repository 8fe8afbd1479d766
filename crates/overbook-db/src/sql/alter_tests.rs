//! `ALTER TABLE` on the store, each outcome as PostgreSQL 15 gives it for
//! the same statements (checked with psql on the shared server).

use super::test_util::*;
use super::*;

#[test]
fn add_column_fills_existing_rows_with_the_default_or_fails_not_null() {
    let mut s = session_with(&[
        "CREATE TABLE emp (id integer PRIMARY KEY, dept integer NOT NULL)",
        "INSERT INTO emp VALUES (1, 10), (2, 20)",
    ]);
    ok(&mut s, "ALTER TABLE emp ADD COLUMN note text DEFAULT 'x'");
    ok(&mut s, "ALTER TABLE emp ADD COLUMN IF NOT EXISTS note text");
    assert_eq!(
        sqlstate(&mut s, "ALTER TABLE emp ADD COLUMN must int NOT NULL"),
        (
            "23502",
            "column \"must\" of relation \"emp\" contains null values".to_string()
        )
    );
    assert_eq!(
        sqlstate(&mut s, "ALTER TABLE emp ADD COLUMN note text").0,
        "42701"
    );
    ok(&mut s, "ALTER TABLE emp ADD COLUMN n serial");
    ok(&mut s, "INSERT INTO emp (id, dept) VALUES (3, 30)");
    assert_eq!(
        text(&ok(&mut s, "SELECT * FROM emp ORDER BY id")),
        "1|10|x|1\n2|20|x|2\n3|30|x|3"
    );
    // A column dropped and added again starts empty.
    ok(&mut s, "ALTER TABLE emp DROP COLUMN note");
    ok(&mut s, "ALTER TABLE emp ADD COLUMN note text");
    assert_eq!(
        text(&ok(&mut s, "SELECT id, note FROM emp ORDER BY id")),
        "1|\n2|\n3|"
    );
}

#[test]
fn add_primary_key_to_a_heap_table_checks_nulls_and_duplicates() {
    let mut s = session_with(&[
        "CREATE TABLE t (id int, v int)",
        "INSERT INTO t VALUES (1, 1), (1, 2)",
    ]);
    assert_eq!(
        sqlstate(&mut s, "ALTER TABLE t ADD PRIMARY KEY (id)"),
        (
            "23505",
            "could not create unique index \"t_pkey\"".to_string()
        )
    );
    ok(&mut s, "DELETE FROM t WHERE v = 2");
    ok(&mut s, "INSERT INTO t VALUES (NULL, 3)");
    assert_eq!(
        sqlstate(&mut s, "ALTER TABLE t ADD PRIMARY KEY (id)"),
        (
            "23502",
            "column \"id\" of relation \"t\" contains null values".to_string()
        )
    );
    ok(&mut s, "DELETE FROM t WHERE v = 3");
    ok(&mut s, "ALTER TABLE t ADD PRIMARY KEY (id)");
    assert_eq!(sqlstate(&mut s, "INSERT INTO t VALUES (1, 9)").0, "23505");
    assert_eq!(
        sqlstate(&mut s, "INSERT INTO t VALUES (NULL, 9)").0,
        "23502"
    );
    assert_eq!(
        sqlstate(&mut s, "ALTER TABLE t ADD PRIMARY KEY (v)").0,
        "42P16"
    );
    assert_eq!(
        sqlstate(&mut s, "ALTER TABLE t ALTER COLUMN id DROP NOT NULL").0,
        "42P16"
    );
    ok(&mut s, "INSERT INTO t VALUES (2, 9)");
    assert_eq!(text(&ok(&mut s, "SELECT id, v FROM t WHERE id = 2")), "2|9");
}

#[test]
fn check_and_foreign_key_constraints_not_valid_and_validate() {
    let mut s = session_with(&[
        "CREATE TABLE a (i int PRIMARY KEY)",
        "CREATE TABLE b (a_id int)",
        "INSERT INTO a VALUES (0), (1)",
        "INSERT INTO b VALUES (0), (1), (5)",
    ]);
    assert_eq!(
        sqlstate(
            &mut s,
            "ALTER TABLE b ADD CONSTRAINT bfk FOREIGN KEY (a_id) REFERENCES a (i)"
        ),
        (
            "23503",
            "insert or update on table \"b\" violates foreign key constraint \"bfk\"".to_string()
        )
    );
    ok(
        &mut s,
        "ALTER TABLE b ADD CONSTRAINT bfk FOREIGN KEY (a_id) REFERENCES a (i) NOT VALID",
    );
    // New rows are checked at once, old ones only by VALIDATE.
    assert_eq!(sqlstate(&mut s, "INSERT INTO b VALUES (7)").0, "23503");
    assert_eq!(
        sqlstate(&mut s, "ALTER TABLE b VALIDATE CONSTRAINT bfk").0,
        "23503"
    );
    ok(&mut s, "DELETE FROM b WHERE a_id = 5");
    ok(&mut s, "ALTER TABLE b VALIDATE CONSTRAINT bfk");
    assert_eq!(sqlstate(&mut s, "DELETE FROM a WHERE i = 1").0, "23503");
    assert_eq!(
        sqlstate(
            &mut s,
            "ALTER TABLE b ADD CONSTRAINT small CHECK (a_id < 1)"
        ),
        (
            "23514",
            "check constraint \"small\" of relation \"b\" is violated by some row".to_string()
        )
    );
    ok(
        &mut s,
        "ALTER TABLE b ADD CONSTRAINT small CHECK (a_id < 1) NOT VALID",
    );
    assert_eq!(sqlstate(&mut s, "INSERT INTO b VALUES (1)").0, "23514");
    assert_eq!(
        sqlstate(&mut s, "ALTER TABLE b VALIDATE CONSTRAINT small").0,
        "23514"
    );
    ok(
        &mut s,
        "ALTER TABLE b DROP CONSTRAINT small, DROP CONSTRAINT bfk",
    );
    ok(&mut s, "DELETE FROM a WHERE i = 1");
    ok(&mut s, "ALTER TABLE b DROP CONSTRAINT IF EXISTS small");
    assert_eq!(
        sqlstate(&mut s, "ALTER TABLE b DROP CONSTRAINT small").0,
        "42704"
    );
    assert_eq!(
        sqlstate(&mut s, "ALTER TABLE b ADD UNIQUE (a_id) NOT VALID").0,
        "0A000"
    );
}

#[test]
fn unique_constraints_drop_column_and_renames() {
    let mut s = session_with(&[
        "CREATE TABLE booking (id integer PRIMARY KEY, room integer NOT NULL)",
        "INSERT INTO booking VALUES (1, 10), (2, 99)",
    ]);
    ok(&mut s, "ALTER TABLE booking ADD UNIQUE (room)");
    assert_eq!(
        sqlstate(&mut s, "INSERT INTO booking VALUES (3, 10)").0,
        "23505"
    );
    // An unnamed constraint takes the next free name, as PostgreSQL's.
    ok(&mut s, "ALTER TABLE booking ADD UNIQUE (room)");
    ok(
        &mut s,
        "ALTER TABLE booking DROP CONSTRAINT booking_room_key1",
    );
    ok(&mut s, "ALTER TABLE booking RENAME COLUMN room TO place");
    ok(&mut s, "ALTER TABLE booking RENAME TO reservation");
    assert_eq!(sqlstate(&mut s, "SELECT * FROM booking").0, "42P01");
    assert_eq!(
        sqlstate(&mut s, "INSERT INTO reservation VALUES (3, 10)").0,
        "23505"
    );
    // The unique index goes with its column.
    ok(&mut s, "ALTER TABLE reservation DROP COLUMN place");
    ok(
        &mut s,
        "ALTER TABLE reservation ADD COLUMN place int DEFAULT 10",
    );
    ok(&mut s, "INSERT INTO reservation VALUES (3)");
    assert_eq!(
        text(&ok(&mut s, "SELECT * FROM reservation ORDER BY id")),
        "1|10\n2|10\n3|10"
    );
    ok(
        &mut s,
        "ALTER TABLE reservation ALTER COLUMN place SET DEFAULT 7, ALTER COLUMN place SET NOT NULL",
    );
    ok(&mut s, "INSERT INTO reservation (id) VALUES (4)");
    assert_eq!(
        sqlstate(&mut s, "INSERT INTO reservation VALUES (5, NULL)").0,
        "23502"
    );
    ok(
        &mut s,
        "ALTER TABLE reservation ALTER COLUMN place DROP DEFAULT, ALTER COLUMN place DROP NOT NULL",
    );
    ok(&mut s, "INSERT INTO reservation (id) VALUES (5)");
    ok(
        &mut s,
        "ALTER TABLE reservation SET (fillfactor = 90, autovacuum_enabled = false)",
    );
    assert_eq!(
        text(&ok(&mut s, "SELECT * FROM reservation ORDER BY id")),
        "1|10\n2|10\n3|10\n4|7\n5|"
    );
    assert_eq!(
        sqlstate(&mut s, "ALTER TABLE reservation DROP COLUMN nope").0,
        "42703"
    );
    ok(&mut s, "ALTER TABLE reservation DROP COLUMN IF EXISTS nope");
    ok(&mut s, "ALTER TABLE IF EXISTS nothing ADD COLUMN x int");
    assert_eq!(
        sqlstate(&mut s, "ALTER TABLE nothing ADD COLUMN x int").0,
        "42P01"
    );
}

#[test]
fn a_failing_action_leaves_the_table_as_it_was_and_a_block_renames_refused() {
    let mut s = session_with(&[
        "CREATE TABLE t (id int PRIMARY KEY, v int)",
        "INSERT INTO t VALUES (1, NULL)",
    ]);
    assert_eq!(
        sqlstate(
            &mut s,
            "ALTER TABLE t ADD COLUMN w int DEFAULT 1, ALTER COLUMN v SET NOT NULL"
        )
        .0,
        "23502"
    );
    assert_eq!(text(&ok(&mut s, "SELECT * FROM t")), "1|");
    // In a block ALTER TABLE runs (see `ddlblock`), but not RENAME.
    ok(&mut s, "BEGIN");
    ok(&mut s, "ALTER TABLE t ADD COLUMN w int");
    assert_eq!(sqlstate(&mut s, "ALTER TABLE t RENAME TO u").0, "0A000");
    ok(&mut s, "ROLLBACK");
    assert_eq!(text(&ok(&mut s, "SELECT * FROM t")), "1|");
}

#[test]
fn hash_partitioned_tables_are_refused() {
    // LIST and RANGE partitioning are modelled (see `partition_tests`).
    let mut s = SqlDb::new_empty().session();
    let (code_of, message) = sqlstate(
        &mut s,
        "CREATE TABLE tpart (i int, j text) PARTITION BY HASH (i)",
    );
    assert_eq!(code_of, "0A000");
    assert!(message.contains("PARTITION BY HASH"), "{message}");
}
