//! Generated columns (`GENERATED ALWAYS AS (expr) STORED`) and `CREATE
//! TABLE ... AS` on one session (the concurrency rules are pinned by the
//! transcripts of `scripts`). Expected results and SQLSTATEs are
//! PostgreSQL 15's, checked with psql.

use super::*;
use crate::store::block_on;

fn ok(s: &mut SqlSession, sql: &str) -> Rows {
    block_on(s.execute(sql, &[])).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn error(s: &mut SqlSession, sql: &str) -> DbError {
    match block_on(s.execute(sql, &[])) {
        Ok(rows) => panic!("{sql}: expected an error, got {rows:?}"),
        Err(e) => e,
    }
}

fn code(s: &mut SqlSession, sql: &str) -> &'static str {
    error(s, sql).code.code()
}

/// The rows as text, `NULL` for nulls, one string per row.
fn rows(r: &Rows) -> Vec<String> {
    r.rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| {
                    if v.is_null() {
                        "NULL".to_string()
                    } else {
                        v.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

fn session_with(ddl: &[&str]) -> SqlSession {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    for stmt in ddl {
        ok(&mut s, stmt);
    }
    s
}

const LINES: &str = "CREATE TABLE lines (id int PRIMARY KEY, price numeric, qty int, \
                     total numeric GENERATED ALWAYS AS (price * qty) STORED)";

#[test]
fn a_generated_column_is_computed_on_insert_and_on_every_update() {
    let mut s = session_with(&[LINES]);
    let r = ok(
        &mut s,
        "INSERT INTO lines VALUES (1, 2.5, 4) RETURNING total",
    );
    assert_eq!(rows(&r), ["10.0"]);
    ok(&mut s, "INSERT INTO lines VALUES (2, 1, 1, DEFAULT)");
    ok(&mut s, "INSERT INTO lines (id, qty) VALUES (3, 7)");
    let r = ok(
        &mut s,
        "UPDATE lines SET qty = qty + 1 WHERE id < 3 RETURNING id, total",
    );
    assert_eq!(rows(&r), ["1,12.5", "2,2"]);
    // DEFAULT is the only value it may be set to.
    let r = ok(
        &mut s,
        "UPDATE lines SET total = DEFAULT, price = 3 WHERE id = 3 RETURNING total",
    );
    assert_eq!(rows(&r), ["21"]);
    let r = ok(&mut s, "SELECT id, total FROM lines ORDER BY id");
    assert_eq!(rows(&r), ["1,12.5", "2,2", "3,21"]);
    // ON CONFLICT DO UPDATE recomputes it too.
    let r = ok(
        &mut s,
        "INSERT INTO lines VALUES (1, 1, 1) ON CONFLICT (id) DO UPDATE SET qty = excluded.qty + 1 RETURNING total",
    );
    assert_eq!(rows(&r), ["5.0"]);
}

#[test]
fn writing_a_generated_column_is_428c9() {
    let mut s = session_with(&[LINES]);
    let e = error(&mut s, "INSERT INTO lines VALUES (2, 2.5, 4, 10)");
    assert_eq!(e.code.code(), "428C9");
    assert_eq!(
        e.message,
        "cannot insert a non-DEFAULT value into column \"total\""
    );
    assert_eq!(
        code(&mut s, "INSERT INTO lines (id, total) VALUES (4, 3)"),
        "428C9"
    );
    // Even a NULL from a query: PostgreSQL's rewriter refuses any value.
    assert_eq!(
        code(&mut s, "INSERT INTO lines (id, total) SELECT 5, NULL"),
        "428C9"
    );
    let e = error(&mut s, "UPDATE lines SET total = 3");
    assert_eq!(e.code.code(), "428C9");
    assert_eq!(e.message, "column \"total\" can only be updated to DEFAULT");
    assert_eq!(
        code(
            &mut s,
            "INSERT INTO lines VALUES (1, 1, 1) ON CONFLICT (id) DO UPDATE SET total = 1"
        ),
        "428C9"
    );
}

#[test]
fn a_generation_expression_is_checked_as_postgresql_does() {
    let mut s = session_with(&[]);
    let cases = [
        ("CREATE TABLE e (a int, b int GENERATED ALWAYS AS (a + 1) STORED, c int GENERATED ALWAYS AS (b + 1) STORED)", "42P17"),
        ("CREATE TABLE e (a int, b int GENERATED ALWAYS AS (b + 1) STORED)", "42P17"),
        ("CREATE TABLE e (a int, b timestamptz GENERATED ALWAYS AS (now()) STORED)", "42P17"),
        ("CREATE TABLE e (a int, b int GENERATED ALWAYS AS (count(a)) STORED)", "42803"),
        ("CREATE TABLE e (a int, b int DEFAULT 1 GENERATED ALWAYS AS (a) STORED)", "42601"),
        ("CREATE TABLE e (a int, b int GENERATED ALWAYS AS IDENTITY GENERATED ALWAYS AS (a) STORED)", "42601"),
        ("CREATE TABLE e (a int, b int GENERATED ALWAYS AS (xmin) STORED)", "42P10"),
        ("CREATE TABLE e (a int, b int GENERATED ALWAYS AS ('x') STORED)", "22P02"),
        ("CREATE TABLE e (a int, b int GENERATED ALWAYS AS (nope) STORED)", "42703"),
        ("CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE e (id int PRIMARY KEY, g int GENERATED ALWAYS AS (id) STORED REFERENCES p ON UPDATE CASCADE)", "42601"),
    ];
    for (sql, want) in cases {
        let mut last = None;
        for stmt in sql.split("; ") {
            last = Some(block_on(s.execute(stmt, &[])));
        }
        let e = last.unwrap().expect_err(sql);
        assert_eq!(e.code.code(), want, "{sql}: {e}");
    }
    let e = error(&mut s, "CREATE TABLE e (a int, b int GENERATED ALWAYS AS (a + 1) STORED, c int GENERATED ALWAYS AS (b + 1) STORED)");
    assert_eq!(
        e.message,
        "cannot use generated column \"b\" in column generation expression"
    );
}

#[test]
fn constraints_and_unique_indexes_see_the_computed_value() {
    let mut s = session_with(&[
        "CREATE TABLE e (a int, b int GENERATED ALWAYS AS (a) STORED NOT NULL CHECK (b > 0))",
        "CREATE TABLE u (id int PRIMARY KEY, email text, norm text GENERATED ALWAYS AS (lower(email)) STORED UNIQUE)",
        "CREATE TABLE z (a int, b int GENERATED ALWAYS AS (a / 0) STORED)",
    ]);
    assert_eq!(code(&mut s, "INSERT INTO e VALUES (NULL)"), "23502");
    assert_eq!(code(&mut s, "INSERT INTO e VALUES (0)"), "23514");
    assert_eq!(
        rows(&ok(&mut s, "INSERT INTO e VALUES (2) RETURNING *")),
        ["2,2"]
    );
    ok(&mut s, "INSERT INTO u VALUES (1, 'A@x')");
    assert_eq!(code(&mut s, "INSERT INTO u VALUES (2, 'a@X')"), "23505");
    assert_eq!(
        rows(&ok(&mut s, "SELECT id FROM u WHERE norm = 'a@x'")),
        ["1"]
    );
    assert_eq!(code(&mut s, "INSERT INTO z VALUES (1)"), "22012");
}

#[test]
fn a_cascaded_key_update_recomputes_the_referencing_rows_generated_column() {
    let mut s = session_with(&[
        "CREATE TABLE a4 (id int PRIMARY KEY)",
        "CREATE TABLE a5 (id int PRIMARY KEY, x int REFERENCES a4 ON UPDATE CASCADE, g int GENERATED ALWAYS AS (x * 10) STORED)",
        "INSERT INTO a4 VALUES (1)",
        "INSERT INTO a5 VALUES (1, 1)",
    ]);
    ok(&mut s, "UPDATE a4 SET id = 2");
    assert_eq!(rows(&ok(&mut s, "SELECT * FROM a5")), ["1,2,20"]);
}

#[test]
fn alter_table_adds_computes_and_drops_generated_columns() {
    let mut s = session_with(&[
        "CREATE TABLE a1 (id int PRIMARY KEY, x int, y int)",
        "INSERT INTO a1 VALUES (1, 2, 3), (2, NULL, 4)",
    ]);
    ok(
        &mut s,
        "ALTER TABLE a1 ADD COLUMN s int GENERATED ALWAYS AS (x + y) STORED",
    );
    assert_eq!(
        rows(&ok(&mut s, "SELECT * FROM a1 ORDER BY id")),
        ["1,2,3,5", "2,NULL,4,NULL"]
    );
    assert_eq!(
        code(
            &mut s,
            "ALTER TABLE a1 ADD COLUMN s2 int GENERATED ALWAYS AS (s + 1) STORED"
        ),
        "42P17"
    );
    assert_eq!(
        code(
            &mut s,
            "ALTER TABLE a1 ADD COLUMN s3 int GENERATED ALWAYS AS (x / 0) STORED"
        ),
        "22012"
    );
    assert_eq!(
        code(
            &mut s,
            "ALTER TABLE a1 ADD COLUMN s4 int NOT NULL GENERATED ALWAYS AS (x) STORED"
        ),
        "23502"
    );
    assert_eq!(
        code(&mut s, "ALTER TABLE a1 ALTER COLUMN s SET DEFAULT 1"),
        "42601"
    );
    assert_eq!(code(&mut s, "ALTER TABLE a1 DROP COLUMN x"), "2BP01");
    ok(&mut s, "UPDATE a1 SET y = 10 WHERE id = 1");
    assert_eq!(rows(&ok(&mut s, "SELECT s FROM a1 WHERE id = 1")), ["12"]);
    ok(&mut s, "ALTER TABLE a1 DROP COLUMN y CASCADE");
    assert_eq!(
        rows(&ok(&mut s, "SELECT * FROM a1 ORDER BY id")),
        ["1,2", "2,NULL"]
    );
    ok(
        &mut s,
        "ALTER TABLE a1 ADD COLUMN g int GENERATED ALWAYS AS (x * 2) STORED",
    );
    assert_eq!(
        code(&mut s, "ALTER TABLE a1 ALTER COLUMN x DROP EXPRESSION"),
        "55000"
    );
    ok(
        &mut s,
        "ALTER TABLE a1 ALTER COLUMN x DROP EXPRESSION IF EXISTS",
    );
    ok(&mut s, "ALTER TABLE a1 ALTER COLUMN g DROP EXPRESSION");
    // A plain column now: it keeps its values and takes written ones.
    let r = ok(&mut s, "INSERT INTO a1 VALUES (3, 1, 7) RETURNING *");
    assert_eq!(rows(&r), ["3,1,7"]);
    assert_eq!(rows(&ok(&mut s, "SELECT g FROM a1 WHERE id = 1")), ["4"]);
}
