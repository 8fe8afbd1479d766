//! `INSERT ... ON CONFLICT (columns) WHERE predicate ...`: the index
//! predicate that lets the conflict target infer a partial unique index
//! (PostgreSQL infers a partial index when the predicate implies the
//! index's own; here, when each of the index predicate's conjuncts is one
//! of the given predicate's). sqlparser does not parse the clause, so it
//! is cut out of the text before parsing and planned on its own.

use super::value::err;
use crate::store::{DbError, SqlState};
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

/// The statement without the `WHERE predicate` of an `ON CONFLICT
/// (columns) WHERE predicate DO ...` clause, and that predicate.
pub(crate) fn cut_conflict_where(sql: &str) -> Result<(String, Option<ast::Expr>), DbError> {
    let upper = sql.to_ascii_uppercase();
    if !upper.contains("CONFLICT") || !upper.contains("WHERE") {
        return Ok((sql.to_string(), None));
    }
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?;
    let solid: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i], Token::Whitespace(_)))
        .collect();
    let word = |s: usize, w: &str| {
        solid.get(s).is_some_and(|&i| {
            matches!(&tokens[i], Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w))
        })
    };
    let is = |s: usize, t: &Token| solid.get(s).is_some_and(|&i| &tokens[i] == t);
    for s in 0..solid.len() {
        if !(word(s, "ON") && word(s + 1, "CONFLICT") && is(s + 2, &Token::LParen)) {
            continue;
        }
        // The end of the column list.
        let mut depth = 0;
        let mut k = s + 2;
        while k < solid.len() {
            match tokens[solid[k]] {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            k += 1;
        }
        if !word(k + 1, "WHERE") {
            return Ok((sql.to_string(), None));
        }
        let start = k + 2;
        let mut end = start;
        let mut depth = 0;
        while end < solid.len() {
            match tokens[solid[end]] {
                Token::LParen => depth += 1,
                Token::RParen => depth -= 1,
                _ => {}
            }
            if depth == 0 && word(end, "DO") {
                break;
            }
            end += 1;
        }
        if end >= solid.len() || start >= end {
            return Err(err(
                SqlState::SyntaxError,
                "syntax error at or near \"WHERE\" in ON CONFLICT",
            ));
        }
        let text = |from: usize, to: usize| -> String {
            tokens[from..to].iter().map(|t| t.to_string()).collect()
        };
        let predicate_text = text(solid[start], solid[end]);
        let predicate = Parser::new(&dialect)
            .try_with_sql(&predicate_text)
            .and_then(|mut p| p.parse_expr())
            .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?;
        let rest = text(0, solid[k + 1]) + &text(solid[end], tokens.len());
        return Ok((rest, Some(predicate)));
    }
    Ok((sql.to_string(), None))
}
