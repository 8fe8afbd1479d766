//! User functions (LANGUAGE sql and PL/pgSQL) and row triggers on one
//! session (the concurrency rules are pinned by the transcripts of
//! `scripts`). Expected results, SQLSTATEs and messages are PostgreSQL
//! 15's, checked with psql.

use super::test_util::*;

const BOOKINGS: &str = "CREATE TABLE bookings (id int PRIMARY KEY, room text NOT NULL, \
                        status text NOT NULL DEFAULT 'held', updated_at timestamptz, version int NOT NULL DEFAULT 0)";

#[test]
fn a_before_update_trigger_sets_columns_of_new() {
    let mut s = session_with(&[
        BOOKINGS,
        "CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           NEW.updated_at := now();
           NEW.version := OLD.version + 1;
           RETURN NEW;
         END $$",
        "CREATE TRIGGER bookings_touch BEFORE UPDATE ON bookings FOR EACH ROW EXECUTE FUNCTION set_updated_at()",
        "INSERT INTO bookings (id, room) VALUES (1, 'a')",
    ]);
    let r = ok(
        &mut s,
        "UPDATE bookings SET status = 'paid' WHERE id = 1 RETURNING status, version, updated_at IS NOT NULL",
    );
    assert_eq!(rows(&r), ["paid,1,t"]);
    ok(&mut s, "UPDATE bookings SET status = 'done' WHERE id = 1");
    let r = ok(&mut s, "SELECT version FROM bookings");
    assert_eq!(rows(&r), ["2"]);
}

#[test]
fn an_after_trigger_writes_an_audit_row_that_sees_the_statement() {
    let mut s = session_with(&[
        BOOKINGS,
        "CREATE TABLE audit (n serial PRIMARY KEY, op text, booking int, rooms bigint)",
        "CREATE FUNCTION audit_booking() RETURNS trigger LANGUAGE plpgsql AS $$
         DECLARE
           total bigint;
         BEGIN
           SELECT count(*) INTO total FROM bookings;
           IF TG_OP = 'DELETE' THEN
             INSERT INTO audit (op, booking, rooms) VALUES (TG_OP, OLD.id, total);
             RETURN OLD;
           END IF;
           INSERT INTO audit (op, booking, rooms) VALUES (TG_OP, NEW.id, total);
           RETURN NULL;
         END $$",
        "CREATE TRIGGER bookings_audit AFTER INSERT OR UPDATE OR DELETE ON bookings FOR EACH ROW EXECUTE PROCEDURE audit_booking()",
    ]);
    ok(
        &mut s,
        "INSERT INTO bookings (id, room) VALUES (1, 'a'), (2, 'b')",
    );
    ok(&mut s, "DELETE FROM bookings WHERE id = 1");
    let r = ok(&mut s, "SELECT op, booking, rooms FROM audit ORDER BY n");
    // AFTER ROW triggers fire at the end of the statement: both see 2 rows.
    assert_eq!(rows(&r), ["INSERT,1,2", "INSERT,2,2", "DELETE,1,1"]);
}

#[test]
fn a_before_trigger_returning_null_skips_the_row_and_raise_fails_with_its_sqlstate() {
    let mut s = session_with(&[
        BOOKINGS,
        "CREATE FUNCTION guard() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.room = 'skip' THEN
             RETURN NULL;
           ELSIF NEW.room = 'bad' THEN
             RAISE EXCEPTION 'room % is closed (booking %)', NEW.room, NEW.id USING ERRCODE = 'check_violation';
           ELSIF NEW.room = 'worse' THEN
             RAISE SQLSTATE '23503' USING MESSAGE = 'no such room';
           END IF;
           RETURN NEW;
         END $$",
        "CREATE TRIGGER bookings_guard BEFORE INSERT ON bookings FOR EACH ROW EXECUTE FUNCTION guard()",
    ]);
    let r = ok(
        &mut s,
        "INSERT INTO bookings (id, room) VALUES (1, 'skip'), (2, 'ok')",
    );
    assert_eq!(r.affected, 1);
    let e = error(&mut s, "INSERT INTO bookings (id, room) VALUES (3, 'bad')");
    assert_eq!(e.code.code(), "23514");
    assert_eq!(e.message, "room bad is closed (booking 3)");
    let e = error(
        &mut s,
        "INSERT INTO bookings (id, room) VALUES (3, 'worse')",
    );
    assert_eq!(e.code.code(), "23503");
    assert_eq!(e.message, "no such room");
    let e = error(
        &mut s,
        "INSERT INTO bookings (id, room) VALUES (3, 'zzz'), (4, 'bad')",
    );
    assert_eq!(e.code.code(), "23514");
    let r = ok(&mut s, "SELECT id FROM bookings");
    assert_eq!(rows(&r), ["2"]);
}

