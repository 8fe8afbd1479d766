//! `fuzz`: many seeds, in parallel, with a corpus of what fails.

use super::Context;
use crate::corpus::Entry;
use crate::crash;
use crate::error::InputError;
use crate::scenario::Scenario;
use crate::seed::{fnv1a, Seed};
use crate::system::{System, Variant};
use crate::world::{Report, RunOptions};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Arguments of `fuzz`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// Scenario files or bundled names; every seed runs on each.
    #[arg(required = true)]
    sims: Vec<String>,
    /// Seed range `A..B` (B excluded), e.g. `1..1001`.
    #[arg(long, conflicts_with = "time")]
    seeds: Option<String>,
    /// Run seeds from `--first-seed` upward for this long: `90s`, `30m`, `2h`.
    #[arg(long)]
    time: Option<String>,
    /// First seed for `--time`.
    #[arg(long, default_value_t = 1)]
    first_seed: u64,
    /// Service variant.
    #[arg(long, default_value = "correct")]
    variant: String,
    /// Worker threads (default: all cores). Each simulation is single-threaded.
    #[arg(long)]
    jobs: Option<usize>,
    /// Take share K of N (`--shard 2/8`): seeds whose offset in the range is
    /// K modulo N, so N machines split a range with no overlap.
    #[arg(long)]
    shard: Option<String>,
    /// Swarm testing: each seed also draws which faults are on, and how strong.
    #[arg(long)]
    swarm: bool,
    /// Write each failure as a corpus entry into this folder.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Run every seed twice and compare trace hashes.
    #[arg(long)]
    check_determinism: bool,
    /// Fraction of seeds run twice for the determinism check.
    #[arg(long, default_value_t = 0.05)]
    determinism_fraction: f64,
    /// Override a scenario field (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    #[command(flatten)]
    history: super::HistoryFlags,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// Write one JUnit test case per sim and seed to this file.
    #[arg(long, value_name = "FILE.xml")]
    junit: Option<PathBuf>,
}

/// Parses `A..B`.
fn parse_range(text: &str) -> Result<(u64, u64), InputError> {
    let bad = || {
        InputError::new(format!("`{text}`: expected A..B with A < B, e.g. 1..1001"))
            .in_source("--seeds")
    };
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b: u64 = b.trim().parse().map_err(|_| bad())?;
    if a >= b {
        return Err(bad());
    }
    Ok((a, b))
}

/// Parses `K/N` with K < N.
fn parse_shard(text: &str) -> Result<(u64, u64), InputError> {
    let bad = || {
        InputError::new(format!("`{text}`: expected K/N with 0 <= K < N, e.g. 0/4"))
            .in_source("--shard")
    };
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let k: u64 = k.trim().parse().map_err(|_| bad())?;
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || k >= n {
        return Err(bad());
    }
    Ok((k, n))
}

/// The longest `--time`: 30 days.
const TIME_MAX_S: u64 = 30 * 24 * 3600;

/// The most `--jobs`.
const JOBS_MAX: usize = 1024;

/// Parses `90s`, `30m`, `2h`.
fn parse_duration(text: &str) -> Result<Duration, InputError> {
    let bad = || {
        InputError::new(format!(
            "`{text}`: expected a number and s, m or h, e.g. 30m"
        ))
        .in_source("--time")
    };
    let text = text.trim();
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let number: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => number.checked_mul(1),
        "m" => number.checked_mul(60),
        "h" => number.checked_mul(3600),
        _ => return Err(bad()),
    };
    match seconds {
        Some(seconds @ 1..=TIME_MAX_S) => Ok(Duration::from_secs(seconds)),
        _ => Err(InputError::new(format!(
            "`{text}`: must be between 1s and {}h",
            TIME_MAX_S / 3600
        ))
        .in_source("--time")),
    }
}

/// What swarm testing may inject without a correct service failing on
/// the injections alone: a finding must be the service's, not the faults'.
#[derive(Clone, Copy, Debug, PartialEq)]
struct FaultBudget {
    /// Attempts a request gets against 40001/40P01
    /// ([`System::retry_attempts`]); `None`: not declared.
    attempts: Option<u32>,
    /// Requests a run makes, about (users times operations per user).
    requests: f64,
}

/// The chance, per run, that some request of a correct service spends its
/// whole retry budget on injected 40001s alone: small enough that 2,000
/// seeds of every sim expect none.
const INJECTED_EXHAUSTION_PER_RUN: f64 = 1e-6;

/// Statements per attempt the budget assumes (the bundled services' and
/// the example's transactions take 2 to 6).
const STATEMENTS_PER_ATTEMPT: f64 = 8.0;

