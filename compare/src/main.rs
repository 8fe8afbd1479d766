//! overbook's model checker against loom and shuttle on comparable cases.
//!
//! `cargo run --release --manifest-path compare/Cargo.toml -- [--case NAME]...
//! [--tool NAME]... [--cap SECONDS] [--repeat N] [--seeds N]` prints one
//! Markdown table row per run. See README.md for what each case is and
//! what the numbers mean.

mod findings;
mod harness;
mod locked_counter;
mod lost_update;
mod own_counters;

use harness::{best_of, Ending, LoomSettings, Outcome, QuietPanics, ShuttleStrategy};
use overbook::explore::{Dfs, Limits, Model, Pct, RandomWalk, Strategy};
use overbook::seed::Seed;
use std::time::{Duration, Instant};

const CASES: [&str; 4] = ["lost-update", "locked-3x2", "own-counters", "locked-2x2"];
const TOOLS: [&str; 3] = ["overbook", "loom", "shuttle"];

struct Options {
    cases: Vec<String>,
    tools: Vec<String>,
    cap: Duration,
    repeat: usize,
    seeds: u64,
    /// Iterations per seed for the randomized strategies.
    iterations: usize,
    findings: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: overbook-compare [--case {}]... [--tool {}]... [--cap SECONDS] [--repeat N] [--seeds N] [--iterations N] [--findings]",
        CASES.join("|"),
        TOOLS.join("|")
    );
    std::process::exit(2);
}

fn options() -> Options {
    let mut options = Options {
        cases: Vec::new(),
        tools: Vec::new(),
        cap: Duration::from_secs(120),
        repeat: 3,
        seeds: 100,
        iterations: 10_000,
        findings: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--case" => {
                let case = value();
                if !CASES.contains(&case.as_str()) {
                    usage();
                }
                options.cases.push(case);
            }
            "--tool" => {
                let tool = value();
                if !TOOLS.contains(&tool.as_str()) {
                    usage();
                }
                options.tools.push(tool);
            }
            "--cap" => {
                options.cap = Duration::from_secs_f64(value().parse().unwrap_or_else(|_| usage()))
            }
            "--repeat" => options.repeat = value().parse().unwrap_or_else(|_| usage()),
            "--seeds" => options.seeds = value().parse().unwrap_or_else(|_| usage()),
            "--iterations" => options.iterations = value().parse().unwrap_or_else(|_| usage()),
            "--findings" => options.findings = true,
            _ => usage(),
        }
    }
    if options.cases.is_empty() {
        options.cases = CASES.iter().map(|c| c.to_string()).collect();
    }
    if options.tools.is_empty() {
        options.tools = TOOLS.iter().map(|t| t.to_string()).collect();
    }
    options
}

/// One line of the table.
struct Line {
    case: &'static str,
    tool: &'static str,
    strategy: String,
    result: String,
    executions: String,
    seconds: f64,
    rate: f64,
    slowest: f64,
    /// Complete schedules per second (all executions but overbook's pruned
    /// ones), in the best run.
    complete_rate: f64,
    final_states: String,
    failing: String,
}

fn print_header() {
    println!(
        "| case | tool | strategy | result | executions | time | executions/s (best; slowest) | complete schedules/s (best) | final states | failing executions |"
    );
    println!("|---|---|---|---|---:|---:|---:|---:|---:|---:|");
}

fn print_line(line: &Line) {
    println!(
        "| {} | {} | {} | {} | {} | {} | {:.0}; {:.0} | {:.0} | {} | {} |",
        line.case,
        line.tool,
        line.strategy,
        line.result,
        line.executions,
        duration(line.seconds),
        line.rate,
        line.slowest,
        line.complete_rate,
        line.final_states,
        line.failing,
    );
}

fn duration(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 1e-3 {
        format!("{:.2} ms", seconds * 1e3)
    } else {
        format!("{:.1} µs", seconds * 1e6)
    }
}

fn describe(outcome: &Outcome) -> String {
    match outcome.ending {
        Ending::Exhausted => "exhausted".into(),
        Ending::Bounded => "bound's space exhausted".into(),
        Ending::Capped => format!("did not finish (stopped after {:.0} s)", outcome.seconds),
        Ending::FailedAt(n) => format!("failure found at execution {n}"),
        Ending::NotFound => "no failure found".into(),
    }
}

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "n/a".into(), |v| v.to_string())
}

