//! Programs drawn from a seed over a small schema: accounts with a primary
//! key, a secondary index, a unique index and an unindexed column; holds
//! that reference an account (a foreign key) and may not overlap in the
//! same room (an exclusion constraint); and seats, a table without a
//! primary key whose partial unique index allows one active hold per seat.
//! Values come from small domains so that sessions collide often.
//!
//! Adding a construct is a [`Feature`] variant (its name, its weight, the
//! function drawing its statements, in `Gen::statement`) and, when it
//! needs one, a table or index in [`SCHEMA`] (its initial rows in
//! `Gen::initial`, its constraints checked on the final rows in
//! [`super::compare::broken_constraints`]).

use super::{Program, Step};
use crate::seed::{Rng64, Seed};
use crate::sql::begin_sql;
use crate::sql::script::{Setup, Stmt};
use crate::store::Isolation;

/// The generated programs' tables.
pub const SCHEMA: Setup = Setup {
    tables: &["hold", "acct", "seat"],
    ddl: &[
        "CREATE TABLE acct (id integer PRIMARY KEY, name text NOT NULL, grp integer NOT NULL, bal integer NOT NULL)",
        "CREATE INDEX acct_grp ON acct (grp)",
        "CREATE UNIQUE INDEX acct_name ON acct (name)",
        "CREATE TABLE hold (id integer PRIMARY KEY, acct_id integer NOT NULL REFERENCES acct (id) ON UPDATE CASCADE, room integer NOT NULL, span int4range NOT NULL, n integer NOT NULL, EXCLUDE USING gist (room WITH =, span WITH &&))",
        "CREATE INDEX hold_acct ON hold (acct_id)",
        // Hold ids drawn from a sequence start among the drawn ones (4
        // and 5 may collide); owned by hold.id, so PostgreSQL's TRUNCATE
        // ... RESTART IDENTITY between programs starts it over.
        "CREATE SEQUENCE hold_ticket START 4 OWNED BY hold.id",
        // No primary key (PostgreSQL's heap, rows by hidden identity) and
        // the "one active hold per seat" idiom.
        "CREATE TABLE seat (seat integer NOT NULL, acct_id integer NOT NULL, active boolean NOT NULL, ttl interval NOT NULL)",
        "CREATE UNIQUE INDEX seat_one_active ON seat (seat) WHERE active",
    ],
};

/// The tables of [`SCHEMA`] without a primary key: their first column may
/// repeat.
pub const KEYLESS_TABLES: &[&str] = &["seat"];

/// What PostgreSQL needs before [`SCHEMA`] (the exclusion constraint's `=`
/// on an integer in a GiST index).
pub const PG_PRELUDE: &str = "CREATE EXTENSION IF NOT EXISTS btree_gist";

/// A kind of statement the generator may draw. [`Feature::SUPPORTED`] is
/// what the simulated store runs today (every kind, now); `--feature`
/// narrows the draw to the kinds it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// Point reads by primary key and unique key.
    PointRead,
    /// Reads through the secondary index, primary-key ranges and the
    /// exclusion constraint's columns.
    RangeRead,
    /// Reads and aggregates filtered on unindexed columns.
    PredicateRead,
    /// `FOR UPDATE` / `FOR NO KEY UPDATE`, with `NOWAIT` or `SKIP LOCKED`.
    LockingRead,
    /// `FOR SHARE` / `FOR KEY SHARE`.
    SharedLock,
    /// Inserts (which may violate the keys, the exclusion constraint or
    /// the foreign key).
    Insert,
    /// Updates of unindexed and indexed columns.
    Update,
    /// Updates of the primary key (which cascade to the holds that
    /// refer to it: `ON UPDATE CASCADE`), the unique key and the foreign
    /// key.
    KeyUpdate,
    /// Deletes by key and by predicate.
    Delete,
    /// `INSERT ... ON CONFLICT DO UPDATE / DO NOTHING`.
    Upsert,
    /// `SAVEPOINT`, `ROLLBACK TO SAVEPOINT`, `RELEASE SAVEPOINT`.
    Savepoint,
    /// `SET LOCAL lock_timeout`.
    LockTimeout,
    /// Subqueries in WHERE, SET and the select list: scalar, `EXISTS` /
    /// `NOT EXISTS`, `IN`, correlated or not (where write skew hides).
    Subquery,
    /// `WITH` queries: a locking read (`FOR UPDATE [SKIP LOCKED |
    /// NOWAIT]`) feeding a write, and data-modifying parts with
    /// `RETURNING` feeding another write.
    Cte,
    /// `INSERT ... SELECT`, `UPDATE ... FROM`, `DELETE ... USING`.
    WriteFromQuery,
    /// `LEFT JOIN`s with aggregates and `FILTER (WHERE ...)`.
    OuterJoin,
    /// The table without a primary key and its partial unique index: hold
    /// a seat, hold it if free, release, extend (interval arithmetic),
    /// purge.
    Seat,
    /// `LOCK TABLE ... IN <mode> MODE [NOWAIT]`, in all eight modes.
    LockTable,
    /// Advisory locks: session-level ones (released before the
    /// transaction ends, or outliving it when shrinking drops the unlock),
    /// transaction-level ones, shared and `try` forms.
    AdvisoryLock,
    /// `now()` and interval arithmetic, and `gen_random_uuid()`, in shapes
    /// whose results do not depend on the clock or the random value.
    TimeUuid,
    /// The sequence `hold_ticket`: `nextval` alone, as an inserted hold's
    /// id and in an UPDATE's SET, `currval` / `lastval` (55000 in a
    /// session that has not drawn) and `setval`.
    Sequence,
}

