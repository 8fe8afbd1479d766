//! Deferred foreign keys and `SET CONSTRAINTS` on one session (their
//! concurrency rules are pinned by the `deferred-*` transcripts of
//! `scripts`). Expected results are PostgreSQL 15's, recorded with psql.

use super::test_util::*;
use super::*;

fn ids(s: &mut SqlSession, sql: &str) -> Vec<i64> {
    let rows = ok(s, sql);
    (0..rows.len())
        .map(|i| rows.int(i, "id").unwrap())
        .collect()
}

/// `p`, and `c` whose key to `p` is `DEFERRABLE INITIALLY DEFERRED`.
fn tables() -> (SqlDb, SqlSession) {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    ok(&mut s, "CREATE TABLE p (id int PRIMARY KEY)");
    ok(
        &mut s,
        "CREATE TABLE c (id int PRIMARY KEY, p int REFERENCES p DEFERRABLE INITIALLY DEFERRED)",
    );
    (db, s)
}

#[test]
fn a_deferred_child_check_waits_for_the_commit() {
    let (_db, mut s) = tables();
    // The parent may come after the child, within the transaction.
    ok(&mut s, "BEGIN");
    ok(&mut s, "INSERT INTO c VALUES (1, 5)");
    ok(&mut s, "INSERT INTO p VALUES (5)");
    ok(&mut s, "COMMIT");
    // Without it the COMMIT fails, with the constraint's message, and the
    // transaction is rolled back.
    ok(&mut s, "BEGIN");
    ok(&mut s, "INSERT INTO c VALUES (2, 6)");
    let e = error(&mut s, "COMMIT");
    assert_eq!(e.code.code(), "23503");
    assert_eq!(
        e.message,
        "insert or update on table \"c\" violates foreign key constraint \"c_p_fkey\""
    );
    assert!(!s.in_transaction());
    assert_eq!(ids(&mut s, "SELECT id FROM c ORDER BY id"), [1]);
    // A statement of its own commits at once, so it fails.
    assert_eq!(code(&mut s, "INSERT INTO c VALUES (3, 7)"), "23503");
    // A row deleted, or given another key, before the commit is not
    // checked for the key it had.
    ok(&mut s, "BEGIN");
    ok(&mut s, "INSERT INTO c VALUES (4, 8)");
    ok(&mut s, "DELETE FROM c WHERE id = 4");
    ok(&mut s, "COMMIT");
    ok(&mut s, "BEGIN");
    ok(&mut s, "INSERT INTO c VALUES (4, 8)");
    ok(&mut s, "UPDATE c SET p = 5 WHERE id = 4");
    ok(&mut s, "COMMIT");
    assert_eq!(ids(&mut s, "SELECT id FROM c ORDER BY id"), [1, 4]);
    // A row moved to another primary key is checked under its new key.
    ok(&mut s, "BEGIN");
    ok(&mut s, "INSERT INTO c VALUES (5, 9)");
    ok(&mut s, "UPDATE c SET id = 6 WHERE id = 5");
    assert_eq!(code(&mut s, "COMMIT"), "23503");
}

#[test]
fn a_deferred_no_action_check_waits_for_the_commit() {
    let (_db, mut s) = tables();
    ok(&mut s, "INSERT INTO p VALUES (5)");
    ok(&mut s, "INSERT INTO c VALUES (1, 5)");
    ok(&mut s, "BEGIN");
    ok(&mut s, "DELETE FROM p WHERE id = 5");
    let e = error(&mut s, "COMMIT");
    assert_eq!(e.code.code(), "23503");
    assert_eq!(
        e.message,
        "update or delete on table \"p\" violates foreign key constraint \"c_p_fkey\" on table \"c\""
    );
    // The key given back, or the referencing rows gone, by the commit.
    ok(&mut s, "BEGIN");
    ok(&mut s, "DELETE FROM p WHERE id = 5");
    ok(&mut s, "INSERT INTO p VALUES (5)");
    ok(&mut s, "COMMIT");
    ok(&mut s, "BEGIN");
    ok(&mut s, "UPDATE p SET id = 6");
    ok(&mut s, "UPDATE c SET p = 6");
    ok(&mut s, "COMMIT");
    ok(&mut s, "BEGIN");
    ok(&mut s, "DELETE FROM p WHERE id = 6");
    ok(&mut s, "DELETE FROM c");
    ok(&mut s, "COMMIT");
    assert!(ids(&mut s, "SELECT id FROM p").is_empty());
}

