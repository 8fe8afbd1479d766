//! Session settings: `SET [LOCAL] lock_timeout | statement_timeout`,
//! `SET ... TO DEFAULT`, `RESET`, and the `DEFERRABLE` transaction mode,
//! parsed here because sqlparser parses neither `RESET` nor `DEFERRABLE`
//! (and takes `SET`'s value as an expression, where PostgreSQL takes text).

use super::expr::unsupported;
use super::value::err;
use crate::store::{DbError, SqlState, Timeouts};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};

/// A setting the simulated engine models.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Parameter {
    LockTimeout,
    StatementTimeout,
}

impl Parameter {
    fn named(name: &str) -> Option<Parameter> {
        match name.to_ascii_lowercase().as_str() {
            "lock_timeout" => Some(Parameter::LockTimeout),
            "statement_timeout" => Some(Parameter::StatementTimeout),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Parameter::LockTimeout => "lock_timeout",
            Parameter::StatementTimeout => "statement_timeout",
        }
    }

    /// This parameter's field of `timeouts`.
    pub(crate) fn of(self, timeouts: &mut Timeouts) -> &mut u64 {
        match self {
            Parameter::LockTimeout => &mut timeouts.lock_timeout_ms,
            Parameter::StatementTimeout => &mut timeouts.statement_timeout_ms,
        }
    }
}

/// `SET`, `SET LOCAL` or `RESET` of one parameter (`None`: `RESET ALL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Set {
    pub(crate) parameter: Option<Parameter>,
    /// The new value in ms; `None` for the default (no timeout).
    pub(crate) value_ms: Option<u64>,
    /// `SET LOCAL`: until the end of the transaction.
    pub(crate) local: bool,
}

fn syntax_error(sql: &str) -> DbError {
    err(
        SqlState::SyntaxError,
        format!("syntax error in \"{}\"", sql.trim()),
    )
}

/// The statement's tokens, whitespace and a final semicolon dropped.
fn solid_tokens(sql: &str) -> Result<Vec<Token>, DbError> {
    let dialect = PostgreSqlDialect {};
    let mut tokens: Vec<Token> = Tokenizer::new(&dialect, sql)
        .tokenize()
        .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    if tokens.last() == Some(&Token::SemiColon) {
        tokens.pop();
    }
    Ok(tokens)
}

