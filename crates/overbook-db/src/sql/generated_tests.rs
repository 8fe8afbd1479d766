//! Generated columns (`GENERATED ALWAYS AS (expr) STORED`) and `CREATE
//! TABLE ... AS` on one session (the concurrency rules are pinned by the
//! transcripts of `scripts`). Expected results and SQLSTATEs are
//! PostgreSQL 15's, checked with psql.

use super::test_util::*;
use super::*;

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

const SRC: [&str; 2] = [
    "CREATE TABLE src (id int PRIMARY KEY, name text, price numeric(10,2), qty smallint, big bigint, d date, ts timestamptz, v varchar(5), c char(3), j jsonb, b bool)",
    "INSERT INTO src VALUES (1, 'a', 1.50, 2, 10, '2025-01-01', '2025-01-02 00:00:00+00', 'x', 'y', '{}', true), (2, 'b', 3, 4, 20, NULL, NULL, NULL, NULL, NULL, false)",
];

/// The visible columns of `table` as `name type`, with PostgreSQL's type
/// names (`\d`).
fn described(db: &SqlDb, table: &str) -> Vec<String> {
    let t = db.shared.table(table).unwrap();
    t.columns[..t.visible()]
        .iter()
        .map(|c| {
            let ty = match c.ty {
                SqlType::Decimal(p, s) => format!("numeric({p},{s})"),
                SqlType::Varchar(n) => format!("character varying({n})"),
                SqlType::Char(n) => format!("character({n})"),
                t => t.name().to_string(),
            };
            format!("{} {ty}", c.name)
        })
        .collect()
}

#[test]
fn create_table_as_copies_the_rows_with_postgresqls_column_types() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    for stmt in SRC {
        ok(&mut s, stmt);
    }
    let r = ok(&mut s, "CREATE TABLE c1 AS SELECT * FROM src");
    assert_eq!(r.affected, 2);
    assert_eq!(
        described(&db, "c1"),
        [
            "id integer",
            "name text",
            "price numeric(10,2)",
            "qty smallint",
            "big bigint",
            "d date",
            "ts timestamp with time zone",
            "v character varying(5)",
            "c character(3)",
            "j jsonb",
            "b boolean",
        ]
    );
    assert!(db.shared.table("c1").unwrap().heap, "no primary key");
    assert_eq!(
        rows(&ok(&mut s, "SELECT id, price, c FROM c1 ORDER BY id")),
        ["1,1.50,y  ", "2,3.00,NULL"]
    );
    // \d after the same statement on PostgreSQL 15.
    ok(&mut s, "CREATE TABLE c2 AS SELECT count(*), sum(qty) AS sq, sum(big) AS sb, sum(price) AS sp, avg(id) AS ai, min(name) AS mn, max(price) AS mp, min(qty) AS mq, 1 AS one, 'lit' AS l, 1.5 AS f, NULL AS n, 3000000000 AS bg, 1 + 1 AS ii, NULL::int AS ni, bool_and(b) AS ba, string_agg(name, ',') AS sa FROM src");
    assert_eq!(
        described(&db, "c2"),
        [
            "count bigint",
            "sq bigint",
            "sb numeric",
            "sp numeric",
            "ai numeric",
            "mn text",
            "mp numeric",
            "mq smallint",
            "one integer",
            "l text",
            "f numeric",
            "n text",
            "bg bigint",
            "ii integer",
            "ni integer",
            "ba boolean",
            "sa text",
        ]
    );
    ok(&mut s, "CREATE TABLE c3 AS SELECT id + 1 AS ip, qty + qty AS qq, qty + 1 AS q1, big * 2 AS b2, price * 2 AS p2, id * 1.5 AS x15, d - d AS dmd, ts - ts AS tmt, 'a' || id AS cat, nullif(id, 1) AS ni, coalesce(qty, 1) AS cq, coalesce(qty, big) AS cqb, CASE WHEN b THEN 1 ELSE 2.5 END AS cs, CASE WHEN id > 1 THEN 'x' ELSE 'y' END AS k, length(name) AS ln, d + 1 AS dd, ts - interval '1 day' AS ti, -id AS neg, abs(qty) AS ab, j->>'a' AS jt, id > 1 AS gt, date_trunc('day', ts) AS dt, row_number() OVER () AS rn FROM src");
    assert_eq!(
        described(&db, "c3"),
        [
            "ip integer",
            "qq smallint",
            "q1 integer",
            "b2 bigint",
            "p2 numeric",
            "x15 numeric",
            "dmd integer",
            "tmt interval",
            "cat text",
            "ni integer",
            "cq integer",
            "cqb bigint",
            "cs numeric",
            "k text",
            "ln integer",
            "dd date",
            "ti timestamp with time zone",
            "neg integer",
            "ab smallint",
            "jt text",
            "gt boolean",
            "dt timestamp with time zone",
            "rn bigint",
        ]
    );
}