#[test]
fn restrict_and_cascade_act_at_once_when_deferrable() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    ok(&mut s, "CREATE TABLE r (id int PRIMARY KEY)");
    ok(
        &mut s,
        "CREATE TABLE rc (id int PRIMARY KEY, r int REFERENCES r ON DELETE RESTRICT DEFERRABLE INITIALLY DEFERRED)",
    );
    ok(
        &mut s,
        "CREATE TABLE cc (id int PRIMARY KEY, r int REFERENCES r ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED)",
    );
    ok(&mut s, "INSERT INTO r VALUES (1), (2)");
    ok(&mut s, "INSERT INTO rc VALUES (1, 1)");
    ok(&mut s, "INSERT INTO cc VALUES (2, 2)");
    ok(&mut s, "BEGIN");
    assert_eq!(code(&mut s, "DELETE FROM r WHERE id = 1"), "23503");
    ok(&mut s, "ROLLBACK");
    ok(&mut s, "BEGIN");
    ok(&mut s, "DELETE FROM r WHERE id = 2");
    assert!(ids(&mut s, "SELECT id FROM cc").is_empty());
    ok(&mut s, "ROLLBACK");
}

#[test]
fn set_constraints_defers_and_fires() {
    let (_db, mut s) = tables();
    ok(
        &mut s,
        "CREATE TABLE c2 (id int PRIMARY KEY, p int, CONSTRAINT k FOREIGN KEY (p) REFERENCES p DEFERRABLE INITIALLY IMMEDIATE)",
    );
    ok(&mut s, "CREATE TABLE u2 (id int, pos int UNIQUE)");
    ok(
        &mut s,
        "CREATE TABLE chk (id int CONSTRAINT ck CHECK (id > 0))",
    );
    // Outside a block only a warning.
    ok(&mut s, "SET CONSTRAINTS ALL DEFERRED");
    assert_eq!(code(&mut s, "INSERT INTO c2 VALUES (1, 99)"), "23503");
    // INITIALLY IMMEDIATE, deferred by name.
    ok(&mut s, "BEGIN");
    ok(&mut s, "SET CONSTRAINTS k DEFERRED");
    ok(&mut s, "INSERT INTO c2 VALUES (1, 99)");
    ok(&mut s, "INSERT INTO p VALUES (99)");
    ok(&mut s, "COMMIT");
    // ALL IMMEDIATE before: the check is the statement's.
    ok(&mut s, "BEGIN");
    ok(&mut s, "SET CONSTRAINTS ALL IMMEDIATE");
    assert_eq!(code(&mut s, "INSERT INTO c VALUES (9, 98)"), "23503");
    ok(&mut s, "ROLLBACK");
    // IMMEDIATE after: the pending checks run there and then.
    for set in [
        "SET CONSTRAINTS c_p_fkey IMMEDIATE",
        "SET CONSTRAINTS public.c_p_fkey IMMEDIATE",
        "SET CONSTRAINTS ALL IMMEDIATE",
    ] {
        ok(&mut s, "BEGIN");
        ok(&mut s, "INSERT INTO c VALUES (9, 98)");
        assert_eq!(code(&mut s, set), "23503", "{set}");
        ok(&mut s, "ROLLBACK");
    }
    ok(&mut s, "BEGIN");
    ok(&mut s, "INSERT INTO c VALUES (9, 99)");
    ok(&mut s, "SET CONSTRAINTS ALL IMMEDIATE");
    ok(&mut s, "SET CONSTRAINTS ALL DEFERRED");
    ok(&mut s, "COMMIT");
    // Names that are not deferrable foreign keys.
    for (set, want) in [
        ("SET CONSTRAINTS u2_pos_key DEFERRED", "42809"),
        ("SET CONSTRAINTS k, u2_pos_key DEFERRED", "42809"),
        ("SET CONSTRAINTS ck IMMEDIATE", "42809"),
        ("SET CONSTRAINTS nope DEFERRED", "42704"),
        ("SET CONSTRAINTS other.c_p_fkey DEFERRED", "3F000"),
        ("SET CONSTRAINTS p_pkey DEFERRED", "42809"),
        ("SET CONSTRAINTS ALL", "42601"),
    ] {
        ok(&mut s, "BEGIN");
        assert_eq!(code(&mut s, set), want, "{set}");
        assert_eq!(code(&mut s, "SELECT 1"), "25P02");
        ok(&mut s, "ROLLBACK");
    }
}

