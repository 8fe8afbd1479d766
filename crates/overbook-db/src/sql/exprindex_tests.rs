//! Expression indexes on one session (their concurrency rules are pinned
//! by the transcripts of `scripts`). Expected results and SQLSTATEs are
//! PostgreSQL 15's, checked with psql.

use super::plan::{Access, Prepared};
use super::test_util::*;
use super::*;

/// The index (by name) a single-table SELECT reads, or `None` for a
/// sequential scan.
fn index_read(db: &SqlDb, sql: &str) -> Option<String> {
    let catalog = db.shared.catalog();
    let statement = plan::prepare(sql, &catalog, settings::ScanSettings::default())
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let Prepared::Select(plan) = statement.kind else {
        panic!("{sql}: not a SELECT");
    };
    match &plan.sources[0].access {
        Access::Index { index, .. } => Some(plan.sources[0].table.indexes[*index].name.clone()),
        _ => None,
    }
}

const CUSTOMERS: &[&str] = &[
    "CREATE TABLE customers (id int PRIMARY KEY, email text, active bool NOT NULL DEFAULT true)",
    "CREATE UNIQUE INDEX customers_email_key ON customers (lower(email))",
];

#[test]
fn a_unique_expression_index_constrains_the_expressions_value() {
    let db = db_with(CUSTOMERS);
    let mut s = db.session();
    ok(&mut s, "INSERT INTO customers VALUES (1, 'Ann@x.com')");
    let e = error(&mut s, "INSERT INTO customers VALUES (2, 'ANN@X.COM')");
    assert_eq!(e.code.code(), "23505");
    assert_eq!(
        e.message,
        "duplicate key value violates unique constraint \"customers_email_key\""
    );
    // NULLs are distinct, as in any unique index.
    ok(
        &mut s,
        "INSERT INTO customers VALUES (2, 'bob@x.com'), (3, NULL), (4, NULL)",
    );
    // A change of case keeps the value: no conflict with the row itself.
    ok(
        &mut s,
        "UPDATE customers SET email = 'BOB@x.com' WHERE id = 2",
    );
    assert_eq!(
        code(
            &mut s,
            "UPDATE customers SET email = 'ann@x.com' WHERE id = 2"
        ),
        "23505"
    );
    // The old value's entry goes when the value changes.
    ok(
        &mut s,
        "UPDATE customers SET email = 'carl@x.com' WHERE id = 2",
    );
    ok(&mut s, "INSERT INTO customers VALUES (5, 'Bob@x.com')");
    ok(&mut s, "DELETE FROM customers WHERE id = 1");
    ok(&mut s, "INSERT INTO customers VALUES (1, 'ann@x.com')");
    let all = ok(&mut s, "SELECT id, email FROM customers ORDER BY id");
    assert_eq!(
        rows(&all),
        [
            "1,ann@x.com",
            "2,carl@x.com",
            "3,NULL",
            "4,NULL",
            "5,Bob@x.com"
        ]
    );
}

#[test]
fn a_lookup_by_the_indexed_expression_reads_the_index() {
    let db = db_with(CUSTOMERS);
    let mut s = db.session();
    ok(
        &mut s,
        "INSERT INTO customers VALUES (1, 'Ann@x.com'), (2, 'bob@x.com')",
    );
    let sql = "SELECT id FROM customers WHERE lower(email) = lower($1)";
    assert_eq!(index_read(&db, sql).as_deref(), Some("customers_email_key"));
    let found = block_on(s.execute(sql, &[Value::Text("ANN@x.com".into())])).unwrap();
    assert_eq!(rows(&found), ["1"]);
    let found = block_on(s.execute(sql, &[Value::Text("nobody".into())])).unwrap();
    assert!(found.rows.is_empty());
    // Another expression of the column, or the column itself, does not
    // match the index: a sequential scan, with the same answers.
    let upper = "SELECT id FROM customers WHERE upper(email) = 'BOB@X.COM'";
    assert_eq!(index_read(&db, upper), None);
    assert_eq!(rows(&ok(&mut s, upper)), ["2"]);
    assert_eq!(
        index_read(&db, "SELECT id FROM customers WHERE email = 'bob@x.com'"),
        None
    );
}

