//! Programs drawn from a seed over a small schema: accounts with a primary
//! key, a secondary index, a unique index and an unindexed column, and
//! holds that reference an account (a foreign key) and may not overlap in
//! the same room (an exclusion constraint). Values come from small domains
//! so that sessions collide often.

use super::{Program, Step};
use crate::seed::{Rng64, Seed};
use crate::sql::begin_sql;
use crate::sql::script::{Setup, Stmt};
use crate::store::Isolation;

/// The generated programs' tables.
pub const SCHEMA: Setup = Setup {
    tables: &["hold", "acct"],
    ddl: &[
        "CREATE TABLE acct (id integer PRIMARY KEY, name text NOT NULL, grp integer NOT NULL, bal integer NOT NULL)",
        "CREATE INDEX acct_grp ON acct (grp)",
        "CREATE UNIQUE INDEX acct_name ON acct (name)",
        "CREATE TABLE hold (id integer PRIMARY KEY, acct_id integer NOT NULL REFERENCES acct (id), room integer NOT NULL, span int4range NOT NULL, n integer NOT NULL, EXCLUDE USING gist (room WITH =, span WITH &&))",
        "CREATE INDEX hold_acct ON hold (acct_id)",
    ],
};

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
    /// Updates of the primary key, the unique key and the foreign key.
    KeyUpdate,
    /// Deletes by key and by predicate.
    Delete,
    /// `INSERT ... ON CONFLICT DO UPDATE / DO NOTHING`.
    Upsert,
    /// `SAVEPOINT`, `ROLLBACK TO SAVEPOINT`, `RELEASE SAVEPOINT`.
    Savepoint,
    /// `SET LOCAL lock_timeout`.
    LockTimeout,
}

impl Feature {
    /// Every feature.
    pub const ALL: [Feature; 12] = [
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
    ];

    /// The features on by default: what the simulated store supports.
    pub const SUPPORTED: [Feature; 12] = [
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
    ];

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

/// Program `index` of the family drawn from `seed`: the same seed, index,
/// level and features always give the same program.
pub fn program(seed: Seed, index: u64, level: Isolation, features: &[Feature]) -> Program {
    assert!(!features.is_empty(), "the generator needs a feature");
    let mut rng = seed.stream_indexed("conform-program", index);
    let mut g = Gen {
        rng: &mut rng,
        features,
    };
    let initial = g.initial();
    let sessions = g.rng.between(SESSIONS_MIN, SESSIONS_MAX) as usize;
    let mut queues: Vec<Vec<Stmt>> = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        let mut queue = vec![Stmt::sql(begin_sql(level))];
        let body = g.rng.between(1, BODY_STATEMENTS_MAX) as usize;
        while queue.len() <= body {
            let stmt = g.statement();
            let opens_savepoint = stmt == SAVEPOINT;
            queue.push(Stmt::Sql(stmt));
            if opens_savepoint && queue.len() + 2 <= body + 1 {
                // One more statement, then the savepoint rolled back to or
                // released (or, when the draw says so, left open until the
                // transaction ends).
                queue.push(Stmt::Sql(g.statement()));
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

const SAVEPOINT: &str = "SAVEPOINT sp";
const ROLLBACK_TO_SAVEPOINT: &str = "ROLLBACK TO SAVEPOINT sp";
const RELEASE_SAVEPOINT: &str = "RELEASE SAVEPOINT sp";

struct Gen<'a> {
    rng: &'a mut Rng64,
    features: &'a [Feature],
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
        out
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
}
