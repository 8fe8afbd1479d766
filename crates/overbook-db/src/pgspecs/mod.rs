//! PostgreSQL's isolation suite as a yardstick: `overbook pgspecs` runs
//! isolationtester spec files verbatim on the simulated store and, with a
//! PostgreSQL to compare with, on a real server, permutation by
//! permutation.
//!
//! - [`spec`] parses a spec (PostgreSQL 14's grammar) and lists its
//!   permutations: the listed ones, or every interleaving.
//! - [`run`] runs one permutation on one engine as isolationtester does,
//!   through [`crate::sql::script::Runner`]: the global setup, each
//!   session's setup, the steps (a step sent as one query holding any
//!   number of statements; a step blocked when the engine says so, on
//!   PostgreSQL through `pg_isolation_test_session_is_blocked`; a step for
//!   a session still waiting sent once that session's step completes),
//!   the wait for what still runs, the teardowns.
//! - [`compare`] classifies a permutation's two runs in `conform`'s
//!   classes; a spec the store cannot run (a statement rejected with 0A000
//!   or not parsed) is rejected, with the first such statement's reason,
//!   and not run on PostgreSQL.
//! - [`render`] prints the store's run as isolationtester would, to
//!   compare with the spec's expected `.out` files.
//!
//! On PostgreSQL each spec runs in a database of its own (created with a
//! unique name and dropped afterwards), on connections left as the server
//! gives them: a spec's `SET deadlock_timeout` is the only one. The store
//! checks for deadlocks after PostgreSQL's default second, on the
//! simulated clock the Runner moves as PostgreSQL's real one moves.

pub mod compare;
pub mod render;
pub mod run;
pub mod spec;
pub mod split;

pub use spec::{Spec, SpecError};

use crate::conform::{Class, Verdict};
use crate::postgres::PgBackend;
use crate::sql::script::SimBackend;
use run::{run_permutation, PermRun, SpecBackend};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The store's `deadlock_timeout`: PostgreSQL's default.
pub const STORE_DEADLOCK_TIMEOUT_MS: u64 = 1000;
/// Most permutations of one spec run (isolationtester has no bound; a
/// spec without permutation lines and many steps has millions).
pub const PERMUTATIONS_MAX: usize = 2000;
/// Longest a permutation may take on PostgreSQL before it is abandoned
/// (and reported).
pub const PERMUTATION_TIMEOUT_MS: u64 = 60_000;

/// A spec file found in the folder, with its expected outputs.
#[derive(Clone, Debug)]
pub struct SpecFile {
    /// The `.spec` file.
    pub path: PathBuf,
    /// The texts of `NAME.out`, `NAME_1.out`, ... that exist.
    pub expected: Vec<String>,
}

/// The spec files of `dir`: `dir/specs/*.spec` with `dir/expected/*.out`
/// (PostgreSQL's `src/test/isolation` layout), or `dir/*.spec` with their
/// `.out` files beside them or in `dir/expected`; sorted by name. `only`
/// keeps the named specs (without `.spec`).
pub fn find_specs(dir: &Path, only: &[String]) -> Result<Vec<SpecFile>, String> {
    if !dir.is_dir() {
        return Err(format!("{}: no such folder", dir.display()));
    }
    let spec_dir = if dir.join("specs").is_dir() {
        dir.join("specs")
    } else {
        dir.to_path_buf()
    };
    let expected_dirs = [dir.join("expected"), spec_dir.clone()];
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&spec_dir)
        .map_err(|e| format!("{}: {e}", spec_dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "spec"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(format!(
            "{}: no .spec files (nor in {}/specs)",
            dir.display(),
            dir.display()
        ));
    }
    let stem = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().to_string());
    for name in only {
        if !paths.iter().any(|p| stem(p).as_deref() == Some(name)) {
            return Err(format!("{name}: no {name}.spec in {}", spec_dir.display()));
        }
    }
    let mut out = Vec::new();
    for path in paths {
        let name = stem(&path).unwrap_or_default();
        if !only.is_empty() && !only.contains(&name) {
            continue;
        }
        let mut expected = Vec::new();
        for d in &expected_dirs {
            let mut names = vec![format!("{name}.out")];
            names.extend((1..10).map(|i| format!("{name}_{i}.out")));
            for n in names {
                if let Ok(text) = std::fs::read_to_string(d.join(n)) {
                    expected.push(text);
                }
            }
            if !expected.is_empty() {
                break;
            }
        }
        out.push(SpecFile { path, expected });
    }
    Ok(out)
}

