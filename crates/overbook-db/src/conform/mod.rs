//! The differential checker: the same multi-session SQL programs on the
//! simulated store and on a real PostgreSQL, step by step, in the manner of
//! PostgreSQL's isolationtester, with every disagreement classified and
//! shrunk to a script psql can run.
//!
//! A [`Program`] is a setup (tables), initial rows, and a schedule of
//! steps, each a statement for one session. The programs are the anomaly
//! suite ([`crate::sql::anomaly`]) and programs drawn from a seed over a
//! small schema ([`generate`]). [`run::run_program`] runs one on one engine:
//! a step whose session still waits on a lock is deferred and the others go
//! on; a statement blocked on PostgreSQL is recognised the way
//! isolationtester recognises it (see `crate::postgres::PgBackend`).
//! [`compare::classify`] compares the runs (each step's outcome, rows,
//! whether it waited and after which step it finished, then the final
//! tables) and checks the store's committed history with
//! [`crate::history`]. [`Checker::shrink`] removes steps, sessions and
//! initial rows while the class stays the same, and [`render::psql`]
//! prints what is left.
//!
//! The programs of a seed are the same on every machine; PostgreSQL's
//! side depends on its timing only where isolationtester's does (a
//! deadlock's victim is the statement that closed the cycle when the
//! server's `deadlock_timeout` is short, as the backend sets it).
//!
//! [`conform`] runs several programs at once, one per backend, since each
//! spends its time waiting on the server rather than computing. Programs
//! in different schemas share no rows or locks, but they share the
//! cluster's transaction-id horizon: at Serializable, PostgreSQL flags a
//! rw-conflict from a committed reader to a later writer when the writer's
//! snapshot `xmin` precedes the reader's end (`CheckTargetForConflictsIn`
//! in predicate.c), and any open transaction anywhere holds `xmin` back,
//! so a program beside others can fail with 40001 where it alone would
//! not. A `DEFERRABLE` transaction's safe-snapshot wait likewise counts
//! every serializable writer on the server (no program here declares
//! one).

pub mod compare;
pub mod generate;
pub mod render;
pub mod run;

pub use compare::{classify, Class, Verdict};
pub use generate::Feature;
pub use run::{run_program, EngineRun, Outcome};

use crate::seed::Seed;
use crate::sql::begin_sql;
use crate::sql::script::{Backend, SimBackend, Stmt};
use crate::store::{DbError, Isolation};
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};

/// One step of a program: a statement for a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The session (from 0).
    pub session: usize,
    /// The statement.
    pub stmt: Stmt,
}

/// A multi-session SQL program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    /// Where it came from (`seed 1 program 17`, `anomaly write-skew`).
    pub name: String,
    /// The isolation level its sessions begin at.
    pub level: Isolation,
    /// Its tables.
    pub setup: crate::sql::script::Setup,
    /// Statements that load the initial rows, in autocommit.
    pub initial: Vec<String>,
    /// How many sessions it uses.
    pub sessions: usize,
    /// The schedule.
    pub steps: Vec<Step>,
}

impl Program {
    /// The anomaly suite's script `anomaly` at `level`, each session
    /// beginning first.
    pub fn anomaly(anomaly: &str, level: Isolation) -> Option<Program> {
        let script = crate::sql::anomaly::script(anomaly)?;
        let mut steps: Vec<Step> = (0..script.sessions)
            .map(|session| Step {
                session,
                stmt: Stmt::sql(begin_sql(level)),
            })
            .collect();
        steps.extend(
            script
                .steps
                .into_iter()
                .map(|(session, stmt)| Step { session, stmt }),
        );
        Some(Program {
            name: format!("anomaly {anomaly}"),
            level,
            setup: crate::sql::anomaly::SETUP,
            initial: script.initial.iter().map(|s| s.to_string()).collect(),
            sessions: script.sessions,
            steps,
        })
    }

