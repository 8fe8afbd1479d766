//! Expression indexes: `CREATE [UNIQUE] INDEX ... ON t (lower(email))`,
//! `(lower(a), b)`, `((a + b))`, `(date_trunc('day', starts_at))`, with
//! or without a partial index's `WHERE`.
//!
//! An expression index's key is its expressions' values over the row (see
//! `Table::key_values`), encoded as a column index's key is, so the
//! store's key machinery does the rest as for columns: a unique one
//! waits for an uncommitted entry with the same value and fails with
//! 23505 (40001 at Serializable after a read of that value), a lookup by
//! the indexed expression (`WHERE lower(email) = $1`) reads one key or
//! range of the index and so takes the index-range SIREAD lock that
//! stands for PostgreSQL's btree page locks, and `ON CONFLICT
//! (lower(email))` infers the index by its expressions.
//!
//! As in PostgreSQL, an index expression may call only immutable
//! functions (42P17 otherwise): `now()`, `random()`, and what depends on
//! the session's time zone or date style, such as `date_trunc` of a
//! `timestamptz` or a `timestamptz` cast to `date` or `text` (the
//! volatility of each built-in and cast is PostgreSQL 15's `pg_proc`).
//! PostgreSQL's rule that an expression index is not a key for foreign
//! keys or `FOR KEY SHARE` holds because its `columns` are empty.

use super::catalog::{Index, Table};
use super::expr::{ident, unsupported, BinOp, Compiler, Expr, Func, Scope};
use super::funcs::{Builtin, Ctx};
use super::plan::Planner;
use super::value::{coerce, err, type_of_value, SqlType, Value};
use crate::store::{DbError, SqlState};
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};
use std::sync::Arc;

/// One key column of an expression index.
#[derive(Clone, Debug)]
pub(crate) struct KeyPart {
    /// Over the table's columns (a plain column is `Expr::Col`).
    pub(crate) expr: Expr,
    /// The type of the expression's value, where the table's column types
    /// tell it: what a lookup's bound is coerced to, so that it encodes as
    /// the stored entries do. `None`: the index is kept and enforced but a
    /// query never reads through this part (a sequential scan answers).
    pub(crate) ty: Option<SqlType>,
}

/// The key of a new index as written: its columns when every element is
/// a plain column, else its expressions (and no columns), and the name
/// PostgreSQL gives each element for the index's default name.
pub(crate) struct KeyDef {
    pub(crate) columns: Vec<usize>,
    pub(crate) expressions: Vec<KeyPart>,
    pub(crate) names: Vec<String>,
}

fn undefined_column(name: &str) -> DbError {
    err(
        SqlState::UndefinedColumn,
        format!("column \"{name}\" does not exist"),
    )
}

/// The plain column an index element names (`email`, `(email)`), if it
/// is one: PostgreSQL makes a parenthesized column a plain key column.
fn plain_column(e: &ast::Expr) -> Option<String> {
    match e {
        ast::Expr::Identifier(i) => Some(ident(i)),
        ast::Expr::Nested(inner) => plain_column(inner),
        _ => None,
    }
}

/// The name PostgreSQL's `FigureIndexColname` gives an index element, for
/// the index's default name: a column's name, a function's name, a cast's
/// operand's name or else its type's, and `expr` for anything else.
fn element_name(e: &ast::Expr) -> Option<String> {
    use ast::Expr as E;
    match e {
        E::Identifier(i) => Some(ident(i)),
        E::CompoundIdentifier(parts) => parts.last().map(ident),
        E::Nested(inner) => element_name(inner),
        E::Function(f) => f.name.0.last().map(|p| match p {
            ast::ObjectNamePart::Identifier(i) => ident(i),
        }),
        E::Cast {
            expr, data_type, ..
        } => element_name(expr).or_else(|| {
            let text = data_type.to_string().to_ascii_lowercase();
            Some(text.split(['(', ' ']).next().unwrap_or("expr").to_string())
        }),
        E::Extract { .. } => Some("extract".to_string()),
        E::Substring { .. } => Some("substring".to_string()),
        E::Position { .. } => Some("position".to_string()),
        E::Ceil { .. } => Some("ceil".to_string()),
        E::Floor { .. } => Some("floor".to_string()),
        E::Trim { .. } => Some("btrim".to_string()),
        E::Case { .. } => Some("case".to_string()),
        _ => None,
    }
}

