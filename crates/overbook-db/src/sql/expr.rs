//! Expressions: compiled from sqlparser's AST against a scope of tables,
//! evaluated over a row of values with three-valued logic.

use super::catalog::Table;
use super::funcs::{self, Builtin, Ctx};
use super::subquery::SubKind;
use super::value::{cast, coerce, compare, err, parse_text, Span, SqlType, Value};
use crate::store::{DbError, SqlState};
use sqlparser::ast;
use std::cmp::Ordering;
use std::sync::Arc;

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Concat,
    Overlaps,
    Contains,
    ContainedBy,
    /// jsonb `->`.
    JsonGet,
    /// jsonb `->>`.
    JsonGetText,
    /// jsonb `?`.
    JsonHasKey,
}

/// A scalar function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Func {
    Lower,
    Upper,
    IsEmpty,
    Coalesce,
    Greatest,
    Least,
    Abs,
    Int4Range,
    TstzRange,
    Nullif,
}

/// An aggregate function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AggFunc {
    CountStar,
    Count,
    Sum,
    Min,
    Max,
    ArrayAgg,
    /// `bool_and` (`every`).
    BoolAnd,
    BoolOr,
    /// `avg`: numeric for integer and numeric input, as PostgreSQL.
    Avg,
    /// `string_agg(text, delimiter)`.
    StringAgg,
}

/// One aggregate of a grouped query.
#[derive(Clone, Debug)]
pub(crate) struct AggSpec {
    pub(crate) func: AggFunc,
    pub(crate) arg: Option<Expr>,
    /// `FILTER (WHERE ...)`: only rows where it is true feed the aggregate.
    pub(crate) filter: Option<Expr>,
    /// `agg(DISTINCT x)`: each distinct non-NULL value once.
    pub(crate) distinct: bool,
    /// `string_agg`'s delimiter.
    pub(crate) delimiter: Option<Expr>,
}

/// A compiled expression.
#[derive(Clone, Debug)]
pub(crate) enum Expr {
    Const(Value),
    /// `$n` (0-based here).
    Param(usize),
    /// A column of the combined row.
    Col(usize),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    IsNull(Box<Expr>, bool),
    /// `IS [NOT] TRUE/FALSE`: (expr, expected, negated).
    IsBool(Box<Expr>, bool, bool),
    InList(Box<Expr>, Vec<Expr>, bool),
    Between(Box<Expr>, Box<Expr>, Box<Expr>, bool),
    Func(Func, Vec<Expr>),
    Cast(Box<Expr>, SqlType),
    /// `CASE WHEN c THEN v ... ELSE e END`.
    Case(Vec<(Expr, Expr)>, Option<Box<Expr>>),
    /// The value of aggregate slot `n` of the current group.
    Agg(usize),
    /// `DEFAULT` in an INSERT's VALUES.
    Default,
    /// A built-in of `funcs`.
    Call(Builtin, Vec<Expr>),
    /// `x op ANY (array)` (true) or `x op ALL (array)` (false), `op` one
    /// of `=`, `<>`, `<`, `<=`, `>`, `>=`.
    AnyAll(&'static str, bool, Box<Expr>, Box<Expr>),
    /// `ARRAY[...]`.
    Array(Vec<Expr>),
    /// A subquery (see `subquery`).
    Subquery(Box<super::subquery::SubPlan>),
    /// A user function (see `plpgsql`).
    UserCall(Arc<super::plpgsql::Function>, Vec<Expr>),
}

/// Where names resolve: the tables of a statement, each at an offset in
/// the combined row.
#[derive(Clone, Default)]
pub(crate) struct Scope {
    pub(crate) sources: Vec<(String, Arc<Table>, usize)>,
    /// A subquery's scope starts with its enclosing queries' sources:
    /// where each nesting level begins in `sources`, outermost first (empty
    /// for a top-level statement). Names resolve innermost level first.
    pub(crate) levels: Vec<usize>,
    /// Columns merged by `JOIN ... USING (...)` / `NATURAL JOIN`: an
    /// unqualified name resolves to its expression (the left column, the
    /// right one for RIGHT JOIN, COALESCE of both for FULL JOIN).
    pub(crate) merged: Vec<(String, Expr)>,
    /// What `SELECT *` expands to when a join merged columns (PostgreSQL:
    /// the merged columns first, then the others of each side); `None`:
    /// every column of every table in order.
    pub(crate) star: Option<Vec<(String, Expr)>>,
}

impl Scope {
    /// The scope of a subquery of this one: its sources come after these,
    /// and shadow them.
    pub(crate) fn nested(&self) -> Scope {
        let mut inner = self.clone();
        inner.levels.push(inner.sources.len());
        // Its own `*` and names: the outer query's merged USING columns
        // resolve through their tables, as correlated references.
        inner.merged.clear();
        inner.star = None;
        inner
    }

    /// The sources of the innermost level (what `*` expands to).
    pub(crate) fn local(&self) -> &[(String, Arc<Table>, usize)] {
        &self.sources[self.levels.last().copied().unwrap_or(0)..]
    }

    pub(crate) fn add(&mut self, alias: &str, table: Arc<Table>) -> usize {
        let offset = self.width();
        self.sources.push((alias.to_string(), table, offset));
        offset
    }

    pub(crate) fn width(&self) -> usize {
        self.sources
            .last()
            .map_or(0, |(_, t, offset)| offset + t.columns.len())
    }

    fn resolve(&self, qualifier: Option<&str>, name: &str) -> Result<usize, DbError> {
        // Innermost level first; a qualifier binds to the innermost level
        // that has a table of that name, as in PostgreSQL.
        let mut end = self.sources.len();
        for &start in self.levels.iter().rev().chain(std::iter::once(&0)) {
            let level = &self.sources[start..end];
            end = start;
            let mut found = None;
            for (alias, table, offset) in level {
                if qualifier.is_some_and(|q| q != alias) {
                    continue;
                }
                if let Some(i) = table.column_index(name) {
                    if found.is_some() {
                        return Err(err(
                            SqlState::AmbiguousColumn,
                            format!("column reference \"{name}\" is ambiguous"),
                        ));
                    }
                    found = Some(offset + i);
                }
            }
            let named = qualifier.is_some_and(|q| level.iter().any(|(a, _, _)| a == q));
            if found.is_some() || named {
                return self.resolved(found, qualifier, name);
            }
        }
        self.resolved(None, qualifier, name)
    }

    fn resolved(
        &self,
        found: Option<usize>,
        qualifier: Option<&str>,
        name: &str,
    ) -> Result<usize, DbError> {
        if let Some(q) = qualifier {
            if !self.sources.iter().any(|(alias, _, _)| alias == q) {
                return Err(err(
                    SqlState::UndefinedTable,
                    format!("missing FROM-clause entry for table \"{q}\""),
                ));
            }
        }
        found.ok_or_else(|| {
            let full = match qualifier {
                Some(q) => format!("{q}.{name}"),
                None => name.to_string(),
            };
            err(
                SqlState::UndefinedColumn,
                format!("column \"{full}\" does not exist"),
            )
        })
    }
}

impl Compiler<'_> {
    /// `tableoid` or `t.tableoid`: its qualifier.
    fn tableoid_of(&self, e: &ast::Expr) -> Option<Option<String>> {
        match e {
            ast::Expr::Identifier(i) if ident(i) == "tableoid" => Some(None),
            ast::Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [t, c] if ident(c) == "tableoid" => Some(Some(ident(t))),
                _ => None,
            },
            _ => None,
        }
    }

    /// `tableoid::regclass`: the name of the relation a row is in (its
    /// partition for a partitioned table's row), as its text. The OID
    /// itself is not modelled (`tableoid` alone does not resolve).
    fn tableoid(&self, qualifier: Option<&str>) -> Result<Expr, DbError> {
        let candidates: Vec<&(String, Arc<Table>, usize)> = self
            .scope
            .local()
            .iter()
            .filter(|(alias, _, _)| qualifier.is_none_or(|q| q == alias))
            .collect();
        match candidates.as_slice() {
            [(_, table, offset)] => super::partition::tableoid(table, *offset),
            [] => Err(err(
                SqlState::UndefinedTable,
                format!(
                    "missing FROM-clause entry for table \"{}\"",
                    qualifier.unwrap_or("")
                ),
            )),
            _ => Err(err(
                SqlState::AmbiguousColumn,
                "column reference \"tableoid\" is ambiguous",
            )),
        }
    }
}

