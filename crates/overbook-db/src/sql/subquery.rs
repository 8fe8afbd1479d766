//! Subqueries in expressions: scalar `(SELECT ...)`, `[NOT] EXISTS
//! (SELECT ...)`, `x [NOT] IN (SELECT ...)` and `x op ANY | ALL (SELECT
//! ...)`, correlated or not, wherever an expression goes in a statement
//! (select list, WHERE, HAVING, UPDATE's SET, INSERT's VALUES,
//! RETURNING).
//!
//! A subquery is planned like a query whose scope starts with the
//! enclosing query's tables (see [`Scope::nested`]): its combined row is
//! the outer row followed by its own tables' columns, so a correlated
//! column is an ordinary column of that row and an index lookup may be
//! bound by it. It runs when the expression is evaluated, through the
//! statement's [`SqlReader`](crate::store::SqlReader): at the statement's
//! snapshot, with the same read records and SSI predicate locks as any
//! read of the statement. An uncorrelated subquery runs once per statement
//! (PostgreSQL's InitPlan), a correlated one once per evaluation
//! (PostgreSQL's SubPlan). Semantics as PostgreSQL 15's: a scalar subquery
//! of no rows is NULL and of more than one row fails with 21000; `IN` is
//! `= ANY`, so `x NOT IN (...)` is NULL when no row equals `x` and one is
//! NULL, and true over no rows even for a NULL `x`.
//!
//! A locking clause (`FOR UPDATE`...) inside a subquery is rejected
//! (0A000): the evaluation of an expression does not wait for locks.

use super::catalog::Catalog;
use super::exec::{query_rows, Bound};
use super::expr::{unsupported, Env, Expr, Scope};
use super::plan::{OrderKey, Planner, SelectPlan};
use super::settings::ScanSettings;
use super::value::{err, Value};
use crate::store::{DbError, SqlState};
use sqlparser::ast;
use std::sync::Arc;

/// What the expression compiler needs to plan a subquery.
#[derive(Clone)]
pub(crate) struct SubPlanner<'a> {
    pub(crate) catalog: &'a Catalog,
    pub(crate) scans: ScanSettings,
    /// The statement's WITH queries, which a subquery may read.
    pub(crate) ctes: Arc<Vec<super::cte::CteDef>>,
    /// The statement's named tables, which its table locks cover.
    pub(crate) touched: std::rc::Rc<std::cell::RefCell<Vec<String>>>,
}

/// How a subquery's rows become a value.
#[derive(Clone, Debug)]
pub(crate) enum SubKind {
    /// `(SELECT x ...)`: its one value, NULL without rows.
    Scalar,
    /// `EXISTS (SELECT ...)`.
    Exists,
    /// `lhs op ANY (SELECT x ...)` (`any`) or `lhs op ALL (...)`; `IN` is
    /// `= ANY`.
    Quantified {
        op: &'static str,
        any: bool,
        lhs: Box<Expr>,
    },
}

/// A planned subquery.
#[derive(Clone, Debug)]
pub(crate) struct SubPlan {
    pub(crate) kind: SubKind,
    pub(crate) plan: Arc<SelectPlan>,
    /// The width of the enclosing query's combined row, where the
    /// subquery's own columns begin.
    pub(crate) outer_width: usize,
    /// The enclosing queries' columns it reads (each an `Expr::Col`):
    /// empty when it is uncorrelated.
    pub(crate) outer_refs: Vec<Expr>,
}