/// A disagreement, with both engines' step outcomes.
#[derive(Clone, Debug, Serialize)]
pub struct Example {
    /// The spec.
    pub spec: String,
    /// The permutation's steps.
    pub permutation: String,
    /// The class and the first difference.
    pub verdict: Verdict,
    /// Per step: `name: outcome` on the store.
    pub store: Vec<String>,
    /// Per step on PostgreSQL.
    pub postgres: Vec<String>,
}

/// What became of one spec.
#[derive(Clone, Debug, Serialize)]
pub struct SpecReport {
    /// The spec's name.
    pub name: String,
    /// Its permutations (all of them, also those not run).
    pub permutations: usize,
    /// The first statement the store rejected (0A000, or not parsed), as
    /// the store words it: the spec was not run on PostgreSQL.
    pub rejected: Option<String>,
    /// That statement's full message.
    pub rejected_statement: Option<String>,
    /// Permutations per class, when compared with PostgreSQL.
    pub classes: BTreeMap<String, usize>,
    /// Permutations of the store's run whose text matches one of the
    /// expected `.out` files, and how many were compared.
    pub out_matching: usize,
    /// See `out_matching`.
    pub out_compared: usize,
    /// Up to a few disagreements.
    pub examples: Vec<Example>,
    /// Permutations cut short or not compared, and why.
    pub notes: Vec<String>,
}

/// The whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Per spec, by name.
    pub specs: Vec<SpecReport>,
    /// Whether PostgreSQL was compared with.
    pub compared: bool,
}

/// Examples kept per spec.
const EXAMPLES_PER_SPEC: usize = 3;

impl Report {
    /// Specs run with every statement accepted.
    pub fn accepted(&self) -> usize {
        self.specs.iter().filter(|s| s.rejected.is_none()).count()
    }

    /// Permutations per class over every spec.
    pub fn classes(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for s in &self.specs {
            for (class, n) in &s.classes {
                *out.entry(class.clone()).or_default() += n;
            }
        }
        out
    }

    /// Permutations compared with PostgreSQL.
    pub fn compared_permutations(&self) -> usize {
        self.classes().values().sum()
    }

    /// Permutations in a class.
    pub fn count(&self, class: Class) -> usize {
        self.classes().get(class.name()).copied().unwrap_or(0)
    }

    /// The rejected specs grouped by reason, most common first (then by
    /// reason).
    pub fn rejected_by_reason(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in &self.specs {
            if let Some(reason) = &s.rejected {
                groups
                    .entry(reason.clone())
                    .or_default()
                    .push(s.name.clone());
            }
        }
        let mut out: Vec<(String, Vec<String>)> = groups.into_iter().collect();
        out.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        out
    }

    /// Whether any permutation is unsound.
    pub fn unsound(&self) -> bool {
        self.count(Class::Unsound) > 0
    }

