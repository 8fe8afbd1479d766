//! Execution of prepared statements on a store transaction.
//!
//! One SQL statement is one store statement: it pauses once (the model
//! checker's scheduling point), takes one snapshot (Read Committed) and
//! then reads and writes as many keys as it needs; only a row-lock wait
//! parks it in the middle, as PostgreSQL's statement would block there.

use super::catalog::{ForeignKey, Table, ROW_ID};
use super::deferred::Pending;
use super::expr::{Env, Expr};
use super::funcs::Ctx;
use super::plan::{
    Access, AdvisoryItem, AdvisoryPlan, ConflictAction, DeletePlan, InsertPlan, OrderKey,
    SelectPlan, Source, UpdatePlan, WaitPolicy,
};
use super::triggers::Event;
use super::value::{coerce, encode_key, err, sort_order, SqlType, Value};
use super::{DbShared, Rows};
use crate::store::{
    index_page, DbError, Isolation, Key, KeyRange, Op, RowLockMode, SqlReader, SqlState,
    TableLockMode, Tx, WriteKind, EXCLUSION_PAGE, PK_PAGE,
};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where a statement reads a table.
enum Lookup {
    /// One key of a unique index (0: the row key).
    Point(usize, Key),
    Range(usize, KeyRange),
    Seq,
    /// A bound is NULL: nothing can match.
    Empty,
}

fn prefix_end(prefix: &str) -> Key {
    KeyRange::prefix(prefix).end
}

pub(crate) struct Exec<'a> {
    pub(crate) tx: &'a mut Tx,
    pub(crate) params: Bound<'a>,
    pub(crate) db: &'a DbShared,
    /// Deleted and updated rows of referenced tables whose referential
    /// actions fire at the end of the statement (see `referential`).
    pub(crate) ri_events: Vec<super::referential::Event>,
    /// The transaction's deferred constraints: their modes, and the checks
    /// this statement queues for the commit (see `deferred`).
    pub(crate) deferred: &'a mut super::deferred::Deferred,
    /// AFTER ROW trigger events, fired at the end of the statement (see
    /// `triggers`).
    pub(crate) trigger_events: Vec<super::triggers::AfterEvent>,
}

/// A statement's parameters with what else its expressions read (the
/// clock, the uuid stream, the catalog).
#[derive(Clone, Copy)]
pub(crate) struct Bound<'a> {
    pub(crate) values: &'a [Value],
    pub(crate) ctx: &'a Ctx,
}

/// What `ON CONFLICT` made of a row about to be inserted.
enum ConflictOutcome {
    /// No arbiter index holds a conflicting row: insert it.
    NoConflict,
    /// `DO NOTHING`, a `DO UPDATE` whose WHERE is false, or a BEFORE
    /// trigger that cancelled the update: the row is passed over.
    Skipped,
    /// `DO UPDATE` updated the conflicting row to this.
    Updated(Vec<Value>),
}

impl std::ops::Deref for Bound<'_> {
    type Target = [Value];
    fn deref(&self) -> &[Value] {
        self.values
    }
}

pub(crate) fn env<'a>(row: &'a [Value], params: Bound<'a>) -> Env<'a> {
    Env {
        row,
        params: params.values,
        aggs: &[],
        ctx: params.ctx,
    }
}

fn rewrite(e: DbError, code: SqlState, message: impl FnOnce() -> String) -> DbError {
    if e.code == code {
        DbError {
            message: message(),
            ..e
        }
    } else {
        e
    }
}