    /// The program without step `index`.
    fn without_step(&self, index: usize) -> Program {
        let mut out = self.clone();
        out.steps.remove(index);
        out
    }

    /// The program without session `session` (the later ones renumbered).
    fn without_session(&self, session: usize) -> Program {
        let mut out = self.clone();
        out.steps.retain(|s| s.session != session);
        for s in out.steps.iter_mut() {
            if s.session > session {
                s.session -= 1;
            }
        }
        out.sessions -= 1;
        out
    }

    /// The program without initial statement `index`.
    fn without_initial(&self, index: usize) -> Program {
        let mut out = self.clone();
        out.initial.remove(index);
        out
    }

    /// Whether step `index` may be dropped while shrinking: not a
    /// session's BEGIN, nor its last step (its COMMIT or ROLLBACK), so
    /// what is left still reads as transactions.
    fn step_removable(&self, index: usize) -> bool {
        let step = &self.steps[index];
        let is_begin = matches!(&step.stmt, Stmt::Sql(sql) if sql.starts_with("BEGIN"));
        let is_last = !self.steps[index + 1..]
            .iter()
            .any(|s| s.session == step.session);
        !is_begin && !is_last
    }
}

/// A program run on both engines and classified.
#[derive(Clone, Debug)]
pub struct Judged {
    /// The run on the simulated store.
    pub store: EngineRun,
    /// The run on PostgreSQL.
    pub pg: EngineRun,
    /// The class.
    pub verdict: Verdict,
    /// Whether the store agreed only with a second run on PostgreSQL:
    /// one step freed two waiting sessions, and which of them PostgreSQL
    /// let go on first varied from run to run; or a statement ended by
    /// its own timeout was seen blocked on one run and not on another.
    pub agreed_on_rerun: bool,
}

/// Runs of a program on PostgreSQL, beyond its first, while the store's
/// outcome is one PostgreSQL may give but did not (the runs depend on
/// PostgreSQL's timing, see [`two_woken_by_one_step`] and
/// [`waited_within_own_step`]). Enough to see the rarer
/// order of two woken sessions (about one run in four, seen on program 437
/// of seed 1 at Read Committed) without rerunning a real difference long.
const PG_RERUNS_MAX: usize = 4;

/// Whether some step of `run` ended the waits of two sessions at once:
/// which of them runs first is then up to PostgreSQL's scheduler, and
/// the second may find the first's new row version and wait on it too.
fn two_woken_by_one_step(run: &EngineRun) -> bool {
    let mut woken = BTreeMap::new();
    for step in run.steps.iter().filter(|s| s.waited) {
        if let Some(after) = step.completed_after {
            *woken.entry(after).or_insert(0usize) += 1;
        }
    }
    woken.values().any(|&n| n >= 2)
}

/// Whether some step of `run` was seen blocked and then finished before
/// any other step ran: its own timeout ended it (`lock_timeout = '1ms'`),
/// so whether the observer saw it blocked first depended on the server's
/// speed, not on the schedule.
fn waited_within_own_step(run: &EngineRun) -> bool {
    run.steps
        .iter()
        .enumerate()
        .any(|(p, s)| s.waited && s.completed_after == Some(p))
}

/// Runs programs on the simulated store and on a second backend
/// (PostgreSQL), and shrinks disagreements.
#[derive(Debug)]
pub struct Checker<B: Backend> {
    sim: SimBackend,
    other: B,
    runs: u64,
}

impl<B: Backend> Checker<B> {
    /// A checker against `other`.
    pub fn new(other: B) -> Checker<B> {
        Checker {
            sim: SimBackend::default(),
            other,
            runs: 0,
        }
    }

