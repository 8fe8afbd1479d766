//! Joins: the FROM clause's join tree (inner, `LEFT` / `RIGHT` / `FULL
//! [OUTER]`, `CROSS`, with `ON`, `USING (...)` or `NATURAL`) planned left
//! deep in FROM order and executed as nested loops.
//!
//! Without an outer join, every `ON` condition is one more conjunct of the
//! WHERE clause (the old inner-join path, unchanged). With one, each join
//! keeps its own `ON` and applies it at its step, so a row of the
//! preserved side that finds no partner is NULL-extended, and only the
//! WHERE clause filters the result:
//! - `LEFT`: for each row so far, the inner table is read by its access
//!   path with that row's values bound (an index lookup on the ON
//!   columns), exactly as an inner join reads it, so an empty result still
//!   leaves the SSI predicate lock of the range (or relation) it scanned,
//!   as PostgreSQL's nested loop with an inner index scan does.
//! - `RIGHT` / `FULL`: the new table is read once (its access path may use
//!   only its own constants) and matched against every row so far;
//!   unmatched rows of the new table come out with the earlier tables'
//!   columns NULL (and for FULL, unmatched earlier rows with the new
//!   table's columns NULL).
//!
//! The access path of each table may still use the WHERE clause's
//! comparisons: they are strict (NULL makes them NULL), so a row they
//! would exclude, or the NULL-extended row that replaces it, is removed
//! by the WHERE clause anyway.

use super::catalog::Table;
use super::exec::{env, fetch, Bound};
use super::expr::{object_name, unsupported, BinOp, Expr, Func, Scope};
use super::plan::{Planner, SelectPlan};
use super::value::{err, Value};
use crate::store::SqlReader;
use crate::store::{DbError, Key, SqlState};
use sqlparser::ast;
use std::sync::Arc;

/// How a table joins the tables before it in FROM order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
}

/// One table's join to the ones before it: its kind and its own `ON`
/// condition, applied at this step (`None`: a cross join or the first
/// table).
#[derive(Clone, Debug)]
pub(crate) struct JoinStep {
    pub(crate) kind: JoinKind,
    pub(crate) on: Option<Expr>,
}

/// The FROM clause, planned.
pub(crate) struct FromClause {
    pub(crate) scope: Scope,
    /// ON conditions of inner joins, to be ANDed into the WHERE clause
    /// (only when [`FromClause::steps`] is empty).
    pub(crate) inner_on: Vec<Expr>,
    /// One step per table when the clause has an outer join; empty when
    /// every join is inner.
    pub(crate) steps: Vec<JoinStep>,
}

/// The columns a `SELECT *` over `scope` shows, in order.
fn star_of(scope: &Scope) -> Vec<(String, Expr)> {
    if let Some(star) = &scope.star {
        return star.clone();
    }
    let mut out = Vec::new();
    for (_, t, offset) in &scope.sources {
        for (i, col) in t.columns.iter().enumerate().take(t.visible()) {
            out.push((col.name.to_string(), Expr::Col(offset + i)));
        }
    }
    out
}

