//! Hash indexes and REINDEX on the store, outcomes and SQLSTATEs as
//! PostgreSQL 15 gives them for the same statements (checked with psql;
//! REINDEX's locks read from `pg_locks` there).

use super::plan::{Access, Prepared};
use super::settings::ScanSettings;
use super::test_util::*;
use super::*;

/// Whether the query reads its one table through an index.
fn uses_index(db: &SqlDb, sql: &str) -> bool {
    let statement = db.prepare(sql, ScanSettings::default()).unwrap();
    let Prepared::Select(plan) = &statement.kind else {
        panic!("{sql}: not a query");
    };
    matches!(plan.sources[0].access, Access::Index { .. })
}

#[test]
fn a_hash_index_answers_equalities_only() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    ok(&mut s, "CREATE TABLE ht (id int, p int)");
    // PostgreSQL's message; the store names the statement after it.
    for (sql, what) in [
        ("CREATE UNIQUE INDEX ON ht USING hash (p)", "unique indexes"),
        (
            "CREATE INDEX ON ht USING hash (p) INCLUDE (id)",
            "included columns",
        ),
        (
            "CREATE INDEX ON ht USING hash (id, p)",
            "multicolumn indexes",
        ),
    ] {
        let (code, message) = sqlstate(&mut s, sql);
        assert_eq!(code, "0A000");
        let want = format!("access method \"hash\" does not support {what}");
        assert!(message.starts_with(&want), "{message}");
    }
    assert_eq!(
        sqlstate(&mut s, "CREATE INDEX ON ht USING gin (p)").0,
        "0A000"
    );
    ok(&mut s, "CREATE INDEX ht_p ON ht USING hash (p)");
    ok(
        &mut s,
        "INSERT INTO ht SELECT g, g % 4 FROM generate_series(1, 40) g",
    );
    assert!(uses_index(&db, "SELECT * FROM ht WHERE p = 2"));
    assert!(!uses_index(&db, "SELECT * FROM ht WHERE p > 2"));
    assert!(!uses_index(&db, "SELECT * FROM ht WHERE p BETWEEN 1 AND 2"));
    // A btree on the same column answers the range.
    ok(&mut s, "CREATE INDEX ht_pb ON ht (p)");
    assert!(uses_index(&db, "SELECT * FROM ht WHERE p > 2"));
}

#[test]
fn reindex_takes_postgresqls_locks_and_rebuilds_nothing() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    let mut other = db.session();
    ok(&mut s, "CREATE TABLE ri (id int PRIMARY KEY, v int)");
    ok(&mut s, "CREATE INDEX ri_v ON ri (v)");
    ok(&mut s, "CREATE TABLE rh (v int)");
    ok(&mut s, "INSERT INTO ri VALUES (1, 1)");
    ok(&mut s, "REINDEX TABLE ri");
    ok(&mut s, "REINDEX (VERBOSE) INDEX ri_v");
    ok(&mut s, "REINDEX SCHEMA public");
    // In a block it holds SHARE on the table and ACCESS EXCLUSIVE on its
    // indexes (here: the table's ACCESS EXCLUSIVE) to the end.
    ok(&mut s, "BEGIN");
    ok(&mut s, "REINDEX TABLE ri");
    ok(&mut other, "BEGIN");
    assert_eq!(
        sqlstate(&mut other, "LOCK TABLE ri IN ACCESS SHARE MODE NOWAIT").0,
        "55P03"
    );
    ok(&mut other, "ROLLBACK");
    ok(&mut s, "COMMIT");
    // A table without an index: SHARE alone, so readers go on.
    ok(&mut s, "BEGIN");
    ok(&mut s, "REINDEX TABLE rh");
    ok(&mut other, "BEGIN");
    ok(&mut other, "LOCK TABLE rh IN ACCESS SHARE MODE NOWAIT");
    assert_eq!(
        sqlstate(&mut other, "LOCK TABLE rh IN ROW EXCLUSIVE MODE NOWAIT").0,
        "55P03"
    );
    ok(&mut other, "ROLLBACK");
    ok(&mut s, "COMMIT");
    assert_eq!(
        sqlstate(&mut s, "REINDEX TABLE nope"),
        ("42P01", "relation \"nope\" does not exist".into())
    );
    assert_eq!(
        sqlstate(&mut s, "REINDEX INDEX nope"),
        ("42P01", "relation \"nope\" does not exist".into())
    );
    assert_eq!(
        sqlstate(&mut s, "REINDEX SCHEMA nope"),
        ("3F000", "schema \"nope\" does not exist".into())
    );
    ok(&mut s, "BEGIN");
    assert_eq!(
        sqlstate(&mut s, "REINDEX SCHEMA public"),
        (
            "25001",
            "REINDEX SCHEMA cannot run inside a transaction block".into()
        )
    );
    ok(&mut s, "ROLLBACK");
    assert_eq!(sqlstate(&mut s, "REINDEX TABLE CONCURRENTLY ri").0, "0A000");
    assert_eq!(sqlstate(&mut s, "REINDEX DATABASE d").0, "0A000");
    // The rows and the index still answer.
    ok(&mut s, "SELECT * FROM ri WHERE v = 1");
}