    /// Programs run so far on both engines (shrinking included).
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// Runs `program` on both engines and classifies it. Errs when an
    /// engine cannot be set up or the initial rows fail on it.
    pub async fn judge(&mut self, program: &Program) -> Result<Judged, DbError> {
        self.runs += 1;
        let store = run_program(&mut self.sim, program).await?;
        let pg = run_program(&mut self.other, program).await?;
        let verdict = classify(program, &store, &pg);
        // The store's scheduler is deterministic and PostgreSQL's is not:
        // where one step woke two sessions, a disagreement may be
        // PostgreSQL choosing the other order this time. Asking again is
        // the only honest test of whether it ever gives the store's.
        let racy = two_woken_by_one_step(&store)
            || two_woken_by_one_step(&pg)
            || waited_within_own_step(&pg);
        if racy
            && matches!(
                verdict.class,
                Class::Different | Class::Stricter | Class::Looser
            )
        {
            for _ in 0..PG_RERUNS_MAX {
                let again = run_program(&mut self.other, program).await?;
                let second = classify(program, &store, &again);
                if second.class == Class::Agree {
                    return Ok(Judged {
                        store,
                        pg: again,
                        verdict: second,
                        agreed_on_rerun: true,
                    });
                }
            }
        }
        Ok(Judged {
            store,
            pg,
            verdict,
            agreed_on_rerun: false,
        })
    }

    /// Removes sessions, steps and initial rows from `program` while it
    /// stays in `judged`'s class, within `runs_max` runs; returns the
    /// smallest program found and its judgement.
    pub async fn shrink(
        &mut self,
        program: &Program,
        judged: Judged,
        runs_max: usize,
    ) -> Result<(Program, Judged), DbError> {
        let class = judged.verdict.class;
        let mut best = (program.clone(), judged);
        let mut runs = 0;
        loop {
            let mut shrunk = false;
            let candidates = shrink_candidates(&best.0);
            for candidate in candidates {
                if runs >= runs_max {
                    return Ok(best);
                }
                runs += 1;
                // A candidate whose initial rows no longer load (a hold
                // without its account) is simply not smaller.
                let Ok(j) = self.judge(&candidate).await else {
                    continue;
                };
                if j.verdict.class == class {
                    best = (candidate, j);
                    shrunk = true;
                    break;
                }
            }
            if !shrunk {
                return Ok(best);
            }
        }
    }
}

/// Smaller programs to try, biggest cuts first.
fn shrink_candidates(program: &Program) -> Vec<Program> {
    let mut out = Vec::new();
    if program.sessions > 1 {
        for session in (0..program.sessions).rev() {
            out.push(program.without_session(session));
        }
    }
    for index in (0..program.steps.len()).rev() {
        if program.step_removable(index) {
            out.push(program.without_step(index));
        }
    }
    for index in (0..program.initial.len()).rev() {
        out.push(program.without_initial(index));
    }
    out
}

/// What `conform` runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Generated programs per level.
    pub programs: u64,
    /// Their seed.
    pub seed: Seed,
    /// The levels, each running the same programs.
    pub levels: Vec<Isolation>,
    /// What the generator may draw.
    pub features: Vec<Feature>,
    /// Whether to run the anomaly suite too.
    pub anomalies: bool,
    /// Disagreements shrunk and printed per class and level (every unsound
    /// one is).
    pub examples_per_class: usize,
    /// Runs one shrink may use.
    pub shrink_runs_max: usize,
}

/// A disagreement: which program, its class, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// The program (`seed 1 program 17`).
    pub program: String,
    /// Its verdict.
    pub verdict: Verdict,
}

/// A disagreement shrunk and rendered.
#[derive(Clone, Debug, Serialize)]
pub struct Example {
    /// The program it was shrunk from.
    pub program: String,
    /// The shrunk program's verdict.
    pub verdict: Verdict,
    /// Steps before and after shrinking.
    pub steps_before: usize,
    /// Steps after shrinking.
    pub steps_after: usize,
    /// The shrunk program as a psql script, sessions labelled.
    pub script: String,
}

