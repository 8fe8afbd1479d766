//! `CREATE TABLE [IF NOT EXISTS] name [(column, ...)] AS query [WITH [NO]
//! DATA]`, as PostgreSQL 15 runs it: the query runs in the creating
//! statement's transaction with its snapshot (so its reads take the SSI
//! predicate locks the same SELECT takes), and its rows fill a new table
//! without a primary key (a heap: see `catalog::ROW_ID`) whose columns
//! have the query's output names (or the list's, for the first ones) and
//! types, resolved as PostgreSQL's parser does (`count(*)` bigint, `sum`
//! of integers bigint, `avg` numeric, integer arithmetic by the wider
//! operand, an untyped literal or NULL text, a column's own type with its
//! length or precision).
//!
//! `SELECT ... INTO name FROM ...` is the same statement.
//!
//! The column types are what the engine can tell of a query over stored
//! tables, WITH queries (SELECTs), VALUES lists (their columns' common
//! type), `generate_series` (its arguments' integer type) and subqueries
//! in FROM (their output's types, resolved the same way); a set
//! operation, a data-modifying WITH query, or a column whose type it
//! cannot tell (an array) is refused with 0A000.

use super::catalog::Table;
use super::cte::Virtual;
use super::expr::{ident, object_name, unsupported, AggFunc, AggSpec, BinOp, Expr, Func};
use super::funcs::Builtin;
use super::plan::{Access, Prepared, SelectPlan};
use super::value::{err, type_of_value, SqlType, Value};
use super::window::WinFunc;
use crate::store::{DbError, SqlState};
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

/// A parsed `CREATE TABLE ... AS`.
#[derive(Clone, Debug)]
pub(crate) struct CreateTableAs {
    pub(crate) name: String,
    pub(crate) if_not_exists: bool,
    /// The column names given before AS (folded).
    pub(crate) columns: Vec<String>,
    /// The query's text.
    pub(crate) query: String,
    /// `WITH NO DATA`: the table is made empty and the query not run.
    pub(crate) with_data: bool,
}

fn word(t: &Token, w: &str) -> bool {
    matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w))
}

fn syntax(message: impl std::fmt::Display) -> DbError {
    err(SqlState::SyntaxError, format!("syntax error: {message}"))
}

/// `sql` as a `CREATE TABLE ... AS` (None: another statement). sqlparser
/// reads neither a column list without types nor `WITH [NO] DATA`, so the
/// statement is cut at its tokens.
pub(crate) fn parse(sql: &str) -> Option<Result<CreateTableAs, DbError>> {
    let mut words = sql.split_whitespace();
    let first = words.next()?;
    if first.eq_ignore_ascii_case("select") {
        return select_into(sql);
    }
    let create = first.eq_ignore_ascii_case("create");
    if !create || !words.next()?.eq_ignore_ascii_case("table") {
        return None;
    }
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql).tokenize().ok()?;
    // Positions of the tokens that are not whitespace.
    let at: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i], Token::Whitespace(_)))
        .collect();
    let tok = |i: usize| at.get(i).map(|&p| &tokens[p]);
    let is = |i: usize, w: &str| tok(i).is_some_and(|t| word(t, w));
    let mut i = 2;
    let if_not_exists = is(2, "IF") && is(3, "NOT") && is(4, "EXISTS");
    if if_not_exists {
        i = 5;
    }
    // The name: words and dots up to `(` or AS.
    let name_start = i;
    while tok(i).is_some_and(|t| matches!(t, Token::Word(_) | Token::Period)) && !is(i, "AS") {
        i += 1;
    }
    if i == name_start {
        return None;
    }
    let name_text: String = (name_start..i).map(|k| tokens[at[k]].to_string()).collect();
    // A column list: names only (a definition has types: not CTAS).
    let mut columns = Vec::new();
    if matches!(tok(i), Some(Token::LParen)) {
        let mut k = i + 1;
        loop {
            match (tok(k), tok(k + 1)) {
                (Some(Token::Word(w)), Some(Token::Comma)) => {
                    columns.push(ident(
                        &w.clone().into_ident(sqlparser::tokenizer::Span::empty()),
                    ));
                    k += 2;
                }
                (Some(Token::Word(w)), Some(Token::RParen)) => {
                    columns.push(ident(
                        &w.clone().into_ident(sqlparser::tokenizer::Span::empty()),
                    ));
                    k += 2;
                    break;
                }
                _ => return None,
            }
        }
        i = k;
    }
    if !is(i, "AS") {
        return None;
    }
    let query_start = i + 1;
    let mut query_end = at.len();
    let mut with_data = true;
    let n = at.len();
    // A trailing semicolon is not the query's.
    let mut last = n;
    while last > query_start && matches!(tok(last - 1), Some(Token::SemiColon)) {
        last -= 1;
    }
    if last >= query_start + 3 && is(last - 3, "WITH") && is(last - 2, "NO") && is(last - 1, "DATA")
    {
        with_data = false;
        query_end = last - 3;
    } else if last >= query_start + 2 && is(last - 2, "WITH") && is(last - 1, "DATA") {
        query_end = last - 2;
    } else {
        query_end = query_end.min(last);
    }
    if query_end <= query_start {
        return Some(Err(syntax("CREATE TABLE ... AS without a query")));
    }
    let query: String = tokens[at[query_start]..=at[query_end - 1]]
        .iter()
        .map(|t| t.to_string())
        .collect();
    let name = Parser::new(&dialect)
        .try_with_sql(&name_text)
        .and_then(|mut p| p.parse_object_name(false))
        .map_err(syntax)
        .and_then(|n| object_name(&n));
    Some(name.map(|name| CreateTableAs {
        name,
        if_not_exists,
        columns,
        query,
        with_data,
    }))
}