/// The key of `CREATE INDEX ... ON table (elements)`, each element a
/// column or an immutable expression over the table's columns.
pub(crate) fn key_def(
    table_name: &str,
    table: &Arc<Table>,
    elements: &[ast::OrderByExpr],
) -> Result<KeyDef, DbError> {
    let mut parts = Vec::with_capacity(elements.len());
    let mut names: Vec<String> = Vec::with_capacity(elements.len());
    let mut all_plain = true;
    for element in elements {
        if element.options.asc == Some(false) || element.options.nulls_first.is_some() {
            return Err(unsupported("DESC / NULLS FIRST index columns"));
        }
        let part = match plain_column(&element.expr) {
            Some(name) => {
                let c = table
                    .column_index(&name)
                    .filter(|&c| c < table.visible())
                    .ok_or_else(|| undefined_column(&name))?;
                KeyPart {
                    expr: Expr::Col(c),
                    ty: Some(table.columns[c].ty),
                }
            }
            None => {
                all_plain = false;
                let expr = index_expression(table_name, table, &element.expr)?;
                let ty = static_type(&expr, table);
                KeyPart { expr, ty }
            }
        };
        // Later elements of the same name get a number, as PostgreSQL's
        // ChooseIndexColumnNames does (`lower`, `lower1`).
        let base = element_name(&element.expr).unwrap_or_else(|| "expr".to_string());
        let mut name = base.clone();
        let mut n = 0;
        while names.contains(&name) {
            n += 1;
            name = format!("{base}{n}");
        }
        names.push(name);
        parts.push(part);
    }
    if all_plain {
        let columns = parts
            .iter()
            .map(|p| match p.expr {
                Expr::Col(c) => c,
                _ => unreachable!("every part is a plain column"),
            })
            .collect();
        return Ok(KeyDef {
            columns,
            expressions: Vec::new(),
            names,
        });
    }
    Ok(KeyDef {
        columns: Vec::new(),
        expressions: parts,
        names,
    })
}

/// The default name of an index on `table` whose elements are named
/// `names`: `table_names_idx`, then `table_names_idx1`, ... past the
/// names `taken` says are used (PostgreSQL's ChooseRelationName).
pub(crate) fn default_name(table: &str, names: &[String], taken: impl Fn(&str) -> bool) -> String {
    let base = format!("{table}_{}_idx", names.join("_"));
    let mut name = base.clone();
    let mut n = 0;
    while taken(&name) {
        n += 1;
        name = format!("{base}{n}");
    }
    name
}

/// Functions PostgreSQL has as volatile or stable that the simulated
/// engine does not run: an index expression calling one is 42P17 on
/// PostgreSQL (its volatility is checked, not the function run), not the
/// 0A000 the engine gives for the function elsewhere.
const NOT_IMMUTABLE_ELSEWHERE: &[&str] = &[
    "random",
    "nextval",
    "currval",
    "lastval",
    "setval",
    "timeofday",
    "txid_current",
    "pg_current_xact_id",
    "current_setting",
    "set_config",
    "to_char",
    "to_date",
    "format",
    "pg_sleep",
    "json_build_object",
    "jsonb_agg",
    "version",
];

/// Whether the expression text calls one of `NOT_IMMUTABLE_ELSEWHERE`.
fn calls_unsupported_mutable(e: &ast::Expr) -> bool {
    let dialect = PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, &e.to_string()).tokenize() else {
        return false;
    };
    let solid: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .collect();
    solid.windows(2).any(|w| {
        matches!((w[0], w[1]), (Token::Word(word), Token::LParen)
            if word.quote_style.is_none()
                && NOT_IMMUTABLE_ELSEWHERE.contains(&word.value.to_ascii_lowercase().as_str()))
    })
}