    /// The report as text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for s in &self.specs {
            let mut line = format!("{}: {} permutations", s.name, s.permutations);
            if let Some(reason) = &s.rejected {
                line.push_str(&format!(": rejected: {reason}"));
            } else if !s.classes.is_empty() {
                let parts: Vec<String> =
                    s.classes.iter().map(|(c, n)| format!("{c} {n}")).collect();
                line.push_str(&format!(": {}", parts.join(", ")));
            }
            if s.out_compared > 0 {
                line.push_str(&format!(" (.out {}/{})", s.out_matching, s.out_compared));
            }
            out.push_str(&line);
            out.push('\n');
            for note in &s.notes {
                out.push_str(&format!("  note: {note}\n"));
            }
        }
        out.push('\n');
        out.push_str(&self.summary());
        let rejected = self.rejected_by_reason();
        if !rejected.is_empty() {
            out.push_str("\nrejected specs by reason (the first statement the store rejects):\n");
            for (reason, specs) in &rejected {
                out.push_str(&format!(
                    "  {:>3}  {reason}: {}\n",
                    specs.len(),
                    specs.join(", ")
                ));
            }
        }
        let mut examples: Vec<&Example> = self.specs.iter().flat_map(|s| &s.examples).collect();
        examples.sort_by_key(|e| e.verdict.class != Class::Unsound);
        if !examples.is_empty() {
            out.push_str("\ndisagreements (first few):\n");
            for e in examples.iter().take(8) {
                out.push_str(&format!(
                    "  {} [{}]: {}: {}\n    store:      {}\n    PostgreSQL: {}\n",
                    e.spec,
                    e.permutation,
                    e.verdict.class.name(),
                    e.verdict.why,
                    e.store.join("; "),
                    e.postgres.join("; ")
                ));
            }
        }
        out
    }

    /// The totals in a few lines.
    pub fn summary(&self) -> String {
        let total = self.specs.len();
        let accepted = self.accepted();
        let perms: usize = self
            .specs
            .iter()
            .filter(|s| s.rejected.is_none())
            .map(|s| s.permutations)
            .sum();
        let mut out = format!(
            "{accepted} of {total} specs run with every statement accepted ({perms} permutations); {} rejected\n",
            total - accepted
        );
        if self.compared {
            let compared = self.compared_permutations();
            let agree = self.count(Class::Agree);
            let pct = if compared == 0 {
                100.0
            } else {
                100.0 * agree as f64 / compared as f64
            };
            let others: Vec<String> = [
                Class::Unsound,
                Class::Stricter,
                Class::Looser,
                Class::Different,
            ]
            .iter()
            .map(|c| format!("{} {}", c.name(), self.count(*c)))
            .collect();
            out.push_str(&format!(
                "{compared} permutations compared with PostgreSQL: agree {agree} ({pct:.1}%), {}\n",
                others.join(", ")
            ));
        }
        let (m, c): (usize, usize) = self
            .specs
            .iter()
            .fold((0, 0), |(m, c), s| (m + s.out_matching, c + s.out_compared));
        if c > 0 {
            out.push_str(&format!(
                "{m} of {c} permutations of the store print PostgreSQL 14's expected output (.out) exactly\n"
            ));
        }
        out
    }

    /// The README subsection's list: totals, then each rejected spec and
    /// its reason, in Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        for line in self.summary().lines() {
            out.push_str(&format!("- {line}\n"));
        }
        out.push_str("\n| rejected spec | the first statement the store rejects |\n|---|---|\n");
        for s in &self.specs {
            if let Some(reason) = &s.rejected {
                out.push_str(&format!(
                    "| {} | {} |\n",
                    s.name,
                    reason.replace('|', "\\|")
                ));
            }
        }
        out
    }
}

/// The reason of a rejection: the store's message without the statement.
pub fn reason(message: &str) -> String {
    message
        .split(" (statement: ")
        .next()
        .unwrap_or(message)
        .to_string()
}

/// The URL of database `name` on the server of `url`
/// (`postgresql://user@host:port/db?options`).
pub fn database_url(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    format!("{}/{name}{query}", &base[..host_end])
}