/// Mean latency a store spike adds per statement at most, in ms: rare and
/// long, as a real database's stalls are, not a standing delay on a row
/// lock every request queues on (a congestion collapse no real database
/// shows at that rate).
const SPIKE_MS_PER_STATEMENT_MAX: f64 = 2.0;

impl FaultBudget {
    /// The budget of `system` on `scenario`.
    fn of<S: System>(system: &S, scenario: &Scenario) -> FaultBudget {
        let settings = scenario.settings(system).ok();
        let attempts = settings.as_ref().and_then(|s| system.retry_attempts(s));
        let ops = settings
            .as_ref()
            .and_then(|s| system.operations_per_user(s))
            .map_or(1, |(_, ops)| ops.max(1));
        let users: f64 = scenario
            .phases
            .iter()
            .map(|phase| {
                let mean_rate =
                    (phase.arrival_rate + phase.ramp_to.unwrap_or(phase.arrival_rate)) / 2.0;
                f64::from(phase.burst) + mean_rate * phase.duration_s as f64
            })
            .sum();
        FaultBudget {
            attempts,
            requests: (users * ops as f64).max(1.0),
        }
    }

    /// The highest injected 40001 probabilities (per statement, at commit)
    /// within the budget: every attempt of a request fails on injections
    /// with probability `q^attempts`, which over the run's requests stays
    /// under [`INJECTED_EXHAUSTION_PER_RUN`].
    fn serialization_failures_max(&self) -> (f64, f64) {
        let (per_statement, at_commit) = (0.05, 0.1);
        let Some(attempts) = self.attempts else {
            return (per_statement, at_commit);
        };
        let per_attempt =
            (INJECTED_EXHAUSTION_PER_RUN / self.requests).powf(1.0 / f64::from(attempts.max(1)));
        (
            per_statement.min(per_attempt / 2.0 / STATEMENTS_PER_ATTEMPT),
            at_commit.min(per_attempt / 2.0),
        )
    }
}

/// Swarm testing: which faults this seed turns on, as `--set` overrides
/// (so a found case replays from its corpus entry alone), within `budget`.
fn swarm_overrides(scenario: &Scenario, seed: u64, budget: &FaultBudget) -> Vec<String> {
    let mut rng = Seed(seed).stream("swarm");
    let mut overrides = Vec::new();
    // Drawn as a fraction of its range, so that a seed's draws keep their
    // order whatever the ranges.
    let probability = |rng: &mut crate::seed::Rng64, max: f64| {
        rng.chance(0.5)
            .then(|| (rng.unit() * max * 1000.0).round() / 1000.0)
    };
    let (per_statement_max, at_commit_max) = budget.serialization_failures_max();
    let per_statement = probability(&mut rng, 1.0).map(|f| f * per_statement_max);
    let at_commit = probability(&mut rng, 1.0).map(|f| f * at_commit_max);
    let spike = probability(&mut rng, 0.05);
    let lost = probability(&mut rng, 0.05);
    let drawn_spike_ms = rng.chance(0.5).then(|| rng.between(20, 500));
    // A spike longer than a quarter of the scenario's bound on a request
    // would be the harness's liveness violation (as for host stalls below).
    let spike_ms = drawn_spike_ms
        .unwrap_or(scenario.store.latency.spike_ms)
        .min(stall_ms_max(scenario));
    let spike = spike.map(|p| p.min(SPIKE_MS_PER_STATEMENT_MAX / spike_ms.max(1) as f64));
    let rounded = |p: Option<f64>| p.map_or(0.0, |p| (p * 1e6).floor() / 1e6);
    for (name, p) in [
        (
            "store.faults.serialization_failure_per_statement",
            per_statement,
        ),
        ("store.faults.serialization_failure_at_commit", at_commit),
        ("store.latency.spike_probability", spike),
        ("faults.lost_response_probability", lost),
    ] {
        overrides.push(format!("{name}={:?}", rounded(p)));
    }
    if drawn_spike_ms.is_some() || spike_ms < scenario.store.latency.spike_ms {
        overrides.push(format!("store.latency.spike_ms={spike_ms}"));
    }
    let duration_s = scenario.arrivals_end_ms() / 1000;
    if duration_s > 2 && rng.chance(0.3) {
        let server = rng.below(u64::from(scenario.topology.api_servers));
        let at_s = rng.below(duration_s);
        let down_s = rng.between(1, 10);
        overrides.push(format!(
            "faults.crashes=[{{at_s = {at_s}, server = {server}, down_s = {down_s}}}]"
        ));
    }
    if duration_s > 2 && rng.chance(0.3) {
        let server = rng.below(u64::from(scenario.topology.api_servers));
        let at_s = rng.below(duration_s);
        let lasts = rng.between(1, 5);
        overrides.push(format!(
            "faults.partitions=[{{at_s = {at_s}, duration_s = {lasts}, a = \"api-{server}\", b = \"clients-*\"}}]"
        ));
    }
    swarm_host_faults(scenario, &mut rng, &mut overrides);
    overrides
}

