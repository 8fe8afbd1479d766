//! Finding spec files, and checking each on the store and on PostgreSQL
//! permutation by permutation.

use super::report::{Example, Report, SpecReport, EXAMPLES_PER_SPEC};
use super::run::{run_permutation, PermRun, SpecBackend};
use super::spec::{self, Spec, SpecError};
use super::{compare, render};
use crate::conform::Class;
use crate::postgres::PgBackend;
use crate::sql::script::SimBackend;
use crate::sql::scripts::{self, Script};
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
    let mut plan = spec.plan();
    let mut report = SpecReport::new(&spec.name, plan.len());
    if plan.len() > PERMUTATIONS_MAX {
        report.notes.push(format!(
            "only the first {PERMUTATIONS_MAX} of {} permutations run",
            plan.len()
        ));
        plan.truncate(PERMUTATIONS_MAX);
    }
    let transcript = transcript_of(file, spec);
    // A transcript's recorded 0A000 or 42601 is PostgreSQL's own answer,
    // so the store's giving it too is no sign of a statement it rejects.
    let recorded_rejection = transcript.as_ref().is_some_and(|script| {
        scripts::expected_lines(script)
            .iter()
            .any(|line| line.ends_with("error 0A000") || line.ends_with("error 42601"))
    });
    let Some(runs) = run_on_store(spec, &plan, !recorded_rejection, &mut report).await else {
        return report;
    };
    match &transcript {
        Some(script) => compare_transcript_on_store(script, &mut report).await,
        None => compare_with_expected(file, spec, &plan, &runs, &mut report),
    }
    if let Some(url) = pg {
        compare_on_postgres(url, spec, &plan, &runs, transcript.as_ref(), &mut report).await;
    }
    report
}

/// Every permutation of `plan` on the store; `None` when the store could
/// not start or (with `reject`) rejected a statement: the spec is not run
/// further.
async fn run_on_store(
    spec: &Spec,
    plan: &[Vec<spec::Planned>],
    reject: bool,
    report: &mut SpecReport,
) -> Option<Vec<PermRun>> {
    let mut store = SpecBackend::new(SimBackend::with_deadlock_timeout_ms(
        STORE_DEADLOCK_TIMEOUT_MS,
    ));
    let mut runs = Vec::with_capacity(plan.len());
    for perm in plan {
        let run = match run_permutation(&mut store, spec, perm, None, false).await {
            Ok(run) => run,
            Err(e) => {
                report
                    .notes
                    .push(format!("the store could not start: {}", e.message));
                return None;
            }
        };
        if let Some(e) = run.rejected().filter(|_| reject) {
            report.rejected = Some(reason(&e.message));
            report.rejected_statement = Some(e.message.clone());
            return None;
        }
        if let Some(why) = &run.timed_out {
            report
                .notes
                .push(format!("store, permutation {}: {why}", names(spec, perm)));
        }
        runs.push(run);
    }
    Some(runs)
}

/// The store's text against the expected files, permutation by
/// permutation (any alternative file may match).
fn compare_with_expected(
    file: &SpecFile,
    spec: &Spec,
    plan: &[Vec<spec::Planned>],
    runs: &[PermRun],
    report: &mut SpecReport,
) {
    let expected: Vec<Vec<String>> = file
        .expected
        .iter()
        .map(|t| render::split_expected(t))
        .collect();
    if expected.is_empty() {
        return;
    }
    for (i, (perm, run)) in plan.iter().zip(runs).enumerate() {
        let text = render::normalise(&render::permutation(spec, perm, run));
        report.out_compared += 1;
        if expected.iter().any(|e| e.get(i) == Some(&text)) {
            report.out_matching += 1;
        }
    }
}

/// The spec as one of overbook's transcripts, when its `.out` is one
/// (see [`crate::sql::scripts`]).
fn transcript_of(file: &SpecFile, spec: &Spec) -> Option<Script> {
    let out = file
        .expected
        .first()
        .filter(|t| scripts::is_transcript(t))?;
    Script::from_spec(spec, String::new(), out).ok()
}

