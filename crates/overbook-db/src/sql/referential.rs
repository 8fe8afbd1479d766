//! Referential actions: what deleting a referenced row, or changing its
//! key, does to the rows that refer to it (`ON DELETE` / `ON UPDATE`
//! `NO ACTION | RESTRICT | CASCADE | SET NULL | SET DEFAULT`).
//!
//! PostgreSQL runs these as the foreign key's AFTER ROW triggers on the
//! referenced table (ri_triggers.c): each deleted or key-changed parent
//! row queues an event, and the events fire at the end of the statement,
//! in the order they were queued, each foreign key in the order it was
//! created. An action is a query of its own (through SPI): it finds the
//! referencing rows with a fresh snapshot (the newest commits and the
//! transaction's own writes), deletes or updates them as a DELETE or
//! UPDATE of this transaction would (the same row locks, waits, deadlocks
//! and, at Repeatable Read and Serializable, 40001 for a row changed or
//! inserted since the transaction's snapshot: PostgreSQL's crosscheck
//! snapshot), and the rows it writes queue events of their own, which
//! fire at the end of that query, before the next event of the statement
//! (depth first along a chain of cascades).
//!
//! `NO ACTION` fails (23503) when a referencing row is left and no other
//! row has taken the old key; `RESTRICT` fails without looking for such a
//! row. Both fire at the end of the statement, but a deferred foreign
//! key's `NO ACTION` check waits for the commit (see `deferred`).

use super::catalog::{ForeignKey, Table};
use super::deferred::Pending;
use super::exec::{key_columns_changed, Exec};
use super::value::{coerce, compare, err, Value};
use super::SqlState;
use crate::store::{DbError, Isolation, Key, KeyRange, Row, RowLockMode, TableLockMode, WriteKind};
use sqlparser::ast;
use std::cmp::Ordering;
use std::future::Future;
use std::pin::Pin;

/// What a foreign key does to the referencing rows when the referenced
/// row goes or its key changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Action {
    /// `NO ACTION`: fail at the end of the statement if a referencing row
    /// is left (and no other row has taken the old key).
    #[default]
    Check,
    /// Fail if a referencing row is left, even when another row has taken
    /// the old key.
    Restrict,
    /// Delete the referencing rows (on delete), or give them the new key
    /// (on update).
    Cascade,
    /// Set the referencing columns to NULL.
    SetNull,
    /// Set the referencing columns to their defaults (which must then be
    /// a key of the referenced table, or NULL).
    SetDefault,
}

impl Action {
    /// The action as written (absent: `NO ACTION`).
    pub(crate) fn from_ast(action: &Option<ast::ReferentialAction>) -> Action {
        match action {
            None | Some(ast::ReferentialAction::NoAction) => Action::Check,
            Some(ast::ReferentialAction::Restrict) => Action::Restrict,
            Some(ast::ReferentialAction::Cascade) => Action::Cascade,
            Some(ast::ReferentialAction::SetNull) => Action::SetNull,
            Some(ast::ReferentialAction::SetDefault) => Action::SetDefault,
        }
    }

    /// Whether the action writes the referencing rows (and so takes ROW
    /// EXCLUSIVE on their table and row locks on them).
    pub(crate) fn writes(self) -> bool {
        matches!(self, Action::Cascade | Action::SetNull | Action::SetDefault)
    }
}

/// A row of a referenced table that a statement deleted (`new` is None)
/// or updated, queued until the end of the statement.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    table: String,
    old: Vec<Value>,
    new: Option<Vec<Value>>,
}

type Fired<'s> = Pin<Box<dyn Future<Output = Result<(), DbError>> + Send + 's>>;

/// 23503 for a parent row deleted or re-keyed while `child`'s rows still
/// refer to it.
fn still_referenced(table: &Table, child: &Table, fk: &ForeignKey) -> DbError {
    err(
        SqlState::ForeignKeyViolation,
        format!(
            "update or delete on table \"{}\" violates foreign key constraint \"{}\" on table \"{}\"",
            table.name, fk.name, child.name
        ),
    )
}

