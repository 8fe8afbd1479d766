//! DDL inside a transaction block, as PostgreSQL 15 runs it: the
//! statement takes its table lock in the block's transaction and holds it
//! to the end, its catalog change is seen by its own transaction at once
//! and by the others only once it commits, and a rollback (`ROLLBACK`,
//! `ROLLBACK TO SAVEPOINT`, a failed `COMMIT`) undoes it.
//!
//! The change is made in the shared catalog at the statement, and what it
//! replaced is kept in [`Catalog::pending`] with the session that made it.
//! Commit forgets the record; rollback puts the old entries back. Other
//! sessions plan against [`view`]: the catalog with every other session's
//! pending changes taken back out, so a table created in an open block is
//! not there for them (42P01, as in PostgreSQL) and an uncommitted index
//! is not read. A statement of theirs whose tables carry someone else's
//! pending change takes its table locks first, waiting for the DDL's
//! transaction as PostgreSQL's parser does, and is planned again against
//! what that transaction left (see `SqlSession::run_statement`).

use super::catalog::{Catalog, Table};
use super::plpgsql::Function;
use super::sequences::Sequence;
use crate::store::SessionId;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One change a block's DDL made, with what undoes it.
#[derive(Clone, Debug)]
pub(crate) enum Undo {
    /// A table's entry as it was (None: there was none).
    Table {
        name: String,
        before: Option<Arc<Table>>,
    },
    /// A partition's entry (its partitioned table) as it was.
    Partition {
        name: String,
        before: Option<String>,
    },
    /// A user function as it was.
    Function {
        name: String,
        before: Option<Arc<Function>>,
    },
    /// `CREATE INDEX`: the index goes again. (Kept by name rather than as
    /// the table's old entry: CREATE INDEX's SHARE lock lets another
    /// block index the same table meanwhile.)
    Index { table: String, index: String },
    /// A sequence as it was (ALTER SEQUENCE; None: it did not exist).
    Sequence {
        name: String,
        before: Option<Sequence>,
    },
    /// A dropped table's serial sequences, owner and grants, forgotten at
    /// commit (kept until then, so a rollback has them).
    ForgetAtCommit(String),
}

/// A pending change and the session whose block made it.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub(crate) owner: SessionId,
    pub(crate) undo: Undo,
}

/// The catalog's entries a DDL statement may change, taken just before
/// it changes them (in the same critical section: no other session's
/// change can slip in between).
pub(crate) struct Before {
    tables: BTreeMap<String, Arc<Table>>,
    partitions: BTreeMap<String, String>,
    functions: BTreeMap<String, Arc<Function>>,
}

pub(crate) fn before(catalog: &Catalog) -> Before {
    Before {
        tables: catalog.tables.clone(),
        partitions: catalog.partitions.clone(),
        functions: catalog.functions.clone(),
    }
}

fn diff<T: Clone>(
    before: &BTreeMap<String, T>,
    after: &BTreeMap<String, T>,
    same: impl Fn(&T, &T) -> bool,
    mut out: impl FnMut(String, Option<T>),
) {
    for (name, old) in before {
        match after.get(name) {
            Some(new) if same(old, new) => {}
            _ => out(name.clone(), Some(old.clone())),
        }
    }
    for name in after.keys() {
        if !before.contains_key(name) {
            out(name.clone(), None);
        }
    }
}

/// Records, for `owner`, what changed in `catalog` since `before`.
pub(crate) fn record(catalog: &mut Catalog, owner: SessionId, before: Before) {
    let mut undos = Vec::new();
    diff(
        &before.tables,
        &catalog.tables,
        Arc::ptr_eq,
        |name, before| undos.push(Undo::Table { name, before }),
    );
    diff(
        &before.partitions,
        &catalog.partitions,
        |a, b| a == b,
        |name, before| undos.push(Undo::Partition { name, before }),
    );
    diff(
        &before.functions,
        &catalog.functions,
        Arc::ptr_eq,
        |name, before| undos.push(Undo::Function { name, before }),
    );
    push(catalog, owner, undos);
}

pub(crate) fn push(catalog: &mut Catalog, owner: SessionId, undos: Vec<Undo>) {
    catalog
        .pending
        .extend(undos.into_iter().map(|undo| Pending { owner, undo }));
}