#[test]
fn sql_and_plpgsql_functions_are_called_from_queries() {
    let mut s = session_with(&[
        "CREATE TABLE test (key int PRIMARY KEY, val text)",
        "CREATE FUNCTION insert_unique(k integer, v text) RETURNS void LANGUAGE SQL AS $$
           INSERT INTO test (key, val) SELECT k, v WHERE NOT EXISTS (SELECT key FROM test WHERE key = k);
         $$",
        "CREATE FUNCTION add_one(integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT $1 + 1'",
        "CREATE FUNCTION clamp(x int, lo int, hi int) RETURNS int LANGUAGE plpgsql AS $$
         DECLARE
           r int := x;
         BEGIN
           IF r < lo THEN r := lo; ELSIF r > hi THEN r := hi; END IF;
           RETURN r;
         END $$",
        "CREATE FUNCTION total(n int) RETURNS bigint LANGUAGE plpgsql AS $$
         DECLARE
           acc bigint := 0;
           i int := 0;
         BEGIN
           WHILE i < n LOOP
             i := i + 1;
             CONTINUE WHEN i = 2;
             acc := acc + i;
           END LOOP;
           FOR j IN 1..3 LOOP
             acc := acc + 100;
           END LOOP;
           FOR j IN 1..n LOOP
             EXIT WHEN j > 1;
             acc := acc + 1000;
           END LOOP;
           RETURN acc;
         END $$",
    ]);
    let r = ok(&mut s, "SELECT insert_unique(1, '1')");
    assert_eq!(rows(&r), ["NULL"]);
    ok(&mut s, "SELECT insert_unique(1, '2')");
    let r = ok(&mut s, "SELECT key, val FROM test");
    assert_eq!(rows(&r), ["1,1"]);
    let r = ok(
        &mut s,
        "SELECT add_one(key), clamp(key, 5, 9), total(4) FROM test",
    );
    assert_eq!(rows(&r), ["2,5,1308"]);
    let r = ok(&mut s, "SELECT key FROM test WHERE clamp(key, 0, 0) = 0");
    assert_eq!(rows(&r), ["1"]);
}

#[test]
fn select_into_strict_found_and_perform() {
    let mut s = session_with(&[
        "CREATE TABLE rooms (id int PRIMARY KEY, name text)",
        "INSERT INTO rooms VALUES (1, 'a'), (2, 'b')",
        "CREATE FUNCTION room_name(rid int) RETURNS text LANGUAGE plpgsql AS $$
         DECLARE
           n text;
         BEGIN
           PERFORM 1 FROM rooms WHERE id = rid;
           IF NOT FOUND THEN
             RETURN 'none';
           END IF;
           SELECT name INTO STRICT n FROM rooms WHERE id = rid;
           RETURN n;
         END $$",
        "CREATE FUNCTION any_room() RETURNS text LANGUAGE plpgsql AS $$
         DECLARE
           n text;
         BEGIN
           SELECT name INTO STRICT n FROM rooms;
           RETURN n;
         END $$",
    ]);
    let r = ok(&mut s, "SELECT room_name(2), room_name(7)");
    assert_eq!(rows(&r), ["b,none"]);
    let e = error(&mut s, "SELECT any_room()");
    assert_eq!(e.code.code(), "P0003");
    assert_eq!(e.message, "query returned more than one row");
}

