//! Types and functions against PostgreSQL 15: each expected text below
//! is what `psql -At` printed for the same statement on PostgreSQL 15
//! (fields joined by `|`, NULL empty).

use super::test_util::*;
use super::*;
use crate::store::{Pacer, PauseFuture, PausePoint};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

fn ok(s: &mut SqlSession, sql: &str, params: &[Value]) -> Rows {
    exec_with(s, sql, params).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn code(s: &mut SqlSession, sql: &str, params: &[Value]) -> (&'static str, String) {
    let e = expect_error(sql, exec_with(s, sql, params));
    (e.code.code(), e.message)
}

/// Rows as `psql -At` prints them.
fn psql(rows: &Rows) -> String {
    rows.rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|v| match v {
                    Value::Json(_) => funcs::json_text(v),
                    other => other.to_pg_text().unwrap_or_default(),
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const CASES: &[(&str, &str)] = &[
    (
        r#"SELECT '6ECD8C99-4036-403D-BF84-CF8400F67836'::uuid"#,
        r#"6ecd8c99-4036-403d-bf84-cf8400f67836"#,
    ),
    (
        r#"SELECT '{6ecd8c99-4036-403d-bf84-cf8400f67836}'::uuid = '6ecd8c994036403dbf84cf8400f67836'::uuid"#,
        r#"t"#,
    ),
    (
        r#"SELECT '6ecd8c99-4036-403d-bf84-cf8400f67836'::uuid < 'a0000000-0000-0000-0000-000000000000'::uuid"#,
        r#"t"#,
    ),
    (
        r#"SELECT interval '10 minutes', interval '1 day 2 hours', interval '00:05:00', interval '1 year 2 months'"#,
        r#"00:10:00|1 day 02:00:00|00:05:00|1 year 2 mons"#,
    ),
    (
        r#"SELECT timestamptz '2024-01-31 10:00:00+00' + interval '1 month', timestamptz '2024-03-01 00:00:00+00' - interval '1 day 1 hour'"#,
        r#"2024-02-29 10:00:00+00|2024-02-28 23:00:00+00"#,
    ),
    (
        r#"SELECT timestamptz '2024-03-01 00:00:00+00' - timestamptz '2024-01-01 12:00:00+00'"#,
        r#"59 days 12:00:00"#,
    ),
    (
        r#"SELECT date '2024-03-01' - date '2024-01-01', date '2024-02-28' + 2"#,
        r#"60|2024-03-01"#,
    ),
    (
        r#"SELECT interval '1 hour' * 3, interval '90 minutes' > interval '1 hour', interval '1 day' = interval '24 hours'"#,
        r#"03:00:00|t|t"#,
    ),
    (
        r#"SELECT make_interval(days => 2, hours => 3), make_interval(0, 1), make_interval(mins => 10)"#,
        r#"2 days 03:00:00|1 mon|00:10:00"#,
    ),
    (
        r#"SELECT date_trunc('hour', timestamptz '2024-03-07 10:42:13+00'), date_trunc('month', timestamptz '2024-03-07 10:42:13+00'), date_trunc('week', timestamptz '2024-03-07 10:42:13+00')"#,
        r#"2024-03-07 10:00:00+00|2024-03-01 00:00:00+00|2024-03-04 00:00:00+00"#,
    ),
    (
        r#"SELECT extract(epoch FROM timestamptz '2024-01-01 00:00:01.5+00'), extract(hour FROM timestamptz '2024-01-01 10:00:00+00'), extract(dow FROM timestamptz '2024-03-07 00:00:00+00')"#,
        r#"1704067201.500000|10|4"#,
    ),
    (
        r#"SELECT extract(epoch FROM interval '1 day 2 hours'), date_part('minute', timestamptz '2024-01-01 10:42:00+00')"#,
        r#"93600.000000|42"#,
    ),
    (
        r#"SELECT to_timestamp(1700000000), to_timestamp(0)"#,
        r#"2023-11-14 22:13:20+00|1970-01-01 00:00:00+00"#,
    ),
    (
        r#"SELECT 'ab'::char(4) = 'ab', 'ab'::char(4) || 'x', length('ab'::char(4)), 'abcdef'::varchar(3), 'ab'::char(4)"#,
        r#"t|abx|2|abc|ab  "#,
    ),
    (
        r#"SELECT 1.5 + 1, 10::numeric / 4, 1 / 3::numeric, 2.50 * 2, 7.5 % 2, round(2.345, 2), round(-2.5), ceil(2.1), floor(-2.1), abs(-2.5)"#,
        r#"2.5|2.5000000000000000|0.33333333333333333333|5.00|1.5|2.35|-3|3|-3|2.5"#,
    ),
    (
        r#"SELECT 12.345::numeric(5,2), 5::numeric(6,2), 0.1 + 0.2 = 0.3, 1.0 = 1"#,
        r#"12.35|5.00|t|t"#,
    ),
    (
        r#"SELECT power(2, 10), power(2.5, 2), mod(-7, 3), -7 % 3, 10 / 4"#,
        r#"1024|6.2500000000000000|-1|-1|2"#,
    ),
    (
        r#"SELECT 'x' || 1 || true, concat('a', NULL, 2, 'b'), length('héllo'), substr('hello', 2, 3), substr('hello', 3), upper('abc'), lower('ABC')"#,
        r#"x1true|a2b|5|ell|llo|ABC|abc"#,
    ),
    (
        r#"SELECT 'hello' LIKE 'h%o', 'hello' LIKE 'h_l%', 'Hello' ILIKE 'h%', 'hello' NOT LIKE '%x%', 'a_c' LIKE 'a\_c', 'abc' LIKE 'a\_c'"#,
        r#"t|t|t|t|t|f"#,
    ),
    (
        r#"SELECT CASE WHEN 1 > 2 THEN 'a' WHEN 2 > 1 THEN 'b' END, CASE 3 WHEN 1 THEN 'one' WHEN 3 THEN 'three' ELSE 'other' END"#,
        r#"b|three"#,
    ),
    (
        r#"SELECT COALESCE(NULL, 2, 3), NULLIF(1, 1), NULLIF(1, 2), GREATEST(1, 5, 3), LEAST(4, 2, 8)"#,
        r#"2||1|5|2"#,
    ),
    (
        r#"SELECT 2 = ANY(ARRAY[1, 2, 3]), 5 = ANY(ARRAY[1, 2]), 5 <> ALL(ARRAY[1, 2]), 1 = ANY(ARRAY[NULL, 2]), cardinality(ARRAY[1, 2, 3]), ARRAY['a', 'b c']"#,
        r#"t|f|t||3|{a,"b c"}"#,
    ),
    (
        r#"SELECT '{"a": 1, "b": {"c": "x"}}'::jsonb -> 'b', '{"a": 1, "b": {"c": "x"}}'::jsonb ->> 'a', '{"a": 1, "b": {"c": "x"}}'::jsonb -> 'b' ->> 'c', '[1, 2, 3]'::jsonb -> 1"#,
        r#"{"c": "x"}|1|x|2"#,
    ),
    (
        r#"SELECT '{"a": 1, "b": 2}'::jsonb @> '{"a": 1}', '{"a": 1}'::jsonb ? 'a', '{"a": 1}'::jsonb ? 'b', '["x", "y"]'::jsonb ? 'x'"#,
        r#"t|t|f|t"#,
    ),
    (
        r#"SELECT jsonb_build_object('id', 7, 'name', 'x', 'ok', true)::text, to_jsonb('hi'::text)::text, jsonb_set('{"a": {"b": 1}}', '{a,b}', '2')::text"#,
        r#"{"id": 7, "ok": true, "name": "x"}|"hi"|{"a": {"b": 2}}"#,
    ),
    (
        r#"SELECT '{"b": 1, "a": 2}'::jsonb = '{"a": 2, "b": 1}'::jsonb, ('{"aa": 1, "b": [1, 2]}'::jsonb)::text"#,
        r#"t|{"b": [1, 2], "aa": 1}"#,
    ),
    (
        r#"SELECT CAST('42' AS integer) + 1, '2024-01-01'::date, CAST(5 AS text) || 'x', '1 day'::interval, 3::numeric(4,1), '12'::numeric"#,
        r#"43|2024-01-01|5x|1 day|3.0|12"#,
    ),
    (
        r#"SELECT timestamp '2024-02-29 13:45:10.5' + interval '1 day', timestamp '2024-03-31 08:00' - interval '1 month'"#,
        r#"2024-03-01 13:45:10.5|2024-02-29 08:00:00"#,
    ),
    (
        r#"SELECT timestamp '2024-03-01 00:00' - timestamp '2024-02-28 12:30', date '2024-01-31' + interval '1 month', date '2024-01-31' - interval '1 hour'"#,
        r#"1 day 11:30:00|2024-02-29 00:00:00|2024-01-30 23:00:00"#,
    ),
    (
        r#"SELECT '2024-03-01 00:00:00+05'::timestamp, '2024-05-05'::date::timestamp, '2024-02-29 13:45:10'::timestamp::date"#,
        r#"2024-03-01 00:00:00|2024-05-05 00:00:00|2024-02-29"#,
    ),
    (
        r#"SELECT date_trunc('hour', timestamp '2024-02-29 13:45:10.5'), extract(year FROM timestamp '2024-02-29 13:45:10.5')"#,
        r#"2024-02-29 13:00:00|2024"#,
    ),
    (
        r#"SELECT timestamp '2024-03-01 10:00' = timestamptz '2024-03-01 10:00:00+00', timestamp '2024-03-01 10:00' < date '2024-03-02', timestamptz '2024-03-01 10:00:00.25+00'"#,
        r#"t|t|2024-03-01 10:00:00.25+00"#,
    ),
    (
        r#"SELECT timestamp '2024-03-01 10:00'::timestamptz, timestamptz '2024-03-01 10:00:00+00'::timestamp, to_jsonb(timestamp '2024-02-29 13:45:10.5')"#,
        r#"2024-03-01 10:00:00+00|2024-03-01 10:00:00|"2024-02-29T13:45:10.5""#,
    ),
];

#[test]
fn scalar_expressions_print_what_postgres_printed() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    let mut wrong = Vec::new();
    for (sql, want) in CASES {
        match exec_with(&mut s, sql, &[]) {
            Ok(rows) if psql(&rows) == *want => {}
            Ok(rows) => wrong.push(format!("{sql}\n  got  {}\n  want {want}", psql(&rows))),
            Err(e) => wrong.push(format!("{sql}\n  error {e}\n  want {want}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn errors_carry_postgres_sqlstates() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    for (sql, want) in [
        ("SELECT 'x'::uuid", "22P02"),
        ("SELECT interval 'abc'", "22007"),
        ("SELECT date '2024-02-30'", "22008"),
        ("SELECT timestamptz 'garbage'", "22007"),
        ("SELECT 'nope'::timestamp", "22007"),
        ("SELECT timestamp '2024-01-01' + 1", "42883"),
        ("SELECT nosuchfn(1)", "42883"),
        ("SELECT 1 / 0.0", "22012"),
        ("SELECT 12345::numeric(4,2)", "22003"),
        ("SELECT unnest(ARRAY[1])", "0A000"),
    ] {
        assert_eq!(code(&mut s, sql, &[]).0, want, "{sql}");
    }
}

#[test]
fn uuid_keys_default_from_the_seed_and_look_up_by_parameter() {
    let run = |seed: u64| -> Vec<String> {
        let db = SqlDb::new(Store::new(
            Schema::default(),
            StoreConfig::default(),
            Seed(seed),
        ));
        let mut s = db.session();
        ok(
            &mut s,
            "CREATE TABLE holds (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), seat int NOT NULL)",
            &[],
        );
        ok(&mut s, "CREATE INDEX holds_seat ON holds (seat)", &[]);
        let mut ids = Vec::new();
        for seat in 1..=3 {
            let rows = ok(
                &mut s,
                "INSERT INTO holds (seat) VALUES ($1) RETURNING id",
                &[seat.into()],
            );
            ids.push(rows.rows[0][0].to_pg_text().unwrap());
        }
        // Version 4, RFC 4122 variant.
        for id in &ids {
            assert_eq!(&id[14..15], "4", "{id}");
            assert!("89ab".contains(&id[19..20]), "{id}");
        }
        let rows = ok(
            &mut s,
            "SELECT seat FROM holds WHERE id = $1",
            &[ids[1].as_str().into()],
        );
        assert_eq!(rows.rows, vec![vec![Value::Int(2)]]);
        let rows = ok(
            &mut s,
            "SELECT seat FROM holds WHERE id = ANY($1) ORDER BY seat",
            &[Value::Array(vec![
                ids[0].as_str().into(),
                ids[2].as_str().into(),
            ])],
        );
        assert_eq!(rows.rows, vec![vec![Value::Int(1)], vec![Value::Int(3)]]);
        assert_eq!(
            code(
                &mut s,
                "SELECT seat FROM holds WHERE id = $1",
                &["not-a-uuid".into()]
            )
            .0,
            "22P02"
        );
        assert_eq!(
            code(
                &mut s,
                "INSERT INTO holds VALUES ($1, 9)",
                &[ids[0].as_str().into()]
            )
            .0,
            "23505"
        );
        ids
    };
    assert_eq!(run(7), run(7), "same seed, same uuids");
    assert_ne!(run(7), run(8));
}

#[test]
fn enums_order_by_declaration_and_reject_unknown_labels() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    ok(
        &mut s,
        "CREATE TYPE hold_status AS ENUM ('held', 'confirmed', 'expired')",
        &[],
    );
    assert_eq!(
        code(&mut s, "CREATE TYPE hold_status AS ENUM ('x')", &[]).0,
        "42710"
    );
    ok(
        &mut s,
        "CREATE TABLE holds (id int PRIMARY KEY, status hold_status NOT NULL DEFAULT 'held')",
        &[],
    );
    ok(&mut s, "CREATE INDEX holds_status ON holds (status)", &[]);
    ok(
        &mut s,
        "INSERT INTO holds VALUES (1, 'expired'), (2, 'held'), (3, 'confirmed')",
        &[],
    );
    ok(&mut s, "INSERT INTO holds (id) VALUES (4)", &[]);
    let rows = ok(
        &mut s,
        "SELECT id, status FROM holds ORDER BY status, id",
        &[],
    );
    assert_eq!(psql(&rows), "2|held\n4|held\n3|confirmed\n1|expired");
    let rows = ok(
        &mut s,
        "SELECT id FROM holds WHERE status > 'held' ORDER BY id",
        &[],
    );
    assert_eq!(psql(&rows), "1\n3");
    let rows = ok(
        &mut s,
        "SELECT id FROM holds WHERE status = $1::hold_status",
        &["confirmed".into()],
    );
    assert_eq!(psql(&rows), "3");
    let (c, message) = code(&mut s, "UPDATE holds SET status = 'gone' WHERE id = 1", &[]);
    assert_eq!(
        (c, message.as_str()),
        (
            "22P02",
            "invalid input value for enum hold_status: \"gone\""
        )
    );
    assert_eq!(code(&mut s, "DROP TYPE hold_status", &[]).0, "2BP01");
    assert_eq!(code(&mut s, "DROP TYPE nothing", &[]).0, "42704");
    ok(&mut s, "DROP TYPE IF EXISTS nothing", &[]);
    ok(&mut s, "CREATE TYPE unused AS ENUM ('a')", &[]);
    ok(&mut s, "DROP TYPE unused", &[]);
    assert_eq!(code(&mut s, "SELECT 'a'::unused", &[]).0, "42704");
}

/// A pacer whose clock the test sets.
#[derive(Default)]
struct TestClock(AtomicU64);

impl Pacer for TestClock {
    fn pause(&self, _point: &PausePoint) -> PauseFuture {
        Box::pin(std::future::ready(()))
    }
    fn now_ms(&self) -> u64 {
        self.0.load(AtomicOrdering::Relaxed)
    }
}

#[test]
fn now_runs_on_the_simulated_clock_fixed_per_transaction() {
    let db = SqlDb::new_empty();
    let clock = Arc::new(TestClock::default());
    db.store().set_pacer(clock.clone());
    let mut s = db.session();
    ok(&mut s, "CREATE TABLE holds (id int PRIMARY KEY, expires_at timestamptz NOT NULL DEFAULT now() + interval '10 minutes')", &[]);
    let rows = ok(&mut s, "SELECT now(), current_timestamp, current_date", &[]);
    assert_eq!(
        psql(&rows),
        "2025-01-01 00:00:00+00|2025-01-01 00:00:00+00|2025-01-01"
    );
    ok(&mut s, "INSERT INTO holds (id) VALUES (1)", &[]);
    clock.0.store(30 * 60_000, AtomicOrdering::Relaxed);
    ok(&mut s, "INSERT INTO holds (id) VALUES (2)", &[]);
    let rows = ok(&mut s, "SELECT id, expires_at FROM holds ORDER BY id", &[]);
    assert_eq!(
        psql(&rows),
        "1|2025-01-01 00:10:00+00\n2|2025-01-01 00:40:00+00"
    );
    let rows = ok(
        &mut s,
        "SELECT id FROM holds WHERE expires_at < now() - interval '15 minutes'",
        &[],
    );
    assert_eq!(psql(&rows), "1");
    // In a block, now() stays; clock_timestamp() moves.
    ok(&mut s, "BEGIN", &[]);
    let first = psql(&ok(&mut s, "SELECT now()", &[]));
    clock.0.store(31 * 60_000, AtomicOrdering::Relaxed);
    let rows = ok(
        &mut s,
        "SELECT now(), statement_timestamp(), clock_timestamp()",
        &[],
    );
    // statement_timestamp() is the statement's start, as in PostgreSQL.
    assert_eq!(
        psql(&rows),
        format!("{first}|2025-01-01 00:31:00+00|2025-01-01 00:31:00+00")
    );
    ok(&mut s, "COMMIT", &[]);
    let rows = ok(&mut s, "SELECT now()", &[]);
    assert_eq!(psql(&rows), "2025-01-01 00:31:00+00");
}

#[test]
fn char_varchar_and_numeric_columns_follow_their_typmods() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    ok(
        &mut s,
        "CREATE TABLE t (k char(4) PRIMARY KEY, v varchar(3), n numeric(6,2), d decimal)",
        &[],
    );
    ok(
        &mut s,
        "INSERT INTO t VALUES ('ab', 'xyz', 1.005, 0.1)",
        &[],
    );
    ok(&mut s, "INSERT INTO t VALUES ('cd  ', 'ab ', '12', 2)", &[]);
    assert_eq!(
        code(&mut s, "INSERT INTO t VALUES ('ef', 'abcd', 1, 1)", &[]).0,
        "22001"
    );
    assert_eq!(
        code(&mut s, "INSERT INTO t VALUES ('toolong', 'a', 1, 1)", &[]).0,
        "22001"
    );
    assert_eq!(
        code(&mut s, "INSERT INTO t VALUES ('gh', 'a', 12345, 1)", &[]).0,
        "22003"
    );
    assert_eq!(
        code(&mut s, "INSERT INTO t VALUES ('cd', 'a', 1, 1)", &[]).0,
        "23505"
    );
    let rows = ok(
        &mut s,
        "SELECT k, v, n, d, n * 2, d / 3 FROM t ORDER BY k",
        &[],
    );
    assert_eq!(psql(&rows), "ab  |xyz|1.01|0.1|2.02|0.03333333333333333333\ncd  |ab |12.00|2|24.00|0.66666666666666666667");
    let rows = ok(&mut s, "SELECT k FROM t WHERE k = 'ab'", &[]);
    assert_eq!(psql(&rows), "ab  ");
    let rows = ok(&mut s, "SELECT sum(n), max(n) FROM t WHERE n > 1.5", &[]);
    assert_eq!(psql(&rows), "12.00|12.00");
}

#[test]
fn arrays_and_jsonb_columns() {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    ok(
        &mut s,
        "CREATE TABLE events (id int PRIMARY KEY, payload jsonb NOT NULL)",
        &[],
    );
    ok(&mut s, "INSERT INTO events VALUES (1, jsonb_build_object('kind', 'hold', 'seats', 2)), (2, '{\"kind\": \"cancel\"}'), (3, to_jsonb('x'::text))", &[]);
    let rows = ok(
        &mut s,
        "SELECT id, payload ->> 'kind' FROM events WHERE payload @> '{\"kind\": \"hold\"}'",
        &[],
    );
    assert_eq!(psql(&rows), "1|hold");
    let rows = ok(
        &mut s,
        "SELECT id FROM events WHERE payload ? 'seats' OR id <> ALL($1) ORDER BY id",
        &[Value::Array(vec![1.into(), 3.into()])],
    );
    assert_eq!(psql(&rows), "1\n2");
    ok(
        &mut s,
        "UPDATE events SET payload = jsonb_set(payload, '{seats}', '3') WHERE id = 1",
        &[],
    );
    let rows = ok(&mut s, "SELECT payload FROM events WHERE id = 1", &[]);
    assert_eq!(psql(&rows), r#"{"kind": "hold", "seats": 3}"#);
    let rows = ok(
        &mut s,
        "SELECT array_agg(id), cardinality(array_agg(id)) FROM events",
        &[],
    );
    assert_eq!(psql(&rows), "{1,2,3}|3");
    let rows = ok(
        &mut s,
        "SELECT id FROM events WHERE id = ANY($1) ORDER BY id",
        &["{2,3}".into()],
    );
    assert_eq!(psql(&rows), "2\n3");
}
