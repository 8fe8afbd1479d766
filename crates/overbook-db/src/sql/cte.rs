//! `WITH` queries, and the FROM items that are not stored tables: a WITH
//! query's name, `(SELECT ...) alias` and `generate_series(...)`.
//!
//! `WITH a AS (...), b AS (...) <statement>`: each WITH query is a
//! SELECT (with or without a locking clause) or an INSERT, UPDATE or
//! DELETE (with RETURNING to be read), planned in order so that a later
//! one may read an earlier one, and the main statement reads any of them.
//! The whole statement is one statement of the store: one pause point,
//! one snapshot. Its parts run in order, each to completion: every
//! data-modifying WITH query runs exactly once, referenced or not, and a
//! SELECT one runs only when something reads it (PostgreSQL does not run
//! an unreferenced one, so its locks and predicate locks are not taken);
//! its rows are kept for the statement (materialized). As in PostgreSQL,
//! all parts read one snapshot and none sees another's writes: a
//! statement with a data-modifying part reads the transaction's own
//! writes as they were when it started (see
//! `Tx::sql_freeze_own_writes`). Two parts that write the same table are
//! rejected (0A000): PostgreSQL lets only one of two
//! modifications of a row in one statement happen, which the store does
//! not model. `WITH RECURSIVE` is rejected (0A000).
//!
//! sqlparser parses neither `WITH ... DELETE` nor a DELETE inside WITH,
//! so the statement is split into its parts at the token level and each
//! part parsed on its own.

use super::catalog::{Catalog, Column, Index, Table};
use super::exec::{query_rows, Bound, Exec};
use super::expr::{ident, object_name, unsupported, Expr, Scope};
use super::plan::{Access, Planner, Prepared, SelectPlan, Source, Statement};
use super::settings::ScanSettings;
use super::value::{coerce, err, SqlType, Value};
use crate::store::{DbError, Key, Op, SqlState};
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Token, Tokenizer};
use std::sync::Arc;

/// Rows a statement computes rather than reads from a table.
#[derive(Clone, Debug)]
pub(crate) enum Virtual {
    /// The rows of WITH query `n` of the statement.
    Cte(usize),
    /// `generate_series(start, stop [, step])` over integers; the
    /// arguments may read earlier FROM items (a function in FROM is
    /// implicitly LATERAL).
    Series(Expr, Expr, Option<Expr>),
    /// `(SELECT ...) alias`: the query's rows; it may read the enclosing
    /// queries' row (its first `usize` columns), not the FROM items
    /// beside it.
    Derived(Arc<SelectPlan>, usize),
    /// `(VALUES (...), ...) alias` (and a `VALUES` query): each row's
    /// expressions, which may read the enclosing queries' row, and each
    /// column's type as PostgreSQL resolves it over the rows (None: not
    /// known, the values are left as they are).
    Values(Vec<Vec<Expr>>, Vec<Option<SqlType>>),
}

/// A WITH query as the parts after it see it: a table of its name.
#[derive(Clone, Debug)]
pub(crate) struct CteDef {
    pub(crate) name: String,
    pub(crate) table: Arc<Table>,
}

/// A statement with WITH queries.
#[derive(Clone, Debug)]
pub(crate) struct WithPlan {
    /// Each WITH query (SELECT, INSERT, UPDATE or DELETE), in order, and
    /// whether anything reads it.
    pub(crate) ctes: Vec<(Prepared, bool)>,
    /// The statement after them.
    pub(crate) main: Prepared,
}

/// A table whose columns are `columns` and which no key of the store
/// holds: what a FROM item that is not a stored table is to the planner.
/// Its "primary key" is every column, so that grouping by some of them
/// does not make the others groupable.
pub(crate) fn virtual_table(name: &str, columns: &[String]) -> Arc<Table> {
    Arc::new(Table {
        name: name.to_string(),
        columns: columns
            .iter()
            .map(|c| Column {
                name: super::catalog::intern(c),
                ty: SqlType::Text,
                not_null: false,
                default: None,
                serial: false,
                always: false,
                generated: None,
            })
            .collect(),
        indexes: vec![Index {
            name: String::new(),
            columns: (0..columns.len()).collect(),
            unique: false,
            prefix: format!("@virtual:{name}/"),
            constraint: false,
            predicate: None,
            expressions: Vec::new(),
            hash: false,
        }],
        foreign_keys: Vec::new(),
        checks: Vec::new(),
        exclusion: None,
        referenced_by: Vec::new(),
        heap: false,
        partitioning: None,
        triggers: Vec::new(),
        view: None,
    })
}

