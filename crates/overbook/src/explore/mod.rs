//! The model checker: controlled interleavings of the same async code that
//! runs in the simulated world.
//!
//! A [`Model`] is a factory of clients (async tasks) over a fresh
//! [`Store`], plus named properties: `always` invariants checked after every
//! step, `at_end` checks once every client finished, and `sometimes`
//! conditions that should hold at the end of at least one schedule. The
//! explorer installs its own pacer on the store, so every statement a client
//! runs is a *scheduling point*; a *step* resumes one client from its
//! scheduling point to the next one (or to a lock wait, or to its end).
//!
//! Strategies, one file each:
//!
//! - [`Dfs`]: every interleaving, depth first, with sleep sets (partial
//!   order reduction) and an optional preemption bound;
//! - [`Pct`]: probabilistic concurrency testing (Burckhardt et al. 2010);
//! - [`RandomWalk`]: a uniform choice at every step, from a seed.
//!
//! [`services::service_model`] builds a model of any [`crate::system::System`]:
//! its requests sent straight to its handler, checked by its invariants.
//!
//! Every schedule is one line, such as `dfs:2-clients:0,1,1,1,0,0`: the
//! strategy, the client count and the client chosen at each step.
//! [`replay`] runs exactly that interleaving again, with a readable trace.
//!
//! ```
//! use overbook::explore::{explore, replay, Client, Dfs, Limits, Model};
//! use overbook::store::{Isolation, Key, Row, Store};
//!
//! fn increment(store: &Store) -> Client {
//!     let store = store.clone();
//!     Box::pin(async move {
//!         let key = Key::raw("counter");
//!         let mut tx = store.begin(Isolation::ReadCommitted);
//!         let v = tx.get(&key).await.unwrap().and_then(|r| r.int("v")).unwrap_or(0);
//!         tx.put(&key, Row::new().with("v", v + 1)).await.unwrap();
//!         tx.commit().await.unwrap();
//!     })
//! }
//!
//! let model = Model::new("lost-update", |store| {
//!     store.load(Key::raw("counter"), Row::new().with("v", 0));
//!     vec![increment(store), increment(store)]
//! })
//! .at_end("counter-is-2", |store, _| {
//!     let v = store.read_committed(&Key::raw("counter")).and_then(|r| r.int("v"));
//!     if v == Some(2) { Ok(()) } else { Err(format!("counter = {v:?}")) }
//! });
//! let report = explore(&model, Dfs::default().into(), Limits::default());
//! assert!(report.exhausted);
//! let violation = &report.violations[0];
//! assert_eq!(violation.property, "counter-is-2");
//! let again = replay(&model, &violation.line).unwrap();
//! assert_eq!(again.violation.unwrap().property, "counter-is-2");
//! ```

mod dfs;
mod executor;
mod footprint;
pub mod models;
mod pct;
mod random;
pub mod services;
#[cfg(test)]
mod tests;

pub use dfs::Dfs;
pub use pct::Pct;
pub use random::RandomWalk;
#[cfg(feature = "postgres")]
pub(crate) use services::{client_tasks, ClientCalls, ClientTasks, SEND};
pub use services::{service_model, service_scenario, ServiceScenario};

use crate::seed::Seed;
use crate::store::{Schema, Store, StoreConfig};
use executor::Run;
use footprint::Footprint;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// One client: an async task over the model's store.
pub type Client = Pin<Box<dyn Future<Output = ()>>>;

type Setup<S> = Box<dyn Fn(&Store) -> (S, Vec<Client>)>;
type StoreFactory = Box<dyn Fn() -> Store>;
type Check<S> = Box<dyn Fn(&Store, &S) -> Result<(), String>>;
type Condition<S> = Box<dyn Fn(&Store, &S) -> bool>;