pub(crate) fn unsupported(what: impl std::fmt::Display) -> DbError {
    err(
        SqlState::FeatureNotSupported,
        format!("{what} is not supported by the simulated SQL engine"),
    )
}

/// Compiles expressions against a scope, counting parameters and
/// collecting aggregates when the query is grouped.
pub(crate) struct Compiler<'a> {
    pub(crate) scope: &'a Scope,
    pub(crate) params: usize,
    /// `Some` when aggregates are allowed here (the select list, HAVING
    /// and ORDER BY of a query).
    pub(crate) aggs: Option<Vec<AggSpec>>,
    /// Inside an aggregate's argument (no nesting).
    in_agg: bool,
    /// `Some` where a statement may call the waiting advisory lock
    /// functions (its WHERE clause and select list): the calls, which
    /// the statement makes after its snapshot (see `locks`).
    pub(crate) advisory: Option<Vec<super::locks::AdvisoryCallPlan>>,
    /// Plans subqueries: `None` where PostgreSQL allows none (CHECK,
    /// DEFAULT, index predicates).
    pub(crate) planner: Option<super::subquery::SubPlanner<'a>>,
    /// `Some` where window functions are allowed (an ungrouped query's
    /// select list and ORDER BY): each compiles to column `window_base +
    /// n` (see `window`).
    pub(crate) windows: Option<Vec<super::window::WindowSpec>>,
    pub(crate) window_base: usize,
}

pub(crate) fn ident(i: &ast::Ident) -> String {
    if i.quote_style.is_some() {
        i.value.clone()
    } else {
        i.value.to_ascii_lowercase()
    }
}

pub(crate) fn object_name(name: &ast::ObjectName) -> Result<String, DbError> {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident().map(ident))
        .collect();
    match parts.as_slice() {
        [one] => Ok(one.clone()),
        [schema, one] if schema == "public" => Ok(one.clone()),
        // A table of another schema is named `schema.table` in the catalog
        // (see `ddl::create_schema`).
        [schema, one] => Ok(format!("{schema}.{one}")),
        _ => Err(unsupported(format!("the qualified name {name}"))),
    }
}

impl<'a> Compiler<'a> {
    pub(crate) fn new(scope: &'a Scope) -> Compiler<'a> {
        Compiler {
            scope,
            params: 0,
            aggs: None,
            in_agg: false,
            advisory: None,
            planner: None,
            windows: None,
            window_base: 0,
        }
    }

    pub(crate) fn compile(&mut self, e: &ast::Expr) -> Result<Expr, DbError> {
        use ast::Expr as E;
        Ok(match e {
            E::Identifier(i) => match self.scope.merged.iter().find(|(n, _)| *n == ident(i)) {
                Some((_, merged)) => merged.clone(),
                None => Expr::Col(self.scope.resolve(None, &ident(i))?),
            },
            E::CompoundIdentifier(parts) => match parts.as_slice() {
                [t, c] => Expr::Col(self.scope.resolve(Some(&ident(t)), &ident(c))?),
                _ => return Err(unsupported(format!("the name {e}"))),
            },
            E::Value(v) => self.literal(&v.value)?,
            E::Nested(inner) => self.compile(inner)?,
            E::BinaryOp { left, op, right } => Expr::Bin(
                binary_op(op)?,
                Box::new(self.compile(left)?),
                Box::new(self.compile(right)?),
            ),
            E::UnaryOp { op, expr } => self.unary_op(op, expr)?,
            E::IsDistinctFrom(..)
            | E::IsNotDistinctFrom(..)
            | E::IsNull(_)
            | E::IsNotNull(_)
            | E::IsTrue(_)
            | E::IsNotTrue(_)
            | E::IsFalse(_)
            | E::IsNotFalse(_)
            | E::InList { .. }
            | E::Between { .. }
            | E::Like { .. }
            | E::ILike { .. } => self.predicate(e)?,
            E::Cast {
                expr, data_type, ..
            } => self.compile_cast(expr, data_type)?,
            E::TypedString { data_type, value } => {
                let ty = type_of(data_type)?;
                let text = match value {
                    ast::Value::SingleQuotedString(s) => s.clone(),
                    other => return Err(unsupported(format!("the literal {other}"))),
                };
                Expr::Const(parse_text(&text, ty)?)
            }
            E::Case {
                operand,
                conditions,
                else_result,
            } => self.case(operand.as_deref(), conditions, else_result.as_deref())?,
            E::Function(f) => self.function(f)?,
            E::Interval(iv) => self.interval(iv)?,
            E::Subquery(q) => self.subquery(q, SubKind::Scalar)?,
            E::Exists { subquery, negated } => {
                not_if(*negated, self.subquery(subquery, SubKind::Exists)?)
            }
            E::InSubquery {
                expr,
                subquery,
                negated,
            } => {
                let lhs = Box::new(self.compile(expr)?);
                let kind = SubKind::Quantified {
                    op: "=",
                    any: true,
                    lhs,
                };
                not_if(*negated, self.subquery(subquery, kind)?)
            }
            E::AnyOp {
                left,
                compare_op,
                right,
                ..
            } => self.any_all(compare_op, true, left, right)?,
            E::AllOp {
                left,
                compare_op,
                right,
            } => self.any_all(compare_op, false, left, right)?,
            E::Array(a) => Expr::Array(self.compile_all(&a.elem)?),
            E::Extract { .. }
            | E::Ceil { .. }
            | E::Floor { .. }
            | E::Substring { .. }
            | E::Position { .. } => self.keyword_call(e)?,
            other => return Err(unsupported(format!("the expression {other}"))),
        })
    }

    /// The predicates SQL writes with keywords: `IS [NOT] NULL/TRUE/FALSE`,
    /// `IS [NOT] DISTINCT FROM`, `[NOT] IN (list)`, `[NOT] BETWEEN`,
    /// `[NOT] LIKE/ILIKE` (without `ANY` or `ESCAPE`).
    fn predicate(&mut self, e: &ast::Expr) -> Result<Expr, DbError> {
        use ast::Expr as E;
        Ok(match e {
            E::IsDistinctFrom(a, b) => self.is_distinct_from(a, b)?,
            E::IsNotDistinctFrom(a, b) => Expr::Not(Box::new(self.is_distinct_from(a, b)?)),
            E::IsNull(inner) => Expr::IsNull(Box::new(self.compile(inner)?), false),
            E::IsNotNull(inner) => Expr::IsNull(Box::new(self.compile(inner)?), true),
            E::IsTrue(inner) => Expr::IsBool(Box::new(self.compile(inner)?), true, false),
            E::IsNotTrue(inner) => Expr::IsBool(Box::new(self.compile(inner)?), true, true),
            E::IsFalse(inner) => Expr::IsBool(Box::new(self.compile(inner)?), false, false),
            E::IsNotFalse(inner) => Expr::IsBool(Box::new(self.compile(inner)?), false, true),
            E::InList {
                expr,
                list,
                negated,
            } => Expr::InList(
                Box::new(self.compile(expr)?),
                self.compile_all(list)?,
                *negated,
            ),
            E::Between {
                expr,
                negated,
                low,
                high,
            } => Expr::Between(
                Box::new(self.compile(expr)?),
                Box::new(self.compile(low)?),
                Box::new(self.compile(high)?),
                *negated,
            ),
            E::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char: None,
            }
            | E::ILike {
                negated,
                any: false,
                expr,
                pattern,
                escape_char: None,
            } => {
                let insensitive = matches!(e, E::ILike { .. });
                let call = Expr::Call(
                    Builtin::Like(insensitive),
                    vec![self.compile(expr)?, self.compile(pattern)?],
                );
                not_if(*negated, call)
            }
            other => return Err(unsupported(format!("the expression {other}"))),
        })
    }