impl Exec<'_> {
    pub(crate) fn isolation(&self) -> Isolation {
        self.tx.isolation()
    }

    fn lookup(&self, src: &Source, partial: &[Value]) -> Result<Lookup, DbError> {
        lookup(src, partial, self.params)
    }

    /// The key the statement's single-key fast path touches, for the
    /// pause point (a primary-key point lookup).
    fn point_key(&self, src: &Source) -> Option<Key> {
        // A bound computed by a subquery is known only once the statement
        // has started (and taken its snapshot).
        if let Access::Index { eq, .. } = &src.access {
            if eq.iter().any(Expr::has_subquery) {
                return None;
            }
        }
        match self.lookup(src, &[]) {
            Ok(Lookup::Point(0, key)) => Some(key),
            _ => None,
        }
    }

    /// Reads the rows of one table for the given partial combined row.
    pub(crate) fn fetch(
        &mut self,
        src: &Source,
        partial: &[Value],
    ) -> Result<Vec<(Key, Vec<Value>)>, DbError> {
        fetch(&self.tx.sql_reader(), src, partial, self.params)
    }

    /// Candidate rows of a single-table statement that pass its filter at
    /// the statement's snapshot.
    fn candidates(
        &mut self,
        src: &Source,
        filter: Option<&Expr>,
    ) -> Result<Vec<(Key, Vec<Value>)>, DbError> {
        let mut rows = self.fetch(src, &[])?;
        if let Some(f) = filter {
            let mut kept = Vec::with_capacity(rows.len());
            for (key, values) in rows {
                if f.is_true(&env(&values, self.params))? {
                    kept.push((key, values));
                }
            }
            rows = kept;
        }
        Ok(rows)
    }

    /// Locks a row for an UPDATE, DELETE or locking read and returns its
    /// key and current values: at Read Committed the newest committed
    /// version after any wait, following the row to its new key when a
    /// concurrent UPDATE changed its primary key (`None`: deleted meanwhile,
    /// or changed so that the filter no longer holds: PostgreSQL's
    /// EvalPlanQual over the update chain); at the snapshot levels the store
    /// fails with 40001 when it changed.
    pub(crate) async fn lock_row(
        &mut self,
        table: &Table,
        key: &Key,
        filter: Option<&Expr>,
        mode: RowLockMode,
    ) -> Result<Option<(Key, Vec<Value>)>, DbError> {
        self.lock_row_or_retry(table, key, filter, mode, false)
            .await
    }

    /// [`Exec::lock_row`]; `retry`: for ON CONFLICT DO UPDATE, which
    /// retries its insert when the conflicting row changed rather than
    /// follow it, so a row moved to another partition is not an error
    /// there (`None`, as for a row deleted).
    async fn lock_row_or_retry(
        &mut self,
        table: &Table,
        key: &Key,
        filter: Option<&Expr>,
        mode: RowLockMode,
        retry: bool,
    ) -> Result<Option<(Key, Vec<Value>)>, DbError> {
        let mut key = key.clone();
        loop {
            let Some(row) = self.tx.sql_write(&key, WriteKind::Lock(mode), None).await? else {
                if self.isolation() == Isolation::ReadCommitted {
                    if let Some((next, across)) = self.tx.sql_moved_to(&key) {
                        if across && retry {
                            return Ok(None);
                        }
                        if across {
                            // PostgreSQL does not follow a row into another
                            // partition (ExecUpdate / ExecDelete / ExecLockRows).
                            let e = err(
                                SqlState::SerializationFailure,
                                "tuple to be locked was already moved to another partition due to concurrent update",
                            );
                            return Err(self.tx.sql_fail(e));
                        }
                        key = next;
                        continue;
                    }
                }
                return Ok(None);
            };
            let values = table.values_of(&row);
            if self.isolation() == Isolation::ReadCommitted {
                if let Some(f) = filter {
                    if !f.is_true(&env(&values, self.params))? {
                        return Ok(None);
                    }
                }
            }
            return Ok(Some((key, values)));
        }
    }

    /// `LIMIT` / `OFFSET` of a set operation's result.
    pub(crate) fn limit_of(&self, e: Option<&Expr>) -> Result<Option<usize>, DbError> {
        limit_of(e, self.params)
    }

    pub(crate) async fn select(&mut self, plan: &SelectPlan) -> Result<Rows, DbError> {
        let single = plan.sources.len() == 1;
        let (op, key) = match (&plan.lock, single) {
            // A locking read of one row by its primary key touches only
            // that row: the model checker may treat it as a one-key step.
            (Some(_), true) => (Op::GetForUpdate, self.point_key(&plan.sources[0])),
            (Some(_), false) => (Op::GetForUpdate, None),
            (None, true) => match self.point_key(&plan.sources[0]) {
                Some(key) => (Op::Get, Some(key)),
                None => (Op::Scan, None),
            },
            (None, false) => (Op::Scan, None),
        };
        self.tx.sql_start(op, key.as_ref(), None).await?;
        self.select_body(plan).await
    }

    /// A SELECT after its start: a plain query reads its rows at the
    /// statement's snapshot; a locking read then locks them.
    pub(crate) async fn select_body(&mut self, plan: &SelectPlan) -> Result<Rows, DbError> {
        if super::triggers::calls_functions(plan) {
            return self.select_calls(plan).await;
        }
        let columns: Vec<String> = plan.output.iter().map(|(n, _)| n.clone()).collect();
        let reader = self.tx.sql_reader();
        let Some((mode, wait)) = plan.lock else {
            return Ok(Rows::new(
                columns,
                query_rows(&reader, self.params, plan, &[])?,
            ));
        };
        let rows = scan_rows(&reader, self.params, plan, &[])?;
        let offset = limit_of(plan.offset.as_ref(), self.params)?.unwrap_or(0);
        let limit = limit_of(plan.limit.as_ref(), self.params)?;
        let mut sorted = Vec::with_capacity(rows.len());
        for (key, values) in rows {
            let keys = order_keys(plan, &env(&values, self.params), &[])?;
            sorted.push((keys, key));
        }
        sort_rows(plan, &mut sorted);
        // Lock in sorted order until the limit is reached, as PostgreSQL's
        // LockRows node below Limit does.
        let src = &plan.sources[0];
        let mut out = Vec::new();
        let mut skipped = 0;
        for (_, key) in sorted {
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
            let key = key.expect("single-table rows carry their key");
            if wait != WaitPolicy::Wait && self.tx.sql_lock_conflicts(&key, mode) {
                if wait == WaitPolicy::SkipLocked {
                    continue;
                }
                let e = err(
                    SqlState::LockNotAvailable,
                    format!(
                        "could not obtain lock on row in relation \"{}\"",
                        src.table.name
                    ),
                );
                return Err(self.tx.sql_fail(e));
            }
            let Some((_, current)) = self
                .lock_row(&src.table, &key, plan.filter.as_ref(), mode)
                .await?
            else {
                continue;
            };
            if skipped < offset {
                skipped += 1;
                continue;
            }
            let e = env(&current, self.params);
            out.push(
                plan.output
                    .iter()
                    .map(|(_, x)| x.eval(&e))
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        Ok(Rows::new(columns, out))
    }

    /// Takes the plan's advisory locks in order and returns its one row.
    /// The statement announces its key to the pacer when it takes exactly
    /// one lock (as a locking read of it), so the model checker orders it
    /// against other statements on that key only.
    pub(crate) async fn advisory_lock(&mut self, plan: &AdvisoryPlan) -> Result<Rows, DbError> {
        let e = env(&[], self.params);
        // Each lock's (and unlock's) key, `None` for a NULL argument (the
        // functions are strict: no lock, a NULL result).
        let mut keys: Vec<Option<Key>> = Vec::new();
        for (_, item) in &plan.items {
            if let AdvisoryItem::Lock { key: args, .. } | AdvisoryItem::Unlock { key: args, .. } =
                item
            {
                keys.push(super::locks::advisory_key(args, &e)?);
            }
        }
        let announced = match keys.as_slice() {
            [Some(key)] => Some(key),
            _ => None,
        };
        self.tx.sql_start(Op::GetForUpdate, announced, None).await?;
        let mut keys = keys.into_iter();
        let mut row = Vec::with_capacity(plan.items.len());
        for (_, item) in &plan.items {
            row.push(match item {
                AdvisoryItem::Value(expr) => expr.eval(&e)?,
                AdvisoryItem::Lock {
                    mode,
                    wait,
                    session,
                    ..
                } => match keys.next().expect("one key per lock") {
                    None => Value::Null,
                    Some(key) => {
                        let got = self
                            .tx
                            .sql_advisory_lock(&key, *mode, *wait, *session)
                            .await?;
                        if *wait {
                            super::locks::void()
                        } else {
                            Value::Bool(got)
                        }
                    }
                },
                AdvisoryItem::Unlock { mode, .. } => match keys.next().expect("one key per unlock")
                {
                    None => Value::Null,
                    Some(key) => Value::Bool(self.tx.sql_advisory_unlock(&key, *mode)),
                },
                AdvisoryItem::UnlockAll => {
                    self.tx.sql_advisory_unlock_all();
                    super::locks::void()
                }
            });
        }
        let columns = plan.items.iter().map(|(name, _)| name.clone()).collect();
        Ok(Rows::new(columns, vec![row]))
    }

    /// Builds the full row an INSERT writes: targets coerced, defaults and
    /// serials filled in.
    fn new_row(&self, plan: &InsertPlan, exprs: &[Expr]) -> Result<Vec<Value>, DbError> {
        let table = &plan.table;
        let mut values: Vec<Option<Value>> = vec![None; table.columns.len()];
        for (&target, e) in plan.targets.iter().zip(exprs) {
            if matches!(e, Expr::Default) {
                continue;
            }
            let v = e.eval(&env(&[], self.params))?;
            values[target] = Some(coerce(&v, table.columns[target].ty).map_err(|e| {
                rewrite(e, SqlState::DatatypeMismatch, || {
                    format!(
                        "column \"{}\" is of type {} but expression is of type {}",
                        table.columns[target].name,
                        table.columns[target].ty.name(),
                        v.type_name()
                    )
                })
            })?);
        }
        let mut out = Vec::with_capacity(values.len());
        for (i, v) in values.into_iter().enumerate() {
            out.push(match v {
                Some(v) => v,
                None => self.default_of(table, i)?,
            });
        }
        super::generated::compute(table, &mut out, self.params.values, self.params.ctx)?;
        self.place(table, &mut out);
        Ok(out)
    }

    /// Puts a heap table's new row version after every existing one (see
    /// `catalog::ROW_POSITION`).
    fn place(&self, table: &Table, values: &mut [Value]) {
        if let Some(position) = table.position_column() {
            values[position] = Value::Int(self.db.next_serial(&table.name, ROW_ID));
        }
    }

    pub(crate) fn default_of(&self, table: &Table, column: usize) -> Result<Value, DbError> {
        let c = &table.columns[column];
        if c.serial {
            let drawn = self
                .db
                .serial_value(self.params.ctx.session, &table.name, c.name)?;
            return Ok(Value::Int(drawn));
        }
        match &c.default {
            Some(e) => coerce(&e.eval(&env(&[], self.params))?, c.ty),
            None => Ok(Value::Null),
        }
    }

    /// NOT NULL and CHECK constraints of a row about to be written.
    pub(crate) fn check_row(&self, table: &Table, values: &[Value]) -> Result<(), DbError> {
        check_row(table, values, self.params)
    }

    /// A referencing row's parent must exist: its row is locked FOR KEY
    /// SHARE, as PostgreSQL's RI trigger does, so that it can be neither
    /// deleted nor have its key changed until this transaction ends, while
    /// other referencing writes and updates of its other columns go on.
    /// `update`: the row's old values, and whether this transaction wrote
    /// the version updated.
    async fn check_parents(
        &mut self,
        table: &Table,
        values: &[Value],
        update: Option<(&[Value], bool)>,
    ) -> Result<(), DbError> {
        for fk in &table.foreign_keys {
            let new_key: Vec<Value> = fk.columns.iter().map(|&c| values[c].clone()).collect();
            let null_key = new_key.iter().any(Value::is_null);
            if let Some((old, own_version)) = update {
                // An update fires the check only for a non-NULL reference
                // that changed, or that a version this transaction wrote
                // carries (RI_FKey_fk_upd_check_required: an insert's check
                // may not have run yet; transcript
                // `fk-check-again-on-an-update-of-an-own-version`).
                let unchanged = fk.columns.iter().all(|&c| old[c] == values[c]);
                if null_key || (unchanged && !own_version) {
                    continue;
                }
            }
            if self.deferred.is_deferred(&table.name, fk) {
                // The check runs at COMMIT (or SET CONSTRAINTS ...
                // IMMEDIATE), where it opens the parent.
                if !null_key {
                    self.deferred.pending.push(Pending::Child {
                        table: table.name.clone(),
                        fk: fk.name.clone(),
                        key: table.row_key(values),
                        values: values[..table.columns.len()].to_vec(),
                    });
                }
                continue;
            }
            if null_key {
                // The check opens the parent with ROW SHARE, for its FOR
                // KEY SHARE query, before it looks at the reference: an
                // inserted row with a NULL one locks the parent table too
                // (RI_FKey_check; transcript
                // `fk-check-of-an-inserted-row-locks-the-parent-table-even-for-null`).
                self.tx
                    .sql_lock_table_in_statement(&fk.parent, TableLockMode::RowShare)
                    .await?;
                continue;
            }
            self.check_parent(table, fk, &new_key).await?;
        }
        Ok(())
    }

    /// The parent that `fk`'s key `new_key` (no NULL in it) refers to must
    /// exist: locks it FOR KEY SHARE, or fails with 23503.
    pub(crate) async fn check_parent(
        &mut self,
        table: &Table,
        fk: &ForeignKey,
        new_key: &[Value],
    ) -> Result<(), DbError> {
        // The RI query's ROW SHARE on the parent, taken when it runs.
        self.tx
            .sql_lock_table_in_statement(&fk.parent, TableLockMode::RowShare)
            .await?;
        let parent = self.db.table(&fk.parent)?;
        let mut parent_values = vec![Value::Null; parent.columns.len()];
        for (v, &pc) in new_key.iter().zip(&fk.parent_columns) {
            parent_values[pc] = coerce(v, parent.columns[pc].ty)?;
        }
        let index = &parent.indexes[fk.parent_index];
        let prefix_values: Vec<Value> = index
            .columns
            .iter()
            .map(|&c| parent_values[c].clone())
            .collect();
        let key = Key::raw(&parent.index_prefix(fk.parent_index, &prefix_values));
        // The RI query is an index scan of the parent's key: at
        // Serializable it takes that index's page lock.
        if fk.parent_index == 0 && !parent.heap {
            self.tx.sql_reader().index_page_read(parent.base(), PK_PAGE);
        }
        let row_key = if fk.parent_index == 0 {
            Some(key)
        } else {
            self.tx
                .sql_get(&key)?
                .map(|entry| parent.key_of_entry(&entry))
        };
        let found = match row_key {
            Some(k) => self.tx.sql_ri_key_share(&k).await?.is_some(),
            None => false,
        };
        if !found {
            return Err(err(
                SqlState::ForeignKeyViolation,
                format!(
                    "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
                    table.name, fk.name
                ),
            ));
        }
        Ok(())
    }

    /// Writes a new row: the row key, then each secondary index entry
    /// (unique ones wait for an uncommitted duplicate's writer and fail
    /// with 23505, as PostgreSQL's unique check does), then the
    /// foreign-key checks.
    async fn insert_row(&mut self, table: &Table, values: &[Value]) -> Result<(), DbError> {
        let key = table.row_key(values);
        if table.exclusion.is_some() && self.isolation() == Isolation::Serializable {
            // The new row's entry in the exclusion constraint's GiST index
            // checks its page before the constraint is checked (which the
            // store's write of the row does): a 23P01 against a committed
            // reader of the page is a 40001 first.
            let page = index_page(table.base(), EXCLUSION_PAGE);
            self.tx.sql_index_pages_written(&[page])?;
        }
        let name = |i: usize| table.indexes[i].name.clone();
        let exclusion = table.exclusion.as_ref().map(|x| x.name.clone());
        self.tx
            .sql_write(&key, WriteKind::Insert, Some(table.to_row(values)))
            .await
            .map_err(|e| {
                let e = rewrite(e, SqlState::UniqueViolation, || {
                    format!(
                        "duplicate key value violates unique constraint \"{}\"",
                        name(0)
                    )
                });
                rewrite(e, SqlState::ExclusionViolation, || {
                    format!(
                        "conflicting key value violates exclusion constraint \"{}\"",
                        exclusion.clone().unwrap_or_default()
                    )
                })
            })?;
        for i in 1..table.indexes.len() {
            if table.has_entry(i, values)? {
                self.insert_entry(table, i, values).await?;
            }
        }
        self.check_parents(table, values, None).await
    }

    async fn insert_entry(
        &mut self,
        table: &Table,
        index: usize,
        values: &[Value],
    ) -> Result<(), DbError> {
        let key = table.index_key(index, values)?;
        if table.indexes[index].unique {
            // A committed entry with these values whose row another
            // transaction is updating or deleting: PostgreSQL's unique check
            // waits for that transaction before it decides.
            if let Some(entry) = self.tx.sql_latest_row(&key) {
                let row_key = table.key_of_entry(&entry);
                self.tx.sql_wait_for_writer(&row_key).await?;
            }
        }
        self.tx
            .sql_write(&key, WriteKind::Insert, Some(table.entry_row(values)))
            .await
            .map(|_| ())
            .map_err(|e| {
                rewrite(e, SqlState::UniqueViolation, || {
                    format!(
                        "duplicate key value violates unique constraint \"{}\"",
                        table.indexes[index].name
                    )
                })
            })
    }

    /// Replaces a locked row's values: the row (moved when its primary key
    /// changed) and the index entries whose values changed.
    pub(crate) async fn update_row(
        &mut self,
        table: &Table,
        key: &Key,
        old: &[Value],
        new: &[Value],
    ) -> Result<(), DbError> {
        self.check_row(table, new)?;
        // Every UPDATE writes a new version of a heap row, after the others.
        let mut placed;
        // A row that changes partition is deleted and inserted anew, as
        // PostgreSQL moves it: a heap row gets a new identity too.
        let across = table
            .partitioning
            .as_ref()
            .is_some_and(|p| p.route(old) != p.route(new));
        let new = if table.heap {
            placed = new.to_vec();
            self.place(table, &mut placed);
            if across {
                let id = table.pk()[0];
                placed[id] = Value::Int(self.db.next_serial(&table.name, ROW_ID));
            }
            &placed[..]
        } else {
            new
        };
        let new_key = table.row_key(new);
        if new_key != *key {
            self.tx.sql_write(key, WriteKind::Delete, None).await?;
            for i in 1..table.indexes.len() {
                if table.has_entry(i, old)? {
                    self.tx
                        .sql_write(&table.index_key(i, old)?, WriteKind::Delete, None)
                        .await?;
                }
            }
            // The new key's unique check comes before the foreign-key
            // check of the rows that referenced the old key, which
            // PostgreSQL runs at the end of the statement.
            self.insert_row(table, new).await?;
            self.queue_referential(table, old, Some(new));
            self.tx.sql_record_move(key, &new_key, across);
            return Ok(());
        }
        // A row version this transaction wrote gets its foreign keys
        // checked again even when they stay (RI_FKey_fk_upd_check_required:
        // the insert's own check may not have run yet).
        let own_version = self.tx.sql_wrote(key);
        if self.isolation() == Isolation::Serializable && !table.heap {
            self.non_hot_pages(table, old, new)?;
        }
        let exclusion = table.exclusion.as_ref().map(|x| x.name.clone());
        let kind = if key_columns_changed(table, old, new) {
            WriteKind::KeyUpdate
        } else {
            WriteKind::Update
        };
        self.tx
            .sql_write(key, kind, Some(table.to_row(new)))
            .await
            .map_err(|e| {
                rewrite(e, SqlState::ExclusionViolation, || {
                    format!(
                        "conflicting key value violates exclusion constraint \"{}\"",
                        exclusion.clone().unwrap_or_default()
                    )
                })
            })?;
        for i in 1..table.indexes.len() {
            // A row moving into or out of a partial index's predicate gains
            // or loses its entry even when the indexed columns stay.
            let (was_in, is_in) = (table.has_entry(i, old)?, table.has_entry(i, new)?);
            let changed = table.entry_changed(i, old, new)?;
            if was_in && (changed || !is_in) {
                self.tx
                    .sql_write(&table.index_key(i, old)?, WriteKind::Delete, None)
                    .await?;
            }
            if is_in && (changed || !was_in) {
                self.insert_entry(table, i, new).await?;
            }
        }
        self.queue_referential(table, old, Some(new));
        self.check_parents(table, new, Some((old, own_version)))
            .await
    }

    /// An UPDATE that changes an indexed column is not HOT: PostgreSQL
    /// inserts the new version into every index of the table, and each
    /// insert checks its leaf page for readers (the changed entries' own
    /// inserts check theirs again, which adds nothing).
    fn non_hot_pages(
        &mut self,
        table: &Table,
        old: &[Value],
        new: &[Value],
    ) -> Result<(), DbError> {
        let mut hot = true;
        for i in 1..table.indexes.len() {
            if table.entry_changed(i, old, new)?
                || table.has_entry(i, old)? != table.has_entry(i, new)?
            {
                hot = false;
                break;
            }
        }
        if let Some(x) = &table.exclusion {
            hot &= old[x.group] == new[x.group] && old[x.range] == new[x.range];
        }
        if hot {
            return Ok(());
        }
        let mut pages = vec![index_page(table.base(), PK_PAGE)];
        pages.extend(table.indexes[1..].iter().map(|i| Key::raw(&i.prefix)));
        if table.exclusion.is_some() {
            pages.push(index_page(table.base(), EXCLUSION_PAGE));
        }
        self.tx.sql_index_pages_written(&pages)
    }

    fn apply_sets(
        &self,
        table: &Table,
        sets: &[(usize, Expr)],
        row: &[Value],
    ) -> Result<Vec<Value>, DbError> {
        let e = env(row, self.params);
        let mut new: Vec<Value> = row[..table.columns.len()].to_vec();
        for (col, x) in sets {
            let v = match x {
                Expr::Default => self.default_of(table, *col)?,
                x => x.eval(&e)?,
            };
            new[*col] = coerce(&v, table.columns[*col].ty)?;
        }
        super::generated::compute(table, &mut new, self.params.values, self.params.ctx)?;
        Ok(new)
    }

    pub(crate) fn returning(
        &self,
        list: Option<&Vec<(String, Expr)>>,
        values: &[Value],
        out: &mut Vec<Vec<Value>>,
    ) -> Result<(), DbError> {
        if let Some(list) = list {
            let e = env(values, self.params);
            out.push(
                list.iter()
                    .map(|(_, x)| x.eval(&e))
                    .collect::<Result<_, _>>()?,
            );
        }
        Ok(())
    }

    pub(crate) fn done(
        list: Option<&Vec<(String, Expr)>>,
        out: Vec<Vec<Value>>,
        affected: u64,
    ) -> Rows {
        let columns = list.map_or_else(Vec::new, |l| l.iter().map(|(n, _)| n.clone()).collect());
        let mut rows = Rows::new(columns, out);
        rows.affected = affected;
        rows
    }

    pub(crate) async fn insert(&mut self, plan: &InsertPlan) -> Result<Rows, DbError> {
        self.tx.sql_start(Op::Insert, None, None).await?;
        self.insert_body(plan).await
    }

    /// An INSERT after its start, with its statement triggers (an ON
    /// CONFLICT DO UPDATE fires the UPDATE ones too, in PostgreSQL's
    /// order: BEFORE INSERT, BEFORE UPDATE; AFTER UPDATE, AFTER INSERT).
    pub(crate) async fn insert_body(&mut self, plan: &InsertPlan) -> Result<Rows, DbError> {
        if !Self::has_statement_triggers(&plan.table) {
            return self.insert_rows(plan).await;
        }
        let update = match &plan.conflict {
            Some((_, ConflictAction::Update { sets, .. })) => {
                Some(sets.iter().map(|(c, _)| *c).collect::<Vec<usize>>())
            }
            _ => None,
        };
        self.before_statement(&plan.table, Event::Insert, None)
            .await?;
        if let Some(set) = &update {
            self.before_statement(&plan.table, Event::Update, Some(set))
                .await?;
        }
        let rows = self.insert_rows(plan).await?;
        if let Some(set) = &update {
            self.after_statement(&plan.table, Event::Update, Some(set));
        }
        self.after_statement(&plan.table, Event::Insert, None);
        Ok(rows)
    }

    async fn insert_rows(&mut self, plan: &InsertPlan) -> Result<Rows, DbError> {
        let table = &plan.table;
        let mut out = Vec::new();
        let mut affected = 0;
        let mut touched: Vec<Key> = Vec::new();
        // INSERT ... SELECT reads all its rows (at the statement's
        // snapshot, before any of its own writes) and then inserts them.
        let selected: Vec<Vec<Expr>> = match &plan.select {
            None => Vec::new(),
            Some(select) => self
                .select_body(select)
                .await?
                .rows
                .into_iter()
                .map(|row| row.into_iter().map(Expr::Const).collect())
                .collect(),
        };
        let rows = if plan.select.is_some() {
            &selected
        } else {
            &plan.rows
        };
        'rows: for exprs in rows {
            let values = self.new_row(plan, exprs)?;
            let values = if Self::has_before(table, Event::Insert) {
                match self
                    .before_row(table, Event::Insert, None, values, None)
                    .await?
                {
                    Some(values) => values,
                    None => continue 'rows,
                }
            } else {
                values
            };
            self.check_row(table, &values)?;
            match self.resolve_conflict(plan, &values, &touched).await? {
                ConflictOutcome::NoConflict => {}
                ConflictOutcome::Skipped => continue 'rows,
                ConflictOutcome::Updated(new) => {
                    touched.push(table.row_key(&new));
                    affected += 1;
                    self.returning(plan.returning.as_ref(), &new, &mut out)?;
                    continue 'rows;
                }
            }
            self.insert_row(table, &values).await?;
            self.after_row(table, Event::Insert, None, Some(&values), None);
            // Only ON CONFLICT DO UPDATE looks back at the rows touched.
            if plan.conflict.is_some() {
                touched.push(table.row_key(&values));
            }
            affected += 1;
            self.returning(plan.returning.as_ref(), &values, &mut out)?;
        }
        Ok(Self::done(plan.returning.as_ref(), out, affected))
    }

    /// `ON CONFLICT` for a row about to be inserted: the first arbiter
    /// index with a conflicting row decides (`touched`: the rows this
    /// statement inserted or updated already).
    async fn resolve_conflict(
        &mut self,
        plan: &InsertPlan,
        values: &[Value],
        touched: &[Key],
    ) -> Result<ConflictOutcome, DbError> {
        let table = &plan.table;
        let Some((arbiters, action)) = &plan.conflict else {
            return Ok(ConflictOutcome::NoConflict);
        };
        let all: Vec<usize> = table.declared_unique().collect();
        let arbiters = if arbiters.is_empty() { &all } else { arbiters };
        for &index in arbiters {
            let Some(row_key) = self.conflicting_row(table, index, values).await? else {
                continue;
            };
            let ConflictAction::Update { sets, filter } = action else {
                return Ok(ConflictOutcome::Skipped);
            };
            if touched.contains(&row_key) {
                return Err(err(
                    SqlState::CardinalityViolation,
                    "ON CONFLICT DO UPDATE command cannot affect row a second time",
                ));
            }
            // A conflicting row that moved meanwhile no longer
            // conflicts: PostgreSQL retries the insert rather than
            // follow the chain.
            // PostgreSQL decides the strength from the columns the
            // SET list names (ExecUpdateLockMode), not their values.
            let mode = if sets.iter().any(|(c, _)| is_key_column(table, *c)) {
                RowLockMode::Update
            } else {
                RowLockMode::NoKeyUpdate
            };
            let Some((locked_key, current)) = self
                .lock_row_or_retry(table, &row_key, None, mode, true)
                .await?
            else {
                continue;
            };
            if locked_key != row_key {
                continue;
            }
            return self
                .conflict_update(table, sets, filter.as_ref(), &row_key, current, values)
                .await;
        }
        Ok(ConflictOutcome::NoConflict)
    }

    /// The key of the row that conflicts with `values` through unique
    /// index `index`, if one does.
    async fn conflicting_row(
        &mut self,
        table: &Table,
        index: usize,
        values: &[Value],
    ) -> Result<Option<Key>, DbError> {
        // A row outside a partial unique index's predicate
        // cannot conflict through it.
        if table.key_values(index, values)?.iter().any(Value::is_null)
            || !table.has_entry(index, values)?
        {
            return Ok(None);
        }
        let key = table.index_key(index, values)?;
        let Some(existing) = self.tx.sql_probe(&key).await? else {
            return Ok(None);
        };
        // A secondary entry's row may be under an uncommitted
        // update that left the entry alone: PostgreSQL checks
        // the row itself, waiting for its writer, and at the
        // snapshot levels fails with 40001 when the row is newer
        // than the snapshot.
        if index != 0
            && self
                .tx
                .sql_probe(&table.key_of_entry(&existing))
                .await?
                .is_none()
        {
            return Ok(None);
        }
        Ok(Some(if index == 0 {
            key
        } else {
            table.key_of_entry(&existing)
        }))
    }

    /// `DO UPDATE SET ... [WHERE ...]` on the locked conflicting row
    /// (`current`), `EXCLUDED` being the row proposed for insertion.
    async fn conflict_update(
        &mut self,
        table: &Arc<Table>,
        sets: &[(usize, Expr)],
        filter: Option<&Expr>,
        row_key: &Key,
        current: Vec<Value>,
        values: &[Value],
    ) -> Result<ConflictOutcome, DbError> {
        let mut both = current.clone();
        both.extend(values.iter().cloned());
        if let Some(f) = filter {
            if !f.is_true(&env(&both, self.params))? {
                return Ok(ConflictOutcome::Skipped);
            }
        }
        let new = self.apply_sets(table, sets, &both)?;
        let set: Vec<usize> = sets.iter().map(|(c, _)| *c).collect();
        let new = if Self::has_before(table, Event::Update) {
            match self
                .before_row(table, Event::Update, Some(&current), new, Some(&set))
                .await?
            {
                Some(new) => new,
                None => return Ok(ConflictOutcome::Skipped),
            }
        } else {
            new
        };
        self.update_row(table, row_key, &current, &new).await?;
        self.after_row(table, Event::Update, Some(&current), Some(&new), Some(&set));
        Ok(ConflictOutcome::Updated(new))
    }

    pub(crate) async fn update(&mut self, plan: &UpdatePlan) -> Result<Rows, DbError> {
        let table = &plan.source.table;
        let key = table
            .single_key()
            .then(|| self.point_key(&plan.source))
            .flatten();
        self.tx.sql_start(Op::Update, key.as_ref(), None).await?;
        self.update_body(plan).await
    }

    /// An UPDATE after its start, with its statement triggers.
    pub(crate) async fn update_body(&mut self, plan: &UpdatePlan) -> Result<Rows, DbError> {
        let table = &plan.source.table;
        if !Self::has_statement_triggers(table) {
            return self.update_rows(plan).await;
        }
        let set: Vec<usize> = plan.sets.iter().map(|(c, _)| *c).collect();
        self.before_statement(table, Event::Update, Some(&set))
            .await?;
        let rows = self.update_rows(plan).await?;
        self.after_statement(table, Event::Update, Some(&set));
        Ok(rows)
    }

    async fn update_rows(&mut self, plan: &UpdatePlan) -> Result<Rows, DbError> {
        if !plan.from.is_empty() {
            if Self::has_row_triggers(&plan.source.table) {
                return Err(super::expr::unsupported(
                    "UPDATE ... FROM on a table with triggers",
                ));
            }
            return self.update_from(plan).await;
        }
        let table = &plan.source.table;
        let mut out = Vec::new();
        let mut affected = 0;
        for (key, seen) in self.candidates(&plan.source, plan.filter.as_ref())? {
            // The strength follows whether the new values change a key
            // column of the version the statement found, as PostgreSQL's
            // heap_update decides before it waits.
            let planned = self.apply_sets(table, &plan.sets, &seen)?;
            let mode = if key_columns_changed(table, &seen, &planned) {
                RowLockMode::Update
            } else {
                RowLockMode::NoKeyUpdate
            };
            let Some((locked, current)) = self
                .lock_row(table, &key, plan.filter.as_ref(), mode)
                .await?
            else {
                continue;
            };
            // SET is evaluated once per row (a serial DEFAULT takes one
            // value); again only when the row changed under a wait, as
            // PostgreSQL's EvalPlanQual re-projects the newer version, even
            // one with the same values (a nextval in SET then takes two;
            // conform RC program 4346 of seed 1).
            let newer_version = locked != key
                || (self.isolation() == Isolation::ReadCommitted
                    && self.tx.sql_changed_since_snapshot(&locked));
            let key = locked;
            let new = if current == seen && !newer_version {
                planned
            } else {
                self.apply_sets(table, &plan.sets, &current)?
            };
            let set: Vec<usize> = if table.triggers.is_empty() {
                Vec::new()
            } else {
                plan.sets.iter().map(|(c, _)| *c).collect()
            };
            let new = if Self::has_before(table, Event::Update) {
                match self
                    .before_row(table, Event::Update, Some(&current), new, Some(&set))
                    .await?
                {
                    Some(new) => new,
                    None => continue,
                }
            } else {
                new
            };
            // A row that changes partition is deleted from one and
            // inserted into the other, triggers included.
            if !table.triggers.is_empty() && Self::moves(table, &current, &new) {
                let new = match self.before_move(table, &current, new).await? {
                    super::triggers::Move::To(new) => new,
                    super::triggers::Move::Skipped => continue,
                };
                self.update_row(table, &key, &current, &new).await?;
                self.after_move(table, &current, &new);
                affected += 1;
                self.returning(plan.returning.as_ref(), &new, &mut out)?;
                continue;
            }
            self.update_row(table, &key, &current, &new).await?;
            self.after_row(table, Event::Update, Some(&current), Some(&new), Some(&set));
            affected += 1;
            self.returning(plan.returning.as_ref(), &new, &mut out)?;
        }
        Ok(Self::done(plan.returning.as_ref(), out, affected))
    }

    pub(crate) async fn delete(&mut self, plan: &DeletePlan) -> Result<Rows, DbError> {
        let table = &plan.source.table;
        let key = table
            .single_key()
            .then(|| self.point_key(&plan.source))
            .flatten();
        self.tx.sql_start(Op::Delete, key.as_ref(), None).await?;
        self.delete_body(plan).await
    }

    /// A DELETE after its start, with its statement triggers.
    pub(crate) async fn delete_body(&mut self, plan: &DeletePlan) -> Result<Rows, DbError> {
        let table = &plan.source.table;
        if !Self::has_statement_triggers(table) {
            return self.delete_rows(plan).await;
        }
        self.before_statement(table, Event::Delete, None).await?;
        let rows = self.delete_rows(plan).await?;
        self.after_statement(table, Event::Delete, None);
        Ok(rows)
    }

    async fn delete_rows(&mut self, plan: &DeletePlan) -> Result<Rows, DbError> {
        if !plan.using.is_empty() {
            if Self::has_row_triggers(&plan.source.table) {
                return Err(super::expr::unsupported(
                    "DELETE ... USING on a table with triggers",
                ));
            }
            return self.delete_using(plan).await;
        }
        let table = &plan.source.table;
        let mut out = Vec::new();
        let mut affected = 0;
        for (key, _) in self.candidates(&plan.source, plan.filter.as_ref())? {
            let Some((key, current)) = self
                .lock_row(table, &key, plan.filter.as_ref(), RowLockMode::Update)
                .await?
            else {
                continue;
            };
            if Self::has_before(table, Event::Delete)
                && self
                    .before_row(table, Event::Delete, None, current.clone(), None)
                    .await?
                    .is_none()
            {
                continue;
            }
            self.delete_locked(table, &key, &current).await?;
            self.after_row(table, Event::Delete, Some(&current), None, None);
            affected += 1;
            self.returning(plan.returning.as_ref(), &current, &mut out)?;
        }
        Ok(Self::done(plan.returning.as_ref(), out, affected))
    }
}

