//! Roles, grants and the current role on the store, each outcome as
//! PostgreSQL 15 gives it for the same statements (checked with psql).

use super::test_util::*;
use super::*;

/// The rows of `sql` as psql -At prints them, one string per row.
fn ok(s: &mut SqlSession, sql: &str) -> Vec<String> {
    pg_lines(&super::test_util::ok(s, sql))
}

const DENIED: (&str, &str) = ("42501", "permission denied for table rt");

fn denied() -> (&'static str, String) {
    (DENIED.0, DENIED.1.to_string())
}

#[test]
fn roles_are_created_and_dropped_as_in_postgres() {
    let mut s = SqlDb::new_empty().session();
    ok(&mut s, "CREATE ROLE r1");
    assert_eq!(
        sqlstate(&mut s, "CREATE ROLE r1"),
        ("42710", "role \"r1\" already exists".into())
    );
    assert_eq!(
        sqlstate(&mut s, "CREATE ROLE public"),
        ("42939", "role name \"public\" is reserved".into())
    );
    assert_eq!(
        sqlstate(&mut s, "DROP ROLE nobody"),
        ("42704", "role \"nobody\" does not exist".into())
    );
    ok(&mut s, "DROP ROLE IF EXISTS nobody");
    ok(&mut s, "CREATE TABLE rt (id int PRIMARY KEY, v int)");
    assert_eq!(
        sqlstate(&mut s, "GRANT SELECT ON rt TO nobody"),
        ("42704", "role \"nobody\" does not exist".into())
    );
    assert_eq!(
        sqlstate(&mut s, "GRANT SELECT ON nosuch TO r1"),
        ("42P01", "relation \"nosuch\" does not exist".into())
    );
    assert_eq!(sqlstate(&mut s, "GRANT SELECT (v) ON rt TO r1").0, "0A000");
    assert_eq!(
        sqlstate(&mut s, "GRANT TEMP ON DATABASE d TO r1").0,
        "0A000"
    );
    assert_eq!(sqlstate(&mut s, "GRANT r1 TO postgres").0, "0A000");
    ok(&mut s, "GRANT SELECT ON rt TO r1");
    let depends = (
        "2BP01",
        "role \"r1\" cannot be dropped because some objects depend on it".to_string(),
    );
    assert_eq!(sqlstate(&mut s, "DROP ROLE r1"), depends);
    ok(&mut s, "REVOKE ALL ON rt FROM r1");
    ok(&mut s, "ALTER TABLE rt OWNER TO r1");
    assert_eq!(sqlstate(&mut s, "DROP ROLE r1"), depends);
    ok(&mut s, "ALTER TABLE rt OWNER TO postgres");
    ok(&mut s, "DROP ROLE r1");
    assert_eq!(
        sqlstate(&mut s, "ALTER TABLE rt OWNER TO r1"),
        ("42704", "role \"r1\" does not exist".into())
    );
    // A dropped table's grants go with it.
    ok(&mut s, "CREATE ROLE r2");
    ok(&mut s, "GRANT ALL ON TABLE rt TO r2, PUBLIC");
    ok(&mut s, "DROP TABLE rt");
    ok(&mut s, "DROP ROLE r2");
    // DDL, outside blocks only here.
    ok(&mut s, "BEGIN");
    assert_eq!(sqlstate(&mut s, "CREATE ROLE r3").0, "0A000");
    ok(&mut s, "ROLLBACK");
}