    /// The functions SQL calls with keywords rather than commas:
    /// `EXTRACT(f FROM x)`, `CEIL(x)`, `FLOOR(x)`, `SUBSTRING(x FROM f FOR
    /// n)`, `POSITION(s IN t)`.
    fn keyword_call(&mut self, e: &ast::Expr) -> Result<Expr, DbError> {
        use ast::Expr as E;
        Ok(match e {
            E::Extract { field, expr, .. } => Expr::Call(
                Builtin::Extract,
                vec![
                    Expr::Const(Value::Text(field.to_string().to_ascii_lowercase().into())),
                    self.compile(expr)?,
                ],
            ),
            E::Ceil {
                expr,
                field: ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime),
            } => Expr::Call(Builtin::Ceil, vec![self.compile(expr)?]),
            E::Floor {
                expr,
                field: ast::CeilFloorKind::DateTimeField(ast::DateTimeField::NoDateTime),
            } => Expr::Call(Builtin::Floor, vec![self.compile(expr)?]),
            E::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => self.substring(expr, substring_from.as_deref(), substring_for.as_deref())?,
            E::Position { expr, r#in } => Expr::Call(
                Builtin::Position,
                vec![self.compile(r#in)?, self.compile(expr)?],
            ),
            other => return Err(unsupported(format!("the expression {other}"))),
        })
    }

    /// Compiles each expression of a list, in order.
    fn compile_all(&mut self, list: &[ast::Expr]) -> Result<Vec<Expr>, DbError> {
        list.iter().map(|x| self.compile(x)).collect()
    }

    fn unary_op(&mut self, op: &ast::UnaryOperator, expr: &ast::Expr) -> Result<Expr, DbError> {
        let inner = self.compile(expr)?;
        Ok(match op {
            ast::UnaryOperator::Not => Expr::Not(Box::new(inner)),
            // A negative literal is folded to a constant, so index bounds
            // and casts see it as one.
            ast::UnaryOperator::Minus => match inner {
                Expr::Const(Value::Int(v)) => Expr::Const(Value::Int(-v)),
                Expr::Const(Value::Numeric(d)) => Expr::Const(Value::Numeric(d.neg())),
                other => Expr::Neg(Box::new(other)),
            },
            ast::UnaryOperator::Plus => inner,
            other => return Err(unsupported(format!("the operator {other}"))),
        })
    }

    /// `a IS DISTINCT FROM b` as `CASE WHEN a IS NULL THEN b IS NOT NULL
    /// WHEN b IS NULL THEN true ELSE a <> b END` (negated for NOT
    /// DISTINCT by the caller).
    fn is_distinct_from(&mut self, a: &ast::Expr, b: &ast::Expr) -> Result<Expr, DbError> {
        let (a, b) = (self.compile(a)?, self.compile(b)?);
        Ok(Expr::Case(
            vec![
                (
                    Expr::IsNull(Box::new(a.clone()), false),
                    Expr::IsNull(Box::new(b.clone()), true),
                ),
                (
                    Expr::IsNull(Box::new(b.clone()), false),
                    Expr::Const(Value::Bool(true)),
                ),
            ],
            Some(Box::new(Expr::Bin(BinOp::Ne, Box::new(a), Box::new(b)))),
        ))
    }

    /// `x::type` and `CAST(x AS type)`; `tableoid::regclass` names the
    /// row's table.
    fn compile_cast(
        &mut self,
        expr: &ast::Expr,
        data_type: &ast::DataType,
    ) -> Result<Expr, DbError> {
        if data_type.to_string().eq_ignore_ascii_case("regclass") {
            if let Some(qualifier) = self.tableoid_of(expr) {
                return self.tableoid(qualifier.as_deref());
            }
        }
        let ty = type_of(data_type)?;
        let inner = self.compile(expr)?;
        // A literal cast is folded now, so its errors (22P02...)
        // come at once and index bounds see a typed constant.
        Ok(match inner {
            // `NULL::int` keeps its type for what reads it
            // (CREATE TABLE ... AS: an integer column).
            Expr::Const(Value::Null) => Expr::Cast(Box::new(Expr::Const(Value::Null)), ty),
            Expr::Const(v) => Expr::Const(cast(&v, ty)?),
            other => Expr::Cast(Box::new(other), ty),
        })
    }

    /// `CASE [operand] WHEN ... THEN ... [ELSE ...] END`; the simple form
    /// compares the operand with each `WHEN` value.
    fn case(
        &mut self,
        operand: Option<&ast::Expr>,
        conditions: &[ast::CaseWhen],
        else_result: Option<&ast::Expr>,
    ) -> Result<Expr, DbError> {
        let mut arms = Vec::with_capacity(conditions.len());
        for when in conditions {
            let (c, r) = (&when.condition, &when.result);
            let mut cond = self.compile(c)?;
            if let Some(op) = operand {
                cond = Expr::Bin(BinOp::Eq, Box::new(self.compile(op)?), Box::new(cond));
            }
            arms.push((cond, self.compile(r)?));
        }
        let other = match else_result {
            Some(e) => Some(Box::new(self.compile(e)?)),
            None => None,
        };
        Ok(Expr::Case(arms, other))
    }

    /// `INTERVAL '...'`: only the quoted form (a literal folds now).
    fn interval(&mut self, iv: &ast::Interval) -> Result<Expr, DbError> {
        if iv.leading_field.is_some() || iv.last_field.is_some() {
            return Err(unsupported(format!(
                "the interval {iv} (write INTERVAL '...')"
            )));
        }
        Ok(match self.compile(&iv.value)? {
            Expr::Const(Value::Text(t)) => Expr::Const(parse_text(&t, SqlType::Interval)?),
            other => Expr::Cast(Box::new(other), SqlType::Interval),
        })
    }

    /// `x op ANY (...)` / `x op ALL (...)`: over a subquery's rows, or over
    /// an array's elements.
    fn any_all(
        &mut self,
        compare_op: &ast::BinaryOperator,
        any: bool,
        left: &ast::Expr,
        right: &ast::Expr,
    ) -> Result<Expr, DbError> {
        if let ast::Expr::Subquery(q) = right {
            let kind = SubKind::Quantified {
                op: compare_name(compare_op)?,
                any,
                lhs: Box::new(self.compile(left)?),
            };
            return self.subquery(q, kind);
        }
        Ok(Expr::AnyAll(
            compare_name(compare_op)?,
            any,
            Box::new(self.compile(left)?),
            Box::new(self.compile(right)?),
        ))
    }

    /// `SUBSTRING(x FROM f FOR n)` as `substr(x, f, n)`.
    fn substring(
        &mut self,
        expr: &ast::Expr,
        from: Option<&ast::Expr>,
        count: Option<&ast::Expr>,
    ) -> Result<Expr, DbError> {
        let mut args = vec![self.compile(expr)?];
        args.push(match from {
            Some(f) => self.compile(f)?,
            None => Expr::Const(Value::Int(1)),
        });
        if let Some(n) = count {
            args.push(self.compile(n)?);
        }
        Ok(Expr::Call(Builtin::Substr, args))
    }

    fn subquery(&mut self, query: &ast::Query, kind: SubKind) -> Result<Expr, DbError> {
        let Some(planner) = self.planner.clone() else {
            return Err(unsupported(format!("a subquery here ({query})")));
        };
        planner.plan(query, self.scope, kind, &mut self.params)
    }

    fn literal(&mut self, v: &ast::Value) -> Result<Expr, DbError> {
        Ok(Expr::Const(match v {
            ast::Value::Number(n, _) => match n.parse::<i64>() {
                Ok(i) => Value::Int(i),
                // PostgreSQL reads other numeric literals as numeric.
                Err(_) => parse_text(n, SqlType::Numeric)?,
            },
            ast::Value::SingleQuotedString(s) => Value::Text(s.as_str().into()),
            ast::Value::Boolean(b) => Value::Bool(*b),
            ast::Value::Null => Value::Null,
            ast::Value::Placeholder(p) => {
                let n: usize = p
                    .strip_prefix('$')
                    .and_then(|d| d.parse().ok())
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| unsupported(format!("the placeholder {p} (use $1, $2...)")))?;
                self.params = self.params.max(n);
                return Ok(Expr::Param(n - 1));
            }
            other => return Err(unsupported(format!("the literal {other}"))),
        }))
    }