impl Feature {
    /// Every feature.
    pub const ALL: [Feature; 21] = [
        Feature::PointRead,
        Feature::RangeRead,
        Feature::PredicateRead,
        Feature::LockingRead,
        Feature::SharedLock,
        Feature::Insert,
        Feature::Update,
        Feature::KeyUpdate,
        Feature::Delete,
        Feature::Upsert,
        Feature::Savepoint,
        Feature::LockTimeout,
        Feature::Subquery,
        Feature::Cte,
        Feature::WriteFromQuery,
        Feature::OuterJoin,
        Feature::Seat,
        Feature::LockTable,
        Feature::AdvisoryLock,
        Feature::TimeUuid,
        Feature::Sequence,
    ];

    /// The features on by default: what the simulated store supports.
    pub const SUPPORTED: [Feature; 21] = Feature::ALL;

    /// The kebab-case name (`locking-read`).
    pub fn name(self) -> &'static str {
        match self {
            Feature::PointRead => "point-read",
            Feature::RangeRead => "range-read",
            Feature::PredicateRead => "predicate-read",
            Feature::LockingRead => "locking-read",
            Feature::SharedLock => "shared-lock",
            Feature::Insert => "insert",
            Feature::Update => "update",
            Feature::KeyUpdate => "key-update",
            Feature::Delete => "delete",
            Feature::Upsert => "upsert",
            Feature::Savepoint => "savepoint",
            Feature::LockTimeout => "lock-timeout",
            Feature::Subquery => "subquery",
            Feature::Cte => "cte",
            Feature::WriteFromQuery => "write-from-query",
            Feature::OuterJoin => "outer-join",
            Feature::Seat => "seat",
            Feature::LockTable => "lock-table",
            Feature::AdvisoryLock => "advisory-lock",
            Feature::TimeUuid => "time-uuid",
            Feature::Sequence => "sequence",
        }
    }

    /// The feature called `name`.
    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == name)
    }

    /// How often a statement of this kind is drawn, relative to the others.
    fn weight(self) -> u32 {
        match self {
            Feature::PointRead => 12,
            Feature::RangeRead => 10,
            Feature::PredicateRead => 8,
            Feature::LockingRead => 12,
            Feature::SharedLock => 6,
            Feature::Insert => 12,
            Feature::Update => 14,
            Feature::KeyUpdate => 6,
            Feature::Delete => 7,
            Feature::Upsert => 8,
            Feature::Savepoint => 5,
            Feature::LockTimeout => 3,
            Feature::Subquery => 10,
            Feature::Cte => 10,
            Feature::WriteFromQuery => 8,
            Feature::OuterJoin => 6,
            Feature::Seat => 10,
            Feature::LockTable => 3,
            Feature::AdvisoryLock => 4,
            Feature::TimeUuid => 3,
            Feature::Sequence => 4,
        }
    }
}

/// Sessions per program.
pub const SESSIONS_MIN: u64 = 2;
/// Sessions per program.
pub const SESSIONS_MAX: u64 = 4;
/// Statements per session between its BEGIN and its COMMIT or ROLLBACK.
pub const BODY_STATEMENTS_MAX: u64 = 4;
/// Account ids are drawn from 1..=ACCT_ID_MAX (the initial rows use 1..=4).
const ACCT_ID_MAX: u64 = 6;
/// Hold ids are drawn from 1..=HOLD_ID_MAX (the initial rows use 1..=3).
const HOLD_ID_MAX: u64 = 5;
const NAMES: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
/// Seats are drawn from 1..=SEAT_MAX.
const SEAT_MAX: u64 = 3;
/// The eight table lock modes.
const TABLE_LOCK_MODES: [&str; 8] = [
    "ACCESS SHARE",
    "ROW SHARE",
    "ROW EXCLUSIVE",
    "SHARE UPDATE EXCLUSIVE",
    "SHARE",
    "SHARE ROW EXCLUSIVE",
    "EXCLUSIVE",
    "ACCESS EXCLUSIVE",
];