/// The rows of a virtual FROM item for the partial combined row
/// `partial` (the FROM items before it). Their keys name nothing in the
/// store (a locking clause over such an item is rejected when planned).
pub(crate) fn fetch_virtual(
    v: &Virtual,
    partial: &[Value],
    params: Bound<'_>,
) -> Result<Vec<(Key, Vec<Value>)>, DbError> {
    let key = || Key::raw("@virtual");
    let rows: Vec<Vec<Value>> = match v {
        Virtual::Cte(n) => {
            let ctes = params
                .ctx
                .cte_rows
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match ctes.get(*n) {
                Some(rows) => rows.as_ref().clone(),
                None => {
                    return Err(err(
                        SqlState::Other("XX000"),
                        "a WITH query read before it ran",
                    ))
                }
            }
        }
        Virtual::Series(start, stop, step) => {
            let env = super::expr::Env {
                row: partial,
                params: params.values,
                aggs: &[],
                ctx: params.ctx,
            };
            let int = |e: &Expr| -> Result<Option<i64>, DbError> {
                Ok(coerce(&e.eval(&env)?, SqlType::BigInt)?.as_int())
            };
            let (Some(a), Some(b)) = (int(start)?, int(stop)?) else {
                return Ok(Vec::new());
            };
            let step = match step {
                None => 1,
                Some(s) => match int(s)? {
                    None => return Ok(Vec::new()),
                    Some(0) => {
                        return Err(err(SqlState::Other("22023"), "step size cannot equal zero"))
                    }
                    Some(s) => s,
                },
            };
            let mut out = Vec::new();
            let mut v = a;
            while (step > 0 && v <= b) || (step < 0 && v >= b) {
                out.push(vec![Value::Int(v)]);
                match v.checked_add(step) {
                    Some(next) => v = next,
                    None => break,
                }
            }
            out
        }
        Virtual::Values(rows, types) => {
            let env = super::expr::Env {
                row: partial,
                params: params.values,
                aggs: &[],
                ctx: params.ctx,
            };
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let mut values = Vec::with_capacity(row.len());
                for (e, ty) in row.iter().zip(types) {
                    let v = e.eval(&env)?;
                    values.push(match ty {
                        Some(ty) => coerce(&v, *ty)?,
                        None => v,
                    });
                }
                out.push(values);
            }
            out
        }
        Virtual::Derived(plan, outer_width) => {
            let mut outer: Vec<Value> = partial.iter().take(*outer_width).cloned().collect();
            outer.resize(*outer_width, Value::Null);
            let reader = params
                .ctx
                .reader
                .as_ref()
                .ok_or_else(|| unsupported("a subquery in FROM here"))?;
            query_rows(reader, params, plan, &outer)?
        }
    };
    Ok(rows.into_iter().map(|r| (key(), r)).collect())
}

/// One part of a WITH statement, as text: a WITH query (its name and
/// column names) or the main statement.
struct Part {
    name: Option<String>,
    columns: Vec<String>,
    text: String,
}

/// A statement's tokens, read by the index of its non-whitespace
/// ("solid") tokens.
struct SolidTokens {
    tokens: Vec<Token>,
    /// Indexes in `tokens` of the non-whitespace tokens.
    solid: Vec<usize>,
}

impl SolidTokens {
    fn new(sql: &str) -> Result<SolidTokens, DbError> {
        let dialect = PostgreSqlDialect {};
        let tokens = Tokenizer::new(&dialect, sql)
            .tokenize()
            .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?;
        let solid: Vec<usize> = (0..tokens.len())
            .filter(|&i| !matches!(tokens[i], Token::Whitespace(_)))
            .collect();
        Ok(SolidTokens { tokens, solid })
    }