fn step_lines(spec: &Spec, perm: &[spec::Planned], run: &PermRun) -> Vec<String> {
    perm.iter()
        .zip(&run.steps)
        .map(|(p, s)| {
            let after = match s.completed_after {
                Some(c) if s.waited => format!(
                    " (completed after {})",
                    spec.step(perm[c].session, perm[c].step).name
                ),
                _ => String::new(),
            };
            format!(
                "{}: {}{after}",
                spec.step(p.session, p.step).name,
                compare::describe(s)
            )
        })
        .collect()
}

/// Runs `file`'s spec on the store and, with `pg` (a server URL), on a
/// database of its own there, comparing each permutation.
pub async fn check_spec(file: &SpecFile, spec: &Spec, pg: Option<&str>) -> SpecReport {
    let plan = spec.plan();
    let mut report = SpecReport {
        name: spec.name.clone(),
        permutations: plan.len(),
        rejected: None,
        rejected_statement: None,
        classes: BTreeMap::new(),
        out_matching: 0,
        out_compared: 0,
        examples: Vec::new(),
        notes: Vec::new(),
    };
    let plan: Vec<_> = if plan.len() > PERMUTATIONS_MAX {
        report.notes.push(format!(
            "only the first {PERMUTATIONS_MAX} of {} permutations run",
            plan.len()
        ));
        plan.into_iter().take(PERMUTATIONS_MAX).collect()
    } else {
        plan
    };
    let mut store = SpecBackend::new(SimBackend::with_deadlock_timeout_ms(
        STORE_DEADLOCK_TIMEOUT_MS,
    ));
    let mut runs = Vec::with_capacity(plan.len());
    for perm in &plan {
        let run = match run_permutation(&mut store, spec, perm, None, false).await {
            Ok(run) => run,
            Err(e) => {
                report
                    .notes
                    .push(format!("the store could not start: {}", e.message));
                return report;
            }
        };
        if let Some(e) = run.rejected() {
            report.rejected = Some(reason(&e.message));
            report.rejected_statement = Some(e.message.clone());
            return report;
        }
        if let Some(why) = &run.timed_out {
            report
                .notes
                .push(format!("store, permutation {}: {why}", names(spec, perm)));
        }
        runs.push(run);
    }
    // The store's text against the expected files, permutation by
    // permutation (any alternative file may match).
    let expected: Vec<Vec<String>> = file
        .expected
        .iter()
        .map(|t| render::split_expected(t))
        .collect();
    if !expected.is_empty() {
        for (i, (perm, run)) in plan.iter().zip(&runs).enumerate() {
            let text = render::normalise(&render::permutation(spec, perm, run));
            report.out_compared += 1;
            if expected.iter().any(|e| e.get(i) == Some(&text)) {
                report.out_matching += 1;
            }
        }
    }
    let Some(url) = pg else { return report };
    static DATABASES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = DATABASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let db = format!("overbook_pgspecs_{}_{n}", std::process::id());
    let admin = match crate::postgres::PgSession::connect(url).await {
        Ok(a) => a,
        Err(e) => {
            report
                .notes
                .push(format!("PostgreSQL: cannot connect: {}", e.message));
            return report;
        }
    };
    if let Err(e) = admin
        .client()
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
    {
        report.notes.push(format!(
            "PostgreSQL: cannot create database {db}: {}",
            crate::postgres::db_error(&e).message
        ));
        return report;
    }
    {
        let mut backend = SpecBackend::new(PgBackend::plain(&database_url(url, &db)));
        for (perm, store_run) in plan.iter().zip(&runs) {
            let tables: Vec<String> = store_run.tables.iter().map(|(n, _)| n.clone()).collect();
            let pg_run = tokio::time::timeout(
                std::time::Duration::from_millis(PERMUTATION_TIMEOUT_MS),
                run_permutation(&mut backend, spec, perm, Some(&tables), true),
            )
            .await;
            let pg_run = match pg_run {
                Ok(Ok(run)) => run,
                Ok(Err(e)) => {
                    report.notes.push(format!(
                        "PostgreSQL, permutation {}: not compared: {}",
                        names(spec, perm),
                        e.message
                    ));
                    break;
                }
                Err(_) => {
                    report.notes.push(format!(
                        "PostgreSQL, permutation {}: not compared: still running after {} s; the spec's other permutations were not run",
                        names(spec, perm),
                        PERMUTATION_TIMEOUT_MS / 1000
                    ));
                    break;
                }
            };
            if let Some(why) = &pg_run.timed_out {
                report.notes.push(format!(
                    "PostgreSQL, permutation {}: {why}",
                    names(spec, perm)
                ));
            }
            let step_names: Vec<String> = perm
                .iter()
                .map(|p| spec.step(p.session, p.step).name.clone())
                .collect();
            let sqls: Vec<String> = perm
                .iter()
                .map(|p| spec.step(p.session, p.step).sql.clone())
                .collect();
            let verdict = compare::classify(&step_names, &sqls, store_run, &pg_run);
            *report
                .classes
                .entry(verdict.class.name().to_string())
                .or_default() += 1;
            if verdict.class != Class::Agree
                && (report.examples.len() < EXAMPLES_PER_SPEC || verdict.class == Class::Unsound)
            {
                report.examples.push(Example {
                    spec: spec.name.clone(),
                    permutation: names(spec, perm),
                    verdict,
                    store: step_lines(spec, perm, store_run),
                    postgres: step_lines(spec, perm, &pg_run),
                });
            }
        }
    }
    let drop = format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)");
    if let Err(e) = admin.client().batch_execute(&drop).await {
        report.notes.push(format!(
            "PostgreSQL: could not drop database {db}: {}",
            crate::postgres::db_error(&e).message
        ));
    }
    report
}

