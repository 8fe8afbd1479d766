//! User functions: `CREATE [OR REPLACE] FUNCTION ... LANGUAGE sql |
//! plpgsql`, `DROP FUNCTION`, and the interpreter of their bodies.
//!
//! A body is parsed once, at `CREATE FUNCTION` (a PL/pgSQL syntax error is
//! 42601 then, as PostgreSQL's validator reports it), into statements
//! that keep their SQL as token ranges of the source. Each SQL part (an
//! expression, a query, an INSERT ...) runs as PostgreSQL's PL/pgSQL runs
//! it through SPI: the function's variables become `$n` parameters of a
//! statement planned by the ordinary planner (and cached by its text), so
//! an expression is `SELECT expr`.
//!
//! Where the statements run (see [`Backend`]): a trigger's function and a
//! function called as the whole select list of a `SELECT` without FROM
//! run with the transaction (each statement nested in the calling one:
//! its own table locks and, at Read Committed, its own snapshot, as a
//! volatile function's statements take; see `Exec::run_nested`). A
//! function called inside any other expression runs with the calling
//! statement's reads only (snapshot and SSI locks): it may query, and a
//! write or a lock wait in it is 0A000.
//!
//! The PL/pgSQL subset: `DECLARE` (scalar types, `record`, defaults),
//! nested `BEGIN ... END` blocks, `:=` / `=` assignment (to a variable
//! or `NEW.col`), `IF / ELSIF / ELSE`, `WHILE` and `FOR x IN a..b` /
//! `FOR rec IN query` loops with `EXIT` / `CONTINUE [WHEN]`, `RETURN
//! [expr]`, `PERFORM`, `SELECT ... INTO [STRICT]`, INSERT / UPDATE /
//! DELETE (with `RETURNING ... INTO`), `EXECUTE string [INTO ...]
//! [USING ...]`, `RAISE` (`EXCEPTION` fails with `%` formatting,
//! `SQLSTATE` / `USING ERRCODE`, `MESSAGE`, `DETAIL`, `HINT`; other
//! levels send nothing, their arguments unevaluated), `NULL`, `FOUND`,
//! `GET DIAGNOSTICS v = ROW_COUNT`, `EXCEPTION WHEN cond [OR ...] THEN`
//! (condition names, `SQLSTATE 'xxxxx'`, OTHERS; `SQLSTATE` and
//! `SQLERRM` in the handler): the block runs in a subtransaction (a
//! savepoint) that a caught error rolls back, its row locks and writes
//! with it, as PostgreSQL's does.

use super::exec::{query_rows, Bound, Exec};
use super::funcs::Ctx;
use super::plan::{Prepared, Statement};
use super::value::{coerce, err, SqlType, Value};
use super::DbShared;
use crate::store::{DbError, SqlState};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

fn unsupported(what: impl std::fmt::Display) -> DbError {
    super::expr::unsupported(what)
}

fn syntax(near: &str) -> DbError {
    err(
        SqlState::SyntaxError,
        format!("syntax error at or near \"{near}\""),
    )
}

/// A token of a body with its byte range in the source.
#[derive(Clone, Debug)]
pub(crate) struct Tok {
    pub(crate) token: Token,
    start: usize,
    end: usize,
}

/// The tokens of `src` without whitespace and comments, with byte ranges.
pub(crate) fn tokenize(src: &str) -> Result<Vec<Tok>, DbError> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, src)
        .tokenize_with_location()
        .map_err(|e| err(SqlState::SyntaxError, e.to_string()))?;
    let mut line_starts = vec![0];
    for (i, c) in src.char_indices() {
        if c == '\n' {
            line_starts.push(i + 1);
        }
    }
    let offset = |line: u64, column: u64| -> usize {
        let Some(&start) = line_starts.get((line as usize).saturating_sub(1)) else {
            return src.len();
        };
        src[start..]
            .char_indices()
            .nth((column as usize).saturating_sub(1))
            .map_or(src.len(), |(i, _)| start + i)
    };
    let toks: Vec<Tok> = tokens
        .into_iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
        .map(|t| Tok {
            start: offset(t.span.start.line, t.span.start.column),
            end: offset(t.span.end.line, t.span.end.column),
            token: t.token,
        })
        .collect();
    Ok(split_ranges(toks))
}

/// `FOR i IN 1..3`: the tokenizer reads `1.` and `.3` as numbers; split
/// them into the numbers and the two periods.
fn split_ranges(toks: Vec<Tok>) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    let period = |at: usize| Tok {
        token: Token::Period,
        start: at,
        end: at + 1,
    };
    for t in toks {
        let Token::Number(n, long) = &t.token else {
            // `1..n`: `1.` and a period.
            if t.token == Token::Period {
                if let Some(Tok {
                    token: Token::Number(m, l),
                    start: s,
                    end: e,
                }) = out.last().cloned()
                {
                    if e == t.start && m.len() > 1 && m.ends_with('.') {
                        out.pop();
                        out.push(Tok {
                            token: Token::Number(m[..m.len() - 1].to_string(), l),
                            start: s,
                            end: e - 1,
                        });
                        out.push(period(e - 1));
                    }
                }
            }
            out.push(t);
            continue;
        };
        let after_dot = out.last().is_some_and(|p| {
            p.end == t.start
                && (p.token == Token::Period
                    || matches!(&p.token, Token::Number(m, _) if m.ends_with('.')))
        });
        let (mut n, long) = (n.clone(), *long);
        let mut start = t.start;
        if after_dot && n.starts_with('.') && n.len() > 1 {
            if let Some(Tok {
                token: Token::Number(m, l),
                start: s,
                end: e,
            }) = out.last().cloned()
            {
                if let Some(m) = m.strip_suffix('.').filter(|m| !m.is_empty()) {
                    out.pop();
                    out.push(Tok {
                        token: Token::Number(m.to_string(), l),
                        start: s,
                        end: e - 1,
                    });
                    out.push(period(e - 1));
                }
            }
            out.push(period(start));
            n.remove(0);
            start += 1;
        }
        out.push(Tok {
            token: Token::Number(n, long),
            start,
            end: t.end,
        });
    }
    out
}

/// The lower-cased word of an unquoted word token.
fn keyword(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_lowercase()),
        _ => None,
    }
}

/// A name as PostgreSQL folds it (quoted: as written).
pub(crate) fn name_of(t: &Token) -> Option<String> {
    match t {
        Token::Word(w) if w.quote_style.is_some() => Some(w.value.clone()),
        Token::Word(w) => Some(w.value.to_ascii_lowercase()),
        _ => None,
    }
}

/// What a function returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Returns {
    Trigger,
    Void,
    /// A scalar of this type (`None`: polymorphic, such as `anyelement`).
    Value(Option<SqlType>),
}

/// A declared argument: its name, if any, and type (`None`:
/// polymorphic).
#[derive(Clone, Debug)]
pub(crate) struct Arg {
    pub(crate) name: Option<String>,
    pub(crate) ty: Option<SqlType>,
}

/// A user function.
#[derive(Debug)]
pub(crate) struct Function {
    pub(crate) name: String,
    pub(crate) args: Vec<Arg>,
    pub(crate) returns: Returns,
    /// PostgreSQL's `function f(integer, text)` for messages.
    pub(crate) signature: String,
    pub(crate) body: Body,
    /// The body's source and tokens, which its statements point into.
    src: String,
    toks: Vec<Tok>,
}

/// A parsed body.
#[derive(Debug)]
pub(crate) enum Body {
    /// LANGUAGE sql: its statements, the last one's first value the
    /// result.
    Sql(Vec<Frag>),
    PlPgSql(Block),
}

/// A range of a body's tokens: one piece of SQL.
pub(crate) type Frag = std::ops::Range<usize>;

/// `DECLARE ... BEGIN ... END`.
#[derive(Debug, Default)]
pub(crate) struct Block {
    decls: Vec<Decl>,
    body: Vec<Stmt>,
    /// `EXCEPTION WHEN cond [OR cond] THEN ...`: the SQLSTATEs each
    /// handler catches (`None`: OTHERS) and its statements.
    handlers: Vec<(Vec<Option<String>>, Vec<Stmt>)>,
}

#[derive(Debug)]
struct Decl {
    name: String,
    /// `None`: `record`.
    ty: Option<SqlType>,
    default: Option<Frag>,
}

/// A target of an assignment or INTO: a variable or a record's field.
#[derive(Clone, Debug)]
enum Target {
    Var(String),
    Field(String, String),
}

