//! [`Store::fork`] of a SQL database: the fork is the same database (its
//! runs give what the original's would), the two go their own ways, and
//! they share prepared statements only while their catalogs agree.

use super::test_util::*;
use super::*;

const SCHEMA: &[&str] = &[
    "CREATE TABLE rooms (id serial PRIMARY KEY, name text NOT NULL UNIQUE, beds int NOT NULL)",
    "CREATE INDEX rooms_beds ON rooms (beds)",
    "CREATE SEQUENCE tickets",
    "INSERT INTO rooms (name, beds) VALUES ('a', 1), ('b', 2)",
];

/// Statements that draw from every counter a database keeps: serials,
/// sequences, `gen_random_uuid()`'s stream, transaction ids and commit
/// positions.
fn run(db: &SqlDb) -> (Vec<String>, String) {
    let mut s = db.session();
    let mut out = Vec::new();
    for sql in [
        "INSERT INTO rooms (name, beds) VALUES ('c', 3) RETURNING id",
        "SELECT nextval('tickets'), nextval('tickets')",
        "SELECT gen_random_uuid()",
        "BEGIN ISOLATION LEVEL SERIALIZABLE",
        "UPDATE rooms SET beds = beds + 1 WHERE beds >= 2 RETURNING id, beds",
        "COMMIT",
        "SELECT id, name, beds FROM rooms ORDER BY id",
    ] {
        out.extend(rows(&ok(&mut s, sql)));
    }
    let commits = format!("{:?}", db.store().drain_commits());
    (out, commits)
}

#[test]
fn a_fork_runs_as_the_database_it_was_forked_from_would() {
    let (original, twin) = (db_with(SCHEMA), db_with(SCHEMA));
    let fork = SqlDb::attach(&original.store().fork().unwrap());
    let (forked, expected) = (run(&fork), run(&twin));
    assert_eq!(forked, expected);
    assert!(forked.0.len() > 5, "the statements ran: {forked:?}");
    assert_eq!(fork.store().stats(), twin.store().stats());
    // The original is as it was: the fork's writes are the fork's.
    let mut s = original.session();
    assert_eq!(
        rows(&ok(&mut s, "SELECT name, beds FROM rooms ORDER BY id")),
        ["a,1", "b,2"]
    );
    // And it goes on as the twin did (its counters were not shared).
    assert_eq!(run(&original), expected);
}

#[test]
fn forks_share_prepared_statements_until_a_catalog_changes() {
    let original = db_with(SCHEMA);
    let (one, two) = (
        SqlDb::attach(&original.store().fork().unwrap()),
        SqlDb::attach(&original.store().fork().unwrap()),
    );
    let sql = "SELECT name FROM rooms WHERE beds = $1";
    ok_with(&one, sql);
    assert!(
        two.shared.cached(sql).is_some(),
        "planned once, for every fork"
    );
    assert!(original.shared.cached(sql).is_some());
    // A catalog change plans again in that database only.
    let mut s = two.session();
    ok(&mut s, "DROP INDEX rooms_beds");
    assert!(two.shared.cached(sql).is_none());
    assert!(one.shared.cached(sql).is_some());
    ok_with(&two, sql);
    assert!(two.shared.cached(sql).is_some());
    ok(&mut one.session(), "ALTER TABLE rooms ADD COLUMN floor int");
    assert!(one.shared.cached(sql).is_none());
    assert!(original.shared.cached(sql).is_some());
}

fn ok_with(db: &SqlDb, sql: &str) {
    exec_with(&mut db.session(), sql, &[Value::Int(2)]).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[test]
fn a_store_forks_only_between_transactions() {
    let db = db_with(SCHEMA);
    let mut s = db.session();
    ok(&mut s, "BEGIN");
    ok(&mut s, "UPDATE rooms SET beds = 5 WHERE name = 'a'");
    let e = db.store().fork().unwrap_err();
    assert!(e.contains("only between transactions"), "{e}");
    ok(&mut s, "COMMIT");
    let fork = SqlDb::attach(&db.store().fork().unwrap());
    assert_eq!(
        rows(&ok(
            &mut fork.session(),
            "SELECT beds FROM rooms WHERE name = 'a'"
        )),
        ["5"]
    );
}

#[test]
fn a_store_with_a_layer_that_cannot_be_copied_does_not_fork() {
    let db = db_with(SCHEMA);
    db.store().extension(|| 7u32);
    let e = db.store().fork().unwrap_err();
    assert!(e.contains("every layer"), "{e}");
}