/// How many pending changes `owner` has: a savepoint's mark.
pub(crate) fn mark(catalog: &Catalog, owner: SessionId) -> usize {
    catalog.pending.iter().filter(|p| p.owner == owner).count()
}

/// Whether another session than `viewer` has a pending change.
pub(crate) fn others_pending(catalog: &Catalog, viewer: SessionId) -> bool {
    catalog.pending.iter().any(|p| p.owner != viewer)
}

/// Whether another session than `viewer` changed `table`'s entry (or the
/// sequence of that name) in a block not yet ended.
pub(crate) fn touched_by_others(catalog: &Catalog, viewer: SessionId, table: &str) -> bool {
    catalog.pending.iter().any(|p| {
        p.owner != viewer
            && match &p.undo {
                Undo::Table { name, .. } => name == table,
                Undo::Index { table: t, .. } => t == table,
                Undo::Partition { before, name } => {
                    name == table || before.as_deref() == Some(table)
                }
                Undo::Sequence { name, .. } => name == table,
                Undo::Function { .. } | Undo::ForgetAtCommit(_) => false,
            }
    })
}

/// Takes one change back out of `catalog` (sequences are the caller's).
fn apply(catalog: &mut Catalog, undo: &Undo) {
    match undo {
        Undo::Table { name, before } => match before {
            Some(t) => {
                catalog.tables.insert(name.clone(), t.clone());
            }
            None => {
                catalog.tables.remove(name);
            }
        },
        Undo::Partition { name, before } => match before {
            Some(p) => {
                catalog.partitions.insert(name.clone(), p.clone());
            }
            None => {
                catalog.partitions.remove(name);
            }
        },
        Undo::Function { name, before } => match before {
            Some(f) => {
                catalog.functions.insert(name.clone(), f.clone());
            }
            None => {
                catalog.functions.remove(name);
            }
        },
        Undo::Index { table, index } => {
            if let Some(t) = catalog.tables.get(table) {
                if let Some(at) = t.indexes.iter().position(|i| i.name == *index) {
                    let mut t = (**t).clone();
                    t.indexes.remove(at);
                    catalog.tables.insert(table.clone(), Arc::new(t));
                }
            }
        }
        Undo::Sequence { .. } | Undo::ForgetAtCommit(_) => {}
    }
}

/// The catalog as `viewer` sees it: without the other sessions' pending
/// changes (borrowed when there are none).
pub(crate) fn view(catalog: &Catalog, viewer: SessionId) -> Cow<'_, Catalog> {
    if !others_pending(catalog, viewer) {
        return Cow::Borrowed(catalog);
    }
    let mut seen = catalog.clone();
    seen.pending.clear();
    for p in catalog.pending.iter().rev() {
        if p.owner != viewer {
            apply(&mut seen, &p.undo);
        }
    }
    Cow::Owned(seen)
}

/// `owner`'s block committed: its changes are everyone's. Returns the
/// tables whose serial sequences, owner and grants go now.
pub(crate) fn commit(catalog: &mut Catalog, owner: SessionId) -> Vec<String> {
    let mut forget = Vec::new();
    catalog.pending.retain(|p| {
        if p.owner != owner {
            return true;
        }
        if let Undo::ForgetAtCommit(name) = &p.undo {
            forget.push(name.clone());
        }
        false
    });
    forget
}

/// `owner`'s changes after its first `keep` are undone (all of them for
/// a rollback, those after a savepoint for `ROLLBACK TO`), newest first.
/// Returns the undone changes the caller finishes: sequences to restore,
/// created tables whose serial sequences go.
pub(crate) fn rollback(catalog: &mut Catalog, owner: SessionId, keep: usize) -> Vec<Undo> {
    let mut seen = 0;
    let mut undone = Vec::new();
    let mut kept = Vec::with_capacity(catalog.pending.len());
    for p in std::mem::take(&mut catalog.pending) {
        if p.owner == owner {
            seen += 1;
            if seen > keep {
                undone.push(p.undo);
                continue;
            }
        }
        kept.push(p);
    }
    catalog.pending = kept;
    for undo in undone.iter().rev() {
        apply(catalog, undo);
    }
    undone.reverse();
    undone
}