    fn function(&mut self, f: &ast::Function) -> Result<Expr, DbError> {
        let name = object_name(&f.name)?;
        if !f.within_group.is_empty() {
            return Err(unsupported(format!("the function call {f}")));
        }
        if f.over.is_some() {
            return self.window(f);
        }
        if name == "make_interval" {
            return self.make_interval(f);
        }
        let (args, star, distinct) = plain_args(f)?;
        let agg = aggregate_named(&name, star);
        if agg.is_none() && f.filter.is_some() {
            return Err(err(
                SqlState::Other("42809"),
                format!("FILTER specified, but {name} is not an aggregate function"),
            ));
        }
        if let Some(func) = agg {
            return self.aggregate(f, func, &args, distinct);
        }
        if star || distinct {
            return Err(unsupported(format!("the function call {f}")));
        }
        match func_named(&name) {
            Some(func) => self.func_call(f, func, &args),
            None => self.named_call(f, &name, &args),
        }
    }

    /// An aggregate call: its argument (and `string_agg`'s delimiter) and
    /// its `FILTER`, compiled as inside an aggregate, become one more
    /// aggregate of the query, which the expression reads by number.
    fn aggregate(
        &mut self,
        f: &ast::Function,
        func: AggFunc,
        args: &[ast::Expr],
        distinct: bool,
    ) -> Result<Expr, DbError> {
        if distinct && func == AggFunc::CountStar {
            return Err(err(SqlState::SyntaxError, "syntax error at or near \"*\""));
        }
        if self.in_agg {
            return Err(err(
                SqlState::GroupingError,
                "aggregate function calls cannot be nested",
            ));
        }
        if self.aggs.is_none() {
            return Err(err(
                SqlState::GroupingError,
                format!("aggregate functions are not allowed here: {f}"),
            ));
        }
        let mut delimiter = None;
        let arg = match (func, args) {
            (AggFunc::CountStar, []) => None,
            (AggFunc::CountStar, _) => return Err(unsupported(format!("{f}"))),
            (AggFunc::StringAgg, [one, delim]) => {
                let x = self.compile_in_aggregate(one)?;
                delimiter = Some(self.compile_in_aggregate(delim)?);
                Some(x)
            }
            (AggFunc::StringAgg, _) => return Err(no_such_function(f)),
            (_, [one]) => Some(self.compile_in_aggregate(one)?),
            _ => return Err(no_such_function(f)),
        };
        let filter = match &f.filter {
            Some(cond) => Some(self.compile_in_aggregate(cond)?),
            None => None,
        };
        let aggs = self.aggs.as_mut().expect("checked above");
        aggs.push(AggSpec {
            func,
            arg,
            filter,
            distinct,
            delimiter,
        });
        Ok(Expr::Agg(aggs.len() - 1))
    }

    /// Compiles an aggregate's argument, where another aggregate may not
    /// appear.
    fn compile_in_aggregate(&mut self, e: &ast::Expr) -> Result<Expr, DbError> {
        self.in_agg = true;
        let compiled = self.compile(e);
        self.in_agg = false;
        compiled
    }

    /// A call of one of the functions `Expr::Func` evaluates, with its
    /// arity checked.
    fn func_call(
        &mut self,
        f: &ast::Function,
        func: Func,
        args: &[ast::Expr],
    ) -> Result<Expr, DbError> {
        let compiled = self.compile_all(args)?;
        let arity_ok = match func {
            Func::Lower | Func::Upper | Func::IsEmpty | Func::Abs => compiled.len() == 1,
            Func::Int4Range | Func::TstzRange => (2..=3).contains(&compiled.len()),
            Func::Nullif => compiled.len() == 2,
            Func::Coalesce | Func::Greatest | Func::Least => !compiled.is_empty(),
        };
        if !arity_ok {
            return Err(no_such_function(f));
        }
        if matches!(func, Func::Int4Range | Func::TstzRange) && compiled.len() == 3 {
            match &compiled[2] {
                Expr::Const(Value::Text(b)) if &**b == "[)" => {}
                _ => return Err(unsupported(format!("range bounds other than '[)' in {f}"))),
            }
        }
        Ok(Expr::Func(func, compiled))
    }

    /// A call by name of anything else: an advisory lock function (in a
    /// statement that collects them), a built-in of `funcs`, or a
    /// PL/pgSQL function.
    fn named_call(
        &mut self,
        f: &ast::Function,
        name: &str,
        args: &[ast::Expr],
    ) -> Result<Expr, DbError> {
        let compiled = args
            .iter()
            .enumerate()
            .map(|(i, a)| self.compile(super::sequences::regclass_arg(name, i, a)))
            .collect::<Result<Vec<_>, _>>()?;
        if let (Some(calls), Some((mode, session_level))) = (
            self.advisory.as_mut(),
            super::locks::waiting_advisory_function(name),
        ) {
            if compiled.is_empty() || compiled.len() > 2 {
                return Err(no_such_function(f));
            }
            if compiled.iter().any(|a| a.max_column().is_some()) {
                return Err(unsupported(format!(
                    "an advisory lock call whose key reads a column ({f})"
                )));
            }
            calls.push(super::locks::AdvisoryCallPlan {
                args: compiled,
                mode,
                session_level,
            });
            return Ok(Expr::Const(super::locks::void()));
        }
        match funcs::lookup(name, compiled.len()) {
            Some(b) => Ok(Expr::Call(b, compiled)),
            None if super::plpgsql::lookup(name).is_some() => {
                let func = super::plpgsql::lookup(name).expect("checked");
                if func.args.len() != compiled.len() {
                    return Err(no_such_function(f));
                }
                Ok(Expr::UserCall(func, compiled))
            }
            None if KNOWN_ELSEWHERE.contains(&name) => {
                Err(unsupported(format!("the function {name}()")))
            }
            None => Err(no_such_function(f)),
        }
    }
}

