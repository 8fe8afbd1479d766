//! Referential actions on one session (their concurrency rules are
//! pinned by the `cascade-*` transcripts of `scripts`). Expected results
//! are PostgreSQL 15's, recorded with psql.

use super::test_util::*;
use super::*;

/// The rows as one line of text, `NULL` for nulls: `1,a;2,NULL`.
/// The rows of `sql`, values joined by ',' and rows by ';'.
fn rows(s: &mut SqlSession, sql: &str) -> String {
    super::test_util::rows(&ok(s, sql)).join(";")
}

/// `p` with a unique `code`; `c` refers to `p.id` (CASCADE both ways) and
/// to `p.code` (SET NULL on delete, RESTRICT on update); `d` refers to `c`
/// with SET DEFAULT (default 2).
fn chain() -> (SqlDb, SqlSession) {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    for stmt in [
        "CREATE TABLE p (id int PRIMARY KEY, code text UNIQUE)",
        "CREATE TABLE c (id int PRIMARY KEY, p int REFERENCES p ON DELETE CASCADE ON UPDATE CASCADE, pc text REFERENCES p (code) ON DELETE SET NULL ON UPDATE RESTRICT)",
        "CREATE TABLE d (id int PRIMARY KEY, c int DEFAULT 2 REFERENCES c ON DELETE SET DEFAULT, note text NOT NULL DEFAULT 'n')",
        "INSERT INTO p VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        "INSERT INTO c VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 1, 'c')",
        "INSERT INTO d VALUES (10, 1), (11, 3), (12, 2)",
    ] {
        ok(&mut s, stmt);
    }
    (db, s)
}

#[test]
fn delete_cascades_along_a_chain_and_sets_defaults() {
    let (_db, mut s) = chain();
    assert_eq!(ok(&mut s, "DELETE FROM p WHERE id = 1").affected, 1);
    assert_eq!(rows(&mut s, "SELECT * FROM c ORDER BY id"), "2,2,b");
    assert_eq!(
        rows(&mut s, "SELECT * FROM d ORDER BY id"),
        "10,2,n;11,2,n;12,2,n"
    );
}

#[test]
fn update_cascades_the_new_key_and_restrict_fails_only_when_referenced() {
    let (_db, mut s) = chain();
    ok(&mut s, "DELETE FROM p WHERE id = 1");
    assert_eq!(ok(&mut s, "UPDATE p SET id = 20 WHERE id = 2").affected, 1);
    assert_eq!(rows(&mut s, "SELECT * FROM c ORDER BY id"), "2,20,b");
    // c's row with pc = 'c' went with p 1: nothing refers to 'c' now.
    assert_eq!(
        ok(&mut s, "UPDATE p SET code = 'cc' WHERE id = 3").affected,
        1
    );
    assert_eq!(
        code(&mut s, "UPDATE p SET code = 'bb' WHERE id = 20"),
        "23503"
    );
}

#[test]
fn delete_sets_null() {
    let (_db, mut s) = chain();
    ok(&mut s, "INSERT INTO p VALUES (4, 'd')");
    ok(&mut s, "UPDATE c SET pc = 'd' WHERE id = 2");
    ok(&mut s, "DELETE FROM p WHERE id = 4");
    assert_eq!(
        rows(&mut s, "SELECT * FROM c ORDER BY id"),
        "1,1,a;2,2,NULL;3,1,c"
    );
}

#[test]
fn set_default_to_the_deleted_key_itself_is_still_referenced() {
    let (_db, mut s) = chain();
    ok(&mut s, "DELETE FROM p WHERE id = 1");
    assert_eq!(code(&mut s, "DELETE FROM c WHERE id = 2"), "23503");
    assert_eq!(
        rows(&mut s, "SELECT * FROM d ORDER BY id"),
        "10,2,n;11,2,n;12,2,n"
    );
}

#[test]
fn set_null_into_not_null_column_is_23502() {
    let (_db, mut s) = chain();
    ok(
        &mut s,
        "CREATE TABLE n (id int PRIMARY KEY, p int NOT NULL REFERENCES p ON DELETE SET NULL)",
    );
    ok(&mut s, "INSERT INTO n VALUES (1, 3)");
    assert_eq!(code(&mut s, "DELETE FROM p WHERE id = 3"), "23502");
}

#[test]
fn self_reference_cascades_down_the_tree() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    ok(
        &mut s,
        "CREATE TABLE s (id int PRIMARY KEY, parent int REFERENCES s ON DELETE CASCADE, v int)",
    );
    ok(
        &mut s,
        "INSERT INTO s VALUES (1, NULL, 0), (2, 1, 0), (3, 2, 0), (4, 1, 0), (5, NULL, 0)",
    );
    assert_eq!(code(&mut s, "INSERT INTO s VALUES (6, 9, 0)"), "23503");
    assert_eq!(ok(&mut s, "DELETE FROM s WHERE id = 1").affected, 1);
    assert_eq!(rows(&mut s, "SELECT * FROM s ORDER BY id"), "5,NULL,0");
}

#[test]
fn no_action_and_restrict_are_checked_at_the_end_of_the_statement() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    ok(&mut s, "CREATE TABLE p (id int PRIMARY KEY)");
    ok(
        &mut s,
        "CREATE TABLE na (id int PRIMARY KEY, p int REFERENCES p ON DELETE NO ACTION)",
    );
    ok(&mut s, "INSERT INTO p VALUES (1), (2)");
    ok(&mut s, "INSERT INTO na VALUES (1, 1)");
    assert_eq!(code(&mut s, "DELETE FROM p WHERE id = 1"), "23503");
    // A referenced row deleted together with its referencing rows in one
    // statement (a data-modifying WITH) leaves nothing referring to it.
    assert_eq!(
        ok(
            &mut s,
            "WITH gone AS (DELETE FROM na WHERE p = 1 RETURNING id) DELETE FROM p WHERE id = 1"
        )
        .affected,
        1
    );
    assert_eq!(rows(&mut s, "SELECT * FROM p"), "2");
}

/// conform's seed 1 program 1848 (shrunk): a child inserted and committed
/// after a Repeatable Read transaction's snapshot still keeps that
/// transaction from deleting its parent (PostgreSQL: 23503, the RI query
/// runs on a fresh snapshot); the store once deleted it and left an orphan.
#[test]
fn no_action_at_repeatable_read_sees_a_child_committed_after_the_snapshot() {
    let db = SqlDb::new_empty();
    let mut s1 = db.session();
    let mut s2 = db.session();
    ok(
        &mut s1,
        "CREATE TABLE acct (id int PRIMARY KEY, bal int NOT NULL)",
    );
    ok(
        &mut s1,
        "CREATE TABLE hold (id int PRIMARY KEY, acct_id int NOT NULL REFERENCES acct (id))",
    );
    ok(&mut s1, "INSERT INTO acct VALUES (4, 1)");
    ok(&mut s2, "BEGIN ISOLATION LEVEL REPEATABLE READ");
    ok(&mut s1, "BEGIN ISOLATION LEVEL REPEATABLE READ");
    ok(&mut s1, "INSERT INTO acct VALUES (1, 4)");
    ok(&mut s2, "INSERT INTO hold VALUES (4, 4)");
    ok(&mut s2, "COMMIT");
    assert_eq!(code(&mut s1, "DELETE FROM acct WHERE id = 4"), "23503");
    ok(&mut s1, "ROLLBACK");
    assert_eq!(rows(&mut s1, "SELECT id FROM acct ORDER BY id"), "4");
}