/// Measures `run` best of `repeat` (a run that hits the cap is not
/// repeated: one capped run is already a long average) and prints it.
fn measured(
    case: &'static str,
    tool: &'static str,
    strategy: &str,
    options: &Options,
    mut run: impl FnMut() -> Outcome,
) {
    let first = run();
    let repeat = if first.ending == Ending::Capped {
        1
    } else {
        options.repeat
    };
    let mut pending = Some(first);
    let (best, slowest) = best_of(repeat, || pending.take().unwrap_or_else(&mut run));
    print_line(&Line {
        case,
        tool,
        strategy: strategy.into(),
        result: describe(&best),
        executions: match best.pruned {
            Some(pruned) => format!(
                "{} ({} schedules + {pruned} pruned)",
                best.executions,
                best.executions - pruned
            ),
            None => best.executions.to_string(),
        },
        seconds: best.seconds,
        rate: best.rate(),
        complete_rate: (best.executions - best.pruned.unwrap_or(0)) as f64 / best.seconds.max(1e-9),
        slowest,
        final_states: optional(best.final_states),
        failing: optional(best.failing),
    });
}

/// Runs a randomized strategy once per seed until its first failure and
/// prints a summary of the executions it took.
fn per_seed(
    case: &'static str,
    tool: &'static str,
    strategy: &str,
    options: &Options,
    mut run: impl FnMut(u64) -> Outcome,
) {
    let _quiet = QuietPanics::new();
    let begin = Instant::now();
    let mut found = Vec::new();
    let mut executions = 0;
    for seed in 0..options.seeds {
        let outcome = run(seed);
        executions += outcome.executions;
        if let Ending::FailedAt(n) = outcome.ending {
            found.push(n);
        }
    }
    let seconds = begin.elapsed().as_secs_f64();
    found.sort_unstable();
    let summary = if found.is_empty() {
        format!(
            "no failure in {} seeds x {} iterations",
            options.seeds, options.iterations
        )
    } else {
        let mean = found.iter().sum::<u64>() as f64 / found.len() as f64;
        format!(
            "failure found with {}/{} seeds, at execution: mean {mean:.1}, median {}, max {}",
            found.len(),
            options.seeds,
            found[found.len() / 2],
            found[found.len() - 1]
        )
    };
    let rate = executions as f64 / seconds;
    print_line(&Line {
        case,
        tool,
        strategy: strategy.into(),
        result: summary,
        executions: format!("{executions} (all seeds)"),
        seconds,
        rate,
        slowest: rate,
        complete_rate: rate,
        final_states: "n/a".into(),
        failing: "n/a".into(),
    });
}

/// overbook's explorer has an execution cap, not a time cap: calibrate
/// one from a short run so capped runs last about `cap`.
fn overbook_cap<S>(model: &Model<S>, strategy: Strategy, cap: Duration) -> u64 {
    let sample = 2_000;
    let limits = Limits {
        schedules_max: sample,
        ..Limits::default()
    };
    let (_, outcome) = harness::overbook(model, strategy, limits);
    if outcome.ending != Ending::Capped {
        return u64::MAX;
    }
    (outcome.rate() * cap.as_secs_f64()).max(sample as f64) as u64
}

fn overbook_dfs<S>(case: &'static str, label: &str, model: &Model<S>, dfs: Dfs, options: &Options) {
    let strategy = Strategy::from(dfs);
    let limits = Limits {
        schedules_max: overbook_cap(model, strategy, options.cap),
        ..Limits::default()
    };
    measured(case, "overbook", label, options, || {
        harness::overbook(model, strategy, limits).1
    });
}

