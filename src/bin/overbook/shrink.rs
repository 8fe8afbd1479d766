//! `overbook shrink`: cut a failing case down while it still fails.

use crate::common::parse_variant;
use overbook::corpus::Entry;
use overbook::error::InputError;
use overbook::scenario::Scenario;
use overbook::seed::Seed;
use std::path::{Path, PathBuf};

/// Arguments of `overbook shrink`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The failing corpus entry.
    entry: PathBuf,
    /// Most runs to spend.
    #[arg(long, default_value_t = 300)]
    max_attempts: u32,
    /// Where to save the shrunk entry.
    #[arg(long, default_value = "seeds")]
    save: PathBuf,
    /// Do not save, only print.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(args: Args) -> u8 {
    match run_inner(args) {
        Ok(code) => code,
        Err(err) => crate::usage_error(&err),
    }
}

fn run_inner(args: Args) -> Result<u8, InputError> {
    let entry = Entry::load(&args.entry)?;
    let Some(invariant) = entry.invariant.clone() else {
        return Err(
            InputError::new("the entry passes; only failing entries shrink")
                .in_source(args.entry.display().to_string())
                .at_field("invariant"),
        );
    };
    let variant = parse_variant(&entry.variant)?;
    let base = Scenario::load(&entry.scenario_path(Path::new("sims")))?;
    eprintln!(
        "shrinking {} seed {} ({invariant})...",
        entry.sim, entry.seed
    );
    let outcome = overbook::shrink::shrink(
        &base,
        &entry.overrides,
        Seed(entry.seed),
        variant,
        &invariant,
        args.max_attempts,
        |size, attempts| {
            eprintln!(
                "  run {attempts}: still fails with {} users, {} operations",
                size.users, size.operations
            )
        },
    );
    let Some(outcome) = outcome else {
        eprintln!("the entry does not fail with {invariant} any more; nothing to shrink");
        return Ok(crate::EXIT_USAGE);
    };
    let factor = |before: u64, after: u64| {
        if after == 0 {
            before as f64
        } else {
            before as f64 / after as f64
        }
    };
    println!(
        "shrunk in {} runs: users {} -> {}, operations {} -> {} ({:.1}x smaller), arrivals {} s -> {} s, faults {} -> {}",
        outcome.attempts,
        outcome.before.users,
        outcome.after.users,
        outcome.before.operations,
        outcome.after.operations,
        factor(outcome.before.operations, outcome.after.operations),
        outcome.before.duration_s,
        outcome.after.duration_s,
        outcome.before.faults,
        outcome.after.faults
    );
    println!("overrides:");
    for o in &outcome.overrides {
        println!("  --set {o}");
    }
    let shrunk = Entry::from_report(
        &entry.sim,
        &outcome.overrides,
        &outcome.report,
        format!("overbook shrink {}", args.entry.display()),
    );
    println!("reproduce: {}", shrunk.replay_command());
    if !args.dry_run {
        let path = shrunk.save(&args.save)?;
        println!("saved: {}", path.display());
    }
    Ok(crate::EXIT_PASS)
}