#[derive(Debug)]
enum Stmt {
    Block(Block),
    Assign(Target, Frag),
    If(Vec<(Frag, Vec<Stmt>)>, Vec<Stmt>),
    While(Frag, Vec<Stmt>),
    Loop(Vec<Stmt>),
    ForRange(String, Frag, Frag, Vec<Stmt>),
    ForQuery(String, Frag, Vec<Stmt>),
    /// `EXIT` (true) or `CONTINUE` (false), with a `WHEN` condition.
    Exit(bool, Option<Frag>),
    Return(Option<Frag>),
    /// A query or DML statement, `PERFORM` (run as `SELECT`), with its
    /// INTO targets (STRICT when the flag is set), the INTO clause cut out.
    Sql {
        sql: Vec<Frag>,
        perform: bool,
        into: Option<(Vec<Target>, bool)>,
    },
    Execute {
        query: Frag,
        into: Option<(Vec<Target>, bool)>,
        using: Vec<Frag>,
    },
    Raise(Box<Raise>),
    /// `GET DIAGNOSTICS v = ROW_COUNT`.
    RowCount(Target),
    Null,
}

#[derive(Debug)]
struct Raise {
    /// Only EXCEPTION fails; other levels are notices, not modelled.
    exception: bool,
    sqlstate: Option<String>,
    format: Option<String>,
    args: Vec<Frag>,
    options: Vec<(String, Frag)>,
}

/// Parses the tokens of a body.
struct Parser<'a> {
    toks: &'a [Tok],
    src: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn peek_kw(&self) -> Option<String> {
        self.toks.get(self.pos).and_then(|t| keyword(&t.token))
    }

    fn is_kw(&self, kw: &str) -> bool {
        self.peek_kw().as_deref() == Some(kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn near(&self) -> String {
        self.toks
            .get(self.pos)
            .map_or_else(|| "end of function".into(), |t| self.text(t.start, t.end))
    }

    fn text(&self, start: usize, end: usize) -> String {
        self.src.get(start..end).unwrap_or("").to_string()
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), DbError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(syntax(&self.near()))
        }
    }

    fn expect(&mut self, token: Token) -> Result<(), DbError> {
        if self.toks.get(self.pos).map(|t| &t.token) == Some(&token) {
            self.pos += 1;
            Ok(())
        } else {
            Err(syntax(&self.near()))
        }
    }

    /// Tokens up to (not including) the first at paren depth 0 for which
    /// `stop` holds; the end of input ends it too.
    fn until(&mut self, stop: impl Fn(&Token) -> bool) -> Frag {
        let start = self.pos;
        let mut depth = 0i32;
        while let Some(t) = self.toks.get(self.pos) {
            match t.token {
                Token::LParen | Token::LBracket => depth += 1,
                Token::RParen | Token::RBracket => depth -= 1,
                _ => {}
            }
            if depth <= 0 && stop(&t.token) {
                break;
            }
            self.pos += 1;
        }
        start..self.pos
    }

    fn until_kw(&mut self, kws: &[&str]) -> Frag {
        self.until(|t| {
            keyword(t).is_some_and(|k| kws.contains(&k.as_str())) || *t == Token::SemiColon
        })
    }

    fn name(&mut self) -> Result<String, DbError> {
        match self.toks.get(self.pos).and_then(|t| name_of(&t.token)) {
            Some(n) => {
                self.pos += 1;
                Ok(n)
            }
            None => Err(syntax(&self.near())),
        }
    }

    fn block(&mut self) -> Result<Block, DbError> {
        let mut block = Block::default();
        if self.eat_kw("declare") {
            while !self.is_kw("begin") {
                if self.pos >= self.toks.len() {
                    return Err(syntax(&self.near()));
                }
                block.decls.push(self.decl()?);
            }
        }
        self.expect_kw("begin")?;
        block.body = self.stmts(&["end", "exception"])?;
        if self.eat_kw("exception") {
            while self.eat_kw("when") {
                let mut conditions = Vec::new();
                loop {
                    if self.eat_kw("sqlstate") {
                        match self.toks.get(self.pos).map(|t| t.token.clone()) {
                            Some(Token::SingleQuotedString(code)) => {
                                self.pos += 1;
                                conditions.push(Some(code));
                            }
                            _ => return Err(syntax(&self.near())),
                        }
                    } else {
                        let name = self.name()?;
                        if name == "others" {
                            conditions.push(None);
                        } else {
                            let code = condition_code(&name).ok_or_else(|| {
                                err(
                                    SqlState::Other("42704"),
                                    format!("unrecognized exception condition \"{name}\""),
                                )
                            })?;
                            conditions.push(Some(code.to_string()));
                        }
                    }
                    if !self.eat_kw("or") {
                        break;
                    }
                }
                self.expect_kw("then")?;
                let body = self.stmts(&["when", "end"])?;
                block.handlers.push((conditions, body));
            }
            if block.handlers.is_empty() {
                return Err(syntax(&self.near()));
            }
        }
        self.expect_kw("end")?;
        Ok(block)
    }

    fn decl(&mut self) -> Result<Decl, DbError> {
        let name = self.name()?;
        self.eat_kw("constant");
        let ty_frag = self.until(|t| {
            *t == Token::SemiColon
                || *t == Token::Assignment
                || *t == Token::Eq
                || keyword(t).is_some_and(|k| k == "default" || k == "not")
        });
        let ty_text = self.frag_text(&ty_frag);
        let ty = parse_type(&ty_text, true)?;
        if self.eat_kw("not") {
            self.expect_kw("null")?;
        }
        let default = if self.eat_kw("default")
            || self.eat_tok(&Token::Assignment)
            || self.eat_tok(&Token::Eq)
        {
            Some(self.until(|t| *t == Token::SemiColon))
        } else {
            None
        };
        self.expect(Token::SemiColon)?;
        Ok(Decl { name, ty, default })
    }

    fn eat_tok(&mut self, token: &Token) -> bool {
        if self.toks.get(self.pos).map(|t| &t.token) == Some(token) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn frag_text(&self, f: &Frag) -> String {
        if f.is_empty() {
            return String::new();
        }
        self.text(self.toks[f.start].start, self.toks[f.end - 1].end)
    }

    fn stmts(&mut self, ends: &[&str]) -> Result<Vec<Stmt>, DbError> {
        let mut out = Vec::new();
        // A limit on statements: one per token at most.
        for _ in 0..=self.toks.len() {
            if self.pos >= self.toks.len() {
                return Err(syntax("end of function"));
            }
            if self.peek_kw().is_some_and(|k| ends.contains(&k.as_str())) {
                return Ok(out);
            }
            out.push(self.stmt()?);
        }
        Err(syntax(&self.near()))
    }

    fn end_of(&mut self, what: &str) -> Result<(), DbError> {
        self.expect_kw("end")?;
        self.expect_kw(what)?;
        self.expect(Token::SemiColon)
    }

    fn condition(&mut self) -> Result<Option<Frag>, DbError> {
        Ok(if self.eat_kw("when") {
            Some(self.until(|t| *t == Token::SemiColon))
        } else {
            None
        })
    }

    fn stmt(&mut self) -> Result<Stmt, DbError> {
        let kw = self.peek_kw().unwrap_or_default();
        match kw.as_str() {
            "declare" | "begin" => {
                let block = self.block()?;
                self.expect(Token::SemiColon)?;
                Ok(Stmt::Block(block))
            }
            "if" => {
                self.pos += 1;
                self.if_stmt()
            }
            "while" => {
                self.pos += 1;
                let cond = self.until_kw(&["loop"]);
                self.expect_kw("loop")?;
                let body = self.stmts(&["end"])?;
                self.end_of("loop")?;
                Ok(Stmt::While(cond, body))
            }
            "loop" => {
                self.pos += 1;
                let body = self.stmts(&["end"])?;
                self.end_of("loop")?;
                Ok(Stmt::Loop(body))
            }
            "for" => {
                self.pos += 1;
                self.for_stmt()
            }
            "exit" | "continue" => {
                self.pos += 1;
                let cond = self.condition()?;
                self.expect(Token::SemiColon)?;
                Ok(Stmt::Exit(kw == "exit", cond))
            }
            "return" => {
                self.pos += 1;
                let value = self.until(|t| *t == Token::SemiColon);
                self.expect(Token::SemiColon)?;
                Ok(Stmt::Return((!value.is_empty()).then_some(value)))
            }
            "null" => {
                self.pos += 1;
                self.expect(Token::SemiColon)?;
                Ok(Stmt::Null)
            }
            "raise" => {
                self.pos += 1;
                self.raise()
            }
            "get" => {
                self.pos += 1;
                self.get_diagnostics()
            }
            "execute" => {
                self.pos += 1;
                self.execute()
            }
            "perform" | "select" | "insert" | "update" | "delete" | "with" => {
                self.sql_stmt(kw == "perform")
            }
            "commit" | "rollback" | "savepoint" => {
                Err(unsupported(format!("{} in PL/pgSQL", kw.to_uppercase())))
            }
            "case" | "foreach" | "open" | "fetch" | "close" | "move" | "assert" | "call" => Err(
                unsupported(format!("the PL/pgSQL statement {}", kw.to_uppercase())),
            ),
            _ => self.assignment(),
        }
    }

    /// `IF c THEN ... [ELSIF c THEN ...]... [ELSE ...] END IF;`, after IF.
    fn if_stmt(&mut self) -> Result<Stmt, DbError> {
        let mut arms = Vec::new();
        let cond = self.until_kw(&["then"]);
        self.expect_kw("then")?;
        arms.push((cond, self.stmts(&["elsif", "elseif", "else", "end"])?));
        let mut otherwise = Vec::new();
        loop {
            if self.eat_kw("elsif") || self.eat_kw("elseif") {
                let cond = self.until_kw(&["then"]);
                self.expect_kw("then")?;
                arms.push((cond, self.stmts(&["elsif", "elseif", "else", "end"])?));
            } else if self.eat_kw("else") {
                otherwise = self.stmts(&["end"])?;
            } else {
                break;
            }
        }
        self.end_of("if")?;
        Ok(Stmt::If(arms, otherwise))
    }

    /// `FOR v IN query LOOP ... END LOOP;` or `FOR i IN a..b LOOP ...`,
    /// after FOR.
    fn for_stmt(&mut self) -> Result<Stmt, DbError> {
        let var = self.name()?;
        self.expect_kw("in")?;
        if self.is_kw("select") || self.is_kw("with") {
            let query = self.until_kw(&["loop"]);
            self.expect_kw("loop")?;
            let body = self.stmts(&["end"])?;
            self.end_of("loop")?;
            return Ok(Stmt::ForQuery(var, query, body));
        }
        let low = self.until(|t| *t == Token::Period || keyword(t).as_deref() == Some("loop"));
        // `a..b`: the tokenizer may read `1..` as a number and a
        // period, or two periods.
        if !self.eat_tok(&Token::Period) {
            return Err(unsupported("this FOR loop in PL/pgSQL"));
        }
        self.eat_tok(&Token::Period);
        let high = self.until_kw(&["loop", "by"]);
        self.expect_kw("loop")?;
        let body = self.stmts(&["end"])?;
        self.end_of("loop")?;
        Ok(Stmt::ForRange(var, low, high, body))
    }

    /// `GET [CURRENT] DIAGNOSTICS v = ROW_COUNT;`, after GET.
    fn get_diagnostics(&mut self) -> Result<Stmt, DbError> {
        self.eat_kw("current");
        self.expect_kw("diagnostics")?;
        let target = self.target()?;
        if !(self.eat_tok(&Token::Assignment) || self.eat_tok(&Token::Eq)) {
            return Err(syntax(&self.near()));
        }
        self.expect_kw("row_count")?;
        self.expect(Token::SemiColon)?;
        Ok(Stmt::RowCount(target))
    }

    /// `EXECUTE query [INTO ...] [USING ...];`, after EXECUTE.
    fn execute(&mut self) -> Result<Stmt, DbError> {
        let query = self.until_kw(&["into", "using"]);
        let mut into = None;
        let mut using = Vec::new();
        for _ in 0..2 {
            if self.eat_kw("into") {
                into = Some(self.parse_into()?);
            } else if self.eat_kw("using") {
                loop {
                    using.push(self.until(|t| {
                        *t == Token::Comma
                            || *t == Token::SemiColon
                            || keyword(t).as_deref() == Some("into")
                    }));
                    if !self.eat_tok(&Token::Comma) {
                        break;
                    }
                }
            }
        }
        self.expect(Token::SemiColon)?;
        Ok(Stmt::Execute { query, into, using })
    }

    /// `target := value;` (or `=`): the statement that starts with no
    /// keyword.
    fn assignment(&mut self) -> Result<Stmt, DbError> {
        let target = self.target()?;
        if !(self.eat_tok(&Token::Assignment) || self.eat_tok(&Token::Eq)) {
            return Err(syntax(&self.near()));
        }
        let value = self.until(|t| *t == Token::SemiColon);
        self.expect(Token::SemiColon)?;
        Ok(Stmt::Assign(target, value))
    }

    fn target(&mut self) -> Result<Target, DbError> {
        let name = self.name()?;
        if self.eat_tok(&Token::Period) {
            let field = self.name()?;
            return Ok(Target::Field(name, field));
        }
        Ok(Target::Var(name))
    }

    fn parse_into(&mut self) -> Result<(Vec<Target>, bool), DbError> {
        let strict = self.eat_kw("strict");
        let mut targets = vec![self.target()?];
        while self.eat_tok(&Token::Comma) {
            targets.push(self.target()?);
        }
        Ok((targets, strict))
    }

    /// A SQL statement up to its `;`, with an `INTO` at depth 0 (after
    /// the select list, or after RETURNING) cut out.
    fn sql_stmt(&mut self, perform: bool) -> Result<Stmt, DbError> {
        if perform {
            self.pos += 1;
        }
        let mut parts = Vec::new();
        let mut into = None;
        let start = self.pos;
        let first = self.until(|t| *t == Token::SemiColon || keyword(t).as_deref() == Some("into"));
        // `INSERT INTO`: the INTO belongs to the statement.
        let insert = keyword(&self.toks[start].token).as_deref() == Some("insert");
        if insert && first.len() == 1 {
            self.pos += 1;
            let rest =
                self.until(|t| *t == Token::SemiColon || keyword(t).as_deref() == Some("into"));
            parts.push(first.start..rest.end);
        } else {
            parts.push(first);
        }
        if self.eat_kw("into") {
            into = Some(self.parse_into()?);
            parts.push(self.until(|t| *t == Token::SemiColon));
        }
        self.expect(Token::SemiColon)?;
        Ok(Stmt::Sql {
            sql: parts,
            perform,
            into,
        })
    }

    fn raise(&mut self) -> Result<Stmt, DbError> {
        let mut exception = true;
        if let Some(level) = self.peek_kw() {
            if ["debug", "log", "info", "notice", "warning", "exception"].contains(&level.as_str())
            {
                exception = level == "exception";
                self.pos += 1;
            }
        }
        let mut raise = Raise {
            exception,
            sqlstate: None,
            format: None,
            args: Vec::new(),
            options: Vec::new(),
        };
        match self.toks.get(self.pos).map(|t| t.token.clone()) {
            Some(Token::SingleQuotedString(s)) => {
                self.pos += 1;
                raise.format = Some(s);
                while self.eat_tok(&Token::Comma) {
                    raise.args.push(self.until(|t| {
                        *t == Token::Comma
                            || *t == Token::SemiColon
                            || keyword(t).as_deref() == Some("using")
                    }));
                }
            }
            Some(Token::Word(w))
                if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("sqlstate") =>
            {
                self.pos += 1;
                match self.toks.get(self.pos).map(|t| t.token.clone()) {
                    Some(Token::SingleQuotedString(code)) => {
                        self.pos += 1;
                        raise.sqlstate = Some(code);
                    }
                    _ => return Err(syntax(&self.near())),
                }
            }
            Some(Token::Word(w)) if !w.value.eq_ignore_ascii_case("using") => {
                self.pos += 1;
                let code = condition_code(&w.value.to_ascii_lowercase()).ok_or_else(|| {
                    err(
                        SqlState::Other("42704"),
                        format!("unrecognized exception condition \"{}\"", w.value),
                    )
                })?;
                raise.sqlstate = Some(code.to_string());
            }
            _ => {}
        }
        if self.eat_kw("using") {
            loop {
                let option = self.name()?;
                if !(self.eat_tok(&Token::Eq) || self.eat_tok(&Token::Assignment)) {
                    return Err(syntax(&self.near()));
                }
                let value = self.until(|t| *t == Token::Comma || *t == Token::SemiColon);
                raise.options.push((option, value));
                if !self.eat_tok(&Token::Comma) {
                    break;
                }
            }
        }
        self.expect(Token::SemiColon)?;
        Ok(Stmt::Raise(Box::new(raise)))
    }
}