/// A combined row and, when the query reads one table, its row's key.
pub(crate) type KeyedRow = (Option<Key>, Vec<Value>);

/// The rows of a query's FROM list that pass its WHERE clause, at the
/// statement's snapshot: nested loops in FROM order, each table read by
/// its access path with the earlier tables' values bound. A subquery's
/// rows start with `outer`, the row of the query around it (its
/// correlated columns); a statement's `outer` is empty. A row carries its
/// key when the query reads one table.
pub(crate) fn scan_rows(
    reader: &SqlReader,
    params: Bound<'_>,
    plan: &SelectPlan,
    outer: &[Value],
) -> Result<Vec<KeyedRow>, DbError> {
    // Nested loops in FROM order; each table read by its access path
    // with the earlier tables' values bound (see `joins`).
    let mut rows = super::joins::join_rows(reader, params, plan, outer)?;
    if let Some(f) = &plan.filter {
        let mut kept = Vec::with_capacity(rows.len());
        for (key, values) in rows {
            if f.is_true(&env(&values, params))? {
                kept.push((key, values));
            }
        }
        rows = kept;
    }
    Ok(rows)
}

/// The result rows of a query without a locking clause (grouped, sorted,
/// offset and limited), `outer` as in [`scan_rows`].
pub(crate) fn query_rows(
    reader: &SqlReader,
    params: Bound<'_>,
    plan: &SelectPlan,
    outer: &[Value],
) -> Result<Vec<Vec<Value>>, DbError> {
    let mut rows = scan_rows(reader, params, plan, outer)?;
    if !plan.windows.is_empty() {
        let mut values: Vec<Vec<Value>> = rows.into_iter().map(|(_, v)| v).collect();
        super::window::compute(&plan.windows, &mut values, params)?;
        rows = values.into_iter().map(|v| (None, v)).collect();
    }
    let offset = limit_of(plan.offset.as_ref(), params)?.unwrap_or(0);
    let limit = limit_of(plan.limit.as_ref(), params)?;
    if let Some(grouping) = &plan.grouping {
        let width = plan
            .sources
            .last()
            .map_or(0, |s| s.offset + s.table.columns.len());
        let groups = aggregate(
            grouping,
            rows.into_iter().map(|(_, v)| v),
            width,
            outer,
            params,
        )?;
        let mut out = Vec::new();
        for (rep, aggs) in groups {
            let env = Env {
                row: &rep,
                params: params.values,
                aggs: &aggs,
                ctx: params.ctx,
            };
            if let Some(h) = &grouping.having {
                if !h.is_true(&env)? {
                    continue;
                }
            }
            let values = plan
                .output
                .iter()
                .map(|(_, e)| e.eval(&env))
                .collect::<Result<Vec<_>, _>>()?;
            let keys = order_keys(plan, &env, &values)?;
            out.push((keys, values));
        }
        return Ok(finish(plan, out, offset, limit));
    }
    let mut sorted = Vec::with_capacity(rows.len());
    for (_, values) in rows {
        let e = env(&values, params);
        let output = plan
            .output
            .iter()
            .map(|(_, x)| x.eval(&e))
            .collect::<Result<Vec<_>, _>>()?;
        let keys = order_keys(plan, &e, &output)?;
        sorted.push((keys, output));
    }
    Ok(finish(plan, sorted, offset, limit))
}