/// `SELECT ... INTO [TABLE] name FROM ...`: PostgreSQL's older spelling of
/// `CREATE TABLE name AS SELECT ...` (a temporary or unlogged target is
/// left to the planner's 0A000).
fn select_into(sql: &str) -> Option<Result<CreateTableAs, DbError>> {
    // Every query comes this way: most leave at this scan, without
    // tokenizing.
    if !sql
        .as_bytes()
        .windows(4)
        .any(|w| w.eq_ignore_ascii_case(b"into"))
    {
        return None;
    }
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql).tokenize().ok()?;
    if !tokens.iter().any(|t| word(t, "INTO")) {
        return None;
    }
    let mut parsed = Parser::parse_sql(&dialect, sql).ok()?;
    let Some(ast::Statement::Query(mut query)) = parsed.pop() else {
        return None;
    };
    let ast::SetExpr::Select(select) = query.body.as_mut() else {
        return None;
    };
    let into = select.into.take()?;
    if into.temporary || into.unlogged {
        return None;
    }
    Some(object_name(&into.name).map(|name| CreateTableAs {
        name,
        if_not_exists: false,
        columns: Vec::new(),
        query: query.to_string(),
        with_data: true,
    }))
}

/// The new table's columns: the query's output names, the first ones
/// replaced by the given names, and their types. `statement` is the
/// query: a SELECT, or a WITH statement whose parts are SELECTs.
pub(crate) fn columns(
    statement: &Prepared,
    names: &[String],
) -> Result<Vec<(String, SqlType)>, DbError> {
    let (plan, ctes) = match statement {
        Prepared::Select(plan) => (plan.as_ref(), Vec::new()),
        Prepared::With(with) => {
            let Prepared::Select(main) = &with.main else {
                return Err(not_a_query());
            };
            // Each WITH query's output types, in order: a later one (and
            // the main query) may read an earlier one.
            let mut ctes: Vec<Vec<Option<SqlType>>> = Vec::new();
            for (part, _) in &with.ctes {
                let Prepared::Select(plan) = part else {
                    return Err(unsupported(
                        "CREATE TABLE ... AS of a query with a data-modifying WITH query",
                    ));
                };
                let types = RowTypes::new(plan, &[], &ctes)?;
                ctes.push(plan.output.iter().map(|(_, e)| types.of(e)).collect());
            }
            (main.as_ref(), ctes)
        }
        _ => return Err(not_a_query()),
    };
    if names.len() > plan.output.len() {
        return Err(err(
            SqlState::SyntaxError,
            "too many column names were specified",
        ));
    }
    let types = RowTypes::new(plan, &[], &ctes)?;
    let mut out: Vec<(String, SqlType)> = Vec::new();
    for (i, (name, e)) in plan.output.iter().enumerate() {
        let name = names.get(i).cloned().unwrap_or_else(|| name.clone());
        if out.iter().any(|(n, _)| *n == name) {
            return Err(err(
                SqlState::Other("42701"),
                format!("column \"{name}\" specified more than once"),
            ));
        }
        let ty = types.of(e).ok_or_else(|| {
            unsupported(format!(
                "CREATE TABLE ... AS with a column whose type the engine cannot tell (column \"{name}\")"
            ))
        })?;
        if matches!(ty, SqlType::Array(_)) {
            return Err(unsupported(format!(
                "CREATE TABLE ... AS with an array column (column \"{name}\")"
            )));
        }
        out.push((name, ty));
    }
    Ok(out)
}

