//! `replay`: reproduce one run exactly, with a readable trace and a
//! timeline of the race.

use super::{timeline, Context};
use crate::corpus::Entry;
use crate::error::InputError;
use crate::seed::Seed;
use crate::system::System;
use crate::world::{self, RunOptions};
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `replay`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// A corpus entry (`seeds/....toml`); or use --sim and --seed.
    entry: Option<PathBuf>,
    /// Scenario file or bundled name.
    #[arg(long, conflicts_with = "entry")]
    sim: Option<String>,
    /// The seed.
    #[arg(long, requires = "sim")]
    seed: Option<u64>,
    /// Service variant.
    #[arg(long, default_value = "correct")]
    variant: String,
    /// Override a scenario field (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Print every request, transaction (with versions read and written)
    /// and fault, up to the violation.
    #[arg(long)]
    trace: bool,
    /// Write a self-contained HTML sequence diagram of the run.
    #[arg(long, value_name = "FILE.html")]
    timeline: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn run<S: System>(context: &Context<'_, S>, args: Args) -> u8 {
    match run_inner(context, args) {
        Ok(code) => code,
        Err(err) => super::usage_error(&err),
    }
}

fn run_inner<S: System>(context: &Context<'_, S>, args: Args) -> Result<u8, InputError> {
    let (scenario, seed, variant, entry) = match (&args.entry, &args.sim, args.seed) {
        (Some(path), _, _) => {
            let entry = Entry::load_for(context.system, path)?;
            let scenario = context.load_scenario(&entry.sim, &entry.overrides)?;
            let variant = context.variant(&entry.variant)?;
            (scenario, entry.seed, variant, Some(entry))
        }
        (None, Some(sim), Some(seed)) => (
            context.load_scenario(sim, &args.overrides)?,
            seed,
            context.variant(&args.variant)?,
            None,
        ),
        _ => {
            return Err(
                InputError::new("give a corpus entry, or --sim SIM --seed N")
                    .in_source(format!("{} replay", context.options.name)),
            );
        }
    };
    let traced = args.trace || args.timeline.is_some();
    let started = Instant::now();
    let mut report = world::run_with(
        context.system,
        &scenario,
        Seed(seed),
        variant,
        RunOptions { trace: traced },
    );
    report.wall_ms = started.elapsed().as_millis() as u64;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serializes")
        );
    } else {
        if args.trace {
            println!(
                "trace of {} seed {} variant {}:",
                scenario.name,
                seed,
                variant.name()
            );
            for event in &report.trace {
                println!("  {}", event.describe());
            }
            if let Some(v) = &report.violation {
                println!("  => VIOLATION {}: {}\n", v.invariant, v.message);
            }
        }
        print!("{}", report.render());
    }
    if let Some(path) = &args.timeline {
        let html = timeline::render(&scenario.name, seed, variant.name(), &report);
        std::fs::write(path, html).map_err(|err| InputError::io(path, &err))?;
        eprintln!("timeline written to {}", path.display());
    }
    if let Some(entry) = entry {
        let same_hash = entry.trace_hash == report.trace_hash;
        let same_outcome = report.violation.as_ref().map(|v| v.invariant.clone())
            == entry.invariant
            || (report.passed && entry.invariant.is_none());
        if same_hash && same_outcome {
            eprintln!(
                "reproduced: trace hash {} matches the entry",
                report.trace_hash
            );
        } else {
            eprintln!(
                "NOT reproduced: entry has trace {} and {:?}, this run {} and {:?}",
                entry.trace_hash,
                entry.invariant,
                report.trace_hash,
                report.violation.as_ref().map(|v| &v.invariant)
            );
            return Ok(super::EXIT_FAILURE);
        }
    }
    Ok(if report.passed {
        super::EXIT_PASS
    } else {
        super::EXIT_FAILURE
    })
}