fn limit_of(e: Option<&Expr>, params: Bound<'_>) -> Result<Option<usize>, DbError> {
    let Some(e) = e else { return Ok(None) };
    match e.eval(&env(&[], params))? {
        Value::Null => Ok(None),
        v => {
            let n = super::value::coerce(&v, SqlType::BigInt)?
                .as_int()
                .unwrap_or(0);
            if n < 0 {
                return Err(err(SqlState::Other("2201W"), "LIMIT must not be negative"));
            }
            Ok(Some(n as usize))
        }
    }
}

fn lookup(src: &Source, partial: &[Value], params: Bound<'_>) -> Result<Lookup, DbError> {
    let Access::Index {
        index,
        eq,
        lower,
        upper,
    } = &src.access
    else {
        return Ok(Lookup::Seq);
    };
    let table = &src.table;
    let idx = &table.indexes[*index];
    let env = env(partial, params);
    let mut values = Vec::with_capacity(eq.len());
    for (i, e) in eq.iter().enumerate() {
        // The planner reads an expression index only through parts of
        // known type (see `exprindex::key_conds`).
        let v = e.eval(&env)?;
        let v = match table.key_type(*index, i) {
            Some(ty) => coerce(&v, ty)?,
            None => v,
        };
        if v.is_null() {
            return Ok(Lookup::Empty);
        }
        values.push(v);
    }
    if idx.unique && values.len() == table.key_len(*index) {
        let mut text = table.index_prefix(*index, &values);
        if *index == 0 {
            return Ok(Lookup::Point(0, Key::raw(&text)));
        }
        text.shrink_to_fit();
        return Ok(Lookup::Point(*index, Key::raw(&text)));
    }
    let prefix = table.index_prefix(*index, &values);
    let next_ty = table.key_type(*index, values.len());
    let bound = |b: &Option<(Expr, bool)>| -> Result<Option<Option<(String, bool)>>, DbError> {
        let Some((e, inclusive)) = b else {
            return Ok(Some(None));
        };
        let v = coerce(&e.eval(&env)?, next_ty.unwrap_or(SqlType::Text))?;
        if v.is_null() {
            return Ok(None);
        }
        let mut text = prefix.clone();
        encode_key(&mut text, &v);
        Ok(Some(Some((text, *inclusive))))
    };
    let (Some(lo), Some(hi)) = (bound(lower)?, bound(upper)?) else {
        return Ok(Lookup::Empty);
    };
    let start = match lo {
        None => Key::raw(&prefix),
        Some((text, true)) => Key::raw(&text),
        Some((text, false)) => prefix_end(&text),
    };
    let end = match hi {
        None => prefix_end(&prefix),
        Some((text, true)) => prefix_end(&text),
        Some((text, false)) => Key::raw(&text),
    };
    if start >= end {
        return Ok(Lookup::Empty);
    }
    Ok(Lookup::Range(*index, KeyRange::between(start, end)))
}