use super::plan::{Prepared, Statement};
use super::{ddl, expr, lock, locks, triggers, types, Rows, SqlSession};
use crate::store::{DbError, Isolation, KeyRange, Op, SqlState, TableLockMode, Timeouts};

impl SqlSession {
    /// The block ended: its DDL is everyone's (committed) or undone.
    pub(super) fn finish_ddl(&self, committed: bool) {
        let mut catalog = self.db.shared.catalog();
        if !catalog.pending.iter().any(|p| p.owner == self.session) {
            return;
        }
        if committed {
            let forget = commit(&mut catalog, self.session);
            drop(catalog);
            for name in forget {
                self.db.shared.forget_serials(&name);
            }
        } else {
            let undone = rollback(&mut catalog, self.session, 0);
            drop(catalog);
            self.finish_undo(undone);
        }
        self.db.shared.clear_cache();
    }

    /// What a rollback of DDL finishes outside the catalog: sequences put
    /// back, and the sequences of tables the block had created forgotten.
    pub(super) fn finish_undo(&self, undone: Vec<Undo>) {
        for undo in undone {
            match undo {
                Undo::Sequence { name, before } => {
                    lock(&self.db.shared.sequences).restore(&name, before);
                }
                Undo::Table { name, before: None }
                    if !self.db.shared.catalog().tables.contains_key(&name) =>
                {
                    self.db.shared.forget_serials(&name);
                }
                _ => {}
            }
        }
        self.db.shared.clear_cache();
    }

    /// Takes `wanted` in the open block's transaction, held to its end
    /// (one pause point); an error fails the block.
    pub(super) async fn block_lock(
        &mut self,
        wanted: &[(String, TableLockMode)],
    ) -> Result<(), DbError> {
        self.refuse_in_failed_block()?;
        let timeouts = self.timeouts();
        let Some(block) = &mut self.block else {
            return Ok(());
        };
        block.tx.set_timeouts(timeouts);
        if let Err(e) = block.tx.sql_lock_tables(wanted, false).await {
            block.failed = true;
            return Err(e);
        }
        Ok(())
    }

    /// Runs `change` (a synchronous catalog change) as the block's DDL:
    /// what it replaced is recorded for a rollback, also when it fails
    /// part way (its error fails the block).
    pub(super) fn block_change<T>(
        &mut self,
        change: impl FnOnce() -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let before = before(&self.db.shared.catalog());
        let result = change();
        record(&mut self.db.shared.catalog(), self.session, before);
        self.db.shared.clear_cache();
        result.map_err(|e| self.fail(e))
    }

    /// 0A000 for DDL that reads the table's rows in a block whose
    /// snapshot is taken (REPEATABLE READ / SERIALIZABLE after its first
    /// query): PostgreSQL's index build and table checks read every row
    /// committed since, which a snapshot of the store does not show.
    fn refuse_old_snapshot(&mut self, what: &str, sql: &str) -> Result<(), DbError> {
        let old = self
            .block
            .as_ref()
            .is_some_and(|b| b.queried && b.tx.isolation() != Isolation::ReadCommitted);
        if old {
            let e = expr::unsupported(format!(
                "{what} inside a REPEATABLE READ or SERIALIZABLE block after its first query (statement: {})",
                sql.trim()
            ));
            return Err(self.fail(e));
        }
        Ok(())
    }

