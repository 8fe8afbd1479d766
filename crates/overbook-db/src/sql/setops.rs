//! `SELECT DISTINCT`, `DISTINCT ON (...)` and the set operations `UNION
//! [ALL]`, `INTERSECT [ALL]`, `EXCEPT [ALL]`, with PostgreSQL 15's rules:
//! NULLs are not distinct from each other, `DISTINCT ON` keeps the first
//! row of each group in ORDER BY order and its expressions must lead the
//! ORDER BY (42P10), a set operation's ORDER BY names its output columns,
//! and a locking clause is not allowed with either (0A000).

use super::exec::Exec;
use super::expr::{ident, unsupported, Compiler, Expr};
use super::plan::{Order, OrderKey, Planner, Prepared, SelectPlan};
use super::value::{encode_key, err, sort_order, Value};
use super::Rows;
use crate::store::{DbError, Op, SqlState};
use sqlparser::ast;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// What a `SELECT DISTINCT` compares rows by.
#[derive(Clone, Debug)]
pub(crate) enum Distinct {
    /// `DISTINCT`: every output column.
    All,
    /// `DISTINCT ON (...)`: these keys.
    On(Vec<OrderKey>),
}

/// Plans a query's `DISTINCT` / `DISTINCT ON` against its select list and
/// ORDER BY.
pub(crate) fn plan_distinct(
    c: &mut Compiler<'_>,
    distinct: Option<&ast::Distinct>,
    output: &[(String, Expr)],
    order: &[Order],
) -> Result<Option<Distinct>, DbError> {
    let same = |a: &OrderKey, b: &OrderKey| -> bool {
        let resolve = |k: &OrderKey| match k {
            OrderKey::Output(i) => format!("{:?}", output[*i].1),
            OrderKey::Expr(e) => format!("{e:?}"),
        };
        resolve(a) == resolve(b)
    };
    match distinct {
        None => Ok(None),
        Some(ast::Distinct::Distinct) => {
            // Every ORDER BY key must be an output column.
            for o in order {
                if let OrderKey::Expr(e) = &o.key {
                    let text = format!("{e:?}");
                    if !output.iter().any(|(_, x)| format!("{x:?}") == text) {
                        return Err(err(
                            SqlState::InvalidColumnReference,
                            "for SELECT DISTINCT, ORDER BY expressions must appear in select list",
                        ));
                    }
                }
            }
            Ok(Some(Distinct::All))
        }
        Some(ast::Distinct::On(exprs)) => {
            let mut keys = Vec::with_capacity(exprs.len());
            for e in exprs {
                keys.push(match e {
                    ast::Expr::Value(v) if matches!(v.value, ast::Value::Number(..)) => {
                        let ast::Value::Number(n, _) = &v.value else {
                            unreachable!("matched above")
                        };
                        let k: usize = n.parse().unwrap_or(0);
                        if k == 0 || k > output.len() {
                            return Err(err(
                                SqlState::InvalidColumnReference,
                                format!("DISTINCT ON position {n} is not in select list"),
                            ));
                        }
                        OrderKey::Output(k - 1)
                    }
                    ast::Expr::Identifier(i) => match c.compile(e) {
                        Err(x) if x.code == SqlState::UndefinedColumn => {
                            let name = ident(i);
                            match output.iter().position(|(n, _)| *n == name) {
                                Some(k) => OrderKey::Output(k),
                                None => return Err(x),
                            }
                        }
                        other => OrderKey::Expr(other?),
                    },
                    other => OrderKey::Expr(c.compile(other)?),
                });
            }
            // The ORDER BY must start with the DISTINCT ON keys (in any
            // order among themselves).
            let lead = order.len().min(keys.len());
            for o in &order[..lead] {
                if !keys.iter().any(|k| same(k, &o.key)) {
                    return Err(err(
                        SqlState::InvalidColumnReference,
                        "SELECT DISTINCT ON expressions must match initial ORDER BY expressions",
                    ));
                }
            }
            if !order.is_empty() && order.len() < keys.len() {
                let missing = keys.iter().any(|k| !order.iter().any(|o| same(k, &o.key)));
                if missing {
                    return Err(err(
                        SqlState::InvalidColumnReference,
                        "SELECT DISTINCT ON expressions must match initial ORDER BY expressions",
                    ));
                }
            }
            Ok(Some(Distinct::On(keys)))
        }
    }
}

/// The values a row's DISTINCT compares, appended after its ORDER BY
/// keys (the sort reads only as many keys as the ORDER BY has).
pub(crate) fn distinct_keys(
    distinct: &Distinct,
    env: &super::expr::Env<'_>,
    output: &[Value],
    keys: &mut Vec<Value>,
) -> Result<(), DbError> {
    match distinct {
        Distinct::All => keys.extend(output.iter().cloned()),
        Distinct::On(on) => {
            for k in on {
                keys.push(match k {
                    OrderKey::Output(i) => output.get(*i).cloned().unwrap_or(Value::Null),
                    OrderKey::Expr(e) => e.eval(env)?,
                });
            }
        }
    }
    Ok(())
}