/// The SQLSTATE of a condition name PL/pgSQL knows (the common ones).
fn condition_code(name: &str) -> Option<&'static str> {
    Some(match name {
        "raise_exception" => "P0001",
        "no_data_found" => "P0002",
        "too_many_rows" => "P0003",
        "unique_violation" => "23505",
        "foreign_key_violation" => "23503",
        "check_violation" => "23514",
        "not_null_violation" => "23502",
        "exclusion_violation" => "23P01",
        "serialization_failure" => "40001",
        "deadlock_detected" => "40P01",
        "lock_not_available" => "55P03",
        "division_by_zero" => "22012",
        "invalid_parameter_value" => "22023",
        "data_exception" => "22000",
        "integrity_constraint_violation" => "23000",
        "restrict_violation" => "23001",
        "insufficient_privilege" => "42501",
        "feature_not_supported" => "0A000",
        "object_not_in_prerequisite_state" => "55000",
        _ => return None,
    })
}

/// A type name of a declaration or argument: `None` for `record` (when
/// `record_ok`) and the polymorphic pseudo-types.
fn parse_type(text: &str, record_ok: bool) -> Result<Option<SqlType>, DbError> {
    let lower = text.trim().to_ascii_lowercase();
    let lower = lower
        .strip_prefix("pg_catalog.")
        .unwrap_or(&lower)
        .to_string();
    if record_ok && lower == "record" {
        return Ok(None);
    }
    if [
        "anyelement",
        "anynonarray",
        "anycompatible",
        "anycompatiblenonarray",
    ]
    .contains(&lower.as_str())
    {
        return Ok(None);
    }
    if lower.contains("%type") || lower.contains("%rowtype") {
        return Err(unsupported(format!("the type {text}")));
    }
    if let Some(ty) = SqlType::parse(&lower) {
        return Ok(Some(ty));
    }
    let simple = lower.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if simple
        && ![
            "json", "bytea", "xml", "money", "inet", "anyarray", "regclass", "oid",
        ]
        .contains(&lower.as_str())
    {
        return Err(err(
            SqlState::Other("42704"),
            format!("type \"{lower}\" does not exist"),
        ));
    }
    Err(unsupported(format!("the type {text}")))
}