#[test]
fn arithmetic_and_multi_part_keys_answer_equalities_and_ranges() {
    let db = db_with(&[
        "CREATE TABLE t (id int PRIMARY KEY, a int, b int, name text)",
        "CREATE INDEX t_sum ON t ((a + b))",
        "CREATE INDEX t_name_b ON t (lower(name), b)",
    ]);
    let mut s = db.session();
    ok(
        &mut s,
        "INSERT INTO t VALUES (1, 1, 2, 'X'), (2, 2, 3, 'y'), (3, 4, 4, 'x'), (4, NULL, 1, 'x')",
    );
    for (sql, index, want) in [
        ("SELECT id FROM t WHERE a + b = 5", "t_sum", vec!["2"]),
        // A text literal is read as the expression's type, as PostgreSQL
        // reads an unknown literal.
        ("SELECT id FROM t WHERE a + b = '3'", "t_sum", vec!["1"]),
        (
            "SELECT id FROM t WHERE 5 <= a + b ORDER BY id",
            "t_sum",
            vec!["2", "3"],
        ),
        (
            "SELECT id FROM t WHERE a + b BETWEEN 3 AND 5 ORDER BY id",
            "t_sum",
            vec!["1", "2"],
        ),
        (
            "SELECT id FROM t WHERE lower(name) = 'x' ORDER BY id",
            "t_name_b",
            vec!["1", "3", "4"],
        ),
        (
            "SELECT id FROM t WHERE lower(name) = 'x' AND b > 1 ORDER BY id",
            "t_name_b",
            vec!["1", "3"],
        ),
    ] {
        assert_eq!(index_read(&db, sql).as_deref(), Some(index), "{sql}");
        assert_eq!(rows(&ok(&mut s, sql)), want, "{sql}");
    }
    // The NULL key row is found by nothing but IS NULL (a sequential scan).
    assert_eq!(
        rows(&ok(&mut s, "SELECT id FROM t WHERE a + b IS NULL")),
        ["4"]
    );
}

#[test]
fn an_index_expression_must_be_immutable() {
    let db = db_with(&[
        "CREATE TABLE c (id int PRIMARY KEY, email text, a int, b int, ts timestamptz, lt timestamp, d date)",
    ]);
    let mut s = db.session();
    // Each as PostgreSQL 15 answers it.
    for (sql, want) in [
        ("CREATE INDEX ON c (now())", "42P17"),
        ("CREATE INDEX ON c (random())", "42P17"),
        ("CREATE INDEX ON c ((a + random()))", "42P17"),
        ("CREATE INDEX ON c (gen_random_uuid())", "42P17"),
        ("CREATE INDEX ON c ((current_timestamp))", "42P17"),
        ("CREATE INDEX ON c (date_trunc('day', ts))", "42P17"),
        ("CREATE INDEX ON c (date_trunc('day', d))", "42P17"),
        ("CREATE INDEX ON c ((ts::date))", "42P17"),
        ("CREATE INDEX ON c ((lt::text))", "42P17"),
        ("CREATE INDEX ON c ((ts + interval '1 day'))", "42P17"),
        ("CREATE INDEX ON c (extract(year from ts))", "42P17"),
        ("CREATE INDEX ON c (concat(email, 'x'))", "42P17"),
        ("CREATE INDEX ON c ((ts < d))", "42P17"),
        ("CREATE INDEX ON c ((email = $1))", "42P02"),
        ("CREATE INDEX ON c (sum(a))", "42803"),
        ("CREATE INDEX ON c (nosuch(a))", "42883"),
        ("CREATE INDEX ON c (lower(nosuch))", "42703"),
        ("CREATE INDEX ON c (email) WHERE now() > ts", "42P17"),
    ] {
        assert_eq!(code(&mut s, sql), want, "{sql}");
    }
    for sql in [
        "CREATE INDEX ON c (date_trunc('day', lt))",
        "CREATE INDEX ON c ((lt::date))",
        "CREATE INDEX ON c ((lt + interval '1 day'))",
        "CREATE INDEX ON c ((d + 1))",
        "CREATE INDEX ON c (extract(year from lt))",
        "CREATE INDEX ON c ((ts > '2024-01-01'))",
        "CREATE INDEX ON c ((a || 'x'))",
        "CREATE INDEX ON c (length(email))",
    ] {
        ok(&mut s, sql);
    }
}

#[test]
fn unnamed_indexes_are_named_as_postgres_names_them() {
    let db = db_with(&["CREATE TABLE t (id int PRIMARY KEY, a int, b int, name text)"]);
    let mut s = db.session();
    for sql in [
        "CREATE INDEX ON t ((a + b))",
        "CREATE INDEX ON t ((a + b))",
        "CREATE INDEX ON t (lower(name), lower(name))",
        "CREATE UNIQUE INDEX ON t (lower(name))",
        "CREATE INDEX ON t ((a))",
    ] {
        ok(&mut s, sql);
    }
    let table = db.shared.table("t").unwrap();
    let names: Vec<&str> = table.indexes.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "t_pkey",
            "t_expr_idx",
            "t_expr_idx1",
            "t_lower_lower1_idx",
            "t_lower_idx",
            "t_a_idx"
        ]
    );
    // `((a))` is a plain column index.
    assert_eq!(table.indexes[5].columns, [1]);
    assert!(table.indexes[5].expressions.is_empty());
}