#[test]
fn function_and_trigger_ddl_give_postgres_errors() {
    let mut s = session_with(&[
        BOOKINGS,
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END;'",
        "CREATE FUNCTION g() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    ]);
    let e = error(
        &mut s,
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END;'",
    );
    assert_eq!(e.code.code(), "42723");
    assert_eq!(
        e.message,
        "function \"f\" already exists with same argument types"
    );
    let e = error(
        &mut s,
        "CREATE TRIGGER t BEFORE INSERT ON bookings FOR EACH ROW EXECUTE FUNCTION g()",
    );
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        ("42P17", "function g must return type trigger")
    );
    let e = error(
        &mut s,
        "CREATE TRIGGER t BEFORE INSERT ON bookings FOR EACH ROW EXECUTE FUNCTION nope()",
    );
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        ("42883", "function nope() does not exist")
    );
    let e = error(
        &mut s,
        "CREATE TRIGGER t BEFORE INSERT ON nope FOR EACH ROW EXECUTE FUNCTION f()",
    );
    assert_eq!(e.code.code(), "42P01");
    ok(
        &mut s,
        "CREATE TRIGGER t BEFORE INSERT ON bookings FOR EACH ROW EXECUTE FUNCTION f()",
    );
    let e = error(
        &mut s,
        "CREATE TRIGGER t BEFORE INSERT ON bookings FOR EACH ROW EXECUTE FUNCTION f()",
    );
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        (
            "42710",
            "trigger \"t\" for relation \"bookings\" already exists"
        )
    );
    let e = error(&mut s, "DROP FUNCTION f()");
    assert_eq!(e.code.code(), "2BP01");
    let e = error(&mut s, "SELECT f()");
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        ("0A000", "trigger functions can only be called as triggers")
    );
    let e = error(&mut s, "DROP TRIGGER nope ON bookings");
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        (
            "42704",
            "trigger \"nope\" for table \"bookings\" does not exist"
        )
    );
    ok(&mut s, "DROP TRIGGER t ON bookings");
    ok(&mut s, "DROP FUNCTION f()");
    let e = error(&mut s, "DROP FUNCTION f()");
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        ("42883", "function f() does not exist")
    );
    ok(&mut s, "DROP FUNCTION IF EXISTS f()");
    let e = error(
        &mut s,
        "CREATE FUNCTION h() RETURNS int LANGUAGE plpgsql AS 'BEGIN RETURN 1 END'",
    );
    assert_eq!(e.code.code(), "42601");
    let e = error(
        &mut s,
        "CREATE TRIGGER t AFTER UPDATE ON bookings EXECUTE PROCEDURE g()",
    );
    // A statement trigger (FOR EACH STATEMENT, the default) is checked
    // as a row trigger is.
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        ("42P17", "function g must return type trigger")
    );
    // In a block it runs, and goes with a rollback.
    ok(&mut s, "BEGIN");
    ok(
        &mut s,
        "CREATE FUNCTION k() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    );
    ok(&mut s, "SELECT k()");
    ok(&mut s, "ROLLBACK");
    assert_eq!(error(&mut s, "SELECT k()").code.code(), "42883");
}

#[test]
fn when_conditions_and_update_of_choose_which_updates_fire() {
    let mut s = session_with(&[
        BOOKINGS,
        "CREATE TABLE audit (n serial PRIMARY KEY, what text)",
        "CREATE FUNCTION log_it() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           INSERT INTO audit (what) VALUES (TG_NAME || ':' || OLD.status || '>' || NEW.status);
           RETURN NEW;
         END $$",
        "CREATE TRIGGER status_changed AFTER UPDATE ON bookings FOR EACH ROW \
         WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION log_it()",
        "CREATE TRIGGER room_set BEFORE UPDATE OF room ON bookings FOR EACH ROW EXECUTE FUNCTION log_it()",
        "INSERT INTO bookings (id, room) VALUES (1, 'a')",
    ]);
    ok(&mut s, "UPDATE bookings SET status = 'held' WHERE id = 1");
    ok(&mut s, "UPDATE bookings SET status = 'paid' WHERE id = 1");
    ok(&mut s, "UPDATE bookings SET room = 'a' WHERE id = 1");
    let r = ok(&mut s, "SELECT what FROM audit ORDER BY n");
    assert_eq!(rows(&r), ["status_changed:held>paid", "room_set:paid>paid"]);
}

#[test]
fn execute_format_and_the_limits_of_calls_inside_expressions() {
    let mut s = session_with(&[
        "CREATE TABLE t (id int PRIMARY KEY, v text)",
        "INSERT INTO t VALUES (1, 'x')",
        "CREATE FUNCTION cmp(a anynonarray, op text, b anynonarray) RETURNS bool LANGUAGE plpgsql AS $$
         DECLARE
           r bool;
         BEGIN
           EXECUTE format('SELECT $1 %s $2', op) INTO r USING a, b;
           RAISE NOTICE '% % %: %', a, op, b, r;
           RETURN r;
         END $$",
        "CREATE FUNCTION bump() RETURNS int LANGUAGE plpgsql AS $$
         BEGIN
           UPDATE t SET v = v || '!';
           RETURN 1;
         END $$",
        "CREATE FUNCTION same(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT $1'",
    ]);
    let r = ok(
        &mut s,
        "SELECT id FROM t WHERE cmp(id, '=', 1) AND cmp(v, '<>', 'y')",
    );
    assert_eq!(rows(&r), ["1"]);
    let r = ok(&mut s, "SELECT format('%s-%I-%L-%%', 'a', 'B c', NULL)");
    assert_eq!(rows(&r), ["a-\"B c\"-NULL-%"]);
    // A write inside an expression (not the whole select list).
    let e = error(&mut s, "SELECT id FROM t WHERE bump() = 1");
    assert_eq!(e.code.code(), "0A000");
    let r = ok(&mut s, "SELECT bump()");
    assert_eq!(rows(&r), ["1"]);
    let e = error(&mut s, "CREATE INDEX ON t ((same(v)))");
    assert_eq!(e.code.code(), "0A000");
}