/// What to explore: clients over a fresh store, and named properties.
///
/// `S` is per-schedule state the clients share with the properties (for
/// example an `Rc<RefCell<..>>` of the responses clients saw); `()` when the
/// store says everything.
pub struct Model<S = ()> {
    name: String,
    store: StoreFactory,
    setup: Setup<S>,
    always: Vec<(String, Check<S>)>,
    at_end: Vec<(String, Check<S>)>,
    sometimes: Vec<(String, Condition<S>)>,
    /// Names of the daemon tasks: the last ones `setup` returns (shared
    /// with every execution's run).
    daemons: Rc<[String]>,
    /// Names of the background tasks, just before the daemons.
    background: Rc<[String]>,
    /// Clock steps the search may take a schedule while a task could run
    /// (see [`Model::time_jumps`]).
    time_jumps: u32,
}

impl<S> fmt::Debug for Model<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Model<()> {
    /// A model whose clients `clients` builds on each fresh store (loading
    /// the initial rows first, since loads must precede any transaction).
    pub fn new(name: &str, clients: impl Fn(&Store) -> Vec<Client> + 'static) -> Model<()> {
        Model::with_state(name, move |store| ((), clients(store)))
    }
}

impl<S> Model<S> {
    /// A model whose `setup` builds per-schedule state and the clients.
    pub fn with_state(
        name: &str,
        setup: impl Fn(&Store) -> (S, Vec<Client>) + 'static,
    ) -> Model<S> {
        Model {
            name: name.to_string(),
            store: Box::new(|| Store::new(Schema::default(), StoreConfig::default(), Seed(0))),
            setup: Box::new(setup),
            always: Vec::new(),
            at_end: Vec::new(),
            sometimes: Vec::new(),
            daemons: Rc::from([]),
            background: Rc::from([]),
            time_jumps: 0,
        }
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Builds each schedule's store with `store` (schema, configuration,
    /// seed) instead of an empty default store.
    pub fn store(mut self, store: impl Fn() -> Store + 'static) -> Model<S> {
        self.store = Box::new(store);
        self
    }

    /// Declares the last `names.len()` tasks of every setup *daemons*:
    /// helpers that wait for work (an in-flight request a client gave up
    /// on) and may stay waiting when the clients are done, so a schedule
    /// ends once every other task finished and no daemon can step. Traces
    /// call them by these names.
    pub fn daemons(mut self, names: Vec<String>) -> Model<S> {
        self.daemons = names.into();
        self
    }

    /// Names the `names.len()` tasks just before the daemons (or last) in
    /// traces: background jobs, which end like clients.
    pub fn background(mut self, names: Vec<String>) -> Model<S> {
        self.background = names.into();
        self
    }

    /// Time as a choice of the search. Every sleep (a retry's backoff, a
    /// background job's period, the store's `deadlock_timeout`) is a
    /// timer: the sleeping task waits until a *clock step* moves time to
    /// its deadline, and a statement takes no time. When nothing else can
    /// run, the clock steps to the next timer (a stall: the only way time
    /// passes by default). With `jumps`, the search may also move it while
    /// tasks could run, at most `jumps` times a schedule, right after a
    /// step that read the clock or set a timer: to the next sleep's
    /// deadline (`t` in schedule lines), 1 ms after it (`t.1`) or 1 ms
    /// before it (`t.2`, firing nothing). A jump stands for the time other
    /// work takes in production: a backoff that ends, or a background job
    /// that comes due, while a request is half done.
    pub fn time_jumps(mut self, jumps: u32) -> Model<S> {
        self.time_jumps = jumps;
        self
    }

    /// An invariant checked after every step.
    pub fn always(
        mut self,
        name: &str,
        check: impl Fn(&Store, &S) -> Result<(), String> + 'static,
    ) -> Model<S> {
        self.always.push((name.to_string(), Box::new(check)));
        self
    }

    /// A check once every client has finished.
    pub fn at_end(
        mut self,
        name: &str,
        check: impl Fn(&Store, &S) -> Result<(), String> + 'static,
    ) -> Model<S> {
        self.at_end.push((name.to_string(), Box::new(check)));
        self
    }

    /// A condition that should hold at the end of at least one schedule
    /// (reported, never a violation).
    pub fn sometimes(
        mut self,
        name: &str,
        condition: impl Fn(&Store, &S) -> bool + 'static,
    ) -> Model<S> {
        self.sometimes.push((name.to_string(), Box::new(condition)));
        self
    }
}

/// Limits on an exploration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Executions at most (schedules plus pruned ones).
    pub schedules_max: u64,
    /// Steps in one schedule at most; a schedule still running then is a
    /// `liveness` violation.
    pub steps_per_schedule_max: u64,
    /// Stop at the first violation instead of looking for shorter ones.
    pub stop_at_first_violation: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            schedules_max: 100_000,
            steps_per_schedule_max: 1_000,
            stop_at_first_violation: false,
        }
    }
}

