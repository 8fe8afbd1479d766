//! Comparing a program's two runs and classifying the difference.

use super::run::{EngineRun, Outcome, StepRun};
use super::Program;
use crate::history::AnomalyKind;
use crate::store::Isolation;
use serde::Serialize;
use std::collections::BTreeSet;

/// What a program's two runs amount to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Every step and every table the same.
    Agree,
    /// The store rejected a statement as not supported (0A000): not
    /// compared.
    Unsupported,
    /// The store committed or returned what PostgreSQL's level forbids:
    /// rows PostgreSQL did not return, final rows it did not leave, a
    /// broken constraint, or a committed history the level does not allow.
    Unsound,
    /// The store aborted or waited where PostgreSQL went on.
    Stricter,
    /// PostgreSQL aborted or waited where the store went on, and the
    /// store's history is still allowed at the level.
    Looser,
    /// Another error code, or waiting steps completing at another point.
    Different,
}

impl Class {
    /// Every class, in report order.
    pub const ALL: [Class; 6] = [
        Class::Agree,
        Class::Unsupported,
        Class::Unsound,
        Class::Stricter,
        Class::Looser,
        Class::Different,
    ];

    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Class::Agree => "agree",
            Class::Unsupported => "unsupported",
            Class::Unsound => "unsound",
            Class::Stricter => "stricter",
            Class::Looser => "looser",
            Class::Different => "different",
        }
    }
}

/// A program's class, the step where the runs first differ, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The class.
    pub class: Class,
    /// The program step where the runs first differ, if a step does.
    pub step: Option<usize>,
    /// What differs, in a sentence.
    pub why: String,
}

impl Verdict {
    fn new(class: Class, step: Option<usize>, why: impl Into<String>) -> Verdict {
        Verdict {
            class,
            step,
            why: why.into(),
        }
    }
}

/// Whether PostgreSQL's `level` rules out a committed history whose
/// weakest anomaly is `kind`. No level shows dirty writes, aborted or
/// intermediate reads, or circular information flow (G0, G1); only
/// Serializable rules out the anti-dependency cycles. Repeatable Read is
/// not held to snapshot isolation's "no G-single" here: PostgreSQL lets a
/// transaction insert a key that a concurrent one deleted and committed
/// (a ww edge closing a cycle with one rw edge), and the store does the
/// same, so the steps' comparison judges that level instead.
pub fn level_forbids(level: Isolation, kind: AnomalyKind) -> bool {
    match level {
        Isolation::Serializable => true,
        Isolation::RepeatableRead | Isolation::ReadCommitted => matches!(
            kind,
            AnomalyKind::G0
                | AnomalyKind::G1a
                | AnomalyKind::G1b
                | AnomalyKind::G1c
                | AnomalyKind::Inconsistent
        ),
    }
}

/// Constraints the final rows break: in every table the primary key (the
/// first column) is unique (the generated schema's keyless tables aside);
/// in the generated schema also the unique name, the exclusion
/// constraint, the foreign key and one active hold per seat.
pub fn broken_constraints(program: &Program, run: &EngineRun) -> Vec<String> {
    let mut out = Vec::new();
    let generated = program.setup == super::generate::SCHEMA;
    let table = |name: &str| -> Option<&Vec<Vec<String>>> {
        let at = program.setup.tables.iter().position(|t| *t == name)?;
        run.tables.get(at)?.as_ref().ok()
    };
    for (name, rows) in program.setup.tables.iter().zip(&run.tables) {
        let Ok(rows) = rows else { continue };
        if generated && super::generate::KEYLESS_TABLES.contains(name) {
            continue;
        }
        let mut seen = BTreeSet::new();
        for row in rows {
            if !seen.insert(row.first()) {
                out.push(format!("{name}: primary key {:?} twice", row.first()));
            }
        }
    }
    if !generated {
        return out;
    }
    if let Some(seats) = table("seat") {
        // The partial unique index: one active row per seat.
        let mut active = BTreeSet::new();
        for row in seats.iter().filter(|r| r[2] == "t" || r[2] == "true") {
            if !active.insert(&row[0]) {
                out.push(format!("seat {}: two active holds", row[0]));
            }
        }
    }
    if let Some(accts) = table("acct") {
        let mut names = BTreeSet::new();
        for row in accts {
            if !names.insert(&row[1]) {
                out.push(format!("acct: name {} twice", row[1]));
            }
        }
        if let Some(holds) = table("hold") {
            let ids: BTreeSet<&String> = accts.iter().map(|r| &r[0]).collect();
            for (i, h) in holds.iter().enumerate() {
                if !ids.contains(&h[1]) {
                    out.push(format!("hold {}: acct {} does not exist", h[0], h[1]));
                }
                for other in &holds[i + 1..] {
                    if h[2] == other[2] && overlap(&h[3], &other[3]) {
                        out.push(format!(
                            "hold {} and {}: room {} spans {} and {} overlap",
                            h[0], other[0], h[2], h[3], other[3]
                        ));
                    }
                }
            }
        }
    }
    out
}

/// Whether two `[a,b)` ranges in PostgreSQL's text form overlap.
fn overlap(a: &str, b: &str) -> bool {
    let bounds = |s: &str| -> Option<(i64, i64)> {
        let inner = s.strip_prefix('[')?.strip_suffix(')')?;
        let (l, u) = inner.split_once(',')?;
        Some((l.parse().ok()?, u.parse().ok()?))
    };
    match (bounds(a), bounds(b)) {
        (Some((l1, u1)), Some((l2, u2))) => l1 < u2 && l2 < u1,
        _ => false,
    }
}

