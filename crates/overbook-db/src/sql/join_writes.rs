//! `UPDATE target SET ... FROM items WHERE ...` and `DELETE FROM target
//! USING items WHERE ...`: writes of the target's rows that join other
//! FROM items (stored tables, WITH queries, subqueries).
//!
//! The FROM items come first in the combined row and in the nested loops,
//! the target last, read by the index its join conditions fix (as
//! PostgreSQL's planner probes the target from a small driving item, e.g.
//! `FROM batch WHERE t.id = batch.id`). Each joined target row is locked
//! like a plain UPDATE's or DELETE's; at Read Committed, when the row
//! changed meanwhile, the WHERE clause is re-checked on its newest
//! version with the same joined rows (PostgreSQL's EvalPlanQual re-fetches
//! the other items' row versions it joined, it does not re-plan), and at
//! the snapshot levels the store fails with 40001. A target row joined
//! by several rows is written once, by the first (PostgreSQL's later
//! attempts find it already modified by the command and skip it).

use super::exec::{env, fetch, key_columns_changed, Exec};
use super::expr::{Expr, Scope};
use super::plan::{and_all, conjuncts, DeletePlan, Planner, Source, UpdatePlan};
use super::value::{coerce, err};
use super::Rows;
use crate::store::{DbError, Isolation, Key, RowLockMode, SqlState};
use sqlparser::ast;
use std::sync::Arc;

/// A planned write target after its FROM items.
pub(crate) struct Joined {
    /// Where names resolve: the FROM items, then the target.
    pub(crate) scope: Scope,
    /// The same names with the target first (what `RETURNING *` lists).
    pub(crate) returning_scope: Scope,
    pub(crate) from: Vec<Source>,
    pub(crate) target: Source,
    pub(crate) filter: Option<Expr>,
}

impl Planner<'_> {
    /// Plans the FROM (or USING) items, then the target after them, then
    /// the WHERE clause over both.
    pub(crate) fn target_after(
        &mut self,
        target: &ast::TableFactor,
        from: &[ast::TableWithJoins],
        selection: Option<&ast::Expr>,
    ) -> Result<Joined, DbError> {
        let mut scope = Scope::default();
        let on = self.plan_from_list(&mut scope, from)?;
        let (table, alias) = self.relation(target)?;
        if scope.local().iter().any(|(a, _, _)| *a == alias) {
            return Err(err(
                SqlState::Other("42712"),
                format!("table name \"{alias}\" specified more than once"),
            ));
        }
        scope.add(&alias, table);
        let mut list = Vec::new();
        for e in on.iter().chain(selection) {
            conjuncts(self.compile(&scope, e)?, &mut list);
        }
        let mut sources = self.sources(&scope, &list);
        let target = sources.pop().expect("the target was added last");
        let mut returning_scope = scope.clone();
        let last = returning_scope.sources.pop().expect("the target");
        returning_scope.sources.insert(0, last);
        Ok(Joined {
            scope,
            returning_scope,
            from: sources,
            target,
            filter: and_all(list),
        })
    }
}