impl SubPlanner<'_> {
    /// Plans `query` as a subquery of `kind` inside `scope`; `params` is
    /// the number of parameters seen so far (updated).
    pub(crate) fn plan(
        &self,
        query: &ast::Query,
        scope: &Scope,
        kind: SubKind,
        params: &mut usize,
    ) -> Result<Expr, DbError> {
        let mut planner = Planner::new(self.catalog, self.scans);
        planner.params = *params;
        planner.ctes = self.ctes.clone();
        planner.touched = self.touched.clone();
        let plan = planner.subquery(query, scope)?;
        *params = planner.params;
        if plan.lock.is_some() {
            return Err(unsupported("FOR UPDATE / FOR SHARE in a subquery"));
        }
        let columns = plan.output.len();
        match &kind {
            SubKind::Scalar if columns != 1 => {
                return Err(err(
                    SqlState::SyntaxError,
                    "subquery must return only one column",
                ))
            }
            SubKind::Quantified { .. } if columns > 1 => {
                return Err(err(SqlState::SyntaxError, "subquery has too many columns"))
            }
            _ => {}
        }
        let outer_width = scope.width();
        let mut outer_refs: Vec<usize> = Vec::new();
        visit_plan(&plan, &mut |e| {
            if let Expr::Col(c) = e {
                if *c < outer_width && !outer_refs.contains(c) {
                    outer_refs.push(*c);
                }
            }
        });
        outer_refs.sort_unstable();
        Ok(Expr::Subquery(Box::new(SubPlan {
            kind,
            plan: Arc::new(plan),
            outer_width,
            outer_refs: outer_refs.into_iter().map(Expr::Col).collect(),
        })))
    }
}

/// Calls `f` on every expression of `plan` (and, through
/// [`Expr::visit`], their parts).
fn visit_plan(plan: &SelectPlan, f: &mut impl FnMut(&Expr)) {
    for src in &plan.sources {
        if let super::plan::Access::Index {
            eq, lower, upper, ..
        } = &src.access
        {
            eq.iter().for_each(|e| e.visit(f));
            for (e, _) in lower.iter().chain(upper.iter()) {
                e.visit(f);
            }
        }
    }
    let exprs = plan
        .filter
        .iter()
        .chain(plan.output.iter().map(|(_, e)| e))
        .chain(plan.limit.iter())
        .chain(plan.offset.iter());
    exprs.for_each(|e| e.visit(f));
    for o in &plan.order {
        if let OrderKey::Expr(e) = &o.key {
            e.visit(f);
        }
    }
    if let Some(g) = &plan.grouping {
        g.by.iter().for_each(|e| e.visit(f));
        g.aggs
            .iter()
            .filter_map(|a| a.arg.as_ref())
            .for_each(|e| e.visit(f));
        g.having.iter().for_each(|e| e.visit(f));
    }
}

/// The value of a subquery for the row `env` reads.
pub(crate) fn eval(sub: &SubPlan, env: &Env<'_>) -> Result<Value, DbError> {
    let rows = rows_of(sub, env)?;
    Ok(match &sub.kind {
        SubKind::Exists => Value::Bool(!rows.is_empty()),
        SubKind::Scalar => match rows.as_slice() {
            [] => Value::Null,
            [one] => one[0].clone(),
            _ => {
                return Err(err(
                    SqlState::CardinalityViolation,
                    "more than one row returned by a subquery used as an expression",
                ))
            }
        },
        SubKind::Quantified { op, any, lhs } => {
            let x = lhs.eval(env)?;
            let column = Value::Array(rows.iter().map(|r| r[0].clone()).collect());
            super::funcs::any_all(|p, q| super::funcs::compare_op(op, p, q), &x, &column, *any)?
        }
    })
}

/// The subquery's rows for the outer row of `env`: an uncorrelated one's
/// from the statement's cache after its first run.
fn rows_of(sub: &SubPlan, env: &Env<'_>) -> Result<Arc<Vec<Vec<Value>>>, DbError> {
    let reader = env
        .ctx
        .reader
        .as_ref()
        .ok_or_else(|| unsupported("a subquery in this place"))?;
    let params = Bound {
        values: env.params,
        ctx: env.ctx,
    };
    let mut outer: Vec<Value> = Vec::with_capacity(sub.outer_width);
    if !sub.outer_refs.is_empty() {
        outer.extend(env.row.iter().take(sub.outer_width).cloned());
    }
    outer.resize(sub.outer_width, Value::Null);
    if !sub.outer_refs.is_empty() {
        return Ok(Arc::new(query_rows(reader, params, &sub.plan, &outer)?));
    }
    // The plan's address names it for this statement (the plan outlives
    // the statement's context); never iterated, so no order leaks out.
    let id = Arc::as_ptr(&sub.plan) as usize;
    let cached = env
        .ctx
        .subquery_results
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&id)
        .cloned();
    if let Some(rows) = cached {
        return Ok(rows);
    }
    let rows = Arc::new(query_rows(reader, params, &sub.plan, &outer)?);
    env.ctx
        .subquery_results
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, rows.clone());
    Ok(rows)
}
