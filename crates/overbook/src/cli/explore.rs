//! `explore`: model-check a scenario's service with few clients and every
//! interleaving (or PCT / random ones).

use super::{set_flags, Context};
use crate::corpus::shell_quote;
use crate::crash;
use crate::error::InputError;
use crate::explore::{
    self, service_model, service_scenario, Dfs, Limits, Model, Pct, RandomWalk, Strategy,
};
use crate::seed::Seed;
use crate::system::System;
use crate::system::Variant;
use std::time::Instant;

/// Arguments of `explore`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// Scenario file or bundled name (its data set, mix and services).
    sim: String,
    /// `dfs` (exhaustive, with sleep sets), `pct` or `random`.
    #[arg(long, default_value = "dfs")]
    strategy: String,
    /// Clients.
    #[arg(long, default_value_t = 2)]
    clients: u32,
    /// Requests per client (default: the scenario's `explore.ops`, 1
    /// unless it says otherwise).
    #[arg(long)]
    ops: Option<u32>,
    /// Executions at most.
    #[arg(long, default_value_t = 100_000)]
    max_schedules: u64,
    /// DFS: at most this many preemptions per schedule.
    #[arg(long)]
    preemptions: Option<u32>,
    /// DFS: turn partial-order reduction off (to measure it).
    #[arg(long)]
    no_reduction: bool,
    /// Responses each client may lose (and then resend with the same
    /// idempotency key); default: 1 if the scenario loses responses, else 0.
    #[arg(long, value_name = "N")]
    lost_responses: Option<u32>,
    /// PCT depth.
    #[arg(long, default_value_t = 3)]
    depth: u32,
    /// Seed of the data set, the clients' requests and PCT/random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Service variant.
    #[arg(long, default_value = "correct")]
    variant: String,
    /// Override a scenario field (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Re-run one schedule line (as printed for a violation).
    #[arg(long, value_name = "LINE")]
    replay: Option<String>,
    /// Stop at the first violation (printed with its replay line) instead
    /// of searching on for shorter schedules.
    #[arg(long)]
    stop_at_first: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Write the explored configuration as a JUnit test case to this file.
    #[arg(long, value_name = "FILE.xml")]
    junit: Option<std::path::PathBuf>,
}

pub(super) fn run<S: System>(context: &Context<'_, S>, args: Args) -> u8 {
    match run_inner(context, args) {
        Ok(code) => code,
        Err(err) => super::usage_error(&err),
    }
}

/// The most `--max-schedules`.
const SCHEDULES_MAX: u64 = 100_000_000;
/// The deepest PCT `--depth`.
const DEPTH_MAX: u32 = 16;

fn run_inner<S: System>(context: &Context<'_, S>, args: Args) -> Result<u8, InputError> {
    if args.clients == 0 || args.clients > 8 {
        return Err(InputError::new(
            "must be between 1 and 8 (every interleaving of more is out of reach)",
        )
        .in_source("--clients"));
    }
    if args.ops.is_some_and(|ops| ops == 0 || ops > 8) {
        return Err(InputError::new("must be between 1 and 8").in_source("--ops"));
    }
    if args.lost_responses.is_some_and(|lost| lost > 4) {
        return Err(InputError::new("must be between 0 and 4").in_source("--lost-responses"));
    }
    if args.max_schedules == 0 || args.max_schedules > SCHEDULES_MAX {
        return Err(InputError::new(format!(
            "must be between 1 and {SCHEDULES_MAX} (an exploration of no schedules checks nothing)"
        ))
        .in_source("--max-schedules"));
    }
    if args.depth == 0 || args.depth > DEPTH_MAX {
        return Err(
            InputError::new(format!("must be between 1 and {DEPTH_MAX}")).in_source("--depth"),
        );
    }
    let seed = Seed(args.seed);
    let strategy: Strategy = match args.strategy.as_str() {
        "dfs" => {
            let mut dfs = Dfs::default();
            if args.no_reduction {
                dfs = dfs.without_sleep_sets();
            }
            if let Some(bound) = args.preemptions {
                dfs = dfs.preemptions_max(bound);
            }
            dfs.into()
        }
        "pct" => Pct::new(args.depth, seed).into(),
        "random" => RandomWalk { seed }.into(),
        other => {
            return Err(InputError::new(format!(
                "unknown strategy `{other}`; use dfs, pct or random"
            ))
            .in_source("--strategy"))
        }
    };
    let scenario = context.load_scenario(&args.sim, &args.overrides)?;
    let variant = context.variant(&args.variant)?;
    let args = Args {
        ops: Some(args.ops.unwrap_or(scenario.explore.ops)),
        ..args
    };
    // The service's own code runs from here on: a panic in it is a finding.
    match crash::catch(|| explore_scenario(context, &args, &scenario, variant, strategy)) {
        Ok(result) => result,
        Err((message, location)) => {
            outln!(
                "PANIC: {message}{}",
                if location.is_empty() {
                    String::new()
                } else {
                    format!(" (at {location})")
                }
            );
            outln!(
                "reproduce: {}",
                command_line(context, &args, variant, args.replay.as_deref())
            );
            Ok(super::EXIT_FAILURE)
        }
    }
}

