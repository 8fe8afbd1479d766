//! Running a model under each tool and measuring it the same way.
//!
//! Executions are counted by the model itself, not taken from each tool's
//! own report: every loom and shuttle model calls [`execution_started`] as
//! its first statement, and records its final state with [`record_final`]
//! once every thread has joined. overbook's counts come from its
//! [`Report`] (`schedules + pruned`: a pruned execution is a real,
//! partially run execution that costs time too).

use overbook::explore::Limits;
use overbook::explore::{explore, Model, Report, Strategy};
use shuttle::scheduler::{
    DfsScheduler, PctScheduler, RandomScheduler, Schedule, Scheduler, Task, TaskId,
};
use std::collections::BTreeSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static EXECUTIONS: AtomicU64 = AtomicU64::new(0);
static FAILING: AtomicU64 = AtomicU64::new(0);
static FINALS: Mutex<BTreeSet<Vec<u64>>> = Mutex::new(BTreeSet::new());

/// The first statement of every loom and shuttle execution.
pub fn execution_started() {
    EXECUTIONS.fetch_add(1, Ordering::Relaxed);
}

/// The end of a complete execution: its final state, and whether it
/// breaks the case's property (counted, not asserted, when exhausting).
pub fn record_final(state: Vec<u64>, breaks_property: bool) {
    if breaks_property {
        FAILING.fetch_add(1, Ordering::Relaxed);
    }
    FINALS.lock().unwrap().insert(state);
}

/// overbook's `at_end` checks call this on every completed schedule.
pub fn count_failing() {
    FAILING.fetch_add(1, Ordering::Relaxed);
}

fn reset() {
    EXECUTIONS.store(0, Ordering::Relaxed);
    FAILING.store(0, Ordering::Relaxed);
    FINALS.lock().unwrap().clear();
}

/// How one run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The whole space was explored.
    Exhausted,
    /// The strategy stopped by itself without covering the whole space
    /// (a preemption bound, an iteration count).
    Bounded,
    /// A time or execution cap stopped it.
    Capped,
    /// The property failed in this execution (from 1).
    FailedAt(u64),
    /// The strategy ran out of iterations without finding the failure.
    NotFound,
}

/// One measured run.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub ending: Ending,
    pub executions: u64,
    pub seconds: f64,
    /// Distinct final states of completed executions, where known.
    pub final_states: Option<usize>,
    /// Completed executions that broke the property.
    pub failing: Option<u64>,
    /// overbook only: executions abandoned by sleep sets (counted in
    /// `executions`; the rest are complete schedules).
    pub pruned: Option<u64>,
}

impl Outcome {
    pub fn rate(&self) -> f64 {
        self.executions as f64 / self.seconds.max(1e-9)
    }
}

/// Runs `run` `repeat` times; returns the fastest (highest executions per
/// second) and the slowest rate seen.
pub fn best_of(repeat: usize, mut run: impl FnMut() -> Outcome) -> (Outcome, f64) {
    let mut best: Option<Outcome> = None;
    let mut slowest = f64::INFINITY;
    for _ in 0..repeat.max(1) {
        let outcome = run();
        slowest = slowest.min(outcome.rate());
        if best.as_ref().is_none_or(|b| outcome.rate() > b.rate()) {
            best = Some(outcome);
        }
    }
    (best.expect("at least one run"), slowest)
}

static QUIET: AtomicBool = AtomicBool::new(false);

/// Installs, once and first, a panic hook that stays silent while a
/// [`QuietPanics`] is alive. Swapping hooks in and out instead would drop
/// the hook the `generator` crate (under loom and shuttle) installs on
/// first use to silence its own control-flow panics.
pub fn install_panic_hook() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if !QUIET.load(Ordering::Relaxed) {
            previous(info);
        }
    }));
}

/// Silences panic messages while alive (for runs that are expected to
/// fail: the failure is caught and reported in the table).
pub struct QuietPanics(());