#[test]
fn an_exception_block_rolls_back_its_writes_and_runs_the_handler() {
    let mut s = session_with(&[
        "CREATE TABLE holds (id int PRIMARY KEY, note text)",
        "CREATE TABLE log (n serial PRIMARY KEY, what text)",
        "CREATE FUNCTION try_hold(k int) RETURNS text LANGUAGE plpgsql AS $$
         BEGIN
           BEGIN
             INSERT INTO log (what) VALUES ('trying ' || k);
             INSERT INTO holds VALUES (k, 'held');
             RETURN 'held';
           EXCEPTION
             WHEN unique_violation THEN
               INSERT INTO log (what) VALUES (SQLSTATE || ' ' || SQLERRM);
               RETURN 'taken';
           END;
         END $$",
        "CREATE FUNCTION boom() RETURNS int LANGUAGE plpgsql AS $$
         BEGIN
           BEGIN
             PERFORM 1 / 0;
           EXCEPTION WHEN SQLSTATE '22012' OR raise_exception THEN
             RETURN -1;
           END;
         END $$",
    ]);
    let r = ok(&mut s, "SELECT try_hold(1)");
    assert_eq!(rows(&r), ["held"]);
    ok(&mut s, "BEGIN");
    let r = ok(&mut s, "SELECT try_hold(1)");
    assert_eq!(rows(&r), ["taken"]);
    let r = ok(&mut s, "SELECT boom()");
    assert_eq!(rows(&r), ["-1"]);
    ok(&mut s, "COMMIT");
    let r = ok(&mut s, "SELECT what FROM log ORDER BY n");
    assert_eq!(
        rows(&r),
        [
            "trying 1",
            "23505 duplicate key value violates unique constraint \"holds_pkey\""
        ]
    );
}

#[test]
fn a_trigger_that_fires_itself_without_end_fails_with_54001() {
    let mut s = session_with(&[
        "CREATE TABLE t (id serial PRIMARY KEY, n int)",
        "CREATE FUNCTION again() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           INSERT INTO t (n) VALUES (NEW.n + 1);
           RETURN NULL;
         END $$",
        "CREATE TRIGGER again AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION again()",
    ]);
    let e = error(&mut s, "INSERT INTO t (n) VALUES (0)");
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        ("54001", "stack depth limit exceeded")
    );
    let r = ok(&mut s, "SELECT count(*) FROM t");
    assert_eq!(rows(&r), ["0"]);
}

/// Triggers on a partitioned table, on its partitions, and statement
/// triggers: which fire, in which order, with which TG_TABLE_NAME.
const LOGGED: [&str; 5] = [
    "CREATE TABLE t (a int, b text) PARTITION BY LIST (a)",
    "CREATE TABLE t1 PARTITION OF t FOR VALUES IN (1)",
    "CREATE TABLE t2 PARTITION OF t FOR VALUES IN (2)",
    "CREATE TABLE log (w text)",
    "CREATE FUNCTION tf() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
     INSERT INTO log VALUES (TG_WHEN||' '||TG_OP||' '||TG_LEVEL||' '||TG_TABLE_NAME); \
     IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$",
];