/// A call's plain arguments, whether it was `f(*)`, and whether
/// `DISTINCT`; named arguments and clauses inside the parentheses
/// (`ORDER BY`, ...) are 0A000.
pub(crate) fn plain_args(f: &ast::Function) -> Result<(Vec<ast::Expr>, bool, bool), DbError> {
    match &f.args {
        ast::FunctionArguments::None => Ok((Vec::new(), false, false)),
        ast::FunctionArguments::List(list) => {
            if !list.clauses.is_empty() {
                return Err(unsupported(format!("the function call {f}")));
            }
            let distinct = matches!(
                list.duplicate_treatment,
                Some(ast::DuplicateTreatment::Distinct)
            );
            let mut args = Vec::new();
            let mut star = false;
            for a in &list.args {
                match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                        args.push(e.clone())
                    }
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Wildcard) => star = true,
                    _ => return Err(unsupported(format!("the function call {f}"))),
                }
            }
            Ok((args, star, distinct))
        }
        ast::FunctionArguments::Subquery(_) => Err(unsupported(format!("the function call {f}"))),
    }
}

/// The aggregate called `name` (`count(*)` apart from `count(x)`).
fn aggregate_named(name: &str, star: bool) -> Option<AggFunc> {
    match name {
        "count" if star => Some(AggFunc::CountStar),
        "count" => Some(AggFunc::Count),
        "sum" => Some(AggFunc::Sum),
        "min" => Some(AggFunc::Min),
        "max" => Some(AggFunc::Max),
        "array_agg" => Some(AggFunc::ArrayAgg),
        "bool_and" | "every" => Some(AggFunc::BoolAnd),
        "bool_or" => Some(AggFunc::BoolOr),
        "avg" => Some(AggFunc::Avg),
        "string_agg" => Some(AggFunc::StringAgg),
        _ => None,
    }
}

/// The function `Expr::Func` evaluates under `name`, if it is one.
fn func_named(name: &str) -> Option<Func> {
    Some(match name {
        "lower" => Func::Lower,
        "upper" => Func::Upper,
        "isempty" => Func::IsEmpty,
        "coalesce" => Func::Coalesce,
        "greatest" => Func::Greatest,
        "least" => Func::Least,
        "abs" => Func::Abs,
        "int4range" => Func::Int4Range,
        "tstzrange" => Func::TstzRange,
        "nullif" => Func::Nullif,
        _ => return None,
    })
}

/// PostgreSQL's 42883 for a call no function matches.
fn no_such_function(f: &ast::Function) -> DbError {
    err(
        SqlState::UndefinedFunction,
        format!("function {f} does not exist"),
    )
}

/// Functions PostgreSQL has that the simulated engine does not: 0A000
/// rather than 42883 (which says PostgreSQL lacks them too).
const KNOWN_ELSEWHERE: &[&str] = &[
    "pg_advisory_lock",
    "pg_advisory_unlock",
    "pg_advisory_lock_shared",
    "pg_try_advisory_lock",
    "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared",
    "pg_try_advisory_xact_lock",
    "pg_advisory_unlock_all",
    "nextval",
    "currval",
    "setval",
    "lastval",
    "unnest",
    "string_agg",
    "avg",
    "bool_and",
    "bool_or",
    "regexp_replace",
    "regexp_match",
    "split_part",
    "md5",
    "random",
    "age",
    "justify_interval",
    "jsonb_agg",
    "jsonb_object_agg",
    "json_build_object",
    "to_char",
    "to_date",
    "date_bin",
    "sqrt",
    "exp",
    "ln",
    "log",
    "row_number",
    "rank",
    "lag",
    "lead",
    "generate_series",
    "pg_sleep",
    "txid_current",
    "pg_current_xact_id",
    "version",
    "current_setting",
    "set_config",
];

/// The binary operators the engine evaluates (a lookup table).
fn binary_op(op: &ast::BinaryOperator) -> Result<BinOp, DbError> {
    Ok(match op {
        ast::BinaryOperator::Eq => BinOp::Eq,
        ast::BinaryOperator::NotEq => BinOp::Ne,
        ast::BinaryOperator::Lt => BinOp::Lt,
        ast::BinaryOperator::LtEq => BinOp::Le,
        ast::BinaryOperator::Gt => BinOp::Gt,
        ast::BinaryOperator::GtEq => BinOp::Ge,
        ast::BinaryOperator::And => BinOp::And,
        ast::BinaryOperator::Or => BinOp::Or,
        ast::BinaryOperator::Plus => BinOp::Add,
        ast::BinaryOperator::Minus => BinOp::Sub,
        ast::BinaryOperator::Multiply => BinOp::Mul,
        ast::BinaryOperator::Divide => BinOp::Div,
        ast::BinaryOperator::Modulo => BinOp::Mod,
        ast::BinaryOperator::StringConcat => BinOp::Concat,
        ast::BinaryOperator::PGOverlap => BinOp::Overlaps,
        ast::BinaryOperator::AtArrow => BinOp::Contains,
        ast::BinaryOperator::ArrowAt => BinOp::ContainedBy,
        ast::BinaryOperator::Arrow => BinOp::JsonGet,
        ast::BinaryOperator::LongArrow => BinOp::JsonGetText,
        ast::BinaryOperator::Question => BinOp::JsonHasKey,
        other => return Err(unsupported(format!("the operator {other}"))),
    })
}

/// `e`, or `NOT e` for the negated form of a predicate (`NOT EXISTS`,
/// `NOT IN`, `NOT LIKE`).
fn not_if(negated: bool, e: Expr) -> Expr {
    if negated {
        Expr::Not(Box::new(e))
    } else {
        e
    }
}

fn compare_name(op: &ast::BinaryOperator) -> Result<&'static str, DbError> {
    Ok(match op {
        ast::BinaryOperator::Eq => "=",
        ast::BinaryOperator::NotEq => "<>",
        ast::BinaryOperator::Lt => "<",
        ast::BinaryOperator::LtEq => "<=",
        ast::BinaryOperator::Gt => ">",
        ast::BinaryOperator::GtEq => ">=",
        other => return Err(unsupported(format!("the operator {other} with ANY/ALL"))),
    })
}

impl Compiler<'_> {
    /// `make_interval(years => .., months => .., weeks => .., days => ..,
    /// hours => .., mins => .., secs => ..)`, positional or named.
    fn make_interval(&mut self, f: &ast::Function) -> Result<Expr, DbError> {
        const NAMES: [&str; 7] = ["years", "months", "weeks", "days", "hours", "mins", "secs"];
        let mut slots: Vec<Expr> = vec![Expr::Const(Value::Null); 7];
        let list = match &f.args {
            ast::FunctionArguments::List(list) if list.clauses.is_empty() => &list.args[..],
            ast::FunctionArguments::None => &[],
            _ => return Err(unsupported(format!("the function call {f}"))),
        };
        let no_such = || {
            err(
                SqlState::UndefinedFunction,
                format!("function {f} does not exist"),
            )
        };
        for (i, a) in list.iter().enumerate() {
            let (slot, e) = match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => (i, e),
                ast::FunctionArg::Named {
                    name,
                    arg: ast::FunctionArgExpr::Expr(e),
                    ..
                }
                | ast::FunctionArg::ExprNamed {
                    name: ast::Expr::Identifier(name),
                    arg: ast::FunctionArgExpr::Expr(e),
                    ..
                } => (
                    NAMES
                        .iter()
                        .position(|n| *n == ident(name))
                        .ok_or_else(no_such)?,
                    e,
                ),
                _ => return Err(unsupported(format!("the function call {f}"))),
            };
            if slot >= 7 {
                return Err(no_such());
            }
            slots[slot] = self.compile(e)?;
        }
        Ok(Expr::Call(Builtin::MakeInterval, slots))
    }
}