#[test]
fn create_table_as_names_no_data_and_errors() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    for stmt in SRC {
        ok(&mut s, stmt);
    }
    let r = ok(
        &mut s,
        "CREATE TABLE c3 (a, b) AS SELECT id, name FROM src WITH NO DATA",
    );
    assert_eq!(r.affected, 0);
    assert_eq!(described(&db, "c3"), ["a integer", "b text"]);
    assert_eq!(rows(&ok(&mut s, "SELECT count(*) FROM c3")), ["0"]);
    let e = error(&mut s, "CREATE TABLE c3 AS SELECT 1");
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        ("42P07", "relation \"c3\" already exists")
    );
    ok(&mut s, "CREATE TABLE IF NOT EXISTS c3 AS SELECT 1");
    assert_eq!(described(&db, "c3"), ["a integer", "b text"]);
    let e = error(&mut s, "CREATE TABLE c4 AS SELECT 1, 2");
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        ("42701", "column \"?column?\" specified more than once")
    );
    assert_eq!(
        code(&mut s, "CREATE TABLE c5 AS SELECT id, id FROM src"),
        "42701"
    );
    assert_eq!(
        code(
            &mut s,
            "CREATE TABLE c6 (a, b, c) AS SELECT id, name FROM src"
        ),
        "42601"
    );
    ok(
        &mut s,
        "CREATE TABLE c7 (a) AS SELECT id, name FROM src WITH DATA",
    );
    assert_eq!(
        rows(&ok(&mut s, "SELECT a, name FROM c7 ORDER BY a")),
        ["1,a", "2,b"]
    );
    assert_eq!(
        code(&mut s, "CREATE TABLE c8 AS SELECT id FROM nope"),
        "42P01"
    );
    assert_eq!(
        code(&mut s, "CREATE TABLE c8 AS SELECT nope FROM src"),
        "42703"
    );
    assert_eq!(code(&mut s, "SELECT * FROM c8"), "42P01");
    // A table like any other: rows without a primary key, duplicates too.
    ok(&mut s, "CREATE TABLE c9 AS SELECT * FROM src WHERE id = 7");
    ok(&mut s, "INSERT INTO c9 (id) VALUES (1), (1)");
    assert_eq!(rows(&ok(&mut s, "SELECT count(*) FROM c9")), ["2"]);
    // SELECT ... INTO is CREATE TABLE ... AS.
    let r = ok(&mut s, "SELECT id, name INTO c11 FROM src WHERE id > 1");
    assert_eq!(r.affected, 1);
    assert_eq!(described(&db, "c11"), ["id integer", "name text"]);
    assert_eq!(rows(&ok(&mut s, "SELECT * FROM c11")), ["2,b"]);
    // Inside a block, as all DDL here: 0A000.
    ok(&mut s, "BEGIN");
    assert_eq!(code(&mut s, "CREATE TABLE c10 AS SELECT 1 AS x"), "0A000");
    ok(&mut s, "ROLLBACK");
}

