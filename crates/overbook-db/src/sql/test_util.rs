//! What the SQL unit tests share: running a statement on one session and
//! expecting it to succeed or fail, and rows as text to compare with what
//! psql printed.

use super::{DbError, Rows, Session, SqlDb, SqlSession, Value};
use crate::store::block_on;

pub(super) fn exec(s: &mut SqlSession, sql: &str) -> Result<Rows, DbError> {
    exec_with(s, sql, &[])
}

pub(super) fn exec_with(s: &mut SqlSession, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
    block_on(s.execute(sql, params))
}

/// Runs `sql`, panicking with the statement and its error if it fails.
pub(super) fn ok(s: &mut SqlSession, sql: &str) -> Rows {
    exec(s, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Runs `sql`, panicking with the rows if it succeeds.
pub(super) fn error(s: &mut SqlSession, sql: &str) -> DbError {
    expect_error(sql, exec(s, sql))
}

pub(super) fn expect_error(sql: &str, result: Result<Rows, DbError>) -> DbError {
    match result {
        Ok(rows) => panic!("{sql}: expected an error, got {rows:?}"),
        Err(e) => e,
    }
}

/// The SQLSTATE `sql` fails with.
pub(super) fn code(s: &mut SqlSession, sql: &str) -> &'static str {
    error(s, sql).code.code()
}

/// The SQLSTATE and message `sql` fails with.
pub(super) fn sqlstate(s: &mut SqlSession, sql: &str) -> (&'static str, String) {
    let e = error(s, sql);
    (e.code.code(), e.message)
}

/// A value as the tests print it: `NULL` for a null.
pub(super) fn cell(v: &Value) -> String {
    if v.is_null() {
        "NULL".to_string()
    } else {
        v.to_string()
    }
}

/// The rows as text, one string per row, values joined by ','.
pub(super) fn rows(r: &Rows) -> Vec<String> {
    r.rows
        .iter()
        .map(|row| row.iter().map(cell).collect::<Vec<_>>().join(","))
        .collect()
}

/// The rows in psql's unaligned text (`|` between values, an empty string
/// for a null), one string per row.
pub(super) fn pg_lines(r: &Rows) -> Vec<String> {
    r.rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| v.to_pg_text().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

/// [`pg_lines`] joined by newlines, as psql -At prints them.
pub(super) fn text(r: &Rows) -> String {
    pg_lines(r).join("\n")
}

/// A fresh database with `ddl` run on it.
pub(super) fn db_with(ddl: &[&str]) -> SqlDb {
    let db = SqlDb::new_empty();
    let mut s = db.session();
    for sql in ddl {
        ok(&mut s, sql);
    }
    db
}

/// A session on a fresh database with `ddl` run on it.
pub(super) fn session_with(ddl: &[&str]) -> SqlSession {
    db_with(ddl).session()
}