/// The longest stall swarm draws: a quarter of the scenario's bound on a
/// request (stalls can add up), unbounded without one.
fn stall_ms_max(scenario: &Scenario) -> u64 {
    scenario
        .liveness
        .answer_ms_max()
        .map_or(u64::MAX, |bound| (bound / 4).max(1))
}

/// Swarm testing's draws of the API hosts' own faults: clocks off the
/// database's, pauses, spikes and buggify. Drawn after the others, so the
/// older draws of a seed stay what they were.
fn swarm_host_faults(
    scenario: &Scenario,
    rng: &mut crate::seed::Rng64,
    overrides: &mut Vec<String>,
) {
    if rng.chance(0.5) {
        overrides.push(format!(
            "faults.clock.offset_ms_max={}",
            rng.between(1, 500)
        ));
        overrides.push(format!(
            "faults.clock.drift_ppm_max={}",
            rng.between(0, 200)
        ));
    }
    // A stall longer than the scenario's own bound on a request would be
    // the harness's liveness violation, not the service's: keep pauses and
    // spikes (which can add up) to a quarter of it.
    let stall_ms_max = stall_ms_max(scenario);
    let duration = |name: &str, low: u64, high: u64, rng: &mut crate::seed::Rng64| {
        let max_ms = rng.between(low, high).min(stall_ms_max);
        let min_ms = (max_ms / 4).max(1).min(max_ms);
        [
            format!("faults.{name}.min_ms={min_ms}"),
            format!("faults.{name}.max_ms={max_ms}"),
        ]
    };
    // Rare, as GC stalls and slow disks are: a stall under a lock every
    // request takes holds them all up, and frequent ones would only test
    // the scenario's capacity.
    if rng.chance(0.5) {
        let p = (rng.unit() * 0.0005 * 100_000.0).round() / 100_000.0;
        overrides.push(format!("faults.pause.probability={p}"));
        overrides.extend(duration("pause", 50, 1000, rng));
    }
    if rng.chance(0.5) {
        let p = (rng.unit() * 0.005 * 10_000.0).round() / 10_000.0;
        let commit = (rng.unit() * 0.01 * 10_000.0).round() / 10_000.0;
        overrides.push(format!("faults.spike.probability={p}"));
        overrides.push(format!("faults.spike.commit_probability={commit}"));
        overrides.extend(duration("spike", 20, 200, rng));
    }
    if rng.chance(0.5) {
        overrides.push("faults.buggify.enabled=true".to_string());
    }
}

struct Job {
    sim_index: usize,
    seed: u64,
}

struct Outcome {
    sim_index: usize,
    seed: u64,
    overrides: Vec<String>,
    report: Report,
    determinism: Option<Result<(), (String, String)>>,
    wall: Duration,
}

#[derive(Serialize)]
struct Finding {
    sim: String,
    seed: u64,
    invariant: String,
    message: String,
    trace_hash: String,
    replay: String,
    saved: Option<String>,
}

#[derive(Serialize)]
struct Summary {
    sims: Vec<String>,
    variant: String,
    seeds_run: u64,
    failures: u64,
    determinism_checked: u64,
    determinism_mismatches: u64,
    wall_ms: u64,
    seeds_per_second: f64,
    findings: Vec<Finding>,
    /// Passing runs whose history showed anomalies that their isolation
    /// level allows (reported, not failures).
    runs_with_allowed_anomalies: u64,
    /// Swarm runs that held every invariant and liveness but missed one of
    /// the scenario's thresholds under the faults they drew (reported,
    /// not failures).
    swarm_thresholds_missed: u64,
    interrupted: bool,
}

pub(super) fn run<S: System>(context: &Context<'_, S>, args: Args) -> u8 {
    match run_inner(context, args) {
        Ok(code) => code,
        Err(err) => super::usage_error(&err),
    }
}