    /// Whether solid token `s` is the unquoted keyword `w`.
    fn word(&self, s: usize, w: &str) -> bool {
        self.solid.get(s).is_some_and(|&i| {
            matches!(&self.tokens[i], Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w))
        })
    }

    /// Whether solid token `s` is `t`.
    fn is(&self, s: usize, t: &Token) -> bool {
        self.solid.get(s).is_some_and(|&i| &self.tokens[i] == t)
    }

    /// The text of the tokens `from..to` (indexes in `tokens`).
    fn text(&self, from: usize, to: usize) -> String {
        self.tokens[from..to]
            .iter()
            .map(|t| t.to_string())
            .collect()
    }

    /// The index in `solid` of the parenthesis closing the one at `open`.
    fn closing(&self, open: usize) -> Result<usize, DbError> {
        let mut depth = 0;
        for (s, &i) in self.solid.iter().enumerate().skip(open) {
            match self.tokens[i] {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(s);
                    }
                }
                _ => {}
            }
        }
        Err(with_syntax("a closing parenthesis"))
    }

    /// The name solid token `s` spells, if it is a word (folded to lower
    /// case unless quoted).
    fn name_at(&self, s: usize) -> Option<String> {
        self.solid.get(s).and_then(|&i| match &self.tokens[i] {
            Token::Word(w) if w.quote_style.is_some() => Some(w.value.clone()),
            Token::Word(w) => Some(w.value.to_ascii_lowercase()),
            _ => None,
        })
    }
}

/// A syntax error in a WITH clause, where `what` was expected.
fn with_syntax(what: &str) -> DbError {
    err(
        SqlState::SyntaxError,
        format!("syntax error in WITH: expected {what}"),
    )
}

/// Splits `WITH a [(cols)] AS [[NOT] MATERIALIZED] (...), ... main` into
/// its parts.
fn split(sql: &str) -> Result<Vec<Part>, DbError> {
    let t = SolidTokens::new(sql)?;
    if !t.word(0, "WITH") {
        return Err(with_syntax("WITH"));
    }
    if t.word(1, "RECURSIVE") {
        return Err(unsupported("WITH RECURSIVE"));
    }
    let mut parts = Vec::new();
    let mut s = 1;
    loop {
        let name = t
            .name_at(s)
            .ok_or_else(|| with_syntax("a WITH query's name"))?;
        s += 1;
        let mut columns = Vec::new();
        if t.is(s, &Token::LParen) {
            let close = t.closing(s)?;
            for k in s + 1..close {
                if t.is(k, &Token::Comma) {
                    continue;
                }
                columns.push(t.name_at(k).ok_or_else(|| with_syntax("a column name"))?);
            }
            s = close + 1;
        }
        if !t.word(s, "AS") {
            return Err(with_syntax("AS"));
        }
        s += 1;
        if t.word(s, "NOT") && t.word(s + 1, "MATERIALIZED") {
            s += 2;
        } else if t.word(s, "MATERIALIZED") {
            s += 1;
        }
        if !t.is(s, &Token::LParen) {
            return Err(with_syntax("a parenthesized query"));
        }
        let close = t.closing(s)?;
        parts.push(Part {
            name: Some(name),
            columns,
            text: t.text(t.solid[s] + 1, t.solid[close]),
        });
        s = close + 1;
        if t.is(s, &Token::Comma) {
            s += 1;
            continue;
        }
        break;
    }
    let start = t
        .solid
        .get(s)
        .copied()
        .ok_or_else(|| with_syntax("a statement"))?;
    parts.push(Part {
        name: None,
        columns: Vec::new(),
        text: t.text(start, t.tokens.len()),
    });
    Ok(parts)
}

