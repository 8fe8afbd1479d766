//! Declarative partitioning on one session (the concurrency rules are
//! pinned by the `partition-*` transcripts of `scripts`). Expected
//! results are PostgreSQL 15's, recorded with psql.

use super::test_util::*;
use super::*;

fn ints(s: &mut SqlSession, sql: &str) -> Vec<Option<i64>> {
    let rows = ok(s, sql);
    rows.rows.iter().map(|r| r[0].as_int()).collect()
}

/// `foo (a, b)` by LIST (a) with partitions for 1 and 2, and `r (a
/// PRIMARY KEY, b)` by RANGE (a) over [1, 10) and [10, 20).
fn tables() -> (SqlDb, SqlSession) {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    ok(
        &mut s,
        "CREATE TABLE foo (a int, b text) PARTITION BY LIST (a)",
    );
    ok(
        &mut s,
        "CREATE TABLE foo1 PARTITION OF foo FOR VALUES IN (1)",
    );
    ok(
        &mut s,
        "CREATE TABLE foo2 PARTITION OF foo FOR VALUES IN (2)",
    );
    ok(
        &mut s,
        "CREATE TABLE r (a int PRIMARY KEY, b int) PARTITION BY RANGE (a)",
    );
    ok(
        &mut s,
        "CREATE TABLE r1 PARTITION OF r FOR VALUES FROM (1) TO (10)",
    );
    ok(
        &mut s,
        "CREATE TABLE r2 PARTITION OF r FOR VALUES FROM (10) TO (20)",
    );
    (db, s)
}

#[test]
fn rows_are_routed_and_a_row_without_a_partition_fails() {
    let (_db, mut s) = tables();
    ok(&mut s, "INSERT INTO foo VALUES (1, 'x'), (2, 'y')");
    let e = error(&mut s, "INSERT INTO foo VALUES (3, 'z')");
    assert_eq!(e.code.code(), "23514");
    assert_eq!(e.message, "no partition of relation \"foo\" found for row");
    // An UPDATE to a key no partition takes fails the same way; one to
    // another partition's key moves the row.
    let e = error(&mut s, "UPDATE foo SET a = 5 WHERE a = 1");
    assert_eq!(e.message, "no partition of relation \"foo\" found for row");
    assert_eq!(ok(&mut s, "UPDATE foo SET a = 2 WHERE a = 1").affected, 1);
    assert_eq!(
        ints(&mut s, "SELECT a FROM foo ORDER BY a"),
        vec![Some(2), Some(2)]
    );
    // A range key: the upper bound is exclusive, and NULL has no range.
    ok(&mut s, "INSERT INTO r VALUES (9, 0), (10, 0), (19, 0)");
    assert_eq!(
        error(&mut s, "INSERT INTO r VALUES (20, 0)").code.code(),
        "23514"
    );
    assert_eq!(ok(&mut s, "UPDATE r SET a = a + 5 WHERE a = 9").affected, 1);
    assert_eq!(
        ints(&mut s, "SELECT a FROM r ORDER BY a"),
        vec![Some(10), Some(14), Some(19)]
    );
    // The primary key is the whole table's.
    assert_eq!(
        error(&mut s, "INSERT INTO r VALUES (10, 1)").code.code(),
        "23505"
    );
}

#[test]
fn a_scan_returns_the_rows_partition_by_partition() {
    // PostgreSQL appends the partitions in bound order, whatever order
    // they were made or their rows written in.
    let db = SqlDb::new_empty();
    let mut s = db.session();
    ok(
        &mut s,
        "CREATE TABLE h (a int, b int) PARTITION BY RANGE (a)",
    );
    ok(
        &mut s,
        "CREATE TABLE h2 PARTITION OF h FOR VALUES FROM (10) TO (20)",
    );
    ok(
        &mut s,
        "CREATE TABLE h1 PARTITION OF h FOR VALUES FROM (0) TO (10)",
    );
    ok(&mut s, "CREATE TABLE hd PARTITION OF h DEFAULT");
    ok(
        &mut s,
        "INSERT INTO h VALUES (30, 1), (15, 2), (5, 3), (12, 4), (1, 5)",
    );
    assert_eq!(
        ints(&mut s, "SELECT a FROM h"),
        vec![Some(5), Some(1), Some(15), Some(12), Some(30)]
    );
    // A list partition comes by its least value; one of NULL alone last.
    ok(&mut s, "CREATE TABLE l (a int) PARTITION BY LIST (a)");
    ok(
        &mut s,
        "CREATE TABLE ln PARTITION OF l FOR VALUES IN (NULL)",
    );
    ok(
        &mut s,
        "CREATE TABLE l5 PARTITION OF l FOR VALUES IN (5, 1)",
    );
    ok(&mut s, "CREATE TABLE l3 PARTITION OF l FOR VALUES IN (3)");
    ok(&mut s, "INSERT INTO l VALUES (NULL), (5), (3), (1)");
    assert_eq!(
        ints(&mut s, "SELECT a FROM l"),
        vec![Some(5), Some(1), Some(3), None]
    );
}