/// The command line that runs this exploration again (with `--replay
/// line` if given).
fn command_line<S: System>(
    context: &Context<'_, S>,
    args: &Args,
    variant: Variant,
    replay: Option<&str>,
) -> String {
    let mut line = format!(
        "{} explore {} --clients {} --ops {} --seed {} --variant {}",
        context.program(),
        shell_quote(&args.sim),
        args.clients,
        args.ops.unwrap_or(1),
        args.seed,
        variant.name()
    );
    if let Some(lost) = args.lost_responses {
        line.push_str(&format!(" --lost-responses {lost}"));
    }
    line.push_str(&set_flags(&args.overrides));
    match replay {
        Some(replay) => line.push_str(&format!(" --replay '{replay}'")),
        None => {
            if args.strategy != "dfs" {
                line.push_str(&format!(" --strategy {}", args.strategy));
            }
            if args.strategy == "pct" {
                line.push_str(&format!(" --depth {}", args.depth));
            }
            if let Some(bound) = args.preemptions {
                line.push_str(&format!(" --preemptions {bound}"));
            }
            if args.no_reduction {
                line.push_str(" --no-reduction");
            }
            if args.max_schedules != Limits::default().schedules_max {
                line.push_str(&format!(" --max-schedules {}", args.max_schedules));
            }
        }
    }
    line
}

fn explore_scenario<S: System>(
    context: &Context<'_, S>,
    args: &Args,
    scenario: &crate::scenario::Scenario,
    variant: Variant,
    strategy: Strategy,
) -> Result<u8, InputError> {
    let model = model_of(context, args, scenario, variant)?;
    if let Some(line) = &args.replay {
        return replay_schedule(&model, line);
    }
    let limits = Limits {
        schedules_max: args.max_schedules,
        stop_at_first_violation: args.stop_at_first,
        ..Limits::default()
    };
    let started = Instant::now();
    let report = super::report::explore_with_progress(&model, strategy, limits, args.json);
    let wall = started.elapsed();
    if let Some(path) = &args.junit {
        let replays: Vec<String> = report
            .violations
            .iter()
            .map(|v| command_line(context, args, variant, Some(&v.line)))
            .collect();
        super::report::explore_junit(&scenario.name, &report, wall, &replays).write(path)?;
    }
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serializes")
        );
    } else {
        print_report(context, args, variant, &report, wall);
    }
    Ok(if report.violations.is_empty() {
        super::EXIT_PASS
    } else {
        super::EXIT_FAILURE
    })
}

/// The service model of `scenario` with the clients, operations and
/// lost responses the flags ask for, named after them.
fn model_of<S: System>(
    context: &Context<'_, S>,
    args: &Args,
    scenario: &crate::scenario::Scenario,
    variant: Variant,
) -> Result<Model<explore::services::ServiceState<S>>, InputError> {
    let mut service = service_scenario(
        context.system,
        scenario,
        variant,
        Seed(args.seed),
        args.clients,
        args.ops.unwrap_or(1),
    )?;
    if let Some(lost) = args.lost_responses {
        service.lost_responses_per_client = lost;
    }
    let losses = match service.lost_responses_per_client {
        0 => String::new(),
        1 => ", up to 1 lost response each".to_string(),
        n => format!(", up to {n} lost responses each"),
    };
    Ok(service_model(
        context.system,
        &format!(
            "{} ({}, {} clients x {} ops{losses})",
            scenario.name,
            variant.name(),
            args.clients,
            args.ops.unwrap_or(1)
        ),
        service,
    ))
}

/// `--replay`: runs the one schedule `line` names, printing its trace and
/// its violation, if any.
fn replay_schedule<S>(model: &Model<S>, line: &str) -> Result<u8, InputError> {
    let replayed = explore::replay(model, line)
        .map_err(|err| InputError::new(err.to_string()).in_source("--replay"))?;
    for step in &replayed.trace {
        outln!("  {step}");
    }
    Ok(match replayed.violation {
        Some(violation) => {
            outln!("VIOLATION {}: {}", violation.property, violation.message);
            super::EXIT_FAILURE
        }
        None => {
            outln!("no violation on this schedule");
            super::EXIT_PASS
        }
    })
}

/// The report in words, with the command that replays each violation (and
/// confirms it on PostgreSQL, for a service with an SQL schema).
fn print_report<S: System>(
    context: &Context<'_, S>,
    args: &Args,
    variant: Variant,
    report: &explore::Report,
    wall: std::time::Duration,
) {
    out!("{report}");
    outln!(
        "{:.2} s wall, {:.0} executions/s",
        wall.as_secs_f64(),
        (report.schedules + report.pruned) as f64 / wall.as_secs_f64().max(1e-9)
    );
    for violation in &report.violations {
        outln!(
            "replay: {}",
            command_line(context, args, variant, Some(&violation.line))
        );
        if !context.system.sql_schema(variant).trim().is_empty() {
            // The same flags pick the same clients for `confirm`.
            outln!(
                "on PostgreSQL: {} --pg \"$OVERBOOK_PG_URL\"",
                command_line(context, args, variant, Some(&violation.line)).replacen(
                    &format!("{} explore ", context.program()),
                    &format!("{} confirm ", context.program()),
                    1
                )
            );
        }
    }
}
