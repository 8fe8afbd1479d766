//! Subqueries, WITH queries, INSERT ... SELECT, UPDATE ... FROM, DELETE
//! ... USING and ON CONFLICT targets on one session (their concurrency
//! rules are pinned by the transcripts of `scripts`). Expected results
//! are PostgreSQL 15's.

use super::test_util::*;
use super::*;

/// The rows as text, `NULL` for nulls: `[["1", "a"], ...]`.
fn text(rows: &Rows) -> Vec<Vec<String>> {
    rows.rows
        .iter()
        .map(|r| r.iter().map(cell).collect())
        .collect()
}

fn one(rows: &Rows) -> String {
    let t = text(rows);
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!(t[0].len(), 1, "{t:?}");
    t[0][0].clone()
}

const SHOP: &[&str] = &[
    "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, stock int)",
    "CREATE TABLE orders (id int PRIMARY KEY, item_id int NOT NULL REFERENCES items (id), qty int NOT NULL)",
    "CREATE INDEX orders_item ON orders (item_id)",
    "CREATE TABLE log (id serial PRIMARY KEY, what text NOT NULL, n int)",
];

fn shop() -> (SqlDb, SqlSession) {
    let db = db_with(SHOP);
    let mut s = db.session();
    ok(
        &mut s,
        "INSERT INTO items VALUES (1, 'pen', 10), (2, 'ink', NULL), (3, 'pad', 0)",
    );
    ok(
        &mut s,
        "INSERT INTO orders VALUES (10, 1, 2), (11, 1, 3), (12, 2, 1)",
    );
    (db, s)
}

#[test]
fn scalar_subqueries_give_their_value_null_or_21000() {
    let (_db, mut s) = shop();
    let rows = ok(
        &mut s,
        "SELECT id, (SELECT sum(qty) FROM orders o WHERE o.item_id = i.id) AS sold FROM items i ORDER BY id",
    );
    assert_eq!(
        text(&rows),
        [["1", "5"], ["2", "1"], ["3", "NULL"]].map(|r| r.map(String::from).to_vec())
    );
    assert_eq!(rows.columns, ["id", "sold"]);
    assert_eq!(
        one(&ok(&mut s, "SELECT (SELECT name FROM items WHERE id = 9)")),
        "NULL"
    );
    assert_eq!(
        code(&mut s, "SELECT (SELECT id FROM orders WHERE item_id = 1)"),
        "21000"
    );
    assert_eq!(code(&mut s, "SELECT (SELECT id, qty FROM orders)"), "42601");
    // In WHERE, as an index bound, and in UPDATE's SET and INSERT's VALUES.
    assert_eq!(
        one(&ok(
            &mut s,
            "SELECT name FROM items WHERE id = (SELECT item_id FROM orders WHERE id = 12)"
        )),
        "ink"
    );
    ok(
        &mut s,
        "UPDATE items SET stock = (SELECT count(*) FROM orders WHERE item_id = items.id) WHERE id IN (1, 3)",
    );
    assert_eq!(
        text(&ok(&mut s, "SELECT id, stock FROM items ORDER BY id")),
        [["1", "2"], ["2", "NULL"], ["3", "0"]].map(|r| r.map(String::from).to_vec())
    );
    ok(
        &mut s,
        "INSERT INTO log (what, n) VALUES ('orders', (SELECT count(*) FROM orders))",
    );
    assert_eq!(one(&ok(&mut s, "SELECT n FROM log")), "3");
}

#[test]
fn exists_and_in_follow_postgres_null_rules() {
    let (_db, mut s) = shop();
    let names = |s: &mut SqlSession, sql: &str| -> Vec<String> {
        text(&ok(s, sql))
            .into_iter()
            .map(|r| r[0].clone())
            .collect()
    };
    assert_eq!(
        names(
            &mut s,
            "SELECT name FROM items i WHERE EXISTS (SELECT 1 FROM orders o WHERE o.item_id = i.id) ORDER BY id"
        ),
        ["pen", "ink"]
    );
    assert_eq!(
        names(
            &mut s,
            "SELECT name FROM items i WHERE NOT EXISTS (SELECT * FROM orders o WHERE o.item_id = i.id)"
        ),
        ["pad"]
    );
    assert_eq!(
        names(
            &mut s,
            "SELECT name FROM items WHERE id IN (SELECT item_id FROM orders) ORDER BY id"
        ),
        ["pen", "ink"]
    );
    // stock holds a NULL: NOT IN over it is never true.
    assert!(names(
        &mut s,
        "SELECT name FROM items WHERE 5 NOT IN (SELECT stock FROM items)"
    )
    .is_empty());
    assert_eq!(
        one(&ok(
            &mut s,
            "SELECT 10 NOT IN (SELECT stock FROM items WHERE stock IS NOT NULL)"
        )),
        "f"
    );
    // Over no rows: IN is false and NOT IN true, even for NULL.
    assert_eq!(
        text(&ok(
            &mut s,
            "SELECT NULL IN (SELECT id FROM items WHERE id > 9), NULL NOT IN (SELECT id FROM items WHERE id > 9), NULL IN (SELECT id FROM items)"
        )),
        [["f", "t", "NULL"]].map(|r| r.map(String::from).to_vec())
    );
    assert_eq!(
        text(&ok(
            &mut s,
            "SELECT 3 > ALL (SELECT qty FROM orders WHERE item_id = 1), 3 >= ANY (SELECT qty FROM orders), 1 < ALL (SELECT stock FROM items)"
        )),
        [["f", "t", "f"]].map(|r| r.map(String::from).to_vec())
    );
    assert_eq!(
        code(&mut s, "SELECT 1 IN (SELECT id, name FROM items)"),
        "42601"
    );
}