#[test]
fn a_default_partition_takes_the_rest_null_included() {
    let (_db, mut s) = tables();
    ok(&mut s, "CREATE TABLE d PARTITION OF foo DEFAULT");
    ok(
        &mut s,
        "INSERT INTO foo VALUES (9, 'd'), (NULL, 'n'), (1, 'x')",
    );
    assert_eq!(ints(&mut s, "SELECT count(*) FROM foo"), vec![Some(3)]);
    let e = error(
        &mut s,
        "CREATE TABLE foo9 PARTITION OF foo FOR VALUES IN (9)",
    );
    assert_eq!(e.code.code(), "23514");
    assert_eq!(
        e.message,
        "updated partition constraint for default partition \"d\" would be violated by some row"
    );
    let e = error(&mut s, "CREATE TABLE d2 PARTITION OF foo DEFAULT");
    assert_eq!(e.code.code(), "42P17");
    assert_eq!(
        e.message,
        "partition \"d2\" conflicts with existing default partition \"d\""
    );
    ok(
        &mut s,
        "CREATE TABLE foo7 PARTITION OF foo FOR VALUES IN (7)",
    );
}

#[test]
fn bounds_are_checked_as_postgres_checks_them() {
    let (_db, mut s) = tables();
    let cases: &[(&str, &str, &str)] = &[
        (
            "CREATE TABLE x PARTITION OF foo FOR VALUES IN (2, 3)",
            "42P17",
            "partition \"x\" would overlap partition \"foo2\"",
        ),
        (
            "CREATE TABLE x PARTITION OF r FOR VALUES FROM (5) TO (15)",
            "42P17",
            "partition \"x\" would overlap partition \"r1\"",
        ),
        (
            "CREATE TABLE x PARTITION OF r FOR VALUES FROM (30) TO (20)",
            "42P17",
            "empty range bound specified for partition \"x\"",
        ),
        (
            "CREATE TABLE x PARTITION OF foo FOR VALUES FROM (1) TO (2)",
            "42P16",
            "invalid bound specification for a list partition",
        ),
        (
            "CREATE TABLE x PARTITION OF r FOR VALUES IN (1)",
            "42P16",
            "invalid bound specification for a range partition",
        ),
        (
            "CREATE TABLE x PARTITION OF r FOR VALUES FROM (1, 2) TO (3, 4)",
            "42P16",
            "FROM must specify exactly one value per partitioning column",
        ),
        (
            "CREATE TABLE x PARTITION OF r FOR VALUES FROM (NULL) TO (3)",
            "42P17",
            "cannot specify NULL in range bound",
        ),
        (
            "CREATE TABLE x PARTITION OF r FOR VALUES FROM ('abc') TO (3)",
            "22P02",
            "invalid input syntax for type integer: \"abc\"",
        ),
        (
            "CREATE TABLE foo1 PARTITION OF foo FOR VALUES IN (5)",
            "42P07",
            "relation \"foo1\" already exists",
        ),
        (
            "CREATE TABLE x PARTITION OF nope FOR VALUES IN (1)",
            "42P01",
            "relation \"nope\" does not exist",
        ),
        (
            "CREATE TABLE q (a int, b text) PARTITION BY LIST (a, b)",
            "42P17",
            "cannot use \"list\" partition strategy with more than one column",
        ),
        (
            "CREATE TABLE q (a int, b text) PARTITION BY LIST (c)",
            "42703",
            "column \"c\" named in partition key does not exist",
        ),
        (
            "CREATE TABLE q (a int, b text) PARTITION BY FOO (a)",
            "22023",
            "unrecognized partitioning strategy \"foo\"",
        ),
        (
            "CREATE TABLE q (a int, b text, UNIQUE (b)) PARTITION BY LIST (a)",
            "0A000",
            "unique constraint on partitioned table must include all partitioning columns",
        ),
    ];
    for (sql, code, message) in cases {
        let e = error(&mut s, sql);
        assert_eq!(
            (e.code.code(), e.message.as_str()),
            (*code, *message),
            "{sql}"
        );
    }
    ok(&mut s, "CREATE TABLE plain (a int)");
    let e = error(
        &mut s,
        "CREATE TABLE x PARTITION OF plain FOR VALUES IN (1)",
    );
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        ("42P17", "\"plain\" is not partitioned")
    );
    // The failed CREATE TABLE ... PARTITION BY left no table behind.
    ok(&mut s, "CREATE TABLE q (a int) PARTITION BY RANGE (a)");
}