/// One level's results.
#[derive(Clone, Debug, Serialize)]
pub struct LevelReport {
    /// The level.
    pub level: Isolation,
    /// Programs run (anomaly suite included).
    pub programs: u64,
    /// Programs per class.
    pub classes: BTreeMap<Class, u64>,
    /// Agreeing programs as a percentage of all programs.
    pub agreement_pct: f64,
    /// Agreeing programs as a percentage of those the store supports.
    pub agreement_supported_pct: f64,
    /// Transactions aborted by an error, on the store (unsupported
    /// programs left out).
    pub aborted_store: u64,
    /// The same on PostgreSQL.
    pub aborted_pg: u64,
    /// Aborted transactions by the SQLSTATE that aborted them, on the store.
    pub aborted_store_by_code: BTreeMap<String, u64>,
    /// The same on PostgreSQL.
    pub aborted_pg_by_code: BTreeMap<String, u64>,
    /// Transactions in the programs compared (unsupported left out).
    pub transactions: u64,
    /// Agreeing programs that agreed only on a second run on PostgreSQL
    /// (see [`Judged::agreed_on_rerun`]).
    pub agreed_on_rerun: u64,
    /// Every disagreement, unshrunk.
    pub findings: Vec<Finding>,
    /// Shrunk examples.
    pub examples: Vec<Example>,
}

impl LevelReport {
    fn new(level: Isolation) -> LevelReport {
        LevelReport {
            level,
            programs: 0,
            classes: Class::ALL.iter().map(|c| (*c, 0)).collect(),
            agreement_pct: 0.0,
            agreement_supported_pct: 0.0,
            aborted_store: 0,
            aborted_pg: 0,
            aborted_store_by_code: BTreeMap::new(),
            aborted_pg_by_code: BTreeMap::new(),
            transactions: 0,
            agreed_on_rerun: 0,
            findings: Vec::new(),
            examples: Vec::new(),
        }
    }

    /// Programs in `class`.
    pub fn count(&self, class: Class) -> u64 {
        self.classes.get(&class).copied().unwrap_or(0)
    }

    fn tally(&mut self, program: &Program, judged: &Judged) {
        self.programs += 1;
        *self.classes.entry(judged.verdict.class).or_insert(0) += 1;
        self.agreed_on_rerun += u64::from(judged.agreed_on_rerun);
        if judged.verdict.class != Class::Unsupported {
            self.transactions += program.sessions as u64;
            for code in judged.store.aborts(program).into_iter().flatten() {
                self.aborted_store += 1;
                *self.aborted_store_by_code.entry(code).or_insert(0) += 1;
            }
            for code in judged.pg.aborts(program).into_iter().flatten() {
                self.aborted_pg += 1;
                *self.aborted_pg_by_code.entry(code).or_insert(0) += 1;
            }
        }
        if !matches!(judged.verdict.class, Class::Agree | Class::Unsupported) {
            self.findings.push(Finding {
                program: program.name.clone(),
                verdict: judged.verdict.clone(),
            });
        }
        let agree = self.count(Class::Agree) as f64;
        let supported = (self.programs - self.count(Class::Unsupported)) as f64;
        self.agreement_pct = 100.0 * agree / self.programs as f64;
        self.agreement_supported_pct = if supported > 0.0 {
            100.0 * agree / supported
        } else {
            0.0
        };
    }
}

/// Most programs `overbook conform` runs at once: each holds a PostgreSQL
/// connection per session plus an observer (up to 5), so 16 stay within
/// the server's default `max_connections` of 100 with room for others;
/// and the programs wait on the server, not the CPU, so a few per core
/// already keep it busy.
pub const JOBS_MAX: usize = 16;

/// What a checker of [`conform`] is asked to do.
enum Job {
    /// Run program `index` (counted across the levels) of level `level`.
    Judge {
        index: usize,
        level: usize,
        program: Program,
    },
    /// Shrink the disagreement that fills example slot `slot` of level
    /// `level`.
    Shrink {
        level: usize,
        slot: usize,
        program: Program,
        judged: Box<Judged>,
    },
}