/// Plans a statement that starts with WITH.
pub(crate) fn prepare_with(
    sql: &str,
    catalog: &Catalog,
    scans: ScanSettings,
) -> Result<Statement, DbError> {
    let parts = split(sql)?;
    let mut ctes: Vec<CteDef> = Vec::new();
    let mut plans: Vec<Prepared> = Vec::new();
    let mut params = 0;
    let mut relation_locks: Vec<(String, crate::store::TableLockMode)> = Vec::new();
    let mut advisory_calls = Vec::new();
    for part in &parts {
        let mut planner = Planner::new(catalog, scans);
        planner.params = params;
        planner.ctes = Arc::new(ctes.clone());
        let prepared = planner.part(&part.text)?;
        params = planner.params;
        for lock in planner.relation_locks(&prepared) {
            if !relation_locks.contains(&lock) {
                relation_locks.push(lock);
            }
        }
        advisory_calls.append(&mut planner.advisory_calls);
        let output: Vec<String> = match &prepared {
            Prepared::Select(p) => p.output.iter().map(|(n, _)| n.clone()).collect(),
            Prepared::Insert(p) => names(p.returning.as_ref()),
            Prepared::Update(p) => names(p.returning.as_ref()),
            Prepared::Delete(p) => names(p.returning.as_ref()),
            _ => {
                return Err(unsupported(
                    "a WITH query or statement other than SELECT, INSERT, UPDATE or DELETE",
                ))
            }
        };
        if let Some(name) = &part.name {
            if ctes.iter().any(|c| &c.name == name) {
                return Err(err(
                    SqlState::Other("42712"),
                    format!("WITH query name \"{name}\" specified more than once"),
                ));
            }
            let columns = if part.columns.is_empty() {
                output
            } else if part.columns.len() > output.len() {
                return Err(err(
                    SqlState::Other("42P10"),
                    format!(
                        "WITH query \"{name}\" has {} columns available but {} columns specified",
                        output.len(),
                        part.columns.len()
                    ),
                ));
            } else {
                let mut columns = part.columns.clone();
                columns.extend(output.into_iter().skip(part.columns.len()));
                columns
            };
            ctes.push(CteDef {
                name: name.clone(),
                table: virtual_table(name, &columns),
            });
        }
        plans.push(prepared);
    }
    let main = plans.pop().expect("the main statement is a part");
    check_separate_tables(&plans, &main)?;
    let mut read = vec![false; plans.len()];
    for p in plans.iter().chain(std::iter::once(&main)) {
        each_source(p, &mut |src| {
            if let Access::Virtual(v) = &src.access {
                if let Virtual::Cte(n) = v.as_ref() {
                    read[*n] = true;
                }
            }
        });
    }
    Ok(Statement {
        kind: Prepared::With(Box::new(WithPlan {
            ctes: plans.into_iter().zip(read).collect(),
            main,
        })),
        params,
        relation_locks: relation_locks.into(),
        advisory_calls,
    })
}

fn names(list: Option<&Vec<(String, Expr)>>) -> Vec<String> {
    list.map_or_else(Vec::new, |l| l.iter().map(|(n, _)| n.clone()).collect())
}

/// The table a data-modifying statement writes.
fn written(p: &Prepared) -> Option<&str> {
    match p {
        Prepared::Insert(p) => Some(&p.table.name),
        Prepared::Update(p) => Some(&p.source.table.name),
        Prepared::Delete(p) => Some(&p.source.table.name),
        _ => None,
    }
}

/// Two parts of a WITH statement may not write rows of one table
/// (0A000): PostgreSQL lets only one of two modifications of a row in one
/// statement take effect, which the store does not model. (A part that
/// locks rows another part writes is fine: a transaction's own row lock
/// does not stand in its way.)
fn check_separate_tables(ctes: &[Prepared], main: &Prepared) -> Result<(), DbError> {
    let parts: Vec<&Prepared> = ctes.iter().chain(std::iter::once(main)).collect();
    for (i, p) in parts.iter().enumerate() {
        let Some(table) = written(p) else { continue };
        for (j, q) in parts.iter().enumerate() {
            if i != j && written(q) == Some(table) {
                return Err(unsupported(format!(
                    "a WITH statement in which two parts write table \"{table}\""
                )));
            }
        }
    }
    Ok(())
}

/// Calls `f` on every FROM item a statement reads, those of its
/// subqueries and derived tables included.
pub(crate) fn each_source(p: &Prepared, f: &mut dyn FnMut(&Source)) {
    let mut exprs: Vec<&Expr> = Vec::new();
    match p {
        Prepared::Select(s) => select_sources(s, f),
        Prepared::Insert(i) => {
            if let Some(s) = &i.select {
                select_sources(s, f);
            }
            exprs.extend(i.rows.iter().flatten());
            exprs.extend(i.returning.iter().flatten().map(|(_, e)| e));
        }
        Prepared::Update(u) => {
            f(&u.source);
            u.from.iter().for_each(|s| source_and_below(s, f));
            exprs.extend(u.filter.iter());
            exprs.extend(u.sets.iter().map(|(_, e)| e));
            exprs.extend(u.returning.iter().flatten().map(|(_, e)| e));
        }
        Prepared::Delete(d) => {
            f(&d.source);
            d.using.iter().for_each(|s| source_and_below(s, f));
            exprs.extend(d.filter.iter());
            exprs.extend(d.returning.iter().flatten().map(|(_, e)| e));
        }
        _ => {}
    }
    for e in exprs {
        expr_sources(e, f);
    }
}

