//! Outer joins, aggregates with FILTER / DISTINCT, DISTINCT ON, set
//! operations and window functions, run on the simulated store and on
//! PostgreSQL 15: the same columns, rows and SQLSTATEs, statement by
//! statement. Every query that returns several rows orders them.

use super::{pg_url, runtime};
use overbook::postgres::PgSession;
use overbook::sql::{Rows, Session, SqlDb, Value};
use overbook::store::block_on;

const MIGRATION: &[&str] = &[
    "CREATE TABLE venues (id int PRIMARY KEY, name text NOT NULL)",
    "CREATE TABLE events (id int PRIMARY KEY, venue_id int NOT NULL REFERENCES venues(id), capacity int NOT NULL, title text)",
    "CREATE TABLE holds (id int PRIMARY KEY, event_id int NOT NULL REFERENCES events(id), seats int NOT NULL, status text NOT NULL, who text)",
    "CREATE INDEX holds_event ON holds (event_id)",
    "CREATE TABLE tags (event_id int, tag text)",
    "CREATE TABLE jobs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind text NOT NULL)",
    "INSERT INTO venues VALUES (1, 'hall'), (2, 'club'), (3, 'empty')",
    "INSERT INTO events VALUES (10, 1, 100, 'opera'), (11, 1, 50, 'ballet'), (12, 2, 20, NULL), (13, 2, 5, 'jazz')",
    "INSERT INTO holds VALUES (1, 10, 2, 'active', 'ann'), (2, 10, 3, 'confirmed', 'bob'), (3, 10, 1, 'confirmed', 'ann'), \
     (4, 12, 4, 'active', 'cy'), (5, 12, 4, 'expired', NULL), (6, 11, 7, 'confirmed', 'bob')",
    "INSERT INTO tags VALUES (10, 'vip'), (12, 'late'), (99, 'orphan'), (NULL, 'none')",
];