/// Compiles one index expression over the table's columns, with
/// PostgreSQL's errors: 42P02 for a parameter, 42803 for an aggregate,
/// 0A000 for a subquery, 42P17 for a function that is not immutable.
fn index_expression(table_name: &str, table: &Arc<Table>, e: &ast::Expr) -> Result<Expr, DbError> {
    let mut scope = Scope::default();
    scope.add(table_name, table.clone());
    let mut c = Compiler::new(&scope);
    let expr = match c.compile(e) {
        Ok(expr) => expr,
        Err(e2) if e2.code == SqlState::GroupingError => {
            return Err(err(
                SqlState::GroupingError,
                "aggregate functions are not allowed in index expressions",
            ))
        }
        Err(e2) if e2.code == SqlState::FeatureNotSupported && calls_unsupported_mutable(e) => {
            return Err(not_immutable("expression"))
        }
        Err(e2) => return Err(e2),
    };
    if c.params > 0 {
        return Err(err(
            SqlState::Other("42P02"),
            "there is no parameter $1".to_string(),
        ));
    }
    if expr.has_subquery() {
        return Err(unsupported("a subquery in an index expression"));
    }
    let mut user = false;
    expr.visit(&mut |x| user |= matches!(x, Expr::UserCall(..)));
    if user {
        return Err(unsupported("a user function in an index expression"));
    }
    if non_immutable(&expr, table) {
        return Err(not_immutable("expression"));
    }
    Ok(expr)
}

/// PostgreSQL's 42P17 for an index `expression` or `predicate` that
/// calls a function not marked immutable.
pub(crate) fn not_immutable(what: &str) -> DbError {
    err(
        SqlState::Other("42P17"),
        format!("functions in index {what} must be marked IMMUTABLE"),
    )
}

fn is_textual(ty: SqlType) -> bool {
    matches!(ty, SqlType::Text | SqlType::Varchar(_) | SqlType::Char(_))
}

/// Types whose text output PostgreSQL marks stable (it reads DateStyle,
/// IntervalStyle or the time zone, or the enum's catalog).
fn output_is_stable(ty: SqlType) -> bool {
    matches!(
        ty,
        SqlType::Date
            | SqlType::Timestamp
            | SqlType::LocalTimestamp
            | SqlType::Interval
            | SqlType::IntRange
            | SqlType::TsRange
            | SqlType::Enum(_)
    )
}

/// Whether a cast from `from` to `to` runs a stable function: the time
/// zone conversions, and text input or output of a type that reads the
/// session's settings.
fn cast_is_stable(from: SqlType, to: SqlType) -> bool {
    use SqlType as T;
    match (from, to) {
        (T::Timestamp, T::Date | T::LocalTimestamp)
        | (T::LocalTimestamp | T::Date, T::Timestamp) => true,
        (from, to) if is_textual(to) => output_is_stable(from),
        (from, to) if is_textual(from) => {
            matches!(
                to,
                T::Date | T::Timestamp | T::LocalTimestamp | T::Interval | T::IntRange | T::TsRange
            ) || matches!(to, T::Enum(_))
        }
        _ => false,
    }
}

