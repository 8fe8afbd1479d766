//! A permutation's two runs compared step by step, in `conform`'s classes
//! ([`crate::conform::Class`]) and by its rules: rows PostgreSQL did not
//! return or final tables it did not leave are unsound; an abort or a wait
//! only one engine has is stricter (the store's) or looser (PostgreSQL's);
//! another error code, or a wait ending at another step, is different.

use super::run::PermRun;
use crate::conform::run::StepRun;
use crate::conform::{Class, Verdict};

fn verdict(class: Class, step: Option<usize>, why: impl Into<String>) -> Verdict {
    Verdict {
        class,
        step,
        why: why.into(),
    }
}

/// How a step ended on one engine, in a few words.
pub fn describe(step: &StepRun) -> String {
    let waited = if step.waited { "waits, then " } else { "" };
    format!("{waited}{}", step.outcome.describe())
}

/// Compares step `p` (named `name`) of the two runs.
fn compare_step(name: &str, sql: &str, p: usize, s: &StepRun, g: &StepRun) -> Option<Verdict> {
    let at = format!(
        "step {name}: store {}; PostgreSQL {}",
        describe(s),
        describe(g)
    );
    let skips_locked = sql.to_ascii_uppercase().contains("SKIP LOCKED");
    crate::conform::compare::step_verdict(p, at, skips_locked, s, g)
}

/// Classifies a permutation from its run on the store and on PostgreSQL.
/// `names` and `sqls` give each position's step name and SQL.
pub fn classify(names: &[String], sqls: &[String], store: &PermRun, pg: &PermRun) -> Verdict {
    if let Some(e) = store.rejected() {
        return verdict(
            Class::Unsupported,
            None,
            format!("the store does not support: {}", e.message),
        );
    }
    match (&store.setup_error, &pg.setup_error) {
        (None, None) => {}
        (Some((w, e)), None) => {
            return verdict(
                Class::Stricter,
                None,
                format!(
                    "{w} fails on the store only: {} ({})",
                    e.message,
                    e.code.code()
                ),
            )
        }
        (None, Some((w, e))) => {
            return verdict(
                Class::Looser,
                None,
                format!(
                    "{w} fails on PostgreSQL only: {} ({})",
                    e.message,
                    e.code.code()
                ),
            )
        }
        (Some((_, a)), Some((_, b))) if a.code != b.code => {
            return verdict(
                Class::Different,
                None,
                format!(
                    "setup fails with {} on the store, {} on PostgreSQL",
                    a.code.code(),
                    b.code.code()
                ),
            )
        }
        (Some(_), Some(_)) => return verdict(Class::Agree, None, ""),
    }
    // The first difference, as conform orders them: a step's own result
    // at its position; two waits at the earlier of their ends.
    let mut first: Option<((usize, u8, usize), Verdict)> = None;
    for p in 0..store.steps.len().min(pg.steps.len()) {
        let (s, g) = (&store.steps[p], &pg.steps[p]);
        let Some(v) = compare_step(&names[p], &sqls[p], p, s, g) else {
            continue;
        };
        let key = if s.waited && g.waited {
            let ends = |c: Option<usize>| c.unwrap_or(usize::MAX);
            (ends(s.completed_after).min(ends(g.completed_after)), 1, p)
        } else {
            (p, 0, p)
        };
        if first.as_ref().is_none_or(|(k, _)| key < *k) {
            first = Some((key, v));
        }
    }
    if let Some((_, v)) = first {
        return v;
    }
    for (name, rows) in &store.tables {
        let theirs = pg.tables.iter().find(|(n, _)| n == name).map(|(_, r)| r);
        match theirs {
            Some(r) if r == rows => {}
            Some(r) => {
                return verdict(
                    Class::Unsound,
                    None,
                    format!(
                        "every step agreed but table {name} ends differently: store {rows:?}, PostgreSQL {r:?}"
                    ),
                )
            }
            None => {}
        }
    }
    verdict(Class::Agree, None, "")
}
