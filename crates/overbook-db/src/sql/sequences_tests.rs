//! Sequences on the store, each outcome as PostgreSQL 15 gives it for the
//! same statements (checked with psql on the shared server).

use super::test_util::*;
use super::*;

/// The rows as text, `|` between fields, NULL empty, one row a line.
/// The rows of `sql` as psql -At prints them.
fn ok(s: &mut SqlSession, sql: &str) -> String {
    text(&super::test_util::ok(s, sql))
}

#[test]
fn nextval_currval_lastval_and_setval_as_postgres() {
    let mut s = SqlDb::new_empty().session();
    ok(&mut s, "CREATE SEQUENCE s");
    assert_eq!(sqlstate(&mut s, "SELECT currval('s')").0, "55000");
    assert_eq!(
        sqlstate(&mut s, "SELECT lastval()"),
        ("55000", "lastval is not yet defined in this session".into())
    );
    assert_eq!(ok(&mut s, "SELECT nextval('s'), nextval('s')"), "1|2");
    assert_eq!(ok(&mut s, "SELECT currval('s'), lastval()"), "2|2");
    assert_eq!(sqlstate(&mut s, "CREATE SEQUENCE s").0, "42P07");
    ok(&mut s, "CREATE SEQUENCE IF NOT EXISTS s");
    assert_eq!(ok(&mut s, "SELECT nextval('s'::regclass)"), "3");
    assert_eq!(
        ok(&mut s, "SELECT nextval('S'), nextval('public.s')"),
        "4|5"
    );
    assert_eq!(sqlstate(&mut s, "SELECT nextval('\"S\"')").0, "42P01");
    assert_eq!(
        sqlstate(&mut s, "SELECT nextval('nope')"),
        ("42P01", "relation \"nope\" does not exist".into())
    );
    assert_eq!(ok(&mut s, "SELECT setval('s', 10), nextval('s')"), "10|11");
    assert_eq!(
        ok(&mut s, "SELECT setval('s', 10, false), nextval('s')"),
        "10|10"
    );
    assert_eq!(
        sqlstate(&mut s, "SELECT setval('s', 0)"),
        (
            "22003",
            "setval: value 0 is out of bounds for sequence \"s\" (1..9223372036854775807)".into()
        )
    );
    assert_eq!(ok(&mut s, "SELECT nextval(NULL), setval('s', NULL)"), "|");
    // setval sets currval, not lastval.
    ok(&mut s, "CREATE SEQUENCE q");
    assert_eq!(ok(&mut s, "SELECT setval('q', 5), currval('q')"), "5|5");
    assert_eq!(ok(&mut s, "SELECT lastval()"), "10");
    // A dropped sequence's currval and lastval go with it.
    ok(&mut s, "DROP SEQUENCE s");
    assert_eq!(sqlstate(&mut s, "SELECT currval('s')").0, "42P01");
    assert_eq!(sqlstate(&mut s, "SELECT lastval()").0, "55000");
}

#[test]
fn bounds_cycle_and_options_as_postgres() {
    let mut s = SqlDb::new_empty().session();
    ok(&mut s, "CREATE SEQUENCE s2 AS smallint INCREMENT BY -2");
    assert_eq!(ok(&mut s, "SELECT nextval('s2'), nextval('s2')"), "-1|-3");
    ok(&mut s, "CREATE SEQUENCE s3 MAXVALUE 2");
    assert_eq!(ok(&mut s, "SELECT nextval('s3'), nextval('s3')"), "1|2");
    assert_eq!(
        sqlstate(&mut s, "SELECT nextval('s3')"),
        (
            "2200H",
            "nextval: reached maximum value of sequence \"s3\" (2)".into()
        )
    );
    ok(&mut s, "CREATE SEQUENCE s4 MAXVALUE 2 CYCLE START 2");
    assert_eq!(
        ok(&mut s, "SELECT nextval('s4'), nextval('s4'), nextval('s4')"),
        "2|1|2"
    );
    ok(&mut s, "CREATE SEQUENCE qd INCREMENT -1 MINVALUE -2");
    assert_eq!(ok(&mut s, "SELECT nextval('qd'), nextval('qd')"), "-1|-2");
    assert_eq!(
        sqlstate(&mut s, "SELECT nextval('qd')").1,
        "nextval: reached minimum value of sequence \"qd\" (-2)"
    );
    // Options in any order, as PostgreSQL takes them.
    ok(
        &mut s,
        "CREATE SEQUENCE z START 5 MINVALUE 1 INCREMENT 2 CYCLE MAXVALUE 8 CACHE 1",
    );
    assert_eq!(
        ok(
            &mut s,
            "SELECT nextval('z'), nextval('z'), nextval('z'), nextval('z')"
        ),
        "5|7|1|3"
    );
    for (sql, message) in [
        (
            "CREATE SEQUENCE e1 START 0",
            "START value (0) cannot be less than MINVALUE (1)",
        ),
        (
            "CREATE SEQUENCE e2 MINVALUE 10 MAXVALUE 5",
            "MINVALUE (10) must be less than MAXVALUE (5)",
        ),
        (
            "CREATE SEQUENCE e3 INCREMENT 0",
            "INCREMENT must not be zero",
        ),
        (
            "CREATE SEQUENCE e4 AS text",
            "sequence type must be smallint, integer, or bigint",
        ),
        (
            "CREATE SEQUENCE e5 AS smallint MAXVALUE 100000",
            "MAXVALUE (100000) is out of range for sequence data type smallint",
        ),
        (
            "CREATE SEQUENCE e6 CACHE 0",
            "CACHE (0) must be greater than zero",
        ),
    ] {
        assert_eq!(
            sqlstate(&mut s, sql),
            ("22023", message.to_string()),
            "{sql}"
        );
    }
}