fn lost_update(options: &Options) {
    const CASE: &str = "lost-update";
    let cap = options.cap;
    let iterations = options.iterations;
    if options.tools.iter().any(|t| t == "overbook") {
        let model = lost_update::overbook(true);
        let exhaustive = lost_update::overbook(false);
        let first = Limits {
            stop_at_first_violation: true,
            ..Limits::default()
        };
        let dfs = Strategy::from(Dfs::default());
        measured(
            CASE,
            "overbook",
            "dfs, stop at first violation",
            options,
            || harness::overbook(&model, dfs, first).1,
        );
        overbook_dfs(
            CASE,
            "dfs, exhaustive (no assert)",
            &exhaustive,
            Dfs::default(),
            options,
        );
        overbook_dfs(
            CASE,
            "dfs without sleep sets, exhaustive (no assert)",
            &exhaustive,
            Dfs::default().without_sleep_sets(),
            options,
        );
        let randomized = Limits {
            schedules_max: iterations as u64,
            ..first
        };
        per_seed(CASE, "overbook", "pct depth 2, per seed", options, |seed| {
            harness::overbook(&model, Pct::new(2, Seed(seed)).into(), randomized).1
        });
        per_seed(CASE, "overbook", "random, per seed", options, |seed| {
            let walk = RandomWalk { seed: Seed(seed) };
            harness::overbook(&model, walk.into(), randomized).1
        });
    }
    if options.tools.iter().any(|t| t == "loom") {
        let settings = LoomSettings {
            preemption_bound: None,
            cap,
        };
        measured(
            CASE,
            "loom",
            "model (default), stop at panic",
            options,
            || {
                let _quiet = QuietPanics::new();
                harness::loom(settings, lost_update::loom(true, false))
            },
        );
        measured(
            CASE,
            "loom",
            "model (default), exhaustive (no assert)",
            options,
            || harness::loom(settings, lost_update::loom(false, false)),
        );
        measured(
            CASE,
            "loom",
            "model (default), exhaustive (no assert), loom::sync::Arc",
            options,
            || harness::loom(settings, lost_update::loom(false, true)),
        );
    }
    if options.tools.iter().any(|t| t == "shuttle") {
        measured(CASE, "shuttle", "check_dfs, stop at panic", options, || {
            let _quiet = QuietPanics::new();
            harness::shuttle(ShuttleStrategy::Dfs, None, cap, lost_update::shuttle(true))
        });
        measured(
            CASE,
            "shuttle",
            "check_dfs, exhaustive (no assert)",
            options,
            || harness::shuttle(ShuttleStrategy::Dfs, None, cap, lost_update::shuttle(false)),
        );
        per_seed(
            CASE,
            "shuttle",
            "check_pct depth 2, per seed",
            options,
            |seed| {
                let pct = ShuttleStrategy::Pct { depth: 2, seed };
                harness::shuttle(pct, Some(iterations), cap, lost_update::shuttle(true))
            },
        );
        per_seed(CASE, "shuttle", "check_random, per seed", options, |seed| {
            let random = ShuttleStrategy::Random { seed };
            harness::shuttle(random, Some(iterations), cap, lost_update::shuttle(true))
        });
    }
}

/// The correct cases: exhaust (or try to), with and without bounds.
fn exhaust<S>(
    case: &'static str,
    options: &Options,
    overbook: impl Fn() -> Model<S>,
    loom: impl Fn(bool) -> Box<dyn Fn() + Sync + Send>,
    shuttle: impl Fn() -> Box<dyn Fn() + Sync + Send>,
) {
    let cap = options.cap;
    if options.tools.iter().any(|t| t == "overbook") {
        let model = overbook();
        overbook_dfs(case, "dfs (sleep sets)", &model, Dfs::default(), options);
        overbook_dfs(
            case,
            "dfs, preemption bound 2",
            &model,
            Dfs::default().preemptions_max(2),
            options,
        );
        overbook_dfs(
            case,
            "dfs without sleep sets",
            &model,
            Dfs::default().without_sleep_sets(),
            options,
        );
    }
    if options.tools.iter().any(|t| t == "loom") {
        for (label, preemption_bound, loom_arc) in [
            ("model (default)", None, false),
            ("preemption_bound 2", Some(2), false),
            ("model (default), loom::sync::Arc", None, true),
        ] {
            let settings = LoomSettings {
                preemption_bound,
                cap,
            };
            measured(case, "loom", label, options, || {
                harness::loom(settings, loom(loom_arc))
            });
        }
    }
    if options.tools.iter().any(|t| t == "shuttle") {
        measured(case, "shuttle", "check_dfs", options, || {
            harness::shuttle(ShuttleStrategy::Dfs, None, cap, shuttle())
        });
    }
}

fn main() {
    let options = options();
    harness::install_panic_hook();
    if options.findings {
        findings::run();
        return;
    }
    println!(
        "cap {:.0} s per run (overbook: an execution cap calibrated to about that), best of {} (capped runs once), {} seeds x {} iterations for randomized strategies",
        options.cap.as_secs_f64(),
        options.repeat,
        options.seeds,
        options.iterations
    );
    println!();
    print_header();
    for case in &options.cases {
        match case.as_str() {
            "lost-update" => lost_update(&options),
            "locked-3x2" => exhaust(
                "locked-3x2",
                &options,
                || locked_counter::overbook(3, 2),
                |loom_arc| locked_counter::loom(3, 2, loom_arc),
                || locked_counter::shuttle(3, 2),
            ),
            "locked-2x2" => exhaust(
                "locked-2x2",
                &options,
                || locked_counter::overbook(2, 2),
                |loom_arc| locked_counter::loom(2, 2, loom_arc),
                || locked_counter::shuttle(2, 2),
            ),
            "own-counters" => exhaust(
                "own-counters",
                &options,
                own_counters::overbook,
                own_counters::loom,
                own_counters::shuttle,
            ),
            _ => unreachable!("checked in options()"),
        }
    }
}