/// The type of a `VALUES` column: PostgreSQL's `select_common_type` over
/// its rows' expressions (untyped literals and NULLs take the others'
/// type, text when all are; integers the widest). Ok(None): not known
/// (an expression the engine cannot type); 42804 when two types cannot
/// be matched.
pub(crate) fn common_type(items: &[&Expr]) -> Result<Option<SqlType>, DbError> {
    let types = RowTypes {
        columns: Vec::new(),
        aggs: &[],
    };
    let Some(ty) = types.common(items) else {
        let typed: Vec<SqlType> = items
            .iter()
            .filter(|e| !matches!(e, Expr::Const(Value::Null | Value::Text(_))))
            .filter_map(|e| types.of(e))
            .collect();
        // Two known types of different categories (integer and boolean):
        // PostgreSQL has no implicit cast between them.
        if let Some(pair) = typed.windows(2).find(|w| category(w[0]) != category(w[1])) {
            return Err(err(
                SqlState::Other("42804"),
                format!(
                    "VALUES types {} and {} cannot be matched",
                    pair[0].name(),
                    pair[1].name()
                ),
            ));
        }
        return Ok(None);
    };
    Ok(Some(ty))
}

/// PostgreSQL's type category (`typcategory`): types of one category
/// may be matched by an implicit cast, types of two may not.
fn category(t: SqlType) -> char {
    use SqlType as T;
    match t {
        T::SmallInt | T::Integer | T::BigInt | T::Numeric | T::Decimal(..) => 'N',
        T::Text | T::Varchar(_) | T::Char(_) => 'S',
        T::Bool => 'B',
        T::Date | T::Timestamp | T::LocalTimestamp => 'D',
        T::Interval => 'T',
        T::IntRange | T::TsRange => 'R',
        T::Array(_) => 'A',
        T::Enum(_) => 'E',
        T::Json | T::Uuid => 'U',
    }
}

fn not_a_query() -> DbError {
    unsupported(
        "CREATE TABLE ... AS of a query other than a SELECT (UNION, INTERSECT, EXCEPT, an advisory lock call)",
    )
}