#[test]
fn savepoints_restore_pending_checks_and_modes() {
    let (_db, mut s) = tables();
    // A failed IMMEDIATE rolled back leaves the check pending.
    ok(&mut s, "BEGIN");
    ok(&mut s, "INSERT INTO c VALUES (9, 99)");
    ok(&mut s, "SAVEPOINT a");
    assert_eq!(code(&mut s, "SET CONSTRAINTS ALL IMMEDIATE"), "23503");
    ok(&mut s, "ROLLBACK TO a");
    assert_eq!(code(&mut s, "COMMIT"), "23503");
    // A check queued after the savepoint goes with it.
    ok(&mut s, "BEGIN");
    ok(&mut s, "SAVEPOINT a");
    ok(&mut s, "INSERT INTO c VALUES (9, 99)");
    ok(&mut s, "ROLLBACK TO a");
    ok(&mut s, "COMMIT");
    // So does a mode set after it; RELEASE keeps it.
    ok(&mut s, "BEGIN");
    ok(&mut s, "SAVEPOINT a");
    ok(&mut s, "SET CONSTRAINTS ALL IMMEDIATE");
    ok(&mut s, "ROLLBACK TO a");
    ok(&mut s, "INSERT INTO c VALUES (9, 99)");
    assert_eq!(code(&mut s, "COMMIT"), "23503");
    ok(&mut s, "BEGIN");
    ok(&mut s, "SAVEPOINT a");
    ok(&mut s, "SET CONSTRAINTS ALL IMMEDIATE");
    ok(&mut s, "RELEASE a");
    assert_eq!(code(&mut s, "INSERT INTO c VALUES (9, 99)"), "23503");
    ok(&mut s, "ROLLBACK");
}

#[test]
fn declarations_as_postgres_reads_them() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    ok(&mut s, "CREATE TABLE p (id int PRIMARY KEY)");
    // INITIALLY DEFERRED alone is DEFERRABLE.
    ok(
        &mut s,
        "CREATE TABLE c (id int PRIMARY KEY, p int REFERENCES p INITIALLY DEFERRED)",
    );
    ok(&mut s, "BEGIN");
    ok(&mut s, "INSERT INTO c VALUES (1, 5)");
    ok(&mut s, "INSERT INTO p VALUES (5)");
    ok(&mut s, "COMMIT");
    assert_eq!(
        code(
            &mut s,
            "CREATE TABLE nd (id int PRIMARY KEY, p int REFERENCES p NOT DEFERRABLE INITIALLY DEFERRED)"
        ),
        "42601"
    );
    // Deferrable unique and primary keys are out of the store's reach.
    for sql in [
        "CREATE TABLE u (id int, pos int UNIQUE DEFERRABLE INITIALLY DEFERRED)",
        "CREATE TABLE u (id int, pos int UNIQUE DEFERRABLE)",
        "CREATE TABLE u (id int PRIMARY KEY DEFERRABLE)",
        "CREATE TABLE u (id int, pos int, UNIQUE (pos) DEFERRABLE INITIALLY IMMEDIATE)",
        "CREATE TABLE u (id int, PRIMARY KEY (id) INITIALLY DEFERRED)",
    ] {
        let e = error(&mut s, sql);
        assert_eq!(e.code.code(), "0A000", "{sql}");
        assert!(e.message.contains("DEFERRABLE unique constraints"), "{e}");
    }
    ok(
        &mut s,
        "CREATE TABLE u (id int PRIMARY KEY NOT DEFERRABLE, pos int UNIQUE INITIALLY IMMEDIATE)",
    );
    let e = error(&mut s, "ALTER TABLE u ADD UNIQUE (id, pos) DEFERRABLE");
    assert_eq!(e.code.code(), "0A000");
    // A deferred key added by ALTER TABLE.
    ok(&mut s, "CREATE TABLE c3 (id int PRIMARY KEY, p int)");
    ok(
        &mut s,
        "ALTER TABLE c3 ADD CONSTRAINT c3_p FOREIGN KEY (p) REFERENCES p DEFERRABLE INITIALLY DEFERRED",
    );
    ok(&mut s, "BEGIN");
    ok(&mut s, "INSERT INTO c3 VALUES (1, 6)");
    ok(&mut s, "INSERT INTO p VALUES (6)");
    ok(&mut s, "COMMIT");
    ok(&mut s, "BEGIN");
    ok(&mut s, "INSERT INTO c3 VALUES (2, 7)");
    assert_eq!(code(&mut s, "COMMIT"), "23503");
}