/// (statement, parameters) run in order.
const STEPS: &[(&str, &[i64])] = &[
    // Outer joins: NULL-extended rows, ON versus WHERE, USING, 3 tables.
    ("SELECT e.id, h.id FROM events e LEFT JOIN holds h ON h.event_id = e.id ORDER BY e.id, h.id", &[]),
    ("SELECT e.id, h.id FROM events e LEFT OUTER JOIN holds h ON h.event_id = e.id AND h.status = 'active' ORDER BY 1, 2", &[]),
    ("SELECT e.id, h.id FROM events e LEFT JOIN holds h ON h.event_id = e.id WHERE h.id IS NULL ORDER BY 1", &[]),
    ("SELECT v.name, e.id, h.seats FROM venues v LEFT JOIN events e ON e.venue_id = v.id LEFT JOIN holds h ON h.event_id = e.id ORDER BY 1, 2, 3", &[]),
    ("SELECT v.name, e.id, h.seats FROM venues v JOIN events e ON e.venue_id = v.id LEFT JOIN holds h ON h.event_id = e.id AND h.seats > 2 ORDER BY 1, 2, 3", &[]),
    ("SELECT t.tag, e.id FROM tags t RIGHT JOIN events e ON e.id = t.event_id ORDER BY 2, 1", &[]),
    ("SELECT t.tag, e.id FROM tags t FULL JOIN events e ON e.id = t.event_id ORDER BY 2, 1", &[]),
    ("SELECT t.tag, e.id FROM tags t FULL OUTER JOIN events e ON e.id = t.event_id AND e.capacity > 60 ORDER BY 2, 1", &[]),
    ("SELECT * FROM events e LEFT JOIN tags USING (id) ORDER BY 1", &[]),
    ("SELECT event_id, tag, seats FROM tags LEFT JOIN holds USING (event_id) ORDER BY 1, 2, 3", &[]),
    ("SELECT * FROM tags FULL JOIN holds USING (event_id) WHERE seats IS NULL OR seats > 3 ORDER BY event_id, tag", &[]),
    ("SELECT event_id, tag FROM holds RIGHT JOIN tags USING (event_id) WHERE holds.id IS NULL ORDER BY 1, 2", &[]),
    ("SELECT e.id, h.id FROM events e LEFT JOIN holds h ON h.event_id = e.id WHERE e.venue_id = $1 ORDER BY 1, 2", &[2]),
    ("SELECT e.id, count(*) FROM events e CROSS JOIN venues v GROUP BY e.id ORDER BY e.id", &[]),
    // The box office's availability report: LEFT JOIN, count FILTER.
    ("SELECT e.id, e.capacity, count(h.id) FILTER (WHERE h.status = 'active') AS held, count(h.id) FILTER (WHERE h.status = 'confirmed') AS sold \
      FROM events e LEFT JOIN holds h ON h.event_id = e.id WHERE e.venue_id = $1 GROUP BY e.id, e.capacity ORDER BY e.id", &[1]),
    // Aggregates.
    ("SELECT count(DISTINCT who), count(who), count(*), bool_and(seats > 1), bool_or(seats > 5), every(status <> 'x') FROM holds", &[]),
    ("SELECT avg(seats), avg(capacity) FILTER (WHERE capacity > 100), sum(seats) FILTER (WHERE status = 'active') FROM holds, events WHERE events.id = holds.event_id", &[]),
    ("SELECT status, string_agg(who, ',') AS people, avg(seats) FROM holds GROUP BY status ORDER BY status", &[]),
    ("SELECT event_id % 2, count(*) FROM holds GROUP BY event_id % 2 ORDER BY 1", &[]),
    ("SELECT status AS s, count(*) FROM holds GROUP BY 1 ORDER BY 1", &[]),
    ("SELECT status AS s, sum(seats) FROM holds GROUP BY s ORDER BY s", &[]),
    ("SELECT count(*) FROM holds GROUP BY 3", &[]),
    ("SELECT lower(status) FILTER (WHERE seats > 1) FROM holds", &[]),
    ("SELECT count(*) FROM holds GROUP BY count(*)", &[]),
    ("SELECT status, seats FROM holds GROUP BY status", &[]),
    // DISTINCT and DISTINCT ON.
    ("SELECT DISTINCT status FROM holds ORDER BY status", &[]),
    ("SELECT DISTINCT who, status FROM holds ORDER BY who, status", &[]),
    ("SELECT DISTINCT status FROM holds ORDER BY seats", &[]),
    ("SELECT DISTINCT ON (event_id) event_id, id, seats FROM holds ORDER BY event_id, seats DESC, id", &[]),
    ("SELECT DISTINCT ON (status) status, who FROM holds ORDER BY status, id DESC", &[]),
    ("SELECT DISTINCT ON (status) status, who FROM holds ORDER BY who", &[]),
    ("SELECT DISTINCT status FROM holds ORDER BY 1 LIMIT 2 OFFSET 1", &[]),
    ("SELECT DISTINCT status FROM holds WHERE id = 1 FOR UPDATE", &[]),
    // Set operations.
    ("SELECT event_id FROM holds UNION SELECT id FROM events ORDER BY 1", &[]),
    ("SELECT event_id FROM holds UNION ALL SELECT id FROM events ORDER BY 1 DESC LIMIT 4", &[]),
    ("SELECT event_id FROM holds INTERSECT SELECT id FROM events ORDER BY event_id", &[]),
    ("SELECT event_id FROM holds INTERSECT ALL SELECT event_id FROM holds WHERE seats > 1 ORDER BY 1", &[]),
    ("SELECT id FROM events EXCEPT SELECT event_id FROM holds ORDER BY 1", &[]),
    ("SELECT event_id FROM holds EXCEPT ALL SELECT id FROM events ORDER BY 1", &[]),
    ("SELECT event_id, tag FROM tags UNION SELECT event_id, status FROM holds WHERE seats > 3 ORDER BY 1, 2", &[]),
    ("SELECT id FROM events UNION SELECT id, id FROM venues", &[]),
    ("SELECT id FROM events UNION SELECT id FROM venues FOR UPDATE", &[]),
    ("SELECT id FROM events UNION SELECT id FROM venues ORDER BY id + 1", &[]),
    // Window functions.
    ("SELECT id, event_id, row_number() OVER (PARTITION BY event_id ORDER BY seats DESC, id) FROM holds ORDER BY id", &[]),
    ("SELECT id, rank() OVER (ORDER BY seats), dense_rank() OVER (ORDER BY seats) FROM holds ORDER BY id", &[]),
    ("SELECT id, seats, sum(seats) OVER (ORDER BY seats) AS running, count(*) OVER (PARTITION BY event_id) AS n FROM holds ORDER BY id", &[]),
    ("SELECT id, lag(id) OVER (ORDER BY id), lead(id, 2) OVER (ORDER BY id), lag(id, 1, 0) OVER (PARTITION BY event_id ORDER BY id) FROM holds ORDER BY id", &[]),
    ("SELECT id, count(who) OVER (PARTITION BY status ORDER BY id), avg(seats) OVER (PARTITION BY status) FROM holds ORDER BY id", &[]),
    ("SELECT id FROM holds WHERE row_number() OVER () > 1", &[]),
    // GENERATED ALWAYS AS IDENTITY: only DEFAULT may be written.
    ("INSERT INTO jobs (kind) VALUES ('a'), ('b') RETURNING id, kind", &[]),
    ("INSERT INTO jobs (id, kind) VALUES (DEFAULT, 'c') RETURNING id", &[]),
    ("INSERT INTO jobs (id, kind) VALUES (9, 'd')", &[]),
    ("UPDATE jobs SET id = 7 WHERE id = 1", &[]),
    ("UPDATE jobs SET id = DEFAULT WHERE id = 1 RETURNING id", &[]),
];

/// What each step returned: columns and rows, or the SQLSTATE.
type Outcome = Result<Rows, &'static str>;