/// Program `index` of the family drawn from `seed`: the same seed, index,
/// level and features always give the same program.
pub fn program(seed: Seed, index: u64, level: Isolation, features: &[Feature]) -> Program {
    assert!(!features.is_empty(), "the generator needs a feature");
    let mut rng = seed.stream_indexed("conform-program", index);
    let mut g = Gen {
        rng: &mut rng,
        features,
        advisory_space: 0,
    };
    let initial = g.initial();
    if features.contains(&Feature::AdvisoryLock) {
        // Advisory locks are the database's, not the schema's: programs
        // running at once on one server (one per job) must not share keys,
        // so each draws the first of its two-integer keys from a large
        // space. The same index at another level is another program
        // (the draw does not depend on the level) and may run at the same
        // time: each level takes every third value of the space.
        let level_offset = match level {
            Isolation::ReadCommitted => 0,
            Isolation::RepeatableRead => 1,
            Isolation::Serializable => 2,
        };
        g.advisory_space = 1 + 3 * (g.rng.between(1, i32::MAX as u64 / 3) - 1) + level_offset;
    }
    let sessions = g.rng.between(SESSIONS_MIN, SESSIONS_MAX) as usize;
    let mut queues: Vec<Vec<Stmt>> = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        let mut queue = vec![Stmt::sql(begin_sql(level))];
        let body = g.rng.between(1, BODY_STATEMENTS_MAX) as usize;
        while queue.len() <= body {
            let stmt = g.statement();
            let opens_savepoint = stmt == SAVEPOINT;
            if let Some(unlock) = session_unlock(&stmt) {
                if queue.len() + 2 <= body {
                    // A session-level lock outlives the transaction: one
                    // more statement (not another session lock), then the
                    // unlock, so that the session ends holding nothing.
                    queue.push(Stmt::Sql(stmt));
                    queue.push(Stmt::Sql(g.statement_in_session_lock()));
                    queue.push(Stmt::Sql(unlock));
                } else {
                    // No room for the unlock: the transaction-level form,
                    // released at COMMIT or ROLLBACK.
                    queue.push(Stmt::Sql(
                        stmt.replace("advisory_lock", "advisory_xact_lock"),
                    ));
                }
                continue;
            }
            queue.push(Stmt::Sql(stmt));
            if opens_savepoint && queue.len() + 2 <= body + 1 {
                // One more statement, then the savepoint rolled back to or
                // released (or, when the draw says so, left open until the
                // transaction ends).
                queue.push(Stmt::Sql(g.statement_in_session_lock()));
                let end = g.pick(&[Some(ROLLBACK_TO_SAVEPOINT), Some(RELEASE_SAVEPOINT), None]);
                if let Some(end) = end {
                    queue.push(Stmt::sql(end));
                }
            }
        }
        let end = if g.rng.chance(0.85) {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        queue.push(Stmt::sql(end));
        queues.push(queue);
    }
    let steps = interleave(g.rng, queues);
    Program {
        name: format!("seed {seed} program {index}"),
        level,
        setup: SCHEMA,
        initial,
        sessions,
        steps,
    }
}

/// A uniformly random interleaving of the sessions' queues, each kept in
/// order (a session is drawn with probability proportional to what it has
/// left).
fn interleave(rng: &mut Rng64, queues: Vec<Vec<Stmt>>) -> Vec<Step> {
    let mut left: Vec<std::collections::VecDeque<Stmt>> =
        queues.into_iter().map(Into::into).collect();
    let total: usize = left.iter().map(|q| q.len()).sum();
    let mut steps = Vec::with_capacity(total);
    while steps.len() < total {
        let weights: Vec<u32> = left.iter().map(|q| q.len() as u32).collect();
        let session = rng.weighted(&weights);
        let stmt = left[session]
            .pop_front()
            .expect("a weighted queue is not empty");
        steps.push(Step { session, stmt });
    }
    steps
}

/// The unlock of `stmt` when it takes a session-level advisory lock
/// (`SELECT pg_[try_]advisory_lock[_shared](k1, k2)`).
fn session_unlock(stmt: &str) -> Option<String> {
    if !stmt.starts_with("SELECT pg_") || !stmt.contains("advisory_lock") {
        return None;
    }
    Some(
        stmt.replace("pg_try_", "pg_")
            .replace("advisory_lock", "advisory_unlock"),
    )
}