/// How to choose the next client.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Strategy {
    /// Exhaustive depth-first search.
    Dfs(Dfs),
    /// Probabilistic concurrency testing.
    Pct(Pct),
    /// Uniformly random choices.
    Random(RandomWalk),
}

impl From<Dfs> for Strategy {
    fn from(value: Dfs) -> Self {
        Strategy::Dfs(value)
    }
}
impl From<Pct> for Strategy {
    fn from(value: Pct) -> Self {
        Strategy::Pct(value)
    }
}
impl From<RandomWalk> for Strategy {
    fn from(value: RandomWalk) -> Self {
        Strategy::Random(value)
    }
}

/// A broken property with the schedule that breaks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The property's name (`liveness` for deadlocks and step limits).
    pub property: String,
    /// What the property said.
    pub message: String,
    /// The schedule, replayable with [`replay`].
    pub line: String,
    /// Steps in the schedule.
    pub steps: u64,
    /// The execution (from 1) that found this schedule.
    pub found_at_schedule: u64,
    /// Step by step: client, statement, outcome.
    pub trace: Vec<String>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "violation of {}: {}", self.property, self.message)?;
        writeln!(f, "replay: {}", self.line)?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}

/// Whether a `sometimes` condition held at the end of some schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SometimesResult {
    /// The condition's name.
    pub name: String,
    /// The first schedule that reached it, if any.
    pub reached_by: Option<String>,
}

/// What an exploration did and found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The model's name.
    pub model: String,
    /// The strategy (`dfs`, `dfs-no-sleep-sets`, `pct`, `random`).
    pub strategy: String,
    /// Schedules run to an end (every client finished, a violation, a
    /// deadlock or the step limit).
    pub schedules: u64,
    /// Executions abandoned because every enabled client was in the sleep
    /// set: an equivalent schedule was explored already.
    pub pruned: u64,
    /// Distinct committed states at the end of completed schedules.
    pub distinct_final_states: usize,
    /// Whether the whole space was explored (DFS within no preemption
    /// bound, before any limit).
    pub exhausted: bool,
    /// The shortest violation found of each property (fewest steps, then
    /// fewest context switches), shortest first.
    pub violations: Vec<Violation>,
    /// Each `sometimes` condition and whether it was reached.
    pub sometimes: Vec<SometimesResult>,
    /// Steps taken in all executions.
    pub steps: u64,
    /// PCT only: the probability bound `1/(n·k^(d-1))` of finding a bug of
    /// depth `d` in one schedule.
    pub pct_guarantee: Option<f64>,
    /// The final-state hashes behind `distinct_final_states`.
    #[serde(skip)]
    pub final_states: BTreeSet<u64>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} with {}: {} schedules, {} pruned, {} distinct final states, {} steps, {}",
            self.model,
            self.strategy,
            self.schedules,
            self.pruned,
            self.distinct_final_states,
            self.steps,
            if self.exhausted {
                "exhausted"
            } else {
                "not exhausted"
            }
        )?;
        if let Some(p) = self.pct_guarantee {
            writeln!(f, "pct guarantee per schedule: {p:.3e}")?;
        }
        for s in &self.sometimes {
            match &s.reached_by {
                Some(line) => writeln!(f, "sometimes {}: reached by {line}", s.name)?,
                None => writeln!(f, "sometimes {}: never reached", s.name)?,
            }
        }
        for v in &self.violations {
            write!(f, "{v}")?;
        }
        Ok(())
    }
}

/// A choice the strategy is asked to make.
pub(crate) struct ChoicePoint<'a> {
    /// Enabled clients, in index order.
    pub(crate) enabled: &'a [usize],
    /// Footprints of the enabled clients' next steps (parallel to
    /// `enabled`), when the strategy asked for them.
    pub(crate) footprints: Option<Vec<Footprint>>,
}