fn source_and_below(src: &Source, f: &mut dyn FnMut(&Source)) {
    f(src);
    if let Access::Virtual(v) = &src.access {
        match v.as_ref() {
            Virtual::Derived(plan, _) => select_sources(plan, f),
            Virtual::Values(rows, _) => rows.iter().flatten().for_each(|e| expr_sources(e, f)),
            _ => {}
        }
    }
}

fn select_sources(plan: &SelectPlan, f: &mut dyn FnMut(&Source)) {
    plan.sources.iter().for_each(|s| source_and_below(s, f));
    let mut exprs: Vec<&Expr> = plan.filter.iter().collect();
    exprs.extend(plan.output.iter().map(|(_, e)| e));
    if let Some(g) = &plan.grouping {
        exprs.extend(g.having.iter());
    }
    for e in exprs {
        expr_sources(e, f);
    }
}

fn expr_sources(e: &Expr, f: &mut dyn FnMut(&Source)) {
    let mut plans: Vec<Arc<SelectPlan>> = Vec::new();
    e.visit(&mut |x| {
        if let Expr::Subquery(sub) = x {
            plans.push(sub.plan.clone());
        }
    });
    for plan in plans {
        select_sources(&plan, f);
    }
}

impl Exec<'_> {
    /// Runs a WITH statement: one store statement, its parts in order.
    pub(crate) async fn with(&mut self, plan: &WithPlan) -> Result<super::Rows, DbError> {
        let writes = plan
            .ctes
            .iter()
            .map(|(p, _)| p)
            .chain(std::iter::once(&plan.main))
            .any(|p| written(p).is_some() || matches!(p, Prepared::Select(s) if s.lock.is_some()));
        let op = if writes { Op::Update } else { Op::Scan };
        self.tx.sql_start(op, None, None).await?;
        if plan.ctes.iter().any(|(p, _)| written(p).is_some()) {
            self.tx.sql_freeze_own_writes();
        }
        for (part, read) in &plan.ctes {
            let rows = match part {
                Prepared::Select(s) if *read => self.select_body(s).await?.rows,
                // Nothing reads it: PostgreSQL does not run it.
                Prepared::Select(_) => Vec::new(),
                other => self.part(other).await?.rows,
            };
            self.params
                .ctx
                .cte_rows
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Arc::new(rows));
        }
        self.part(&plan.main).await
    }

    async fn part(&mut self, p: &Prepared) -> Result<super::Rows, DbError> {
        match p {
            Prepared::Select(s) => self.select_body(s).await,
            Prepared::Insert(i) => self.insert_body(i).await,
            Prepared::Update(u) => self.update_body(u).await,
            Prepared::Delete(d) => self.delete_body(d).await,
            _ => Err(unsupported("this statement in WITH")),
        }
    }
}

