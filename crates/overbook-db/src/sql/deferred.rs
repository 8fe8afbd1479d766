//! Deferred constraints: `DEFERRABLE [INITIALLY DEFERRED | INITIALLY
//! IMMEDIATE]` foreign keys and `SET CONSTRAINTS`.
//!
//! PostgreSQL checks a foreign key through AFTER ROW triggers whose
//! events are queued per transaction (trigger.c). A deferred
//! constraint's events stay queued to the end of the transaction: COMMIT
//! fires them before it commits (a failing check fails the commit with
//! 23503 and rolls back), and `SET CONSTRAINTS ... IMMEDIATE` fires the
//! pending events of the constraints it makes immediate, there and then.
//! Only the checks are deferred: the child's "parent exists" check (which
//! then locks the parent row FOR KEY SHARE at commit) and the parent's
//! `NO ACTION` check of the rows still referring to a deleted or re-keyed
//! parent. `RESTRICT`, `CASCADE`, `SET NULL` and `SET DEFAULT` accept
//! `DEFERRABLE` but always act at the end of the statement, as in
//! PostgreSQL (their triggers are created NOT DEFERRABLE).
//!
//! A child-side event is skipped when its row is gone or no longer has
//! the key it was queued with (PostgreSQL's RI_FKey_check skips a row
//! version that is no longer live; the update that changed the key
//! queued an event of its own).
//!
//! `ROLLBACK TO SAVEPOINT` puts back the pending events and the `SET
//! CONSTRAINTS` modes as they were at the savepoint (PostgreSQL un-marks
//! the events a rolled-back subtransaction fired, discards those it
//! queued and restores the modes).
//!
//! Deferrable unique and primary keys are not here: PostgreSQL keeps two
//! live index entries with one key until the recheck, which the store's
//! one-entry-per-key layout cannot hold, so they are refused with 0A000.

use super::catalog::{Catalog, ForeignKey};
use super::exec::{Bound, Exec};
use super::expr::unsupported;
use super::funcs::Ctx;
use super::referential::Event;
use super::value::{err, Value};
use super::{SqlDb, SqlState};
use crate::store::{DbError, Key, Op, SessionId, Tx};
use sqlparser::ast;

/// `DEFERRABLE` and `INITIALLY DEFERRED` as declared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Deferrability {
    pub(crate) deferrable: bool,
    pub(crate) initially_deferred: bool,
}

/// Reads a constraint's characteristics as PostgreSQL 15 does:
/// `INITIALLY DEFERRED` alone implies `DEFERRABLE`, and `NOT DEFERRABLE
/// INITIALLY DEFERRED` is 42601. (`[NOT] ENFORCED` is PostgreSQL 18's.)
pub(crate) fn deferrability(
    characteristics: &Option<ast::ConstraintCharacteristics>,
) -> Result<Deferrability, DbError> {
    let Some(c) = characteristics else {
        return Ok(Deferrability::default());
    };
    if c.enforced.is_some() {
        return Err(err(
            SqlState::SyntaxError,
            "syntax error at or near \"ENFORCED\"",
        ));
    }
    let initially_deferred = c.initially == Some(ast::DeferrableInitial::Deferred);
    if initially_deferred && c.deferrable == Some(false) {
        return Err(err(
            SqlState::SyntaxError,
            "constraint declared INITIALLY DEFERRED must be DEFERRABLE",
        ));
    }
    Ok(Deferrability {
        deferrable: c.deferrable.unwrap_or(initially_deferred),
        initially_deferred,
    })
}

/// A unique or primary key constraint's characteristics: only the
/// immediate kind is supported (see the module docs).
pub(crate) fn unique_deferrability(
    characteristics: &Option<ast::ConstraintCharacteristics>,
) -> Result<(), DbError> {
    if deferrability(characteristics)?.deferrable {
        return Err(unsupported("DEFERRABLE unique constraints"));
    }
    Ok(())
}

/// A check queued until its constraint is immediate (at the latest, the
/// commit).
#[derive(Clone, Debug)]
pub(crate) enum Pending {
    /// The child row at `key` of `table`, written with `values`, needs a
    /// parent for foreign key `fk`.
    Child {
        table: String,
        fk: String,
        key: Key,
        values: Vec<Value>,
    },
    /// A parent row deleted or re-keyed (`event`) may leave rows of
    /// `child` referring to it through `fk` (`NO ACTION`).
    Parent {
        child: String,
        fk: String,
        event: Event,
    },
}

impl Pending {
    /// The constraint it checks: the child table and the key's name.
    fn constraint(&self) -> (&str, &str) {
        match self {
            Pending::Child { table, fk, .. } => (table, fk),
            Pending::Parent { child, fk, .. } => (child, fk),
        }
    }
}

/// A transaction's deferred-constraint state: `SET CONSTRAINTS` modes and
/// the queued checks.
#[derive(Clone, Debug, Default)]
pub(crate) struct Deferred {
    /// `SET CONSTRAINTS ALL DEFERRED` (true) or `IMMEDIATE` (false); None:
    /// each constraint as declared.
    all: Option<bool>,
    /// Modes set by name since (child table, constraint name).
    named: Vec<((String, String), bool)>,
    /// Checks not yet run, in the order they were queued.
    pub(crate) pending: Vec<Pending>,
}

/// `SET CONSTRAINTS ALL | name [, ...] DEFERRED | IMMEDIATE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SetConstraints {
    /// The names as written (folded); None: ALL.
    pub(crate) names: Option<Vec<String>>,
    pub(crate) deferred: bool,
}