/// Keeps the first of each group of sorted rows whose DISTINCT keys (after
/// the first `order_len` keys) are equal.
pub(crate) fn dedupe<T>(order_len: usize, rows: &mut Vec<(Vec<Value>, T)>) {
    let mut seen = std::collections::BTreeSet::new();
    rows.retain(|(keys, _)| {
        let mut text = String::new();
        for v in &keys[order_len.min(keys.len())..] {
            encode_key(&mut text, v);
        }
        seen.insert(text)
    });
}

/// A set operation's tree of queries.
#[derive(Clone, Debug)]
pub(crate) enum SetTree {
    Leaf(Box<SelectPlan>),
    Op {
        op: ast::SetOperator,
        all: bool,
        left: Box<SetTree>,
        right: Box<SetTree>,
    },
}

/// `q1 UNION / INTERSECT / EXCEPT q2 ...` with the ORDER BY (output
/// columns), LIMIT and OFFSET of the whole.
#[derive(Clone, Debug)]
pub(crate) struct SetOpPlan {
    pub(crate) tree: SetTree,
    pub(crate) columns: Vec<String>,
    pub(crate) order: Vec<Order>,
    pub(crate) limit: Option<Expr>,
    pub(crate) offset: Option<Expr>,
}

impl Planner<'_> {
    fn set_tree(&mut self, body: ast::SetExpr) -> Result<(SetTree, Vec<String>), DbError> {
        match body {
            ast::SetExpr::Select(select) => {
                let query = ast::Query {
                    with: None,
                    body: Box::new(ast::SetExpr::Select(select)),
                    order_by: None,
                    limit: None,
                    limit_by: Vec::new(),
                    offset: None,
                    fetch: None,
                    locks: Vec::new(),
                    for_clause: None,
                    settings: None,
                    format_clause: None,
                };
                self.set_leaf(query)
            }
            ast::SetExpr::Query(query) => self.set_leaf(*query),
            ast::SetExpr::SetOperation {
                op,
                set_quantifier,
                left,
                right,
            } => {
                let all = match set_quantifier {
                    ast::SetQuantifier::All => true,
                    ast::SetQuantifier::Distinct | ast::SetQuantifier::None => false,
                    other => return Err(unsupported(format!("{op} {other}"))),
                };
                if op == ast::SetOperator::Minus {
                    return Err(err(
                        SqlState::SyntaxError,
                        "syntax error at or near \"MINUS\"",
                    ));
                }
                let (left, columns) = self.set_tree(*left)?;
                let (right, right_columns) = self.set_tree(*right)?;
                if columns.len() != right_columns.len() {
                    return Err(err(
                        SqlState::SyntaxError,
                        format!("each {op} query must have the same number of columns"),
                    ));
                }
                Ok((
                    SetTree::Op {
                        op,
                        all,
                        left: Box::new(left),
                        right: Box::new(right),
                    },
                    columns,
                ))
            }
            other => Err(unsupported(format!("the query form {other}"))),
        }
    }

    fn set_leaf(&mut self, query: ast::Query) -> Result<(SetTree, Vec<String>), DbError> {
        match self.query(query, super::plan::LockStrength::Plain)? {
            Prepared::Select(plan) => {
                let columns = plan.output.iter().map(|(n, _)| n.clone()).collect();
                Ok((SetTree::Leaf(plan), columns))
            }
            Prepared::SetOp(plan) => Ok((plan.tree, plan.columns)),
            _ => Err(unsupported("this query inside a set operation")),
        }
    }

    /// Plans `query`, whose body is a set operation.
    pub(crate) fn set_operation(&mut self, query: ast::Query) -> Result<Prepared, DbError> {
        if !query.locks.is_empty() {
            return Err(err(
                SqlState::FeatureNotSupported,
                "FOR UPDATE is not allowed with UNION/INTERSECT/EXCEPT",
            ));
        }
        let (tree, columns) = self.set_tree(*query.body)?;
        let mut order = Vec::new();
        if let Some(order_by) = &query.order_by {
            let ast::OrderByKind::Expressions(exprs) = &order_by.kind else {
                return Err(unsupported("ORDER BY ALL"));
            };
            for o in exprs {
                let position = match &o.expr {
                    ast::Expr::Value(v) => match &v.value {
                        ast::Value::Number(n, _) => {
                            let k: usize = n.parse().unwrap_or(0);
                            if k == 0 || k > columns.len() {
                                return Err(err(
                                    SqlState::InvalidColumnReference,
                                    format!("ORDER BY position {n} is not in select list"),
                                ));
                            }
                            k - 1
                        }
                        _ => return Err(invalid_set_order()),
                    },
                    ast::Expr::Identifier(i) => {
                        let name = ident(i);
                        columns.iter().position(|c| *c == name).ok_or_else(|| {
                            err(
                                SqlState::UndefinedColumn,
                                format!("column \"{name}\" does not exist"),
                            )
                        })?
                    }
                    _ => return Err(invalid_set_order()),
                };
                let desc = o.options.asc == Some(false);
                order.push(Order {
                    key: OrderKey::Output(position),
                    desc,
                    nulls_first: o.options.nulls_first.unwrap_or(desc),
                });
            }
        }
        let scope = super::expr::Scope::default();
        let limit = query
            .limit
            .as_ref()
            .map(|l| self.compile(&scope, l))
            .transpose()?;
        let offset = query
            .offset
            .as_ref()
            .map(|o| self.compile(&scope, &o.value))
            .transpose()?;
        Ok(Prepared::SetOp(Box::new(SetOpPlan {
            tree,
            columns,
            order,
            limit,
            offset,
        })))
    }
}