impl Planner<'_> {
    /// A FROM item: a stored table, a WITH query's name, `(SELECT ...)
    /// alias` or `generate_series(...) [alias]`, with the name it goes by.
    /// `scope`: the FROM items before it (what a function's arguments may
    /// read).
    pub(crate) fn plan_from_item(
        &mut self,
        factor: &ast::TableFactor,
        scope: &Scope,
    ) -> Result<(Arc<Table>, String), DbError> {
        use ast::TableFactor as F;
        match factor {
            F::Table {
                name,
                alias,
                args: None,
                ..
            } if name.0.len() == 1 => {
                let n = object_name(name)?;
                let Some(slot) = self.ctes.iter().rposition(|c| c.name == n) else {
                    return self.relation(factor);
                };
                let table = self.ctes[slot].table.clone();
                let alias = match alias {
                    Some(a) if a.columns.is_empty() => ident(&a.name),
                    Some(_) => return Err(unsupported("column aliases on a WITH query")),
                    None => n,
                };
                self.virtuals.push((table.clone(), Virtual::Cte(slot)));
                Ok((table, alias))
            }
            F::Table {
                name,
                alias,
                args: Some(args),
                ..
            } if object_name(name)? == "generate_series" => {
                self.series_item(factor, args, alias.as_ref(), scope)
            }
            F::Derived {
                lateral: false,
                subquery,
                alias,
            } => self.derived_item(subquery, alias.as_ref(), scope),
            _ => self.relation(factor),
        }
    }

    /// `generate_series(start, stop [, step]) [alias [(column)]]` in FROM.
    fn series_item(
        &mut self,
        factor: &ast::TableFactor,
        args: &ast::TableFunctionArgs,
        alias: Option<&ast::TableAlias>,
        scope: &Scope,
    ) -> Result<(Arc<Table>, String), DbError> {
        let mut compiled = Vec::new();
        for a in &args.args {
            match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                    compiled.push(self.series_argument(scope, e)?)
                }
                _ => return Err(unsupported(format!("the FROM item {factor}"))),
            }
        }
        let mut compiled = compiled.into_iter();
        let (Some(start), Some(stop), step, None) = (
            compiled.next(),
            compiled.next(),
            compiled.next(),
            compiled.next(),
        ) else {
            return Err(err(
                SqlState::UndefinedFunction,
                format!("function {factor} does not exist"),
            ));
        };
        let (alias, column) = match alias {
            None => ("generate_series".to_string(), "generate_series".to_string()),
            Some(a) => {
                let name = ident(&a.name);
                let column = a.columns.first().map_or(name.clone(), |c| ident(&c.name));
                (name, column)
            }
        };
        let table = virtual_table(&alias, &[column]);
        self.virtuals
            .push((table.clone(), Virtual::Series(start, stop, step)));
        Ok((table, alias))
    }

    /// `(SELECT ...) alias [(columns)]` or `(VALUES ...) alias` in FROM.
    fn derived_item(
        &mut self,
        subquery: &ast::Query,
        alias: Option<&ast::TableAlias>,
        scope: &Scope,
    ) -> Result<(Arc<Table>, String), DbError> {
        let Some(alias) = alias else {
            return Err(err(
                SqlState::SyntaxError,
                "subquery in FROM must have an alias",
            ));
        };
        // It sees the enclosing queries, not the FROM items
        // beside it.
        let mut outer = scope.clone();
        match outer.levels.pop() {
            Some(start) => outer.sources.truncate(start),
            None => outer.sources.clear(),
        }
        if let ast::SetExpr::Values(values) = subquery.body.as_ref() {
            if subquery.with.is_none()
                && subquery.order_by.is_none()
                && subquery.limit.is_none()
                && subquery.offset.is_none()
                && subquery.locks.is_empty()
            {
                return self.values_item(values, alias, &outer);
            }
        }
        let plan = self.subquery(subquery, &outer)?;
        if plan.lock.is_some() {
            return Err(unsupported("FOR UPDATE / FOR SHARE in a subquery in FROM"));
        }
        let mut columns: Vec<String> = plan.output.iter().map(|(n, _)| n.clone()).collect();
        if alias.columns.len() > columns.len() {
            return Err(err(
                SqlState::Other("42P10"),
                format!(
                    "table \"{}\" has {} columns available but {} columns specified",
                    ident(&alias.name),
                    columns.len(),
                    alias.columns.len()
                ),
            ));
        }
        for (c, a) in columns.iter_mut().zip(&alias.columns) {
            *c = ident(&a.name);
        }
        let name = ident(&alias.name);
        let table = virtual_table(&name, &columns);
        self.virtuals.push((
            table.clone(),
            Virtual::Derived(Arc::new(plan), outer.width()),
        ));
        Ok((table, name))
    }
}

