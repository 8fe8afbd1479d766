//! `PREPARE name [(type, ...)] AS statement`, `EXECUTE name [(arg, ...)]`
//! and `DEALLOCATE [PREPARE] name | ALL`: a session's named prepared
//! statements, as PostgreSQL 15 keeps them.
//!
//! A prepared statement belongs to its session and is not transactional:
//! it outlives the block it was made in, rolled back or not, and goes with
//! the session or `DEALLOCATE` (`DISCARD ALL` deallocates every one).
//! `PREPARE` plans the statement at once, so a missing table or column
//! fails there; `EXECUTE` runs it with its arguments bound to `$1..$n`
//! (each cast to the declared type, if one is given) through the
//! statement cache, so it is planned anew after DDL, as PostgreSQL
//! re-plans a cached plan whose tables changed. Only `SELECT`, `VALUES`,
//! `INSERT`, `UPDATE`, `DELETE` and `WITH` statements can be prepared, as
//! in PostgreSQL (others: 42601). `PREPARE TRANSACTION` (two-phase
//! commit) is not modelled: 0A000.

use super::expr::{type_of, unsupported};
use super::value::{err, SqlType};
use crate::store::{DbError, SqlState};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};
use std::collections::BTreeMap;

/// A statement `PREPARE` made.
#[derive(Clone, Debug)]
pub(crate) struct PreparedStatement {
    /// The statement's text.
    pub(crate) sql: String,
    /// The declared parameter types (empty: as the statement uses them).
    pub(crate) types: Vec<SqlType>,
    /// How many arguments `EXECUTE` must give.
    pub(crate) params: usize,
}

/// A session's prepared statements, by name.
pub(crate) type Statements = BTreeMap<String, PreparedStatement>;

/// One of the three statements, parsed.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Command {
    /// `PREPARE name [(types)] AS sql`.
    Prepare {
        name: String,
        types: Vec<SqlType>,
        sql: String,
    },
    /// `EXECUTE name [(args)]`: the arguments as expression texts.
    Execute { name: String, args: Vec<String> },
    /// `DEALLOCATE [PREPARE] name`, or `ALL` (None).
    Deallocate(Option<String>),
}

fn word(t: &Token, w: &str) -> bool {
    matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w))
}

fn syntax_at(t: Option<&Token>) -> DbError {
    match t {
        Some(t) => err(
            SqlState::SyntaxError,
            format!("syntax error at or near \"{t}\""),
        ),
        None => err(SqlState::SyntaxError, "syntax error at end of input"),
    }
}

/// A name as PostgreSQL folds it (a quoted one kept as written).
fn name_of(t: Option<&Token>) -> Result<String, DbError> {
    match t {
        Some(Token::Word(w)) if w.quote_style.is_some() => Ok(w.value.clone()),
        Some(Token::Word(w)) => Ok(w.value.to_ascii_lowercase()),
        other => Err(syntax_at(other)),
    }
}

/// Whether `sql` is a `PREPARE`, `EXECUTE` or `DEALLOCATE` statement.
pub(crate) fn is_command(sql: &str) -> bool {
    sql.split_whitespace().next().is_some_and(|w| {
        ["prepare", "execute", "deallocate"]
            .iter()
            .any(|k| w.eq_ignore_ascii_case(k))
    })
}

/// Splits `tokens` (no whitespace) at top-level commas between `(` at
/// `open` and its `)`: the parts' texts and the position after `)`.
fn list(tokens: &[Token], open: usize) -> Result<(Vec<String>, usize), DbError> {
    let mut parts = Vec::new();
    let mut part = String::new();
    let mut depth = 0usize;
    let mut at = open + 1;
    loop {
        let Some(t) = tokens.get(at) else {
            return Err(syntax_at(None));
        };
        match t {
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen | Token::RBracket if depth > 0 => depth -= 1,
            Token::RParen => {
                if !part.trim().is_empty() || !parts.is_empty() {
                    parts.push(std::mem::take(&mut part));
                }
                return Ok((parts, at + 1));
            }
            Token::Comma if depth == 0 => {
                parts.push(std::mem::take(&mut part));
                at += 1;
                continue;
            }
            _ => {}
        }
        part.push_str(&t.to_string());
        part.push(' ');
        at += 1;
    }
}