/// A strategy's side of the exploration loop.
pub(crate) trait Scheduler {
    /// The name used in schedule lines.
    fn line_name(&self) -> &'static str;
    /// The name in reports.
    fn report_name(&self) -> String {
        self.line_name().to_string()
    }
    /// Starts the next execution; false when the strategy has no more.
    fn next_schedule(&mut self, clients: usize) -> bool;
    /// Whether `choose` needs footprints.
    fn needs_footprints(&self) -> bool {
        false
    }
    /// The next client, or `None` to abandon the execution as redundant.
    fn choose(&mut self, point: &ChoicePoint<'_>) -> Option<usize>;
    /// The execution ended after `steps` steps.
    fn end_schedule(&mut self, _steps: u64) {}
    /// Whether the whole space was covered.
    fn exhausted(&self) -> bool {
        false
    }
    /// The PCT guarantee, for PCT.
    fn guarantee(&self) -> Option<f64> {
        None
    }
}

/// How one execution ended.
enum Ending {
    Finished,
    Pruned,
    Violated { property: String, message: String },
}

/// Explores `model` with `strategy` within `limits`.
pub fn explore<S>(model: &Model<S>, strategy: Strategy, limits: Limits) -> Report {
    explore_with_progress(model, strategy, limits, &mut |_| {})
}

/// How far an exploration has got, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExploreProgress {
    /// Executions started (schedules run to an end plus pruned ones).
    pub executions: u64,
    /// Schedules run to an end.
    pub schedules: u64,
    /// Steps of the last execution: the depth the search is at.
    pub depth: u64,
    /// The deepest execution so far.
    pub depth_max: u64,
    /// Properties violated so far.
    pub violations: usize,
}

/// Executions between progress calls.
const PROGRESS_EXECUTIONS: u64 = 64;

/// [`explore`], calling `progress` every few executions. The callback only
/// watches: the search is the same with or without it.
pub fn explore_with_progress<S>(
    model: &Model<S>,
    strategy: Strategy,
    limits: Limits,
    progress: &mut dyn FnMut(ExploreProgress),
) -> Report {
    match strategy {
        Strategy::Dfs(dfs) => drive(model, &mut dfs::DfsScheduler::new(dfs), limits, progress),
        Strategy::Pct(pct) => drive(model, &mut pct::PctScheduler::new(pct), limits, progress),
        Strategy::Random(random) => drive(
            model,
            &mut random::RandomScheduler::new(random),
            limits,
            progress,
        ),
    }
}

/// A schedule as one line: each step is the client stepped, written
/// `client.alternative` when the client was stopped at a choice of its own
/// and took other than its first alternative.
fn schedule_line(strategy: &str, clients: usize, choices: &[usize]) -> String {
    let choices: Vec<String> = choices.iter().map(|&id| choice_name(id)).collect();
    format!("{strategy}:{clients}-clients:{}", choices.join(","))
}

/// A choice id as written in schedule lines: `client` or
/// `client.alternative`.
fn choice_name(id: usize) -> String {
    let task = match executor::task_of(id) {
        executor::CLOCK => "t".to_string(),
        task => task.to_string(),
    };
    match executor::alternative_of(id) {
        0 => task,
        alternative => format!("{task}.{alternative}"),
    }
}

fn first_failure<S>(checks: &[(String, Check<S>)], run: &Run<S>) -> Option<(String, String)> {
    checks.iter().find_map(|(name, check)| {
        check(&run.store, &run.state)
            .err()
            .map(|message| (name.clone(), message))
    })
}

/// Checks after a step, and at the end when nothing can step.
fn check_state<S>(model: &Model<S>, run: &Run<S>) -> Option<(String, String)> {
    if let Some(message) = &run.panicked {
        return Some(("panic".to_string(), message.clone()));
    }
    first_failure(&model.always, run)
}

