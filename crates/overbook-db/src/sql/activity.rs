//! `pg_locks` and `pg_stat_activity` as tables: a copy of a store's
//! [`Activity`] at one moment, for a person looking inside a failure
//! (`overbook replay --inspect`). The transactions it shows are gone
//! by the time anyone reads it (the run that had them ended), so the
//! relations are a picture, not live views: they hold what
//! [`SqlDb::install_activity`] was given and refuse writes.
//!
//! Why tables and not a live system view: what a person asks of a
//! failing step is who held and waited for what *then*; the served
//! database has no open transactions of the run any more. Tables cost
//! the statement path nothing (no name is looked up twice, no store
//! call), and every query the engine runs works on them (joins of
//! `pg_locks` with `pg_stat_activity` on `pid`, filters, `count(*)`).

use super::value::readable_key;
use super::{SqlDb, Value};
use crate::store::activity::{Activity, LockOwner};
use crate::store::{DbError, Isolation, Key};
use std::sync::Arc;

/// The relation `pg_locks`: PostgreSQL's columns where they fit (`relation`
/// is the table's name, not its OID; `pid` the transaction), plus `key`
/// (the locked row as its table and primary key, `bookings (13)`, or an
/// index entry's, `bookings@bookings_room_day (2, 0, 600, 13)`),
/// `store_key` (the store's key, as traces print it) and `row_lock` (a row
/// lock's strength as SQL spells it).
const PG_LOCKS: &str = "CREATE TABLE pg_locks (
    locktype text NOT NULL,
    relation text,
    key text,
    store_key text,
    transactionid bigint,
    virtualtransaction text NOT NULL,
    pid bigint,
    mode text NOT NULL,
    row_lock text,
    granted boolean NOT NULL
)";

/// The relation `pg_stat_activity`: one row per open transaction
/// (`pid` its id, as in `pg_locks`), with PostgreSQL's `state`,
/// `wait_event_type` and `wait_event`, and what the store knows beside:
/// its session, isolation level, snapshot, who it waits for and the keys
/// it wrote and had not committed.
const PG_STAT_ACTIVITY: &str = "CREATE TABLE pg_stat_activity (
    pid bigint NOT NULL,
    backend_xid bigint NOT NULL,
    session bigint,
    state text NOT NULL,
    wait_event_type text,
    wait_event text,
    isolation text NOT NULL,
    read_only boolean NOT NULL,
    doomed boolean NOT NULL,
    snapshot bigint,
    blocked_by text,
    writes text
)";

/// Writes fail as PostgreSQL's do on its own `pg_locks` (a view nothing
/// updates), with why here.
const READ_ONLY: &str = "CREATE FUNCTION overbook_activity_is_read_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'cannot % view \"%\"',
        CASE TG_OP WHEN 'INSERT' THEN 'insert into' WHEN 'UPDATE' THEN 'update' ELSE 'delete from' END,
        TG_TABLE_NAME
        USING ERRCODE = '55000', DETAIL = 'It is a copy of the locks and transactions of the step overbook stopped at.';
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER read_only BEFORE INSERT OR UPDATE OR DELETE ON pg_locks
    FOR EACH STATEMENT EXECUTE FUNCTION overbook_activity_is_read_only();
CREATE TRIGGER read_only BEFORE INSERT OR UPDATE OR DELETE ON pg_stat_activity
    FOR EACH STATEMENT EXECUTE FUNCTION overbook_activity_is_read_only()";

fn text(s: impl AsRef<str>) -> Value {
    Value::Text(Arc::from(s.as_ref()))
}

fn opt_text(s: Option<impl AsRef<str>>) -> Value {
    s.map_or(Value::Null, text)
}

fn opt_int(n: Option<u64>) -> Value {
    n.map_or(Value::Null, |n| Value::Int(n as i64))
}

/// How traces name an owner: `T12`, or `session 3`.
fn owner_name(owner: LockOwner) -> String {
    match owner {
        LockOwner::Tx(tx) => format!("T{tx}"),
        LockOwner::Session(session) => format!("session {session}"),
    }
}

/// The level as PostgreSQL's `transaction_isolation` shows it.
fn isolation_name(isolation: Isolation) -> &'static str {
    match isolation {
        Isolation::ReadCommitted => "read committed",
        Isolation::RepeatableRead => "repeatable read",
        Isolation::Serializable => "serializable",
    }
}

/// A store key with its NULs (the end of a text part) shown as `\0`:
/// PostgreSQL's text holds no NUL.
fn printable(key: &str) -> String {
    key.replace('\u{0}', "\\0")
}

impl SqlDb {
    /// `key` as [`readable_key`] reads it when it is a key of one of the
    /// database's tables (or their indexes), else as stored.
    fn readable_key(&self, key: &Key) -> String {
        let table = key.table();
        let base = table.split('@').next().unwrap_or(table);
        if self.shared.catalog().tables.contains_key(base) {
            readable_key(key.as_str())
        } else {
            printable(key.as_str())
        }
    }