#[test]
fn attach_moves_a_tables_rows_in_by_column_name() {
    let (_db, mut s) = tables();
    ok(&mut s, "CREATE TABLE m (b text, a int)");
    ok(&mut s, "INSERT INTO m VALUES ('q', 7), ('r', 7)");
    ok(
        &mut s,
        "ALTER TABLE foo ATTACH PARTITION m FOR VALUES IN (7)",
    );
    assert_eq!(
        ints(&mut s, "SELECT a FROM foo ORDER BY a"),
        vec![Some(7), Some(7)]
    );
    let e = error(
        &mut s,
        "ALTER TABLE foo ATTACH PARTITION m FOR VALUES IN (8)",
    );
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        ("42809", "\"m\" is already a partition")
    );
    ok(&mut s, "CREATE TABLE m4 (b text, a int)");
    ok(&mut s, "INSERT INTO m4 VALUES ('q', 14), ('r', 15)");
    let e = error(
        &mut s,
        "ALTER TABLE foo ATTACH PARTITION m4 FOR VALUES IN (14)",
    );
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        (
            "23514",
            "partition constraint of relation \"m4\" is violated by some row"
        )
    );
    ok(&mut s, "CREATE TABLE m1 (a int)");
    let e = error(
        &mut s,
        "ALTER TABLE foo ATTACH PARTITION m1 FOR VALUES IN (11)",
    );
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        ("42804", "child table is missing column \"b\"")
    );
    ok(&mut s, "CREATE TABLE m3 (a bigint, b text)");
    let e = error(
        &mut s,
        "ALTER TABLE foo ATTACH PARTITION m3 FOR VALUES IN (13)",
    );
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        (
            "42804",
            "child table \"m3\" has different type for column \"a\""
        )
    );
}

#[test]
fn foreign_keys_refer_to_and_from_partitioned_tables() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    ok(
        &mut s,
        "create table ppk (a int primary key) partition by list (a)",
    );
    ok(
        &mut s,
        "create table ppk1 partition of ppk for values in (1)",
    );
    ok(&mut s, "insert into ppk values (1)");
    ok(
        &mut s,
        "create table pfk (a int references ppk) partition by list (a)",
    );
    ok(
        &mut s,
        "create table pfk1 partition of pfk for values in (1, 2)",
    );
    ok(&mut s, "insert into pfk values (1)");
    assert_eq!(
        error(&mut s, "insert into pfk values (2)").code.code(),
        "23503"
    );
    assert_eq!(
        error(&mut s, "delete from ppk where a = 1").code.code(),
        "23503"
    );
    // A partition goes with its table; alone it is not modelled.
    let e = error(&mut s, "drop table pfk1");
    assert_eq!(e.code, SqlState::FeatureNotSupported);
    ok(&mut s, "drop table pfk, pfk1");
    ok(&mut s, "drop table ppk");
    ok(&mut s, "create table ppk1 (a int)");
}

#[test]
fn what_is_not_modelled_is_refused_naming_it() {
    let (_db, mut s) = tables();
    let refused = [
        ("TRUNCATE foo1", "partition \"foo1\" itself"),
        ("CREATE TABLE h (a int) PARTITION BY HASH (a)", "HASH"),
        ("ALTER TABLE foo DETACH PARTITION foo1", "DETACH PARTITION"),
        (
            "ALTER TABLE foo DETACH PARTITION foo1 CONCURRENTLY",
            "DETACH PARTITION ... CONCURRENTLY",
        ),
        (
            "CREATE TABLE x PARTITION OF foo FOR VALUES IN (5) PARTITION BY LIST (a)",
            "sub-partitioning",
        ),
    ];
    for (sql, names) in refused {
        let e = error(&mut s, sql);
        assert_eq!(e.code, SqlState::FeatureNotSupported, "{sql}");
        assert!(e.message.contains(names), "{sql}: {}", e.message);
    }
    let e = error(&mut s, "CREATE INDEX ON foo1 (b)");
    assert_eq!(e.code, SqlState::FeatureNotSupported);
    let e = error(&mut s, "CREATE TABLE c (a int REFERENCES r1 (a))");
    assert_eq!(e.code, SqlState::FeatureNotSupported);
    // PostgreSQL's own refusal: a unique index without the partition key.
    let e = error(&mut s, "CREATE UNIQUE INDEX ON foo (b)");
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        (
            "0A000",
            "unique constraint on partitioned table must include all partitioning columns"
        )
    );
    ok(&mut s, "CREATE UNIQUE INDEX ON r (a, b)");
    // In a transaction block, as the engine's other DDL.
    ok(&mut s, "BEGIN");
    let e = error(
        &mut s,
        "CREATE TABLE foo5 PARTITION OF foo FOR VALUES IN (5)",
    );
    assert_eq!(e.code, SqlState::FeatureNotSupported);
    ok(&mut s, "ROLLBACK");
}