/// PostgreSQL's types the simulated engine lacks (0A000; other unknown
/// names are 42704, as in PostgreSQL).
const PG_TYPES_NOT_MODELLED: &[&str] = &[
    "real",
    "float",
    "float4",
    "float8",
    "double",
    "timestamp",
    "time",
    "timetz",
    "money",
    "bytea",
    "inet",
    "cidr",
    "macaddr",
    "point",
    "xml",
    "json",
    "tsvector",
    "tsquery",
    "int8range",
    "numrange",
    "daterange",
    "tsrange",
    "bit",
    "varbit",
    "oid",
    "regclass",
    "name",
    "citext",
    "hstore",
    "record",
    "void",
];

/// The SQL type named by a parsed data type.
pub(crate) fn type_of(dt: &ast::DataType) -> Result<SqlType, DbError> {
    let text = dt.to_string();
    SqlType::parse(&text).ok_or_else(|| {
        let lower = text.to_ascii_lowercase();
        let simple = lower.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if simple && !PG_TYPES_NOT_MODELLED.contains(&lower.as_str()) {
            err(
                SqlState::Other("42704"),
                format!("type \"{lower}\" does not exist"),
            )
        } else {
            unsupported(format!("the type {text}"))
        }
    })
}

/// The row, parameters and aggregate results an expression reads.
pub(crate) struct Env<'a> {
    pub(crate) row: &'a [Value],
    pub(crate) params: &'a [Value],
    pub(crate) aggs: &'a [Value],
    /// The clock, uuid stream and catalog the statement reads.
    pub(crate) ctx: &'a Ctx,
}

fn truth(v: &Value) -> Result<Option<bool>, DbError> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::Text(t) => match parse_text(t, SqlType::Bool)? {
            Value::Bool(b) => Ok(Some(b)),
            _ => Ok(None),
        },
        other => Err(err(
            SqlState::DatatypeMismatch,
            format!(
                "argument of WHERE must be type boolean, not type {}",
                other.type_name()
            ),
        )),
    }
}

fn span_of(v: &Value) -> Option<Span> {
    match v {
        Value::IntRange(s) | Value::TsRange(s) => Some(*s),
        _ => None,
    }
}

fn int_of(v: &Value) -> Result<i64, DbError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Text(t) => match parse_text(t, SqlType::BigInt)? {
            Value::Int(i) => Ok(i),
            _ => unreachable!("bigint parses to an integer"),
        },
        other => Err(err(
            SqlState::UndefinedFunction,
            format!("operator does not exist for type {}", other.type_name()),
        )),
    }
}

fn overflow() -> DbError {
    err(SqlState::NumericValueOutOfRange, "bigint out of range")
}

impl Expr {
    /// Whether the expression reads no column (constants and parameters
    /// only), so it can bound an index scan.
    pub(crate) fn max_column(&self) -> Option<usize> {
        let mut max: Option<usize> = None;
        self.visit(&mut |e| {
            if let Expr::Col(c) = e {
                max = Some(max.map_or(*c, |m: usize| m.max(*c)));
            }
        });
        max
    }

    /// The expression with every column moved `offset` places right: a
    /// table's expression (an index predicate) as it reads the table at
    /// `offset` in a statement's combined row.
    pub(crate) fn shifted(&self, offset: usize) -> Expr {
        self.map_columns(&|c| c + offset)
    }

    /// The expression with every column `c` read as column `f(c)`: a
    /// table's expression after `ALTER TABLE` moved its columns.
    pub(crate) fn map_columns(&self, f: &impl Fn(usize) -> usize) -> Expr {
        let s = |e: &Expr| Box::new(e.map_columns(f));
        let all = |list: &[Expr]| list.iter().map(|e| e.map_columns(f)).collect();
        match self {
            Expr::Col(c) => Expr::Col(f(*c)),
            Expr::Bin(op, a, b) => Expr::Bin(*op, s(a), s(b)),
            Expr::Not(a) => Expr::Not(s(a)),
            Expr::Neg(a) => Expr::Neg(s(a)),
            Expr::IsNull(a, n) => Expr::IsNull(s(a), *n),
            Expr::IsBool(a, b, n) => Expr::IsBool(s(a), *b, *n),
            Expr::Cast(a, t) => Expr::Cast(s(a), *t),
            Expr::InList(a, list, n) => Expr::InList(s(a), all(list), *n),
            Expr::Between(a, b, c, n) => Expr::Between(s(a), s(b), s(c), *n),
            Expr::Func(func, args) => Expr::Func(*func, all(args)),
            Expr::Call(func, args) => Expr::Call(*func, all(args)),
            Expr::UserCall(func, args) => Expr::UserCall(func.clone(), all(args)),
            Expr::Array(args) => Expr::Array(all(args)),
            Expr::AnyAll(op, any, a, b) => Expr::AnyAll(op, *any, s(a), s(b)),
            Expr::Case(arms, other) => Expr::Case(
                arms.iter()
                    .map(|(c, r)| (c.map_columns(f), r.map_columns(f)))
                    .collect(),
                other.as_ref().map(|o| s(o)),
            ),
            // Table expressions (index predicates, CHECK) have no
            // subqueries.
            Expr::Const(_) | Expr::Param(_) | Expr::Agg(_) | Expr::Default | Expr::Subquery(_) => {
                self.clone()
            }
        }
    }

    /// Appends the expression's top-level `AND` operands.
    pub(crate) fn conjuncts(&self, out: &mut Vec<Expr>) {
        match self {
            Expr::Bin(BinOp::And, a, b) => {
                a.conjuncts(out);
                b.conjuncts(out);
            }
            other => out.push(other.clone()),
        }
    }