fn run_inner<S: System>(context: &Context<'_, S>, args: Args) -> Result<u8, InputError> {
    let mut args = args;
    let history_overrides = args.history.overrides();
    args.overrides.extend(history_overrides);
    let variant = context.variant(&args.variant)?;
    let scenarios: Vec<Scenario> = args
        .sims
        .iter()
        .map(|sim| context.load_scenario(sim, &args.overrides))
        .collect::<Result<_, _>>()?;
    let plan = SeedPlan::from_args(&args)?;
    if !(0.0..=1.0).contains(&args.determinism_fraction) {
        return Err(InputError::new("must be between 0 and 1").in_source("--determinism-fraction"));
    }
    let jobs = job_count(&args)?;
    if let Some(dir) = &args.save {
        super::check_writable(dir, "--save")?;
    }
    let stop = interrupt_flag();
    let total_jobs = plan.per_sim_total().map(|n| n * scenarios.len() as u64);
    let progress = progress_bar(total_jobs, args.json);
    let next = AtomicU64::new(0);
    let started = Instant::now();
    let (sender, receiver) = mpsc::channel::<Outcome>();
    let mut sweep = Sweep::new();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let sender = sender.clone();
            let (next, stop, scenarios, args, plan) = (&next, &stop, &scenarios, &args, &plan);
            scope.spawn(move || {
                run_seeds(context, scenarios, args, variant, plan, next, stop, sender)
            });
        }
        drop(sender);
        for outcome in receiver {
            sweep.take(context, &args, &scenarios, variant, &progress, outcome);
        }
    });
    progress.finish_and_clear();
    let wall = started.elapsed();
    let summary = sweep.summary(&args, variant, wall, stop.load(Ordering::SeqCst));
    if let Some(path) = &args.junit {
        sweep.junit.write(path)?;
    }
    print_summary(&summary, &args, jobs, wall);
    Ok(
        if summary.determinism_mismatches > 0 || summary.failures > 0 {
            super::EXIT_FAILURE
        } else if summary.interrupted {
            super::EXIT_INTERRUPTED
        } else {
            super::EXIT_PASS
        },
    )
}

/// The seeds a sweep runs: a range (`--seeds`), or from `--first-seed`
/// until a deadline (`--time`), or 1..101; of them, this shard's.
struct SeedPlan {
    first: u64,
    end: Option<u64>,
    deadline: Option<Instant>,
    shard: u64,
    shards: u64,
}

impl SeedPlan {
    fn from_args(args: &Args) -> Result<Self, InputError> {
        let (shard, shards) = match &args.shard {
            Some(text) => parse_shard(text)?,
            None => (0, 1),
        };
        let (first, end, deadline) = match (&args.seeds, &args.time) {
            (Some(range), _) => {
                let (a, b) = parse_range(range)?;
                (a, Some(b), None)
            }
            (None, Some(time)) => (
                args.first_seed,
                None,
                Some(
                    Instant::now()
                        .checked_add(parse_duration(time)?)
                        .ok_or_else(|| InputError::new("too long").in_source("--time"))?,
                ),
            ),
            (None, None) => (1, Some(101), None),
        };
        Ok(SeedPlan {
            first,
            end,
            deadline,
            shard,
            shards,
        })
    }

    /// How many seeds each sim runs in this shard, when the range ends.
    fn per_sim_total(&self) -> Option<u64> {
        // Seed offsets in this shard: first + shard, first + shard + shards, ...
        self.end.map(|b| {
            (b - self.first)
                .saturating_sub(self.shard)
                .div_ceil(self.shards)
        })
    }

    /// The run the `index`th pick stands for (the sims take turns at each
    /// seed), or `None` once the seeds are spent.
    fn job(&self, index: u64, sims_count: u64) -> Option<Job> {
        // Past u64::MAX there are no seeds left.
        let seed = (index / sims_count)
            .checked_mul(self.shards)
            .and_then(|offset| offset.checked_add(self.shard))
            .and_then(|offset| offset.checked_add(self.first))?;
        if self.end.is_some_and(|b| seed >= b) {
            return None;
        }
        Some(Job {
            sim_index: (index % sims_count) as usize,
            seed,
        })
    }
}