fn liveness_if_stuck<S>(model: &Model<S>, run: &Run<S>) -> Option<Ending> {
    if let Some(message) = &run.panicked {
        return Some(Ending::Violated {
            property: "panic".into(),
            message: message.clone(),
        });
    }
    if run.all_finished() {
        return first_failure(&model.at_end, run)
            .map(|(property, message)| Ending::Violated { property, message })
            .or(Some(Ending::Finished));
    }
    if run.enabled().is_empty() {
        return Some(Ending::Violated {
            property: "liveness".into(),
            message: format!(
                "deadlock the store did not break: clients {:?} wait and none can run",
                run.unfinished()
            ),
        });
    }
    None
}

fn step_limit_violation<S>(run: &Run<S>) -> Ending {
    Ending::Violated {
        property: "liveness".into(),
        message: format!(
            "clients {:?} had not finished after {} steps",
            run.unfinished(),
            run.steps
        ),
    }
}

fn drive<S>(
    model: &Model<S>,
    scheduler: &mut dyn Scheduler,
    limits: Limits,
    progress: &mut dyn FnMut(ExploreProgress),
) -> Report {
    let mut report = empty_report(model);
    let mut executions = 0u64;
    let mut depth_max = 0u64;
    while executions < limits.schedules_max {
        let mut run = Run::start(model);
        if !scheduler.next_schedule(run.clients()) {
            break;
        }
        executions += 1;
        let (ending, choices) = play_schedule(model, scheduler, &limits, &mut run);
        report.steps += run.steps;
        depth_max = depth_max.max(run.steps);
        if executions.is_multiple_of(PROGRESS_EXECUTIONS) {
            progress(ExploreProgress {
                executions,
                schedules: report.schedules,
                depth: run.steps,
                depth_max,
                violations: report.violations.len(),
            });
        }
        scheduler.end_schedule(run.steps);
        let line = schedule_line(scheduler.line_name(), run.clients(), &choices);
        match ending {
            Ending::Pruned => report.pruned += 1,
            Ending::Finished => {
                report.schedules += 1;
                report.final_states.insert(run.final_state_hash());
                for (result, (_, condition)) in report.sometimes.iter_mut().zip(&model.sometimes) {
                    if result.reached_by.is_none() && condition(&run.store, &run.state) {
                        result.reached_by = Some(line.clone());
                    }
                }
            }
            Ending::Violated { property, message } => {
                report.schedules += 1;
                record_violation(model, &mut report, property, message, line, executions);
                if limits.stop_at_first_violation {
                    break;
                }
            }
        }
    }
    report.strategy = scheduler.report_name();
    report.exhausted = scheduler.exhausted();
    report.pct_guarantee = scheduler.guarantee();
    report.distinct_final_states = report.final_states.len();
    report
        .violations
        .sort_by(|a, b| (a.steps, &a.property).cmp(&(b.steps, &b.property)));
    report
}

/// A report of `model` before any schedule ran: no condition reached yet.
fn empty_report<S>(model: &Model<S>) -> Report {
    Report {
        model: model.name.clone(),
        strategy: String::new(),
        schedules: 0,
        pruned: 0,
        distinct_final_states: 0,
        exhausted: false,
        violations: Vec::new(),
        sometimes: model
            .sometimes
            .iter()
            .map(|(name, _)| SometimesResult {
                name: name.clone(),
                reached_by: None,
            })
            .collect(),
        steps: 0,
        pct_guarantee: None,
        final_states: BTreeSet::new(),
    }
}

/// Steps `run` as the scheduler chooses until it ends (finished, stuck,
/// out of steps, pruned or violating a check after a step). Returns how
/// it ended and the tasks chosen, in order.
fn play_schedule<S>(
    model: &Model<S>,
    scheduler: &mut dyn Scheduler,
    limits: &Limits,
    run: &mut Run<S>,
) -> (Ending, Vec<usize>) {
    let mut choices = Vec::new();
    let ending = loop {
        if let Some(ending) = liveness_if_stuck(model, run) {
            break ending;
        }
        if run.steps >= limits.steps_per_schedule_max {
            break step_limit_violation(run);
        }
        let enabled = run.enabled();
        let footprints = scheduler
            .needs_footprints()
            .then(|| enabled.iter().map(|&t| run.footprint(t)).collect());
        let point = ChoicePoint {
            enabled: &enabled,
            footprints,
        };
        let Some(task) = scheduler.choose(&point) else {
            break Ending::Pruned;
        };
        assert!(enabled.contains(&task), "strategy chose a disabled client");
        run.step(task);
        choices.push(task);
        if let Some((property, message)) = check_state(model, run) {
            break Ending::Violated { property, message };
        }
    };
    (ending, choices)
}