#[test]
fn set_role_and_session_authorization_as_in_postgres() {
    let mut s = SqlDb::new_empty().session();
    ok(&mut s, "CREATE ROLE r1");
    assert_eq!(
        sqlstate(&mut s, "SET ROLE nobody"),
        ("22023", "role \"nobody\" does not exist".into())
    );
    assert_eq!(
        sqlstate(&mut s, "SET SESSION AUTHORIZATION nobody").0,
        "22023"
    );
    ok(&mut s, "SET ROLE r1");
    assert_eq!(ok(&mut s, "SHOW role"), ["r1"]);
    assert_eq!(ok(&mut s, "SHOW session_authorization"), ["postgres"]);
    // RESET ALL leaves the role.
    ok(&mut s, "RESET ALL");
    assert_eq!(ok(&mut s, "SHOW role"), ["r1"]);
    // A new session user resets the role.
    ok(&mut s, "SET SESSION AUTHORIZATION r1");
    assert_eq!(ok(&mut s, "SHOW role"), ["none"]);
    assert_eq!(
        sqlstate(&mut s, "SET ROLE postgres"),
        ("42501", "permission denied to set role \"postgres\"".into())
    );
    ok(&mut s, "SET ROLE r1");
    ok(&mut s, "SET ROLE NONE");
    ok(&mut s, "RESET SESSION AUTHORIZATION");
    assert_eq!(ok(&mut s, "SHOW session_authorization"), ["postgres"]);
    ok(&mut s, "SET ROLE postgres");
    assert_eq!(ok(&mut s, "SHOW role"), ["postgres"]);
    ok(&mut s, "RESET ROLE");
    assert_eq!(ok(&mut s, "SHOW role"), ["none"]);
    // SET ROLE in a block that rolls back is undone.
    ok(&mut s, "BEGIN");
    ok(&mut s, "SET ROLE r1");
    ok(&mut s, "ROLLBACK");
    assert_eq!(ok(&mut s, "SHOW role"), ["none"]);
}

#[test]
fn a_role_without_superuser_needs_table_privileges() {
    let mut s = SqlDb::new_empty().session();
    ok(&mut s, "CREATE ROLE r2");
    ok(&mut s, "CREATE TABLE rt (id int PRIMARY KEY, v int)");
    ok(&mut s, "INSERT INTO rt VALUES (1, 1)");
    ok(&mut s, "GRANT SELECT ON rt TO r2");
    ok(&mut s, "SET ROLE r2");
    assert_eq!(ok(&mut s, "SELECT * FROM rt"), ["1|1"]);
    assert_eq!(sqlstate(&mut s, "UPDATE rt SET v = 2"), denied());
    assert_eq!(sqlstate(&mut s, "DELETE FROM rt WHERE id = 1"), denied());
    assert_eq!(sqlstate(&mut s, "INSERT INTO rt VALUES (2, 2)"), denied());
    assert_eq!(sqlstate(&mut s, "TRUNCATE rt"), denied());
    ok(&mut s, "BEGIN");
    assert_eq!(sqlstate(&mut s, "SELECT * FROM rt FOR UPDATE"), denied());
    ok(&mut s, "ROLLBACK");
    ok(&mut s, "BEGIN");
    ok(&mut s, "LOCK rt IN ACCESS SHARE MODE");
    assert_eq!(sqlstate(&mut s, "LOCK rt IN ROW EXCLUSIVE MODE"), denied());
    ok(&mut s, "ROLLBACK");
    assert_eq!(
        sqlstate(&mut s, "CREATE TABLE t2 (a int)"),
        ("42501", "permission denied for schema public".into())
    );
    assert_eq!(
        sqlstate(&mut s, "CREATE INDEX ON rt (v)"),
        ("42501", "must be owner of table rt".into())
    );
    assert_eq!(
        sqlstate(&mut s, "ALTER TABLE rt ADD b int"),
        ("42501", "must be owner of table rt".into())
    );
    // VACUUM and ANALYZE skip a table the role does not own.
    ok(&mut s, "VACUUM rt");
    ok(&mut s, "ANALYZE rt");
    ok(&mut s, "RESET ROLE");
    ok(&mut s, "GRANT UPDATE ON rt TO r2");
    ok(&mut s, "SET ROLE r2");
    ok(&mut s, "UPDATE rt SET v = 2");
    ok(&mut s, "UPDATE rt SET v = 3 WHERE id = 1");
    ok(&mut s, "BEGIN");
    assert_eq!(ok(&mut s, "SELECT * FROM rt FOR UPDATE"), ["1|3"]);
    ok(&mut s, "ROLLBACK");
    // An owner may truncate, and still not create in public.
    ok(&mut s, "RESET ROLE");
    ok(&mut s, "ALTER TABLE rt OWNER TO r2");
    ok(&mut s, "SET ROLE r2");
    ok(&mut s, "TRUNCATE rt");
    assert_eq!(
        sqlstate(&mut s, "CREATE INDEX ON rt (v)"),
        ("42501", "permission denied for schema public".into())
    );
    // Unmodelled checks are refused, not skipped.
    assert_eq!(sqlstate(&mut s, "CREATE SEQUENCE sq").0, "0A000");
    assert_eq!(sqlstate(&mut s, "GRANT SELECT ON rt TO PUBLIC").0, "0A000");
}