const SAVEPOINT: &str = "SAVEPOINT sp";
const ROLLBACK_TO_SAVEPOINT: &str = "ROLLBACK TO SAVEPOINT sp";
const RELEASE_SAVEPOINT: &str = "RELEASE SAVEPOINT sp";

struct Gen<'a> {
    rng: &'a mut Rng64,
    features: &'a [Feature],
    /// The first integer of the program's advisory lock keys.
    advisory_space: u64,
}

impl Gen<'_> {
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.below(items.len() as u64) as usize]
    }

    fn acct_id(&mut self) -> u64 {
        // Mostly the initial rows', sometimes one that may not exist yet.
        if self.rng.chance(0.8) {
            self.rng.between(1, 4)
        } else {
            self.rng.between(1, ACCT_ID_MAX)
        }
    }

    fn hold_id(&mut self) -> u64 {
        self.rng.between(1, HOLD_ID_MAX)
    }

    fn grp(&mut self) -> u64 {
        self.rng.between(1, 2)
    }

    fn small(&mut self) -> u64 {
        self.rng.between(0, 9)
    }

    fn name(&mut self) -> &'static str {
        self.pick(&NAMES)
    }

    fn span(&mut self) -> (u64, u64) {
        let lower = self.rng.between(0, 8);
        (lower, lower + self.rng.between(1, 3))
    }

    /// One INSERT per initial row (so shrinking can drop rows one by one):
    /// accounts 1..=4 each with probability 3/4, holds 1..=3 on them,
    /// without overlaps.
    fn initial(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let mut accts = Vec::new();
        for id in 1..=4u64 {
            if self.rng.chance(0.75) {
                let (grp, bal) = (self.grp(), self.small());
                out.push(format!(
                    "INSERT INTO acct VALUES ({id}, '{}', {grp}, {bal})",
                    NAMES[id as usize - 1]
                ));
                accts.push(id);
            }
        }
        let mut spans: Vec<(u64, u64, u64)> = Vec::new();
        for id in 1..=3u64 {
            if accts.is_empty() || !self.rng.chance(0.6) {
                continue;
            }
            let acct = self.pick(&accts);
            let room = self.rng.between(1, 2);
            let (lower, upper) = self.span();
            let n = self.small();
            if spans
                .iter()
                .any(|&(r, l, u)| r == room && l < upper && lower < u)
            {
                continue;
            }
            spans.push((room, lower, upper));
            out.push(format!(
                "INSERT INTO hold VALUES ({id}, {acct}, {room}, '[{lower},{upper})', {n})"
            ));
        }
        if self.features.contains(&Feature::Seat) {
            // Seats 1..=3, one active row at most each, and a released
            // one beside it now and then.
            for seat in 1..=SEAT_MAX {
                if !self.rng.chance(0.6) {
                    continue;
                }
                let (acct, minutes) = (self.rng.between(1, 4), 5 * self.rng.between(1, 3));
                out.push(format!(
                    "INSERT INTO seat VALUES ({seat}, {acct}, true, interval '{minutes} minutes')"
                ));
                if self.rng.chance(0.3) {
                    let acct = self.rng.between(1, 4);
                    out.push(format!(
                        "INSERT INTO seat VALUES ({seat}, {acct}, false, interval '5 minutes')"
                    ));
                }
            }
        }
        out
    }

    /// A statement, with a session-level advisory lock made the
    /// transaction's (it would have no unlock).
    fn statement_in_session_lock(&mut self) -> String {
        let stmt = self.statement();
        if session_unlock(&stmt).is_some() {
            stmt.replace("advisory_lock", "advisory_xact_lock")
        } else {
            stmt
        }
    }

    fn statement(&mut self) -> String {
        let weights: Vec<u32> = self.features.iter().map(|f| f.weight()).collect();
        let feature = self.features[self.rng.weighted(&weights)];
        match feature {
            Feature::PointRead => self.point_read(),
            Feature::RangeRead => self.range_read(),
            Feature::PredicateRead => self.predicate_read(),
            Feature::LockingRead => self.locking_read(&["FOR UPDATE", "FOR NO KEY UPDATE"]),
            Feature::SharedLock => self.locking_read(&["FOR SHARE", "FOR KEY SHARE"]),
            Feature::Insert => self.insert(),
            Feature::Update => self.update(),
            Feature::KeyUpdate => self.key_update(),
            Feature::Delete => self.delete(),
            Feature::Upsert => self.upsert(),
            // What becomes of it is drawn where the session's statements
            // are (`program`), so that ROLLBACK TO and RELEASE always have
            // a savepoint to act on.
            Feature::Savepoint => SAVEPOINT.to_string(),
            Feature::LockTimeout => "SET LOCAL lock_timeout = '1ms'".to_string(),
            Feature::Subquery => self.subquery(),
            Feature::Cte => self.cte(),
            Feature::WriteFromQuery => self.write_from_query(),
            Feature::OuterJoin => self.outer_join(),
            Feature::Seat => self.seat(),
            Feature::LockTable => self.lock_table(),
            Feature::AdvisoryLock => self.advisory_lock(),
            Feature::TimeUuid => self.time_uuid(),
            Feature::Sequence => self.sequence(),
        }
    }

    fn point_read(&mut self) -> String {
        match self.rng.below(3) {
            0 => format!(
                "SELECT id, name, grp, bal FROM acct WHERE id = {}",
                self.acct_id()
            ),
            1 => format!("SELECT id, bal FROM acct WHERE name = '{}'", self.name()),
            _ => format!(
                "SELECT id, acct_id, room, span, n FROM hold WHERE id = {}",
                self.hold_id()
            ),
        }
    }

    fn range_read(&mut self) -> String {
        match self.rng.below(4) {
            0 => format!(
                "SELECT id, bal FROM acct WHERE grp = {} ORDER BY id",
                self.grp()
            ),
            1 => {
                let low = self.acct_id();
                let high = low + self.rng.between(0, 2);
                format!("SELECT id, grp FROM acct WHERE id BETWEEN {low} AND {high} ORDER BY id")
            }
            2 => format!(
                "SELECT id, n FROM hold WHERE acct_id = {} ORDER BY id",
                self.acct_id()
            ),
            _ => {
                let (lower, upper) = self.span();
                format!(
                    "SELECT id FROM hold WHERE room = {} AND span && '[{lower},{upper})' ORDER BY id",
                    self.rng.between(1, 2)
                )
            }
        }
    }

    fn predicate_read(&mut self) -> String {
        match self.rng.below(3) {
            0 => format!(
                "SELECT id, bal FROM acct WHERE bal > {} ORDER BY id",
                self.small()
            ),
            1 => format!(
                "SELECT count(*), sum(bal) FROM acct WHERE grp = {}",
                self.grp()
            ),
            _ => format!("SELECT count(*) FROM hold WHERE n >= {}", self.small()),
        }
    }

    fn locking_read(&mut self, strengths: &[&str]) -> String {
        let strength = self.pick(strengths);
        let wait = self.pick(&["", "", " NOWAIT", " SKIP LOCKED"]);
        match self.rng.below(3) {
            0 => format!(
                "SELECT id, bal FROM acct WHERE id = {} {strength}{wait}",
                self.acct_id()
            ),
            1 => format!(
                "SELECT id, bal FROM acct WHERE grp = {} ORDER BY id {strength}{wait}",
                self.grp()
            ),
            _ => format!(
                "SELECT id, n FROM hold WHERE room = {} ORDER BY id {strength}{wait}",
                self.rng.between(1, 2)
            ),
        }
    }

    fn insert(&mut self) -> String {
        if self.rng.chance(0.5) {
            let id = self.rng.between(1, ACCT_ID_MAX);
            let (name, grp, bal) = (self.name(), self.grp(), self.small());
            format!("INSERT INTO acct VALUES ({id}, '{name}', {grp}, {bal})")
        } else {
            let (id, acct, room) = (self.hold_id(), self.acct_id(), self.rng.between(1, 2));
            let (lower, upper) = self.span();
            let n = self.small();
            format!("INSERT INTO hold VALUES ({id}, {acct}, {room}, '[{lower},{upper})', {n})")
        }
    }

    fn returning(&mut self, columns: &str) -> String {
        if self.rng.chance(0.3) {
            format!(" RETURNING {columns}")
        } else {
            String::new()
        }
    }

    fn update(&mut self) -> String {
        match self.rng.below(5) {
            0 => {
                let (d, id) = (self.rng.between(1, 3), self.acct_id());
                let r = self.returning("id, bal");
                format!("UPDATE acct SET bal = bal + {d} WHERE id = {id}{r}")
            }
            1 => {
                let (v, g) = (self.small(), self.grp());
                let r = self.returning("id");
                format!("UPDATE acct SET bal = {v} WHERE grp = {g}{r}")
            }
            2 => {
                let (g, id) = (self.grp(), self.acct_id());
                format!("UPDATE acct SET grp = {g} WHERE id = {id}")
            }
            3 => {
                let v = self.small();
                let r = self.returning("id, bal");
                format!("UPDATE acct SET bal = bal - 1 WHERE bal > {v}{r}")
            }
            _ => {
                let (lower, upper) = self.span();
                let id = self.hold_id();
                format!("UPDATE hold SET span = '[{lower},{upper})' WHERE id = {id}")
            }
        }
    }

    fn key_update(&mut self) -> String {
        match self.rng.below(3) {
            0 => {
                let (to, from) = (self.rng.between(1, ACCT_ID_MAX), self.acct_id());
                format!("UPDATE acct SET id = {to} WHERE id = {from}")
            }
            1 => {
                let (name, id) = (self.name(), self.acct_id());
                format!("UPDATE acct SET name = '{name}' WHERE id = {id}")
            }
            _ => {
                let (acct, id) = (self.acct_id(), self.hold_id());
                format!("UPDATE hold SET acct_id = {acct} WHERE id = {id}")
            }
        }
    }

    fn delete(&mut self) -> String {
        match self.rng.below(3) {
            0 => format!("DELETE FROM acct WHERE id = {}", self.acct_id()),
            1 => format!("DELETE FROM hold WHERE id = {}", self.hold_id()),
            _ => {
                let (room, v) = (self.rng.between(1, 2), self.small());
                let r = self.returning("id");
                format!("DELETE FROM hold WHERE room = {room} AND n < {v}{r}")
            }
        }
    }

    fn upsert(&mut self) -> String {
        let id = self.acct_id();
        let (name, grp, bal) = (self.name(), self.grp(), self.small());
        if self.rng.chance(0.7) {
            format!(
                "INSERT INTO acct VALUES ({id}, '{name}', {grp}, {bal}) ON CONFLICT (id) DO UPDATE SET bal = acct.bal + excluded.bal RETURNING id, bal"
            )
        } else {
            format!("INSERT INTO acct VALUES ({id}, '{name}', {grp}, {bal}) ON CONFLICT DO NOTHING")
        }
    }

    fn room(&mut self) -> u64 {
        self.rng.between(1, 2)
    }

    fn seat_no(&mut self) -> u64 {
        self.rng.between(1, SEAT_MAX)
    }

    fn subquery(&mut self) -> String {
        match self.rng.below(8) {
            0 => format!(
                "SELECT id, bal FROM acct a WHERE bal > (SELECT avg(bal) FROM acct b WHERE b.grp = a.grp) AND grp = {} ORDER BY id",
                self.grp()
            ),
            1 => format!(
                "SELECT id FROM acct WHERE EXISTS (SELECT 1 FROM hold WHERE hold.acct_id = acct.id AND hold.room = {}) ORDER BY id",
                self.room()
            ),
            2 => format!(
                "SELECT id, name FROM acct WHERE grp = {} AND NOT EXISTS (SELECT 1 FROM hold WHERE hold.acct_id = acct.id) ORDER BY id",
                self.grp()
            ),
            3 => format!(
                "SELECT id, n FROM hold WHERE acct_id IN (SELECT id FROM acct WHERE grp = {}) ORDER BY id",
                self.grp()
            ),
            4 => format!(
                "SELECT id, (SELECT count(*) FROM hold WHERE hold.acct_id = acct.id) FROM acct WHERE grp = {} ORDER BY id",
                self.grp()
            ),
            5 => {
                // The write-skew guard: change a row only while no hold of
                // the room exists (a read another session's insert breaks).
                let (id, room) = (self.acct_id(), self.room());
                format!(
                    "UPDATE acct SET bal = bal + 1 WHERE id = {id} AND NOT EXISTS (SELECT 1 FROM hold WHERE room = {room}) RETURNING id, bal"
                )
            }
            6 => {
                let id = self.acct_id();
                format!(
                    "UPDATE acct SET bal = (SELECT coalesce(sum(n), 0) FROM hold WHERE hold.acct_id = acct.id) WHERE id = {id} RETURNING bal"
                )
            }
            _ => {
                let v = self.small();
                format!(
                    "DELETE FROM hold WHERE acct_id IN (SELECT id FROM acct WHERE bal < {v}) RETURNING id"
                )
            }
        }
    }

    /// `FOR UPDATE`, with `SKIP LOCKED` or `NOWAIT` now and then.
    fn cte_lock(&mut self) -> &'static str {
        self.pick(&[
            "FOR UPDATE",
            "FOR UPDATE",
            "FOR UPDATE SKIP LOCKED",
            "FOR UPDATE NOWAIT",
        ])
    }

    fn cte(&mut self) -> String {
        match self.rng.below(6) {
            0 => {
                let (id, lock) = (self.acct_id(), self.cte_lock());
                format!(
                    "WITH x AS (SELECT id, bal FROM acct WHERE id = {id} {lock}) UPDATE acct SET bal = x.bal + 1 FROM x WHERE acct.id = x.id RETURNING acct.id, acct.bal"
                )
            }
            1 => {
                // The job queue: take the first unlocked hold of a room.
                let room = self.room();
                format!(
                    "WITH x AS (SELECT id FROM hold WHERE room = {room} ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) DELETE FROM hold USING x WHERE hold.id = x.id RETURNING hold.id"
                )
            }
            2 => {
                // The box office: lock the account, count its holds, and
                // insert one while they stay under its balance.
                let (acct, lock, hold, room) =
                    (self.acct_id(), self.cte_lock(), self.hold_id(), self.room());
                let (lower, upper) = self.span();
                let n = self.rng.between(1, 3);
                format!(
                    "WITH e AS (SELECT id, bal FROM acct WHERE id = {acct} {lock}) INSERT INTO hold SELECT {hold}, e.id, {room}, '[{lower},{upper})', {n} FROM e WHERE (SELECT coalesce(sum(n), 0) FROM hold WHERE acct_id = e.id) + {n} <= e.bal RETURNING id"
                )
            }
            3 => {
                let (acct, hold, room) = (self.acct_id(), self.hold_id(), self.room());
                let (lower, upper) = self.span();
                let n = self.rng.between(1, 3);
                format!(
                    "WITH x AS (UPDATE acct SET bal = bal - {n} WHERE id = {acct} AND bal >= {n} RETURNING id) INSERT INTO hold SELECT {hold}, x.id, {room}, '[{lower},{upper})', {n} FROM x RETURNING id, acct_id"
                )
            }
            4 => {
                let hold = self.hold_id();
                format!(
                    "WITH d AS (DELETE FROM hold WHERE id = {hold} RETURNING acct_id, n) UPDATE acct SET bal = acct.bal + d.n FROM d WHERE acct.id = d.acct_id RETURNING acct.id, acct.bal"
                )
            }
            _ => {
                let (g, lock) = (self.grp(), self.cte_lock());
                format!(
                    "WITH x AS (SELECT id FROM acct WHERE grp = {g} ORDER BY id {lock}) SELECT count(*) FROM x"
                )
            }
        }
    }

    fn write_from_query(&mut self) -> String {
        match self.rng.below(6) {
            0 => {
                let (hold, room, acct) = (self.hold_id(), self.room(), self.acct_id());
                let (lower, upper) = self.span();
                format!(
                    "INSERT INTO hold (id, acct_id, room, span, n) SELECT {hold}, id, {room}, '[{lower},{upper})', bal FROM acct WHERE id = {acct} RETURNING id, n"
                )
            }
            1 => {
                // Insert unless the room is taken there: the check and the
                // insert in one statement (the exclusion constraint still
                // decides between concurrent ones).
                let (hold, acct, room) = (self.hold_id(), self.acct_id(), self.room());
                let (lower, upper) = self.span();
                format!(
                    "INSERT INTO hold SELECT {hold}, {acct}, {room}, '[{lower},{upper})', 1 WHERE NOT EXISTS (SELECT 1 FROM hold WHERE room = {room} AND span && '[{lower},{upper})')"
                )
            }
            2 => {
                let hold = self.hold_id();
                format!(
                    "UPDATE acct SET bal = acct.bal + hold.n FROM hold WHERE hold.acct_id = acct.id AND hold.id = {hold} RETURNING acct.id, acct.bal"
                )
            }
            3 => {
                let g = self.grp();
                format!(
                    "UPDATE hold SET n = acct.bal FROM acct WHERE acct.id = hold.acct_id AND acct.grp = {g} RETURNING hold.id, hold.n"
                )
            }
            4 => {
                let g = self.grp();
                format!(
                    "DELETE FROM hold USING acct WHERE acct.id = hold.acct_id AND acct.grp = {g} RETURNING hold.id"
                )
            }
            _ => {
                let v = self.small();
                format!("DELETE FROM seat USING acct WHERE acct.id = seat.acct_id AND acct.bal < {v} AND NOT seat.active RETURNING seat.seat")
            }
        }
    }

    fn outer_join(&mut self) -> String {
        match self.rng.below(4) {
            0 => format!(
                "SELECT a.id, count(h.id), count(h.id) FILTER (WHERE h.room = 1), coalesce(sum(h.n), 0) FROM acct a LEFT JOIN hold h ON h.acct_id = a.id WHERE a.grp = {} GROUP BY a.id ORDER BY a.id",
                self.grp()
            ),
            1 => format!(
                "SELECT a.id, h.id FROM acct a LEFT JOIN hold h ON h.acct_id = a.id AND h.room = {} ORDER BY a.id, h.id",
                self.room()
            ),
            2 => format!(
                "SELECT h.room, count(*) FILTER (WHERE a.bal > {}), bool_or(a.grp = 1) FROM hold h LEFT JOIN acct a ON a.id = h.acct_id GROUP BY h.room ORDER BY h.room",
                self.small()
            ),
            _ => format!(
                "SELECT a.id, count(s.seat) FILTER (WHERE s.active), count(s.seat) FROM acct a LEFT JOIN seat s ON s.acct_id = a.id WHERE a.grp = {} GROUP BY a.id ORDER BY a.id",
                self.grp()
            ),
        }
    }

    fn seat(&mut self) -> String {
        let (seat, acct) = (self.seat_no(), self.acct_id());
        match self.rng.below(7) {
            // Hold: the partial unique index decides (23505, or a wait on
            // an uncommitted holder).
            0 => format!("INSERT INTO seat VALUES ({seat}, {acct}, true, interval '10 minutes')"),
            // Hold if free: the check is a read another session's hold
            // does not show until it commits.
            1 => format!(
                "INSERT INTO seat SELECT {seat}, {acct}, true, interval '10 minutes' WHERE NOT EXISTS (SELECT 1 FROM seat WHERE seat = {seat} AND active)"
            ),
            // Release: an UPDATE of a row found by its hidden identity.
            2 => format!(
                "UPDATE seat SET active = false WHERE seat = {seat} AND active RETURNING acct_id"
            ),
            3 => {
                let minutes = 5 * self.rng.between(1, 2);
                format!(
                    "UPDATE seat SET ttl = ttl + interval '{minutes} minutes' WHERE seat = {seat} AND active RETURNING ttl"
                )
            }
            4 => format!("SELECT seat, acct_id, ttl FROM seat WHERE seat = {seat} AND active"),
            5 => "SELECT seat, acct_id, active FROM seat ORDER BY seat, active, acct_id".into(),
            _ => format!("DELETE FROM seat WHERE seat = {seat} AND NOT active"),
        }
    }

    fn lock_table(&mut self) -> String {
        let table = self.pick(&["acct", "hold", "seat"]);
        let mode = self.pick(&TABLE_LOCK_MODES);
        let nowait = self.pick(&["", "", " NOWAIT"]);
        format!("LOCK TABLE {table} IN {mode} MODE{nowait}")
    }

    fn advisory_lock(&mut self) -> String {
        // Session-level forms: `program` pairs each with its unlock (or,
        // without room, makes it the transaction-level form).
        let function = self.pick(&[
            "pg_advisory_lock",
            "pg_advisory_lock",
            "pg_advisory_lock_shared",
            "pg_try_advisory_lock",
        ]);
        let key = self.rng.between(1, 2);
        format!("SELECT {function}({}, {key})", self.advisory_space)
    }

    fn time_uuid(&mut self) -> String {
        match self.rng.below(4) {
            0 => {
                let minutes = 5 * self.rng.between(1, 3);
                format!(
                    "SELECT seat, ttl FROM seat WHERE now() + ttl > now() + interval '{minutes} minutes' ORDER BY seat, ttl"
                )
            }
            1 => format!(
                "SELECT count(*) FROM acct WHERE transaction_timestamp() - interval '{} hours' < now() AND grp = {}",
                self.rng.between(1, 3),
                self.grp()
            ),
            2 => format!(
                "SELECT id, (now() + interval '1 day') - now() FROM acct WHERE id = {}",
                self.acct_id()
            ),
            _ => format!(
                "SELECT count(DISTINCT u), bool_and(u IS NOT NULL) FROM (SELECT gen_random_uuid() AS u FROM acct WHERE grp = {}) x",
                self.grp()
            ),
        }
    }

    fn sequence(&mut self) -> String {
        match self.rng.below(5) {
            0 => "SELECT nextval('hold_ticket')".to_string(),
            1 => {
                let (acct, room) = (self.acct_id(), self.rng.between(1, 2));
                let (lower, upper) = self.span();
                let n = self.small();
                let r = self.returning("id");
                format!("INSERT INTO hold VALUES (nextval('hold_ticket'), {acct}, {room}, '[{lower},{upper})', {n}){r}")
            }
            2 => format!(
                "UPDATE acct SET bal = bal + nextval('hold_ticket') WHERE id = {} RETURNING bal",
                self.acct_id()
            ),
            3 => "SELECT currval('hold_ticket'), lastval()".to_string(),
            _ => format!("SELECT setval('hold_ticket', {})", self.rng.between(3, 6)),
        }
    }
}