/// Keeps the shortest violation of each property, with its trace.
fn record_violation<S>(
    model: &Model<S>,
    report: &mut Report,
    property: String,
    message: String,
    line: String,
    schedule: u64,
) {
    let steps = line_steps(&line);
    let existing = report
        .violations
        .iter()
        .position(|v| v.property == property);
    if let Some(index) = existing {
        let kept = &report.violations[index];
        if (kept.steps, context_switches(&kept.line)) <= (steps, context_switches(&line)) {
            return;
        }
        report.violations.remove(index);
    }
    let trace = replay(model, &line).map(|r| r.trace).unwrap_or_default();
    report.violations.push(Violation {
        property,
        message,
        line,
        steps,
        found_at_schedule: schedule,
        trace,
    });
}

/// Changes of client along a line: among equally long counterexamples, the
/// one with fewer switches reads more easily.
fn context_switches(line: &str) -> usize {
    let clients: Vec<&str> = line
        .rsplit(':')
        .next()
        .unwrap_or("")
        .split(',')
        .map(|choice| choice.split('.').next().unwrap_or(choice))
        .collect();
    clients.windows(2).filter(|pair| pair[0] != pair[1]).count()
}

fn line_steps(line: &str) -> u64 {
    line.rsplit(':')
        .next()
        .map_or(0, |c| c.split(',').filter(|s| !s.is_empty()).count() as u64)
}

/// A schedule line that cannot be replayed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayError(pub String);

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot replay: {}", self.0)
    }
}

impl std::error::Error for ReplayError {}

/// The result of replaying one schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Replayed {
    /// The violation the schedule ends in, if any.
    pub violation: Option<Violation>,
    /// Step by step: client, statement, outcome.
    pub trace: Vec<String>,
    /// Step by step, as values: what `overbook confirm` compares with
    /// PostgreSQL.
    pub steps: Vec<StepOutcome>,
    /// The hash of the committed state at the end.
    pub final_state_hash: u64,
}

/// What one replayed step did in the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepOutcome {
    /// The task stepped; `None` for a clock step.
    pub task: Option<usize>,
    /// Whether the step resumed a statement that waited for a lock (the
    /// task's last step ended waiting): it finishes that statement.
    pub resumed: bool,
    /// The store statement it ran (`update clinic/...`), if any.
    pub statement: Option<String>,
    /// The alternative taken at a choice, or the clock's move.
    pub choice: Option<&'static str>,
    /// The SQLSTATE a statement failed with in this step, if any.
    pub error: Option<String>,
    /// Whether the step ended with the task waiting for a lock.
    pub waits: bool,
    /// Whether the task finished in this step.
    pub finished: bool,
}