#[test]
fn insert_select_with_and_without_columns_conflicts_and_returning() {
    let (_db, mut s) = shop();
    let rows = ok(
        &mut s,
        "INSERT INTO log (what, n) SELECT name, stock FROM items WHERE stock IS NOT NULL ORDER BY id RETURNING what, n",
    );
    assert_eq!(rows.affected, 2);
    assert_eq!(
        text(&rows),
        [["pen", "10"], ["pad", "0"]].map(|r| r.map(String::from).to_vec())
    );
    ok(
        &mut s,
        "INSERT INTO items SELECT id + 100, 'copy', qty FROM orders WHERE item_id = 1",
    );
    assert_eq!(
        one(&ok(&mut s, "SELECT count(*) FROM items WHERE id > 100")),
        "2"
    );
    let rows = ok(
        &mut s,
        "INSERT INTO items SELECT id, 'dup', 0 FROM items WHERE id < 3 ON CONFLICT (id) DO UPDATE SET stock = excluded.stock RETURNING id, name, stock",
    );
    assert_eq!(
        text(&rows),
        [["1", "pen", "0"], ["2", "ink", "0"]].map(|r| r.map(String::from).to_vec())
    );
    assert_eq!(
        code(&mut s, "INSERT INTO items (id) SELECT id, name FROM items"),
        "42601"
    );
    assert_eq!(
        code(&mut s, "INSERT INTO items (id, name) SELECT id FROM items"),
        "42601"
    );
    // Reads its own table at the statement's start, not its own rows.
    ok(&mut s, "INSERT INTO log (what) SELECT what || '+' FROM log");
    assert_eq!(one(&ok(&mut s, "SELECT count(*) FROM log")), "4");
    let rows = ok(&mut s, "INSERT INTO log (what) VALUES ('x') RETURNING *");
    assert_eq!(rows.columns, ["id", "what", "n"]);
    // Without a column list, fewer values fill the first columns; a
    // parenthesized query is that query.
    ok(&mut s, "INSERT INTO items VALUES (50, 'short')");
    ok(&mut s, "INSERT INTO items (SELECT 51, 'paren')");
    assert_eq!(
        text(&ok(
            &mut s,
            "SELECT id, name, stock FROM items WHERE id BETWEEN 50 AND 60 ORDER BY id"
        )),
        [["50", "short", "NULL"], ["51", "paren", "NULL"]].map(|r| r.map(String::from).to_vec())
    );
}

#[test]
fn generate_series_and_subqueries_in_from() {
    let db = db_with(&["CREATE TABLE t (id int PRIMARY KEY, v int)"]);
    let mut s = db.session();
    let rows = ok(&mut s, "INSERT INTO t SELECT generate_series(1, 10), 0");
    assert_eq!(rows.affected, 10);
    ok(
        &mut s,
        "INSERT INTO t (id, v) SELECT x, x % 3 FROM generate_series(11, 20, 3) x",
    );
    assert_eq!(
        text(&ok(&mut s, "SELECT id, v FROM t WHERE id > 10 ORDER BY id")),
        [["11", "2"], ["14", "2"], ["17", "2"], ["20", "2"]].map(|r| r.map(String::from).to_vec())
    );
    assert_eq!(
        one(&ok(
            &mut s,
            "SELECT count(*) FROM (SELECT * FROM t WHERE v = 2) a(x)"
        )),
        "4"
    );
    assert_eq!(
        text(&ok(&mut s, "SELECT generate_series(1, 3) % 2 AS r")),
        [["1"], ["0"], ["1"]].map(|r| r.map(String::from).to_vec())
    );
    assert_eq!(code(&mut s, "SELECT * FROM (SELECT 1)"), "42601");
}