#[test]
fn on_conflict_infers_an_expression_index() {
    let db = db_with(CUSTOMERS);
    let mut s = db.session();
    ok(&mut s, "INSERT INTO customers VALUES (1, 'Ann@x.com')");
    let r = ok(
        &mut s,
        "INSERT INTO customers VALUES (5, 'ann@X.com') ON CONFLICT (lower(email)) DO NOTHING",
    );
    assert_eq!(r.affected, 0);
    let r = ok(
        &mut s,
        "INSERT INTO customers VALUES (5, 'ann@X.com') ON CONFLICT (lower(email)) \
         DO UPDATE SET email = excluded.email RETURNING id, email",
    );
    assert_eq!(rows(&r), ["1,ann@X.com"]);
    assert_eq!(
        code(
            &mut s,
            "INSERT INTO customers VALUES (5, 'ann@X.com') ON CONFLICT (email) DO NOTHING"
        ),
        "42P10"
    );
    assert_eq!(
        code(
            &mut s,
            "INSERT INTO customers VALUES (5, 'x') ON CONFLICT (upper(email)) DO NOTHING"
        ),
        "42P10"
    );
    let r = ok(
        &mut s,
        "INSERT INTO customers VALUES (5, 'ann@X.com') ON CONFLICT ((lower(email))) DO NOTHING",
    );
    assert_eq!(r.affected, 0);
    let r = ok(
        &mut s,
        "INSERT INTO customers VALUES (6, 'Carl@x.com') ON CONFLICT (lower(email)) DO NOTHING RETURNING id",
    );
    assert_eq!(rows(&r), ["6"]);
    let all = ok(&mut s, "SELECT id, email FROM customers ORDER BY id");
    assert_eq!(rows(&all), ["1,ann@X.com", "6,Carl@x.com"]);
}

#[test]
fn writes_and_backfills_evaluate_the_expression() {
    let db = db_with(&[
        "CREATE TABLE t (id int PRIMARY KEY, a int, b int)",
        "CREATE UNIQUE INDEX t_ratio ON t ((a / b))",
        "CREATE TABLE r (id int PRIMARY KEY, email text)",
        "CREATE TABLE p (id int PRIMARY KEY, code text NOT NULL)",
        "CREATE UNIQUE INDEX ON p (lower(code))",
    ]);
    let mut s = db.session();
    assert_eq!(code(&mut s, "INSERT INTO t VALUES (1, 1, 0)"), "22012");
    let e = error(&mut s, "INSERT INTO t VALUES (1, 1, 2), (2, 2, 3)");
    assert_eq!(e.code.code(), "23505");
    assert!(e.message.contains("\"t_ratio\""), "{}", e.message);
    ok(&mut s, "INSERT INTO r VALUES (1, 'A'), (2, 'a')");
    let e = error(&mut s, "CREATE UNIQUE INDEX r_key ON r (lower(email))");
    assert_eq!(e.code.code(), "23505");
    assert_eq!(e.message, "could not create unique index \"r_key\"");
    // An expression index is no key a foreign key can refer to.
    assert_eq!(
        code(
            &mut s,
            "CREATE TABLE q (id int PRIMARY KEY, code text REFERENCES p (code))"
        ),
        "42830"
    );
}

#[test]
fn partial_expression_indexes_and_dropped_columns() {
    let db = db_with(&[
        "CREATE TABLE customers (id int PRIMARY KEY, note text, email text, active bool NOT NULL)",
        "CREATE UNIQUE INDEX customers_active_email ON customers (lower(email)) WHERE active",
    ]);
    let mut s = db.session();
    ok(
        &mut s,
        "INSERT INTO customers VALUES (1, '', 'A@x', true), (2, '', 'a@x', false)",
    );
    assert_eq!(
        code(&mut s, "INSERT INTO customers VALUES (3, '', 'a@X', true)"),
        "23505"
    );
    assert_eq!(
        code(&mut s, "UPDATE customers SET active = true WHERE id = 2"),
        "23505"
    );
    // A lookup implies the predicate only with it in its WHERE.
    assert_eq!(
        index_read(
            &db,
            "SELECT id FROM customers WHERE lower(email) = 'a@x' AND active"
        )
        .as_deref(),
        Some("customers_active_email")
    );
    assert_eq!(
        index_read(&db, "SELECT id FROM customers WHERE lower(email) = 'a@x'"),
        None
    );
    // Dropping an earlier column renumbers the expression's columns.
    ok(&mut s, "ALTER TABLE customers DROP COLUMN note");
    assert_eq!(
        code(&mut s, "INSERT INTO customers VALUES (3, 'a@X', true)"),
        "23505"
    );
    assert_eq!(
        rows(&ok(
            &mut s,
            "SELECT id FROM customers WHERE lower(email) = 'a@x' AND active"
        )),
        ["1"]
    );
    // Dropping the column drops the index, as in PostgreSQL.
    ok(&mut s, "ALTER TABLE customers DROP COLUMN email");
    assert_eq!(db.shared.table("customers").unwrap().indexes.len(), 1);
}
