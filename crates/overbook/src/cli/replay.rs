//! `replay`: reproduce one run exactly, with a readable trace and a
//! timeline of the race.

use super::{timeline, Context};
use crate::corpus::{Entry, Expect};
use crate::crash;
use crate::error::InputError;
use crate::seed::Seed;
use crate::system::System;
use crate::world::RunOptions;
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
    /// Then serve the database as it stood at the failing step (the last
    /// one, for a run that passes) on 127.0.0.1 over PostgreSQL's wire
    /// protocol, with that step's pg_locks and pg_stat_activity, for psql,
    /// until Ctrl-C.
    #[arg(long)]
    inspect: bool,
    /// The port --inspect listens on (default: a free one).
    #[arg(long, requires = "inspect")]
    port: Option<u16>,
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
            let (entry, scenario, variant) = context.load_entry(path)?;
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
    if let Some(path) = &args.timeline {
        std::fs::write(path, "").map_err(|err| {
            InputError::io_write(path, &err).in_source(format!("--timeline {}", path.display()))
        })?;
    }
    let listener = if args.inspect {
        Some(super::inspect::bind(args.port)?)
    } else {
        None
    };
    let traced = args.trace || args.timeline.is_some();
    let started = Instant::now();
    let options = RunOptions { trace: traced };
    let (mut report, kept) = if args.inspect {
        crash::run_and_keep(context.system, &scenario, Seed(seed), variant, options)
    } else {
        let report = crash::run_with(context.system, &scenario, Seed(seed), variant, options);
        (report, None)
    };
    report.wall_ms = started.elapsed().as_millis() as u64;
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serializes")
        );
    } else {
        if args.trace {
            outln!(
                "trace of {} seed {} variant {}:",
                scenario.name,
                seed,
                variant.name()
            );
            for event in &report.trace {
                outln!("  {}", event.describe());
            }
            if let Some(v) = &report.violation {
                outln!("  => VIOLATION {}: {}\n", v.invariant, v.message);
            }
        }
        out!("{}", report.render());
    }
    if let Some(path) = &args.timeline {
        let html = timeline::render(&scenario.name, seed, variant.name(), &report);
        std::fs::write(path, html).map_err(|err| InputError::io_write(path, &err))?;
        eprintln!("timeline written to {}", path.display());
    }
    let code = exit_code(entry.as_ref(), &report);
    if let Some(listener) = listener {
        match kept {
            Some(kept) => super::inspect::serve_until_interrupted(kept, &report, listener)?,
            None => eprintln!("inspect: nothing to serve: the run did not start"),
        }
    }
    Ok(code)
}

/// The exit code of a replay, having said whether it reproduced `entry`.
fn exit_code(entry: Option<&Entry>, report: &crate::world::Report) -> u8 {
    if let Some(entry) = entry {
        let differences = differences(entry, report);
        if differences.is_empty() {
            eprintln!(
                "reproduced: {}, trace hash {} matches the entry",
                match &entry.invariant {
                    Some(invariant) => format!("fails with {invariant} as recorded"),
                    None => "passes as recorded".to_string(),
                },
                report.trace_hash
            );
            return super::EXIT_PASS;
        }
        eprintln!("NOT reproduced: {}", differences.join("; "));
        return super::EXIT_NOT_REPRODUCED;
    }
    if report.passed {
        super::EXIT_PASS
    } else {
        super::EXIT_FAILURE
    }
}

/// How `report` differs from what `entry` recorded: its expected outcome,
/// invariant, step and trace hash. Empty when it reproduced.
fn differences(entry: &Entry, report: &crate::world::Report) -> Vec<String> {
    let mut differences = Vec::new();
    let got = match (&report.violation, &report.harness_error) {
        (Some(v), _) => v.invariant.clone(),
        (None, Some(_)) => "a harness error".to_string(),
        (None, None) if !report.passed => "a failed threshold".to_string(),
        (None, None) => String::new(),
    };
    match entry.expect {
        Expect::Fail if report.passed => differences.push(format!(
            "expected {} to break, but the run passes now",
            entry.invariant.as_deref().unwrap_or("an invariant")
        )),
        Expect::Fail if Some(&got) != entry.invariant.as_ref() => differences.push(format!(
            "expected {} to break, but the run fails with {got}",
            entry.invariant.as_deref().unwrap_or("an invariant")
        )),
        Expect::Pass if !report.passed => {
            differences.push(format!("expected a pass, but the run fails with {got}"))
        }
        _ => {}
    }
    if let (Some(step), Some(violation)) = (entry.step, &report.violation) {
        if violation.step != step && differences.is_empty() {
            differences.push(format!(
                "recorded at step {step}, now at step {}",
                violation.step
            ));
        }
    }
    if report.trace_hash != entry.trace_hash {
        differences.push(format!(
            "trace hash {} differs from the recorded {} (the run diverged: re-record the entry if the change was intended)",
            report.trace_hash, entry.trace_hash
        ));
    }
    differences
}