    /// CREATE TABLE, CREATE INDEX and DROP inside the open block.
    pub(super) async fn ddl_in_block(
        &mut self,
        sql: &str,
        kind: &Prepared,
    ) -> Result<Rows, DbError> {
        self.refuse_in_failed_block()?;
        let with_statement = |mut e: DbError| {
            if e.code == SqlState::FeatureNotSupported && e.message.contains("simulated SQL engine")
            {
                e.message = format!("{} (statement: {})", e.message, sql.trim());
            }
            e
        };
        let db = self.db.clone();
        match kind {
            Prepared::CreateTable(create, excludes) => {
                let types = db.shared.catalog().types.clone();
                self.block_change(|| {
                    types::with_types(&types, || ddl::create_table(&db, create, excludes))
                        .map_err(with_statement)
                })?;
            }
            Prepared::CreateIndex(create) => {
                self.block_lock(&locks::ddl_lock_modes(&db, kind)).await?;
                self.refuse_old_snapshot("CREATE INDEX", sql)?;
                let block = self.block.as_mut().expect("in a block");
                let made = ddl::create_index(&db, create, Some(&mut block.tx)).await;
                match made {
                    Ok(Some((table, index))) => {
                        push(
                            &mut db.shared.catalog(),
                            self.session,
                            vec![Undo::Index { table, index }],
                        );
                        db.shared.clear_cache();
                    }
                    Ok(None) => {}
                    Err(e) => return Err(self.fail(with_statement(e))),
                }
            }
            Prepared::Drop(spec) if !spec.schema => {
                self.block_lock(&locks::ddl_lock_modes(&db, kind)).await?;
                // A partition dropped alone must hold no row, the block's
                // own uncommitted ones included.
                let alone: Vec<(String, Arc<Table>)> = {
                    let catalog = db.shared.catalog();
                    spec.names
                        .iter()
                        .filter_map(|name| {
                            let parent = catalog.partitions.get(name)?;
                            let table = catalog.tables.get(parent)?;
                            (!spec.names.contains(parent)).then(|| (name.clone(), table.clone()))
                        })
                        .collect()
                };
                for (name, table) in alone {
                    self.refuse_old_snapshot("DROP TABLE of a partition", sql)?;
                    let block = self.block.as_mut().expect("in a block");
                    let held =
                        async {
                            block.tx.sql_start(Op::Scan, None, None).await?;
                            let rows = block
                                .tx
                                .sql_scan(&KeyRange::prefix(&table.indexes[0].prefix))?;
                            let p = table.partitioning.as_ref().expect("a partitioned table");
                            let at = p.partitions.iter().position(|x| x.name == name);
                            Ok::<bool, DbError>(rows.iter().any(|(_, row)| {
                                at.is_some() && p.route(&table.values_of(row)) == at
                            }))
                        }
                        .await;
                    match held {
                        Ok(false) => {}
                        Ok(true) => {
                            let e = expr::unsupported(format!(
                                "DROP TABLE of the partition \"{name}\" holding rows without its partitioned table (statement: {})",
                                sql.trim()
                            ));
                            return Err(self.fail(e));
                        }
                        Err(e) => return Err(self.fail(e)),
                    }
                }
                let dropped = self.block_change(|| ddl::drop_objects(&db, spec))?;
                push(
                    &mut db.shared.catalog(),
                    self.session,
                    dropped.into_iter().map(Undo::ForgetAtCommit).collect(),
                );
            }
            _ => {
                let e = expr::unsupported(format!(
                    "CREATE EXTENSION, CREATE SCHEMA and DROP SCHEMA inside a transaction block (statement: {})",
                    sql.trim()
                ));
                return Err(self.fail(e));
            }
        }
        Ok(Rows::default())
    }

    /// `ALTER TABLE` inside the open block (see `alter::alter_in_block`).
    pub(super) async fn alter_in_block(
        &mut self,
        plan: &super::alter::AlterPlan,
        sql: &str,
    ) -> Result<Rows, DbError> {
        self.refuse_in_failed_block()?;
        if super::alter::reads_rows(plan) {
            self.refuse_old_snapshot("ALTER TABLE that checks or rewrites rows", sql)?;
        }
        let db = self.db.clone();
        let types = db.shared.catalog().types.clone();
        let timeouts = self.timeouts();
        let block = self.block.as_mut().expect("in a block");
        block.tx.set_timeouts(timeouts);
        let done = super::alter::alter_in_block(&db, plan, &types, &mut block.tx).await;
        match done {
            Ok(Some(done)) => self.block_change(|| {
                done();
                Ok(())
            })?,
            Ok(None) => {}
            Err(mut e) => {
                if e.code == SqlState::FeatureNotSupported {
                    e.message = format!("{} (statement: {})", e.message, sql.trim());
                }
                return Err(self.fail(e));
            }
        }
        Ok(Rows::default())
    }