    pub(crate) fn visit(&self, f: &mut impl FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Bin(_, a, b) => {
                a.visit(f);
                b.visit(f);
            }
            Expr::Not(a)
            | Expr::Neg(a)
            | Expr::IsNull(a, _)
            | Expr::IsBool(a, _, _)
            | Expr::Cast(a, _) => a.visit(f),
            Expr::InList(a, list, _) => {
                a.visit(f);
                list.iter().for_each(|x| x.visit(f));
            }
            Expr::Between(a, b, c, _) => {
                a.visit(f);
                b.visit(f);
                c.visit(f);
            }
            Expr::Func(_, args)
            | Expr::Call(_, args)
            | Expr::UserCall(_, args)
            | Expr::Array(args) => args.iter().for_each(|x| x.visit(f)),
            Expr::AnyAll(_, _, a, b) => {
                a.visit(f);
                b.visit(f);
            }
            Expr::Case(arms, other) => {
                for (c, r) in arms {
                    c.visit(f);
                    r.visit(f);
                }
                if let Some(o) = other {
                    o.visit(f);
                }
            }
            // A subquery reads the enclosing query's row only through its
            // correlated columns (and the left side of `IN` / `ANY`).
            Expr::Subquery(sub) => {
                sub.outer_refs.iter().for_each(|x| x.visit(f));
                if let super::subquery::SubKind::Quantified { lhs, .. } = &sub.kind {
                    lhs.visit(f);
                }
            }
            Expr::Const(_) | Expr::Param(_) | Expr::Col(_) | Expr::Agg(_) | Expr::Default => {}
        }
    }

    /// Whether evaluating the expression runs a subquery (which reads the
    /// store, so only once the statement has started).
    pub(crate) fn has_subquery(&self) -> bool {
        let mut found = false;
        self.visit(&mut |e| found |= matches!(e, Expr::Subquery(_)));
        found
    }

    /// Evaluates to a boolean filter result (NULL counts as false).
    pub(crate) fn is_true(&self, env: &Env<'_>) -> Result<bool, DbError> {
        Ok(truth(&self.eval(env)?)? == Some(true))
    }

    pub(crate) fn eval(&self, env: &Env<'_>) -> Result<Value, DbError> {
        Ok(match self {
            Expr::Const(v) => v.clone(),
            Expr::Param(i) => env.params.get(*i).cloned().ok_or_else(|| {
                err(
                    SqlState::ProtocolViolation,
                    format!("there is no parameter ${}", i + 1),
                )
            })?,
            Expr::Col(i) => env.row[*i].clone(),
            Expr::Agg(i) => env.aggs[*i].clone(),
            Expr::Default => {
                return Err(err(
                    SqlState::SyntaxError,
                    "DEFAULT is not allowed in this context",
                ))
            }
            Expr::Not(a) => match truth(&a.eval(env)?)? {
                None => Value::Null,
                Some(b) => Value::Bool(!b),
            },
            Expr::Neg(a) => match a.eval(env)? {
                Value::Null => Value::Null,
                v if funcs::negate(&v).is_some() => funcs::negate(&v).expect("checked"),
                v => Value::Int(int_of(&v)?.checked_neg().ok_or_else(overflow)?),
            },
            Expr::IsNull(a, negated) => Value::Bool(a.eval(env)?.is_null() != *negated),
            Expr::IsBool(a, expected, negated) => {
                let t = truth(&a.eval(env)?)?;
                Value::Bool((t == Some(*expected)) != *negated)
            }
            Expr::Bin(op, a, b) => return eval_bin(*op, a, b, env),
            Expr::InList(a, list, negated) => return eval_in_list(a, list, *negated, env),
            Expr::Between(a, lo, hi, negated) => eval_between(a, lo, hi, *negated, env)?,
            Expr::Cast(a, ty) => cast(&a.eval(env)?, *ty)?,
            Expr::Call(b, args) => funcs::call(*b, &eval_all(args, env)?, env.ctx)?,
            Expr::UserCall(f, args) => {
                super::plpgsql::call_in_expression(f, eval_all(args, env)?, env.ctx)?
            }
            Expr::AnyAll(op, any, a, array) => {
                let x = a.eval(env)?;
                let arr = array.eval(env)?;
                funcs::any_all(|p, q| funcs::compare_op(op, p, q), &x, &arr, *any)?
            }
            Expr::Array(items) => Value::Array(eval_all(items, env)?),
            Expr::Case(arms, other) => return eval_case(arms, other.as_deref(), env),
            Expr::Func(f, args) => return eval_func(*f, args, env),
            Expr::Subquery(sub) => super::subquery::eval(sub, env)?,
        })
    }
}

/// Evaluates each expression of a list, in order.
fn eval_all(exprs: &[Expr], env: &Env<'_>) -> Result<Vec<Value>, DbError> {
    exprs.iter().map(|a| a.eval(env)).collect()
}

/// `a [NOT] IN (list)`: true at the first equal item, NULL when none is
/// equal but one compared as unknown.
fn eval_in_list(a: &Expr, list: &[Expr], negated: bool, env: &Env<'_>) -> Result<Value, DbError> {
    let v = a.eval(env)?;
    if v.is_null() {
        return Ok(Value::Null);
    }
    let mut saw_null = false;
    for x in list {
        match compare(&v, &x.eval(env)?)? {
            Some(Ordering::Equal) => return Ok(Value::Bool(!negated)),
            None => saw_null = true,
            _ => {}
        }
    }
    Ok(if saw_null {
        Value::Null
    } else {
        Value::Bool(negated)
    })
}

/// `a [NOT] BETWEEN lo AND hi`, in three-valued logic.
fn eval_between(
    a: &Expr,
    lo: &Expr,
    hi: &Expr,
    negated: bool,
    env: &Env<'_>,
) -> Result<Value, DbError> {
    let v = a.eval(env)?;
    let ge = compare(&v, &lo.eval(env)?)?.map(|o| o != Ordering::Less);
    let le = compare(&v, &hi.eval(env)?)?.map(|o| o != Ordering::Greater);
    let both = match (ge, le) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    };
    Ok(match both {
        None => Value::Null,
        Some(b) => Value::Bool(b != negated),
    })
}

/// `CASE`: the result of the first arm whose condition is true, else the
/// `ELSE` (NULL without one); later arms are not evaluated.
fn eval_case(arms: &[(Expr, Expr)], other: Option<&Expr>, env: &Env<'_>) -> Result<Value, DbError> {
    for (c, r) in arms {
        if c.is_true(env)? {
            return r.eval(env);
        }
    }
    match other {
        Some(o) => o.eval(env),
        None => Ok(Value::Null),
    }
}

fn eval_bin(op: BinOp, a: &Expr, b: &Expr, env: &Env<'_>) -> Result<Value, DbError> {
    if matches!(op, BinOp::And | BinOp::Or) {
        let x = truth(&a.eval(env)?)?;
        // Short circuit as PostgreSQL may (it never has to evaluate both).
        match (op, x) {
            (BinOp::And, Some(false)) => return Ok(Value::Bool(false)),
            (BinOp::Or, Some(true)) => return Ok(Value::Bool(true)),
            _ => {}
        }
        let y = truth(&b.eval(env)?)?;
        return Ok(match (op, x, y) {
            (BinOp::And, _, Some(false)) => Value::Bool(false),
            (BinOp::And, Some(true), Some(true)) => Value::Bool(true),
            (BinOp::Or, _, Some(true)) => Value::Bool(true),
            (BinOp::Or, Some(false), Some(false)) => Value::Bool(false),
            _ => Value::Null,
        });
    }
    let x = a.eval(env)?;
    let y = b.eval(env)?;
    if x.is_null() || y.is_null() {
        return Ok(Value::Null);
    }
    let cmp = |want: fn(Ordering) -> bool| -> Result<Value, DbError> {
        Ok(compare(&x, &y)?.map_or(Value::Null, |o| Value::Bool(want(o))))
    };
    match op {
        BinOp::Eq => cmp(|o| o == Ordering::Equal),
        BinOp::Ne => cmp(|o| o != Ordering::Equal),
        BinOp::Lt => cmp(|o| o == Ordering::Less),
        BinOp::Le => cmp(|o| o != Ordering::Greater),
        BinOp::Gt => cmp(|o| o == Ordering::Greater),
        BinOp::Ge => cmp(|o| o != Ordering::Less),
        BinOp::Concat => {
            let text = |v: &Value| match v {
                Value::Char(c) => c.trim_end_matches(' ').to_string(),
                Value::Json(_) => funcs::json_text(v),
                Value::Bool(b) => if *b { "true" } else { "false" }.to_string(),
                other => other.to_pg_text().unwrap_or_default(),
            };
            Ok(Value::Text(format!("{}{}", text(&x), text(&y)).into()))
        }
        BinOp::JsonGet => funcs::json_get(&x, &y, false),
        BinOp::JsonGetText => funcs::json_get(&x, &y, true),
        BinOp::JsonHasKey => funcs::json_has_key(&x, &y),
        BinOp::Contains if matches!(x, Value::Json(_)) => funcs::json_contains(&x, &y),
        BinOp::ContainedBy if matches!(y, Value::Json(_)) => funcs::json_contains(&y, &x),
        BinOp::Overlaps | BinOp::Contains | BinOp::ContainedBy => range_op(op, &x, &y),
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => arith(op, &x, &y),
        BinOp::And | BinOp::Or => unreachable!("handled above"),
    }
}