impl Exec<'_> {
    /// The joined rows of a write with FROM items: (target row key, the
    /// combined row), those passing the filter at the statement's
    /// snapshot.
    fn joined_rows(
        &mut self,
        from: &[Source],
        target: &Source,
        filter: Option<&Expr>,
    ) -> Result<Vec<(Key, Vec<super::value::Value>)>, DbError> {
        let reader = self.tx.sql_reader();
        let mut rows = vec![Vec::new()];
        for src in from {
            let mut next = Vec::new();
            for partial in &rows {
                for (_, values) in fetch(&reader, src, partial, self.params)? {
                    let mut combined = partial.clone();
                    combined.extend(values);
                    next.push(combined);
                }
            }
            rows = next;
        }
        let mut out = Vec::new();
        for partial in rows {
            for (key, values) in fetch(&reader, target, &partial, self.params)? {
                let mut combined = partial.clone();
                combined.extend(values);
                let keep = match filter {
                    Some(f) => f.is_true(&env(&combined, self.params))?,
                    None => true,
                };
                if keep {
                    out.push((key, combined));
                }
            }
        }
        Ok(out)
    }

    /// Locks a joined target row; `None` when it is gone or, at Read
    /// Committed, its newest version no longer passes the filter with the
    /// same joined rows. Returns the row's key and the combined row with
    /// the target's current values.
    async fn lock_joined(
        &mut self,
        target: &Source,
        filter: Option<&Expr>,
        key: &Key,
        combined: &[super::value::Value],
        mode: RowLockMode,
    ) -> Result<Option<(Key, Vec<super::value::Value>)>, DbError> {
        let width = target.offset;
        let Some((key, current)) = self.lock_row(&target.table, key, None, mode).await? else {
            return Ok(None);
        };
        let mut row = combined[..width].to_vec();
        row.extend(current);
        if self.tx.isolation() == Isolation::ReadCommitted {
            if let Some(f) = filter {
                if !f.is_true(&env(&row, self.params))? {
                    return Ok(None);
                }
            }
        }
        Ok(Some((key, row)))
    }

    /// The target's new values: the SET list evaluated over the combined
    /// row.
    fn joined_sets(
        &self,
        plan: &UpdatePlan,
        row: &[super::value::Value],
    ) -> Result<Vec<super::value::Value>, DbError> {
        let table = &plan.source.table;
        let width = plan.source.offset;
        let e = env(row, self.params);
        let mut new = row[width..width + table.columns.len()].to_vec();
        for (col, x) in &plan.sets {
            let v = match x {
                Expr::Default => self.default_of(table, *col)?,
                x => x.eval(&e)?,
            };
            new[*col] = coerce(&v, table.columns[*col].ty)?;
        }
        super::generated::compute(table, &mut new, self.params.values, self.params.ctx)?;
        Ok(new)
    }

    /// `UPDATE ... FROM` after its start.
    pub(crate) async fn update_from(&mut self, plan: &UpdatePlan) -> Result<Rows, DbError> {
        let table = Arc::clone(&plan.source.table);
        let width = plan.source.offset;
        let mut out = Vec::new();
        let mut affected = 0;
        let mut written: Vec<Key> = Vec::new();
        for (key, combined) in self.joined_rows(&plan.from, &plan.source, plan.filter.as_ref())? {
            if written.contains(&key) {
                continue;
            }
            let planned = self.joined_sets(plan, &combined)?;
            let mode = if key_columns_changed(&table, &combined[width..], &planned) {
                RowLockMode::Update
            } else {
                RowLockMode::NoKeyUpdate
            };
            let Some((locked, row)) = self
                .lock_joined(&plan.source, plan.filter.as_ref(), &key, &combined, mode)
                .await?
            else {
                continue;
            };
            if written.contains(&locked) {
                continue;
            }
            let new = self.joined_sets(plan, &row)?;
            self.update_row(&table, &locked, &row[width..], &new)
                .await?;
            written.push(key);
            written.push(locked);
            written.push(table.row_key(&new));
            affected += 1;
            let mut after = row[..width].to_vec();
            after.extend(new);
            self.returning(plan.returning.as_ref(), &after, &mut out)?;
        }
        Ok(Self::done(plan.returning.as_ref(), out, affected))
    }

    /// `DELETE ... USING` after its start.
    pub(crate) async fn delete_using(&mut self, plan: &DeletePlan) -> Result<Rows, DbError> {
        let table = Arc::clone(&plan.source.table);
        let width = plan.source.offset;
        let mut out = Vec::new();
        let mut affected = 0;
        let mut deleted: Vec<Key> = Vec::new();
        for (key, combined) in self.joined_rows(&plan.using, &plan.source, plan.filter.as_ref())? {
            if deleted.contains(&key) {
                continue;
            }
            let Some((locked, row)) = self
                .lock_joined(
                    &plan.source,
                    plan.filter.as_ref(),
                    &key,
                    &combined,
                    RowLockMode::Update,
                )
                .await?
            else {
                continue;
            };
            if deleted.contains(&locked) {
                continue;
            }
            let current = &row[width..];
            self.delete_locked(&table, &locked, current).await?;
            deleted.push(key);
            deleted.push(locked);
            affected += 1;
            self.returning(plan.returning.as_ref(), &row, &mut out)?;
        }
        Ok(Self::done(plan.returning.as_ref(), out, affected))
    }
}