/// A program of level `level` (an index into the levels) and its
/// judgement, or the engines' error.
struct Ran {
    level: usize,
    program: Program,
    judged: Box<Result<Judged, DbError>>,
}

/// What a checker of [`conform`] did.
enum Done {
    /// Program `index` (counted across the levels) judged.
    Judged { index: usize, ran: Ran },
    /// Example slot `slot` of level `level` shrunk.
    Shrunk {
        level: usize,
        slot: usize,
        example: Result<Example, DbError>,
    },
}

type Working<'a, B> = std::pin::Pin<Box<dyn std::future::Future<Output = (Checker<B>, Done)> + 'a>>;

/// Hands `job` to `checker`; the future gives the checker back with what
/// it did.
fn work<'a, B: Backend + 'a>(
    mut checker: Checker<B>,
    job: Job,
    shrink_runs_max: usize,
) -> Working<'a, B> {
    Box::pin(async move {
        let done = match job {
            Job::Judge {
                index,
                level,
                program,
            } => {
                let judged = Box::new(checker.judge(&program).await);
                Done::Judged {
                    index,
                    ran: Ran {
                        level,
                        program,
                        judged,
                    },
                }
            }
            Job::Shrink {
                level,
                slot,
                program,
                judged,
            } => {
                let steps_before = program.steps.len();
                let example = checker
                    .shrink(&program, *judged, shrink_runs_max)
                    .await
                    .map(|(small, j)| Example {
                        program: program.name.clone(),
                        verdict: j.verdict.clone(),
                        steps_before,
                        steps_after: small.steps.len(),
                        script: render::psql(&small, &j),
                    });
                Done::Shrunk {
                    level,
                    slot,
                    example,
                }
            }
        };
        (checker, done)
    })
}

/// Waits for the first of `working` to finish and takes it out.
async fn next_done<B: Backend>(working: &mut Vec<Working<'_, B>>) -> (Checker<B>, Done) {
    std::future::poll_fn(|cx| {
        for at in 0..working.len() {
            if let std::task::Poll::Ready(done) = working[at].as_mut().poll(cx) {
                drop(working.swap_remove(at));
                return std::task::Poll::Ready(done);
            }
        }
        std::task::Poll::Pending
    })
    .await
}

/// Runs `config`'s programs at each of its levels on the store and on
/// `backends`, one program per backend at a time (each backend with a
/// store of its own), calling `progress` after each program with the
/// level's report so far. Programs are tallied, and disagreements picked
/// for shrinking, in program order whatever order they finish in, so the
/// report does not depend on how many backends there are when the second
/// engine answers each program the same way. Errs when an engine fails
/// outside any program (connection lost, setup refused): the first such
/// error in program order.
pub async fn conform<B: Backend>(
    backends: Vec<B>,
    config: &Config,
    mut progress: impl FnMut(&LevelReport),
) -> Result<Vec<LevelReport>, DbError> {
    assert!(!config.features.is_empty(), "conform needs a feature");
    assert!(!backends.is_empty(), "conform needs a backend");
    let mut programs = programs_to_judge(config);
    let mut tally = Tally::new(&config.levels);
    let mut idle: Vec<Checker<B>> = backends.into_iter().map(Checker::new).collect();
    let mut working: Vec<Working<'_, B>> = Vec::new();
    let mut shrinks: VecDeque<Job> = VecDeque::new();
    loop {
        // Shrinks before new programs: with one checker that is the order
        // of a serial run (a program, its shrink, the next program).
        while let Some(checker) = idle.pop() {
            let job = match shrinks.pop_front() {
                Some(job) => job,
                None => match programs.next() {
                    Some((index, (level, program))) => Job::Judge {
                        index,
                        level,
                        program,
                    },
                    None => {
                        idle.push(checker);
                        break;
                    }
                },
            };
            working.push(work(checker, job, config.shrink_runs_max));
        }
        if working.is_empty() {
            break;
        }
        let (checker, done) = next_done(&mut working).await;
        idle.push(checker);
        match done {
            Done::Shrunk {
                level,
                slot,
                example,
            } => tally.examples[level][slot] = Some(example?),
            Done::Judged { index, ran } => {
                tally.finished.insert(index, ran);
            }
        }
        tally.tally_in_order(config, &mut shrinks, &mut progress)?;
    }
    Ok(tally.into_reports())
}