#[test]
fn lock_vacuum_and_analyze_take_partition_names() {
    let (_db, mut s) = tables();
    ok(&mut s, "BEGIN");
    ok(&mut s, "LOCK foo1 IN SHARE MODE");
    ok(&mut s, "ANALYZE foo1, foo2");
    ok(&mut s, "COMMIT");
    ok(&mut s, "VACUUM (SKIP_LOCKED) foo1, foo2");
    ok(&mut s, "VACUUM (ANALYZE, SKIP_LOCKED) foo");
}

#[test]
fn statements_on_a_partition_itself_see_and_write_its_rows() {
    let (_db, mut s) = tables();
    ok(&mut s, "INSERT INTO foo VALUES (1, 'x'), (2, 'y')");
    ok(&mut s, "INSERT INTO foo1 VALUES (1, 'z')");
    assert_eq!(
        ints(&mut s, "SELECT a FROM foo1 ORDER BY b"),
        [Some(1), Some(1)]
    );
    assert_eq!(ints(&mut s, "SELECT foo2.a FROM foo2"), [Some(2)]);
    // PostgreSQL 15: a row outside the partition's bound is refused, and
    // an UPDATE through the partition does not move a row out of it.
    for sql in [
        "INSERT INTO foo1 VALUES (2, 'w')",
        "INSERT INTO foo1 VALUES (NULL, 'w')",
        "UPDATE foo1 SET a = 2 WHERE b = 'x'",
    ] {
        let e = error(&mut s, sql);
        assert_eq!(
            (e.code.code(), e.message.as_str()),
            (
                "23514",
                "new row for relation \"foo1\" violates partition constraint"
            ),
            "{sql}"
        );
    }
    assert_eq!(ok(&mut s, "UPDATE foo2 SET b = 'v'").affected, 1);
    assert_eq!(ok(&mut s, "DELETE FROM foo1 WHERE b = 'z'").affected, 1);
    assert_eq!(ok(&mut s, "SELECT * FROM foo2 FOR UPDATE").rows.len(), 1);
    assert_eq!(
        ints(&mut s, "SELECT a FROM foo ORDER BY a"),
        [Some(1), Some(2)]
    );
    // A range partition with a primary key, joined with its parent.
    ok(&mut s, "INSERT INTO r VALUES (5, 1), (15, 2)");
    assert_eq!(
        ints(&mut s, "SELECT r2.b FROM r2 JOIN r ON r.a = r2.a"),
        [Some(2)]
    );
    assert_eq!(ints(&mut s, "SELECT b FROM r1 WHERE a = 15"), []);
    let e = error(&mut s, "INSERT INTO r2 VALUES (15, 3)");
    assert_eq!(e.code.code(), "23505");
    assert_eq!(ok(&mut s, "UPDATE r1 SET a = 6").affected, 1);
    let e = error(&mut s, "UPDATE r1 SET a = 10");
    assert_eq!(e.code.code(), "23514");
}

#[test]
fn tableoid_as_regclass_names_the_rows_partition() {
    let (_db, mut s) = tables();
    ok(&mut s, "INSERT INTO foo VALUES (2, 'y'), (1, 'x')");
    ok(&mut s, "INSERT INTO r VALUES (5, 1), (15, 2)");
    ok(&mut s, "CREATE TABLE plain (a int)");
    ok(&mut s, "INSERT INTO plain VALUES (1)");
    let text = |rows: Rows| -> Vec<String> { rows.rows.iter().map(|r| r[0].to_string()).collect() };
    let got = ok(&mut s, "SELECT tableoid::regclass, * FROM foo ORDER BY a");
    assert_eq!(got.columns[0], "tableoid");
    assert_eq!(text(got), ["foo1", "foo2"]);
    let got = ok(&mut s, "SELECT r.tableoid::regclass FROM r ORDER BY a");
    assert_eq!(text(got), ["r1", "r2"]);
    assert_eq!(
        text(ok(&mut s, "SELECT tableoid::regclass FROM r2")),
        ["r2"]
    );
    assert_eq!(
        text(ok(&mut s, "SELECT tableoid::regclass FROM plain")),
        ["plain"]
    );
}