/// Whether a child row's values have `fk`'s columns equal to `old_key`.
fn refers(fk: &ForeignKey, values: &[Value], old_key: &[&Value]) -> bool {
    fk.columns
        .iter()
        .zip(old_key)
        .all(|(&c, k)| same(&values[c], k))
}

fn same(a: &Value, b: &Value) -> bool {
    compare(a, b).ok().flatten() == Some(Ordering::Equal)
}

impl Exec<'_> {
    /// Queues the referential actions of `table`'s row `old`, deleted
    /// (`new` None) or updated to `new`, for the end of the statement.
    pub(crate) fn queue_referential(
        &mut self,
        table: &Table,
        old: &[Value],
        new: Option<&[Value]>,
    ) {
        if table.referenced_by.is_empty() {
            return;
        }
        self.ri_events.push(Event {
            table: table.name.clone(),
            old: old[..table.columns.len()].to_vec(),
            new: new.map(|n| n[..table.columns.len()].to_vec()),
        });
    }

    /// Fires the events queued from position `from` on, in order, each
    /// with the events its own writes queue fired right after it.
    pub(crate) fn fire_referential(&mut self, from: usize) -> Fired<'_> {
        Box::pin(async move {
            while self.ri_events.len() > from {
                let event = self.ri_events.remove(from);
                self.fire_event(&event).await?;
            }
            Ok(())
        })
    }

    async fn fire_event(&mut self, event: &Event) -> Result<(), DbError> {
        let table = self.db.table(&event.table)?;
        for (child_name, position) in &table.referenced_by {
            let child = self.db.table(child_name)?;
            let fk = &child.foreign_keys[*position];
            if let Some(new) = &event.new {
                if fk.parent_columns.iter().all(|&pc| event.old[pc] == new[pc]) {
                    continue;
                }
            }
            let old_key: Vec<&Value> = fk.parent_columns.iter().map(|&pc| &event.old[pc]).collect();
            let action = if event.new.is_some() {
                fk.on_update
            } else {
                fk.on_delete
            };
            // A key with a NULL is referenced by nothing (MATCH SIMPLE):
            // an update of it fires no trigger, while a delete's trigger
            // runs and locks the child before it looks.
            let null_key = old_key.iter().any(|v| v.is_null());
            if null_key && event.new.is_some() {
                continue;
            }
            if action == Action::Check && self.deferred.is_deferred(child_name, fk) {
                // Checked at COMMIT, where the trigger opens the child.
                if !null_key {
                    self.deferred.pending.push(Pending::Parent {
                        child: child_name.clone(),
                        fk: fk.name.clone(),
                        event: event.clone(),
                    });
                }
                continue;
            }
            // The trigger opens the child first (ri_restrict, ri_set and
            // RI_FKey_cascade_del): ROW SHARE for the FOR KEY SHARE query
            // of NO ACTION and RESTRICT, ROW EXCLUSIVE for an action's
            // DELETE or UPDATE. A parent statement that fires none (an
            // update of other columns) locks nothing there (transcript
            // `fk-trigger-locks-the-child-table-only-when-it-fires`).
            let mode = if action.writes() {
                TableLockMode::RowExclusive
            } else {
                TableLockMode::RowShare
            };
            self.tx
                .sql_lock_table_in_statement(&child.name, mode)
                .await?;
            if null_key {
                continue;
            }
            if action.writes() && !child.triggers.is_empty() {
                return Err(super::expr::unsupported(format!(
                    "a foreign-key action writing table \"{}\", which has triggers",
                    child.name
                )));
            }
            if !action.writes() {
                self.check_unreferenced(&table, &child, fk, action, &old_key)
                    .await?;
                continue;
            }
            let referencing = self.referencing(&child, fk, &old_key);
            // The action is a statement of its own: the events of the rows
            // it writes fire when it ends.
            let mark = self.ri_events.len();
            self.act_on_referencing(&child, fk, action, event, &old_key, referencing)
                .await?;
            self.fire_referential(mark).await?;
            // A default that is the old key itself leaves the rows
            // referring to it unchanged, which no check of theirs catches:
            // PostgreSQL looks again (ri_setdefault's ri_restrict call).
            if action == Action::SetDefault {
                let left = !self.referencing(&child, fk, &old_key).is_empty();
                if left && !self.key_taken_again(&table, fk, &old_key) {
                    return Err(still_referenced(&table, &child, fk));
                }
            }
        }
        Ok(())
    }

    /// A writing action (CASCADE, SET NULL, SET DEFAULT) on the rows of
    /// `child` that refer to `old_key` (`referencing`), each locked and
    /// re-checked as the UPDATE or DELETE it stands for would be.
    async fn act_on_referencing(
        &mut self,
        child: &Table,
        fk: &ForeignKey,
        action: Action,
        event: &Event,
        old_key: &[&Value],
        referencing: Vec<(Key, Row)>,
    ) -> Result<(), DbError> {
        let delete = action == Action::Cascade && event.new.is_none();
        for (key, row) in referencing {
            let seen = child.values_of(&row);
            // The lock strength follows whether the new values change a
            // key column, as an UPDATE's does.
            let planned = if delete {
                None
            } else {
                Some(self.acted_on(child, fk, action, event, &seen)?)
            };
            let mode = match &planned {
                None => RowLockMode::Update,
                Some(new) if key_columns_changed(child, &seen, new) => RowLockMode::Update,
                Some(_) => RowLockMode::NoKeyUpdate,
            };
            let Some((key, current)) = self.lock_row(child, &key, None, mode).await? else {
                if self.isolation() != Isolation::ReadCommitted {
                    // Found by the fresh snapshot, not by the
                    // transaction's: PostgreSQL's crosscheck fails.
                    return Err(self.tx.sql_fail(err(
                        SqlState::SerializationFailure,
                        "could not serialize access due to concurrent update",
                    )));
                }
                continue;
            };
            // Read Committed re-checks the newest version against the
            // action's WHERE clause (EvalPlanQual).
            if !refers(fk, &current, old_key) {
                continue;
            }
            match planned {
                None => self.delete_locked(child, &key, &current).await?,
                Some(planned) => {
                    let new = if current == seen {
                        planned
                    } else {
                        self.acted_on(child, fk, action, event, &current)?
                    };
                    self.update_row(child, &key, &current, &new).await?;
                }
            }
        }
        Ok(())
    }

    /// `NO ACTION` / `RESTRICT`: fails with 23503 while a row of `child`
    /// still refers to `old_key` (for NO ACTION, unless another row of
    /// `table` has taken that key).
    async fn check_unreferenced(
        &mut self,
        table: &Table,
        child: &Table,
        fk: &ForeignKey,
        action: Action,
        old_key: &[&Value],
    ) -> Result<(), DbError> {
        // NO ACTION leaves the rows alone when the key is there again
        // (ri_Check_Pk_Match).
        if action == Action::Check && self.key_taken_again(table, fk, old_key) {
            return Ok(());
        }
        let referencing = self.referencing(child, fk, old_key);
        // Each referencing row is locked FOR KEY SHARE, as the RI
        // query does: a concurrent uncommitted delete or key change
        // of it is waited for; then at Read Committed the row may no
        // longer refer, and at Repeatable Read / Serializable the
        // lock fails with 40001 (transcript
        // `fk-check-waits-for-a-referencing-rows-delete`).
        for (key, _) in referencing {
            let locked = self.tx.sql_ri_key_share(&key).await?;
            let still = match &locked {
                Some(row) => refers(fk, &child.values_of(row), old_key),
                // Committed after a Repeatable Read / Serializable
                // snapshot, so the lock sees no version of it; the
                // RI query runs on a fresh snapshot and finds it
                // (23503 on PostgreSQL). At Read Committed no row
                // is a row deleted while the lock waited.
                None => self.isolation() != Isolation::ReadCommitted,
            };
            if still {
                return Err(still_referenced(table, child, fk));
            }
        }
        Ok(())
    }

    /// Runs a deferred `NO ACTION` check of `child`'s key `fk` for a parent
    /// row that `event` deleted or re-keyed (see `deferred`).
    pub(crate) async fn check_deferred_parent(
        &mut self,
        child: &str,
        fk: &str,
        event: &Event,
    ) -> Result<(), DbError> {
        let table = self.db.table(&event.table)?;
        let child = self.db.table(child)?;
        let Some(fk) = child.foreign_keys.iter().find(|f| f.name == fk) else {
            return Ok(());
        };
        let old_key: Vec<&Value> = fk.parent_columns.iter().map(|&pc| &event.old[pc]).collect();
        // The trigger, fired now, opens the child for its query.
        self.tx
            .sql_lock_table_in_statement(&child.name, TableLockMode::RowShare)
            .await?;
        self.check_unreferenced(&table, &child, fk, Action::Check, &old_key)
            .await
    }

    /// The rows of `child` whose `fk` columns equal `old_key`, found as
    /// an RI trigger's query finds them: the newest committed rows and
    /// this transaction's own writes.
    fn referencing(&self, child: &Table, fk: &ForeignKey, old_key: &[&Value]) -> Vec<(Key, Row)> {
        self.tx
            .sql_latest_range(&child.range())
            .into_iter()
            .filter(|(_, row)| refers(fk, &child.values_of(row), old_key))
            .collect()
    }

    /// A referencing row as `action` leaves it after `event` (an update
    /// of the referenced key, or a delete with SET NULL / SET DEFAULT).
    fn acted_on(
        &self,
        child: &Table,
        fk: &ForeignKey,
        action: Action,
        event: &Event,
        row: &[Value],
    ) -> Result<Vec<Value>, DbError> {
        let mut new = row[..child.columns.len()].to_vec();
        for (i, &c) in fk.columns.iter().enumerate() {
            new[c] = match (action, &event.new) {
                (Action::Cascade, Some(parent_new)) => {
                    coerce(&parent_new[fk.parent_columns[i]], child.columns[c].ty)?
                }
                (Action::SetNull, _) => Value::Null,
                _ => self.default_of(child, c)?,
            };
        }
        // The referencing row's generated columns follow its new key.
        super::generated::compute(child, &mut new, self.params.values, self.params.ctx)?;
        Ok(new)
    }

    /// Whether a row of `table` (another one, or the same row given its
    /// old key back) now has the key `old_key` that `fk` refers to: then
    /// NO ACTION leaves the referencing rows alone, as ri_Check_Pk_Match.
    fn key_taken_again(&self, table: &Table, fk: &ForeignKey, old_key: &[&Value]) -> bool {
        let index = &table.indexes[fk.parent_index];
        let mut values = vec![Value::Null; table.columns.len()];
        for (v, &pc) in old_key.iter().zip(&fk.parent_columns) {
            values[pc] = (*v).clone();
        }
        let prefix: Vec<Value> = index.columns.iter().map(|&c| values[c].clone()).collect();
        let range = KeyRange::prefix(&table.index_prefix(fk.parent_index, &prefix));
        !self.tx.sql_latest_range(&range).is_empty()
    }

    /// Deletes a row this statement has locked: the row, its index
    /// entries, and queues its own referential actions.
    pub(crate) async fn delete_locked(
        &mut self,
        table: &Table,
        key: &Key,
        current: &[Value],
    ) -> Result<(), DbError> {
        self.tx.sql_write(key, WriteKind::Delete, None).await?;
        for i in 1..table.indexes.len() {
            if table.has_entry(i, current)? {
                self.tx
                    .sql_write(&table.index_key(i, current)?, WriteKind::Delete, None)
                    .await?;
            }
        }
        self.queue_referential(table, current, None);
        Ok(())
    }
}