impl QuietPanics {
    pub fn new() -> QuietPanics {
        QUIET.store(true, Ordering::Relaxed);
        QuietPanics(())
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        QUIET.store(false, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------- overbook

/// Runs overbook's explorer once.
pub fn overbook<S>(model: &Model<S>, strategy: Strategy, limits: Limits) -> (Report, Outcome) {
    reset();
    let begin = Instant::now();
    let report = explore(model, strategy, limits);
    let seconds = begin.elapsed().as_secs_f64();
    let executions = report.schedules + report.pruned;
    let ending = if limits.stop_at_first_violation && !report.violations.is_empty() {
        Ending::FailedAt(report.violations[0].found_at_schedule)
    } else if report.exhausted {
        Ending::Exhausted
    } else if executions >= limits.schedules_max {
        Ending::Capped
    } else if matches!(strategy, Strategy::Dfs(_)) {
        Ending::Bounded
    } else {
        Ending::NotFound
    };
    let complete = !matches!(ending, Ending::FailedAt(_));
    let outcome = Outcome {
        ending,
        executions,
        seconds,
        final_states: complete.then_some(report.distinct_final_states),
        failing: complete.then(|| FAILING.load(Ordering::Relaxed)),
        pruned: Some(report.pruned),
    };
    (report, outcome)
}

// -------------------------------------------------------------------- loom

/// loom settings, set field by field (never from `LOOM_*` variables).
#[derive(Clone, Copy, Debug)]
pub struct LoomSettings {
    pub preemption_bound: Option<usize>,
    pub cap: Duration,
}

/// loom checks its time limit only every `checkpoint_interval` iterations.
const LOOM_CHECK_EVERY: usize = 1_000;

/// Runs `f` under `loom::model::Builder::check`.
pub fn loom(settings: LoomSettings, f: impl Fn() + Sync + Send + 'static) -> Outcome {
    reset();
    let mut builder = loom::model::Builder::new();
    builder.max_threads = 5;
    builder.max_branches = 1_000;
    builder.max_permutations = None;
    builder.max_duration = Some(settings.cap);
    builder.checkpoint_interval = LOOM_CHECK_EVERY;
    builder.checkpoint_file = None;
    builder.preemption_bound = settings.preemption_bound;
    builder.location = false;
    builder.log = false;
    let begin = Instant::now();
    let result = panic::catch_unwind(AssertUnwindSafe(|| builder.check(f)));
    let seconds = begin.elapsed().as_secs_f64();
    let executions = EXECUTIONS.load(Ordering::Relaxed);
    // loom returns quietly both when it is done and when `max_duration`
    // passed; the latter only happens right before an iteration whose
    // number is a multiple of the checkpoint interval.
    let capped = seconds >= settings.cap.as_secs_f64()
        && (executions + 1).is_multiple_of(LOOM_CHECK_EVERY as u64);
    let ending = match result {
        Err(_) => Ending::FailedAt(executions),
        Ok(()) if capped => Ending::Capped,
        Ok(()) if settings.preemption_bound.is_some() => Ending::Bounded,
        Ok(()) => Ending::Exhausted,
    };
    finish(ending, executions, seconds)
}

fn finish(ending: Ending, executions: u64, seconds: f64) -> Outcome {
    let complete = !matches!(ending, Ending::FailedAt(_));
    Outcome {
        ending,
        executions,
        seconds,
        final_states: complete.then(|| FINALS.lock().unwrap().len()),
        failing: complete.then(|| FAILING.load(Ordering::Relaxed)),
        pruned: None,
    }
}

// ----------------------------------------------------------------- shuttle

/// Which shuttle scheduler.
#[derive(Clone, Copy, Debug)]
pub enum ShuttleStrategy {
    /// `check_dfs(f, None)`.
    Dfs,
    /// `check_pct(f, iterations, depth)`, from a seed.
    Pct { depth: usize, seed: u64 },
    /// `check_random(f, iterations)`, from a seed.
    Random { seed: u64 },
}

/// A scheduler that tells whether the one inside ran out of executions.
struct Tracked<S> {
    inner: S,
    ran_out: Arc<AtomicBool>,
}

impl<S: Scheduler> Scheduler for Tracked<S> {
    fn new_execution(&mut self) -> Option<Schedule> {
        let next = self.inner.new_execution();
        if next.is_none() {
            self.ran_out.store(true, Ordering::Relaxed);
        }
        next
    }

    fn next_task(
        &mut self,
        runnable: &[&Task],
        current: Option<TaskId>,
        is_yielding: bool,
    ) -> Option<TaskId> {
        self.inner.next_task(runnable, current, is_yielding)
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
}

/// Runs `f` under a shuttle `Runner`: the same schedulers the `check_*`
/// functions build, with a `Config` that adds a time cap and does not
/// print failing schedules.
pub fn shuttle(
    strategy: ShuttleStrategy,
    iterations: Option<usize>,
    cap: Duration,
    f: impl Fn() + Send + Sync + 'static,
) -> Outcome {
    reset();
    let mut config = shuttle::Config::new();
    config.max_time = Some(cap);
    config.failure_persistence = shuttle::FailurePersistence::None;
    let ran_out = Arc::new(AtomicBool::new(false));
    let begin = Instant::now();
    let result = panic::catch_unwind(AssertUnwindSafe(|| match strategy {
        ShuttleStrategy::Dfs => {
            run_shuttle(DfsScheduler::new(iterations, false), &ran_out, config, f)
        }
        ShuttleStrategy::Pct { depth, seed } => run_shuttle(
            PctScheduler::new_from_seed(seed, depth, iterations.unwrap_or(usize::MAX)),
            &ran_out,
            config,
            f,
        ),
        ShuttleStrategy::Random { seed } => run_shuttle(
            RandomScheduler::new_from_seed(seed, iterations.unwrap_or(usize::MAX)),
            &ran_out,
            config,
            f,
        ),
    }));
    let seconds = begin.elapsed().as_secs_f64();
    let executions = EXECUTIONS.load(Ordering::Relaxed);
    let ran_out = ran_out.load(Ordering::Relaxed);
    let ending = match (result, strategy) {
        (Err(_), _) => Ending::FailedAt(executions),
        (Ok(_), _) if !ran_out => Ending::Capped,
        (Ok(_), ShuttleStrategy::Dfs) if iterations.is_none() => Ending::Exhausted,
        (Ok(_), ShuttleStrategy::Dfs) => Ending::Bounded,
        (Ok(_), _) => Ending::NotFound,
    };
    finish(ending, executions, seconds)
}

fn run_shuttle<S: Scheduler + 'static>(
    inner: S,
    ran_out: &Arc<AtomicBool>,
    config: shuttle::Config,
    f: impl Fn() + Send + Sync + 'static,
) -> usize {
    let scheduler = Tracked {
        inner,
        ran_out: Arc::clone(ran_out),
    };
    shuttle::Runner::new(scheduler, config).run(f)
}