#[test]
fn alter_and_drop_sequence_as_postgres() {
    let mut s = SqlDb::new_empty().session();
    ok(&mut s, "CREATE SEQUENCE q");
    assert_eq!(ok(&mut s, "SELECT setval('q', 5), nextval('q')"), "5|6");
    assert_eq!(
        sqlstate(&mut s, "ALTER SEQUENCE q MAXVALUE 3"),
        (
            "22023",
            "RESTART value (6) cannot be greater than MAXVALUE (3)".into()
        )
    );
    assert_eq!(
        sqlstate(&mut s, "ALTER SEQUENCE q MINVALUE 10").1,
        "START value (1) cannot be less than MINVALUE (10)"
    );
    // START alone does not restart; RESTART goes back to it.
    ok(&mut s, "ALTER SEQUENCE q START 100");
    assert_eq!(ok(&mut s, "SELECT nextval('q')"), "7");
    ok(&mut s, "ALTER SEQUENCE q RESTART");
    assert_eq!(ok(&mut s, "SELECT nextval('q')"), "100");
    ok(&mut s, "ALTER SEQUENCE q RESTART WITH 50 INCREMENT 5");
    assert_eq!(ok(&mut s, "SELECT nextval('q'), nextval('q')"), "50|55");
    assert_eq!(sqlstate(&mut s, "ALTER SEQUENCE nope RESTART").0, "42P01");
    ok(&mut s, "ALTER SEQUENCE IF EXISTS nope RESTART");
    ok(&mut s, "CREATE TABLE t (a int)");
    assert_eq!(
        sqlstate(&mut s, "SELECT nextval('t')"),
        ("42809", "\"t\" is not a sequence".into())
    );
    assert_eq!(sqlstate(&mut s, "DROP SEQUENCE t").0, "42809");
    assert_eq!(sqlstate(&mut s, "CREATE SEQUENCE t").0, "42P07");
    assert_eq!(sqlstate(&mut s, "CREATE TABLE q (a int)").0, "42P07");
    assert_eq!(
        sqlstate(&mut s, "DROP SEQUENCE nope"),
        ("42P01", "sequence \"nope\" does not exist".into())
    );
    ok(&mut s, "DROP SEQUENCE IF EXISTS nope, q");
    assert_eq!(sqlstate(&mut s, "SELECT nextval('q')").0, "42P01");
    // Inside a block ALTER SEQUENCE runs (see `ddlblock`); CREATE and
    // DROP are 0A000 naming the statement.
    ok(&mut s, "CREATE SEQUENCE r");
    assert_eq!(sqlstate(&mut s, "SELECT last_value FROM r").0, "0A000");
    ok(&mut s, "BEGIN");
    ok(&mut s, "ALTER SEQUENCE r RESTART");
    let (sqlstate, message) = sqlstate(&mut s, "DROP SEQUENCE r");
    assert_eq!(sqlstate, "0A000");
    assert!(message.contains("DROP SEQUENCE r"), "{message}");
    ok(&mut s, "ROLLBACK");
}