/// `--jobs`, or one per core.
fn job_count(args: &Args) -> Result<usize, InputError> {
    match args.jobs {
        Some(jobs @ 1..=JOBS_MAX) => Ok(jobs),
        Some(_) => {
            Err(InputError::new(format!("must be between 1 and {JOBS_MAX}")).in_source("--jobs"))
        }
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// The sweep's progress bar (a spinner when the seeds have no end),
/// hidden under `--json`.
fn progress_bar(total_jobs: Option<u64>, json: bool) -> ProgressBar {
    let progress = match total_jobs {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::new_spinner(),
    };
    progress.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {pos}/{len} seeds {per_sec} eta {eta} {msg}",
        )
        .expect("valid template"),
    );
    if json {
        progress.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    progress
}

/// One worker thread: runs the next seed of the sweep until the seeds,
/// the time or the receiver run out, or Ctrl-C stops the sweep.
#[allow(clippy::too_many_arguments)]
fn run_seeds<S: System>(
    context: &Context<'_, S>,
    scenarios: &[Scenario],
    args: &Args,
    variant: Variant,
    plan: &SeedPlan,
    next: &AtomicU64,
    stop: &AtomicBool,
    sender: mpsc::Sender<Outcome>,
) {
    let sims_count = scenarios.len() as u64;
    loop {
        if stop.load(Ordering::SeqCst) || plan.deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        let index = next.fetch_add(1, Ordering::SeqCst);
        let Some(job) = plan.job(index, sims_count) else {
            return;
        };
        let outcome = run_one(
            context.system,
            &scenarios[job.sim_index],
            &args.sims[job.sim_index],
            &job,
            variant,
            args,
        );
        if sender.send(outcome).is_err() {
            return;
        }
    }
}

/// What the sweep has seen so far, outcome by outcome as they arrive.
struct Sweep {
    findings: Vec<Finding>,
    seeds_run: u64,
    determinism_checked: u64,
    determinism_mismatches: u64,
    runs_with_allowed_anomalies: u64,
    swarm_thresholds_missed: u64,
    junit: crate::junit::Junit,
}

impl Sweep {
    fn new() -> Self {
        Sweep {
            findings: Vec::new(),
            seeds_run: 0,
            determinism_checked: 0,
            determinism_mismatches: 0,
            runs_with_allowed_anomalies: 0,
            swarm_thresholds_missed: 0,
            junit: crate::junit::Junit::new("overbook fuzz"),
        }
    }

    /// Counts one run's outcome, reporting what it found as it comes.
    fn take<S: System>(
        &mut self,
        context: &Context<'_, S>,
        args: &Args,
        scenarios: &[Scenario],
        variant: Variant,
        progress: &ProgressBar,
        outcome: Outcome,
    ) {
        self.seeds_run += 1;
        progress.inc(1);
        if let Some(check) = &outcome.determinism {
            self.determinism_checked += 1;
            if let Err((a, b)) = check {
                self.determinism_mismatches += 1;
                progress.suspend(|| {
                    eprintln!(
                        "HARNESS BUG: {} seed {} is not deterministic: trace hashes {a} and {b}",
                        args.sims[outcome.sim_index], outcome.seed
                    )
                });
                if let Some(dir) = &args.save {
                    keep_traces(
                        context.system,
                        dir,
                        &scenarios[outcome.sim_index],
                        &outcome,
                        variant,
                    );
                }
            }
        }
        self.note_allowed_anomalies(args, progress, &outcome);
        let finding = self.judge(context, args, progress, &outcome);
        if args.junit.is_some() {
            self.junit.push(junit_case(&outcome, finding.as_ref()));
        }
        if let Some(found) = finding {
            self.findings.push(found);
            progress.set_message(format!("{} failing", self.findings.len()));
        }
    }

    /// Counts a passing run whose history shows anomalies its isolation
    /// level allows, printing the first few.
    fn note_allowed_anomalies(&mut self, args: &Args, progress: &ProgressBar, outcome: &Outcome) {
        let history = &outcome.report.history;
        if outcome.report.passed && !history.findings.is_empty() {
            self.runs_with_allowed_anomalies += 1;
            // The first few, so a sweep shows write skew no invariant
            // names without a line per seed.
            if self.runs_with_allowed_anomalies <= ALLOWED_ANOMALIES_SHOWN && !args.json {
                let first = &history.findings[0];
                progress.suspend(|| {
                    outln!(
                        "anomaly {} seed {}: {} allowed at {} (not a failure; --history-anomalies fatal makes it one): {}",
                        args.sims[outcome.sim_index],
                        outcome.seed,
                        first.anomaly,
                        first.allowed_by,
                        first.cycle
                    );
                });
            }
        }
    }

    /// The finding a failed run makes (recorded and printed), unless it
    /// is a swarm run that only missed a threshold, which is counted.
    fn judge<S: System>(
        &mut self,
        context: &Context<'_, S>,
        args: &Args,
        progress: &ProgressBar,
        outcome: &Outcome,
    ) -> Option<Finding> {
        // A scenario's thresholds state what its fault-free run should
        // count (`requests.reserve.409 == 2995`); a crash or a lost
        // response that swarm drew changes those counts without any
        // fault of the service's. Swarm judges invariants and liveness.
        let swarm_threshold_only = args.swarm
            && !outcome.report.passed
            && outcome.report.violation.is_none()
            && outcome.report.harness_error.is_none();
        if swarm_threshold_only {
            self.swarm_thresholds_missed += 1;
            if self.swarm_thresholds_missed <= ALLOWED_ANOMALIES_SHOWN && !args.json {
                progress.suspend(|| {
                    outln!(
                        "threshold {} seed {}: {} under swarm's faults (not a failure: swarm judges invariants and liveness)",
                        args.sims[outcome.sim_index],
                        outcome.seed,
                        failed_thresholds(&outcome.report)
                    );
                });
            }
            return None;
        }
        if outcome.report.passed {
            return None;
        }
        let found = record(context, args, outcome, &args.sims[outcome.sim_index]);
        progress.suspend(|| {
            if !args.json {
                outln!(
                    "FAIL {} seed {}: {} ({:.1} s)\n  {}\n  reproduce: {}",
                    found.sim,
                    found.seed,
                    found.invariant,
                    outcome.wall.as_secs_f64(),
                    found.message,
                    found.replay
                );
                if let Some(saved) = &found.saved {
                    outln!("  saved: {saved}");
                }
            }
        });
        Some(found)
    }

    /// The sweep's summary; the findings move into it.
    fn summary(
        &mut self,
        args: &Args,
        variant: Variant,
        wall: Duration,
        interrupted: bool,
    ) -> Summary {
        Summary {
            sims: args.sims.clone(),
            variant: variant.name().to_string(),
            seeds_run: self.seeds_run,
            failures: self.findings.len() as u64,
            determinism_checked: self.determinism_checked,
            determinism_mismatches: self.determinism_mismatches,
            wall_ms: wall.as_millis() as u64,
            seeds_per_second: self.seeds_run as f64 / wall.as_secs_f64().max(1e-9),
            findings: std::mem::take(&mut self.findings),
            runs_with_allowed_anomalies: self.runs_with_allowed_anomalies,
            swarm_thresholds_missed: self.swarm_thresholds_missed,
            interrupted,
        }
    }
}

/// Prints the summary: as JSON under `--json`, else a line with the
/// counts the sweep reports beside its failures.
fn print_summary(summary: &Summary, args: &Args, jobs: usize, wall: Duration) {
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(summary).expect("summary serializes")
        );
        return;
    }
    outln!(
        "fuzz: {} runs over {} sim(s) in {:.1} s ({:.2}/s, {} jobs{}): {} failing, determinism {}/{} ok{}",
        summary.seeds_run,
        args.sims.len(),
        wall.as_secs_f64(),
        summary.seeds_per_second,
        jobs,
        args.shard.as_ref().map_or(String::new(), |s| format!(", shard {s}")),
        summary.failures,
        summary.determinism_checked - summary.determinism_mismatches,
        summary.determinism_checked,
        if summary.interrupted { " (interrupted: results so far kept)" } else { "" }
    );
    if summary.swarm_thresholds_missed > 0 {
        outln!(
            "thresholds: {} swarm run(s) held every invariant but missed a threshold under their faults (not failures)",
            summary.swarm_thresholds_missed
        );
    }
    if summary.runs_with_allowed_anomalies > 0 {
        outln!(
            "history: {} passing run(s) showed anomalies their isolation level allows (see `run --seed N` for each)",
            summary.runs_with_allowed_anomalies
        );
    }
}