impl Planner<'_> {
    /// Plans the FROM clause: the tables in order, their join steps and
    /// the merged columns of `USING` / `NATURAL` joins.
    pub(crate) fn plan_from(
        &mut self,
        from: &[ast::TableWithJoins],
        outer: Option<&Scope>,
    ) -> Result<FromClause, DbError> {
        let mut scope = outer.map_or_else(Scope::default, Scope::nested);
        let mut inner_on = Vec::new();
        let mut steps = Vec::new();
        let mut outer = false;
        for (item, twj) in from.iter().enumerate() {
            let (t, alias) = self.plan_from_item(&twj.relation, &scope)?;
            check_alias(&scope, &alias)?;
            if item > 0 && scope.star.is_some() {
                // A later FROM item after a USING join: its columns follow.
                let mut star = star_of(&scope);
                let offset = scope.width();
                star.extend(table_star(&t, offset));
                scope.star = Some(star);
            }
            scope.add(&alias, t);
            steps.push(JoinStep {
                kind: JoinKind::Inner,
                on: None,
            });
            for join in &twj.joins {
                let step = self.plan_join(join, item, &mut scope)?;
                if step.kind != JoinKind::Inner {
                    outer = true;
                } else if let Some(on) = &step.on {
                    inner_on.push(on.clone());
                }
                steps.push(step);
            }
        }
        if !outer {
            steps.clear();
        }
        Ok(FromClause {
            scope,
            inner_on,
            steps,
        })
    }

    /// Plans one `JOIN` of FROM item number `item`, adding its table to
    /// `scope`: its step (kind and ON condition).
    fn plan_join(
        &mut self,
        join: &ast::Join,
        item: usize,
        scope: &mut Scope,
    ) -> Result<JoinStep, DbError> {
        let (t, alias) = self.plan_from_item(&join.relation, scope)?;
        check_alias(scope, &alias)?;
        use ast::JoinOperator as J;
        let none = ast::JoinConstraint::None;
        let (kind, constraint) = match &join.join_operator {
            J::Join(c) | J::Inner(c) => (JoinKind::Inner, c),
            J::Left(c) | J::LeftOuter(c) => (JoinKind::Left, c),
            J::Right(c) | J::RightOuter(c) => (JoinKind::Right, c),
            J::FullOuter(c) => (JoinKind::Full, c),
            J::CrossJoin => (JoinKind::Inner, &none),
            other => {
                return Err(unsupported(format!(
                    "the join {}",
                    format!("{other:?}").split('(').next().unwrap_or("?")
                )))
            }
        };
        if kind != JoinKind::Inner && item > 0 && matches!(kind, JoinKind::Right | JoinKind::Full) {
            return Err(unsupported(
                "RIGHT or FULL JOIN in a FROM item after a comma",
            ));
        }
        if kind != JoinKind::Inner && matches!(constraint, ast::JoinConstraint::None) {
            return Err(err(
                SqlState::SyntaxError,
                "syntax error: an outer join needs ON, USING or NATURAL",
            ));
        }
        let offset = scope.width();
        let left_star = star_of(scope);
        scope.add(&alias, t.clone());
        let on = match constraint {
            ast::JoinConstraint::None => None,
            ast::JoinConstraint::On(e) => Some(self.compile(scope, e)?),
            ast::JoinConstraint::Using(names) => {
                let names = names
                    .iter()
                    .map(object_name)
                    .collect::<Result<Vec<_>, _>>()?;
                merge(scope, left_star, &t, offset, &names, kind)?
            }
            ast::JoinConstraint::Natural => {
                let names: Vec<String> = t
                    .columns
                    .iter()
                    .take(t.visible())
                    .map(|c| c.name.to_string())
                    .filter(|n| left_star.iter().any(|(l, _)| l == n))
                    .collect();
                merge(scope, left_star, &t, offset, &names, kind)?
            }
        };
        let merging = matches!(
            constraint,
            ast::JoinConstraint::Using(_) | ast::JoinConstraint::Natural
        );
        if let (Some(star), false) = (&mut scope.star, merging) {
            // A join after a USING join: its columns follow.
            star.extend(table_star(&t, offset));
        }
        Ok(JoinStep { kind, on })
    }
}

fn table_star(t: &Table, offset: usize) -> Vec<(String, Expr)> {
    t.columns
        .iter()
        .enumerate()
        .take(t.visible())
        .map(|(i, c)| (c.name.to_string(), Expr::Col(offset + i)))
        .collect()
}

fn check_alias(scope: &Scope, alias: &str) -> Result<(), DbError> {
    if scope.local().iter().any(|(a, _, _)| a == alias) {
        return Err(err(
            SqlState::Other("42712"),
            format!("table name \"{alias}\" specified more than once"),
        ));
    }
    Ok(())
}

/// `USING (names)` between the tables in `scope` and `right` (at
/// `offset`): the equality condition, the merged columns and the new
/// `SELECT *` list (merged columns first, then the left side's others,
/// then the right table's others), as PostgreSQL builds them.
fn merge(
    scope: &mut Scope,
    left_star: Vec<(String, Expr)>,
    right: &Arc<Table>,
    offset: usize,
    names: &[String],
    kind: JoinKind,
) -> Result<Option<Expr>, DbError> {
    let mut conditions = Vec::new();
    let mut merged_star = Vec::new();
    for name in names {
        if names.iter().filter(|n| *n == name).count() > 1 {
            return Err(err(
                SqlState::Other("42701"),
                format!("column name \"{name}\" appears more than once in USING clause"),
            ));
        }
        let mut on_left = left_star.iter().filter(|(n, _)| n == name);
        let left = match (on_left.next(), on_left.next()) {
            (Some((_, e)), None) => e.clone(),
            (Some(_), Some(_)) => {
                return Err(err(
                    SqlState::AmbiguousColumn,
                    format!("common column name \"{name}\" appears more than once in left table"),
                ))
            }
            (None, _) => {
                return Err(err(
                    SqlState::UndefinedColumn,
                    format!(
                        "column \"{name}\" specified in USING clause does not exist in left table"
                    ),
                ))
            }
        };
        let column = right
            .column_index(name)
            .filter(|&c| c < right.visible())
            .ok_or_else(|| {
                err(
                    SqlState::UndefinedColumn,
                    format!(
                        "column \"{name}\" specified in USING clause does not exist in right table"
                    ),
                )
            })?;
        let right_col = Expr::Col(offset + column);
        conditions.push(Expr::Bin(
            BinOp::Eq,
            Box::new(left.clone()),
            Box::new(right_col.clone()),
        ));
        let merged = match kind {
            JoinKind::Inner | JoinKind::Left => left,
            JoinKind::Right => right_col,
            JoinKind::Full => Expr::Func(Func::Coalesce, vec![left, right_col]),
        };
        scope.merged.retain(|(n, _)| n != name);
        scope.merged.push((name.clone(), merged.clone()));
        merged_star.push((name.clone(), merged));
    }
    let mut star = merged_star;
    star.extend(left_star.into_iter().filter(|(n, _)| !names.contains(n)));
    star.extend(
        table_star(right, offset)
            .into_iter()
            .filter(|(n, _)| !names.contains(n)),
    );
    scope.star = Some(star);
    Ok(conditions
        .into_iter()
        .reduce(|a, b| Expr::Bin(BinOp::And, Box::new(a), Box::new(b))))
}