    /// `CREATE / DROP TRIGGER` and `CREATE / DROP FUNCTION` inside the
    /// open block: the trigger's table locked (SHARE ROW EXCLUSIVE to
    /// create, ACCESS EXCLUSIVE to drop) to the end of the block.
    pub(super) async fn routine_ddl_in_block(&mut self, sql: &str) -> Result<Rows, DbError> {
        self.refuse_in_failed_block()?;
        let with_statement = |mut e: DbError| {
            if e.code == SqlState::FeatureNotSupported {
                e.message = format!("{} (statement: {})", e.message, sql.trim());
            }
            e
        };
        let db = self.db.clone();
        if super::plpgsql::is_function_ddl(sql) {
            return self
                .block_change(|| triggers::function_ddl(&db, sql).map_err(with_statement))
                .map(|()| Rows::default());
        }
        let parsed = triggers::parse(sql).map_err(with_statement);
        let ddl = parsed.map_err(|e| self.fail(e))?;
        let (table, mode) = match &ddl {
            triggers::TriggerDdl::Create { table, .. }
            | triggers::TriggerDdl::Enable { table, .. } => {
                (table, TableLockMode::ShareRowExclusive)
            }
            triggers::TriggerDdl::Drop { table, .. } => (table, TableLockMode::AccessExclusive),
        };
        // A partition's triggers are kept with its partitioned table's.
        if !db.shared.catalog().partitions.contains_key(table.as_str()) {
            if let Err(e) = db.shared.table(table) {
                return Err(self.fail(e));
            }
        }
        self.block_lock(&[(table.clone(), mode)]).await?;
        self.block_change(|| triggers::apply(&db, &ddl).map_err(with_statement))
            .map(|()| Rows::default())
    }

    /// `ALTER SEQUENCE` inside the open block: SHARE ROW EXCLUSIVE on the
    /// sequence to the end of the block (so `nextval` elsewhere waits, as
    /// in PostgreSQL), the sequence as it was kept for a rollback.
    pub(super) async fn alter_sequence_in_block(
        &mut self,
        ddl: &super::sequences::SequenceDdl,
        name: &str,
    ) -> Result<Rows, DbError> {
        self.refuse_in_failed_block()?;
        if lock(&self.db.shared.sequences).contains(name) {
            self.block_lock(&[(name.to_string(), TableLockMode::ShareRowExclusive)])
                .await?;
        }
        let db = self.db.clone();
        let session = self.session;
        self.block_change(|| {
            let mut catalog = db.shared.catalog();
            let mut sequences = lock(&db.shared.sequences);
            let before = sequences.get(name);
            let changed = sequences.run_ddl(&catalog, ddl)?;
            push(
                &mut catalog,
                session,
                vec![Undo::Sequence {
                    name: name.to_string(),
                    before,
                }],
            );
            for table in changed {
                catalog.tables.insert(table.name.clone(), Arc::new(table));
            }
            Ok(())
        })
        .map(|()| Rows::default())
    }

    /// Whether `statement` names a table whose entry another session's
    /// open block changed: then it takes its table locks first, waiting
    /// for that block as PostgreSQL's parser waits while it opens the
    /// table, and is planned again against what the block left.
    pub(super) fn waits_for_ddl(&self, statement: &Statement) -> bool {
        let catalog = self.db.shared.catalog();
        others_pending(&catalog, self.session)
            && statement
                .relation_locks
                .iter()
                .any(|(t, _)| touched_by_others(&catalog, self.session, t))
    }

    /// Takes `statement`'s table locks before it is planned again (see
    /// [`SqlSession::waits_for_ddl`]): in the open block (held, as the
    /// statement would hold them), else in a transaction of its own that
    /// lets them go at once.
    pub(super) async fn lock_before_planning(
        &mut self,
        statement: &Statement,
    ) -> Result<(), DbError> {
        let wanted: Vec<(String, TableLockMode)> = statement.relation_locks.to_vec();
        let timeouts = self.timeouts();
        match &mut self.block {
            Some(block) if block.failed => Ok(()),
            Some(_) => self.block_lock(&wanted).await,
            None => self.lock_and_release(&wanted, timeouts).await,
        }
    }

    /// Outside a block: waits until `wanted` can be taken, in a
    /// transaction of its own that lets them go at once.
    pub(super) async fn lock_and_release(
        &self,
        wanted: &[(String, TableLockMode)],
        timeouts: Timeouts,
    ) -> Result<(), DbError> {
        let mut tx = self.db.store().begin(Isolation::ReadCommitted);
        tx.join_session(self.session);
        tx.set_timeouts(timeouts);
        let locked = tx.sql_lock_tables(wanted, false).await;
        tx.rollback();
        locked
    }
}