#[test]
fn with_queries_select_lock_and_write() {
    let (_db, mut s) = shop();
    // Several WITH queries, a later one reading an earlier one.
    let rows = ok(
        &mut s,
        "WITH big AS (SELECT id, qty FROM orders WHERE qty > 1), total(n) AS (SELECT sum(qty) FROM big) SELECT n FROM total",
    );
    assert_eq!(one(&rows), "5");
    // The box office's hold: lock the parent, count, insert from a query.
    let rows = ok(
        &mut s,
        "WITH item AS (SELECT id, stock FROM items WHERE id = 1 FOR UPDATE), taken AS (SELECT count(*) AS n FROM orders WHERE item_id = 1) \
         INSERT INTO orders (id, item_id, qty) SELECT 13, item.id, 1 FROM item, taken WHERE taken.n < item.stock RETURNING id",
    );
    assert_eq!(one(&rows), "13");
    // A data-modifying WITH query runs once, read or not.
    ok(
        &mut s,
        "WITH bump AS (UPDATE items SET stock = stock + 1 WHERE id = 3) SELECT 1",
    );
    assert_eq!(
        one(&ok(&mut s, "SELECT stock FROM items WHERE id = 3")),
        "1"
    );
    let rows = ok(
        &mut s,
        "WITH gone AS (DELETE FROM orders WHERE item_id = 2 RETURNING id, qty) INSERT INTO log (what, n) SELECT 'deleted', qty FROM gone RETURNING what, n",
    );
    assert_eq!(
        text(&rows),
        [["deleted", "1"]].map(|r| r.map(String::from).to_vec())
    );
    // Every part reads the statement's snapshot: none sees another's
    // writes.
    assert_eq!(
        text(&ok(
            &mut s,
            "WITH u AS (UPDATE items SET stock = 0 WHERE id = 1 RETURNING stock) SELECT (SELECT stock FROM items WHERE id = 1), (SELECT stock FROM u)"
        )),
        [["10", "0"]].map(|r| r.map(String::from).to_vec())
    );
    assert_eq!(
        one(&ok(&mut s, "SELECT stock FROM items WHERE id = 1")),
        "0"
    );
    // Two parts writing one table: 0A000 (see `cte`).
    assert_eq!(
        code(
            &mut s,
            "WITH u AS (UPDATE items SET stock = 0 WHERE id = 1) UPDATE items SET stock = 5 WHERE id = 2"
        ),
        "0A000"
    );
    assert_eq!(
        code(&mut s, "WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r"),
        "0A000"
    );
    assert_eq!(
        code(&mut s, "WITH a AS (SELECT 1), a AS (SELECT 2) SELECT 1"),
        "42712"
    );
}

#[test]
fn update_from_and_delete_using_join_their_items() {
    let (_db, mut s) = shop();
    let rows = ok(
        &mut s,
        "UPDATE items SET stock = items.stock - o.qty FROM orders o WHERE o.id = 10 AND o.item_id = items.id RETURNING items.id, items.stock, o.qty",
    );
    assert_eq!(
        text(&rows),
        [["1", "8", "2"]].map(|r| r.map(String::from).to_vec())
    );
    // A target row joined twice is updated once.
    let rows = ok(
        &mut s,
        "UPDATE items SET stock = 0 FROM orders WHERE orders.item_id = items.id AND items.id = 1",
    );
    assert_eq!(rows.affected, 1);
    let rows = ok(
        &mut s,
        "WITH batch AS (SELECT id FROM orders WHERE item_id = 1 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         DELETE FROM orders o USING batch b WHERE o.id = b.id RETURNING *",
    );
    assert_eq!(rows.columns, ["id", "item_id", "qty", "id"]);
    assert_eq!(
        text(&rows),
        [["10", "1", "2", "10"]].map(|r| r.map(String::from).to_vec())
    );
    assert_eq!(one(&ok(&mut s, "SELECT count(*) FROM orders")), "2");
}

#[test]
fn on_conflict_where_infers_a_partial_unique_index() {
    let db = db_with(&[
        "CREATE TABLE hold (id int PRIMARY KEY, seat int NOT NULL, status text NOT NULL)",
        "CREATE UNIQUE INDEX hold_one_active ON hold (seat) WHERE status = 'active'",
    ]);
    let mut s = db.session();
    ok(&mut s, "INSERT INTO hold VALUES (1, 7, 'active')");
    assert_eq!(
        code(
            &mut s,
            "INSERT INTO hold VALUES (2, 7, 'active') ON CONFLICT (seat) DO NOTHING"
        ),
        "42P10"
    );
    let rows = ok(
        &mut s,
        "INSERT INTO hold VALUES (2, 7, 'active') ON CONFLICT (seat) WHERE status = 'active' DO NOTHING",
    );
    assert_eq!(rows.affected, 0);
    let rows = ok(
        &mut s,
        "INSERT INTO hold VALUES (2, 7, 'active') ON CONFLICT (seat) WHERE status = 'active' DO UPDATE SET status = 'active' RETURNING id",
    );
    assert_eq!(one(&rows), "1");
}