fn is_word(token: Option<&Token>, word: &str) -> bool {
    matches!(token, Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// `SET name ...` or `RESET name` as a [`Set`]; `None` for every other
/// statement (`SET TRANSACTION` included).
pub(crate) fn parse_set(sql: &str) -> Result<Option<Set>, DbError> {
    let head = sql.trim_start();
    let starts = |word: &str| {
        head.get(..word.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(word))
    };
    if !starts("SET") && !starts("RESET") {
        return Ok(None);
    }
    let tokens = solid_tokens(sql)?;
    let at = |i: usize| tokens.get(i);
    if is_word(at(0), "RESET") {
        let parameter = match (at(1), at(2)) {
            (Some(_), None) if is_word(at(1), "ALL") => None,
            (Some(Token::Word(name)), None) => Some(parameter(&name.value)?),
            _ => return Err(syntax_error(sql)),
        };
        return Ok(Some(Set {
            parameter,
            value_ms: None,
            local: false,
        }));
    }
    if !is_word(at(0), "SET") {
        return Ok(None);
    }
    let (local, name_at) = if is_word(at(1), "LOCAL") {
        (true, 2)
    } else if is_word(at(1), "SESSION") && !is_word(at(2), "CHARACTERISTICS") {
        (false, 2)
    } else {
        (false, 1)
    };
    if is_word(at(name_at), "TRANSACTION") || is_word(at(name_at), "CHARACTERISTICS") {
        return Ok(None);
    }
    let Some(Token::Word(name)) = at(name_at) else {
        return Err(syntax_error(sql));
    };
    let parameter = parameter(&name.value)?;
    if !(matches!(at(name_at + 1), Some(Token::Eq)) || is_word(at(name_at + 1), "TO")) {
        return Err(syntax_error(sql));
    }
    let values: Vec<&[Token]> = tokens[name_at + 2..]
        .split(|t| *t == Token::Comma)
        .collect();
    if values.len() > 1 {
        return Err(err(
            SqlState::Other("22023"),
            format!("SET {} takes only one argument", parameter.name()),
        ));
    }
    let text = match values[0] {
        [Token::Word(w)] if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("DEFAULT") => {
            return Ok(Some(Set {
                parameter: Some(parameter),
                value_ms: None,
                local,
            }))
        }
        [Token::SingleQuotedString(s)] => s.clone(),
        [Token::Number(n, _)] => n.clone(),
        [Token::Minus, Token::Number(n, _)] => format!("-{n}"),
        [Token::Word(w)] => w.value.clone(),
        _ => return Err(syntax_error(sql)),
    };
    Ok(Some(Set {
        parameter: Some(parameter),
        value_ms: Some(duration_ms(parameter, &text)?),
        local,
    }))
}

fn parameter(name: &str) -> Result<Parameter, DbError> {
    Parameter::named(name).ok_or_else(|| {
        unsupported(format!(
            "SET {name} (only lock_timeout and statement_timeout are modelled)"
        ))
    })
}

/// A time setting's value in ms, as PostgreSQL's `parse_int` reads it: a
/// number (ms without a unit), optionally followed by a unit (`us`, `ms`,
/// `s`, `min`, `h`, `d`), rounded to whole ms; 0 means no timeout.
fn duration_ms(parameter: Parameter, text: &str) -> Result<u64, DbError> {
    let invalid = |hint: &str| {
        err(
            SqlState::Other("22023"),
            format!(
                "invalid value for parameter \"{}\": \"{text}\"{hint}",
                parameter.name()
            ),
        )
    };
    let trimmed = text.trim();
    // The longest prefix that reads as a number, as strtod would take it.
    let number_end = (1..=trimmed.len())
        .rev()
        .filter(|&end| trimmed.is_char_boundary(end))
        .find(|&end| {
            let prefix = &trimmed[..end];
            prefix.parse::<f64>().is_ok()
                && prefix
                    .chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        })
        .ok_or_else(|| invalid(""))?;
    let number: f64 = trimmed[..number_end].parse().map_err(|_| invalid(""))?;
    let per_unit_ms = match trimmed[number_end..].trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1_000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return Err(invalid("")),
    };
    let ms = (number * per_unit_ms).round_ties_even();
    if !(f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&ms) {
        return Err(invalid(" (the value exceeds the integer range)"));
    }
    if ms < 0.0 {
        return Err(err(
            SqlState::Other("22023"),
            format!(
                "{ms} ms is outside the valid range for parameter \"{}\" (0 .. 2147483647)",
                parameter.name()
            ),
        ));
    }
    Ok(ms as u64)
}

/// A `BEGIN`, `START TRANSACTION` or `SET TRANSACTION` statement without
/// its `[NOT] DEFERRABLE` mode, and whether the mode was `DEFERRABLE`
/// (`None` when the statement is none of these or names no such mode).
pub(crate) fn strip_deferrable(sql: &str) -> Result<Option<(String, bool)>, DbError> {
    let upper = sql.to_ascii_uppercase();
    if !upper.contains("DEFERRABLE") {
        return Ok(None);
    }
    let tokens = solid_tokens(sql)?;
    let transaction_statement = is_word(tokens.first(), "BEGIN")
        || is_word(tokens.first(), "START")
        || (is_word(tokens.first(), "SET") && is_word(tokens.get(1), "TRANSACTION"));
    if !transaction_statement {
        return Ok(None);
    }
    let mut kept: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut deferrable = None;
    for token in tokens {
        if is_word(Some(&token), "DEFERRABLE") {
            let negated = is_word(kept.last(), "NOT");
            if negated {
                kept.pop();
            }
            deferrable = Some(!negated);
            // Modes may be separated by commas: drop the one before.
            if kept.last() == Some(&Token::Comma) {
                kept.pop();
            }
            continue;
        }
        // A comma right after a removed leading mode.
        if token == Token::Comma && deferrable.is_some() && is_word(kept.last(), "TRANSACTION") {
            continue;
        }
        kept.push(token);
    }
    let Some(deferrable) = deferrable else {
        return Ok(None);
    };
    let text: Vec<String> = kept.iter().map(Token::to_string).collect();
    Ok(Some((text.join(" "), deferrable)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> Result<u64, String> {
        duration_ms(Parameter::LockTimeout, text).map_err(|e| e.code.code().to_string())
    }

    #[test]
    fn durations_read_as_postgres_reads_them() {
        // Checked with SHOW on PostgreSQL 15.
        assert_eq!(ms("100"), Ok(100));
        assert_eq!(ms("1.5s"), Ok(1500));
        assert_eq!(ms("1 s"), Ok(1000));
        assert_eq!(ms("1min"), Ok(60_000));
        assert_eq!(ms("100us"), Ok(0));
        assert_eq!(ms("0.4ms"), Ok(0));
        assert_eq!(ms("1e3"), Ok(1000));
        assert_eq!(ms("2h"), Ok(7_200_000));
        assert_eq!(ms("abc"), Err("22023".into()));
        assert_eq!(ms("true"), Err("22023".into()));
        assert_eq!(ms("1 sec"), Err("22023".into()));
        assert_eq!(ms("-1"), Err("22023".into()));
        assert_eq!(ms("3000000000"), Err("22023".into()));
    }

    #[test]
    fn set_statements_parse() {
        let set = |sql: &str| parse_set(sql).map_err(|e| e.code.code().to_string());
        assert_eq!(
            set("SET LOCAL lock_timeout = '1ms'"),
            Ok(Some(Set {
                parameter: Some(Parameter::LockTimeout),
                value_ms: Some(1),
                local: true
            }))
        );
        assert_eq!(
            set("set statement_timeout to 250;"),
            Ok(Some(Set {
                parameter: Some(Parameter::StatementTimeout),
                value_ms: Some(250),
                local: false
            }))
        );
        assert_eq!(
            set("SET SESSION lock_timeout TO DEFAULT"),
            Ok(Some(Set {
                parameter: Some(Parameter::LockTimeout),
                value_ms: None,
                local: false
            }))
        );
        assert_eq!(
            set("RESET ALL"),
            Ok(Some(Set {
                parameter: None,
                value_ms: None,
                local: false
            }))
        );
        assert_eq!(set("SET lock_timeout = 1, 2"), Err("22023".into()));
        assert_eq!(set("SET search_path = public"), Err("0A000".into()));
        assert_eq!(set("RESET work_mem"), Err("0A000".into()));
        assert_eq!(set("SET lock_timeout"), Err("42601".into()));
        assert_eq!(set("SET TRANSACTION READ ONLY"), Ok(None));
        assert_eq!(set("SELECT 1"), Ok(None));
    }

    #[test]
    fn deferrable_is_cut_out_of_transaction_modes() {
        let strip = |sql: &str| strip_deferrable(sql).unwrap();
        assert_eq!(
            strip("BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE"),
            Some(("BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY".into(), true))
        );
        assert_eq!(
            strip("START TRANSACTION DEFERRABLE, READ ONLY"),
            Some(("START TRANSACTION READ ONLY".into(), true))
        );
        assert_eq!(
            strip("SET TRANSACTION READ ONLY, NOT DEFERRABLE"),
            Some(("SET TRANSACTION READ ONLY".into(), false))
        );
        assert_eq!(strip("SELECT 'DEFERRABLE'"), None);
    }
}