fn range_op(op: BinOp, x: &Value, y: &Value) -> Result<Value, DbError> {
    let as_span = |v: &Value, like: &Value| -> Result<Option<Span>, DbError> {
        match v {
            Value::Text(t) => Ok(span_of(&super::value::coerce_like(t, like)?)),
            other => Ok(span_of(other)),
        }
    };
    let bad = || {
        err(
            SqlState::UndefinedFunction,
            format!(
                "operator does not exist: {} {} {}",
                x.type_name(),
                match op {
                    BinOp::Overlaps => "&&",
                    BinOp::Contains => "@>",
                    _ => "<@",
                },
                y.type_name()
            ),
        )
    };
    let point = |v: &Value| -> Option<i64> {
        match v {
            Value::Int(i) | Value::Timestamp(i) => Some(*i),
            _ => None,
        }
    };
    match op {
        BinOp::Overlaps => {
            let (l, r) = (
                as_span(x, y)?.ok_or_else(bad)?,
                as_span(y, x)?.ok_or_else(bad)?,
            );
            Ok(Value::Bool(l.overlaps(&r)))
        }
        BinOp::Contains | BinOp::ContainedBy => {
            let (outer, inner) = if op == BinOp::Contains {
                (x, y)
            } else {
                (y, x)
            };
            let outer_span = as_span(outer, inner)?.ok_or_else(bad)?;
            if let Some(p) = point(inner) {
                return Ok(Value::Bool(outer_span.contains_point(p)));
            }
            let inner_span = as_span(inner, outer)?.ok_or_else(bad)?;
            Ok(Value::Bool(outer_span.contains(&inner_span)))
        }
        _ => Err(bad()),
    }
}

fn arith(op: BinOp, x: &Value, y: &Value) -> Result<Value, DbError> {
    let symbol = match op {
        BinOp::Add => '+',
        BinOp::Sub => '-',
        BinOp::Mul => '*',
        BinOp::Div => '/',
        _ => '%',
    };
    if let Some(out) = funcs::arith(symbol, x, y) {
        return out;
    }
    // date + integer days, timestamp arithmetic is not modelled.
    if let (Value::Date(d), BinOp::Add | BinOp::Sub) = (x, op) {
        let n = int_of(y)?;
        let days = if op == BinOp::Add {
            *d as i64 + n
        } else {
            *d as i64 - n
        };
        return i32::try_from(days)
            .map(Value::Date)
            .map_err(|_| err(SqlState::NumericValueOutOfRange, "date out of range"));
    }
    let (a, b) = (int_of(x)?, int_of(y)?);
    let out = match op {
        BinOp::Add => a.checked_add(b),
        BinOp::Sub => a.checked_sub(b),
        BinOp::Mul => a.checked_mul(b),
        BinOp::Div | BinOp::Mod if b == 0 => {
            return Err(err(SqlState::DivisionByZero, "division by zero"))
        }
        BinOp::Div => a.checked_div(b),
        BinOp::Mod => a.checked_rem(b),
        _ => unreachable!("arithmetic operator"),
    };
    out.map(Value::Int).ok_or_else(overflow)
}

fn eval_func(f: Func, args: &[Expr], env: &Env<'_>) -> Result<Value, DbError> {
    let vals = eval_all(args, env)?;
    Ok(match f {
        Func::Coalesce => vals
            .into_iter()
            .find(|v| !v.is_null())
            .unwrap_or(Value::Null),
        Func::Nullif => match compare(&vals[0], &vals[1])? {
            Some(Ordering::Equal) => Value::Null,
            _ => vals[0].clone(),
        },
        Func::Greatest | Func::Least => greatest_or_least(f, vals)?,
        Func::Abs => match &vals[0] {
            Value::Null => Value::Null,
            v if funcs::abs(v).is_some() => funcs::abs(v).expect("checked"),
            v => Value::Int(int_of(v)?.checked_abs().ok_or_else(overflow)?),
        },
        Func::Lower | Func::Upper | Func::IsEmpty => lower_upper_or_isempty(f, &vals[0])?,
        Func::Int4Range | Func::TstzRange => make_range(f, &vals)?,
    })
}

/// `greatest(...)` / `least(...)`: NULLs are skipped; all NULL gives NULL.
fn greatest_or_least(f: Func, vals: Vec<Value>) -> Result<Value, DbError> {
    let mut best: Option<Value> = None;
    for v in vals.into_iter().filter(|v| !v.is_null()) {
        best = Some(match best {
            None => v,
            Some(b) => {
                let o = compare(&v, &b)?.unwrap_or(Ordering::Equal);
                let better = if f == Func::Greatest {
                    o == Ordering::Greater
                } else {
                    o == Ordering::Less
                };
                if better {
                    v
                } else {
                    b
                }
            }
        });
    }
    Ok(best.unwrap_or(Value::Null))
}

/// `lower`/`upper` of a text (case) or of a range (its bound), and
/// `isempty` of a range: PostgreSQL overloads the names.
fn lower_upper_or_isempty(f: Func, v: &Value) -> Result<Value, DbError> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let (span, ts) = match v {
        Value::Text(_) | Value::Char(_) if f != Func::IsEmpty => {
            let t = match v {
                Value::Char(c) => c.trim_end_matches(' ').to_string(),
                other => other.to_pg_text().unwrap_or_default(),
            };
            return Ok(Value::Text(
                if f == Func::Lower {
                    t.to_lowercase()
                } else {
                    t.to_uppercase()
                }
                .into(),
            ));
        }
        Value::IntRange(s) => (*s, false),
        Value::TsRange(s) => (*s, true),
        other => {
            return Err(err(
                SqlState::UndefinedFunction,
                format!("function {f:?}({}) does not exist", other.type_name()).to_lowercase(),
            ))
        }
    };
    if f == Func::IsEmpty {
        return Ok(Value::Bool(span.is_empty()));
    }
    let bound = if span.is_empty() {
        None
    } else if f == Func::Lower {
        span.lower
    } else {
        span.upper
    };
    Ok(match bound {
        None => Value::Null,
        Some(b) if ts => Value::Timestamp(b),
        Some(b) => Value::Int(b),
    })
}

/// `int4range(lower, upper)` / `tstzrange(lower, upper)`, `[)` bounds
/// (the compiler refuses others).
fn make_range(f: Func, vals: &[Value]) -> Result<Value, DbError> {
    let ty = if f == Func::Int4Range {
        SqlType::Integer
    } else {
        SqlType::Timestamp
    };
    let bound = |v: &Value| -> Result<Option<i64>, DbError> {
        Ok(match coerce(v, ty)? {
            Value::Null => None,
            Value::Int(i) | Value::Timestamp(i) => Some(i),
            _ => unreachable!("coerced to an integer or timestamp"),
        })
    };
    let (lower, upper) = (bound(&vals[0])?, bound(&vals[1])?);
    if let (Some(l), Some(u)) = (lower, upper) {
        if l > u {
            return Err(err(
                SqlState::DataException,
                "range lower bound must be less than or equal to range upper bound",
            ));
        }
    }
    let span = Span::new(lower, upper);
    Ok(if f == Func::Int4Range {
        Value::IntRange(span)
    } else {
        Value::TsRange(span)
    })
}
