//! `run`: one simulation, one seed.

use super::{set_flags, Context};
use crate::seed::Seed;
use crate::system::System;
use std::time::Instant;

/// Arguments of `run`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// Scenario file (`sims/units-contention.toml`) or sim name (`units-contention`).
    sim: String,
    /// The seed; the same seed gives the same run, byte for byte.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Service variant: `correct` or a planted bug (see `list`).
    #[arg(long, default_value = "correct")]
    variant: String,
    /// Override a scenario field: `--set workload.mix.reserve=50` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    #[command(flatten)]
    history: super::HistoryFlags,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Also write an HTML report: charts over simulated time, the
    /// invariants, and on a failure its timeline.
    #[arg(long, value_name = "FILE.html")]
    html: Option<std::path::PathBuf>,
    /// Also write the result as JUnit XML (one test case).
    #[arg(long, value_name = "FILE.xml")]
    junit: Option<std::path::PathBuf>,
    /// Then serve the database as it stood at the failing step (the last
    /// one, for a run that passes) on 127.0.0.1 for psql, until Ctrl-C
    /// (as `replay --inspect`).
    #[arg(long)]
    inspect: bool,
    /// The port --inspect listens on (default: a free one).
    #[arg(long, requires = "inspect")]
    port: Option<u16>,
}

pub(super) fn run<S: System>(context: &Context<'_, S>, args: Args) -> u8 {
    let mut args = args;
    let history_overrides = args.history.overrides();
    args.overrides.extend(history_overrides);
    let scenario = match context.load_scenario(&args.sim, &args.overrides) {
        Ok(scenario) => scenario,
        Err(err) => return super::usage_error(&err),
    };
    let variant = match context.variant(&args.variant) {
        Ok(variant) => variant,
        Err(err) => return super::usage_error(&err),
    };
    if !scenario.timing_varies_with_seed() && !args.json {
        eprintln!(
            "note: {} leaves nothing to the seed (no latency range, arrival jitter or fault probability): every seed runs the same interleaving; `fuzz` jitters arrivals, or set run.arrival_jitter",
            scenario.name
        );
    }
    let listener = match args.inspect.then(|| super::inspect::bind(args.port)) {
        Some(Err(err)) => return super::usage_error(&err),
        Some(Ok(listener)) => Some(listener),
        None => None,
    };
    let started = Instant::now();
    let (mut report, kept) = if args.inspect {
        let options = crate::world::RunOptions::default();
        crate::crash::run_and_keep(context.system, &scenario, Seed(args.seed), variant, options)
    } else {
        let report = super::report::run_with_progress(
            context.system,
            &scenario,
            Seed(args.seed),
            variant,
            args.json,
        );
        (report, None)
    };
    report.wall_ms = started.elapsed().as_millis() as u64;
    let replay = format!(
        "{} run {} --seed {} --variant {}{}",
        context.program(),
        crate::corpus::shell_quote(&args.sim),
        args.seed,
        variant.name(),
        set_flags(&args.overrides)
    );
    if let Err(err) = super::report::write_run_files(
        context.system,
        &scenario,
        variant,
        &report,
        &replay,
        args.html.as_deref(),
        args.junit.as_deref(),
    ) {
        return super::usage_error(&err);
    }
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serializes")
        );
    } else {
        out!("{}", report.render());
        if !report.passed {
            outln!("reproduce: {replay}");
        }
    }
    // A planted bug that passes on evenly spaced arrivals may simply never
    // have raced (units-contention spaces its users 20 ms apart): say so,
    // rather than let a pass read as "not a bug".
    if report.passed && !variant.is_correct() && scenario.run.arrival_jitter.is_none() {
        eprintln!(
            "note: {} passed on evenly spaced arrivals (run.arrival_jitter unset, as Artillery spaces them): users met only where the phases' rates line them up, so a race may never have happened; `fuzz` jitters arrivals, or --set run.arrival_jitter=1",
            variant.name()
        );
    }
    if let Some(listener) = listener {
        match kept {
            Some(kept) => {
                if let Err(err) = super::inspect::serve_until_interrupted(kept, &report, listener) {
                    return super::usage_error(&err);
                }
            }
            None => eprintln!("inspect: nothing to serve: the run did not start"),
        }
    }
    if report.passed {
        super::EXIT_PASS
    } else {
        super::EXIT_FAILURE
    }
}