fn invalid_set_order() -> DbError {
    err(
        SqlState::FeatureNotSupported,
        "invalid UNION/INTERSECT/EXCEPT ORDER BY clause (only result column names or numbers)",
    )
}

fn row_key(row: &[Value]) -> String {
    let mut text = String::new();
    for v in row {
        encode_key(&mut text, v);
    }
    text
}

/// Combines two results by `op` with PostgreSQL's multiset rules.
fn combine(
    op: ast::SetOperator,
    all: bool,
    left: Vec<Vec<Value>>,
    right: Vec<Vec<Value>>,
) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    match op {
        ast::SetOperator::Union => {
            out = left;
            out.extend(right);
            if !all {
                let mut seen = std::collections::BTreeSet::new();
                out.retain(|r| seen.insert(row_key(r)));
            }
        }
        _ => {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for r in &right {
                *counts.entry(row_key(r)).or_default() += 1;
            }
            let mut emitted = std::collections::BTreeSet::new();
            for r in left {
                let key = row_key(&r);
                let n = counts.get(&key).copied().unwrap_or(0);
                let keep = match (op, all) {
                    // INTERSECT ALL: min(m, n) copies; EXCEPT ALL: m - n.
                    (ast::SetOperator::Intersect, true) => {
                        if n > 0 {
                            counts.insert(key.clone(), n - 1);
                        }
                        n > 0
                    }
                    (ast::SetOperator::Intersect, false) => n > 0 && emitted.insert(key),
                    (_, true) => {
                        if n > 0 {
                            counts.insert(key.clone(), n - 1);
                        }
                        n == 0
                    }
                    (_, false) => n == 0 && emitted.insert(key),
                };
                if keep {
                    out.push(r);
                }
            }
        }
    }
    out
}

/// The rows of a set operation's arm, computed recursively.
type ArmRows<'t> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<Vec<Value>>, DbError>> + Send + 't>,
>;

impl Exec<'_> {
    fn set_tree<'t>(&'t mut self, tree: &'t SetTree) -> ArmRows<'t> {
        Box::pin(async move {
            match tree {
                SetTree::Leaf(plan) => Ok(self.select_body(plan).await?.rows),
                SetTree::Op {
                    op,
                    all,
                    left,
                    right,
                } => {
                    let l = self.set_tree(left).await?;
                    let r = self.set_tree(right).await?;
                    Ok(combine(*op, *all, l, r))
                }
            }
        })
    }

    /// Runs a set operation: every query on the statement's one snapshot.
    pub(crate) async fn set_op(&mut self, plan: &SetOpPlan) -> Result<Rows, DbError> {
        self.tx.sql_start(Op::Scan, None, None).await?;
        let mut rows = self.set_tree(&plan.tree).await?;
        if !plan.order.is_empty() {
            rows.sort_by(|a, b| {
                for o in &plan.order {
                    let OrderKey::Output(i) = o.key else {
                        continue;
                    };
                    let (x, y) = (&a[i], &b[i]);
                    let ord = match (x.is_null(), y.is_null()) {
                        (true, true) => Ordering::Equal,
                        (true, false) if o.nulls_first => Ordering::Less,
                        (true, false) => Ordering::Greater,
                        (false, true) if o.nulls_first => Ordering::Greater,
                        (false, true) => Ordering::Less,
                        _ if o.desc => sort_order(x, y).reverse(),
                        _ => sort_order(x, y),
                    };
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                Ordering::Equal
            });
        }
        let offset = self.limit_of(plan.offset.as_ref())?.unwrap_or(0);
        let limit = self.limit_of(plan.limit.as_ref())?;
        let rows = rows
            .into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect();
        Ok(Rows::new(plan.columns.clone(), rows))
    }
}