/// The rows of a join: combined rows with each table's values at its
/// offset (and the row key when the query reads one table).
pub(crate) type Joined = Vec<(Option<Key>, Vec<Value>)>;

/// Nested loops in FROM order over `plan`'s join steps (see the module
/// docs), before the WHERE clause. Rows start with `outer`, the row of the
/// query around a subquery (its correlated columns; empty for a statement).
pub(crate) fn join_rows(
    reader: &SqlReader,
    params: Bound<'_>,
    plan: &SelectPlan,
    outer: &[Value],
) -> Result<Joined, DbError> {
    let single = plan.sources.len() == 1;
    let mut rows: Joined = vec![(None, outer.to_vec())];
    for (i, src) in plan.sources.iter().enumerate() {
        let step = plan.joins.get(i);
        let kind = step.map_or(JoinKind::Inner, |s| s.kind);
        let on = step.and_then(|s| s.on.as_ref());
        let width = src.table.columns.len();
        let mut next = Vec::new();
        match kind {
            JoinKind::Inner | JoinKind::Left => {
                for (_, partial) in &rows {
                    let mut found = false;
                    for (key, values) in fetch(reader, src, partial, params)? {
                        // The first table of a statement (no outer row)
                        // is its row as read, without a copy.
                        let combined = if partial.is_empty() {
                            values
                        } else {
                            let mut combined = partial.clone();
                            combined.extend(values);
                            combined
                        };
                        if let Some(on) = on {
                            if !on.is_true(&env(&combined, params))? {
                                continue;
                            }
                        }
                        found = true;
                        next.push((single.then_some(key), combined));
                    }
                    if !found && kind == JoinKind::Left {
                        let mut combined = partial.clone();
                        combined.extend(std::iter::repeat_n(Value::Null, width));
                        next.push((None, combined));
                    }
                }
            }
            JoinKind::Right | JoinKind::Full => {
                let right = fetch(reader, src, outer, params)?;
                let mut matched = vec![false; right.len()];
                for (_, partial) in &rows {
                    let mut found = false;
                    for (r, (_, values)) in right.iter().enumerate() {
                        let mut combined = partial.clone();
                        combined.extend(values.iter().cloned());
                        if let Some(on) = on {
                            if !on.is_true(&env(&combined, params))? {
                                continue;
                            }
                        }
                        found = true;
                        matched[r] = true;
                        next.push((None, combined));
                    }
                    if !found && kind == JoinKind::Full {
                        let mut combined = partial.clone();
                        combined.extend(std::iter::repeat_n(Value::Null, width));
                        next.push((None, combined));
                    }
                }
                for ((_, values), matched) in right.into_iter().zip(matched) {
                    if !matched {
                        let mut combined = outer.to_vec();
                        combined.resize(src.offset.max(outer.len()), Value::Null);
                        combined.extend(values);
                        next.push((None, combined));
                    }
                }
            }
        }
        rows = next;
    }
    Ok(rows)
}

/// The conjuncts a table's access path may use: those of the WHERE
/// clause and inner joins, plus its own outer join's ON; for the new
/// table of a RIGHT or FULL join (read once, not per row), only those
/// reading nothing but its own columns and constants.
pub(crate) fn access_conjuncts(
    shared: &[Expr],
    step: Option<&JoinStep>,
    offset: usize,
    width: usize,
) -> Vec<Expr> {
    let mut list = shared.to_vec();
    if let Some(JoinStep {
        kind: JoinKind::Left | JoinKind::Right | JoinKind::Full,
        on: Some(on),
    }) = step
    {
        on.conjuncts(&mut list);
    }
    if matches!(step, Some(s) if matches!(s.kind, JoinKind::Right | JoinKind::Full)) {
        list.retain(|e| {
            let mut local = true;
            e.visit(&mut |x| {
                if let Expr::Col(c) = x {
                    local &= *c >= offset && *c < offset + width;
                }
            });
            local
        });
    }
    list
}