/// Reads the rows of one table for the given partial combined row.
pub(crate) fn fetch(
    reader: &SqlReader,
    src: &Source,
    partial: &[Value],
    params: Bound<'_>,
) -> Result<Vec<(Key, Vec<Value>)>, DbError> {
    if let Access::Virtual(v) = &src.access {
        return super::cte::fetch_virtual(v, partial, params);
    }
    let table = &src.table;
    let mut out = Vec::new();
    match lookup(src, partial, params)? {
        Lookup::Empty => {}
        Lookup::Point(0, key) => {
            if !table.heap {
                reader.index_page_read(table.base(), PK_PAGE);
            }
            if let Some(row) = reader.get(&key)? {
                out.push((key, table.values_of(&row)));
            }
        }
        Lookup::Point(_, key) => {
            if let Some(entry) = reader.get(&key)? {
                let row_key = table.key_of_entry(&entry);
                if let Some(row) = reader.get(&row_key)? {
                    out.push((row_key, table.values_of(&row)));
                }
            }
        }
        Lookup::Range(0, range) => {
            if !table.heap {
                reader.index_page_read(table.base(), PK_PAGE);
            }
            for (key, row) in reader.scan(&range)? {
                out.push((key, table.values_of(&row)));
            }
        }
        Lookup::Range(_, range) => {
            for (_, entry) in reader.scan(&range)? {
                let row_key = table.key_of_entry(&entry);
                if let Some(row) = reader.get(&row_key)? {
                    out.push((row_key, table.values_of(&row)));
                }
            }
        }
        Lookup::Seq => {
            let rows = match &src.access {
                Access::Exclusion(qual) => {
                    // The qual's columns are numbered in the combined row.
                    let mut combined = vec![Value::Null; src.offset];
                    for (slot, v) in combined.iter_mut().zip(partial) {
                        *slot = v.clone();
                    }
                    // A qual that fails to evaluate locks the row: more
                    // locks are safe, fewer are not.
                    let matches = |row: &crate::store::Row| {
                        let mut values = combined.clone();
                        values.extend(table.values_of(row));
                        qual.is_true(&env(&values, params)).unwrap_or(true)
                    };
                    reader.scan_through_page(&table.range(), table.base(), &matches)?
                }
                _ => reader.scan(&table.range())?,
            };
            for (key, row) in rows {
                out.push((key, table.values_of(&row)));
            }
            // A heap is scanned in the order its row versions were
            // written (PostgreSQL's physical order on a small table).
            if let Some(position) = table.position_column() {
                out.sort_by_key(|(_, values)| values[position].as_int());
            }
            // A partitioned table is scanned partition by partition.
            if let Some(p) = &table.partitioning {
                out.sort_by_key(|(_, values)| p.scan_rank(values));
            }
        }
    }
    // A partition named itself holds the rows its bound takes.
    if table.view.is_some() {
        out.retain(|(_, values)| table.holds(values));
    }
    Ok(out)
}