async fn run<S: Session>(s: &mut S) -> Vec<(String, Outcome)> {
    let mut out = Vec::new();
    for (sql, params) in STEPS {
        let params: Vec<Value> = params.iter().map(|&p| p.into()).collect();
        let r = s.execute(sql, &params).await.map_err(|e| e.code.code());
        out.push((sql.to_string(), r));
    }
    out
}

fn store_outcomes() -> Vec<(String, Outcome)> {
    let db = SqlDb::new_empty();
    let mut sim = db.session();
    block_on(async {
        for ddl in MIGRATION {
            sim.execute(ddl, &[])
                .await
                .unwrap_or_else(|e| panic!("{ddl}: {e}"));
        }
        run(&mut sim).await
    })
}

fn outcome<'a>(all: &'a [(String, Outcome)], prefix: &str) -> &'a Outcome {
    &all.iter()
        .find(|(sql, _)| sql.starts_with(prefix))
        .unwrap_or_else(|| panic!("no step {prefix}"))
        .1
}

fn ints(o: &Outcome) -> Vec<Vec<Option<i64>>> {
    o.as_ref()
        .unwrap_or_else(|e| panic!("failed with {e}"))
        .rows
        .iter()
        .map(|r| r.iter().map(|v| v.as_int()).collect())
        .collect()
}

#[test]
fn outer_joins_aggregates_and_windows_on_the_store() {
    let all = store_outcomes();
    // An event without holds comes out NULL-extended.
    assert_eq!(
        ints(outcome(&all, "SELECT e.id, h.id FROM events e LEFT JOIN holds h ON h.event_id = e.id WHERE h.id IS NULL")),
        [[Some(13), None]]
    );
    // The availability report counts per status, 0 for the event
    // without holds.
    let report = outcome(&all, "SELECT e.id, e.capacity, count(h.id) FILTER");
    assert_eq!(
        report.as_ref().unwrap().columns,
        ["id", "capacity", "held", "sold"]
    );
    assert_eq!(
        ints(report),
        [
            [Some(10), Some(100), Some(1), Some(2)],
            [Some(11), Some(50), Some(0), Some(1)]
        ]
    );
    // FULL JOIN keeps both sides' unmatched rows.
    assert_eq!(
        ints(outcome(&all, "SELECT t.tag, e.id FROM tags t FULL JOIN")).len(),
        6
    );
    // Ranks with ties.
    let ranks = outcome(&all, "SELECT id, rank() OVER");
    assert_eq!(
        ranks.as_ref().unwrap().columns,
        ["id", "rank", "dense_rank"]
    );
    // Errors PostgreSQL gives.
    for (prefix, code) in [
        (
            "SELECT DISTINCT ON (status) status, who FROM holds ORDER BY who",
            "42P10",
        ),
        ("SELECT DISTINCT status FROM holds ORDER BY seats", "42P10"),
        ("SELECT id FROM events UNION SELECT id, id", "42601"),
        (
            "SELECT id FROM events UNION SELECT id FROM venues FOR UPDATE",
            "0A000",
        ),
        ("SELECT count(*) FROM holds GROUP BY 3", "42P10"),
        ("SELECT lower(status) FILTER", "42809"),
        ("SELECT count(*) FROM holds GROUP BY count(*)", "42803"),
        ("SELECT id FROM holds WHERE row_number()", "42P20"),
        ("INSERT INTO jobs (id, kind) VALUES (9, 'd')", "428C9"),
        ("UPDATE jobs SET id = 7 WHERE id = 1", "428C9"),
    ] {
        assert_eq!(
            outcome(&all, prefix).as_ref().err(),
            Some(&code),
            "{prefix}"
        );
    }
}

#[test]
#[ignore = "needs PostgreSQL: OVERBOOK_PG_URL (scripts/with-postgres.sh cargo test -- --ignored)"]
fn outer_joins_aggregates_and_windows_agree_with_postgres() {
    let store = store_outcomes();
    let Some(url) = pg_url("outer_joins_aggregates_and_windows_agree_with_postgres") else {
        return;
    };
    let pg = runtime().block_on(async {
        let mut admin = PgSession::connect(&url).await.expect("connect");
        let schema = format!("joins_{}", std::process::id());
        admin.fresh_schema(&schema).await.expect("a fresh schema");
        let separator = if url.contains('?') { '&' } else { '?' };
        let scoped = format!("{url}{separator}options=-c%20search_path%3D{schema},public");
        let mut s = PgSession::connect(&scoped).await.expect("connect");
        for ddl in MIGRATION {
            s.execute(ddl, &[])
                .await
                .unwrap_or_else(|e| panic!("{ddl}: {e}"));
        }
        let out = run(&mut s).await;
        let _ = admin
            .execute(&format!("DROP SCHEMA {schema} CASCADE"), &[])
            .await;
        out
    });
    assert_eq!(store.len(), pg.len());
    let mut differ = Vec::new();
    for ((sql, a), (_, b)) in store.iter().zip(&pg) {
        if a != b {
            differ.push(format!("{sql}\n  store:      {a:?}\n  PostgreSQL: {b:?}"));
        }
    }
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