/// Whether `e` (over `table`'s columns) calls anything PostgreSQL does
/// not mark immutable. A sub-expression whose type cannot be told counts
/// as immutable.
pub(crate) fn non_immutable(e: &Expr, table: &Table) -> bool {
    let ty = |x: &Expr| static_type(x, table);
    let mut found = false;
    e.visit(&mut |x| {
        found |= match x {
            Expr::Call(
                Builtin::Now(_)
                | Builtin::CurrentDate
                | Builtin::GenRandomUuid
                | Builtin::ToRegclass
                | Builtin::Concat
                | Builtin::Format
                | Builtin::JsonbBuildObject
                | Builtin::ToJsonb
                | Builtin::Nextval
                | Builtin::Currval
                | Builtin::Lastval
                | Builtin::Setval
                | Builtin::PgGetSerialSequence,
                _,
            ) => true,
            // date_trunc(text, timestamptz [, zone]) and of a date (which
            // PostgreSQL promotes to timestamptz); of a timestamp or an
            // interval it is immutable.
            Expr::Call(Builtin::DateTrunc, args) => args
                .get(1)
                .and_then(ty)
                .is_some_and(|t| matches!(t, SqlType::Timestamp | SqlType::Date)),
            Expr::Call(Builtin::Extract | Builtin::DatePart, args) => {
                args.get(1).and_then(ty) == Some(SqlType::Timestamp)
            }
            // to_timestamp(text, format) reads the session; of a number it
            // is immutable.
            Expr::Call(Builtin::ToTimestamp, args) => args.len() == 2,
            // A literal's cast is folded when the expression is parsed.
            Expr::Cast(inner, to) => {
                !matches!(**inner, Expr::Const(_))
                    && ty(inner).is_some_and(|from| cast_is_stable(from, *to))
            }
            Expr::Bin(BinOp::Add | BinOp::Sub, a, b) => matches!(
                (ty(a), ty(b)),
                (Some(SqlType::Timestamp), Some(SqlType::Interval))
                    | (Some(SqlType::Interval), Some(SqlType::Timestamp))
            ),
            // `x || text` of a non-text x is its text output.
            Expr::Bin(BinOp::Concat, a, b) => {
                ty(a).is_some_and(output_is_stable) || ty(b).is_some_and(output_is_stable)
            }
            // A timestamptz compared with a date or timestamp converts in
            // the session's time zone.
            Expr::Bin(
                BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge,
                a,
                b,
            ) => {
                matches!(
                    (ty(a), ty(b)),
                    (
                        Some(SqlType::Timestamp),
                        Some(SqlType::Date | SqlType::LocalTimestamp)
                    ) | (
                        Some(SqlType::Date | SqlType::LocalTimestamp),
                        Some(SqlType::Timestamp)
                    )
                ) && !matches!(**a, Expr::Const(_))
                    && !matches!(**b, Expr::Const(_))
            }
            _ => false,
        }
    });
    found
}

fn is_int(ty: SqlType) -> bool {
    matches!(ty, SqlType::SmallInt | SqlType::Integer | SqlType::BigInt)
}

fn is_numeric(ty: SqlType) -> bool {
    matches!(ty, SqlType::Numeric | SqlType::Decimal(_, _))
}

/// The type of `e`'s value over `table`'s rows where the column types
/// and the operators tell it (`None` otherwise).
pub(crate) fn static_type(e: &Expr, table: &Table) -> Option<SqlType> {
    use SqlType as T;
    let ty = |x: &Expr| static_type(x, table);
    match e {
        Expr::Col(c) => table.columns.get(*c).map(|c| c.ty),
        Expr::Const(Value::Null) => None,
        Expr::Const(v) => Some(type_of_value(v)),
        Expr::Cast(_, t) => Some(*t),
        Expr::Func(Func::Lower | Func::Upper, _) => Some(T::Text),
        Expr::Func(Func::Abs, args) | Expr::Func(Func::Nullif, args) => args.first().and_then(ty),
        Expr::Func(Func::Coalesce | Func::Greatest | Func::Least, args) => {
            let known: Vec<SqlType> = args
                .iter()
                .filter(|a| !matches!(a, Expr::Const(_)))
                .filter_map(ty)
                .collect();
            let first = *known.first()?;
            known.iter().all(|&t| t == first).then_some(first)
        }
        Expr::Func(Func::IsEmpty, _) => Some(T::Bool),
        Expr::Func(Func::Int4Range, _) => Some(T::IntRange),
        Expr::Func(Func::TstzRange, _) => Some(T::TsRange),
        Expr::Not(_)
        | Expr::IsNull(..)
        | Expr::IsBool(..)
        | Expr::InList(..)
        | Expr::Between(..)
        | Expr::AnyAll(..)
        | Expr::Call(Builtin::Like(_), _) => Some(T::Bool),
        Expr::Neg(a) => ty(a),
        Expr::Bin(op, a, b) => match op {
            BinOp::Eq
            | BinOp::Ne
            | BinOp::Lt
            | BinOp::Le
            | BinOp::Gt
            | BinOp::Ge
            | BinOp::And
            | BinOp::Or
            | BinOp::Overlaps
            | BinOp::Contains
            | BinOp::ContainedBy
            | BinOp::JsonHasKey => Some(T::Bool),
            BinOp::Concat => {
                let text = |t: Option<SqlType>| t.is_none_or(|t| !matches!(t, T::Array(_)));
                (text(ty(a)) && text(ty(b))).then_some(T::Text)
            }
            BinOp::JsonGet => Some(T::Json),
            BinOp::JsonGetText => Some(T::Text),
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                arithmetic_type(*op, ty(a)?, ty(b)?)
            }
        },
        Expr::Call(b, args) => match b {
            Builtin::Length | Builtin::Position | Builtin::Cardinality | Builtin::ArrayLength => {
                Some(T::Integer)
            }
            Builtin::Substr
            | Builtin::Replace
            | Builtin::Trim
            | Builtin::Ltrim
            | Builtin::Rtrim
            | Builtin::Left
            | Builtin::Right
            | Builtin::Repeat
            | Builtin::JsonbTypeof => Some(T::Text),
            Builtin::DateTrunc => args
                .get(1)
                .and_then(ty)
                .filter(|t| matches!(t, T::LocalTimestamp | T::Interval)),
            Builtin::Extract => Some(T::Numeric),
            Builtin::ToTimestamp => Some(T::Timestamp),
            Builtin::MakeInterval => Some(T::Interval),
            Builtin::JsonbSet => Some(T::Json),
            Builtin::Round | Builtin::Trunc | Builtin::Ceil | Builtin::Floor => {
                args.first().and_then(ty).filter(|&t| is_numeric(t))
            }
            _ => None,
        },
        Expr::Case(arms, _) => arms.first().and_then(|(_, v)| ty(v)),
        _ => None,
    }
}