/// The flag Ctrl-C sets, cleared for this sweep. The handler is installed
/// once per process; a second Ctrl-C while a sweep stops exits at once.
fn interrupt_flag() -> &'static AtomicBool {
    static INTERRUPTED: AtomicBool = AtomicBool::new(false);
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                std::process::exit(i32::from(super::EXIT_INTERRUPTED));
            }
        });
    });
    INTERRUPTED.store(false, Ordering::SeqCst);
    &INTERRUPTED
}

/// Passing runs with allowed history anomalies printed at most.
const ALLOWED_ANOMALIES_SHOWN: u64 = 5;

/// The arrival jitter fuzz gives scenarios that do not set
/// `run.arrival_jitter`: anywhere within the gap.
const DEFAULT_ARRIVAL_JITTER: f64 = 1.0;

fn run_one<S: System>(
    system: &S,
    base: &Scenario,
    _sim: &str,
    job: &Job,
    variant: Variant,
    args: &Args,
) -> Outcome {
    let mut drawn = if args.swarm {
        swarm_overrides(base, job.seed, &FaultBudget::of(system, base))
    } else {
        Vec::new()
    };
    // Evenly spaced arrivals (Artillery's) let no seed line two users up;
    // unless the scenario pins it, each seed moves its arrivals within
    // their gap. The override is recorded, so the entry replays alike.
    if base.run.arrival_jitter.is_none() {
        drawn.push(format!("run.arrival_jitter={DEFAULT_ARRIVAL_JITTER}"));
    }
    let (scenario, overrides) = match base.with_overrides(&drawn) {
        Ok(s) => (s, drawn),
        Err(_) => (base.clone(), Vec::new()),
    };
    let started = Instant::now();
    let report = crash::run(system, &scenario, Seed(job.seed), variant);
    let wall = started.elapsed();
    let selected = args.check_determinism
        || (fnv1a(&job.seed.to_le_bytes()) % 1_000_000)
            < (args.determinism_fraction * 1_000_000.0) as u64;
    let determinism = selected.then(|| {
        let again = crash::run(system, &scenario, Seed(job.seed), variant);
        if again.trace_hash == report.trace_hash {
            Ok(())
        } else {
            Err((report.trace_hash.clone(), again.trace_hash))
        }
    });
    let mut all_overrides = args.overrides.clone();
    all_overrides.extend(overrides);
    Outcome {
        sim_index: job.sim_index,
        seed: job.seed,
        overrides: all_overrides,
        report,
        determinism,
        wall,
    }
}