/// Every level's programs in one sequence (the anomaly suite, if asked
/// for, then the generated ones), so that the checkers go on into the
/// next level while the last programs of one still run. Each comes with
/// its index across the levels and its level's index.
fn programs_to_judge(config: &Config) -> impl Iterator<Item = (usize, (usize, Program))> + '_ {
    let anomalies = if config.anomalies {
        crate::store::anomaly::ANOMALIES.as_slice()
    } else {
        &[]
    };
    config
        .levels
        .iter()
        .enumerate()
        .flat_map(move |(at, &level)| {
            let suite = anomalies
                .iter()
                .filter_map(move |a| Program::anomaly(a, level));
            let generated = (0..config.programs)
                .map(move |i| generate::program(config.seed, i, level, &config.features));
            suite.chain(generated).map(move |p| (at, p))
        })
        .enumerate()
}

/// [`conform`]'s reports as they fill up, in program order.
struct Tally {
    reports: Vec<LevelReport>,
    /// Per level, the examples in the order their programs were tallied
    /// (`None` while being shrunk).
    examples: Vec<Vec<Option<Example>>>,
    picked_by_class: Vec<BTreeMap<Class, usize>>,
    /// Programs judged ahead of one still running, by index, until their
    /// turn to be tallied.
    finished: BTreeMap<usize, Ran>,
    next_tally: usize,
}

impl Tally {
    fn new(levels: &[Isolation]) -> Self {
        Tally {
            reports: levels.iter().map(|&l| LevelReport::new(l)).collect(),
            examples: vec![Vec::new(); levels.len()],
            picked_by_class: vec![BTreeMap::new(); levels.len()],
            finished: BTreeMap::new(),
            next_tally: 0,
        }
    }

    /// Tallies the finished programs whose turn has come, queueing the
    /// disagreements wanted as examples for shrinking.
    fn tally_in_order(
        &mut self,
        config: &Config,
        shrinks: &mut VecDeque<Job>,
        progress: &mut impl FnMut(&LevelReport),
    ) -> Result<(), DbError> {
        while let Some(Ran {
            level,
            program,
            judged,
        }) = self.finished.remove(&self.next_tally)
        {
            self.next_tally += 1;
            let judged = (*judged)?;
            let report = &mut self.reports[level];
            report.tally(&program, &judged);
            let class = judged.verdict.class;
            let picked = self.picked_by_class[level].entry(class).or_insert(0);
            let wanted = match class {
                Class::Agree => false,
                Class::Unsound => true,
                _ => *picked < config.examples_per_class,
            };
            if wanted {
                // A shrink keeps the class, so this counts the examples
                // of the class before their shrinks end.
                *picked += 1;
                self.examples[level].push(None);
                shrinks.push_back(Job::Shrink {
                    level,
                    slot: self.examples[level].len() - 1,
                    program,
                    judged: Box::new(judged),
                });
            }
            progress(report);
        }
        Ok(())
    }

    /// The reports with their examples, once every shrink has finished.
    fn into_reports(self) -> Vec<LevelReport> {
        let mut reports = self.reports;
        for (report, examples) in reports.iter_mut().zip(self.examples) {
            report.examples = examples
                .into_iter()
                .map(|e| e.expect("every shrink finished"))
                .collect();
        }
        reports
    }
}

#[cfg(test)]
mod tests;