/// The type of `a op b` for the arithmetic PostgreSQL has on these types.
fn arithmetic_type(op: BinOp, a: SqlType, b: SqlType) -> Option<SqlType> {
    use SqlType as T;
    match (a, b) {
        (a, b) if is_int(a) && is_int(b) => Some(T::BigInt),
        (a, b) if (is_numeric(a) || is_int(a)) && (is_numeric(b) || is_int(b)) => Some(T::Numeric),
        (T::Date, b) if is_int(b) && matches!(op, BinOp::Add | BinOp::Sub) => Some(T::Date),
        (a, T::Date) if is_int(a) && op == BinOp::Add => Some(T::Date),
        (T::Date, T::Date) if op == BinOp::Sub => Some(T::Integer),
        (T::Date | T::LocalTimestamp, T::Interval) if matches!(op, BinOp::Add | BinOp::Sub) => {
            Some(T::LocalTimestamp)
        }
        (T::Interval, T::Date | T::LocalTimestamp) if op == BinOp::Add => Some(T::LocalTimestamp),
        (T::Timestamp, T::Interval) if matches!(op, BinOp::Add | BinOp::Sub) => Some(T::Timestamp),
        (T::Interval, T::Interval) if matches!(op, BinOp::Add | BinOp::Sub) => Some(T::Interval),
        (T::LocalTimestamp, T::LocalTimestamp) | (T::Timestamp, T::Timestamp)
            if op == BinOp::Sub =>
        {
            Some(T::Interval)
        }
        _ => None,
    }
}

impl Table {
    /// How many key columns index `index` has.
    pub(crate) fn key_len(&self, index: usize) -> usize {
        let idx = &self.indexes[index];
        if idx.expressions.is_empty() {
            idx.columns.len()
        } else {
            idx.expressions.len()
        }
    }

    /// The type a lookup's bound for key column `part` of index `index` is
    /// coerced to (`None`: an expression whose type is not known).
    pub(crate) fn key_type(&self, index: usize, part: usize) -> Option<SqlType> {
        let idx = &self.indexes[index];
        if idx.expressions.is_empty() {
            idx.columns.get(part).map(|&c| self.columns[c].ty)
        } else {
            idx.expressions.get(part).and_then(|p| p.ty)
        }
    }