#[test]
fn create_table_as_over_generate_series_with_subqueries_and_values() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    for stmt in SRC {
        ok(&mut s, stmt);
    }
    // information_schema.columns after the same statements on
    // PostgreSQL 15.
    let r = ok(
        &mut s,
        "CREATE TABLE v1 AS SELECT generate_series(1, 3)::int a",
    );
    assert_eq!(r.affected, 3);
    assert_eq!(described(&db, "v1"), ["a integer"]);
    ok(
        &mut s,
        "CREATE TABLE v2 AS SELECT i AS id FROM generate_series(1, 3) i",
    );
    assert_eq!(described(&db, "v2"), ["id integer"]);
    assert_eq!(rows(&ok(&mut s, "SELECT * FROM v2")), ["1", "2", "3"]);
    ok(
        &mut s,
        "CREATE TABLE v3 AS SELECT g FROM generate_series(1::bigint, 3) g",
    );
    assert_eq!(described(&db, "v3"), ["g bigint"]);
    ok(&mut s, "CREATE TABLE v4 AS WITH w AS (SELECT id, qty FROM src) SELECT id, qty, qty + 1 AS q1 FROM w");
    assert_eq!(
        described(&db, "v4"),
        ["id integer", "qty smallint", "q1 integer"]
    );
    assert_eq!(
        rows(&ok(&mut s, "SELECT * FROM v4 ORDER BY id")),
        ["1,2,3", "2,4,5"]
    );
    ok(
        &mut s,
        "CREATE TABLE v5 AS SELECT x.s, x.n FROM (SELECT sum(qty) AS s, max(name) AS n FROM src) x",
    );
    assert_eq!(described(&db, "v5"), ["s bigint", "n text"]);
    assert_eq!(rows(&ok(&mut s, "SELECT * FROM v5")), ["6,b"]);
    ok(
        &mut s,
        "CREATE TABLE v6 AS VALUES (1, 'a', NULL), (2.5, 'b', 3)",
    );
    assert_eq!(
        described(&db, "v6"),
        ["column1 numeric", "column2 text", "column3 integer"]
    );
    assert_eq!(
        rows(&ok(&mut s, "SELECT * FROM v6 ORDER BY 1")),
        ["1,a,NULL", "2.5,b,3"]
    );
    ok(
        &mut s,
        "CREATE TABLE v7 AS SELECT * FROM (VALUES (1, 'x'), (2, 'y')) AS t(k, v)",
    );
    assert_eq!(described(&db, "v7"), ["k integer", "v text"]);
    ok(&mut s, "CREATE TABLE v8 AS SELECT generate_series(1, 3)");
    assert_eq!(described(&db, "v8"), ["generate_series integer"]);
    // A data-modifying WITH query is not a query whose rows fill a table
    // here.
    assert_eq!(
        code(
            &mut s,
            "CREATE TABLE v9 AS WITH d AS (DELETE FROM src RETURNING id) SELECT id FROM d"
        ),
        "0A000"
    );
}

#[test]
fn values_lists_as_queries_and_from_items() {
    let mut s = session_with(&[]);
    assert_eq!(
        rows(&ok(&mut s, "VALUES (2, 'b'), (1, 'a') ORDER BY 1")),
        ["1,a", "2,b"]
    );
    let r = ok(&mut s, "VALUES (1)");
    assert_eq!(r.columns, ["column1"]);
    assert_eq!(
        rows(&ok(&mut s, "VALUES (2), (1) ORDER BY 1 LIMIT 1")),
        ["1"]
    );
    // An untyped literal takes the other rows' type.
    assert_eq!(
        rows(&ok(
            &mut s,
            "SELECT column1 + 1 FROM (VALUES (1), ('2')) v ORDER BY 1"
        )),
        ["2", "3"]
    );
    assert_eq!(
        rows(&ok(
            &mut s,
            "SELECT t.b FROM (VALUES (1, 'x'), (2, 'y')) t(a, b) WHERE t.a = 2"
        )),
        ["y"]
    );
    let e = error(&mut s, "VALUES (1), (true)");
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        (
            "42804",
            "VALUES types integer and boolean cannot be matched"
        )
    );
    let e = error(&mut s, "VALUES (1), (2, 3)");
    assert_eq!(e.code.code(), "42601");
    assert!(
        e.message
            .starts_with("VALUES lists must all be the same length"),
        "{e}"
    );
    let e = error(&mut s, "SELECT * FROM (VALUES (1, 2)) t(a, b, c)");
    assert_eq!(
        (e.code.code(), e.message.as_str()),
        (
            "42P10",
            "table \"t\" has 2 columns available but 3 columns specified"
        )
    );
}