fn record<S: System>(
    context: &Context<'_, S>,
    args: &Args,
    outcome: &Outcome,
    sim: &str,
) -> Finding {
    let entry = Entry::from_report(
        sim,
        &outcome.overrides,
        &outcome.report,
        format!(
            "{} fuzz {sim} --variant {}{}",
            context.program(),
            outcome.report.variant,
            if args.swarm { " --swarm" } else { "" }
        ),
    );
    let saved = args.save.as_ref().and_then(|dir| match entry.save(dir) {
        Ok(path) => Some(path.display().to_string()),
        Err(err) => {
            eprintln!("error: could not save the finding: {err}");
            None
        }
    });
    let (invariant, message) = match (&outcome.report.violation, &outcome.report.harness_error) {
        (Some(v), _) => (v.invariant.clone(), v.message.clone()),
        (None, Some(err)) => ("harness-error".to_string(), err.clone()),
        (None, None) => ("threshold".to_string(), failed_thresholds(&outcome.report)),
    };
    Finding {
        sim: sim.to_string(),
        seed: outcome.seed,
        invariant,
        message,
        trace_hash: outcome.report.trace_hash.clone(),
        replay: entry.replay_command_with(context.program()),
        saved,
    }
}

/// The thresholds a report failed, with their measured values.
fn failed_thresholds(report: &Report) -> String {
    let failed: Vec<String> = report
        .thresholds
        .iter()
        .filter(|t| !t.passed)
        .map(|t| match t.actual {
            Some(actual) => format!("{} {} failed (actual {actual})", t.metric, t.condition),
            None => format!("{} {} failed (no such metric)", t.metric, t.condition),
        })
        .collect();
    if failed.is_empty() {
        "a threshold failed".to_string()
    } else {
        failed.join("; ")
    }
}

/// The JUnit case of one seed: its sim's name as the suite, the replay
/// command (and where the entry was saved) with a failure.
fn junit_case(outcome: &Outcome, finding: Option<&Finding>) -> crate::junit::Case {
    let replay = finding.map_or(String::new(), |f| match &f.saved {
        Some(saved) => format!("{} (saved: {saved})", f.replay),
        None => f.replay.clone(),
    });
    let mut case = crate::junit::Case::of_run("fuzz", &outcome.report, &replay);
    case.wall = outcome.wall;
    if let Some(Err((a, b))) = &outcome.determinism {
        case.outcome = crate::junit::Outcome::Failed {
            kind: "determinism".to_string(),
            message: format!("not deterministic: trace hashes {a} and {b}"),
            detail: format!("reproduce: {replay}"),
        };
    }
    case
}