    /// The key values of index `index` for a row with `values`: its
    /// columns' values, or its expressions evaluated over the row (an
    /// error such as a division by zero fails the write, as in
    /// PostgreSQL). Immutable expressions read only the row.
    pub(crate) fn key_values(&self, index: usize, values: &[Value]) -> Result<Vec<Value>, DbError> {
        let idx = &self.indexes[index];
        if idx.expressions.is_empty() {
            return Ok(idx.columns.iter().map(|&c| values[c].clone()).collect());
        }
        let ctx = Ctx::default();
        let env = super::expr::Env {
            row: values,
            params: &[],
            aggs: &[],
            ctx: &ctx,
        };
        idx.expressions
            .iter()
            .map(|part| {
                let v = part.expr.eval(&env)?;
                match part.ty {
                    Some(ty) if !v.is_null() => coerce(&v, ty),
                    _ => Ok(v),
                }
            })
            .collect()
    }

    /// Whether an update from `old` to `new` changes the row's key in
    /// index `index` (so its entry moves).
    pub(crate) fn entry_changed(
        &self,
        index: usize,
        old: &[Value],
        new: &[Value],
    ) -> Result<bool, DbError> {
        let idx = &self.indexes[index];
        if idx.expressions.is_empty() {
            return Ok(idx.columns.iter().any(|&c| old[c] != new[c]));
        }
        Ok(self.index_key(index, old)? != self.index_key(index, new)?)
    }
}

/// The conditions of a statement's conjuncts on the key columns of the
/// expression index `index` (of the table at `offset`): `(part, op,
/// bound)` for `expr op bound` or `bound op expr` where `expr` is the
/// part's expression as the statement reads the table and `bound` may be
/// read before the table (`bound_ok`). A part of unknown type is never
/// matched.
pub(crate) fn key_conds(
    index: &Index,
    offset: usize,
    conjuncts: &[Expr],
    bound_ok: &impl Fn(&Expr) -> bool,
) -> Vec<(usize, BinOp, Expr)> {
    let parts: Vec<Option<String>> = index
        .expressions
        .iter()
        .map(|p| p.ty.map(|_| format!("{:?}", p.expr.shifted(offset))))
        .collect();
    let part_of = |e: &Expr| {
        let text = format!("{e:?}");
        parts
            .iter()
            .position(|p| p.as_deref() == Some(text.as_str()))
    };
    let mut out = Vec::new();
    for c in conjuncts {
        match c {
            Expr::Bin(op @ (BinOp::Eq | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge), a, b) => {
                if let (Some(k), true) = (part_of(a), bound_ok(b)) {
                    out.push((k, *op, (**b).clone()));
                } else if let (Some(k), true) = (part_of(b), bound_ok(a)) {
                    let flipped = match op {
                        BinOp::Lt => BinOp::Gt,
                        BinOp::Le => BinOp::Ge,
                        BinOp::Gt => BinOp::Lt,
                        BinOp::Ge => BinOp::Le,
                        other => *other,
                    };
                    out.push((k, flipped, (**a).clone()));
                }
            }
            Expr::Between(a, lo, hi, false) => {
                if let (Some(k), true, true) = (part_of(a), bound_ok(lo), bound_ok(hi)) {
                    out.push((k, BinOp::Ge, (**lo).clone()));
                    out.push((k, BinOp::Le, (**hi).clone()));
                }
            }
            _ => {}
        }
    }
    out
}