/// A `CREATE FUNCTION` statement, parsed.
pub(crate) struct CreateFunction {
    pub(crate) or_replace: bool,
    pub(crate) function: Function,
}

/// Whether `sql` is `CREATE [OR REPLACE] FUNCTION` / `PROCEDURE` or `DROP
/// FUNCTION` (cheap: the first words).
pub(crate) fn is_function_ddl(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(4)
        .map(str::to_ascii_lowercase)
        .collect();
    let w = |i: usize| words.get(i).map_or("", String::as_str);
    let object = |x: &str| {
        x == "function" || x == "procedure" || x.starts_with("function") || x == "language"
    };
    match w(0) {
        "create" if w(1) == "or" && w(2) == "replace" => object(w(3)),
        "create" => object(w(1)),
        "drop" => w(1) == "function" || w(1) == "procedure",
        _ => false,
    }
}

/// Parses `CREATE [OR REPLACE] FUNCTION name (args) RETURNS type
/// {LANGUAGE l | AS 'body' | attributes}...`.
pub(crate) fn parse_create_function(sql: &str) -> Result<CreateFunction, DbError> {
    let toks = tokenize(sql)?;
    let mut p = Parser {
        toks: &toks,
        src: sql,
        pos: 0,
    };
    p.expect_kw("create")?;
    let or_replace = p.eat_kw("or");
    if or_replace {
        p.expect_kw("replace")?;
    }
    if p.eat_kw("procedure") {
        return Err(unsupported("CREATE PROCEDURE"));
    }
    if !p.eat_kw("function") {
        return Err(unsupported(format!("the statement {}", sql.trim())));
    }
    let mut name = p.name()?;
    if p.eat_tok(&Token::Period) {
        if name != "public" {
            return Err(unsupported("a function in a schema other than public"));
        }
        name = p.name()?;
    }
    let args = parse_args(&mut p)?;
    let attributes = parse_attributes(&mut p)?;
    let signature = format!(
        "{name}({})",
        args.iter()
            .map(|a: &Arg| a
                .ty
                .map_or("anyelement".to_string(), |t| t.name().to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let Some(returns) = attributes.returns else {
        return Err(err(
            SqlState::Other("42P13"),
            "function result type must be specified",
        ));
    };
    let Some(language) = attributes.language else {
        return Err(err(SqlState::Other("42P13"), "no language specified"));
    };
    let Some(src) = attributes.body else {
        return Err(err(SqlState::Other("42P13"), "no function body specified"));
    };
    let toks = tokenize(&src)?;
    let body = parse_body(&language, &returns, &src, &toks)?;
    if returns == Returns::Trigger && !args.is_empty() {
        return Err(err(
            SqlState::Other("42P13"),
            "trigger functions cannot have declared arguments",
        ));
    }
    Ok(CreateFunction {
        or_replace,
        function: Function {
            name,
            args,
            returns,
            signature,
            body,
            src,
            toks,
        },
    })
}

/// The parenthesised argument list, from its `(` to its `)`.
fn parse_args(p: &mut Parser<'_>) -> Result<Vec<Arg>, DbError> {
    p.expect(Token::LParen)?;
    let mut args = Vec::new();
    if !p.eat_tok(&Token::RParen) {
        loop {
            let frag = p.until(|t| *t == Token::Comma || *t == Token::RParen);
            args.push(parse_arg(p, &frag)?);
            if p.eat_tok(&Token::RParen) {
                break;
            }
            p.expect(Token::Comma)?;
        }
    }
    Ok(args)
}

/// What a CREATE FUNCTION's clauses after the arguments say (the ones
/// that change nothing here are read and dropped).
struct Attributes {
    returns: Option<Returns>,
    language: Option<String>,
    body: Option<String>,
}

/// Reads the clauses after the arguments, in any order, to the end of
/// the statement.
fn parse_attributes(p: &mut Parser<'_>) -> Result<Attributes, DbError> {
    let mut attributes = Attributes {
        returns: None,
        language: None,
        body: None,
    };
    while p.pos < p.toks.len() && !p.eat_tok(&Token::SemiColon) {
        let Some(kw) = p.peek_kw() else {
            return Err(syntax(&p.near()));
        };
        p.pos += 1;
        match kw.as_str() {
            "returns" => attributes.returns = Some(parse_returns(p)?),
            "language" => {
                attributes.language = Some(p.name()?);
            }
            "as" => match p.toks.get(p.pos).map(|t| t.token.clone()) {
                Some(Token::SingleQuotedString(s)) => {
                    p.pos += 1;
                    attributes.body = Some(s);
                }
                Some(Token::DollarQuotedString(s)) => {
                    p.pos += 1;
                    attributes.body = Some(s.value);
                }
                _ => return Err(syntax(&p.near())),
            },
            "immutable" | "stable" | "volatile" | "strict" | "leakproof" | "external"
            | "security" | "definer" | "invoker" => {
                p.eat_kw("definer");
                p.eat_kw("invoker");
            }
            "called" | "returns_null" => {
                p.until(|t| keyword(t).as_deref() == Some("input"));
                p.expect_kw("input")?;
            }
            "parallel" | "cost" | "rows" => {
                p.pos += 1;
            }
            "not" => {
                p.expect_kw("leakproof")?;
            }
            _ => {
                return Err(unsupported(format!(
                    "the function attribute {}",
                    kw.to_uppercase()
                )))
            }
        }
    }
    Ok(attributes)
}

/// The result type after RETURNS, up to the next clause.
fn parse_returns(p: &mut Parser<'_>) -> Result<Returns, DbError> {
    if p.eat_kw("setof") {
        return Err(unsupported("RETURNS SETOF (a set-returning function)"));
    }
    if p.is_kw("table") {
        return Err(unsupported("RETURNS TABLE (a set-returning function)"));
    }
    let frag = p.until(|t| {
        keyword(t).is_some_and(|k| {
            [
                "language",
                "as",
                "immutable",
                "stable",
                "volatile",
                "strict",
                "called",
                "returns",
                "security",
                "parallel",
                "leakproof",
                "cost",
                "set",
                "not",
                "external",
            ]
            .contains(&k.as_str())
        }) || *t == Token::SemiColon
    });
    let text = p.frag_text(&frag).to_ascii_lowercase();
    Ok(match text.trim() {
        "trigger" => Returns::Trigger,
        "void" => Returns::Void,
        "record" => return Err(unsupported("RETURNS record")),
        other => Returns::Value(parse_type(other, false)?),
    })
}

/// The function's body in its language: SQL statements, or a PL/pgSQL
/// block.
fn parse_body(language: &str, returns: &Returns, src: &str, toks: &[Tok]) -> Result<Body, DbError> {
    let mut p = Parser { toks, src, pos: 0 };
    Ok(match language {
        "sql" => {
            if *returns == Returns::Trigger {
                return Err(err(
                    SqlState::Other("42P13"),
                    "SQL functions cannot return type trigger",
                ));
            }
            let mut statements = Vec::new();
            while p.pos < toks.len() {
                let frag = p.until(|t| *t == Token::SemiColon);
                if !frag.is_empty() {
                    statements.push(frag);
                }
                p.eat_tok(&Token::SemiColon);
            }
            Body::Sql(statements)
        }
        "plpgsql" => {
            let block = p.block()?;
            p.eat_tok(&Token::SemiColon);
            if p.pos < toks.len() {
                return Err(syntax(&p.near()));
            }
            Body::PlPgSql(block)
        }
        "c" | "internal" | "plpython3u" | "plperl" | "pltcl" | "plv8" => {
            return Err(unsupported(format!("LANGUAGE {language}")))
        }
        other => {
            return Err(err(
                SqlState::Other("42704"),
                format!("language \"{other}\" does not exist"),
            ))
        }
    })
}

fn parse_arg(p: &Parser<'_>, frag: &Frag) -> Result<Arg, DbError> {
    let mut start = frag.start;
    if let Some(mode) = p.toks.get(start).and_then(|t| keyword(&t.token)) {
        if mode == "in" {
            start += 1;
        } else if mode == "out" || mode == "inout" || mode == "variadic" {
            return Err(unsupported(format!("{} arguments", mode.to_uppercase())));
        }
    }
    if frag.end <= start {
        return Err(syntax(")"));
    }
    if p.toks[start..frag.end]
        .iter()
        .any(|t| keyword(&t.token).as_deref() == Some("default") || t.token == Token::Eq)
    {
        return Err(unsupported("argument defaults"));
    }
    let whole = p.frag_text(&(start..frag.end));
    // `name type` unless the whole text is a type (`double precision`).
    if frag.end - start >= 2 {
        if let Ok(ty) = parse_type(&whole, false) {
            return Ok(Arg { name: None, ty });
        }
        let name = name_of(&p.toks[start].token).ok_or_else(|| syntax(&whole))?;
        let ty = parse_type(&p.frag_text(&(start + 1..frag.end)), false)?;
        return Ok(Arg {
            name: Some(name),
            ty,
        });
    }
    Ok(Arg {
        name: None,
        ty: parse_type(&whole, false)?,
    })
}

/// `DROP FUNCTION [IF EXISTS] name [(types)] [, ...] [CASCADE | RESTRICT]`.
pub(crate) struct DropFunction {
    pub(crate) names: Vec<String>,
    pub(crate) if_exists: bool,
    pub(crate) cascade: bool,
}

pub(crate) fn parse_drop_function(sql: &str) -> Result<DropFunction, DbError> {
    let toks = tokenize(sql)?;
    let mut p = Parser {
        toks: &toks,
        src: sql,
        pos: 0,
    };
    p.expect_kw("drop")?;
    if p.eat_kw("procedure") {
        return Err(unsupported("DROP PROCEDURE"));
    }
    p.expect_kw("function")?;
    let if_exists = p.eat_kw("if");
    if if_exists {
        p.expect_kw("exists")?;
    }
    let mut names = Vec::new();
    loop {
        let mut name = p.name()?;
        if p.eat_tok(&Token::Period) {
            name = p.name()?;
        }
        names.push(name);
        if p.eat_tok(&Token::LParen) {
            p.until(|t| *t == Token::RParen);
            p.expect(Token::RParen)?;
        }
        if !p.eat_tok(&Token::Comma) {
            break;
        }
    }
    let cascade = p.eat_kw("cascade");
    if !cascade {
        p.eat_kw("restrict");
    }
    p.eat_tok(&Token::SemiColon);
    if p.pos < toks.len() {
        return Err(syntax(&p.near()));
    }
    Ok(DropFunction {
        names,
        if_exists,
        cascade,
    })
}

// ---------------------------------------------------------------------
// Running a function.

/// A row as a record variable holds it: the table's visible column names
/// and the row's values (all of them, hidden ones last).
#[derive(Clone, Debug)]
pub(crate) struct Rec {
    pub(crate) names: Arc<[String]>,
    pub(crate) values: Vec<Value>,
}

impl Rec {
    /// PostgreSQL's text form of a row: `(a,b)`, NULL empty, quoted where
    /// needed.
    fn text(&self) -> String {
        let parts: Vec<String> = self.values[..self.names.len()]
            .iter()
            .map(|v| match v.to_pg_text() {
                None => String::new(),
                Some(t)
                    if t.is_empty()
                        || t.chars()
                            .any(|c| "(),\"\\ ".contains(c) || c.is_whitespace()) =>
                {
                    format!("\"{}\"", t.replace('\\', "\\\\").replace('"', "\"\""))
                }
                Some(t) => t,
            })
            .collect();
        format!("({})", parts.join(","))
    }
}

#[derive(Clone, Debug)]
enum Val {
    /// A scalar and its declared type (`None`: takes what it is given).
    Scalar(Value, Option<SqlType>),
    /// A record (`None`: not assigned yet, or NULL).
    Record(Option<Rec>),
}

#[derive(Clone, Debug)]
struct Var {
    name: String,
    val: Val,
}

/// What a trigger passes its function.
#[derive(Clone, Debug)]
pub(crate) struct TriggerData {
    pub(crate) name: String,
    pub(crate) when: &'static str,
    pub(crate) level: &'static str,
    pub(crate) op: &'static str,
    pub(crate) table: String,
    pub(crate) new: Option<Rec>,
    pub(crate) old: Option<Rec>,
}

/// Where a function's statements run.
pub(crate) enum Backend<'e, 'a> {
    /// In the transaction, each statement nested in the calling one.
    Exec(&'e mut Exec<'a>),
    /// With the calling statement's reads only (a call inside an
    /// expression).
    Read(&'e Ctx),
}

type Boxed<'s, T> = Pin<Box<dyn Future<Output = Result<T, DbError>> + Send + 's>>;

/// The prepared statement for `sql`, from the database's plan cache.
pub(crate) fn prepare(db: &DbShared, sql: &str) -> Result<Arc<Statement>, DbError> {
    if let Some(found) = db.cached(sql) {
        return Ok(found);
    }
    let catalog = db.catalog();
    let statement = Arc::new(super::types::with_types(&catalog.types, || {
        super::plan::prepare(sql, &catalog, super::settings::ScanSettings::default())
    })?);
    drop(catalog);
    if statement.cacheable() {
        db.cache(sql, statement.clone());
    }
    Ok(statement)
}

impl Backend<'_, '_> {
    fn db(&self) -> Result<Arc<DbShared>, DbError> {
        let ctx = match self {
            Backend::Exec(exec) => exec.params.ctx,
            Backend::Read(ctx) => ctx,
        };
        ctx.shared()
            .cloned()
            .ok_or_else(|| unsupported("a function call here"))
    }

    /// Runs one statement with these parameters.
    fn run<'s>(&'s mut self, sql: String, params: Vec<Value>) -> Boxed<'s, super::Rows> {
        Box::pin(async move {
            let db = self.db()?;
            let statement = prepare(&db, &sql)?;
            match self {
                Backend::Exec(exec) => exec.run_nested(&statement, &params).await,
                Backend::Read(ctx) => {
                    let Prepared::Select(plan) = &statement.kind else {
                        return Err(unsupported(format!(
                            "a function that writes or locks, called inside an expression ({})",
                            sql.trim()
                        )));
                    };
                    if plan.lock.is_some() || !statement.advisory_calls.is_empty() {
                        return Err(unsupported(format!(
                            "a function that locks, called inside an expression ({})",
                            sql.trim()
                        )));
                    }
                    let reader = ctx
                        .reader
                        .clone()
                        .ok_or_else(|| unsupported("a function call here"))?;
                    let nested = ctx.nested(Some(reader.clone()));
                    let bound = Bound {
                        values: &params,
                        ctx: &nested,
                    };
                    let rows = query_rows(&reader, bound, plan, &[])?;
                    let columns = plan.output.iter().map(|(n, _)| n.clone()).collect();
                    Ok(super::Rows::new(columns, rows))
                }
            }
        })
    }
}

/// How a list of statements ended.
enum Flow {
    Next,
    Exit,
    Continue,
    Return(Val),
}

/// One call's state: the variables (arguments first, so `$n` is the
/// n-th), the last row count, and the trigger's data.
struct Call<'f> {
    f: &'f Function,
    vars: Vec<Var>,
    row_count: u64,
    /// EXCEPTION blocks entered, naming their savepoints.
    subtransactions: u32,
}

/// A limit on loop iterations, so a function that never ends fails
/// rather than hangs.
const LOOP_ITERATIONS_MAX: usize = 1_000_000;

/// Calls `f` with `args` (already evaluated); for a trigger function,
/// `trigger` carries NEW, OLD and the TG_ variables. Returns the scalar
/// result, or for a trigger function the row it returned (`None`: NULL).
pub(crate) fn call<'s>(
    f: &'s Function,
    args: Vec<Value>,
    trigger: Option<TriggerData>,
    backend: &'s mut Backend<'_, '_>,
) -> Boxed<'s, (Value, Option<Rec>)> {
    Box::pin(async move {
        let mut vars = Vec::with_capacity(args.len() + 8);
        for (i, (a, v)) in f.args.iter().zip(args).enumerate() {
            let v = match a.ty {
                Some(ty) => coerce(&v, ty)?,
                None => v,
            };
            vars.push(Var {
                name: a.name.clone().unwrap_or_else(|| format!("${}", i + 1)),
                val: Val::Scalar(v, a.ty),
            });
        }
        let text = |s: &str| Val::Scalar(Value::Text(s.into()), Some(SqlType::Text));
        if let Some(t) = &trigger {
            for (name, val) in [
                ("new", Val::Record(t.new.clone())),
                ("old", Val::Record(t.old.clone())),
                ("tg_name", text(&t.name)),
                ("tg_when", text(t.when)),
                ("tg_level", text(t.level)),
                ("tg_op", text(t.op)),
                ("tg_table_name", text(&t.table)),
                ("tg_relname", text(&t.table)),
                ("tg_table_schema", text("public")),
            ] {
                vars.push(Var {
                    name: name.into(),
                    val,
                });
            }
        }
        vars.push(Var {
            name: "found".into(),
            val: Val::Scalar(Value::Bool(false), Some(SqlType::Bool)),
        });
        let mut call = Call {
            f,
            vars,
            row_count: 0,
            subtransactions: 0,
        };
        match &f.body {
            Body::Sql(statements) => {
                let mut last = None;
                for frag in statements {
                    let (sql, params) = call.substitute(std::slice::from_ref(frag))?;
                    last = Some(backend.run(sql, params).await?);
                }
                let value = match (&f.returns, last) {
                    (Returns::Void, _) => Value::Null,
                    (_, Some(rows)) => rows
                        .rows
                        .first()
                        .and_then(|r| r.first().cloned())
                        .unwrap_or(Value::Null),
                    (_, None) => Value::Null,
                };
                Ok((call.result(value)?, None))
            }
            Body::PlPgSql(block) => {
                let flow = call.block(block, backend).await?;
                match (flow, &f.returns) {
                    (Flow::Return(Val::Record(rec)), Returns::Trigger) => Ok((Value::Null, rec)),
                    (Flow::Return(Val::Scalar(v, _)), Returns::Trigger) if v.is_null() => {
                        Ok((Value::Null, None))
                    }
                    (Flow::Return(_), Returns::Trigger) => Err(err(
                        SqlState::DatatypeMismatch,
                        "returned row structure does not match the structure of the triggering table",
                    )),
                    (Flow::Return(Val::Scalar(v, _)), _) => Ok((call.result(v)?, None)),
                    (Flow::Return(Val::Record(rec)), _) => Ok((
                        call.result(rec.map_or(Value::Null, |r| Value::Text(r.text().into())))?,
                        None,
                    )),
                    (_, Returns::Void) => Ok((Value::Null, None)),
                    _ => Err(err(
                        SqlState::Other("2F005"),
                        "control reached end of function without RETURN",
                    )),
                }
            }
        }
    })
}