/// Keeps both traces of a non-deterministic seed, for the harness bug report.
fn keep_traces<S: System>(
    system: &S,
    dir: &std::path::Path,
    scenario: &Scenario,
    outcome: &Outcome,
    variant: Variant,
) {
    let traced = |n: u32| {
        let report = crash::run_with(
            system,
            scenario,
            Seed(outcome.seed),
            variant,
            RunOptions { trace: true },
        );
        let path = dir.join(format!(
            "determinism-{}-{}-{n}.json",
            scenario.name, outcome.seed
        ));
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::write(
            &path,
            serde_json::to_string_pretty(&report).unwrap_or_default(),
        );
        eprintln!("  trace kept: {}", path.display());
    };
    traced(1);
    traced(2);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_shards_and_durations_parse() {
        assert_eq!(parse_range("1..101").unwrap(), (1, 101));
        assert!(parse_range("5..5").is_err());
        assert!(parse_range("a..b").is_err());
        assert_eq!(parse_shard("2/8").unwrap(), (2, 8));
        assert!(parse_shard("8/8").is_err());
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("3 days").is_err());
    }

    #[test]
    fn swarm_draws_host_faults_within_bounds_and_after_the_older_draws() {
        let text = "name = \"t\"\n[[phases]]\nduration_s = 1\narrival_rate = 1\n\
                    [liveness]\nrequest_ms_max = 400\n";
        let scenario = Scenario::parse(text, "t.toml").unwrap();
        let budget = FaultBudget {
            attempts: None,
            requests: 1.0,
        };
        let drawn: Vec<Vec<String>> = (1..=40)
            .map(|s| swarm_overrides(&scenario, s, &budget))
            .collect();
        for key in [
            "faults.clock.offset_ms_max",
            "faults.pause.probability",
            "faults.spike.commit_probability",
            "faults.buggify.enabled",
        ] {
            let seeds = drawn
                .iter()
                .filter(|o| o.iter().any(|s| s.starts_with(key)))
                .count();
            assert!((5..=35).contains(&seeds), "{key} in {seeds} of 40");
        }
        for overrides in &drawn {
            // Every drawn set applies, and stalls stay within a quarter of
            // the scenario's bound on a request.
            let swarmed = scenario.with_overrides(overrides).unwrap();
            assert!(swarmed.faults.pause.max_ms <= 100 || swarmed.faults.pause.probability == 0.0);
            assert!(swarmed.faults.spike.max_ms <= 200);
            // The older draws come first, as before host faults existed.
            assert!(overrides[0].starts_with("store.faults.serialization_failure_per_statement"));
        }
        assert_eq!(
            swarm_overrides(&scenario, 7, &budget),
            swarm_overrides(&scenario, 7, &budget)
        );
    }

    /// Injected 40001s stay within the retry budget: every draw's chance
    /// that some request spends all its attempts on injections alone is
    /// at most [`INJECTED_EXHAUSTION_PER_RUN`]; store spikes stay within
    /// the liveness bound and rare.
    #[test]
    fn swarm_keeps_injected_faults_within_the_retry_budget_and_liveness_bound() {
        let text = "name = \"t\"\n[[phases]]\nduration_s = 60\narrival_rate = 50\n\
                    [liveness]\nrequest_ms_max = 800\n";
        let scenario = Scenario::parse(text, "t.toml").unwrap();
        for attempts in [1, 3, 5, 10] {
            let budget = FaultBudget {
                attempts: Some(attempts),
                requests: 3000.0,
            };
            let mut injected = 0;
            for seed in 1..=200 {
                let swarmed = scenario
                    .with_overrides(&swarm_overrides(&scenario, seed, &budget))
                    .unwrap();
                let faults = &swarmed.store.faults;
                let (statement, commit) = (
                    faults.serialization_failure_per_statement,
                    faults.serialization_failure_at_commit,
                );
                injected += usize::from(statement > 0.0 || commit > 0.0);
                let per_attempt =
                    1.0 - (1.0 - statement).powf(STATEMENTS_PER_ATTEMPT) * (1.0 - commit);
                let exhausted = 3000.0 * per_attempt.powi(attempts as i32);
                assert!(
                    exhausted <= INJECTED_EXHAUSTION_PER_RUN * 1.01,
                    "{attempts} attempts, seed {seed}: {statement} {commit} -> {exhausted}"
                );
                let latency = &swarmed.store.latency;
                assert!(latency.spike_ms <= 200, "{latency:?}");
                assert!(
                    latency.spike_probability * latency.spike_ms as f64
                        <= SPIKE_MS_PER_STATEMENT_MAX + 1e-6,
                    "{latency:?}"
                );
            }
            // Still drawn, by most seeds, where a retry budget leaves room:
            // the budget narrows the faults, it does not remove them.
            if attempts >= 3 {
                assert!(injected > 100, "{attempts} attempts: {injected} of 200");
            }
        }
        let undeclared = FaultBudget {
            attempts: None,
            requests: 3000.0,
        };
        assert_eq!(undeclared.serialization_failures_max(), (0.05, 0.1));
    }
}