fn names(spec: &Spec, perm: &[spec::Planned]) -> String {
    perm.iter()
        .map(|p| spec.step(p.session, p.step).name.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses every file (the first that does not parse is the error).
pub fn parse_all(files: &[SpecFile]) -> Result<Vec<Spec>, SpecError> {
    files
        .iter()
        .map(|f| {
            let name = f.path.display().to_string();
            let text = std::fs::read_to_string(&f.path).map_err(|e| SpecError {
                file: name.clone(),
                line: 0,
                message: format!("cannot read: {e}"),
            })?;
            Spec::parse(&name, &text)
        })
        .collect()
}

/// Checks every spec, `jobs` at once (each spec's PostgreSQL side waits
/// on the server most of the time), on the current thread.
pub async fn check_all(
    files: &[SpecFile],
    specs: &[Spec],
    pg: Option<&str>,
    jobs: usize,
) -> Report {
    let local = tokio::task::LocalSet::new();
    let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut handles = Vec::with_capacity(specs.len());
    for (file, spec) in files.iter().zip(specs) {
        let (file, spec, pg) = (file.clone(), spec.clone(), pg.map(str::to_string));
        let semaphore = semaphore.clone();
        handles.push(local.spawn_local(async move {
            let _permit = semaphore.acquire().await;
            check_spec(&file, &spec, pg.as_deref()).await
        }));
    }
    let reports = local
        .run_until(async {
            let mut out = Vec::with_capacity(handles.len());
            for h in handles {
                out.push(h.await);
            }
            out
        })
        .await;
    let specs = reports
        .into_iter()
        .zip(specs)
        .map(|(r, spec)| {
            r.unwrap_or_else(|e| SpecReport {
                name: spec.name.clone(),
                permutations: 0,
                rejected: None,
                rejected_statement: None,
                classes: BTreeMap::new(),
                out_matching: 0,
                out_compared: 0,
                examples: Vec::new(),
                notes: vec![format!("the check itself failed: {e}")],
            })
        })
        .collect();
    Report {
        specs,
        compared: pg.is_some(),
    }
}

#[cfg(test)]
mod tests;