/// The `CREATE TABLE` of the new table (no constraints: PostgreSQL copies
/// none).
pub(crate) fn definition(
    name: &str,
    columns: &[(String, SqlType)],
) -> Result<ast::CreateTable, DbError> {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let qualified = name.split('.').map(quote).collect::<Vec<_>>().join(".");
    let defs = columns
        .iter()
        .map(|(c, ty)| format!("{} {}", quote(c), type_text(*ty)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("CREATE TABLE {qualified} ({defs})");
    let dialect = PostgreSqlDialect {};
    let mut parsed = Parser::parse_sql(&dialect, &sql).map_err(syntax)?;
    match parsed.pop() {
        Some(ast::Statement::CreateTable(create)) => Ok(create),
        _ => Err(syntax("CREATE TABLE")),
    }
}

/// A column type as a `CREATE TABLE` names it.
fn type_text(ty: SqlType) -> String {
    match ty {
        SqlType::Decimal(p, s) => format!("numeric({p},{s})"),
        SqlType::Varchar(n) => format!("varchar({n})"),
        SqlType::Char(n) => format!("char({n})"),
        SqlType::Enum(id) => {
            let name = super::types::enum_def(id).name_static();
            format!("\"{}\"", name.replace('"', "\"\""))
        }
        SqlType::Timestamp => "timestamptz".into(),
        SqlType::LocalTimestamp => "timestamp".into(),
        other => other.name().into(),
    }
}

/// The types of a query's combined row: its tables' columns, then its
/// window functions' values.
pub(super) struct RowTypes<'a> {
    pub(super) columns: Vec<Option<SqlType>>,
    pub(super) aggs: &'a [AggSpec],
}

fn int_rank(ty: SqlType) -> Option<u8> {
    match ty {
        SqlType::SmallInt => Some(0),
        SqlType::Integer => Some(1),
        SqlType::BigInt => Some(2),
        SqlType::Numeric | SqlType::Decimal(..) => Some(3),
        _ => None,
    }
}

fn by_rank(rank: u8) -> SqlType {
    [
        SqlType::SmallInt,
        SqlType::Integer,
        SqlType::BigInt,
        SqlType::Numeric,
    ][rank as usize]
}

impl<'a> RowTypes<'a> {
    /// The types of `plan`'s combined row: `outer` (the enclosing
    /// queries' columns a subquery in FROM may read), then each FROM
    /// item's columns. `ctes`: the output types of the statement's WITH
    /// queries.
    fn of_sources(
        plan: &SelectPlan,
        outer: &[Option<SqlType>],
        ctes: &[Vec<Option<SqlType>>],
    ) -> Result<Vec<Option<SqlType>>, DbError> {
        let mut columns = outer.to_vec();
        let mut sources: Vec<_> = plan.sources.iter().collect();
        sources.sort_by_key(|s| s.offset);
        for s in sources {
            columns.resize(s.offset, None);
            let Access::Virtual(v) = &s.access else {
                columns.extend(s.table.columns.iter().map(|c| Some(c.ty)));
                continue;
            };
            match v.as_ref() {
                Virtual::Cte(n) => {
                    let types = ctes.get(*n).ok_or_else(|| {
                        unsupported(
                            "CREATE TABLE ... AS reading a WITH query of an enclosing query",
                        )
                    })?;
                    columns.extend(types.iter().copied());
                }
                // generate_series' result has its arguments' type
                // (integer, bigint or numeric), which may read the FROM
                // items before it.
                Virtual::Series(start, stop, step) => {
                    let before = RowTypes {
                        columns: columns.clone(),
                        aggs: &[],
                    };
                    let mut args = vec![start, stop];
                    args.extend(step);
                    let ranks: Option<Vec<u8>> = args
                        .iter()
                        .map(|a| before.of(a).and_then(int_rank))
                        .collect();
                    columns.push(ranks.and_then(|r| r.into_iter().max()).map(by_rank));
                }
                Virtual::Values(_, types) => columns.extend(types.iter().copied()),
                Virtual::Derived(inner, outer_width) => {
                    let mut outer = columns.clone();
                    outer.resize(*outer_width, None);
                    let types = RowTypes::new(inner, &outer, ctes)?;
                    columns.extend(inner.output.iter().map(|(_, e)| types.of(e)));
                }
            }
        }
        Ok(columns)
    }

    /// A row of no known columns (for expressions without FROM).
    pub(super) fn empty() -> RowTypes<'static> {
        RowTypes {
            columns: Vec::new(),
            aggs: &[],
        }
    }

    pub(super) fn new(
        plan: &'a SelectPlan,
        outer: &[Option<SqlType>],
        ctes: &[Vec<Option<SqlType>>],
    ) -> Result<RowTypes<'a>, DbError> {
        let mut types = RowTypes {
            columns: Self::of_sources(plan, outer, ctes)?,
            aggs: plan.grouping.as_ref().map_or(&[], |g| &g.aggs),
        };
        for w in &plan.windows {
            let ty = match &w.func {
                WinFunc::RowNumber | WinFunc::Rank | WinFunc::DenseRank => Some(SqlType::BigInt),
                WinFunc::Shift(_) => w.args.first().and_then(|a| types.of(a)),
                WinFunc::Agg(spec) => types.agg(spec),
            };
            types.columns.push(ty);
        }
        Ok(types)
    }

    fn agg(&self, spec: &AggSpec) -> Option<SqlType> {
        let arg = || spec.arg.as_ref().and_then(|a| self.of(a));
        match spec.func {
            AggFunc::CountStar | AggFunc::Count => Some(SqlType::BigInt),
            AggFunc::Sum => match arg()? {
                SqlType::SmallInt | SqlType::Integer => Some(SqlType::BigInt),
                SqlType::BigInt | SqlType::Numeric | SqlType::Decimal(..) => Some(SqlType::Numeric),
                SqlType::Interval => Some(SqlType::Interval),
                _ => None,
            },
            AggFunc::Avg => match arg()? {
                t if int_rank(t).is_some() => Some(SqlType::Numeric),
                SqlType::Interval => Some(SqlType::Interval),
                _ => None,
            },
            // The argument's type without its length or precision.
            AggFunc::Min | AggFunc::Max => arg().map(|t| match t {
                SqlType::Decimal(..) => SqlType::Numeric,
                SqlType::Varchar(_) => SqlType::Text,
                t => t,
            }),
            AggFunc::BoolAnd | AggFunc::BoolOr => Some(SqlType::Bool),
            AggFunc::StringAgg => Some(SqlType::Text),
            AggFunc::ArrayAgg => None,
        }
    }

    /// The common type of `CASE`'s and `COALESCE`'s branches, as
    /// PostgreSQL's `select_common_type`: untyped literals and NULLs take
    /// the others' type; numbers the widest; text otherwise.
    fn common(&self, items: &[&Expr]) -> Option<SqlType> {
        let typed: Vec<SqlType> = items
            .iter()
            .filter(|e| !matches!(e, Expr::Const(Value::Null | Value::Text(_))))
            .map(|e| self.of(e))
            .collect::<Option<_>>()?;
        let Some(&first) = typed.first() else {
            return Some(SqlType::Text);
        };
        if typed.iter().all(|&t| t == first) {
            return Some(first);
        }
        if let Some(ranks) = typed
            .iter()
            .map(|&t| int_rank(t))
            .collect::<Option<Vec<_>>>()
        {
            return ranks.into_iter().max().map(by_rank);
        }
        let text = |t: SqlType| matches!(t, SqlType::Text | SqlType::Varchar(_) | SqlType::Char(_));
        if typed.iter().all(|&t| text(t)) {
            return Some(SqlType::Text);
        }
        None
    }

    /// The type of `e`'s values (None: not known).
    pub(super) fn of(&self, e: &Expr) -> Option<SqlType> {
        match e {
            Expr::Col(i) => self.columns.get(*i).copied().flatten(),
            // An untyped NULL or string literal: text in a new table.
            Expr::Const(Value::Null) => Some(SqlType::Text),
            Expr::Const(Value::Int(v)) => Some(if i32::try_from(*v).is_ok() {
                SqlType::Integer
            } else {
                SqlType::BigInt
            }),
            Expr::Const(Value::Numeric(_)) => Some(SqlType::Numeric),
            Expr::Const(v) => Some(type_of_value(v)),
            Expr::Cast(_, t) => Some(*t),
            Expr::Agg(n) => self.agg(self.aggs.get(*n)?),
            Expr::Neg(a) => self.of(a),
            Expr::Bin(BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod, a, b) => {
                let (ta, tb) = (self.of(a)?, self.of(b)?);
                match (int_rank(ta), int_rank(tb)) {
                    (Some(x), Some(y)) => Some(by_rank(x.max(y))),
                    _ => self.fallback(e),
                }
            }
            Expr::Func(Func::Coalesce | Func::Greatest | Func::Least, args) => {
                self.common(&args.iter().collect::<Vec<_>>())
            }
            Expr::Func(Func::Nullif | Func::Abs, args) => args.first().and_then(|a| self.of(a)),
            // date_trunc of a date promotes it to timestamptz.
            Expr::Call(Builtin::DateTrunc, args) => match self.of(args.get(1)?)? {
                SqlType::Date => Some(SqlType::Timestamp),
                t => Some(t),
            },
            Expr::Case(arms, otherwise) => {
                let mut items: Vec<&Expr> = arms.iter().map(|(_, v)| v).collect();
                if let Some(e) = otherwise {
                    items.push(e);
                }
                self.common(&items)
            }
            _ => self.fallback(e),
        }
    }

    /// What `exprindex::static_type` tells, over a table of these columns
    /// (its rules for what this module does not handle itself).
    fn fallback(&self, e: &Expr) -> Option<SqlType> {
        let names: Vec<String> = (0..self.columns.len()).map(|i| format!("c{i}")).collect();
        let mut table: Table = (*super::cte::virtual_table("row", &names)).clone();
        for (c, ty) in table.columns.iter_mut().zip(&self.columns) {
            // An unknown column: a type no operator rule matches.
            c.ty = ty.unwrap_or(SqlType::Array(&SqlType::Bool));
        }
        let ty = super::exprindex::static_type(e, &table)?;
        (!matches!(ty, SqlType::Array(SqlType::Bool))).then_some(ty)
    }
}
