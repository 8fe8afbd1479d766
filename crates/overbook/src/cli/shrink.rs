//! `shrink`: cut a failing case down while it still fails.

use super::Context;
use crate::corpus::Entry;
use crate::error::InputError;
use crate::seed::Seed;
use crate::system::System;
use std::path::PathBuf;

/// Arguments of `shrink`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
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

pub(super) fn run<S: System>(context: &Context<'_, S>, args: Args) -> u8 {
    match run_inner(context, args) {
        Ok(code) => code,
        Err(err) => super::usage_error(&err),
    }
}

fn run_inner<S: System>(context: &Context<'_, S>, args: Args) -> Result<u8, InputError> {
    let (entry, _, variant) = context.load_entry(&args.entry)?;
    let Some(invariant) = entry.invariant.clone() else {
        return Err(
            InputError::new("the entry passes; only failing entries shrink")
                .in_source(args.entry.display().to_string())
                .at_field("invariant"),
        );
    };
    if args.max_attempts == 0 {
        return Err(InputError::new("must be at least 1").in_source("--max-attempts"));
    }
    if !args.dry_run {
        super::check_writable(&args.save, "--save")?;
    }
    let base = context.load_base(&entry.sim)?;
    eprintln!(
        "shrinking {} seed {} ({invariant})...",
        entry.sim, entry.seed
    );
    let outcome = crate::shrink::shrink(
        context.system,
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
        eprintln!(
            "NOT reproduced: the entry does not fail with {invariant} any more; nothing to shrink"
        );
        return Ok(super::EXIT_NOT_REPRODUCED);
    };
    let factor = |before: u64, after: u64| {
        if after == 0 {
            before as f64
        } else {
            before as f64 / after as f64
        }
    };
    outln!(
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
    outln!("overrides:");
    for o in &outcome.overrides {
        outln!("  --set {o}");
    }
    let shrunk = Entry::from_report(
        &entry.sim,
        &outcome.overrides,
        &outcome.report,
        format!("{} shrink {}", context.program(), args.entry.display()),
    );
    outln!(
        "reproduce: {}",
        shrunk.replay_command_with(context.program())
    );
    if !args.dry_run {
        let path = shrunk.save(&args.save)?;
        outln!("saved: {}", path.display());
    }
    Ok(super::EXIT_PASS)
}
