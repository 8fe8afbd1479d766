//! `REINDEX [(VERBOSE)] {INDEX | TABLE | SCHEMA} name`: accepted, with
//! nothing to rebuild (the store's index entries are exact and never
//! bloat), and with the locks PostgreSQL 15 takes, which are what another
//! session can observe: SHARE on the table (writers wait, and REINDEX
//! waits for them) and ACCESS EXCLUSIVE on each of its indexes, on which
//! every query of the table holds ACCESS SHARE (its planner opens them
//! all) and every write ROW EXCLUSIVE. The store has no index locks, so
//! the table's ACCESS EXCLUSIVE stands for both when the table has an
//! index (a table without a primary key or any index: SHARE). That is
//! stricter than PostgreSQL only for a transaction holding the table
//! through `LOCK TABLE ... IN ACCESS SHARE | ROW SHARE MODE` alone, which
//! takes no index lock.
//!
//! `REINDEX INDEX` and `REINDEX TABLE` may run in a transaction block and
//! hold their lock to its end; outside one, they take it and let it go.
//! `REINDEX SCHEMA` refuses a block (25001) and takes each table's lock in
//! a transaction of its own, in name order (PostgreSQL: catalog order),
//! passing over a table dropped meanwhile. `CONCURRENTLY` is 0A000: its
//! waits for the transactions that hold older snapshots or locks are not
//! modelled; so are `REINDEX DATABASE` and `REINDEX SYSTEM`.

use super::expr::unsupported;
use super::roles::{name_of, syntax_at, word};
use super::value::err;
use crate::store::{DbError, SqlState};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// What a REINDEX names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// An index (its name as the catalog keys it).
    Index(String),
    /// A table.
    Table(String),
    /// Every table of a schema.
    Schema(String),
}

/// Whether `sql` starts with `REINDEX`.
pub(crate) fn is_reindex(sql: &str) -> bool {
    sql.split_whitespace()
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("reindex"))
}

/// Parses a statement [`is_reindex`] took.
pub(crate) fn parse(sql: &str) -> Result<Target, DbError> {
    let dialect = PostgreSqlDialect {};
    let mut tokens: Vec<Token> = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::EOF))
        .collect();
    while matches!(tokens.last(), Some(Token::SemiColon)) {
        tokens.pop();
    }
    let at = |i: usize| tokens.get(i);
    let mut i = 1;
    // ( VERBOSE | CONCURRENTLY | TABLESPACE name [, ...] )
    if matches!(at(i), Some(Token::LParen)) {
        while i < tokens.len() && !matches!(at(i), Some(Token::RParen)) {
            if word(at(i), "concurrently") || word(at(i), "tablespace") {
                return Err(unsupported(
                    "REINDEX (CONCURRENTLY | TABLESPACE) (its waits for older transactions are not modelled)",
                ));
            }
            i += 1;
        }
        i += 1;
    }
    let kind_at = i;
    let kind = match at(i) {
        Some(Token::Word(w)) if w.quote_style.is_none() => w.value.to_ascii_lowercase(),
        other => return Err(syntax_at(other)),
    };
    i += 1;
    if word(at(i), "concurrently") {
        return Err(unsupported(
            "REINDEX CONCURRENTLY (its waits for older transactions and lockers are not modelled)",
        ));
    }
    let mut name = name_of(at(i))?;
    i += 1;
    if matches!(at(i), Some(Token::Period)) && kind != "schema" {
        let last = name_of(at(i + 1))?;
        name = if name == "public" {
            last
        } else {
            format!("{name}.{last}")
        };
        i += 2;
    }
    if i < tokens.len() {
        return Err(syntax_at(at(i)));
    }
    match kind.as_str() {
        "index" => Ok(Target::Index(name)),
        "table" => Ok(Target::Table(name)),
        "schema" => Ok(Target::Schema(name)),
        "database" | "system" => Err(unsupported(format!(
            "REINDEX {}",
            kind.to_ascii_uppercase()
        ))),
        _ => Err(syntax_at(at(kind_at))),
    }
}