fn order_keys(plan: &SelectPlan, env: &Env<'_>, output: &[Value]) -> Result<Vec<Value>, DbError> {
    let mut keys = plan
        .order
        .iter()
        .map(|o| match &o.key {
            OrderKey::Output(i) => Ok(output.get(*i).cloned().unwrap_or(Value::Null)),
            OrderKey::Expr(e) => e.eval(env),
        })
        .collect::<Result<Vec<_>, _>>()?;
    // DISTINCT's keys ride after the ORDER BY's (see `setops`).
    if let Some(distinct) = &plan.distinct {
        super::setops::distinct_keys(distinct, env, output, &mut keys)?;
    }
    Ok(keys)
}

/// Groups rows by the GROUP BY values (in key order: deterministic)
/// and computes each group's aggregates. With no GROUP BY there is
/// exactly one group, even over no rows.
fn aggregate(
    grouping: &super::plan::Grouping,
    rows: impl Iterator<Item = Vec<Value>>,
    width: usize,
    outer: &[Value],
    params: Bound<'_>,
) -> Result<Vec<Group>, DbError> {
    use super::grouping::{feed, result, Acc};
    let mut groups: BTreeMap<String, (Vec<Value>, Vec<Acc>)> = BTreeMap::new();
    let fresh = || -> Vec<Acc> { grouping.aggs.iter().map(|_| Acc::default()).collect() };
    if grouping.by.is_empty() {
        // The one group's representative row: the outer query's values
        // (a subquery's correlated columns), NULL for its own.
        let mut rep = outer.to_vec();
        rep.resize(width.max(outer.len()), Value::Null);
        groups.insert(String::new(), (rep, fresh()));
    }
    for row in rows {
        let e = env(&row, params);
        let mut group_key = String::new();
        for g in &grouping.by {
            encode_key(&mut group_key, &g.eval(&e)?);
        }
        let (_, accs) = groups
            .entry(group_key)
            .or_insert_with(|| (row.clone(), fresh()));
        for (spec, acc) in grouping.aggs.iter().zip(accs.iter_mut()) {
            feed(spec, acc, &e)?;
        }
    }
    groups
        .into_values()
        .map(|(rep, accs)| {
            let aggs = grouping
                .aggs
                .iter()
                .zip(accs)
                .map(|(spec, acc)| result(spec, acc))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((rep, aggs))
        })
        .collect()
}