#[test]
fn serial_and_identity_columns_own_their_sequences() {
    let mut s = SqlDb::new_empty().session();
    ok(&mut s, "CREATE TABLE t (id serial PRIMARY KEY, v text)");
    assert_eq!(
        ok(&mut s, "INSERT INTO t (v) VALUES ('a') RETURNING id"),
        "1"
    );
    assert_eq!(
        ok(
            &mut s,
            "SELECT currval('t_id_seq'), lastval(), pg_get_serial_sequence('t', 'id'), pg_get_serial_sequence('t', 'v')"
        ),
        "1|1|public.t_id_seq|"
    );
    assert_eq!(
        sqlstate(&mut s, "SELECT pg_get_serial_sequence('nope', 'id')").0,
        "42P01"
    );
    assert_eq!(
        sqlstate(&mut s, "SELECT pg_get_serial_sequence('t', 'nope')").0,
        "42703"
    );
    assert_eq!(sqlstate(&mut s, "DROP SEQUENCE t_id_seq").0, "2BP01");
    // setval moves the column's numbering, as on PostgreSQL.
    ok(&mut s, "SELECT setval('t_id_seq', 41)");
    assert_eq!(
        ok(&mut s, "INSERT INTO t (v) VALUES ('b') RETURNING id"),
        "42"
    );
    // A user's DEFAULT nextval('o').
    ok(&mut s, "CREATE SEQUENCE o START 1000");
    ok(
        &mut s,
        "CREATE TABLE u (id int DEFAULT nextval('o'::regclass), v text)",
    );
    assert_eq!(
        ok(&mut s, "INSERT INTO u (v) VALUES ('x') RETURNING id"),
        "1000"
    );
    assert_eq!(sqlstate(&mut s, "DROP SEQUENCE o").0, "2BP01");
    ok(&mut s, "DROP SEQUENCE o CASCADE");
    assert_eq!(
        ok(&mut s, "INSERT INTO u (v) VALUES ('y') RETURNING id"),
        ""
    );
    // smallserial overflows as a smallint sequence.
    ok(&mut s, "CREATE TABLE ss (id smallserial, v int)");
    ok(&mut s, "SELECT setval('ss_id_seq', 32767)");
    assert_eq!(
        sqlstate(&mut s, "INSERT INTO ss (v) VALUES (1)"),
        (
            "2200H",
            "nextval: reached maximum value of sequence \"ss_id_seq\" (32767)".into()
        )
    );
    // Identity options, and its sequence is the column's to drop.
    ok(
        &mut s,
        "CREATE TABLE ids (id int GENERATED BY DEFAULT AS IDENTITY (INCREMENT BY 5 START WITH 10), v int)",
    );
    assert_eq!(
        ok(&mut s, "INSERT INTO ids (v) VALUES (1), (2) RETURNING id"),
        "10\n15"
    );
    assert_eq!(
        ok(&mut s, "SELECT pg_get_serial_sequence('ids', 'id')"),
        "public.ids_id_seq"
    );
    assert_eq!(
        sqlstate(&mut s, "DROP SEQUENCE ids_id_seq CASCADE"),
        (
            "2BP01",
            "cannot drop sequence ids_id_seq because column id of table ids requires it".into()
        )
    );
    // Names: a taken name gets a digit; a table's sequences go with it.
    ok(&mut s, "CREATE TABLE w (id serial, v int)");
    ok(&mut s, "CREATE TABLE w_id (seq serial)");
    assert_eq!(
        ok(&mut s, "SELECT pg_get_serial_sequence('w_id', 'seq')"),
        "public.w_id_seq_seq"
    );
    ok(&mut s, "CREATE SEQUENCE own OWNED BY w.v");
    ok(&mut s, "DROP TABLE w");
    assert_eq!(sqlstate(&mut s, "SELECT nextval('own')").0, "42P01");
    assert_eq!(sqlstate(&mut s, "SELECT nextval('w_id_seq')").0, "42P01");
}

#[test]
fn nextval_is_not_transactional_and_currval_is_per_session() {
    let db = SqlDb::new_empty();
    let mut a = db.session();
    let mut b = db.session();
    ok(&mut a, "CREATE SEQUENCE s");
    ok(&mut a, "BEGIN");
    assert_eq!(ok(&mut a, "SELECT nextval('s')"), "1");
    ok(&mut b, "BEGIN");
    // Another session's uncommitted nextval does not block this one.
    assert_eq!(ok(&mut b, "SELECT nextval('s')"), "2");
    ok(&mut a, "ROLLBACK");
    // The rolled-back value is not given out again; currval stays.
    assert_eq!(ok(&mut a, "SELECT nextval('s'), currval('s')"), "3|3");
    assert_eq!(ok(&mut b, "SELECT currval('s')"), "2");
    ok(&mut b, "COMMIT");
    let mut c = db.session();
    assert_eq!(sqlstate(&mut c, "SELECT currval('s')").0, "55000");
}

#[test]
fn alter_table_add_serial_column_goes_on_after_the_rows() {
    let mut s = SqlDb::new_empty().session();
    ok(&mut s, "CREATE TABLE e (k int PRIMARY KEY)");
    ok(&mut s, "INSERT INTO e VALUES (1), (2)");
    ok(&mut s, "ALTER TABLE e ADD COLUMN n serial");
    assert_eq!(ok(&mut s, "SELECT k, n FROM e ORDER BY k"), "1|1\n2|2");
    assert_eq!(ok(&mut s, "INSERT INTO e (k) VALUES (3) RETURNING n"), "3");
    assert_eq!(
        ok(&mut s, "SELECT pg_get_serial_sequence('e', 'n')"),
        "public.e_n_seq"
    );
}

#[test]
fn a_schema_s_sequences_are_qualified_and_go_with_it() {
    let mut s = SqlDb::new_empty().session();
    ok(&mut s, "CREATE SCHEMA app");
    ok(&mut s, "CREATE SEQUENCE app.orders START 7");
    assert_eq!(ok(&mut s, "SELECT nextval('app.orders')"), "7");
    assert_eq!(sqlstate(&mut s, "SELECT nextval('orders')").0, "42P01");
    assert_eq!(sqlstate(&mut s, "DROP SCHEMA app").0, "2BP01");
    ok(&mut s, "DROP SCHEMA app CASCADE");
    assert_eq!(sqlstate(&mut s, "SELECT nextval('app.orders')").0, "3F000");
    assert_eq!(sqlstate(&mut s, "CREATE SEQUENCE nope.s").0, "3F000");
}