/// Classifies a program from its run on the store and on PostgreSQL.
pub fn classify(program: &Program, store: &EngineRun, pg: &EngineRun) -> Verdict {
    if let Some(p) = store
        .order
        .iter()
        .copied()
        .find(|&p| store.steps[p].outcome.code() == Some("0A000"))
    {
        return Verdict::new(
            Class::Unsupported,
            Some(p),
            format!("the store does not support: {}", store.steps[p].message),
        );
    }
    if let Some(history) = &store.history {
        if let Err(anomaly) = crate::history::check(history) {
            if level_forbids(program.level, anomaly.kind) {
                return Verdict::new(
                    Class::Unsound,
                    None,
                    format!(
                        "the store committed a history {} forbids: {anomaly}",
                        program.level
                    ),
                );
            }
        }
    }
    if let Some(broken) = broken_constraints(program, store).into_iter().next() {
        return Verdict::new(
            Class::Unsound,
            None,
            format!("the store's final rows break a constraint: {broken}"),
        );
    }
    // The first difference is the earliest point where the runs part: a
    // step's own result shows at its issue, but two waits show only when
    // the first of them ends (a wait ending at another point is usually
    // the consequence of a difference in the step it ended in, so at the
    // same point a step's own difference comes first).
    let position = |p: usize| {
        let found = store.order.iter().position(|&q| q == p);
        found
            .or_else(|| pg.order.iter().position(|&q| q == p))
            .unwrap_or(usize::MAX)
    };
    let mut first: Option<((usize, u8, usize), Verdict)> = None;
    for p in 0..program.steps.len() {
        let (s, g) = (&store.steps[p], &pg.steps[p]);
        let Some(verdict) = compare_step(program, p, s, g) else {
            continue;
        };
        let key = if s.waited && g.waited {
            let ends = |c: Option<usize>| c.map_or(usize::MAX, position);
            (
                ends(s.completed_after).min(ends(g.completed_after)),
                1,
                position(p),
            )
        } else {
            (position(p), 0, position(p))
        };
        if first.as_ref().is_none_or(|(k, _)| key < *k) {
            first = Some((key, verdict));
        }
    }
    if let Some((_, verdict)) = first {
        return verdict;
    }
    for (i, table) in program.setup.tables.iter().enumerate() {
        if store.tables[i] != pg.tables[i] {
            return Verdict::new(
                Class::Unsound,
                None,
                format!(
                    "every step agreed but table {table} ends differently: store {:?}, PostgreSQL {:?}",
                    store.tables[i], pg.tables[i]
                ),
            );
        }
    }
    Verdict::new(Class::Agree, None, "")
}

fn compare_step(program: &Program, p: usize, s: &StepRun, g: &StepRun) -> Option<Verdict> {
    let what = |side: &StepRun| {
        let waited = if side.waited { "waits, then " } else { "" };
        format!("{waited}{}", side.outcome.describe())
    };
    let at = format!(
        "step {} (s{}): store {}; PostgreSQL {}",
        p + 1,
        program.steps[p].session + 1,
        what(s),
        what(g)
    );
    step_verdict(p, at, skips_locked(program, p), s, g)
}

/// The class of step `p` from its run on the store (`s`) and on
/// PostgreSQL (`g`), `at` naming it in the verdict; `skips_locked`: the
/// step is a `SKIP LOCKED` read. Shared with `pgspecs`.
pub(crate) fn step_verdict(
    p: usize,
    at: String,
    skips_locked: bool,
    s: &StepRun,
    g: &StepRun,
) -> Option<Verdict> {
    use Outcome::*;
    let verdict = |class| Some(Verdict::new(class, Some(p), at.clone()));
    let finished = |o: &Outcome| matches!(o, Done { .. } | Error(_));
    match (&s.outcome, &g.outcome) {
        (a, b) if !finished(a) || !finished(b) => {
            if a == b {
                None
            } else if !finished(a) {
                verdict(Class::Stricter)
            } else {
                verdict(Class::Looser)
            }
        }
        _ if s.waited && !g.waited => verdict(Class::Stricter),
        _ if !s.waited && g.waited => verdict(Class::Looser),
        (Error(_), Done { .. }) => verdict(Class::Stricter),
        (Done { .. }, Error(_)) => verdict(Class::Looser),
        (Error(a), Error(b)) if a != b => verdict(Class::Different),
        // Two waits that end at different points saw different commits:
        // the order, not the rows, is the first difference.
        _ if s.completed_after != g.completed_after => verdict(Class::Different),
        (Done { rows: a, .. }, Done { rows: b, .. })
            if a != b && skips_locked && a.iter().all(|r| b.contains(r)) =>
        {
            // SKIP LOCKED passed over rows the store had locked and
            // PostgreSQL had not (its locks are stronger, not wrong).
            verdict(Class::Stricter)
        }
        (a, b) if a != b => verdict(Class::Unsound),
        _ => None,
    }
}

fn skips_locked(program: &Program, p: usize) -> bool {
    match &program.steps[p].stmt {
        crate::sql::script::Stmt::Sql(sql) => sql.contains("SKIP LOCKED"),
        crate::sql::script::Stmt::WritePlus(..) => false,
    }
}
