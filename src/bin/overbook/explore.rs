//! `overbook explore`: model-check a scenario's services with few clients
//! and every interleaving (or PCT / random ones).

use crate::common::{load_scenario, parse_variant};
use overbook::error::InputError;
use overbook::explore::{
    self, service_scenario, services::service_model, Dfs, Limits, Pct, RandomWalk, Strategy,
};
use overbook::seed::Seed;
use std::time::Instant;

/// Arguments of `overbook explore`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Scenario file or bundled name (its data set, mix and services).
    sim: String,
    /// `dfs` (exhaustive, with sleep sets), `pct` or `random`.
    #[arg(long, default_value = "dfs")]
    strategy: String,
    /// Clients.
    #[arg(long, default_value_t = 2)]
    clients: u32,
    /// Requests per client.
    #[arg(long, default_value_t = 1)]
    ops: u32,
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
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Write the explored configuration as a JUnit test case to this file.
    #[arg(long, value_name = "FILE.xml")]
    junit: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> u8 {
    match run_inner(args) {
        Ok(code) => code,
        Err(err) => crate::usage_error(&err),
    }
}

fn run_inner(args: Args) -> Result<u8, InputError> {
    let scenario = load_scenario(&args.sim, &args.overrides)?;
    let variant = parse_variant(&args.variant)?;
    if args.clients == 0 || args.clients > 8 {
        return Err(InputError::new(
            "must be between 1 and 8 (every interleaving of more is out of reach)",
        )
        .in_source("--clients"));
    }
    if args.ops == 0 || args.ops > 8 {
        return Err(InputError::new("must be between 1 and 8").in_source("--ops"));
    }
    let seed = Seed(args.seed);
    let mut service = service_scenario(&scenario, variant, seed, args.clients, args.ops);
    if let Some(lost) = args.lost_responses {
        if lost > 4 {
            return Err(InputError::new("must be between 0 and 4").in_source("--lost-responses"));
        }
        service.lost_responses_per_client = lost;
    }
    let losses = match service.lost_responses_per_client {
        0 => String::new(),
        1 => ", up to 1 lost response each".to_string(),
        n => format!(", up to {n} lost responses each"),
    };
    let model = service_model(
        &format!(
            "{} ({}, {} clients x {} ops{losses})",
            scenario.name,
            variant.name(),
            args.clients,
            args.ops
        ),
        service,
    );
    if let Some(line) = &args.replay {
        let replayed = explore::replay(&model, line)
            .map_err(|err| InputError::new(format!("{err:?}")).in_source("--replay"))?;
        for step in &replayed.trace {
            println!("  {step}");
        }
        return Ok(match replayed.violation {
            Some(violation) => {
                println!("VIOLATION {}: {}", violation.property, violation.message);
                crate::EXIT_VIOLATION
            }
            None => {
                println!("no violation on this schedule");
                crate::EXIT_PASS
            }
        });
    }
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
    let limits = Limits {
        schedules_max: args.max_schedules,
        ..Limits::default()
    };
    let started = Instant::now();
    let report = crate::reports::explore_with_progress(&model, strategy, limits, args.json);
    let wall = started.elapsed();
    let replay_base = format!(
        "overbook explore {} --clients {} --ops {} --seed {} --variant {}{}{}",
        args.sim,
        args.clients,
        args.ops,
        args.seed,
        variant.name(),
        args.lost_responses
            .map(|n| format!(" --lost-responses {n}"))
            .unwrap_or_default(),
        args.overrides
            .iter()
            .map(|o| format!(" --set {}", overbook::corpus::shell_quote(o)))
            .collect::<String>()
    );
    if let Some(path) = &args.junit {
        crate::reports::explore_junit(&scenario.name, &report, wall, &replay_base).write(path)?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serializes")
        );
    } else {
        print!("{report}");
        println!(
            "{:.2} s wall, {:.0} executions/s",
            wall.as_secs_f64(),
            (report.schedules + report.pruned) as f64 / wall.as_secs_f64().max(1e-9)
        );
        for violation in &report.violations {
            println!("replay: {replay_base} --replay '{}'", violation.line);
        }
    }
    Ok(if report.violations.is_empty() {
        crate::EXIT_PASS
    } else {
        crate::EXIT_VIOLATION
    })
}