/// Whether column `column` of `table` belongs to a unique index (the
/// primary key included): PostgreSQL's key columns, whose change makes an
/// UPDATE take FOR UPDATE strength instead of FOR NO KEY UPDATE.
fn is_key_column(table: &Table, column: usize) -> bool {
    table
        .indexes
        .iter()
        .any(|index| index.unique && index.columns.contains(&column))
}

/// Whether `new` changes a key column of `old`.
pub(crate) fn key_columns_changed(table: &Table, old: &[Value], new: &[Value]) -> bool {
    (0..table.columns.len()).any(|c| is_key_column(table, c) && old[c] != new[c])
}

type Sorted<T> = Vec<(Vec<Value>, T)>;

/// A group's representative row and its aggregate values.
type Group = (Vec<Value>, Vec<Value>);

fn sort_rows<T>(plan: &SelectPlan, rows: &mut Sorted<T>) {
    if plan.order.is_empty() {
        return;
    }
    rows.sort_by(|(a, _), (b, _)| {
        for (o, (x, y)) in plan.order.iter().zip(a.iter().zip(b)) {
            let ord = match (x.is_null(), y.is_null()) {
                (true, true) => Ordering::Equal,
                (true, false) => {
                    if o.nulls_first {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (false, true) => {
                    if o.nulls_first {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                _ => {
                    let base = sort_order(x, y);
                    if o.desc {
                        base.reverse()
                    } else {
                        base
                    }
                }
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
}

fn finish(
    plan: &SelectPlan,
    mut rows: Sorted<Vec<Value>>,
    offset: usize,
    limit: Option<usize>,
) -> Vec<Vec<Value>> {
    sort_rows(plan, &mut rows);
    if plan.distinct.is_some() {
        super::setops::dedupe(plan.order.len(), &mut rows);
    }
    rows.into_iter()
        .map(|(_, v)| v)
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX))
        .collect()
}

/// NOT NULL and CHECK constraints of a row about to be written.
pub(crate) fn check_row(table: &Table, values: &[Value], params: Bound<'_>) -> Result<(), DbError> {
    // Tuple routing comes first in PostgreSQL: a row no partition takes
    // fails before its constraints are checked. A row written through a
    // partition itself is not routed: its bound is checked after them.
    if let (Some(p), None) = (&table.partitioning, &table.view) {
        if p.route(values).is_none() {
            return Err(super::partition::no_partition(table));
        }
    }
    for (c, v) in table.columns.iter().zip(values) {
        if c.not_null && v.is_null() {
            return Err(err(
                SqlState::NotNullViolation,
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    c.name,
                    table.shown_name()
                ),
            ));
        }
    }
    for check in &table.checks {
        if check.expr.eval(&env(values, params))?.as_bool() == Some(false) {
            return Err(err(
                SqlState::CheckViolation,
                format!(
                    "new row for relation \"{}\" violates check constraint \"{}\"",
                    table.shown_name(),
                    check.name
                ),
            ));
        }
    }
    if let Some(view) = &table.view {
        if !table.holds(values) {
            return Err(super::partition::outside(view));
        }
    }
    Ok(())
}