fn parse_line(line: &str) -> Result<(usize, Vec<usize>), ReplayError> {
    let bad = |why: &str| {
        ReplayError(format!(
            "{why} in {line:?} (expected strategy:N-clients:c,c,... where c is a client, client.alternative, or t / t.alternative for a clock step)"
        ))
    };
    let mut parts = line.trim().splitn(3, ':');
    let strategy = parts.next().unwrap_or("");
    if !matches!(strategy, "dfs" | "pct" | "random") {
        return Err(bad("unknown strategy"));
    }
    let clients = parts
        .next()
        .and_then(|p| p.strip_suffix("-clients"))
        .and_then(|n| n.parse::<usize>().ok())
        .ok_or_else(|| bad("no client count"))?;
    let choices = parts
        .next()
        .ok_or_else(|| bad("no choices"))?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|c| {
            let (client, alternative) = c.split_once('.').unwrap_or((c, "0"));
            let client = match client {
                "t" => Ok(executor::CLOCK),
                client => client
                    .parse::<usize>()
                    .ok()
                    .filter(|&task| task < executor::CLOCK)
                    .ok_or(()),
            };
            match (client, alternative.parse::<usize>()) {
                (Ok(client), Ok(alternative))
                    if client < executor::CLIENTS_MAX && alternative < 1_000 =>
                {
                    Ok(executor::choice_id(client, alternative))
                }
                _ => Err(bad(&format!("{c:?} is not a client or client.alternative"))),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((clients, choices))
}

/// One step of a schedule line: the client stepped (`None` for a clock
/// step) and the alternative taken (`confirm` replays them on PostgreSQL).
#[cfg(feature = "postgres")]
pub(crate) type LineStep = (Option<usize>, usize);

/// The steps of a schedule line.
#[cfg(feature = "postgres")]
pub(crate) fn line_choices(line: &str) -> Result<Vec<LineStep>, ReplayError> {
    let (_, choices) = parse_line(line)?;
    let steps = choices
        .into_iter()
        .map(|id| {
            let task = executor::task_of(id);
            (
                (task != executor::CLOCK).then_some(task),
                executor::alternative_of(id),
            )
        })
        .collect();
    Ok(steps)
}

/// Runs exactly the interleaving `line` names and reports what it did. The
/// schedule is checked as it runs: every choice must name a client that
/// can step, and a line that stops while clients can still step ends in a
/// `liveness` violation (it was cut by the step limit).
pub fn replay<S>(model: &Model<S>, line: &str) -> Result<Replayed, ReplayError> {
    let (clients, choices) = parse_line(line)?;
    let mut run = Run::start(model);
    if run.clients() != clients {
        return Err(ReplayError(format!(
            "the line is for {clients} clients, the model has {}",
            run.clients()
        )));
    }
    let mut trace = Vec::with_capacity(choices.len());
    let mut steps = Vec::with_capacity(choices.len());
    let mut waiting = BTreeSet::new();
    let mut violation = None;
    for (index, &task) in choices.iter().enumerate() {
        let stalled = run
            .enabled()
            .iter()
            .all(|&id| executor::task_of(id) == executor::CLOCK);
        if executor::task_of(task) == executor::CLOCK && model.time_jumps == 0 && !stalled {
            return Err(ReplayError(format!(
                "step {index} moves the clock ({}) while tasks could run, but this model's time does not jump (set explore.time_jumps in the scenario)",
                choice_name(task)
            )));
        }
        if !run.enabled().contains(&task) {
            return Err(ReplayError(format!(
                "step {index}: client {} cannot step (enabled: {})",
                choice_name(task),
                match run.enabled() {
                    enabled if enabled.is_empty() => "none".to_string(),
                    enabled => enabled
                        .into_iter()
                        .map(choice_name)
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            )));
        }
        let before = run.store.stats();
        let record = run.step(task);
        trace.push(executor::describe(&run, index, &record, &before));
        steps.push(executor::outcome(&run, &record, &before, &mut waiting));
        if let Some(found) = check_state(model, &run) {
            violation = Some(found);
            if index + 1 != choices.len() {
                return Err(ReplayError(format!(
                    "{} broke at step {index}, before the line's end",
                    found_name(&violation)
                )));
            }
        }
    }
    let ending = match violation {
        Some((property, message)) => Some((property, message)),
        None => match liveness_if_stuck(model, &run) {
            Some(Ending::Violated { property, message }) => Some((property, message)),
            Some(_) => None,
            // Clients could still step: only a schedule cut by the step
            // limit ends like that; a shorter line was cut short.
            None if (choices.len() as u64) < Limits::default().steps_per_schedule_max => {
                return Err(ReplayError(format!(
                    "the line ends after {} steps while clients {:?} can still run: it is truncated, or from another version of the model",
                    choices.len(),
                    run.unfinished()
                )));
            }
            None => match step_limit_violation(&run) {
                Ending::Violated { property, message } => Some((property, message)),
                _ => None,
            },
        },
    };
    Ok(Replayed {
        violation: ending.map(|(property, message)| Violation {
            property,
            message,
            line: line.trim().to_string(),
            steps: choices.len() as u64,
            found_at_schedule: 0,
            trace: trace.clone(),
        }),
        trace,
        steps,
        final_state_hash: run.final_state_hash(),
    })
}

fn found_name(violation: &Option<(String, String)>) -> &str {
    violation.as_ref().map_or("", |(name, _)| name.as_str())
}