/// The arbiters of `ON CONFLICT (targets)` where a target is an
/// expression: each unique index whose plain key columns are the plain
/// columns among the targets and whose key expressions are the other
/// targets (as sets, PostgreSQL's infer_arbiter_indexes), and whose
/// predicate, if partial, the target's `WHERE` implies.
pub(crate) fn expression_arbiters(
    planner: &mut Planner<'_>,
    scope: &Scope,
    table: &Table,
    targets: &[ast::Expr],
) -> Result<Vec<usize>, DbError> {
    let mut wanted_columns = Vec::new();
    let mut wanted_exprs = Vec::new();
    for t in targets {
        match planner.compile(scope, t)? {
            Expr::Col(c) => wanted_columns.push(c),
            other => wanted_exprs.push(format!("{other:?}")),
        }
    }
    wanted_columns.sort_unstable();
    wanted_columns.dedup();
    wanted_exprs.sort();
    wanted_exprs.dedup();
    let given: Vec<String> = match planner.conflict_where.take() {
        None => Vec::new(),
        Some(e) => {
            let mut list = Vec::new();
            planner.compile(scope, &e)?.conjuncts(&mut list);
            list.iter().map(|x| format!("{x:?}")).collect()
        }
    };
    let found: Vec<usize> = (0..table.indexes.len())
        .filter(|&i| {
            let idx = &table.indexes[i];
            if !idx.unique || (table.heap && i == 0) {
                return false;
            }
            let implied = idx.predicate.as_ref().is_none_or(|p| {
                let mut needed = Vec::new();
                p.conjuncts(&mut needed);
                needed.iter().all(|x| given.contains(&format!("{x:?}")))
            });
            let (mut columns, mut exprs): (Vec<usize>, Vec<String>) = (Vec::new(), Vec::new());
            if idx.expressions.is_empty() {
                columns = idx.columns.clone();
            } else {
                for part in &idx.expressions {
                    match part.expr {
                        Expr::Col(c) => columns.push(c),
                        ref other => exprs.push(format!("{other:?}")),
                    }
                }
            }
            columns.sort_unstable();
            columns.dedup();
            exprs.sort();
            exprs.dedup();
            implied && columns == wanted_columns && exprs == wanted_exprs
        })
        .collect();
    if found.is_empty() {
        return Err(err(
            SqlState::InvalidColumnReference,
            "there is no unique or exclusion constraint matching the ON CONFLICT specification",
        ));
    }
    Ok(found)
}

/// The statement without the expressions of an `ON CONFLICT (lower(x),
/// ...)` target, which sqlparser parses only as a list of column names,
/// and those expressions (`None` when the target is columns only or there
/// is none). The list is left as one placeholder column, which the
/// planner does not read when it has the expressions.
pub(crate) fn cut_conflict_expressions(
    sql: &str,
) -> Result<(String, Option<Vec<ast::Expr>>), DbError> {
    let upper = sql.to_ascii_uppercase();
    if !upper.contains("CONFLICT") {
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
    for s in 0..solid.len() {
        if !(word(s, "ON")
            && word(s + 1, "CONFLICT")
            && solid
                .get(s + 2)
                .is_some_and(|&i| tokens[i] == Token::LParen))
        {
            continue;
        }
        // The target's elements, split at its top-level commas.
        let mut depth = 0;
        let mut k = s + 2;
        let mut elements: Vec<(usize, usize)> = Vec::new();
        let mut start = solid[s + 2] + 1;
        while k < solid.len() {
            match tokens[solid[k]] {
                Token::LParen => depth += 1,
                Token::RParen => {
                    depth -= 1;
                    if depth == 0 {
                        elements.push((start, solid[k]));
                        break;
                    }
                }
                Token::Comma if depth == 1 => {
                    elements.push((start, solid[k]));
                    start = solid[k] + 1;
                }
                _ => {}
            }
            k += 1;
        }
        if k >= solid.len() {
            return Ok((sql.to_string(), None));
        }
        let text = |from: usize, to: usize| -> String {
            tokens[from..to].iter().map(|t| t.to_string()).collect()
        };
        let plain = elements.iter().all(|&(from, to)| {
            let words: Vec<&Token> = tokens[from..to]
                .iter()
                .filter(|t| !matches!(t, Token::Whitespace(_)))
                .collect();
            matches!(words.as_slice(), [Token::Word(_)])
        });
        if plain {
            return Ok((sql.to_string(), None));
        }
        let mut exprs = Vec::with_capacity(elements.len());
        for &(from, to) in &elements {
            let expr = Parser::new(&dialect)
                .try_with_sql(&text(from, to))
                .and_then(|mut p| p.parse_expr())
                .map_err(|e| err(SqlState::SyntaxError, format!("syntax error: {e}")))?;
            exprs.push(expr);
        }
        let rest = text(0, solid[s + 2])
            + "(conflict_target_expressions)"
            + &text(solid[k] + 1, tokens.len());
        return Ok((rest, Some(exprs)));
    }
    Ok((sql.to_string(), None))
}