    /// Creates the relations `pg_locks` and `pg_stat_activity` holding
    /// `activity` (see the module docs), read-only. Fails if the database
    /// has tables of those names already.
    pub fn install_activity(&self, activity: &Activity) -> Result<(), DbError> {
        self.install(PG_LOCKS)?;
        self.install(PG_STAT_ACTIVITY)?;
        for lock in &activity.locks {
            let pid = match lock.owner {
                LockOwner::Tx(tx) => Value::Int(tx as i64),
                LockOwner::Session(_) => Value::Null,
            };
            self.load(
                "pg_locks",
                &[
                    text(lock.locktype.name()),
                    opt_text(lock.relation.as_ref()),
                    opt_text(lock.key.as_ref().map(|k| self.readable_key(k))),
                    opt_text(lock.key.as_ref().map(|k| printable(k.as_str()))),
                    opt_int(lock.transactionid),
                    text(owner_name(lock.owner)),
                    pid,
                    text(lock.mode),
                    opt_text(lock.row_lock.map(|m| m.clause())),
                    Value::Bool(lock.granted),
                ],
            )?;
        }
        for open in &activity.transactions {
            let state = if open.failed {
                "idle in transaction (aborted)"
            } else if open.waiting_on.is_some() {
                "active"
            } else {
                "idle in transaction"
            };
            let blocked_by: Vec<String> = open.blocked_by.iter().map(|&o| owner_name(o)).collect();
            let writes: Vec<String> = open.writes.iter().map(|k| self.readable_key(k)).collect();
            self.load(
                "pg_stat_activity",
                &[
                    Value::Int(open.tx as i64),
                    Value::Int(open.tx as i64),
                    opt_int(open.session),
                    text(state),
                    opt_text(open.waiting_on.map(|_| "Lock")),
                    opt_text(open.waiting_on.map(|w| w.name())),
                    text(isolation_name(open.isolation)),
                    Value::Bool(open.read_only),
                    Value::Bool(open.doomed),
                    opt_int(open.snapshot),
                    opt_text((!blocked_by.is_empty()).then(|| blocked_by.join(", "))),
                    opt_text((!writes.is_empty()).then(|| writes.join(", "))),
                ],
            )?;
        }
        self.install(READ_ONLY)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{db_with, ok, rows, sqlstate};
    use super::super::Session;
    use std::future::Future;
    use std::task::{Context, Waker};

    /// One transaction holds a row and another waits for it (T2 and T3:
    /// T1 loaded the rows): the picture stays after both have gone.
    #[test]
    fn pg_locks_and_pg_stat_activity_show_the_moment_they_were_taken() {
        let db = db_with(&[
            "CREATE TABLE slots (id int PRIMARY KEY, taken int NOT NULL)",
            "INSERT INTO slots VALUES (1, 0), (2, 0)",
        ]);
        let mut holder = db.session();
        ok(&mut holder, "BEGIN");
        ok(
            &mut holder,
            "UPDATE slots SET taken = taken + 1 WHERE id = 1",
        );
        let mut waiter = db.session();
        ok(&mut waiter, "BEGIN ISOLATION LEVEL REPEATABLE READ");
        let mut waiting = Box::pin(async move {
            let result = waiter
                .execute("SELECT * FROM slots WHERE id = 1 FOR UPDATE", &[])
                .await;
            (waiter, result)
        });
        assert!(waiting
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_pending());
        let activity = db.store().activity();
        drop(waiting);
        ok(&mut holder, "ROLLBACK");

        let inspected = db.store().fork().map(|store| super::SqlDb::attach(&store));
        let inspected = inspected.expect("no transaction is open");
        inspected.install_activity(&activity).unwrap();
        let mut s = inspected.session();
        assert_eq!(
            rows(&ok(
                &mut s,
                "SELECT locktype, relation, key, virtualtransaction, mode, row_lock, granted \
                 FROM pg_locks WHERE locktype <> 'transactionid'"
            )),
            vec![
                "relation,slots,NULL,T2,RowExclusiveLock,NULL,t",
                "relation,slots,NULL,T3,RowShareLock,NULL,t",
                "tuple,slots,slots (1),T2,ExclusiveLock,FOR NO KEY UPDATE,t",
                "tuple,slots,slots (1),T3,AccessExclusiveLock,FOR UPDATE,f",
            ]
        );
        // Who waits for whom, as one asks PostgreSQL.
        assert_eq!(
            rows(&ok(
                &mut s,
                "SELECT w.pid, h.pid FROM pg_locks w JOIN pg_locks h \
                   ON h.transactionid = w.transactionid AND h.granted \
                 WHERE w.locktype = 'transactionid' AND NOT w.granted"
            )),
            vec!["3,2"]
        );
        assert_eq!(
            rows(&ok(
                &mut s,
                "SELECT pid, state, wait_event_type, wait_event, isolation, blocked_by, writes \
                 FROM pg_stat_activity ORDER BY pid"
            )),
            vec![
                "2,idle in transaction,NULL,NULL,read committed,NULL,slots (1)",
                "3,active,Lock,tuple,repeatable read,T2,NULL",
            ]
        );
        assert_eq!(
            sqlstate(&mut s, "DELETE FROM pg_locks"),
            ("55000", "cannot delete from view \"pg_locks\"".to_string())
        );
        assert_eq!(
            sqlstate(&mut s, "INSERT INTO pg_stat_activity (pid) VALUES (9)").0,
            "55000"
        );
        // As people type it too.
        assert_eq!(
            rows(&ok(
                &mut s,
                "SELECT count(*) FROM pg_catalog.pg_stat_activity"
            )),
            vec!["2"]
        );
        // The data itself is as it was, and writable.
        ok(&mut s, "UPDATE slots SET taken = 5 WHERE id = 2");
        assert_eq!(rows(&ok(&mut s, "SELECT sum(taken) FROM slots")), vec!["5"]);
    }
}