impl Planner<'_> {
    /// A `generate_series` argument. A cast literal (`1::bigint`) stays a
    /// cast, as the compiler would fold it to a constant whose type no
    /// longer says which `generate_series` PostgreSQL picks (its result
    /// type, for CREATE TABLE ... AS).
    fn series_argument(&mut self, scope: &Scope, e: &ast::Expr) -> Result<Expr, DbError> {
        let compiled = self.compile(scope, e)?;
        let mut inner = e;
        while let ast::Expr::Nested(x) = inner {
            inner = x;
        }
        if let (ast::Expr::Cast { data_type, .. }, Expr::Const(_)) = (inner, &compiled) {
            let ty = super::expr::type_of(data_type)?;
            return Ok(Expr::Cast(Box::new(compiled), ty));
        }
        Ok(compiled)
    }

    /// `(VALUES (...), ...) alias [(columns)]`: a FROM item whose columns
    /// are `column1`, `column2`, ... (or the alias's names), each of the
    /// type PostgreSQL resolves over its rows (`select_common_type`).
    fn values_item(
        &mut self,
        values: &ast::Values,
        alias: &ast::TableAlias,
        outer: &Scope,
    ) -> Result<(Arc<Table>, String), DbError> {
        if values.explicit_row {
            return Err(unsupported("VALUES ROW(...)"));
        }
        let mut rows: Vec<Vec<Expr>> = Vec::with_capacity(values.rows.len());
        for row in &values.rows {
            let compiled = row
                .iter()
                .map(|e| self.compile(outer, e))
                .collect::<Result<Vec<_>, _>>()?;
            if rows
                .first()
                .is_some_and(|first| first.len() != compiled.len())
            {
                return Err(err(
                    SqlState::SyntaxError,
                    "VALUES lists must all be the same length",
                ));
            }
            rows.push(compiled);
        }
        let width = rows.first().map_or(0, Vec::len);
        let types: Vec<Option<SqlType>> = (0..width)
            .map(|c| {
                let column: Vec<&Expr> = rows.iter().map(|r| &r[c]).collect();
                super::ctas::common_type(&column)
            })
            .collect::<Result<_, _>>()?;
        let mut columns: Vec<String> = (1..=width).map(|i| format!("column{i}")).collect();
        if alias.columns.len() > columns.len() {
            return Err(err(
                SqlState::Other("42P10"),
                format!(
                    "table \"{}\" has {} columns available but {} columns specified",
                    ident(&alias.name),
                    columns.len(),
                    alias.columns.len()
                ),
            ));
        }
        for (c, a) in columns.iter_mut().zip(&alias.columns) {
            *c = ident(&a.name);
        }
        let name = ident(&alias.name);
        let table = virtual_table(&name, &columns);
        self.virtuals
            .push((table.clone(), Virtual::Values(rows, types)));
        Ok((table, name))
    }
}

/// The name of the column a `generate_series(...)` in a select list
/// becomes (its output is named `generate_series`, as PostgreSQL names it).
const SERIES_COLUMN: &str = "generate_series";

/// Replaces the one `generate_series(...)` call inside `e` (through
/// operators, parentheses and casts) by a reference to the series column,
/// returning the call's arguments.
fn take_series(e: &mut ast::Expr, found: &mut Vec<Vec<ast::FunctionArg>>) {
    use ast::Expr as E;
    match e {
        E::Function(f) if matches!(object_name(&f.name).as_deref(), Ok(SERIES_COLUMN)) => {
            if let ast::FunctionArguments::List(list) = &f.args {
                found.push(list.args.clone());
                *e = E::Identifier(ast::Ident::with_quote('"', SERIES_COLUMN));
            }
        }
        E::BinaryOp { left, right, .. } => {
            take_series(left, found);
            take_series(right, found);
        }
        E::Nested(inner) | E::UnaryOp { expr: inner, .. } | E::Cast { expr: inner, .. } => {
            take_series(inner, found)
        }
        _ => {}
    }
}

impl Planner<'_> {
    /// `SELECT generate_series(a, b [, step]) ...`: a set-returning function
    /// in the select list makes one output row per value for each row of
    /// the FROM list, which is a function item joined after the FROM items
    /// (WHERE cannot read it). One such call per select list.
    pub(crate) fn select_list_series(
        &mut self,
        scope: &mut Scope,
        projection: &mut [ast::SelectItem],
    ) -> Result<(), DbError> {
        let mut found = Vec::new();
        for item in projection.iter_mut() {
            match item {
                ast::SelectItem::UnnamedExpr(e)
                | ast::SelectItem::ExprWithAlias { expr: e, .. } => take_series(e, &mut found),
                _ => {}
            }
        }
        let Some(args) = found.first() else {
            return Ok(());
        };
        if found.len() > 1
            || projection.iter().any(|i| {
                matches!(
                    i,
                    ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..)
                )
            })
        {
            return Err(unsupported(
                "generate_series() more than once in a select list, or beside *",
            ));
        }
        let mut compiled = Vec::new();
        for a in args {
            match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                    compiled.push(self.series_argument(scope, e)?)
                }
                _ => return Err(unsupported("named arguments of generate_series()")),
            }
        }
        let mut compiled = compiled.into_iter();
        let (Some(start), Some(stop), step, None) = (
            compiled.next(),
            compiled.next(),
            compiled.next(),
            compiled.next(),
        ) else {
            return Err(err(
                SqlState::UndefinedFunction,
                "function generate_series with these arguments does not exist",
            ));
        };
        let table = virtual_table("@series", &[SERIES_COLUMN.to_string()]);
        self.virtuals
            .push((table.clone(), Virtual::Series(start, stop, step)));
        scope.add("@series", table);
        Ok(())
    }
}