impl Deferred {
    /// Whether `fk` of `table` is deferred now.
    pub(crate) fn is_deferred(&self, table: &str, fk: &ForeignKey) -> bool {
        if !fk.deferrable {
            return false;
        }
        if let Some((_, mode)) = self
            .named
            .iter()
            .rev()
            .find(|((t, n), _)| t == table && *n == fk.name)
        {
            return *mode;
        }
        self.all.unwrap_or(fk.initially_deferred)
    }

    /// Applies `SET CONSTRAINTS` after resolving its names in `catalog`:
    /// an unknown name is 42704, a constraint that is not a deferrable
    /// foreign key 42809.
    pub(crate) fn set(&mut self, catalog: &Catalog, set: &SetConstraints) -> Result<(), DbError> {
        let Some(names) = &set.names else {
            self.all = Some(set.deferred);
            self.named.clear();
            return Ok(());
        };
        let mut found = Vec::new();
        for name in names {
            let (schema, bare) = match name.rsplit_once('.') {
                Some((s, n)) => (Some(s), n),
                None => (None, name.as_str()),
            };
            if let Some(s) = schema.filter(|s| *s != "public" && !catalog.schemas.contains(*s)) {
                return Err(err(
                    SqlState::Other("3F000"),
                    format!("schema \"{s}\" does not exist"),
                ));
            }
            let mut any = false;
            for (table_name, table) in &catalog.tables {
                let in_schema = match (schema, table_name.rsplit_once('.')) {
                    (None, _) => true,
                    (Some(s), Some((ts, _))) => s == ts,
                    (Some(s), None) => s == "public",
                };
                if !in_schema {
                    continue;
                }
                let other = table.indexes.iter().any(|i| i.constraint && i.name == bare)
                    || table.checks.iter().any(|c| c.name == bare)
                    || table.exclusion.as_ref().is_some_and(|x| x.name == bare);
                if other {
                    return Err(not_deferrable(bare));
                }
                for fk in table.foreign_keys.iter().filter(|fk| fk.name == bare) {
                    if !fk.deferrable {
                        return Err(not_deferrable(bare));
                    }
                    any = true;
                    found.push((table_name.clone(), fk.name.clone()));
                }
            }
            if !any {
                return Err(err(
                    SqlState::Other("42704"),
                    format!("constraint \"{bare}\" does not exist"),
                ));
            }
        }
        self.named
            .extend(found.into_iter().map(|key| (key, set.deferred)));
        Ok(())
    }

    /// Takes out the pending checks whose constraint is immediate now
    /// (all of them at commit), in the order they were queued.
    pub(crate) fn take_due(&mut self, catalog: &Catalog, commit: bool) -> Vec<Pending> {
        let (due, kept) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| {
                if commit {
                    return true;
                }
                let (table, name) = p.constraint();
                let fk = catalog
                    .tables
                    .get(table)
                    .and_then(|t| t.foreign_keys.iter().find(|f| f.name == name));
                // A constraint dropped since (outside this transaction's
                // DDL, which the engine refuses in a block) checks nothing.
                fk.is_none_or(|fk| !self.is_deferred(table, fk))
            });
        self.pending = kept;
        due
    }
}

fn not_deferrable(name: &str) -> DbError {
    err(
        SqlState::Other("42809"),
        format!("constraint \"{name}\" is not deferrable"),
    )
}

/// Runs the pending checks that are due: all of them at `commit`, else
/// those whose constraint `SET CONSTRAINTS` has just made immediate. They
/// run as one statement of `tx` (a fresh snapshot at Read Committed, as
/// each RI query of PostgreSQL takes), in the order they were queued; the
/// first failure fails the transaction.
pub(crate) async fn fire_due(
    db: &SqlDb,
    session: SessionId,
    tx: &mut Tx,
    deferred: &mut Deferred,
    commit: bool,
) -> Result<(), DbError> {
    if deferred.pending.is_empty() {
        // Most transactions defer nothing: not even the catalog's lock.
        return Ok(());
    }
    let due = deferred.take_due(&db.shared.catalog(), commit);
    if due.is_empty() {
        // Most transactions defer nothing: no statement, no pause point.
        return Ok(());
    }
    let result = fire(db, session, tx, deferred, due).await;
    result.map_err(|e| tx.sql_fail(e))
}

async fn fire(
    db: &SqlDb,
    session: SessionId,
    tx: &mut Tx,
    deferred: &mut Deferred,
    due: Vec<Pending>,
) -> Result<(), DbError> {
    tx.sql_start(Op::GetForUpdate, None, None).await?;
    let mut ctx = Ctx::new(&db.store, &db.shared, tx.sql_time_ms());
    ctx.session = Some(session);
    ctx.reader = Some(tx.sql_reader());
    let mut exec = Exec {
        tx,
        params: Bound {
            values: &[],
            ctx: &ctx,
        },
        db: &db.shared,
        ri_events: Vec::new(),
        deferred,
        trigger_events: Vec::new(),
    };
    for pending in due {
        match pending {
            Pending::Child {
                table,
                fk,
                key,
                values,
            } => {
                let table = db.shared.table(&table)?;
                let Some(fk) = table.foreign_keys.iter().find(|f| f.name == fk) else {
                    continue;
                };
                // The row version that queued the check must still be
                // live with the key it was queued with.
                let Some(row) = exec.tx.sql_get(&key)? else {
                    continue;
                };
                let now = table.values_of(&row);
                if fk.columns.iter().any(|&c| now[c] != values[c]) {
                    continue;
                }
                let new_key: Vec<Value> = fk.columns.iter().map(|&c| values[c].clone()).collect();
                exec.check_parent(&table, fk, &new_key).await?;
            }
            Pending::Parent { child, fk, event } => {
                exec.check_deferred_parent(&child, &fk, &event).await?;
            }
        }
    }
    Ok(())
}
