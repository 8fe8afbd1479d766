//! `overbook run`: one simulation, one seed.

use crate::common::{load_scenario, parse_variant};
use overbook::seed::Seed;
use std::time::Instant;

/// Arguments of `overbook run`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Scenario file (`sims/units-contention.toml`) or bundled name (`units-contention`).
    sim: String,
    /// The seed; the same seed gives the same run, byte for byte.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Service variant: `correct` or a planted bug (see `overbook list`).
    #[arg(long, default_value = "correct")]
    variant: String,
    /// Override a scenario field: `--set workload.mix.reserve=50` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
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
}

pub fn run(args: Args) -> u8 {
    let scenario = match load_scenario(&args.sim, &args.overrides) {
        Ok(scenario) => scenario,
        Err(err) => return crate::usage_error(&err),
    };
    let variant = match parse_variant(&args.variant) {
        Ok(variant) => variant,
        Err(err) => return crate::usage_error(&err),
    };
    let started = Instant::now();
    let mut report =
        crate::reports::run_with_progress(&scenario, Seed(args.seed), variant, args.json);
    report.wall_ms = started.elapsed().as_millis() as u64;
    let replay = format!(
        "overbook run {} --seed {} --variant {}{}",
        args.sim,
        args.seed,
        variant.name(),
        args.overrides
            .iter()
            .map(|o| format!(" --set {}", overbook::corpus::shell_quote(o)))
            .collect::<String>()
    );
    if let Err(err) = crate::reports::write_run_files(
        &scenario,
        variant,
        &report,
        &replay,
        args.html.as_deref(),
        args.junit.as_deref(),
    ) {
        return crate::usage_error(&err);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serializes")
        );
    } else {
        print!("{}", report.render());
        if !report.passed {
            println!("reproduce: {replay}");
        }
    }
    if report.passed {
        crate::EXIT_PASS
    } else {
        crate::EXIT_VIOLATION
    }
}