/// Parses a statement [`is_command`] took.
pub(crate) fn parse(sql: &str) -> Result<Command, DbError> {
    let dialect = PostgreSqlDialect {};
    let all = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?;
    // The statement's text after its AS keeps its own spacing.
    let solid: Vec<usize> = (0..all.len())
        .filter(|&i| !matches!(all[i], Token::Whitespace(_) | Token::EOF))
        .collect();
    let mut tokens: Vec<Token> = solid.iter().map(|&i| all[i].clone()).collect();
    while matches!(tokens.last(), Some(Token::SemiColon)) {
        tokens.pop();
    }
    let first = &tokens[0];
    if word(first, "prepare") {
        if tokens.get(1).is_some_and(|t| word(t, "transaction")) {
            return Err(unsupported(
                "PREPARE TRANSACTION (two-phase commit is not modelled)",
            ));
        }
        let name = name_of(tokens.get(1))?;
        let mut at = 2;
        let mut types = Vec::new();
        if matches!(tokens.get(at), Some(Token::LParen)) {
            let (parts, next) = list(&tokens, at)?;
            for part in parts {
                let dt = Parser::new(&dialect)
                    .try_with_sql(&part)
                    .and_then(|mut p| p.parse_data_type())
                    .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?;
                types.push(type_of(&dt)?);
            }
            at = next;
        }
        if !tokens.get(at).is_some_and(|t| word(t, "as")) {
            return Err(syntax_at(tokens.get(at)));
        }
        let Some(&start) = solid.get(at + 1) else {
            return Err(syntax_at(None));
        };
        let text: String = all[start..].iter().map(|t| t.to_string()).collect();
        let text = text.trim().trim_end_matches(';').trim_end().to_string();
        return Ok(Command::Prepare {
            name,
            types,
            sql: text,
        });
    }
    if word(first, "execute") {
        let name = name_of(tokens.get(1))?;
        let mut args = Vec::new();
        let mut at = 2;
        if matches!(tokens.get(at), Some(Token::LParen)) {
            let (parts, next) = list(&tokens, at)?;
            args = parts;
            at = next;
        }
        if at < tokens.len() {
            return Err(syntax_at(tokens.get(at)));
        }
        return Ok(Command::Execute { name, args });
    }
    // DEALLOCATE [PREPARE] name | ALL
    let mut at = 1;
    if tokens.get(at).is_some_and(|t| word(t, "prepare")) {
        at += 1;
    }
    let target = if tokens.get(at).is_some_and(|t| word(t, "all")) {
        None
    } else {
        Some(name_of(tokens.get(at))?)
    };
    if at + 1 < tokens.len() {
        return Err(syntax_at(tokens.get(at + 1)));
    }
    Ok(Command::Deallocate(target))
}

/// 42P05 for a name in use.
pub(crate) fn exists(name: &str) -> DbError {
    err(
        SqlState::Other("42P05"),
        format!("prepared statement \"{name}\" already exists"),
    )
}

/// 26000 for an unknown name.
pub(crate) fn missing(name: &str) -> DbError {
    err(
        SqlState::Other("26000"),
        format!("prepared statement \"{name}\" does not exist"),
    )
}

/// 42601 for `EXECUTE` with another number of arguments than the
/// statement has parameters (PostgreSQL's detail, "Expected n parameters
/// but got m.", has no place in [`DbError`]).
pub(crate) fn wrong_count(name: &str) -> DbError {
    err(
        SqlState::SyntaxError,
        format!("wrong number of parameters for prepared statement \"{name}\""),
    )
}