#[test]
fn partition_and_statement_triggers_fire_as_in_postgres() {
    let mut s = session_with(&LOGGED);
    for sql in [
        "CREATE TRIGGER a BEFORE INSERT OR UPDATE OR DELETE ON t FOR EACH ROW EXECUTE FUNCTION tf()",
        "CREATE TRIGGER b AFTER INSERT OR UPDATE OR DELETE ON t FOR EACH ROW EXECUTE FUNCTION tf()",
        "CREATE TRIGGER c BEFORE INSERT OR UPDATE OR DELETE ON t1 FOR EACH ROW EXECUTE FUNCTION tf()",
        "CREATE TRIGGER d AFTER INSERT OR UPDATE OR DELETE ON t2 FOR EACH ROW EXECUTE FUNCTION tf()",
        "CREATE TRIGGER s1 BEFORE INSERT OR UPDATE OR DELETE ON t EXECUTE FUNCTION tf()",
        "CREATE TRIGGER s2 AFTER INSERT OR UPDATE OR DELETE ON t EXECUTE FUNCTION tf()",
        "CREATE TRIGGER s3 AFTER UPDATE ON t1 FOR EACH STATEMENT EXECUTE FUNCTION tf()",
        "INSERT INTO t VALUES (1, 'x')",
        // Moved to t2: PostgreSQL's delete and insert.
        "UPDATE t SET a = 2",
        // No row: the statement triggers fire all the same.
        "UPDATE t1 SET b = 'y'",
        "UPDATE t2 SET b = 'y'",
        "DELETE FROM t WHERE false",
        "ALTER TABLE t DISABLE TRIGGER s1",
        // On a partition: its own triggers and the clones of its parent's.
        "ALTER TABLE t1 DISABLE TRIGGER USER",
        "INSERT INTO t1 VALUES (1, 'x')",
        "ALTER TABLE t ENABLE TRIGGER ALL",
        "ALTER TABLE t1 ENABLE TRIGGER c",
        "DELETE FROM t1",
    ] {
        ok(&mut s, sql);
    }
    // Recorded from PostgreSQL 15 with psql.
    let expected = "BEFORE INSERT STATEMENT t; BEFORE INSERT ROW t1; BEFORE INSERT ROW t1; \
        AFTER INSERT ROW t1; AFTER INSERT STATEMENT t; BEFORE UPDATE STATEMENT t; \
        BEFORE UPDATE ROW t1; BEFORE UPDATE ROW t1; BEFORE DELETE ROW t1; BEFORE DELETE ROW t1; \
        BEFORE INSERT ROW t2; AFTER DELETE ROW t1; AFTER INSERT ROW t2; AFTER INSERT ROW t2; \
        AFTER UPDATE STATEMENT t; AFTER UPDATE STATEMENT t1; BEFORE UPDATE ROW t2; \
        AFTER UPDATE ROW t2; AFTER UPDATE ROW t2; BEFORE DELETE STATEMENT t; \
        AFTER DELETE STATEMENT t; BEFORE DELETE ROW t1; BEFORE DELETE ROW t1; AFTER DELETE ROW t1";
    let log = ok(&mut s, "SELECT w FROM log");
    assert_eq!(rows(&log).join("; "), expected);
    for (sql, code, message) in [
        (
            "CREATE TRIGGER a BEFORE INSERT ON t1 FOR EACH ROW EXECUTE FUNCTION tf()",
            "42710",
            "trigger \"a\" for relation \"t1\" already exists",
        ),
        (
            "DROP TRIGGER a ON t1",
            "2BP01",
            "cannot drop trigger a on table t1 because trigger a on table t requires it",
        ),
        (
            "DROP TRIGGER c ON t",
            "42704",
            "trigger \"c\" for table \"t\" does not exist",
        ),
        (
            "ALTER TABLE t DISABLE TRIGGER nope",
            "42704",
            "trigger \"nope\" for table \"t\" does not exist",
        ),
        (
            "CREATE TRIGGER w AFTER INSERT ON t WHEN (NEW.a = 1) EXECUTE FUNCTION tf()",
            "42P17",
            "statement trigger's WHEN condition cannot reference column values",
        ),
    ] {
        let e = error(&mut s, sql);
        assert_eq!(
            (e.code.code(), e.message.as_str()),
            (code, message),
            "{sql}"
        );
    }
    // A partition's BEFORE INSERT trigger may not send the row elsewhere.
    ok(
        &mut s,
        "CREATE FUNCTION mv() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.a = 2; RETURN NEW; END $$",
    );
    ok(
        &mut s,
        "CREATE TRIGGER m BEFORE INSERT ON t1 FOR EACH ROW EXECUTE FUNCTION mv()",
    );
    let e = error(&mut s, "INSERT INTO t VALUES (1, 'q')");
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        (
            "23514",
            "new row for relation \"t1\" violates partition constraint"
        )
    );
    ok(&mut s, "DROP TRIGGER m ON t1");
    ok(&mut s, "DROP TRIGGER c ON t1");
}
