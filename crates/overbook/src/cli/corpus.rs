//! `overbook corpus merge`: many shards' findings into one corpus folder.

use crate::corpus_merge::{merge, MergeOptions};
use crate::error::InputError;
use crate::system::System;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `overbook corpus`.
#[derive(clap::Args, Debug)]
pub(super) struct Args {
    #[command(subcommand)]
    command: CorpusCommand,
}

#[derive(clap::Subcommand, Debug)]
enum CorpusCommand {
    /// Merge `fuzz --save` folders into one corpus folder: each failing
    /// entry shrunk, one entry per distinct failure (sim, variant,
    /// invariant and shrunk case). Exits 1 when a finding is new (not in
    /// `--known`), 0 when there is none.
    Merge(MergeArgs),
}

/// Arguments of `overbook corpus merge`.
#[derive(clap::Args, Debug)]
struct MergeArgs {
    /// Folders of corpus entries (the shards' `--save` folders).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// The folder to write the merged entries into.
    #[arg(long, value_name = "DIR")]
    into: PathBuf,
    /// Corpus folders of findings already known (e.g. `seeds`): a finding
    /// that matches one of their entries is not new.
    #[arg(long, value_name = "DIR")]
    known: Vec<PathBuf>,
    /// Most runs spent shrinking one entry.
    #[arg(long, default_value_t = 300)]
    max_attempts: u32,
    /// Most entries shrunk per kind of failure (sim, variant, invariant),
    /// smallest first; the others count with that kind's smallest finding.
    #[arg(long, default_value_t = 8)]
    max_shrinks_per_kind: usize,
    /// Threads shrinking at once (default: all cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Write the summary as markdown to this file (appended, as
    /// `$GITHUB_STEP_SUMMARY` expects).
    #[arg(long, value_name = "FILE.md")]
    markdown: Option<PathBuf>,
    /// Write one JUnit test case per finding to this file.
    #[arg(long, value_name = "FILE.xml")]
    junit: Option<PathBuf>,
}

pub(super) fn run<S: System>(context: &super::Context<'_, S>, args: Args) -> u8 {
    let CorpusCommand::Merge(args) = args.command;
    match run_merge(context, args) {
        Ok(code) => code,
        Err(err) => super::usage_error(&err),
    }
}

fn run_merge<S: System>(
    context: &super::Context<'_, S>,
    args: MergeArgs,
) -> Result<u8, InputError> {
    if args.max_attempts == 0 {
        return Err(InputError::new("must be at least 1").in_source("--max-attempts"));
    }
    let options = MergeOptions {
        sims_dir: context.options.sims_dir.clone(),
        shrink_attempts_max: args.max_attempts,
        known: args.known.clone(),
        shrinks_per_kind_max: args.max_shrinks_per_kind.max(1),
        jobs: args
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1),
    };
    let terminal = std::io::stderr().is_terminal();
    let merged = merge(
        context.system,
        &args.dirs,
        &options,
        |index, total, path| {
            if terminal {
                eprintln!("shrinking {}/{total}: {}", index + 1, path.display());
            }
        },
    )?;
    let saved = merged.save(&args.into)?;
    for (finding, path) in merged.findings.iter().zip(&saved) {
        outln!("{}\n  -> {}", finding.summary_line(), path.display());
    }
    for (path, why) in &merged.rejected {
        outln!("NOT MERGED: {}: {why}", path.display());
    }
    let new = merged.new_count();
    outln!(
        "corpus merge: {} failing entries from {} folder(s) -> {} finding(s) in {}, {new} new",
        merged.entries_read,
        args.dirs.len(),
        merged.findings.len(),
        args.into.display()
    );
    if let Some(path) = &args.markdown {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|err| InputError::io(path, &err))?;
        file.write_all(
            merged
                .markdown("overbook nightly: merged findings")
                .as_bytes(),
        )
        .map_err(|err| InputError::io(path, &err))?;
    }
    if let Some(path) = &args.junit {
        merged.junit().write(path)?;
    }
    Ok(if new > 0 {
        super::EXIT_FAILURE
    } else {
        super::EXIT_PASS
    })
}