/// Where `got` first differs from the transcript `script` recorded, in
/// a line; `None` when they are the same.
fn transcript_difference(script: &Script, got: &[String]) -> Option<String> {
    let want = scripts::expected_lines(script);
    if got == want.as_slice() {
        return None;
    }
    let at = got.iter().zip(&want).take_while(|(g, w)| g == w).count();
    let line = |lines: &[String]| lines.get(at).cloned().unwrap_or_else(|| "(nothing)".into());
    Some(format!(
        "line {}: got {:?}, recorded {:?}",
        at + 1,
        line(got),
        line(&want)
    ))
}

/// The transcript run as `crate::sql::scripts` runs it on the store,
/// against the recorded one: the one `.out` comparison of a transcript.
async fn compare_transcript_on_store(script: &Script, report: &mut SpecReport) {
    report.out_compared += 1;
    match scripts::run_script(&mut SimBackend::default(), script).await {
        Ok(got) => match transcript_difference(script, &got) {
            None => report.out_matching += 1,
            Some(why) => report
                .notes
                .push(format!("store transcript differs: {why}")),
        },
        Err(e) => report
            .notes
            .push(format!("store transcript: setup failed: {}", e.message)),
    }
}

/// The spec's permutations on a database of their own on the server of
/// `url`, each compared with the store's run; then, for a transcript, the
/// transcript again on the server.
async fn compare_on_postgres(
    url: &str,
    spec: &Spec,
    plan: &[Vec<spec::Planned>],
    runs: &[PermRun],
    transcript: Option<&Script>,
    report: &mut SpecReport,
) {
    static DATABASES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = DATABASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let db = format!("overbook_pgspecs_{}_{n}", std::process::id());
    let admin = match crate::postgres::PgSession::connect(url).await {
        Ok(a) => a,
        Err(e) => {
            report
                .notes
                .push(format!("PostgreSQL: cannot connect: {}", e.message));
            return;
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
        return;
    }
    let db_url = database_url(url, &db);
    compare_permutations(&db_url, spec, plan, runs, report).await;
    if let Some(script) = transcript {
        let got = scripts::run_script(&mut PgBackend::new(&db_url), script).await;
        let same = match got {
            Ok(got) => match transcript_difference(script, &got) {
                None => true,
                Some(why) => {
                    report
                        .notes
                        .push(format!("PostgreSQL transcript differs: {why}"));
                    false
                }
            },
            Err(e) => {
                report.notes.push(format!(
                    "PostgreSQL transcript: setup failed: {}",
                    e.message
                ));
                false
            }
        };
        report.transcript_on_postgres = Some(same);
    }
    let drop = format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)");
    if let Err(e) = admin.client().batch_execute(&drop).await {
        report.notes.push(format!(
            "PostgreSQL: could not drop database {db}: {}",
            crate::postgres::db_error(&e).message
        ));
    }
}

/// Each permutation on the server at `db_url`, classified against the
/// store's run of it; the first one that cannot run there ends them.
async fn compare_permutations(
    db_url: &str,
    spec: &Spec,
    plan: &[Vec<spec::Planned>],
    runs: &[PermRun],
    report: &mut SpecReport,
) {
    let mut backend = SpecBackend::new(PgBackend::plain(db_url));
    for (perm, store_run) in plan.iter().zip(runs) {
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
        record_verdict(spec, perm, store_run, &pg_run, report);
    }
}

/// Classifies one permutation's two runs into `report`, keeping it as an
/// example when it disagrees (every unsound one, a few of the others).
fn record_verdict(
    spec: &Spec,
    perm: &[spec::Planned],
    store_run: &PermRun,
    pg_run: &PermRun,
    report: &mut SpecReport,
) {
    let step_names: Vec<String> = perm
        .iter()
        .map(|p| spec.step(p.session, p.step).name.clone())
        .collect();
    let sqls: Vec<String> = perm
        .iter()
        .map(|p| spec.step(p.session, p.step).sql.clone())
        .collect();
    let verdict = compare::classify(&step_names, &sqls, store_run, pg_run);
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
            postgres: step_lines(spec, perm, pg_run),
        });
    }
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
                notes: vec![format!("the check itself failed: {e}")],
                ..SpecReport::new(&spec.name, 0)
            })
        })
        .collect();
    Report {
        specs,
        compared: pg.is_some(),
    }
}