impl Call<'_> {
    fn result(&self, v: Value) -> Result<Value, DbError> {
        match &self.f.returns {
            Returns::Value(Some(ty)) => coerce(&v, *ty),
            Returns::Void => Ok(Value::Null),
            _ => Ok(v),
        }
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.vars.iter().rposition(|v| v.name == name)
    }

    /// The SQL text of `frags` (joined by a space) with variables as `$n`
    /// parameters, and the parameters' values.
    fn substitute(&self, frags: &[Frag]) -> Result<(String, Vec<Value>), DbError> {
        let src = &self.f.src;
        let toks = &self.f.toks;
        let mut params: Vec<Value> = self
            .vars
            .iter()
            .map(|v| match &v.val {
                Val::Scalar(x, _) => x.clone(),
                Val::Record(r) => r
                    .as_ref()
                    .map_or(Value::Null, |r| Value::Text(r.text().into())),
            })
            .collect();
        let mut out = String::new();
        for frag in frags {
            if frag.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            let mut copied = toks[frag.start].start;
            let mut i = frag.start;
            while i < frag.end {
                let t = &toks[i];
                let prev_period = i > frag.start && toks[i - 1].token == Token::Period;
                let next = toks
                    .get(i + 1)
                    .filter(|_| i + 1 < frag.end)
                    .map(|t| &t.token);
                let name = match &t.token {
                    Token::Word(_) if !prev_period && next != Some(&Token::LParen) => {
                        name_of(&t.token)
                    }
                    _ => None,
                };
                let Some(slot) = name.as_deref().and_then(|n| self.find(n)) else {
                    i += 1;
                    continue;
                };
                out.push_str(&src[copied..t.start]);
                match &self.vars[slot].val {
                    // `rec.*`: each of its fields (`INSERT INTO log
                    // SELECT OLD.*`).
                    Val::Record(Some(rec))
                        if next == Some(&Token::Period)
                            && toks.get(i + 2).map(|t| &t.token) == Some(&Token::Mul) =>
                    {
                        let mut list = Vec::with_capacity(rec.values.len());
                        for v in rec.values.iter().take(rec.names.len()) {
                            params.push(v.clone());
                            list.push(format!("${}", params.len()));
                        }
                        out.push_str(&list.join(", "));
                        copied = toks[i + 2].end;
                        i += 3;
                        continue;
                    }
                    Val::Record(rec) if next == Some(&Token::Period) => {
                        let field = toks
                            .get(i + 2)
                            .and_then(|t| name_of(&t.token))
                            .ok_or_else(|| syntax("."))?;
                        let value = self.field(slot, rec.as_ref(), &field)?;
                        params.push(value);
                        out.push_str(&format!("${}", params.len()));
                        copied = toks[i + 2].end;
                        i += 3;
                        continue;
                    }
                    _ => out.push_str(&format!("${}", slot + 1)),
                }
                copied = t.end;
                i += 1;
            }
            out.push_str(&src[copied..toks[frag.end - 1].end]);
        }
        Ok((out, params))
    }

    fn field(&self, slot: usize, rec: Option<&Rec>, field: &str) -> Result<Value, DbError> {
        let name = &self.vars[slot].name;
        let Some(rec) = rec else {
            if name == "new" || name == "old" {
                // PostgreSQL 11+: NEW in a DELETE trigger is NULL.
                return Ok(Value::Null);
            }
            return Err(err(
                SqlState::Other("55000"),
                format!("record \"{name}\" is not assigned yet"),
            ));
        };
        let i = rec.names.iter().position(|n| n == field).ok_or_else(|| {
            err(
                SqlState::UndefinedColumn,
                format!("record \"{name}\" has no field \"{field}\""),
            )
        })?;
        Ok(rec.values[i].clone())
    }

    /// Runs a query and returns its rows.
    async fn query(
        &mut self,
        frags: &[Frag],
        backend: &mut Backend<'_, '_>,
    ) -> Result<super::Rows, DbError> {
        let (sql, params) = self.substitute(frags)?;
        backend.run(sql, params).await
    }

    /// The value of an expression: `SELECT expr`.
    async fn eval(&mut self, frag: &Frag, backend: &mut Backend<'_, '_>) -> Result<Value, DbError> {
        // A lone variable or literal needs no query.
        if frag.len() == 1 {
            let t = &self.f.toks[frag.start].token;
            if let Some(slot) = name_of(t).and_then(|n| self.find(&n)) {
                if let Val::Scalar(v, _) = &self.vars[slot].val {
                    return Ok(v.clone());
                }
            }
            match t {
                Token::SingleQuotedString(s) => return Ok(Value::Text(s.as_str().into())),
                Token::Number(n, _) => {
                    if let Ok(i) = n.parse::<i64>() {
                        return Ok(Value::Int(i));
                    }
                }
                Token::Word(w) if w.quote_style.is_none() => {
                    match w.value.to_ascii_lowercase().as_str() {
                        "true" => return Ok(Value::Bool(true)),
                        "false" => return Ok(Value::Bool(false)),
                        "null" => return Ok(Value::Null),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        let (sql, params) = self.substitute(std::slice::from_ref(frag))?;
        let rows = backend.run(format!("SELECT {sql}"), params).await?;
        match rows.rows.as_slice() {
            [] => Ok(Value::Null),
            [one] if one.len() == 1 => Ok(one[0].clone()),
            [_] => Err(err(
                SqlState::SyntaxError,
                format!(
                    "query \"SELECT {sql}\" returned {} columns",
                    rows.columns.len()
                ),
            )),
            _ => Err(err(
                SqlState::CardinalityViolation,
                format!("query \"SELECT {sql}\" returned more than one row"),
            )),
        }
    }

    async fn truth(&mut self, frag: &Frag, backend: &mut Backend<'_, '_>) -> Result<bool, DbError> {
        match self.eval(frag, backend).await? {
            Value::Bool(b) => Ok(b),
            Value::Null => Ok(false),
            other => Err(err(
                SqlState::DatatypeMismatch,
                format!(
                    "argument of IF must be type boolean, not {}",
                    other.type_name()
                ),
            )),
        }
    }

    fn set_found(&mut self, found: bool) {
        if let Some(slot) = self.find("found") {
            self.vars[slot].val = Val::Scalar(Value::Bool(found), Some(SqlType::Bool));
        }
    }

    /// Assigns `value` (a scalar, or a record from `rec`) to `target`.
    fn assign(
        &mut self,
        target: &Target,
        value: Value,
        rec: Option<Option<Rec>>,
    ) -> Result<(), DbError> {
        match target {
            Target::Var(name) => {
                let slot = self.find(name).ok_or_else(|| {
                    err(
                        SqlState::SyntaxError,
                        format!("\"{name}\" is not a known variable"),
                    )
                })?;
                let var = &mut self.vars[slot];
                var.val = match (&var.val, rec) {
                    (Val::Record(_), Some(rec)) => Val::Record(rec),
                    (Val::Record(_), None) if value.is_null() => Val::Record(None),
                    (Val::Record(_), None) => {
                        return Err(unsupported(format!(
                            "assigning a scalar to the record variable {name}"
                        )))
                    }
                    (Val::Scalar(_, ty), Some(rec)) => {
                        let text = rec.map_or(Value::Null, |r| Value::Text(r.text().into()));
                        Val::Scalar(convert(text, *ty)?, *ty)
                    }
                    (Val::Scalar(_, ty), None) => Val::Scalar(convert(value, *ty)?, *ty),
                };
                Ok(())
            }
            Target::Field(name, field) => {
                let slot = self.find(name).ok_or_else(|| {
                    err(
                        SqlState::SyntaxError,
                        format!("\"{name}.{field}\" is not a known variable"),
                    )
                })?;
                let Val::Record(Some(r)) = &mut self.vars[slot].val else {
                    return Err(err(
                        SqlState::Other("55000"),
                        format!("record \"{name}\" is not assigned yet"),
                    ));
                };
                let i = r.names.iter().position(|n| n == field).ok_or_else(|| {
                    err(
                        SqlState::UndefinedColumn,
                        format!("record \"{name}\" has no field \"{field}\""),
                    )
                })?;
                r.values[i] = value;
                Ok(())
            }
        }
    }

    /// A record named by a lone word of `frag` (`r := NEW`), if it is one.
    fn record_named(&self, frag: &Frag) -> Option<Option<Rec>> {
        if frag.len() != 1 {
            return None;
        }
        let slot = self.find(&name_of(&self.f.toks[frag.start].token)?)?;
        match &self.vars[slot].val {
            Val::Record(r) => Some(r.clone()),
            Val::Scalar(..) => None,
        }
    }

    /// Stores a query's first row in the INTO targets (one record target
    /// takes the whole row).
    fn store_into(
        &mut self,
        targets: &[Target],
        strict: bool,
        rows: &super::Rows,
    ) -> Result<(), DbError> {
        if strict && rows.rows.len() != 1 {
            return Err(if rows.rows.is_empty() {
                err(SqlState::Other("P0002"), "query returned no rows")
            } else {
                err(SqlState::Other("P0003"), "query returned more than one row")
            });
        }
        let row = rows.rows.first();
        if let [Target::Var(name)] = targets {
            if let Some(slot) = self.find(name) {
                if let Val::Record(_) = self.vars[slot].val {
                    let rec = row.map(|r| Rec {
                        names: rows.columns.iter().cloned().collect(),
                        values: r.clone(),
                    });
                    self.vars[slot].val = Val::Record(rec);
                    return Ok(());
                }
            }
        }
        for (i, t) in targets.iter().enumerate() {
            let v = row.and_then(|r| r.get(i).cloned()).unwrap_or(Value::Null);
            self.assign(t, v, None)?;
        }
        Ok(())
    }

    fn block<'s>(
        &'s mut self,
        block: &'s Block,
        backend: &'s mut Backend<'_, '_>,
    ) -> Boxed<'s, Flow> {
        Box::pin(async move {
            let depth = self.vars.len();
            for d in &block.decls {
                let val = match d.ty {
                    None => Val::Record(None),
                    Some(ty) => Val::Scalar(Value::Null, Some(ty)),
                };
                let initial = match &d.default {
                    Some(frag) => Some(self.eval(frag, backend).await?),
                    None => None,
                };
                self.vars.push(Var {
                    name: d.name.clone(),
                    val,
                });
                if let Some(v) = initial {
                    self.assign(&Target::Var(d.name.clone()), v, None)?;
                }
            }
            let flow = if block.handlers.is_empty() {
                self.stmts(&block.body, backend).await
            } else {
                self.guarded(block, backend).await
            };
            self.vars.truncate(depth.max(self.vars.len().min(depth)));
            flow
        })
    }

    /// A block with EXCEPTION handlers: its statements in a
    /// subtransaction, which an error a handler catches rolls back
    /// (variables keep their values) before the handler runs.
    async fn guarded(
        &mut self,
        block: &Block,
        backend: &mut Backend<'_, '_>,
    ) -> Result<Flow, DbError> {
        let Backend::Exec(exec) = backend else {
            return Err(unsupported(
                "EXCEPTION WHEN in a function called inside an expression",
            ));
        };
        self.subtransactions += 1;
        let name = format!("plpgsql exception block {}", self.subtransactions);
        exec.tx.sql_savepoint(&name)?;
        let result = self.stmts(&block.body, backend).await;
        let Backend::Exec(exec) = backend else {
            unreachable!("matched above")
        };
        let e = match result {
            Ok(flow) => {
                exec.tx.sql_release_savepoint(&name)?;
                return Ok(flow);
            }
            Err(e) => e,
        };
        let code = e.code.code();
        // OTHERS catches all but a cancel (57014) and ASSERT (P0004).
        let caught = block.handlers.iter().find(|(conditions, _)| {
            conditions.iter().any(|c| match c {
                Some(c) => c == code,
                None => code != "57014" && code != "P0004",
            })
        });
        let Some((_, handler)) = caught else {
            return Err(e);
        };
        exec.tx.sql_rollback_to_savepoint(&name)?;
        exec.tx.sql_release_savepoint(&name)?;
        let depth = self.vars.len();
        let text = |s: &str| Val::Scalar(Value::Text(s.into()), Some(SqlType::Text));
        self.vars.push(Var {
            name: "sqlstate".into(),
            val: text(code),
        });
        self.vars.push(Var {
            name: "sqlerrm".into(),
            val: text(&e.message),
        });
        let flow = self.stmts(handler, backend).await;
        self.vars.truncate(depth);
        flow
    }

    fn stmts<'s>(
        &'s mut self,
        stmts: &'s [Stmt],
        backend: &'s mut Backend<'_, '_>,
    ) -> Boxed<'s, Flow> {
        Box::pin(async move {
            for s in stmts {
                match self.stmt(s, backend).await? {
                    Flow::Next => {}
                    other => return Ok(other),
                }
            }
            Ok(Flow::Next)
        })
    }

    async fn stmt(&mut self, s: &Stmt, backend: &mut Backend<'_, '_>) -> Result<Flow, DbError> {
        match s {
            Stmt::Null => {}
            Stmt::Block(b) => return self.block(b, backend).await,
            Stmt::Assign(target, frag) => {
                if let Some(rec) = self.record_named(frag) {
                    self.assign(target, Value::Null, Some(rec))?;
                } else {
                    let v = self.eval(frag, backend).await?;
                    self.assign(target, v, None)?;
                }
            }
            Stmt::If(arms, otherwise) => {
                for (cond, body) in arms {
                    if self.truth(cond, backend).await? {
                        return self.stmts(body, backend).await;
                    }
                }
                return self.stmts(otherwise, backend).await;
            }
            Stmt::While(cond, body) => return self.repeat(Some(cond), body, backend).await,
            Stmt::Loop(body) => return self.repeat(None, body, backend).await,
            Stmt::ForRange(var, low, high, body) => {
                return self.for_range(var, low, high, body, backend).await
            }
            Stmt::ForQuery(var, query, body) => {
                return self.for_query(var, query, body, backend).await
            }
            Stmt::Exit(exit, cond) => {
                let go = match cond {
                    Some(c) => self.truth(c, backend).await?,
                    None => true,
                };
                if go {
                    return Ok(if *exit { Flow::Exit } else { Flow::Continue });
                }
            }
            Stmt::Return(value) => {
                let Some(frag) = value else {
                    return Ok(Flow::Return(Val::Scalar(Value::Null, None)));
                };
                if let Some(rec) = self.record_named(frag) {
                    return Ok(Flow::Return(Val::Record(rec)));
                }
                let v = self.eval(frag, backend).await?;
                return Ok(Flow::Return(Val::Scalar(v, None)));
            }
            Stmt::Sql { sql, perform, into } => {
                self.run_sql(sql, *perform, into.as_ref(), backend).await?
            }
            Stmt::Execute { query, into, using } => {
                self.execute(query, into.as_ref(), using, backend).await?
            }
            Stmt::RowCount(target) => {
                let n = self.row_count as i64;
                self.assign(target, Value::Int(n), None)?;
            }
            Stmt::Raise(raise) => {
                if raise.exception {
                    return Err(self.raise(raise, backend).await);
                }
            }
        }
        Ok(Flow::Next)
    }

    /// `WHILE cond LOOP` (`cond` given) or a plain `LOOP`: runs the body
    /// until EXIT, RETURN or the condition is false, at most
    /// `LOOP_ITERATIONS_MAX` times.
    async fn repeat(
        &mut self,
        cond: Option<&Frag>,
        body: &[Stmt],
        backend: &mut Backend<'_, '_>,
    ) -> Result<Flow, DbError> {
        for _ in 0..LOOP_ITERATIONS_MAX {
            if let Some(cond) = cond {
                if !self.truth(cond, backend).await? {
                    return Ok(Flow::Next);
                }
            }
            match self.stmts(body, backend).await? {
                Flow::Exit => return Ok(Flow::Next),
                Flow::Return(v) => return Ok(Flow::Return(v)),
                Flow::Next | Flow::Continue => {}
            }
        }
        Err(unsupported(
            "a PL/pgSQL loop of more than a million iterations",
        ))
    }

    /// `FOR var IN low..high LOOP`: the loop variable is an integer of
    /// its own, gone after the loop.
    async fn for_range(
        &mut self,
        var: &str,
        low: &Frag,
        high: &Frag,
        body: &[Stmt],
        backend: &mut Backend<'_, '_>,
    ) -> Result<Flow, DbError> {
        let low = self.eval(low, backend).await?.as_int();
        let high = self.eval(high, backend).await?.as_int();
        let (Some(low), Some(high)) = (low, high) else {
            return Err(err(
                SqlState::Other("22004"),
                "lower bound of FOR loop cannot be null",
            ));
        };
        if high.saturating_sub(low) > LOOP_ITERATIONS_MAX as i64 {
            return Err(unsupported(
                "a PL/pgSQL loop of more than a million iterations",
            ));
        }
        self.vars.push(Var {
            name: var.to_string(),
            val: Val::Scalar(Value::Null, Some(SqlType::Integer)),
        });
        let slot = self.vars.len() - 1;
        let mut flow = Flow::Next;
        for i in low..=high {
            self.vars[slot].val = Val::Scalar(Value::Int(i), Some(SqlType::Integer));
            match self.stmts(body, backend).await? {
                Flow::Exit => break,
                Flow::Return(v) => {
                    flow = Flow::Return(v);
                    break;
                }
                Flow::Next | Flow::Continue => {}
            }
        }
        self.vars.truncate(slot);
        Ok(flow)
    }

    /// `FOR var IN query LOOP`: each row of the query in turn into `var`
    /// (a variable declared in the function).
    async fn for_query(
        &mut self,
        var: &str,
        query: &Frag,
        body: &[Stmt],
        backend: &mut Backend<'_, '_>,
    ) -> Result<Flow, DbError> {
        let rows = self.query(std::slice::from_ref(query), backend).await?;
        self.set_found(!rows.rows.is_empty());
        let target = Target::Var(var.to_string());
        for row in &rows.rows {
            let single = super::Rows::new(rows.columns.clone(), vec![row.clone()]);
            self.store_into(std::slice::from_ref(&target), false, &single)?;
            match self.stmts(body, backend).await? {
                Flow::Exit => break,
                Flow::Return(v) => return Ok(Flow::Return(v)),
                Flow::Next | Flow::Continue => {}
            }
        }
        Ok(Flow::Next)
    }

    /// A SQL statement in the body (PERFORM runs a query for its effects):
    /// sets ROW_COUNT and FOUND, and stores INTO its targets.
    async fn run_sql(
        &mut self,
        sql: &[Frag],
        perform: bool,
        into: Option<&(Vec<Target>, bool)>,
        backend: &mut Backend<'_, '_>,
    ) -> Result<(), DbError> {
        let (text, params) = self.substitute(sql)?;
        let text = if perform {
            format!("SELECT {text}")
        } else {
            text
        };
        let rows = backend.run(text, params).await?;
        let is_query = rows.affected == 0 && !rows.columns.is_empty();
        let count = if is_query || perform {
            rows.rows.len() as u64
        } else {
            rows.affected
        };
        self.row_count = count;
        if let Some((targets, strict)) = into {
            self.store_into(targets, *strict, &rows)?;
        }
        self.set_found(count > 0);
        Ok(())
    }

    /// `EXECUTE`: a query string built at run time, with USING's values
    /// as its parameters; sets ROW_COUNT (not FOUND, as in PostgreSQL).
    async fn execute(
        &mut self,
        query: &Frag,
        into: Option<&(Vec<Target>, bool)>,
        using: &[Frag],
        backend: &mut Backend<'_, '_>,
    ) -> Result<(), DbError> {
        let text = match self.eval(query, backend).await? {
            Value::Null => {
                return Err(err(
                    SqlState::Other("22004"),
                    "query string argument of EXECUTE is null",
                ))
            }
            v => v.to_pg_text().unwrap_or_default(),
        };
        let mut params = Vec::with_capacity(using.len());
        for u in using {
            params.push(self.eval(u, backend).await?);
        }
        let rows = backend.run(text, params).await?;
        self.row_count = if rows.affected > 0 {
            rows.affected
        } else {
            rows.rows.len() as u64
        };
        if let Some((targets, strict)) = into {
            self.store_into(targets, *strict, &rows)?;
        }
        Ok(())
    }

    /// The error `RAISE EXCEPTION` fails with (or the error evaluating it).
    async fn raise(&mut self, raise: &Raise, backend: &mut Backend<'_, '_>) -> DbError {
        let mut code = raise.sqlstate.clone();
        let mut message = None;
        if let Some(format) = &raise.format {
            let mut values = Vec::new();
            for a in &raise.args {
                let v = if let Some(rec) = self.record_named(a) {
                    rec.map_or(Value::Null, |r| Value::Text(r.text().into()))
                } else {
                    match self.eval(a, backend).await {
                        Ok(v) => v,
                        Err(e) => return e,
                    }
                };
                values.push(v);
            }
            let mut out = String::new();
            let mut args = values.iter();
            let mut chars = format.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '%' {
                    if chars.peek() == Some(&'%') {
                        chars.next();
                        out.push('%');
                        continue;
                    }
                    match args.next() {
                        Some(v) => out.push_str(&v.to_pg_text().unwrap_or_else(|| "<NULL>".into())),
                        None => {
                            return err(
                                SqlState::SyntaxError,
                                "too few parameters specified for RAISE",
                            )
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            message = Some(out);
        }
        for (option, frag) in &raise.options {
            let v = match self.eval(frag, backend).await {
                Ok(v) => v.to_pg_text().unwrap_or_default(),
                Err(e) => return e,
            };
            match option.as_str() {
                "errcode" => {
                    code = Some(match condition_code(&v) {
                        Some(c) => c.to_string(),
                        None if v.len() == 5 => v,
                        None => {
                            return err(
                                SqlState::Other("42704"),
                                format!("unrecognized exception condition \"{v}\""),
                            )
                        }
                    })
                }
                "message" => message = Some(v),
                // DETAIL, HINT and the rest do not change the error's code
                // or message.
                _ => {}
            }
        }
        let code = code.unwrap_or_else(|| "P0001".into());
        let message = message.unwrap_or_else(|| code.clone());
        err(SqlState::from_code(&code), message)
    }
}

/// A value assigned to a variable of type `ty`: an assignment cast, as
/// PL/pgSQL casts through text when the types differ.
fn convert(value: Value, ty: Option<SqlType>) -> Result<Value, DbError> {
    match ty {
        None => Ok(value),
        Some(ty) => match coerce(&value, ty) {
            Ok(v) => Ok(v),
            Err(e) => match value.to_pg_text() {
                Some(text) => super::value::parse_text(&text, ty).map_err(|_| e),
                None => Err(e),
            },
        },
    }
}

thread_local! {
    /// The user functions of the database being compiled (see
    /// [`with_functions`]).
    static FUNCTIONS: std::cell::RefCell<std::collections::BTreeMap<String, Arc<Function>>> =
        const { std::cell::RefCell::new(std::collections::BTreeMap::new()) };
}

/// Runs `f` (a synchronous compilation) with `functions` as the user
/// functions in scope.
pub(crate) fn with_functions<R>(
    functions: &std::collections::BTreeMap<String, Arc<Function>>,
    f: impl FnOnce() -> R,
) -> R {
    if functions.is_empty() && FUNCTIONS.with(|t| t.borrow().is_empty()) {
        return f();
    }
    let saved = FUNCTIONS.with(|t| std::mem::replace(&mut *t.borrow_mut(), functions.clone()));
    let out = f();
    FUNCTIONS.with(|t| *t.borrow_mut() = saved);
    out
}

/// The user function `name` of the database being compiled.
pub(crate) fn lookup(name: &str) -> Option<Arc<Function>> {
    FUNCTIONS.with(|t| t.borrow().get(name).cloned())
}

/// Calls `f` inside an expression: with the statement's reads only. A
/// write or lock in it is 0A000; so is a wait (which cannot happen
/// without a write or lock).
pub(crate) fn call_in_expression(
    f: &Function,
    args: Vec<Value>,
    ctx: &Ctx,
) -> Result<Value, DbError> {
    if f.returns == Returns::Trigger {
        return Err(super::triggers::trigger_called(f));
    }
    let mut backend = Backend::Read(ctx);
    let mut future = call(f, args, None, &mut backend);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(result) => result.map(|(v, _)| v),
        std::task::Poll::Pending => Err(unsupported(format!(
            "a wait inside function {} called in an expression",
            f.signature
        ))),
    }
}
